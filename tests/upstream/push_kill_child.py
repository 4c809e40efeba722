"""``sgs push`` in a subprocess that SIGKILLs itself at a chosen point (tests/upstream/test_push_kill.py).

``python push_kill_child.py MODE N``, the store in ``SGS_STORE_URL`` and the province in
``AIRFLOW_CONN_SGS_PROVINCE``, as for ``sgs push``. MODE:

- ``before-request``: dies just before the N-th batch goes out (the batch is already taken: ``sent``);
- ``in-flight``: dies ``SGS_KILL_AFTER`` seconds after the N-th request started (the stand-in answers slowly);
- ``after-response``: dies after the N-th answer arrived, before its receipts are stored;
- ``race``: no kill; the lease's check of running pushes is followed by a 1 s pause, so that two processes
  started together reach the lease at the same moment (what serialising the lease must handle);
- ``none``: a plain push.

Before the push the process prints ``READY`` and, with ``SGS_START_AT`` (a Unix time), waits for it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import sqlalchemy as sa


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    mode, n = sys.argv[1], int(sys.argv[2])
    from pipeline.cli import main as sgs
    from upstream import push as push_module

    real = push_module.send_batch
    calls = 0

    def send_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == n and mode == "before-request":
            _die()
        if calls == n and mode == "in-flight":
            threading.Timer(float(os.environ.get("SGS_KILL_AFTER", "0.3")), _die).start()
        answer = real(*args, **kwargs)
        if calls == n and mode == "after-response":
            _die()
        return answer

    push_module.send_batch = send_batch
    if mode == "race":
        paused = False

        def pause_after_the_lease_check(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            nonlocal paused
            # upstream.runs.start: SELECT … FROM upstream_run WHERE status = 'running' AND kind IN (…)
            if not paused and statement.lstrip().upper().startswith("SELECT") and "upstream_run.kind IN" in statement:
                paused = True
                time.sleep(1.0)

        sa.event.listen(sa.engine.Engine, "after_cursor_execute", pause_after_the_lease_check)
    print("READY", flush=True)
    start_at = float(os.environ.get("SGS_START_AT") or 0)
    if start_at:
        time.sleep(max(0.0, start_at - time.time()))
    sys.argv = ["sgs", "push", "--json"]
    sgs()


if __name__ == "__main__":
    main()
