"""Expiry: penalties past their 公示截止期 are withdrawn and pushed as D; a second run does nothing."""

from __future__ import annotations

import datetime as dt
import traceback

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.schema import ingest_run, record_tables, upstream_run
from tests.upstream.helpers import DEPT, deliveries, fast, load, penalty
from upstream.expiry import expire
from upstream.push import push
from upstream.standin.server import StandinServer

ID_NUMBER = "330106198502031234"


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


def test_a_failed_expiry_stores_logs_and_raises_no_id_number(pg_store: Engine, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 12 item 6: the store refuses the withdrawal with an error that quotes a natural person's ID number (a
    real PostgreSQL trigger); upstream_run.error, the log and the exception the caller prints (CLI traceback,
    Airflow task log) show it masked."""
    person = penalty("自然人1", CF_XDR_LB="自然人", CF_XDR_MC="张三", CF_XDR_ZJLX="身份证", CF_XDR_ZJHM=ID_NUMBER)
    load(pg_store, [person], publicity_end=["2026-05-31"])
    with pg_store.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION '不能撤回证件号码 %% 的记录', OLD.cf_xdr_zjhm; END $$"
        )
        conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE UPDATE ON record_cf FOR EACH ROW EXECUTE FUNCTION refuse()")
    with pytest.raises(sa.exc.DBAPIError) as exc:
        expire(pg_store, dt.date(2026, 6, 2), trigger="test")
    with pg_store.connect() as conn:
        error = conn.execute(sa.select(upstream_run.c.error).where(upstream_run.c.kind == "expiry")).scalar_one()
    shown = "".join(traceback.format_exception(exc.value))
    assert "330106********1234" in error and "330106********1234" in shown
    for text in (error, shown, caplog.text):
        assert "19850203" not in text
