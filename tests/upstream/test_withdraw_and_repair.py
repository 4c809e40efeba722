"""``sgs withdraw`` (撤销) and ``sgs repair`` (信用修复) as an operator runs them: the record leaves the public
column at once, the withdrawal goes upstream, the history keeps the version shown, the source cannot publish it
again."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from pipeline.cli import app
from store.lifecycle import LifecycleError, record_repair, withdraw_decision
from store.schema import credit_repair, published_tables, record_tables, record_version
from tests.upstream.helpers import deliveries, load, penalty

runner = CliRunner()
CF = record_tables["cf"]
WSH1 = "杭市监罚〔2025〕1号"


@pytest.fixture
def cli_store(tmp_path: Path, sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("SGS_STORE_URL", str(sqlite_store.url))
    load(sqlite_store, [penalty(1), penalty(2), penalty(3)], publicity_end=["2028-03-01"] * 3)
    with sqlite_store.begin() as c:
        c.execute(CF.update().values(repair_eligible_from=dt.date(2025, 6, 1)))
    return sqlite_store


def shown(engine: Engine) -> set[str]:
    with engine.connect() as c:
        return set(c.execute(sa.select(published_tables["cf"].c.doc_no)).scalars())


def record(engine: Engine, wsh: str) -> dict[str, object]:
    with engine.connect() as c:
        return dict(c.execute(sa.select(CF).where(CF.c.cf_wsh == wsh)).one()._mapping)


def test_withdraw_takes_the_decision_out_of_the_column_and_sends_a_withdrawal(cli_store: Engine) -> None:
    assert WSH1 in shown(cli_store)
    result = runner.invoke(app, ["withdraw", "scjgj", "cf", WSH1, "--reason", "行政复议决定撤销原处罚决定"])
    assert result.exit_code == 0, result.output
    assert "已撤销 1 条记录" in result.output
    assert shown(cli_store) == {"杭市监罚〔2025〕2号", "杭市监罚〔2025〕3号"}
    r = record(cli_store, WSH1)
    assert r["status"] == "withdrawn" and r["operation"] == "D" and r["hold"] == "revoked"
    assert r["withdrawn_reason"] == "撤销：行政复议决定撤销原处罚决定"
    assert sorted(d["operation"] for d in deliveries(cli_store)) == ["D", "I", "I"]
    with cli_store.connect() as c:
        kept = c.execute(sa.select(record_version.c.version, record_version.c.operation)
                         .where(record_version.c.business_key == r["business_key"])).all()
    assert [tuple(k) for k in kept] == [(1, "I")]
    # Again: nothing to do, said so.
    again = runner.invoke(app, ["withdraw", "scjgj", "cf", WSH1, "--reason", "重复"])
    assert again.exit_code == 0 and "无需再次撤销" in again.output
    # The department sends a corrected row of the decision: a new version, still withdrawn, still not shown.
    load(cli_store, [penalty(1, CF_NR="罚款3000元")], publicity_end=["2028-03-01"])
    r2 = record(cli_store, WSH1)
    assert r2["version"] == 3 and r2["status"] == "withdrawn" and r2["hold"] == "revoked"
    assert r2["cf_nr"] == "罚款3000元" and r2["withdrawn_reason"] == "撤销：行政复议决定撤销原处罚决定"
    assert WSH1 not in shown(cli_store)


def test_withdraw_refuses_what_it_cannot_do(cli_store: Engine) -> None:
    unknown = runner.invoke(app, ["withdraw", "scjgj", "cf", "不存在〔2025〕9号", "--reason", "录入错误"])
    assert unknown.exit_code == 1 and "没有文书号为“不存在〔2025〕9号”的记录" in unknown.output
    other_dept = runner.invoke(app, ["withdraw", "jtj", "cf", WSH1, "--reason", "录入错误"])
    assert other_dept.exit_code == 1
    assert runner.invoke(app, ["withdraw", "scjgj", "cf", WSH1]).exit_code == 2  # --reason is required
    with pytest.raises(LifecycleError, match="须说明原因"):
        withdraw_decision(cli_store, "scjgj", "cf", WSH1, reason="  ")
    assert WSH1 in shown(cli_store)


def test_repair_before_the_minimum_period_is_refused_with_the_date(cli_store: Engine) -> None:
    args = ["repair", "add", "scjgj", WSH1, "--number", "杭信修〔2025〕8号", "--authority", "杭州市发展和改革委员会",
            "--today", "2025-12-01"]
    early = runner.invoke(app, [*args, "--date", "2025-05-31"])
    assert early.exit_code == 1
    assert "自 2025-06-01 起方可信用修复" in early.output
    assert WSH1 in shown(cli_store)
    future = runner.invoke(app, [*args, "--date", "2025-12-02"])
    assert future.exit_code == 1 and "晚于今天" in future.output
    ok = runner.invoke(app, [*args, "--date", "2025-06-01"])  # on the day it becomes possible
    assert ok.exit_code == 0, ok.output
    assert WSH1 not in shown(cli_store)
    r = record(cli_store, WSH1)
    assert r["status"] == "withdrawn" and r["hold"] == "repaired" and r["operation"] == "D"
    assert r["withdrawn_reason"] == "信用修复：杭州市发展和改革委员会 杭信修〔2025〕8号（2025-06-01）"
    assert sorted(d["operation"] for d in deliveries(cli_store)) == ["D", "I", "I"]
    listed = json.loads(runner.invoke(app, ["repair", "list", "--json"]).output)
    assert listed == [{"department": "scjgj", "doc_no": WSH1, "decision_number": "杭信修〔2025〕8号",
                       "decision_date": "2025-06-01", "authority": "杭州市发展和改革委员会",
                       "repair_eligible_from": "2025-06-01", "recorded_at": listed[0]["recorded_at"]}]
    table = runner.invoke(app, ["repair", "list"])
    assert table.exit_code == 0 and "scjgj" in table.output and "2025-06-01" in table.output
    twice = runner.invoke(app, [*args, "--date", "2025-06-02"])
    assert twice.exit_code == 1 and "已不在公示中" in twice.output


def test_repair_on_postgresql_too(pg_store: Engine) -> None:
    load(pg_store, [penalty(1)], publicity_end=["2028-03-01"])
    with pg_store.begin() as c:
        c.execute(CF.update().values(repair_eligible_from=dt.date(2025, 6, 1)))
    with pytest.raises(LifecycleError, match="自 2025-06-01 起方可信用修复"):
        record_repair(pg_store, "scjgj", WSH1, number="n1", date=dt.date(2025, 5, 1), authority="a", today=dt.date(2025, 12, 1))
    record_repair(pg_store, "scjgj", WSH1, number="n1", date=dt.date(2025, 7, 1), authority="a", today=dt.date(2025, 12, 1))
    assert WSH1 not in shown(pg_store)
    with pg_store.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(credit_repair)).scalar() == 1


def test_withdraw_holds_against_the_source_on_postgresql(pg_store: Engine) -> None:
    load(pg_store, [penalty(1), penalty(2)], publicity_end=["2028-03-01"] * 2)
    done = withdraw_decision(pg_store, "scjgj", "cf", f" {WSH1} ", reason="诉讼判决撤销")
    assert len(done.business_keys) == 1 and done.already == 0
    assert shown(pg_store) == {"杭市监罚〔2025〕2号"}
    load(pg_store, [penalty(1, CF_NR="罚款3000元"), penalty(2, CF_NR="罚款3000元")], publicity_end=["2028-03-01"] * 2)
    r = record(pg_store, WSH1)
    assert (r["version"], r["status"], r["hold"], r["withdrawn_reason"]) == (3, "withdrawn", "revoked", "撤销：诉讼判决撤销")
    assert record(pg_store, "杭市监罚〔2025〕2号")["status"] == "active"
    assert shown(pg_store) == {"杭市监罚〔2025〕2号"}
