"""The working-day calendar and the 7-working-day publication deadline (spec §5.1)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reports.workdays import (
    HolidayFileError,
    WorkdayCalendar,
    arrangement_warning,
    holidays_schedule,
    load_overrides,
    publication_deadline,
)

D = dt.date
#: The first year without a State Council arrangement in either library (and no override): 2027 with the
#: pinned chinese-calendar 1.11.0 and holidays 0.109, later once they are upgraded. Tests of the provisional
#: calendar use it instead of assuming a fixed year; the 2027 tests below hold whether or not 2027 is known.
UNKNOWN_YEAR = next(y for y in range(2026, 2200) if not WorkdayCalendar({}).is_known_year(y))


def first_monday_of_march(year: int) -> dt.date:
    day = D(year, 3, 1)
    return day + dt.timedelta(days=(7 - day.weekday()) % 7)


@pytest.fixture
def cal() -> WorkdayCalendar:
    return WorkdayCalendar({})  # chinese-calendar only: no override file


@pytest.mark.parametrize(
    ("decided", "deadline"),
    [
        (D(2024, 9, 27), D(2024, 10, 12)),  # spec: ends on a Saturday make-up working day (调休)
        (D(2025, 1, 24), D(2025, 2, 10)),  # spec: across the Spring Festival
        (D(2024, 10, 1), D(2024, 10, 16)),  # spec: decided on a holiday
        (D(2025, 3, 3), D(2025, 3, 12)),  # an ordinary week: Mon → Wed of the next week
    ],
)
def test_spec_examples(cal: WorkdayCalendar, decided: dt.date, deadline: dt.date) -> None:
    got = cal.publication_deadline(decided)
    assert got.date == deadline
    assert not got.provisional and got.unknown_years == ()


def test_agrees_with_chinese_calendar_find_workday_on_every_day_it_knows(cal: WorkdayCalendar) -> None:
    import chinese_calendar

    day = D(2023, 1, 1)
    while day <= D(2026, 12, 15):  # the last deadline must stay inside 2026, the last known year
        assert cal.publication_deadline(day).date == chinese_calendar.find_workday(7, day), day
        day += dt.timedelta(days=1)


def test_decided_on_a_day_off_counts_from_the_next_working_day(cal: WorkdayCalendar) -> None:
    # Saturday 2025-03-08: as if decided on Monday 10 March → 7 working days later is 19 March.
    assert cal.publication_deadline(D(2025, 3, 8)).date == D(2025, 3, 19)
    assert cal.publication_deadline(D(2025, 3, 10)).date == D(2025, 3, 19)


def test_holidays_and_make_up_days(cal: WorkdayCalendar) -> None:
    assert not cal.is_workday(D(2025, 10, 1))  # National Day, a Wednesday
    assert not cal.is_workday(D(2025, 1, 29))  # Spring Festival, a Wednesday
    assert cal.is_workday(D(2024, 10, 12))  # Saturday worked in exchange (调休)
    assert cal.is_workday(D(2025, 1, 26))  # Sunday worked before the 2025 Spring Festival
    assert not cal.is_workday(D(2024, 10, 19))  # an ordinary Saturday
    assert cal.is_workday(D(2025, 3, 4))  # an ordinary Tuesday
    assert cal.day_status(D(2025, 3, 4)) == (True, "chinese_calendar")


def test_the_decision_day_is_not_counted(cal: WorkdayCalendar) -> None:
    # Decided on a Monday: the first counted day is Tuesday, so one working day later is Tuesday.
    assert cal.add_workdays(D(2025, 3, 3), 1).date == D(2025, 3, 4)
    # Decided on a Friday: the next working day is Monday.
    assert cal.add_workdays(D(2025, 3, 7), 1).date == D(2025, 3, 10)
    with pytest.raises(ValueError):
        cal.add_workdays(D(2025, 3, 3), 0)


def test_year_boundary(cal: WorkdayCalendar) -> None:
    # 2025-12-26 (Fri): 29, 30, 31 Dec; 1–3 Jan 2026 off (元旦); 4 Jan (Sun) is a make-up day; 5, 6, 7 Jan.
    assert not cal.is_workday(D(2026, 1, 1)) and not cal.is_workday(D(2026, 1, 2))
    assert cal.is_workday(D(2026, 1, 4))
    got = cal.publication_deadline(D(2025, 12, 26))
    assert got.date == D(2026, 1, 7) and not got.provisional
    # Decided on New Year's Eve 2024: 2, 3, 6, 7, 8, 9, 10 Jan 2025 (1 Jan off, 4–5 Jan a weekend).
    assert cal.publication_deadline(D(2024, 12, 31)).date == D(2025, 1, 10)


def test_unknown_year_is_provisional_and_never_raises(cal: WorkdayCalendar) -> None:
    y = UNKNOWN_YEAR
    assert cal.is_known_year(y - 1) and not cal.is_known_year(y)
    assert cal.year_source(y) == "statutory"  # holidays knows the statute's days off of any year to 2100
    monday = first_monday_of_march(y)  # early March: no statutory holiday near
    assert cal.day_status(monday) == (True, "statutory")
    got = cal.publication_deadline(monday)  # a Monday → Wednesday next week
    assert got.date == monday + dt.timedelta(days=9) and got.provisional and got.unknown_years == (y,)
    assert got.basis == "statutory"
    # A decision on the last working days of the known year runs into the unknown one: provisional too.
    crossing = cal.publication_deadline(D(y - 1, 12, 29))
    assert crossing.provisional and crossing.unknown_years == (y,)
    # No source at all (after 2100, before 1950): Monday–Friday, still an answer.
    far = cal.publication_deadline(D(2101, 3, 7))
    assert far.provisional and far.basis == "weekdays" and cal.year_source(1900) == "weekdays"
    # holidays has the State Council notices from 2001: a year before chinese-calendar's is official.
    assert cal.year_source(2001) == "holidays" and not cal.publication_deadline(D(2001, 5, 1)).provisional


def test_override_file_adds_a_year(tmp_path: Path) -> None:
    f = tmp_path / "holidays.yaml"
    f.write_text(
        "years:\n"
        "  2027:\n"
        "    source: 测试\n"
        "    holidays: [2027-01-01, 2027-02-08..2027-02-12]\n"
        "    workdays: [2027-02-07]\n",
        encoding="utf-8",
    )
    cal = WorkdayCalendar.from_file(f)
    assert cal.is_known_year(2027)
    assert not cal.is_workday(D(2027, 2, 10)) and cal.is_workday(D(2027, 2, 7))
    assert cal.day_status(D(2027, 2, 7)) == (True, "override")
    # 2027-02-05 (Fri): 7 Feb (Sun, worked), 8–12 off, then 15, 16, 17, 18, 19, 22.
    got = cal.publication_deadline(D(2027, 2, 5))
    assert got.date == D(2027, 2, 22) and not got.provisional


def test_override_file_wins_over_chinese_calendar(tmp_path: Path) -> None:
    f = tmp_path / "h.yaml"
    f.write_text("years:\n  2025:\n    holidays: [2025-03-04]\n", encoding="utf-8")
    cal = WorkdayCalendar.from_file(f)
    assert not cal.is_workday(D(2025, 3, 4))
    assert cal.publication_deadline(D(2025, 3, 3)).date == D(2025, 3, 13)


def test_override_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "h.yaml"
    f.write_text("years:\n  2028:\n    holidays: [2028-01-03]\n", encoding="utf-8")
    monkeypatch.setenv("SGS_HOLIDAYS_FILE", str(f))
    assert set(load_overrides()) == {2028}
    monkeypatch.setenv("SGS_HOLIDAYS_FILE", str(tmp_path / "missing.yaml"))
    with pytest.raises(HolidayFileError, match="找不到"):
        load_overrides()


def test_packaged_override_file_loads_and_its_example_is_valid(tmp_path: Path) -> None:
    packaged = Path(__file__).resolve().parents[2] / "reports" / "holidays.yaml"
    overrides = load_overrides(packaged)
    # Every year it lists is one chinese-calendar does not know (a listed year overrides the library).
    assert all(not WorkdayCalendar({}).is_known_year(y) for y in overrides), sorted(overrides)
    # The commented example the file shows operators parses to what its comment says.
    lines = packaged.read_text(encoding="utf-8").splitlines()
    start = lines.index("# years:")
    example = [ln[2:] for ln in lines[start:] if ln.startswith("# ")]
    f = tmp_path / "example.yaml"
    f.write_text("\n".join(example) + "\n", encoding="utf-8")
    (year, schedule), = load_overrides(f).items()
    cal = WorkdayCalendar({year: schedule})
    assert year == 2027
    assert not cal.is_workday(D(2027, 1, 1))
    assert [cal.is_workday(D(2027, 2, d)) for d in range(6, 13)] == [False] * 7  # the range, both ends included
    assert cal.is_workday(D(2027, 2, 14))  # a Sunday worked (调休)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("years:\n  2027:\n    holidays: [2027-02-30]\n", "不是日期"),
        ("years:\n  2027:\n    workdays: [2027-03-01]\n", "工作日本身"),
        ("years:\n  2027:\n    holidays: [2027-02-07]\n    workdays: [2027-02-07]\n", "同时"),
        ("years:\n  2027:\n    holidays: [2028-01-01]\n", "不属于"),
        ("years:\n  2027:\n    holiday: [2027-01-01]\n", "只能有"),
        ("years:\n  20x7: {}\n", "不是年份"),
        ("years: [1, 2]\n", "键值对"),
    ],
)
def test_override_file_errors_name_the_problem(tmp_path: Path, body: str, message: str) -> None:
    f = tmp_path / "h.yaml"
    f.write_text(body, encoding="utf-8")
    with pytest.raises(HolidayFileError, match=message):
        load_overrides(f)


def test_module_level_helper_uses_the_default_calendar() -> None:
    assert publication_deadline(D(2024, 9, 27)).date == D(2024, 10, 12)


# --------------------------------------------------------------------------------------------------
# Beyond chinese-calendar: the holidays package (issue 17 item 7)


def test_2026_12_31_into_2027() -> None:
    """New Year's Day 2027 (a Friday) is a statutory day off whatever the notice says: the deadline of a
    decision on 2026-12-31 skips it. Monday–Friday alone (the old fallback) counted it and came out a day early."""
    cal = WorkdayCalendar({})
    assert not cal.is_workday(D(2027, 1, 1))
    got = cal.publication_deadline(D(2026, 12, 31))
    # 1 Jan off, 2–3 Jan a weekend; then 4, 5, 6, 7, 8, 11, 12 January.
    assert got.date == D(2027, 1, 12)
    assert got.provisional == (not cal.is_known_year(2027))
    if got.provisional:  # until a library or the override file has the 2027 notice
        assert got.unknown_years == (2027,) and got.basis == "statutory"
    weekdays_only = WorkdayCalendar({}, use_chinese_calendar=False, use_holidays=False)
    assert weekdays_only.publication_deadline(D(2026, 12, 31)).date == D(2027, 1, 11)  # the bug being fixed
    # A decision on Christmas Eve 2026 (Thu) runs into 2027 too: 25, 28, 29, 30, 31 Dec, (1 Jan off) 4, 5 Jan.
    assert cal.publication_deadline(D(2026, 12, 24)).date == D(2027, 1, 5)


def test_statutory_days_of_a_year_without_a_notice() -> None:
    """What the second source knows of a year without a notice: the statute's days off (2025 rules: 除夕 and
    1 May–2 May added) and Art. 6's weekday in lieu of one that falls on a weekend; no make-up working days."""
    sched, official = holidays_schedule(UNKNOWN_YEAR) or (None, None)
    assert sched is not None and official is False and sched.workdays == frozenset()
    y = UNKNOWN_YEAR
    assert D(y, 1, 1) in sched.holidays and D(y, 10, 1) in sched.holidays and D(y, 5, 2) in sched.holidays
    if y == 2027:
        # 春节 2027: 除夕 Fri 5 Feb, 6–8 Feb; 6 and 7 Feb fall on the weekend → Tue 9 and Wed 10 in lieu.
        assert {D(2027, 2, d) for d in (5, 6, 7, 8, 9, 10)} <= sched.holidays and D(2027, 2, 11) not in sched.holidays
        cal = WorkdayCalendar({})
        if not cal.is_known_year(2027):
            # Decided Thu 4 Feb 2027: 5–10 off; 11, 12, 15, 16, 17, 18, 19 Feb (statute only, no 调休 known).
            assert cal.publication_deadline(D(2027, 2, 4)).date == D(2027, 2, 19)


@pytest.mark.parametrize(
    ("decided", "deadline"),
    [
        (D(2024, 12, 27), D(2025, 1, 8)),  # across New Year 2025 (Wed 1 Jan only)
        (D(2024, 12, 31), D(2025, 1, 10)),
        (D(2025, 1, 24), D(2025, 2, 10)),  # Spring Festival 2025: 28 Jan–4 Feb off, Sun 26 Jan and Sat 8 Feb worked
        (D(2025, 1, 27), D(2025, 2, 12)),  # 5, 6, 7, 8 (Sat, worked), 10, 11, 12 Feb
        (D(2025, 4, 25), D(2025, 5, 8)),  # Labour Day 2025: Sun 27 Apr worked, 28–30 Apr, 1–5 May off, 6–8 May
        (D(2025, 9, 26), D(2025, 10, 13)),  # National Day 2025: Sun 28 Sep worked, 29–30 Sep, 1–8 Oct off, 9, 10, Sat 11 (worked), 13 Oct
        (D(2025, 12, 31), D(2026, 1, 12)),  # New Year 2026: 1–3 Jan off, Sun 4 Jan worked
    ],
)
def test_2024_2025_boundaries_agree_between_the_two_sources(decided: dt.date, deadline: dt.date) -> None:
    primary = WorkdayCalendar({})
    second = WorkdayCalendar({}, use_chinese_calendar=False)  # holidays alone, with the notices it has
    assert second.year_source(decided.year) == "holidays"
    for cal in (primary, second):
        got = cal.publication_deadline(decided)
        assert got.date == deadline and not got.provisional, (cal.year_source(decided.year), got)


def test_2024_and_2025_statutory_differences() -> None:
    """State Council Order 795 (from 2025): 除夕 and 2 May became statutory days off."""
    for cal in (WorkdayCalendar({}), WorkdayCalendar({}, use_chinese_calendar=False)):
        assert cal.is_workday(D(2024, 2, 9))  # 除夕 2024 (Fri) was a working day in the 2024 notice
        assert not cal.is_workday(D(2025, 1, 28))  # 除夕 2025 (Tue) a statutory holiday
        assert cal.is_workday(D(2024, 2, 4)) and cal.is_workday(D(2024, 2, 18))  # Sundays worked (调休)
        assert not cal.is_workday(D(2025, 5, 2))  # 2 May, statutory from 2025


def test_the_second_source_agrees_with_chinese_calendar_on_every_day_of_2024_to_2026() -> None:
    primary, second = WorkdayCalendar({}), WorkdayCalendar({}, use_chinese_calendar=False)
    day = D(2024, 1, 1)
    while day <= D(2026, 12, 31):
        assert primary.is_workday(day) == second.is_workday(day), day
        day += dt.timedelta(days=1)


def test_without_the_holidays_package_the_fallback_is_weekdays() -> None:
    cal = WorkdayCalendar({}, use_holidays=False)
    y = UNKNOWN_YEAR
    assert cal.year_source(y) == "weekdays" and cal.is_workday(D(y, 10, 1)) == (D(y, 10, 1).weekday() < 5)


def test_override_file_wins_over_the_holidays_package(tmp_path: Path) -> None:
    y = UNKNOWN_YEAR
    first_monday = first_monday_of_march(y)
    f = tmp_path / "h.yaml"
    f.write_text(f"years:\n  {y}:\n    holidays: [{first_monday + dt.timedelta(days=1)}]\n", encoding="utf-8")
    cal = WorkdayCalendar.from_file(f)
    assert cal.year_source(y) == "override" and cal.is_known_year(y)
    # Only what the file says: New Year's Day is not listed, so it is a working day unless on a weekend.
    assert cal.is_workday(D(y, 1, 1)) == (D(y, 1, 1).weekday() < 5)
    got = cal.publication_deadline(first_monday)
    assert got.date == first_monday + dt.timedelta(days=10) and not got.provisional


# --------------------------------------------------------------------------------------------------
# Operators' warning from 1 November


def test_next_years_arrangement_is_demanded_from_1_november() -> None:
    cal = WorkdayCalendar({})
    y = UNKNOWN_YEAR  # the year before is known (the first unknown year)
    assert cal.missing_arrangements(D(y - 1, 10, 31)) == [] and arrangement_warning(cal, D(y - 1, 10, 31)) is None
    assert cal.missing_arrangements(D(y - 1, 11, 1)) == [y]
    assert cal.missing_arrangements(D(y - 1, 12, 31)) == [y]
    # Still missing in the year itself: warned all year, and from November for the year after too.
    assert cal.missing_arrangements(D(y, 3, 1)) == [y]
    assert cal.missing_arrangements(D(y, 11, 1)) == [y, y + 1]
    text = arrangement_warning(cal, D(y - 1, 11, 1))
    assert text is not None
    assert f"缺少 {y} 年的国务院节假日安排" in text and "未计调休" in text and f"《关于{y}年部分节假日安排的通知》" in text
    assert "reports/holidays.yaml" in text


def test_the_warning_stops_once_the_override_file_has_the_year(tmp_path: Path) -> None:
    y = UNKNOWN_YEAR
    f = tmp_path / "h.yaml"
    f.write_text(f"years:\n  {y}:\n    holidays: [{y}-01-01]\n", encoding="utf-8")
    cal = WorkdayCalendar.from_file(f)
    assert cal.missing_arrangements(D(y - 1, 11, 20)) == [] and arrangement_warning(cal, D(y - 1, 11, 20)) is None
    # …and names the file it was read from while the year after is missing.
    assert str(f) in (arrangement_warning(cal, D(y, 11, 1)) or "")
