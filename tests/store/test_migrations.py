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
from store.schema import PUBLISHED_FTS, metadata


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
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        # Tables, columns, types, nullability, indexes and unique constraints must all agree; only comments
        # may differ (the migrations do not repeat every comment of store/schema.py; SQLite has none).
        # A diff is a tuple (add_index, …) or a list of column-level tuples (modify_type, modify_comment, …).
        # SQLite's FTS5 tables of the public column and their shadow tables are not in the model
        # (store.schema.PUBLISHED_FTS): they may show as tables the model does not have, nothing else.
        fts = tuple(PUBLISHED_FTS.values())
        # Nor are the trigram indexes of their names, which migration 0007 creates on PostgreSQL only where the
        # pg_trgm extension can be had (docs/public.md).
        flat = [x for d in diffs for x in ([d] if isinstance(d, tuple) else d)
                if not (x[0] == "remove_table" and x[1].name.startswith(fts))
                and not (x[0] == "remove_index" and x[1].name.endswith("_party_name_trgm"))]
        not_comments = [x for x in flat if x[0] not in ("modify_comment", "add_table_comment", "remove_table_comment")]
        assert not_comments == [], not_comments
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


def _store_at_0005(engine: sa.Engine) -> dict[str, str]:
    """A store at 0005 with an all-versions history and outbox rows in every state; returns hex hashes by key."""
    _to(engine, "0005")
    t = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    hashes = {}
    records = [  # (dataset, key, versions [(op, outbox state or None)], status)
        ("cf", "U|1", [("I", "accepted"), ("U", "accepted")], "active"),  # answered: nothing to send
        ("cf", "U|2", [("I", "accepted"), ("U", "pending")], "active"),  # v2 waiting: still sent after
        ("cf", "U|3", [("I", "rejected")], "active"),  # rejected: one rejection row
        ("cf", "U|4", [("I", "sent")], "active"),  # sent, no receipt: sent again (same key)
        ("cf", "U|5", [("I", "accepted"), ("D", "pending"), ("U", None)], "withdrawn"),  # D waiting, then a history-only U
        ("xk", "X|1|L", [("I", "accepted")], "active"),
    ]
    with engine.begin() as conn:
        oid = 0
        for rec_id, (ds, key, versions, status) in enumerate(records, 1):
            for n, (op, state) in enumerate(versions, 1):
                h = f"{rec_id:02d}{n:02d}" + "ab" * 30
                conn.execute(sa.text(
                    "INSERT INTO record_version (dataset, business_key, version, operation, department, source_pk,"
                    " content_hash, payload, run_id, loaded_at) VALUES (:ds, :k, :v, :op, 'testju', :pk, :h, :p, 1, :t)"
                ), {"ds": ds, "k": key, "v": n, "op": op, "pk": f'["{key}"]', "h": h, "p": json.dumps({"n": n}), "t": t})
                if state is not None:
                    oid += 1
                    conn.execute(sa.text(
                        "INSERT INTO outbox (idempotency_key, dataset, business_key, version, operation, department, state,"
                        " attempts, created_at, sent_at, receipt_at, receipt_code, receipt_message, batch_id, run_id)"
                        " VALUES (:ik, :ds, :k, :v, :op, 'testju', :s, 1, :t, :t, :t, :code, :msg, :b, 1)"
                    ), {"ik": f"ik{oid}", "ds": ds, "k": key, "v": n, "op": op, "s": state, "t": t,
                        "code": "PROV-103" if state == "rejected" else None, "msg": "测试数据" if state == "rejected" else None,
                        "b": None if state == "pending" else "batch-1"})
            hashes[key] = h
            conn.execute(sa.text(
                f"INSERT INTO record_{ds} (business_key, department, source_pk, content_hash, version, status,"
                " first_loaded_at, updated_at, run_id) VALUES (:k, 'testju', :pk, :h, :v, :st, :t, :t, 1)"
            ), {"k": key, "pk": f'["{key}"]', "h": hashes[key], "v": len(versions), "st": status, "t": t})
    return hashes


def test_0006_moves_history_outbox_and_hashes_without_losing_a_version_or_a_pending_push(empty_store_url: str) -> None:
    from store import changelog, history

    engine = make_store_engine(empty_store_url)
    try:
        hashes = _store_at_0005(engine)
        _to(engine, "head")
        with engine.connect() as conn:
            assert "outbox" not in sa.inspect(conn).get_table_names()
            # Every version is still there: the superseded ones in the history, the current one in the record.
            kept = sorted(tuple(r) for r in conn.execute(sa.text("SELECT business_key, version, operation FROM record_version")))
            assert kept == [("U|1", 1, "I"), ("U|2", 1, "I"), ("U|5", 1, "I"), ("U|5", 2, "D")]
            assert [(v["version"], v["operation"]) for v in history.versions(conn, "cf", "U|5")] == [(1, "I"), (2, "D"), (3, "U")]
            assert history.version_of(conn, "cf", "U|2", 1)["payload"] == {"n": 1}  # type: ignore[index]
            rec = conn.execute(sa.text("SELECT business_key, content_hash, operation, province_version, province_op FROM record_cf")).all()
            assert {r.business_key: bytes(r.content_hash) for r in rec} == {
                k: bytes.fromhex(h[:32]) for k, h in hashes.items() if not k.startswith("X")}
            assert {r.business_key: (r.operation, r.province_version, r.province_op) for r in rec} == {
                "U|1": ("U", 2, "U"), "U|2": ("U", 1, "I"), "U|3": ("I", None, None), "U|4": ("I", None, None), "U|5": ("U", 1, "I")}
            states = {r["business_key"]: r["state"] for ds in ("cf", "xk") for r in changelog.delivery_states(conn, ds)}
            assert states == {"U|1": "accepted", "U|2": "pending", "U|3": "rejected", "U|4": "pending", "U|5": "pending",
                              "X|1|L": "accepted"}
            rejection = conn.execute(sa.text("SELECT business_key, version, code, message FROM push_rejection")).one()
            assert tuple(rejection) == ("U|3", 1, "PROV-103", "测试数据")
        # The waiting changes go out: U|2 as an update, U|4 again as an insert (same key as before), U|5 as D.
        upto = changelog.horizon(engine)
        with engine.begin() as conn:
            taken = changelog.read_changes(conn, "cf", changelog.position(conn, "cf"), upto, 100, set())
            assert sorted((c.business_key, c.version, op) for c, op in taken.changes) == [
                ("U|2", 2, "U"), ("U|4", 1, "I"), ("U|5", 3, "D")]
            # New changes take values above every migrated one (PostgreSQL: the sequence starts after them).
            assert changelog.next_seqs(conn, 1)[0] > upto
    finally:
        engine.dispose()
