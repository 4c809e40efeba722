"""``sgs_inbox``: 方式三 file delivery — load the new files of every department's inbox (docs/inbox.md).

Every 10 minutes, and on demand (trigger the DAG in the UI or ``airflow dags trigger sgs_inbox``). Wiring only:
the task calls ``pipeline.tasks.inbox_task``, the function behind ``sgs inbox run``. Each file is loaded
exactly once (by its content hash), so a retry or an overlapping run loads nothing twice. A file that could not
be used fails the task after the other files were taken (it is in ``<dept>/rejected/`` with its reason); rows
quarantined do not (they are in the receipt and the department's 问题数据). Loaded rows announce the outbox
Asset, so the push follows.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Asset, CronTriggerTimetable, dag, task

from national.clock import SHANGHAI_NAME

OUTBOX = Asset(name="sgs_outbox", uri="sgs://central-store/outbox")  # dags/sgs_push.py


@dag(
    dag_id="sgs_inbox",
    description="方式三 文件报送：处理各部门收件箱中的新文件（CSV、XLSX、ZIP）",
    schedule=CronTriggerTimetable("*/10 * * * *", timezone=SHANGHAI_NAME),
    start_date=pendulum.datetime(2026, 1, 1, tz=SHANGHAI_NAME),
    catchup=False,
    max_active_runs=1,
    tags=["sgs", "inbox"],
    default_args={"owner": "sgs", "retries": 2, "retry_delay": dt.timedelta(minutes=2)},
    doc_md=__doc__,
)
def sgs_inbox() -> None:
    # The ingest workers' queue (docs/deploy.md): the workers serving it must see the inbox root (SGS_INBOX_DIR).
    @task(task_id="take_files", outlets=[OUTBOX], queue="ingest")
    def take_files() -> dict[str, object]:
        """Every department's inbox; returns the files taken and their counts."""
        from pipeline.tasks import inbox_task

        return inbox_task()

    take_files()


sgs_inbox()
