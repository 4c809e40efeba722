"""及时率 measured at publication (issue 14): decision date → first_published_at, not arrival in the store."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from national import dataset
from reports.indicators import assess
from reports.workdays import WorkdayCalendar
from store.loader import Batch
from store.runs import finish_run, start_run
from store.schema import record_tables
from tests.factories import load_batch
from tests.reports.scenario import DEPTS, D, at, penalty

CF = dataset("cf")
AS_OF = dt.datetime(2025, 4, 2, 4, 0, tzinfo=dt.UTC)


def load(engine: Engine, pk: str, row: dict[str, str | None], when: dt.datetime, publicity_end: str) -> None:
    run, wm = start_run(engine, "aaa", "cf", "test")
    batch = Batch(
        department="aaa", dataset="cf", national=pd.DataFrame([row], columns=CF.columns, dtype=object),
        source_pk=[json.dumps([pk])], raw=[None], rejected=np.array([False]), issues=[[]],
        publicity=pd.DataFrame({"publicity_end": [publicity_end], "repair_eligible_from": [None]}, dtype=object),
        cursor_from=wm, cursor_to=wm,
    )
    with engine.begin() as conn:
        load_batch(conn, run, batch, now=when)
    finish_run(engine, run, status="success")


def test_timeliness_counts_the_day_a_decision_entered_the_column(sqlite_store: Engine) -> None:
    decided = D(2025, 3, 3)  # Monday: the 7th working day after it is 2025-03-12 (Mon–Fri calendar)
    on_time = penalty("罚〔2025〕71号", decided)
    load(sqlite_store, "71", on_time, at(D(2025, 3, 4)), "2028-03-03")
    # Arrived on time, but with a publicity end already past: not shown until the department corrected it.
    held = penalty("罚〔2025〕72号", decided)
    load(sqlite_store, "72", held, at(D(2025, 3, 4)), "2025-03-05")
    load(sqlite_store, "72", {**held, "CF_NR": "罚款2000元（更正）"}, at(D(2025, 3, 20)), "2028-03-03")
    t = record_tables["cf"]
    with sqlite_store.connect() as c:
        rows = {r.cf_wsh: r for r in c.execute(sa.select(t.c.cf_wsh, t.c.first_loaded_at, t.c.first_published_at))}
    assert rows["罚〔2025〕72号"].first_loaded_at.date() == D(2025, 3, 4)
    assert rows["罚〔2025〕72号"].first_published_at.date() == D(2025, 3, 20)
    a = assess(sqlite_store, "2025-03", departments=DEPTS, as_of=AS_OF, calendar=WorkdayCalendar({}))
    aaa = a.row(a.month_table, "aaa", "cf")
    assert aaa is not None
    assert (aaa["stored"], aaa["on_time"], aaa["late"]) == (2, 1, 1)
    assert aaa["timeliness"] == 0.5
    late = a.overdue.set_index("wsh").loc["罚〔2025〕72号"]
    assert late["status"] == "late" and late["days_late"] == 8
    assert late["loaded_local"] == D(2025, 3, 4) and late["published_local"] == D(2025, 3, 20)


def test_a_record_never_shown_counts_at_its_arrival(sqlite_store: Engine) -> None:
    decided = D(2025, 3, 3)
    load(sqlite_store, "73", penalty("罚〔2025〕73号", decided), at(D(2025, 3, 4)), "2025-03-05")  # never shown
    a = assess(sqlite_store, "2025-03", departments=DEPTS, as_of=AS_OF, calendar=WorkdayCalendar({}))
    aaa = a.row(a.month_table, "aaa", "cf")
    assert aaa is not None and (aaa["on_time"], aaa["late"]) == (1, 0)
