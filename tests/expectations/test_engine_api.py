"""The public API: verdicts, settings, hostile input and catalogue completeness."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from exp_rows import GOOD, TODAY, check, frame
from pydantic import ValidationError

from expectations import (
    CatalogueError,
    Issue,
    RuleOverride,
    RuleSettings,
    catalogue,
    load_rule_settings,
    validate,
)
from expectations.catalogue import load_catalogue
from national import dataset


# -- verdicts ---------------------------------------------------------------------------------
def test_verdicts_by_position_errors_before_warnings(ds: str) -> None:
    p = ds.upper()
    df = frame(ds, [{}, {f"{p}_XDR_MC": "无", f"{p}_JDRQ": "1999-01-01", f"{p}_WSH": "x2"}, {f"{p}_WSH": "x3"}])
    df.index = [10, 5, "z"]  # any index: rows are positions
    df["_source_row"] = [1, 2, 3]  # metadata columns are ignored
    v = validate(df, ds, today=TODAY)
    assert v.n_rows == 3
    assert v.has_error.tolist() == [False, True, False]
    issues = v.issues(1)
    assert [x.severity for x in issues] == sorted((x.severity for x in issues), key=lambda s: s != "error")
    assert Issue("COM-JUNK-001", f"{p}_XDR_MC", issues[0].message, "error") in issues
    assert f"{p}-DATE-007" in {x.rule for x in v.warnings(1)}
    assert all(x.severity == "error" for x in v.errors(1))
    assert v.issues(0) == [] and v.issues(2) == []
    assert v.failing_rows("COM-JUNK-001").tolist() == [1]
    with pytest.raises(IndexError):
        v.issues(3)


def test_issues_by_row_equals_issues_of_each_row(ds: str) -> None:
    p = ds.upper()
    rows = [
        {},
        {f"{p}_XDR_MC": "无", f"{p}_JDRQ": "1999-01-01", f"{p}_WSH": "x2"},
        {f"{p}_WSH": "x3"},
        {f"{p}_XDR_SHXYM": "91110000000000000X", f"{p}_WSH": None, f"{p}_XDR_MC": "Ａ公司\x07"},
        {f"{p}_JDRQ": "2023-02-30", f"{p}_WSH": "=x5"},
        {f"{p}_WSH": "x2"},
    ]
    v = validate(frame(ds, rows), ds, today=TODAY)
    by_row = v.issues_by_row()
    assert len(by_row) == len(rows)
    assert [list(x) for x in by_row] == [v.issues(i) for i in range(len(rows))]
    assert by_row[0] == () and sum(map(len, by_row)) >= 8
    assert validate(frame(ds, []), ds, today=TODAY).issues_by_row() == []


def test_rule_failures_lists_every_active_rule(ds: str) -> None:
    v = check(ds, [{}])
    assert set(v.rule_failures) == {r.id for r in catalogue(ds)}
    assert set(v.rule_failures.values()) == {0}


def test_empty_batch(ds: str) -> None:
    v = validate(frame(ds, []), ds, today=TODAY)
    assert v.n_rows == 0 and v.has_error.shape == (0,) and set(v.rule_failures.values()) == {0}


def test_messages_name_the_field_and_carry_no_placeholders(ds: str) -> None:
    names = dataset(ds).chinese_names
    for r in catalogue(ds, include_disabled=True):
        assert "{" not in r.message and "}" not in r.message, r.id
        if r.kind != "duplicate":
            assert names[r.field] in r.message, (r.id, r.message)


def test_messages_never_contain_the_value() -> None:
    """Invariant 5 (design.md): an ID number must not appear in a message."""
    secret = "110105194912310029"  # wrong check digit
    v = check("cf", [{"CF_FR_ZJHM": secret}])
    assert v.errors(0) and all(secret not in x.message for x in v.issues(0))


# -- catalogue ---------------------------------------------------------------------------------
def test_catalogue_covers_every_national_column(ds: str) -> None:
    fields = {r.field for r in catalogue(ds, include_disabled=True)}
    missing = set(dataset(ds).columns) - fields
    assert not missing, f"columns without any rule: {sorted(missing)}"


def test_every_column_with_a_length_has_a_length_rule(ds: str) -> None:
    lengths = {r.field: r.params.get("max") for r in catalogue(ds) if r.kind == "max_length"}
    for f in dataset(ds).fields:
        if f.max_length is not None and f.kind != "date":
            assert f.code in lengths, f.code
            assert lengths[f.code] >= f.max_length or f.code.endswith("_XDR_LB"), (
                f.code,
                lengths[f.code],
                f.max_length,
            )


def test_rule_ids_are_unique_and_well_formed(ds: str) -> None:
    ids = [r.id for r in catalogue(ds, include_disabled=True)]
    assert len(ids) == len(set(ids))
    import re

    assert all(re.fullmatch(r"(COM|CF|XK)-[A-Z0-9]+-\d{3}", i) for i in ids)
    assert all(i.startswith(("COM-", ds.upper() + "-")) for i in ids)


def test_unconfirmed_rules_are_configurable_and_confirmed_ones_are_not() -> None:
    rules = {r.id: r for r in catalogue("cf", include_disabled=True)}
    assert rules["COM-PH-003"].configurable and rules["COM-SPC-001"].configurable
    assert not rules["COM-USCC-002"].configurable
    with pytest.raises(CatalogueError, match="confirmed national rule"):
        catalogue("cf", RuleSettings(rules={"COM-USCC-002": RuleOverride(enabled=False)}))


def test_unknown_dataset_and_rule_ids_are_named() -> None:
    with pytest.raises(KeyError, match="cf, xk"):
        catalogue("zz")
    with pytest.raises(CatalogueError, match="NOPE-001"):
        catalogue("cf", RuleSettings(rules={"NOPE-001": RuleOverride(enabled=False)}))
    with pytest.raises(CatalogueError, match="no parameter"):
        catalogue("cf", RuleSettings(rules={"CF-AMT-007": RuleOverride(params={"maximum": 5})}))
    # An id of the other dataset is fine: one settings file serves both.
    assert catalogue("cf", RuleSettings(rules={"XK-DATE-011": RuleOverride(enabled=True)}))


# -- settings ----------------------------------------------------------------------------------
def test_default_settings_file_loads() -> None:
    s = load_rule_settings(None)
    assert s == RuleSettings()


def test_settings_file_rejects_unknown_keys(tmp_path: Path) -> None:
    p = tmp_path / "rules.yaml"
    p.write_text("decision_date_flor: 2001-01-01\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="decision_date_flor"):
        load_rule_settings(p)
    p.write_text("rules:\n  COM-PH-003: {enabled: false, colour: red}\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="colour"):
        load_rule_settings(p)


def test_settings_file_toggles_rules(tmp_path: Path) -> None:
    p = tmp_path / "rules.yaml"
    p.write_text(
        "decision_date_floor: 2010-01-01\n"
        "name_special_chars: '#'\n"
        "name_reject_emoji: false\n"
        "junk_values: [无]\n"
        "large_amount_wan: 10\n"
        "publicity_max_years: 5\n"
        "extra_penalty_category_aliases: {吊销营业执照: [吊销许可证件]}\n"
        "rules:\n"
        "  COM-PH-003: {enabled: false}\n"
        "  CF-REQ-013: {severity: error}\n"
        "  CF-AMT-009: {params: {tolerance_yuan: 5000}}\n",
        encoding="utf-8",
    )
    s = load_rule_settings(p)
    rows = [
        {"CF_JDRQ": "2005-01-01", "CF_YXQ": "2006-01-01", "CF_GSJZQ": "2009-01-01", "CF_WSH": "a1"},  # floor, 4 years
        {"CF_XDR_MC": "某#公司", "CF_WSH": "a2"},
        {"CF_XDR_MC": "某公司😀", "CF_WSH": "a3"},
        {"CF_XDR_MC": "暂无", "CF_WSH": "a4"},
        {"CF_NR_FK": "12", "CF_NR": "罚款118000元", "CF_WSH": "a5"},
        {"CF_XDR_SHXYM": "9" * 18, "CF_XDR_ZZJG": None, "CF_WSH": "a6"},
        {"CF_GSJZQ": None, "CF_WSH": "a7"},
        {"CF_CFLB": "罚款;吊销营业执照", "CF_NR_ZKDX": None, "CF_WSH": "a8"},
    ]
    default, tuned = check("cf", rows), check("cf", rows, settings=s)

    def rules(v: object, k: int) -> set[str]:
        return {x.rule for x in v.issues(k)}  # type: ignore[attr-defined]

    assert "CF-DATE-007" in rules(tuned, 0) and "CF-DATE-007" not in rules(default, 0)
    assert "CF-DATE-010" in rules(default, 0) and "CF-DATE-010" not in rules(tuned, 0)
    assert "COM-SPC-001" in rules(tuned, 1) and "COM-SPC-001" not in rules(default, 1)
    assert "COM-SPC-001" in rules(default, 2) and "COM-SPC-001" not in rules(tuned, 2)
    assert "COM-JUNK-001" in rules(default, 3) and "COM-JUNK-001" not in rules(tuned, 3)
    assert "CF-AMT-007" in rules(tuned, 4) and "CF-AMT-007" not in rules(default, 4)
    assert "CF-AMT-009" in rules(default, 4) and "CF-AMT-009" not in rules(tuned, 4)
    # 17 nines switched off: accepted altogether (the checksum rule leaves placeholders to their rule).
    assert "COM-PH-003" in rules(default, 5) and not rules(tuned, 5) & {"COM-PH-003", "COM-USCC-002"}
    assert "COM-PH-003" not in tuned.rule_failures
    assert not default.has_error[6] and tuned.has_error[6]
    assert "CF-CAT-001" in rules(default, 7) and "CF-CAT-001" not in rules(tuned, 7)
    assert "CF-REQ-009" in rules(tuned, 7)  # the alias maps to 吊销许可证件, which needs CF_NR_ZKDX


def test_severity_override_changes_quarantine() -> None:
    row = {"CF_XDR_SHXYM": "92350100M000100Y40"}  # a 法人及非法人组织 with a 个体工商户's prefix: COM-USCC-006
    assert not check("cf", [row]).has_error[0] and check("cf", [row]).has_warning[0]
    s = RuleSettings(rules={"COM-USCC-006": RuleOverride(severity="error")})
    assert check("cf", [row], settings=s).has_error[0]


# -- hostile input -------------------------------------------------------------------------------
def test_hostile_values_never_raise(ds: str) -> None:
    hostile = [
        "\x00",
        "\x00" * 50,
        "x" * 100_000,
        "😀" * 300,
        "\ud800",
        12345,
        3.5,
        float("nan"),
        pd.NA,
        True,
        b"bytes",
        ["list"],
        {"a": 1},
        dt.date(2024, 1, 1),
        "  ",
        "\u200b",
        "‮RTL",
        "%s%n",
        "'; DROP TABLE t;--",
        "２０２４-０１-０１",
        "2024-02-30",
        "-1",
        "1e309",
        "NaN",
        "inf",
        "0x1F",
    ]
    cols = dataset(ds).columns
    rows = []
    for k, value in enumerate(hostile):
        rows.append({c: value for c in cols} | {f"{ds.upper()}_WSH": f"w{k}"})
    df = pd.DataFrame(rows, columns=cols, dtype=object)
    v = validate(df, ds, today=TODAY)
    assert v.n_rows == len(hostile)
    assert v.has_error.all()
    for k in range(len(hostile)):
        assert v.issues(k)


def test_missing_national_column_counts_as_blank(ds: str) -> None:
    df = frame(ds, [{}]).drop(columns=[f"{ds.upper()}_XDR_MC"])
    v = validate(df, ds, today=TODAY)
    assert [x.rule for x in v.errors(0)] == ["COM-REQ-001"]


def test_non_string_dtype_columns(ds: str) -> None:
    """A column of ints (e.g. XK_ZT read from a numeric DB column) is judged by its str()."""
    df = frame(ds, [{}, {}])
    df[f"{ds.upper()}_WSH"] = pd.Series([101, 102], dtype="int64")
    v = validate(df, ds, today=TODAY)
    assert not v.has_error.any(), [v.issues(k) for k in range(2)]


def test_catalogue_load_is_cached() -> None:
    a, b = load_catalogue("cf"), load_catalogue("cf")
    assert a is b


def test_good_records_batch_is_fast_enough() -> None:
    """A smoke test of vectorisation: 20k rows in well under the per-row-loop time."""
    import time

    df = frame("cf", [GOOD["cf"]] * 20000)
    df["CF_WSH"] = [f"w{k}" for k in range(len(df))]
    t = time.perf_counter()
    v = validate(df, "cf", today=TODAY)
    assert time.perf_counter() - t < 5
    assert not v.has_error.any()
    assert np.array_equal(v.has_error, np.zeros(len(df), dtype=bool))


# -- docs ----------------------------------------------------------------------------------------
def test_rules_doc_is_current_and_explains_every_unconfirmed_rule() -> None:
    """Regenerate with ``PYTHONPATH=. .venv/bin/python -m expectations.rules_doc --write``."""
    from expectations.rules_doc import DOC_PATH, decision, render

    assert DOC_PATH.read_text(encoding="utf-8") == render(), "docs/rules.md drifted from the catalogue"
    for ds in ("cf", "xk"):
        for r in catalogue(ds, include_disabled=True):
            assert r.id in render()
            if r.configurable:
                assert decision(r), f"{r.id} ({r.source}) has no recorded decision in expectations/rules_doc.py"


def test_validate_leaves_the_input_frame_writable_and_unchanged(ds: str) -> None:
    df = frame(ds, [{}, {f"{ds.upper()}_XDR_MC": "无"}])
    before = df.copy()
    validate(df, ds, today=TODAY)
    pd.testing.assert_frame_equal(df, before)
    df.iloc[0, 0] = "改名后的公司"  # still writable
    assert df.iloc[0, 0] == "改名后的公司"


def test_halfwidth_regex_of_gx_equals_the_engine_on_every_code_point() -> None:
    """The GX statement of ``halfwidth`` is a regex, the engine tests ``str.isalnum``: equal on every character
    (so GX's built-in is an independent check of the FW rules, issue 17)."""
    import re

    from expectations.kinds.text import HALFWIDTH_REGEX, _not_halfwidth

    rx = re.compile(HALFWIDTH_REGEX)
    differ = [cp for cp in range(0x110000)  # every code point (surrogates too): the engine scans with the regex
              if bool(rx.search("A" + chr(cp))) != _not_halfwidth("A" + chr(cp))]
    assert not differ, [hex(cp) for cp in differ[:20]]
    assert _not_halfwidth("ＡＢＣ") and _not_halfwidth("\u0410BC") and not _not_halfwidth("晋民证字第〇〇12号")
