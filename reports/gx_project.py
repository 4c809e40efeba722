"""The auditors' Great Expectations project: a GX 1.x File Data Context in ``<var>/gx`` and its Data Docs.

Layout (GX's own, created on first use by ``gx.get_context(mode="file", project_root_dir=<var>)``)::

    <var>/gx/great_expectations.yml              the project (pandas data source ``sgs_store``, Data Docs site)
    <var>/gx/expectations/sgs_cf.json …          the suites (built from the rule catalogue, expectations.gx_suites)
    <var>/gx/validation_definitions/, checkpoints/   what ``sgs audit`` runs (reports.audit)
    <var>/gx/uncommitted/validations/…           every validation result: each ingest run's, each audit batch's
    <var>/gx/uncommitted/data_docs/local_site/index.html   GX's Data Docs site, built from all of them

Two kinds of results land here:

- each ingest run's, *restated* from the fast engine's per-rule counts (:mod:`expectations.results`): the engine
  decided every row, GX did not run; the batch identifier says ``ingest-<department>-<dataset>`` and the run
  name ``<department>-<dataset>-<run id>``;
- ``sgs audit``'s, computed by GX itself over the store's records (:mod:`reports.audit`).

Neither holds a value of a record: restated results have counts only, audit results are asked for with
``exclude_unexpected_values`` and name records by their store id only.

Several ingest tasks may finish at once (Airflow runs departments in parallel): every write to the project
holds an exclusive lock (``<var>/gx/.sgs.lock``), so two builds of the index never interleave.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from national.safety import private_dir

#: The GX project's folder under the var folder (GX's fixed name for a file project).
GX_FOLDER = "gx"
#: The Data Docs site of the project.
SITE = "local_site"
#: Relative path of the Data Docs site inside the GX project.
DOCS_SUBPATH = Path("uncommitted") / "data_docs" / SITE
#: The index page lists at most this many results, newest first (GX reads each listed result to build it;
#: older results keep their pages, reachable from the suite).
INDEX_LIMIT = 500


def project_dir(root: Path) -> Path:
    """The GX project of the var folder ``root``: ``<root>/gx``."""
    return root / GX_FOLDER


def docs_dir(root: Path) -> Path:
    """The Data Docs site folder: ``<root>/gx/uncommitted/data_docs/local_site``."""
    return project_dir(root) / DOCS_SUBPATH


def docs_index(root: Path) -> Path:
    """The Data Docs site's ``index.html`` (it exists once a result was saved)."""
    return docs_dir(root) / "index.html"


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the project's write lock (blocking) for the block."""
    folder = private_dir(project_dir(root))
    with open(folder / ".sgs.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_context(root: Path) -> Any:
    """The File Data Context in ``<root>/gx`` (created the first time), with the project's custom expectations
    registered. Call it inside :func:`locked` when writing."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from expectations import gx_custom  # noqa: F401 - registers the custom expectations before suites load

    private_dir(root)
    fresh = not (project_dir(root) / "great_expectations.yml").exists()
    context = gx.get_context(mode="file", project_root_dir=root)
    if fresh or context.variables.progress_bars is None:
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        sites = dict(context.variables.data_docs_sites or {})
        site = dict(sites[SITE])
        site["show_how_to_buttons"] = False
        site["site_index_builder"] = {
            **dict(site.get("site_index_builder") or {"class_name": "DefaultSiteIndexBuilder"}),
            "validation_results_limit": INDEX_LIMIT,
        }
        sites[SITE] = site
        context.variables.data_docs_sites = sites
        context.variables.analytics_enabled = False
        context.variables.save()
        context = gx.get_context(mode="file", project_root_dir=root)
    return context


def ensure_suite(context: Any, suite: Any) -> Any:
    """Store ``suite`` (an ``ExpectationSuite``) in the project, replacing an older one of that name."""
    return context.suites.add_or_update(suite)


def _default_suite_stored(context: Any, dataset: str) -> None:
    """The restated results refer to ``sgs_<dataset>``: store the platform's suite if the project lacks it."""
    from expectations.gx_suites import build_suite

    name = f"sgs_{dataset}"
    try:
        context.suites.get(name)
    except Exception:  # noqa: BLE001 - GX raises its own DataContextError subclass for a missing suite
        context.suites.add(build_suite(dataset))


def save_run_result(root: Path, result: Any, *, department: str, dataset: str, run_id: int,
                    run_time: dt.datetime) -> Path:
    """Save an ingest run's (restated) validation result in the project and rebuild the Data Docs pages it
    touches (its page, its suite's page and the index). Returns the index path."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    with locked(root):
        context = open_context(root)
        _default_suite_stored(context, dataset)
        suite_id = ExpectationSuiteIdentifier(name=result.suite_name)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=suite_id,
            run_id=RunIdentifier(run_name=f"{department}-{dataset}-{run_id}", run_time=run_time),
            batch_identifier=f"ingest-{department}-{dataset}",
        )
        context.validation_results_store.set(key, result)
        context.build_data_docs(site_names=[SITE], resource_identifiers=[key, suite_id])
    return docs_index(root)


def build_docs(root: Path) -> Path:
    """Rebuild the whole Data Docs site (every stored suite and result). Returns the index path."""
    with locked(root):
        open_context(root).build_data_docs(site_names=[SITE])
    return docs_index(root)
