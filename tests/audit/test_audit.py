"""``sgs audit`` and the auditors' GX project (issue 17 item 13): the real GX suites run through a GX checkpoint
over the central store's records, every run's result in GX's own Data Docs under ``<var>/gx``.

Stores are real (a SQLite file, a PostgreSQL schema) and filled by the real ingest; the "bad record" is
written straight into ``record_cf``, bypassing the loader, as an intruder or a faulty migration would.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_department, loadable_departments
from pipeline.ingest import ingest
from pipeline.settings import quality_dir, var_dir
from reports.audit import audit
from reports.gx_project import docs_index, project_dir
from reports.quality import publish_run
from store.db import make_store_engine, migrate
from store.schema import record_tables
from tests.factories import (
    create_penalty_table,
    make_id,
    penalty_rows,
    source_env,
    source_sqlite_path,
    write_department,
)

ROWS = penalty_rows(40, seed=21)  # every 10th row has a wrong USCC check digit: 36 stored, 4 quarantined
#: A valid ID number that is written into a 文书号 below: the audit's messages must mask it.
ID_IN_DOC_NO = make_id(random.Random(7))
BAD_ID = "110105194912310021"  # a 身份证 number with a wrong check digit (the right one is X)


def _ingested(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Engine, int]:
    """A store holding the accepted rows of ROWS after one ingest of department ``qju``; the run's id."""
    src = source_sqlite_path()
    engine = sa.create_engine(f"sqlite:///{src}")
    with engine.begin() as c:
        c.execute(create_penalty_table(c).insert(), ROWS)
    depts = tmp_path / "departments"
    depts.mkdir()
    write_department(depts, code="qju", chunk_rows=15)
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(depts))
    monkeypatch.setenv(source_env("qju"), f"sqlite:///{src}")
    monkeypatch.setenv("SGS_STORE_URL", store_url)
    store = make_store_engine(store_url)
    migrate(store)
    result = ingest(load_department(depts / "qju.yaml"), "cf", engine=store, trigger="test")
    assert result.counts.inserted == 36 and result.counts.quarantined == 4
    return store, result.run_id


@pytest.fixture
def sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, int]]:
    store, run_id = _ingested(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, monkeypatch)
    yield store, run_id
    store.dispose()


def _spoil(store: Engine) -> int:
    """Write a bad record straight into record_cf (no loader): a natural person whose 身份证 number has a wrong
    check digit, and whose 文书号 carries a valid ID number. Returns the record's id."""
    t = record_tables["cf"]
    with store.begin() as c:
        rid = c.execute(sa.select(sa.func.min(t.c.id)).where(t.c.cf_xdr_zjhm.is_not(None))).scalar_one()
        c.execute(t.update().where(t.c.id == rid).values(cf_xdr_zjhm=BAD_ID, cf_wsh=f"杭市监罚决〔2025〕{ID_IN_DOC_NO}号"))
    return int(rid)


def _no_id_numbers(text: str, where: str) -> None:
    stored = [r["zjhm"] for r in ROWS if r["zjhm"]] + [BAD_ID, ID_IN_DOC_NO]
    leaked = [i for i in stored if i in text]
    assert not leaked, f"ID number in clear in {where}"


def _gx_files_hold_no_id_numbers() -> None:
    """No ID number, and no value of a record at all (names, 文书号), in the GX project or the list page."""
    files = [f for f in project_dir(var_dir()).rglob("*") if f.is_file() and f.suffix in (".json", ".jsonl", ".html", ".yml")]
    files += [quality_dir() / "gx.html"]
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace")
        _no_id_numbers(text, str(f))
        assert "张三" not in text and "贸易有限公司" not in text and "杭市监罚决" not in text, f"a record's value in {f}"


def test_ingest_run_result_is_saved_in_the_gx_project_and_its_data_docs(sqlite_store: tuple[Engine, int]) -> None:
    store, run_id = sqlite_store
    quality = publish_run(store, run_id, departments=loadable_departments(), out=quality_dir(), gx_root=var_dir())
    gx = project_dir(var_dir())
    assert (gx / "great_expectations.yml").is_file()
    saved = list((gx / "uncommitted" / "validations" / "sgs_cf").glob(f"qju-cf-{run_id}/*/ingest-qju-cf.json"))
    assert len(saved) == 1
    result = json.loads(saved[0].read_text(encoding="utf-8"))
    assert {r["expectation_config"]["meta"]["rule_id"]: r["result"]["unexpected_count"]
            for r in result["results"] if not r["success"]} == {"COM-USCC-002": 4}
    index = docs_index(var_dir())
    page = index.read_text(encoding="utf-8")
    assert "sgs_cf" in page and f"qju-cf-{run_id}" in page
    # the run's own page and the suite's page were rendered
    assert list((index.parent / "validations" / "sgs_cf").rglob("*.html"))
    assert (index.parent / "expectations" / "sgs_cf.html").is_file()
    # the quality pages link to the Data Docs by a relative path that resolves to the index
    quality_index = quality.read_text(encoding="utf-8")
    link = re.search(r'href="([^"]*data_docs[^"]*index\.html)"', quality_index)
    assert link and (quality.parent / link.group(1)).resolve() == index.resolve()
    # GX's index is drawn by CDN scripts: the static list of results works offline and links each result's page
    listing = quality.parent / "gx.html"
    assert 'href="gx.html"' in quality_index and f"qju-cf-{run_id}" in listing.read_text(encoding="utf-8")
    pages = re.findall(r'href="([^"]*/validations/[^"]*\.html)"', listing.read_text(encoding="utf-8"))
    assert len(pages) == 1 and (listing.parent / pages[0]).resolve().is_file()
    dept_page = (quality.parent / "qju" / "cf.html").read_text(encoding="utf-8")
    link = re.search(r'href="([^"]*data_docs[^"]*index\.html)"', dept_page)
    assert link and (quality.parent / "qju" / link.group(1)).resolve() == index.resolve()
    _gx_files_hold_no_id_numbers()


def test_audit_of_a_clean_store_exits_0_and_writes_the_data_docs(sqlite_store: tuple[Engine, int]) -> None:
    res = CliRunner().invoke(app, ["audit", "--dataset", "cf"])
    assert res.exit_code == 0, res.output
    assert "审计通过" in res.output and "36" in res.output
    index = docs_index(var_dir())
    assert index.is_file()
    page = index.read_text(encoding="utf-8")
    assert "sgs_cf" in page and "audit-" in page  # the suite, and the audit's run
    # GX's own checkpoint ran: its definition is in the project, its result in the validations store
    gx = project_dir(var_dir())
    assert (gx / "checkpoints" / "sgs_audit_sgs_cf.json").is_file()
    results = list((gx / "uncommitted" / "validations" / "sgs_cf").glob("audit-*/*/*.json"))
    assert len(results) == 1
    listing = (quality_dir() / "gx.html").read_text(encoding="utf-8")
    assert "审计" in listing and "sgs_store-record_cf" in listing and "通过" in listing
    data = json.loads(results[0].read_text(encoding="utf-8"))
    assert data["success"] is True and data["suite_name"] == "sgs_cf"
    assert {r["result"]["element_count"] for r in data["results"] if "element_count" in r["result"]} >= {36}
    _gx_files_hold_no_id_numbers()


def _check_bad_record_found(output: str) -> None:
    assert "COM-ID-" in output  # the 身份证 rule, by its catalogue id
    _no_id_numbers(output, "the command's output")
    _gx_files_hold_no_id_numbers()


def test_a_bad_record_written_into_the_store_fails_the_audit(sqlite_store: tuple[Engine, int]) -> None:
    store, _ = sqlite_store
    rid = _spoil(store)
    res = CliRunner().invoke(app, ["audit"])
    assert res.exit_code == 1, res.output
    assert "审计未通过" in res.output
    assert f"record_cf #{rid}（部门 qju，文书号 杭市监罚决〔2025〕" in res.output
    _check_bad_record_found(res.output)


def test_audit_on_a_postgresql_store(pg_schema_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = _ingested(pg_schema_url, tmp_path, monkeypatch)
    try:
        res = CliRunner().invoke(app, ["audit", "--dataset", "cf"])
        assert res.exit_code == 0, res.output
        rid = _spoil(store)
        res = CliRunner().invoke(app, ["audit", "--dataset", "cf", "--department", "qju", "--json"])
        assert res.exit_code == 1, res.output
        doc = json.loads(res.stdout)
        errors = [f for f in doc["datasets"][0]["failures"] if f["severity"] == "error"]
        assert errors and all(any(f"#{rid}（" in name for name in f["records"]) for f in errors)
        _check_bad_record_found(res.output)
    finally:
        store.dispose()


def test_audit_reads_the_store_in_bounded_batches(sqlite_store: tuple[Engine, int]) -> None:
    store, _ = sqlite_store
    rid = _spoil(store)
    report = audit(store, var_dir(), datasets=["cf"], batch_rows=10)
    cf = report.datasets[0]
    assert (cf.records, cf.batches, len(cf.results)) == (36, 4, 4)  # 10 + 10 + 10 + 6
    assert report.exit_code == 1
    assert {i for f in cf.errors for i in f.record_ids} == {rid}
    assert all(f.count == 1 for f in cf.errors)


def test_department_filter_and_unusable_audits(sqlite_store: tuple[Engine, int], tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["audit", "--department", "nosuch"])
    assert res.exit_code == 2 and "没有部门 nosuch" in res.output
    res = CliRunner().invoke(app, ["audit", "--department", "qju", "--dataset", "xk"])
    assert res.exit_code == 0 and "没有要审计的记录" in res.output
    os.environ["SGS_STORE_URL"] = f"sqlite:///{tmp_path / 'missing' / 'no.db'}"
    res = CliRunner().invoke(app, ["audit"])
    assert res.exit_code == 2, res.output


def test_a_department_with_its_own_rule_switches_is_judged_by_its_own_suite(sqlite_store: tuple[Engine, int]) -> None:
    """A remark over 512 characters fails CF-LEN-012 (error): exit 1 with the platform's rules; the department's
    file lowers that rule to a warning, so its ingest would have loaded the row, and the audit agrees (exit 0)."""
    store, _ = sqlite_store
    t = record_tables["cf"]
    with store.begin() as c:
        rid = c.execute(sa.select(sa.func.max(t.c.id))).scalar_one()
        c.execute(t.update().where(t.c.id == rid).values(bz="备" * 600))
    res = CliRunner().invoke(app, ["audit", "--dataset", "cf"])
    assert res.exit_code == 1 and "CF-LEN-012" in res.output and f"record_cf #{rid}（" in res.output, res.output
    dept_file = Path(os.environ["SGS_DEPARTMENTS_DIR"]) / "qju.yaml"
    dept_file.write_text(dept_file.read_text(encoding="utf-8") + "rules:\n  CF-LEN-012: {severity: warning}\n",
                         encoding="utf-8")
    res = CliRunner().invoke(app, ["audit", "--dataset", "cf"])
    assert res.exit_code == 0, res.output
    assert "sgs_cf_qju" in res.output and "[提示] cf CF-LEN-012：1 条记录" in res.output
    assert (project_dir(var_dir()) / "expectations" / "sgs_cf_qju.json").is_file()
    assert "sgs_cf_qju" in (quality_dir() / "gx.html").read_text(encoding="utf-8")


def test_sgs_ingest_saves_the_run_in_the_data_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line's ingest (like the Airflow task) saves its run's result in the GX project."""
    src = source_sqlite_path()
    engine = sa.create_engine(f"sqlite:///{src}")
    with engine.begin() as c:
        c.execute(create_penalty_table(c).insert(), ROWS[:12])
    depts = tmp_path / "departments"
    depts.mkdir()
    write_department(depts, code="qju")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(depts))
    monkeypatch.setenv(source_env("qju"), f"sqlite:///{src}")
    monkeypatch.setenv("SGS_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    res = CliRunner().invoke(app, ["ingest", "qju"])
    assert res.exit_code == 0, res.output
    assert f"GX 数据文档（Data Docs）：{docs_index(var_dir())}" in res.output
    assert list((project_dir(var_dir()) / "uncommitted" / "validations" / "sgs_cf").glob("qju-cf-*/*/ingest-qju-cf.json"))
    assert "qju-cf-" in docs_index(var_dir()).read_text(encoding="utf-8")


def test_a_gx_project_that_cannot_be_written_is_exit_2(sqlite_store: tuple[Engine, int]) -> None:
    """Not a finding about the records: exit 2 with one Chinese line, no traceback."""
    (var_dir() / "gx").write_text("not a folder", encoding="utf-8")
    res = CliRunner().invoke(app, ["audit", "--dataset", "cf"])
    assert res.exit_code == 2, res.output
    assert "审计无法完成" in res.output and "Traceback" not in res.output


def test_building_a_suite_keeps_the_active_gx_project(tmp_path: Path) -> None:
    """``build_suite`` needs an active GX context; it used to *build* one (``project_manager.get_project()``),
    replacing the auditors' file project by an ephemeral one (or by a gx/ folder in the working directory)."""
    from great_expectations.data_context.data_context.context_factory import project_manager

    from expectations.gx_suites import build_suite
    from reports.gx_project import open_context

    context = open_context(tmp_path)
    build_suite("xk")
    assert project_manager.get_current_project() is context
