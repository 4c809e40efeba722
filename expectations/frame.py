"""The frame a chunk is judged on: normalised columns and per-column work shared by every rule.

:class:`Frame` holds one batch in national columns and computes, lazily and once per column, what
the rule kinds read: lengths and the missing mask (one pass), the filled values, distinct values (for
low-cardinality columns), first characters, character-class scans of the joined column, parsed dates
and amounts, identifier flags (format, check digit) and parsed 处罚类别. Cached arrays are
read-only, so no rule can corrupt another rule's input. Nothing here knows a rule: the kinds
(:mod:`expectations.kinds`) and the condition language (:mod:`expectations.conditions`) read it.

Per-value tests run either on the column's distinct values (low-cardinality columns such as dates,
enums, authority names) or through C-level ``map`` over the filled values; nothing loops in Python
per row and rule.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from expectations import checks
from expectations.categories import CategoryParse, parse_penalty_categories
from national import dataset as national_dataset

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: Ordinal used for "no valid date"; every comparison skips it.
NO_DATE = -1
#: The amount format the amount kinds accept unless a rule gives its own ``pattern``.
AMOUNT_PATTERN = r"[0-9]{1,12}(\.[0-9]{1,6})?"
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: Share of distinct values in a sample under which per-value tests run on the distinct values.
_LOW_CARDINALITY = 0.3
_SAMPLE = 20000
_SAMPLE_HEAD = 1000
_FIRST = operator.itemgetter(0)
#: Cache keys of arrays that may be the caller's own column (a view of its DataFrame): never frozen.
_UNFROZEN = frozenset({"values", "filled_values"})


class Frame:
    """A batch prepared for rule evaluation: normalised columns and lazily cached derived arrays."""

    def __init__(
        self,
        df: pd.DataFrame,
        dataset: str,
        today: dt.date,
        penalty_categories: Mapping[str, Any] | None = None,
    ) -> None:
        self.dataset = national_dataset(dataset)
        self.n = len(df)
        self.today = today
        self.today_ordinal = today.toordinal()
        self.penalty_categories = penalty_categories or {}
        self._df = df
        self._positions = _column_positions(df)
        self._cache: dict[Hashable, Any] = {}

    # -- raw columns -------------------------------------------------------------------------
    def _cached(self, key: Hashable, make: Callable[[], Any]) -> Any:
        try:
            return self._cache[key]
        except KeyError:
            value = make()
            # Cached arrays are shared by every rule on the column: freeze them so that an in-place
            # operator in a rule cannot corrupt another rule's input.
            # The raw column arrays may be views of the caller's DataFrame: those are left alone.
            if not (isinstance(key, tuple) and key[0] in _UNFROZEN):
                for arr in value if isinstance(value, tuple) else (value,):
                    if isinstance(arr, np.ndarray):
                        arr.flags.writeable = False
            self._cache[key] = value
            return value

    def values(self, col: str) -> np.ndarray:
        """The column as an object array of ``str``/``None`` (missing column → all ``None``).

        Empty strings (and the ``NaN`` of a pandas string column) are kept here: :meth:`lengths`
        gives them length 0, so :meth:`missing` counts them as blank and no per-value test sees them.
        """

        def make() -> np.ndarray:
            pos = self._positions.get(col)
            if pos is None:
                return np.full(self.n, None, dtype=object)
            raw = self._df.iloc[:, pos].to_numpy(dtype=object, copy=False)
            if pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
                return raw  # str, None, or NaN/NA (skipped by infer_dtype, length 0 below)
            return checks.normalise_values(raw)

        return self._cached(("values", col), make)

    def lengths(self, col: str) -> IntArray:
        """Length in characters; 0 when missing (``None``, empty, ``NaN``).

        One C-level pass: ``operator.length_hint`` is ``len`` for a ``str`` and 0 for ``None``/``NaN``.
        """

        def make() -> IntArray:
            factorized = self._cache.get(("factorize", col))
            if factorized is not None:
                codes, uniques = factorized
                lens = np.array([len(u) for u in uniques.tolist()] + [0], dtype=np.int64)
                return lens[codes]
            return np.fromiter(map(operator.length_hint, self.values(col)), dtype=np.int64, count=self.n)

        return self._cached(("len", col), make)

    def missing(self, col: str) -> BoolArray:
        """``None``, empty string or ``NaN``."""
        return self._cached(("missing", col), lambda: self.lengths(col) == 0)

    def filled(self, col: str) -> BoolArray:
        return self._cached(("filled", col), lambda: self.lengths(col) > 0)

    def filled_index(self, col: str) -> IntArray:
        """Positions of the filled rows."""
        return self._cached(("filled_idx", col), lambda: np.flatnonzero(self.filled(col)))

    def filled_values(self, col: str) -> np.ndarray:
        """The filled values (non-empty ``str``), in row order; shared by the per-value tests of the column."""

        def make() -> np.ndarray:
            idx = self.filled_index(col)
            v = self.values(col)
            return v if idx.size == self.n else v[idx]

        return self._cached(("filled_values", col), make)

    def first_codepoints(self, col: str) -> IntArray:
        """Code point of each value's first character; -1 when missing."""

        def make() -> IntArray:
            fv = self.filled_values(col)
            first = np.fromiter(map(ord, map(_FIRST, fv)), dtype=np.int64, count=fv.size)
            if fv.size == self.n:
                return first
            out = np.full(self.n, -1, dtype=np.int64)
            out[self.filled_index(col)] = first
            return out

        return self._cached(("first_cp", col), make)

    # -- per-value tests on distinct values or on all values ----------------------------------
    def low_cardinality(self, col: str) -> bool:
        """Whether a sample of the column has few distinct values (then tests run per distinct value)."""

        def make() -> bool:
            sample = self.values(col)[: _SAMPLE * 2][self.filled(col)[: _SAMPLE * 2]][:_SAMPLE]
            if sample.size < 50:
                return self.n > 4 * max(sample.size, 1)
            values = sample.tolist()
            distinct = set(values[:_SAMPLE_HEAD])
            # Factorizing hashes every value once: worth it for long texts only when they repeat a lot.
            mean_len = sum(map(len, distinct)) / len(distinct)
            limit = (_LOW_CARDINALITY if mean_len <= 64 else 0.01) * len(values)
            # The distinct count only grows: stop as soon as it reaches the limit (columns of unique
            # texts are decided after a fraction of the sample).
            for start in range(_SAMPLE_HEAD, len(values), _SAMPLE_HEAD):
                if len(distinct) >= limit:
                    return False
                distinct.update(values[start : start + _SAMPLE_HEAD])
            return len(distinct) < limit

        return self._cached(("lowcard", col), make)

    def factorized(self, col: str) -> tuple[IntArray, np.ndarray]:
        def make() -> tuple[IntArray, np.ndarray]:
            v = self.values(col)
            if not self.filled(col).any():  # blank optional columns are common and need no hashing
                return np.full(self.n, -1, dtype=np.int64), np.zeros(0, dtype=object)
            codes, uniques = pd.factorize(v, use_na_sentinel=True)
            return codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=object)

        return self._cached(("factorize", col), make)

    def value_map(
        self,
        col: str,
        key: Hashable,
        fn: Callable[[np.ndarray], np.ndarray],
        dtype: Any = bool,
        default: Any = False,
    ) -> np.ndarray:
        """``fn`` applied to every filled value of ``col``; ``default`` where the value is missing.

        ``fn`` takes an object array of non-empty ``str`` and returns an array of the same length.
        It runs on the distinct values when the column has few of them (dates, enums, authority
        names), else on all filled values.
        """

        def make() -> np.ndarray:
            out = np.full(self.n, default, dtype=dtype)
            if self.low_cardinality(col):
                codes, uniques = self.factorized(col)
                keep = np.array([u != "" for u in uniques.tolist()], dtype=bool)
                if keep.any():
                    res = np.full(uniques.size + 1, default, dtype=dtype)
                    res[np.flatnonzero(keep)] = np.asarray(fn(uniques[keep]), dtype=dtype)
                    out = res[codes]  # code -1 (None) picks the trailing default
            else:
                idx = self.filled_index(col)
                if idx.size:
                    out[idx] = np.asarray(fn(self.filled_values(col)), dtype=dtype)
            return out

        return self._cached(("map", col, key), make)

    def rows_with_char(
        self, col: str, key: Hashable, char_class: re.Pattern[str], none_present: Callable[[str], bool] | None = None
    ) -> BoolArray:
        """Rows whose value contains a character matched by ``char_class`` (a one-character pattern).

        On a column of many distinct values the filled values are joined into one string and scanned
        once (a one-character match cannot span two values); ``none_present(text)`` may first prove
        cheaply that no such character occurs at all (e.g. ``str.isprintable``). Matches are mapped
        back to rows through the cumulative lengths.
        """

        def per_value(a: np.ndarray) -> BoolArray:
            return np.fromiter(map(bool, map(char_class.search, a)), bool, count=len(a))

        if self.low_cardinality(col):
            return self.value_map(col, key, per_value)

        def make() -> BoolArray:
            out = np.zeros(self.n, dtype=bool)
            idx = self.filled_index(col)
            if not idx.size:
                return out
            text = "".join(self.filled_values(col).tolist())
            if none_present is not None and none_present(text):
                return out
            starts = np.fromiter((m.start() for m in char_class.finditer(text)), dtype=np.int64)
            if starts.size:
                ends = np.cumsum(self.lengths(col)[idx])
                out[idx[np.searchsorted(ends, starts, side="right")]] = True
            return out

        return self._cached(("chars", col, key), make)

    def isin(self, col: str, values: Sequence[str]) -> BoolArray:
        key = ("isin", tuple(values))
        return self.value_map(col, key, lambda a: pd.Series(a, dtype=object).isin(list(values)).to_numpy())

    # -- identifiers ---------------------------------------------------------------------------
    def _format_and_check(
        self, col: str, key: str, check: Callable[[np.ndarray], tuple[BoolArray, ...]]
    ) -> tuple[BoolArray, ...]:
        """Flags of an identifier column (format ok, check digit ok, …), computed once per distinct value.

        All flags travel through :meth:`value_map` packed as bits of one small integer.
        """

        def packed(a: np.ndarray) -> npt.NDArray[np.int8]:
            out = np.zeros(len(a), dtype=np.int8)
            for bit, flag in enumerate(check(a)):
                out |= flag.astype(np.int8) << bit
            return out

        def make() -> tuple[BoolArray, ...]:
            code = self.value_map(col, key, packed, dtype=np.int8, default=0)
            return tuple((code >> bit) & 1 == 1 for bit in range(4))

        return self._cached(("fmtchk", col, key), make)

    def uscc(self, col: str) -> tuple[BoolArray, BoolArray]:
        """(format ok, check digit ok) of a USCC column."""
        flags = self._format_and_check(col, "uscc", checks.uscc_analyse)
        return flags[0], flags[1]

    def uscc_extra(self, col: str) -> tuple[BoolArray, BoolArray]:
        """(registration code ok, embedded 组织机构代码 ok) of well-formed USCCs."""
        flags = self._format_and_check(col, "uscc", checks.uscc_analyse)
        return flags[2], flags[3]

    def org_code(self, col: str) -> tuple[BoolArray, BoolArray]:
        flags = self._format_and_check(col, "org", checks.org_code_check)
        return flags[0], flags[1]

    def resident_id(self, col: str) -> tuple[BoolArray, BoolArray]:
        flags = self._format_and_check(col, "ric", lambda a: checks.resident_id_check(a, self.today))
        return flags[0], flags[1]

    # -- dates and amounts -----------------------------------------------------------------------
    def dates(self, col: str) -> IntArray:
        """Proleptic ordinal of each valid ``YYYY-MM-DD`` value; :data:`NO_DATE` otherwise."""
        return self.value_map(col, "date", parse_dates, dtype=np.int64, default=NO_DATE)

    def years(self, col: str) -> IntArray:
        """Year of each valid date, 0 otherwise."""

        def fn(a: np.ndarray) -> IntArray:
            ords = parse_dates(a)
            return np.array([dt.date.fromordinal(o).year if o != NO_DATE else 0 for o in ords.tolist()], dtype=np.int64)

        return self.value_map(col, "year", fn, dtype=np.int64, default=0)

    def amounts(self, col: str, pattern: str = AMOUNT_PATTERN) -> npt.NDArray[np.float64]:
        """Amount of each well-formed value (plain decimal string); NaN when missing or malformed."""
        rx = re.compile(pattern)

        def parse(a: np.ndarray) -> npt.NDArray[np.float64]:
            return np.array([float(s) if rx.fullmatch(s) else np.nan for s in a.tolist()], dtype=np.float64)

        return self.value_map(col, ("amount", pattern), parse, dtype=np.float64, default=np.nan)

    def categories(self, col: str) -> tuple[IntArray, list[CategoryParse]]:
        """Parsed 处罚类别 of each distinct value and a row → distinct-value index (cached)."""
        return self._cached(("cats", col), lambda: self._parse_categories(col))

    def _parse_categories(self, col: str) -> tuple[IntArray, list[CategoryParse]]:
        codes, uniques = self.factorized(col)
        parsed = [parse_penalty_categories(u, self.penalty_categories) for u in uniques.tolist()]
        return codes, parsed

    def category_test(self, col: str, key: Hashable, fn: Callable[[CategoryParse], bool]) -> BoolArray:
        def make() -> BoolArray:
            codes, parsed = self.categories(col)
            res = np.array([fn(p) for p in parsed] + [False], dtype=bool)
            return res[codes]  # code -1 (missing) picks the trailing False

        return self._cached(("cattest", col, key), make)


def _column_positions(df: pd.DataFrame) -> dict[str, int]:
    """Column name → first position; metadata columns (``_…``) and non-string names are ignored."""
    out: dict[str, int] = {}
    for i, c in enumerate(df.columns):
        if isinstance(c, str) and not c.startswith("_") and c not in out:
            out[c] = i
    return out


def parse_dates(a: np.ndarray) -> IntArray:
    """Proleptic ordinal of each valid ``YYYY-MM-DD`` string of ``a``; :data:`NO_DATE` otherwise."""
    out = np.full(len(a), NO_DATE, dtype=np.int64)
    for i, s in enumerate(a.tolist()):
        if len(s) == 10 and _DATE_RE.fullmatch(s):
            try:
                out[i] = dt.date.fromisoformat(s).toordinal()
            except ValueError:
                pass
    return out
