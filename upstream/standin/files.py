"""The province's side of the file exchange mode: take complete batches, answer receipt files.

For each manifest in ``outbound/``: check the files against it (SHA-256, row count), apply the records
with the same rules and de-duplication as the HTTP stand-in, write ``inbound/<stem>.receipt.csv``, and
move the batch to ``outbound/picked-up/`` (what a province's pick-up job does).
"""

from __future__ import annotations

from pathlib import Path

from upstream.envelope import read_batch_file, write_receipt_file
from upstream.files import INBOUND, OUTBOUND, verify_batch
from upstream.standin.rules import DEFAULT_BLACKLIST
from upstream.standin.store import ProvinceStore

PICKED_UP = "picked-up"


class BatchFileError(Exception):
    """A batch whose files do not match its manifest: the province refuses the whole batch."""


def process_outbound(exchange_dir: Path, db_path: Path, *, blacklist: str = DEFAULT_BLACKLIST) -> dict[str, int]:
    """Process every complete batch waiting in ``exchange_dir/outbound``; returns batches and records."""
    store = ProvinceStore(db_path, blacklist=blacklist)
    out_dir, in_dir = exchange_dir / OUTBOUND, exchange_dir / INBOUND
    done = out_dir / PICKED_UP
    counts = {"batches": 0, "records": 0}
    try:
        for mf in sorted(out_dir.glob("*.manifest.json")):
            doc, problems = verify_batch(mf)
            if problems:
                raise BatchFileError(f"批次 {doc.get('batch_id')} 校验失败：{'；'.join(problems)}")
            stem = mf.name.removesuffix(".manifest.json")
            records = [r for f in doc["files"] for r in read_batch_file(out_dir / f["name"], doc["dataset"])]
            receipts = store.apply_batch(doc["batch_id"], records, channel="file")
            write_receipt_file(in_dir / f"{stem}.receipt.csv", receipts)
            done.mkdir(parents=True, exist_ok=True)
            for f in doc["files"]:
                (out_dir / f["name"]).replace(done / f["name"])
            mf.replace(done / mf.name)
            counts["batches"] += 1
            counts["records"] += len(records)
    finally:
        store.close()
    return counts
