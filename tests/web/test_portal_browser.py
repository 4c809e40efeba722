"""The portal as a clerk uses it: ``sgs serve portal`` (uvicorn) on a free port over a SQLite store, an account from
``sgs user add``, headless Chromium (tests/cdp.py): log in, change the first password, submit a valid and an
invalid decision by form, upload a filled template with good and bad rows, correct a bad row, withdraw a decision.
Screenshots are kept in the test's tmp folder. Then the contract operators' checks use, over real HTTP, and the
server's log holds no password."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy.engine import Engine

from national import dataset
from store.schema import quarantine, record_tables
from tests.cdp import Browser, free_port
from tests.servers import running
from tests.web.portal_helpers import (
    FIRST,
    SECOND,
    unit_files,  # noqa: F401 - the fixture, used by pytestmark
    valid_penalty,
)

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("unit_files")  # every portal unit has its department file


def env_of(store: Engine, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SGS_STORE_URL": store.url.render_as_string(hide_password=False), "PYTHONPATH": str(ROOT),
           "SGS_VAR_DIR": str(tmp_path / "var"), **extra}
    env.pop("SGS_PORTAL_PASSWORD", None)
    env.update(extra)
    return env


@pytest.fixture
def server(sqlite_store: Engine, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    add = subprocess.run([sys.executable, "-m", "pipeline.cli", "user", "add", "xqa", "clerk_web", "--name", "王五"],
                         env=env_of(sqlite_store, tmp_path, SGS_PORTAL_PASSWORD=FIRST), cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert add.returncode == 0, add.stdout + add.stderr
    port = free_port()
    log = tmp_path / "serve-portal.log"
    base = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "pipeline.cli", "serve", "portal", "--port", str(port)], probe=f"{base}/login",
                 env=env_of(sqlite_store, tmp_path), cwd=tmp_path, log=log, name="sgs serve portal"):
        yield base, log


def fill(browser: Browser, values: dict[str, Any]) -> None:
    for code, v in values.items():
        browser.js(f"(() => {{ const e = document.getElementById({json.dumps(code)}); if (e && !e.readOnly) e.value = {json.dumps(v or '')}; }})()")


def open_page(browser: Browser, url: str, ready: str, what: str) -> None:
    """Navigate and wait until the new document is complete and shows ``ready``."""
    browser.goto(url)
    path = url.split("//", 1)[1].split("/", 1)[1].split("?")[0]
    browser.wait_for(f"location.pathname === '/{path}' && document.readyState === 'complete' && ({ready})", what)


def submit(browser: Browser, form: str) -> None:
    browser.js(f"document.getElementById({json.dumps(form)}).submit()")


def test_contract_over_http(server: tuple[str, Path]) -> None:
    base, _ = server
    r = httpx.get(f"{base}/", follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"] == "/login"
    page = httpx.get(f"{base}/login")
    assert 'name="csrf_token"' in page.text
    assert httpx.post(f"{base}/login", data={"login": "clerk_web", "password": FIRST}, cookies=page.cookies).status_code == 403


def test_a_clerk_reports_in_chromium(server: tuple[str, Path], browser: Browser, sqlite_store: Engine, tmp_path: Path) -> None:
    base, log = server
    shots = tmp_path
    # log in, change the first password
    browser.goto(f"{base}/")
    browser.wait_for("location.pathname === '/login' && document.readyState === 'complete' && document.getElementById('login')",
                     "the login page")
    browser.screenshot(shots / "portal-01-login.png")
    browser.type_into("#login", "clerk_web")
    browser.type_into("#password", FIRST)
    browser.js("document.getElementById('send').click()")
    browser.wait_for("location.pathname === '/password' && document.readyState === 'complete' && document.getElementById('old')",
                     "the first-login password page")
    browser.type_into("#old", FIRST)
    browser.type_into("#new", SECOND)
    browser.type_into("#repeat", SECOND)
    assert browser.js("document.getElementById('new').value") == SECOND
    browser.js("document.getElementById('send').click()")
    browser.wait_for("document.body.innerText.includes('密码已修改')", "home after the password change")
    browser.screenshot(shots / "portal-02-home.png")

    # a valid decision by form
    open_page(browser, f"{base}/new/cf", "document.getElementById('CF_WSH')", "the penalty form")
    assert browser.js("document.getElementById('CF_JDRQ').type") == "date"
    assert browser.js("document.getElementById('CF_XDR_LB').tagName") == "SELECT"
    fill(browser, valid_penalty(1))
    browser.screenshot(shots / "portal-03-form.png")
    submit(browser, "record-form")
    browser.wait_for("document.body.innerText.includes('已入库')", "the accepted page")
    browser.screenshot(shots / "portal-04-accepted.png")

    # an invalid one: problems inline, per field
    open_page(browser, f"{base}/new/cf", "document.getElementById('CF_WSH')", "the penalty form")
    fill(browser, valid_penalty(2, CF_XDR_SHXYM="12345"))
    submit(browser, "record-form")
    browser.wait_for("document.querySelector('[data-field=CF_XDR_SHXYM] .field-error')", "the inline problem")
    assert "统一社会信用代码" in browser.js("document.querySelector('[data-field=CF_XDR_SHXYM] .field-error').innerText")
    browser.screenshot(shots / "portal-05-invalid.png")

    # batch import: the template downloaded through the session, filled with a good and a bad row
    cookies = {c["name"]: c["value"] for c in browser.call("Network.getAllCookies")["cookies"]}
    template = httpx.get(f"{base}/template/cf.xlsx", cookies=cookies).content
    wb = load_workbook(io.BytesIO(template))
    ws = wb.worksheets[0]
    for n, row in enumerate([valid_penalty(3), valid_penalty(4, CF_JDRQ="2026-02-30")], start=2):
        for i, code in enumerate(dataset("cf").columns, start=1):
            if row.get(code) is not None:
                ws.cell(n, i, row[code])
    upload = tmp_path / "六月处罚.xlsx"
    wb.save(upload)
    open_page(browser, f"{base}/import", "document.getElementById('file')", "the import page")
    browser.js("document.getElementById('dataset').value = 'cf'")
    root = browser.call("DOM.getDocument")["root"]["nodeId"]
    node = browser.call("DOM.querySelector", nodeId=root, selector="#file")["nodeId"]
    browser.call("DOM.setFileInputFiles", files=[str(upload)], nodeId=node)
    submit(browser, "import-form")
    browser.wait_for("document.getElementById('summary')", "the per-row verdicts")
    assert "入库 1 行，问题数据 1 行" in browser.js("document.getElementById('summary').innerText")
    browser.screenshot(shots / "portal-06-import.png")

    # correct a bad row from the 问题数据 list
    open_page(browser, f"{base}/problems", "document.querySelector('#problems a[href^=\"/problems/\"]')", "the open problem rows")
    assert browser.js("document.querySelectorAll('#problems a[href^=\"/problems/\"]').length") == 2
    href = browser.js("document.querySelector('#problems a[href^=\"/problems/\"]').getAttribute('href')")
    open_page(browser, f"{base}{href}", "document.getElementById('record-form')", "the correction form")
    wsh = browser.js("document.getElementById('CF_WSH').value")
    number = int(wsh.split("〕")[1].rstrip("号"))
    fill(browser, valid_penalty(number))
    browser.screenshot(shots / "portal-07-correct.png")
    submit(browser, "record-form")
    browser.wait_for("document.body.innerText.includes('已入库')", "the corrected row accepted")

    # withdraw a decision with a reason
    open_page(browser, f"{base}/records/cf", "document.querySelector('#records input[name=reason]')", "the withdrawal form")
    browser.js("document.querySelector('#records input[name=reason]').value = '复议决定撤销原处罚决定'")
    browser.js("document.querySelector('#records input[name=reason]').form.submit()")
    browser.wait_for("document.body.innerText.includes('已撤回：')", "the withdrawn record")
    browser.screenshot(shots / "portal-08-withdrawn.png")

    t = record_tables["cf"]
    with sqlite_store.connect() as c:
        rows = c.execute(sa.select(t.c.cf_wsh, t.c.status, t.c.department)).all()
        still_open = c.execute(sa.select(sa.func.count()).select_from(quarantine).where(quarantine.c.status == "open")).scalar_one()
    assert len(rows) == 3 and {r.department for r in rows} == {"xqa"}
    assert sorted(r.status for r in rows) == ["active", "active", "withdrawn"]
    assert still_open == 1
    for shot in shots.glob("portal-*.png"):
        assert shot.stat().st_size > 1000
    text = log.read_text(errors="replace")
    assert FIRST not in text and SECOND not in text and "argon2" not in text
