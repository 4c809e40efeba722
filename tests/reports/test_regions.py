"""县区 totals and per-department backfill (issue 17 items 10 and 12), on hand-made records."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

from reports.indicators import CITY, DepartmentInfo, add_deadlines, region_key, summarise, timeliness_start
from reports.settings import ReportSettings
from reports.workdays import WorkdayCalendar

TZ = ZoneInfo("Asia/Shanghai")
INFOS = {
    "sj": DepartmentInfo("sj", "阳泉市某局", ("cf",)),
    "pd": DepartmentInfo("pd", "平定县某局", ("cf",), "县区", "140321", dt.date(2026, 9, 1)),
    "yx": DepartmentInfo("yx", "盂县某局", ("cf",), "县区", "140322"),
}


def records(rows: list[tuple[str, dt.date, dt.date | None]]) -> pd.DataFrame:
    """(department, decision date, local publication date or None) → the frame add_deadlines reads."""
    def at(d: dt.date | None) -> pd.Timestamp | None:
        return None if d is None else pd.Timestamp(dt.datetime.combine(d, dt.time(20), tzinfo=TZ)).tz_convert("UTC")

    return pd.DataFrame({
        "dataset": ["cf"] * len(rows), "department": [r[0] for r in rows], "decision_date": [r[1] for r in rows],
        "loaded_at": [at(r[2]) for r in rows], "published_at": [at(r[2]) for r in rows],
        "complete": [True] * len(rows), "first_pass": [True] * len(rows),
    })


def test_backfill_per_department_and_county_totals() -> None:
    settings = ReportSettings()
    as_of = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    frame = records([
        ("sj", dt.date(2026, 8, 3), dt.date(2026, 8, 4)),     # on time
        ("sj", dt.date(2026, 8, 3), dt.date(2026, 9, 30)),    # late
        ("pd", dt.date(2026, 8, 3), dt.date(2026, 9, 1)),     # before 平定 joined: backfill, not assessed
        ("pd", dt.date(2026, 9, 7), dt.date(2026, 9, 8)),     # on time
        ("yx", dt.date(2026, 9, 7), None),                    # never arrived: missing
    ])
    out = add_deadlines(frame, WorkdayCalendar.from_file(settings.holidays_file), settings, as_of, TZ, INFOS)
    assert out["status"].tolist() == ["on_time", "late", "exempt", "on_time", "missing"]
    table = summarise(out, INFOS)

    def row(dept: str) -> dict:
        return table[(table["department"] == dept) & (table["dataset"] == "all")].iloc[0].to_dict()

    assert (row("pd")["backfill"], row("pd")["assessed"], row("pd")["timeliness"]) == (1, 1, 1.0)
    assert row(region_key("140321"))["records"] == 2 and row(region_key("140321"))["backfill"] == 1
    assert row(region_key("140322"))["timeliness"] == 0.0
    assert row(region_key("140300"))["timeliness"] == 0.5  # the 市直 departments together
    assert (row(CITY)["records"], row(CITY)["assessed"], row(CITY)["on_time"], row(CITY)["backfill"]) == (5, 4, 2, 1)
    # Order: departments, the 市直 total, the 县区 totals by code, the city last.
    groups = [d for d in table["department"] if d not in INFOS]
    assert list(dict.fromkeys(groups)) == [region_key("140300"), region_key("140321"), region_key("140322"), CITY]


def test_only_city_departments_have_no_county_rows() -> None:
    infos = {"sj": INFOS["sj"]}
    settings = ReportSettings()
    out = add_deadlines(records([("sj", dt.date(2026, 8, 3), dt.date(2026, 8, 4))]),
                        WorkdayCalendar.from_file(settings.holidays_file), settings,
                        dt.datetime(2026, 11, 30, tzinfo=dt.UTC), TZ, infos)
    assert set(summarise(out, infos)["department"]) == {"sj", CITY}


def test_timeliness_start_is_the_later_date() -> None:
    platform = ReportSettings(timeliness_from=dt.date(2026, 1, 1))
    assert timeliness_start(platform, INFOS["pd"]) == dt.date(2026, 9, 1)
    assert timeliness_start(platform, INFOS["sj"]) == dt.date(2026, 1, 1)
    assert timeliness_start(ReportSettings(), INFOS["sj"]) is None
