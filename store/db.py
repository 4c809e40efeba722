"""Engines and migrations of the central store (what differs between SQLite and PostgreSQL: ``store.dialect``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import CursorResult, Engine

from store import dialect

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def make_store_engine(url: str) -> Engine:
    """An engine on the central store, opened as its dialect needs (SQLite: WAL, a busy timeout and a private
    file; PostgreSQL: no prepared statements, a connect timeout; ``store.dialect``)."""
    return dialect.for_url(url).create_engine(url)


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the one row an ``INSERT … VALUES`` just wrote (SQLite and PostgreSQL report it)."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:  # an executemany or INSERT … SELECT: not how the callers insert
        raise RuntimeError("the INSERT did not report the key of its row")
    return int(key[0])


def migrate(engine: Engine) -> None:
    """Bring the store's schema to the newest migration (idempotent)."""
    with engine.begin() as conn:
        cfg = alembic_config(engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def refresh_statistics(engine: Engine, tables: Sequence[sa.Table]) -> bool:
    """Refresh the planner statistics of ``tables`` (PostgreSQL: ``ANALYZE``; SQLite plans without
    statistics). True if it ran. See :meth:`store.dialect.PostgreSQLStore.refresh_statistics` for why."""
    return dialect.of(engine).refresh_statistics(engine, tables)
