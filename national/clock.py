"""The platform's one time zone and its "now"/"today".

Every decision date, publicity period, working-day count and report month of 双公示 is a date in
Asia/Shanghai (the city's legal time); the store keeps instants in UTC. This module is the single place
that names the zone: stages import it from here (``national`` is below every stage), the facade re-exports
it (``pipeline.settings``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

#: The platform's time zone (China Standard Time, no daylight saving).
SHANGHAI_NAME = "Asia/Shanghai"
SHANGHAI = ZoneInfo(SHANGHAI_NAME)


def now_utc() -> dt.datetime:
    """The current instant, time-zone aware, in UTC (what the store writes)."""
    return dt.datetime.now(dt.UTC)


def now_shanghai() -> dt.datetime:
    """The current instant, time-zone aware, in Asia/Shanghai."""
    return dt.datetime.now(SHANGHAI)


def today_shanghai() -> dt.date:
    """Today's date in Asia/Shanghai (never the machine's local date)."""
    return now_shanghai().date()


def local_text(value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant shown to a clerk: in Asia/Shanghai; a naive value is taken as UTC (how the store keeps it)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(SHANGHAI).strftime(fmt)
