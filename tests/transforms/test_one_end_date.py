"""One end date (spec §5.2, issue 14): the column, the pushed CF_GSJZQ and ``sgs expire`` use one derived date."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from national import dataset
from pipeline.prepare import check_rows
from tests.web.records import penalty
from transforms.derive import derive_penalty_fields, one_end_date, publicity_periods
from transforms.settings import MappingSettings

IDENTITY = MappingSettings(columns={c: c for c in dataset("cf").columns})


def frame_of(rows: list[dict[str, str | None]]) -> pd.DataFrame:
    rows = [{"CF_YXQ": "2029-12-31", **r} for r in rows]
    return pd.DataFrame([{c: r.get(c) for c in dataset("cf").columns} for r in rows], dtype=object)


def s(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype=object)


def end(decided: str, declared: str | None, **mapping: object) -> str | None:
    periods = publicity_periods(s(decided), MappingSettings(**mapping))  # type: ignore[arg-type]
    return one_end_date(s(declared), periods).iloc[0]


@pytest.mark.parametrize(
    ("decided", "declared", "expected"),
    [
        # 2023 regime: minimum 3 months, maximum 3 years.
        ("2024-03-01", None, "2027-03-01"),  # blank: the maximum
        ("2024-03-01", "2025-01-01", "2025-01-01"),  # legal and shorter: the department's value
        ("2024-03-01", "2027-03-01", "2027-03-01"),  # exactly the maximum
        ("2024-03-01", "2027-03-02", "2027-03-01"),  # one day past the maximum
        ("2024-03-01", "2099-12-31", "2027-03-01"),  # 长期 sentinel
        ("2024-03-01", "2024-06-01", "2024-06-01"),  # exactly the minimum
        ("2024-03-01", "2024-05-31", "2027-03-01"),  # before the minimum: not legal
        ("2024-03-01", "2024-03-01", "2027-03-01"),  # not after the decision [M]
        ("2024-03-01", "2024/13/01", "2027-03-01"),  # unreadable
        # 2024-02-29: Art. 202 clamps to the month's last day.
        ("2024-02-29", None, "2027-02-28"),
        ("2024-02-29", "2027-02-28", "2027-02-28"),
        ("2024-02-29", "2027-03-01", "2027-02-28"),
        ("2024-02-29", "2024-05-29", "2024-05-29"),  # minimum 2024-05-29
        ("2024-02-29", "2024-05-28", "2027-02-28"),
        # The 2023-05-01 rule change: 2019 regime (一般失信: maximum 1 year) the day before.
        ("2023-04-30", None, "2024-04-30"),
        ("2023-04-30", "2026-04-30", "2024-04-30"),  # the 2023 maximum is too long under 2019 rules
        ("2023-04-30", "2024-04-30", "2024-04-30"),
        ("2023-05-01", None, "2026-05-01"),
        ("2023-05-01", "2026-05-01", "2026-05-01"),
        ("2023-05-01", "2026-05-02", "2026-05-01"),
        ("2023-04-30", "2023-07-30", "2023-07-30"),  # 2019 minimum 3 months
        ("2023-04-30", "2023-07-29", "2024-04-30"),
        (None, "2025-01-01", "2025-01-01"),  # no decision date: no period, the value stays for the rules
    ],
)
def test_one_end_date_boundaries(decided: str | None, declared: str | None, expected: str) -> None:
    assert end(decided, declared) == expected  # type: ignore[arg-type]


def test_special_domains_and_2019_severity_move_the_bounds() -> None:
    # 特种设备/安全生产/消防 (2023 rules): minimum 1 year, maximum 3 years.
    assert end("2024-02-29", "2024-12-31", special_domain=True) == "2027-02-28"  # before the 1-year minimum
    assert end("2024-02-29", "2025-02-28", special_domain=True) == "2025-02-28"  # the minimum (clamped)
    assert end("2024-02-29", "2025-02-27", special_domain=True) == "2027-02-28"
    assert end("2024-02-29", "2024-05-29") == "2024-05-29"  # the same date is legal outside those domains
    # 2019 regime, 严重失信: minimum 6 months, maximum 3 years.
    assert end("2022-01-31", "2024-06-30", severity="严重失信") == "2024-06-30"
    assert end("2022-01-31", "2022-07-30", severity="严重失信") == "2025-01-31"
    assert end("2022-01-31", "2022-07-31", severity="严重失信") == "2022-07-31"
    assert end("2022-01-31", "2024-06-30") == "2023-01-31"  # 一般失信: 1 year at most


def test_derive_keeps_the_declared_value_for_the_rules_and_gives_the_end_date() -> None:
    frame = pd.DataFrame({c: [None, None, None] for c in dataset("cf").columns}, dtype=object)
    frame["CF_JDRQ"] = ["2024-03-01"] * 3
    frame["CF_GSJZQ"] = [None, "2025-01-01", "2099-12-31"]
    out = derive_penalty_fields(frame, MappingSettings())
    assert out["CF_GSJZQ"].tolist() == ["2027-03-01", "2025-01-01", "2099-12-31"]  # checked as the department gave it
    assert out["_publicity_end"].tolist() == ["2027-03-01", "2025-01-01", "2027-03-01"]


def test_check_rows_stores_and_pushes_the_one_end_date_and_still_warns() -> None:
    rows = [
        penalty(1, CF_JDRQ="2024-03-01", CF_GSJZQ="2099-12-31"),
        penalty(2, CF_JDRQ="2024-03-01", CF_GSJZQ="2025-01-01"),
        penalty(3, CF_JDRQ="2024-03-01", CF_GSJZQ=None),
        penalty(4, CF_JDRQ="2024-02-29", CF_GSJZQ="2027-03-01"),
    ]
    frame = frame_of(rows)
    checked = check_rows(frame, IDENTITY, "cf", department="scjgj", today=dt.date(2026, 12, 1))
    assert not checked.verdicts.has_error.any()
    assert checked.publicity is not None
    expected = ["2027-03-01", "2025-01-01", "2027-03-01", "2027-02-28"]
    assert checked.national["CF_GSJZQ"].tolist() == expected  # stored as cf_gsjzq and pushed
    assert checked.publicity["publicity_end"].tolist() == expected  # record.publicity_end: the column and expiry
    found = {x.rule for i in (0, 3) for x in checked.verdicts.issues(i)}
    assert {"CF-DATE-011", "CF-DATE-010"} <= found  # the department's value is still reported


def test_a_rejected_row_keeps_its_value() -> None:
    frame = frame_of([penalty(1, CF_JDRQ="2024-03-01", CF_GSJZQ="2024-02-01")])
    checked = check_rows(frame, IDENTITY, "cf", department="scjgj", today=dt.date(2026, 12, 1))
    assert checked.verdicts.has_error.all()  # CF-DATE-009
    assert checked.national["CF_GSJZQ"].tolist() == ["2024-02-01"]
