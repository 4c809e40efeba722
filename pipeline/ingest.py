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
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from connectors.settings import SourceSettings
from connectors.sql import RawChunk, Source, open_source, read_chunks
from pipeline.config import DatasetConfig, Department, source_policy
from pipeline.memory import frozen_heap, limit_malloc_arenas, return_free_memory, return_large_blocks
from pipeline.prepare import Chunk, PrepareFailed, PrepareProcess, prepare_chunk, source_pks
from pipeline.settings import SHANGHAI, store_engine
from store import runs
from store.bulk import uses_copy
from store.db import refresh_statistics
from store.loader import Counts, load_batch
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


def ingest(
    dept: Department,
    dataset: str,
    *,
    engine: Engine | None = None,
    trigger: str = "cli",
    today: dt.date | None = None,
    on_chunk: Callable[[IngestResult], None] | None = None,
    now: dt.datetime | None = None,
) -> IngestResult:
    """Run one incremental ingest of ``dataset`` (``cf``/``xk``) for ``dept``.

    ``now`` (aware) stamps what the run writes (``first_loaded_at``, ``first_published_at``, quarantine times)
    instead of the clock: only for replaying the past (``sgs demo`` replays its departments' months, so that
    timeliness is measured on spread arrival dates). Every entry point of the platform leaves it unset.

    Raises :class:`connectors.errors.SourceUnavailable` (retry later),
    :class:`connectors.errors.SourceConfigError` or :class:`transforms.MappingError` (fix the
    configuration). The run's statistics are recorded either way.
    """
    if dataset not in dept.datasets:
        raise KeyError(f"部门 {dept.code} 没有配置数据集 {dataset}（已配置：{', '.join(dept.datasets)}）")
    return IngestRun(dept, dataset, engine=engine or store_engine(), trigger=trigger, today=today, on_chunk=on_chunk,
                     now=now).run()


class IngestRun:
    """One run of one department dataset: read → prepare → load, chunk by chunk.

    The read strategy (:class:`CursorRead`, :class:`SnapshotRead`) yields prepared chunks; the preparer it uses
    (:class:`InProcess`, :class:`WorkerAfter`) turns the connector's pages into batches, here or in a worker
    process. Chunk k is loaded (one store transaction) in a loading thread while chunk k+1 is read and prepared:
    the store's time (COPY, index maintenance) overlaps with the Python work. At most one load is in flight,
    loads commit in chunk order, and a chunk's load is waited for (and ``on_chunk`` called) before the next
    one starts, so the store moves through exactly the states of a sequential run.
    """

    def __init__(
        self, dept: Department, dataset: str, *, engine: Engine, trigger: str = "cli", today: dt.date | None = None,
        on_chunk: Callable[[IngestResult], None] | None = None, now: dt.datetime | None = None,
    ) -> None:
        if now is not None and now.tzinfo is None:
            raise ValueError("now 必须带时区")
        self.dept, self.dataset, self.engine, self.trigger, self.on_chunk = dept, dataset, engine, trigger, on_chunk
        self.now = now
        self.cfg: DatasetConfig = dept.datasets[dataset]
        # A department with datasets has a database (pipeline.config: a file-only department has neither).
        assert dept.source is not None
        self.source_settings: SourceSettings = dept.source
        self.today = today or dt.datetime.now(SHANGHAI).date()
        self.copy_text = uses_copy(engine)  # rows are prepared as COPY text for a PostgreSQL store
        self.result: IngestResult | None = None
        self.source: Source | None = None
        self._in_flight: tuple[Future[Counts], Chunk] | None = None
        self._loader: ThreadPoolExecutor | None = None
        self._written = 0  # rows this run wrote to the store (inserted, updated, quarantined)
        self._analyzed = 0  # … when the planner statistics were last refreshed

    @property
    def label(self) -> str:
        return f"{self.dept.code}/{self.dataset}"

    def prepare_here(self, raw: RawChunk, seen: dict[str, bytes] | None = None) -> Chunk:
        return prepare_chunk(raw, self.cfg, self.dataset, self.dept.code, self.today, seen, self.copy_text)

    def run(self) -> IngestResult:
        limit_malloc_arenas()  # before this run's threads allocate (pipeline/memory.py)
        return_large_blocks()
        with frozen_heap():
            return self._run()

    def _run(self) -> IngestResult:
        started = time.monotonic()
        run_id, wm_text = runs.start_run(self.engine, self.dept.code, self.dataset, self.trigger)
        result = self.result = IngestResult(
            self.dept.code, self.dataset, run_id, "running", watermark_from=wm_text, watermark_to=wm_text,
        )
        log.info("ingest %s run %s starts after watermark %s", self.label, run_id, wm_text)
        strategy: ReadStrategy = SnapshotRead(self) if self.cfg.strategy == "snapshot" else CursorRead(self, preparer_for(self))

        def finish(status: str, error: str | None) -> None:
            result.status, result.error = status, error
            result.seconds = time.monotonic() - started
            runs.finish_run(self.engine, run_id, status=status, error=error)

        with runs.recorded(finish, mask=_masked, limit=4000, catch=BaseException):
            try:
                self._loop(strategy, wm_text)
            except BaseException as exc:
                # A load still in flight ends first (it commits or rolls back as a whole). Had the run been
                # sequential, its error would have come before this one: it is the run's error then.
                error = self._settle(exc)
                log.error("ingest %s run %s failed: %s", self.label, run_id, _masked(error))
                if error is exc:
                    raise
                raise error from None
        c = result.counts
        log.info(
            "ingest %s run %s done: read %d = inserted %d + updated %d + unchanged %d + quarantined %d",
            self.label, run_id, c.read, c.inserted, c.updated, c.unchanged, c.quarantined,
        )
        return result

    def _loop(self, strategy: ReadStrategy, wm_text: str | None) -> None:
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sgs-load-{self.dept.code}")
        try:
            self.source = open_source(self.source_settings, department=self.dept.code, policy=source_policy())
            for chunk in strategy.chunks(self.read(wm_text)):
                self.load(chunk)
                del chunk  # the load holds it as long as it needs it (the next chunk's objects are built meanwhile)
            self.wait_for_load()
            self._refresh_statistics_if_due(last=True)
            strategy.finish()
        finally:
            self._loader.shutdown(wait=True)
            strategy.close()
            if self.source is not None:
                self.source.dispose()

    def read(self, watermark: str | None, after: tuple[Any, ...] | None = None) -> Iterator[RawChunk]:
        """The source's pages after ``watermark`` (and the order key ``after``), read in this process."""
        assert self.source is not None
        return read_chunks(self.source, self.cfg, watermark, after=after)

    def load(self, chunk: Chunk) -> None:
        """Start loading ``chunk`` once the previous load committed."""
        self.wait_for_load()
        assert self._loader is not None
        self._in_flight = (self._loader.submit(self._load, chunk), chunk)

    def _load(self, chunk: Chunk) -> Counts:
        assert self.result is not None
        with self.engine.begin() as conn:
            counts = load_batch(conn, self.result.run_id, chunk.batch, now=self.now)
            if chunk.seen_rows is not None:
                record_snapshot(conn, self.dept.code, self.dataset, self.result.run_id, chunk.seen_rows)
        return counts

    def wait_for_load(self) -> None:
        """Wait for the chunk in flight (re-raising its error) and account for it."""
        if self._in_flight is None:
            return
        future, chunk = self._in_flight
        self._in_flight = None
        counts = future.result()
        result = self.result
        assert result is not None
        self._written += counts.inserted + counts.updated + counts.quarantined
        self._refresh_statistics_if_due()
        result.counts.add(counts)
        result.chunks += 1
        result.watermark_to = chunk.batch.cursor_to
        log.info("ingest %s chunk %d: %s (watermark %s)", self.label, result.chunks, counts.as_dict(), chunk.batch.cursor_to)
        if self.on_chunk:
            self.on_chunk(result)

    def _settle(self, exc: BaseException) -> BaseException:
        """The run's error: the in-flight load's own error when it fails too, else ``exc``; masked in the
        exception itself, so the CLI's traceback and Airflow's task log show it masked too (engines hide bound
        parameters, but a driver's detail text, PostgreSQL's "CONTEXT: COPY …: <value>", may quote a value)."""
        error = exc
        if self._in_flight is not None:
            try:
                self.wait_for_load()
            except BaseException as load_exc:  # noqa: BLE001 - returned and raised in place of the later error
                error = load_exc
        mask_exception(error)
        return error

    def _refresh_statistics_if_due(self, *, last: bool = False) -> None:
        # The quarantine only: its look-ups have two candidate indexes and went wrong without statistics.
        # Every other look-up of the loader and the push has one matching unique index, which PostgreSQL
        # takes without statistics; ANALYZE of the big record and history tables cost seconds a call
        # (1M rows: 80.6 s analyzing all four tables, 71.4 s the quarantine only; autovacuum covers them).
        due = max(ANALYZE_AFTER_ROWS, 2 * self._analyzed)
        written = self._written
        if written >= due or (last and written >= ANALYZE_AFTER_ROWS and written > self._analyzed):
            try:
                if refresh_statistics(self.engine, [quarantine]):
                    log.info("ingest %s: planner statistics refreshed after %d rows", self.label, written)
            except Exception as exc:  # noqa: BLE001 - statistics are an optimisation; the next load reports a real outage
                log.warning("ingest %s: ANALYZE failed (%s)", self.label, type(exc).__name__)
            self._analyzed = written


def _masked(exc: BaseException) -> str:
    return mask_text(f"{type(exc).__name__}: {exc}") or ""


# --- preparers: pages → prepared chunks, in order -----------------------------------------------------


class Preparer:
    """Turns the connector's pages into prepared chunks, in order."""

    def prepared(self, raws: Iterable[RawChunk]) -> Iterator[Chunk]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the preparer holds (a worker process)."""


class InProcess(Preparer):
    """Every chunk prepared in the run's own process."""

    def __init__(self, run: IngestRun) -> None:
        self.run = run

    def prepared(self, raws: Iterable[RawChunk]) -> Iterator[Chunk]:
        for raw in raws:
            yield self.run.prepare_here(raw)


class WorkerAfter(Preparer):
    """Chunks prepared here until ``threshold`` rows were read and a page came full (a large run: more will
    follow); then a worker process (:class:`PrepareProcess`) reads the following pages from the department
    database itself and prepares them, so that no page crosses between the processes, while this process
    loads: chunk k is loaded here while the worker prepares chunk k+1 (and reads k+2 ahead).

    A worker that fails outside a chunk's own error (the OOM killer, say, or a source it cannot open) costs a
    warning: this process reads on from the last chunk it received (its watermark and order key) and prepares
    the rest itself. A chunk's own error (a mapping error, a source outage) is raised with its type.
    """

    def __init__(self, run: IngestRun, threshold: float) -> None:
        self.run, self.threshold = run, threshold
        self.worker: PrepareProcess | None = None

    def prepared(self, raws: Iterable[RawChunk]) -> Iterator[Chunk]:
        run = self.run
        pages = iter(raws)
        rows = 0
        for raw in pages:
            rows += len(raw)
            full = len(raw) >= run.cfg.chunk_rows
            ready = run.prepare_here(raw)
            del raw
            if rows >= self.threshold and full:
                self.worker = self._start(ready)
                if self.worker is not None:
                    _close(pages)  # the worker reads on from here (a page read ahead here is read again there)
                    return_free_memory()  # what preparing here used: the worker prepares from now on
                    cursor_to, after = ready.batch.cursor_to, ready.after
                    yield ready
                    del ready  # not held while the worker's chunks are loaded
                    yield from self._from_worker(cursor_to, after)
                    return
                self.threshold = _NEVER
            yield ready

    def _start(self, last: Chunk) -> PrepareProcess | None:
        """A worker reading on after ``last`` (it starts, and imports, while ``last`` is loaded)."""
        run = self.run
        try:
            worker = PrepareProcess(f"sgs-prepare-{run.dept.code}")
        except Exception as exc:  # noqa: BLE001 - a run never fails for want of a helper process
            log.warning("ingest %s: no prepare worker (%s), continuing in this process", run.label, exc)
            return None
        try:
            worker.read(run.source_settings, run.dept.code, source_policy(), run.cfg, run.dataset, run.today, run.copy_text,
                        last.batch.cursor_to, last.after)
        except PrepareFailed as exc:
            log.warning("ingest %s: prepare worker failed (%s); continuing in this process", run.label, exc)
            worker.close()
            return None
        return worker

    def _from_worker(self, cursor_to: str | None, after: tuple[Any, ...] | None) -> Iterator[Chunk]:
        """The worker's chunks, in order; after a worker failure, the rest read and prepared here."""
        worker = self.worker
        assert worker is not None
        # A reply is decoded as soon as it arrives, while the chunk before it is being loaded: decoding only after
        # that chunk committed (one chunk's objects in the run, not two) took 24 s more of a 1,000,000-row run
        # (131.6 s against 107.7 s, 416 against 439 MB: docs/performance.md), as the decode then waited for the
        # store and the store for the decode.
        while True:
            try:
                chunk = worker.result()
            except PrepareFailed as exc:
                log.warning("ingest %s: prepare worker failed (%s); continuing in this process", self.run.label, exc)
                self.close()
                yield from InProcess(self.run).prepared(self.run.read(cursor_to, after))
                return
            if chunk is None:
                return
            cursor_to, after = chunk.batch.cursor_to, chunk.after
            yield chunk
            del chunk  # the load holds it as long as it needs it

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


_NEVER = float("inf")


def _close(pages: Iterator[RawChunk]) -> None:
    """Stop a read early (its connection goes back to the pool)."""
    close = getattr(pages, "close", None)
    if close is not None:
        close()


def preparer_for(run: IngestRun) -> Preparer:
    threshold = _worker_threshold()
    return InProcess(run) if threshold is None else WorkerAfter(run, threshold)


# --- read strategies ----------------------------------------------------------------------------------


class ReadStrategy:
    """How a run reads its source: the prepared chunks of the pages read, and what follows the last one."""

    def chunks(self, raws: Iterable[RawChunk]) -> Iterator[Chunk]:
        raise NotImplementedError

    def finish(self) -> None:
        """After the last chunk committed."""

    def close(self) -> None:
        """Whether the run succeeded or not."""


class CursorRead(ReadStrategy):
    """Rows after the watermark (minus the look-back), by cursor: the preparer's chunks as they come."""

    def __init__(self, run: IngestRun, preparer: Preparer) -> None:
        self.run, self.preparer = run, preparer

    def chunks(self, raws: Iterable[RawChunk]) -> Iterator[Chunk]:
        return self.preparer.prepared(raws)

    def close(self) -> None:
        self.preparer.close()


class SnapshotRead(ReadStrategy):
    """The whole table, compared with what the last run saw: rows whose content is unchanged skip the stages;
    rows not seen any more were deleted at the source and are withdrawn at the end."""

    def __init__(self, run: IngestRun) -> None:
        self.run = run

    def chunks(self, raws: Iterable[RawChunk]) -> Iterator[Chunk]:
        run = self.run
        for raw in raws:
            run.wait_for_load()  # the snapshot of the previous chunk is committed before this one is compared
            with run.engine.connect() as conn:
                seen = snapshot_hashes(conn, run.dept.code, run.dataset, source_pks(raw.frame, run.cfg.primary_key))
            yield run.prepare_here(raw, seen)

    def finish(self) -> None:
        # The whole table was read: rows not seen in this run were deleted at the source.
        run = self.run
        assert run.result is not None
        with run.engine.begin() as conn:
            run.result.withdrawn = withdraw_unseen(conn, run.dept.code, run.dataset, run.result.run_id)
