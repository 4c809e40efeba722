"""Airflow's settings for running this project locally (demo, tests): set before Airflow is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.settings import SHANGHAI_NAME, home, var_dir


def configure() -> Path:
    """Point Airflow at this project's DAG folder and an embedded metadata DB in ``var/airflow``.

    Values already in the environment win, so a deployment's own settings are never overridden.
    """
    airflow_home = Path(os.environ.setdefault("AIRFLOW_HOME", str(var_dir() / "airflow")))
    airflow_home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(home() / "dags"))
    os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(home() / "plugins"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__DEFAULT_TIMEZONE", SHANGHAI_NAME)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    # The Airflow CLI and the task runner start `airflow …` sub-processes: the venv's bin must be on PATH.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    return airflow_home


def migrate_metadata_db() -> None:
    """``airflow db migrate`` on the metadata DB (idempotent, a few seconds)."""
    configure()
    airflow = Path(sys.executable).parent / "airflow"
    proc = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, env=os.environ.copy())
    if proc.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def worker_hostname() -> str:
    """Airflow's ``[core] hostname_callable`` in the cluster (scripts/cluster.py).

    Several Celery workers on one machine would all report the same host name in their task instances;
    with ``SGS_WORKER_NAME`` set (the cluster sets it per worker) the name says which worker ran a task.
    Logs are unaffected: the workers of one machine share its log folder, which the api-server reads.
    """
    from airflow.utils.net import getfqdn

    name = os.environ.get("SGS_WORKER_NAME", "").strip()
    return f"{getfqdn()}-{name}" if name else getfqdn()
