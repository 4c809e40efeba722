"""The public column's pages and JSON API over a real store (SQLite read-only, PostgreSQL): searches, keyset
pagination, detail pages, masking in every response, security headers, rate limit, robots.txt."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from store.schema import record_tables
from tests.web.records import licence, load, penalty, person_penalty
from web.public import create_app, public_engine
from web.public.app import SECURITY_HEADERS, RateLimiter

#: An 18-character ID number as the public must never see it: region, a real-looking birth date, sequence, check.
ID_RUN = re.compile(r"(?<![0-9A-Za-z])\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])")


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def filled(store: Engine) -> Engine:
    load(store, "cf", [penalty(i) for i in range(45)] + [person_penalty(i) for i in range(45, 50)])
    load(store, "cf", [penalty(100 + i, CF_CFJG="杭州市卫生健康委员会", CF_WSH=f"杭卫罚〔2026〕{i}号") for i in range(3)],
         department="wjw")
    load(store, "xk", [licence(i) for i in range(12)])
    return store


@pytest.fixture
def client(filled: Engine) -> Iterator[TestClient]:
    engine = public_engine(url_of(filled))
    with TestClient(create_app(engine, rate=1000, burst=1000)) as c:
        yield c
    engine.dispose()


def api(client: TestClient, path: str, **params: object) -> dict:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_index_lists_both_kinds_with_detail_links(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    cf, xk = re.findall(r'href="/cf/(\d+)"', r.text), re.findall(r'href="/xk/(\d+)"', r.text)
    assert len(cf) == 10 and len(xk) == 10
    for ds, ident in (("cf", cf[0]), ("xk", xk[0])):
        page = client.get(f"/{ds}/{ident}")
        assert page.status_code == 200 and "公示日期" in page.text and "报送部门" in page.text


def test_searches(client: TestClient, filled: Engine) -> None:
    one = api(client, "/api/v1/cf", q="测试0003餐饮")  # substring, three characters or more (FTS5 / trigram)
    assert [i["party_name"] for i in one["items"]] == ["杭州测试0003餐饮有限公司"]
    assert [i["party_name"] for i in api(client, "/api/v1/cf", q="张三")["items"]] == ["张三48"]  # two characters
    item = one["items"][0]
    assert [i["id"] for i in api(client, "/api/v1/cf", q=item["credit_code"].lower())["items"]] == [item["id"]]
    assert [i["id"] for i in api(client, "/api/v1/cf", q=item["doc_no"])["items"]] == [item["id"]]
    assert [i["id"] for i in api(client, "/api/v1/cf", credit_code=item["credit_code"])["items"]] == [item["id"]]
    assert [i["id"] for i in api(client, "/api/v1/cf", doc_no=item["doc_no"])["items"]] == [item["id"]]
    assert api(client, "/api/v1/cf", doc_no="杭市监罚〔2026〕3")["items"] == []  # 文书号 is exact
    assert len(api(client, "/api/v1/cf", name="餐饮有限", limit=100)["items"]) == 48
    assert {i["department"] for i in api(client, "/api/v1/cf", authority="卫生健康")["items"]} == {"wjw"}
    assert len(api(client, "/api/v1/cf", department="wjw")["items"]) == 3
    assert api(client, "/api/v1/cf", q="名称里没有的字")["items"] == []
    # decision-date range, compared with the records
    t = record_tables["cf"]
    lo, hi = dt.date(2026, 1, 10), dt.date(2026, 1, 20)
    with filled.connect() as c:
        want = c.execute(sa.select(sa.func.count()).select_from(t).where(t.c.cf_jdrq.between(lo, hi))).scalar_one()
    got = api(client, "/api/v1/cf", date_from=lo.isoformat(), date_to=hi.isoformat(), limit=100)["items"]
    assert len(got) == want > 0 and all(lo.isoformat() <= i["decision_date"] <= hi.isoformat() for i in got)
    # the same searches as pages
    page = client.get("/cf", params={"q": "测试0003餐饮"})
    assert page.status_code == 200 and "杭州测试0003餐饮有限公司" in page.text and f'href="/cf/{item["id"]}"' in page.text
    assert "没有符合条件的公示信息" in client.get("/xk", params={"name": "不存在的公司"}).text
    bad = client.get("/api/v1/cf", params={"date_from": "2026-13-01"})
    assert bad.status_code == 400 and "日期" in bad.json()["error"]
    assert client.get("/cf", params={"date_to": "昨天"}).status_code == 400


def test_api_list_items_are_the_schemas_summary(client: TestClient) -> None:
    """The list is written as plain JSON (not through the model): its fields are exactly the schema's."""
    from web.public.app import Page, Summary

    doc = api(client, "/api/v1/cf", limit=5)
    assert set(doc) == set(Page.model_fields) and len(doc["items"]) == 5
    for item in doc["items"]:
        assert Summary.model_validate(item).model_dump() == item
    assert client.get("/api/v1/cf").headers["content-type"] == "application/json"


def test_wildcards_quotes_and_sql_in_search_terms_are_plain_text(client: TestClient) -> None:
    """Search values are bind parameters of statements built once per shape: LIKE wildcards, FTS5 phrase quotes
    and SQL text find nothing (no row has them), and the table is still there."""
    for term in ("%", "_", "%%%", "\\", '"', '""测试"', "测试0003%", "' OR '1'='1", "'; DROP TABLE published_cf; --",
                 "无此\x00名称", "NEAR(测试 餐饮)", "测试 OR 餐饮", "*"):
        for key in ("q", "name", "authority", "doc_no", "credit_code"):
            r = client.get("/api/v1/cf", params={key: term})
            assert r.status_code == 200 and r.json()["items"] == [], (key, term)
    assert len(api(client, "/api/v1/cf", limit=100)["items"]) == 53


def test_keyset_pagination_walks_every_row_once_in_order(client: TestClient) -> None:
    seen: list[dict] = []
    params: dict[str, object] = {"limit": 7}
    pages = 0
    while True:
        doc = api(client, "/api/v1/cf", **params)
        seen += doc["items"]
        pages += 1
        if not doc["next"]:
            break
        params = {"limit": 7, "after": doc["next"]}
        assert doc["next_url"].startswith("/api/v1/cf?") and "after=" in doc["next_url"]
    assert pages == 8 and len(seen) == 53 == len({i["id"] for i in seen})
    keys = [(i["decision_date"], i["id"]) for i in seen]
    assert keys == sorted(keys, reverse=True)
    # the HTML list: 20 a page, "下一页" to the end
    html_ids: list[str] = []
    url: str | None = "/cf"
    while url:
        page = client.get(url)
        html_ids += re.findall(r'<li><a href="/cf/(\d+)"', page.text)
        m = re.search(r'<a rel="next" href="([^"]+)"', page.text)
        url = m.group(1).replace("&amp;", "&") if m else None
    assert html_ids == [str(i["id"]) for i in seen]


def test_detail_shows_every_public_field_and_nothing_withdrawn(client: TestClient, filled: Engine) -> None:
    from store.loader import withdraw_records

    item = api(client, "/api/v1/cf", q="测试0007餐饮")["items"][0]
    d = api(client, f"/api/v1/cf/{item['id']}")
    codes = [f["code"] for f in d["fields"]]
    assert "CF_XDR_ZJHM" not in codes and "CF_FR_ZJHM" not in codes
    assert {"CF_XDR_MC", "CF_WSH", "CF_SY", "CF_NR", "CF_JDRQ", "CF_CFJG", "CF_GSJZQ", "BZ"} <= set(codes)
    assert d["department"] == "scjgj" and d["first_published_at"] and d["publicity_end"]
    page = client.get(f"/cf/{item['id']}")
    for f in d["fields"]:
        assert f["name"] in page.text
        if f["value"]:
            assert f["value"].replace("〔", "〔") in page.text
    t = record_tables["cf"]
    with filled.connect() as c:
        key = c.execute(sa.select(t.c.business_key).where(t.c.id == item["id"])).scalar_one()
    with filled.begin() as c:
        withdraw_records(c, 1, "scjgj", "cf", [key], reason="复议撤销")
    assert client.get(f"/api/v1/cf/{item['id']}").status_code == 404
    gone = client.get(f"/cf/{item['id']}")
    assert gone.status_code == 404 and "未找到" in gone.text
    assert client.get("/api/v1/xk/999999").json() == {"error": "未找到该页面或该公示信息（可能已撤销或公示期满）。", "status": 404}


def test_a_penalty_past_its_publicity_end_is_not_shown_even_before_expiry(filled: Engine) -> None:
    engine = public_engine(url_of(filled))
    later = create_app(engine, rate=1000, burst=1000, today=lambda: dt.date(2030, 1, 1))
    with TestClient(later) as c:
        assert api(c, "/api/v1/cf")["items"] == []
        assert len(api(c, "/api/v1/xk", limit=100)["items"]) == 12
    engine.dispose()


def test_json_is_utf8_and_the_api_has_an_openapi_schema(client: TestClient) -> None:
    r = client.get("/api/v1/cf", params={"limit": 1})
    assert r.headers["content-type"].startswith("application/json")
    assert "有限公司" in r.content.decode("utf-8") or "张" in r.content.decode("utf-8")
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/cf", "/api/v1/xk", "/api/v1/cf/{ident}", "/api/v1/xk/{ident}"} <= set(schema["paths"])
    params = {p["name"] for p in schema["paths"]["/api/v1/cf"]["get"]["parameters"]}
    assert {"q", "name", "credit_code", "doc_no", "authority", "department", "date_from", "date_to", "after", "limit"} <= params


def test_the_list_api_reads_its_parameters_as_the_schema_declares(client: TestClient) -> None:
    """The list API parses its query string itself (web.public.app.list_query): a bad page size or date is a
    Chinese 400 naming the parameter, an empty date is no filter, a repeated parameter counts by its last value,
    and every declared parameter has the type the schema gives it."""
    for bad in ("0", "101", "abc", "2.5", ""):
        r = client.get("/api/v1/cf", params={"limit": bad})
        assert r.status_code == 400 and "limit" in r.json()["error"], bad
    for name in ("date_from", "date_to"):
        r = client.get("/api/v1/cf", params={name: "2026-02-30"})
        assert r.status_code == 400 and name in r.json()["error"] and "YYYY-MM-DD" in r.json()["error"]
    everything = api(client, "/api/v1/cf", limit=100)["items"]
    assert api(client, "/api/v1/cf", date_from="", date_to=" ", limit=100)["items"] == everything
    assert len(api(client, "/api/v1/cf", limit=" 7 ")["items"]) == 7
    one = client.get("/api/v1/cf?q=%E4%B8%8D%E5%AD%98%E5%9C%A8&q=%E5%BC%A0%E4%B8%89").json()  # q=不存在&q=张三
    assert [i["party_name"] for i in one["items"]] == ["张三48"]
    declared = {p["name"]: p["schema"] for p in client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/cf"]["get"]["parameters"]}
    assert declared["limit"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert declared["date_from"]["format"] == declared["date_to"]["format"] == "date"


def test_security_headers_on_every_response_and_robots(client: TestClient) -> None:
    paths = ["/", "/cf", "/xk/1", "/about", "/robots.txt", "/style.css", "/api/v1/cf", "/api/v1/xk/1",
             "/api/v1/openapi.json", "/nowhere", "/api/v1/cf?date_from=x", "/cf/abc"]
    for p in paths:
        r = client.get(p)
        for k, v in SECURITY_HEADERS.items():
            assert r.headers.get(k) == v, (p, k)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src" not in csp  # no script may run at all
    robots = client.get("/robots.txt")
    assert robots.status_code == 200 and "Disallow: /api/" in robots.text
    assert client.post("/api/v1/cf").status_code == 405


def test_rate_limit_gives_a_chinese_429(filled: Engine) -> None:
    engine = public_engine(url_of(filled))
    with TestClient(create_app(engine, rate=2, burst=5)) as c:
        codes = [c.get("/api/v1/cf", params={"q": "测试"}).status_code for _ in range(12)]
        assert codes[:5] == [200] * 5 and codes.count(429) >= 6
        r = c.get("/api/v1/cf")
        assert r.status_code == 429 and "访问过于频繁" in r.json()["error"] and r.headers["Retry-After"] == "1"
        page = c.get("/cf")
        assert page.status_code == 429 and "访问过于频繁" in page.text and page.headers["content-type"].startswith("text/html")
        assert page.headers["X-Content-Type-Options"] == "nosniff"
    with TestClient(create_app(engine, rate=2, burst=5), client=("203.0.113.9", 5000)) as other:
        assert other.get("/api/v1/cf").status_code == 200  # another client has its own budget
    engine.dispose()


def test_rate_limiter_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(10, 2, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    assert limiter.allow("b")
    now[0] += 0.1
    assert limiter.allow("a") and not limiter.allow("a")


def test_no_id_number_in_any_public_response(sqlite_store: Engine) -> None:
    """A store full of natural persons (their ID numbers in the ID column and in the free text): no response of
    the column — pages, JSON lists, JSON details, searches for the numbers themselves — carries one."""
    people = [person_penalty(i) for i in range(30)]
    load(sqlite_store, "cf", people)
    licensees = [licence(i, XK_XDR_LB="自然人", XK_XDR_MC=f"李{i}", XK_XDR_SHXYM=None, XK_FRDB=None, XK_FR_ZJLX=None,
                         XK_FR_ZJHM=None, XK_XDR_ZJLX="身份证", XK_XDR_ZJHM=p["CF_XDR_ZJHM"],
                         XK_NR=f"持证人身份证 {p['CF_XDR_ZJHM']}") for i, p in enumerate(people)]
    load(sqlite_store, "xk", licensees)
    ids = {p["CF_XDR_ZJHM"] for p in people}
    engine = public_engine(url_of(sqlite_store))
    bodies: list[str] = []
    with TestClient(create_app(engine, rate=10_000, burst=10_000)) as c:
        for path in ("/", "/cf", "/xk", "/about", "/api/v1/openapi.json"):
            bodies.append(c.get(path).text)
        for ds in ("cf", "xk"):
            doc = c.get(f"/api/v1/{ds}", params={"limit": 100}).json()
            bodies.append(c.get(f"/api/v1/{ds}", params={"limit": 100}).text)
            assert len(doc["items"]) == 30
            for item in doc["items"]:
                bodies.append(c.get(item["url"]).text)
                bodies.append(c.get(f"/api/v1/{ds}/{item['id']}").text)
            for idn in list(ids)[:5]:  # searching for a number never confirms it
                r = c.get(f"/api/v1/{ds}", params={"q": idn})
                assert r.json()["items"] == []
                bodies.append(c.get(f"/{ds}", params={"q": idn}).text.replace(idn, ""))  # the search box echoes the query
    engine.dispose()
    text = "\n".join(bodies)
    assert "********" in text  # the masked numbers are there
    assert not [i for i in ids if i in text]
    assert ID_RUN.findall(text) == []


def test_pg_trigram_index_serves_substring_search(pg_store: Engine) -> None:
    with pg_store.connect() as c:
        names = set(c.execute(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'published_cf'")).scalars())
    assert "ix_published_cf_party_name_trgm" in names


def test_pg_name_search_pages_alike_with_few_and_many_matches(pg_store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name search sorts its matches itself when they are few (a MATERIALIZED CTE) and walks the list-order
    index when they are many: both give the same pages, keyset cursor included; the public engine plans every
    statement for its own term (plan_cache_mode), also after psycopg prepared it."""
    from web.public import queries

    load(pg_store, "cf", [penalty(i, CF_JDRQ=f"2026-0{1 + i % 9}-1{i % 10}") for i in range(40)])
    engine = public_engine(url_of(pg_store))
    pages: dict[int, list[list[int]]] = {}
    with engine.connect() as c:
        assert c.exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_custom_plan"
        for few in (10_000, 0):
            monkeypatch.setattr(queries, "FEW_MATCHES", few)
            got, after = [], None
            while True:
                rows, after = queries.search(c, "cf", queries.Filters(q="测试"), after=after, limit=7, today=dt.date(2026, 12, 1))
                got.append([r.id for r in rows])
                if after is None:
                    break
            pages[few] = got
    engine.dispose()
    assert pages[10_000] == pages[0] and sum(map(len, pages[0])) == 40 and len(pages[0]) == 6


def test_sqlite_fts5_table_is_kept_by_triggers(sqlite_store: Engine) -> None:
    load(sqlite_store, "cf", [penalty(1), penalty(2)])
    with sqlite_store.connect() as c:
        hits = c.execute(sa.text("SELECT rowid FROM published_cf_fts WHERE published_cf_fts MATCH '\"测试0002\"'")).all()
    assert len(hits) == 1


def test_a_submitted_form_with_empty_fields_searches(client: TestClient) -> None:
    """A browser sends every field of the form, the empty ones as "" (found by the Chromium test)."""
    params = {"q": "测试0003餐饮", "name": "", "credit_code": "", "doc_no": "", "authority": "", "department": "",
              "date_from": "", "date_to": ""}
    page = client.get("/cf", params=params)
    assert page.status_code == 200 and "杭州测试0003餐饮有限公司" in page.text
    assert client.get("/cf", params={**params, "date_from": "2026-02-30"}).status_code == 400


def test_values_are_escaped_in_pages(sqlite_store: Engine) -> None:
    """A clerk's value is text, never markup (the CSP forbids scripts as well)."""
    load(sqlite_store, "cf", [penalty(1, CF_XDR_MC='<script>alert(1)</script>"杭州公司', CF_SY="<img src=x onerror=alert(1)>")])
    engine = public_engine(url_of(sqlite_store))
    with TestClient(create_app(engine)) as c:
        ident = c.get("/api/v1/cf").json()["items"][0]["id"]
        for path in ("/", "/cf", f"/cf/{ident}", "/cf?q=%3Cscript%3E"):
            page = c.get(path).text
            assert "<script>" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get(f"/cf/{ident}").text
        assert c.get("/api/v1/cf", params={"q": "<script>"}).json()["items"][0]["id"] == ident
    engine.dispose()


def test_department_filter_lists_every_department(client: TestClient) -> None:
    page = client.get("/cf").text
    assert '<option value="scjgj">' in page and '<option value="wjw">' in page


def test_a_failing_store_gives_a_chinese_500_with_the_headers_and_a_masked_log(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    """A store the column cannot read (here: a file without the read model) is a Chinese 500 page or JSON with the
    security headers, never a traceback; the log line names the failure with ID numbers masked."""
    path = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{path}").dispose()
    with sa.create_engine(f"sqlite:///{path}").begin() as c:
        c.exec_driver_sql("CREATE TABLE unrelated (x INTEGER)")
    engine = public_engine(f"sqlite:///{path}")
    with TestClient(create_app(engine, rate=1000, burst=1000), raise_server_exceptions=False) as c, \
            caplog.at_level("ERROR", logger="sgs.web.public"):
        r = c.get("/api/v1/cf", params={"q": "330102199001011234"})
        assert r.status_code == 500 and r.json() == {"error": "服务暂时不可用，请稍后再试。", "status": 500}
        page = c.get("/cf")
        assert page.status_code == 500 and "服务暂时不可用" in page.text and "Traceback" not in page.text
        for resp in (r, page):
            for k, v in SECURITY_HEADERS.items():
                assert resp.headers.get(k) == v, k
    assert any("OperationalError" in m for m in caplog.messages)
    engine.dispose()


def test_the_pool_is_fixed_and_concurrent_requests_share_it(filled: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """SGS_PUBLIC_DB_CONNECTIONS connections, no overflow: 30 requests at once are all answered through them."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("SGS_PUBLIC_DB_CONNECTIONS", "2")
    engine = public_engine(url_of(filled))
    assert engine.pool.size() == 2 and engine.pool._max_overflow == 0  # type: ignore[attr-defined]
    opened: list[object] = []
    sa.event.listen(engine, "connect", lambda conn, record: opened.append(conn))
    with TestClient(create_app(engine, rate=1000, burst=1000)) as c, ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(lambda i: c.get("/api/v1/cf", params={"q": f"公司{i % 7}"}).status_code, range(30)))
    assert codes == [200] * 30 and 1 <= len(opened) <= 2
    engine.dispose()
    for bad in ("0", "x", "1000"):
        monkeypatch.setenv("SGS_PUBLIC_DB_CONNECTIONS", bad)
        with pytest.raises(ValueError, match="SGS_PUBLIC_DB_CONNECTIONS"):
            public_engine(url_of(filled))


def test_the_default_pool_is_about_two_connections_per_core_shared_by_the_server_processes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SGS_PUBLIC_DB_CONNECTIONS: about 2 × cores for all server processes together, at least 2 each
    (more statements than that only queue in the kernel, unfairly: docs/performance.md)."""
    import os

    from web.public import store as public_store

    monkeypatch.delenv("SGS_PUBLIC_DB_CONNECTIONS", raising=False)
    real_cores = public_store._cores
    monkeypatch.setattr(public_store, "_cores", lambda: 8)
    assert [public_store.connections(p) for p in (1, 2, 3, 4, 16)] == [16, 8, 6, 4, 2]
    monkeypatch.setattr(public_store, "_cores", lambda: 2)
    assert [public_store.connections(p) for p in (1, 2)] == [4, 2]
    monkeypatch.setattr(public_store, "_cores", lambda: 96)
    assert public_store.connections(1) == 100  # the variable's own upper bound
    monkeypatch.setattr(public_store, "_cores", real_cores)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert public_store.connections(1) == 6  # the cores this process may use (a container's limit), not the machine's
    monkeypatch.setenv("SGS_PUBLIC_DB_CONNECTIONS", "7")
    assert public_store.connections(2) == 7  # the operator's number wins


def test_a_connection_the_server_dropped_is_replaced_without_an_error(pg_store: Engine) -> None:
    """No pre-ping: when PostgreSQL ends the column's sessions (restart, idle timeout), the next requests are
    answered from new connections, not with a 500."""
    load(pg_store, "cf", [penalty(i) for i in range(3)])
    engine = public_engine(url_of(pg_store))
    with TestClient(create_app(engine, rate=1000, burst=1000)) as c:
        assert c.get("/api/v1/cf").status_code == 200
        with engine.connect() as conn:
            mine = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with pg_store.connect() as admin:  # the store's owner ends the column's sessions
            ended = admin.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid = :p"), {"p": mine}).scalar()
        assert ended == 1
        time.sleep(0.5)
        answers = [c.get("/api/v1/cf").status_code for _ in range(3)] + [c.get("/cf").status_code]
        assert answers == [200] * 4
    engine.dispose()
