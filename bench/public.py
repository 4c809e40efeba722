"""Public column benchmark: search and detail latency of ``sgs serve public`` over a large read model.

Builds a store whose read model holds ``--penalties`` published penalties and ``--licences`` licences (default
5,000,000 and 1,000,000), written straight into ``published_cf`` / ``published_xk`` in bulk (COPY on PostgreSQL,
batched inserts on SQLite; generated rows, not the ingest: the column's reads are measured, not the loader), then
starts ``sgs serve public`` (rate limit lifted) and runs ``--clients`` concurrent clients (default 50) on
loopback over the four search kinds and the detail page:

- ``name``: ``/api/v1/cf?q=<3 characters of a name>`` (substring: pg_trgm GIN / SQLite FTS5 trigram);
- ``credit_code``: ``/api/v1/cf?credit_code=…`` (exact);
- ``doc_no``: ``/api/v1/cf?doc_no=…`` (exact);
- ``department_dates``: ``/api/v1/cf?department=…&date_from=…&date_to=…`` (department + decision-date range);
- ``detail``: ``/api/v1/cf/<id>``.

Reports p50/p95/p99 (ms) and the error rate per kind as JSON on stdout; docs/performance.md records them.

    .venv/bin/python bench/public.py --backend postgresql               # the issue's scale
    .venv/bin/python bench/public.py --backend sqlite --penalties 50000 --licences 10000 --requests 200
    .venv/bin/python bench/public.py --keep                     # keep the built database (its URL on stderr)
    .venv/bin/python bench/public.py --store-url postgresql+psycopg://postgres@127.0.0.1:5432/sgs_bench_public_x

The load comes from ``wrk`` (C, Debian package ``wrk``) when it is installed — one wrk run per kind, each
connection a client, paths drawn from the kind's list by a Lua script, percentiles from wrk's own histogram —
else from Python threads with httpx (``--client python``), which cost the two cores here far more CPU per
request than the server's own work and so measure the client as much as the column.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"

_SYLLABLES = "华信达通源泰恒盛鑫隆兴安宏瑞丰博创新科联合嘉弘德明天宇星辰海川山林景程远峰光耀辉锦绣"
_TRADES = ["餐饮", "科技", "建材", "贸易", "物流", "医药", "食品", "服装", "电子", "机械", "文化", "环保"]
_FORMS = ["有限公司", "股份有限公司", "经营部", "商行", "店"]
_DEPTS = [f"dept{i:02d}" for i in range(40)]
_BATCH = 100_000


def _name(rng: random.Random) -> str:
    core = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
    return f"杭州{core}{rng.choice(_TRADES)}{rng.choice(_FORMS)}"


def _code(rng: random.Random, i: int) -> str:
    """A 统一社会信用代码 with its GB 32100 check character (python-stdnum), as real codes have."""
    from stdnum.cn import uscc

    body = f"91330100{i:09d}"
    return body + uscc.calc_check_digit(body)


def build(url: str, penalties: int, licences: int, seed: int = 7) -> dict[str, Any]:
    """Migrate a new store at ``url`` and fill its read model; returns samples for the queries."""
    import sqlalchemy as sa

    from store import bulk
    from store.db import make_store_engine, migrate
    from store.schema import published_tables

    engine = make_store_engine(url)
    migrate(engine)
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    first_day = dt.date(2024, 1, 1)
    samples: dict[str, list[Any]] = {"name": [], "credit_code": [], "doc_no": [], "id": []}
    started = time.perf_counter()
    for ds, n in (("cf", penalties), ("xk", licences)):
        t = published_tables[ds]
        p = ds
        for start in range(0, n, _BATCH):
            m = min(_BATCH, n - start)
            ids = list(range(start + 1, start + m + 1))
            names = [_name(rng) for _ in ids]
            codes = [_code(rng, i) for i in ids]
            docs = [f"杭{ds}〔{2024 + i % 3}〕{i}号" for i in ids]
            days = [first_day + dt.timedelta(days=rng.randrange(1000)) for _ in ids]
            depts = [rng.choice(_DEPTS) for _ in ids]
            authorities = [f"杭州市{d}局" for d in depts]
            cols: dict[str, Any] = {
                "id": ids, "department": depts, "version": 1, "party_name": names, "credit_code": codes, "doc_no": docs,
                "authority": authorities, "decision_date": days,
                "publicity_end": [d + dt.timedelta(days=3 * 365) for d in days] if ds == "cf" else None,
                f"{p}_xdr_mc": names, f"{p}_xdr_lb": "法人及非法人组织", f"{p}_xdr_shxym": codes, f"{p}_wsh": docs,
                f"{p}_jdrq": days, ("cf_cfjg" if ds == "cf" else "xk_xkjg"): authorities,
                ("cf_nr" if ds == "cf" else "xk_nr"): "罚款人民币五千元" if ds == "cf" else "食品经营",
                "first_published_at": now, "published_at": now,
            }
            with engine.begin() as conn:
                bulk.insert_columns(conn, t, cols, m)
            if ds == "cf":
                for j in rng.sample(range(m), min(200, m)):
                    samples["name"].append(names[j][2:5])
                    samples["credit_code"].append(codes[j])
                    samples["doc_no"].append(docs[j])
                    samples["id"].append(ids[j])
            print(f"{ds}: {start + m:,}/{n:,} rows ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if engine.dialect.name == "postgresql":
        # VACUUM as autovacuum would after a load: hint bits and the visibility map set, so the measured reads
        # are not the first reads after a bulk load (which write every page they touch once).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE published_cf, published_xk")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    with engine.connect() as conn:
        counts = {ds: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for ds, t in published_tables.items()}
    engine.dispose()
    return {"samples": samples, "build_seconds": round(time.perf_counter() - started, 1), "rows": counts}


def samples_of(url: str, per_kind: int = 200, seed: int = 7) -> dict[str, Any]:
    """Samples for the queries from a store built earlier (``--store-url``): random ids of published_cf."""
    import sqlalchemy as sa

    from store.schema import published_tables

    t = published_tables["cf"]
    engine = sa.create_engine(url)
    rng = random.Random(seed)
    samples: dict[str, list[Any]] = {"name": [], "credit_code": [], "doc_no": [], "id": []}
    with engine.connect() as conn:
        top = conn.execute(sa.select(sa.func.max(t.c.id))).scalar_one() or 0
        counts = {ds: conn.execute(sa.select(sa.func.count()).select_from(pt)).scalar_one()
                  for ds, pt in published_tables.items()}
        ids = sorted({rng.randint(1, top) for _ in range(per_kind * 2)}) if top else []
        rows = conn.execute(sa.select(t.c.id, t.c.party_name, t.c.credit_code, t.c.doc_no).where(t.c.id.in_(ids))).all()
    engine.dispose()
    for r in rows[:per_kind]:
        samples["name"].append(r.party_name[2:5])
        samples["credit_code"].append(r.credit_code)
        samples["doc_no"].append(r.doc_no)
        samples["id"].append(r.id)
    return {"samples": samples, "build_seconds": None, "rows": counts}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url: str, workdir: Path, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = _free_port()
    env = {**os.environ, "SGS_STORE_URL": url, "SGS_PUBLIC_RATE": "1000000", "PYTHONPATH": str(ROOT),
           "SGS_VAR_DIR": str(workdir / "var")}
    env.pop("SGS_PUBLIC_STORE_URL", None)
    log = (workdir / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "public", "--port", str(port),
                             "--workers", str(workers)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/robots.txt", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((workdir / "serve.log").read_text(errors="replace")[-2000:])
        time.sleep(0.2)


def _work(samples: dict[str, list[Any]], requests: int, seed: int) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """The requests of each kind: (path, query parameters), drawn from the samples."""
    rng = random.Random(seed)

    def date_range() -> dict[str, str]:
        lo = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(900))
        return {"department": rng.choice(_DEPTS), "date_from": lo.isoformat(), "date_to": (lo + dt.timedelta(days=60)).isoformat()}

    kinds: dict[str, Callable[[], tuple[str, dict[str, str]]]] = {
        "name": lambda: ("/api/v1/cf", {"q": rng.choice(samples["name"])}),
        "credit_code": lambda: ("/api/v1/cf", {"credit_code": rng.choice(samples["credit_code"])}),
        "doc_no": lambda: ("/api/v1/cf", {"doc_no": rng.choice(samples["doc_no"])}),
        "department_dates": lambda: ("/api/v1/cf", date_range()),
        "detail": lambda: (f"/api/v1/cf/{rng.choice(samples['id'])}", {}),
    }
    return {kind: [make() for _ in range(requests)] for kind, make in kinds.items()}


_WRK_SCRIPT = r"""
local paths = {}
for line in io.lines(os.getenv("SGS_WRK_PATHS")) do paths[#paths + 1] = line end
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("start", counter * 7919)
end
local i = nil
function request()
  if i == nil then i = start or 0 end
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("SGS_RESULT %d %d %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def _connections_per_process(port: int) -> list[int]:
    """How the server's established connections on ``port`` are spread over its processes (largest first): with
    several workers, the busiest one sets the tail."""
    import collections

    import psutil

    by_pid = collections.Counter(c.pid for c in psutil.net_connections("tcp")
                                 if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED and c.pid)
    return sorted(by_pid.values(), reverse=True)


def measure_wrk(base: str, samples: dict[str, list[Any]], clients: int, requests: int, seconds: float,
                seed: int = 11, kinds: tuple[str, ...] = ()) -> dict[str, Any]:
    """One wrk run per kind: ``clients`` connections (each a client waiting for its answer before the next
    request), ``seconds`` long, cycling through the kind's ``requests`` paths."""
    from urllib.parse import urlencode

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sgs-wrk-") as tmp:
        script = Path(tmp) / "paths.lua"
        script.write_text(_WRK_SCRIPT, encoding="utf-8")
        for kind, work in _work(samples, requests, seed).items():
            if kinds and kind not in kinds:
                continue
            paths = Path(tmp) / f"{kind}.txt"
            paths.write_text("\n".join(p + ("?" + urlencode(q) if q else "") for p, q in work) + "\n", encoding="utf-8")
            threads = max(1, min(2, clients))
            run = subprocess.Popen(["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{seconds:g}s", "--timeout", "10s",
                                    "-s", str(script), base], env={**os.environ, "SGS_WRK_PATHS": str(paths)},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(min(2.0, seconds / 2))
            split = _connections_per_process(int(base.rsplit(":", 1)[1]))
            stdout, stderr = run.communicate()
            if run.returncode:
                raise RuntimeError(f"wrk failed ({run.returncode}): {stderr[-2000:]}")
            line = next(x for x in stdout.splitlines() if x.startswith("SGS_RESULT "))
            n, micros, *errs, p50, p95, p99 = (int(v) for v in line.split()[1:])
            out[kind] = {"requests": n, "p50_ms": round(p50 / 1000, 1), "p95_ms": round(p95 / 1000, 1),
                         "p99_ms": round(p99 / 1000, 1), "error_rate": round(sum(errs) / max(n, 1), 4),
                         "per_second": round(n / (micros / 1e6), 1), "connections_per_process": split}
            print(kind, out[kind], file=sys.stderr)
    return out


def measure(base: str, samples: dict[str, list[Any]], clients: int, requests: int, seed: int = 11) -> dict[str, Any]:
    import httpx

    out: dict[str, Any] = {}
    for kind, work in _work(samples, requests, seed).items():
        lock = threading.Lock()
        times: list[float] = []
        errors = [0]

        def client(work: list[tuple[str, dict[str, str]]] = work, times: list[float] = times,
                   errors: list[int] = errors, lock: threading.Lock = lock) -> None:
            with httpx.Client(base_url=base, timeout=30) as c:
                while True:
                    with lock:
                        if not work:
                            return
                        path, params = work.pop()
                    t0 = time.perf_counter()
                    try:
                        r = c.get(path, params=params)
                        ok = r.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    elapsed = (time.perf_counter() - t0) * 1000
                    with lock:
                        times.append(elapsed)
                        if not ok:
                            errors[0] += 1

        threads = [threading.Thread(target=client) for _ in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        q = statistics.quantiles(times, n=100)
        out[kind] = {"requests": len(times), "p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1), "p99_ms": round(q[98], 1),
                     "error_rate": round(errors[0] / len(times), 4), "per_second": round(len(times) / wall, 1)}
        print(kind, out[kind], file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    ap.add_argument("--penalties", type=int, default=5_000_000)
    ap.add_argument("--licences", type=int, default=1_000_000)
    ap.add_argument("--clients", default="50", help="concurrent clients; several comma-separated (1,50) run one after another")
    ap.add_argument("--requests", type=int, default=1000, help="distinct requests per kind (wrk cycles through them)")
    ap.add_argument("--seconds", type=float, default=20, help="wrk: seconds per kind")
    ap.add_argument("--workers", type=int, default=1, help="sgs serve public --workers")
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                    help="load generator: wrk if installed (auto), or Python threads with httpx")
    ap.add_argument("--kinds", default="name,credit_code,doc_no,department_dates,detail", help="kinds to measure")
    ap.add_argument("--store-url", help="measure a store built by an earlier --keep run instead of building one")
    ap.add_argument("--keep", action="store_true", help="keep the built database (PostgreSQL) or folder (SQLite)")
    args = ap.parse_args()

    import sqlalchemy as sa

    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    workdir = Path(tempfile.mkdtemp(prefix="sgs-bench-public-"))
    admin = name = None
    if args.store_url:
        url = args.store_url
    elif args.backend == "postgresql":
        name = f"sgs_bench_public_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = f"{PG}/{name}"
    else:
        url = f"sqlite:///{workdir / 'store.db'}"
    proc = None
    try:
        built = samples_of(url) if args.store_url else build(url, args.penalties, args.licences)
        if args.keep:
            print(f"store kept: {url}", file=sys.stderr)
        proc, base = serve(url, workdir, args.workers)
        load_before = os.getloadavg()[0]
        result = {n: (measure_wrk(base, built["samples"], n, args.requests, args.seconds, kinds=tuple(args.kinds.split(",")))
                      if client == "wrk"
                      else measure(base, built["samples"], n, args.requests)) for n in map(int, args.clients.split(","))}
        print(json.dumps({"backend": url.split(":")[0], "rows": built["rows"], "build_seconds": built["build_seconds"],
                          "workers": args.workers, "client": client, "cpus": os.cpu_count(),
                          "load_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                          "results_by_clients": result}, ensure_ascii=False, indent=1))
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        if admin is not None:
            if not args.keep:
                with admin.connect() as c:
                    c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
