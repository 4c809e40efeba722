"""The city the platform serves and its 县区 (county-level units), with their GB/T 2260 administrative codes.

The seed is 山西省阳泉市's plan: the city (140300) and its five 县区. A department file states its level
(``level: 市直`` or ``level: 县区``) and, for a 县区 unit, the 县区's code (``region: 140321``); the reports add
the records up per 县区 and for the whole city (docs/assessment.md). A deployment for another city points
``SGS_REGIONS_FILE`` at a YAML file of the same shape::

    city: {code: "140300", name: 阳泉市}
    counties:
      "140302": 城区
      ...
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: 市直: a city department; 县区: a unit of one of the city's 县区 (县、市辖区、县级市).
LEVELS = ("市直", "县区")
CITY_LEVEL, COUNTY_LEVEL = LEVELS
_CODE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class Regions:
    """The city and its 县区: code → name."""

    city_code: str
    city_name: str
    counties: dict[str, str]

    def name(self, code: str) -> str:
        """The 县区's (or the city's) name; an unknown code stays a code."""
        if code == self.city_code:
            return self.city_name
        return self.counties.get(code, code)


#: 山西省阳泉市 (GB/T 2260): the seed's city.
YANGQUAN = Regions(
    "140300", "阳泉市",
    {"140302": "城区", "140303": "矿区", "140311": "郊区", "140321": "平定县", "140322": "盂县"},
)


def _from_file(path: Path) -> Regions:
    import yaml

    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        city = raw["city"]
        counties = {str(k): str(v) for k, v in (raw.get("counties") or {}).items()}
        regions = Regions(str(city["code"]), str(city["name"]), counties)
    except (KeyError, TypeError, AttributeError):
        raise ValueError(f"区划文件 {path}：应有 city: {{code, name}} 和 counties: {{代码: 名称}}") from None
    bad = [c for c in (regions.city_code, *counties) if not _CODE.match(c)]
    if bad:
        raise ValueError(f"区划文件 {path}：{bad} 不是 6 位行政区划代码")
    return regions


@lru_cache(maxsize=4)
def _cached(path: str | None) -> Regions:
    return _from_file(Path(path)) if path else YANGQUAN


def regions() -> Regions:
    """The platform's city and 县区: ``SGS_REGIONS_FILE`` or 阳泉市."""
    return _cached(os.environ.get("SGS_REGIONS_FILE") or None)
