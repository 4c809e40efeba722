"""``sgs_push_upstream`` and ``sgs_expiry_daily``: parse without heavy imports, structure, and real
``dag.test()`` runs (expiry writes withdrawals, push delivers them to the stand-in)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.upstream.helpers import deliveries, load, penalty
from upstream.standin.server import StandinServer

ROOT = Path(__file__).resolve().parents[2]
OUTBOX_URI = "sgs://central-store/outbox"


def _bag(name: str):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / name))


def test_push_dag_is_triggered_by_the_outbox_asset_and_a_schedule() -> None:
    bag = _bag("sgs_push.py")
    assert bag.import_errors == {}
    dag = bag.dags["sgs_push_upstream"]
    assert [t.task_id for t in dag.tasks] == ["push"] and dag.max_active_runs == 1 and not dag.catchup
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert OUTBOX_URI in repr(timetable) and "*/30 * * * *" in repr(timetable)


def test_expiry_dag_runs_daily_and_updates_the_outbox_asset() -> None:
    bag = _bag("sgs_expiry.py")
    assert bag.import_errors == {}
    dag = bag.dags["sgs_expiry_daily"]
    (task,) = dag.tasks
    assert task.task_id == "expire" and [a.uri for a in task.outlets] == [OUTBOX_URI]
    assert "30 0 * * *" in repr(dag.timetable)


@pytest.mark.parametrize("name", ["sgs_push.py", "sgs_expiry.py"])
def test_parsing_imports_nothing_heavy(name: str) -> None:
    code = (
        "import sys, runpy; import airflow.sdk, pendulum; before=set(sys.modules);"
        "runpy.run_path(sys.argv[1]); added=set(sys.modules)-before;"
        "heavy=sorted(m for m in added if m.split('.')[0] in ('pandas','numpy','httpx','fastapi','uvicorn','upstream','pipeline','store','openpyxl') or m.startswith('sqlalchemy.dialects'));"
        "print('HEAVY:' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "dags" / name)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert [x for x in out.stdout.splitlines() if x.startswith("HEAVY:")] == ["HEAVY:"]


@pytest.mark.airflow
def test_dag_test_expires_and_pushes(sqlite_store: Engine, province: StandinServer, monkeypatch: pytest.MonkeyPatch) -> None:
    load(sqlite_store, [penalty(1), penalty(2)], publicity_end=["2020-01-01", "2099-12-31"])
    monkeypatch.setenv("SGS_STORE_URL", str(sqlite_store.url))
    monkeypatch.setenv("SGS_UPSTREAM_TIMEOUT", "5")
    from pipeline import airflow_env

    airflow_env.migrate_metadata_db()
    run = _bag("sgs_expiry.py").dags["sgs_expiry_daily"].test()
    assert str(run.state) in ("success", "DagRunState.SUCCESS")
    assert [r["operation"] for r in deliveries(sqlite_store)] == ["I", "D"]  # each record once: its current version

    run = _bag("sgs_push.py").dags["sgs_push_upstream"].test()
    assert str(run.state) in ("success", "DagRunState.SUCCESS")
    # Record 1 expired before it was ever pushed: the province needs only the latest state, so it never gets
    # record 1 (nothing to withdraw there); record 2 is accepted.
    assert [r["state"] for r in deliveries(sqlite_store)] == ["accepted", "not_sent"]
    assert province.stats()["records_withdrawn"] == 0 and province.stats()["records_live"] == 1
