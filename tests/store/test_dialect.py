"""store.dialect: what differs between the store's SQLite and PostgreSQL, asked of the URL or the connection."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store import dialect
from store.db import make_store_engine, refresh_statistics
from store.queries import peek_watermark
from store.schema import quarantine, watermark


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("sqlite:////var/sgs/store.db", dialect.SQLiteStore),
        ("sqlite://", dialect.SQLiteStore),
        ("postgresql+psycopg://sgs@db/sgs", dialect.PostgreSQLStore),
        ("postgresql://sgs@db/sgs", dialect.PostgreSQLStore),
        ("mysql+pymysql://sgs@db/sgs", dialect.StoreDialect),  # no tuning of its own: SQLAlchemy's defaults
    ],
)
def test_a_store_url_picks_its_dialect(url: str, kind: type[dialect.StoreDialect]) -> None:
    assert type(dialect.for_url(url)) is kind


def test_postgresql_engines_never_prepare_and_time_out_connecting() -> None:
    pg = dialect.for_url("postgresql+psycopg://sgs@db/sgs")
    assert pg.engine_kwargs("postgresql+psycopg://sgs@db/sgs") == {
        "pool_pre_ping": True, "connect_args": {"prepare_threshold": None, "connect_timeout": 10}}
    # a connect_timeout on the URL wins
    assert pg.engine_kwargs("postgresql+psycopg://sgs@db/sgs?connect_timeout=3")["connect_args"] == {"prepare_threshold": None}


def test_sqlite_store_capabilities_and_engine(sqlite_store: Engine, tmp_path: Path) -> None:
    d = dialect.of(sqlite_store)
    assert type(d) is dialect.SQLiteStore
    assert not d.change_sequence and not d.array_any and not d.uses_copy(sqlite_store)
    assert refresh_statistics(sqlite_store, [quarantine]) is False
    with sqlite_store.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    # a new store file is created owner-only (it holds ID numbers)
    path = tmp_path / "new.db"
    engine = make_store_engine(f"sqlite:///{path}")
    engine.dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_postgresql_store_capabilities(pg_store: Engine) -> None:
    d = dialect.of(pg_store)
    assert type(d) is dialect.PostgreSQLStore
    assert d.change_sequence and d.array_any and d.uses_copy(pg_store)
    assert refresh_statistics(pg_store, [quarantine]) is True


def test_peek_watermark_reads_without_creating_a_store(tmp_path: Path, store: Engine) -> None:
    missing = tmp_path / "absent" / "store.db"
    assert not dialect.for_url(f"sqlite:///{missing}").exists(f"sqlite:///{missing}")
    assert peek_watermark(f"sqlite:///{missing}", "wsjkw", "cf") is None
    assert not missing.exists() and not missing.parent.exists()
    url = store.url.render_as_string(hide_password=False)
    assert peek_watermark(url, "wsjkw", "cf") is None
    with store.begin() as c:
        c.execute(sa.insert(watermark).values(department="wsjkw", dataset="cf", cursor_value='{"type": "int", "value": "7"}',
                                              updated_at=dt.datetime.now(dt.UTC), run_id=1))
    assert peek_watermark(url, "wsjkw", "cf") == '{"type": "int", "value": "7"}'
    assert peek_watermark(url, "wsjkw", "xk") is None


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////var/sgs/store.db", Path("/var/sgs/store.db")),
        ("sqlite:///file:/var/sgs/store.db?mode=ro&uri=true", Path("/var/sgs/store.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("postgresql+psycopg://sgs@db/store.db", None),  # a server database's name is not a file
    ],
)
def test_the_file_a_store_lives_in(url: str, path: Path | None) -> None:
    """What ``pipeline.config.source_policy`` keeps department SQLite files away from."""
    assert dialect.for_url(url).database_file(url) == path
