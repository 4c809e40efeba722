"""The outbox side of delivery: which entries may go next, their states, receipts, and rejections.

States of an outbox row::

    pending ──(batch leaves: attempts+1, batch_id, sent_at)──► sent ──(receipt)──► accepted | rejected
       └──(a withdrawal of a record the province never had live)──► superseded (nothing to send)

``sent`` means "may have reached the province, no receipt yet". A run that dies there leaves the row
``sent``; the next run sends it again with the same idempotency key and the province answers with its
first receipt (exactly-once by key). Rows never move backwards.

Ordering (invariant: a newer version is never overtaken by an older one, and never overtakes it): an
entry is *eligible* only when no lower version of the same record is still ``pending`` or ``sent``.
So one batch carries at most one version per record, and version N+1 leaves only after N has its
receipt. This costs one extra batch per extra version of the same record in a run (rare: a record
corrected twice between two pushes) and makes the effective operation well defined: it depends on
what the province actually holds, which is known only from receipts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.schema import outbox, quarantine, record_version
from transforms.masking import mask_text
from upstream.envelope import DECISION_NUMBER, OutgoingRecord, Receipt

log = logging.getLogger("sgs.upstream")

UNRESOLVED = ("pending", "sent")
_IN = 500
#: Rule ids of the province's verdicts start with this (quarantine.rule_ids, the 问题数据 export).
PROVINCE_RULE_PREFIX = "PROV-"


def with_payload(stmt: sa.Select[Any]) -> sa.Select[Any]:
    """``stmt`` (a select from the outbox) with each entry's national values: its record version's payload.
    An entry and its version are written in one transaction; an outer join still shows an entry without
    one (a store changed by hand), and :func:`national_values` then stops with a clear error."""
    return stmt.add_columns(record_version.c.payload).outerjoin(
        record_version,
        sa.and_(
            record_version.c.dataset == outbox.c.dataset,
            record_version.c.business_key == outbox.c.business_key,
            record_version.c.version == outbox.c.version,
        ),
    )


def national_values(row: dict[str, Any]) -> dict[str, Any]:
    """An outbox entry's national values (from :func:`with_payload`)."""
    if row.get("payload") is None:
        raise ValueError(
            f"发件箱记录 {row.get('id')}（{row.get('dataset')} {row.get('business_key')} 第 {row.get('version')} 版）"
            "在历史表 record_version 中没有对应版本：中心库被改动过，请联系平台运维核对"
        )
    return json.loads(row["payload"])


def eligible(
    conn: Connection, dataset: str, limit: int, *, states: Sequence[str] = UNRESOLVED, exclude: Iterable[int] = ()
) -> list[dict[str, Any]]:
    """Up to ``limit`` entries of ``dataset`` that may be sent now, oldest first: ``sent`` ones (a previous
    run's unanswered batch) before ``pending`` ones, and only the lowest unresolved version of a record."""
    older = outbox.alias("older")
    blocked = (
        sa.select(older.c.id)
        .where(
            older.c.dataset == outbox.c.dataset,
            older.c.business_key == outbox.c.business_key,
            older.c.version < outbox.c.version,
            older.c.state.in_(UNRESOLVED),
        )
        .exists()
    )
    stmt = (
        with_payload(sa.select(outbox))
        .where(outbox.c.dataset == dataset, outbox.c.state.in_(list(states)), ~blocked)
        .order_by(sa.case((outbox.c.state == "sent", 0), else_=1), outbox.c.id)
        .limit(limit)
    )
    skip = set(exclude)
    if skip:
        stmt = stmt.where(outbox.c.id.not_in(sorted(skip)))
    return [dict(r) for r in conn.execute(stmt).mappings()]


def effective_operations(conn: Connection, dataset: str, rows: Sequence[dict[str, Any]]) -> dict[int, str | None]:
    """The operation each entry goes out as, from what the province holds (its accepted versions):

    - the province holds the record live (its last accepted earlier version was not D): I/U/D as stored;
    - it does not (never accepted, e.g. the insert was rejected; or withdrawn): I and U go as I (the
      province cannot update what it does not have), and a D is not sent at all (``None``).
    """
    keys = sorted({r["business_key"] for r in rows})
    accepted: dict[str, list[tuple[int, str]]] = {}
    for j in range(0, len(keys), _IN):
        for r in conn.execute(
            sa.select(outbox.c.business_key, outbox.c.version, outbox.c.operation)
            .where(outbox.c.dataset == dataset, outbox.c.business_key.in_(keys[j : j + _IN]), outbox.c.state == "accepted")
            .order_by(outbox.c.version)
        ):
            accepted.setdefault(r.business_key, []).append((r.version, r.operation))
    out: dict[int, str | None] = {}
    for row in rows:
        earlier = [op for v, op in accepted.get(row["business_key"], []) if v < row["version"]]
        live = bool(earlier) and earlier[-1] != "D"
        op = row["operation"]
        out[row["id"]] = op if live else (None if op == "D" else "I")
    return out


def to_outgoing(row: dict[str, Any], operation: str) -> OutgoingRecord:
    return OutgoingRecord(
        outbox_id=row["id"],
        idempotency_key=row["idempotency_key"],
        dataset=row["dataset"],
        business_key=row["business_key"],
        version=row["version"],
        operation=operation,
        department=row["department"],
        created_at=row["created_at"],
        data=national_values(row),
    )


def mark_not_needed(conn: Connection, ids: Sequence[int], now: dt.datetime) -> int:
    """Withdrawals of records the province never held live: nothing to send, closed as ``superseded``."""
    if not ids:
        return 0
    res = conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(list(ids)), outbox.c.state.in_(UNRESOLVED))
        .values(state="superseded", receipt_at=now, receipt_code="NOT-SENT", receipt_message="省平台没有该记录的有效版本，无需撤回")
    )
    return int(res.rowcount or 0)


def mark_sent(conn: Connection, ids: Sequence[int], batch_id: str, now: dt.datetime) -> None:
    """Before the request leaves: committed, so a crash afterwards leaves ``sent`` (resent by key later)."""
    conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(list(ids)), outbox.c.state.in_(UNRESOLVED))
        .values(state="sent", attempts=outbox.c.attempts + 1, sent_at=now, batch_id=batch_id)
    )


def unmark_sent(conn: Connection, ids: Sequence[int], batch_id: str) -> None:
    """The province refused the whole batch before processing it (401/403, 4xx): back to ``pending``."""
    conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(list(ids)), outbox.c.state == "sent", outbox.c.batch_id == batch_id)
        .values(state="pending")
    )


@dataclass
class ReceiptOutcome:
    """What a set of receipts did to the outbox."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0  # receipts the province marked as a replay of an already processed key
    ignored: int = 0  # receipts for keys not waiting for one (repeated in the answer, unknown, already final)


def record_receipts(conn: Connection, receipts: Sequence[Receipt], now: dt.datetime, *, expected: set[str] | None = None) -> ReceiptOutcome:
    """Write receipts onto their ``sent`` outbox rows, and put rejections into the department's quarantine.

    Only a row still ``sent`` takes a receipt (``UPDATE … WHERE state = 'sent'``), so a receipt read twice
    (a repeated line in the answer, a receipt file read again) changes nothing the second time.
    ``expected`` limits receipts to the keys of the batch just sent; others are ignored and logged.
    """
    result = ReceiptOutcome()
    wanted = sorted({rc.idempotency_key for rc in receipts if expected is None or rc.idempotency_key in expected})
    waiting: dict[str, dict[str, Any]] = {}
    for j in range(0, len(wanted), _IN):
        for r in conn.execute(
            with_payload(sa.select(outbox)).where(outbox.c.idempotency_key.in_(wanted[j : j + _IN]), outbox.c.state == "sent")
        ).mappings():
            waiting[r["idempotency_key"]] = dict(r)
    for rc in receipts:
        row = waiting.pop(rc.idempotency_key, None)  # pop: a second receipt for the same key is ignored
        if row is None:
            result.ignored += 1
            continue
        message = mask_text(rc.message or ("省平台已接收" if rc.status == "accepted" else "省平台退回，未说明原因"))
        conn.execute(
            outbox.update()
            .where(outbox.c.id == row["id"], outbox.c.state == "sent")
            .values(state=rc.status, receipt_at=now, receipt_code=(rc.code or rc.status.upper())[:40], receipt_message=message)
        )
        result.duplicates += int(rc.duplicate)
        if rc.status == "accepted":
            result.accepted += 1
        else:
            result.rejected += 1
            quarantine_rejection(conn, row, rc, message, now)
    if result.ignored:
        log.warning("%d receipts did not match a record waiting for one (repeated or unknown keys): ignored", result.ignored)
    return result


def province_rule_id(code: str | None) -> str:
    code = (code or "UNSPECIFIED").strip()
    return code if code.startswith(PROVINCE_RULE_PREFIX) else PROVINCE_RULE_PREFIX + code


def quarantine_rejection(conn: Connection, row: dict[str, Any], rc: Receipt, message: str, now: dt.datetime) -> None:
    """A rejected version joins the department's 问题数据 (quarantine) with the province's reason, so that
    ``sgs quarantine export`` hands it back to the clerk like any rule failure of our own.

    The quarantine allows one open entry per source row: an open entry that only holds earlier province
    rejections is superseded by this one; an open entry of our own rules (a newer bad source row) keeps
    its problems and gets the province's problem added.
    """
    national = national_values(row)
    source_pk = conn.execute(
        sa.select(record_version.c.source_pk).where(
            record_version.c.dataset == row["dataset"],
            record_version.c.business_key == row["business_key"],
            record_version.c.version == row["version"],
        )
    ).scalar_one_or_none() or json.dumps([row["business_key"]], ensure_ascii=False)
    field = rc.field if rc.field in national else DECISION_NUMBER[row["dataset"]]
    issue = {
        "rule": province_rule_id(rc.code),
        "field": field,
        "message": f"省平台退回：{message}",
        "severity": "error",
    }
    open_entry = conn.execute(
        sa.select(quarantine).where(
            quarantine.c.department == row["department"],
            quarantine.c.dataset == row["dataset"],
            quarantine.c.source_pk == source_pk,
            quarantine.c.status == "open",
        )
    ).mappings().one_or_none()
    if open_entry is not None:
        rules = [r for r in (open_entry["rule_ids"] or "").split(",") if r]
        if rules and not all(r.startswith(PROVINCE_RULE_PREFIX) for r in rules):
            issues = json.loads(open_entry["issues"]) + [issue]
            conn.execute(
                quarantine.update()
                .where(quarantine.c.id == open_entry["id"])
                .values(
                    issues=json.dumps(issues, ensure_ascii=False),
                    rule_ids=",".join(sorted(set(rules) | {issue["rule"]}))[:1000],
                    last_seen_at=now,
                )
            )
            return
        conn.execute(
            quarantine.update().where(quarantine.c.id == open_entry["id"]).values(status="superseded", resolved_at=now)
        )
    raw = json.dumps(
        {"outbox_id": row["id"], "version": row["version"], "operation": row["operation"], "batch_id": row["batch_id"]},
        ensure_ascii=False,
    )
    conn.execute(
        quarantine.insert().values(
            department=row["department"],
            dataset=row["dataset"],
            source_pk=source_pk,
            business_key=row["business_key"],
            raw_hash=hashlib.sha256(f"{row['idempotency_key']}|{issue['rule']}".encode()).hexdigest(),
            raw=raw,
            national=row["payload"],
            issues=json.dumps([issue], ensure_ascii=False),
            rule_ids=issue["rule"][:1000],
            status="open",
            first_seen_at=now,
            last_seen_at=now,
            first_run_id=row["run_id"],
            last_run_id=row["run_id"],
        )
    )


def outbox_counts(conn: Connection) -> dict[str, int]:
    """Entries per state (for ``sgs push`` output and the demo)."""
    return {s: int(n) for s, n in conn.execute(sa.select(outbox.c.state, sa.func.count()).group_by(outbox.c.state))}
