"""The vectorised rule engine: one boolean failure mask per rule over a whole batch.

Each rule kind of the catalogue is a function ``(frame, rule) -> bool array`` registered in
:data:`RULE_KINDS`. Nothing loops in Python per row and rule: per-column work (lengths, parsed dates,
check digits, parsed 处罚类别) is computed once by :class:`Frame` and shared by every rule on that
column, and per-value tests run either on the column's distinct values (low-cardinality columns such
as dates, enums, authority names) or through C-level ``map`` over the values.

A rule never judges a missing value except the ``required`` kind: "missing" is the business of the
requirement rules, so a blank optional field never produces a format error.
"""

from __future__ import annotations

import datetime as dt
import gc
import operator
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from expectations import checks
from expectations.catalogue import Catalogue, Rule
from national import dataset as national_dataset

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: Ordinal used for "no valid date"; every comparison skips it.
NO_DATE = -1
SENTINEL_LONG_TERM = "2099-12-31"
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_AMOUNT_RE_DEFAULT = r"[0-9]{1,12}(\.[0-9]{1,6})?"
# A character that is a letter, digit or 汉字 (\w minus underscore): a value without one is punctuation only.
_WORD_CHAR = re.compile(r"[^\W_]")
_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d"
_FULLWIDTH_ALNUM = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
# Control characters (C0 without \n, DEL, C1), U+FFFD (the mark of a botched encoding: 乱码) and lone
# surrogates (cannot be stored as UTF-8).
_CONTROL = "\x00-\x09\x0b-\x1f\x7f-\x9f\ufffd\ud800-\udfff"
_CONTROL_RE = re.compile(f"[{_CONTROL}]")
_CONTROL_NL_RE = re.compile(f"[{_CONTROL}\n]")
#: Share of distinct values in a sample under which per-value tests run on the distinct values.
_LOW_CARDINALITY = 0.3
_SAMPLE = 20000


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
            if not (isinstance(key, tuple) and key[0] == "values"):
                for arr in value if isinstance(value, tuple) else (value,):
                    if isinstance(arr, np.ndarray):
                        arr.flags.writeable = False
            self._cache[key] = value
            return value

    def values(self, col: str) -> np.ndarray:
        """The column as an object array of ``str``/``None`` (missing column → all ``None``).

        Empty strings are kept here; :meth:`missing` counts them as blank.
        """

        def make() -> np.ndarray:
            pos = self._positions.get(col)
            if pos is None:
                return np.full(self.n, None, dtype=object)
            raw = self._df.iloc[:, pos].to_numpy(dtype=object, copy=False)
            if pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
                return raw  # the contract holds: str or None (NaN would have made it "mixed")
            return checks.normalise_values(raw)

        return self._cached(("values", col), make)

    def missing(self, col: str) -> BoolArray:
        """``None`` or empty string."""

        def make() -> BoolArray:
            if self.low_cardinality(col):
                codes, uniques = self.factorized(col)
                blank = np.array([u == "" for u in uniques.tolist()] + [True], dtype=bool)
                return blank[codes]  # code -1 (None) picks the trailing True
            return self.lengths(col) == 0

        return self._cached(("missing", col), make)

    def filled(self, col: str) -> BoolArray:
        return self._cached(("filled", col), lambda: ~self.missing(col))

    def lengths(self, col: str) -> IntArray:
        """Length in characters; 0 when missing."""

        def make() -> IntArray:
            if self.low_cardinality(col):
                codes, uniques = self.factorized(col)
                lens = np.array([len(u) for u in uniques.tolist()] + [0], dtype=np.int64)
                return lens[codes]
            v = self.values(col)
            none = pd.isna(v)
            if none.any():
                v = v.copy()
                v[none] = ""
            return np.fromiter(map(len, v), dtype=np.int64, count=self.n)

        return self._cached(("len", col), make)

    # -- per-value tests on distinct values or on all values ----------------------------------
    def low_cardinality(self, col: str) -> bool:
        """Whether a sample of the column has few distinct values (then tests run per distinct value)."""

        def make() -> bool:
            v = self.values(col)[: _SAMPLE * 2]
            sample = v[~pd.isna(v)][:_SAMPLE]
            if sample.size < 50:
                return self.n > 4 * max(sample.size, 1)
            distinct = set(sample.tolist())
            # Factorizing hashes every value once: worth it for long texts only when they repeat a lot.
            mean_len = sum(map(len, distinct)) / len(distinct)
            limit = _LOW_CARDINALITY if mean_len <= 64 else 0.01
            return len(distinct) < limit * sample.size

        return self._cached(("lowcard", col), make)

    def factorized(self, col: str) -> tuple[IntArray, np.ndarray]:
        def make() -> tuple[IntArray, np.ndarray]:
            v = self.values(col)
            if pd.isna(v).all():  # blank optional columns are common and need no hashing
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
                idx = np.flatnonzero(self.filled(col))
                if idx.size:
                    out[idx] = np.asarray(fn(self.values(col)[idx]), dtype=dtype)
            return out

        return self._cached(("map", col, key), make)

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
        return self.value_map(col, "date", _parse_dates, dtype=np.int64, default=NO_DATE)

    def years(self, col: str) -> IntArray:
        """Year of each valid date, 0 otherwise."""

        def fn(a: np.ndarray) -> IntArray:
            ords = _parse_dates(a)
            return np.array([dt.date.fromordinal(o).year if o != NO_DATE else 0 for o in ords.tolist()], dtype=np.int64)

        return self.value_map(col, "year", fn, dtype=np.int64, default=0)

    def amounts(self, col: str, pattern: str = _AMOUNT_RE_DEFAULT) -> npt.NDArray[np.float64]:
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


def _parse_dates(a: np.ndarray) -> IntArray:
    out = np.full(len(a), NO_DATE, dtype=np.int64)
    for i, s in enumerate(a.tolist()):
        if len(s) == 10 and _DATE_RE.fullmatch(s):
            try:
                out[i] = dt.date.fromisoformat(s).toordinal()
            except ValueError:
                pass
    return out


# -- 处罚类别 -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CategoryParse:
    """One 处罚类别 value split into canonical categories (spec §2 enumerations)."""

    categories: frozenset[str]
    unknown: tuple[str, ...]
    bare_other: bool


def parse_penalty_categories(value: str, cfg: Mapping[str, Any]) -> CategoryParse:
    """Split a 处罚类别 value into categories.

    Parts are separated by ``;``/``；``; inside a part ``、`` separates categories too, but the 2019
    compound values contain ``、`` themselves, so known compounds (aliases) are matched first, longest
    first. A ``其他-…`` token runs to the end of its part, because its free text may contain ``、``.
    """
    atomic: set[str] = set(cfg.get("atomic", ()))
    aliases: Mapping[str, Sequence[str]] = cfg.get("aliases", {})
    other_prefix: str = cfg.get("other_prefix", "其他-")
    other_bare: str = other_prefix.rstrip("-")
    part_seps: str = cfg.get("part_separators", ";；")
    inner_sep: str = cfg.get("inner_separator", "、")
    compounds = sorted((a for a in aliases if inner_sep in a), key=len, reverse=True)
    cats: set[str] = set()
    unknown: list[str] = []
    bare = False
    for part in re.split(f"[{re.escape(part_seps)}]", value):
        part = part.strip()
        if not part:
            continue
        head, tail = part, ""
        k = part.find(other_prefix)
        if k >= 0:
            head, tail = part[:k], part[k:]
        for comp in compounds:
            if comp in head:
                cats.update(aliases[comp])
                head = head.replace(comp, inner_sep)
        for tok in head.split(inner_sep):
            tok = tok.strip()
            if not tok:
                continue
            if tok in atomic:
                cats.add(tok)
            elif tok in aliases:
                cats.update(aliases[tok])
            elif tok == other_bare:
                bare = True
                cats.add(other_bare)
            else:
                unknown.append(tok)
        if tail:
            cats.add(other_bare)
            if not tail[len(other_prefix) :].strip(" -、"):
                bare = True
    return CategoryParse(frozenset(cats), tuple(unknown), bare)


# -- conditions ------------------------------------------------------------------------------
def condition(frame: Frame, cond: Mapping[str, Any] | None) -> BoolArray:
    """Rows where a catalogue condition holds (``None`` → every row).

    Forms: ``{field, in: [...]}``, ``{field, not_in: [...]}`` (missing counts as "not in"),
    ``{field, equals: v}``, ``{field, filled: bool}``, ``{field, has_category: [...]}``,
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
    if "has_category" in cond:
        wanted = frozenset(cond["has_category"])
        return frame.category_test(col, ("has", wanted), lambda p: bool(p.categories & wanted))
    raise ValueError(f"unknown condition {dict(cond)!r}")


# -- rule kinds --------------------------------------------------------------------------------
RuleKind = Callable[[Frame, Rule], BoolArray]
RULE_KINDS: dict[str, RuleKind] = {}


def kind(name: str) -> Callable[[RuleKind], RuleKind]:
    def register(fn: RuleKind) -> RuleKind:
        RULE_KINDS[name] = fn
        return fn

    return register


def _skip(frame: Frame, rule: Rule) -> BoolArray:
    """Rows whose value is listed in the rule's ``skip`` parameter (placeholders with their own rules)."""
    skip = rule.params.get("skip")
    if not skip:
        return np.zeros(frame.n, dtype=bool)
    return frame.isin(rule.field, skip)


@kind("required")
def _required(frame: Frame, rule: Rule) -> BoolArray:
    return frame.missing(rule.field) & condition(frame, rule.params.get("when"))


@kind("empty")
def _empty(frame: Frame, rule: Rule) -> BoolArray:
    return frame.filled(rule.field) & condition(frame, rule.params.get("when"))


@kind("max_length")
def _max_length(frame: Frame, rule: Rule) -> BoolArray:
    limit = rule.params.get("max") or frame.dataset.field(rule.field).max_length
    if limit is None:
        raise ValueError(f"rule {rule.id}: {rule.field} has no maximum length; set params.max")
    return frame.lengths(rule.field) > int(limit)


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


@kind("junk")
def _junk(frame: Frame, rule: Rule) -> BoolArray:
    col = rule.field
    junk_values = [str(v) for v in rule.params.get("values", [])]
    punctuation_only = bool(rule.params.get("punctuation_only", True))
    digits_only = bool(rule.params.get("digits_only", False))
    longest = max((len(v) for v in junk_values), default=0)

    def bad(a: np.ndarray) -> np.ndarray:
        # Junk values are short: only values no longer than the longest one are hashed and looked
        # up, which spares hashing long free texts.
        lens = np.fromiter(map(len, a), dtype=np.int64, count=len(a))
        out = np.zeros(len(a), dtype=bool)
        short = np.flatnonzero(lens <= longest)
        if short.size:
            out[short] = pd.Series(a[short], dtype=object).isin(junk_values).to_numpy()
        if punctuation_only:
            # A value whose first character is a letter, digit or 汉字 has a word character; only the
            # others go through the regex.
            first_alnum = np.fromiter(map(str.isalnum, map(operator.itemgetter(0), a)), bool, count=len(a))
            cand = np.flatnonzero(~first_alnum)
            if cand.size:
                out[cand] |= ~np.fromiter(map(bool, map(_WORD_CHAR.search, a[cand].tolist())), bool, count=cand.size)
        if digits_only:
            out |= np.fromiter(map(str.isdecimal, a), bool, count=len(a))
        return out

    return frame.value_map(col, ("junk", rule.id), bad)


@kind("control_chars")
def _control_chars(frame: Frame, rule: Rule) -> BoolArray:
    allow_nl = rule.params.get("allow_newline")
    if allow_nl is None:
        allow_nl = frame.dataset.field(rule.field).multiline
    rx = _CONTROL_RE if allow_nl else _CONTROL_NL_RE

    def bad(a: np.ndarray) -> np.ndarray:
        # str.isprintable is a fast C scan; only the rare non-printable values (which include
        # ideographic spaces and the like) go through the exact regex. U+FFFD is printable, so it is
        # looked for separately.
        out = ~np.fromiter(map(str.isprintable, a), bool, count=len(a))
        idx = np.flatnonzero(out)
        if idx.size:
            out[idx] = np.fromiter((rx.search(s) is not None for s in a[idx].tolist()), bool, count=idx.size)
        out |= np.fromiter(map(str.__contains__, a, repeat("\ufffd")), bool, count=len(a))
        return out

    return frame.value_map(rule.field, ("ctl", allow_nl), bad)


@kind("special_chars")
def _special_chars(frame: Frame, rule: Rule) -> BoolArray:
    chars = str(rule.params.get("chars", ""))
    emoji = bool(rule.params.get("emoji", False))
    body = re.escape(chars) if chars else ""
    if emoji:
        body += _EMOJI
    if not body:
        return np.zeros(frame.n, dtype=bool)
    rx = re.compile(f"[{body}]")
    return frame.value_map(
        rule.field, ("spc", body), lambda a: np.fromiter(map(bool, map(rx.search, a)), bool, count=len(a))
    )


@kind("fullwidth_alnum")
def _fullwidth(frame: Frame, rule: Rule) -> BoolArray:
    return frame.value_map(
        rule.field, "fw", lambda a: np.fromiter(map(bool, map(_FULLWIDTH_ALNUM.search, a)), bool, count=len(a))
    )


@kind("formula_prefix")
def _formula_prefix(frame: Frame, rule: Rule) -> BoolArray:
    """Values that start with one of ``prefixes``: Excel, WPS and LibreOffice would run them as a formula
    (CSV/formula injection). The platform's own workbooks write them as text; the rule tells the department."""
    prefixes = tuple(str(p) for p in rule.params["prefixes"])
    return frame.value_map(
        rule.field,
        ("fml", prefixes),
        lambda a: np.fromiter(map(operator.methodcaller("startswith", prefixes), a), bool, count=len(a)),
    )


@kind("pattern")
def _pattern(frame: Frame, rule: Rule) -> BoolArray:
    rx = re.compile(rule.params["pattern"])
    return frame.value_map(
        rule.field,
        ("re", rule.params["pattern"]),
        lambda a: ~np.fromiter(map(bool, map(rx.fullmatch, a)), bool, count=len(a)),
    ) & condition(frame, rule.params.get("when"))


@kind("uscc")
def _uscc(frame: Frame, rule: Rule) -> BoolArray:
    col = rule.field
    fmt, chk = frame.uscc(col)
    filled = frame.filled(col)
    check = rule.params.get("check", "format")
    if check == "format":
        out = filled & ~fmt
    elif check == "check_digit":
        out = fmt & ~chk
    elif check == "registration":
        out = fmt & ~frame.uscc_extra(col)[0]
    elif check == "embedded_org":
        out = fmt & ~frame.uscc_extra(col)[1]
    else:
        raise ValueError(f"rule {rule.id}: unknown USCC check {check!r}")
    return out & ~_skip(frame, rule) & condition(frame, rule.params.get("when"))


@kind("prefix")
def _prefix(frame: Frame, rule: Rule) -> BoolArray:
    """Well-formed USCCs that (mode ``forbidden``) start or (mode ``required``) do not start with a prefix."""
    col = rule.field
    prefixes = tuple(rule.params["prefixes"])
    starts = frame.value_map(
        col, ("prefix", prefixes), lambda a: np.fromiter(map(str.startswith, a, repeat(prefixes)), bool, count=len(a))
    )
    fmt = frame.uscc(col)[0]
    hit = starts if rule.params.get("mode", "forbidden") == "forbidden" else ~starts
    return fmt & hit & ~_skip(frame, rule) & condition(frame, rule.params.get("when"))


@kind("org_code")
def _org_code(frame: Frame, rule: Rule) -> BoolArray:
    fmt, chk = frame.org_code(rule.field)
    if rule.params.get("check", "format") == "format":
        out = frame.filled(rule.field) & ~fmt
    else:
        out = fmt & ~chk
    return out & ~_skip(frame, rule)


@kind("uscc_body_match")
def _uscc_body_match(frame: Frame, rule: Rule) -> BoolArray:
    """组织机构代码 must equal positions 9–17 of the party's well-formed USCC (spec §3.1)."""
    org_col, uscc_col = rule.field, rule.params["uscc_field"]
    fmt = frame.uscc(uscc_col)[0] & frame.filled(org_col)
    skip = rule.params.get("skip") or []
    if skip:
        fmt &= ~frame.isin(uscc_col, skip)
    out = np.zeros(frame.n, dtype=bool)
    idx = np.flatnonzero(fmt)
    if idx.size:
        body = np.array([s[8:17] for s in frame.values(uscc_col)[idx].tolist()], dtype=object)
        out[idx] = body != frame.values(org_col)[idx]
    return out


@kind("resident_id")
def _resident_id(frame: Frame, rule: Rule) -> BoolArray:
    when = frame.isin(rule.params["type_field"], [rule.params.get("type_value", "身份证")])
    fmt, chk = frame.resident_id(rule.field)
    if rule.params.get("check", "format") == "format":
        return when & frame.filled(rule.field) & ~fmt
    return when & fmt & ~chk


@kind("date")
def _date(frame: Frame, rule: Rule) -> BoolArray:
    return frame.filled(rule.field) & (frame.dates(rule.field) == NO_DATE)


@kind("date_max_year")
def _date_max_year(frame: Frame, rule: Rule) -> BoolArray:
    return frame.years(rule.field) > int(rule.params.get("max_year", 2099))


@kind("date_not_after_today")
def _date_not_after_today(frame: Frame, rule: Rule) -> BoolArray:
    return frame.dates(rule.field) > frame.today_ordinal


@kind("date_not_before_today")
def _date_not_before_today(frame: Frame, rule: Rule) -> BoolArray:
    d = frame.dates(rule.field)
    return (d != NO_DATE) & (d < frame.today_ordinal)


@kind("date_floor")
def _date_floor(frame: Frame, rule: Rule) -> BoolArray:
    floor = rule.params["floor"]
    floor = floor if isinstance(floor, dt.date) else dt.date.fromisoformat(str(floor))
    d = frame.dates(rule.field)
    return (d != NO_DATE) & (d < floor.toordinal())


_RELATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@kind("date_order")
def _date_order(frame: Frame, rule: Rule) -> BoolArray:
    """Fails where both dates are valid and ``field <relation> other`` does not hold."""
    a, b = frame.dates(rule.field), frame.dates(rule.params["other"])
    rel = _RELATIONS[rule.params["relation"]]
    return (a != NO_DATE) & (b != NO_DATE) & ~rel(a, b)


def add_years(ordinal: int, years: int) -> int:
    """Same day-of-month ``years`` later; 29 Feb → 28 Feb when the target year is not leap (民法典 Art. 202)."""
    d = dt.date.fromordinal(ordinal)
    try:
        return d.replace(year=d.year + years).toordinal()
    except ValueError:
        return d.replace(year=d.year + years, day=28).toordinal()


@kind("date_within_years")
def _date_within_years(frame: Frame, rule: Rule) -> BoolArray:
    years = int(rule.params["years"])
    other = rule.params["other"]
    base = frame.dates(other)
    limit = frame.value_map(
        other,
        ("plus_years", years),
        lambda a: np.array([add_years(o, years) if o != NO_DATE else NO_DATE for o in _parse_dates(a).tolist()]),
        dtype=np.int64,
        default=NO_DATE,
    )
    d = frame.dates(rule.field)
    return (d != NO_DATE) & (base != NO_DATE) & (limit != NO_DATE) & (d > limit) & ~_skip(frame, rule)


@kind("amount_format")
def _amount_format(frame: Frame, rule: Rule) -> BoolArray:
    pattern = rule.params.get("pattern", _AMOUNT_RE_DEFAULT)
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
    yuan = frame.value_map(rule.params["text_field"], "fine_yuan", _fine_yuan, dtype=np.float64, default=np.nan)
    with np.errstate(invalid="ignore"):
        return np.abs(v * 10000 - yuan) > tol  # NaN on either side compares False


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
