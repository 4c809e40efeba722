"""What the store derives from a chunk's national values before it writes them: business keys, JSON payloads,
content hashes; and the contract of a chunk handed to the loader (:class:`Batch`, :class:`Prepared`).

Pure work (no database): the preparer (``pipeline.prepare``, possibly in a worker process) calls it, so that
the loading thread only decides and writes. Imported by ``store`` and by the preparer only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from national import Dataset
from national.issues import Issue
from national.keys import PLACEHOLDER_CODES, party_key
from national.masking import ID_COLUMNS, masked_changes
from store import bulk
from store.keys import KEY_LENGTH

#: Bytes of a content hash: the first half of a SHA-256 (a store migrated from hex hashes keeps their first
#: 32 hex digits, the same bytes, so nothing looks changed after the migration).
HASH_BYTES = 16

#: Per row: its findings (``national.issues.Issue``; a batch built by hand may give ``{rule, field, message,
#: severity}`` dicts, which the quarantine takes as they are).
RowIssues = Sequence[Issue | dict[str, str]]


class _Lines:
    """A list of texts without a newline, as one text (see :func:`_packed`)."""

    __slots__ = ("copy", "n", "text")

    def __init__(self, text: str, n: int, copy: bool) -> None:
        self.text, self.n, self.copy = text, n, copy

    def __reduce__(self) -> Any:
        return (_Lines, (self.text, self.n, self.copy))

    def unpacked(self) -> list[str]:
        values = self.text.split("\n") if self.n else []
        return bulk.CopyText(values) if self.copy else values


class _Digests:
    """A list of equal-length byte strings, as one byte string."""

    __slots__ = ("data", "size")

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size = data, size

    def __reduce__(self) -> Any:
        return (_Digests, (self.data, self.size))

    def unpacked(self) -> list[bytes]:
        d, k = self.data, self.size
        return [d[i : i + k] for i in range(0, len(d), k)]


def _packed(values: Any) -> Any:
    """``values`` in the form a pipe carries cheaply: a list of texts (COPY fields, JSON, keys) joined by
    newlines when none holds one (one string to pickle instead of one per row), a list of hashes joined; else
    as it is. Only for pickling between the run and its prepare worker (:meth:`Prepared.__getstate__`)."""
    if not isinstance(values, list) or not values:
        return values
    first = values[0]
    if isinstance(first, bytes) and len(first) == HASH_BYTES and all(type(v) is bytes and len(v) == HASH_BYTES for v in values):
        return _Digests(b"".join(values), HASH_BYTES)
    if isinstance(first, str):
        try:
            text = "\n".join(values)
        except TypeError:  # a None among them
            return values
        if text.count("\n") == len(values) - 1:
            return _Lines(text, len(values), isinstance(values, bulk.CopyText))
    return values


def _unpacked(value: Any) -> Any:
    return value.unpacked() if isinstance(value, _Lines | _Digests) else value


@dataclass(frozen=True)
class PublicMasks:
    """How a chunk's rows are shown in the public column (spec §5.4), computed with the rest of the chunk (in
    the prepare worker when there is one), so that the loader writes the public rows from the values it already
    holds: the record's own values except the ones named here.

    - ``natural``: rows whose 行政相对人类别 is 自然人 (their 法定代表人 fields are not shown);
    - ``masked``: national column → {row: the value as shown}, for the few text values ``mask_text`` changes.
    The ID-number columns (``national.masking.ID_COLUMNS``) are never shown, for every row.
    """

    natural: list[int]
    masked: dict[str, dict[int, str | None]]


#: 行政相对人类别 of a natural person (their 法定代表人 fields are never shown; spec §5.4).
NATURAL_PERSON = "自然人"


def public_masks(ds: Dataset, typed: dict[str, list[Any]]) -> PublicMasks:
    """The :class:`PublicMasks` of rows whose national values (as the store types them) are ``typed``."""
    p = ds.name.upper()
    category = typed.get(f"{p}_XDR_LB") or []
    natural = [i for i, v in enumerate(category) if isinstance(v, str) and v.strip() == NATURAL_PERSON]
    masked: dict[str, dict[int, str | None]] = {}
    for f in ds.fields:
        if f.code in ID_COLUMNS or f.code not in typed:
            continue
        changed: dict[int, str | None] = dict(masked_changes(typed[f.code]))
        if changed:
            masked[f.code] = changed
    return PublicMasks(natural, masked)


@dataclass(frozen=True)
class Prepared:
    """The per-row values the load needs, computed from a batch's national values alone."""

    #: national column → database values (dates, Decimals); or, for a store written with COPY, the same
    #: values as COPY text (``copy_text``) and ``typed`` None: what the load writes, ready to pick.
    typed: dict[str, list[Any]] | None
    copy_text: dict[str, bulk.CopyText] | None
    #: per row: XK_ZT (当前状态, licences), or ``revoked:<value>`` where the department's status column says the
    #: decision was revoked (``transforms.normalise.revoked_statuses``); None when neither applies
    statuses: list[str | None] | None
    rejected: np.ndarray  # the catalogue's rejections plus rows that cannot be loaded (LOAD-TYPE/-TEXT/-KEY)
    issues: Sequence[RowIssues]  # per row, LOAD-* findings first
    keys: list[str]  # business key per row
    #: national values as JSON, for the rows the load may write them: rejected rows (the quarantine) and rows
    #: whose business key occurs again in the chunk (a version superseded inside the chunk goes to the
    #: history); None for every other row (a chunk's JSON was a third of what crossed from the worker)
    payload: list[str | None]
    hashes: list[bytes]  # content hash per row (:func:`content_hash`)
    #: per row, the 不予公开 reason (``transforms.normalise.not_public_reasons``) or None; None: no rules
    not_public: list[str | None] | None = None
    #: what the public column's row of each record shows differently from the record (``store.published``);
    #: None: not computed (the loader reads the records back instead)
    masks: PublicMasks | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Sent from the prepare worker to the run: a column of texts travels as one string (pickling a
        # million small strings, and building them again, cost seconds per million rows each way).
        state = {k: _packed(v) for k, v in self.__dict__.items()}
        if self.copy_text is not None:
            state["copy_text"] = {c: _packed(v) for c, v in self.copy_text.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            if k == "copy_text" and v is not None:
                v = {c: _unpacked(x) for c, x in v.items()}
            object.__setattr__(self, k, _unpacked(v))


@dataclass(frozen=True)
class Batch:
    """One chunk of one department dataset after transform and validation: what :func:`store.loader.load_batch`
    writes in one transaction. The preparer builds it once, with ``prepared``; a batch built by hand (tests,
    scenario builders) gives ``national`` and the loader prepares it."""

    department: str
    dataset: str
    national: pd.DataFrame | None  # national columns (canonical text), positional rows; None once prepared
    source_pk: list[str]  # JSON of the source primary key, per row
    raw: list[str | None]  # the source row as JSON, per row (needed for rejected rows only; may be None elsewhere)
    rejected: np.ndarray  # bool per row: has an error-severity issue
    issues: Sequence[RowIssues]  # per row: errors and warnings
    publicity: pd.DataFrame | None = None  # publicity_end, repair_eligible_from (penalties)
    cursor_from: str | None = None  # watermark this chunk was read after (for the moved check)
    cursor_to: str | None = None  # watermark after this chunk
    rule_failures: dict[str, int] = field(default_factory=dict)
    #: Rows read but skipped before the stages because the snapshot showed them unchanged.
    skipped_unchanged: int = 0
    #: Per row, a sortable text of the source row's (cursor, primary key) position, or None (snapshot
    #: reads, files). Of two rows of one decision, the later position is the decision's current content.
    source_position: list[str | None] | None = None
    prepared: Prepared | None = None

    def __len__(self) -> int:
        return len(self.source_pk)

    def __getstate__(self) -> dict[str, Any]:
        return {k: _packed(v) if k in ("source_pk", "source_position") else v for k, v in self.__dict__.items()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, _unpacked(v))


@dataclass(frozen=True)
class Keyed:
    """Keys, payloads and hashes of a chunk's rows, and the rows the store cannot hold as they are."""

    keys: list[str]
    payload: list[str]
    hashes: list[bytes]
    long_keys: list[int]  # rows whose business key is longer than the key columns (KEY_LENGTH)
    unstorable: list[int]  # rows whose national values hold a NUL or a lone surrogate


def keyed(national: pd.DataFrame, ds: Dataset) -> Keyed:
    national = national.reset_index(drop=True)
    keys = business_keys(national, ds)
    payload = with_extensions(payloads(national, ds.template_columns), national, ds.extension_columns)
    hashes, unstorable = _hashes(payload)
    return Keyed(keys, payload, hashes, [i for i, k in enumerate(keys) if len(k) > KEY_LENGTH], unstorable)


def with_lifecycle(k: Keyed, revoked: list[str | None] | None, not_public: list[str | None] | None = None) -> Keyed:
    """A revoked or 不予公开 row's content hash differs from the same values without that status, so that a
    revocation or a 不予公开 flag (or its undoing) of a decision whose template values did not change is a change
    of the record."""
    if not ((revoked is not None and any(revoked)) or (not_public is not None and any(not_public))):
        return k
    marks: list[bytes] = []
    for i in range(len(k.hashes)):
        mark = b"revoked|" if revoked is not None and revoked[i] else b""
        reason = not_public[i] if not_public is not None else None
        if reason:
            mark += b"hidden|" + reason.encode("utf-8", "surrogatepass") + b"|"
        marks.append(mark)
    hashes = [hashlib.sha256(m + h).digest()[:HASH_BYTES] if m else h for h, m in zip(k.hashes, marks, strict=True)]
    return dataclasses.replace(k, hashes=hashes)


def prepared(
    ds: Dataset, national: pd.DataFrame, k: Keyed, typed: dict[str, list[Any]], rejected: np.ndarray,
    issues: Sequence[RowIssues], *, copy_text: bool, revoked: list[str | None] | None = None,
    not_public: list[str | None] | None = None,
) -> Prepared:
    """The load's per-row values. ``copy_text``: render the record columns for a store written with COPY
    (:func:`store.bulk.uses_copy`)."""
    statuses = national["XK_ZT"].tolist() if ds.name == "xk" else None
    if revoked is not None:  # a revocation overrides the template's 当前状态
        statuses = [r if r is not None else (statuses[i] if statuses is not None else None) for i, r in enumerate(revoked)]
    rendered = (
        {c: _accepted_only(_copy_text(national[c], typed[c]), rejected) for c in ds.columns} if copy_text else None
    )
    return Prepared(None if copy_text else typed, rendered, statuses, rejected, issues, k.keys,
                    _payloads_the_load_needs(k, rejected), k.hashes, not_public, public_masks(ds, typed))


def _copy_text(text: pd.Series, typed: list[Any]) -> bulk.CopyText:
    """``bulk.copy_text(typed)``, rendered once per distinct canonical text of the column (``text``: the national
    values ``typed`` was typed from, value by value — ``transforms.typing``): a department's dates, amounts and
    repeated texts are rendered a few hundred times per chunk instead of once per row. Columns of mostly distinct
    values, or holding anything but ``str`` and ``None``, are rendered as they are."""
    values = text.to_numpy(dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) * 2 > len(values) or any(type(u) is not str for u in uniques.tolist()):
        return bulk.copy_text(typed)
    missing = codes < 0
    if missing.any() and not all(map(operator.is_, values[missing].tolist(), itertools.repeat(None))):
        return bulk.copy_text(typed)  # NaN from a hand-built frame: its typed value is not None
    _, first = np.unique(codes, return_index=True)
    if missing.any():
        first = first[1:]  # the first row of each distinct text (codes 0, 1, …; -1 sorts first)
    rendered = bulk.copy_text([typed[i] for i in first.tolist()] + [None])
    return bulk.CopyText(np.array(rendered, dtype=object)[codes].tolist())  # code -1 (None) picks the trailing \N


def _accepted_only(column: bulk.CopyText, rejected: np.ndarray) -> bulk.CopyText:
    """A rejected row's record columns are never written: an empty text in their place (one shared object:
    on a dirty department a third of the rows are rejected, and each field was an object sent and held)."""
    if rejected.any():
        for i in np.flatnonzero(rejected).tolist():
            column[i] = ""
    return column


def _payloads_the_load_needs(k: Keyed, rejected: np.ndarray) -> list[str | None]:
    seen: set[str] = set()
    again: set[str] = set()
    for key in k.keys:
        (again if key in seen else seen).add(key)
    return [p if bad or key in again else None for p, bad, key in zip(k.payload, rejected.tolist(), k.keys, strict=True)]


def business_keys(national: pd.DataFrame, ds: Dataset) -> list[str]:
    """National business key per row (``national.keys``, design.md): the decision — source unit's USCC |
    document number [| licence number] — and its party (credit code, else a digest of the ID number, else the
    name). Values are taken as the transforms stored them (already in their half-width forms); the same
    values give :func:`national.keys.business_key`."""
    parts = [national[c].fillna("").astype(str) for c in ds.business_key]
    key = parts[0]
    for p in parts[1:]:
        key = key + "|" + p
    return [k + "|" + p for k, p in zip(key.tolist(), _party_parts(national, ds), strict=True)]


def _party_parts(national: pd.DataFrame, ds: Dataset) -> list[str]:
    code_col, *rest = ds.party_columns
    n = len(national)
    codes = national[code_col].tolist() if code_col in national else [None] * n
    out: list[str] = []
    others: list[list[Any]] | None = None
    for i, code in enumerate(codes):
        if isinstance(code, str) and code and code not in PLACEHOLDER_CODES:
            out.append(code)
            continue
        if others is None:  # only rows without a credit code (natural persons) look further
            others = [national[c].tolist() if c in national else [None] * n for c in rest]
        out.append(party_key(code, *(o[i] for o in others)))
    return out


def content_hash(payload: str) -> bytes:
    """The hash of a record's national values (their JSON payload): equal hashes = nothing changed."""
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).digest()[:HASH_BYTES]


def _hashes(payload: list[str]) -> tuple[list[bytes], list[int]]:
    """The content hash of each payload, and the rows whose values cannot be stored as they are (a lone
    surrogate, which only encodes with ``surrogatepass``; a NUL, which JSON writes as ``\\u0000``): found by
    the encoding the hash needs anyway."""
    hashes: list[bytes] = []
    unstorable: list[int] = []
    sha256 = hashlib.sha256
    for i, p in enumerate(payload):
        try:
            data = p.encode("utf-8")
        except UnicodeEncodeError:
            data = p.encode("utf-8", "surrogatepass")
            unstorable.append(i)
        else:
            if "\\u0000" in p:
                unstorable.append(i)
        hashes.append(sha256(data).digest()[:HASH_BYTES])
    return hashes, unstorable


def with_extensions(payload: list[str], national: pd.DataFrame, columns: list[str]) -> list[str]:
    """Template payloads with the row's filled extension fields appended (issue 17 item 11), in field order.

    An empty extension field adds nothing: the payload, hence the content hash, of a row without extension
    values is exactly what it was before the fields existed, so no stored record looks changed after the
    upgrade; filling one (or changing it) is a change of the record."""
    cols = [c for c in columns if c in national.columns]
    if not cols or not payload:
        return payload
    frame = national[cols]
    filled = frame.notna().to_numpy().any(axis=1)
    if not filled.any():
        return payload
    out = list(payload)
    for i in np.flatnonzero(filled).tolist():
        extra = {c: v for c, v in zip(cols, frame.iloc[i].tolist(), strict=True) if v is not None and not (isinstance(v, float) and np.isnan(v))}
        if extra:
            tail = json.dumps(extra, ensure_ascii=False, default=str)
            out[i] = out[i][:-1] + "," + tail[1:]
    return out


def _payloads_by_value(frame: pd.DataFrame, columns: list[str]) -> list[str] | None:
    """:func:`payloads` of canonical text (``str`` or ``None`` in every column): each distinct value of a column
    encoded once by the same encoder (pandas' ``to_json``, as an array of the column's distinct texts), the
    rows joined from their columns' pieces. A department's columns repeat their values (机关, 依据, 类别,
    dates), so this encodes a fraction of the cells. ``None`` when a column holds anything else or the
    encoder refuses a value (a lone surrogate): :func:`payloads` encodes the frame as a whole then."""
    # Per column: its pieces (one per distinct value, and a trailing null) and each row's piece number. A column
    # with one piece for every row (unmapped, a constant) is appended to the pieces of the column before it.
    columns_pieces: list[tuple[np.ndarray, np.ndarray]] = []
    prefix = ""
    for k, c in enumerate(columns):
        codes, uniques = pd.factorize(frame[c].to_numpy(dtype=object), use_na_sentinel=True)
        texts = uniques.tolist()
        if not set(map(type, texts)) <= {str}:
            return None
        key = ("{" if k == 0 else ",") + json.dumps(c) + ":"
        if texts:
            try:
                array = pd.Series(texts, dtype=object).to_json(orient="values", force_ascii=False)  # type: ignore[call-overload]  # pandas-stubs lack orient="values" for a Series (pandas takes it)
            except (UnicodeEncodeError, ValueError, OverflowError):
                return None
            # Cut between the strings at '","'. Its first quote ends a string unless it is escaped ('\\"'), which
            # needs a backslash before it: when no piece ends with a backslash ('\\","' nowhere, no '\\"]' at the
            # end), every cut was between two strings.
            encoded = array[2:-2].split('","')
            if (not (array.startswith('["') and array.endswith('"]') and len(encoded) == len(texts))
                    or '\\","' in array or array.endswith('\\"]')):
                return None
        else:
            encoded = []
        table = np.array([f'{prefix}{key}"{e}"' for e in encoded] + [prefix + key + "null"], dtype=object)
        prefix = ""
        first = codes[0]
        if (codes == first).all():  # the same piece in every row
            if columns_pieces:
                before, before_codes = columns_pieces[-1]
                columns_pieces[-1] = (before + table[first], before_codes)
            else:
                prefix = table[first]
            continue
        columns_pieces.append((table, codes))
    if not columns_pieces:  # every column the same in every row
        return [prefix + "}"] * len(frame)
    last, last_codes = columns_pieces[-1]
    columns_pieces[-1] = (last + "}", last_codes)
    pieces = [table[codes].tolist() for table, codes in columns_pieces]  # code -1 (None) picks the trailing null
    if len(pieces) == 1:
        return pieces[0]
    return list(map("".join, zip(*pieces, strict=True)))


def payloads(national: pd.DataFrame, columns: list[str]) -> list[str]:
    """Each row's national values as one JSON object (column order fixed), by pandas' C encoder."""
    frame = national[columns]
    if len(frame) == 0:
        return []
    by_value = _payloads_by_value(frame, columns)
    return by_value if by_value is not None else _payloads_of_frame(frame, columns)


def _payloads_of_frame(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """:func:`payloads` by encoding the whole frame (any values)."""
    try:
        # One JSON array, cut between its objects: each object starts with the first column's key, and
        # inside a JSON string a quote is always escaped, so '},{"FIRST":' only occurs between objects.
        # (pandas' own ``lines=True`` does the same cut character by character, several times slower.)
        text = frame.to_json(orient="records", force_ascii=False)
        head = "{" + json.dumps(columns[0]) + ":"
        parts = text[2 + len(head) - 1 : -2].split("}," + head)
        if text.startswith("[" + head) and text.endswith("}]") and len(parts) == len(frame):
            return [head + p + "}" for p in parts]
        lines = frame.to_json(orient="records", lines=True, force_ascii=False).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) == len(frame):
            return lines
    except (UnicodeEncodeError, ValueError, OverflowError):
        pass
    values = frame.to_numpy(dtype=object)
    return [json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False, default=str) for row in values]
