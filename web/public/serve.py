"""``sgs serve public``: the public column under uvicorn."""

from __future__ import annotations

import os

import sqlalchemy as sa
from fastapi import FastAPI

from web.public.app import create_app
from web.public.store import PublicStoreMissing, public_engine

#: Set for worker processes: how many there are (each one counts its share of the per-client rate).
_WORKERS_ENV = "SGS_PUBLIC_WORKERS"


def _rate() -> float:
    return float(os.environ.get("SGS_PUBLIC_RATE") or 10)


def make_app() -> FastAPI:
    """The app of one worker process (uvicorn's factory): the kernel spreads a client's connections over the
    workers, so each counts ``rate / workers`` per client."""
    workers = max(1, int(os.environ.get(_WORKERS_ENV) or 1))
    rate = _rate() / workers
    return create_app(public_engine(), rate=rate, burst=max(1, int(rate * 2)))


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the column until interrupted. ``SGS_PUBLIC_RATE``: searches per second per client (default 10).
    Raises RuntimeError with a Chinese message when the store cannot be opened."""
    import uvicorn

    try:
        engine = public_engine()
    except (PublicStoreMissing, ValueError) as exc:
        raise RuntimeError(str(exc)) from None
    try:
        with engine.connect() as conn:
            ready = sa.inspect(conn).has_table("published_cf")
    except sa.exc.SQLAlchemyError as exc:
        raise RuntimeError(f"无法读取中央库（{type(exc).__name__}）：请检查 SGS_PUBLIC_STORE_URL / SGS_STORE_URL") from None
    finally:
        engine.dispose()
    if not ready:
        raise RuntimeError("中央库还没有专栏公示读模型（迁移 0007）：请先以中央库账号运行一次 sgs status（会升级中央库），再启动专栏公示")
    # No access log: uvicorn's line holds the query string, and a citizen may type an ID number into the search
    # box (design invariant: no unmasked ID number in a log); the reverse proxy in front keeps the access log,
    # where its operator decides what it records. (It also cost ~3 % of a search's CPU time.)
    options = {"host": host, "port": port, "log_level": "info", "server_header": False, "proxy_headers": False,
               "access_log": False}
    if workers > 1:
        os.environ[_WORKERS_ENV] = str(workers)
        uvicorn.run("web.public.serve:make_app", factory=True, workers=workers, **options)  # type: ignore[arg-type]
    else:
        os.environ.pop(_WORKERS_ENV, None)
        uvicorn.run(make_app(), **options)  # type: ignore[arg-type]
