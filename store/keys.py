"""How values from department rows meet the store's bounded and encoded columns.

A department row is untrusted: any of its values may be 100 KB long, hold a NUL (PostgreSQL text refuses it)
or a lone surrogate from a broken legacy encoding (neither store can encode it as UTF-8). A store error
half-way through a chunk rolls the chunk back, and the next run reads the same row again: one row would stop
its department for good. So every value is made storable before it is written:

- free text (record columns, history payloads, the quarantine's raw row, national values and issues) is
  unbounded ``TEXT``; JSON text with an unencodable character is written with ``\\uXXXX`` escapes (the same
  JSON value), other text with the character escaped as ``\\udcXX`` / ``\\x00`` text;
- key columns (``VARCHAR(KEY_LENGTH)``: source primary keys, business keys, in the record tables, history,
  quarantine and snapshot) hold :func:`bounded_key` of a key: the key itself when it fits and is encodable,
  else its first characters (escaped) and a SHA-256 of the whole key. The same key always gives the same
  bounded form, so look-ups by key (a corrected row closing its open quarantine entry, the snapshot's seen
  rows) still find it; an escaped key never shares its literal escape text: a key holding a NUL, ``"k\\x00"``, is stored as
  ``k\\x00…#<sha256>``, while the 5-character key ``k\\x00`` stays as it is.

What a business key is — the decision and its party, with an ID number only as a digest — is
``national.keys`` (issue 17; migration 0009 re-keyed stored records to it, keeping the old key where the
province knows the record by it: ``record_<ds>.upstream_key``).

A record's business key is never shortened: a row whose business key does not fit is quarantined (the
loader's ``LOAD-KEY`` check, behind the catalogue's length rules for the key fields).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from national.text import encodable

#: Characters of the store's key columns (``VARCHAR``). 400 characters of 4 bytes stay well inside
#: PostgreSQL's B-tree entry limit (about 2,700 bytes) for the composite indexes that include them.
KEY_LENGTH = 400
_MARK = "…#"  # between the kept characters and the digest of a shortened key
_DIGEST = 64  # hex characters of SHA-256


def storable_text(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udcXX`` and NUL as ``\\x00`` (unchanged when encodable)."""
    if encodable(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def storable_json(text: str) -> str:
    """JSON text that both stores accept: the same JSON value, with ``\\uXXXX`` escapes where needed."""
    if encodable(text):
        return text
    try:
        return json.dumps(json.loads(text), ensure_ascii=True)
    except ValueError:  # not JSON after all: escape the characters as text
        return storable_text(text)


def bounded_key(key: str) -> str:
    """``key`` as a key column holds it: unchanged when it fits and is encodable, else storable and at most
    :data:`KEY_LENGTH` characters: a prefix (escaped by :func:`storable_text`), ``…#`` and the SHA-256 of the
    whole key.

    A key that needed escaping is hashed even when short: escaping alone is not injective (a key holding a NUL,
    ``"k\\x00"``, escapes to the 5-character text ``k\\x00``, which another row's key could be). The digest is taken
    of the key itself, so different keys get different forms; a form is returned unchanged (the loader
    bounds keys that prepare already bounded). Keys that fit and are encodable — all keys any store could
    hold before this function existed — are unchanged, so no stored key needs migrating. Left open: a key
    crafted to end in ``…#`` and the SHA-256 of another key of the same department equals that key's form.
    """
    if len(key) <= KEY_LENGTH and encodable(key):
        return key
    text = storable_text(key)
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return text[: KEY_LENGTH - len(_MARK) - _DIGEST] + _MARK + digest


def bounded_keys(keys: Sequence[str]) -> list[str]:
    """:func:`bounded_key` of each key; one pass over the whole list when none needs a change (the usual case)."""
    out = list(keys)
    if not out:
        return out
    if max(map(len, out)) <= KEY_LENGTH:
        joined = "".join(out)
        if encodable(joined):
            return out
    return [bounded_key(k) for k in out]


def storable_texts(values: Sequence[str | None]) -> list[str | None]:
    """:func:`storable_text` of each value (``None`` kept); one pass when nothing needs a change."""
    out = list(values)
    texts = [v for v in out if v is not None]
    if not texts or encodable("".join(texts)):
        return out
    return [None if v is None else storable_text(v) for v in out]
