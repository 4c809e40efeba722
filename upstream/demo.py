"""``sgs demo``'s push: start the stand-in on a free port, push everything pending to it, stop it."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from sqlalchemy.engine import Engine

from national.safety import private_dir
from upstream.endpoint import Endpoint
from upstream.push import push
from upstream.settings import PushSettings
from upstream.standin.server import StandinServer


def push_to_standin(engine: Engine, *, workdir: Path | None = None, batch_size: int = 500) -> dict[str, int]:
    """Push every change waiting for the push to a freshly started stand-in; returns the receipt counts:
    ``sent``, ``accepted``, ``rejected``, ``not_sent`` (withdrawals the province never needed),
    ``no_receipt``, ``retries``, ``batches``, and the stand-in's ``province_duplicates`` (deliveries
    beyond the first per idempotency key) and ``province_applied_twice`` (must be 0).

    The stand-in keeps its SQLite file in ``workdir`` (pass ``var_dir() / "standin"`` to keep the
    province's state between demo runs); by default a temporary folder, removed afterwards.
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="sgs-standin-") as tmp:
            return push_to_standin(engine, workdir=Path(tmp), batch_size=batch_size)
    private_dir(workdir)  # the stand-in's database holds the records it received
    server = StandinServer(workdir / "province.db", token=secrets.token_urlsafe(24))
    with server:
        endpoint = Endpoint(base_url=server.base_url, auth="bearer", secret=server.token)
        settings = PushSettings(batch_size=batch_size, timeout=30, max_attempts=5, backoff_initial=0.2, backoff_max=2)
        result = push(engine, settings, trigger="demo", endpoint=endpoint)
        stats = server.stats()
    return {
        "batches": result.batches,
        "sent": result.records_sent,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "not_sent": result.not_sent,
        "no_receipt": result.no_receipt,
        "retries": result.retries,
        "province_duplicates": int(stats["duplicate_deliveries"]),
        "province_applied_twice": int(stats["applied_twice"]),
    }
