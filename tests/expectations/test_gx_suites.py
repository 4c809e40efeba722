"""The GX suites: checked-in JSON matches the catalogue, and GX agrees with the engine row by row."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator

import pandas as pd
import pytest

gx = pytest.importorskip("great_expectations")

from exp_rows import TODAY, frame  # noqa: E402
from test_rule_cases import EXPANDED  # noqa: E402

from expectations import catalogue, validate  # noqa: E402
from expectations.gx_suites import SUITES_DIR, build_suite, suite_json  # noqa: E402


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
    ids = [e.meta["rule_id"] for e in suite.expectations]
    assert ids == [r.id for r in catalogue(ds)]
    severities = {e.meta["rule_id"]: e.severity for e in suite.expectations}
    assert {severities[r.id] for r in catalogue(ds) if r.severity == "error"} == {"critical"}
    data = json.loads((SUITES_DIR / f"{ds}.json").read_text(encoding="utf-8"))
    assert len(data["expectations"]) == len(ids)


def _sample(ds: str) -> pd.DataFrame:
    """Good rows plus every failing and passing example of the rule table, in one batch.

    Lone surrogates are left out: GX fingerprints the DataFrame with pandas' hashing, which cannot
    encode them (the engine itself handles them, see test_engine_api).
    """

    def encodable(row: dict[str, object]) -> bool:
        return all(not isinstance(v, str) or not any("\ud800" <= c <= "\udfff" for c in v) for v in row.values())

    rows = [o for d, _, o, _ in EXPANDED if d == ds and encodable(o)] + [{}] * 5
    return frame(ds, rows)


def test_gx_agrees_with_the_engine(ds: str, context: object) -> None:
    df = _sample(ds)
    verdicts = validate(df, ds, today=TODAY)
    suite = build_suite(ds, today=TODAY)
    source = context.data_sources.add_or_update_pandas(f"sgs_{ds}")  # type: ignore[attr-defined]
    asset = source.add_dataframe_asset(name=f"batch_{ds}")
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": df})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    checked = 0
    disagreements = []
    for r in result.results:
        rule_id = r.expectation_config.meta["rule_id"]
        assert not r.exception_info.get("raised_exception"), (rule_id, r.exception_info)
        gx_rows = sorted(r.result.get("unexpected_index_list") or [])
        ours = verdicts.failing_rows(rule_id).tolist()
        if r.result.get("unexpected_count", 0) != verdicts.rule_failures[rule_id] or gx_rows != ours:
            disagreements.append((rule_id, r.expectation_config.type, gx_rows, ours))
        checked += 1
    assert checked == len(catalogue(ds))
    assert not disagreements, disagreements
    # The sample exercises the rules: most of them fail somewhere.
    assert sum(1 for n in verdicts.rule_failures.values() if n) > 0.9 * len(verdicts.rule_failures)
