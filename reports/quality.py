"""Data-quality reports for auditors: a GX validation result per ingest run, and HTML pages per department
and dataset (数据质量报告), self-contained (no CDN: the platform's network is closed), in Chinese.

The caller names the folder (the facade passes ``pipeline.settings.quality_dir()``, ``<var>/quality/``) and
the departments (``reports`` does not import ``pipeline``). Layout of the folder::

    index.html                         every department and dataset, latest run, pass rate
    <department>/<dataset>.html        latest run's failing rules, open 问题数据 by rule, recent runs
    <department>/<dataset>/results/<run_id>.json   the GX ExpectationSuiteValidationResult of each run

With ``gx_root`` (the var folder; the facade passes it), each run's result is also saved in the auditors' GX
project ``<var>/gx`` and GX's own Data Docs are rebuilt (:mod:`reports.gx_project`); the pages link to them
(``../gx/uncommitted/data_docs/local_site/index.html`` from the index, the same relative path the dashboard
serves).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from sqlalchemy.engine import Engine

from national import dataset as national_dataset
from national.clock import local_text
from national.safety import private_dir, write_private
from store.queries import department_runs, ingest_run_row, quarantine_counts, record_count

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:24px;color:#1f2937;background:#f8fafc}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-left:4px solid #2563eb;padding-left:8px}
.sub{color:#6b7280;margin-bottom:16px} table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #e5e7eb;padding:6px 8px;text-align:left;font-size:13px;vertical-align:top}
th{background:#eff6ff} td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:12px;flex-wrap:wrap} .card{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:22px} .bad{color:#b91c1c} .ok{color:#15803d} .warn{color:#b45309}
.bar{background:#e5e7eb;height:10px;border-radius:5px;min-width:120px} .bar span{display:block;height:10px;border-radius:5px;background:#16a34a}
a{color:#1d4ed8;text-decoration:none}
"""

DATASET_PAGE = _env.from_string(
    """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{ dept.name }} {{ ds.name_zh }} 数据质量报告</title>
<style>{{ css }}</style></head><body>
<p><a href="../index.html">← 全部部门</a></p>
<h1>{{ dept.name }} · {{ ds.name_zh }}数据质量报告</h1>
<div class="sub">部门代码 {{ dept.code }} · 生成时间 {{ generated }} · 校验规则 {{ n_rules }} 条（国家《双公示》数据标准）{% if data_docs %} · <a href="{{ data_docs }}">GX 数据文档（Data Docs，审计用）</a>{% endif %}</div>
{% if last %}
<div class="cards">
 <div class="card">最近一次运行<b>#{{ last.id }}</b>{{ last.started }}</div>
 <div class="card">读取<b>{{ last.rows_read }}</b>行</div>
 <div class="card">合格入库<b class="ok">{{ last.inserted + last.updated + last.unchanged }}</b>新增 {{ last.inserted }} · 更新 {{ last.updated }} · 未变 {{ last.unchanged }}</div>
 <div class="card">隔离（问题数据）<b class="bad">{{ last.quarantined }}</b>提示 {{ last.warnings }}</div>
 <div class="card">中心库记录<b>{{ records }}</b>待处理问题数据 {{ open_rows }}</div>
</div>
<h2>最近一次运行未通过的规则</h2>
{% if failing %}<table><tr><th>规则</th><th>字段</th><th>级别</th><th>行数</th><th>占比</th><th>说明</th></tr>
{% for r in failing %}<tr><td>{{ r.id }}</td><td>{{ r.field_zh }}<br><small>{{ r.field }}</small></td>
<td class="{{ 'bad' if r.severity == 'error' else 'warn' }}">{{ '错误' if r.severity == 'error' else '提示' }}</td>
<td class="n">{{ r.count }}</td><td class="n">{{ '%.2f' % r.pct }}%</td><td>{{ r.message }}</td></tr>{% endfor %}
</table>{% else %}<p class="ok">全部规则通过。</p>{% endif %}
{% else %}<p>尚未运行。</p>{% endif %}
<h2>待处理问题数据（按规则）</h2>
{% if open_by_rule %}<table><tr><th>规则</th><th>字段</th><th>行数</th><th>说明</th></tr>
{% for r in open_by_rule %}<tr><td>{{ r.id }}</td><td>{{ r.field_zh }}</td><td class="n">{{ r.rows }}</td><td>{{ r.message }}</td></tr>{% endfor %}
</table>{% else %}<p class="ok">没有待处理的问题数据。</p>{% endif %}
<h2>近期运行</h2>
<table><tr><th>运行</th><th>开始时间</th><th>状态</th><th>读取</th><th>新增</th><th>更新</th><th>未变</th><th>隔离</th><th>合格率</th><th>GX 校验结果</th></tr>
{% for r in runs %}<tr><td>#{{ r.id }}</td><td>{{ r.started }}</td><td>{{ r.status }}</td><td class="n">{{ r.rows_read }}</td>
<td class="n">{{ r.inserted }}</td><td class="n">{{ r.updated }}</td><td class="n">{{ r.unchanged }}</td><td class="n">{{ r.quarantined }}</td>
<td><div class="bar" title="{{ '%.1f' % r.pass_pct }}%"><span style="width:{{ '%.1f' % r.pass_pct }}%"></span></div>{{ '%.1f' % r.pass_pct }}%</td>
<td>{% if r.result %}<a href="{{ r.result }}">JSON</a>{% endif %}</td></tr>{% endfor %}
</table>
<p class="sub">说明：合格率 = 未被隔离的行 ÷ 读取行数。问题数据的原始值不在本报告中显示；部门可通过“问题数据反馈”表格（sgs quarantine export）获取并更正。</p>
</body></html>"""
)

INDEX_PAGE = _env.from_string(
    """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>双公示数据质量报告</title><style>{{ css }}</style></head><body>
<h1>双公示数据质量报告</h1><div class="sub">生成时间 {{ generated }}{% if data_docs %} · <a href="{{ data_docs }}">GX 数据文档（Data Docs，审计用：每次归集和每次 sgs audit 的校验结果）</a> · <a href="gx.html">GX 校验结果一览</a>{% endif %}</div>
<table><tr><th>部门</th><th>数据集</th><th>最近运行</th><th>读取</th><th>隔离</th><th>合格率</th><th>中心库记录</th><th>待处理问题数据</th></tr>
{% for r in rows %}<tr><td><a href="{{ r.href }}">{{ r.name }}</a><br><small>{{ r.code }}</small></td><td>{{ r.ds_zh }}</td>
<td>{{ r.started or '尚未运行' }}</td><td class="n">{{ r.rows_read }}</td><td class="n">{{ r.quarantined }}</td>
<td><div class="bar"><span style="width:{{ '%.1f' % r.pass_pct }}%"></span></div>{{ '%.1f' % r.pass_pct }}%</td>
<td class="n">{{ r.records }}</td><td class="n">{{ r.open_rows }}</td></tr>{% endfor %}
</table></body></html>"""
)


def write_run_result(out: Path, department: str, dataset: str, run_id: int, *, rows: int,
                     rule_failures: dict[str, int], gx_root: Path | None = None) -> Path:
    """Leave the run's GX validation result as JSON beside the department's report page in ``out``; like
    everything below ``out``, owner-only (folders 0700, files 0600). With ``gx_root``, save it in the GX
    project there too and rebuild its Data Docs pages."""
    from expectations.results import validation_result

    now = dt.datetime.now(dt.UTC)
    result = validation_result(
        dataset,
        rows=rows,
        rule_failures=rule_failures,
        run_name=f"{department}-{dataset}-{run_id}",
        run_time=now,
        batch={"department": department, "dataset": dataset, "ingest_run": run_id},
    )
    path = private_dir(out) / department / dataset / "results" / f"{run_id}.json"
    private_dir(path.parent)
    written = write_private(path, json.dumps(result.to_json_dict(), ensure_ascii=False, indent=1))
    if gx_root is not None:
        from reports.gx_project import save_run_result

        save_run_result(gx_root, result, department=department, dataset=dataset, run_id=run_id, run_time=now)
    return written


def _data_docs_link(out: Path, depth: int) -> str | None:
    """The relative link from a page ``depth`` folders below ``out`` to GX's Data Docs index, when it exists
    (``out`` is ``<var>/quality``, the Data Docs are in ``<var>/gx``)."""
    from reports.gx_project import DOCS_SUBPATH, GX_FOLDER, docs_index

    if not docs_index(out.parent).is_file():
        return None
    return "../" * (depth + 1) + f"{GX_FOLDER}/{DOCS_SUBPATH.as_posix()}/index.html"


def build_quality_docs(engine: Engine, departments: dict[str, Any], *, out: Path, history: int = 20) -> Path:
    """Render every department and dataset page and the index into ``out``; returns the index path."""
    import expectations

    out = private_dir(out)
    generated = local_text(dt.datetime.now(dt.UTC))
    rules = {ds: {r.id: r for r in expectations.catalogue(ds)} for ds in ("cf", "xk")}
    open_counts = quarantine_counts(engine)
    index_rows = []
    for code, dept in sorted(departments.items()):
        for ds_name in dept.datasets or ("cf", "xk"):  # a department reporting only by file declares none
            ds = national_dataset(ds_name)
            names = ds.chinese_names
            runs = department_runs(engine, code, ds_name, history)
            records = record_count(engine, code, ds_name)
            view_runs = []
            for r in runs:
                result = out / code / ds_name / "results" / f"{r['id']}.json"
                view_runs.append(
                    {
                        **dict(r),
                        "started": local_text(r["started_at"]),
                        "pass_pct": 100.0 * (r["rows_read"] - r["quarantined"]) / r["rows_read"] if r["rows_read"] else 100.0,
                        "result": f"{ds_name}/results/{r['id']}.json" if result.exists() else None,
                    }
                )
            # The latest run that brought something (not a look-back re-read of a few rows), else the latest.
            last = next(
                (
                    r
                    for r in view_runs
                    if r["status"] == "success"
                    and (r["inserted"] + r["updated"] > 0 or r["watermark_to"] != r["watermark_from"])
                ),
                next((r for r in view_runs if r["status"] == "success"), None),
            )
            failing = []
            if last:
                for rule_id, n in sorted(json.loads(last["rule_failures"] or "{}").items(), key=lambda kv: -kv[1]):
                    rule = rules[ds_name].get(rule_id)
                    if not n:
                        continue
                    field = rule.field if rule else ""
                    failing.append(
                        {
                            "id": rule_id,
                            "field": field,
                            "field_zh": names.get(field, field),
                            "severity": rule.severity if rule else "error",
                            "count": n,
                            "pct": 100.0 * n / last["rows_read"] if last["rows_read"] else 0.0,
                            "message": rule.message if rule else "",
                        }
                    )
            open_by_rule = []
            open_rows = 0
            for c in open_counts:
                if c["department"] == code and c["dataset"] == ds_name:
                    open_rows = c["open_rows"]
                    rule = rules[ds_name].get(c["rule"])
                    field = rule.field if rule else ""
                    open_by_rule.append(
                        {"id": c["rule"], "field_zh": names.get(field, field or "—"), "rows": c["rows"], "message": rule.message if rule else ""}
                    )
            page = out / code / f"{ds_name}.html"
            private_dir(page.parent)
            write_private(
                page,
                DATASET_PAGE.render(
                    css=CSS, dept=dept, ds=ds, generated=generated, n_rules=len(rules[ds_name]), last=last,
                    failing=failing, open_by_rule=open_by_rule, open_rows=open_rows, runs=view_runs, records=records,
                    data_docs=_data_docs_link(out, 1),
                ),
            )
            index_rows.append(
                {
                    "href": f"{code}/{ds_name}.html",
                    "name": dept.name,
                    "code": code,
                    "ds_zh": ds.name_zh,
                    "started": last["started"] if last else None,
                    "rows_read": last["rows_read"] if last else 0,
                    "quarantined": last["quarantined"] if last else 0,
                    "pass_pct": last["pass_pct"] if last else 100.0,
                    "records": records,
                    "open_rows": open_rows,
                }
            )
    index = out / "index.html"
    write_private(index, INDEX_PAGE.render(css=CSS, rows=index_rows, generated=generated, data_docs=_data_docs_link(out, 0)))
    return index


def publish_run(engine: Engine, run_id: int, *, departments: dict[str, Any], out: Path,
                gx_root: Path | None = None) -> Path:
    """After a run: its GX result (in ``out``, and in the GX project of ``gx_root`` with its Data Docs), then
    the pages of ``departments`` and the index, in ``out``. Returns the index path."""
    run = ingest_run_row(engine, run_id)
    write_run_result(
        out, run["department"], run["dataset"], run_id, rows=run["rows_read"],
        rule_failures=json.loads(run["rule_failures"] or "{}"), gx_root=gx_root,
    )
    return build_quality_docs(engine, departments, out=out)
