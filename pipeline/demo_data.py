"""Demo department databases: realistic, deterministic source data for the 双公示 pipeline.

Three departments of a fictional 杭州市 platform, each with its OWN schema, column names, codes and
date formats, the way real business systems differ (see ``departments/<code>.yaml`` for the mapping
to the national template):

| code    | department         | source      | datasets | particulars                                            |
|---------|--------------------|-------------|----------|--------------------------------------------------------|
| scjgj   | 杭州市市场监督管理局 | MariaDB     | cf, xk   | pinyin columns, DATE columns, local codes 01–04, 2019 处罚类别 codes 1–6/9 |
| sthjj   | 杭州市生态环境局     | PostgreSQL  | cf, xk   | English-ish columns, cf dates DATE, xk dates ``YYYYMMDD`` text, codes E/I/P |
| wsjkw   | 杭州市卫生健康委员会 | SQLite file | cf, xk   | upper-case pinyin columns, dates ``YYYY/MM/DD`` text, 证件类型 codes 111/414… |

About 6 % of the rows are deliberately bad (wrong check digits, placeholders, missing 文书号, impossible
or future dates, unknown codes, missing fines, junk names …), about 1.5 % need normalisation only
(full-width USCC, padded text) and about 1 % are later correction rows of an earlier decision (same
文书号). Every such row is listed in the table ``sgs_demo_cases`` (dataset, pk, kind, verdict) of the
department database, so tests downstream can compare the quarantine with what was planted.

Everything is derived from the seed: the same seed gives byte-identical tables, with fixed update
timestamps (never ``now()``), so re-running the demo changes nothing downstream. A marker table
(``sgs_demo_marker``) records version, seed and row count; matching content is left alone.

Servers: ``SGS_DEMO_MARIADB_URL`` (default ``mysql+pymysql://root@127.0.0.1:3306/``) and
``SGS_DEMO_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), or the
``mariadb_url`` / ``postgresql_url`` parameters. An unreachable server (3 s timeout) makes that
department a SQLite file instead (``DemoSource.fallback``).

API: :func:`create_demo_sources` (make or reuse), :func:`add_demo_changes` (new and updated rows
with later cursor values, for incremental tests), :func:`read_cases` (the planted rows),
:func:`drop_demo_sources` (clean up after tests).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from national.safety import redact_url

log = logging.getLogger(__name__)

SourceKind = Literal["mariadb", "postgresql", "sqlite"]

#: Bump when the generated content changes: a marker with another version makes the tables rebuild.
DEMO_VERSION = 2  # 2: rows the stand-in province rejects (PROV-103)
DEFAULT_SEED = 20261128
DEFAULT_PREFIX = "sgs_demo_"
DEFAULT_MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CONNECT_TIMEOUT = 3

# Share of rows planted per (department, dataset).
BAD_SHARE = 0.06
FIXABLE_SHARE = 0.015
CORRECTION_SHARE = 0.01
#: Rows per dataset that pass our catalogue but that the provincial stand-in rejects (a 文书号 marked
#: 作废, its rule PROV-103), so the demo shows a rejection travelling back into the department's feedback.
PROVINCE_REJECTS = 2

#: Decisions fall in this window; update timestamps never pass UPDATE_CAP, so the demo's cursor
#: values stay in the past of the machine's date and a watermark never runs ahead of real time.
FIRST_DECISION = dt.date(2024, 1, 1)
LAST_DECISION = dt.date(2026, 10, 31)
UPDATE_CAP = dt.datetime(2026, 11, 20, 18, 0, 0)  # noqa: DTZ001 - department tables keep naive local times

MARKER_TABLE = "sgs_demo_marker"
CASES_TABLE = "sgs_demo_cases"


@dataclass(frozen=True)
class DemoSource:
    """One created demo department database.

    ``kind`` is the kind actually created (``sqlite`` when the server was unreachable, with
    ``fallback=True``); ``url`` is a SQLAlchemy URL for it, to put into the department's ``url_env``;
    ``rows`` counts the rows per dataset in the source at creation time.
    """

    department: str
    kind: SourceKind
    url: str
    fallback: bool
    rows: dict[str, int]


# --------------------------------------------------------------------------------------------------
# Check digits (spec §4). Private on purpose: the validators live in expectations/, and the demo must
# not depend on the code it is meant to test.

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check_char(body17: str) -> str:
    """GB 32100 check character of the first 17 characters."""
    s = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - s % 31) % 31]


def id_check_char(body17: str) -> str:
    """GB 11643 check character of a 身份证 number."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True)) % 11]


def org_check_char(body8: str) -> str:
    """GB 11714 check character of a 组织机构代码."""
    s = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    r = 11 - s % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def _gszc_check_digit(body14: str) -> str:
    """ISO 7064 MOD 11,10 check digit of a 15-digit 工商注册号."""
    p = 10
    for c in body14:
        s = (p + int(c)) % 10 or 10
        p = (s * 2) % 11
    return str((11 - p) % 10)


# --------------------------------------------------------------------------------------------------
# Vocabulary

_DISTRICTS = (
    ("上城区", "330102"), ("拱墅区", "330105"), ("西湖区", "330106"), ("滨江区", "330108"),
    ("萧山区", "330109"), ("余杭区", "330110"), ("富阳区", "330111"), ("临安区", "330112"),
    ("临平区", "330113"), ("钱塘区", "330114"), ("桐庐县", "330122"), ("淳安县", "330127"),
    ("建德市", "330182"),
)
# Birth places of natural persons: mostly local, some from the provinces most migrants come from.
_ID_AREAS = tuple(a for _, a in _DISTRICTS) + (
    "330381", "330424", "330522", "330682", "341221", "342422", "360121", "362426",
    "412723", "430524", "510122", "522121", "320321", "350583",
)
_ROADS = ("文三路", "天目山路", "莫干山路", "解放路", "延安路", "秋涛路", "江南大道", "文一西路", "古墩路",
          "机场路", "湖墅南路", "金城路", "富春路", "学院路", "石桥路", "丰潭路", "之江路", "东新路")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁沈任姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌浩宇凯俊鹏辉晨欣怡佳琪雪梅海燕丹云飞鑫婷晓春亮林波宁健"
_TRADE_WORDS = ("华", "鑫", "盛", "达", "恒", "瑞", "宏", "远", "嘉", "诚", "博", "泰", "信", "联", "晟", "鼎", "澜",
                "越", "钱", "江", "润", "禾", "启", "明", "舜", "和", "康", "锦", "卓", "拓", "航", "峰", "源", "汇")
_SHOP_WORDS = ("阿强", "小李", "好味", "鸿运", "老王", "金牌", "味之源", "家乐", "永兴", "福满", "兴旺", "顺发",
               "如意", "百味", "惠民", "红星", "春风", "吉祥")


@dataclass(frozen=True)
class _Authority:
    """A deciding authority (机关) and the prefix of its document numbers."""

    name: str
    uscc: str
    prefix: str


# --------------------------------------------------------------------------------------------------
# Neutral records: what a decision says, before a department stores it its own way.


@dataclass(frozen=True)
class _BadDate:
    """A calendar date that does not exist (e.g. 2025-02-30), written in a department's text format."""

    year: int
    month: int
    day: int


DateValue = dt.date | _BadDate | None


@dataclass
class _Party:
    lb: Literal["org", "nonprofit", "ind", "np"]
    name: str
    uscc: str | None = None
    gszc: str | None = None
    zzjg: str | None = None
    frdb: str | None = None
    fr_zjlx: str | None = None
    fr_zjhm: str | None = None
    zjlx: str | None = None
    zjhm: str | None = None


@dataclass
class _Record:
    """One decision in neutral form. ``cats`` are atomic category names of the 2021 law."""

    dataset: str
    party: _Party
    authority: _Authority
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


def _add_years(d: dt.date, years: int) -> dt.date:
    """Same day ``years`` later; 29 Feb becomes 28 Feb (civil-code period rule)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def _weekday_on_or_before(d: dt.date) -> dt.date:
    while d.weekday() >= 5:  # decisions are signed on working days
        d -= dt.timedelta(days=1)
    return d


def _cn_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _yuan(v: Decimal) -> str:
    return f"{v:.2f}".removesuffix(".00")


class _Faker:
    """Names and identifiers, drawn from one seeded ``random.Random``."""

    def __init__(self, rng: random.Random, industries: Sequence[str]) -> None:
        self.rng = rng
        self.industries = industries

    def person_name(self) -> str:
        r = self.rng
        given = r.choice(_GIVEN) + (r.choice(_GIVEN) if r.random() < 0.7 else "")
        return r.choice(_SURNAMES) + given

    def id_number(self, *, min_year: int = 1955, max_year: int = 2003) -> str:
        r = self.rng
        birth = dt.date(min_year, 1, 1) + dt.timedelta(days=r.randrange((dt.date(max_year, 12, 31) - dt.date(min_year, 1, 1)).days))
        body = f"{r.choice(_ID_AREAS)}{birth:%Y%m%d}{r.randrange(1, 1000):03d}"
        return body + id_check_char(body)

    def org_code(self) -> str:
        r = self.rng
        if r.random() < 0.3:  # old, purely numeric codes of companies registered before 2015
            body = f"{r.randrange(10**7, 10**8)}"
        else:
            body = "MA" + "".join(r.choice(_USCC_ALPHABET) for _ in range(6))
        return body + org_check_char(body)

    def uscc(self, prefix: str, area: str) -> str:
        body = f"{prefix}{area}{self.org_code()}"
        return body + uscc_check_char(body)

    def gszc(self, area: str) -> str:
        body = f"{area}6{self.rng.randrange(10**6, 10**7)}"
        return body + _gszc_check_digit(body)

    def district(self) -> tuple[str, str]:
        return self.rng.choice(_DISTRICTS)

    def address(self) -> str:
        r = self.rng
        return f"杭州市{r.choice(_DISTRICTS)[0]}{r.choice(_ROADS)}{r.randrange(1, 999)}号"

    def company(self) -> _Party:
        r = self.rng
        district, area = self.district()
        trade = "".join(r.sample(_TRADE_WORDS, 2))
        suffix = "股份有限公司" if r.random() < 0.08 else "有限公司"
        name = f"杭州{trade}{r.choice(self.industries)}{suffix}"
        uscc = self.uscc("91", area)
        p = _Party("org", name, uscc=uscc, frdb=self.person_name())
        if r.random() < 0.4:
            p.zzjg = uscc[8:17]
        if r.random() < 0.2:
            p.gszc = self.gszc(area)
        if r.random() < 0.5:
            p.fr_zjlx, p.fr_zjhm = "身份证", self.id_number(max_year=1995)
        return p

    def nonprofit(self, kinds: Sequence[str]) -> _Party:
        """A 非法人组织 (branch office, partnership, private non-enterprise unit)."""
        r = self.rng
        district, area = self.district()
        trade = "".join(r.sample(_TRADE_WORDS, 2))
        name = f"杭州{trade}{r.choice(kinds)}"
        return _Party("nonprofit", name, uscc=self.uscc("91" if "分公司" in name else "52", area), frdb=self.person_name())

    def individual_business(self, shops: Sequence[str]) -> _Party:
        r = self.rng
        district, area = self.district()
        operator = self.person_name()
        name = f"杭州市{district}{r.choice(_SHOP_WORDS)}{r.choice(shops)}"
        p = _Party("ind", name, frdb=operator, fr_zjlx="身份证", fr_zjhm=self.id_number(max_year=1998))
        if r.random() < 0.06:  # registered before 2016, USCC not yet re-issued
            p.uscc, p.gszc = "00000000000000000X", self.gszc(area)
        else:
            p.uscc = self.uscc("92", area)
        return p

    def natural_person(self) -> _Party:
        return _Party("np", self.person_name(), zjlx="身份证", zjhm=self.id_number())


# --------------------------------------------------------------------------------------------------
# Scenarios: what kind of decision a department takes, with consistent texts and amounts.

PartyKind = Literal["org", "nonprofit", "ind", "np"]


@dataclass(frozen=True)
class _PenaltyScenario:
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
class _LicenceScenario:
    lbs: tuple[PartyKind, ...]
    xkws: str
    wsh: str | None  # template with {prefix} {year} {n}; None: the licence number is the document number
    xklb: str
    xkzs: str | None
    xkbh: Callable[[_Faker, int, _Party, dt.date], str] | None
    nr: str
    years: int | None  # None: 长期 (2099-12-31)
    weight: float = 1.0


def _fill(template: str, f: _Faker, **kw: Any) -> str:
    r = f.rng
    values = {
        "when": _cn_date(kw["jdrq"] - dt.timedelta(days=r.randrange(20, 120))),
        "place": f.address(),
        "value": str(r.randrange(1, 60) * 100),
        "n": str(r.randrange(2, 30)),
        "pname": f.person_name(),
        "conc": str(r.randrange(520, 1800)),
        "inv": str(r.randrange(50, 3000)),
        "district": f.district()[0],
        "road": r.choice(_ROADS),
        "no": str(r.randrange(1, 999)),
        **{k: v for k, v in kw.items() if isinstance(v, str)},
    }
    return template.format_map(values)


def _penalty_content(cats: Sequence[str], fk: Decimal | None, wfff: Decimal | None, zkdx: str | None) -> str:
    parts: list[str] = []
    for c in cats:
        if c == "警告":
            parts.append("给予警告")
        elif c == "罚款" and fk is not None:
            parts.append(f"罚款人民币{_yuan(fk)}元")
        elif c == "没收违法所得" and wfff is not None:
            parts.append(f"没收违法所得人民币{_yuan(wfff)}元")
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


def _amount(rng: random.Random, spec: tuple[int, int, int]) -> Decimal:
    lo, hi, step = spec
    return Decimal(rng.randrange(lo, hi + 1, step))


# --------------------------------------------------------------------------------------------------
# Departments


@dataclass(frozen=True)
class _DatasetSpec:
    """How one department keeps one dataset: table, keys, columns and the row writer."""

    table: str
    pk: str
    cursor: str
    columns: Callable[[], list[sa.Column[Any]]]
    to_row: Callable[[_Record], dict[str, Any]]
    #: Called on the row of a record with ``unknown_code``: puts a code the mapping does not know.
    unknown: Callable[[dict[str, Any], int], None]
    remark: str
    status: tuple[str, str] | None = None  # (column, value meaning 无效) for licences
    string_dates: bool = False
    has_np: bool = True
    party_mix: tuple[tuple[PartyKind, float], ...] = (("org", 0.6), ("ind", 0.25), ("np", 0.1), ("nonprofit", 0.05))


@dataclass(frozen=True)
class _DepartmentSpec:
    code: str
    name: str
    uscc: str
    kind: SourceKind
    authorities: tuple[_Authority, ...]
    industries: tuple[str, ...]
    shops: tuple[str, ...]
    nonprofits: tuple[str, ...]
    penalties: tuple[_PenaltyScenario, ...]
    licences: tuple[_LicenceScenario, ...]
    datasets: dict[str, _DatasetSpec]
    #: Document number of a penalty decision; ``{prefix}`` is the deciding authority's.
    penalty_wsh: str = "{prefix}罚〔{year}〕{n}号"


def _d(d: DateValue, fmt: str) -> str | None:
    """A date in a department's text format; impossible dates are written as they were typed."""
    if d is None:
        return None
    if isinstance(d, _BadDate):
        return fmt.replace("%Y", f"{d.year:04d}").replace("%m", f"{d.month:02d}").replace("%d", f"{d.day:02d}")
    return d.strftime(fmt)


def _real(d: DateValue) -> dt.date | None:
    if isinstance(d, _BadDate):  # never planted in a DATE column; guard against a wrong plan
        raise ValueError("impossible date planted in a DATE column")
    return d


# ---- 杭州市市场监督管理局 (MariaDB): pinyin columns, DATE columns, local codes ----------------------

_SCJGJ_LB = {"org": "02", "nonprofit": "03", "ind": "04", "np": "01"}
_SCJGJ_ZJLX = {"身份证": "01", "护照号": "02"}
#: 2019 处罚类别 codes; a decision with several categories stores them comma-joined ("2,3").
CFLB_2019 = {"警告": "1", "罚款": "2", "没收违法所得": "3", "没收非法财物": "3", "责令停产停业": "4",
             "暂扣许可证件": "5", "吊销许可证件": "5", "行政拘留": "6"}
CFLB_2019_TEXT = {"1": "警告", "2": "罚款", "3": "没收违法所得、没收非法财物", "4": "责令停产停业",
                  "5": "暂扣或者吊销许可证、暂扣或者吊销执照", "6": "行政拘留", "9": "其他"}
_XKLB_CODES = {"普通": "01", "特许": "02", "认可": "03", "核准": "04", "登记": "05", "其他-备案": "06"}


def cflb_2019_code(cats: Iterable[str]) -> str:
    codes = sorted({CFLB_2019.get(c, "9") for c in cats})
    return ",".join(codes)


def _scjgj_cf_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("ajid", sa.BigInteger, primary_key=True, autoincrement=False, comment="案件ID"),
        sa.Column("ajbh", S(32), comment="案件编号"),
        sa.Column("jdswh", S(64), comment="处罚决定书文号"),
        sa.Column("dsr_mc", S(200), comment="当事人名称"),
        sa.Column("dsr_lx", S(2), comment="当事人类型 01自然人 02法人 03非法人组织 04个体工商户"),
        sa.Column("tyshxydm", S(32), comment="统一社会信用代码"),
        sa.Column("gszch", S(32), comment="工商注册号"),
        sa.Column("zzjgdm", S(16), comment="组织机构代码"),
        sa.Column("fddbr", S(50), comment="法定代表人/经营者"),
        sa.Column("fddbr_zjlx", S(2), comment="法定代表人证件类型"),
        sa.Column("fddbr_zjhm", S(32), comment="法定代表人证件号码"),
        sa.Column("dsr_zjlx", S(2), comment="当事人证件类型"),
        sa.Column("dsr_zjhm", S(32), comment="当事人证件号码"),
        sa.Column("wfxwlx", S(500), comment="违法行为类型"),
        sa.Column("wfss", sa.Text, comment="违法事实"),
        sa.Column("cfyj", S(1000), comment="处罚依据"),
        sa.Column("cflb", S(20), comment="处罚类别 1警告 2罚款 3没收 4停产停业 5暂扣吊销 6拘留 9其他"),
        sa.Column("cfnr", sa.Text, comment="处罚内容"),
        sa.Column("fkje", sa.Numeric(16, 2), comment="罚款金额（元）"),
        sa.Column("mswfsdje", sa.Numeric(16, 2), comment="没收违法所得、非法财物金额（元）"),
        sa.Column("zkdxzz", S(200), comment="暂扣或吊销证照名称及编号"),
        sa.Column("cfjdrq", sa.Date, comment="处罚决定日期"),
        sa.Column("cfyxq", sa.Date, comment="处罚有效期"),
        sa.Column("cfjg", S(200), comment="处罚机关"),
        sa.Column("cfjgdm", S(32), comment="处罚机关统一社会信用代码"),
        sa.Column("bz", S(512), comment="备注"),
        sa.Column("scbz", S(1), comment="删除标志"),
        sa.Column("gxsj", sa.DateTime, nullable=False, comment="更新时间"),
    ]


def _scjgj_cf_row(r: _Record) -> dict[str, Any]:
    p = r.party
    return {
        "ajbh": r.case_no, "jdswh": r.wsh, "dsr_mc": p.name, "dsr_lx": _SCJGJ_LB[p.lb],
        "tyshxydm": p.uscc, "gszch": p.gszc, "zzjgdm": p.zzjg, "fddbr": p.frdb,
        "fddbr_zjlx": _SCJGJ_ZJLX.get(p.fr_zjlx or ""), "fddbr_zjhm": p.fr_zjhm,
        "dsr_zjlx": _SCJGJ_ZJLX.get(p.zjlx or ""), "dsr_zjhm": p.zjhm,
        "wfxwlx": r.wfxw, "wfss": r.sy, "cfyj": r.yj, "cflb": cflb_2019_code(r.cats), "cfnr": r.nr,
        "fkje": r.fk, "mswfsdje": r.wfff, "zkdxzz": r.zkdx, "cfjdrq": _real(r.jdrq), "cfyxq": _real(r.yxq),
        "cfjg": r.authority.name, "cfjgdm": r.authority.uscc, "bz": r.bz, "scbz": "0", "gxsj": r.gxsj,
    }


def _scjgj_cf_unknown(row: dict[str, Any], i: int) -> None:
    if i % 2:
        row["dsr_lx"] = "05"
    else:
        row["cflb"] = "8"


def _scjgj_xk_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("xkid", sa.BigInteger, primary_key=True, autoincrement=False, comment="许可ID"),
        sa.Column("xkwsmc", S(100), comment="许可决定文书名称"),
        sa.Column("xkwsh", S(64), comment="许可决定文书号"),
        sa.Column("xklb", S(2), comment="许可类别 01普通 02特许 03认可 04核准 05登记 06其他"),
        sa.Column("xkzsmc", S(64), comment="许可证书名称"),
        sa.Column("xkzbh", S(64), comment="许可证编号"),
        sa.Column("xknr", sa.Text, comment="许可内容"),
        sa.Column("xdr_mc", S(200), comment="行政相对人名称"),
        sa.Column("xdr_lx", S(2), comment="行政相对人类型"),
        sa.Column("tyshxydm", S(32)), sa.Column("gszch", S(32)), sa.Column("zzjgdm", S(16)),
        sa.Column("fddbr", S(50)), sa.Column("fddbr_zjlx", S(2)), sa.Column("fddbr_zjhm", S(32)),
        sa.Column("xdr_zjlx", S(2)), sa.Column("xdr_zjhm", S(32)),
        sa.Column("xkjdrq", sa.Date, comment="许可决定日期"),
        sa.Column("yxqq", sa.Date, comment="有效期起"),
        sa.Column("yxqz", sa.Date, comment="有效期止"),
        sa.Column("fzjg", S(200), comment="发证机关"),
        sa.Column("fzjgdm", S(32), comment="发证机关统一社会信用代码"),
        sa.Column("zt", S(1), comment="状态 1有效 2无效"),
        sa.Column("bz", S(512)),
        sa.Column("gxsj", sa.DateTime, nullable=False, comment="更新时间"),
    ]


def _scjgj_xk_row(r: _Record) -> dict[str, Any]:
    p = r.party
    return {
        "xkwsmc": r.xkws, "xkwsh": r.wsh, "xklb": _XKLB_CODES[r.xklb], "xkzsmc": r.xkzs, "xkzbh": r.xkbh,
        "xknr": r.nr, "xdr_mc": p.name, "xdr_lx": _SCJGJ_LB[p.lb], "tyshxydm": p.uscc, "gszch": p.gszc,
        "zzjgdm": p.zzjg, "fddbr": p.frdb, "fddbr_zjlx": _SCJGJ_ZJLX.get(p.fr_zjlx or ""),
        "fddbr_zjhm": p.fr_zjhm, "xdr_zjlx": _SCJGJ_ZJLX.get(p.zjlx or ""), "xdr_zjhm": p.zjhm,
        "xkjdrq": _real(r.jdrq), "yxqq": _real(r.yxqz), "yxqz": _real(r.yxqzi), "fzjg": r.authority.name,
        "fzjgdm": r.authority.uscc, "zt": r.zt, "bz": r.bz, "gxsj": r.gxsj,
    }


def _scjgj_xk_unknown(row: dict[str, Any], i: int) -> None:
    if i % 2:
        row["xdr_lx"] = "05"
    else:
        row["xklb"] = "07"


def _jy_number(f: _Faker, seq: int, p: _Party, d: dt.date) -> str:
    return f"JY1{f.district()[1]}{seq:06d}{seq % 7}"


SCJGJ = _DepartmentSpec(
    code="scjgj",
    name="杭州市市场监督管理局",
    penalty_wsh="{prefix}罚决〔{year}〕{n}号",
    uscc="113301000024713838",
    kind="mariadb",
    authorities=(
        _Authority("杭州市市场监督管理局", "113301000024713838", "杭市监"),
        _Authority("杭州市市场监督管理局上城分局", "11330102MB1C47258K", "杭上市监"),
        _Authority("杭州市市场监督管理局西湖分局", "11330106MB1C473381", "杭西市监"),
    ),
    industries=("食品", "餐饮管理", "贸易", "电子商务", "科技", "超市", "服饰", "机械制造", "电梯工程", "日用品",
                "农产品", "网络科技", "商贸", "酒店管理"),
    shops=("面馆", "小吃店", "便利店", "水果店", "烟酒店", "副食品店", "快餐店", "早餐店", "五金店", "服装店"),
    nonprofits=("贸易有限公司滨江分公司", "食品有限公司萧山分公司", "商贸合伙企业（有限合伙）"),
    penalties=(
        _PenaltyScenario(("org", "ind", "nonprofit"), "违反了《中华人民共和国食品安全法》第三十四条第（十）项的规定，属于经营超过保质期的食品的行为",
                         "{when}，执法人员检查发现当事人经营场所内陈列销售超过保质期的预包装食品{n}件，货值金额{value}元。",
                         "《中华人民共和国食品安全法》第一百二十四条第一款第（五）项", ("罚款", "没收违法所得"),
                         fine=(50000, 100000, 1000), wfff=(50, 3000, 10), weight=3),
        _PenaltyScenario(("np", "ind"), "违反了《无证无照经营查处办法》第二条的规定，属于未依法取得营业执照从事经营活动的行为",
                         "{when}，当事人在{place}未依法取得营业执照擅自从事餐饮经营活动。",
                         "《无证无照经营查处办法》第十三条", ("罚款", "没收违法所得"),
                         fine=(1000, 10000, 500), wfff=(200, 5000, 50), weight=2),
        _PenaltyScenario(("org",), "违反了《中华人民共和国反不正当竞争法》第八条第一款的规定，属于对商品作虚假的商业宣传的行为",
                         "当事人在其网店商品详情页中宣称所售商品“经国家权威机构认证、疗效显著”，无事实依据。",
                         "《中华人民共和国反不正当竞争法》第二十条第一款", ("罚款",), fine=(200000, 500000, 10000), weight=1.5),
        _PenaltyScenario(("org", "ind"), "违反了《明码标价和禁止价格欺诈规定》第五条的规定，属于不按规定明码标价的行为",
                         "{when}，当事人经营场所内销售的{n}种商品未按规定明码标价。",
                         "《中华人民共和国价格法》第四十二条", ("警告",), weight=1.5),
        _PenaltyScenario(("org", "ind"), "违反了《明码标价和禁止价格欺诈规定》第五条的规定，属于不按规定明码标价的行为",
                         "{when}，当事人经营场所内销售的{n}种商品未按规定明码标价，经责令改正后仍未改正。",
                         "《中华人民共和国价格法》第四十二条", ("警告", "罚款"), fine=(1000, 5000, 100)),
        _PenaltyScenario(("org",), "违反了《中华人民共和国特种设备安全法》第四十条第三款的规定，属于使用未经定期检验的特种设备的行为",
                         "{when}，当事人使用的乘客电梯检验有效期已届满，未申请定期检验继续使用。",
                         "《中华人民共和国特种设备安全法》第八十四条第（一）项", ("责令停产停业", "罚款"),
                         fine=(30000, 100000, 1000), weight=1),
        _PenaltyScenario(("org",), "违反了《中华人民共和国产品质量法》第三十九条的规定，属于在产品中以次充好的行为",
                         "当事人生产的电热水壶经抽样检验不合格，货值金额{value}元。",
                         "《中华人民共和国产品质量法》第五十条", ("罚款", "没收违法所得", "吊销许可证件"),
                         fine=(50000, 200000, 1000), wfff=(1000, 30000, 100),
                         zkdx="全国工业产品生产许可证（编号：XK16-204-{seq:05d}）", weight=0.3),
        _PenaltyScenario(("org", "ind"), "违反了《中华人民共和国计量法》第九条第一款的规定，属于使用未经检定的计量器具的行为",
                         "{when}，当事人使用的{n}台电子计价秤未按照规定申请强制检定。",
                         "《中华人民共和国计量法实施细则》第四十三条", ("罚款",), fine=(200, 1000, 100)),
    ),
    licences=(
        _LicenceScenario(("org", "ind", "nonprofit"), "食品经营许可决定书", "{prefix}食经许〔{year}〕{n}号", "普通", "食品经营许可证",
                         _jy_number, "经营场所：杭州市{district}{road}{no}号；主体业态：餐饮服务经营者；经营项目：热食类食品制售；预包装食品销售（含冷藏冷冻食品）。",
                         5, weight=4),
        _LicenceScenario(("org",), "食品生产许可决定书", "{prefix}食生许〔{year}〕{n}号", "普通", "食品生产许可证",
                         lambda f, seq, p, d: f"SC1{f.district()[1]}{seq:07d}",
                         "食品类别：糕点；饮料。生产地址：杭州市{district}{road}{no}号。", 5, weight=1),
        _LicenceScenario(("org", "ind"), "准予设立登记通知书", "（{prefix}）登记内设字〔{year}〕第{n}号", "登记", "营业执照",
                         lambda f, seq, p, d: p.uscc or "", "准予设立登记。住所：杭州市{district}{road}{no}号。", None, weight=3),
        _LicenceScenario(("org",), "特种设备使用登记证", None, "登记", "特种设备使用登记证",
                         lambda f, seq, p, d: f"梯11浙A{seq:05d}({d:%y})", "设备类别：乘客电梯；设备使用地点：杭州市{district}{road}{no}号。",
                         None, weight=1),
        _LicenceScenario(("np",), "食品摊贩登记决定书", "{prefix}食摊登〔{year}〕{n}号", "其他-备案", "食品摊贩登记卡",
                         lambda f, seq, p, d: f"TF{f.district()[1]}{seq:06d}", "经营地点：杭州市{district}{road}夜市；经营品种：小吃。",
                         3, weight=0.8),
    ),
    datasets={
        "cf": _DatasetSpec("xzcf_jds", "ajid", "gxsj", _scjgj_cf_columns, _scjgj_cf_row, _scjgj_cf_unknown, "bz"),
        "xk": _DatasetSpec("xzxk_xx", "xkid", "gxsj", _scjgj_xk_columns, _scjgj_xk_row, _scjgj_xk_unknown, "bz",
                           status=("zt", "2"),
                           party_mix=(("org", 0.55), ("ind", 0.3), ("np", 0.1), ("nonprofit", 0.05))),
    },
)


# ---- 杭州市生态环境局 (PostgreSQL): English-ish columns, DATE in cf, YYYYMMDD text in xk -----------

_STHJJ_LB = {"org": "E", "nonprofit": "E", "ind": "I", "np": "P"}


def _sthjj_cf_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("case_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("case_no", S(32)),
        sa.Column("decision_no", S(64)),
        sa.Column("party_name", S(200)),
        sa.Column("party_type", S(1), comment="E 单位 I 个体工商户 P 个人"),
        sa.Column("credit_code", S(32)),
        sa.Column("reg_no", S(32)),
        sa.Column("legal_rep", S(50)),
        sa.Column("id_type", S(20)),
        sa.Column("id_no", S(32)),
        sa.Column("violation", S(500)),
        sa.Column("facts", sa.Text),
        sa.Column("legal_basis", S(1000)),
        sa.Column("penalty_type", S(100), comment="处罚种类，多个以;分隔"),
        sa.Column("penalty_content", sa.Text),
        sa.Column("fine_yuan", sa.Numeric(16, 2)),
        sa.Column("confiscated_yuan", sa.Numeric(16, 2)),
        sa.Column("licence_affected", S(200)),
        sa.Column("decision_date", sa.Date),
        sa.Column("effective_until", sa.Date),
        sa.Column("authority", S(200)),
        sa.Column("authority_code", S(32)),
        sa.Column("remarks", S(512)),
        sa.Column("created_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    ]


def _sthjj_cf_row(r: _Record) -> dict[str, Any]:
    p = r.party
    return {
        "case_no": r.case_no, "decision_no": r.wsh, "party_name": p.name, "party_type": _STHJJ_LB[p.lb],
        "credit_code": p.uscc, "reg_no": p.gszc, "legal_rep": p.frdb, "id_type": p.zjlx, "id_no": p.zjhm,
        "violation": r.wfxw, "facts": r.sy, "legal_basis": r.yj, "penalty_type": ";".join(r.cats),
        "penalty_content": r.nr, "fine_yuan": r.fk, "confiscated_yuan": r.wfff, "licence_affected": r.zkdx,
        "decision_date": _real(r.jdrq), "effective_until": _real(r.yxq), "authority": r.authority.name,
        "authority_code": r.authority.uscc, "remarks": r.bz, "created_at": r.extra.get("created_at", r.gxsj),
        "updated_at": r.gxsj,
    }


def _sthjj_cf_unknown(row: dict[str, Any], i: int) -> None:
    row["party_type"] = "X"


def _sthjj_xk_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("permit_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("doc_title", S(100)),
        sa.Column("doc_no", S(64)),
        sa.Column("permit_name", S(64)),
        sa.Column("permit_no", S(64)),
        sa.Column("content", sa.Text),
        sa.Column("holder_name", S(200)),
        sa.Column("holder_type", S(1), comment="E 单位 I 个体工商户"),
        sa.Column("credit_code", S(32)),
        sa.Column("reg_no", S(32)),
        sa.Column("legal_rep", S(50)),
        sa.Column("decision_date", S(8), comment="YYYYMMDD"),
        sa.Column("valid_from", S(8), comment="YYYYMMDD"),
        sa.Column("valid_to", S(8), comment="YYYYMMDD"),
        sa.Column("authority", S(200)),
        sa.Column("authority_code", S(32)),
        sa.Column("status", S(1), comment="A 有效 C 注销/撤销"),
        sa.Column("remarks", S(512)),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    ]


def _sthjj_xk_row(r: _Record) -> dict[str, Any]:
    p = r.party
    return {
        "doc_title": r.xkws, "doc_no": r.wsh, "permit_name": r.xkzs, "permit_no": r.xkbh, "content": r.nr,
        "holder_name": p.name, "holder_type": _STHJJ_LB[p.lb], "credit_code": p.uscc, "reg_no": p.gszc,
        "legal_rep": p.frdb, "decision_date": _d(r.jdrq, "%Y%m%d"), "valid_from": _d(r.yxqz, "%Y%m%d"),
        "valid_to": _d(r.yxqzi, "%Y%m%d"), "authority": r.authority.name, "authority_code": r.authority.uscc,
        "status": "A" if r.zt == "1" else "C", "remarks": r.bz, "updated_at": r.gxsj,
    }


def _sthjj_xk_unknown(row: dict[str, Any], i: int) -> None:
    if i % 2:
        row["holder_type"] = "X"
    else:
        row["status"] = "Z"


def _pw_number(f: _Faker, seq: int, p: _Party, d: dt.date) -> str:
    return f"{p.uscc}{seq % 1000:03d}{'PUVWXY'[(seq // 1000) % 6]}"


STHJJ = _DepartmentSpec(
    code="sthjj",
    name="杭州市生态环境局",
    uscc="11330100002472431R",
    kind="postgresql",
    authorities=(
        _Authority("杭州市生态环境局", "11330100002472431R", "杭环"),
        _Authority("杭州市生态环境局萧山分局", "11330109MB1D05163R", "萧环"),
    ),
    industries=("印染", "化工", "电镀", "环保科技", "建材", "新材料", "纺织", "造纸", "汽车零部件", "医药化工",
                "混凝土", "金属制品", "塑料制品"),
    shops=("汽车修理厂", "洗车店", "干洗店", "口腔诊所", "家具加工厂"),
    nonprofits=("印染有限公司钱塘分公司", "建材有限公司萧山分公司"),
    penalties=(
        _PenaltyScenario(("org", "nonprofit"), "违反了《中华人民共和国水污染防治法》第十条的规定，属于超过水污染物排放标准排放水污染物的行为",
                         "{when}，我局执法人员对当事人进行现场检查，经采样监测，其废水总排放口化学需氧量浓度为{conc}mg/L，超过《污水综合排放标准》（GB 8978-1996）三级标准限值。",
                         "《中华人民共和国水污染防治法》第八十三条第（二）项", ("罚款",), fine=(100000, 1000000, 10000), weight=3),
        _PenaltyScenario(("org",), "违反了《中华人民共和国环境影响评价法》第二十五条的规定，属于建设项目环境影响报告表未经批准擅自开工建设的行为",
                         "当事人年产{n}万件五金配件技改项目环境影响报告表未经审批，擅自开工建设，项目总投资{inv}万元。",
                         "《中华人民共和国环境影响评价法》第三十一条第一款", ("罚款",), fine=(50000, 500000, 1000), weight=2),
        _PenaltyScenario(("org", "ind"), "违反了《中华人民共和国固体废物污染环境防治法》第八十一条第一款的规定，属于未按照国家有关规定贮存危险废物的行为",
                         "{when}，当事人将废矿物油、废活性炭等危险废物露天堆放于厂区空地，未设置危险废物识别标志。",
                         "《中华人民共和国固体废物污染环境防治法》第一百一十二条第一款第（六）项", ("罚款",),
                         fine=(100000, 1000000, 10000), weight=2),
        _PenaltyScenario(("org",), "违反了《排污许可管理条例》第二条第一款的规定，属于未取得排污许可证排放污染物的行为",
                         "{when}，当事人未取得排污许可证，其喷涂车间废气经收集后直接排放。",
                         "《排污许可管理条例》第三十三条第（一）项", ("罚款", "责令停产停业"), fine=(200000, 1000000, 10000), weight=1.5),
        _PenaltyScenario(("np",), "违反了《中华人民共和国大气污染防治法》第七十七条的规定，属于露天焚烧秸秆、落叶等产生烟尘污染的物质的行为",
                         "{when}，当事人在{place}附近空地露天焚烧落叶、杂草等物质，产生烟尘污染。",
                         "《中华人民共和国大气污染防治法》第一百一十九条第一款", ("罚款",), fine=(500, 2000, 100), weight=1),
        _PenaltyScenario(("org", "ind"), "违反了《中华人民共和国大气污染防治法》第六十九条第三款的规定，属于施工工地未采取有效防尘降尘措施的行为",
                         "{when}，当事人承建的{district}{road}项目施工工地裸露土方未覆盖，车辆出入未冲洗。",
                         "《中华人民共和国大气污染防治法》第一百一十五条第一款第（一）项", ("罚款",), fine=(10000, 100000, 1000),
                         weight=1.5),
        _PenaltyScenario(("org",), "违反了《中华人民共和国固体废物污染环境防治法》第八十条第三款的规定，属于无许可证从事收集、贮存、利用、处置危险废物经营活动的行为",
                         "当事人未取得危险废物经营许可证，擅自收集废铅蓄电池{n}吨，违法所得{value}元。",
                         "《中华人民共和国固体废物污染环境防治法》第一百一十四条第一款", ("罚款", "没收违法所得", "责令停产停业"),
                         fine=(1000000, 2000000, 50000), wfff=(5000, 80000, 500), weight=0.4),
    ),
    licences=(
        _LicenceScenario(("org", "nonprofit"), "排污许可证核发决定", None, "普通", "排污许可证", _pw_number,
                         "行业类别：{district}纺织印染；主要污染物类别：废气、废水；排放方式：有组织排放。", 5, weight=4),
        _LicenceScenario(("org",), "关于建设项目环境影响报告表的审批意见", "{prefix}评批〔{year}〕{n}号", "普通", None, None,
                         "原则同意该项目环境影响报告表结论，项目建设地点：杭州市{district}{road}{no}号。", 5, weight=3),
        _LicenceScenario(("org",), "危险废物经营许可证核发决定", "{prefix}危许〔{year}〕{n}号", "普通", "危险废物经营许可证",
                         lambda f, seq, p, d: f"3301{seq:06d}", "核准经营方式：收集、贮存；核准经营危险废物类别：HW08废矿物油。", 5, weight=1),
        _LicenceScenario(("org", "ind"), "辐射安全许可证核发决定", "{prefix}辐许〔{year}〕{n}号", "普通", "辐射安全许可证",
                         lambda f, seq, p, d: f"浙环辐证[A{seq:05d}]", "种类和范围：使用Ⅲ类射线装置。", 5, weight=1.5),
    ),
    datasets={
        "cf": _DatasetSpec("env_penalty", "case_id", "updated_at", _sthjj_cf_columns, _sthjj_cf_row, _sthjj_cf_unknown,
                           "remarks", party_mix=(("org", 0.75), ("ind", 0.12), ("np", 0.08), ("nonprofit", 0.05))),
        "xk": _DatasetSpec("env_permit", "permit_id", "updated_at", _sthjj_xk_columns, _sthjj_xk_row, _sthjj_xk_unknown,
                           "remarks", status=("status", "C"), string_dates=True, has_np=False,
                           party_mix=(("org", 0.85), ("ind", 0.1), ("nonprofit", 0.05))),
    },
)


# ---- 杭州市卫生健康委员会 (SQLite): upper-case pinyin, YYYY/MM/DD text dates -------------------------

_WSJKW_LB = {"org": "1", "nonprofit": "1", "ind": "2", "np": "3"}
_WSJKW_ZJLX = {"身份证": "111", "护照号": "414"}


def _wsjkw_party_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("XDRMC", S(200)), sa.Column("XDRLB", S(1)), sa.Column("TYSHXYDM", S(32)),
        sa.Column("GSZCH", S(32)), sa.Column("FDDBR", S(50)), sa.Column("FRZJLX", S(3)), sa.Column("FRZJHM", S(32)),
        sa.Column("ZJLX", S(3)), sa.Column("ZJHM", S(32)),
    ]


def _wsjkw_party(p: _Party) -> dict[str, Any]:
    return {
        "XDRMC": p.name, "XDRLB": _WSJKW_LB[p.lb], "TYSHXYDM": p.uscc, "GSZCH": p.gszc, "FDDBR": p.frdb,
        "FRZJLX": _WSJKW_ZJLX.get(p.fr_zjlx or ""), "FRZJHM": p.fr_zjhm, "ZJLX": _WSJKW_ZJLX.get(p.zjlx or ""),
        "ZJHM": p.zjhm,
    }


def _wsjkw_cf_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("CFJDSWH", S(64)),
        *_wsjkw_party_columns(),
        sa.Column("WFXWLX", S(500)), sa.Column("WFSS", sa.Text), sa.Column("CFYJ", S(1000)),
        sa.Column("CFZL", S(100), comment="处罚种类，多个以；分隔"), sa.Column("CFNR", sa.Text),
        # Small units migrated from desktop tools keep money as REAL.
        sa.Column("FKJE", sa.Float), sa.Column("MSJE", sa.Float), sa.Column("ZKDX", S(200)),
        sa.Column("CFJDRQ", S(10), comment="YYYY/MM/DD"), sa.Column("CFYXQ", S(10), comment="YYYY/MM/DD"),
        sa.Column("CFJG", S(200)), sa.Column("CFJGDM", S(32)), sa.Column("BZ", S(512)),
        sa.Column("GXSJ", sa.DateTime, nullable=False),
    ]


def _f(v: Decimal | None) -> float | None:
    return None if v is None else float(v)


def _wsjkw_cf_row(r: _Record) -> dict[str, Any]:
    return {
        "CFJDSWH": r.wsh, **_wsjkw_party(r.party), "WFXWLX": r.wfxw, "WFSS": r.sy, "CFYJ": r.yj,
        "CFZL": "；".join(r.cats), "CFNR": r.nr, "FKJE": _f(r.fk), "MSJE": _f(r.wfff), "ZKDX": r.zkdx,
        "CFJDRQ": _d(r.jdrq, "%Y/%m/%d"), "CFYXQ": _d(r.yxq, "%Y/%m/%d"), "CFJG": r.authority.name,
        "CFJGDM": r.authority.uscc, "BZ": r.bz, "GXSJ": r.gxsj,
    }


def _wsjkw_unknown(row: dict[str, Any], i: int) -> None:
    row["XDRLB"] = "9"


def _wsjkw_xk_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("XKWSMC", S(100)), sa.Column("XKWSH", S(64)), sa.Column("XKLB", S(20)),
        sa.Column("XKZSMC", S(64)), sa.Column("XKZBH", S(64)), sa.Column("XKNR", sa.Text),
        *_wsjkw_party_columns(),
        sa.Column("XKJDRQ", S(10)), sa.Column("YXQZ", S(10)), sa.Column("YXQZI", S(10)),
        sa.Column("XKJG", S(200)), sa.Column("XKJGDM", S(32)), sa.Column("ZT", S(1)), sa.Column("BZ", S(512)),
        sa.Column("GXSJ", sa.DateTime, nullable=False),
    ]


def _wsjkw_xk_row(r: _Record) -> dict[str, Any]:
    return {
        "XKWSMC": r.xkws, "XKWSH": r.wsh, "XKLB": r.xklb, "XKZSMC": r.xkzs, "XKZBH": r.xkbh, "XKNR": r.nr,
        **_wsjkw_party(r.party), "XKJDRQ": _d(r.jdrq, "%Y/%m/%d"), "YXQZ": _d(r.yxqz, "%Y/%m/%d"),
        "YXQZI": _d(r.yxqzi, "%Y/%m/%d"), "XKJG": r.authority.name, "XKJGDM": r.authority.uscc, "ZT": r.zt,
        "BZ": r.bz, "GXSJ": r.gxsj,
    }


WSJKW = _DepartmentSpec(
    code="wsjkw",
    name="杭州市卫生健康委员会",
    uscc="113301000024716233",
    kind="sqlite",
    authorities=(_Authority("杭州市卫生健康委员会", "113301000024716233", "杭卫"),),
    industries=("医疗管理", "口腔门诊部", "医院管理", "健康管理", "酒店管理", "游泳健身", "生物科技", "美容"),
    shops=("诊所", "口腔诊所", "中医诊所", "美发店", "足浴店", "旅馆", "理发店"),
    nonprofits=("中西医结合门诊部", "社区卫生服务站"),
    penalties=(
        _PenaltyScenario(("org", "ind", "nonprofit"), "违反了《医疗机构管理条例》第二十七条的规定，属于使用非卫生技术人员从事医疗卫生技术工作的行为",
                         "{when}，当事人使用未取得执业资格的人员{pname}从事护理工作。",
                         "《医疗机构管理条例》第四十七条", ("罚款",), fine=(10000, 100000, 1000), weight=2),
        _PenaltyScenario(("np",), "违反了《中华人民共和国医师法》第十四条第一款的规定，属于医师未按照注册的执业类别、执业范围执业的行为",
                         "当事人系执业医师，{when}在杭州市{district}某诊所超出注册的执业范围从事口腔科诊疗活动。",
                         "《中华人民共和国医师法》第五十七条", ("警告",), weight=1),
        _PenaltyScenario(("np",), "违反了《中华人民共和国医师法》第十四条第一款的规定，属于医师未按照注册的执业类别、执业范围执业的行为",
                         "当事人系执业医师，{when}起多次超出注册的执业范围从事医疗美容诊疗活动，情节严重。",
                         "《中华人民共和国医师法》第五十七条", ("罚款", "限制从业"), fine=(10000, 30000, 1000), weight=0.5),
        _PenaltyScenario(("ind", "org"), "违反了《公共场所卫生管理条例实施细则》第二十二条第一款的规定，属于未依法取得公共场所卫生许可证擅自营业的行为",
                         "{when}，当事人经营的{district}{road}{no}号美发场所未取得公共场所卫生许可证擅自营业。",
                         "《公共场所卫生管理条例实施细则》第三十五条第一款", ("警告", "罚款"), fine=(500, 5000, 100), weight=2.5),
        _PenaltyScenario(("org",), "违反了《中华人民共和国职业病防治法》第三十五条第一款的规定，属于未按照规定组织职业健康检查的行为",
                         "当事人未按照规定组织{n}名接触噪声的劳动者进行在岗期间职业健康检查。",
                         "《中华人民共和国职业病防治法》第七十一条第（四）项", ("警告", "罚款"), fine=(50000, 100000, 1000), weight=1.5),
        _PenaltyScenario(("np",), "违反了《中华人民共和国医师法》第十三条第四款的规定，属于未取得医师执业证书非法执业的行为",
                         "当事人未取得医师执业证书，{when}在{place}擅自开展针灸、推拿诊疗活动，违法所得{value}元。",
                         "《中华人民共和国医师法》第五十九条", ("罚款", "没收违法所得", "没收非法财物"),
                         fine=(30000, 200000, 1000), wfff=(500, 20000, 100), weight=1.5),
        _PenaltyScenario(("org",), "违反了《医疗机构管理条例》第二十三条的规定，属于出借《医疗机构执业许可证》的行为",
                         "当事人将其《医疗机构执业许可证》出借给{pname}开展诊疗活动，违法所得{value}元。",
                         "《医疗机构管理条例》第四十五条", ("罚款", "没收违法所得", "吊销许可证件"),
                         fine=(50000, 100000, 1000), wfff=(1000, 50000, 100),
                         zkdx="医疗机构执业许可证（登记号：PDY{seq:05d}-330106-17A1001）", weight=0.3),
    ),
    licences=(
        _LicenceScenario(("org", "ind", "nonprofit"), "医疗机构执业许可决定书", "{prefix}医许〔{year}〕{n}号", "普通", "医疗机构执业许可证",
                         lambda f, seq, p, d: f"PDY{seq:05d}-{f.district()[1]}17A1001",
                         "诊疗科目：内科；外科；口腔科；医学检验科。执业地址：杭州市{district}{road}{no}号。", 5, weight=2),
        _LicenceScenario(("ind", "org"), "公共场所卫生许可决定书", "{prefix}公许〔{year}〕{n}号", "普通", "公共场所卫生许可证",
                         lambda f, seq, p, d: f"杭卫公证字〔{d.year}〕第{f.district()[1]}-{seq:06d}号",
                         "许可项目：美容美发场所。经营地址：杭州市{district}{road}{no}号。", 4, weight=3),
        _LicenceScenario(("np",), "医师执业注册准予许可决定书", None, "认可", "医师执业证书",
                         lambda f, seq, p, d: f"1{f.rng.choice('1234')}0{f.district()[1]}{seq:06d}",
                         "执业类别：临床；执业范围：内科专业；执业地点：杭州市{district}某医院。", None, weight=2),
        _LicenceScenario(("np",), "护士执业注册准予许可决定书", None, "认可", "护士执业证书",
                         lambda f, seq, p, d: f"{d.year}{f.district()[1][:4]}{seq:06d}",
                         "执业地点：杭州市{district}某医院。", 5, weight=1.5),
        _LicenceScenario(("org",), "放射诊疗许可决定书", "{prefix}放许〔{year}〕{n}号", "普通", "放射诊疗许可证",
                         lambda f, seq, p, d: f"浙杭卫放证字〔{d.year}〕第{seq:04d}号", "许可项目：X射线影像诊断。", 5, weight=1),
    ),
    datasets={
        "cf": _DatasetSpec("T_XZCF", "ID", "GXSJ", _wsjkw_cf_columns, _wsjkw_cf_row, _wsjkw_unknown, "BZ",
                           string_dates=True, party_mix=(("org", 0.45), ("ind", 0.25), ("np", 0.25), ("nonprofit", 0.05))),
        "xk": _DatasetSpec("T_XZXK", "ID", "GXSJ", _wsjkw_xk_columns, _wsjkw_xk_row, _wsjkw_unknown, "BZ",
                           status=("ZT", "2"), string_dates=True,
                           party_mix=(("org", 0.3), ("ind", 0.3), ("np", 0.35), ("nonprofit", 0.05))),
    },
)

DEPARTMENTS: dict[str, _DepartmentSpec] = {d.code: d for d in (SCJGJ, STHJJ, WSJKW)}


# --------------------------------------------------------------------------------------------------
# Planted problems


#: kind → (verdict, party kind it needs or None, datasets it applies to)
DEFECTS: dict[str, tuple[str, PartyKind | None, tuple[str, ...]]] = {
    "bad_uscc_check": ("bad", "org", ("cf", "xk")),
    "zero_uscc": ("bad", "org", ("cf", "xk")),
    "placeholder_without_gszc": ("bad", "ind", ("cf", "xk")),
    "missing_wsh": ("bad", None, ("cf", "xk")),
    "np_bad_id_check": ("bad", "np", ("cf", "xk")),
    "np_missing_id": ("bad", "np", ("cf", "xk")),
    "impossible_date": ("bad", None, ("cf", "xk")),
    "future_date": ("bad", None, ("cf", "xk")),
    "unknown_code": ("bad", None, ("cf", "xk")),
    "fine_missing": ("bad", None, ("cf",)),
    "junk_name": ("bad", None, ("cf", "xk")),
    "validity_before_decision": ("bad", None, ("xk",)),
    # Pass our catalogue; the provincial stand-in rejects them (verdict "province").
    "province_void_number": ("province", None, ("cf", "xk")),
    # Good after normalisation (spec §3.4): these must NOT end in quarantine.
    "fullwidth_uscc": ("fixable", "org", ("cf", "xk")),
    "padded_text": ("fixable", None, ("cf", "xk")),
}
_FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"})


def defect_kinds(department: str, dataset: str, verdict: str = "bad") -> list[str]:
    """Kinds of planted rows that apply to one department dataset."""
    spec = DEPARTMENTS[department].datasets[dataset]
    out = []
    for kind, (v, needs, datasets) in DEFECTS.items():
        if v != verdict or dataset not in datasets:
            continue
        if needs == "np" and not spec.has_np:
            continue
        if kind == "impossible_date" and not spec.string_dates:
            continue  # a DATE column cannot hold 2025-02-30
        out.append(kind)
    return out


def _apply_defect(rec: _Record, kind: str, i: int, rng: random.Random) -> None:
    p = rec.party
    if kind == "bad_uscc_check":
        assert p.uscc
        right = p.uscc[-1]
        p.uscc = p.uscc[:17] + rng.choice([c for c in _USCC_ALPHABET if c != right])
    elif kind == "zero_uscc":
        p.uscc, p.zzjg = "000000000000000000", None
    elif kind == "placeholder_without_gszc":
        p.uscc, p.gszc = "00000000000000000X", None
    elif kind == "missing_wsh":
        rec.wsh = None if i % 2 else ""
    elif kind == "np_bad_id_check":
        assert p.zjhm
        p.zjhm = p.zjhm[:17] + rng.choice([c for c in "0123456789X" if c != p.zjhm[-1]])
    elif kind == "np_missing_id":
        p.zjhm = None
    elif kind == "impossible_date":
        assert isinstance(rec.jdrq, dt.date)
        rec.jdrq = _BadDate(rec.jdrq.year, 2, 30 + (i % 2))  # 02/30 and 02/31
    elif kind == "future_date":
        # Far enough ahead to stay in the future for years after the demo was written.
        d = dt.date(2031 + i % 3, 1 + rng.randrange(12), 1 + rng.randrange(28))
        rec.jdrq = d
        if rec.dataset == "cf":
            rec.yxq = _add_years(d, 3)
        else:
            rec.yxqz, rec.yxqzi = d, (_add_years(d, 5) if rec.yxqzi != dt.date(2099, 12, 31) else rec.yxqzi)
    elif kind == "unknown_code":
        rec.unknown_code = True
    elif kind == "fine_missing":
        rec.fk = None
    elif kind == "junk_name":
        p.name = ("无", "/", "不详", "——")[i % 4]
    elif kind == "validity_before_decision":
        assert isinstance(rec.jdrq, dt.date)
        rec.yxqzi = rec.jdrq - dt.timedelta(days=rng.randrange(1, 300))
    elif kind == "province_void_number":
        assert rec.wsh
        rec.wsh = rec.wsh + "（作废）"
    elif kind == "fullwidth_uscc":
        assert p.uscc
        p.uscc = p.uscc.translate(_FULLWIDTH)
    elif kind == "padded_text":
        p.name = ("  " + p.name + " ") if i % 2 else ("\u3000" + p.name + "\u3000")
        if rec.wsh:
            rec.wsh = rec.wsh + " "
    else:  # pragma: no cover - the table above is the only source of kinds
        raise KeyError(kind)


# --------------------------------------------------------------------------------------------------
# Generation


class _Generator:
    """Neutral records of one department dataset, from one seed."""

    def __init__(self, dept: _DepartmentSpec, dataset: str, seed: int, salt: str = "base") -> None:
        self.dept = dept
        self.dataset = dataset
        self.spec = dept.datasets[dataset]
        self.rng = random.Random(f"{seed}:{dept.code}:{dataset}:{salt}")
        self.faker = _Faker(self.rng, dept.industries)
        # A pool of firms, so the same firm meets the department more than once (as in life).
        pool_rng = random.Random(f"{seed}:{dept.code}:{dataset}:pool")
        pool_faker = _Faker(pool_rng, dept.industries)
        self.orgs = [pool_faker.company() for _ in range(400)]
        self.inds = [pool_faker.individual_business(dept.shops) for _ in range(250)]
        self.nonprofits = [pool_faker.nonprofit(dept.nonprofits) for _ in range(30)]

    def party(self, kind: PartyKind) -> _Party:
        r = self.rng
        if kind == "np":
            return self.faker.natural_person()
        pool = {"org": self.orgs, "ind": self.inds, "nonprofit": self.nonprofits}[kind]
        src = r.choice(pool)
        return _Party(**vars(src))  # a copy: defects mutate the record's party only

    def party_kind(self) -> PartyKind:
        kinds, weights = zip(*self.spec.party_mix, strict=True)
        return self.rng.choices(kinds, weights)[0]

    def decision_date(self, lo: dt.date = FIRST_DECISION, hi: dt.date = LAST_DECISION) -> dt.date:
        d = lo + dt.timedelta(days=self.rng.randrange((hi - lo).days + 1))
        return max(_weekday_on_or_before(d), lo)

    def record(self, seq: int, *, need: PartyKind | None = None, need_fine: bool = False,
               jdrq: dt.date | None = None) -> _Record:
        """One good decision; ``need``/``need_fine`` steer it so that a planned defect fits."""
        r = self.rng
        kind = need or self.party_kind()
        jdrq = jdrq or self.decision_date()
        auth = r.choices(self.dept.authorities, [3] + [1] * (len(self.dept.authorities) - 1))[0]
        if self.dataset == "cf":
            scen = [s for s in self.dept.penalties if kind in s.lbs and (not need_fine or "罚款" in s.cats)]
            if not scen:  # the steering asks for a party no scenario fits: relax the party
                scen = [s for s in self.dept.penalties if not need_fine or "罚款" in s.cats]
                kind = r.choice(scen[0].lbs)
            ps = r.choices(scen, [s.weight for s in scen])[0]
            party = self.party(kind)
            fk = _amount(r, ps.fine) if ps.fine else None
            wfff = _amount(r, ps.wfff) if ps.wfff else None
            zkdx = ps.zkdx.format(seq=seq) if ps.zkdx else None
            rec = _Record(
                "cf", party, auth, self.dept.penalty_wsh.replace("{prefix}", auth.prefix), jdrq, dt.datetime.min,  # noqa: DTZ901 - gxsj set below
                wfxw=ps.wfxw, sy=_fill(ps.sy, self.faker, jdrq=jdrq, value=_yuan(wfff) if wfff else str(r.randrange(1, 60) * 100)),
                yj=ps.yj, cats=ps.cats, fk=fk, wfff=wfff, zkdx=zkdx, nr=_penalty_content(ps.cats, fk, wfff, zkdx),
                yxq=_add_years(jdrq, 1 if self.dept.code == "wsjkw" else 3),
                case_no=f"{auth.prefix}案{jdrq:%Y}{seq:06d}",
            )
        else:
            lscen = [s for s in self.dept.licences if kind in s.lbs]
            if not lscen:
                lscen = list(self.dept.licences)
                kind = r.choice(lscen[0].lbs)
            ls = r.choices(lscen, [s.weight for s in lscen])[0]
            party = self.party(kind)
            xkbh = ls.xkbh(self.faker, seq, party, jdrq) if ls.xkbh else None
            wsh = ls.wsh.replace("{prefix}", auth.prefix) if ls.wsh else xkbh
            start = jdrq + dt.timedelta(days=r.choice((0, 0, 0, 1, 3)))
            end = dt.date(2099, 12, 31) if ls.years is None else _add_years(start, ls.years) - dt.timedelta(days=1)
            rec = _Record(
                "xk", party, auth, wsh, jdrq, dt.datetime.min, xkws=ls.xkws, xklb=ls.xklb, xkzs=ls.xkzs,  # noqa: DTZ901 - gxsj set below
                xkbh=xkbh, nr=_fill(ls.nr, self.faker, jdrq=jdrq), yxqz=start, yxqzi=end,
                zt="2" if r.random() < 0.04 else "1",
            )
        # Entered some days after the decision, during office hours.
        entered = dt.datetime.combine(jdrq, dt.time(8, 30)) + dt.timedelta(
            days=r.randrange(0, 12), seconds=r.randrange(0, 9 * 3600))
        rec.gxsj = min(entered, UPDATE_CAP)
        if r.random() < 0.05:
            rec.bz = r.choice(("经复核无异议", "当事人已履行", "已送达", "简易程序转一般程序"))
        return rec


def _number_documents(records: list[_Record], rng: random.Random) -> None:
    """Replace ``{year}``/``{n}`` in document numbers by a running number per template and year."""
    groups: dict[tuple[str, int], list[_Record]] = {}
    for rec in records:
        if rec.wsh and "{n}" in rec.wsh:
            assert isinstance(rec.jdrq, dt.date)
            groups.setdefault((rec.wsh, rec.jdrq.year), []).append(rec)
    for (template, year), recs in sorted(groups.items()):
        recs.sort(key=lambda x: (x.jdrq, x.gxsj))
        for n, rec in enumerate(recs, 1):
            rec.wsh = template.format(year=year, n=n)


@dataclass
class _Built:
    rows: list[dict[str, Any]]
    cases: list[dict[str, Any]]


def _build(dept: _DepartmentSpec, dataset: str, rows: int, seed: int) -> _Built:
    """All rows of one department dataset, with the planted cases. Pure: no database access."""
    spec = dept.datasets[dataset]
    gen = _Generator(dept, dataset, seed)
    rng = random.Random(f"{seed}:{dept.code}:{dataset}:plan")
    n_corr = max(1, round(rows * CORRECTION_SHARE)) if rows >= 20 else 0
    n_base = rows - n_corr
    bad_kinds = defect_kinds(dept.code, dataset, "bad")
    fix_kinds = defect_kinds(dept.code, dataset, "fixable")
    n_bad = round(rows * BAD_SHARE)
    n_fix = round(rows * FIXABLE_SHARE)
    picked = rng.sample(range(n_base), min(n_base, n_bad + n_fix))
    plan: dict[int, str] = {}
    for j, idx in enumerate(picked):
        kinds = bad_kinds if j < n_bad else fix_kinds
        plan[idx] = kinds[j % len(kinds)]

    records: list[_Record] = []
    for i in range(n_base):
        kind = plan.get(i)
        need = DEFECTS[kind][1] if kind else None
        rec = gen.record(i + 1, need=need, need_fine=kind == "fine_missing")
        records.append(rec)
    _number_documents(records, rng)
    for i, kind in plan.items():
        _apply_defect(records[i], kind, i, rng)

    if rows >= 100:  # rows of good decisions with a 文书号 that the province refuses
        for i in rng.sample([i for i in range(n_base) if i not in plan and records[i].wsh], PROVINCE_REJECTS):
            plan[i] = "province_void_number"
            _apply_defect(records[i], "province_void_number", i, rng)

    # Later correction rows: same 文书号 (and 许可编号), corrected content, a later update time.
    originals = rng.sample([i for i in range(n_base) if i not in plan], n_corr) if n_corr else []
    corrections: list[_Record] = []
    for i in originals:
        src = records[i]
        rec = _Record(**{**vars(src), "party": _Party(**vars(src.party)), "extra": dict(src.extra)})
        if dataset == "cf":
            rec.sy = src.sy.rstrip("。") + "（经复核，更正违法事实表述）。"
            assert isinstance(src.jdrq, dt.date)  # an original is a good row: a real decision date
            rec.bz = f"更正：原决定书违法事实表述有误，于{_cn_date(src.jdrq + dt.timedelta(days=10))}更正"
        else:
            rec.zt = "2"
            rec.bz = "许可已注销"
        rec.gxsj = min(src.gxsj + dt.timedelta(days=rng.randrange(3, 40), seconds=rng.randrange(3600)), UPDATE_CAP)
        corrections.append(rec)

    tagged: list[tuple[_Record, str | None]] = [(r, plan.get(i)) for i, r in enumerate(records)]
    tagged += [(r, "correction") for r in corrections]
    # Primary keys follow entry order, as an auto-increment id would.
    tagged.sort(key=lambda t: t[0].gxsj)
    # Batch imports stamp several rows with the same second: the cursor is not unique. The earlier
    # row takes the later stamp, so no row is stamped before its decision and the order holds.
    for k in range(1, len(tagged)):
        if rng.random() < 0.05:
            tagged[k - 1][0].gxsj = tagged[k][0].gxsj

    out_rows: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    for pk, (rec, kind) in enumerate(tagged, 1):
        row = spec.to_row(rec)
        row[spec.pk] = pk
        if rec.unknown_code:
            spec.unknown(row, pk)
        out_rows.append(row)
        if kind:
            verdict = "correction" if kind == "correction" else DEFECTS[kind][0]
            cases.append({"dataset": dataset, "pk": pk, "kind": kind, "verdict": verdict})
    return _Built(out_rows, cases)


# --------------------------------------------------------------------------------------------------
# Databases


def _metadata(dept: _DepartmentSpec) -> sa.MetaData:
    md = sa.MetaData()
    for name, spec in dept.datasets.items():
        t = sa.Table(spec.table, md, *spec.columns(), comment=f"{dept.name} {'行政处罚' if name == 'cf' else '行政许可'}")
        sa.Index(f"ix_{spec.table.lower()}_{spec.cursor.lower()}", t.c[spec.cursor])
    sa.Table(
        MARKER_TABLE, md,
        sa.Column("dataset", sa.String(8), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("base_rows", sa.Integer, nullable=False),
        sa.Column("changes", sa.Integer, nullable=False),
        comment="演示数据标记：版本、种子、行数",
    )
    sa.Table(
        CASES_TABLE, md,
        sa.Column("dataset", sa.String(8), primary_key=True),
        sa.Column("pk", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("verdict", sa.String(12), nullable=False),
        comment="演示数据中故意设置的问题行",
    )
    return md


def _server_base_url(kind: SourceKind, override: str | None) -> URL:
    if kind == "mariadb":
        return make_url(override or os.environ.get("SGS_DEMO_MARIADB_URL") or DEFAULT_MARIADB_URL)
    return make_url(override or os.environ.get("SGS_DEMO_PG_URL") or DEFAULT_PG_URL)


def _engine(url: URL | str) -> Engine:
    url = make_url(url)
    args: dict[str, Any] = {}
    if url.get_backend_name() in ("mysql", "mariadb", "postgresql"):
        args["connect_timeout"] = CONNECT_TIMEOUT
    return sa.create_engine(url, connect_args=args, poolclass=sa.pool.NullPool)


def _sqlite_url(var_dir: Path, code: str) -> str:
    # ``<var>/sources`` is the default SQLite data folder (pipeline.config.source_data_dir): a department
    # SQLite file is read only from there.
    folder = var_dir / "sources"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / f'{code}.db'}"


_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _probe(kind: SourceKind, url: URL) -> None:
    """Fail within about CONNECT_TIMEOUT seconds when the server does not answer.

    The driver's connect timeout alone is not enough: something may accept the TCP connection and
    then never speak (a firewall, a proxy), and pymysql would wait for the handshake much longer.
    """
    args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT}
    if kind == "mariadb":
        args |= {"read_timeout": CONNECT_TIMEOUT, "write_timeout": CONNECT_TIMEOUT}
        url = url.set(database=None)
    engine = sa.create_engine(url, connect_args=args, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as c:
            c.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()


def _ensure_server_database(kind: SourceKind, base: URL, name: str, *, reset: bool) -> URL:
    """Create (or with ``reset`` re-create) the department database; raise if the server is down."""
    if not _DB_NAME.match(name):
        raise ValueError(f"演示数据库名 {name!r} 不合法：只允许小写字母、数字和下划线")
    _probe(kind, base)
    if kind == "mariadb":
        admin = _engine(base.set(database=None))
        with admin.begin() as c:
            if reset:
                c.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            c.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
        admin.dispose()
        return base.set(database=name)
    admin = _engine(base)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        if reset:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        exists = c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if not exists:
            c.execute(sa.text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    admin.dispose()
    return base.set(database=name)


def drop_demo_sources(*, prefix: str = DEFAULT_PREFIX, var_dir: Path | None = None,
                      mariadb_url: str | None = None, postgresql_url: str | None = None) -> None:
    """Drop the demo server databases (``<prefix><code>``) and delete the SQLite files. For tests."""
    for dept in DEPARTMENTS.values():
        name = f"{prefix}{dept.code}"
        try:
            if dept.kind == "mariadb":
                admin = _engine(_server_base_url("mariadb", mariadb_url).set(database=None))
                with admin.begin() as c:
                    c.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
                admin.dispose()
            elif dept.kind == "postgresql":
                admin = _engine(_server_base_url("postgresql", postgresql_url))
                with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        except sa.exc.OperationalError:
            pass  # server down: nothing of ours can be there
        if var_dir is not None:
            (var_dir / "sources" / f"{dept.code}.db").unlink(missing_ok=True)


def _is_current(engine: Engine, dept: _DepartmentSpec, rows: int, seed: int) -> bool:
    insp = sa.inspect(engine)
    names = {n.lower() for n in insp.get_table_names()}
    needed = {MARKER_TABLE, CASES_TABLE} | {s.table.lower() for s in dept.datasets.values()}
    if not needed <= names:
        return False
    marker = _metadata(dept).tables[MARKER_TABLE]
    with engine.connect() as c:
        found = {r.dataset: r for r in c.execute(sa.select(marker))}
    return set(found) == set(dept.datasets) and all(
        r.version == DEMO_VERSION and r.seed == seed and r.base_rows == rows for r in found.values()
    )


def _fill_database(engine: Engine, dept: _DepartmentSpec, rows: int, seed: int) -> None:
    md = _metadata(dept)
    md.drop_all(engine)  # whatever an older version or another seed left
    md.create_all(engine)
    with engine.begin() as c:
        for dataset, spec in dept.datasets.items():
            built = _build(dept, dataset, rows, seed)
            table = md.tables[spec.table]
            for k in range(0, len(built.rows), 1000):
                c.execute(table.insert(), built.rows[k:k + 1000])
            if built.cases:
                c.execute(md.tables[CASES_TABLE].insert(), built.cases)
            c.execute(md.tables[MARKER_TABLE].insert(),
                      [{"dataset": dataset, "version": DEMO_VERSION, "seed": seed, "base_rows": rows, "changes": 0}])


def _counts(engine: Engine, dept: _DepartmentSpec) -> dict[str, int]:
    md = _metadata(dept)
    with engine.connect() as c:
        return {
            name: int(c.execute(sa.select(sa.func.count()).select_from(md.tables[spec.table])).scalar_one())
            for name, spec in dept.datasets.items()
        }


def create_demo_sources(
    var_dir: Path,
    *,
    rows: int = 1500,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    prefix: str = DEFAULT_PREFIX,
    departments: Iterable[str] | None = None,
    mariadb_url: str | None = None,
    postgresql_url: str | None = None,
) -> list[DemoSource]:
    """Create the demo department databases and fill them; return where they are.

    ``rows`` is the number of rows per dataset per department. Server databases are named
    ``<prefix><code>`` (tests pass another prefix); SQLite files are ``var_dir/sources/<code>.db``.
    Tables whose marker matches version, seed and ``rows`` are left alone (rows added since by
    :func:`add_demo_changes` stay) unless ``reset`` is true. A server that does not answer within
    3 seconds is replaced by a SQLite file (``fallback=True``).
    """
    if rows < 1:
        raise ValueError("rows 必须为正整数")
    codes = list(departments) if departments is not None else list(DEPARTMENTS)
    unknown = [c for c in codes if c not in DEPARTMENTS]
    if unknown:
        raise KeyError(f"没有演示部门 {', '.join(unknown)}；已有：{', '.join(DEPARTMENTS)}")
    var_dir = Path(var_dir)
    sources: list[DemoSource] = []
    for code in codes:
        dept = DEPARTMENTS[code]
        kind: SourceKind = dept.kind
        fallback = False
        if kind == "sqlite":
            url_s = _sqlite_url(var_dir, code)
        else:
            base = _server_base_url(kind, mariadb_url if kind == "mariadb" else postgresql_url)
            try:
                url_s = _ensure_server_database(kind, base, f"{prefix}{code}", reset=reset).render_as_string(
                    hide_password=False)
            except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError) as exc:
                log.warning("演示部门 %s：%s 服务器 %s 不可用（%s），改用 SQLite 文件",
                            code, kind, redact_url(base.render_as_string(hide_password=False)), type(exc).__name__)
                kind, fallback = "sqlite", True
                url_s = _sqlite_url(var_dir, code)
        if kind == "sqlite" and reset:
            Path(make_url(url_s).database or "").unlink(missing_ok=True)
        engine = _engine(url_s)
        try:
            if reset or not _is_current(engine, dept, rows, seed):
                _fill_database(engine, dept, rows, seed)
            counts = _counts(engine, dept)
        finally:
            engine.dispose()
        sources.append(DemoSource(code, kind, url_s, fallback, counts))
    return sources


def read_cases(source: DemoSource, dataset: str | None = None) -> list[dict[str, Any]]:
    """The planted rows of a demo source: ``dataset``, ``pk``, ``kind``, ``verdict``
    (``bad`` must be quarantined, ``fixable`` must pass after normalisation, ``province`` passes but
    the provincial stand-in rejects it, ``correction``
    shares the 文书号 of an earlier row and supersedes it)."""
    md = _metadata(DEPARTMENTS[source.department])
    t = md.tables[CASES_TABLE]
    q = sa.select(t).order_by(t.c.dataset, t.c.pk)
    if dataset:
        q = q.where(t.c.dataset == dataset)
    engine = _engine(source.url)
    try:
        with engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]
    finally:
        engine.dispose()


def add_demo_changes(source: DemoSource, dataset: str, *, new: int, updated: int, seed: int) -> None:
    """Simulate the department at work: insert ``new`` rows and change ``updated`` existing rows.

    Every touched row gets a cursor value strictly greater than any existing one (one minute apart,
    after the current maximum), so an incremental read picks all of them up. New rows are good
    decisions dated shortly before the new cursor values; updated rows are good rows (never a
    planted case) whose remark changes and, for licences, every other one becomes 无效 (当前状态 2).
    Deterministic for a given seed and database state.
    """
    dept = DEPARTMENTS[source.department]
    if dataset not in dept.datasets:
        raise KeyError(f"演示部门 {dept.code} 没有数据集 {dataset}；已有：{', '.join(dept.datasets)}")
    spec = dept.datasets[dataset]
    md = _metadata(dept)
    table, cases, marker = md.tables[spec.table], md.tables[CASES_TABLE], md.tables[MARKER_TABLE]
    pk, cursor = table.c[spec.pk], table.c[spec.cursor]
    engine = _engine(source.url)
    try:
        with engine.begin() as c:
            max_cursor = c.execute(sa.select(sa.func.max(cursor))).scalar_one()
            max_pk = int(c.execute(sa.select(sa.func.max(pk))).scalar_one() or 0)
            if max_cursor is None:
                max_cursor = UPDATE_CAP
            max_cursor = max_cursor.replace(microsecond=0)
            rng = random.Random(f"{seed}:{dept.code}:{dataset}:changes:{max_pk}:{max_cursor:%Y%m%d%H%M%S}")
            planted = {int(r[0]) for r in c.execute(sa.select(cases.c.pk).where(cases.c.dataset == dataset))}
            candidates = [int(r[0]) for r in c.execute(sa.select(pk).order_by(pk)) if int(r[0]) not in planted]
            chosen = sorted(rng.sample(candidates, min(updated, len(candidates))))
            step = 0
            for k, row_pk in enumerate(chosen):
                step += 1
                ts = max_cursor + dt.timedelta(minutes=step)
                values: dict[str, Any] = {spec.cursor: ts, spec.remark: f"{ts:%Y-%m-%d}信息更新（第{step}项）"}
                if spec.status and k % 2 == 0:
                    values[spec.status[0]] = spec.status[1]
                c.execute(sa.update(table).where(pk == row_pk).values(**values))
            gen = _Generator(dept, dataset, seed, salt=f"changes:{max_pk}")
            new_rows = []
            for k in range(new):
                step += 1
                ts = max_cursor + dt.timedelta(minutes=step)
                row_pk = max_pk + k + 1
                hi = min(ts.date() - dt.timedelta(days=1), LAST_DECISION)
                rec = gen.record(row_pk, jdrq=gen.decision_date(hi - dt.timedelta(days=20), hi))
                if rec.wsh and "{n}" in rec.wsh:
                    # Numbers above every base number (base numbers never exceed the row count).
                    assert isinstance(rec.jdrq, dt.date)
                    rec.wsh = rec.wsh.format(year=rec.jdrq.year, n=row_pk)
                rec.gxsj = ts
                row = spec.to_row(rec)
                row[spec.pk] = row_pk
                new_rows.append(row)
            if new_rows:
                c.execute(table.insert(), new_rows)
            c.execute(sa.update(marker).where(marker.c.dataset == dataset)
                      .values(changes=marker.c.changes + new + len(chosen)))
    finally:
        engine.dispose()
