"""Airflow pools per source database server: one slow or overloaded server cannot take every worker slot.

Every ingest task of a department runs in the pool named after its source database *server*
(:func:`pool_name`), so no department database receives more concurrent connections than its pool has
slots, whatever the number of workers. Departments whose databases live on the same server share the
pool. Slots come from the department files (``source.pool_slots``, default 2); when several files name
one server, the smallest value wins (no file's limit is exceeded). :func:`sync_pools` creates or updates
the pools in Airflow's metadata database (``sgs pools sync``; ``scripts/cluster.sh up`` runs it).

Names never carry credentials: they are built from the driver, host and port (a SQLite file: its name
and a short hash of its path) of the URL, never from its user, password or query.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.settings import SourceSettings
    from pipeline.config import Department

PREFIX = "sgs_src_"
#: Default ports, so that ``host`` and ``host:3306`` name the same server.
DEFAULT_PORTS = {"mysql": 3306, "mariadb": 3306, "postgresql": 5432, "oracle": 1521, "mssql": 1433,
                 "dm": 5236, "kingbase": 54321}


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:180] or "x"


def pool_name(source: SourceSettings, department: str = "") -> str:
    """The pool of a department's source database server (stable, credential-free).

    An Airflow connection (``conn_id``) stands for one server: the pool is named after it, which needs no
    metadata-database lookup while DAG files are parsed. A URL (``url_env``'s variable when set, else
    ``url``) gives ``sgs_src_<backend>_<host>_<port>``.
    """
    if source.conn_id:
        return f"{PREFIX}conn_{_clean(source.conn_id)}"
    raw = (os.environ.get(source.url_env) if source.url_env else None) or source.url
    if not raw:
        return f"{PREFIX}env_{_clean(source.url_env or department)}"
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):  # an unparsable URL fails the ingest with a clear message; the pool is the department's own
        return f"{PREFIX}dept_{_clean(department)}"
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = url.database or ":memory:"
        digest = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:8]
        return f"{PREFIX}sqlite_{_clean(os.path.basename(path))}_{digest}"
    host = (url.host or "localhost").lower()
    port = url.port or DEFAULT_PORTS.get(backend, 0)
    return f"{PREFIX}{_clean(backend)}_{_clean(host)}_{port}"


@dataclass(frozen=True)
class PoolPlan:
    name: str
    slots: int
    departments: tuple[str, ...]

    @property
    def description(self) -> str:
        return f"双公示源数据库服务器（部门：{', '.join(self.departments)}）：同时连接数上限"[:500]


def plan_pools(departments: dict[str, Department]) -> list[PoolPlan]:
    """The pools the department files ask for: name → smallest slot count among its departments."""
    by_pool: dict[str, list[tuple[str, int]]] = {}
    for code, dept in sorted(departments.items()):
        if dept.source is None:  # reports only by file (方式三): no database to connect to
            continue
        by_pool.setdefault(pool_name(dept.source, code), []).append((code, dept.source.pool_slots))
    return [PoolPlan(name, min(s for _, s in members), tuple(c for c, _ in members)) for name, members in sorted(by_pool.items())]


def sync_pools(departments: dict[str, Department]) -> list[dict[str, object]]:
    """Create or update every planned pool in Airflow's metadata database; returns what was done per pool.

    Pools of servers no department file names any more are left alone (a task still queued in one must
    not lose its pool) and reported as ``unused``.
    """
    from airflow.models.pool import Pool

    existing = {p.pool: p.slots for p in Pool.get_pools()}
    out: list[dict[str, object]] = []
    plans = plan_pools(departments)
    for plan in plans:
        before = existing.get(plan.name)
        Pool.create_or_update_pool(plan.name, plan.slots, plan.description, include_deferred=False)
        action = "created" if before is None else ("updated" if before != plan.slots else "unchanged")
        out.append({"pool": plan.name, "slots": plan.slots, "departments": list(plan.departments), "action": action})
    planned = {p.name for p in plans}
    for name, slots in sorted(existing.items()):
        if name and name.startswith(PREFIX) and name not in planned:
            out.append({"pool": name, "slots": slots, "departments": [], "action": "unused"})
    return out
