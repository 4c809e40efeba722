"""The DAG folder: parse (DagBag), structure, a config-error DAG, and a real ``dag.test()`` run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.factories import create_penalty_table, penalty_rows, source_env, source_sqlite_path, write_department

ROOT = Path(__file__).resolve().parents[2]


def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_every_department_file_gives_one_dag_without_import_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(ROOT / "departments"))
    from pipeline.config import load_department

    files = sorted(p.stem for p in (ROOT / "departments").glob("*.yaml")
                   if not p.name.startswith("_") and load_department(p).source is not None)  # file-only: sgs_inbox
    assert len(files) >= 3, "the demo needs at least three departments"
    bag = dagbag()
    assert bag.import_errors == {}
    ingest_dags = sorted(d for d in bag.dag_ids if d.startswith("sgs_ingest_"))
    assert ingest_dags == [f"sgs_ingest_{f}" for f in files]
    for f in files:
        dag = bag.dags[f"sgs_ingest_{f}"]
        assert dag.max_active_runs == 1 and "sgs" in dag.tags
        assert all(t.task_id.startswith("ingest_") for t in dag.tasks)
        assert all(t.retries >= 1 for t in dag.tasks)


def test_a_broken_department_file_gets_a_failing_dag_and_does_not_hide_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_department(tmp_path, code="goodju")
    (tmp_path / "badju.yaml").write_text("code: badju\nname: 坏\n", encoding="utf-8")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(tmp_path))
    bag = dagbag()
    assert bag.import_errors == {}
    assert {"sgs_ingest_goodju", "sgs_ingest_badju"} <= set(bag.dag_ids)
    assert [t.task_id for t in bag.dags["sgs_ingest_badju"].tasks] == ["config_error"]
    assert "config-error" in bag.dags["sgs_ingest_badju"].tags


def test_a_deeply_nested_department_file_does_not_hide_the_other_dags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that makes the YAML parser recurse past Python's limit used to raise RecursionError out of the
    DAG file: every department's DAG disappeared. Now it is a config-error DAG like any broken file."""
    write_department(tmp_path, code="goodju")
    (tmp_path / "deepju.yaml").write_text("code: deepju\nname: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(tmp_path))
    bag = dagbag()
    assert bag.import_errors == {}
    assert {"sgs_ingest_goodju", "sgs_ingest_deepju"} <= set(bag.dag_ids)
    assert [t.task_id for t in bag.dags["sgs_ingest_deepju"].tasks] == ["config_error"]


def test_ingest_tasks_announce_the_outbox_asset_that_triggers_the_push(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(ROOT / "departments"))
    bag = dagbag()
    outlets = {(a.name, a.uri) for d in bag.dag_ids if d.startswith("sgs_ingest_") for t in bag.dags[d].tasks for a in t.outlets}
    assert outlets == {("sgs_outbox", "sgs://central-store/outbox")}
    expiry = bag.dags["sgs_expiry_daily"].tasks[0]
    assert {a.name for a in expiry.outlets} == {"sgs_outbox"}
    push = bag.dags["sgs_push_upstream"]
    assert "sgs_outbox" in str(push.timetable.asset_condition) or "sgs_outbox" in repr(push.timetable)


def test_parsing_imports_nothing_heavy(tmp_path: Path) -> None:
    """The DAG file adds no pandas, Great Expectations or database drivers to what Airflow itself loads."""
    code = (
        "import sys, runpy; import airflow.sdk, pendulum; before=set(sys.modules);"
        "runpy.run_path(sys.argv[1]); added=set(sys.modules)-before;"
        "heavy=sorted(m for m in added if m.split('.')[0] in ('pandas','great_expectations','numpy','pymysql','psycopg','oracledb','pyodbc','openpyxl') or m.startswith('sqlalchemy.dialects'));"
        "print('HEAVY:' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "dags" / "sgs_ingest.py")], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    heavy = [line for line in out.stdout.splitlines() if line.startswith("HEAVY:")]
    assert heavy == ["HEAVY:"], f"heavy modules imported at parse time: {heavy}"


@pytest.mark.airflow
def test_dag_test_runs_a_department_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = source_sqlite_path()
    engine = sa.create_engine(f"sqlite:///{src}")
    with engine.begin() as c:
        table = create_penalty_table(c)
        c.execute(table.insert(), penalty_rows(30, seed=3))
    engine.dispose()
    write_department(tmp_path, code="dagju", chunk_rows=10)
    store = tmp_path / "store.db"
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(tmp_path))
    monkeypatch.setenv(source_env("dagju"), f"sqlite:///{src}")
    monkeypatch.setenv("SGS_STORE_URL", f"sqlite:///{store}")
    from pipeline import airflow_env

    airflow_env.migrate_metadata_db()
    dag = dagbag().dags["sgs_ingest_dagju"]
    run = dag.test()
    assert str(run.state) in ("success", "DagRunState.SUCCESS")

    from store.schema import ingest_run, record_tables

    check = sa.create_engine(f"sqlite:///{store}")
    with check.connect() as c:
        r = c.execute(sa.select(ingest_run)).mappings().one()
        n = c.execute(sa.select(sa.func.count()).select_from(record_tables["cf"])).scalar_one()
    assert r["trigger"] == "airflow" and r["status"] == "success"
    assert (r["rows_read"], r["inserted"], r["quarantined"]) == (30, 27, 3)
    assert n == 27


def test_an_invalid_schedule_breaks_only_its_own_department(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid ``schedule`` was an import error of the whole DAG file (every department's DAG gone), without
    naming the department; now the department model refuses it and that file gets its own failing DAG."""
    write_department(tmp_path, code="goodju")
    bad = write_department(tmp_path, code="cronju")
    bad.write_text(bad.read_text(encoding="utf-8").replace("name: 市测试监管局", 'name: 市测试监管局\nschedule: "every hour"'), encoding="utf-8")
    # Airflow itself accepts "0 0 31 2 *" (croniter parses it): a DAG that never runs. "@continuous" is Airflow's.
    never = write_department(tmp_path, code="febju")
    never.write_text(never.read_text(encoding="utf-8").replace("name: 市测试监管局", 'name: 市测试监管局\nschedule: "0 0 31 2 *"'), encoding="utf-8")
    cont = write_department(tmp_path, code="contju")
    cont.write_text(cont.read_text(encoding="utf-8").replace("name: 市测试监管局", 'name: 市测试监管局\nschedule: "@continuous"'), encoding="utf-8")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(tmp_path))
    bag = dagbag()
    assert bag.import_errors == {}
    assert {"sgs_ingest_goodju", "sgs_ingest_cronju", "sgs_ingest_febju", "sgs_ingest_contju"} <= set(bag.dag_ids)
    assert [t.task_id for t in bag.dags["sgs_ingest_goodju"].tasks] == ["ingest_cf"]
    assert [t.task_id for t in bag.dags["sgs_ingest_contju"].tasks] == ["ingest_cf"]
    assert type(bag.dags["sgs_ingest_contju"].timetable).__name__ == "ContinuousTimetable"
    for code in ("cronju", "febju"):
        broken = bag.dags[f"sgs_ingest_{code}"]
        assert [t.task_id for t in broken.tasks] == ["config_error"] and "config-error" in broken.tags
    from pipeline.config import ConfigError, load_department

    with pytest.raises(ConfigError, match="(?s)cronju.yaml.*schedule.*不是有效的调度"):
        load_department(bad)
    with pytest.raises(ConfigError, match="(?s)febju.yaml.*schedule.*永远不会运行"):
        load_department(never)


def test_the_schedule_presets_are_airflows() -> None:
    """pipeline.config copies Airflow's cron presets (no Airflow import while 200 department files are read)."""
    from airflow.sdk.definitions.timetables._cron import CRON_PRESETS

    from pipeline.config import CRON_PRESETS as OURS

    assert OURS == CRON_PRESETS
