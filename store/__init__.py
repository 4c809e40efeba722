"""The central store: schema and migrations, the loader, and queries.

PostgreSQL in production (``SGS_STORE_URL``); a SQLite file is the embedded default.
"""
