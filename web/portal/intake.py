"""The portal's way into the central store: the same stages as 方式一 (``pipeline.prepare.prepare_chunk``: map,
derive, the rule catalogue, typing, keys) and the same loader (``store.loader.load_batch``: records with history and
the change sequence, the public column, quarantine with Chinese reasons), one transaction per submission.

Rows arrive as national columns (the form, or a template file); the department's own 数据来源单位 and its code
are set from its department file when there is one (a clerk cannot report for another unit). The source primary
key of a portal row is ``["portal", 文书号]`` (licences: with the 许可编号), so a corrected row sent again — by
form or file — resolves its open 问题数据 and the same decision sent twice is one record. Each submission is an
``ingest_run`` of the department with trigger ``portal``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.sql import RawChunk
from national import dataset as national_dataset
from national.clock import today_shanghai
from national.issues import issue_dict
from pipeline.config import DatasetConfig
from pipeline.prepare import prepare_chunk
from store import bulk
from store import quarantine as quarantine_store
from store.db import inserted_id
from store.loader import WatermarkMoved, load_batch, read_watermark
from store.schema import ingest_run

log = logging.getLogger("sgs.portal")
TRIGGER = "portal"
PK = ["portal_channel", "portal_doc", "portal_extra"]
#: 数据来源单位 / its code per dataset: set from the department file, not typed by the clerk.
SOURCE_FIELDS = {"cf": ("CF_SJLY", "CF_SJLYDM"), "xk": ("XK_LYDW", "XK_LYDWDM")}


@dataclasses.dataclass(frozen=True)
class RowVerdict:
    row: int  # 1-based position in the submission (a file's row number is row + 1: the header)
    accepted: bool
    issues: list[dict[str, str]]  # {rule, field, message, severity}
    doc_no: str


@dataclasses.dataclass(frozen=True)
class Outcome:
    run_id: int
    verdicts: list[RowVerdict]
    counts: dict[str, int]

    @property
    def accepted(self) -> int:
        return sum(v.accepted for v in self.verdicts)

    @property
    def rejected(self) -> int:
        return sum(not v.accepted for v in self.verdicts)


def unit_constants(department: str, dataset: str) -> dict[str, str]:
    """数据来源单位 and its code from ``departments/<department>.yaml``, which every portal unit has (``sgs user add``
    refuses a unit without one). They are what the business key starts with: a clerk who could type another
    unit's code would update that unit's records. Raises ``pipeline.config.ConfigError`` without the file."""
    from pipeline.config import find_department

    dept = find_department(department)
    name, code = SOURCE_FIELDS[dataset]
    return {name: dept.name, code: dept.uscc}


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(v)


def submit(
    engine: Engine, department: str, dataset: str, rows: Sequence[dict[str, Any]], *, today: dt.date | None = None,
    resolve_source_pks: Sequence[str] = (), now: dt.datetime | None = None,
) -> Outcome:
    """Check and load ``rows`` (national code → value) for ``department``; returns the verdict of each row.
    ``resolve_source_pks``: open 问题数据 this submission corrects (closed when its row is accepted)."""
    ds = national_dataset(dataset)
    today = today or today_shanghai()
    now = now or dt.datetime.now(dt.UTC)
    constants = unit_constants(department, dataset)
    doc = f"{dataset.upper()}_WSH"
    records = []
    for i, r in enumerate(rows):
        values = {c: _text(r.get(c)) for c in ds.columns}
        values.update(constants)
        wsh = values[doc].strip()
        extra = values.get("XK_XKBH", "").strip() if dataset == "xk" else ""
        # No 文书号: a row of its own (it is quarantined for the missing number in any case).
        records.append({**values, "portal_channel": TRIGGER, "portal_doc": wsh or f"无文书号-{now:%Y%m%d%H%M%S%f}-{i + 1}",
                        "portal_extra": extra})
    frame = pd.DataFrame(records, columns=[*ds.columns, *PK], dtype=object)
    cfg = DatasetConfig(table="portal", cursor="portal_doc", primary_key=PK, columns={c: c for c in ds.columns})
    for attempt in range(3):
        try:
            return _load(engine, department, dataset, frame, cfg, records, doc, today, now, resolve_source_pks)
        except WatermarkMoved:
            # A database-docking run of the same department committed a chunk in between: the portal never moves
            # the watermark, it only checks it as every chunk does; load again against the new value.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _load(engine: Engine, department: str, dataset: str, frame: pd.DataFrame, cfg: DatasetConfig,
          records: list[dict[str, Any]], doc: str, today: dt.date, now: dt.datetime, resolve_source_pks: Sequence[str]) -> Outcome:
    with engine.begin() as conn:
        run_id = int(inserted_id(conn.execute(ingest_run.insert().values(
            department=department, dataset=dataset, trigger=TRIGGER, status="success", started_at=now, finished_at=now))))
        current = read_watermark(conn, department, dataset)
        chunk = prepare_chunk(RawChunk(frame, cursor_from=current, cursor_to=None), cfg, dataset, department, today,
                              copy_text=bulk.uses_copy(conn))
        counts = load_batch(conn, run_id, chunk.batch, now=now)
        batch = chunk.batch
        rejected = batch.rejected.tolist()
        verdicts = [
            RowVerdict(i + 1, not rejected[i], [issue_dict(x) for x in batch.issues[i]], _text(records[i][doc]))
            for i in range(len(records))
        ]
        if resolve_source_pks and any(v.accepted for v in verdicts):
            quarantine_store.resolve_fixed(conn, department, dataset, run_id, now,
                                           source_pks=list(resolve_source_pks), business_keys=[])
    log.info("portal %s/%s run %s: %s", department, dataset, run_id, json.dumps(counts.as_dict()))
    return Outcome(run_id, verdicts, counts.as_dict())


def department_records(engine: Engine, department: str, dataset: str, *, doc_no: str | None = None,
                       limit: int = 50) -> list[dict[str, Any]]:
    """The department's decisions (any channel), newest change first: always scoped by ``department``."""
    from store.schema import record_tables

    t = record_tables[dataset]
    p = dataset
    stmt = (sa.select(t.c.id, t.c.business_key, t.c[f"{p}_wsh"].label("doc_no"), t.c[f"{p}_xdr_mc"].label("party"),
                      t.c[f"{p}_jdrq"].label("decision_date"), t.c.status, t.c.withdrawn_reason, t.c.version,
                      t.c.updated_at, t.c.run_id)
            .where(t.c.department == department).order_by(t.c.updated_at.desc(), t.c.id.desc()).limit(limit))
    if doc_no:
        stmt = stmt.where(t.c[f"{p}_wsh"] == doc_no.strip())
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
        runs = {r["run_id"] for r in rows}
        triggers: dict[int, str] = {int(i): str(t) for i, t in conn.execute(
            sa.select(ingest_run.c.id, ingest_run.c.trigger).where(ingest_run.c.id.in_(runs)))} if runs else {}
    for r in rows:
        r["channel"] = triggers.get(r["run_id"], "")
    return rows


def open_problems(engine: Engine, department: str, dataset: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """The department's open 问题数据 (any channel), always scoped by ``department``."""
    from store.schema import quarantine

    stmt = (sa.select(quarantine).where(quarantine.c.department == department, quarantine.c.status == "open")
            .order_by(quarantine.c.last_seen_at.desc(), quarantine.c.id.desc()).limit(limit))
    if dataset:
        stmt = stmt.where(quarantine.c.dataset == dataset)
    with engine.connect() as conn:
        out = []
        for r in conn.execute(stmt).mappings():
            d = dict(r)
            d["issues"], d["national"] = json.loads(d["issues"]), json.loads(d["national"])
            out.append(d)
        return out


def problem(engine: Engine, department: str, ident: int) -> dict[str, Any] | None:
    """One open 问题数据 entry of ``department`` (None: not there, not open, or another department's)."""
    from store.schema import quarantine

    with engine.connect() as conn:
        r = conn.execute(sa.select(quarantine).where(quarantine.c.id == ident, quarantine.c.department == department,
                                                     quarantine.c.status == "open")).mappings().first()
    if r is None:
        return None
    d = dict(r)
    d["issues"], d["national"] = json.loads(d["issues"]), json.loads(d["national"])
    return d
