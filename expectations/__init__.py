"""National rule checks for 双公示 batches: the catalogue, the vectorised engine and row verdicts.

Typical use::

    from expectations import validate
    verdicts = validate(batch, "cf")
    bad = verdicts.has_error            # rows to quarantine
    verdicts.issues(3)                  # [Issue(rule="COM-USCC-002", field="CF_XDR_SHXYM", ...), ...]

The rules live in ``expectations/catalogue/*.yaml``; ``docs/rules.md`` lists them with their sources.
"""

from __future__ import annotations

import datetime as dt
import gc

import numpy as np
import numpy.typing as npt
import pandas as pd

from expectations.catalogue import Catalogue, CatalogueError, Rule, load_catalogue
from expectations.engine import run
from expectations.settings import RuleOverride, RuleSettings, load_rule_settings
from national.clock import today_shanghai
from national.issues import Issue

__all__ = [
    "CatalogueError",
    "Issue",
    "Rule",
    "RuleOverride",
    "RuleSettings",
    "Verdicts",
    "catalogue",
    "load_rule_settings",
    "validate",
]


class Verdicts:
    """Result of :func:`validate` for one batch: which rows fail which rules.

    Rows are addressed by position (0-based), whatever the input frame's index was.
    """

    def __init__(self, n_rows: int, rules: list[Rule], failures: list[npt.NDArray[np.bool_]]) -> None:
        self.n_rows = n_rows
        self.rules: tuple[Rule, ...] = tuple(rules)
        # Sparse storage: failing positions per rule. Failures are rare, so this is small even for
        # a million rows, unlike a rows × rules matrix.
        self._failing: tuple[npt.NDArray[np.int64], ...] = tuple(np.flatnonzero(m) for m in failures)
        self.has_error: npt.NDArray[np.bool_] = np.zeros(n_rows, dtype=bool)
        self.has_warning: npt.NDArray[np.bool_] = np.zeros(n_rows, dtype=bool)
        for rule, idx in zip(self.rules, self._failing, strict=True):
            (self.has_error if rule.severity == "error" else self.has_warning)[idx] = True
        self.rule_failures: dict[str, int] = {
            r.id: int(idx.size) for r, idx in zip(self.rules, self._failing, strict=True)
        }
        self._index: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None

    def _row_index(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(failing rows, their rule numbers), sorted by row then rule; built on the first lookup."""
        if self._index is None:
            rows = np.concatenate([idx for idx in self._failing] or [np.zeros(0, np.int64)])
            rule_no = np.concatenate(
                [np.full(idx.size, k, dtype=np.int64) for k, idx in enumerate(self._failing)] or [np.zeros(0, np.int64)]
            )
            order = np.lexsort((rule_no, rows))
            self._index = (rows[order], rule_no[order])
        return self._index

    def issues(self, i: int) -> list[Issue]:
        """Every rule row ``i`` fails: errors first, then warnings, each in catalogue order."""
        if not 0 <= i < self.n_rows:
            raise IndexError(f"row {i} out of range for a batch of {self.n_rows} rows")
        rows, rule_no = self._row_index()
        lo, hi = np.searchsorted(rows, i, side="left"), np.searchsorted(rows, i, side="right")
        found = [self.rules[k] for k in rule_no[lo:hi].tolist()]
        found.sort(key=lambda r: r.severity != "error")  # stable: keeps catalogue order within a severity
        return [Issue(r.id, r.field, r.message, r.severity) for r in found]

    def issues_by_row(self) -> list[tuple[Issue, ...]]:
        """:meth:`issues` of every row at once (``()`` for a clean row), built in one pass over the findings.

        What a loader wants for a whole chunk: calling :meth:`issues` row by row costs ~10–20 µs per row
        with findings, which is seconds on a dirty million-row load. Tuples, and ``Issue`` objects shared
        between the rows failing the same rule, keep it cheap (clean rows share the empty tuple).
        """
        out: list[tuple[Issue, ...]] = [()] * self.n_rows
        rows, rule_no = self._row_index()
        if not rows.size:
            return out
        # Rank of each rule in a row's list: errors first, then warnings, each in catalogue order.
        warning = np.array([r.severity != "error" for r in self.rules], dtype=np.int64)
        rank = warning[rule_no] * len(self.rules) + rule_no
        order = np.lexsort((rank, rows))
        rows, rule_no = rows[order], rule_no[order]
        shared = [Issue(r.id, r.field, r.message, r.severity) for r in self.rules]
        found = [shared[k] for k in rule_no.tolist()]
        bounds = np.flatnonzero(np.diff(rows)) + 1
        starts = [0, *bounds.tolist()]
        ends = [*bounds.tolist(), rows.size]
        was_enabled = gc.isenabled()
        gc.disable()  # only tuples of shared objects are made: no cycles for the collector to find
        try:
            for row, lo, hi in zip(rows[starts].tolist(), starts, ends, strict=True):
                out[row] = tuple(found[lo:hi])
        finally:
            if was_enabled:
                gc.enable()
        return out

    def errors(self, i: int) -> list[Issue]:
        """Rules of severity ``error`` that row ``i`` fails (these send the row to quarantine)."""
        return [x for x in self.issues(i) if x.severity == "error"]

    def warnings(self, i: int) -> list[Issue]:
        """Rules of severity ``warning`` that row ``i`` fails (the row is still loaded)."""
        return [x for x in self.issues(i) if x.severity == "warning"]

    def failing_rows(self, rule_id: str) -> npt.NDArray[np.int64]:
        """Positions of the rows failing ``rule_id`` (ascending)."""
        for r, idx in zip(self.rules, self._failing, strict=True):
            if r.id == rule_id:
                return idx
        raise KeyError(f"rule {rule_id!r} was not evaluated; active rules: {', '.join(self.rule_failures)}")

    @property
    def n_errors(self) -> int:
        """Number of rows with at least one error."""
        return int(self.has_error.sum())

    def summary(self) -> str:
        """One line for logs: rows, quarantined rows and the most frequent failing rules (no values)."""
        top = sorted(((n, rid) for rid, n in self.rule_failures.items() if n), reverse=True)[:5]
        tops = ", ".join(f"{rid}×{n}" for n, rid in top) or "none"
        return f"{self.n_rows} rows, {self.n_errors} with errors, {int(self.has_warning.sum())} with warnings; top rules: {tops}"


def catalogue(dataset: str, settings: RuleSettings | None = None, *, include_disabled: bool = False) -> list[Rule]:
    """The rules of ``dataset`` (``cf`` or ``xk``) after ``settings`` (default: ``expectations/settings.yaml``).

    Only enabled rules are returned unless ``include_disabled``.
    """
    cat = load_catalogue(dataset, settings)
    return list(cat.rules) if include_disabled else cat.active()


def validate(
    df: pd.DataFrame,
    dataset: str,
    *,
    today: dt.date | None = None,
    settings: RuleSettings | None = None,
) -> Verdicts:
    """Check every row of a batch in national columns against the catalogue of ``dataset``.

    ``df`` holds the dataset's national columns (object dtype, ``str`` or ``None``); columns whose
    names start with ``_`` are ignored, and a missing national column counts as blank in every row.
    ``today`` is the upload date used by "not in the future" rules (default: today in Asia/Shanghai); pass
    it explicitly in pipelines so that a re-run judges the same way.
    """
    cat: Catalogue = load_catalogue(dataset, settings)
    rules, failures = run(df, cat, today or today_shanghai())
    return Verdicts(len(df), rules, failures)
