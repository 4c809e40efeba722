"""Helpers of the upstream tests: penalties in national columns, loaded through the real loader."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from national import dataset
from national.clock import now_shanghai
from store.changelog import delivery_states
from store.loader import Batch
from store.runs import finish_run, start_run
from tests.factories import load_batch
from upstream.settings import PushSettings

CF = dataset("cf")
DEPT = "scjgj"
UNIT = "某市市场监督管理局"
UNIT_CODE = "11330100MB0000000X"


def penalty(n: int | str, **values: str | None) -> dict[str, str | None]:
    """A penalty in national columns; ``n`` makes the decision number."""
    row: dict[str, str | None] = {c: None for c in CF.columns}
    row.update(
        {
            "CF_XDR_MC": f"某某贸易有限公司{n}",
            "CF_XDR_LB": "法人及非法人组织",
            "CF_WSH": f"杭市监罚〔2025〕{n}号",
            "CF_CFLB": "罚款",
            "CF_NR": "罚款2000元",
            "CF_NR_FK": "0.2",
            "CF_JDRQ": "2025-03-01",
            "CF_YXQ": "2026-03-01",
            "CF_CFJG": UNIT,
            "CF_CFJGDM": UNIT_CODE,
            "CF_SJLY": UNIT,
            "CF_SJLYDM": UNIT_CODE,
        }
    )
    row.update(values)
    return row


def load(engine: Engine, rows: list[dict[str, Any]], *, pks: list[str] | None = None, department: str = DEPT,
         publicity_end: list[str | None] | None = None) -> int:
    """Load accepted rows through the real loader in one run (each change takes its change_seq in the same transaction)."""
    run, wm = start_run(engine, department, "cf", "test")
    frame = pd.DataFrame(rows, columns=CF.columns, dtype=object)
    pks = pks or [r["CF_WSH"] or str(i) for i, r in enumerate(rows)]
    publicity = None
    if publicity_end is not None:
        publicity = pd.DataFrame({"publicity_end": publicity_end, "repair_eligible_from": [None] * len(rows)}, dtype=object)
    batch = Batch(
        department=department,
        dataset="cf",
        national=frame,
        source_pk=[json.dumps([p], ensure_ascii=False) for p in pks],
        raw=[json.dumps(r, ensure_ascii=False) for r in rows],
        rejected=np.zeros(len(rows), dtype=bool),
        issues=[[] for _ in rows],
        publicity=publicity,
        cursor_from=wm,
        cursor_to=json.dumps(now_shanghai().replace(tzinfo=None).isoformat()),  # a source cursor: naive local time
    )
    with engine.begin() as conn:
        load_batch(conn, run, batch)
    finish_run(engine, run, status="success")
    return run


def deliveries(engine: Engine) -> list[dict[str, Any]]:
    """Where each record's current version stands upstream (store.changelog.delivery_states), in change order."""
    with engine.connect() as conn:
        return delivery_states(conn, "cf") + delivery_states(conn, "xk")


def fast(**kw: Any) -> PushSettings:
    """Settings for tests: small batches, short timeouts, quick back-off."""
    base: dict[str, Any] = {"batch_size": 5, "timeout": 1.0, "max_attempts": 12, "backoff_initial": 0.05, "backoff_max": 0.4, "jitter": 0.1}
    base.update(kw)
    return PushSettings(**base)
