"""The stand-in's FastAPI application: ``POST /api/batches`` answers per-record receipts (回执).

Authentication: ``Authorization: Bearer <token>`` or the HMAC headers of ``upstream.endpoint``.
Misbehaviour (``PUT /control/faults`` or command-line flags) is counted per batch request ``n`` since the
last change of the faults:

- ``latency_ms``: every request waits first;
- ``error_every`` / ``error_probability`` (+ ``seed``): answer 500 WITHOUT processing;
- ``drop_every``: process and commit, then drop the TCP connection without an answer (the client cannot
  know the batch arrived: the retry is a duplicate delivery that must not be applied twice);
- ``hang_every`` + ``hang_ms``: process and commit, then answer only after ``hang_ms`` (client timeout);
- ``crash_at``: process and commit request ``n == crash_at``, then the process exits at once (restart);
- ``duplicate_receipts``: every receipt appears twice in the answer;
- ``double_apply``: de-duplication off: a repeated key is processed again (``applied_twice`` counts it);
- ``hostile`` (+ ``hostile_every``): process and commit every Nth batch, then answer it with something a client
  must survive: ``numeric_code`` (``"code": 1001``), ``missing_fields`` (first receipt without status, second
  without key), ``wrong_types`` (key a number, status a list, code/message/field of other types),
  ``huge_strings`` (megabyte codes, fields and messages, a lone surrogate and a NUL), ``invalid_json``, or
  ``huge_body`` (``hostile_bytes`` of chunked JSON whitespace; ``streamed_bytes`` in the stats counts what
  the client actually took), ``gzip`` (the right receipts, gzip-compressed although the client asked for
  ``identity``) or ``gzip_bomb`` (a small gzip body that inflates to ``hostile_bytes`` of JSON whitespace:
  64 MB are about 64 KB on the wire).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import gzip
import hmac
import json
import logging
import os
import random
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from upstream.endpoint import hmac_signature
from upstream.standin.rules import DEFAULT_BLACKLIST
from upstream.standin.store import ProvinceStore

log = logging.getLogger("sgs.standin")


class Faults(BaseModel):
    """How the stand-in misbehaves (all off by default)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(default=0, ge=0)
    error_every: int = Field(default=0, ge=0, description="every Nth batch request: HTTP 500, not processed")
    error_probability: float = Field(default=0.0, ge=0, le=1)
    seed: int | None = None
    drop_every: int = Field(default=0, ge=0, description="every Nth: processed, then the connection is dropped")
    hang_every: int = Field(default=0, ge=0, description="every Nth: processed, then answered after hang_ms")
    hang_ms: int = Field(default=0, ge=0)
    crash_at: int = Field(default=0, ge=0, description="request N: processed, then the process exits")
    duplicate_receipts: bool = False
    double_apply: bool = False
    hostile: Literal["numeric_code", "missing_fields", "wrong_types", "huge_strings", "invalid_json", "huge_body", "gzip",
                     "gzip_bomb"] | None = None
    hostile_every: int = Field(default=1, ge=1, description="every Nth batch request gets the hostile answer")
    hostile_bytes: int = Field(default=600_000_000, ge=0, description="huge_body: bytes offered; gzip_bomb: bytes once inflated")


class Sender(BaseModel):
    name: str
    code: str | None = None


class RecordIn(BaseModel):
    """One record envelope (``upstream.envelope``)."""

    model_config = ConfigDict(extra="forbid")

    record_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    idempotency_key: str = Field(min_length=8, max_length=128)
    version: int = Field(ge=1)
    operation: Literal["I", "U", "D"]
    source_timestamp: dt.datetime
    dataset: Literal["cf", "xk"]
    source_unit: str | None = None
    source_unit_code: str | None = None
    data: dict[str, str | None]


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: str = Field(min_length=1, max_length=64)
    dataset: Literal["cf", "xk"]
    sender: Sender
    records: list[RecordIn] = Field(min_length=1, max_length=5000)


class ReceiptOut(BaseModel):
    idempotency_key: str
    record_id: str
    status: Literal["accepted", "rejected"]
    code: str | None = None
    field: str | None = None
    message: str | None = None
    duplicate: bool = False


class BatchOut(BaseModel):
    batch_id: str
    received_at: dt.datetime
    receipts: list[ReceiptOut]


@dataclass
class StandinConfig:
    db_path: Path
    token: str | None = None
    hmac_keys: dict[str, str] = field(default_factory=dict)
    blacklist: str = DEFAULT_BLACKLIST
    faults: Faults = field(default_factory=Faults)


@dataclass
class _State:
    config: StandinConfig
    store: ProvinceStore
    faults: Faults
    rng: random.Random
    requests: int = 0
    injected: dict[str, int] = field(default_factory=lambda: {"error": 0, "drop": 0, "hang": 0, "crash": 0, "hostile": 0})
    streamed_bytes: int = 0  # huge_body: bytes handed to the transport before the client went away
    auth_failures: int = 0
    http_requests: int = 0  # every POST to /api/batches, also those refused before the handler (401, 422)
    server: Any = None  # the uvicorn.Server, when run by __main__ (needed to drop a connection)


async def authenticate(request: Request) -> None:
    state: _State = request.app.state.sgs
    cfg = state.config
    h = request.headers
    auth = h.get("authorization", "")
    if cfg.token and auth.startswith("Bearer ") and hmac.compare_digest(auth[7:], cfg.token):
        return
    signature, key_id, ts = h.get("x-sgs-signature"), h.get("x-sgs-key-id", ""), h.get("x-sgs-timestamp", "")
    secret = cfg.hmac_keys.get(key_id)
    if signature and secret and ts.isdigit() and abs(time.time() - int(ts)) <= 300:
        body = await request.body()
        if hmac.compare_digest(hmac_signature(secret, request.method, request.url.path, ts, body), signature):
            return
    state.auth_failures += 1
    raise HTTPException(status_code=401, detail="身份认证失败：令牌或签名无效")


def create_app(config: StandinConfig) -> FastAPI:
    """The application; its state lives in ``app.state.sgs``."""
    app = FastAPI(
        title="省信用信息共享平台 接口模拟（sgs stand-in）",
        version="1.0",
        description="双公示数据上报接口的本地模拟：批量接收记录信封，逐条返回回执；按幂等键去重并计数。",
    )
    app.state.sgs = _State(
        config=config,
        store=ProvinceStore(config.db_path, blacklist=config.blacklist),
        faults=config.faults,
        rng=random.Random(config.faults.seed),
    )

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Any) -> Any:
        if request.url.path == "/api/batches":
            request.app.state.sgs.http_requests += 1
        return await call_next(request)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/api/batches", response_model=BatchOut, tags=["province"], dependencies=[Depends(authenticate)],
              responses={401: {"description": "身份认证失败"}, 500: {"description": "模拟的内部错误"}})
    async def post_batch(batch: BatchIn, request: Request) -> Any:
        """Receive one batch; answer one receipt per record (a repeated idempotency key gets its first receipt)."""
        state: _State = request.app.state.sgs
        f = state.faults
        state.requests += 1
        n = state.requests
        if f.latency_ms:
            await asyncio.sleep(f.latency_ms / 1000)
        if (f.error_every and n % f.error_every == 0) or (f.error_probability and state.rng.random() < f.error_probability):
            state.injected["error"] += 1
            return JSONResponse(status_code=500, content={"message": "省平台内部错误（模拟）"})
        records = [r.model_dump(mode="json") for r in batch.records]
        receipts = await run_in_threadpool(state.store.apply_batch, batch.batch_id, records, double_apply=f.double_apply)
        if f.crash_at and n == f.crash_at:
            state.injected["crash"] += 1
            log.warning("fault: crashing after request %d", n)
            os._exit(70)
        if f.drop_every and n % f.drop_every == 0 and _drop_connection(request, state):
            state.injected["drop"] += 1
            return JSONResponse(status_code=500, content={})  # goes nowhere: the transport is closed
        if f.hang_every and n % f.hang_every == 0:
            state.injected["hang"] += 1
            await asyncio.sleep(f.hang_ms / 1000)
        if f.duplicate_receipts:
            receipts = [r for r in receipts for _ in (0, 1)]
        if f.hostile and n % f.hostile_every == 0:
            state.injected["hostile"] += 1
            return _hostile_answer(f, batch.batch_id, receipts, state)
        return {"batch_id": batch.batch_id, "received_at": dt.datetime.now(dt.UTC), "receipts": receipts}

    @app.get("/api/stats", tags=["ops"], dependencies=[Depends(authenticate)])
    def stats(request: Request) -> dict[str, Any]:
        """Delivery counters (``upstream.standin.store``) and the faults injected so far."""
        state: _State = request.app.state.sgs
        return {**state.store.stats(), "requests": state.requests, "http_requests": state.http_requests, "auth_failures": state.auth_failures,
                "injected": state.injected, "streamed_bytes": state.streamed_bytes}

    @app.get("/control/faults", tags=["control"], dependencies=[Depends(authenticate)])
    def get_faults(request: Request) -> Faults:
        return request.app.state.sgs.faults

    @app.put("/control/faults", tags=["control"], dependencies=[Depends(authenticate)])
    def put_faults(faults: Faults, request: Request) -> Faults:
        """Replace the faults; the request counter and the random generator restart."""
        state: _State = request.app.state.sgs
        state.faults = faults
        state.requests = 0
        state.rng = random.Random(faults.seed)
        return faults

    return app


def _hostile_answer(f: Faults, batch_id: str, receipts: list[dict[str, Any]], state: _State) -> Response:
    """The answer of the ``hostile`` fault (the batch itself was processed and committed)."""
    if f.hostile == "huge_body":
        chunk = b" " * (1 << 20)

        async def body() -> AsyncIterator[bytes]:
            yield b'{"receipts": ['
            sent = 0
            while sent < f.hostile_bytes:
                piece = chunk[: f.hostile_bytes - sent]
                yield piece
                # counted after the send returned: uvicorn's flow control blocks while the client does not read
                sent += len(piece)
                state.streamed_bytes += len(piece)

        return StreamingResponse(body(), media_type="application/json")
    if f.hostile == "gzip_bomb":
        return Response(_gzip_bomb(f.hostile_bytes), media_type="application/json", headers={"Content-Encoding": "gzip"})
    if f.hostile == "gzip":
        doc = {"batch_id": batch_id, "receipts": receipts}
        return Response(gzip.compress(json.dumps(doc, ensure_ascii=False, default=str).encode()), media_type="application/json",
                        headers={"Content-Encoding": "gzip"})
    if f.hostile == "invalid_json":
        return Response(b'{"batch_id": "' + batch_id.encode() + b'", "receipts": [{"idempotency_key": ', media_type="application/json")
    items: list[Any] = [dict(r) for r in receipts]
    if f.hostile == "numeric_code":
        items = [{**r, "code": 1001} for r in items]
    elif f.hostile == "missing_fields":
        items[0].pop("status", None)
        if len(items) > 1:
            items[1].pop("idempotency_key", None)
    elif f.hostile == "wrong_types":
        items[0]["idempotency_key"] = 12345
        if len(items) > 1:
            items[1]["status"] = ["accepted"]
        for r in items[2:]:
            r.update(code=[1, 2], message={"说明": "对象"}, field=42, duplicate="yes")
    elif f.hostile == "huge_strings":
        items = [{**r, "code": "C" * 200_000, "field": "F" * 200_000, "message": "长" * 300_000 + "\ud800\x00"} for r in items]
        items.append({"idempotency_key": "K" * 1_000_000, "status": "accepted"})
    # ensure_ascii: a lone surrogate cannot be encoded as UTF-8, only escaped
    return Response(json.dumps({"batch_id": batch_id, "receipts": items}, ensure_ascii=True, default=str), media_type="application/json")


@functools.lru_cache(maxsize=2)
def _gzip_bomb(inflated: int) -> bytes:
    """``{"receipts": [`` and ``inflated`` bytes of spaces, gzip-compressed (about 1000:1) without holding them."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1 << 20)
    out = [z.compress(b'{"receipts": [')]
    for start in range(0, inflated, len(block)):
        out.append(z.compress(block[: inflated - start]))
    out.append(z.flush())
    return b"".join(out)


def _drop_connection(request: Request, state: _State) -> bool:
    """Abort the TCP connection of ``request`` (only possible under our own uvicorn.Server)."""
    server = state.server
    client = request.scope.get("client")
    if server is None or client is None:
        return False
    for proto in list(server.server_state.connections):
        if getattr(proto, "client", None) == tuple(client):
            proto.transport.abort()
            return True
    return False
