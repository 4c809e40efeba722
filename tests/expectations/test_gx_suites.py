"""The GX suites: checked-in JSON matches the catalogue, and every rule is checked against an oracle
that does not ask the rule engine (issue 18 item 2).

Three oracles, one per rule (:func:`oracle_of`):

- ``gx``: the rule's expectation is a GX built-in (not null, null, lengths, in set, not in set,
  regex). GX computes it on its own, so engine == GX row by row is a real equivalence check.
- ``stdnum``: the check-digit expectations (USCC, 身份证) call the same vectorised functions as the
  engine; python-stdnum computes the check digits instead, and both must agree with it.
- ``labelled``: every other expectation (custom, engine-backed: ``ExpectRowsToPassNationalRule`` …)
  asks the engine, so engine == GX proves nothing. Its oracle is the hand-labelled rows: the table of
  test_rule_cases.py and tests/expectations/oracle_rows.yaml; the engine and GX must both give every
  labelled answer.

Every rule has labelled rows too (the table covers every rule), so a built-in expectation that agrees
with a wrong engine would still be caught.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
import pytest
import yaml
from exp_rows import TODAY, frame
from stdnum.cn import ric, uscc
from test_rule_cases import EXPANDED

from expectations import Verdicts, catalogue, validate
from expectations.gx_suites import SUITES_DIR, build_suite, suite_json

ORACLE_ROWS: dict[str, Any] = yaml.safe_load(Path(__file__).with_name("oracle_rows.yaml").read_text(encoding="utf-8"))
#: The custom expectations whose oracle is python-stdnum (they share ``expectations.checks`` with the engine).
STDNUM_CHECKED = ("expect_column_values_to_have_valid_uscc_check_digit", "expect_column_values_to_be_valid_resident_id")
#: Module of GX's built-in expectations.
_GX_BUILTIN = "great_expectations.expectations.core"


def oracle_of(expectation: Any) -> str:
    """``gx`` (a built-in, independent of the engine), ``stdnum`` or ``labelled`` (engine-backed custom)."""
    if type(expectation).__module__.startswith(_GX_BUILTIN):
        return "gx"
    if expectation.expectation_type in STDNUM_CHECKED:
        return "stdnum"
    return "labelled"


@pytest.fixture(scope="module")
def context() -> Iterator[object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield gx.get_context(mode="ephemeral")


def test_checked_in_suites_match_the_catalogue(ds: str, context: object) -> None:
    """Regenerate with ``PYTHONPATH=. .venv/bin/python -m expectations.gx_suites --write``."""
    on_disk = (SUITES_DIR / f"{ds}.json").read_text(encoding="utf-8")
    assert on_disk == suite_json(ds), f"expectations/suites/{ds}.json drifted from the catalogue: regenerate it"


def test_suite_has_one_expectation_per_active_rule(ds: str, context: object) -> None:
    suite = build_suite(ds)
    ids = [(e.meta or {})["rule_id"] for e in suite.expectations]
    assert ids == [r.id for r in catalogue(ds)]
    severities = {(e.meta or {})["rule_id"]: e.severity for e in suite.expectations}
    assert {severities[r.id] for r in catalogue(ds) if r.severity == "error"} == {"critical"}
    data = json.loads((SUITES_DIR / f"{ds}.json").read_text(encoding="utf-8"))
    assert len(data["expectations"]) == len(ids)


# -- the batches and their labels -----------------------------------------------------------------
#: (rule id, row index, whether the rule must flag the row, where the label comes from)
Label = tuple[str, int, bool, str]


def _encodable(row: dict[str, object]) -> bool:
    """Lone surrogates are left out: GX fingerprints the DataFrame with pandas' hashing, which cannot
    encode them (the engine itself handles them, see test_engine_api)."""
    return all(not isinstance(v, str) or not any("\ud800" <= c <= "\udfff" for c in v) for v in row.values())


def _sample(ds: str) -> tuple[pd.DataFrame, list[Label]]:
    """Every labelled row of the rule table and of oracle_rows.yaml plus five clean rows, in one batch."""
    rows: list[Mapping[str, Any]] = []
    labels: list[Label] = []
    for k, (d, rule, overrides, fails) in enumerate(EXPANDED):
        if d == ds and _encodable(overrides):
            labels.append((rule, len(rows), fails, f"test_rule_cases.CASES[{k}]"))
            rows.append(overrides)
    for rule, cases in ORACLE_ROWS[ds]["rows"].items():
        for case in cases:
            labels.append((rule, len(rows), bool(case["fails"]), f"oracle_rows.yaml: {case['why']}"))
            rows.append(case["row"])
    rows += [{}] * 5
    return frame(ds, rows), labels


def _batches(ds: str) -> list[tuple[pd.DataFrame, list[Label]]]:
    out = []
    for rule, batches in ORACLE_ROWS[ds]["batches"].items():
        for batch in batches:
            labels = [(rule, k, bool(c["fails"]), f"oracle_rows.yaml: {c['why']}") for k, c in enumerate(batch)]
            out.append((frame(ds, [c["row"] for c in batch]), labels))
    return out


@dataclass
class GxRun:
    """One batch validated by the engine and by the GX suite."""

    df: pd.DataFrame
    labels: list[Label]
    engine: Verdicts
    #: rule id → (expectation, sorted failing row indices, GX's unexpected_count)
    gx: dict[str, tuple[Any, list[int], int]]


def _validate(context: Any, ds: str, name: str, df: pd.DataFrame, labels: list[Label]) -> GxRun:
    suite = build_suite(ds, today=TODAY)
    by_id = {(e.meta or {})["rule_id"]: e for e in suite.expectations}
    source = context.data_sources.add_or_update_pandas(f"sgs_{ds}_{name}")
    asset = source.add_dataframe_asset(name=f"batch_{ds}_{name}")
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": df})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    out: dict[str, tuple[Any, list[int], int]] = {}
    for r in result.results:
        rule_id = r.expectation_config.meta["rule_id"]
        assert not r.exception_info.get("raised_exception"), (rule_id, r.exception_info)
        rows = sorted(r.result.get("unexpected_index_list") or [])
        out[rule_id] = (by_id[rule_id], rows, int(r.result.get("unexpected_count", 0)))
    assert len(out) == len(catalogue(ds))
    return GxRun(df, labels, validate(df, ds, today=TODAY), out)


@pytest.fixture(scope="module")
def runs(context: Any) -> Callable[[str], list[GxRun]]:
    """``runs(ds)``: the big sample first, then each duplicate batch (validated once per module)."""
    cache: dict[str, list[GxRun]] = {}

    def get(ds: str) -> list[GxRun]:
        if ds not in cache:
            df, labels = _sample(ds)
            cache[ds] = [_validate(context, ds, "sample", df, labels)] + [
                _validate(context, ds, f"batch{k}", d, lab) for k, (d, lab) in enumerate(_batches(ds))
            ]
        return cache[ds]

    return get


# -- oracle 1: hand-labelled rows (every rule) ------------------------------------------------------
def test_engine_and_gx_give_every_labelled_answer(ds: str, runs: Callable[[str], list[GxRun]]) -> None:
    """The known answers: for each labelled row, the rule flags it exactly when the label says so, in
    the engine AND in GX. Switching off a rule kind in the engine turns this red for engine-backed rules."""
    wrong = []
    checked = 0
    for run in runs(ds):
        for rule, row, fails, origin in run.labels:
            if rule not in run.gx:  # a disabled rule (XK-DATE-011) is not in the suite
                continue
            engine = row in run.engine.failing_rows(rule).tolist()
            by_gx = row in run.gx[rule][1]
            if engine is not fails or by_gx is not fails:
                wrong.append((rule, row, {"expected": fails, "engine": engine, "gx": by_gx}, origin))
            checked += 1
    assert checked > 200
    assert not wrong, wrong


def test_every_rule_has_labelled_failing_and_passing_rows(ds: str, runs: Callable[[str], list[GxRun]]) -> None:
    """The labelled rows reach every rule of the suite, with a failing and a passing row each."""
    labelled: dict[str, set[bool]] = {}
    for run in runs(ds):
        for rule, _, fails, _ in run.labels:
            labelled.setdefault(rule, set()).add(fails)
    missing = [rule for rule in runs(ds)[0].gx if labelled.get(rule) != {True, False}]
    assert not missing, f"{ds}: rules without a labelled failing and passing row: {missing}"


# -- oracle 2: GX's own built-ins -------------------------------------------------------------------
def test_gx_builtins_agree_with_the_engine(ds: str, runs: Callable[[str], list[GxRun]]) -> None:
    """Engine == GX row by row, claimed only where GX computes the answer itself (a built-in)."""
    disagreements = []
    compared = 0
    for run in runs(ds):
        for rule_id, (expectation, rows, count) in run.gx.items():
            if oracle_of(expectation) != "gx":
                continue
            ours = run.engine.failing_rows(rule_id).tolist()
            if count != run.engine.rule_failures[rule_id] or rows != ours:
                disagreements.append((rule_id, expectation.expectation_type, rows, ours))
            compared += 1
    assert compared > 0
    assert not disagreements, disagreements
    # The sample exercises the rules: most of them fail somewhere.
    sample = runs(ds)[0]
    assert sum(1 for n in sample.engine.rule_failures.values() if n) > 0.9 * len(sample.engine.rule_failures)


# -- oracle 3: python-stdnum for the check digits ---------------------------------------------------
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, S, V, Z


def _resident_id_well_formed(value: str) -> bool:
    """GB 11643 shape (spec §3.2: first digit 1–9, born 18xx–20xx) and a real birth date, not after today."""
    if not (
        len(value) == 18 and value[:17].isdigit() and value[0] != "0" and (value[17].isdigit() or value[17] == "X")
    ):
        return False
    if value[6:8] not in ("18", "19", "20"):
        return False
    try:
        born = ric.get_birth_date(value)
    except ValueError:  # stdnum's InvalidComponent: no such day
        return False
    return born <= TODAY


def _stdnum_fails(expectation: Any, value: Any, type_value: Any) -> bool:
    """Whether python-stdnum says the check-digit expectation must flag ``value``.

    Values of the wrong shape are the format rules' business (a regex built-in, or the ``format``
    check of the 身份证 expectation), so a check-digit rule flags only well-formed values.
    """
    if not isinstance(value, str) or not value:
        return False
    if expectation.expectation_type == "expect_column_values_to_have_valid_uscc_check_digit":
        well_formed = (
            len(value) == 18
            and all(c in _USCC_ALPHABET for c in value)
            and value[2:8].isdigit()
            and value not in (expectation.skip or [])
        )
        return well_formed and uscc.calc_check_digit(value[:17]) != value[17]
    if type_value != "身份证":  # 居民身份证号码 only where the document type says so
        return False
    if expectation.check == "format":
        return not _resident_id_well_formed(value)
    return _resident_id_well_formed(value) and ric.calc_check_digit(value) != value[17]


def test_check_digits_agree_with_stdnum(ds: str, runs: Callable[[str], list[GxRun]]) -> None:
    """The check-digit expectations share ``expectations.checks`` with the engine: stdnum is their oracle."""
    wrong = []
    compared = 0
    for run in runs(ds):
        for rule_id, (expectation, rows, _) in run.gx.items():
            if oracle_of(expectation) != "stdnum":
                continue
            rule = next(r for r in catalogue(ds) if r.id == rule_id)
            type_field = rule.params.get("type_field")
            values = run.df[rule.field].tolist()
            types = run.df[type_field].tolist() if type_field else [None] * len(values)
            expected = [
                k for k, (v, t) in enumerate(zip(values, types, strict=True)) if _stdnum_fails(expectation, v, t)
            ]
            ours = run.engine.failing_rows(rule_id).tolist()
            if rows != expected or ours != expected:
                wrong.append((rule_id, {"stdnum": expected, "gx": rows, "engine": ours}))
            compared += 1
            assert expected or run is not runs(ds)[0], f"{rule_id}: the sample has no row stdnum rejects"
    assert compared >= 4
    assert not wrong, wrong


def oracle_counts(ds: str) -> dict[str, int]:
    """How many rules of ``ds`` have which independent oracle (written in docs/reliability.md)."""
    counts = {"gx": 0, "stdnum": 0, "labelled": 0}
    for e in build_suite(ds).expectations:
        counts[oracle_of(e)] += 1
    return counts


def test_docs_state_the_oracle_counts(ds: str, context: object) -> None:
    """docs/reliability.md lists how many rules each oracle covers; regenerate the row when the catalogue changes."""
    c = oracle_counts(ds)
    row = f"| {ds} | {sum(c.values())} | {c['gx']} | {c['stdnum']} | {c['labelled']} |"
    docs = (Path(__file__).parents[2] / "docs" / "reliability.md").read_text(encoding="utf-8")
    assert row in docs, f"docs/reliability.md should have the row {row!r}"
