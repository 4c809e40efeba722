"""Great Expectations validation results built from the engine's verdicts ("computed once, reported through GX").

The engine decides every row (fast, vectorised); an ingest run adds up its per-rule failure counts. This
module states those counts as a GX ``ExpectationSuiteValidationResult`` against the checked-in suite of
the dataset (``expectations/suites/<dataset>.json``, whose expectations carry the rule id in ``meta``), so
each run leaves a standard GX result that GX tooling (Data Docs, checkpoints' stores) can read. A test
checks that running the real suite through GX gives the same counts as the engine.

Great Expectations is imported lazily: ingestion never pays for it unless a result is written.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

SUITES = Path(__file__).resolve().parent / "suites"


def suite_expectations(dataset: str) -> list[dict[str, Any]]:
    """The generated suite's expectations (type, kwargs, meta with rule_id/severity/message)."""
    data = json.loads((SUITES / f"{dataset}.json").read_text(encoding="utf-8"))
    return list(data["expectations"])


def validation_result(
    dataset: str,
    *,
    rows: int,
    rule_failures: dict[str, int],
    run_name: str,
    run_time: dt.datetime,
    batch: dict[str, Any] | None = None,
) -> Any:
    """A GX ``ExpectationSuiteValidationResult`` for ``rows`` rows with the given failures per rule."""
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    results = []
    for e in suite_expectations(dataset):
        rule = e["meta"]["rule_id"]
        bad = int(rule_failures.get(rule, 0))
        config = ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e["meta"])
        results.append(
            ExpectationValidationResult(
                success=bad == 0,
                expectation_config=config,
                result={
                    "element_count": rows,
                    "unexpected_count": bad,
                    "unexpected_percent": (100.0 * bad / rows) if rows else 0.0,
                    # Values are never copied into results: they may be personal data (ID numbers).
                    "partial_unexpected_list": [],
                },
            )
        )
    ok = sum(bool(r.success) for r in results)
    return ExpectationSuiteValidationResult(
        success=ok == len(results),
        results=results,
        suite_name=f"sgs_{dataset}",
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": ok,
            "unsuccessful_expectations": len(results) - ok,
            "success_percent": (100.0 * ok / len(results)) if results else 100.0,
        },
        meta={
            "run_id": {"run_name": run_name, "run_time": run_time.isoformat()},
            "batch_markers": {},
            "batch_spec": batch or {},
            "validation_time": run_time.strftime("%Y%m%dT%H%M%S.%fZ"),
            "great_expectations_version": _gx_version(),
        },
    )


def _gx_version() -> str:
    import great_expectations as gx

    return str(gx.__version__)
