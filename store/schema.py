"""Tables of the central store (SQLAlchemy Core). Alembic migrations in ``store/migrations`` create them.

- ``record_cf`` / ``record_xk``: the current version of every accepted decision, keyed by the national
  business key, one typed column per national field (lower-case code: ``cf_wsh``), plus bookkeeping.
- ``record_version``: the history of *superseded* versions, with their full payload. The current version is the
  record itself (``record_<ds>``); a version moves here when the record is updated or withdrawn, so a first
  load writes no history row. ``store.history`` answers "what did the record look like at T / in version N".
- ``change_seq`` (column of the record tables): every change of a record (insert, update, withdrawal, expiry)
  takes the next value of one store-wide change sequence (``store.changelog``). The push to the province
  is a position in that sequence (``push_position``), with one ``push_batch`` row per batch sent (its items
  while they wait for a receipt, and its receipt counts) and one ``push_rejection`` row per rejected record.
- ``quarantine``: rows that failed a rule, with the raw source row, the issues and a status
  (``open`` → ``fixed`` when a corrected row arrives, or ``superseded`` by a newer bad version).
- ``watermark``: the cursor position per department and dataset, advanced in the same transaction as
  the rows it covers.
- ``ingest_run``: statistics of every run (the reconciliation read = inserted + updated + unchanged +
  quarantined is checked on every chunk).
- ``upstream_run``: statistics of every push to the provincial platform and of every expiry run
  (``upstream/``).
- ``published_cf`` / ``published_xk``: the public column's read model (public, masked values of the records
  shown), written only by ``store.published`` in the records' own transaction; the only tables the public role
  may read (docs/public.md).
- ``inbox_file``: every file a department's inbox loaded (方式三), keyed by department and content hash and
  written in the transaction of its rows, with its counts and when its receipt was written (``store.inbox``).

Every index names the query that uses it. Content hashes are 16 bytes (the first half of a SHA-256), not hex.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from national import DATASETS, Dataset
from store.keys import KEY_LENGTH

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: A content hash: the first 16 bytes of the SHA-256 of a record's national values (store.rows.content_hash).
#: Only versions of one record are compared, so 128 bits are plenty; a migrated store keeps its old hashes'
#: first 16 bytes, which are the same value.
HASH = sa.LargeBinary(16)

#: Bounded text for keys (values go through store.keys.bounded_key first); unbounded text for free text
#: (PostgreSQL TEXT, SQLite TEXT).
KEY = sa.String(KEY_LENGTH)


def _national_column(code: str, kind: str, max_length: int | None) -> sa.Column[Any]:
    name = code.lower()
    if kind == "date":
        return sa.Column(name, sa.Date, comment=code)
    if kind == "amount":
        return sa.Column(name, sa.Numeric(18, 6), comment=code)
    # Text, not VARCHAR(n): lengths are a rule with a clerk-readable message (expectations/), and a
    # configurable rule must never turn into a database error half-way through a chunk.
    return sa.Column(name, sa.Text, comment=f"{code} (max {max_length} characters)" if max_length else code)


def _record_table(ds: Dataset) -> sa.Table:
    return sa.Table(
        f"record_{ds.name}",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        # unique: the loader's look-up of a chunk's records by business key (and withdrawals, the push's receipts).
        sa.Column("business_key", KEY, nullable=False, unique=True),
        # index: per-department counts (sgs status, quality pages) and the expiry's departments.
        sa.Column("department", sa.String(40), nullable=False, index=True),
        sa.Column("source_pk", KEY, nullable=False),
        sa.Column("content_hash", HASH, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("operation", sa.String(1), nullable=False, comment="of the current version: I insert, U update, D withdrawal"),
        # unique index: the push reads ``change_seq > position ORDER BY change_seq`` (store.changelog).
        sa.Column("change_seq", sa.BigInteger, nullable=False, unique=True,
                  comment="store-wide change sequence value of the current version's change"),
        sa.Column("province_version", sa.Integer, comment="the last version the province accepted (NULL: none)"),
        sa.Column("province_op", sa.String(1), comment="that version's operation as sent (I/U/D): D = the province holds it withdrawn"),
        sa.Column("upstream_key", KEY,
                  comment="the business key the province knows the record by when it had another one before migration 0009 (issue 17); "
                          "NULL: its business key (store.changelog.province_key)"),
        sa.Column(
            "source_position", sa.Text,
            comment="sortable (cursor, primary key) of the source row of the current version: an older row read again never overwrites it",
        ),
        *(_national_column(f.code, f.kind, f.max_length) for f in ds.fields),
        sa.Column("publicity_end", sa.Date),
        sa.Column("repair_eligible_from", sa.Date),
        sa.Column("status", sa.String(12), nullable=False, server_default="active", comment="active / withdrawn"),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        sa.Column("withdrawn_reason", sa.String(200)),
        sa.Column("hold", sa.String(12), comment="an operator's decision keeping it withdrawn whatever the source sends: revoked (撤销) / repaired (信用修复)"),
        sa.Column("not_public", sa.String(200), comment="不予公开: why it is never shown (still stored, assessed and pushed); NULL: shown"),
        sa.Column("first_loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_published_at", sa.DateTime(timezone=True),
                  comment="when it first entered the public column (store.published); the assessment's 及时率 measures it"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        comment=f"{ds.name_zh}：当前有效版本",
    )


record_tables: dict[str, sa.Table] = {name: _record_table(ds) for name, ds in DATASETS.items()}

record_version = sa.Table(
    "record_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(2), nullable=False),
    sa.Column("business_key", KEY, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("operation", sa.String(1), nullable=False, comment="I insert, U update, D withdrawal"),
    sa.Column("department", sa.String(40), nullable=False),
    sa.Column("source_pk", KEY, nullable=False),
    sa.Column("content_hash", HASH, nullable=False),
    sa.Column("payload", sa.Text, nullable=False, comment="national values as JSON"),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False, comment="when this version became current"),
    # The history's one query: a record's versions (store.history.as_of / version_of; the push's resend).
    sa.UniqueConstraint("dataset", "business_key", "version", name="uq_record_version_key_version"),
    comment="superseded versions of the records (the current one is the record itself)",
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("department", sa.String(40), nullable=False),
    sa.Column("dataset", sa.String(2), nullable=False),
    sa.Column("source_pk", KEY, nullable=False),
    sa.Column("business_key", KEY),
    # the first 16 bytes of the SHA-256 of the source row's JSON (migration 0011): an unchanged bad row read
    # again is not a new entry
    sa.Column("raw_hash", HASH, nullable=False),
    sa.Column("raw", sa.Text, nullable=False, comment="the source row as JSON"),
    sa.Column("national", sa.Text, nullable=False, comment="mapped national values as JSON"),
    sa.Column("issues", sa.Text, nullable=False, comment="JSON list of {rule, field, message, severity}"),
    sa.Column("rule_ids", sa.String(1000), nullable=False, comment="comma-separated error rule ids"),
    sa.Column("status", sa.String(12), nullable=False, comment="open / fixed / superseded"),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("first_run_id", sa.Integer, nullable=False),
    sa.Column("last_run_id", sa.Integer, nullable=False),
    # open entries of a department (sgs quarantine export, reports, status counts).
    sa.Index("ix_quarantine_dept_status", "department", "dataset", "status"),
    # department first: the loader looks up open entries of one department by business key, per chunk.
    sa.Index("ix_quarantine_business_key", "department", "dataset", "business_key"),
    # At most one open entry per source row: a re-read of the same bad row is not a second problem.
    sa.Index(
        "uq_quarantine_open_source_row",
        "department",
        "dataset",
        "source_pk",
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    ),
)

push_position = sa.Table(
    "push_position",
    metadata,
    sa.Column("dataset", sa.String(2), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False, comment="every change with change_seq <= position has been taken into a push batch"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    comment="the push's position in the change sequence, per dataset (store.changelog)",
)

push_batch = sa.Table(
    "push_batch",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.String(64), nullable=False, comment="the batch id sent to the province (HTTP header, file name)"),
    sa.Column("dataset", sa.String(2), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False, comment="upstream_run.id"),
    sa.Column("state", sa.String(12), nullable=False,
              comment="sent (items wait for a receipt) / answered / refused (the province refused it unread: items sent again)"),
    sa.Column("seq_from", sa.BigInteger, nullable=False, comment="the position before the batch"),
    sa.Column("seq_to", sa.BigInteger, nullable=False, comment="the position after it"),
    sa.Column("items", sa.Text, nullable=False,
              comment="JSON [[business_key, version, operation], ...] still waiting for a receipt: sent again by key"),
    sa.Column("records", sa.Integer, nullable=False, server_default="0"),
    sa.Column("accepted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
    sa.Column("not_sent", sa.Integer, nullable=False, server_default="0", comment="withdrawals of records the province never held"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("answered_at", sa.DateTime(timezone=True)),
    # batches still waiting for receipts (resent first, block their records' next versions).
    sa.Index("ix_push_batch_state", "state", "dataset"),
    comment="one row per batch sent to the province: its receipt counts; its items while unanswered",
)

push_rejection = sa.Table(
    "push_rejection",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(2), nullable=False),
    sa.Column("business_key", KEY, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("operation", sa.String(1), nullable=False),
    sa.Column("batch_id", sa.String(64), nullable=False),
    sa.Column("code", sa.String(40), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # delivery states (store.changelog.delivery_states): was this record version rejected.
    sa.UniqueConstraint("dataset", "business_key", "version", name="uq_push_rejection_key_version"),
    comment="one row per record version the province rejected (accepted ones only count in push_batch)",
)

source_snapshot = sa.Table(
    "source_snapshot",
    metadata,
    sa.Column("department", sa.String(40), primary_key=True),
    sa.Column("dataset", sa.String(2), primary_key=True),
    sa.Column("source_pk", KEY, primary_key=True),
    sa.Column("row_hash", HASH, nullable=False, comment="first 16 bytes of the SHA-256 of the source row's JSON"),
    sa.Column("business_key", KEY),
    sa.Column("seen_run_id", sa.Integer, nullable=False),
    comment="snapshot-diff strategy: content hash of every source row seen, to detect changes and deletions",
)

watermark = sa.Table(
    "watermark",
    metadata,
    sa.Column("department", sa.String(40), primary_key=True),
    sa.Column("dataset", sa.String(2), primary_key=True),
    sa.Column("cursor_value", sa.Text, comment="JSON: {type, value}"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
)

ingest_run = sa.Table(
    "ingest_run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("department", sa.String(40), nullable=False),
    sa.Column("dataset", sa.String(2), nullable=False),
    sa.Column("trigger", sa.String(20), nullable=False, comment="cli / airflow / demo / test"),
    sa.Column("status", sa.String(12), nullable=False, comment="running / success / failed / interrupted"),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("watermark_from", sa.Text),
    sa.Column("watermark_to", sa.Text),
    sa.Column("chunks", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_read", sa.Integer, nullable=False, server_default="0"),
    sa.Column("inserted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("quarantined", sa.Integer, nullable=False, server_default="0"),
    sa.Column("warnings", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rule_failures", sa.Text, comment="JSON: rule id -> failing rows in this run"),
    sa.Column("error", sa.Text),
    # a department's runs, newest first (sgs status, the plugin's run list).
    sa.Index("ix_ingest_run_dept", "department", "dataset", "started_at"),
)

upstream_run = sa.Table(
    "upstream_run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(12), nullable=False, comment="http / file-out / file-in / expiry"),
    sa.Column("trigger", sa.String(20), nullable=False, comment="cli / airflow / demo / test"),
    sa.Column("status", sa.String(12), nullable=False, comment="running / success / failed / interrupted"),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False, comment="a lease: a second push waits while it is fresh"),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("batches", sa.Integer, nullable=False, server_default="0"),
    sa.Column("records_sent", sa.Integer, nullable=False, server_default="0"),
    sa.Column("accepted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
    sa.Column("not_sent", sa.Integer, nullable=False, server_default="0", comment="withdrawals of records the province never had"),
    sa.Column("no_receipt", sa.Integer, nullable=False, server_default="0", comment="sent, receipt still missing at the end"),
    sa.Column("retries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("duplicate_receipts", sa.Integer, nullable=False, server_default="0",
              comment="receipts the province marked as a replay of an idempotency key it had already processed"),
    sa.Column("withdrawn", sa.Integer, nullable=False, server_default="0", comment="expiry: records withdrawn"),
    sa.Column("error", sa.Text),
    # the push lease's look-up of running pushes by kind (upstream.runs.start).
    sa.Index("ix_upstream_run_started", "kind", "started_at"),
    comment="statistics of every push to the provincial platform (upstream/), and of every expiry run",
)


credit_repair = sa.Table(
    "credit_repair",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("department", sa.String(40), nullable=False),
    sa.Column("business_key", KEY, nullable=False, comment="the penalty (record_cf.business_key)"),
    sa.Column("doc_no", sa.Text, nullable=False, comment="CF_WSH of the penalty"),
    sa.Column("decision_number", sa.String(128), nullable=False, comment="信用修复决定书文号"),
    sa.Column("decision_date", sa.Date, nullable=False, comment="date of the repair decision"),
    sa.Column("authority", sa.String(200), nullable=False, comment="the body that decided the repair"),
    sa.Column("repair_eligible_from", sa.Date, comment="the penalty's earliest repair date when it was recorded"),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False, comment="the ingest_run (trigger repair) of the withdrawal"),
    sa.Index("ix_credit_repair_dept", "department", "decision_date"),
    comment="信用修复: repair decisions recorded by operators (sgs repair); each withdrew its penalty from publicity",
)


#: Per dataset, the national columns the read model names for search and display, as (name, decision date,
#: decision number, deciding authority) codes.
PUBLIC_KEY_COLUMNS: dict[str, tuple[str, str, str, str]] = {
    "cf": ("CF_XDR_MC", "CF_JDRQ", "CF_WSH", "CF_CFJG"),
    "xk": ("XK_XDR_MC", "XK_JDRQ", "XK_WSH", "XK_XKJG"),
}


def _published_table(ds: Dataset) -> sa.Table:
    """The public column's read model of one dataset (store.published is its only writer): one row per record
    that is shown, with public, already-masked values only."""
    t = f"published_{ds.name}"
    return sa.Table(
        t,
        metadata,
        # The record's id: the public detail page's address (/cf/<id>), stable across the record's versions.
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("department", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, comment="the record version shown"),
        # Search columns (masked like the rest): 行政相对人名称 (substring), 统一社会信用代码 and 文书号 (exact),
        # 决定机关 (substring: no index serves it, none kept — migration 0015), the decision date (range, and the
        # list order with id as the keyset).
        sa.Column("party_name", sa.Text, comment="行政相对人名称 (masked)"),
        sa.Column("credit_code", sa.String(64), comment="行政相对人统一社会信用代码"),
        sa.Column("doc_no", sa.Text, comment="决定文书号"),
        sa.Column("authority", sa.Text, comment="决定机关"),
        sa.Column("decision_date", sa.Date),
        sa.Column("publicity_end", sa.Date, comment="penalties: the last day of publicity (NULL: licences)"),
        *(_national_column(f.code, f.kind, f.max_length) for f in ds.fields),
        sa.Column("first_published_at", sa.DateTime(timezone=True), nullable=False,
                  comment="when the record first entered the column (kept while it stays shown)"),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False, comment="when the version shown entered the column"),
        # The lists and their keyset pagination: newest decisions first, id as the tie-breaker.
        sa.Index(f"ix_{t}_decision", "decision_date", "id"),
        # department filter (with the same order).
        sa.Index(f"ix_{t}_department", "department", "decision_date", "id"),
        # exact searches (web.public.queries: credit_code = :v, doc_no = :v, also inside the q box's OR).
        sa.Index(f"ix_{t}_credit_code", "credit_code"),
        sa.Index(f"ix_{t}_doc_no", "doc_no"),
        comment=f"{ds.name_zh}：专栏公示读模型（仅公开、已脱敏的字段）",
    )


published_tables: dict[str, sa.Table] = {name: _published_table(ds) for name, ds in DATASETS.items()}

#: SQLite: FTS5 tables (trigram tokenizer) over ``published_<ds>.party_name`` for substring search, created by
#: migration 0007 with their triggers; not part of the model (a virtual table and its shadow tables).
PUBLISHED_FTS = {name: f"published_{name}_fts" for name in DATASETS}


inbox_file = sa.Table(
    "inbox_file",
    metadata,
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
    # The same file dropped twice is recognised: one row per department and content (pipeline.inbox).
    sa.UniqueConstraint("department", "content_hash", name="uq_inbox_file_content"),
    comment="方式三 file delivery: every file an inbox loaded, written in the transaction of its rows (store.inbox)",
)

# --- 方式二: the department portal (web.portal; migration 0012_portal_accounts) ----------------------------

portal_user = sa.Table(
    "portal_user",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("login", sa.String(64), nullable=False, unique=True),
    sa.Column("department", sa.String(40), nullable=False, comment="the one department (or 县区 unit) the clerk reports for"),
    sa.Column("name", sa.String(100), nullable=False, comment="姓名"),
    sa.Column("password_hash", sa.String(255), nullable=False, comment="argon2id (web.portal.accounts)"),
    sa.Column("must_change", sa.Boolean, nullable=False, comment="the password was set by an operator: changed at next login"),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0", comment="consecutive failures since the last success"),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
    comment="方式二: department clerks' portal accounts",
)

portal_session = sa.Table(
    "portal_session",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True, comment="SHA-256 of the cookie's token (the token is never stored)"),
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False, comment="the session's CSRF token (every form carries it)"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    comment="方式二: portal sessions (server side; the browser holds an HttpOnly SameSite cookie)",
)

portal_audit = sa.Table(
    "portal_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("login", sa.String(64), nullable=False, comment="who (the login typed, for failed logins)"),
    sa.Column("department", sa.String(40), comment="the account's department (NULL: unknown login)"),
    sa.Column("action", sa.String(40), nullable=False, comment="login / login_failed / locked / logout / password / submit / upload / correct / withdraw / account_*"),
    sa.Column("detail", sa.Text, comment="what: counts, document numbers (masked), never a password"),
    sa.Column("client", sa.String(64), comment="the client address as the server saw it"),
    # a department's audit trail, newest first.
    sa.Index("ix_portal_audit_department", "department", "at"),
    comment="方式二: audit log of every login, submission, correction and withdrawal (who, when, what)",
)

declaration = sa.Table(
    "declaration",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("department", sa.String(40), nullable=False),
    sa.Column("dataset", sa.String(2), nullable=False),
    sa.Column("month", sa.String(7), nullable=False, comment="YYYY-MM: the month of the decisions declared"),
    sa.Column("declared", sa.Integer, nullable=False, comment="decisions the department says it made in the month"),
    sa.Column("source", sa.String(200), nullable=False, comment="cli, or the declarations file's name"),
    sa.Column("note", sa.Text),
    sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
    # the assessment's read: the latest declaration by as-of per department, dataset and month.
    sa.Index("ix_declaration_month", "department", "dataset", "month", "declared_at"),
    comment="全面性: monthly declarations of decisions made, append-only (the latest by the as-of moment counts; store.declarations)",
)

licence_item = sa.Table(
    "licence_item",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("department", sa.String(40), nullable=False),
    sa.Column("code", sa.String(64), comment="事项编码 (optional)"),
    sa.Column("name", sa.Text, nullable=False, comment="事项名称"),
    sa.Column("aliases", sa.Text, nullable=False, server_default="[]", comment="JSON list of other names of the item"),
    sa.Column("source", sa.String(200), nullable=False, comment="the catalogue file's name"),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    # a department's catalogue (replaced as a whole; the assessment reads it per department).
    sa.Index("ix_licence_item_dept", "department"),
    comment="事项目录: the licence items each department compiled (store.declarations.replace_catalogue)",
)
