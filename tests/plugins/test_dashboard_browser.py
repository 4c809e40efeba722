"""The "双公示" view as an operator reaches it: the real ``airflow api-server`` (simple auth manager, this
project's plugins folder) on a free 127.0.0.1 port, Debian's headless Chromium (installed by
scripts/system-deps.sh) driven through the DevTools protocol. An anonymous visit lands on Airflow's login page
(with ``next=`` back to the page) and shows no data; after logging in through that page the dashboard, a
department page and the view embedded in the Airflow UI (``/plugin/sgs``) render. Screenshots are kept in the
test's tmp folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.cdp import Browser, free_port
from tests.factories import DEPARTMENT_YAML, authority_code
from tests.reports.scenario import DEPTS, SECRET_ID, build_scenario
from tests.servers import running

ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "sgsviewer", "看板-viewer-pw"


def airflow_env(tmp_path: Path, store_url: str, departments: Path) -> dict[str, str]:
    """A fresh Airflow home with the simple auth manager and one Viewer user whose password the test knows."""
    home = tmp_path / "airflow"
    home.mkdir()
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}), encoding="utf-8")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "no-dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(24).hex(),
        "SGS_STORE_URL": store_url,
        "SGS_DEPARTMENTS_DIR": str(departments),
        "SGS_VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    return env


@pytest.fixture
def server(sqlite_store: Engine, tmp_path: Path) -> Iterator[str]:
    build_scenario(sqlite_store)
    departments = tmp_path / "departments"
    departments.mkdir()
    for code, info in DEPTS.items():  # the scenario's departments, so that the pages show their names
        text = DEPARTMENT_YAML.format(code=code, env=f"SGS_SRC_{code.upper()}_URL", chunk_rows=100,
                                      authority=authority_code())
        (departments / f"{code}.yaml").write_text(text.replace("name: 市测试监管局", f"name: {info.name}", 1),
                                                  encoding="utf-8")
    env = airflow_env(tmp_path, sqlite_store.url.render_as_string(hide_password=False), departments)
    airflow = str(Path(sys.executable).parent / "airflow")
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running([airflow, "api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1"], probe=f"{base}/api/v2/monitor/health",
                 env=env, cwd=tmp_path, log=tmp_path / "api-server.log", name="airflow api-server", timeout=120, interval=0.5):
        yield base


def test_dashboard_needs_an_airflow_login_in_headless_chromium(server: str, browser: Browser, tmp_path: Path) -> None:
    page = f"{server}/sgs/?month=2025-03"

    # Anonymous: sent to Airflow's login page, which will come back to the page; no data on the way.
    browser.goto(page)
    browser.wait_for("location.pathname === '/auth/login' && document.querySelector('input[name=password]')",
                     "Airflow's login form")
    assert browser.js("new URLSearchParams(location.search).get('next')") == "/sgs/?month=2025-03"
    assert "测试市场监督管理局" not in browser.html()
    browser.screenshot(tmp_path / "login.png")

    # Log in through Airflow's own form: the UI stores the JWT in the `_token` cookie and goes back to `next`.
    browser.type_into("input[name=username]", USER)
    browser.type_into("input[name=password]", PASSWORD)
    browser.wait_for("!document.querySelector('button[type=submit]').disabled", "an enabled sign-in button")
    browser.js("document.querySelector('button[type=submit]').click()")
    browser.wait_for("document.body.innerText.includes('双公示考核看板（2025-03）')", "the dashboard after login")
    assert browser.js("location.href") == page
    dom = browser.html()
    for text in ("测试市场监督管理局", "测试生态环境局", "测试卫生健康委员会", "及时率", "完整率", "准确率", "28.6%",
                 "本月未报送数据的部门", "<svg"):  # aaa: 2 of 7 on time
        assert text in dom, text
    assert SECRET_ID not in dom
    shot = tmp_path / "dashboard.png"
    browser.screenshot(shot)
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    browser.goto(f"{server}/sgs/dept/aaa?month=2025-03")
    browser.wait_for("document.body.innerText.includes('测试市场监督管理局（aaa）')", "the department page")
    dept = browser.html()
    for text in ("最近运行", "待整改问题数据", "CF-REQ-003", "逾期记录"):
        assert text in dept, text
    browser.screenshot(tmp_path / "department.png")
    assert (tmp_path / "department.png").stat().st_size > 20_000

    # As users reach it: the "双公示" entry of the Airflow UI embeds /sgs/ in an iframe, sent the same cookie.
    browser.goto(f"{server}/plugin/sgs")
    browser.wait_for("document.querySelector('iframe').contentDocument.body.innerText.includes('双公示考核看板')",
                     "the view embedded in the Airflow UI")
    browser.screenshot(tmp_path / "airflow-ui-view.png")
