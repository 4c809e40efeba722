"""Forwarding to the provincial credit platform (省信用信息共享平台): change log, push, receipts, expiry.

The stage reads the central store's change log (``store.changelog``: every change of a record takes the
next ``change_seq`` in the loader's transaction; the push keeps a position in it) and delivers the current
version of every changed record exactly once:

- ``upstream.push``: batches over HTTP (``push``), retries with back-off, per-record receipts.
- ``upstream.files``: the same batches as files in the national template with a manifest (file exchange mode).
- ``upstream.envelope``: the ONE module that knows the wire format; a real province is an adapter there.
- ``upstream.expiry``: withdrawals of penalties whose publicity period ended.
- ``upstream.standin``: a local FastAPI stand-in of the provincial API for tests and the demo.
- ``upstream.demo``: ``push_to_standin`` for ``sgs demo``.

Importing this package imports nothing heavy: DAG files may name it at parse time.
"""
