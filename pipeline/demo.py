"""``sgs demo``: demo department databases, then every department's ingest once through Airflow."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from typing import Any

import sqlalchemy as sa
from rich.console import Console


def run_demo(*, rows: int, reset: bool, console: Console) -> list[dict[str, Any]]:
    """Create (or reuse) the demo sources, run ``dag.test()`` for every department DAG, and return the
    statistics of the runs it made, read back from the central store."""
    from pipeline import airflow_env

    airflow_env.configure()  # before anything imports Airflow
    from demo import create_demo_sources
    from pipeline.config import load_departments
    from pipeline.settings import store_engine, var_dir
    from store.schema import ingest_run

    depts = load_departments()
    # An unusable central store stops the demo here (StoreUnavailable: one line from the CLI), before any
    # demo database is created.
    engine = store_engine()
    prefix = os.environ.get("SGS_DEMO_PREFIX", "sgs_demo_")
    with console.status("创建演示部门数据库…"):
        sources = create_demo_sources(var_dir(), rows=rows, reset=reset, prefix=prefix)
    for s in sources:
        dept = depts.get(s.department)
        if dept is None or dept.source is None or not dept.source.url_env:
            continue
        # The demo decides where its databases live (a server, or a SQLite file when the server is down):
        # point the department's URL variable there for this process and the Airflow tasks it runs. The
        # department files name no server (a file's url: is a SQLite file only), so this is the only way the
        # demo's scjgj/sthjj reach theirs. Set even when the variable is already set: a value left from an
        # earlier shell may name another prefix's database or a server that is down now.
        os.environ[dept.source.url_env] = s.url
        where = f"{s.kind}（服务器不可用，改用 SQLite 文件）" if s.fallback else s.kind
        # The name comes from a department file: plain text, never rich markup.
        console.print(f"  {dept.name}（{dept.code}）：{where}，{sum(s.rows.values())} 行", markup=False, emoji=False)

    with engine.connect() as conn:
        last_id = conn.execute(sa.select(sa.func.max(ingest_run.c.id))).scalar() or 0

    with console.status("准备 Airflow 元数据库…"):
        airflow_env.migrate_metadata_db()

    from airflow.dag_processing.dagbag import DagBag

    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG 导入错误：{bag.import_errors}")
    logging.getLogger("airflow").setLevel(logging.WARNING)
    for code in [c for c, d in depts.items() if d.source is not None]:
        dag = bag.dags.get(f"sgs_ingest_{code}")
        if dag is None:
            raise RuntimeError(f"没有找到部门 {code} 的 DAG sgs_ingest_{code}")
        with console.status(f"Airflow 运行 {dag.dag_id}…"):
            with contextlib.redirect_stdout(quiet):
                dr = dag.test()
        state = str(getattr(dr, "state", "unknown"))
        console.print(f"  {dag.dag_id}: {state}", markup=False, emoji=False)

    file_only = [d for d in depts.values() if d.source is None]
    if file_only:
        # 方式三: a department without a database drops a file into its inbox; the sgs_inbox DAG takes it (the
        # same file again on a second demo run: recognised by its hash, not loaded twice).
        from demo.inbox import CODE, drop_penalty_file
        from pipeline.inbox import inbox_folder

        for dept in file_only:
            if dept.code == CODE:
                path = drop_penalty_file(inbox_folder(dept))
                console.print(f"  {dept.name}（{dept.code}）：收件箱文件 {path}", markup=False, emoji=False)
        dag = bag.dags["sgs_inbox"]
        with console.status("Airflow 运行 sgs_inbox（文件报送）…"):
            with contextlib.redirect_stdout(quiet):
                dr = dag.test()
        console.print(f"  sgs_inbox: {getattr(dr, 'state', 'unknown')}", markup=False, emoji=False)

    with engine.connect() as conn:
        runs = conn.execute(
            sa.select(ingest_run).where(ingest_run.c.id > last_id).order_by(ingest_run.c.id)
        ).mappings().all()
    return [
        {
            "department": r["department"],
            "dataset": r["dataset"],
            "read": r["rows_read"],
            "inserted": r["inserted"],
            "updated": r["updated"],
            "unchanged": r["unchanged"],
            "quarantined": r["quarantined"],
            "status": r["status"],
        }
        for r in sorted(runs, key=lambda r: (r["department"], r["dataset"]))
    ]
