"""The pure part of a chunk's way through the pipeline: a connector's :class:`RawChunk` → a :class:`store.rows.Batch`.

``prepare_chunk`` reads as the stages go: source values as text (``transforms``), mapped to the national
fields, derived and checked against the rule catalogue (:func:`check_rows`, also behind ``sgs validate`` and
``sgs dept check``), keyed and hashed (``store.rows``), typed for the store (``transforms.typing``: values
that cannot be loaded are findings too), and the batch is built once. It touches no database, so a large run
can do it in a second process (:class:`PrepareProcess`) while this process loads the previous chunk: Python
threads share one interpreter lock, processes do not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import json
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

import expectations
from connectors.settings import SourcePolicy, SourceSettings
from connectors.sql import RawChunk, open_source, read_chunks
from national import Dataset
from national import dataset as national_dataset
from national.issues import Issue
from pipeline.config import DatasetConfig
from pipeline.memory import limit_malloc_arenas
from store.keys import KEY_LENGTH, bounded_keys
from store.rows import Batch, Prepared, keyed, prepared, with_lifecycle
from transforms.derive import derive_penalty_fields, strip_number_from_title
from transforms.masking import mask_text
from transforms.normalise import as_text_frame, map_to_national, not_public_reasons, raw_json, revoked_statuses
from transforms.settings import MappingSettings
from transforms.typing import NO_ISSUES, type_rows

log = logging.getLogger("sgs.ingest")


@dataclasses.dataclass
class Chunk:
    """A prepared chunk: the batch to load and, for snapshot reads, the rows seen."""

    batch: Batch
    seen_rows: list[tuple[str, bytes, str | None]] | None = None  # (source pk, raw hash, business key)
    after: tuple[Any, ...] | None = None  # the order key of the page's last row (:class:`RawChunk`)


@dataclasses.dataclass(frozen=True)
class Checked:
    """Rows mapped to the national fields, derived and checked (:func:`check_rows`)."""

    national: pd.DataFrame  # the dataset's national columns (canonical text), positional rows
    publicity: pd.DataFrame | None  # publicity_end, repair_eligible_from (penalties)
    verdicts: expectations.Verdicts

    def row_issues(self) -> list[Sequence[Issue]]:
        """Per row, the catalogue's findings (errors first); rows without any share one empty tuple."""
        v = self.verdicts
        out: list[Sequence[Issue]] = [NO_ISSUES] * v.n_rows
        shared: dict[Issue, Issue] = {}  # one object per distinct finding: a worker's pickle sends each once
        for i in np.flatnonzero(v.has_error | v.has_warning).tolist():  # only rows with a finding
            out[i] = [shared.setdefault(x, x) for x in v.issues(i)]
        return out


def check_rows(
    frame: pd.DataFrame, mapping: MappingSettings, dataset: str, *, department: str, today: dt.date | None = None,
) -> Checked:
    """map → derive → validate: department columns to the national fields, the penalties' publicity dates, the
    rule catalogue. The one spelling of these stages, for a run's chunks, ``sgs validate`` and ``sgs dept check``."""
    ds = national_dataset(dataset)
    national = map_to_national(frame, mapping, ds, department=department)
    publicity = None
    if dataset == "cf":
        national = derive_penalty_fields(national, mapping)
        publicity = national[["_publicity_end", "_repair_eligible_from"]].rename(columns=lambda c: c.removeprefix("_"))
    national = national[ds.columns]
    # A department file may switch rules for its own rows (pipeline.config.DatasetConfig.rules).
    own_settings = getattr(mapping, "rule_settings", None)
    rule_settings = own_settings() if own_settings is not None else None
    verdicts = expectations.validate(national, dataset, today=today, settings=rule_settings)
    if dataset == "xk":
        # 文书名称 is the part before the bracket (spec §1 #14 [C]): checked as given (XK-WS-001 tells the department),
        # stored without a bracket that only repeats the 文书号.
        national = strip_number_from_title(national)
    if publicity is not None:
        # One end date (spec §5.2): the department's CF_GSJZQ was checked as given (a 2099-12-31 or a date past
        # the maximum is reported); the value stored, pushed and expired by is the one derived end date.
        national = national.copy()
        ok = ~np.asarray(verdicts.has_error, dtype=bool)
        national.loc[ok, "CF_GSJZQ"] = publicity.loc[ok, "publicity_end"].to_numpy()
    return Checked(national, publicity, verdicts)


def source_pks(frame: pd.DataFrame, pk: list[str]) -> list[str]:
    """The source primary key of each row as JSON text (``[1]``, ``["A", 2]``), in the form the store's key
    columns hold (:func:`store.keys.bounded_key`: a string key longer than they allow is shortened with its
    hash, so one long key never fails a chunk; the same key always gives the same form)."""
    dtype = frame[pk[0]].dtype if len(pk) == 1 else None
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":  # the common case: one integer key, never NULL
        return [f"[{v}]" for v in frame[pk[0]].tolist()]  # what json.dumps([v]) gives, without a call per row
    cols = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in pk]
    return bounded_keys([json.dumps(list(vals), ensure_ascii=False, default=str) for vals in zip(*cols, strict=True)])


def raw_hashes(raw: list[str]) -> list[bytes]:
    """The hash of each source row's JSON as the store keeps it (``store.schema.HASH``: 16 bytes)."""
    return [hashlib.sha256(r.encode("utf-8", "surrogatepass")).digest()[:16] for r in raw]


@dataclasses.dataclass(frozen=True)
class _Snapshot:
    """A snapshot read's diff: the rows whose content changed since the last run saw them."""

    changed: list[int]
    raw: list[str]  # the source JSON of the changed rows
    pks: list[str]  # every row's source pk
    hashes: list[bytes]  # every row's raw hash

    @classmethod
    def of(cls, text: pd.DataFrame, pks: list[str], seen: dict[str, bytes]) -> _Snapshot:
        raw = raw_json(text)
        hashes = raw_hashes(raw)
        changed = [i for i, (pk, h) in enumerate(zip(pks, hashes, strict=True)) if seen.get(pk) != h]
        return cls(changed, [raw[i] for i in changed], pks, hashes)

    def seen_rows(self, keys: list[str]) -> list[tuple[str, bytes, str | None]]:
        key_of = dict(zip([self.pks[i] for i in self.changed], keys, strict=True))
        return [(pk, h, key_of.get(pk)) for pk, h in zip(self.pks, self.hashes, strict=True)]


def _raw_of_rejected(text: pd.DataFrame, rejected: np.ndarray) -> list[str | None]:
    """The source row as JSON for quarantined rows only (building it for every row cost more than the rule
    catalogue)."""
    raw: list[str | None] = [None] * len(text)
    bad = np.flatnonzero(rejected)
    if len(bad):
        for i, row in zip(bad.tolist(), raw_json(text.iloc[bad]), strict=True):
            raw[i] = row
    return raw


@dataclasses.dataclass(frozen=True)
class Owner:
    """The unit a delivered file must come from: its code (统一社会信用代码) and name."""

    uscc: str
    name: str


#: The rule id of a row refused because another unit decided it (a file in a department's inbox).
FOREIGN_RULE = "FILE-DEPT"


def foreign_rows(
    national: pd.DataFrame, ds: Dataset, owner: Owner, rejected: np.ndarray, issues: list[Sequence[Issue]],
    failures: dict[str, int],
) -> tuple[np.ndarray, list[Sequence[Issue]], dict[str, int]]:
    """Rows whose 数据来源单位代码 (the business key's first field) is not ``owner``'s credit code, refused with
    the reason: a department's inbox takes only the department's own decisions (the business key names the
    unit, so a row of another unit would create or overwrite that unit's record)."""
    code_field = ds.business_key[0]
    given = national[code_field].fillna("").astype(str).str.strip().str.upper().to_numpy()
    foreign = given != owner.uscc.strip().upper()
    if not foreign.any():
        return rejected, issues, failures
    issue = Issue(
        FOREIGN_RULE, code_field,
        f"{ds.field(code_field).name_zh}不是本部门（{owner.name}，{owner.uscc}）的统一社会信用代码：本收件箱只接收本部门"
        "作出的决定，其他单位的数据请由该单位自行报送",
        "error",
    )
    out = list(issues)
    for i in np.flatnonzero(foreign).tolist():
        out[i] = [issue, *out[i]]
    return np.asarray(rejected, dtype=bool) | foreign, out, {**failures, FOREIGN_RULE: int(foreign.sum())}


def prepare_chunk(
    chunk: RawChunk,
    cfg: DatasetConfig,
    dataset: str,
    department: str,
    today: dt.date,
    seen: dict[str, bytes] | None = None,
    copy_text: bool = False,
    *,
    owner: Owner | None = None,
) -> Chunk:
    """Everything between reading a page and loading it. ``seen`` (snapshot reads only): source pk → the raw
    hash the last run stored; rows whose hash is unchanged skip the stages and count as unchanged.
    ``copy_text``: the store is written with COPY (:func:`store.bulk.uses_copy`). ``owner`` (files delivered
    to a department's inbox): rows another unit decided are refused (:func:`foreign_rows`)."""
    ds = national_dataset(dataset)
    text = as_text_frame(chunk.frame)  # driver types → text once; mapping and raw JSON share it
    pks = source_pks(chunk.frame, cfg.primary_key)
    snapshot = _Snapshot.of(text, pks, seen) if seen is not None else None
    if snapshot is not None:  # only new and changed rows go through the stages; every row is marked as seen
        text = text.iloc[snapshot.changed].reset_index(drop=True)
    checked = check_rows(text, cfg, dataset, department=department, today=today)
    rejected, row_issues, failures = checked.verdicts.has_error, checked.row_issues(), dict(checked.verdicts.rule_failures)
    if owner is not None:
        rejected, row_issues, failures = foreign_rows(checked.national, ds, owner, rejected, row_issues, failures)
    revoked = revoked_statuses(text, cfg, department=department)
    hidden = not_public_reasons(text, checked.national, cfg, dataset, department=department)
    k = with_lifecycle(keyed(checked.national, ds), revoked, hidden)
    typed = type_rows(checked.national, ds, rejected, row_issues,
                      long_keys=k.long_keys, unstorable=k.unstorable, key_length=KEY_LENGTH)
    batch = Batch(
        department=department,
        dataset=dataset,
        national=None,
        source_pk=[pks[i] for i in snapshot.changed] if snapshot else pks,
        raw=list(snapshot.raw) if snapshot else _raw_of_rejected(text, typed.rejected),
        rejected=typed.rejected,
        issues=typed.issues,
        publicity=checked.publicity,
        cursor_from=chunk.cursor_from,
        cursor_to=chunk.cursor_to,
        rule_failures=failures,
        skipped_unchanged=len(pks) - len(snapshot.changed) if snapshot else 0,
        source_position=chunk.positions,
        prepared=prepared(ds, checked.national, k, typed.values, typed.rejected, typed.issues, copy_text=copy_text,
                          revoked=revoked, not_public=hidden),
    )
    return Chunk(batch, snapshot.seen_rows(k.keys) if snapshot else None, chunk.after)


# --- the worker process ---------------------------------------------------------------------------------


class PrepareFailed(RuntimeError):
    """The worker process failed in a way that could not be sent back as the original exception."""


class PrepareProcess:
    """One worker process running :func:`prepare_chunk`, in order: for the pages it is sent (:meth:`submit`),
    or for the pages it reads itself from the department database (:meth:`read`), so that no page crosses
    between the processes.

    Started with ``spawn`` (a fork of a process with running threads may inherit a held lock). The worker
    exits when its parent goes away (also after SIGKILL: it watches its parent's pid), so a killed run
    leaves no orphan behind. An exception raised in the worker is raised again here with its own type.
    """

    def __init__(self, name: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(target=_serve, args=(child, os.getpid()), name=name, daemon=True)
        t0 = time.monotonic()
        self._proc.start()
        child.close()
        self._used = False
        log.info("prepare worker %s started (pid %s) in %.2f s", name, self._proc.pid, time.monotonic() - t0)

    def _send(self, request: tuple[str, tuple[Any, ...]]) -> None:
        try:
            self._conn.send_bytes(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError as exc:  # BrokenPipeError: the worker is gone
            raise PrepareFailed(f"数据准备子进程已退出（退出码 {self._proc.exitcode}）") from exc
        self._used = True

    def submit(self, *args: Any) -> None:
        """Prepare one page (the arguments of :func:`prepare_chunk`); its chunk comes from :meth:`result`."""
        self._send(("prepare", args))

    def read(
        self, source: SourceSettings, department: str, policy: SourcePolicy, cfg: DatasetConfig, dataset: str,
        today: dt.date, copy_text: bool, watermark: str | None, after: tuple[Any, ...] | None,
    ) -> None:
        """Read the pages after ``watermark`` / ``after`` (:func:`connectors.sql.read_chunks`) from the
        department database in the worker and prepare each: :meth:`result` returns their chunks in order, then
        ``None``. A source the worker cannot open fails the worker (:class:`PrepareFailed`), not the run."""
        self._send(("read", (source, department, policy, cfg, dataset, today, copy_text, watermark, after)))

    def result(self) -> Chunk | None:
        """The next chunk's result (blocks; ``None``: the pages of :meth:`read` are done); re-raises the
        worker's exception."""
        try:
            status, payload = pickle.loads(self._conn.recv_bytes())
        except (EOFError, OSError) as exc:
            raise PrepareFailed(f"数据准备子进程意外退出（退出码 {self._proc.exitcode}）：请重试；如反复出现，请联系平台运维") from exc
        if status == "ok":
            return payload
        if status == "end":
            return None
        if status == "unavailable":
            raise PrepareFailed(payload)
        raise payload

    def close(self) -> None:
        if not self._used:  # started but never given a chunk (the run ended): no need to wait for its imports
            self._proc.kill()
        try:
            self._conn.close()
        finally:
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(timeout=5)


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(0.5)


def _serve(conn: Any, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle; the worker follows its parent
    limit_malloc_arenas()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    while True:
        try:
            kind, args = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if kind == "read":
            _read_and_prepare(conn, *args)
            continue
        try:
            reply: tuple[str, Any] = ("ok", prepare_chunk(*args))
        except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it
            reply = ("error", exc)
        if not _reply(conn, reply):
            return
        del reply
        _freeze_imports()


def _freeze_imports() -> None:
    """Once, after the worker's first chunk (by then every module the preparation uses is imported): the objects
    alive now are left out of the cyclic collector's full collections for the rest of the worker's life
    (``gc.freeze``), as the run does for its own (pipeline.memory.frozen_heap): each full collection walked
    the whole heap of pandas, Great Expectations and the rule catalogue again."""
    if not gc.get_freeze_count():
        gc.collect()  # the first chunk's cyclic garbage, once (tens of ms), so none of it is frozen
        gc.freeze()


def _read_and_prepare(
    conn: Any, source_settings: SourceSettings, department: str, policy: SourcePolicy, cfg: DatasetConfig,
    dataset: str, today: dt.date, copy_text: bool, watermark: str | None, after: tuple[Any, ...] | None,
) -> None:
    """Every page after ``watermark`` / ``after``, read here and prepared, sent as it is ready (the send waits
    while the run loads the previous chunk: one chunk is sent, one prepared and one page read ahead)."""
    try:
        source = open_source(source_settings, department=department, policy=policy)
    except BaseException as exc:  # noqa: BLE001 - the run reads the pages itself then
        _reply(conn, ("unavailable", f"数据准备子进程无法连接源数据库（{type(exc).__name__}）"))
        return
    try:
        for raw in read_chunks(source, cfg, watermark, after=after):
            chunk = prepare_chunk(raw, cfg, dataset, department, today, None, copy_text)
            del raw
            if not _reply(conn, ("ok", chunk)):
                return
            del chunk
            _freeze_imports()
        _reply(conn, ("end", None))
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it
        _reply(conn, ("error", exc))
    finally:
        source.dispose()


def _reply(conn: Any, reply: tuple[str, Any]) -> bool:
    """Send ``reply``; an exception that cannot be replayed in the parent goes as :class:`PrepareFailed` with its
    masked text. False: the parent is gone."""
    try:
        out = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        if reply[0] == "error":
            pickle.loads(out)  # an exception whose constructor cannot be replayed fails here, not in the parent
    except Exception as failure:  # noqa: BLE001
        exc = reply[1] if reply[0] == "error" else failure
        text = mask_text("".join(traceback.format_exception_only(type(exc), exc)).strip()) or type(exc).__name__
        out = pickle.dumps(("error", PrepareFailed(text)), protocol=pickle.HIGHEST_PROTOCOL)
    try:
        conn.send_bytes(out)
    except (EOFError, OSError):
        return False
    return True


def prepare_batch(batch: Batch, *, copy_text: bool) -> Batch:
    """A batch built by hand from national text (tests, scenario builders, a future file intake that already
    holds validated national rows) with its per-row values computed, as :func:`prepare_chunk` computes them
    for every chunk of a run: typing and the LOAD-* findings (transforms), keys, payloads and hashes (store.rows).
    ``copy_text``: the store is written with COPY (:func:`store.bulk.uses_copy`)."""
    assert batch.national is not None, "a batch needs its national values"
    ds = national_dataset(batch.dataset)
    national = batch.national.reset_index(drop=True)
    k = keyed(national, ds)
    issues = cast("list[list[Issue]]", [list(x) for x in batch.issues])  # hand-built batches carry Issue objects or dicts
    typed = type_rows(national, ds, batch.rejected, issues, long_keys=k.long_keys, unstorable=k.unstorable,
                      key_length=KEY_LENGTH)
    p: Prepared = prepared(ds, national, k, typed.values, typed.rejected, typed.issues, copy_text=copy_text)
    return dataclasses.replace(batch, prepared=p)
