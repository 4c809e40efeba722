"""Migration 0011_narrow_hashes: quarantine.raw_hash and source_snapshot.row_hash from 64 hex characters to 16
bytes (both stores). After the upgrade a bad row read again is the same open entry, and a snapshot row read
again is unchanged: the converted values equal what the code now computes. Down and up again keeps them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.prepare import raw_hashes
from store.db import make_store_engine, migrate
from store.quarantine import add_rejected_rows
from store.schema import quarantine
from store.snapshot import record_snapshot, snapshot_hashes
from tests.store.test_migrations import _to

RAW = json.dumps({"id": 7, "CF_XDR_MC": "阳泉市测试商贸有限公司", "note": "制表符\t"}, ensure_ascii=False)
ISSUES = [[{"rule": "COM-USCC-002", "field": "CF_XDR_SHXYM", "message": "校验码错误", "severity": "error"}]]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    factory: Callable[[], str] = request.getfixturevalue("pg_schema_factory")
    return factory()


def _reject(engine: sa.Engine, run_id: int) -> None:
    with engine.begin() as c:
        add_rejected_rows(c, "scjgj", "cf", run_id, dt.datetime.now(dt.UTC), source_pks=["[7]"], raws=[RAW],
                          keys=["K|7"], payloads=["{}"], issues=ISSUES)


def test_0010_converts_old_hex_hashes_to_what_the_code_computes(store_url: str) -> None:
    engine = make_store_engine(store_url)
    try:
        _to(engine, "0010_inbox_file")
        old_hex = hashlib.sha256(RAW.encode("utf-8")).hexdigest()  # what the code before 0010 stored
        with engine.begin() as c:
            c.execute(sa.text(
                "INSERT INTO quarantine (department, dataset, source_pk, business_key, raw_hash, raw, national, issues,"
                " rule_ids, status, first_seen_at, last_seen_at, first_run_id, last_run_id) VALUES ('scjgj', 'cf', '[7]',"
                " 'K|7', :h, :raw, '{}', '[]', 'COM-USCC-002', 'open', :now, :now, 1, 1)"), {"h": old_hex, "raw": RAW,
                                                                                          "now": dt.datetime.now(dt.UTC)})
            for pk, h in (("[7]", old_hex), ("[8]", "hand-edited")):
                c.execute(sa.text("INSERT INTO source_snapshot (department, dataset, source_pk, row_hash, business_key,"
                                  " seen_run_id) VALUES ('scjgj', 'cf', :pk, :h, 'K|7', 1)"), {"pk": pk, "h": h})
        migrate(engine)
        want = raw_hashes([RAW])[0]
        assert len(want) == 16
        with engine.connect() as c:
            seen = snapshot_hashes(c, "scjgj", "cf", ["[7]", "[8]"])
        assert seen["[7]"] == want  # an unchanged source row stays unchanged
        assert seen["[8]"] == b"hand-edited\0\0\0\0\0" and seen["[8]"] != want
        _reject(engine, 2)  # the same bad row read again: the open entry is touched, not doubled
        with engine.connect() as c:
            rows = c.execute(sa.select(quarantine.c.status, quarantine.c.last_run_id, quarantine.c.raw_hash)).all()
        assert [(r.status, r.last_run_id, bytes(r.raw_hash)) for r in rows] == [("open", 2, want)]

        # Down to 0010 (32 hex digits) and up again: the same bytes.
        _to(engine, "0010_inbox_file", down=True)
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT raw_hash FROM quarantine")).scalar_one() == want.hex()
        migrate(engine)
        with engine.begin() as c:
            assert snapshot_hashes(c, "scjgj", "cf", ["[7]"])["[7]"] == want
            record_snapshot(c, "scjgj", "cf", 3, [("[9]", want, "K|9")])
        _reject(engine, 3)
        with engine.connect() as c:
            assert c.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar_one() == 1
    finally:
        engine.dispose()
