"""Demo department databases: realistic, deterministic source data for the 双公示 pipeline (``sgs demo``).

Three database departments of the 双公示 platform of 阳泉市 (山西省, the seed's city; names and credit codes of that
region, made up), two 市直 and one 县区 unit (平定县, 140321), each with its OWN schema, column names, codes and
date formats, the way real business systems differ (see ``departments/<code>.yaml`` for the mapping
to the national template):

| code    | department         | source      | datasets | particulars                                            |
|---------|--------------------|-------------|----------|--------------------------------------------------------|
| scjgj   | 阳泉市市场监督管理局 | MariaDB     | cf, xk   | pinyin columns, DATE columns, local codes 01–04, 2019 处罚类别 codes 1–6/9 |
| sthjj   | 阳泉市生态环境局     | PostgreSQL  | cf, xk   | English-ish columns, cf dates DATE, xk dates ``YYYYMMDD`` text, codes E/I/P |
| wsjkw   | 平定县卫生健康局（县区） | SQLite file | cf, xk   | upper-case pinyin columns, dates ``YYYY/MM/DD`` text, 证件类型 codes 111/414… |

About 6 % of the rows are deliberately bad (wrong check digits, placeholders, missing 文书号, impossible
or future dates, unknown codes, missing fines, junk names …), about 1.5 % need normalisation only
(full-width USCC, padded text) and about 1 % are later correction rows of an earlier decision (same
文书号). Every such row is listed in the table ``sgs_demo_cases`` (dataset, pk, kind, verdict) of the
department database, so tests downstream can compare the quarantine with what was planted.

Everything is derived from the seed: the same seed gives byte-identical tables, with fixed update
timestamps (never ``now()``; each department enters its decisions within its own ``entry_days``, which the
``sgs demo`` replay turns into its 及时率), so re-running the demo changes nothing downstream. A marker table
(``sgs_demo_marker``) records version, seed and row count; matching content is left alone.

Servers: ``SGS_DEMO_MARIADB_URL`` (default ``mysql+pymysql://root@127.0.0.1:3306/``) and
``SGS_DEMO_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), or the
``mariadb_url`` / ``postgresql_url`` parameters. An unreachable server (3 s timeout) makes that
department a SQLite file instead (``DemoSource.fallback``).

API: :func:`create_demo_sources` (make or reuse), :func:`add_demo_changes` (new and updated rows
with later cursor values, for incremental tests), :func:`read_cases` (the planted rows),
:func:`drop_demo_sources` (clean up after tests).

Modules, by concern (each imports only those above it):

| module         | holds                                                                                  |
|----------------|----------------------------------------------------------------------------------------|
| `identities`   | check digits, names, credit codes, ID numbers, parties and authorities (``Faker``)     |
| `decisions`    | the neutral decision record, the decision window, penalty and licence scenarios        |
| `departments`  | each department's own schema, codes, date formats and scenarios (``DEPARTMENTS``)      |
| `defects`      | the planted rule breaks and normalisation cases, their shares, how each changes a record |
| `generate`     | the rows of one department dataset from one seed (pure, no database)                   |
| `provisioning` | making, filling, changing and dropping the department databases; the case list         |

Nothing in the platform imports this package except the ``sgs demo`` command (``pipeline.demo``) and tests.
"""

from __future__ import annotations

from demo.defects import DEFECTS, defect_kinds
from demo.departments import DEPARTMENTS
from demo.provisioning import (
    DEFAULT_PREFIX,
    DEFAULT_SEED,
    DemoSource,
    add_demo_changes,
    create_demo_sources,
    drop_demo_sources,
    read_cases,
)

__all__ = [
    "DEFAULT_PREFIX", "DEFAULT_SEED", "DEFECTS", "DEPARTMENTS", "DemoSource", "add_demo_changes",
    "create_demo_sources", "defect_kinds", "drop_demo_sources", "read_cases",
]
