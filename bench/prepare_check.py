"""Chunk preparation alone: its CPU time per 100,000 rows, and a digest of everything it prepares.

``pipeline.prepare.prepare_chunk`` is pure work (no database), so it can be measured and compared on pages
saved once: ``--capture`` reads the pages of ``bench/ingest.py``'s MariaDB table (built if missing) with the
run's own reader and saves them; every other mode prepares those pages in this process.

    flock /tmp/bench.lock .venv/bin/python bench/prepare_check.py --capture 100000   # once
    .venv/bin/python bench/prepare_check.py --record /tmp/prep_digest.json         # before a change
    .venv/bin/python bench/prepare_check.py --compare /tmp/prep_digest.json        # after it: must be equal
    flock /tmp/bench.lock .venv/bin/python bench/prepare_check.py --time           # CPU s per 100k rows
    flock /tmp/bench.lock .venv/bin/python bench/prepare_check.py --profile        # cProfile, top functions
    SGS_PREP_ROOT=/other/checkout .venv/bin/python bench/prepare_check.py --time    # the same, another commit

The digest covers the bench's pages as read, the same pages made dirty (a third of the rows carry hostile or
rule-breaking values: bad dates and amounts, full-width text, NUL, lone surrogates, long keys, unknown codes,
placeholder credit codes, blanks), and tests/faults/hostile.py's rows; each with the bench's department and
with one that maps a status column, 不予公开 rules and an owner; COPY text and typed values both. Every part of
the :class:`~pipeline.prepare.Chunk` is hashed: records' COPY text or typed values, quarantine rows (raw JSON,
rejected flags, issues), keys, payloads, hashes, statuses, masks, publicity dates, rule counts, positions.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import pickle
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: The checkout whose code is measured (``SGS_PREP_ROOT=/path/to/other/checkout`` compares another commit on the
#: same saved pages).
ROOT = Path(os.environ.get("SGS_PREP_ROOT") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(ROOT))

TODAY = dt.date(2026, 12, 1)
CHUNKS = Path(os.environ.get("SGS_PREP_CHUNKS", "/tmp/sgs_prep_chunks.pkl"))

_EXTRA_YAML = """
    status_column: zt
    revoked_values: [已撤销, " 撤销 "]
    not_public:
      reason: 涉及国家秘密
      categories: [警告]
      flag_column: bgk
      flag_values: ["1", 是]
"""


def _cfg(extra: bool) -> Any:
    sys.path.insert(0, str(ROOT / "bench"))
    import ingest as bench  # bench/ingest.py

    from pipeline.config import load_department

    text = bench.DEPARTMENT.format(authority=bench.authority_code(), chunk_rows=10000)
    if extra:
        text = text.replace('    codes: {CF_XDR_LB: {"1": 法人及非法人组织, "3": 自然人}, CF_CFLB: {"2": 罚款}}',
                            '    codes: {CF_XDR_LB: {"1": 法人及非法人组织, "2": 个体工商户, "3": 自然人}, CF_CFLB: {"1": 警告, "2": 罚款}}')
        text += _EXTRA_YAML
    folder = Path(tempfile.mkdtemp())
    (folder / "bench.yaml").write_text(text, encoding="utf-8")
    os.environ.setdefault("SGS_SRC_BENCH_URL", "mysql://root@127.0.0.1:3306/x")
    return load_department(folder / "bench.yaml").datasets["cf"]


def capture(rows: int) -> None:
    os.environ.setdefault("SGS_BENCH_DB_SUFFIX", "_prep")
    sys.path.insert(0, str(ROOT / "bench"))
    import ingest as bench

    bench.SUFFIX = os.environ["SGS_BENCH_DB_SUFFIX"]
    bench.SOURCE_DB = "sgs_bench_ingest" + bench.SUFFIX
    bench.build_source(rows)
    os.environ["SGS_SRC_BENCH_URL"] = bench.department_url(bench.source_url())
    from connectors.sql import open_source, read_chunks
    from pipeline.config import load_department

    folder = Path(tempfile.mkdtemp())
    dept = load_department(bench._department(folder, 10000))
    src = open_source(dept.source, department=dept.code)
    try:
        chunks = list(read_chunks(src, dept.datasets["cf"], None))
    finally:
        src.dispose()
    CHUNKS.write_bytes(pickle.dumps(chunks, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"{sum(len(c) for c in chunks)} rows in {len(chunks)} chunks → {CHUNKS}")


# --- dirty pages ---------------------------------------------------------------------------------------

_HOSTILE_TEXT = [
    "", " ", "\u3000", None, "罚" * 450, "杭州\x00公司", "\ud800断", "😀𠀀", "\u202e反转\u200f", "ＡＢＣ１２３",
    " 张三 ", "'); DROP TABLE x; --", "\x1b[31m红\x08", "a\tb\nc\\d", "（全角括号）", "Ⅻ①",
]
_HOSTILE = {
    "wsh": [*_HOSTILE_TEXT, "杭市监罚决〔２０２５〕１号", "DUP-1", "DUP-1", "罚" * 500],
    "dsr": _HOSTILE_TEXT,
    "lb": ["1", "2", "3", "9", " 3 ", "３", None, ""],
    "xydm": ["00000000000000000X", "000000000000000000", "91330100ＭＡ2ABCDE1X", "9133 0100 MA2ABCDE", "123",
             "91330100MA2ABCDE1X", None, "", "\ud800" * 18, "91330100-12345678-X"],
    "fddbr": _HOSTILE_TEXT,
    "zjlx": ["身份证", "护照", " 身份证 ", None, "其他"],
    "zjhm": ["330102198001011230", "33010219800101123X", "not-an-id", "３３０１０２", None, "110101200001011234"],
    "wfxw": _HOSTILE_TEXT, "ss": _HOSTILE_TEXT, "yj": _HOSTILE_TEXT, "bz": _HOSTILE_TEXT,
    "cflb": ["1", "2", "3", "罚款;警告", "警告", " 2 ", None, "没收违法所得、罚款"],
    "nr": _HOSTILE_TEXT,
    "fk": ["2000元", "1,000", "-5", "1e999", "NaN", "9" * 40, " 3000 ", "０.５", None, "0", "12345678901234567"],
    "jdrq": ["2025/01/02", "20250103", "2025.01.04", "2025-13-01", "abc", "2025-01-05 10:00:00", "2025-01-06abc",
             "0000-00-00", None, "2099-12-31", "２０２５-０１-０７", "2030-01-01", "1900-01-01"],
    "yxq": ["2025/02/02", "abc", None, "2099-12-31", "2024-01-01"],
    "gsjzq": ["2099-12-31", "2025/03/03", "bad", None, "2026-06-30", "2030-01-01", "2025-01-01"],
}


def dirty(chunk: Any, seed: int, extra: bool) -> Any:
    """The page with a third of its rows given hostile values (object columns of mixed types)."""
    rng = random.Random(seed)
    frame = chunk.frame.copy()
    n = len(frame)
    cols = {c: frame[c].astype(object).tolist() for c in frame.columns}
    for i in range(n):
        if i % 3 == 0:
            for c in rng.sample(sorted(_HOSTILE), rng.randint(1, 4)):
                cols[c][i] = rng.choice(_HOSTILE[c])
    out = pd.DataFrame({c: pd.Series(v, dtype=object) if c in _HOSTILE else frame[c] for c, v in cols.items()})
    if extra:
        out["zt"] = [rng.choice(["已撤销", " 撤销 ", "有效", None, "撤销"]) for _ in range(n)]
        out["bgk"] = [rng.choice(["1", " 是 ", "0", None, 1]) for _ in range(n)]
    return dataclasses.replace(chunk, frame=out)


def _with_status(chunk: Any) -> Any:
    frame = chunk.frame.copy()
    n = len(frame)
    frame["zt"] = ["已撤销" if i % 7 == 0 else "有效" for i in range(n)]
    frame["bgk"] = ["1" if i % 11 == 0 else None for i in range(n)]
    return dataclasses.replace(chunk, frame=frame)


def _hostile_chunk() -> Any:
    from connectors.sql import RawChunk
    from tests.faults.hostile import hostile_rows

    rows, _ = hostile_rows()
    mapping = {"pk": "id", "dsr": "dsr", "lb": "lb", "xydm": "xydm", "fddbr": "fddbr", "zjlx": "zjlx", "zjhm": "zjhm",
               "wfxw": "wfxw", "ss": "ss", "yj": "yj", "cflb": "cflb", "nr": "nr", "fk_yuan": "fk", "jdrq": "jdrq",
               "yxq": "yxq", "bz": "bz", "gxsj": "gxsj", "wsh": "wsh"}
    frame = pd.DataFrame([{mapping[k]: v for k, v in r.items() if k in mapping} for r in rows])
    frame["id"] = range(1, len(frame) + 1)
    frame["gsjzq"] = None
    return RawChunk(frame, positions=[str(i) for i in range(len(frame))], cursor_from="a", cursor_to="b")


# --- the digest ----------------------------------------------------------------------------------------


def _canon(v: Any) -> Any:
    """A JSON-able, type-preserving form of what a chunk holds."""
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return ["float", repr(v)]
    if isinstance(v, bytes):
        return ["bytes", v.hex()]
    if isinstance(v, np.ndarray):
        return ["ndarray", str(v.dtype), [_canon(x) for x in v.tolist()]]
    if isinstance(v, pd.DataFrame):
        return ["frame", list(map(str, v.columns)), [str(i) for i in v.index], [[_canon(x) for x in r] for r in v.astype(object).itertuples(index=False)]]
    if isinstance(v, dict):
        return ["dict", type(v).__name__, [[_canon(k), _canon(x)] for k, x in v.items()]]
    if isinstance(v, list | tuple):
        return [type(v).__name__, [_canon(x) for x in v]]
    if dataclasses.is_dataclass(v):
        return [type(v).__name__, [[f.name, _canon(getattr(v, f.name))] for f in dataclasses.fields(v)]]
    if isinstance(v, dt.date | dt.datetime):
        return [type(v).__name__, v.isoformat()]
    if hasattr(v, "_asdict"):
        return [type(v).__name__, _canon(dict(v._asdict()))]
    return [type(v).__name__, repr(v)]


def _digest(x: Any) -> str:
    text = json.dumps(_canon(x), ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()[:16]


def chunk_digest(chunk: Any) -> dict[str, str]:
    b = chunk.batch
    out = {f.name: _digest(getattr(b, f.name)) for f in dataclasses.fields(b) if f.name != "prepared"}
    p = b.prepared
    out.update({f"prepared.{f.name}": _digest(getattr(p, f.name)) for f in dataclasses.fields(p)})
    # What crosses to the run: the pickled chunk unpickled must hold the same values.
    back = pickle.loads(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
    out["roundtrip"] = _digest([_canon(getattr(back.batch.prepared, f.name)) for f in dataclasses.fields(p)])
    out["seen_rows"], out["after"] = _digest(chunk.seen_rows), _digest(chunk.after)
    return out


def cases(chunks: list[Any], n_chunks: int) -> list[tuple[str, Any, Any, Any, dict[str, bytes] | None]]:
    from pipeline.prepare import Owner

    plain, extra = _cfg(False), _cfg(True)
    owner = Owner(plain.constants["CF_SJLYDM"], "基准测试局")
    out: list[tuple[str, Any, Any, Any, dict[str, bytes] | None]] = []
    for k, c in enumerate(chunks[:n_chunks]):
        out.append((f"bench{k}", c, plain, None, None))
        out.append((f"dirty{k}", dirty(c, k, False), plain, None, None))
        out.append((f"dirty-extra{k}", dirty(c, 100 + k, True), extra, owner, None))
    out.append(("status0", _with_status(chunks[0]), extra, None, None))
    hostile = _hostile_chunk()
    out.append(("hostile", hostile, plain, None, None))
    out.append(("hostile-extra", dataclasses.replace(hostile, frame=hostile.frame.assign(zt="已撤销", bgk="1")), extra, owner, None))
    return out


def digests(chunks: list[Any], n_chunks: int) -> dict[str, dict[str, str]]:
    from pipeline.prepare import prepare_chunk

    out: dict[str, dict[str, str]] = {}
    for name, raw, cfg, owner, seen in cases(chunks, n_chunks):
        for copy in (True, False):
            chunk = prepare_chunk(raw, cfg, "cf", "bench", TODAY, seen, copy, owner=owner)
            out[f"{name}/{'copy' if copy else 'typed'}"] = chunk_digest(chunk)
        if name.startswith(("bench0", "dirty0")):  # a snapshot read: half of the rows seen unchanged
            first = prepare_chunk(raw, cfg, "cf", "bench", TODAY, {}, True)
            seen = {pk: h for pk, h, _ in first.seen_rows[::2]}
            out[f"{name}/snapshot"] = chunk_digest(prepare_chunk(raw, cfg, "cf", "bench", TODAY, seen, True))
    return out


def timing(chunks: list[Any], repeat: int) -> None:
    from pipeline.prepare import prepare_chunk

    cfg = _cfg(False)
    prepare_chunk(chunks[0], cfg, "cf", "bench", TODAY, None, True)  # imports, catalogue
    rows = sum(len(c) for c in chunks)
    best = None
    for _ in range(repeat):
        t0 = time.process_time()
        for c in chunks:
            prepare_chunk(c, cfg, "cf", "bench", TODAY, None, True)
        spent = time.process_time() - t0
        best = spent if best is None else min(best, spent)
    assert best is not None
    dirty_chunks = [dirty(c, k, False) for k, c in enumerate(chunks)]
    t0 = time.process_time()
    for c in dirty_chunks:
        prepare_chunk(c, cfg, "cf", "bench", TODAY, None, True)
    dirty_s = time.process_time() - t0
    print(f"prepare: {rows} rows, best of {repeat}: {best:.2f} CPU s = {best * 100000 / rows:.2f} CPU s per 100k rows"
          f"; dirty (a third of the rows hostile): {dirty_s * 100000 / rows:.2f} CPU s per 100k rows")


def profile(chunks: list[Any], dirty_pages: bool) -> None:
    import cProfile
    import io
    import pstats

    from pipeline.prepare import prepare_chunk

    cfg = _cfg(False)
    if dirty_pages:
        chunks = [dirty(c, k, False) for k, c in enumerate(chunks)]
    prepare_chunk(chunks[0], cfg, "cf", "bench", TODAY, None, True)
    prof = cProfile.Profile()
    prof.enable()
    for c in chunks:
        prepare_chunk(c, cfg, "cf", "bench", TODAY, None, True)
    prof.disable()
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(key).print_stats(45)
        print(out.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--capture", type=int, metavar="ROWS")
    ap.add_argument("--record", type=Path)
    ap.add_argument("--compare", type=Path)
    ap.add_argument("--chunks", type=int, default=2, help="pages of the saved ones in the digest (default 2)")
    ap.add_argument("--time", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--dirty", action="store_true", help="--profile the dirty pages")
    args = ap.parse_args()
    if args.capture:
        capture(args.capture)
        return
    chunks = pickle.loads(CHUNKS.read_bytes())
    if args.time:
        timing(chunks, args.repeat)
    if args.profile:
        profile(chunks, args.dirty)
    if args.record or args.compare:
        got = digests(chunks, args.chunks)
        if args.record:
            args.record.write_text(json.dumps(got, indent=1, sort_keys=True), encoding="utf-8")
            print(f"{len(got)} cases recorded → {args.record}")
        if args.compare:
            want = json.loads(args.compare.read_text(encoding="utf-8"))
            bad = [f"{case}: {part}" for case in sorted(set(want) | set(got))
                   for part in sorted(set(want.get(case, {})) | set(got.get(case, {})))
                   if want.get(case, {}).get(part) != got.get(case, {}).get(part)]
            print("\n".join(bad) if bad else f"identical: {len(got)} cases")
            if bad:
                raise SystemExit(1)


if __name__ == "__main__":
    main()
