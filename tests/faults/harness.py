"""Tools of the fault suite: a TCP proxy the test controls, and what "the same central state" means.

The proxy sits between the pipeline and a real server (MariaDB or PostgreSQL) on 127.0.0.1 and can, on
the test's command, reset every open connection (``drop``), stop accepting new ones so that a connect
fails with ECONNREFUSED (``refuse``), come back on the same port (``restore``), or reset everything once
a given number of bytes has flowed from the server (``drop_after``: a connection dying in the middle of a
result set, not between two statements).
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.changelog import delivery_states
from store.schema import ingest_run, quarantine, record_tables, record_version, watermark

_RNG = random.Random()


class FaultProxy:
    """A thread-based TCP forwarder to ``target`` that a test can break at will."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._dropped: set[socket.socket] = set()
        self._closed: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._armed_at: int | None = None  # drop everything once server→client bytes reach this
        self._refuse_after_drop = False
        self.bytes_from_server = 0
        self.connections = 0

    # --- control ---------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._listen()
        return self

    def drop(self) -> None:
        """Reset every open connection (RST, as a crashed server or a cut cable looks to a client)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for s in (a, b):
                self._dropped.add(s)
                try:
                    # Linger 0: close sends RST. SHUT_RD first wakes the pump thread blocked in recv() on
                    # this socket (close alone would not: the blocked call keeps the socket alive, and a
                    # client waiting for the rest of a result set would wait for ever).
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.shutdown(socket.SHUT_RD)
                except OSError:
                    pass
                try:
                    s.close()
                except OSError:
                    pass

    def refuse(self) -> None:
        """Stop listening: new connections are refused until :meth:`restore`."""
        with self._lock:
            listener, self._listener = self._listener, None
            closed = self._closed.get(id(listener)) if listener is not None else None
        if closed is not None:
            closed.wait(5)  # the accept thread closes its own socket (see _accept)

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        self._armed_at = None
        if self._listener is None:
            self._listen()

    def outage(self) -> None:
        """The server goes away: open connections reset, new ones refused."""
        self.refuse()
        self.drop()

    def drop_after(self, nbytes: int, *, refuse: bool = True) -> None:
        """Reset all connections once ``nbytes`` more bytes have come from the server."""
        self._refuse_after_drop = refuse
        self._armed_at = self.bytes_from_server + nbytes

    def close(self) -> None:
        self._stopped.set()
        self.refuse()
        self.drop()

    # --- plumbing --------------------------------------------------------------------------------

    def _listen(self) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.port:
            s.bind(("127.0.0.1", self.port))
        else:
            # Below the kernel's ephemeral range (32768–60999): while the proxy refuses, its port is free,
            # and an ephemeral port could be handed to some client's outgoing connection, which would
            # then keep the proxy from coming back on the same port.
            for _ in range(200):
                try:
                    s.bind(("127.0.0.1", _RNG.randrange(20000, 32000)))
                    break
                except OSError:
                    continue
            else:
                raise OSError("no free port for the fault proxy")
        s.listen(64)
        s.settimeout(0.05)
        self.port = s.getsockname()[1]
        with self._lock:
            self._listener = s
            self._closed[id(s)] = threading.Event()
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        try:
            self._serve(listener)
        finally:
            # Closed by the thread that polls it: a close from another thread while this one waits in
            # accept() left the port listening on this machine (seen: restore() then failed to bind).
            listener.close()
            self._closed[id(listener)].set()

    def _serve(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            with self._lock:
                if self._listener is not listener:
                    return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                if self._listener is not listener:  # refused while this connection was being accepted
                    client.close()
                    return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                self._pairs.append((client, server))
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_server:
                    self.bytes_from_server += len(data)
                    armed = self._armed_at
                    if armed is not None and self.bytes_from_server >= armed:
                        self._armed_at = None
                        if self._refuse_after_drop:
                            self.refuse()
                        self.drop()
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                if s in self._dropped:
                    continue  # being reset: a shutdown here would send FIN instead of RST
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def via_proxy(url: str, proxy: FaultProxy) -> str:
    """The same SQLAlchemy URL, through the proxy."""
    return sa.engine.make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


# --- the central state ---------------------------------------------------------------------------


#: Columns that differ between two equal stores: surrogate ids, run ids, the change sequence (a rolled-back
#: chunk on PostgreSQL leaves a gap in it, which changes nothing that is delivered) and every timestamp.
VOLATILE_COLUMNS = {"id", "change_seq", "run_id", "first_run_id", "last_run_id"}


def _stable_rows(c: sa.Connection, table: sa.Table, *where: sa.ColumnElement[bool]) -> list[tuple[Any, ...]]:
    """Every row of ``table`` (whole: every column but :data:`VOLATILE_COLUMNS` and date-times), sorted."""
    columns = [col for col in table.columns if col.name not in VOLATILE_COLUMNS and not isinstance(col.type, sa.DateTime)]
    return sorted((tuple(r) for r in c.execute(sa.select(*columns).where(*where))), key=repr)


def store_state(store: Engine, dataset: str = "cf") -> dict[str, Any]:
    """Everything that defines the central store's content, without ids, run ids and timestamps.

    Two stores with equal states hold the same records, whole (typed national columns, source positions,
    publicity ends, content hashes, versions, status), the same history (payloads included), the same
    quarantine (raw rows, issues), the same changes waiting for the push (so the same idempotency keys go
    upstream) and the same watermark.
    """
    rec = record_tables[dataset]
    with store.connect() as c:
        return {
            "records": _stable_rows(c, rec),
            "versions": _stable_rows(c, record_version, record_version.c.dataset == dataset),
            "quarantine": _stable_rows(c, quarantine, quarantine.c.dataset == dataset),
            "pending": sorted(
                (r["idempotency_key"], r["business_key"], r["version"], r["operation"])
                for r in delivery_states(c, dataset) if r["state"] == "pending"
            ),
            "watermark": c.execute(sa.select(watermark.c.cursor_value).where(watermark.c.dataset == dataset)).scalar_one_or_none(),
        }


def describe(state: dict[str, Any]) -> str:
    """A one-line summary of a state for assertion messages."""
    return ", ".join(f"{k}={len(v) if isinstance(v, list) else v}" for k, v in state.items())


def assert_whole(store: Engine, dataset: str = "cf") -> None:
    """Nothing half-written: every record's superseded versions are all in the history (none missing, the
    current one not there), every record has its own change sequence value, at most one open quarantine
    entry per source row, and every run's counters reconcile (read = inserted + updated + unchanged +
    quarantined)."""
    rec = record_tables[dataset]
    with store.connect() as c:
        records = c.execute(sa.select(rec.c.business_key, rec.c.version, rec.c.content_hash, rec.c.change_seq)).all()
        versions = {
            (r.business_key, r.version): r
            for r in c.execute(
                sa.select(record_version.c.business_key, record_version.c.version, record_version.c.content_hash, record_version.c.operation)
                .where(record_version.c.dataset == dataset)
            )
        }
        for key, version, _content, _seq in records:
            assert (key, version) not in versions, f"record {key} v{version}: the current version is in the history"
            assert all((key, k) in versions for k in range(1, version)), f"record {key}: history has gaps"
        assert len(versions) == sum(version - 1 for _, version, _, _ in records), "history rows of no record"
        seqs = [seq for *_, seq in records]
        assert len(seqs) == len(set(seqs)), "two records with the same change sequence value"
        open_rows = [pk for (pk,) in c.execute(sa.select(quarantine.c.source_pk).where(quarantine.c.status == "open"))]
        assert len(open_rows) == len(set(open_rows)), "a source row has two open quarantine entries"
        for r in c.execute(sa.select(ingest_run)).mappings():
            assert r["rows_read"] == r["inserted"] + r["updated"] + r["unchanged"] + r["quarantined"], dict(r)


def run_statuses(store: Engine) -> list[str]:
    with store.connect() as c:
        return [s for (s,) in c.execute(sa.select(ingest_run.c.status).order_by(ingest_run.c.id))]


def is_one_of(state: dict[str, Any], candidates: Iterable[dict[str, Any]]) -> int | None:
    """The index of the candidate equal to ``state`` (None when none is)."""
    for i, cand in enumerate(candidates):
        if cand == state:
            return i
    return None


def exception_text(exc: BaseException) -> str:
    """An exception and its whole chain as a traceback would print them (what Airflow's task log shows)."""
    import traceback

    return "".join(traceback.format_exception(exc))


def leaked_ids(text: str, ids: Iterable[str]) -> list[str]:
    """The ID numbers (18 characters, or any 8-character run of them: birth date + sequence) found in ``text``."""
    return sorted({i for i in ids if i and (i in text or i[6:14] + i[14:17] in text)})
