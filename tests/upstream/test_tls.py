"""TLS and plain http towards the province (issue 12 item 11): a CA bundle path in ``verify`` is honoured against a
real https stand-in on 127.0.0.1 whose certificate comes from a CA made in the test; credentials never go over
plain http to a host that is not loopback, unless the connection explicitly allows it."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import Engine

from tests.upstream.helpers import deliveries, fast, load, penalty
from upstream.endpoint import Endpoint, connection_uri, resolve_endpoint
from upstream.errors import EndpointConfigError
from upstream.push import push
from upstream.standin.server import StandinServer


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(server certificate, its key, the CA certificate): a private CA, as a province's internal one."""
    d = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("省平台测试根CA")).issuer_name(_name("省平台测试根CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (d / "server.pem", d / "server.key", d / "ca.pem")
    paths[0].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    paths[2].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return paths


@pytest.fixture(scope="module")
def https_standin(pki: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandinServer]:
    server = StandinServer(tmp_path_factory.mktemp("tls") / "province.db", tls=pki)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_ca_bundle_path_in_verify_is_honoured(sqlite_store: Engine, https_standin: StandinServer, pki: tuple[Path, Path, Path],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert https_standin.base_url.startswith("https://127.0.0.1:")
    load(sqlite_store, [penalty("tls-1")])
    # Without the CA (the system's CAs only) the certificate check fails: a clear, terminal error, nothing sent.
    monkeypatch.setenv("AIRFLOW_CONN_SGS_PROVINCE", connection_uri(https_standin.base_url, https_standin.token))
    with pytest.raises(EndpointConfigError, match="证书校验失败.*extra.verify"):
        push(sqlite_store, fast(), trigger="test")
    assert [r["state"] for r in deliveries(sqlite_store)] == ["pending"]
    assert https_standin.stats()["http_requests"] == 0  # the handshake failed: not retried, nothing reached it

    monkeypatch.setenv("AIRFLOW_CONN_SGS_PROVINCE", connection_uri(https_standin.base_url, https_standin.token, verify=str(pki[2])))
    endpoint = resolve_endpoint("sgs_province")
    assert endpoint.verify == str(pki[2])
    result = push(sqlite_store, fast(), trigger="test")
    assert (result.status, result.accepted) == ("success", 1)


def test_a_verify_path_that_does_not_exist_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    monkeypatch.setenv("AIRFLOW_CONN_SGS_PROVINCE", connection_uri("https://province.example/api", "tok", verify=str(missing)))
    with pytest.raises(EndpointConfigError, match="no-such-ca.pem.*不存在"):
        resolve_endpoint("sgs_province")
    monkeypatch.setenv("AIRFLOW_CONN_SGS_PROVINCE", connection_uri("https://province.example/api", "tok", verify="false"))
    assert resolve_endpoint("sgs_province").verify is False


@pytest.mark.parametrize("auth", ["bearer", "hmac"])
def test_credentials_over_plain_http_are_refused_unless_loopback_or_allowed(auth: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SGS_PROVINCE", connection_uri("http://province.example:8080/api", "s3cret-tok", auth=auth, key_id="k1"))  # type: ignore[arg-type]
    with pytest.raises(EndpointConfigError, match="明文 http.*allow_plain_http=true") as exc:
        resolve_endpoint("sgs_province")
    assert "s3cret-tok" not in str(exc.value)
    monkeypatch.setenv("AIRFLOW_CONN_SGS_PROVINCE",
                       connection_uri("http://province.example:8080/api", "s3cret-tok", auth=auth, key_id="k1", allow_plain_http="true"))  # type: ignore[arg-type]
    assert resolve_endpoint("sgs_province").allow_plain_http is True
    for host in ("127.0.0.1", "localhost"):
        monkeypatch.setenv("AIRFLOW_CONN_SGS_PROVINCE", connection_uri(f"http://{host}:8080/api", "s3cret-tok", auth=auth, key_id="k1"))  # type: ignore[arg-type]
        assert resolve_endpoint("sgs_province").base_url.startswith("http://")
    Endpoint(base_url="http://[::1]:8080/api", auth=auth, secret="s3cret-tok", key_id="k1").check_transport()  # type: ignore[arg-type]


def test_push_refuses_a_plain_http_endpoint_before_sending(sqlite_store: Engine) -> None:
    load(sqlite_store, [penalty("plain-1")])
    with pytest.raises(EndpointConfigError, match="明文 http"):
        push(sqlite_store, fast(), trigger="test", endpoint=Endpoint(base_url="http://10.255.255.1:9/api", secret="tok"))
    assert [r["state"] for r in deliveries(sqlite_store)] == ["pending"]
