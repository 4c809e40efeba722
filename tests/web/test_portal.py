"""方式二 department portal over real stores (SQLite, PostgreSQL) through its HTTP interface: login with CSRF and
the first password change, the record form through the real stages (store, history, change sequence, quarantine),
batch import (template, XLSX/CSV GB18030, bounds), corrections, withdrawal, department isolation, CSRF refusals,
injection-looking input kept as text, lockout, and no password or hash in any log."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from national import dataset
from store.schema import ingest_run, portal_audit, portal_user, quarantine, record_tables, record_version
from tests.web.portal_helpers import (
    FIRST,
    SECOND,
    UNITS,
    Clerk,
    token_of,
    unit_files,  # noqa: F401 - the fixture, used by pytestmark
    valid_licence,
    valid_penalty,
)
from web.portal.accounts import MAX_FAILURES, AccountError, add_user, password_problem
from web.portal.app import SECURITY_HEADERS, create_app

pytestmark = pytest.mark.usefixtures("unit_files")  # every portal unit has its department file


def records(engine: Engine, ds: str, department: str | None = None) -> list[dict[str, Any]]:
    t = record_tables[ds]
    stmt = sa.select(t).order_by(t.c.id)
    if department:
        stmt = stmt.where(t.c.department == department)
    with engine.connect() as c:
        return [dict(r) for r in c.execute(stmt).mappings()]


def open_entries(engine: Engine, department: str) -> list[dict[str, Any]]:
    with engine.connect() as c:
        return [dict(r) for r in c.execute(sa.select(quarantine).where(
            quarantine.c.department == department, quarantine.c.status == "open")).mappings()]


def field_errors(html: str) -> dict[str, str]:
    """Field code → the problems shown under it (the inline messages of the record form)."""
    out = {}
    for part in html.split('data-field="')[1:]:
        code = part.split('"', 1)[0]
        msgs = re.findall(r'<div class="field-error">([^<]+)</div>', part)
        if msgs:
            out[code] = " ".join(msgs)
    return out


# --- login, CSRF, first password -------------------------------------------------------------------------------

def test_anonymous_is_sent_to_login_and_login_needs_its_csrf_token(sqlite_store: Engine) -> None:
    c = TestClient(create_app(sqlite_store), follow_redirects=False)
    r = c.get("/")
    assert r.status_code in (302, 303) and r.headers["location"] == "/login"
    page = c.get("/login")
    fields = re.findall(r'<input[^>]*name="([^"]*csrf[^"]*)"', page.text)
    assert fields == ["csrf_token"]
    for k, v in SECURITY_HEADERS.items():
        assert page.headers[k] == v
    assert page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert c.post("/login", data={"login": "x", "password": "y"}).status_code == 403
    other = TestClient(create_app(sqlite_store)).get("/login")  # another browser's token
    assert c.post("/login", data={"login": "x", "password": "y", "csrf_token": token_of(other.text)}).status_code == 403
    assert c.post("/login", data={"login": "x", "password": "y", "csrf_token": token_of(page.text)}).status_code == 401


def test_first_login_must_change_a_strong_password(sqlite_store: Engine) -> None:
    clerk = Clerk(sqlite_store, "xqa", "clerk_a", changed=False)
    assert clerk.client.get("/new/cf").url.path == "/password"  # nothing else until the password is changed
    r = clerk.post("/password", {"old": FIRST, "new": "abc", "repeat": "abc"})
    assert r.status_code == 400 and "至少 10 位" in r.text
    r = clerk.post("/password", {"old": "wrong-Old-1", "new": SECOND, "repeat": SECOND})
    assert r.status_code == 400 and "原密码不正确" in r.text
    r = clerk.post("/password", {"old": FIRST, "new": SECOND, "repeat": SECOND})
    assert r.url.path == "/" and "密码已修改" in r.text
    clerk.client.cookies.clear()
    assert clerk.login(FIRST).url.path == "/login"
    assert clerk.login(SECOND).url.path == "/"


def test_password_strength() -> None:
    assert password_problem("short1A!")
    assert password_problem("alllowercaseletters")
    assert password_problem("Clerk_a-2026x", "clerk_a")
    assert password_problem("password1!")  # common
    assert password_problem(SECOND) is None


def test_lockout_after_repeated_failures(sqlite_store: Engine) -> None:
    clerk = Clerk(sqlite_store, "xqa", "clerk_a")
    clerk.client.cookies.clear()
    for _ in range(MAX_FAILURES - 1):
        assert "登录名或密码不正确" in clerk.login("Wrong-Pass-99").text
    assert "已锁定" in clerk.login("Wrong-Pass-99").text
    r = clerk.login(SECOND)  # the right password does not open a locked account
    assert r.url.path == "/login" and "已锁定" in r.text
    with sqlite_store.connect() as c:
        actions = [a for (a,) in c.execute(sa.select(portal_audit.c.action).order_by(portal_audit.c.id))]
    assert "locked" in actions and actions.count("login_failed") == MAX_FAILURES - 1 and "login_refused" in actions


def test_posts_without_or_with_another_sessions_csrf_token_are_refused(sqlite_store: Engine) -> None:
    a = Clerk(sqlite_store, "xqa", "clerk_a")
    b = Clerk(sqlite_store, "xqb", "clerk_b")
    row = valid_penalty(1)
    assert a.client.post("/new/cf", data=row).status_code == 403
    assert a.client.post("/new/cf", data={**row, "csrf_token": b.csrf}).status_code == 403
    assert a.client.post("/logout", data={"csrf_token": b.csrf}).status_code == 403
    assert records(sqlite_store, "cf") == []
    assert a.post("/new/cf", row).status_code == 200


# --- the record form through the real stages ---------------------------------------------------------------------

def test_form_submission_goes_through_the_real_stages(store: Engine) -> None:
    clerk = Clerk(store, "xqa", "clerk_a")
    r = clerk.post("/new/cf", valid_penalty(1))
    assert r.status_code == 200 and "已入库" in r.text
    [rec] = records(store, "cf")
    assert rec["department"] == "xqa" and rec["version"] == 1 and rec["cf_wsh"] == "杭市监罚〔2026〕1号"
    assert rec["publicity_end"] is not None  # derived by the same stage as 方式一
    with store.connect() as c:
        assert c.execute(sa.select(ingest_run.c.trigger).where(ingest_run.c.id == rec["run_id"])).scalar_one() == "portal"
    # The same decision sent again, corrected: one record, version 2, the first version in the history.
    r = clerk.post("/new/cf", valid_penalty(1, CF_NR="罚款人民币六千元", CF_NR_FK="0.6"))
    assert "已入库" in r.text
    [rec2] = records(store, "cf")
    assert rec2["id"] == rec["id"] and rec2["version"] == 2 and rec2["change_seq"] > rec["change_seq"]
    with store.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(record_version)).scalar_one() == 1
    page = clerk.client.get("/records/cf")
    assert "杭市监罚〔2026〕1号" in page.text and "在线报送" in page.text
    with store.connect() as c:  # who, when, what
        trail = c.execute(sa.select(portal_audit.c.login, portal_audit.c.department, portal_audit.c.at, portal_audit.c.detail)
                          .where(portal_audit.c.action == "submit").order_by(portal_audit.c.id)).all()
    assert [(t.login, t.department) for t in trail] == [("clerk_a", "xqa")] * 2
    assert all(t.at is not None and "杭市监罚〔2026〕1号" in t.detail and "已入库" in t.detail for t in trail)
    assert "clerk_a" in clerk.client.get("/audit").text


def test_invalid_decision_shows_per_field_problems_in_chinese_and_is_kept_as_problem_data(store: Engine) -> None:
    clerk = Clerk(store, "xqa", "clerk_a")
    r = clerk.post("/new/cf", valid_penalty(2, CF_XDR_SHXYM="12345", CF_JDRQ=""))
    assert r.status_code == 422
    blocks = field_errors(r.text)
    assert "统一社会信用代码" in blocks["CF_XDR_SHXYM"] and "未填写" in blocks["CF_JDRQ"]
    assert 'value="12345"' in r.text  # what was typed stays in the form
    assert records(store, "cf") == []
    [entry] = open_entries(store, "xqa")
    # Correct it from the 问题数据 page: the entry closes, the record is in.
    page = clerk.client.get(f"/problems/{entry['id']}")
    assert page.status_code == 200 and "12345" in page.text
    r = clerk.post(f"/problems/{entry['id']}", valid_penalty(2))
    assert "已入库" in r.text
    assert open_entries(store, "xqa") == [] and len(records(store, "cf")) == 1


def test_withdrawal_with_reason(store: Engine) -> None:
    clerk = Clerk(store, "xqa", "clerk_a")
    clerk.post("/new/xk", valid_licence(3))
    [rec] = records(store, "xk")
    r = clerk.post("/withdraw/xk", {"record_id": rec["id"], "reason": " "})
    assert r.status_code == 400 and "原因" in r.text
    r = clerk.post("/withdraw/xk", {"record_id": rec["id"], "reason": "复议决定撤销原许可决定"})
    assert r.status_code == 200 and "已撤回" in r.text
    [after] = records(store, "xk")
    assert after["status"] == "withdrawn" and after["operation"] == "D" and "复议决定撤销原许可决定" in after["withdrawn_reason"]
    with store.connect() as c:
        detail = c.execute(sa.select(portal_audit.c.detail).where(portal_audit.c.action == "withdraw")).scalar_one()
    assert "复议决定撤销原许可决定" in detail


# --- isolation ------------------------------------------------------------------------------------------------

def test_department_a_cannot_read_or_change_department_b(store: Engine) -> None:
    a = Clerk(store, "xqa", "clerk_a")
    b = Clerk(store, "xqb", "clerk_b")
    a.post("/new/cf", valid_penalty(10))
    a.post("/new/cf", valid_penalty(11, CF_XDR_SHXYM="bad"))
    [rec] = records(store, "cf", "xqa")
    [entry] = open_entries(store, "xqa")
    # by URL
    assert b.client.get(f"/problems/{entry['id']}").status_code == 404
    assert "杭市监罚〔2026〕10号" not in b.client.get("/records/cf").text
    assert "data-id" not in b.client.get("/records/cf", params={"doc_no": "杭市监罚〔2026〕10号"}).text
    assert "还没有" not in b.client.get("/problems").text and "杭市监罚〔2026〕11号" not in b.client.get("/problems").text
    dl = load_workbook(io.BytesIO(b.client.get("/problems/cf.xlsx").content))
    assert dl.worksheets[0].max_row == 1  # headers only
    # by form field
    assert b.post("/withdraw/cf", {"record_id": rec["id"], "reason": "越权"}).status_code == 404
    assert b.post(f"/problems/{entry['id']}", valid_penalty(11)).status_code == 404
    r = b.post("/new/cf", {**valid_penalty(12), "department": "xqa"})  # a department field is ignored
    assert "已入库" in r.text
    assert [x["cf_wsh"] for x in records(store, "cf", "xqa")] == ["杭市监罚〔2026〕10号"]
    assert records(store, "cf", "xqa")[0]["status"] == "active"
    assert [x["cf_wsh"] for x in records(store, "cf", "xqb")] == ["杭市监罚〔2026〕12号"]
    assert len(open_entries(store, "xqa")) == 1
    # by the 数据来源单位代码 the business key starts with: B sends A's decision under A's code; the portal sets
    # B's own code, so it is B's record and A's stays as it was (a typed code would have updated A's record).
    r = b.post("/new/cf", valid_penalty(10, CF_SJLYDM=UNITS["xqa"][1], CF_SJLY=UNITS["xqa"][0], CF_NR="罚款人民币九万元"))
    assert "已入库" in r.text
    [still] = records(store, "cf", "xqa")
    assert still["version"] == 1 and still["cf_nr"] == rec["cf_nr"]
    assert {x["cf_sjlydm"] for x in records(store, "cf", "xqb")} == {UNITS["xqb"][1]}


def test_a_unit_without_a_department_file_gets_no_account(sqlite_store: Engine) -> None:
    """The portal takes 数据来源单位 and its code from the unit's department file; without one, no account."""
    with pytest.raises(AccountError, match="还没有部门配置文件"):
        add_user(sqlite_store, "xqz", "clerk_z", "赵六", FIRST)


# --- injection-looking input ---------------------------------------------------------------------------------

def test_sql_html_and_formula_looking_input_is_stored_and_shown_as_text(sqlite_store: Engine) -> None:
    clerk = Clerk(sqlite_store, "xqa", "clerk_a")
    sql = "x'); DROP TABLE record_cf; --"
    html = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    formula = '=HYPERLINK("http://evil.example","点我")'
    r = clerk.post("/new/cf", valid_penalty(20, CF_SY=f"经查：{sql} {html}", CF_NR=formula))
    assert "已入库" in r.text, r.text
    [rec] = records(sqlite_store, "cf")
    assert sql in rec["cf_sy"] and html in rec["cf_sy"] and rec["cf_nr"] == formula
    # shown escaped: in the problem form (a bad row with the same text)
    clerk.post("/new/cf", valid_penalty(21, CF_SY=html, CF_NR=formula, CF_XDR_SHXYM="bad"))
    [entry] = open_entries(sqlite_store, "xqa")
    page = clerk.client.get(f"/problems/{entry['id']}").text
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<script>" not in clerk.client.get("/problems").text
    wb = load_workbook(io.BytesIO(clerk.client.get("/problems/cf.xlsx").content))
    ws = wb.worksheets[0]
    col = dataset("cf").columns.index("CF_NR") + 1
    cell = ws.cell(2, col)
    assert cell.value == formula and cell.data_type == "s"


# --- batch import ----------------------------------------------------------------------------------------------

def fill_template(content: bytes, rows: list[dict[str, Any]], ds: str) -> bytes:
    wb = load_workbook(io.BytesIO(content))
    ws = wb.worksheets[0]
    columns = dataset(ds).columns
    for n, r in enumerate(rows, start=2):
        for i, code in enumerate(columns, start=1):
            v = r.get(code)
            if v is not None:
                ws.cell(n, i, v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(clerk: Clerk, ds: str, name: str, data: bytes) -> Any:
    return clerk.client.post("/import", data={"dataset": ds, "csrf_token": clerk.csrf}, files={"file": (name, data)})


def test_template_has_chinese_headers_dropdowns_and_instructions(sqlite_store: Engine) -> None:
    clerk = Clerk(sqlite_store, "xqa", "clerk_a")
    wb = load_workbook(io.BytesIO(clerk.client.get("/template/xk.xlsx").content))
    ws = wb.worksheets[0]
    assert [c.value for c in ws[1]] == [f.name_zh for f in dataset("xk").fields]
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in ws.data_validations.dataValidation}
    assert any("普通" in f for f in lists.values()) and any("法人及非法人组织" in f for f in lists.values())
    assert "填报说明" in wb.sheetnames


def test_upload_gives_per_row_verdicts_loads_good_rows_keeps_bad_ones(store: Engine) -> None:
    clerk = Clerk(store, "xqa", "clerk_a")
    rows = [valid_penalty(30), valid_penalty(31, CF_XDR_SHXYM="bad-code"), valid_penalty(32)]
    data = fill_template(clerk.client.get("/template/cf.xlsx").content, rows, "cf")
    r = upload(clerk, "cf", "六月.xlsx", data)
    assert r.status_code == 200, r.text
    assert "共 3 行，入库 2 行，问题数据 1 行" in r.text
    verdicts = re.findall(r'<tr class="(accepted|rejected)"><td>(\d+)</td>', r.text)
    assert verdicts == [("accepted", "2"), ("rejected", "3"), ("accepted", "4")]
    assert {x["cf_wsh"] for x in records(store, "cf")} == {"杭市监罚〔2026〕30号", "杭市监罚〔2026〕32号"}
    # The bad row downloads in the template's layout; corrected and uploaded again, it closes.
    wb = load_workbook(io.BytesIO(clerk.client.get("/problems/cf.xlsx").content))
    ws = wb.worksheets[0]
    code_col = dataset("cf").columns.index("CF_XDR_SHXYM") + 1
    assert ws.cell(2, code_col).value == "BAD-CODE" and ws.cell(2, code_col).comment is not None
    fixed = fill_template(clerk.client.get("/template/cf.xlsx").content, [valid_penalty(31)], "cf")
    r = upload(clerk, "cf", "改正.xlsx", fixed)
    assert "入库 1 行，问题数据 0 行" in r.text
    assert open_entries(store, "xqa") == [] and len(records(store, "cf")) == 3


def test_upload_csv_in_gb18030(sqlite_store: Engine) -> None:
    clerk = Clerk(sqlite_store, "xqa", "clerk_a")
    fields = dataset("xk").fields
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([f.name_zh for f in fields])
    for i in (40, 41):
        row = valid_licence(i)
        w.writerow([row.get(f.code) or "" for f in fields])
    r = upload(clerk, "xk", "许可.csv", buf.getvalue().encode("gb18030"))
    assert "共 2 行，入库 2 行，问题数据 0 行" in r.text, r.text
    assert len(records(sqlite_store, "xk")) == 2


def test_upload_bounds_and_malformed_files_get_clear_messages(sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    clerk = Clerk(sqlite_store, "xqa", "clerk_a")
    r = upload(clerk, "cf", "坏文件.xlsx", b"PK\x03\x04 not really a workbook")
    assert r.status_code == 400 and "无法按 XLSX 读取" in r.text and "坏文件.xlsx" in r.text
    r = upload(clerk, "cf", "a.pdf", b"%PDF-1.4")
    assert r.status_code == 400 and "只支持 .xlsx 和 .csv" in r.text
    r = upload(clerk, "cf", "空.csv", b"")
    assert r.status_code == 400 and "空文件" in r.text
    wb = Workbook()
    wb.active.append(["随便", "什么"])
    wb.active.append(["1", "2"])
    buf = io.BytesIO()
    wb.save(buf)
    r = upload(clerk, "cf", "乱表头.xlsx", buf.getvalue())
    assert r.status_code == 400 and "无法识别的表头" in r.text
    wide = ",".join(f"c{i}" for i in range(250)) + "\n" + ",".join("x" for _ in range(250)) + "\n"
    r = upload(clerk, "cf", "宽.csv", wide.encode())
    assert r.status_code == 400 and "宽.csv 的表头有 250 列" in r.text and "200 列的上限" in r.text
    monkeypatch.setenv("SGS_PORTAL_UPLOAD_ROWS", "2")
    data = fill_template(clerk.client.get("/template/cf.xlsx").content, [valid_penalty(i) for i in (50, 51, 52)], "cf")
    r = upload(clerk, "cf", "多.xlsx", data)
    assert r.status_code == 413 and "超过 2 行的上限" in r.text
    monkeypatch.setenv("SGS_PORTAL_UPLOAD_MB", "0.001")
    r = upload(clerk, "cf", "大.csv", b"x" * 200_000)
    assert r.status_code == 413 and "上限" in r.text
    assert records(sqlite_store, "cf") == []


# --- accounts from the command line; no secret in any log -----------------------------------------------------

def test_user_commands_and_no_password_or_hash_in_logs(sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    from pipeline import settings
    from pipeline.cli import app

    url = sqlite_store.url.render_as_string(hide_password=False)
    monkeypatch.setenv("SGS_STORE_URL", url)
    monkeypatch.setattr(settings, "_engines", {url: sqlite_store})
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    monkeypatch.setenv("SGS_PORTAL_PASSWORD", FIRST)
    r = runner.invoke(app, ["user", "add", "xqa", "clerk_cli", "--name", "李四"])
    assert r.exit_code == 0, r.output
    assert FIRST not in r.output
    r = runner.invoke(app, ["user", "add", "xqa", "clerk_cli", "--name", "李四"])
    assert r.exit_code == 1 and "已存在" in r.output
    r = runner.invoke(app, ["user", "list", "--json"])
    [u] = json.loads(r.output)
    assert u["login"] == "clerk_cli" and u["must_change"] and "password_hash" not in u
    monkeypatch.delenv("SGS_PORTAL_PASSWORD")
    r = runner.invoke(app, ["user", "reset-password", "clerk_cli"])
    assert r.exit_code == 0 and "临时密码：" in r.output  # generated, shown once to the operator
    temp = re.search(r"临时密码：(\S+)（", r.output).group(1)  # type: ignore[union-attr]
    assert password_problem(temp) is None
    r = runner.invoke(app, ["user", "disable", "clerk_cli"])
    assert r.exit_code == 0
    c = TestClient(create_app(sqlite_store))
    page = c.get("/login")
    r = c.post("/login", data={"login": "clerk_cli", "password": temp, "csrf_token": token_of(page.text)})
    assert "登录名或密码不正确" in r.text  # disabled
    # a whole session's flow, then: no password, no hash in the logs or the audit table
    clerk = Clerk(sqlite_store, "xqb", "clerk_log")
    clerk.post("/new/cf", valid_penalty(60))
    clerk.client.cookies.clear()
    clerk.login("Wrong-Pass-99")
    with sqlite_store.connect() as conn:
        hashes = [h for (h,) in conn.execute(sa.select(portal_user.c.password_hash))]
        audit_text = " ".join(str(v) for row in conn.execute(sa.select(portal_audit)) for v in row)
    logged = caplog.text + audit_text
    for secret in (FIRST, SECOND, temp, "Wrong-Pass-99", *hashes, *(h.split("$")[-1] for h in hashes)):
        assert secret not in logged
    assert all(h.startswith("$argon2id$") for h in hashes)


def test_portal_migration_goes_down_and_up(sqlite_store: Engine) -> None:
    from alembic import command

    from store.db import alembic_config

    tables = {"portal_user", "portal_session", "portal_audit"}
    assert tables <= set(sa.inspect(sqlite_store).get_table_names())
    cfg = alembic_config(sqlite_store.url.render_as_string(hide_password=False))
    command.downgrade(cfg, "0011_narrow_hashes")
    assert not tables & set(sa.inspect(sqlite_store).get_table_names())
    command.upgrade(cfg, "head")
    assert tables <= set(sa.inspect(sqlite_store).get_table_names())


def test_portal_rows_leave_a_docking_departments_watermark_alone(sqlite_store: Engine) -> None:
    """A department that also docks its database (方式一) has a watermark: a portal submission checks it like any
    chunk and never moves it; the same decision from both channels is one record."""
    import datetime as dt

    from store.schema import watermark
    from tests.web.records import load

    load(sqlite_store, "cf", [valid_penalty(70)], department="xqa")
    with sqlite_store.begin() as c:
        c.execute(watermark.insert().values(department="xqa", dataset="cf", cursor_value='{"type": "ts", "value": "x"}',
                                            updated_at=dt.datetime.now(dt.UTC), run_id=1))
    clerk = Clerk(sqlite_store, "xqa", "clerk_a")
    assert "已入库" in clerk.post("/new/cf", valid_penalty(70, CF_NR="罚款人民币八千元", CF_NR_FK="0.8")).text
    [rec] = records(sqlite_store, "cf")
    assert rec["version"] == 2 and rec["cf_nr"] == "罚款人民币八千元"
    with sqlite_store.connect() as c:
        assert c.execute(sa.select(watermark.c.cursor_value)).scalar_one() == '{"type": "ts", "value": "x"}'
