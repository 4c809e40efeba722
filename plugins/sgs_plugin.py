"""Airflow 3 plugin: the "双公示" view in the Airflow UI (assessment dashboard and per-department drill-down, the
data-quality pages and GX's Data Docs for auditors).

Registration only (design.md: "plugins are registries"). The pages are ``reports.dashboard``; the small
functions below hand it ``pipeline``'s store engine, department files, reports folder and data-quality
folder, because ``reports`` must not import ``pipeline``. Nothing is imported or opened until the first
page request.

The FastAPI app is mounted at ``/sgs`` of the API server; the external view embeds it in the UI as a
top-level navigation entry (``/plugin/sgs``). Its ``href`` has no leading slash so that it resolves
against the UI's base URL (a deployment under a path prefix keeps working).

Airflow does not authenticate plugin apps: the app is built with ``auth=airflow_user`` (Airflow's own JWT,
from the ``Authorization`` header or the UI's ``_token`` cookie, checked by the auth manager; read access to
DAGs required), the only way this module builds it. ``tests/plugins`` checks it through Airflow itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from reports.asgi import LazyASGIApp


def _store_engine() -> Any:
    from pipeline.settings import store_engine

    return store_engine()


def _departments() -> Any:
    from pipeline.config import load_departments

    return load_departments()


def _reports_dir() -> Path:
    from pipeline.settings import reports_dir

    return reports_dir()


def _quality_dir() -> Path:
    from pipeline.settings import quality_dir

    return quality_dir()


def _data_docs_dir() -> Path:
    from pipeline.settings import data_docs_dir

    return data_docs_dir()


def _dashboard() -> Any:
    from reports.airflow_auth import airflow_user
    from reports.dashboard import create_app

    return create_app(_store_engine, auth=airflow_user, departments=_departments, reports_dir=_reports_dir,
                      quality_dir=_quality_dir, data_docs_dir=_data_docs_dir)


class SgsPlugin(AirflowPlugin):
    """双公示: assessment dashboard (及时率、完整率、准确率) inside the Airflow UI."""

    name = "sgs"
    fastapi_apps = [{"name": "双公示考核看板", "app": LazyASGIApp(_dashboard), "url_prefix": "/sgs"}]
    external_views = [
        {
            "name": "双公示",
            "href": "sgs/",
            "url_route": "sgs",
            "destination": "nav",
            "nav_top_level": True,
        }
    ]
