"""Migration 0008_lifecycle: down to 0007 and up again keeps the records, and fills first_published_at from the
read model for the records shown (both stores)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from store.db import make_store_engine, migrate
from store.lifecycle import withdraw_decision
from store.schema import published_tables, record_tables
from tests.store.test_migrations import _to
from tests.upstream.helpers import load, penalty


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    factory: Callable[[], str] = request.getfixturevalue("pg_schema_factory")
    return factory()


def test_0008_down_and_up_fills_first_published_at_from_the_read_model(store_url: str) -> None:
    engine = make_store_engine(store_url)
    try:
        migrate(engine)
        load(engine, [penalty(1), penalty(2)], publicity_end=["2028-03-01"] * 2)
        withdraw_decision(engine, "scjgj", "cf", "杭市监罚〔2025〕2号", reason="录入错误")
        t, pub = record_tables["cf"], published_tables["cf"]
        with engine.connect() as c:
            shown_at = dict(c.execute(sa.select(pub.c.doc_no, pub.c.first_published_at)).all())
        _to(engine, "0007", down=True)
        with engine.connect() as c:
            cols = {col["name"] for col in sa.inspect(c).get_columns("record_cf")}
            assert not {"hold", "not_public", "first_published_at"} & cols
            assert not sa.inspect(c).has_table("credit_repair")
            assert c.execute(sa.text("SELECT count(*) FROM record_cf")).scalar() == 2
        _to(engine, "head")
        with engine.connect() as c:
            after = dict(c.execute(sa.select(t.c.cf_wsh, t.c.first_published_at)).all())
        assert set(shown_at) == {"杭市监罚〔2025〕1号"}
        assert after["杭市监罚〔2025〕1号"] is not None
        assert after["杭市监罚〔2025〕1号"].replace(tzinfo=None) == shown_at["杭市监罚〔2025〕1号"].replace(tzinfo=None)
        assert after["杭市监罚〔2025〕2号"] is None  # withdrawn before: it left the read model
    finally:
        engine.dispose()
