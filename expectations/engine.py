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
            value = self._cache[key] = make()
            return value

    def values(self, col: str) -> np.ndarray:
        """The column as an object array of ``str``/``None`` (missing column → all ``None``)."""

        def make() -> np.ndarray:
            pos = self._positions.get(col)
            if pos is None:
                return np.full(self.n, None, dtype=object)
            return checks.normalise_values(self._df.iloc[:, pos].to_numpy(dtype=object, copy=False))

        return self._cached(("values", col), make)

    def missing(self, col: str) -> BoolArray:
        return self._cached(("missing", col), lambda: np.equal(self.values(col), None))

    def filled(self, col: str) -> BoolArray:
        return self._cached(("filled", col), lambda: ~self.missing(col))

    def safe_values(self, col: str) -> np.ndarray:
        """Values with ``None`` replaced by ``""`` so that ``str`` methods can be mapped over them."""

        def make() -> np.ndarray:
            v = self.values(col)
            m = self.missing(col)
            if not m.any():
                return v
            v = v.copy()
            v[m] = ""
            return v

        return self._cached(("safe", col), make)

    def lengths(self, col: str) -> IntArray:
        return self._cached(
            ("len", col), lambda: np.fromiter(map(len, self.safe_values(col)), dtype=np.int64, count=self.n)
        )

    # -- per-value tests on distinct values or on all values ----------------------------------
    def low_cardinality(self, col: str) -> bool:
        def make() -> bool:
            v = self.values(col)[: _SAMPLE * 2]
            sample = v[~np.equal(v, None)][:_SAMPLE]
            if sample.size < 50:
                return sample.size > 0 and self.n > 4 * sample.size
            return len(set(sample.tolist())) < _LOW_CARDINALITY * sample.size

        return self._cached(("lowcard", col), make)

    def factorized(self, col: str) -> tuple[IntArray, np.ndarray]:
        def make() -> tuple[IntArray, np.ndarray]:
            codes, uniques = pd.factorize(self.values(col), use_na_sentinel=True)
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

        ``fn`` takes an object array of ``str`` and returns an array of the same length. It runs on
        the distinct values when the column has few of them (dates, enums, authority names), else on
        all filled values.
        """

        def make() -> np.ndarray:
            out = np.full(self.n, default, dtype=dtype)
            if self.low_cardinality(col):
                codes, uniques = self.factorized(col)
                if uniques.size:
                    res = np.asarray(fn(uniques), dtype=dtype)
                    has = codes >= 0
                    out[has] = res[codes[has]]
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
    def uscc(self, col: str) -> tuple[BoolArray, BoolArray]:
        return self._cached(("uscc", col), lambda: checks.uscc_check(self.values(col), self.lengths(col)))

    def org_code(self, col: str) -> tuple[BoolArray, BoolArray]:
        return self._cached(("org", col), lambda: checks.org_code_check(self.values(col), self.lengths(col)))

    def resident_id(self, col: str) -> tuple[BoolArray, BoolArray]:
        return self._cached(
            ("ric", col), lambda: checks.resident_id_check(self.values(col), self.today, self.lengths(col))
        )

    # -- dates and amounts -----------------------------------------------------------------------
    def dates(self, col: str) -> IntArray:
        """Proleptic ordinal of each valid ``YYYY-MM-DD`` value; :data:`NO_DATE` otherwise."""
        return self.value_map(col, "date", _parse_dates, dtype=np.int64, default=NO_DATE)

    def years(self, col: str) -> IntArray:
        """Year of each valid date, 0 otherwise."""

        def make() -> IntArray:
            d = self.dates(col)
            out = np.zeros(self.n, dtype=np.int64)
            ok = d != NO_DATE
            if ok.any():
                out[ok] = np.fromiter(
                    (dt.date.fromordinal(int(o)).year for o in np.unique(d[ok])), dtype=np.int64
                )[np.searchsorted(np.unique(d[ok]), d[ok])]
            return out

        return self._cached(("years", col), make)

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
        ok = pd.Series(a, dtype=object).isin(values).to_numpy()
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
    out = frame.isin(col, rule.params.get("values", []))
    filled = frame.filled(col)
    if rule.params.get("punctuation_only", True):
        out |= filled & ~frame.value_map(
            col, "has_word", lambda a: np.fromiter(map(bool, map(_WORD_CHAR.search, a)), bool, count=len(a))
        )
    if rule.params.get("digits_only", False):
        out |= filled & frame.value_map(
            col, "digits", lambda a: np.fromiter(map(str.isdecimal, a), bool, count=len(a))
        )
    return out


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
        out = ~frame._cached(("uscc_reg", col), lambda: checks.uscc_registration_ok(frame.values(col), fmt))
    elif check == "embedded_org":
        out = ~frame._cached(("uscc_org", col), lambda: checks.uscc_embedded_org_ok(frame.values(col), fmt))
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


@kind("fine_in_text")
def _fine_in_text(frame: Frame, rule: Rule) -> BoolArray:
    """CF_NR_FK × 10000 differs from the first ``罚款N元`` / ``罚款N万元`` written in the text column."""
    v = frame.amounts(rule.field)
    text_col = rule.params["text_field"]
    tol = float(rule.params.get("tolerance_yuan", 1.0))
    idx = np.flatnonzero(~np.isnan(v) & frame.filled(text_col))
    out = np.zeros(frame.n, dtype=bool)
    if idx.size == 0:
        return out
    texts = frame.values(text_col)[idx]
    # Cheap C-level prefilter: only texts that mention 罚款 are searched with the regex.
    cand = np.fromiter(map(str.__contains__, texts, repeat("罚款")), bool, count=idx.size)
    for j in np.flatnonzero(cand):
        m = _FINE_IN_TEXT.search(texts[j])
        if m is None:
            continue
        yuan = float(m.group(1)) * (10000 if m.group(2) else 1)
        out[idx[j]] = abs(v[idx[j]] * 10000 - yuan) > tol
    return out


@kind("duplicate")
def _duplicate(frame: Frame, rule: Rule) -> BoolArray:
    """Rows repeating an earlier row's key within the batch (the first occurrence passes)."""
    fields = list(rule.params["fields"])
    keys = pd.DataFrame({f: frame.values(f) for f in fields})
    complete = np.logical_and.reduce([frame.filled(f) for f in fields])
    return keys.duplicated(keep="first").to_numpy() & complete


def evaluate(frame: Frame, rules: Sequence[Rule]) -> list[BoolArray]:
    """Failure mask of each rule, in catalogue order."""
    return [np.asarray(RULE_KINDS[r.kind](frame, r), dtype=bool) for r in rules]


def run(df: pd.DataFrame, cat: Catalogue, today: dt.date) -> tuple[list[Rule], list[BoolArray]]:
    """Evaluate every active rule of ``cat`` over ``df``."""
    frame = Frame(df, cat.dataset, today, cat.penalty_categories)
    rules = cat.active()
    return rules, evaluate(frame, rules)
