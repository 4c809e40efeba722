"""The public column's connection to the store: least privilege (design.md invariant 8).

- ``SGS_PUBLIC_STORE_URL`` if set (PostgreSQL: a login of the role ``sgs store grant-public`` created, which may
  SELECT the read model ``published_cf`` / ``published_xk`` and nothing else), else the central store's URL.
- SQLite: the file is opened read-only (``mode=ro`` URI): the app cannot write it, and never creates it.
- PostgreSQL: every session is read-only as well (``default_transaction_read_only``), a second guard when an
  operator points the app at the store's owner role. Autocommit: every query is one read-only statement, so a
  request costs no BEGIN and no ROLLBACK round trip when its connection goes back to the pool.

The app never migrates the store (``sgs ingest`` / ``make demo`` do, with the store's own role).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.settings import store_url


class PublicStoreMissing(RuntimeError):
    """The SQLite store file does not exist yet (nothing to publish): a Chinese message for the operator."""


def public_store_url() -> str:
    return os.environ.get("SGS_PUBLIC_STORE_URL") or store_url()


def public_engine(url: str | None = None, *, processes: int = 1) -> Engine:
    """A read-only engine for the public column, for one of ``processes`` server processes (the default number
    of connections is shared among them: :func:`connections`)."""
    url = url or public_store_url()
    size = connections(processes)
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        database = u.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            raise PublicStoreMissing("专栏公示需要中央库文件：SQLite 内存库或 URI 形式的地址不能用于公示")
        path = Path(database).resolve()
        if not path.exists():
            raise PublicStoreMissing(f"中央库文件 {path} 不存在：请先运行 sgs ingest 或 make demo 归集数据，再启动专栏公示")
        # mode=ro: read-only; the store writes in WAL mode, which a reader needs the -shm file of (SQLite
        # creates it if missing, as the store's owner does on its first write).
        return sa.create_engine(f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true", connect_args={"timeout": 10},
                                hide_parameters=True, pool_size=size, max_overflow=0, pool_timeout=30)
    args: dict[str, object] = {}
    if u.get_backend_name() == "postgresql":
        existing = u.query.get("options")
        existing = " ".join(existing) if isinstance(existing, tuple) else existing
        # force_custom_plan: psycopg prepares a statement run five times, and PostgreSQL's generic plan of
        # "party_name ILIKE $1" cannot know the term is rare: it walks the list-order index (seconds at 5M rows).
        args["options"] = ((existing + " ") if existing else "") + (
            "-c default_transaction_read_only=on -c plan_cache_mode=force_custom_plan")
        args["connect_timeout"] = 10
    # A fixed pool (no overflow): the app reads in at most that many threads at once (web.public.app), so a
    # request never opens a connection of its own; :func:`connections` per server process.
    # No pre-ping (a round trip per request): web.public.app reads once more on a new connection when the
    # server dropped one.
    pool = {"pool_size": size, "max_overflow": 0, "pool_timeout": 30}
    if u.get_backend_name() == "postgresql":
        return sa.create_engine(url, connect_args=args, hide_parameters=True, isolation_level="AUTOCOMMIT", **pool)
    return sa.create_engine(url, connect_args=args, hide_parameters=True, **pool)


def connections(processes: int = 1) -> int:
    """Store connections (and reading threads) per server process: ``SGS_PUBLIC_DB_CONNECTIONS`` (1–100), else
    about twice this machine's cores for all ``processes`` together, at least 2 each.

    The searches are CPU work on data in memory, and a core runs one statement at a time: statements beyond
    about two per core do not finish sooner, they queue in the kernel's scheduler, unfairly, beside the server
    processes; queued in the app instead they are served first come, first served. At 50 clients on two cores
    (docs/performance.md) 8 connections per process gave name searches a p95 of 172–179 ms, 5 gave 129–146, 3
    gave 109–118 and 2 gave 102, at the same or a higher rate. For a store on a larger machine of its own, set
    ``SGS_PUBLIC_DB_CONNECTIONS`` (about twice its cores, divided by the server processes)."""
    raw = os.environ.get("SGS_PUBLIC_DB_CONNECTIONS")
    if not raw:
        return min(100, max(2, math.ceil(2 * _cores() / max(1, processes))))
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"SGS_PUBLIC_DB_CONNECTIONS 应为 1–100 的整数，现为 {raw!r}") from None
    if not 1 <= value <= 100:
        raise ValueError(f"SGS_PUBLIC_DB_CONNECTIONS 应为 1–100 的整数，现为 {raw!r}")
    return value


def _cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's or taskset's limit), else the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1
