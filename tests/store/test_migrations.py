"""Migrations: the head schema is the model in store/schema.py, and 0005 (outbox payload read from the
record's history) keeps every entry's national values, both ways, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from store.db import alembic_config, make_store_engine, migrate
from store.schema import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    factory: Callable[[], str] = request.getfixturevalue("pg_schema_factory")
    return factory()


def _to(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    with engine.begin() as conn:
        cfg = alembic_config(engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def _version_and_entry_at_0004(engine: sa.Engine, version_payload: str, outbox_payload: str) -> None:
    """The store at revision 0004 with one record version and its outbox entry (each with its payload)."""
    _to(engine, "0004")
    now = dt.datetime(2026, 11, 29, 5, 0, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO record_version (dataset, business_key, version, operation, department, source_pk,"
            " content_hash, payload, run_id, loaded_at) VALUES ('cf', 'K|1', 1, 'I', 'testju', '[1]', 'h', :p, 1, :t)"
        ), {"p": version_payload, "t": now})
        conn.execute(sa.text(
            "INSERT INTO outbox (idempotency_key, dataset, business_key, version, operation, department, payload,"
            " state, attempts, created_at, run_id) VALUES ('ik1', 'cf', 'K|1', 1, 'I', 'testju', :p, 'pending', 0, :t, 1)"
        ), {"p": outbox_payload, "t": now})


def test_head_schema_is_the_model(empty_store_url: str) -> None:
    engine = make_store_engine(empty_store_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
        # Index and comment details differ by dialect; tables and columns must not.
        structural = [d for d in diffs if isinstance(d, tuple) and d[0] in ("add_table", "remove_table", "add_column", "remove_column")]
        assert structural == []
    finally:
        engine.dispose()


def test_0005_moves_outbox_payload_to_the_record_version_and_back(empty_store_url: str) -> None:
    engine = make_store_engine(empty_store_url)
    payload = json.dumps({"CF_WSH": "杭市监罚决〔2025〕1号", "CF_NR_FK": "2000"}, ensure_ascii=False)
    try:
        _version_and_entry_at_0004(engine, payload, payload)
        _to(engine, "0005")
        with engine.connect() as conn:
            assert "payload" not in {c["name"] for c in sa.inspect(conn).get_columns("outbox")}
            rows = conn.execute(sa.text(
                "SELECT o.idempotency_key, v.payload FROM outbox o JOIN record_version v ON v.dataset = o.dataset"
                " AND v.business_key = o.business_key AND v.version = o.version"
            )).all()
            assert [(r.idempotency_key, r.payload) for r in rows] == [("ik1", payload)]
            assert conn.execute(sa.text("SELECT COUNT(*) FROM record_version")).scalar_one() == 1
        _to(engine, "0004", down=True)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT payload FROM outbox WHERE idempotency_key = 'ik1'")).scalar_one() == payload
            assert {c["name"]: c["nullable"] for c in sa.inspect(conn).get_columns("outbox")}["payload"] is False
    finally:
        engine.dispose()


def test_0005_refuses_to_drop_a_payload_its_version_does_not_hold(empty_store_url: str) -> None:
    engine = make_store_engine(empty_store_url)
    try:
        _version_and_entry_at_0004(engine, "{}", '{"changed": 1}')
        with pytest.raises(RuntimeError, match="1 outbox rows"):
            _to(engine, "0005")
        with engine.connect() as conn:  # rolled back: the payload is still there
            assert conn.execute(sa.text("SELECT payload FROM outbox")).scalar_one() == '{"changed": 1}'
    finally:
        engine.dispose()
