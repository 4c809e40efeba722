"""``sgs_report_monthly``: the monthly assessment report (考核: 及时率、完整率、准确率) of the previous month.

Wiring only: parsing imports nothing but Airflow and ``national.clock`` (the time zone). The task
computes the month before the run's logical date (Asia/Shanghai) and uses the logical date as the report's
"as of" moment, so re-running a DAG run reproduces its report. It runs on the 20th: by then the 7-working-day deadline of every decision of the
previous month has passed, even after the October holiday week (decisions still within their deadline
would only be counted as "未到期" anyway).
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from national.clock import SHANGHAI_NAME

START = pendulum.datetime(2026, 1, 1, tz=SHANGHAI_NAME)


@dag(
    dag_id="sgs_report_monthly",
    description="双公示月度考核报告（及时率、完整率、准确率）",
    schedule="0 6 20 * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    tags=["sgs", "report"],
    default_args={"owner": "sgs", "retries": 2, "retry_delay": dt.timedelta(minutes=10)},
    doc_md=__doc__,
    params={"month": Param(None, type=["null", "string"], pattern=r"^\d{4}-\d{2}$", description="报告月份 YYYY-MM；留空为上个月")},
)
def sgs_report_monthly() -> None:
    # Celery queue: a deployment can route this to its own workers (docs/deploy.md).
    @task(task_id="write_report", queue="report")
    def write() -> dict[str, str]:
        """Writes var/reports/sgs-assessment-<month>.html and .xlsx; returns their paths."""
        from pipeline.config import load_departments
        from pipeline.settings import reports_dir, store_engine
        from reports.build import report_names, write_report
        from reports.indicators import previous_month

        ctx = get_current_context()
        # A manual run may have no logical date: its run_after is the moment it was asked for.
        logical = ctx.get("logical_date") or ctx["dag_run"].run_after
        as_of = logical.astimezone(dt.UTC)
        month = (ctx.get("params") or {}).get("month") or previous_month(logical.astimezone(pendulum.timezone(SHANGHAI_NAME)).date())
        out_dir = reports_dir()
        html = write_report(store_engine(), month, out_dir, departments=load_departments(), as_of=as_of)
        return {"month": month, "html": str(html), "xlsx": str(out_dir / report_names(month)[1])}

    write()


sgs_report_monthly()
