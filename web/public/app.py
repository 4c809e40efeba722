"""The public column (专栏公示): server-rendered Chinese pages and a JSON API over the read model.

Anonymous and read-only: it reads ``published_cf`` / ``published_xk`` only (``web.public.queries``), through an
engine that cannot write (``web.public.store``). Every response carries the security headers
(:data:`SECURITY_HEADERS`); every client (by IP address as the server sees it) gets a token bucket of
``rate`` requests per second (burst ``burst``), over it a Chinese 429 page or JSON. No page needs JavaScript.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio
import anyio.to_thread
import sqlalchemy as sa
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from national import DATASETS, dataset
from national.clock import local_text, today_shanghai
from national.masking import ID_COLUMNS, mask_text
from national.text import text_value
from web.public import queries
from web.public.queries import Filters

log = logging.getLogger("sgs.web.public")
T = TypeVar("T")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
STYLE = (Path(__file__).resolve().parent / "style.css").read_text(encoding="utf-8")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
ROBOTS = "User-agent: *\nDisallow: /api/\nCrawl-delay: 1\n"
KIND = {"cf": "行政处罚", "xk": "行政许可"}
#: Field shown at the top of a list row, per dataset: (name, document number, authority, decision date).
SUMMARY = {"cf": ("CF_XDR_MC", "CF_WSH", "CF_CFJG", "CF_JDRQ"), "xk": ("XK_XDR_MC", "XK_WSH", "XK_XKJG", "XK_JDRQ")}


class BadDate(ValueError):
    """A date filter of a page that is not YYYY-MM-DD (its parameter name)."""


class BadLimit(ValueError):
    """The API's ``limit`` is not a whole number from 1 to :data:`queries.MAX_LIMIT`."""


#: The list API's query parameters (name, description, OpenAPI schema). The list route reads them itself
#: (:func:`list_query`) and declares them to the schema from this table: FastAPI's per-request parameter solving
#: (ten typed query parameters) cost a quarter of a name search's CPU time in the server process (cProfile of
#: the ASGI app over the 5M-row store, docs/performance.md).
LIST_PARAMETERS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("q", "一个搜索框：行政相对人名称（包含）、统一社会信用代码或文书号（完全一致）", {"type": "string"}),
    ("name", "行政相对人名称（包含）", {"type": "string"}),
    ("credit_code", "统一社会信用代码（完全一致）", {"type": "string"}),
    ("doc_no", "决定文书号（完全一致）", {"type": "string"}),
    ("authority", "决定机关（包含）", {"type": "string"}),
    ("department", "报送部门代码", {"type": "string"}),
    ("date_from", "决定日期起 YYYY-MM-DD", {"type": "string", "format": "date"}),
    ("date_to", "决定日期止 YYYY-MM-DD", {"type": "string", "format": "date"}),
    ("after", "下一页游标（上一页的 next）", {"type": "string"}),
    ("limit", f"每页条数（1–{queries.MAX_LIMIT}）", {"type": "integer", "minimum": 1, "maximum": queries.MAX_LIMIT, "default": 20}),
)


def form_date(value: str | None, name: str) -> dt.date | None:
    """A date filter as a form or a client sends it: YYYY-MM-DD; empty or missing is no filter."""
    if not value or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise BadDate(name) from None


def list_query(params: Mapping[str, str], *, with_limit: bool = True) -> tuple[Filters, str | None, int]:
    """(filters, cursor, page size) of a list request's query string (a repeated parameter: its last value, as
    FastAPI reads one). Raises :class:`BadDate` / :class:`BadLimit` (400 with a Chinese message)."""
    get = params.get
    limit = 20
    raw = get("limit") if with_limit else None
    if raw is not None:
        try:
            limit = int(raw.strip())
        except ValueError:
            raise BadLimit() from None
        if not 1 <= limit <= queries.MAX_LIMIT:
            raise BadLimit()
    f = Filters(get("q"), get("name"), get("credit_code"), get("doc_no"), get("authority"), get("department"),
                form_date(get("date_from"), "date_from"), form_date(get("date_to"), "date_to"))
    return f, get("after"), limit


class RateLimiter:
    """A token bucket per client key: ``rate`` tokens a second, at most ``burst`` saved."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._swept = clock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            ok = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if ok else tokens, now)
            # Forget idle clients (a full bucket is the same as none), at most once a minute.
            if len(self._buckets) > 10_000 and now - self._swept > 60:
                self._swept = now
                idle = [k for k, (_, seen) in self._buckets.items() if now - seen > self.burst / self.rate]
                for k in idle:
                    del self._buckets[k]
            return ok


# --- API models (the OpenAPI schema) -------------------------------------------------------------------

class Summary(BaseModel):
    id: int
    dataset: str
    url: str
    party_name: str | None
    credit_code: str | None
    doc_no: str | None
    authority: str | None
    department: str
    decision_date: str | None
    publicity_end: str | None


class Page(BaseModel):
    dataset: str
    items: list[Summary]
    next: str | None
    next_url: str | None


class Field(BaseModel):
    code: str
    name: str
    value: str | None
    #: beyond the 2019 national template (案件名称, 救济渠道, 设定依据, 项目名称: issue 17 item 11)
    extension: bool = False


class Detail(Summary):
    first_published_at: str
    published_at: str
    fields: list[Field]


def public_fields(ds: str, row: Any) -> list[Field]:
    """Every public field of a row, in template order, then the extension fields that are filled: ID numbers never
    (not even empty), text masked once more (the read model holds masked values already; a second pass costs
    little and guards hand-edited rows)."""
    out = []
    for f in dataset(ds).fields:
        if f.code in ID_COLUMNS:
            continue
        v = text_value(row._mapping[f.code.lower()])
        if f.extension and v is None:
            continue  # an optional field beyond the template: shown when the department sent it
        out.append(Field(code=f.code, name=f.name_zh, value=mask_text(v) if v is not None else None, extension=f.extension))
    return out


def _summary_fields(ds: str, row: Any) -> dict[str, Any]:
    """A list row's fields (the :class:`Summary` of the API), masked."""
    m = row._mapping
    date = SUMMARY[ds][3]
    return {
        "id": m["id"], "dataset": ds, "url": f"/{ds}/{m['id']}", "party_name": mask_text(m["party_name"]),
        "credit_code": mask_text(m["credit_code"]), "doc_no": mask_text(m["doc_no"]), "authority": mask_text(m["authority"]),
        "department": m["department"], "decision_date": text_value(m[date.lower()]),
        "publicity_end": text_value(m["publicity_end"]),
    }


def _summary(ds: str, row: Any) -> Summary:
    return Summary(**_summary_fields(ds, row))


def _detail(ds: str, row: Any) -> Detail:
    m = row._mapping
    return Detail(**_summary(ds, row).model_dump(), first_published_at=local_text(m["first_published_at"]),
                  published_at=local_text(m["published_at"]), fields=public_fields(ds, row))


class HeadAsGet:
    """HEAD answered like GET without the body (RFC 9110 §9.3.2): monitors and link checkers probe pages with
    HEAD, and the routes are GET-only (FastAPI does not add HEAD as Starlette's own routes do). The headers are
    GET's, Content-Length included; the rate limit counts a HEAD like a GET."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Any) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


_UNLIMITED = frozenset({"/style.css", "/robots.txt", "/favicon.ico"})
_HEADERS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS.items()]
_HEADER_NAMES = frozenset(k for k, _ in _HEADERS)


class Guard:
    """Rate limit, security headers and the Chinese 500 page, as a plain ASGI middleware (Starlette's
    ``BaseHTTPMiddleware`` costs a task group and two memory streams per request: about a fifth of a search's
    CPU time at 50 clients, measured with bench/public.py).

    - a client over its rate (``limiter``, keyed by the IP address the server sees) gets 429 with ``Retry-After``;
    - every response's start gets :data:`SECURITY_HEADERS` (replacing any the route set);
    - a failure before the response started becomes the Chinese 500 page/JSON (never a traceback), logged with
      ID numbers masked; after it started, the connection is dropped (uvicorn), as nothing can be sent.
    """

    def __init__(self, app: Any, *, limiter: RateLimiter, rate: float, error: Callable[[Request, int, str], Response]) -> None:
        self.app, self.limiter, self.rate, self.error = app, limiter, rate, error

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def with_headers(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _HEADER_NAMES]
                message = {**message, "headers": headers + _HEADERS}
            await send(message)

        path = scope["path"]
        client = scope.get("client")
        if path not in _UNLIMITED and not self.limiter.allow(client[0] if client else "-"):
            response = self.error(Request(scope), 429, f"访问过于频繁：每个地址每秒最多查询 {self.rate:g} 次，请稍后再试。")
            response.headers["Retry-After"] = "1"
            await response(scope, receive, with_headers)
            return
        try:
            await self.app(scope, receive, with_headers)
        except Exception as exc:  # noqa: BLE001 - every failure is a Chinese page, never a traceback
            log.error("public column %s failed: %s", path, mask_text(f"{type(exc).__name__}: {exc}")[:500])
            if started:
                raise
            await self.error(Request(scope), 500, "服务暂时不可用，请稍后再试。")(scope, receive, with_headers)


def create_app(engine: Engine, *, rate: float = 10.0, burst: int = 20, today: Callable[[], dt.date] = today_shanghai) -> FastAPI:
    """The public column's ASGI app over ``engine`` (read-only: see ``web.public.store.public_engine``).

    The routes are ``async``; the store is read in worker threads, at most as many at once as the engine's pool
    holds connections (``SGS_PUBLIC_DB_CONNECTIONS``, web.public.store): a request beyond that waits its turn (first come, first served) without a
    thread, instead of opening an overflow connection per request (a backend forked and gone again on
    PostgreSQL: at 50 clients that churn, not the searches, made the slowest requests)."""
    app = FastAPI(
        title="市信用信息共享平台 双公示专栏 API", version="1",
        description="行政许可、行政处罚决定的公示信息（已脱敏）。数据每次入库后即时更新；处罚公示期满后不再提供。",
        docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json",
    )
    limiter = RateLimiter(rate, burst)
    app.state.limiter = limiter
    pool_size = getattr(engine.pool, "size", None)
    db_threads = anyio.CapacityLimiter(pool_size() if callable(pool_size) else 4)

    def once_more_if_lost(fn: Callable[..., T], *args: Any) -> T:
        # The pool does not ping a connection before each request (a round trip per search): a connection the
        # server dropped (restart, idle timeout) fails its statement, SQLAlchemy invalidates the pool, and the
        # read — a single read-only statement or two — is simply done again on a new connection.
        try:
            return fn(*args)
        except sa.exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            log.warning("public column: store connection lost, read again")
            return fn(*args)

    async def db(fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(once_more_if_lost, fn, *args, limiter=db_threads)
    department_cache: dict[str, tuple[float, list[str]]] = {}

    def departments() -> list[str]:
        hit = department_cache.get("all")
        if hit and time.monotonic() - hit[0] < 60:
            return hit[1]
        with engine.connect() as conn:
            value = queries.departments(conn)
        department_cache["all"] = (time.monotonic(), value)
        return value

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def error(request: Request, status: int, message: str) -> Response:
        if wants_json(request):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return TEMPLATES.TemplateResponse(request, "error.html", {"status": status, "message": message, "title": "提示"},
                                          status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "未找到该页面或该公示信息（可能已撤销或公示期满）。", 405: "不支持的请求方式。"}.get(exc.status_code, "请求无法处理。")
        return error(request, exc.status_code, message)

    @app.exception_handler(BadDate)
    async def bad_date(request: Request, exc: BadDate) -> Response:
        return error(request, 400, f"查询条件格式不正确（{exc}）：日期请写成 YYYY-MM-DD。")

    @app.exception_handler(BadLimit)
    async def bad_limit(request: Request, exc: BadLimit) -> Response:
        return error(request, 400, f"查询条件格式不正确（limit）：每页条数应为 1–{queries.MAX_LIMIT} 的整数。")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        names = "、".join(sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")}))
        return error(request, 400, f"查询条件格式不正确（{names}）：日期请写成 YYYY-MM-DD。")

    def read_search(ds: str, f: Filters, after: str | None, limit: int) -> tuple[list[Any], str | None]:
        with engine.connect() as conn:
            return queries.search(conn, ds, f, after=after, limit=limit, today=today())

    async def run_search(ds: str, f: Filters, after: str | None, limit: int) -> tuple[list[Any], str | None]:
        return await db(read_search, ds, f, after, limit)

    def read_detail(ds: str, ident: int) -> Any | None:
        with engine.connect() as conn:
            return queries.detail(conn, ds, ident, today=today())

    def next_url(request: Request, nxt: str | None) -> str | None:
        if nxt is None:
            return None
        params = {k: v for k, v in request.query_params.items() if v and k != "after"}
        params["after"] = nxt
        return request.scope["path"] + "?" + urlencode(params)  # the path as sent (request.url parses the whole URL)

    # --- pages ------------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request) -> Response:
        latest = {ds: [_summary(ds, r) for r in (await run_search(ds, Filters(), None, 10))[0]] for ds in ("xk", "cf")}
        return TEMPLATES.TemplateResponse(request, "index.html", {"latest": latest, "kind": KIND, "title": "双公示专栏"})

    @app.get("/about", response_class=HTMLResponse, include_in_schema=False)
    async def about(request: Request) -> Response:
        return TEMPLATES.TemplateResponse(request, "about.html", {"title": "公示规则"})

    @app.get("/robots.txt", response_class=PlainTextResponse, include_in_schema=False)
    async def robots() -> str:
        return ROBOTS

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/style.css", include_in_schema=False)
    async def style() -> Response:
        return Response(STYLE, media_type="text/css; charset=utf-8", headers={"Cache-Control": "public, max-age=3600"})

    def list_page(ds: str) -> Callable[..., Awaitable[Response]]:
        async def page(request: Request) -> Response:
            # A form sends every field, the empty ones as "": an empty date is no filter. A page is 20 rows.
            f, after, _ = list_query(request.query_params, with_limit=False)
            rows, nxt = await run_search(ds, f, after, 20)
            return TEMPLATES.TemplateResponse(request, "list.html", {
                "ds": ds, "kind": KIND[ds], "title": KIND[ds], "items": [_summary(ds, r) for r in rows],
                "f": f.cleaned(), "next_url": next_url(request, nxt), "departments": await db(departments), "first": not after,
            })

        return page

    def detail_page(ds: str) -> Callable[..., Awaitable[Response]]:
        async def page(request: Request, ident: int) -> Response:
            row = await db(read_detail, ds, ident)
            if row is None:
                raise HTTPException(404)
            d = _detail(ds, row)
            return TEMPLATES.TemplateResponse(request, "detail.html", {"d": d, "kind": KIND[ds], "title": f"{KIND[ds]}公示详情"})

        return page

    for ds in DATASETS:
        app.add_api_route(f"/{ds}", list_page(ds), methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
        app.add_api_route(f"/{ds}/{{ident}}", detail_page(ds), methods=["GET"], response_class=HTMLResponse,
                          include_in_schema=False)

    # --- JSON API ---------------------------------------------------------------------------------------

    def api_list(ds: str) -> Callable[..., Awaitable[Response]]:
        async def listing(request: Request) -> Response:
            f, after, limit = list_query(request.query_params)
            rows, nxt = await run_search(ds, f, after, limit)
            # The page as JSON straight from plain values (the schema is Page's, response_model below): building
            # and re-serialising twenty pydantic models was a tenth of a search's CPU time.
            page = {"dataset": ds, "items": [_summary_fields(ds, r) for r in rows], "next": nxt,
                    "next_url": next_url(request, nxt)}
            return Response(json.dumps(page, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8"),
                            media_type="application/json")

        return listing

    def api_detail(ds: str) -> Callable[..., Awaitable[Detail]]:
        async def one(ident: int) -> Detail:
            row = await db(read_detail, ds, ident)
            if row is None:
                raise HTTPException(404)
            return _detail(ds, row)

        return one

    for ds in DATASETS:
        app.add_api_route(f"/api/v1/{ds}", api_list(ds), methods=["GET"], response_model=Page,
                          summary=f"{KIND[ds]}公示查询", tags=[KIND[ds]], openapi_extra={"parameters": [
                              {"name": n, "in": "query", "required": False, "description": d, "schema": sch}
                              for n, d, sch in LIST_PARAMETERS]})
        app.add_api_route(f"/api/v1/{ds}/{{ident}}", api_detail(ds), methods=["GET"], response_model=Detail,
                          summary=f"{KIND[ds]}公示详情", tags=[KIND[ds]])
    app.add_middleware(Guard, limiter=limiter, rate=rate, error=error)
    app.add_middleware(HeadAsGet)  # outermost: the guard and the routes see a GET
    return app
