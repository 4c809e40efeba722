"""Incremental cost: a department table of N rows (default 1,000,000) in the real MariaDB, one full ingest,
then ``--changed`` rows (default 1,000) updated at the source and an incremental ingest that must read
only about those rows. Prints seconds, rows read and rows/s of both runs.

    .venv/bin/python bench/incremental.py --rows 1000000 --changed 1000
    .venv/bin/python bench/incremental.py --rows 5000000 --changed 1000   # memory and time stay flat

Needs MariaDB on 127.0.0.1:3306 (root, no password) and PostgreSQL on 127.0.0.1:5432 (the central store).
Creates the databases ``sgs_bench_src`` (MariaDB) and ``sgs_bench_store`` (PostgreSQL) and leaves them.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from stdnum.cn import uscc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MARIADB = os.environ.get("SGS_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4")
PG = os.environ.get("SGS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SUFFIX = os.environ.get("SGS_BENCH_DB_SUFFIX", "")  # see bench/ingest.py
SRC_DB, STORE_DB = "sgs_bench_src" + SUFFIX, "sgs_bench_store" + SUFFIX

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
    chunk_rows: 10000
    lookback: 5m
    columns: {{CF_WSH: wsh, CF_XDR_MC: dsr, CF_XDR_LB: lb, CF_XDR_SHXYM: xydm, CF_FRDB: fddbr, CF_WFXW: wfxw,
              CF_SY: ss, CF_YJ: yj, CF_CFLB: cflb, CF_NR: nr, CF_NR_FK: fk, CF_JDRQ: jdrq, CF_YXQ: yxq}}
    constants: {{CF_CFJG: 基准测试局, CF_CFJGDM: {authority}, CF_SJLY: 基准测试局, CF_SJLYDM: {authority}}}
    codes: {{CF_XDR_LB: {{"1": 法人及非法人组织}}, CF_CFLB: {{"2": 罚款}}}}
    amounts_in_yuan: [CF_NR_FK]
"""


def valid_codes(n: int, rng: random.Random) -> list[str]:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    out = []
    for _ in range(n):
        org = "".join(rng.choice("0123456789") for _ in range(8))
        value = sum(int(c) * w for c, w in zip(org, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
        r = 11 - value % 11
        body = "91330100" + org + ("X" if r == 10 else "0" if r == 11 else str(r))
        out.append(body + uscc.calc_check_digit(body))
    assert all(c[0] in alphabet for c in out)
    return out


def build_source(rows: int) -> str:
    admin = sa.create_engine(MARIADB)
    with admin.begin() as c:
        c.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS {SRC_DB} CHARACTER SET utf8mb4"))
    url = sa.engine.make_url(MARIADB).set(database=SRC_DB).render_as_string(hide_password=False)
    src = sa.create_engine(url)
    with src.begin() as c:
        existing = c.execute(sa.text(f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='{SRC_DB}' AND table_name='t_xzcf'")).scalar()
        if existing and c.execute(sa.text("SELECT COUNT(*) FROM t_xzcf")).scalar() == rows:
            return url
        c.execute(sa.text("DROP TABLE IF EXISTS t_xzcf"))
        c.execute(sa.text("DROP TABLE IF EXISTS codes"))
        c.execute(sa.text(
            "CREATE TABLE t_xzcf (id INT PRIMARY KEY, wsh VARCHAR(128), dsr VARCHAR(200), lb CHAR(1), xydm VARCHAR(18),"
            " fddbr VARCHAR(50), wfxw VARCHAR(500), ss TEXT, yj VARCHAR(500), cflb VARCHAR(8), nr TEXT, fk DECIMAL(18,2),"
            " jdrq DATE, yxq DATE, gxsj DATETIME, INDEX ix_gxsj (gxsj))"
        ))
        c.execute(sa.text("CREATE TABLE codes (k INT PRIMARY KEY, code CHAR(18))"))
        codes = valid_codes(1000, random.Random(1))
        c.execute(sa.text("INSERT INTO codes VALUES (:k, :c)"), [{"k": i, "c": code} for i, code in enumerate(codes)])
        # ~5% bad rows: a wrong check digit (every 20th row), generated inside MariaDB for speed.
        c.execute(sa.text(
            "INSERT INTO t_xzcf SELECT s.seq, CONCAT('杭市监罚决〔2025〕', s.seq, '号'), CONCAT('杭州基准', s.seq, '贸易有限公司'), '1',"
            " IF(s.seq % 20 = 0, CONCAT(LEFT(k.code, 17), IF(RIGHT(k.code, 1) = '0', '1', '0')), k.code),"
            " '李四', '违反《中华人民共和国产品质量法》第三十三条', '销售不合格产品', '《中华人民共和国产品质量法》第五十条', '2', '罚款2000元', 2000,"
            " DATE_ADD('2025-01-01', INTERVAL s.seq % 300 DAY), DATE_ADD('2026-01-01', INTERVAL s.seq % 300 DAY),"
            " DATE_ADD('2025-01-01 08:00:00', INTERVAL s.seq SECOND)"
            f" FROM seq_1_to_{rows} s JOIN codes k ON k.k = s.seq % 1000"
        ))
    return url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--changed", type=int, default=1000)
    args = ap.parse_args()

    t = time.perf_counter()
    src_url = build_source(args.rows)
    print(f"source: {args.rows:,} rows in MariaDB ({time.perf_counter() - t:.1f} s to build)")
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"DROP DATABASE IF EXISTS {STORE_DB}"))
        c.execute(sa.text(f"CREATE DATABASE {STORE_DB}"))
    store_url = sa.engine.make_url(PG).set(database=STORE_DB).render_as_string(hide_password=False)
    # The project's default MySQL driver (mysqlclient); SGS_BENCH_SOURCE_DRIVER=mysql+pymysql measures PyMySQL.
    driver = os.environ.get("SGS_BENCH_SOURCE_DRIVER", "mysql")
    os.environ["SGS_SRC_BENCH_URL"] = sa.engine.make_url(src_url).set(drivername=driver).render_as_string(hide_password=False)

    from stdnum.cn import uscc as _u

    from pipeline.config import load_department
    from pipeline.ingest import ingest
    from store.db import make_store_engine, migrate

    body = "11330100MB0000001"
    org = "MB000000"
    value = sum((int(ch) if ch.isdigit() else ord(ch) - 55) * w for ch, w in zip(org, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    r = 11 - value % 11
    body = "11330100" + org + ("X" if r == 10 else "0" if r == 11 else str(r))
    authority = body + _u.calc_check_digit(body)
    folder = Path(tempfile.mkdtemp())
    (folder / "bench.yaml").write_text(DEPARTMENT.format(authority=authority), encoding="utf-8")
    dept = load_department(folder / "bench.yaml")
    store = make_store_engine(store_url)
    migrate(store)

    def timed(label: str) -> None:
        t0 = time.perf_counter()
        res = ingest(dept, "cf", engine=store, trigger="bench")
        s = time.perf_counter() - t0
        c = res.counts
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the prepare worker, ended
        print(
            f"{label:<12} {s:8.1f} s  read {c.read:>9,}  inserted {c.inserted:>9,}  updated {c.updated:>6,}"
            f"  unchanged {c.unchanged:>6,}  quarantined {c.quarantined:>7,}  {c.read / s:>9,.0f} rows/s  peak RSS {own:,.0f} + worker {worker:,.0f} MB"
            f"  load {os.getloadavg()[0]:.2f}"  # shared machine: about 2 is this run itself (Python + PostgreSQL)
        )

    timed("full")
    with sa.create_engine(src_url).begin() as c:
        c.execute(sa.text(
            "UPDATE t_xzcf SET nr = CONCAT(nr, '（更正）'), gxsj = DATE_ADD((SELECT m FROM (SELECT MAX(gxsj) m FROM t_xzcf) x), INTERVAL 1 HOUR)"
            f" WHERE id % {max(1, args.rows // args.changed)} = 1 LIMIT {args.changed}"
        ))
    timed("incremental")


if __name__ == "__main__":
    main()
