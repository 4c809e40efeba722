"""The assessment indicators and the monthly report, on a store built through the real loader with
controlled arrival times (so every expected number below is worked out by hand from the scenario)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from reports.build import write_report
from reports.indicators import ALL_DATASETS, CITY, assess, parse_month, previous_month
from reports.workdays import WorkdayCalendar
from tests.reports.scenario import AS_OF, DEPTS, SECRET_ID, D, at, build_scenario, load, penalty


@pytest.fixture
def scenario(sqlite_store: Engine) -> Engine:
    return build_scenario(sqlite_store)

def test_month_helpers() -> None:
    assert parse_month("2025-03") == (D(2025, 3, 1), D(2025, 3, 31))
    assert parse_month("2024-02")[1] == D(2024, 2, 29)
    assert previous_month(D(2026, 1, 15)) == "2025-12"
    for bad in ("2025-13", "2025-3", "25-03", "", "2025/03"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            parse_month(bad)


def test_indicators_per_department_month_and_year(scenario: Engine) -> None:
    a = assess(scenario, "2025-03", departments=DEPTS, as_of=AS_OF, calendar=WorkdayCalendar({}))
    aaa = a.row(a.month_table, "aaa", "cf")
    assert aaa is not None
    assert (aaa["records"], aaa["stored"]) == (6, 3)  # A1–A6; A7 arrived after as_of
    assert (aaa["on_time"], aaa["late"], aaa["missing"], aaa["pending"]) == (2, 1, 2, 1)
    assert aaa["timeliness"] == pytest.approx(2 / 5)
    assert aaa["completeness"] == pytest.approx(3 / 6)  # A4, A5 lack a required field; A6 lacks 文书号
    assert aaa["accuracy"] == pytest.approx(2 / 6)  # only A1 and A2 passed on first arrival
    assert aaa["upstream_rejected"] is None

    bbb = a.row(a.month_table, "bbb", "cf")
    assert bbb is not None and (bbb["records"], bbb["timeliness"], bbb["completeness"], bbb["accuracy"]) == (1, 1.0, 1.0, 1.0)
    city = a.row(a.month_table, CITY, ALL_DATASETS)
    assert city is not None and city["records"] == 7 and city["timeliness"] == pytest.approx(3 / 6)

    ytd_bbb = a.row(a.ytd_table, "bbb", "cf")
    assert ytd_bbb is not None and ytd_bbb["records"] == 2

    # ccc is configured for both datasets and reported nothing; aaa/bbb are not configured for xk.
    assert sorted(zip(a.silent["department"], a.silent["dataset"], strict=True)) == [("ccc", "cf"), ("ccc", "xk")]

    overdue = a.overdue.set_index("wsh")
    assert len(overdue) == 3
    masked = f"罚〔2025〕{SECRET_ID[:6]}********{SECRET_ID[-4:]}号"
    assert overdue.loc[masked, "status"] == "late" and overdue.loc[masked, "days_late"] == 8
    assert overdue.loc["罚〔2025〕4号", "status"] == "missing" and overdue.loc["罚〔2025〕4号", "days_late"] == 14
    assert overdue.loc["罚〔2025〕4号", "deadline"] == D(2025, 3, 19)

    trend = a.trend[(a.trend["department"] == CITY)].set_index("month")
    assert trend.loc["2025-02", "records"] == 1 and trend.loc["2025-03", "records"] == 7
    assert trend.loc["2024-04", "records"] == 0 and trend.loc["2024-04", "timeliness"] is None

    fb = a.feedback.set_index("department")
    # Open as of 2 April: A4 (22 days old, over the 7-day limit), A5 and A6; A3 was fixed on 10 March.
    assert fb.loc["aaa", "open_items"] == 3 and fb.loc["aaa", "overdue_items"] == 2
    assert set(a.top_rules["rule"]) == {"CF-REQ-003"}
    assert a.provisional_years == []


def test_as_of_reproduces_an_earlier_state(scenario: Engine) -> None:
    early = assess(scenario, "2025-03", departments=DEPTS, as_of=at(D(2025, 3, 8)), calendar=WorkdayCalendar({}))
    aaa = early.row(early.month_table, "aaa", "cf")
    assert aaa is not None and aaa["records"] == 1  # only A3, still in quarantine; A1 and A2 arrived later
    assert (aaa["stored"], aaa["pending"], aaa["assessed"]) == (0, 1, 0) and aaa["timeliness"] is None
    assert aaa["accuracy"] == 0.0 and aaa["completeness"] == 0.0
    fb = early.feedback.set_index("department")
    assert fb.loc["aaa", "open_items"] == 1  # A3's entry, resolved only on 10 March


def test_timeliness_from_exempts_the_backlog(scenario: Engine) -> None:
    from reports.settings import ReportSettings

    s = ReportSettings(timeliness_from=D(2025, 3, 6))
    a = assess(scenario, "2025-03", departments=DEPTS, as_of=AS_OF, settings=s, calendar=WorkdayCalendar({}))
    aaa = a.row(a.month_table, "aaa", "cf")
    assert aaa is not None and (aaa["assessed"], aaa["on_time"]) == (2, 0)  # only A4 and A6 remain: both missing


def test_unknown_year_is_flagged_in_the_report(sqlite_store: Engine, tmp_path: Path) -> None:
    # The first year chinese-calendar does not know (2027 with the pinned version; later after an upgrade).
    y = next(y for y in range(2026, 2200) if not WorkdayCalendar({}).is_known_year(y))
    load(sqlite_store, "aaa", "1", penalty(f"罚〔{y - 1}〕1号", D(y - 1, 12, 28)), at(D(y - 1, 12, 29)))
    a = assess(sqlite_store, f"{y - 1}-12", departments=DEPTS, as_of=at(D(y, 1, 20)), calendar=WorkdayCalendar({}))
    assert a.provisional_years == [y] and a.provisional_records == 1
    html = write_report(sqlite_store, f"{y - 1}-12", tmp_path, departments=DEPTS, as_of=at(D(y, 1, 20)),
                        calendar=WorkdayCalendar({})).read_text(encoding="utf-8")
    assert 'id="provisional-warning"' in html and f"{y} 年的国务院节假日安排" in html
    # as_of is in January of the unknown year: operators are told to add it, with the file to edit.
    assert 'id="calendar-warning"' in html and f"缺少 {y} 年的国务院节假日安排" in html


def test_2026_12_31_in_the_report(sqlite_store: Engine, tmp_path: Path) -> None:
    """A decision of 2026-12-31 published on 2027-01-12 is on time (1 January 2027 is a statutory day off);
    the old Monday–Friday fallback made it late. Every report marks the deadline provisional while 2027 has
    no State Council arrangement, and the report written after 1 November 2026 tells operators to add it."""
    from openpyxl import load_workbook

    load(sqlite_store, "aaa", "1", penalty("罚〔2026〕9号", D(2026, 12, 31)), at(D(2027, 1, 12)))
    load(sqlite_store, "aaa", "2", penalty("罚〔2026〕10号", D(2026, 12, 31)), at(D(2027, 1, 13)))
    as_of = at(D(2027, 1, 20))
    cal = WorkdayCalendar({})
    a = assess(sqlite_store, "2026-12", departments=DEPTS, as_of=as_of, calendar=cal)
    row = a.row(a.month_table, "aaa", "cf")
    assert row is not None and (row["on_time"], row["late"]) == (1, 1)
    old = assess(sqlite_store, "2026-12", departments=DEPTS, as_of=as_of,
                 calendar=WorkdayCalendar({}, use_holidays=False) if not cal.is_known_year(2027) else cal)
    if not cal.is_known_year(2027):
        old_row = old.row(old.month_table, "aaa", "cf")
        assert old_row is not None and (old_row["on_time"], old_row["late"]) == (0, 2)  # the defect of issue 17
        assert a.provisional_years == [2027] and a.provisional_records == 2 and a.provisional_basis == {2027: "statutory"}
        html = write_report(sqlite_store, "2026-12", tmp_path, departments=DEPTS, as_of=as_of,
                            calendar=cal).read_text(encoding="utf-8")
        assert 'id="provisional-warning"' in html and "按法定节假日（含周末补假）临时推算，未计调休" in html
        assert "其中临时截止日期" in html and "临时：按法定节假日推算（未计调休）" in html  # table column, overdue row
        assert 'id="calendar-warning"' in html
        wb = load_workbook(tmp_path / "sgs-assessment-2026-12.xlsx")
        notes = [c.value for c in wb["说明"]["A"]]
        assert "临时截止日期" in notes and "工作日历" in notes
        assert "其中临时截止日期" in [c.value for c in wb["本月指标"][1]]
        assert "临时：按法定节假日推算（未计调休）" in [c.value for c in wb["逾期记录"]["K"]]


def test_calendar_warning_from_1_november(sqlite_store: Engine, tmp_path: Path) -> None:
    y = next(y for y in range(2026, 2200) if not WorkdayCalendar({}).is_known_year(y))
    load(sqlite_store, "aaa", "1", penalty(f"罚〔{y - 1}〕1号", D(y - 1, 10, 9)), at(D(y - 1, 10, 10)))
    for as_of, warned in ((at(D(y - 1, 10, 31)), False), (at(D(y - 1, 11, 1)), True)):
        html = write_report(sqlite_store, f"{y - 1}-10", tmp_path, departments=DEPTS, as_of=as_of,
                            calendar=WorkdayCalendar({})).read_text(encoding="utf-8")
        assert ('id="calendar-warning"' in html) == warned, as_of
        assert 'id="provisional-warning"' not in html  # October's deadlines are all inside the known year


def test_write_report_html_and_workbook(scenario: Engine, tmp_path: Path) -> None:
    html_path = write_report(scenario, "2025-03", tmp_path / "out", departments=DEPTS, as_of=AS_OF,
                             calendar=WorkdayCalendar({}))
    assert html_path.name == "sgs-assessment-2025-03.html"
    html = html_path.read_text(encoding="utf-8")
    for text in ("双公示数据考核报告（2025年3月）", "测试市场监督管理局", "测试卫生健康委员会", "及时率", "完整率", "准确率",
                 "40.0%", "50.0%", "<svg", "逾期未入库", "sgs-assessment-2025-03.xlsx"):
        assert text in html, text
    assert 'id="provisional-warning"' not in html
    assert "<script" not in html

    xlsx = tmp_path / "out" / "sgs-assessment-2025-03.xlsx"
    from openpyxl import load_workbook

    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["说明", "本月指标", "年度累计", "月度趋势", "逾期记录", "未报送部门", "问题数据", "问题规则", "申报核对",
                             "目录外许可"]
    overdue = list(wb["逾期记录"].iter_rows(values_only=True))
    assert overdue[0][0] == "部门" and len(overdue) == 1 + 3
    header = list(next(wb["本月指标"].iter_rows(values_only=True)))
    rows = {(r[0], r[1]): r for r in wb["本月指标"].iter_rows(min_row=2, values_only=True)}
    assert rows[("测试市场监督管理局", "行政处罚")][header.index("及时率")] == pytest.approx(0.4)

    # No ID number anywhere: not in the HTML, not in any part of the workbook.
    assert SECRET_ID not in html
    with zipfile.ZipFile(xlsx) as z:
        assert all(SECRET_ID not in z.read(n).decode("utf-8", "ignore") for n in z.namelist())
    assert not list((tmp_path / "out").glob(".*.tmp"))
