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

import contextlib
import ctypes
import gc
import logging
import os
import sys
from collections.abc import Iterator

log = logging.getLogger("sgs.ingest")

_M_ARENA_MAX = -8  # from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks from this size on get their own mapping, returned to the system when freed (glibc's initial threshold, held
#: fixed: glibc raises it after each such block is freed, up to 32 MiB, and a chunk's large buffers — a reply from
#: the worker, a COPY block — then stay in the heap as holes after use).
LARGE_BLOCK = 128 * 1024
_done = False
_large_done = False


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


def return_large_blocks(threshold: int = LARGE_BLOCK) -> bool:
    """Keep glibc's mmap and trim thresholds at ``threshold`` (once per process; ``MALLOC_MMAP_THRESHOLD_`` or
    ``GLIBC_TUNABLES`` in the environment take precedence): a run's chunk-sized buffers go back to the system when
    freed instead of staying in the heap. Measured on a 200,000-row run: the run process 237 → 227 MB. True if set."""
    global _large_done
    if _large_done or not sys.platform.startswith("linux") or os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("GLIBC_TUNABLES"):
        return False
    _large_done = True
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, int(threshold))) and bool(libc.mallopt(_M_TRIM_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):  # not glibc
        return False


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """The objects that exist now (imports, engines, configuration) left out of the cyclic garbage collector's
    full collections while the block runs (``gc.freeze``), and handed back to it afterwards: a run allocates
    tens of thousands of container objects per chunk, and each full collection walked every module object as
    well (15 % of the loading thread's CPU on a 50,000-row load). Reentrant: an inner block leaves the freeze to
    the outer one."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()  # without a collection first (tens of ms): garbage that exists now is collected after the block
    try:
        yield
    finally:
        gc.unfreeze()
