"""Extension fields beyond the 2019 national template (issue 17 item 11): 案件名称 and 救济渠道 (penalties),
项目名称 and 设定依据 (licences), in the record tables and the public column's read model

Nullable columns, no backfill: a record without them keeps its content hash (``store.rows.with_extensions``
leaves empty extension fields out of the payload), so nothing looks changed after the upgrade.

Revision ID: 0014_extension_fields
Revises: 0013_declarations
Create Date: 2026-12-01 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014_extension_fields'
down_revision = '0013_declarations'
branch_labels = None
depends_on = None

#: table suffix → (column, max characters) of the extension fields (national/fields.py, ``extension=True``).
EXTENSIONS = {
    "cf": (("CF_AJMC", 500), ("CF_JJQD", 1000)),
    "xk": (("XK_XMMC", 200), ("XK_SDYJ", 2048)),
}


def upgrade() -> None:
    for ds, cols in EXTENSIONS.items():
        for table in (f"record_{ds}", f"published_{ds}"):
            for code, n in cols:
                op.add_column(table, sa.Column(code.lower(), sa.Text, comment=f"{code} (max {n} characters)"))


def downgrade() -> None:
    for ds, cols in EXTENSIONS.items():
        for table in (f"record_{ds}", f"published_{ds}"):
            for code, _ in cols:
                # SQLite ≥ 3.35 drops a column in place (the read model's FTS triggers stay)
                op.drop_column(table, code.lower())
