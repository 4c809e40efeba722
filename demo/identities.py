"""Who appears in the demo data: names, credit codes, ID numbers, the deciding authorities.

Check digits (spec §4) are computed here on purpose and not taken from ``expectations``: the demo must not
depend on the code it is meant to test. Everything is drawn from one seeded ``random.Random`` per generator.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

#: A party's kind: company or other legal person, non-legal-person organisation, individual business, natural person.
PartyKind = Literal["org", "nonprofit", "ind", "np"]

# --------------------------------------------------------------------------------------------------
# Check digits (spec §4)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check_char(body17: str) -> str:
    """GB 32100 check character of the first 17 characters."""
    s = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - s % 31) % 31]


def id_check_char(body17: str) -> str:
    """GB 11643 check character of a 身份证 number."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True)) % 11]


def org_check_char(body8: str) -> str:
    """GB 11714 check character of a 组织机构代码."""
    s = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    r = 11 - s % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def gszc_check_digit(body14: str) -> str:
    """ISO 7064 MOD 11,10 check digit of a 15-digit 工商注册号."""
    p = 10
    for c in body14:
        s = (p + int(c)) % 10 or 10
        p = (s * 2) % 11
    return str((11 - p) % 10)


# --------------------------------------------------------------------------------------------------
# Vocabulary

_DISTRICTS = (
    ("城区", "140302"), ("矿区", "140303"), ("郊区", "140311"), ("平定县", "140321"), ("盂县", "140322"),
)
# Birth places of natural persons: mostly local, some from the rest of 山西 and the neighbouring provinces.
_ID_AREAS = tuple(a for _, a in _DISTRICTS) + (
    "140105", "140106", "140702", "140721", "140725", "140802", "141002", "140402",
    "130102", "130181", "130521", "410102", "411323", "150102",
)
ROADS = ("桃北东街", "桃北中街", "桃北西街", "南大街", "北大街", "德胜街", "义井街", "泉中路", "桃南东路", "桃南中路",
          "新华西街", "赛鱼路", "滨河北路", "东环路", "大连路", "小河路", "开发区大道", "郊区路")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁沈任姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌浩宇凯俊鹏辉晨欣怡佳琪雪梅海燕丹云飞鑫婷晓春亮林波宁健"
_TRADE_WORDS = ("华", "鑫", "盛", "达", "恒", "瑞", "宏", "远", "嘉", "诚", "博", "泰", "信", "联", "晟", "鼎", "澜",
                "越", "钱", "江", "润", "禾", "启", "明", "舜", "和", "康", "锦", "卓", "拓", "航", "峰", "源", "汇")
_SHOP_WORDS = ("阿强", "小李", "好味", "鸿运", "老王", "金牌", "味之源", "家乐", "永兴", "福满", "兴旺", "顺发",
               "如意", "百味", "惠民", "红星", "春风", "吉祥")


@dataclass(frozen=True)
class Authority:
    """A deciding authority (机关) and the prefix of its document numbers."""

    name: str
    uscc: str
    prefix: str


@dataclass
class Party:
    """The party of a decision (当事人 / 行政相对人) with its codes, as a department would record them."""

    lb: PartyKind
    name: str
    uscc: str | None = None
    gszc: str | None = None
    zzjg: str | None = None
    frdb: str | None = None
    fr_zjlx: str | None = None
    fr_zjhm: str | None = None
    zjlx: str | None = None
    zjhm: str | None = None


class Faker:
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
            body = "MA" + "".join(r.choice(USCC_ALPHABET) for _ in range(6))
        return body + org_check_char(body)

    def uscc(self, prefix: str, area: str) -> str:
        body = f"{prefix}{area}{self.org_code()}"
        return body + uscc_check_char(body)

    def gszc(self, area: str) -> str:
        body = f"{area}6{self.rng.randrange(10**6, 10**7)}"
        return body + gszc_check_digit(body)

    def district(self) -> tuple[str, str]:
        return self.rng.choice(_DISTRICTS)

    def address(self) -> str:
        r = self.rng
        return f"阳泉市{r.choice(_DISTRICTS)[0]}{r.choice(ROADS)}{r.randrange(1, 999)}号"

    def company(self) -> Party:
        r = self.rng
        district, area = self.district()
        trade = "".join(r.sample(_TRADE_WORDS, 2))
        suffix = "股份有限公司" if r.random() < 0.08 else "有限公司"
        name = f"阳泉{trade}{r.choice(self.industries)}{suffix}"
        uscc = self.uscc("91", area)
        p = Party("org", name, uscc=uscc, frdb=self.person_name())
        if r.random() < 0.4:
            p.zzjg = uscc[8:17]
        if r.random() < 0.2:
            p.gszc = self.gszc(area)
        if r.random() < 0.5:
            p.fr_zjlx, p.fr_zjhm = "身份证", self.id_number(max_year=1995)
        return p

    def nonprofit(self, kinds: Sequence[str]) -> Party:
        """A 非法人组织 (branch office, partnership, private non-enterprise unit)."""
        r = self.rng
        district, area = self.district()
        trade = "".join(r.sample(_TRADE_WORDS, 2))
        name = f"阳泉{trade}{r.choice(kinds)}"
        return Party("nonprofit", name, uscc=self.uscc("91" if "分公司" in name else "52", area), frdb=self.person_name())

    def individual_business(self, shops: Sequence[str]) -> Party:
        r = self.rng
        district, area = self.district()
        operator = self.person_name()
        name = f"阳泉市{district}{r.choice(_SHOP_WORDS)}{r.choice(shops)}"
        p = Party("ind", name, frdb=operator, fr_zjlx="身份证", fr_zjhm=self.id_number(max_year=1998))
        if r.random() < 0.06:  # registered before 2016, USCC not yet re-issued
            p.uscc, p.gszc = "00000000000000000X", self.gszc(area)
        else:
            p.uscc = self.uscc("92", area)
        return p

    def natural_person(self) -> Party:
        return Party("np", self.person_name(), zjlx="身份证", zjhm=self.id_number())
