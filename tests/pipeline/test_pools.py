"""Airflow pools per source database server (pipeline/pools.py), and the DAGs' pools and queues."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.settings import SourceSettings
from pipeline.config import load_department
from pipeline.pools import plan_pools, pool_name, sync_pools
from tests.factories import write_department

ROOT = Path(__file__).resolve().parents[2]


def test_the_pool_is_named_after_the_server_never_after_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGS_SRC_AJU_URL", "mysql+pymysql://sgs_ro:s3cr%40t-pw@10.0.0.5/xzzf?charset=utf8mb4&password=x")
    name = pool_name(SourceSettings(url_env="SGS_SRC_AJU_URL"), "aju")
    assert name == "sgs_src_mysql_10.0.0.5_3306"  # the default port made explicit: one server, one name
    monkeypatch.setenv("SGS_SRC_BJU_URL", "mysql+pymysql://root@10.0.0.5:3306/other")
    assert pool_name(SourceSettings(url_env="SGS_SRC_BJU_URL"), "bju") == name
    assert "s3cr" not in name and "sgs_ro" not in name and "xzzf" not in name
    # The variable wins over the file's default (a file's url: is a SQLite file only), as for the connection itself.
    assert pool_name(SourceSettings(url_env="SGS_SRC_AJU_URL", url="sqlite:///aju.db"), "aju") == name
    monkeypatch.setenv("SGS_SRC_AJU_URL", "postgresql+psycopg://u:pw@H2/db")
    assert pool_name(SourceSettings(url_env="SGS_SRC_AJU_URL", url="sqlite:///aju.db"), "aju") == "sgs_src_postgresql_h2_5432"
    monkeypatch.delenv("SGS_SRC_AJU_URL")
    assert pool_name(SourceSettings(url_env="SGS_SRC_AJU_URL"), "aju") == "sgs_src_env_SGS_SRC_AJU_URL"
    assert pool_name(SourceSettings(conn_id="sgs_src_aju"), "aju") == "sgs_src_conn_sgs_src_aju"
    a = pool_name(SourceSettings(url="sqlite:////data/a/units.db"), "aju")
    b = pool_name(SourceSettings(url="sqlite:////data/b/units.db"), "bju")
    assert a.startswith("sgs_src_sqlite_units.db_") and a != b  # two files, two "servers"


def test_departments_on_one_server_share_a_pool_with_the_smallest_slot_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for code, slots in (("aju", 5), ("bju", 3), ("cju", None)):
        path = write_department(tmp_path, code=code, env=f"SGS_SRC_{code.upper()}_URL")
        if slots:
            path.write_text(path.read_text(encoding="utf-8").replace("source:\n", f"source:\n  pool_slots: {slots}\n"), encoding="utf-8")
    monkeypatch.setenv("SGS_SRC_AJU_URL", "postgresql+psycopg://u:pw@db1.example:5432/a")
    monkeypatch.setenv("SGS_SRC_BJU_URL", "postgresql+psycopg://u:pw@db1.example/b")
    monkeypatch.setenv("SGS_SRC_CJU_URL", "mysql+pymysql://u:pw@db2.example/c")
    depts = {c: load_department(tmp_path / f"{c}.yaml") for c in ("aju", "bju", "cju")}
    assert depts["cju"].source.pool_slots == 2
    plans = {p.name: (p.slots, p.departments) for p in plan_pools(depts)}
    assert plans == {"sgs_src_postgresql_db1.example_5432": (3, ("aju", "bju")), "sgs_src_mysql_db2.example_3306": (2, ("cju",))}


@pytest.mark.airflow
def test_sync_creates_updates_and_reports_pools_in_airflows_metadata_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline import airflow_env

    airflow_env.migrate_metadata_db()
    from airflow.models.pool import Pool

    path = write_department(tmp_path, code="poolju", env="SGS_SRC_POOLJU_URL")
    monkeypatch.setenv("SGS_SRC_POOLJU_URL", "postgresql+psycopg://u:pw@pooltest.example:6543/x")
    name = "sgs_src_postgresql_pooltest.example_6543"
    rows = sync_pools({"poolju": load_department(path)})
    assert {"pool": name, "slots": 2, "departments": ["poolju"], "action": "created"} in rows
    assert Pool.get_pool(name).slots == 2 and "poolju" in Pool.get_pool(name).description

    path.write_text(path.read_text(encoding="utf-8").replace("source:\n", "source:\n  pool_slots: 4\n"), encoding="utf-8")
    rows = sync_pools({"poolju": load_department(path)})
    assert next(r for r in rows if r["pool"] == name)["action"] == "updated" and Pool.get_pool(name).slots == 4
    assert next(r for r in sync_pools({"poolju": load_department(path)}) if r["pool"] == name)["action"] == "unchanged"

    # The department moved to another server: the old pool stays (a queued task may still use it), reported unused.
    monkeypatch.setenv("SGS_SRC_POOLJU_URL", "postgresql+psycopg://u:pw@pooltest2.example:6543/x")
    rows = {r["pool"]: r["action"] for r in sync_pools({"poolju": load_department(path)})}
    assert rows[name] == "unused" and rows["sgs_src_postgresql_pooltest2.example_6543"] == "created"
    assert Pool.get_pool(name) is not None


def test_ingest_tasks_run_in_their_servers_pool_and_every_task_has_its_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(ROOT / "departments"))
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    ingest = [d for d in bag.dag_ids if d.startswith("sgs_ingest_")]
    assert len(ingest) >= 3
    for dag_id in ingest:
        dept = load_department(ROOT / "departments" / f"{dag_id.removeprefix('sgs_ingest_')}.yaml")
        for t in bag.dags[dag_id].tasks:
            assert (t.pool, t.pool_slots, t.queue) == (pool_name(dept.source, dept.code), 1, "ingest"), (dag_id, t.task_id)
    assert {t.queue for t in bag.dags["sgs_push_upstream"].tasks} == {"push"}
    assert {t.queue for t in bag.dags["sgs_expiry_daily"].tasks} == {"push"}
    assert {t.queue for t in bag.dags["sgs_report_monthly"].tasks} == {"report"}
    pools = {dag_id: bag.dags[dag_id].tasks[0].pool for dag_id in ingest}
    assert len(set(pools.values())) == len(pools)  # the demo's three departments are on three servers
