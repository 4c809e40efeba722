"""Fixtures of the upstream tests: a real stand-in server (uvicorn in a subprocess on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from upstream.endpoint import connection_uri
from upstream.standin.server import StandinServer


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[StandinServer]:
    """The stand-in as a real uvicorn process on a free 127.0.0.1 port (killed afterwards)."""
    server = StandinServer(tmp_path / "province.db", hmac_keys={"city-01": "hmac-secret-0123456789"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def province(standin: StandinServer, monkeypatch: pytest.MonkeyPatch) -> StandinServer:
    """The stand-in, reachable through the default Airflow connection id (``AIRFLOW_CONN_SGS_PROVINCE``)."""
    monkeypatch.setenv("AIRFLOW_CONN_SGS_PROVINCE", connection_uri(standin.base_url, standin.token))
    return standin
