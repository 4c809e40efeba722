"""The same DAGs on Airflow's CeleryExecutor (``scripts/cluster.sh``): two workers, Redis, PostgreSQL.

Driven as an operator does: Airflow's REST API (``/api/v2``) with a token from its own ``POST /auth/token``,
the UI in headless Chromium. The central store is compared with an uninterrupted ``sgs ingest`` of the same
sources into a separate store (records with content hashes and versions, quarantine, watermarks, superseded versions in the history, change operations).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from demo import add_demo_changes
from store.changelog import delivery_states
from store.schema import ingest_run, push_batch, quarantine, record_tables, record_version, upstream_run, watermark
from tests.cluster.harness import BIG_ROWS, Cluster
from upstream.standin.server import StandinServer

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
ROOT = Path(__file__).resolve().parents[2]
DEMO = ("scjgj", "sthjj", "wsjkw")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def snapshot(url: str, departments: tuple[str, ...]) -> dict[str, Any]:
    """What an ingest leaves in a store, for the given departments (push receipts excluded)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    out: dict[str, Any] = {}
    with engine.connect() as c:
        for name, t in record_tables.items():
            out[f"records_{name}"] = sorted(
                tuple(r) for r in c.execute(sa.select(t.c.department, t.c.business_key, t.c.content_hash, t.c.version, t.c.status)
                                            .where(t.c.department.in_(departments))))
        q = quarantine.c
        out["quarantine"] = sorted(tuple(r) for r in c.execute(
            sa.select(q.department, q.dataset, q.source_pk, q.rule_ids, q.status)
            .where(q.department.in_(departments), ~q.rule_ids.like("PROV-%"))))
        out["watermarks"] = sorted(tuple(r) for r in c.execute(
            sa.select(watermark.c.department, watermark.c.dataset, watermark.c.cursor_value)
            .where(watermark.c.department.in_(departments))))
        # The history (superseded versions) and each record's last operation: what the push would send.
        out["history"] = sorted(tuple(r) for r in c.execute(
            sa.select(record_version.c.dataset, record_version.c.business_key, record_version.c.version,
                      record_version.c.operation, record_version.c.content_hash)
            .where(record_version.c.department.in_(departments))))
        for name, t in record_tables.items():
            out[f"operations_{name}"] = sorted(tuple(r) for r in c.execute(
                sa.select(t.c.business_key, t.c.operation).where(t.c.department.in_(departments))))
    engine.dispose()
    return out


def reference_ingest(cluster: Cluster, codes: tuple[str, ...], name: str) -> subprocess.Popen[str]:
    """``sgs ingest`` of the departments, one after the other, into the reference SQLite store ``name``."""
    url = f"sqlite:///{cluster.base / (name + '.db')}"
    env = {**cluster.env, "SGS_STORE_URL": url, "SGS_PREPARE_WORKER_AFTER": "off"}
    script = " && ".join(f"{sys.executable} -m pipeline.cli ingest {c}" for c in codes)
    cluster.reference[name] = url
    return subprocess.Popen(["bash", "-c", script], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> None:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]


def test_demo_departments_run_on_both_workers_and_the_push_follows_the_asset_event(cluster: Cluster) -> None:
    # Anonymous requests get nothing; the token comes from Airflow's own auth endpoint.
    assert httpx.get(f"{cluster.url}/api/v2/dags", timeout=30).status_code == 401
    bad = httpx.post(f"{cluster.url}/auth/token", json={"username": "admin", "password": "x" + cluster.password}, timeout=30)
    assert bad.status_code == 401
    dags = {d["dag_id"] for d in cluster.api("GET", "/dags", params={"limit": 100}).json()["dags"]}
    assert {f"sgs_ingest_{c}" for c in (*DEMO, "bigju")} | {"sgs_push_upstream", "sgs_report_monthly"} <= dags
    assert cluster.api("GET", "/importErrors").json()["total_entries"] == 0
    pools = {p["name"]: p["slots"] for p in cluster.api("GET", "/pools").json()["pools"]}
    assert pools["sgs_src_mysql_127.0.0.1_3306"] == 2 and pools["sgs_src_postgresql_127.0.0.1_5432"] == 2

    reference = reference_ingest(cluster, DEMO, "ref_demo")
    cluster.unpause("sgs_push_upstream")
    ingest_dags = [f"sgs_ingest_{c}" for c in DEMO]
    for dag_id in ingest_dags:
        cluster.trigger(dag_id)
        # Unpaused, the hourly schedule adds its own run: it waits for the manual one (max_active_runs=1).
        cluster.unpause(dag_id)
    runs = cluster.wait_runs(ingest_dags, timeout=300, at_least=2)
    # Two runs of one department (manual + scheduled) never overlap: the second waited for the first.
    for dag_id, rs in runs.items():
        spans = sorted((dt.datetime.fromisoformat(r["start_date"]), dt.datetime.fromisoformat(r["end_date"])) for r in rs)
        assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), (dag_id, spans)

    tis = [ti for d, rs in runs.items() for r in rs for ti in cluster.task_instances(d, r["dag_run_id"])]
    assert {ti["task_id"] for ti in tis} == {"ingest_cf", "ingest_xk"}
    assert all(ti["state"] == "success" and ti["queue"] == "ingest" and ti["pool"].startswith("sgs_src_") for ti in tis)
    workers = {ti["hostname"].rsplit("-", 1)[-1] for ti in tis}
    assert workers == {"worker1", "worker2"}, [ti["hostname"] for ti in tis]

    # The push ran because the ingests updated the sgs_outbox asset (a run per batch of asset events, while
    # later ingests were still loading): in the end nothing is pending and the province has every record once.
    engine = sa.create_engine(cluster.store_url, poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + 240
    while True:
        push = cluster.runs("sgs_push_upstream")
        with engine.connect() as c:
            pending = sum(1 for d in record_tables for r in delivery_states(c, d) if r["state"] in ("pending", "sent"))
        done = all(r["state"] in ("success", "failed") for r in push)
        if done and pending == 0 and any(r["run_type"] == "asset_triggered" and r["state"] == "success" for r in push):
            break
        assert time.monotonic() < deadline, f"push not done: {pending} pending, {push}\n{cluster.diagnose()}"
        time.sleep(2)
    assert not [r for r in push if r["state"] == "failed"], push

    finish(reference)
    ours, ref = snapshot(cluster.store_url, DEMO), snapshot(cluster.reference["ref_demo"], DEMO)
    assert ours == ref
    assert {r[0] for d in record_tables for r in ours[f"records_{d}"]} == set(DEMO)
    with engine.connect() as c:
        delivery = [r for d in record_tables for r in delivery_states(c, d)]
        states = dict(collections.Counter(r["state"] for r in delivery))
        withdrawn = {(d, k) for d, t in record_tables.items()
                     for (k,) in c.execute(sa.select(t.c.business_key).where(t.c.status == "withdrawn"))}
        statuses = {r[0] for r in c.execute(sa.select(ingest_run.c.status).where(ingest_run.c.department.in_(DEMO)))}
    engine.dispose()
    assert set(states) <= {"accepted", "rejected", "not_sent"} and states["rejected"] == 12, states  # 2 PROV-103 per dataset
    # Nothing to send is only a record that is withdrawn and that the province never held live (a licence
    # loaded with 当前状态 revoked, an expiry before the first push): issue 13 pushes the latest state only.
    not_sent = [(r["dataset"], r["business_key"]) for r in delivery if r["state"] == "not_sent"]
    assert set(not_sent) <= withdrawn, not_sent[:5]
    assert statuses == {"success"}
    secret = json.loads((cluster.base / "cluster" / "secrets.json").read_text())["standin_token"]
    stats = httpx.get(f"http://127.0.0.1:{cluster.env['SGS_CLUSTER_STANDIN_PORT']}/api/stats",
                      headers={"Authorization": f"Bearer {secret}"}, timeout=30).json()
    assert stats["duplicate_deliveries"] == 0 and stats["applied_twice"] == 0

    # Every task's log is readable through the API and holds counts, never an ID number.
    for ti in tis:
        log = cluster.api("GET", f"/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}",
                          params={"full_content": "true"}, headers={"Accept": "application/json"})
        assert log.status_code == 200, log.text[:500]
        text = json.dumps(log.json(), ensure_ascii=False)
        assert "Done. Returned value" in text and "inserted" in text, text[-2000:]
        assert not person_ids(text), (ti["dag_id"], ti["task_id"])


def person_ids(text: str) -> list[str]:
    """Resident ID numbers (valid check digit and birth date) in ``text``: credit codes and run ids are not."""
    from stdnum.cn import ric

    return [m.group(0) for m in ID_NUMBER.finditer(text) if ric.is_valid(m.group(0))]


def test_the_ui_logs_in_shows_the_dags_a_task_log_and_the_sgs_view(cluster: Cluster) -> None:
    from tests.plugins.test_dashboard_browser import Browser

    anonymous = httpx.get(f"{cluster.url}/sgs/", timeout=30, follow_redirects=False)
    assert anonymous.status_code in (302, 303, 307, 401, 403), anonymous.status_code
    assert "双公示考核看板" not in anonymous.text

    browser = Browser(cluster.base / "chromium-profile")
    try:
        browser.goto(f"{cluster.url}/dags")
        browser.wait_for("location.pathname === '/auth/login' && document.querySelector('input[name=password]')", "the login form")
        browser.screenshot(cluster.artifacts / "01-login.png")
        browser.type_into("input[name=username]", "admin")
        browser.type_into("input[name=password]", cluster.password)
        browser.wait_for("!document.querySelector('button[type=submit]').disabled", "an enabled sign-in button")
        browser.js("document.querySelector('button[type=submit]').click()")
        browser.wait_for("document.body.innerText.includes('sgs_ingest_scjgj') && document.body.innerText.includes('sgs_ingest_wsjkw')",
                         "the DAG list", timeout=90)
        dom = browser.js("document.body.innerText")
        for code in (*DEMO, "bigju"):
            assert f"sgs_ingest_{code}" in dom
        browser.screenshot(cluster.artifacts / "02-dag-list.png")

        run = next(r for r in cluster.runs("sgs_ingest_sthjj") if r["state"] == "success")
        browser.goto(f"{cluster.url}/dags/sgs_ingest_sthjj/runs/{run['dag_run_id']}/tasks/ingest_cf")
        browser.wait_for("document.body.innerText.includes('ingest_task') || document.body.innerText.includes('Returned value')",
                         "the task log", timeout=90)
        assert not person_ids(browser.js("document.body.innerText"))
        browser.screenshot(cluster.artifacts / "03-task-log.png")

        browser.goto(f"{cluster.url}/plugin/sgs")
        browser.wait_for("document.querySelector('iframe') && document.querySelector('iframe').contentDocument.body.innerText.includes('双公示')",
                         "the 双公示 view", timeout=90)
        browser.screenshot(cluster.artifacts / "04-sgs-view.png")
    finally:
        browser.close()
    for name in ("01-login", "02-dag-list", "03-task-log", "04-sgs-view"):
        assert (cluster.artifacts / f"{name}.png").stat().st_size > 10_000, name


def test_a_redis_restart_mid_run_loses_nothing(cluster: Cluster) -> None:
    for s in cluster.sources:
        for ds in ("cf", "xk"):
            add_demo_changes(s, ds, new=20, updated=10, seed=1601)
    before = {d: len(cluster.runs(d)) for d in (f"sgs_ingest_{c}" for c in DEMO)}
    for dag_id in before:
        cluster.trigger(dag_id)
    stopped = cluster.sh("stop", "redis")  # SIGTERM: Redis writes its append-only file and goes
    assert stopped.returncode == 0, stopped.stderr
    time.sleep(5)
    started = cluster.sh("start", "redis")
    assert started.returncode == 0, started.stderr
    runs = cluster.wait_runs(list(before), timeout=300)
    assert all(len(runs[d]) >= before[d] + 1 for d in before)
    reference = reference_ingest(cluster, DEMO, "ref_demo")  # the same store as before: the same increments
    finish(reference)
    assert snapshot(cluster.store_url, DEMO) == snapshot(cluster.reference["ref_demo"], DEMO)


PUSH_LATENCY_MS = 2500  # the stand-in's wait before it processes each batch: the push spends seconds per batch


def wait_push_idle(cluster: Cluster, engine: sa.Engine, *, records: bool = True, timeout: float = 240) -> None:
    """Until no push run is running and (``records``) every run has ended and no record waits to be pushed or
    for its receipt. (A run queued behind a paused DAG stays queued: only ``records=False`` can wait for that.)"""
    deadline = time.monotonic() + timeout
    while True:
        push = cluster.runs("sgs_push_upstream")
        waiting = 0
        if records:
            with engine.connect() as c:
                waiting = sum(1 for d in record_tables for r in delivery_states(c, d) if r["state"] in ("pending", "sent"))
        if waiting == 0 and all(r["state"] in ("success", "failed") or (not records and r["state"] == "queued") for r in push):
            return
        assert time.monotonic() < deadline, f"push not idle: {waiting} waiting, {push}\n{cluster.diagnose()}"
        time.sleep(2)


def province_applications(db: Path, after: int) -> dict[str, list[tuple[str, str | None]]]:
    """Idempotency key → (status, code) of every application after sequence number ``after`` (read-only)."""
    out: dict[str, list[tuple[str, str | None]]] = collections.defaultdict(list)
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        for key, status, code in conn.execute("SELECT idempotency_key, status, code FROM applications WHERE seq > ? ORDER BY seq", (after,)):
            out[key].append((status, code))
    return dict(out)


def province_deliveries(db: Path, after: int) -> collections.Counter[str]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return collections.Counter(k for (k,) in conn.execute("SELECT idempotency_key FROM deliveries WHERE seq > ?", (after,)))


def province_seq(db: Path) -> tuple[int, int]:
    """The last sequence numbers of applications and deliveries."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return (conn.execute("SELECT COALESCE(MAX(seq), 0) FROM applications").fetchone()[0],
                conn.execute("SELECT COALESCE(MAX(seq), 0) FROM deliveries").fetchone()[0])


def reference_push(cluster: Cluster, province: StandinServer, codes: tuple[str, ...]) -> subprocess.Popen[str]:
    """``sgs push`` of the reference store ``ref_demo`` to its own stand-in, after ``sgs ingest`` of ``codes``:
    the uninterrupted push. No latency and nothing killed."""
    url = cluster.reference.get("ref_demo") or f"sqlite:///{cluster.base / 'ref_demo.db'}"
    cluster.reference["ref_demo"] = url
    env = {**cluster.env, "SGS_STORE_URL": url, "SGS_PREPARE_WORKER_AFTER": "off",
           "AIRFLOW_CONN_SGS_PROVINCE": f"http://:{quote(province.token, safe='')}@127.0.0.1:{province.port}/api?auth=bearer"}
    script = " && ".join([*(f"{sys.executable} -m pipeline.cli ingest {c}" for c in codes), f"{sys.executable} -m pipeline.cli push"])
    return subprocess.Popen(["bash", "-c", script], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_worker_killed_mid_push_another_finishes_and_the_province_gets_every_record_once(cluster: Cluster) -> None:
    engine = sa.create_engine(cluster.store_url, poolclass=sa.pool.NullPool)
    reference_province = StandinServer(cluster.base / "ref_province.db").start()
    victim = ""
    try:
        # The reference: the reference store (equal to ours, test above) pushed whole to its own stand-in first,
        # so that both provinces hold the same before the trial's changes.
        baseline = reference_push(cluster, reference_province, ())
        # Ours: the earlier tests' pushes done, then the push DAG paused while the trial's changes are loaded
        # (a paused DAG queues no asset events): the trial's push is one run, started by us.
        wait_push_idle(cluster, engine)
        cluster.pause("sgs_push_upstream")
        wait_push_idle(cluster, engine, records=False)  # a run that started meanwhile has ended
        finish(baseline)
        ours_before, ref_before = province_seq(cluster.standin_db), province_seq(reference_province.db_path)
        stats_before, ref_stats_before = cluster.standin("GET", "/api/stats"), reference_province.stats()
        with engine.connect() as c:
            first_run = c.execute(sa.select(sa.func.coalesce(sa.func.max(upstream_run.c.id), 0))).scalar_one() + 1

        for s in cluster.sources:
            for ds in ("cf", "xk"):
                add_demo_changes(s, ds, new=150, updated=50, seed=1602)
        reference = reference_push(cluster, reference_province, DEMO)
        before = {d: len(cluster.runs(d)) for d in (f"sgs_ingest_{c}" for c in DEMO)}
        for dag_id in before:
            cluster.trigger(dag_id)
        runs = cluster.wait_runs(list(before), timeout=300)
        assert all(len(runs[d]) >= before[d] + 1 for d in before)
        with engine.connect() as c:
            pending = {r["idempotency_key"] for d in record_tables for r in delivery_states(c, d) if r["state"] == "pending"}
        assert len(pending) >= 4 * 200, len(pending)  # several batches of 200 (SGS_UPSTREAM_BATCH_SIZE) per dataset

        # Every batch now takes PUSH_LATENCY_MS at the province: the push is seconds long, and a kill right after
        # its first receipts lands while the next batch is in flight, with batches still to come.
        cluster.standin("PUT", "/control/faults", json={"latency_ms": PUSH_LATENCY_MS})
        cluster.trigger("sgs_push_upstream")
        cluster.unpause("sgs_push_upstream")

        def states() -> collections.Counter[str]:
            with engine.connect() as c:
                return collections.Counter(r["state"] for d in record_tables for r in delivery_states(c, d)
                                           if r["idempotency_key"] in pending)

        deadline = time.monotonic() + 180
        while (done := states())["accepted"] + done["rejected"] == 0:
            assert time.monotonic() < deadline, f"push did not get going: {done}\n{cluster.diagnose()}"
            time.sleep(0.2)
        # The push task running now (ours, or a scheduled run the unpausing let in first: the same push).
        ti = next(t for r in cluster.runs("sgs_push_upstream") if r["state"] == "running"
                  for t in cluster.task_instances("sgs_push_upstream", r["dag_run_id"]) if t["state"] == "running")
        push_run = ti["dag_run_id"]
        victim = ti["hostname"].rsplit("-", 1)[-1]
        assert victim in ("worker1", "worker2")
        killed = cluster.sh("stop", victim, "--kill")
        assert killed.returncode == 0, killed.stderr
        with engine.connect() as c:
            at_kill = [r for d in record_tables for r in delivery_states(c, d) if r["idempotency_key"] in pending]
        in_flight = {r["idempotency_key"] for r in at_kill if r["state"] == "sent"}
        counts = collections.Counter(r["state"] for r in at_kill)
        # Killed mid-push: some batches answered, others not yet sent (or in flight): the trial proves something.
        assert counts["accepted"] + counts["rejected"] > 0 and counts["pending"] + counts["sent"] > 0, counts

        deadline = time.monotonic() + 300
        while (run := next(r for r in cluster.runs("sgs_push_upstream") if r["dag_run_id"] == push_run))["state"] not in ("success", "failed"):
            assert time.monotonic() < deadline, f"push not finished: {run}\n{cluster.diagnose()}"
            time.sleep(2)
        assert run["state"] == "success", f"{run}\n{cluster.diagnose()}"
        wait_push_idle(cluster, engine)
        final = next(t for t in cluster.task_instances("sgs_push_upstream", push_run) if t["task_id"] == "push")
        assert final["state"] == "success" and final["try_number"] >= 2, final
        assert final["hostname"].rsplit("-", 1)[-1] != victim, (victim, final["hostname"])
        finish(reference, timeout=400)

        # The store: nothing waits, every batch of the trial answered once per record (no receipt counted twice).
        with engine.connect() as c:
            after = {r["idempotency_key"]: r for d in record_tables for r in delivery_states(c, d)}
            batches = c.execute(sa.select(push_batch.c.state, push_batch.c.records, push_batch.c.accepted, push_batch.c.rejected)
                                .where(push_batch.c.run_id >= first_run)).all()
            trial_runs = c.execute(sa.select(upstream_run.c.status).where(upstream_run.c.id >= first_run,
                                                                          upstream_run.c.kind == "http")).scalars().all()
        assert not [k for k, r in after.items() if r["state"] in ("pending", "sent")]
        final_states = collections.Counter(after[k]["state"] for k in pending)
        assert set(final_states) <= {"accepted", "rejected", "not_sent"}, final_states
        sent = {k for k in pending if after[k]["state"] in ("accepted", "rejected")}
        assert {b.state for b in batches} == {"answered"}, batches
        assert sum(b.records for b in batches) == len(sent)
        assert sum(b.accepted for b in batches) == final_states["accepted"]
        assert sum(b.rejected for b in batches) == final_states["rejected"]
        # The dead push was taken over (its lease lapsed); the retry (and any later run) finished.
        assert trial_runs.count("interrupted") == 1 and set(trial_runs) == {"interrupted", "success"}, trial_runs

        # The province: every record of the trial applied exactly once, the same verdicts as the uninterrupted
        # push's; only the batch in flight at the kill was delivered again (same keys: answered with its first receipt).
        ours = province_applications(cluster.standin_db, ours_before[0])
        ref = province_applications(reference_province.db_path, ref_before[0])
        assert set(ours) == sent and all(len(v) == 1 for v in ours.values()), [k for k, v in ours.items() if len(v) > 1][:5]
        assert ours == ref
        assert sum(v[0][0] == "accepted" for v in ours.values()) == final_states["accepted"] > 0
        delivered = province_deliveries(cluster.standin_db, ours_before[1])
        again = {k for k, n in delivered.items() if n > 1}
        assert set(delivered) == sent and again <= in_flight and max(delivered.values()) <= 2, (len(again), len(in_flight))
        stats = cluster.standin("GET", "/api/stats")
        assert stats["applied_twice"] == 0 and stats["out_of_order"] == 0
        assert stats["duplicate_deliveries"] - stats_before["duplicate_deliveries"] == len(again)
        accepted = stats["accepted"] - stats_before["accepted"]
        assert accepted == reference_province.stats()["accepted"] - ref_stats_before["accepted"] == final_states["accepted"]
        print(f"push kill trial: {len(pending)} records, at the kill {dict(counts)} ({victim}); try {final['try_number']} on "
              f"{final['hostname']}; final {dict(final_states)}; delivered again {len(again)} of {len(in_flight)} in flight")
    finally:
        cluster.standin("PUT", "/control/faults", json={})
        reference_province.stop()
        if victim:
            restarted = cluster.sh("start", victim)
            assert restarted.returncode == 0, restarted.stderr
        cluster.unpause("sgs_push_upstream")
        engine.dispose()


def test_a_worker_killed_mid_ingest_another_finishes_and_the_store_equals_an_uninterrupted_run(cluster: Cluster) -> None:
    cluster.trigger("sgs_ingest_bigju")
    cluster.unpause("sgs_ingest_bigju")  # its scheduled run comes too, and waits (max_active_runs=1)
    engine = sa.create_engine(cluster.store_url, poolclass=sa.pool.NullPool)
    cf = record_tables["cf"]
    count = sa.select(sa.func.count()).select_from(cf).where(cf.c.department == "bigju")
    # As soon as the ingest has committed part of the table (a 5,000-row chunk per commit, ~10,000 rows/s),
    # SIGKILL the whole process group of the worker running it: the worker, its pool and the task.
    deadline = time.monotonic() + 240
    while True:
        with engine.connect() as c:
            loaded = c.execute(count).scalar_one()
        if loaded >= 5_000:
            break
        assert time.monotonic() < deadline, f"ingest did not get going: {loaded} rows\n{cluster.diagnose()}"
        time.sleep(0.2)
    ti = next(t for r in cluster.runs("sgs_ingest_bigju") for t in cluster.task_instances("sgs_ingest_bigju", r["dag_run_id"])
              if t["task_id"] == "ingest_cf" and t["state"] == "running")
    run_id = ti["dag_run_id"]
    victim = ti["hostname"].rsplit("-", 1)[-1]
    assert victim in ("worker1", "worker2")
    killed = cluster.sh("stop", victim, "--kill")
    assert killed.returncode == 0, killed.stderr
    with engine.connect() as c:
        assert c.execute(count).scalar_one() < BIG_ROWS * 0.9, "the ingest finished before the kill: the trial proves nothing"
    # The uninterrupted run, into its own store, while the scheduler waits for the lost task's heartbeat.
    reference = reference_ingest(cluster, ("bigju",), "ref_big")

    runs = cluster.wait_runs(["sgs_ingest_bigju"], timeout=360)
    final = next(t for t in cluster.task_instances("sgs_ingest_bigju", run_id) if t["task_id"] == "ingest_cf")
    assert final["state"] == "success" and final["try_number"] >= 2, final
    assert final["hostname"].rsplit("-", 1)[-1] != victim, (victim, final["hostname"])
    assert all(r["state"] == "success" for r in runs["sgs_ingest_bigju"])

    finish(reference, timeout=400)
    ours, ref = snapshot(cluster.store_url, ("bigju",)), snapshot(cluster.reference["ref_big"], ("bigju",))
    assert len(ref["records_cf"]) + len(ref["quarantine"]) == BIG_ROWS
    assert ours == ref
    with engine.connect() as c:
        per_row = sa.select(quarantine.c.source_pk).where(quarantine.c.department == "bigju").group_by(
            quarantine.c.source_pk).having(sa.func.count() > 1).subquery()
        dup = c.execute(sa.select(sa.func.count()).select_from(per_row)).scalar_one()
        runs_by_status = dict(c.execute(sa.select(ingest_run.c.status, sa.func.count())
                                        .where(ingest_run.c.department == "bigju").group_by(ingest_run.c.status)).all())
    engine.dispose()
    assert dup == 0
    assert runs_by_status.get("success", 0) >= 1, runs_by_status
    restarted = cluster.sh("start", victim)
    assert restarted.returncode == 0, restarted.stderr
