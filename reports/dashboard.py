"""The "双公示" dashboard: a small FastAPI app the Airflow plugin mounts into the Airflow 3 UI.

Pages (all relative links, so the app works under any prefix and inside the UI's iframe):

- ``/``: the indicator dashboard of a month (``?month=YYYY-MM``; default: the latest month with decisions);
- ``/dept/<code>``: one department: indicators, trend, latest runs, open feedback items, top failing rules,
  overdue records, links to its reports;
- ``/api/indicators``: the same indicators as JSON (aggregates only);
- ``/files/<name>``: report files from the reports folder (the monthly assessment report and workbook);
- ``/quality/...``: the data-quality pages (``<var>/quality``: ``index.html``, ``<department>/<dataset>.html``)
  written by the ingest, when they exist;
- ``/gx/uncommitted/data_docs/local_site/...``: GX's Data Docs of the auditors' GX project (``<var>/gx``,
  ``reports.gx_project``): every ingest run's and every ``sgs audit`` batch's validation result. The path is the
  one the files have below ``<var>``, so the quality pages' relative links work here and opened from disk.

Every route sits behind ``auth``, a FastAPI dependency applied to the whole app (``FastAPI(dependencies=…)``),
so no route can forget it. It is a required argument: the plugin passes ``reports.airflow_auth.airflow_user``
(Airflow's own login, see there); tests of the pages alone pass their own.

The app gets its store engine, department list and reports folder through callables, because ``reports``
sits below ``pipeline`` in the layering (design.md) and must not import it; the plugin passes
``pipeline``'s functions. Results are cached for a minute: an assessment reads a year of records.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from sqlalchemy.engine import Engine

from reports.build import report_names
from reports.indicators import (
    ALL_DATASETS,
    CITY,
    INDICATOR_NAMES,
    INDICATORS,
    REGION_PREFIX,
    Assessment,
    DepartmentLike,
    add_months,
    assess,
    latest_month_with_data,
    latest_runs,
    month_key,
    parse_month,
)
from reports.render import (
    DATASET_NAMES,
    DECLARATION_COLUMNS,
    FEEDBACK_COLUMNS,
    OVERDUE_COLUMNS,
    RULE_COLUMNS,
    declaration_rows,
    department_chart,
    environment,
    indicator_columns,
    indicator_rows,
    local,
    named_rows,
    overdue_rows,
    provisional_warning,
    trend_chart,
)
from reports.settings import ReportSettings, load_report_settings

_SAFE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.(html|xlsx)$")
_QUALITY_PAGE = re.compile(r"^(index\.html|gx\.html|[a-z][a-z0-9_]{1,39}/(cf|xk)\.html)$")
#: Data Docs files served: GX writes HTML pages and its static CSS, JS, fonts and images; nothing else.
_DOCS_FILE = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_.\-]{0,200}/){0,8}[A-Za-z0-9_][A-Za-z0-9_.\-]{0,200}"
                        r"\.(html|css|js|png|svg|ico|gif|jpg|woff2?|ttf|eot|map)$")
_DOCS_ROUTE = "/gx/uncommitted/data_docs/local_site"
_MONTH_PARAM = Query(default=None, pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")
RUN_COLUMNS = {
    "id": "运行编号",
    "dataset_name": "数据类别",
    "trigger": "触发方式",
    "status_name": "状态",
    "started": "开始时间",
    "rows_read": "读取",
    "inserted": "新增",
    "updated": "更新",
    "unchanged": "未变",
    "quarantined": "问题数据",
    "error": "错误信息",
}
RUN_STATUS = {"success": "成功", "failed": "失败", "running": "运行中", "interrupted": "中断"}

DepartmentsFactory = Callable[[], Mapping[str, DepartmentLike]]


class _Cache:
    """Assessments by (month, department) for ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[tuple[str, str | None], tuple[float, Assessment]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str | None], make: Callable[[], Assessment]) -> Assessment:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit and now - hit[0] < self.ttl:
                return hit[1]
        value = make()
        with self._lock:
            self._items[key] = (time.monotonic(), value)
        return value


def create_app(
    engine: Callable[[], Engine],
    *,
    auth: Callable[..., Any],
    departments: DepartmentsFactory | None = None,
    reports_dir: Callable[[], Path] | None = None,
    quality_dir: Callable[[], Path] | None = None,
    data_docs_dir: Callable[[], Path] | None = None,
    settings: ReportSettings | None = None,
    cache_seconds: float = 60.0,
) -> FastAPI:
    """The dashboard app. Every argument is a callable evaluated per request (after the first import), so
    creating the app at plugin load touches no database and reads no file.

    ``auth`` is the FastAPI dependency that admits a request (raises ``HTTPException`` otherwise); it runs
    before every route. There is no default: an app without a login must be asked for explicitly."""
    if not callable(auth):
        raise TypeError("create_app(auth=…) needs a FastAPI dependency (the plugin passes reports.airflow_auth.airflow_user)")
    app = FastAPI(
        title="双公示考核看板", docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(auth)]
    )
    cache = _Cache(cache_seconds)

    def _settings() -> ReportSettings:
        return settings or load_report_settings()

    def _departments() -> tuple[Mapping[str, DepartmentLike] | None, list[str]]:
        if departments is None:
            return None, []
        try:
            return departments(), []
        except Exception as exc:  # noqa: BLE001 - a caller's loader: whatever a bad department file makes it
            # raise must not take the dashboard down (the page names the error)
            return None, [f"部门配置读取失败，部门按代码显示：{exc}"]

    def _assessment(month: str, department: str | None = None) -> Assessment:
        def make() -> Assessment:
            depts, notes = _departments()
            a = assess(engine(), month, departments=depts, settings=_settings(), department=department)
            a.notes.extend(notes)
            return a

        return cache.get((month, department), make)

    def _month(month: str | None) -> str:
        if month:
            try:
                parse_month(month)
            except ValueError as exc:
                raise HTTPException(status_code=400, detail=str(exc)) from None
            return month
        today = dt.datetime.now(ZoneInfo(_settings().timezone)).date()
        return latest_month_with_data(engine(), today) or month_key(today)

    def _files() -> list[str]:
        folder = reports_dir() if reports_dir else None
        if folder is None or not folder.is_dir():
            return []
        return sorted((p.name for p in folder.iterdir() if p.is_file() and _SAFE_FILE.match(p.name)), reverse=True)

    def _quality(page: str) -> Path | None:
        folder = quality_dir() if quality_dir else None
        if folder is None or not _QUALITY_PAGE.match(page) or not (folder / page).is_file():
            return None
        return folder / page

    def _data_docs(page: str) -> Path | None:
        """A file of the Data Docs site, or None: only the site's own files (no ``..``, no symlink out)."""
        folder = data_docs_dir() if data_docs_dir else None
        if folder is None or not _DOCS_FILE.match(page) or ".." in page.split("/"):
            return None
        path = (folder / page).resolve()
        root = folder.resolve()
        if root not in path.parents or not path.is_file():
            return None
        return path

    def _cards(a: Assessment) -> list[dict[str, Any]]:
        month_row = a.row(a.month_table, CITY) or {}
        ytd_row = a.row(a.ytd_table, CITY) or {}
        th = a.settings.thresholds
        return [
            {
                "key": k,
                "name": INDICATOR_NAMES[k],
                "month": month_row.get(k),
                "ytd": ytd_row.get(k),
                "threshold": getattr(th, k),
                "below": month_row.get(k) is not None and month_row[k] == month_row[k] and month_row[k] < getattr(th, k),
            }
            for k in INDICATORS
        ]

    @app.get("/", response_class=HTMLResponse)
    def dashboard(month: str | None = _MONTH_PARAM) -> HTMLResponse:
        m = _month(month)
        a = _assessment(m)
        first, _ = parse_month(m)
        this_month = dt.datetime.now(ZoneInfo(a.settings.timezone)).date().replace(day=1)
        newest = max(first, this_month)
        months = [month_key(add_months(newest, -k)) for k in range(24)]
        files = _files()
        html_name, _ = report_names(m)
        page = environment().get_template("dashboard.html").render(
            a=a,
            months=months,
            as_of=local(a.as_of, a.settings.timezone),
            warning=provisional_warning(a),
            calendar_warning=a.calendar_warning,
            cards=_cards(a),
            city_month=a.row(a.month_table, CITY) or {},
            open_items=int(a.feedback["open_items"].sum()) if len(a.feedback) else 0,
            bars=department_chart(a, a.month_table, "各部门本月指标"),
            trend=trend_chart(a),
            columns=indicator_columns(a),
            month_rows=indicator_rows(a, a.month_table),
            month_query=f"?month={m}",
            silent=named_rows(a, a.silent),
            declaration_columns=DECLARATION_COLUMNS,
            declarations=declaration_rows(a, a.month),
            feedback_columns=FEEDBACK_COLUMNS,
            feedback=named_rows(a, a.feedback),
            files=files,
            report_link=f"files/{html_name}" if html_name in files else None,
            quality_index="quality/index.html" if _quality("index.html") else None,
            data_docs=f"{_DOCS_ROUTE[1:]}/index.html" if _data_docs("index.html") else None,
            gx_results="quality/gx.html" if _quality("gx.html") else None,
        )
        return HTMLResponse(page)

    @app.get("/dept/{code}", response_class=HTMLResponse)
    def department_page(code: str, month: str | None = _MONTH_PARAM) -> HTMLResponse:
        if not re.fullmatch(r"[a-z][a-z0-9_]{1,39}", code):
            raise HTTPException(status_code=404, detail="没有这个部门")
        m = _month(month)
        a = _assessment(m, code)
        if code not in a.departments:
            raise HTTPException(status_code=404, detail=f"没有部门 {code}")
        runs = latest_runs(engine(), code)
        run_rows = [
            {
                **{k: ("" if v is None else v) for k, v in r.items()},
                "dataset_name": DATASET_NAMES.get(r["dataset"], r["dataset"]),
                "status_name": RUN_STATUS.get(r["status"], r["status"]),
                "started": local(r["started_at"], a.settings.timezone),
                "error": (r["error"] or "")[:200],
            }
            for r in runs.to_dict("records")
        ]
        files = _files()
        html_name, _ = report_names(m)
        page = environment().get_template("department.html").render(
            a=a,
            code=code,
            name=a.department_name(code),
            as_of=local(a.as_of, a.settings.timezone),
            warning=provisional_warning(a),
            calendar_warning=a.calendar_warning,
            columns=indicator_columns(a),
            month_rows=indicator_rows(a, a.month_table[a.month_table["department"] == code]),
            ytd_rows=indicator_rows(a, a.ytd_table[a.ytd_table["department"] == code]),
            trend=trend_chart(a, code),
            runs=run_rows,
            run_columns=RUN_COLUMNS,
            feedback=named_rows(a, a.feedback),
            feedback_columns=FEEDBACK_COLUMNS,
            top_rules=named_rows(a, a.top_rules.head(10)),
            rule_columns=RULE_COLUMNS,
            overdue=overdue_rows(a, 50),
            overdue_total=len(a.overdue),
            overdue_columns=OVERDUE_COLUMNS,
            month_query=f"?month={m}",
            report_link=f"files/{html_name}" if html_name in files else None,
            quality_links=[
                (DATASET_NAMES[ds], f"../quality/{code}/{ds}.html") for ds in ("cf", "xk") if _quality(f"{code}/{ds}.html")
            ],
            data_docs=f"..{_DOCS_ROUTE}/index.html" if _data_docs("index.html") else None,
        )
        return HTMLResponse(page)

    @app.get("/api/indicators")
    def indicators(month: str | None = _MONTH_PARAM) -> JSONResponse:
        m = _month(month)
        a = _assessment(m)
        rows = []
        for r in a.month_table.to_dict("records"):
            rows.append(
                {
                    "department": r["department"],
                    "department_name": a.department_name(r["department"]),
                    # The 县区 a department belongs to (its code; the city's for a 市直 department); null on the
                    # total rows (the city's, and a 县区's whose ``department`` is ``region_prefix`` + its code).
                    "region": (a.departments[r["department"]].region if r["department"] in a.departments else None),
                    "dataset": r["dataset"],
                    **{k: (None if r[k] is None or r[k] != r[k] else float(r[k])) for k in INDICATORS},
                    **{k: int(r[k]) for k in ("records", "stored", "assessed", "on_time", "late", "missing", "pending",
                                              "backfill", "provisional")},
                    # 全面性 (issue 17 item 8): declared decisions and the share received (None: nothing declared)
                    "declared": None if r.get("declared") is None else int(r["declared"]),
                    "declared_coverage": None if r.get("declared_coverage") is None else float(r["declared_coverage"]),
                    "undeclared_months": int(r.get("undeclared_months") or 0),
                    "uncatalogued": int(r.get("uncatalogued") or 0),
                }
            )
        return JSONResponse(
            {
                "month": m,
                "as_of": a.as_of.isoformat(),
                "thresholds": a.settings.thresholds.model_dump(),
                "provisional_years": a.provisional_years,
                "provisional_basis": {str(y): b for y, b in a.provisional_basis.items()},
                "calendar_warning": a.calendar_warning,
                "silent": [{"department": d, "dataset": ds} for d, ds in zip(a.silent["department"], a.silent["dataset"], strict=True)],
                "rows": rows,
                "all_datasets": ALL_DATASETS,
                "city": CITY,
                "region_prefix": REGION_PREFIX,
            }
        )

    @app.get("/files/{name}")
    def report_file(name: str) -> FileResponse:
        folder = reports_dir() if reports_dir else None
        if folder is None or not _SAFE_FILE.match(name) or not (folder / name).is_file():
            raise HTTPException(status_code=404, detail="没有这个报告文件")
        return FileResponse(folder / name)

    @app.get("/quality/{page:path}")
    def quality_page(page: str) -> FileResponse:
        path = _quality(page)
        if path is None:
            raise HTTPException(status_code=404, detail="没有这个数据质量报告")
        return FileResponse(path, media_type="text/html")

    @app.get(_DOCS_ROUTE + "/{page:path}")
    def data_docs_file(page: str) -> FileResponse:
        path = _data_docs(page)
        if path is None:
            raise HTTPException(status_code=404, detail="没有这个 GX 数据文档页面")
        return FileResponse(path)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
