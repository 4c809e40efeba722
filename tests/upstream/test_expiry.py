"""Expiry: penalties past their 公示截止期 are withdrawn and pushed as D; a second run does nothing."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.schema import ingest_run, record_tables
from tests.upstream.helpers import DEPT, deliveries, fast, load, penalty
from upstream.expiry import expire
from upstream.push import push
from upstream.standin.server import StandinServer


def test_expired_penalties_are_withdrawn_and_sent_as_withdrawals(store: Engine, province: StandinServer) -> None:
    load(store, [penalty(1), penalty(2), penalty(3), penalty(4)],
         publicity_end=["2026-05-31", "2026-06-01", "2026-06-02", None])
    assert push(store, fast(), trigger="test").accepted == 4

    today = dt.date(2026, 6, 2)  # publicity_end is the last day shown: 05-31 and 06-01 are over
    assert expire(store, today, trigger="test") == {DEPT: 2}
    assert expire(store, today, trigger="test") == {}  # idempotent
    table = record_tables["cf"]
    with store.connect() as conn:
        status = dict(conn.execute(sa.select(table.c.cf_wsh, table.c.status)).all())
        reasons = set(conn.execute(sa.select(table.c.withdrawn_reason).where(table.c.status == "withdrawn")).scalars())
        triggers = list(conn.execute(sa.select(ingest_run.c.trigger).where(ingest_run.c.trigger == "expiry")).scalars())
    assert [status[penalty(i)["CF_WSH"]] for i in (1, 2, 3, 4)] == ["withdrawn", "withdrawn", "active", "active"]
    assert reasons == {"公示期满（公示截止期早于 2026-06-02）"} and triggers == ["expiry"]
    assert [r["operation"] for r in deliveries(store) if r["state"] == "pending"] == ["D", "D"]

    result = push(store, fast(), trigger="test")
    assert (result.records_sent, result.accepted) == (2, 2)
    stats = province.stats()
    assert stats["records_withdrawn"] == 2 and stats["records_live"] == 2
