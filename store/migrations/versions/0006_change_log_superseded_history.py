"""change log instead of outbox rows; history of superseded versions only; content hashes as 16 bytes

- ``record_version`` kept every version, the current one included: the current version of each record is
  deleted from it (the record itself holds it, with the operation that made it in the new ``operation``
  column); every other version stays.
- ``outbox`` (one row per version to send) becomes a position in the store-wide change sequence
  (``record_<ds>.change_seq``, ``push_position``): every record gets a sequence value, those with an
  unresolved entry (``pending`` or ``sent``) *above* every other record's, and each dataset's position is
  the highest value of the others. So everything that was waiting is sent (its current version; a ``sent``
  entry of the current version goes out with the same idempotency key, which the province de-duplicates),
  and nothing already answered is sent again. What the province holds (``province_version``/``province_op``)
  comes from each record's newest ``accepted`` entry; every ``rejected`` entry becomes a ``push_rejection``
  row; answered batches become ``push_batch`` rows with their counts.
- ``content_hash`` (64 hex characters) becomes 16 bytes: the first 32 hex digits, decoded (the same value
  the loader now computes, so no record looks changed).
- PostgreSQL: the SEQUENCE ``change_seq`` starts after the highest value given.

Downgrade is not supported: the outbox rows of answered intermediate versions are gone by design (restore
the backup taken before the upgrade).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:40:00
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

TABLES = {'cf': 'record_cf', 'xk': 'record_xk'}
_STEP = 5000


def _hex_to_bytes(conn: sa.Connection, table: str, new: str = 'content_hash_b') -> None:
    if conn.dialect.name == 'postgresql':
        conn.execute(sa.text(f"UPDATE {table} SET {new} = decode(substr(content_hash, 1, 32), 'hex')"))
        return
    rows = conn.execute(sa.text(f"SELECT id, content_hash FROM {table}")).all()
    for j in range(0, len(rows), _STEP):
        part = rows[j: j + _STEP]
        conn.execute(sa.text(f"UPDATE {table} SET {new} = :h WHERE id = :i"),
                     [{"i": i, "h": _hash_bytes(h)} for i, h in part])


def _hash_bytes(h: str) -> bytes:
    try:
        return bytes.fromhex(h[:32])
    except ValueError:  # not hex (a store changed by hand): keep it recognisable, never equal to a real hash
        return (h.encode("utf-8") + b"\0" * 16)[:16]


def upgrade() -> None:
    conn = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    for table in TABLES.values():
        with op.batch_alter_table(table, schema=None) as b:
            b.add_column(sa.Column('operation', sa.String(1), nullable=True))
            b.add_column(sa.Column('change_seq', sa.BigInteger(), nullable=True))
            b.add_column(sa.Column('province_version', sa.Integer(), nullable=True))
            b.add_column(sa.Column('province_op', sa.String(1), nullable=True))
            b.add_column(sa.Column('content_hash_b', sa.LargeBinary(16), nullable=True))
    with op.batch_alter_table('record_version', schema=None) as b:
        b.add_column(sa.Column('content_hash_b', sa.LargeBinary(16), nullable=True))

    # The operation of each current version, from its history row.
    for ds, table in TABLES.items():
        conn.execute(sa.text(
            f"UPDATE {table} SET operation = COALESCE((SELECT v.operation FROM record_version v WHERE v.dataset = :ds"
            f" AND v.business_key = {table}.business_key AND v.version = {table}.version),"
            f" CASE WHEN version = 1 THEN 'I' WHEN status = 'withdrawn' THEN 'D' ELSE 'U' END)"
        ), {"ds": ds})
        _hex_to_bytes(conn, table)
    _hex_to_bytes(conn, 'record_version')

    # What the province holds: each record's newest accepted entry.
    for ds, table in TABLES.items():
        accepted = conn.execute(sa.text(
            "SELECT business_key, version, operation FROM outbox WHERE dataset = :ds AND state = 'accepted' ORDER BY version"
        ), {"ds": ds}).all()
        newest: dict[str, tuple[int, str]] = {}
        for key, version, operation in accepted:
            newest[key] = (version, operation)
        items = list(newest.items())
        for j in range(0, len(items), _STEP):
            conn.execute(sa.text(f"UPDATE {table} SET province_version = :v, province_op = :o WHERE business_key = :k"),
                         [{"k": k, "v": v, "o": o} for k, (v, o) in items[j: j + _STEP]])

    # Change sequence values: records with nothing waiting first, then those with an unresolved entry in the
    # order of their oldest one; each dataset's position is the highest value of the first group.
    waiting: dict[tuple[str, str], int] = {}
    for ds, key, first in conn.execute(sa.text(
        "SELECT dataset, business_key, MIN(id) FROM outbox WHERE state IN ('pending', 'sent') GROUP BY dataset, business_key"
    )):
        waiting[(ds, key)] = first
    done: list[tuple[str, int]] = []
    later: list[tuple[int, str, int]] = []
    for ds, table in TABLES.items():
        for rec_id, key in conn.execute(sa.text(f"SELECT id, business_key FROM {table} ORDER BY id")):
            if (ds, key) in waiting:
                later.append((waiting[(ds, key)], ds, rec_id))
            else:
                done.append((ds, rec_id))
    order = [(ds, rec_id) for ds, rec_id in done] + [(ds, rec_id) for _, ds, rec_id in sorted(later)]
    for ds, table in TABLES.items():
        values = [{"i": rec_id, "s": seq} for seq, (d, rec_id) in enumerate(order, 1) if d == ds]
        for j in range(0, len(values), _STEP):
            conn.execute(sa.text(f"UPDATE {table} SET change_seq = :s WHERE id = :i"), values[j: j + _STEP])
    position = len(done)

    # The history keeps superseded versions only.
    for ds, table in TABLES.items():
        conn.execute(sa.text(
            f"DELETE FROM record_version WHERE dataset = :ds AND EXISTS (SELECT 1 FROM {table} r"
            " WHERE r.business_key = record_version.business_key AND r.version = record_version.version)"
        ), {"ds": ds})

    for table in TABLES.values():
        with op.batch_alter_table(table, schema=None) as b:
            b.drop_column('content_hash')
        with op.batch_alter_table(table, schema=None) as b:
            b.alter_column('content_hash_b', new_column_name='content_hash', existing_type=sa.LargeBinary(16), nullable=False)
            b.alter_column('operation', existing_type=sa.String(1), nullable=False,
                           comment='of the current version: I insert, U update, D withdrawal')
            b.alter_column('change_seq', existing_type=sa.BigInteger(), nullable=False,
                           comment="store-wide change sequence value of the current version's change")
            b.create_unique_constraint(f'uq_{table}_change_seq', ['change_seq'])
    with op.batch_alter_table('record_version', schema=None) as b:
        b.drop_column('content_hash')
    with op.batch_alter_table('record_version', schema=None) as b:
        b.alter_column('content_hash_b', new_column_name='content_hash', existing_type=sa.LargeBinary(16), nullable=False)

    op.create_table(
        'push_position',
        sa.Column('dataset', sa.String(2), nullable=False),
        sa.Column('position', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('dataset', name=op.f('pk_push_position')),
    )
    op.create_table(
        'push_batch',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('batch_id', sa.String(64), nullable=False),
        sa.Column('dataset', sa.String(2), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(12), nullable=False),
        sa.Column('seq_from', sa.BigInteger(), nullable=False),
        sa.Column('seq_to', sa.BigInteger(), nullable=False),
        sa.Column('items', sa.Text(), nullable=False),
        sa.Column('records', sa.Integer(), server_default='0', nullable=False),
        sa.Column('accepted', sa.Integer(), server_default='0', nullable=False),
        sa.Column('rejected', sa.Integer(), server_default='0', nullable=False),
        sa.Column('not_sent', sa.Integer(), server_default='0', nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='1', nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_push_batch')),
    )
    op.create_index('ix_push_batch_state', 'push_batch', ['state', 'dataset'])
    op.create_table(
        'push_rejection',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('dataset', sa.String(2), nullable=False),
        sa.Column('business_key', sa.String(400), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('operation', sa.String(1), nullable=False),
        sa.Column('batch_id', sa.String(64), nullable=False),
        sa.Column('code', sa.String(40), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_push_rejection')),
        sa.UniqueConstraint('dataset', 'business_key', 'version', name='uq_push_rejection_key_version'),
    )

    # Receipts: rejected entries one row each; answered batches with their counts.
    rejected = conn.execute(sa.text(
        "SELECT dataset, business_key, version, operation, batch_id, receipt_code, receipt_message, receipt_at"
        " FROM outbox WHERE state = 'rejected' ORDER BY id"
    )).all()
    seen: set[tuple[str, str, int]] = set()
    rows: list[dict[str, Any]] = []
    for r in rejected:
        if (r.dataset, r.business_key, r.version) in seen:
            continue
        seen.add((r.dataset, r.business_key, r.version))
        rows.append({"dataset": r.dataset, "business_key": r.business_key, "version": r.version, "operation": r.operation,
                     "batch_id": r.batch_id or "", "code": (r.receipt_code or "REJECTED")[:40], "message": r.receipt_message or "",
                     "created_at": r.receipt_at or now})
    # Plain SQL: SQLite hands the old timestamps back as text, which passes through unchanged.
    if rows:
        conn.execute(sa.text(
            "INSERT INTO push_rejection (dataset, business_key, version, operation, batch_id, code, message, created_at)"
            " VALUES (:dataset, :business_key, :version, :operation, :batch_id, :code, :message, :created_at)"
        ), rows)
    batches = conn.execute(sa.text(
        "SELECT batch_id, dataset, MIN(run_id), MIN(sent_at), MAX(receipt_at), COUNT(*),"
        " SUM(CASE WHEN state = 'accepted' THEN 1 ELSE 0 END), SUM(CASE WHEN state = 'rejected' THEN 1 ELSE 0 END),"
        " MAX(attempts) FROM outbox WHERE batch_id IS NOT NULL AND state IN ('accepted', 'rejected')"
        " GROUP BY batch_id, dataset ORDER BY MIN(sent_at)"
    )).all()
    if batches:
        conn.execute(sa.text(
            "INSERT INTO push_batch (batch_id, dataset, run_id, state, seq_from, seq_to, items, records, accepted, rejected,"
            " not_sent, attempts, sent_at, answered_at) VALUES (:batch_id, :dataset, :run_id, :state, :seq_from, :seq_to,"
            " :items, :records, :accepted, :rejected, :not_sent, :attempts, :sent_at, :answered_at)"
        ), [
            {"batch_id": b[0], "dataset": b[1], "run_id": b[2], "state": "answered", "seq_from": 0, "seq_to": 0, "items": "[]",
             "records": b[5], "accepted": b[6], "rejected": b[7], "not_sent": 0, "attempts": b[8] or 1,
             "sent_at": b[3] or now, "answered_at": b[4]}
            for b in batches
        ])
    positions = [{"dataset": ds, "position": position, "updated_at": now} for ds in TABLES]
    conn.execute(sa.text("INSERT INTO push_position (dataset, position, updated_at) VALUES (:dataset, :position, :updated_at)"),
                 positions)
    op.drop_table('outbox')
    if conn.dialect.name == 'postgresql':
        conn.execute(sa.text(f"CREATE SEQUENCE change_seq AS bigint START WITH {len(order) + 1}"))


def downgrade() -> None:
    raise NotImplementedError(
        "migration 0006 cannot be undone: answered outbox rows of superseded versions are not kept. "
        "Restore the backup taken before the upgrade"
    )
