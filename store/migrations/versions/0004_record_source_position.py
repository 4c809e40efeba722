"""record source position: the (cursor, primary key) of the source row behind the current version

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

COMMENT = "sortable (cursor, primary key) of the source row of the current version: an older row read again never overwrites it"


def upgrade() -> None:
    for table in ('record_cf', 'record_xk'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('source_position', sa.Text(), nullable=True, comment=COMMENT))


def downgrade() -> None:
    for table in ('record_cf', 'record_xk'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('source_position')
