"""Expiry: penalties whose publicity period has ended are withdrawn and sent upstream as D (spec §5.2).

``publicity_end`` (公示截止期, computed at load time from the decision date and the regime) is the last
day of publicity, so a record expires when ``publicity_end < today`` in Asia/Shanghai. ``today`` is a
parameter (the DAG passes its logical date), never ``now()`` inside the logic, so a re-run of a day's
DAG run withdraws the same records, and a second run finds nothing left to do.

Per department, one transaction: an ``ingest_run`` row with trigger ``expiry`` (the versions need a run id,
and the department's run list then shows the expiry), and ``store.loader.withdraw_records`` (a withdrawal
version D with its own change sequence value; the previous version into the history). Licences have no publicity period.
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from national.clock import today_shanghai
from store.db import inserted_id
from store.loader import withdraw_records
from store.runs import recorded
from store.schema import ingest_run, record_tables
from upstream import runs
from upstream.errors import masked

log = logging.getLogger("sgs.upstream")
EXPIRY_REASON = "公示期满"


def expire(engine: Engine, today: dt.date | None = None, *, trigger: str = "cli") -> dict[str, int]:
    """Withdraw every active penalty with ``publicity_end < today``; returns withdrawn records per department."""
    today = today or today_shanghai()
    table = record_tables["cf"]
    due = sa.and_(table.c.status == "active", table.c.publicity_end.is_not(None), table.c.publicity_end < today)
    run_id = runs.start(engine, "expiry", trigger)
    out: dict[str, int] = {}

    def finish(status: str, error: str | None) -> None:
        runs.finish(engine, run_id, status=status, error=error, withdrawn=sum(out.values()))
        if error:
            log.error("expiry stopped: %s", error)

    # A store error may quote the record (ID numbers): masked, in the exception too.
    with recorded(finish, mask=masked):
        with engine.connect() as conn:
            departments = list(conn.execute(sa.select(table.c.department).where(due).distinct().order_by(table.c.department)).scalars())
        for dept in departments:
            now = dt.datetime.now(dt.UTC)
            with engine.begin() as conn:
                keys = list(conn.execute(sa.select(table.c.business_key).where(due, table.c.department == dept)).scalars())
                ingest_id = inserted_id(conn.execute(
                    ingest_run.insert().values(department=dept, dataset="cf", trigger="expiry", status="success",
                                               started_at=now, finished_at=now)
                ))
                n = withdraw_records(conn, int(ingest_id), dept, "cf", keys, reason=f"{EXPIRY_REASON}（公示截止期早于 {today.isoformat()}）", now=now)
            out[dept] = n
            log.info("expiry %s: %d penalties withdrawn (publicity_end < %s)", dept, n, today)
    return out
