"""Inbox test helpers: a file-only department, template files, and a snapshot of the store to compare."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from openpyxl import Workbook
from sqlalchemy.engine import Engine

from tests.factories import authority_code, national_penalty

FILE_ONLY_YAML = """\
code: {code}
name: 市测试文件局
uscc: {uscc}
"""

OTHER_UNIT = "11330100MB1234567X"  # shape of a credit code; not the department's


def file_only_department(folder: Path, code: str = "wjju", inbox: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = FILE_ONLY_YAML.format(code=code, uscc=authority_code()) + (f"inbox: {inbox}\n" if inbox else "")
    path = folder / f"{code}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def penalties(n: int, *, seed: int = 1, start: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [national_penalty(i, rng) for i in range(start, start + n)]


def write_csv(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0])
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    columns = list(rows[0])
    ws.append(columns)
    for r in rows:
        ws.append([r[c] for c in columns])
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.data_type = "s"
    wb.save(path)
    return path


def mixed_rows() -> list[dict[str, Any]]:
    """5 good penalties, one with a bad date, one of another unit (and a formula-looking 文书号 among the good)."""
    rows = penalties(7)
    rows[1]["CF_WSH"] = '=HYPERLINK("http://x","点我")'
    rows[5]["CF_JDRQ"] = "2025-13-45"
    rows[6]["CF_SJLYDM"] = OTHER_UNIT
    return rows


def store_state(engine: Engine) -> dict[str, Any]:
    """What a kill must not change: the records (values, version, status, change sequence order), the open
    quarantine, the files loaded, the ingest counters of successful runs."""
    from store.schema import inbox_file, quarantine, record_tables

    cf = record_tables["cf"]
    with engine.connect() as c:
        records = [
            (r.business_key, r.version, r.status, r.operation, bytes(r.content_hash).hex())
            for r in c.execute(sa.select(cf).order_by(cf.c.change_seq))
        ]
        q = sorted(
            (r.source_pk, r.rule_ids, r.status)
            for r in c.execute(sa.select(quarantine.c.source_pk, quarantine.c.rule_ids, quarantine.c.status))
        )
        files = [
            (r.content_hash, r.file_name, json.loads(r.members)[0]["inserted"], r.quarantined, r.receipt_at is not None)
            for r in c.execute(sa.select(inbox_file).order_by(inbox_file.c.id))
        ]
    return {"records": records, "quarantine": q, "files": files}
