"""Operators' decisions in a record's publicity life cycle (spec §5.2–5.3): revocation (撤销) and credit repair
(信用修复).

Both withdraw the decision from publicity through ``store.loader.withdraw_records`` in one transaction: a new
version with operation D (the push sends the withdrawal), the version until then into the history, the public
column refreshed at once; each is recorded as an ``ingest_run`` of the department with trigger ``withdraw`` /
``repair`` (the versions need a run id, and the department's run list shows it). The record gets a ``hold``, so
that a later source row of the decision does not publish it again (``store.records.write``).

A revocation by status column (the department's data says it) needs no operator: ``store.records``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from national import dataset
from store.db import inserted_id
from store.loader import withdraw_records
from store.schema import credit_repair, ingest_run, record_tables

REVOKED = "revoked"
REPAIRED = "repaired"


class LifecycleError(Exception):
    """An operator's request that cannot be carried out; the text is Chinese, for the operator."""


@dataclasses.dataclass(frozen=True)
class Withdrawn:
    business_keys: list[str]
    already: int  # records of that number that were withdrawn before


def _run(conn: Connection, department: str, ds: str, trigger: str, now: dt.datetime) -> int:
    return int(inserted_id(conn.execute(ingest_run.insert().values(
        department=department, dataset=ds, trigger=trigger, status="success", started_at=now, finished_at=now,
    ))))


def _records(conn: Connection, department: str, ds: str, doc_no: str) -> list[Any]:
    table = record_tables[ds]
    wsh = table.c[f"{ds}_wsh"]
    return list(conn.execute(
        sa.select(table.c.business_key, table.c.status, table.c.repair_eligible_from, wsh)
        .where(table.c.department == department, wsh == doc_no.strip()).order_by(table.c.id)
    ))


def withdraw_decision(
    engine: Engine, department: str, ds: str, doc_no: str, *, reason: str, now: dt.datetime | None = None,
) -> Withdrawn:
    """``sgs withdraw``: withdraw every active record of ``department``'s ``ds`` with 文书号 ``doc_no`` (a licence
    number can give one 文书号 several records), stating ``reason``."""
    dataset(ds)
    reason = " ".join(reason.split())
    if not reason:
        raise LifecycleError("撤销须说明原因（--reason），例如：复议决定撤销原处罚决定")
    now = now or dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        found = _records(conn, department, ds, doc_no)
        if not found:
            raise LifecycleError(f"部门 {department} 的{dataset(ds).name_zh}中没有文书号为“{doc_no.strip()}”的记录")
        active = [r.business_key for r in found if r.status == "active"]
        if active:
            run_id = _run(conn, department, ds, "withdraw", now)
            withdraw_records(conn, run_id, department, ds, active, reason=f"撤销：{reason}", now=now, hold=REVOKED)
    return Withdrawn(active, len(found) - len(active))


@dataclasses.dataclass(frozen=True)
class Repair:
    department: str
    doc_no: str
    decision_number: str
    decision_date: dt.date
    authority: str
    repair_eligible_from: dt.date | None
    recorded_at: dt.datetime


def record_repair(
    engine: Engine, department: str, doc_no: str, *, number: str, date: dt.date, authority: str,
    today: dt.date, now: dt.datetime | None = None,
) -> Repair:
    """``sgs repair add``: record a repair decision for a penalty and withdraw it from publicity. Refused before
    ``repair_eligible_from`` (the rules' minimum period, spec §5.2), naming the date it becomes possible."""
    number, authority = " ".join(number.split()), " ".join(authority.split())
    if not number or not authority:
        raise LifecycleError("信用修复须填写修复决定书文号（--number）和作出修复决定的机关（--authority）")
    if date > today:
        raise LifecycleError(f"修复决定日期 {date.isoformat()} 晚于今天（{today.isoformat()}）：请核对日期")
    now = now or dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        found = _records(conn, department, "cf", doc_no)
        if not found:
            raise LifecycleError(f"部门 {department} 的行政处罚中没有文书号为“{doc_no.strip()}”的记录")
        active = [r for r in found if r.status == "active"]
        if not active:
            raise LifecycleError(f"文书号“{doc_no.strip()}”的行政处罚已不在公示中（已撤回、已修复或公示期满），无需信用修复")
        eligible = [r.repair_eligible_from for r in active if r.repair_eligible_from is not None]
        earliest = max(eligible) if eligible else None
        if earliest is not None and date < earliest:
            raise LifecycleError(
                f"文书号“{doc_no.strip()}”的行政处罚最短公示期未满：自 {earliest.isoformat()} 起方可信用修复"
                f"（修复决定日期为 {date.isoformat()}）"
            )
        run_id = _run(conn, department, "cf", "repair", now)
        keys = [r.business_key for r in active]
        reason = f"信用修复：{authority} {number}（{date.isoformat()}）"
        withdraw_records(conn, run_id, department, "cf", keys, reason=reason, now=now, hold=REPAIRED)
        conn.execute(credit_repair.insert(), [
            {"department": department, "business_key": k, "doc_no": doc_no.strip(), "decision_number": number,
             "decision_date": date, "authority": authority, "repair_eligible_from": earliest,
             "recorded_at": now, "run_id": run_id}
            for k in keys
        ])
    return Repair(department, doc_no.strip(), number, date, authority, earliest, now)


def repairs(engine: Engine, department: str | None = None, *, limit: int = 200) -> list[Repair]:
    """The recorded repair decisions, newest first (``sgs repair list``)."""
    t = credit_repair
    stmt = sa.select(t).order_by(t.c.recorded_at.desc(), t.c.id.desc()).limit(limit)
    if department:
        stmt = stmt.where(t.c.department == department)
    with engine.connect() as conn:
        return [Repair(r.department, r.doc_no, r.decision_number, r.decision_date, r.authority, r.repair_eligible_from,
                       r.recorded_at) for r in conn.execute(stmt)]
