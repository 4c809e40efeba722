"""``sgs serve public``: the public column under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import threading
import time
from typing import Any

import sqlalchemy as sa
import uvicorn
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
    if workers > 1 and hasattr(socket, "send_fds") and hasattr(socket, "AF_UNIX"):
        Workers(workers, host, port, options).run()
    elif workers > 1:
        os.environ[_WORKERS_ENV] = str(workers)
        uvicorn.run("web.public.serve:make_app", factory=True, workers=workers, **options)  # type: ignore[arg-type]
    else:
        os.environ.pop(_WORKERS_ENV, None)
        uvicorn.run(make_app(), **options)  # type: ignore[arg-type]


def _socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(channel: socket.socket, options: dict[str, Any], workers: int) -> None:
    """One worker process: uvicorn serving the app on the connections the supervisor hands it over ``channel``."""
    os.environ[_WORKERS_ENV] = str(workers)
    config = uvicorn.Config("web.public.serve:make_app", factory=True, **options)
    HandedConnections(config, channel).run(sockets=[])


class HandedConnections(uvicorn.Server):
    """uvicorn serving connections accepted elsewhere: each arrives as a file descriptor on ``channel`` (a Unix
    socket, ``SCM_RIGHTS``) and is served by uvicorn's own HTTP protocol, as if this process had accepted it. The
    channel closing (the supervisor gone) stops the worker."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel
        self._handing: set[asyncio.Task[Any]] = set()  # the loop holds tasks weakly

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the app and its lifespan; no listening socket of its own
        if self.should_exit:
            return
        loop = asyncio.get_running_loop()
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._receive, loop)

    def _protocol(self, loop: asyncio.AbstractEventLoop) -> asyncio.Protocol:
        return self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state, _loop=loop)

    def _receive(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.channel, 64, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("专栏公示工作进程：与主进程的通道出错（%s），停止", exc.strerror)
                data, fds = b"", []
            for fd in fds:
                conn = socket.socket(fileno=fd)
                conn.setblocking(False)
                task = loop.create_task(loop.connect_accepted_socket(lambda: self._protocol(loop), conn))
                self._handing.add(task)
                task.add_done_callback(functools.partial(self._handed, conn))
            if not data:  # end of file: the supervisor is gone
                loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return

    def _handed(self, conn: socket.socket, task: asyncio.Task[Any]) -> None:
        self._handing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("专栏公示工作进程：接手连接失败（%s）", type(task.exception()).__name__)
            conn.close()


class Workers:
    """``--workers N`` on Linux: N uvicorn processes; the supervisor accepts every connection on the one listening
    socket and hands each to the workers in turn (a file descriptor over a Unix socket), so they serve equal
    shares of the connections.

    uvicorn's own ``--workers`` shares one listening socket, and whichever process wakes first accepts every
    connection waiting: a burst of keep-alive connections (a proxy's, a load test's) often lands on one process
    — 41 of 50 and 50 of 50 were seen with two workers (docs/performance.md) — and that process, one core at
    most (the GIL), serves them all while the other idles. A socket per worker (``SO_REUSEPORT``, the kernel
    spreading connections by a hash) was even only in expectation: 31/19 and 33/17 of 50 made the slowest
    searches; in turn is 25/25.

    The supervisor starts the workers, starts a worker that died again (more than
    :data:`_RESTARTS_PER_MINUTE` deaths a minute stop the server; meanwhile the others take its share), and on
    SIGTERM/SIGINT stops accepting, stops them (uvicorn's graceful shutdown) and returns."""

    def __init__(self, count: int, host: str, port: int, options: dict[str, Any]) -> None:
        self.count, self.host, self.options = count, host, {**options, "host": host}
        # The socket is bound and listening before any worker starts: connections that arrive while the workers
        # import the app are accepted and wait in their worker's channel. A port in use is one clear error, not
        # N workers dying at start.
        try:
            self.listener = _socket(host, port)
            self.listener.listen(_BACKLOG)
        except OSError as exc:
            raise RuntimeError(f"无法监听 {host}:{port}（{exc.strerror}）：端口可能已被其他程序占用，请换一个 --port") from None
        self.port = self.listener.getsockname()[1]
        self.options["port"] = self.port
        self._stop = False
        self._channels: list[socket.socket | None] = [None] * count  # the supervisor's end, per worker
        self._lock = threading.Lock()

    def _start(self, index: int) -> multiprocessing.process.BaseProcess:
        mine, theirs = self.channel()
        process = multiprocessing.get_context("spawn").Process(
            target=_worker, args=(theirs, self.options, self.count), name=f"sgs-public-worker-{index}")
        process.start()
        theirs.close()
        with self._lock:
            old, self._channels[index] = self._channels[index], mine
            if old is not None:
                old.close()
        return process

    @staticmethod
    def channel() -> tuple[socket.socket, socket.socket]:
        """A worker's channel: (the supervisor's end, the worker's end). The supervisor's end does not block: a
        worker that stops reading (stopped, stuck) fills its channel, and the next connection goes to the next
        worker instead of blocking the accepting thread — and with it every worker."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        mine.setblocking(False)
        return mine, theirs

    def _hand_out(self) -> None:
        """Accept connections and hand each to the next worker in turn (skipping one that is gone: its channel
        refuses the descriptor, and the next one takes it)."""
        turn = 0
        while not self._stop:
            try:
                conn, _ = self.listener.accept()
            except OSError as exc:
                if self._stop or exc.errno in (errno.EBADF, errno.EINVAL):
                    return  # the listener closed: the server stops
                if exc.errno != errno.ECONNABORTED:  # the client gave up before the accept: nothing to wait for
                    log.warning("专栏公示：接受连接失败（%s），稍后重试", exc.strerror)
                    time.sleep(0.1)  # out of file descriptors, say: the connection waits in the backlog
                continue
            with conn:
                for _ in range(self.count):
                    with self._lock:
                        channel = self._channels[turn % self.count]
                    turn += 1
                    if channel is None:
                        continue
                    try:
                        socket.send_fds(channel, [b"c"], [conn.fileno()])
                        break
                    except OSError:
                        continue  # that worker died, or its channel is full (it does not read): the next one
                # the supervisor's copy closes here; the worker holds the connection (or, with no worker, it closes)

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._stop = True
        self._close_listener()  # at once: no connection is handed to a worker that is stopping

    def _close_listener(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()

    def run(self) -> None:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        processes = [self._start(i) for i in range(self.count)]
        handing = threading.Thread(target=self._hand_out, name="sgs-public-accept", daemon=True)
        handing.start()
        log.info("专栏公示：%d 个工作进程，监听 %s:%d（连接依次分给各工作进程）", self.count, self.host, self.port)
        deaths: list[float] = []
        try:
            while not self._stop:
                multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0.5)
                if not handing.is_alive() and not self._stop:  # its exception was printed (threading.excepthook)
                    raise RuntimeError("专栏公示接受连接的线程意外退出，服务停止：请查看上面的日志")
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
            self._stop = True
            self._close_listener()
            handing.join(timeout=5)
            # Each worker's channel closed: the worker takes the connections still queued in it, reads the end of
            # file and stops gracefully (uvicorn finishes the requests in flight). A signal now would be a second
            # one for a worker that got the first one (Ctrl-C, a process group's SIGTERM), and uvicorn takes a
            # second signal as "exit now".
            with self._lock:
                for channel in self._channels:
                    if channel is not None:
                        channel.close()
            for p in processes:
                p.join(timeout=20)
                if p.is_alive():
                    p.terminate()
                    p.join(timeout=5)
                if p.is_alive():
                    p.kill()
                    p.join(timeout=5)
            for s, handler in previous.items():
                signal.signal(s, handler)
