"""The stand-in's own acceptance rules: a province checks a few things of its own (PROV-1xx).

They are deliberately few and different from ours, so that a record we accept can still come back
rejected, which is what the receipt path has to handle.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from upstream.envelope import DECISION_NUMBER, SOURCE_UNIT

DEFAULT_BLACKLIST = r"(测试|TEST|作废)"
DECISION_DATE = {"cf": "CF_JDRQ", "xk": "XK_JDRQ"}

#: code → (default field, message template)
RULES = {
    "PROV-101": "缺少数据来源单位统一社会信用代码",
    "PROV-102": "决定日期 {value} 晚于省平台接收日期 {today}",
    "PROV-103": "决定文书号“{value}”含有测试或作废标记，省平台不予接收",
    "PROV-104": "省平台没有该记录的有效版本，无法更新或撤回",
    "PROV-105": "版本号 {value} 不晚于省平台已有版本 {current}，不予处理",
    "PROV-106": "记录格式不完整：{value}",
}


def check_content(rec: dict[str, Any], today: dt.date, blacklist: re.Pattern[str]) -> tuple[str, str | None, str] | None:
    """The first content rule the record breaks, as (rule code, field, message); ``None`` when it passes."""
    ds = rec["dataset"]
    data = rec.get("data") or {}
    unit_code = SOURCE_UNIT[ds][1]
    if not (rec.get("source_unit_code") or data.get(unit_code)):
        return "PROV-101", unit_code, RULES["PROV-101"]
    date_field = DECISION_DATE[ds]
    raw = (data.get(date_field) or "").replace("/", "-")
    try:
        decided = dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return "PROV-106", date_field, RULES["PROV-106"].format(value=f"{date_field} 不是日期")
    if decided is not None and decided > today:
        return "PROV-102", date_field, RULES["PROV-102"].format(value=decided.isoformat(), today=today.isoformat())
    number = data.get(DECISION_NUMBER[ds]) or ""
    if blacklist.search(number):
        return "PROV-103", DECISION_NUMBER[ds], RULES["PROV-103"].format(value=number)
    return None
