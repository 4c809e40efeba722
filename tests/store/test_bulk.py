"""store.bulk: columns rendered as COPY text ahead of the load (in the prepare worker) store exactly what the
same values written as plain columns store; they are refused where the store is not written with COPY."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store import bulk

TRICKY = ["plain", "反斜杠\\在中间", "tab\there", "line\nbreak", "cr\rhere", "\\N", "", None, "杭市监罚决〔2025〕1号 😀"]


def _table(name: str) -> sa.Table:
    return sa.Table(
        name, sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("txt", sa.Text),
        sa.Column("d", sa.Date),
        sa.Column("m", sa.Numeric(18, 6)),
        sa.Column("ts", sa.DateTime(timezone=True)),
    )


def test_copy_text_columns_store_what_plain_columns_store(pg_store: Engine) -> None:
    n = len(TRICKY)
    now = dt.datetime(2026, 11, 29, 5, 0, tzinfo=dt.UTC)
    columns = {
        "txt": TRICKY,
        "d": [dt.date(2025, 1, k + 1) if k % 3 else None for k in range(n)],
        "m": [Decimal("12345.67"), Decimal("0.000001"), None, *[Decimal(k) for k in range(n - 3)]],
    }
    plain, rendered = _table("bulk_plain"), _table("bulk_rendered")
    with pg_store.begin() as conn:
        for t in (plain, rendered):
            t.create(conn)
        assert bulk.uses_copy(conn)
        bulk.insert_columns(conn, plain, {"id": list(range(n)), **columns, "ts": now}, n)
        bulk.insert_columns(conn, rendered, {"id": list(range(n)), **{c: bulk.copy_text(v) for c, v in columns.items()}, "ts": now}, n)
        # Updates go through a temporary table and COPY too.
        bulk.update_columns(conn, plain, [1, 2], {"txt": ["更新\t一", None]})
        bulk.update_columns(conn, rendered, [1, 2], {"txt": bulk.copy_text(["更新\t一", None])})
    with pg_store.connect() as conn:
        a = conn.execute(sa.select(plain).order_by(plain.c.id)).all()
        b = conn.execute(sa.select(rendered).order_by(rendered.c.id)).all()
    assert a == b
    assert [r.txt for r in a][:3] == ["plain", "更新\t一", None]
    assert [r.txt for r in a][5:8] == ["\\N", "", None]  # the text \N is not NULL; the empty text is not NULL


def test_copy_text_is_refused_by_a_store_without_copy(sqlite_store: Engine) -> None:
    table = _table("bulk_sqlite")
    with sqlite_store.begin() as conn:
        table.create(conn)
        assert not bulk.uses_copy(conn)
        with pytest.raises(TypeError, match="COPY"):
            bulk.insert_columns(conn, table, {"id": [1], "txt": bulk.copy_text(["x"])}, 1)
