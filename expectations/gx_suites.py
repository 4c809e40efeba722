"""Great Expectations 1.x suites generated from the rule catalogue.

Each active rule becomes one expectation whose ``meta`` carries the rule id, severity and message:

- built-in expectations where their semantics equal the engine's (not null with a ``row_condition``
  for conditional requirements, null for "must be empty", value lengths, in set / not in set, regex);
- custom column-map expectations for the check digits (USCC, 组织机构代码, 身份证), calling the same
  vectorised functions as the engine (:mod:`expectations.checks`);
- one custom multicolumn-map expectation, :class:`ExpectRowsToPassNationalRule`, for the rules no
  built-in can state (category-dependent requirements, date ordering, amounts, junk, characters, …):
  it evaluates the catalogue rule with the engine itself, so GX and the engine cannot disagree.

The suites are built lazily by :func:`build_suite` (nothing GX-related runs at import of the
``expectations`` package) and written as JSON with ``python -m expectations.gx_suites --write``; a test
fails when the checked-in JSON drifts from the catalogue.

Regexes use ``\\A…\\Z`` because GX's pandas regex check is ``str.contains`` and ``$`` would accept a
trailing newline, which the engine's ``fullmatch`` does not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import great_expectations as gx
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
from great_expectations.expectations.row_conditions import Column, Condition

from expectations import checks
from expectations.catalogue import Rule, load_catalogue
from expectations.settings import RuleSettings
from national.clock import today_shanghai

SUITES_DIR = Path(__file__).with_name("suites")
GX_SEVERITY = {"error": "critical", "warning": "warning"}
USCC_REGEX = r"\A[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}\Z"
ORG_CODE_REGEX = r"\A[0-9A-Z]{8}[0-9X]\Z"
#: Parameters naming other columns a rule reads (they join the multicolumn expectation's column_list).
_COLUMN_PARAMS = ("field", "other", "type_field", "uscc_field", "text_field")


# -- custom metrics and expectations ------------------------------------------------------------
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

    ``today`` (ISO date) bounds the birth date; ``None`` means the date of the validation run (in Asia/Shanghai).
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
        from expectations.engine import RULE_KINDS, Frame

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


# -- catalogue → expectations ---------------------------------------------------------------------
def _condition(cond: Mapping[str, Any] | None) -> Condition | None:
    """A catalogue condition as a GX row condition, or ``None`` when GX cannot express it."""
    if not cond:
        return None
    if "all" in cond:
        parts = [_condition(c) for c in cond["all"]]
        if any(p is None for p in parts):
            return None
        out = parts[0]
        for p in parts[1:]:
            out = out & p  # type: ignore[operator]
        return out
    col = Column(cond.get("field", ""))
    if "in" in cond:
        return col.is_in(list(cond["in"]))
    if "not_in" in cond:
        return col.is_not_in(list(cond["not_in"]))
    if "equals" in cond:
        return col == cond["equals"]
    if "filled" in cond:
        return col.is_not_null() if cond["filled"] else col.is_null()
    return None  # has_category, any: engine-only


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _columns_of(rule: Rule) -> list[str]:
    cols = [rule.field]

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                if k in _COLUMN_PARAMS and isinstance(v, str):
                    cols.append(v)
                elif k == "fields" and isinstance(v, list):
                    cols.extend(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(rule.params)
    return list(dict.fromkeys(cols))


def _uses_categories(rule: Rule) -> bool:
    return rule.kind == "penalty_category" or "has_category" in json.dumps(_jsonable(rule.params), ensure_ascii=False)


def expectation_for(
    rule: Rule, dataset: str, penalty_categories: Mapping[str, Any], today: dt.date | None = None
) -> Any:
    """The GX expectation stating ``rule``; its ``meta`` names the rule, severity and message."""
    meta = {"rule_id": rule.id, "severity": rule.severity, "source": rule.source, "message": rule.message}
    common: dict[str, Any] = {"meta": meta, "severity": GX_SEVERITY[rule.severity]}
    p = rule.params
    cond = p.get("when")
    row_condition = _condition(cond)
    expressible = cond is None or row_condition is not None
    if row_condition is not None:
        common["row_condition"] = row_condition
    col = rule.field
    E = gx.expectations
    if expressible:
        if rule.kind == "required":
            return E.ExpectColumnValuesToNotBeNull(column=col, **common)
        if rule.kind == "empty":
            return E.ExpectColumnValuesToBeNull(column=col, **common)
        if rule.kind == "max_length":
            return E.ExpectColumnValueLengthsToBeBetween(column=col, max_value=int(p["max"]), **common)
        if rule.kind == "enum" and not p.get("other_prefix"):
            return E.ExpectColumnValuesToBeInSet(column=col, value_set=list(p["values"]), **common)
        if rule.kind == "enum":
            values = "|".join(re.escape(v) for v in p["values"])
            prefix = re.escape(p["other_prefix"])
            regex = rf"(?s)\A(?:{values})\Z|\A{prefix}.*[^ \-].*\Z"
            return E.ExpectColumnValuesToMatchRegex(column=col, regex=regex, **common)
        if rule.kind == "forbidden":
            return E.ExpectColumnValuesToNotBeInSet(column=col, value_set=list(p["values"]), **common)
        if rule.kind in ("pattern", "amount_format"):
            pattern = p.get("pattern", r"[0-9]{1,12}(\.[0-9]{1,6})?")
            return E.ExpectColumnValuesToMatchRegex(column=col, regex=rf"\A(?:{pattern})\Z", **common)
        if rule.kind == "formula_prefix":
            starts = "|".join(re.escape(str(x)) for x in p["prefixes"])
            return E.ExpectColumnValuesToNotMatchRegex(column=col, regex=rf"\A(?:{starts})", **common)
        if rule.kind == "uscc" and p.get("check") == "format":
            return E.ExpectColumnValuesToMatchRegex(column=col, regex=USCC_REGEX, **common)
        if rule.kind == "uscc" and p.get("check") == "check_digit":
            return ExpectColumnValuesToHaveValidUsccCheckDigit(column=col, skip=list(p.get("skip") or []), **common)
        if rule.kind == "org_code" and p.get("check") == "format":
            return E.ExpectColumnValuesToMatchRegex(column=col, regex=ORG_CODE_REGEX, **common)
        if rule.kind == "org_code":
            return ExpectColumnValuesToHaveValidOrgCodeCheckDigit(column=col, skip=list(p.get("skip") or []), **common)
    if rule.kind == "resident_id":
        common["row_condition"] = Column(p["type_field"]) == p.get("type_value", "身份证")
        return ExpectColumnValuesToBeValidResidentId(
            column=col, check=p.get("check", "format"), today=today.isoformat() if today else None, **common
        )
    common.pop("row_condition", None)
    columns = _columns_of(rule)
    if len(columns) == 1:
        return ExpectColumnValuesToPassNationalRule(
            column=col,
            dataset=dataset,
            rule_id=rule.id,
            kind=rule.kind,
            params=_jsonable(dict(p)),
            penalty_categories=_jsonable(dict(penalty_categories)) if _uses_categories(rule) else {},
            today=today.isoformat() if today else None,
            **common,
        )
    return ExpectRowsToPassNationalRule(
        column_list=columns,
        dataset=dataset,
        rule_id=rule.id,
        kind=rule.kind,
        field=rule.field,
        params=_jsonable(dict(p)),
        penalty_categories=_jsonable(dict(penalty_categories)) if _uses_categories(rule) else {},
        today=today.isoformat() if today else None,
        **common,
    )


def build_suite(
    dataset: str, settings: RuleSettings | None = None, *, today: dt.date | None = None
) -> gx.ExpectationSuite:
    """The GX suite of ``dataset``: one expectation per active catalogue rule, in catalogue order.

    ``today`` fixes the date used by "not in the future" rules; ``None`` leaves it to the validation
    run (the checked-in JSON is built that way, so it does not change from day to day). GX needs an
    active data context to build a suite; an ephemeral one is created when none exists.
    """
    _ensure_context()
    cat = load_catalogue(dataset, settings)
    suite = gx.ExpectationSuite(name=f"sgs_{dataset}")
    for rule in cat.active():
        suite.add_expectation(expectation_for(rule, dataset, cat.penalty_categories, today))
    return suite


def _ensure_context() -> None:
    from great_expectations.data_context.data_context.context_factory import project_manager

    try:
        project_manager.get_project()
    except Exception:  # noqa: BLE001 - GX raises its own DataContextRequiredError subclass
        gx.get_context(mode="ephemeral")


def suite_json(dataset: str) -> str:
    """The suite of ``dataset`` as stable, diffable JSON (what ``suites/<dataset>.json`` holds)."""
    data = build_suite(dataset).to_json_dict()
    meta = data.get("meta")
    if isinstance(meta, dict):
        meta.pop("great_expectations_version", None)
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> None:
    """``python -m expectations.gx_suites --write`` regenerates ``expectations/suites/*.json``."""
    parser = argparse.ArgumentParser(description="Generate the GX suites from the rule catalogue.")
    parser.add_argument("--write", action="store_true", help="write expectations/suites/<dataset>.json")
    args = parser.parse_args(argv)
    for ds in ("cf", "xk"):
        text = suite_json(ds)
        target = SUITES_DIR / f"{ds}.json"
        if args.write:
            SUITES_DIR.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target} ({text.count(chr(10)) + 1} lines)")
        else:
            print(text)


if __name__ == "__main__":
    main()
