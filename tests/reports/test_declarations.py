"""全面性 (issue 17 item 8): monthly declarations of decisions made and the 事项目录, measured against what
arrived, on SQLite and PostgreSQL (the report scenario's store plus licences)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from national import dataset
from reports.indicators import ALL_DATASETS, CITY, Assessment, DepartmentInfo, assess
from reports.render import render_report_html, write_workbook
from reports.workdays import WorkdayCalendar
from store.declarations import (
    DeclarationError,
    LicenceItem,
    declarations_from_counts,
    item_matcher,
    read_catalogue_file,
    read_declarations_file,
    record_declarations,
    replace_catalogue,
)
from store.loader import Batch
from store.runs import finish_run, start_run
from tests.factories import authority_code, load_batch, make_uscc
from tests.reports.scenario import AS_OF, DEPTS, D, at, build_scenario

XK = dataset("xk")
CAL = WorkdayCalendar({})


def licence(wsh: str, decided: dt.date, title: str, certificate: str | None = None) -> dict[str, str | None]:
    import random

    rng = random.Random(wsh)
    authority = authority_code()
    row: dict[str, str | None] = {c: None for c in XK.columns}
    row.update({
        "XK_XDR_MC": "阳泉测试餐饮有限公司", "XK_XDR_LB": "法人及非法人组织", "XK_XDR_SHXYM": make_uscc(rng),
        "XK_FRDB": "王五", "XK_XKWS": title, "XK_WSH": wsh, "XK_XKLB": "普通", "XK_XKZS": certificate,
        "XK_XKBH": wsh.replace("许", "JY"), "XK_NR": "准予许可", "XK_JDRQ": decided.isoformat(),
        "XK_YXQZ": decided.isoformat(), "XK_YXQZI": "2030-12-31", "XK_XKJG": "测试局", "XK_XKJGDM": authority,
        "XK_ZT": "1", "XK_LYDW": "测试局", "XK_LYDWDM": authority,
    })
    return row


def load_licence(engine: Engine, department: str, pk: str, row: dict[str, str | None], when: dt.datetime) -> None:
    run, wm = start_run(engine, department, "xk", "test")
    frame = pd.DataFrame([row], columns=XK.columns, dtype=object)
    batch = Batch(department=department, dataset="xk", national=frame, source_pk=[json.dumps([pk])],
                  raw=[json.dumps({"id": pk}, ensure_ascii=False)], rejected=np.array([False]), issues=[[]],
                  cursor_from=wm, cursor_to=wm)
    with engine.begin() as conn:
        load_batch(conn, run, batch, now=when)
    finish_run(engine, run, status="success")


@pytest.fixture
def scenario(store: Engine) -> Engine:
    """The report scenario (aaa: five March penalties reached the platform by as_of; bbb: one in February, one in
    March) plus three March licences of ccc: two of catalogued items, one of an item not in its 事项目录."""
    build_scenario(store)
    load_licence(store, "ccc", "L1", licence("许〔2025〕1号", D(2025, 3, 3), "食品经营许可决定书"), at(D(2025, 3, 4)))
    load_licence(store, "ccc", "L2", licence("许〔2025〕2号", D(2025, 3, 4), "准予行政许可决定书", "医疗机构执业许可证"),
                 at(D(2025, 3, 5)))
    load_licence(store, "ccc", "L3", licence("许〔2025〕3号", D(2025, 3, 5), "烟花爆竹经营许可决定书"), at(D(2025, 3, 6)))
    return store


def _assess(engine: Engine, as_of: dt.datetime = AS_OF) -> Assessment:
    return assess(engine, "2025-03", departments=DEPTS, as_of=as_of, calendar=CAL)


def test_a_declaration_that_is_met_and_one_that_is_not(scenario: Engine) -> None:
    before = at(D(2025, 3, 31))
    # aaa declares 8 penalties for March but 6 reached the platform (A1–A6; A7 arrives after as_of): short by 2.
    # bbb declares 1 for March and 1 arrived: met. ccc declares its licences (3, met) but not its penalties.
    record_declarations(scenario, declarations_from_counts("aaa", "2025-03", {"cf": 8}), source="cli", now=before)
    record_declarations(scenario, declarations_from_counts("bbb", "2025-03", {"cf": 1}), source="cli", now=before)
    record_declarations(scenario, declarations_from_counts("ccc", "2025-03", {"xk": 3}), source="cli", now=before)
    a = _assess(scenario)
    d = a.declarations.set_index(["department", "dataset", "month"])
    assert (d.loc[("aaa", "cf", "2025-03"), "declared"], d.loc[("aaa", "cf", "2025-03"), "received"]) == (8, 6)
    assert d.loc[("aaa", "cf", "2025-03"), "status"] == "short" and d.loc[("aaa", "cf", "2025-03"), "shortfall"] == 2
    assert d.loc[("bbb", "cf", "2025-03"), "status"] == "met"
    assert d.loc[("ccc", "xk", "2025-03"), "status"] == "met"
    assert d.loc[("ccc", "cf", "2025-03"), "status"] == "undeclared"
    # months of the year to date without a declaration are listed too (bbb had one penalty in February).
    assert d.loc[("bbb", "cf", "2025-02"), "status"] == "undeclared" and d.loc[("bbb", "cf", "2025-02"), "received"] == 1

    aaa = a.row(a.month_table, "aaa", "cf")
    assert aaa is not None and aaa["declared"] == 8 and aaa["declared_received"] == 6
    assert aaa["declared_coverage"] == pytest.approx(6 / 8)
    assert aaa["completeness"] < 1  # the field completeness is unchanged and separate
    bbb = a.row(a.month_table, "bbb", "cf")
    assert bbb is not None and bbb["declared_coverage"] == 1.0
    ccc = a.row(a.month_table, "ccc", ALL_DATASETS)
    assert ccc is not None and ccc["declared_coverage"] == 1.0 and ccc["undeclared_months"] == 1
    city = a.row(a.month_table, CITY, ALL_DATASETS)
    assert city is not None and (city["declared"], city["declared_received"]) == (12, 10)
    ytd = a.row(a.ytd_table, "bbb", "cf")
    assert ytd is not None and ytd["undeclared_months"] == 2  # January and February

    html = render_report_html(a)
    assert "申报核对" in html and "少报 2 件" in html and "75.0%" in html


def test_the_latest_declaration_by_as_of_counts(scenario: Engine) -> None:
    record_declarations(scenario, declarations_from_counts("aaa", "2025-03", {"cf": 8}), source="cli", now=at(D(2025, 3, 31)))
    record_declarations(scenario, declarations_from_counts("aaa", "2025-03", {"cf": 6}), source="cli", now=at(D(2025, 4, 10)))
    a = _assess(scenario)
    first = a.row(a.month_table, "aaa", "cf")
    assert first is not None and first["declared"] == 8
    later = _assess(scenario, at(D(2025, 4, 11)))
    row = later.row(later.month_table, "aaa", "cf")
    # by 11 April the correction (6) counts, and A7 (stored 5 April) has arrived: 7 received ≥ 6 declared.
    assert row is not None and row["declared"] == 6 and row["declared_coverage"] == 1.0


def test_no_declaration_at_all_is_shown_as_undeclared(scenario: Engine) -> None:
    a = _assess(scenario)
    assert set(a.declarations["status"]) == {"undeclared"}
    assert all(v is None for v in a.month_table["declared_coverage"])
    assert "未申报" in render_report_html(a)


def test_licences_whose_item_is_not_in_the_catalogue(scenario: Engine, tmp_path: Path) -> None:
    a = _assess(scenario)
    assert a.no_catalogue == ["ccc"] and a.uncatalogued.empty
    f = tmp_path / "ccc.items.yaml"
    f.write_text(
        "department: ccc\nitems:\n  - {code: '000105001000', name: 食品经营许可}\n"
        "  - {name: 医疗机构执业登记, aliases: [医疗机构执业许可]}\n", encoding="utf-8")
    dept, items = read_catalogue_file(f)
    assert dept == "ccc" and replace_catalogue(scenario, dept, items, source=f.name) == 2
    a = _assess(scenario)
    assert a.no_catalogue == []
    assert a.uncatalogued["wsh"].tolist() == ["许〔2025〕3号"]
    assert a.uncatalogued["item"].tolist() == ["烟花爆竹经营许可决定书"]
    row = a.row(a.month_table, "ccc", "xk")
    assert row is not None and row["uncatalogued"] == 1
    city = a.row(a.month_table, CITY, ALL_DATASETS)
    assert city is not None and city["uncatalogued"] == 1
    html = render_report_html(a)
    assert "烟花爆竹经营许可决定书" in html and "不在事项目录" in html
    book = write_workbook(a, tmp_path / "r.xlsx")
    sheets = pd.read_excel(book, sheet_name=None)
    assert "目录外许可" in sheets and len(sheets["目录外许可"]) == 1 and "申报核对" in sheets


def test_item_matching() -> None:
    m = item_matcher([LicenceItem("食品经营许可", "000105001000", ("食品经营许可证核发",))])
    assert m.matches(None, "食品经营许可决定书", None)
    assert m.matches(None, "准予行政许可决定书", "食品经营许可证")
    assert m.matches("000105001000", "准予行政许可决定书", None)  # 项目名称 holds the item's code
    assert m.matches("食品经营许可证核发", None, None)
    assert not m.matches("食品生产许可", "食品经营许可决定书", None)  # 项目名称 decides when filled, exactly
    assert m.matches("ＦＯＯＤ", None, None) is False and m.matches(None, None, None) is False


def test_declaration_files(tmp_path: Path) -> None:
    y = tmp_path / "d.yaml"
    y.write_text("declarations:\n  - {department: aaa, month: 2025-03, cf: 8, xk: 2, note: 含简易程序}\n", encoding="utf-8")
    got = read_declarations_file(y)
    assert [(d.dataset, d.declared, d.note) for d in got] == [("cf", 8, "含简易程序"), ("xk", 2, "含简易程序")]
    c = tmp_path / "d.csv"
    c.write_text("department,month,cf,xk\naaa,2025-03,8,\nbbb,2025-02,,0\n", encoding="utf-8")
    assert [(d.department, d.dataset, d.declared) for d in read_declarations_file(c)] == [("aaa", "cf", 8), ("bbb", "xk", 0)]
    c2 = tmp_path / "long.csv"
    c2.write_text("department,dataset,month,declared\naaa,cf,2025-03,8\n", encoding="utf-8")
    assert read_declarations_file(c2)[0].declared == 8
    for bad, words in [("department,month,cf\naaa,2025-13,1\n", "月份"), ("department,month,cf\naaa,2025-03,-1\n", "整数"),
                       ("department,month,cf\naaa,2025-03,十\n", "整数"), ("department,month,cf\naaa,2025-03,\n", "没有申报")]:
        c.write_text(bad, encoding="utf-8")
        with pytest.raises(DeclarationError, match=words):
            read_declarations_file(c)


def test_sgs_declare_and_items(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app
    from store.db import make_store_engine
    from store.queries import declarations_as_of

    depts = tmp_path / "departments"
    depts.mkdir()
    repo = Path(__file__).resolve().parents[2] / "departments"
    (depts / "scjgj.yaml").write_text((repo / "scjgj.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(depts))
    monkeypatch.setenv("SGS_STORE_URL", url)
    runner = CliRunner()
    r = runner.invoke(app, ["declare", "scjgj", "--month", "2026-11", "--cf", "120", "--xk", "340"])
    assert r.exit_code == 0, r.output
    assert "已记录 2 条申报" in r.output
    r = runner.invoke(app, ["declare", "nosuch", "--month", "2026-11", "--cf", "1"])
    assert r.exit_code == 2 and "没有配置文件" in r.output
    r = runner.invoke(app, ["declare", "scjgj", "--month", "2026/11", "--cf", "1"])
    assert r.exit_code == 2 and "YYYY-MM" in r.output
    items = tmp_path / "scjgj.items.yaml"
    items.write_text("department: scjgj\nitems: [食品经营许可, 食品生产许可]\n", encoding="utf-8")
    r = runner.invoke(app, ["items", str(items)])
    assert r.exit_code == 0 and "2 个许可事项" in r.output, r.output
    engine = make_store_engine(url)
    got = declarations_as_of(engine, "2026-11", "2026-11", dt.datetime.now(dt.UTC))
    assert sorted((g["dataset"], g["declared"]) for g in got) == [("cf", 120), ("xk", 340)]
    engine.dispose()


def test_department_info_datasets_are_kept() -> None:
    assert DepartmentInfo("x", "x", ("xk",)).datasets == ("xk",)


def test_dashboard_shows_the_declarations(sqlite_store: Engine, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from reports.dashboard import create_app
    from reports.settings import ReportSettings
    from tests.reports.test_dashboard import LOGIN, _test_login

    build_scenario(sqlite_store)
    record_declarations(sqlite_store, declarations_from_counts("aaa", "2025-03", {"cf": 10}), source="cli")
    app = create_app(lambda: sqlite_store, auth=_test_login, departments=lambda: DEPTS, reports_dir=lambda: tmp_path,
                     quality_dir=lambda: tmp_path, settings=ReportSettings())
    client = TestClient(app, headers=LOGIN)
    page = client.get("/?month=2025-03").text
    assert 'id="declarations"' in page and "少报" in page
    rows = {(r["department"], r["dataset"]): r for r in client.get("/api/indicators?month=2025-03").json()["rows"]}
    aaa = rows[("aaa", "cf")]
    assert aaa["declared"] == 10 and aaa["declared_coverage"] == pytest.approx(0.7)  # A1–A7 by now: 7 of 10
    assert rows[("bbb", "cf")]["declared_coverage"] is None
