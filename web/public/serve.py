"""``sgs serve public``: the public column under uvicorn."""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import time
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI

from web.public.app import create_app
from web.public.store import PublicStoreMissing, public_engine

#: Set for worker processes: how many there are (each one counts its share of the per-client rate).
_WORKERS_ENV = "SGS_PUBLIC_WORKERS"
#: uvicorn's default listen backlog.
_BACKLOG = 2048
#: A worker that dies is started again; more deaths than this within a minute stop the server (a crash loop).
_RESTARTS_PER_MINUTE = 5

log = logging.getLogger("sgs.public")


def _rate() -> float:
    return float(os.environ.get("SGS_PUBLIC_RATE") or 10)


def make_app() -> FastAPI:
    """The app of one worker process (uvicorn's factory): the kernel spreads a client's connections over the
    workers, so each counts ``rate / workers`` per client."""
    workers = max(1, int(os.environ.get(_WORKERS_ENV) or 1))
    rate = _rate() / workers
    return create_app(public_engine(processes=workers), rate=rate, burst=max(1, int(rate * 2)))


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the column until interrupted. ``SGS_PUBLIC_RATE``: searches per second per client (default 10).
    Raises RuntimeError with a Chinese message when the store cannot be opened."""
    import uvicorn

    try:
        engine = public_engine()
    except (PublicStoreMissing, ValueError) as exc:
        raise RuntimeError(str(exc)) from None
    try:
        with engine.connect() as conn:
            ready = sa.inspect(conn).has_table("published_cf")
    except sa.exc.SQLAlchemyError as exc:
        raise RuntimeError(f"无法读取中央库（{type(exc).__name__}）：请检查 SGS_PUBLIC_STORE_URL / SGS_STORE_URL") from None
    finally:
        engine.dispose()
    if not ready:
        raise RuntimeError("中央库还没有专栏公示读模型（迁移 0007）：请先以中央库账号运行一次 sgs status（会升级中央库），再启动专栏公示")
    # No access log: uvicorn's line holds the query string, and a citizen may type an ID number into the search
    # box (design invariant: no unmasked ID number in a log); the reverse proxy in front keeps the access log,
    # where its operator decides what it records. (It also cost ~3 % of a search's CPU time.)
    options = {"host": host, "port": port, "log_level": "info", "server_header": False, "proxy_headers": False,
               "access_log": False}
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        Workers(workers, host, port, options).run()
    elif workers > 1:
        os.environ[_WORKERS_ENV] = str(workers)
        uvicorn.run("web.public.serve:make_app", factory=True, workers=workers, **options)  # type: ignore[arg-type]
    else:
        os.environ.pop(_WORKERS_ENV, None)
        uvicorn.run(make_app(), **options)  # type: ignore[arg-type]


def _socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` with SO_REUSEPORT (not yet listening)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(sock: socket.socket, options: dict[str, Any], workers: int) -> None:
    """One worker process: uvicorn serving the app on the worker's own listening socket."""
    import uvicorn

    os.environ[_WORKERS_ENV] = str(workers)
    config = uvicorn.Config("web.public.serve:make_app", factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


class Workers:
    """``--workers N`` on Linux: N uvicorn processes, each listening on a socket of its own on the same port
    (SO_REUSEPORT), so the kernel spreads connections over them by a hash of the client's address and port.

    uvicorn's own ``--workers`` shares one listening socket, and whichever process wakes first accepts every
    connection waiting: a burst of keep-alive connections (a proxy's, a load test's) often lands on one process
    — 41 of 50 and 50 of 50 were seen with two workers (docs/performance.md) — and that process, one core at
    most (the GIL), serves them all while the other idles. A hash spreads them evenly in expectation.

    The supervisor starts the workers, starts a worker that died again (more than
    :data:`_RESTARTS_PER_MINUTE` deaths a minute stop the server), and on SIGTERM/SIGINT stops them (uvicorn's
    graceful shutdown) and returns."""

    def __init__(self, count: int, host: str, port: int, options: dict[str, Any]) -> None:
        self.count, self.host, self.options = count, host, {**options, "host": host}
        # Every worker's socket is bound and listening here, before any worker starts: connections that arrive
        # while the workers import the app wait in their own socket's queue (bound only in each worker, the
        # first worker up took every connection of a burst until the others listened), and a worker that is
        # started again serves the same socket. A port in use is one clear error, not N workers dying at start.
        self.sockets: list[socket.socket] = []
        try:
            for _ in range(count):
                sock = _socket(host, port)
                sock.listen(_BACKLOG)
                port = sock.getsockname()[1]  # --port 0: the others share the port the first one got
                self.sockets.append(sock)
        except OSError as exc:
            for sock in self.sockets:
                sock.close()
            raise RuntimeError(f"无法监听 {host}:{port}（{exc.strerror}）：端口可能已被其他程序占用，请换一个 --port") from None
        self.port = port
        self.options["port"] = self.port
        self._stop = False

    def _start(self, index: int) -> multiprocessing.process.BaseProcess:
        process = multiprocessing.get_context("spawn").Process(
            target=_worker, args=(self.sockets[index], self.options, self.count), name=f"sgs-public-worker-{index}")
        process.start()
        return process

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._stop = True

    def run(self) -> None:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        processes = [self._start(i) for i in range(self.count)]
        log.info("专栏公示：%d 个工作进程监听 %s:%d（SO_REUSEPORT）", self.count, self.host, self.port)
        deaths: list[float] = []
        try:
            while not self._stop:
                multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0.5)
                for i, p in enumerate(processes):
                    if p.is_alive() or self._stop:
                        continue
                    now = time.monotonic()
                    deaths = [t for t in deaths if now - t < 60] + [now]
                    if len(deaths) > _RESTARTS_PER_MINUTE:
                        raise RuntimeError(f"专栏公示的工作进程一分钟内退出了 {len(deaths)} 次（最近一次退出码 {p.exitcode}）：请查看上面的日志")
                    log.warning("专栏公示工作进程 %s 退出（退出码 %s），重新启动", p.pid, p.exitcode)
                    processes[i] = self._start(i)
        finally:
            for p in processes:
                if p.is_alive():
                    p.terminate()  # SIGTERM: uvicorn finishes the requests in flight
            for p in processes:
                p.join(timeout=20)
                if p.is_alive():
                    p.kill()
                    p.join(timeout=5)
            for s, handler in previous.items():
                signal.signal(s, handler)
            for sock in self.sockets:
                sock.close()
