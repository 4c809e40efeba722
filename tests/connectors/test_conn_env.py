"""AIRFLOW_CONN_<ID> in Airflow's JSON form or as a URI: a working connection is opened for real (MariaDB), and
every malformed value gives a SourceConfigError naming the variable and never quoting the value (password)."""

from __future__ import annotations

import json
import traceback

import pytest
import sqlalchemy as sa

from connectors.errors import SourceConfigError
from connectors.settings import SourceSettings
from connectors.sql import open_source, resolve_url

VAR = "AIRFLOW_CONN_SGS_SRC_CONNJSON"
SOURCE = SourceSettings(conn_id="sgs_src_connjson")


def test_json_connection_with_an_extra_object_opens_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"conn_type": "mysql", "host": "127.0.0.1", "port": 3306, "login": "root", "password": "",
             "schema": "mysql", "extra": {"charset": "utf8mb4"}}  # Airflow's documented JSON form
    monkeypatch.setenv(VAR, json.dumps(value))
    url = sa.engine.make_url(resolve_url(SOURCE, department="connjson"))
    assert (url.drivername, url.host, url.port, url.database) == ("mysql+mysqldb", "127.0.0.1", 3306, "mysql")
    assert url.query.get("charset") == "utf8mb4"
    source = open_source(SOURCE, department="connjson")
    try:
        with source.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        source.dispose()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ('{"conn_type": "mysql", "host": "db", "password": "S3cret-pw", "bogus": 1}', "未知的键 bogus"),
        ('{"conn_type": "mysql", "password": "S3cret-pw", ', "不是合法的 JSON"),
        ("not json {://S3cret-pw", "不是可用的数据库 URI"),
        ('{"conn_type": "mysql", "password": "S3cret-pw", "port": "S3cret-pw"}', "port 是否为整数"),
        ('{"host": "db", "password": "S3cret-pw"}', "缺少连接类型 conn_type"),
        ('{"conn_type": "mysql", "password": "S3cret-pw", "extra": "S3cret-pw not json"}', "extra 应是 JSON 对象"),
        ('{"conn_type": "mysql", "password": "S3cret-pw", "extra": ["S3cret-pw"]}', "extra 应是 JSON 对象"),
        ('[{"conn_type": "mysql", "password": "S3cret-pw"}]', "不是可用的数据库 URI"),
        ("mysql://root:S3cret-pw@db:notaport/x", "不是可用的数据库 URI"),
    ],
)
def test_bad_connection_values_name_the_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv(VAR, value)
    with pytest.raises(SourceConfigError) as err:
        open_source(SOURCE, department="connjson")
    text = str(err.value)
    assert VAR in text and says in text and "部门 connjson" in text
    # Nor anywhere in the traceback a CLI or an Airflow task log would print (chained exceptions included).
    assert "S3cret-pw" not in "".join(traceback.format_exception(err.value))
