"""``sgs dept check`` and ``sgs dept new``: every failure a DBA meets gets a specific message and exit 2."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_department
from tests.conftest import MARIADB_URL
from tests.factories import create_penalty_table, penalty_rows, write_department

runner = CliRunner()
pytestmark = pytest.mark.integration


@pytest.fixture
def source(mariadb_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    engine = sa.create_engine(mariadb_db)
    with engine.begin() as c:
        c.execute(create_penalty_table(c).insert(), penalty_rows(12, seed=2))
    engine.dispose()
    monkeypatch.setenv("SGS_TEST_SOURCE_URL", mariadb_db)
    monkeypatch.setenv("SGS_STORE_URL", f"sqlite:///{tmp_path / 'never' / 'store.db'}")
    yield write_department(tmp_path), mariadb_db


def check(path: Path) -> tuple[int, str]:
    r = runner.invoke(app, ["dept", "check", str(path)])
    return r.exit_code, r.stdout + r.stderr


def test_a_good_department_passes_with_samples_and_writes_nothing(source: tuple[Path, str], tmp_path: Path) -> None:
    code, text = check(source[0])
    assert code == 0, text
    assert "表 t_xzcf 和" in text and "游标列 gxsj 有索引" in text
    assert "（尚未归集过）全部待读取 12 行" in text
    assert "最新 5 行映射结果" in text and "合格" in text
    assert "可以写入" in text  # root can write: a warning, not a failure
    assert not (tmp_path / "never").exists(), "dept check must not create the central store"


def test_missing_and_unknown_keys(source: tuple[Path, str]) -> None:
    path = source[0]
    path.write_text(path.read_text(encoding="utf-8").replace("    cursor: gxsj\n", ""), encoding="utf-8")
    code, text = check(path)
    assert code == 2 and str(path) in text and "必须填写 cursor" in text
    path.write_text(path.read_text(encoding="utf-8").replace("    primary_key:", "    cursor: gxsj\n    primary_kye: [id]\n    primary_key:"), encoding="utf-8")
    code, text = check(path)
    assert code == 2 and "primary_kye: 不认识的键" in text


def test_unreachable_host(source: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGS_TEST_SOURCE_URL", "mysql+pymysql://root@127.0.0.1:1/nowhere")
    code, text = check(source[0])
    assert code == 2 and "连不上数据库 127.0.0.1:1" in text and "testju" in text


def test_wrong_password(source: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    user = f"sgs_pw_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(MARIADB_URL)
    with admin.begin() as c:
        c.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'right-one'"))
    try:
        db = sa.engine.make_url(source[1]).database
        monkeypatch.setenv("SGS_TEST_SOURCE_URL", f"mysql+pymysql://{user}:wrong-one@127.0.0.1:3306/{db}")
        code, text = check(source[0])
        assert code == 2 and "拒绝登录" in text and "用户名或密码错误" in text
        assert "wrong-one" not in text
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f"DROP USER '{user}'@'%'"))
        admin.dispose()


def test_missing_table_and_missing_column(source: tuple[Path, str]) -> None:
    path = source[0]
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace("table: t_xzcf", "table: t_nosuch"), encoding="utf-8")
    code, text = check(path)
    assert code == 2 and "没有表 t_nosuch" in text
    path.write_text(original.replace("CF_SY: ss", "CF_SY: wfss"), encoding="utf-8")
    code, text = check(path)
    assert code == 2 and "没有这些列：wfss（columns.CF_SY）" in text and "现有列" in text


def test_read_only_account_is_not_warned(source: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    user = f"sgs_ro_{uuid.uuid4().hex[:6]}"
    db = sa.engine.make_url(source[1]).database
    admin = sa.create_engine(MARIADB_URL)
    with admin.begin() as c:
        c.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'ro-pass'"))
        c.execute(sa.text(f"GRANT SELECT ON `{db}`.* TO '{user}'@'%'"))
    try:
        monkeypatch.setenv("SGS_TEST_SOURCE_URL", f"mysql+pymysql://{user}:ro-pass@127.0.0.1:3306/{db}")
        code, text = check(source[0])
        assert code == 0, text
        assert "对接账号只读" in text and "可以写入" not in text
    finally:
        with admin.begin() as c:
            c.execute(sa.text(f"DROP USER '{user}'@'%'"))
        admin.dispose()


def test_cursor_without_index_is_warned(source: tuple[Path, str]) -> None:
    engine = sa.create_engine(source[1])
    with engine.begin() as c:
        c.execute(sa.text("DROP INDEX ix_t_xzcf_gxsj ON t_xzcf"))
    engine.dispose()
    code, text = check(source[0])
    assert code == 0 and "游标列 gxsj 没有索引" in text


def test_rows_without_a_cursor_value_are_warned(source: tuple[Path, str]) -> None:
    engine = sa.create_engine(source[1])
    with engine.begin() as c:
        c.execute(sa.text("UPDATE t_xzcf SET gxsj = NULL WHERE id IN (1, 2)"))
    engine.dispose()
    code, text = check(source[0])
    assert code == 0 and "有 2 行的游标列 gxsj 为空" in text and "全部待读取 10 行" in text


def test_dept_new_scaffolds_a_loadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(tmp_path))
    r = runner.invoke(app, ["dept", "new", "jtysj", "--name", "市交通运输局"])
    assert r.exit_code == 0, r.stdout + r.stderr
    dept = load_department(tmp_path / "jtysj.yaml")
    assert (dept.code, dept.name, dept.source.conn_id) == ("jtysj", "市交通运输局", "sgs_src_jtysj")
    again = runner.invoke(app, ["dept", "new", "jtysj"])
    assert again.exit_code == 2 and "已存在" in again.stderr
    bad = runner.invoke(app, ["dept", "new", "Bad-Code"])
    assert bad.exit_code == 2
