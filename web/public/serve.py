"""``sgs serve public``: the public column under uvicorn."""

from __future__ import annotations

import os

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
    rate = float(os.environ.get("SGS_PUBLIC_RATE") or 10)
    app = create_app(engine, rate=rate, burst=max(1, int(rate * 2)))
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False)
