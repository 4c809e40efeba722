"""Process memory settings for long ingests.

glibc's malloc gives threads that allocate at the same time their own arenas (up to 8 per core), and
memory freed in one arena is not reused by another: with the extract, load and main threads of an ingest
each building and dropping chunk-sized objects, the resident size grows by the arenas' slack.
Limiting the arenas to 2 cut the peak of a 1,000,000-row run by 46 MB (604 → 558 MB, parent + worker)
and made it no slower (docs/performance.md). ``MALLOC_ARENA_MAX`` in the environment (read by glibc at
start-up) takes precedence. The cap applies to the whole process that runs ``ingest()`` (an Airflow task
process, the ``sgs`` CLI), not only to the ingest's threads.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger("sgs.ingest")

_M_ARENA_MAX = -8  # from glibc's malloc.h
_done = False


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for this process (once; arenas that already exist stay). True if set."""
    global _done
    if _done or not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    _done = True
    try:
        ok = bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, int(arenas)))  # the C library already loaded
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to limit
        return False
    if not ok:
        log.debug("mallopt(M_ARENA_MAX) refused")
    return ok


def return_free_memory() -> bool:
    """Give memory freed by this process back to the system (glibc ``malloc_trim``): after a run hands its
    preparation to the worker process, what the first chunks' preparation used is not needed here again.
    True if glibc released something."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(ctypes.CDLL(None).malloc_trim(0))
    except (OSError, AttributeError):  # not glibc
        return False
