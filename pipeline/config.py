"""Department configuration: one YAML file per department in ``departments/``.

The model is composed of each stage's own settings (``connectors.settings``, ``transforms.settings``).
A bad file raises :class:`ConfigError` whose text names the file, the key and what to do.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import exc as sa_exc

from connectors.settings import ExtractSettings, SourcePolicy, SourceSettings, check_file_url, url_family
from national import DATASETS
from national.regions import COUNTY_LEVEL, LEVELS, regions
from pipeline.settings import departments_dir, source_data_dir, store_url
from transforms.settings import MappingSettings

if TYPE_CHECKING:
    from expectations.settings import RuleSettings


def _rule_overrides(value: Any) -> Any:
    """A department's rule switches (``rules:``) as ``expectations.settings.RuleOverride`` objects. Imported only
    when a file has some: the DAG files parse every department file, and the expectations package imports pandas
    (tests/dags: parsing imports nothing heavy)."""
    if not value:
        return {}
    from expectations.settings import RuleOverride

    if not isinstance(value, dict):
        raise ValueError("rules: 应为“规则编号: 设置”的映射")
    return {str(k): v if isinstance(v, RuleOverride) else RuleOverride.model_validate(v) for k, v in value.items()}


USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
#: Control characters (C0, DEL, C1) and the Unicode line/paragraph separators: none belongs in a name.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: Airflow's cron presets (``airflow.sdk.definitions.timetables._cron.CRON_PRESETS``, kept in sync by
#: tests/dags/test_dags.py; copied so that parsing 200 department files does not import Airflow's timetables).
CRON_PRESETS = {
    "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *", "@yearly": "0 0 1 1 *",
}
#: Every preset ``airflow.sdk.definitions.dag._create_timetable`` accepts: the cron ones, @once, @continuous.
SCHEDULE_PRESETS = ("@once", "@continuous", *CRON_PRESETS)


def source_policy() -> SourcePolicy:
    """Where department SQLite files may be: the data folder, which must not hold the central store."""
    from store import dialect

    try:
        url = store_url()
        store_file = dialect.for_url(url).database_file(url)
    except (sa_exc.ArgumentError, ValueError):  # an unparsable store URL is the store's own error, reported where
        # the store is opened (ValueError: a port that is not a number)
        store_file = None
    return SourcePolicy(data_dir=source_data_dir(), store_file=store_file)


class _TextLoader(yaml.SafeLoader):
    """YAML without implicit numbers and booleans: every scalar stays the text the DBA typed.

    Dates stay text too (``timeliness_from``: the model parses them and names a bad one; PyYAML's own
    timestamp constructor raised a bare ValueError for 2026-13-01). Plain YAML would read the local code ``01`` as the integer 1 (and ``0123`` as an octal number), or an
    all-digit credit code as an integer; pydantic turns text into numbers and booleans where a key
    really is one (``chunk_rows``, ``special_domain``).
    """


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                                                  "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class ConfigError(Exception):
    """A department file that cannot be used. The message is meant for the DBA who wrote it."""


class DatasetConfig(ExtractSettings, MappingSettings):
    """One dataset (``cf`` or ``xk``) of a department: where to read it and how to map it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    #: The department's own switches of catalogue rules (rule id → enabled/severity/params), over the platform's
    #: ``expectations/settings.yaml``; the department-level ``rules`` are merged in (this dataset's win). Only rules
    #: whose source is not C may appear, e.g. ``COM-USCC-005: {severity: warning}`` (docs/rules.md).
    rules: dict[str, Any] = Field(default_factory=dict)  # rule id → expectations.settings.RuleOverride

    @field_validator("rules", mode="before")
    @classmethod
    def _overrides(cls, value: Any) -> Any:
        return _rule_overrides(value)

    def rule_settings(self) -> RuleSettings | None:
        """The catalogue settings of this dataset: the platform's with the department's overrides (None: none)."""
        if not self.rules:
            return None
        from expectations.catalogue import default_settings  # lazy: DAG files parse departments without pandas

        base = default_settings()
        return base.model_copy(update={"rules": {**base.rules, **self.rules}})


class Department(BaseModel):
    """A department (or county unit) that decides licences and penalties."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$", description="short id used in DAG ids")
    name: str = Field(min_length=2, max_length=200)
    uscc: str = Field(description="统一社会信用代码 of the department")
    owner: str = Field(default="sgs", max_length=100)
    schedule: str | None = Field(default="@hourly", max_length=100)
    #: 方式一 database docking: the department's database and what to read from it. A department that reports
    #: only by file (方式三) has neither.
    source: SourceSettings | None = None
    datasets: dict[str, DatasetConfig] = Field(default_factory=dict)
    #: 方式三 file delivery: the department's inbox folder, relative to the inbox root (``SGS_INBOX_DIR``);
    #: default: the folder named after the code. Never absolute and never above the root: a department file
    #: names only its own folder (as it names only its own database).
    inbox: str | None = Field(default=None, min_length=1, max_length=200)
    #: Rule switches for both datasets (see :attr:`DatasetConfig.rules`), e.g. ``COM-USCC-005: {severity: warning}``.
    rules: dict[str, Any] = Field(default_factory=dict)  # rule id → expectations.settings.RuleOverride
    #: 市直 (a city department, the default) or 县区 (a unit of one of the city's 县区, ``region`` names which).
    level: str = Field(default=LEVELS[0], description="市直 or 县区")
    #: The administrative code (GB/T 2260) of the unit's area: the city's for 市直 (the default), the 县区's for a
    #: 县区 unit (national.regions: the city and its 县区). The reports add up per 县区 and for the city.
    region: str | None = Field(default=None, description="6-digit administrative code")
    #: 考核起始日: decisions before this date are backfill (补录 of the department's history at connection) and
    #: not assessed for timeliness (及时率); ``null``: the platform's ``timeliness_from`` (reports/settings.yaml).
    timeliness_from: dt.date | None = None

    @field_validator("rules", mode="before")
    @classmethod
    def _overrides(cls, value: Any) -> Any:
        return _rule_overrides(value)

    @field_validator("name", "owner")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if CONTROL_CHARS.search(v):
            raise ValueError("不能包含换行符、制表符等控制字符：请写在一行内")
        return v.strip()

    @field_validator("name")
    @classmethod
    def _a_unit_name(cls, v: str) -> str:
        """A unit's full name (it heads reports and pages): not only digits and punctuation — a date or a number
        here is a slip (``name: 2025-01-01`` read as a date before department files were read as text)."""
        if not re.search(r"[^\W\d_]", v):
            raise ValueError("应为单位全称（如“阳泉市市场监督管理局”），不能只有数字或符号")
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        """An Airflow schedule, checked here so that a bad one breaks only this department's DAG (and names
        it) instead of the whole DAG file."""
        if v is None or v in SCHEDULE_PRESETS:  # Airflow's own: valid, no croniter needed
            return v
        what = (
            "请写 5 段 cron 表达式（如 \"0 * * * *\"，分 时 日 月 周）或 " + "、".join(SCHEDULE_PRESETS) + "；不定时运行请写 null"
        )
        # Airflow turns any other string into a cron timetable (CronTriggerTimetable) and validates it with
        # croniter, which also takes 6 and 7 fields (seconds, year) that Airflow's scheduler does not handle
        # as cron (airflow.timetables._cron), and dates that never come ("0 0 31 2 *"): such a DAG would load
        # and never run. So: exactly 5 fields, and a next fire time must exist.
        if v.startswith("@"):
            raise ValueError(f"{v!r} 不是有效的调度（Airflow 没有这个预设）：{what}")
        if len(v.split()) != 5:
            raise ValueError(f"{v!r} 不是有效的调度（应为 5 段，实际 {len(v.split())} 段，不支持秒和年）：{what}")
        import datetime as dt

        from croniter import croniter  # Airflow's own cron parser (CronMixin.validate); cheap, no Airflow import

        try:
            cron = croniter(v, start_time=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        except (ValueError, TypeError):  # CroniterBadCronError and kin are ValueErrors; a bad range a TypeError
            raise ValueError(f"{v!r} 不是有效的调度：{what}") from None
        try:
            cron.get_next(dt.datetime)
        except ValueError:  # CroniterBadDateError: no date matches (31 February, 31 April …)
            raise ValueError(f"{v!r} 不是有效的调度：没有任何日期符合（例如 2 月没有 30、31 日），任务永远不会运行。{what}") from None
        return v

    @field_validator("uscc")
    @classmethod
    def _uscc(cls, v: str) -> str:
        v = v.strip().upper()
        if not USCC_SHAPE.match(v):
            raise ValueError("不是18位统一社会信用代码")
        return v

    @field_validator("datasets")
    @classmethod
    def _known_datasets(cls, v: dict[str, DatasetConfig]) -> dict[str, DatasetConfig]:
        for name, ds in v.items():
            if name not in DATASETS:
                raise ValueError(f"未知的数据集 {name!r}：只能是 cf（行政处罚）或 xk（行政许可）")
            known = set(DATASETS[name].columns)
            for key in ("columns", "constants", "codes"):
                for col in getattr(ds, key):
                    if col not in known:
                        raise ValueError(
                            f"{name}.{key}: {col!r} 不是国家标准字段；{name} 的字段有 "
                            + ", ".join(DATASETS[name].columns)
                        )
            for col in ds.amounts_in_yuan:
                if col not in known or DATASETS[name].field(col).kind != "amount":
                    raise ValueError(f"{name}.amounts_in_yuan: {col!r} 不是金额字段")
        return v

    @field_validator("inbox")
    @classmethod
    def _inbox_folder(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from pathlib import PurePosixPath, PureWindowsPath

        text = v.strip().replace("\\", "/")
        parts = PurePosixPath(text).parts
        if (not text or text.startswith("/") or PureWindowsPath(v).drive or CONTROL_CHARS.search(text)
                or any(p in ("..", ".") or p.startswith(".") for p in parts)):
            raise ValueError(
                f"{v!r} 不是收件箱根目录（SGS_INBOX_DIR）下的文件夹：请写相对于根目录的文件夹名（如 scjgj 或 县区/临安区），"
                "不能是绝对路径，不能含 .. 或以 . 开头的部分"
            )
        return "/".join(parts)

    @field_validator("timeliness_from", mode="before")
    @classmethod
    def _date_text(cls, v: Any) -> Any:
        if isinstance(v, str):  # the loader keeps every scalar as text: the date must be YYYY-MM-DD
            try:
                return dt.date.fromisoformat(v.strip())
            except ValueError:
                raise ValueError(f"{v!r} 不是日期：请写成 YYYY-MM-DD，例如 2026-09-01") from None
        return v

    @model_validator(mode="after")
    def _level_region(self) -> Department:
        """市直 units are in the city's area; a 县区 unit names one of the city's 县区."""
        known = regions()
        counties = "、".join(f"{c} {n}" for c, n in known.counties.items())
        if self.level not in LEVELS:
            raise ValueError(f"level: {self.level!r} 不是有效的层级：只能是 市直 或 县区")
        region = self.region.strip() if self.region is not None else None
        if self.level == COUNTY_LEVEL:
            if not region:
                raise ValueError(f"level 为 县区 时必须填写 region（所属县区的 6 位行政区划代码：{counties}）")
            if region not in known.counties:
                raise ValueError(f"region: {region!r} 不是{known.city_name}的县区代码（可选：{counties}）")
        elif region is None:
            region = known.city_code
        elif region != known.city_code:
            raise ValueError(
                f"region: 市直部门的区划代码应为{known.city_name}的 {known.city_code}，不是 {region!r}"
                f"（县区单位请写 level: 县区 和所属县区的代码：{counties}）"
            )
        self.region = region
        return self

    @property
    def region_name(self) -> str:
        """The name of the unit's area: the 县区's, or the city's for a 市直 department."""
        return regions().name(self.region or regions().city_code)

    @model_validator(mode="after")
    def _database_or_files(self) -> Department:
        if self.datasets and self.source is None:
            raise ValueError("配置了 datasets 却没有 source：请填写本部门数据库的 source（只用收件箱报送的部门两者都不写）")
        if self.source is not None and not self.datasets:
            raise ValueError("datasets 为空：请至少配置 cf（行政处罚）或 xk（行政许可）之一（只用收件箱报送的部门 source 也不写）")
        return self

    @property
    def docks_database(self) -> bool:
        """方式一: the department has a database to read (else it reports only by file, 方式三)."""
        return self.source is not None

    @model_validator(mode="after")
    def _something_mapped(self) -> Department:
        for name, ds in self.datasets.items():
            if not ds.columns:
                raise ValueError(f"{name}.columns 为空：请至少映射一个国家标准字段")
        return self

    @model_validator(mode="after")
    def _rule_overrides(self) -> Department:
        """Department-level rule switches go into each dataset (a dataset's own win); every dataset's catalogue
        must accept them (known ids, not a confirmed [C] rule, known parameters)."""
        unknown = [k for k in self.rules if not k.startswith(("COM-", "CF-", "XK-"))]
        if unknown:
            raise ValueError(f"rules: 未知的规则编号 {unknown}（规则编号见 docs/rules.md）")
        for name, ds in self.datasets.items():
            merged = {**{k: v for k, v in self.rules.items() if k.startswith(("COM-", name.upper() + "-"))}, **ds.rules}
            ds.rules = merged
            if not merged:
                continue
            # lazy: the DAG files parse every department file, and the catalogue's package imports pandas
            from expectations.catalogue import CatalogueError, load_catalogue

            try:
                load_catalogue(name, ds.rule_settings())
            except CatalogueError as exc:
                raise ValueError(f"{name}.rules: {exc}（只有来源不是 C 的规则可以调整，见 docs/rules.md）") from None
        return self

    @model_validator(mode="after")
    def _own_database_only(self) -> Department:
        """A department file can reach only its own database (design.md invariant 8): the URL variable and the
        Airflow connection are named after the department (the operator puts the server's URL there), and
        ``url:`` is a SQLite file in the data folder."""
        src = self.source
        if src is None:
            return self
        env = f"SGS_SRC_{self.code.upper()}_URL"
        if src.url_env is not None and src.url_env != env:
            raise ValueError(
                f"source.url_env 只能是 {env}（本部门代码大写）：{src.url_env} 不属于本部门。请把本部门数据库的 URL 放进环境变量 {env}"
            )
        conn = f"sgs_src_{self.code}"
        if src.conn_id is not None and src.conn_id != conn:
            raise ValueError(f"source.conn_id 只能是 {conn}：{src.conn_id} 不属于本部门。请在 Airflow 中创建连接 {conn}")
        if src.url:
            from sqlalchemy.engine import make_url

            parsed = make_url(src.url)  # already checked by SourceSettings: a SQLite file, never a server
            try:
                if url_family(parsed) != "sqlite":
                    check_file_url(src.url, code=self.code)
                source_policy().sqlite_path(parsed.database)
            except ValueError as exc:
                raise ValueError(f"source.url: {exc}") from None
        return self


# What to tell a DBA for the keys people most often get wrong.
_HINTS = {
    "code": "小写字母开头，只含小写字母、数字和下划线，例如 scjgj",
    "uscc": "填写本部门的18位统一社会信用代码",
    "source": "填写 conn_id（Airflow 连接）或 url_env（保存 SQLAlchemy URL 的环境变量）",
    "cursor": "填写数据更新时间列（或自增编号列）的列名",
    "primary_key": "填写能唯一标识一行的列名列表，例如 [id]",
    "chunk_rows": "每批读取的行数，1 到 1000000",
    "datasets": "至少配置 cf（行政处罚）或 xk（行政许可）之一",
    "level": "市直 或 县区",
    "region": "6 位行政区划代码，县区单位必填",
}


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = [f"部门配置文件 {path} 有误："]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(根)"
        leaf = next((str(p) for p in reversed(err["loc"]) if isinstance(p, str)), "")
        kind = err["type"]
        if kind == "missing":
            what = "缺少必填项"
        elif kind == "extra_forbidden":
            what = "不认识的键（拼写错误？请删除或改正）"
        else:
            what = err["msg"].removeprefix("Value error, ")
        hint = _HINTS.get(leaf)
        lines.append(f"  - {loc}: {what}" + (f"（{hint}）" if hint and kind in ("missing", "string_pattern_mismatch") else ""))
    return "\n".join(lines)


def load_department(path: str | os.PathLike[str]) -> Department:
    """Read and validate one department file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"找不到部门配置文件 {p}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"部门配置文件 {p} 不是 UTF-8 编码：请用 UTF-8 保存") from None
    if len(text) > 1_000_000:
        raise ConfigError(f"部门配置文件 {p} 超过 1 MB，不像是配置文件")
    try:
        data: Any = yaml.load(text, Loader=_TextLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark else ""
        raise ConfigError(f"部门配置文件 {p} 不是合法的 YAML {where}：{getattr(exc, 'problem', exc)}") from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"部门配置文件 {p} 嵌套过深或过大，不像是部门配置：请按 departments/_template.yaml 的结构填写") from None
    if not isinstance(data, dict):
        raise ConfigError(f"部门配置文件 {p} 的顶层应是键值对（code、name、uscc、source、datasets）")
    try:
        # The code lets nested validators name this department's own variable and connection in messages.
        dept = Department.model_validate(data, context={"code": data.get("code")})
    except ValidationError as exc:
        raise ConfigError(_format_errors(p, exc)) from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"部门配置文件 {p} 嵌套过深或过大，不像是部门配置：请按 departments/_template.yaml 的结构填写") from None
    if dept.code != p.stem:
        raise ConfigError(f"部门配置文件 {p}: code 为 {dept.code!r}，应与文件名 {p.stem!r} 一致")
    return dept


def department_files(folder: Path | None = None) -> list[Path]:
    folder = folder or departments_dir()
    return sorted(p for p in folder.glob("*.yaml") if not p.name.startswith("_"))


def load_departments(folder: Path | None = None) -> dict[str, Department]:
    """Every department file of the folder, by code. The first bad file raises ConfigError."""
    return {d.code: d for d in (load_department(p) for p in department_files(folder))}


def loadable_departments(folder: Path | None = None) -> dict[str, Department]:
    """Every department file that loads (a broken one is skipped; its DAG reports the error)."""
    out: dict[str, Department] = {}
    for p in department_files(folder):
        try:
            d = load_department(p)
        except (ConfigError, OSError):  # a broken or unreadable file must not hide the others
            continue
        out[d.code] = d
    return out


def find_department(code: str, folder: Path | None = None) -> Department:
    folder = folder or departments_dir()
    path = folder / f"{code}.yaml"
    if not path.exists():
        known = ", ".join(p.stem for p in department_files(folder)) or "（无）"
        raise ConfigError(f"没有部门 {code!r}：{folder} 中没有 {code}.yaml。已有部门：{known}")
    return load_department(path)
