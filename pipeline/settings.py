"""The facade's settings: where the project keeps its state, the central store's engine, the time zone.

Every entry point (the ``sgs`` CLI, the Airflow task functions and DAG task bodies, the plugin) takes these from
here, not from a stage or from the ingest module:

- ``SGS_HOME`` (default: the checkout) and ``SGS_VAR_DIR`` (default ``<home>/var``, owner-only);
- ``SGS_STORE_URL`` (default: a SQLite file in ``var/``) and :func:`store_engine`, migrated once per process;
- ``SGS_INBOX_DIR`` (default ``<home>/var/inbox``): the root of the departments' inboxes (方式三, docs/inbox.md);
- ``SGS_DEPARTMENTS_DIR`` (default ``<home>/departments``) and ``SGS_SOURCE_DATA_DIR`` (default
  ``<var>/sources``, the one folder department SQLite files may be in);
- the platform's time zone, re-exported from :mod:`national.clock` (the one place that names it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from national.clock import SHANGHAI, SHANGHAI_NAME, local_text, now_shanghai, now_utc, today_shanghai
from national.safety import private_dir

if TYPE_CHECKING:  # DAG files import this module at parse time: no SQLAlchemy until an engine is asked for
    from sqlalchemy.engine import Engine

__all__ = [
    "SHANGHAI", "SHANGHAI_NAME", "local_text", "now_shanghai", "now_utc", "today_shanghai",
    "home", "var_dir", "store_url", "store_engine", "departments_dir", "source_data_dir", "quality_dir",
    "reports_dir", "inbox_dir", "data_docs_dir",
]


def home() -> Path:
    """The project home: ``SGS_HOME`` or the folder holding this checkout."""
    env = os.environ.get("SGS_HOME")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[1]


def var_dir() -> Path:
    """``SGS_VAR_DIR`` or ``<home>/var``; created owner-only (``0700``): it holds the store, reports, exports."""
    return private_dir(Path(os.environ.get("SGS_VAR_DIR") or home() / "var"))


def store_url() -> str:
    """The central store: ``SGS_STORE_URL`` or a SQLite file in ``var/``."""
    return os.environ.get("SGS_STORE_URL") or f"sqlite:///{var_dir() / 'sgs.db'}"


def departments_dir() -> Path:
    """Folder of department files: ``SGS_DEPARTMENTS_DIR`` or ``<home>/departments``."""
    return Path(os.environ.get("SGS_DEPARTMENTS_DIR") or home() / "departments")


def source_data_dir() -> Path:
    """The one folder SQLite source files may be in: ``SGS_SOURCE_DATA_DIR`` or ``<var>/sources``."""
    env = os.environ.get("SGS_SOURCE_DATA_DIR")
    if env:
        return Path(env)
    # Not var_dir(): naming the folder must not create var/ (a department file is checked without a var/).
    return Path(os.environ.get("SGS_VAR_DIR") or home() / "var") / "sources"


def quality_dir() -> Path:
    """``<var>/quality``: the data-quality pages (``reports.quality``); owner-only like all of ``var/``."""
    return private_dir(var_dir() / "quality")


def data_docs_dir() -> Path:
    """GX's Data Docs site of the auditors' GX project ``<var>/gx`` (``reports.gx_project``)."""
    from reports.gx_project import docs_dir

    return docs_dir(var_dir())


def reports_dir() -> Path:
    """``<var>/reports``: the monthly assessment reports (``reports.build``)."""
    return var_dir() / "reports"


def inbox_dir() -> Path:
    """The root of the departments' inboxes (方式三 file delivery): ``SGS_INBOX_DIR`` or ``<home>/var/inbox``.

    Not under ``SGS_VAR_DIR``: the inbox is where departments' files arrive (a share, a copied disc), which an
    operator moves with one variable, while ``var/`` holds the platform's own state."""
    env = os.environ.get("SGS_INBOX_DIR")
    return Path(env) if env else home() / "var" / "inbox"


_engines: dict[str, Engine] = {}


def store_engine(url: str | None = None) -> Engine:
    """The central store's engine, migrated once per process.

    Raises :class:`pipeline.store_access.StoreUnavailable` (a Chinese message naming the store, and whether a
    retry can help) when the store cannot be reached or opened, instead of the driver's traceback."""
    from pipeline.store_access import open_store

    url = url or store_url()
    if url not in _engines:
        _engines[url] = open_store(url)
    return _engines[url]
