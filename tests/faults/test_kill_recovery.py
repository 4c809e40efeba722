"""SIGKILL at random points of an ingest (MariaDB → PostgreSQL, and → SQLite), then a re-run: the central store equals
that of an uninterrupted run.

Each trial kills a real subprocess at a point drawn at random from the statements, commits, chunks and
source queries an uninterrupted run makes (or after a random delay, from the parent). Right after the
kill the store must hold whole chunks only (it equals the reference state after some chunk k); after a
re-run it must equal the reference's final state: same records and content hashes, same history, same
quarantine (no duplicates), same changes waiting for the push (same idempotency keys), same watermark. Every third trial kills the
re-run too before letting the third run finish. Odd trials run with the prepare worker process
(``SGS_PREPARE_WORKER_AFTER=0``), even trials without.

``SGS_FAULT_SEED`` fixes the random draws (the seed is printed in every failure message).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.config import load_department
from pipeline.ingest import ingest
from store.db import make_store_engine, migrate
from tests.faults.conftest import TODAY, Reference
from tests.faults.harness import assert_whole, describe, is_one_of, run_statuses, store_state

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("SGS_FAULT_SEED") or random.SystemRandom().randrange(1_000_000))
MODES = ["chunk", "store-stmt", "store-commit", "source-stmt", "timer"]
TRIALS = 12
SQLITE_TRIALS = 5  # one per mode
ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("kill_child.py")


def _draw(mode: str, ref: Reference, rng: random.Random, *, rerun: bool) -> float:
    """The kill point: a count for the self-killing modes, seconds for the timer."""
    share = 0.3 if rerun else 0.95  # a re-run reads less (from the watermark): aim early
    if mode == "chunk":
        return rng.randint(1, 1 if rerun else ref.chunks - 1)
    if mode == "store-stmt":
        return rng.randint(1, max(1, int(ref.store_statements * share)))
    if mode == "store-commit":
        return rng.randint(1, max(1, int(ref.store_commits * share)))
    if mode == "source-stmt":
        return rng.randint(1, max(1, int(ref.source_statements * share)))
    return rng.uniform(0.0, ref.seconds * (0.5 if rerun else 1.2))


def _run_victim(path: Path, store_url: str, mode: str, point: float, *, worker: bool) -> int:
    env = {**os.environ, "SGS_STORE_URL": store_url, "PYTHONPATH": str(ROOT)}
    # Odd trials prepare chunks 2.. in the worker process (pipeline/prepare.py), even trials in-process.
    env["SGS_PREPARE_WORKER_AFTER"] = "0" if worker else "off"
    args = [sys.executable, str(CHILD), str(path), "none" if mode == "timer" else mode, str(int(point)), TODAY.isoformat()]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if mode == "timer":
            assert proc.stdout is not None
            line = proc.stdout.readline()  # READY: imports done, the ingest starts now
            assert line.strip() == "READY", (line, proc.stderr.read() if proc.stderr else "")
            time.sleep(point)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"victim failed on its own (rc {proc.returncode}): {err[-3000:]}")
    return proc.returncode


@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigkill_at_random_point_then_rerun_equals_uninterrupted(
    trial: int, reference: Reference, department_file: Path, pg_schema_factory: Callable[[], str]
) -> None:
    _trial(trial, reference, department_file, pg_schema_factory())


@pytest.mark.parametrize("trial", range(SQLITE_TRIALS))
def test_sigkill_on_a_sqlite_store_then_rerun_equals_uninterrupted(
    trial: int, sqlite_reference: Reference, department_file: Path, tmp_path: Path
) -> None:
    """The embedded default: a kill inside a SQLite write transaction leaves a hot journal, which the next
    connection rolls back; the rest is the same promise as on PostgreSQL."""
    _trial(trial, sqlite_reference, department_file, f"sqlite:///{tmp_path / 'store.db'}")


def _trial(trial: int, reference: Reference, department_file: Path, store_url: str) -> None:
    rng = random.Random(SEED * 100 + trial)
    mode = MODES[trial % len(MODES)]
    kills = 2 if trial % 3 == 2 else 1
    victim = make_store_engine(store_url)
    migrate(victim)
    story: list[str] = [f"seed {SEED} trial {trial}"]
    try:
        for k in range(kills):
            point = _draw(mode, reference, rng, rerun=k > 0)
            rc = _run_victim(department_file, store_url, mode, point, worker=trial % 2 == 1)
            state = store_state(victim)
            story.append(f"kill {k + 1}: {mode} at {point:.3f}{' (worker)' if trial % 2 else ''} → rc {rc}, {describe(state)}")
            if k == 0 and mode != "timer":
                assert rc == -signal.SIGKILL, "; ".join(story)
            if k == 0:
                # The first run on an empty store: whatever was committed is whole chunks of it.
                at = is_one_of(state, reference.prefixes)
                assert at is not None, "store after the kill is not a whole-chunk prefix: " + "; ".join(story)
                story[-1] += f" = reference after {at} chunk(s)"
            assert_whole(victim)
        rerun = ingest(load_department(department_file), "cf", engine=victim, trigger="test", today=TODAY)
        assert rerun.status == "success" and rerun.counts.reconciles, "; ".join(story)
        final = store_state(victim)
        for part in final:
            assert final[part] == reference.final[part], f"{part} differs after the re-run: " + "; ".join(story)
        assert_whole(victim)
        statuses = run_statuses(victim)
        assert statuses[-1] == "success"
        # A run killed after it was opened is marked interrupted by the next run; none stays 'running'.
        assert set(statuses[:-1]) <= {"interrupted", "success"}, (statuses, story)
        print("; ".join(story))  # shown by `pytest -rP`: where this trial killed
    finally:
        victim.dispose()
