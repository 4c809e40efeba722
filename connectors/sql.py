"""Incremental extraction from a department's SQL database (SQLAlchemy Core).

The incremental SELECT is built in exactly one function, :func:`incremental_select`: lower bound
``cursor >= watermark - lookback`` (inclusive: rows sharing the last cursor value, and rows that
committed late with an older cursor value, are read again and absorbed downstream by the business
key), ordered by cursor then primary key, read in keyset pages of ``chunk_rows`` (one query per page,
bounded by the last row of the previous page), so memory depends on the chunk size, not on the table.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url

from connectors.adapters import SourceAdapter, adapter_for
from connectors.errors import SourceConfigError, SourceUnavailable
from connectors.settings import ExtractSettings, SourcePolicy, SourceSettings, check_operator_url
from national.safety import redact_url

log = logging.getLogger("sgs.connectors")

#: Airflow connection types → SQLAlchemy driver names (the drivers this project pins).
AIRFLOW_SCHEMES = {
    "mysql": "mysql+mysqldb",
    "mariadb": "mysql+mysqldb",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "oracle": "oracle+oracledb",
    "mssql": "mssql+pyodbc",
    "odbc": "mssql+pyodbc",
    "sqlite": "sqlite",
}


def _airflow_uri_to_sqlalchemy(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    driver = AIRFLOW_SCHEMES.get(scheme.replace("-", "_").lower(), scheme)
    return f"{driver}://{rest}"


#: Keys of Airflow's JSON connection form (``Connection.from_json``).
_CONN_JSON_KEYS = frozenset({"conn_type", "description", "host", "login", "password", "schema", "port", "extra"})


def _url_from_conn_env(value: str, *, conn_id: str, var: str, department: str) -> str:
    """The SQLAlchemy URL of an ``AIRFLOW_CONN_*`` value: Airflow's JSON form or a URI.

    Every error becomes a :class:`SourceConfigError` naming the variable, never quoting its value (it holds
    the password), and without a chained exception (its text could quote the value too).
    """
    where = f"部门 {department}：环境变量 {var}"
    if value.lstrip().startswith("{"):
        try:
            data = json.loads(value)
        except ValueError as exc:
            line, col = getattr(exc, "lineno", "?"), getattr(exc, "colno", "?")
            raise SourceConfigError(
                f"{where} 不是合法的 JSON（第 {line} 行第 {col} 列）。请按 Airflow 的 JSON 格式填写，例如 "
                '{"conn_type": "mysql", "host": "主机", "login": "用户名", "password": "密码", "schema": "库名"}，'
                "或写成 URI：mysql://用户名:密码@主机:3306/库名"
            ) from None
        if not isinstance(data, dict):
            raise SourceConfigError(f"{where} 的 JSON 应是一个对象 {{…}}，不是 {type(data).__name__}")
        unknown = sorted(str(k)[:40] for k in data if k not in _CONN_JSON_KEYS)
        if unknown:
            raise SourceConfigError(
                f"{where} 的 JSON 含有未知的键 {'、'.join(unknown)}。可用的键：{'、'.join(sorted(_CONN_JSON_KEYS))}"
                "（驱动参数请放进 extra）"
            )
        if not isinstance(data.get("conn_type"), str) or not data["conn_type"].strip():
            raise SourceConfigError(f"{where} 的 JSON 缺少连接类型 conn_type，例如 \"mysql\"、\"postgres\"")
        extra = data.get("extra") or {}
        if isinstance(extra, str):  # Airflow also takes extra as a JSON string, and drops one it cannot read
            try:
                extra = json.loads(extra)
            except ValueError:
                extra = "not JSON"
        if not isinstance(extra, dict):
            raise SourceConfigError(f"{where} 的 JSON 中 extra 应是 JSON 对象，例如 {{\"charset\": \"utf8mb4\"}}")
        try:
            from airflow.sdk import Connection  # lazily: the CLI runs without Airflow loaded

            uri = Connection.from_json(value, conn_id=conn_id).get_uri()
        except Exception as exc:  # noqa: BLE001 - the value holds the password, and Airflow's parser raises
            # ValueError, TypeError or AttributeError on hostile input, with messages that may quote it: no
            # failure of it may escape with its own text
            raise SourceConfigError(
                f"{where} 的 JSON 无法读成 Airflow 连接（{type(exc).__name__}）。请检查 port 是否为整数、"
                "extra 是否为 JSON 对象"
            ) from None
    else:
        uri = value
    url = _airflow_uri_to_sqlalchemy(uri)
    try:
        make_url(url)
    except (sa_exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise SourceConfigError(
            f"{where} 不是可用的数据库 URI。请写成 mysql://用户名:密码@主机:3306/库名，或 Airflow 的 JSON 格式"
        ) from None
    return url


def resolve_url(source: SourceSettings, *, department: str) -> str:
    """The SQLAlchemy URL of a department source: ``url_env`` (when set), an Airflow connection, or ``url``."""
    if source.url_env and os.environ.get(source.url_env):
        return os.environ[source.url_env]
    if source.conn_id:
        var = f"AIRFLOW_CONN_{source.conn_id.upper()}"
        env = os.environ.get(var)
        if env:
            return _url_from_conn_env(env, conn_id=source.conn_id, var=var, department=department)
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowException, AirflowRuntimeError, AirflowSecretsBackendAccessDenied

        try:
            conn = Connection.get(source.conn_id)
        except (AirflowException, AirflowRuntimeError, AirflowSecretsBackendAccessDenied) as exc:
            # AirflowNotFoundException (an AirflowException) for a missing connection; the other two when the
            # API server or a secrets backend refuses
            raise SourceConfigError(
                f"部门 {department}：找不到 Airflow 连接 {source.conn_id!r}（{type(exc).__name__}）。"
                f"请在 Airflow 中创建该连接，或设置环境变量 AIRFLOW_CONN_{source.conn_id.upper()}"
            ) from None
        return _airflow_uri_to_sqlalchemy(conn.get_uri())
    if source.url:
        return source.url
    raise SourceConfigError(
        f"部门 {department}：环境变量 {source.url_env} 未设置。请把数据库的 SQLAlchemy URL 放进该变量，"
        "例如 mysql+pymysql://用户名:密码@主机:3306/库名?charset=utf8mb4"
    )


@dataclass
class Source:
    """An opened department database: its engine and the adapter for its kind."""

    engine: Engine
    adapter: SourceAdapter
    settings: SourceSettings
    department: str

    def dispose(self) -> None:
        self.engine.dispose()


def open_source(source: SourceSettings, *, department: str, policy: SourcePolicy | None = None) -> Source:
    """An engine on the department database with a short connect timeout, read-only (the adapter's session
    settings, design.md invariant 8).

    ``policy`` says where SQLite files may be (``pipeline.config.source_policy()``); without one a SQLite
    file is refused. The URL actually used (from ``url_env``, the Airflow connection or ``url``) is checked
    here too: only the file's own URL is checked when the file is read.
    """
    url = resolve_url(source, department=department)
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise SourceConfigError(f"部门 {department}：无法解析数据库 URL（{redact_url(url)}）") from None
    try:
        check_operator_url(parsed)
        adapter, parsed = adapter_for(parsed)
        parsed = adapter.locate(parsed, policy or SourcePolicy(data_dir=None))
    except ValueError as exc:
        raise SourceConfigError(f"部门 {department}：{exc}") from None
    parsed = adapter.read_only_url(parsed)
    args = adapter.session_connect_args(source.connect_timeout, parsed)
    try:
        engine = sa.create_engine(parsed, connect_args=args, pool_pre_ping=True, hide_parameters=True, **adapter.engine_kwargs(parsed))
    except (ImportError, ModuleNotFoundError) as exc:
        raise SourceConfigError(f"部门 {department}：缺少数据库驱动（{exc}）。请运行 make install") from None
    except sa_exc.NoSuchModuleError as exc:
        raise SourceConfigError(f"部门 {department}：不支持的数据库驱动（{exc}）") from None
    adapter.make_read_only(engine)
    return Source(engine=engine, adapter=adapter, settings=source, department=department)


def make_source_engine(source: SourceSettings, *, department: str, policy: SourcePolicy | None = None) -> Engine:
    """The engine alone (see :func:`open_source`)."""
    return open_source(source, department=department, policy=policy).engine


# --- cursor values -------------------------------------------------------------------------------


def encode_cursor(value: Any) -> str | None:
    """A cursor value → stable JSON text for the watermark table."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        kind, text = "datetime", value.isoformat()
    elif isinstance(value, dt.date):
        kind, text = "date", value.isoformat()
    elif isinstance(value, bool):
        raise SourceConfigError("游标列不能是布尔值")
    elif isinstance(value, int):
        kind, text = "int", str(value)
    elif isinstance(value, Decimal | float):
        kind, text = "decimal", str(value)
    else:
        kind, text = "str", str(value)
    return json.dumps({"type": kind, "value": text}, ensure_ascii=False, sort_keys=True)


def decode_cursor(text: str | None) -> Any:
    if text is None:
        return None
    d = json.loads(text)
    kind, v = d["type"], d["value"]
    if kind == "datetime":
        return dt.datetime.fromisoformat(v)
    if kind == "date":
        return dt.date.fromisoformat(v)
    if kind == "int":
        return int(v)
    if kind == "decimal":
        return Decimal(v)
    return v


def lower_bound(watermark: Any, ex: ExtractSettings, adapter: SourceAdapter | None = None) -> Any:
    """Where the next read starts: the watermark minus the look-back (and the server's time slack)."""
    slack = adapter.cursor_slack if adapter else dt.timedelta(0)
    if isinstance(watermark, dt.datetime):
        return watermark - dt.timedelta(seconds=ex.lookback) - slack
    if isinstance(watermark, dt.date):
        return watermark - dt.timedelta(days=-(-ex.lookback // 86400))
    if isinstance(watermark, int | Decimal) and ex.strategy == "id":
        return watermark - ex.lookback_ids
    return watermark  # text cursors: inclusive bound only


# --- the SELECT ----------------------------------------------------------------------------------


def source_selectable(src: Source, ex: ExtractSettings) -> sa.FromClause:
    """The table (reflected) or the custom query (as a subquery) a dataset is read from."""
    department = src.department
    if ex.query:
        return query_selectable(src, ex.query)
    assert ex.table is not None
    try:
        return sa.Table(ex.table, sa.MetaData(), schema=ex.db_schema, autoload_with=src.engine)
    except sa_exc.NoSuchTableError:
        raise SourceConfigError(
            f"部门 {department}：源数据库中没有表 {ex.db_schema + '.' if ex.db_schema else ''}{ex.table}，请检查配置文件中的 table"
        ) from None
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        raise _connection_error(department, exc) from None
    except sa_exc.ProgrammingError as exc:
        raise SourceConfigError(f"部门 {department}：无法读取表 {ex.table} 的结构（{_short(exc)}）。请检查账号权限") from None


def query_text(query: str) -> sa.TextClause:
    """A department's ``query`` as SQL text in which no colon is a bind parameter.

    ``sa.text`` reads ``:name`` as a parameter, also inside a string literal (``WHERE bz <> ':x'`` failed
    with "A value is required for bind parameter 'x'"); every colon is escaped, so the database receives the
    query exactly as written (PostgreSQL's ``::`` casts included). The newline ends a trailing ``--`` comment
    before the query is wrapped in a subquery for keyset paging.
    """
    return sa.text(query.replace(":", "\\:") + "\n")


def query_selectable(src: Source, query: str) -> sa.Subquery:
    """The query as a subquery whose columns are the query's own result columns (read with ``WHERE 1 = 0``,
    which returns no row), so that a missing mapped column is named like a missing table column."""
    probe = query_text(query).columns().subquery("src")
    department = src.department
    try:
        with src.engine.connect() as conn:
            result: sa.CursorResult[Any] = conn.execute(sa.select(sa.literal_column("*")).select_from(probe).where(sa.false()))
            keys = list(result.keys())
            result.close()
            conn.rollback()
    except sa_exc.DBAPIError as exc:
        raise _query_error(department, exc) from None
    return query_text(query).columns(*(sa.column(k) for k in keys)).subquery("src")


def resolve_column(source: sa.FromClause, name: str) -> sa.ColumnElement[Any] | None:
    """A configured column name → the source column: exact first, then case-insensitively (Oracle and
    Dameng fold unquoted names to upper case; SQLAlchemy reports them in lower case)."""
    if name in source.c:
        return source.c[name]
    matches = [c for c in source.c if c.name.lower() == name.lower()]
    return matches[0] if len(matches) == 1 else None


def incremental_select(
    source: sa.FromClause, ex: ExtractSettings, low: Any, *, department: str, after: tuple[Any, ...] | None = None, limit: int | None = None
) -> sa.Select[Any]:
    """The one place the incremental read is built.

    ``timestamp``/``id``: ``SELECT … WHERE cursor IS NOT NULL AND cursor >= :low ORDER BY cursor, pk``;
    ``snapshot``: ``SELECT … ORDER BY pk`` (the whole table, in key order). ``after`` (the order key of the
    last row read: cursor then primary key) and ``limit`` page through it by keyset, so that no query stays
    open while a chunk is processed (a long-held streaming cursor is killed by MySQL's net_write_timeout and
    cannot survive a dropped connection).
    """
    wanted = [*([ex.cursor] if ex.cursor and ex.strategy != "snapshot" else []), *ex.primary_key]
    resolved = {name: resolve_column(source, name) for name in wanted}
    missing = [n for n, c in resolved.items() if c is None]
    if missing:
        raise SourceConfigError(
            f"部门 {department}：源表中没有列 {', '.join(missing)}；现有列：{', '.join(source.c.keys())}"
        )
    stmt = sa.select(*source.c) if not isinstance(source, sa.Subquery) else sa.select(sa.literal_column("*")).select_from(source)
    order = [c for c in (resolved[n] for n in wanted) if c is not None]  # all of them (no column is missing)
    if ex.strategy != "snapshot" and ex.cursor:
        cursor = order[0]
        stmt = stmt.where(cursor.is_not(None))
        if low is not None:
            stmt = stmt.where(cursor >= low)
    if after is not None:
        # Lexicographic (c1, c2, …) > (v1, v2, …), spelled out: every dialect understands it, and the
        # leading ``c1 >= v1`` lets the database use the index on the cursor.
        stmt = stmt.where(order[0] >= after[0], _after(order, list(after)))
    stmt = stmt.order_by(*order)
    return stmt.limit(limit) if limit else stmt


def _after(cols: list[Any], values: list[Any]) -> sa.ColumnElement[bool]:
    if len(cols) == 1:
        return cols[0] > values[0]
    return sa.or_(cols[0] > values[0], sa.and_(cols[0] == values[0], _after(cols[1:], values[1:])))


@dataclass(frozen=True)
class RawChunk:
    """A page of source rows and where it leaves the run: the one thing a connector hands to the pipeline.

    ``cursor_from`` / ``cursor_to`` are watermark texts (:func:`encode_cursor`): the watermark this chunk was
    read after, and the one its load moves to (never below the run's starting watermark: the look-back re-reads
    rows below it). ``positions`` is each row's place in the keyset order (:func:`source_positions`; ``None``
    for snapshot reads). ``after`` is the order key of the page's last row as the driver gave it: a read
    continued from there (:func:`read_chunks` ``after=``) reads the next page.
    """

    frame: pd.DataFrame
    positions: list[str | None] | None = None
    cursor_from: str | None = None
    cursor_to: str | None = None
    last_cursor: Any = None  # the cursor value of the page's last row (None for snapshots)
    after: tuple[Any, ...] | None = None

    def __len__(self) -> int:
        return len(self.frame)


def read_chunks(
    src: Source, ex: ExtractSettings, watermark: str | None, *, after: tuple[Any, ...] | None = None, prefetch: bool = True,
) -> Iterator[RawChunk]:
    """The rows to read after the stored ``watermark`` text (see :func:`incremental_select`), one page of
    ``ex.chunk_rows`` at a time; ``after``: continue a read after the row with that order key (the
    ``after`` of the last chunk loaded, ``watermark`` its ``cursor_to``).

    Frames are renamed to the configured spelling of the cursor and key columns, and prepared by the
    source's adapter (naive Beijing time, legacy text decoded).

    With ``prefetch`` the next page is read by a background thread while the caller works on the current
    chunk, so the department database's time and the driver's network reads overlap with the transforms
    and the load. It reads at most one page ahead, on the same single connection and in the same order;
    an error of that read is raised when the caller asks for that page, after the pages before it.
    """
    pages = _read_pages(src, ex, watermark, after)
    if not prefetch:
        yield from pages
        return
    yield from _one_ahead(pages, thread_name=f"sgs-extract-{src.department}")


def later(a: Any, b: Any) -> Any:
    """The later of two cursor values; ``None`` counts as 'no position yet'."""
    if a is None:
        return b
    if b is None:
        return a
    try:
        return b if b > a else a
    except TypeError:  # naive vs aware datetimes from a driver change: the newer read wins
        return b


_DONE = object()


def _one_ahead(items: Generator[RawChunk, None, None], *, thread_name: str) -> Iterator[RawChunk]:
    """``items``, with the next one produced by a worker thread while the caller holds the current one.

    Only one thread advances ``items`` at a time (a single worker), so a generator holding a database
    connection is safe to use. When the caller stops early (an error in the load, a closed generator), the
    read in flight is waited for and ``items`` is closed, which returns its connection before this returns.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
    pending: Future[Any] = pool.submit(next, items, _DONE)
    try:
        while True:
            item = pending.result()  # re-raises the read's own exception (SourceUnavailable, …)
            if item is _DONE:
                return
            pending = pool.submit(next, items, _DONE)
            yield item
    finally:
        futures_wait([pending])
        closed = pool.submit(items.close)
        pool.shutdown(wait=True)
        if closed.exception() is not None:  # never hide the error that stopped the caller behind a cleanup error
            log.warning("closing the source read failed: %s", type(closed.exception()).__name__)


def _plain_rows(conn: sa.Connection, result: sa.CursorResult[Any]) -> list[tuple[Any, ...]]:
    """All rows of ``result`` as plain tuples: pandas builds a frame from them three times faster than from
    SQLAlchemy rows. When SQLAlchemy has no conversion to apply to any column (the usual case: the driver
    returns Python values), the driver's own rows are taken as they are, without building Row objects
    (2 s less per million rows through mysqlclient)."""
    # SQLAlchemy 2.0 internals, each checked: no value conversion, no column filter, and the plain fetch
    # strategy (a buffered or server-side cursor may already hold rows SQLAlchemy fetched ahead).
    from sqlalchemy.engine import cursor as sa_cursor

    metadata = getattr(result, "_metadata", None)
    processors = getattr(metadata, "_processors", None)
    cursor = getattr(result, "cursor", None)
    plain = (
        processors is not None and not any(processors) and getattr(metadata, "_tuplefilter", None) is None
        and cursor is not None and getattr(result, "cursor_strategy", None) is getattr(sa_cursor, "_DEFAULT_FETCH", object())
    )
    if not plain or cursor is None:
        return [tuple(r) for r in result.fetchall()]
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        rows = cursor.fetchall()
    except dbapi_error as exc:
        # Raised as SQLAlchemy raises any driver error (the callers sort by its classes), without values.
        invalidated = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
        if invalidated:
            conn.invalidate(exc)
        raise sa_exc.DBAPIError.instance(
            "fetch", None, exc, dbapi_error, hide_parameters=True, connection_invalidated=invalidated, dialect=conn.dialect,
        ) from exc
    finally:
        result.close()
    return [r if type(r) is tuple else tuple(r) for r in rows]


def _read_pages(src: Source, ex: ExtractSettings, watermark: str | None, after: tuple[Any, ...] | None) -> Generator[RawChunk, None, None]:
    department = src.department
    position = decode_cursor(watermark)
    low = lower_bound(position, ex, src.adapter) if position is not None else None
    cursor_from = watermark
    order_names = [*([ex.cursor] if ex.cursor and ex.strategy != "snapshot" else []), *ex.primary_key]
    try:
        table = source_selectable(src, ex)
        with src.engine.connect() as conn:
            while True:
                stmt = incremental_select(table, ex, low, department=department, after=after, limit=ex.chunk_rows)
                result = conn.execute(stmt)
                keys = list(result.keys())
                rows = _plain_rows(conn, result)
                conn.rollback()  # end the read transaction: no snapshot or lock is held while the chunk is processed
                if not rows:
                    return
                count = len(rows)
                rename = {}
                for name in order_names:
                    if name not in keys:
                        rename.update({k: name for k in keys if k.lower() == name.lower()})
                # Python-backed strings whether or not pyarrow is installed (pandas 3 picks pyarrow when it is):
                # the stages work on Python str objects, and with pyarrow strings the same 1,000,000-row run
                # took 42% more memory (765 MB against 534 MB, docs/performance.md).
                with pd.option_context("mode.string_storage", "python"):
                    frame = pd.DataFrame.from_records(rows, columns=keys, coerce_float=False).rename(columns=rename)
                # The driver's own values of the last row (not pandas' numpy types) bound the next page.
                positions = [keys.index(n) if n in keys else next(i for i, k in enumerate(keys) if k.lower() == n.lower()) for n in order_names]
                after = tuple(rows[-1][i] for i in positions)
                del rows  # the frame holds the chunk now: do not keep a second copy while it is processed
                frame = src.adapter.prepare(frame, timezone=src.settings.timezone, legacy_encoding=src.settings.legacy_encoding)
                top = frame[ex.cursor].iloc[-1] if ex.cursor and ex.strategy != "snapshot" else None
                position = later(position, top)
                cursor_to = encode_cursor(position)
                yield RawChunk(frame, source_positions(frame, ex), cursor_from, cursor_to, top, after)
                cursor_from = cursor_to
                if count < ex.chunk_rows:
                    return
    except (SourceConfigError, SourceUnavailable):
        raise
    except sa_exc.DBAPIError as exc:
        raise _query_error(department, exc) from None


def source_positions(frame: pd.DataFrame, ex: ExtractSettings) -> list[str | None] | None:
    """Per row, its (cursor, primary key) position as text that sorts like the keyset order: the store
    keeps it with a record's current version, so an older source row of the same decision read again
    by the look-back window never overwrites a newer one. ``None`` for snapshot reads (no order).

    Datetimes as ``YYYYmmddHHMMSSffffff``, non-negative integers zero-padded to 20 digits, decimals to a
    fixed width; other values as their text (which sorts like the source only for ASCII keys).
    """
    if ex.strategy == "snapshot" or not ex.cursor:
        return None
    parts = [_sortable_column(frame[c]) for c in (ex.cursor, *ex.primary_key)]
    out = parts[0]
    for p in parts[1:]:
        out = out + "|" + p
    return out.tolist()


def _sortable_column(col: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        return col.dt.strftime("%Y%m%d%H%M%S%f").fillna("")
    if pd.api.types.is_integer_dtype(col.dtype) and (len(col) == 0 or col.min() >= 0):
        return col.astype(str).str.zfill(20)
    return col.map(_sortable_value).astype(object)


def _sortable_value(v: Any) -> str:
    if v is None or v is pd.NaT or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%Y%m%d%H%M%S%f")
    if isinstance(v, dt.date):
        return v.strftime("%Y%m%d") + "000000000000"
    if isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 0:
        return str(int(v)).zfill(20)
    if isinstance(v, Decimal | float | np.floating) and v >= 0:
        return f"{Decimal(str(v)):032.9f}"
    return str(v)


#: Fragments of driver messages that mean the credentials are wrong: retrying will not help.
_AUTH_FAILURES = ("access denied", "password authentication failed", "authentication failed", "ora-01017", "login failed", "invalid username")


#: Fragments of driver messages that mean a statement tried to write through the read-only session.
_READ_ONLY_REFUSALS = ("read-only transaction", "read only transaction", "readonly database", "read-only mode", "query_only", "ora-01456")
#: … and that the statement itself is wrong (SQLite reports these as OperationalError).
_BAD_STATEMENT = ("no such table", "no such column", "syntax error")


def _query_error(department: str, exc: sa_exc.DBAPIError) -> SourceConfigError | SourceUnavailable:
    """A driver error of a read → a message for the department: a write refused by the read-only session, a
    wrong query or table, or a connection problem (retry)."""
    text = _short(exc)
    low = text.lower()
    if any(m in low for m in _READ_ONLY_REFUSALS):
        return SourceConfigError(
            f"部门 {department}：query 试图修改源数据库，已被只读会话拒绝（{text}）。对接只能读取数据：请删去 query 中写入数据的部分"
            "（如 nextval、会写表的函数）"
        )
    if exc.connection_invalidated:
        return _connection_error(department, exc)
    if isinstance(exc, sa_exc.ProgrammingError) or any(m in low for m in _BAD_STATEMENT) or not isinstance(
        exc, sa_exc.OperationalError | sa_exc.InterfaceError
    ):
        return SourceConfigError(f"部门 {department}：源数据库拒绝了查询（{text}）。请检查表名、列名或 query")
    return _connection_error(department, exc)


def _connection_error(department: str, exc: BaseException) -> SourceConfigError | SourceUnavailable:
    text = _short(exc)
    if any(m in text.lower() for m in _AUTH_FAILURES):
        return SourceConfigError(f"部门 {department}：数据库拒绝登录（用户名或密码错误）：{text}。请核对连接中的账号密码")
    return SourceUnavailable(f"部门 {department}：源数据库连接失败或中断（{text}），稍后重试")


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)).strip().splitlines()
    return unquote(text[0])[:300] if text else type(exc).__name__
