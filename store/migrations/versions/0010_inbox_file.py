"""方式三 file delivery: the ``inbox_file`` table (one row per department and file content, committed with its rows)

Revision ID: 0010_inbox_file
Revises: 0009_party_business_key
Create Date: 2026-12-01 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010_inbox_file'
down_revision = '0009_party_business_key'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_file",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("department", sa.String(40), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False, comment="SHA-256 (hex) of the file as delivered"),
        sa.Column("file_name", sa.Text, nullable=False, comment="the name it was delivered under (the first time)"),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("members", sa.Text, nullable=False,
                  comment="JSON [{name, dataset, run_id, read, inserted, updated, unchanged, quarantined, warnings}] per template file"),
        sa.Column("quarantined", sa.Integer, nullable=False, server_default="0"),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False, comment="committed with the file's rows"),
        sa.Column("receipt_at", sa.DateTime(timezone=True), comment="when its receipt workbook was written (NULL: not yet)"),
        sa.Column("receipt_name", sa.Text, comment="the receipt workbook's name in <dept>/archive/"),
        sa.UniqueConstraint("department", "content_hash", name="uq_inbox_file_content"),
        comment="方式三 file delivery: every file an inbox loaded, written in the transaction of its rows (store.inbox)",
    )


def downgrade() -> None:
    op.drop_table("inbox_file")
