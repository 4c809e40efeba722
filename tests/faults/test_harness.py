"""The fault suite's yardstick itself (issue 18 item 6): ``store_state`` must tell apart two stores that differ
in what the old comparison (business key, source key, hash, version, status) did not look at — a record's
publicity end, its source position, a quarantined row's raw text — and must not tell apart two stores that
differ only in ids, run ids and timestamps."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.db import make_store_engine, migrate
from store.schema import quarantine, record_tables
from tests.faults.harness import store_state
from tests.upstream.helpers import load, penalty


def _store(path: Path) -> Engine:
    engine = make_store_engine(f"sqlite:///{path}")
    migrate(engine)
    return engine


def _old_state(store: Engine) -> list[tuple[object, ...]]:
    """What the kill trials compared before: records by key, source key, hash, version and status."""
    rec = record_tables["cf"]
    with store.connect() as c:
        return sorted(c.execute(sa.select(rec.c.business_key, rec.c.source_pk, rec.c.content_hash, rec.c.version, rec.c.status)).all())


def _content(store: Engine) -> dict[str, object]:
    """The state without the watermark (the helper's loads stamp it with the clock)."""
    return {k: v for k, v in store_state(store).items() if k != "watermark"}


def test_whole_rows_tell_apart_what_hashes_and_versions_do_not(tmp_path: Path) -> None:
    a, b = _store(tmp_path / "a.db"), _store(tmp_path / "b.db")
    rows = [penalty(i) for i in range(3)]
    load(a, rows, publicity_end=["2029-01-01", "2029-01-01", "2029-01-01"])
    load(b, rows, publicity_end=["2029-01-01", "2029-01-02", "2029-01-01"])  # one publicity end differs
    assert _old_state(a) == _old_state(b)  # the old yardstick saw no difference
    assert store_state(a)["records"] != store_state(b)["records"]

    c = _store(tmp_path / "c.db")
    load(c, rows, publicity_end=["2029-01-01", "2029-01-01", "2029-01-01"])
    rec = record_tables["cf"]
    with c.begin() as conn:  # ids, run ids, change sequence values and timestamps do not count
        conn.execute(rec.update().values(run_id=rec.c.run_id + 7, change_seq=rec.c.change_seq + 100,
                                         updated_at=sa.func.datetime("now", "+1 day")))
    assert _content(a) == _content(c)
    with c.begin() as conn:
        conn.execute(rec.update().where(rec.c.business_key == _old_state(a)[0][0]).values(source_position="x"))
    assert _old_state(a) == _old_state(c) and _content(a) != _content(c)


def test_the_quarantines_raw_rows_are_compared(tmp_path: Path) -> None:
    a, b = _store(tmp_path / "a.db"), _store(tmp_path / "b.db")
    for engine in (a, b):
        with engine.begin() as conn:
            conn.execute(quarantine.insert().values(
                department="scjgj", dataset="cf", source_pk="[1]", business_key="K|1", raw_hash=b"h",
                raw=json.dumps({"wsh": "1"}), national="{}", issues="[]", rule_ids="CF-X", status="open",
                first_seen_at=sa.func.current_timestamp(), last_seen_at=sa.func.current_timestamp(),
                first_run_id=1, last_run_id=1))
    assert store_state(a) == store_state(b)
    with b.begin() as conn:
        conn.execute(quarantine.update().values(raw=json.dumps({"wsh": "2"})))
    assert store_state(a) != store_state(b)
