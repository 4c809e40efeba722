"""处罚类别 values split into the canonical categories of the national vocabulary (spec §2 enumerations).

The vocabulary (atomic categories, aliases of the 2019 compound values, the ``其他-`` prefix and the
separators) comes from the ``penalty_categories`` block of the catalogue; :class:`~expectations.frame.Frame`
parses each distinct value once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CategoryParse:
    """One 处罚类别 value split into canonical categories (spec §2 enumerations)."""

    categories: frozenset[str]
    unknown: tuple[str, ...]
    bare_other: bool


def parse_penalty_categories(value: str, cfg: Mapping[str, Any]) -> CategoryParse:
    """Split a 处罚类别 value into categories.

    Parts are separated by ``;``/``；``; inside a part ``、`` separates categories too, but the 2019
    compound values contain ``、`` themselves, so known compounds (aliases) are matched first, longest
    first. A ``其他-…`` token runs to the end of its part, because its free text may contain ``、``.
    """
    atomic: set[str] = set(cfg.get("atomic", ()))
    aliases: Mapping[str, Sequence[str]] = cfg.get("aliases", {})
    other_prefix: str = cfg.get("other_prefix", "其他-")
    other_bare: str = other_prefix.rstrip("-")
    part_seps: str = cfg.get("part_separators", ";；")
    inner_sep: str = cfg.get("inner_separator", "、")
    compounds = sorted((a for a in aliases if inner_sep in a), key=len, reverse=True)
    cats: set[str] = set()
    unknown: list[str] = []
    bare = False
    for part in re.split(f"[{re.escape(part_seps)}]", value):
        part = part.strip()
        if not part:
            continue
        head, tail = part, ""
        k = part.find(other_prefix)
        if k >= 0:
            head, tail = part[:k], part[k:]
        for comp in compounds:
            if comp in head:
                cats.update(aliases[comp])
                head = head.replace(comp, inner_sep)
        for tok in head.split(inner_sep):
            tok = tok.strip()
            if not tok:
                continue
            if tok in atomic:
                cats.add(tok)
            elif tok in aliases:
                cats.update(aliases[tok])
            elif tok == other_bare:
                bare = True
                cats.add(other_bare)
            else:
                unknown.append(tok)
        if tail:
            cats.add(other_bare)
            if not tail[len(other_prefix) :].strip(" -、"):
                bare = True
    return CategoryParse(frozenset(cats), tuple(unknown), bare)
