"""The rule model: :class:`Rule` and :class:`Catalogue`, shared by the loader, the rule kinds and GX.

A leaf module (it imports nothing of the package but the settings' severity type), so that the
catalogue loader can check rule kinds against :mod:`expectations.kinds` and the kinds can name
:class:`Rule` without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from expectations.settings import Severity

SourceTag = Literal["C", "C-impl", "M", "D", "U"]
#: Source tags whose rules cannot be changed by settings: confirmed national rules.
FIXED_SOURCES: frozenset[str] = frozenset({"C"})


@dataclass(frozen=True, eq=False)
class Rule:
    """One rule of the catalogue, after settings were applied."""

    id: str
    field: str
    severity: Severity
    message: str
    kind: str
    params: Mapping[str, Any]
    #: Confidence of the source (spec tags): C, C-impl, M, D, or U (unconfirmed).
    source: str
    #: Short English statement of the rule, for docs/rules.md.
    doc: str = ""
    enabled: bool = True

    @property
    def configurable(self) -> bool:
        """Whether settings may switch or tune this rule (everything not confirmed, spec tags)."""
        return self.source not in FIXED_SOURCES


@dataclass(frozen=True, eq=False)
class Catalogue:
    """All rules of one dataset plus the vocabularies the engine needs to evaluate them."""

    dataset: str
    rules: tuple[Rule, ...]
    penalty_categories: Mapping[str, Any] = field(default_factory=dict)

    def active(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(f"no rule {rule_id!r} in the {self.dataset} catalogue")
