"""Read-side queries on quarantine (问题数据) for feedback to departments."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.schema import quarantine


def open_quarantine(engine: Engine, department: str, dataset: str | None = None) -> Iterator[dict[str, Any]]:
    """The department's open quarantined rows, oldest first, with issues and values decoded."""
    stmt = (
        sa.select(quarantine)
        .where(quarantine.c.department == department, quarantine.c.status == "open")
        .order_by(quarantine.c.dataset, quarantine.c.first_seen_at, quarantine.c.id)
    )
    if dataset:
        stmt = stmt.where(quarantine.c.dataset == dataset)
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=1000).execute(stmt).mappings():
            d = dict(row)
            d["issues"] = json.loads(d["issues"])
            d["national"] = json.loads(d["national"])
            d["raw"] = json.loads(d["raw"])
            yield d


def quarantine_counts(engine: Engine) -> list[dict[str, Any]]:
    """Open quarantined rows per department, dataset and rule (a row with two rules counts for both)."""
    per_rule: Counter[tuple[str, str, str]] = Counter()
    rows: Counter[tuple[str, str]] = Counter()
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=5000).execute(
            sa.select(quarantine.c.department, quarantine.c.dataset, quarantine.c.rule_ids).where(
                quarantine.c.status == "open"
            )
        )
        for dept, ds, rule_ids in result:
            rows[(dept, ds)] += 1
            for rule in (rule_ids or "").split(","):
                if rule:
                    per_rule[(dept, ds, rule)] += 1
    return [
        {"department": d, "dataset": ds, "rule": r, "rows": n, "open_rows": rows[(d, ds)]}
        for (d, ds, r), n in sorted(per_rule.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[1], kv[0][2]))
    ]
