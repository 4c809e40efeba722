"""The department database goes away mid-run (a TCP proxy the test controls resets the connections).

The ingest must fail as *retryable* (``SourceUnavailable``; in Airflow a plain re-raise, never
``AirflowFailException``), keep the watermark at the last committed chunk (the store equals the
uninterrupted run's state after exactly those chunks), record the run as failed, and a retry must end
in the uninterrupted run's final state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.errors import SourceUnavailable
from pipeline.config import load_department
from pipeline.ingest import IngestResult, ingest
from store.db import make_store_engine, migrate
from store.schema import ingest_run
from tests.factories import create_penalty_table, write_department
from tests.faults.conftest import CHUNK_ROWS, TODAY, Reference, fault_rows
from tests.faults.harness import FaultProxy, assert_whole, run_statuses, store_state, via_proxy

pytestmark = pytest.mark.integration

PROXIED_ENV = "SGS_SRC_TESTJU_URL"  # the department testju's own variable (pipeline.config)


@pytest.fixture
def proxy(request: pytest.FixtureRequest) -> Iterator[Callable[[str], FaultProxy]]:
    made: list[FaultProxy] = []

    def make(url: str) -> FaultProxy:
        u = sa.engine.make_url(url)
        p = FaultProxy(u.host or "127.0.0.1", u.port or (3306 if u.get_backend_name() == "mysql" else 5432)).start()
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


#: Chunks ``ingest()`` may have read before the one whose commit triggers the fault: the chunk transformed
#: while the previous one loads, and the page the connector prefetches meanwhile.
READ_AHEAD = 2


def _trigger(kind: str, proxy: FaultProxy, at_chunk: int) -> Callable[[IngestResult], None]:
    """An ``on_chunk`` hook that breaks the source after chunk ``at_chunk`` committed."""

    def hook(result: IngestResult) -> None:
        if result.chunks != at_chunk:
            return
        if kind == "outage":  # the server disappears: open connections reset, new ones refused
            proxy.outage()
        elif kind == "blip":  # connections reset, the server accepts new ones at once
            proxy.drop()
        elif kind == "mid-result":  # the next page's result set is cut after a few hundred bytes
            proxy.drop_after(300)

    return hook


def _run_through_outage(
    dept_file: Path, store: Engine, proxy: FaultProxy, kind: str, at_chunk: int
) -> tuple[int, str | None]:
    """Ingest until the source breaks; returns the chunks committed and the watermark they reached."""
    dept = load_department(dept_file)
    seen: list[IngestResult] = []
    hook = _trigger(kind, proxy, at_chunk)

    def on_chunk(r: IngestResult) -> None:
        seen.append(IngestResult(r.department, r.dataset, r.run_id, r.status, chunks=r.chunks, watermark_to=r.watermark_to))
        hook(r)

    with pytest.raises(SourceUnavailable) as err:
        ingest(dept, "cf", engine=store, trigger="test", today=TODAY, on_chunk=on_chunk)
    assert dept.code in str(err.value) and "稍后重试" in str(err.value)
    assert type(err.value).transient is True
    return (seen[-1].chunks, seen[-1].watermark_to) if seen else (0, None)


@pytest.mark.parametrize(("kind", "at_chunk"), [("outage", 3), ("blip", 2), ("mid-result", 4), ("down-at-start", 0)])
def test_mariadb_outage_is_retryable_and_retry_completes(
    kind: str, at_chunk: int, reference: Reference, fault_source: str, tmp_path: Path,
    pg_store: Engine, proxy: Callable[[str], FaultProxy], monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = proxy(fault_source)
    monkeypatch.setenv(PROXIED_ENV, via_proxy(fault_source, p))
    dept_file = write_department(tmp_path, env=PROXIED_ENV, chunk_rows=CHUNK_ROWS)
    if kind == "down-at-start":
        p.refuse()
    chunks, wm = _run_through_outage(dept_file, pg_store, p, kind, at_chunk)
    # ingest() reads ahead (the next page is fetched, and the next chunk transformed, while a chunk is
    # loading): chunks read before the source broke are still committed, whole and in order.
    assert at_chunk <= chunks <= at_chunk + READ_AHEAD, chunks
    # The watermark stays where the last committed chunk put it; the store holds exactly those chunks.
    state = store_state(pg_store)
    assert state == reference.prefixes[chunks]
    assert state["watermark"] == wm
    assert_whole(pg_store)
    with pg_store.connect() as c:
        failed = c.execute(sa.select(ingest_run.c.status, ingest_run.c.error, ingest_run.c.chunks)).one()
    assert failed.status == "failed" and "SourceUnavailable" in failed.error and failed.chunks == chunks

    p.restore()
    retry = ingest(load_department(dept_file), "cf", engine=pg_store, trigger="test", today=TODAY)
    assert retry.status == "success"
    assert store_state(pg_store) == reference.final
    assert run_statuses(pg_store) == ["failed", "success"]


def test_postgresql_source_outage_is_retryable_and_retry_completes(
    pg_schema_factory: Callable[[], str], tmp_path: Path, proxy: Callable[[str], FaultProxy], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with the department database on PostgreSQL (psycopg), cut in the middle of a result set."""
    src_url = pg_schema_factory()
    src = sa.create_engine(src_url)
    with src.begin() as c:
        table = create_penalty_table(c)
        c.execute(table.insert(), fault_rows())
    src.dispose()
    stores: list[Engine] = []
    for _ in range(2):
        e = make_store_engine(pg_schema_factory())
        migrate(e)
        stores.append(e)
    reference_store, store = stores
    monkeypatch.setenv("SGS_SRC_TESTJU_URL", src_url)
    direct = tmp_path / "direct"
    direct.mkdir()
    direct_file = write_department(direct, env="SGS_SRC_TESTJU_URL", chunk_rows=CHUNK_ROWS)
    ingest(load_department(direct_file), "cf", engine=reference_store, trigger="test", today=TODAY)
    expected = store_state(reference_store)

    p = proxy(src_url)
    monkeypatch.setenv(PROXIED_ENV, via_proxy(src_url, p))
    dept_file = write_department(tmp_path, env=PROXIED_ENV, chunk_rows=CHUNK_ROWS)
    chunks, wm = _run_through_outage(dept_file, store, p, "mid-result", 3)
    assert 3 <= chunks <= 3 + READ_AHEAD and store_state(store)["watermark"] == wm
    assert_whole(store)
    p.restore()
    ingest(load_department(dept_file), "cf", engine=store, trigger="test", today=TODAY)
    assert store_state(store) == expected
    for e in stores:
        e.dispose()


def test_airflow_task_retries_a_source_outage_and_fails_a_config_error(
    fault_source: str, tmp_path: Path, pg_schema_url: str, proxy: Callable[[str], FaultProxy],
    monkeypatch: pytest.MonkeyPatch, reference: Reference,
) -> None:
    """Through ``pipeline.tasks.ingest_task``: an outage re-raises SourceUnavailable (Airflow retries with
    back-off); a missing table raises AirflowFailException (no retry can fix it); the retry completes."""
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.tasks import ingest_task

    p = proxy(fault_source)
    monkeypatch.setenv(PROXIED_ENV, via_proxy(fault_source, p))
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(tmp_path))
    monkeypatch.setenv("SGS_STORE_URL", pg_schema_url)
    path = write_department(tmp_path, env=PROXIED_ENV, chunk_rows=CHUNK_ROWS)
    code = path.stem

    p.refuse()
    with pytest.raises(SourceUnavailable):
        ingest_task(code, "cf")
    p.restore()

    broken = path.read_text(encoding="utf-8").replace("table: t_xzcf", "table: t_missing")
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(AirflowFailException) as err:
        ingest_task(code, "cf")
    assert "t_missing" in str(err.value)
    path.write_text(broken.replace("table: t_missing", "table: t_xzcf"), encoding="utf-8")

    out: dict[str, Any] = ingest_task(code, "cf")
    assert out["status"] == "success" and out["read"] == out["inserted"] + out["updated"] + out["unchanged"] + out["quarantined"]
    store = make_store_engine(pg_schema_url)
    assert store_state(store) == reference.final
    store.dispose()


@pytest.mark.airflow
def test_dag_test_retries_a_refused_source_and_the_retry_completes(
    fault_source: str, tmp_path: Path, pg_schema_url: str, proxy: Callable[[str], FaultProxy],
    monkeypatch: pytest.MonkeyPatch, reference: Reference,
) -> None:
    """Airflow's own retry, exercised (issue 18 item 5): the department DAG runs under ``dag.test()`` with the
    source behind the fault proxy, refused. The first try fails (the run is recorded ``failed``); a watcher
    restores the source once it sees that; Airflow's scheduler loop in ``dag.test()`` puts the task up for
    retry and runs it again after ``retry_delay``; the second try ends in the uninterrupted run's state."""
    import threading
    import time

    p = proxy(fault_source)
    monkeypatch.setenv(PROXIED_ENV, via_proxy(fault_source, p))
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(tmp_path))
    monkeypatch.setenv("SGS_STORE_URL", pg_schema_url)
    monkeypatch.setenv("SGS_RETRY_DELAY", "1")  # read when the DAG file is parsed (dags/sgs_ingest.py)
    path = write_department(tmp_path, env=PROXIED_ENV, chunk_rows=CHUNK_ROWS)
    code = path.stem
    store = make_store_engine(pg_schema_url)
    migrate(store)

    p.refuse()
    restored = threading.Event()
    failed_runs: list[int] = []

    def restore_after_the_first_failure() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not restored.is_set():
            with store.connect() as c:
                failed_runs[:] = c.execute(sa.select(ingest_run.c.id).where(ingest_run.c.status == "failed")).scalars().all()
            if failed_runs:
                p.restore()
                restored.set()
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=restore_after_the_first_failure, daemon=True)
    watcher.start()

    from airflow.dag_processing.dagbag import DagBag

    from pipeline import airflow_env

    airflow_env.migrate_metadata_db()
    dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags")).dags[f"sgs_ingest_{code}"]
    assert dag.default_args["retries"] >= 1 and dag.default_args["retry_delay"].total_seconds() == 1
    run = dag.test()
    watcher.join(timeout=5)
    assert restored.is_set(), "the first try never failed: the source was not refused"
    assert str(run.state) in ("success", "DagRunState.SUCCESS"), run.state
    (ti,) = [t for t in run.get_task_instances() if t.task_id == "ingest_cf"]
    assert str(ti.state) in ("success", "TaskInstanceState.SUCCESS") and ti.try_number == 2, (ti.state, ti.try_number)

    assert run_statuses(store) == ["failed", "success"]
    assert store_state(store) == reference.final  # records, history, quarantine, pending changes and the watermark
    with store.connect() as c:
        error = c.execute(sa.select(ingest_run.c.error).where(ingest_run.c.id == failed_runs[0])).scalar_one()
    assert "稍后重试" in error or "SourceUnavailable" in error, error
    store.dispose()
