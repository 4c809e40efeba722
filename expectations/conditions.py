"""The condition language of the catalogue: when a rule applies to a row.

A rule's ``when`` parameter (and a few kinds' own parameters) is a small expression over the row's
national columns, written in YAML::

    {field: CF_XDR_LB, in: [法人及非法人组织, 个体工商户]}
    {field: CF_JDRQ, valid_date: true}
    {all: [{field: CF_XDR_LB, equals: 自然人}, {field: CF_XDR_ZJLX, filled: true}]}
    {field: CF_CFLB, has_category: [罚款]}

:func:`condition` evaluates one over a :class:`~expectations.frame.Frame` to a boolean mask; the GX
suites translate the forms GX can state into row conditions (:mod:`expectations.gx_suites`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from expectations.frame import NO_DATE, BoolArray, Frame


def condition(frame: Frame, cond: Mapping[str, Any] | None) -> BoolArray:
    """Rows where a catalogue condition holds (``None`` → every row).

    Forms: ``{field, in: [...]}``, ``{field, not_in: [...]}`` (missing counts as "not in"),
    ``{field, equals: v}``, ``{field, filled: bool}``, ``{field, valid_date: bool}`` (a real
    ``YYYY-MM-DD`` date), ``{field, has_category: [...]}``,
    ``{all: [...]}``, ``{any: [...]}``.
    """
    if not cond:
        return np.ones(frame.n, dtype=bool)
    if "all" in cond:
        out = np.ones(frame.n, dtype=bool)
        for c in cond["all"]:
            out &= condition(frame, c)
        return out
    if "any" in cond:
        out = np.zeros(frame.n, dtype=bool)
        for c in cond["any"]:
            out |= condition(frame, c)
        return out
    col = cond["field"]
    if "in" in cond:
        return frame.isin(col, cond["in"])
    if "not_in" in cond:
        return ~frame.isin(col, cond["not_in"])
    if "equals" in cond:
        return frame.isin(col, [cond["equals"]])
    if "filled" in cond:
        return frame.filled(col) if cond["filled"] else frame.missing(col)
    if "valid_date" in cond:
        valid = frame.dates(col) != NO_DATE
        return valid if cond["valid_date"] else ~valid
    if "has_category" in cond:
        wanted = frozenset(cond["has_category"])
        return frame.category_test(col, ("has", wanted), lambda p: bool(p.categories & wanted))
    raise ValueError(f"unknown condition {dict(cond)!r}")
