"""The local CeleryExecutor cluster: ``scripts/cluster.sh up|down|status|services|env``.

Every process runs from the project's virtualenv, in its own session (process group), with its pid in
``<dir>/pids/<name>.pid``; ``down`` stops exactly those process groups (after checking that the pid
still runs the command ``up`` started, so a recycled pid is never hit). Everything lives in
``SGS_CLUSTER_DIR`` (default ``var/cluster``, mode 0700): Airflow's home, logs, the Redis data, the
stand-in's database, the generated secrets (``cluster.env``, 0600) and the admin password file of
Airflow's SimpleAuthManager (0600). Nothing of it is tracked.

Settings (environment): ``SGS_AIRFLOW_ADMIN_PASSWORD`` (required by ``up``), ``SGS_AIRFLOW_PORT`` (8080),
``SGS_CLUSTER_REDIS_PORT`` (6391), ``SGS_CLUSTER_STANDIN_PORT`` (8766), ``SGS_CLUSTER_LOG_PORT`` (8795),
``SGS_CLUSTER_WORKERS`` (2), ``SGS_CLUSTER_CONCURRENCY`` (tasks per worker, 2),
``SGS_CLUSTER_QUEUES`` (queues every worker serves, ``default,ingest,push,report``),
``SGS_CLUSTER_PG_URL`` (the PostgreSQL server, ``postgresql+psycopg://postgres@127.0.0.1:5432``),
``SGS_CLUSTER_DB_PREFIX`` (``sgs_cluster_``: databases ``<prefix>airflow`` and ``<prefix>store``),
``SGS_CLUSTER_HEARTBEAT_TIMEOUT`` (seconds before a silent task is re-queued, 60),
``SGS_CLUSTER_QUEUED_TIMEOUT`` (seconds a task may stay queued before it is sent again, 600).
Any other variable (``SGS_DEMO_*_URL``, ``AIRFLOW_CONN_*``) passes through to the processes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOME = Path(os.environ.get("SGS_HOME") or ROOT).resolve()
BIN = Path(sys.executable).parent

#: The cluster's services, in start order (workers are ``worker1`` … ``workerN``). docker-compose.yml has
#: the same ones (tests/test_repository.py compares them): ``postgres`` is the machine's server here.
SERVICES = ["postgres", "redis", "standin", "api-server", "scheduler", "dag-processor", "triggerer", "worker"]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


@dataclass
class Settings:
    dir: Path = field(default_factory=lambda: Path(os.environ.get("SGS_CLUSTER_DIR") or HOME / "var" / "cluster").resolve())
    api_port: int = field(default_factory=lambda: _env_int("SGS_AIRFLOW_PORT", 8080))
    redis_port: int = field(default_factory=lambda: _env_int("SGS_CLUSTER_REDIS_PORT", 6391))
    standin_port: int = field(default_factory=lambda: _env_int("SGS_CLUSTER_STANDIN_PORT", 8766))
    log_port: int = field(default_factory=lambda: _env_int("SGS_CLUSTER_LOG_PORT", 8795))
    workers: int = field(default_factory=lambda: _env_int("SGS_CLUSTER_WORKERS", 2))
    concurrency: int = field(default_factory=lambda: _env_int("SGS_CLUSTER_CONCURRENCY", 2))
    queues: str = field(default_factory=lambda: os.environ.get("SGS_CLUSTER_QUEUES") or "default,ingest,push,report")
    pg_url: str = field(default_factory=lambda: (os.environ.get("SGS_CLUSTER_PG_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432").rstrip("/"))
    db_prefix: str = field(default_factory=lambda: os.environ.get("SGS_CLUSTER_DB_PREFIX") or "sgs_cluster_")
    heartbeat_timeout: int = field(default_factory=lambda: _env_int("SGS_CLUSTER_HEARTBEAT_TIMEOUT", 60))
    queued_timeout: int = field(default_factory=lambda: _env_int("SGS_CLUSTER_QUEUED_TIMEOUT", 600))

    @property
    def airflow_db(self) -> str:
        return f"{self.db_prefix}airflow"

    @property
    def store_db(self) -> str:
        return f"{self.db_prefix}store"

    @property
    def pids(self) -> Path:
        return self.dir / "pids"

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    @property
    def airflow_home(self) -> Path:
        return self.dir / "airflow"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def process_names(self) -> list[str]:
        return ["redis", "standin", "api-server", "scheduler", "dag-processor", "triggerer"] + [
            f"worker{i}" for i in range(1, self.workers + 1)
        ]


def say(msg: str) -> None:
    print(msg, flush=True)


def die(msg: str, code: int = 2) -> None:
    print(f"error: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(code)


# --- secrets and environment -------------------------------------------------------------------------


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only the owner can read (created 0600, never world-readable for a moment)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    path.chmod(0o600)


def _secrets(s: Settings) -> dict[str, str]:
    """Generated once per cluster folder and kept in ``secrets.json`` (0600): the processes must agree on them."""
    path = s.dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    from cryptography.fernet import Fernet

    values = {
        "fernet_key": Fernet.generate_key().decode(),
        "jwt_secret": secrets.token_urlsafe(48),
        "api_secret_key": secrets.token_urlsafe(32),
        "redis_password": secrets.token_urlsafe(24),
        "standin_token": secrets.token_urlsafe(24),
    }
    _write_private(path, json.dumps(values, indent=1))
    return values


def _pg(url: str, db: str) -> str:
    return f"{url}/{db}"


def cluster_env(s: Settings) -> dict[str, str]:
    """The variables every process of the cluster gets (on top of the caller's environment)."""
    sec = _secrets(s)
    meta = _pg(s.pg_url, s.airflow_db)
    broker = f"redis://:{sec['redis_password']}@127.0.0.1:{s.redis_port}/0"
    from urllib.parse import quote

    province = f"http://:{quote(sec['standin_token'], safe='')}@127.0.0.1:{s.standin_port}/api?auth=bearer"
    return {
        "SGS_HOME": str(HOME),
        "SGS_STORE_URL": _pg(s.pg_url, s.store_db),
        "SGS_CLUSTER_DIR": str(s.dir),
        "AIRFLOW_HOME": str(s.airflow_home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(HOME / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(HOME / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW__CORE__FERNET_KEY": sec["fernet_key"],
        # Worker processes report "<host>-<worker name>", so task instances show which worker ran them.
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "pipeline.airflow_env.worker_hostname",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(s.dir / "admin-password.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{s.api_url}/execution/",
        "AIRFLOW__CORE__PARALLELISM": "32",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta,
        # psycopg 3 serves the async engine too (Airflow would otherwise want asyncpg, not installed).
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": meta,
        "AIRFLOW__API__BASE_URL": s.api_url,
        "AIRFLOW__API__PORT": str(s.api_port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__SECRET_KEY": sec["api_secret_key"],
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": sec["jwt_secret"],
        "AIRFLOW__CELERY__BROKER_URL": broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(s.concurrency),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(s.log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(s.log_port + 1),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(s.heartbeat_timeout),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
        # A task message caught in flight by a broker restart stays "queued": after this many seconds the
        # scheduler sends it again (it must exceed the longest wait for a free worker slot).
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(s.queued_timeout),
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": str(max(5, min(120, s.queued_timeout // 6))),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW_CONN_SGS_PROVINCE": province,
        "SGS_STANDIN_TOKEN": sec["standin_token"],
        "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(HOME) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""),
    }


def _commands(s: Settings, env: dict[str, str]) -> dict[str, list[str]]:
    airflow = str(BIN / "airflow")
    cmds = {
        "redis": ["redis-server", str(s.dir / "redis" / "redis.conf")],
        "standin": [str(BIN / "python"), "-m", "upstream.standin", "--host", "127.0.0.1", "--port", str(s.standin_port),
                    "--db", str(s.dir / "standin" / "province.db")],
        "api-server": [airflow, "api-server", "--host", "127.0.0.1", "--port", str(s.api_port), "--workers", "1"],
        "scheduler": [airflow, "scheduler"],
        "dag-processor": [airflow, "dag-processor"],
        "triggerer": [airflow, "triggerer"],
    }
    for i in range(1, s.workers + 1):
        cmd = [airflow, "celery", "worker", "--celery-hostname", f"worker{i}@%h", "--queues", s.queues,
               "--concurrency", str(s.concurrency), "--without-gossip", "--without-mingle"]
        # All workers share this machine's log folder: one log server is enough (and only one can have the port).
        if i > 1:
            cmd.append("--skip-serve-logs")
        cmds[f"worker{i}"] = cmd
    return cmds


# --- processes ------------------------------------------------------------------------------------------


def _pidfile(s: Settings, name: str) -> Path:
    return s.pids / f"{name}.pid"


def _read_pid(s: Settings, name: str) -> int | None:
    try:
        data = json.loads(_pidfile(s, name).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    pid = int(data["pid"])
    return pid if _start_time(pid) == data.get("start_time") else None


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), or None when it is gone or a zombie.

    Stored with the pid: a pid recycled by an unrelated program has another start time, so ``down``
    never signals it. (Command lines cannot serve: Airflow and Celery rewrite their process titles.)
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None if fields[0] == "Z" else fields[19]


def start(s: Settings, name: str, cmd: list[str], env: dict[str, str], extra_env: dict[str, str] | None = None) -> int:
    pid = _read_pid(s, name)
    if pid:
        say(f"  {name}: already running (pid {pid})")
        return pid
    log = open(s.logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(cmd, cwd=HOME, env={**os.environ, **env, **(extra_env or {})}, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    _write_private(_pidfile(s, name), json.dumps({"pid": proc.pid, "start_time": _start_time(proc.pid), "cmd": cmd}))
    say(f"  {name}: started (pid {proc.pid}, log {s.logs / (name + '.log')})")
    return proc.pid


def stop(s: Settings, name: str, *, sig: int = signal.SIGTERM, wait: float = 30.0) -> bool:
    """Stop what ``up`` started for ``name``: its process group and every descendant; SIGKILL what is left
    after ``wait`` seconds.

    Descendants are collected first because some leave the group: Airflow's task supervisor runs each task
    in a session of its own, so a worker's process group does not contain its running tasks. ``--kill``
    (SIGKILL) of a worker therefore kills its tasks too — a lost machine, not an orphaned task that keeps
    loading after its worker died.
    """
    pid = _read_pid(s, name)
    if pid is None:
        _pidfile(s, name).unlink(missing_ok=True)  # a stale file of a process that is gone
        return False
    tree = _descendants(pid)
    try:
        os.killpg(pid, sig)  # the group of the session the process leads
    except ProcessLookupError:
        pass
    if sig == signal.SIGKILL:
        _signal_tree(tree, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and (_group_alive(pid) or _tree_alive(tree)):
        time.sleep(0.3)
    if _group_alive(pid) or _tree_alive(tree):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _signal_tree(tree | _descendants(pid), signal.SIGKILL)
        time.sleep(0.5)
    _pidfile(s, name).unlink(missing_ok=True)
    return True


def _proc_stats() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of /proc/<pid>/stat after the command name) of every process still there."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            yield int(entry.name), (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue


def _descendants(pid: int) -> set[tuple[int, str]]:
    """Every live descendant of ``pid`` as (pid, start time): the start time guards against pid reuse."""
    children: dict[int, list[int]] = {}
    for child, fields in _proc_stats():
        children.setdefault(int(fields[1]), []).append(child)
    out: set[tuple[int, str]] = set()
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        started = _start_time(child)
        if started is not None:
            out.add((child, started))
        todo.extend(children.get(child, []))
    return out


def _tree_alive(tree: set[tuple[int, str]]) -> bool:
    return any(_start_time(p) == started for p, started in tree)


def _signal_tree(tree: set[tuple[int, str]], sig: int) -> None:
    for p, started in tree:
        if _start_time(p) == started:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass


def _group_alive(pgid: int) -> bool:
    return any(fields[0] != "Z" and int(fields[2]) == pgid for _, fields in _proc_stats())


# --- health ------------------------------------------------------------------------------------------


def _http_json(url: str, timeout: float = 3.0, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    import httpx

    try:
        r = httpx.get(url, timeout=timeout, headers=headers)
    except httpx.HTTPError as exc:
        return 0, str(exc)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


def _redis_ping(s: Settings) -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=s.redis_port, password=_secrets(s)["redis_password"],
                                socket_timeout=2, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _celery_ping(s: Settings) -> dict[str, bool]:
    from celery import Celery
    from kombu.exceptions import KombuError

    app = Celery(broker=cluster_env(s)["AIRFLOW__CELERY__BROKER_URL"])
    try:
        replies = app.control.ping(timeout=2.0) or []
    except (KombuError, OSError):  # broker down (kombu's OperationalError): every worker is unreachable
        return {}
    finally:
        app.close()
    return {name.split("@")[0]: True for reply in replies for name in reply}


def health(s: Settings) -> dict[str, dict[str, Any]]:
    """Each process: pid (or None) and whether it does its job, not only whether it runs."""
    out: dict[str, dict[str, Any]] = {}
    pids = {name: _read_pid(s, name) for name in s.process_names()}
    monitor: dict[str, Any] = {}
    if pids["api-server"]:
        code, body = _http_json(f"{s.api_url}/api/v2/monitor/health")
        monitor = body if code == 200 and isinstance(body, dict) else {}
    workers = _celery_ping(s) if any(pids[n] for n in pids if n.startswith("worker")) and pids["redis"] else {}
    for name, pid in pids.items():
        ok = False
        detail = ""
        if pid:
            if name == "redis":
                ok = _redis_ping(s)
                detail = "PING" if ok else "no PONG"
            elif name == "standin":
                code, _ = _http_json(f"http://127.0.0.1:{s.standin_port}/healthz")
                ok, detail = code == 200, f"/healthz {code}"
            elif name == "api-server":
                ok = monitor.get("metadatabase", {}).get("status") == "healthy"
                detail = "metadatabase " + str(monitor.get("metadatabase", {}).get("status", "unreachable"))
            elif name in ("scheduler", "triggerer", "dag-processor"):
                part = monitor.get(name.replace("-", "_"), {})
                ok = part.get("status") == "healthy"
                detail = f"heartbeat {part.get('status', 'unknown')}"
            elif name.startswith("worker"):
                ok = workers.get(name, False)
                detail = "celery ping " + ("ok" if ok else "no reply")
        out[name] = {"pid": pid, "healthy": ok, "detail": detail if pid else "not running"}
    return out


def wait_healthy(s: Settings, names: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        h = health(s)
        if all(h[n]["healthy"] for n in names):
            return h
        dead = [n for n in names if h[n]["pid"] is None]
        if dead or time.monotonic() > deadline:
            bad = [n for n in names if not h[n]["healthy"]]
            tails = "\n".join(f"--- {n} ({h[n]['detail']}):\n{_tail(s, n)}" for n in bad)
            die(f"not healthy after {timeout:.0f} s: {', '.join(bad)}\n{tails}", 1)
        time.sleep(1.5)


def _tail(s: Settings, name: str, lines: int = 15) -> str:
    try:
        return "\n".join((s.logs / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


# --- commands ------------------------------------------------------------------------------------------


def _ensure_databases(s: Settings) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(_pg(s.pg_url, "postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as c:
            for db in (s.airflow_db, s.store_db):
                if not c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": db}).first():
                    c.execute(sa.text(f'CREATE DATABASE "{db}"'))
                    say(f"  postgres: created database {db}")
    except sa.exc.OperationalError as exc:
        die(f"PostgreSQL at {s.pg_url} does not answer ({type(exc).__name__}): run `make services`")
    finally:
        engine.dispose()


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(cmd, cwd=HOME, env={**os.environ, **env}, capture_output=True, text=True)
    if proc.returncode != 0:
        die(f"{what} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}", 1)


def up(s: Settings) -> None:
    password = os.environ.get("SGS_AIRFLOW_ADMIN_PASSWORD", "")
    if not password:
        die("set SGS_AIRFLOW_ADMIN_PASSWORD (the UI user admin's password; it is kept only in "
            f"{s.dir}/admin-password.json, mode 0600)")
    if shutil.which("redis-server") is None:
        die("redis-server not found: apt-get install redis-server (scripts/system-deps.sh)")
    for sub in ("", "pids", "logs", "airflow", "redis", "standin"):
        _private_dir(s.dir / sub)
    running = {n: _read_pid(s, n) for n in s.process_names()}
    for name, port in (("redis", s.redis_port), ("standin", s.standin_port), ("api-server", s.api_port)):
        if not running[name] and not _port_free(port):
            die(f"port {port} for {name} is taken by another program: choose another (docs/deploy.md lists the variables)")
    env = cluster_env(s)
    sec = _secrets(s)
    # The admin's password only in the cluster's private folder, in SimpleAuthManager's own format.
    _write_private(s.dir / "admin-password.json", json.dumps({"admin": password}))
    _write_private(s.dir / "redis" / "redis.conf", "\n".join([
        "bind 127.0.0.1", f"port {s.redis_port}", "protected-mode yes", "daemonize no",
        f"dir {s.dir / 'redis'}", f"requirepass {sec['redis_password']}",
        # Append-only file: a restarted broker still holds the queued task messages.
        "appendonly yes", "appendfsync everysec", 'save ""', "",
    ]))
    _write_private(s.dir / "cluster.env", "".join(f"export {k}={_sh_quote(v)}\n" for k, v in env.items() if k != "PATH"))

    say(f"cluster in {s.dir}")
    _ensure_databases(s)
    cmds = _commands(s, env)
    start(s, "redis", cmds["redis"], env)
    say("  airflow db migrate …")
    _run([str(BIN / "airflow"), "db", "migrate"], env, "airflow db migrate")
    say("  sgs pools sync …")
    _run([str(BIN / "sgs"), "pools", "sync"], env, "sgs pools sync")
    for name in s.process_names()[1:]:
        start(s, name, cmds[name], env, _own_env(name))
    h = wait_healthy(s, s.process_names(), timeout=float(os.environ.get("SGS_CLUSTER_START_TIMEOUT", "240")))
    _print_health(h)
    say(f"Airflow UI: {s.api_url}/  (user admin)   REST API: {s.api_url}/api/v2   token: POST {s.api_url}/auth/token")


def _own_env(name: str) -> dict[str, str]:
    """Variables of one process: a worker's name; the scheduler's log level (bench/cluster.py reads its
    loop times, which Airflow logs at DEBUG)."""
    if name.startswith("worker"):
        return {"SGS_WORKER_NAME": name}
    if name == "scheduler" and os.environ.get("SGS_CLUSTER_SCHEDULER_LOG_LEVEL"):
        return {"AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ["SGS_CLUSTER_SCHEDULER_LOG_LEVEL"]}
    return {}


def _sh_quote(v: str) -> str:
    return "'" + v.replace("'", "'\"'\"'") + "'"


def down(s: Settings) -> None:
    # Workers first (they finish or hand back their tasks), the broker and the stand-in last.
    stopped = []
    for n in reversed(s.process_names()):
        t0 = time.monotonic()
        if stop(s, n, wait=30.0 if n.startswith("worker") else 20.0):
            stopped.append(f"{n} ({time.monotonic() - t0:.1f} s)")
    # Workers started by an `up` with more workers than this one's settings.
    for extra in sorted(s.pids.glob("worker*.pid")) if s.pids.exists() else []:
        if stop(s, extra.stem):
            stopped.append(extra.stem)
    say("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


def _print_health(h: dict[str, dict[str, Any]]) -> None:
    for name, v in h.items():
        mark = "ok " if v["healthy"] else ("-- " if v["pid"] is None else "BAD")
        say(f"  {mark} {name:<14} pid {str(v['pid'] or '-'):<8} {v['detail']}")


def status(s: Settings, as_json: bool) -> int:
    h = health(s)
    if as_json:
        print(json.dumps({"api_url": s.api_url, "dir": str(s.dir), "processes": h}, ensure_ascii=False))
    else:
        _print_health(h)
    return 0 if all(v["healthy"] for v in h.values()) else 1


def main(argv: list[str]) -> int:
    usage = "usage: scripts/cluster.sh up|down|status [--json]|services|env|stop <name>|start <name>"
    if not argv:
        die(usage)
    s = Settings()
    cmd = argv[0]
    if cmd == "up":
        up(s)
    elif cmd == "down":
        down(s)
    elif cmd == "status":
        return status(s, "--json" in argv[1:])
    elif cmd == "services":
        # The topology, for tests/test_repository.py and docker-compose.yml reviewers.
        print("\n".join(SERVICES))
    elif cmd == "env":
        # For the operator's shell: `eval "$(scripts/cluster.sh env)"`, then `airflow …` talks to the cluster.
        print(f". {_sh_quote(str(s.dir / 'cluster.env'))}")
    elif cmd in ("stop", "start") and len(argv) >= 2:
        # One process (used by the fault trials: a Redis restart, a worker killed and replaced).
        name = argv[1]
        if name not in s.process_names():
            die(f"unknown process {name!r}: {', '.join(s.process_names())}")
        if cmd == "stop":
            stop(s, name, sig=signal.SIGKILL if "--kill" in argv else signal.SIGTERM)
        else:
            env = cluster_env(s)
            start(s, name, _commands(s, env)[name], env, _own_env(name))
    else:
        die(usage)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
