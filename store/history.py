"""The history of superseded record versions (``record_version``) and the audit questions over both tables.

The current version of a record is the record itself (``record_<ds>``). When a record is updated or
withdrawn, its version until then moves here (written only by :func:`write`, called by ``store.records``);
a first load writes nothing here. "What did this record look like at time T / in version N" is answered by
:func:`as_of` and :func:`version_of` over both tables, with the shape the all-versions history had:
``version, operation, department, source_pk, content_hash, payload (dict), run_id, loaded_at``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from national import dataset
from national.text import text_value
from store import bulk
from store.schema import record_tables, record_version

#: Columns of a history row (what :func:`write` takes per version).
COLUMNS = ("business_key", "version", "operation", "department", "source_pk", "content_hash", "payload", "run_id", "loaded_at")


def write(conn: Connection, ds: str, rows: dict[str, Any], n: int) -> None:
    """Insert ``n`` superseded versions of ``ds`` given column by column (see :data:`COLUMNS`)."""
    if n:
        bulk.insert_columns(conn, record_version, {"dataset": ds, **rows}, n)


def record_payload(ds: str, row: Any) -> str:
    """The national values of a record row (a mapping of its columns) as the history's JSON payload: the template's
    columns, then the extension fields that are filled (an empty one is left out, as in ``store.rows.keyed``)."""
    d = dataset(ds)
    values = {c: text_value(row[c.lower()]) for c in d.template_columns}
    for c in d.extension_columns:
        v = row.get(c.lower()) if hasattr(row, "get") else row[c.lower()]
        if v is not None:
            values[c] = text_value(v)
    return json.dumps(values, ensure_ascii=False)


def current_as_version(ds: str, row: Any) -> dict[str, Any]:
    """A record row as a history row (its current version): what moves to the history when it is superseded."""
    return {
        "business_key": row["business_key"], "version": row["version"], "operation": row["operation"],
        "department": row["department"], "source_pk": row["source_pk"], "content_hash": bytes(row["content_hash"]),
        "payload": record_payload(ds, row), "run_id": row["run_id"], "loaded_at": row["updated_at"],
    }


def _decoded(d: dict[str, Any], *, current: bool) -> dict[str, Any]:
    out = {c: d[c] for c in COLUMNS}
    out["content_hash"] = bytes(out["content_hash"])
    out["payload"] = json.loads(out["payload"])
    out["current"] = current
    return out


def versions(conn: Connection, ds: str, business_key: str) -> list[dict[str, Any]]:
    """Every version of a record, oldest first: the superseded ones and the current one."""
    table = record_tables[ds]
    past = conn.execute(
        sa.select(record_version).where(record_version.c.dataset == ds, record_version.c.business_key == business_key)
        .order_by(record_version.c.version)
    ).mappings().all()
    out = [_decoded(dict(r), current=False) for r in past]
    row = conn.execute(sa.select(table).where(table.c.business_key == business_key)).mappings().one_or_none()
    if row is not None:
        out.append(_decoded(current_as_version(ds, row), current=True))
    return out


def version_of(conn: Connection, ds: str, business_key: str, version: int) -> dict[str, Any] | None:
    """Version ``version`` of a record (``None``: no such version)."""
    table = record_tables[ds]
    row = conn.execute(
        sa.select(table).where(table.c.business_key == business_key, table.c.version == version)
    ).mappings().one_or_none()
    if row is not None:
        return _decoded(current_as_version(ds, row), current=True)
    past = conn.execute(
        sa.select(record_version).where(
            record_version.c.dataset == ds, record_version.c.business_key == business_key, record_version.c.version == version
        )
    ).mappings().one_or_none()
    return _decoded(dict(past), current=False) if past is not None else None


def as_of(conn: Connection, ds: str, business_key: str, at: dt.datetime) -> dict[str, Any] | None:
    """The version of a record that was current at ``at`` (the newest one loaded at or before it; ``None``:
    the record did not exist yet)."""
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    found = None
    for v in versions(conn, ds, business_key):
        loaded = v["loaded_at"] if v["loaded_at"].tzinfo else v["loaded_at"].replace(tzinfo=dt.UTC)
        if loaded <= at:
            found = v
    return found


def versions_for(conn: Connection, ds: str, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
    """Many ``(business_key, version)`` at once (a push batch sent again): current ones from the records,
    the others from the history."""
    table = record_tables[ds]
    wanted = set(pairs)
    keys = sorted({k for k, _ in wanted})
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for row in bulk.select_where_in(conn, sa.select(table), table.c.business_key, keys):
        m = row._mapping
        if (m["business_key"], m["version"]) in wanted:
            out[(m["business_key"], m["version"])] = _decoded(current_as_version(ds, m), current=True)
    missing = sorted({k for k, v in wanted if (k, v) not in out})
    stmt = sa.select(record_version).where(record_version.c.dataset == ds)
    for row in bulk.select_where_in(conn, stmt, record_version.c.business_key, missing):
        m = row._mapping
        if (m["business_key"], m["version"]) in wanted:
            out[(m["business_key"], m["version"])] = _decoded(dict(m), current=False)
    return out
