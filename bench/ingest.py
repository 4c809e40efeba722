"""Full-load benchmark: the physical limit, this project's ingest, and a peer, on the same MariaDB table.

Builds a department penalty table of N rows (default 1,000,000; 19 columns; ~5% bad rows: a wrong USCC
check digit on every 20th row; every 4th row a natural person with an ID number) in the real MariaDB,
then measures, each path in its own subprocess (so that peak RSS is that path's own), into PostgreSQL:

  (a) raw limit: ``mariadb -B -N`` (tab-separated) piped into ``psql \\copy`` — no parsing, no rules;
  (b) this project: ``pipeline.ingest.ingest`` (extract, transform, the full rule catalogue, load with
      superseded-version history, change sequence, quarantine and watermark), reading with the project's default MySQL driver
      (mysqlclient, a ``mysql://`` URL; ``SGS_BENCH_SOURCE_DRIVER=mysql+pymysql`` measures PyMySQL);
  (c) peer: dlt ``sql_table`` (pyarrow backend, merge on the primary key), no validation.

It prints seconds, rows/s and peak RSS of each (the process tree's resident size summed at each moment, sampled every
50 ms; the sum of each process's own peak too), and the ratios (b)/(a) and (b)/(c).

    python3.11 -m venv .venv-bench && .venv-bench/bin/pip install -r bench/requirements.txt   # (c) only
    .venv/bin/python bench/ingest.py                       # 1,000,000 rows, all three paths
    .venv/bin/python bench/ingest.py --rows 5000000 --paths b   # the memory check
    .venv/bin/python bench/ingest.py --rows 50000 --profile     # cProfile of (b), top functions
    .venv/bin/python bench/ingest.py --rows 50000 --profile-load   # cProfile of the loading thread only

Needs MariaDB on 127.0.0.1:3306 (root, no password) and PostgreSQL on 127.0.0.1:5432 (postgres, trust),
and the ``mariadb`` and ``psql`` clients. Creates (and leaves) the MariaDB database ``sgs_bench_ingest``
and the PostgreSQL databases ``sgs_bench_raw``, ``sgs_bench_store`` and ``sgs_bench_dlt`` (each name followed by
``$SGS_BENCH_DB_SUFFIX`` when it is set).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MARIADB = os.environ.get("SGS_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4")
PG = os.environ.get("SGS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
#: Appended to every database this benchmark creates, so that two people on one machine do not drop each
#: other's databases mid-run (``SGS_BENCH_DB_SUFFIX=_me``).
SUFFIX = os.environ.get("SGS_BENCH_DB_SUFFIX", "")
SOURCE_DB = "sgs_bench_ingest" + SUFFIX
COLUMNS = 19

DEPARTMENT = """\
code: bench
name: 基准测试局
uscc: {authority}
source:
  url_env: SGS_SRC_BENCH_URL
datasets:
  cf:
    table: t_xzcf
    cursor: gxsj
    primary_key: [id]
    chunk_rows: {chunk_rows}
    lookback: 5m
    columns: {{CF_WSH: wsh, CF_XDR_MC: dsr, CF_XDR_LB: lb, CF_XDR_SHXYM: xydm, CF_FRDB: fddbr, CF_XDR_ZJLX: zjlx,
              CF_XDR_ZJHM: zjhm, CF_WFXW: wfxw, CF_SY: ss, CF_YJ: yj, CF_CFLB: cflb, CF_NR: nr, CF_NR_FK: fk,
              CF_JDRQ: jdrq, CF_YXQ: yxq, CF_GSJZQ: gsjzq, BZ: bz}}
    constants: {{CF_CFJG: 基准测试局, CF_CFJGDM: {authority}, CF_SJLY: 基准测试局, CF_SJLYDM: {authority}}}
    codes: {{CF_XDR_LB: {{"1": 法人及非法人组织, "3": 自然人}}, CF_CFLB: {{"2": 罚款}}}}
    amounts_in_yuan: [CF_NR_FK]
"""


# --- the source table ------------------------------------------------------------------------------


def _org_check(body8: str) -> str:
    value = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    r = 11 - value % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def authority_code() -> str:
    from stdnum.cn import uscc

    body = "11330100MB000000" + _org_check("MB000000")
    return body + uscc.calc_check_digit(body)


def _codes(n: int, rng: random.Random) -> list[str]:
    from stdnum.cn import uscc

    out = []
    for _ in range(n):
        org = "".join(rng.choice("0123456789") for _ in range(8))
        body = "91330100" + org + _org_check(org)
        out.append(body + uscc.calc_check_digit(body))
    return out


def _ids(n: int, rng: random.Random) -> list[str]:
    import datetime as dt

    from stdnum.cn import ric

    out = []
    for _ in range(n):
        born = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(15000))
        body = "330102" + born.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
        out.append(body + ric.calc_check_digit(body + "0"))
    return out


def source_url() -> str:
    return sa.engine.make_url(MARIADB).set(database=SOURCE_DB).render_as_string(hide_password=False)


def department_url(url: str) -> str:
    """The URL the department file of (b) names: ``mysql://`` (the project's default MySQL driver, mysqlclient),
    or the driver in ``$SGS_BENCH_SOURCE_DRIVER`` (``mysql+pymysql`` to measure PyMySQL)."""
    driver = os.environ.get("SGS_BENCH_SOURCE_DRIVER", "mysql")
    return sa.engine.make_url(url).set(drivername=driver).render_as_string(hide_password=False)


def build_source(rows: int) -> float:
    """The table of ``rows`` rows, generated inside MariaDB (seconds, not minutes). Returns build seconds
    (0 when a table of that size is already there)."""
    t0 = time.perf_counter()
    admin = sa.create_engine(MARIADB)
    with admin.begin() as c:
        c.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS {SOURCE_DB} CHARACTER SET utf8mb4"))
    admin.dispose()
    src = sa.create_engine(source_url())
    with src.begin() as c:
        have = c.execute(sa.text(
            f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='{SOURCE_DB}' AND table_name='t_xzcf'"
        )).scalar()
        if have and c.execute(sa.text("SELECT COUNT(*) FROM t_xzcf")).scalar() == rows:
            return 0.0
        for t in ("t_xzcf", "codes", "ids"):
            c.execute(sa.text(f"DROP TABLE IF EXISTS {t}"))
        c.execute(sa.text(
            "CREATE TABLE t_xzcf (id INT PRIMARY KEY, wsh VARCHAR(128), dsr VARCHAR(200), lb CHAR(1), xydm VARCHAR(18),"
            " fddbr VARCHAR(50), zjlx VARCHAR(16), zjhm VARCHAR(18), wfxw VARCHAR(500), ss TEXT, yj VARCHAR(500),"
            " cflb VARCHAR(8), nr TEXT, fk DECIMAL(18,2), jdrq DATE, yxq DATE, gsjzq DATE, bz VARCHAR(512),"
            " gxsj DATETIME, INDEX ix_gxsj (gxsj))"
        ))
        rng = random.Random(1)
        c.execute(sa.text("CREATE TABLE codes (k INT PRIMARY KEY, code CHAR(18))"))
        c.execute(sa.text("INSERT INTO codes VALUES (:k, :c)"), [{"k": i, "c": v} for i, v in enumerate(_codes(1000, rng))])
        c.execute(sa.text("CREATE TABLE ids (k INT PRIMARY KEY, zjhm CHAR(18))"))
        c.execute(sa.text("INSERT INTO ids VALUES (:k, :c)"), [{"k": i, "c": v} for i, v in enumerate(_ids(1000, rng))])
        # Every 4th row a natural person (name, ID number, no credit code); every 20th row a legal person
        # whose credit code has a wrong check digit (~5% quarantined).
        c.execute(sa.text(
            "INSERT INTO t_xzcf SELECT s.seq, CONCAT('杭市监罚决〔2025〕', s.seq, '号'),"
            " IF(s.seq % 4 = 3, '张三', CONCAT('杭州基准', s.seq, '贸易有限公司')), IF(s.seq % 4 = 3, '3', '1'),"
            " IF(s.seq % 4 = 3, NULL, IF(s.seq % 20 = 0, CONCAT(LEFT(k.code, 17), IF(RIGHT(k.code, 1) = '0', '1', '0')), k.code)),"
            " IF(s.seq % 4 = 3, NULL, '李四'), IF(s.seq % 4 = 3, '身份证', NULL), IF(s.seq % 4 = 3, i.zjhm, NULL),"
            " '违反《中华人民共和国产品质量法》第三十三条', '销售不合格产品', '《中华人民共和国产品质量法》第五十条', '2', '罚款2000元', 2000,"
            " DATE_ADD('2025-01-01', INTERVAL s.seq % 300 DAY), DATE_ADD('2026-01-01', INTERVAL s.seq % 300 DAY),"
            " DATE_ADD('2028-01-01', INTERVAL s.seq % 300 DAY), NULL,"
            " DATE_ADD('2025-01-01 08:00:00', INTERVAL s.seq SECOND)"
            f" FROM seq_1_to_{rows} s JOIN codes k ON k.k = s.seq % 1000 JOIN ids i ON i.k = s.seq % 1000"
        ))
    src.dispose()
    return time.perf_counter() - t0


def fresh_pg_database(name: str) -> str:
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return sa.engine.make_url(PG).set(database=name).render_as_string(hide_password=False)


# --- the three paths, each run in its own process ------------------------------------------------------


def run_raw() -> dict[str, Any]:
    url = fresh_pg_database("sgs_bench_raw" + SUFFIX)
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text(
            "CREATE TABLE raw_xzcf (id INT PRIMARY KEY, wsh TEXT, dsr TEXT, lb TEXT, xydm TEXT, fddbr TEXT, zjlx TEXT,"
            " zjhm TEXT, wfxw TEXT, ss TEXT, yj TEXT, cflb TEXT, nr TEXT, fk NUMERIC(18,2), jdrq DATE, yxq DATE,"
            " gsjzq DATE, bz TEXT, gxsj TIMESTAMP)"
        ))
    engine.dispose()
    pg = sa.engine.make_url(PG)
    # mariadb -B escapes tab, newline and backslash the way COPY's text format expects; NULL is spelled NULL.
    cmd = (
        f"mariadb -h 127.0.0.1 -P 3306 -u root -B -N --quick {SOURCE_DB} -e 'SELECT * FROM t_xzcf ORDER BY id'"
        f" | psql -h {pg.host} -p {pg.port or 5432} -U {pg.username} -d sgs_bench_raw{SUFFIX} -v ON_ERROR_STOP=1 -q"
        " -c \"\\copy raw_xzcf FROM STDIN WITH (FORMAT text, NULL 'NULL')\""
    )
    t0 = time.perf_counter()
    subprocess.run(["bash", "-o", "pipefail", "-c", cmd], check=True)
    seconds = time.perf_counter() - t0
    with sa.create_engine(url).connect() as c:
        rows = c.execute(sa.text("SELECT COUNT(*) FROM raw_xzcf")).scalar_one()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"path": "a", "seconds": seconds, "rows": rows, "rss_mb": children, "note": "largest of mariadb / psql"}


def _department(folder: Path, chunk_rows: int) -> Path:
    path = folder / "bench.yaml"
    path.write_text(DEPARTMENT.format(authority=authority_code(), chunk_rows=chunk_rows), encoding="utf-8")
    return path


#: The stages of ``pipeline.ingest`` timed by ``--stages`` (wall seconds spent inside each call, summed).
STAGES = ("read_chunks", "as_text_frame", "raw_json", "map_to_national", "derive_penalty_fields",
          "validate", "keyed", "type_rows", "load_batch")  # source positions: inside read_chunks (connectors)


def _time_stages() -> dict[str, float]:
    """Wrap the stage functions ``pipeline.ingest`` and ``pipeline.prepare`` call with wall-clock timers (no
    profiler overhead). The timers see this process only: the run prepares every chunk itself."""
    import functools
    import inspect

    import pipeline.ingest as pi
    import pipeline.prepare as pp

    os.environ["SGS_PREPARE_WORKER_AFTER"] = "off"

    spent: dict[str, float] = dict.fromkeys(STAGES, 0.0)

    def timed(name: str, fn: Any) -> Any:
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen(*a: Any, **k: Any) -> Any:
                it = fn(*a, **k)
                while True:
                    t = time.perf_counter()
                    try:
                        item = next(it)
                    except StopIteration:
                        spent[name] += time.perf_counter() - t
                        return
                    spent[name] += time.perf_counter() - t
                    yield item
            return gen

        @functools.wraps(fn)
        def call(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.perf_counter() - t
        return call

    for name in STAGES:
        if name == "validate":
            pp.expectations.validate = timed(name, pp.expectations.validate)
            continue
        for module in (pi, pp):
            if hasattr(module, name):
                setattr(module, name, timed(name, getattr(module, name)))
    return spent


def _profile_loads() -> Any:
    """cProfile around each ``load_batch`` call of the loading thread (the run's own profile sees only the
    thread that waits for it)."""
    import cProfile

    import pipeline.ingest as pi

    profiler = cProfile.Profile()
    inner = pi.load_batch

    def profiled(*args: Any, **kwargs: Any) -> Any:
        profiler.enable()
        try:
            return inner(*args, **kwargs)
        finally:
            profiler.disable()

    pi.load_batch = profiled
    return profiler


def run_project(chunk_rows: int, profile: bool = False, stages: bool = False, profile_load: bool = False) -> dict[str, Any]:
    os.environ["SGS_SRC_BENCH_URL"] = department_url(source_url())
    from pipeline.config import load_department
    from pipeline.ingest import ingest
    from store.db import make_store_engine, migrate

    store = make_store_engine(fresh_pg_database("sgs_bench_store" + SUFFIX))
    migrate(store)
    dept = load_department(_department(Path(tempfile.mkdtemp()), chunk_rows))
    spent = _time_stages() if stages else None
    profiler = None
    if profile_load:
        profiler = _profile_loads()
    elif profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()  # type: ignore[union-attr]
    t0 = time.perf_counter()
    result = ingest(dept, "cf", engine=store, trigger="bench")
    seconds = time.perf_counter() - t0
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        print(out.getvalue(), file=sys.stderr)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue(), file=sys.stderr)
    c = result.counts
    # This process plus its prepare worker (pipeline/prepare.py), which has ended by now: the sum of the
    # two peaks, an upper bound of what both held at the same moment.
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    own, worker = me.ru_maxrss / 1024, kids.ru_maxrss / 1024
    rss = own + worker
    cpu = f"CPU {me.ru_utime + me.ru_stime:.0f} s + worker {kids.ru_utime + kids.ru_stime:.0f} s"
    if spent is not None:
        print("stage seconds (wall, main thread): " + ", ".join(f"{k} {v:.2f}" for k, v in spent.items())
              + f", other {seconds - sum(spent.values()):.2f}", file=sys.stderr)
    return {
        "path": "b", "seconds": seconds, "rows": c.read, "rss_mb": rss,
        "note": f"inserted {c.inserted:,}, quarantined {c.quarantined:,}, chunks {result.chunks}, RSS {own:,.0f} + worker {worker:,.0f} MB, {cpu}",
    }


def run_dlt(chunk_rows: int) -> dict[str, Any]:
    import dlt
    from dlt.sources.sql_database import sql_table

    dest = fresh_pg_database("sgs_bench_dlt" + SUFFIX)
    # dlt insists on a password; the local server trusts loopback and ignores it.
    pg = sa.engine.make_url(dest).set(drivername="postgresql", password=sa.engine.make_url(dest).password or "trust")
    pipeline = dlt.pipeline(
        pipeline_name="sgs_bench",
        destination=dlt.destinations.postgres(credentials=pg.render_as_string(hide_password=False)),
        dataset_name="bench",
        pipelines_dir=tempfile.mkdtemp(),
    )
    table = sql_table(credentials=source_url(), table="t_xzcf", backend="pyarrow", chunk_size=chunk_rows)
    table.apply_hints(primary_key="id", write_disposition="merge")
    t0 = time.perf_counter()
    info = pipeline.run(table)
    seconds = time.perf_counter() - t0
    with sa.create_engine(sa.engine.make_url(dest)).connect() as c:
        rows = c.execute(sa.text("SELECT COUNT(*) FROM bench.t_xzcf")).scalar_one()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _ = info
    return {"path": "c", "seconds": seconds, "rows": rows, "rss_mb": rss, "note": "pyarrow backend, merge on id"}


LABELS = {
    "a": "(a) mariadb -B | psql \\copy (raw limit)",
    "b": "(b) sgs ingest (rules, history, quarantine)",
    "c": "(c) dlt sql_table pyarrow, merge",
}


#: The interpreter of path (c): dlt and pyarrow live in their own virtualenv (bench/requirements.txt), so
#: that path (b) runs with exactly the project's packages.
DLT_PYTHON = Path(os.environ.get("SGS_BENCH_DLT_PYTHON", ROOT / ".venv-bench" / "bin" / "python"))


def measure(path: str, chunk_rows: int) -> dict[str, Any]:
    """Run one path in a fresh interpreter and read its JSON result line."""
    python = sys.executable
    if path == "c":
        if not DLT_PYTHON.exists():
            raise SystemExit(f"path (c) needs dlt in its own virtualenv: python3.11 -m venv .venv-bench && "
                             f".venv-bench/bin/pip install -r bench/requirements.txt (or set SGS_BENCH_DLT_PYTHON; not found: {DLT_PYTHON})")
        python = str(DLT_PYTHON)
    proc = subprocess.Popen(
        [python, __file__, "--run", path, "--chunk-rows", str(chunk_rows)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT / "bench",
        env={**os.environ, "PYTHONPATH": str(ROOT), "RUNTIME__LOG_LEVEL": "ERROR"},
    )
    sampler = TreeRSS(proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    sampler.stop()
    lines = [x for x in stdout.splitlines() if x.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"path {path} failed:\n{stderr[-4000:]}")
    result = json.loads(lines[-1])
    result["tree_mb"] = sampler.peak_mb
    return result


class TreeRSS:
    """Samples (every 50 ms) the resident size of a process and all its descendants, summed at each moment:
    the issue's memory measure (a sum of each process's own peak overstates it when the peaks do not coincide)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        import threading

        self.pid, self.interval, self.peak_mb = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, sum(_rss_kb(p) for p in _tree(self.pid)) / 1024)
            self._stop.wait(self.interval)


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--paths", default="a,b,c", help="which of a,b,c to run (default all)")
    ap.add_argument("--chunk-rows", type=int, default=10_000,
                    help="chunk size of (b) and (c); 10,000 keeps (b), both processes, under 600 MB (docs/performance.md)")
    ap.add_argument("--profile", action="store_true", help="run (b) in this process under cProfile")
    ap.add_argument("--profile-load", action="store_true", help="run (b) in this process, cProfile around each load_batch")
    ap.add_argument("--stages", action="store_true", help="run (b) in this process with wall-clock stage timers")
    ap.add_argument("--run", choices=["a", "b", "c"], help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.run:  # inside the per-path subprocess
        fn = {"a": run_raw, "b": lambda: run_project(args.chunk_rows), "c": lambda: run_dlt(args.chunk_rows)}[args.run]
        print(json.dumps(fn()))
        return

    built = build_source(args.rows)
    print(f"source: {args.rows:,} rows x {COLUMNS} columns in MariaDB {SOURCE_DB}.t_xzcf"
          + (f" (built in {built:.1f} s)" if built else " (already there)"))
    if args.stages:
        r = run_project(args.chunk_rows, stages=True)
        print(f"(b) with stage timers: {r['seconds']:.1f} s for {r['rows']:,} rows, peak RSS {r['rss_mb']:,.0f} MB")
        return
    if args.profile or args.profile_load:
        r = run_project(args.chunk_rows, profile=True, profile_load=args.profile_load)
        print(f"(b) under cProfile: {r['seconds']:.1f} s for {r['rows']:,} rows (profile on stderr)")
        return
    results = {}
    for p in args.paths.split(","):
        before = os.getloadavg()[0]
        results[p] = measure(p, args.chunk_rows)
        # The machine is shared: the 1-minute load average before and after each path says whether the
        # number was measured on a quiet machine. (b) alone keeps both cores busy (Python and PostgreSQL),
        # so a load of about 2 is the benchmark itself; clearly more means other work was running.
        results[p]["note"] += f"; load {before:.2f} -> {os.getloadavg()[0]:.2f}"
    print(f"{'path':<46} {'seconds':>8} {'rows':>10} {'rows/s':>9} {'peak RSS':>9}")
    for p, r in results.items():
        print(f"{LABELS[p]:<46} {r['seconds']:8.1f} {r['rows']:>10,} {r['rows'] / r['seconds']:>9,.0f} {r['tree_mb']:>6,.0f} MB  "
              f"{r['note']}; sum of each process's own peak {r['rss_mb']:,.0f} MB")
    if "b" in results:
        for other in ("a", "c"):
            if other in results:
                print(f"(b)/({other}) = {results['b']['seconds'] / results[other]['seconds']:.2f}")


if __name__ == "__main__":
    main()
