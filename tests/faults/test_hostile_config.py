"""Hostile department files: each gets a clear ``ConfigError`` naming the file, quickly, and nothing in
them ever reaches a database (no engine is even created while a file is read)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.config import ConfigError, load_department
from tests.factories import DEPARTMENT_YAML, authority_code

GOOD = DEPARTMENT_YAML.format(code="evilju", env="SGS_SRC_EVILJU_URL", chunk_rows=100, authority=authority_code())


def _bomb(levels: int = 9, width: int = 9) -> str:
    """A billion-laughs document: ``width ** levels`` references to one short list."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _replace(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new)


#: name → (file content, a fragment the error message must contain)
CASES: dict[str, tuple[str | bytes, str]] = {
    # wrong types
    "chunk_rows text": (_replace("chunk_rows: 100", "chunk_rows: lots"), "chunk_rows"),
    "datasets a list": (GOOD.split("datasets:")[0] + "datasets: [cf, xk]\n", "datasets"),
    "columns a list": (_replace("      CF_WSH: wsh\n", "      - CF_WSH\n").replace("    columns:\n      CF_XDR_MC", "    columns:\n      - CF_XDR_MC") , "evilju"),
    "primary key a mapping": (_replace("primary_key: [id]", "primary_key: {id: 1}"), "primary_key"),
    "name a date": (_replace("name: 市测试监管局", "name: 2025-01-01"), "name"),
    "top level a list": ("- code: evilju\n- name: x\n", "顶层"),
    "empty file": ("", "顶层"),
    "python tag": (_replace("name: 市测试监管局", "name: !!python/object/apply:os.system ['touch /tmp/sgs_pwned']"), "YAML"),
    # huge values
    "chunk_rows huge": (_replace("chunk_rows: 100", "chunk_rows: 1000000000000000000000"), "chunk_rows"),
    "lookback huge": (_replace("lookback: 5m", "lookback: 99999999d"), "lookback"),
    "connect_timeout huge": (_replace("  url_env: SGS_SRC_EVILJU_URL", "  url_env: SGS_SRC_EVILJU_URL\n  connect_timeout: 100000000"), "connect_timeout"),
    "name 1 MB-ish": (_replace("name: 市测试监管局", "name: " + "局" * 300_000), "name"),
    "2 MB file": (GOOD + "# " + "x" * 2_000_000 + "\n", "1 MB"),
    # unknown keys
    "unknown top key": (GOOD + "password: hunter2\n", "password"),
    "unknown dataset key": (_replace("    lookback: 5m", "    lookback: 5m\n    where: 1=1"), "where"),
    "unknown dataset": (_replace("  cf:\n", "  zz:\n"), "zz"),
    "password in url": (_replace("  url_env: SGS_SRC_EVILJU_URL", "  url: mysql+pymysql://root:secret@db/x"), "密码"),
    # SQL in identifiers
    "sql in table": (_replace("table: t_xzcf", "table: \"t_xzcf; DROP TABLE record_cf; --\""), "table"),
    "sql in cursor": (_replace("cursor: gxsj", "cursor: \"gxsj) OR (1=1\""), "cursor"),
    "sql in primary key": (_replace("primary_key: [id]", "primary_key: [\"id` = 1 OR `id\"]"), "primary_key"),
    "sql in schema": (_replace("table: t_xzcf", "table: t_xzcf\n    schema: \"x\\\"; DELETE FROM watermark; --\""), "schema"),
    "two statements in query": (_replace("table: t_xzcf", "query: \"SELECT * FROM t_xzcf; DROP TABLE t_xzcf\""), "query"),
    "not a select": (_replace("table: t_xzcf", "query: \"DELETE FROM t_xzcf\""), "query"),
    "sql in env name": (_replace("url_env: SGS_SRC_EVILJU_URL", "url_env: \"X; rm -rf /\""), "url_env"),
    "sql in code": (_replace("code: evilju", "code: \"evilju'; --\""), "code"),
    # another database (issue 12, items 2, 3, 9, 14): refused while the file is read, before any connection
    "airflow's database variable": (_replace("url_env: SGS_SRC_EVILJU_URL", "url_env: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"), "SGS_SRC_EVILJU_URL"),
    "mysql option file": (_replace("  url_env: SGS_SRC_EVILJU_URL", "  url: mysql+pymysql://x@db/x?read_default_file=/root/.my.cnf"), "read_default_file"),
    "password in the query string": (_replace("  url_env: SGS_SRC_EVILJU_URL", "  url: mysql+pymysql://x@db/x?pwd=hunter2"), "pwd"),
    "the central store": (_replace("  url_env: SGS_SRC_EVILJU_URL", "  url: sqlite:///../sgs.db"), "不在数据目录"),
    "with delete": (_replace("table: t_xzcf", "query: \"WITH d AS (DELETE FROM t_xzcf RETURNING *) SELECT * FROM d\""), "DELETE"),
    "schedule not cron": (_replace("name: 市测试监管局", "name: 市测试监管局\nschedule: \"$(reboot)\""), "schedule"),
    "name with a newline": (_replace("name: 市测试监管局", "name: \"局\\nsource: {}\""), "控制字符"),
    # bombs and encodings
    "yaml bomb in a field": (_bomb() + _replace("name: 市测试监管局", "name: *a8"), "name"),
    "yaml bomb in the mapping": (_bomb() + _replace("      CF_WSH: wsh\n", "").replace("    columns:\n", "    columns: *a8\n    x_columns:\n"), "columns"),
    "yaml bomb as primary key": (_bomb() + _replace("primary_key: [id]", "primary_key: *a8"), "primary_key"),
    "gbk file": (GOOD.encode("gbk"), "UTF-8"),
    "latin-1 bytes": (b"code: evilju\nname: \xe9\xe8\xff\n", "UTF-8"),
    "tabs and garbage": ("code: evilju\n\tname: [unclosed\n", "YAML"),
    "duplicate anchors": ("code: &c evilju\nname: &c x\nuscc: *c\n", "evilju"),
}


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fail loudly if reading a department file ever tries to create an engine or connect."""
    calls: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        raise AssertionError("a department file reached a database while being read")

    monkeypatch.setattr(sa, "create_engine", refuse)
    monkeypatch.setattr(sa.engine, "create_engine", refuse)
    yield calls
    assert calls == []


class _TooSlow(Exception):
    pass


def _load_within(path: Path, seconds: float) -> Exception:
    """``load_department(path)``'s exception, raising _TooSlow when it takes longer than ``seconds``."""

    def alarm(*_: Any) -> None:
        raise _TooSlow(f"reading {path.name} took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        load_department(path)
    except _TooSlow:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever was raised is returned: the test asserts its kind
        return exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    raise AssertionError(f"{path.name} was accepted")


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_department_file_gets_a_clear_config_error(case: str, tmp_path: Path, no_database: list[Any]) -> None:
    content, fragment = CASES[case]
    path = tmp_path / "evilju.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    t0 = time.perf_counter()
    exc = _load_within(path, 10.0)
    assert isinstance(exc, ConfigError), f"{case}: {type(exc).__name__}: {exc}"
    text = str(exc)
    assert str(path) in text, text  # names the file
    assert fragment in text, f"{case}: {fragment!r} not in {text[:500]!r}"
    assert len(text) < 20_000, f"{case}: a {len(text)}-character message is not clear"
    assert time.perf_counter() - t0 < 10
    assert not Path("/tmp/sgs_pwned").exists()


def test_sql_text_in_a_valid_identifier_is_quoted_not_run(tmp_path: Path) -> None:
    """Identifiers that pass validation (Chinese names, ``$``/``#``) are quoted by SQLAlchemy when the SELECT
    is built: the generated SQL names them, it never splices them."""
    from connectors.settings import ExtractSettings
    from connectors.sql import incremental_select

    ex = ExtractSettings(table="处罚$表#1", cursor="更新时间", primary_key=["编号"])
    table = sa.table("处罚$表#1", sa.column("更新时间"), sa.column("编号"))
    from sqlalchemy.dialects import mysql, postgresql

    for dialect in (mysql.dialect(), postgresql.dialect()):
        sql = str(incremental_select(table, ex, None, department="evilju", limit=10).compile(dialect=dialect))
        assert "处罚$表#1" in sql and ";" not in sql
