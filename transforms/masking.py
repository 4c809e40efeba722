"""Masking of personal data for anything that leaves the internal store (spec §5.4: store raw, publish masked).

- 身份证号码 (18 characters): keep the first 6 and the last 4: ``110105********002X``.
- Other document numbers (passports, permits): keep only the last 4.
- Free text: 18- and 15-digit ID-like runs, 11-digit mobile numbers and bank-card-like digit runs are masked.
  An 18-character run that is a 统一社会信用代码 with a correct GB 32100 check digit and cannot be an ID
  number (positions 7–14 are not a real birth date) is a public credit code and stays as it is: an all-digit
  code such as ``113301000024713838`` (a government body) is otherwise indistinguishable from an ID number.
  A run that could be both (a real birth date in positions 7–14) is masked: when in doubt, privacy wins.
- Numbers are found as NFKC would read them: full-width digits and letters (``３３０１０６…``, ``Ｘ``) and other
  Unicode decimal digits count as ASCII ones, and an ID number written in groups (``330106 19850203 1234``,
  ``330106-1985-0203-1234``: one space or hyphen, full-width too, between the 6 + 4 + 4 + 4 groups) is masked
  like an unbroken one. Masked characters become ``*``; every other character is kept as written.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable

# Matched on the folded text (:func:`_fold`: ASCII digits and letters, "-" and " " as separators), so ``\d`` is
# ASCII only. An ID number may be written in groups: 6 (region), 4 + 4 (birth date), 4, one separator between.
_SEP = "[ -]?"
_ID18 = re.compile(
    rf"(?<![0-9A-Za-z])(\d{{6}}){_SEP}(\d{{4}}){_SEP}(\d{{4}}){_SEP}(\d{{3}}[0-9Xx])(?![0-9A-Za-z])", re.ASCII
)
_ID15 = re.compile(rf"(?<![0-9A-Za-z])(\d{{6}}){_SEP}(\d{{6}}){_SEP}(\d{{3}})(?![0-9A-Za-z])", re.ASCII)
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)", re.ASCII)
_CARD = re.compile(r"(?<!\d)(\d{4})(\d{8,11})(\d{4})(?!\d)", re.ASCII)
# Quick test: at least 11 digits with at most single separators between them (the shortest masked number).
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){10}", re.ASCII)
# Characters folded one for one (positions stay): full-width digits and letters, other Unicode decimal digits,
# full-width and other spaces and hyphens a clerk's system may hold.
_FOLDABLE = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000\u00a0\u2002-\u200a\uff0d\u2010-\u2015\u2212]|(?![0-9])\\d")

#: National columns that hold a natural person's document number: the party's own (filled only for a
#: 自然人) and the legal representative's. Only these are masked whole; codes of organisations
#: (统一社会信用代码, 组织机构代码, 工商注册号, authority codes) are public and go through :func:`mask_text`.
ID_COLUMNS = frozenset({"CF_XDR_ZJHM", "CF_FR_ZJHM", "XK_XDR_ZJHM", "XK_FR_ZJHM"})

# GB 32100 alphabet (no I, O, S, V, Z) and position weights. A local copy of the check (a few lines) rather
# than an import of ``expectations.checks``: transforms must not depend on the expectations stage.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def is_public_credit_code(run: str) -> bool:
    """True for an 18-character run that is a valid 统一社会信用代码 and not possibly an ID number.

    "Not possibly an ID number": characters 7–14 are not a real birth date (YYYYMMDD, year 1850 or
    later). An ID number with a wrong check digit is still a person's number, so the ID check digit
    does not count here.
    """
    v = run.upper()
    if len(v) != 18 or any(c not in _USCC_ALPHABET for c in v):
        return False
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(v[:17], _USCC_WEIGHTS, strict=True))
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


def mask_text(text: str | None) -> str | None:
    """Free text with ID numbers, mobile numbers and card numbers masked (full-width and grouped ones too)."""
    if text is None:
        return None
    folded = _fold(text)
    if not _DIGIT_RUN.search(folded):
        return text  # no 11 digits in a row (single separators allowed): nothing to mask, the usual case
    out = list(text)
    seen = list(folded)

    def hide(m: re.Match[str], *groups: int) -> None:
        for g in groups:
            for i in range(m.start(g), m.end(g)):
                out[i] = seen[i] = "*"

    def apply(pattern: re.Pattern[str], keep: Callable[[re.Match[str]], bool], *groups: int) -> None:
        for m in list(pattern.finditer("".join(seen))):
            if not keep(m):
                hide(m, *groups)

    def credit_code(m: re.Match[str]) -> bool:
        return is_public_credit_code("".join(m.groups()))

    apply(_ID18, credit_code, 2, 3)
    apply(_ID15, lambda m: False, 2)
    # An 18-digit credit code left alone above also has the length of a bank card: keep it here too.
    apply(_CARD, lambda m: is_public_credit_code(m.group(0)), 2)
    apply(_MOBILE, lambda m: False, 2)
    return "".join(out)


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
                e.statement = mask_text(statement)  # type: ignore[attr-defined]
            detail = getattr(e, "detail", None)
            if isinstance(detail, list):
                e.detail = [mask_text(d) or "" for d in detail]  # type: ignore[attr-defined]
            e.hide_parameters = True  # type: ignore[attr-defined]
        notes = getattr(e, "__notes__", None)
        if isinstance(notes, list):
            e.__notes__ = [mask_text(n) if isinstance(n, str) else n for n in notes]
        orig = getattr(e, "orig", None)
        todo += [e.__cause__, e.__context__, orig if isinstance(orig, BaseException) else None]
    return exc
