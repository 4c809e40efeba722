"""``ingest()``: extract → transform → validate → load for one department dataset, chunk by chunk.

Each chunk is one transaction in the central store (records, history, quarantine, watermark, run
counters). A run killed between or inside chunks leaves only whole chunks behind; the next run starts
from the watermark (minus the look-back) and the business key absorbs what is read twice, so the
store ends as if the run had not been interrupted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

import expectations
from connectors.sql import decode_cursor, encode_cursor, open_source, read_chunks, source_positions
from national import dataset as national_dataset
from pipeline.config import Department
from pipeline.paths import store_url
from store.db import make_store_engine, migrate
from store.loader import Batch, Counts, business_keys, load_batch
from store.runs import finish_run, start_run
from store.snapshot import record_snapshot, snapshot_hashes, withdraw_unseen
from transforms.derive import derive_penalty_fields
from transforms.masking import mask_text
from transforms.normalise import as_text_frame, map_to_national, raw_json

log = logging.getLogger("sgs.ingest")

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class IngestResult:
    """What one run of one department dataset did (small: it travels through XCom)."""

    department: str
    dataset: str
    run_id: int
    status: str
    counts: Counts = field(default_factory=Counts)
    chunks: int = 0
    watermark_from: str | None = None
    watermark_to: str | None = None
    seconds: float = 0.0
    error: str | None = None
    withdrawn: int = 0  # records withdrawn because their source row was deleted (snapshot strategy)

    def as_dict(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "dataset": self.dataset,
            "run_id": self.run_id,
            "status": self.status,
            **self.counts.as_dict(),
            "chunks": self.chunks,
            "withdrawn": self.withdrawn,
            "watermark_from": self.watermark_from,
            "watermark_to": self.watermark_to,
            "seconds": round(self.seconds, 3),
        }


_engines: dict[str, Engine] = {}


def store_engine(url: str | None = None) -> Engine:
    """The central store's engine, migrated once per process."""
    url = url or store_url()
    if url not in _engines:
        engine = make_store_engine(url)
        migrate(engine)
        _engines[url] = engine
    return _engines[url]


def _source_pks(frame: pd.DataFrame, pk: list[str]) -> list[str]:
    dtype = frame[pk[0]].dtype if len(pk) == 1 else None
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":  # the common case: one integer key, never NULL
        return [f"[{v}]" for v in frame[pk[0]].tolist()]  # what json.dumps([v]) gives, without a call per row
    cols = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in pk]
    return [json.dumps(list(vals), ensure_ascii=False, default=str) for vals in zip(*cols, strict=True)]


def _later(a: Any, b: Any) -> Any:
    """The later of two cursor values; ``None`` counts as 'no position yet'."""
    if a is None:
        return b
    if b is None:
        return a
    try:
        return b if b > a else a
    except TypeError:  # naive vs aware datetimes from a driver change: compare in the source's zone
        return b


def ingest(
    dept: Department,
    dataset: str,
    *,
    engine: Engine | None = None,
    trigger: str = "cli",
    today: dt.date | None = None,
    on_chunk: Callable[[IngestResult], None] | None = None,
) -> IngestResult:
    """Run one incremental ingest of ``dataset`` (``cf``/``xk``) for ``dept``.

    Raises :class:`connectors.errors.SourceUnavailable` (retry later),
    :class:`connectors.errors.SourceConfigError` or :class:`transforms.MappingError` (fix the
    configuration). The run's statistics are recorded either way.
    """
    if dataset not in dept.datasets:
        raise KeyError(f"部门 {dept.code} 没有配置数据集 {dataset}（已配置：{', '.join(dept.datasets)}）")
    cfg = dept.datasets[dataset]
    ds = national_dataset(dataset)
    engine = engine or store_engine()
    today = today or dt.datetime.now(SHANGHAI).date()
    started = time.monotonic()
    run_id, wm_text = start_run(engine, dept.code, dataset, trigger)
    result = IngestResult(dept.code, dataset, run_id, "running", watermark_from=wm_text, watermark_to=wm_text)
    log.info("ingest %s/%s run %s starts after watermark %s", dept.code, dataset, run_id, wm_text)
    source = None
    snapshot = cfg.strategy == "snapshot"
    # Chunk k is loaded (one store transaction) in a worker thread while chunk k+1 is extracted and
    # transformed: the store's time (COPY, index maintenance) overlaps with this thread's Python work.
    # At most one load is in flight, loads commit in chunk order, and a chunk's load is waited for (and
    # ``on_chunk`` called) before the next one starts, so the store moves through exactly the states of a
    # sequential run.
    loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sgs-load-{dept.code}")
    in_flight: tuple[Future[Counts], Batch] | None = None

    def load(batch: Batch, seen_rows: list[tuple[str, str, str | None]] | None) -> Counts:
        with engine.begin() as conn:
            counts = load_batch(conn, run_id, batch)
            if seen_rows is not None:
                record_snapshot(conn, dept.code, dataset, run_id, seen_rows)
        return counts

    def finish_load() -> None:
        """Wait for the chunk in flight (re-raising its error) and account for it."""
        nonlocal in_flight
        if in_flight is None:
            return
        future, batch = in_flight
        in_flight = None
        counts = future.result()
        result.counts.add(counts)
        result.chunks += 1
        result.watermark_to = batch.cursor_to
        log.info(
            "ingest %s/%s chunk %d: %s (watermark %s)",
            dept.code, dataset, result.chunks, counts.as_dict(), batch.cursor_to,
        )
        if on_chunk:
            on_chunk(result)

    try:
        source = open_source(dept.source, department=dept.code)
        position = decode_cursor(wm_text)
        cursor_from = wm_text
        for chunk in read_chunks(source, cfg, position):
            frame = as_text_frame(chunk.frame)  # driver types → text once; mapping and raw JSON share it
            source_pks = _source_pks(chunk.frame, cfg.primary_key)
            positions = source_positions(chunk.frame, cfg)  # None for snapshot reads
            raw = raw_json(frame)
            raw_hashes = [hashlib.sha256(r.encode("utf-8", "surrogatepass")).hexdigest() for r in raw]
            skipped = 0
            if snapshot:
                finish_load()  # the snapshot of the previous chunk is committed before this one is compared
                # Snapshot diff: a source row whose content hash is what the last run saw is unchanged;
                # only new and changed rows go through the stages. Every row is marked as seen.
                with engine.connect() as conn:
                    seen = snapshot_hashes(conn, dept.code, dataset, source_pks)
                changed = [i for i, (pk, h) in enumerate(zip(source_pks, raw_hashes, strict=True)) if seen.get(pk) != h]
                skipped = len(frame) - len(changed)
                frame = frame.iloc[changed].reset_index(drop=True)
                keep_pks = [source_pks[i] for i in changed]
                keep_raw = [raw[i] for i in changed]
            else:
                keep_pks, keep_raw = source_pks, raw
            national = map_to_national(frame, cfg, ds, department=dept.code)
            publicity = None
            if dataset == "cf":
                national = derive_penalty_fields(national, cfg)
                publicity = national[["_publicity_end", "_repair_eligible_from"]].rename(
                    columns=lambda c: c.removeprefix("_")
                )
            verdicts = expectations.validate(national[ds.columns], dataset, today=today)
            issues: list[list[dict[str, str]]] = [[] for _ in range(len(national))]
            for i in np.flatnonzero(verdicts.has_error | verdicts.has_warning):  # only rows with a finding
                issues[i] = [
                    {"rule": x.rule, "field": x.field, "message": x.message, "severity": x.severity}
                    for x in verdicts.issues(int(i))
                ]
            new_position = _later(position, chunk.cursor_to)
            batch = Batch(
                department=dept.code,
                dataset=dataset,
                national=national[ds.columns],
                source_pk=keep_pks,
                raw=keep_raw,
                rejected=np.asarray(verdicts.has_error, dtype=bool),
                issues=issues,
                publicity=publicity,
                cursor_from=cursor_from,
                cursor_to=encode_cursor(new_position),
                rule_failures=dict(verdicts.rule_failures),
                skipped_unchanged=skipped,
                source_position=positions,
            )
            seen_rows = None
            if snapshot:
                key_of = dict(zip(keep_pks, business_keys(national[ds.columns], ds), strict=True))
                seen_rows = [(pk, h, key_of.get(pk)) for pk, h in zip(source_pks, raw_hashes, strict=True)]
            del frame, national, publicity, chunk  # the batch holds what the load needs
            finish_load()
            in_flight = (loader.submit(load, batch, seen_rows), batch)
            position = new_position
            cursor_from = batch.cursor_to
        finish_load()
        if snapshot:
            # The whole table was read: rows not seen in this run were deleted at the source.
            with engine.begin() as conn:
                result.withdrawn = withdraw_unseen(conn, dept.code, dataset, run_id)
    except BaseException as exc:
        # A load still in flight ends first (it commits or rolls back as a whole). Had the run been
        # sequential, its error would have come before this one: it is the run's error then.
        error: BaseException = exc
        if in_flight is not None:
            try:
                finish_load()
            except BaseException as load_exc:  # noqa: BLE001 - re-raised below in place of the later error
                error = load_exc
        result.status = "failed"
        # Engines hide bound parameters (hide_parameters=True); a driver's own detail text is masked too.
        result.error = mask_text(f"{type(error).__name__}: {error}") or ""
        result.seconds = time.monotonic() - started
        finish_run(engine, run_id, status="failed", error=result.error[:4000])
        log.error("ingest %s/%s run %s failed: %s", dept.code, dataset, run_id, result.error)
        if error is exc:
            raise
        raise error from None
    finally:
        loader.shutdown(wait=True)
        if source is not None:
            source.dispose()
    result.status = "success"
    result.seconds = time.monotonic() - started
    finish_run(engine, run_id, status="success")
    c = result.counts
    log.info(
        "ingest %s/%s run %s done: read %d = inserted %d + updated %d + unchanged %d + quarantined %d",
        dept.code, dataset, run_id, c.read, c.inserted, c.updated, c.unchanged, c.quarantined,
    )
    return result
