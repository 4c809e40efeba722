"""SIGKILL at points of an inbox run (inside the file's store transaction, at its commit, around the receipt's and
the file's renames), then a re-run: the store equals that of an uninterrupted run, and there is exactly one
receipt, beside the archived file. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import functools
import io
import os
import signal
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.inbox.helpers import file_only_department, mixed_rows, penalties, store_state

pytestmark = pytest.mark.integration
CHILD = Path(__file__).with_name("kill_child.py")
ROOT = Path(__file__).resolve().parents[2]

#: (mode, N): inside the load transaction (statements), every commit of the run, every rename.
POINTS = [("store-stmt", n) for n in (3, 8, 15, 30, 60, 120)] + [("store-commit", n) for n in (1, 2, 3, 4, 5, 6)] + [
    (mode, n) for mode in ("rename-before", "rename-after") for n in (1, 2)
]


@functools.cache
def _delivery() -> bytes:
    """A ZIP of two penalty files (two loads in the file's transaction), with bad rows in the first; made once
    (a ZIP records the time its members were written: the same bytes for every trial)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, rows in (("a.csv", mixed_rows()), ("b.csv", penalties(4, start=20))):
            text = io.StringIO()
            w = csv.DictWriter(text, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
            z.writestr(name, text.getvalue())
    return buf.getvalue()


def _setup(base: Path, url: str) -> dict[str, str]:
    file_only_department(base / "depts")
    (base / "inbox" / "wjju").mkdir(parents=True)
    (base / "inbox" / "wjju" / "delivery.zip").write_bytes(_delivery())
    return {**os.environ, "SGS_STORE_URL": url, "SGS_INBOX_DIR": str(base / "inbox"),
            "SGS_DEPARTMENTS_DIR": str(base / "depts"), "SGS_VAR_DIR": str(base / "var"), "PYTHONPATH": str(ROOT)}


def _child(env: dict[str, str], mode: str, n: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHILD), mode, str(n)], env=env, capture_output=True, text=True, timeout=120)


def _rerun(env: dict[str, str]) -> int:
    proc = _child(env, "none", 0)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stdout.split("EXIT", 1)[1])


def _archive(base: Path) -> list[str]:
    folder = base / "inbox" / "wjju"
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != ".sgs-inbox.lock")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_kill_at_any_point_then_a_rerun_gives_the_same_store_and_one_receipt(
    backend: str, tmp_path: Path, pg_schema_factory: Callable[[], str],
) -> None:
    from store.db import make_store_engine

    def url_for(name: str) -> str:
        return f"sqlite:///{tmp_path / name / 'store.db'}" if backend == "sqlite" else pg_schema_factory()

    ref_base = tmp_path / "ref"
    ref_env = _setup(ref_base, url_for("ref"))
    assert _rerun(ref_env) == 1
    ref_engine = make_store_engine(ref_env["SGS_STORE_URL"])
    reference = store_state(ref_engine)
    ref_engine.dispose()
    assert len(reference["records"]) == 9 and len(reference["files"]) == 1
    expected_files = ["archive/delivery.zip", "archive/delivery.zip.receipt.xlsx"]
    assert _archive(ref_base) == expected_files

    killed = 0
    for mode, n in POINTS:
        base = tmp_path / f"{mode}-{n}"
        env = _setup(base, url_for(f"{mode}-{n}"))
        proc = _child(env, mode, n)
        story = f"{backend} {mode} {n}: rc {proc.returncode} {proc.stderr[-1500:]}"
        assert proc.returncode in (-signal.SIGKILL, 0), story
        killed += proc.returncode == -signal.SIGKILL
        _rerun(env)
        engine = make_store_engine(env["SGS_STORE_URL"])
        try:
            assert store_state(engine) == reference, story
        finally:
            engine.dispose()
        assert _archive(base) == expected_files, story  # one receipt, the file beside it, no temporary file left
        assert _rerun(env) == 0  # nothing left to do
    assert killed >= len(POINTS) - 2, "most points must really kill the run"
