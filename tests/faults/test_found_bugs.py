"""Bugs the fault suite found, each with the test that showed it (failing before its fix)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import load_department
from pipeline.ingest import ingest
from store.history import versions
from store.schema import ingest_run, record_tables, record_version
from tests.factories import create_penalty_table, penalty_rows, source_time, write_department
from tests.faults.conftest import TODAY
from tests.faults.harness import assert_whole, exception_text

pytestmark = pytest.mark.integration


def _fill(url: str, rows: list[dict[str, object]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as c:
        table = create_penalty_table(c)
        c.execute(table.insert(), rows)
    engine.dispose()


def _counts(store: Engine) -> tuple[int, int, int]:
    """Superseded versions in the history, versions of all records, and the newest change sequence value."""
    rec = record_tables["cf"]
    with store.connect() as c:
        superseded = c.execute(sa.select(sa.func.count()).select_from(record_version)).scalar_one()
        versions, newest = c.execute(sa.select(sa.func.sum(rec.c.version), sa.func.max(rec.c.change_seq))).one()
    return superseded, int(versions), int(newest)


def test_two_source_rows_of_one_decision_in_the_look_back_window_do_not_flip_flop(
    mariadb_db: str, pg_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A correction entered as a new source row (same 文书号 = same business key) one minute after the
    original: both stay inside the 5-minute look-back window. The first run records the original and the
    correction (2 versions); later runs with nothing changed at the source must write nothing. Before the
    fix every run wrote two more versions (original, correction, original, …), each a change to push."""
    t0 = source_time(2025, 6, 1, 8, 0, 0)
    rows = penalty_rows(4, seed=21, bad_every=0, start_time=t0)
    correction = dict(rows[1], id=5, nr="罚款3000元（更正）", fk_yuan=3000, gxsj=rows[3]["gxsj"] + dt.timedelta(minutes=1))
    _fill(mariadb_db, [*rows, correction])
    monkeypatch.setenv("SGS_SRC_TESTJU_URL", mariadb_db)
    # chunk_rows 2: the original and its correction land in different chunks in the first run.
    dept = load_department(write_department(tmp_path, env="SGS_SRC_TESTJU_URL", chunk_rows=2))

    first = ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)
    assert (first.counts.inserted, first.counts.updated) == (4, 1), first.counts.as_dict()
    after_first = _counts(pg_store)
    assert after_first[:2] == (1, 5)  # 4 inserts + 1 update; the superseded original in the history
    for _ in range(2):
        again = ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)
        assert again.counts.read >= 2  # both rows are re-read by the look-back window …
        assert (again.counts.inserted, again.counts.updated) == (0, 0), again.counts.as_dict()  # … and change nothing
        assert again.counts.reconciles
        assert _counts(pg_store) == after_first
    rec = record_tables["cf"]
    with pg_store.connect() as c:
        current = c.execute(sa.select(rec.c.cf_nr, rec.c.version).where(rec.c.cf_wsh == rows[1]["wsh"])).one()
    assert current == ("罚款3000元（更正）", 2)  # the later source row is the decision's content
    assert_whole(pg_store)


def test_same_decision_twice_in_one_chunk_keeps_both_versions_in_source_order(
    mariadb_db: str, pg_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = source_time(2025, 6, 1, 8, 0, 0)
    rows = penalty_rows(2, seed=22, bad_every=0, start_time=t0)
    correction = dict(rows[0], id=3, nr="罚款5000元（更正）", fk_yuan=5000, gxsj=rows[1]["gxsj"] + dt.timedelta(seconds=30))
    _fill(mariadb_db, [*rows, correction])
    monkeypatch.setenv("SGS_SRC_TESTJU_URL", mariadb_db)
    dept = load_department(write_department(tmp_path, env="SGS_SRC_TESTJU_URL", chunk_rows=100))
    first = ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)
    assert first.counts.as_dict() | {"warnings": 0} == {"read": 3, "inserted": 2, "updated": 1, "unchanged": 0, "quarantined": 0, "warnings": 0}
    second = ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)
    assert (second.counts.read, second.counts.unchanged) == (3, 3)
    rec = record_tables["cf"]
    with pg_store.connect() as c:
        key = c.execute(sa.select(rec.c.business_key).where(rec.c.cf_wsh == rows[0]["wsh"])).scalar_one()
        history = [(v["version"], v["operation"]) for v in versions(c, "cf", key)]
    assert history == [(1, "I"), (2, "U")]  # version 1 superseded inside the chunk, version 2 current


def test_store_errors_never_carry_the_rows_values_into_logs_or_the_run_record(
    mariadb_db: str, pg_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store failure during a load used to put SQLAlchemy's ``[parameters: …]`` — every value of the
    chunk, natural persons' ID numbers included — into the exception text, the log and ingest_run.error."""
    rows = penalty_rows(8, seed=23, bad_every=0)
    ids = [r["zjhm"] for r in rows if r["zjhm"]]
    assert ids
    _fill(mariadb_db, rows)
    with pg_store.begin() as c:  # the store refuses every new record (as a full disk or a bad trigger would)
        c.execute(sa.text("CREATE FUNCTION sgs_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$"))
        c.execute(sa.text("CREATE TRIGGER sgs_refuse BEFORE INSERT ON record_cf FOR EACH ROW EXECUTE FUNCTION sgs_refuse()"))
    monkeypatch.setenv("SGS_SRC_TESTJU_URL", mariadb_db)
    dept = load_department(write_department(tmp_path, env="SGS_SRC_TESTJU_URL", chunk_rows=100))
    with pytest.raises(sa.exc.DBAPIError) as exc:
        ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)
    text = exception_text(exc.value)
    assert "refused by test" in text
    with pg_store.connect() as c:
        error = c.execute(sa.select(ingest_run.c.error).order_by(ingest_run.c.id.desc())).scalar_one()
    assert "refused by test" in error
    for found in (text, error):
        assert not [i for i in ids if i in found], "an ID number leaked into an error text"


def test_a_store_data_error_is_raised_masked_with_its_own_class(
    mariadb_db: str, pg_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12 item 6: PostgreSQL puts the offending value into a DataError (``CONTEXT: COPY record_cf, line 1,
    column cf_xdr_zjhm: "330…"``). The log and ingest_run.error were masked, the exception re-raised was not:
    the CLI traceback and Airflow's task log showed the ID number. It is raised masked, as a DataError still."""
    rows = [r for r in penalty_rows(8, seed=23, bad_every=0) if r["zjhm"]]
    ids = [r["zjhm"] for r in rows]
    assert ids
    _fill(mariadb_db, rows)
    with pg_store.begin() as c:  # a store whose column is narrower than the value (a DBA's change, an old schema)
        c.execute(sa.text("ALTER TABLE record_cf ALTER COLUMN cf_xdr_zjhm TYPE VARCHAR(5)"))
    monkeypatch.setenv("SGS_SRC_TESTJU_URL", mariadb_db)
    dept = load_department(write_department(tmp_path, env="SGS_SRC_TESTJU_URL", chunk_rows=100))
    with pytest.raises(sa.exc.DataError) as exc:
        ingest(dept, "cf", engine=pg_store, trigger="test", today=TODAY)
    text = exception_text(exc.value)  # the whole chain, as a traceback prints it
    assert "cf_xdr_zjhm" in text and "too long" in text, text
    assert "********" in text, text  # the value is there, masked
    with pg_store.connect() as c:
        error = c.execute(sa.select(ingest_run.c.error).order_by(ingest_run.c.id.desc())).scalar_one()
    for found in (text, error, str(exc.value), repr(exc.value)):
        assert not [i for i in ids if i in found], "an ID number leaked into an error text"
