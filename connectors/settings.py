"""Settings of a department source database and of one dataset's extract."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import make_url

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


class SourceSettings(BaseModel):
    """Where a department's business database is and how to reach it.

    Exactly one way to find the URL must be given: an Airflow connection id (``conn_id``), or an
    environment variable holding a SQLAlchemy URL (``url_env``), or a credential-free URL (``url``,
    e.g. a SQLite file or a trust-authenticated server). ``url_env`` may be combined with ``url``:
    the variable wins when it is set. A password is never accepted in the file.
    """

    model_config = ConfigDict(extra="forbid")

    conn_id: str | None = Field(default=None, description="Airflow connection id")
    url_env: str | None = Field(default=None, description="environment variable holding a SQLAlchemy URL")
    url: str | None = Field(default=None, description="SQLAlchemy URL without credentials")
    timezone: str = Field(default="Asia/Shanghai", description="time zone of naive datetimes in the source")
    connect_timeout: int = Field(default=10, ge=1, le=600, description="seconds")
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
    def _no_password(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            parsed = make_url(v)
        except Exception as exc:  # sqlalchemy raises ArgumentError with a terse text
            raise ValueError(f"无法解析的数据库 URL：{exc}") from None
        if parsed.password:
            raise ValueError(
                "配置文件中不得写入密码：请把带密码的 URL 放进环境变量（url_env）或 Airflow 连接（conn_id）"
            )
        return v

    @model_validator(mode="after")
    def _one_way(self) -> SourceSettings:
        if self.conn_id and (self.url_env or self.url):
            raise ValueError("conn_id 与 url_env/url 只能选一种：请删去其中之一")
        if not (self.conn_id or self.url_env or self.url):
            raise ValueError("缺少数据库连接：请填写 conn_id（Airflow 连接）或 url_env（保存 URL 的环境变量）")
        return self


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
        if v is None:
            return v
        text = v.strip().rstrip(";").strip()
        if not re.match(r"(?is)^(select|with)\b", text) or ";" in text:
            raise ValueError("query 只能是一条 SELECT（或 WITH … SELECT）语句，不能包含分号")
        return text

    @model_validator(mode="after")
    def _table_or_query(self) -> ExtractSettings:
        if bool(self.table) == bool(self.query):
            raise ValueError("table 与 query 必须且只能填写一个")
        if self.strategy != "snapshot" and not self.cursor:
            raise ValueError(f"strategy 为 {self.strategy} 时必须填写 cursor（游标列）；没有可信的更新时间列时请用 strategy: snapshot")
        return self
