"""全面性 (issue 17 item 8): monthly declarations of decisions made (``declaration``) and the departments'
licence item catalogues (事项目录, ``licence_item``)

Revision ID: 0013_declarations
Revises: 0012_portal_accounts
Create Date: 2026-12-01 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013_declarations'
down_revision = '0012_portal_accounts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "declaration",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("department", sa.String(40), nullable=False),
        sa.Column("dataset", sa.String(2), nullable=False),
        sa.Column("month", sa.String(7), nullable=False, comment="YYYY-MM: the month of the decisions declared"),
        sa.Column("declared", sa.Integer, nullable=False, comment="decisions the department says it made in the month"),
        sa.Column("source", sa.String(200), nullable=False, comment="cli, or the declarations file's name"),
        sa.Column("note", sa.Text),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        comment="全面性: monthly declarations of decisions made, append-only (the latest by the as-of moment counts; store.declarations)",
    )
    op.create_index("ix_declaration_month", "declaration", ["department", "dataset", "month", "declared_at"])
    op.create_table(
        "licence_item",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("department", sa.String(40), nullable=False),
        sa.Column("code", sa.String(64), comment="事项编码 (optional)"),
        sa.Column("name", sa.Text, nullable=False, comment="事项名称"),
        sa.Column("aliases", sa.Text, nullable=False, server_default="[]", comment="JSON list of other names of the item"),
        sa.Column("source", sa.String(200), nullable=False, comment="the catalogue file's name"),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        comment="事项目录: the licence items each department compiled (store.declarations.replace_catalogue)",
    )
    op.create_index("ix_licence_item_dept", "licence_item", ["department"])


def downgrade() -> None:
    op.drop_index("ix_licence_item_dept", table_name="licence_item")
    op.drop_table("licence_item")
    op.drop_index("ix_declaration_month", table_name="declaration")
    op.drop_table("declaration")
