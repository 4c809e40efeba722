"""A small central store for the report and dashboard tests, built through the real loader with controlled
arrival times, so that every expected indicator can be worked out by hand (see ``build_scenario``)."""

from __future__ import annotations

import datetime as dt
import json
import random

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from national import dataset
from reports.indicators import DepartmentInfo
from store.loader import Batch
from store.runs import finish_run, start_run
from tests.factories import authority_code, load_batch, make_uscc

CF = dataset("cf")
UTC = dt.UTC
SECRET_ID = "110105199001011237"  # an ID-number-shaped value planted in a document number
DEPTS = {
    "aaa": DepartmentInfo("aaa", "测试市场监督管理局", ("cf",)),
    "bbb": DepartmentInfo("bbb", "测试生态环境局", ("cf",)),
    "ccc": DepartmentInfo("ccc", "测试卫生健康委员会", ("cf", "xk")),
}
AS_OF = dt.datetime(2025, 4, 2, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def penalty(wsh: str | None, decided: dt.date, **changes: str | None) -> dict[str, str | None]:
    rng = random.Random(wsh or "none")
    authority = authority_code()
    row: dict[str, str | None] = {c: None for c in CF.columns}
    row.update(
        {
            "CF_XDR_MC": "杭州测试贸易有限公司", "CF_XDR_LB": "法人及非法人组织", "CF_XDR_SHXYM": make_uscc(rng),
            "CF_FRDB": "李四", "CF_WSH": wsh, "CF_WFXW": "违反《产品质量法》第三十三条", "CF_SY": "销售不合格产品",
            "CF_YJ": "《产品质量法》第五十条", "CF_CFLB": "罚款", "CF_NR": "罚款2000元", "CF_NR_FK": "0.2",
            "CF_JDRQ": decided.isoformat(), "CF_YXQ": (decided + dt.timedelta(days=365)).isoformat(),
            "CF_CFJG": "测试局", "CF_CFJGDM": authority, "CF_SJLY": "测试局", "CF_SJLYDM": authority,
        }
    )
    row.update(changes)
    return row


def load(engine: Engine, department: str, pk: str, row: dict[str, str | None], at: dt.datetime, *, bad: bool = False) -> None:
    """One source row through the loader at time ``at``: stored, or quarantined when ``bad``."""
    run, wm = start_run(engine, department, "cf", "test")
    frame = pd.DataFrame([row], columns=CF.columns, dtype=object)
    issue = {"rule": "CF-REQ-003", "field": "CF_SY", "message": "违法事实未填写", "severity": "error"}
    batch = Batch(
        department=department, dataset="cf", national=frame, source_pk=[json.dumps([pk])],
        raw=[json.dumps({"id": pk, **row}, ensure_ascii=False)], rejected=np.array([bad]),
        issues=[[issue] if bad else []], cursor_from=wm, cursor_to=wm,
    )
    with engine.begin() as conn:
        load_batch(conn, run, batch, now=at)
    finish_run(engine, run, status="success")


def at(day: dt.date, hour: int = 2) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=UTC)  # 02:00 UTC = 10:00 the same day in Shanghai


D = dt.date


def build_scenario(e: Engine) -> Engine:
    """aaa: six March 2025 records with every timeliness outcome; bbb: one in February, one in March."""
    # aaa, March 2025 (deadlines from the 2025 calendar: 3 Mar → 12 Mar, 5 Mar → 14 Mar, 10 Mar → 19 Mar,
    # 12 Mar → 21 Mar, 28 Mar → 9 Apr because 4 Apr is 清明).
    load(e, "aaa", "1", penalty("罚〔2025〕1号", D(2025, 3, 3)), at(D(2025, 3, 10)))  # A1 on time
    load(e, "aaa", "2", penalty(f"罚〔2025〕{SECRET_ID}号", D(2025, 3, 3)), at(D(2025, 3, 20)))  # A2 late by 8 days
    load(e, "aaa", "3", penalty("罚〔2025〕3号", D(2025, 3, 5), CF_SY=None), at(D(2025, 3, 6)), bad=True)
    load(e, "aaa", "3", penalty("罚〔2025〕3号", D(2025, 3, 5)), at(D(2025, 3, 10)))  # A3 fixed: on time, not first pass
    load(e, "aaa", "4", penalty("罚〔2025〕4号", D(2025, 3, 10), CF_NR=None), at(D(2025, 3, 11)), bad=True)  # A4 missing
    load(e, "aaa", "5", penalty("罚〔2025〕5号", D(2025, 3, 28), CF_SY=None), at(D(2025, 3, 29)), bad=True)  # A5 pending
    load(e, "aaa", "6", penalty(None, D(2025, 3, 12)), at(D(2025, 3, 13)), bad=True)  # A6 no 文书号: a record of its own
    load(e, "aaa", "7", penalty("罚〔2025〕7号", D(2025, 3, 20)), at(D(2025, 4, 5)))  # after as_of: not known yet
    # bbb: one decision in February (year to date only), one in March on time.
    load(e, "bbb", "1", penalty("罚〔2025〕B1号", D(2025, 2, 10)), at(D(2025, 2, 11)))
    load(e, "bbb", "2", penalty("罚〔2025〕B2号", D(2025, 3, 14)), at(D(2025, 3, 14)))
    return e
