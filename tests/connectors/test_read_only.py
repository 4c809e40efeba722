"""Source sessions are read-only (issue 12, item 10) and a department ``query`` is sent as written (item 9).

On the real servers of this machine: a ``query`` that calls ``nextval`` or a function that inserts is refused by
the database itself, and the sequence and the table are unchanged afterwards. The statements of the databases
without a server here are checked in test_dialects.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.errors import SourceConfigError
from connectors.settings import ExtractSettings, SourcePolicy, SourceSettings
from connectors.sql import open_source, read_chunks
from tests.factories import source_sqlite_path

pytestmark = pytest.mark.integration


def _read_all(query: str, *, policy: SourcePolicy | None = None, chunk_rows: int = 2) -> list[dict[str, object]]:
    src = open_source(SourceSettings(url=None, url_env="SGS_RO_TEST_URL"), department="rotest", policy=policy)
    try:
        ex = ExtractSettings(query=query, cursor="gxsj", primary_key=["id"], chunk_rows=chunk_rows)
        return [r for chunk in read_chunks(src, ex, None, prefetch=False) for r in chunk.frame.to_dict("records")]
    finally:
        src.dispose()


@pytest.fixture
def pg_source(pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    admin = sa.create_engine(pg_schema_url)
    with admin.begin() as c:
        c.execute(sa.text("CREATE TABLE t (id int PRIMARY KEY, bz text, gxsj timestamp)"))
        c.execute(sa.text("INSERT INTO t SELECT i, 'row ' || i, timestamp '2025-06-01' + i * interval '1 minute' FROM generate_series(1, 5) i"))
        c.execute(sa.text("CREATE SEQUENCE s"))
        c.execute(sa.text("CREATE TABLE audit (n int)"))
        c.execute(sa.text("CREATE FUNCTION note(i int) RETURNS int LANGUAGE sql AS $$ INSERT INTO audit VALUES (i) RETURNING n $$"))
    monkeypatch.setenv("SGS_RO_TEST_URL", pg_schema_url)
    yield admin
    admin.dispose()


def _pg_state(admin: sa.Engine) -> tuple[int, int]:
    with admin.connect() as c:
        return c.execute(sa.text("SELECT last_value FROM s")).scalar_one(), c.execute(sa.text("SELECT count(*) FROM audit")).scalar_one()


@pytest.mark.parametrize(
    "query",
    ["SELECT t.*, nextval('s') AS n FROM t", "SELECT t.*, note(t.id) AS n FROM t"],
    ids=["nextval", "insert-in-function"],
)
def test_postgresql_query_cannot_change_the_source(pg_source: sa.Engine, query: str) -> None:
    before = _pg_state(pg_source)
    with pytest.raises(SourceConfigError, match="只读") as exc:
        _read_all(query)
    assert "rotest" in str(exc.value)
    assert _pg_state(pg_source) == before


def test_postgresql_query_cannot_switch_the_session_back_to_read_write(pg_source: sa.Engine) -> None:
    """A query that turns the session default off, then writes once the transaction is read-write: every
    transaction starts read-only (startup option and SET TRANSACTION READ ONLY), so it never writes."""
    before = _pg_state(pg_source)
    rows = _read_all(
        "SELECT t.*, CASE WHEN current_setting('transaction_read_only') = 'on'"
        " THEN set_config('default_transaction_read_only', 'off', false) ELSE nextval('s')::text END AS n FROM t"
    )
    assert len(rows) == 5
    assert _pg_state(pg_source) == before


@pytest.fixture
def mariadb_source(mariadb_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    admin = sa.create_engine(mariadb_db)
    with admin.begin() as c:
        c.execute(sa.text("CREATE TABLE t (id INT PRIMARY KEY, bz VARCHAR(20), gxsj DATETIME)"))
        c.execute(sa.text("INSERT INTO t VALUES (1, 'a', '2025-06-01 08:00'), (2, 'b', '2025-06-01 08:01'), (3, 'c', '2025-06-01 08:02')"))
        c.execute(sa.text("CREATE SEQUENCE s"))
        c.execute(sa.text("CREATE TABLE audit (n INT)"))
        c.execute(sa.text("CREATE FUNCTION note(i INT) RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO audit VALUES (i); RETURN i; END"))
    monkeypatch.setenv("SGS_RO_TEST_URL", mariadb_db)
    yield admin
    admin.dispose()


def _mariadb_state(admin: sa.Engine) -> tuple[int, int]:
    with admin.connect() as c:
        return c.execute(sa.text("SELECT next_not_cached_value FROM s")).scalar_one(), c.execute(sa.text("SELECT count(*) FROM audit")).scalar_one()


@pytest.mark.parametrize("driver", ["mysql+pymysql", "mysql"])
@pytest.mark.parametrize("query", ["SELECT t.*, NEXTVAL(s) AS n FROM t", "SELECT t.*, note(t.id) AS n FROM t"], ids=["nextval", "insert-in-function"])
def test_mariadb_query_cannot_change_the_source(mariadb_source: sa.Engine, monkeypatch: pytest.MonkeyPatch, driver: str, query: str) -> None:
    monkeypatch.setenv("SGS_RO_TEST_URL", mariadb_source.url.set(drivername=driver).render_as_string(hide_password=False))
    before = _mariadb_state(mariadb_source)
    with pytest.raises(SourceConfigError, match="只读"):
        _read_all(query)
    assert _mariadb_state(mariadb_source) == before


def test_sqlite_source_is_opened_read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    path = source_sqlite_path("ro.db")
    admin = sa.create_engine(f"sqlite:///{path}")
    with admin.begin() as c:
        c.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, bz TEXT, gxsj TIMESTAMP)"))
        c.execute(sa.text("INSERT INTO t VALUES (1, 'a', '2025-06-01 08:00:00'), (2, 'b', '2025-06-01 08:01:00')"))
    admin.dispose()
    monkeypatch.setenv("SGS_RO_TEST_URL", f"sqlite:///{path}")
    policy = SourcePolicy(data_dir=path.parent)
    src = open_source(SourceSettings(url=None, url_env="SGS_RO_TEST_URL"), department="rotest", policy=policy)
    try:
        with pytest.raises(sa.exc.OperationalError, match="readonly|read-only|query_only"), src.engine.begin() as c:
            c.execute(sa.text("DELETE FROM t"))
        with src.engine.connect() as c:
            assert c.execute(sa.text("PRAGMA query_only")).scalar_one() == 1
    finally:
        src.dispose()
    assert len(_read_all("SELECT * FROM t", policy=policy)) == 2


# --- item 9: a query is sent exactly as written ---------------------------------------------------------------


def test_colons_in_a_query_are_not_bind_parameters_across_keyset_pages(pg_source: sa.Engine) -> None:
    """``':x'`` in a literal raised "A value is required for bind parameter 'x'"; the keyset pages wrap the
    query in a subquery with their own parameters, which still work."""
    rows = _read_all("SELECT id, gxsj, bz || ':x' AS bz, gxsj::date AS d, 'a:b::c' AS lit FROM t WHERE bz <> ':y' -- trailing: comment")
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["bz"] == "row 1:x" and rows[0]["lit"] == "a:b::c"


# --- item 2: the URL actually used ---------------------------------------------------------------------------


def test_sqlite_files_outside_the_data_folder_and_the_store_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "sources"
    data.mkdir()
    outside = tmp_path / "store.db"
    sa.create_engine(f"sqlite:///{outside}").dispose()
    outside.touch()
    (data / "link.db").symlink_to(outside)
    for url in (f"sqlite:///{outside}", f"sqlite:///{data}/../store.db", f"sqlite:///{data / 'link.db'}"):
        monkeypatch.setenv("SGS_RO_TEST_URL", url)
        with pytest.raises(SourceConfigError, match="不在数据目录"):
            open_source(SourceSettings(url=None, url_env="SGS_RO_TEST_URL"), department="rotest", policy=SourcePolicy(data_dir=data))
    monkeypatch.setenv("SGS_RO_TEST_URL", f"sqlite:///{data / 'x.db'}")
    with pytest.raises(SourceConfigError, match="SGS_SOURCE_DATA_DIR"):  # no policy: no SQLite file at all
        open_source(SourceSettings(url=None, url_env="SGS_RO_TEST_URL"), department="rotest")
    with pytest.raises(SourceConfigError, match="包含中心库"):
        open_source(SourceSettings(url=None, url_env="SGS_RO_TEST_URL"), department="rotest",
                    policy=SourcePolicy(data_dir=tmp_path, store_file=outside))


def test_an_operator_url_may_not_read_an_option_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGS_RO_TEST_URL", "mysql+pymysql://root@127.0.0.1:3306/x?read_default_file=/root/.my.cnf")
    with pytest.raises(SourceConfigError, match="read_default_file"):
        open_source(SourceSettings(url=None, url_env="SGS_RO_TEST_URL"), department="rotest")


@pytest.mark.parametrize(
    "query",
    ["driver=/tmp/evil.so", "DRIVER=..%2Ftmp%2Fevil", "Driver=libevil.so.1", "driver=C:%5Cevil.dll", "driver=evil.dylib",
     "odbc_connect=DRIVER%3D%2Ftmp%2Fevil.so%3BSERVER%3Dh", "odbc_connect=Server%3Dh%3BDriver%3D%7B%2Ftmp%2Fevil.so%7D",
     # ODBC's "}}" escape: unixODBC reads the driver as "a}/tmp/evil.so" (seen with pyodbc)
     "odbc_connect=DRIVER%3D%7Ba%7D%7D%2Ftmp%2Fevil.so%7D%3BSERVER%3Dh"],
)
def test_an_odbc_driver_is_a_name_never_a_library_path(query: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """unixODBC dlopen()s a driver value that is not a registered name: a path would load any library."""
    monkeypatch.setenv("SGS_RO_TEST_URL", f"mssql+pyodbc://sgs_ro:pw@db:1433/xzzf?{query}")
    with pytest.raises(SourceConfigError, match=r"(?i)driver.*只能是已登记的 ODBC 驱动名称") as exc:
        open_source(SourceSettings(url=None, url_env="SGS_RO_TEST_URL"), department="rotest")
    assert "evil" not in str(exc.value)


def test_registered_odbc_driver_names_pass_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.settings import check_operator_url

    for query in ("driver=ODBC+Driver+18+for+SQL+Server&TrustServerCertificate=yes", "driver=%7BFreeTDS%7D",
                  "odbc_connect=DRIVER%3D%7BODBC+Driver+17+for+SQL+Server%7D%3BSERVER%3Dh"):
        check_operator_url(sa.engine.make_url(f"mssql+pyodbc://sgs_ro:pw@db:1433/xzzf?{query}"))


@pytest.mark.parametrize("url", ["postgresql+asyncpg://sgs_ro:pw@db/xzzf", "sqlite+aiosqlite:///x.db", "mysql+aiomysql://u:pw@db/x"])
def test_an_asyncio_driver_is_refused_by_name(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The readers are synchronous: aiosqlite failed later with a MissingGreenlet traceback."""
    monkeypatch.setenv("SGS_RO_TEST_URL", url)
    with pytest.raises(SourceConfigError, match="异步驱动") as exc:
        open_source(SourceSettings(url=None, url_env="SGS_RO_TEST_URL"), department="rotest")
    assert "pw" not in str(exc.value)


# --- sgs dept check: can the docking account write? (SourceAdapter.account_can_write) ------------------------


def test_postgresql_account_write_check_follows_the_table_privileges(pg_source: sa.Engine) -> None:
    import uuid

    role = f"sgs_ro_{uuid.uuid4().hex[:10]}"
    with pg_source.begin() as c:
        schema = c.execute(sa.text("SELECT current_schema()")).scalar_one()
        c.execute(sa.text(f"CREATE ROLE {role} NOLOGIN"))
        c.execute(sa.text(f"GRANT USAGE ON SCHEMA {schema} TO {role}"))
        c.execute(sa.text(f"GRANT SELECT ON t TO {role}"))
    src = open_source(SourceSettings(url=None, url_env="SGS_RO_TEST_URL"), department="rotest")
    try:
        with src.engine.connect() as c:
            assert src.adapter.account_can_write(c, "t", None) is True  # the test's own (superuser) account
            assert src.adapter.account_can_write(c, "t", schema) is True
            assert src.adapter.account_can_write(c, None, None) is None  # a query: no table to ask about
            c.execute(sa.text(f"SET ROLE {role}"))
            assert src.adapter.account_can_write(c, "t", schema) is False
            c.rollback()
    finally:
        src.dispose()
        with pg_source.begin() as c:
            c.execute(sa.text(f"DROP OWNED BY {role}"))
            c.execute(sa.text(f"DROP ROLE {role}"))


def test_mariadb_account_write_check_reads_the_grants(mariadb_source: sa.Engine) -> None:
    src = open_source(SourceSettings(url=None, url_env="SGS_RO_TEST_URL"), department="rotest")
    try:
        with src.engine.connect() as c:
            assert src.adapter.account_can_write(c, "t", None) is True  # root: ALL PRIVILEGES
    finally:
        src.dispose()


def test_sqlite_account_write_check_asks_about_the_file() -> None:
    from connectors.adapters import ADAPTERS

    path = source_sqlite_path("writable.db")
    sa.create_engine(f"sqlite:///{path}").dispose()
    path.touch()
    adapter = ADAPTERS["sqlite"]
    ro = adapter.read_only_url(sa.engine.make_url(f"sqlite:///{path}"))
    engine = sa.create_engine(ro)
    try:
        with engine.connect() as c:
            assert adapter.account_can_write(c, "t", None) is True  # writable file, opened read-only: read_only_file
        assert adapter.read_only_file
    finally:
        engine.dispose()
    memory = sa.create_engine("sqlite://")
    with memory.connect() as c:
        assert adapter.account_can_write(c, "t", None) is False
    memory.dispose()
