"""``sgs_expiry_daily``: withdraw penalties whose publicity period ended (公示期满撤回, spec §5.2).

Daily at 00:30 Asia/Shanghai. "Today" is the run's logical date in Asia/Shanghai (never ``now()``), so a
re-run of a day expires the same records and a second run of it finds nothing left. The task's outlet is
the ``sgs_outbox`` Asset: the withdrawals it writes trigger ``sgs_push_upstream``.
Wiring only: parsing imports nothing but Airflow, pendulum and ``national.clock`` (the time zone).
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task

from national.clock import SHANGHAI_NAME

START = pendulum.datetime(2026, 1, 1, tz=SHANGHAI_NAME)
OUTBOX = Asset(name="sgs_outbox", uri="sgs://central-store/outbox")


@dag(
    dag_id="sgs_expiry_daily",
    description="行政处罚公示期满自动撤回（撤回记录推送省平台）",
    schedule="30 0 * * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    tags=["sgs", "upstream", "expiry"],
    default_args={"owner": "sgs", "retries": 2, "retry_delay": dt.timedelta(minutes=10)},
    doc_md=__doc__,
)
def sgs_expiry_daily() -> None:
    # Celery queue: a deployment can route this to its own workers (docs/deploy.md).
    @task(task_id="expire", outlets=[OUTBOX], queue="push")
    def expire() -> dict[str, int]:
        """Withdraws every active penalty with 公示截止期 before today; returns withdrawals per department."""
        from pipeline.tasks import expiry_task

        ctx = get_current_context()
        # A manual run may have no logical date: its run_after is the moment it was asked for.
        logical = ctx.get("logical_date") or ctx["dag_run"].run_after
        today = logical.astimezone(pendulum.timezone(SHANGHAI_NAME)).date()
        return expiry_task(today)

    expire()


sgs_expiry_daily()
