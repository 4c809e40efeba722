"""方式三 file delivery on both stores: a file goes through the stages of a database run, once; receipts, archive,
rejected; rows of another unit refused; the same decision by database and by file is one record."""

from __future__ import annotations

import io
import json
import random
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy.engine import Engine

from tests.factories import create_penalty_table, penalty_rows, source_env, source_sqlite_path, write_department
from tests.inbox.helpers import (
    OTHER_UNIT,
    file_only_department,
    mixed_rows,
    penalties,
    store_state,
    write_csv,
    write_xlsx,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Departments folder with the file-only department wjju; the inbox root; returns the root."""
    file_only_department(tmp_path / "depts")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(tmp_path / "depts"))
    root = tmp_path / "inbox"
    monkeypatch.setenv("SGS_INBOX_DIR", str(root))
    return root


def _run(store: Engine, department: str | None = None):  # type: ignore[no-untyped-def]
    from pipeline.inbox import run_inbox

    return run_inbox(department, engine=store)


def _waiting(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def test_a_file_goes_through_the_stages_once_with_a_receipt(store: Engine, env: Path) -> None:
    write_csv(env / "wjju" / "2026-11.csv", mixed_rows())
    result = _run(store)
    assert result.exit_code == 1  # some rows quarantined
    [f] = result.files
    assert f.status == "loaded"
    assert {k: f.members[0][k] for k in ("read", "inserted", "quarantined")} == {"read": 7, "inserted": 5, "quarantined": 2}
    dept = env / "wjju"
    assert _waiting(dept) == []
    assert _waiting(dept / "archive") == ["2026-11.csv", "2026-11.csv.receipt.xlsx"]

    state = store_state(store)
    assert len(state["records"]) == 5
    assert {q[1] for q in state["quarantine"]} == {"CF-DATE-001", "CF-USCC-005,FILE-DEPT"}
    from store.schema import ingest_run, record_tables

    with store.connect() as c:
        run = c.execute(sa.select(ingest_run)).mappings().one()
        seqs = c.execute(sa.select(record_tables["cf"].c.change_seq)).scalars().all()
    assert (run["trigger"], run["status"], run["inserted"], run["quarantined"]) == ("inbox", "success", 5, 2)
    assert len(set(seqs)) == 5  # each record took a value of the change sequence: the push sends them
    from store import changelog

    with store.connect() as c:
        assert min(seqs) > changelog.position(c, "cf")

    wb = load_workbook(dept / "archive" / "2026-11.csv.receipt.xlsx")
    head = {r[0].value: r[1].value for r in wb["回执"].iter_rows(max_row=6)}
    assert head["文件名"] == "2026-11.csv" and "5 行已入库，2 行有问题未入库" in head["结论"]
    problems = list(wb["问题数据"].iter_rows(min_row=2, values_only=True))
    assert [p[2] for p in problems] == [7, 8]  # file row numbers (header = row 1)
    assert "日期" in problems[0][6] and "本收件箱只接收本部门" in problems[1][6]
    # The formula-looking 文书号 is stored as sent and never becomes a formula anywhere.
    with store.connect() as c:
        assert c.execute(sa.select(record_tables["cf"].c.cf_wsh).where(record_tables["cf"].c.cf_wsh.like("=%"))).scalar_one()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.coordinate


def test_the_same_file_dropped_twice_is_recognised(store: Engine, env: Path) -> None:
    rows = penalties(4)
    write_csv(env / "wjju" / "a.csv", rows)
    assert _run(store).exit_code == 0
    before = store_state(store)
    write_csv(env / "wjju" / "a.csv", rows)  # the same bytes again, same name
    write_csv(env / "wjju" / "a-copy.csv", rows)  # and under another name
    result = _run(store)
    assert [f.status for f in result.files] == ["duplicate", "duplicate"]
    assert result.exit_code == 0
    assert "未重复入库" in (result.files[0].reason or "")
    assert store_state(store) == before
    archive = env / "wjju" / "archive"
    assert sorted(p.name for p in archive.glob("*.receipt.xlsx")) == ["a.csv.receipt.xlsx"]
    assert _waiting(env / "wjju") == []


def test_all_rows_accepted_is_exit_0_and_a_corrected_file_fixes_the_quarantine(store: Engine, env: Path) -> None:
    rows = mixed_rows()
    write_csv(env / "wjju" / "first.csv", rows)
    assert _run(store).exit_code == 1
    rows[5]["CF_JDRQ"] = "2025-03-01"  # corrected; the other unit's row left out
    write_xlsx(env / "wjju" / "fix.xlsx", [rows[5]])
    result = _run(store)
    assert result.exit_code == 0
    assert result.files[0].members[0]["inserted"] == 1
    state = store_state(store)
    assert len(state["records"]) == 6
    assert [q[2] for q in state["quarantine"] if q[1] == "CF-DATE-001"] == ["fixed"]


def test_a_decision_sent_by_database_and_by_file_is_one_record(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The department docks its database (方式一) and also delivers a file (方式三) with one of the same decisions,
    corrected: the record is updated (version 2), not doubled."""
    src = source_sqlite_path()
    source = sa.create_engine(f"sqlite:///{src}")
    with source.begin() as c:
        c.execute(create_penalty_table(c).insert(), penalty_rows(10, seed=5, bad_every=0))
    source.dispose()
    depts = tmp_path / "depts"
    depts.mkdir()
    write_department(depts, code="testju")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(depts))
    monkeypatch.setenv(source_env("testju"), f"sqlite:///{src}")
    monkeypatch.setenv("SGS_INBOX_DIR", str(tmp_path / "inbox"))
    from pipeline.config import find_department
    from pipeline.ingest import ingest
    from store.schema import record_tables

    ingest(find_department("testju"), "cf", engine=store, trigger="test")
    cf = record_tables["cf"]
    with store.connect() as c:
        first = c.execute(sa.select(cf).order_by(cf.c.id).limit(1)).mappings().one()
        before = c.execute(sa.select(sa.func.count()).select_from(cf)).scalar_one()
    from national import dataset

    national = {c: first[c.lower()] for c in dataset("cf").columns if first[c.lower()] is not None}
    national = {k: (v.isoformat() if hasattr(v, "isoformat") else str(v)) for k, v in national.items()}
    national["CF_NR"] = "罚款（经复核更正）"
    write_csv(tmp_path / "inbox" / "testju" / "更正.csv", [national], encoding="gb18030")
    result = _run(store, "testju")
    assert result.exit_code == 0, result.as_dict()
    assert result.files[0].members[0]["updated"] == 1
    with store.connect() as c:
        after = c.execute(sa.select(sa.func.count()).select_from(cf)).scalar_one()
        rec = c.execute(sa.select(cf).where(cf.c.business_key == first["business_key"])).mappings().one()
    assert after == before
    assert (rec["version"], rec["cf_nr"]) == (2, "罚款（经复核更正）")


def test_unusable_files_load_nothing_and_go_to_rejected_with_the_reason(store: Engine, env: Path) -> None:
    dept = env / "wjju"
    write_csv(dept / "unknown.csv", [{"甲": "1", "乙": "2"}])
    (dept / "scan.pdf").write_bytes(b"%PDF-1.4")
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../etc/cron.d/x.csv", "CF_WSH\n1\n")
    (dept / "evil.zip").write_bytes(evil.getvalue())
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.csv", "0" * (50 * 1024 * 1024))
    (dept / "bomb.zip").write_bytes(bomb.getvalue())
    # A good header, then a malformed line far down: nothing of the file is loaded.
    good = penalties(3)
    path = write_csv(dept / "broken.csv", good)
    with path.open("a", encoding="utf-8") as fh:
        fh.write('"unterminated,quote\n')
    result = _run(store)
    assert result.exit_code == 2
    by_name = {f.name: f for f in result.files}
    assert {f.status for f in result.files} == {"rejected"}
    assert "无法识别的表头" in (by_name["unknown.csv"].reason or "")
    assert "不安全" in (by_name["evil.zip"].reason or "")
    assert "压缩比" in (by_name["bomb.zip"].reason or "")
    assert ".csv" in (by_name["scan.pdf"].reason or "")
    rejected = dept / "rejected"
    for name in by_name:
        assert (rejected / name).is_file()
        assert "原因" in (rejected / f"{name}.reason.txt").read_text(encoding="utf-8")
    assert _waiting(dept) == [] and _waiting(dept / "archive") == []
    assert not (env.parent / "etc").exists()
    assert store_state(store)["records"] == [] and store_state(store)["files"] == []


class _GbkName(zipfile.ZipInfo):
    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 - zipfile's own hook
        return self.filename.encode("gb18030"), self.flag_bits & ~0x800


def test_a_zip_from_a_disc_with_gbk_names_and_both_datasets(store: Engine, env: Path) -> None:
    from tests.factories import authority_code, make_uscc

    xk = {
        "XK_XDR_MC": "杭州测试贸易有限公司", "XK_XDR_LB": "法人及非法人组织", "XK_XDR_SHXYM": make_uscc(random.Random(3)),
        "XK_FRDB": "王五", "XK_XKWS": "食品经营许可证", "XK_WSH": "杭市监许〔2025〕1号", "XK_XKLB": "普通",
        "XK_XKZS": "食品经营许可证", "XK_XKBH": "JY13301000000001", "XK_NR": "预包装食品销售",
        "XK_JDRQ": "2025/03/01", "XK_YXQZ": "2025/03/01", "XK_YXQZI": "2030/02/28", "XK_XKJG": "市测试文件局",
        "XK_XKJGDM": None, "XK_ZT": "1", "XK_LYDW": "市测试文件局", "XK_LYDWDM": None,
    }

    xk["XK_XKJGDM"] = xk["XK_LYDWDM"] = authority_code()
    tmp = env.parent / "parts"
    write_csv(tmp / "处罚.csv", penalties(3), encoding="gb18030")
    write_xlsx(tmp / "许可.xlsx", [xk])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for p in sorted(tmp.iterdir()):
            info = _GbkName("光盘/" + p.name)  # as a ZIP tool on Chinese Windows writes it: GBK, no UTF-8 flag
            z.writestr(info, p.read_bytes())
        z.writestr("__MACOSX/._处罚.csv", b"junk")
    (env / "wjju").mkdir(parents=True)
    (env / "wjju" / "disc.zip").write_bytes(buf.getvalue())
    result = _run(store)
    [f] = result.files
    assert f.status == "loaded", f.as_dict()
    assert [(m["name"], m["dataset"], m["inserted"]) for m in f.members] == [("光盘/处罚.csv", "cf", 3), ("光盘/许可.xlsx", "xk", 1)]
    assert _waiting(env / "wjju" / "archive") == ["disc.zip", "disc.zip.receipt.xlsx"]
    assert not zipfile.ZipFile(env / "wjju" / "archive" / "disc.zip").infolist()[0].flag_bits & 0x800


def test_a_department_may_name_its_own_folder_but_not_outside_the_root(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.config import ConfigError, load_department

    depts = tmp_path / "depts"
    file_only_department(depts, inbox="县区/临安区")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(depts))
    monkeypatch.setenv("SGS_INBOX_DIR", str(tmp_path / "root"))
    write_csv(tmp_path / "root" / "县区" / "临安区" / "x.csv", penalties(2))
    assert _run(store).exit_code == 0
    assert (tmp_path / "root" / "县区" / "临安区" / "archive" / "x.csv").is_file()
    for bad in ("/etc", "../other", "a/../../b", "C:\\\\share", ".hidden"):
        file_only_department(depts, code="badju", inbox=json.dumps(bad))
        with pytest.raises(ConfigError, match="收件箱根目录"):
            load_department(depts / "badju.yaml")


def test_two_departments_naming_one_folder_are_both_refused(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    depts = tmp_path / "depts"
    file_only_department(depts, code="aju", inbox="shared")
    file_only_department(depts, code="bju", inbox="shared")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(depts))
    monkeypatch.setenv("SGS_INBOX_DIR", str(tmp_path / "root"))
    write_csv(tmp_path / "root" / "shared" / "x.csv", penalties(2))
    result = _run(store)
    assert result.exit_code == 2 and len(result.problems) == 2 and result.files == []
    assert (tmp_path / "root" / "shared" / "x.csv").is_file()


def test_rows_of_another_unit_are_refused_even_when_otherwise_valid(store: Engine, env: Path) -> None:
    rows = penalties(2)
    for r in rows:
        r["CF_SJLYDM"] = OTHER_UNIT
    write_csv(env / "wjju" / "other.csv", rows)
    result = _run(store)
    assert result.exit_code == 1 and result.files[0].members[0]["quarantined"] == 2
    assert store_state(store)["records"] == []


def test_the_command_line_contract(store: Engine, env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    monkeypatch.setenv("SGS_STORE_URL", store.url.render_as_string(hide_password=False))
    runner = CliRunner()
    write_csv(env / "wjju" / "ok.csv", penalties(3))
    r = runner.invoke(app, ["inbox", "run", "wjju"])
    assert r.exit_code == 0, r.output
    assert "已入库" in r.output and "数据质量报告" in r.output
    import os

    quality = Path(os.environ["SGS_VAR_DIR"]) / "quality"
    assert (quality / "index.html").is_file() and list((quality / "wjju" / "cf" / "results").glob("*.json"))
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert {(d["department"], d["dataset"]): d["records"] for d in status["departments"]} == {("wjju", "cf"): 3, ("wjju", "xk"): 0}
    write_csv(env / "wjju" / "bad.csv", mixed_rows())
    r = runner.invoke(app, ["inbox", "run", "--json"])
    assert r.exit_code == 1, r.output
    assert json.loads(r.stdout)["files"][0]["quarantined"] == 2
    (env / "wjju" / "x.doc").write_bytes(b"\xd0\xcf")
    assert runner.invoke(app, ["inbox", "run"]).exit_code == 2
    assert runner.invoke(app, ["inbox", "run"]).exit_code == 0  # nothing new
    r = runner.invoke(app, ["inbox", "run", "nosuch"])
    assert r.exit_code == 2 and "没有部门" in r.output


def test_links_and_oversized_files_are_rejected_unread(store: Engine, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret.csv"
    write_csv(secret, penalties(2))
    dept = env / "wjju"
    dept.mkdir(parents=True)
    (dept / "link.csv").symlink_to(secret)
    monkeypatch.setenv("SGS_FILE_MAX_MB", "0.001")
    write_csv(dept / "big.csv", penalties(20))
    write_csv(dept / "copying.csv.part", penalties(2))  # still being copied: left alone
    result = _run(store)
    reasons = {f.name: f.reason or "" for f in result.files}
    assert set(reasons) == {"link.csv", "big.csv"}
    assert "符号链接" in reasons["link.csv"] and "超过上限" in reasons["big.csv"]
    assert (dept / "rejected" / "link.csv").is_symlink() and secret.is_file()
    assert _waiting(dept) == ["copying.csv.part"]
    assert store_state(store)["records"] == []


def test_file_only_departments_in_the_department_checks(tmp_path: Path) -> None:
    from pipeline.config import ConfigError, load_department
    from pipeline.dept_check import check_department

    path = file_only_department(tmp_path)
    dept = load_department(path)
    assert dept.source is None and dept.datasets == {}
    report = check_department(path)
    assert not report.failed and "只用收件箱报送" in report.findings[-1].message
    path.write_text(path.read_text(encoding="utf-8") + "datasets:\n  cf:\n    table: t\n    cursor: c\n    primary_key: [id]\n"
                    "    columns: {CF_WSH: wsh}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="没有 source"):
        load_department(path)


def test_a_second_process_leaves_a_busy_inbox_alone(store: Engine, env: Path) -> None:
    import fcntl
    import os

    write_csv(env / "wjju" / "a.csv", penalties(2))
    fd = os.open(env / "wjju" / ".sgs-inbox.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another run (the DAG, an operator) is working on this inbox
        assert _run(store).files == []
        assert _waiting(env / "wjju") == ["a.csv"]
    finally:
        os.close(fd)
    assert [f.status for f in _run(store).files] == ["loaded"]
