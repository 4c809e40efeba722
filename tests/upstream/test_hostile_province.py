"""Answers from the province are untrusted (issue 12 items 5 and 8): a real stand-in on 127.0.0.1 answers one batch
of a push with something hostile; only that batch fails, clearly, and the next batch and the next run go on."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.queries import open_quarantine
from store.schema import upstream_run
from tests.upstream.helpers import DEPT, deliveries, fast, load, penalty
from upstream import envelope
from upstream.endpoint import Endpoint
from upstream.errors import ContractError, ReceiptError
from upstream.push import _decode, push, read_limited
from upstream.standin.server import StandinServer

FINAL = {"accepted", "rejected"}


@pytest.fixture(scope="module")
def hostile_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandinServer]:
    """One stand-in for the whole module (each case uses its own 文书号, so their keys never meet)."""
    server = StandinServer(tmp_path_factory.mktemp("hostile") / "province.db")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _endpoint(server: StandinServer) -> Endpoint:
    return Endpoint(base_url=server.base_url, secret=server.token)


def _last_run(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(upstream_run).order_by(upstream_run.c.id.desc())).mappings().first() or {})


# mode → record positions (0-based, batch 2 = positions 5..9) left `sent` by the hostile answer, and whether the
# run reports a problem. Position 5 is a 文书号 the stand-in rejects (PROV-103), so rejections meet the answer too.
CASES = {
    "numeric_code": ((), False),  # "code": 1001 is coerced to "1001": nothing to report
    "missing_fields": ((5, 6), True),  # no status / no key: those two rows get no receipt
    "wrong_types": ((5, 6), True),  # key a number, status a list; the others' odd types are coerced
    "huge_strings": ((), True),  # every field bounded; one extra item with a 1 MB key is reported
    "invalid_json": ((5, 6, 7, 8, 9), True),
}


@pytest.mark.parametrize(
    ("mode", "backend"),
    [("numeric_code", "sqlite"), ("numeric_code", "postgresql"), ("missing_fields", "sqlite"), ("wrong_types", "sqlite"),
     ("huge_strings", "sqlite"), ("huge_strings", "postgresql"), ("invalid_json", "sqlite")],
)
def test_a_hostile_answer_fails_only_its_batch_and_the_next_run_repairs_it(
    mode: str, backend: str, hostile_standin: StandinServer, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue("sqlite_store" if backend == "sqlite" else "pg_store")
    tag = f"{mode}-{backend}"
    rows = [penalty(f"{tag}-{i}") for i in range(15)]
    rows[5] = penalty(f"测试{tag}")
    load(engine, rows)
    hostile_standin.set_faults(hostile=mode, hostile_every=2)  # the 2nd of 3 batches
    before = hostile_standin.stats()["applied_keys"]
    left_sent, reported = CASES[mode]

    if reported:
        with pytest.raises(ReceiptError) as exc:
            push(engine, fast(), trigger="test", endpoint=_endpoint(hostile_standin))
        result = exc.value.result
        message = str(exc.value)
        assert "其余批次已正常处理" in message and "相同幂等键重发" in message and "批次" in message
        assert result is not None and result.problems and result.status == "failed"
        assert _last_run(engine)["status"] == "failed" and "其余批次已正常处理" in str(_last_run(engine)["error"])
    else:
        result = push(engine, fast(), trigger="test", endpoint=_endpoint(hostile_standin))
        assert result.status == "success" and not result.problems
    assert result.batches == 3 and result.records_sent == 15  # the batch after the hostile one was sent
    states = [r["state"] for r in deliveries(engine)]
    assert [i for i, s in enumerate(states) if s == "sent"] == list(left_sent)
    assert all(s in FINAL for i, s in enumerate(states) if i not in left_sent)
    assert result.no_receipt == len(left_sent)

    out = deliveries(engine)
    assert all(len(r["receipt_code"] or "") <= 40 and len(r["receipt_message"] or "") <= envelope.MAX_MESSAGE_CHARS for r in out)
    if mode == "numeric_code":
        assert out[5]["state"] == "rejected" and out[5]["receipt_code"] == "1001"
        assert [e["rule_ids"] for e in open_quarantine(engine, DEPT)] == ["PROV-1001"]
    if mode == "huge_strings":
        # Accepted records keep no receipt of their own (counts per batch); the rejected one keeps it, bounded.
        assert out[5]["state"] == "rejected" and out[5]["receipt_code"] == "C" * envelope.MAX_CODE_CHARS
        assert out[5]["receipt_message"].startswith("长") and "\x00" not in out[5]["receipt_message"]
        (entry,) = open_quarantine(engine, DEPT)
        assert entry["rule_ids"] == "PROV-" + "C" * envelope.MAX_CODE_CHARS

    hostile_standin.set_faults()  # the province behaves again: the next run resends the `sent` rows by key
    again = push(engine, fast(), trigger="test", endpoint=_endpoint(hostile_standin))
    assert again.status == "success" and again.records_sent == len(left_sent)
    assert {r["state"] for r in deliveries(engine)} <= FINAL
    stats = hostile_standin.stats()
    assert stats["applied_keys"] - before == 15 and stats["applied_twice"] == 0


def test_a_huge_answer_is_cut_at_the_byte_limit_and_the_run_goes_on(sqlite_store: Engine, hostile_standin: StandinServer) -> None:
    load(sqlite_store, [penalty(f"huge-{i}") for i in range(10)])
    hostile_standin.set_faults(hostile="huge_body", hostile_bytes=600_000_000, hostile_every=1)
    streamed = hostile_standin.stats()["streamed_bytes"]
    started = time.monotonic()
    with pytest.raises(ReceiptError, match="超过上限 1048576 字节") as exc:
        push(sqlite_store, fast(max_response_bytes=1 << 20), trigger="test", endpoint=_endpoint(hostile_standin))
    assert time.monotonic() - started < 20
    # The stand-in offered 600 MB per batch; the client stopped at 1 MiB (plus what the sockets' buffers held).
    taken = hostile_standin.stats()["streamed_bytes"] - streamed
    assert 0 < taken < 2 * 32 * (1 << 20), taken
    assert exc.value.result is not None and exc.value.result.batches == 2  # both batches tried, each failed alone
    assert {r["state"] for r in deliveries(sqlite_store)} == {"sent"}
    hostile_standin.set_faults()
    assert push(sqlite_store, fast(), trigger="test", endpoint=_endpoint(hostile_standin)).accepted == 10


def test_a_gzip_bomb_is_inflated_only_up_to_the_byte_limit(sqlite_store: Engine, hostile_standin: StandinServer) -> None:
    """Issue 12 items 5 and 8: a province may gzip its answer although we ask for ``identity``; httpx inflated every
    network chunk whole before the limit was checked (64 KB on the wire became 64 MB in memory). The limit counts
    inflated bytes now; a well-formed gzip answer is still read."""
    load(sqlite_store, [penalty(f"bomb-{i}") for i in range(5)])
    hostile_standin.set_faults(hostile="gzip_bomb", hostile_bytes=64 << 20, hostile_every=1)
    tracemalloc.start()
    try:
        with pytest.raises(ReceiptError, match="超过上限 1048576 字节"):
            push(sqlite_store, fast(max_response_bytes=1 << 20), trigger="test", endpoint=_endpoint(hostile_standin))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MiB held for a 1 MiB limit"
    assert {r["state"] for r in deliveries(sqlite_store)} == {"sent"}
    hostile_standin.set_faults(hostile="gzip", hostile_every=1)
    assert push(sqlite_store, fast(), trigger="test", endpoint=_endpoint(hostile_standin)).accepted == 5


def test_consecutive_unusable_answers_stop_the_run(sqlite_store: Engine, hostile_standin: StandinServer) -> None:
    """A province that answers nothing usable does not get the whole outbox: the run stops after N in a row."""
    load(sqlite_store, [penalty(f"stop-{i}") for i in range(20)])
    hostile_standin.set_faults(hostile="invalid_json", hostile_every=1)
    with pytest.raises(ReceiptError, match="连续 2 个批次"):
        push(sqlite_store, fast(max_bad_answers=2), trigger="test", endpoint=_endpoint(hostile_standin))
    assert hostile_standin.stats()["requests"] == 2
    states = [r["state"] for r in deliveries(sqlite_store)]
    assert states.count("sent") == 10 and states.count("pending") == 10
    hostile_standin.set_faults()
    assert push(sqlite_store, fast(), trigger="test", endpoint=_endpoint(hostile_standin)).accepted == 20


def test_receipt_items_are_coerced_and_bounded() -> None:
    adp = envelope.adapter("sgs-json-v1")
    got = adp.decode_receipts(
        b'{"receipts": [{"idempotency_key": " a ", "status": "Rejected", "code": 1001, "field": ["x"], "message": "\\u0000=1+1\\ud800",'
        b' "duplicate": "true"}, {"idempotency_key": "b", "status": "ok"}, 7]}'
    )
    assert got == [envelope.Receipt("a", "rejected", "1001", "=1+1?", '["x"]', True)]
    assert len(got.problems) == got.bad == 2 and "第 2 条回执" in got.problems[0] and "第 3 条回执" in got.problems[1]
    assert envelope.bounded_text(10**400, 40) == "（过长的数字）" and envelope.bounded_text("x" * 10**6, 5) == "xxxxx"
    cut = envelope.bounded_text("说明" * 245 + "330106198502031234 与姓名不符", 500)  # an ID number across the cut
    assert cut is not None and len(cut) == 500 and "1985" not in cut
    deep = b'{"receipts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for body in (deep, b'{"receipts": 1}', b"\xff\xfe", b"[]"):
        with pytest.raises(ContractError, match="回执"):
            adp.decode_receipts(body)


def test_an_adapter_that_passes_the_provinces_types_through_cannot_stop_the_push() -> None:
    """A real province's adapter may hand back an int code or raise on a body it did not expect."""

    class Sloppy(envelope.SgsJsonV1):
        name = "sloppy"

        def decode_receipts(self, body: bytes) -> list[envelope.Receipt]:
            if body == b"boom":
                raise KeyError("receipts")
            return [envelope.Receipt("a", "accepted", 1001, {"m": 1}, None, False)]  # type: ignore[arg-type]

    assert _decode(Sloppy(), b"{}") == [envelope.Receipt("a", "accepted", "1001", '{"m": 1}', None, False)]
    with pytest.raises(ReceiptError, match="适配器 sloppy 无法解读"):
        _decode(Sloppy(), b"boom")


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "identity", "br"])
def test_compressed_answers_are_inflated_within_the_limit(encoding: str) -> None:
    body = b'{"receipts": []}' + b" " * 5000
    wire = {"gzip": gzip.compress(body), "deflate": zlib.compress(body), "identity": body, "br": body,
            "raw-deflate": zlib.compress(body)[2:-4]}[encoding]
    header = {"raw-deflate": "deflate"}.get(encoding, encoding)

    def answer(limit: int) -> bytes:
        return read_limited(httpx.Response(200, headers={"Content-Encoding": header}, stream=httpx.ByteStream(wire)), limit)

    if encoding == "br":
        with pytest.raises(ReceiptError, match="不支持的压缩方式（Content-Encoding: br）"):
            answer(1 << 20)
        return
    assert answer(len(body)) == body
    with pytest.raises(ReceiptError, match=f"超过上限 {len(body) - 1} 字节"):
        answer(len(body) - 1)
