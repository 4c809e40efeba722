"""The envelope module: record GUIDs, the record envelope, receipt decoding, adapters, masking."""

from __future__ import annotations

import datetime as dt

import pytest

from transforms.masking import mask_text
from upstream import envelope
from upstream.endpoint import Endpoint, hmac_signature
from upstream.errors import ContractError, TerminalError


def record(**kw: object) -> envelope.OutgoingRecord:
    base: dict[str, object] = dict(
        outbox_id=1, idempotency_key="k" * 64, dataset="cf", business_key="11330100MB0000000X|罚〔2025〕1号", version=2,
        operation="U", department="scjgj",
        created_at=dt.datetime(2025, 6, 1, 0, 0),  # noqa: DTZ001 - naive on purpose: how SQLite hands back UTC
        data={"CF_SJLY": "某局", "CF_SJLYDM": "11330100MB0000000X", "CF_WSH": "罚〔2025〕1号"},
    )
    base.update(kw)
    return envelope.OutgoingRecord(**base)  # type: ignore[arg-type]


def test_record_guid_is_stable_per_record_and_differs_between_records() -> None:
    a = envelope.record_guid("cf", "X|1")
    assert a == envelope.record_guid("cf", "X|1") and len(a) == 32 and int(a, 16) >= 0
    assert a != envelope.record_guid("xk", "X|1") and a != envelope.record_guid("cf", "X|2")


def test_envelope_carries_guid_operation_timestamp_source_unit_and_payload() -> None:
    env = envelope.envelope(record())
    assert env["record_id"] == envelope.record_guid("cf", "11330100MB0000000X|罚〔2025〕1号")
    assert env["operation"] == "U" and env["version"] == 2 and env["idempotency_key"] == "k" * 64
    assert env["source_timestamp"] == "2025-06-01T08:00:00+08:00"  # naive store value is UTC
    assert (env["source_unit"], env["source_unit_code"]) == ("某局", "11330100MB0000000X")
    assert env["data"]["CF_WSH"] == "罚〔2025〕1号"


def test_receipts_that_do_not_follow_the_contract_are_a_contract_error() -> None:
    adp = envelope.adapter("sgs-json-v1")
    ok = adp.decode_receipts(b'{"receipts": [{"idempotency_key": "a", "status": "rejected", "code": "PROV-1", "duplicate": true}]}')
    assert ok == [envelope.Receipt("a", "rejected", "PROV-1", None, None, True)]
    for body in (b"<html>", b'{"receipts": {}}', b'{"receipts": [{"idempotency_key": "a", "status": "ok"}]}', b"{}"):
        with pytest.raises(ContractError, match="回执"):
            adp.decode_receipts(body)


def test_unknown_adapter_lists_the_known_ones() -> None:
    with pytest.raises(TerminalError, match="sgs-json-v1"):
        envelope.adapter("zhejiang-v9")


def test_auth_headers_and_secret_not_in_repr() -> None:
    bearer = Endpoint(base_url="http://h/api", secret="tok-123456")
    assert bearer.auth_headers("POST", "/api/batches", b"{}") == {"Authorization": "Bearer tok-123456"}
    assert "tok-123456" not in repr(bearer)
    signed = Endpoint(base_url="http://h/api", auth="hmac", secret="s3cret-key", key_id="city")
    h = signed.auth_headers("POST", "/api/batches", b"{}", now=1_700_000_000)
    assert h["X-SGS-Key-Id"] == "city" and h["X-SGS-Timestamp"] == "1700000000"
    assert h["X-SGS-Signature"] == hmac_signature("s3cret-key", "POST", "/api/batches", "1700000000", b"{}")


def test_id_numbers_are_masked_in_province_messages() -> None:
    assert mask_text("证件号码 11010519491231002X 与姓名不符") == "证件号码 110105********002X 与姓名不符"
    assert mask_text("统一社会信用代码 91350100M000100Y43") == "统一社会信用代码 91350100M000100Y43"
