"""Amount kinds (amounts in 万元 as plain decimals): format, sign, bounds, the amount expected by the
处罚类别, and the fine written in the decision text."""

from __future__ import annotations

import operator
import re
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from expectations.conditions import condition
from expectations.frame import AMOUNT_PATTERN, BoolArray, Frame
from expectations.kinds.registry import GxContext, gx_statement, kind
from expectations.rules import Rule


@kind("amount_format")
def _amount_format(frame: Frame, rule: Rule) -> BoolArray:
    pattern = rule.params.get("pattern", AMOUNT_PATTERN)
    return frame.filled(rule.field) & np.isnan(frame.amounts(rule.field, pattern))


@kind("amount_positive")
def _amount_positive(frame: Frame, rule: Rule) -> BoolArray:
    v = frame.amounts(rule.field)
    return (v <= 0) & condition(frame, rule.params.get("when"))  # NaN compares False


@kind("amount_unexpected")
def _amount_unexpected(frame: Frame, rule: Rule) -> BoolArray:
    """A non-zero amount although the condition (the matching 处罚类别) does not hold."""
    v = frame.amounts(rule.field)
    return (v > 0) & ~condition(frame, rule.params.get("when"))


@kind("amount_max")
def _amount_max(frame: Frame, rule: Rule) -> BoolArray:
    return frame.amounts(rule.field) >= float(rule.params["max"])


_FINE_IN_TEXT = re.compile(r"罚款(?:人民币)?\s*([0-9]+(?:\.[0-9]+)?)\s*(万)?元")


def _fine_yuan(a: np.ndarray) -> npt.NDArray[np.float64]:
    """The first ``罚款N元`` / ``罚款N万元`` of each text, in 元; NaN when there is none."""
    out = np.full(len(a), np.nan)
    # C-level maps only: find the first 罚款 (a fast substring search), try the regex anchored there,
    # and fall back to a full search only where that first 罚款 is not followed by an amount.
    pos = np.fromiter(map(str.find, a, repeat("罚款")), np.int64, count=len(a))
    cand = np.flatnonzero(pos >= 0)
    texts = a[cand].tolist()
    matches = list(map(_FINE_IN_TEXT.match, texts, pos[cand].tolist()))
    for j in [j for j, m in enumerate(matches) if m is None]:
        matches[j] = _FINE_IN_TEXT.search(texts[j])
    hit = np.fromiter(map(bool, matches), bool, count=len(matches))
    if hit.any():
        found = [m for m in matches if m is not None]
        number = np.array(list(map(operator.methodcaller("group", 1), found)), dtype=np.float64)
        wan = np.array(list(map(operator.methodcaller("group", 2), found)), dtype=object) != None  # noqa: E711
        out[cand[hit]] = number * np.where(wan, 10000.0, 1.0)
    return out


@kind("fine_in_text")
def _fine_in_text(frame: Frame, rule: Rule) -> BoolArray:
    """CF_NR_FK × 10000 differs from the first ``罚款N元`` / ``罚款N万元`` written in the text column."""
    v = frame.amounts(rule.field)
    tol = float(rule.params.get("tolerance_yuan", 1.0))
    text = rule.params["text_field"]
    if frame.low_cardinality(text):
        yuan = frame.value_map(text, "fine_yuan", _fine_yuan, dtype=np.float64, default=np.nan)
        with np.errstate(invalid="ignore"):
            return np.abs(v * 10000 - yuan) > tol  # NaN on either side compares False
    # Decision texts are mostly distinct: read only those of the rows that state a well-formed amount.
    out = np.zeros(frame.n, dtype=bool)
    rows = np.flatnonzero(~np.isnan(v) & frame.filled(text))
    if rows.size:
        with np.errstate(invalid="ignore"):
            out[rows] = np.abs(v[rows] * 10000 - _fine_yuan(frame.values(text)[rows])) > tol
    return out


@gx_statement("amount_format")
def _amount_format_gx(rule: Rule, gx: GxContext) -> Any:
    pattern = rule.params.get("pattern", AMOUNT_PATTERN)
    return gx.expectations.ExpectColumnValuesToMatchRegex(column=rule.field, regex=rf"\A(?:{pattern})\Z", **gx.common)
