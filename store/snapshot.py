"""Snapshot-diff bookkeeping: the content hash of every source row a department's table held last time.

Used by the ``snapshot`` strategy for tables with no trustworthy cursor: unchanged rows are skipped,
changed and new rows are loaded, and rows that disappeared from the source are withdrawn (never silently
kept as published).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.keys import bounded_key, bounded_keys
from store.loader import withdraw_records
from store.schema import quarantine, source_snapshot

_IN = 500


def snapshot_hashes(conn: Connection, department: str, dataset: str, source_pks: list[str]) -> dict[str, bytes]:
    """source_pk → row hash seen last, for the given source rows (keyed as the caller gave them; the store
    holds their bounded form, store/keys.py)."""
    out: dict[str, bytes] = {}
    t = source_snapshot
    stored = bounded_keys(source_pks)
    given = dict(zip(stored, source_pks, strict=True))
    for i in range(0, len(stored), _IN):
        part = stored[i : i + _IN]
        for pk, h in conn.execute(
            sa.select(t.c.source_pk, t.c.row_hash).where(t.c.department == department, t.c.dataset == dataset, t.c.source_pk.in_(part))
        ):
            out[given.get(pk, pk)] = bytes(h)
    return out


def record_snapshot(
    conn: Connection, department: str, dataset: str, run_id: int, rows: list[tuple[str, bytes, str | None]]
) -> None:
    """Mark ``(source_pk, row_hash, business_key)`` rows as seen by ``run_id`` (in the chunk's transaction).

    ``business_key`` is None for a row skipped as unchanged: its stored key is kept.
    """
    t = source_snapshot
    # Keys as the key columns hold them: a source row with an over-long key or document number is seen too.
    stored_pks = bounded_keys([r[0] for r in rows])
    rows = [(pk, h, None if key is None else bounded_key(key)) for pk, (_, h, key) in zip(stored_pks, rows, strict=True)]
    pks = [r[0] for r in rows]
    known: dict[str, str | None] = {}
    for i in range(0, len(pks), _IN):
        part = pks[i : i + _IN]
        known.update(
            (pk, key)
            for pk, key in conn.execute(
                sa.select(t.c.source_pk, t.c.business_key).where(
                    t.c.department == department, t.c.dataset == dataset, t.c.source_pk.in_(part)
                )
            )
        )
        conn.execute(t.delete().where(t.c.department == department, t.c.dataset == dataset, t.c.source_pk.in_(part)))
    if rows:
        conn.execute(
            t.insert(),
            [
                {
                    "department": department,
                    "dataset": dataset,
                    "source_pk": pk,
                    "row_hash": h,
                    "business_key": key if key is not None else known.get(pk),
                    "seen_run_id": run_id,
                }
                for pk, h, key in rows
            ],
        )


def withdraw_unseen(conn: Connection, department: str, dataset: str, run_id: int) -> int:
    """After a complete read: withdraw the records whose source rows were not seen by ``run_id``.

    A decision still present under another source row (a correction row with the same document number)
    is not withdrawn. Open 问题数据 of deleted rows are closed as superseded. Returns records withdrawn.
    """
    t = source_snapshot
    gone = conn.execute(
        sa.select(t.c.source_pk, t.c.business_key).where(
            t.c.department == department, t.c.dataset == dataset, t.c.seen_run_id != run_id
        )
    ).all()
    if not gone:
        return 0
    alive = {
        k
        for (k,) in conn.execute(
            sa.select(t.c.business_key).where(t.c.department == department, t.c.dataset == dataset, t.c.seen_run_id == run_id)
        )
    }
    keys = sorted({k for _, k in gone if k and k not in alive})
    n = withdraw_records(conn, run_id, department, dataset, keys, reason="源系统中已删除")
    now = dt.datetime.now(dt.UTC)
    pks = [pk for pk, _ in gone]
    for i in range(0, len(pks), _IN):
        part = pks[i : i + _IN]
        conn.execute(
            quarantine.update()
            .where(quarantine.c.department == department, quarantine.c.dataset == dataset, quarantine.c.status == "open", quarantine.c.source_pk.in_(part))
            .values(status="superseded", resolved_at=now, last_run_id=run_id)
        )
        conn.execute(t.delete().where(t.c.department == department, t.c.dataset == dataset, t.c.source_pk.in_(part)))
    return n
