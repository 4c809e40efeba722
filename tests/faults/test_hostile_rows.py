"""Hostile rows in a real MariaDB department table → the central store (SQLite and PostgreSQL).

The batch must never crash: each row is loaded or quarantined with rule ids and a message, the run's
reconciliation holds, the next run goes on, and no natural person's ID number appears in any log line or
error message. Strange but legitimate values (4-byte characters, SQL-looking text) are checked on rows that
are loaded, so the check can fail.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import load_department
from pipeline.ingest import ingest
from store.schema import KEY_LENGTH, ingest_run, quarantine, record_tables
from tests.factories import create_penalty_table, penalty_rows, write_department
from tests.faults.conftest import TODAY
from tests.faults.harness import assert_whole, leaked_ids
from tests.faults.hostile import (
    ACCEPTED_VERBATIM,
    HOSTILE_COLUMNS,
    HOSTILE_DDL,
    T0,
    WRONG_TYPES_DDL,
    fill,
    hostile_rows,
    stored_lengths,
    write_hostile_department,
    wrong_type_rows,
)

pytestmark = pytest.mark.integration


def _entries(store: Engine) -> list[dict[str, object]]:
    cols = (quarantine.c.source_pk, quarantine.c.business_key, quarantine.c.raw, quarantine.c.rule_ids, quarantine.c.issues,
            quarantine.c.status)
    with store.connect() as c:
        return [dict(r) for r in c.execute(sa.select(*cols).order_by(quarantine.c.id)).mappings()]


def _quarantined(store: Engine, status: str = "open") -> dict[int, dict[str, object]]:
    """Source row id (from the raw row: the source pk may be stored shortened) → its quarantine entry."""
    return {
        int(json.loads(e["raw"])["id"]): {**e, "rules": e["rule_ids"], "issues": json.loads(e["issues"])}  # type: ignore[arg-type]
        for e in _entries(store) if e["status"] == status
    }


def _loaded(store: Engine, rows: list[dict[str, object]]) -> dict[int, dict[str, object]]:
    """Source row id → its record (records carry the source pk; the pk → id map comes from the rows)."""
    rec = record_tables["cf"]
    with store.connect() as c:
        records = [dict(r) for r in c.execute(sa.select(rec)).mappings()]
    by_pk = {json.dumps([r["pk"]], ensure_ascii=False): r["id"] for r in rows}
    out = {}
    for r in records:
        pk = r["source_pk"]
        ids = [i for p, i in by_pk.items() if p == pk or (len(p) > KEY_LENGTH and pk.startswith(p[:100]))]
        assert len(ids) == 1, f"record with source pk {pk[:80]}… matches {len(ids)} source rows"
        out[int(ids[0])] = r  # type: ignore[arg-type]
    return out


def test_hostile_values_in_every_column_never_stop_the_department(
    mariadb_db: str, store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rows, kinds = hostile_rows()
    fill(mariadb_db, HOSTILE_DDL, rows)
    # The source holds every value whole (strict sql_mode, LONGTEXT): nothing was cut before the pipeline.
    lengths = stored_lengths(mariadb_db, ["pk", "wsh", "sjlydm", "dsr"])
    for r in rows:
        for col in ("pk", "wsh", "sjlydm", "dsr"):
            assert lengths[r["id"]][col] == (len(r[col]) if r[col] is not None else None), (r["id"], col)
    assert max(v["wsh"] or 0 for v in lengths.values()) == 100_000
    monkeypatch.setenv("SGS_SRC_TESTJU_URL", mariadb_db)
    dept = load_department(write_hostile_department(tmp_path, env="SGS_SRC_TESTJU_URL", chunk_rows=16))
    caplog.set_level(logging.DEBUG)

    result = ingest(dept, "cf", engine=store, trigger="test", today=TODAY)

    c = result.counts
    assert result.status == "success"
    assert c.read == len(rows) and c.reconciles, c.as_dict()
    assert_whole(store)
    q, loaded = _quarantined(store), _loaded(store, rows)
    # Every source row is accounted for: loaded (possibly as a later version of a duplicate) or quarantined.
    dup_ids = set(kinds["duplicate"])
    assert not set(q) & set(loaded)
    assert set(q) | set(loaded) | dup_ids == {r["id"] for r in rows}
    for pk, entry in q.items():
        assert entry["rules"], f"row {pk} quarantined without a rule id"
        assert all(i["message"] and i["rule"] for i in entry["issues"]), entry  # type: ignore[union-attr]
        # The key columns of the quarantine hold a bounded form of any key; the raw row keeps it whole.
        assert len(entry["source_pk"]) <= KEY_LENGTH and len(entry["business_key"] or "") <= KEY_LENGTH  # type: ignore[arg-type]

    for kind in ("zero-date", "null-key", "types", "control", "nul", "long-key"):
        for pk in kinds[kind]:
            assert pk in q, f"{kind} row {pk} was not quarantined (loaded: {pk in loaded})"
    for pk in kinds["nul"]:  # NUL → U+FFFD → the character rule (乱码), never a failed chunk
        assert "CHR" in str(q[pk]["rules"]), q[pk]
    for pk in kinds["huge"] + [i for k, ids in kinds.items() if k.startswith("huge:") for i in ids]:
        assert pk in q, f"100 KB row {pk} was not quarantined"  # 100 KB text breaks a length or format rule
    by_id = {r["id"]: r for r in rows}
    names = {"wsh": "行政处罚决定书文号", "sjlydm": "数据来源单位统一社会信用代码"}
    for pk in kinds["long-key"]:  # an over-long key field: quarantined with a reason naming that field
        for col, name in names.items():
            if len(by_id[pk][col] or "") > 128:
                texts = [i["message"] for i in q[pk]["issues"] if i["field"] == ("CF_WSH" if col == "wsh" else "CF_SJLYDM")]  # type: ignore[union-attr]
                assert any(name in t and "超长" in t for t in texts), (pk, col, q[pk]["issues"])
        assert json.loads(q[pk]["raw"])["wsh"] == by_id[pk]["wsh"]  # type: ignore[arg-type]  # kept whole
    for pk in kinds["good"] + kinds["long-pk"]:
        assert pk in loaded, (pk, q.get(pk))
    for pk in kinds["long-pk"]:  # a string primary key longer than the key columns: stored bounded, still unique
        assert len(loaded[pk]["source_pk"]) <= KEY_LENGTH  # type: ignore[arg-type]
    # Strange but legitimate text is data: loaded verbatim, never run.
    for n, (column, value) in enumerate(ACCEPTED_VERBATIM):
        pk = kinds[f"accepted:{n}"][0]
        assert pk in loaded, (column, q.get(pk))
        national = next(k for k, v in HOSTILE_COLUMNS.items() if v == column).lower()
        assert loaded[pk][national] == value, (column, loaded[pk][national])
    # Legacy GBK bytes are decoded, undecodable bytes do not crash the batch.
    gbk_row = kinds["bytes"][1]
    assert gbk_row in loaded and loaded[gbk_row]["cf_nr"] == "罚款两千元", (gbk_row in q and q[gbk_row])
    # Duplicate keys in one batch: one record, the identical re-send unchanged, the change a new version.
    rec = [r for r in loaded.values() if r["cf_wsh"] == "杭市监罚决〔2025〕DUP号"]
    assert len(rec) == 1 and rec[0]["version"] == 2 and rec[0]["cf_nr"] == "罚款3000元"

    ids = sorted({m for r in rows if r.get("zjhm") for m in re.findall(r"\d{17}[\dX]", r["zjhm"])})
    assert len(ids) > len(rows) // 2
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert leaked_ids(logged, ids) == [], "ID numbers in log lines"
    messages = json.dumps([e["issues"] for e in q.values()], ensure_ascii=False)
    assert leaked_ids(messages, ids) == [], "ID numbers in quarantine messages"
    with store.connect() as conn:
        runs = conn.execute(sa.select(ingest_run.c.error, ingest_run.c.rule_failures)).all()
    assert leaked_ids(" ".join(f"{e} {f}" for e, f in runs), ids) == []

    # The department is not stopped: the clerk corrects the over-long keys (same source rows, newer
    # cursor), the next run loads them and closes their open entries, found through the bounded keys.
    fixed = kinds["long-key"]
    engine = sa.create_engine(mariadb_db)
    with engine.begin() as conn:
        for k, pk in enumerate(fixed):
            conn.execute(
                sa.text("UPDATE t_xzcf SET wsh = :w, sjlydm = cfjgdm, gxsj = :t WHERE id = :i"),
                {"w": f"杭市监罚决〔2025〕F{pk}号", "t": T0 + dt.timedelta(minutes=10_000 + k), "i": pk},
            )
    engine.dispose()
    again = ingest(dept, "cf", engine=store, trigger="test", today=TODAY)
    assert again.status == "success" and again.counts.reconciles, again.counts.as_dict()
    assert again.counts.inserted == len(fixed), again.counts.as_dict()
    closed = _quarantined(store, "fixed")
    assert set(fixed) <= set(closed), sorted(set(fixed) - set(closed))
    still_open = _quarantined(store)
    assert not set(fixed) & set(still_open)
    assert_whole(store)


def test_wrong_sql_type_in_every_column_is_quarantined_not_crashed(
    mariadb_db: str, pg_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = wrong_type_rows()
    fill(mariadb_db, WRONG_TYPES_DDL, rows)
    monkeypatch.setenv("SGS_SRC_TESTJU_URL", mariadb_db)
    dept = load_department(write_department(tmp_path, env="SGS_SRC_TESTJU_URL", chunk_rows=16))
    result = ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)
    assert result.status == "success" and result.counts.reconciles
    assert result.counts.read == len(rows)
    assert result.counts.quarantined == len(rows), result.counts.as_dict()
    assert all(e["rule_ids"] for e in _entries(pg_store))
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
    monkeypatch.setenv("SGS_SRC_TESTJU_URL", mariadb_db)
    dept = load_department(write_department(tmp_path, chunk_rows=4))
    result = ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)
    assert result.counts.reconciles
    assert result.counts.read == len(rows), result.counts.as_dict()  # the zero-dated row is read, not skipped
    assert json.loads(result.watermark_to)["type"] == "datetime", result.watermark_to
    with pg_store.connect() as c:
        assert c.execute(sa.select(ingest_run.c.status)).scalar_one() == "success"
    again = ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)
    assert again.counts.read == LOOKBACK_ROWS, again.counts.as_dict()


#: Rows the second run re-reads: those within the 5-minute look-back below the last cursor, bound included
#: (rows 5…10 of ``penalty_rows``, one minute apart); the zero-dated row sorts first and is never read again.
LOOKBACK_ROWS = 6
