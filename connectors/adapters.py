"""One small adapter per kind of department database: what differs between them, registered in one place.

An adapter knows its URL forms (Airflow connection types and legacy driver names become the drivers this
project pins), the connect-time options (timeouts), and how to bring the rows a driver returns to what the
transforms expect: naive Beijing-time datetimes, text decoded from legacy encodings, and the bound a cursor
comparison needs on servers whose time types are coarser than Python's.

Adding a database = a subclass with the few things that differ + one line in :data:`ADAPTERS`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.engine import URL

from connectors.errors import SourceConfigError


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

    def url(self, url: URL) -> URL:
        name = self.drivernames.get(url.drivername)
        return url.set(drivername=name) if name else url

    def connect_args(self, timeout: int, url: URL | None = None) -> dict[str, Any]:
        """Connect-time options of the driver ``url`` names (timeouts, value converters)."""
        return {}

    def engine_kwargs(self, url: URL) -> dict[str, Any]:
        return {}

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
    backends = ("postgresql",)
    drivernames = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg", "postgresql+psycopg2": "postgresql+psycopg"}

    def connect_args(self, timeout: int, url: URL | None = None) -> dict[str, Any]:
        return {"connect_timeout": timeout}


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


class SQLServerAdapter(SourceAdapter):
    kind = "mssql"
    backends = ("mssql",)
    drivernames = {"mssql": "mssql+pyodbc", "sqlserver": "mssql+pyodbc"}
    # DATETIME is stored in 1/300 s steps (…0, 3, 7 ms): 10:00:00.0035 becomes .003 or .007.
    cursor_slack = dt.timedelta(milliseconds=4)

    def connect_args(self, timeout: int, url: URL | None = None) -> dict[str, Any]:
        return {"timeout": timeout}


class DamengAdapter(SourceAdapter):
    """达梦 DM8 through dmPython and its SQLAlchemy dialect (``dm+dmPython://``)."""

    kind = "dameng"
    backends = ("dm",)
    drivernames = {"dm": "dm+dmPython", "dameng": "dm+dmPython"}
    folds_upper = True

    def connect_args(self, timeout: int, url: URL | None = None) -> dict[str, Any]:
        return {"connection_timeout": timeout}


class SQLiteAdapter(SourceAdapter):
    kind = "sqlite"
    backends = ("sqlite",)

    def connect_args(self, timeout: int, url: URL | None = None) -> dict[str, Any]:
        return {"timeout": timeout}


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
