"""The public column's queries: over the read model ``published_<ds>`` only (never a record table).

Searches (all optional, combined with AND): ``q`` — one box over 行政相对人名称 (substring), 统一社会信用代码 and
文书号 (exact); ``name`` (substring), ``credit_code`` (exact), ``doc_no`` (exact), ``authority`` (决定机关,
substring), ``department`` (exact), ``date_from`` / ``date_to`` (decision date, inclusive). Lists are ordered by
decision date then id, newest first, and paged by keyset (``after`` = the last row's ``date.id``), never OFFSET.

Substring search on names: PostgreSQL ``ILIKE`` (served by the pg_trgm GIN index of migration 0007 when the
extension is there); SQLite: the FTS5 trigram table for three characters or more, ``LIKE`` below that (the
trigram index cannot serve shorter strings). A penalty is shown only while ``publicity_end`` is today or later,
even before ``sgs expire`` removed it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.schema import PUBLISHED_FTS, published_tables

MAX_LIMIT = 100
MAX_TERM = 200  # characters of a search term: longer ones are cut (no name or number is longer)


@dataclass(frozen=True)
class Filters:
    q: str | None = None
    name: str | None = None
    credit_code: str | None = None
    doc_no: str | None = None
    authority: str | None = None
    department: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def cleaned(self) -> Filters:
        def c(v: str | None) -> str | None:
            v = (v or "").strip()[:MAX_TERM]
            return v or None

        return Filters(c(self.q), c(self.name), c(self.credit_code), c(self.doc_no), c(self.authority), c(self.department),
                       self.date_from, self.date_to)

    @property
    def any(self) -> bool:
        return any(v is not None for v in self.__dict__.values())


def parse_cursor(after: str | None) -> tuple[dt.date, int] | None:
    """``YYYY-MM-DD.id`` → (date, id); None for an empty or malformed cursor (the first page)."""
    if not after:
        return None
    try:
        day, _, ident = after.partition(".")
        return dt.date.fromisoformat(day), int(ident)
    except ValueError:
        return None


def cursor_of(row: Any) -> str:
    return f"{row.decision_date.isoformat()}.{row.id}"


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _fts_available(conn: Connection, ds: str) -> bool:
    if conn.dialect.name != "sqlite":
        return False
    cache = conn.info.setdefault("sgs_fts", {})
    if ds not in cache:
        name = PUBLISHED_FTS[ds]
        cache[ds] = conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = :n"), {"n": name}).first() is not None
    return bool(cache[ds])


def _name_condition(conn: Connection, ds: str, term: str) -> sa.ColumnElement[bool]:
    t = published_tables[ds]
    if conn.dialect.name == "postgresql":
        return t.c.party_name.ilike(_like(term), escape="\\")
    if len(term) >= 3 and _fts_available(conn, ds):
        phrase = '"' + term.replace('"', '""') + '"'
        fts = sa.table(PUBLISHED_FTS[ds], sa.column("rowid"))
        match = sa.text(f"{PUBLISHED_FTS[ds]} MATCH :phrase").bindparams(phrase=phrase)
        return t.c.id.in_(sa.select(fts.c.rowid).where(match))
    return t.c.party_name.like(_like(term), escape="\\")


def _conditions(conn: Connection, ds: str, f: Filters, today: dt.date) -> list[sa.ColumnElement[bool]]:
    t = published_tables[ds]
    cond: list[sa.ColumnElement[bool]] = []
    if ds == "cf":
        cond.append(sa.or_(t.c.publicity_end.is_(None), t.c.publicity_end >= today))
    if f.q:
        cond.append(sa.or_(_name_condition(conn, ds, f.q), t.c.credit_code == f.q.upper(), t.c.doc_no == f.q))
    if f.name:
        cond.append(_name_condition(conn, ds, f.name))
    if f.credit_code:
        cond.append(t.c.credit_code == f.credit_code.upper())
    if f.doc_no:
        cond.append(t.c.doc_no == f.doc_no)
    if f.authority:
        like = t.c.authority.ilike if conn.dialect.name == "postgresql" else t.c.authority.like
        cond.append(like(_like(f.authority), escape="\\"))
    if f.department:
        cond.append(t.c.department == f.department)
    if f.date_from:
        cond.append(t.c.decision_date >= f.date_from)
    if f.date_to:
        cond.append(t.c.decision_date <= f.date_to)
    return cond


#: What a list row shows (web.public.app.SUMMARY): a list reads these, not the whole row (forty-odd columns).
LIST_COLUMNS = ("id", "department", "party_name", "credit_code", "doc_no", "authority", "decision_date", "publicity_end")
DATE_COLUMN = {"cf": "cf_jdrq", "xk": "xk_jdrq"}


#: Up to this many matches a name search sorts its matches itself (see search); more: the list-order index.
FEW_MATCHES = 5_000


def search(conn: Connection, ds: str, filters: Filters, *, after: str | None = None, limit: int = 20,
           today: dt.date) -> tuple[list[Any], str | None]:
    """One page of the list: rows (newest decision first; the list columns only) and the cursor of the next page
    (None: last page)."""
    t = published_tables[ds]
    limit = max(1, min(int(limit), MAX_LIMIT))
    cond = _conditions(conn, ds, filters.cleaned(), today)
    position = parse_cursor(after)
    if position is not None:
        cond.append(sa.tuple_(t.c.decision_date, t.c.id) < sa.tuple_(sa.literal(position[0], sa.Date), sa.literal(position[1])))
    columns = [t.c[c] for c in (*LIST_COLUMNS, DATE_COLUMN[ds])]
    f = filters.cleaned()
    rows: list[Any] | None = None
    if conn.dialect.name == "postgresql" and (f.q or f.name):
        # A name search first takes up to FEW_MATCHES + 1 matches through the trigram index and sorts them itself
        # (MATERIALIZED keeps the planner from walking the list-order index instead, which it prefers whenever it
        # over-estimates a term's matches — and then reads millions of rows for a term whose ~100 matches are
        # old). Only a common term (more matches than that) goes on to the list-order index below.
        found = sa.select(*columns).where(*cond).limit(FEW_MATCHES + 1).cte("found").prefix_with("MATERIALIZED")
        matches = sa.select(sa.func.count()).select_from(found).scalar_subquery()
        stmt = (sa.select(found, matches.label("matches")).order_by(found.c.decision_date.desc(), found.c.id.desc())
                .limit(limit + 1))
        rows = list(conn.execute(stmt))
        if rows and rows[0].matches > FEW_MATCHES:
            rows = None
    if rows is None:
        stmt = sa.select(*columns).where(*cond).order_by(t.c.decision_date.desc(), t.c.id.desc()).limit(limit + 1)
        rows = list(conn.execute(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (cursor_of(rows[-1]) if more and rows else None)


def detail(conn: Connection, ds: str, ident: int, *, today: dt.date) -> Any | None:
    t = published_tables[ds]
    cond = [t.c.id == ident]
    if ds == "cf":
        cond.append(sa.or_(t.c.publicity_end.is_(None), t.c.publicity_end >= today))
    return conn.execute(sa.select(t).where(*cond)).first()


def departments(conn: Connection) -> list[str]:
    """Departments with at least one decision shown (the list pages' department filter). A loose index scan
    (one index probe per department: recursive ``min(department) > previous``), not ``DISTINCT`` over every row."""
    out: set[str] = set()
    for t in published_tables.values():
        name = conn.dialect.identifier_preparer.format_table(t)
        out.update(conn.execute(sa.text(
            f"WITH RECURSIVE d(v) AS (SELECT min(department) FROM {name}"
            f" UNION ALL SELECT (SELECT min(department) FROM {name} WHERE department > d.v) FROM d WHERE d.v IS NOT NULL)"
            " SELECT v FROM d WHERE v IS NOT NULL"
        )).scalars())
    return sorted(out)
