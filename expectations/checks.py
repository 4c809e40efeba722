"""Vectorised identifier checks shared by the rule engine and the Great Expectations suites.

Every function takes a 1-D object array (values are ``str`` or ``None``) and returns boolean arrays
of the same length. Nothing loops in Python per value: candidates of the right length are turned
into a fixed-width UCS-4 matrix (``dtype="U18"`` viewed as ``uint32``), looked up in small tables
and reduced with a weighted sum (measurements.md: this is ~10x faster than pandas string ops and
matches python-stdnum).

Spec references are to ../shared/spec/national-rules.md (§3.2 formats, §4 algorithms).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

BoolArray = npt.NDArray[np.bool_]

#: GB 32100 alphabet: digits and capitals without I, O, Z, S, V (§4.1). Value = index.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
#: GB 11643 weights 2^(17-i) mod 11 (§4.2).
RIC_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
#: GB 11714 weights (§4.3).
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_USCC_W32 = USCC_WEIGHTS.astype(np.int32)
_RIC_W32 = RIC_WEIGHTS.astype(np.int32)
_ORG_W32 = ORG_WEIGHTS.astype(np.int32)


def _table(chars: str, values: Sequence[int] | None = None) -> npt.NDArray[np.int16]:
    """ASCII lookup table: code point → value, -1 for characters outside ``chars``."""
    table = np.full(128, -1, dtype=np.int16)
    for i, c in enumerate(chars):
        table[ord(c)] = i if values is None else values[i]
    return table


_USCC_VALUE = _table(USCC_ALPHABET)
_DIGIT_VALUE = _table("0123456789")
# GB 11714 body: digits keep their value, letters A=10 … Z=35.
_ORG_VALUE = _table("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def as_object_array(values: Sequence[object] | np.ndarray) -> np.ndarray:
    """A 1-D object array of ``values``; no copy when it already is one."""
    arr = np.asarray(values, dtype=object)
    return arr.reshape(-1) if arr.ndim != 1 else arr


def normalise_values(values: Sequence[object] | np.ndarray) -> np.ndarray:
    """Values as an object array holding only ``str`` or ``None``.

    The input contract promises ``str`` or ``None``; anything else (an ``int`` or ``float`` from a
    careless source) is judged by its ``str()``. ``NaN``/``NA`` and the empty string count as missing,
    because they mean "no value" in every source we read.
    """
    arr = as_object_array(values)
    types = set(map(type, arr))
    if types <= {str, type(None)}:
        if str in types and (arr == "").any():
            arr = arr.copy()
            arr[arr == ""] = None
        return arr
    out = np.empty(len(arr), dtype=object)
    for i, v in enumerate(arr.tolist()):  # slow path, only for columns that break the contract
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v) or v == "":
            out[i] = None
        else:
            out[i] = v if isinstance(v, str) else str(v)
    return out


def str_lengths(values: np.ndarray) -> npt.NDArray[np.int64]:
    """Length in characters (code points) of each value of a :func:`normalise_values` array; 0 for ``None``."""
    # operator.length_hint is len() for a str and 0 for None: one C-level pass, no copy.
    return np.fromiter(map(operator.length_hint, values), dtype=np.int64, count=len(values))


def _codepoints(
    values: np.ndarray, lengths: npt.NDArray[np.int64], width: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint32]]:
    """Rows whose value has exactly ``width`` characters, and their code points as an (m, width) matrix.

    Code points ≥ 128 are folded to 0, which every lookup table maps to -1 (invalid), so non-ASCII
    look-alikes (full-width digits that escaped NFKC, Cyrillic letters) fail the format check.
    A NUL inside the value also maps to 0 and fails.
    """
    rows = np.flatnonzero(lengths == width)
    if rows.size == 0:
        return rows, np.zeros((0, width), dtype=np.uint32)
    return rows, _fold(np.array(values[rows].tolist(), dtype=f"<U{width}"), width)


def _fold(block: np.ndarray, width: int) -> npt.NDArray[np.uint32]:
    """UCS-4 code points of a ``<U{width}`` array as (m, width), non-ASCII folded to 0."""
    cp = block.view(np.uint32).reshape(block.size, width)
    return np.where(cp < 128, cp, 0).astype(np.uint32, copy=False)


def uscc_analyse(
    values: np.ndarray, lengths: npt.NDArray[np.int64] | None = None
) -> tuple[BoolArray, BoolArray, BoolArray, BoolArray]:
    """All GB 32100 checks of each value in one pass over the code points.

    Returns (format ok, check digit ok, registration ok, embedded org code ok); the last three are
    only True where the format is ok. See :func:`uscc_check`, :func:`uscc_registration_ok`,
    :func:`uscc_embedded_org_ok`.
    """
    values = as_object_array(values)
    if lengths is None:
        values = normalise_values(values)
        lengths = str_lengths(values)
    n = len(values)
    fmt, chk, reg, org = (np.zeros(n, dtype=bool) for _ in range(4))
    rows, cp = _codepoints(values, lengths, 18)
    if rows.size:
        v = _USCC_VALUE[cp]
        ok = (v >= 0).all(axis=1) & (v[:, 2:8] <= 9).all(axis=1)
        expected = (31 - (v[:, :17].astype(np.int32) * _USCC_W32).sum(axis=1) % 31) % 31
        fmt[rows] = ok
        chk[rows] = ok & (expected == v[:, 17])
        reg[rows] = ok & _USCC_REGISTRATION[cp[:, 0], cp[:, 1]]
        org[rows] = ok & _org_block(cp[:, 8:17])[1]
    return fmt, chk, reg, org


def uscc_check(values: np.ndarray, lengths: npt.NDArray[np.int64] | None = None) -> tuple[BoolArray, BoolArray]:
    """GB 32100 统一社会信用代码: (format ok, format ok and check digit ok) per value (§3.2, §4.1).

    Format: 18 characters; positions 1–2 and 9–18 from the 31-character alphabet, positions 3–8
    digits (the GB/T 2260 区划码), upper case only.
    """
    fmt, chk, _, _ = uscc_analyse(values, lengths)
    return fmt, chk


def _registration_table() -> npt.NDArray[np.bool_]:
    """(position 1, position 2) code points → listed in GB 32100 (§3.2).

    Position 1 must be one of 1–9, A, N, Y. Position 2 is checked only for the departments whose
    categories the spec lists (1, 3, 5, 9, N, Y); the others accept any character of the alphabet.
    """
    table = np.zeros((128, 128), dtype=bool)
    listed = {"1": "1239", "3": "123459", "5": "1239", "9": "123", "N": "1239", "Y": "1"}
    for dept in "123456789ANY":
        for cat in listed.get(dept, USCC_ALPHABET):
            table[ord(dept), ord(cat)] = True
    return table


_USCC_REGISTRATION = _registration_table()


def uscc_registration_ok(values: np.ndarray) -> BoolArray:
    """Well-formed USCCs whose positions 1–2 (登记管理部门, 机构类别) are a listed combination.

    False for malformed values: callers combine it with the format flag.
    """
    return uscc_analyse(values)[2]


def uscc_embedded_org_ok(values: np.ndarray) -> BoolArray:
    """Well-formed USCCs whose positions 9–17 pass the GB 11714 check (§4.3 last paragraph)."""
    return uscc_analyse(values)[3]


def org_code_check(values: np.ndarray, lengths: npt.NDArray[np.int64] | None = None) -> tuple[BoolArray, BoolArray]:
    """GB 11714 组织机构代码: (format ok, format ok and check digit ok) per value (§3.2, §4.3).

    Format ``^[0-9A-Z]{8}[0-9X]$``; check c9 = 11 − (Σ c_i·W_i mod 11), 10 → ``X``, 11 → ``0``.
    """
    values = as_object_array(values)
    if lengths is None:
        values = normalise_values(values)
        lengths = str_lengths(values)
    fmt = np.zeros(len(values), dtype=bool)
    chk = np.zeros(len(values), dtype=bool)
    rows, cp = _codepoints(values, lengths, 9)
    if rows.size:
        fmt[rows], chk[rows] = _org_block(cp)
    return fmt, chk


def _org_block(cp: npt.NDArray[np.uint32]) -> tuple[BoolArray, BoolArray]:
    body = _ORG_VALUE[cp[:, :8]]
    last = cp[:, 8]
    last_ok = ((last >= 48) & (last <= 57)) | (last == 88)
    ok = (body >= 0).all(axis=1) & last_ok
    c = 11 - (body.astype(np.int32) * _ORG_W32).sum(axis=1) % 11
    # 10 is written X (code point 88), 11 is written 0.
    expected_cp = np.where(c == 10, 88, np.where(c == 11, 48, 48 + c))
    return ok, ok & (expected_cp == last)


def _days_in_month(year: npt.NDArray[np.int64], month: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    base = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    return base[np.clip(month, 0, 12)] + ((month == 2) & leap)


def resident_id_check(
    values: np.ndarray, today: dt.date, lengths: npt.NDArray[np.int64] | None = None
) -> tuple[BoolArray, BoolArray]:
    """GB 11643 公民身份号码: (format ok, format ok and check digit ok) per value (§3.2, §4.2).

    Format ``^[1-9]\\d{5}(18|19|20)\\d{2}(0[1-9]|1[0-2])\\d{2}\\d{3}[0-9X]$`` and positions 7–14 a real
    date no later than ``today``. The region code is not checked against the birth year on purpose:
    the national rule does not ask for it (python-stdnum's ``cn.ric`` does; see docs/rules.md).
    """
    values = as_object_array(values)
    if lengths is None:
        values = normalise_values(values)
        lengths = str_lengths(values)
    fmt = np.zeros(len(values), dtype=bool)
    chk = np.zeros(len(values), dtype=bool)
    rows, cp = _codepoints(values, lengths, 18)
    if rows.size:
        d = _DIGIT_VALUE[cp].astype(np.int32)
        digits_ok = (d[:, :17] >= 0).all(axis=1) & ((d[:, 17] >= 0) | (cp[:, 17] == 88)) & (d[:, 0] >= 1)
        dd = np.where(d < 0, 0, d)
        year = dd[:, 6] * 1000 + dd[:, 7] * 100 + dd[:, 8] * 10 + dd[:, 9]
        month = dd[:, 10] * 10 + dd[:, 11]
        day = dd[:, 12] * 10 + dd[:, 13]
        date_ok = (
            (year >= 1800)
            & (year <= 2099)
            & (month >= 1)
            & (month <= 12)
            & (day >= 1)
            & (day <= _days_in_month(year, month))
            & (year * 10000 + month * 100 + day <= today.year * 10000 + today.month * 100 + today.day)
        )
        ok = digits_ok & date_ok
        r = (dd[:, :17] * _RIC_W32).sum(axis=1) % 11
        expected = (12 - r) % 11  # 10 means X
        actual = np.where(cp[:, 17] == 88, 10, dd[:, 17])
        fmt[rows] = ok
        chk[rows] = ok & (expected == actual)
    return fmt, chk


# Scalar reference implementations, written straight from the spec's verification snippet (§4). They
# are used by the tests to cross-check the vectorised versions, never by the engine.
def uscc_check_char(body17: str) -> str:
    """Expected 18th character of a USCC whose first 17 characters are ``body17``."""
    s = sum(USCC_ALPHABET.index(c) * int(w) for c, w in zip(body17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - s % 31) % 31]


def resident_id_check_char(body17: str) -> str:
    """Expected 18th character of a 身份证 number whose first 17 digits are ``body17``."""
    return "10X98765432"[sum(int(c) * int(w) for c, w in zip(body17, RIC_WEIGHTS, strict=True)) % 11]


def org_code_check_char(body8: str) -> str:
    """Expected 9th character of a 组织机构代码 whose first 8 characters are ``body8``."""
    value = lambda c: int(c) if c.isdigit() else ord(c) - 55  # noqa: E731
    r = 11 - sum(value(c) * int(w) for c, w in zip(body8, ORG_WEIGHTS, strict=True)) % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)
