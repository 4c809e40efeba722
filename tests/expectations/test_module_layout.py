"""The module layout of ``expectations``: no import cycle, GX statements only for real kinds, no GX at import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import expectations
from expectations.kinds import GX_STATEMENTS, RULE_KINDS

PACKAGE = Path(expectations.__file__).resolve().parent


def _imports() -> dict[str, set[str]]:
    """Module → the package modules it imports (anywhere in its body, late imports included)."""
    mods: dict[str, Path] = {}
    for f in PACKAGE.rglob("*.py"):
        parts = ("expectations", *f.relative_to(PACKAGE).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in mods]
                targets = subs if len(subs) == len(node.names) else [node.module, *subs]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            # A submodule importing its own parent package is how Python loads it, not a cycle.
            edges[m] |= {t for t in targets if t in mods and t != m and not m.startswith(t + ".")}
    return edges


def test_no_import_cycle_inside_expectations() -> None:
    edges = _imports()
    assert "expectations.kinds.registry" in edges["expectations.kinds.text"]  # the walk sees the imports

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            m = todo.pop()
            for n in edges[m]:
                if n == goal:
                    return True
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return False

    cycles = sorted((a, b) for a in edges for b in edges[a] if reaches(b, a))
    assert cycles == []


def test_gx_statements_belong_to_registered_kinds() -> None:
    assert set(GX_STATEMENTS) <= set(RULE_KINDS)
    assert {"required", "max_length", "uscc", "resident_id"} <= set(GX_STATEMENTS)


def test_validating_does_not_import_great_expectations() -> None:
    code = (
        "import sys, pandas as pd, expectations, expectations.engine;"
        "expectations.validate(pd.DataFrame({'CF_WSH': ['x']}, dtype=object), 'cf');"
        "print('great_expectations' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
