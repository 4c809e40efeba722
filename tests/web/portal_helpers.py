"""Helpers of the portal's tests (not a conftest): accounts, a logged-in TestClient, valid national rows."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.factories import authority_code, make_uscc
from tests.web.records import licence, penalty
from web.portal.accounts import add_user
from web.portal.app import create_app

#: The test units' credit codes: xqa's is the 数据来源单位代码 of tests.web.records' rows (the same decision by
#: database docking and by the portal is one record), xqb's another unit's.
UNITS = {"xqa": ("测试县市场监督管理局", authority_code()), "xqb": ("另一县市场监督管理局", make_uscc(random.Random(7), "11"))}


@pytest.fixture
def unit_files(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Department files of the portal-only test units (``SGS_DEPARTMENTS_DIR``): every portal unit has one."""
    folder = tmp_path_factory.mktemp("departments")
    for code, (name, uscc) in UNITS.items():
        (folder / f"{code}.yaml").write_text(f'code: {code}\nname: {name}\nuscc: "{uscc}"\n', encoding="utf-8")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(folder))
    yield folder


FIRST = "Init-Pass-2026!"
SECOND = "Neu-Kennwort-2026#"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def valid_penalty(i: int, **over: Any) -> dict[str, Any]:
    return penalty(i, CF_YXQ="2027-06-30", **over)


def valid_licence(i: int, **over: Any) -> dict[str, Any]:
    return licence(i, **over)


def token_of(html: str) -> str:
    m = TOKEN.search(html)
    assert m, "no CSRF field in the page"
    return m.group(1)


class Clerk:
    """A browser-like client of one clerk: cookies, the session's CSRF token."""

    def __init__(self, engine: Engine, department: str, login: str, *, name: str = "测试员", changed: bool = True) -> None:
        add_user(engine, department, login, name, FIRST)
        self.client = TestClient(create_app(engine), follow_redirects=True)
        self.login_name = login
        r = self.login(FIRST)
        assert r.url.path == "/password", r.text
        self.csrf = token_of(r.text)
        if changed:
            r = self.post("/password", {"old": FIRST, "new": SECOND, "repeat": SECOND})
            assert r.url.path == "/" and "密码已修改" in r.text, r.text

    def login(self, password: str) -> Any:
        page = self.client.get("/login")
        return self.client.post("/login", data={"login": self.login_name, "password": password, "csrf_token": token_of(page.text)})

    def post(self, path: str, data: dict[str, Any], **kw: Any) -> Any:
        return self.client.post(path, data={**{k: ("" if v is None else v) for k, v in data.items()}, "csrf_token": self.csrf}, **kw)
