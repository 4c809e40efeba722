"""DAG parse benchmark: the ``dags/`` folder with N generated department files (default 200).

Writes N valid department files into a temporary folder (``SGS_DEPARTMENTS_DIR``), then asks Airflow
itself, in a throwaway ``AIRFLOW_HOME``:

- ``airflow dags report -o json`` — Airflow's own DagBag loading statistics: the parse duration of
  each DAG file, the DAGs and tasks it produced;
- ``airflow dags list-import-errors --local -o json`` — must list nothing.

Prints both, plus the wall time of each command (most of which is Airflow's own start-up).

    .venv/bin/python bench/dags_parse.py            # 200 departments
    .venv/bin/python bench/dags_parse.py --departments 500

Target (issue 7): the folder parses in under 5 s with 200 department files, without import errors.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_departments(folder: Path, n: int) -> None:
    """``n`` department files like tests.factories' template, each with both datasets' cursor settings."""
    from bench.ingest import DEPARTMENT, authority_code

    authority = authority_code()
    for i in range(n):
        text = DEPARTMENT.format(authority=authority, chunk_rows=5000).replace("code: bench", f"code: dept{i:03d}")
        text = text.replace("name: 基准测试局", f"name: 第{i}测试局").replace("SGS_SRC_BENCH_URL", f"SGS_SRC_DEPT{i:03d}_URL")
        (folder / f"dept{i:03d}.yaml").write_text(text, encoding="utf-8")


def airflow(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).with_name("airflow")), *args], env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"airflow {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout


def _json_tail(out: str) -> Any:
    """The JSON document at the end of a CLI's output (Airflow may print log lines before it)."""
    start = min((i for i in (out.find("["), out.find("{")) if i >= 0), default=-1)
    return json.loads(out[start:]) if start >= 0 else []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--departments", type=int, default=200)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sgs-dagparse-"))
    deps = work / "departments"
    deps.mkdir()
    write_departments(deps, args.departments)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        "SGS_DEPARTMENTS_DIR": str(deps),
        "SGS_HOME": str(ROOT),
    }
    # The metadata DB must exist for the CLI; its creation is not part of the measurement.
    airflow(["db", "migrate"], env)

    wall_report, out = airflow(["dags", "report", "-o", "json"], env)
    report = _json_tail(out)
    wall_errors, out = airflow(["dags", "list-import-errors", "--local", "-o", "json"], env)
    errors = _json_tail(out)

    print(f"{args.departments} department files in {deps}")
    print("airflow dags report (Airflow's DagBag statistics):")
    total = 0.0
    for row in report:
        duration = row.get("duration")
        secs = _seconds(duration)
        total += secs
        print(f"  {row.get('file')}: {secs:.3f} s, {row.get('dag_num')} DAGs, {row.get('task_num')} tasks")
    print(f"  parse time of the DAG folder: {total:.3f} s (target < 5 s)")
    print(f"airflow dags list-import-errors --local: {len(errors)} import error(s)" + (f": {errors}" if errors else ""))
    print(f"wall time of the commands (Airflow start-up included): report {wall_report:.1f} s, list-import-errors {wall_errors:.1f} s")


def _seconds(duration: Any) -> float:
    """``dags report`` prints durations as ``0:00:01.234567`` (a timedelta) or as seconds."""
    if isinstance(duration, int | float):
        return float(duration)
    text = str(duration)
    if ":" in text:
        h, m, s = text.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    return float(text)


if __name__ == "__main__":
    main()
