"""Engines and migrations of the central store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import CursorResult, Engine

from national.safety import private_file

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def make_store_engine(url: str) -> Engine:
    """An engine on the central store. SQLite gets WAL and a busy timeout so that the demo's
    Airflow tasks and a ``sgs status`` reading at the same time do not fail on a lock."""
    if url.startswith("sqlite"):
        _create_private_sqlite_file(url)
        engine = sa.create_engine(url, connect_args={"timeout": 60}, hide_parameters=True)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql+psycopg") or url.startswith("postgresql://"):
        # psycopg 3 prepares a statement after 5 runs, and PostgreSQL may then switch to a generic plan:
        # for ``business_key IN ($1 … $500)`` that plan is a sequential scan, which made each chunk's
        # look-up scan every record (a 1M-row load slowed to a crawl). Plan every execution instead.
        args: dict[str, object] = {"prepare_threshold": None}
        # A store host that drops packets silently would otherwise hang a run until the kernel's TCP timeout
        # (minutes); 10 s is far above a healthy connect. A connect_timeout in the URL wins.
        if "connect_timeout" not in sa.engine.make_url(url).query:
            args["connect_timeout"] = 10
        return sa.create_engine(url, pool_pre_ping=True, connect_args=args, hide_parameters=True)
    return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the one row an ``INSERT … VALUES`` just wrote (SQLite and PostgreSQL report it)."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:  # an executemany or INSERT … SELECT: not how the callers insert
        raise RuntimeError("the INSERT did not report the key of its row")
    return int(key[0])


def _create_private_sqlite_file(url: str) -> None:
    """Create a new SQLite store file owner-only (``0600``) before SQLite does (it would use ``0644`` under the
    usual umask): the store holds ID numbers. SQLite gives the ``-wal``, ``-shm`` and ``-journal`` files the mode
    of the database file. An existing file keeps its mode; a missing folder is left to SQLite's own error."""
    try:
        database = sa.engine.make_url(url).database
    except (sa.exc.ArgumentError, ValueError):  # a malformed URL gets SQLAlchemy's own error from create_engine
        return
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists() and path.parent.is_dir():
        private_file(path)


def migrate(engine: Engine) -> None:
    """Bring the store's schema to the newest migration (idempotent)."""
    with engine.begin() as conn:
        cfg = alembic_config(engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def refresh_statistics(engine: Engine, tables: list[sa.Table]) -> bool:
    """``ANALYZE`` the tables (PostgreSQL only; SQLite plans without statistics). True if it ran.

    A table that grew from nothing within one run has no planner statistics until autovacuum gets to it
    (never, where it is off): PostgreSQL then took every index as equally cheap and looked up open
    quarantine entries through ``(department, dataset, status)``, scanning all of a department's open
    entries once per chunk — a 5,000,000-row full load took 532.6 s instead of 395.4 s, and 1,000 changed
    rows cost 1.1 s in that store against 0.3 s (docs/performance.md)."""
    if engine.dialect.name != "postgresql":
        return False
    q = engine.dialect.identifier_preparer
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE " + ", ".join(q.format_table(t) for t in tables))
    return True
