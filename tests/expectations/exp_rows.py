"""Test helpers: one clean record per dataset and a helper to validate variations of it.

A plain module (not conftest) so that test files can import it by name: pytest puts this folder on
``sys.path`` because it has no ``__init__.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd

from expectations import Verdicts, validate
from national import dataset

TODAY = dt.date(2026, 6, 30)

# Valid codes from the spec's worked examples (§4) and computed ones.
ORG_USCC = "91350100M000100Y43"  # embedded 组织机构代码 M000100Y4
IND_USCC = "92350100M000100Y40"  # hypothetical 个体工商户 code, check digit computed by GB 32100
AUTH_USCC = "11230500001755309F"
ID_NUMBER = "11010519491231002X"

GOOD_CF: dict[str, Any] = {
    "CF_XDR_MC": "福州某某科技有限公司",
    "CF_XDR_LB": "法人及非法人组织",
    "CF_XDR_SHXYM": ORG_USCC,
    "CF_XDR_GSZC": None,
    "CF_XDR_ZZJG": "M000100Y4",
    "CF_XDR_SWDJ": None,
    "CF_XDR_SYDW": None,
    "CF_XDR_SHZZ": None,
    "CF_FRDB": "张三",
    "CF_FR_ZJLX": "身份证",
    "CF_FR_ZJHM": ID_NUMBER,
    "CF_XDR_ZJLX": None,
    "CF_XDR_ZJHM": None,
    "CF_WSH": "榕市监罚〔2024〕12号",
    "CF_WFXW": "违反《中华人民共和国食品安全法》第三十四条",
    "CF_SY": "当事人销售超过保质期的食品。\n经查证属实。",
    "CF_YJ": "《中华人民共和国食品安全法》第一百二十四条",
    "CF_CFLB": "罚款;没收违法所得",
    "CF_NR": "罚款2000元，没收违法所得500元。",
    "CF_NR_FK": "0.2",
    "CF_NR_WFFF": "0.05",
    "CF_NR_ZKDX": None,
    "CF_JDRQ": "2024-03-15",
    "CF_YXQ": "2025-03-15",
    "CF_GSJZQ": "2027-03-15",
    "CF_CFJG": "福州市市场监督管理局",
    "CF_CFJGDM": AUTH_USCC,
    "CF_SJLY": "福州市市场监督管理局",
    "CF_SJLYDM": AUTH_USCC,
    "BZ": None,
}

GOOD_XK: dict[str, Any] = {
    "XK_XDR_MC": "张三",
    "XK_XDR_LB": "自然人",
    "XK_XDR_SHXYM": None,
    "XK_XDR_GSZC": None,
    "XK_XDR_ZZJG": None,
    "XK_XDR_SWDJ": None,
    "XK_XDR_SYDW": None,
    "XK_XDR_SHZZ": None,
    "XK_FRDB": None,
    "XK_FR_ZJLX": None,
    "XK_FR_ZJHM": None,
    "XK_XDR_ZJLX": "身份证",
    "XK_XDR_ZJHM": "440524188001010014",
    "XK_XKWS": "食品经营许可决定书",
    "XK_WSH": "榕食许〔2024〕88号",
    "XK_XKLB": "普通",
    "XK_XKZS": "食品经营许可证",
    "XK_XKBH": "JY13501000012345",
    "XK_NR": "准予食品经营许可。",
    "XK_JDRQ": "2024-03-15",
    "XK_YXQZ": "2024-03-15",
    "XK_YXQZI": "2029-03-14",
    "XK_XKJG": "福州市市场监督管理局",
    "XK_XKJGDM": AUTH_USCC,
    "XK_ZT": "1",
    "XK_LYDW": "福州市市场监督管理局",
    "XK_LYDWDM": AUTH_USCC,
    "BZ": "",
}

GOOD = {"cf": GOOD_CF, "xk": GOOD_XK}


def frame(ds: str, rows: list[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows in national columns, each starting from the clean record and overriding some fields.

    Field names may be written with ``P_`` for the dataset prefix (``P_XDR_LB`` → ``CF_XDR_LB``).
    """
    prefix = ds.upper()
    records = []
    for r in rows:
        rec = dict(GOOD[ds])
        rec.update({(k.replace("P_", prefix + "_", 1) if k.startswith("P_") else k): v for k, v in r.items()})
        records.append(rec)
    df = pd.DataFrame(records, columns=dataset(ds).columns, dtype=object)
    return df.astype(object).where(df.notna(), None)


def check(ds: str, rows: list[Mapping[str, Any]], **kw: Any) -> Verdicts:
    """Validate variations of the clean record."""
    return validate(frame(ds, rows), ds, today=kw.pop("today", TODAY), **kw)
