"""Statistics of push and expiry runs (table ``upstream_run``), and the lease that keeps pushes single-file.

Two pushes at once could send version N+1 of a record while the other still waits for N's receipt, so a
push takes a lease: it refuses to start while another ``running`` push has beaten its heartbeat within
``lease_seconds``, and marks a silent one ``interrupted`` (its ``sent`` rows are resent by key).
The Airflow DAG also has ``max_active_runs=1``; the lease covers ``sgs push`` run by hand beside it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.db import inserted_id
from store.schema import upstream_run
from upstream.errors import PushLocked

COUNTERS = ("batches", "records_sent", "accepted", "rejected", "not_sent", "no_receipt", "retries", "duplicate_receipts", "withdrawn")
LEASED_KINDS = ("http", "file-out", "file-in")


def _utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def start(engine: Engine, kind: str, trigger: str, *, lease_seconds: int | None = None) -> int:
    """Open a run; with ``lease_seconds``, first take the push lease (or raise :class:`PushLocked`)."""
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        if lease_seconds is not None:
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
