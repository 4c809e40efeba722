"""outbox without its own payload: an entry's national values are those of its record version

The outbox held a second copy of each version's JSON payload (about 0.8 KB a row, a third of what a
full load wrote). Entries now read it from ``record_version`` by (dataset, business key, version), which
is unique there; every entry was written in the same transaction as its version, with the same payload.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Refuse to drop a payload that its version does not hold (a store changed by hand): nothing is lost.
    differing = op.get_bind().execute(sa.text(
        "SELECT COUNT(*) FROM outbox o LEFT JOIN record_version v ON v.dataset = o.dataset"
        " AND v.business_key = o.business_key AND v.version = o.version"
        " WHERE v.id IS NULL OR v.payload <> o.payload"
    )).scalar_one()
    if differing:
        raise RuntimeError(
            f"migration 0005: {differing} outbox rows have no record version with the same payload; "
            "the outbox payload cannot be dropped. Compare outbox and record_version by (dataset, business_key, version)"
        )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('payload')


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload', sa.Text(), nullable=True, comment='national values as JSON'))
    op.execute(
        "UPDATE outbox SET payload = (SELECT v.payload FROM record_version v WHERE v.dataset = outbox.dataset"
        " AND v.business_key = outbox.business_key AND v.version = outbox.version)"
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('payload', existing_type=sa.Text(), nullable=False)
