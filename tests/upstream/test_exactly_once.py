"""Exactly-once delivery against a misbehaving stand-in: 500s, dropped connections, timeouts and a crash
with restart in the middle of a push.

Definition asserted here (``upstream.standin.store``): every outbox key is *applied* (processed by the
province's rules) exactly once — ``applied_keys`` equals the outbox and ``applied_twice`` is 0. Repeated
*deliveries* of a key after a lost answer are expected under these faults and counted separately
(``duplicate_deliveries`` > 0 proves the faults really hit processed batches); the province answers them
with the first receipt, and every receipt ends up in the outbox.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

from sqlalchemy.engine import Engine

from tests.upstream.helpers import deliveries, fast, load, penalty
from upstream.push import push
from upstream.standin.server import StandinServer


def test_every_record_is_applied_exactly_once_despite_faults_and_a_restart(store: Engine, province: StandinServer) -> None:
    load(store, [penalty(i) for i in range(40)] + [penalty("测试X")])
    load(store, [penalty(i, CF_NR_FK="0.5") for i in range(0, 40, 4)])  # version 2 of ten records: only it goes out
    # Request n (counted since this call): 3, 6, 9 → 500 unprocessed; 4 → processed, connection dropped;
    # 5 → processed, answered after the client's 1 s timeout; 8 → processed, then the process dies.
    # The supervisor restarts it on the same port and SQLite file; the restarted process has no faults.
    province.set_faults(error_every=3, drop_every=4, hang_every=5, hang_ms=1500, crash_at=8, latency_ms=20)
    province.supervise()

    result = push(store, fast(batch_size=5, timeout=1.0), trigger="test")

    rows = deliveries(store)
    assert len(rows) == 41 and sum(r["version"] == 2 for r in rows) == 10
    assert result.status == "success" and result.no_receipt == 0
    assert all(r["state"] in ("accepted", "rejected") for r in rows)
    assert sum(r["state"] == "rejected" for r in rows) == 1
    assert result.retries >= 5 and province.restarts == 1

    stats = province.stats()
    assert stats["applied_keys"] == 41 and stats["applied_twice"] == 0
    assert stats["duplicate_deliveries"] >= 3  # drop, hang and crash each lost the answer to a processed batch
    assert stats["duplicate_deliveries"] == stats["deliveries"] - 41
    assert stats["out_of_order"] == 0
    # Replays whose answer arrived; a replay can itself lose its answer, hence ≤.
    assert 0 < result.duplicate_receipts <= stats["duplicate_deliveries"]
    with closing(sqlite3.connect(province.db_path)) as db:
        receipts = dict(db.execute("SELECT idempotency_key, status FROM receipts").fetchall())
    assert receipts == {r["idempotency_key"]: r["state"] for r in rows}


def test_the_duplicate_counter_catches_a_province_that_applies_a_key_twice(sqlite_store: Engine, province: StandinServer) -> None:
    """Negative control: with de-duplication switched off, a lost answer makes the retry apply again."""
    load(sqlite_store, [penalty(i) for i in range(4)])
    province.set_faults(drop_every=1, double_apply=True)
    province.supervise()
    import threading

    # Every answer is dropped: switch the drop off after the first one so the retry gets through.
    def heal() -> None:
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and province.stats()["injected"]["drop"] == 0:
            time.sleep(0.02)
        province.set_faults(double_apply=True)

    t = threading.Thread(target=heal)
    t.start()
    push(sqlite_store, fast(batch_size=10), trigger="test")
    t.join()
    assert province.stats()["applied_twice"] == 4
