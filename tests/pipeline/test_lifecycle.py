"""The publicity life cycle at ingest (issue 14): a department's status column withdraws revoked decisions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.config import load_department
from pipeline.ingest import ingest
from store.schema import published_tables, record_tables, record_version
from tests.factories import (
    create_penalty_table,
    penalty_rows,
    source_env,
    source_sqlite_path,
    source_time,
    write_department,
)

TODAY = dt.date(2025, 12, 1)
REVOCATION = """\
    status_column: zt
    revoked_values: ["3", 已撤销]
"""


def department(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strategy: str) -> Path:
    src = source_sqlite_path(f"src_{strategy}.db")
    engine = sa.create_engine(f"sqlite:///{src}")
    with engine.begin() as c:
        t = create_penalty_table(c)
        c.execute(sa.text("ALTER TABLE t_xzcf ADD COLUMN zt VARCHAR(8)"))
        c.execute(t.insert(), penalty_rows(6, seed=3, bad_every=0))
        c.execute(sa.text("UPDATE t_xzcf SET zt = '1'"))
    engine.dispose()
    path = write_department(tmp_path, code="lifeju")
    text = path.read_text(encoding="utf-8") + REVOCATION
    if strategy == "snapshot":
        text = text.replace("    cursor: gxsj\n", "    strategy: snapshot\n").replace("    lookback: 5m\n", "")
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv(source_env("lifeju"), f"sqlite:///{src}")
    return path


def update_source(strategy: str, ids: list[int], value: str) -> None:
    engine = sa.create_engine(f"sqlite:///{source_sqlite_path(f'src_{strategy}.db')}")
    with engine.begin() as c:
        for n, i in enumerate(ids):
            c.execute(sa.text("UPDATE t_xzcf SET zt = :v, gxsj = :t WHERE id = :i"),
                      {"v": value, "t": source_time(2025, 11, 1, 8, n), "i": i})
    engine.dispose()


def records(store: Engine) -> dict[str, dict[str, Any]]:
    t = record_tables["cf"]
    with store.connect() as c:
        return {r.cf_wsh: dict(r._mapping) for r in c.execute(sa.select(t))}


def shown(store: Engine) -> set[str]:
    with store.connect() as c:
        return set(c.execute(sa.select(published_tables["cf"].c.doc_no)).scalars())


@pytest.mark.parametrize("strategy", ["timestamp", "snapshot"])
def test_a_revoked_status_withdraws_the_record_with_its_reason(
    strategy: str, store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    dept = load_department(department(tmp_path, monkeypatch, strategy))
    assert ingest(dept, "cf", engine=store, trigger="test", today=TODAY).status == "success"
    assert len(shown(store)) == 6
    update_source(strategy, [2, 5], "已撤销")
    assert ingest(dept, "cf", engine=store, trigger="test", today=TODAY).status == "success"
    recs = records(store)
    revoked = {w for w, r in recs.items() if r["status"] == "withdrawn"}
    assert revoked == {"杭市监罚决〔2025〕2号", "杭市监罚决〔2025〕5号"}
    r = recs["杭市监罚决〔2025〕2号"]
    assert r["operation"] == "D" and r["version"] == 2
    assert r["withdrawn_reason"] == "决定已撤销（源数据状态：已撤销）"
    assert shown(store) == set(recs) - revoked  # left the column in the same transaction
    with store.connect() as c:  # the history keeps the version that was shown
        kept = c.execute(sa.select(record_version.c.operation).where(
            record_version.c.dataset == "cf", record_version.c.business_key == r["business_key"])).scalars().all()
    assert kept == ["I"]
    # Read again unchanged: nothing happens; the revocation undone: published again.
    assert ingest(dept, "cf", engine=store, trigger="test", today=TODAY).counts.updated == 0
    update_source(strategy, [2], "1")
    ingest(dept, "cf", engine=store, trigger="test", today=TODAY)
    again = records(store)["杭市监罚决〔2025〕2号"]
    assert again["status"] == "active" and again["version"] == 3
    assert "杭市监罚决〔2025〕2号" in shown(store)


def test_status_column_and_values_come_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.config import ConfigError

    path = department(tmp_path, monkeypatch, "timestamp")
    path.write_text(path.read_text(encoding="utf-8").replace('    revoked_values: ["3", 已撤销]\n', ""), encoding="utf-8")
    with pytest.raises(ConfigError, match="revoked_values"):
        load_department(path)


NOT_PUBLIC = """\
    not_public:
      categories: [警告, 通报批评]
      flag_column: gk
      flag_values: ["0"]
"""


def test_not_public_rules_keep_records_out_of_the_column_only(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from store.changelog import delivery_states

    path = department(tmp_path, monkeypatch, "timestamp")
    path.write_text(path.read_text(encoding="utf-8") + NOT_PUBLIC, encoding="utf-8")
    engine = sa.create_engine(f"sqlite:///{source_sqlite_path('src_timestamp.db')}")
    with engine.begin() as c:
        c.execute(sa.text("ALTER TABLE t_xzcf ADD COLUMN gk VARCHAR(2)"))
        c.execute(sa.text("UPDATE t_xzcf SET gk = '1'"))
        c.execute(sa.text("UPDATE t_xzcf SET cflb = '1' WHERE id = 1"))  # 警告 only
        c.execute(sa.text("UPDATE t_xzcf SET gk = '0' WHERE id = 2"))  # flagged by the department
    engine.dispose()
    dept = load_department(path)
    assert ingest(dept, "cf", engine=store, trigger="test", today=TODAY).counts.inserted == 6
    recs = records(store)
    assert {w: r["not_public"] for w, r in recs.items() if r["not_public"]} == {
        "杭市监罚决〔2025〕1号": "不予公开（处罚类别：警告）",
        "杭市监罚决〔2025〕2号": "不予公开（源数据标记：0）",
    }
    assert all(r["status"] == "active" for r in recs.values())  # stored and active: assessed like any other
    assert shown(store) == set(recs) - {"杭市监罚决〔2025〕1号", "杭市监罚决〔2025〕2号"}
    with store.connect() as c:  # pushed like any other
        assert sorted(d["operation"] for d in delivery_states(c, "cf")) == ["I"] * 6
    # The department lifts its flag: a change of the record, shown from now on.
    update = sa.create_engine(f"sqlite:///{source_sqlite_path('src_timestamp.db')}")
    with update.begin() as c:
        c.execute(sa.text("UPDATE t_xzcf SET gk = '1', gxsj = :t WHERE id = 2"), {"t": source_time(2025, 11, 2, 8, 0)})
    update.dispose()
    assert ingest(dept, "cf", engine=store, trigger="test", today=TODAY).counts.updated == 1
    assert "杭市监罚决〔2025〕2号" in shown(store)
    assert records(store)["杭市监罚决〔2025〕2号"]["not_public"] is None


def test_not_public_categories_apply_only_when_every_category_is_listed() -> None:
    import pandas as pd
    from pydantic import ValidationError

    from transforms.normalise import not_public_reasons
    from transforms.settings import MappingSettings, NotPublicRules

    mapping = MappingSettings(not_public=NotPublicRules(categories=["警告", "通报批评"], reason="依规不予公开"))
    national = pd.DataFrame({"CF_CFLB": ["警告", "警告;罚款", "通报批评、警告", None, "罚款"]}, dtype=object)
    out = not_public_reasons(pd.DataFrame(index=range(5)), national, mapping, "cf", department="d")
    assert out == ["依规不予公开（处罚类别：警告）", None, "依规不予公开（处罚类别：警告、通报批评）", None, None]
    assert not_public_reasons(pd.DataFrame(index=range(5)), national, MappingSettings(), "cf", department="d") is None
    with pytest.raises(ValidationError, match="flag_values"):
        NotPublicRules(flag_column="gk")
