"""Masking of personal data for anything that leaves the internal store (spec §5.4: store raw, publish masked).

- 身份证号码 (18 characters): keep the first 6 and the last 4: ``110105********002X``.
- Other document numbers (passports, permits): keep only the last 4.
- Free text: 18- and 15-digit ID-like runs, 11-digit mobile numbers and bank-card-like digit runs are masked.
  An 18-character run that is a 统一社会信用代码 with a correct GB 32100 check digit and cannot be an ID
  number (positions 7–14 are not a real birth date) is a public credit code and stays as it is: an all-digit
  code such as ``113301000024713838`` (a government body) is otherwise indistinguishable from an ID number.
  A run that could be both (a real birth date in positions 7–14) is masked: when in doubt, privacy wins.
"""

from __future__ import annotations

import datetime as dt
import re

_ID18 = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_ID15 = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{6})(\d{3})(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_CARD = re.compile(r"(?<!\d)(\d{4})(\d{8,11})(\d{4})(?!\d)")

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


def mask_text(text: str | None) -> str | None:
    """Free text with ID numbers, mobile numbers and card numbers masked."""
    if text is None:
        return None
    t = _ID18.sub(lambda m: m.group(0) if is_public_credit_code(m.group(0)) else m.group(1) + "*" * 8 + m.group(3), text)
    t = _ID15.sub(lambda m: m.group(1) + "*" * 6 + m.group(3), t)
    # An 18-digit credit code left alone above also has the length of a bank card: keep it here too.
    t = _CARD.sub(
        lambda m: m.group(0) if is_public_credit_code(m.group(0)) else m.group(1) + "*" * len(m.group(2)) + m.group(3), t
    )
    t = _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), t)
    return t


def mask_record(values: dict[str, str | None]) -> dict[str, str | None]:
    """A national record (column code → value) safe to show outside the store."""
    out: dict[str, str | None] = {}
    for k, v in values.items():
        out[k] = mask_id_number(v) if k in ID_COLUMNS else mask_text(v) if isinstance(v, str) else v
    return out
