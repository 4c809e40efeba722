"""Run statistics and the read-side queries used by ``sgs status`` and the reports."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.loader import read_watermark
from store.schema import ingest_run, quarantine, record_tables, watermark


def start_run(engine: Engine, department: str, dataset: str, trigger: str) -> tuple[int, str | None]:
    """Open a run; a run of the same department dataset left ``running`` by a killed process is
    marked ``interrupted`` (its committed chunks stay: they were complete transactions)."""
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            ingest_run.update()
            .where(ingest_run.c.department == department, ingest_run.c.dataset == dataset, ingest_run.c.status == "running")
            .values(status="interrupted", finished_at=now, error="进程在运行中被终止；已提交的批次保留，本次运行从水位线继续")
        )
        wm = read_watermark(conn, department, dataset)
        run_id = conn.execute(
            ingest_run.insert().values(
                department=department,
                dataset=dataset,
                trigger=trigger,
                status="running",
                started_at=now,
                watermark_from=wm,
                watermark_to=wm,
            )
        ).inserted_primary_key[0]
    return int(run_id), wm


def finish_run(engine: Engine, run_id: int, *, status: str, error: str | None = None) -> dict[str, Any]:
    with engine.begin() as conn:
        conn.execute(
            ingest_run.update()
            .where(ingest_run.c.id == run_id)
            .values(status=status, error=error, finished_at=dt.datetime.now(dt.UTC))
        )
        row = conn.execute(sa.select(ingest_run).where(ingest_run.c.id == run_id)).mappings().one()
    return dict(row)


def status(engine: Engine, departments: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Per (department, dataset): records in store, open quarantine rows, watermark, last run."""
    out: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for dept, ds in departments:
            table = record_tables[ds]
            records = conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.department == dept)).scalar_one()
            open_q = conn.execute(
                sa.select(sa.func.count())
                .select_from(quarantine)
                .where(quarantine.c.department == dept, quarantine.c.dataset == ds, quarantine.c.status == "open")
            ).scalar_one()
            wm = conn.execute(
                sa.select(watermark.c.cursor_value).where(watermark.c.department == dept, watermark.c.dataset == ds)
            ).scalar_one_or_none()
            last = (
                conn.execute(
                    sa.select(ingest_run.c.id, ingest_run.c.status, ingest_run.c.started_at, ingest_run.c.finished_at)
                    .where(ingest_run.c.department == dept, ingest_run.c.dataset == ds)
                    .order_by(ingest_run.c.id.desc())
                    .limit(1)
                )
                .mappings()
                .one_or_none()
            )
            out.append(
                {
                    "department": dept,
                    "dataset": ds,
                    "records": int(records),
                    "open_quarantine": int(open_q),
                    "watermark": wm,
                    "last_run": None
                    if last is None
                    else {
                        "id": last["id"],
                        "status": last["status"],
                        "started_at": _iso(last["started_at"]),
                        "finished_at": _iso(last["finished_at"]),
                    },
                }
            )
    return out


def _iso(v: dt.datetime | None) -> str | None:
    if v is None:
        return None
    if v.tzinfo is None:  # SQLite returns naive values; they were written in UTC
        v = v.replace(tzinfo=dt.UTC)
    return v.isoformat()
