"""What differs between the databases the central store runs on: SQLite (the embedded default) and PostgreSQL.

The department databases have their own registry (``connectors.adapters``); this one is the store's, and
the store never imports the connectors. Code of the store asks the dialect of its URL or connection
(:func:`for_url`, :func:`of`) for what it needs — how to open an engine, whether writes go through ``COPY``,
whether a server-side sequence numbers the changes, how to refresh planner statistics — instead of comparing
dialect names itself. Adding a store database = a subclass + one line in :data:`DIALECTS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from national.safety import private_file


class StoreDialect:
    """A store database SQLAlchemy reaches with its defaults (no tuning, no PostgreSQL-only statements)."""

    #: SQLAlchemy dialect names (``engine.dialect.name``) this class serves.
    names: ClassVar[tuple[str, ...]] = ()
    #: A server-side sequence (``change_seq``, migration 0006) numbers the changes, under an advisory lock.
    #: Without one the next value is the highest stored one + 1 (SQLite: one writer at a time).
    change_sequence: ClassVar[bool] = False
    #: Look-ups by many values as one ``= ANY(array literal)`` instead of ``IN`` lists of 500.
    array_any: ClassVar[bool] = False
    #: Database roles with table privileges (the public column's read-only role, ``sgs store grant-public``).
    roles: ClassVar[bool] = False

    def serves_url(self, url: str) -> bool:
        return False

    def engine_kwargs(self, url: str) -> dict[str, Any]:
        return {"pool_pre_ping": True}

    def create_engine(self, url: str) -> Engine:
        return sa.create_engine(url, hide_parameters=True, **self.engine_kwargs(url))

    def exists(self, url: str) -> bool:
        """Whether a store may be there to read (without creating it): a server database is asked, a SQLite
        file must exist."""
        return True

    def database_file(self, url: str) -> Path | None:
        """The file the store lives in (``None``: a server database, or SQLite in memory)."""
        return None

    def uses_copy(self, bind: Connection | Engine) -> bool:
        """Whether writes go through ``COPY … FROM STDIN`` (``store.bulk``)."""
        return False

    def refresh_statistics(self, engine: Engine, tables: Sequence[sa.Table]) -> bool:
        """Refresh the planner's statistics of ``tables``; False where the database plans without them."""
        return False

    def next_ids(self, conn: Connection, table: sa.Table, n: int) -> list[int]:
        """``n`` new values of ``table``'s integer primary key ``id``, ascending, for rows the caller inserts
        with them in its transaction (so that it knows the ids of rows it writes with ``COPY``). The generic
        form (SQLite) counts on from the highest stored id: right while one writer at a time holds the
        database (SQLite's write lock, taken by the loader's first statement, the watermark claim)."""
        if n <= 0:
            return []
        start = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()) + 1
        return list(range(start, start + n))

    def serialize(self, conn: Connection, key: int, table: sa.Table) -> None:
        """Wait until no other transaction holds the same ``key``, and hold it until this transaction ends:
        a read-then-write (the push lease) is then not raced by a second process. The generic form locks
        ``table`` for writing by updating no row of it (``SELECT … FOR UPDATE`` of nothing would lock nothing)."""
        conn.execute(table.update().where(sa.false()).values({table.primary_key.columns[0].name: table.primary_key.columns[0]}))


class SQLiteStore(StoreDialect):
    names = ("sqlite",)

    def serves_url(self, url: str) -> bool:
        return url.startswith("sqlite")

    def create_engine(self, url: str) -> Engine:
        """WAL and a busy timeout, so that the demo's Airflow tasks and a ``sgs status`` reading at the same
        time do not fail on a lock; a new database file is created owner-only."""
        _create_private_sqlite_file(url)
        engine = sa.create_engine(url, connect_args={"timeout": 60}, hide_parameters=True)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine

    def exists(self, url: str) -> bool:
        db = sa.engine.make_url(url).database
        return bool(db) and Path(db).exists()  # type: ignore[arg-type]

    def serialize(self, conn: Connection, key: int, table: sa.Table) -> None:
        """SQLite has one writer at a time: a write statement first (updating no row) takes the database's
        write lock for the rest of the transaction, so a second process waits at this point (busy timeout)
        instead of reading the same state and writing after the first. pysqlite starts the transaction
        only at the first write, so without this the lease's read would run outside any transaction."""
        super().serialize(conn, key, table)

    def database_file(self, url: str) -> Path | None:
        db = sa.engine.make_url(url).database
        if not db or db == ":memory:":
            return None
        return Path(db.removeprefix("file:").split("?", 1)[0])


class PostgreSQLStore(StoreDialect):
    names = ("postgresql",)
    change_sequence = True
    array_any = True
    roles = True

    def serves_url(self, url: str) -> bool:
        return url.startswith("postgresql+psycopg") or url.startswith("postgresql://")

    def engine_kwargs(self, url: str) -> dict[str, Any]:
        # psycopg 3 prepares a statement after 5 runs, and PostgreSQL may then switch to a generic plan:
        # for ``business_key IN ($1 … $500)`` that plan is a sequential scan, which made each chunk's
        # look-up scan every record (a 1M-row load slowed to a crawl). Plan every execution instead.
        args: dict[str, object] = {"prepare_threshold": None}
        # A store host that drops packets silently would otherwise hang a run until the kernel's TCP timeout
        # (minutes); 10 s is far above a healthy connect. A connect_timeout in the URL wins.
        if "connect_timeout" not in sa.engine.make_url(url).query:
            args["connect_timeout"] = 10
        return {"pool_pre_ping": True, "connect_args": args}

    def uses_copy(self, bind: Connection | Engine) -> bool:
        return bind.dialect.driver == "psycopg"

    def next_ids(self, conn: Connection, table: sa.Table, n: int) -> list[int]:
        """From the ``id`` column's own sequence (``SERIAL``), as an insert without an id would take them."""
        if n <= 0:
            return []
        name = conn.dialect.identifier_preparer.format_table(table)
        # The sequence's name as a sub-select: evaluated once, not once per value (that cost 3.7 ms per 1,000
        # ids: 4.3 of a 1,000,000-row load's 5.2 s of id allocation; docs/performance.md).
        return take_from_sequence(conn, "(SELECT pg_get_serial_sequence(:t, 'id'))", n, {"t": name})

    def serialize(self, conn: Connection, key: int, table: sa.Table) -> None:
        """A transaction-scoped advisory lock on ``key`` (released at COMMIT/ROLLBACK, also when the process dies)."""
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    def refresh_statistics(self, engine: Engine, tables: Sequence[sa.Table]) -> bool:
        """``ANALYZE`` the tables.

        A table that grew from nothing within one run has no planner statistics until autovacuum gets to it
        (never, where it is off): PostgreSQL then took every index as equally cheap and looked up open
        quarantine entries through ``(department, dataset, status)``, scanning all of a department's open
        entries once per chunk — a 5,000,000-row full load took 532.6 s instead of 395.4 s, and 1,000 changed
        rows cost 1.1 s in that store against 0.3 s (docs/performance.md)."""
        q = engine.dialect.identifier_preparer
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE " + ", ".join(q.format_table(t) for t in tables))
        return True


def take_from_sequence(conn: Connection, sequence: str, n: int, params: dict[str, Any] | None = None) -> list[int]:
    """PostgreSQL: ``n`` values of ``sequence`` (an SQL expression naming it), ascending; one row of text (rows of
    one value each cost SQLAlchemy a row object apiece: 0.04 s per 10,000)."""
    text = conn.execute(
        sa.text(f"SELECT string_agg(v::text, ',' ORDER BY v) FROM (SELECT nextval({sequence}) AS v FROM generate_series(1, :n)) s"),
        {**(params or {}), "n": n},
    ).scalar_one()
    return [int(v) for v in text.split(",")]


GENERIC = StoreDialect()
#: The store databases with their own behaviour, tried in order; anything else is :data:`GENERIC`.
DIALECTS: tuple[StoreDialect, ...] = (SQLiteStore(), PostgreSQLStore())


def for_url(url: str) -> StoreDialect:
    """The dialect of a store URL (text, as ``SGS_STORE_URL`` holds it)."""
    return next((d for d in DIALECTS if d.serves_url(url)), GENERIC)


def of(bind: Connection | Engine) -> StoreDialect:
    """The dialect of an open engine or connection."""
    name = bind.dialect.name
    return next((d for d in DIALECTS if name in d.names), GENERIC)


def _create_private_sqlite_file(url: str) -> None:
    """Create a new SQLite store file owner-only (``0600``) before SQLite does (it would use ``0644`` under the
    usual umask): the store holds ID numbers. SQLite gives the ``-wal``, ``-shm`` and ``-journal`` files the mode
    of the database file. An existing file keeps its mode; a missing folder is left to SQLite's own error."""
    try:
        database = sa.engine.make_url(url).database
    except Exception:  # noqa: BLE001 - a malformed URL gets SQLAlchemy's own error from create_engine
        return
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists() and path.parent.is_dir():
        private_file(path)
