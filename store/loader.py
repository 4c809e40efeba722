"""The loader: one transaction per chunk, composed of the writers of each table family — the records and their
history (``store.records``), the change sequence (``store.changelog``, through the records writer), the
quarantine (``store.quarantine``), the watermark and the run's counters (``store.runs``).

Invariant 1 (nothing is lost): every row of a batch ends as exactly one of inserted, updated,
unchanged or quarantined, and the counts are checked before the transaction commits.
Invariant 2 (exactly once): the watermark moves in the same transaction as the rows it covers, and
only if it still holds the value this run started the chunk from (another run moving it in between
aborts this one instead of overwriting its progress).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from national import dataset
from national.clock import today_shanghai
from store import bulk, published, records, runs
from store import quarantine as quarantine_store
from store.keys import bounded_keys, storable_json, storable_texts
from store.records import pick
from store.rows import Batch, Prepared
from store.runs import Counts, WatermarkMoved, read_watermark

__all__ = [
    "Batch", "Counts", "Prepared", "ReconciliationError", "WatermarkMoved", "load_batch", "read_watermark", "withdraw_records",
]


class ReconciliationError(Exception):
    """read ≠ inserted + updated + unchanged + quarantined: a bug; the chunk is rolled back."""


def load_batch(conn: Connection, run_id: int, batch: Batch, *, now: dt.datetime | None = None) -> Counts:
    """Load one batch inside the caller's transaction (``with engine.begin() as conn``)."""
    now = now or dt.datetime.now(dt.UTC)
    ds = dataset(batch.dataset)
    copy = bulk.uses_copy(conn)
    # Cursor values as the store holds them (store/keys.py): a lone surrogate must not fail the chunk.
    cursor_from = storable_json(batch.cursor_from) if batch.cursor_from is not None else None
    current = runs.claim_watermark(conn, batch.department, ds.name, cursor_from)
    p = batch.prepared
    if p is None:
        raise ValueError(f"{batch.department}/{ds.name}: the batch is not prepared (pipeline.prepare.prepare_batch)")
    if p.copy_text is not None and not copy:
        raise ValueError(f"{batch.department}/{ds.name}: rows prepared as COPY text for a store that does not use COPY")
    source_pks = bounded_keys(batch.source_pk)
    accepted: list[int] = np.flatnonzero(~p.rejected).tolist()
    bad: list[int] = np.flatnonzero(p.rejected).tolist()
    counts = Counts(read=len(batch) + batch.skipped_unchanged, unchanged=batch.skipped_unchanged,
                    quarantined=len(bad), warnings=sum(1 for i in accepted if p.issues[i]))

    column = _column_picker(p)
    written = records.write(conn, run_id, ds, batch.department, records.Rows(
        keys=p.keys, hashes=p.hashes, payload=p.payload, source_pks=source_pks,
        positions=storable_texts(batch.source_position) if batch.source_position is not None else None,
        statuses=p.statuses, column=column, not_public=p.not_public,
        publicity=batch.publicity.reset_index(drop=True) if batch.publicity is not None else None,
    ), accepted, now, today_shanghai())
    counts.inserted, counts.updated = written.inserted, written.updated
    counts.unchanged += written.unchanged
    # The public column, in the same transaction: its rows from the chunk's own values (a batch prepared
    # without public masks — built by hand — has its records read back instead).
    if p.masks is not None:
        published.write_changes(conn, ds.name, batch.department, written.records, column, p.masks, now=now)
    else:
        published.refresh(conn, ds.name, [p.keys[i] for i in written.changed], now=now)
    if bad:
        quarantine_store.add_rejected_rows(
            conn, batch.department, ds.name, run_id, now, source_pks=pick(source_pks, bad),
            raws=pick(batch.raw, bad), keys=pick(p.keys, bad), payloads=pick(p.payload, bad), issues=pick(p.issues, bad),
        )
    # A corrected row resolves its open quarantine entries (same source row or same decision). Only rows that
    # changed a record: a look-back re-read of an unchanged row corrects nothing (and must not close, say, a
    # province's rejection of that record).
    if written.changed:
        quarantine_store.resolve_fixed(
            conn, batch.department, ds.name, run_id, now,
            source_pks=pick(source_pks, written.changed), business_keys=sorted({p.keys[i] for i in written.changed}),
        )
    if not counts.reconciles:
        raise ReconciliationError(f"{batch.department}/{ds.name}: {counts.as_dict()}")
    runs.add_chunk(
        conn, run_id, batch.department, ds.name, current=current,
        cursor_to=storable_json(batch.cursor_to) if batch.cursor_to is not None else None,
        counts=counts, rule_failures=batch.rule_failures, now=now,
    )
    return counts


def _column_picker(p: Prepared) -> Any:
    """(national code, rows) → that column's values for those rows, as the store's writer takes them."""
    if p.copy_text is not None:
        rendered = p.copy_text

        def picked(code: str, rows: Sequence[int]) -> bulk.CopyText:
            if len(rows) <= 1:
                return bulk.CopyText([rendered[code][i] for i in rows])
            return bulk.CopyText(operator.itemgetter(*rows)(rendered[code]))  # one copy of the fields, not two

        return picked
    typed = p.typed
    assert typed is not None
    return lambda code, rows: pick(typed[code], rows)


def withdraw_records(
    conn: Connection, run_id: int, department: str, ds_name: str, business_keys: list[str], *, reason: str,
    now: dt.datetime | None = None, hold: str | None = None,
) -> int:
    """Withdraw active records from publicity (deleted at the source, expired, revoked): a new version with
    operation D and the next change sequence value (the push sends the withdrawal), the version until then
    into the history, in the caller's transaction. ``hold`` (an operator's revocation or credit repair,
    ``store.lifecycle``) keeps the record withdrawn against later source rows of the decision. Returns how many
    changed."""
    now = now or dt.datetime.now(dt.UTC)
    changed = records.withdraw(conn, run_id, department, dataset(ds_name).name, business_keys, reason=reason, now=now, hold=hold)
    published.refresh(conn, ds_name, business_keys, now=now)  # the public column
    return changed
