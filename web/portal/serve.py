"""``sgs serve portal``: the department portal under uvicorn, on the central store (SGS_STORE_URL)."""

from __future__ import annotations

from fastapi import FastAPI

from web.portal.app import create_app


def make_app() -> FastAPI:
    from pipeline.settings import store_engine

    return create_app(store_engine())  # migrated once per process (portal tables: migration 0012)


def serve(host: str = "127.0.0.1", port: int = 8010) -> None:
    """Serve the portal until interrupted. Raises RuntimeError with a Chinese message when the store cannot be opened."""
    import uvicorn

    from pipeline.store_access import StoreUnavailable

    try:
        app = make_app()
    except StoreUnavailable as exc:
        raise RuntimeError(str(exc)) from None
    # proxy_headers off: the client address in the audit log is the peer's; access log: paths only, never bodies.
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False)
