"""the public column's read model: published_cf / published_xk (public, masked values of the records shown)

- ``published_<ds>``: one row per record shown in the public column (active, inside its publicity period), with
  public, already-masked values only, written by ``store.published`` in the same transaction as the record.
  Existing stores are filled from their records here (``store.published.rebuild`` on the reflected tables).
- PostgreSQL: a trigram GIN index on ``party_name`` for substring search (extension ``pg_trgm``, created if the
  migrating role may; otherwise the search scans, and the index can be added later by re-running this step by
  hand: see docs/public.md).
- SQLite: an FTS5 table with the trigram tokenizer over ``party_name`` (``published_<ds>_fts``, external
  content, kept by triggers), when the SQLite library has it (3.34+). A later migration that rebuilds a
  ``published_<ds>`` table in batch mode must create the triggers again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_NATIONAL: dict[str, list[tuple[str, sa.types.TypeEngine]]] = {}
_NATIONAL['cf'] = [
    ('cf_xdr_mc', sa.Text()),
    ('cf_xdr_lb', sa.Text()),
    ('cf_xdr_shxym', sa.Text()),
    ('cf_xdr_gszc', sa.Text()),
    ('cf_xdr_zzjg', sa.Text()),
    ('cf_xdr_swdj', sa.Text()),
    ('cf_xdr_sydw', sa.Text()),
    ('cf_xdr_shzz', sa.Text()),
    ('cf_frdb', sa.Text()),
    ('cf_fr_zjlx', sa.Text()),
    ('cf_fr_zjhm', sa.Text()),
    ('cf_xdr_zjlx', sa.Text()),
    ('cf_xdr_zjhm', sa.Text()),
    ('cf_wsh', sa.Text()),
    ('cf_wfxw', sa.Text()),
    ('cf_sy', sa.Text()),
    ('cf_yj', sa.Text()),
    ('cf_cflb', sa.Text()),
    ('cf_nr', sa.Text()),
    ('cf_nr_fk', sa.Numeric(18, 6)),
    ('cf_nr_wfff', sa.Numeric(18, 6)),
    ('cf_nr_zkdx', sa.Text()),
    ('cf_jdrq', sa.Date()),
    ('cf_yxq', sa.Date()),
    ('cf_gsjzq', sa.Date()),
    ('cf_cfjg', sa.Text()),
    ('cf_cfjgdm', sa.Text()),
    ('cf_sjly', sa.Text()),
    ('cf_sjlydm', sa.Text()),
    ('bz', sa.Text()),
]
_NATIONAL['xk'] = [
    ('xk_xdr_mc', sa.Text()),
    ('xk_xdr_lb', sa.Text()),
    ('xk_xdr_shxym', sa.Text()),
    ('xk_xdr_gszc', sa.Text()),
    ('xk_xdr_zzjg', sa.Text()),
    ('xk_xdr_swdj', sa.Text()),
    ('xk_xdr_sydw', sa.Text()),
    ('xk_xdr_shzz', sa.Text()),
    ('xk_frdb', sa.Text()),
    ('xk_fr_zjlx', sa.Text()),
    ('xk_fr_zjhm', sa.Text()),
    ('xk_xdr_zjlx', sa.Text()),
    ('xk_xdr_zjhm', sa.Text()),
    ('xk_xkws', sa.Text()),
    ('xk_wsh', sa.Text()),
    ('xk_xklb', sa.Text()),
    ('xk_xkzs', sa.Text()),
    ('xk_xkbh', sa.Text()),
    ('xk_nr', sa.Text()),
    ('xk_jdrq', sa.Date()),
    ('xk_yxqz', sa.Date()),
    ('xk_yxqzi', sa.Date()),
    ('xk_xkjg', sa.Text()),
    ('xk_xkjgdm', sa.Text()),
    ('xk_zt', sa.Text()),
    ('xk_lydw', sa.Text()),
    ('xk_lydwdm', sa.Text()),
    ('bz', sa.Text()),
]


def _trgm_schema(conn: sa.Connection) -> str | None:
    """The schema of extension pg_trgm, created (in ``public``) if it is missing and may be; None if unavailable."""
    find = sa.text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")
    schema = conn.execute(find).scalar_one_or_none()
    if schema is not None:
        return str(schema)
    try:
        with conn.begin_nested():
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
    except sa.exc.DBAPIError:  # not allowed (no CREATE privilege on the database) or not installed
        return None
    schema = conn.execute(find).scalar_one_or_none()
    return str(schema) if schema is not None else None


def _fts5_trigram(conn: sa.Connection) -> bool:
    try:
        with conn.begin_nested():
            conn.execute(sa.text("CREATE VIRTUAL TABLE temp._sgs_trigram_probe USING fts5(a, tokenize='trigram')"))
            conn.execute(sa.text("DROP TABLE temp._sgs_trigram_probe"))
    except sa.exc.OperationalError:
        return False
    return True


def upgrade() -> None:
    conn = op.get_bind()
    for ds, columns in _NATIONAL.items():
        t = f"published_{ds}"
        op.create_table(
            t,
            sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
            sa.Column('department', sa.String(40), nullable=False),
            sa.Column('version', sa.Integer(), nullable=False),
            sa.Column('party_name', sa.Text()),
            sa.Column('credit_code', sa.String(64)),
            sa.Column('doc_no', sa.Text()),
            sa.Column('authority', sa.Text()),
            sa.Column('decision_date', sa.Date()),
            sa.Column('publicity_end', sa.Date()),
            *(sa.Column(name, type_) for name, type_ in columns),
            sa.Column('first_published_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('id', name=f'pk_{t}'),
        )
        op.create_index(f'ix_{t}_decision', t, ['decision_date', 'id'])
        op.create_index(f'ix_{t}_department', t, ['department', 'decision_date', 'id'])
        op.create_index(f'ix_{t}_credit_code', t, ['credit_code'])
        op.create_index(f'ix_{t}_doc_no', t, ['doc_no'])
        op.create_index(f'ix_{t}_authority', t, ['authority'])
    if conn.dialect.name == 'postgresql':
        schema = _trgm_schema(conn)
        if schema is not None:
            q = conn.dialect.identifier_preparer.quote_identifier(schema)
            for ds in _NATIONAL:
                conn.execute(sa.text(f"CREATE INDEX ix_published_{ds}_party_name_trgm ON published_{ds} USING gin (party_name {q}.gin_trgm_ops)"))
    elif conn.dialect.name == 'sqlite' and _fts5_trigram(conn):
        for ds in _NATIONAL:
            t, f = f"published_{ds}", f"published_{ds}_fts"
            conn.execute(sa.text(f"CREATE VIRTUAL TABLE {f} USING fts5(party_name, content='{t}', content_rowid='id', tokenize='trigram')"))
            conn.execute(sa.text(f"CREATE TRIGGER {f}_ai AFTER INSERT ON {t} BEGIN INSERT INTO {f}(rowid, party_name) VALUES (new.id, new.party_name); END"))
            conn.execute(sa.text(f"CREATE TRIGGER {f}_ad AFTER DELETE ON {t} BEGIN INSERT INTO {f}({f}, rowid, party_name) VALUES ('delete', old.id, old.party_name); END"))
            conn.execute(sa.text(
                f"CREATE TRIGGER {f}_au AFTER UPDATE ON {t} BEGIN INSERT INTO {f}({f}, rowid, party_name) VALUES ('delete', old.id, old.party_name);"
                f" INSERT INTO {f}(rowid, party_name) VALUES (new.id, new.party_name); END"
            ))

    from store.published import rebuild

    rebuild(conn, reflect=True)


def downgrade() -> None:
    conn = op.get_bind()
    for ds in _NATIONAL:
        if conn.dialect.name == 'sqlite':
            conn.execute(sa.text(f"DROP TABLE IF EXISTS published_{ds}_fts"))
        op.drop_table(f"published_{ds}")
