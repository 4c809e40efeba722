"""The stand-in's storage (SQLite): every delivery, the first receipt per idempotency key, the records.

Definitions used by the tests (``stats()``):

- a *delivery* is one record envelope received (over HTTP or in a file), whatever happens to it;
- an *application* is a delivery the province actually processed (ran its rules, accepted or rejected);
  a delivery of a key already processed is answered with the first receipt again (``duplicate``) and is
  NOT an application;
- ``duplicate_deliveries`` = deliveries − distinct keys delivered: retries after a lost answer. They are
  harmless and expected under faults;
- ``applied_twice`` = keys applied more than once. Exactly-once means ``applied_twice == 0`` and every
  outbox key applied once. Only the ``double_apply`` fault (de-duplication switched off) makes it non-zero;
- ``out_of_order`` = applications whose version is not above an earlier application of the same record.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from national.clock import today_shanghai
from upstream.standin.rules import RULES, check_content

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, idempotency_key TEXT NOT NULL, record_id TEXT NOT NULL,
    version INTEGER NOT NULL, operation TEXT NOT NULL, batch_id TEXT, channel TEXT NOT NULL,
    duplicate INTEGER NOT NULL, received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, idempotency_key TEXT NOT NULL, record_id TEXT NOT NULL,
    version INTEGER NOT NULL, operation TEXT NOT NULL, status TEXT NOT NULL, code TEXT, applied_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS receipts (
    idempotency_key TEXT PRIMARY KEY, record_id TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL,
    code TEXT, field TEXT, message TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    record_id TEXT PRIMARY KEY, dataset TEXT NOT NULL, version INTEGER NOT NULL, operation TEXT NOT NULL,
    live INTEGER NOT NULL, data TEXT NOT NULL, updated_at TEXT NOT NULL);
"""


class ProvinceStore:
    """Thread-safe (one lock): uvicorn runs sync work in a thread pool."""

    def __init__(self, path: Path, *, blacklist: str) -> None:
        self.path = path
        self.blacklist = re.compile(blacklist)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def apply_batch(
        self, batch_id: str, records: Sequence[dict[str, Any]], *, channel: str = "http", double_apply: bool = False,
        today: dt.date | None = None,
    ) -> list[dict[str, Any]]:
        """Process one batch in one transaction; one receipt per record, in order."""
        now = dt.datetime.now(dt.UTC).isoformat()
        today = today or today_shanghai()
        out: list[dict[str, Any]] = []
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for rec in records:
                    key = rec["idempotency_key"]
                    prior = db.execute(
                        "SELECT idempotency_key, record_id, status, code, field, message FROM receipts WHERE idempotency_key = ?", (key,)
                    ).fetchone()
                    db.execute(
                        "INSERT INTO deliveries (idempotency_key, record_id, version, operation, batch_id, channel, duplicate, received_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (key, rec["record_id"], rec["version"], rec["operation"], batch_id, channel, int(prior is not None), now),
                    )
                    if prior is not None and not double_apply:
                        out.append({**dict(zip(("idempotency_key", "record_id", "status", "code", "field", "message"), prior, strict=True)),
                                    "duplicate": True})
                        continue
                    status, code, field, message = self._evaluate(rec, today)
                    db.execute(
                        "INSERT INTO applications (idempotency_key, record_id, version, operation, status, code, applied_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (key, rec["record_id"], rec["version"], rec["operation"], status, code, now),
                    )
                    if status == "accepted":
                        db.execute(
                            "INSERT INTO records (record_id, dataset, version, operation, live, data, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                            " ON CONFLICT(record_id) DO UPDATE SET version=excluded.version, operation=excluded.operation,"
                            " live=excluded.live, data=excluded.data, updated_at=excluded.updated_at",
                            (rec["record_id"], rec["dataset"], rec["version"], rec["operation"], int(rec["operation"] != "D"),
                             json.dumps(rec.get("data") or {}, ensure_ascii=False), now),
                        )
                    db.execute(
                        "INSERT OR IGNORE INTO receipts (idempotency_key, record_id, version, status, code, field, message, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (key, rec["record_id"], rec["version"], status, code, field, message, now),
                    )
                    out.append({"idempotency_key": key, "record_id": rec["record_id"], "status": status, "code": code,
                                "field": field, "message": message, "duplicate": prior is not None})
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return out

    def _evaluate(self, rec: dict[str, Any], today: dt.date) -> tuple[str, str | None, str | None, str]:
        current = self._db.execute("SELECT version, live FROM records WHERE record_id = ?", (rec["record_id"],)).fetchone()
        if current is not None and rec["version"] <= current[0]:
            return "rejected", "PROV-105", None, RULES["PROV-105"].format(value=rec["version"], current=current[0])
        if rec["operation"] in ("U", "D") and (current is None or not current[1]):
            return "rejected", "PROV-104", None, RULES["PROV-104"]
        if rec["operation"] != "D":
            broken = check_content(rec, today, self.blacklist)
            if broken:
                return "rejected", broken[0], broken[1], broken[2]
        return "accepted", None, None, "已接收"

    def stats(self) -> dict[str, int]:
        """Counters (see the module docstring for the definitions)."""
        with self._lock:
            q = self._db.execute
            deliveries = q("SELECT COUNT(*) FROM deliveries").fetchone()[0]
            delivered_keys = q("SELECT COUNT(DISTINCT idempotency_key) FROM deliveries").fetchone()[0]
            applied_keys = q("SELECT COUNT(DISTINCT idempotency_key) FROM applications").fetchone()[0]
            applied_twice = q(
                "SELECT COUNT(*) FROM (SELECT idempotency_key FROM applications GROUP BY idempotency_key HAVING COUNT(*) > 1)"
            ).fetchone()[0]
            by_status = dict(q("SELECT status, COUNT(*) FROM receipts GROUP BY status").fetchall())
            live = q("SELECT COUNT(*) FROM records WHERE live = 1").fetchone()[0]
            withdrawn = q("SELECT COUNT(*) FROM records WHERE live = 0").fetchone()[0]
            seen: dict[str, int] = {}
            out_of_order = 0
            for record_id, version in q("SELECT record_id, version FROM applications ORDER BY seq"):
                if record_id in seen and version <= seen[record_id]:
                    out_of_order += 1
                seen[record_id] = max(version, seen.get(record_id, 0))
        return {
            "deliveries": deliveries,
            "delivered_keys": delivered_keys,
            "duplicate_deliveries": deliveries - delivered_keys,
            "applied_keys": applied_keys,
            "applied_twice": applied_twice,
            "accepted": by_status.get("accepted", 0),
            "rejected": by_status.get("rejected", 0),
            "records_live": live,
            "records_withdrawn": withdrawn,
            "out_of_order": out_of_order,
        }
