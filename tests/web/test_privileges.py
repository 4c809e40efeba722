"""Least privilege of the public column: on PostgreSQL the role from ``sgs store grant-public`` reads the read
model and nothing else; on SQLite the app opens the file read-only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from store.published import grant_public
from tests.web.records import load, penalty
from web.public import PublicStoreMissing, create_app, public_engine


@pytest.fixture
def role(pg_store: Engine) -> Iterator[str]:
    """A uniquely named role (roles are cluster-wide), dropped afterwards."""
    name = f"sgs_public_test_{uuid.uuid4().hex[:8]}"
    yield name
    with pg_store.begin() as c:
        if c.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name}).first():
            c.execute(sa.text(f'DROP OWNED BY "{name}"'))
            c.execute(sa.text(f'DROP ROLE "{name}"'))


def as_role(store: Engine, role: str) -> str:
    """The store's URL (its schema) logged in as ``role`` (the test server trusts local connections)."""
    return store.url.set(username=role, password=None).render_as_string(hide_password=False)


def test_public_role_reads_only_the_read_model(pg_store: Engine, role: str) -> None:
    load(pg_store, "cf", [penalty(1), penalty(2)])
    with pg_store.begin() as c:
        r = grant_public(c, role, password="only-for-this-test")
    assert r["created"] and r["login"] and r["tables"] == ["published_cf", "published_xk"]
    with pg_store.begin() as c:  # idempotent: a second run updates the role
        assert grant_public(c, role, password="only-for-this-test")["created"] is False

    public = sa.create_engine(as_role(pg_store, role))
    try:
        with public.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM published_cf")).scalar_one() == 2
            assert c.execute(sa.text("SELECT count(*) FROM published_xk")).scalar_one() == 0
        for table in ("record_cf", "record_xk", "record_version", "quarantine", "watermark", "push_batch", "ingest_run"):
            with public.connect() as c, pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                c.execute(sa.text(f"SELECT * FROM {table} LIMIT 1"))
        with public.connect() as c, pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            c.execute(sa.text("DELETE FROM published_cf"))
    finally:
        public.dispose()

    # The app as that role (SGS_PUBLIC_STORE_URL): it works, and its sessions are read-only besides.
    engine = public_engine(as_role(pg_store, role))
    with TestClient(create_app(engine)) as client:
        assert len(client.get("/api/v1/cf").json()["items"]) == 2
    with engine.connect() as c:
        assert c.execute(sa.text("SHOW transaction_read_only")).scalar_one() == "on"
    engine.dispose()


def test_nologin_role_without_a_password(pg_store: Engine, role: str) -> None:
    with pg_store.begin() as c:
        assert grant_public(c, role)["login"] is False
    with pg_store.connect() as c:
        assert c.execute(sa.text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar_one() is False
        c.execute(sa.text(f'SET ROLE "{role}"'))
        assert c.execute(sa.text("SELECT count(*) FROM published_cf")).scalar_one() == 0
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            c.execute(sa.text("SELECT * FROM record_version"))


def test_cli_grant_public(pg_store: Engine, role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.cli import app

    monkeypatch.setenv("SGS_STORE_URL", pg_store.url.render_as_string(hide_password=False))
    monkeypatch.setenv("SGS_PUBLIC_ROLE_PASSWORD", "pw-for-test")
    result = CliRunner().invoke(app, ["store", "grant-public", "--role", role])
    assert result.exit_code == 0, result.output
    assert role in result.output and "可登录" in result.output and "pw-for-test" not in result.output


def test_sqlite_store_is_opened_read_only(sqlite_store: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    load(sqlite_store, "cf", [penalty(1)])
    engine = public_engine(sqlite_store.url.render_as_string(hide_password=False))
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM published_cf")).scalar_one() == 1
        with pytest.raises(sa.exc.OperationalError, match="readonly"):
            c.execute(sa.text("DELETE FROM published_cf"))
    engine.dispose()
    with pytest.raises(PublicStoreMissing, match="不存在"):
        public_engine(f"sqlite:///{tmp_path / 'nothing-here.db'}")
    assert not (tmp_path / "nothing-here.db").exists()


def test_cli_rebuild_public(sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.cli import app
    from store.schema import published_tables

    load(sqlite_store, "cf", [penalty(1), penalty(2)])
    with sqlite_store.begin() as c:
        c.execute(published_tables["cf"].delete())
    monkeypatch.setenv("SGS_STORE_URL", sqlite_store.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(app, ["store", "rebuild-public"])
    assert result.exit_code == 0, result.output
    assert "行政处罚 2 条" in result.output
    with sqlite_store.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(published_tables["cf"])).scalar_one() == 2
