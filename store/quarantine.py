"""The quarantine (问题数据): the only writer of ``quarantine`` rows.

Three things open, touch or close entries: a chunk's rejected rows (:func:`add_rejected_rows`), a corrected
row that changed a record (:func:`resolve_fixed`), and the province's rejection of a record version
(:func:`add_province_rejection`). At most one entry per source row is ``open``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from national.issues import Issue, issue_dict
from store import bulk
from store.keys import bounded_key, storable_json
from store.schema import quarantine

#: Rule ids of the province's verdicts start with this (quarantine.rule_ids, the 问题数据 export).
PROVINCE_RULE_PREFIX = "PROV-"


def _open_by(conn: Connection, department: str, ds: str, column: str, keys: list[str]) -> list[sa.Row[Any]]:
    stmt = (
        sa.select(quarantine.c.id, quarantine.c.source_pk, quarantine.c.business_key, quarantine.c.raw_hash)
        .where(quarantine.c.department == department, quarantine.c.dataset == ds, quarantine.c.status == "open")
    )
    return bulk.select_where_in(conn, stmt, quarantine.c[column], keys)


def add_rejected_rows(
    conn: Connection, department: str, ds: str, run_id: int, now: dt.datetime, *, source_pks: Sequence[str],
    raws: Sequence[str | None], keys: Sequence[str], payloads: Sequence[str], issues: Sequence[Sequence[Issue | dict[str, str]]],
) -> None:
    """Rows of a chunk that failed a rule: a new open entry, or the same bad row read again (touched), or a
    newer bad version of the row (the old entry superseded by a new one). Sequences are per rejected row."""
    if not source_pks:
        return
    open_rows = {r.source_pk: r for r in _open_by(conn, department, ds, "source_pk", list(source_pks))}
    new_entries: list[dict[str, Any]] = []
    touch: list[int] = []
    supersede: list[int] = []
    for pk, raw, key, payload, found in zip(source_pks, raws, keys, payloads, issues, strict=True):
        row_issues = [issue_dict(x) for x in found]
        if raw is None:  # the builder of the batch must give every rejected row its source JSON
            raise ValueError(f"{department}/{ds}: rejected row {pk} has no source JSON (raw)")
        raw_hash = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).digest()[:16]
        prev = open_rows.get(pk)
        if prev is not None and bytes(prev.raw_hash) == raw_hash:
            touch.append(prev.id)
            continue
        if prev is not None:
            supersede.append(prev.id)
        errors = [x for x in row_issues if x.get("severity") == "error"]
        new_entries.append({
            "department": department,
            "dataset": ds,
            "source_pk": pk,
            # The row is kept whole in raw and national; the key columns hold the bounded key.
            "business_key": bounded_key(key) if key.strip("|") else None,
            "raw_hash": raw_hash,
            "raw": storable_json(raw),
            "national": storable_json(payload),
            "issues": storable_json(json.dumps(row_issues, ensure_ascii=False)),
            "rule_ids": ",".join(sorted({x["rule"] for x in errors}))[:1000],
            "status": "open",
            "first_seen_at": now,
            "last_seen_at": now,
            "resolved_at": None,
            "first_run_id": run_id,
            "last_run_id": run_id,
        })
    bulk.update_where_in(conn, quarantine, touch, last_seen_at=now, last_run_id=run_id)
    bulk.update_where_in(conn, quarantine, supersede, status="superseded", resolved_at=now, last_run_id=run_id)
    if new_entries:
        cols = list(new_entries[0])
        bulk.insert_rows(conn, quarantine, cols, [tuple(r[c] for c in cols) for r in new_entries])


def resolve_fixed(conn: Connection, department: str, ds: str, run_id: int, now: dt.datetime, *,
                  source_pks: list[str], business_keys: list[str]) -> None:
    """Rows that changed a record close the open entries of the same source row or the same decision."""
    if not source_pks:
        return
    fixed = {r.id for r in _open_by(conn, department, ds, "source_pk", source_pks)}
    fixed |= {r.id for r in _open_by(conn, department, ds, "business_key", business_keys)}
    bulk.update_where_in(conn, quarantine, sorted(fixed), status="fixed", resolved_at=now, last_run_id=run_id)


def province_rule_id(code: str | None) -> str:
    code = (code or "UNSPECIFIED").strip()
    return code if code.startswith(PROVINCE_RULE_PREFIX) else PROVINCE_RULE_PREFIX + code


def add_province_rejection(
    conn: Connection, *, department: str, ds: str, source_pk: str, business_key: str, national: str,
    issue: dict[str, str], raw: dict[str, Any], key: str, run_id: int, now: dt.datetime,
) -> None:
    """A version the province rejected joins the department's 问题数据 with the province's reason, so that
    ``sgs quarantine export`` hands it back to the clerk like any rule failure of our own.

    One open entry per source row: an open entry that only holds earlier province rejections is superseded
    by this one; an open entry of our own rules (a newer bad source row) keeps its problems and gets the
    province's problem added.
    """
    open_entry = conn.execute(
        sa.select(quarantine).where(
            quarantine.c.department == department,
            quarantine.c.dataset == ds,
            quarantine.c.source_pk == source_pk,
            quarantine.c.status == "open",
        )
    ).mappings().one_or_none()
    if open_entry is not None:
        rules = [r for r in (open_entry["rule_ids"] or "").split(",") if r]
        if rules and not all(r.startswith(PROVINCE_RULE_PREFIX) for r in rules):
            issues = json.loads(open_entry["issues"]) + [issue]
            conn.execute(
                quarantine.update()
                .where(quarantine.c.id == open_entry["id"])
                .values(
                    issues=json.dumps(issues, ensure_ascii=False),
                    rule_ids=",".join(sorted(set(rules) | {issue["rule"]}))[:1000],
                    last_seen_at=now,
                )
            )
            return
        conn.execute(quarantine.update().where(quarantine.c.id == open_entry["id"]).values(status="superseded", resolved_at=now))
    conn.execute(
        quarantine.insert().values(
            department=department,
            dataset=ds,
            source_pk=source_pk,
            business_key=business_key,
            raw_hash=hashlib.sha256(f"{key}|{issue['rule']}".encode("utf-8", "surrogatepass")).digest()[:16],
            raw=json.dumps(raw, ensure_ascii=False),
            national=national,
            issues=json.dumps([issue], ensure_ascii=False),
            rule_ids=issue["rule"][:1000],
            status="open",
            first_seen_at=now,
            last_seen_at=now,
            first_run_id=run_id,
            last_run_id=run_id,
        )
    )
