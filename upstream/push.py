"""``push()``: deliver the outbox to the provincial platform over HTTP, batch by batch, with receipts.

Per batch: choose eligible entries (``upstream.outbox``: one version per record, lowest first) → mark them
``sent`` and commit → POST the batch (idempotency key in every record) with retries → write each receipt
in one transaction (rejections go to the department's quarantine). A crash anywhere leaves rows either
``pending`` or ``sent``; both are sent again by the next run with the same keys, and the province answers
an already processed key with its first receipt, so every record version is applied exactly once.

Retry policy: timeouts, connection errors (refused, reset, dropped), HTTP 5xx, 408, 425 and 429 are
retried up to ``max_attempts`` per batch with exponential back-off (``backoff_initial`` · 2ⁿ, capped at
``backoff_max``, plus up to ``jitter`` random share; ``Retry-After`` is honoured up to the cap). HTTP
401/403 stop the run (:class:`AuthError`), any other 4xx or an answer that is not a receipt stops it
(:class:`ContractError`): retrying cannot fix credentials or a format disagreement.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import Engine

from national import DATASETS
from transforms.masking import mask_text
from upstream import runs
from upstream.endpoint import Endpoint, resolve_endpoint
from upstream.envelope import ProvinceAdapter, Receipt, adapter
from upstream.errors import AuthError, ContractError, RetriesExhausted, TerminalError, UpstreamError
from upstream.outbox import (
    effective_operations,
    eligible,
    mark_not_needed,
    mark_sent,
    outbox_counts,
    record_receipts,
    to_outgoing,
    unmark_sent,
)
from upstream.settings import PushSettings

log = logging.getLogger("sgs.upstream")

RETRY_STATUS = frozenset({408, 425, 429})


@dataclass
class PushResult:
    """What one push run did (small: it travels through XCom)."""

    run_id: int
    mode: str
    status: str = "running"
    batches: int = 0
    records_sent: int = 0
    accepted: int = 0
    rejected: int = 0
    not_sent: int = 0
    no_receipt: int = 0
    retries: int = 0
    duplicate_receipts: int = 0
    error: str | None = None
    outbox: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def counters(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in runs.COUNTERS if hasattr(self, k)}


def push(
    engine: Engine,
    settings: PushSettings | None = None,
    *,
    trigger: str = "cli",
    endpoint: Endpoint | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PushResult:
    """Send every eligible outbox entry (``settings.mode == "http"``) or write them as exchange files
    (``"file"``, see :func:`upstream.files.export_batches`). Raises :class:`~upstream.errors.TerminalError`
    (auth, contract, configuration: do not retry) or :class:`RetriesExhausted` (retry later), each with
    ``.result`` set; returns the statistics otherwise."""
    settings = settings or PushSettings.from_env()
    if settings.mode == "file":
        from upstream.files import export_batches

        return export_batches(engine, settings, trigger=trigger)
    run_id = runs.start(engine, "http", trigger, lease_seconds=settings.lease_seconds)
    result = PushResult(run_id=run_id, mode="http")
    try:
        endpoint = endpoint or resolve_endpoint(settings.conn_id)
        adp = adapter(endpoint.adapter)
        sender = {"name": endpoint.sender_name, "code": endpoint.sender_code}
        rng = random.Random()
        with httpx.Client(timeout=settings.timeout, verify=endpoint.verify) as http:
            for ds in DATASETS:
                _push_dataset(engine, http, endpoint, adp, sender, ds, settings, result, rng, sleep)
    except Exception as exc:
        result.status = "failed"
        result.error = str(exc) if isinstance(exc, UpstreamError) else f"{type(exc).__name__}: {mask_text(str(exc))[:500]}"
        _finish(engine, result)
        if isinstance(exc, UpstreamError):
            exc.result = result
        log.error("push run %s stopped: %s", run_id, result.error)
        raise
    result.status = "success"
    _finish(engine, result)
    log.info("push run %s: %s", run_id, {k: v for k, v in result.as_dict().items() if k != "outbox"})
    return result


def _finish(engine: Engine, result: PushResult) -> None:
    runs.finish(engine, result.run_id, status=result.status, error=result.error, no_receipt=result.no_receipt)
    with engine.connect() as conn:
        result.outbox = outbox_counts(conn)


def _push_dataset(
    engine: Engine,
    http: httpx.Client,
    endpoint: Endpoint,
    adp: ProvinceAdapter,
    sender: dict[str, str | None],
    ds: str,
    settings: PushSettings,
    result: PushResult,
    rng: random.Random,
    sleep: Callable[[float], None],
) -> None:
    # Rows the province answered without a receipt for them: not offered again in this run (no busy
    # loop on a province that keeps skipping a record); still ``sent``, so the next run resends them.
    unanswered: set[int] = set()
    while settings.max_batches is None or result.batches < settings.max_batches:
        now = dt.datetime.now(dt.UTC)
        with engine.begin() as conn:
            rows = eligible(conn, ds, settings.batch_size, exclude=unanswered)
            if not rows:
                break
            ops = effective_operations(conn, ds, rows)
            skipped = mark_not_needed(conn, [r["id"] for r in rows if ops[r["id"]] is None], now)
        result.not_sent += skipped
        records = [to_outgoing(r, op) for r in rows if (op := ops[r["id"]]) is not None]
        if not records:
            runs.add(engine, result.run_id, not_sent=skipped)
            continue
        batch_id = uuid.uuid4().hex
        with engine.begin() as conn:
            mark_sent(conn, [r.outbox_id for r in records], batch_id, now)
        body = adp.encode_batch(batch_id, ds, sender, records)
        try:
            receipts, retries = send_batch(http, endpoint, adp, body, batch_id, settings, rng=rng, sleep=sleep)
        except UpstreamError as exc:
            if isinstance(exc, TerminalError):  # refused before processing: nothing reached the province
                with engine.begin() as conn:
                    unmark_sent(conn, [r.outbox_id for r in records], batch_id)
            result.retries += getattr(exc, "retries", 0)
            runs.add(engine, result.run_id, retries=getattr(exc, "retries", 0), not_sent=skipped)
            raise
        keys = {r.idempotency_key: r.outbox_id for r in records}
        with engine.begin() as conn:
            outcome = record_receipts(conn, receipts, dt.datetime.now(dt.UTC), expected=set(keys))
        answered = {rc.idempotency_key for rc in receipts}
        missing = [oid for k, oid in keys.items() if k not in answered]
        unanswered.update(missing)
        step = {
            "batches": 1,
            "records_sent": len(records),
            "accepted": outcome.accepted,
            "rejected": outcome.rejected,
            "retries": retries,
            "duplicate_receipts": outcome.duplicates,
            "not_sent": skipped,
        }
        for k, v in step.items():
            setattr(result, k, getattr(result, k) + v)
        result.no_receipt = len(unanswered)
        runs.add(engine, result.run_id, **step)
        log.info("batch %s (%s): %d sent, %d accepted, %d rejected, %d without receipt, %d retries",
                 batch_id, ds, len(records), outcome.accepted, outcome.rejected, len(missing), retries)


def send_batch(
    http: httpx.Client,
    endpoint: Endpoint,
    adp: ProvinceAdapter,
    body: bytes,
    batch_id: str,
    settings: PushSettings,
    *,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[Receipt], int]:
    """POST one batch until it is answered; returns the receipts and how many retries it took."""
    rng = rng or random.Random()
    url = endpoint.url(adp.path)
    path = urlsplit(url).path
    last = ""
    for attempt in range(1, settings.max_attempts + 1):
        headers = {"Content-Type": adp.content_type, "X-SGS-Batch-Id": batch_id, **endpoint.auth_headers("POST", path, body)}
        retry_after: float | None = None
        try:
            resp = http.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            last = f"{settings.timeout:g} 秒内无应答（超时）"
        except httpx.TransportError as exc:
            last = f"连接失败或中断（{type(exc).__name__}）"
        else:
            code = resp.status_code
            if code in (401, 403):
                raise AuthError(
                    f"省平台拒绝了身份认证（HTTP {code}：{_excerpt(resp)}）。请检查 Airflow 连接 {settings.conn_id} 中的令牌或签名密钥"
                    "是否正确、是否已过期；推送已停止，不会自动重试，数据保留待发送"
                )
            if code >= 500 or code in RETRY_STATUS:
                last = f"HTTP {code}"
                retry_after = _retry_after(resp)
            elif code >= 400:
                raise ContractError(
                    f"省平台拒绝了整批数据（HTTP {code}，批次 {batch_id}：{_excerpt(resp)}）。这通常说明接口格式或字段与省平台不一致，"
                    f"重试无效，推送已停止；请与省平台核对接口（适配器 {adp.name}），数据保留待发送"
                )
            else:
                return adp.decode_receipts(resp.content), attempt - 1
        if attempt == settings.max_attempts:
            break
        delay = min(settings.backoff_max, settings.backoff_initial * 2 ** (attempt - 1)) * (1 + settings.jitter * rng.random())
        if retry_after is not None:
            delay = max(delay, min(retry_after, settings.backoff_max))
        log.warning("batch %s attempt %d/%d failed (%s); retrying in %.2fs", batch_id, attempt, settings.max_attempts, last, delay)
        sleep(delay)
    exc = RetriesExhausted(
        f"省平台连续 {settings.max_attempts} 次未能接收批次 {batch_id}（最后一次：{last}）。"
        "数据未丢失：已发出的记录保持“已发送”状态，下次推送会以相同幂等键重发"
    )
    exc.retries = settings.max_attempts - 1  # type: ignore[attr-defined]
    raise exc


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return float(resp.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _excerpt(resp: httpx.Response) -> str:
    """The province's own words about an error, short and masked."""
    try:
        doc = resp.json()
        text = doc.get("message") or doc.get("detail") if isinstance(doc, dict) else doc
        text = text if isinstance(text, str) else str(text)
    except ValueError:
        text = resp.text
    return mask_text((text or "无说明").strip())[:300]
