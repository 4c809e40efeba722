"""The rule kinds of the catalogue, by family, and their registry.

=====================  ===========================================================================
module                 kinds
=====================  ===========================================================================
``presence``           required, empty
``text``               max_length, pattern, junk, control_chars, special_chars, fullwidth_alnum,
                       formula_prefix
``code_lists``         enum, forbidden, penalty_category
``identifiers``        uscc, prefix, org_code, uscc_body_match, resident_id
``dates``              date, date_max_year, date_not_after_today, date_not_before_today, date_floor,
                       date_order, date_within_years
``amounts``            amount_format, amount_positive, amount_unexpected, amount_max, fine_in_text
``records``            duplicate
=====================  ===========================================================================

Importing this package registers every kind in :data:`RULE_KINDS` and the GX statements in
:data:`GX_STATEMENTS` (see :mod:`expectations.kinds.registry`).
"""

from __future__ import annotations

from expectations.kinds import amounts, code_lists, dates, identifiers, presence, records, text
from expectations.kinds.registry import (
    GX_STATEMENTS,
    RULE_KINDS,
    GxContext,
    GxRegistration,
    GxStatement,
    RuleKind,
    gx_statement,
    kind,
    skipped,
)

__all__ = [
    "GX_STATEMENTS",
    "RULE_KINDS",
    "GxContext",
    "GxRegistration",
    "GxStatement",
    "RuleKind",
    "amounts",
    "code_lists",
    "dates",
    "identifiers",
    "presence",
    "records",
    "text",
    "gx_statement",
    "kind",
    "skipped",
]
