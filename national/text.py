"""Small pure text helpers shared by stages that may not import each other (transforms, store, web)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from typing import Any


def encodable(text: str) -> bool:
    """Whether ``text`` can be written to both stores as it is (UTF-8 encodable, no NUL)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_value(v: Any) -> str | None:
    """A typed store value back to the canonical national text."""
    if v is None:
        return None
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return format(v.normalize(), "f")
    return str(v)


#: A title ending with a bracket group ``(…)`` / ``（…）``: the part before it and what it holds.
_TRAILING_BRACKET = re.compile(r"^(?P<title>.*?)\s*[(（](?P<inner>[^()（）]+)[)）]\s*$", re.S)


def title_and_number(title: str) -> tuple[str, str] | None:
    """``(the part before the bracket, the bracket's content)`` when ``title`` ends with a bracket group, else None
    (spec §1 #14 [C]: in ``…的批复(发改财金〔2015〕123号)`` the 文书名称 is the part before the bracket)."""
    m = _TRAILING_BRACKET.match(title)
    if m is None or not m.group("title"):
        return None
    return m.group("title"), m.group("inner").strip()


#: White space trimmed from both ends of a value (spec §3.4): ASCII, U+3000, NBSP, zero-width space, BOM.
STRIP_CHARS = " \t\r\n\f\v\u3000\u00a0\u200b\ufeff"


def halfwidth_number(text: str) -> str:
    """A document or licence number as stored (spec §3.4 [C], issue 17): NFKC — full-width letters, digits and
    symbols become half-width — and trimmed; 汉字 and 〔〕 as written. The form CF_WSH / XK_WSH / XK_XKBH take in
    the store and so in business keys: a migration re-keying stored records must use it too."""
    return unicodedata.normalize("NFKC", text).strip(STRIP_CHARS) if not text.isascii() else text.strip(STRIP_CHARS)


_CODE_SPACE = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")

#: Full-width digits and letters (U+FF10–FF19, FF21–FF3A, FF41–FF5A) → ASCII; nothing else changes.
FULLWIDTH_ALNUM = {c: c - 0xFEE0 for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)) for c in range(r[0], r[1] + 1)}


def halfwidth_code(text: str) -> str:
    """An identifier (USCC, 证件号码) as stored: NFKC, upper case, no white space anywhere (the scalar form of
    ``transforms.normalise.normalise_code``; used by business keys and the re-keying migration)."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return _CODE_SPACE.sub("", text.upper())


def halfwidth_name(text: str) -> str:
    """A name as stored: full-width letters and digits → half-width, trimmed; brackets as registered (the scalar
    form of ``transforms.normalise.normalise_name``)."""
    return (text.translate(FULLWIDTH_ALNUM) if not text.isascii() else text).strip(STRIP_CHARS)
