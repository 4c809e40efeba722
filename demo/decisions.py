"""What a decision says before a department stores it its own way: the neutral record, the decision
window, and the scenarios (texts, categories, amounts) a department's decisions are drawn from."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from demo.identities import ROADS, Authority, Faker, Party, PartyKind

#: Decisions fall in this window; update timestamps never pass UPDATE_CAP, so the demo's cursor
#: values stay in the past of the machine's date and a watermark never runs ahead of real time.
FIRST_DECISION = dt.date(2024, 1, 1)
LAST_DECISION = dt.date(2026, 10, 31)
UPDATE_CAP = dt.datetime(2026, 11, 20, 18, 0, 0)  # noqa: DTZ001 - department tables keep naive local times


@dataclass(frozen=True)
class BadDate:
    """A calendar date that does not exist (e.g. 2025-02-30), written in a department's text format."""

    year: int
    month: int
    day: int


DateValue = dt.date | BadDate | None


@dataclass
class Record:
    """One decision in neutral form. ``cats`` are atomic category names of the 2021 law."""

    dataset: str
    party: Party
    authority: Authority
    wsh: str | None
    jdrq: DateValue
    gxsj: dt.datetime
    bz: str | None = None
    # 行政处罚
    wfxw: str = ""
    sy: str = ""
    yj: str = ""
    cats: tuple[str, ...] = ()
    nr: str = ""
    fk: Decimal | None = None
    wfff: Decimal | None = None
    zkdx: str | None = None
    yxq: DateValue = None
    case_no: str = ""
    # 行政许可
    xkws: str = ""
    xklb: str = ""
    xkzs: str | None = None
    xkbh: str | None = None
    yxqz: DateValue = None
    yxqzi: DateValue = None
    zt: str = "1"
    # planted problems
    unknown_code: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def add_years(d: dt.date, years: int) -> dt.date:
    """Same day ``years`` later; 29 Feb becomes 28 Feb (civil-code period rule)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def weekday_on_or_before(d: dt.date) -> dt.date:
    while d.weekday() >= 5:  # decisions are signed on working days
        d -= dt.timedelta(days=1)
    return d


def cn_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def yuan(v: Decimal) -> str:
    return f"{v:.2f}".removesuffix(".00")


# --------------------------------------------------------------------------------------------------
# Scenarios: what kind of decision a department takes, with consistent texts and amounts.


@dataclass(frozen=True)
class PenaltyScenario:
    lbs: tuple[PartyKind, ...]
    wfxw: str
    sy: str
    yj: str
    cats: tuple[str, ...]
    fine: tuple[int, int, int] | None = None  # lo, hi, step in 元
    wfff: tuple[int, int, int] | None = None
    zkdx: str | None = None  # template with {seq}
    weight: float = 1.0


@dataclass(frozen=True)
class LicenceScenario:
    lbs: tuple[PartyKind, ...]
    xkws: str
    wsh: str | None  # template with {prefix} {year} {n}; None: the licence number is the document number
    xklb: str
    xkzs: str | None
    xkbh: Callable[[Faker, int, Party, dt.date], str] | None
    nr: str
    years: int | None  # None: 长期 (2099-12-31)
    weight: float = 1.0


def fill(template: str, f: Faker, **kw: Any) -> str:
    r = f.rng
    values = {
        "when": cn_date(kw["jdrq"] - dt.timedelta(days=r.randrange(20, 120))),
        "place": f.address(),
        "value": str(r.randrange(1, 60) * 100),
        "n": str(r.randrange(2, 30)),
        "pname": f.person_name(),
        "conc": str(r.randrange(520, 1800)),
        "inv": str(r.randrange(50, 3000)),
        "district": f.district()[0],
        "road": r.choice(ROADS),
        "no": str(r.randrange(1, 999)),
        **{k: v for k, v in kw.items() if isinstance(v, str)},
    }
    return template.format_map(values)


def penalty_content(cats: Sequence[str], fk: Decimal | None, wfff: Decimal | None, zkdx: str | None) -> str:
    parts: list[str] = []
    for c in cats:
        if c == "警告":
            parts.append("给予警告")
        elif c == "罚款" and fk is not None:
            parts.append(f"罚款人民币{yuan(fk)}元")
        elif c == "没收违法所得" and wfff is not None:
            parts.append(f"没收违法所得人民币{yuan(wfff)}元")
        elif c == "没收非法财物":
            parts.append("没收用于违法活动的工具、药品及器械")
        elif c == "责令停产停业":
            parts.append("责令停产停业三个月")
        elif c == "吊销许可证件" and zkdx:
            parts.append(f"吊销{zkdx}")
        elif c == "暂扣许可证件" and zkdx:
            parts.append(f"暂扣{zkdx}三个月")
        elif c == "限制从业":
            parts.append("责令暂停六个月执业活动")
        else:
            parts.append(c)
    if len(parts) == 1:
        return parts[0] + "。"
    return "；".join(f"{i}.{p}" for i, p in enumerate(parts, 1)) + "。"


def amount(rng: random.Random, spec: tuple[int, int, int]) -> Decimal:
    lo, hi, step = spec
    return Decimal(rng.randrange(lo, hi + 1, step))
