"""``sgs push`` killed mid-flight, and two pushes started together (issue 18 item 3).

The stand-in de-duplicates by idempotency key, so ``applied_twice == 0`` alone proves little. Here the push is a
real subprocess, SIGKILLed before a request, while a request is in flight, or after the answer arrived but
before its receipts were stored; then the next push runs. What the province holds is compared with the store:
every record once, at its current version, accepted or rejected, nothing left pending; no key applied twice and
no version overtaking another. The dead push's lease lapses after ``SGS_UPSTREAM_LEASE_SECONDS`` (its heartbeat
stops with it): a push right after the kill is refused, one after the lease goes ahead and marks the dead run
``interrupted``.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.schema import record_tables, upstream_run
from tests.upstream.helpers import deliveries, fast, load, penalty
from upstream.envelope import record_guid
from upstream.errors import PushLocked
from upstream.push import push
from upstream.standin.server import StandinServer

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("push_kill_child.py")
LEASE = 5  # seconds: short, so the test waits little; production default 60
SEED = int(os.environ.get("SGS_FAULT_SEED") or random.SystemRandom().randrange(1_000_000))


def _child(mode: str, n: int, store: Engine, **env: str) -> subprocess.Popen[str]:
    full = {
        **os.environ,
        "SGS_STORE_URL": store.url.render_as_string(hide_password=False),
        "SGS_UPSTREAM_LEASE_SECONDS": str(LEASE),
        "SGS_UPSTREAM_BATCH_SIZE": "5",
        "SGS_UPSTREAM_TIMEOUT": "5",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        **env,
    }
    return subprocess.Popen([sys.executable, str(CHILD), mode, str(n)], env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _province_matches_the_store(store: Engine, province: StandinServer) -> None:
    rows = deliveries(store)
    assert rows and all(r["state"] in ("accepted", "rejected") for r in rows), [r for r in rows if r["state"] not in ("accepted", "rejected")]
    rec = record_tables["cf"]
    with store.connect() as c:
        current = {record_guid("cf", k): v for k, v in c.execute(sa.select(rec.c.business_key, rec.c.version))}
    with closing(sqlite3.connect(province.db_path)) as db:
        held = dict(db.execute("SELECT record_id, version FROM records").fetchall())
        applied = db.execute("SELECT record_id, version FROM applications ORDER BY seq").fetchall()
        rejected = {r for (r,) in db.execute("SELECT record_id FROM receipts WHERE status = 'rejected'")}
    # Every record once, at its current version (a rejected one is not held, but its current version was applied).
    assert {k: v for k, v in current.items() if k not in rejected} == held
    assert sorted(applied) == sorted(current.items())  # each current version applied exactly once, nothing else
    stats = province.stats()
    assert stats["applied_twice"] == 0 and stats["out_of_order"] == 0


@pytest.mark.parametrize("mode", ["before-request", "in-flight", "after-response"])
def test_a_push_killed_mid_flight_then_the_next_push_delivers_everything_once(
    mode: str, store: Engine, province: StandinServer
) -> None:
    rng = random.Random(f"{SEED}-{mode}")
    load(store, [penalty(i) for i in range(30)] + [penalty("测试X")])  # 测试X: rejected by the province (PROV-103)
    load(store, [penalty(i, CF_NR_FK="0.5") for i in range(0, 30, 3)])  # version 2 of ten: only it goes out
    n = rng.randint(1, 6)  # which of the 7 batches of 5
    if mode == "in-flight":
        province.set_faults(latency_ms=1500)  # the request is still in flight when the process dies
    proc = _child(mode, n, store, SGS_KILL_AFTER="0.3")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == -9, f"seed {SEED}: the push was not killed (rc {proc.returncode}): {err[-2000:]}"
    province.set_faults()
    with store.connect() as c:
        dead = c.execute(sa.select(upstream_run.c.id, upstream_run.c.status)).all()
    assert [s for _, s in dead] == ["running"], dead  # the killed push could not say anything

    # Within the lease the dead push still holds it; after it, the next push goes ahead.
    with pytest.raises(PushLocked):
        push(store, fast(lease_seconds=LEASE), trigger="test")
    time.sleep(LEASE + 0.5)
    result = push(store, fast(lease_seconds=LEASE), trigger="test")
    assert result.status == "success", result
    with store.connect() as c:
        statuses = dict(c.execute(sa.select(upstream_run.c.id, upstream_run.c.status)).all())
    assert statuses[dead[0][0]] == "interrupted" and statuses[result.run_id] == "success"
    _province_matches_the_store(store, province)
    # The batch the dead push had sent or was about to send went out again by key: the province saw it
    # twice at most and applied it once.
    stats = province.stats()
    if mode != "before-request":
        assert stats["duplicate_deliveries"] >= 1, (f"seed {SEED}", stats)


def test_a_live_push_keeps_its_lease_through_a_slow_province(store: Engine, province: StandinServer) -> None:
    """The heartbeat is beaten from a thread: a push waiting longer than the lease for slow answers is not
    taken for dead, and a second push meanwhile is refused."""
    load(store, [penalty(i) for i in range(10)])
    # Each answer takes longer than the lease: a heartbeat beaten only per batch (as before) would be older than
    # the lease while the first answer is awaited, and the second push would take the lease over.
    province.set_faults(latency_ms=int(LEASE * 1000 * 1.6))
    proc = _child("none", 0, store, SGS_UPSTREAM_TIMEOUT="30")
    assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    time.sleep(LEASE + 2)  # the first push is still waiting for its first answer, beyond one lease
    with pytest.raises(PushLocked):
        push(store, fast(lease_seconds=LEASE), trigger="test")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    province.set_faults()
    _province_matches_the_store(store, province)


def test_two_pushes_started_together_one_runs_the_other_is_refused(store: Engine, province: StandinServer) -> None:
    """Both processes pause for a second between the lease's check and taking it (``race`` mode): without
    serialising the lease in the store both would find it free and push side by side."""
    load(store, [penalty(i) for i in range(20)])
    start_at = str(time.time() + 6)  # both processes have imported everything by then
    procs = [_child("race", 0, store, SGS_START_AT=start_at) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], [(p.returncode, err[-1500:]) for p, (_, err) in zip(procs, outs, strict=True)]
    refused = next(err for p, (_, err) in zip(procs, outs, strict=True) if p.returncode == 1)
    assert "另一个推送" in refused, refused[-1500:]
    with store.connect() as c:
        statuses = [s for (s,) in c.execute(sa.select(upstream_run.c.status).order_by(upstream_run.c.id))]
    assert statuses == ["success"], statuses  # the refused push opened no run
    _province_matches_the_store(store, province)
