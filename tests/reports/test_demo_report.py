"""The report from the demo data: the 平定县卫生健康局 demo database (a 县区 unit; a SQLite file, no server needed)
through the demo's replay of its daily syncs (the real ingest, stamped with the replayed days) into a throwaway
store, then the October 2026 report, checked against the store itself."""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from demo import create_demo_sources
from expectations import catalogue
from pipeline.config import load_departments
from pipeline.demo import replay_months
from reports.build import write_report
from reports.indicators import assess
from store.schema import quarantine, record_tables

ROOT = Path(__file__).resolve().parents[2]
MONTH, FIRST, LAST = "2026-10", dt.date(2026, 10, 1), dt.date(2026, 10, 31)


@pytest.fixture
def demo_store(sqlite_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    (src,) = create_demo_sources(tmp_path / "demo", rows=600, prefix=f"sgs_rep_{uuid.uuid4().hex[:8]}_",
                                 departments=["wsjkw"])
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(ROOT / "departments"))
    monkeypatch.setenv("SGS_SOURCE_DATA_DIR", str(tmp_path / "demo" / "sources"))  # where the demo put the file
    dept = load_departments()["wsjkw"]
    assert dept.source.url_env
    monkeypatch.setenv(dept.source.url_env, src.url)
    assert dept.timeliness_from == dt.date(2026, 9, 1) and dept.level == "县区" and dept.region == "140321"
    assert replay_months({"wsjkw": dept}, sqlite_store) > 100  # every working day from 1 September, both datasets
    assert replay_months({"wsjkw": dept}, sqlite_store) == 0  # a second demo run finds it done
    return sqlite_store


def _expected(engine: Engine, ds: str) -> tuple[int, int, int]:
    """(records, stored, incomplete) of October 2026, counted straight from the store tables."""
    t = record_tables[ds]
    jdrq = t.c[f"{ds}_jdrq"]
    required = {r.id for r in catalogue(ds) if r.kind == "required" and r.severity == "error"}
    with engine.connect() as c:
        stored_keys = {r[0] for r in c.execute(sa.select(t.c.business_key).where(jdrq >= FIRST, jdrq <= LAST))}
        all_keys = {r[0] for r in c.execute(sa.select(t.c.business_key))}
        q_only: dict[str, set[str]] = {}
        for pk, bk, national, rule_ids in c.execute(
            sa.select(quarantine.c.source_pk, quarantine.c.business_key, quarantine.c.national, quarantine.c.rule_ids)
            .where(quarantine.c.dataset == ds)
        ):
            decided = json.loads(national).get(f"{ds.upper()}_JDRQ")
            if bk in all_keys or not decided or not FIRST.isoformat() <= decided <= LAST.isoformat():
                continue
            q_only[pk] = set(rule_ids.split(",")) if rule_ids else set()
    incomplete = sum(1 for rules in q_only.values() if rules & required)
    return len(stored_keys) + len(q_only), len(stored_keys), incomplete


def test_report_from_demo_data(demo_store: Engine, tmp_path: Path) -> None:
    depts = load_departments()
    a = assess(demo_store, MONTH, departments=depts)
    for ds in ("cf", "xk"):
        records, stored, incomplete = _expected(demo_store, ds)
        row = a.row(a.month_table, "wsjkw", ds)
        assert row is not None and records > 5
        assert (row["records"], row["stored"]) == (records, stored)
        # The replay loads each row the working day after it was entered (0 to 19 days after the decision): some
        # in time, some late; a row still in quarantine after its deadline is missing.
        assert row["on_time"] > 0 and row["late"] > 0 and row["backfill"] == 0
        assert row["on_time"] + row["late"] == stored and row["assessed"] == row["on_time"] + row["late"] + row["missing"]
        assert 0.2 < row["timeliness"] < 0.9
        assert row["accuracy"] == pytest.approx(stored / records)  # nothing was fixed: first pass = stored
        assert row["completeness"] == pytest.approx((records - incomplete) / records)
    # The other two demo departments were not ingested: they reported nothing.
    assert {("scjgj", "cf"), ("scjgj", "xk"), ("sthjj", "cf"), ("sthjj", "xk")} <= set(
        zip(a.silent["department"], a.silent["dataset"], strict=True)
    )
    assert len(a.overdue) == sum(a.row(a.month_table, "wsjkw", ds)["late"] + a.row(a.month_table, "wsjkw", ds)["missing"]  # type: ignore[index]
                                 for ds in ("cf", "xk"))

    html_path = write_report(demo_store, MONTH, tmp_path / "reports", departments=depts)
    html = html_path.read_text(encoding="utf-8")
    assert "平定县卫生健康局" in html and "阳泉市市场监督管理局" in html and "<svg" in html
    assert "平定县合计" in html and "补录" in html
    # No natural person's ID number of the demo data appears in the report or the workbook.
    ids: set[str] = set()
    with demo_store.connect() as c:
        for ds in ("cf", "xk"):
            t = record_tables[ds]
            ids |= {v for (v,) in c.execute(sa.select(t.c[f"{ds}_xdr_zjhm"])) if v and len(v) == 18}
        for (national,) in c.execute(sa.select(quarantine.c.national)):
            ids |= {v for k, v in json.loads(national).items() if k.endswith("ZJHM") and v and len(v) == 18}
    assert len(ids) > 20
    with zipfile.ZipFile(html_path.with_suffix(".xlsx")) as z:
        workbook = " ".join(z.read(n).decode("utf-8", "ignore") for n in z.namelist())
    assert not [i for i in ids if i in html or i in workbook]


def test_backfill_and_county_totals(demo_store: Engine) -> None:
    """August 2026, before 平定县卫生健康局 joined the platform (1 September): its decisions were loaded as
    backfill on that day and are not assessed for timeliness; the 平定县 total row is the unit's own, the 市直
    total has nothing, and the city is their sum."""
    a = assess(demo_store, "2026-08", departments=load_departments())
    own = a.row(a.month_table, "wsjkw")
    county = a.row(a.month_table, "__region__140321")
    city_depts = a.row(a.month_table, "__region__140300")
    city = a.row(a.month_table, "__city__")
    assert own is not None and county is not None and city_depts is not None and city is not None
    assert own["records"] > 20 and own["backfill"] == own["records"] and own["assessed"] == 0
    assert own["timeliness"] is None or own["timeliness"] != own["timeliness"]  # not assessed: no rate
    assert {k: county[k] for k in ("records", "backfill", "stored")} == {k: own[k] for k in ("records", "backfill", "stored")}
    assert city_depts["records"] == 0
    assert city["records"] == county["records"] + city_depts["records"]
    assert a.department_name("__region__140321") == "平定县合计" and a.region_name("wsjkw") == "平定县"
    assert a.region_name("scjgj") == "市直"


def test_dashboard_shows_county_totals(demo_store: Engine, tmp_path: Path) -> None:
    """The dashboard's page and JSON carry the 县区 column and total rows; a total row is not a drill-down link."""
    from fastapi.testclient import TestClient

    from reports.dashboard import create_app
    from reports.settings import ReportSettings

    app = create_app(lambda: demo_store, auth=lambda: "tester", departments=load_departments,
                     reports_dir=lambda: tmp_path, quality_dir=lambda: tmp_path, settings=ReportSettings())
    client = TestClient(app)
    page = client.get("/", params={"month": MONTH})
    assert page.status_code == 200 and "平定县合计" in page.text and "<th>县区</th>" in page.text
    assert 'href="dept/wsjkw' in page.text and 'href="dept/__region__' not in page.text
    doc = client.get("/api/indicators", params={"month": MONTH}).json()
    totals = {r["department"]: r for r in doc["rows"] if r["dataset"] == "all"}
    assert doc["region_prefix"] == "__region__" and totals["wsjkw"]["region"] == "140321"
    assert totals["__region__140321"]["records"] == totals["wsjkw"]["records"]
    assert totals["__city__"]["records"] == totals["__region__140321"]["records"] + totals["__region__140300"]["records"]
    assert totals["__region__140321"]["region"] is None
