"""The monthly report DAG ``sgs_report_monthly``: parses without heavy imports, and a real ``dag.test()``
writes the report of the month given in the run's conf into var/reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.reports.scenario import build_scenario

ROOT = Path(__file__).resolve().parents[2]


def _bag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / "sgs_report.py"))


def test_report_dag_structure() -> None:
    bag = _bag()
    assert bag.import_errors == {}
    dag = bag.dags["sgs_report_monthly"]
    assert [t.task_id for t in dag.tasks] == ["write_report"]
    assert dag.max_active_runs == 1 and "report" in dag.tags and not dag.catchup
    assert "month" in dag.params


def test_report_dag_parsing_imports_nothing_heavy() -> None:
    code = (
        "import sys, runpy; import airflow.sdk, pendulum; before=set(sys.modules);"
        "runpy.run_path(sys.argv[1]); added=set(sys.modules)-before;"
        "heavy=sorted(m for m in added if m.split('.')[0] in ('pandas','numpy','openpyxl','jinja2','reports','pipeline','store') or m.startswith('sqlalchemy.dialects'));"
        "print('HEAVY:' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "dags" / "sgs_report.py")], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert [x for x in out.stdout.splitlines() if x.startswith("HEAVY:")] == ["HEAVY:"]


@pytest.mark.airflow
def test_dag_test_writes_the_report(sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    build_scenario(sqlite_store)
    monkeypatch.setenv("SGS_STORE_URL", str(sqlite_store.url))
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(ROOT / "departments"))
    from pipeline import airflow_env
    from pipeline.settings import var_dir

    airflow_env.migrate_metadata_db()
    run = _bag().dags["sgs_report_monthly"].test(run_conf={"month": "2025-03"})
    assert str(run.state) in ("success", "DagRunState.SUCCESS")
    html = var_dir() / "reports" / "sgs-assessment-2025-03.html"
    assert html.exists() and html.with_suffix(".xlsx").exists()
    assert "双公示数据考核报告（2025年3月）" in html.read_text(encoding="utf-8")
