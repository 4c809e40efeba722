"""Migration 0009 (issue 17): an existing store keyed by decision only is re-keyed by decision and party without
losing a version, on SQLite and PostgreSQL.

The old store is made by the real loader with the old key function (``store.rows.business_keys`` as it was
before issue 17), then taken down to 0008 (which drops ``upstream_key``) and up again."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import store.rows
from national import Dataset
from national.fields import PENALTY
from national.keys import business_key, id_digest
from store import changelog, history
from store.db import make_store_engine, migrate
from store.lifecycle import withdraw_decision
from store.schema import (
    credit_repair,
    push_batch,
    push_rejection,
    quarantine,
    record_tables,
    record_version,
    source_snapshot,
)
from tests.store.test_migrations import _to
from tests.upstream.helpers import DEPT, load, penalty
from upstream.envelope import record_guid

CF = record_tables["cf"]
USCC_A, USCC_B = "91330100MA27XYZ12A", "91330100MA27XYZ45B"


def _old_business_keys(national: pd.DataFrame, ds: Dataset) -> list[str]:
    """store.rows.business_keys before issue 17: the decision only."""
    parts = [national[c].fillna("").astype(str) for c in ds.business_key]
    key = parts[0]
    for p in parts[1:]:
        key = key + "|" + p
    return key.tolist()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        factory: Callable[[], str] = request.getfixturevalue("pg_schema_factory")
        url = factory()
    e = make_store_engine(url)
    migrate(e)
    yield e
    e.dispose()


def _joint(n: int, party: str, **values: str | None) -> dict[str, str | None]:
    """Party ``party`` (A, B: companies; C: a natural person) of the joint decision ``n``."""
    row = penalty(n, **values)
    if party == "A":
        row.update(CF_XDR_MC="某某贸易有限公司", CF_XDR_SHXYM=USCC_A)
    elif party == "B":
        row.update(CF_XDR_MC="某某物流有限公司", CF_XDR_SHXYM=USCC_B)
    else:
        row.update(CF_XDR_MC="张三", CF_XDR_LB="自然人", CF_XDR_ZJLX="身份证", CF_XDR_ZJHM="330106199001011234")
    row.update(values)
    return row


def _old_store(engine: Engine, monkeypatch: pytest.MonkeyPatch, loads: list[tuple[list[dict[str, str | None]], list[str]]]) -> None:
    """Load with the old key, then take the store down to 0008 (the schema the old key lived in)."""
    with monkeypatch.context() as m:
        m.setattr(store.rows, "business_keys", _old_business_keys)
        for rows, pks in loads:
            load(engine, rows, pks=pks)
    _to(engine, "0008_lifecycle", down=True)


def _records(engine: Engine) -> dict[str, dict[str, object]]:
    with engine.connect() as c:
        return {r["business_key"]: dict(r) for r in c.execute(sa.select(CF)).mappings()}


def _versions(engine: Engine, key: str) -> list[tuple[int, str, str | None]]:
    with engine.connect() as c:
        return [(v["version"], v["operation"], v["payload"]["CF_XDR_MC"]) for v in history.versions(c, "cf", key)]


def test_two_party_decision_merged_by_the_old_key_is_split_without_losing_a_version(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    old = f"{penalty(1)['CF_SJLYDM']}|{penalty(1)['CF_WSH']}"
    _old_store(engine, monkeypatch, [
        ([_joint(1, "A")], ["a"]),
        ([_joint(1, "B")], ["b"]),  # the old key made party B an update of party A
        ([_joint(1, "A", CF_NR_FK="0.3")], ["a"]),  # party A corrected: a third version of the one record
        ([penalty(2)], ["c"]),  # an ordinary decision
    ])
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM record_cf")).scalar() == 2
        assert c.execute(sa.text("SELECT count(*) FROM record_version")).scalar() == 2
        before_id = c.execute(sa.text("SELECT id FROM record_cf WHERE business_key = :k"), {"k": old}).scalar()
    _to(engine, "head")
    key_a, key_b = business_key(PENALTY, _joint(1, "A")), business_key(PENALTY, _joint(1, "B"))
    assert key_a == old + "|" + USCC_A and key_b == old + "|" + USCC_B
    recs = _records(engine)
    assert set(recs) == {key_a, key_b, business_key(PENALTY, penalty(2))}
    # Party A (the current version) keeps the record: its id (public page), its version numbers and the key
    # the province knows it by.
    assert recs[key_a]["id"] == before_id and recs[key_a]["upstream_key"] == old and recs[key_a]["version"] == 3
    assert _versions(engine, key_a) == [(1, "I", "某某贸易有限公司"), (3, "U", "某某贸易有限公司")]
    assert str(recs[key_a]["cf_nr_fk"]).startswith("0.3")
    # Party B: a record of its own, first version an insert, new to the province.
    assert _versions(engine, key_b) == [(1, "I", "某某物流有限公司")]
    assert recs[key_b]["upstream_key"] is None and recs[key_b]["province_op"] is None and recs[key_b]["status"] == "active"
    assert recs[key_b]["source_pk"] == json.dumps(["b"])
    # Every version is still there: 3 of the joint decision (2 + 1) and the ordinary one.
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(record_version)).scalar_one() == 1
        states = {s["business_key"]: s for s in changelog.delivery_states(c, "cf")}
    assert states[key_b]["state"] == "pending"
    # The province keeps receiving the record A under the GUID and idempotency keys it knew.
    assert states[key_a]["idempotency_key"] == changelog.idempotency_key("cf", old, 3)
    # A new row of party B is now an update of B's own record, and A's next version stays A's.
    load(engine, [_joint(1, "B", CF_NR_FK="0.5")], pks=["b"])
    load(engine, [_joint(1, "A", CF_NR_FK="0.4")], pks=["a"])
    recs = _records(engine)
    assert len(recs) == 3 and recs[key_b]["version"] == 2 and recs[key_a]["version"] == 4
    assert recs[key_a]["upstream_key"] == old
    assert record_guid("cf", changelog.province_key(key_a, old)) == record_guid("cf", old)


def test_three_parties_one_of_them_a_natural_person(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _old_store(engine, monkeypatch, [([_joint(7, "A"), _joint(7, "B"), _joint(7, "C")], ["a", "b", "c"])])
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM record_cf")).scalar() == 1  # the old key: one record, 3 versions
        assert c.execute(sa.text("SELECT count(*) FROM record_version")).scalar() == 2
    _to(engine, "head")
    recs = _records(engine)
    keys = {business_key(PENALTY, _joint(7, p)) for p in "ABC"}
    assert set(recs) == keys
    person = business_key(PENALTY, _joint(7, "C"))
    assert person.endswith("|" + id_digest("330106199001011234")) and "330106199001011234" not in person
    assert {recs[k]["cf_xdr_mc"] for k in keys} == {"某某贸易有限公司", "某某物流有限公司", "张三"}
    # C (the current version) keeps the record and its version number 3; A and B (versions 1 and 2) split off
    # as records with one version each.
    assert sorted(r["version"] for r in recs.values()) == [1, 1, 3]
    assert recs[person]["upstream_key"] == f"{penalty(7)['CF_SJLYDM']}|{penalty(7)['CF_WSH']}"
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(record_version)).scalar_one() == 0
    # Loading the same three rows again changes nothing: each party finds its own record.
    load(engine, [_joint(7, "A"), _joint(7, "B"), _joint(7, "C")], pks=["a", "b", "c"])
    assert {k: r["version"] for k, r in _records(engine).items()} == {k: r["version"] for k, r in recs.items()}


def test_fullwidth_document_number_keeps_one_record_and_references_follow(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    full = "杭市监罚〔２０２５〕３号"
    half = "杭市监罚〔2025〕3号"
    _old_store(engine, monkeypatch, [
        ([penalty(3, CF_WSH=full)], ["f"]),  # stored before the transforms normalised 文书号
        ([penalty(3, CF_WSH=half, CF_NR_FK="0.3")], ["f"]),  # read again after: the old key differs, a second record
        ([penalty(4, CF_WSH=" 杭市监罚〔２０２５〕４号")], ["g"]),
    ])
    old_full, old_half = f"{penalty(3)['CF_SJLYDM']}|{full}", f"{penalty(3)['CF_SJLYDM']}|{half}"
    now = "2026-12-01 08:00:00"
    with engine.begin() as c:
        assert c.execute(sa.text("SELECT count(*) FROM record_cf")).scalar() == 3
        # References by the old keys: a rejection, a batch waiting for a receipt, a quarantine entry, the snapshot
        # and a credit repair.
        c.execute(sa.text("INSERT INTO push_rejection (dataset, business_key, version, operation, batch_id, code, message, created_at)"
                          " VALUES ('cf', :k, 1, 'I', 'b1', 'PROV-1', 'x', :t)"), {"k": old_full, "t": now})
        c.execute(sa.text("INSERT INTO push_batch (batch_id, dataset, run_id, state, seq_from, seq_to, items, records, sent_at)"
                          " VALUES ('b2', 'cf', 1, 'sent', 0, 9, :i, 1, :t)"),
                  {"i": json.dumps([[old_half, 1, "I"]], ensure_ascii=False), "t": now})
        bad = penalty(5, CF_WSH="杭市监罚〔２０２５〕５号", CF_XDR_SHXYM="ｂａｄ")
        c.execute(sa.text("INSERT INTO quarantine (department, dataset, source_pk, business_key, raw_hash, raw, national, issues, rule_ids,"
                          " status, first_seen_at, last_seen_at, first_run_id, last_run_id) VALUES (:d, 'cf', '[\"q\"]', :k, 'h', '{}', :n,"
                          " '[]', 'X', 'open', :t, :t, 1, 1)"),
                  {"d": DEPT, "k": f"{bad['CF_SJLYDM']}|{bad['CF_WSH']}", "n": json.dumps(bad, ensure_ascii=False), "t": now})
        c.execute(sa.text("INSERT INTO source_snapshot (department, dataset, source_pk, row_hash, business_key, seen_run_id)"
                          " VALUES (:d, 'cf', :p, 'h', :k, 1)"), {"d": DEPT, "p": json.dumps(["g"]), "k": "old"})
        c.execute(sa.text("INSERT INTO credit_repair (department, business_key, doc_no, decision_number, decision_date, authority, recorded_at, run_id)"
                          " VALUES (:d, :k, :w, 'R1', '2026-01-01', 'X', :t, 1)"), {"d": DEPT, "k": old_half, "w": half, "t": now})
    _to(engine, "head")
    recs = _records(engine)
    key3 = business_key(PENALTY, penalty(3, CF_WSH=half))
    key4 = business_key(PENALTY, penalty(4, CF_WSH="杭市监罚〔2025〕4号"))
    assert set(recs) == {key3, key4}  # one record for 文书号 3, stored half-width
    assert recs[key3]["cf_wsh"] == half and recs[key3]["version"] == 2 and recs[key3]["upstream_key"] == old_half
    assert _versions(engine, key3) == [(1, "I", "某某贸易有限公司3"), (2, "U", "某某贸易有限公司3")]
    with engine.connect() as c:
        assert c.execute(sa.select(push_rejection.c.business_key, push_rejection.c.version)).all() == [(key3, 1)]
        items = json.loads(c.execute(sa.select(push_batch.c["items"])).scalar_one())
        assert items == [[key3, 2, "I", old_half]]  # the version moved (2 now); the GUID stays the half-width record's
        assert c.execute(sa.select(quarantine.c.business_key)).scalar_one() == business_key(PENALTY, bad)
        assert c.execute(sa.select(source_snapshot.c.business_key)).scalar_one() == key4
        assert c.execute(sa.select(credit_repair.c.business_key)).scalar_one() == key3
    # The half-width row read again is the same record, unchanged.
    load(engine, [penalty(3, CF_WSH=half, CF_NR_FK="0.3")], pks=["f"])
    assert _records(engine)[key3]["version"] == 2


def test_joint_decision_loads_as_one_record_per_party_and_withdraws_together(engine: Engine) -> None:
    load(engine, [_joint(9, "A"), _joint(9, "B")], pks=["a", "b"])
    load(engine, [_joint(9, "A"), _joint(9, "B"), _joint(9, "C")], pks=["a", "b", "c"])
    recs = _records(engine)
    assert len(recs) == 3 and all(r["version"] == 1 and r["operation"] == "I" for r in recs.values())
    done = withdraw_decision(engine, DEPT, "cf", penalty(9)["CF_WSH"] or "", reason="录入错误")
    assert len(done.business_keys) == 3
    assert {r["status"] for r in _records(engine).values()} == {"withdrawn"}


def test_downgrade_refuses_to_merge_the_parties_of_a_joint_decision(engine: Engine) -> None:
    load(engine, [_joint(11, "A"), _joint(11, "B")], pks=["a", "b"])
    with pytest.raises(RuntimeError, match="several parties"):
        _to(engine, "0008_lifecycle", down=True)
    assert len(_records(engine)) == 2


def test_split_and_merge_together_never_lower_the_kept_records_version(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    full, half = "杭市监罚〔２０２５〕８号", "杭市监罚〔2025〕8号"
    _old_store(engine, monkeypatch, [
        ([_joint(8, "A", CF_WSH=full)], ["x"]),  # party A, stored full-width: its own old key
        ([_joint(8, "B", CF_WSH=half)], ["b"]),  # the half-width old key: v1 B, v2 A, v3 B, v4 A (merged)
        ([_joint(8, "A", CF_WSH=half)], ["a"]),
        ([_joint(8, "B", CF_WSH=half, CF_NR_FK="0.3")], ["b"]),
        ([_joint(8, "A", CF_WSH=half, CF_NR_FK="0.4")], ["a"]),
    ])
    old_half = f"{penalty(8)['CF_SJLYDM']}|{half}"
    _to(engine, "head")
    key_a, key_b = business_key(PENALTY, _joint(8, "A", CF_WSH=half)), business_key(PENALTY, _joint(8, "B", CF_WSH=half))
    recs = _records(engine)
    assert set(recs) == {key_a, key_b}
    # A: the full-width record's version and the half-width record's A versions, numbered up to the 4 the
    # province may have seen under the half-width key's GUID (never below).
    assert recs[key_a]["upstream_key"] == old_half and recs[key_a]["version"] == 4
    assert [(v, op) for v, op, _ in _versions(engine, key_a)] == [(2, "I"), (3, "U"), (4, "U")]
    assert str(recs[key_a]["cf_nr_fk"]).startswith("0.4")
    # B: split off, its two versions renumbered, its latest content current.
    assert recs[key_b]["upstream_key"] is None
    assert [(v, op) for v, op, _ in _versions(engine, key_b)] == [(1, "I"), (2, "U")]
    assert str(recs[key_b]["cf_nr_fk"]).startswith("0.3")
