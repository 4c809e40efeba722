"""Run statistics and the read-side queries used by ``sgs status`` and the reports."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.db import inserted_id
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
        run_id = inserted_id(conn.execute(
            ingest_run.insert().values(
                department=department,
                dataset=dataset,
                trigger=trigger,
                status="running",
                started_at=now,
                watermark_from=wm,
                watermark_to=wm,
            )
        ))
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
    """Per (department, dataset): records in store, open quarantine rows, watermark, the last run that
    changed the store (``last_run``), a failed or interrupted run after it (``last_failure``), and the
    latest attempt of any kind (``_latest_attempt``, for the table view; not part of the JSON state)."""
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
            runs = (
                sa.select(
                    ingest_run.c.id, ingest_run.c.status, ingest_run.c.started_at, ingest_run.c.finished_at,
                    ingest_run.c.watermark_from, ingest_run.c.watermark_to, ingest_run.c.inserted, ingest_run.c.updated,
                )
                .where(ingest_run.c.department == dept, ingest_run.c.dataset == ds)
                .order_by(ingest_run.c.id.desc())
            )
            # The last run that changed the store (loaded rows or moved the watermark): a run that found
            # nothing new leaves the status as it was, so two identical states read the same.
            last = conn.execute(
                runs.where(
                    ingest_run.c.status == "success",
                    sa.or_(
                        ingest_run.c.inserted + ingest_run.c.updated > 0,
                        sa.func.coalesce(ingest_run.c.watermark_to, "") != sa.func.coalesce(ingest_run.c.watermark_from, ""),
                    ),
                ).limit(1)
            ).mappings().one_or_none()
            if last is None:
                last = conn.execute(runs.where(ingest_run.c.status == "success").limit(1)).mappings().one_or_none()
            failure = conn.execute(
                runs.where(ingest_run.c.status.in_(["failed", "interrupted"]), ingest_run.c.id > (last["id"] if last else 0)).limit(1)
            ).mappings().one_or_none()
            latest = conn.execute(runs.limit(1)).mappings().one_or_none()
            out.append(
                {
                    "department": dept,
                    "dataset": ds,
                    "records": int(records),
                    "open_quarantine": int(open_q),
                    "watermark": json.loads(wm) if wm else None,
                    "last_run": _run(last),
                    "last_failure": _run(failure),
                    "_latest_attempt": _run(latest),
                }
            )
    return out


def _run(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"id": row["id"], "status": row["status"], "started_at": _iso(row["started_at"]), "finished_at": _iso(row["finished_at"])}


def _iso(v: dt.datetime | None) -> str | None:
    if v is None:
        return None
    if v.tzinfo is None:  # SQLite returns naive values; they were written in UTC
        v = v.replace(tzinfo=dt.UTC)
    return v.isoformat()
