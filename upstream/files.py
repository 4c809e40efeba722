"""File exchange mode (GB/T 39443 文件方式): batches as files in an exchange folder, receipts read back.

Layout of the exchange folder (``PushSettings.exchange_dir``)::

    outbound/SGS_CF_20250601083000_r12_0001.csv            one batch (run 12, batch 1): national template + envelope
    outbound/SGS_CF_20250601083000_r12_0001.manifest.json  counts and SHA-256 of the batch's files
    inbound/SGS_CF_20250601083000_r12_0001.receipt.csv     the province's receipt (回执) for that batch
    inbound/processed/                                    receipts already applied
    inbound/rejected/                                     receipt files that could not be read (+ <name>.reason.txt)

The CSV is written first and the manifest last, each atomically (write + rename): the province takes a
batch only when its manifest exists. The batch is taken (``push_batch``, the push position moved) before
its files are written; a crash before the manifest leaves a taken batch without files, whose items the next
``sgs push --exchange-dir`` writes again under the same batch id (the province de-duplicates by idempotency
key: at-least-once files, exactly-once application). A batch waits for its receipt file (and blocks its
records' next versions, as over HTTP).

Receipt files are untrusted: one that cannot be read whole (larger than ``max_response_bytes``, not UTF-8,
not CSV, a wrong header, a row without a usable key or status) is applied not at all, moved to
``inbound/rejected/`` with a ``.reason.txt`` beside it, and named in the run's error; the files after it are
read as usual. Put a corrected file back into ``inbound/`` to apply it (receipts apply idempotently).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from national import DATASETS
from national.clock import SHANGHAI
from national.safety import write_private
from store import changelog
from store.runs import recorded
from upstream import runs
from upstream.endpoint import DEFAULT_SENDER
from upstream.envelope import (
    GROUP_FILE_MODE,
    exchange_folder,
    manifest,
    read_receipt_file,
    write_batch_file,
    write_manifest,
)
from upstream.errors import EndpointConfigError, ReceiptError, UpstreamError, masked
from upstream.outbox import delivery_counts, receipt_index, record_receipts, resend, take_batch, waiting_keys
from upstream.runs import PushResult
from upstream.settings import PushSettings

log = logging.getLogger("sgs.upstream")

OUTBOUND, INBOUND, PROCESSED, REJECTED = "outbound", "inbound", "processed", "rejected"


def _exchange_dir(settings: PushSettings) -> Path:
    if settings.exchange_dir is None:
        raise EndpointConfigError("文件交换模式需要交换目录：请用 --exchange-dir 或环境变量 SGS_UPSTREAM_EXCHANGE_DIR 指定")
    return Path(settings.exchange_dir)


def export_batches(engine: Engine, settings: PushSettings, *, trigger: str = "cli", sender_name: str = DEFAULT_SENDER,
                   sender_code: str | None = None) -> PushResult:
    """Write every eligible ``pending`` entry as batch files + manifests into ``exchange_dir/outbound``."""
    out_dir = _exchange_dir(settings) / OUTBOUND
    run_id = runs.start(engine, "file-out", trigger, lease_seconds=settings.lease_seconds)
    result = PushResult(run_id=run_id, mode="file")
    sender: dict[str, str | None] = {"name": sender_name, "code": sender_code}
    with _recorded(engine, result, settings.lease_seconds):
        for ds in DATASETS:
            # Batches taken by an export that died before writing their manifest: written again.
            with engine.connect() as conn:
                unwritten = changelog.unresolved(conn, ds, states=("taken",))
            for batch in unwritten:
                with engine.begin() as conn:
                    records = resend(conn, batch)
                _write(out_dir, ds, batch.batch_id, records, sender, settings, dt.datetime.now(dt.UTC))
                with engine.begin() as conn:
                    changelog.written(conn, batch.id, dt.datetime.now(dt.UTC))
                result.batches += 1
                result.records_sent += len(records)
                runs.add(engine, run_id, batches=1, records_sent=len(records))
            upto = changelog.horizon(engine)
            waiting = waiting_keys(engine, ds)
            while settings.max_batches is None or result.batches < settings.max_batches:
                now = dt.datetime.now(dt.UTC)
                # Names sort in the order the batches were written (the province may take them in name order).
                stamp = dt.datetime.now(SHANGHAI).strftime("%Y%m%d%H%M%S")
                batch_id = f"{stamp}-r{run_id}-{result.batches + 1:04d}"
                taken = take_batch(engine, ds, settings.batch_size, run_id=run_id, batch_id=batch_id, upto=upto, waiting=waiting, state="taken")
                result.not_sent += taken.not_sent
                if taken.batch is None:
                    if taken.not_sent:
                        runs.add(engine, run_id, not_sent=taken.not_sent)
                    if taken.moved and not taken.blocked:
                        continue
                    break
                _write(out_dir, ds, batch_id, taken.records, sender, settings, now)
                with engine.begin() as conn:
                    changelog.written(conn, taken.batch.id, now)
                result.batches += 1
                result.records_sent += len(taken.records)
                runs.add(engine, run_id, batches=1, records_sent=len(taken.records), not_sent=taken.not_sent)
                if taken.blocked:
                    break
    with engine.connect() as conn:
        result.outbox = delivery_counts(conn)
    return result


def _stem(ds: str, batch_id: str) -> str:
    return f"SGS_{ds.upper()}_{batch_id.replace('-', '_')}"


def _write(out_dir: Path, ds: str, batch_id: str, records: list[Any], sender: dict[str, str | None], settings: PushSettings,
           now: dt.datetime) -> None:
    """The batch's CSV, then its manifest (the province takes a batch only when its manifest exists)."""
    stem = _stem(ds, batch_id)
    group = settings.exchange_group
    entry = write_batch_file(out_dir / f"{stem}.csv", ds, records, settings.header, group=group)
    operations = dict(Counter(r.operation for r in records))
    write_manifest(out_dir / f"{stem}.manifest.json",
                   manifest(batch_id, ds, {**sender}, [entry], operations, settings.header, now), group=group)
    log.info("batch file %s: %d records", entry["name"], len(records))


def read_receipts(engine: Engine, settings: PushSettings, *, trigger: str = "cli") -> PushResult:
    """Apply every receipt file in ``exchange_dir/inbound`` to the batches waiting for receipts (rejections
    into quarantine), then move it to ``inbound/processed``. Reading a file twice changes nothing (receipts
    apply to items still waiting only)."""
    in_dir = _exchange_dir(settings) / INBOUND
    run_id = runs.start(engine, "file-in", trigger, lease_seconds=settings.lease_seconds)
    result = PushResult(run_id=run_id, mode="file")
    with _recorded(engine, result, settings.lease_seconds):
        with engine.connect() as conn:  # read once: each file's receipts update these in place
            batches = changelog.unresolved(conn)
        index = receipt_index(batches)
        for path in sorted(in_dir.glob("*.receipt.csv")) if in_dir.exists() else []:
            if not path.is_file():
                continue
            try:
                receipts = read_receipt_file(path, max_bytes=settings.max_response_bytes)
            except ReceiptError as exc:
                reason = masked(exc)  # the province's own text may quote a record
                _set_aside(in_dir, path, reason, group=settings.exchange_group)
                result.bad_answers += 1
                result.problem(reason)
                log.error("receipt file %s set aside in %s/%s: %s", path.name, INBOUND, REJECTED, reason)
                continue
            with engine.begin() as conn:
                outcome = record_receipts(conn, receipts, dt.datetime.now(dt.UTC), batches, index=index)
            result.accepted += outcome.accepted
            result.rejected += outcome.rejected
            result.batches += 1
            runs.add(engine, run_id, batches=1, accepted=outcome.accepted, rejected=outcome.rejected)
            done = exchange_folder(in_dir / PROCESSED, group=settings.exchange_group)
            path.replace(done / path.name)
        if result.problems:
            raise ReceiptError(
                f"{result.bad_answers} 个回执文件无法读取，已移到 {INBOUND}/{REJECTED}/（原因见同名 .reason.txt）：{'；'.join(result.problems[:3])}。"
                f"其余 {result.batches} 个回执文件已处理；请向省平台索取更正后的文件放回 {INBOUND}/"
            )
    with engine.connect() as conn:
        result.outbox = delivery_counts(conn)
    return result


@contextmanager
def _recorded(engine: Engine, result: PushResult, lease_seconds: int) -> Iterator[None]:
    """The block as the recorded run ``result.run_id``; the error is masked, in the exception too (a store error
    may quote a record), and an :class:`UpstreamError` carries the run's statistics (``.result``). The run's
    heartbeat is beaten while the block runs (the push lease, :func:`upstream.runs.heartbeat`)."""

    def finish(status: str, error: str | None) -> None:
        result.status, result.error = status, error
        runs.finish(engine, result.run_id, status=status, error=error)
        if error:
            log.error("%s run %s stopped: %s", result.mode, result.run_id, error)

    try:
        with recorded(finish, mask=masked), runs.heartbeat(engine, result.run_id, lease_seconds):
            yield
    except UpstreamError as exc:
        exc.result = result
        raise


def _set_aside(in_dir: Path, path: Path, reason: str, *, group: bool = False) -> None:
    """Move an unreadable receipt file out of the way (so it blocks nothing) with the reason beside it."""
    aside = exchange_folder(in_dir / REJECTED, group=group)
    path.replace(aside / path.name)
    note = write_private(aside / f"{path.name}.reason.txt", reason + "\n")
    if group:
        os.chmod(note, GROUP_FILE_MODE)


def verify_batch(manifest_path: Path) -> tuple[dict[str, Any], list[str]]:
    """The manifest and the problems of its batch (missing file, row count or SHA-256 mismatch)."""
    doc = json.loads(manifest_path.read_text(encoding="utf-8"))
    problems = []
    for f in doc["files"]:
        p = manifest_path.parent / f["name"]
        if not p.exists():
            problems.append(f"清单列出的文件 {f['name']} 不存在")
            continue
        data = p.read_bytes()
        if hashlib.sha256(data).hexdigest() != f["sha256"]:
            problems.append(f"文件 {f['name']} 的 SHA-256 校验值与清单不符")
        rows = max(len(list(csv.reader(io.StringIO(data.decode(doc.get("encoding", "utf-8-sig")), newline="")))) - 1, 0)
        if rows != f["rows"]:
            problems.append(f"文件 {f['name']} 有 {rows} 行数据，清单为 {f['rows']} 行")
    return doc, problems
