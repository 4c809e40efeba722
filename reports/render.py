"""Turning an :class:`~reports.indicators.Assessment` into Chinese tables: the HTML report and the Excel workbook.

Templates are Python strings (``reports/templates.py``) rendered with Jinja2 and autoescaping, so every value
from the store is escaped. Every text cell that comes from a record passes through
:func:`transforms.masking.mask_text` before it is written (design.md invariant 5).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import pandas as pd

from national.safety import private_dir, private_file, xlsx_text, xlsx_value
from reports import charts
from reports.indicators import ALL_DATASETS, CITY, INDICATOR_NAMES, INDICATORS, REGION_PREFIX, Assessment
from reports.templates import BASE_CSS, TEMPLATES
from reports.workdays import BASIS_LABELS, BASIS_NAMES
from transforms.masking import mask_text

DATASET_NAMES = {"cf": "行政处罚", "xk": "行政许可", ALL_DATASETS: "合计"}
STATUS_NAMES = {"late": "逾期入库", "missing": "逾期未入库", "on_time": "按时入库", "pending": "未到期", "exempt": "补录（不考核）",
                "no_date": "决定日期无效"}

#: Indicator table columns: key → Chinese header.
INDICATOR_COLUMNS: dict[str, str] = {
    "department_name": "部门",
    "dataset_name": "数据类别",
    "records": "报送量",
    "stored": "入库量",
    "assessed": "应考核（已到期）",
    "on_time": "按时入库",
    "late": "逾期入库",
    "missing": "逾期未入库",
    "pending": "未到期",
    "backfill": "补录（不考核及时率）",
    "timeliness": "及时率",
    "completeness": "完整率",
    "accuracy": "准确率（一次通过率）",
    "upstream_rejected": "上报退回率",
    "declared": "申报决定数",
    "declared_coverage": "申报到达率",
    "uncatalogued": "目录外许可",
}
#: 全面性: the declarations table (declared vs received per month).
DECLARATION_COLUMNS: dict[str, str] = {
    "department_name": "部门",
    "dataset_name": "数据类别",
    "month": "月份",
    "declared_text": "申报决定数",
    "received": "到达记录数",
    "status_name": "核对结果",
}
DECLARATION_STATUS = {"met": "已到齐", "short": "少报", "undeclared": "未申报"}
#: Licences whose item is not in the department's 事项目录.
UNCATALOGUED_COLUMNS: dict[str, str] = {
    "department_name": "部门",
    "wsh": "决定文书号",
    "xkbh": "许可编号",
    "item": "许可事项（项目名称或文书名称）",
    "decision_date": "决定日期",
}
#: Indicator table column shown when some deadlines are provisional: records whose deadline is provisional.
PROVISIONAL_COLUMN = "其中临时截止日期"
OVERDUE_COLUMNS: dict[str, str] = {
    "department_name": "部门",
    "dataset_name": "数据类别",
    "wsh": "决定文书号",
    "xkbh": "许可编号",
    "decision_date": "决定日期",
    "deadline": "公示截止（第7个工作日）",
    "loaded_local": "入库日期",
    "published_local": "公示日期",
    "status_name": "情况",
    "days_late": "逾期天数",
    "provisional_name": "截止日期依据",
}
FEEDBACK_COLUMNS: dict[str, str] = {
    "department_name": "部门",
    "dataset_name": "数据类别",
    "open_items": "待整改问题数据",
    "overdue_items": "超期未整改",
    "oldest_days": "最早一条已等待（天）",
    "median_days": "等待天数中位数",
}
RULE_COLUMNS: dict[str, str] = {
    "department_name": "部门",
    "dataset_name": "数据类别",
    "rule": "规则编号",
    "description": "问题",
    "rows": "条数",
}


def pct(v: Any) -> str:
    """A share as ``95.0%``; ``—`` when there is nothing to measure."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "—"
    return f"{float(v) * 100:.1f}%"


def _text(v: Any) -> Any:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, str):
        return mask_text(v)
    return v


def indicator_rows(a: Assessment, table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of an indicator table with Chinese department and dataset names, in display order."""
    rows = []
    for r in table.to_dict("records"):
        r["department_name"] = a.department_name(r["department"])
        r["dataset_name"] = DATASET_NAMES.get(r["dataset"], r["dataset"])
        r["region_name"] = "" if _is_group(r["department"]) else a.region_name(r["department"])
        r["is_total"] = r["dataset"] == ALL_DATASETS or _is_group(r["department"])
        r["below"] = {
            k: r[k] is not None and not pd.isna(r[k]) and r[k] < getattr(a.settings.thresholds, k) for k in INDICATORS
        }
        rows.append(r)
    return rows


def _is_group(department: str) -> bool:
    """A total row: the city's or a 县区's (not one department's)."""
    return department == CITY or department.startswith(REGION_PREFIX)


def deadline_basis_name(r: Mapping[Any, Any]) -> str:
    """The overdue table's 截止日期依据: the official arrangement, or how a provisional deadline was counted."""
    if not r.get("provisional"):
        return "国务院节假日安排"
    return BASIS_LABELS.get(str(r.get("basis")), BASIS_LABELS["weekdays"])


def indicator_columns(a: Assessment) -> dict[str, str]:
    """The indicator table's columns; with provisional deadlines, a column counting them after 及时率."""
    out: dict[str, str] = {}
    for k, zh in INDICATOR_COLUMNS.items():
        if k == "department_name" and a.has_regions:
            out["region_name"] = "县区"
        out[k] = zh
        if k == "timeliness" and a.provisional_years:
            out["provisional"] = PROVISIONAL_COLUMN
    return out


def overdue_rows(a: Assessment, limit: int | None = None) -> list[dict[str, Any]]:
    frame = a.overdue if limit is None else a.overdue.head(limit)
    rows = []
    for r in frame.to_dict("records"):
        rows.append(
            {
                **{k: _text(v) for k, v in r.items()},
                "department_name": a.department_name(r["department"]),
                "dataset_name": DATASET_NAMES.get(r["dataset"], r["dataset"]),
                "status_name": STATUS_NAMES.get(r["status"], r["status"]),
                "provisional_name": deadline_basis_name(r),
                "days_late": "" if r["days_late"] is None or pd.isna(r["days_late"]) else int(r["days_late"]),
            }
        )
    return rows


def named_rows(a: Assessment, frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for r in frame.to_dict("records"):
        r = {k: _text(v) for k, v in r.items()}
        r["department_name"] = a.department_name(r["department"])
        r["dataset_name"] = DATASET_NAMES.get(r["dataset"], r["dataset"])
        if "median_days" in r and r["median_days"] != "":
            r["median_days"] = round(float(r["median_days"]), 1)
        rows.append(r)
    return rows


def declaration_rows(a: Assessment, month: str | None = None) -> list[dict[str, Any]]:
    """The declarations (申报核对) with Chinese names: every row of the report month (or all months), shortfalls
    and months without a declaration first."""
    frame = a.declarations if month is None else a.declarations[a.declarations["month"] == month]
    order = {"short": 0, "undeclared": 1, "met": 2}
    rows: list[dict[str, Any]] = []
    records = [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]
    for r in sorted(records, key=lambda r: (order.get(r["status"], 3), r["department"], r["dataset"], r["month"])):
        declared = r["declared"]
        rows.append({
            **r,
            "department_name": a.department_name(r["department"]),
            "dataset_name": DATASET_NAMES.get(r["dataset"], r["dataset"]),
            "declared_text": "" if declared is None or pd.isna(declared) else int(declared),
            "status_name": (f"少报 {int(r['shortfall'])} 件" if r["status"] == "short" else DECLARATION_STATUS.get(r["status"], r["status"])),
        })
    return rows


def uncatalogued_rows(a: Assessment, limit: int | None = None) -> list[dict[str, Any]]:
    frame = a.uncatalogued if limit is None else a.uncatalogued.head(limit)
    return [{**{str(k): _text(v) for k, v in r.items()}, "department_name": a.department_name(str(r["department"]))}
            for r in frame.to_dict("records")]


def department_chart(a: Assessment, table: pd.DataFrame, title: str) -> str:
    """Bars per department (both datasets) for the three indicators."""
    part = table[(table["dataset"] == ALL_DATASETS) & ~table["department"].map(_is_group)]
    cats = [a.department_name(c) for c in part["department"]]
    series = {k: [None if pd.isna(v) else float(v) for v in part[k]] for k in INDICATORS}
    return charts.grouped_bars(cats, series, INDICATOR_NAMES, a.settings.thresholds.model_dump(), title=title)


def trend_chart(a: Assessment, department: str = CITY) -> str:
    part = a.trend[a.trend["department"] == department]
    months = part["month"].tolist()
    series = {k: [None if v is None or pd.isna(v) else float(v) for v in part[k]] for k in INDICATORS}
    return charts.trend_lines(
        months, series, INDICATOR_NAMES, a.settings.thresholds.model_dump(),
        title=f"{a.department_name(department)}月度趋势",
    )


def local(ts: dt.datetime | None, tz: str) -> str:
    if ts is None or (isinstance(ts, float) and pd.isna(ts)):
        return ""
    return pd.Timestamp(ts).tz_convert(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.DictLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["pct"] = pct
    env.globals["BASE_CSS"] = BASE_CSS
    return env


def provisional_warning(a: Assessment) -> str | None:
    """The loud sentence about provisional deadlines, or ``None`` when every deadline is official."""
    if not a.provisional_years:
        return None
    years = "、".join(str(y) for y in a.provisional_years)
    how = "；".join(
        f"{y} 年{BASIS_NAMES.get(a.provisional_basis.get(y, 'weekdays'), BASIS_NAMES['weekdays'])}"
        for y in a.provisional_years
    )
    return (
        f"注意：{years} 年的国务院节假日安排（放假和调休上班日期）尚未录入工作日历，"
        f"涉及这些年份的公示截止日期是临时的（{how}；本月 {a.provisional_records} 条记录，"
        f"见指标表“{PROVISIONAL_COLUMN}”列和逾期记录的“截止日期依据”列），及时率可能不准。"
        "请在国务院办公厅发布放假安排后补录该年（reports/holidays.yaml），再重新生成本报告。"
    )


def definitions(a: Assessment) -> list[str]:
    s = a.settings
    out = [
        f"及时率 = 在公示截止日（决定日期后第 {s.deadline_workdays} 个工作日，决定当日不计，按国务院节假日及调休安排；"
        "尚无当年安排的年份按法定节假日临时推算，标注为临时截止日期）"
        "当天或之前进入中心库的记录 ÷ 截止日已到或已入库的记录；截止日未到且尚未入库的记录不计入（“未到期”）。",
        "完整率 = 必填项和条件必填项（规则目录中“未填写”类错误规则）全部填写的记录 ÷ 报送量（含尚在问题数据中的记录）。",
        "准确率（一次校验通过率）= 首次报送即通过国家标准校验并入库的记录 ÷ 报送量；先进入问题数据、整改后才入库的记录不计为通过。",
        "上报退回率 = 被省级平台退回过（回执为退回）的记录 ÷ 已收到省级平台回执（接收或退回）的记录；"
        "尚未上报或尚无回执的记录不计入，没有任何回执时显示“暂无”。",
        "报送量按决定日期所在月份统计（决定日期无效的按首次报送日期）；统计截至 "
        f"{local(a.as_of, s.timezone)}，此后到达的数据不计入。",
        f"问题数据：截至统计时点尚未整改的数据；超过 {s.feedback_overdue_days} 天未整改计为“超期未整改”。",
        "县区：部门配置文件写明层级（市直 / 县区）和所属县区的行政区划代码；有县区单位时，指标表在各部门之后列出"
        "“市直部门合计”和各县区合计，最后是全市合计（全市 = 市直 + 各县区）。",
        "补录：部门接入平台前作出的决定（决定日期早于平台或该部门配置的考核起始日 timeliness_from）在接入时一次补录入库，"
        "计入报送量、完整率和准确率，但不考核及时率，在“补录（不考核及时率）”列中单独列出。",
        "申报到达率（全面性）= 到达平台的记录（每月最多计到申报数）÷ 部门申报的本月决定数（sgs declare 或申报文件，"
        "以统计时点前最后一次申报为准）；未申报的月份不计入，列为“未申报”，没有任何申报时显示“未申报”。",
        "目录外许可 = 许可事项不在部门事项目录中的行政许可记录：有项目名称的按项目名称与事项名称、别名或编码精确比对，"
        "没有项目名称的看文书名称或许可证书名称是否包含事项名称或别名。",
        "报告中不出现证件号码；文书号等文字中疑似身份证号、手机号、银行卡号的数字已打码。",
    ]
    if s.timeliness_from:
        out.append(f"决定日期早于 {s.timeliness_from} 的记录不考核及时率（历史存量补录）。")
    own = sorted((info.timeliness_from, info.name) for info in a.departments.values() if info.timeliness_from)
    if own:
        out.append("各部门考核起始日（此前的决定为补录）：" + "；".join(f"{name} {d}" for d, name in own) + "。")
    return out


def render_report_html(a: Assessment, *, xlsx_name: str | None = None) -> str:
    """The monthly report as one self-contained HTML page (inline CSS and SVG, no JavaScript)."""
    th = a.settings.thresholds
    city_month = a.row(a.month_table, CITY) or {}
    city_ytd = a.row(a.ytd_table, CITY) or {}
    cards = [
        {
            "name": INDICATOR_NAMES[k],
            "month": city_month.get(k),
            "ytd": city_ytd.get(k),
            "threshold": getattr(th, k),
            "below": city_month.get(k) is not None and not pd.isna(city_month.get(k)) and city_month[k] < getattr(th, k),
        }
        for k in INDICATORS
    ]
    return environment().get_template("report.html").render(
        a=a,
        title=f"双公示数据考核报告（{a.period[0].year}年{a.period[0].month}月）",
        generated=local(dt.datetime.now(dt.UTC), a.settings.timezone),
        as_of=local(a.as_of, a.settings.timezone),
        warning=provisional_warning(a),
        calendar_warning=a.calendar_warning,
        cards=cards,
        city_month=city_month,
        bars=department_chart(a, a.month_table, "各部门本月指标"),
        bars_ytd=department_chart(a, a.ytd_table, "各部门年度累计指标"),
        trend=trend_chart(a),
        columns=indicator_columns(a),
        month_rows=indicator_rows(a, a.month_table),
        ytd_rows=indicator_rows(a, a.ytd_table),
        silent=named_rows(a, a.silent),
        declaration_columns=DECLARATION_COLUMNS,
        declarations=declaration_rows(a, a.month),
        uncatalogued_columns=UNCATALOGUED_COLUMNS,
        uncatalogued=uncatalogued_rows(a, a.settings.html_overdue_rows),
        uncatalogued_total=len(a.uncatalogued),
        no_catalogue=[a.department_name(c) for c in a.no_catalogue],
        feedback_columns=FEEDBACK_COLUMNS,
        feedback=named_rows(a, a.feedback),
        rule_columns=RULE_COLUMNS,
        top_rules=named_rows(a, a.top_rules.groupby(["department", "dataset"], sort=False).head(5)),
        overdue_columns=OVERDUE_COLUMNS,
        overdue=overdue_rows(a, a.settings.html_overdue_rows),
        overdue_total=len(a.overdue),
        xlsx_name=xlsx_name,
        definitions=definitions(a),
    )


# --------------------------------------------------------------------------------------------------
# Excel


def _sheet_frame(rows: list[dict[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame([{zh: r.get(k) for k, zh in columns.items()} for r in rows], columns=list(columns.values()))


def write_workbook(a: Assessment, path: Path) -> Path:
    """The workbook: the same tables as the HTML report plus every overdue record. Shares are real numbers
    formatted as percentages, so auditors can sort and sum them. Every text cell is a string cell, never a
    formula (a 文书号 may start with ``=``), and the file is owner-only (``0600``)."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    share_cols = {INDICATOR_COLUMNS[k] for k in (*INDICATORS, "upstream_rejected", "declared_coverage")}
    sheets: dict[str, pd.DataFrame] = {
        "说明": pd.DataFrame(
            {"项目": ["报告月份", "统计截至", "合格线（及时率/完整率/准确率）", *(["临时截止日期"] if a.provisional_years else []),
                      *(["工作日历"] if a.calendar_warning else []),
                      *["口径"] * len(definitions(a)), *["备注"] * len(a.notes)],
             "内容": [a.month, local(a.as_of, a.settings.timezone),
                      " / ".join(pct(getattr(a.settings.thresholds, k)) for k in INDICATORS),
                      *([provisional_warning(a)] if a.provisional_years else []),
                      *([a.calendar_warning] if a.calendar_warning else []), *definitions(a), *a.notes]}
        ),
        "本月指标": _sheet_frame(indicator_rows(a, a.month_table), indicator_columns(a)),
        "年度累计": _sheet_frame(indicator_rows(a, a.ytd_table), indicator_columns(a)),
        "月度趋势": pd.DataFrame(
            [
                {"月份": r["month"], "部门": a.department_name(r["department"]), "报送量": r["records"],
                 "及时率": r["timeliness"], "完整率": r["completeness"], "准确率（一次通过率）": r["accuracy"]}
                for r in a.trend.to_dict("records")
            ],
            columns=["月份", "部门", "报送量", "及时率", "完整率", "准确率（一次通过率）"],
        ),
        "逾期记录": _sheet_frame(overdue_rows(a), OVERDUE_COLUMNS),
        "未报送部门": _sheet_frame(named_rows(a, a.silent), {"department_name": "部门", "dataset_name": "数据类别"}),
        "问题数据": _sheet_frame(named_rows(a, a.feedback), FEEDBACK_COLUMNS),
        "问题规则": _sheet_frame(named_rows(a, a.top_rules), RULE_COLUMNS),
        "申报核对": _sheet_frame(declaration_rows(a), DECLARATION_COLUMNS),
        "目录外许可": _sheet_frame(uncatalogued_rows(a), UNCATALOGUED_COLUMNS),
    }
    share_cols |= {"及时率", "完整率", "准确率（一次通过率）"}
    private_dir(path.parent)
    private_file(path)  # pandas truncates it and keeps the mode
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame = frame.astype(object).where(frame.notna(), None)
            # Masking again is cheap and covers every column, not only those the row helpers mask; it comes
            # before xlsx_value (control characters escaped, over-long text cut), without which openpyxl raises.
            frame = pd.DataFrame(
                {c: [xlsx_value(mask_text(v)) if isinstance(v, str) else v for v in frame[c]] for c in frame.columns},
                index=frame.index, columns=frame.columns, dtype=object,
            )
            frame.to_excel(writer, sheet_name=name, index=False)
            ws = writer.sheets[name]
            # openpyxl (under pandas) makes every string that starts with "=" a formula: set text back to text.
            for row in ws.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str):
                        xlsx_text(cell, cell.value)
            ws.freeze_panes = "A2"
            red = Font(color="C0392B", bold=True)
            for j, col in enumerate(frame.columns, start=1):
                letter = get_column_letter(j)
                width = max([len(str(col))] + [len(str(v)) for v in frame[col].head(200) if v is not None]) + 2
                ws.column_dimensions[letter].width = min(max(width * 1.6, 8), 80 if name == "说明" else 40)
                ws.cell(row=1, column=j).fill = PatternFill("solid", fgColor="DCE6F2")
                if col in share_cols:
                    key = next((k for k in INDICATORS if INDICATOR_COLUMNS[k] == col or INDICATOR_NAMES[k] == col), None)
                    for i in range(2, len(frame) + 2):
                        cell = ws.cell(row=i, column=j)
                        cell.number_format = "0.0%"
                        if key and isinstance(cell.value, float) and cell.value < getattr(a.settings.thresholds, key):
                            cell.font = red
            if name == "说明":
                for row in ws.iter_rows(min_row=2, min_col=2, max_col=2):
                    for cell in row:
                        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return path
