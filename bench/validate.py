"""Benchmark of the national rule engine on generated 行政处罚 rows.

Run: ``PYTHONPATH=. .venv/bin/python bench/validate.py --rows 1000000``. About 5% of the rows carry one
realistic defect (bad check digit, missing fine, impossible date, junk name, …). Prints the time, rows/s
and the failure count of every rule.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd

from expectations import catalogue, validate
from expectations.checks import USCC_ALPHABET, org_code_check_char, resident_id_check_char, uscc_check_char

TODAY = dt.date(2026, 6, 30)


def _uscc(rng: np.random.Generator, n: int, prefix: str) -> np.ndarray:
    """``n`` valid USCCs starting with ``prefix`` (their embedded 组织机构代码 is valid too)."""
    out = []
    org_alpha = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 11714 bodies limited to the USCC alphabet
    for _ in range(n):
        region = f"{rng.integers(110000, 659999)}"
        body8 = "".join(org_alpha[k] for k in rng.integers(0, len(org_alpha), 8))
        org = body8 + org_code_check_char(body8)
        if org[-1] not in USCC_ALPHABET:
            org = org[:-1] + "0"
            body8 = body8[:-1] + "0"
            org = body8 + org_code_check_char(body8)
        b17 = (prefix + region + org)[:17]
        out.append(b17 + uscc_check_char(b17))
    return np.array(out, dtype=object)


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    out = []
    for _ in range(n):
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 55)))
        b17 = f"{rng.integers(110101, 659001)}{birth:%Y%m%d}{rng.integers(0, 999):03d}"
        out.append(b17 + resident_id_check_char(b17))
    return np.array(out, dtype=object)


def generate(rows: int, seed: int = 7, bad_share: float = 0.05) -> pd.DataFrame:
    """``rows`` penalty rows in national columns (the shape the transforms stage hands over)."""
    rng = np.random.default_rng(seed)
    pool = 5000
    org_codes, ind_codes, auth_codes = _uscc(rng, pool, "91"), _uscc(rng, pool, "92"), _uscc(rng, 200, "11")
    ids = _ids(rng, pool)
    surnames = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"), dtype=object)
    given = np.array(
        ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟"], dtype=object
    )
    kind = rng.choice(3, size=rows, p=[0.5, 0.2, 0.3])  # 0 org, 1 ind, 2 np
    pick = rng.integers(0, pool, rows)
    person = surnames[rng.integers(0, len(surnames), rows)] + given[rng.integers(0, len(given), rows)]
    seq = np.arange(rows).astype(str).astype(object)
    lb = np.array(["法人及非法人组织", "个体工商户", "自然人"], dtype=object)[kind]
    mc = np.where(kind == 0, "某某科技有限公司" + seq, np.where(kind == 1, "某某便利店" + seq, person))
    shxym = np.where(kind == 0, org_codes[pick], np.where(kind == 1, ind_codes[pick], None))
    zzjg = np.where(kind == 0, np.array([s[8:17] for s in org_codes], dtype=object)[pick], None)
    frdb = np.where(kind == 2, None, person)
    xdr_zjlx = np.where(kind == 2, "身份证", None)
    xdr_zjhm = np.where(kind == 2, ids[pick], None)
    cats = np.array(
        [
            "罚款",
            "警告",
            "罚款;没收违法所得",
            "警告;罚款",
            "没收违法所得、没收非法财物",
            "吊销许可证件",
            "其他-责令改正",
        ],
        dtype=object,
    )
    cat_i = rng.choice(len(cats), size=rows, p=[0.5, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05])
    cflb = cats[cat_i]
    fine_yuan = rng.integers(1, 500, rows) * 100
    has_fine = np.isin(cat_i, [0, 2, 3])
    has_conf = np.isin(cat_i, [2, 4])
    fk = np.where(has_fine, (fine_yuan / 10000).astype(str).astype(object), None)
    wfff = np.where(has_conf, "0.35", None)
    zkdx = np.where(cat_i == 5, "食品经营许可证JY12345678901234", None)
    base = dt.date(2021, 1, 1).toordinal()
    jd_ord = base + rng.integers(0, 5 * 365, rows)
    uniq = np.unique(jd_ord)
    iso = {o: dt.date.fromordinal(int(o)).isoformat() for o in uniq}
    iso3 = {
        o: dt.date.fromordinal(int(o)).replace(year=dt.date.fromordinal(int(o)).year + 3).isoformat()
        if not (dt.date.fromordinal(int(o)).month == 2 and dt.date.fromordinal(int(o)).day == 29)
        else dt.date.fromordinal(int(o) - 1).replace(year=dt.date.fromordinal(int(o)).year + 3).isoformat()
        for o in uniq
    }
    jdrq = np.array([iso[o] for o in uniq], dtype=object)[np.searchsorted(uniq, jd_ord)]
    gsjzq = np.array([iso3[o] for o in uniq], dtype=object)[np.searchsorted(uniq, jd_ord)]
    auth = rng.integers(0, len(auth_codes), rows)
    auth_names = np.array([f"某市第{i}监督管理局" for i in range(len(auth_codes))], dtype=object)
    nr = (
        "经查，当事人（案号"
        + seq
        + "）的行为违法，决定给予罚款"
        + fine_yuan.astype(str).astype(object)
        + "元的行政处罚，并责令改正违法行为。"
    )
    sy = (
        "当事人于"
        + jdrq
        + "在经营场所销售不符合食品安全标准的食品，经查证属实，违反了《中华人民共和国食品安全法》第三十四条的规定。"
    )
    df = pd.DataFrame(
        {
            "CF_XDR_MC": mc,
            "CF_XDR_LB": lb,
            "CF_XDR_SHXYM": shxym,
            "CF_XDR_GSZC": None,
            "CF_XDR_ZZJG": zzjg,
            "CF_XDR_SWDJ": None,
            "CF_XDR_SYDW": None,
            "CF_XDR_SHZZ": None,
            "CF_FRDB": frdb,
            "CF_FR_ZJLX": None,
            "CF_FR_ZJHM": None,
            "CF_XDR_ZJLX": xdr_zjlx,
            "CF_XDR_ZJHM": xdr_zjhm,
            "CF_WSH": "某市监罚〔2024〕" + seq + "号",
            "CF_WFXW": "违反《中华人民共和国食品安全法》第三十四条",
            "CF_SY": sy,
            "CF_YJ": "《中华人民共和国食品安全法》第一百二十四条第一款",
            "CF_CFLB": cflb,
            "CF_NR": nr,
            "CF_NR_FK": fk,
            "CF_NR_WFFF": wfff,
            "CF_NR_ZKDX": zkdx,
            "CF_JDRQ": jdrq,
            "CF_YXQ": gsjzq,
            "CF_GSJZQ": gsjzq,
            "CF_CFJG": auth_names[auth],
            "CF_CFJGDM": auth_codes[auth],
            "CF_SJLY": auth_names[auth],
            "CF_SJLYDM": auth_codes[auth],
            "BZ": None,
            "_source_row": np.arange(rows),
        },
        dtype=object,
    )
    # Inject one defect into ~bad_share of the rows.
    bad = np.flatnonzero(rng.random(rows) < bad_share)
    defects = [
        ("CF_XDR_SHXYM", lambda v: None if v is None else v[:-1] + ("0" if v[-1] != "0" else "1")),
        ("CF_NR_FK", lambda v: None),
        ("CF_JDRQ", lambda v: "2023/02/30"),
        ("CF_XDR_MC", lambda v: "无"),
        ("CF_CFLB", lambda v: "罚款、其他"),
        ("CF_NR_FK", lambda v: "2000元"),
        ("CF_XDR_ZJHM", lambda v: None if v is None else v[:6] + "19991332" + v[14:]),
        ("CF_SY", lambda v: v + "\x07"),
        ("CF_CFJGDM", lambda v: "00000000000000000X"),
        ("CF_YXQ", lambda v: "2019-01-01"),
    ]
    which = rng.integers(0, len(defects), bad.size)
    for k, (col, fn) in enumerate(defects):
        rows_k = bad[which == k]
        if rows_k.size:
            j = df.columns.get_loc(col)
            vals = df.iloc[rows_k, j].tolist()
            df.iloc[rows_k, j] = pd.array([fn(v) for v in vals], dtype=object)
    return df


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    t0 = time.perf_counter()
    df = generate(args.rows)
    print(f"generated {len(df):,} rows × {df.shape[1]} columns in {time.perf_counter() - t0:.1f} s")
    n_rules = len(catalogue("cf"))
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        verdicts = validate(df, "cf", today=TODAY)
        best = min(best, time.perf_counter() - t0)
    print(f"validate: {best:.2f} s for {len(df):,} rows and {n_rules} rules = {len(df) / best:,.0f} rows/s")
    print(verdicts.summary())
    for rid, n in verdicts.rule_failures.items():
        print(f"  {rid:<14} {n:>9,}")


if __name__ == "__main__":
    main()
