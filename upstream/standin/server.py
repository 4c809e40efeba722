"""Run the stand-in as a real uvicorn process on 127.0.0.1: start, stop, kill, restart, supervise.

A subprocess (not a thread) so that a test can kill it hard in the middle of a push and start it again
on the same port and the same SQLite file, exactly like a provincial server that crashed.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StandinServer:
    """One stand-in process. ``base_url`` is what a province connection points at (``…/api``)."""

    def __init__(
        self,
        db_path: Path,
        *,
        token: str | None = None,
        hmac_keys: dict[str, str] | None = None,
        port: int | None = None,
        args: Sequence[str] = (),
        log_path: Path | None = None,
        tls: tuple[Path, Path, Path] | None = None,
    ) -> None:
        """``tls`` = (certificate, key, CA bundle): serve https; the CA bundle is what this object's own
        health and control requests check the certificate against."""
        self.db_path = Path(db_path)
        self.token = token or secrets.token_urlsafe(24)
        self.hmac_keys = dict(hmac_keys or {})
        self.port = port or free_port()
        self.args = list(args)
        self.log_path = log_path or self.db_path.with_suffix(".log")
        self.tls = tls
        self.verify: bool | ssl.SSLContext = ssl.create_default_context(cafile=str(tls[2])) if tls else True
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    @property
    def root_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + "/api"

    def _spawn(self) -> None:
        env = {
            **os.environ,
            "SGS_STANDIN_TOKEN": self.token,
            "SGS_STANDIN_HMAC_KEYS": ",".join(f"{k}:{v}" for k, v in self.hmac_keys.items()),
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "upstream.standin", "--port", str(self.port), "--db", str(self.db_path), *self.args,
                 *(["--ssl-certfile", str(self.tls[0]), "--ssl-keyfile", str(self.tls[1])] if self.tls else [])],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT),
            )

    def start(self, timeout: float = 30.0) -> StandinServer:
        """Start the process and wait until ``/healthz`` answers."""
        with self._lock:
            self._spawn()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.proc
            if proc is not None and proc.poll() is not None and not self._supervised():
                raise RuntimeError(f"省平台模拟服务启动失败（退出码 {proc.returncode}），日志：{self.log_path}")
            try:
                if httpx.get(self.root_url + "/healthz", timeout=0.5, verify=self.verify).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"省平台模拟服务 {timeout:g} 秒内未就绪，日志：{self.log_path}")

    def _supervised(self) -> bool:
        return self._supervisor is not None and not self._stopping.is_set()

    def supervise(self) -> None:
        """Restart the process whenever it exits (a ``crash_at`` fault, or ``kill()``), until ``stop()``."""

        def loop() -> None:
            while not self._stopping.is_set():
                with self._lock:
                    proc = self.proc
                    if proc is not None and proc.poll() is not None and not self._stopping.is_set():
                        self.restarts += 1
                        self._spawn()
                time.sleep(0.05)

        self._stopping.clear()
        self._supervisor = threading.Thread(target=loop, name="standin-supervisor", daemon=True)
        self._supervisor.start()

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to answer or clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self, timeout: float = 30.0) -> None:
        self.kill()
        self.start(timeout)

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
            self._supervisor = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> StandinServer:
        return self.start() if self.proc is None else self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # --- control --------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the faults (``upstream.standin.app.Faults``); unnamed ones are off."""
        r = httpx.put(self.root_url + "/control/faults", json=faults, headers=self._headers(), timeout=10, verify=self.verify)
        r.raise_for_status()
        return dict(r.json())

    def stats(self) -> dict[str, Any]:
        r = httpx.get(self.base_url + "/stats", headers=self._headers(), timeout=10, verify=self.verify)
        r.raise_for_status()
        return dict(r.json())
