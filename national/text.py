"""Small pure text helpers shared by stages that may not import each other (transforms, store, web)."""

from __future__ import annotations

import datetime as dt
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
