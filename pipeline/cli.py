"""The ``sgs`` command line."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

app = typer.Typer(add_completion=False, no_args_is_help=True, help="市信用信息共享平台 双公示数据归集 (sgs)")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DatasetOpt = Literal["cf", "xk"]


def _t(value: object) -> Text:
    """Untrusted text (department names, YAML keys, row values, file names, messages quoting them) for rich:
    a ``Text`` is never parsed for markup (``[/]`` crashed ``sgs status``) or ``:emoji:`` codes."""
    return Text("" if value is None else str(value))


def _say(console: Console, message: str) -> None:
    """Print a message that may quote untrusted text: no markup, no emoji codes."""
    console.print(message, markup=False, emoji=False)


def _fail(message: str, code: int = 2) -> None:
    err.print(Text.assemble(("错误", "bold red"), "：", str(message)), highlight=False)
    raise typer.Exit(code)


F = TypeVar("F", bound=Callable[..., Any])


def _store_errors(fn: F) -> F:
    """Commands that use the central store: an unreachable or unusable store ends in one Chinese line naming
    the store (URL redacted) and what to do, exit 1 (retry later) or 2 (fix SGS_STORE_URL), never a traceback.
    ``store_engine()`` raises ``StoreUnavailable`` on the first connect; a connection lost later in the
    command arrives as SQLAlchemy's OperationalError/InterfaceError (a department's own database errors are
    wrapped in SourceError by the connectors, so these are the store's)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pipeline.settings import store_url
        from pipeline.store_access import STORE_ERRORS, StoreUnavailable, describe_store_error

        try:
            return fn(*args, **kwargs)
        except StoreUnavailable as exc:
            _fail(str(exc), 1 if exc.retry else 2)
        except STORE_ERRORS as exc:
            described = describe_store_error(exc, store_url())
            _fail(str(described), 1 if described.retry else 2)

    return wrapper  # type: ignore[return-value]


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show progress logs")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
@_store_errors
def ingest(
    department: Annotated[str, typer.Argument(help="department code (file name in departments/ without .yaml)")],
    dataset: Annotated[DatasetOpt | None, typer.Option("--dataset", "-d", help="cf or xk; default: all configured")] = None,
) -> None:
    """Run one incremental ingest of a department without Airflow."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from connectors.errors import SourceError
    from pipeline.config import ConfigError, find_department
    from pipeline.ingest import IngestResult
    from pipeline.ingest import ingest as run_ingest
    from transforms.normalise import MappingError

    try:
        dept = find_department(department)
    except ConfigError as exc:
        _fail(str(exc))
    if dept.source is None:
        _fail(f"部门 {department} 只用收件箱报送（方式三），没有数据库可归集：请用 sgs inbox run {department}")
    names = [dataset] if dataset else list(dept.datasets)
    if dataset and dataset not in dept.datasets:
        _fail(f"部门 {department} 没有配置数据集 {dataset}（已配置：{', '.join(dept.datasets)}）")
    results: list[IngestResult] = []
    with Progress(
        TextColumn("{task.description}", markup=False), BarColumn(), TextColumn("{task.fields[rows]} 行"), TimeElapsedColumn(),
        console=err, transient=True,
    ) as progress:
        for ds in names:
            bar = progress.add_task(f"{dept.code}/{ds}", total=None, rows=0)

            def tick(r: IngestResult, bar: Any = bar) -> None:
                progress.update(bar, rows=r.counts.read)

            try:
                results.append(run_ingest(dept, ds, trigger="cli", on_chunk=tick))
            except (SourceError, MappingError) as exc:
                # A configuration the department must fix (SourceConfigError: a refused URL key, a SQLite file
                # outside the data folder, a query that writes) is exit 2 like a bad file; retry later is 1.
                _fail(str(exc), 1 if getattr(exc, "transient", True) else 2)
    _print_results([r.as_dict() for r in results])
    from national.masking import mask_text
    from pipeline.config import loadable_departments
    from pipeline.settings import data_docs_dir, quality_dir, store_engine, var_dir
    from reports.quality import publish_run

    index = None
    departments = loadable_departments() if results else {}
    for r in results:
        try:
            index = publish_run(store_engine(), r.run_id, departments=departments, out=quality_dir(), gx_root=var_dir())
        except Exception as exc:  # noqa: BLE001 - the records are loaded: a report that fails to render must not hide it
            _say(err, f"警告：第 {r.run_id} 次运行的数据质量报告或 GX 数据文档未能生成（{type(exc).__name__}: {mask_text(str(exc))[:200]}）")
    if index:
        _say(out, f"数据质量报告：{index}")
        if (data_docs_dir() / "index.html").is_file():
            _say(out, f"GX 数据文档（Data Docs）：{data_docs_dir() / 'index.html'}")


@app.command()
def audit(
    dataset: Annotated[DatasetOpt | None, typer.Option("--dataset", "-d", help="cf or xk; default: both")] = None,
    department: Annotated[str | None, typer.Option("--department", help="only this department's records")] = None,
    batch_rows: Annotated[int, typer.Option("--batch-rows", min=1000, help="records per GX batch (memory bound)")] = 50_000,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout")] = False,
) -> None:
    """For auditors: run the GX suites through Great Expectations over the central store's records (a checkpoint
    per batch) and write the results into the GX Data Docs; exit 0 clean, 1 a stored record fails an error-level
    expectation, 2 the audit could not run."""
    from pipeline.config import ConfigError, loadable_departments
    from pipeline.settings import store_engine, store_url, var_dir
    from pipeline.store_access import STORE_ERRORS, StoreUnavailable, describe_store_error
    from reports.audit import audit as run_audit
    from store.queries import store_departments

    try:
        departments = loadable_departments()
    except ConfigError as exc:
        _fail(str(exc))

    def own_rules(code: str, ds: str) -> Any:
        dept = departments.get(code)
        config = dept.datasets.get(ds) if dept is not None else None
        return config.rule_settings() if config is not None else None

    names = [dataset] if dataset else ["cf", "xk"]
    try:
        engine = store_engine()
        if department is not None and department not in departments and department not in store_departments(engine):
            _fail(f"没有部门 {department}：部门目录和中心库中都没有这个部门代码")
        with err.status("审计中心库记录（Great Expectations 校验）…") as status:
            def progress(ds: str, n: int) -> None:
                status.update(f"审计中心库记录（Great Expectations 校验）：{ds} 已校验 {n} 条")

            report = run_audit(engine, var_dir(), datasets=names, department=department, rule_settings=own_rules,
                               batch_rows=batch_rows, on_batch=progress)
    except typer.Exit:
        raise
    except StoreUnavailable as exc:
        _fail(str(exc), 2)
    except STORE_ERRORS as exc:
        _fail(str(describe_store_error(exc, store_url())), 2)
    except Exception as exc:  # noqa: BLE001 - GX or the project folder failed: not a finding about the records
        # exit 2, never 1 (a finding) nor Python's traceback, and one masked line.
        from national.masking import mask_text

        _fail(f"审计无法完成（{type(exc).__name__}: {mask_text(str(exc))[:300]}）", 2)
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n")
        raise typer.Exit(report.exit_code)
    _print_audit(report)
    raise typer.Exit(report.exit_code)


def _print_audit(report: Any) -> None:
    from national import dataset as national_dataset

    scope = f"部门 {report.department}" if report.department else "全部部门"
    table = Table(title=_t(f"中心库审计（Great Expectations，{scope}）"))
    for col in ("数据集", "记录数", "批次", "校验套件", "错误级", "提示级", "无法执行"):
        table.add_column(col)
    for d in report.datasets:
        table.add_row(
            _t(national_dataset(d.dataset).name_zh), str(d.records), str(d.batches), _t("、".join(sorted(d.suites)) or "—"),
            str(len(d.errors)), str(len(d.warnings)), str(len(d.broken)),
        )
    out.print(table)
    _say(out, "错误级 / 提示级：未通过的规则条数（错误级规则与归集时拒收的规则相同）；无法执行：GX 未能计算的规则条数。")
    for d in report.datasets:
        for f in d.errors:
            _say(out, f"[错误] {d.dataset} {f.rule_id}：{f.count} 条记录未通过 —— {f.message}")
            for rid in f.record_ids[:5]:
                _say(out, f"    {report.record_name(d.dataset, rid)}")
            if f.count > min(len(f.record_ids), 5):
                _say(out, f"    ……共 {f.count} 条（记录编号见 GX 数据文档）")
        for f in d.warnings:
            _say(out, f"[提示] {d.dataset} {f.rule_id}：{f.count} 条记录 —— {f.message}")
        for rule, why in d.broken.items():
            _say(out, f"[无法执行] {d.dataset} {rule}：{why}")
    if not any(d.records for d in report.datasets):
        _say(out, "中心库中没有要审计的记录。")
    if report.docs_index.is_file():
        _say(out, f"GX 数据文档（Data Docs，用浏览器打开）：{report.docs_index}")
    code = report.exit_code
    if code == 0:
        _say(out, "审计通过：中心库中没有违反错误级规则的记录。")
    elif code == 1:
        _say(out, "审计未通过：中心库中有违反错误级规则的记录（见上，已写入 GX 数据文档）。")
    else:
        _say(out, "审计无法完成：有规则未能执行（见上），结果不能作为审计结论。")


def _print_results(rows: list[dict[str, Any]]) -> None:
    table = Table(title="归集结果")
    for col in ("部门", "数据集", "读取", "新增", "更新", "未变", "隔离", "状态"):
        table.add_column(col, justify="right" if col not in ("部门", "数据集", "状态") else "left")
    for r in rows:
        table.add_row(
            _t(r["department"]), _t(r["dataset"]), str(r["read"]), str(r["inserted"]), str(r["updated"]),
            str(r["unchanged"]), str(r["quarantined"]), _t(r["status"]),
        )
    out.print(table)
    bad = [r for r in rows if r["read"] != r["inserted"] + r["updated"] + r["unchanged"] + r["quarantined"]]
    if bad:
        _fail(f"对账不平（读取 ≠ 新增+更新+未变+隔离）：{bad}", 1)


@app.command()
@_store_errors
def status(as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout")] = False) -> None:
    """Per department and dataset: records in store, open quarantine rows, watermark, last run."""
    from pipeline.config import ConfigError, load_departments
    from pipeline.settings import store_engine, store_url
    from store.runs import status as store_status

    try:
        depts = load_departments()
    except ConfigError as exc:
        _fail(str(exc))
    # A department that reports only by file (方式三) declares no datasets: both are shown.
    rows = store_status(store_engine(), [(d.code, ds) for d in depts.values() for ds in (d.datasets or ("cf", "xk"))])
    for r in rows:
        d = depts[r["department"]]
        r["name"], r["level"], r["region"], r["region_name"] = d.name, d.level, d.region, d.region_name
    regions = _region_totals(rows)
    calendar = _calendar_status()
    if as_json:
        doc = {"store": _redact(store_url()), "departments": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
               "regions": regions, "calendar": calendar}
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=_t(f"中心库状态（{_redact(store_url())}）"))
    for col in ("部门", "数据集", "库中记录", "问题数据", "水位线", "最近一次运行", "最近有新数据"):
        table.add_column(col)
    for r in rows:
        wm = r["watermark"]["value"].replace("T", " ") if r["watermark"] else "—"
        latest, last, failure = r["_latest_attempt"], r["last_run"], r["last_failure"]
        last_cell = _t(_local(last["finished_at"]) if last else "—")
        if failure:
            last_cell.append(f"\n{failure['status']} {_local(failure['started_at'])}", style="red")
        table.add_row(
            _t(f"{r['department']}\n{r['name']}"), _t(r["dataset"]), str(r["records"]), str(r["open_quarantine"]), _t(wm),
            _t(f"{latest['status']}\n{_local(latest['started_at'])}" if latest else "从未运行"),
            last_cell,
        )
    out.print(table)
    if len(regions) > 2:  # some department is a 县区 unit: the totals per 县区 and for the city
        totals = Table(title=_t("按县区汇总"))
        for col in ("县区", "部门数", "库中记录", "问题数据"):
            totals.add_column(col)
        for g in regions:
            totals.add_row(_t(g["name"]), str(g["departments"]), str(g["records"]), str(g["open_quarantine"]))
        out.print(totals)
    if calendar["warning"]:
        err.print(Text.assemble(("工作日历", "bold yellow"), "：", calendar["warning"]), highlight=False)


def _region_totals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records and open quarantine rows per 县区 (the 市直 departments first, as the city's code), then the city
    (``region`` null): the same grouping as the assessment's (docs/assessment.md)."""
    from national.regions import regions

    known = regions()
    groups: dict[str | None, dict[str, Any]] = {}

    def add(key: str | None, name: str, r: dict[str, Any]) -> None:
        g = groups.setdefault(key, {"region": key, "name": name, "departments": set(), "records": 0, "open_quarantine": 0})
        g["departments"].add(r["department"])
        g["records"] += r["records"]
        g["open_quarantine"] += r["open_quarantine"]

    for r in sorted(rows, key=lambda r: (r["region"] != known.city_code, r["region"])):
        add(r["region"], "市直部门" if r["region"] == known.city_code else r["region_name"], r)
    for r in rows:
        add(None, f"全市（{known.city_name}）", r)
    return [{**g, "departments": len(g["departments"])} for g in groups.values()]


def _calendar_status() -> dict[str, Any]:
    """The working-day calendar's state for operators (issue 17 item 7): this year's and, from 1 November,
    next year's State Council arrangement; a warning (Chinese) when one is missing or the override file is
    unusable. Never fails the command: ``status`` must work while the calendar is being fixed."""
    from national.clock import today_shanghai
    from reports.settings import load_report_settings
    from reports.workdays import HolidayFileError, WorkdayCalendar, arrangement_warning

    today = today_shanghai()
    try:
        cal = WorkdayCalendar.from_file(load_report_settings().holidays_file)
    except (HolidayFileError, ValueError, OSError) as exc:  # the override file, or reports/settings.yaml, is broken
        return {"years": {}, "missing": [], "warning": f"工作日历无法读取：{exc}"}
    years = {str(y): cal.year_source(y) for y in (today.year, today.year + 1)}
    return {"years": years, "missing": cal.missing_arrangements(today), "warning": arrangement_warning(cal, today)}


def _local(iso: str | None) -> str:
    from pipeline.settings import local_text

    return local_text(iso) if iso else "—"


def _redact(url: str) -> str:
    """The one redaction of the project (national.safety): userinfo passwords, also with an unencoded ``@``,
    and secret query values (``?password=…``), which ``render_as_string(hide_password=True)`` printed."""
    from national.safety import redact_url

    return redact_url(url)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8 or GB18030) or XLSX in the national template")],
    dataset: Annotated[DatasetOpt, typer.Option("--dataset", "-d", help="cf (行政处罚) or xk (行政许可)")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per data row on stdout")] = False,
    today: Annotated[str | None, typer.Option("--today", help="按此日期判断决定日期是否晚于今天 YYYY-MM-DD（默认北京时间今天，与入库相同）")] = None,
) -> None:
    """Check a template file against the national rules. Exit 0: all rows valid; 1: some invalid; 2: unusable file.

    "Not in the future" is judged by today's date in Asia/Shanghai, as ingest judges it (national.clock), never by
    the machine's own or UTC date."""
    import datetime as dt

    import expectations
    from connectors.files import FileRejected, open_template
    from national import dataset as national_dataset
    from national.clock import today_shanghai
    from pipeline.prepare import check_rows
    from transforms.settings import MappingSettings

    try:
        day = dt.date.fromisoformat(today) if today else today_shanghai()
    except ValueError:
        _fail(f"--today 应是 YYYY-MM-DD 格式的日期，收到 {today!r}")
    ds = national_dataset(dataset)
    total = invalid = 0
    failures: Counter[str] = Counter()
    # The file is read, mapped and checked one chunk at a time (bounded memory, connectors/files.py); rows are
    # numbered across chunks and the rule counts summed, so the output is that of a single pass.
    try:
        columns, chunks = open_template(file, dataset)
        mapping = MappingSettings(columns={c: c for c in columns})
        for frame in chunks:
            checked = check_rows(frame, mapping, dataset, department=file.name, today=day)
            national, verdicts = checked.national, checked.verdicts
            invalid += int(verdicts.has_error.sum())
            for rule_id, n in verdicts.rule_failures.items():
                failures[rule_id] += n
            if as_json:
                lines = []
                for i in range(len(national)):
                    errors = [{"rule": x.rule, "field": x.field, "message": x.message} for x in verdicts.errors(i)]
                    warnings = [{"rule": x.rule, "field": x.field, "message": x.message} for x in verdicts.warnings(i)]
                    lines.append(json.dumps({"row": total + i + 1, "valid": not errors, "errors": errors, "warnings": warnings}, ensure_ascii=False))
                sys.stdout.write("\n".join(lines) + ("\n" if lines else ""))
            total += len(national)
    except FileRejected as exc:
        _fail(str(exc))
    if not as_json:
        _say(out, f"文件 {file.name}（{ds.name_zh}）：共 {total} 行，合格 {total - invalid} 行，不合格 {invalid} 行")
        top = Counter({k: v for k, v in failures.items() if v}).most_common(10)
        if top:
            rules = {r.id: r for r in expectations.catalogue(dataset)}
            table = Table(title="最常见的问题")
            for col in ("规则", "字段", "行数", "说明"):
                table.add_column(col)
            for rule_id, n in top:
                r = rules.get(rule_id)
                table.add_row(_t(rule_id), _t(getattr(r, "field", "")), str(n), _t(getattr(r, "message", "")))
            out.print(table)
    raise typer.Exit(1 if invalid else 0)


dept_app = typer.Typer(no_args_is_help=True, help="department files: check a connector, scaffold a new file")
app.add_typer(dept_app, name="dept")


@dept_app.command("check")
def dept_check(
    file: Annotated[Path, typer.Argument(help="the department file (departments/<code>.yaml)")],
    samples: Annotated[int, typer.Option(help="sample rows to show per dataset")] = 5,
) -> None:
    """Check a department file against its database (read-only). Exit 0 when usable, 2 when not."""
    from pipeline.dept_check import check_department

    report = check_department(file, samples=samples)
    marks = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "error": "[red]✗[/]"}
    _say(out, f"检查部门配置 {file}")
    for f in report.findings:
        (err if f.level == "error" else out).print(Text.assemble("  ", Text.from_markup(marks[f.level]), " ", f.message), highlight=False)
    for ds, rows in report.samples.items():
        table = Table(title=_t(f"{ds}：最新 {len(rows)} 行映射结果（证件号码已遮蔽）"))
        for col in ("#", "文书号", "行政相对人名称", "结论"):
            table.add_column(col)
        for i, r in enumerate(rows, 1):
            v = r["values"]
            verdict = "合格" if not r["errors"] else "不合格：" + "；".join(r["errors"])
            if r["warnings"]:
                verdict += "（提示：" + "；".join(r["warnings"]) + "）"
            table.add_row(str(i), _t(v.get("CF_WSH") or v.get("XK_WSH")), _t(v.get("CF_XDR_MC") or v.get("XK_XDR_MC")), _t(verdict))
        out.print(table)
    if report.failed:
        raise typer.Exit(2)


@dept_app.command("new")
def dept_new(
    code: Annotated[str, typer.Argument(help="department code, e.g. jtysj")],
    name: Annotated[str | None, typer.Option(help="department name, e.g. 市交通运输局")] = None,
) -> None:
    """Scaffold departments/<code>.yaml from the commented template."""
    from connectors.errors import SourceConfigError
    from pipeline.dept_check import new_department_file
    from pipeline.settings import departments_dir

    try:
        path = new_department_file(code, departments_dir(), name=name)
    except (SourceConfigError, FileExistsError) as exc:
        _fail(str(exc))
    _say(out, f"已生成 {path}：请逐项填写后运行 sgs dept check {path}")


quarantine_app = typer.Typer(no_args_is_help=True, help="问题数据: rows that failed a rule, for feedback to departments")
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("list")
@_store_errors
def quarantine_list(as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout")] = False) -> None:
    """Open quarantined rows per department and rule."""
    import expectations
    from pipeline.settings import store_engine
    from store.queries import quarantine_counts

    rows = quarantine_counts(store_engine())
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    if not rows:
        out.print("没有待处理的问题数据。")
        return
    messages: dict[str, str] = {}
    for ds in ("cf", "xk"):
        messages.update({r.id: r.message for r in expectations.catalogue(ds)})
    table = Table(title="待处理问题数据（按部门、规则）")
    for col in ("部门", "数据集", "规则", "行数", "说明"):
        table.add_column(col)
    for r in rows:
        table.add_row(_t(r["department"]), _t(r["dataset"]), _t(r["rule"]), str(r["rows"]), _t(messages.get(r["rule"], "")))
    out.print(table)


@quarantine_app.command("export")
@_store_errors
def quarantine_export(
    department: Annotated[str, typer.Argument(help="department code")],
    out_file: Annotated[Path, typer.Option("--out", help="the .xlsx to write")],
) -> None:
    """Write the department's open quarantined rows, with every problem in Chinese, to an Excel file."""
    from pipeline.config import ConfigError, find_department
    from pipeline.settings import store_engine
    from reports.feedback import export_feedback
    from store.queries import open_quarantine

    try:
        dept = find_department(department)
    except ConfigError as exc:
        _fail(str(exc))
    if out_file.suffix.lower() != ".xlsx":
        _fail("--out 应是 .xlsx 文件")
    from national.safety import PrivateFileError

    try:
        counts = export_feedback(list(open_quarantine(store_engine(), dept.code)), dept.name, out_file)
    except PrivateFileError as exc:  # --out is a symlink: never written through
        _fail(str(exc))
    total = sum(counts.values())
    detail = "，".join(f"{k} {v} 行" for k, v in counts.items()) or "无"
    _say(out, f"已写出 {dept.name} 的问题数据 {total} 行（{detail}）：{out_file}")


@app.command()
@_store_errors
def report(
    month: Annotated[str | None, typer.Option("--month", help="报告月份 YYYY-MM（默认上个月）")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="输出目录（默认 var/reports）")] = None,
) -> None:
    """The monthly assessment (考核) report: timeliness, completeness, accuracy per department (HTML + Excel)."""
    from pipeline.config import ConfigError, load_departments
    from pipeline.settings import reports_dir, store_engine, today_shanghai
    from reports.build import write_report
    from reports.indicators import previous_month

    month = month or previous_month(today_shanghai())
    try:
        html = write_report(store_engine(), month, out_dir or reports_dir(), departments=load_departments())
    except (ValueError, ConfigError) as exc:  # a bad month or holidays file: a ValueError with a Chinese message
        _fail(str(exc))
    _say(out, f"考核报告：{html}（Excel：{html.with_suffix('.xlsx')}）")


@app.command()
@_store_errors
def declare(
    department: Annotated[str | None, typer.Argument(help="部门代码（用 --file 时省略）")] = None,
    month: Annotated[str | None, typer.Option("--month", help="决定所在月份 YYYY-MM")] = None,
    cf: Annotated[int | None, typer.Option("--cf", help="本月作出的行政处罚决定数")] = None,
    xk: Annotated[int | None, typer.Option("--xk", help="本月作出的行政许可决定数")] = None,
    note: Annotated[str | None, typer.Option("--note", help="说明（可选）")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="申报文件（YAML 或 CSV，见 docs/assessment.md）")] = None,
) -> None:
    """全面性: declare how many decisions a department made in a month (the assessment compares what arrived)."""
    from pipeline.config import ConfigError, load_departments
    from pipeline.settings import store_engine
    from store.declarations import (
        DeclarationError,
        declarations_from_counts,
        read_declarations_file,
        record_declarations,
    )

    try:
        if file is not None:
            if department or month or cf is not None or xk is not None:
                _fail("--file 与部门代码、--month、--cf、--xk 不能同时使用")
            items = read_declarations_file(file)
            source = file.name
        else:
            if not department or not month:
                _fail("请给出部门代码和 --month（或用 --file 导入申报文件）")
            assert department is not None and month is not None
            items = declarations_from_counts(department, month, {"cf": cf, "xk": xk}, note)
            source = "cli"
        known = load_departments()
    except (DeclarationError, ConfigError) as exc:
        _fail(str(exc))
    unknown = sorted({d.department for d in items} - set(known))
    if unknown:
        _fail(f"部门 {', '.join(unknown)} 没有配置文件（departments/）：请检查部门代码")
    for d in items:
        configured = known[d.department].datasets
        if configured and d.dataset not in configured:
            _fail(f"部门 {d.department} 没有配置数据集 {d.dataset}：不能申报它的决定数")
    n = record_declarations(store_engine(), items, source=source)
    for d in items:
        _say(out, f"{d.department} {d.month} {'行政处罚' if d.dataset == 'cf' else '行政许可'}：申报 {d.declared} 件")
    _say(out, f"已记录 {n} 条申报（同一部门、数据集和月份以最后一次申报为准）。")


@app.command("items")
@_store_errors
def items_command(
    file: Annotated[Path, typer.Argument(help="事项目录文件（YAML：department, items）")],
) -> None:
    """事项目录: import a department's catalogue of licence items (replaces its previous catalogue)."""
    from pipeline.config import ConfigError, load_departments
    from pipeline.settings import store_engine
    from store.declarations import DeclarationError, read_catalogue_file, replace_catalogue

    try:
        dept, entries = read_catalogue_file(file)
        known = load_departments()
    except (DeclarationError, ConfigError) as exc:
        _fail(str(exc))
    if dept not in known:
        _fail(f"部门 {dept} 没有配置文件（departments/）：请检查事项目录文件的 department")
    n = replace_catalogue(store_engine(), dept, entries, source=file.name)
    _say(out, f"部门 {dept} 的事项目录已更新：{n} 个许可事项。")


@app.command()
@_store_errors
def push(
    mode: Annotated[Literal["http", "file"] | None, typer.Option(help="http: the province's web service; file: exchange files")] = None,
    conn_id: Annotated[str | None, typer.Option("--conn-id", help="Airflow connection of the province (default sgs_province)")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="records per request / per file")] = None,
    max_batches: Annotated[int | None, typer.Option("--max-batches", help="stop after this many batches")] = None,
    exchange_dir: Annotated[Path | None, typer.Option("--exchange-dir", help="file mode: the exchange folder")] = None,
    header: Annotated[Literal["zh", "code"] | None, typer.Option(help="file mode: Chinese template headers or national codes")] = None,
    receipts: Annotated[bool, typer.Option("--receipts", help="file mode: read the province's receipt files instead of writing batches")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="the run's statistics as JSON on stdout")] = False,
) -> None:
    """Send the store's changes to the provincial platform (推送省平台). Exit 0: done; 1: retry later; 2: fix the configuration."""
    from pydantic import ValidationError

    from pipeline.settings import store_engine
    from upstream.errors import TerminalError, UpstreamError
    from upstream.files import read_receipts
    from upstream.push import push as push_outbox
    from upstream.settings import PushSettings

    try:
        settings = PushSettings.from_env(
            mode=mode, conn_id=conn_id, batch_size=batch_size, max_batches=max_batches, exchange_dir=exchange_dir, header=header,
        )
    except ValidationError as exc:
        _fail("推送设置有误：" + "；".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    if receipts and settings.mode != "file":
        _fail("--receipts 只用于文件交换模式（--mode file）")
    try:
        result = read_receipts(store_engine(), settings) if receipts else push_outbox(store_engine(), settings)
    except TerminalError as exc:
        _fail(f"推送停止，重试无法解决：{exc}", 2)
    except UpstreamError as exc:
        _fail(f"推送未完成，稍后会重试（已推送的记录不会重复）：{exc}", 1)
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    _print_push(result.as_dict())


def _print_push(r: dict[str, Any]) -> None:
    table = Table(title=_t(f"推送省平台（{'文件交换' if r.get('mode') == 'file' else '接口'}，运行 {r.get('run_id')}）"))
    table.add_column("项目")
    table.add_column("数量", justify="right")
    for label, key in (("批次", "batches"), ("发送记录", "records_sent"), ("省平台接收", "accepted"), ("省平台退回", "rejected"),
                       ("无需发送", "not_sent"), ("未收到回执", "no_receipt"), ("重试次数", "retries")):
        table.add_row(label, str(r.get(key, 0)))
    out.print(table)
    outbox = r.get("outbox") or {}
    if outbox:
        _say(out, "推送状态（按记录）：" + "，".join(f"{k} {v}" for k, v in sorted(outbox.items())))
    if r.get("rejected"):
        out.print("被省平台退回的记录已列入各部门的问题数据：用 sgs quarantine export 部门代码 --out 文件.xlsx 导出反馈。")


@app.command()
@_store_errors
def expire(
    today: Annotated[str | None, typer.Option("--today", help="按此日期判断公示期满 YYYY-MM-DD（默认今天，北京时间）")] = None,
) -> None:
    """Withdraw penalties whose publicity period (公示截止期) ended; the withdrawals are changes the next push sends."""
    import datetime as dt

    from pipeline.settings import store_engine
    from upstream.expiry import expire as expire_penalties

    try:
        day = dt.date.fromisoformat(today) if today else None
    except ValueError:
        _fail(f"--today 应是 YYYY-MM-DD 格式的日期，收到 {today!r}")
    counts = expire_penalties(store_engine(), day)
    total = sum(counts.values())
    detail = "，".join(f"{k} {v} 条" for k, v in counts.items()) or "无"
    _say(out, f"公示期满撤回 {total} 条行政处罚（{detail}）；撤回记录已进入发件箱，下次推送时发送省平台。")


@app.command()
@_store_errors
def demo(
    rows: Annotated[int, typer.Option(help="rows per dataset per demo department")] = 1500,
    reset: Annotated[bool, typer.Option(help="recreate the demo department databases")] = False,
) -> None:
    """Create the demo department databases and run every department's ingest once through Airflow."""
    from pipeline.demo import run_demo

    try:
        results = run_demo(rows=rows, reset=reset, console=err)
    except RuntimeError as exc:
        _fail(str(exc), 1)
    from pipeline.demo import run_portal_unit
    from pipeline.settings import store_engine as _store

    results = results + run_portal_unit(_store())  # the 县区 unit that reports only by 方式二 (docs/portal.md)
    _print_results(results)
    _print_demo_inbox()
    from pipeline.config import load_departments
    from pipeline.settings import quality_dir, reports_dir, store_engine, today_shanghai, var_dir
    from upstream.demo import push_to_standin

    with err.status("推送省平台（本地模拟的省平台接口）…"):
        pushed = push_to_standin(store_engine(), workdir=var_dir() / "standin")
    _print_demo_push(pushed)

    index = quality_dir() / "index.html"
    if index.exists():
        _say(out, f"数据质量报告（审计人员用浏览器打开）：{index}")
    from pipeline.settings import data_docs_dir

    if (data_docs_dir() / "index.html").is_file():
        _say(out, f"GX 数据文档（Data Docs，审计用；sgs audit 复核中心库）：{data_docs_dir() / 'index.html'}")
    from reports.build import write_report
    from reports.indicators import latest_month_with_data, previous_month

    engine = store_engine()
    today = today_shanghai()
    month = latest_month_with_data(engine, today) or previous_month(today)
    html = write_report(engine, month, reports_dir(), departments=load_departments())
    _say(out, f"考核报告（{month}，用浏览器打开）：{html}")
    failed = [r for r in results if r["status"] != "success"]
    if failed:
        _fail(f"{len(failed)} 个归集任务失败：{[(r['department'], r['dataset']) for r in failed]}", 1)


def _print_demo_inbox() -> None:
    """方式三 in the demo: the latest file of each department that reports only by file, with its counts (also on
    a second run, when the same file was recognised and not loaded again)."""
    from pipeline.config import load_departments
    from pipeline.settings import store_engine
    from store.inbox import recent

    table = Table(title="文件报送（方式三，收件箱）")
    for col in ("部门", "文件", "入库时间", "读取", "新增", "更新", "未变", "隔离", "回执"):
        table.add_column(col, justify="right" if col in ("读取", "新增", "更新", "未变", "隔离") else "left")
    shown = 0
    for dept in load_departments().values():
        if dept.source is not None:
            continue
        for f in recent(store_engine(), dept.code, 1):
            total = {k: sum(int(m[k]) for m in f.members) for k in ("read", "inserted", "updated", "unchanged", "quarantined")}
            table.add_row(_t(dept.code), _t(f.file_name), _t(_local(f.loaded_at.isoformat())), *(str(v) for v in total.values()),
                          _t(f.receipt_name or "—"))
            shown += 1
    if shown:
        out.print(table)


def _print_demo_push(c: dict[str, int]) -> None:
    table = Table(title="推送省平台（本地模拟的省平台接口）")
    table.add_column("项目")
    table.add_column("数量", justify="right")
    for label, key in (("批次", "batches"), ("发送记录", "sent"), ("省平台接收（回执）", "accepted"),
                       ("省平台退回（回执，已列入问题数据）", "rejected"), ("无需发送", "not_sent"),
                       ("未收到回执", "no_receipt"), ("重试次数", "retries"), ("省平台收到的重复投递", "province_duplicates")):
        table.add_row(label, str(c[key]))
    out.print(table)
    if c["province_applied_twice"]:
        _fail(f"省平台重复入库 {c['province_applied_twice']} 条：推送不是恰好一次，请报告缺陷", 1)


@app.command()
@_store_errors
def withdraw(
    department: Annotated[str, typer.Argument(help="部门代码")],
    dataset: Annotated[DatasetOpt, typer.Argument(help="cf 行政处罚 / xk 行政许可")],
    doc_no: Annotated[str, typer.Argument(metavar="文书号", help="决定文书号（CF_WSH / XK_WSH）")],
    reason: Annotated[str, typer.Option("--reason", help="撤销原因，例如：复议决定撤销原处罚决定")],
) -> None:
    """撤销: withdraw a decision (复议/诉讼 overturned it, entered in error): it leaves the public column at once,
    the next push sends the withdrawal, the history keeps it, and later source rows do not publish it again."""
    from pipeline.settings import store_engine
    from store.lifecycle import LifecycleError, withdraw_decision

    try:
        done = withdraw_decision(store_engine(), department, dataset, doc_no, reason=reason)
    except LifecycleError as exc:
        _fail(str(exc), 1)
    if not done.business_keys:
        _say(out, f"文书号“{doc_no.strip()}”的记录已撤回（{done.already} 条），无需再次撤销。")
        return
    _say(out, f"已撤销 {len(done.business_keys)} 条记录（文书号“{doc_no.strip()}”）：已从专栏撤下，撤回记录已进入发件箱，下次推送时发送省平台。")


repair_app = typer.Typer(no_args_is_help=True, help="信用修复: record repair decisions for penalties, list them")
app.add_typer(repair_app, name="repair")


@repair_app.command("add")
@_store_errors
def repair_add(
    department: Annotated[str, typer.Argument(help="部门代码")],
    doc_no: Annotated[str, typer.Argument(metavar="文书号", help="行政处罚决定书文号（CF_WSH）")],
    number: Annotated[str, typer.Option("--number", help="信用修复决定书文号")],
    date: Annotated[str, typer.Option("--date", help="修复决定日期 YYYY-MM-DD")],
    authority: Annotated[str, typer.Option("--authority", help="作出修复决定的机关")],
    today: Annotated[str | None, typer.Option("--today", help="今天 YYYY-MM-DD（默认北京时间今天）")] = None,
) -> None:
    """Record a 信用修复 decision: the penalty leaves the column (refused before its earliest repair date)."""
    import datetime as dt

    from national.clock import today_shanghai
    from pipeline.settings import store_engine
    from store.lifecycle import LifecycleError, record_repair

    try:
        day = dt.date.fromisoformat(date)
        now_day = dt.date.fromisoformat(today) if today else today_shanghai()
    except ValueError:
        _fail(f"日期应是 YYYY-MM-DD 格式，收到 --date {date!r}" + (f" --today {today!r}" if today else ""))
    try:
        r = record_repair(store_engine(), department, doc_no, number=number, date=day, authority=authority, today=now_day)
    except LifecycleError as exc:
        _fail(str(exc), 1)
    _say(out, f"已记录信用修复（{r.authority} {r.decision_number}，{r.decision_date.isoformat()}）：文书号“{r.doc_no}”的"
              "行政处罚已从专栏撤下，撤回记录已进入发件箱，下次推送时发送省平台。")


@repair_app.command("list")
@_store_errors
def repair_list(
    department: Annotated[str | None, typer.Option("--dept", help="只列此部门")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON 输出")] = False,
) -> None:
    """The recorded 信用修复 decisions, newest first."""
    from pipeline.settings import store_engine
    from store.lifecycle import repairs

    rows = repairs(store_engine(), department)
    if as_json:
        sys.stdout.write(json.dumps([
            {"department": r.department, "doc_no": r.doc_no, "decision_number": r.decision_number,
             "decision_date": r.decision_date.isoformat(), "authority": r.authority,
             "repair_eligible_from": r.repair_eligible_from.isoformat() if r.repair_eligible_from else None,
             "recorded_at": r.recorded_at.isoformat()} for r in rows
        ], ensure_ascii=False, indent=2) + "\n")
        return
    if not rows:
        _say(out, "尚无信用修复记录。")
        return
    table = Table("部门", "处罚文书号", "修复决定书文号", "修复决定日期", "决定机关", "最早可修复日期", title="信用修复")
    for r in rows:
        table.add_row(_t(r.department), _t(r.doc_no), _t(r.decision_number), r.decision_date.isoformat(), _t(r.authority),
                      r.repair_eligible_from.isoformat() if r.repair_eligible_from else "")
    out.print(table)


pools_app = typer.Typer(no_args_is_help=True, help="Airflow pools per source database server (docs/deploy.md)")
app.add_typer(pools_app, name="pools")


@pools_app.command("sync")
def pools_sync(as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout")] = False) -> None:
    """Create or update one Airflow pool per source database server from the department files."""
    from pipeline import airflow_env

    airflow_env.configure()  # before Airflow is imported: the deployment's settings, or the local default
    from sqlalchemy.exc import SQLAlchemyError

    from pipeline.config import loadable_departments
    from pipeline.pools import sync_pools

    try:
        rows = sync_pools(loadable_departments())
    except SQLAlchemyError as exc:  # the metadata DB is not there or not migrated
        _fail(f"无法写入 Airflow 池（{type(exc).__name__}）：请先运行 airflow db migrate，并确认 AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", 1)
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    table = Table(title="Airflow 池（每个源数据库服务器一个）")
    for col in ("池", "槽位", "部门", "操作"):
        table.add_column(col)
    for r in rows:
        table.add_row(_t(r["pool"]), str(r["slots"]), _t(", ".join(r["departments"])), _t(r["action"]))  # type: ignore[arg-type]
    out.print(table)


inbox_app = typer.Typer(no_args_is_help=True, help="方式三 file delivery: the departments' inbox folders (docs/inbox.md)")
app.add_typer(inbox_app, name="inbox")

_INBOX_STATUS = {"loaded": "已入库", "duplicate": "重复文件（未重复入库）", "rejected": "无法使用（已移入 rejected）", "busy": "另一进程正在处理"}


@inbox_app.command("run")
@_store_errors
def inbox_run(
    department: Annotated[str | None, typer.Argument(help="department code; default: every department's inbox")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout")] = False,
) -> None:
    """Load the new files of the inboxes (SGS_INBOX_DIR, default var/inbox/<dept>/). Exit 0: all rows accepted;
    1: some rows quarantined; 2: a file was unusable."""
    from pipeline.config import ConfigError
    from pipeline.inbox import publish_quality, run_inbox
    from pipeline.settings import store_engine

    try:
        result = run_inbox(department)
    except ConfigError as exc:
        _fail(str(exc))
    index = publish_quality(result, store_engine())
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        table = Table(title="收件箱（方式三 文件报送）")
        for col in ("部门", "文件", "结果", "读取", "新增", "更新", "未变", "问题数据", "说明"):
            table.add_column(col, justify="right" if col in ("读取", "新增", "更新", "未变", "问题数据") else "left")
        for f in result.files:
            total = {k: sum(int(m[k]) for m in f.members) for k in ("read", "inserted", "updated", "unchanged", "quarantined")}
            note = f.reason or (f"回执：{f.receipt}" if f.receipt else "")
            table.add_row(_t(f.department), _t(f.name), _t(_INBOX_STATUS[f.status]), *(str(total[k]) for k in total), _t(note))
        if result.files:
            out.print(table)
        else:
            _say(out, "收件箱中没有新文件。")
        for problem in result.problems:
            err.print(Text.assemble(("错误", "bold red"), "：", problem), highlight=False)
        if index:
            _say(out, f"数据质量报告：{index}")
    raise typer.Exit(result.exit_code)


serve_app = typer.Typer(no_args_is_help=True, help="web apps outside Airflow")
app.add_typer(serve_app, name="serve")


@serve_app.command("public")
def serve_public(
    host: Annotated[str, typer.Option(help="listen address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="listen port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """The public column 专栏公示 (anonymous, read-only; SGS_PUBLIC_STORE_URL or the central store; docs/public.md)."""
    from web.public.serve import serve

    try:
        serve(host, port, workers)
    except RuntimeError as exc:
        _fail(str(exc), 2)


@serve_app.command("portal")
def serve_portal(
    host: Annotated[str, typer.Option(help="listen address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="listen port")] = 8010,
) -> None:
    """方式二 在线报送: the department portal (accounts: sgs user add; docs/portal.md)."""
    from web.portal.serve import serve

    try:
        serve(host, port)
    except RuntimeError as exc:
        _fail(str(exc), 2)


user_app = typer.Typer(no_args_is_help=True, help="方式二 portal accounts of department clerks (docs/portal.md)")
app.add_typer(user_app, name="user")


def _new_password(given: str | None) -> tuple[str, bool]:
    """The password from SGS_PORTAL_PASSWORD / the prompt, or a generated one (shown once)."""
    import secrets

    if given:
        return given, False
    env = os.environ.get("SGS_PORTAL_PASSWORD")
    if env:
        return env, False
    if sys.stdin.isatty():
        return typer.prompt("初始密码（留空则自动生成）", default="", hide_input=True, show_default=False) or _generated(secrets), True
    return _generated(secrets), True


def _generated(secrets: Any) -> str:
    from web.portal.accounts import password_problem

    while True:
        p = secrets.token_urlsafe(12) + "-Aa1"
        if password_problem(p) is None:
            return p


@user_app.command("add")
@_store_errors
def user_add(
    department: Annotated[str, typer.Argument(help="部门（或县区单位）代码")],
    login: Annotated[str, typer.Argument(help="登录名")],
    name: Annotated[str, typer.Option("--name", help="姓名")],
) -> None:
    """Open an account; its password (SGS_PORTAL_PASSWORD, the prompt, or generated and shown once) is changed at first login."""
    from pipeline.settings import store_engine
    from web.portal.accounts import AccountError, add_user

    password, _ = _new_password(None)
    try:
        add_user(store_engine(), department, login, name, password)
    except AccountError as exc:
        _fail(str(exc), 1)
    shown = "" if os.environ.get("SGS_PORTAL_PASSWORD") else f"初始密码：{password}（只显示这一次，请当面或以安全方式交给本人）\n"
    sys.stdout.write(f"已开通账号 {login}（{name}，{department}）。{shown}首次登录须修改密码。\n")


@user_app.command("list")
@_store_errors
def user_list(
    department: Annotated[str | None, typer.Option("--dept", help="只列此部门")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON 输出")] = False,
) -> None:
    """The portal accounts (never a password or hash)."""
    from pipeline.settings import store_engine
    from web.portal.accounts import list_users

    rows = list_users(store_engine(), department)
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("登录名", "部门", "姓名", "状态", "开通时间", title="在线报送账号")
    for r in rows:
        state = "已停用" if r["disabled"] else "锁定中" if r["locked"] else "待改密码" if r["must_change"] else "正常"
        table.add_row(_t(r["login"]), _t(r["department"]), _t(r["name"]), state, _local(r["created_at"]))
    out.print(table)


@user_app.command("disable")
@_store_errors
def user_disable(login: Annotated[str, typer.Argument(help="登录名")]) -> None:
    """Disable an account (its sessions end at once)."""
    from pipeline.settings import store_engine
    from web.portal.accounts import AccountError, disable_user

    try:
        disable_user(store_engine(), login)
    except AccountError as exc:
        _fail(str(exc), 1)
    _say(out, f"账号 {login} 已停用。")


@user_app.command("reset-password")
@_store_errors
def user_reset_password(login: Annotated[str, typer.Argument(help="登录名")]) -> None:
    """Set a temporary password (changed at next login); unlocks and re-enables the account."""
    from pipeline.settings import store_engine
    from web.portal.accounts import AccountError, reset_password

    password, _ = _new_password(None)
    try:
        reset_password(store_engine(), login, password)
    except AccountError as exc:
        _fail(str(exc), 1)
    shown = "" if os.environ.get("SGS_PORTAL_PASSWORD") else f"临时密码：{password}（只显示这一次）\n"
    sys.stdout.write(f"账号 {login} 的密码已重置。{shown}下次登录须修改密码。\n")


store_app = typer.Typer(no_args_is_help=True, help="central store administration")
app.add_typer(store_app, name="store")


@store_app.command("grant-public")
@_store_errors
def store_grant_public(
    role: Annotated[str, typer.Option(help="PostgreSQL role of the public column")] = "sgs_public",
) -> None:
    """PostgreSQL: create/update the role that may only SELECT the public read model (LOGIN if SGS_PUBLIC_ROLE_PASSWORD is set)."""
    from pipeline.settings import store_engine
    from store import dialect
    from store.published import grant_public

    engine = store_engine()
    if not dialect.of(engine).roles:
        _fail("grant-public 只用于 PostgreSQL 中央库：SQLite 中央库由专栏以只读方式（mode=ro）打开，无需授权")
    with engine.begin() as conn:
        r = grant_public(conn, role, password=os.environ.get("SGS_PUBLIC_ROLE_PASSWORD") or None)
    _say(out, f"角色 {r['role']}（{'新建' if r['created'] else '已更新'}，{'可登录' if r['login'] else 'NOLOGIN'}）："
              f"仅可读取 {r['schema']} 中的 {', '.join(r['tables'])}")


@store_app.command("rebuild-public")
@_store_errors
def store_rebuild_public() -> None:
    """Rewrite the public column's read model from the records (after restoring the record tables, or a hand edit)."""
    from pipeline.settings import store_engine
    from store.published import rebuild

    with store_engine().begin() as conn:
        counts = rebuild(conn)
    _say(out, f"专栏公示读模型已重建：行政许可 {counts['xk']} 条，行政处罚 {counts['cf']} 条")


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()


if __name__ == "__main__":
    main()
