"""Peak memory of ``sgs validate`` on large template files (issue 12 item 8).

Run: ``PYTHONPATH=. .venv/bin/python bench/file_memory.py --mb 200``. Writes a CSV of about ``--mb`` MB of valid
行政处罚 rows (Chinese headers, UTF-8) and a small XLSX with one cell in column XFD into a temporary folder, runs
``sgs validate`` on each in a fresh process, and prints the seconds and the peak resident size (``ru_maxrss``)
of that process. ``--old`` also runs the whole-file reader the project had before (pandas ``read_csv`` on the
decoded text, ``read_excel``), for comparison; ``--keep DIR`` keeps the files in DIR.
"""

from __future__ import annotations

import argparse
import csv
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# One process per measurement: the peak resident size of the process that reads the file.
_NEW = """
import resource, sys
from pipeline.cli import app
try:
    app(sys.argv[1:], prog_name="sgs")
finally:
    print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""
_OLD = """
import io, resource, sys
from pathlib import Path
import pandas as pd
import connectors.files, expectations  # the same imports as the CLI
p = Path(sys.argv[1])
try:
    if p.suffix == ".csv":
        pd.read_csv(io.StringIO(p.read_bytes().decode("utf-8-sig")), dtype=str, keep_default_na=False, na_values=[])
    else:
        pd.read_excel(p, dtype=object, engine="openpyxl", keep_default_na=False, na_values=[])
finally:
    print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def write_csv(path: Path, mb: int) -> int:
    from national import dataset
    from tests.factories import national_penalty

    ds = dataset("cf")
    rng = random.Random(7)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f.name_zh for f in ds.fields])
        template = [national_penalty(i, rng) for i in range(1, 1001)]
        while fh.tell() < mb * 1024 * 1024:
            r = dict(template[rows % 1000])
            r["CF_WSH"] = f"杭市监罚决〔2025〕{rows + 1}号"
            w.writerow([r.get(f.code) or "" for f in ds.fields])
            rows += 1
    return rows


def write_xfd_xlsx(path: Path, rows: int = 2000) -> None:
    from openpyxl import Workbook

    from national import dataset
    from tests.factories import national_penalty

    ds = dataset("cf")
    rng = random.Random(7)
    wb = Workbook()
    ws = wb.active
    ws.append([f.name_zh for f in ds.fields])
    for i in range(1, rows + 1):
        r = national_penalty(i, rng)
        ws.append([r.get(f.code) or "" for f in ds.fields])
    ws["XFD1"] = "x"  # one cell in the last column Excel has
    wb.save(path)


def measure(code: str, *args: str) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of one fresh process."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    kb = int(next(line.split()[1] for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KB")))
    return time.monotonic() - started, kb / 1024, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200, help="size of the generated CSV")
    ap.add_argument("--old", action="store_true", help="also measure the former whole-file reader")
    ap.add_argument("--keep", type=Path, help="write the files here and keep them")
    a = ap.parse_args()
    folder = a.keep or Path(tempfile.mkdtemp(prefix="sgs-filemem-"))
    folder.mkdir(parents=True, exist_ok=True)
    big, xfd, small = folder / "big.csv", folder / "xfd.xlsx", folder / "small.csv"
    rows = write_csv(big, a.mb)
    write_csv(small, 1)
    write_xfd_xlsx(xfd)
    print(f"CSV {big.stat().st_size / 1e6:.0f} MB ({rows} rows); XLSX {xfd.stat().st_size / 1e3:.0f} KB with XFD1")
    for label, f in (("small CSV (1 MB)", small), (f"CSV {a.mb} MB", big), ("XLSX with XFD1", xfd)):
        s, mb, rc = measure(_NEW, "validate", "--dataset", "cf", str(f))
        print(f"sgs validate  {label:18} {s:7.1f} s  peak {mb:7.0f} MB  exit {rc}")
        if a.old:
            s, mb, rc = measure(_OLD, str(f))
            print(f"former reader {label:18} {s:7.1f} s  peak {mb:7.0f} MB  (read only, no validation)")


if __name__ == "__main__":
    main()
