"""Shared fixtures: throwaway schemas/databases on the machine's real PostgreSQL and MariaDB.

Integration tests fail (not skip) when a server is down: `.ci/run` and `make test` start them.
Override the servers with SGS_TEST_PG_URL / SGS_TEST_MARIADB_URL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.cdp import Browser

# Airflow reads its configuration when first imported: point it at a throwaway home for the whole session.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="sgs-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

PG_URL = os.environ.get("SGS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MARIADB_URL = os.environ.get("SGS_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4")
ROOT = Path(__file__).resolve().parents[1]


def pytest_unconfigure(config: pytest.Config) -> None:
    """The throwaway Airflow home goes with the session (xdist workers each have their own)."""
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes into the checkout's var/ or the real central store."""
    var = tmp_path_factory.mktemp("var")
    monkeypatch.setenv("SGS_VAR_DIR", str(var))
    monkeypatch.setenv("SGS_INBOX_DIR", str(var / "inbox"))
    monkeypatch.delenv("SGS_STORE_URL", raising=False)


@pytest.fixture
def pg_schema_factory() -> Iterator[Callable[[], str]]:
    """Makes fresh PostgreSQL schemas, each as a URL whose search_path points at it; all dropped afterwards."""
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"sgs_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        made.append(name)
        url = sa.engine.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={name}"})
        return url.render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as c:
            for name in made:
                c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_schema_url(pg_schema_factory: Callable[[], str]) -> str:
    """A fresh PostgreSQL schema as a URL (search_path); dropped afterwards."""
    return pg_schema_factory()


@pytest.fixture
def pg_store(pg_schema_url: str) -> Iterator[Engine]:
    from store.db import make_store_engine, migrate

    engine = make_store_engine(pg_schema_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    from store.db import make_store_engine, migrate

    engine = make_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Engine:
    """The central store on both backends the project supports out of the box."""
    return request.getfixturevalue("sqlite_store" if request.param == "sqlite" else "pg_store")


@pytest.fixture
def mariadb_db() -> Iterator[str]:
    """A fresh MariaDB database; yields its SQLAlchemy URL; dropped afterwards."""
    name = f"sgs_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(MARIADB_URL)
    with admin.begin() as c:
        c.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = sa.engine.make_url(MARIADB_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """Headless Chromium (tests/cdp.py) with a profile of its own, closed after the test."""
    b = Browser(tmp_path / "chromium-profile")
    try:
        yield b
    finally:
        b.close()
