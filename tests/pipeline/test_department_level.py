"""县区 (issue 17 item 10): a department file states its level (市直 / 县区) and its area's code; the defaults keep
every existing file valid (市直, the city's code); a bad level or region names the key and the choices."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_department, load_departments
from tests.pipeline.test_config import GOOD, write

ROOT = Path(__file__).resolve().parents[2]


def with_lines(extra: str) -> str:
    return GOOD.format(code="testju").replace("name: 市测试局\n", "name: 市测试局\n" + extra, 1)


def test_default_is_a_city_department(tmp_path: Path) -> None:
    d = load_department(write(tmp_path, GOOD.format(code="testju")))
    assert (d.level, d.region, d.region_name, d.timeliness_from) == ("市直", "140300", "阳泉市", None)


def test_county_unit_names_its_county(tmp_path: Path) -> None:
    d = load_department(write(tmp_path, with_lines('level: 县区\nregion: "140322"\ntimeliness_from: 2026-09-01\n')))
    assert (d.level, d.region, d.region_name) == ("县区", "140322", "盂县")
    assert d.timeliness_from == dt.date(2026, 9, 1)
    # Unquoted digits stay text (the loader reads no implicit numbers): the same code.
    assert load_department(write(tmp_path, with_lines("level: 县区\nregion: 140302\n"))).region == "140302"
    # A 市直 department may name the city's code itself.
    assert load_department(write(tmp_path, with_lines("level: 市直\nregion: 140300\n"))).region == "140300"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("level: 省直\n", "level: '省直' 不是有效的层级"),
        ("level: 县区\n", "必须填写 region"),
        ("level: 县区\nregion: 330102\n", "region: '330102' 不是阳泉市的县区代码"),
        ("level: 县区\nregion: 140300\n", "不是阳泉市的县区代码"),
        ("region: 140321\n", "市直部门的区划代码应为阳泉市的 140300"),
        ("timeliness_from: 2026-13-01\n", "timeliness_from"),
    ],
)
def test_bad_level_or_region_is_named(tmp_path: Path, extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_department(write(tmp_path, with_lines(extra)))
    assert expected in str(info.value) and "testju.yaml" in str(info.value)


def test_regions_file_for_another_city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    regions = tmp_path / "regions.yaml"
    regions.write_text('city: {code: "140100", name: 太原市}\ncounties: {"140105": 小店区}\n', encoding="utf-8")
    monkeypatch.setenv("SGS_REGIONS_FILE", str(regions))
    d = load_department(write(tmp_path, with_lines("level: 县区\nregion: 140105\n")))
    assert d.region_name == "小店区"
    assert load_department(write(tmp_path, GOOD.format(code="testju"))).region == "140100"


def test_demo_departments(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo is 阳泉市: three 市直 departments and two 县区 units (平定县's docks its database, 盂县's reports
    through the portal), each with its date of joining."""
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(ROOT / "departments"))
    depts = load_departments()
    assert {c: (d.level, d.region) for c, d in depts.items()} == {
        "jtysj": ("市直", "140300"), "scjgj": ("市直", "140300"), "sthjj": ("市直", "140300"), "wsjkw": ("县区", "140321"),
        "xq_demo": ("县区", "140322"),
    }
    assert all(d.name.startswith(("阳泉市", "平定县", "盂县")) and d.timeliness_from for d in depts.values())


def test_demo_credit_codes_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's units carry credit codes of 阳泉市's area with valid GB 32100 check characters."""
    from stdnum.cn import uscc

    from demo import DEPARTMENTS
    from demo.inbox import USCC as JTYSJ

    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(ROOT / "departments"))
    depts = load_departments()
    codes = {d.uscc for d in depts.values()} | {a.uscc for spec in DEPARTMENTS.values() for a in spec.authorities} | {JTYSJ}
    for code in codes:
        assert uscc.is_valid(code), code
        assert code[2:6] == "1403", code  # 阳泉市 and its 县区
    for code, spec in DEPARTMENTS.items():
        assert spec.uscc == depts[code].uscc and spec.name == depts[code].name
    assert depts["wsjkw"].uscc[2:8] == "140321"  # 平定县
