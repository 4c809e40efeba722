from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_department

GOOD = """\
code: {code}
name: 市测试局
uscc: 11330100MB0000000X
source:
  url_env: SGS_TEST_SRC_URL
  url: sqlite:///tmp/x.db
datasets:
  cf:
    table: t_cf
    cursor: gxsj
    primary_key: [id]
    chunk_rows: 100
    lookback: 5m
    columns:
      CF_WSH: wsh
    constants:
      CF_SJLY: 市测试局
    codes:
      CF_XDR_LB: {{"1": 自然人}}
"""


def write(tmp_path: Path, text: str, code: str = "testju") -> Path:
    p = tmp_path / f"{code}.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_file_loads(tmp_path: Path) -> None:
    d = load_department(write(tmp_path, GOOD.format(code="testju")))
    assert d.code == "testju"
    cf = d.datasets["cf"]
    assert cf.lookback == 300 and cf.primary_key == ["id"] and cf.columns == {"CF_WSH": "wsh"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("    cursor: gxsj\n", ""), "必须填写 cursor"),
        (lambda t: t.replace("name: 市测试局", "name: 市测试局\nnmae: typo"), "nmae: 不认识的键"),
        (lambda t: t.replace("  url: sqlite:///tmp/x.db", "  url: mysql+pymysql://root:secret@h/db"), "不得写入密码"),
        (lambda t: t.replace("table: t_cf", "table: t_cf; DROP TABLE x"), "不是合法的表名或列名"),
        (lambda t: t.replace("primary_key: [id]", "primary_key: [\"id) or 1=1 --\"]"), "不是合法的表名或列名"),
        (lambda t: t.replace("CF_WSH: wsh", "CF_WHS: wsh"), "'CF_WHS' 不是国家标准字段"),
        (lambda t: t.replace("chunk_rows: 100", "chunk_rows: lots"), "datasets.cf.chunk_rows"),
        (lambda t: t.replace("lookback: 5m", "lookback: 99d"), "回看时长"),
        (lambda t: t.replace("  cf:", "  zz:"), "未知的数据集"),
        (lambda t: t.replace("uscc: 11330100MB0000000X", "uscc: 123"), "uscc"),
    ],
)
def test_bad_files_name_the_file_and_key(tmp_path: Path, change, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, change(GOOD.format(code="testju")))
    with pytest.raises(ConfigError) as exc:
        load_department(path)
    assert str(path) in str(exc.value)
    assert expected in str(exc.value)


def test_code_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="应与文件名"):
        load_department(write(tmp_path, GOOD.format(code="other"), code="testju"))


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="不是合法的 YAML"):
        load_department(write(tmp_path, "code: [unclosed"))
    with pytest.raises(ConfigError, match="顶层应是键值对"):
        load_department(write(tmp_path, "- a\n- b\n"))


def test_query_must_be_a_single_select(tmp_path: Path) -> None:
    text = GOOD.format(code="testju").replace("table: t_cf", "query: DELETE FROM t_cf")
    with pytest.raises(ConfigError, match="只能是一条 SELECT"):
        load_department(write(tmp_path, text))
    ok = GOOD.format(code="testju").replace("table: t_cf", "query: SELECT * FROM t_cf WHERE zt = '1'")
    assert load_department(write(tmp_path, ok)).datasets["cf"].query == "SELECT * FROM t_cf WHERE zt = '1'"


def test_codes_and_digit_only_values_stay_text(tmp_path: Path) -> None:
    text = (
        GOOD.format(code="testju")
        .replace('CF_XDR_LB: {"1": 自然人}', "CF_XDR_LB: {01: 自然人, 0123: 法人及非法人组织}")
        .replace("uscc: 11330100MB0000000X", "uscc: 113301000024713838")
        .replace("    chunk_rows: 100", "    chunk_rows: 100\n    special_domain: true")
    )
    d = load_department(write(tmp_path, text))
    assert d.uscc == "113301000024713838"
    assert d.datasets["cf"].codes["CF_XDR_LB"] == {"01": "自然人", "0123": "法人及非法人组织"}
    assert d.datasets["cf"].chunk_rows == 100 and d.datasets["cf"].special_domain is True


@pytest.mark.parametrize(
    "text",
    [
        "code: testju\nname: " + "[" * 5000 + "]" * 5000 + "\n",  # the parser recurses past Python's limit
        "code: testju\nname: x\ndatasets: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    ],
    ids=["nested-lists", "nested-mappings"],
)
def test_deeply_nested_yaml_is_a_config_error_not_a_crash(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="嵌套过深") as exc:
        load_department(write(tmp_path, text))
    assert "testju.yaml" in str(exc.value)
