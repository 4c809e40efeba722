"""One small adapter per kind of department database: what differs between them, registered in one place.

An adapter knows its URL forms (Airflow connection types and legacy driver names become the drivers this
project pins), where a file database may be, the connect-time options (timeouts), how it makes a session
read-only (design.md invariant 8: nothing a department writes into its ``query`` can change its database), how
``sgs dept check`` pings it and asks whether the docking account can write, and how to bring the rows a driver
returns to what the transforms expect: naive Beijing-time datetimes, text decoded from legacy encodings, and
the bound a cursor comparison needs on servers whose time types are coarser than Python's. Code outside this
module asks the adapter and never compares dialect or backend names.

Adding a database = a subclass with the few things that differ + one line in :data:`ADAPTERS`.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine

from connectors.errors import SourceConfigError

if TYPE_CHECKING:
    from connectors.settings import SourcePolicy


class SourceAdapter:
    """Defaults for a SQL source reached through SQLAlchemy."""

    kind: ClassVar[str] = "generic"
    #: SQLAlchemy backend names (``URL.get_backend_name()``) this adapter serves.
    backends: ClassVar[tuple[str, ...]] = ()
    #: URL drivername → the drivername to use (legacy or Airflow-style schemes).
    drivernames: ClassVar[dict[str, str]] = {}
    #: Does the database fold unquoted names to upper case (Oracle, Dameng)? Then ``JDSWH`` and
    #: ``jdswh`` name the same column and the configuration may use either.
    folds_upper: ClassVar[bool] = False
    #: Python's datetime has microseconds; a server that stores less may round a cursor value so that the
    #: row no longer satisfies ``cursor >= :bound``. The bound is lowered by this much.
    cursor_slack: ClassVar[dt.timedelta] = dt.timedelta(0)
    #: The cheapest statement that proves the connection works (``sgs dept check``).
    ping_sql: ClassVar[str] = "SELECT 1"
    #: The source is a file opened read-only by the database library itself (``read_only_url``): an account
    #: that could write the file still changes nothing through this program.
    read_only_file: ClassVar[bool] = False

    def url(self, url: URL) -> URL:
        name = self.drivernames.get(url.drivername)
        return url.set(drivername=name) if name else url

    def locate(self, url: URL, policy: SourcePolicy) -> URL:
        """``url`` with a database file resolved where ``policy`` allows it (server databases: unchanged).
        Raises ``ValueError`` for a file outside the data folder or missing (the caller names the department)."""
        return url

    def connect_args(self, timeout: int, url: URL | None = None) -> dict[str, Any]:
        """Connect-time options of the driver ``url`` names (timeouts, value converters)."""
        return {}

    def session_connect_args(self, timeout: int, url: URL) -> dict[str, Any]:
        """Every connect option of a read-only session on ``url``: :meth:`connect_args` and
        :meth:`read_only_connect_args`. Through ODBC only ``timeout`` (pyodbc passes every other keyword
        into the connection string, where the ODBC driver does not know it)."""
        if url.drivername.endswith("+pyodbc"):
            return {"timeout": timeout}
        return {**self.connect_args(timeout, url), **self.read_only_connect_args(url)}

    def engine_kwargs(self, url: URL) -> dict[str, Any]:
        return {}

    def account_can_write(self, conn: Connection, table: str | None, schema: str | None) -> bool | None:
        """Can the docking account change ``table`` (``None``: a query, not a table)? ``None`` when the
        database gives no simple answer (``sgs dept check`` then asks the DBA to confirm)."""
        return None

    # --- read-only sessions ------------------------------------------------------------------------
    #: How far the database itself enforces read-only: ``session`` (every transaction of the session is
    #: read-only and a query cannot switch it back), ``transaction`` (each transaction is started read-only),
    #: or ``account`` (no server-side switch: only a SELECT-only account protects the data).
    read_only_level: ClassVar[str] = "account"

    def read_only_url(self, url: URL) -> URL:
        """The URL opened for reading (SQLite: the file opened with ``mode=ro``)."""
        return url

    def read_only_connect_args(self, url: URL) -> dict[str, Any]:
        """Driver connect options that make the session read-only from its first statement."""
        return {}

    def read_only_session_sql(self) -> tuple[str, ...]:
        """Statements run once on every new connection, before SQLAlchemy uses it."""
        return ()

    def read_only_transaction_sql(self) -> tuple[str, ...]:
        """Statements run first in every transaction (a query may change session defaults, never the
        transaction it runs in)."""
        return ()

    def make_read_only(self, engine: Engine) -> None:
        """Install this adapter's read-only statements on ``engine`` (connect and begin events)."""
        session, per_transaction = self.read_only_session_sql(), self.read_only_transaction_sql()
        if session:

            @event.listens_for(engine, "connect")
            def _session_read_only(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                try:
                    for statement in session:
                        cursor.execute(statement)
                finally:
                    cursor.close()
                dbapi_conn.commit()

        if per_transaction:

            @event.listens_for(engine, "begin")
            def _transaction_read_only(conn: Any) -> None:
                for statement in per_transaction:
                    conn.exec_driver_sql(statement)

    def prepare(self, frame: pd.DataFrame, *, timezone: str, legacy_encoding: str | None) -> pd.DataFrame:
        """Rows as the driver returned them → naive local datetimes and properly decoded text."""
        tz = ZoneInfo(timezone)
        for col in frame.columns:
            s = frame[col]
            if isinstance(s.dtype, pd.DatetimeTZDtype):
                frame[col] = s.dt.tz_convert(tz).dt.tz_localize(None)
            elif (s.dtype == object or isinstance(s.dtype, pd.StringDtype)) and len(s):
                sample = _first_values(s.tolist(), 50)
                if any(isinstance(v, dt.datetime) and v.tzinfo is not None for v in sample):
                    frame[col] = s.map(lambda v: _naive_local(v, tz))
                elif legacy_encoding and any(isinstance(v, str | bytes) for v in sample):
                    frame[col] = s.astype(object).map(lambda v: _redecode(v, legacy_encoding))
        return frame


def _first_values(values: list[Any], k: int) -> list[Any]:
    """The first ``k`` non-missing values (the same sample as ``dropna().head(k)``, which cost 2 s per
    million rows for building the whole mask; a sparse column is walked until its first values)."""
    out: list[Any] = []
    for v in values:
        if v is not None and v is not pd.NA and v is not pd.NaT and not (isinstance(v, float) and v != v):
            out.append(v)
            if len(out) == k:
                break
    return out


def _naive_local(v: Any, tz: ZoneInfo) -> Any:
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(tz).replace(tzinfo=None)
    return v


def _redecode(v: Any, encoding: str) -> Any:
    """Text stored in a legacy encoding behind a latin1 column (or as raw bytes) → proper text."""
    if isinstance(v, bytes | bytearray | memoryview):
        try:
            return bytes(v).decode(encoding)
        except UnicodeDecodeError:
            return bytes(v).decode(encoding, errors="replace")
    if isinstance(v, str) and v and not v.isascii():
        try:
            return v.encode("latin-1").decode(encoding)
        except (UnicodeEncodeError, UnicodeDecodeError):
            return v  # already real text
    return v


class MySQLAdapter(SourceAdapter):
    """MySQL and MariaDB. ``mysql://`` and ``mariadb://`` URLs (and Airflow ``mysql`` connections) are read with
    mysqlclient (``mysql+mysqldb``, the C client library: about twice as fast as PyMySQL at decoding rows,
    docs/connectors.md); ``mysql+pymysql://`` URLs keep PyMySQL (pure Python, nothing to compile)."""

    kind = "mysql"
    backends = ("mysql", "mariadb")
    drivernames = {
        "mysql": "mysql+mysqldb", "mariadb": "mysql+mysqldb", "mariadb+mysqldb": "mysql+mysqldb",
        "mysql+mysqlclient": "mysql+mysqldb", "mariadb+pymysql": "mysql+pymysql",
    }

    def url(self, url: URL) -> URL:
        url = super().url(url)
        # Chinese text needs utf8mb4 unless the DBA says otherwise (a GBK server: ?charset=gbk).
        if url.drivername in ("mysql+pymysql", "mysql+mysqldb") and "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        return url

    def connect_args(self, timeout: int, url: URL | None = None) -> dict[str, Any]:
        args: dict[str, Any] = {"connect_timeout": timeout}
        if url is not None and url.drivername == "mysql+mysqldb":
            args["conv"] = _mysqldb_conversions()
        return args

    # MySQL 5.6.5+ and MariaDB 10.0+: every later transaction of the session is read-only; a write, a sequence's
    # NEXTVAL or a stored function that writes fails with "Cannot execute statement in a READ ONLY transaction".
    # A SELECT cannot change the session's characteristics back.
    read_only_level = "session"

    def read_only_session_sql(self) -> tuple[str, ...]:
        return ("SET SESSION TRANSACTION READ ONLY",)

    def account_can_write(self, conn: Connection, table: str | None, schema: str | None) -> bool | None:
        grants = " ".join(r[0] for r in conn.execute(sa.text("SHOW GRANTS"))).upper()
        return any(p in grants for p in ("ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE"))


def _mysql_date(text: str) -> dt.date | str:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return text


class _DateCache(dict[str, Any]):
    """``_mysql_date`` of each text, remembered (at most 100,000 distinct texts per connection's converters)."""

    def __missing__(self, text: str) -> dt.date | str:
        value = _mysql_date(text)
        if len(self) < 100_000:
            self[text] = value
        return value


def _mysql_datetime(text: str) -> dt.datetime | dt.date | str:
    try:
        return dt.datetime.fromisoformat(text) if len(text) > 10 else dt.date.fromisoformat(text)
    except ValueError:
        return text


def _mysqldb_conversions() -> dict[Any, Any]:
    """mysqlclient's converters, except that a date it cannot represent (MariaDB's zero date ``0000-00-00``,
    ``2025-02-30`` under a lax ``sql_mode``) stays text, as PyMySQL returns it: the date rules then quarantine
    the row with a reason, where mysqlclient's own converters would silently turn the value into NULL."""
    from MySQLdb.constants import FIELD_TYPE
    from MySQLdb.converters import conversions

    conv = dict(conversions)
    # A page holds few distinct dates: each is parsed once, then looked up (dict.__getitem__ is called from
    # C; a Python converter per value cost 2.5 s per million rows of four DATE columns).
    conv[FIELD_TYPE.DATE] = _DateCache().__getitem__
    conv[FIELD_TYPE.DATETIME] = conv[FIELD_TYPE.TIMESTAMP] = _mysql_datetime
    return conv


class PostgreSQLAdapter(SourceAdapter):
    kind = "postgresql"
    backends: ClassVar[tuple[str, ...]] = ("postgresql",)
    drivernames = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg", "postgresql+psycopg2": "postgresql+psycopg"}

    def connect_args(self, timeout: int, url: URL | None = None) -> dict[str, Any]:
        return {"connect_timeout": timeout}

    # default_transaction_read_only from the connection's startup packet (before any statement), and
    # SET TRANSACTION READ ONLY first in every transaction: a query could call
    # set_config('default_transaction_read_only', 'off', false) for the transactions after it, but it cannot
    # make its own transaction, or the next one (which starts with this statement), read-write.
    read_only_level = "transaction"

    def read_only_connect_args(self, url: URL) -> dict[str, Any]:
        # libpq ``options`` from the URL (e.g. ``-csearch_path=…``) are kept: connect_args would replace them.
        options = str(url.query.get("options", "") or "")
        return {"options": (options + " " if options else "") + "-c default_transaction_read_only=on"}

    def read_only_transaction_sql(self) -> tuple[str, ...]:
        return ("SET TRANSACTION READ ONLY",)

    def account_can_write(self, conn: Connection, table: str | None, schema: str | None) -> bool | None:
        if not table:
            return None
        name = f"{schema}.{table}" if schema else table
        return bool(
            conn.execute(
                sa.text(
                    "SELECT has_table_privilege(current_user, :t, 'INSERT') OR has_table_privilege(current_user, :t, 'UPDATE')"
                    " OR has_table_privilege(current_user, :t, 'DELETE')"
                ),
                {"t": name},
            ).scalar()
        )


class KingbaseAdapter(PostgreSQLAdapter):
    """人大金仓 KingbaseES speaks the PostgreSQL protocol; psycopg works with its PostgreSQL-compatible mode.

    ``kingbase://`` URLs are served by psycopg 3 (the pinned driver); ksycopg2, Kingbase's own fork of
    psycopg2, is only needed for servers whose authentication psycopg cannot do (see docs/connectors.md).
    """

    kind = "kingbase"
    backends = ()
    drivernames = {"kingbase": "postgresql+psycopg", "kingbase+ksycopg2": "postgresql+psycopg2", "kingbasees": "postgresql+psycopg"}


class OracleAdapter(SourceAdapter):
    kind = "oracle"
    backends = ("oracle",)
    # cx_Oracle-style URLs keep working: python-oracledb is its successor with the same API.
    drivernames = {"oracle": "oracle+oracledb", "oracle+cx_oracle": "oracle+oracledb"}
    folds_upper = True
    ping_sql = "SELECT 1 FROM DUAL"

    def connect_args(self, timeout: int, url: URL | None = None) -> dict[str, Any]:
        return {"tcp_connect_timeout": timeout}

    def engine_kwargs(self, url: URL) -> dict[str, Any]:
        # Thin mode needs no Oracle client and serves 12c and later; older servers need thick mode
        # (Oracle Instant Client installed, ``?thick_mode=true`` on the URL or thick_mode in the source).
        thick = str(url.query.get("thick_mode", "")).lower() in ("1", "true", "yes")
        return {"thick_mode": True} if thick else {}

    def url(self, url: URL) -> URL:
        url = super().url(url)
        return url.difference_update_query(["thick_mode"]) if "thick_mode" in url.query else url

    # Oracle has no read-only session; SET TRANSACTION READ ONLY must be the first statement of each
    # transaction (SQLAlchemy's "begin" event runs it there). An autonomous-transaction function still
    # commits on its own: only a SELECT-only account stops that (docs/connectors.md).
    read_only_level = "transaction"

    def read_only_transaction_sql(self) -> tuple[str, ...]:
        return ("SET TRANSACTION READ ONLY",)


class SQLServerAdapter(SourceAdapter):
    kind = "mssql"
    backends = ("mssql",)
    drivernames = {"mssql": "mssql+pyodbc", "sqlserver": "mssql+pyodbc"}
    # DATETIME is stored in 1/300 s steps (…0, 3, 7 ms): 10:00:00.0035 becomes .003 or .007.
    cursor_slack = dt.timedelta(milliseconds=4)

    def connect_args(self, timeout: int, url: URL | None = None) -> dict[str, Any]:
        return {"timeout": timeout}

    # SQL Server has no read-only session or transaction. ApplicationIntent=ReadOnly (allowed on the URL) only
    # routes an Always On listener to a readable secondary; on a primary or a single server it changes
    # nothing. A SELECT-only login (db_datareader) is the protection; ``sgs dept check`` says so.
    read_only_level = "account"


class DamengAdapter(SourceAdapter):
    """达梦 DM8 through dmPython and its SQLAlchemy dialect (``dm+dmPython://``)."""

    kind = "dameng"
    backends = ("dm",)
    drivernames = {"dm": "dm+dmPython", "dameng": "dm+dmPython"}
    folds_upper = True

    def connect_args(self, timeout: int, url: URL | None = None) -> dict[str, Any]:
        return {"connection_timeout": timeout}

    # DM8 accepts Oracle's SET TRANSACTION READ ONLY as the first statement of a transaction.
    read_only_level = "transaction"

    def read_only_transaction_sql(self) -> tuple[str, ...]:
        return ("SET TRANSACTION READ ONLY",)


class SQLiteAdapter(SourceAdapter):
    kind = "sqlite"
    backends = ("sqlite",)
    read_only_file = True

    def locate(self, url: URL, policy: SourcePolicy) -> URL:
        """The file under the data folder (``SourcePolicy.sqlite_path``), which must exist: SQLite would
        otherwise create an empty database and the read would find no table."""
        path = policy.sqlite_path(url.database)
        if path is None:
            return url
        if not path.exists():
            raise ValueError(f"SQLite 数据库文件 {path} 不存在，请检查路径")
        return url.set(database=str(path))

    def connect_args(self, timeout: int, url: URL | None = None) -> dict[str, Any]:
        return {"timeout": timeout}

    # The file is opened read-only by SQLite itself (``mode=ro`` URI), and PRAGMA query_only refuses any
    # write on the connection as a second lock.
    read_only_level = "session"

    def read_only_url(self, url: URL) -> URL:
        db = url.database
        if not db or db == ":memory:" or db.startswith("file:"):
            return url
        from urllib.parse import quote

        return url.set(database="file:" + quote(db), query={**url.query, "mode": "ro", "uri": "true"})

    def read_only_session_sql(self) -> tuple[str, ...]:
        return ("PRAGMA query_only = ON",)

    def account_can_write(self, conn: Connection, table: str | None, schema: str | None) -> bool | None:
        # The source is opened as ``file:<quoted path>?mode=ro``: ask about the file itself.
        db = unquote((conn.engine.url.database or "").removeprefix("file:"))
        return bool(db) and db != ":memory:" and os.access(db, os.W_OK)


ADAPTERS: dict[str, SourceAdapter] = {
    a.kind: a
    for a in (MySQLAdapter(), PostgreSQLAdapter(), KingbaseAdapter(), OracleAdapter(), SQLServerAdapter(), DamengAdapter(), SQLiteAdapter())
}


def adapter_for(url: URL) -> tuple[SourceAdapter, URL]:
    """The adapter for a URL, and the URL rewritten to this project's drivers."""
    for a in ADAPTERS.values():
        if url.drivername in a.drivernames:
            return a, a.url(url)
    backend = url.drivername.split("+", 1)[0]
    for a in ADAPTERS.values():
        if backend in a.backends:
            return a, a.url(url)
    known = ", ".join(sorted({*ADAPTERS, *(n for a in ADAPTERS.values() for n in a.drivernames)}))
    raise SourceConfigError(f"不支持的数据库类型 {url.drivername!r}；支持：{known}")
