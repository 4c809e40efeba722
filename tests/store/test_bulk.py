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


def test_columns_with_one_value_for_every_row_store_what_row_by_row_inserts_store(pg_store: Engine) -> None:
    """COPY puts constants and columns whose fields are all equal after the others (joined once): the rows stored
    are those of plain INSERTs, also for timestamps that are the same instant in two offsets, and for one row."""
    shanghai = dt.timezone(dt.timedelta(hours=8))
    now = dt.datetime(2026, 11, 29, 5, 0, tzinfo=dt.UTC)
    same_instant = now.astimezone(shanghai)  # equal to ``now``, written with its own offset
    for n in (1, 2, 7):
        rows = [
            {"id": k, "txt": "同一个\t值", "d": None, "m": Decimal("1.50") if k % 2 else None,
             "ts": same_instant if k % 3 == 1 else (None if k % 3 == 2 else now)}
            for k in range(n)
        ]
        copied, inserted = _table(f"bulk_fixed_{n}"), _table(f"bulk_rows_{n}")
        with pg_store.begin() as conn:
            for t in (copied, inserted):
                t.create(conn)
            bulk.insert_columns(conn, copied, {"id": [r["id"] for r in rows], "txt": "同一个\t值", "d": [None] * n,
                                               "m": [r["m"] for r in rows], "ts": [r["ts"] for r in rows]}, n)
            conn.execute(inserted.insert(), rows)
            bulk.update_columns(conn, copied, [0], {"txt": ["改\\了"], "d": [dt.date(2025, 1, 1)]})
            conn.execute(inserted.update().where(inserted.c.id == 0).values(txt="改\\了", d=dt.date(2025, 1, 1)))
        with pg_store.connect() as conn:
            a = conn.execute(sa.select(copied).order_by(copied.c.id)).all()
            b = conn.execute(sa.select(inserted).order_by(inserted.c.id)).all()
        assert a == b and len(a) == n


def test_array_look_ups_find_texts_that_need_escaping(pg_store: Engine) -> None:
    table = _table("bulk_lookup")
    texts = ['plain', 'quote"d', 'back\\slash', '{brace,comma}', '杭市监罚决〔2025〕1号']
    with pg_store.begin() as conn:
        table.create(conn)
        bulk.insert_columns(conn, table, {"id": list(range(len(texts))), "txt": texts}, len(texts))
        for wanted in (texts[:1], texts[::2], texts[1:], [texts[0], texts[4]]):
            found = bulk.select_where_in(conn, sa.select(table.c.txt), table.c.txt, wanted)
            assert sorted(r.txt for r in found) == sorted(wanted)
        assert {r.id for r in bulk.select_where_in(conn, sa.select(table.c.id), table.c.id, [1, 3], sa.Integer)} == {1, 3}
