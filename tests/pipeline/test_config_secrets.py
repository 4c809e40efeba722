"""Secrets in URLs are never printed (issue 12, item 3): ``sgs status`` showed ``SGS_STORE_URL`` with its
``?password=…`` (``render_as_string(hide_password=True)`` hides only the userinfo password)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from pipeline.cli import app
from tests.factories import write_department

pytestmark = pytest.mark.integration


def test_status_never_prints_the_store_password(pg_schema_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Trust authentication here: the server ignores both passwords, the program must still hide them.
    url = sa.engine.make_url(pg_schema_url).set(password="Userinfo-S3cret").update_query_dict({"password": "Query-S3cret"})
    monkeypatch.setenv("SGS_STORE_URL", url.render_as_string(hide_password=False))
    write_department(tmp_path, code="statju")
    monkeypatch.setenv("SGS_DEPARTMENTS_DIR", str(tmp_path))
    for args in (["status", "--json"], ["status"]):
        r = CliRunner().invoke(app, args)
        text = r.stdout + r.stderr
        assert r.exit_code == 0, text
        assert "S3cret" not in text and "***" in text
