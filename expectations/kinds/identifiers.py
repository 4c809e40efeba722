"""Identifier kinds: 统一社会信用代码 (format, check digit, registration code, embedded 组织机构代码,
prefixes), 组织机构代码 and 居民身份证号码 (also under a ``其他-…`` document type) (GB 32100, GB 11714, GB 11643; spec §3–§4)."""

from __future__ import annotations

import operator
import re
from itertools import repeat
from typing import Any

import numpy as np

from expectations.conditions import condition
from expectations.frame import BoolArray, Frame
from expectations.kinds.registry import GxContext, gx_statement, kind, skipped
from expectations.rules import Rule

#: The formats as GX regexes (\A…\Z: GX's pandas regex check is str.contains).
USCC_REGEX = r"\A[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}\Z"
ORG_CODE_REGEX = r"\A[0-9A-Z]{8}[0-9X]\Z"


@kind("uscc")
def _uscc(frame: Frame, rule: Rule) -> BoolArray:
    col = rule.field
    fmt, chk = frame.uscc(col)
    filled = frame.filled(col)
    check = rule.params.get("check", "format")
    if check == "format":
        out = filled & ~fmt
    elif check == "check_digit":
        out = fmt & ~chk
    elif check == "registration":
        out = fmt & ~frame.uscc_extra(col)[0]
    elif check == "embedded_org":
        out = fmt & ~frame.uscc_extra(col)[1]
    else:
        raise ValueError(f"rule {rule.id}: unknown USCC check {check!r}")
    return out & ~skipped(frame, rule) & condition(frame, rule.params.get("when"))


@kind("prefix")
def _prefix(frame: Frame, rule: Rule) -> BoolArray:
    """Well-formed USCCs that (mode ``forbidden``) start or (mode ``required``) do not start with a prefix."""
    col = rule.field
    prefixes = tuple(rule.params["prefixes"])
    starts = frame.value_map(
        col, ("prefix", prefixes), lambda a: np.fromiter(map(str.startswith, a, repeat(prefixes)), bool, count=len(a))
    )
    fmt = frame.uscc(col)[0]
    hit = starts if rule.params.get("mode", "forbidden") == "forbidden" else ~starts
    return fmt & hit & ~skipped(frame, rule) & condition(frame, rule.params.get("when"))


@kind("org_code")
def _org_code(frame: Frame, rule: Rule) -> BoolArray:
    fmt, chk = frame.org_code(rule.field)
    if rule.params.get("check", "format") == "format":
        out = frame.filled(rule.field) & ~fmt
    else:
        out = fmt & ~chk
    return out & ~skipped(frame, rule)


@kind("uscc_body_match")
def _uscc_body_match(frame: Frame, rule: Rule) -> BoolArray:
    """组织机构代码 must equal positions 9–17 of the party's well-formed USCC (spec §3.1)."""
    org_col, uscc_col = rule.field, rule.params["uscc_field"]
    fmt = frame.uscc(uscc_col)[0] & frame.filled(org_col)
    skip = rule.params.get("skip") or []
    if skip:
        fmt &= ~frame.isin(uscc_col, skip)
    out = np.zeros(frame.n, dtype=bool)
    idx = np.flatnonzero(fmt)
    if idx.size:
        body = np.array([s[8:17] for s in frame.values(uscc_col)[idx].tolist()], dtype=object)
        out[idx] = body != frame.values(org_col)[idx]
    return out


@kind("resident_id")
def _resident_id(frame: Frame, rule: Rule) -> BoolArray:
    when = frame.isin(rule.params["type_field"], [rule.params.get("type_value", "身份证")])
    fmt, chk = frame.resident_id(rule.field)
    if rule.params.get("check", "format") == "format":
        return when & frame.filled(rule.field) & ~fmt
    return when & fmt & ~chk


#: The shape of a 居民身份证号码: 15 digits (the legacy form) or 17 digits and a digit or X (spec §3.2).
_RESIDENT_ID_SHAPE = re.compile(r"[0-9]{15}|[0-9]{17}[0-9X]")


@kind("resident_id_like")
def _resident_id_like(frame: Frame, rule: Rule) -> BoolArray:
    """Under a document type starting with ``type_prefix`` (``其他-…``), a number shaped like a 身份证 that is not
    a valid 18-digit one (format, birth date, check digit): the 15-digit legacy form always fails (spec §3.2)."""
    prefix = str(rule.params.get("type_prefix", "其他-"))
    other = frame.value_map(
        rule.params["type_field"],
        ("startswith", prefix),
        lambda a: np.fromiter(map(operator.methodcaller("startswith", prefix), a), bool, count=len(a)),
    )
    shaped = frame.value_map(
        rule.field, "ric_shape", lambda a: np.fromiter(map(bool, map(_RESIDENT_ID_SHAPE.fullmatch, a)), bool, count=len(a))
    )
    fmt, chk = frame.resident_id(rule.field)
    return other & shaped & ~(fmt & chk)


@gx_statement("uscc")
def _uscc_gx(rule: Rule, gx: GxContext) -> Any:
    check = rule.params.get("check")
    if check == "format":
        return gx.expectations.ExpectColumnValuesToMatchRegex(column=rule.field, regex=USCC_REGEX, **gx.common)
    if check == "check_digit":
        return gx.custom.ExpectColumnValuesToHaveValidUsccCheckDigit(
            column=rule.field, skip=list(rule.params.get("skip") or []), **gx.common
        )
    return None  # registration code, embedded 组织机构代码: engine-backed


@gx_statement("org_code")
def _org_code_gx(rule: Rule, gx: GxContext) -> Any:
    if rule.params.get("check") == "format":
        return gx.expectations.ExpectColumnValuesToMatchRegex(column=rule.field, regex=ORG_CODE_REGEX, **gx.common)
    return gx.custom.ExpectColumnValuesToHaveValidOrgCodeCheckDigit(
        column=rule.field, skip=list(rule.params.get("skip") or []), **gx.common
    )


@gx_statement("resident_id", own_row_condition=True)
def _resident_id_gx(rule: Rule, gx: GxContext) -> Any:
    p = rule.params
    common = dict(gx.common, row_condition=gx.column(p["type_field"]) == p.get("type_value", "身份证"))
    return gx.custom.ExpectColumnValuesToBeValidResidentId(
        column=rule.field, check=p.get("check", "format"), today=gx.today, **common
    )
