"""``sgs_push_upstream``: deliver the central store's changes to the provincial platform (省平台).

Runs when an ingest (or the expiry DAG) reports new outbox entries through the Asset ``sgs_outbox``, and
every 30 minutes regardless, so that entries left by a failed run go out without waiting for new data.
Wiring only: parsing imports nothing but Airflow, pendulum and ``national.clock`` (the time zone); the
task calls ``pipeline.tasks.push_task``.

Failure handling: authentication, contract and configuration errors fail the task at once without
Airflow retries (``AirflowFailException``: retrying cannot fix them, and the message says what to do);
transient failures that outlasted the in-run retries fail the task normally, and Airflow retries it.
The push itself sends nothing twice (idempotency key per record version), whatever Airflow retries.
"""

from __future__ import annotations

import datetime as dt
import os

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from national.clock import SHANGHAI_NAME

START = pendulum.datetime(2026, 1, 1, tz=SHANGHAI_NAME)
#: Updated by every task that writes changes for the push (dags/sgs_ingest.py, dags/sgs_expiry.py).
OUTBOX = Asset(name="sgs_outbox", uri="sgs://central-store/outbox")


@dag(
    dag_id="sgs_push_upstream",
    description="双公示数据推送省信用信息共享平台（回执、退回数据反馈）",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("*/30 * * * *", timezone=SHANGHAI_NAME),
        assets=[OUTBOX],
    ),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    tags=["sgs", "upstream"],
    default_args={
        "owner": "sgs",
        "retries": 3,
        "retry_delay": dt.timedelta(seconds=int(os.environ.get("SGS_RETRY_DELAY") or 300)),  # as sgs_ingest
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(hours=1),
    },
    doc_md=__doc__,
)
def sgs_push_upstream() -> None:
    # Celery queue: a deployment can route this to its own workers (docs/deploy.md).
    @task(task_id="push", queue="push")
    def push() -> dict[str, object]:
        """Push every change after the push position; returns the run's statistics."""
        from pipeline.tasks import push_task

        return push_task()

    push()


sgs_push_upstream()
