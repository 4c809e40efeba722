"""Masking of personal data for anything that leaves the internal store (spec §5.4: store raw, publish masked).

Pure functions over text, below every stage (like ``national.clock``): the transforms, the store's writer of the
public column's read model (``store.published``), upstream and reports all mask with the same code.
``transforms.masking`` re-exports this module for the callers that import it from there.

- 身份证号码 (18 characters): keep the first 6 and the last 4: ``110105********002X``.
- Other document numbers (passports, permits): keep only the last 4.
- Free text: 18- and 15-digit ID-like runs, 11-digit mobile numbers and bank-card-like digit runs are masked.
  An 18-character run that is a 统一社会信用代码 with a correct GB 32100 check digit and cannot be an ID
  number (positions 7–14 are not a real birth date) is a public credit code and stays as it is: an all-digit
  code such as ``113301000024713838`` (a government body) is otherwise indistinguishable from an ID number.
  A run that could be both (a real birth date in positions 7–14) is masked: when in doubt, privacy wins.
- Numbers are found as NFKC would read them: full-width digits and letters (``３３０１０６…``, ``Ｘ``) and other
  Unicode decimal digits count as ASCII ones. An ID number written in groups is masked like an unbroken one:
  up to two separators in a row between digits (any whitespace including tabs, newlines and the ideographic
  space, ``-._/`` and their full-width forms) and any invisible characters (zero-width space…) are skipped
  through a position map, e.g. ``330106 19850203 1234``, ``3301 0619 8502 0312 3X``, ``330106/1985/02/03/123X``
  (see :func:`_id_spans` for how dates and amounts written side by side are told apart). Mobile and card
  numbers are masked when unbroken only. Masked characters become ``*``; every other character (separators
  too) is kept as written.
"""

from __future__ import annotations

import bisect
import datetime as dt
import operator
import re
import unicodedata
from collections.abc import Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    import numpy as np

# Matched on the folded text (:func:`_fold`), so ``\d`` is ASCII only.
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)", re.ASCII)
_CARD = re.compile(r"(?<!\d)(\d{4})(\d{8,11})(\d{4})(?!\d)", re.ASCII)
# Separators an ID number may be written with between its digits (on the folded text, where full-width spaces
# and hyphens are already " " and "-"): whitespace of any kind (tabs, newlines, NBSP, ideographic space),
# "-", ".", "_", "/" and the full-width "．", "＿", "／". At most two of them in a row join digits.
_SEP_CHARS = "\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\\-._/\uff0e\uff3f\uff0f"
# Invisible characters (zero-width space/joiners, direction marks, word joiner, BOM, soft hyphen): stripped
# between digits without counting towards the two separators (a clerk cannot see them).
_ZW_CHARS = "\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
# A digit run: digits joined by gaps of at most two separators (plus any invisible characters). Possessive
# quantifiers: a run is found in one pass, no backtracking (mask_text stays linear in the text length).
_RUN = re.compile(
    rf"\d++(?:(?:[{_ZW_CHARS}]*+(?:[{_SEP_CHARS}][{_ZW_CHARS}]*+){{1,2}}|[{_ZW_CHARS}]++)(?=\d)\d++)*+", re.ASCII
)
_VISIBLE_SEP = re.compile(f"[{_SEP_CHARS}]")
_RUN_OF_11 = re.compile(r"\d{11}", re.ASCII)  # a mobile number (11) or a card number (16–19) needs it
# (length, where today's single " "/"-" may split it, where other visible separators may split it).
_ID_LAYOUTS = (
    (18, frozenset({6, 10, 14}), (frozenset({6, 10, 12, 14}), frozenset({4, 8, 12, 16}))),
    (15, frozenset({6, 12}), (frozenset({6, 8, 10, 12}), frozenset({4, 8, 12}))),
)
# First two digits of a 身份证号码 (GB/T 2260 provinces; 71/81/82/83: Taiwan, Hong Kong, Macao residence permits).
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# Characters folded one for one (positions stay): full-width digits and letters, other Unicode decimal digits,
# full-width and other spaces and hyphens a clerk's system may hold.
_FOLDABLE = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000\u00a0\u2002-\u200a\uff0d\u2010-\u2015\u2212]|(?![0-9])\\d")

#: National columns that hold a natural person's document number: the party's own (filled only for a
#: 自然人) and the legal representative's. Only these are masked whole; codes of organisations
#: (统一社会信用代码, 组织机构代码, 工商注册号, authority codes) are public and go through :func:`mask_text`.
ID_COLUMNS = frozenset({"CF_XDR_ZJHM", "CF_FR_ZJHM", "XK_XDR_ZJHM", "XK_FR_ZJHM"})

# GB 32100 alphabet (no I, O, S, V, Z) and position weights. A local copy of the check (a few lines) rather
# than an import of ``expectations.checks``: national must not depend on the expectations stage.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_SHAPE = re.compile(f"[{_USCC_ALPHABET}]{{18}}")


def is_public_credit_code(run: str) -> bool:
    """True for an 18-character run that is a valid 统一社会信用代码 and not possibly an ID number.

    "Not possibly an ID number": characters 7–14 are not a real birth date (YYYYMMDD, year 1850 or
    later). An ID number with a wrong check digit is still a person's number, so the ID check digit
    does not count here.
    """
    if len(run) != 18:
        return False
    v = run.upper()
    if _USCC_SHAPE.fullmatch(v) is None:
        return False
    total = sum(map(operator.mul, map(_USCC_VALUE.__getitem__, v[:17]), _USCC_WEIGHTS))
    if _USCC_ALPHABET[(31 - total % 31) % 31] != v[17]:
        return False
    return not _real_birth_date(v[6:14])


def _real_birth_date(s: str) -> bool:
    if not s.isdigit() or int(s[:4]) < 1850:
        return False
    try:
        dt.date(int(s[:4]), int(s[4:6]), int(s[6:8]))
    except ValueError:
        return False
    return True


def mask_id_number(value: str | None) -> str | None:
    """A document number for display: ID cards keep 6 + 4 characters, anything else the last 4."""
    if value is None:
        return None
    v = str(value).strip()
    if not v:
        return v
    if len(v) == 18:
        return v[:6] + "*" * 8 + v[-4:]
    if len(v) <= 4:
        return "*" * len(v)
    return "*" * (len(v) - 4) + v[-4:]


def _fold_char(m: re.Match[str]) -> str:
    c = m.group()
    if c.isdecimal():
        return str(unicodedata.decimal(c))
    o = ord(c)
    if 0xFF21 <= o <= 0xFF3A or 0xFF41 <= o <= 0xFF5A:
        return chr(o - 0xFEE0)
    return " " if c in "\u3000\u00a0" or 0x2002 <= o <= 0x200A else "-"


def _fold(text: str) -> str:
    """``text`` with each character NFKC would turn into an ASCII digit, letter, space or hyphen turned into it."""
    return text if text.isascii() else _FOLDABLE.sub(_fold_char, text)


def _id_spans(folded: str, run: re.Match[str]) -> Iterator[list[int]]:
    """Positions (in ``folded``) of the characters to mask for each ID number in one digit ``run``.

    The run's digits are read as one plain string with a map back to their positions. A candidate starts and
    ends where the text around it does (a non-alphanumeric neighbour) or at a separator gap, so a date or a
    number written just before an ID number does not hide it. Written unbroken or in today's groups (6 + 4 + 4
    + 4, or 6 + 6 + 3, one space or hyphen between), any such 18/15-character candidate is masked. Written in
    another grouping, it must look like an ID number so that a row of dates or amounts that happens to add up
    to 15 or 18 digits stays as it is: visible breaks only where an ID number is split (region / year / month /
    day / sequence, or groups of four), a province code (or 9, a foreigner's permanent residence card) and a
    real birth date. Invisible characters (zero-width space…) between digits are dropped: no gap at all.
    """
    start, end = run.span()
    plain: list[str] = []
    where: list[int] = []
    # Plain offset of a visible gap → it is one " " or "-" (today's grouping). Invisible characters are no gap:
    # digits with only a zero-width space between them read as one number, as a reader sees them.
    gaps: dict[int, bool] = {}
    prev = start
    for i in range(start, end):
        if "0" <= folded[i] <= "9":
            if plain and i != prev + 1:
                between = folded[prev + 1 : i]
                if _VISIBLE_SEP.search(between):
                    gaps[len(plain)] = between in (" ", "-")
            plain.append(folded[i])
            where.append(i)
            prev = i
    after = folded[end] if end < len(folded) else ""
    end_ok = after not in _ALNUM
    if after in ("x", "X"):  # an 18-character ID number's check digit, attached to the last digit
        end_ok = end + 1 == len(folded) or folded[end + 1] not in _ALNUM
        if end_ok:
            plain.append("X")
            where.append(end)
    cuts = sorted(gaps)
    starts = ([0] if start == 0 or folded[start - 1] not in _ALNUM else []) + cuts
    ends = set(cuts)
    if end_ok:
        ends.add(len(plain))
    for s0 in starts:
        for size, today, layouts in _ID_LAYOUTS:
            if s0 + size not in ends:
                continue
            lo, hi = bisect.bisect_right(cuts, s0), bisect.bisect_left(cuts, s0 + size)
            if hi - lo > 4:  # no layout has more than five groups: skip long rows of numbers quickly
                continue
            cand = "".join(plain[s0 : s0 + size])
            if "X" in cand[:-1] or (size == 15 and cand.endswith("X")):
                continue
            if size == 18 and is_public_credit_code(cand):
                continue
            inner = {c - s0: gaps[c] for c in cuts[lo:hi]}  # offset in the candidate → today's kind of gap
            hidden = [where[s0 + k] for k in range(6, 14 if size == 18 else 12)]
            if all(k in today and as_today for k, as_today in inner.items()):
                yield hidden
                continue
            birth = cand[6:14] if size == 18 else "19" + cand[6:12]
            if (
                any(inner.keys() <= layout for layout in layouts)
                and (cand[:2] in _PROVINCES or cand[0] == "9")
                and _real_birth_date(birth)
            ):
                yield hidden


@overload
def mask_text(text: str) -> str: ...
@overload
def mask_text(text: None) -> None: ...
@overload
def mask_text(text: str | None) -> str | None: ...
def mask_text(text: str | None) -> str | None:
    """Free text with ID numbers, mobile numbers and card numbers masked (full-width and grouped ones too)."""
    if text is None:
        return None
    # Fewer than 11 digits: nothing to mask (the shortest masked number), the usual case. Counted before folding:
    # _fold turns exactly the decimal digits (str.isdigit already) into ASCII ones and nothing else into a digit,
    # so the count is the same, and a name or an authority costs no regex pass (the public column masks every
    # list cell once more: 80 calls a page).
    if sum(map(str.isdigit, text)) < 11:
        return text
    if len(text) == 18 and is_public_credit_code(text):
        return text  # a public credit code as a whole (the usual 统一社会信用代码 value): nothing in it is masked
    folded = _fold(text)
    runs = [run for run in _RUN.finditer(folded) if run.end() - run.start() >= 15]  # shorter: no ID number
    if not runs and _RUN_OF_11.search(folded) is None:
        return text  # no ID number's run and no 11 digits in a row (the shortest mobile/card number): nothing
    out = list(text)
    seen = list(folded)
    for run in runs:
        for positions in _id_spans(folded, run):
            for i in positions:
                out[i] = seen[i] = "*"

    def apply(pattern: re.Pattern[str]) -> None:
        # Mobile and card numbers: unbroken runs only (grouped ones are not masked, as before).
        text = "".join(seen)
        for m in list(pattern.finditer(text)):
            if not _in_credit_code(text, m.start(), m.end()):
                for i in range(m.start(2), m.end(2)):
                    out[i] = seen[i] = "*"

    # A credit code left alone above holds digit runs of a bank card's or a mobile number's length (an all-digit
    # code; ``9133011165397956X3``, 16 digits and then letters): keep those too.
    apply(_CARD)
    apply(_MOBILE)
    return "".join(out)


def _in_credit_code(text: str, start: int, end: int) -> bool:
    """True if ``text[start:end]`` lies inside a letters-and-digits token that is a public credit code."""
    while start > 0 and text[start - 1] in _ALNUM:
        start -= 1
    while end < len(text) and text[end] in _ALNUM:
        end += 1
    return end - start == 18 and is_public_credit_code(text[start:end])


def mask_record(values: dict[str, str | None]) -> dict[str, str | None]:
    """A national record (column code → value) safe to show outside the store."""
    out: dict[str, str | None] = {}
    for k, v in values.items():
        out[k] = mask_id_number(v) if k in ID_COLUMNS else mask_text(v) if isinstance(v, str) else v
    return out


def mask_exception(exc: BaseException) -> BaseException:
    """Mask ID numbers in the text of ``exc`` and of every exception chained to it (``__cause__``,
    ``__context__``, a driver error's ``orig``), in place, and return ``exc``.

    The exception keeps its class (callers sort errors by class: a store outage is retried, a data error is not),
    and whatever prints it later (a CLI traceback, an Airflow task log) prints masked text. A SQLAlchemy
    ``StatementError`` is recognised by its attributes (``statement``, ``detail``, ``hide_parameters``) so that
    this module needs no database import; its parameters are hidden from its text.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        try:
            e.args = tuple(mask_text(a) if isinstance(a, str) else a for a in e.args)
        except (AttributeError, TypeError):  # an exception type with read-only args: its text is its own
            pass
        if hasattr(e, "statement") and hasattr(e, "hide_parameters"):
            statement = getattr(e, "statement", None)
            if isinstance(statement, str):
                e.statement = mask_text(statement)
            detail = getattr(e, "detail", None)
            if isinstance(detail, list):
                e.detail = [mask_text(d) or "" for d in detail]  # type: ignore[attr-defined]
            e.hide_parameters = True
        notes = getattr(e, "__notes__", None)
        if isinstance(notes, list):
            e.__notes__ = [mask_text(n) if isinstance(n, str) else n for n in notes]
        orig = getattr(e, "orig", None)
        todo += [e.__cause__, e.__context__, orig if isinstance(orig, BaseException) else None]
    return exc


_USCC_CHARS = frozenset(_USCC_ALPHABET)
#: Invisible characters removed before the batch pre-check (a translate table: C speed).
_ZW_TABLE = {ord(c): None for c in re.sub(r"(.)-(.)", lambda m: "".join(chr(o) for o in range(ord(m.group(1)), ord(m.group(2)) + 1)), _ZW_CHARS)}
_ZW_ANY = re.compile(f"[{_ZW_CHARS}]")
#: Eleven or more decimal digits (any script) with at most two characters of any kind between neighbours, inside
#: one value (values are joined with NUL, which no stored text holds). A superset of what :func:`mask_text` can
#: mask: its shortest target is an 11-digit mobile number, and its runs allow at most two separators between
#: digits once invisible characters are gone; the characters it folds map one to one.
_ELEVEN_DIGITS = re.compile(r"\d(?:[^\d\x00]{0,2}\d){10}")


def mask_texts(values: Sequence[str | None]) -> list[str | None]:
    """:func:`mask_text` of many values at once, equal to ``[mask_text(v) for v in values]``
    (see :func:`masked_changes`)."""
    out = list(values)
    for i, m in masked_changes(values).items():
        out[i] = m
    return out


def masked_changes(values: Sequence[object]) -> dict[int, str]:
    """``{i: mask_text(values[i])}`` for the text values that :func:`mask_text` changes (anything not a ``str``
    is left alone): the public column masks every text field of every record it writes, so this is on the
    load's hot path. One regex scan of the joined values finds the few that can hold a number to mask
    (:data:`_ELEVEN_DIGITS`, a superset), numpy maps the hits back to their values, and each distinct value is
    judged once. A value that is exactly a public credit code (a valid 统一社会信用代码 that cannot be an ID
    number), what ``mask_text`` leaves whole, is recognised by a vectorised check instead of folding and scanning it."""
    if len(values) == 0:
        return {}
    # A department column repeats its values (违法行为, 依据, 机关, 类别, a few thousand credit codes; dates and
    # amounts, which are not text): each distinct text is scanned once (its result depends on it alone).
    try:
        distinct = dict.fromkeys(values)
    except TypeError:  # an unhashable value (never text): value by value
        distinct = None
    if distinct is None or len(distinct) * 2 > len(values):
        return _masked_texts([v if type(v) is str else "" for v in values])
    keys = [v for v in distinct if type(v) is str]
    changed = {keys[j]: m for j, m in _masked_texts(keys).items()}
    if not changed:
        return {}
    return {i: changed[v] for i, v in enumerate(values) if type(v) is str and v in changed}


def _masked_texts(texts: list[str]) -> dict[int, str]:
    """:func:`masked_changes` of a list of texts."""
    import numpy as np  # here: DAG files import this module, and their parse must stay light (tests/dags)

    if not texts:
        return {}
    joined = "\x00".join(texts)
    if _ZW_ANY.search(joined):  # a scan in C; translate() with a table costs a dict look-up per character
        joined = joined.translate(_ZW_TABLE)
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ends = np.flatnonzero(points == 0)
    # Only a value with eleven decimal digits can hold a match: the digits of each value are counted with
    # numpy and the regex runs on those values alone (a scan of every 文书号's digits cost 7 µs a value).
    # Values are the text between two NULs: a match never spans one.
    digits = np.concatenate(([0], np.cumsum(_decimal_digits()[points], dtype=np.int64)))
    stops = np.append(ends, len(points))
    starts = np.concatenate(([0], ends + 1))
    counted = digits[stops] - digits[starts]
    rows = [k for k in np.flatnonzero(counted >= 11).tolist()
            if _ELEVEN_DIGITS.search(joined, int(starts[k]), int(stops[k]))]
    if not rows:
        return {}
    if len(ends) != len(texts) - 1:  # a value holds a NUL itself: value by value
        return {i: m for i, v in enumerate(texts) if v and (m := mask_text(v)) != v}
    candidates = [texts[i] for i in rows]
    whole_codes = _public_credit_codes(candidates)
    out: dict[int, str] = {}
    done: dict[str, str] = {}
    for i, v, code in zip(rows, candidates, whole_codes.tolist(), strict=True):
        if code:
            continue
        if v not in done:
            done[v] = mask_text(v)
        m = done[v]
        if m != v:
            out[i] = m
    return out


@cache
def _decimal_digits() -> np.ndarray:
    """Per code point: whether ``\\d`` (in :data:`_ELEVEN_DIGITS`) matches it (built with ``re`` itself, once)."""
    import numpy as np

    every = np.arange(0x110000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")  # every code point
    table = np.zeros(0x110000, dtype=np.uint8)
    table[[m.start() for m in re.finditer(r"\d", every)]] = 1
    return table


@cache
def _uscc_tables() -> tuple[Any, Any, Any]:
    """(character → GB 32100 alphabet index or -1, position weights, days of each month) as numpy arrays."""
    import numpy as np

    index = np.full(256, -1, dtype=np.int64)
    for k, c in enumerate(_USCC_ALPHABET):
        index[ord(c)] = k
    month_days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    return index, np.array(_USCC_WEIGHTS, dtype=np.int64), month_days


def _public_credit_codes(values: list[str]) -> np.ndarray:
    """Per value: exactly 18 characters of the GB 32100 alphabet (upper case), a correct check character, and
    characters 7–14 not a real birth date — :func:`is_public_credit_code` of such values, vectorised."""
    import numpy as np

    _USCC_INDEX, _USCC_W, _MONTH_DAYS = _uscc_tables()  # noqa: N806 - constants, built once
    out = np.zeros(len(values), dtype=bool)
    idx = [k for k, v in enumerate(values) if len(v) == 18 and v.isascii()]
    if not idx:
        return out
    buf = np.frombuffer("".join(values[k] for k in idx).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
    code = _USCC_INDEX[buf]
    ok = (code >= 0).all(axis=1)
    total = (np.where(code[:, :17] >= 0, code[:, :17], 0) * _USCC_W).sum(axis=1)
    ok &= (31 - total % 31) % 31 == code[:, 17]
    d = buf[:, 6:14].astype(np.int64) - 48
    digits = ((d >= 0) & (d <= 9)).all(axis=1)
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month = d[:, 4] * 10 + d[:, 5]
    day = d[:, 6] * 10 + d[:, 7]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = _MONTH_DAYS[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    birth = digits & (year >= 1850) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)
    out[np.asarray(idx)] = ok & ~birth
    return out
