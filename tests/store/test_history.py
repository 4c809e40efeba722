"""The history keeps superseded versions only, and store.history answers the audit questions ("this record at
time T", "in version N") exactly as the all-versions history did."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from national import dataset
from national.fields import PENALTY
from national.keys import business_key
from store import history
from store.loader import Batch, withdraw_records
from store.runs import finish_run, start_run
from store.schema import record_version
from tests.factories import load_batch
from tests.upstream.helpers import DEPT, penalty

CF = dataset("cf")


def _load(engine: Engine, rows: list[dict[str, Any]], pks: list[str]) -> None:
    run, wm = start_run(engine, DEPT, "cf", "test")
    batch = Batch(
        department=DEPT, dataset="cf", national=pd.DataFrame(rows, columns=CF.columns, dtype=object),
        source_pk=[json.dumps([p]) for p in pks], raw=[json.dumps(r, ensure_ascii=False) for r in rows],
        rejected=np.zeros(len(rows), dtype=bool), issues=[[] for _ in rows], cursor_from=wm,
        cursor_to=json.dumps(f"{time.monotonic_ns()}"),
    )
    with engine.begin() as conn:
        load_batch(conn, run, batch)
    finish_run(engine, run, status="success")


def _withdraw(engine: Engine, key: str) -> None:
    run, _ = start_run(engine, DEPT, "cf", "test")
    with engine.begin() as conn:
        assert withdraw_records(conn, run, DEPT, "cf", [key], reason="源系统中已删除") == 1


def _key(n: int) -> str:
    return business_key(PENALTY, penalty(n))


def test_as_of_and_version_of_answer_what_the_all_versions_history_answered(store: Engine) -> None:
    # The old semantics, kept beside the real store: every insert, update and withdrawal appended a version
    # (number, operation, national values) to the history; "at T" was the newest one loaded at or before T.
    old: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    moments: list[tuple[dt.datetime, dict[str, int]]] = []  # (T, key → the version current at T per old semantics)

    def append(key: str, op: str, values: dict[str, Any]) -> None:
        versions = old.setdefault(key, [])
        # empty extension fields are not part of a version's payload (store.rows.with_extensions)
        values = {k: v for k, v in values.items() if not (k in CF.extension_columns and v is None)}
        versions.append((len(versions) + 1, op, values))

    def moment() -> None:
        time.sleep(0.01)
        moments.append((dt.datetime.now(dt.UTC), {k: len(v) for k, v in old.items()}))
        time.sleep(0.01)

    moment()  # before anything: no version
    _load(store, [penalty(1), penalty(2)], ["a", "b"])
    append(_key(1), "I", penalty(1))
    append(_key(2), "I", penalty(2))
    moment()
    with store.connect() as c:  # a first load writes no history
        assert c.execute(sa.select(sa.func.count()).select_from(record_version)).scalar_one() == 0
    _load(store, [penalty(1, CF_NR_FK="0.3")], ["a"])
    append(_key(1), "U", penalty(1, CF_NR_FK="0.3"))
    moment()
    # Two versions of one record in one chunk (a correction entered as a new row): both were kept.
    _load(store, [penalty(2, CF_NR="罚款3000元"), penalty(2, CF_NR="罚款4000元"), penalty(3)], ["b", "b2", "c"])
    append(_key(2), "U", penalty(2, CF_NR="罚款3000元"))
    append(_key(2), "U", penalty(2, CF_NR="罚款4000元"))
    append(_key(3), "I", penalty(3))
    moment()
    _withdraw(store, _key(1))
    append(_key(1), "D", penalty(1, CF_NR_FK="0.3"))
    moment()
    _load(store, [penalty(1, CF_NR_FK="0.5")], ["a"])  # back again, corrected
    append(_key(1), "U", penalty(1, CF_NR_FK="0.5"))
    moment()

    with store.connect() as c:
        # Superseded versions only: every version but the current one of each record.
        assert c.execute(sa.select(sa.func.count()).select_from(record_version)).scalar_one() == sum(len(v) - 1 for v in old.values())
        for key, expected in old.items():
            got = history.versions(c, "cf", key)
            assert [(v["version"], v["operation"], v["payload"]) for v in got] == expected, key
            assert [v["current"] for v in got] == [False] * (len(expected) - 1) + [True]
            for number, op, values in expected:
                one = history.version_of(c, "cf", key, number)
                assert one is not None and (one["version"], one["operation"], one["payload"]) == (number, op, values)
            assert history.version_of(c, "cf", key, len(expected) + 1) is None
        for at, current in moments:
            for key, expected in old.items():
                found = history.as_of(c, "cf", key, at)
                if current.get(key, 0) == 0:
                    assert found is None, (key, at)
                else:
                    assert found is not None and found["version"] == current[key], (key, at, found and found["version"])
                    assert found["payload"] == expected[current[key] - 1][2]
