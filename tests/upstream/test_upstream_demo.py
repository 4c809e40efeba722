"""``upstream.demo.push_to_standin``: what ``sgs demo`` calls after the ingests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from tests.upstream.helpers import deliveries, load, penalty
from upstream.demo import push_to_standin


def test_push_to_standin_returns_receipt_counts(sqlite_store: Engine, tmp_path: Path) -> None:
    load(sqlite_store, [penalty(i) for i in range(30)] + [penalty("测试7")])
    counts = push_to_standin(sqlite_store, workdir=tmp_path / "standin", batch_size=10)
    assert counts == {"batches": 4, "sent": 31, "accepted": 30, "rejected": 1, "not_sent": 0, "no_receipt": 0,
                      "retries": 0, "province_duplicates": 0, "province_applied_twice": 0}
    assert {r["state"] for r in deliveries(sqlite_store)} == {"accepted", "rejected"}
    # A second demo run finds nothing pending; the province keeps its state in workdir.
    assert push_to_standin(sqlite_store, workdir=tmp_path / "standin")["sent"] == 0
    assert (tmp_path / "standin" / "province.db").exists()
