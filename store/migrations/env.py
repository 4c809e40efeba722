"""Alembic environment of the central store. Run through ``store.db.migrate()`` or ``alembic``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlalchemy.engine import Connection

from store.schema import metadata

config = context.config


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _sqlite_transaction(connection: Connection) -> None:
    """SQLite through pysqlite: open the transaction now. pysqlite starts one only before a DML statement, so the
    DDL of a first migration step (``ALTER TABLE … DROP COLUMN``) was committed at once, and a later step that
    failed (a refused downgrade) left the store half-migrated with ``alembic_version`` rolled back. SQLite's DDL
    is transactional once a transaction is open."""
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.driver_connection
    if raw is not None and not raw.in_transaction:
        connection.exec_driver_sql("BEGIN")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _sqlite_transaction(connection)
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn, conn.begin():  # one transaction, committed at the end (SQLite too)
        _sqlite_transaction(conn)
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
