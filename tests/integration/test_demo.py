"""The README's first command, as a newcomer runs it: ``sgs demo`` twice through Airflow (``dag.test()``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from demo import create_demo_sources, drop_demo_sources, read_cases
from pipeline.demo import PORTAL_UNIT
from store.changelog import delivery_counts
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
    for code in ("scjgj", "sthjj", "wsjkw", PORTAL_UNIT):
        assert code in first.stdout
    assert "数据质量报告" in first.stdout
    status1 = json.loads(sgs(demo_env, "status", "--json").stdout)
    assert {(d["department"], d["dataset"]) for d in status1["departments"]} >= {("scjgj", "cf"), ("sthjj", "cf"), ("wsjkw", "xk")}
    ran = [d for d in status1["departments"] if d["last_run"] is not None]
    assert all(d["records"] > 0 and d["last_run"]["status"] == "success" for d in ran)
    # the 方式三 department delivered penalties only: its licences have no run (and it is listed, not hidden)
    assert {(d["department"], d["dataset"]) for d in status1["departments"] if d["last_run"] is None} == {("jtysj", "xk")}
    # 阳泉市: the 市直 departments, the 县区 units 平定县卫生健康局 (方式一) and 盂县市场监督管理局 (方式二), and the city.
    assert [(g["region"], g["departments"]) for g in status1["regions"]] == [("140300", 3), ("140321", 1), ("140322", 1), (None, 5)]

    second = sgs(demo_env, "demo", "--rows", "300")
    assert second.returncode == 0, second.stderr[-3000:]
    assert json.loads(sgs(demo_env, "status", "--json").stdout) == status1

    # Every planted bad row is in quarantine by our rules, every row planted for the province is there by
    # the province's receipt (PROV-103), and nothing else is.
    store = sa.create_engine(f"sqlite:///{tmp_path / 'var' / 'sgs.db'}")
    with store.connect() as c:
        entries = [(r.department, r.dataset, str(json.loads(r.source_pk)[0]), r.rule_ids) for r in c.execute(
            sa.select(quarantine.c.department, quarantine.c.dataset, quarantine.c.source_pk, quarantine.c.rule_ids)
            .where(quarantine.c.status == "open"))]
        outbox_states = delivery_counts(c)
    sources = create_demo_sources(tmp_path / "var", rows=300, prefix=demo_env["SGS_DEMO_PREFIX"])
    cases = [(s.department, c["dataset"], str(c["pk"]), c["verdict"]) for s in sources for c in read_cases(s)]
    # 方式三 (demo/inbox.py): file rows 6, 13 and 21 are planted bad (a bad date, a missing fine, another unit's code)
    with store.connect() as c:
        filed = sorted(json.loads(pk)[1] for (pk,) in c.execute(sa.select(quarantine.c.source_pk).where(
            quarantine.c.department == "jtysj", quarantine.c.status == "open")))
    assert filed == [6, 13, 21]
    entries = [e for e in entries if e[0] != "jtysj"]
    # The 县区 unit reporting only by 方式二: every tenth of its 20 rows per dataset has a wrong credit code.
    portal = [(d, ds, rules) for d, ds, _, rules in entries if d == PORTAL_UNIT]
    assert sorted((ds, rules) for _, ds, rules in portal) == [("cf", "COM-USCC-002")] * 2 + [("xk", "COM-USCC-002")] * 2
    entries = [e for e in entries if e[0] != PORTAL_UNIT]
    ours = {(d, ds, pk) for d, ds, pk, rules in entries if not rules.startswith("PROV-")}
    province = {(d, ds, pk) for d, ds, pk, rules in entries if rules == "PROV-103"}
    assert ours == {(d, ds, pk) for d, ds, pk, v in cases if v == "bad"}
    assert province == {(d, ds, pk) for d, ds, pk, v in cases if v == "province"}
    assert len(province) == 12  # 2 per department dataset
    assert len(entries) == len(ours) + len(province)

    # The push: every record's current version has its receipt (or needed none: never published), the
    # stand-in saw no duplicate, the demo printed it.
    assert set(outbox_states) <= {"accepted", "rejected", "not_sent"} and outbox_states["rejected"] == 12
    assert "推送省平台" in first.stdout and "省平台退回" in first.stdout
    assert re.search(r"省平台收到的重复投递\s*│\s*0\s*│", first.stdout), first.stdout[-2000:]
    assert re.search(r"发送记录\s*│\s*0\s*│", second.stdout), second.stdout[-2000:]  # nothing new the second time

    # The province's reason reaches the department's feedback file.
    xlsx = tmp_path / "scjgj.xlsx"
    exported = sgs(demo_env, "quarantine", "export", "scjgj", "--out", str(xlsx))
    assert exported.returncode == 0, exported.stderr[-2000:]
    from openpyxl import load_workbook

    cells = [str(c.value) for ws in load_workbook(xlsx) for row in ws.iter_rows() for c in row if c.value is not None]
    comments = [c.comment.text for ws in load_workbook(xlsx) for row in ws.iter_rows() for c in row if c.comment]
    assert any("省平台退回" in t and "作废" in t for t in cells + comments)
