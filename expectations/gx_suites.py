"""Great Expectations 1.x suites generated from the rule catalogue.

Each active rule becomes one expectation whose ``meta`` carries the rule id, severity and message.
How a rule kind becomes an expectation is registered beside the kind (``@gx_statement`` in the family
modules of :mod:`expectations.kinds`, listed in :data:`expectations.kinds.GX_STATEMENTS`):

- built-in expectations where their semantics equal the engine's (not null with a ``row_condition``
  for conditional requirements, null for "must be empty", value lengths, in set / not in set, regex);
- custom column-map expectations for the check digits (USCC, 组织机构代码, 身份证), calling the same
  vectorised functions as the engine (:mod:`expectations.gx_custom`);
- for every other rule (no statement registered, the statement declines the rule's parameters, or
  GX cannot state its ``when``), an engine-backed custom expectation
  (:class:`~expectations.gx_custom.ExpectColumnValuesToPassNationalRule` for one column,
  :class:`~expectations.gx_custom.ExpectRowsToPassNationalRule` for several) that evaluates the rule
  with its kind, so GX and the engine cannot disagree (their independent check is the labelled rows
  of tests/expectations/oracle_rows.yaml and the rule table; see docs/reliability.md).

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations.expectations.row_conditions import Column, Condition

from expectations import gx_custom
from expectations.catalogue import load_catalogue
from expectations.gx_custom import ExpectColumnValuesToPassNationalRule, ExpectRowsToPassNationalRule
from expectations.kinds import GX_STATEMENTS, GxContext
from expectations.rules import Rule
from expectations.settings import RuleSettings

SUITES_DIR = Path(__file__).with_name("suites")
GX_SEVERITY = {"error": "critical", "warning": "warning"}
#: Parameters naming other columns a rule reads (they join the multicolumn expectation's column_list).
_COLUMN_PARAMS = ("field", "other", "type_field", "uscc_field", "text_field", "number_field")


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
    registered = GX_STATEMENTS.get(rule.kind)
    if registered is not None and (expressible or registered.own_row_condition):
        ctx = GxContext(
            expectations=gx.expectations,
            custom=gx_custom,
            column=Column,
            common=common,
            today=today.isoformat() if today else None,
            dataset=dataset,
        )
        stated = registered.statement(rule, ctx)
        if stated is not None:
            return stated
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
    dataset: str, settings: RuleSettings | None = None, *, today: dt.date | None = None, name: str | None = None
) -> gx.ExpectationSuite:
    """The GX suite of ``dataset``: one expectation per active catalogue rule, in catalogue order, named
    ``name`` (default ``sgs_<dataset>``; ``sgs audit`` names a department's own rule switches' suite after it).

    ``today`` fixes the date used by "not in the future" rules; ``None`` leaves it to the validation
    run (the checked-in JSON is built that way, so it does not change from day to day). GX needs an
    active data context to build a suite; an ephemeral one is created when none exists.
    """
    _ensure_context()
    cat = load_catalogue(dataset, settings)
    suite = gx.ExpectationSuite(name=name or f"sgs_{dataset}")
    for rule in cat.active():
        suite.add_expectation(expectation_for(rule, dataset, cat.penalty_categories, today))
    return suite


def _ensure_context() -> None:
    from great_expectations.data_context.data_context.context_factory import project_manager
    from great_expectations.exceptions.exceptions import DataContextRequiredError

    # get_current_project, not get_project: the latter *builds* a default context (a gx/ folder in the working
    # directory, else an ephemeral one) and makes it the active project, replacing e.g. the auditors' project.
    try:
        project_manager.get_current_project()
    except DataContextRequiredError:
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
