"""The public column as citizens reach it: ``sgs serve public`` (uvicorn) on a free 127.0.0.1 port over a SQLite
store, headless Chromium (tests/cdp.py) opens the column, searches a name, opens the detail page and finds no
unmasked ID number in the DOM; screenshots are kept in the test's tmp folder. Then the contract operators'
checks use: links on ``/``, ``/api/v1/cf?q=`` UTF-8 JSON, security headers, 429 over the rate."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy.engine import Engine

from tests.cdp import Browser, free_port
from tests.servers import running
from tests.web.records import licence, load, penalty, person_penalty
from tests.web.test_app import ID_RUN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def people(sqlite_store: Engine) -> list[dict[str, str | None]]:
    persons = [person_penalty(i) for i in range(40, 50)]
    load(sqlite_store, "cf", [penalty(i) for i in range(20)] + persons)
    load(sqlite_store, "xk", [licence(i) for i in range(5)])
    return persons


@contextmanager
def serving_process(store: Engine, tmp_path: Path, *args: str, **env_extra: str,
                    ) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """``sgs serve public --port N [args]`` in a child process over ``store``; yields its base URL, the process
    and its log file."""
    port = free_port()
    env = {**os.environ, "SGS_STORE_URL": store.url.render_as_string(hide_password=False),
           "PYTHONPATH": str(ROOT), "SGS_VAR_DIR": str(tmp_path / "var"), **env_extra}
    env.pop("SGS_PUBLIC_STORE_URL", None)
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / f"serve-public-{port}.log"
    with running([sys.executable, "-m", "pipeline.cli", "serve", "public", "--port", str(port), *args], probe=f"{base}/robots.txt",
                 env=env, cwd=tmp_path, log=log, name=" ".join(["sgs serve public", *args])) as proc:
        yield base, proc, log


@contextmanager
def serving(store: Engine, tmp_path: Path, *args: str, **env_extra: str) -> Iterator[str]:
    """``sgs serve public --port N`` in a child process over ``store``; yields its base URL."""
    with serving_process(store, tmp_path, *args, **env_extra) as (base, _, _):
        yield base


@pytest.fixture
def server(sqlite_store: Engine, people: list[dict[str, str | None]], tmp_path: Path) -> Iterator[str]:
    with serving(sqlite_store, tmp_path) as base:  # the default rate (10 a second per client)
        yield base


@pytest.fixture
def slow_server(sqlite_store: Engine, people: list[dict[str, str | None]], tmp_path: Path) -> Iterator[str]:
    """SGS_PUBLIC_RATE=2: a loaded test machine serves fewer than 10 requests a second, so the default rate
    could never be exceeded there."""
    with serving(sqlite_store, tmp_path, SGS_PUBLIC_RATE="2") as base:
        yield base


def test_chromium_searches_a_name_and_opens_a_masked_detail_page(
    server: str, browser: Browser, people: list[dict[str, str | None]], tmp_path: Path,
) -> None:
    ids = {p["CF_XDR_ZJHM"] for p in people}
    browser.goto(f"{server}/")
    browser.wait_for("document.querySelector('#latest-cf a')", "the latest penalties on the home page")
    assert browser.js("document.querySelectorAll('#latest-xk a[href^=\"/xk/\"]').length") == 5
    browser.screenshot(tmp_path / "public-home.png")

    browser.goto(f"{server}/cf")
    browser.wait_for("document.querySelector('input[name=q]')", "the search form")
    browser.type_into("input[name=q]", "张三")
    browser.js("document.querySelector('form.search').submit()")
    browser.wait_for("location.search.includes('q=') && document.querySelector('#results a')", "the search results")
    names = browser.js("[...document.querySelectorAll('#results a')].map(a => a.textContent)")
    assert names == ["张三48", "张三42"]
    browser.js("document.querySelector('#results a').click()")
    browser.wait_for("location.pathname.startsWith('/cf/') && document.body.innerText.includes('公示日期')", "the detail page")
    dom = browser.html()
    assert "张三48" in dom and "身份证号 330102********" in dom and "138****5678" in dom
    assert not [i for i in ids if i in dom] and ID_RUN.findall(dom) == []
    attrs = browser.js("[...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.value)).join(' ')")
    assert ID_RUN.findall(attrs) == []
    shot = tmp_path / "public-detail.png"
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_operators_contract_over_http(slow_server: str, people: list[dict[str, str | None]], tmp_path: Path) -> None:
    server = slow_server
    with httpx.Client(base_url=server, timeout=10) as c:
        home = c.get("/")
        assert home.status_code == 200 and 'href="/cf/' in home.text and 'href="/xk/' in home.text
        for r in (home, c.get("/api/v1/cf", params={"q": "张三"}), c.get("/cf/999999")):
            assert r.headers["X-Content-Type-Options"] == "nosniff" and "default-src 'none'" in r.headers["Content-Security-Policy"]
        r = c.get("/api/v1/cf", params={"q": "张三"})
        assert r.headers["content-type"].startswith("application/json")
        assert [i["party_name"] for i in r.json()["items"]] == ["张三48", "张三42"]
        assert "张三48" in r.content.decode("utf-8")
        ids = {p["CF_XDR_ZJHM"] for p in people}
        detail = c.get(r.json()["items"][0]["url"].replace("/cf/", "/api/v1/cf/")).text
        assert not [i for i in ids if i in detail]
    # Over the rate (here 2 a second, 4 at once): 429, in Chinese. Sent at the same time, so that a slow machine
    # cannot refill the bucket between requests.
    def get(path: str) -> httpx.Response:
        with httpx.Client(base_url=server, timeout=30) as one:
            return one.get(path, params={"q": "测试"})

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(get, ["/api/v1/cf", "/cf"] * 40))
    with httpx.Client(base_url=server, timeout=10) as c:  # a citizen types an ID number into the search box
        searched = sorted(ids)[0]
        time.sleep(1.5)  # a full bucket again
        assert c.get("/cf", params={"q": searched}).status_code == 200
        assert c.get("/api/v1/cf", params={"q": searched}).status_code == 200
    log = next(tmp_path.glob("serve-public-*.log")).read_text(encoding="utf-8", errors="replace")
    assert "Uvicorn running" in log and searched not in log and ID_RUN.findall(log) == []
    over = [r for r in answers if r.status_code == 429]
    assert len(over) >= 10 and {r.status_code for r in answers} == {200, 429}
    assert any(r.headers["content-type"].startswith("text/html") and "访问过于频繁" in r.text for r in over)
    assert any(r.headers["content-type"].startswith("application/json") and "访问过于频繁" in r.json()["error"] for r in over)


def _connections_by_pid(port: int) -> collections.Counter[int]:
    """Established server-side connections on ``port``, counted by the process that owns them."""
    return collections.Counter(c.pid for c in psutil.net_connections("tcp")
                               if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED and c.pid)


def _workers(supervisor: psutil.Process) -> set[int]:
    """The live worker processes (multiprocessing spawn children) under ``supervisor``."""
    out = set()
    for p in supervisor.children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(p.cmdline()):
                out.add(p.pid)
        except psutil.Error:  # gone or a zombie meanwhile
            pass
    return out


def test_several_worker_processes_share_the_connections_and_a_dead_one_is_replaced(
        sqlite_store: Engine, people: list[dict[str, str | None]], tmp_path: Path) -> None:
    """``--workers 2``: the supervisor hands the connections to the workers in turn, so a burst of keep-alive
    connections is split evenly (uvicorn's shared socket let one process take them all; a socket per worker, a
    hash, split 33/17 at times); a worker that dies is started again and the other serves meanwhile; SIGTERM
    stops them all."""
    with serving_process(sqlite_store, tmp_path, "--workers", "2", SGS_PUBLIC_RATE="1000") as (base, proc, log):
        port = int(base.rsplit(":", 1)[1])
        supervisor = psutil.Process(proc.pid)
        clients = [httpx.Client(base_url=base, timeout=30) for _ in range(40)]
        try:
            with ThreadPoolExecutor(40) as pool:  # 40 keep-alive connections opened at once
                codes = list(pool.map(lambda c: c.get("/api/v1/cf", params={"q": "张三"}).status_code, clients))
            assert codes == [200] * 40
            workers = _workers(supervisor)
            by_pid = _connections_by_pid(port)
            assert len(workers) == 2 and set(by_pid) == workers and sum(by_pid.values()) == 40
            assert sorted(by_pid.values()) == [20, 20], by_pid  # in turn: exactly half each
        finally:
            for c in clients:
                c.close()
        victim = sorted(workers)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            now = _workers(supervisor)
            if len(now) == 2 and victim not in now:
                break
            assert time.monotonic() < deadline, f"no new worker after a minute: {now}"
            time.sleep(0.5)
        with httpx.Client(base_url=base, timeout=30) as c:
            assert [c.get("/api/v1/cf", params={"q": "张三"}).status_code for _ in range(6)] == [200] * 6
            assert 'href="/cf/' in c.get("/").text
        survivors = [psutil.Process(pid) for pid in now]
    psutil.wait_procs(survivors, timeout=30)
    assert not [p for p in survivors if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert "重新启动" in log.read_text(encoding="utf-8", errors="replace")


def test_a_worker_that_stops_reading_does_not_stop_the_hand_out() -> None:
    """A worker that stops reading its channel (stopped, stuck) fills it; then the next connection goes to the
    next worker — the accepting thread never blocks on it (that would starve every worker)."""
    import threading

    from web.public.serve import Workers

    workers = Workers(2, "127.0.0.1", 0, {})
    stuck_mine, stuck_theirs = Workers.channel()
    live_mine, live_theirs = Workers.channel()
    clients: list[socket.socket] = []
    try:
        while True:  # the stuck worker's channel, full: what it has not read
            try:
                socket.send_fds(stuck_mine, [b"c"], [stuck_theirs.fileno()])
            except BlockingIOError:
                break
        workers._channels = [stuck_mine, live_mine]
        thread = threading.Thread(target=workers._hand_out, daemon=True)
        thread.start()
        for _ in range(4):
            clients.append(socket.create_connection(("127.0.0.1", workers.port), timeout=5))
        live_theirs.settimeout(5)
        received = 0
        while received < 4:  # all four reach the live worker
            _, fds, _, _ = socket.recv_fds(live_theirs, 64, 64)
            for fd in fds:
                os.close(fd)
            received += len(fds)
        assert received == 4 and thread.is_alive()
    finally:
        workers._stop = True
        workers._close_listener()
        for sock in (stuck_mine, stuck_theirs, live_mine, live_theirs, *clients):
            sock.close()


def test_the_workers_stop_when_their_supervisor_is_killed(sqlite_store: Engine, tmp_path: Path) -> None:
    """The supervisor SIGKILLed (no graceful stop): its workers see their channel close and exit, serving the
    connection they hold until then — none is left behind as an orphan."""
    with serving_process(sqlite_store, tmp_path, "--workers", "2") as (base, proc, _):
        supervisor = psutil.Process(proc.pid)
        workers = [psutil.Process(pid) for pid in _workers(supervisor)]
        assert len(workers) == 2
        os.kill(proc.pid, signal.SIGKILL)
        gone, alive = psutil.wait_procs(workers, timeout=30)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/robots.txt", timeout=5)


def test_a_port_in_use_is_one_clear_error_with_several_workers(sqlite_store: Engine, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {**os.environ, "SGS_STORE_URL": sqlite_store.url.render_as_string(hide_password=False),
               "PYTHONPATH": str(ROOT), "SGS_VAR_DIR": str(tmp_path / "var")}
        done = subprocess.run([sys.executable, "-m", "pipeline.cli", "serve", "public", "--port", str(port), "--workers", "2"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "端口可能已被其他程序占用" in done.stderr, done.stderr[-2000:]


def test_head_is_answered_like_get_without_a_body(server: str) -> None:
    """HEAD (monitors, link checkers probe with it) over real HTTP: GET's status and headers, no body (it was 405)."""
    with httpx.Client(base_url=server, timeout=10) as c:
        for path in ("/", "/cf", "/about", "/api/v1/cf"):
            get, head = c.get(path), c.head(path)
            assert head.status_code == 200 and head.content == b"", path
            assert head.headers["content-type"] == get.headers["content-type"]
            assert head.headers["Content-Security-Policy"] == get.headers["Content-Security-Policy"]
        assert c.head("/cf/999999").status_code == 404
        assert c.post("/").status_code == 405
