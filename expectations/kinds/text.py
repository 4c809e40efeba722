"""Text kinds: lengths, formats (regex), junk values, control and special characters, formula prefixes."""

from __future__ import annotations

import functools
import operator
import re
from typing import Any

import numpy as np
import pandas as pd

from expectations.conditions import condition
from expectations.frame import BoolArray, Frame, IntArray
from expectations.kinds.registry import GxContext, gx_statement, kind
from expectations.rules import Rule
from national import dataset
from national.text import title_and_number

# A character that is a letter, digit or 汉字 (\w minus underscore): a value without one is punctuation only.
_WORD_CHAR = re.compile(r"[^\W_]")
_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d"
_FULLWIDTH_ALNUM = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
# Control characters (C0 without \n, DEL, C1), U+FFFD (the mark of a botched encoding: 乱码) and lone
# surrogates (cannot be stored as UTF-8).
_CONTROL = "\x00-\x09\x0b-\x1f\x7f-\x9f\ufffd\ud800-\udfff"
_CONTROL_RE = re.compile(f"[{_CONTROL}]")
_CONTROL_NL_RE = re.compile(f"[{_CONTROL}\n]")
#: The same class written with escapes, for the GX suites (their JSON cannot hold lone surrogates).
_CONTROL_ESCAPED = r"\x00-\x09\x0b-\x1f\x7f-\x9f\ufffd\ud800-\udfff"


@kind("max_length")
def _max_length(frame: Frame, rule: Rule) -> BoolArray:
    limit = rule.params.get("max") or frame.dataset.field(rule.field).max_length
    if limit is None:
        raise ValueError(f"rule {rule.id}: {rule.field} has no maximum length; set params.max")
    return frame.lengths(rule.field) > int(limit)


@kind("junk")
def _junk(frame: Frame, rule: Rule) -> BoolArray:
    col = rule.field
    junk_values = [str(v) for v in rule.params.get("values", [])]
    punctuation_only = bool(rule.params.get("punctuation_only", True))
    digits_only = bool(rule.params.get("digits_only", False))
    longest = max((len(v) for v in junk_values), default=0)

    def bad(a: np.ndarray, lens: IntArray | None = None, first_alnum: BoolArray | None = None) -> np.ndarray:
        # Junk values are short: only values no longer than the longest one are hashed and looked
        # up, which spares hashing long free texts.
        if lens is None:
            lens = np.fromiter(map(len, a), dtype=np.int64, count=len(a))
        out = np.zeros(len(a), dtype=bool)
        short = np.flatnonzero(lens <= longest)
        if short.size:
            out[short] = pd.Series(a[short], dtype=object).isin(junk_values).to_numpy()
        if punctuation_only:
            # A value whose first character is a letter, digit or 汉字 has a word character; only the
            # others go through the regex.
            if first_alnum is None:
                first_alnum = np.fromiter(map(str.isalnum, map(operator.itemgetter(0), a)), bool, count=len(a))
            cand = np.flatnonzero(~first_alnum)
            if cand.size:
                out[cand] |= ~np.fromiter(map(bool, map(_WORD_CHAR.search, a[cand].tolist())), bool, count=cand.size)
        if digits_only:
            out |= np.fromiter(map(str.isdecimal, a), bool, count=len(a))
        return out

    if frame.low_cardinality(col):
        return frame.value_map(col, ("junk", rule.id), bad)
    # Many distinct values (names, free texts): lengths and first characters come from the frame's
    # shared arrays (the first looked up in a table) instead of one call per value.
    out = np.zeros(frame.n, dtype=bool)
    idx = frame.filled_index(col)
    if idx.size:
        first_alnum = _is_alnum(frame.first_codepoints(col)[idx]) if punctuation_only else None
        out[idx] = bad(frame.filled_values(col), frame.lengths(col)[idx], first_alnum)
    return out


@functools.cache
def _alnum_bmp() -> BoolArray:
    """``str.isalnum`` of every character of the Basic Multilingual Plane (built once, ~10 ms)."""
    return np.fromiter(map(str.isalnum, map(chr, range(0x10000))), dtype=bool, count=0x10000)


def _is_alnum(codepoints: IntArray) -> BoolArray:
    """``str.isalnum`` of the characters ``codepoints`` (BMP by table, the rare others one by one)."""
    bmp = codepoints < 0x10000
    out = np.zeros(codepoints.size, dtype=bool)
    out[bmp] = _alnum_bmp()[codepoints[bmp]]
    rest = np.flatnonzero(~bmp)
    if rest.size:
        out[rest] = [chr(c).isalnum() for c in codepoints[rest].tolist()]
    return out


@kind("control_chars")
def _control_chars(frame: Frame, rule: Rule) -> BoolArray:
    allow_nl = rule.params.get("allow_newline")
    if allow_nl is None:
        allow_nl = frame.dataset.field(rule.field).multiline
    rx = _CONTROL_RE if allow_nl else _CONTROL_NL_RE
    # Every character of the class but U+FFFD is non-printable: a printable text without U+FFFD has
    # none (a fast C scan that settles the common, clean column).
    return frame.rows_with_char(rule.field, ("ctl", allow_nl), rx, _printable_without_fffd)


def _printable_without_fffd(text: str) -> bool:
    return text.isprintable() and "\ufffd" not in text


@kind("special_chars")
def _special_chars(frame: Frame, rule: Rule) -> BoolArray:
    chars = str(rule.params.get("chars", ""))
    emoji = bool(rule.params.get("emoji", False))
    body = re.escape(chars) if chars else ""
    if emoji:
        body += _EMOJI
    if not body:
        return np.zeros(frame.n, dtype=bool)
    return frame.rows_with_char(rule.field, ("spc", body), re.compile(f"[{body}]"))


@kind("fullwidth_alnum")
def _fullwidth(frame: Frame, rule: Rule) -> BoolArray:
    return frame.rows_with_char(rule.field, "fw", _FULLWIDTH_ALNUM)


# Full-width forms (U+FF01–U+FF5E: letters, digits and ASCII symbols) and the ideographic space.
_FULLWIDTH_FORM = re.compile("[\uff01-\uff5e\u3000]")
# Letters and digits that are fine although not ASCII: 汉字 (with 〇, written in 文号 years such as 二〇二四).
_HAN = re.compile("[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")


#: :func:`_not_halfwidth` as one regex, for the GX suites.
HALFWIDTH_REGEX = r"[\uff01-\uff5e\u3000]|[^\W_\x00-\x7f\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]"
#: One character that :func:`_not_halfwidth` finds (``[^\W_]`` is ``str.isalnum``), for the engine.
_NOT_HALFWIDTH = re.compile(HALFWIDTH_REGEX)


def _not_halfwidth(value: str) -> bool:
    """A full-width form, or a letter or digit that is neither ASCII nor 汉字 (Cyrillic А, Greek Ο, Arabic-Indic ٣)."""
    if value.isascii():
        return False
    if _FULLWIDTH_FORM.search(value):
        return True
    return any(c.isalnum() and not c.isascii() and not _HAN.match(c) for c in value)


@kind("halfwidth")
def _halfwidth(frame: Frame, rule: Rule) -> BoolArray:
    """Coded and numbered fields: letters, digits and symbols half-width, 汉字 as written (spec §3.4 [C]).

    The transforms stage applies NFKC to these fields, which turns every full-width form into ASCII; what this
    still finds cannot be normalised without changing the value (a look-alike letter, another script's digit)."""
    # One scan of the column for the characters :func:`_not_halfwidth` looks for (the same test as one regex,
    # checked equal on every code point by tests/expectations/test_engine_api.py): the per-character
    # generator cost a Python step per character of every 文书号 (a quarter of the catalogue's time).
    return frame.rows_with_char(rule.field, "halfwidth", _NOT_HALFWIDTH, str.isascii)


_CLOSE_BRACKET = re.compile("[)）]")
#: A document number: something ending in 号 with a digit in it (发改财金〔2015〕123号, 榕食许〔2024〕88号).
_DOCUMENT_NUMBER = re.compile(r".*[0-9〇一二三四五六七八九十].*号", re.S)


@kind("number_in_title")
def _number_in_title(frame: Frame, rule: Rule) -> BoolArray:
    """A title (行政许可决定文书名称) ending with a bracket that holds a document number or the row's
    ``number_field`` (spec §1 #14 [C]: the value is the part before the bracket)."""
    number_col = rule.params["number_field"]
    out = np.zeros(frame.n, dtype=bool)
    # Only titles with a closing bracket can end with one: found by one scan of the joined column.
    idx = np.flatnonzero(frame.rows_with_char(rule.field, "close_bracket", _CLOSE_BRACKET))
    titles = frame.values(rule.field)[idx].tolist()
    numbers = frame.values(number_col)[idx].tolist()
    for k, (title, number) in enumerate(zip(titles, numbers, strict=True)):
        parts = title_and_number(title)
        if parts is not None and (parts[1] == number or _DOCUMENT_NUMBER.fullmatch(parts[1])):
            out[idx[k]] = True
    return out


@kind("formula_prefix")
def _formula_prefix(frame: Frame, rule: Rule) -> BoolArray:
    """Values that start with one of ``prefixes``: Excel, WPS and LibreOffice would run them as a formula
    (CSV/formula injection). The platform's own workbooks write them as text; the rule tells the department."""
    prefixes = tuple(str(p) for p in rule.params["prefixes"])
    if all(len(p) == 1 for p in prefixes) and not frame.low_cardinality(rule.field):
        # One-character prefixes on a column of many distinct values: compare the shared first code points.
        return np.isin(frame.first_codepoints(rule.field), [ord(p) for p in prefixes])
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


@gx_statement("max_length")
def _max_length_gx(rule: Rule, gx: GxContext) -> Any:
    return gx.expectations.ExpectColumnValueLengthsToBeBetween(
        column=rule.field, max_value=int(rule.params["max"]), **gx.common
    )


@gx_statement("pattern")
def _pattern_gx(rule: Rule, gx: GxContext) -> Any:
    # \A…\Z: GX's pandas regex check is str.contains, and $ would accept a trailing newline.
    return gx.expectations.ExpectColumnValuesToMatchRegex(
        column=rule.field, regex=rf"\A(?:{rule.params['pattern']})\Z", **gx.common
    )


@gx_statement("formula_prefix")
def _formula_prefix_gx(rule: Rule, gx: GxContext) -> Any:
    starts = "|".join(re.escape(str(x)) for x in rule.params["prefixes"])
    return gx.expectations.ExpectColumnValuesToNotMatchRegex(column=rule.field, regex=rf"\A(?:{starts})", **gx.common)


@gx_statement("fullwidth_alnum")
def _fullwidth_gx(rule: Rule, gx: GxContext) -> Any:
    return gx.expectations.ExpectColumnValuesToNotMatchRegex(
        column=rule.field, regex=r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]", **gx.common
    )


@gx_statement("halfwidth")
def _halfwidth_gx(rule: Rule, gx: GxContext) -> Any:
    """The same test as a regex: ``[^\\W_…]`` is a letter or digit (Python's ``\\w`` is ``str.isalnum`` plus ``_``)
    outside ASCII and 汉字."""
    return gx.expectations.ExpectColumnValuesToNotMatchRegex(column=rule.field, regex=HALFWIDTH_REGEX, **gx.common)


@gx_statement("control_chars")
def _control_chars_gx(rule: Rule, gx: GxContext) -> Any:
    allow_nl = rule.params.get("allow_newline")
    if allow_nl is None:
        if not gx.dataset:
            return None
        allow_nl = dataset(gx.dataset).field(rule.field).multiline
    chars = _CONTROL_ESCAPED if allow_nl else _CONTROL_ESCAPED + r"\n"
    return gx.expectations.ExpectColumnValuesToNotMatchRegex(column=rule.field, regex=f"[{chars}]", **gx.common)


@gx_statement("special_chars")
def _special_chars_gx(rule: Rule, gx: GxContext) -> Any:
    chars = str(rule.params.get("chars", ""))
    body = re.escape(chars) if chars else ""
    if rule.params.get("emoji"):
        body += _EMOJI
    if not body:
        return None  # nothing to reject: the engine-backed expectation (always true) states it
    return gx.expectations.ExpectColumnValuesToNotMatchRegex(column=rule.field, regex=f"[{body}]", **gx.common)


@gx_statement("junk")
def _junk_gx(rule: Rule, gx: GxContext) -> Any:
    """A junk value, a value without a letter, digit or 汉字, or (``digits_only``) digits only, as one regex.

    ``[\\W_]`` is the complement of the engine's word character ``[^\\W_]``; ``+`` keeps the empty
    string (a missing value, never judged) out.
    """
    p = rule.params
    parts = [rf"(?:{'|'.join(re.escape(str(v)) for v in p['values'])})\Z"] if p.get("values") else []
    if p.get("punctuation_only", True):
        parts.append(r"[\W_]+\Z")
    if p.get("digits_only", False):
        parts.append(r"\d+\Z")
    if not parts:
        return None
    return gx.expectations.ExpectColumnValuesToNotMatchRegex(
        column=rule.field, regex=rf"\A(?:{'|'.join(parts)})", **gx.common
    )
