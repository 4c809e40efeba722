"""Bulk write and look-up primitives of the loader, inside the caller's transaction.

On PostgreSQL through psycopg 3: ``COPY … FROM STDIN`` for inserts (the text format built column by
column here: each column is converted and escaped as a whole, rows are joined by ``str.join``, which is
several times cheaper than psycopg's per-row ``write_row``), ``COPY`` into a temporary table
(dropped at commit) + one ``UPDATE … FROM`` for updates, and ``= ANY(array)`` for look-ups and updates
by id, so a chunk costs a handful of statements instead of one per row. Everywhere else (SQLite, the
embedded default, and any other store dialect): SQLAlchemy ``executemany`` and ``IN`` lists. Both run
on the SQLAlchemy connection's own transaction: a chunk is still committed or rolled back as a whole.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from store import dialect

_IN_CLAUSE = 500  # values per IN (...) on other dialects: well below every parameter limit
_temp_names = itertools.count(1)


def uses_copy(conn: Connection | sa.Engine) -> bool:
    """Whether writes to this store go through ``COPY`` (PostgreSQL through psycopg 3)."""
    return dialect.of(conn).uses_copy(conn)


class CopyText(list[str]):
    """A column whose values are already COPY text fields (escaped; ``\\N`` for NULL), written as they are.
    Built by :func:`copy_text` where the rows are prepared (possibly in another process), so that the
    loading thread only picks and joins. Only for stores that :func:`uses_copy`."""


def copy_text(values: Sequence[Any]) -> CopyText:
    """``values`` (str, int, date, Decimal, None) as COPY text fields, the way :func:`insert_columns` writes them."""
    return CopyText(_copy_column(list(values), len(values)))


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


#: A column of :func:`insert_columns`: one value per row (list / tuple / array), or one value for every row.
Column = Any
_NULL = "\\N"
_NONE = type(None)
_BLOCK = 5000  # rows per COPY data block: bounds the size of the text built at once


def _copy(conn: Connection, target: str, columns: Sequence[str], blocks: Iterable[bytes]) -> None:
    """``COPY target (columns) FROM STDIN`` of data blocks in PostgreSQL's text format."""
    from psycopg.copy import QueuedLibpqWriter  # only stores reached through psycopg get here

    raw = conn.connection.driver_connection
    assert raw is not None
    cols = ", ".join(_quote(conn, c) for c in columns)
    statement = f"COPY {target} ({cols}) FROM STDIN"
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with raw.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
            # The queued writer sends from its own thread: the next block is built while the server
            # stores the previous one (a plain writer waits for the socket after every block).
            for block in blocks:
                copy.write(block)
    except dbapi_error as exc:
        # The same exception classes as any other statement (OperationalError when the server went away,
        # DataError, …), without the rows: callers sort errors by these classes, and values never leak.
        invalidated = conn.dialect.is_disconnect(exc, raw, None)
        if invalidated:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            statement, None, exc, dbapi_error, hide_parameters=True, connection_invalidated=invalidated, dialect=conn.dialect,
        ) from exc


def _is_column(value: Any) -> bool:
    return isinstance(value, list | tuple | np.ndarray)


def _text_value(v: Any) -> str:
    """One value in COPY text format (before escaping): what PostgreSQL parses back to the same value."""
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, bytes):
        return "\\x" + v.hex()
    if isinstance(v, dt.date):  # date and datetime (aware datetimes keep their offset)
        return v.isoformat()
    return str(v)  # str, int, Decimal


def _escape(values: list[str]) -> list[str]:
    """Backslash, tab, newline and carriage return escaped for COPY text format. The whole column is
    searched once; only the characters that occur are replaced, each in one pass."""
    joined = "".join(values)
    for char, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        if char in joined:
            values = [v.replace(char, escaped) for v in values]
    return values


def _copy_column(value: Column, n: int) -> list[str]:
    """A column (or a constant) as ``n`` COPY text fields."""
    if isinstance(value, CopyText):
        return value
    if not _is_column(value):
        text = _NULL if value is None else _escape([_text_value(value)])[0]
        return [text] * n
    values = value.tolist() if isinstance(value, np.ndarray) else list(value)
    kinds = set(map(type, values))
    has_null = _NONE in kinds
    kinds.discard(_NONE)
    if kinds <= {str}:  # the common case: canonical text, payloads
        if not has_null:
            return _escape(values)
        texts = _escape([v if v is not None else "" for v in values])
        return [_NULL if v is None else t for v, t in zip(values, texts, strict=True)]
    if kinds <= {bytes}:  # bytea in COPY text format: \x and hex digits, the backslash escaped for COPY
        return [_NULL if v is None else "\\\\x" + v.hex() for v in values]
    if kinds <= {dt.date} or kinds <= {int}:
        fmt = dt.date.isoformat if dt.date in kinds else str
        return [_NULL if v is None else fmt(v) for v in values]
    if kinds <= {dt.datetime}:  # timestamps: mostly one object a chunk (its ``now``), each object converted once
        ids = list(map(id, values))
        by_id = {i: _NULL if v is None else v.isoformat() for i, v in dict(zip(ids, values, strict=True)).items()}
        return list(map(by_id.__getitem__, ids))
    texts = _escape([_text_value(v) if v is not None else "" for v in values])
    return [_NULL if v is None else t for v, t in zip(values, texts, strict=True)]


def _copy_blocks(columns: dict[str, Column], n: int) -> Iterator[bytes]:
    return _copy_rows(columns, n)[1]


def _copy_rows(columns: dict[str, Column], n: int) -> tuple[list[str], Iterator[bytes]]:
    """The COPY column list and the data blocks of ``columns``. Columns with one value for every row (a constant,
    or a column whose fields are all equal: a chunk's ``now``, a template column no row fills) go last, joined
    once into one field of every line: joining a row's fields is most of the loader's own work, and a record row
    has about 50 of them."""
    names: list[str] = []
    texts: list[list[str]] = []
    fixed_names: list[str] = []
    fixed: list[str] = []
    for name, value in columns.items():
        if not _is_column(value):
            fixed_names.append(name)
            fixed.append(_copy_column(value, 1)[0])
            continue
        text = _copy_column(value, n)
        if n > 1 and len(text) == n and text[0] == text[-1] and text.count(text[0]) == n:
            fixed_names.append(name)
            fixed.append(text[0])
            continue
        names.append(name)
        texts.append(text)
    if fixed:
        if not texts:
            line = "\t".join(fixed) + "\n"
            return fixed_names, ((line * min(_BLOCK, n - j)).encode("utf-8") for j in range(0, n, _BLOCK))
        texts.append(["\t".join(fixed)] * n)
    return names + fixed_names, _joined(texts, n)


def _joined(texts: list[list[str]], n: int) -> Iterator[bytes]:
    for j in range(0, n, _BLOCK):
        lines = map("\t".join, zip(*(t[j : j + _BLOCK] for t in texts), strict=True))
        yield ("\n".join(lines) + "\n").encode("utf-8")


def _rows_of(columns: dict[str, Column], n: int) -> list[dict[str, Any]]:
    if any(isinstance(v, CopyText) for v in columns.values()):
        raise TypeError("COPY text columns can only be written to a store that uses COPY")
    names = list(columns)
    cols = [(v.tolist() if isinstance(v, np.ndarray) else v) if _is_column(v) else itertools.repeat(v, n) for v in columns.values()]
    return [dict(zip(names, row, strict=False)) for row in zip(*cols, strict=False)]


def insert_columns(conn: Connection, table: sa.Table, columns: dict[str, Column], n: int) -> None:
    """Insert ``n`` rows given column by column (a value that is not a list/tuple/array is every row's)."""
    if not n:
        return
    if uses_copy(conn):
        _copy(conn, conn.dialect.identifier_preparer.format_table(table), *_copy_rows(columns, n))
    else:
        conn.execute(table.insert(), _rows_of(columns, n))


def insert_rows(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``)."""
    if not rows:
        return
    insert_columns(conn, table, {c: [r[k] for r in rows] for k, c in enumerate(columns)}, len(rows))


def update_columns(conn: Connection, table: sa.Table, ids: Sequence[int], columns: dict[str, Column]) -> None:
    """Update rows of ``table`` by primary key ``id``: ``ids[k]`` gets the k-th value of every column."""
    n = len(ids)
    if not n:
        return
    if uses_copy(conn):
        name = f"_sgs_upd_{next(_temp_names)}"
        q = conn.dialect.identifier_preparer
        select_cols = ", ".join(q.quote(c) for c in columns)
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS "
            f"SELECT id AS _b_id, {select_cols} FROM {q.format_table(table)} WITH NO DATA"
        )
        _copy(conn, name, *_copy_rows({"_b_id": list(ids), **columns}, n))
        sets = ", ".join(f"{q.quote(c)} = u.{q.quote(c)}" for c in columns)
        conn.exec_driver_sql(f"UPDATE {q.format_table(table)} AS t SET {sets} FROM {name} AS u WHERE t.id = u._b_id")
        conn.exec_driver_sql(f"DROP TABLE {name}")
        return
    stmt = table.update().where(table.c.id == sa.bindparam("_b_id")).values({c: sa.bindparam(f"_v_{c}") for c in columns})
    conn.execute(stmt, _rows_of({"_b_id": list(ids), **{f"_v_{c}": v for c, v in columns.items()}}, n))


def update_by_id(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Update rows of ``table`` by primary key ``id``: each row is ``(id, *values of columns)``."""
    if not rows:
        return
    update_columns(conn, table, [r[0] for r in rows], {c: [r[k + 1] for r in rows] for k, c in enumerate(columns)})


def any_of(conn: Connection, column: sa.ColumnElement[Any], values: Sequence[Any], item_type: Any) -> list[sa.ColumnElement[bool]]:
    """Conditions ``column IN values``: one ``= ANY(CAST(:array_literal AS type[]))`` on PostgreSQL (one text
    parameter the server parses: binding a 50,000-element list costs psycopg more than the look-up itself;
    and one scan with the array, never a join the planner could misjudge on a table without statistics);
    elsewhere ``IN`` lists of 500."""
    if dialect.of(conn).array_any:
        # The parameter has no type of its own (NullType: no ``::VARCHAR``), so the server takes it as the
        # array itself — a constant, for which ``= ANY`` uses a hash table; a text parameter cast to an array
        # is an expression instead, compared element by element for every row (quadratic on a chunk).
        literal = sa.bindparam(None, _array_literal(values), type_=sa.types.NullType())
        return [column == sa.any_(sa.cast(literal, postgresql.ARRAY(item_type)))]
    return [column.in_(values[i : i + _IN_CLAUSE]) for i in range(0, len(values), _IN_CLAUSE)]


def _array_literal(values: Sequence[Any]) -> str:
    """A PostgreSQL array literal: ``{"a","b\\"c"}`` (every element quoted, backslash and quote escaped)."""
    if not values:
        return "{}"
    try:
        items: Sequence[str] = values
        joined = '","'.join(values)  # texts (keys): no conversion
    except TypeError:  # ids, or anything else: as text
        items = [str(v) for v in values]
        joined = '","'.join(items)
    if "\\" not in joined and '"' not in joined:  # the common case: nothing to escape, one join
        return '{"' + joined + '"}'
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in items) + "}"


def select_where_in(conn: Connection, stmt: sa.Select[Any], column: sa.ColumnElement[Any], values: Sequence[Any],
                    item_type: Any = sa.Text) -> list[sa.Row[Any]]:
    """Rows of ``stmt`` whose ``column`` is one of ``values``."""
    if not values:
        return []
    out: list[sa.Row[Any]] = []
    for cond in any_of(conn, column, values, item_type):
        out.extend(conn.execute(stmt.where(cond)).all())
    return out


def update_where_in(conn: Connection, table: sa.Table, ids: Sequence[int], **values: Any) -> None:
    """``UPDATE table SET values WHERE id IN ids``."""
    if not ids:
        return
    for cond in any_of(conn, table.c.id, ids, sa.Integer):
        conn.execute(table.update().where(cond).values(**values))
