"""The working-day calendar and the 7-working-day publication deadline (spec §5.1)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reports.workdays import HolidayFileError, WorkdayCalendar, load_overrides, publication_deadline

D = dt.date
#: The first year chinese-calendar (and no override) knows nothing of: 2027 with the pinned 1.11.0, later once
#: the library is upgraded. Tests of the provisional calendar use it instead of assuming a fixed year.
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
    monday = first_monday_of_march(y)
    assert cal.day_status(monday) == (True, "provisional")
    got = cal.publication_deadline(monday)  # a Monday: weekdays only → Wednesday next week
    assert got.date == monday + dt.timedelta(days=9) and got.provisional and got.unknown_years == (y,)
    # A decision on the last working days of the known year runs into the unknown one: provisional too.
    crossing = cal.publication_deadline(D(y - 1, 12, 29))
    assert crossing.provisional and crossing.unknown_years == (y,)
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
