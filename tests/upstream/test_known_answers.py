"""Known-answer vectors for what the client and the stand-in would otherwise only check against each other
(issue 18 item 4): the stand-in verifies signatures with the client's own ``hmac_signature`` and reads batch
files with the client's own ``read_batch_file``, so a mistake made the same way on both sides would be
invisible. Every expected value below was produced outside this code base and is written out here:

- HMAC signatures: ``openssl dgst -sha256 -hmac <secret>`` over ``METHOD\\npath\\ntimestamp\\nsha256hex(body)``
  (the contract in upstream/endpoint.py's module docstring), e.g.::

      printf 'POST\\n/api/batches\\n1767225600\\n%s' "$(printf '%s' "$BODY" | openssl dgst -sha256 -r | cut -d' ' -f1)" \\
        | openssl dgst -sha256 -hmac 'province-shared-secret' -r

- batch and receipt files: the bytes a province's reader expects (UTF-8 with BOM, CRLF rows, RFC 4180 quoting,
  an apostrophe before formula-like text), composed by hand cell by cell, not with the csv module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from pathlib import Path

import httpx

from upstream import envelope
from upstream.endpoint import Endpoint, hmac_signature
from upstream.standin.server import StandinServer

# --- HMAC --------------------------------------------------------------------------------------------------

SECRET = "province-shared-secret"
BODY = b'{"batch_id":"b-1","records":[]}'
BODY_SHA256 = "bff0b84046c9e366c49110138f1b81d5610c38dce1ed9e89c4010baa72781916"  # openssl dgst -sha256
SIGNATURE = "135963af6ebde2f3c2efa4727a4d99440955a3a73d3172e521d4296f862d1713"  # POST /api/batches 1767225600
# The vector of test_envelope.py's header test (secret s3cret-key, POST /api/batches, 1700000000, body {}).
SIGNATURE_EMPTY_OBJECT = "6aaa8d36b988eed16d7948177fa85c51ddbb307befb13e8cc04a3967363fec39"


def test_the_body_digest_and_the_signature_equal_openssls() -> None:
    assert hashlib.sha256(BODY).hexdigest() == BODY_SHA256
    assert hmac_signature(SECRET, "POST", "/api/batches", "1767225600", BODY) == SIGNATURE
    assert hmac_signature(SECRET, "post", "/api/batches", "1767225600", BODY) == SIGNATURE  # the method is upper-cased
    assert hmac_signature("s3cret-key", "POST", "/api/batches", "1700000000", b"{}") == SIGNATURE_EMPTY_OBJECT
    # Each input is part of the signature.
    assert hmac_signature(SECRET, "POST", "/api/batches", "1767225601", BODY) != SIGNATURE
    assert hmac_signature(SECRET, "POST", "/api/batches/", "1767225600", BODY) != SIGNATURE
    assert hmac_signature(SECRET, "POST", "/api/batches", "1767225600", BODY + b" ") != SIGNATURE


def test_the_clients_request_headers_carry_the_known_signature() -> None:
    ep = Endpoint(base_url="https://province.example/api", auth="hmac", secret=SECRET, key_id="city-01")
    assert ep.auth_headers("POST", "/api/batches", BODY, now=1_767_225_600) == {
        "X-SGS-Key-Id": "city-01",
        "X-SGS-Timestamp": "1767225600",
        "X-SGS-Signature": SIGNATURE,
    }


def _independent_signature(secret: str, method: str, path: str, ts: str, body: bytes) -> str:
    """The contract spelled out again without upstream.endpoint (what a province's server would do)."""
    message = f"{method}\n{path}\n{ts}\n{hashlib.sha256(body).hexdigest()}".encode()
    return hmac.new(secret.encode(), message, "sha256").hexdigest()


def test_the_stand_in_accepts_a_request_signed_without_the_clients_code(standin: StandinServer) -> None:
    """The stand-in's check against a signer that shares no code with it (and refuses a one-bit change)."""
    body = json.dumps({"batch_id": "kat-1", "dataset": "cf", "sender": {"name": "测试", "code": "11330100MB0000000X"},
                       "records": []}, ensure_ascii=False).encode()
    key_id, secret = next(iter(standin.hmac_keys.items()))
    ts = str(int(time.time()))
    good = _independent_signature(secret, "POST", "/api/batches", ts, body)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    answers = {}
    for name, sig in (("good", good), ("bad", bad)):
        answers[name] = httpx.post(standin.base_url + "/batches", content=body, timeout=10, headers={
            "Content-Type": "application/json", "X-SGS-Key-Id": key_id, "X-SGS-Timestamp": ts, "X-SGS-Signature": sig})
    assert answers["bad"].status_code == 401, answers["bad"].text
    assert answers["good"].status_code != 401, answers["good"].text
    assert answers["good"].status_code < 500, answers["good"].text


# --- batch and receipt files --------------------------------------------------------------------------------

CF_CODES = ("CF_XDR_MC,CF_XDR_LB,CF_XDR_SHXYM,CF_XDR_GSZC,CF_XDR_ZZJG,CF_XDR_SWDJ,CF_XDR_SYDW,CF_XDR_SHZZ,CF_FRDB,"
            "CF_FR_ZJLX,CF_FR_ZJHM,CF_XDR_ZJLX,CF_XDR_ZJHM,CF_WSH,CF_WFXW,CF_SY,CF_YJ,CF_CFLB,CF_NR,CF_NR_FK,CF_NR_WFFF,"
            "CF_NR_ZKDX,CF_JDRQ,CF_YXQ,CF_GSJZQ,CF_CFJG,CF_CFJGDM,CF_SJLY,CF_SJLYDM,BZ")
KEY = "0f" * 32
GUID = "da428c6dd95d5ad18b0c9e2c42e100a8"  # uuid5(RECORD_NAMESPACE, "cf|<business key>")
BUSINESS_KEY = "91330106MA2CFX0L5K|杭市监罚〔2026〕1号"
DATA = {
    "CF_XDR_MC": "杭州某某科技有限公司",
    "CF_XDR_LB": "法人及非法人组织",
    "CF_XDR_SHXYM": "91330106MA2CFX0L5K",
    "CF_FRDB": "张三",
    "CF_WSH": "杭市监罚〔2026〕1号",
    "CF_WFXW": '虚假宣传,"夸大"功效',  # a comma and quotes: RFC 4180 quoting
    "CF_SY": "=1+2",  # formula-like: written with one apostrophe in front
    "CF_YJ": "'=A1",  # already starts with an apostrophe before formula-like text: one more
    "CF_CFLB": "罚款",
    "CF_NR": "罚款人民币壹万元\n并责令改正",  # a line break inside a cell
    "CF_NR_FK": "1.000000",
    "CF_JDRQ": "2026-03-02",
    "CF_GSJZQ": "2029-03-02",
    "CF_CFJG": "杭州市市场监督管理局",
    "CF_CFJGDM": "11330100002482000X",
    "CF_SJLY": "杭州市市场监督管理局",
    "CF_SJLYDM": "11330100002482000X",
}
# The row, cell by cell, in template order (empty cells for the fields the record does not have).
ROW_CELLS = [
    GUID, KEY, "1", "I", "2026-03-02T10:00:00+08:00",  # the envelope (created 02:00 UTC = 10:00 in Shanghai)
    "杭州某某科技有限公司", "法人及非法人组织", "91330106MA2CFX0L5K", "", "", "", "", "", "张三", "", "", "", "",
    "杭市监罚〔2026〕1号", '"虚假宣传,""夸大""功效"', "'=1+2", "''=A1", "罚款", '"罚款人民币壹万元\n并责令改正"',
    "1.000000", "", "", "2026-03-02", "", "2029-03-02", "杭州市市场监督管理局", "11330100002482000X",
    "杭州市市场监督管理局", "11330100002482000X", "",
]
BATCH_FILE = ("\ufeff" + "RECORD_ID,IDEMPOTENCY_KEY,VERSION,OPERATION,SOURCE_TIMESTAMP," + CF_CODES + "\r\n"
              + ",".join(ROW_CELLS) + "\r\n").encode("utf-8")


def _record() -> envelope.OutgoingRecord:
    return envelope.OutgoingRecord(outbox_id=7, idempotency_key=KEY, dataset="cf", business_key=BUSINESS_KEY, version=1,
                                   operation="I", department="scjgj", created_at=dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC),
                                   data=DATA)


def test_a_batch_file_is_byte_for_byte_the_known_file(tmp_path: Path) -> None:
    assert len(ROW_CELLS) == 5 + 30  # the envelope and the 30 fields of the 2019 cf template
    path = tmp_path / "cf_b-1.csv"
    entry = envelope.write_batch_file(path, "cf", [_record()], "code")
    assert path.read_bytes() == BATCH_FILE
    assert entry == {"name": "cf_b-1.csv", "rows": 1, "bytes": len(BATCH_FILE), "sha256": hashlib.sha256(BATCH_FILE).hexdigest()}


def test_the_chinese_header_is_the_templates_names(tmp_path: Path) -> None:
    path = tmp_path / "cf_zh.csv"
    envelope.write_batch_file(path, "cf", [_record()], "zh")
    head = path.read_bytes().split(b"\r\n", 1)[0].decode("utf-8")
    assert head == ("\ufeff记录标识,幂等键,版本号,操作类型,源系统时间戳,行政相对人名称,行政相对人类别,"
                    "行政相对人代码_1(统一社会信用代码),行政相对人代码_2(工商注册号),行政相对人代码_3(组织机构代码),"
                    "行政相对人代码_4(税务登记号),行政相对人代码_5(事业单位证书号),行政相对人代码_6(社会组织登记证号),"
                    "法定代表人,法定代表人证件类型,法定代表人证件号码,证件类型,证件号码,行政处罚决定书文号,违法行为类型,违法事实,"
                    "处罚依据,处罚类别,处罚内容,罚款金额（万元）,没收违法所得、没收非法财物的金额（万元）,暂扣或吊销证照名称及编号,"
                    "处罚决定日期,处罚有效期,公示截止期,处罚机关,处罚机关统一社会信用代码,数据来源单位,数据来源单位统一社会信用代码,备注")


def test_the_provinces_reader_gets_the_known_values_from_the_known_file(tmp_path: Path) -> None:
    path = tmp_path / "cf_b-1.csv"
    path.write_bytes(BATCH_FILE)
    (row,) = envelope.read_batch_file(path, "cf")
    assert row["record_id"] == GUID and row["idempotency_key"] == KEY
    assert (row["version"], row["operation"], row["source_timestamp"]) == (1, "I", "2026-03-02T10:00:00+08:00")
    assert (row["source_unit"], row["source_unit_code"]) == ("杭州市市场监督管理局", "11330100002482000X")
    assert row["data"] == {c: DATA.get(c) for c in CF_CODES.split(",")}


RECEIPT_FILE = ("\ufeff幂等键,记录标识,处理状态,规则编号,字段,说明\r\n"
                f"{KEY},{GUID},1,,,\r\n"
                f"{'ab' * 32},,2,PROV-CF-07,CF_JDRQ,\"处罚决定日期晚于公示日期,请核实\"\r\n"
                f"{'cd' * 32},,2,PROV-CF-09,CF_NR,'=HYPERLINK(1)\r\n").encode()


def test_a_known_receipt_file_gives_the_known_receipts(tmp_path: Path) -> None:
    path = tmp_path / "receipt_b-1.csv"
    path.write_bytes(RECEIPT_FILE)
    assert envelope.read_receipt_file(path) == [
        envelope.Receipt(KEY, "accepted", None, None, None, False),
        envelope.Receipt("ab" * 32, "rejected", "PROV-CF-07", "处罚决定日期晚于公示日期,请核实", "CF_JDRQ", False),
        envelope.Receipt("cd" * 32, "rejected", "PROV-CF-09", "=HYPERLINK(1)", "CF_NR", False),
    ]


def test_the_stand_ins_receipt_file_is_the_known_format(tmp_path: Path) -> None:
    path = tmp_path / "receipt.csv"
    envelope.write_receipt_file(path, [
        {"idempotency_key": KEY, "record_id": GUID, "status": "accepted"},
        {"idempotency_key": "ab" * 32, "status": "rejected", "code": "PROV-CF-07", "field": "CF_JDRQ",
         "message": "处罚决定日期晚于公示日期,请核实"},
        {"idempotency_key": "cd" * 32, "status": "rejected", "code": "PROV-CF-09", "field": "CF_NR", "message": "=HYPERLINK(1)"},
    ])
    assert path.read_bytes() == RECEIPT_FILE
