"""A finding about one row: the one shape every stage reports problems in (rule catalogue, typing, store limits).

``expectations`` returns these for the national rules; ``transforms.typing`` for values that cannot be loaded
(``LOAD-TYPE``, ``LOAD-TEXT``, ``LOAD-KEY``); ``store.quarantine`` turns them into the JSON the 问题数据
table holds (:meth:`Issue.as_dict`). ``message`` is for the department clerk and never contains the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Issue:
    """One rule a row failed. ``message`` is for the department clerk and never contains the value."""

    rule: str
    field: str
    message: str
    severity: Literal["error", "warning"]

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "field": self.field, "message": self.message, "severity": self.severity}


def issue_dict(x: Issue | dict[str, Any]) -> dict[str, str]:
    """An issue as the quarantine's JSON holds it (``{rule, field, message, severity}``); a dict passes as it is
    (batches built by hand, the province's rejections)."""
    return x.as_dict() if isinstance(x, Issue) else x
