"""The change log: the store-wide change sequence, the push position, push batches, receipts and rejections.

Every change of a record (insert, update, withdrawal, expiry) takes the next value of one store-wide change
sequence and keeps it in the record's ``change_seq`` column (the value of its current version). The push to
the province is a *position* in that sequence per dataset (``push_position``): it reads the records with
``change_seq > position`` in order and sends their current version, so a record changed twice between two
pushes goes out once, as its latest state (the province needs the latest state, not every step).

This module is the only writer of ``push_position``, ``push_batch`` and ``push_rejection``, and the only
place that hands out change sequence values (``store.loader`` asks it for them).

**No change committed late is skipped.** Two chunk transactions of two departments run at the same time:
A takes values 100–200, B takes 201–300, B commits first. A push that read up to 300 and moved its position
there would never see A's rows. So the push reads only up to a *horizon* below which no transaction can
still commit:

- PostgreSQL: values come from the SEQUENCE ``change_seq`` (several chunk transactions take values at the
  same time; nothing serialises them). A writer first takes the transaction-scoped advisory lock
  :data:`LOCK_KEY` in *shared* mode and holds it to its commit or rollback. :func:`horizon` takes the same
  lock in *exclusive* mode for a moment: that waits until every writer that already took values has ended,
  then reads the sequence's last value. Every value at or below it was taken by a transaction that has
  ended (committed or rolled back: a gap, harmless); every later writer waits for the exclusive lock and
  then takes larger values. Writers never wait for each other, only for the short horizon read (at most one
  chunk transaction's duration, once per push batch). Tested with two concurrent transactions in
  tests/store/test_changelog.py.
- SQLite: one writer at a time, and a transaction that read before another committed cannot write any more
  (WAL: ``SQLITE_BUSY_SNAPSHOT``). The next value is ``max(change_seq) + 1`` over the record tables (the
  newest change is always some record's current version; records are never deleted) read inside the writing
  transaction, so commits happen in sequence order and the horizon is simply everything committed.

**Batches.** A push batch is written (``push_batch``, state ``sent``, its items ``[business_key, version,
operation]``) and the position moved past its records in one transaction, before the request leaves. Until
its receipts arrive the batch keeps the items still waiting; the next run sends them again with the same
idempotency keys (derived from dataset, business key and version: :func:`idempotency_key`, not stored), and
the province answers a repeated key with its first receipt. A record with a version in an unanswered batch
blocks the position (its next version must not overtake it). A receipt ``accepted`` sets the record's
``province_version`` / ``province_op`` (what the province holds, which decides whether the next version
goes out as I, U or D); ``rejected`` writes one ``push_rejection`` row (and the quarantine entry, through
``store.quarantine``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from national import DATASETS
from store import bulk, dialect
from store.db import inserted_id
from store.schema import push_batch, push_position, push_rejection, record_tables

#: PostgreSQL: the sequence behind ``change_seq`` (created by migration 0006).
SEQUENCE = "change_seq"
#: PostgreSQL: the advisory lock writers hold shared from their first change value to their commit.
LOCK_KEY = 0x5347_5343_4851  # "SGSCHQ"


def next_seqs(conn: Connection, n: int) -> list[int]:
    """``n`` new change sequence values, ascending, for changes written in the caller's transaction."""
    if n <= 0:
        return []
    if dialect.of(conn).change_sequence:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": LOCK_KEY})
        return dialect.take_from_sequence(conn, f"'{SEQUENCE}'", n)
    start = _max_seq(conn) + 1
    return list(range(start, start + n))


def _max_seq(conn: Connection) -> int:
    highest = [conn.execute(sa.select(sa.func.max(t.c.change_seq))).scalar_one() for t in record_tables.values()]
    return max([int(v) for v in highest if v is not None], default=0)


def horizon(engine: Engine) -> int:
    """The highest change sequence value at or below which every change is committed or rolled back for good."""
    with engine.begin() as conn:
        if dialect.of(conn).change_sequence:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            last, called = conn.execute(sa.text(f"SELECT last_value, is_called FROM {SEQUENCE}")).one()
            return int(last) if called else int(last) - 1
        return _max_seq(conn)


def position(conn: Connection, dataset: str) -> int:
    value = conn.execute(sa.select(push_position.c.position).where(push_position.c.dataset == dataset)).scalar_one_or_none()
    return int(value) if value is not None else 0


def _move(conn: Connection, dataset: str, frm: int, to: int, now: dt.datetime) -> None:
    """Move the position from ``frm`` to ``to``; fails when someone else moved it (the push lease was broken)."""
    if frm == to:
        return
    current = conn.execute(
        sa.select(push_position.c.position).where(push_position.c.dataset == dataset).with_for_update()
    ).scalar_one_or_none()
    if current is None and frm == 0:
        conn.execute(push_position.insert().values(dataset=dataset, position=to, updated_at=now))
        return
    if current != frm:
        raise RuntimeError(f"推送位置 {dataset} 已被另一个推送移动（{frm} → {current}）：为保证版本按序送达，本次推送停止")
    conn.execute(push_position.update().where(push_position.c.dataset == dataset).values(position=to, updated_at=now))


def province_key(business_key: str, upstream_key: str | None) -> str:
    """The key the province knows a record by: its ``upstream_key`` (the business key it had when a migration
    re-keyed the store, issue 17: record GUID and idempotency keys stay what the province received), else its
    business key."""
    return upstream_key or business_key


def idempotency_key(ds: str, business_key: str, version: int) -> str:
    """The upstream idempotency key of one record version (derived, never stored). ``business_key``: the
    record's :func:`province_key`."""
    return hashlib.sha256(f"{ds}|{business_key}|{version}".encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Change:
    """A record's current version as the push reads it."""

    business_key: str
    version: int
    operation: str  # of the version: I / U / D
    status: str  # active / withdrawn
    department: str
    source_pk: str
    loaded_at: dt.datetime
    change_seq: int
    province_op: str | None  # what the province holds: None (nothing), I/U (live), D (withdrawn)
    row: dict[str, Any] = field(repr=False, default_factory=dict)  # the record's columns (national values)
    upstream_key: str | None = None  # record_<ds>.upstream_key (see :func:`province_key`)

    @property
    def province_live(self) -> bool:
        return self.province_op is not None and self.province_op != "D"

    def effective_operation(self) -> str | None:
        """What goes out: the province cannot update what it does not hold, and a withdrawal of a record it
        does not hold live is not sent at all (``None``)."""
        if self.status == "withdrawn":
            return "D" if self.province_live else None
        return "U" if self.province_live else "I"


@dataclass
class Item:
    """One record version in a push batch."""

    business_key: str
    version: int
    operation: str  # effective operation sent
    upstream_key: str | None = None  # the record's upstream_key when it has one (:func:`province_key`)

    @property
    def province_key(self) -> str:
        return province_key(self.business_key, self.upstream_key)

    def as_json(self) -> list[Any]:
        """``[business_key, version, operation]``, plus the upstream key when the record has one."""
        out: list[Any] = [self.business_key, self.version, self.operation]
        return [*out, self.upstream_key] if self.upstream_key else out


@dataclass
class Batch:
    """A push batch (a ``push_batch`` row) and its items still waiting for a receipt."""

    id: int
    batch_id: str
    dataset: str
    items: list[Item]
    attempts: int

    def keys(self) -> dict[str, Item]:
        return {idempotency_key(self.dataset, i.province_key, i.version): i for i in self.items}


def _batch(row: Any) -> Batch:
    items = [Item(x[0], int(x[1]), x[2], x[3] if len(x) > 3 else None) for x in json.loads(row.items)]
    return Batch(int(row.id), row.batch_id, row.dataset, items, int(row.attempts))


def unresolved(conn: Connection, dataset: str | None = None, *, states: Sequence[str] = ("sent",)) -> list[Batch]:
    """Batches with items still waiting for a receipt (``sent``), or taken but not yet written as files
    (``taken``), oldest first."""
    stmt = sa.select(push_batch).where(push_batch.c.state.in_(list(states))).order_by(push_batch.c.id)
    if dataset is not None:
        stmt = stmt.where(push_batch.c.dataset == dataset)
    return [_batch(r) for r in conn.execute(stmt)]


@dataclass
class Taken:
    """The changes a new batch takes: what goes out, and withdrawals that need not (never held live)."""

    changes: list[tuple[Change, str]]  # (change, effective operation)
    not_sent: int
    seq_from: int
    seq_to: int
    blocked: bool  # stopped before a record whose earlier version still waits for a receipt


def read_changes(conn: Connection, dataset: str, after: int, upto: int, limit: int, blocked_keys: set[str]) -> Taken:
    """Up to ``limit`` changes of ``dataset`` with ``after < change_seq <= upto``, in sequence order; stops
    before a record in ``blocked_keys`` (its earlier version waits for a receipt)."""
    table = record_tables[dataset]
    rows = conn.execute(
        sa.select(table)
        .where(table.c.change_seq > after, table.c.change_seq <= upto)
        .order_by(table.c.change_seq)
        .limit(limit)
    ).mappings().all()
    out: list[tuple[Change, str]] = []
    not_sent = 0
    last = after
    blocked = False
    for r in rows:
        if r["business_key"] in blocked_keys:
            blocked = True
            break
        ch = Change(r["business_key"], int(r["version"]), r["operation"], r["status"], r["department"], r["source_pk"],
                    r["updated_at"], int(r["change_seq"]), r["province_op"], dict(r), r["upstream_key"])
        op = ch.effective_operation()
        if op is not None:
            out.append((ch, op))
        elif ch.operation == "D":
            not_sent += 1  # a withdrawal of a record the province never held live: nothing to send
        last = ch.change_seq
    return Taken(out, not_sent, after, last, blocked)


def open_batch(conn: Connection, dataset: str, batch_id: str, run_id: int, taken: Taken, now: dt.datetime, *,
               state: str = "sent") -> int | None:
    """Write the batch (state ``sent``) and move the position past its changes, in the caller's transaction.
    Returns the batch row id (``None`` when nothing goes out: only the position moved)."""
    _move(conn, dataset, taken.seq_from, taken.seq_to, now)
    if not taken.changes:
        return None
    items = [Item(c.business_key, c.version, op, c.upstream_key).as_json() for c, op in taken.changes]
    return inserted_id(conn.execute(push_batch.insert().values(
        batch_id=batch_id, dataset=dataset, run_id=run_id, state=state, seq_from=taken.seq_from, seq_to=taken.seq_to,
        items=json.dumps(items, ensure_ascii=False), records=len(items), not_sent=taken.not_sent, attempts=1,
        sent_at=now,
    )))


def refused(conn: Connection, batch_row: int, now: dt.datetime) -> None:
    """The province refused a new batch unread (credentials, contract): as if it had never been taken. Its
    position moves back, so its records are read again next time; a batch sent before keeps waiting."""
    row = conn.execute(sa.select(push_batch).where(push_batch.c.id == batch_row)).one()
    if row.attempts > 1:
        return
    _move(conn, row.dataset, int(row.seq_to), int(row.seq_from), now)
    conn.execute(push_batch.delete().where(push_batch.c.id == batch_row))


def written(conn: Connection, batch_row: int, now: dt.datetime) -> None:
    """A file-exchange batch's files are in place: it now waits for its receipt file."""
    conn.execute(push_batch.update().where(push_batch.c.id == batch_row).values(state="sent", sent_at=now))


def resent(conn: Connection, batch_row: int, now: dt.datetime) -> None:
    """A waiting batch goes out again (same items, same keys)."""
    conn.execute(push_batch.update().where(push_batch.c.id == batch_row).values(attempts=push_batch.c.attempts + 1, sent_at=now))


@dataclass
class Verdict:
    """The province's answer for one item of a batch."""

    item: Item
    accepted: bool
    code: str = ""
    message: str = ""


def apply_receipts(conn: Connection, batch: Batch, verdicts: Sequence[Verdict], now: dt.datetime) -> None:
    """Write verdicts for items of ``batch``: what the province now holds, one rejection row per rejected
    version, and the items still waiting (none left: the batch is answered)."""
    table = record_tables[batch.dataset]
    accepted = [v.item for v in verdicts if v.accepted]
    if accepted:
        # Only forward: a late receipt of an older version never overwrites what a newer one set.
        conn.execute(
            table.update()
            .where(table.c.business_key == sa.bindparam("k"),
                   sa.or_(table.c.province_version.is_(None), table.c.province_version <= sa.bindparam("v")))
            .values(province_version=sa.bindparam("v"), province_op=sa.bindparam("op")),
            [{"k": i.business_key, "v": i.version, "op": i.operation} for i in accepted],
        )
    rejected = [v for v in verdicts if not v.accepted]
    if rejected:
        done = {(r.business_key, r.version) for r in bulk.select_where_in(
            conn,
            sa.select(push_rejection.c.business_key, push_rejection.c.version).where(push_rejection.c.dataset == batch.dataset),
            push_rejection.c.business_key, sorted({v.item.business_key for v in rejected}),
        )}
        rows = [
            {"dataset": batch.dataset, "business_key": v.item.business_key, "version": v.item.version,
             "operation": v.item.operation, "batch_id": batch.batch_id, "code": v.code[:40], "message": v.message,
             "created_at": now}
            for v in rejected if (v.item.business_key, v.item.version) not in done
        ]
        if rows:
            conn.execute(push_rejection.insert(), rows)
    answered = {(v.item.business_key, v.item.version) for v in verdicts}
    left = [i for i in batch.items if (i.business_key, i.version) not in answered]
    batch.items = left
    conn.execute(
        push_batch.update().where(push_batch.c.id == batch.id).values(
            items=json.dumps([i.as_json() for i in left], ensure_ascii=False),
            state="sent" if left else "answered",
            accepted=push_batch.c.accepted + len(accepted),
            rejected=push_batch.c.rejected + len(rejected),
            answered_at=now,
        )
    )


# --- read side: where each record stands upstream ------------------------------------------------------


STATES = ("pending", "sent", "accepted", "rejected", "not_sent")


def delivery_states(conn: Connection, dataset: str) -> list[dict[str, Any]]:
    """Per record (in change order): its current version and where that version stands upstream:
    ``pending`` (not yet taken by a batch), ``sent`` (waits for a receipt), ``accepted``, ``rejected``,
    ``not_sent`` (nothing to send: a withdrawal of a record the province never held, or a version that was
    never published)."""
    table = record_tables[dataset]
    pos = position(conn, dataset)
    waiting = {(i.business_key, i.version): b for b in unresolved(conn, dataset, states=("sent", "taken")) for i in b.items}
    rejected = {
        (k, v): (code, message) for k, v, code, message in conn.execute(
            sa.select(push_rejection.c.business_key, push_rejection.c.version, push_rejection.c.code, push_rejection.c.message)
            .where(push_rejection.c.dataset == dataset)
        )
    }
    out = []
    for r in conn.execute(
        sa.select(table.c.business_key, table.c.version, table.c.operation, table.c.status, table.c.change_seq,
                  table.c.province_version, table.c.province_op, table.c.department, table.c.upstream_key)
        .order_by(table.c.change_seq)
    ):
        key = (r.business_key, r.version)
        if key in waiting:
            state = "sent"
        elif r.change_seq > pos:
            # Withdrawn and the province holds no live copy: nothing will go out for it.
            state = "pending" if r.status == "active" or r.province_op in ("I", "U") else "not_sent"
        elif key in rejected:
            state = "rejected"
        elif r.province_version == r.version:
            state = "accepted"
        else:
            state = "not_sent"
        out.append({
            "dataset": dataset, "business_key": r.business_key, "version": r.version, "operation": r.operation,
            "idempotency_key": idempotency_key(dataset, province_key(r.business_key, r.upstream_key), r.version),
            "department": r.department, "change_seq": r.change_seq, "state": state,
            "receipt_code": rejected[key][0] if state == "rejected" else None,
            "receipt_message": rejected[key][1] if state == "rejected" else None,
            "batch_id": waiting[key].batch_id if key in waiting else None,
            "attempts": waiting[key].attempts if key in waiting else None,
        })
    return out


def delivery_counts(conn: Connection, datasets: Iterable[str] = tuple(DATASETS)) -> dict[str, int]:
    """Records per delivery state (for ``sgs push`` output and the demo); empty states left out."""
    counts: dict[str, int] = {}
    for ds in datasets:
        for r in delivery_states(conn, ds):
            counts[r["state"]] = counts.get(r["state"], 0) + 1
    return counts
