"""China's working-day calendar and the 7-working-day publication deadline (spec §5.1).

The deadline of a decision is the 7th working day *after* its decision date (the decision day itself is
not counted, 民法典 Art. 201). A decision dated on a day off counts as made on the next working day, which
is not counted either: that is how ``chinese_calendar.find_workday(7, date)`` counts, and it gives the
spec's verified example 2024-10-01 (a holiday) → 2024-10-16. Working days follow the State Council's holiday schedule, including the
weekend make-up working days (调休).

Where each day's status comes from, in order:

1. the override file (``reports/holidays.yaml``, or ``SGS_HOLIDAYS_FILE``): one entry per year that a person
   adds when the State Council publishes the next year's schedule (usually November–December), because the
   pinned ``chinese-calendar`` only knows 2004–2026;
2. ``chinese-calendar`` for the years it knows;
3. otherwise Monday–Friday, and the result is marked **provisional** so that reports can say so loudly.
   An unknown year never raises: an assessment must not stop because the calendar is a year behind.

The module is named ``workdays`` rather than ``calendar`` so that it can never shadow the standard
library's ``calendar`` (which pandas imports) when someone runs a script from inside ``reports/``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

#: Working days between the decision date (not counted) and the publication deadline (spec §5.1).
DEADLINE_WORKDAYS = 7
DEFAULT_HOLIDAYS_FILE = Path(__file__).with_name("holidays.yaml")

DaySource = Literal["override", "chinese_calendar", "provisional"]


class HolidayFileError(ValueError):
    """The override file cannot be used; the message names the file, the year and what to fix."""


@dataclass(frozen=True)
class YearSchedule:
    """One year's official schedule: days off that fall on weekdays, and weekend days that are worked.

    Listing a weekend day under ``holidays`` is allowed (it is a day off anyway), so a person can copy the
    State Council notice's date ranges as they are.
    """

    year: int
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    workdays: frozenset[dt.date] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Deadline:
    """A publication deadline and whether it rests on a guessed (weekday-only) calendar."""

    date: dt.date
    provisional: bool
    #: Years whose schedule was guessed while counting (empty unless ``provisional``).
    unknown_years: tuple[int, ...] = ()


def _as_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise HolidayFileError(f"{where}: {value!r} 不是日期（请写成 YYYY-MM-DD）") from None


def _expand(items: Iterable[object], where: str) -> set[dt.date]:
    """Dates, or ranges written ``YYYY-MM-DD..YYYY-MM-DD`` (inclusive), as a State Council notice lists them."""
    out: set[dt.date] = set()
    for item in items:
        if isinstance(item, str) and ".." in item:
            lo_s, hi_s = item.split("..", 1)
            lo, hi = _as_date(lo_s, where), _as_date(hi_s, where)
            if hi < lo:
                raise HolidayFileError(f"{where}: 区间 {item!r} 的结束日期早于开始日期")
            out.update(lo + dt.timedelta(days=k) for k in range((hi - lo).days + 1))
        else:
            out.add(_as_date(item, where))
    return out


def load_overrides(path: str | os.PathLike[str] | None = None) -> dict[int, YearSchedule]:
    """Read the override file (default: ``SGS_HOLIDAYS_FILE`` or ``reports/holidays.yaml``).

    A missing default file means "no overrides"; a file that was named explicitly must exist.
    """
    explicit = path is not None or bool(os.environ.get("SGS_HOLIDAYS_FILE"))
    p = Path(path or os.environ.get("SGS_HOLIDAYS_FILE") or DEFAULT_HOLIDAYS_FILE)
    if not p.exists():
        if explicit:
            raise HolidayFileError(f"找不到节假日文件 {p}")
        return {}
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, ValueError) as exc:  # YAML turns 2027-02-30 into a ValueError while parsing
        raise HolidayFileError(
            f"节假日文件 {p} 无法读取（YAML 格式错误，或有不是日期的值；日期请写成 YYYY-MM-DD）：{exc}"
        ) from None
    years = data.get("years") if isinstance(data, dict) else None
    if years is None:
        return {}
    if not isinstance(years, dict):
        raise HolidayFileError(f"节假日文件 {p}：years 应是“年份: {{holidays: [...], workdays: [...]}}”的键值对")
    out: dict[int, YearSchedule] = {}
    for key, entry in years.items():
        try:
            year = int(key)
        except (TypeError, ValueError):
            raise HolidayFileError(f"节假日文件 {p}：{key!r} 不是年份") from None
        where = f"节假日文件 {p} 的 {year} 年"
        if not isinstance(entry, dict) or set(entry) - {"holidays", "workdays", "source"}:
            raise HolidayFileError(f"{where}：只能有 holidays（放假日）、workdays（调休上班日）和 source（发文依据）")
        holidays = _expand(entry.get("holidays") or [], where)
        workdays = _expand(entry.get("workdays") or [], where)
        stray = sorted(d for d in holidays | workdays if d.year != year)
        if stray:
            raise HolidayFileError(f"{where}：日期 {stray[0]} 不属于 {year} 年")
        both = sorted(holidays & workdays)
        if both:
            raise HolidayFileError(f"{where}：{both[0]} 同时列为放假日和调休上班日")
        weekday_workdays = sorted(d for d in workdays if d.weekday() < 5)
        if weekday_workdays:
            raise HolidayFileError(f"{where}：调休上班日 {weekday_workdays[0]} 是工作日本身，只需列出周末上班的日子")
        out[year] = YearSchedule(year, frozenset(holidays), frozenset(workdays))
    return out


def _chinese_calendar_status(day: dt.date) -> bool | None:
    """Working day per chinese-calendar, or ``None`` when it has no data for the year."""
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


class WorkdayCalendar:
    """Working days from the override file, chinese-calendar, or (provisionally) Monday–Friday."""

    def __init__(self, overrides: Mapping[int, YearSchedule] | None = None) -> None:
        self.overrides: dict[int, YearSchedule] = dict(overrides or {})
        # Per-instance caches: a report computes deadlines for many records but few distinct dates.
        self._day = lru_cache(maxsize=8192)(self._day_uncached)
        self._deadline = lru_cache(maxsize=65536)(self._deadline_uncached)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str] | None = None) -> WorkdayCalendar:
        """A calendar with the override file (see :func:`load_overrides`)."""
        return cls(load_overrides(path))

    def _day_uncached(self, day: dt.date) -> tuple[bool, DaySource]:
        sched = self.overrides.get(day.year)
        if sched is not None:
            if day in sched.workdays:
                return True, "override"
            return (day.weekday() < 5 and day not in sched.holidays), "override"
        known = _chinese_calendar_status(day)
        if known is not None:
            return known, "chinese_calendar"
        return day.weekday() < 5, "provisional"

    def day_status(self, day: dt.date) -> tuple[bool, DaySource]:
        """Whether ``day`` is a working day, and where that answer comes from."""
        return self._day(day)

    def is_workday(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day (a provisional answer for unknown years; see :meth:`day_status`)."""
        return self._day(day)[0]

    def is_known_year(self, year: int) -> bool:
        """Whether ``year`` has an official schedule (override file or chinese-calendar)."""
        return self.day_status(dt.date(year, 6, 1))[1] != "provisional"

    def add_workdays(self, start: dt.date, n: int) -> Deadline:
        """The ``n``-th working day after ``start`` (``start`` itself not counted; a ``start`` on a day off is
        moved to the next working day first, which is not counted either); ``n >= 1``."""
        if n < 1:
            raise ValueError("n 必须是正整数")
        return self._deadline(start, n)

    def _deadline_uncached(self, start: dt.date, n: int) -> Deadline:
        day, count, unknown = start, 0, set()
        # A decision dated on a day off counts as made on the next working day, which is itself not
        # counted: this is chinese-calendar's find_workday(n, date) and the spec's verified example
        # (decided 2024-10-01, a holiday → deadline 2024-10-16, not 10-15).
        while True:
            ok, source = self._day(day)
            if source == "provisional":
                unknown.add(day.year)
            if ok:
                break
            day += dt.timedelta(days=1)
        while count < n:
            day += dt.timedelta(days=1)
            ok, source = self._day(day)
            if source == "provisional":
                unknown.add(day.year)
            if ok:
                count += 1
        return Deadline(day, bool(unknown), tuple(sorted(unknown)))

    def publication_deadline(self, decision_date: dt.date, workdays: int = DEADLINE_WORKDAYS) -> Deadline:
        """The date by which a decision of ``decision_date`` must be published (spec §5.1)."""
        return self.add_workdays(decision_date, workdays)


@lru_cache(maxsize=1)
def default_calendar() -> WorkdayCalendar:
    """The calendar with the default override file (cached per process; build your own to reload)."""
    return WorkdayCalendar.from_file()


def publication_deadline(decision_date: dt.date, calendar: WorkdayCalendar | None = None) -> Deadline:
    """The 7th working day after ``decision_date`` (see :class:`WorkdayCalendar`)."""
    return (calendar or default_calendar()).publication_deadline(decision_date)
