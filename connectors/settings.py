"""Settings of a department source database and of one dataset's extract."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from national.clock import SHANGHAI_NAME
from national.safety import SECRET_QUERY_KEYS

#: A column or table name as it appears in a department database. Chinese names occur in practice.
#: Anything else (spaces, quotes, semicolons) is refused so that a name can never carry SQL; names
#: are still always quoted by SQLAlchemy when the SELECT is built.
IDENTIFIER = re.compile(r"^[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_$#\u4e00-\u9fff]{0,127}$")

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def check_identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(
            f"{value!r} 不是合法的表名或列名（只允许字母、数字、下划线和汉字，且不能以数字开头）；"
            "复杂的取数逻辑请改用 query"
        )
    return value


Identifier = Annotated[str, Field(min_length=1, max_length=128)]


# --- what a URL may say -----------------------------------------------------------------------------
#
# A department file is written by the department's DBA, not by the platform operator. A database server
# is never named in it: a URL without a password still logs in wherever the server trusts the platform's
# host (PostgreSQL ``trust``, MariaDB's password-free ``root``, peer authentication over a socket) or with
# the platform's ambient credentials (libpq fills the password from ``~/.pgpass`` or ``PGPASSWORD``), so
# ``postgresql+psycopg://postgres@127.0.0.1/postgres`` in a department file was a superuser session. A
# server is reached only through the operator's URL: the variable ``SGS_SRC_<CODE>_URL`` or the Airflow
# connection ``sgs_src_<code>``. A file's ``url:`` may only be a SQLite file in the data folder
# (:class:`SourcePolicy`). Query keys are compared case-insensitively (ODBC keys are case-insensitive).

#: URL scheme (the part before ``+``) → dialect family.
_FAMILIES = {
    "mysql": "mysql", "mariadb": "mysql",
    "postgresql": "postgresql", "postgres": "postgresql", "kingbase": "postgresql", "kingbasees": "postgresql",
    "oracle": "oracle", "mssql": "mssql", "sqlserver": "mssql", "dm": "dm", "dameng": "dm", "sqlite": "sqlite",
}

#: Query keys a department file's ``url:`` (always a SQLite file) may carry (lower case).
FILE_QUERY_KEYS = frozenset({"timeout"})

#: Keys refused in every URL, the operator's too (environment variable, Airflow connection): each reads a
#: file on the platform's host as configuration or runs SQL when the session opens.
OPERATOR_DENIED_KEYS = frozenset({"read_default_file", "read_default_group", "init_command", "local_infile", "uri"})

#: An ODBC driver *name* as registered in odbcinst.ini (``ODBC Driver 18 for SQL Server``, ``{FreeTDS}``).
#: unixODBC loads a driver value that is not a registered name as a shared library path (``dlopen``), so a
#: path would run any library on the platform's host: no ``/`` or ``\``, no library suffix.
_DRIVER_NAME = re.compile(r"^[A-Za-z0-9 +\-_.{}]{1,128}$")
_LIBRARY_SUFFIX = re.compile(r"\.(so|dll|dylib)(\W|$)", re.IGNORECASE)
_ODBC_DRIVER_KEY = re.compile(r"(?:^|;)\s*driver\s*=\s*", re.IGNORECASE)


def _odbc_driver_values(connect_string: str) -> list[str]:
    """Every ``DRIVER=`` value of an ODBC connect string, read as the driver manager reads it: a braced value
    runs to the ``}`` that is not doubled (``{a}}b}`` is ``a}b``), so ``}}`` cannot end it early."""
    values = []
    for m in _ODBC_DRIVER_KEY.finditer(connect_string):
        rest = connect_string[m.end():]
        if rest.startswith("{"):
            i, out = 1, []
            while i < len(rest):
                if rest[i] == "}":
                    if rest[i + 1 : i + 2] == "}":
                        out.append("}")
                        i += 2
                        continue
                    break
                out.append(rest[i])
                i += 1
            values.append("{" + "".join(out) + "}")
        else:
            values.append(rest.split(";", 1)[0].strip())
    return values


def url_family(url: URL) -> str | None:
    """The dialect family of a parsed URL (``mysql``, ``postgresql``, …); None for an unknown scheme."""
    return _FAMILIES.get(url.drivername.split("+", 1)[0].lower())


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number. The text repeats the
        # whole URL, password included: never show it
        raise ValueError(
            "无法解析的数据库 URL：部门配置文件中只能写 SQLite 文件，例如 sqlite:///wsjkw.db"
        ) from None


def _query_values(parsed: URL, key: str) -> tuple[str, ...]:
    value = parsed.query[key]
    return value if isinstance(value, tuple) else (value,)


def check_driver_names(parsed: URL) -> None:
    """Every ``driver``-like query value (``driver``, ``Driver``, ``DRIVER=`` inside ``odbc_connect``) is a
    driver name, never a library path. Raises ValueError naming the key, not the value."""
    for key in parsed.query:
        low = key.strip().lower()
        if "driver" in low:
            values = _query_values(parsed, key)
        elif low == "odbc_connect":
            values = tuple(d for v in _query_values(parsed, key) for d in _odbc_driver_values(v))
            key = f"{key} 中的 DRIVER"
        else:
            continue
        for v in values:
            if not _DRIVER_NAME.match(v) or _LIBRARY_SUFFIX.search(v) or "}" in v.strip("{}"):
                raise ValueError(
                    f"数据库 URL 参数 {key} 只能是已登记的 ODBC 驱动名称（如 ODBC Driver 18 for SQL Server、FreeTDS："
                    "字母、数字、空格和 +-_.{}），不能是文件路径或动态库（/、\\、.so、.dll、.dylib）："
                    "请在 /etc/odbcinst.ini 中登记驱动后写它的名称"
                )


def _server_refused(code: str | None) -> ValueError:
    env = f"SGS_SRC_{code.upper()}_URL" if code else "SGS_SRC_<部门代码大写>_URL"
    conn = f"sgs_src_{code}" if code else "sgs_src_<部门代码>"
    return ValueError(
        f"只能是 SQLite 文件（如 sqlite:///{code or 'example'}.db）：数据库服务器的地址不能写在部门配置文件中"
        "（不带密码的 URL 会以免密认证或平台自身的凭据登录）。请删去 url，由平台运维人员把带只读账号的 URL "
        f"放进环境变量 {env}（配置中写 url_env: {env}）或 Airflow 连接 {conn}（配置中写 conn_id: {conn}）"
    )


def check_file_url(url: str, *, code: str | None = None) -> URL:
    """A URL written in a department file: a SQLite file only, no password, only allowed query keys.

    ``code`` (the department's, when known) makes the message name its own variable and connection.
    Raises ValueError with a Chinese message that names the offending key, never its value.
    """
    parsed = _parse(url)
    if parsed.password or ("@" in url.split("?", 1)[0] and ":" in url.split("://", 1)[-1].split("@", 1)[0]):
        raise ValueError("配置文件中不得写入密码：请把带密码的 URL 放进环境变量（url_env）或 Airflow 连接（conn_id）")
    # By name first: secrets (never echoed), and the keys refused in every URL (the operator's too).
    for key in parsed.query:
        low = key.strip().lower()
        if low in SECRET_QUERY_KEYS:
            raise ValueError(
                f"URL 参数 {key} 含密码或密钥，不得写入配置文件：请把完整 URL 放进环境变量（url_env）或 Airflow 连接（conn_id）"
            )
        if low in OPERATOR_DENIED_KEYS:
            raise ValueError(f"URL 参数 {key} 不允许使用（它会读取平台服务器上的文件作为配置或在登录时执行 SQL）：请从 URL 中删去")
    check_driver_names(parsed)
    if url_family(parsed) != "sqlite":
        raise _server_refused(code)
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite"):  # aiosqlite, pysqlcipher: not the platform's reader
        raise ValueError(f"SQLite 文件的 URL 只能以 sqlite:/// 开头（不支持驱动 {parsed.drivername}），例如 sqlite:///wsjkw.db")
    for key in parsed.query:
        if key.strip().lower() not in FILE_QUERY_KEYS:
            raise ValueError(f"URL 参数 {key} 不允许写在部门配置文件中；SQLite 文件的 URL 只允许：{', '.join(sorted(FILE_QUERY_KEYS))}")
    if parsed.database and parsed.database.startswith("file:"):
        raise ValueError("SQLite 的 URL 请直接写文件路径（不要用 file: URI），例如 sqlite:///wsjkw.db")
    return parsed


#: asyncio drivers (asyncpg, aiosqlite, aiomysql, asyncmy, psycopg_async, …): the readers are synchronous.
_ASYNC_DRIVER = re.compile(r"\+.*(async|aio)", re.IGNORECASE)


def check_operator_url(parsed: URL) -> None:
    """A URL from an environment variable or an Airflow connection: only the keys that read host files or run
    SQL at login, and driver values that are library paths, are refused (the operator may put the password or
    client certificates there)."""
    for key in parsed.query:
        if key.strip().lower() in OPERATOR_DENIED_KEYS:
            raise ValueError(f"数据库 URL 参数 {key} 不允许使用（它会读取本机文件作为配置或在登录时执行 SQL）：请从 URL 中删去")
    check_driver_names(parsed)
    if _ASYNC_DRIVER.search(parsed.drivername):
        raise ValueError(f"数据库驱动 {parsed.drivername} 是异步驱动，本平台不支持：请改用同步驱动（见 docs/connectors.md）")
    if url_family(parsed) == "sqlite" and parsed.database and parsed.database.startswith("file:"):
        raise ValueError("SQLite 的 URL 请直接写文件路径（不要用 file: URI）")


@dataclass(frozen=True)
class SourcePolicy:
    """Where SQLite source files may live: under ``data_dir`` only, never the central store.

    ``data_dir`` None refuses every SQLite file. A relative path in a URL is relative to ``data_dir`` (so a
    department file says ``sqlite:///wsjkw.db``); symlinks and ``..`` are resolved before the check.
    """

    data_dir: Path | None
    store_file: Path | None = None

    def sqlite_path(self, database: str | None) -> Path | None:
        """The resolved file of a SQLite source; None for an in-memory database. Raises ValueError."""
        if not database or database == ":memory:":
            return None
        if self.data_dir is None:
            raise ValueError("本程序没有配置 SQLite 数据目录（SGS_SOURCE_DATA_DIR），不能读取 SQLite 文件")
        root = self.data_dir.resolve()
        path = Path(database).expanduser()
        path = (path if path.is_absolute() else root / path).resolve()
        store = self.store_file.resolve() if self.store_file else None
        if store is not None and (store == root or root in store.parents):
            raise ValueError(
                f"SQLite 数据目录 {root} 包含中心库文件：请把 SGS_SOURCE_DATA_DIR 设为只放部门 SQLite 文件的单独目录"
            )
        if root != path and root not in path.parents:
            raise ValueError(
                f"SQLite 文件 {database} 不在数据目录 {root} 中：部门的 SQLite 文件只能放在该目录（SGS_SOURCE_DATA_DIR）下，"
                "配置中写相对于该目录的文件名，例如 sqlite:///wsjkw.db"
            )
        return path


class SourceSettings(BaseModel):
    """Where a department's business database is and how to reach it.

    Exactly one way to find the URL must be given: an Airflow connection id (``conn_id``), or an
    environment variable holding a SQLAlchemy URL (``url_env``), or a SQLite file in the data folder
    (``url``). ``url_env`` may be combined with ``url``: the variable wins when it is set. A database server
    is reached only through the operator's variable or connection (see ``check_file_url``); a password is
    never accepted in the file.
    """

    model_config = ConfigDict(extra="forbid")

    conn_id: str | None = Field(default=None, description="Airflow connection id")
    url_env: str | None = Field(default=None, description="environment variable holding a SQLAlchemy URL")
    url: str | None = Field(default=None, description="a SQLite file in the data folder (sqlite:///name.db)")
    timezone: str = Field(default=SHANGHAI_NAME, description="time zone of naive datetimes in the source")
    connect_timeout: int = Field(default=10, ge=1, le=600, description="seconds")
    pool_slots: int = Field(
        default=2, ge=1, le=64,
        description="Airflow pool slots of the source database server: at most this many concurrent ingest tasks (connections)",
    )
    legacy_encoding: str | None = Field(
        default=None, description="encoding of text a legacy system stored behind latin1 columns, e.g. gbk"
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} 不是时区名称，例如 Asia/Shanghai") from None
        return v

    @field_validator("legacy_encoding")
    @classmethod
    def _codec(cls, v: str | None) -> str | None:
        import codecs

        if v is None:
            return v
        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"{v!r} 不是已知的字符编码，例如 gbk、gb18030") from None
        return v

    @field_validator("url_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^[A-Z_][A-Z0-9_]*$", v):
            raise ValueError(f"{v!r} 不是合法的环境变量名（大写字母、数字、下划线）")
        return v

    @field_validator("url")
    @classmethod
    def _sqlite_file_only(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None:
            # The department's code (``pipeline.config.load_department`` passes it) names its own variable.
            code = (info.context or {}).get("code")
            check_file_url(v, code=code if isinstance(code, str) and re.match(r"^[a-z][a-z0-9_]{1,39}$", code) else None)
        return v

    @model_validator(mode="after")
    def _one_way(self) -> SourceSettings:
        if self.conn_id and (self.url_env or self.url):
            raise ValueError("conn_id 与 url_env/url 只能选一种：请删去其中之一")
        if not (self.conn_id or self.url_env or self.url):
            raise ValueError("缺少数据库连接：请填写 conn_id（Airflow 连接）或 url_env（保存 URL 的环境变量）")
        return self


#: Words that make a single SELECT/WITH statement write or lock rows: PostgreSQL's data-modifying WITH
#: (``WITH d AS (DELETE … RETURNING *) SELECT …``), ``SELECT … INTO`` a table or file, ``FOR UPDATE``.
#: Refused anywhere outside string literals, quoted names and comments. Other commands (DROP, CALL, …) cannot
#: occur inside one SELECT; a second statement is refused by the ``;`` check.
_WRITE_WORDS = frozenset({"insert", "update", "delete", "merge", "upsert", "into"})
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def _sql_code(text: str, *, backslash_escapes: bool) -> str:
    """``text`` with string literals, quoted names, dollar-quoted bodies and comments blanked out.

    Run twice by :func:`check_select`: the standard reading, and MySQL's (backslash escapes in literals;
    ``--`` starts a comment only before a space or control character, so ``1 --1 INTO OUTFILE …`` is code;
    ``#`` starts a comment). A query is accepted only when neither reading finds a write. MySQL/MariaDB
    *execute* the content of ``/*! … */`` and ``/*M! … */``: such a comment is refused (ValueError) rather than
    blanked.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`[":
            close = "]" if c == "[" else c
            j = i + 1
            while j < n:
                if backslash_escapes and text[j] == "\\" and c != "[":
                    j += 2
                    continue
                if text[j] == close:
                    if j + 1 < n and text[j + 1] == close and c != "[":
                        j += 2
                        continue
                    break
                j += 1
            out.append(" " if c == "'" else " _q_ ")
            i = j + 1
        elif text.startswith("--", i) and not (backslash_escapes and i + 2 < n and ord(text[i + 2]) > 32):
            j = text.find("\n", i)
            i = n if j < 0 else j
            out.append(" ")
        elif c == "#" and backslash_escapes:
            j = text.find("\n", i)
            i = n if j < 0 else j
            out.append(" ")
        elif text.startswith("/*!", i) or text.startswith("/*M!", i):
            raise ValueError(
                "query 中不能使用 /*! … */ 或 /*M! … */ 形式的注释：MySQL/MariaDB 会把其中的内容当作语句执行。"
                "请删去这类注释，需要的 SQL 直接写出"
            )
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif c == "$" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_$")) and (m := _DOLLAR_TAG.match(text, i)):
            j = text.find(m.group(0), m.end())
            i = n if j < 0 else j + len(m.group(0))
            out.append(" ")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def check_select(query: str) -> str:
    """A department ``query``: exactly one read-only SELECT (or WITH … SELECT). Returns it without a final ``;``.

    This is a clear early message, not the protection: every source session is read-only as well
    (``connectors.adapters``), so a write that slips past this check is refused by the database.
    """
    text = query.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not re.match(r"(?is)^\(*\s*(select|with)\b", text):
        raise ValueError("query 只能是一条 SELECT（或 WITH … SELECT）语句：请以 SELECT 或 WITH 开头")
    for escapes in (False, True):
        code = _sql_code(text, backslash_escapes=escapes)
        if ";" in code:
            raise ValueError("query 只能是一条 SELECT 语句，不能用分号连接多条语句")
        words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_$#]*", code)}
        bad = sorted(words & _WRITE_WORDS)
        if bad:
            raise ValueError(
                f"query 只能读取数据：其中的 {bad[0].upper()} 会写入或锁定数据库（WITH … DELETE/UPDATE/INSERT、SELECT … INTO、"
                "FOR UPDATE 都不允许）。请只写 SELECT；字段名与关键字相同时请加引号"
            )
    return text


def parse_duration(value: int | str) -> int:
    """``300``, ``"300"``, ``"5m"``, ``"2h"``, ``"1d"`` → seconds."""
    if isinstance(value, bool):
        raise ValueError("时长应写成秒数或 5m / 2h / 1d 的形式")
    if isinstance(value, int):
        seconds = value
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"{value!r} 不是时长：请写成秒数或 5m / 2h / 1d 的形式")
        seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if not 0 <= seconds <= 30 * 86400:
        raise ValueError("回看时长应在 0 到 30 天之间")
    return seconds


class ExtractSettings(BaseModel):
    """How one dataset is read incrementally from the source.

    ``strategy``:
    - ``timestamp`` (default): ``cursor`` is an update time; rows at or after ``watermark - lookback``.
    - ``id``: ``cursor`` is an increasing number; rows with ``id >= watermark - lookback_ids``.
    - ``snapshot``: no trustworthy cursor: the whole table is read, each row's content hash is compared
      with the last run's, and rows that disappeared are withdrawn (deletions are detected).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    table: Identifier | None = Field(default=None, description="source table or view")
    db_schema: Identifier | None = Field(default=None, alias="schema", description="schema of the table")
    query: str | None = Field(default=None, description="custom SELECT used as the source instead of a table")
    strategy: Literal["timestamp", "id", "snapshot"] = "timestamp"
    cursor: Identifier | None = Field(default=None, description="column that grows when a row is inserted or changed")
    primary_key: list[Identifier] = Field(min_length=1, description="columns identifying a source row")
    chunk_rows: int = Field(default=5000, ge=1, le=1_000_000)
    lookback: int = Field(default=300, description="seconds (or 5m, 2h, 1d) re-read below the watermark")
    lookback_ids: int = Field(default=0, ge=0, le=10_000_000, description="ids re-read below the watermark (id strategy)")

    @field_validator("table", "db_schema", "cursor")
    @classmethod
    def _ident(cls, v: str | None) -> str | None:
        return None if v is None else check_identifier(v)

    @field_validator("primary_key")
    @classmethod
    def _pk(cls, v: list[str]) -> list[str]:
        return [check_identifier(c) for c in v]

    @field_validator("lookback", mode="before")
    @classmethod
    def _lookback(cls, v: int | str) -> int:
        return parse_duration(v)

    @field_validator("query")
    @classmethod
    def _select_only(cls, v: str | None) -> str | None:
        return None if v is None else check_select(v)

    @model_validator(mode="after")
    def _table_or_query(self) -> ExtractSettings:
        if bool(self.table) == bool(self.query):
            raise ValueError("table 与 query 必须且只能填写一个")
        if self.strategy != "snapshot" and not self.cursor:
            raise ValueError(f"strategy 为 {self.strategy} 时必须填写 cursor（游标列）；没有可信的更新时间列时请用 strategy: snapshot")
        return self
