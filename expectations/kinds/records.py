"""Kinds across the rows of a batch: a key repeated within the batch."""

from __future__ import annotations

import numpy as np
import pandas as pd

from expectations.frame import BoolArray, Frame
from expectations.kinds.registry import kind
from expectations.rules import Rule


@kind("duplicate")
def _duplicate(frame: Frame, rule: Rule) -> BoolArray:
    """Rows repeating an earlier row's key within the batch (the first occurrence passes).

    Python's string hash (C-level, cached on the string) combined over the key columns finds
    candidate rows cheaply; the candidates are then compared exactly, so a hash collision can never
    produce a false duplicate.
    """
    fields = list(rule.params["fields"])
    complete = np.logical_and.reduce([frame.filled(f) for f in fields])
    combined = np.zeros(frame.n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for f in fields:
            h = np.fromiter(map(hash, frame.values(f)), dtype=np.int64, count=frame.n).view(np.uint64)
            combined = combined * np.uint64(1000003) ^ h
    cand = np.flatnonzero(pd.Series(combined).duplicated(keep=False).to_numpy() & complete)
    out = np.zeros(frame.n, dtype=bool)
    if cand.size:
        keys = pd.DataFrame({f: frame.values(f)[cand] for f in fields})
        out[cand] = keys.duplicated(keep="first").to_numpy()
    return out
