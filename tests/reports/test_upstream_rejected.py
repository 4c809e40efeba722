"""上报退回率 (issue 17 item 9): the share of records the provincial platform rejected among those it answered, from
the receipts the push stores (``store.changelog.apply_receipts``), on the report scenario's store."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine

from reports.indicators import ALL_DATASETS, CITY, assess
from reports.render import render_report_html
from reports.workdays import WorkdayCalendar
from store.changelog import Verdict, apply_receipts, horizon, open_batch, position, read_changes, unresolved
from tests.reports.scenario import AS_OF, DEPTS, SECRET_ID, D, at, build_scenario


def _push(engine: Engine, *, rejected_at: dt.datetime, answer_a7: bool = False) -> None:
    """Every stored penalty goes out in one batch; the province rejects A2 (its 文书号 holds SECRET_ID), accepts the
    others, and (unless ``answer_a7``) has not answered A7 yet."""
    upto = horizon(engine)
    with engine.begin() as conn:
        taken = read_changes(conn, "cf", position(conn, "cf"), upto, 100, set())
        assert open_batch(conn, "cf", "batch-1", 1, taken, at(D(2025, 3, 21))) is not None
    with engine.begin() as conn:
        batch = unresolved(conn, "cf")[0]
        a2 = [i for i in batch.items if SECRET_ID in i.business_key]
        others = [i for i in batch.items if SECRET_ID not in i.business_key and (answer_a7 or "〔2025〕7号" not in i.business_key)]
        assert len(a2) == 1 and len(others) == (5 if answer_a7 else 4)  # A1 A3 A7 B1 B2 / without A7
        apply_receipts(conn, batch, [Verdict(i, True) for i in others], at(D(2025, 3, 22)))
        apply_receipts(conn, batch, [Verdict(a2[0], False, "E101", "行政相对人代码有误")], rejected_at)


@pytest.fixture
def scenario(store: Engine) -> Engine:
    """The report scenario on SQLite and on PostgreSQL (the receipts' query joins and groups)."""
    return build_scenario(store)


def test_rejected_among_answered_per_department_and_city(scenario: Engine) -> None:
    before = assess(scenario, "2025-03", departments=DEPTS, as_of=AS_OF, calendar=WorkdayCalendar({}))
    assert all(v is None for v in before.month_table["upstream_rejected"])  # nothing pushed: 暂无
    _push(scenario, rejected_at=at(D(2025, 3, 25)))
    a = assess(scenario, "2025-03", departments=DEPTS, as_of=AS_OF, calendar=WorkdayCalendar({}))
    aaa = a.row(a.month_table, "aaa", "cf")
    assert aaa is not None
    # A1, A2, A3 are stored by as_of and answered; A2 rejected. A4–A6 never left quarantine: not sent.
    assert (aaa["upstream_answered"], aaa["upstream_returned"]) == (3, 1)
    assert aaa["upstream_rejected"] == pytest.approx(1 / 3)
    bbb = a.row(a.month_table, "bbb", "cf")
    assert bbb is not None and bbb["upstream_rejected"] == 0.0 and bbb["upstream_answered"] == 1
    ccc = a.row(a.month_table, "ccc", "cf")
    assert ccc is not None and ccc["upstream_rejected"] is None  # reported nothing
    city = a.row(a.month_table, CITY, ALL_DATASETS)
    assert city is not None and city["upstream_rejected"] == pytest.approx(1 / 4)
    ytd = a.row(a.ytd_table, "bbb", "cf")
    assert ytd is not None and (ytd["upstream_answered"], ytd["upstream_rejected"]) == (2, 0.0)  # B1 in February too
    html = render_report_html(a)
    assert "退回 1 条 / 有回执 3 条" in html and "33.3%" in html
    assert "上报模块未上线" not in html


def test_a_rejection_after_as_of_is_not_counted_yet(scenario: Engine) -> None:
    _push(scenario, rejected_at=at(D(2025, 4, 10)))
    a = assess(scenario, "2025-03", departments=DEPTS, as_of=AS_OF, calendar=WorkdayCalendar({}))
    aaa = a.row(a.month_table, "aaa", "cf")
    assert aaa is not None and (aaa["upstream_answered"], aaa["upstream_returned"]) == (2, 0)  # A2: no receipt by then
    assert aaa["upstream_rejected"] == 0.0
    later = assess(scenario, "2025-03", departments=DEPTS, as_of=at(D(2025, 4, 11)), calendar=WorkdayCalendar({}))
    aaa_later = later.row(later.month_table, "aaa", "cf")
    # By 11 April A7 (decided 20 March, stored 5 April) is in the month too, but has no receipt.
    assert aaa_later is not None and (aaa_later["upstream_answered"], aaa_later["upstream_returned"]) == (3, 1)
