"""Issue 17: per-department rule switches (COM-USCC-005 an error, a warning for a department that says so), and the
rules' changes as the pipeline's one path (``check_rows``) applies them: 文书名称 without its 文书号, one finding for
an unreadable decision date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from national import dataset
from pipeline.config import ConfigError, DatasetConfig, load_department
from pipeline.prepare import check_rows
from tests.pipeline.test_config import GOOD, write

ORG_USCC = "91350100M000100Y43"
IND_USCC = "92350100M000100Y40"
AUTH_USCC = "11230500001755309F"

CF_ROW: dict[str, Any] = {
    "CF_XDR_MC": "阳泉市某某便利店", "CF_XDR_LB": "个体工商户", "CF_XDR_SHXYM": IND_USCC, "CF_FRDB": "李四",
    "CF_WSH": "阳市监罚〔2024〕12号", "CF_WFXW": "违反《食品安全法》第三十四条", "CF_SY": "销售过期食品。",
    "CF_YJ": "《食品安全法》第一百二十四条", "CF_CFLB": "警告", "CF_NR": "警告。", "CF_JDRQ": "2024-03-15",
    "CF_YXQ": "2025-03-15", "CF_CFJG": "阳泉市市场监督管理局", "CF_CFJGDM": AUTH_USCC, "CF_SJLY": "阳泉市市场监督管理局",
    "CF_SJLYDM": AUTH_USCC,
}
XK_ROW: dict[str, Any] = {
    "XK_XDR_MC": "张三", "XK_XDR_LB": "自然人", "XK_XDR_ZJLX": "身份证", "XK_XDR_ZJHM": "440524188001010014",
    "XK_XKWS": "关于某公司发行企业债券核准的批复(发改财金〔2015〕123号)", "XK_WSH": "发改财金〔2015〕123号", "XK_XKLB": "普通",
    "XK_NR": "准予许可。", "XK_JDRQ": "2024-03-15", "XK_YXQZ": "2024-03-15", "XK_YXQZI": "2029-03-14",
    "XK_XKJG": "阳泉市发展和改革委员会", "XK_XKJGDM": AUTH_USCC, "XK_ZT": "1", "XK_LYDW": "阳泉市发展和改革委员会",
    "XK_LYDWDM": AUTH_USCC,
}


def _config(ds: str, **extra: Any) -> DatasetConfig:
    return DatasetConfig.model_validate(
        {"table": "t", "cursor": "c", "primary_key": ["id"], "columns": {c: c for c in dataset(ds).columns}, **extra}
    )


def _frame(ds: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{c: r.get(c) for c in dataset(ds).columns} for r in rows], dtype=object)


def _rules(checked: Any, i: int) -> tuple[list[str], list[str]]:
    v = checked.verdicts
    return [x.rule for x in v.errors(i)], [x.rule for x in v.warnings(i)]


def test_individual_business_without_92_is_an_error_unless_the_department_lowers_it() -> None:
    rows = _frame("cf", [CF_ROW, {**CF_ROW, "CF_XDR_SHXYM": ORG_USCC, "CF_WSH": "阳市监罚〔2024〕13号"}])
    default = check_rows(rows, _config("cf"), "cf", department="d")
    assert _rules(default, 0) == ([], [])
    assert _rules(default, 1)[0] == ["COM-USCC-005"]
    lowered = check_rows(rows, _config("cf", rules={"COM-USCC-005": {"severity": "warning"}}), "cf", department="d")
    assert _rules(lowered, 1) == ([], ["COM-USCC-005"])
    assert bool(default.verdicts.has_error[1]) and not bool(lowered.verdicts.has_error[1])


def test_department_file_rules_reach_each_dataset_and_a_dataset_s_own_win(tmp_path: Path) -> None:
    text = GOOD.format(code="testju") + "    rules:\n      COM-USCC-006: {enabled: false}\n"
    text += "rules:\n  COM-USCC-005: {severity: warning}\n  COM-USCC-006: {severity: error}\n  XK-WS-001: {enabled: false}\n"
    d = load_department(write(tmp_path, text))
    cf = d.datasets["cf"]
    assert set(cf.rules) == {"COM-USCC-005", "COM-USCC-006"}  # XK- rules stay out of the cf dataset
    assert cf.rules["COM-USCC-005"].severity == "warning"
    assert cf.rules["COM-USCC-006"].enabled is False and cf.rules["COM-USCC-006"].severity is None  # the dataset's own
    settings = cf.rule_settings()
    assert settings is not None and settings.rules["COM-USCC-005"].severity == "warning"
    assert _config("cf").rule_settings() is None


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ("  COM-FW-001: {severity: warning}\n", "COM-FW-001"),  # a confirmed [C] rule
        ("  COM-USCC-099: {severity: warning}\n", "COM-USCC-099"),  # no such rule
        ("  XX-1: {severity: warning}\n", "未知的规则编号"),
        ("  COM-USCC-005: {params: {prefix: \"93\"}}\n", "no parameter"),
        ("  COM-USCC-005: {severity: fatal}\n", "severity"),
    ],
)
def test_department_rules_that_cannot_apply_are_refused(tmp_path: Path, rules: str, expected: str) -> None:
    path = write(tmp_path, GOOD.format(code="testju") + "rules:\n" + rules)
    with pytest.raises(ConfigError) as exc:
        load_department(path)
    assert str(path) in str(exc.value) and expected in str(exc.value)


def test_title_is_stored_without_the_bracket_that_repeats_its_number_and_the_department_is_told() -> None:
    rows = _frame("xk", [XK_ROW, {**XK_ROW, "XK_XKWS": "食品经营许可决定书（阳食许〔2024〕9号）", "XK_WSH": "阳食许〔2024〕8号"}])
    checked = check_rows(rows, _config("xk"), "xk", department="d")
    assert checked.national["XK_XKWS"].tolist() == ["关于某公司发行企业债券核准的批复", "食品经营许可决定书（阳食许〔2024〕9号）"]
    assert _rules(checked, 0) == ([], ["XK-WS-001"])
    assert _rules(checked, 1) == ([], ["XK-WS-001"])  # another number: kept for the department to fix


def test_unreadable_decision_date_is_reported_once() -> None:
    rows = _frame("cf", [{**CF_ROW, "CF_JDRQ": "2024-02-30"}, {**CF_ROW, "CF_JDRQ": None}, CF_ROW])
    checked = check_rows(rows, _config("cf"), "cf", department="d")
    assert _rules(checked, 0) == (["CF-DATE-001"], [])
    assert _rules(checked, 1) == (["CF-REQ-011"], [])
    assert _rules(checked, 2) == ([], []) and checked.national["CF_GSJZQ"].tolist()[2] == "2027-03-15"


def test_other_document_type_with_an_old_id_number_is_rejected_and_full_width_input_is_normalised() -> None:
    person = {**CF_ROW, "CF_XDR_LB": "自然人", "CF_XDR_MC": "王五", "CF_XDR_SHXYM": None, "CF_FRDB": None,
              "CF_XDR_ZJLX": "其他-旧身份证", "CF_XDR_ZJHM": "110105491231002"}
    company = {**CF_ROW, "CF_XDR_LB": "法人及非法人组织", "CF_XDR_MC": "\u3000阳泉市ＡＢＣ商贸有限公司 ", "CF_XDR_SHXYM": ORG_USCC,
               "CF_WSH": "阳市监罚〔２０２４〕１３号"}
    checked = check_rows(_frame("cf", [person, company]), _config("cf"), "cf", department="d")
    assert _rules(checked, 0)[0] == ["COM-ID-006"]
    assert _rules(checked, 1) == ([], [])
    assert checked.national["CF_XDR_MC"].tolist()[1] == "阳泉市ABC商贸有限公司"
    assert checked.national["CF_WSH"].tolist()[1] == "阳市监罚〔2024〕13号"
