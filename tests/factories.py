"""Synthetic, check-digit-valid national identifiers and a penalty source table for tests."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from stdnum.cn import ric, uscc


def org_check(body8: str) -> str:
    """GB 11714 check character of an 8-character 组织机构代码 body."""
    value = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    r = 11 - value % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def make_uscc(rng: random.Random, prefix: str = "91") -> str:
    """A USCC whose embedded 组织机构代码 (positions 9–17) and own check digit are both valid."""
    org = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    body = prefix + "330100" + org + org_check(org)
    return body + uscc.calc_check_digit(body)


def make_id(rng: random.Random) -> str:
    born = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(15000))
    body = "330102" + born.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
    return body + ric.calc_check_digit(body + "0")


def authority_code() -> str:
    org = "MB000000"
    body = "11330100" + org + org_check(org)
    return body + uscc.calc_check_digit(body)


def create_penalty_table(conn: sa.Connection, name: str = "t_xzcf") -> sa.Table:
    md = sa.MetaData()
    table = sa.Table(
        name,
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("wsh", sa.String(128)),
        sa.Column("dsr", sa.String(200)),
        sa.Column("lb", sa.String(2)),
        sa.Column("xydm", sa.String(32)),
        sa.Column("fddbr", sa.String(50)),
        sa.Column("zjlx", sa.String(16)),
        sa.Column("zjhm", sa.String(32)),
        sa.Column("wfxw", sa.String(500)),
        sa.Column("ss", sa.Text),
        sa.Column("yj", sa.String(500)),
        sa.Column("cflb", sa.String(64)),
        sa.Column("nr", sa.Text),
        sa.Column("fk_yuan", sa.Numeric(18, 2)),
        sa.Column("jdrq", sa.Date),
        sa.Column("yxq", sa.Date),
        sa.Column("gxsj", sa.DateTime, index=True),
    )
    md.create_all(conn)
    return table


def source_time(*parts: int) -> dt.datetime:
    """A department table's timestamp: naive, in the department's own zone (``timezone`` of its file,
    Asia/Shanghai by default). Source tables keep ``DATETIME`` without a zone; test rows do the same."""
    return dt.datetime(*parts)  # noqa: DTZ001 - a source table's naive local time, on purpose


def penalty_rows(n: int, *, seed: int, bad_every: int = 10, start_id: int = 1, start_time: dt.datetime | None = None) -> list[dict[str, Any]]:
    """``n`` rows, every ``bad_every``-th one broken (wrong USCC check digit)."""
    rng = random.Random(seed)
    t0 = start_time or source_time(2025, 6, 1, 8, 0, 0)
    out = []
    for k in range(n):
        i = start_id + k
        natural = k % 4 == 3
        code = make_uscc(rng)
        if bad_every and k % bad_every == bad_every - 1:
            code = code[:-1] + ("0" if code[-1] != "0" else "1")
            natural = False
        decided = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(300))
        out.append(
            {
                "id": i,
                "wsh": f"杭市监罚决〔2025〕{i}号",
                "dsr": "张三" if natural else f"杭州测试{i}贸易有限公司",
                "lb": "3" if natural else "1",
                "xydm": None if natural else code,
                "fddbr": None if natural else "李四",
                "zjlx": "身份证" if natural else None,
                "zjhm": make_id(rng) if natural else None,
                "wfxw": "违反《中华人民共和国产品质量法》第三十三条",
                "ss": "销售不合格产品",
                "yj": "《中华人民共和国产品质量法》第五十条",
                "cflb": "2",
                "nr": "罚款2000元",
                "fk_yuan": 2000,
                "jdrq": decided,
                "yxq": decided + dt.timedelta(days=365),
                "gxsj": t0 + dt.timedelta(minutes=i),
            }
        )
    return out


DEPARTMENT_YAML = """\
code: {code}
name: 市测试监管局
uscc: {authority}
source:
  url_env: {env}
datasets:
  cf:
    table: t_xzcf
    cursor: gxsj
    primary_key: [id]
    chunk_rows: {chunk_rows}
    lookback: 5m
    columns:
      CF_WSH: wsh
      CF_XDR_MC: dsr
      CF_XDR_LB: lb
      CF_XDR_SHXYM: xydm
      CF_FRDB: fddbr
      CF_XDR_ZJLX: zjlx
      CF_XDR_ZJHM: zjhm
      CF_WFXW: wfxw
      CF_SY: ss
      CF_YJ: yj
      CF_CFLB: cflb
      CF_NR: nr
      CF_NR_FK: fk_yuan
      CF_JDRQ: jdrq
      CF_YXQ: yxq
    constants:
      CF_CFJG: 市测试监管局
      CF_CFJGDM: {authority}
      CF_SJLY: 市测试监管局
      CF_SJLYDM: {authority}
    codes:
      CF_XDR_LB: {{"1": 法人及非法人组织, "2": 个体工商户, "3": 自然人}}
      CF_CFLB: {{"1": 警告, "2": 罚款}}
    amounts_in_yuan: [CF_NR_FK]
"""


def source_env(code: str = "testju") -> str:
    """The only URL variable a department file may name: ``SGS_SRC_<CODE>_URL`` (pipeline.config)."""
    return f"SGS_SRC_{code.upper()}_URL"


def source_sqlite_path(name: str = "src.db") -> Path:
    """A SQLite source file in the SQLite data folder of the test (``$SGS_VAR_DIR/sources``, the default of
    ``SGS_SOURCE_DATA_DIR``): a department SQLite file is read only from there."""
    import os

    folder = Path(os.environ["SGS_VAR_DIR"]) / "sources"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def write_department(folder: Path, *, code: str = "testju", env: str | None = None, chunk_rows: int = 7) -> Path:
    path = folder / f"{code}.yaml"
    path.write_text(
        DEPARTMENT_YAML.format(code=code, env=env or source_env(code), chunk_rows=chunk_rows, authority=authority_code()),
        encoding="utf-8",
    )
    return path


def national_penalty(i: int, rng: random.Random) -> dict[str, str | None]:
    """A fully valid 行政处罚 record in national columns (text), for file-based tests."""
    authority = authority_code()
    decided = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(300))
    return {
        "CF_XDR_MC": f"杭州测试{i}贸易有限公司",
        "CF_XDR_LB": "法人及非法人组织",
        "CF_XDR_SHXYM": make_uscc(rng),
        "CF_FRDB": "李四",
        "CF_WSH": f"杭市监罚决〔2025〕{i}号",
        "CF_WFXW": "违反《中华人民共和国产品质量法》第三十三条",
        "CF_SY": "销售不合格产品",
        "CF_YJ": "《中华人民共和国产品质量法》第五十条",
        "CF_CFLB": "罚款",
        "CF_NR": "罚款2000元",
        "CF_NR_FK": "0.2",
        "CF_JDRQ": decided.strftime("%Y/%m/%d"),
        "CF_YXQ": (decided + dt.timedelta(days=365)).strftime("%Y/%m/%d"),
        "CF_CFJG": "市测试监管局",
        "CF_CFJGDM": authority,
        "CF_SJLY": "市测试监管局",
        "CF_SJLYDM": authority,
    }


def load_batch(conn: Any, run_id: int, batch: Any, **kwargs: Any) -> Any:
    """``store.loader.load_batch`` for a batch built by hand from national text: prepared first, as the pipeline
    prepares every chunk (``pipeline.prepare.prepare_batch``; the store itself imports no transform)."""
    from pipeline.prepare import prepare_batch
    from store import loader
    from store.bulk import uses_copy

    if batch.prepared is None:
        batch = prepare_batch(batch, copy_text=uses_copy(conn))
    return loader.load_batch(conn, run_id, batch, **kwargs)
