"""Text kinds: lengths, formats (regex), junk values, control and special characters, formula prefixes."""

from __future__ import annotations

import operator
import re
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from expectations.conditions import condition
from expectations.frame import BoolArray, Frame
from expectations.kinds.registry import GxContext, gx_statement, kind
from expectations.rules import Rule

# A character that is a letter, digit or 汉字 (\w minus underscore): a value without one is punctuation only.
_WORD_CHAR = re.compile(r"[^\W_]")
_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d"
_FULLWIDTH_ALNUM = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
# Control characters (C0 without \n, DEL, C1), U+FFFD (the mark of a botched encoding: 乱码) and lone
# surrogates (cannot be stored as UTF-8).
_CONTROL = "\x00-\x09\x0b-\x1f\x7f-\x9f\ufffd\ud800-\udfff"
_CONTROL_RE = re.compile(f"[{_CONTROL}]")
_CONTROL_NL_RE = re.compile(f"[{_CONTROL}\n]")


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
