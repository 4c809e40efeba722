"""Hostile department rows, generated into a real MariaDB table, for the bad-input tests.

Every row has a valid cursor value; everything else is what legacy systems, careless clerks and
attackers produce: NUL bytes, 100 KB strings, invalid UTF-8 and GBK bytes, emoji and other 4-byte
characters, right-to-left marks, SQL-looking text, wrong types, MariaDB zero dates, NULL and blank keys,
duplicate keys in one batch, and long string source primary keys.

The table uses LONGTEXT/LONGBLOB columns and is filled under a strict ``sql_mode``: MariaDB stores every
value whole or refuses it, so what the pipeline reads is exactly what the test wrote (a VARCHAR(255) under
``sql_mode=''`` silently cut a 100,000-character 文书号 to 255 characters and hid the crash it causes).
Every national field is mapped from a source column, the business-key columns (文书号, 数据来源单位统一社会
信用代码) and the string primary key included, so hostile values reach every column the store bounds.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.factories import authority_code, make_id, source_time

T0 = source_time(2025, 6, 1, 8, 0, 0)

#: Strict: a value that does not fit is an error, never truncated; zero dates stay allowed (no
#: NO_ZERO_DATE / NO_ZERO_IN_DATE), as on the legacy servers that hold them.
STRICT_SQL_MODE = "STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

#: Longest string primary key InnoDB indexes in utf8mb4 (3,072 bytes); longer than the store's key columns.
PK_LENGTH = 700

#: The hostile table: a string primary key, LONGTEXT for text, LONGBLOB where undecodable bytes go, a real
#: DATE (zero dates) and the cursor.
HOSTILE_DDL = f"""
CREATE TABLE t_xzcf (
  pk VARCHAR({PK_LENGTH}) NOT NULL PRIMARY KEY, id INT NOT NULL UNIQUE,
  wsh LONGTEXT NULL, dsr LONGTEXT, lb LONGTEXT, xydm LONGBLOB, fddbr LONGTEXT, zjlx LONGTEXT, zjhm LONGTEXT,
  wfxw LONGTEXT, ss LONGTEXT, yj LONGTEXT, cflb LONGTEXT, nr LONGBLOB, fk_yuan LONGTEXT, jdrq DATE, yxq LONGTEXT,
  cfjg LONGTEXT, cfjgdm LONGTEXT, sjly LONGTEXT, sjlydm LONGTEXT, bz LONGTEXT,
  gxsj DATETIME NOT NULL, INDEX ix_gxsj (gxsj)
) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
"""

#: national field → source column of the hostile table: every field a department maps, none a constant.
HOSTILE_COLUMNS = {
    "CF_WSH": "wsh", "CF_XDR_MC": "dsr", "CF_XDR_LB": "lb", "CF_XDR_SHXYM": "xydm", "CF_FRDB": "fddbr",
    "CF_XDR_ZJLX": "zjlx", "CF_XDR_ZJHM": "zjhm", "CF_WFXW": "wfxw", "CF_SY": "ss", "CF_YJ": "yj",
    "CF_CFLB": "cflb", "CF_NR": "nr", "CF_NR_FK": "fk_yuan", "CF_JDRQ": "jdrq", "CF_YXQ": "yxq",
    "CF_CFJG": "cfjg", "CF_CFJGDM": "cfjgdm", "CF_SJLY": "sjly", "CF_SJLYDM": "sjlydm", "BZ": "bz",
}
_TEXT_COLUMNS = [c for c in HOSTILE_COLUMNS.values() if c not in ("jdrq",)]

_HOSTILE_YAML = """\
code: {code}
name: 市测试监管局
uscc: {authority}
source:
  url_env: {env}
datasets:
  cf:
    table: t_xzcf
    cursor: gxsj
    primary_key: [pk]
    chunk_rows: {chunk_rows}
    lookback: 5m
    columns:
{columns}
    codes:
      CF_XDR_LB: {{"1": 法人及非法人组织, "2": 个体工商户, "3": 自然人}}
      CF_CFLB: {{"1": 警告, "2": 罚款}}
    amounts_in_yuan: [CF_NR_FK]
"""


def write_hostile_department(folder: Path, *, env: str, chunk_rows: int = 16, code: str = "testju") -> Path:
    """The department file of the hostile table (every field mapped from a column)."""
    columns = "\n".join(f"      {k}: {v}" for k, v in HOSTILE_COLUMNS.items())
    path = folder / f"{code}.yaml"
    path.write_text(
        _HOSTILE_YAML.format(code=code, env=env, chunk_rows=chunk_rows, authority=authority_code(), columns=columns),
        encoding="utf-8",
    )
    return path


#: Strange values that are still legitimate text (4-byte characters, SQL-looking text): rows carrying them
#: in these columns pass every rule, so the test can check they are stored verbatim. (column, value)
ACCEPTED_VERBATIM: list[tuple[str, str]] = [
    ("ss", "销售不合格产品😀🚀，涉及𠀀𠮷字与数学字母𝔘𝔫𝔦"),
    ("nr", "罚款2000元🔥"),
    ("bz", "备注：'; DROP TABLE record_cf; -- 与 Robert'); DROP TABLE quarantine;--"),
    ("ss", "1 OR 1=1; SELECT pg_sleep(30); $$ \\' \" ` 事实"),
    ("wsh", "杭市监罚决〔2025〕'; DROP TABLE record_cf; --号"),
    ("dsr", "张三丰"),  # a plain name beside a long string primary key (see long_key_rows)
]


def _good(i: int, rng: random.Random, authority: str) -> dict[str, Any]:
    """A valid natural-person penalty row (its ID number must never show up in a log or message)."""
    decided = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(300))
    return {
        "pk": f"R{i:05d}", "id": i, "wsh": f"杭市监罚决〔2025〕H{i}号", "dsr": "张三", "lb": "3", "xydm": None,
        "fddbr": None, "zjlx": "身份证", "zjhm": make_id(rng), "wfxw": "违反《中华人民共和国产品质量法》第三十三条",
        "ss": "销售不合格产品", "yj": "《中华人民共和国产品质量法》第五十条", "cflb": "2", "nr": "罚款2000元".encode(),
        "fk_yuan": "2000", "jdrq": decided, "yxq": (decided + dt.timedelta(days=365)).isoformat(),
        "cfjg": "市测试监管局", "cfjgdm": authority, "sjly": "市测试监管局", "sjlydm": authority, "bz": None,
        "gxsj": T0 + dt.timedelta(minutes=i),
    }


def _every_column() -> list[tuple[str, dict[str, Any]]]:
    """Each hostile kind in each mapped text column, one row each (the other columns valid). A change is a
    function of the valid value it replaces (so the ID number column carries a real ID number inside)."""
    kinds: dict[str, Callable[[str], str]] = {
        "huge": lambda v: "罚" * 100_000,  # 100 KB: over every length rule and every bounded column
        "nul": lambda v: "杭州\x00" + v,
        "four-byte": lambda v: "😀𠀀" + v,
        "rtl": lambda v: "\u202e" + v + "\u200f",
        "sql": lambda v: "'); DROP TABLE record_cf; --" + v,
        "control": lambda v: "\x1b[31m" + v + "\x08",
    }
    out: list[tuple[str, dict[str, Any]]] = []
    for column in _TEXT_COLUMNS:
        for kind, make in kinds.items():
            def change(row: dict[str, Any], column: str = column, make: Callable[[str], str] = make) -> Any:
                base = row[column]
                value = make(base.decode() if isinstance(base, bytes) else base if base is not None else column)
                return value.encode() if column in ("xydm", "nr") else value
            out.append((f"{kind}:{column}", {column: change}))
    return out


def hostile_rows(seed: int = 11) -> tuple[list[dict[str, Any]], dict[str, list[int]]]:
    """(rows, ids by the kind of hostility) — a valid base row with one hostile change each.

    Kinds: ``<kind>:<column>`` for the generic matrix, plus the named cases below; ``accepted:<n>`` are the
    rows of :data:`ACCEPTED_VERBATIM`; ``good`` are untouched rows.
    """
    rng = random.Random(seed)
    authority = authority_code()
    cases: list[tuple[str, dict[str, Any]]] = [
        ("nul", {"dsr": "张\x00三"}),
        ("nul", {"wsh": "杭市监罚决〔2025〕\x00号"}),
        ("nul", {"ss": "违法\x00事实", "zjlx": "身份\x00证"}),
        ("huge", {"dsr": "张" * 100_000}),
        ("huge", {"ss": "事" * 100_000, "wsh": "罚" * 100_000}),
        ("long-key", {"wsh": "罚" * 500}),  # longer than the store's key columns (400), shorter than 100 KB
        ("long-key", {"sjlydm": "9" * 100_000}),
        ("long-key", {"wsh": "罚" * 100_000, "sjlydm": "1" * 100_000}),
        ("long-key", {"pk": "K" + "键" * (PK_LENGTH - 1), "wsh": "文" * 100_000}),  # a long string pk, rejected
        ("long-pk", {"pk": "P" + "主" * (PK_LENGTH - 1)}),  # a long string pk on an otherwise valid row: loaded
        ("long-pk", {"pk": "Q😀\u202e" + "x" * (PK_LENGTH - 3)}),
        ("long-pk", {"pk": "N\x00空字符\x1b主键"}),  # NUL and ESC in a primary key (its position is stored too)
        ("bytes", {"nr": b"\xff\xfe\xfd\x80 bad utf-8"}),
        ("bytes", {"nr": "罚款两千元".encode("gbk")}),  # legacy GBK bytes in a BLOB: decoded, not mangled
        ("bytes", {"xydm": b"\x80\x81\xff\xfe", "lb": "1", "dsr": "杭州某公司", "zjlx": None, "zjhm": None, "fddbr": "李四"}),
        ("types", {"fk_yuan": "abc"}),
        ("types", {"fk_yuan": "1e999"}),
        ("types", {"fk_yuan": "NaN"}),
        ("types", {"fk_yuan": "9" * 40}),
        ("types", {"fk_yuan": "-Infinity", "lb": "9", "cflb": "x"}),
        ("types", {"yxq": "abc", "zjlx": "护照?", "zjhm": "not-an-id"}),
        ("types", {"zjhm": "330102198001011230"}),  # wrong check digit: rejected, never echoed
        ("zero-date", {"jdrq": "0000-00-00"}),
        ("zero-date", {"yxq": "0000-00-00"}),
        ("zero-date", {"jdrq": "2025-00-00", "yxq": "2025-02-30"}),
        ("null-key", {"wsh": None}),
        ("null-key", {"wsh": ""}),
        ("null-key", {"wsh": " \u3000\t "}),
        ("null-key", {"sjlydm": None}),
        ("control", {"dsr": "\x1b[31m张三\x1b[0m", "wfxw": "违反\r\n条款", "yj": "依据\u202e反转"}),
        *_every_column(),
        *((f"accepted:{n}", {column: value.encode() if column in ("xydm", "nr") else value})
          for n, (column, value) in enumerate(ACCEPTED_VERBATIM)),
    ]
    rows: list[dict[str, Any]] = []
    kinds: dict[str, list[int]] = {}
    i = 0
    for kind, change in cases:
        i += 1
        row = _good(i, rng, authority)
        rows.append({**row, **{k: v(row) if callable(v) else v for k, v in change.items()}})
        kinds.setdefault(kind, []).append(i)
    # The last accepted-verbatim row sits beside a long string primary key.
    rows[-1]["pk"] = "L" + "长" * (PK_LENGTH - 1)
    # Duplicate keys inside one batch: the same decision twice (identical content), then once changed.
    dup = _good(i + 1, rng, authority)
    dup["wsh"] = "杭市监罚决〔2025〕DUP号"
    for k, change in enumerate(({}, {}, {"nr": "罚款3000元".encode()}), start=1):
        rows.append({**dup, "id": i + k, "pk": f"R{i + k:05d}", "gxsj": T0 + dt.timedelta(minutes=i + k), **change})
        kinds.setdefault("duplicate", []).append(i + k)
    i += 3
    for _ in range(5):  # plain good rows in between, so a batch mixes good and bad
        i += 1
        rows.append(_good(i, rng, authority))
        kinds.setdefault("good", []).append(i)
    return rows, kinds


#: Every column declared with a wrong SQL type (a number where text belongs, a date where an amount
#: belongs, …): what a department's view with careless casts hands over.
WRONG_TYPES_DDL = """
CREATE TABLE t_xzcf (
  id INT PRIMARY KEY, wsh BIGINT, dsr DATE, lb DECIMAL(10,3), xydm DATETIME, fddbr DOUBLE, zjlx BIT(8), zjhm BIGINT,
  wfxw TIME, ss YEAR, yj FLOAT, cflb DECIMAL(5,2), nr BINARY(4), fk_yuan DATE, jdrq INT, yxq DATETIME, gxsj DATETIME,
  INDEX ix_gxsj (gxsj)
)
"""


def wrong_type_rows() -> list[dict[str, Any]]:
    """Rows for :data:`WRONG_TYPES_DDL`."""
    rows = []
    for i in range(1, 6):
        rows.append({
            "id": i, "wsh": 10**15 + i, "dsr": dt.date(2025, 1, i), "lb": 3.5, "xydm": source_time(2025, 1, 1, 1, 1, i),
            "fddbr": 1e300, "zjlx": 255, "zjhm": 330102198001011234 + i, "wfxw": dt.timedelta(hours=-5, seconds=i),
            "ss": 2025, "yj": -0.0, "cflb": 2.0, "nr": b"\x00\x01\x02\x03", "fk_yuan": dt.date(2025, 1, 1),
            "jdrq": 20250101 + i, "yxq": source_time(2099, 12, 31), "gxsj": T0 + dt.timedelta(minutes=i),
        })
    return rows


def fill(url: str, ddl: str, rows: list[dict[str, Any]], *, sql_mode: str = STRICT_SQL_MODE) -> None:
    """Create the table with ``ddl`` and insert ``rows`` under ``sql_mode`` (strict by default: a value that
    does not fit fails the insert instead of being cut)."""
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text("SET SESSION sql_mode = :m"), {"m": sql_mode})
        c.execute(sa.text(ddl))
        cols = list(rows[0])
        stmt = sa.text(f"INSERT INTO t_xzcf ({', '.join(cols)}) VALUES ({', '.join(':' + k for k in cols)})")
        c.execute(stmt, rows)
    engine.dispose()


def stored_lengths(url: str, columns: list[str]) -> dict[int, dict[str, int | None]]:
    """id → CHAR_LENGTH of each of ``columns`` as the source holds them (to prove nothing was cut)."""
    engine = sa.create_engine(url)
    with engine.connect() as c:
        sel = ", ".join(f"CHAR_LENGTH({col})" for col in columns)
        out = {r[0]: dict(zip(columns, r[1:], strict=True)) for r in c.execute(sa.text(f"SELECT id, {sel} FROM t_xzcf"))}
    engine.dispose()
    return out
