"""Derived fields: the publicity period of a penalty (spec §5.2).

Periods follow 民法典 Art. 202: a period of N months or years ends on the same day of the end month,
or on that month's last day when it has no such day (2024-02-29 + 3 years = 2027-02-28). pandas'
``DateOffset`` does exactly this clamping, vectorised.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from national.text import title_and_number
from transforms.settings import MappingSettings

#: 《失信行为纠正后的信用信息修复管理办法（试行）》(国家发展改革委令第58号) applies from this date.
REGIME_2023_FROM = pd.Timestamp("2023-05-01")


def publicity_periods(
    decision_dates: pd.Series,
    mapping: MappingSettings,
    *,
    regime_2023_from: dt.date | None = None,
) -> pd.DataFrame:
    """Per penalty: ``publicity_end`` (the derived maximum) and ``repair_eligible_from`` (minimum).

    ``decision_dates`` holds canonical ``YYYY-MM-DD`` text (anything else yields no period). Severity
    (一般/严重失信) and the 特种设备/安全生产/消防 domain come from the department's mapping because the
    2019 template carries neither.
    """
    start = pd.to_datetime(decision_dates, format="%Y-%m-%d", errors="coerce")
    cut = pd.Timestamp(regime_2023_from) if regime_2023_from else REGIME_2023_FROM
    new = start >= cut
    serious = mapping.severity == "严重失信"

    max_2023 = start + pd.DateOffset(years=3)
    min_2023 = start + (pd.DateOffset(years=1) if mapping.special_domain else pd.DateOffset(months=3))
    max_2019 = start + pd.DateOffset(years=3 if serious else 1)
    min_2019 = start + pd.DateOffset(months=6 if serious else 3)

    end = max_2023.where(new, max_2019)
    repair = min_2023.where(new, min_2019)
    return pd.DataFrame(
        {
            "publicity_end": end.dt.strftime("%Y-%m-%d").astype(object).where(end.notna(), None),
            "repair_eligible_from": repair.dt.strftime("%Y-%m-%d").astype(object).where(repair.notna(), None),
        },
        index=decision_dates.index,
    )


def one_end_date(declared: pd.Series, periods: pd.DataFrame) -> pd.Series:
    """The ONE publicity end of each penalty: the date the column drops it, the CF_GSJZQ pushed upstream and
    the date ``sgs expire`` uses.

    The department's declared CF_GSJZQ where it is legal and shorter than the derived maximum — legal meaning a
    real date no earlier than ``repair_eligible_from`` (the rules' minimum: no removal can be granted before it,
    and CF_GSJZQ > CF_JDRQ [M] follows) and no later than the maximum; the derived maximum otherwise (a blank,
    an unreadable date, 2099-12-31 长期, a date beyond the maximum or before the minimum). A penalty without a
    decision date has no period: its declared value is kept as it is (the row is rejected by the catalogue).
    """
    maximum = pd.to_datetime(periods["publicity_end"], format="%Y-%m-%d", errors="coerce")
    minimum = pd.to_datetime(periods["repair_eligible_from"], format="%Y-%m-%d", errors="coerce")
    given = pd.to_datetime(declared, format="%Y-%m-%d", errors="coerce")
    legal = given.notna() & maximum.notna() & (given >= minimum) & (given <= maximum)
    out = periods["publicity_end"].astype(object).copy()
    out[legal] = declared[legal]
    no_period = maximum.isna()
    out[no_period] = declared[no_period]
    return out.where(out.notna(), None)


def derive_penalty_fields(national: pd.DataFrame, mapping: MappingSettings) -> pd.DataFrame:
    """Fill CF_GSJZQ where the department left it empty; add the two period columns (``_``-prefixed):
    ``_publicity_end`` is :func:`one_end_date` (the caller puts it into CF_GSJZQ once the department's own
    value has been checked, :func:`pipeline.prepare.check_rows`), ``_repair_eligible_from`` the minimum."""
    periods = publicity_periods(national["CF_JDRQ"], mapping)
    out = national.copy()
    end = one_end_date(out["CF_GSJZQ"], periods)
    blank = out["CF_GSJZQ"].isna()
    out.loc[blank, "CF_GSJZQ"] = periods.loc[blank, "publicity_end"]
    out["_publicity_end"] = end
    out["_repair_eligible_from"] = periods["repair_eligible_from"]
    return out


def strip_number_from_title(national: pd.DataFrame) -> pd.DataFrame:
    """行政许可决定文书名称 without the bracket that repeats its 文书号 (spec §1 #14 [C]: the value is the part
    before the bracket): ``…的批复(发改财金〔2015〕123号)`` with XK_WSH ``发改财金〔2015〕123号`` becomes ``…的批复``.
    A bracket holding anything else is kept (rule XK-WS-001 asks the department). Returns ``national`` itself
    when nothing changes."""
    titles = national["XK_XKWS"].tolist()
    numbers = national["XK_WSH"].tolist()
    changed: dict[int, str] = {}
    for i, (title, number) in enumerate(zip(titles, numbers, strict=True)):
        if isinstance(title, str) and number and (title.endswith(")") or title.endswith("）")):
            parts = title_and_number(title)
            if parts is not None and parts[1] == number:
                changed[i] = parts[0]
    if not changed:
        return national
    out = national.copy()
    out["XK_XKWS"] = pd.Series([changed.get(i, t) for i, t in enumerate(titles)], index=out.index, dtype=object)
    return out
