"""China's working-day calendar and the 7-working-day publication deadline (spec §5.1).

The deadline of a decision is the 7th working day *after* its decision date (the decision day itself is
not counted, 民法典 Art. 201). A decision dated on a day off counts as made on the next working day, which
is not counted either: that is how ``chinese_calendar.find_workday(7, date)`` counts, and it gives the
spec's verified example 2024-10-01 (a holiday) → 2024-10-16. Working days follow the State Council's holiday schedule, including the
weekend make-up working days (调休).

Where each day's status comes from, decided per year, in order (docs/assessment.md explains the choice):

1. ``override``: the override file (``reports/holidays.yaml``, or ``SGS_HOLIDAYS_FILE``): one entry per year
   that a person adds when the State Council publishes the next year's schedule (usually November–December);
2. ``chinese_calendar``: the primary library, for the years it knows (2004–2026 with the pinned 1.11.0);
3. ``holidays``: the ``holidays`` package (vacanza), for a year whose State Council notice it has — it holds the
   notices' make-up working days, so a year with at least one weekend working day there is an official one;
4. ``statutory`` (**provisional**): ``holidays``' statutory days off for a year without a notice — the days of
   《全国年节及纪念日放假办法》 (as amended by State Council Order 795 from 2025) and, per its Art. 6, a
   weekday off in lieu of a holiday that falls on a weekend — but not the notice's 调休 (bridging days off and
   the weekend days worked in exchange), which nobody can know before the notice;
5. ``weekdays`` (**provisional**): Monday–Friday, for a year no source knows (before 1950, after 2100).

Deadlines that touch a provisional year are marked so that reports can say so loudly. An unknown year never
raises: an assessment must not stop because the calendar is a year behind.

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

from national.clock import today_shanghai

#: Working days between the decision date (not counted) and the publication deadline (spec §5.1).
DEADLINE_WORKDAYS = 7
DEFAULT_HOLIDAYS_FILE = Path(__file__).with_name("holidays.yaml")

#: Where a year's working days come from (see the module docstring), from most to least authoritative.
DaySource = Literal["override", "chinese_calendar", "holidays", "statutory", "weekdays"]
#: Sources that are not a State Council arrangement: deadlines counted with them are provisional.
PROVISIONAL_SOURCES: frozenset[str] = frozenset({"statutory", "weekdays"})
#: How a provisional deadline was counted (Chinese, for reports), per source.
BASIS_NAMES: dict[str, str] = {
    "statutory": "按法定节假日（含周末补假）临时推算，未计调休",
    "weekdays": "按周一至周五临时推算",
}
#: The same, short, for a table cell.
BASIS_LABELS: dict[str, str] = {
    "statutory": "临时：按法定节假日推算（未计调休）",
    "weekdays": "临时：按周一至周五推算",
}
#: From this day of the year (month, day) operators are warned when next year's arrangement is missing:
#: the State Council usually publishes it in November.
WARN_FROM: tuple[int, int] = (11, 1)


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
    #: Years without an official arrangement that the count ran through (empty unless ``provisional``).
    unknown_years: tuple[int, ...] = ()
    #: The least authoritative source used while counting: ``statutory`` or ``weekdays`` when provisional.
    basis: DaySource = "chinese_calendar"


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


def overrides_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The override file: ``path``, else ``SGS_HOLIDAYS_FILE``, else ``reports/holidays.yaml``."""
    return Path(path or os.environ.get("SGS_HOLIDAYS_FILE") or DEFAULT_HOLIDAYS_FILE)


def load_overrides(path: str | os.PathLike[str] | None = None) -> dict[int, YearSchedule]:
    """Read the override file (default: ``SGS_HOLIDAYS_FILE`` or ``reports/holidays.yaml``).

    A missing default file means "no overrides"; a file that was named explicitly must exist.
    """
    explicit = path is not None or bool(os.environ.get("SGS_HOLIDAYS_FILE"))
    p = overrides_path(path)
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


def _chinese_calendar_knows(year: int) -> bool:
    """Whether chinese-calendar has the State Council's arrangement of ``year``."""
    import chinese_calendar

    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=512)
def holidays_schedule(year: int) -> tuple[YearSchedule, bool] | None:
    """``year`` from the ``holidays`` package: (days off and weekend working days, whether it has the year's
    State Council notice), or ``None`` when the package is missing or knows nothing of the year.

    The days off are what ``holidays.country_holidays("CN")`` lists (public category, with the in-lieu days
    of 放假办法 Art. 6 and, where it has the notice, the notice's bridging days). A notice's make-up working
    days are its ``weekend_workdays``; they are the sign that the year's notice is in the package (every
    notice of 2001–2026 has some in its own year; the package also lists a few make-up days of other years,
    whatever year is asked for, so only the year's own count). A make-up day may fall in the previous year (2001-12-29 for the 2002
    New Year), so the next year is built too. Dates the package marks as estimated make the year unknown.
    """
    try:
        import holidays
    except ImportError:  # the calendar still works (provisionally) without the second source
        return None
    try:
        own = holidays.country_holidays("CN", years=year, language="en_US")
        both = holidays.country_holidays("CN", years=(year, year + 1))
    except (NotImplementedError, KeyError, ValueError):
        return None
    if not own or any("estimated" in name for name in own.values()):
        return None
    off = frozenset(d for d in both if d.year == year)
    work = frozenset(d for d in both.weekend_workdays if d.year == year)
    official = any(d.year == year for d in own.weekend_workdays)
    return YearSchedule(year, off, work), official


class WorkdayCalendar:
    """Working days from the override file, chinese-calendar, holidays, or (provisionally) the statute or
    Monday–Friday."""

    def __init__(
        self,
        overrides: Mapping[int, YearSchedule] | None = None,
        *,
        use_chinese_calendar: bool = True,
        use_holidays: bool = True,
    ) -> None:
        """``use_chinese_calendar`` / ``use_holidays``: consult that library (both by default; turning one off
        shows what the other alone would give, which the tests compare)."""
        self.overrides: dict[int, YearSchedule] = dict(overrides or {})
        self.use_chinese_calendar = use_chinese_calendar
        #: Whether the ``holidays`` package is consulted for years chinese-calendar does not know.
        self.use_holidays = use_holidays
        #: The override file this calendar was read from (named in operators' messages), if any.
        self.overrides_file: Path | None = None
        # Per-instance caches: a report computes deadlines for many records but few distinct dates.
        self._year = lru_cache(maxsize=512)(self._year_uncached)
        self._day = lru_cache(maxsize=8192)(self._day_uncached)
        self._deadline = lru_cache(maxsize=65536)(self._deadline_uncached)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str] | None = None) -> WorkdayCalendar:
        """A calendar with the override file (see :func:`load_overrides`)."""
        cal = cls(load_overrides(path))
        cal.overrides_file = overrides_path(path)
        return cal

    def year_source(self, year: int) -> DaySource:
        """Where ``year``'s working days come from (see the module docstring)."""
        return self._year(year)[0]

    def _year_uncached(self, year: int) -> tuple[DaySource, YearSchedule | None]:
        sched = self.overrides.get(year)
        if sched is not None:
            return "override", sched
        if self.use_chinese_calendar and _chinese_calendar_knows(year):
            return "chinese_calendar", None
        second = holidays_schedule(year) if self.use_holidays else None
        if second is not None:
            return ("holidays" if second[1] else "statutory"), second[0]
        return "weekdays", None

    def _day_uncached(self, day: dt.date) -> tuple[bool, DaySource]:
        source, sched = self._year(day.year)
        if source == "chinese_calendar":
            import chinese_calendar

            return bool(chinese_calendar.is_workday(day)), source
        if sched is not None:
            if day in sched.workdays:
                return True, source
            return (day.weekday() < 5 and day not in sched.holidays), source
        return day.weekday() < 5, source

    def day_status(self, day: dt.date) -> tuple[bool, DaySource]:
        """Whether ``day`` is a working day, and where that answer comes from."""
        return self._day(day)

    def is_workday(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day (a provisional answer for unknown years; see :meth:`day_status`)."""
        return self._day(day)[0]

    def is_known_year(self, year: int) -> bool:
        """Whether ``year`` has the State Council's arrangement (override file, chinese-calendar or holidays)."""
        return self.year_source(year) not in PROVISIONAL_SOURCES

    def missing_arrangements(self, today: dt.date | None = None) -> list[int]:
        """Years whose arrangement operators must add now: this year if it is missing, and from 1 November
        (:data:`WARN_FROM`) next year if it is missing. ``today``: Asia/Shanghai's date by default."""
        today = today or today_shanghai()
        years = [today.year]
        if (today.month, today.day) >= WARN_FROM:
            years.append(today.year + 1)
        return [y for y in years if not self.is_known_year(y)]

    def add_workdays(self, start: dt.date, n: int) -> Deadline:
        """The ``n``-th working day after ``start`` (``start`` itself not counted; a ``start`` on a day off is
        moved to the next working day first, which is not counted either); ``n >= 1``."""
        if n < 1:
            raise ValueError("n 必须是正整数")
        return self._deadline(start, n)

    def _deadline_uncached(self, start: dt.date, n: int) -> Deadline:
        day, count, unknown, sources = start, 0, set(), set()
        # A decision dated on a day off counts as made on the next working day, which is itself not
        # counted: this is chinese-calendar's find_workday(n, date) and the spec's verified example
        # (decided 2024-10-01, a holiday → deadline 2024-10-16, not 10-15).
        while True:
            ok, source = self._day(day)
            sources.add(source)
            if source in PROVISIONAL_SOURCES:
                unknown.add(day.year)
            if ok:
                break
            day += dt.timedelta(days=1)
        while count < n:
            day += dt.timedelta(days=1)
            ok, source = self._day(day)
            sources.add(source)
            if source in PROVISIONAL_SOURCES:
                unknown.add(day.year)
            if ok:
                count += 1
        order: tuple[DaySource, ...] = ("weekdays", "statutory", "holidays", "chinese_calendar", "override")
        basis = next(s for s in order if s in sources)
        return Deadline(day, bool(unknown), tuple(sorted(unknown)), basis)

    def publication_deadline(self, decision_date: dt.date, workdays: int = DEADLINE_WORKDAYS) -> Deadline:
        """The date by which a decision of ``decision_date`` must be published (spec §5.1)."""
        return self.add_workdays(decision_date, workdays)


def arrangement_warning(calendar: WorkdayCalendar, today: dt.date | None = None) -> str | None:
    """The operators' warning (Chinese) when this year's arrangement is missing, or next year's from 1 November;
    ``None`` when nothing is missing. Shown by ``sgs status``, the report and the dashboard."""
    missing = calendar.missing_arrangements(today)
    if not missing:
        return None
    years = "、".join(f"{y} 年" for y in missing)
    how = "；".join(f"{y} 年的工作日目前{BASIS_NAMES[calendar.year_source(y)]}" for y in missing)
    target = calendar.overrides_file or "reports/holidays.yaml（或 SGS_HOLIDAYS_FILE 所指文件）"
    return (
        f"工作日历缺少 {years}的国务院节假日安排：{how}，涉及这些年份的公示截止日期和及时率都是临时的。"
        f"请在国务院办公厅发布《关于{missing[0]}年部分节假日安排的通知》后，把放假日期和调休上班日期录入 {target}"
        "（格式见文件开头的说明），或升级 chinese-calendar / holidays 到已收录该年的版本，再重新生成考核报告。"
    )


@lru_cache(maxsize=1)
def default_calendar() -> WorkdayCalendar:
    """The calendar with the default override file (cached per process; build your own to reload)."""
    return WorkdayCalendar.from_file()


def publication_deadline(decision_date: dt.date, calendar: WorkdayCalendar | None = None) -> Deadline:
    """The 7th working day after ``decision_date`` (see :class:`WorkdayCalendar`)."""
    return (calendar or default_calendar()).publication_deadline(decision_date)
