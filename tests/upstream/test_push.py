"""Push over HTTP against the real stand-in: receipts, rejections into 问题数据, auth, contract, lease."""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy.engine import Engine

from national.fields import PENALTY
from national.keys import business_key
from reports.feedback import export_feedback
from store.queries import open_quarantine
from store.schema import push_batch, push_rejection, quarantine, upstream_run
from tests.upstream.helpers import DEPT, deliveries, fast, load, penalty
from upstream import envelope, runs
from upstream.endpoint import Endpoint, connection_uri
from upstream.errors import AuthError, ContractError, PushLocked, RetriesExhausted
from upstream.push import push
from upstream.standin.server import StandinServer


def test_push_records_a_receipt_for_every_record(store: Engine, province: StandinServer) -> None:
    load(store, [penalty(i) for i in range(12)] + [penalty("测试1")])
    result = push(store, fast(), trigger="test")
    assert (result.status, result.records_sent, result.accepted, result.rejected) == ("success", 13, 12, 1)
    assert result.batches == 3 and result.no_receipt == 0
    rows = deliveries(store)
    assert {r["state"] for r in rows} == {"accepted", "rejected"}
    with store.connect() as conn:  # receipts per batch; one row per rejected record only
        batches = conn.execute(sa.select(push_batch)).mappings().all()
        rejections = conn.execute(sa.select(push_rejection)).mappings().all()
    assert [(b["state"], b["attempts"], b["records"], b["items"]) for b in batches] == [("answered", 1, 5, "[]")] * 2 + [("answered", 1, 3, "[]")]
    assert sum(b["accepted"] for b in batches) == 12 and sum(b["rejected"] for b in batches) == 1
    assert len(rejections) == 1 and rejections[0]["code"] == "PROV-103" and "测试" in rejections[0]["message"]
    rejected = next(r for r in rows if r["state"] == "rejected")
    assert rejected["receipt_code"] == "PROV-103" and rejected["business_key"] == rejections[0]["business_key"]
    stats = province.stats()
    assert stats["applied_keys"] == 13 and stats["applied_twice"] == 0 and stats["duplicate_deliveries"] == 0

    again = push(store, fast(), trigger="test")  # nothing pending: nothing sent
    assert again.records_sent == 0 and province.stats()["deliveries"] == 13
    with store.connect() as conn:
        run = conn.execute(sa.select(upstream_run).where(upstream_run.c.id == result.run_id)).mappings().one()
    assert (run["status"], run["records_sent"], run["accepted"], run["rejected"], run["batches"]) == ("success", 13, 12, 1, 3)


def test_rejected_record_appears_in_the_feedback_export_with_the_provinces_reason(
    store: Engine, province: StandinServer, tmp_path: Path
) -> None:
    load(store, [penalty(1), penalty("测试2"), penalty(3, CF_JDRQ="2099-01-01")])
    push(store, fast(), trigger="test")
    entries = list(open_quarantine(store, DEPT))
    assert sorted(e["rule_ids"] for e in entries) == ["PROV-102", "PROV-103"]
    by_rule = {e["rule_ids"]: e for e in entries}
    assert by_rule["PROV-102"]["issues"][0]["field"] == "CF_JDRQ"
    assert by_rule["PROV-103"]["issues"][0]["message"].startswith("省平台退回：")

    out = tmp_path / "问题数据.xlsx"
    counts = export_feedback(list(open_quarantine(store, DEPT)), "某市市场监督管理局", out)
    assert counts == {"cf": 2}
    ws = load_workbook(out).worksheets[0]
    text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    assert "省平台退回" in text and "PROV-103" in text and "测试或作废标记" in text and "晚于省平台接收日期" in text


def test_a_corrected_version_goes_out_as_insert_after_a_rejected_one(store: Engine, province: StandinServer) -> None:
    load(store, [penalty(1, CF_JDRQ="2099-01-01")], pks=["a"])
    push(store, fast(), trigger="test")
    load(store, [penalty(1, CF_JDRQ="2025-01-01")], pks=["a"])  # the clerk fixed the date: version 2, operation U
    result = push(store, fast(), trigger="test")
    assert result.accepted == 1
    with sqlite_of(province) as db:
        applied = db.execute("SELECT version, operation, status FROM applications ORDER BY seq").fetchall()
    # The province never had version 1, so version 2 reaches it as an insert, not an update.
    assert applied == [(1, "I", "rejected"), (2, "I", "accepted")]


def test_a_record_changed_several_times_between_pushes_goes_out_once_as_its_latest_state(store: Engine, province: StandinServer) -> None:
    load(store, [penalty(1), penalty(2), penalty(3)], pks=["a", "b", "c"])
    assert push(store, fast(batch_size=50), trigger="test").accepted == 3
    # Three more versions of one record before the next push: two corrections and a withdrawal.
    load(store, [penalty(1, CF_NR_FK="0.3")], pks=["a"])
    load(store, [penalty(1, CF_NR_FK="0.4")], pks=["a"])
    from store.loader import withdraw_records
    from store.runs import start_run

    key = business_key(PENALTY, penalty(1))
    run, _ = start_run(store, DEPT, "cf", "test")
    with store.begin() as conn:
        assert withdraw_records(conn, run, DEPT, "cf", [key], reason="源系统中已删除") == 1
    result = push(store, fast(batch_size=50), trigger="test")
    assert (result.accepted, result.batches, result.records_sent) == (1, 1, 1)  # only the latest state: v4, D
    with sqlite_of(province) as db:
        applied = db.execute("SELECT version, operation FROM applications WHERE record_id = ? ORDER BY seq",
                             (envelope.record_guid("cf", key),)).fetchall()
    assert applied == [(1, "I"), (4, "D")]
    stats = province.stats()
    assert stats["out_of_order"] == 0 and stats["records_withdrawn"] == 1 and stats["records_live"] == 2


def test_a_records_next_version_waits_for_its_earlier_versions_receipt(sqlite_store: Engine, province: StandinServer) -> None:
    """Ordering: while version 1 waits for a receipt (the answer was lost), version 2 is not sent; the next run
    sends version 1 again (same key, the province answers with its first receipt), then version 2."""
    load(sqlite_store, [penalty(1)], pks=["a"])
    province.set_faults(error_every=1)
    with pytest.raises(RetriesExhausted):
        push(sqlite_store, fast(max_attempts=2), trigger="test")
    load(sqlite_store, [penalty(1, CF_NR_FK="0.3"), penalty(2)], pks=["a", "b"])
    province.set_faults()
    result = push(sqlite_store, fast(), trigger="test")
    assert result.accepted == 3 and result.batches == 2
    with sqlite_of(province) as db:
        applied = db.execute("SELECT version, operation FROM applications ORDER BY seq").fetchall()
    assert applied[0] == (1, "I") and sorted(applied[1:]) == [(1, "I"), (2, "U")]
    assert province.stats()["out_of_order"] == 0
    assert {r["state"] for r in deliveries(sqlite_store)} == {"accepted"}


def test_withdrawal_of_a_record_the_province_never_had_is_not_sent(store: Engine, province: StandinServer) -> None:
    load(store, [penalty("测试9")], pks=["x"])
    push(store, fast(), trigger="test")  # rejected by the province
    from store.loader import withdraw_records
    from store.runs import start_run

    run, _ = start_run(store, DEPT, "cf", "test")
    with store.begin() as conn:
        withdraw_records(conn, run, DEPT, "cf", [business_key(PENALTY, penalty("测试9"))], reason="源系统中已删除")
    result = push(store, fast(), trigger="test")
    assert (result.records_sent, result.not_sent) == (0, 1)
    assert [r["state"] for r in deliveries(store)] == ["not_sent"]
    with store.connect() as conn:  # the rejection of version 1 stays on record
        assert conn.execute(sa.select(push_rejection.c.version, push_rejection.c.code)).all() == [(1, "PROV-103")]


def test_wrong_token_stops_the_run_with_a_clear_message(store: Engine, standin: StandinServer, monkeypatch: pytest.MonkeyPatch) -> None:
    load(store, [penalty(1), penalty(2)])
    monkeypatch.setenv("AIRFLOW_CONN_SGS_PROVINCE", connection_uri(standin.base_url, "wrong-token"))
    with pytest.raises(AuthError) as exc:
        push(store, fast(), trigger="test")
    message = str(exc.value)
    assert "身份认证" in message and "sgs_province" in message and "HTTP 401" in message and "不会自动重试" in message
    assert standin.stats()["auth_failures"] == standin.stats()["http_requests"] == 1  # not retried
    assert {r["state"] for r in deliveries(store)} == {"pending"}  # the province processed nothing
    with store.connect() as conn:
        run = conn.execute(sa.select(upstream_run).order_by(upstream_run.c.id.desc())).mappings().first()
    assert run is not None and run["status"] == "failed" and "身份认证" in run["error"]


def test_hmac_signed_requests_are_accepted(sqlite_store: Engine, standin: StandinServer, monkeypatch: pytest.MonkeyPatch) -> None:
    load(sqlite_store, [penalty(1)])
    monkeypatch.setenv("AIRFLOW_CONN_SGS_PROVINCE",
                       connection_uri(standin.base_url, "hmac-secret-0123456789", auth="hmac", key_id="city-01"))
    assert push(sqlite_store, fast(), trigger="test").accepted == 1
    load(sqlite_store, [penalty(2)])
    monkeypatch.setenv("AIRFLOW_CONN_SGS_PROVINCE", connection_uri(standin.base_url, "bad-secret", auth="hmac", key_id="city-01"))
    with pytest.raises(AuthError):
        push(sqlite_store, fast(), trigger="test")


def test_a_batch_the_province_cannot_parse_is_a_contract_error_not_retried(
    sqlite_store: Engine, province: StandinServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Drifted(envelope.SgsJsonV1):
        name = "drifted"

        def encode_batch(self, batch_id, dataset, sender, records):  # type: ignore[no-untyped-def]
            doc = json.loads(super().encode_batch(batch_id, dataset, sender, records))
            doc["records"][0]["unexpected"] = 1  # a field the province does not know
            return json.dumps(doc).encode()

    monkeypatch.setitem(envelope.ADAPTERS, "drifted", Drifted())
    load(sqlite_store, [penalty(1)])
    endpoint = Endpoint(base_url=province.base_url, secret=province.token, adapter="drifted")
    with pytest.raises(ContractError, match="HTTP 422"):
        push(sqlite_store, fast(), trigger="test", endpoint=endpoint)
    assert province.stats()["http_requests"] == 1  # not retried


def test_missing_connection_names_the_environment_variable(sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SGS_NOWHERE", raising=False)
    from upstream.errors import EndpointConfigError

    with pytest.raises(EndpointConfigError, match="AIRFLOW_CONN_SGS_NOWHERE"):
        push(sqlite_store, fast(conn_id="sgs_nowhere"), trigger="test")


def test_exhausted_retries_keep_the_rows_for_the_next_run(sqlite_store: Engine, province: StandinServer) -> None:
    load(sqlite_store, [penalty(1), penalty(2)])
    province.set_faults(error_every=1)
    with pytest.raises(RetriesExhausted, match="下次推送会以相同幂等键重发") as exc:
        push(sqlite_store, fast(max_attempts=3), trigger="test")
    assert exc.value.result is not None
    assert {r["state"] for r in deliveries(sqlite_store)} == {"sent"}
    province.set_faults()
    result = push(sqlite_store, fast(), trigger="test")
    assert result.accepted == 2
    assert all(r["attempts"] is None and r["state"] == "accepted" for r in deliveries(sqlite_store))
    with sqlite_store.connect() as conn:  # the same batch went out again: attempt 2
        assert conn.execute(sa.select(push_batch.c.attempts, push_batch.c.state)).all() == [(2, "answered")]


def test_a_second_push_waits_for_the_lease(sqlite_store: Engine) -> None:
    runs.start(sqlite_store, "http", "test", lease_seconds=900)
    with pytest.raises(PushLocked, match="另一个推送"):
        push(sqlite_store, fast(), trigger="test")


def test_rejection_joins_an_open_entry_of_our_own_rules(store: Engine, province: StandinServer) -> None:
    """One open entry per source row: the province's problem is added to the entry our rules opened."""
    load(store, [penalty("测试5")], pks=["k"])
    now = __import__("datetime").datetime.now(__import__("datetime").UTC)
    with store.begin() as conn:
        conn.execute(quarantine.insert().values(
            department=DEPT, dataset="cf", source_pk=json.dumps(["k"]), business_key=None, raw_hash=b"h", raw="{}",
            national="{}", issues=json.dumps([{"rule": "CF-REQ-NR", "field": "CF_NR", "message": "缺少处罚内容", "severity": "error"}]),
            rule_ids="CF-REQ-NR", status="open", first_seen_at=now, last_seen_at=now, first_run_id=1, last_run_id=1))
    push(store, fast(), trigger="test")
    entries = list(open_quarantine(store, DEPT))
    assert len(entries) == 1 and entries[0]["rule_ids"] == "CF-REQ-NR,PROV-103"
    assert [i["rule"] for i in entries[0]["issues"]] == ["CF-REQ-NR", "PROV-103"]


def sqlite_of(server: StandinServer):  # type: ignore[no-untyped-def]
    import sqlite3
    from contextlib import closing

    return closing(sqlite3.connect(server.db_path))


def test_an_unchanged_re_read_does_not_close_the_provinces_rejection(sqlite_store: Engine, province: StandinServer) -> None:
    load(sqlite_store, [penalty("测试8")], pks=["r"])
    push(sqlite_store, fast(), trigger="test")
    assert [e["rule_ids"] for e in open_quarantine(sqlite_store, DEPT)] == ["PROV-103"]
    load(sqlite_store, [penalty("测试8")], pks=["r"])  # the same source row read again: unchanged
    assert [e["rule_ids"] for e in open_quarantine(sqlite_store, DEPT)] == ["PROV-103"]


@pytest.mark.parametrize("mode", ["http", "file"])
def test_a_store_error_quoting_an_id_number_is_masked_everywhere(
    mode: str, pg_store: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 12 item 6: a store error that quotes a natural person's ID number (a real PostgreSQL trigger on the
    push batches) is masked in upstream_run.error, the log and the exception the caller prints (CLI, Airflow task log)."""
    number = "330106198502031234"
    load(pg_store, [penalty("自然人2", CF_XDR_LB="自然人", CF_XDR_MC="李四", CF_XDR_ZJLX="身份证", CF_XDR_ZJHM=number)])
    with pg_store.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ DECLARE z text; BEGIN "
            "SELECT cf_xdr_zjhm INTO z FROM record_cf LIMIT 1; "
            "RAISE EXCEPTION '不能发送证件号码 %% 的记录', z; END $$"
        )
        conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON push_batch FOR EACH ROW EXECUTE FUNCTION refuse()")
    settings = fast(mode=mode, exchange_dir=tmp_path / "exchange")
    with pytest.raises(sa.exc.DBAPIError) as exc:  # the batch is written before anything goes out
        push(pg_store, settings, trigger="test", endpoint=Endpoint(base_url="http://127.0.0.1:9/api", secret="t"))
    with pg_store.connect() as conn:
        error = conn.execute(sa.select(upstream_run.c.error)).scalar_one()
    shown = "".join(traceback.format_exception(exc.value))
    assert "330106********1234" in error and "330106********1234" in shown
    for text in (error, shown, caplog.text):
        assert "19850203" not in text
