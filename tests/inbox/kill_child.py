"""The inbox kill test's victim: one ``run_inbox()`` that SIGKILLs itself at the point named on the command line.

    python tests/inbox/kill_child.py MODE N

MODE (N counts from 1): ``store-stmt`` just before the N-th statement sent to the central store; ``store-commit``
just before the N-th COMMIT reaches it; ``rename-before`` / ``rename-after`` just before / after the N-th rename
of a file (the receipt's rename into place, the file's move into ``archive/``). The store, the inbox root and the
departments come from SGS_STORE_URL, SGS_INBOX_DIR and SGS_DEPARTMENTS_DIR. Prints ``EXIT <code>`` if it lives.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    mode, n = sys.argv[1], int(sys.argv[2])
    import sqlalchemy as sa

    from pipeline import inbox
    from pipeline.settings import store_engine

    store = store_engine()  # migrated before counting starts
    hits = 0

    def hit(*_: Any) -> None:
        nonlocal hits
        hits += 1
        if hits == n:
            os.kill(os.getpid(), signal.SIGKILL)

    if mode == "store-stmt":
        sa.event.listen(store, "before_cursor_execute", hit)
    elif mode == "store-commit":
        sa.event.listen(store, "commit", hit)
    elif mode in ("rename-before", "rename-after"):
        real = os.replace

        def replace(src: Any, dst: Any) -> None:
            if mode == "rename-before":
                hit()
            real(src, dst)
            if mode == "rename-after":
                hit()

        inbox.os.replace = replace  # type: ignore[assignment]
    result = inbox.run_inbox(engine=store)
    print("EXIT", result.exit_code, flush=True)


if __name__ == "__main__":
    main()
