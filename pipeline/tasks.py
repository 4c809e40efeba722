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
    from pipeline.ingest import SHANGHAI, ingest
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
    from pipeline.ingest import store_engine
    from pipeline.quality import publish_run

    try:
        publish_run(store_engine(), result.run_id)
    except Exception:  # the report is secondary: a failure to render it must not fail the loaded data
        log.exception("data-quality report for run %s could not be written", result.run_id)
    return result.as_dict()


def config_error_task(path: str, message: str) -> None:
    """Stands in for a department whose file does not load, so operators see why in the UI."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(message)
