"""Airflow's login in front of the "双公示" view: the dependency the plugin hands to ``create_app(auth=…)``.

Airflow 3 does not authenticate plugin FastAPI apps: its API routers carry their own dependency, and a mounted
app inherits none of it. So every request to ``/sgs/…`` goes through :func:`airflow_user`, which asks Airflow
exactly what the API server asks for ``/api/v2/…``:

1. the credential: an ``Authorization: Bearer <JWT>`` header (API clients, ``POST /auth/token``) or else the
   UI's ``_token`` cookie (the browser sends it when the view is embedded in the UI or opened directly), through
   ``airflow.api_fastapi.core_api.security.get_user``: signature, expiry, audience and revocation are checked
   by the configured auth manager (``get_user_from_token``), whichever one it is (simple, FAB, Keycloak, …);
2. the permission: ``auth_manager.is_authorized_dag(method="GET")`` without a DAG id, i.e. "may read all DAGs"
   (role Viewer and above in the simple and FAB auth managers). The view shows every department's ingest runs,
   quarantine counts and overdue document numbers, the same information as the department DAGs' runs and logs,
   so whoever may read all DAGs may read it, and nobody else.

Refusals: no or an invalid/expired credential gives 401 (Airflow answers 403 for a forged token, as on
``/api/v2``); a browser asking for a page (``GET`` with ``Accept: text/html``, outside ``/api/``) is sent to
Airflow's login instead (``/api/v2/auth/login?next=<this page>``, which hands over to the auth manager's login
page and comes back). A logged-in user without the permission gets 403, never a redirect (no login loop).

Airflow is imported inside the function only: the module is imported when the app is built, on the first
request in the API server, never by the scheduler or the DAG processor loading the plugin.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Request, status

NOT_LOGGED_IN = "未登录：请先登录 Airflow 再打开双公示看板（API 调用请在请求头 Authorization: Bearer <令牌> 中提供 Airflow 令牌，令牌由 POST /auth/token 取得）"
BAD_TOKEN = "Airflow 令牌无效或已过期：请重新登录 Airflow（或重新取得令牌）"
FORBIDDEN = "无权查看双公示看板：需要 Airflow 中查看全部 DAG 的权限（Viewer 及以上角色），请联系平台管理员"


async def airflow_user(request: Request) -> Any:
    """FastAPI dependency: the Airflow user of this request, or a 401/403/redirect (see the module doc)."""
    from airflow.api_fastapi.app import API_ROOT_PATH, get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    credentials = await bearer_scheme(request)
    try:
        user = await get_user(request, _oauth_token=None, bearer_credentials=credentials)
    except HTTPException as exc:
        if exc.status_code not in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
            raise
        detail = BAD_TOKEN if credentials is not None or request.cookies.get(COOKIE_NAME_JWT_TOKEN) else NOT_LOGGED_IN
        if _wants_page(request):
            login = f"{API_ROOT_PATH}api/v2/auth/login?{urlencode({'next': _relative_url(request)})}"
            raise HTTPException(status.HTTP_307_TEMPORARY_REDIRECT, detail, headers={"Location": login}) from None
        raise HTTPException(exc.status_code, detail, headers={"WWW-Authenticate": "Bearer"}) from None
    if not get_auth_manager().is_authorized_dag(method="GET", user=user):
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=FORBIDDEN)
    return user


def _app_path(request: Request) -> str:
    """The path inside the mounted app (``/api/indicators``), whatever prefix the app is mounted under."""
    path, root = request.url.path, request.scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def _wants_page(request: Request) -> bool:
    """A browser navigating to a page (not an API client, not the JSON route): worth a login redirect."""
    return (
        request.method in ("GET", "HEAD")
        and "text/html" in request.headers.get("accept", "")
        and not _app_path(request).startswith("/api/")
    )


def _relative_url(request: Request) -> str:
    """This page as a same-site path (``/sgs/dept/aaa?month=2025-03``): Airflow's login accepts only safe
    ``next`` URLs, and a path cannot point at another site."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")
