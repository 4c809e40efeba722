"""The national business key of a record: the decision and its party (issue 17, design.md "Central store").

``<source unit's USCC>|<document number>[|<licence number>]|<party>``, where the party is, in order:

- the party's 统一社会信用代码 (``CF_XDR_SHXYM`` / ``XK_XDR_SHXYM``) when it has one (legal persons, 个体工商户);
- for a placeholder credit code (``00000000000000000X``, allowed for a 个体工商户 with its 工商注册号, spec §3.3
  [C]; or another placeholder, which the rules reject) ``reg:`` and the 工商注册号, when there is one: two
  个体工商户 with the placeholder in one decision are two parties;
- else ``id:`` and the first 20 hex digits of a SHA-256 of its 证件号码 (natural persons): the ID number is
  never written into a key in clear, since keys appear in exports, push batches and operator messages;
- else ``name:`` and its 行政相对人名称;
- else nothing (the row is rejected by the party rules anyway).

One 决定书 against two or three parties (共同违法) is therefore two or three records; the same party in the
same decision read again is the same record. Values are taken in their stored form (``national.text``:
codes NFKC, upper case, no white space; numbers NFKC and trimmed; names with full-width letters and digits
folded), so a migration re-keying an existing store computes the same key a new row gets
(``store/migrations/versions/0009_party_business_key.py``).

Left as it is: a correction that changes the party's identifying value (a wrong credit code fixed at the
source) gives a new key, so the corrected row is a new record and the old one stays until it is withdrawn
(the snapshot diff withdraws it when the source row's old state is gone; ``sgs withdraw`` otherwise).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from national.fields import Dataset
from national.text import halfwidth_code, halfwidth_name, halfwidth_number

#: Prefixes of the party part that is not a credit code (a credit code is 18 upper-case letters and digits).
ID_PREFIX = "id:"
REGISTRATION_PREFIX = "reg:"
NAME_PREFIX = "name:"
#: Credit codes that name nobody (spec §3.3): the party is identified by its other values.
PLACEHOLDER_CODES = frozenset({"00000000000000000X", "000000000000000000", "99999999999999999X", "999999999999999999"})
#: Hex digits of the ID number's digest kept in the key: within one decision a collision is out of reach.
ID_DIGITS = 20


def id_digest(id_number: str) -> str:
    """The key's form of an ID number (``id:`` + 20 hex digits of a salted SHA-256), never the number itself."""
    return ID_PREFIX + hashlib.sha256(("sgs-party|" + id_number).encode("utf-8", "surrogatepass")).hexdigest()[:ID_DIGITS]


def _text(v: Any) -> str:
    if isinstance(v, str):
        return v
    return "" if v is None or v != v else str(v)  # v != v: NaN from a hand-built frame


def party_key(credit_code: Any, registration: Any, id_number: Any, name: Any) -> str:
    """The party part of a business key (see the module docstring)."""
    code = halfwidth_code(_text(credit_code))
    if code and code not in PLACEHOLDER_CODES:
        return code
    reg = halfwidth_code(_text(registration)) if code else ""
    if reg:
        return REGISTRATION_PREFIX + reg
    number = halfwidth_code(_text(id_number))
    if number:
        return id_digest(number)
    title = halfwidth_name(_text(name))
    return NAME_PREFIX + title if title else ""


def decision_key(ds: Dataset, values: Mapping[str, Any]) -> str:
    """The decision part: source unit's USCC | document number [| licence number], in their stored forms."""
    parts: list[str] = []
    for c in ds.business_key:
        v = _text(values.get(c))
        parts.append(halfwidth_number(v) if ds.field(c).kind == "number" else halfwidth_code(v))
    return "|".join(parts)


def business_key(ds: Dataset, values: Mapping[str, Any]) -> str:
    """The business key of one record from its national values (canonical text or stored values)."""
    return decision_key(ds, values) + "|" + party_key(*(values.get(c) for c in ds.party_columns))
