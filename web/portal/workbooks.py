"""The portal's workbooks: the national template to fill in (方式二 批量导入) and a department's 问题数据 to correct.

Both have the template's Chinese headers on the first sheet (what ``connectors.files.open_template`` reads back),
dropdowns for the coded fields (the catalogue's own code lists), and a sheet of instructions. Every text cell is a
string cell, never a formula (``national.safety.xlsx_text``); ID numbers are masked in the 问题数据 download (the
clerk types them again from the file of record).
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

import expectations
from national import dataset as national_dataset
from national.masking import ID_COLUMNS, mask_id_number, mask_text
from national.safety import xlsx_text

HEAD = PatternFill("solid", fgColor="DDEBF7")
RED = PatternFill("solid", fgColor="FFC7CE")
MAX_ROWS_WITH_DROPDOWNS = 5000


def code_lists(dataset: str) -> dict[str, tuple[list[str], str | None]]:
    """National code → (allowed values, ``其他-`` prefix or None) from the rule catalogue's enum rules."""
    out: dict[str, tuple[list[str], str | None]] = {}
    for r in expectations.catalogue(dataset):
        if r.kind == "enum":
            out[r.field] = (list(r.params["values"]), r.params.get("other_prefix"))
    return out


def _header(ws: Any, dataset: str) -> None:
    ds = national_dataset(dataset)
    ws.append([f.name_zh for f in ds.fields])
    for i, cell in enumerate(ws[1], start=1):
        cell.font = Font(bold=True)
        cell.fill = HEAD
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(i)].width = 18
    ws.freeze_panes = "A2"


def _dropdowns(ws: Any, dataset: str, last_row: int) -> None:
    ds = national_dataset(dataset)
    for code, (values, prefix) in code_lists(dataset).items():
        col = get_column_letter(ds.columns.index(code) + 1)
        dv = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=True,
                            showErrorMessage=prefix is None)  # 其他-… may be typed where the list allows it
        dv.error, dv.errorTitle = "请从下拉列表中选择", "取值不在代码表中"
        ws.add_data_validation(dv)
        dv.add(f"{col}2:{col}{last_row}")


def _instructions(wb: Workbook, dataset: str, extra: list[str]) -> None:
    ds = national_dataset(dataset)
    ws = wb.create_sheet("填报说明")
    lists = code_lists(dataset)
    lines = [
        f"{ds.name_zh}批量导入模板（国家标准字段）",
        "1. 在第一个工作表中每行填写一条决定，第 1 行的表头不要修改；可删除不用的空行。",
        "2. 日期写成 YYYY-MM-DD（如 2026-01-31）或使用 Excel 日期格式；金额单位为万元。",
        "3. 带下拉箭头的列请从列表中选择；证件类型也可填写“其他-具体证件名称”。",
        "4. 数据来源单位及其代码由平台按登录账号所属单位填写。",
        "5. 保存为 .xlsx 或 .csv（UTF-8 或 GB18030 编码）后，在报送平台“批量导入”页面上传；每行的检查结果会显示在页面上，",
        "   合格的行立即入库，不合格的行进入“问题数据”，可下载后改正、重新上传。",
        *extra,
        "",
        "字段说明：",
    ]
    for line in lines:
        ws.append([line])
    ws.append(["字段代码", "中文名称", "类型", "最大长度", "可选值"])
    for f in ds.fields:
        values = lists.get(f.code)
        shown = "、".join(values[0]) + ("、其他-…" if values and values[1] else "") if values else ""
        row = [f.code, f.name_zh, {"date": "日期", "amount": "金额（万元）", "enum": "代码"}.get(f.kind, "文本"),
               f.max_length or "", shown]
        ws.append([None] * len(row))
        for i, v in enumerate(row, start=1):
            xlsx_text(ws.cell(ws.max_row, i), v)
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 36
    ws.column_dimensions["E"].width = 60


def national_template(dataset: str) -> bytes:
    """The empty template: headers, dropdowns for the coded fields, date columns formatted, instructions."""
    ds = national_dataset(dataset)
    wb = Workbook()
    ws = wb.active
    ws.title = ds.name_zh
    _header(ws, dataset)
    _dropdowns(ws, dataset, MAX_ROWS_WITH_DROPDOWNS)
    _instructions(wb, dataset, [])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def problems_workbook(dataset: str, entries: list[dict[str, Any]]) -> bytes:
    """A department's open 问题数据 of ``dataset`` in the template's layout, ready to correct and upload again:
    cells with a problem filled red with the message as a comment; a sheet lists every row's problems."""
    ds = national_dataset(dataset)
    wb = Workbook()
    ws = wb.active
    ws.title = f"{ds.name_zh}问题数据"
    _header(ws, dataset)
    notes: list[tuple[int, str]] = []
    for n, e in enumerate(entries, start=2):
        values = e["national"]
        by_field: dict[str, list[str]] = {}
        for x in e["issues"]:
            by_field.setdefault(x["field"], []).append(x["message"])
        for i, code in enumerate(ds.columns, start=1):
            v = values.get(code)
            v = mask_id_number(v) if code in ID_COLUMNS else v
            cell = ws.cell(n, i)
            xlsx_text(cell, v if v is not None else None)
            if code in by_field:
                cell.fill = RED
                cell.comment = Comment(mask_text("\n".join(by_field[code])) or "", "报送平台")
        notes.append((n, "\n".join(f"[{'错误' if x['severity'] == 'error' else '提示'}] {x['message']}（{x['field']}）"
                                   for x in e["issues"])))
    _dropdowns(ws, dataset, max(len(entries) + 1, 2) + 500)
    sheet = wb.create_sheet("问题说明")
    sheet.append(["行号", "问题"])
    for n, text in notes:
        sheet.append([n, None])
        xlsx_text(sheet.cell(sheet.max_row, 2), mask_text(text))
    sheet.column_dimensions["B"].width = 100
    _instructions(wb, dataset, ["6. 本文件中标红的单元格有问题（批注中有说明）；个人证件号码已隐去，请按原件重新填写后再上传。"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
