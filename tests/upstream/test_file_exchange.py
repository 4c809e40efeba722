"""File exchange mode: batch files in the national template + manifest out, receipt files back in."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from store.queries import open_quarantine
from tests.upstream.helpers import DEPT, fast, load, outbox_rows, penalty
from upstream.envelope import FILE_ENCODING
from upstream.files import export_batches, read_receipts
from upstream.push import push
from upstream.standin.files import BatchFileError, process_outbound


def test_file_round_trip(store: Engine, tmp_path: Path) -> None:
    exchange = tmp_path / "exchange"
    load(store, [penalty(i) for i in range(7)] + [penalty("作废3")])
    settings = fast(mode="file", exchange_dir=exchange, batch_size=5)
    result = push(store, settings, trigger="test")  # mode=file dispatches to export_batches
    assert (result.batches, result.records_sent) == (2, 8)
    assert {r["state"] for r in outbox_rows(store)} == {"sent"}

    manifests = sorted((exchange / "outbound").glob("*.manifest.json"))
    assert len(manifests) == 2
    doc = json.loads(manifests[0].read_text(encoding="utf-8"))
    data_file = exchange / "outbound" / doc["files"][0]["name"]
    assert doc["records"] == 5 and doc["operations"] == {"I": 5} and doc["dataset"] == "cf"
    assert hashlib.sha256(data_file.read_bytes()).hexdigest() == doc["files"][0]["sha256"]
    with data_file.open(encoding=FILE_ENCODING, newline="") as fh:
        header = next(csv.reader(fh))
    assert header[:5] == ["记录标识", "幂等键", "版本号", "操作类型", "源系统时间戳"]
    assert "行政处罚决定书文号" in header and "数据来源单位统一社会信用代码" in header

    assert export_batches(store, settings, trigger="test").records_sent == 0  # sent rows wait for receipts

    assert process_outbound(exchange, tmp_path / "province.db") == {"batches": 2, "records": 8}
    receipts = read_receipts(store, settings, trigger="test")
    assert (receipts.accepted, receipts.rejected) == (7, 1)
    assert sorted(r["state"] for r in outbox_rows(store)).count("accepted") == 7
    assert [e["rule_ids"] for e in open_quarantine(store, DEPT)] == ["PROV-103"]
    assert len(list((exchange / "inbound" / "processed").glob("*.receipt.csv"))) == 2

    # A receipt file delivered twice changes nothing.
    for p in (exchange / "inbound" / "processed").glob("*.receipt.csv"):
        (exchange / "inbound" / p.name).write_bytes(p.read_bytes())
    again = read_receipts(store, settings, trigger="test")
    assert (again.accepted, again.rejected) == (0, 0)


def test_a_tampered_batch_file_is_refused_by_its_manifest(sqlite_store: Engine, tmp_path: Path) -> None:
    exchange = tmp_path / "exchange"
    load(sqlite_store, [penalty(1), penalty(2)])
    export_batches(sqlite_store, fast(mode="file", exchange_dir=exchange, header="code"), trigger="test")
    data_file = next((exchange / "outbound").glob("*.csv"))
    with data_file.open(encoding=FILE_ENCODING, newline="") as fh:
        assert next(csv.reader(fh))[5:7] == ["CF_XDR_MC", "CF_XDR_LB"]
    data_file.write_bytes(data_file.read_bytes().replace(b"0.2", b"2.0"))
    with pytest.raises(BatchFileError, match="SHA-256"):
        process_outbound(exchange, tmp_path / "province.db")
