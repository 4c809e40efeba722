"""quarantine.raw_hash and source_snapshot.row_hash as 16 bytes instead of 64 hex characters

Like ``content_hash`` in 0006: the first 32 hex digits of the SHA-256, decoded — the value the code now
computes (``digest()[:16]``), so no snapshot row looks changed and no quarantined row looks new after the
upgrade. A value that is not hex (a store changed by hand) becomes its first 16 bytes, NUL-padded: never equal
to a real hash (that row is compared as changed once).

Downgrade writes the 16 bytes back as 32 hex digits; the older code hashes to 64, so after a downgrade every
snapshot row is read as changed once and a quarantined row seen again opens a new entry once.

Revision ID: 0011_narrow_hashes
Revises: 0010_inbox_file
Create Date: 2026-12-01 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_narrow_hashes'
down_revision = '0010_inbox_file'
branch_labels = None
depends_on = None

COLUMNS = {'quarantine': 'raw_hash', 'source_snapshot': 'row_hash'}
_STEP = 5000


def _hash_bytes(h: str) -> bytes:
    try:
        return bytes.fromhex(h[:32]) if len(h) >= 32 else _not_hex(h)
    except ValueError:
        return _not_hex(h)


def _not_hex(h: str) -> bytes:
    return (h.encode("utf-8", "surrogatepass") + b"\0" * 16)[:16]


def upgrade() -> None:
    conn = op.get_bind()
    for table, column in COLUMNS.items():
        if conn.dialect.name == 'postgresql':
            conn.execute(sa.text(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE bytea USING CASE "
                f"WHEN {column} ~ '^[0-9a-fA-F]{{32}}' THEN decode(substr({column}, 1, 32), 'hex') "
                f"ELSE substr(convert_to({column}, 'UTF8') || '\\x00000000000000000000000000000000'::bytea, 1, 16) END"
            ))
            continue
        # SQLite (and any other store): a new column filled row by row, then swapped in.
        with op.batch_alter_table(table, schema=None) as b:
            b.add_column(sa.Column(f'{column}_b', sa.LargeBinary(16), nullable=True))
        rows = conn.execute(sa.text(f"SELECT rowid, {column} FROM {table}")).all()
        for j in range(0, len(rows), _STEP):
            conn.execute(sa.text(f"UPDATE {table} SET {column}_b = :h WHERE rowid = :i"),
                         [{"i": i, "h": _hash_bytes(h)} for i, h in rows[j: j + _STEP]])
        with op.batch_alter_table(table, schema=None) as b:
            b.drop_column(column)
        with op.batch_alter_table(table, schema=None) as b:
            b.alter_column(f'{column}_b', new_column_name=column, existing_type=sa.LargeBinary(16), nullable=False)


def downgrade() -> None:
    conn = op.get_bind()
    for table, column in COLUMNS.items():
        if conn.dialect.name == 'postgresql':
            conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar(64) USING encode({column}, 'hex')"))
            continue
        with op.batch_alter_table(table, schema=None) as b:
            b.add_column(sa.Column(f'{column}_h', sa.String(64), nullable=True))
        rows = conn.execute(sa.text(f"SELECT rowid, {column} FROM {table}")).all()
        for j in range(0, len(rows), _STEP):
            conn.execute(sa.text(f"UPDATE {table} SET {column}_h = :h WHERE rowid = :i"),
                         [{"i": i, "h": bytes(h).hex()} for i, h in rows[j: j + _STEP]])
        with op.batch_alter_table(table, schema=None) as b:
            b.drop_column(column)
        with op.batch_alter_table(table, schema=None) as b:
            b.alter_column(f'{column}_h', new_column_name=column, existing_type=sa.String(64), nullable=False)
