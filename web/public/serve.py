"""``sgs serve public``: the public column under uvicorn."""

from __future__ import annotations

import os

import sqlalchemy as sa

from web.public.app import create_app
from web.public.store import PublicStoreMissing, public_engine


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the column until interrupted. ``SGS_PUBLIC_RATE``: searches per second per client (default 10).
    Raises RuntimeError with a Chinese message when the store cannot be opened."""
    import uvicorn

    try:
        engine = public_engine()
    except PublicStoreMissing as exc:
        raise RuntimeError(str(exc)) from None
    try:
        with engine.connect() as conn:
            ready = sa.inspect(conn).has_table("published_cf")
    except sa.exc.SQLAlchemyError as exc:
        raise RuntimeError(f"无法读取中央库（{type(exc).__name__}）：请检查 SGS_PUBLIC_STORE_URL / SGS_STORE_URL") from None
    if not ready:
        raise RuntimeError("中央库还没有专栏公示读模型（迁移 0007）：请先以中央库账号运行一次 sgs status（会升级中央库），再启动专栏公示")
    rate = float(os.environ.get("SGS_PUBLIC_RATE") or 10)
    app = create_app(engine, rate=rate, burst=max(1, int(rate * 2)))
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False)
