"""Values that meet the store's bounded and encoded columns (store/keys.py), on SQLite and PostgreSQL.

Rows are given to the loader as the catalogue left them (accepted), as when a key-length or character rule is
switched off: the store's own checks must quarantine what it cannot hold, with the field named, and store
whatever a quarantined row carries, never fail the chunk.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.keys import KEY_LENGTH, bounded_key, bounded_keys, storable_json
from store.loader import Batch
from store.runs import start_run
from store.schema import ingest_run, quarantine, record_tables, record_version, watermark
from tests.factories import load_batch
from tests.store.test_loader import ERR, rows

LONG_PK = "主" * 100_000
SURROGATE_CURSOR = json.dumps({"type": "str", "value": "游标\udc80"}, ensure_ascii=False)


def _batch(frame, pks, rejected, *, positions, cursor_from, cursor_to, issues=None) -> Batch:  # type: ignore[no-untyped-def]
    return Batch(
        department="scjgj", dataset="cf", national=frame,
        source_pk=[json.dumps([p], ensure_ascii=False) for p in pks],
        raw=[json.dumps({"id": p, **r}, ensure_ascii=False) for p, r in zip(pks, frame.to_dict("records"), strict=True)],
        rejected=np.array(rejected), issues=issues or [[ERR] if r else [] for r in rejected],
        cursor_from=cursor_from, cursor_to=cursor_to, source_position=positions,
    )


def test_bounded_key_is_short_stable_and_distinct() -> None:
    assert bounded_key("罚〔2025〕1号") == "罚〔2025〕1号"
    a, b = "罚" * 1000 + "甲", "罚" * 1000 + "乙"
    assert len(bounded_key(a)) == KEY_LENGTH and bounded_key(a) == bounded_key(a) != bounded_key(b)
    assert bounded_key(bounded_key(a)) == bounded_key(a)  # idempotent: the loader may bound twice
    escaped = bounded_key("a\udc80\x00")  # encodable everywhere, readable, and hashed (see below)
    assert escaped.startswith("a\\udc80\\x00…#") and len(escaped) == 11 + 2 + 64 and bounded_key(escaped) == escaped
    assert bounded_keys(["1", "2"]) == ["1", "2"]
    assert json.loads(storable_json(SURROGATE_CURSOR)) == json.loads(SURROGATE_CURSOR)


def test_bounded_key_is_injective_on_escapes() -> None:
    """A key with a NUL or a lone surrogate and the literal text of its escape are different keys."""
    pairs = [("k\x00", "k\\x00"), ("k\udc80", "k\\udc80"), ('["k\udc80"]', '["k\\udc80"]')]
    for raw, literal in pairs:
        assert bounded_key(literal) == literal  # an ordinary key is stored as it is
        assert bounded_key(raw) != bounded_key(literal), raw
        assert bounded_keys([raw, literal]) == [bounded_key(raw), literal]


def test_a_fix_closes_only_its_own_quarantine_entry_when_keys_escape_alike(store: Engine) -> None:
    run, _ = start_run(store, "scjgj", "cf", "test")
    frame = rows({"CF_WSH": "罚〔2025〕1号"}, {"CF_WSH": "罚〔2025〕2号"})
    # Source keys as given (not JSON, which escapes a NUL itself): a NUL in one, the 5 characters k\x00 in the other.
    pks = ["k\x00", "k\\x00"]
    first = _batch(frame, pks, [True, True], positions=["1", "2"], cursor_from=None, cursor_to=None)
    with store.begin() as c:
        load_batch(c, run, dataclasses.replace(first, source_pk=pks))
    # The row keyed by the literal text is corrected; the NUL-keyed row is still wrong and stays open.
    fix = _batch(rows({"CF_WSH": "罚〔2025〕2号"}), [pks[1]], [False], positions=["3"], cursor_from=None, cursor_to=None)
    with store.begin() as c:
        load_batch(c, run, dataclasses.replace(fix, source_pk=[pks[1]]))
    with store.connect() as c:
        status = {e.source_pk: e.status for e in c.execute(sa.select(quarantine.c.source_pk, quarantine.c.status))}
    assert status == {bounded_key(pks[0]): "open", pks[1]: "fixed"}


def test_what_the_store_cannot_hold_is_quarantined_or_bounded_never_a_failed_chunk(store: Engine) -> None:
    run, _ = start_run(store, "scjgj", "cf", "test")
    frame = rows(
        {"CF_WSH": "罚" * 500},  # 0: accepted by the catalogue (rule off), key longer than the key columns
        {"CF_WSH": "罚〔2025〕2号", "CF_SY": "事实\udc80"},  # 1: a lone surrogate (character rule off)
        {"CF_WSH": "罚〔2025〕3号", "CF_NR": "罚款\x00"},  # 2: a NUL (PostgreSQL text refuses it)
        {"CF_WSH": "罚〔2025〕4号"},  # 3: valid, with a 100,000-character string source primary key
        {"CF_WSH": "文" * 100_000 + "\udc80", "CF_SJLYDM": "9" * 100_000},  # 4: rejected, keys of any length
    )
    pks = ["k0", "k1", "k2", LONG_PK, "k4\udc80" + "键" * 1000]
    positions = ["20250101|k0", "20250101|k1", "20250101|\x00", "20250101|" + LONG_PK, "20250101|\udc80"]
    first = _batch(frame, pks, [False, False, False, False, True], positions=positions,
                   cursor_from=None, cursor_to=SURROGATE_CURSOR)
    with store.begin() as c:
        counts = load_batch(c, run, first)
    assert counts.as_dict() == {"read": 5, "inserted": 1, "updated": 0, "unchanged": 0, "quarantined": 4, "warnings": 0}

    rec = record_tables["cf"]
    with store.connect() as c:
        entries = {json.loads(e.raw)["id"]: e for e in c.execute(sa.select(quarantine))}
        loaded = c.execute(sa.select(rec.c.source_pk, rec.c.cf_wsh, rec.c.source_position)).one()
        stored_cursor = c.execute(sa.select(watermark.c.cursor_value)).scalar_one()
    # The loaded row: its long primary key is held bounded in the record and its history.
    assert loaded.cf_wsh == "罚〔2025〕4号" and loaded.source_pk == bounded_key(json.dumps([LONG_PK], ensure_ascii=False))
    assert len(loaded.source_pk) == KEY_LENGTH and loaded.source_position.endswith("主")
    # The cursor keeps its value (escaped in JSON), so the next run starts where this one ended.
    assert json.loads(stored_cursor) == json.loads(SURROGATE_CURSOR)

    key_issue = json.loads(entries["k0"].issues)[0]
    assert key_issue["rule"] == "LOAD-KEY" and key_issue["field"] == "CF_WSH"
    assert "行政处罚决定书文号" in key_issue["message"] and "超过 128 个字符" in key_issue["message"], key_issue
    for pk, field in (("k1", "CF_SY"), ("k2", "CF_NR")):
        issue = json.loads(entries[pk].issues)[0]
        assert (issue["rule"], issue["field"]) == ("LOAD-TEXT", field), issue
    bad = entries[pks[4]]  # the raw row is kept whole (escaped), the key columns bounded
    assert json.loads(bad.raw)["CF_WSH"] == "文" * 100_000 + "\udc80"
    assert len(bad.source_pk) <= KEY_LENGTH and len(bad.business_key) <= KEY_LENGTH

    # The next chunk starts from the cursor as the caller knows it; the corrected rows close their entries
    # (found by the bounded source key), and the over-long decision number is no obstacle.
    fixes = rows({"CF_WSH": "罚〔2025〕10号"}, {"CF_WSH": "罚〔2025〕14号"})
    second = _batch(fixes, ["k0", pks[4]], [False, False], positions=["20250102|k0", "20250102|k4"],
                    cursor_from=SURROGATE_CURSOR, cursor_to='{"type": "str", "value": "z"}')
    with store.begin() as c:
        counts = load_batch(c, run, second)
    assert counts.inserted == 2 and counts.reconciles
    with store.connect() as c:
        status = {json.loads(e.raw)["id"]: e.status for e in c.execute(sa.select(quarantine.c.raw, quarantine.c.status))}
        versions = c.execute(sa.select(sa.func.count()).select_from(record_version)).scalar_one()
        run_row = c.execute(sa.select(ingest_run.c.watermark_to)).scalar_one()
    assert status == {"k0": "fixed", "k1": "open", "k2": "open", pks[4]: "fixed"}
    assert versions == 0 and json.loads(run_row)["value"] == "z"  # first loads: no superseded version


@pytest.mark.parametrize("value", ["\udcff", "\x00", "罚" * 100_000])
def test_a_strange_cursor_or_position_never_fails_the_load(store: Engine, value: str) -> None:
    run, _ = start_run(store, "scjgj", "cf", "test")
    cursor = json.dumps({"type": "str", "value": value}, ensure_ascii=False)
    with store.begin() as c:
        load_batch(c, run, _batch(rows({"CF_WSH": "罚〔2025〕1号"}), [value], [False], positions=[value],
                                  cursor_from=None, cursor_to=cursor))
    with store.begin() as c:  # the second chunk of the run starts from it: no "watermark moved"
        load_batch(c, run, _batch(rows({"CF_WSH": "罚〔2025〕2号"}), ["2"], [False], positions=["z"],
                                  cursor_from=cursor, cursor_to=None))
    with store.connect() as c:
        assert json.loads(c.execute(sa.select(watermark.c.cursor_value)).scalar_one())["value"] == value
        assert c.execute(sa.select(sa.func.count()).select_from(record_tables["cf"])).scalar_one() == 2


def test_the_snapshot_holds_rows_with_keys_of_any_length(store: Engine) -> None:
    from store.snapshot import record_snapshot, snapshot_hashes, withdraw_unseen

    run, _ = start_run(store, "scjgj", "cf", "test")
    long_pk = json.dumps(["键" * 5000], ensure_ascii=False)
    long_key = "11330100MB0000000X|" + "文" * 100_000
    with store.begin() as c:
        record_snapshot(c, "scjgj", "cf", run, [(long_pk, b"h1", long_key), ('["2"]', b"h2", "k|2"), ('["\udc80"]', b"h3", "k|\udc80")])
    with store.connect() as c:  # looked up by the key the caller knows
        assert snapshot_hashes(c, "scjgj", "cf", [long_pk, '["2"]', '["\udc80"]']) == {long_pk: b"h1", '["2"]': b"h2", '["\udc80"]': b"h3"}
    second, _ = start_run(store, "scjgj", "cf", "test")
    with store.begin() as c:
        record_snapshot(c, "scjgj", "cf", second, [(long_pk, b"h1", None)])  # seen again, unchanged
        assert withdraw_unseen(c, "scjgj", "cf", second) == 0  # nothing was loaded, nothing to withdraw
    with store.connect() as c:
        assert snapshot_hashes(c, "scjgj", "cf", [long_pk, '["2"]']) == {long_pk: b"h1"}


def test_an_over_long_licence_number_is_named_when_the_rules_let_it_through(store: Engine) -> None:
    from tests.store.test_loader import xk_batch, xk_rows

    run, _ = start_run(store, "scjgj", "xk", "test")
    with store.begin() as c:
        counts = load_batch(c, run, xk_batch(xk_rows({"XK_WSH": "许1", "XK_XKBH": "编" * 450}), ["1"], cursor_from=None, cursor_to='"a"'))
    assert (counts.quarantined, counts.inserted) == (1, 0)
    with store.connect() as c:
        issue = json.loads(c.execute(sa.select(quarantine.c.issues)).scalar_one())[0]
    assert (issue["rule"], issue["field"]) == ("LOAD-KEY", "XK_XKBH") and "许可编号" in issue["message"], issue
