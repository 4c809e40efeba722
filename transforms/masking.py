"""Masking of personal data for anything that leaves the internal store (spec §5.4: store raw, publish masked).

- 身份证号码 (18 characters): keep the first 6 and the last 4: ``110105********002X``.
- Other document numbers (passports, permits): keep only the last 4.
- Free text: 18- and 15-digit ID-like runs, 11-digit mobile numbers and bank-card-like digit runs are masked.
"""

from __future__ import annotations

import re

_ID18 = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_ID15 = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{6})(\d{3})(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_CARD = re.compile(r"(?<!\d)(\d{4})(\d{8,11})(\d{4})(?!\d)")

#: National columns that hold a natural person's document number.
ID_COLUMNS = frozenset({"CF_XDR_ZJHM", "CF_FR_ZJHM", "XK_XDR_ZJHM", "XK_FR_ZJHM"})


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


def mask_text(text: str | None) -> str | None:
    """Free text with ID numbers, mobile numbers and card numbers masked."""
    if text is None:
        return None
    t = _ID18.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    t = _ID15.sub(lambda m: m.group(1) + "*" * 6 + m.group(3), t)
    t = _CARD.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), t)
    t = _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), t)
    return t


def mask_record(values: dict[str, str | None]) -> dict[str, str | None]:
    """A national record (column code → value) safe to show outside the store."""
    out: dict[str, str | None] = {}
    for k, v in values.items():
        out[k] = mask_id_number(v) if k in ID_COLUMNS else mask_text(v) if isinstance(v, str) else v
    return out
