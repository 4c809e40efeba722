"""Cluster benchmark: N generated department DAGs run once through ``scripts/cluster.sh`` (CeleryExecutor).

Generates N department files (default 100), each with its own small SQLite source table (``--rows``, 50)
in a private source data folder — so every department has its own pool (its own "server"), and the
executor, not a shared pool, is what is measured. For each worker count (``--workers 1 2``) it starts a
fresh cluster (own folder, ports and PostgreSQL databases), unpauses the N ingest DAGs and triggers one run of
each through the REST API, and measures:

- wall time from the first trigger to the last successful run (and the throughput in tasks/minute);
- task-instance durations (Airflow's ``duration``: the task process's start, imports, the ingest) and queue
  delays (``start_date - queued_when``);
- the scheduler's loop time (Airflow logs "Ran scheduling loop in … ms" at DEBUG: the bench runs the
  scheduler with that log level and reads its log): median, p95 and max while the runs were in flight;
- load average and the cluster's process CPU time.

    .venv/bin/python bench/cluster.py                      # 100 departments, 1 then 2 workers
    .venv/bin/python bench/cluster.py --departments 20 --workers 2

Results go to stdout as JSON; docs/performance.md ("The Celery cluster") records them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _free_port(count: int = 1) -> int:
    from tests.cluster.harness import free_port

    return free_port(count)


def make_departments(folder: Path, data: Path, n: int, rows: int) -> dict[str, str]:
    """N department files and their SQLite sources; returns the URL variables to set."""
    import sqlalchemy as sa

    from tests.factories import DEPARTMENT_YAML, authority_code, create_penalty_table, penalty_rows

    authority = authority_code()
    env: dict[str, str] = {}
    sample = penalty_rows(rows, seed=100, bad_every=10)
    for i in range(n):
        code = f"bench{i:03d}"
        var = f"SGS_SRC_{code.upper()}_URL"
        text = DEPARTMENT_YAML.format(code=code, env=var, chunk_rows=500, authority=authority)
        (folder / f"{code}.yaml").write_text(text.replace("source:\n", "schedule: null\nsource:\n"), encoding="utf-8")
        db = data / f"{code}.db"
        engine = sa.create_engine(f"sqlite:///{db}")
        with engine.begin() as c:
            c.execute(create_penalty_table(c).insert(), sample)
        engine.dispose()
        env[var] = f"sqlite:///{db}"
    return env


def _drop(names: list[str]) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        for name in names:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time of the processes and their children still alive (utime+stime of each process in their groups)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pids:
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / tick


def run_once(workers: int, n: int, rows: int, concurrency: int, keep: bool) -> dict[str, Any]:
    import httpx

    base = Path(tempfile.mkdtemp(prefix=f"sgs-bench-cluster-{workers}w-"))
    depts, data = base / "departments", base / "var" / "sources"
    depts.mkdir(parents=True)
    data.mkdir(parents=True)
    url_env = make_departments(depts, data, n, rows)
    prefix = f"sgs_bc{uuid.uuid4().hex[:6]}_"
    password = secrets.token_urlsafe(16)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SGS_"))}
    env.update(url_env)
    env.update({
        "SGS_HOME": str(ROOT), "SGS_VAR_DIR": str(base / "var"), "SGS_DEPARTMENTS_DIR": str(depts),
        "SGS_CLUSTER_DIR": str(base / "cluster"), "SGS_CLUSTER_DB_PREFIX": prefix, "SGS_AIRFLOW_PORT": str(port),
        "SGS_CLUSTER_REDIS_PORT": str(_free_port()), "SGS_CLUSTER_STANDIN_PORT": str(_free_port()),
        "SGS_CLUSTER_LOG_PORT": str(_free_port(2)), "SGS_CLUSTER_WORKERS": str(workers),
        "SGS_CLUSTER_CONCURRENCY": str(concurrency), "SGS_AIRFLOW_ADMIN_PASSWORD": password,
        "SGS_CLUSTER_SCHEDULER_LOG_LEVEL": "DEBUG",
        "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "1000",  # list every run and task instance in one page
    })
    sh = [str(ROOT / "scripts" / "cluster.sh")]
    url = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {"workers": workers, "concurrency_per_worker": concurrency, "departments": n, "rows_per_source": rows}
    try:
        t0 = time.monotonic()
        up = subprocess.run([*sh, "up"], env=env, capture_output=True, text=True, timeout=600)
        if up.returncode != 0:
            raise RuntimeError(up.stdout[-3000:] + up.stderr[-3000:])
        result["cluster_up_s"] = round(time.monotonic() - t0, 1)
        token = httpx.post(f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=30).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        dag_ids = [f"sgs_ingest_bench{i:03d}" for i in range(n)]
        # Every DAG parsed before the clock starts (the dag-processor's first pass is not what is measured).
        deadline = time.monotonic() + 600
        while True:
            listed = httpx.get(f"{url}/api/v2/dags", params={"limit": 1000, "dag_id_pattern": "sgs_ingest_%"}, headers=h, timeout=60).json()
            if listed["total_entries"] >= n:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {listed['total_entries']} DAGs parsed")
            time.sleep(2)
        r = httpx.patch(f"{url}/api/v2/dags", params={"dag_id_pattern": "sgs_ingest_%"}, json={"is_paused": False}, headers=h, timeout=120)
        r.raise_for_status()
        log = base / "cluster" / "logs" / "scheduler.log"
        log_offset = log.stat().st_size
        pids = [int(json.loads(p.read_text())["pid"]) for p in (base / "cluster" / "pids").glob("*.pid")]
        cpu0, load0 = _cpu_seconds(pids), os.getloadavg()
        start = time.monotonic()
        wall0 = dt.datetime.now(dt.UTC)
        for dag_id in dag_ids:
            httpx.post(f"{url}/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None}, headers=h, timeout=60).raise_for_status()
        triggered = time.monotonic() - start
        loads = []
        while True:
            runs = httpx.get(f"{url}/api/v2/dags/~/dagRuns", params={"limit": 1000, "dag_id_pattern": "sgs_ingest_%"},
                             headers=h, timeout=60).json()["dag_runs"]
            states = [x["state"] for x in runs]
            loads.append(os.getloadavg()[0])
            if len(runs) >= n and all(s in ("success", "failed") for s in states):
                break
            if time.monotonic() - start > 1800:
                raise RuntimeError(f"not finished: {states.count('success')} of {n}")
            time.sleep(1)
        last_end = max(dt.datetime.fromisoformat(x["end_date"]) for x in runs)
        wall = (last_end - wall0).total_seconds()
        cpu = _cpu_seconds(pids) - cpu0
        tis = httpx.post(f"{url}/api/v2/dags/~/dagRuns/~/taskInstances/list",
                         json={"page_limit": 1000, "dag_ids": dag_ids}, headers=h, timeout=120).json()["task_instances"]
        durations = sorted(t["duration"] for t in tis if t["duration"] is not None)
        waits = sorted((dt.datetime.fromisoformat(t["start_date"]) - dt.datetime.fromisoformat(t["queued_when"])).total_seconds()
                       for t in tis if t.get("queued_when") and t.get("start_date"))
        loops = [float(m.group(1)) for m in re.finditer(r"Ran scheduling loop in ([\d.]+) ms",
                                                        log.read_text(errors="replace")[log_offset:])]
        loops.sort()

        def pct(xs: list[float], q: float) -> float:
            return round(xs[min(len(xs) - 1, int(q * len(xs)))], 2) if xs else float("nan")

        result.update({
            "runs_success": states.count("success"), "runs_failed": states.count("failed"),
            "trigger_calls_s": round(triggered, 1),
            "wall_first_trigger_to_last_success_s": round(wall, 1),
            "tasks": len(tis), "tasks_per_minute": round(len(tis) / wall * 60, 1),
            "task_duration_s": {"median": pct(durations, 0.5), "p95": pct(durations, 0.95), "max": pct(durations, 1.0)},
            "queue_wait_s": {"median": pct(waits, 0.5), "p95": pct(waits, 0.95), "max": pct(waits, 1.0)},
            "scheduler_loop_ms": {"n": len(loops), "median": pct(loops, 0.5), "p95": pct(loops, 0.95), "max": pct(loops, 1.0)},
            "cluster_cpu_s": round(cpu, 1), "cpu_s_per_task": round(cpu / max(1, len(tis)), 2),
            "load_avg_1m": {"before": round(load0[0], 2), "max": round(max(loads), 2)},
            "hostnames": sorted({t["hostname"] for t in tis}),
        })
        return result
    finally:
        subprocess.run([*sh, "down"], env=env, capture_output=True, text=True, timeout=300)
        _drop([f"{prefix}airflow", f"{prefix}store"])
        if not keep:
            shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--departments", type=int, default=100)
    p.add_argument("--rows", type=int, default=50)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--concurrency", type=int, default=2, help="task slots per worker")
    p.add_argument("--keep", action="store_true", help="keep the cluster folders (logs) for inspection")
    a = p.parse_args()
    out = {"machine": {"cores": os.cpu_count(), "host": socket.gethostname()}, "results": []}
    for w in a.workers:
        res = run_once(w, a.departments, a.rows, a.concurrency, a.keep)
        print(json.dumps(res, ensure_ascii=False), file=sys.stderr, flush=True)
        out["results"].append(res)
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
