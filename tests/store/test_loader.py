"""The loader on the real SQLite and PostgreSQL stores: outcomes, history, quarantine, watermark, atomicity."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from national import dataset
from store.loader import Batch, WatermarkMoved
from store.runs import start_run
from store.schema import ingest_run, quarantine, record_tables, record_version, watermark
from tests.factories import load_batch

CF = dataset("cf")
ERR = {"rule": "CF-REQ-WSH", "field": "CF_WSH", "message": "缺少行政处罚决定书文号", "severity": "error"}
WARN = {"rule": "CF-WARN", "field": "CF_NR_FK", "message": "金额可能以元填报", "severity": "warning"}


def rows(*specs: dict[str, str | None]) -> pd.DataFrame:
    base = {c: None for c in CF.columns}
    out = []
    for s in specs:
        r = dict(base)
        r.update({"CF_SJLYDM": "11330100MB0000000X", "CF_JDRQ": "2025-01-02", "CF_NR_FK": "0.2"})
        r.update(s)
        out.append(r)
    return pd.DataFrame(out, columns=CF.columns, dtype=object)


def batch(frame: pd.DataFrame, pks: list[str], rejected: list[bool], *, cursor_from: str | None, cursor_to: str | None, issues=None) -> Batch:  # type: ignore[no-untyped-def]
    return Batch(
        department="scjgj",
        dataset="cf",
        national=frame,
        source_pk=[json.dumps([p]) for p in pks],
        raw=[json.dumps({"id": p, **r}, ensure_ascii=False) for p, r in zip(pks, frame.to_dict("records"), strict=True)],
        rejected=np.array(rejected),
        issues=issues or [[ERR] if r else [] for r in rejected],
        cursor_from=cursor_from,
        cursor_to=cursor_to,
        rule_failures={"CF-REQ-WSH": sum(rejected)},
    )


def count(engine: Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def test_insert_update_unchanged_and_quarantine_reconcile(store: Engine) -> None:
    run, wm = start_run(store, "scjgj", "cf", "test")
    assert wm is None
    b1 = batch(rows({"CF_WSH": "罚〔2025〕1号"}, {"CF_WSH": "罚〔2025〕2号"}, {"CF_WSH": None}), ["1", "2", "3"],
               [False, False, True], cursor_from=None, cursor_to='"c1"')
    with store.begin() as c:
        counts = load_batch(c, run, b1)
    assert counts.as_dict() == {"read": 3, "inserted": 2, "updated": 0, "unchanged": 0, "quarantined": 1, "warnings": 0}

    # Same rows again (a look-back re-read) + one real change: unchanged, updated, and the bad row is not duplicated.
    b2 = batch(rows({"CF_WSH": "罚〔2025〕1号"}, {"CF_WSH": "罚〔2025〕2号", "CF_NR_FK": "0.3"}, {"CF_WSH": None}), ["1", "2", "3"],
               [False, False, True], cursor_from='"c1"', cursor_to='"c2"')
    with store.begin() as c:
        counts = load_batch(c, run, b2)
    assert counts.as_dict() == {"read": 3, "inserted": 0, "updated": 1, "unchanged": 1, "quarantined": 1, "warnings": 0}

    table = record_tables["cf"]
    assert count(store, table) == 2
    with store.connect() as c:
        v = c.execute(sa.select(table.c.version, table.c.cf_nr_fk).where(table.c.cf_wsh == "罚〔2025〕2号")).one()
        assert v.version == 2 and float(v.cf_nr_fk) == 0.3
        assert c.execute(sa.select(watermark.c.cursor_value)).scalar_one() == '"c2"'
        stats = c.execute(sa.select(ingest_run).where(ingest_run.c.id == run)).mappings().one()
    # The history holds superseded versions only: the update moved version 1 of 罚〔2025〕2号 there.
    assert count(store, record_version) == 1
    assert count(store, quarantine, quarantine.c.status == "open") == 1
    assert stats["rows_read"] == 6 == stats["inserted"] + stats["updated"] + stats["unchanged"] + stats["quarantined"]
    assert json.loads(stats["rule_failures"]) == {"CF-REQ-WSH": 2}


def test_corrected_row_resolves_its_quarantine_entry(store: Engine) -> None:
    run, _ = start_run(store, "scjgj", "cf", "test")
    with store.begin() as c:
        load_batch(c, run, batch(rows({"CF_WSH": "罚〔2025〕9号", "CF_NR_FK": "abc"}), ["9"], [True], cursor_from=None, cursor_to='"a"'))
    assert count(store, quarantine, quarantine.c.status == "open") == 1
    # Still bad but different: the old entry is superseded by the new one.
    with store.begin() as c:
        load_batch(c, run, batch(rows({"CF_WSH": "罚〔2025〕9号", "CF_NR_FK": "abd"}), ["9"], [True], cursor_from='"a"', cursor_to='"b"'))
    assert count(store, quarantine, quarantine.c.status == "open") == 1
    assert count(store, quarantine, quarantine.c.status == "superseded") == 1
    # Corrected: loaded, and the open entry is fixed.
    with store.begin() as c:
        counts = load_batch(c, run, batch(rows({"CF_WSH": "罚〔2025〕9号"}), ["9"], [False], cursor_from='"b"', cursor_to='"c"'))
    assert counts.inserted == 1
    assert count(store, quarantine, quarantine.c.status == "open") == 0
    assert count(store, quarantine, quarantine.c.status == "fixed") == 1


def test_same_decision_twice_in_one_batch_later_row_wins(store: Engine) -> None:
    run, _ = start_run(store, "scjgj", "cf", "test")
    frame = rows({"CF_WSH": "罚〔2025〕5号", "CF_NR_FK": "0.1"}, {"CF_WSH": "罚〔2025〕5号", "CF_NR_FK": "0.5"})
    with store.begin() as c:
        counts = load_batch(c, run, batch(frame, ["5", "6"], [False, False], cursor_from=None, cursor_to='"x"'))
    assert (counts.inserted, counts.updated) == (1, 1)
    with store.connect() as c:
        r = c.execute(sa.select(record_tables["cf"].c.cf_nr_fk, record_tables["cf"].c.version)).one()
    assert float(r.cf_nr_fk) == 0.5 and r.version == 2


def test_untypable_value_is_quarantined_not_loaded(store: Engine) -> None:
    run, _ = start_run(store, "scjgj", "cf", "test")
    frame = rows({"CF_WSH": "罚〔2025〕7号", "CF_JDRQ": "2025/02/30"})
    with store.begin() as c:
        counts = load_batch(c, run, batch(frame, ["7"], [False], cursor_from=None, cursor_to='"x"'))
    assert counts.quarantined == 1 and counts.inserted == 0
    with store.connect() as c:
        issues = json.loads(c.execute(sa.select(quarantine.c.issues)).scalar_one())
    assert issues[0]["rule"] == "LOAD-TYPE" and issues[0]["field"] == "CF_JDRQ"


def test_watermark_moved_by_another_run_aborts_and_rolls_back(store: Engine) -> None:
    run, _ = start_run(store, "scjgj", "cf", "test")
    with store.begin() as c:
        load_batch(c, run, batch(rows({"CF_WSH": "1"}), ["1"], [False], cursor_from=None, cursor_to='"a"'))
    stale = batch(rows({"CF_WSH": "2"}), ["2"], [False], cursor_from=None, cursor_to='"b"')
    with pytest.raises(WatermarkMoved):
        with store.begin() as c:
            load_batch(c, run, stale)
    assert count(store, record_tables["cf"]) == 1
    with store.connect() as c:
        assert c.execute(sa.select(watermark.c.cursor_value)).scalar_one() == '"a"'


def test_failure_inside_the_transaction_leaves_nothing(store: Engine) -> None:
    run, _ = start_run(store, "scjgj", "cf", "test")
    with pytest.raises(RuntimeError):
        with store.begin() as c:
            load_batch(c, run, batch(rows({"CF_WSH": "1"}, {"CF_WSH": None}), ["1", "2"], [False, True], cursor_from=None, cursor_to='"a"'))
            raise RuntimeError("store went away")
    assert count(store, record_tables["cf"]) == 0
    assert count(store, quarantine) == 0
    assert count(store, watermark) == 0
    assert count(store, record_version) == 0


def test_warnings_do_not_block_loading(store: Engine) -> None:
    run, _ = start_run(store, "scjgj", "cf", "test")
    with store.begin() as c:
        counts = load_batch(c, run, batch(rows({"CF_WSH": "1"}), ["1"], [False], cursor_from=None, cursor_to=None, issues=[[WARN]]))
    assert counts.inserted == 1 and counts.warnings == 1


def test_interrupted_run_is_marked(store: Engine) -> None:
    first, _ = start_run(store, "scjgj", "cf", "test")
    second, _ = start_run(store, "scjgj", "cf", "test")
    with store.connect() as c:
        st = dict(c.execute(sa.select(ingest_run.c.id, ingest_run.c.status)).all())
    assert st == {first: "interrupted", second: "running"}


XK = dataset("xk")


def xk_rows(*specs: dict[str, str | None]) -> pd.DataFrame:
    out = []
    for s in specs:
        r = {c: None for c in XK.columns}
        r.update({"XK_LYDWDM": "11330100MB0000000X", "XK_JDRQ": "2025-01-02", "XK_ZT": "1"})
        r.update(s)
        out.append(r)
    return pd.DataFrame(out, columns=XK.columns, dtype=object)


def xk_batch(frame: pd.DataFrame, pks: list[str], *, cursor_from: str | None, cursor_to: str | None) -> Batch:
    return Batch(
        department="scjgj", dataset="xk", national=frame, source_pk=[json.dumps([p]) for p in pks],
        raw=[json.dumps({"id": p, **r}, ensure_ascii=False) for p, r in zip(pks, frame.to_dict("records"), strict=True)],
        rejected=np.zeros(len(frame), dtype=bool), issues=[[] for _ in pks], cursor_from=cursor_from, cursor_to=cursor_to,
    )


def changes(engine: Engine, ds: str) -> list[tuple[str, int, str, int]]:
    """(business key, version, operation, change_seq) of the records, in change order."""
    t = record_tables[ds]
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.select(t.c.business_key, t.c.version, t.c.operation, t.c.change_seq).order_by(t.c.change_seq))]


def history_ops(engine: Engine, key: str) -> list[tuple[int, str]]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(
            sa.select(record_version.c.version, record_version.c.operation).where(record_version.c.business_key == key)
            .order_by(record_version.c.version))]


def test_every_change_takes_the_next_change_seq_and_moves_the_old_version_to_history(store: Engine) -> None:
    from store.changelog import delivery_states

    run, _ = start_run(store, "scjgj", "xk", "test")
    with store.begin() as c:
        load_batch(c, run, xk_batch(xk_rows({"XK_WSH": "许1"}, {"XK_WSH": "许2", "XK_ZT": "2"}), ["1", "2"], cursor_from=None, cursor_to='"a"'))
    first = changes(store, "xk")
    assert [(k, v, op) for k, v, op, _ in first] == [("11330100MB0000000X|许1||", 1, "I"), ("11330100MB0000000X|许2||", 1, "I")]
    assert count(store, record_version) == 0  # a first load writes no history
    with store.connect() as c:  # 许2 arrived already 无效: stored as withdrawn, nothing to send.
        assert [r["state"] for r in delivery_states(c, "xk")] == ["pending", "not_sent"]
    with store.begin() as c:
        load_batch(c, run, xk_batch(xk_rows({"XK_WSH": "许1", "XK_ZT": "2"}), ["1"], cursor_from='"a"', cursor_to='"b"'))
    with store.begin() as c:  # still 无效, other content
        load_batch(c, run, xk_batch(xk_rows({"XK_WSH": "许1", "XK_ZT": "2", "BZ": "注销"}), ["1"], cursor_from='"b"', cursor_to='"c"'))
    with store.begin() as c:  # valid again: an update
        load_batch(c, run, xk_batch(xk_rows({"XK_WSH": "许1", "XK_ZT": "1", "BZ": "恢复"}), ["1"], cursor_from='"c"', cursor_to='"d"'))
    now = changes(store, "xk")
    assert [(k, v, op) for k, v, op, _ in now] == [("11330100MB0000000X|许2||", 1, "I"), ("11330100MB0000000X|许1||", 4, "U")]
    assert now[1][3] > first[1][3] + 2  # three more changes, each with its own value
    assert history_ops(store, "11330100MB0000000X|许1||") == [(1, "I"), (2, "D"), (3, "U")]
    with store.connect() as c:
        statuses = dict(c.execute(sa.select(record_tables["xk"].c.xk_wsh, record_tables["xk"].c.status)).all())
    assert statuses == {"许1": "active", "许2": "withdrawn"}


def test_withdrawing_records_writes_history_and_a_change(store: Engine) -> None:
    from store.loader import withdraw_records

    run, _ = start_run(store, "scjgj", "cf", "test")
    with store.begin() as c:
        load_batch(c, run, batch(rows({"CF_WSH": "1"}, {"CF_WSH": "2"}), ["1", "2"], [False, False], cursor_from=None, cursor_to='"a"'))
    with store.begin() as c:
        n = withdraw_records(c, run, "scjgj", "cf", ["11330100MB0000000X|1|", "11330100MB0000000X|nope|"], reason="源系统已删除")
    assert n == 1
    with store.begin() as c:  # already withdrawn: nothing more
        assert withdraw_records(c, run, "scjgj", "cf", ["11330100MB0000000X|1|"], reason="x") == 0
    assert changes(store, "cf")[-1][:3] == ("11330100MB0000000X|1|", 2, "D")
    with store.connect() as c:
        r = c.execute(sa.select(record_tables["cf"]).where(record_tables["cf"].c.cf_wsh == "1")).mappings().one()
        # The version before the withdrawal is in the history, with its national values.
        payload = json.loads(c.execute(sa.select(record_version.c.payload).where(record_version.c.operation == "I")).scalar_one())
    assert (r["status"], r["withdrawn_reason"], r["version"]) == ("withdrawn", "源系统已删除", 2)
    assert payload["CF_WSH"] == "1" and payload["CF_NR_FK"] == "0.2" and payload["CF_JDRQ"] == "2025-01-02"
