"""The real path: a department table in MariaDB → national rules → the central store in PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import load_department
from pipeline.ingest import ingest
from store.db import make_store_engine, migrate
from store.schema import ingest_run, quarantine, record_tables, watermark
from tests.factories import create_penalty_table, penalty_rows, source_time, write_department

pytestmark = pytest.mark.integration
N = 60  # every 10th row has a wrong USCC check digit → 6 quarantined


@pytest.fixture
def source(mariadb_db: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    engine = sa.create_engine(mariadb_db)
    with engine.begin() as c:
        table = create_penalty_table(c)
        c.execute(table.insert(), penalty_rows(N, seed=7))
    monkeypatch.setenv("SGS_SRC_TESTJU_URL", mariadb_db)
    return engine


def snapshot(store: Engine) -> dict[str, object]:
    """Everything that defines the store's state, independent of run ids and timestamps."""
    rec = record_tables["cf"]
    with store.connect() as c:
        return {
            "records": sorted(c.execute(sa.select(rec.c.business_key, rec.c.content_hash, rec.c.version)).all()),
            "quarantine": sorted(
                c.execute(sa.select(quarantine.c.source_pk, quarantine.c.raw_hash, quarantine.c.status)).all()
            ),
            "watermark": c.execute(sa.select(watermark.c.cursor_value)).scalar_one_or_none(),
        }


def test_full_then_incremental_then_late_row(source: Engine, pg_store: Engine, tmp_path: Path) -> None:
    dept = load_department(write_department(tmp_path))
    first = ingest(dept, "cf", engine=pg_store, trigger="test", today=dt.date(2026, 11, 28))
    c = first.counts
    assert (c.read, c.inserted, c.updated, c.unchanged, c.quarantined) == (N, N - 6, 0, 0, 6)
    assert first.chunks == -(-N // 7)
    assert json.loads(first.watermark_to)["value"] == "2025-06-01T09:00:00"  # 08:00 + 60 minutes
    before = snapshot(pg_store)

    # Nothing new: only the 5-minute look-back window is re-read, and nothing changes.
    second = ingest(dept, "cf", engine=pg_store, trigger="test", today=dt.date(2026, 11, 28))
    c = second.counts
    assert c.read == 6 and c.inserted == c.updated == 0 and c.unchanged + c.quarantined == 6
    assert snapshot(pg_store) == before

    # A late commit: a row whose cursor is older than the watermark (inside the look-back) and a change.
    late = penalty_rows(1, seed=99, bad_every=0, start_id=1000, start_time=source_time(2025, 6, 1, 8, 57) - dt.timedelta(minutes=1000))
    with source.begin() as conn:
        conn.execute(sa.table("t_xzcf", *[sa.column(k) for k in late[0]]).insert(), late)
        conn.execute(sa.text("UPDATE t_xzcf SET nr = '罚款2000元（更正）', gxsj = '2025-06-01 09:10:00' WHERE id = 5"))
    third = ingest(dept, "cf", engine=pg_store, trigger="test", today=dt.date(2026, 11, 28))
    assert third.counts.inserted == 1 and third.counts.updated == 1
    rec = record_tables["cf"]
    with pg_store.connect() as conn:
        assert conn.execute(sa.select(rec.c.cf_nr).where(rec.c.cf_wsh == "杭市监罚决〔2025〕5号")).scalar_one() == "罚款2000元（更正）"
        assert conn.execute(sa.select(sa.func.count()).select_from(rec)).scalar_one() == N - 6 + 1
        runs = conn.execute(sa.select(ingest_run).order_by(ingest_run.c.id)).mappings().all()
    assert [r["status"] for r in runs] == ["success"] * 3
    for r in runs:
        assert r["rows_read"] == r["inserted"] + r["updated"] + r["unchanged"] + r["quarantined"]


def test_penalty_fields_are_typed_and_derived(source: Engine, pg_store: Engine, tmp_path: Path) -> None:
    dept = load_department(write_department(tmp_path))
    ingest(dept, "cf", engine=pg_store, trigger="test", today=dt.date(2026, 11, 28))
    rec = record_tables["cf"]
    with pg_store.connect() as c:
        row = c.execute(sa.select(rec).where(rec.c.cf_wsh == "杭市监罚决〔2025〕1号")).mappings().one()
    assert float(row["cf_nr_fk"]) == 0.2  # 2000 元 → 0.2 万元
    assert isinstance(row["cf_jdrq"], dt.date)
    assert row["cf_gsjzq"] == row["publicity_end"] == row["cf_jdrq"].replace(year=row["cf_jdrq"].year + 3)
    assert row["cf_xdr_lb"] == "法人及非法人组织"


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pipeline.config import load_department
    from pipeline.ingest import ingest
    from pipeline.settings import store_engine
    kill_after = int(sys.argv[2])
    def on_chunk(result):
        if result.chunks == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    ingest(load_department(sys.argv[1]), "cf", trigger="test", on_chunk=on_chunk)
    """
)


@pytest.mark.parametrize("kill_after", [1, 4])
def test_killed_between_chunks_then_rerun_equals_uninterrupted(
    source: Engine, pg_store: Engine, pg_schema_factory: Callable[[], str], tmp_path: Path, kill_after: int
) -> None:
    path = write_department(tmp_path)
    # Reference: an uninterrupted run into its own schema.
    ingest(load_department(path), "cf", engine=pg_store, trigger="test")
    expected = snapshot(pg_store)

    victim_url = pg_schema_factory()
    victim = make_store_engine(victim_url)
    migrate(victim)
    env = {**os.environ, "SGS_STORE_URL": victim_url, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-c", KILLER, str(path), str(kill_after)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    partial = snapshot(victim)
    assert 0 < len(partial["records"]) < len(expected["records"])  # type: ignore[arg-type]

    rerun = ingest(load_department(path), "cf", engine=victim, trigger="test")
    assert rerun.status == "success"
    assert snapshot(victim) == expected
    with victim.connect() as c:
        statuses = [r for (r,) in c.execute(sa.select(ingest_run.c.status).order_by(ingest_run.c.id))]
    assert statuses == ["interrupted", "success"]
    victim.dispose()
