"""The record tables (``record_<ds>``) and the history of their superseded versions: the only writer of both.

A chunk's accepted rows are decided against the records they name (:func:`write`: insert, update or
unchanged, in source order); a withdrawal (deleted at the source, expired, revoked, repaired) is a new version
too (:func:`withdraw`). A row's status withdraws its record too (当前状态 无效, or revoked by the department's
status column: :func:`withdrawn_reason`), and a record an operator withdrew (``hold``) stays withdrawn whatever
later rows say. Either way the version until then moves to the history (``store.history.write``) and the
new version takes the next change sequence value (``store.changelog.next_seqs``), in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from national import Dataset
from store import bulk, changelog, dialect, history
from store.published import is_public
from store.schema import record_tables

#: ``transforms.normalise.REVOKED_PREFIX`` (the store imports no transform: the layering test).
REVOKED_PREFIX = "revoked:"

_IN_CLAUSE = 500  # keys per IN (...) look-up: well below every dialect's parameter limit


@dataclass(frozen=True)
class Rows:
    """A chunk's per-row values as the record tables take them (keys bounded, texts storable)."""

    keys: list[str]
    hashes: list[bytes]
    payload: list[str | None]  # for rejected rows and rows whose key occurs again in the chunk (store.rows.Prepared)
    source_pks: list[str]
    positions: list[str | None] | None
    statuses: list[str | None] | None
    column: Any  # (national code, row indexes) → the column's values for those rows, ready to write
    publicity: pd.DataFrame | None
    not_public: list[str | None] | None = None  # per row, the 不予公开 reason


@dataclass
class Changed:
    """The records a chunk inserted or updated, each once, in the state the chunk left it: what the public
    column's writer (``store.published.write_changes``) needs besides the rows' values."""

    ids: list[int] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # the chunk row holding the record's content
    versions: list[int] = field(default_factory=list)
    inserted: list[bool] = field(default_factory=list)  # False: an update of a stored record
    shown: list[bool] = field(default_factory=list)  # ``store.published.is_public`` of its new state
    publicity_end: list[dt.date | None] = field(default_factory=list)


@dataclass
class Written:
    """What :func:`write` did with a chunk's accepted rows."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    changed: list[int] = field(default_factory=list)  # accepted rows that inserted or updated a record
    records: Changed = field(default_factory=Changed)


@dataclass
class _Pending:
    """A record's state while a chunk's rows are compared in source order."""

    rec_id: int | None  # None: inserted by this chunk
    row: int  # the chunk row holding its current content
    hash: bytes
    version: int
    position: str | None
    status: str  # active / withdrawn
    stored: bool = False  # True while it is still the store's state (no row of this chunk changed it)
    operation: str = "I"  # of the version it is at
    change: int = -1  # index into the chunk's list of changes of the version it is at
    #: an operator's hold (``sgs withdraw``: revoked, ``sgs repair``: repaired) and its withdrawal: every new
    #: version of the record stays withdrawn with it
    hold: str | None = None
    held: tuple[dt.datetime | None, str | None] = (None, None)
    first_published: dt.datetime | None = None  # the record's first publication, if it was ever shown


def write(
    conn: Connection, run_id: int, ds: Dataset, department: str, rows: Rows, accepted: Sequence[int], now: dt.datetime,
    today: dt.date,
) -> Written:
    """Insert, update or leave unchanged the records the ``accepted`` rows name (one business key = one record).
    A record shown in the public column (``store.published.is_public`` on ``today``) for the first time gets
    its ``first_published_at`` (``now``) in the same write."""
    table = record_tables[ds.name]
    keys, hashes, positions, statuses = rows.keys, rows.hashes, rows.positions, rows.statuses
    out = Written()
    existing: dict[str, _Pending] = {}
    stmt = sa.select(
        table.c.business_key, table.c.id, table.c.content_hash, table.c.version, table.c.status, table.c.source_position,
        table.c.operation, table.c.hold, table.c.withdrawn_at, table.c.withdrawn_reason, table.c.first_published_at,
    )
    for r in bulk.select_where_in(conn, stmt, table.c.business_key, sorted({keys[i] for i in accepted})):
        existing[r.business_key] = _Pending(r.id, -1, bytes(r.content_hash), r.version, r.source_position,
                                            "withdrawn" if r.status == "withdrawn" else "active", stored=True, operation=r.operation,
                                            hold=r.hold, held=(r.withdrawn_at, r.withdrawn_reason) if r.hold else (None, None),
                                            first_published=r.first_published_at)

    # Rows come in source order (cursor, primary key). Each accepted row is compared with the decision's
    # current state — the store's, or what an earlier row of this chunk made it. A row whose source
    # position is before that state's is an older row of the decision read again (a correction entered
    # as a new source row, both inside the look-back window): it changes nothing. Without this, re-reading
    # both rows made every run write two new versions (A, B, A, B, …).
    # The decisions only pick row indexes; the rows to write are then built column by column.
    pending: dict[str, _Pending] = {}  # business key → the record's state after this chunk's rows so far
    changes: list[tuple[int, int, str]] = []  # every change in order: (row, version, operation)
    superseded_here: list[int] = []  # changes of this chunk that a later row of the chunk superseded
    for i in accepted:
        key = keys[i]
        h = hashes[i]
        position = positions[i] if positions is not None else None
        # 当前状态 2 (无效): kept, but withdrawn from publicity (the push sends it as a withdrawal, spec §3.7).
        invalid = statuses is not None and withdrawn_reason(statuses[i]) is not None
        state = pending.get(key) or existing.get(key)
        if state is not None and (state.hash == h or (position is not None and state.position is not None and position < state.position)):
            out.unchanged += 1  # same content, or an older source row of the decision read again
            continue
        if state is not None and state.hold:
            invalid = True  # an operator's revocation or repair holds against the source
        if state is None:
            pending[key] = _Pending(None, i, h, 1, position, "withdrawn" if invalid else "active", change=len(changes))
            changes.append((i, 1, "I"))
            out.inserted += 1
        else:
            op = _operation(state.status, invalid)
            if state.change >= 0:
                superseded_here.append(state.change)
            state.change = len(changes)
            changes.append((i, state.version + 1, op))
            state.stored = False
            state.row, state.hash, state.version, state.position = i, h, state.version + 1, position
            state.status = "withdrawn" if invalid else "active"
            state.operation = op
            pending[key] = state
            out.updated += 1
        out.changed.append(i)

    inserts = [(k, p) for k, p in pending.items() if p.rec_id is None]
    updates = [(k, p) for k, p in pending.items() if p.rec_id is not None and not p.stored]
    # Every change takes the next value of the store-wide change sequence; a record keeps its last one.
    seqs = changelog.next_seqs(conn, len(changes))
    if updates:
        # The stored versions of updated records move to the history before they are overwritten.
        _supersede_stored(conn, ds.name, table, [p.rec_id for _, p in updates if p.rec_id is not None])
    if superseded_here:
        # A record changed twice inside this chunk: the versions in between are history straight away.
        picked = [changes[c][0] for c in superseded_here]
        history.write(conn, ds.name, {
            "business_key": pick(keys, picked), "version": [changes[c][1] for c in superseded_here],
            "operation": [changes[c][2] for c in superseded_here], "department": department,
            "source_pk": pick(rows.source_pks, picked), "content_hash": pick(hashes, picked),
            "payload": pick(rows.payload, picked), "run_id": run_id, "loaded_at": now,
        }, len(picked))
    if inserts:
        # Ids from the table's own sequence, so that the public column's rows are written from the values
        # at hand (COPY returns no ids).
        ids = dialect.of(conn).next_ids(conn, table, len(inserts))
        cols = _record_columns(ds, rows, inserts, seqs, now, with_publicity=True)
        shown = _shown(ds, cols, len(inserts), today)
        bulk.insert_columns(conn, table, {
            "id": ids,
            "business_key": [k for k, _ in inserts],
            "department": department,
            **cols,
            "first_published_at": [now if s else None for s in shown],
            "first_loaded_at": now,
            "updated_at": now,
            "run_id": run_id,
        }, len(inserts))
        _changed(out.records, ids, inserts, True, shown, cols)
    if updates:
        # Penalties carry their publicity dates; licences have none to overwrite.
        with_publicity = rows.publicity is not None
        cols = _record_columns(ds, rows, updates, seqs, now, with_publicity=with_publicity)
        ids = [p.rec_id for _, p in updates if p.rec_id is not None]
        if not with_publicity and ds.name == "cf":
            # The stored dates decide what is shown (a licence has none; a hand-built penalty batch without them).
            stored_ends = {r.id: r.publicity_end for r in bulk.select_where_in(
                conn, sa.select(table.c.id, table.c.publicity_end), table.c.id, ids, sa.Integer)}
            cols_ends: list[Any] | None = [stored_ends.get(i) for i in ids]
        else:
            cols_ends = cols.get("publicity_end")
        shown = _shown(ds, {**cols, "publicity_end": cols_ends}, len(updates), today)
        bulk.update_columns(conn, table, ids, {
            **cols,
            "first_published_at": [p.first_published or (now if s else None) for (_, p), s in zip(updates, shown, strict=True)],
            "department": department,
            "updated_at": now,
            "run_id": run_id,
        })
        _changed(out.records, ids, updates, False, shown, {**cols, "publicity_end": cols_ends})
    return out


def _shown(ds: Dataset, cols: dict[str, Any], n: int, today: dt.date) -> list[bool]:
    """``store.published.is_public`` of each new record state in ``cols`` (the columns :func:`_record_columns` built)."""
    not_public = cols.get("not_public") or [None] * n
    ends = cols.get("publicity_end") or [None] * n
    return [is_public(ds.name, {"status": st, "not_public": np_, "publicity_end": e}, today)
            for st, np_, e in zip(cols["status"], not_public, ends, strict=True)]


def _changed(into: Changed, ids: list[int], items: list[tuple[str, _Pending]], inserted: bool, shown: list[bool],
             cols: dict[str, Any]) -> None:
    into.ids += ids
    into.rows += [p.row for _, p in items]
    into.versions += [p.version for _, p in items]
    into.inserted += [inserted] * len(ids)
    into.shown += shown
    into.publicity_end += cols.get("publicity_end") or [None] * len(ids)


def _record_columns(
    ds: Dataset, rows: Rows, items: list[tuple[str, _Pending]], seqs: list[int], now: dt.datetime, *, with_publicity: bool,
) -> dict[str, Any]:
    picked = [p.row for _, p in items]
    reasons = [withdrawn_reason(s) for s in pick(rows.statuses, picked)] if rows.statuses is not None else [None] * len(picked)
    cols: dict[str, Any] = {c.lower(): rows.column(c, picked) for c in ds.columns}
    cols["status"] = ["active" if r is None else "withdrawn" for r in reasons]
    cols["withdrawn_at"] = [None if r is None else now for r in reasons]
    cols["withdrawn_reason"] = reasons
    for j, (_, p) in enumerate(items):
        if p.hold:  # held by an operator: withdrawn as the operator decided, whatever the row says
            cols["status"][j] = "withdrawn"
            cols["withdrawn_at"][j], cols["withdrawn_reason"][j] = p.held
    cols["not_public"] = pick(rows.not_public, picked) if rows.not_public is not None else None
    if with_publicity:
        pub = rows.publicity
        cols["publicity_end"] = _dates_or_none(pick(pub["publicity_end"].tolist(), picked)) if pub is not None else None
        cols["repair_eligible_from"] = _dates_or_none(pick(pub["repair_eligible_from"].tolist(), picked)) if pub is not None else None
    cols["content_hash"] = pick(rows.hashes, picked)
    cols["source_pk"] = pick(rows.source_pks, picked)
    cols["source_position"] = pick(rows.positions, picked) if rows.positions is not None else None
    cols["version"] = [p.version for _, p in items]
    cols["operation"] = [p.operation for _, p in items]
    cols["change_seq"] = [seqs[p.change] for _, p in items]
    return cols


def withdraw(
    conn: Connection, run_id: int, department: str, ds: str, business_keys: list[str], *, reason: str, now: dt.datetime,
    hold: str | None = None,
) -> int:
    """Withdraw active records from publicity: a new version with operation D and the next change sequence
    value, the version until then into the history. Returns how many changed."""
    table = record_tables[ds]
    changed = 0
    for j in range(0, len(business_keys), _IN_CLAUSE):
        part = business_keys[j : j + _IN_CLAUSE]
        ids = list(conn.execute(
            sa.select(table.c.id)
            .where(table.c.business_key.in_(part), table.c.status == "active", table.c.department == department)
            .order_by(table.c.id)
        ).scalars())
        if not ids:
            continue
        stored = _supersede_stored(conn, ds, table, ids)
        seqs = changelog.next_seqs(conn, len(stored))
        conn.execute(
            table.update()
            .where(table.c.id == sa.bindparam("b_id"))
            .values(status="withdrawn", withdrawn_at=now, withdrawn_reason=reason[:200], version=sa.bindparam("v"), hold=hold,
                    operation="D", change_seq=sa.bindparam("seq"), updated_at=now, run_id=run_id),
            [{"b_id": r["id"], "v": r["version"] + 1, "seq": seq} for r, seq in zip(stored, seqs, strict=True)],
        )
        changed += len(stored)
    return changed


def withdrawn_reason(status: str | None) -> str | None:
    """Why a row's status withdraws its record from publicity, or None: 当前状态 2 (无效, spec §3.7), or the
    department's status column says the decision was revoked (``revoked:<value>``, spec §5.3)."""
    if status == "2":
        return "当前状态为无效"
    if status is not None and status.startswith(REVOKED_PREFIX):
        return f"决定已撤销（源数据状态：{status.removeprefix(REVOKED_PREFIX)}）"[:200]
    return None


def _supersede_stored(conn: Connection, ds: str, table: sa.Table, ids: list[int]) -> list[dict[str, Any]]:
    """Move the stored versions of records ``ids`` to the history (before they are overwritten); returns
    their rows."""
    stored = [r._mapping for r in bulk.select_where_in(conn, sa.select(table), table.c.id, ids, sa.Integer)]
    past = [history.current_as_version(ds, r) for r in stored]
    history.write(conn, ds, {c: [p[c] for p in past] for c in history.COLUMNS}, len(past))
    return [dict(r) for r in stored]


def _operation(before: str, invalid_now: bool) -> str:
    """Operation of a new version of a known record: a withdrawal (D) when it became 无效, else an update (U)
    (also while it stays withdrawn: the push sends what the province needs from the record's status)."""
    if invalid_now and before != "withdrawn":
        return "D"
    return "U"


def pick(values: Sequence[Any], rows: Sequence[int]) -> list[Any]:
    """``[values[i] for i in rows]``, the loop in C."""
    if len(rows) <= 1:
        return [values[i] for i in rows]
    return list(operator.itemgetter(*rows)(values))


def _dates_or_none(values: list[Any]) -> list[dt.date | None]:
    """:func:`_date_or_none` of each value, each distinct value converted once."""
    seen: dict[Any, dt.date | None] = {}
    out = []
    for v in values:
        try:
            out.append(seen[v])
        except KeyError:
            out.append(seen.setdefault(v, _date_or_none(v)))
        except TypeError:  # unhashable
            out.append(_date_or_none(v))
    return out


def _date_or_none(v: Any) -> dt.date | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        return None

