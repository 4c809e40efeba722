"""Loading the declarative rule catalogue (``catalogue/<dataset>.yaml``) into :class:`Rule` objects.

A catalogue file lists the dataset's rules; ``include`` pulls in shared files (the party columns 1–13
live in ``party.yaml`` and are written with ``{P}`` for the dataset prefix). Parameters written
``$name`` are taken from :class:`~expectations.settings.RuleSettings`, and per-rule overrides from
the settings are applied last. Messages may use ``{name}`` (the field's Chinese name) and
``{param}`` placeholders, filled in at load time so that a message never carries a row's value
(design.md invariant 5: no personal data in messages).
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

import yaml

from expectations.kinds import RULE_KINDS
from expectations.rules import FIXED_SOURCES, Catalogue, Rule, SourceTag
from expectations.settings import RuleSettings
from national import dataset as national_dataset

__all__ = [
    "CATALOGUE_DIR",
    "FIXED_SOURCES",
    "Catalogue",
    "CatalogueError",
    "Rule",
    "SourceTag",
    "default_settings",
    "load_catalogue",
]

CATALOGUE_DIR = Path(__file__).with_name("catalogue")


class CatalogueError(ValueError):
    """The catalogue file or the settings applied to it are inconsistent (terminal: fix the file)."""


def _read_yaml(name: str, prefix: str) -> dict[str, Any]:
    text = (CATALOGUE_DIR / name).read_text(encoding="utf-8").replace("{P}", prefix)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise CatalogueError(f"{name}: expected a mapping at the top level")
    return data


def _resolve(value: Any, settings: RuleSettings, where: str) -> Any:
    """Replace ``$name`` strings (recursively) by the settings field of that name."""
    if isinstance(value, str) and value.startswith("$"):
        key = value[1:]
        if key not in RuleSettings.model_fields:
            known = ", ".join(sorted(k for k in RuleSettings.model_fields if k != "rules"))
            raise CatalogueError(f"{where}: unknown setting {value!r}; known settings: {known}")
        return getattr(settings, key)
    if isinstance(value, list):
        return [_resolve(v, settings, where) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, settings, where) for k, v in value.items()}
    return value


_VALUE_LISTS = ("values", "skip", "prefixes", "in", "not_in")


def _check_value_lists(rid: str, node: Any) -> None:
    """Code lists must hold strings: unquoted YAML turns ``000000000000000000`` into the integer 0."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _VALUE_LISTS and isinstance(value, list):
                bad = [v for v in value if not isinstance(v, str)]
                if bad:
                    raise CatalogueError(f"rule {rid}: {key} must list strings (quote them in YAML): {bad}")
            if key == "equals" and not isinstance(value, str):
                raise CatalogueError(f"rule {rid}: equals must be a string (quote it in YAML): {value!r}")
            _check_value_lists(rid, value)
    elif isinstance(node, list):
        for v in node:
            _check_value_lists(rid, v)


def _raw_rules(dataset_name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    ds = national_dataset(dataset_name)
    prefix = ds.columns[0].split("_", 1)[0]
    top = _read_yaml(f"{dataset_name}.yaml", prefix)
    rules: list[dict[str, Any]] = []
    for inc in top.get("include", []):
        rules.extend(_read_yaml(inc, prefix).get("rules", []))
    rules.extend(top.get("rules", []))
    return rules, top


@functools.lru_cache(maxsize=32)
def _load_cached(dataset_name: str, settings_json: str) -> Catalogue:
    settings = RuleSettings.model_validate_json(settings_json)
    ds = national_dataset(dataset_name)
    raw_rules, top = _raw_rules(dataset_name)
    columns = set(ds.columns)
    seen: set[str] = set()
    rules: list[Rule] = []
    for raw in raw_rules:
        rid = raw.get("id", "?")
        for key in ("id", "field", "kind", "severity", "message", "source"):
            if key not in raw:
                raise CatalogueError(f"rule {rid}: missing key {key!r}")
        extra = set(raw) - {"id", "field", "kind", "severity", "message", "source", "params", "doc", "enabled"}
        if extra:
            raise CatalogueError(f"rule {rid}: unknown keys {sorted(extra)}")
        if rid in seen:
            raise CatalogueError(f"rule id {rid} appears twice in the {dataset_name} catalogue")
        seen.add(rid)
        if raw["field"] not in columns:
            raise CatalogueError(f"rule {rid}: {raw['field']} is not a column of dataset {dataset_name}")
        if raw["source"] not in ("C", "C-impl", "M", "D", "U"):
            raise CatalogueError(f"rule {rid}: source must be one of C, C-impl, M, D, U")
        params = _resolve(dict(raw.get("params") or {}), settings, f"rule {rid}")
        _check_value_lists(rid, params)
        severity = raw["severity"]
        enabled = bool(raw.get("enabled", True))
        override = settings.rules.get(rid)
        if override is not None:
            if raw["source"] in FIXED_SOURCES:
                raise CatalogueError(
                    f"settings: rule {rid} is a confirmed national rule (source C) and cannot be changed"
                )
            if override.enabled is not None:
                enabled = override.enabled
            if override.severity is not None:
                severity = override.severity
            unknown = set(override.params) - set(params)
            if unknown:
                raise CatalogueError(
                    f"settings: rule {rid} has no parameter {sorted(unknown)}; its parameters: {sorted(params)}"
                )
            params.update(override.params)
        field_def = ds.field(raw["field"])
        fmt = {k: v for k, v in params.items() if isinstance(v, (str, int, float, dt.date))}
        try:
            message = raw["message"].format(name=field_def.name_zh, **fmt)
        except (KeyError, IndexError) as exc:
            raise CatalogueError(f"rule {rid}: message placeholder {exc} has no value") from None
        rules.append(
            Rule(
                id=rid,
                field=raw["field"],
                severity=severity,
                message=message,
                kind=raw["kind"],
                params=params,
                source=raw["source"],
                doc=raw.get("doc", ""),
                enabled=enabled,
            )
        )
    unknown_ids = set(settings.rules) - seen
    if unknown_ids:
        # The same settings file serves both datasets, so an id of the other dataset is fine.
        other = "xk" if dataset_name == "cf" else "cf"
        other_ids = {r["id"] for r in _raw_rules(other)[0]}
        truly_unknown = sorted(unknown_ids - other_ids)
        if truly_unknown:
            raise CatalogueError(f"settings: unknown rule ids {truly_unknown}")
    cats = _resolve(dict(top.get("penalty_categories") or {}), settings, "penalty_categories")
    if cats:
        aliases = {k: list(v) for k, v in cats.get("aliases", {}).items()}
        aliases.update(settings.extra_penalty_category_aliases)
        cats["aliases"] = aliases
    return Catalogue(dataset=dataset_name, rules=tuple(rules), penalty_categories=cats)


def load_catalogue(dataset_name: str, settings: RuleSettings | None = None) -> Catalogue:
    """The full catalogue of ``dataset_name`` (``cf`` or ``xk``) with ``settings`` applied.

    Loading is cached per (dataset, settings) so that validating many batches parses YAML once.
    """
    national_dataset(dataset_name)  # raises with the list of known datasets
    settings = settings if settings is not None else default_settings()
    cat = _load_cached(dataset_name, settings.model_dump_json())
    for r in cat.rules:
        if r.kind not in RULE_KINDS:
            raise CatalogueError(f"rule {r.id}: unknown kind {r.kind!r}; known kinds: {', '.join(sorted(RULE_KINDS))}")
    return cat


@functools.lru_cache(maxsize=1)
def default_settings() -> RuleSettings:
    """The packaged ``settings.yaml`` (cached)."""
    from expectations.settings import load_rule_settings

    return load_rule_settings(None)
