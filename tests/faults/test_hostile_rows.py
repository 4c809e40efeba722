"""Hostile rows in a real MariaDB department table → the central PostgreSQL store.

The batch must never crash: each row is loaded or quarantined with rule ids and a message, the run's
reconciliation holds, and no natural person's ID number appears in any log line or error message.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import load_department
from pipeline.ingest import ingest
from store.schema import ingest_run, quarantine, record_tables
from tests.factories import create_penalty_table, penalty_rows, write_department
from tests.faults.conftest import TODAY
from tests.faults.harness import assert_whole, leaked_ids
from tests.faults.hostile import HOSTILE_DDL, WRONG_TYPES_DDL, fill, hostile_rows, wrong_type_rows

pytestmark = pytest.mark.integration


def _quarantined(store: Engine) -> dict[int, dict[str, object]]:
    with store.connect() as c:
        rows = c.execute(sa.select(quarantine.c.source_pk, quarantine.c.rule_ids, quarantine.c.issues, quarantine.c.status)).all()
    return {json.loads(r.source_pk)[0]: {"rules": r.rule_ids, "issues": json.loads(r.issues), "status": r.status} for r in rows}


def _loaded(store: Engine) -> dict[int, dict[str, object]]:
    rec = record_tables["cf"]
    with store.connect() as c:
        rows = c.execute(sa.select(rec)).mappings().all()
    return {json.loads(r["source_pk"])[0]: dict(r) for r in rows}


def test_hostile_rows_are_quarantined_with_reasons_and_nothing_leaks(
    mariadb_db: str, pg_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rows, kinds = hostile_rows()
    fill(mariadb_db, HOSTILE_DDL, rows)
    monkeypatch.setenv("SGS_FAULT_HOSTILE_URL", mariadb_db)
    dept = load_department(write_department(tmp_path, env="SGS_FAULT_HOSTILE_URL", chunk_rows=16))
    caplog.set_level(logging.DEBUG)

    result = ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)

    c = result.counts
    assert result.status == "success"
    assert c.read == len(rows) and c.reconciles, c.as_dict()
    assert_whole(pg_store)
    q, loaded = _quarantined(pg_store), _loaded(pg_store)
    # Every source row is accounted for: loaded (possibly as a later version of a duplicate) or quarantined.
    dup_ids = set(kinds["duplicate"])
    assert set(q) | set(loaded) | dup_ids == {r["id"] for r in rows}
    for pk, entry in q.items():
        assert entry["rules"], f"row {pk} quarantined without a rule id"
        assert all(i["message"] and i["rule"] for i in entry["issues"]), entry  # type: ignore[union-attr]

    for kind in ("zero-date", "null-key", "types", "control", "nul"):
        for pk in kinds[kind]:
            assert pk in q, f"{kind} row {pk} was not quarantined (loaded: {pk in loaded})"
    for pk in kinds["nul"]:  # NUL → U+FFFD → the character rule (乱码), never a failed chunk
        assert "CHR" in str(q[pk]["rules"]), q[pk]
    for pk in kinds["huge"]:  # 100 KB text breaks the length rules
        assert pk in q and "LEN" in str(q[pk]["rules"]), q.get(pk)
    for pk in kinds["good"]:
        assert pk in loaded
    # Emoji and SQL-looking text are data: kept verbatim (loaded or quarantined for other reasons, never run).
    sql_row = next(r for r in rows if r["wsh"] == "'; DROP TABLE record_cf; --")
    assert sql_row["id"] in loaded or sql_row["id"] in q
    emoji = next(r for r in rows if r["id"] in kinds["emoji"])
    if emoji["id"] in loaded:
        assert loaded[emoji["id"]]["cf_xdr_mc"] == "张三😀"
    # Legacy GBK bytes are decoded, undecodable bytes do not crash the batch.
    gbk_row = kinds["bytes"][1]
    assert gbk_row in loaded and loaded[gbk_row]["cf_nr"] == "罚款两千元", (gbk_row in q and q[gbk_row])
    # Duplicate keys in one batch: one record, the identical re-send unchanged, the change a new version.
    rec = [r for r in loaded.values() if r["cf_wsh"] == "杭市监罚决〔2025〕DUP号"]
    assert len(rec) == 1 and rec[0]["version"] == 2 and rec[0]["cf_nr"] == "罚款3000元"

    ids = [r["zjhm"] for r in rows if r.get("zjhm")]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert leaked_ids(logged, ids) == [], "ID numbers in log lines"
    messages = json.dumps([e["issues"] for e in q.values()], ensure_ascii=False)
    assert leaked_ids(messages, ids) == [], "ID numbers in quarantine messages"
    with pg_store.connect() as conn:
        runs = conn.execute(sa.select(ingest_run.c.error, ingest_run.c.rule_failures)).all()
    assert leaked_ids(" ".join(f"{e} {f}" for e, f in runs), ids) == []


def test_wrong_sql_type_in_every_column_is_quarantined_not_crashed(
    mariadb_db: str, pg_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = wrong_type_rows()
    fill(mariadb_db, WRONG_TYPES_DDL, rows)
    monkeypatch.setenv("SGS_FAULT_HOSTILE_URL", mariadb_db)
    dept = load_department(write_department(tmp_path, env="SGS_FAULT_HOSTILE_URL", chunk_rows=16))
    result = ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)
    assert result.status == "success" and result.counts.reconciles
    assert result.counts.read == len(rows)
    assert result.counts.quarantined == len(rows), result.counts.as_dict()
    assert all(e["rules"] for e in _quarantined(pg_store).values())
    assert_whole(pg_store)


@pytest.mark.integration
def test_zero_datetime_in_the_cursor_column_does_not_stop_the_run(
    mariadb_db: str, pg_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant 1 and 7: a MariaDB zero date-time ``0000-00-00 00:00:00`` in the cursor column (legacy
    servers allow it) must be quarantined or named in a clear error, and must not corrupt the watermark."""
    rows = penalty_rows(10, seed=7, bad_every=0)
    engine = sa.create_engine(mariadb_db)
    with engine.begin() as c:
        c.execute(sa.text("SET SESSION sql_mode = ''"))
        c.execute(create_penalty_table(c).insert(), rows)
        c.execute(sa.text("UPDATE t_xzcf SET gxsj = '0000-00-00 00:00:00' WHERE id = 3"))
    engine.dispose()
    monkeypatch.setenv("SGS_TEST_SOURCE_URL", mariadb_db)
    dept = load_department(write_department(tmp_path, chunk_rows=4))
    result = ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)
    assert result.counts.reconciles
    assert json.loads(result.watermark_to)["type"] == "datetime", result.watermark_to
    with pg_store.connect() as c:
        assert c.execute(sa.select(ingest_run.c.status)).scalar_one() == "success"
    again = ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)
    assert again.counts.read <= 6  # only the look-back window: the zero-dated row does not restart the read
