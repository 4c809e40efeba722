"""Opening the central store, with a clear message when it cannot be used.

An unreachable store used to end every ``sgs`` command in a 481-line traceback. :func:`open_store` (called by
``pipeline.settings.store_engine``) connects once and migrates; any failure becomes :class:`StoreUnavailable`
with a one-line Chinese message that names the store (URL redacted) and what to do, and ``retry`` telling a
passing outage (server down, connection refused: try again later) from a configuration error (wrong host
name, unknown database or user, a SQLite file in a missing folder, a malformed URL or a bad URL parameter
such as ``?sslmode=bogus``: fix ``SGS_STORE_URL``). The CLI maps
``retry`` to its exit codes (1 retry later, 2 fix the configuration).
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from national.safety import redact_url
from store.db import make_store_engine, migrate


class StoreUnavailable(sa_exc.OperationalError):
    """The central store cannot be opened or used. The message is for the operator (Chinese, no secret).

    An ``OperationalError`` still, so that callers that handle a store outage (an Airflow task retries it,
    never ``AirflowFailException``) see what they saw before; ``orig`` is the driver's exception."""

    def __init__(self, message: str, *, retry: bool, orig: BaseException | None = None) -> None:
        super().__init__(None, None, orig if isinstance(orig, Exception) else Exception(message))
        self.message = message
        self.retry = retry

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (a task's exception may cross processes)
        return (_rebuild, (self.message, self.retry))


def _rebuild(message: str, retry: bool) -> StoreUnavailable:
    return StoreUnavailable(message, retry=retry)


# Driver texts (psycopg, pymysql, sqlite3) that mean "the configuration is wrong": retrying cannot help.
_CONFIG_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rx, re.IGNORECASE), what)
    for rx, what in (
        (r"name or service not known|nodename nor servname|failed to resolve host|could not translate host name"
         r"|Unknown (MySQL|MariaDB) server host", "主机名无法解析，请检查主机名"),
        (r"database \".*\" does not exist|Unknown database|\(1049,", "数据库不存在，请检查数据库名"),
        (r"role \".*\" does not exist|password authentication failed|Access denied|\(1045,|no password supplied"
         r"|authentication failed", "用户名或密码不正确，或该用户无权登录"),
        (r"permission denied", "没有权限，请检查账号权限"),
        # libpq/psycopg on a URL parameter it cannot use (?sslmode=bogus, ?connect_timeout=abc, ?foo=1).
        (r"invalid \w+ value|bad value for|invalid connection option|invalid dsn|invalid integer value"
         r"|invalid value for parameter", "URL 中的参数值无效，请按数据库文档改正 URL 参数"),
    )
)
_TEMPORARY = re.compile(r"temporary failure in name resolution", re.IGNORECASE)


def _driver_line(exc: BaseException) -> str:
    """The driver's own first line (no SQL, no parameters), shortened, secrets redacted."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    text = re.sub(r"^connection failed:\s*", "", text)
    return redact_url(text[:200])


def _sqlite_problem(url: sa.engine.URL, exc: BaseException) -> str | None:
    """What is wrong with a SQLite store file's location, or ``None`` when nothing obvious is."""
    if not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    folder = path.parent
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        # os.access() says yes to root even where the file system refuses (read-only mounts, sysfs).
        return f"不能在文件夹 {folder} 中建立或写入文件（{exc.strerror}）：请修改权限，或把 SGS_STORE_URL 指向可写的位置"
    if not folder.exists():
        return f"文件夹 {folder} 不存在：请先创建它，或把 SGS_STORE_URL 指向已存在的文件夹"
    if not folder.is_dir():
        return f"{folder} 不是文件夹：请把 SGS_STORE_URL 指向一个文件夹中的 .db 文件"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return f"没有读写文件 {path} 的权限：请修改文件权限，或把 SGS_STORE_URL 指向可写的位置"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"没有写文件夹 {folder} 的权限（SQLite 需要在旁边建日志文件）：请修改权限，或把 SGS_STORE_URL 指向可写的位置"
    return None


def describe_store_error(exc: BaseException, url: str) -> StoreUnavailable:
    """The operator's message for an error raised while connecting to or using the store at ``url``."""
    # Without a scheme redact_url cannot tell a password from a host name: show no part of such a value.
    shown = redact_url(url) if "://" in url else "（SGS_STORE_URL 的值不是 URL）"
    orig = getattr(exc, "orig", None) or exc
    where = "SGS_STORE_URL" if os.environ.get("SGS_STORE_URL") else "SGS_STORE_URL（未设置，默认使用 var/ 下的 SQLite 文件）"
    if isinstance(exc, (sa_exc.ArgumentError, sa_exc.NoSuchModuleError)):
        return StoreUnavailable(f"中心库地址 {shown} 无法使用（{_driver_line(exc)}）：请检查环境变量 {where}", retry=False, orig=orig)
    if isinstance(exc, ImportError):  # a driver that is not installed (postgresql+asyncpg, mysql+mysqlconnector)
        return StoreUnavailable(
            f"中心库地址 {shown} 使用的数据库驱动未安装（{_driver_line(exc)}）：中心库请用 postgresql+psycopg:// 或 sqlite:///，"
            f"请改正环境变量 {where}", retry=False, orig=orig
        )
    if isinstance(exc, sa_exc.InvalidRequestError):  # an asyncio driver (sqlite+aiosqlite): MissingGreenlet
        return StoreUnavailable(
            f"中心库地址 {shown} 使用了异步驱动，本平台不支持（{_driver_line(exc)}）：中心库请用 postgresql+psycopg:// 或 sqlite:///，"
            f"请改正环境变量 {where}", retry=False, orig=orig
        )
    if isinstance(exc, (ValueError, TypeError)):  # make_url / the dialect on a malformed part (port "abc")
        return StoreUnavailable(
            f"中心库地址 {shown} 无法使用（{_driver_line(exc)}）：URL 中有不合法的值（例如端口或 connect_timeout 不是数字），"
            f"请改正环境变量 {where}", retry=False, orig=orig
        )
    if isinstance(exc, sa_exc.ProgrammingError):  # psycopg: an unknown connection option or a bad parameter value
        return StoreUnavailable(
            f"中心库 {shown} 的连接设置有误（{_driver_line(exc)}）：请改正环境变量 {where} 中的参数", retry=False, orig=orig
        )
    try:
        parsed = sa.engine.make_url(url)
    except (sa_exc.ArgumentError, ValueError):  # only used to tell SQLite apart
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite":
        problem = _sqlite_problem(parsed, exc)
        if problem:
            return StoreUnavailable(f"无法打开中心库 {shown}：{problem}", retry=False, orig=orig)
        text = _driver_line(exc)
        if re.search(r"locked|busy", text, re.IGNORECASE):
            return StoreUnavailable(f"中心库 {shown} 正被其他进程锁定（{text}）：请稍后重试", retry=True, orig=orig)
        return StoreUnavailable(f"无法打开中心库 {shown}（{text}）：请检查该文件是否是 SQLite 数据库、是否可写，以及环境变量 {where}", retry=False, orig=orig)
    text = _driver_line(exc)
    if not _TEMPORARY.search(text):
        for rx, what in _CONFIG_PATTERNS:
            if rx.search(text):
                return StoreUnavailable(f"无法连接中心库 {shown}：{what}（{text}）。请修改环境变量 {where}", retry=False, orig=orig)
    return StoreUnavailable(
        f"中心库 {shown} 暂时无法连接（{text}）：请确认数据库服务已启动、主机和端口正确且网络可达，稍后重试", retry=True, orig=orig
    )


#: Errors that mean the store (not a department's source, whose errors connectors wrap in SourceError) failed.
STORE_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.ArgumentError, sa_exc.NoSuchModuleError,
)


def open_store(url: str) -> Engine:
    """An engine on the store at ``url``, connected once and migrated; :class:`StoreUnavailable` otherwise."""
    try:
        engine = make_store_engine(url)
        migrate(engine)
    # Any of them: the store is unusable. OSError: creating a new SQLite file owner-only (store.db) in a folder
    # that is read-only or not there. ValueError: make_url on a malformed URL (a port that is not a number).
    # ImportError: a driver that is not installed; InvalidRequestError: an asyncio driver (MissingGreenlet).
    except (
        sa_exc.DBAPIError, sa_exc.ArgumentError, sa_exc.NoSuchModuleError, sa_exc.InvalidRequestError, OSError,
        ValueError, ImportError,
    ) as exc:
        raise describe_store_error(exc, url) from exc
    return engine
