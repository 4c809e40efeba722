"""The kill test's victim: one ingest that SIGKILLs itself at the point named on the command line.

    python tests/faults/kill_child.py DEPARTMENT_FILE MODE N

MODE (N counts from 1):
- ``chunk``: right after the N-th chunk committed (between chunks);
- ``store-stmt``: just before the N-th statement sent to the central store (inside a load transaction,
  or inside the run's opening/closing transaction);
- ``store-commit``: just before the N-th COMMIT reaches the store (the whole chunk written, not committed);
- ``source-stmt``: right after the N-th query on the department database returned (during extract);
- ``none``: no self-kill (the parent kills it after a random delay).

Prints ``READY`` once everything is imported, so the parent's timer measures the run, not the imports.
The store is ``SGS_STORE_URL``; the department file names its source's environment variable.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    path, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    today = dt.date.fromisoformat(sys.argv[4])

    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

    from pipeline.config import load_department
    from pipeline.ingest import IngestResult, ingest
    from pipeline.settings import store_engine

    store = store_engine()  # migrated here, before any counting starts
    dept = load_department(path)
    hits = 0

    def hit(*_: Any) -> None:
        nonlocal hits
        hits += 1
        if hits == n:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_chunk(result: IngestResult) -> None:
        if mode == "chunk" and result.chunks == n:
            os.kill(os.getpid(), signal.SIGKILL)

    if mode == "store-stmt":
        sa.event.listen(store, "before_cursor_execute", hit)
    elif mode == "store-commit":
        sa.event.listen(store, "commit", hit)
    elif mode == "source-stmt":
        sa.event.listen(Engine, "after_cursor_execute", lambda conn, *a: hit() if conn.dialect.name == "mysql" else None)
        # With the prepare worker on (odd trials), the pages after the first are read by the worker process
        # itself (pipeline/prepare.py), where no listener of this process sees the query: each chunk the
        # worker hands over stands for the query that read it, and the run is killed right after it arrives.
        from pipeline import prepare

        received = prepare.PrepareProcess.result

        def result(self: Any) -> Any:
            chunk = received(self)
            if chunk is not None:
                hit()
            return chunk

        prepare.PrepareProcess.result = result  # type: ignore[method-assign]
    print("READY", flush=True)
    ingest(dept, "cf", engine=store, trigger="test", today=today, on_chunk=on_chunk)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
