"""The public column's read model (store.published) on SQLite and PostgreSQL: after inserts, updates,
withdrawals (当前状态 无效, withdraw_records) and expiry it equals the masked active records inside their
publicity period, in the same transaction as the records."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from national import dataset
from national.clock import today_shanghai
from national.masking import ID_COLUMNS, mask_text
from store import published
from store.loader import withdraw_records
from store.schema import published_tables, record_tables
from tests.web.records import licence, load, penalty, person_penalty, published_rows
from upstream.expiry import expire

TIMES = ("first_published_at", "published_at")


def expected(engine: Engine, ds: str, today: dt.date) -> dict[int, dict[str, Any]]:
    """What the column must show, computed from the records: active, no 不予公开 reason, (penalties) publicity_end >= today,
    ID-number columns empty, a natural person's 法定代表人 fields empty, all text masked."""
    t = record_tables[ds]
    d = dataset(ds)
    p = ds.upper()
    out = {}
    with engine.connect() as c:
        for r in c.execute(sa.select(t).where(t.c.status == "active")).mappings():
            if ds == "cf" and r["publicity_end"] is not None and r["publicity_end"] < today:
                continue
            if r["not_public"]:  # 不予公开
                continue
            natural = r[f"{ds}_xdr_lb"] == "自然人"
            row: dict[str, Any] = {}
            for f in d.fields:
                v = r[f.code.lower()]
                if f.code in ID_COLUMNS or (natural and f.code in (f"{p}_FRDB", f"{p}_FR_ZJLX", f"{p}_FR_ZJHM")):
                    v = None
                row[f.code.lower()] = mask_text(v) if isinstance(v, str) else v
            row.update(id=r["id"], department=r["department"], version=r["version"],
                       publicity_end=r["publicity_end"] if ds == "cf" else None)
            out[r["id"]] = row
    return out


def assert_matches(engine: Engine, ds: str, today: dt.date | None = None) -> dict[int, dict[str, Any]]:
    want = expected(engine, ds, today or today_shanghai())
    got = published_rows(engine, ds)
    assert sorted(got) == sorted(want)
    for i, row in got.items():
        for k, v in want[i].items():
            assert row[k] == v, (i, k)
        code = ds.upper()
        assert row["party_name"] == row[f"{ds}_xdr_mc"] and row["credit_code"] == row[f"{ds}_xdr_shxym"]
        assert row["doc_no"] == row[f"{ds}_wsh"]
        assert row["authority"] == row["cf_cfjg" if code == "CF" else "xk_xkjg"]
    return got


def raw_ids(engine: Engine, ds: str) -> set[str]:
    t = record_tables[ds]
    with engine.connect() as c:
        rows = c.execute(sa.select(t.c[f"{ds}_xdr_zjhm"], t.c[f"{ds}_fr_zjhm"])).all()
    return {v for r in rows for v in r if v}


def test_read_model_follows_inserts_updates_withdrawals_and_expiry(store: Engine) -> None:
    today = today_shanghai()
    soon = (today + dt.timedelta(days=10)).isoformat()
    # 5 companies, 3 natural persons, 1 penalty whose publicity ended long ago, 1 ending in 10 days.
    recs = [penalty(i) for i in range(5)] + [person_penalty(i) for i in range(5, 8)]
    recs += [penalty(8, CF_JDRQ="2020-03-01"), penalty(9)]
    ends = [None] * 8 + ["2023-03-01", soon]
    ends = [e or (dt.date.fromisoformat(r["CF_JDRQ"]).replace(year=2029).isoformat()) for e, r in zip(ends, recs, strict=True)]
    load(store, "cf", recs, publicity_end=ends)
    load(store, "xk", [licence(i) for i in range(4)])

    cf = assert_matches(store, "cf")
    assert len(cf) == 9  # the one whose publicity ended is not shown
    assert "杭州测试0008餐饮有限公司" not in {r["party_name"] for r in cf.values()}
    assert len(assert_matches(store, "xk")) == 4
    ids = raw_ids(store, "cf") | raw_ids(store, "xk")
    assert len(ids) == 3 + 7 + 4  # persons' own, 7 companies' and 4 licensees' representatives'
    for ds in ("cf", "xk"):
        text = repr(published_rows(store, ds))
        assert not [i for i in ids if i in text], "an ID number reached the read model"
    person = next(r for r in cf.values() if r["cf_xdr_lb"] == "自然人")
    assert "********" in person["cf_sy"] and "138****5678" in person["cf_sy"] and person["cf_xdr_zjhm"] is None
    first = {i: r["first_published_at"] for i, r in cf.items()}

    # Update: a corrected penalty and a corrected person's text; first publication kept, the version shown moves.
    load(store, "cf", [penalty(1, CF_NR="罚款人民币六千元"), person_penalty(6, CF_SY="当事人张某无证经营，电话 13900001111。")],
         publicity_end=["2029-01-02", "2029-01-07"])
    cf = assert_matches(store, "cf")
    changed = {i: r for i, r in cf.items() if r["version"] == 2}
    assert sorted(r["cf_nr"] for r in changed.values()) == ["罚款人民币五千元", "罚款人民币六千元"]
    assert any(r["cf_sy"] == "当事人张某无证经营，电话 139****1111。" for r in changed.values())
    for i, r in changed.items():
        assert r["first_published_at"] == first[i] and r["published_at"] >= first[i]

    # Withdrawals: a licence turned 无效 (当前状态 2), a penalty withdrawn by withdraw_records.
    load(store, "xk", [licence(0, XK_ZT="2")])
    xk = assert_matches(store, "xk")
    assert len(xk) == 3 and "杭州许可0000科技有限公司" not in {r["party_name"] for r in xk.values()}
    t = record_tables["cf"]
    with store.connect() as c:
        key = c.execute(sa.select(t.c.business_key).where(t.c.cf_wsh == "杭市监罚〔2026〕2号")).scalar_one()
    with store.begin() as c:
        assert withdraw_records(c, 1, "scjgj", "cf", [key], reason="复议撤销") == 1
    cf = assert_matches(store, "cf")
    assert len(cf) == 8 and "杭市监罚〔2026〕2号" not in {r["doc_no"] for r in cf.values()}

    # Expiry (sgs expire --today D): the penalty whose period ends in 10 days is gone from the column at once
    # (and the one never shown is withdrawn too).
    assert expire(store, today + dt.timedelta(days=11)) == {"scjgj": 2}
    cf = assert_matches(store, "cf")
    assert len(cf) == 7 and "杭市监罚〔2026〕9号" not in {r["doc_no"] for r in cf.values()}

    # A licence coming back (当前状态 有效 again) enters the column again.
    load(store, "xk", [licence(0, XK_ZT="1")])
    assert len(assert_matches(store, "xk")) == 4

    # rebuild() (a migrated store, an operator's repair) writes the same rows.
    before = {ds: {i: {k: v for k, v in r.items() if k not in TIMES} for i, r in published_rows(store, ds).items()} for ds in ("cf", "xk")}
    with store.begin() as c:
        for pub in published_tables.values():
            c.execute(pub.delete().where(pub.c.id % 2 == 0))
        c.execute(published_tables["cf"].update().values(cf_nr="手工改动"))
        published.rebuild(c)
    after = {ds: {i: {k: v for k, v in r.items() if k not in TIMES} for i, r in published_rows(store, ds).items()} for ds in ("cf", "xk")}
    assert after == before


def test_record_and_public_row_share_one_transaction(store: Engine) -> None:
    """A chunk that fails after the loader wrote its rows leaves neither the records nor their public rows."""
    load(store, "cf", [penalty(1)])
    with pytest.raises(RuntimeError), store.begin() as c:
        t = record_tables["cf"]
        key = c.execute(sa.select(t.c.business_key)).scalar_one()
        withdraw_records(c, 1, "scjgj", "cf", [key], reason="测试")
        assert published_rows_in(c, "cf") == 0  # inside the transaction: gone
        raise RuntimeError("the chunk fails after the write")
    assert len(published_rows(store, "cf")) == 1  # rolled back together


def published_rows_in(conn: sa.Connection, ds: str) -> int:
    t = published_tables[ds]
    return conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()


def test_masking_of_codes_and_representatives() -> None:
    """public_values: a 自然人's 法定代表人 fields are dropped, ID columns always; a public credit code stays whole;
    an 18-character value that could be an ID number (a real birth date inside) is masked even in a code column."""
    rec = {f.code.lower(): None for f in dataset("cf").fields}
    rec.update(id=1, department="d", version=1, status="active", publicity_end=None, cf_xdr_lb="自然人",
               cf_xdr_mc="张三", cf_frdb="不应显示", cf_fr_zjhm="330102198001011234", cf_xdr_zjhm="330102198001011234",
               cf_wsh="X", cf_cfjg="局", cf_jdrq=dt.date(2026, 1, 1))
    v = published.public_values("cf", rec)
    assert v["cf_frdb"] is None and v["cf_fr_zjhm"] is None and v["cf_xdr_zjhm"] is None
    rec.update(cf_xdr_lb="法人及非法人组织", cf_frdb="王五", cf_xdr_shxym="11330100MB0000000N", cf_xdr_zjhm=None)
    v = published.public_values("cf", rec)
    assert v["cf_frdb"] == "王五" and v["credit_code"] == "11330100MB0000000N" and v["cf_fr_zjhm"] is None
    rec.update(cf_xdr_shxym="330102198001011234")
    assert published.public_values("cf", rec)["credit_code"] == "330102********1234"
    assert published.is_public("cf", {**rec, "publicity_end": dt.date(2026, 1, 1)}, dt.date(2026, 1, 1))
    assert not published.is_public("cf", {**rec, "publicity_end": dt.date(2026, 1, 1)}, dt.date(2026, 1, 2))
    assert not published.is_public("xk", {**rec, "status": "withdrawn"}, dt.date(2026, 1, 2))


def test_read_model_follows_revocation_repair_and_not_public(store: Engine) -> None:
    from store.lifecycle import record_repair, withdraw_decision

    today = today_shanghai()
    recs = [penalty(i) for i in range(20, 26)]
    load(store, "cf", recs, publicity_end=["2029-01-01"] * len(recs))
    load(store, "xk", [licence(i) for i in range(20, 23)])
    t = record_tables["cf"]
    with store.begin() as c:
        c.execute(t.update().values(repair_eligible_from=dt.date(2026, 4, 1)))
    assert len(assert_matches(store, "cf")) == 6
    withdraw_decision(store, "scjgj", "cf", recs[0]["CF_WSH"] or "", reason="复议撤销")
    withdraw_decision(store, "scjgj", "xk", licence(20)["XK_WSH"] or "", reason="录入错误")
    record_repair(store, "scjgj", recs[1]["CF_WSH"] or "", number="杭信修〔2026〕1号", date=dt.date(2026, 4, 1),
                  authority="杭州市发展和改革委员会", today=max(today, dt.date(2026, 4, 1)))
    assert len(assert_matches(store, "cf")) == 4
    assert len(assert_matches(store, "xk")) == 2
    # 不予公开 set on a stored record (what a department rule gives at ingest): the next refresh drops it.
    with store.begin() as c:
        key = c.execute(sa.select(t.c.business_key).where(t.c.cf_wsh == recs[2]["CF_WSH"])).scalar_one()
        c.execute(t.update().where(t.c.business_key == key).values(not_public="不予公开（处罚类别：警告）"))
        published.refresh(c, "cf", [key])
    assert len(assert_matches(store, "cf")) == 3
    with store.begin() as c:
        assert published.rebuild(c) == {"cf": 3, "xk": 2}
    assert len(assert_matches(store, "cf")) == 3



def test_chunk_path_writes_what_the_read_back_writes(store: Engine) -> None:
    """The loader writes a chunk's public rows from the chunk's own values (store.published.write_changes, masks
    computed by the preparer); refresh/rebuild read the records back and mask them. Both must give the same rows,
    also for values that need COPY escaping, masked numbers in every kind of text column, natural persons whose
    法定代表人 fields are filled, 不予公开-free records whose publicity ended, and a record updated twice in one chunk."""
    idn = "330106198502031234"
    hostile = [
        person_penalty(1, CF_FRDB="不该显示的代表人", CF_FR_ZJLX="身份证", CF_FR_ZJHM=idn,
                       CF_WFXW=f"制表符\t换行\n回车\r反斜杠\\ 号码 {idn}"),
        penalty(2, CF_XDR_MC=f"公司\t{idn}\\N", CF_NR="电话１３８１２３４５６７８ 全角", CF_YJ="\\N"),
        penalty(3, CF_WSH=f"杭罚〔2026〕{idn}号", CF_CFJG="3301 0619 8502 0312 3X 机关"),
        penalty(4, CF_JDRQ="2020-01-01"),  # publicity ended: not shown
        penalty(5, CF_SY="第一版 13900001111"), penalty(5, CF_SY="第二版 13900002222"),  # one record, twice
        person_penalty(6, CF_XDR_MC="李\x0b四"),
    ]
    ends = ["2029-01-01", "2029-01-01", "2029-01-01", "2023-01-01", "2029-01-01", "2029-01-02", "2029-01-01"]
    load(store, "cf", hostile, publicity_end=ends)
    load(store, "cf", [penalty(2, CF_NR="更正后 6222021234567890123"), penalty(3)], publicity_end=["2029-01-01"] * 2)
    chunk = {i: {k: v for k, v in r.items() if k not in TIMES} for i, r in published_rows(store, "cf").items()}
    assert len(chunk) == 6 and sorted(r["version"] for r in chunk.values()) == [1, 1, 1, 1, 2, 2]
    assert idn not in repr(chunk) and "13900002222" not in repr(chunk)
    with store.begin() as c:
        c.execute(published_tables["cf"].delete())
        published.rebuild(c)
    read_back = {i: {k: v for k, v in r.items() if k not in TIMES} for i, r in published_rows(store, "cf").items()}
    assert chunk == read_back
    assert_matches(store, "cf")
