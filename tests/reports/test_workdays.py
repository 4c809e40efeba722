"""The working-day calendar and the 7-working-day publication deadline (spec §5.1)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reports.workdays import HolidayFileError, WorkdayCalendar, load_overrides, publication_deadline

D = dt.date


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
    assert not cal.is_known_year(2027)
    assert cal.day_status(D(2027, 3, 1)) == (True, "provisional")
    got = cal.publication_deadline(D(2027, 3, 1))  # a Monday: weekdays only → Wednesday next week
    assert got.date == D(2027, 3, 10) and got.provisional and got.unknown_years == (2027,)
    # A late-December 2026 decision runs into 2027: its deadline is provisional too.
    crossing = cal.publication_deadline(D(2026, 12, 29))
    assert crossing.provisional and crossing.unknown_years == (2027,)
    # Far future, far past: still an answer.
    assert cal.publication_deadline(D(2099, 12, 31)).provisional
    assert cal.publication_deadline(D(2001, 5, 1)).provisional


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


def test_packaged_override_file_loads() -> None:
    load_overrides(Path(__file__).resolve().parents[2] / "reports" / "holidays.yaml")


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
