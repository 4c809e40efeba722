"""One contract, every connector with a live server here: MariaDB (PyMySQL and mysqlclient), PostgreSQL (psycopg),
SQLite, and the pyodbc path (MariaDB through Debian's odbc-mariadb driver).

Adding a database adds a fixture param, not a test file (style.md, Meltano Singer SDK).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.settings import ExtractSettings, SourceSettings
from connectors.sql import open_source, read_chunks
from pipeline.config import load_department, source_policy
from pipeline.ingest import ingest
from store.schema import record_tables, watermark
from tests.factories import (
    create_penalty_table,
    penalty_rows,
    source_env,
    source_sqlite_path,
    source_time,
    write_department,
)

pytestmark = pytest.mark.integration
N = 45  # every 10th row is bad → 4 quarantined


@dataclass
class Live:
    kind: str
    url: str  # what the department's URL variable holds
    admin: Engine  # to write test data
    concurrent_writers: bool


@pytest.fixture(params=["mariadb", "mariadb-mysqlclient", "postgresql", "sqlite", "odbc-mariadb"])
def live(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    kind = request.param
    if kind in ("mariadb", "mariadb-mysqlclient", "odbc-mariadb"):
        url = request.getfixturevalue("mariadb_db")
        admin = sa.create_engine(url)
        if kind == "mariadb-mysqlclient":  # the driver of mysql:// URLs
            url = sa.engine.make_url(url).set(drivername="mysql").render_as_string(hide_password=False)
        elif kind == "odbc-mariadb":
            parsed = sa.engine.make_url(url)
            url = f"mysql+pyodbc://root@127.0.0.1:{parsed.port or 3306}/{parsed.database}?driver=MariaDB+Unicode&charset=utf8mb4"
        live = Live(kind, url, admin, True)
    elif kind == "postgresql":
        url = request.getfixturevalue("pg_schema_url")
        live = Live(kind, url, sa.create_engine(url), True)
    else:
        url = f"sqlite:///{source_sqlite_path()}"  # the SQLite data folder: the only place a source file is read
        live = Live(kind, url, sa.create_engine(url), False)
    monkeypatch.setenv(source_env(), live.url)
    yield live
    live.admin.dispose()


@pytest.fixture
def loaded(live: Live) -> Live:
    with live.admin.begin() as c:
        c.execute(create_penalty_table(c).insert(), penalty_rows(N, seed=17))
    return live


def run(tmp_path: Path, store: Engine, **yaml_changes: str) -> tuple[object, object]:
    path = write_department(tmp_path, chunk_rows=10)
    text = path.read_text(encoding="utf-8")
    for old, new in yaml_changes.items():
        text = text.replace(old.replace("__", " "), new)
    path.write_text(text, encoding="utf-8")
    dept = load_department(path)
    return dept, ingest(dept, "cf", engine=store, trigger="test")


def record_count(store: Engine) -> int:
    with store.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(record_tables["cf"])).scalar_one()


class TestConnectorContract:
    def test_reads_every_row_once_keys_found(self, loaded: Live, sqlite_store: Engine, tmp_path: Path) -> None:
        _, first = run(tmp_path, sqlite_store)
        c = first.counts  # type: ignore[attr-defined]
        assert (c.read, c.inserted, c.quarantined) == (N, N - 4, 4)
        _, second = run(tmp_path, sqlite_store)
        c2 = second.counts  # type: ignore[attr-defined]
        assert c2.inserted == c2.updated == 0, "a re-run must not duplicate or change anything"
        assert record_count(sqlite_store) == N - 4

    def test_cursor_is_monotonic_across_chunks(self, loaded: Live, tmp_path: Path) -> None:
        dept = load_department(write_department(tmp_path, chunk_rows=7))
        src = open_source(dept.source, department=dept.code, policy=source_policy())
        tops, rows = [], 0
        for chunk in read_chunks(src, dept.datasets["cf"], None):
            values = list(chunk.frame["gxsj"])
            assert values == sorted(values)
            tops.append(chunk.last_cursor)
            rows += len(chunk.frame)
        src.dispose()
        assert tops == sorted(tops) and rows == N
        assert all(isinstance(t, dt.datetime) and t.tzinfo is None for t in tops)

    def test_rows_committed_late_with_an_older_cursor_are_caught(self, loaded: Live, sqlite_store: Engine, tmp_path: Path) -> None:
        if not loaded.concurrent_writers:
            pytest.skip("SQLite has a single writer: a transaction cannot commit behind another one")
        run(tmp_path, sqlite_store)
        table = sa.table("t_xzcf", *[sa.column(k) for k in penalty_rows(1, seed=1)[0]])
        # Connection A starts a transaction and writes a row stamped 08:44 (older than the watermark 08:45)…
        late = penalty_rows(1, seed=5, bad_every=0, start_id=500, start_time=source_time(2025, 6, 1, 8, 44) - dt.timedelta(minutes=500))[0]
        a = loaded.admin.connect()
        tx = a.begin()
        a.execute(table.insert(), [late])
        # …while connection B commits a newer row (08:47, within the 5-minute look-back of 08:44), and an ingest runs past both.
        newer = penalty_rows(1, seed=6, bad_every=0, start_id=600, start_time=source_time(2025, 6, 1, 8, 47) - dt.timedelta(minutes=600))[0]
        with loaded.admin.begin() as b:
            b.execute(table.insert(), [newer])
        _, mid = run(tmp_path, sqlite_store)
        assert mid.counts.inserted == 1  # type: ignore[attr-defined]
        tx.commit()
        a.close()
        _, after = run(tmp_path, sqlite_store)
        assert after.counts.inserted == 1, "the late row must be picked up by the next run"  # type: ignore[attr-defined]
        assert record_count(sqlite_store) == N - 4 + 2

    def test_snapshot_detects_changes_and_deletions(self, loaded: Live, sqlite_store: Engine, tmp_path: Path) -> None:
        snap = {"    cursor: gxsj": "    strategy: snapshot"}
        _, first = run(tmp_path, sqlite_store, **snap)
        assert first.counts.inserted == N - 4  # type: ignore[attr-defined]
        with loaded.admin.begin() as c:
            c.execute(sa.text("DELETE FROM t_xzcf WHERE id IN (1, 2, 10)"))  # 10 was a quarantined row
            c.execute(sa.text("UPDATE t_xzcf SET nr = '罚款2000元（更正）' WHERE id = 3"))
        _, second = run(tmp_path, sqlite_store, **snap)
        c2 = second.counts  # type: ignore[attr-defined]
        assert (c2.read, c2.updated, c2.inserted, c2.quarantined, c2.unchanged) == (N - 3, 1, 0, 0, N - 4)
        assert second.withdrawn == 2  # type: ignore[attr-defined]
        rec = record_tables["cf"]
        with sqlite_store.connect() as c:
            status = dict(c.execute(sa.select(rec.c.cf_wsh, rec.c.status)).all())
            assert c.execute(sa.select(sa.func.count()).select_from(watermark)).scalar_one() == 0
        assert status["杭市监罚决〔2025〕1号"] == status["杭市监罚决〔2025〕2号"] == "withdrawn"
        assert status["杭市监罚决〔2025〕3号"] == "active"
        _, third = run(tmp_path, sqlite_store, **snap)
        assert third.counts.unchanged == N - 3 and third.withdrawn == 0  # type: ignore[attr-defined]


def test_time_zone_aware_source_values_become_beijing_dates(pg_schema_url: str, sqlite_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PostgreSQL source with timestamptz columns: a decision at local midnight stays on its day."""
    src = sa.create_engine(pg_schema_url)
    with src.begin() as c:
        c.execute(sa.text(
            "CREATE TABLE t_xzcf AS SELECT 1 AS id, '罚〔2025〕1号'::text AS wsh, "
            "timestamptz '2025-01-05 00:00:00+08' AS jdrq, timestamptz '2025-06-01 08:00:00+08' AS gxsj"
        ))
    monkeypatch.setenv(source_env(), pg_schema_url)
    path = write_department(tmp_path)
    dept = load_department(path)
    source = open_source(dept.source, department="testju")
    ex = ExtractSettings(table="t_xzcf", cursor="gxsj", primary_key=["id"])
    (chunk,) = list(read_chunks(source, ex, None))
    source.dispose()
    assert chunk.last_cursor == source_time(2025, 6, 1, 8, 0)
    assert chunk.frame.loc[0, "jdrq"] == source_time(2025, 1, 5, 0, 0)
    src.dispose()


def test_legacy_gbk_text_behind_latin1_columns_is_decoded(mariadb_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = sa.create_engine(mariadb_db)
    with admin.begin() as c:
        c.execute(sa.text("CREATE TABLE t_old (id INT PRIMARY KEY, mc VARCHAR(100) CHARACTER SET latin1, gxsj DATETIME)"))
    # What a GBK client wrote into a latin1 column: the GBK bytes, stored as latin1 characters.
    raw = "杭州测试有限公司".encode("gbk").decode("latin-1")
    with admin.begin() as c:
        c.execute(sa.text("INSERT INTO t_old VALUES (1, :mc, '2025-01-01 08:00:00')"), {"mc": raw})
    monkeypatch.setenv("SGS_SRC_OLD_URL", mariadb_db)  # a server is named only by the operator's variable
    settings = SourceSettings(url_env="SGS_SRC_OLD_URL", legacy_encoding="gbk")
    src = open_source(settings, department="old")
    (chunk,) = list(read_chunks(src, ExtractSettings(table="t_old", cursor="gxsj", primary_key=["id"]), None))
    src.dispose()
    admin.dispose()
    assert chunk.frame.loc[0, "mc"] == "杭州测试有限公司"


def test_both_mysql_drivers_hand_over_the_same_values(mariadb_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyMySQL (``mysql+pymysql://``) and mysqlclient (``mysql://``) give the transforms the same values, odd types
    and MariaDB's zero dates included: an impossible date stays text (the date rules quarantine it), it does not
    become NULL as with mysqlclient's own converters."""
    admin = sa.create_engine(mariadb_db)
    with admin.begin() as c:
        c.execute(sa.text("SET SESSION sql_mode = ''"))
        c.execute(sa.text(
            "CREATE TABLE t_types (id INT PRIMARY KEY, d DATE, dt DATETIME, dt3 DATETIME(3), ts TIMESTAMP NULL, tm TIME, y YEAR,"
            " b BIT(8), vb VARBINARY(10), dec1 DECIMAL(10,3), fl DOUBLE, js JSON, st SET('a','b'), en ENUM('x','y'),"
            " txt TEXT, bi BIGINT UNSIGNED, gxsj DATETIME)"
        ))
        c.execute(sa.text(
            "INSERT INTO t_types VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '2025-01-01 08:00:00.123', '0000-00-00 00:00:00',"
            " '838:59:59', 2025, b'101', x'80ff', 1.5, 2.5, '[1, 2]', 'a,b', 'y', '张三', 18446744073709551615, '2025-06-01 08:00:00'),"
            " (2, '2025-00-00', '2025-02-30 10:00:00', '2025-01-01 08:00:00', NULL, '-01:00:00', 0, b'0', NULL, NULL, NULL, NULL, '',"
            " NULL, '', 0, '2025-06-01 08:00:01'),"
            " (3, '2025-06-01', '2025-06-01 10:00:00', NULL, '2025-06-01 10:00:00', NULL, NULL, NULL, NULL, -2.25, NULL, NULL, NULL,"
            " NULL, NULL, NULL, '2025-06-01 08:00:02')"
        ))
    frames = []
    for drivername in ("mysql+pymysql", "mysql"):
        url = sa.engine.make_url(mariadb_db).set(drivername=drivername).render_as_string(hide_password=False)
        monkeypatch.setenv("SGS_SRC_TYPES_URL", url)
        src = open_source(SourceSettings(url_env="SGS_SRC_TYPES_URL"), department="types")
        (chunk,) = list(read_chunks(src, ExtractSettings(table="t_types", cursor="gxsj", primary_key=["id"]), None))
        assert src.engine.dialect.driver == ("pymysql" if drivername.endswith("pymysql") else "mysqldb")
        src.dispose()
        frames.append(chunk.frame.astype(object).where(chunk.frame.notna(), None).to_dict("records"))
    admin.dispose()
    assert frames[0] == frames[1]
    assert frames[1][0]["d"] == "0000-00-00" and frames[1][1]["dt"] == "0000-00-00 00:00:00"
    assert frames[1][2]["d"] == dt.date(2025, 6, 1)
