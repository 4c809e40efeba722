"""Department batch → national columns, normalised (spec §3.4, §3.5, §3.6).

Everything here is vectorised over a pandas batch: the per-value work is done by pandas string
methods, never by a Python loop per row and column.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from national import Dataset
from national.fields import Field
from national.text import FULLWIDTH_ALNUM, halfwidth_number
from transforms.settings import MappingSettings

# Leading/trailing white space the spec names: ASCII, U+3000 ideographic space, NBSP, zero-width space.
_STRIP = " \t\r\n\f\v\u3000\u00a0\u200b\ufeff"
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")
# NUL cannot be stored in a PostgreSQL text column: it becomes U+FFFD (the replacement character), which
# the catalogue's character rule (乱码) quarantines with a reason instead of failing the chunk.
_NUL, _REPLACEMENT = "\x00", "\ufffd"


class MappingError(Exception):
    """The department's mapping names a source column the batch does not have."""


def _as_text(col: pd.Series) -> pd.Series:
    """Any source values → Python ``str`` or ``None`` (object dtype).

    Database types are turned into text the way a clerk would write them: dates as ISO dates,
    datetimes as ISO date-times, Decimals and integers without exponent, bytes decoded leniently.
    The common cases (all text, datetime64, integers) stay vectorised.
    """
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        text = col.dt.strftime("%Y-%m-%d %H:%M:%S")
        return text.astype(object).where(col.notna(), None)
    if pd.api.types.is_integer_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        return col.astype(str).astype(object).where(col.notna(), None)
    values = (
        col.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]  # pandas-stubs: na_value may not be None (pandas takes it)
        if not isinstance(col.dtype, np.dtype) or col.dtype == object
        else col.astype(object).to_numpy()
    )
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "empty":
        return pd.Series([None] * len(values), index=col.index, dtype=object)
    if kind == "string":  # missing values are already None (na_value above)
        if _NUL in "".join(filter(None, values)):  # one C-level scan (values: str or None)
            values = np.array([v.replace(_NUL, _REPLACEMENT) if v is not None else None for v in values], dtype=object)
        return pd.Series(values, index=col.index, dtype=object)
    if kind == "date":  # datetime.date objects (DATE columns): few distinct values per chunk
        return _per_distinct(pd.Series(values, index=col.index, dtype=object), _cells_text)
    if kind == "decimal":
        return pd.Series([None if v is None else format(v, "f") for v in values], index=col.index, dtype=object)
    return _cells_text(pd.Series(values, index=col.index, dtype=object))


def _cells_text(col: pd.Series) -> pd.Series:
    """Mixed driver types: one conversion per cell (not per rule)."""
    values = col.to_numpy(dtype=object)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        text = _cell_text(v)
        out[i] = text.replace(_NUL, _REPLACEMENT) if text is not None and _NUL in text else text
    return pd.Series(out, index=col.index, dtype=object)


def _per_distinct(col: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``fn`` (a value-by-value transformation: the result of a value depends on that value alone) applied to
    each distinct value of ``col`` once, and spread back over the rows. A chunk of 50,000 decisions holds a few
    hundred distinct dates, codes and amounts: normalising those instead of every cell is what makes the
    mapping cheap. Missing values stay ``None``. Values are distinguished by equality, so ``col`` must not mix
    types whose equal values have different texts (1 and True, Decimal 1.0 and 1.00): text, or dates."""
    values = col.to_numpy(dtype=object)
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    if len(distinct) == 0 or len(distinct) * 2 > len(values):  # mostly distinct (names, free text): no gain
        return fn(col)
    done = fn(pd.Series(distinct, dtype=object)).to_numpy(dtype=object)
    missing = codes < 0
    out = done.take(np.where(missing, 0, codes))
    if missing.any():
        out[missing] = fn(pd.Series([None], dtype=object)).to_numpy(dtype=object)[0]
    return pd.Series(out, index=col.index, dtype=object)


def _cell_text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, dt.datetime):  # pd.Timestamp is a datetime
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, float):
        return format(Decimal(repr(v)), "f")
    if isinstance(v, bytes | bytearray | memoryview):
        return _decode(bytes(v))
    return str(v)


def _decode(raw: bytes) -> str:
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def _nones(s: pd.Series) -> pd.Series:
    """Object dtype with ``None`` for missing values (never NaN), as the next stages expect."""
    return s.astype(object).where(s.notna(), None)


def _strip(s: pd.Series) -> pd.Series:
    """Trimmed text, ``None`` for blank or missing values (a list comprehension: 3x faster than ``.str``)."""
    values = s.to_numpy(dtype=object)
    return pd.Series([(v.strip(_STRIP) or None) if isinstance(v, str) else None for v in values], index=s.index, dtype=object)


def _nfkc(s: pd.Series) -> pd.Series:
    # ASCII text is its own NFKC form: only the rest goes through unicodedata.
    return s.map(lambda v: unicodedata.normalize("NFKC", v) if isinstance(v, str) and not v.isascii() else v)


def normalise_code(s: pd.Series) -> pd.Series:
    """Identifier columns: NFKC (full-width → ASCII), upper case, no white space at all."""
    s = _nfkc(s)
    s = s.str.upper().str.replace(r"[\s\u3000\u00a0\u200b\ufeff]+", "", regex=True)
    return _nones(s.where(s.str.len() > 0))


#: Full-width digits and letters → ASCII; nothing else changes (shared with national.text.halfwidth_name).
_FULLWIDTH_ALNUM = FULLWIDTH_ALNUM
_FULLWIDTH_ALNUM_CHAR = re.compile("[" + "".join(map(chr, sorted(FULLWIDTH_ALNUM))) + "]")


def normalise_number(s: pd.Series) -> pd.Series:
    """Document and licence numbers (文书号, 许可编号): NFKC, so full-width letters, digits and symbols become
    half-width (spec §3.4 [C]: ``榕市监罚〔２０２４〕１２号`` → ``榕市监罚〔2024〕12号``), then trimmed. 汉字, 〔〕 and
    the inner spaces stay as written: the value means the same decision."""
    return _strip(s.map(lambda v: halfwidth_number(v) if isinstance(v, str) else v))


def normalise_name(s: pd.Series) -> pd.Series:
    """Names and titles: full-width letters and digits → half-width (spec §3.4 [C]: ``阳泉市ＡＢＣ商贸有限公司`` →
    ``阳泉市ABC商贸有限公司``), trimmed (also of U+3000). Brackets and other punctuation stay as registered
    (spec §3.4 [D]: ``（）`` is kept), so NFKC is not applied."""
    try:
        joined = "".join(filter(None, s.to_numpy(dtype=object)))
    except TypeError:  # not only text
        joined = None
    if joined is not None and not _FULLWIDTH_ALNUM_CHAR.search(joined):
        return _strip(s)  # no full-width letter or digit in the column (the usual case): nothing to translate
    return _strip(s.map(lambda v: v.translate(_FULLWIDTH_ALNUM) if isinstance(v, str) and not v.isascii() else v))


def normalise_date(s: pd.Series) -> pd.Series:
    """Dates → ``YYYY-MM-DD``; an unparseable value is kept (trimmed) so the rules can name it.

    Accepts the template's ``YYYY/MM/DD``, exchange ``YYYY-MM-DD``, ``YYYYMMDD``, and database
    date/datetime values (already ISO text here, possibly with a time part that is dropped).
    """
    s = _strip(_nfkc(s))
    head = s.str.slice(0, 10)
    compact = s.str.fullmatch(r"\d{8}").fillna(False).astype(bool)
    head = head.where(~compact, s)
    parsed = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")
    for fmt in _DATE_FORMATS:
        todo = parsed.isna() & head.notna()
        if not todo.any():
            break
        parsed.loc[todo] = pd.to_datetime(head[todo], format=fmt, errors="coerce").astype("datetime64[s]")
    # A time part other than midnight-ish text is fine; but "2024-01-01abc" is not a date.
    tail_ok = s.str.slice(10).str.fullmatch(r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?").fillna(True).astype(bool) | compact
    good = parsed.notna() & tail_ok
    iso = parsed.dt.strftime("%Y-%m-%d")
    return _nones(iso.where(good, s).where(s.notna()))


def normalise_amount(s: pd.Series, *, in_yuan: bool) -> pd.Series:
    """Amounts → plain decimal strings in 万元 (6 decimals at most, no exponent).

    A value that is not a plain number (``2000元``, ``1,000``) is kept so the rules can reject it.
    """
    s = _strip(_nfkc(s))
    plain = s.str.fullmatch(r"[+-]?\d+(?:\.\d+)?").fillna(False).astype(bool)

    def to_wan(v: str) -> str:
        d = Decimal(v)
        if in_yuan:
            d = d / Decimal(10000)
        return format(d.normalize(), "f")

    converted = s[plain].map(to_wan)
    out = s.copy()
    out.loc[plain] = converted
    return _nones(out)


def _normalise_field(col: pd.Series, f: Field, mapping: MappingSettings) -> pd.Series:
    """One national field's text: the department's code translation, then the normalisation of its kind.
    Value by value (see :func:`_per_distinct`)."""
    if f.code in mapping.codes:
        table = mapping.codes[f.code]
        key = _strip(col)
        col = key.map(lambda v, t=table: t.get(v, v) if v is not None else None)
    if f.kind == "code":
        col = normalise_code(col)
        if f.code.endswith("_ZZJG"):  # 组织机构代码 is often written XXXXXXXX-X (spec §3.2)
            col = col.str.replace("-", "", regex=False).astype(object).where(col.notna(), None)
    elif f.kind == "number":
        col = normalise_number(col)
    elif f.kind == "name":
        col = normalise_name(col)
    elif f.kind == "date":
        col = normalise_date(col)
    elif f.kind == "amount":
        col = normalise_amount(col, in_yuan=f.code in mapping.amounts_in_yuan)
    elif f.kind == "enum":
        col = _strip(_nfkc(col))
    else:
        col = _strip(col)
    return col.astype(object).where(col.notna(), None)


def map_to_national(batch: pd.DataFrame, mapping: MappingSettings, ds: Dataset, *, department: str) -> pd.DataFrame:
    """Department columns → every national column of ``ds``, normalised by kind.

    Unmapped national columns are ``None``; ``codes`` translate department codes (a value with no
    translation is kept as given, so the enumeration rule reports it rather than losing it).
    """
    missing = sorted({c for c in mapping.columns.values() if c not in batch.columns})
    if missing:
        raise MappingError(
            f"部门 {department} 的 {ds.name} 映射引用了源数据中不存在的列：{', '.join(missing)}；"
            f"源数据的列有：{', '.join(map(str, batch.columns))}"
        )
    out: dict[str, pd.Series] = {}
    n = len(batch)
    for f in ds.fields:
        if f.code in mapping.columns:
            col = _as_text(batch[mapping.columns[f.code]])
        elif f.code in mapping.constants:
            col = pd.Series([mapping.constants[f.code]] * n, index=batch.index, dtype=object)
        else:
            out[f.code] = pd.Series([None] * n, index=batch.index, dtype=object)
            continue
        out[f.code] = _per_distinct(col, partial(_normalise_field, f=f, mapping=mapping))
    return pd.DataFrame(out, index=batch.index)


def as_text_frame(batch: pd.DataFrame) -> pd.DataFrame:
    """Every source column as text (``str`` or ``None``), once per chunk: the mapping and the raw JSON
    both start from it."""
    return pd.DataFrame({c: _as_text(batch[c]) for c in batch.columns}, index=batch.index)


def raw_json(batch: pd.DataFrame) -> list[str]:
    """Each source row as JSON text (kept in quarantine and history: store raw, publish masked).

    ``batch`` should come from :func:`as_text_frame`. pandas' C encoder does the work; a value it cannot
    encode (a lone surrogate from a broken legacy encoding) falls back to the standard library per row.
    """
    text = batch if all(isinstance(batch[c].dtype, np.dtype) and batch[c].dtype == object for c in batch.columns) else as_text_frame(batch)
    if len(text) == 0:
        return []
    text = text.rename(columns=str)
    try:
        lines = json_records(text)
        if len(lines) == len(text):
            return lines
    except (UnicodeEncodeError, ValueError, OverflowError):
        pass
    # Each row as it is encoded alone, so that a row's text never depends on the other rows of its chunk (its
    # hash identifies a quarantined row across runs): pandas' encoder where it can, the standard library where
    # it cannot. A row holding a value UTF-8 cannot encode (a lone surrogate) is always refused by pandas'
    # encoder: those rows go to the standard library straight away; the others are encoded together (a row's
    # text does not depend on the rows encoded with it, as above), halving a part that still fails
    # (:func:`_rows_json`). One frame per row cost 4 ms a row. tests/transforms/test_normalise.py checks each
    # row's text against the row encoded alone.
    cols = list(text.columns)
    refused = _unencodable_rows(text)
    accepted: list[str] = []
    _rows_json(text.iloc[np.flatnonzero(~refused)], cols, accepted)
    out: list[str] = []
    rest = iter(accepted)
    values = text.to_numpy(dtype=object) if refused.any() else None
    for i, bad in enumerate(refused.tolist()):
        if bad:
            assert values is not None
            out.append(json.dumps(dict(zip(cols, values[i], strict=True)), ensure_ascii=False, default=str))
        else:
            out.append(next(rest))
    return out


def _unencodable_rows(text: pd.DataFrame) -> np.ndarray:
    """Per row: whether one of its values (``str`` or ``None``) does not encode as UTF-8 (a lone surrogate)."""
    out = np.zeros(len(text), dtype=bool)
    for c in range(text.shape[1]):
        values = text.iloc[:, c].tolist()
        try:
            try:
                joined = "".join(filter(None, values))  # str or None: one C-level pass
            except TypeError:
                joined = "".join(v for v in values if isinstance(v, str))
            joined.encode("utf-8")
        except UnicodeEncodeError:
            for i, v in enumerate(values):
                if isinstance(v, str) and not v.isascii():
                    try:
                        v.encode("utf-8")
                    except UnicodeEncodeError:
                        out[i] = True
    return out


def _rows_json(text: pd.DataFrame, cols: list[str], out: list[str]) -> None:
    """Append each row of ``text`` as JSON to ``out``: the rows pandas' encoder takes, encoded together; a row
    it refuses by the standard library."""
    try:
        lines = json_records(text)
        if len(lines) == len(text):
            out.extend(lines)
            return
    except (UnicodeEncodeError, ValueError, OverflowError):
        pass
    if len(text) == 1:
        out.append(json.dumps(dict(zip(cols, text.iloc[0].tolist(), strict=True)), ensure_ascii=False, default=str))
        return
    half = len(text) // 2
    _rows_json(text.iloc[:half], cols, out)
    _rows_json(text.iloc[half:], cols, out)


def json_records(frame: pd.DataFrame) -> list[str]:
    """Each row of ``frame`` (string column names, at least one column) as one JSON object: exactly the
    lines of pandas' ``to_json(orient="records", lines=True, force_ascii=False)``, in half the time.

    pandas writes the array form and then re-scans it character by character to cut it into lines; here
    the array is split where one record ends and the next begins, ``},{"<first column>":``. That text
    cannot occur inside a value: a quote inside a string is written ``\\"``, and after the quote that ends a
    string comes ``,`` or ``}``, never a column name.
    """
    if len(frame) == 0:
        return []
    whole = frame.to_json(orient="records", force_ascii=False)
    # '{"<first column>":' as the same encoder writes it (escapes included), from a one-cell frame.
    head = pd.DataFrame({frame.columns[0]: [None]}).to_json(orient="records", force_ascii=False)[1 : -len("null}]")]
    parts = whole[1:-1].split("}," + head)
    if len(parts) == 1:
        return parts
    return [parts[0] + "}", *(head + p + "}" for p in parts[1:-1]), head + parts[-1]]


def none_if_nan(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and v != v) else v


#: How a revoked row's status travels to the store (``store.rows.Prepared.statuses``): this prefix and the
#: department's value (``store.records.REVOKED_PREFIX``, the same text).
REVOKED_PREFIX = "revoked:"


def revoked_statuses(frame: pd.DataFrame, mapping: MappingSettings, *, department: str) -> list[str | None] | None:
    """Per row, ``revoked:<value>`` when the department's status column holds one of its revoked values
    (compared trimmed), else None; None when the department maps no status column."""
    if not mapping.status_column:
        return None
    if mapping.status_column not in frame.columns:
        raise MappingError(
            f"部门 {department} 的状态列（status_column）不存在于源数据中：{mapping.status_column}；"
            f"源数据的列有：{', '.join(map(str, frame.columns))}"
        )
    wanted = {v.strip() for v in mapping.revoked_values}
    col = frame[mapping.status_column].astype(object)
    return [f"{REVOKED_PREFIX}{v.strip()}" if isinstance(v, str) and v.strip() in wanted else None for v in col.tolist()]


#: Separators between several categories in one CF_CFLB / XK_XKLB value.
_CATEGORY_SPLIT = re.compile(r"[;；,，、/|\s]+")


def not_public_reasons(
    frame: pd.DataFrame, national: pd.DataFrame, mapping: MappingSettings, dataset: str, *, department: str,
) -> list[str | None] | None:
    """Per row, the 不予公开 reason when a rule of the department's ``not_public`` applies, else None; None when
    the department has no such rules. ``frame``: the department's rows as text; ``national``: the same rows
    mapped (positional)."""
    rules = mapping.not_public
    if rules is None:
        return None
    n = len(frame)
    out: list[str | None] = [None] * n
    if rules.categories:
        wanted = {c.strip() for c in rules.categories}
        col = "CF_CFLB" if dataset == "cf" else "XK_XKLB"
        label = "处罚类别" if dataset == "cf" else "许可类别"
        for i, v in enumerate(national[col].tolist()):
            parts = {p for p in _CATEGORY_SPLIT.split(v) if p} if isinstance(v, str) else set()
            if parts and parts <= wanted:
                out[i] = f"{rules.reason}（{label}：{'、'.join(sorted(parts))}）"[:200]
    if rules.flag_column:
        if rules.flag_column not in frame.columns:
            raise MappingError(
                f"部门 {department} 的不予公开标记列（not_public.flag_column）不存在于源数据中：{rules.flag_column}；"
                f"源数据的列有：{', '.join(map(str, frame.columns))}"
            )
        flags = {v.strip() for v in rules.flag_values}
        for i, v in enumerate(frame[rules.flag_column].astype(object).tolist()):
            if isinstance(v, str) and v.strip() in flags:
                out[i] = f"{rules.reason}（源数据标记：{v.strip()}）"[:200]
    return out
