"""Date kinds: valid ``YYYY-MM-DD`` dates, bounds (a year, today, a floor) and the order of two dates."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from expectations.frame import NO_DATE, BoolArray, Frame, parse_dates
from expectations.kinds.registry import kind, skipped
from expectations.rules import Rule


@kind("date")
def _date(frame: Frame, rule: Rule) -> BoolArray:
    return frame.filled(rule.field) & (frame.dates(rule.field) == NO_DATE)


@kind("date_max_year")
def _date_max_year(frame: Frame, rule: Rule) -> BoolArray:
    return frame.years(rule.field) > int(rule.params.get("max_year", 2099))


@kind("date_not_after_today")
def _date_not_after_today(frame: Frame, rule: Rule) -> BoolArray:
    return frame.dates(rule.field) > frame.today_ordinal


@kind("date_not_before_today")
def _date_not_before_today(frame: Frame, rule: Rule) -> BoolArray:
    d = frame.dates(rule.field)
    return (d != NO_DATE) & (d < frame.today_ordinal)


@kind("date_floor")
def _date_floor(frame: Frame, rule: Rule) -> BoolArray:
    floor = rule.params["floor"]
    floor = floor if isinstance(floor, dt.date) else dt.date.fromisoformat(str(floor))
    d = frame.dates(rule.field)
    return (d != NO_DATE) & (d < floor.toordinal())


_RELATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@kind("date_order")
def _date_order(frame: Frame, rule: Rule) -> BoolArray:
    """Fails where both dates are valid and ``field <relation> other`` does not hold."""
    a, b = frame.dates(rule.field), frame.dates(rule.params["other"])
    rel = _RELATIONS[rule.params["relation"]]
    return (a != NO_DATE) & (b != NO_DATE) & ~rel(a, b)


def add_years(ordinal: int, years: int) -> int:
    """Same day-of-month ``years`` later; 29 Feb → 28 Feb when the target year is not leap (民法典 Art. 202)."""
    d = dt.date.fromordinal(ordinal)
    try:
        return d.replace(year=d.year + years).toordinal()
    except ValueError:
        return d.replace(year=d.year + years, day=28).toordinal()


@kind("date_within_years")
def _date_within_years(frame: Frame, rule: Rule) -> BoolArray:
    years = int(rule.params["years"])
    other = rule.params["other"]
    base = frame.dates(other)
    limit = frame.value_map(
        other,
        ("plus_years", years),
        lambda a: np.array([add_years(o, years) if o != NO_DATE else NO_DATE for o in parse_dates(a).tolist()]),
        dtype=np.int64,
        default=NO_DATE,
    )
    d = frame.dates(rule.field)
    return (d != NO_DATE) & (base != NO_DATE) & (limit != NO_DATE) & (d > limit) & ~skipped(frame, rule)
