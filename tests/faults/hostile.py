"""Hostile department rows, generated into a real MariaDB table, for the bad-input tests.

Every row has a valid cursor value; everything else is what legacy systems, careless clerks and
attackers produce: NUL bytes, 100 KB strings, invalid UTF-8 and GBK bytes, emoji, SQL-looking text,
wrong types in every column, MariaDB zero dates, NULL and blank keys, duplicate keys in one batch.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import sqlalchemy as sa

from tests.factories import make_id

T0 = dt.datetime(2025, 6, 1, 8, 0, 0)

#: The hostile table: the columns of tests.factories' department mapping, typed loosely enough to hold
#: the garbage (the BLOB/VARBINARY columns carry undecodable bytes; yxq is text, jdrq a real DATE).
HOSTILE_DDL = """
CREATE TABLE t_xzcf (
  id INT PRIMARY KEY, wsh VARCHAR(255) NULL, dsr LONGTEXT, lb VARCHAR(50), xydm VARBINARY(255), fddbr VARCHAR(100),
  zjlx VARCHAR(50), zjhm VARCHAR(64), wfxw TEXT, ss LONGTEXT, yj TEXT, cflb VARCHAR(50), nr BLOB,
  fk_yuan VARCHAR(100), jdrq DATE, yxq VARCHAR(50), gxsj DATETIME, INDEX ix_gxsj (gxsj)
) CHARACTER SET utf8mb4
"""

#: Every column declared with a wrong SQL type (a number where text belongs, a date where an amount
#: belongs, …): what a department's view with careless casts hands over.
WRONG_TYPES_DDL = """
CREATE TABLE t_xzcf (
  id INT PRIMARY KEY, wsh BIGINT, dsr DATE, lb DECIMAL(10,3), xydm DATETIME, fddbr DOUBLE, zjlx BIT(8), zjhm BIGINT,
  wfxw TIME, ss YEAR, yj FLOAT, cflb DECIMAL(5,2), nr BINARY(4), fk_yuan DATE, jdrq INT, yxq DATETIME, gxsj DATETIME,
  INDEX ix_gxsj (gxsj)
)
"""


def _good(i: int, rng: random.Random) -> dict[str, Any]:
    """A valid natural-person penalty row (its ID number must never show up in a log or message)."""
    decided = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(300))
    return {
        "id": i, "wsh": f"杭市监罚决〔2025〕H{i}号", "dsr": "张三", "lb": "3", "xydm": None, "fddbr": None,
        "zjlx": "身份证", "zjhm": make_id(rng), "wfxw": "违反《中华人民共和国产品质量法》第三十三条",
        "ss": "销售不合格产品", "yj": "《中华人民共和国产品质量法》第五十条", "cflb": "2", "nr": "罚款2000元".encode(),
        "fk_yuan": "2000", "jdrq": decided, "yxq": (decided + dt.timedelta(days=365)).isoformat(),
        "gxsj": T0 + dt.timedelta(minutes=i),
    }


def hostile_rows(seed: int = 11) -> tuple[list[dict[str, Any]], dict[str, list[int]]]:
    """(rows, ids by the kind of hostility) — a valid base row with one hostile change each."""
    rng = random.Random(seed)
    cases: list[tuple[str, dict[str, Any]]] = [
        ("nul", {"dsr": "张\x00三"}),
        ("nul", {"wsh": "杭市监罚决〔2025〕\x00号"}),
        ("nul", {"ss": "违法\x00事实", "zjlx": "身份\x00证"}),
        ("huge", {"dsr": "张" * 100_000}),
        ("huge", {"ss": "事" * 100_000, "wsh": "罚" * 100_000}),
        ("bytes", {"nr": b"\xff\xfe\xfd\x80 bad utf-8"}),
        ("bytes", {"nr": "罚款两千元".encode("gbk")}),  # legacy GBK bytes in a BLOB: decoded, not mangled
        ("bytes", {"xydm": b"\x80\x81\xff\xfe", "lb": "1", "dsr": "杭州某公司", "zjlx": None, "zjhm": None, "fddbr": "李四"}),
        ("emoji", {"dsr": "张三😀", "ss": "事实🚀🔥", "wsh": "杭市监罚决〔2025〕😀号"}),
        ("sql", {"wsh": "'; DROP TABLE record_cf; --", "dsr": "Robert'); DROP TABLE quarantine;--"}),
        ("sql", {"ss": "1 OR 1=1; SELECT pg_sleep(30); $$ \\' \" `", "nr": b"'); DELETE FROM watermark; --"}),
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
        ("control", {"dsr": "\x1b[31m张三\x1b[0m", "wfxw": "违反\r\n条款", "yj": "依据\u202e反转"}),
    ]
    rows: list[dict[str, Any]] = []
    kinds: dict[str, list[int]] = {}
    i = 0
    for kind, change in cases:
        i += 1
        rows.append({**_good(i, rng), **change})
        kinds.setdefault(kind, []).append(i)
    # Duplicate keys inside one batch: the same decision twice (identical content), then once changed.
    dup = _good(i + 1, rng)
    dup["wsh"] = "杭市监罚决〔2025〕DUP号"
    for k, change in enumerate(({}, {}, {"nr": "罚款3000元".encode()}), start=1):
        rows.append({**dup, "id": i + k, "gxsj": T0 + dt.timedelta(minutes=i + k), **change})
        kinds.setdefault("duplicate", []).append(i + k)
    i += 3
    for _ in range(5):  # plain good rows in between, so a batch mixes good and bad
        i += 1
        rows.append(_good(i, rng))
        kinds.setdefault("good", []).append(i)
    return rows, kinds


def wrong_type_rows() -> list[dict[str, Any]]:
    """Rows for :data:`WRONG_TYPES_DDL`."""
    rows = []
    for i in range(1, 6):
        rows.append({
            "id": i, "wsh": 10**15 + i, "dsr": dt.date(2025, 1, i), "lb": 3.5, "xydm": dt.datetime(2025, 1, 1, 1, 1, i),
            "fddbr": 1e300, "zjlx": 255, "zjhm": 330102198001011234 + i, "wfxw": dt.timedelta(hours=-5, seconds=i),
            "ss": 2025, "yj": -0.0, "cflb": 2.0, "nr": b"\x00\x01\x02\x03", "fk_yuan": dt.date(2025, 1, 1),
            "jdrq": 20250101 + i, "yxq": dt.datetime(2099, 12, 31), "gxsj": T0 + dt.timedelta(minutes=i),
        })
    return rows


def fill(url: str, ddl: str, rows: list[dict[str, Any]]) -> None:
    """Create the table with ``ddl`` and insert ``rows``, zero dates allowed (a legacy server's sql_mode)."""
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text("SET SESSION sql_mode = ''"))
        c.execute(sa.text(ddl))
        cols = list(rows[0])
        stmt = sa.text(f"INSERT INTO t_xzcf ({', '.join(cols)}) VALUES ({', '.join(':' + k for k in cols)})")
        c.execute(stmt, rows)
    engine.dispose()

