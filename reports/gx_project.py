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

GX's Data Docs index is a table drawn by scripts from public CDNs, empty on the platform's closed network (the
result pages themselves are static HTML). So every saved result is also noted in a small ledger
(``<var>/gx/sgs_results.jsonl``) and listed, newest first, in a static Chinese page ``<var>/quality/gx.html``
(:func:`write_results_page`) linking each result's own Data Docs page.

Neither holds a value of a record: restated results have counts only, audit results are asked for with
``exclude_unexpected_values`` and name records by their store id only.

Several ingest tasks may finish at once (Airflow runs departments in parallel): every write to the project
holds an exclusive lock (``<var>/gx/.sgs.lock``), so two builds of the index never interleave.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from national.clock import local_text
from national.safety import private_dir, write_private

#: The GX project's folder under the var folder (GX's fixed name for a file project).
GX_FOLDER = "gx"
#: The Data Docs site of the project.
SITE = "local_site"
#: Relative path of the Data Docs site inside the GX project.
DOCS_SUBPATH = Path("uncommitted") / "data_docs" / SITE
#: The index page lists at most this many results, newest first (GX reads each listed result to build it;
#: older results keep their pages, reachable from the suite).
INDEX_LIMIT = 500


#: The ledger of saved results (one JSON line each) inside the GX project.
LEDGER = "sgs_results.jsonl"
#: The static list of results, beside the data-quality pages (``<var>/quality``).
RESULTS_PAGE = Path("quality") / "gx.html"


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
    """Hold the project's write lock (blocking) for the block, with the umask ``077``: GX creates its folders
    and files with the process umask, and everything below ``<var>`` is owner-only (docs/operations.md). The
    umask is per process; another thread creating a file meanwhile only gets a stricter mode."""
    folder = private_dir(project_dir(root))
    old = os.umask(0o077)
    try:
        with open(folder / ".sgs.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.umask(old)


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
        note_result(root, key, result, kind="ingest")
    return docs_index(root)


def build_docs(root: Path) -> Path:
    """Rebuild the whole Data Docs site (every stored suite and result). Returns the index path."""
    with locked(root):
        open_context(root).build_data_docs(site_names=[SITE])
    return docs_index(root)


def result_page(key: Any) -> str:
    """A validation result's Data Docs page, relative to the site folder (GX's own layout)."""
    return "validations/" + "/".join(str(p) for p in key.to_tuple()) + ".html"


def note_result(root: Path, key: Any, result: Any, *, kind: str) -> None:
    """Add a saved result to the ledger and rewrite the static list page. Call it inside :func:`locked`."""
    failed = [r for r in result.results if not r.success]
    severities = [str((r.expectation_config.meta or {}).get("severity", "error")) for r in failed]
    suite, run_name, _, batch = (str(p) for p in key.to_tuple())
    entry = {
        "kind": kind,
        "suite": suite,
        "run_name": run_name,
        "run_time": key.run_id.run_time.isoformat() if key.run_id.run_time else None,
        "batch": batch,
        "success": bool(result.success),
        "evaluated": len(result.results),
        "failed_errors": severities.count("error"),
        "failed_warnings": len(severities) - severities.count("error"),
        "page": result_page(key),
    }
    ledger = project_dir(root) / LEDGER
    if not ledger.exists():
        write_private(ledger, "")
    with open(ledger, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    write_results_page(root)


_RESULTS = Environment(autoescape=select_autoescape(default=True, default_for_string=True)).from_string(
    """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>GX 校验结果一览</title>
<style>body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;color:#1f2937}
table{border-collapse:collapse;width:100%} th,td{border:1px solid #e5e7eb;padding:5px 8px;font-size:13px;text-align:left}
th{background:#eff6ff} .bad{color:#b91c1c} .ok{color:#15803d} .sub{color:#6b7280} a{color:#1d4ed8}</style></head><body>
<p><a href="index.html">← 数据质量报告</a> · <a href="{{ docs }}index.html">GX 数据文档首页（Data Docs，需能访问公网 CDN 才显示列表）</a></p>
<h1>GX 校验结果一览</h1>
<p class="sub">生成时间 {{ generated }} · 最近 {{ rows|length }} 个结果（共 {{ total }} 个），新的在前。
“归集”为每次归集运行的校验结果（由规则引擎的统计换算，GX 未逐行重算）；“审计”为 sgs audit 由 GX 对中心库记录逐批校验的结果。
结果中不含任何记录的值，只有计数和记录编号。</p>
<table><tr><th>时间</th><th>类型</th><th>校验套件</th><th>运行</th><th>批次</th><th>结果</th><th>未通过规则（错误级 / 提示级）</th><th>GX 页面</th></tr>
{% for r in rows %}<tr><td>{{ r.time }}</td><td>{{ '审计' if r.kind == 'audit' else '归集' }}</td><td>{{ r.suite }}</td>
<td>{{ r.run_name }}</td><td>{{ r.batch }}</td>
<td class="{{ 'ok' if r.success else 'bad' }}">{{ '通过' if r.success else '未通过' }}</td>
<td>{{ r.failed_errors }} / {{ r.failed_warnings }}（共 {{ r.evaluated }} 条规则）</td>
<td><a href="{{ docs }}{{ r.page }}">打开</a></td></tr>{% endfor %}
</table></body></html>"""
)


def write_results_page(root: Path, limit: int = INDEX_LIMIT) -> Path:
    """``<root>/quality/gx.html``: the newest ``limit`` results of the ledger, linking their Data Docs pages."""
    ledger = project_dir(root) / LEDGER
    lines = ledger.read_text(encoding="utf-8").splitlines() if ledger.exists() else []
    rows = []
    for line in reversed(lines[-limit:]):
        entry = json.loads(line)
        when = entry.get("run_time")
        entry["time"] = local_text(dt.datetime.fromisoformat(when)) if when else ""
        rows.append(entry)
    page = root / RESULTS_PAGE
    private_dir(page.parent)
    docs = f"../{GX_FOLDER}/{DOCS_SUBPATH.as_posix()}/"
    return write_private(page, _RESULTS.render(rows=rows, total=len(lines), docs=docs,
                                               generated=local_text(dt.datetime.now(dt.UTC))))
