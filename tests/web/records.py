"""Stores with decisions loaded through the real loader, for the public column's tests (not a conftest: helpers)."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from national import dataset
from store.loader import Batch, read_watermark
from store.runs import start_run
from tests.factories import authority_code, load_batch, make_id, make_uscc

SOURCE = authority_code()
TODAY = dt.date(2026, 12, 1)


def penalty(i: int, **over: Any) -> dict[str, str | None]:
    """A penalty decision of a company (legal representative with an ID number) unless ``over`` says otherwise."""
    rng = random.Random(i)
    r: dict[str, str | None] = {
        "CF_XDR_MC": f"杭州测试{i:04d}餐饮有限公司", "CF_XDR_LB": "法人及非法人组织", "CF_XDR_SHXYM": make_uscc(rng),
        "CF_FRDB": "王五", "CF_FR_ZJLX": "身份证", "CF_FR_ZJHM": make_id(rng),
        "CF_WSH": f"杭市监罚〔2026〕{i}号", "CF_WFXW": "未按规定公示信息", "CF_SY": f"经查，当事人第 {i} 号违法事实。",
        "CF_YJ": "《食品安全法》第一百二十六条", "CF_CFLB": "罚款", "CF_NR": "罚款人民币五千元",
        "CF_NR_FK": "0.5", "CF_JDRQ": (dt.date(2026, 1, 1) + dt.timedelta(days=i % 300)).isoformat(),
        "CF_CFJG": "杭州市市场监督管理局", "CF_CFJGDM": SOURCE, "CF_SJLY": "杭州市市场监督管理局", "CF_SJLYDM": SOURCE,
    }
    r.update(over)
    return r


def person_penalty(i: int, **over: Any) -> dict[str, str | None]:
    """A penalty of a natural person: the ID number in its own column and, badly, in the free text too."""
    rng = random.Random(10_000 + i)
    idn = make_id(rng)
    values: dict[str, Any] = {
        "CF_XDR_MC": f"张{'三四五六七八'[i % 6]}{i}", "CF_XDR_LB": "自然人", "CF_XDR_SHXYM": None, "CF_FRDB": None,
        "CF_FR_ZJLX": None, "CF_FR_ZJHM": None, "CF_XDR_ZJLX": "身份证", "CF_XDR_ZJHM": idn,
        "CF_SY": f"当事人张某（身份证号 {idn}，电话 13812345678，银行卡 6222021234567890123）无证经营。",
    }
    return penalty(i, **{**values, **over})


def licence(i: int, **over: Any) -> dict[str, str | None]:
    rng = random.Random(20_000 + i)
    r: dict[str, str | None] = {
        "XK_XDR_MC": f"杭州许可{i:04d}科技有限公司", "XK_XDR_LB": "法人及非法人组织", "XK_XDR_SHXYM": make_uscc(rng),
        "XK_FRDB": "李四", "XK_FR_ZJLX": "身份证", "XK_FR_ZJHM": make_id(rng),
        "XK_XKWS": "准予许可决定书", "XK_WSH": f"杭市监许〔2026〕{i}号", "XK_XKLB": "普通", "XK_XKZS": "食品经营许可证",
        "XK_XKBH": f"JY{i:08d}", "XK_NR": "食品经营", "XK_JDRQ": (dt.date(2026, 1, 1) + dt.timedelta(days=i % 300)).isoformat(),
        "XK_YXQZ": "2026-01-01", "XK_YXQZI": "2031-01-01", "XK_XKJG": "杭州市市场监督管理局", "XK_XKJGDM": SOURCE,
        "XK_ZT": "1", "XK_LYDW": "杭州市市场监督管理局", "XK_LYDWDM": SOURCE,
    }
    r.update(over)
    return r


def load(engine: Engine, ds: str, records: Iterable[dict[str, Any]], *, department: str = "scjgj",
         publicity_end: Iterable[str | None] | None = None) -> None:
    """Load ``records`` through store.loader.load_batch in one transaction (penalties get a publicity end:
    the given ones, or decision date + 3 years)."""
    d = dataset(ds)
    recs = list(records)
    frame = pd.DataFrame([{c: r.get(c) for c in d.columns} for r in recs], columns=d.columns, dtype=object)
    publicity = None
    if ds == "cf":
        ends = list(publicity_end) if publicity_end is not None else [
            dt.date.fromisoformat(r["CF_JDRQ"]).replace(year=dt.date.fromisoformat(r["CF_JDRQ"]).year + 3).isoformat()
            for r in recs
        ]
        publicity = pd.DataFrame({"publicity_end": ends, "repair_eligible_from": [None] * len(recs)}, dtype=object)
    run, _ = start_run(engine, department, ds, "test")
    with engine.begin() as conn:
        current = read_watermark(conn, department, ds)
        batch = Batch(
            department=department, dataset=ds, national=frame,
            source_pk=[json.dumps([r.get("CF_WSH") or r.get("XK_WSH")], ensure_ascii=False) for r in recs],
            raw=[None] * len(recs), rejected=np.zeros(len(recs), dtype=bool), issues=[[] for _ in recs],
            publicity=publicity, cursor_from=current, cursor_to=current,
        )
        load_batch(conn, run, batch)


def published_rows(engine: Engine, ds: str) -> dict[int, dict[str, Any]]:
    from store.schema import published_tables

    t = published_tables[ds]
    with engine.connect() as c:
        return {r["id"]: dict(r) for r in c.execute(sa.select(t)).mappings()}
