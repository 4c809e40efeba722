"""``sgs demo``: demo department databases, then every department's ingest once through Airflow."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from rich.console import Console

from pipeline.settings import SHANGHAI

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from pipeline.config import Department


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

    # The departments' months replayed day by day from the day each joined the platform (its file's
    # timeliness_from): the history entered before is loaded that day as backfill, every later row on the day
    # after it was entered, so that 及时率 measures how fast each department enters its decisions.
    with console.status("回放演示部门接入平台以来的每日同步…"):
        replayed = replay_months(depts, engine)
    if replayed:
        console.print(f"  回放每日同步：{replayed} 次入库运行（接入前的历史决定作为补录入库，不考核及时率）",
                      markup=False, emoji=False)

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
    stats: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in sorted(runs, key=lambda r: (r["department"], r["dataset"], r["id"])):
        # The replayed daily syncs are summed into one line per department dataset; every other run is its own.
        key = (r["department"], r["dataset"], "replay" if r["trigger"] == REPLAY_TRIGGER else str(r["id"]))
        row = stats.setdefault(key, {"department": r["department"], "dataset": r["dataset"], "read": 0, "inserted": 0,
                                     "updated": 0, "unchanged": 0, "quarantined": 0, "status": "success"})
        for out_key, col in (("read", "rows_read"), ("inserted", "inserted"), ("updated", "updated"),
                             ("unchanged", "unchanged"), ("quarantined", "quarantined")):
            row[out_key] += r[col] or 0
        if r["status"] != "success":
            row["status"] = r["status"]
    return list(stats.values())


#: The demo's 县区 unit that reports only by 方式二 (the portal): no department file, no database.
PORTAL_UNIT = "xq_demo"
PORTAL_UNIT_NAME = "盂县市场监督管理局"


def _demo_uscc(n: int, prefix: str = "91") -> str:
    from demo.identities import org_check_char, uscc_check_char

    org = f"PD{n:06d}"
    body = prefix + "140322" + org + org_check_char(org)  # 盂县
    return body + uscc_check_char(body)


def portal_unit_rows(n: int, today: Any) -> dict[str, list[dict[str, str]]]:
    """The 县区 unit's decisions as a clerk would type them: ``n`` per dataset, every tenth one with a problem
    (a credit code with a wrong check character)."""
    import datetime as dt

    authority = _demo_uscc(0, "11")
    out: dict[str, list[dict[str, str]]] = {"xk": [], "cf": []}
    for i in range(1, n + 1):
        code = _demo_uscc(i)
        if i % 10 == 0:
            code = code[:-1] + ("0" if code[-1] != "0" else "1")
        day = (today - dt.timedelta(days=3 + i % 60)).isoformat()
        out["xk"].append({
            "XK_XDR_MC": f"盂县示范{i:03d}商贸有限公司", "XK_XDR_LB": "法人及非法人组织", "XK_XDR_SHXYM": code,
            "XK_FRDB": "赵六", "XK_XKWS": "准予许可决定书", "XK_WSH": f"盂市监许〔{today.year}〕{i}号", "XK_XKLB": "普通",
            "XK_XKZS": "食品经营许可证", "XK_XKBH": f"JY3140322{i:06d}", "XK_NR": "食品销售", "XK_JDRQ": day,
            "XK_YXQZ": day, "XK_YXQZI": (today + dt.timedelta(days=5 * 365)).isoformat(), "XK_XKJG": PORTAL_UNIT_NAME,
            "XK_XKJGDM": authority, "XK_ZT": "1", "XK_LYDW": PORTAL_UNIT_NAME, "XK_LYDWDM": authority,
        })
        out["cf"].append({
            "CF_XDR_MC": f"盂县示范{i:03d}餐饮有限公司", "CF_XDR_LB": "法人及非法人组织", "CF_XDR_SHXYM": code,
            "CF_FRDB": "钱七", "CF_WSH": f"盂市监罚〔{today.year}〕{i}号", "CF_WFXW": "未按规定公示信息",
            "CF_SY": f"经查，当事人未按规定公示食品经营许可信息（第 {i} 号）。", "CF_YJ": "《食品安全法》第一百二十六条",
            "CF_CFLB": "罚款", "CF_NR": "罚款人民币五千元", "CF_NR_FK": "0.5", "CF_JDRQ": day,
            "CF_YXQ": (today + dt.timedelta(days=365)).isoformat(), "CF_CFJG": PORTAL_UNIT_NAME, "CF_CFJGDM": authority,
            "CF_SJLY": PORTAL_UNIT_NAME, "CF_SJLYDM": authority,
        })
    return out


def run_portal_unit(engine: sa.engine.Engine, *, rows: int = 20) -> list[dict[str, Any]]:
    """The 县区 unit's first reports through the portal's intake (what the clerk's form and upload call), once:
    a later demo finds them and shows the counts of that first submission (the results table's shape)."""
    from national.clock import today_shanghai
    from store.schema import ingest_run
    from web.portal.intake import TRIGGER, submit

    out = []
    today = today_shanghai()
    for ds, items in portal_unit_rows(rows, today).items():
        with engine.connect() as conn:
            first = conn.execute(sa.select(ingest_run).where(
                ingest_run.c.department == PORTAL_UNIT, ingest_run.c.dataset == ds, ingest_run.c.trigger == TRIGGER,
            ).order_by(ingest_run.c.id).limit(1)).mappings().first()
        if first is None:
            submit(engine, PORTAL_UNIT, ds, items, today=today)
            with engine.connect() as conn:
                first = conn.execute(sa.select(ingest_run).where(
                    ingest_run.c.department == PORTAL_UNIT, ingest_run.c.dataset == ds, ingest_run.c.trigger == TRIGGER,
                ).order_by(ingest_run.c.id).limit(1)).mappings().one()
        out.append({"department": f"{PORTAL_UNIT}（方式二 在线报送）", "dataset": ds, "read": first["rows_read"],
                    "inserted": first["inserted"], "updated": first["updated"], "unchanged": first["unchanged"],
                    "quarantined": first["quarantined"], "status": first["status"]})
    return out


#: The hour (Beijing time) of the replayed daily sync, and the trigger its runs are recorded with.
REPLAY_HOUR = 20
REPLAY_TRIGGER = "demo-replay"


def replay_steps(start: dt.date, end: dt.date) -> list[dt.datetime]:
    """The replayed syncs: every working day (Monday to Friday) from ``start`` to ``end`` at REPLAY_HOUR."""
    from pipeline.settings import SHANGHAI

    out = []
    d = start
    while d <= end:
        if d.weekday() < 5:
            out.append(dt.datetime.combine(d, dt.time(REPLAY_HOUR), tzinfo=SHANGHAI))
        d += dt.timedelta(days=1)
    return out


def as_entered_by(dept: Department, ds: str, at: dt.datetime) -> Department:
    """The department as its database looked at ``at``: each dataset reads only the rows entered by then (a
    ``query`` over its table, on the cursor column, which the demo tables fill with the entry time)."""
    datasets = {}
    for name, cfg in dept.datasets.items():
        if name == ds:
            assert cfg.table and cfg.cursor  # the demo's departments read tables by an update-time cursor
            local = at.astimezone(SHANGHAI).replace(tzinfo=None)
            table = f"{cfg.db_schema}.{cfg.table}" if cfg.db_schema else cfg.table
            query = f"SELECT * FROM {table} WHERE {cfg.cursor} <= '{local:%Y-%m-%d %H:%M:%S}'"
            cfg = cfg.model_copy(update={"table": None, "db_schema": None, "query": query})
        datasets[name] = cfg
    return dept.model_copy(update={"datasets": datasets})


def replay_months(depts: Mapping[str, Department], engine: Engine) -> int:
    """Replay the demo departments' daily syncs from their ``timeliness_from`` up to the demo data's last entry
    (``demo.decisions.UPDATE_CAP``), each run stamped with its replayed time. Only departments with a database,
    a ``timeliness_from`` and no run yet are replayed (a second ``sgs demo`` finds them done). Returns the
    number of runs."""
    from demo.decisions import UPDATE_CAP
    from pipeline.ingest import ingest
    from store.schema import ingest_run

    with engine.connect() as conn:
        done = {r[0] for r in conn.execute(sa.select(ingest_run.c.department).distinct())}
    todo = {c: d for c, d in depts.items() if d.source is not None and d.timeliness_from is not None and c not in done}
    if not todo:
        return 0
    start = min(d.timeliness_from for d in todo.values() if d.timeliness_from is not None)
    runs = 0
    for at in replay_steps(start, UPDATE_CAP.date()):
        for dept in todo.values():
            assert dept.timeliness_from is not None
            if at.date() < dept.timeliness_from:
                continue  # not connected yet
            for ds in dept.datasets:
                ingest(as_entered_by(dept, ds, at), ds, engine=engine, trigger=REPLAY_TRIGGER,
                       today=at.date(), now=at.astimezone(dt.UTC))
                runs += 1
    return runs
