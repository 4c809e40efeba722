"""the publicity life cycle: operator holds (撤销, 信用修复), 不予公开, the credit_repair table

- ``record_<ds>.hold``: an operator's decision (``sgs withdraw``: revoked; ``sgs repair``: repaired) that keeps the
  record withdrawn whatever later source rows of the decision say.
- ``record_<ds>.not_public``: the 不予公开 reason of a record that is stored, assessed and pushed but never shown.
- ``record_<ds>.first_published_at``: when the record first entered the public column (kept when it leaves), for
  the assessment's 及时率; filled from ``published_<ds>`` for the records shown.
- ``credit_repair``: the repair decisions operators recorded.

Revision ID: 0008_lifecycle
Revises: 0007
Create Date: 2026-12-01 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_lifecycle'
down_revision = '0007'
branch_labels = None
depends_on = None

KEY_LENGTH = 400  # store.keys.KEY_LENGTH when this revision was written


def upgrade() -> None:
    for ds in ("cf", "xk"):
        op.add_column(f"record_{ds}", sa.Column(
            "hold", sa.String(12),
            comment="an operator's decision keeping it withdrawn whatever the source sends: revoked (撤销) / repaired (信用修复)"))
        op.add_column(f"record_{ds}", sa.Column(
            "not_public", sa.String(200),
            comment="不予公开: why it is never shown (still stored, assessed and pushed); NULL: shown"))
        op.add_column(f"record_{ds}", sa.Column(
            "first_published_at", sa.DateTime(timezone=True),
            comment="when it first entered the public column (store.published); the assessment's 及时率 measures it"))
        # Records shown today keep the time they entered the column; the others never told (NULL: the
        # assessment measures them at their arrival).
        op.execute(
            f"UPDATE record_{ds} SET first_published_at = (SELECT p.first_published_at FROM published_{ds} p "
            f"WHERE p.id = record_{ds}.id)"
        )
    op.create_table(
        "credit_repair",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("department", sa.String(40), nullable=False),
        sa.Column("business_key", sa.String(KEY_LENGTH), nullable=False, comment="the penalty (record_cf.business_key)"),
        sa.Column("doc_no", sa.Text, nullable=False, comment="CF_WSH of the penalty"),
        sa.Column("decision_number", sa.String(128), nullable=False, comment="信用修复决定书文号"),
        sa.Column("decision_date", sa.Date, nullable=False, comment="date of the repair decision"),
        sa.Column("authority", sa.String(200), nullable=False, comment="the body that decided the repair"),
        sa.Column("repair_eligible_from", sa.Date, comment="the penalty's earliest repair date when it was recorded"),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False, comment="the ingest_run (trigger repair) of the withdrawal"),
        comment="信用修复: repair decisions recorded by operators (sgs repair); each withdrew its penalty from publicity",
    )
    op.create_index("ix_credit_repair_dept", "credit_repair", ["department", "decision_date"])


def downgrade() -> None:
    op.drop_index("ix_credit_repair_dept", table_name="credit_repair")
    op.drop_table("credit_repair")
    for ds in ("cf", "xk"):
        with op.batch_alter_table(f"record_{ds}") as batch:
            batch.drop_column("first_published_at")
            batch.drop_column("not_public")
            batch.drop_column("hold")
