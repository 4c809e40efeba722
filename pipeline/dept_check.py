"""``sgs dept check``: what a department DBA runs before handing the file over.

It validates the file, connects with a short timeout, checks the table, the cursor and every mapped
column, warns about a cursor without an index and about an account that can write, counts the rows
waiting since the watermark, and shows five mapped sample rows with their verdicts (ID numbers masked).
Nothing is written anywhere: the central store is only read, and only if it exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from connectors.errors import SourceConfigError, SourceError
from connectors.settings import SourceSettings
from connectors.sql import (
    Source,
    decode_cursor,
    incremental_select,
    lower_bound,
    open_source,
    resolve_column,
    source_selectable,
)
from national.safety import redact_url
from pipeline.config import CONTROL_CHARS, ConfigError, DatasetConfig, Department, load_department, source_policy
from pipeline.settings import store_url
from store.queries import peek_watermark

Level = Literal["ok", "warn", "error"]


@dataclass
class Finding:
    level: Level
    message: str


@dataclass
class CheckReport:
    path: Path
    department: str | None = None
    findings: list[Finding] = field(default_factory=list)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, level: Level, message: str) -> None:
        self.findings.append(Finding(level, message))

    @property
    def failed(self) -> bool:
        return any(f.level == "error" for f in self.findings)


def _connect_error(dept: str, source: SourceSettings, url: sa.engine.URL, exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    low = text.lower()
    where = f"{url.host or url.database}:{url.port}" if url.host else str(url.database)
    if any(m in low for m in ("access denied", "password authentication failed", "authentication failed", "ora-01017", "login failed")):
        return f"部门 {dept}：数据库拒绝登录 {url.username}@{where}（用户名或密码错误）。请核对 Airflow 连接或环境变量中的账号和密码"
    if any(m in low for m in ("unknown database", "does not exist", "ora-12514")):
        return f"部门 {dept}：服务器 {where} 上没有数据库 {url.database}。请核对 URL 中的库名：{text}"
    return (
        f"部门 {dept}：在 {source.connect_timeout} 秒内连不上数据库 {where}（{text}）。"
        "请检查主机名、端口、防火墙，以及数据库是否在运行"
    )


def _writable(src: Source, ds_cfg: DatasetConfig) -> bool | None:
    """Can the docking account change the table? None when the database gives no simple answer."""
    with src.engine.connect() as conn:
        return src.adapter.account_can_write(conn, ds_cfg.table, ds_cfg.db_schema)


def _store_watermark(department: str, dataset: str) -> str | None:
    """The watermark in the central store, read-only; None when there is no store yet."""
    return peek_watermark(store_url(), department, dataset)


def check_department(path: str | Path, *, samples: int = 5) -> CheckReport:
    """Run every check; the report lists findings in order. Never raises for a bad file or database."""
    report = CheckReport(Path(path))
    try:
        dept: Department = load_department(path)
    except ConfigError as exc:
        report.add("error", str(exc))
        return report
    report.department = dept.code
    if dept.source is None:
        report.add("ok", f"配置文件有效：{dept.name}（{dept.code}），只用收件箱报送（方式三，docs/inbox.md），没有数据库可检查")
        return report
    report.add("ok", f"配置文件有效：{dept.name}（{dept.code}），数据集 {', '.join(dept.datasets)}")
    source = dept.source.model_copy(update={"connect_timeout": min(dept.source.connect_timeout, 5)})
    try:
        src = open_source(source, department=dept.code, policy=source_policy())
    except SourceError as exc:
        report.add("error", str(exc))
        return report
    try:
        try:
            with src.engine.connect() as conn:
                conn.execute(sa.text(src.adapter.ping_sql))
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DBAPIError) as exc:
            report.add("error", _connect_error(dept.code, source, src.engine.url, exc))
            return report
        session = "只读会话" if src.adapter.read_only_level != "account" else "该数据库没有只读会话，只能靠只读账号保护数据"
        report.add("ok", f"已连接 {redact_url(src.engine.url.render_as_string(hide_password=False))}（{src.adapter.kind}，{session}）")
        for name, cfg in dept.datasets.items():
            _check_dataset(report, dept, src, name, cfg, samples)
    finally:
        src.dispose()
    return report


def _check_dataset(report: CheckReport, dept: Department, src: Source, name: str, cfg: DatasetConfig, samples: int) -> None:
    from national import dataset as national_dataset

    label = f"{national_dataset(name).name_zh}（{name}）："
    try:
        table = source_selectable(src, cfg)
    except SourceError as exc:
        report.add("error", f"{label}{exc}")
        return
    wanted = [("cursor（游标列）", cfg.cursor)] if cfg.cursor else []
    wanted += [("primary_key（主键）", c) for c in cfg.primary_key]
    wanted += [(f"columns.{k}", v) for k, v in cfg.columns.items()]
    if cfg.status_column:
        wanted.append(("status_column（撤销状态列）", cfg.status_column))
    if cfg.not_public is not None and cfg.not_public.flag_column:
        wanted.append(("not_public.flag_column（不予公开标记列）", cfg.not_public.flag_column))
    missing = [(k, v) for k, v in wanted if resolve_column(table, v) is None]
    # A query's columns are its result columns (connectors.sql.query_selectable), not a table's.
    what = f"表 {cfg.table}" if cfg.table else "query 的结果"
    if missing:
        report.add(
            "error",
            f"{label}部门 {dept.code}：{what} 中没有这些列："
            + "；".join(f"{v}（{k}）" for k, v in missing)
            + f"。现有列：{', '.join(table.c.keys())}",
        )
        return
    report.add("ok", f"{label}{what} 和 {len(wanted)} 个映射列都存在")
    if cfg.table and cfg.cursor and cfg.strategy != "snapshot":
        insp = sa.inspect(src.engine)
        cursor = resolve_column(table, cfg.cursor).name  # type: ignore[union-attr]
        indexed = any(ix["column_names"] and ix["column_names"][0] == cursor for ix in insp.get_indexes(cfg.table, schema=cfg.db_schema))
        pk = insp.get_pk_constraint(cfg.table, schema=cfg.db_schema).get("constrained_columns") or []
        if not indexed and not (pk and pk[0] == cursor):
            report.add("warn", f"{label}游标列 {cfg.cursor} 没有索引：每次增量读取都会扫描全表。请让 DBA 建索引，例如 CREATE INDEX ix_{cfg.table}_{cfg.cursor} ON {cfg.table} ({cfg.cursor})")
        else:
            report.add("ok", f"{label}游标列 {cfg.cursor} 有索引")
    try:
        writable = _writable(src, cfg)
    except sa_exc.SQLAlchemyError:
        writable = None
    if writable and src.adapter.read_only_file:
        # The file is opened read-only (SQLiteAdapter.read_only_url): nothing is written through this program.
        report.add("ok", f"{label}SQLite 文件以只读方式打开（mode=ro、query_only），对接不会修改该文件")
    elif writable:
        report.add("warn", f"{label}对接账号可以写入（INSERT/UPDATE/DELETE）：对接账号应只读，请 DBA 收回写权限，只保留 SELECT")
    elif writable is None:
        report.add("ok", f"{label}无法自动判断账号是否只读，请 DBA 确认对接账号只有 SELECT 权限")
    else:
        report.add("ok", f"{label}对接账号只读")
    wm_text = _store_watermark(dept.code, name)
    wm = decode_cursor(wm_text)
    low = lower_bound(wm, cfg, src.adapter) if wm is not None else None
    stmt = incremental_select(table, cfg, low, department=dept.code)
    with src.engine.connect() as conn:
        pending = conn.execute(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    if cfg.cursor and cfg.strategy != "snapshot":
        col = resolve_column(table, cfg.cursor)
        with src.engine.connect() as conn:
            nulls = conn.execute(sa.select(sa.func.count()).select_from(table).where(col.is_(None))).scalar_one()  # type: ignore[union-attr]
        if nulls:
            report.add(
                "warn",
                f"{label}有 {nulls} 行的游标列 {cfg.cursor} 为空，这些行不会被读取：请补全该列（如用创建时间），"
                "或改用 strategy: snapshot",
            )
    since = f"水位线 {json.loads(wm_text)['value']} 之后" if wm_text else "（尚未归集过）全部"
    report.add("ok", f"{label}{since}待读取 {pending} 行")
    report.samples[name] = _samples(dept, src, table, cfg, name, samples)


def _samples(dept: Department, src: Source, table: sa.FromClause, cfg: DatasetConfig, name: str, n: int) -> list[dict[str, Any]]:
    import pandas as pd

    from national import dataset as national_dataset
    from pipeline.prepare import check_rows
    from transforms.masking import mask_record

    order = resolve_column(table, cfg.cursor) if cfg.cursor else resolve_column(table, cfg.primary_key[0])
    stmt = (sa.select(*table.c) if isinstance(table, sa.Table) else sa.select(sa.literal_column("*")).select_from(table)).order_by(order.desc()).limit(n)  # type: ignore[union-attr]
    with src.engine.connect() as conn:
        result = conn.execute(stmt)
        frame = pd.DataFrame.from_records([tuple(r) for r in result.fetchall()], columns=list(result.keys()), coerce_float=False)
    frame = src.adapter.prepare(frame, timezone=src.settings.timezone, legacy_encoding=src.settings.legacy_encoding)
    ds = national_dataset(name)
    checked = check_rows(frame, cfg, name, department=dept.code)
    national, verdicts = checked.national, checked.verdicts
    out = []
    for i in range(len(national)):
        values = mask_record({c: national.iloc[i][c] for c in ds.columns})
        out.append(
            {
                "values": {c: values[c] for c in ds.columns if values[c] is not None},
                "errors": [f"{x.rule} {x.message}" for x in verdicts.errors(i)],
                "warnings": [f"{x.rule} {x.message}" for x in verdicts.warnings(i)],
            }
        )
    return out


TEMPLATE = Path(__file__).resolve().parents[1] / "departments" / "_template.yaml"


def new_department_file(code: str, folder: Path, *, name: str | None = None) -> Path:
    """Scaffold ``<folder>/<code>.yaml`` from the commented template.

    ``name`` goes into the file as a YAML double-quoted scalar written by the YAML library: whatever it holds,
    it stays the value of ``name`` (a newline used to inject a ``source:`` block).
    """
    import re

    import yaml

    if not re.match(r"^[a-z][a-z0-9_]{1,39}$", code):
        raise SourceConfigError(f"部门代码 {code!r} 不合法：小写字母开头，只含小写字母、数字和下划线")
    if name is not None:
        name = name.strip()
        if CONTROL_CHARS.search(name) or not 2 <= len(name) <= 200:
            raise SourceConfigError("部门名称应为 2 到 200 个字符的一行文字（不能含换行符、制表符等控制字符），例如 市交通运输局")
    path = folder / f"{code}.yaml"
    if path.exists():
        raise FileExistsError(f"{path} 已存在，不会覆盖")
    text = TEMPLATE.read_text(encoding="utf-8")
    text = text.replace("code: example", f"code: {code}").replace("sgs_src_example", f"sgs_src_{code}")
    text = text.replace("SGS_SRC_EXAMPLE_URL", f"SGS_SRC_{code.upper()}_URL")
    if name:
        quoted = yaml.safe_dump(name, default_style='"', allow_unicode=True, width=10**6).strip()
        text = text.replace("name: 市某某局", f"name: {quoted}", 1)
    text = text.replace(
        "# 部门配置模板 (department file template). Copy to departments/<code>.yaml and fill in.\n# Files whose name starts with \"_\" are not loaded.\n",
        f"# 部门配置 {code}. Fill in every key, then run: sgs dept check {path}\n",
    )
    path.write_text(text, encoding="utf-8")
    return path
