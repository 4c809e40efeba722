"""The wire format towards the provincial platform: the ONE module that knows it (spec §6 [D]).

Every element below is our design (spec §6 tags the envelope [D]: the national field-level envelope was
not obtainable). A real province's format is one adapter away: write a class with ``encode_batch`` and
``decode_receipts`` (and, for file exchange, its own file writer) and register it in ``ADAPTERS``; the
push, the change log and the retry policy stay as they are.

Record envelope (JSON, UTF-8)::

    {"record_id": "<32 hex, stable per record>",      # platform-unique record GUID (uuid5 of the business key,
                                                      #  or of the record's upstream_key, store.changelog.province_key)
     "idempotency_key": "<64 hex, one per version>",  # resubmission of the same key is a no-op upstream
     "version": 3, "operation": "I" | "U" | "D",
     "source_timestamp": "2025-06-01T08:00:00+08:00", # when this version entered the central store
     "dataset": "cf" | "xk",
     "source_unit": "<数据来源单位>", "source_unit_code": "<数据来源单位统一社会信用代码>",
     "data": {"CF_WSH": "...", ...}}                   # the national values (2019 template codes only)

Batch: ``{"batch_id", "dataset", "sender": {"name", "code"}, "records": [...]}`` POSTed to ``batches``.
Receipt (回执): ``{"batch_id", "receipts": [{"idempotency_key", "record_id", "status": "accepted" |
"rejected", "code", "field", "message", "duplicate"}]}``; ``duplicate`` marks the replay of a key the
province had already processed (it answers with the first receipt again).

Files (file exchange mode): one CSV per batch in the national template (UTF-8 with BOM so that Excel
opens it; headers Chinese or national codes) with five envelope columns in front, a JSON manifest with
counts and SHA-256 checksums, and receipt CSVs with a status column 1 accepted / 2 rejected. A cell whose
text a spreadsheet would run as a formula is written with a leading apostrophe (``file_cell``) and read back
without it (``file_value``); the manifest says so (``"formula_escape": "apostrophe"``).

Extension fields (``national.fields.Field.extension``: 案件名称, 救济渠道, 设定依据, 项目名称 — issue 17 item 11)
are never sent: the record's ``data`` and the batch files carry the 2019 template's columns only
(:func:`national_data`), because this envelope, like the national template it carries, has no place for
local fields, and a province that validates the template would reject unknown ones. A version that changed
only an extension field is still a new version (its content hash changed) and goes out as an update with
the same national values, which the province treats as a no-op resend.

Receipts are untrusted input: every field is coerced to text and cut to a bound (``MAX_*_CHARS``), control
characters are removed, and an item without a usable idempotency key or status is reported, not applied.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import stat
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from national import dataset as national_dataset
from national.clock import SHANGHAI
from national.safety import csv_text, formula_like, private_dir, write_private
from transforms.masking import mask_text
from upstream.errors import ContractError, ReceiptError, TerminalError

#: Namespace of record GUIDs: the same business key always gets the same GUID, on every machine.
RECORD_NAMESPACE = uuid.UUID("5d3c2b8e-9a4f-4c1e-8f0d-53475320636e")

#: 数据来源单位 and its USCC, per dataset (spec §1 #26–27, §2 #28–29).
SOURCE_UNIT: dict[str, tuple[str, str]] = {"cf": ("CF_SJLY", "CF_SJLYDM"), "xk": ("XK_LYDW", "XK_LYDWDM")}
DECISION_NUMBER: dict[str, str] = {"cf": "CF_WSH", "xk": "XK_WSH"}

ReceiptStatus = Literal["accepted", "rejected"]
Operation = Literal["I", "U", "D"]


def national_data(dataset: str, values: dict[str, Any]) -> dict[str, Any]:
    """The values that go upstream: the 2019 template's columns, in its order (extension fields left out)."""
    return {c: values.get(c) for c in national_dataset(dataset).template_columns}


def record_guid(dataset: str, business_key: str) -> str:
    """The record's platform-unique ID (32 hex), stable across versions so that U and D find the record."""
    return uuid.uuid5(RECORD_NAMESPACE, f"{dataset}|{business_key}").hex


@dataclass(frozen=True)
class OutgoingRecord:
    """One record version as it goes out (``operation`` is the effective one, see ``upstream.outbox``;
    ``outbox_id`` is the ``push_batch`` row that carries it)."""

    outbox_id: int
    idempotency_key: str
    dataset: str
    business_key: str
    version: int
    operation: str
    department: str
    created_at: dt.datetime
    data: dict[str, Any]
    #: the record's upstream_key (store.changelog.province_key): the business key the province first knew it
    #: by, when a migration re-keyed the store after that (issue 17); None: the business key
    upstream_key: str | None = None

    @property
    def record_id(self) -> str:
        return record_guid(self.dataset, self.upstream_key or self.business_key)


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

    def decode_receipts(self, body: bytes) -> list[Receipt]:
        """The receipts of one answer (a :class:`Receipts` may describe unusable items); :class:`ReceiptError`
        when the answer as a whole is not a receipt."""
        ...


class SgsJsonV1:
    """Our JSON envelope (spec §6 [D]); what the stand-in speaks."""

    name = "sgs-json-v1"
    path = "batches"
    content_type = "application/json; charset=utf-8"

    def encode_batch(self, batch_id: str, dataset: str, sender: dict[str, str | None], records: Sequence[OutgoingRecord]) -> bytes:
        doc = {"batch_id": batch_id, "dataset": dataset, "sender": sender, "records": [envelope(r) for r in records]}
        return json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8")

    def decode_receipts(self, body: bytes) -> Receipts:
        """The receipts of one answer. Raises :class:`ReceiptError` when the answer as a whole is unusable (not
        JSON, no ``receipts`` list, not one usable item); single unusable items are left out and described in
        ``Receipts.problems``."""
        hint = f"请与省平台核对接口版本（适配器 {self.name}）"
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise ReceiptError(f"省平台的应答不是 JSON 格式的回执（{type(exc).__name__}: {mask_text(str(exc)[:120])}）：{hint}") from None
        items = doc.get("receipts") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise ReceiptError(f"省平台的应答不是约定格式的回执（没有 receipts 列表，收到 {type(items).__name__}）：{hint}")
        out = Receipts()
        for i, x in enumerate(items, 1):
            try:
                out.append(coerce_receipt(x))
            except ValueError as exc:
                out.problem(f"第 {i} 条回执{exc}")
        if items and not out:
            raise ReceiptError(f"省平台的应答中没有一条可用的回执（{len(items)} 条都无效，例如：{out.problems[0]}）：{hint}")
        return out


#: Bounds of the province's receipt fields. ``code`` leaves room for the ``PROV-`` prefix in push_rejection.code
#: (40); our keys are 64 hex, a province's own key scheme gets twice that.
MAX_KEY_CHARS = 128
MAX_CODE_CHARS = 32
MAX_FIELD_CHARS = 64
MAX_MESSAGE_CHARS = 500
#: Problems kept per answer (the count is exact; the texts are examples for the operator).
MAX_PROBLEMS = 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Receipts(list[Receipt]):
    """Decoded receipts, plus the items that could not be used: ``bad`` counts them, ``problems`` describes the
    first :data:`MAX_PROBLEMS` of them (Chinese, each naming the item). Their rows get no receipt this run."""

    def __init__(self, items: Iterable[Receipt] = ()) -> None:
        super().__init__(items)
        self.bad = 0
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        self.bad += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)


def bounded_text(value: Any, limit: int) -> str | None:
    """Untrusted ``value`` as one line of at most ``limit`` characters (``None`` when empty): numbers become
    their text, lists/objects their JSON, control characters and lone surrogates (which PostgreSQL refuses) go,
    ID numbers are masked."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | int | float):
        text = str(value) if not isinstance(value, int) or abs(value) < 10**60 else "（过长的数字）"
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (ValueError, RecursionError):
            text = type(value).__name__
    # Masked before the final cut, with a margin: an ID number straddling the cut is masked whole, not half shown.
    text = mask_text(_CONTROL.sub(" ", text[: limit + 40]).encode("utf-8", "replace").decode("utf-8"))[:limit].strip()
    return text or None


def _show(value: Any) -> str:
    """A short, masked picture of an untrusted value for an error message."""
    return mask_text(repr(value)[:100])[:60]


def coerce_receipt(x: Any) -> Receipt:
    """One receipt item from the province, coerced and bounded; ``ValueError`` (Chinese) when it cannot be used:
    no idempotency key that could be ours, or a status that is neither accepted nor rejected."""
    if not isinstance(x, dict):
        raise ValueError(f"不是对象（{type(x).__name__}）")
    key = x.get("idempotency_key")
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"缺少幂等键 idempotency_key 或类型不对（{_show(key)}）")
    key = key.strip()
    if len(key) > MAX_KEY_CHARS or _CONTROL.search(key):
        raise ValueError(f"幂等键超过 {MAX_KEY_CHARS} 个字符或含控制字符（{_show(key)}）")
    status = x.get("status")
    status = status.strip().lower() if isinstance(status, str) else status
    if status not in ("accepted", "rejected"):
        raise ValueError(f"（幂等键 {key[:16]}…）的处理状态 status 无效（{_show(status)}），只能是 accepted 或 rejected")
    checked: ReceiptStatus = "accepted" if status == "accepted" else "rejected"
    dup = x.get("duplicate", False)
    return Receipt(
        idempotency_key=key,
        status=checked,
        code=bounded_text(x.get("code"), MAX_CODE_CHARS),
        message=bounded_text(x.get("message"), MAX_MESSAGE_CHARS),
        field=bounded_text(x.get("field"), MAX_FIELD_CHARS),
        duplicate=dup is True or (type(dup) is int and dup == 1) or (isinstance(dup, str) and dup.strip().lower() in ("true", "1", "yes")),
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
#: How a file marks text that a spreadsheet would run as a formula (written into every manifest).
FORMULA_ESCAPE = "apostrophe"
#: Largest receipt file read (bytes); ``PushSettings.max_response_bytes`` overrides it.
DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024


def file_cell(value: Any) -> Any:
    """A CSV cell of an exchange file: never a live formula, and reversible by :func:`file_value`.

    ``national.safety.csv_text`` puts an apostrophe before formula-like text. A value that already starts with
    apostrophes followed by formula-like text (``'=x``) gets one more, so that the reader, which removes exactly
    one apostrophe from such a cell, gives back every value unchanged (quoting alone would not do: a quoted
    ``"=1+1"`` is still a formula to Excel and WPS)."""
    if isinstance(value, str) and value.startswith("'") and formula_like(value.lstrip("'")):
        return "'" + value
    return csv_text(value)


def file_value(cell: str) -> str:
    """The value of an exchange-file cell written by :func:`file_cell`."""
    return cell[1:] if cell.startswith("'") and formula_like(cell.lstrip("'")) else cell


def batch_headers(dataset: str, header: Literal["zh", "code"]) -> list[str]:
    ds = national_dataset(dataset)
    env = [zh if header == "zh" else code for zh, code in FILE_ENVELOPE.values()]
    return env + ([f.name_zh for f in ds.template_fields] if header == "zh" else ds.template_columns)


def write_batch_file(path: Path, dataset: str, records: Sequence[OutgoingRecord], header: Literal["zh", "code"], *,
                     group: bool = False) -> dict[str, Any]:
    """Write one batch CSV (owner only, or group-readable with ``group``: :func:`exchange_folder`); returns its
    manifest entry (name, rows, bytes, sha256)."""
    ds = national_dataset(dataset)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(batch_headers(dataset, header))
    for r in records:
        env = envelope(r)
        w.writerow([file_cell(env[k]) for k in FILE_ENVELOPE]
                   + [("" if r.data.get(c) is None else file_cell(r.data.get(c))) for c in ds.template_columns])
    data = buf.getvalue().encode(FILE_ENCODING)
    _atomic_write(path, data, group=group)
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
        env = dict(zip(FILE_ENVELOPE, (file_value(v) for v in row[:n_env]), strict=True))
        data = {c: (file_value(v) if v != "" else None) for c, v in zip(ds.template_columns, row[n_env:], strict=True)}
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
        "formula_escape": FORMULA_ESCAPE,
        "header": header,
        "records": sum(f["rows"] for f in files),
        "operations": operations,
        "files": files,
    }


def write_manifest(path: Path, doc: dict[str, Any], *, group: bool = False) -> None:
    _atomic_write(path, json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8"), group=group)


def write_receipt_file(path: Path, receipts: Iterable[dict[str, Any]]) -> None:
    """A receipt CSV (the province's side): one row per record version."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(RECEIPT_COLUMNS)
    for r in receipts:
        w.writerow([file_cell(v) for v in (r["idempotency_key"], r.get("record_id") or "", "1" if r["status"] == "accepted" else "2",
                                           r.get("code") or "", r.get("field") or "", r.get("message") or "")])
    _atomic_write(path, buf.getvalue().encode(FILE_ENCODING))


def read_receipt_file(path: Path, *, max_bytes: int = DEFAULT_MAX_ANSWER_BYTES) -> list[Receipt]:
    """Receipts from a receipt CSV. The file is untrusted: anything that keeps it from being read whole
    (larger than ``max_bytes``, not UTF-8, not CSV, another header, a row without a usable key or status) raises
    :class:`ReceiptError` naming the file, and nothing of it is applied; fields are coerced and bounded."""
    name = path.name
    size = path.stat().st_size
    if size > max_bytes:
        raise ReceiptError(f"回执文件 {name} 有 {size} 字节，超过上限 {max_bytes} 字节（SGS_UPSTREAM_MAX_RESPONSE_BYTES）：请与省平台核对该文件")
    with path.open("rb") as fh:
        data = fh.read(max_bytes + 1)  # the file may have grown since stat()
    if len(data) > max_bytes:
        raise ReceiptError(f"回执文件 {name} 超过上限 {max_bytes} 字节：请与省平台核对该文件")
    try:
        text = data.decode(FILE_ENCODING)
    except UnicodeDecodeError as exc:
        raise ReceiptError(
            f"回执文件 {name} 不是 UTF-8 编码（第 {exc.start + 1} 字节起无法解码，可能是 GBK）：请省平台按约定以 UTF-8 重新生成，"
            "或转换为 UTF-8 后放回 inbound 目录"
        ) from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ReceiptError(f"回执文件 {name} 不是有效的 CSV（{exc}）：请与省平台核对该文件") from None
    if not rows or [file_value(c) for c in rows[0]] != RECEIPT_COLUMNS:
        raise ReceiptError(f"回执文件 {name} 的表头不是约定格式：应为 {','.join(RECEIPT_COLUMNS)}")
    out = []
    for i, row in enumerate(rows[1:], 2):
        if not row or not any(row):
            continue
        rec = {k: file_value(v) for k, v in zip(RECEIPT_COLUMNS, row, strict=False)}
        try:
            out.append(coerce_receipt({"idempotency_key": rec.get("幂等键"), "status": RECEIPT_STATUS.get(rec.get("处理状态", "").strip()),
                                       "code": rec.get("规则编号"), "field": rec.get("字段"), "message": rec.get("说明")}))
        except ValueError:
            raise ReceiptError(
                f"回执文件 {name} 第 {i} 行的幂等键或处理状态无效（处理状态只能是 1 接收、2 退回；幂等键不超过 {MAX_KEY_CHARS} 个字符）"
            ) from None
    return out


#: Modes with ``PushSettings.exchange_group``: the province's transfer agent, another OS user in the platform's
#: group, reads batch files, removes them from ``outbound/`` and drops receipt files into ``inbound/``.
GROUP_DIR_MODE = 0o770
GROUP_FILE_MODE = 0o640


def exchange_folder(path: Path, *, group: bool = False) -> Path:
    """Create ``path`` and its missing parents: ``0700`` (``national.safety.private_dir``), or ``0770`` with
    ``group``. Exchange files hold whole records, natural persons' ID numbers included, so nothing is left to
    the umask; folders that already exist keep their mode (an operator may have set them up on purpose)."""
    missing = []
    q = path
    while not q.exists() and q != q.parent:
        missing.append(q)
        q = q.parent
    private_dir(path)
    if group:
        for d in missing:
            # Explicit (the umask would take the group's write bit away), keeping a set-group-ID bit inherited
            # from the exchange folder: files below it then belong to the shared group (docs/upstream.md).
            os.chmod(d, GROUP_DIR_MODE | (d.stat().st_mode & stat.S_ISGID))
    return path


def _atomic_write(path: Path, data: bytes, *, group: bool = False) -> None:
    """Write then rename: the province never picks up half a file. The ``.part`` file is ``0600`` from its
    creation (``write_private``), so the records are never readable by others, not even for a moment."""
    exchange_folder(path.parent, group=group)
    tmp = path.with_name(path.name + ".part")
    write_private(tmp, data)
    if group:
        os.chmod(tmp, GROUP_FILE_MODE)
    tmp.replace(path)
