"""A server the tests start as a real child process on 127.0.0.1 (``sgs serve public``, ``sgs serve portal``,
Airflow's api-server): started in its own process group, waited for until a probe URL answers 200, stopped with
its children afterwards. Its output goes to a log file that the failure message quotes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx


@contextmanager
def running(command: list[str], *, probe: str, env: Mapping[str, str], cwd: Path, log: Path, name: str,
            timeout: float = 60, interval: float = 0.2) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` until the ``with`` block ends; ``probe`` (a full URL) must answer 200 within ``timeout``."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(probe, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(interval)
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # the whole group is gone already (a test killed it)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
