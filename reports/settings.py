"""Settings of the assessment (考核): thresholds, time zone, look-back of the trend, feedback age.

The defaults live in ``reports/settings.yaml``; a deployment passes its own file (``SGS_REPORT_SETTINGS``).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from national.clock import SHANGHAI_NAME

DEFAULT_SETTINGS_PATH = Path(__file__).with_name("settings.yaml")


class Thresholds(BaseModel):
    """Pass marks of the indicators, as shares (0.95 = 95 %). A value below its mark is shown in red."""

    model_config = ConfigDict(extra="forbid")

    timeliness: float = Field(default=0.95, ge=0, le=1)
    completeness: float = Field(default=0.95, ge=0, le=1)
    accuracy: float = Field(default=0.95, ge=0, le=1)


class ReportSettings(BaseModel):
    """Everything about the assessment that is policy rather than code."""

    model_config = ConfigDict(extra="forbid")

    thresholds: Thresholds = Field(default_factory=Thresholds)
    #: Local time zone: an arrival counts on the local calendar day of ``first_loaded_at``.
    timezone: str = SHANGHAI_NAME
    #: Working days from the decision to the publication deadline (spec §5.1).
    deadline_workdays: int = Field(default=7, ge=1, le=60)
    #: Months shown in the trend chart, ending with the report month.
    trend_months: int = Field(default=12, ge=1, le=60)
    #: Open feedback items (问题数据) older than this many days are counted as overdue for correction.
    feedback_overdue_days: int = Field(default=7, ge=1, le=365)
    #: Decisions before this date are not assessed for timeliness (e.g. the platform's go-live date, so a
    #: department's backlog loaded at connection time does not count as late). ``null``: assess all.
    timeliness_from: dt.date | None = None
    #: Overdue records listed in the HTML report (the workbook always lists all of them).
    html_overdue_rows: int = Field(default=200, ge=0, le=100000)
    #: Override file of the working-day calendar; ``null``: ``SGS_HOLIDAYS_FILE`` or ``reports/holidays.yaml``.
    holidays_file: Path | None = None


def load_report_settings(path: str | os.PathLike[str] | None = None) -> ReportSettings:
    """Settings from ``path``, else ``SGS_REPORT_SETTINGS``, else the packaged ``settings.yaml``."""
    p = Path(path or os.environ.get("SGS_REPORT_SETTINGS") or DEFAULT_SETTINGS_PATH)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"考核设置文件 {p} 不存在") from None
    if not isinstance(raw, dict):
        raise ValueError(f"考核设置文件 {p}：顶层应是键值对")
    return ReportSettings.model_validate(raw)
