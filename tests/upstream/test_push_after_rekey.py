"""The province after migration 0009 (issue 17): a joint decision the old key had merged into one record.

The province held one record (the old key's GUID) with the last party's content. After the re-keying that party
keeps the record and the GUID (``upstream_key``), the other party goes out as a new record, and later versions
of both are accepted in order (no PROV-104 "unknown record", no PROV-105 "version not newer")."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from national.fields import PENALTY
from national.keys import business_key
from store import rows as store_rows
from store.schema import record_tables
from tests.store.test_migration_0009 import _joint, _old_business_keys
from tests.store.test_migrations import _to
from tests.upstream.helpers import deliveries, fast, load, penalty
from upstream.envelope import record_guid
from upstream.push import push
from upstream.standin.server import StandinServer


def _sqlite_of(server: StandinServer):  # type: ignore[no-untyped-def]
    import sqlite3
    from contextlib import closing

    return closing(sqlite3.connect(server.db_path))


def test_joint_decision_split_by_the_migration_reaches_the_province_as_two_records(
    store: Engine, province: StandinServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = f"{penalty(1)['CF_SJLYDM']}|{penalty(1)['CF_WSH']}"
    with monkeypatch.context() as m:
        m.setattr(store_rows, "business_keys", _old_business_keys)
        load(store, [_joint(1, "A"), _joint(1, "B")], pks=["a", "b"])  # one record, v1 party A, v2 party B
        assert push(store, fast(), trigger="test").accepted == 1  # the latest state only: v2, as an insert
    _to(store, "0008_lifecycle", down=True)
    _to(store, "head")
    key_a, key_b = business_key(PENALTY, _joint(1, "A")), business_key(PENALTY, _joint(1, "B"))
    states = {d["business_key"]: d["state"] for d in deliveries(store)}
    assert states == {key_b: "accepted", key_a: "pending"}  # B kept the record the province holds
    result = push(store, fast(), trigger="test")
    assert (result.accepted, result.rejected) == (1, 0)
    with _sqlite_of(province) as db:
        held = dict(db.execute("SELECT record_id, version FROM records").fetchall())
        names = {r: d for r, d in db.execute("SELECT record_id, json_extract(data, '$.CF_XDR_MC') FROM records")}
    assert held == {record_guid("cf", old): 2, record_guid("cf", key_a): 1}
    assert names[record_guid("cf", old)] == "某某物流有限公司" and names[record_guid("cf", key_a)] == "某某贸易有限公司"
    # Later corrections of both parties: updates of their own records upstream.
    load(store, [_joint(1, "A", CF_NR_FK="0.3"), _joint(1, "B", CF_NR_FK="0.4")], pks=["a", "b"])
    result = push(store, fast(), trigger="test")
    assert (result.accepted, result.rejected) == (2, 0)
    stats = province.stats()
    assert stats["records_live"] == 2 and stats["out_of_order"] == 0
    with store.connect() as c:
        t = record_tables["cf"]
        assert dict(c.execute(sa.select(t.c.business_key, t.c.province_version)).all()) == {key_a: 2, key_b: 3}
