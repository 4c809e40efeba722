"""``sgs`` prints untrusted text as text (issue 12 item 7) and answers an unusable central store with one
Chinese line and the right exit code instead of a traceback (item 9)."""

from __future__ import annotations

import csv
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from typer.testing import CliRunner

from national import dataset
from pipeline.cli import app
from pipeline.config import load_department
from pipeline.ingest import ingest
from tests.conftest import PG_URL
from tests.factories import (
    create_penalty_table,
    national_penalty,
    penalty_rows,
    source_env,
    source_sqlite_path,
    write_department,
)

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

# Department names, row values and file names that rich would read as markup (a lone closing tag crashed
# `sgs status` for every department) or as :emoji: codes.
HOSTILE = ["[/]某局", "[bold]x[/bold]", "[red]红色[/]", ":smile:", "\\[escaped]"]


@pytest.fixture
def hostile_departments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    depts = tmp_path / "departments"
    depts.mkdir()
    for k, name in enumerate(HOSTILE[:3]):
        code = f"hostile{k}"
        src = source_sqlite_path(f"{code}.db")
        engine = sa.create_engine(f"sqlite:///{src}")
        with engine.begin() as c:
            rows = penalty_rows(6, seed=k)
            rows[-1]["wsh"], rows[-2]["dsr"] = "[/]", "[bold]当事人[/bold]"  # row values shown by sgs dept check
            c.execute(create_penalty_table(c).insert(), rows)
        engine.dispose()
        path = write_department(depts, code=code)
        text = path.read_text(encoding="utf-8").replace("name: 市测试监管局", f"name: '{name}'")
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv(source_env(code), f"sqlite:///{src}")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(depts))
    monkeypatch.setenv("SGS_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    return depts


def _plain(result: Result) -> str:
    return result.stdout + result.stderr


def test_markup_in_department_names_and_values_is_printed_literally(hostile_departments: Path) -> None:
    # One run in the store (through ingest() itself: the CLI's quality pages cost ~9 s); `sgs status` lists every
    # configured department all the same.
    result = ingest(load_department(hostile_departments / "hostile0.yaml"), "cf", trigger="test")
    assert result.status == "success"
    r = runner.invoke(app, ["status"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, _plain(r) + repr(r.exception)
    for name in HOSTILE[:3]:
        assert name in r.stdout
    r = runner.invoke(app, ["quarantine", "list"], env={"COLUMNS": "250"})
    assert r.exit_code == 0 and "hostile0" in r.stdout, _plain(r) + repr(r.exception)
    r = runner.invoke(app, ["dept", "check", str(hostile_departments / "hostile0.yaml")], env={"COLUMNS": "250"})
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "[bold]当事人[/bold]" in r.stdout and "│ [/]" in r.stdout
    assert "✓ " in r.stdout and "[green]" not in r.stdout  # our own markup still works

    # A YAML key quoted in an error message: printed as written, exit 2 (fix the file).
    bad = hostile_departments / "hostile1.yaml"
    bad.write_text(bad.read_text(encoding="utf-8") + "'[/]': 1\n':smile:': 2\n", encoding="utf-8")
    r = runner.invoke(app, ["status"])
    assert r.exit_code == 2 and "[/]" in r.stderr and ":smile:" in r.stderr, _plain(r) + repr(r.exception)


def test_markup_in_file_names_is_printed_literally(tmp_path: Path) -> None:
    ds = dataset("cf")
    good = tmp_path / "[bold]x[red]:smile:.csv"
    with good.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f.code for f in ds.fields])
        w.writerow([national_penalty(1, random.Random(1)).get(f.code) or "" for f in ds.fields])
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(good)])
    assert r.exit_code == 0 and "文件 [bold]x[red]:smile:.csv（行政处罚）" in r.stdout, _plain(r)
    bad = tmp_path / "[red]y[\\].csv"
    bad.write_text("[/],[bold]\n1,2\n", encoding="utf-8")
    r = runner.invoke(app, ["validate", "--dataset", "cf", str(bad)])
    assert r.exit_code == 2 and "[red]y[\\].csv 有无法识别的表头：[/], [bold]" in r.stderr, _plain(r) + repr(r.exception)


# ---- item 9: the store cannot be used ---------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def one_department(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = source_sqlite_path("one.db")
    engine = sa.create_engine(f"sqlite:///{src}")
    with engine.begin() as c:
        c.execute(create_penalty_table(c).insert(), penalty_rows(3, seed=1))
    engine.dispose()
    depts = tmp_path / "departments"
    depts.mkdir()
    write_department(depts, code="storeju")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(depts))
    monkeypatch.setenv(source_env("storeju"), f"sqlite:///{src}")


COMMANDS = [["status"], ["status", "--json"], ["ingest", "storeju"], ["push"], ["quarantine", "list"],
            ["quarantine", "export", "storeju", "--out", "x.xlsx"], ["demo", "--rows", "5"], ["report"], ["expire"]]


def _assert_one_message(r: Result, code: int, *needles: str) -> None:
    out = _plain(r)
    assert r.exit_code == code, out + repr(r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    lines = [x for x in out.splitlines() if x.strip()]
    assert 1 <= len(lines) <= 2 and lines[0].startswith("错误：") and "Traceback" not in out, out
    for n in needles:
        assert n in out, out


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_store_on_a_closed_port_is_retry_later(args: list[str], one_department: None, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _closed_port()
    monkeypatch.setenv("SGS_STORE_URL", f"postgresql+psycopg://sgs:s3cret@127.0.0.1:{port}/sgs?password=s3cret")
    r = runner.invoke(app, args)
    _assert_one_message(r, 1, "中心库", f"127.0.0.1:{port}", "稍后重试", "sgs:***@")
    assert "s3cret" not in _plain(r)


def test_store_configuration_errors_exit_2(one_department: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGS_STORE_URL", f"sqlite:///{tmp_path / 'no' / 'such' / 'sgs.db'}")
    _assert_one_message(runner.invoke(app, ["status"]), 2, "文件夹", "不存在", "SGS_STORE_URL")
    (tmp_path / "afile").write_text("", encoding="utf-8")
    monkeypatch.setenv("SGS_STORE_URL", f"sqlite:///{tmp_path / 'afile' / 'sgs.db'}")
    _assert_one_message(runner.invoke(app, ["ingest", "storeju"]), 2, "不是文件夹")
    # A folder where no one may create a file (sysfs refuses even root, for whom chmod does not count).
    monkeypatch.setenv("SGS_STORE_URL", "sqlite:////sys/sgs_store_test.db")
    _assert_one_message(runner.invoke(app, ["status"]), 2, "/sys", "SGS_STORE_URL")
    wrong_db = sa.engine.make_url(PG_URL).set(database="sgs_no_such_database_x")
    monkeypatch.setenv("SGS_STORE_URL", wrong_db.render_as_string(hide_password=False))
    _assert_one_message(runner.invoke(app, ["quarantine", "list"]), 2, "数据库不存在", "sgs_no_such_database_x", "SGS_STORE_URL")
    monkeypatch.setenv("SGS_STORE_URL", "nosuchdialect://x/y")
    _assert_one_message(runner.invoke(app, ["push"]), 2, "SGS_STORE_URL")


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("postgresql+psycopg://sgs:s3cret@h:abc/sgs", "sgs:***@h:abc"),  # make_url's ValueError was an 82-line traceback
        (f"{PG_URL}?connect_timeout=abc", "connect_timeout"),  # psycopg: ProgrammingError
        (f"{PG_URL}?sslmode=bogus", "sslmode"),  # psycopg: OperationalError "invalid sslmode value"
        (f"{PG_URL}?no_such_option=1", "no_such_option"),
        ("mysql+pymysql://root@127.0.0.1:3306/x?connect_timeout=abc", "connect_timeout"),
        # a driver that is not installed, and an asyncio driver (MissingGreenlet): were 93- and 296-line tracebacks
        ("postgresql+asyncpg://sgs:s3cret@127.0.0.1:1/x", "驱动未安装"),
        ("sqlite+aiosqlite:///{tmp}/a.db", "异步驱动"),
        # a driver name with "_" was not recognised as a URL by redact_url, which then printed the password
        ("postgresql+psycopg_binary://sgs:s3cret@127.0.0.1:1/x", "sgs:***@"),
        (" postgresql+psycopg://sgs:s3cret@127.0.0.1:1/x", "sgs:***@"),
    ],
    ids=[
        "port-not-a-number", "pg-connect-timeout", "pg-sslmode", "pg-unknown-option", "mysql-connect-timeout",
        "driver-not-installed", "async-driver", "underscore-driver", "leading-space",
    ],
)
def test_a_malformed_store_url_is_a_configuration_error(
    url: str, needle: str, one_department: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not "retry later" (exit 1): retrying cannot fix the URL. Exit 2, one line, no traceback, no password."""
    monkeypatch.setenv("SGS_STORE_URL", url.replace("{tmp}", str(tmp_path)))
    r = runner.invoke(app, ["status"])
    _assert_one_message(r, 2, "中心库", needle, "SGS_STORE_URL")
    assert "s3cret" not in _plain(r)


def test_unreachable_store_in_a_real_process_prints_one_line() -> None:
    port = _closed_port()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "status"], capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SGS_STORE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"},
    )
    assert proc.returncode == 1 and proc.stdout == "", proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "中心库" in proc.stderr and "Traceback" not in proc.stderr
