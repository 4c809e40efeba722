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
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

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
            # NUL: no stored value holds one (PostgreSQL cannot store it; the loader escapes it), and a driver
            # refuses it in a parameter — a term with one would be a 500, not an empty result.
            v = (v or "").replace("\x00", "").strip()[:MAX_TERM]
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


#: How a name is searched: PostgreSQL ILIKE (pg_trgm), SQLite FTS5 trigram (3 characters or more), SQLite LIKE.
NameMode = Literal["ilike", "fts", "like"]


def _name_mode(conn: Connection, ds: str, term: str) -> NameMode:
    if conn.dialect.name == "postgresql":
        return "ilike"
    return "fts" if len(term) >= 3 and _fts_available(conn, ds) else "like"


def _name_condition(ds: str, mode: NameMode, key: str) -> sa.ColumnElement[bool]:
    """The name condition over bind parameters ``<key>_like`` (ilike/like) or ``<key>_phrase`` (fts)."""
    t = published_tables[ds]
    if mode == "ilike":
        return t.c.party_name.ilike(sa.bindparam(f"{key}_like", type_=sa.Text), escape="\\")
    if mode == "fts":
        fts = sa.table(PUBLISHED_FTS[ds], sa.column("rowid"))
        match = sa.text(f"{PUBLISHED_FTS[ds]} MATCH :{key}_phrase")
        return t.c.id.in_(sa.select(fts.c.rowid).where(match))
    return t.c.party_name.like(sa.bindparam(f"{key}_like", type_=sa.Text), escape="\\")


class Shape(NamedTuple):
    """The shape of a search: which filters are set (and how names are searched), whether it continues a list.
    Statements are built once per shape and dataset, with bind parameters for the values (web requests reuse
    them: building and cache-keying a SELECT cost about as much Python time as the rows of a page)."""

    dialect: str
    q: NameMode | None
    name: NameMode | None
    credit_code: bool
    doc_no: bool
    authority: bool
    department: bool
    date_from: bool
    date_to: bool
    keyset: bool


def _shape_and_params(conn: Connection, ds: str, f: Filters, today: dt.date,
                      position: tuple[dt.date, int] | None) -> tuple[Shape, dict[str, Any]]:
    params: dict[str, Any] = {"today": today}
    q_mode: NameMode | None = None
    name_mode: NameMode | None = None
    if f.q:
        q_mode = _name_mode(conn, ds, f.q)
        params.update(q_like=_like(f.q), q_phrase=_phrase(f.q), q_upper=f.q.upper(), q=f.q)
    if f.name:
        name_mode = _name_mode(conn, ds, f.name)
        params.update(name_like=_like(f.name), name_phrase=_phrase(f.name))
    if f.credit_code:
        params["credit_code"] = f.credit_code.upper()
    if f.doc_no:
        params["doc_no"] = f.doc_no
    if f.authority:
        params["authority_like"] = _like(f.authority)
    if f.department:
        params["department"] = f.department
    if f.date_from:
        params["date_from"] = f.date_from
    if f.date_to:
        params["date_to"] = f.date_to
    if position is not None:
        params["after_date"], params["after_id"] = position
    shape = Shape(conn.dialect.name, q_mode, name_mode, bool(f.credit_code), bool(f.doc_no), bool(f.authority),
                  bool(f.department), bool(f.date_from), bool(f.date_to), position is not None)
    return shape, params


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _conditions(ds: str, shape: Shape) -> list[sa.ColumnElement[bool]]:
    t = published_tables[ds]
    cond: list[sa.ColumnElement[bool]] = []
    if ds == "cf":
        cond.append(sa.or_(t.c.publicity_end.is_(None), t.c.publicity_end >= sa.bindparam("today", type_=sa.Date)))
    if shape.q:
        cond.append(sa.or_(_name_condition(ds, shape.q, "q"), t.c.credit_code == sa.bindparam("q_upper", type_=sa.String),
                           t.c.doc_no == sa.bindparam("q", type_=sa.Text)))
    if shape.name:
        cond.append(_name_condition(ds, shape.name, "name"))
    if shape.credit_code:
        cond.append(t.c.credit_code == sa.bindparam("credit_code", type_=sa.String))
    if shape.doc_no:
        cond.append(t.c.doc_no == sa.bindparam("doc_no", type_=sa.Text))
    if shape.authority:
        like = t.c.authority.ilike if shape.dialect == "postgresql" else t.c.authority.like
        cond.append(like(sa.bindparam("authority_like", type_=sa.Text), escape="\\"))
    if shape.department:
        cond.append(t.c.department == sa.bindparam("department", type_=sa.String))
    if shape.date_from:
        cond.append(t.c.decision_date >= sa.bindparam("date_from", type_=sa.Date))
    if shape.date_to:
        cond.append(t.c.decision_date <= sa.bindparam("date_to", type_=sa.Date))
    if shape.keyset:
        cond.append(sa.tuple_(t.c.decision_date, t.c.id)
                    < sa.tuple_(sa.bindparam("after_date", type_=sa.Date), sa.bindparam("after_id", type_=sa.Integer)))
    return cond


#: What a list row shows (web.public.app.SUMMARY): a list reads these, not the whole row (forty-odd columns).
LIST_COLUMNS = ("id", "department", "party_name", "credit_code", "doc_no", "authority", "decision_date", "publicity_end")
DATE_COLUMN = {"cf": "cf_jdrq", "xk": "xk_jdrq"}

#: Up to this many matches a name search sorts its matches itself (see search); more: the list-order index.
FEW_MATCHES = 5_000


@functools.lru_cache(maxsize=512)
def _statements(ds: str, shape: Shape) -> tuple[sa.Select[Any] | None, sa.Select[Any]]:
    """(few-matches statement or None, list-order statement) of a shape; bind parameters ``lim`` (page size + 1)
    and ``few`` (FEW_MATCHES + 1) besides the filters'."""
    t = published_tables[ds]
    cond = _conditions(ds, shape)
    columns = [t.c[c] for c in (*LIST_COLUMNS, DATE_COLUMN[ds])]
    lim = sa.bindparam("lim", type_=sa.Integer)
    ordered = sa.select(*columns).where(*cond).order_by(t.c.decision_date.desc(), t.c.id.desc()).limit(lim)
    few = None
    if shape.dialect == "postgresql" and (shape.q or shape.name):
        # A name search first takes up to FEW_MATCHES + 1 matches through the trigram index and sorts them itself
        # (MATERIALIZED keeps the planner from walking the list-order index instead, which it prefers whenever it
        # over-estimates a term's matches — and then reads millions of rows for a term whose ~100 matches are
        # old). Only a common term (more matches than that) goes on to the list-order statement.
        found = (sa.select(*columns).where(*cond).limit(sa.bindparam("few", type_=sa.Integer))
                 .cte("found").prefix_with("MATERIALIZED"))
        matches = sa.select(sa.func.count()).select_from(found).scalar_subquery()
        few = sa.select(found, matches.label("matches")).order_by(found.c.decision_date.desc(), found.c.id.desc()).limit(lim)
    return few, ordered


def search(conn: Connection, ds: str, filters: Filters, *, after: str | None = None, limit: int = 20,
           today: dt.date) -> tuple[list[Any], str | None]:
    """One page of the list: rows (newest decision first; the list columns only) and the cursor of the next page
    (None: last page)."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    shape, params = _shape_and_params(conn, ds, filters.cleaned(), today, parse_cursor(after))
    few, ordered = _statements(ds, shape)
    params.update(lim=limit + 1, few=FEW_MATCHES + 1)
    found: Sequence[Any] | None = None
    if few is not None:
        found = conn.execute(few, params).all()  # fetchall: one driver call, not one per row
        if found and found[0].matches > FEW_MATCHES:
            found = None
    if found is None:
        found = conn.execute(ordered, params).all()
    more = len(found) > limit
    rows = list(found[:limit])
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
