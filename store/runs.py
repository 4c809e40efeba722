"""Ingest runs: their statistics, the watermark they move, and the read-side queries of ``sgs status``.

The only writer of ``ingest_run`` and ``watermark``. A run is opened and closed by :func:`run` (a context
manager: success, or failed with the masked error); each chunk's load moves the watermark and adds to the
run's counters in its own transaction (:func:`claim_watermark`, :func:`add_chunk`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.db import inserted_id
from store.schema import ingest_run, quarantine, record_tables, watermark

#: The trigger of the runs that load a file delivered to a department's inbox (方式三, ``pipeline.inbox``).
INBOX_TRIGGER = "inbox"


class WatermarkMoved(Exception):
    """Another run advanced this department's watermark while this run was loading: stop, do not overwrite."""


@dataclass
class Counts:
    """What happened to the rows of a batch (or a run)."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    warnings: int = 0

    def add(self, other: Counts) -> None:
        for k in ("read", "inserted", "updated", "unchanged", "quarantined", "warnings"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    @property
    def reconciles(self) -> bool:
        return self.read == self.inserted + self.updated + self.unchanged + self.quarantined

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("read", "inserted", "updated", "unchanged", "quarantined", "warnings")}


def read_watermark(conn: Connection, department: str, ds: str, *, lock: bool = False) -> str | None:
    stmt = sa.select(watermark.c.cursor_value).where(watermark.c.department == department, watermark.c.dataset == ds)
    if lock:
        stmt = stmt.with_for_update()
    return conn.execute(stmt).scalar_one_or_none()


def claim_watermark(conn: Connection, department: str, ds: str, cursor_from: str | None) -> str | None:
    """Lock the watermark for this chunk's transaction; raise :class:`WatermarkMoved` unless it still holds
    ``cursor_from`` (the value this run read the chunk after). Returns it."""
    current = read_watermark(conn, department, ds, lock=True)
    if current != cursor_from:
        raise WatermarkMoved(
            f"部门 {department} 的 {ds} 水位线已被另一次运行推进（{cursor_from} → {current}）：本次运行停止，请勿并发运行同一部门"
        )
    return current


def add_chunk(
    conn: Connection, run_id: int, department: str, ds: str, *, current: str | None, cursor_to: str | None,
    counts: Counts, rule_failures: dict[str, int], now: dt.datetime,
) -> None:
    """A chunk's watermark and counters, in the chunk's transaction (invariant 2: the watermark moves with the
    rows it covers)."""
    if cursor_to is not None and cursor_to != current:
        if current is None:
            conn.execute(
                watermark.insert().values(department=department, dataset=ds, cursor_value=cursor_to, updated_at=now, run_id=run_id)
            )
        else:
            conn.execute(
                watermark.update()
                .where(watermark.c.department == department, watermark.c.dataset == ds)
                .values(cursor_value=cursor_to, updated_at=now, run_id=run_id)
            )
    stored = conn.execute(sa.select(ingest_run.c.rule_failures).where(ingest_run.c.id == run_id)).scalar_one()
    failures: dict[str, int] = json.loads(stored) if stored else {}
    for rule, k in rule_failures.items():
        if k:
            failures[rule] = failures.get(rule, 0) + int(k)
    conn.execute(
        ingest_run.update()
        .where(ingest_run.c.id == run_id)
        .values(
            chunks=ingest_run.c.chunks + 1,
            rows_read=ingest_run.c.rows_read + counts.read,
            inserted=ingest_run.c.inserted + counts.inserted,
            updated=ingest_run.c.updated + counts.updated,
            unchanged=ingest_run.c.unchanged + counts.unchanged,
            quarantined=ingest_run.c.quarantined + counts.quarantined,
            warnings=ingest_run.c.warnings + counts.warnings,
            rule_failures=json.dumps(failures, ensure_ascii=False, sort_keys=True),
            watermark_to=cursor_to if cursor_to is not None else ingest_run.c.watermark_to,
        )
    )


def start_run(engine: Engine, department: str, dataset: str, trigger: str) -> tuple[int, str | None]:
    """Open a run; a run of the same department dataset left ``running`` by a killed process is
    marked ``interrupted`` (its committed chunks stay: they were complete transactions). Database reads and
    file deliveries (trigger :data:`INBOX_TRIGGER`) are separate channels: one does not end the other's runs."""
    now = dt.datetime.now(dt.UTC)
    same_channel = ingest_run.c.trigger == INBOX_TRIGGER if trigger == INBOX_TRIGGER else ingest_run.c.trigger != INBOX_TRIGGER
    with engine.begin() as conn:
        conn.execute(
            ingest_run.update()
            .where(ingest_run.c.department == department, ingest_run.c.dataset == dataset, ingest_run.c.status == "running",
                   same_channel)
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


@dataclass
class Outcome:
    """How a recorded run ended (see :func:`recorded`): ``running`` inside the block."""

    status: str = "running"
    error: str | None = None


@contextmanager
def recorded(
    finish: Callable[[str, str | None], object], *, mask: Callable[[BaseException], str], limit: int | None = 2000,
    catch: type[BaseException] = Exception,
) -> Iterator[Outcome]:
    """A block run as a recorded run (an ingest run, a push, an expiry, a file exchange): when it ends,
    ``finish("success", None)``; when it raises (``catch``), ``finish("failed", text)`` with the error's text
    from ``mask`` (masked: a store error may quote a record, ID numbers included), cut to ``limit``
    characters, and the error goes on. ``finish`` writes the run's row (``ingest_run``, ``upstream_run``). The block sees both in the :class:`Outcome` it is given."""
    outcome = Outcome()
    try:
        yield outcome
    except catch as exc:
        text = mask(exc)
        outcome.status, outcome.error = "failed", text if limit is None else text[:limit]
        finish(outcome.status, outcome.error)
        raise
    outcome.status = "success"
    finish(outcome.status, None)
