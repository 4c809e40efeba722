"""回执: the receipt workbook of a file delivered to a department's inbox (方式三, ``pipeline.inbox``).

Sheet 回执: who sent what (file name, SHA-256, size), when it was loaded, and per template file the counts
(read = inserted + updated + unchanged + refused). Sheet 问题数据: every refused row with its file row number, its
document number and party name (ID-like numbers masked) and every problem in Chinese. Every text cell is a
string, never a formula (``national.safety.xlsx_text``): a 文书号 of ``=HYPERLINK(…)`` is shown as sent.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from national import DATASETS
from national.clock import local_text
from national.safety import xlsx_text
from transforms.masking import mask_text

HEAD = PatternFill("solid", fgColor="DDEBF7")
COUNT_HEADERS = ["文件", "数据类别", "读取行数", "新增", "更新", "未变（已有相同记录）", "问题数据（未入库）", "有提示的行（已入库）"]
PROBLEM_HEADERS = ["文件", "数据类别", "行号（表头为第1行）", "决定文书号", "行政相对人名称", "问题数", "问题说明"]


def _row(ws: Any, values: list[Any], *, bold: bool = False) -> None:
    r = ws.max_row + 1 if ws.max_row > 1 or ws.cell(1, 1).value is not None else 1
    for c, v in enumerate(values, 1):
        cell = ws.cell(r, c)
        if isinstance(v, str):
            xlsx_text(cell, v)
        else:
            cell.value = v
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if bold:
            cell.font = Font(bold=True)
            cell.fill = HEAD


def verdict(members: list[dict[str, Any]]) -> str:
    """The receipt's one-line conclusion."""
    read = sum(int(m["read"]) for m in members)
    bad = sum(int(m["quarantined"]) for m in members)
    if not bad:
        return f"全部 {read} 行已入库。"
    return (f"共 {read} 行：{read - bad} 行已入库，{bad} 行有问题未入库（见“问题数据”表）。"
            "请改正这些行后重新报送（只需报送改正的行；已入库的行重复报送不会重复入库）。")


def row_number(source_pk: str) -> tuple[int, int]:
    """(member index, file row number) from a delivered row's source key ``["<file>:<member>", <row>]``."""
    try:
        file_part, row = json.loads(source_pk)
        return int(str(file_part).rsplit(":", 1)[1]), int(row)
    except (ValueError, TypeError, IndexError):
        return 0, 0


def write_receipt(
    out: Path, *, department: str, department_name: str, file_name: str, content_hash: str, size: int,
    loaded_at: dt.datetime, members: list[dict[str, Any]], problems: list[dict[str, Any]],
) -> Path:
    """Write the receipt workbook to ``out`` (the caller makes it appear atomically); returns ``out``."""
    wb = Workbook()
    ws = wb.active
    ws.title = "回执"
    for label, value in (
        ("报送单位", f"{department_name}（{department}）"),
        ("文件名", mask_text(file_name)),
        ("文件指纹（SHA-256）", content_hash),
        ("文件大小（字节）", size),
        ("入库时间（北京时间）", local_text(loaded_at, "%Y-%m-%d %H:%M:%S")),
        ("结论", verdict(members)),
    ):
        _row(ws, [label, value])
        ws.cell(ws.max_row, 1).font = Font(bold=True)
    _row(ws, [])
    _row(ws, COUNT_HEADERS, bold=True)
    for m in members:
        _row(ws, [mask_text(m["name"]), DATASETS[m["dataset"]].name_zh, m["read"], m["inserted"], m["updated"], m["unchanged"],
                  m["quarantined"], m["warnings"]])
    for i, w in enumerate([22, 60, 10, 8, 8, 12, 12, 12], 1):
        ws.column_dimensions[get_column_letter(i)].width = w

    ps = wb.create_sheet("问题数据")
    _row(ps, PROBLEM_HEADERS, bold=True)
    ordered = sorted(problems, key=lambda p: row_number(p["source_pk"]))
    for p in ordered:
        member, row = row_number(p["source_pk"])
        ds = DATASETS[p["dataset"]]
        national = p["national"]
        doc_no = national.get("CF_WSH" if ds.name == "cf" else "XK_WSH")
        party = national.get("CF_XDR_MC" if ds.name == "cf" else "XK_XDR_MC")
        issues = [x for x in p["issues"] if x.get("severity") == "error"] + [x for x in p["issues"] if x.get("severity") != "error"]
        text = "\n".join(
            f"{i}. [{'错误' if x.get('severity') == 'error' else '提示'}] {x.get('message', '')}（{x.get('field', '')}，规则 {x.get('rule', '')}）"
            for i, x in enumerate(issues, 1)
        )
        name = members[member - 1]["name"] if 0 < member <= len(members) else file_name
        _row(ps, [mask_text(name), ds.name_zh, row, mask_text(doc_no), mask_text(party), len(issues), mask_text(text)])
    if not ordered:
        _row(ps, ["没有问题数据：全部行已入库。"])
    ps.freeze_panes = "A2"
    for i, w in enumerate([22, 10, 12, 28, 28, 8, 80], 1):
        ps.column_dimensions[get_column_letter(i)].width = w
    wb.save(out)
    return out
