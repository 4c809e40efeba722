"""The loader: one transaction per chunk for records, history, change sequence, quarantine, watermark and run
counters. The only writer of the record tables; history rows go through ``store.history``, change sequence
values come from ``store.changelog``, quarantine rows go through ``store.quarantine``.

Invariant 1 (nothing is lost): every row of a batch ends as exactly one of inserted, updated,
unchanged or quarantined, and the counts are checked before the transaction commits.
Invariant 2 (exactly once): the watermark moves in the same transaction as the rows it covers, and
only if it still holds the value this run started the chunk from (another run moving it in between
aborts this one instead of overwriting its progress).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from national import Dataset, dataset
from store import bulk, changelog, history, published
from store import quarantine as quarantine_store
from store.keys import KEY_LENGTH, bounded_keys, encodable, storable_json, storable_texts
from store.schema import ingest_run, record_tables, watermark

_IN_CLAUSE = 500  # keys per IN (...) look-up: well below every dialect's parameter limit


class WatermarkMoved(Exception):
    """Another run advanced this department's watermark while this run was loading: stop, do not overwrite."""


class ReconciliationError(Exception):
    """read ≠ inserted + updated + unchanged + quarantined: a bug; the chunk is rolled back."""


@dataclass(frozen=True)
class Batch:
    """One chunk of one department dataset after transform and validation."""

    department: str
    dataset: str
    national: pd.DataFrame  # national columns (canonical text), positional rows
    source_pk: list[str]  # JSON of the source primary key, per row
    raw: list[str | None]  # the source row as JSON, per row (needed for rejected rows only; may be None elsewhere)
    rejected: np.ndarray  # bool per row: has an error-severity issue
    issues: list[list[dict[str, str]]]  # per row: errors and warnings as {rule, field, message, severity}
    publicity: pd.DataFrame | None = None  # publicity_end, repair_eligible_from (penalties)
    cursor_from: str | None = None  # watermark this chunk was read after (for the moved check)
    cursor_to: str | None = None  # watermark after this chunk
    rule_failures: dict[str, int] = field(default_factory=dict)
    #: Rows read but skipped before the stages because the snapshot showed them unchanged.
    skipped_unchanged: int = 0
    #: Per row, a sortable text of the source row's (cursor, primary key) position, or None (snapshot
    #: reads, files). Of two rows of one decision, the later position is the decision's current content.
    source_position: list[str | None] | None = None
    #: What :func:`prepare_rows` computes from ``national`` (no store access): filled where the batch is
    #: built (possibly in another process) so that the loading thread only decides and writes.
    prepared: Prepared | None = None


@dataclass(frozen=True)
class Prepared:
    """The per-row values the load needs, computed from a batch's national values alone."""

    #: national column → database values (dates, Decimals); or, for a store written with COPY, the same
    #: values as COPY text (``copy_text``) and ``typed`` None: what the load writes, ready to pick.
    typed: dict[str, list[Any]] | None
    copy_text: dict[str, bulk.CopyText] | None
    statuses: list[str | None] | None  # XK_ZT (当前状态) per row, licences only
    rejected: np.ndarray  # the batch's rejections plus rows whose values cannot be typed (LOAD-TYPE)
    issues: list[list[dict[str, str]]]  # per row, LOAD-TYPE issues first
    keys: list[str]  # business key per row
    payload: list[str]  # national values as JSON per row
    hashes: list[bytes]  # content hash per row (:func:`content_hash`)


def prepare_rows(batch: Batch, *, copy_text: bool = False) -> Prepared:
    """Type, key, serialise and hash a batch's rows: pure work, safe to run in a worker process.
    ``copy_text``: render the record columns for a store written with COPY (:func:`store.bulk.uses_copy`)."""
    ds = dataset(batch.dataset)
    national = batch.national.reset_index(drop=True)
    typed, type_problems = _typed(national, ds)
    rejected = np.asarray(batch.rejected, dtype=bool).copy()
    issues = [list(x) for x in batch.issues]
    for i, probs in enumerate(type_problems):
        if probs and not rejected[i]:
            rejected[i] = True
            issues[i] = probs + issues[i]
    payload = payloads(national, ds.columns)
    hashes, unstorable = _hashes(payload)
    keys = business_keys(national, ds)
    # What the catalogue let through must still fit the store: a business key longer than the key columns
    # (a key-length rule switched off or relaxed) or a character neither store can encode (a character rule
    # switched off) quarantines the row with the field named, never fails the chunk.
    for i in [i for i, k in enumerate(keys) if len(k) > KEY_LENGTH]:
        if not rejected[i]:
            rejected[i] = True
            issues[i] = [_key_issue(national, ds, i)] + issues[i]
    for i in unstorable:
        problems = [] if rejected[i] else _text_issues(national, ds, i)
        if problems:
            rejected[i] = True
            issues[i] = problems + issues[i]
    statuses = national["XK_ZT"].tolist() if ds.name == "xk" else None
    rendered = {c: bulk.copy_text(typed[c]) for c in ds.columns} if copy_text else None
    return Prepared(None if copy_text else typed, rendered, statuses, rejected, issues, keys, payload, hashes)


def _hashes(payload: list[str]) -> tuple[list[bytes], list[int]]:
    """The content hash of each payload, and the rows whose values cannot be stored as they are (a lone
    surrogate, which only encodes with ``surrogatepass``; a NUL, which JSON writes as ``\\u0000``): found by
    the encoding the hash needs anyway."""
    hashes: list[bytes] = []
    unstorable: list[int] = []
    sha256 = hashlib.sha256
    for i, p in enumerate(payload):
        try:
            data = p.encode("utf-8")
        except UnicodeEncodeError:
            data = p.encode("utf-8", "surrogatepass")
            unstorable.append(i)
        else:
            if "\\u0000" in p:
                unstorable.append(i)
        hashes.append(sha256(data).digest()[:HASH_BYTES])
    return hashes, unstorable


def _key_issue(national: pd.DataFrame, ds: Dataset, i: int) -> dict[str, str]:
    """The issue of a row whose business key does not fit the store: names the longest key field."""
    lengths = {c: len(str(national.at[i, c] or "")) for c in ds.business_key}
    code = max(lengths, key=lambda c: lengths[c])
    f = ds.field(code)
    names = "、".join(ds.field(c).name_zh for c in ds.business_key)
    limit = f"超过 {f.max_length} 个字符（本行 {lengths[code]} 个）" if f.max_length else f"有 {lengths[code]} 个字符"
    return {
        "rule": "LOAD-KEY",
        "field": code,
        "message": f"{f.name_zh}（{code}）{limit}，业务主键（{names}）超过 {KEY_LENGTH} 个字符，无法入库：请核对{f.name_zh}后重新报送",
        "severity": "error",
    }


def _text_issues(national: pd.DataFrame, ds: Dataset, i: int) -> list[dict[str, str]]:
    """Issues of the fields of row ``i`` holding a character the store cannot save (NUL, lone surrogate)."""
    out = []
    for f in ds.fields:
        v = national.at[i, f.code]
        if isinstance(v, str) and not encodable(v):
            out.append({
                "rule": "LOAD-TEXT",
                "field": f.code,
                "message": f"{f.name_zh}（{f.code}）含有无法保存的字符（空字符或编码残缺的字符）：请检查源系统的字符编码后重新报送",
                "severity": "error",
            })
    return out


@dataclass
class Counts:
    """What happened to the rows of a batch (or a run)."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    warnings: int = 0

    def add(self, other: Counts) -> None:
        for k in ("read", "inserted", "updated", "unchanged", "quarantined", "warnings"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    @property
    def reconciles(self) -> bool:
        return self.read == self.inserted + self.updated + self.unchanged + self.quarantined

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("read", "inserted", "updated", "unchanged", "quarantined", "warnings")}


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

    @property
    def unchanged(self) -> bool:
        return self.stored


def business_keys(national: pd.DataFrame, ds: Dataset) -> list[str]:
    """National business key per row (design.md): source unit's USCC | document number [| licence number]."""
    parts = [national[c].fillna("").astype(str) for c in ds.business_key]
    key = parts[0]
    for p in parts[1:]:
        key = key + "|" + p
    return key.tolist()


#: Bytes of a content hash: the first half of a SHA-256 (a store migrated from hex hashes keeps their first
#: 32 hex digits, the same bytes, so nothing looks changed after the migration).
HASH_BYTES = 16


def content_hash(payload: str) -> bytes:
    """The hash of a record's national values (their JSON payload): equal hashes = nothing changed."""
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).digest()[:HASH_BYTES]


def payloads(national: pd.DataFrame, columns: list[str]) -> list[str]:
    """Each row's national values as one JSON object (column order fixed), by pandas' C encoder."""
    frame = national[columns]
    if len(frame) == 0:
        return []
    try:
        # One JSON array, cut between its objects: each object starts with the first column's key, and
        # inside a JSON string a quote is always escaped, so '},{"FIRST":' only occurs between objects.
        # (pandas' own ``lines=True`` does the same cut character by character, several times slower.)
        text = frame.to_json(orient="records", force_ascii=False)
        head = "{" + json.dumps(columns[0]) + ":"
        parts = text[2 + len(head) - 1 : -2].split("}," + head)
        if text.startswith("[" + head) and text.endswith("}]") and len(parts) == len(frame):
            return [head + p + "}" for p in parts]
        lines = frame.to_json(orient="records", lines=True, force_ascii=False).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) == len(frame):
            return lines
    except (UnicodeEncodeError, ValueError, OverflowError):
        pass
    values = frame.to_numpy(dtype=object)
    return [json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False, default=str) for row in values]


def _typed(national: pd.DataFrame, ds: Dataset) -> tuple[dict[str, list[Any]], list[list[dict[str, str]]]]:
    """Canonical text → database values (dates, Decimals). A value that cannot be typed is an issue of its
    row (so the row is quarantined, never loaded half-empty). Each distinct value is converted once."""
    problems: list[list[dict[str, str]]] = [[] for _ in range(len(national))]
    typed: dict[str, list[Any]] = {}
    for f in ds.fields:
        values = national[f.code].tolist()
        if f.kind not in ("date", "amount"):
            typed[f.code] = values
            continue
        convert = _as_date if f.kind == "date" else _as_amount
        converted = {v: convert(v) for v in set(values) if v is not None}
        out = [None if v is None else converted[v] for v in values]
        for i in [i for i, v in enumerate(out) if v is _INVALID]:
            out[i] = None
            problems[i].append(_load_issue(f.code, f.name_zh, values[i], "日期" if f.kind == "date" else "金额"))
        typed[f.code] = out
    return typed, problems


_INVALID = object()  # a value that cannot be typed


def _as_date(v: Any) -> Any:
    try:
        return dt.date.fromisoformat(v)
    except (TypeError, ValueError):
        return _INVALID


def _as_amount(v: Any) -> Any:
    try:
        d = Decimal(v)
        if not d.is_finite() or abs(d) >= Decimal(10) ** 12:
            raise InvalidOperation
        return d
    except (InvalidOperation, TypeError, ValueError):
        return _INVALID


def _load_issue(code: str, name_zh: str, value: Any, what: str) -> dict[str, str]:
    return {
        "rule": "LOAD-TYPE",
        "field": code,
        "message": f"{name_zh}（{code}）的值不是可入库的{what}：请按模板格式填写后重新报送",
        "severity": "error",
    }


def read_watermark(conn: Connection, department: str, ds: str, *, lock: bool = False) -> str | None:
    stmt = sa.select(watermark.c.cursor_value).where(watermark.c.department == department, watermark.c.dataset == ds)
    if lock:
        stmt = stmt.with_for_update()
    return conn.execute(stmt).scalar_one_or_none()


def load_batch(conn: Connection, run_id: int, batch: Batch, *, now: dt.datetime | None = None) -> Counts:
    """Load one batch inside the caller's transaction (``with engine.begin() as conn``)."""
    now = now or dt.datetime.now(dt.UTC)
    ds = dataset(batch.dataset)
    table = record_tables[ds.name]
    n = len(batch.national)
    counts = Counts(read=n + batch.skipped_unchanged, unchanged=batch.skipped_unchanged)

    # Cursor values, source keys and positions as the store holds them (store/keys.py): a lone surrogate or a
    # key longer than the key columns must not fail the chunk. Each is the identity on ordinary values.
    cursor_from = storable_json(batch.cursor_from) if batch.cursor_from is not None else None
    cursor_to = storable_json(batch.cursor_to) if batch.cursor_to is not None else None
    source_pks = bounded_keys(batch.source_pk)
    current = read_watermark(conn, batch.department, ds.name, lock=True)
    if current != cursor_from:
        raise WatermarkMoved(
            f"部门 {batch.department} 的 {ds.name} 水位线已被另一次运行推进（{batch.cursor_from} → {current}）：本次运行停止，请勿并发运行同一部门"
        )

    prepared = batch.prepared or prepare_rows(batch, copy_text=bulk.uses_copy(conn))
    if prepared.copy_text is not None and not bulk.uses_copy(conn):
        raise ValueError(f"{batch.department}/{ds.name}: rows prepared as COPY text for a store that does not use COPY")
    rejected, issues = prepared.rejected, prepared.issues
    keys, payload, hashes, statuses = prepared.keys, prepared.payload, prepared.hashes, prepared.statuses
    publicity = batch.publicity.reset_index(drop=True) if batch.publicity is not None else None
    columns = ds.columns
    if prepared.copy_text is not None:
        rendered = prepared.copy_text

        def pick_column(code: str, rows: list[int]) -> list[Any]:
            return bulk.CopyText(_pick(rendered[code], rows))
    else:
        typed = prepared.typed
        assert typed is not None

        def pick_column(code: str, rows: list[int]) -> list[Any]:
            return _pick(typed[code], rows)
    pub_end = publicity["publicity_end"].tolist() if publicity is not None else None
    pub_repair = publicity["repair_eligible_from"].tolist() if publicity is not None else None

    accepted = np.flatnonzero(~rejected)
    bad = np.flatnonzero(rejected)
    counts.warnings = sum(1 for i in accepted if issues[i])

    # --- accepted rows: insert / update / unchanged by business key -------------------------------
    existing: dict[str, tuple[int, bytes, int, str]] = {}
    existing_position: dict[str, str | None] = {}
    was_withdrawn: dict[str, bool] = {}
    acc_keys = sorted({keys[i] for i in accepted})
    stmt = sa.select(
        table.c.business_key, table.c.id, table.c.content_hash, table.c.version, table.c.status, table.c.source_position,
        table.c.operation,
    )
    for row in bulk.select_where_in(conn, stmt, table.c.business_key, acc_keys):
        existing[row.business_key] = (row.id, bytes(row.content_hash), row.version, row.operation)
        existing_position[row.business_key] = row.source_position
        was_withdrawn[row.business_key] = row.status == "withdrawn"

    # Rows come in source order (cursor, primary key). Each accepted row is compared with the decision's
    # current state — the store's, or what an earlier row of this chunk made it. A row whose source
    # position is before that state's is an older row of the decision read again (a correction entered
    # as a new source row, both inside the look-back window): it changes nothing. Without this, re-reading
    # both rows made every run write two new versions (A, B, A, B, …).
    # The decisions only pick row indexes; the rows to write are then built column by column.
    positions = storable_texts(batch.source_position) if batch.source_position is not None else None
    pending: dict[str, _Pending] = {}  # business key → the record's state after this chunk's rows so far
    changes: list[tuple[int, int, str]] = []  # every change in order: (row, version, operation)
    superseded_here: list[int] = []  # changes of this chunk that a later row of the chunk superseded
    changed: list[int] = []  # accepted rows that inserted or updated a record
    for i in accepted.tolist():
        key = keys[i]
        h = hashes[i]
        position = positions[i] if positions is not None else None
        # 当前状态 2 (无效): kept, but withdrawn from publicity (the push sends it as a withdrawal, spec §3.7).
        invalid = statuses is not None and statuses[i] == "2"
        state = pending.get(key)
        if state is None and key in existing:
            rec_id, cur_hash, cur_version, cur_op = existing[key]
            state = _Pending(rec_id, i, cur_hash, cur_version, existing_position.get(key),
                             "withdrawn" if was_withdrawn.get(key) else "active", stored=True, operation=cur_op)
        if state is not None and (state.hash == h or (position is not None and state.position is not None and position < state.position)):
            counts.unchanged += 1  # same content, or an older source row of the decision read again
            continue
        if state is None:
            pending[key] = _Pending(None, i, h, 1, position, "withdrawn" if invalid else "active", change=len(changes))
            changes.append((i, 1, "I"))
            counts.inserted += 1
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
            counts.updated += 1
        changed.append(i)

    inserts = [(k, p) for k, p in pending.items() if p.rec_id is None]
    updates = [(k, p) for k, p in pending.items() if p.rec_id is not None and not p.unchanged]
    # Every change takes the next value of the store-wide change sequence; a record keeps its last one.
    seqs = changelog.next_seqs(conn, len(changes))
    if updates:
        # The stored versions of updated records move to the history before they are overwritten.
        _supersede_stored(conn, ds.name, table, [p.rec_id for _, p in updates if p.rec_id is not None])
    if superseded_here:
        # A record changed twice inside this chunk: the versions in between are history straight away.
        rows = [changes[c][0] for c in superseded_here]
        history.write(conn, ds.name, {
            "business_key": _pick(keys, rows), "version": [changes[c][1] for c in superseded_here],
            "operation": [changes[c][2] for c in superseded_here], "department": batch.department,
            "source_pk": _pick(source_pks, rows), "content_hash": _pick(hashes, rows), "payload": _pick(payload, rows),
            "run_id": run_id, "loaded_at": now,
        }, len(rows))
    if inserts or updates:
        withdrawn = np.asarray([s == "2" for s in statuses], dtype=bool) if statuses is not None else np.zeros(n, dtype=bool)

        def record_columns(items: list[tuple[str, _Pending]], with_publicity: bool) -> dict[str, Any]:
            rows = [p.row for _, p in items]
            w = withdrawn[rows]
            cols: dict[str, Any] = {c.lower(): pick_column(c, rows) for c in columns}
            cols["status"] = np.where(w, "withdrawn", "active").tolist()
            cols["withdrawn_at"] = [now if x else None for x in w]
            cols["withdrawn_reason"] = ["当前状态为无效" if x else None for x in w]
            if with_publicity:
                cols["publicity_end"] = _dates_or_none(_pick(pub_end, rows)) if pub_end is not None else None
                cols["repair_eligible_from"] = _dates_or_none(_pick(pub_repair, rows)) if pub_repair is not None else None
            cols["content_hash"] = _pick(hashes, rows)
            cols["source_pk"] = _pick(source_pks, rows)
            cols["source_position"] = _pick(positions, rows) if positions is not None else None
            cols["version"] = [p.version for _, p in items]
            cols["operation"] = [p.operation for _, p in items]
            cols["change_seq"] = [seqs[p.change] for _, p in items]
            return cols

        if inserts:
            bulk.insert_columns(conn, table, {
                "business_key": [k for k, _ in inserts],
                "department": batch.department,
                **record_columns(inserts, with_publicity=True),
                "first_loaded_at": now,
                "updated_at": now,
                "run_id": run_id,
            }, len(inserts))
        if updates:
            # Penalties carry their publicity dates; licences have none to overwrite.
            bulk.update_columns(conn, table, [rid for _, p in updates if (rid := p.rec_id) is not None], {
                **record_columns(updates, with_publicity=pub_end is not None and pub_repair is not None),
                "department": batch.department,
                "updated_at": now,
                "run_id": run_id,
            })

    published.refresh(conn, ds.name, [k for k, p in pending.items() if not p.unchanged], now=now)  # the public column

    # --- quarantine ---------------------------------------------------------------------------------
    if len(bad):
        quarantine_store.add_rejected_rows(
            conn, batch.department, ds.name, run_id, now, source_pks=[source_pks[i] for i in bad],
            raws=[batch.raw[i] for i in bad], keys=[keys[i] for i in bad], payloads=[payload[i] for i in bad],
            issues=[issues[i] for i in bad],
        )
        counts.quarantined = len(bad)

    # --- a corrected row resolves its open quarantine entries (same source row or same decision) ----
    # Only rows that changed a record: a look-back re-read of an unchanged row corrects nothing (and must
    # not close, say, a province's rejection of that record).
    if changed:
        quarantine_store.resolve_fixed(
            conn, batch.department, ds.name, run_id, now,
            source_pks=[source_pks[i] for i in changed], business_keys=sorted({keys[i] for i in changed}),
        )

    if not counts.reconciles:
        raise ReconciliationError(f"{batch.department}/{ds.name}: {counts.as_dict()}")

    # --- watermark and run counters, same transaction ---------------------------------------------
    if cursor_to is not None and cursor_to != current:
        if current is None:
            conn.execute(
                watermark.insert().values(
                    department=batch.department, dataset=ds.name, cursor_value=cursor_to, updated_at=now, run_id=run_id
                )
            )
        else:
            conn.execute(
                watermark.update()
                .where(watermark.c.department == batch.department, watermark.c.dataset == ds.name)
                .values(cursor_value=cursor_to, updated_at=now, run_id=run_id)
            )
    run = conn.execute(sa.select(ingest_run.c.rule_failures).where(ingest_run.c.id == run_id)).scalar_one()
    failures: dict[str, int] = json.loads(run) if run else {}
    for rule, k in batch.rule_failures.items():
        if k:
            failures[rule] = failures.get(rule, 0) + int(k)
    conn.execute(
        ingest_run.update()
        .where(ingest_run.c.id == run_id)
        .values(
            chunks=ingest_run.c.chunks + 1,
            rows_read=ingest_run.c.rows_read + counts.read,
            inserted=ingest_run.c.inserted + counts.inserted,
            updated=ingest_run.c.updated + counts.updated,
            unchanged=ingest_run.c.unchanged + counts.unchanged,
            quarantined=ingest_run.c.quarantined + counts.quarantined,
            warnings=ingest_run.c.warnings + counts.warnings,
            rule_failures=json.dumps(failures, ensure_ascii=False, sort_keys=True),
            watermark_to=cursor_to if cursor_to is not None else ingest_run.c.watermark_to,
        )
    )
    return counts


def _pick(values: Sequence[Any], rows: Sequence[int]) -> list[Any]:
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


def _operation(before: str, invalid_now: bool) -> str:
    """Operation of a new version of a known record: a withdrawal (D) when it became 无效, else an update (U)
    (also while it stays withdrawn: the push sends what the province needs from the record's status)."""
    if invalid_now and before != "withdrawn":
        return "D"
    return "U"


def _supersede_stored(conn: Connection, ds: str, table: sa.Table, ids: list[int]) -> list[dict[str, Any]]:
    """Move the stored versions of records ``ids`` to the history (before they are overwritten); returns
    their rows."""
    rows = [r._mapping for r in bulk.select_where_in(conn, sa.select(table), table.c.id, ids, sa.Integer)]
    past = [history.current_as_version(ds, r) for r in rows]
    history.write(conn, ds, {c: [p[c] for p in past] for c in history.COLUMNS}, len(past))
    return [dict(r) for r in rows]


def withdraw_records(
    conn: Connection, run_id: int, department: str, ds_name: str, business_keys: list[str], *, reason: str,
    now: dt.datetime | None = None,
) -> int:
    """Withdraw active records from publicity (deleted at the source, expired, revoked): a new version with
    operation D and the next change sequence value (the push sends the withdrawal), the version until then
    into the history, in the caller's transaction. Returns how many changed."""
    now = now or dt.datetime.now(dt.UTC)
    ds = dataset(ds_name)
    table = record_tables[ds.name]
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
        rows = _supersede_stored(conn, ds.name, table, ids)
        seqs = changelog.next_seqs(conn, len(rows))
        conn.execute(
            table.update()
            .where(table.c.id == sa.bindparam("b_id"))
            .values(status="withdrawn", withdrawn_at=now, withdrawn_reason=reason[:200], version=sa.bindparam("v"),
                    operation="D", change_seq=sa.bindparam("seq"), updated_at=now, run_id=run_id),
            [{"b_id": r["id"], "v": r["version"] + 1, "seq": seq} for r, seq in zip(rows, seqs, strict=True)],
        )
        changed += len(rows)
    published.refresh(conn, ds.name, business_keys, now=now)  # the public column
    return changed
