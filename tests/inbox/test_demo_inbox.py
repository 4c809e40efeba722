"""The demo's file-only department (departments/jtysj.yaml, demo/inbox.py): its file goes through the inbox with
exactly its three planted problems, and the same file dropped again (a second ``sgs demo``) is not loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.inbox.helpers import store_state

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_file_loads_with_its_three_planted_problems(sqlite_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from demo.inbox import CODE, drop_penalty_file, penalty_file
    from pipeline.config import load_department
    from pipeline.inbox import inbox_folder, run_inbox

    assert penalty_file() == penalty_file()  # the same bytes every run
    dept = load_department(ROOT / "departments" / f"{CODE}.yaml")
    assert dept.source is None
    monkeypatch.setenv("SGS_INBOX_DIR", str(tmp_path / "inbox"))
    drop_penalty_file(inbox_folder(dept))
    result = run_inbox(engine=sqlite_store, departments={CODE: dept})
    [f] = result.files
    assert (f.members[0]["read"], f.members[0]["inserted"], f.members[0]["quarantined"]) == (40, 37, 3)
    assert sorted(q[1] for q in store_state(sqlite_store)["quarantine"]) == [
        "CF-DATE-001", "CF-REQ-007", "FILE-DEPT"]
    drop_penalty_file(inbox_folder(dept))
    assert [f.status for f in run_inbox(engine=sqlite_store, departments={CODE: dept}).files] == ["duplicate"]
