"""The change sequence: a push never skips a change that commits after a later one (PostgreSQL, two concurrent
chunk transactions), and on SQLite values follow commit order."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from national import dataset
from store import changelog
from store.loader import Batch
from store.runs import start_run
from store.schema import record_tables
from tests.factories import load_batch
from tests.upstream.helpers import penalty

CF = dataset("cf")


def _load(conn: Connection, run: int, dept: str, rows: list[dict[str, Any]]) -> None:
    load_batch(conn, run, Batch(
        department=dept, dataset="cf", national=pd.DataFrame(rows, columns=CF.columns, dtype=object),
        source_pk=[json.dumps([r["CF_WSH"]], ensure_ascii=False) for r in rows],
        raw=[json.dumps(r, ensure_ascii=False) for r in rows], rejected=np.zeros(len(rows), dtype=bool),
        issues=[[] for _ in rows], cursor_from=None, cursor_to='"x"',
    ))


def _committed_max(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(sa.select(sa.func.max(record_tables["cf"].c.change_seq))).scalar_one() or 0)


def test_a_change_committed_late_with_a_lower_value_is_not_skipped(pg_store: Engine) -> None:
    run_a, _ = start_run(pg_store, "dept_a", "cf", "test")
    run_b, _ = start_run(pg_store, "dept_b", "cf", "test")
    a = pg_store.connect()
    a_tx = a.begin()
    _load(a, run_a, "dept_a", [penalty(f"A{i}") for i in range(3)])  # takes the lower values, still open
    with pg_store.begin() as b:
        _load(b, run_b, "dept_b", [penalty(f"B{i}") for i in range(2)])  # higher values, committed first

    # What a push without a horizon would do: read up to the highest committed value and move past A's.
    naive = changelog.read_changes(a_other := pg_store.connect(), "cf", 0, _committed_max(pg_store), 100, set())
    a_other.close()
    assert [c.business_key.split("|")[1] for c, _ in naive.changes] == [penalty("B0")["CF_WSH"], penalty("B1")["CF_WSH"]]
    assert naive.seq_to == 5  # A's values 1–3 would be behind the position for good

    # The horizon waits for A (it holds the shared lock from its first value to its end) ...
    got: list[int] = []
    reader = threading.Thread(target=lambda: got.append(changelog.horizon(pg_store)))
    reader.start()
    time.sleep(0.5)
    assert reader.is_alive() and got == []
    # ... and returns once A has ended: everything up to it is now committed and is read.
    a_tx.commit()
    a.close()
    reader.join(timeout=10)
    assert got == [5]
    with pg_store.connect() as c:
        taken = changelog.read_changes(c, "cf", 0, got[0], 100, set())
    assert len(taken.changes) == 5 and taken.seq_to == 5
    assert sorted(ch.change_seq for ch, _ in taken.changes) == [1, 2, 3, 4, 5]


def test_sqlite_values_follow_commit_order_and_the_horizon_is_what_is_committed(sqlite_store: Engine) -> None:
    run, _ = start_run(sqlite_store, "dept_a", "cf", "test")
    with sqlite_store.begin() as c:
        _load(c, run, "dept_a", [penalty(1), penalty(2)])
    with sqlite_store.begin() as c:
        assert changelog.next_seqs(c, 3) == [3, 4, 5]  # max + 1 inside the writing transaction
        c.rollback()
    assert changelog.horizon(sqlite_store) == 2
