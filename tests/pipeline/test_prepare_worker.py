"""The prepare worker process (pipeline/prepare.py): same store as in-process, its errors keep their type,
and it never outlives a killed run."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.sql import RawChunk
from pipeline.config import load_department
from pipeline.ingest import _worker_threshold, ingest
from pipeline.prepare import PrepareProcess, prepare_chunk
from store.db import make_store_engine, migrate
from tests.factories import create_penalty_table, penalty_rows, source_time, write_department
from tests.faults.harness import store_state
from transforms.normalise import MappingError

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 11, 28)


@pytest.fixture
def department(mariadb_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    engine = sa.create_engine(mariadb_db)
    rows = penalty_rows(230, seed=11)  # every 10th row bad: 23 quarantined
    fixes = penalty_rows(5, seed=12, bad_every=0, start_id=231)
    for row, k in zip(fixes, [3, 50, 120, 10, 200], strict=True):  # corrections of earlier decisions
        row["wsh"] = f"杭市监罚决〔2025〕{k}号"
        row["nr"] = "罚款2000元（更正）"
    with engine.begin() as c:
        c.execute(create_penalty_table(c).insert(), rows + fixes)
    engine.dispose()
    monkeypatch.setenv("SGS_SRC_TESTJU_URL", mariadb_db)
    return write_department(tmp_path, env="SGS_SRC_TESTJU_URL", chunk_rows=40)


def test_worker_process_gives_the_store_of_an_in_process_run(
    department: Path, pg_schema_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dept = load_department(department)
    states = {}
    for mode in ("off", "0"):
        monkeypatch.setenv("SGS_PREPARE_WORKER_AFTER", mode)
        store = make_store_engine(pg_schema_factory())
        migrate(store)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="sgs.ingest"):
            result = ingest(dept, "cf", engine=store, trigger="test", today=TODAY)
        started = [r for r in caplog.records if "prepare worker" in r.getMessage() and "started" in r.getMessage()]
        assert len(started) == (1 if mode == "0" else 0), [r.getMessage() for r in started]
        assert result.status == "success" and result.counts.reconciles
        assert result.chunks == 6  # 235 rows in pages of 40
        assert result.counts.quarantined == 23
        states[mode] = (store_state(store), result.counts.as_dict(), result.watermark_to)
        store.dispose()
    assert states["0"] == states["off"]


def test_worker_raises_the_error_of_the_chunk_with_its_own_type(department: Path) -> None:
    cfg = load_department(department).datasets["cf"]
    frame = pd.DataFrame({"id": [1, 2], "gxsj": [source_time(2025, 1, 1)] * 2})  # no mapped columns at all
    with pytest.raises(MappingError) as in_process:
        prepare_chunk(RawChunk(frame), cfg, "cf", "testju", TODAY)
    worker = PrepareProcess("sgs-prepare-test")
    try:
        worker.submit(RawChunk(frame), cfg, "cf", "testju", TODAY)
        with pytest.raises(MappingError) as from_worker:
            worker.result()
        assert str(from_worker.value) == str(in_process.value)
        # The worker survives a failed chunk and prepares the next one.
        good = pd.DataFrame(penalty_rows(3, seed=1, bad_every=0))
        worker.submit(RawChunk(good), cfg, "cf", "testju", TODAY)
        chunk = worker.result()
        assert len(chunk.batch) == 3 and not chunk.batch.rejected.any()
        assert chunk.batch.prepared is not None and len(chunk.batch.prepared.hashes) == 3
    finally:
        worker.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def test_worker_exits_when_its_run_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pipeline.prepare import PrepareProcess
        if __name__ == "__main__":
            w = PrepareProcess("sgs-prepare-orphan-test")
            print(w._proc.pid, flush=True)
            time.sleep(120)
    """), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        worker_pid = int(proc.stdout.readline())
        assert _alive(worker_pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker_pid), "the prepare worker outlived its killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(("value", "expected"), [
    (None, 20_000), ("0", 0), ("200_000", 200_000), ("off", None), ("OFF", None), ("-5", 0), ("lots", 20_000),
])
def test_worker_threshold_setting(value: str | None, expected: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv("SGS_PREPARE_WORKER_AFTER", raising=False)
    else:
        monkeypatch.setenv("SGS_PREPARE_WORKER_AFTER", value)
    assert _worker_threshold() == expected


def test_a_large_run_refreshes_the_planner_statistics(
    department: Path, pg_schema_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:
    """ANALYZE of the quarantine after 50, 100 (doubling) … rows written, and at the end: here after 80 and
    160 rows and at 235. Without statistics PostgreSQL looked up open quarantine entries through the wrong
    index."""
    import pipeline.ingest as pi

    monkeypatch.setattr(pi, "ANALYZE_AFTER_ROWS", 50)
    monkeypatch.setenv("SGS_PREPARE_WORKER_AFTER", "off")
    dept = load_department(department)
    store = make_store_engine(pg_schema_factory())
    migrate(store)
    with caplog.at_level(logging.INFO, logger="sgs.ingest"):
        ingest(dept, "cf", engine=store, trigger="test", today=TODAY)
    refreshed = [r.getMessage() for r in caplog.records if "statistics refreshed" in r.getMessage()]
    assert [m.split("after ")[1] for m in refreshed] == ["80 rows", "160 rows", "235 rows"]
    with store.connect() as conn:
        analyzed = conn.execute(sa.text(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() AND last_analyze IS NOT NULL"
        )).scalars().all()
    assert "quarantine" in analyzed
    store.dispose()
    # SQLite plans without statistics: nothing to refresh, and nothing fails.
    sqlite = make_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(sqlite)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sgs.ingest"):
        assert ingest(dept, "cf", engine=sqlite, trigger="test", today=TODAY).status == "success"
    assert not [r for r in caplog.records if "statistics" in r.getMessage() or "ANALYZE" in r.getMessage()]
    sqlite.dispose()


def _worker_pids() -> list[int]:
    """This process's spawn children (the prepare worker)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(") ", 1)[1].split()[1])
            if ppid == os.getpid() and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                out.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return out


def test_a_worker_killed_mid_run_costs_a_warning_not_the_run(
    department: Path, pg_schema_factory: Callable[[], str], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The OOM killer takes the worker after chunk 3: the pages it held are prepared in the run's process,
    and the store ends exactly as an in-process run leaves it."""
    dept = load_department(department)
    monkeypatch.setenv("SGS_PREPARE_WORKER_AFTER", "off")
    reference = make_store_engine(pg_schema_factory())
    migrate(reference)
    ingest(dept, "cf", engine=reference, trigger="test", today=TODAY)

    monkeypatch.setenv("SGS_PREPARE_WORKER_AFTER", "0")
    store = make_store_engine(pg_schema_factory())
    migrate(store)
    killed: list[int] = []

    def on_chunk(result: object) -> None:
        if getattr(result, "chunks", 0) == 3 and not killed:
            killed.extend(_worker_pids())
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    with caplog.at_level(logging.WARNING, logger="sgs.ingest"):
        result = ingest(dept, "cf", engine=store, trigger="test", today=TODAY, on_chunk=on_chunk)
    assert killed, "no prepare worker was running after chunk 3"
    assert result.status == "success" and result.counts.reconciles and result.chunks == 6
    assert any("prepare worker failed" in r.getMessage() for r in caplog.records)
    assert store_state(store) == store_state(reference)
    reference.dispose()
    store.dispose()


def test_the_worker_reads_its_own_pages(department: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 13: once the worker runs, it reads the following pages from the department database itself; the
    run's process reads only the first page (and the one it read ahead) and sends the worker no page."""
    from sqlalchemy.engine import Engine

    dept = load_department(department)
    monkeypatch.setenv("SGS_PREPARE_WORKER_AFTER", "0")
    store = make_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(store)
    pages: list[str] = []

    def count(conn: sa.Connection, _cursor: object, statement: str, *_: object) -> None:
        if conn.dialect.name == "mysql" and "LIMIT" in statement.upper():
            pages.append(statement)

    sent: list[object] = []
    submit = PrepareProcess.submit
    monkeypatch.setattr(PrepareProcess, "submit", lambda self, *a: (sent.append(a), submit(self, *a))[1])
    sa.event.listen(Engine, "after_cursor_execute", count)
    try:
        result = ingest(dept, "cf", engine=store, trigger="test", today=TODAY)
    finally:
        sa.event.remove(Engine, "after_cursor_execute", count)
    assert result.status == "success" and result.chunks == 6 and result.counts.reconciles
    assert result.counts.quarantined == 23
    assert not sent, "a page was sent to the worker"
    assert 1 <= len(pages) <= 2, pages  # 6 pages in all: the worker read the other 4 or 5
    store.dispose()
