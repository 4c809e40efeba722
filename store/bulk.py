"""Bulk write and look-up primitives of the loader, inside the caller's transaction.

On PostgreSQL through psycopg 3: ``COPY … FROM STDIN`` for inserts, ``COPY`` into a temporary table
(dropped at commit) + one ``UPDATE … FROM`` for updates, and ``= ANY(array)`` for look-ups and updates
by id, so a chunk costs a handful of statements instead of one per row. Everywhere else (SQLite, the
embedded default, and any other store dialect): SQLAlchemy ``executemany`` and ``IN`` lists. Both run
on the SQLAlchemy connection's own transaction: a chunk is still committed or rolled back as a whole.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

_IN_CLAUSE = 500  # values per IN (...) on other dialects: well below every parameter limit
_temp_names = itertools.count(1)


def uses_copy(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _copy(conn: Connection, target: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None
    cols = ", ".join(_quote(conn, c) for c in columns)
    statement = f"COPY {target} ({cols}) FROM STDIN"
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with raw.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi_error as exc:
        # The same exception classes as any other statement (OperationalError when the server went away,
        # DataError, …), without the rows: callers sort errors by these classes, and values never leak.
        invalidated = conn.dialect.is_disconnect(exc, raw, None)
        if invalidated:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            statement, None, exc, dbapi_error, hide_parameters=True, connection_invalidated=invalidated, dialect=conn.dialect,
        ) from exc


def insert_rows(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``)."""
    if not rows:
        return
    if uses_copy(conn):
        _copy(conn, conn.dialect.identifier_preparer.format_table(table), columns, rows)
    else:
        conn.execute(table.insert(), [dict(zip(columns, r, strict=True)) for r in rows])


def update_by_id(conn: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Update rows of ``table`` by primary key ``id``: each row is ``(id, *values of columns)``."""
    if not rows:
        return
    if uses_copy(conn):
        name = f"_sgs_upd_{next(_temp_names)}"
        q = conn.dialect.identifier_preparer
        select_cols = ", ".join(q.quote(c) for c in columns)
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS "
            f"SELECT id AS _b_id, {select_cols} FROM {q.format_table(table)} WITH NO DATA"
        )
        _copy(conn, name, ["_b_id", *columns], rows)
        sets = ", ".join(f"{q.quote(c)} = u.{q.quote(c)}" for c in columns)
        conn.exec_driver_sql(f"UPDATE {q.format_table(table)} AS t SET {sets} FROM {name} AS u WHERE t.id = u._b_id")
        conn.exec_driver_sql(f"DROP TABLE {name}")
        return
    stmt = table.update().where(table.c.id == sa.bindparam("_b_id")).values({c: sa.bindparam(f"_v_{c}") for c in columns})
    conn.execute(stmt, [{"_b_id": r[0], **{f"_v_{c}": v for c, v in zip(columns, r[1:], strict=True)}} for r in rows])


def any_of(conn: Connection, column: sa.ColumnElement[Any], values: Sequence[Any], item_type: Any) -> list[sa.ColumnElement[bool]]:
    """Conditions ``column IN values``: one ``= ANY(array)`` on PostgreSQL, else IN lists of 500."""
    if conn.dialect.name == "postgresql":
        return [column == sa.any_(sa.literal(list(values), postgresql.ARRAY(item_type)))]
    return [column.in_(values[i : i + _IN_CLAUSE]) for i in range(0, len(values), _IN_CLAUSE)]


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
