"""The demo department databases (the demo/ package) on the machine's real MariaDB and PostgreSQL.

Every test works on throwaway databases (a random prefix) and a temporary var/ folder, and drops
what it made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from demo import DemoSource, add_demo_changes, create_demo_sources, defect_kinds, drop_demo_sources, read_cases
from demo.decisions import FIRST_DECISION, LAST_DECISION, UPDATE_CAP, yuan
from demo.departments import DEPARTMENTS, SCJGJ
from demo.generate import build
from demo.identities import id_check_char, uscc_check_char
from pipeline.config import Department, load_department

ROOT = Path(__file__).resolve().parents[2]
CODES = ["scjgj", "sthjj", "wsjkw"]
ROWS = 400
SEED = 4242
CLOSED = {"mariadb_url": "mysql+pymysql://root@127.0.0.1:1/?charset=utf8mb4",
          "postgresql_url": "postgresql+psycopg://postgres@127.0.0.1:1/postgres"}
USCC_SHAPE = r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$"


def _dept(code: str) -> Department:
    return load_department(ROOT / "departments" / f"{code}.yaml")


def _uscc_ok(v: str) -> bool:
    import re

    return bool(re.match(USCC_SHAPE, v)) and uscc_check_char(v[:17]) == v[17] and v != "0" * 18


def _id_ok(v: str) -> bool:
    try:
        dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    return len(v) == 18 and v[:17].isdigit() and id_check_char(v[:17]) == v[17]


def _date(v: Any) -> dt.date | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    for fmt in ("%Y/%m/%d", "%Y%m%d", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(v, fmt).date()  # noqa: DTZ007 - a date: only the day is kept
        except ValueError:
            continue
    raise ValueError(v)


def _rows(source: DemoSource, dataset: str) -> list[dict[str, Any]]:
    ds = _dept(source.department).datasets[dataset]
    engine = sa.create_engine(source.url)
    try:
        table = sa.Table(ds.table, sa.MetaData(), autoload_with=engine)
        with engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(sa.select(table).order_by(table.c[ds.primary_key[0]]))]
    finally:
        engine.dispose()


def _national(dept: Department, dataset: str, row: dict[str, Any]) -> dict[str, Any]:
    """A source row seen through the department file (columns, constants, codes) — a test's own
    small mapper, so these tests do not depend on transforms/."""
    ds = dept.datasets[dataset]
    out: dict[str, Any] = dict(ds.constants)
    for nat, col in ds.columns.items():
        v = row[col]
        if isinstance(v, str):
            v = v.strip(" \u3000")
        if nat in ds.codes and v is not None:
            v = ds.codes[nat].get(v, v)
        out[nat] = v
    return out


def _digest(source: DemoSource) -> str:
    h = hashlib.sha256()
    for dataset in _dept(source.department).datasets:
        for row in _rows(source, dataset):
            h.update(repr(sorted(row.items())).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, list[DemoSource]]]:
    """The three demo departments on the real servers, under a throwaway prefix."""
    var = tmp_path_factory.mktemp("demo-var")
    prefix = f"sgs_t{uuid.uuid4().hex[:8]}_"
    try:
        sources = create_demo_sources(var, rows=ROWS, seed=SEED, prefix=prefix)
        yield var, prefix, sources
    finally:
        drop_demo_sources(prefix=prefix, var_dir=var)


def test_department_files_load() -> None:
    for code in CODES:
        dept = _dept(code)
        assert dept.code == code
        assert _uscc_ok(dept.uscc), dept.uscc
        assert dept.source.url_env == f"SGS_SRC_{code.upper()}_URL"
        assert set(dept.datasets) == {"cf", "xk"}
        for name, ds in dept.datasets.items():
            src_unit = "CF_SJLYDM" if name == "cf" else "XK_LYDWDM"
            assert ds.constants[src_unit] == dept.uscc
            assert ds.chunk_rows == 500
        # The demo module and the file agree on who the department is.
        assert DEPARTMENTS[code].uscc == dept.uscc
        assert DEPARTMENTS[code].name == dept.name
    for dept_spec in DEPARTMENTS.values():
        for auth in dept_spec.authorities:
            assert _uscc_ok(auth.uscc) and auth.uscc.startswith("11"), auth


def test_sources_on_three_kinds(demo: tuple[Path, str, list[DemoSource]]) -> None:
    var, prefix, sources = demo
    assert [(s.department, s.kind, s.fallback) for s in sources] == [
        ("scjgj", "mariadb", False), ("sthjj", "postgresql", False), ("wsjkw", "sqlite", False)]
    assert f"{prefix}scjgj" in sources[0].url and f"{prefix}sthjj" in sources[1].url
    assert sources[2].url == f"sqlite:///{var / 'sources' / 'wsjkw.db'}"
    for s in sources:
        assert s.rows == {"cf": ROWS, "xk": ROWS}


def test_mapped_columns_cursor_and_key_exist(demo: tuple[Path, str, list[DemoSource]]) -> None:
    for s in demo[2]:
        dept = _dept(s.department)
        engine = sa.create_engine(s.url)
        try:
            insp = sa.inspect(engine)
            for name, ds in dept.datasets.items():
                assert ds.table in insp.get_table_names(), (s.department, ds.table)
                cols = {c["name"] for c in insp.get_columns(ds.table)}
                wanted = set(ds.columns.values()) | {ds.cursor, *ds.primary_key}
                assert wanted <= cols, (s.department, name, wanted - cols)
                assert insp.get_pk_constraint(ds.table)["constrained_columns"] == ds.primary_key
                indexed = {c for ix in insp.get_indexes(ds.table) for c in ix["column_names"]}
                assert ds.cursor in indexed, "the cursor column must be indexed"
                # DATETIME/TIMESTAMP cursor
                ctype = next(c["type"] for c in insp.get_columns(ds.table) if c["name"] == ds.cursor)
                assert isinstance(ctype, sa.DateTime) or "DATETIME" in str(ctype).upper() or "TIMESTAMP" in str(ctype).upper()
        finally:
            engine.dispose()


def test_codes_cover_every_value_but_the_planted_ones(demo: tuple[Path, str, list[DemoSource]]) -> None:
    for s in demo[2]:
        dept = _dept(s.department)
        for name, ds in dept.datasets.items():
            unknown = {c["pk"] for c in read_cases(s, name) if c["kind"] == "unknown_code"}
            assert unknown, (s.department, name)
            seen_unknown: set[int] = set()
            for row in _rows(s, name):
                for nat, table in ds.codes.items():
                    v = row[ds.columns[nat]]
                    if v is not None and v not in table:
                        seen_unknown.add(row[ds.primary_key[0]])
                        assert row[ds.primary_key[0]] in unknown, (s.department, name, nat, v)
            assert seen_unknown == unknown


def test_good_rows_are_valid_and_realistic(demo: tuple[Path, str, list[DemoSource]]) -> None:
    """Rows that are not planted pass the national checks the expectations will make."""
    cutoff = LAST_DECISION
    for s in demo[2]:
        dept = _dept(s.department)
        for name in ("cf", "xk"):
            p = name.upper()
            cases = read_cases(s, name)
            planted = {c["pk"] for c in cases if c["verdict"] != "correction"}
            corrections = {c["pk"] for c in cases if c["verdict"] == "correction"}
            keys: Counter[tuple[Any, ...]] = Counter()
            lbs: Counter[str] = Counter()
            for row in _rows(s, name):
                pk = row[dept.datasets[name].primary_key[0]]
                n = _national(dept, name, row)
                if pk in planted:
                    continue
                lb = n[f"{p}_XDR_LB"]
                lbs[lb] += 1
                assert lb in ("法人及非法人组织", "个体工商户", "自然人")
                assert n[f"{p}_XDR_MC"] and n[f"{p}_XDR_MC"] not in ("无", "/", "不详")
                if lb == "自然人":
                    assert n.get(f"{p}_XDR_SHXYM") is None
                    assert _id_ok(n[f"{p}_XDR_ZJHM"]), pk
                    assert n[f"{p}_XDR_ZJLX"] == "身份证"
                else:
                    code = n[f"{p}_XDR_SHXYM"]
                    if code == "00000000000000000X":
                        assert lb == "个体工商户" and n[f"{p}_XDR_GSZC"], pk
                    else:
                        assert _uscc_ok(code), (s.department, name, pk, code)
                        if lb == "个体工商户":
                            assert code.startswith("92")
                    assert n[f"{p}_FRDB"]
                    if n.get(f"{p}_FR_ZJHM"):
                        assert _id_ok(n[f"{p}_FR_ZJHM"])
                jdrq = _date(n[f"{p}_JDRQ"])
                assert jdrq is not None and FIRST_DECISION <= jdrq <= cutoff
                gxsj = row[dept.datasets[name].cursor]
                assert gxsj.date() >= jdrq and gxsj <= UPDATE_CAP
                auth = n[f"{p}_CFJGDM" if name == "cf" else "XK_XKJGDM"]
                assert _uscc_ok(auth) and auth.startswith("11")
                assert n[f"{p}_WSH"]
                if name == "cf":
                    assert n["CF_WFXW"] and n["CF_SY"] and n["CF_YJ"] and n["CF_NR"] and n["CF_CFLB"]
                    if "罚款" in n["CF_CFLB"]:
                        assert n["CF_NR_FK"] and n["CF_NR_FK"] > 0
                        assert f"罚款人民币{yuan(Decimal(str(n['CF_NR_FK'])))}元" in n["CF_NR"]
                    if "没收" in n["CF_CFLB"]:
                        assert n["CF_NR_WFFF"] and n["CF_NR_WFFF"] > 0
                    if "吊销" in n["CF_CFLB"]:
                        assert n["CF_NR_ZKDX"]
                    assert _date(n["CF_YXQ"]) > jdrq  # type: ignore[operator]
                    keys[(n["CF_SJLYDM"], n["CF_WSH"].strip())] += pk not in corrections
                else:
                    assert n["XK_XKLB"] in ("普通", "特许", "认可", "核准", "登记", "其他-备案")
                    assert n["XK_ZT"] in ("1", "2")
                    start, end = _date(n["XK_YXQZ"]), _date(n["XK_YXQZI"])
                    assert start and end and jdrq <= start <= end
                    keys[(n["XK_LYDWDM"], n["XK_WSH"].strip(), n["XK_XKBH"])] += pk not in corrections
            dupes = [k for k, c in keys.items() if c > 1]
            assert not dupes, (s.department, name, dupes[:3])
            assert len(lbs) >= 2, (s.department, name, lbs)


def test_planted_rows_share_and_kinds(demo: tuple[Path, str, list[DemoSource]]) -> None:
    for s in demo[2]:
        dept = _dept(s.department)
        for name in ("cf", "xk"):
            cases = read_cases(s, name)
            by_verdict = Counter(c["verdict"] for c in cases)
            share = by_verdict["bad"] / s.rows[name]
            assert 0.04 <= share <= 0.10, (s.department, name, share)
            assert {c["kind"] for c in cases if c["verdict"] == "bad"} == set(
                defect_kinds(s.department, name))
            assert {c["kind"] for c in cases if c["verdict"] == "fixable"} == {"fullwidth_uscc", "padded_text"}
            # A correction row repeats the 文书号 of an earlier row and comes later in cursor order.
            rows = {r[dept.datasets[name].primary_key[0]]: r for r in _rows(s, name)}
            wsh_col, cursor = dept.datasets[name].columns[f"{name.upper()}_WSH"], dept.datasets[name].cursor
            for c in (c for c in cases if c["verdict"] == "correction"):
                row = rows[c["pk"]]
                earlier = [r for pk, r in rows.items() if pk < c["pk"] and r[wsh_col] == row[wsh_col]]
                assert earlier and all(r[cursor] <= row[cursor] for r in earlier)
            assert by_verdict["correction"] >= 1


def test_string_dates_hold_an_impossible_date(demo: tuple[Path, str, list[DemoSource]]) -> None:
    wsjkw = next(s for s in demo[2] if s.department == "wsjkw")
    bad = {c["pk"] for c in read_cases(wsjkw, "cf") if c["kind"] == "impossible_date"}
    values = {r["CFJDRQ"] for r in _rows(wsjkw, "cf") if r["ID"] in bad}
    assert values and all(v[5:7] == "02" and v[8:] in ("30", "31") for v in values)
    fullwidth = {c["pk"] for c in read_cases(wsjkw, "cf") if c["kind"] == "fullwidth_uscc"}
    assert all(r["TYSHXYDM"][0] == "９" for r in _rows(wsjkw, "cf") if r["ID"] in fullwidth)


def test_deterministic_and_idempotent(demo: tuple[Path, str, list[DemoSource]]) -> None:
    var, prefix, sources = demo
    before = [_digest(s) for s in sources]
    again = create_demo_sources(var, rows=ROWS, seed=SEED, prefix=prefix)
    assert again == sources
    assert [_digest(s) for s in again] == before
    # Pure generation: same seed, same rows (timestamps included); another seed, other rows.
    a = build(SCJGJ, "cf", 200, SEED)
    b = build(SCJGJ, "cf", 200, SEED)
    c = build(SCJGJ, "cf", 200, SEED + 1)
    assert a.rows == b.rows and a.cases == b.cases
    assert a.rows != c.rows


def test_add_changes_then_reset(tmp_path: Path) -> None:
    prefix = f"sgs_t{uuid.uuid4().hex[:8]}_"
    try:
        sources = create_demo_sources(tmp_path, rows=120, seed=SEED, prefix=prefix)
        digests = [_digest(s) for s in sources]
        for s in sources:
            dept = _dept(s.department)
            for name, ds in dept.datasets.items():
                before = {r[ds.primary_key[0]]: r for r in _rows(s, name)}
                old_max = max(r[ds.cursor] for r in before.values())
                add_demo_changes(s, name, new=7, updated=5, seed=99)
                after = {r[ds.primary_key[0]]: r for r in _rows(s, name)}
                assert len(after) == len(before) + 7
                assert max(r[ds.cursor] for r in after.values()) > old_max
                touched = [pk for pk, r in after.items() if r[ds.cursor] > old_max]
                assert len(touched) == 12
                changed = [pk for pk in touched if pk in before]
                assert len(changed) == 5
                assert all(after[pk] != before[pk] for pk in changed)
                assert len({after[pk][ds.cursor] for pk in touched}) == 12  # strictly increasing stamps
                new_rows = [_national(dept, name, after[pk]) for pk in touched if pk not in before]
                wsh = f"{name.upper()}_WSH"
                assert all(n[wsh] for n in new_rows)
                old_wsh = {_national(dept, name, r)[wsh] for r in before.values()}
                assert not {n[wsh] for n in new_rows} & old_wsh
        # Same seed and size: the changed tables are left alone (the demo keeps its history) …
        kept = create_demo_sources(tmp_path, rows=120, seed=SEED, prefix=prefix)
        assert all(k.rows == {"cf": 127, "xk": 127} for k in kept)
        # … another size rebuilds, and reset=True restores the original content exactly.
        resized = create_demo_sources(tmp_path, rows=100, seed=SEED, prefix=prefix)
        assert all(k.rows == {"cf": 100, "xk": 100} for k in resized)
        reset = create_demo_sources(tmp_path, rows=120, seed=SEED, prefix=prefix, reset=True)
        assert all(k.rows == {"cf": 120, "xk": 120} for k in reset)
        assert [_digest(s) for s in reset] == digests
    finally:
        drop_demo_sources(prefix=prefix, var_dir=tmp_path)


def test_fallback_to_sqlite_when_servers_are_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = f"sgs_t{uuid.uuid4().hex[:8]}_"
    started = time.monotonic()
    sources = create_demo_sources(tmp_path, rows=60, prefix=prefix, **CLOSED)
    assert time.monotonic() - started < 10
    assert [(s.kind, s.fallback) for s in sources] == [("sqlite", True), ("sqlite", True), ("sqlite", False)]
    for s in sources:
        assert s.url == f"sqlite:///{tmp_path / 'sources' / (s.department + '.db')}"
        assert s.rows == {"cf": 60, "xk": 60}
    # The environment variables are the other way to point at a server.
    monkeypatch.setenv("SGS_DEMO_MARIADB_URL", CLOSED["mariadb_url"])
    monkeypatch.setenv("SGS_DEMO_PG_URL", CLOSED["postgresql_url"])
    other = tmp_path / "other"
    again = create_demo_sources(other, rows=60, prefix=prefix, departments=["scjgj", "sthjj"])
    assert [(s.kind, s.fallback) for s in again] == [("sqlite", True), ("sqlite", True)]
    # A fallback source takes changes like any other.
    add_demo_changes(again[0], "cf", new=2, updated=1, seed=1)
    assert len(_rows(again[0], "cf")) == 62


def test_unknown_department_is_named() -> None:
    with pytest.raises(KeyError, match="没有演示部门"):
        create_demo_sources(Path("/nonexistent"), departments=["nope"])
