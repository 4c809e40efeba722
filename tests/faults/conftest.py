"""Fixtures of the fault suite: one MariaDB department table and one uninterrupted reference run per module.

The reference run records the central state after every committed chunk (its *prefixes*): a store left
behind by a kill or an outage must equal one of them (whole chunks only), and the store after the re-run
must equal the last one.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.conftest import MARIADB_URL, PG_URL
from tests.factories import create_penalty_table, penalty_rows, write_department
from tests.faults.harness import store_state

#: Source rows: 60 generated (every 10th with a wrong check digit) + 6 later corrections of earlier
#: decisions (same 文书号 = same business key), more than the look-back apart from the row they correct.
N_BASE = 60
CORRECTED = [5, 15, 25, 35, 10, 45]  # row 10 was bad: its correction fixes the open quarantine entry
CHUNK_ROWS = 7
SAME_CURSOR = (12, 16)  # ids 12..16 share one cursor value, across the boundary of chunks 2 and 3
SOURCE_ENV = "SGS_SRC_TESTJU_URL"  # the department testju's own variable (pipeline.config)
TODAY = dt.date(2026, 11, 28)


def fault_rows() -> list[dict[str, Any]]:
    rows = penalty_rows(N_BASE, seed=7)
    fixes = penalty_rows(len(CORRECTED), seed=8, bad_every=0, start_id=N_BASE + 1)
    for row, k in zip(fixes, CORRECTED, strict=True):
        row["wsh"] = f"杭市监罚决〔2025〕{k}号"
        row["nr"] = "罚款2000元（更正）"
    # A group of rows sharing one cursor value across a page boundary (chunks of 7: ids 8–14 and 15–21): the
    # keyset on (cursor, primary key) must neither skip nor repeat any of them, also after a kill between them.
    for row in rows[SAME_CURSOR[0] - 1:SAME_CURSOR[1]]:
        row["gxsj"] = rows[SAME_CURSOR[0] - 1]["gxsj"]
    return rows + fixes


@dataclass
class Reference:
    """An uninterrupted run: the state after each chunk, the final state, and what it cost."""

    prefixes: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    store_statements: int = 0
    store_commits: int = 0
    source_statements: int = 0
    seconds: float = 0.0
    chunks: int = 0


@pytest.fixture(scope="module")
def module_pg_schemas() -> Iterator[Callable[[], str]]:
    """Like ``pg_schema_factory``, for module-scoped fixtures."""
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"sgs_fault_{uuid.uuid4().hex[:10]}"
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        made.append(name)
        url = sa.engine.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={name}"})
        return url.render_as_string(hide_password=False)

    yield make
    with admin.connect() as c:
        for name in made:
            c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="module")
def fault_source() -> Iterator[str]:
    """A MariaDB database with the department table; its URL is in ``SGS_SRC_TESTJU_URL``."""
    name = f"sgs_fault_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(MARIADB_URL)
    with admin.begin() as c:
        c.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = sa.engine.make_url(MARIADB_URL).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    with engine.begin() as c:
        table = create_penalty_table(c)
        c.execute(table.insert(), fault_rows())
    engine.dispose()
    old = os.environ.get(SOURCE_ENV)
    os.environ[SOURCE_ENV] = url
    try:
        yield url
    finally:
        if old is None:
            os.environ.pop(SOURCE_ENV, None)
        else:
            os.environ[SOURCE_ENV] = old
        with admin.begin() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(scope="module")
def department_file(fault_source: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_department(tmp_path_factory.mktemp("departments"), env=SOURCE_ENV, chunk_rows=CHUNK_ROWS)


@pytest.fixture(scope="module")
def reference(department_file: Path, module_pg_schemas: Callable[[], str]) -> Reference:
    """One uninterrupted ingest into a PostgreSQL store, watched: the state after each chunk and the
    statements it took."""
    return watched_reference(department_file, module_pg_schemas())


@pytest.fixture(scope="module")
def sqlite_reference(department_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The same into a SQLite store (the embedded default): its typed values come back as SQLite gives them,
    so a SQLite store is compared with a SQLite reference."""
    return watched_reference(department_file, f"sqlite:///{tmp_path_factory.mktemp('sqlite-reference') / 'store.db'}")


def watched_reference(department_file: Path, store_url: str) -> Reference:
    from pipeline.config import load_department
    from pipeline.ingest import ingest
    from store.db import make_store_engine, migrate

    store = make_store_engine(store_url)
    migrate(store)
    ref = Reference()
    ref.prefixes.append(store_state(store))
    watching = True  # off while the hook below reads the store: those reads are not the ingest's

    def count_store(*_: Any) -> None:
        if watching:
            ref.store_statements += 1

    def snapshot(_: Any) -> None:
        nonlocal watching
        watching = False
        ref.prefixes.append(store_state(store))
        watching = True

    def count_commit(*_: Any) -> None:
        ref.store_commits += 1

    def count_source(conn: sa.Connection, *_: Any) -> None:
        if conn.dialect.name == "mysql":
            ref.source_statements += 1

    sa.event.listen(store, "before_cursor_execute", count_store)
    sa.event.listen(store, "commit", count_commit)
    sa.event.listen(Engine, "after_cursor_execute", count_source)
    try:
        t0 = time.perf_counter()
        result = ingest(
            load_department(department_file), "cf", engine=store, trigger="test", today=TODAY,
            on_chunk=snapshot,
        )
        ref.seconds = time.perf_counter() - t0
    finally:
        sa.event.remove(Engine, "after_cursor_execute", count_source)
        sa.event.remove(store, "before_cursor_execute", count_store)
        sa.event.remove(store, "commit", count_commit)
    assert result.status == "success" and result.counts.reconciles
    ref.chunks = result.chunks
    ref.final = store_state(store)
    assert ref.final == ref.prefixes[-1]
    store.dispose()
    return ref
