"""Databases with no server on this machine (Oracle, SQL Server, Dameng, Kingbase): the URL each adapter
accepts, the driver it picks, and the incremental SQL it generates; plus a live contract run that happens
only when a URL is given in SGS_TEST_<KIND>_URL (the skip reason says so in the test output)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.adapters import ADAPTERS, adapter_for
from connectors.errors import SourceConfigError
from connectors.settings import ExtractSettings, SourceSettings
from connectors.sql import incremental_select, lower_bound, open_source
from tests.factories import source_time


@pytest.mark.parametrize(
    ("url", "kind", "driver"),
    [
        ("mysql://u@h/db", "mysql", "mysql+mysqldb"),
        ("mariadb://u@h/db", "mysql", "mysql+mysqldb"),
        ("mysql+pymysql://u@h/db", "mysql", "mysql+pymysql"),  # department files that name PyMySQL keep it
        ("mariadb+pymysql://u@h/db", "mysql", "mysql+pymysql"),
        ("mysql+pyodbc://u@h/db?driver=MariaDB+Unicode", "mysql", "mysql+pyodbc"),
        ("postgres://u@h/db", "postgresql", "postgresql+psycopg"),
        ("postgresql+psycopg2://u@h/db", "postgresql", "postgresql+psycopg"),
        ("kingbase://u@h:54321/db", "kingbase", "postgresql+psycopg"),
        ("oracle://u@h:1521/?service_name=ORCL", "oracle", "oracle+oracledb"),
        ("oracle+cx_oracle://u@h:1521/?service_name=ORCL", "oracle", "oracle+oracledb"),
        ("mssql://u@h/db?driver=ODBC+Driver+18+for+SQL+Server", "mssql", "mssql+pyodbc"),
        ("dm://SYSDBA@h:5236", "dameng", "dm+dmPython"),
        ("sqlite:////tmp/x.db", "sqlite", "sqlite"),
    ],
)
def test_url_forms_pick_the_pinned_driver(url: str, kind: str, driver: str) -> None:
    adapter, rewritten = adapter_for(sa.engine.make_url(url))
    assert adapter.kind == kind and rewritten.drivername == driver


def test_unknown_database_lists_the_known_ones() -> None:
    with pytest.raises(SourceConfigError, match="不支持的数据库类型 'db2'.*oracle"):
        adapter_for(sa.engine.make_url("db2://u@h/db"))


def _table() -> sa.Table:
    """As reflection reports it: SQLAlchemy shows Oracle's and Dameng's upper-case names in lower case."""
    return sa.Table("t_xzcf", sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("gxsj", sa.DateTime), sa.Column("wsh", sa.String(64)))


@pytest.mark.parametrize(
    ("url", "literal"),
    [
        ("oracle+oracledb://u:p@h:1521/?service_name=ORCL", "TO_DATE('2025-06-01 08:00:00', 'YYYY-MM-DD HH24:MI:SS')"),
        ("mssql+pyodbc://u:p@h/db?driver=ODBC+Driver+18+for+SQL+Server", "'2025-06-01 08:00:00'"),
        ("dm+dmPython://SYSDBA:p@h:5236", "'2025-06-01 08:00:00'"),
        ("postgresql+psycopg://u:p@h:54321/db", "'2025-06-01 08:00:00'"),
    ],
)
def test_incremental_sql_per_dialect(url: str, literal: str) -> None:
    engine = sa.create_engine(url)  # no connection is made
    # The DBA of an Oracle/Dameng system writes the names as the database shows them: upper case.
    ex = ExtractSettings(table="T_XZCF", cursor="GXSJ", primary_key=["ID"])
    stmt = incremental_select(_table(), ex, source_time(2025, 6, 1, 8, 0), department="d")
    sql = " ".join(str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})).split())
    assert sql == (
        f"SELECT t_xzcf.id, t_xzcf.gxsj, t_xzcf.wsh FROM t_xzcf WHERE t_xzcf.gxsj IS NOT NULL AND t_xzcf.gxsj >= {literal}"
        " ORDER BY t_xzcf.gxsj, t_xzcf.id"
    )
    snap = ExtractSettings(table="T_XZCF", strategy="snapshot", primary_key=["ID"])
    sql = " ".join(str(incremental_select(_table(), snap, None, department="d").compile(dialect=engine.dialect)).split())
    assert sql == "SELECT t_xzcf.id, t_xzcf.gxsj, t_xzcf.wsh FROM t_xzcf ORDER BY t_xzcf.id"


@pytest.mark.parametrize(
    ("url", "head", "tail"),
    [
        ("oracle+oracledb://u:p@h:1521/?service_name=ORCL", "SELECT t_xzcf.id", "FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY"),
        ("mssql+pyodbc://u:p@h/db?driver=ODBC+Driver+18+for+SQL+Server", "SELECT TOP __[POSTCOMPILE_param_1] t_xzcf.id", "ORDER BY t_xzcf.gxsj, t_xzcf.id"),
        ("dm+dmPython://SYSDBA:p@h:5236", "SELECT t_xzcf.id", "FETCH FIRST ? ROWS ONLY"),
        ("postgresql+psycopg://u:p@h:54321/db", "SELECT t_xzcf.id", "LIMIT %(param_1)s::INTEGER"),
        ("mysql+pymysql://u:p@h/db", "SELECT t_xzcf.id", "LIMIT %(param_1)s"),
    ],
)
def test_keyset_pages_per_dialect(url: str, head: str, tail: str) -> None:
    """Each page starts after the last row read (cursor, then key) and is limited in the dialect's own way."""
    engine = sa.create_engine(url)
    ex = ExtractSettings(table="t_xzcf", cursor="gxsj", primary_key=["id"])
    stmt = incremental_select(_table(), ex, None, department="d", after=(source_time(2025, 6, 1, 9), 7), limit=1000)
    sql = " ".join(str(stmt.compile(dialect=engine.dialect)).split())
    assert sql.startswith(head) and sql.endswith(tail)
    where = sql[sql.index("WHERE"):]
    assert "t_xzcf.gxsj IS NOT NULL" in where and " OR t_xzcf.gxsj = " in where and "AND t_xzcf.id > " in where


def test_config_names_match_oracle_upper_case_columns_case_insensitively() -> None:
    """SQLAlchemy reports Oracle's upper-case names in lower case; a DBA writes GXSJ or gxsj alike."""
    ex = ExtractSettings(table="T_XZCF", cursor="GXSJ", primary_key=["ID"])
    stmt = incremental_select(_table(), ex, None, department="d")
    assert "ORDER BY t_xzcf.gxsj, t_xzcf.id" in " ".join(str(stmt).split())


def test_sql_server_bound_allows_for_datetime_rounding() -> None:
    ex = ExtractSettings(table="t", cursor="c", primary_key=["id"], lookback=0)
    wm = source_time(2025, 6, 1, 8, 0, 0, 3500)
    assert lower_bound(wm, ex, ADAPTERS["mssql"]) == wm - dt.timedelta(milliseconds=4)
    assert lower_bound(wm, ex, ADAPTERS["mysql"]) == wm
    ids = ExtractSettings(table="t", cursor="id", primary_key=["id"], strategy="id", lookback_ids=100)
    assert lower_bound(5000, ids) == 4900


def test_oracle_thick_mode_is_asked_for_on_the_url() -> None:
    adapter, url = adapter_for(sa.engine.make_url("oracle://u@h:1521/?service_name=ORCL&thick_mode=true"))
    assert "thick_mode" not in url.query
    assert adapter.engine_kwargs(sa.engine.make_url("oracle+oracledb://u@h/?thick_mode=true")) == {"thick_mode": True}


@pytest.mark.parametrize(
    ("url", "level", "connect_args", "session", "per_transaction"),
    [
        ("mysql+pymysql://u@h/db", "session", {}, ("SET SESSION TRANSACTION READ ONLY",), ()),
        ("mariadb://u@h/db", "session", {}, ("SET SESSION TRANSACTION READ ONLY",), ()),
        ("postgresql+psycopg://u@h/db", "transaction", {"options": "-c default_transaction_read_only=on"}, (), ("SET TRANSACTION READ ONLY",)),
        # libpq options already on the URL are kept (connect_args would replace them).
        ("postgresql+psycopg://u@h/db?options=-csearch_path%3Dxzzf", "transaction",
         {"options": "-csearch_path=xzzf -c default_transaction_read_only=on"}, (), ("SET TRANSACTION READ ONLY",)),
        ("kingbase://u@h:54321/db", "transaction", {"options": "-c default_transaction_read_only=on"}, (), ("SET TRANSACTION READ ONLY",)),
        ("oracle://u@h:1521/?service_name=ORCL", "transaction", {}, (), ("SET TRANSACTION READ ONLY",)),
        ("dm://SYSDBA@h:5236", "transaction", {}, (), ("SET TRANSACTION READ ONLY",)),
        # SQL Server has no read-only session: only a SELECT-only login protects the data (docs/connectors.md).
        ("mssql://u@h/db?driver=ODBC+Driver+18+for+SQL+Server", "account", {}, (), ()),
        ("sqlite:////data/x.db", "session", {}, ("PRAGMA query_only = ON",), ()),
    ],
)
def test_every_adapter_says_how_its_sessions_are_read_only(
    url: str, level: str, connect_args: dict[str, str], session: tuple[str, ...], per_transaction: tuple[str, ...]
) -> None:
    adapter, rewritten = adapter_for(sa.engine.make_url(url))
    assert adapter.read_only_level == level
    assert adapter.read_only_connect_args(rewritten) == connect_args
    assert adapter.read_only_session_sql() == session
    assert adapter.read_only_transaction_sql() == per_transaction


def test_sqlite_sources_are_opened_read_only_by_sqlite_itself() -> None:
    adapter, url = adapter_for(sa.engine.URL.create("sqlite", database="/data/中 文?#.db"))
    ro = adapter.read_only_url(url)  # a "?" or "#" in the file name must not start the URI's query
    assert ro.database == "file:/data/%E4%B8%AD%20%E6%96%87%3F%23.db" and ro.query == {"mode": "ro", "uri": "true"}


LIVE = {
    "oracle": "SGS_TEST_ORACLE_URL",
    "mssql": "SGS_TEST_MSSQL_URL",
    "dameng": "SGS_TEST_DM_URL",
    "kingbase": "SGS_TEST_KINGBASE_URL",
}


@pytest.mark.parametrize("kind", sorted(LIVE))
def test_live_server_when_a_url_is_given(kind: str, tmp_path: Path) -> None:
    url = os.environ.get(LIVE[kind])
    if not url:
        pytest.skip(f"no {kind} server here: set {LIVE[kind]} to a SQLAlchemy URL (write access to a scratch schema) to run this live test")
    from tests.factories import create_penalty_table, penalty_rows

    # The test data is written through a plain engine: the source engine is read-only (where the database can be).
    _adapter, admin_url = adapter_for(sa.engine.make_url(url))
    admin = sa.create_engine(admin_url)
    with admin.begin() as c:
        table = create_penalty_table(c, name="sgs_contract_xzcf")
        c.execute(table.insert(), penalty_rows(25, seed=1))
    src = open_source(SourceSettings(url=None, url_env=LIVE[kind]), department="live")
    try:
        if src.adapter.read_only_level != "account":
            with pytest.raises(sa.exc.DBAPIError), src.engine.begin() as c:
                c.execute(sa.text("DELETE FROM sgs_contract_xzcf"))
        from connectors.sql import read_chunks

        ex = ExtractSettings(table="sgs_contract_xzcf", cursor="gxsj", primary_key=["id"], chunk_rows=10)
        chunks = list(read_chunks(src, ex, None))
        assert sum(len(c.frame) for c in chunks) == 25
        tops = [c.cursor_to for c in chunks]
        assert tops == sorted(tops)
        again = list(read_chunks(src, ex, tops[-1]))
        assert sum(len(c.frame) for c in again) == 5  # the 5-minute look-back window, inclusive
    finally:
        src.dispose()
        with admin.begin() as c:
            c.execute(sa.text("DROP TABLE sgs_contract_xzcf"))
        admin.dispose()


@pytest.mark.parametrize(
    ("url", "ping", "connect_args", "read_only_file"),
    [
        ("mysql+pymysql://u@h/db", "SELECT 1", {"connect_timeout": 5}, False),
        ("postgresql+psycopg://u@h/db", "SELECT 1", {"connect_timeout": 5, "options": "-c default_transaction_read_only=on"}, False),
        ("kingbase://u@h:54321/db", "SELECT 1", {"connect_timeout": 5, "options": "-c default_transaction_read_only=on"}, False),
        # Oracle has no SELECT without FROM.
        ("oracle://u@h:1521/?service_name=ORCL", "SELECT 1 FROM DUAL", {"tcp_connect_timeout": 5}, False),
        ("dm://SYSDBA@h:5236", "SELECT 1", {"connection_timeout": 5}, False),
        # pyodbc hands every other keyword to the ODBC connection string: only its own timeout.
        ("mssql://u@h/db?driver=ODBC+Driver+18+for+SQL+Server", "SELECT 1", {"timeout": 5}, False),
        ("sqlite:////data/x.db", "SELECT 1", {"timeout": 5}, True),
    ],
)
def test_each_adapter_names_its_ping_and_session_options(
    url: str, ping: str, connect_args: dict[str, object], read_only_file: bool
) -> None:
    """What ``sgs dept check`` and ``open_source`` used to decide by comparing dialect names."""
    adapter, rewritten = adapter_for(sa.engine.make_url(url))
    assert adapter.ping_sql == ping
    assert adapter.session_connect_args(5, rewritten) == connect_args
    assert adapter.read_only_file is read_only_file


def test_only_file_databases_are_located_in_the_data_folder(tmp_path: Path) -> None:
    from connectors.settings import SourcePolicy

    policy = SourcePolicy(data_dir=tmp_path)
    server, url = adapter_for(sa.engine.make_url("postgresql+psycopg://u@h/x.db"))
    assert server.locate(url, policy) == url  # a server database name is not a path
    sqlite, url = adapter_for(sa.engine.make_url("sqlite:///x.db"))
    with pytest.raises(ValueError, match="不存在"):
        sqlite.locate(url, policy)
    (tmp_path / "x.db").touch()
    assert sqlite.locate(url, policy).database == str((tmp_path / "x.db").resolve())
    with pytest.raises(ValueError, match="不在数据目录"):
        sqlite.locate(sa.engine.make_url(f"sqlite:///{tmp_path.parent / 'y.db'}"), policy)
    memory = sa.engine.make_url("sqlite://")
    assert sqlite.locate(memory, policy) == memory
