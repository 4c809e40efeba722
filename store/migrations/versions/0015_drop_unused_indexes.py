"""Drop the read model's index on 决定机关 (issue 13: no index that no query uses)

``published_<ds>.authority`` is searched by substring only (``web.public.queries``: ``ILIKE '%…%'`` /
``LIKE '%…%'``), which a B-tree index cannot serve on either store; the index only cost every insert and update
of the column (one of the read model's indexes written on the ingest's hot path).

Revision ID: 0015_drop_unused_indexes
Revises: 0014_extension_fields
Create Date: 2026-12-01 20:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0015_drop_unused_indexes'
down_revision = '0014_extension_fields'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for ds in ("cf", "xk"):
        op.drop_index(f"ix_published_{ds}_authority", table_name=f"published_{ds}")


def downgrade() -> None:
    for ds in ("cf", "xk"):
        op.create_index(f"ix_published_{ds}_authority", f"published_{ds}", ["authority"])
