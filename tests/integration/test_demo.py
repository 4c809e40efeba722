"""The README's first command, as a newcomer runs it: ``sgs demo`` twice through Airflow (``dag.test()``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.demo_data import create_demo_sources, drop_demo_sources, read_cases
from store.schema import quarantine

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    prefix = f"sgs_t{uuid.uuid4().hex[:6]}_"
    env = {
        **os.environ,
        "SGS_HOME": str(ROOT),
        "SGS_VAR_DIR": str(tmp_path / "var"),
        "SGS_DEMO_PREFIX": prefix,
        "PYTHONPATH": str(ROOT),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
    }
    env.pop("SGS_STORE_URL", None)
    try:
        yield env
    finally:
        drop_demo_sources(prefix=prefix, var_dir=tmp_path / "var")


def sgs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=env, capture_output=True, text=True, timeout=600)


def test_demo_twice_reads_nothing_new_and_quarantines_exactly_the_planted_rows(demo_env: dict[str, str], tmp_path: Path) -> None:
    first = sgs(demo_env, "demo", "--rows", "300")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for code in ("scjgj", "sthjj", "wsjkw"):
        assert code in first.stdout
    assert "数据质量报告" in first.stdout
    status1 = json.loads(sgs(demo_env, "status", "--json").stdout)
    assert {(d["department"], d["dataset"]) for d in status1["departments"]} >= {("scjgj", "cf"), ("sthjj", "cf"), ("wsjkw", "xk")}
    assert all(d["records"] > 0 and d["last_run"]["status"] == "success" for d in status1["departments"])

    second = sgs(demo_env, "demo", "--rows", "300")
    assert second.returncode == 0, second.stderr[-3000:]
    assert json.loads(sgs(demo_env, "status", "--json").stdout) == status1

    # Every planted bad row is in quarantine, and nothing else is.
    store = sa.create_engine(f"sqlite:///{tmp_path / 'var' / 'sgs.db'}")
    with store.connect() as c:
        quarantined = {(r.department, r.dataset, json.loads(r.source_pk)[0]) for r in c.execute(
            sa.select(quarantine.c.department, quarantine.c.dataset, quarantine.c.source_pk).where(quarantine.c.status == "open"))}
    sources = create_demo_sources(tmp_path / "var", rows=300, prefix=demo_env["SGS_DEMO_PREFIX"])
    planted = {(s.department, c["dataset"], c["pk"]) for s in sources for c in read_cases(s) if c["verdict"] == "bad"}
    assert {(d, ds, str(pk)) for d, ds, pk in quarantined} == {(d, ds, str(pk)) for d, ds, pk in planted}
