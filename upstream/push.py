"""``push()``: deliver the store's changes to the provincial platform over HTTP, batch by batch, with receipts.

Per dataset: first the batches an earlier run sent without getting every receipt (same items, same keys);
then new batches: take the records changed after the push position (``upstream.outbox``: the current version
of each, in change order) → write the batch and move the position, commit → POST the batch (idempotency key
in every record) with retries → write the receipts in one transaction (rejections go to the department's
quarantine). A crash anywhere leaves a batch either untaken or waiting; a waiting one is sent again by the
next run with the same keys, and the province answers an already processed key with its first receipt, so
every record version sent is applied exactly once.

Retry policy: timeouts, connection errors (refused, reset, dropped), HTTP 5xx, 408, 425 and 429 are
retried up to ``max_attempts`` per batch with exponential back-off (``backoff_initial`` · 2ⁿ, capped at
``backoff_max``, plus up to ``jitter`` random share; ``Retry-After`` is honoured up to the cap). HTTP
401/403 stop the run (:class:`AuthError`), any other 4xx stops it (:class:`ContractError`): retrying cannot fix
credentials or a format disagreement. A failed TLS certificate check stops it too (:class:`EndpointConfigError`).

Answers are untrusted (:class:`ReceiptError`): the body is streamed and read up to ``max_response_bytes``; an
answer that is too large, not JSON or holds no usable receipt fails *that batch only*: the province may have
applied it, so its rows stay ``sent`` (no receipt; resent by key next run, answered with the first receipt), and
the push goes on with the next batch. Receipt items that cannot be used are left out the same way. The run then
ends ``failed`` with every problem listed; after ``max_bad_answers`` consecutive unusable answers it stops early
(a province that answers nothing usable should not receive the whole outbox).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import random
import ssl
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import Engine

from national import DATASETS
from store import changelog
from store.runs import recorded
from transforms.masking import mask_text
from upstream import runs
from upstream.endpoint import Endpoint, resolve_endpoint
from upstream.envelope import ProvinceAdapter, Receipt, Receipts, adapter, bounded_text, coerce_receipt
from upstream.errors import (
    AuthError,
    ContractError,
    EndpointConfigError,
    ReceiptError,
    RetriesExhausted,
    TerminalError,
    UpstreamError,
    masked,
)
from upstream.files import export_batches
from upstream.outbox import delivery_counts, record_receipts, resend, take_batch, waiting_keys
from upstream.runs import PushResult
from upstream.settings import PushSettings

log = logging.getLogger("sgs.upstream")

RETRY_STATUS = frozenset({408, 425, 429})
#: Bytes of an error answer read for its excerpt in a message.
EXCERPT_BYTES = 4096


def push(
    engine: Engine,
    settings: PushSettings | None = None,
    *,
    trigger: str = "cli",
    endpoint: Endpoint | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PushResult:
    """Send every change after the push position (``settings.mode == "http"``) or write them as exchange files
    (``"file"``, see :func:`upstream.files.export_batches`). Raises :class:`~upstream.errors.TerminalError`
    (auth, contract, configuration, TLS: do not retry; :class:`ReceiptError` after all other batches when some
    answers were unusable) or :class:`RetriesExhausted` (retry later), each with ``.result`` set; returns the
    statistics otherwise."""
    settings = settings or PushSettings.from_env()
    if settings.mode == "file":
        return export_batches(engine, settings, trigger=trigger)
    run_id = runs.start(engine, "http", trigger, lease_seconds=settings.lease_seconds)
    result = PushResult(run_id=run_id, mode="http")

    def finish(status: str, error: str | None) -> None:
        result.status, result.error = status, error
        runs.finish(engine, run_id, status=status, error=error, no_receipt=result.no_receipt)
        with engine.connect() as conn:
            result.outbox = delivery_counts(conn)
        if error:
            log.error("push run %s stopped: %s", run_id, error)

    try:
        # Masked in the exception too: a store error may quote a record (ID numbers), and the caller prints it.
        with recorded(finish, mask=_push_error, limit=None), runs.heartbeat(engine, run_id, settings.lease_seconds):
            endpoint = endpoint or resolve_endpoint(settings.conn_id)
            endpoint.check_transport()
            adp = adapter(endpoint.adapter)
            sender = {"name": endpoint.sender_name, "code": endpoint.sender_code}
            with httpx.Client(timeout=settings.timeout, verify=endpoint.tls_verify()) as http:
                run = _PushRun(engine, http, endpoint, adp, sender, settings, result, random.Random(), sleep)
                for ds in DATASETS:
                    _push_dataset(run, ds)
            if result.problems:
                raise ReceiptError(_problems_summary(result))
    except UpstreamError as exc:
        exc.result = result
        raise
    log.info("push run %s: %s", run_id, {k: v for k, v in result.as_dict().items() if k != "outbox"})
    return result


def _problems_summary(result: PushResult) -> str:
    shown = "；".join(result.problems[:3])
    what = f"{result.bad_answers} 个批次的应答无法使用" if result.bad_answers else "部分回执无效"
    return (
        f"省平台有 {what}（例如：{shown}）。其余批次已正常处理；"
        f"受影响的记录保持“已发送”，下次推送以相同幂等键重发（省平台按幂等键去重，不会重复入库）。"
        "若每次都如此，请与省平台核对接口"
    )


def _push_error(exc: BaseException) -> str:
    """A failed push's error for ``upstream_run.error``: an :class:`UpstreamError` whole (it is ours, and the
    operator needs all of it), anything else cut to 500 characters."""
    error = masked(exc)
    return error if isinstance(exc, UpstreamError) else error[:500]


@dataclass
class _PushRun:
    """What every batch of one push run shares: its connections, its settings and its running totals."""

    engine: Engine
    http: httpx.Client
    endpoint: Endpoint
    adp: ProvinceAdapter
    sender: dict[str, str | None]
    settings: PushSettings
    result: PushResult
    rng: random.Random
    sleep: Callable[[float], None]
    bad_answers_in_a_row: int = 0  # consecutive unusable answers, across datasets (the circuit breaker)


def _push_dataset(run: _PushRun, ds: str) -> None:
    # Batches of this run the province answered without a receipt for every item: not sent again in this run
    # (no busy loop on a province that keeps skipping a record); still waiting, so the next run resends them.
    with run.engine.connect() as conn:
        earlier = changelog.unresolved(conn, ds)
    waiting = waiting_keys(run.engine, ds)
    for batch in earlier:
        if run.settings.max_batches is not None and run.result.batches >= run.settings.max_batches:
            return
        with run.engine.begin() as conn:
            records = resend(conn, batch)
            changelog.resent(conn, batch.id, dt.datetime.now(dt.UTC))
        batch.attempts += 1
        _send(run, ds, batch, records, 0, new=False)
        _answered(waiting, batch, records)
    upto = changelog.horizon(run.engine)
    while run.settings.max_batches is None or run.result.batches < run.settings.max_batches:
        batch_id = uuid.uuid4().hex
        taken = take_batch(run.engine, ds, run.settings.batch_size, run_id=run.result.run_id, batch_id=batch_id, upto=upto, waiting=waiting)
        run.result.not_sent += taken.not_sent
        if taken.batch is None:
            if taken.not_sent:
                runs.add(run.engine, run.result.run_id, not_sent=taken.not_sent)
            if taken.moved and not taken.blocked:
                continue  # only withdrawals the province never needed: read on
            break
        _send(run, ds, taken.batch, taken.records, taken.not_sent, new=True)
        _answered(waiting, taken.batch, taken.records)
        if taken.blocked:
            break  # a record's next version waits for its earlier version's receipt (next run)


def _answered(waiting: set[str], batch: changelog.Batch, records: list[Any]) -> None:
    """Records of ``batch`` that got their receipt no longer hold back their next versions."""
    still = {i.business_key for i in batch.items}
    waiting.difference_update(r.business_key for r in records if r.business_key not in still)


def _send(run: _PushRun, ds: str, batch: changelog.Batch, records: list[Any], skipped: int, *, new: bool) -> None:
    """Send one batch and write its receipts."""
    batch_id = batch.batch_id
    body = run.adp.encode_batch(batch_id, ds, run.sender, records)
    try:
        receipts, retries = send_batch(run.http, run.endpoint, run.adp, body, batch_id, run.settings, rng=run.rng, sleep=run.sleep)
    except ReceiptError as exc:
        # Answered, but nothing usable: the province may have applied the batch, so it keeps waiting (taking
        # it back would claim it did not); the next run resends it by key.
        retries = exc.retries
        run.result.batches += 1
        run.result.records_sent += len(records)
        run.result.retries += retries
        run.result.bad_answers += 1
        run.result.no_receipt += len(records)
        run.result.problem(f"批次 {batch_id}：{exc}")
        runs.add(run.engine, run.result.run_id, batches=1, records_sent=len(records), retries=retries, not_sent=skipped)
        log.error("batch %s (%s): %d records without receipt: %s", batch_id, ds, len(records), exc)
        run.bad_answers_in_a_row += 1
        if run.bad_answers_in_a_row >= run.settings.max_bad_answers:
            raise ReceiptError(
                f"省平台连续 {run.bad_answers_in_a_row} 个批次的应答都无法使用（最后一个：批次 {batch_id}：{exc}）。推送已停止，未发送的数据保留待发送；"
                "已发送的记录保持“已发送”，下次推送以相同幂等键重发。请与省平台核对接口"
            ) from None
        return
    except UpstreamError as exc:
        if isinstance(exc, TerminalError) and new:  # refused before processing: nothing reached the province
            with run.engine.begin() as conn:
                changelog.refused(conn, batch.id, dt.datetime.now(dt.UTC))
        run.result.retries += exc.retries
        runs.add(run.engine, run.result.run_id, retries=exc.retries, not_sent=skipped)
        raise
    run.bad_answers_in_a_row = 0
    for text in getattr(receipts, "problems", []):
        run.result.problem(f"批次 {batch_id}：{text}")
    expected = batch.keys()
    with run.engine.begin() as conn:
        outcome = record_receipts(conn, receipts, dt.datetime.now(dt.UTC), [batch])
    missing = len(expected) - len(outcome.answered)
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
        setattr(run.result, k, getattr(run.result, k) + v)
    run.result.no_receipt += missing
    runs.add(run.engine, run.result.run_id, **step)
    log.info("batch %s (%s): %d sent, %d accepted, %d rejected, %d without receipt, %d retries",
             batch_id, ds, len(records), outcome.accepted, outcome.rejected, missing, retries)


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
        # identity: nothing to inflate; a server that compresses anyway is inflated within the limit (read_limited).
        headers = {"Content-Type": adp.content_type, "Accept-Encoding": "identity", "X-SGS-Batch-Id": batch_id,
                   **endpoint.auth_headers("POST", path, body)}
        retry_after: float | None = None
        try:
            with http.stream("POST", url, content=body, headers=headers) as resp:
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
                    try:
                        return _decode(adp, read_limited(resp, settings.max_response_bytes)), attempt - 1
                    except ReceiptError as exc:
                        exc.retries = attempt - 1
                        raise
        except httpx.TimeoutException:
            last = f"{settings.timeout:g} 秒内无应答（超时）"
        except httpx.TransportError as exc:
            if _certificate_failure(exc):
                raise EndpointConfigError(
                    f"省平台的 TLS 证书校验失败（{mask_text(str(exc))[:200]}）：推送已停止，数据保留待发送。省平台使用内部 CA 时，"
                    f"请在 Airflow 连接 {settings.conn_id} 的 extra.verify 中填写该 CA 证书文件（PEM）的路径，不要关闭校验"
                ) from None
            last = f"连接失败或中断（{type(exc).__name__}）"
        if attempt == settings.max_attempts:
            break
        delay = min(settings.backoff_max, settings.backoff_initial * 2 ** (attempt - 1)) * (1 + settings.jitter * rng.random())
        if retry_after is not None:
            delay = max(delay, min(retry_after, settings.backoff_max))
        log.warning("batch %s attempt %d/%d failed (%s); retrying in %.2fs", batch_id, attempt, settings.max_attempts, last, delay)
        sleep(delay)
    exhausted = RetriesExhausted(
        f"省平台连续 {settings.max_attempts} 次未能接收批次 {batch_id}（最后一次：{last}）。"
        "数据未丢失：已发出的记录保持“已发送”状态，下次推送会以相同幂等键重发"
    )
    exhausted.retries = settings.max_attempts - 1
    raise exhausted


def _decode(adp: ProvinceAdapter, body: bytes) -> Receipts:
    """The adapter's receipts, each coerced and bounded again: an adapter for a real province may hand back
    whatever the province sent (an int code, a dict message), and no adapter bug may stop the push."""
    try:
        decoded = adp.decode_receipts(body)
    except ReceiptError:
        raise
    except (ContractError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise ReceiptError(f"适配器 {adp.name} 无法解读省平台的应答（{type(exc).__name__}: {mask_text(str(exc))[:200]}）") from None
    out = Receipts()
    out.bad, out.problems = getattr(decoded, "bad", 0), list(getattr(decoded, "problems", []))
    for i, rc in enumerate(decoded, 1):
        try:
            out.append(coerce_receipt(vars(rc) if not isinstance(rc, dict) else rc))
        except (ValueError, TypeError) as exc:
            out.problem(f"第 {i} 条回执{exc}")
    if decoded and not out:
        raise ReceiptError(f"省平台的应答中没有一条可用的回执（例如：{out.problems[0]}）")
    return out


def read_limited(resp: httpx.Response, limit: int) -> bytes:
    """The body of a streamed answer, read only up to ``limit`` bytes: one more byte is a :class:`ReceiptError`
    and the connection is closed without reading the rest (nothing is buffered beyond the limit). The limit counts
    the bytes *after* decompression, see :func:`_bounded_body`."""
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ReceiptError(f"省平台的应答有 {int(declared)} 字节，超过上限 {limit} 字节（SGS_UPSTREAM_MAX_RESPONSE_BYTES），未读取")
    body = _bounded_body(resp, limit)
    if len(body) > limit:
        raise ReceiptError(f"省平台的应答超过上限 {limit} 字节（SGS_UPSTREAM_MAX_RESPONSE_BYTES，按解压后计），已在该处停止读取")
    return body


#: Content-Encodings inflated here (zlib window bits: gzip framing; zlib framing, raw deflate as a fallback).
_INFLATE = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def _bounded_body(resp: httpx.Response, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of the decoded body (``limit + 1``: there was more; reading stopped there).

    We ask for ``identity``, but a server may compress anyway, and httpx's own decoder inflates each network
    chunk whole (a 64 KB gzip chunk of spaces is 64 MB) before any limit could look at it. So the raw bytes are
    read (``iter_raw``) and inflated here with ``decompressobj.decompress(data, max_length)``: never more than
    the limit allows. Encodings other than gzip/deflate are refused by name."""
    encoding = resp.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", *_INFLATE):
        raise ReceiptError(
            f"省平台的应答使用了不支持的压缩方式（Content-Encoding: {bounded_text(encoding, 40)}）；推送请求的是 identity（不压缩），"
            "也可接受 gzip 或 deflate：请与省平台核对接口"
        )
    z = zlib.decompressobj(_INFLATE[encoding]) if encoding in _INFLATE else None
    first = True
    buf = bytearray()
    try:
        for chunk in resp.iter_raw():
            if z is None:
                buf += chunk[: limit + 1 - len(buf)]
            else:
                data = chunk
                while data and len(buf) <= limit:
                    try:
                        buf += z.decompress(data, limit + 1 - len(buf))
                    except zlib.error:
                        if not (first and encoding == "deflate"):
                            raise
                        z = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent without its zlib header
                        continue
                    finally:
                        first = False
                    data = z.unconsumed_tail  # left over only when max_length stopped the inflation
            if len(buf) > limit:
                return bytes(buf)
        if z is not None:
            buf += z.flush()[: limit + 1 - len(buf)]
    except zlib.error as exc:
        raise ReceiptError(f"省平台的应答无法解压（Content-Encoding: {encoding}，{mask_text(str(exc))[:100]}）") from None
    return bytes(buf)


def _certificate_failure(exc: BaseException) -> bool:
    """A failed certificate check somewhere in ``exc``'s chain (httpx wraps the ssl error)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        value = float(resp.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _excerpt(resp: httpx.Response) -> str:
    """The province's own words about an error: the first bytes of its answer (inflated no further), short and
    masked."""
    try:
        raw = _bounded_body(resp, EXCERPT_BYTES)[:EXCERPT_BYTES]
    except (httpx.HTTPError, ReceiptError):
        raw = b""
    try:
        doc = json.loads(raw)
        text = doc.get("message") or doc.get("detail") if isinstance(doc, dict) else doc
        text = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):
        text = raw.decode("utf-8", "replace")
    return mask_text(bounded_text(text, 300) or "无说明")
