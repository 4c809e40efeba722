"""The one-page prefetch of ``connectors.sql.read_chunks``: order, errors at their page, at most one page
ahead, and a clean stop (the source generator is closed, so its connection goes back) when the caller stops."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connectors.sql import _one_ahead


class Pages:
    """A page generator that records what was produced and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.produced: list[int] = []
        self.closed = False
        self.threads: set[str] = set()

    def __iter__(self) -> Iterator[int]:
        try:
            for i in range(1, self.n + 1):
                self.threads.add(threading.current_thread().name)
                if i == self.fail_at:
                    raise ConnectionError(f"page {i}")
                self.produced.append(i)
                yield i
        finally:
            self.closed = True


def test_pages_come_in_order_and_at_most_one_ahead() -> None:
    pages = Pages(5)
    seen = []
    for item in _one_ahead(iter(pages), thread_name="t"):  # type: ignore[arg-type]
        seen.append(item)
        assert len(pages.produced) <= len(seen) + 1  # the page in hand, and at most the next one
    assert seen == [1, 2, 3, 4, 5] and pages.closed
    assert pages.threads and all(t.startswith("t") for t in pages.threads)  # read by the worker, not the caller


def test_an_error_of_a_read_is_raised_at_its_page_after_the_pages_before_it() -> None:
    pages = Pages(5, fail_at=3)
    seen = []
    with pytest.raises(ConnectionError, match="page 3"):
        for item in _one_ahead(iter(pages), thread_name="t"):  # type: ignore[arg-type]
            seen.append(item)
    assert seen == [1, 2]


def test_a_caller_that_stops_early_closes_the_source_and_leaves_no_thread() -> None:
    pages = Pages(10)
    before = threading.active_count()
    gen = _one_ahead(iter(pages), thread_name="t")  # type: ignore[arg-type]
    assert next(gen) == 1
    with pytest.raises(RuntimeError):  # the load of chunk 1 fails in the caller …
        gen.throw(RuntimeError("store down"))
    assert pages.closed  # … the read in flight finished and the source generator was closed
    assert pages.produced == [1, 2]
    assert threading.active_count() == before
