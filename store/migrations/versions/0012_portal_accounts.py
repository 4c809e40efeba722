"""方式二 department portal: portal_user (argon2 hashes, lockout), portal_session, portal_audit

Revision ID: 0012_portal_accounts
Revises: 0011_narrow_hashes
Create Date: 2026-12-01 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012_portal_accounts'
down_revision = '0011_narrow_hashes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_user",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("department", sa.String(40), nullable=False, comment="the one department (or 县区 unit) the clerk reports for"),
        sa.Column("name", sa.String(100), nullable=False, comment="姓名"),
        sa.Column("password_hash", sa.String(255), nullable=False, comment="argon2id (web.portal.accounts)"),
        sa.Column("must_change", sa.Boolean, nullable=False, comment="the password was set by an operator: changed at next login"),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0", comment="consecutive failures since the last success"),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_portal_user"),
        sa.UniqueConstraint("login", name="uq_portal_user_login"),
        comment="方式二: department clerks' portal accounts",
    )
    op.create_table(
        "portal_session",
        sa.Column("token_hash", sa.String(64), nullable=False, comment="SHA-256 of the cookie's token (the token is never stored)"),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False, comment="the session's CSRF token (every form carries it)"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_portal_session"),
        comment="方式二: portal sessions (server side; the browser holds an HttpOnly SameSite cookie)",
    )
    op.create_index("ix_portal_session_user_id", "portal_session", ["user_id"])
    op.create_table(
        "portal_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("login", sa.String(64), nullable=False, comment="who (the login typed, for failed logins)"),
        sa.Column("department", sa.String(40), comment="the account's department (NULL: unknown login)"),
        sa.Column("action", sa.String(40), nullable=False,
                  comment="login / login_failed / locked / logout / password / submit / upload / correct / withdraw / account_*"),
        sa.Column("detail", sa.Text, comment="what: counts, document numbers (masked), never a password"),
        sa.Column("client", sa.String(64), comment="the client address as the server saw it"),
        sa.PrimaryKeyConstraint("id", name="pk_portal_audit"),
        comment="方式二: audit log of every login, submission, correction and withdrawal (who, when, what)",
    )
    op.create_index("ix_portal_audit_department", "portal_audit", ["department", "at"])


def downgrade() -> None:
    op.drop_index("ix_portal_audit_department", table_name="portal_audit")
    op.drop_table("portal_audit")
    op.drop_index("ix_portal_session_user_id", table_name="portal_session")
    op.drop_table("portal_session")
    op.drop_table("portal_user")
