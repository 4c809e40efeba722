"""Jinja2 templates of the report and the dashboard pages (Chinese text, inline CSS, no JavaScript).

Kept as Python strings so they ship with the package whatever the packaging's data-file rules are.
All links are relative: the dashboard runs under a URL prefix inside the Airflow UI (and behind proxies).
"""

from __future__ import annotations

BASE_CSS = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", "WenQuanYi Micro Hei", sans-serif; margin: 24px; color: #222;
       font-size: 14px; line-height: 1.5; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-left: 4px solid #2f6fdf;
       padding-left: 8px; } h3 { font-size: 15px; margin: 16px 0 6px; }
.meta { color: #666; font-size: 13px; }
.warning { background: #fff3cd; border: 2px solid #e0a800; color: #6b4e00; padding: 10px 14px; margin: 12px 0;
           font-weight: bold; border-radius: 4px; }
.cards { display: flex; gap: 14px; flex-wrap: wrap; margin: 12px 0; }
.card { border: 1px solid #d9dee7; border-radius: 6px; padding: 10px 16px; min-width: 170px; }
.card .name { color: #555; } .card .value { font-size: 26px; font-weight: bold; } .card .sub { color: #666; font-size: 12px; }
.card.below .value, td.below { color: #c0392b; font-weight: bold; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid #d9dee7; padding: 4px 8px; text-align: right; white-space: nowrap; }
th { background: #eef3fb; text-align: center; } td.text { text-align: left; }
tr.total td { background: #f6f8fb; font-weight: bold; }
.muted { color: #888; } .ok { color: #2a9d5c; } .bad { color: #c0392b; font-weight: bold; }
ul.defs li { margin: 3px 0; color: #444; }
nav a { margin-right: 14px; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
"""

MACROS = """
{% macro indicator_table(rows, columns, link=False) %}
<table class="indicators">
<tr>{% for key, zh in columns.items() %}<th>{{ zh }}</th>{% endfor %}</tr>
{% for r in rows %}
<tr class="{{ 'total' if r.is_total else '' }}" data-department="{{ r.department }}" data-dataset="{{ r.dataset }}">
{% for key in columns %}
  {% if key == 'department_name' %}
  <td class="text">{% if link and r.department != '__city__' and not r.department.startswith('__region__') %}<a href="dept/{{ r.department }}{{ link }}">{{ r.department_name }}</a>{% else %}{{ r.department_name }}{% endif %}</td>
  {% elif key == 'dataset_name' %}<td class="text">{{ r.dataset_name }}</td>
  {% elif key in ('timeliness', 'completeness', 'accuracy') %}<td class="{{ 'below' if r.below[key] else '' }}">{{ r[key] | pct }}</td>
  {% elif key == 'declared_coverage' %}{% if r[key] is none %}<td class="muted" title="本期没有申报决定数">未申报</td>{% else %}<td title="到达 {{ r.declared_received }} 件 / 申报 {{ r.declared }} 件{% if r.undeclared_months %}；{{ r.undeclared_months }} 个月未申报{% endif %}">{{ r[key] | pct }}</td>{% endif %}
  {% elif key == 'declared' %}<td>{{ '' if r[key] is none else r[key] }}</td>
  {% elif key == 'upstream_rejected' %}{% if r[key] is none %}<td class="muted" title="尚无省级平台回执">暂无</td>{% else %}<td title="退回 {{ r.upstream_returned }} 条 / 有回执 {{ r.upstream_answered }} 条">{{ r[key] | pct }}</td>{% endif %}
  {% else %}<td>{{ r[key] }}</td>{% endif %}
{% endfor %}
</tr>
{% endfor %}
</table>
{% endmacro %}

{% macro plain_table(rows, columns, empty='无') %}
{% if rows %}
<table>
<tr>{% for key, zh in columns.items() %}<th>{{ zh }}</th>{% endfor %}</tr>
{% for r in rows %}<tr>{% for key in columns %}<td class="{{ 'text' if r[key] is string else '' }}">{{ r[key] }}</td>{% endfor %}</tr>
{% endfor %}
</table>
{% else %}<p class="muted">{{ empty }}</p>{% endif %}
{% endmacro %}
"""

REPORT_TEMPLATE = """<!DOCTYPE html>
{% from 'macros.html' import indicator_table, plain_table %}
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>{{ BASE_CSS | safe }}</style></head>
<body>
<h1>{{ title }}</h1>
<p class="meta">统计期间 {{ a.period[0] }} 至 {{ a.period[1] }} · 数据截至 {{ as_of }} · 生成于 {{ generated }}
{% if xlsx_name %} · Excel 明细：<a href="{{ xlsx_name }}">{{ xlsx_name }}</a>{% endif %}</p>
{% if warning %}<div class="warning" id="provisional-warning">⚠ {{ warning }}</div>{% endif %}
{% if calendar_warning %}<div class="warning" id="calendar-warning">⚠ {{ calendar_warning }}</div>{% endif %}

<h2>全市概况</h2>
<div class="cards">
{% for c in cards %}
<div class="card {{ 'below' if c.below else '' }}"><div class="name">{{ c.name }}</div>
<div class="value">{{ c.month | pct }}</div>
<div class="sub">年度累计 {{ c.ytd | pct }} · 合格线 {{ c.threshold | pct }}</div></div>
{% endfor %}
<div class="card"><div class="name">本月报送量</div><div class="value">{{ city_month.records | default(0) }}</div>
<div class="sub">入库 {{ city_month.stored | default(0) }} · 逾期 {{ (city_month.late | default(0)) + (city_month.missing | default(0)) }}</div></div>
</div>

<h2>图表</h2>
<div class="charts">
<div>{{ bars | safe }}</div>
<div>{{ trend | safe }}</div>
</div>

<h2>本月各部门指标</h2>
{{ indicator_table(month_rows, columns) }}

<h2>年度累计（1月至{{ a.period[0].month }}月）</h2>
<div>{{ bars_ytd | safe }}</div>
{{ indicator_table(ytd_rows, columns) }}

<h2>本月未报送数据的部门</h2>
{{ plain_table(silent, {'department_name': '部门', 'dataset_name': '数据类别'}, '所有部门本月均有报送。') }}

<h2 id="declarations">申报核对（全面性：部门申报的决定数与到达的记录）</h2>
{{ plain_table(declarations, declaration_columns, '没有需要核对的部门。') }}

<h2 id="uncatalogued">许可事项不在事项目录中的记录</h2>
{% if no_catalogue %}<p class="muted">尚未导入事项目录的部门：{{ no_catalogue | join('、') }}（sgs items）。</p>{% endif %}
<p>本月共 {{ uncatalogued_total }} 条{% if uncatalogued_total > uncatalogued|length %}，下表列出前 {{ uncatalogued|length }} 条，全部记录见 Excel 明细“目录外许可”表{% endif %}。</p>
{{ plain_table(uncatalogued, uncatalogued_columns, '没有目录外的许可记录。') }}

<h2>待整改问题数据（反馈部门）</h2>
{{ plain_table(feedback, feedback_columns, '没有待整改的问题数据。') }}
<h3>主要问题（每个部门、数据类别前 5 条规则）</h3>
{{ plain_table(top_rules, rule_columns, '无') }}

<h2>逾期记录</h2>
<p>本月共 {{ overdue_total }} 条记录逾期{% if overdue_total > overdue|length %}，下表列出前 {{ overdue|length }} 条，全部记录见 Excel 明细“逾期记录”表{% endif %}。</p>
{{ plain_table(overdue, overdue_columns, '本月没有逾期记录。') }}

<h2>口径说明</h2>
<ul class="defs">{% for d in definitions %}<li>{{ d }}</li>{% endfor %}
{% for n in a.notes %}<li>{{ n }}</li>{% endfor %}</ul>
</body></html>
"""

DASHBOARD_TEMPLATE = """<!DOCTYPE html>
{% from 'macros.html' import indicator_table, plain_table %}
<html lang="zh-CN"><head><meta charset="utf-8"><title>双公示考核看板</title>
<style>{{ BASE_CSS | safe }}</style></head>
<body>
<h1>双公示考核看板（{{ a.month }}）</h1>
<form method="get" class="meta">月份
<select name="month">{% for m in months %}<option value="{{ m }}" {{ 'selected' if m == a.month else '' }}>{{ m }}</option>{% endfor %}</select>
<button type="submit">查看</button> · 数据截至 {{ as_of }}
{% if report_link %} · <a href="{{ report_link }}">本月考核报告</a>{% endif %}
{% if quality_index %} · <a href="{{ quality_index }}">数据质量报告</a>{% endif %}
{% if data_docs %} · <a href="{{ data_docs }}">GX 数据文档（Data Docs，审计用）</a>{% endif %}
{% if gx_results %} · <a href="{{ gx_results }}">GX 校验结果一览</a>{% endif %}
</form>
{% if warning %}<div class="warning" id="provisional-warning">⚠ {{ warning }}</div>{% endif %}
{% if calendar_warning %}<div class="warning" id="calendar-warning">⚠ {{ calendar_warning }}</div>{% endif %}
<div class="cards" id="city-cards">
{% for c in cards %}
<div class="card {{ 'below' if c.below else '' }}" data-indicator="{{ c.key }}"><div class="name">{{ c.name }}</div>
<div class="value">{{ c.month | pct }}</div><div class="sub">年度累计 {{ c.ytd | pct }} · 合格线 {{ c.threshold | pct }}</div></div>
{% endfor %}
<div class="card"><div class="name">本月报送量</div><div class="value">{{ city_month.records | default(0) }}</div>
<div class="sub">待整改问题数据 {{ open_items }}</div></div>
</div>
<div class="charts"><div>{{ bars | safe }}</div><div>{{ trend | safe }}</div></div>
<h2>各部门指标（点击部门名称查看详情）</h2>
{{ indicator_table(month_rows, columns, link=month_query) }}
<h2>本月未报送数据的部门</h2>
{{ plain_table(silent, {'department_name': '部门', 'dataset_name': '数据类别'}, '所有部门本月均有报送。') }}
<h2 id="declarations">申报核对（全面性）</h2>
{{ plain_table(declarations, declaration_columns, '没有需要核对的部门。') }}
<h2>待整改问题数据</h2>
{{ plain_table(feedback, feedback_columns, '没有待整改的问题数据。') }}
<h2>报告文件</h2>
{% if files %}<ul>{% for f in files %}<li><a href="files/{{ f }}">{{ f }}</a></li>{% endfor %}</ul>
{% else %}<p class="muted">尚未生成报告（月度报告由 DAG sgs_report_monthly 或命令 sgs report 生成）。</p>{% endif %}
</body></html>
"""

DEPARTMENT_TEMPLATE = """<!DOCTYPE html>
{% from 'macros.html' import indicator_table, plain_table %}
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ name }} · 双公示考核</title>
<style>{{ BASE_CSS | safe }}</style></head>
<body>
<nav><a href="../{{ month_query }}">← 返回看板</a></nav>
<h1>{{ name }}（{{ code }}）· {{ a.month }}</h1>
<p class="meta">数据截至 {{ as_of }}{% if report_link %} · <a href="../{{ report_link }}">本月考核报告</a>{% endif %}
{% for name, href in quality_links %} · <a href="{{ href }}">数据质量报告（{{ name }}）</a>{% endfor %}
{% if data_docs %} · <a href="{{ data_docs }}">GX 数据文档（Data Docs）</a>{% endif %}</p>
{% if warning %}<div class="warning" id="provisional-warning">⚠ {{ warning }}</div>{% endif %}
{% if calendar_warning %}<div class="warning" id="calendar-warning">⚠ {{ calendar_warning }}</div>{% endif %}
<h2>本月指标</h2>
{{ indicator_table(month_rows, columns) }}
<h2>年度累计</h2>
{{ indicator_table(ytd_rows, columns) }}
<div class="charts"><div>{{ trend | safe }}</div></div>
<h2>最近运行</h2>
{{ plain_table(runs, run_columns, '还没有运行记录。') }}
<h2>待整改问题数据</h2>
{{ plain_table(feedback, feedback_columns, '没有待整改的问题数据。') }}
<h3>主要问题规则</h3>
{{ plain_table(top_rules, rule_columns, '无') }}
<h2>本月逾期记录（前 {{ overdue|length }} 条，共 {{ overdue_total }} 条）</h2>
{{ plain_table(overdue, overdue_columns, '本月没有逾期记录。') }}
</body></html>
"""

TEMPLATES = {
    "macros.html": MACROS,
    "report.html": REPORT_TEMPLATE,
    "dashboard.html": DASHBOARD_TEMPLATE,
    "department.html": DEPARTMENT_TEMPLATE,
}
