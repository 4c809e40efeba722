"""The project's custom Great Expectations 1.x expectations (and their metrics).

- check digits (USCC, 组织机构代码, 身份证) as column-map expectations calling the same vectorised
  functions as the engine (:mod:`expectations.checks`);
- the engine-backed expectations :class:`ExpectColumnValuesToPassNationalRule` (one column) and
  :class:`ExpectRowsToPassNationalRule` (several columns) for the rules no built-in can state: they
  evaluate the catalogue rule with the rule kind itself, so GX and the engine cannot disagree (and
  comparing them proves nothing: tests/expectations/test_gx_suites.py checks these, and the check
  digits, against hand-labelled rows and python-stdnum instead).

Importing this module registers the metrics and expectations with GX; the rule kinds' GX statements
(:mod:`expectations.kinds`) reach these classes through :class:`expectations.kinds.GxContext`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation, MulticolumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    MulticolumnMapMetricProvider,
    column_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (
    multicolumn_condition_partial,
)

from expectations import checks
from expectations.frame import Frame
from expectations.kinds import RULE_KINDS
from expectations.rules import Rule
from national.clock import today_shanghai


def _as_values(column: pd.Series) -> np.ndarray:
    return checks.normalise_values(column.to_numpy(dtype=object))


class UsccCheckDigitOk(ColumnMapMetricProvider):
    """Row-wise: a well-formed USCC whose GB 32100 check digit holds (placeholders in ``skip`` pass)."""

    condition_metric_name = "sgs.uscc.check_digit_ok"
    condition_value_keys = ("skip",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, skip: Sequence[str] = (), **kwargs: Any) -> pd.Series:
        fmt, chk = checks.uscc_check(_as_values(column))
        ok = ~(fmt & ~chk) | column.isin(list(skip or ())).to_numpy()
        return pd.Series(ok, index=column.index)


class ExpectColumnValuesToHaveValidUsccCheckDigit(ColumnMapExpectation):
    """Well-formed 统一社会信用代码 values carry the right GB 32100 check digit (spec §4.1).

    Malformed values are left to the format regex, so each defect is counted once.
    """

    skip: list[str] = []
    map_metric = "sgs.uscc.check_digit_ok"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "skip")
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["sgs", "check digit"], "contributors": ["sgs"]}


class OrgCodeCheckDigitOk(ColumnMapMetricProvider):
    """Row-wise: a well-formed 组织机构代码 whose GB 11714 check digit holds."""

    condition_metric_name = "sgs.org_code.check_digit_ok"
    condition_value_keys = ("skip",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, skip: Sequence[str] = (), **kwargs: Any) -> pd.Series:
        fmt, chk = checks.org_code_check(_as_values(column))
        ok = ~(fmt & ~chk) | column.isin(list(skip or ())).to_numpy()
        return pd.Series(ok, index=column.index)


class ExpectColumnValuesToHaveValidOrgCodeCheckDigit(ColumnMapExpectation):
    """Well-formed 组织机构代码 values carry the right GB 11714 check digit (spec §4.3)."""

    skip: list[str] = []
    map_metric = "sgs.org_code.check_digit_ok"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "skip")
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["sgs", "check digit"], "contributors": ["sgs"]}


class ResidentIdOk(ColumnMapMetricProvider):
    """Row-wise GB 11643 check: ``check`` is ``format`` (pattern and real birth date) or ``check_digit``."""

    condition_metric_name = "sgs.resident_id.ok"
    condition_value_keys = ("check", "today")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, check: str = "format", today: str | None = None, **kwargs: Any) -> pd.Series:
        day = dt.date.fromisoformat(today) if today else today_shanghai()
        fmt, chk = checks.resident_id_check(_as_values(column), day)
        ok = fmt if check == "format" else ~(fmt & ~chk)
        return pd.Series(ok, index=column.index)


class ExpectColumnValuesToBeValidResidentId(ColumnMapExpectation):
    """居民身份证号码 values are valid (spec §3.2, §4.2); use a ``row_condition`` on the document type.

    ``today`` (ISO date) bounds the birth date; ``None`` means the date of the validation run.
    """

    check: str = "format"
    today: str | None = None
    map_metric = "sgs.resident_id.ok"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "check", "today")
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["sgs", "check digit"], "contributors": ["sgs"]}


class NationalRuleHolds(MulticolumnMapMetricProvider):
    """Row-wise verdict of one catalogue rule, computed by the rule engine over the listed columns."""

    condition_metric_name = "sgs.national_rule.holds"
    condition_value_keys = ("dataset", "rule_id", "kind", "field", "params", "penalty_categories", "today")
    condition_domain_keys = ("batch_id", "table", "column_list", "row_condition", "condition_parser", "ignore_row_if")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        column_list: pd.DataFrame,
        dataset: str = "cf",
        rule_id: str = "",
        kind: str = "",
        field: str = "",
        params: Mapping[str, Any] | None = None,
        penalty_categories: Mapping[str, Any] | None = None,
        today: str | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        return cls._holds(column_list, dataset, rule_id, kind, field, params, penalty_categories, today)

    @staticmethod
    def _holds(
        df: pd.DataFrame,
        dataset: str,
        rule_id: str,
        kind: str,
        field: str,
        params: Mapping[str, Any] | None,
        penalty_categories: Mapping[str, Any] | None,
        today: str | None,
    ) -> pd.Series:
        day = dt.date.fromisoformat(today) if today else today_shanghai()
        frame = Frame(df, dataset, day, penalty_categories or {})
        rule = Rule(
            id=rule_id, field=field, severity="error", message="", kind=kind, params=dict(params or {}), source="D"
        )
        fails = RULE_KINDS[kind](frame, rule)
        return pd.Series(~fails, index=df.index)


class ExpectRowsToPassNationalRule(MulticolumnMapExpectation):
    """Rows pass one rule of the 双公示 catalogue, evaluated by the project's rule engine.

    Used for rules that no built-in expectation states exactly (conditions on 处罚类别, date
    ordering, amounts, junk values, character classes, duplicates within the batch).
    """

    dataset: str
    rule_id: str
    kind: str
    field: str
    params: dict[str, Any] = {}
    penalty_categories: dict[str, Any] = {}
    today: str | None = None
    ignore_row_if: str = "never"  # type: ignore[assignment]
    map_metric = "sgs.national_rule.holds"
    success_keys: ClassVar[tuple[str, ...]] = (
        "mostly",
        "dataset",
        "rule_id",
        "kind",
        "field",
        "params",
        "penalty_categories",
        "today",
    )
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["sgs"], "contributors": ["sgs"]}


class NationalColumnRuleHolds(ColumnMapMetricProvider):
    """Row-wise verdict of a one-column catalogue rule, computed by the rule engine.

    GX hands a column-map metric only the non-null values; one-column rules never judge a missing
    value (only ``required`` does, and it maps to a built-in), so the counts agree with the engine.
    """

    condition_metric_name = "sgs.national_column_rule.holds"
    condition_value_keys = ("dataset", "rule_id", "kind", "params", "penalty_categories", "today")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        column: pd.Series,
        dataset: str = "cf",
        rule_id: str = "",
        kind: str = "",
        params: Mapping[str, Any] | None = None,
        penalty_categories: Mapping[str, Any] | None = None,
        today: str | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        return NationalRuleHolds._holds(
            column.to_frame(), dataset, rule_id, kind, str(column.name), params, penalty_categories, today
        )


class ExpectColumnValuesToPassNationalRule(ColumnMapExpectation):
    """Values of one column pass a one-column rule of the 双公示 catalogue (junk, characters, dates…)."""

    dataset: str
    rule_id: str
    kind: str
    params: dict[str, Any] = {}
    penalty_categories: dict[str, Any] = {}
    today: str | None = None
    map_metric = "sgs.national_column_rule.holds"
    success_keys: ClassVar[tuple[str, ...]] = (
        "mostly",
        "dataset",
        "rule_id",
        "kind",
        "params",
        "penalty_categories",
        "today",
    )
    library_metadata: ClassVar[dict[str, Any]] = {"tags": ["sgs"], "contributors": ["sgs"]}
