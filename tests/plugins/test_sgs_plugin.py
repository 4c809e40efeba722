"""The Airflow plugin: Airflow's own plugin manager loads it from plugins/, and Airflow's API server app
(``airflow.api_fastapi.app.create_app``, simple auth manager, a migrated metadata DB) serves the dashboard it
registers, only to logged-in users. Runs in a subprocess: the plugin manager caches what it loaded per process,
and the check must see a fresh Airflow, configured only through the environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.plugins.test_dashboard_browser import PASSWORD, USER, airflow_env

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import datetime, json, re, sys
import jwt
from airflow import plugins_manager as pm
plugins, errors = pm._get_plugins()
heavy_after_load = sorted(m for m in ("pandas", "openpyxl", "reports.indicators", "reports.airflow_auth",
                                      "pipeline.ingest") if m in sys.modules)
apps, _ = pm.get_fastapi_plugins()
views, react = pm._get_ui_plugins()
from airflow.api_fastapi.app import create_app, get_auth_manager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

client = TestClient(create_app())
USER, PASSWORD = sys.argv[1], sys.argv[2]


def get(path, token=None, cookie=None, html=False):
    client.cookies.clear()
    headers = {"Accept": "text/html"} if html else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers["Cookie"] = f"_token={cookie}"
    r = client.get(path, headers=headers, follow_redirects=False)
    return {"status": r.status_code, "location": r.headers.get("location"), "title": "双公示考核看板" in r.text,
            "detail": r.json().get("detail") if r.headers.get("content-type") == "application/json" else None}


out = {}
out["anon_before_build"] = get("/sgs/")  # the first request builds the lazy app: refused already
(lazy,) = [a["app"] for a in apps if a["url_prefix"] == "/sgs"]
paths = sorted("/sgs" + re.sub(r"\{[^}]+\}", "aaa", r.path) for r in lazy.app.routes if isinstance(r, APIRoute))
out["routes"] = paths
out["anon"] = {p: get(p)["status"] for p in paths}
out["anon_api_v2"] = get("/api/v2/dags")["status"]
out["anon_page"] = get("/sgs/dept/aaa?month=2025-03", html=True)
out["anon_api_html"] = get("/sgs/api/indicators", html=True)["status"]
if out["anon_page"]["location"]:  # Airflow's own step: /api/v2/auth/login hands over to the auth manager's page
    out["login_redirect"] = client.get(out["anon_page"]["location"], follow_redirects=False).headers.get("location")

token = client.post("/auth/token", json={"username": USER, "password": PASSWORD}).json()["access_token"]
out["bad_password"] = client.post("/auth/token", json={"username": USER, "password": "x" + PASSWORD}).status_code
out["bearer"] = {p: get(p, token=token)["status"] for p in ("/sgs/", "/sgs/health", "/sgs/api/indicators")}
out["bearer_page"] = get("/sgs/", token=token)
out["cookie_page"] = get("/sgs/", cookie=token, html=True)

claims = jwt.decode(token, options={"verify_signature": False})
header = jwt.get_unverified_header(token)
forged = jwt.encode(claims, "not-the-secret", algorithm=header["alg"], headers={"kid": header.get("kid")})
h, p, s = token.split(".")
admin = jwt.utils.base64url_encode(json.dumps({**claims, "role": "admin"}).encode()).decode()
tampered = f"{h}.{admin}.{s}"
unsigned = jwt.encode(claims, None, algorithm="none")
am = get_auth_manager()
expired = am.generate_jwt(SimpleAuthManagerUser(username=USER, role="viewer"), expiration_time_in_seconds=-3600)
roleless = am.generate_jwt(SimpleAuthManagerUser(username="nobody", role=None))
for name, bad in (("forged", forged), ("tampered", tampered), ("unsigned", unsigned), ("expired", expired),
                  ("garbage", "abc.def.ghi")):
    out[name] = get("/sgs/api/indicators", token=bad)
    out[name + "_cookie_page"] = get("/sgs/", cookie=bad, html=True)
out["roleless"] = get("/sgs/api/indicators", token=roleless)
out["roleless_page"] = get("/sgs/", cookie=roleless, html=True)

print("RESULT:" + json.dumps({
    "plugins": [p.name for p in plugins],
    "errors": {str(k): str(v) for k, v in errors.items()},
    "heavy_after_load": heavy_after_load,
    "apps": [{"name": a["name"], "url_prefix": a["url_prefix"], "type": type(a["app"]).__name__} for a in apps],
    "views": views,
    **out,
}, ensure_ascii=False))
"""


def test_airflow_serves_the_dashboard_to_logged_in_users_only(tmp_path: Path) -> None:
    env = airflow_env(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", ROOT / "departments")
    airflow = str(Path(sys.executable).parent / "airflow")
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    out = subprocess.run([sys.executable, "-c", PROBE, USER, PASSWORD], capture_output=True, text=True, env=env,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT:"))
    r = json.loads(line.removeprefix("RESULT:"))
    assert "sgs" in r["plugins"] and r["errors"] == {}
    # Registering the plugin imports no pandas and opens no database: the app is built on its first request.
    assert r["heavy_after_load"] == []
    assert {"name": "双公示考核看板", "url_prefix": "/sgs", "type": "LazyASGIApp"} in r["apps"]
    (view,) = [v for v in r["views"] if v["name"] == "双公示"]
    assert view["url_route"] == "sgs" and view["destination"] == "nav" and not view["href"].startswith("/")

    # Anonymous: every route of the app the plugin mounts answers 401, like Airflow's own API.
    assert r["anon_before_build"]["status"] == 401 and not r["anon_before_build"]["title"]
    assert {"/sgs/", "/sgs/dept/aaa", "/sgs/api/indicators", "/sgs/files/aaa", "/sgs/quality/aaa", "/sgs/health"} <= set(r["routes"])
    assert r["anon"] == dict.fromkeys(r["routes"], 401)
    assert r["anon_api_v2"] == 401
    # A browser asking for a page goes to Airflow's login, which comes back to the page; the JSON route does not.
    assert r["anon_page"]["status"] == 307
    assert r["anon_page"]["location"] == "/api/v2/auth/login?next=%2Fsgs%2Fdept%2Faaa%3Fmonth%3D2025-03"
    assert r["login_redirect"] == "/auth/login?next=%2Fsgs%2Fdept%2Faaa%3Fmonth%3D2025-03"
    assert r["anon_api_html"] == 401

    # A token from POST /auth/token, as a Bearer header or as the UI's `_token` cookie: the pages.
    assert r["bad_password"] == 401
    assert r["bearer"] == {"/sgs/": 200, "/sgs/health": 200, "/sgs/api/indicators": 200}
    assert r["bearer_page"]["title"] and r["cookie_page"]["status"] == 200 and r["cookie_page"]["title"]

    # Anything else is refused, with Airflow's own status codes (403 for a token that is not Airflow's).
    for name in ("forged", "tampered", "unsigned", "garbage"):
        assert r[name]["status"] == 403 and "令牌无效" in r[name]["detail"], (name, r[name])
    assert r["expired"]["status"] == 401 and "令牌无效或已过期" in r["expired"]["detail"]
    for name in ("forged", "tampered", "unsigned", "expired", "garbage"):
        page = r[name + "_cookie_page"]
        assert page["status"] == 307 and page["location"].startswith("/api/v2/auth/login?next="), (name, page)
    # A valid user without read access to DAGs: 403, also for a page (a redirect to the login would loop).
    assert r["roleless"]["status"] == 403 and "无权查看" in r["roleless"]["detail"]
    assert r["roleless_page"]["status"] == 403 and not r["roleless_page"]["title"]


def test_plugin_class_only_registers() -> None:
    """The plugin module holds no logic: a class with names and one-line wiring functions (imports, a return)."""
    import ast

    tree = ast.parse((ROOT / "plugins" / "sgs_plugin.py").read_text(encoding="utf-8"))
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    assert [c.name for c in classes] == ["SgsPlugin"]
    assert not [n for n in classes[0].body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert all(len(f.body) <= 3 for f in funcs)  # imports and a return (plus a docstring at most)
    # The only app the plugin builds is the one behind Airflow's login.
    (dashboard,) = [f for f in funcs if f.name == "_dashboard"]
    (call,) = [n for n in ast.walk(dashboard) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "create_app"]
    assert [(k.arg, getattr(k.value, "id", None)) for k in call.keywords if k.arg == "auth"] == [("auth", "airflow_user")]
