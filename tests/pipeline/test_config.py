from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_department

GOOD = """\
code: {code}
name: 市测试局
uscc: 11330100MB0000000X
source:
  url_env: SGS_SRC_TESTJU_URL
  url: sqlite:///tmp/x.db
datasets:
  cf:
    table: t_cf
    cursor: gxsj
    primary_key: [id]
    chunk_rows: 100
    lookback: 5m
    columns:
      CF_WSH: wsh
    constants:
      CF_SJLY: 市测试局
    codes:
      CF_XDR_LB: {{"1": 自然人}}
"""


def write(tmp_path: Path, text: str, code: str = "testju") -> Path:
    p = tmp_path / f"{code}.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_file_loads(tmp_path: Path) -> None:
    d = load_department(write(tmp_path, GOOD.format(code="testju")))
    assert d.code == "testju"
    cf = d.datasets["cf"]
    assert cf.lookback == 300 and cf.primary_key == ["id"] and cf.columns == {"CF_WSH": "wsh"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("    cursor: gxsj\n", ""), "必须填写 cursor"),
        (lambda t: t.replace("name: 市测试局", "name: 市测试局\nnmae: typo"), "nmae: 不认识的键"),
        (lambda t: t.replace("  url: sqlite:///tmp/x.db", "  url: mysql+pymysql://root:secret@h/db"), "不得写入密码"),
        (lambda t: t.replace("table: t_cf", "table: t_cf; DROP TABLE x"), "不是合法的表名或列名"),
        (lambda t: t.replace("primary_key: [id]", "primary_key: [\"id) or 1=1 --\"]"), "不是合法的表名或列名"),
        (lambda t: t.replace("CF_WSH: wsh", "CF_WHS: wsh"), "'CF_WHS' 不是国家标准字段"),
        (lambda t: t.replace("chunk_rows: 100", "chunk_rows: lots"), "datasets.cf.chunk_rows"),
        (lambda t: t.replace("lookback: 5m", "lookback: 99d"), "回看时长"),
        (lambda t: t.replace("  cf:", "  zz:"), "未知的数据集"),
        (lambda t: t.replace("uscc: 11330100MB0000000X", "uscc: 123"), "uscc"),
    ],
)
def test_bad_files_name_the_file_and_key(tmp_path: Path, change, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, change(GOOD.format(code="testju")))
    with pytest.raises(ConfigError) as exc:
        load_department(path)
    assert str(path) in str(exc.value)
    assert expected in str(exc.value)


def test_code_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="应与文件名"):
        load_department(write(tmp_path, GOOD.format(code="other").replace("SGS_SRC_TESTJU_URL", "SGS_SRC_OTHER_URL"), code="testju"))


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="不是合法的 YAML"):
        load_department(write(tmp_path, "code: [unclosed"))
    with pytest.raises(ConfigError, match="顶层应是键值对"):
        load_department(write(tmp_path, "- a\n- b\n"))


def test_query_must_be_a_single_select(tmp_path: Path) -> None:
    text = GOOD.format(code="testju").replace("table: t_cf", "query: DELETE FROM t_cf")
    with pytest.raises(ConfigError, match="只能是一条 SELECT"):
        load_department(write(tmp_path, text))
    ok = GOOD.format(code="testju").replace("table: t_cf", "query: SELECT * FROM t_cf WHERE zt = '1'")
    assert load_department(write(tmp_path, ok)).datasets["cf"].query == "SELECT * FROM t_cf WHERE zt = '1'"


def test_codes_and_digit_only_values_stay_text(tmp_path: Path) -> None:
    text = (
        GOOD.format(code="testju")
        .replace('CF_XDR_LB: {"1": 自然人}', "CF_XDR_LB: {01: 自然人, 0123: 法人及非法人组织}")
        .replace("uscc: 11330100MB0000000X", "uscc: 113301000024713838")
        .replace("    chunk_rows: 100", "    chunk_rows: 100\n    special_domain: true")
    )
    d = load_department(write(tmp_path, text))
    assert d.uscc == "113301000024713838"
    assert d.datasets["cf"].codes["CF_XDR_LB"] == {"01": "自然人", "0123": "法人及非法人组织"}
    assert d.datasets["cf"].chunk_rows == 100 and d.datasets["cf"].special_domain is True


@pytest.mark.parametrize(
    "text",
    [
        "code: testju\nname: " + "[" * 5000 + "]" * 5000 + "\n",  # the parser recurses past Python's limit
        "code: testju\nname: x\ndatasets: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    ],
    ids=["nested-lists", "nested-mappings"],
)
def test_deeply_nested_yaml_is_a_config_error_not_a_crash(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="嵌套过深") as exc:
        load_department(write(tmp_path, text))
    assert "testju.yaml" in str(exc.value)


# --- a department file reaches only its own database (issue 12, items 2 and 3) ------------------------------


def _refused(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_department(path)
    assert str(path) in str(exc.value)
    return str(exc.value)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # Airflow's own metadata database, read with the platform's credentials.
        ("  url_env: SGS_SRC_TESTJU_URL", "  url_env: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "SGS_SRC_TESTJU_URL"),
        ("  url_env: SGS_SRC_TESTJU_URL", "  url_env: SGS_SRC_OTHERJU_URL", "SGS_SRC_TESTJU_URL"),
        ("  url_env: SGS_SRC_TESTJU_URL\n  url: sqlite:///tmp/x.db", "  conn_id: sgs_src_otherju", "sgs_src_testju"),
        ("  url_env: SGS_SRC_TESTJU_URL\n  url: sqlite:///tmp/x.db", "  conn_id: airflow_db", "sgs_src_testju"),
        # A MySQL option file on the platform's host logs in as whoever it names.
        ("  url: sqlite:///tmp/x.db", "  url: mysql+pymysql://sgs_ro@db:3306/xzzf?read_default_file=/root/.my.cnf", "read_default_file"),
        ("  url: sqlite:///tmp/x.db", "  url: mysql+pymysql://sgs_ro@db:3306/xzzf?charset=utf8mb4&init_command=DELETE+FROM+t", "init_command"),
        ("  url: sqlite:///tmp/x.db", "  url: postgresql+psycopg://sgs_ro@db/xzzf?service=platform", "service"),
        ("  url: sqlite:///tmp/x.db", "  url: postgresql+psycopg://sgs_ro@db/xzzf?options=-cdefault_transaction_read_only%3Doff", "只能是 SQLite 文件"),
        ("  url: sqlite:///tmp/x.db", "  url: sqlite:///file:x.db?uri=true", "uri"),
    ],
    ids=["airflow-db-variable", "other-department-variable", "other-department-connection", "airflow-connection",
         "mysql-option-file", "mysql-init-command", "pg-service-file", "pg-options", "sqlite-uri"],
)
def test_a_department_file_cannot_name_another_database(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    assert expected in _refused(tmp_path, GOOD.format(code="testju").replace(old, new))


def test_sqlite_files_only_in_the_data_folder_never_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "sources"
    data.mkdir()
    monkeypatch.setenv("SGS_SOURCE_DATA_DIR", str(data))
    monkeypatch.setenv("SGS_STORE_URL", f"sqlite:///{tmp_path / 'var' / 'sgs.db'}")
    good = GOOD.format(code="testju")
    # Relative to the data folder, and an absolute path inside it: fine.
    assert load_department(write(tmp_path, good.replace("sqlite:///tmp/x.db", "sqlite:///wsjkw.db"))).source.url
    assert load_department(write(tmp_path, good.replace("sqlite:///tmp/x.db", f"sqlite:///{data / 'a.db'}"))).source.url
    # The central store, by its path, by "..", and through a symlink placed in the data folder.
    (data / "link.db").symlink_to(tmp_path / "var" / "sgs.db")
    for url in (f"sqlite:///{tmp_path / 'var' / 'sgs.db'}", "sqlite:///../var/sgs.db", "sqlite:///link.db", "sqlite:////etc/passwd"):
        assert "不在数据目录" in _refused(tmp_path, good.replace("sqlite:///tmp/x.db", url)), url
    # A data folder that holds the store is refused as a whole.
    monkeypatch.setenv("SGS_STORE_URL", f"sqlite:///{data / 'sgs.db'}")
    assert "包含中心库文件" in _refused(tmp_path, good.replace("sqlite:///tmp/x.db", "sqlite:///a.db"))


@pytest.mark.parametrize("key", ["password", "PWD", "passwd", "passfile", "odbc_connect", "sslpassword"])
def test_secret_query_keys_are_refused_without_echoing_the_value(tmp_path: Path, key: str) -> None:
    url = f"  url: mysql+pymysql://sgs_ro@db:3306/xzzf?charset=utf8mb4&{key}=S3cr3t-Value"
    text = _refused(tmp_path, GOOD.format(code="testju").replace("  url: sqlite:///tmp/x.db", url))
    assert key in text and "S3cr3t-Value" not in text


def test_allowed_query_keys_pass(tmp_path: Path) -> None:
    url = "sqlite:///tmp/x.db?timeout=5"
    assert load_department(write(tmp_path, GOOD.format(code="testju").replace("sqlite:///tmp/x.db", url))).source.url == url
    assert "timeout" in _refused(tmp_path, GOOD.format(code="testju").replace("sqlite:///tmp/x.db", "sqlite:///tmp/x.db?mode=rw"))


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",  # trust: the superuser
        "postgresql+psycopg:///postgres",  # no host: the socket, peer authentication as the platform's user
        "postgresql+psycopg://sgs_ro@db/xzzf?sslmode=require",  # libpq fills the password from ~/.pgpass
        "mysql+pymysql://root@127.0.0.1/mysql",  # MariaDB's password-free root
        "mssql+pyodbc://sgs_ro@db/xzzf?driver=ODBC+Driver+18+for+SQL+Server",
        "oracle+oracledb://sgs_ro@db:1521/?service_name=ORCL",
        "kingbase://sgs_ro@db:54321/xzzf",
        "dm://SYSDBA@db:5236",
        "nosuchdb://x@db/y",
    ],
)
def test_a_server_url_in_the_file_is_refused_even_without_a_password(tmp_path: Path, url: str) -> None:
    text = _refused(tmp_path, GOOD.format(code="testju").replace("sqlite:///tmp/x.db", url))
    assert "source.url" in text and "只能是 SQLite 文件" in text
    # What to do instead, with this department's own names.
    assert "SGS_SRC_TESTJU_URL" in text and "sgs_src_testju" in text


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///tmp/x.db", "sqlite+pysqlcipher:///tmp/x.db"])
def test_a_sqlite_file_is_read_with_the_platform_s_own_driver_only(tmp_path: Path, url: str) -> None:
    """aiosqlite crashed dept check with a MissingGreenlet traceback; only sqlite:/// (pysqlite) is read."""
    text = _refused(tmp_path, GOOD.format(code="testju").replace("sqlite:///tmp/x.db", url))
    assert "只能以 sqlite:/// 开头" in text


def test_a_password_with_an_unencoded_at_is_refused(tmp_path: Path) -> None:
    text = _refused(tmp_path, GOOD.format(code="testju").replace("sqlite:///tmp/x.db", "mysql+pymysql://root:p@ss@db/x"))
    assert "不得写入密码" in text and "p@ss" not in text


# --- query (issue 12, item 9) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "WITH d AS (DELETE FROM t_cf RETURNING *) SELECT * FROM d",
        "WITH u AS (UPDATE t_cf SET zt = '2' RETURNING *) SELECT * FROM u",
        "WITH i AS (INSERT INTO log VALUES (1) RETURNING *) SELECT * FROM t_cf",
        "SELECT * INTO copy_of_cf FROM t_cf",
        "SELECT * FROM t_cf FOR UPDATE",
        "SELECT * FROM t_cf; DELETE FROM t_cf",
        "SELECT * FROM t_cf /* ; */ ; DROP TABLE t_cf",
        "SELECT 'it''s' AS a FROM t_cf; DELETE FROM t_cf",
    ],
)
def test_a_query_that_writes_is_refused_when_the_file_is_read(tmp_path: Path, query: str) -> None:
    text = GOOD.format(code="testju").replace("table: t_cf", "query: " + _yaml_str(query))
    message = _refused(tmp_path, text)
    assert "query" in message and ("只能读取数据" in message or "分号" in message), message


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # MySQL/MariaDB execute the content of /*! … */ and /*M! … */ (checked live: SELECT 1 /*! + 1 */ is 2).
        ("SELECT 1 /*!INTO OUTFILE '/tmp/x' */", "/*!"),
        ("SELECT * FROM t_cf /*!50000 FOR UPDATE */", "/*!"),
        ("SELECT 1 /*M!100000 INTO OUTFILE '/tmp/x' */", "/*!"),
        # MySQL: "--" before a non-space is two minus signs, not a comment (SELECT 1 --1 is 2).
        ("SELECT 1 --1 INTO OUTFILE '/tmp/x'", "INTO"),
    ],
)
def test_mysql_executable_comments_are_refused(tmp_path: Path, query: str, expected: str) -> None:
    message = _refused(tmp_path, GOOD.format(code="testju").replace("table: t_cf", "query: " + _yaml_str(query)))
    assert "query" in message and expected in message, message


def test_ordinary_comments_in_a_query_are_accepted(tmp_path: Path) -> None:
    query = "SELECT /*+ INDEX(t_cf idx) */ * FROM t_cf -- rows to copy into the store\nWHERE gxsj > '2025-01-01' /* into */"
    d = load_department(write(tmp_path, GOOD.format(code="testju").replace("table: t_cf", "query: " + _yaml_str(query))))
    assert d.datasets["cf"].query == query


def _yaml_str(value: str) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def test_a_query_with_colons_and_semicolons_in_literals_is_accepted(tmp_path: Path) -> None:
    query = "SELECT * FROM t_cf WHERE bz <> ':x' AND note <> 'a;b' AND \"update\" IS NULL AND gxsj::date > '2025-01-01'"
    d = load_department(write(tmp_path, GOOD.format(code="testju").replace("table: t_cf", "query: " + _yaml_str(query))))
    assert d.datasets["cf"].query == query


# --- schedule and name (issue 12, items 13 and 14) --------------------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    ["every hour", "61 * * * *", "* * *", "@sometimes",
     # croniter (and so Airflow's own validation) accepts these, but the DAG would never run as meant:
     "0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "* * * * * *", "0 * * * * 0 2030", "@annually", "@reboot"],
)
def test_an_invalid_schedule_is_a_config_error_naming_the_key(tmp_path: Path, schedule: str) -> None:
    text = GOOD.format(code="testju").replace("name: 市测试局", f"name: 市测试局\nschedule: {_yaml_str(schedule)}")
    message = _refused(tmp_path, text)
    assert "schedule" in message and "不是有效的调度" in message


@pytest.mark.parametrize("schedule", ["@hourly", "@daily", "@quarterly", "@once", "@continuous", "*/15 * * * *", "0 8 * * 1-5",
                                      "0 0 29 2 *"])
def test_valid_schedules_load(tmp_path: Path, schedule: str) -> None:
    text = GOOD.format(code="testju").replace("name: 市测试局", f"name: 市测试局\nschedule: {_yaml_str(schedule)}")
    assert load_department(write(tmp_path, text)).schedule == schedule


def test_a_name_with_a_line_break_is_refused(tmp_path: Path) -> None:
    text = GOOD.format(code="testju").replace("name: 市测试局", 'name: "市测试局\\nsource: x"')
    assert "控制字符" in _refused(tmp_path, text)
