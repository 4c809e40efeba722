"""The "双公示" dashboard as an operator sees it: served by uvicorn on 127.0.0.1 under the same ``/sgs`` prefix
the plugin uses, opened in Debian's headless Chromium (installed by scripts/system-deps.sh); the rendered
DOM must show the departments and the indicators, and a screenshot is kept in the test's tmp folder."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from reports.asgi import LazyASGIApp
from reports.dashboard import create_app
from tests.reports.scenario import DEPTS, SECRET_ID, build_scenario

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(sqlite_store: Engine, tmp_path: Path) -> Iterator[str]:
    build_scenario(sqlite_store)
    reports = tmp_path / "reports"
    reports.mkdir()
    root = FastAPI()
    root.mount("/sgs", LazyASGIApp(lambda: create_app(lambda: sqlite_store, departments=lambda: DEPTS,
                                                      reports_dir=lambda: reports)))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/sgs/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the dashboard server did not start within 30 s")
        time.sleep(0.2)
    try:
        yield base
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def chromium(tmp_path: Path, *args: str) -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: run `bash scripts/system-deps.sh` (installs Debian's chromium)")
    profile = tmp_path / "chromium-profile"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1280,1800", *args,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_dashboard_in_headless_chromium(server: str, tmp_path: Path) -> None:
    url = f"{server}/sgs/?month=2025-03"
    dom = chromium(tmp_path, "--dump-dom", url)
    for text in ("双公示考核看板（2025-03）", "测试市场监督管理局", "测试生态环境局", "测试卫生健康委员会",
                 "及时率", "完整率", "准确率", "28.6%", "本月未报送数据的部门", "<svg"):  # aaa: 2 of 7 on time
        assert text in dom, text
    assert SECRET_ID not in dom

    shot = tmp_path / "dashboard.png"
    chromium(tmp_path, f"--screenshot={shot}", url)
    assert shot.exists() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    dept = chromium(tmp_path, "--dump-dom", f"{server}/sgs/dept/aaa?month=2025-03")
    for text in ("测试市场监督管理局（aaa）", "最近运行", "待整改问题数据", "CF-REQ-003", "逾期记录"):
        assert text in dept, text
    chromium(tmp_path, f"--screenshot={tmp_path / 'department.png'}", f"{server}/sgs/dept/aaa?month=2025-03")
    assert (tmp_path / "department.png").stat().st_size > 20_000
