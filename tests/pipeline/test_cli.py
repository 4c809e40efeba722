"""The ``sgs`` command line as a user runs it: real files, real store, exit codes."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from national import dataset
from pipeline.cli import app
from tests.factories import (
    create_penalty_table,
    national_penalty,
    penalty_rows,
    source_env,
    source_sqlite_path,
    write_department,
)

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def penalty_file(path: Path, *, chinese: bool, bad_rows: int = 0, encoding: str = "utf-8") -> Path:
    rng = random.Random(5)
    ds = dataset("cf")
    records = [national_penalty(i, rng) for i in range(1, 6)]
    for r in records[:bad_rows]:
        r["CF_WSH"] = None  # 文书号 is always required
    headers = [f.name_zh if chinese else f.code for f in ds.fields]
    rows = [[r.get(f.code) or "" for f in ds.fields] for r in records]
    if path.suffix == ".csv":
        with path.open("w", encoding=encoding, newline="") as fh:
            w = csv.writer(fh)
            w.writerow(headers)
            w.writerows(rows)
    else:
        wb = Workbook()
        wb.active.append(headers)
        for r in rows:
            wb.active.append(r)
        wb.save(path)
    return path


@pytest.mark.parametrize("name", ["codes.csv", "chinese.xlsx", "gb.csv"])
def test_validate_valid_file_exits_0(tmp_path: Path, name: str) -> None:
    f = penalty_file(tmp_path / name, chinese=name.startswith("chinese") or name == "gb.csv", encoding="gb18030" if name == "gb.csv" else "utf-8")
    result = runner.invoke(app, ["validate", "--dataset", "cf", str(f), "--json"])
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert result.exit_code == 0, result.stdout + str(result.exception)
    assert [x["row"] for x in lines] == [1, 2, 3, 4, 5]
    assert all(x["valid"] and x["errors"] == [] for x in lines)


def test_validate_invalid_rows_exit_1_with_field_codes(tmp_path: Path) -> None:
    f = penalty_file(tmp_path / "bad.xlsx", chinese=False, bad_rows=2)
    result = runner.invoke(app, ["validate", "--dataset", "cf", str(f), "--json"])
    assert result.exit_code == 1
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["valid"] for x in lines] == [False, False, True, True, True]
    assert any(e["field"] == "CF_WSH" for e in lines[0]["errors"])
    summary = runner.invoke(app, ["validate", "--dataset", "cf", str(f)])
    assert summary.exit_code == 1 and "不合格 2 行" in summary.stdout


def test_validate_unusable_files_exit_2(tmp_path: Path) -> None:
    wrong = penalty_file(tmp_path / "cf.csv", chinese=False)
    r = runner.invoke(app, ["validate", "--dataset", "xk", str(wrong)])
    assert r.exit_code == 2 and "--dataset cf" in r.stderr
    junk = tmp_path / "junk.csv"
    junk.write_text("foo,bar\n1,2\n", encoding="utf-8")
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(junk)])
    assert r.exit_code == 2 and "无法识别的表头" in r.stderr
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(broken)])
    assert r.exit_code == 2 and "XLSX" in r.stderr
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(tmp_path / "missing.csv")])
    assert r.exit_code == 2


@pytest.fixture
def sqlite_department(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    src = source_sqlite_path()  # in the SQLite data folder: a source file is read only from there
    engine = sa.create_engine(f"sqlite:///{src}")
    with engine.begin() as c:
        c.execute(create_penalty_table(c).insert(), penalty_rows(25, seed=11))
    engine.dispose()
    depts = tmp_path / "departments"
    depts.mkdir()
    write_department(depts, code="cliju", chunk_rows=10)
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(depts))
    monkeypatch.setenv(source_env("cliju"), f"sqlite:///{src}")
    monkeypatch.setenv("SGS_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    return tmp_path


def test_ingest_status_quarantine_round_trip(sqlite_department: Path) -> None:
    r = runner.invoke(app, ["ingest", "cliju"])
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "cliju" in r.stdout
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    (row,) = status["departments"]
    assert (row["department"], row["dataset"], row["records"], row["open_quarantine"]) == ("cliju", "cf", 23, 2)
    assert row["watermark"] == {"type": "datetime", "value": "2025-06-01T08:25:00"}
    assert row["last_run"]["status"] == "success"

    listing = json.loads(runner.invoke(app, ["quarantine", "list", "--json"]).stdout)
    assert sum(x["rows"] for x in listing if x["department"] == "cliju") >= 2

    out = sqlite_department / "feedback.xlsx"
    r = runner.invoke(app, ["quarantine", "export", "cliju", "--out", str(out)])
    assert r.exit_code == 0, r.stdout + r.stderr
    ws = load_workbook(out)["行政处罚问题数据"]
    assert ws.max_row == 3  # header + 2 problem rows
    assert ws.cell(row=2, column=3).value >= 1
    assert "统一社会信用代码" in ws.cell(row=2, column=4).value


def test_unknown_department_and_bad_file_exit_2(sqlite_department: Path) -> None:
    r = runner.invoke(app, ["ingest", "nosuch"])
    assert r.exit_code == 2 and "没有部门 'nosuch'" in r.stderr and "cliju" in r.stderr
    (sqlite_department / "departments" / "cliju.yaml").write_text("code: cliju\n", encoding="utf-8")
    r = runner.invoke(app, ["ingest", "cliju"])
    assert r.exit_code == 2 and "缺少必填项" in r.stderr


def test_console_script_entry_point_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "--help"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0 and "validate" in out.stdout and "quarantine" in out.stdout


def test_status_warns_when_next_years_holidays_are_missing(sqlite_department: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sgs status` (table and --json) tells operators from 1 November that next year's State Council holiday
    arrangement is missing (issue 17 item 7). The clock is set to chosen days; the calendar is the real one."""
    import datetime as dt

    from reports.workdays import WorkdayCalendar

    y = next(y for y in range(2026, 2200) if not WorkdayCalendar({}).is_known_year(y))  # 2027 with the pins
    monkeypatch.setenv("SGS_HOLIDAYS_FILE", str(sqlite_department / "holidays.yaml"))
    (sqlite_department / "holidays.yaml").write_text("years: {}\n", encoding="utf-8")

    monkeypatch.setattr("national.clock.today_shanghai", lambda: dt.date(y - 1, 10, 31))
    r = runner.invoke(app, ["status", "--json"])
    assert r.exit_code == 0, r.stdout + r.stderr
    cal = json.loads(r.stdout)["calendar"]
    assert cal["missing"] == [] and cal["warning"] is None and cal["years"][str(y)] == "statutory"
    assert "工作日历" not in runner.invoke(app, ["status"]).stderr

    monkeypatch.setattr("national.clock.today_shanghai", lambda: dt.date(y - 1, 11, 1))
    cal = json.loads(runner.invoke(app, ["status", "--json"]).stdout)["calendar"]
    assert cal["missing"] == [y] and f"缺少 {y} 年的国务院节假日安排" in cal["warning"]
    r = runner.invoke(app, ["status"])
    assert r.exit_code == 0 and "工作日历" in r.stderr and f"{y} 年" in r.stderr and "cliju" in r.stdout

    # Once the arrangement is in the override file, the warning stops.
    (sqlite_department / "holidays.yaml").write_text(
        f"years:\n  {y}:\n    source: 测试\n    holidays: [{y}-01-01]\n", encoding="utf-8")
    cal = json.loads(runner.invoke(app, ["status", "--json"]).stdout)["calendar"]
    assert cal["missing"] == [] and cal["warning"] is None and cal["years"][str(y)] == "override"

    # A broken override file is reported, and status still works.
    (sqlite_department / "holidays.yaml").write_text("years: [1]\n", encoding="utf-8")
    r = runner.invoke(app, ["status", "--json"])
    assert r.exit_code == 0 and "工作日历无法读取" in json.loads(r.stdout)["calendar"]["warning"]


def _penalty_csv(path: Path, decision_dates: list[str]) -> Path:
    rng = random.Random(7)
    ds = dataset("cf")
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f.code for f in ds.fields])
        for i, day in enumerate(decision_dates, 1):
            r = national_penalty(i, rng)
            r["CF_JDRQ"], r["CF_YXQ"] = day, "2099-12-31"
            w.writerow([r.get(f.code) or "" for f in ds.fields])
    return path


def test_validate_judges_the_future_by_the_date_in_shanghai_whatever_the_machine_s_zone(tmp_path: Path) -> None:
    """Issue 17 item 6: ingest and ``sgs validate`` judge "not after today" by the same date, Asia/Shanghai's. The
    command runs in a time zone whose date differs from Shanghai's right now (UTC−12 or UTC+14), so a command that
    took the machine's date would judge today's decision as future, or tomorrow's as past."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from national.clock import SHANGHAI, today_shanghai

    now = dt.datetime.now(dt.UTC)
    zone = next(z for z in ("Etc/GMT+12", "Pacific/Kiritimati") if now.astimezone(ZoneInfo(z)).date() != now.astimezone(SHANGHAI).date())
    today = today_shanghai()
    f = _penalty_csv(tmp_path / "cf.csv", [today.isoformat(), (today + dt.timedelta(days=1)).isoformat()])
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "validate", "--dataset", "cf", str(f), "--json"],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT), "TZ": zone})
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert [[e["rule"] for e in x["errors"]] for x in lines] == [[], ["CF-DATE-006"]], (zone, out.stderr)
    assert out.returncode == 1


def test_validate_today_option_fixes_the_date(tmp_path: Path) -> None:
    f = _penalty_csv(tmp_path / "cf.csv", ["2026-06-30"])
    before = runner.invoke(app, ["validate", "--dataset", "cf", str(f), "--json", "--today", "2026-06-29"])
    assert before.exit_code == 1 and "CF-DATE-006" in before.stdout
    on_the_day = runner.invoke(app, ["validate", "--dataset", "cf", str(f), "--json", "--today", "2026-06-30"])
    assert on_the_day.exit_code == 0, on_the_day.stdout
    bad = runner.invoke(app, ["validate", "--dataset", "cf", str(f), "--today", "30.06.2026"])
    assert bad.exit_code == 2 and "--today" in bad.stderr


def test_validate_reports_an_unreadable_decision_date_once(tmp_path: Path) -> None:
    """Issue 17 item 6: not also "公示截止期为空" (CF-REQ-013), which the platform would have derived from it."""
    f = _penalty_csv(tmp_path / "cf.csv", ["2025-02-30"])
    result = runner.invoke(app, ["validate", "--dataset", "cf", str(f), "--json"])
    line = json.loads(result.stdout.splitlines()[0])
    assert [e["rule"] for e in line["errors"]] == ["CF-DATE-001"] and line["warnings"] == []


def test_status_adds_up_per_county(sqlite_department: Path) -> None:
    """A 县区 unit (issue 17 item 10): `sgs status` gives each department's level and area, and the records and
    open 问题数据 per 县区 (the 市直 departments together) and for the city."""
    assert runner.invoke(app, ["ingest", "cliju"]).exit_code == 0
    depts = sqlite_department / "departments"
    county = (depts / "cliju.yaml").read_text(encoding="utf-8").replace("cliju", "xianju").replace("CLIJU", "XIANJU")
    (depts / "xianju.yaml").write_text(county.replace("\nname: ", '\nlevel: 县区\nregion: "140322"\nname: ', 1), encoding="utf-8")
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    levels = {r["department"]: (r["level"], r["region"], r["region_name"]) for r in status["departments"]}
    assert levels == {"cliju": ("市直", "140300", "阳泉市"), "xianju": ("县区", "140322", "盂县")}
    assert status["regions"] == [
        {"region": "140300", "name": "市直部门", "departments": 1, "records": 23, "open_quarantine": 2},
        {"region": "140322", "name": "盂县", "departments": 1, "records": 0, "open_quarantine": 0},
        {"region": None, "name": "全市（阳泉市）", "departments": 2, "records": 23, "open_quarantine": 2},
    ]
    table = runner.invoke(app, ["status"])
    assert table.exit_code == 0 and "按县区汇总" in table.stdout and "盂县" in table.stdout
