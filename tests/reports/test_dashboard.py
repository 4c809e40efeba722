"""The dashboard app (``reports.dashboard``) through FastAPI's test client: pages, JSON, files, errors, and the
``auth`` dependency in front of every route. Airflow's own login (``reports.airflow_auth``) is tested through
Airflow in tests/plugins; here a test login stands in for it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from reports.asgi import LazyASGIApp
from reports.dashboard import create_app
from reports.settings import ReportSettings
from tests.reports.scenario import DEPTS, SECRET_ID, build_scenario

LOGIN = {"X-Test-User": "auditor"}


def _test_login(request: Request) -> str:
    """Stands in for Airflow's login: a request is admitted with the test header only."""
    user = request.headers.get("X-Test-User")
    if not user:
        raise HTTPException(status_code=401, detail="未登录")
    return user


@pytest.fixture
def app(sqlite_store: Engine, tmp_path: Path) -> FastAPI:
    build_scenario(sqlite_store)
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "sgs-assessment-2025-03.html").write_text("<p>report</p>", encoding="utf-8")
    quality = tmp_path / "quality"
    (quality / "aaa").mkdir(parents=True)
    (quality / "index.html").write_text("<p>全部部门</p>", encoding="utf-8")
    (quality / "aaa" / "cf.html").write_text("<p>质量</p>", encoding="utf-8")
    (quality / "gx.html").write_text("<p>GX 校验结果一览</p>", encoding="utf-8")
    (tmp_path / "secret.html").write_text("no", encoding="utf-8")
    docs = tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site"  # as reports.gx_project lays it out
    (docs / "validations" / "sgs_cf" / "qju-cf-1" / "20250301T000000.000000Z").mkdir(parents=True)
    (docs / "static" / "styles").mkdir(parents=True)
    (docs / "index.html").write_text("<p>Data Docs</p>", encoding="utf-8")
    (docs / "validations" / "sgs_cf" / "qju-cf-1" / "20250301T000000.000000Z" / "ingest-qju-cf.html").write_text(
        "<p>run</p>", encoding="utf-8")
    (docs / "static" / "styles" / "data_docs_default_styles.css").write_text("p{}", encoding="utf-8")
    (docs / "notes.txt").write_text("no", encoding="utf-8")
    (tmp_path / "gx" / "great_expectations.yml").write_text("no", encoding="utf-8")
    return create_app(lambda: sqlite_store, auth=_test_login, departments=lambda: DEPTS, reports_dir=lambda: reports,
                      quality_dir=lambda: quality, data_docs_dir=lambda: docs, settings=ReportSettings())


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, headers=LOGIN)


def test_every_route_is_behind_the_auth_dependency(app: FastAPI) -> None:
    """The dependency is applied to the app, not route by route: a route added later cannot forget it."""
    paths = [re.sub(r"\{[^}]+\}", "aaa", r.path) for r in app.routes if isinstance(r, APIRoute)]
    assert {"/", "/dept/aaa", "/api/indicators", "/files/aaa", "/quality/aaa", "/health"} <= set(paths)
    anonymous = TestClient(app)
    for path in paths:
        r = anonymous.get(path, params={"month": "2025-03"})
        assert (r.status_code, r.json()) == (401, {"detail": "未登录"}), path
        assert "测试市场监督管理局" not in r.text
    assert TestClient(app, headers=LOGIN).get("/?month=2025-03").status_code == 200


def test_create_app_needs_an_auth_dependency(sqlite_store: Engine) -> None:
    with pytest.raises(TypeError, match="auth"):
        create_app(lambda: sqlite_store)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="auth"):
        create_app(lambda: sqlite_store, auth=None)  # type: ignore[arg-type]


def test_dashboard_page_shows_departments_and_indicators(client: TestClient) -> None:
    r = client.get("/?month=2025-03")
    assert r.status_code == 200
    for text in ("双公示考核看板（2025-03）", "测试市场监督管理局", "测试生态环境局", "及时率", "完整率", "准确率",
                 'href="dept/aaa?month=2025-03"', 'href="files/sgs-assessment-2025-03.html"', "测试卫生健康委员会",
                 'href="quality/index.html"', 'href="gx/uncommitted/data_docs/local_site/index.html"',
                 'href="quality/gx.html"'):
        assert text in r.text, text
    assert SECRET_ID not in r.text


def test_department_drill_down(client: TestClient) -> None:
    r = client.get("/dept/aaa?month=2025-03")
    assert r.status_code == 200
    for text in ("测试市场监督管理局（aaa）", "最近运行", "CF-REQ-003", "违法事实未填写", "逾期未入库", 'href="../quality/aaa/cf.html"',
                 'href="../?month=2025-03"', 'href="../gx/uncommitted/data_docs/local_site/index.html"'):
        assert text in r.text, text
    assert SECRET_ID not in r.text
    assert client.get("/dept/zzz?month=2025-03").status_code == 404
    assert client.get("/dept/..%2F..?month=2025-03").status_code == 404


def test_json_indicators(client: TestClient) -> None:
    data = client.get("/api/indicators?month=2025-03").json()
    rows = {(r["department"], r["dataset"]): r for r in data["rows"]}
    # As of now (not 2 April 2025): A7 has arrived, late, and A5's deadline has passed: 2 of 7 on time.
    assert rows[("aaa", "cf")]["timeliness"] == pytest.approx(2 / 7)
    assert rows[("bbb", "cf")]["accuracy"] == 1.0
    assert {"department": "ccc", "dataset": "cf"} in data["silent"]


def test_default_month_is_the_latest_with_data(client: TestClient) -> None:
    assert "双公示考核看板（2025-03）" in client.get("/").text


def test_bad_input_and_files(client: TestClient) -> None:
    assert client.get("/?month=2025-13").status_code == 400
    assert client.get("/?month=march").status_code == 422
    assert client.get("/files/sgs-assessment-2025-03.html").text == "<p>report</p>"
    assert client.get("/files/secret.html").status_code == 404
    assert client.get("/files/..%2Fsecret.html").status_code == 404
    assert client.get("/quality/aaa/cf.html").text == "<p>质量</p>"
    assert client.get("/quality/aaa/xk.html").status_code == 404
    assert client.get("/quality/%2E%2E/secret.html").status_code == 404


def test_data_docs_are_served_and_nothing_else(client: TestClient, app: FastAPI) -> None:
    """GX's Data Docs site under the path it has below ``<var>`` (the quality pages' relative links resolve to it)."""
    base = "/gx/uncommitted/data_docs/local_site"
    assert client.get(f"{base}/index.html").text == "<p>Data Docs</p>"
    assert client.get("/quality/gx.html").text == "<p>GX 校验结果一览</p>"
    assert client.get(f"{base}/validations/sgs_cf/qju-cf-1/20250301T000000.000000Z/ingest-qju-cf.html").text == "<p>run</p>"
    assert client.get(f"{base}/static/styles/data_docs_default_styles.css").status_code == 200
    assert client.get(f"{base}/notes.txt").status_code == 404  # not a Data Docs file type
    assert client.get(f"{base}/missing.html").status_code == 404
    assert client.get("/gx/great_expectations.yml").status_code == 404
    assert _raw_status(app, f"{base}/../../../great_expectations.yml") == 404
    assert _raw_status(app, f"{base}/../../../../secret.html") == 404
    assert _raw_status(app, f"{base}/validations/../index.html") == 404


def _raw_status(app: FastAPI, path: str) -> int:
    """The status of a GET whose path reaches the app exactly as written: an HTTP client (httpx, browsers)
    removes ``..`` segments before sending, so ``client.get("/quality/../x")`` never tests the app's check."""
    import anyio

    sent: list[dict[str, object]] = []
    requested = False

    async def receive() -> dict[str, object]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while not any(m["type"] == "http.response.body" and not m.get("more_body") for m in sent):
            await anyio.sleep(0.01)
        return {"type": "http.disconnect"}  # after the response, as a server would say once the client is gone

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"x-test-user", b"auditor")], "client": ("127.0.0.1", 1),
             "server": ("testserver", 80)}
    anyio.run(app, scope, receive, send)
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))  # type: ignore[call-overload]


def test_dot_dot_paths_reach_the_app_and_are_refused(app: FastAPI) -> None:
    assert _raw_status(app, "/quality/aaa/cf.html") == 200  # the raw request works at all
    # tmp/quality/../secret.html exists: only the app's own check keeps it out.
    assert _raw_status(app, "/quality/../secret.html") == 404
    assert _raw_status(app, "/quality/aaa/../../secret.html") == 404


def test_lazy_app_builds_on_first_request() -> None:
    built: list[int] = []

    def factory():  # type: ignore[no-untyped-def]
        built.append(1)
        app = FastAPI()
        app.get("/ping")(lambda: {"ok": True})
        return app

    lazy = LazyASGIApp(factory)
    assert built == []
    c = TestClient(lazy)  # type: ignore[arg-type]
    assert c.get("/ping").json() == {"ok": True} and c.get("/ping").status_code == 200
    assert built == [1]



def test_calendar_warning_on_every_page(client: TestClient, sqlite_store: Engine, tmp_path: Path) -> None:
    """The dashboard runs as of now: it warns exactly when this year's arrangement, or from 1 November next
    year's, is missing (on 2026-12-01, with the pinned libraries, 2027's is) — and stops once it is added."""
    from national.clock import today_shanghai
    from reports.workdays import WorkdayCalendar, arrangement_warning

    expected = arrangement_warning(WorkdayCalendar.from_file(), today_shanghai())
    for path in ("/?month=2025-03", "/dept/aaa?month=2025-03"):
        page = client.get(path).text
        assert ('id="calendar-warning"' in page) == (expected is not None), path
        if expected is not None:
            assert "国务院节假日安排" in page
    assert client.get("/api/indicators?month=2025-03").json()["calendar_warning"] == expected

    # An override file with next year (this year stays with chinese-calendar unless it lacks it): no warning.
    year = today_shanghai().year
    known = WorkdayCalendar({})
    f = tmp_path / "holidays.yaml"
    years = [y for y in (year, year + 1) if not known.is_known_year(y)]
    f.write_text("years:\n" + "".join(f"  {y}:\n    holidays: [{y}-01-01]\n" for y in years) if years else "",
                 encoding="utf-8")
    app = create_app(lambda: sqlite_store, auth=_test_login, departments=lambda: DEPTS,
                     settings=ReportSettings(holidays_file=str(f)))
    fresh = TestClient(app, headers=LOGIN)
    for path in ("/?month=2025-03", "/dept/aaa?month=2025-03"):
        assert 'id="calendar-warning"' not in fresh.get(path).text, path
    assert fresh.get("/api/indicators?month=2025-03").json()["calendar_warning"] is None
