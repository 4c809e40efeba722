"""Read-side queries of the central store for the reports: quarantine (问题数据) for feedback to departments,
the assessment's population (records, quarantine entries, runs), the quality pages and ``sgs dept check``.

Every read the ``reports`` package (and the CLI's feedback commands) makes of the store is here, so that the
reports hold the arithmetic and the presentation and never a table of ``store.schema``."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from national import dataset as national_dataset
from store import dialect
from store.schema import declaration, ingest_run, push_rejection, quarantine, record_tables, watermark


def open_quarantine(engine: Engine, department: str, dataset: str | None = None) -> Iterator[dict[str, Any]]:
    """The department's open quarantined rows, oldest first, with issues and values decoded."""
    stmt = (
        sa.select(quarantine)
        .where(quarantine.c.department == department, quarantine.c.status == "open")
        .order_by(quarantine.c.dataset, quarantine.c.first_seen_at, quarantine.c.id)
    )
    if dataset:
        stmt = stmt.where(quarantine.c.dataset == dataset)
    with engine.connect() as conn:
        for row in conn.execution_options(yield_per=1000).execute(stmt).mappings():
            d = dict(row)
            d["issues"] = json.loads(d["issues"])
            d["national"] = json.loads(d["national"])
            d["raw"] = json.loads(d["raw"])
            yield d


def quarantine_counts(engine: Engine) -> list[dict[str, Any]]:
    """Open quarantined rows per department, dataset and rule (a row with two rules counts for both)."""
    per_rule: Counter[tuple[str, str, str]] = Counter()
    rows: Counter[tuple[str, str]] = Counter()
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=5000).execute(
            sa.select(quarantine.c.department, quarantine.c.dataset, quarantine.c.rule_ids).where(
                quarantine.c.status == "open"
            )
        )
        for dept, ds, rule_ids in result:
            rows[(dept, ds)] += 1
            for rule in (rule_ids or "").split(","):
                if rule:
                    per_rule[(dept, ds, rule)] += 1
    return [
        {"department": d, "dataset": ds, "rule": r, "rows": n, "open_rows": rows[(d, ds)]}
        for (d, ds, r), n in sorted(per_rule.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[1], kv[0][2]))
    ]


# --------------------------------------------------------------------------------------------------
# Assessment (reports.indicators): the population of records and quarantine entries, open feedback items,
# runs. Values come back as the store holds them (SQLite returns naive UTC timestamps, dates may be text);
# the reports normalise them.

#: Rows per chunk of the assessment's reads (memory is bounded by it, not by the table).
CHUNK_ROWS = 20000


def decided_records(
    engine: Engine, dataset: str, lo: dt.date, hi: dt.date, columns: Sequence[str], *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[list[RowMapping]]:
    """Stored records of ``dataset`` whose decision date is in [lo, hi], in chunks, oldest first.

    Each row has ``business_key``, ``department``, ``source_pk``, ``first_loaded_at``, ``first_published_at``,
    ``decision_date``, ``province_version`` (the last version the province accepted, NULL: none) and
    the national ``columns`` under their national (upper-case) names.
    """
    t = record_tables[dataset]
    decided = t.c[national_dataset(dataset).decision_date.lower()]
    stmt = (
        sa.select(
            t.c.business_key, t.c.department, t.c.source_pk, t.c.first_loaded_at, t.c.first_published_at,
            decided.label("decision_date"), t.c.province_version,
            *(t.c[c.lower()].label(c) for c in columns),
        )
        .where(decided >= lo, decided <= hi)
        .order_by(t.c.id)
    )
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=chunk_rows).execute(stmt)
        for part in result.partitions(chunk_rows):
            yield [r._mapping for r in part]


def upstream_rejections(engine: Engine, dataset: str, lo: dt.date, hi: dt.date, until: dt.datetime) -> dict[str, Any]:
    """Stored records of ``dataset`` decided in [lo, hi] that the provincial platform rejected (a receipt by ``until``):
    business key → the time of its first rejection (any version)."""
    t = record_tables[dataset]
    decided = t.c[national_dataset(dataset).decision_date.lower()]
    r = push_rejection
    stmt = (
        sa.select(r.c.business_key, sa.func.min(r.c.created_at).label("first_rejected_at"))
        .join(t, t.c.business_key == r.c.business_key)
        .where(r.c.dataset == dataset, r.c.created_at <= until, decided >= lo, decided <= hi)
        .group_by(r.c.business_key)
    )
    with engine.connect() as conn:
        return {row.business_key: row.first_rejected_at for row in conn.execute(stmt)}


def declarations_as_of(engine: Engine, first_month: str, last_month: str, as_of: dt.datetime) -> list[dict[str, Any]]:
    """全面性: per department, dataset and month in [first_month, last_month] (``YYYY-MM``), the latest declaration
    made by ``as_of``: ``department``, ``dataset``, ``month``, ``declared``, ``declared_at``, ``source``."""
    d = declaration.c
    stmt = (
        sa.select(d.department, d.dataset, d.month, d.declared, d.declared_at, d.source)
        .where(d.month >= first_month, d.month <= last_month, d.declared_at <= as_of)
        .order_by(d.declared_at, d.id)
    )
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(stmt).mappings():
            latest[(r["department"], r["dataset"], r["month"])] = dict(r)  # later rows win
    return list(latest.values())


def quarantine_entries_seen(
    engine: Engine, dataset: str, since: dt.datetime, until: dt.datetime, *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[dict[str, Any]]:
    """Quarantine entries of ``dataset`` first seen in [since, until], in id order (a row's later versions
    come after its earlier ones): ``id``, ``department``, ``source_pk``, ``business_key``, ``first_seen_at``
    and ``national`` (JSON text)."""
    q = quarantine.c
    stmt = (
        sa.select(q.id, q.department, q.source_pk, q.business_key, q.first_seen_at, q.national)
        .where(q.dataset == dataset, q.first_seen_at >= since, q.first_seen_at <= until)
        .order_by(q.id)
    )
    with engine.connect() as conn:
        for r in conn.execution_options(yield_per=chunk_rows).execute(stmt).mappings():
            yield dict(r)


def open_quarantine_as_of(
    engine: Engine, as_of: dt.datetime, department: str | None = None, *, chunk_rows: int = CHUNK_ROWS
) -> Iterator[tuple[str, str, Any, str | None]]:
    """``(department, dataset, first_seen_at, rule_ids)`` of every quarantine entry open at ``as_of``: seen by
    then and not resolved by then (one resolved later still counts)."""
    q = quarantine.c
    stmt = sa.select(q.department, q.dataset, q.first_seen_at, q.rule_ids).where(
        q.first_seen_at <= as_of, sa.or_(q.status == "open", q.resolved_at > as_of)
    )
    if department:
        stmt = stmt.where(q.department == department)
    with engine.connect() as conn:
        yield from (tuple(r) for r in conn.execution_options(yield_per=chunk_rows).execute(stmt))


#: The columns of an ingest run that the dashboard shows.
RUN_COLUMNS = ("id", "dataset", "trigger", "status", "started_at", "finished_at", "rows_read", "inserted", "updated",
               "unchanged", "quarantined", "error")


def latest_runs(engine: Engine, department: str, limit: int = 10) -> list[dict[str, Any]]:
    """The department's latest ingest runs (both datasets), newest first, with :data:`RUN_COLUMNS`."""
    stmt = (
        sa.select(*(ingest_run.c[c] for c in RUN_COLUMNS))
        .where(ingest_run.c.department == department)
        .order_by(ingest_run.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def latest_decision_dates(engine: Engine, until: dt.date) -> dict[str, Any]:
    """Per dataset, the latest decision date on or before ``until`` among stored records (``None``: none)."""
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for name, t in record_tables.items():
            col = t.c[national_dataset(name).decision_date.lower()]
            out[name] = conn.execute(sa.select(sa.func.max(col)).where(col <= until)).scalar()
    return out


def store_departments(engine: Engine) -> set[str]:
    """Department codes that have records, quarantine entries or runs in the store."""
    codes: set[str] = set()
    with engine.connect() as conn:
        for t in (*record_tables.values(), quarantine, ingest_run):
            codes |= {r[0] for r in conn.execute(sa.select(t.c.department).distinct())}
    return codes


# --------------------------------------------------------------------------------------------------
# Quality pages (数据质量报告)


def department_runs(engine: Engine, department: str, dataset: str, limit: int) -> list[dict[str, Any]]:
    """The latest ``limit`` ingest runs of one department dataset, newest first, every column."""
    stmt = (
        sa.select(ingest_run)
        .where(ingest_run.c.department == department, ingest_run.c.dataset == dataset)
        .order_by(ingest_run.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def record_count(engine: Engine, department: str, dataset: str) -> int:
    """Stored records (current versions) of one department dataset."""
    t = record_tables[dataset]
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.department == department)).scalar_one())


def ingest_run_row(engine: Engine, run_id: int) -> dict[str, Any]:
    """One ingest run, every column (``NoResultFound`` when there is none)."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(ingest_run).where(ingest_run.c.id == run_id)).mappings().one())


# --------------------------------------------------------------------------------------------------
# sgs dept check


def peek_watermark(url: str, department: str, dataset: str) -> str | None:
    """The stored watermark (JSON text) of a department dataset, read without creating, migrating or tuning
    the store (``sgs dept check`` writes nothing anywhere); ``None`` when there is no store or no watermark."""
    if not dialect.for_url(url).exists(url):
        return None
    engine = sa.create_engine(url, hide_parameters=True)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.select(watermark.c.cursor_value).where(watermark.c.department == department, watermark.c.dataset == dataset)
            ).scalar_one_or_none()
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------
# sgs audit (reports.audit)


def record_batches(
    engine: Engine, dataset: str, *, department: str | None = None, batch_rows: int = 50_000
) -> Iterator[tuple[list[int], list[str], dict[str, list[str | None]]]]:
    """The current version of every stored record of ``dataset`` (of ``department`` only, if given), in batches
    of at most ``batch_rows`` by ascending id (keyset: ``id > last``, the primary key's order), each as
    ``(ids, departments, national column → values as national text)``. One batch in memory at a time; each
    batch is its own short read."""
    from national.text import text_value

    t = record_tables[dataset]
    columns = national_dataset(dataset).columns
    selected = [t.c.id, t.c.department, *(t.c[c.lower()] for c in columns)]
    last = 0
    while True:
        stmt = sa.select(*selected).where(t.c.id > last).order_by(t.c.id).limit(batch_rows)
        if department is not None:
            stmt = stmt.where(t.c.department == department)
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            return
        ids = [int(r[0]) for r in rows]
        departments = [str(r[1]) for r in rows]
        values = {c: [text_value(r[k + 2]) for r in rows] for k, c in enumerate(columns)}
        del rows
        yield ids, departments, values
        last = ids[-1]
        if len(ids) < batch_rows:
            return


def record_labels(engine: Engine, dataset: str, ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
    """``id → (department, document number)`` of stored records of ``dataset`` (to name them in a message)."""
    t = record_tables[dataset]
    wsh = t.c[f"{dataset}_wsh"]  # CF_WSH / XK_WSH
    out: dict[int, tuple[str, str | None]] = {}
    with engine.connect() as conn:
        for k in range(0, len(ids), 500):
            chunk = list(ids[k : k + 500])
            for r in conn.execute(sa.select(t.c.id, t.c.department, wsh).where(t.c.id.in_(chunk))):
                out[int(r[0])] = (str(r[1]), r[2])
    return out
