"""问题数据反馈: a workbook of a department's open quarantined rows, ready to send back.

One sheet per dataset in the national template's column order with the template's Chinese headers, and
in front of them: the row's key in the department's own system, the number of problems and every
problem in Chinese. Cells of the fields that have a problem are filled red and carry the message as a
comment. Document numbers of natural persons are masked (the department finds the row by its key), and
ID-like numbers in every other cell too, the key included (``["330106********1234"]``). Every text cell is a
string cell, never a formula: a 文书号 of ``=HYPERLINK(…)`` is shown as sent. Control characters (the rows the
CHR rules quarantine) are shown as visible escapes (``\\x1b``) and a value over Excel's cell limit is cut with a
marker (``national.safety.xlsx_value``). The file is owner-only (0600).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from national import dataset as national_dataset
from national.safety import private_dir, private_file, xlsx_text, xlsx_value
from transforms.masking import mask_record, mask_text

RED = PatternFill("solid", fgColor="FFC7CE")
HEAD = PatternFill("solid", fgColor="DDEBF7")
LEAD = ["源系统主键", "首次发现时间", "问题数", "问题说明"]


def export_feedback(rows: list[dict[str, Any]], department_name: str, out: Path) -> dict[str, int]:
    """Write ``rows`` (from ``store.queries.open_quarantine``) to ``out``; returns rows per dataset."""
    wb = Workbook()
    wb.remove(wb.active)
    counts: dict[str, int] = {}
    by_ds: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_ds.setdefault(r["dataset"], []).append(r)
    if not by_ds:
        ws = wb.create_sheet("说明")
        xlsx_text(ws["A1"], f"{department_name}：目前没有待处理的问题数据。")
    for ds_name, items in sorted(by_ds.items()):
        ds = national_dataset(ds_name)
        ws = wb.create_sheet(f"{ds.name_zh}问题数据")
        headers = LEAD + [f"{f.name_zh}\n{f.code}" for f in ds.fields]
        ws.append(headers)
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = HEAD
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for item in items:
            values = mask_record(item["national"])
            problems = [x for x in item["issues"]]
            text = "\n".join(
                f"{i}. [{'错误' if x['severity'] == 'error' else '提示'}] {x['message']}（{x['field']}，规则 {x['rule']}）"
                for i, x in enumerate(problems, 1)
            )
            first_seen = item["first_seen_at"]
            cells = [
                mask_text(item["source_pk"]) if isinstance(item["source_pk"], str) else item["source_pk"],
                first_seen.strftime("%Y-%m-%d %H:%M") if hasattr(first_seen, "strftime") else str(first_seen),
                len(problems),
                mask_text(text),  # a province's rejection reason may quote the record
            ] + [values.get(c) for c in ds.columns]
            # Masked first (an escape next to an ID number would hide it from the mask), then made storable:
            # ws.append raises on a control character.
            ws.append([xlsx_value(v) for v in cells])
            row = ws.max_row
            for cell in ws[row]:
                if isinstance(cell.value, str):
                    xlsx_text(cell, cell.value)  # ws.append made "=…" a formula; it is the department's text
            ws.cell(row=row, column=4).alignment = Alignment(wrap_text=True, vertical="top")
            by_field: dict[str, list[str]] = {}
            for x in problems:
                by_field.setdefault(x["field"], []).append(x["message"])
            for field, messages in by_field.items():
                if field in ds.columns:
                    cell = ws.cell(row=row, column=len(LEAD) + 1 + ds.columns.index(field))
                    cell.fill = RED
                    cell.comment = Comment(xlsx_value(mask_text("\n".join(messages))), "sgs")
        ws.freeze_panes = ws.cell(row=2, column=len(LEAD) + 1)
        widths = [16, 16, 8, 60] + [18] * len(ds.fields)
        for i, w in enumerate(widths, 1):
            ws.column_dimensions[get_column_letter(i)].width = w
        counts[ds_name] = len(items)
    private_dir(out.parent)
    wb.save(private_file(out))  # openpyxl truncates the owner-only file and keeps its mode
    return counts
