"""What goes upstream next, and what the province's receipts do: the push side of ``store.changelog``.

The store keeps a position in its change sequence per dataset (see ``store.changelog``). A push batch takes
the records changed after the position, in change order, and sends each one's *current* version (a record
changed twice since the last push goes out once, as its latest state) with the operation the province needs:

- the province holds the record live (it accepted a version that was not a withdrawal): U, or D when the
  record is now withdrawn;
- it does not (never accepted one, e.g. the insert was rejected; or it holds it withdrawn): I, and a
  withdrawal is not sent at all (``not_sent``).

The batch (its items: business key, version, operation) is written and the position moved before the
request leaves. A run that dies before the receipts leaves the batch waiting; the next run sends its items
again with the same idempotency keys (dataset + business key + version) and the province answers a key it
has already processed with its first receipt (exactly-once by key). Ordering (a newer version never
overtakes an older one): a record whose earlier version still waits for a receipt stops the position before
its next version until that receipt arrives.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection, Engine

from store import changelog, history
from store import quarantine as quarantine_store
from store.changelog import Batch, Item, Verdict, idempotency_key, province_key
from store.quarantine import PROVINCE_RULE_PREFIX, province_rule_id
from transforms.masking import mask_text
from upstream.envelope import DECISION_NUMBER, OutgoingRecord, Receipt, national_data

log = logging.getLogger("sgs.upstream")

__all__ = ["PROVINCE_RULE_PREFIX", "province_rule_id", "Taken", "waiting_keys", "take_batch", "resend", "receipt_index",
           "record_receipts", "delivery_counts"]


@dataclass
class Taken:
    """A new batch: its row, what goes out, withdrawals not needed, and whether the position stopped before a
    record whose earlier version waits for a receipt."""

    batch: Batch | None
    records: list[OutgoingRecord]
    not_sent: int
    moved: bool
    blocked: bool


def waiting_keys(engine: Engine, ds: str) -> set[str]:
    """Business keys of ``ds`` with a version in a batch still waiting for a receipt (or for its files):
    their next version must wait. Read once per push; the push keeps the set up to date as it goes."""
    with engine.connect() as conn:
        return {i.business_key for b in changelog.unresolved(conn, ds, states=("sent", "taken")) for i in b.items}


def take_batch(engine: Engine, ds: str, limit: int, *, run_id: int, batch_id: str, upto: int, waiting: set[str],
               state: str = "sent") -> Taken:
    """Take the next changes of ``ds`` (change sequence at most ``upto``) into a new batch, committed
    (``state`` ``taken``: a file batch whose files are not written yet). The position stops before a record
    in ``waiting`` (:func:`waiting_keys`); the new batch's keys are added to it."""
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        pos = changelog.position(conn, ds)
        taken = changelog.read_changes(conn, ds, pos, upto, limit, waiting)
        row = changelog.open_batch(conn, ds, batch_id, run_id, taken, now, state=state)
    records = [_outgoing(ds, ch.business_key, ch.version, op, ch.department, ch.loaded_at, row or 0,
                         json.loads(history.record_payload(ds, ch.row)), ch.upstream_key)
               for ch, op in taken.changes]
    batch = Batch(row, batch_id, ds, [Item(r.business_key, r.version, r.operation, r.upstream_key) for r in records], 1) if row else None
    waiting.update(r.business_key for r in records)
    return Taken(batch, records, taken.not_sent, taken.seq_to != pos, taken.blocked)


def resend(conn: Connection, batch: Batch) -> list[OutgoingRecord]:
    """The items of a waiting batch as they went out the first time (same versions, operations and keys)."""
    found = history.versions_for(conn, batch.dataset, [(i.business_key, i.version) for i in batch.items])
    out = []
    for i in batch.items:
        v = found.get((i.business_key, i.version))
        if v is None:
            raise ValueError(
                f"推送批次 {batch.batch_id} 中的记录（{batch.dataset} {i.business_key} 第 {i.version} 版）在中心库中找不到："
                "中心库被改动过，请联系平台运维核对"
            )
        out.append(_outgoing(batch.dataset, i.business_key, i.version, i.operation, v["department"], v["loaded_at"], batch.id,
                             v["payload"], i.upstream_key))
    return out


def _outgoing(ds: str, key: str, version: int, op: str, department: str, loaded_at: dt.datetime, row: int,
              data: dict[str, Any], upstream_key: str | None = None) -> OutgoingRecord:
    return OutgoingRecord(outbox_id=row, idempotency_key=idempotency_key(ds, province_key(key, upstream_key), version), dataset=ds,
                          business_key=key, version=version, operation=op, department=department, created_at=loaded_at,
                          data=national_data(ds, data), upstream_key=upstream_key)


@dataclass
class ReceiptOutcome:
    """What a set of receipts did."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0  # receipts the province marked as a replay of an already processed key
    ignored: int = 0  # receipts for keys not waiting for one (repeated in the answer, unknown, already final)
    answered: set[str] = field(default_factory=set)


def receipt_index(batches: Sequence[Batch]) -> dict[str, tuple[Batch, Item]]:
    """Idempotency key → (batch, item) of every item waiting in ``batches``."""
    return {key: (b, item) for b in batches for key, item in b.keys().items()}


def record_receipts(conn: Connection, receipts: Sequence[Receipt], now: dt.datetime, batches: Sequence[Batch], *,
                    index: dict[str, tuple[Batch, Item]] | None = None) -> ReceiptOutcome:
    """Apply receipts to the items of ``batches`` still waiting for one; rejections go into the department's
    quarantine. A key not waiting (a repeated line, a receipt file read again, an unknown key) changes nothing.
    ``index`` (:func:`receipt_index` of ``batches``, kept by a caller applying many receipt files) loses the
    keys answered here."""
    result = ReceiptOutcome()
    waiting = index if index is not None else receipt_index(batches)
    verdicts: dict[int, list[Verdict]] = {}
    by_id = {b.id: b for b in batches}
    rejected: list[tuple[Batch, Verdict, Receipt]] = []
    for rc in receipts:
        hit = waiting.pop(rc.idempotency_key, None)  # pop: a second receipt for the same key is ignored
        if hit is None:
            result.ignored += 1
            continue
        b, item = hit
        result.answered.add(rc.idempotency_key)
        message = mask_text(rc.message or ("省平台已接收" if rc.status == "accepted" else "省平台退回，未说明原因"))
        v = Verdict(item, rc.status == "accepted", (rc.code or rc.status.upper())[:40], message)
        verdicts.setdefault(b.id, []).append(v)
        result.duplicates += int(rc.duplicate)
        if v.accepted:
            result.accepted += 1
        else:
            result.rejected += 1
            rejected.append((b, v, rc))
    for bid, vs in verdicts.items():
        changelog.apply_receipts(conn, by_id[bid], vs, now)
    for b, v, rc in rejected:
        _quarantine_rejection(conn, b, v, rc, now)
    if result.ignored:
        log.warning("%d receipts did not match a record waiting for one (repeated or unknown keys): ignored", result.ignored)
    return result


def _quarantine_rejection(conn: Connection, batch: Batch, v: Verdict, rc: Receipt, now: dt.datetime) -> None:
    """A rejected version joins the department's 问题数据 with the province's reason (``store.quarantine``)."""
    item = v.item
    version = history.version_of(conn, batch.dataset, item.business_key, item.version)
    if version is None:
        raise ValueError(f"省平台退回的记录（{batch.dataset} {item.business_key} 第 {item.version} 版）在中心库中找不到")
    national = version["payload"]
    field_code = rc.field if rc.field is not None and rc.field in national else DECISION_NUMBER[batch.dataset]
    issue = {"rule": province_rule_id(rc.code), "field": field_code, "message": f"省平台退回：{v.message}", "severity": "error"}
    quarantine_store.add_province_rejection(
        conn, department=version["department"], ds=batch.dataset,
        source_pk=version["source_pk"] or json.dumps([item.business_key], ensure_ascii=False),
        business_key=item.business_key, national=json.dumps(national, ensure_ascii=False), issue=issue,
        raw={"version": item.version, "operation": item.operation, "batch_id": batch.batch_id},
        key=idempotency_key(batch.dataset, item.province_key, item.version), run_id=version["run_id"], now=now,
    )


def delivery_counts(conn: Connection) -> dict[str, int]:
    """Records per delivery state (pending / sent / accepted / rejected / not_sent)."""
    return changelog.delivery_counts(conn)
