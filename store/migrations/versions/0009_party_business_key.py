"""the business key names the party: one record per decision and party (issue 17, joint penalties)

Before, the key was the decision only (``CF_SJLYDM|CF_WSH``, ``XK_LYDWDM|XK_WSH|XK_XKBH``): one 决定书 against two
parties (共同违法) was one record whose second party's row came in as an *update* of the first. Now it is
``<decision>|<party>`` (``national.keys``: credit code, ``reg:`` + 工商注册号 for a placeholder credit code,
else ``id:`` + a digest of the ID number, else ``name:`` + the name), with document numbers and codes in their stored half-width forms (``national.text``).

This revision re-keys every record, version and reference, per dataset:

- each record's new key comes from its own columns, each superseded version's from its payload;
- versions grouped by their new key: a record whose versions all keep one key (nearly all) is re-keyed in
  place, version numbers unchanged; a merged record is split: the party of its current version keeps the
  record (id, public page, its own version numbers), each other party's versions become a record of their
  own (versions renumbered from 1, the first an insert, the last one current), published and pushed as
  new; records whose keys become equal (a 文书号 stored full-width and again half-width) become one record
  with the versions of both, renumbered in time order (the latest current row is kept);
- ``upstream_key`` (new column) keeps the old key of every record that had one, so the province receives
  the same record GUID and idempotency keys as before (``store.changelog.province_key``); records split off
  have none (the province never held them separately);
- push batches still waiting for receipts, push rejections (by key and version), the quarantine (from its
  national values), the source snapshot (through the source row's primary key, else the record's new
  key) and credit repairs follow.

Runs in the migration's transaction (nothing half-done); the records and versions of one dataset are held in
memory while it runs (ids, keys and the key columns; payloads of superseded versions only).

Revision ID: 0009_party_business_key
Revises: 0008_lifecycle
Create Date: 2026-12-01 17:00:00
"""


# no "from __future__ import annotations": alembic loads this file outside sys.modules, where dataclasses
# cannot resolve string annotations
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0009_party_business_key'
down_revision = '0008_lifecycle'
branch_labels = None
depends_on = None

KEY_LENGTH = 400  # store.keys.KEY_LENGTH when this revision was written

log = logging.getLogger("sgs.migration")


def _national() -> Any:
    """The datasets as they were at this revision: the 2019 template's columns only (the extension fields of
    migration 0014 came later; their columns do not exist yet when this runs)."""
    import dataclasses

    from national import DATASETS

    return {name: dataclasses.replace(ds, fields=ds.template_fields) for name, ds in DATASETS.items()}


def _new_key(ds: Any, values: dict[str, Any], old: str) -> str:
    """The key of these national values; ``old`` when they name no decision at all (every key field empty: a
    row written by hand, never by the loader, keeps its key)."""
    from national.keys import business_key, decision_key
    from store.keys import bounded_key

    if not decision_key(ds, values).strip("|"):
        return old
    return bounded_key(business_key(ds, values))


@dataclass
class _Entry:
    """One version of a record before the migration: a superseded one (``version_id``) or a current record."""

    old_key: str
    version: int
    operation: str
    at: dt.datetime  # when it became current (for ordering: time zone aware)
    raw_at: Any  # the same as the store returned it (written back as it was)
    record: dict[str, Any] | None = None  # the record row (current version)
    version_row: dict[str, Any] | None = None  # the record_version row
    new_key: str = ""


@dataclass
class _Group:
    new_key: str
    entries: list[_Entry] = field(default_factory=list)


def _aware(t: Any) -> dt.datetime:
    if t is None:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


class _Seq:
    """New change sequence values (store.changelog.next_seqs as of this revision)."""

    def __init__(self, conn: sa.Connection, tables: list[sa.Table]) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.next = 1 + max([conn.execute(sa.select(sa.func.max(t.c.change_seq))).scalar() or 0 for t in tables])

    def take(self) -> int:
        if self.pg:
            return int(self.conn.execute(sa.text("SELECT nextval('change_seq')")).scalar_one())
        self.next += 1
        return self.next - 1


def _typed(ds: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Record columns from a version's national values (canonical text)."""
    out: dict[str, Any] = {}
    for f in ds.fields:
        v = payload.get(f.code)
        if v is not None and f.kind == "date":
            try:
                v = dt.date.fromisoformat(str(v))
            except ValueError:
                v = None
        elif v is not None and f.kind == "amount":
            try:
                v = Decimal(str(v))
            except ArithmeticError:
                v = None
        out[f.code.lower()] = v
    return out


def upgrade() -> None:
    for name in ("cf", "xk"):
        op.add_column(f"record_{name}", sa.Column(
            "upstream_key", sa.String(KEY_LENGTH),
            comment="the business key the province knows the record by when it had another one before migration 0009 (issue 17); "
                    "NULL: its business key (store.changelog.province_key)"))
    conn = op.get_bind()
    md = sa.MetaData()
    names = ["record_cf", "record_xk", "record_version", "quarantine", "push_batch", "push_rejection", "source_snapshot",
             "credit_repair"]
    t = {n: sa.Table(n, md, autoload_with=conn) for n in names}
    seq = _Seq(conn, [t["record_cf"], t["record_xk"]])
    rebuilt_any = False
    for name, ds in _national().items():
        rebuilt_any |= _rekey(conn, name, ds, t, seq)
    if rebuilt_any:
        from store.published import rebuild

        rebuild(conn, reflect=True)


def _rekey(conn: sa.Connection, name: str, ds: Any, t: dict[str, sa.Table], seq: _Seq) -> bool:
    rec, ver = t[f"record_{name}"], t["record_version"]
    key_columns = [c.lower() for c in (*ds.business_key, *ds.party_columns)]
    # Every record (the columns its key needs; whole rows are read below for the few records rebuilt) and
    # superseded version with its new key.
    entries: list[_Entry] = []
    light = [rec.c.id, rec.c.business_key, rec.c.version, rec.c.operation, rec.c.updated_at, rec.c.department, rec.c.source_pk,
             *(rec.c[c] for c in key_columns)]
    records = [dict(r._mapping) for r in conn.execute(sa.select(*light).order_by(rec.c.id))]
    for r in records:
        e = _Entry(r["business_key"], int(r["version"]), r["operation"], _aware(r["updated_at"]), r["updated_at"], record=r)
        e.new_key = _new_key(ds, {c.upper(): r[c] for c in key_columns}, e.old_key)
        entries.append(e)
    for v in conn.execute(sa.select(ver).where(ver.c.dataset == name).order_by(ver.c.id)):
        row = dict(v._mapping)
        try:
            payload = json.loads(row["payload"])
        except ValueError:
            payload = {}
        e = _Entry(row["business_key"], int(row["version"]), row["operation"], _aware(row["loaded_at"]), row["loaded_at"], version_row=row)
        e.new_key = _new_key(ds, payload, e.old_key)
        entries.append(e)
    by_record = {r["business_key"]: r for r in records}
    # A superseded version without a record (not written by the loader) keeps its key.
    entries = [e for e in entries if e.record is not None or e.old_key in by_record]
    groups: dict[str, _Group] = {}
    for e in entries:
        groups.setdefault(e.new_key, _Group(e.new_key)).entries.append(e)

    moved: dict[tuple[str, int], tuple[str, int]] = {}  # (old key, old version) → (new key, new version)
    upstream_of: dict[str, str | None] = {}  # new key → the record's upstream_key
    key_of_old: dict[str, str] = {}  # old key → the new key of the record that kept it
    simple_records: list[dict[str, Any]] = []
    simple_versions: list[dict[str, Any]] = []
    rebuilt: list[_Group] = []
    for g in groups.values():
        olds = {e.old_key for e in g.entries}
        currents = [e for e in g.entries if e.record is not None]
        if len(olds) == 1 and len(currents) == 1:
            (old,) = olds
            for e in g.entries:
                moved[(old, e.version)] = (g.new_key, e.version)
                if e.record is not None:
                    simple_records.append({"i": e.record["id"], "k": g.new_key, "u": old if old != g.new_key else None})
                else:
                    simple_versions.append({"i": e.version_row["id"], "k": g.new_key})  # type: ignore[index]
            upstream_of[g.new_key] = old if old != g.new_key else None
            key_of_old[old] = g.new_key
        else:
            rebuilt.append(g)

    # Rebuilt groups first take their old rows away (no unique key is ever held twice).
    deleted_records: list[int] = []
    plans: list[tuple[_Group, list[_Entry], _Entry | None, int]] = []
    # Whole rows of the records the rebuilt groups need (read before any key changes).
    wanted = sorted({e.old_key for g in rebuilt for e in g.entries})
    full: dict[str, dict[str, Any]] = {}
    for k in range(0, len(wanted), 500):
        for m in conn.execute(sa.select(rec).where(rec.c.business_key.in_(wanted[k : k + 500]))).mappings():
            full[m["business_key"]] = dict(m)
    for g in rebuilt:
        for e in g.entries:
            if e.record is not None:
                e.record = full[e.old_key]
    by_record.update(full)
    for g in rebuilt:
        currents = sorted((e for e in g.entries if e.record is not None), key=lambda e: (e.at, e.record["id"]))  # type: ignore[index]
        keeper = currents[-1] if currents else None
        others = sorted((e for e in g.entries if e is not keeper), key=lambda e: (e.at, e.old_key, e.version))
        order = [*others, keeper] if keeper is not None else others
        # The kept record's number never goes down: the province has seen its idempotency keys up to its old
        # version, and a later version must not reuse one (a lower number would, after a split).
        start = 1 + (max(0, keeper.version - len(order)) if keeper is not None else 0)
        for i, e in enumerate(order, start=start):
            moved[(e.old_key, e.version)] = (g.new_key, i)
        for e in currents[:-1]:
            deleted_records.append(e.record["id"])  # type: ignore[index]
        ids = [e.version_row["id"] for e in g.entries if e.version_row is not None]
        for k in range(0, len(ids), 500):
            conn.execute(ver.delete().where(ver.c.id.in_(ids[k : k + 500])))
        plans.append((g, order, keeper, start))
        if keeper is not None:
            upstream_of[g.new_key] = keeper.old_key if keeper.old_key != g.new_key else None
            key_of_old[keeper.old_key] = g.new_key
            for e in currents[:-1]:
                key_of_old.setdefault(e.old_key, g.new_key)
        else:
            upstream_of[g.new_key] = None
    for k in range(0, len(deleted_records), 500):
        conn.execute(rec.delete().where(rec.c.id.in_(deleted_records[k : k + 500])))

    if simple_records:
        conn.execute(rec.update().where(rec.c.id == sa.bindparam("i")).values(
            business_key=sa.bindparam("k"), upstream_key=sa.bindparam("u")), simple_records)
    if simple_versions:
        conn.execute(ver.update().where(ver.c.id == sa.bindparam("i")).values(business_key=sa.bindparam("k")), simple_versions)

    for g, order, keeper, start in plans:
        _write_group(conn, name, ds, rec, ver, g, order, keeper, start, by_record, moved, seq)
    # Old keys whose record went elsewhere (a split-off party's old key is the kept record's old key).
    for old, r in by_record.items():
        key_of_old.setdefault(old, moved.get((old, int(r["version"])), (old, 0))[0])

    _references(conn, name, ds, t, moved, upstream_of, key_of_old, entries)
    if rebuilt:
        log.info("migration 0009 %s: %d records re-keyed in place, %d rebuilt (joint decisions split, "
                 "equal keys merged)", name, len(simple_records), len(rebuilt))
    return bool(rebuilt)


def _write_group(conn: sa.Connection, name: str, ds: Any, rec: sa.Table, ver: sa.Table, g: _Group, order: list[_Entry],
                 keeper: _Entry | None, start: int, by_record: dict[str, dict[str, Any]],
                 moved: dict[tuple[str, int], tuple[str, int]], seq: _Seq) -> None:
    """One rebuilt record: its versions renumbered in ``order`` from ``start`` (the last one current)."""
    history = []
    for i, e in enumerate(order[:-1], start=start):
        row = dict(e.version_row) if e.version_row is not None else _as_version(name, ds, e.record)  # type: ignore[arg-type]
        row.pop("id", None)
        row.update(business_key=g.new_key, version=i, dataset=name, content_hash=bytes(row["content_hash"]))
        row["operation"] = _renumbered_operation(row["operation"], i - start + 1)
        history.append(row)
    if history:
        conn.execute(ver.insert(), history)
    n = start + len(order) - 1
    last = order[-1]
    earliest = min(order, key=lambda e: e.at)
    if keeper is not None:
        r = keeper.record
        assert r is not None
        pv = r["province_version"]
        held = moved.get((keeper.old_key, int(pv))) if pv is not None else None
        first = r["first_loaded_at"] if _aware(r["first_loaded_at"]) <= earliest.at else earliest.raw_at
        conn.execute(rec.update().where(rec.c.id == r["id"]).values(
            business_key=g.new_key, upstream_key=keeper.old_key if keeper.old_key != g.new_key else None, version=n,
            operation=_renumbered_operation(r["operation"], len(order)),
            # what the province holds under this record's GUID, as a version of this record (else unknown)
            province_version=held[1] if held is not None and held[0] == g.new_key else None,
            first_loaded_at=first, change_seq=seq.take(),
        ))
        return
    # A party split off a merged record: a new record from its last version, bookkeeping of the decision
    # from the record it was merged into (same decision: publicity dates, the operator's hold, 不予公开).
    v = last.version_row
    assert v is not None
    try:
        payload = json.loads(v["payload"])
    except ValueError:
        payload = {}
    base = by_record.get(last.old_key) or {}
    hold = base.get("hold")
    operation = _renumbered_operation(v["operation"], len(order))
    values = {
        "business_key": g.new_key, "upstream_key": None, "department": v["department"], "source_pk": v["source_pk"],
        "content_hash": bytes(v["content_hash"]), "version": n, "operation": operation, "change_seq": seq.take(),
        "province_version": None, "province_op": None, "source_position": None,
        **_typed(ds, payload),
        "publicity_end": base.get("publicity_end"), "repair_eligible_from": base.get("repair_eligible_from"),
        "status": "withdrawn" if hold or v["operation"] == "D" else "active",
        "withdrawn_at": base.get("withdrawn_at") if hold else (v["loaded_at"] if v["operation"] == "D" else None),
        "withdrawn_reason": base.get("withdrawn_reason") if hold else ("源系统中已删除" if v["operation"] == "D" else None),
        "hold": hold, "not_public": base.get("not_public"), "first_loaded_at": earliest.raw_at, "first_published_at": None,
        "updated_at": v["loaded_at"], "run_id": v["run_id"],
    }
    conn.execute(rec.insert().values(**{k: x for k, x in values.items() if k in rec.c}))


def _renumbered_operation(operation: str, version: int) -> str:
    """A version's operation at its new place: the first is an insert, a later one no insert (D stays D)."""
    if operation == "D":
        return operation
    return "I" if version == 1 else "U"


def _as_version(name: str, ds: Any, r: dict[str, Any]) -> dict[str, Any]:
    """A current record row (merged into another) as a superseded version (store.history.current_as_version)."""
    from national.text import text_value

    payload = json.dumps({c: text_value(r[c.lower()]) for c in ds.columns}, ensure_ascii=False)
    return {"dataset": name, "business_key": r["business_key"], "version": r["version"], "operation": r["operation"],
            "department": r["department"], "source_pk": r["source_pk"], "content_hash": bytes(r["content_hash"]),
            "payload": payload, "run_id": r["run_id"], "loaded_at": r["updated_at"]}


def _references(conn: sa.Connection, name: str, ds: Any, t: dict[str, sa.Table], moved: dict[tuple[str, int], tuple[str, int]],
                upstream_of: dict[str, str | None], key_of_old: dict[str, str], entries: list[_Entry]) -> None:
    from store.keys import bounded_key

    # Push rejections: by key and version.
    rej = t["push_rejection"]
    updates = []
    for r in conn.execute(sa.select(rej.c.id, rej.c.business_key, rej.c.version).where(rej.c.dataset == name)):
        to = moved.get((r.business_key, int(r.version)))
        if to is not None:
            updates.append({"i": r.id, "k": to[0], "v": to[1]})
    if updates:
        conn.execute(rej.update().where(rej.c.id == sa.bindparam("i")).values(business_key=sa.bindparam("k"), version=sa.bindparam("v")),
                     updates)
    # Push batches waiting for receipts: an item stays when its version stays with the record the province
    # knows by that key (same GUID); a version that moved to a split-off record is dropped (that record goes
    # out as new, with a fresh change).
    pb = t["push_batch"]
    for b in conn.execute(sa.select(pb.c.id, pb.c["items"], pb.c.state).where(pb.c.dataset == name)).all():
        items = json.loads(b._mapping["items"] or "[]")
        if not items:
            continue
        kept = []
        for it in items:
            to = moved.get((it[0], int(it[1])))
            upstream = upstream_of.get(to[0]) if to is not None else None
            if to is not None and (upstream or to[0]) == it[0]:
                kept.append([to[0], to[1], it[2], upstream] if upstream else [to[0], to[1], it[2]])
        values: dict[str, Any] = {"items": json.dumps(kept, ensure_ascii=False)}
        if not kept and b.state == "sent":
            values["state"] = "answered"
        conn.execute(pb.update().where(pb.c.id == b.id).values(**values))
    # Quarantine: from its own national values.
    q = t["quarantine"]
    updates = []
    for r in conn.execute(sa.select(q.c.id, q.c.business_key, q.c.national).where(q.c.dataset == name, q.c.business_key.is_not(None))):
        try:
            national = json.loads(r.national)
        except ValueError:
            continue
        if not isinstance(national, dict):
            continue
        new = _new_key(ds, national, r.business_key)
        if new != r.business_key:
            updates.append({"i": r.id, "k": new})
    if updates:
        conn.execute(q.update().where(q.c.id == sa.bindparam("i")).values(business_key=sa.bindparam("k")), updates)
    # Source snapshot: through the source row (its record version or quarantine entry), else the old key's record.
    by_source: dict[tuple[str, str], str] = {}
    for e in entries:
        row = e.record if e.record is not None else e.version_row
        assert row is not None
        by_source[(row["department"], row["source_pk"])] = e.new_key
    for r in conn.execute(sa.select(q.c.department, q.c.source_pk, q.c.business_key).where(q.c.dataset == name, q.c.business_key.is_not(None))):
        by_source.setdefault((r.department, r.source_pk), r.business_key)
    snap = t["source_snapshot"]
    updates = []
    for r in conn.execute(sa.select(snap.c.department, snap.c.source_pk, snap.c.business_key)
                          .where(snap.c.dataset == name, snap.c.business_key.is_not(None))):
        target = by_source.get((r.department, r.source_pk)) or key_of_old.get(r.business_key)
        if target is not None and target != r.business_key:
            updates.append({"d": r.department, "p": r.source_pk, "k": bounded_key(target)})
    if updates:
        conn.execute(snap.update().where(snap.c.dataset == name, snap.c.department == sa.bindparam("d"),
                                         snap.c.source_pk == sa.bindparam("p")).values(business_key=sa.bindparam("k")), updates)
    # Credit repairs (penalties): the record that kept the old key.
    if name == "cf":
        cr = t["credit_repair"]
        updates = [{"i": r.id, "k": key_of_old[r.business_key]}
                   for r in conn.execute(sa.select(cr.c.id, cr.c.business_key)) if r.business_key in key_of_old]
        if updates:
            conn.execute(cr.update().where(cr.c.id == sa.bindparam("i")).values(business_key=sa.bindparam("k")), updates)


def downgrade() -> None:
    """Back to decision keys: each record takes its ``upstream_key`` (or its decision's key), versions and
    references follow. Refused when two records would get the same key (a joint decision's parties, or
    records split by the upgrade): the old schema cannot hold them apart, and merging them would lose one."""
    conn = op.get_bind()
    md = sa.MetaData()
    names = ["record_cf", "record_xk", "record_version", "quarantine", "push_batch", "push_rejection", "source_snapshot",
             "credit_repair"]
    t = {n: sa.Table(n, md, autoload_with=conn) for n in names}
    from store.keys import bounded_key

    def decision_key(ds: Any, values: Any) -> str:  # store.rows.business_keys before this revision
        return "|".join("" if values.get(c) is None else str(values.get(c)) for c in ds.business_key)

    for name, ds in _national().items():
        rec = t[f"record_{name}"]
        national = [c.lower() for c in ds.columns]
        back: dict[str, str] = {}
        taken: dict[str, str] = {}
        for m in conn.execute(sa.select(rec)).mappings():
            r = dict(m)
            old = r["upstream_key"] or bounded_key(decision_key(ds, {c.upper(): r[c] for c in national}))
            if old in taken:
                raise RuntimeError(
                    f"cannot downgrade below 0009: records {taken[old]!r} and {r['business_key']!r} of {name} are one decision "
                    "with several parties, which the old business key would merge"
                )
            taken[old] = r["business_key"]
            back[r["business_key"]] = old
        if back:
            conn.execute(rec.update().where(rec.c.business_key == sa.bindparam("k")).values(business_key=sa.bindparam("o")),
                         [{"k": k, "o": o} for k, o in back.items()])
        for tbl in ("record_version", "push_rejection", "source_snapshot") + (("credit_repair",) if name == "cf" else ()):
            if not back:
                break
            x = t[tbl]
            where = [x.c.business_key == sa.bindparam("k")] + ([x.c.dataset == name] if "dataset" in x.c else [])
            conn.execute(x.update().where(*where).values(business_key=sa.bindparam("o")), [{"k": k, "o": o} for k, o in back.items()])
        q = t["quarantine"]
        updates = []
        for qr in conn.execute(sa.select(q.c.id, q.c.national).where(q.c.dataset == name, q.c.business_key.is_not(None))):
            try:
                values = json.loads(qr.national)
            except ValueError:
                continue
            if isinstance(values, dict):
                updates.append({"i": qr.id, "k": bounded_key(decision_key(ds, values))})
        if updates:
            conn.execute(q.update().where(q.c.id == sa.bindparam("i")).values(business_key=sa.bindparam("k")), updates)
        pb = t["push_batch"]
        for b in conn.execute(sa.select(pb.c.id, pb.c["items"]).where(pb.c.dataset == name)).all():
            items = json.loads(b._mapping["items"] or "[]")
            if items:
                conn.execute(pb.update().where(pb.c.id == b.id).values(items=json.dumps(
                    [[it[3] if len(it) > 3 and it[3] else back.get(it[0], it[0]), it[1], it[2]] for it in items], ensure_ascii=False)))
    for name in ("cf", "xk"):
        with op.batch_alter_table(f"record_{name}") as batch:
            batch.drop_column("upstream_key")

