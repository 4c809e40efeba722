"""Presence kinds: a field that must be filled (``required``) or left empty (``empty``), maybe under a condition."""

from __future__ import annotations

from typing import Any

from expectations.conditions import condition
from expectations.frame import BoolArray, Frame
from expectations.kinds.registry import GxContext, gx_statement, kind
from expectations.rules import Rule


@kind("required")
def _required(frame: Frame, rule: Rule) -> BoolArray:
    return frame.missing(rule.field) & condition(frame, rule.params.get("when"))


@kind("empty")
def _empty(frame: Frame, rule: Rule) -> BoolArray:
    return frame.filled(rule.field) & condition(frame, rule.params.get("when"))


@gx_statement("required")
def _required_gx(rule: Rule, gx: GxContext) -> Any:
    return gx.expectations.ExpectColumnValuesToNotBeNull(column=rule.field, **gx.common)


@gx_statement("empty")
def _empty_gx(rule: Rule, gx: GxContext) -> Any:
    return gx.expectations.ExpectColumnValuesToBeNull(column=rule.field, **gx.common)
