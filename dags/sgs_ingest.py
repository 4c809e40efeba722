"""One ``sgs_ingest_<department>`` DAG per department file in ``departments/`` (方式一 database docking).

Wiring only: parsing reads the small YAML files and nothing else (no database, no pandas, no Great
Expectations); each task calls ``pipeline.tasks.ingest_task`` and returns counts and watermarks.
A department file that does not load still gets a DAG, whose single task fails with the file's
error message, so one bad file neither hides the others nor goes unnoticed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task

from national.clock import SHANGHAI_NAME
from pipeline.config import ConfigError, department_files, load_department
from pipeline.pools import pool_name

START = pendulum.datetime(2026, 1, 1, tz=SHANGHAI_NAME)
#: Every ingest task may write changes for the push (the Asset keeps its name ``sgs_outbox``); the Asset event triggers ``sgs_push_upstream``.
OUTBOX = Asset(name="sgs_outbox", uri="sgs://central-store/outbox")
#: Celery queue of the ingest tasks (workers serve it with ``airflow celery worker -q ingest,…``).
INGEST_QUEUE = "ingest"
DEFAULT_ARGS = {
    "retries": 3,
    # SGS_RETRY_DELAY (seconds, default 300): a test cluster retries a task lost with its worker at once.
    "retry_delay": dt.timedelta(seconds=int(os.environ.get("SGS_RETRY_DELAY") or 300)),
    "retry_exponential_backoff": True,
    "max_retry_delay": dt.timedelta(hours=1),
}


def _ingest_dag(code: str, name: str, owner: str, schedule: str | None, datasets: list[str], pool: str) -> None:
    @dag(
        dag_id=f"sgs_ingest_{code}",
        description=f"{name}：双公示数据库对接（方式一）",
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=["sgs", "ingest", code],
        default_args={**DEFAULT_ARGS, "owner": owner},
        doc_md=f"**{name}** ({code}): incremental ingest of {', '.join(datasets)} into the central store.",
    )
    def ingest_dag() -> None:
        for ds in datasets:

            # The pool of the source database server bounds its concurrent connections (pipeline/pools.py);
            # the queue lets a deployment route ingests to workers near the department networks.
            @task(task_id=f"ingest_{ds}", outlets=[OUTBOX], pool=pool, queue=INGEST_QUEUE)
            def run(dataset: str = ds) -> dict[str, object]:
                from pipeline.tasks import ingest_task

                ctx = get_current_context()
                return ingest_task(code, dataset, logical_date=ctx.get("logical_date"))

            run()

    ingest_dag()


def _broken_dag(path: Path, message: str) -> None:
    @dag(
        dag_id="sgs_ingest_" + re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)[:200],
        description=f"部门配置文件 {path.name} 有误",
        schedule=None,
        start_date=START,
        catchup=False,
        tags=["sgs", "ingest", "config-error"],
        default_args={"owner": "sgs", "retries": 0},
    )
    def broken() -> None:
        @task(task_id="config_error")
        def fail() -> None:
            from pipeline.tasks import config_error_task

            config_error_task(str(path), message)

        fail()

    broken()


for _path in department_files():
    try:
        _d = load_department(_path)
    except ConfigError as _exc:
        _broken_dag(_path, str(_exc))
        continue
    except Exception as _exc:  # noqa: BLE001 - an unexpected failure of one file must not hide every DAG
        _broken_dag(_path, f"部门配置文件 {_path.name} 无法读取（{type(_exc).__name__}）：请检查文件内容，或联系平台运维")
        continue
    if _d.source is None:  # reports only by file (方式三): dags/sgs_inbox.py takes its files
        continue
    try:
        _ingest_dag(_d.code, _d.name, _d.owner, _d.schedule, list(_d.datasets), pool_name(_d.source, _d.code))
    except Exception as _exc:  # noqa: BLE001 - e.g. a schedule Airflow refuses that the model let through: only this DAG breaks
        _broken_dag(_path, f"部门 {_d.code}（{_path.name}）的 DAG 无法创建（{type(_exc).__name__}：{_exc}）：请检查 schedule 等设置")
