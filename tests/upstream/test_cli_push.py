"""``sgs push`` and ``sgs expire`` as an operator runs them: real stand-in server, real store, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from pipeline.cli import app
from store.schema import record_tables
from tests.upstream.helpers import deliveries, load, penalty
from upstream.endpoint import connection_uri
from upstream.standin.server import StandinServer

runner = CliRunner()


@pytest.fixture
def cli_store(tmp_path: Path, sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The CLI's store is the test's SQLite store (``SGS_STORE_URL``)."""
    monkeypatch.setenv("SGS_STORE_URL", str(sqlite_store.url))
    for var in ("SGS_UPSTREAM_MODE", "SGS_UPSTREAM_CONN_ID", "SGS_UPSTREAM_EXCHANGE_DIR", "SGS_UPSTREAM_BATCH_SIZE"):
        monkeypatch.delenv(var, raising=False)
    return sqlite_store


def test_push_sends_the_outbox_and_prints_the_receipts(cli_store: Engine, province: StandinServer) -> None:
    load(cli_store, [penalty(1), penalty(2), penalty("测试3")])  # the province refuses a 文书号 marked 测试
    result = runner.invoke(app, ["push", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "省平台接收" in result.output and "省平台退回" in result.output and "sgs quarantine export" in result.output
    assert sorted(r["state"] for r in deliveries(cli_store)) == ["accepted", "accepted", "rejected"]
    again = runner.invoke(app, ["push", "--json"])
    assert again.exit_code == 0, again.output
    doc = json.loads(again.output)
    assert doc["records_sent"] == 0 and doc["outbox"] == {"accepted": 2, "rejected": 1}
    assert province.stats()["duplicate_deliveries"] == 0


def test_push_with_a_wrong_token_exits_2_and_says_it_will_not_retry(cli_store: Engine, standin: StandinServer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    load(cli_store, [penalty(1)])
    monkeypatch.setenv("AIRFLOW_CONN_SGS_PROVINCE", connection_uri(standin.base_url, "wrong-token"))
    result = runner.invoke(app, ["push"])
    assert result.exit_code == 2
    assert "重试无法解决" in result.output and "身份认证" in result.output
    assert "wrong-token" not in result.output


def test_push_that_runs_out_of_retries_exits_1_and_keeps_the_rows(cli_store: Engine, province: StandinServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    load(cli_store, [penalty(1)])
    province.set_faults(error_every=1)
    monkeypatch.setenv("SGS_UPSTREAM_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("SGS_UPSTREAM_TIMEOUT", "2")
    result = runner.invoke(app, ["push"])
    assert result.exit_code == 1, result.output
    assert "稍后会重试" in result.output
    province.set_faults()
    assert runner.invoke(app, ["push"]).exit_code == 0
    assert [r["state"] for r in deliveries(cli_store)] == ["accepted"]


def test_push_with_an_unusable_answer_names_the_batch_and_applies_the_others(cli_store: Engine, province: StandinServer) -> None:
    load(cli_store, [penalty(1), penalty(2), penalty(3)])
    province.set_faults(hostile="invalid_json", hostile_every=2)
    result = runner.invoke(app, ["push", "--batch-size", "1"])
    assert result.exit_code == 2, result.output
    # The operator's message is the last line (what precedes it is the log, which CliRunner mixes into the output).
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("错误：推送停止") and "不是 JSON" in last and "其余批次已正常处理" in last
    assert [r["state"] for r in deliveries(cli_store)] == ["accepted", "sent", "accepted"]
    province.set_faults()
    assert runner.invoke(app, ["push"]).exit_code == 0
    assert {r["state"] for r in deliveries(cli_store)} == {"accepted"}


def test_push_in_file_mode_writes_batches_and_reads_receipts(cli_store: Engine, tmp_path: Path) -> None:
    load(cli_store, [penalty(1), penalty(2)])
    exchange = tmp_path / "exchange"
    result = runner.invoke(app, ["push", "--mode", "file", "--exchange-dir", str(exchange)])
    assert result.exit_code == 0, result.output
    manifests = list((exchange / "outbound").glob("*.manifest.json"))
    assert len(manifests) == 1 and json.loads(manifests[0].read_text(encoding="utf-8"))
    # No receipt files yet: reading them changes nothing.
    assert runner.invoke(app, ["push", "--mode", "file", "--exchange-dir", str(exchange), "--receipts"]).exit_code == 0
    assert {r["state"] for r in deliveries(cli_store)} == {"sent"}


def test_push_receipts_outside_file_mode_is_refused(cli_store: Engine) -> None:
    result = runner.invoke(app, ["push", "--receipts"])
    assert result.exit_code == 2 and "文件交换模式" in result.output


def test_expire_withdraws_penalties_past_their_publicity_end(cli_store: Engine) -> None:
    load(cli_store, [penalty(1), penalty(2)], publicity_end=["2025-06-01", "2027-06-01"])
    bad = runner.invoke(app, ["expire", "--today", "2026-13-01"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    result = runner.invoke(app, ["expire", "--today", "2026-01-01"])
    assert result.exit_code == 0, result.output
    assert "公示期满撤回 1 条" in result.output
    table = record_tables["cf"]
    with cli_store.connect() as c:
        statuses = dict(c.execute(sa.select(table.c.business_key, table.c.status)).all())
    assert sorted(statuses.values()) == ["active", "withdrawn"]
    assert [r["operation"] for r in deliveries(cli_store)] == ["I", "D"]  # each record once: its current version
    assert "公示期满撤回 0 条" in runner.invoke(app, ["expire", "--today", "2026-01-01"]).output
