"""Data-quality reports: a GX validation result per run, HTML pages per department, no personal data."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from pipeline.config import load_department, loadable_departments
from pipeline.ingest import ingest
from pipeline.settings import quality_dir
from reports.quality import build_quality_docs, publish_run
from store.db import make_store_engine, migrate
from tests.factories import create_penalty_table, penalty_rows, source_env, source_sqlite_path, write_department


def test_run_leaves_gx_result_and_pages_without_id_numbers(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    src = source_sqlite_path()  # in the SQLite data folder: a source file is read only from there
    engine = sa.create_engine(f"sqlite:///{src}")
    rows = penalty_rows(40, seed=21)
    with engine.begin() as c:
        c.execute(create_penalty_table(c).insert(), rows)
    depts = tmp_path / "departments"
    depts.mkdir()
    write_department(depts, code="qju", chunk_rows=15)
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(depts))
    monkeypatch.setenv(source_env("qju"), f"sqlite:///{src}")
    store = make_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(store)
    result = ingest(load_department(depts / "qju.yaml"), "cf", engine=store, trigger="test")
    assert result.counts.quarantined == 4

    index = publish_run(store, result.run_id, departments=loadable_departments(), out=quality_dir())
    quality = index.parent
    gx_json = json.loads((quality / "qju" / "cf" / "results" / f"{result.run_id}.json").read_text(encoding="utf-8"))
    from great_expectations.core.expectation_validation_result import expectationSuiteValidationResultSchema

    parsed = expectationSuiteValidationResultSchema.load(gx_json)  # GX's own schema accepts the file
    assert parsed["suite_name"] == "sgs_cf" and parsed["success"] is False
    failed = {r["expectation_config"]["meta"]["rule_id"]: r["result"]["unexpected_count"] for r in gx_json["results"] if not r["success"]}
    assert failed == {"COM-USCC-002": 4}
    assert all(r["result"]["element_count"] == 40 for r in gx_json["results"])

    page = (quality / "qju" / "cf.html").read_text(encoding="utf-8")
    assert "市测试监管局" in page and "COM-USCC-002" in page and "校验位" in page
    assert "qju/cf.html" in index.read_text(encoding="utf-8")
    ids = [r["zjhm"] for r in rows if r["zjhm"]]
    assert ids
    for f in quality.rglob("*"):
        if f.is_file():
            text = f.read_text(encoding="utf-8")
            assert not any(i in text for i in ids), f"ID number in {f}"


def test_docs_for_a_department_that_never_ran(tmp_path: Path) -> None:
    depts = tmp_path / "departments"
    depts.mkdir()
    write_department(depts, code="idleju")
    store = make_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(store)
    index = build_quality_docs(store, {"idleju": load_department(depts / "idleju.yaml")}, out=tmp_path / "q")
    assert "尚未运行" in (tmp_path / "q" / "idleju" / "cf.html").read_text(encoding="utf-8")
    assert index.exists()
