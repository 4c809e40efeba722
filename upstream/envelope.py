"""The wire format towards the provincial platform: the ONE module that knows it (spec §6 [D]).

Every element below is our design (spec §6 tags the envelope [D]: the national field-level envelope was
not obtainable). A real province's format is one adapter away: write a class with ``encode_batch`` and
``decode_receipts`` (and, for file exchange, its own file writer) and register it in ``ADAPTERS``; the
push, the outbox states and the retry policy stay as they are.

Record envelope (JSON, UTF-8)::

    {"record_id": "<32 hex, stable per record>",      # platform-unique record GUID (uuid5 of the business key)
     "idempotency_key": "<64 hex, one per version>",  # resubmission of the same key is a no-op upstream
     "version": 3, "operation": "I" | "U" | "D",
     "source_timestamp": "2025-06-01T08:00:00+08:00", # when this version entered the central store
     "dataset": "cf" | "xk",
     "source_unit": "<数据来源单位>", "source_unit_code": "<数据来源单位统一社会信用代码>",
     "data": {"CF_WSH": "...", ...}}                   # the national values (2019 template codes)

Batch: ``{"batch_id", "dataset", "sender": {"name", "code"}, "records": [...]}`` POSTed to ``batches``.
Receipt (回执): ``{"batch_id", "receipts": [{"idempotency_key", "record_id", "status": "accepted" |
"rejected", "code", "field", "message", "duplicate"}]}``; ``duplicate`` marks the replay of a key the
province had already processed (it answers with the first receipt again).

Files (file exchange mode): one CSV per batch in the national template (UTF-8 with BOM so that Excel
opens it; headers Chinese or national codes) with five envelope columns in front, a JSON manifest with
counts and SHA-256 checksums, and receipt CSVs with a status column 1 accepted / 2 rejected.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from national import dataset as national_dataset
from upstream.errors import ContractError, TerminalError

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Namespace of record GUIDs: the same business key always gets the same GUID, on every machine.
RECORD_NAMESPACE = uuid.UUID("5d3c2b8e-9a4f-4c1e-8f0d-53475320636e")

#: 数据来源单位 and its USCC, per dataset (spec §1 #26–27, §2 #28–29).
SOURCE_UNIT: dict[str, tuple[str, str]] = {"cf": ("CF_SJLY", "CF_SJLYDM"), "xk": ("XK_LYDW", "XK_LYDWDM")}
DECISION_NUMBER: dict[str, str] = {"cf": "CF_WSH", "xk": "XK_WSH"}

ReceiptStatus = Literal["accepted", "rejected"]
Operation = Literal["I", "U", "D"]


def record_guid(dataset: str, business_key: str) -> str:
    """The record's platform-unique ID (32 hex), stable across versions so that U and D find the record."""
    return uuid.uuid5(RECORD_NAMESPACE, f"{dataset}|{business_key}").hex


@dataclass(frozen=True)
class OutgoingRecord:
    """One outbox entry as it goes out (``operation`` is the effective one, see ``upstream.outbox``)."""

    outbox_id: int
    idempotency_key: str
    dataset: str
    business_key: str
    version: int
    operation: str
    department: str
    created_at: dt.datetime
    data: dict[str, Any]

    @property
    def record_id(self) -> str:
        return record_guid(self.dataset, self.business_key)


@dataclass(frozen=True)
class Receipt:
    """The province's answer for one record version."""

    idempotency_key: str
    status: ReceiptStatus
    code: str | None = None
    message: str | None = None
    field: str | None = None
    duplicate: bool = False


def _timestamp(t: dt.datetime) -> str:
    if t.tzinfo is None:  # SQLite hands back naive values; the store writes UTC
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(SHANGHAI).isoformat(timespec="seconds")


def envelope(record: OutgoingRecord) -> dict[str, Any]:
    """The record envelope (see the module docstring)."""
    unit, unit_code = SOURCE_UNIT[record.dataset]
    return {
        "record_id": record.record_id,
        "idempotency_key": record.idempotency_key,
        "version": record.version,
        "operation": record.operation,
        "source_timestamp": _timestamp(record.created_at),
        "dataset": record.dataset,
        "source_unit": record.data.get(unit),
        "source_unit_code": record.data.get(unit_code),
        "data": record.data,
    }


# --- HTTP adapters ------------------------------------------------------------------------------------


class ProvinceAdapter(Protocol):
    """The wire format of one province's web service."""

    name: str
    path: str
    content_type: str

    def encode_batch(self, batch_id: str, dataset: str, sender: dict[str, str | None], records: Sequence[OutgoingRecord]) -> bytes: ...

    def decode_receipts(self, body: bytes) -> list[Receipt]: ...


class SgsJsonV1:
    """Our JSON envelope (spec §6 [D]); what the stand-in speaks."""

    name = "sgs-json-v1"
    path = "batches"
    content_type = "application/json; charset=utf-8"

    def encode_batch(self, batch_id: str, dataset: str, sender: dict[str, str | None], records: Sequence[OutgoingRecord]) -> bytes:
        doc = {"batch_id": batch_id, "dataset": dataset, "sender": sender, "records": [envelope(r) for r in records]}
        return json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8")

    def decode_receipts(self, body: bytes) -> list[Receipt]:
        try:
            doc = json.loads(body)
            items = doc["receipts"]
            if not isinstance(items, list):
                raise TypeError("receipts is not a list")
            return [_receipt(x) for x in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise ContractError(
                f"省平台的应答不是约定格式的回执（{type(exc).__name__}: {str(exc)[:200]}）：请与省平台核对接口版本（适配器 {self.name}）"
            ) from None


def _receipt(x: Any) -> Receipt:
    if not isinstance(x, dict) or not isinstance(x.get("idempotency_key"), str):
        raise TypeError("a receipt without idempotency_key")
    status = x.get("status")
    if status not in ("accepted", "rejected"):
        raise ValueError(f"unknown receipt status {status!r}")
    return Receipt(
        idempotency_key=x["idempotency_key"],
        status=status,
        code=x.get("code"),
        message=x.get("message"),
        field=x.get("field"),
        duplicate=bool(x.get("duplicate", False)),
    )


ADAPTERS: dict[str, ProvinceAdapter] = {SgsJsonV1.name: SgsJsonV1()}


def adapter(name: str) -> ProvinceAdapter:
    """The registered adapter ``name``; an unknown name lists the known ones."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise TerminalError(f"未知的省平台接口适配器 {name!r}；已有：{', '.join(sorted(ADAPTERS))}") from None


# --- file exchange ------------------------------------------------------------------------------------

#: Envelope columns in front of the national columns of a batch file: key → (Chinese header, code header).
FILE_ENVELOPE: dict[str, tuple[str, str]] = {
    "record_id": ("记录标识", "RECORD_ID"),
    "idempotency_key": ("幂等键", "IDEMPOTENCY_KEY"),
    "version": ("版本号", "VERSION"),
    "operation": ("操作类型", "OPERATION"),
    "source_timestamp": ("源系统时间戳", "SOURCE_TIMESTAMP"),
}
RECEIPT_COLUMNS = ["幂等键", "记录标识", "处理状态", "规则编号", "字段", "说明"]
#: Processing status in receipt files (spec §6 [D]: 0 pending, 1 accepted, 2 rejected).
RECEIPT_STATUS = {"1": "accepted", "2": "rejected"}
FILE_ENCODING = "utf-8-sig"


def batch_headers(dataset: str, header: Literal["zh", "code"]) -> list[str]:
    ds = national_dataset(dataset)
    env = [zh if header == "zh" else code for zh, code in FILE_ENVELOPE.values()]
    return env + ([f.name_zh for f in ds.fields] if header == "zh" else ds.columns)


def write_batch_file(path: Path, dataset: str, records: Sequence[OutgoingRecord], header: Literal["zh", "code"]) -> dict[str, Any]:
    """Write one batch CSV; returns its manifest entry (name, rows, bytes, sha256)."""
    ds = national_dataset(dataset)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(batch_headers(dataset, header))
    for r in records:
        env = envelope(r)
        w.writerow([env[k] for k in FILE_ENVELOPE] + [("" if r.data.get(c) is None else r.data.get(c)) for c in ds.columns])
    data = buf.getvalue().encode(FILE_ENCODING)
    _atomic_write(path, data)
    return {"name": path.name, "rows": len(records), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def read_batch_file(path: Path, dataset: str) -> list[dict[str, Any]]:
    """A batch CSV back to record envelopes (the province's side; also used by the round-trip test)."""
    ds = national_dataset(dataset)
    with path.open(encoding=FILE_ENCODING, newline="") as fh:
        rows = list(csv.reader(fh))
    head, body = rows[0], rows[1:]
    header: Literal["zh", "code"] = "zh" if head == batch_headers(dataset, "zh") else "code"
    if head != batch_headers(dataset, header):
        raise ContractError(f"文件 {path.name} 的表头与国家模板不一致")
    n_env = len(FILE_ENVELOPE)
    unit, unit_code = SOURCE_UNIT[dataset]
    out = []
    for row in body:
        env = dict(zip(FILE_ENVELOPE, row[:n_env], strict=True))
        data = {c: (v if v != "" else None) for c, v in zip(ds.columns, row[n_env:], strict=True)}
        out.append({**env, "version": int(env["version"]), "dataset": dataset, "source_unit": data.get(unit),
                    "source_unit_code": data.get(unit_code), "data": data})
    return out


def manifest(batch_id: str, dataset: str, sender: dict[str, str | None], files: list[dict[str, Any]],
             operations: dict[str, int], header: str, created_at: dt.datetime) -> dict[str, Any]:
    """The manifest (清单) of one batch: what the province checks before it reads the files."""
    return {
        "batch_id": batch_id,
        "dataset": dataset,
        "dataset_name": national_dataset(dataset).name_zh,
        "sender": sender,
        "created_at": _timestamp(created_at),
        "format": "csv",
        "encoding": FILE_ENCODING,
        "header": header,
        "records": sum(f["rows"] for f in files),
        "operations": operations,
        "files": files,
    }


def write_manifest(path: Path, doc: dict[str, Any]) -> None:
    _atomic_write(path, json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8"))


def write_receipt_file(path: Path, receipts: Iterable[dict[str, Any]]) -> None:
    """A receipt CSV (the province's side): one row per record version."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(RECEIPT_COLUMNS)
    for r in receipts:
        w.writerow([r["idempotency_key"], r.get("record_id") or "", "1" if r["status"] == "accepted" else "2",
                    r.get("code") or "", r.get("field") or "", r.get("message") or ""])
    _atomic_write(path, buf.getvalue().encode(FILE_ENCODING))


def read_receipt_file(path: Path) -> list[Receipt]:
    """Receipts from a receipt CSV; a file that does not follow the layout is a contract error."""
    with path.open(encoding=FILE_ENCODING, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or rows[0] != RECEIPT_COLUMNS:
        raise ContractError(f"回执文件 {path.name} 的表头不是约定格式：应为 {','.join(RECEIPT_COLUMNS)}")
    out = []
    for i, row in enumerate(rows[1:], 2):
        if not row:
            continue
        rec = dict(zip(RECEIPT_COLUMNS, row, strict=False))
        status = RECEIPT_STATUS.get(rec.get("处理状态", ""))
        if status is None or not rec.get("幂等键"):
            raise ContractError(f"回执文件 {path.name} 第 {i} 行的处理状态或幂等键无效（处理状态只能是 1 接收、2 退回）")
        out.append(Receipt(rec["幂等键"], status, rec.get("规则编号") or None, rec.get("说明") or None, rec.get("字段") or None))  # type: ignore[arg-type]
    return out


def _atomic_write(path: Path, data: bytes) -> None:
    """Write then rename: the province never picks up half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
