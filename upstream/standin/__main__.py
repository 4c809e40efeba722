"""``python -m upstream.standin``: run the stand-in as a real uvicorn server.

Secrets come from the environment, never from the command line (visible in ``ps``):
``SGS_STANDIN_TOKEN`` (bearer token) and ``SGS_STANDIN_HMAC_KEYS`` (``keyid:secret,keyid2:secret2``).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import uvicorn

from upstream.standin.app import Faults, StandinConfig, create_app
from upstream.standin.rules import DEFAULT_BLACKLIST


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m upstream.standin", description="省平台接口模拟 (stand-in)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--db", type=Path, required=True, help="SQLite file of what the stand-in received")
    p.add_argument("--blacklist", default=DEFAULT_BLACKLIST, help="regex of rejected 文书号 (PROV-103)")
    for name in ("latency-ms", "error-every", "drop-every", "hang-every", "hang-ms", "crash-at"):
        p.add_argument(f"--{name}", type=int, default=0)
    p.add_argument("--error-probability", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--duplicate-receipts", action="store_true")
    p.add_argument("--double-apply", action="store_true")
    p.add_argument("--ssl-certfile", default=None, help="serve https with this certificate (PEM, chain included)")
    p.add_argument("--ssl-keyfile", default=None, help="the certificate's private key (PEM)")
    p.add_argument("--log-level", default="warning")
    a = p.parse_args(argv)
    logging.basicConfig(level=a.log_level.upper())
    keys = dict(x.split(":", 1) for x in os.environ.get("SGS_STANDIN_HMAC_KEYS", "").split(",") if ":" in x)
    faults = Faults(
        latency_ms=a.latency_ms, error_every=a.error_every, error_probability=a.error_probability, seed=a.seed,
        drop_every=a.drop_every, hang_every=a.hang_every, hang_ms=a.hang_ms, crash_at=a.crash_at,
        duplicate_receipts=a.duplicate_receipts, double_apply=a.double_apply,
    )
    app = create_app(StandinConfig(db_path=a.db, token=os.environ.get("SGS_STANDIN_TOKEN") or None, hmac_keys=keys,
                                   blacklist=a.blacklist, faults=faults))
    server = uvicorn.Server(uvicorn.Config(app, host=a.host, port=a.port, log_level=a.log_level, access_log=False,
                                           ssl_certfile=a.ssl_certfile, ssl_keyfile=a.ssl_keyfile))
    app.state.sgs.server = server  # lets the drop fault find the request's connection
    server.run()


if __name__ == "__main__":
    main()
