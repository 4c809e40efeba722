"""Repository-level promises: deployment file is valid, no credentials in tracked config, template loads."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from pipeline.config import load_department

ROOT = Path(__file__).resolve().parents[1]


def test_docker_compose_is_valid_and_keeps_secrets_out() -> None:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert set(doc["services"]) == {"postgres", "airflow"}
    for name, svc in doc["services"].items():
        assert "image" in svc, name
    env = doc["services"]["airflow"]["environment"]
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/sgs/dags"
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    # every password is an environment reference, never a literal
    for m in re.finditer(r"PASSWORD:\s*(\S+)", text):
        assert m.group(1).startswith("${"), m.group(0)
    for init in doc["services"]["postgres"]["volumes"]:
        src = init.split(":")[0]
        if src.startswith("./"):
            assert (ROOT / src).exists(), src


def test_department_template_is_a_valid_file(tmp_path: Path) -> None:
    shutil.copy(ROOT / "departments" / "_template.yaml", tmp_path / "example.yaml")
    dept = load_department(tmp_path / "example.yaml")
    assert dept.source.conn_id == "sgs_src_example"
    assert set(dept.datasets) == {"cf"}


def test_no_department_file_holds_a_password() -> None:
    for path in (ROOT / "departments").glob("*.yaml"):
        dept = load_department(path) if not path.name.startswith("_") else None
        if dept and dept.source.url:
            assert ":" not in (dept.source.url.split("@")[0].split("//")[-1] if "@" in dept.source.url else "")
