"""The department portal (方式二 在线报送): server-rendered Chinese pages for department clerks.

Security (docs/portal.md): every page but the login needs a session (an HttpOnly SameSite=Strict cookie naming a
server-side session); every POST carries a CSRF token in ``csrf_token`` — the login form's is bound to a
pre-session cookie, every other form's to the session — and is refused with 403 without it; every query is
scoped by the session's department on the server (no department ever comes from the browser); the public
column's security headers plus ``Cache-Control: no-store``; uploads bounded by size, rows and columns.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectors.files import MAX_COLUMNS, FileRejected, open_template
from national import DATASETS, dataset
from national.clock import local_text, today_shanghai
from national.masking import ID_COLUMNS, mask_id_number, mask_text
from store.lifecycle import LifecycleError, withdraw_decision
from store.schema import record_tables
from web.portal import accounts, intake, workbooks
from web.portal.accounts import Session
from web.public.app import SECURITY_HEADERS, STYLE

log = logging.getLogger("sgs.portal")
HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
PORTAL_STYLE = STYLE + (HERE / "portal.css").read_text(encoding="utf-8")
KIND = {"cf": "行政处罚", "xk": "行政许可"}
SESSION_COOKIE = "sgs_portal_session"
PRE_COOKIE = "sgs_portal_csrf"
CSRF_FIELD = "csrf_token"
#: Upload bounds (docs/portal.md): SGS_PORTAL_UPLOAD_MB (default 10) and SGS_PORTAL_UPLOAD_ROWS (default 5000);
#: columns: connectors.files.MAX_COLUMNS.
DEFAULT_UPLOAD_MB = 10
DEFAULT_UPLOAD_ROWS = 5000
FORM_LIMIT = 256 * 1024  # a record form is a few KB
LONG_FIELDS = {"CF_SY", "CF_NR", "CF_YJ", "CF_WFXW", "XK_NR"}


class Forbidden(Exception):
    """A POST without the right CSRF token."""


class NeedLogin(Exception):
    """No live session: to the login page."""


class NeedPasswordChange(Exception):
    """The account's password was set by an operator: to the password page."""


class TooLarge(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def upload_limits() -> tuple[int, int]:
    mb = float(os.environ.get("SGS_PORTAL_UPLOAD_MB") or DEFAULT_UPLOAD_MB)
    rows = int(os.environ.get("SGS_PORTAL_UPLOAD_ROWS") or DEFAULT_UPLOAD_ROWS)
    return int(mb * 1024 * 1024), rows


def form_fields(ds_name: str, department: str) -> list[dict[str, Any]]:
    """The record form's fields: input kind, the catalogue's code list, and whether the platform fills it."""
    ds = dataset(ds_name)
    lists = workbooks.code_lists(ds_name)
    fixed = intake.unit_constants(department, ds_name)
    out = []
    for f in ds.fields:
        values, prefix = lists.get(f.code, ([], None))
        kind = "date" if f.kind == "date" else "select" if values and not prefix else "choice" if values else (
            "textarea" if f.code in LONG_FIELDS or f.multiline else "number" if f.kind == "amount" else "text")
        out.append({"code": f.code, "name": f.name_zh, "kind": kind, "values": values, "prefix": prefix,
                    "max_length": f.max_length, "fixed": fixed.get(f.code)})
    return out


def create_app(engine: Engine, *, today: Callable[[], dt.date] = today_shanghai) -> FastAPI:
    """The portal's ASGI app over the central store ``engine`` (read-write: it loads what clerks submit)."""
    app = FastAPI(title="市信用信息共享平台 在线报送", docs_url=None, redoc_url=None, openapi_url=None)

    def client_of(request: Request) -> str:
        return request.client.host if request.client else "-"

    def page(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> Response:
        return TEMPLATES.TemplateResponse(request, name, {"kind": KIND, **ctx}, status_code=status)

    def error(request: Request, status: int, message: str) -> Response:
        return page(request, "error.html", {"status": status, "message": message, "title": "提示", "session": None}, status)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Any]) -> Response:
        try:
            response = await call_next(request)
        except Exception as exc:  # noqa: BLE001 - a Chinese page, never a traceback
            log.error("portal %s failed: %s", request.url.path, mask_text(f"{type(exc).__name__}: {exc}")[:500])
            response = error(request, 500, "服务暂时不可用，请稍后再试；如反复出现，请联系平台运维。")
        for k, v in SECURITY_HEADERS.items():
            response.headers[k] = v
        if request.url.path != "/style.css":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(NeedLogin)
    async def need_login(request: Request, exc: NeedLogin) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(NeedPasswordChange)
    async def need_password(request: Request, exc: NeedPasswordChange) -> Response:
        return RedirectResponse("/password", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return error(request, 403, "页面已过期或请求来源无法确认（缺少或不匹配的安全校验码）：请返回后刷新页面再提交。")

    @app.exception_handler(TooLarge)
    async def too_large(request: Request, exc: TooLarge) -> Response:
        return error(request, 413, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "未找到该页面或该记录（只能查看本单位的数据）。", 405: "不支持的请求方式。"}.get(exc.status_code, "请求无法处理。")
        return error(request, exc.status_code, message)

    # --- sessions and CSRF -------------------------------------------------------------------------------

    def session(request: Request, *, allow_must_change: bool = False) -> Session:
        s = accounts.session_of(engine, request.cookies.get(SESSION_COOKIE))
        if s is None:
            raise NeedLogin()
        if s.user.must_change and not allow_must_change:
            raise NeedPasswordChange()
        return s

    async def read_form(request: Request, limit: int = FORM_LIMIT) -> FormData:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            if request.headers.get("transfer-encoding"):
                raise TooLarge("请求缺少长度信息，请使用浏览器提交表单。")
        elif int(length) > limit:
            raise TooLarge(f"提交的内容过大（上限 {limit // 1024 // 1024 or 1} MB）：文件请按月份拆分后分别上传。")
        return await request.form(max_files=1, max_fields=200, max_part_size=64 * 1024)

    def check_csrf(form: FormData, expected: str | None) -> None:
        sent = form.get(CSRF_FIELD)
        if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise Forbidden()

    def cookie(response: Response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")

    def text_of(form: FormData, name: str, limit: int = 20_000) -> str:
        v = form.get(name)
        return v[:limit] if isinstance(v, str) else ""

    # --- login, logout, password -------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        token = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)
        response = page(request, "login.html", {"title": "登录", "csrf": token, "session": None, "message": None})
        cookie(response, request, PRE_COOKIE, token)
        return response

    @app.post("/login", response_class=HTMLResponse)
    async def login_post(request: Request) -> Response:
        form = await read_form(request)
        check_csrf(form, request.cookies.get(PRE_COOKIE))
        login_name = text_of(form, "login", 64)
        result = accounts.login(engine, login_name, text_of(form, "password", 200), client_of(request))
        if result.session_token is None:
            token = secrets.token_urlsafe(32)
            response = page(request, "login.html", {"title": "登录", "csrf": token, "session": None,
                                                    "message": result.message, "login": login_name}, 401)
            cookie(response, request, PRE_COOKIE, token)
            return response
        response = RedirectResponse("/", status_code=303)
        cookie(response, request, SESSION_COOKIE, result.session_token, max_age=accounts.SESSION_HOURS * 3600)
        response.delete_cookie(PRE_COOKIE, path="/")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        s = session(request, allow_must_change=True)
        check_csrf(await read_form(request), s.csrf)
        accounts.logout(engine, s, client_of(request))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/password", response_class=HTMLResponse)
    def password_page(request: Request) -> Response:
        s = session(request, allow_must_change=True)
        return page(request, "password.html", {"title": "修改密码", "session": s, "message": None})

    @app.post("/password", response_class=HTMLResponse)
    async def password_post(request: Request) -> Response:
        s = session(request, allow_must_change=True)
        form = await read_form(request)
        check_csrf(form, s.csrf)
        problem = accounts.change_password(engine, s, text_of(form, "old", 200), text_of(form, "new", 200),
                                           text_of(form, "repeat", 200), client_of(request))
        if problem:
            return page(request, "password.html", {"title": "修改密码", "session": s, "message": problem}, 400)
        return RedirectResponse("/?changed=1", status_code=303)

    # --- home --------------------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        s = session(request)
        dept = s.user.department
        problems = intake.open_problems(engine, dept)
        recent = {ds: intake.department_records(engine, dept, ds, limit=5) for ds in DATASETS}
        return page(request, "home.html", {"title": "在线报送", "session": s, "problems": len(problems), "recent": recent,
                                           "changed": request.query_params.get("changed") == "1"})

    @app.get("/style.css", include_in_schema=False)
    def style() -> Response:
        return Response(PORTAL_STYLE, media_type="text/css; charset=utf-8", headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    # --- the record form ---------------------------------------------------------------------------------

    def known(ds: str) -> str:
        if ds not in DATASETS:
            raise HTTPException(404)
        return ds

    def form_page(request: Request, s: Session, ds: str, values: dict[str, str], errors: dict[str, list[str]],
                  warnings: dict[str, list[str]], *, action: str, title: str, status: int = 200,
                  other: list[str] | None = None) -> Response:
        return page(request, "record_form.html", {
            "title": title, "session": s, "ds": ds, "fields": form_fields(ds, s.user.department), "values": values,
            "errors": errors, "warnings": warnings, "action": action, "other": other or [],
        }, status)

    @app.get("/new/{ds}", response_class=HTMLResponse)
    def new_record(request: Request, ds: str) -> Response:
        s = session(request)
        return form_page(request, s, known(ds), {}, {}, {}, action=f"/new/{ds}", title=f"填报{KIND[ds]}决定")

    def by_field(issues: list[dict[str, str]], severity: str, columns: list[str]) -> tuple[dict[str, list[str]], list[str]]:
        out: dict[str, list[str]] = {}
        other: list[str] = []
        for x in issues:
            if x["severity"] != severity:
                continue
            if x["field"] in columns:
                out.setdefault(x["field"], []).append(x["message"])
            else:
                other.append(x["message"])
        return out, other

    async def submit_form(request: Request, ds: str, *, resolve: list[str], action: str, title: str, audit_action: str) -> Response:
        s = session(request)
        form = await read_form(request)
        check_csrf(form, s.csrf)
        columns = dataset(ds).columns
        values = {c: text_of(form, c) for c in columns}  # only national fields: a 'department' field is ignored
        outcome = intake.submit(engine, s.user.department, ds, [values], today=today(), resolve_source_pks=resolve)
        verdict = outcome.verdicts[0]
        with engine.begin() as conn:
            accounts.audit(conn, s.user.login, s.user.department, audit_action,
                           f"{KIND[ds]} 文书号 {mask_text(verdict.doc_no)}：{'已入库' if verdict.accepted else '未通过检查'}"
                           f"（运行 {outcome.run_id}）", client_of(request))
        errors, other = by_field(verdict.issues, "error", columns)
        warnings, other_w = by_field(verdict.issues, "warning", columns)
        if not verdict.accepted:
            return form_page(request, s, ds, values, errors, warnings, action=action, title=title, status=422, other=other)
        return page(request, "accepted.html", {"title": "已入库", "session": s, "ds": ds, "doc_no": verdict.doc_no,
                                               "warnings": [m for ms in warnings.values() for m in ms] + other_w})

    @app.post("/new/{ds}", response_class=HTMLResponse)
    async def new_record_post(request: Request, ds: str) -> Response:
        known(ds)
        return await submit_form(request, ds, resolve=[], action=f"/new/{ds}", title=f"填报{KIND[ds]}决定", audit_action="submit")

    # --- batch import --------------------------------------------------------------------------------------

    @app.get("/import", response_class=HTMLResponse)
    def import_page(request: Request) -> Response:
        s = session(request)
        size, rows = upload_limits()
        return page(request, "import.html", {"title": "批量导入", "session": s, "max_mb": size // 1024 // 1024,
                                             "max_rows": rows, "max_columns": MAX_COLUMNS, "result": None, "message": None})

    @app.get("/template/{ds}.xlsx")
    def template(request: Request, ds: str) -> Response:
        session(request)
        data = workbooks.national_template(known(ds))
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename=template_{ds}.xlsx"})

    @app.post("/import", response_class=HTMLResponse)
    async def import_post(request: Request) -> Response:
        s = session(request)
        size_limit, row_limit = upload_limits()
        form = await read_form(request, size_limit + 64 * 1024)
        check_csrf(form, s.csrf)
        ds = text_of(form, "dataset", 2)
        upload = form.get("file")
        ctx = {"title": "批量导入", "session": s, "max_mb": size_limit // 1024 // 1024, "max_rows": row_limit,
               "max_columns": MAX_COLUMNS, "result": None, "message": None}
        if ds not in DATASETS:
            return page(request, "import.html", {**ctx, "message": "请选择数据类别（行政许可或行政处罚）"}, 400)
        if not isinstance(upload, UploadFile) or not upload.filename:
            return page(request, "import.html", {**ctx, "message": "请选择要上传的文件"}, 400)
        name = Path(upload.filename).name[-100:]
        suffix = Path(name).suffix.lower()
        if suffix not in (".xlsx", ".csv"):
            return page(request, "import.html", {**ctx, "message": f"{name}：只支持 .xlsx 和 .csv 文件"}, 400)
        with tempfile.TemporaryDirectory(prefix="sgs-portal-") as tmp:
            path = Path(tmp) / f"upload{suffix}"
            total = 0
            with path.open("wb") as fh:
                while block := await upload.read(1024 * 1024):
                    total += len(block)
                    if total > size_limit:
                        return page(request, "import.html", {**ctx, "message": (
                            f"{name} 超过上传上限 {size_limit // 1024 // 1024} MB：请按月份拆成几个较小的文件分别上传")}, 413)
                    fh.write(block)
            if total == 0:
                return page(request, "import.html", {**ctx, "message": f"{name} 是空文件"}, 400)
            try:
                _, chunks = open_template(path, ds)
                rows: list[dict[str, Any]] = []
                numbers: list[int] = []
                for frame in chunks:
                    if len(rows) + len(frame) > row_limit:
                        return page(request, "import.html", {**ctx, "message": (
                            f"{name} 超过 {row_limit} 行的上限：请拆成几个文件分别上传")}, 413)
                    for idx, rec in zip(frame.index.tolist(), frame.to_dict("records"), strict=True):
                        rows.append({str(k): v for k, v in rec.items()})
                        numbers.append(int(idx) + 2)
            except FileRejected as exc:
                message = str(exc).replace(path.name, name).replace("--dataset", "数据类别")
                return page(request, "import.html", {**ctx, "message": message}, 400)
        if not rows:
            return page(request, "import.html", {**ctx, "message": f"{name} 没有数据行"}, 400)
        outcome = intake.submit(engine, s.user.department, ds, rows, today=today())
        with engine.begin() as conn:
            accounts.audit(conn, s.user.login, s.user.department, "upload",
                           f"{KIND[ds]} 文件 {mask_text(name)}：{len(rows)} 行，入库 {outcome.accepted} 行，"
                           f"问题数据 {outcome.rejected} 行（运行 {outcome.run_id}）", client_of(request))
        result = [{"line": numbers[v.row - 1], "doc_no": v.doc_no, "accepted": v.accepted, "issues": v.issues}
                  for v in outcome.verdicts]
        return page(request, "import.html", {**ctx, "result": result, "ds": ds, "file": name,
                                             "accepted": outcome.accepted, "rejected": outcome.rejected})

    # --- the department's lists -----------------------------------------------------------------------------

    @app.get("/records/{ds}", response_class=HTMLResponse)
    def records(request: Request, ds: str, doc_no: str | None = None) -> Response:
        s = session(request)
        rows = intake.department_records(engine, s.user.department, known(ds), doc_no=doc_no, limit=200)
        return page(request, "records.html", {"title": f"本单位{KIND[ds]}", "session": s, "ds": ds, "rows": rows,
                                              "doc_no": doc_no or "", "local": local_text})

    @app.post("/withdraw/{ds}", response_class=HTMLResponse)
    async def withdraw(request: Request, ds: str) -> Response:
        s = session(request)
        known(ds)
        form = await read_form(request)
        check_csrf(form, s.csrf)
        ident = text_of(form, "record_id", 20)
        reason = " ".join(text_of(form, "reason", 200).split())
        t = record_tables[ds]
        with engine.connect() as conn:  # scoped by the session's department: B's record id is "not found"
            doc = conn.execute(sa.select(t.c[f"{ds}_wsh"]).where(
                t.c.id == (int(ident) if ident.isdigit() else -1), t.c.department == s.user.department)).scalar_one_or_none()
        if doc is None:
            raise HTTPException(404)
        if not reason:
            return error(request, 400, "撤销须说明原因，例如：复议决定撤销原处罚决定。")
        try:
            done = withdraw_decision(engine, s.user.department, ds, doc, reason=reason)
        except LifecycleError as exc:
            return error(request, 400, str(exc))
        with engine.begin() as conn:
            accounts.audit(conn, s.user.login, s.user.department, "withdraw",
                           f"撤销{KIND[ds]} 文书号 {mask_text(doc)}（{len(done.business_keys)} 条）：{mask_text(reason)}",
                           client_of(request))
        return RedirectResponse(f"/records/{ds}?withdrawn=1", status_code=303)

    @app.get("/problems", response_class=HTMLResponse)
    def problems(request: Request) -> Response:
        s = session(request)
        rows = intake.open_problems(engine, s.user.department)
        return page(request, "problems.html", {"title": "问题数据", "session": s, "rows": rows, "local": local_text})

    @app.get("/problems/{ds}.xlsx")
    def problems_download(request: Request, ds: str) -> Response:
        s = session(request)
        data = workbooks.problems_workbook(known(ds), intake.open_problems(engine, s.user.department, ds, limit=100_000))
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename=problems_{ds}.xlsx"})

    def entry_values(entry: dict[str, Any]) -> dict[str, str]:
        out = {}
        for k, v in entry["national"].items():
            if v is None:
                continue
            out[k] = "" if k in ID_COLUMNS else str(v)  # ID numbers are typed again, never shown
        return out

    @app.get("/problems/{ident}", response_class=HTMLResponse)
    def problem_page(request: Request, ident: int) -> Response:
        s = session(request)
        entry = intake.problem(engine, s.user.department, ident)
        if entry is None:
            raise HTTPException(404)
        ds = entry["dataset"]
        columns = dataset(ds).columns
        errors, other = by_field(entry["issues"], "error", columns)
        warnings, _ = by_field(entry["issues"], "warning", columns)
        masked = {k: mask_id_number(v) for k, v in entry["national"].items() if k in ID_COLUMNS and v}
        for k, v in masked.items():
            errors.setdefault(k, []).insert(0, f"证件号码已隐去（{v}），请按原件重新填写")
        return form_page(request, s, ds, entry_values(entry), errors, warnings, action=f"/problems/{ident}",
                         title=f"改正问题数据（{KIND[ds]}）", other=other)

    @app.post("/problems/{ident}", response_class=HTMLResponse)
    async def problem_post(request: Request, ident: int) -> Response:
        s = session(request)
        entry = intake.problem(engine, s.user.department, ident)
        if entry is None:
            raise HTTPException(404)
        ds = entry["dataset"]
        return await submit_form(request, ds, resolve=[entry["source_pk"]], action=f"/problems/{ident}",
                                 title=f"改正问题数据（{KIND[ds]}）", audit_action="correct")

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request) -> Response:
        s = session(request)
        return page(request, "audit.html", {"title": "操作记录", "session": s,
                                            "rows": accounts.audit_trail(engine, s.user.department), "local": local_text})

    return app
