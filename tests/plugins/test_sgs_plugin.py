"""The Airflow plugin: Airflow's own plugin manager loads it from plugins/, and Airflow's API server app
serves the dashboard it registers. Runs in a subprocess: the plugin manager caches what it loaded per
process, and the check must see a fresh Airflow, configured only through the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys
from airflow import plugins_manager as pm
plugins, errors = pm._get_plugins()
heavy_after_load = sorted(m for m in ("pandas", "openpyxl", "reports.indicators", "pipeline.ingest") if m in sys.modules)
apps, _ = pm.get_fastapi_plugins()
views, react = pm._get_ui_plugins()
from airflow.api_fastapi.app import create_app
from fastapi.testclient import TestClient
client = TestClient(create_app())
health = client.get("/sgs/health")
page = client.get("/sgs/")
print("RESULT:" + json.dumps({
    "plugins": [p.name for p in plugins],
    "errors": {str(k): str(v) for k, v in errors.items()},
    "heavy_after_load": heavy_after_load,
    "apps": [{"name": a["name"], "url_prefix": a["url_prefix"], "type": type(a["app"]).__name__} for a in apps],
    "views": views,
    "health": health.status_code,
    "page": page.status_code,
    "page_has_title": "双公示考核看板" in page.text,
}, ensure_ascii=False))
"""


def test_airflow_loads_the_plugin_and_serves_the_dashboard(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "SGS_VAR_DIR": str(tmp_path / "var"),
        "SGS_DEPARTMENTS_DIR": str(ROOT / "departments"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("SGS_STORE_URL", None)
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT:"))
    result = json.loads(line.removeprefix("RESULT:"))
    assert "sgs" in result["plugins"] and result["errors"] == {}
    # Registering the plugin imports no pandas and opens no database: the app is built on its first request.
    assert result["heavy_after_load"] == []
    assert {"name": "双公示考核看板", "url_prefix": "/sgs", "type": "LazyASGIApp"} in result["apps"]
    (view,) = [v for v in result["views"] if v["name"] == "双公示"]
    assert view["url_route"] == "sgs" and view["destination"] == "nav" and not view["href"].startswith("/")
    assert (result["health"], result["page"], result["page_has_title"]) == (200, 200, True)


def test_plugin_class_only_registers() -> None:
    """The plugin module holds no logic: a class with names and three one-line wiring functions."""
    import ast

    tree = ast.parse((ROOT / "plugins" / "sgs_plugin.py").read_text(encoding="utf-8"))
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    assert [c.name for c in classes] == ["SgsPlugin"]
    assert not [n for n in classes[0].body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert all(len(f.body) <= 3 for f in funcs)  # an import and a return (plus a docstring at most)
