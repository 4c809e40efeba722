"""A local stand-in of the provincial platform's API (省平台接口模拟), for tests and the demo.

- ``app``: the FastAPI application (OpenAPI at ``/docs`` and ``/openapi.json``): batches in, receipts out,
  stats, and a control endpoint that makes it misbehave (latency, 500s, dropped connections, hangs, a
  crash, duplicated receipts, and a deliberately broken de-duplication to prove the counters work).
- ``store``: what it received, in SQLite; de-duplication by idempotency key; duplicate counters.
- ``rules``: the few rules it rejects records by (PROV-1xx).
- ``server``: start/stop/kill/restart it as a real uvicorn process on 127.0.0.1.
- ``files``: the province's side of the file exchange mode.

Run by hand: ``SGS_STANDIN_TOKEN=secret python -m upstream.standin --port 8765 --db var/standin.db``.
"""
