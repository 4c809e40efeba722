"""The files an inbox loaded (方式三, ``pipeline.inbox``): the only writer of ``inbox_file``.

A file's row is inserted in the transaction that loads its rows (:func:`claim`, :func:`record_counts`), so a
kill leaves either the rows and the row, or neither; its receipt is marked written afterwards
(:func:`mark_receipt`). The unique (department, content hash) makes a second process loading the same file
wait for the first and then fail instead of loading it again.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.db import inserted_id
from store.schema import inbox_file, quarantine


@dataclass(frozen=True)
class LoadedFile:
    """A file an inbox loaded, as its row holds it."""

    id: int
    department: str
    content_hash: str
    file_name: str
    size: int
    members: list[dict[str, Any]]
    quarantined: int
    loaded_at: dt.datetime
    receipt_at: dt.datetime | None
    receipt_name: str | None


def _of(row: Any) -> LoadedFile:
    loaded = row.loaded_at if row.loaded_at.tzinfo else row.loaded_at.replace(tzinfo=dt.UTC)  # SQLite: naive UTC
    return LoadedFile(row.id, row.department, row.content_hash, row.file_name, int(row.size), json.loads(row.members),
                      int(row.quarantined), loaded, row.receipt_at, row.receipt_name)


def find(engine: Engine | Connection, department: str, content_hash: str) -> LoadedFile | None:
    """The department's file with this content, if an inbox loaded it."""
    stmt = sa.select(inbox_file).where(inbox_file.c.department == department, inbox_file.c.content_hash == content_hash)
    if isinstance(engine, Connection):
        row = engine.execute(stmt).one_or_none()
    else:
        with engine.connect() as conn:
            row = conn.execute(stmt).one_or_none()
    return None if row is None else _of(row)


def claim(conn: Connection, department: str, content_hash: str, file_name: str, size: int, now: dt.datetime) -> int:
    """Insert the file's row first in its load transaction (a second loader of the same content waits on the
    unique key, then fails with an IntegrityError). Returns its id."""
    return inserted_id(conn.execute(inbox_file.insert().values(
        department=department, content_hash=content_hash, file_name=file_name, size=size, members="[]",
        quarantined=0, loaded_at=now,
    )))


def record_counts(conn: Connection, file_id: int, members: list[dict[str, Any]]) -> None:
    """The file's per-template counts, in its load transaction."""
    conn.execute(inbox_file.update().where(inbox_file.c.id == file_id).values(
        members=json.dumps(members, ensure_ascii=False), quarantined=sum(int(m["quarantined"]) for m in members),
    ))


def mark_receipt(engine: Engine, file_id: int, receipt_name: str) -> None:
    """The receipt workbook is written (the file may still wait to be moved)."""
    with engine.begin() as conn:
        conn.execute(inbox_file.update().where(inbox_file.c.id == file_id).values(
            receipt_at=dt.datetime.now(dt.UTC), receipt_name=receipt_name,
        ))


def problems(engine: Engine, department: str, run_ids: list[int]) -> list[dict[str, Any]]:
    """The quarantine entries the file's runs opened (its bad rows), whatever became of them since: source pk,
    national values and findings."""
    if not run_ids:
        return []
    stmt = (
        sa.select(quarantine.c.dataset, quarantine.c.source_pk, quarantine.c.national, quarantine.c.issues)
        .where(quarantine.c.department == department, quarantine.c.first_run_id.in_(run_ids))
        .order_by(quarantine.c.id)
    )
    with engine.connect() as conn:
        return [
            {"dataset": r.dataset, "source_pk": r.source_pk, "national": json.loads(r.national), "issues": json.loads(r.issues)}
            for r in conn.execute(stmt)
        ]


def recent(engine: Engine, department: str | None = None, limit: int = 20) -> list[LoadedFile]:
    """The latest loaded files, newest first."""
    stmt = sa.select(inbox_file).order_by(inbox_file.c.id.desc()).limit(limit)
    if department:
        stmt = stmt.where(inbox_file.c.department == department)
    with engine.connect() as conn:
        return [_of(r) for r in conn.execute(stmt)]
