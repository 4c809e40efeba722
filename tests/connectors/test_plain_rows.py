"""connectors.sql._plain_rows: the driver's own rows when SQLAlchemy converts nothing, every row either way."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import cursor as sa_cursor

from connectors.sql import _plain_rows


@pytest.fixture
def table_url(mariadb_db: str) -> str:
    engine = sa.create_engine(mariadb_db)
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20), d DATE, m DECIMAL(10,2))"))
        c.execute(sa.text("INSERT INTO t VALUES (1, '甲', '2025-01-02', 1.50), (2, NULL, NULL, NULL), (3, 'c', '2025-03-04', 7)"))
    engine.dispose()
    return mariadb_db


@pytest.mark.parametrize("driver", ["mysql+mysqldb", "mysql+pymysql"])
def test_plain_rows_are_the_rows_sqlalchemy_gives(table_url: str, driver: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = sa.create_engine(sa.engine.make_url(table_url).set(drivername=driver))
    fast = []
    original = sa_cursor.CursorResult.fetchall
    monkeypatch.setattr(sa_cursor.CursorResult, "fetchall", lambda self: fast.append(False) or original(self))
    try:
        with engine.connect() as conn:
            rows = _plain_rows(conn, conn.execute(sa.text("SELECT id, s, d, m FROM t ORDER BY id")))
            expected = [tuple(r) for r in conn.execute(sa.text("SELECT id, s, d, m FROM t ORDER BY id")).fetchall()]
    finally:
        engine.dispose()
    assert rows == expected == [(1, "甲", dt.date(2025, 1, 2), Decimal("1.50")), (2, None, None, None), (3, "c", dt.date(2025, 3, 4), Decimal("7.00"))]
    assert all(type(r) is tuple for r in rows)
    assert fast == [False], "the first read should have taken the driver's rows without SQLAlchemy's fetchall"


def test_a_streamed_result_loses_no_row(table_url: str) -> None:
    """A server-side cursor fetches ahead into SQLAlchemy's buffer: those rows must not be skipped."""
    engine = sa.create_engine(table_url)
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, max_row_buffer=1).execute(sa.text("SELECT id FROM t ORDER BY id"))
            assert [r[0] for r in _plain_rows(conn, result)] == [1, 2, 3]
    finally:
        engine.dispose()
