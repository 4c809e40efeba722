"""``ingest()``: extract → transform → validate → load for one department dataset, chunk by chunk.

Each chunk is one transaction in the central store (records, history, quarantine, watermark, run
counters). A run killed between or inside chunks leaves only whole chunks behind; the next run starts
from the watermark (minus the look-back) and the business key absorbs what is read twice, so the
store ends as if the run had not been interrupted.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Engine

from connectors.sql import decode_cursor, encode_cursor, open_source, read_chunks
from pipeline.config import Department, source_policy
from pipeline.memory import limit_malloc_arenas
from pipeline.prepare import Chunk, PrepareFailed, PrepareProcess, prepare_chunk, source_pks
from pipeline.settings import SHANGHAI, store_engine
from store.bulk import uses_copy
from store.db import refresh_statistics
from store.loader import Batch, Counts, load_batch
from store.runs import finish_run, start_run
from store.schema import quarantine
from store.snapshot import record_snapshot, snapshot_hashes, withdraw_unseen
from transforms.masking import mask_exception, mask_text

log = logging.getLogger("sgs.ingest")


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


#: Rows written by one run (inserted, updated, quarantined) after which the planner statistics of the
#: quarantine are refreshed, doubling after each refresh (50,000, 100,000, 200,000, …), and once more at
#: the end of a run that wrote at least this many: a few ANALYZEs per large load, none for a daily increment.
ANALYZE_AFTER_ROWS = 50_000


def _worker_threshold() -> int | None:
    """Rows a run reads in this process before it starts a prepare worker process (``None``: never).

    ``SGS_PREPARE_WORKER_AFTER``: a number of rows (default 20,000; 0 = from the first full page), or
    ``off``. Small runs never pay the worker's start (about 2 s of imports, while this process goes on)."""
    value = os.environ.get("SGS_PREPARE_WORKER_AFTER", "20000").strip().lower()
    if value in ("off", "no", "false", "never", ""):
        return None
    try:
        return max(0, int(value.replace("_", "")))
    except ValueError:
        log.warning("SGS_PREPARE_WORKER_AFTER=%r is not a number of rows or 'off': using 20000", value)
        return 20_000


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
    limit_malloc_arenas()  # before this run's threads allocate (pipeline/memory.py)
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

    written = analyzed = 0  # rows this run wrote to the store; and when the statistics were last refreshed

    def refresh_statistics_if_due(*, last: bool = False) -> None:
        # The quarantine only: its look-ups have two candidate indexes and went wrong without statistics.
        # Every other look-up of the loader and the push has one matching unique index, which PostgreSQL
        # takes without statistics; ANALYZE of the big record and history tables cost seconds a call
        # (1M rows: 80.6 s analyzing all four tables, 71.4 s the quarantine only; autovacuum covers them).
        nonlocal analyzed
        due = max(ANALYZE_AFTER_ROWS, 2 * analyzed)
        if written >= due or (last and written >= ANALYZE_AFTER_ROWS and written > analyzed):
            try:
                if refresh_statistics(engine, [quarantine]):
                    log.info("ingest %s/%s: planner statistics refreshed after %d rows", dept.code, dataset, written)
            except Exception as exc:  # noqa: BLE001 - statistics are an optimisation; the next load reports a real outage
                log.warning("ingest %s/%s: ANALYZE failed (%s)", dept.code, dataset, type(exc).__name__)
            analyzed = written

    def finish_load() -> None:
        """Wait for the chunk in flight (re-raising its error) and account for it."""
        nonlocal in_flight, written
        if in_flight is None:
            return
        future, batch = in_flight
        in_flight = None
        counts = future.result()
        written += counts.inserted + counts.updated + counts.quarantined
        refresh_statistics_if_due()
        result.counts.add(counts)
        result.chunks += 1
        result.watermark_to = batch.cursor_to
        log.info(
            "ingest %s/%s chunk %d: %s (watermark %s)",
            dept.code, dataset, result.chunks, counts.as_dict(), batch.cursor_to,
        )
        if on_chunk:
            on_chunk(result)

    copy_text = uses_copy(engine)  # rows are prepared as COPY text for a PostgreSQL store
    worker: PrepareProcess | None = None
    worker_after = _worker_threshold()
    # Pages sent to the worker and not yet returned, with their cursor_to, in order: kept until their
    # result arrives, so that a worker that dies (the OOM killer, say) costs a warning, not the run.
    sent: list[tuple[Any, Any]] = []
    position: Any = None
    cursor_from = wm_text

    def hand_over(ready: Chunk, cursor_to: Any) -> None:
        """Give a prepared chunk its cursors and start loading it (after the previous load committed)."""
        nonlocal in_flight, position, cursor_from
        new_position = _later(position, cursor_to)
        batch = replace(ready.batch, cursor_from=cursor_from, cursor_to=encode_cursor(new_position))
        finish_load()
        in_flight = (loader.submit(load, batch, ready.seen_rows), batch)
        position = new_position
        cursor_from = batch.cursor_to

    def abandon_worker(exc: BaseException) -> None:
        """The worker failed outside a chunk's own error: prepare its pages here, and the rest of the run."""
        nonlocal worker, worker_after
        log.warning("ingest %s/%s: prepare worker failed (%s); continuing in this process", dept.code, dataset, exc)
        assert worker is not None
        worker.close()
        worker, worker_after = None, None
        while sent:
            frame, cursor_to = sent.pop(0)
            hand_over(prepare_chunk(frame, cfg, dataset, dept.code, today, None, copy_text), cursor_to)

    try:
        source = open_source(dept.source, department=dept.code, policy=source_policy())
        position = decode_cursor(wm_text)
        rows_read = 0
        for chunk in read_chunks(source, cfg, position):
            rows_read += len(chunk.frame)
            if snapshot:
                finish_load()  # the snapshot of the previous chunk is committed before this one is compared
                with engine.connect() as conn:
                    seen = snapshot_hashes(conn, dept.code, dataset, source_pks(chunk.frame, cfg.primary_key))
                hand_over(prepare_chunk(chunk.frame, cfg, dataset, dept.code, today, seen, copy_text), chunk.cursor_to)
                continue
            if worker is not None:
                # Receive chunk k before sending chunk k+1 (two large messages in opposite directions
                # must never wait for each other), then load chunk k while the worker prepares k+1.
                ready = None
                try:
                    if sent:
                        ready = worker.result()
                    worker.submit(chunk.frame, cfg, dataset, dept.code, today, None, copy_text)
                except PrepareFailed as exc:
                    if ready is not None:
                        hand_over(ready, sent.pop(0)[1])
                    abandon_worker(exc)  # then this chunk is prepared here, below
                else:
                    sent.append((chunk.frame, chunk.cursor_to))
                    del chunk
                    if ready is not None:
                        hand_over(ready, sent.pop(0)[1])
                    continue
            ready = prepare_chunk(chunk.frame, cfg, dataset, dept.code, today, None, copy_text)
            if worker_after is not None and rows_read >= worker_after and len(chunk.frame) >= cfg.chunk_rows:
                # A large run (this page was full, more will follow): prepare the next chunks in a second
                # process. It starts (imports) while this chunk is loaded.
                try:
                    worker = PrepareProcess(f"sgs-prepare-{dept.code}")
                except Exception as exc:  # noqa: BLE001 - a run never fails for want of a helper process
                    log.warning("ingest %s/%s: no prepare worker (%s), continuing in this process", dept.code, dataset, exc)
                    worker_after = None
            cursor_to = chunk.cursor_to
            del chunk
            hand_over(ready, cursor_to)
        if worker is not None and sent:
            try:
                ready = worker.result()
            except PrepareFailed as exc:
                abandon_worker(exc)
            else:
                hand_over(ready, sent.pop(0)[1])
        finish_load()
        refresh_statistics_if_due(last=True)
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
        # Engines hide bound parameters (hide_parameters=True); a driver's own detail text (PostgreSQL's
        # "CONTEXT: COPY …, column …: <value>") is masked in the exception itself, so the CLI's traceback and
        # Airflow's task log show it masked too, not only the log line and the run record.
        mask_exception(error)
        result.error = mask_text(f"{type(error).__name__}: {error}") or ""
        result.seconds = time.monotonic() - started
        finish_run(engine, run_id, status="failed", error=result.error[:4000])
        log.error("ingest %s/%s run %s failed: %s", dept.code, dataset, run_id, result.error)
        if error is exc:
            raise
        raise error from None
    finally:
        loader.shutdown(wait=True)
        if worker is not None:
            worker.close()
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
