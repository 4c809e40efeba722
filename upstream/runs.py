"""Statistics of push and expiry runs (table ``upstream_run``, :class:`PushResult` for one HTTP or file-exchange
run), and the lease that keeps pushes single-file.

Two pushes at once could send version N+1 of a record while the other still waits for N's receipt, so a
push takes a lease: it refuses to start while another ``running`` push has beaten its heartbeat within
``lease_seconds`` (``SGS_UPSTREAM_LEASE_SECONDS``, default 60), and marks a silent one ``interrupted`` (its
``sent`` rows are resent by key). A running push beats its heartbeat from a thread every third of the lease
(:func:`heartbeat`), also while it waits for a slow province, so a live push is never taken for dead and a dead
one (SIGKILL, a lost machine) frees the lease within ``lease_seconds``. Taking the lease is serialised in the
store (:meth:`store.dialect.StoreDialect.serialize`), so two pushes started at the same moment cannot both take it.
The Airflow DAG also has ``max_active_runs=1``; the lease covers ``sgs push`` run by hand beside it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store import dialect
from store.db import inserted_id
from store.schema import upstream_run
from upstream.envelope import MAX_PROBLEMS
from upstream.errors import PushLocked

COUNTERS = ("batches", "records_sent", "accepted", "rejected", "not_sent", "no_receipt", "retries", "duplicate_receipts", "withdrawn")
LEASED_KINDS = ("http", "file-out", "file-in")
#: The key under which taking the lease is serialised ("SGSLEASE").
LEASE_LOCK_KEY = 0x5347_534C_4541
log = logging.getLogger("sgs.upstream")


@dataclass
class PushResult:
    """What one push run did (small: it travels through XCom)."""

    run_id: int
    mode: str
    status: str = "running"
    batches: int = 0
    records_sent: int = 0
    accepted: int = 0
    rejected: int = 0
    not_sent: int = 0
    no_receipt: int = 0
    retries: int = 0
    duplicate_receipts: int = 0
    bad_answers: int = 0  # batches (HTTP answers, receipt files) with no usable receipt
    error: str | None = None
    problems: list[str] = field(default_factory=list)  # the first few unusable answers/receipts, Chinese
    outbox: dict[str, int] = field(default_factory=dict)

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text[:400])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def counters(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in COUNTERS if hasattr(self, k)}


def _utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def start(engine: Engine, kind: str, trigger: str, *, lease_seconds: int | None = None) -> int:
    """Open a run; with ``lease_seconds``, first take the push lease (or raise :class:`PushLocked`)."""
    with engine.begin() as conn:
        now = dt.datetime.now(dt.UTC)
        if lease_seconds is not None:
            # Two pushes started at the same moment must not both find the lease free: the check and the new
            # run's row are one transaction, serialised on the lease's key (store.dialect).
            dialect.of(conn).serialize(conn, LEASE_LOCK_KEY, upstream_run)
            now = dt.datetime.now(dt.UTC)  # after the wait: a holder that just beat its heartbeat is seen alive
            running = conn.execute(
                sa.select(upstream_run.c.id, upstream_run.c.heartbeat_at, upstream_run.c.kind).where(
                    upstream_run.c.status == "running", upstream_run.c.kind.in_(LEASED_KINDS)
                )
            ).all()
            for r in running:
                if now - _utc(r.heartbeat_at) < dt.timedelta(seconds=lease_seconds):
                    raise PushLocked(
                        f"另一个推送（运行编号 {r.id}，{r.kind}）正在进行：为保证同一记录的版本按序送达，本次推送不启动。"
                        f"如确认该进程已终止，请在 {lease_seconds} 秒无心跳后重试"
                    )
                conn.execute(
                    upstream_run.update()
                    .where(upstream_run.c.id == r.id)
                    .values(status="interrupted", finished_at=now, error="推送进程无心跳，视为已终止；已发出未获回执的数据将按幂等键重发")
                )
        run_id = inserted_id(conn.execute(
            upstream_run.insert().values(kind=kind, trigger=trigger, status="running", started_at=now, heartbeat_at=now)
        ))
    return int(run_id)


def add(engine: Engine, run_id: int, **counts: int) -> None:
    """Add to the run's counters and beat its heartbeat."""
    values: dict[str, Any] = {k: getattr(upstream_run.c, k) + int(v) for k, v in counts.items() if v}
    with engine.begin() as conn:
        conn.execute(upstream_run.update().where(upstream_run.c.id == run_id).values(heartbeat_at=dt.datetime.now(dt.UTC), **values))


def finish(engine: Engine, run_id: int, *, status: str, error: str | None = None, **values: int) -> dict[str, Any]:
    with engine.begin() as conn:
        now = dt.datetime.now(dt.UTC)
        conn.execute(
            upstream_run.update()
            .where(upstream_run.c.id == run_id)
            .values(status=status, error=error, finished_at=now, heartbeat_at=now, **values)
        )
        return dict(conn.execute(sa.select(upstream_run).where(upstream_run.c.id == run_id)).mappings().one())


@contextmanager
def heartbeat(engine: Engine, run_id: int, lease_seconds: int) -> Iterator[None]:
    """Beat run ``run_id``'s heartbeat every third of the lease while the block runs (in a thread: a request
    to a slow province, or its back-off, must not let the lease lapse). A failed beat (the store briefly away)
    is logged and tried again at the next tick; the block's own store writes report a real outage."""
    stop = threading.Event()
    every = max(1.0, lease_seconds / 3)

    def beat() -> None:
        while not stop.wait(every):
            try:
                with engine.begin() as conn:
                    conn.execute(upstream_run.update().where(upstream_run.c.id == run_id, upstream_run.c.status == "running")
                                 .values(heartbeat_at=dt.datetime.now(dt.UTC)))
            except sa.exc.SQLAlchemyError as exc:
                log.warning("push run %s: heartbeat not written (%s)", run_id, type(exc).__name__)

    thread = threading.Thread(target=beat, name=f"sgs-push-heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
