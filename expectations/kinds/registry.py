"""The registry of rule kinds: how each kind judges a frame, and how GX states it.

A rule kind is a function ``(frame, rule) -> bool array`` (``True`` = the row fails) registered with
:func:`kind`. Beside it, a kind may register with :func:`gx_statement` how it becomes a Great
Expectations 1.x expectation; kinds without one (or whose statement returns ``None`` for a rule's
parameters) are stated in GX by the engine-backed custom expectation, which runs the kind itself
(:mod:`expectations.gx_suites`). Statements receive GX's modules in a :class:`GxContext`, so the kinds
never import Great Expectations and validation never pays for it.

A rule never judges a missing value except the ``required`` kind: "missing" is the business of the
requirement rules, so a blank optional field never produces a format error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from expectations.frame import BoolArray, Frame
from expectations.rules import Rule

RuleKind = Callable[[Frame, Rule], BoolArray]
#: Kind name → the function computing a rule's failure mask.
RULE_KINDS: dict[str, RuleKind] = {}


@dataclass(frozen=True)
class GxContext:
    """What a GX statement may use; built by :func:`expectations.gx_suites.expectation_for`."""

    #: ``great_expectations.expectations`` (the built-in expectation classes).
    expectations: Any
    #: :mod:`expectations.gx_custom` (the project's custom expectation classes).
    custom: Any
    #: GX's row-condition ``Column`` class.
    column: Any
    #: Keyword arguments every expectation takes: meta (rule id, severity, message), severity and,
    #: when the rule has a ``when`` condition GX can state, the row condition.
    common: Mapping[str, Any]
    #: ISO date for "not in the future" checks; ``None`` leaves it to the validation run.
    today: str | None
    #: The dataset of the suite (``cf``/``xk``): a field's properties, e.g. whether it may hold line breaks.
    dataset: str = ""


GxStatement = Callable[[Rule, GxContext], Any]


@dataclass(frozen=True)
class GxRegistration:
    statement: GxStatement
    #: The statement sets its own row condition, so it also applies to rules whose ``when`` GX cannot state.
    own_row_condition: bool = False


#: Kind name → how a rule of that kind becomes a GX expectation (``None`` from the statement: engine-backed).
GX_STATEMENTS: dict[str, GxRegistration] = {}


def kind(name: str) -> Callable[[RuleKind], RuleKind]:
    """Register the decorated function as the rule kind ``name``."""

    def register(fn: RuleKind) -> RuleKind:
        if name in RULE_KINDS:
            raise ValueError(f"rule kind {name!r} registered twice")
        RULE_KINDS[name] = fn
        return fn

    return register


def gx_statement(name: str, *, own_row_condition: bool = False) -> Callable[[GxStatement], GxStatement]:
    """Register how rules of kind ``name`` are stated in GX (called only when GX can state their ``when``,
    unless ``own_row_condition``)."""

    def register(fn: GxStatement) -> GxStatement:
        if name in GX_STATEMENTS:
            raise ValueError(f"GX statement of kind {name!r} registered twice")
        GX_STATEMENTS[name] = GxRegistration(fn, own_row_condition)
        return fn

    return register


def skipped(frame: Frame, rule: Rule) -> BoolArray:
    """Rows whose value is listed in the rule's ``skip`` parameter (placeholders with their own rules)."""
    skip = rule.params.get("skip")
    if not skip:
        return np.zeros(frame.n, dtype=bool)
    return frame.isin(rule.field, skip)
