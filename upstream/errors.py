"""Errors of the upstream stage, sorted by what should happen next (style.md): stop, or retry later."""

from __future__ import annotations

from transforms.masking import mask_exception, mask_text


class UpstreamError(Exception):
    """Base class. Messages are Chinese and meant for the platform operator. ``result`` carries the
    statistics of the run that stopped (a ``PushResult``), when there was one."""

    result: object | None = None
    #: Attempts made beyond the first before this was raised (a failed batch's retries count in the run).
    retries: int = 0


class TerminalError(UpstreamError):
    """Retrying cannot help (bad credentials, a format the province does not accept, a bad setting):
    the run stops at once and the entries stay where they were."""


class EndpointConfigError(TerminalError):
    """The Airflow connection of the province is missing or unusable."""


class AuthError(TerminalError):
    """The province refused our credentials (HTTP 401/403)."""


class ContractError(TerminalError):
    """The province refused the whole batch (HTTP 4xx other than auth) or answered something that is not a
    receipt: the two sides disagree about the interface, which a person has to sort out."""


class ReceiptError(ContractError):
    """The province answered, but not with receipts we can use: a body that is not JSON or too large, receipt
    items without a usable key or status, a receipt file that cannot be decoded. Unlike the other contract
    errors the province may already have applied the batch, so its rows stay ``sent`` (resent next run with the
    same keys) and the push goes on with the other batches; the run reports the problem at its end."""


class RetriesExhausted(UpstreamError):
    """Transient failures (timeouts, dropped connections, 5xx) outlasted the retry budget. Nothing is lost:
    the entries stay ``sent``/``pending`` and the next run sends them again with the same idempotency keys."""


class PushLocked(UpstreamError):
    """Another push holds the lease: two pushes at once could overtake each other's versions."""


def masked(exc: BaseException) -> str:
    """``exc`` as ``Class: text`` for ``upstream_run.error`` and logs, with ID numbers masked; also masks the text
    of ``exc`` and of every exception chained to it in place, so that the caller who prints it (the CLI traceback,
    the Airflow task log) prints masked text too. The class stays (callers sort errors by class): :func:`transforms.masking.mask_exception`.
    """
    mask_exception(exc)
    text = str(exc)
    return mask_text(text if isinstance(exc, UpstreamError) else f"{type(exc).__name__}: {text}") or type(exc).__name__
