"""The CeleryExecutor cluster of ``scripts/cluster.sh``, started once for tests/cluster/ and stopped after.

Its own folder, free ports, its own PostgreSQL databases (metadata, central store, a 200,000-row source)
and its own demo department databases: nothing is shared with a developer's ``make cluster`` or the other
tests. Heartbeat timeout and retry delay are short so that a task lost with its worker comes back in
seconds, not minutes; so is the push lease (``SGS_UPSTREAM_LEASE_SECONDS``, 15 s, below the heartbeat timeout):
the retry of a push killed with its worker finds the dead push's lease lapsed instead of failing on it. Screenshots go to ``SGS_TEST_ARTIFACTS`` (default ``var/test-artifacts/cluster``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from demo import DemoSource, create_demo_sources, drop_demo_sources
from pipeline.config import load_department
from tests.factories import create_penalty_table, penalty_rows, source_time, write_department

ROOT = Path(__file__).resolve().parents[2]
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DEMO_ROWS = 300
BIG_ROWS = 200_000
BIG_BLOCK = 2_000  # distinct generated rows, repeated with new ids / 文书号 up to BIG_ROWS


def free_port(count: int = 1) -> int:
    """A port p with p … p+count-1 free (the log server takes two neighbours)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + count > 65535:
            continue
        ok = True
        for p in range(port, port + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise RuntimeError("no free port")


@dataclass
class Cluster:
    base: Path
    env: dict[str, str]
    url: str
    password: str
    store_url: str
    departments: Path
    sources: list[DemoSource]
    artifacts: Path
    big_url: str
    _token: str = ""
    reference: dict[str, Any] = field(default_factory=dict)

    def sh(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ROOT / "scripts" / "cluster.sh"), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def token(self) -> str:
        if not self._token:
            r = httpx.post(f"{self.url}/auth/token", json={"username": "admin", "password": self.password}, timeout=30)
            assert r.status_code in (200, 201), r.text
            self._token = r.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.url}/api/v2{path}", headers=headers, timeout=60, **kw)

    def unpause(self, dag_id: str, *, paused: bool = False) -> None:
        r = self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})
        assert r.status_code == 200, r.text

    def pause(self, dag_id: str) -> None:
        self.unpause(dag_id, paused=True)

    def trigger(self, dag_id: str) -> str:
        r = self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
        assert r.status_code == 200, r.text
        return str(r.json()["dag_run_id"])

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        r = self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})
        assert r.status_code == 200, r.text
        return list(r.json()["dag_runs"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        r = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        assert r.status_code == 200, r.text
        return list(r.json()["task_instances"])

    def wait_runs(self, dag_ids: list[str], *, timeout: float, at_least: int = 1) -> dict[str, list[dict[str, Any]]]:
        """Until every DAG has ``at_least`` runs and all of them finished; fails on a failed run."""
        deadline = time.monotonic() + timeout
        while True:
            runs = {d: self.runs(d) for d in dag_ids}
            failed = [(d, r["dag_run_id"]) for d, rs in runs.items() for r in rs if r["state"] == "failed"]
            assert not failed, f"failed runs: {failed}\n{self.diagnose()}"
            if all(len(rs) >= at_least and all(r["state"] == "success" for r in rs) for rs in runs.values()):
                return runs
            if time.monotonic() > deadline:
                states = {d: [r["state"] for r in rs] for d, rs in runs.items()}
                raise AssertionError(f"runs not finished in {timeout:.0f} s: {states}\n{self.diagnose()}")
            time.sleep(2)

    def diagnose(self) -> str:
        status = self.sh("status")
        tails = []
        for name in ("scheduler", "worker1", "worker2"):
            log = self.base / "cluster" / "logs" / f"{name}.log"
            if log.exists():
                tails.append(f"--- {name}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:]))
        return status.stdout + "\n".join(tails)

    def standin(self, method: str, path: str, **kw: Any) -> Any:
        """The cluster's stand-in province (``/api/stats``, ``/control/faults``), with its generated token."""
        token = json.loads((self.base / "cluster" / "secrets.json").read_text())["standin_token"]
        r = httpx.request(method, f"http://127.0.0.1:{self.env['SGS_CLUSTER_STANDIN_PORT']}{path}",
                          headers={"Authorization": f"Bearer {token}"}, timeout=30, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    @property
    def standin_db(self) -> Path:
        """The stand-in's SQLite file (what the province received: deliveries, applications, receipts)."""
        return self.base / "cluster" / "standin" / "province.db"

    def worker_pid(self, name: str) -> int | None:
        try:
            return int(json.loads((self.base / "cluster" / "pids" / f"{name}.pid").read_text())["pid"])
        except FileNotFoundError:
            return None


def _create_db(name: str) -> None:
    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _drop_dbs(names: list[str]) -> None:
    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        for name in names:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fill_big_source(url: str) -> None:
    """BIG_ROWS penalty rows (10 % bad), made in the server from BIG_BLOCK generated ones: seconds, not minutes."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as c:
        table = create_penalty_table(c)
        c.execute(table.insert(), penalty_rows(BIG_BLOCK, seed=16, start_time=source_time(2025, 6, 1)))
        cols = [col.name for col in table.columns]
        select = ", ".join(
            f"id + k * {BIG_BLOCK}" if col == "id" else "wsh || '-' || k" if col == "wsh"
            else "gxsj + k * interval '1 second'" if col == "gxsj" else col for col in cols)
        c.execute(sa.text(f"INSERT INTO t_xzcf ({', '.join(cols)}) SELECT {select} FROM t_xzcf "
                          f"CROSS JOIN generate_series(1, {BIG_ROWS // BIG_BLOCK - 1}) AS k"))
        c.execute(sa.text("ANALYZE t_xzcf"))
    engine.dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: run `bash scripts/system-deps.sh`")
    base = tmp_path_factory.mktemp("cluster")
    tag = uuid.uuid4().hex[:6]
    db_prefix, demo_prefix = f"sgs_ct{tag}_", f"sgs_ctd{tag}_"
    var = base / "var"
    departments = base / "departments"
    departments.mkdir()
    for path in (ROOT / "departments").glob("*.yaml"):
        if not path.name.startswith("_"):
            shutil.copy(path, departments / path.name)
    write_department(departments, code="bigju", env="SGS_SRC_BIGJU_URL", chunk_rows=5000)
    artifacts = Path(os.environ.get("SGS_TEST_ARTIFACTS") or ROOT / "var" / "test-artifacts" / "cluster")
    artifacts.mkdir(parents=True, exist_ok=True)

    password = secrets.token_urlsafe(16)
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SGS_"))}
    env.update({
        "SGS_HOME": str(ROOT),
        "SGS_VAR_DIR": str(var),
        "SGS_DEPARTMENTS_DIR": str(departments),
        "SGS_CLUSTER_DIR": str(base / "cluster"),
        "SGS_CLUSTER_DB_PREFIX": db_prefix,
        "SGS_AIRFLOW_PORT": str(api_port),
        "SGS_CLUSTER_REDIS_PORT": str(free_port()),
        "SGS_CLUSTER_STANDIN_PORT": str(free_port()),
        "SGS_CLUSTER_LOG_PORT": str(free_port(2)),
        "SGS_CLUSTER_HEARTBEAT_TIMEOUT": "20",
        "SGS_CLUSTER_QUEUED_TIMEOUT": "90",  # a message stranded by the Redis restart is sent again
        "SGS_RETRY_DELAY": "2",
        "SGS_UPSTREAM_LEASE_SECONDS": "15",  # < SGS_CLUSTER_HEARTBEAT_TIMEOUT: a killed push's retry is not refused
        "SGS_AIRFLOW_ADMIN_PASSWORD": password,
    })
    made_dbs = [f"{db_prefix}airflow", f"{db_prefix}store", f"{db_prefix}src"]
    started = False
    try:
        sources = create_demo_sources(var, rows=DEMO_ROWS, prefix=demo_prefix)
        for s in sources:  # each department file names the variable that holds its URL
            url_env = load_department(departments / f"{s.department}.yaml").source.url_env
            assert url_env, s.department
            env[url_env] = s.url
        _create_db(f"{db_prefix}src")
        big_url = f"{PG_SERVER}/{db_prefix}src"
        fill_big_source(big_url)
        env["SGS_SRC_BIGJU_URL"] = big_url
        c = Cluster(base=base, env=env, url=f"http://127.0.0.1:{api_port}", password=password,
                    store_url=f"{PG_SERVER}/{db_prefix}store", departments=departments, sources=sources,
                    artifacts=artifacts, big_url=big_url)
        started = True
        up = c.sh("up", timeout=300)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-5000:]
        yield c
    finally:
        if started:
            down = subprocess.run([str(ROOT / "scripts" / "cluster.sh"), "down"], env=env, capture_output=True,
                                  text=True, timeout=180)
            print(down.stdout, down.stderr, file=sys.stderr)
        _drop_dbs(made_dbs)
        drop_demo_sources(prefix=demo_prefix, var_dir=var)
