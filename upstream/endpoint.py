"""Where the province is and how we prove who we are: read from an Airflow connection.

Connection fields (``AIRFLOW_CONN_SGS_PROVINCE`` as a URI or JSON, or a connection in Airflow's store):

- ``conn_type`` ``http`` or ``https``; ``host``, ``port``; ``schema`` = base path (``api``);
- ``password`` = the secret: the bearer token, or the HMAC key;
- ``login`` = the HMAC key id (ignored for a bearer token);
- ``extra``: ``auth`` = ``bearer`` (default) | ``hmac`` | ``none``; ``adapter`` (default ``sgs-json-v1``);
  ``sender_name`` / ``sender_code`` (the city platform as 数据报送单位); ``verify`` (TLS, default true).

Example: ``AIRFLOW_CONN_SGS_PROVINCE='http://:TOKEN@127.0.0.1:8765/api?auth=bearer'``.

HMAC (for provinces that sign requests instead of issuing tokens): headers ``X-SGS-Key-Id``,
``X-SGS-Timestamp`` (Unix seconds) and ``X-SGS-Signature`` = hex HMAC-SHA256 of
``METHOD\\nPATH\\nTIMESTAMP\\nSHA256_HEX(BODY)`` with the key. The stand-in checks both styles.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass, field
from typing import Literal

from upstream.errors import EndpointConfigError

AuthKind = Literal["bearer", "hmac", "none"]
DEFAULT_SENDER = "市信用信息共享平台"


@dataclass(frozen=True)
class Endpoint:
    """The provincial platform's address and our credentials. ``repr`` never shows the secret."""

    base_url: str
    auth: AuthKind = "bearer"
    secret: str = field(default="", repr=False)
    key_id: str | None = None
    adapter: str = "sgs-json-v1"
    sender_name: str = DEFAULT_SENDER
    sender_code: str | None = None
    verify: bool = True

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def auth_headers(self, method: str, path: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
        """Headers that authenticate one request."""
        if self.auth == "none":
            return {}
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {self.secret}"}
        ts = str(int(now if now is not None else time.time()))
        return {
            "X-SGS-Key-Id": self.key_id or "",
            "X-SGS-Timestamp": ts,
            "X-SGS-Signature": hmac_signature(self.secret, method, path, ts, body),
        }


def hmac_signature(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    """The HMAC-SHA256 signature of a request (shared by the client and the stand-in)."""
    message = "\n".join([method.upper(), path, timestamp, hashlib.sha256(body).hexdigest()]).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def resolve_endpoint(conn_id: str) -> Endpoint:
    """The endpoint of Airflow connection ``conn_id`` (environment variable first, then Airflow)."""
    env_name = f"AIRFLOW_CONN_{conn_id.upper()}"
    try:
        from airflow.sdk import Connection

        raw = os.environ.get(env_name)
        if raw:
            conn = (
                Connection.from_json(raw, conn_id=conn_id) if raw.lstrip().startswith("{") else Connection.from_uri(raw, conn_id=conn_id)
            )
        else:
            conn = Connection.get(conn_id)
    except Exception as exc:  # the SDK raises several kinds for a missing or malformed connection
        raise EndpointConfigError(
            f"找不到或无法解析省平台的 Airflow 连接 {conn_id!r}（{type(exc).__name__}）。"
            f"请在 Airflow 中创建该连接，或设置环境变量 {env_name}，例如 http://:令牌@省平台主机:端口/api?auth=bearer"
        ) from None
    extra = conn.extra_dejson or {}
    if not conn.host:
        raise EndpointConfigError(f"省平台连接 {conn_id!r} 没有主机地址（host）：请填写省平台接口的主机名")
    auth = str(extra.get("auth", "bearer")).lower()
    if auth not in ("bearer", "hmac", "none"):
        raise EndpointConfigError(f"省平台连接 {conn_id!r} 的 extra.auth={auth!r} 不支持：只能是 bearer、hmac 或 none")
    if auth != "none" and not conn.password:
        raise EndpointConfigError(f"省平台连接 {conn_id!r} 没有密码字段（password）：请填入省平台发放的令牌或签名密钥")
    if auth == "hmac" and not conn.login:
        raise EndpointConfigError(f"省平台连接 {conn_id!r} 使用 HMAC 签名，但没有填写密钥编号（login）")
    scheme = "https" if (conn.conn_type or "").lower() == "https" or extra.get("scheme") == "https" else "http"
    host = conn.host if "://" not in conn.host else conn.host.split("://", 1)[1]
    base = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "") + (f"/{conn.schema.strip('/')}" if conn.schema else "")
    verify = extra.get("verify", True)
    return Endpoint(
        base_url=base,
        auth=auth,  # type: ignore[arg-type]
        secret=conn.password or "",
        key_id=conn.login or None,
        adapter=str(extra.get("adapter", "sgs-json-v1")),
        sender_name=str(extra.get("sender_name", DEFAULT_SENDER)),
        sender_code=extra.get("sender_code"),
        verify=verify if isinstance(verify, bool) else str(verify).lower() not in ("false", "0", "no"),
    )


def connection_uri(base_url: str, secret: str, *, auth: AuthKind = "bearer", key_id: str = "") -> str:
    """An ``AIRFLOW_CONN_*`` URI for ``base_url`` (used by the demo and the tests)."""
    from urllib.parse import quote, urlsplit

    u = urlsplit(base_url)
    port = f":{u.port}" if u.port else ""
    return f"{u.scheme}://{quote(key_id, safe='')}:{quote(secret, safe='')}@{u.hostname}{port}/{u.path.strip('/')}?auth={auth}"
