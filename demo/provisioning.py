"""Provisioning: the demo department databases (MariaDB, PostgreSQL, a SQLite file) made, filled, changed and
dropped.

Servers: ``SGS_DEMO_MARIADB_URL`` (default ``mysql+pymysql://root@127.0.0.1:3306/``) and
``SGS_DEMO_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), or the
``mariadb_url`` / ``postgresql_url`` parameters. An unreachable server (3 s timeout) makes that
department a SQLite file instead (``DemoSource.fallback``). A marker table (``sgs_demo_marker``) records
version, seed and row count; matching content is left alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from demo.decisions import LAST_DECISION, UPDATE_CAP
from demo.departments import DEPARTMENTS, DepartmentSpec, SourceKind
from demo.generate import Generator, build
from national.safety import redact_url

log = logging.getLogger(__name__)

#: Bump when the generated content changes: a marker with another version makes the tables rebuild.
DEMO_VERSION = 3  # 2: rows the stand-in province rejects (PROV-103); 3: 阳泉市, entry lag per department
DEFAULT_SEED = 20261128
DEFAULT_PREFIX = "sgs_demo_"
DEFAULT_MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CONNECT_TIMEOUT = 3

MARKER_TABLE = "sgs_demo_marker"
CASES_TABLE = "sgs_demo_cases"


@dataclass(frozen=True)
class DemoSource:
    """One created demo department database.

    ``kind`` is the kind actually created (``sqlite`` when the server was unreachable, with
    ``fallback=True``); ``url`` is a SQLAlchemy URL for it, to put into the department's ``url_env``;
    ``rows`` counts the rows per dataset in the source at creation time.
    """

    department: str
    kind: SourceKind
    url: str
    fallback: bool
    rows: dict[str, int]


def _metadata(dept: DepartmentSpec) -> sa.MetaData:
    md = sa.MetaData()
    for name, spec in dept.datasets.items():
        t = sa.Table(spec.table, md, *spec.columns(), comment=f"{dept.name} {'行政处罚' if name == 'cf' else '行政许可'}")
        sa.Index(f"ix_{spec.table.lower()}_{spec.cursor.lower()}", t.c[spec.cursor])
    sa.Table(
        MARKER_TABLE, md,
        sa.Column("dataset", sa.String(8), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("base_rows", sa.Integer, nullable=False),
        sa.Column("changes", sa.Integer, nullable=False),
        comment="演示数据标记：版本、种子、行数",
    )
    sa.Table(
        CASES_TABLE, md,
        sa.Column("dataset", sa.String(8), primary_key=True),
        sa.Column("pk", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("verdict", sa.String(12), nullable=False),
        comment="演示数据中故意设置的问题行",
    )
    return md


def _server_base_url(kind: SourceKind, override: str | None) -> URL:
    if kind == "mariadb":
        return make_url(override or os.environ.get("SGS_DEMO_MARIADB_URL") or DEFAULT_MARIADB_URL)
    return make_url(override or os.environ.get("SGS_DEMO_PG_URL") or DEFAULT_PG_URL)


def _engine(url: URL | str) -> Engine:
    url = make_url(url)
    args: dict[str, Any] = {}
    if url.get_backend_name() in ("mysql", "mariadb", "postgresql"):
        args["connect_timeout"] = CONNECT_TIMEOUT
    return sa.create_engine(url, connect_args=args, poolclass=sa.pool.NullPool)


def _sqlite_url(var_dir: Path, code: str) -> str:
    # ``<var>/sources`` is the default SQLite data folder (pipeline.config.source_data_dir): a department
    # SQLite file is read only from there.
    folder = var_dir / "sources"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / f'{code}.db'}"


_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _probe(kind: SourceKind, url: URL) -> None:
    """Fail within about CONNECT_TIMEOUT seconds when the server does not answer.

    The driver's connect timeout alone is not enough: something may accept the TCP connection and
    then never speak (a firewall, a proxy), and pymysql would wait for the handshake much longer.
    """
    args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT}
    if kind == "mariadb":
        args |= {"read_timeout": CONNECT_TIMEOUT, "write_timeout": CONNECT_TIMEOUT}
        url = url.set(database=None)
    engine = sa.create_engine(url, connect_args=args, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as c:
            c.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()


def _ensure_server_database(kind: SourceKind, base: URL, name: str, *, reset: bool) -> URL:
    """Create (or with ``reset`` re-create) the department database; raise if the server is down."""
    if not _DB_NAME.match(name):
        raise ValueError(f"演示数据库名 {name!r} 不合法：只允许小写字母、数字和下划线")
    _probe(kind, base)
    if kind == "mariadb":
        admin = _engine(base.set(database=None))
        with admin.begin() as c:
            if reset:
                c.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
            c.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
        admin.dispose()
        return base.set(database=name)
    admin = _engine(base)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        if reset:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        exists = c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if not exists:
            c.execute(sa.text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    admin.dispose()
    return base.set(database=name)


def drop_demo_sources(*, prefix: str = DEFAULT_PREFIX, var_dir: Path | None = None,
                      mariadb_url: str | None = None, postgresql_url: str | None = None) -> None:
    """Drop the demo server databases (``<prefix><code>``) and delete the SQLite files. For tests."""
    for dept in DEPARTMENTS.values():
        name = f"{prefix}{dept.code}"
        try:
            if dept.kind == "mariadb":
                admin = _engine(_server_base_url("mariadb", mariadb_url).set(database=None))
                with admin.begin() as c:
                    c.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
                admin.dispose()
            elif dept.kind == "postgresql":
                admin = _engine(_server_base_url("postgresql", postgresql_url))
                with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        except sa.exc.OperationalError:
            pass  # server down: nothing of ours can be there
        if var_dir is not None:
            (var_dir / "sources" / f"{dept.code}.db").unlink(missing_ok=True)


def _is_current(engine: Engine, dept: DepartmentSpec, rows: int, seed: int) -> bool:
    insp = sa.inspect(engine)
    names = {n.lower() for n in insp.get_table_names()}
    needed = {MARKER_TABLE, CASES_TABLE} | {s.table.lower() for s in dept.datasets.values()}
    if not needed <= names:
        return False
    marker = _metadata(dept).tables[MARKER_TABLE]
    with engine.connect() as c:
        found = {r.dataset: r for r in c.execute(sa.select(marker))}
    return set(found) == set(dept.datasets) and all(
        r.version == DEMO_VERSION and r.seed == seed and r.base_rows == rows for r in found.values()
    )


def _fill_database(engine: Engine, dept: DepartmentSpec, rows: int, seed: int) -> None:
    md = _metadata(dept)
    md.drop_all(engine)  # whatever an older version or another seed left
    md.create_all(engine)
    with engine.begin() as c:
        for dataset, spec in dept.datasets.items():
            built = build(dept, dataset, rows, seed)
            table = md.tables[spec.table]
            for k in range(0, len(built.rows), 1000):
                c.execute(table.insert(), built.rows[k:k + 1000])
            if built.cases:
                c.execute(md.tables[CASES_TABLE].insert(), built.cases)
            c.execute(md.tables[MARKER_TABLE].insert(),
                      [{"dataset": dataset, "version": DEMO_VERSION, "seed": seed, "base_rows": rows, "changes": 0}])


def _counts(engine: Engine, dept: DepartmentSpec) -> dict[str, int]:
    md = _metadata(dept)
    with engine.connect() as c:
        return {
            name: int(c.execute(sa.select(sa.func.count()).select_from(md.tables[spec.table])).scalar_one())
            for name, spec in dept.datasets.items()
        }


def create_demo_sources(
    var_dir: Path,
    *,
    rows: int = 1500,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    prefix: str = DEFAULT_PREFIX,
    departments: Iterable[str] | None = None,
    mariadb_url: str | None = None,
    postgresql_url: str | None = None,
) -> list[DemoSource]:
    """Create the demo department databases and fill them; return where they are.

    ``rows`` is the number of rows per dataset per department. Server databases are named
    ``<prefix><code>`` (tests pass another prefix); SQLite files are ``var_dir/sources/<code>.db``.
    Tables whose marker matches version, seed and ``rows`` are left alone (rows added since by
    :func:`add_demo_changes` stay) unless ``reset`` is true. A server that does not answer within
    3 seconds is replaced by a SQLite file (``fallback=True``).
    """
    if rows < 1:
        raise ValueError("rows 必须为正整数")
    codes = list(departments) if departments is not None else list(DEPARTMENTS)
    unknown = [c for c in codes if c not in DEPARTMENTS]
    if unknown:
        raise KeyError(f"没有演示部门 {', '.join(unknown)}；已有：{', '.join(DEPARTMENTS)}")
    var_dir = Path(var_dir)
    sources: list[DemoSource] = []
    for code in codes:
        dept = DEPARTMENTS[code]
        kind: SourceKind = dept.kind
        fallback = False
        if kind == "sqlite":
            url_s = _sqlite_url(var_dir, code)
        else:
            base = _server_base_url(kind, mariadb_url if kind == "mariadb" else postgresql_url)
            try:
                url_s = _ensure_server_database(kind, base, f"{prefix}{code}", reset=reset).render_as_string(
                    hide_password=False)
            except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError) as exc:
                log.warning("演示部门 %s：%s 服务器 %s 不可用（%s），改用 SQLite 文件",
                            code, kind, redact_url(base.render_as_string(hide_password=False)), type(exc).__name__)
                kind, fallback = "sqlite", True
                url_s = _sqlite_url(var_dir, code)
        if kind == "sqlite" and reset:
            Path(make_url(url_s).database or "").unlink(missing_ok=True)
        engine = _engine(url_s)
        try:
            if reset or not _is_current(engine, dept, rows, seed):
                _fill_database(engine, dept, rows, seed)
            counts = _counts(engine, dept)
        finally:
            engine.dispose()
        sources.append(DemoSource(code, kind, url_s, fallback, counts))
    return sources


def read_cases(source: DemoSource, dataset: str | None = None) -> list[dict[str, Any]]:
    """The planted rows of a demo source: ``dataset``, ``pk``, ``kind``, ``verdict``
    (``bad`` must be quarantined, ``fixable`` must pass after normalisation, ``province`` passes but
    the provincial stand-in rejects it, ``correction``
    shares the 文书号 of an earlier row and supersedes it)."""
    md = _metadata(DEPARTMENTS[source.department])
    t = md.tables[CASES_TABLE]
    q = sa.select(t).order_by(t.c.dataset, t.c.pk)
    if dataset:
        q = q.where(t.c.dataset == dataset)
    engine = _engine(source.url)
    try:
        with engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]
    finally:
        engine.dispose()


def add_demo_changes(source: DemoSource, dataset: str, *, new: int, updated: int, seed: int) -> None:
    """Simulate the department at work: insert ``new`` rows and change ``updated`` existing rows.

    Every touched row gets a cursor value strictly greater than any existing one (one minute apart,
    after the current maximum), so an incremental read picks all of them up. New rows are good
    decisions dated shortly before the new cursor values; updated rows are good rows (never a
    planted case) whose remark changes and, for licences, every other one becomes 无效 (当前状态 2).
    Deterministic for a given seed and database state.
    """
    dept = DEPARTMENTS[source.department]
    if dataset not in dept.datasets:
        raise KeyError(f"演示部门 {dept.code} 没有数据集 {dataset}；已有：{', '.join(dept.datasets)}")
    spec = dept.datasets[dataset]
    md = _metadata(dept)
    table, cases, marker = md.tables[spec.table], md.tables[CASES_TABLE], md.tables[MARKER_TABLE]
    pk, cursor = table.c[spec.pk], table.c[spec.cursor]
    engine = _engine(source.url)
    try:
        with engine.begin() as c:
            max_cursor = c.execute(sa.select(sa.func.max(cursor))).scalar_one()
            max_pk = int(c.execute(sa.select(sa.func.max(pk))).scalar_one() or 0)
            if max_cursor is None:
                max_cursor = UPDATE_CAP
            max_cursor = max_cursor.replace(microsecond=0)
            rng = random.Random(f"{seed}:{dept.code}:{dataset}:changes:{max_pk}:{max_cursor:%Y%m%d%H%M%S}")
            planted = {int(r[0]) for r in c.execute(sa.select(cases.c.pk).where(cases.c.dataset == dataset))}
            candidates = [int(r[0]) for r in c.execute(sa.select(pk).order_by(pk)) if int(r[0]) not in planted]
            chosen = sorted(rng.sample(candidates, min(updated, len(candidates))))
            step = 0
            for k, row_pk in enumerate(chosen):
                step += 1
                ts = max_cursor + dt.timedelta(minutes=step)
                values: dict[str, Any] = {spec.cursor: ts, spec.remark: f"{ts:%Y-%m-%d}信息更新（第{step}项）"}
                if spec.status and k % 2 == 0:
                    values[spec.status[0]] = spec.status[1]
                c.execute(sa.update(table).where(pk == row_pk).values(**values))
            gen = Generator(dept, dataset, seed, salt=f"changes:{max_pk}")
            new_rows = []
            for k in range(new):
                step += 1
                ts = max_cursor + dt.timedelta(minutes=step)
                row_pk = max_pk + k + 1
                hi = min(ts.date() - dt.timedelta(days=1), LAST_DECISION)
                rec = gen.record(row_pk, jdrq=gen.decision_date(hi - dt.timedelta(days=20), hi))
                if rec.wsh and "{n}" in rec.wsh:
                    # Numbers above every base number (base numbers never exceed the row count).
                    assert isinstance(rec.jdrq, dt.date)
                    rec.wsh = rec.wsh.format(year=rec.jdrq.year, n=row_pk)
                rec.gxsj = ts
                row = spec.to_row(rec)
                row[spec.pk] = row_pk
                new_rows.append(row)
            if new_rows:
                c.execute(table.insert(), new_rows)
            c.execute(sa.update(marker).where(marker.c.dataset == dataset)
                      .values(changes=marker.c.changes + new + len(chosen)))
    finally:
        engine.dispose()
