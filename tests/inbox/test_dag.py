"""The ``sgs_inbox`` DAG: parsed with the others, every 10 minutes, and a real ``dag.test()`` that takes a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.inbox.helpers import file_only_department, mixed_rows, penalties, store_state, write_csv

ROOT = Path(__file__).resolve().parents[2]


def _dag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    file_only_department(tmp_path / "depts")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(tmp_path / "depts"))
    monkeypatch.setenv("SGS_INBOX_DIR", str(tmp_path / "inbox"))
    monkeypatch.setenv("SGS_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert "sgs_ingest_wjju" not in bag.dag_ids  # a file-only department has no database to read
    return bag.dags["sgs_inbox"]


def test_the_inbox_dag_runs_every_ten_minutes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dag = _dag(monkeypatch, tmp_path)
    assert dag.timetable.expression == "*/10 * * * *"
    assert dag.max_active_runs == 1 and [t.task_id for t in dag.tasks] == ["take_files"]


@pytest.mark.airflow
def test_dag_test_takes_the_inbox_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dag = _dag(monkeypatch, tmp_path)
    from pipeline import airflow_env

    airflow_env.migrate_metadata_db()
    write_csv(tmp_path / "inbox" / "wjju" / "m.csv", mixed_rows())
    run = dag.test()
    assert str(run.state) in ("success", "DagRunState.SUCCESS")  # quarantined rows do not fail the task
    from pipeline.settings import store_engine

    state = store_state(store_engine())
    assert len(state["records"]) == 5 and len(state["files"]) == 1
    assert (tmp_path / "inbox" / "wjju" / "archive" / "m.csv.receipt.xlsx").is_file()

    (tmp_path / "inbox" / "wjju" / "scan.pdf").write_bytes(b"%PDF")
    write_csv(tmp_path / "inbox" / "wjju" / "n.csv", penalties(2, start=50))
    run = dag.test()
    assert str(run.state) in ("failed", "DagRunState.FAILED")  # an unusable file fails the task …
    assert len(store_state(store_engine())["records"]) == 7  # … after the other files were taken
    assert (tmp_path / "inbox" / "wjju" / "rejected" / "scan.pdf.reason.txt").is_file()
