"""The vectorised rule engine: one boolean failure mask per rule over a whole batch.

The engine composes three parts:

- :mod:`expectations.frame` — the batch prepared for evaluation (per-column work computed once and
  shared by every rule on that column);
- :mod:`expectations.conditions` — the condition language of the catalogue (``when``);
- :mod:`expectations.kinds` — the rule kinds by family, registered in :data:`RULE_KINDS`.

:func:`run` evaluates the active rules of a catalogue; :func:`expectations.validate` wraps it into
:class:`expectations.Verdicts`.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Sequence

import numpy as np
import pandas as pd

from expectations.frame import BoolArray, Frame
from expectations.kinds import RULE_KINDS
from expectations.rules import Catalogue, Rule

__all__ = ["RULE_KINDS", "Frame", "evaluate", "run"]


def evaluate(frame: Frame, rules: Sequence[Rule]) -> list[BoolArray]:
    """Failure mask of each rule, in catalogue order."""
    return [np.asarray(RULE_KINDS[r.kind](frame, r), dtype=bool) for r in rules]


def run(df: pd.DataFrame, cat: Catalogue, today: dt.date) -> tuple[list[Rule], list[BoolArray]]:
    """Evaluate every active rule of ``cat`` over ``df``.

    The cyclic garbage collector is paused meanwhile: the engine allocates millions of short-lived
    objects (match objects, lists) but creates no reference cycles, and the collector's repeated
    scans cost about a fifth of the run on a million rows.
    """
    frame = Frame(df, cat.dataset, today, cat.penalty_categories)
    rules = cat.active()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return rules, evaluate(frame, rules)
    finally:
        if was_enabled:
            gc.enable()
