"""The pure part of a chunk's way through the pipeline: source rows → a :class:`store.loader.Batch`.

``prepare_chunk`` turns the rows a connector read into canonical text, maps them to the national
fields, derives the publicity dates, runs the rule catalogue, and computes what the load needs (typed
values, business keys, JSON payloads, content hashes). It touches no database, so a large run can do it
in a second process (:class:`PrepareProcess`) while this process reads the next page and loads the
previous chunk: Python threads share one interpreter lock, processes do not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
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
from typing import Any

import numpy as np
import pandas as pd

import expectations
from connectors.sql import source_positions
from national import dataset as national_dataset
from pipeline.config import DatasetConfig
from pipeline.memory import limit_malloc_arenas
from store.keys import bounded_keys
from store.loader import Batch, business_keys, prepare_rows
from transforms.derive import derive_penalty_fields
from transforms.masking import mask_text
from transforms.normalise import as_text_frame, map_to_national, raw_json

log = logging.getLogger("sgs.ingest")


@dataclasses.dataclass
class Chunk:
    """A prepared chunk: the batch to load (cursors not yet set) and, for snapshot reads, the rows seen."""

    batch: Batch
    seen_rows: list[tuple[str, str, str | None]] | None = None  # (source pk, raw hash, business key)


def source_pks(frame: pd.DataFrame, pk: list[str]) -> list[str]:
    """The source primary key of each row as JSON text (``[1]``, ``["A", 2]``), in the form the store's key
    columns hold (:func:`store.keys.bounded_key`: a string key longer than they allow is shortened with its
    hash, so one long key never fails a chunk; the same key always gives the same form)."""
    dtype = frame[pk[0]].dtype if len(pk) == 1 else None
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":  # the common case: one integer key, never NULL
        return [f"[{v}]" for v in frame[pk[0]].tolist()]  # what json.dumps([v]) gives, without a call per row
    cols = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in pk]
    return bounded_keys([json.dumps(list(vals), ensure_ascii=False, default=str) for vals in zip(*cols, strict=True)])


def raw_hashes(raw: list[str]) -> list[str]:
    return [hashlib.sha256(r.encode("utf-8", "surrogatepass")).hexdigest() for r in raw]


def prepare_chunk(
    source: pd.DataFrame,
    cfg: DatasetConfig,
    dataset: str,
    department: str,
    today: dt.date,
    seen: dict[str, str] | None = None,
    copy_text: bool = False,
) -> Chunk:
    """Everything between reading a page and loading it. ``seen`` (snapshot reads only): source pk → the raw
    hash the last run stored; rows whose hash is unchanged skip the stages and count as unchanged.
    ``copy_text``: the store is written with COPY (see :func:`store.loader.prepare_rows`)."""
    ds = national_dataset(dataset)
    frame = as_text_frame(source)  # driver types → text once; mapping and raw JSON share it
    pks = source_pks(source, cfg.primary_key)
    positions = source_positions(source, cfg)  # None for snapshot reads
    del source
    skipped = 0
    all_raw: list[str] | None = None
    hashes: list[str] | None = None
    keep_pks = pks
    if seen is not None:
        # Snapshot diff: a source row whose content hash is what the last run saw is unchanged; only new
        # and changed rows go through the stages. Every row is marked as seen.
        all_raw = raw_json(frame)
        hashes = raw_hashes(all_raw)
        changed = [i for i, (pk, h) in enumerate(zip(pks, hashes, strict=True)) if seen.get(pk) != h]
        skipped = len(frame) - len(changed)
        frame = frame.iloc[changed].reset_index(drop=True)
        keep_pks = [pks[i] for i in changed]
        all_raw = [all_raw[i] for i in changed]
    national = map_to_national(frame, cfg, ds, department=department)
    publicity = None
    if dataset == "cf":
        national = derive_penalty_fields(national, cfg)
        publicity = national[["_publicity_end", "_repair_eligible_from"]].rename(columns=lambda c: c.removeprefix("_"))
    national = national[ds.columns]
    verdicts = expectations.validate(national, dataset, today=today)
    issues: list[list[dict[str, str]]] = [[] for _ in range(len(national))]
    for i in np.flatnonzero(verdicts.has_error | verdicts.has_warning):  # only rows with a finding
        issues[i] = [
            {"rule": x.rule, "field": x.field, "message": x.message, "severity": x.severity}
            for x in verdicts.issues(int(i))
        ]
    batch = Batch(
        department=department,
        dataset=dataset,
        national=national,
        source_pk=keep_pks,
        raw=[],
        rejected=np.asarray(verdicts.has_error, dtype=bool),
        issues=issues,
        publicity=publicity,
        rule_failures=dict(verdicts.rule_failures),
        skipped_unchanged=skipped,
        source_position=positions,
    )
    prepared = prepare_rows(batch, copy_text=copy_text)
    # The source row as JSON is kept for quarantined rows only (validation errors and values that cannot
    # be typed); building it for every row cost more than the rule catalogue.
    if all_raw is not None:
        raw: list[str | None] = list(all_raw)
    else:
        raw = [None] * len(frame)
        bad = np.flatnonzero(prepared.rejected)
        if len(bad):
            for i, text in zip(bad, raw_json(frame.iloc[bad]), strict=True):
                raw[i] = text
    batch = dataclasses.replace(batch, raw=raw, prepared=prepared)
    seen_rows = None
    if seen is not None and hashes is not None:
        key_of = dict(zip(keep_pks, business_keys(national, ds), strict=True))
        seen_rows = [(pk, h, key_of.get(pk)) for pk, h in zip(pks, hashes, strict=True)]
    return Chunk(batch, seen_rows)


# --- the worker process ---------------------------------------------------------------------------------


class PrepareFailed(RuntimeError):
    """The worker process failed in a way that could not be sent back as the original exception."""


class PrepareProcess:
    """One worker process running :func:`prepare_chunk`, one chunk at a time, in submission order.

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

    def submit(self, *args: Any) -> None:
        try:
            self._conn.send_bytes(pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError as exc:  # BrokenPipeError: the worker is gone
            raise PrepareFailed(f"数据准备子进程已退出（退出码 {self._proc.exitcode}）") from exc
        self._used = True

    def result(self) -> Chunk:
        """The next chunk's result (blocks); re-raises the worker's exception."""
        try:
            status, payload = pickle.loads(self._conn.recv_bytes())
        except (EOFError, OSError) as exc:
            raise PrepareFailed(f"数据准备子进程意外退出（退出码 {self._proc.exitcode}）：请重试；如反复出现，请联系平台运维") from exc
        if status == "ok":
            return payload
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
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            chunk = prepare_chunk(*pickle.loads(data))
            # The load reads the prepared values, not the national frame: keep only its length (a fifth of
            # the message, and of the parent's time to unpickle it).
            chunk.batch = dataclasses.replace(chunk.batch, national=chunk.batch.national.iloc[:, :0])
            reply: tuple[str, Any] = ("ok", chunk)
        except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it
            reply = ("error", exc)
        try:
            out = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
            if reply[0] == "error":
                pickle.loads(out)  # an exception whose constructor cannot be replayed fails here, not in the parent
        except Exception as failure:  # noqa: BLE001 - any pickling failure is reported to the parent as text
            err = reply[1] if reply[0] == "error" else failure
            text = mask_text("".join(traceback.format_exception_only(type(err), err)).strip()) or type(err).__name__
            out = pickle.dumps(("error", PrepareFailed(text)), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            conn.send_bytes(out)
        except (EOFError, OSError):
            return
