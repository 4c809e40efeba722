"""Code-list kinds: values from an enumeration, forbidden values, and the 处罚类别 vocabulary."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from expectations.conditions import condition
from expectations.frame import BoolArray, Frame
from expectations.kinds.registry import GxContext, gx_statement, kind
from expectations.rules import Rule


@kind("enum")
def _enum(frame: Frame, rule: Rule) -> BoolArray:
    values = list(rule.params["values"])
    prefix = rule.params.get("other_prefix")

    def bad(a: np.ndarray) -> np.ndarray:
        ok = pd.Series(a, dtype=object).isin(values).to_numpy(copy=True)
        if prefix:
            # `其他-` must name the concrete kind: something other than dashes after the prefix.
            ok |= np.array([s.startswith(prefix) and bool(s[len(prefix) :].strip(" -")) for s in a.tolist()], bool)
        return ~ok

    return frame.value_map(rule.field, ("enum", rule.id), bad)


@kind("penalty_category")
def _penalty_category(frame: Frame, rule: Rule) -> BoolArray:
    check = rule.params.get("check", "unknown")
    if check == "unknown":
        return frame.category_test(rule.field, "unknown", lambda p: bool(p.unknown))
    if check == "bare_other":
        return frame.category_test(rule.field, "bare", lambda p: p.bare_other)
    raise ValueError(f"rule {rule.id}: check must be unknown or bare_other")


@kind("forbidden")
def _forbidden(frame: Frame, rule: Rule) -> BoolArray:
    return frame.isin(rule.field, rule.params["values"]) & condition(frame, rule.params.get("when"))


@gx_statement("enum")
def _enum_gx(rule: Rule, gx: GxContext) -> Any:
    p = rule.params
    if not p.get("other_prefix"):
        return gx.expectations.ExpectColumnValuesToBeInSet(column=rule.field, value_set=list(p["values"]), **gx.common)
    values = "|".join(re.escape(v) for v in p["values"])
    prefix = re.escape(p["other_prefix"])
    regex = rf"(?s)\A(?:{values})\Z|\A{prefix}.*[^ \-].*\Z"
    return gx.expectations.ExpectColumnValuesToMatchRegex(column=rule.field, regex=regex, **gx.common)


@gx_statement("forbidden")
def _forbidden_gx(rule: Rule, gx: GxContext) -> Any:
    return gx.expectations.ExpectColumnValuesToNotBeInSet(
        column=rule.field, value_set=list(rule.params["values"]), **gx.common
    )
