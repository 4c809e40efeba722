"""Canonical national text → the values the store holds, and the findings of rows that cannot be loaded.

A value that cannot be typed (a date that is not ``YYYY-MM-DD``, an amount that is not a finite decimal below
10¹²) is a ``LOAD-TYPE`` finding of its row; a value holding a character no store can save (NUL, a lone
surrogate) is ``LOAD-TEXT``; a business key longer than the store's key columns is ``LOAD-KEY``. Each sends
its row to the quarantine (never loaded half-empty), unless a rule of the catalogue already did: the
catalogue's finding is the one the clerk needs. Pure work (no store access): it runs where the chunk is
prepared, possibly in a worker process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

from national import Dataset
from national.issues import Issue
from national.text import encodable

#: The per-row issues of a row without any (shared, never mutated: findings are prepended into a new list).
NO_ISSUES: tuple[Issue, ...] = ()

_INVALID = object()  # a value that cannot be typed


@dataclass(frozen=True)
class Typed:
    """A chunk's national values typed for the store, with the rows that cannot be loaded added to the rejected."""

    values: dict[str, list[Any]]  # national column → dates, Decimals, text (None for an untyped value)
    rejected: np.ndarray  # bool per row: the catalogue's errors and the LOAD-* findings
    issues: list[Sequence[Issue]]  # per row: LOAD-* findings first, then the catalogue's


def type_rows(
    national: pd.DataFrame, ds: Dataset, rejected: np.ndarray, issues: Sequence[Sequence[Issue]], *,
    long_keys: Sequence[int] = (), unstorable: Sequence[int] = (), key_length: int = 0,
) -> Typed:
    """Type every value; a row the catalogue let through is rejected for a value that cannot be typed
    (``LOAD-TYPE``), a business key longer than ``key_length`` (``long_keys``, ``LOAD-KEY``) or a character
    the store cannot save (``unstorable``: rows whose national values do not encode, ``LOAD-TEXT``)."""
    national = national.reset_index(drop=True)
    values, type_problems = _typed(national, ds)
    rejected = np.asarray(rejected, dtype=bool).copy()
    out: list[Sequence[Issue]] = list(issues)
    for i, probs in type_problems.items():
        if not rejected[i]:
            rejected[i] = True
            out[i] = [*probs, *out[i]]
    for i in long_keys:
        if not rejected[i]:
            rejected[i] = True
            out[i] = [key_issue(national, ds, i, key_length), *out[i]]
    for i in unstorable:
        problems = [] if rejected[i] else text_issues(national, ds, i)
        if problems:
            rejected[i] = True
            out[i] = [*problems, *out[i]]
    return Typed(values, rejected, out)


def _typed(national: pd.DataFrame, ds: Dataset) -> tuple[dict[str, list[Any]], dict[int, list[Issue]]]:
    """Canonical text → database values (dates, Decimals); each distinct value is converted once."""
    problems: dict[int, list[Issue]] = {}
    typed: dict[str, list[Any]] = {}
    for f in ds.fields:
        values = national[f.code].tolist()
        if f.kind not in ("date", "amount"):
            typed[f.code] = values
            continue
        convert = _as_date if f.kind == "date" else _as_amount
        converted = {v: convert(v) for v in set(values) if v is not None}
        out = [None if v is None else converted[v] for v in values]
        for i in [i for i, v in enumerate(out) if v is _INVALID]:
            out[i] = None
            problems.setdefault(i, []).append(_load_issue(f.code, f.name_zh, "日期" if f.kind == "date" else "金额"))
        typed[f.code] = out
    return typed, problems


def _as_date(v: Any) -> Any:
    try:
        return dt.date.fromisoformat(v)
    except (TypeError, ValueError):
        return _INVALID


def _as_amount(v: Any) -> Any:
    try:
        d = Decimal(v)
        if not d.is_finite() or abs(d) >= Decimal(10) ** 12:
            raise InvalidOperation
        return d
    except (InvalidOperation, TypeError, ValueError):
        return _INVALID


def _load_issue(code: str, name_zh: str, what: str) -> Issue:
    return Issue("LOAD-TYPE", code, f"{name_zh}（{code}）的值不是可入库的{what}：请按模板格式填写后重新报送", "error")


def text_issues(national: pd.DataFrame, ds: Dataset, i: int) -> list[Issue]:
    """Issues of the fields of row ``i`` holding a character the store cannot save (NUL, lone surrogate)."""
    out = []
    for f in ds.fields:
        v = national.at[i, f.code]
        if isinstance(v, str) and not encodable(v):
            out.append(Issue(
                "LOAD-TEXT", f.code,
                f"{f.name_zh}（{f.code}）含有无法保存的字符（空字符或编码残缺的字符）：请检查源系统的字符编码后重新报送",
                "error",
            ))
    return out


def key_issue(national: pd.DataFrame, ds: Dataset, i: int, key_length: int) -> Issue:
    """The issue of a row whose business key does not fit the store: names the longest key field."""
    # The key is the decision's fields and the party (national.keys): a long name can be the longest part.
    fields = (*ds.business_key, ds.party_columns[-1])
    lengths = {c: len(str(national.at[i, c] or "")) for c in fields if c in national}
    code = max(lengths, key=lambda c: lengths[c])
    f = ds.field(code)
    names = "、".join(ds.field(c).name_zh for c in fields)
    limit = f"超过 {f.max_length} 个字符（本行 {lengths[code]} 个）" if f.max_length else f"有 {lengths[code]} 个字符"
    return Issue(
        "LOAD-KEY", code,
        f"{f.name_zh}（{code}）{limit}，业务主键（{names}）超过 {key_length} 个字符，无法入库：请核对{f.name_zh}后重新报送",
        "error",
    )
