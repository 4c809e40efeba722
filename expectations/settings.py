"""Settings of the rule catalogue: switches and parameters of the rules that are not confirmed.

Rules whose source tag is ``C`` (confirmed national rule) are fixed. Every other rule ([C-impl], [M],
[D], unconfirmed) can be switched off, have its severity changed, or have its parameters changed
here, because the national text behind it was not available (spec "Confidence tags").
The defaults live in ``expectations/settings.yaml``; a deployment passes its own file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["error", "warning"]

DEFAULT_SETTINGS_PATH = Path(__file__).with_name("settings.yaml")


class RuleOverride(BaseModel):
    """Changes to one rule of the catalogue, by rule id."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    severity: Severity | None = None
    #: Merged into the rule's ``params``; only keys the rule already has are accepted.
    params: dict[str, Any] = Field(default_factory=dict)


class RuleSettings(BaseModel):
    """Parameters shared by several rules, plus per-rule overrides.

    Values referenced from the catalogue as ``$name`` (e.g. ``floor: $decision_date_floor``) come
    from the fields of this model.
    """

    model_config = ConfigDict(extra="forbid")

    #: Per-rule switches; keys are rule ids (``CF-AMT-003``). Only non-[C] rules may appear.
    rules: dict[str, RuleOverride] = Field(default_factory=dict)
    #: Decision dates before this get a warning (spec §3.5 [D]).
    decision_date_floor: dt.date = dt.date(2000, 1, 1)
    #: CF_GSJZQ may lie at most this many years after CF_JDRQ (spec §3.5, §5.2, 2023 rules).
    publicity_max_years: int = Field(default=3, ge=1, le=100)
    #: Characters rejected in party names and the legal representative (spec §3.4, unconfirmed set).
    name_special_chars: str = "<>\"'%;\\"
    #: Also reject emoji in those names.
    name_reject_emoji: bool = True
    #: Junk values rejected in required text fields after trimming (spec §3.3 [D]).
    junk_values: list[str] = Field(
        default_factory=lambda: [
            "无",
            "空",
            "暂无",
            "不详",
            "null",
            "NULL",
            "N/A",
            "/",
            "\\",
            "-",
            "--",
            "——",
            "*",
            "0",
            ".",
        ]
    )
    #: Amounts (万元) at or above this get the "entered in 元?" warning (spec §3.6 [D]).
    large_amount_wan: float = Field(default=100000, gt=0)
    #: Tolerance in 元 when CF_NR_FK × 10000 is compared with the fine written in CF_NR.
    fine_text_tolerance_yuan: float = Field(default=1.0, ge=0)
    #: Extra 处罚类别 spellings accepted as aliases: alias → canonical categories.
    extra_penalty_category_aliases: dict[str, list[str]] = Field(default_factory=dict)


def load_rule_settings(path: str | Path | None = None) -> RuleSettings:
    """Load rule settings from a YAML file; ``None`` loads the packaged ``settings.yaml``.

    An empty file gives the defaults. Unknown keys are rejected with pydantic's message, which names
    the key.
    """
    p = Path(path) if path is not None else DEFAULT_SETTINGS_PATH
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"rule settings file {p} does not exist") from None
    if not isinstance(raw, dict):
        raise ValueError(f"rule settings file {p}: expected a mapping at the top level")
    return RuleSettings.model_validate(raw)
