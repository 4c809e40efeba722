"""``sgs audit``: the GX suites run by Great Expectations itself over the central store's records.

The ingest decides every row with the fast engine (:mod:`expectations`); its results reach the Data Docs only
as restated counts. The audit is the independent check that nothing bad reached the store: it reads the current
version of every record (``record_cf`` / ``record_xk``, withdrawn ones too) in batches of ``batch_rows`` by id
(:func:`store.queries.record_batches`: one batch in memory at a time), and runs each batch through a GX
checkpoint — the suite built from the rule catalogue (:func:`expectations.gx_suites.build_suite`), a pandas
data source ``sgs_store`` with one dataframe asset per record table, a ``ValidationDefinition`` and a
``Checkpoint`` with ``UpdateDataDocsAction`` — in the auditors' GX project (:mod:`reports.gx_project`). Each
batch's validation result is stored there and shown in the same Data Docs as the ingest runs' results.

A department with its own rule switches (its department file's ``rules``) is judged with its own suite
(``sgs_<dataset>_<department>``), as its ingest was; every other record with the platform's (``sgs_<dataset>``).

Results never hold a value of a record: GX is asked for ``exclude_unexpected_values`` and the batch's index is
the record id, so a failing expectation names record ids only; :class:`AuditReport` names them with the
department and the masked 文书号.

Exit status (:attr:`AuditReport.exit_code`): 0 no stored record fails an error-level expectation (warnings
are reported, as the ingest loads rows with warnings); 1 some record does; 2 an expectation could not be
evaluated (the audit proves nothing then).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from expectations.settings import RuleSettings
from national import dataset as national_dataset
from national.clock import today_shanghai
from national.masking import mask_text
from reports import gx_project
from store.queries import record_batches, record_labels

#: Records per GX batch: the audit's memory bound (about 300 MB with GX loaded, at 50,000).
BATCH_ROWS = 50_000
#: Record ids kept per failing rule (GX's ``partial_unexpected_count``): enough to name examples.
NAMED_PER_RULE = 20
#: GX result format of the audit: counts and record ids, never values (they may be ID numbers).
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "SUMMARY",
    "partial_unexpected_count": NAMED_PER_RULE,
    "exclude_unexpected_values": True,
}
DATA_SOURCE = "sgs_store"
BATCH_DEFINITION = "current_records"

#: ``(department, dataset) → the department's own rule settings`` (``None``: the platform's).
RuleSettingsOf = Callable[[str, str], RuleSettings | None]


@dataclass
class RuleFailure:
    """One expectation (catalogue rule) that failed on some stored records."""

    rule_id: str
    severity: str  # error / warning (the catalogue's; GX's critical / warning)
    column: str  # the rule's field (national column code)
    message: str
    count: int = 0
    record_ids: list[int] = field(default_factory=list)


@dataclass
class DatasetAudit:
    """The audit of one dataset."""

    dataset: str
    records: int = 0
    batches: int = 0
    suites: set[str] = field(default_factory=set)
    failures: dict[str, RuleFailure] = field(default_factory=dict)
    #: Expectations GX could not evaluate: ``rule id → the exception's type and first line``.
    broken: dict[str, str] = field(default_factory=dict)
    #: The stored validation results (GX ``ValidationResultIdentifier`` as text).
    results: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[RuleFailure]:
        return [f for f in self.failures.values() if f.severity == "error"]

    @property
    def warnings(self) -> list[RuleFailure]:
        return [f for f in self.failures.values() if f.severity != "error"]


@dataclass
class AuditReport:
    """What ``sgs audit`` found, with the records it names (department, masked 文书号) and the Data Docs."""

    datasets: list[DatasetAudit]
    docs_index: Path
    department: str | None = None
    #: ``(dataset, record id) → (department, masked document number)``
    labels: dict[tuple[str, int], tuple[str, str | None]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        if any(d.broken for d in self.datasets):
            return 2
        return 1 if any(d.errors for d in self.datasets) else 0

    def record_name(self, dataset: str, record_id: int) -> str:
        """``record_cf #12（部门 qju，文书号 …）``: the store id, department and masked document number."""
        dept, wsh = self.labels.get((dataset, record_id), ("?", None))
        return f"record_{dataset} #{record_id}（部门 {dept}，文书号 {wsh or '—'}）"

    def as_dict(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "exit_code": self.exit_code,
            "data_docs": str(self.docs_index),
            "datasets": [
                {
                    "dataset": d.dataset,
                    "records": d.records,
                    "batches": d.batches,
                    "suites": sorted(d.suites),
                    "broken": d.broken,
                    "failures": [
                        {
                            "rule": f.rule_id, "severity": f.severity, "field": f.column, "count": f.count,
                            "message": f.message,
                            "records": [self.record_name(d.dataset, i) for i in f.record_ids],
                        }
                        for f in d.failures.values()
                    ],
                }
                for d in self.datasets
            ],
        }


def _exception(result: Any) -> str | None:
    """The exception GX caught while evaluating an expectation (its type and first line), if any."""
    info = result.exception_info or {}
    found = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for item in found:
        if item.get("raised_exception"):
            text = str(item.get("exception_message") or "").strip().splitlines()
            return text[0][:200] if text else "exception"
    return None


class _Project:
    """The GX objects of one audit: a suite, validation definition and checkpoint per rule set."""

    def __init__(self, root: Path, today: dt.date) -> None:
        self.root = root
        self.today = today
        self._checkpoints: dict[tuple[str, str], Any] = {}

    def checkpoint(self, dataset: str, department: str | None, settings: RuleSettings | None) -> tuple[str, Any]:
        """``(suite name, checkpoint)`` for the records of ``dataset`` judged with ``settings`` (``department``
        names the suite when they are a department's own)."""
        import great_expectations as gx

        from expectations.gx_suites import build_suite

        suite_name = f"sgs_{dataset}_{department}" if department else f"sgs_{dataset}"
        key = (dataset, suite_name)
        if key not in self._checkpoints:
            with gx_project.locked(self.root):
                context = gx_project.open_context(self.root)
                suite = gx_project.ensure_suite(
                    context, build_suite(dataset, settings, today=self.today, name=suite_name)
                )
                try:
                    source = context.data_sources.get(DATA_SOURCE)
                except KeyError:
                    source = context.data_sources.add_pandas(DATA_SOURCE)
                asset_name = f"record_{dataset}"
                try:
                    asset = source.get_asset(asset_name)
                except LookupError:
                    asset = source.add_dataframe_asset(asset_name)
                try:
                    batch_definition = asset.get_batch_definition(BATCH_DEFINITION)
                except KeyError:
                    batch_definition = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
                definition = context.validation_definitions.add_or_update(
                    gx.ValidationDefinition(name=f"sgs_audit_{suite_name}", data=batch_definition, suite=suite)
                )
                checkpoint = context.checkpoints.add_or_update(
                    gx.Checkpoint(
                        name=f"sgs_audit_{suite_name}",
                        validation_definitions=[definition],
                        actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs", site_names=[gx_project.SITE])],
                        result_format=RESULT_FORMAT,
                    )
                )
            self._checkpoints[key] = checkpoint
        return suite_name, self._checkpoints[key]


def audit(
    engine: Engine,
    root: Path,
    *,
    datasets: Iterable[str] = ("cf", "xk"),
    department: str | None = None,
    rule_settings: RuleSettingsOf | None = None,
    batch_rows: int = BATCH_ROWS,
    today: dt.date | None = None,
    on_batch: Callable[[str, int], None] | None = None,
) -> AuditReport:
    """Run the GX suites through GX over the stored records of ``datasets`` (of ``department`` only, if
    given), batch by batch, saving each batch's validation result in the GX project of ``root`` (the var
    folder) and updating its Data Docs. ``rule_settings`` gives a department's own rule switches;
    ``on_batch(dataset, records so far)`` is called after each batch."""
    from great_expectations.core.run_identifier import RunIdentifier

    day = today or today_shanghai()
    project = _Project(root, day)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    scope = department or "all"
    report = AuditReport(datasets=[], docs_index=gx_project.docs_index(root), department=department)
    own: dict[tuple[str, str], RuleSettings | None] = {}
    for ds in datasets:
        columns = national_dataset(ds).columns
        result = DatasetAudit(ds)
        report.datasets.append(result)
        for ids, departments, values in record_batches(engine, ds, department=department, batch_rows=batch_rows):
            frame = pd.DataFrame(values, columns=columns, dtype=object, index=pd.Index(ids, dtype="int64"))
            del values
            groups: dict[str | None, list[int]] = {}
            for pos, dept in enumerate(departments):
                if (dept, ds) not in own:
                    own[(dept, ds)] = rule_settings(dept, ds) if rule_settings else None
                groups.setdefault(dept if own[(dept, ds)] is not None else None, []).append(pos)
            for dept_key, positions in groups.items():
                part = frame if len(positions) == len(frame) else frame.iloc[positions]
                suite_name, checkpoint = project.checkpoint(ds, dept_key, own.get((dept_key, ds)) if dept_key else None)
                result.suites.add(suite_name)
                run_id = RunIdentifier(
                    run_name=f"audit-{stamp}-{scope}-{ds}-{int(part.index[0])}-{int(part.index[-1])}",
                    run_time=dt.datetime.now(dt.UTC),
                )
                with gx_project.locked(root), warnings.catch_warnings():
                    # GX's regex metric uses str.contains, which warns about the catalogue's groups: noise.
                    warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular expression")
                    outcome = checkpoint.run(batch_parameters={"dataframe": part}, run_id=run_id)
                    for key, validation in outcome.run_results.items():
                        gx_project.note_result(root, key, validation, kind="audit")
                _collect(result, outcome)
            result.records += len(frame)
            result.batches += 1
            del frame
            if on_batch:
                on_batch(ds, result.records)
    named = sorted({(d.dataset, i) for d in report.datasets for f in d.failures.values() for i in f.record_ids})
    for ds in {d for d, _ in named}:
        for rid, (dept, wsh) in record_labels(engine, ds, [i for d, i in named if d == ds]).items():
            report.labels[(ds, rid)] = (dept, mask_text(wsh))
    return report


def _collect(audit_of: DatasetAudit, outcome: Any) -> None:
    """Add a checkpoint run's results (one per validation definition) to the dataset's audit."""
    for key, suite_result in outcome.run_results.items():
        audit_of.results.append(str(key))
        for r in suite_result.results:
            meta = r.expectation_config.meta or {}
            rule_id = str(meta.get("rule_id", r.expectation_config.type))
            broken = _exception(r)
            if broken is not None:
                audit_of.broken.setdefault(rule_id, broken)
                continue
            if r.success:
                continue
            res = r.result or {}
            failure = audit_of.failures.get(rule_id)
            if failure is None:
                kwargs = r.expectation_config.kwargs or {}
                failure = audit_of.failures[rule_id] = RuleFailure(
                    rule_id=rule_id,
                    severity=str(meta.get("severity", "error")),
                    column=str(kwargs.get("column") or kwargs.get("field") or ""),
                    message=str(meta.get("message", "")),
                )
            failure.count += int(res.get("unexpected_count") or 0)
            room = NAMED_PER_RULE - len(failure.record_ids)
            if room > 0:
                failure.record_ids.extend(int(i) for i in (res.get("partial_unexpected_index_list") or [])[:room])
