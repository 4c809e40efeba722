"""Where the province is and how we prove who we are: read from an Airflow connection.

Connection fields (``AIRFLOW_CONN_SGS_PROVINCE`` as a URI or JSON, or a connection in Airflow's store):

- ``conn_type`` ``http`` or ``https``; ``host``, ``port``; ``schema`` = base path (``api``);
- ``password`` = the secret: the bearer token, or the HMAC key;
- ``login`` = the HMAC key id (ignored for a bearer token);
- ``extra``: ``auth`` = ``bearer`` (default) | ``hmac`` | ``none``; ``adapter`` (default ``sgs-json-v1``);
  ``sender_name`` / ``sender_code`` (the city platform as 数据报送单位); ``verify`` (TLS: ``true`` default =
  the system's CAs, a path = that CA bundle file or hashed CA folder only, ``false`` = no check);
  ``allow_plain_http`` (default false).

Example: ``AIRFLOW_CONN_SGS_PROVINCE='http://:TOKEN@127.0.0.1:8765/api?auth=bearer'``.

Plain ``http`` is refused (:meth:`Endpoint.check_transport`) unless the host is a loopback address (the stand-in,
a local TLS-terminating proxy) or ``allow_plain_http`` is set: a bearer token would cross the network readable
and replayable, and whatever the auth, every record (natural persons' names and ID numbers) would too.

HMAC (for provinces that sign requests instead of issuing tokens): headers ``X-SGS-Key-Id``,
``X-SGS-Timestamp`` (Unix seconds) and ``X-SGS-Signature`` = hex HMAC-SHA256 of
``METHOD\\nPATH\\nTIMESTAMP\\nSHA256_HEX(BODY)`` with the key. The stand-in checks both styles.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from national.safety import redact_url
from upstream.errors import EndpointConfigError

log = logging.getLogger("sgs.upstream")

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
    #: TLS: True (system CAs), False (no check), or the path of a CA bundle file / hashed CA folder.
    verify: bool | str = True
    allow_plain_http: bool = False

    def check_transport(self) -> None:
        """Refuse plain http to anything but a loopback host, unless ``allow_plain_http`` (see the module doc)."""
        u = urlsplit(self.base_url)
        scheme = (u.scheme or "").lower()
        if scheme == "https":
            if self.verify is False:
                log.warning("TLS certificate check of the province is switched off (verify=false): prefer verify=<CA bundle path>")
            return
        if scheme != "http":
            raise EndpointConfigError(f"省平台地址 {redact_url(self.base_url)} 的协议 {scheme!r} 不支持：只能是 https（或回环地址上的 http）")
        if _loopback(u.hostname):
            return
        what = {"bearer": "令牌", "hmac": "签名请求（可被截获重放）"}.get(self.auth, "数据")
        if self.allow_plain_http:
            log.warning("pushing to %s over plain http (allow_plain_http): auth %s and every record cross the network unencrypted",
                        redact_url(self.base_url), self.auth)
            return
        raise EndpointConfigError(
            f"省平台地址 {redact_url(self.base_url)} 使用明文 http：{what}和上报的个人信息将以明文经过网络，推送已拒绝。"
            "请改用 https（连接类型 https，或 extra 中 scheme=https）；若省平台提供内部 CA 证书，在 extra.verify 中填写其路径。"
            "确需在专线内使用明文时，在连接的 extra 中设置 allow_plain_http=true"
        )

    def tls_verify(self) -> bool | ssl.SSLContext:
        """What the HTTP client checks the province's certificate against (httpx ``verify``)."""
        if isinstance(self.verify, bool):
            return self.verify
        path = Path(self.verify).expanduser()
        try:
            if path.is_dir():
                return ssl.create_default_context(capath=str(path))
            return ssl.create_default_context(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise EndpointConfigError(
                f"省平台连接 extra.verify 指定的 CA 证书 {path} 无法读取（{type(exc).__name__}: {exc}）：请填写 PEM 格式的 CA 证书文件路径"
            ) from None

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
    except Exception as exc:  # noqa: BLE001 - the value holds the token, and the SDK raises several kinds
        # (AirflowNotFoundException, ValueError, TypeError, AttributeError …) for a missing or malformed
        # connection, whose messages may quote it: none may escape with its own text
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
    endpoint = Endpoint(
        base_url=base,
        auth=auth,  # type: ignore[arg-type]
        secret=conn.password or "",
        key_id=conn.login or None,
        adapter=str(extra.get("adapter", "sgs-json-v1")),
        sender_name=str(extra.get("sender_name", DEFAULT_SENDER)),
        sender_code=extra.get("sender_code"),
        verify=_verify_setting(conn_id, extra.get("verify", True)),
        allow_plain_http=_flag(conn_id, "allow_plain_http", extra.get("allow_plain_http", False)),
    )
    endpoint.check_transport()
    return endpoint


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def _flag(conn_id: str, key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise EndpointConfigError(f"省平台连接 {conn_id!r} 的 extra.{key}={str(value)[:40]!r} 无效：只能是 true 或 false")


def _verify_setting(conn_id: str, value: Any) -> bool | str:
    """``extra.verify``: a boolean (also as text), or the path of a CA bundle that must exist."""
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if not text:  # an empty field is the default, never "no check"
        return True
    if text.lower() in _TRUE or text.lower() in _FALSE:
        return text.lower() in _TRUE
    if not Path(text).expanduser().exists():
        raise EndpointConfigError(
            f"省平台连接 {conn_id!r} 的 extra.verify 指定的 CA 证书 {text[:200]} 不存在：请填写签发省平台证书的 CA 证书文件（PEM）路径"
        )
    return text


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connection_uri(base_url: str, secret: str, *, auth: AuthKind = "bearer", key_id: str = "", **extra: str) -> str:
    """An ``AIRFLOW_CONN_*`` URI for ``base_url`` (used by the demo and the tests); ``extra`` joins the query."""
    from urllib.parse import quote, urlencode

    u = urlsplit(base_url)
    port = f":{u.port}" if u.port else ""
    query = urlencode({"auth": auth, **extra})
    return f"{u.scheme}://{quote(key_id, safe='')}:{quote(secret, safe='')}@{u.hostname}{port}/{u.path.strip('/')}?{query}"
