"""What the Airflow tasks call. Errors are sorted into retry (source down) and fail-now (bad config)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

log = logging.getLogger("sgs.tasks")


def ingest_task(department: str, dataset: str, *, logical_date: dt.datetime | None = None) -> dict[str, Any]:
    """One department dataset ingest inside an Airflow task; returns counts and watermarks only."""
    from airflow.sdk.exceptions import AirflowFailException

    from connectors.errors import SourceConfigError, SourceUnavailable
    from pipeline.config import ConfigError, find_department
    from pipeline.ingest import ingest
    from pipeline.settings import SHANGHAI
    from transforms.normalise import MappingError

    today = logical_date.astimezone(SHANGHAI).date() if logical_date else None
    try:
        dept = find_department(department)
        result = ingest(dept, dataset, trigger="airflow", today=today)
    except (ConfigError, SourceConfigError, MappingError, KeyError) as exc:
        # Retrying cannot fix a configuration: fail now with the message the DBA needs.
        raise AirflowFailException(str(exc)) from None
    except SourceUnavailable:
        raise  # transient: Airflow retries with back-off
    from pipeline.config import loadable_departments
    from pipeline.settings import quality_dir, store_engine, var_dir
    from reports.quality import publish_run

    try:
        publish_run(store_engine(), result.run_id, departments=loadable_departments(), out=quality_dir(),
                    gx_root=var_dir())
    except Exception:  # the report is secondary: a failure to render it must not fail the loaded data
        log.exception("data-quality report for run %s could not be written", result.run_id)
    return result.as_dict()


def config_error_task(path: str, message: str) -> None:
    """Stands in for a department whose file does not load, so operators see why in the UI."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(message)


def push_task(*, trigger: str = "airflow") -> dict[str, Any]:
    """Deliver the store's changes to the provincial platform (``upstream.push``); a terminal error (credentials,
    contract, configuration) fails the task without Airflow retries, with the message the operator needs."""
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.settings import store_engine
    from upstream.errors import TerminalError
    from upstream.push import push

    try:
        return push(store_engine(), trigger=trigger).as_dict()
    except TerminalError as exc:
        raise AirflowFailException(str(exc)) from None


def expiry_task(today: dt.date, *, trigger: str = "airflow") -> dict[str, int]:
    """Withdraw penalties whose 公示截止期 is before ``today`` (spec §5.2); withdrawals per department."""
    from pipeline.settings import store_engine
    from upstream.expiry import expire

    return expire(store_engine(), today, trigger=trigger)


def inbox_task() -> dict[str, Any]:
    """方式三: the new files of every department's inbox (``pipeline.inbox.run_inbox``, as ``sgs inbox run``).
    A file that could not be used fails the task (without retries: the file is in ``rejected/`` already) once
    every file was taken; the summary says which."""
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.inbox import publish_quality, run_inbox
    from pipeline.settings import store_engine
    from transforms.masking import mask_text

    result = run_inbox()
    publish_quality(result, store_engine())
    summary = result.as_dict()
    for f in result.files:
        log.info("inbox %s: %s %s %s", f.department, mask_text(f.name), f.status, f.reason or "")
    bad = [f"{f.department}/{mask_text(f.name)}: {f.reason}" for f in result.files if f.status == "rejected"] + result.problems
    if bad:
        raise AirflowFailException("收件箱中有无法使用的文件（已移入各部门的 rejected/ 文件夹，原因见同名 .reason.txt）：" + "；".join(bad))
    return summary
