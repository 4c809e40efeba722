"""The public column's read model (``published_cf`` / ``published_xk``): its only writer.

The column (``web/public``) reads these tables only, never the record tables: they hold the records that are
shown, with public, already-masked values (spec §5.4), and the public database role may read nothing else.

**When.** :func:`refresh` is called by every writer of the record tables inside its own transaction, with the
business keys it changed (``store.loader.load_batch`` for inserts and updates, ``store.loader.withdraw_records``
for withdrawals, which the expiry uses): it reads those records' current state and inserts, updates or deletes
their rows here. So a record and its public row never disagree after a commit.

**What is shown** is decided in one place, :func:`is_public`: an active record, and for a penalty one whose
publicity period has not ended (``publicity_end`` is the last day shown, in Asia/Shanghai), and one no 不予公开
rule of its department holds back (``not_public``). Revocations and credit repairs withdraw the record (status).

**How it is masked** (:func:`public_values`): a natural person's 证件号码 and every 法定代表人证件号码 are never
stored here (NULL); a 自然人's 法定代表人 fields are empty; every other text value goes through
``national.masking.mask_text`` (ID, mobile and bank-card numbers in free text). Credit codes stay as they are,
except one that could also be an ID number (a real birth date in positions 7–14): privacy wins, it is masked
like one, and the exact search then finds it only by its masked form (so the column is never an oracle that
confirms an ID number).

``first_published_at`` is when the record entered the column and is kept while it stays shown (a record that
leaves and comes back enters again); the record keeps its own ``first_published_at`` (the first time ever, also
after it left), which the assessment's 及时率 measures. The masking lives in ``national.masking`` (pure functions below every
stage), so the store imports no transform.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from national import dataset
from national.clock import now_utc, today_shanghai
from national.masking import ID_COLUMNS
from store import bulk, dialect
from store.rows import PublicMasks, public_masks
from store.schema import PUBLIC_KEY_COLUMNS, published_tables, record_tables

#: ``decision_date`` of a record without one (the keyset order needs a value; the page shows the empty field).
NO_DATE = dt.date(1900, 1, 1)


def is_public(ds: str, record: Mapping[str, Any], today: dt.date) -> bool:
    """True if the record (a mapping of its ``record_<ds>`` columns) is shown in the public column on ``today``."""
    if record["status"] != "active":  # withdrawn: at the source, 无效, revoked (撤销), repaired (信用修复), expired
        return False
    if record.get("not_public"):  # 不予公开: stored, assessed and pushed, never shown
        return False
    if ds == "cf":
        end = record["publicity_end"]
        if end is not None and end < today:
            return False
    return True


def public_values(ds: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The read model's row for a record that is shown: public fields only, masked."""
    return {k: v[0] for k, v in public_columns(ds, [record]).items()}


def public_columns(ds: str, records: Sequence[Mapping[Any, Any]]) -> dict[str, list[Any]]:
    """The read model's rows of records (mappings of their ``record_<ds>`` columns) that are shown, column by column:
    the same rows :func:`write_changes` writes from a chunk's values — one rule for both (:func:`_public_columns_of_chunk`
    with the records' own :class:`store.rows.PublicMasks`)."""
    d = dataset(ds)
    n = len(records)
    # A migration older than the extension fields (0014) rebuilds the read model from tables without them.
    codes = [f.code for f in d.fields if not records or f.code.lower() in records[0]]
    typed = {c: [r[c.lower()] for r in records] for c in codes}
    out = _public_columns_of_chunk(ds, list(range(n)), lambda code, rows: typed[code], public_masks(d, typed), copy=False,
                                   codes=set(codes))
    out.update(
        id=[r["id"] for r in records], department=[r["department"] for r in records],
        version=[r["version"] for r in records],
        publicity_end=[r["publicity_end"] for r in records] if ds == "cf" else [None] * n,
    )
    return {k: v if isinstance(v, list) else [v] * n for k, v in out.items()}


def write_changes(
    conn: Connection, ds: str, department: str, changed: Any, column: Any, masks: PublicMasks, *, now: dt.datetime,
) -> tuple[int, int]:
    """The public rows of the records a chunk inserted or updated (``store.records.Changed``), written from the
    values the chunk holds — ``column(code, rows)`` gives a national column's values as the record table got
    them (typed, or COPY text) and ``masks`` what is shown differently — in the caller's transaction. The same
    rows as :func:`refresh` would write after reading the records back (a test compares them), without the
    read-back: a first load writes each public row once, with one ``COPY``. Returns (rows written, removed)."""
    pub = published_tables[ds]
    n = len(changed.ids)
    if not n:
        return 0, 0
    # Updated records: their old public row goes (kept: its first_published_at, if the record stays shown).
    updated = [changed.ids[j] for j in range(n) if not changed.inserted[j]]
    first: dict[int, Any] = {}
    removed = 0
    if updated:
        first = {int(r.id): r.first_published_at for r in bulk.select_where_in(
            conn, sa.select(pub.c.id, pub.c.first_published_at), pub.c.id, updated, sa.Integer)}
        for cond in bulk.any_of(conn, pub.c.id, list(first), sa.Integer) if first else []:
            conn.execute(pub.delete().where(cond))
    shown = [j for j in range(n) if changed.shown[j]]
    hidden = {changed.ids[j] for j in range(n) if not changed.shown[j]}
    removed = sum(1 for i in first if i in hidden)
    if not shown:
        return 0, removed
    rows = [changed.rows[j] for j in shown]
    ids = [changed.ids[j] for j in shown]
    columns = _public_columns_of_chunk(ds, rows, column, masks, copy=bulk.uses_copy(conn))
    columns.update(
        id=ids, department=department, version=[changed.versions[j] for j in shown],
        publicity_end=[changed.publicity_end[j] for j in shown] if ds == "cf" else None,
        first_published_at=[first.get(i, now) for i in ids], published_at=now,
    )
    bulk.insert_columns(conn, pub, columns, len(ids))
    return len(ids), removed


def _public_columns_of_chunk(ds: str, rows: list[int], column: Any, masks: PublicMasks, *, copy: bool,
                             codes: set[str] | None = None) -> dict[str, Any]:
    """The national and search columns of the public rows of chunk rows ``rows``: the record's values (``column(code,
    rows)``; COPY text when ``copy``) except a natural person's 法定代表人 fields and every ID-number column (never
    shown) and the text values ``masks`` names (spec §5.4). ``codes``: only these national columns (default all)."""
    d = dataset(ds)
    p = d.name.upper()
    at = {r: j for j, r in enumerate(rows)}
    natural = [at[r] for r in masks.natural if r in at]

    def shown(values: list[Any], changes: dict[int, Any]) -> list[Any]:
        if not changes:
            return values
        out = list(values)
        # COPY text columns get the shown values as COPY text (escaped; NULL as \\N)
        for j, v in zip(changes, bulk.copy_text(list(changes.values())) if copy else changes.values(), strict=True):
            out[j] = v
        return bulk.CopyText(out) if copy else out

    out: dict[str, Any] = {}
    for f in d.fields:
        col = f.code.lower()
        if codes is not None and f.code not in codes:
            continue
        if f.code in ID_COLUMNS:
            out[col] = None
            continue
        changes: dict[int, Any] = {at[r]: m for r, m in masks.masked.get(f.code, {}).items() if r in at}
        if f.code.startswith((f"{p}_FR_", f"{p}_FRDB")):
            changes.update(dict.fromkeys(natural))
        out[col] = shown(column(f.code, rows), changes)
    name, date, doc, authority = PUBLIC_KEY_COLUMNS[ds]
    dates = out[date.lower()]
    decision: list[Any]
    if copy:
        no_date = NO_DATE.isoformat()
        decision = bulk.CopyText([no_date if v == "\\N" else v for v in dates])
    else:
        decision = [v or NO_DATE for v in dates]
    out.update(
        party_name=out[name.lower()], credit_code=out[f"{p.lower()}_xdr_shxym"], doc_no=out[doc.lower()],
        authority=out[authority.lower()], decision_date=decision,
    )
    return out


def refresh(conn: Connection, ds: str, business_keys: Iterable[str], *, now: dt.datetime | None = None,
            today: dt.date | None = None) -> tuple[int, int]:
    """Bring the public rows of the records ``business_keys`` of ``ds`` up to their current state, in the
    caller's transaction. Returns (rows written, rows removed)."""
    keys = sorted(set(business_keys))
    if not keys:
        return 0, 0
    now = now or now_utc()
    today = today or today_shanghai()
    table = record_tables[ds]
    records = [r._mapping for r in bulk.select_where_in(conn, sa.select(table), table.c.business_key, keys)]
    return _apply(conn, ds, records, now=now, today=today)


def _apply(conn: Connection, ds: str, records: Sequence[Mapping[Any, Any]], *, now: dt.datetime, today: dt.date,
           pub: sa.Table | None = None, rec: sa.Table | None = None) -> tuple[int, int]:
    pub = published_tables[ds] if pub is None else pub
    rec = record_tables[ds] if rec is None else rec
    shown = [r for r in records if is_public(ds, r, today)]
    hidden = [int(r["id"]) for r in records if not is_public(ds, r, today)]
    removed = 0
    if hidden:
        for j in range(0, len(hidden), 500):
            removed += conn.execute(pub.delete().where(pub.c.id.in_(hidden[j : j + 500]))).rowcount or 0
    if not shown:
        return 0, removed
    ids = [int(r["id"]) for r in shown]
    first: dict[int, Any] = {}
    for j in range(0, len(ids), 500):
        stmt = sa.select(pub.c.id, pub.c.first_published_at).where(pub.c.id.in_(ids[j : j + 500]))
        first.update({int(i): t for i, t in conn.execute(stmt)})
    if first:
        for j in range(0, len(ids), 500):
            conn.execute(pub.delete().where(pub.c.id.in_([i for i in ids[j : j + 500] if i in first])))
    columns = public_columns(ds, shown)
    columns["first_published_at"] = [first.get(i, now) for i in ids]
    columns["published_at"] = [now] * len(ids)
    bulk.insert_columns(conn, pub, columns, len(ids))
    if "first_published_at" in rec.c:  # the record keeps its first publication (timeliness), also once it left
        new = [int(r["id"]) for r in shown if r.get("first_published_at") is None]
        for j in range(0, len(new), 500):
            conn.execute(rec.update().where(rec.c.id.in_(new[j : j + 500]), rec.c.first_published_at.is_(None))
                         .values(first_published_at=now))
    return len(ids), removed


def rebuild(conn: Connection, ds: str | None = None, *, now: dt.datetime | None = None, today: dt.date | None = None,
            reflect: bool = False) -> dict[str, int]:
    """Rewrite the read model from the record tables (a new store's migration, an operator's repair): every
    record that is shown gets its row, every other row goes. ``first_published_at`` of rows kept is kept.
    ``reflect``: use the tables as the database holds them, not the model (a migration, whose revision may
    be older than the model)."""
    now = now or now_utc()
    today = today or today_shanghai()
    out: dict[str, int] = {}
    for name in [ds] if ds else list(published_tables):
        if reflect:
            md = sa.MetaData()
            table = sa.Table(f"record_{name}", md, autoload_with=conn)
            pub = sa.Table(f"published_{name}", md, autoload_with=conn)
        else:
            table, pub = record_tables[name], published_tables[name]
        shown = 0
        last = 0
        while True:
            part = [r._mapping for r in conn.execute(
                sa.select(table).where(table.c.id > last).order_by(table.c.id).limit(5000)
            )]
            if not part:
                break
            last = int(part[-1]["id"])
            shown += _apply(conn, name, part, now=now, today=today, pub=pub, rec=table)[0]
        # rows of records that no longer exist (none are ever deleted today; kept for a hand-edited store)
        conn.execute(pub.delete().where(~pub.c.id.in_(sa.select(table.c.id))))
        out[name] = shown
    return out


#: The PostgreSQL role of the public column (``sgs store grant-public``).
PUBLIC_ROLE = "sgs_public"


def grant_public(conn: Connection, role: str = PUBLIC_ROLE, *, password: str | None = None) -> dict[str, Any]:
    """PostgreSQL: create or update ``role`` so that it may read the read model and nothing else: USAGE on the
    store's schema, SELECT on ``published_cf`` / ``published_xk``; every other privilege it held on the store's
    tables revoked. ``password``: the role may log in with it (LOGIN); None: NOLOGIN (an operator grants it to
    a login role, or sets a password later). Idempotent."""
    if not dialect.of(conn).roles:
        raise ValueError("grant-public 只用于 PostgreSQL 中央库：SQLite 中央库由专栏以只读方式打开，无需授权")
    q = conn.dialect.identifier_preparer
    name = q.quote(role)
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first() is not None
    login = "LOGIN" if password else "NOLOGIN"
    verb = "ALTER" if exists else "CREATE"
    if password:
        # A role password cannot be a bound parameter: a quoted literal (single quotes doubled).
        literal = "'" + password.replace("'", "''") + "'"
        conn.execute(sa.text(f"{verb} ROLE {name} {login} NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {literal}"))
    else:
        conn.execute(sa.text(f"{verb} ROLE {name} {login} NOSUPERUSER NOCREATEDB NOCREATEROLE"))
    conn.execute(sa.text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {q.quote(schema)} FROM {name}"))
    conn.execute(sa.text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {q.quote(schema)} FROM {name}"))
    conn.execute(sa.text(f"GRANT USAGE ON SCHEMA {q.quote(schema)} TO {name}"))
    tables = [t.name for t in published_tables.values()]
    for t in tables:
        conn.execute(sa.text(f"GRANT SELECT ON {q.quote(schema)}.{q.quote(t)} TO {name}"))
    return {"role": role, "created": not exists, "login": bool(password), "schema": schema, "tables": tables}
