"""The central PostgreSQL goes away during a load (a TCP proxy in front of the store resets and refuses).

Nothing may be half-written: the store, read directly afterwards, equals the uninterrupted run's state
after some whole number of chunks (records, history, change sequence, quarantine and watermark of a chunk commit
together or not at all); the run is left ``running`` (the store could not be told otherwise) and the next
run marks it ``interrupted``; that next run ends in the uninterrupted run's final state. In Airflow the
error is a plain exception (retried), never ``AirflowFailException``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import load_department
from pipeline.ingest import ingest
from store.db import make_store_engine, migrate
from tests.faults.conftest import TODAY, Reference
from tests.faults.harness import FaultProxy, assert_whole, describe, is_one_of, run_statuses, store_state, via_proxy

pytestmark = pytest.mark.integration


@pytest.fixture
def store_proxy(pg_schema_url: str) -> Iterator[tuple[FaultProxy, Engine, Engine]]:
    """(proxy, the store's engine through the proxy, a direct engine to inspect the same schema)."""
    u = sa.engine.make_url(pg_schema_url)
    proxy = FaultProxy(u.host or "127.0.0.1", u.port or 5432).start()
    through = make_store_engine(via_proxy(pg_schema_url, proxy))
    migrate(through)
    direct = make_store_engine(pg_schema_url)
    yield proxy, through, direct
    proxy.close()
    through.dispose()
    direct.dispose()


@pytest.mark.parametrize(
    ("event", "at"),
    [
        ("statement", 0.0),  # opening the run
        ("statement", 0.18),  # inside the first chunks' transactions (share of the reference run's statements)
        ("statement", 0.5),
        ("statement", 0.8),
        ("statement", 0.97),  # late in the run
        ("copy", 1),  # just before the first bulk COPY (PostgreSQL store: rows are written by COPY)
        ("copy", 9),  # a COPY of a later chunk
        ("commit", 4),  # the chunk fully written, its COMMIT never arrives
        ("refused", 0),  # the store is down before the run starts
    ],
)
def test_store_outage_leaves_whole_chunks_and_next_run_completes(
    event: str, at: float, reference: Reference, department_file: Path, store_proxy: tuple[FaultProxy, Engine, Engine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy, through, direct = store_proxy
    hits = 0
    n = max(1, round(at * reference.store_statements)) if event == "statement" else int(at)
    assert event != "statement" or n <= reference.store_statements

    def maybe_cut(*_: Any) -> None:
        nonlocal hits
        hits += 1
        if hits == n:
            proxy.outage()

    dept = load_department(department_file)
    hooked = event in ("statement", "commit")
    patches = contextlib.ExitStack()
    if event == "refused":
        proxy.outage()
    elif event == "copy":
        from store import bulk

        real_copy = bulk._copy

        def cut_copy(*args: Any, **kwargs: Any) -> None:
            maybe_cut()
            real_copy(*args, **kwargs)

        # Restored in the finally below, not by monkeypatch.undo(): that would also undo the autouse
        # isolation of tests/conftest.py (SGS_VAR_DIR, SGS_STORE_URL) in the middle of the test.
        patches.enter_context(monkeypatch.context()).setattr(bulk, "_copy", cut_copy)
    else:
        sa.event.listen(through, "before_cursor_execute" if event == "statement" else "commit", maybe_cut)
    try:
        with pytest.raises(Exception) as err:  # noqa: B017 - whatever the driver raises; checked below
            ingest(dept, "cf", engine=through, trigger="test", today=TODAY)
    finally:
        if hooked:
            sa.event.remove(through, "before_cursor_execute" if event == "statement" else "commit", maybe_cut)
        patches.close()
    assert isinstance(err.value, sa.exc.DBAPIError), repr(err.value)
    assert err.value.connection_invalidated or isinstance(err.value, sa.exc.OperationalError)

    state = store_state(direct)
    at = is_one_of(state, reference.prefixes)
    assert at is not None, f"half-written store after a store outage: {describe(state)}"
    assert_whole(direct)
    statuses = run_statuses(direct)
    assert statuses in ([], ["running"]), statuses  # could not be marked failed: the store was gone

    proxy.restore()
    rerun = ingest(dept, "cf", engine=through, trigger="test", today=TODAY)
    assert rerun.status == "success"
    assert store_state(direct) == reference.final
    assert_whole(direct)
    assert run_statuses(direct) == (["interrupted", "success"] if statuses else ["success"])


def test_airflow_task_retries_a_store_outage(
    department_file: Path, store_proxy: tuple[FaultProxy, Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.tasks import ingest_task

    proxy, through, _direct = store_proxy
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(department_file.parent))
    monkeypatch.setenv("SGS_STORE_URL", through.url.render_as_string(hide_password=False))
    proxy.outage()
    with pytest.raises(Exception) as err:  # noqa: B017
        ingest_task(department_file.stem, "cf")
    assert not isinstance(err.value, AirflowFailException)
    assert isinstance(err.value, sa.exc.OperationalError)
