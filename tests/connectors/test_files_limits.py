"""Template files are untrusted input: ``sgs validate`` reads them in bounded memory and refuses what cannot be
a template with a clear message (issue 12 item 8). Peak memory is measured in a fresh process (``ru_maxrss``);
bench/file_memory.py measures the large cases (200 MB CSV)."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from typer.testing import CliRunner

import connectors.files as files
from national import dataset
from pipeline.cli import app
from tests.factories import national_penalty

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

# `sgs validate` in a fresh process that reports its own peak resident size.
_MEASURE = """
import resource, sys
from pipeline.cli import app
try:
    app(sys.argv[1:], prog_name="sgs")
finally:
    print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def _rows(n: int, *, seed: int = 5, long_text: int = 0) -> tuple[list[str], list[list[str]]]:
    ds = dataset("cf")
    rng = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        r = national_penalty(i, rng)
        if long_text:
            r["CF_SY"] = "销售不合格产品，" * long_text
        out.append([r.get(f.code) or "" for f in ds.template_fields])
    return [f.name_zh for f in ds.template_fields], out


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _peak_validate(path: Path, **env: str) -> tuple[int, float, str]:
    """(exit code, peak RSS in MB, stderr) of `sgs validate --dataset cf path` in its own process."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, "validate", "--dataset", "cf", str(path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **env},
    )
    kb = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KB"))
    return proc.returncode, kb / 1024, proc.stderr


@pytest.fixture(scope="module")
def baseline_mb(tmp_path_factory: pytest.TempPathFactory) -> float:
    """Peak RSS of `sgs validate` on a 5-row file: the imports, the rule catalogue, the interpreter."""
    header, rows = _rows(5)
    code, mb, err = _peak_validate(_csv(tmp_path_factory.mktemp("base") / "small.csv", header, rows))
    assert code == 0, err
    return mb


def test_large_csv_is_validated_in_bounded_memory(tmp_path: Path, baseline_mb: float) -> None:
    """A 30 MB CSV (the former reader held the bytes, the decoded text and whole frames: +180 MB)."""
    header, template = _rows(200, long_text=150)  # ~4 KB per row: few rows, so validation stays quick
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        i = 0
        while fh.tell() < 30 * 1024 * 1024:
            w.writerow(template[i % len(template)])
            i += 1
    code, mb, err = _peak_validate(path)
    assert code in (0, 1), err  # a verdict, not a crash
    assert mb - baseline_mb < 60, f"peak {mb:.0f} MB vs {baseline_mb:.0f} MB for a 5-row file"


def test_cell_in_column_xfd_is_refused_in_bounded_memory(tmp_path: Path, baseline_mb: float) -> None:
    """One value in XFD1 made the former reader pad every row to 16,384 columns (100 rows: +100 MB, 10 s)."""
    header, rows = _rows(100)
    wb = Workbook()
    for r in [header, *rows]:
        wb.active.append(r)
    wb.active["XFD1"] = "x"
    path = tmp_path / "xfd.xlsx"
    wb.save(path)
    assert path.stat().st_size < 40_000
    code, mb, err = _peak_validate(path)
    assert mb - baseline_mb < 40, f"peak {mb:.0f} MB vs {baseline_mb:.0f} MB for a 5-row file"
    assert code == 2, err
    assert "xfd.xlsx" in err and "XFD" in err and "最多 200 列" in err and "Traceback" not in err


def test_empty_formatted_cell_far_right_is_ignored(tmp_path: Path) -> None:
    """A formatted but empty cell in XFD (the sheet's declared dimension then ends at XFD) changes nothing."""
    header, rows = _rows(5)
    wb = Workbook()
    for r in [header, *rows]:
        wb.active.append(r)
    wb.active["XFD3"].font = Font(bold=True)
    path = tmp_path / "styled.xlsx"
    wb.save(path)
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(path), "--json"])
    assert r.exit_code == 0, r.stdout + r.stderr
    assert [json.loads(x)["row"] for x in r.stdout.splitlines()] == [1, 2, 3, 4, 5]


def test_size_and_column_limits_give_clear_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    header, rows = _rows(40, long_text=100)
    big = _csv(tmp_path / "big.csv", header, rows)  # ~100 KB
    monkeypatch.setenv("SGS_FILE_MAX_MB", "0.05")
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(big)])
    assert r.exit_code == 2 and "big.csv" in r.stderr and "超过上限" in r.stderr and "SGS_FILE_MAX_MB" in r.stderr
    # An XLSX is judged by its unpacked size: a small zip can hold gigabytes of XML.
    wb = Workbook()
    for row in [header, *rows]:
        wb.active.append(row)
    wb.save(tmp_path / "packed.xlsx")
    assert (tmp_path / "packed.xlsx").stat().st_size < 0.05 * 1024 * 1024
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(tmp_path / "packed.xlsx")])
    assert r.exit_code == 2 and "packed.xlsx（解压后）" in r.stderr
    monkeypatch.setenv("SGS_FILE_MAX_MB", "abc")
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(big)])
    assert r.exit_code == 2 and "SGS_FILE_MAX_MB" in r.stderr
    monkeypatch.delenv("SGS_FILE_MAX_MB")

    wide = _csv(tmp_path / "wide.csv", header + [f"备注{i}" for i in range(250)], [row + [""] * 250 for row in rows[:2]])
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(wide)])
    assert r.exit_code == 2 and "wide.csv" in r.stderr
    assert "280 列" in r.stderr and "JT" in r.stderr  # 30 + 250 columns, the last one is JT

    long_line = tmp_path / "oneline.csv"
    with long_line.open("w", encoding="utf-8") as fh:
        fh.write(",".join(header) + "\n" + "x" * (files.MAX_LINE_BYTES + 10))
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(long_line)])
    assert r.exit_code == 2 and "第 2 行超过" in r.stderr


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_chunked_reading_gives_the_output_of_a_single_pass(tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows numbered across chunks, counts summed, blank rows in the middle kept and trailing ones dropped."""
    header, rows = _rows(12, seed=9)
    rows[3][4] = ""  # 文书号 missing: an invalid row in the first chunk
    rows[10][0] = ""  # and one in the last
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        _csv(path, header, rows)
    else:
        wb = Workbook()
        for r in [header, *rows[:6], [], *rows[6:], [], []]:
            wb.active.append(r)
        wb.save(path)
    whole_json = runner.invoke(app, ["validate", "--dataset", "cf", str(path), "--json"])
    whole_text = runner.invoke(app, ["validate", "--dataset", "cf", str(path)])
    monkeypatch.setattr(files, "CHUNK_ROWS", 5)
    parts_json = runner.invoke(app, ["validate", "--dataset", "cf", str(path), "--json"])
    parts_text = runner.invoke(app, ["validate", "--dataset", "cf", str(path)])
    assert whole_json.exit_code == parts_json.exit_code == 1
    assert parts_json.stdout == whole_json.stdout and parts_text.stdout == whole_text.stdout
    lines = [json.loads(x) for x in parts_json.stdout.splitlines()]
    assert [x["row"] for x in lines] == list(range(1, len(rows) + (2 if suffix == ".xlsx" else 1)))
    assert "不合格" in parts_text.stdout


def test_value_under_a_blank_header_in_a_later_chunk_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    header, rows = _rows(12)
    wb = Workbook()
    wb.active.append([*header, None])
    for r in rows:
        wb.active.append([*r, None])
    wb.active.cell(row=11, column=len(header) + 2, value="多出来的值")
    path = tmp_path / "extra.xlsx"
    wb.save(path)
    monkeypatch.setattr(files, "CHUNK_ROWS", 4)
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(path)])
    assert r.exit_code == 2 and "extra.xlsx 第 11 行" in r.stderr and "没有表头" in r.stderr
    # A CSV with a trailing blank header (Excel's "Save as CSV" leaves one) is fine while that column is empty.
    tail = _csv(tmp_path / "tail.csv", [*header, ""], [[*row, ""] for row in rows])
    assert runner.invoke(app, ["validate", "--dataset", "cf", str(tail)]).exit_code == 0
    rows[9] = [*rows[9], "多出来的值"]
    tail = _csv(tmp_path / "tail.csv", [*header, ""], [row if len(row) > len(header) else [*row, ""] for row in rows])
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(tail)])
    assert r.exit_code == 2 and "tail.csv 有无法识别的表头：Unnamed: 30" in r.stderr and "第 11 行" in r.stderr


def _shared_strings_xlsx(path: Path, header: list[str], extra_strings: int, part: str = "xl/sharedStrings.xml") -> Path:
    """A minimal XLSX whose sheet is the header row only, in shared strings, followed in the table by
    ``extra_strings`` short unique strings no cell uses: what a shared-strings bomb looks like."""
    from xml.sax.saxutils import escape

    strings = header + [f"s{i}" for i in range(extra_strings)]
    table = "".join(f"<si><t>{escape(t)}</t></si>" for t in strings)
    cells = "".join(f'<c r="{get_column_letter(j + 1)}1" t="s"><v>{j}</v></c>' for j in range(len(header)))
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            f'<Override PartName="/{part}" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="/{part}"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}"><sheetData><row r="1">{cells}</row></sheetData></worksheet>',
        part: f'<sst xmlns="{main}" count="{len(strings)}" uniqueCount="{len(strings)}">{table}</sst>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return path


def test_shared_strings_have_their_own_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """openpyxl loads the shared strings whole even in read-only mode: a small file with a big table of short
    unique strings (a shared-strings bomb) is refused by the size of that part, also when the part has
    another name (openpyxl finds it by content type)."""
    header, _ = _rows(1)
    plain = _shared_strings_xlsx(tmp_path / "plain.xlsx", header, 0)
    heavy = _shared_strings_xlsx(tmp_path / "heavy.xlsx", header, 12_000)  # ~250 KB of XML, a ~40 KB file
    renamed = _shared_strings_xlsx(tmp_path / "renamed.xlsx", header, 12_000, part="xl/strs.xml")
    assert heavy.stat().st_size < 100 * 1024
    monkeypatch.setenv("SGS_XLSX_SHARED_STRINGS_MB", "0.2")
    for path in (heavy, renamed):
        r = runner.invoke(app, ["validate", "--dataset", "cf", str(path)])
        assert r.exit_code == 2, r.stdout + r.stderr
        assert path.name in r.stderr and "共享字符串" in r.stderr and "SGS_XLSX_SHARED_STRINGS_MB" in r.stderr
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(plain)])  # the header alone is far below the limit
    assert r.exit_code == 0 and "共享字符串" not in r.stderr, r.stdout + r.stderr
    monkeypatch.setenv("SGS_XLSX_SHARED_STRINGS_MB", "abc")
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(plain)])
    assert r.exit_code == 2 and "SGS_XLSX_SHARED_STRINGS_MB" in r.stderr
