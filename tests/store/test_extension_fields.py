"""Extension fields beyond the 2019 template (issue 17 item 11): 案件名称/救济渠道 (cf), 项目名称/设定依据 (xk).

Mapped like any column, checked for length and characters, stored in the record tables and the read model,
shown on the public page; an empty one leaves the record's content hash as it was before the fields existed,
and none is ever sent upstream. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from national import dataset
from store.loader import Batch
from store.rows import keyed
from store.runs import finish_run, start_run
from store.schema import published_tables, record_tables, record_version
from tests.factories import load_batch

CF = dataset("cf")
XK = dataset("xk")
AUTH = "11140300MB0000000X"
NOW = dt.datetime(2026, 11, 3, 2, 0, tzinfo=dt.UTC)


def penalty(**changes: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {c: None for c in CF.columns}
    row.update({"CF_XDR_MC": "阳泉市测试商贸有限公司", "CF_XDR_LB": "法人及非法人组织", "CF_XDR_SHXYM": "91140300MA0K000000",
                "CF_WSH": "阳市监罚〔2026〕1号", "CF_WFXW": "销售不合格产品", "CF_SY": "经查……", "CF_YJ": "《产品质量法》第五十条",
                "CF_CFLB": "罚款", "CF_NR": "罚款2000元", "CF_NR_FK": "0.2", "CF_JDRQ": "2026-11-02", "CF_YXQ": "2027-11-02",
                "CF_CFJG": "阳泉市市场监督管理局", "CF_CFJGDM": AUTH, "CF_SJLY": "阳泉市市场监督管理局", "CF_SJLYDM": AUTH})
    row.update(changes)
    return row


#: The content hash of ``penalty()`` as the store computed it before the extension fields existed (main at
#: 98b0522, ``store.rows.keyed``): a record stored then must keep it.
HASH_BEFORE_THE_UPGRADE = "f5f09cebf4b39cec89f28236c6cea30e"


def test_an_empty_extension_field_leaves_the_content_hash_as_it_was() -> None:
    frame = pd.DataFrame([penalty()], columns=CF.columns, dtype=object)
    k = keyed(frame, CF)
    assert k.hashes[0].hex() == HASH_BEFORE_THE_UPGRADE
    assert "CF_AJMC" not in json.loads(k.payload[0])
    filled = keyed(pd.DataFrame([penalty(CF_AJMC="阳泉市测试商贸有限公司销售不合格产品案")], columns=CF.columns, dtype=object), CF)
    assert filled.hashes[0] != k.hashes[0]
    assert json.loads(filled.payload[0])["CF_AJMC"] == "阳泉市测试商贸有限公司销售不合格产品案"


def test_fields_are_beyond_the_template() -> None:
    assert CF.extension_columns == ["CF_AJMC", "CF_JJQD"] and XK.extension_columns == ["XK_XMMC", "XK_SDYJ"]
    assert len(CF.template_columns) == 30 and len(XK.template_columns) == 28
    assert CF.columns[-2:] == CF.extension_columns and not set(CF.extension_columns) & set(CF.template_columns)
    assert CF.chinese_names["CF_AJMC"] == "案件名称" and CF.chinese_names["CF_JJQD"] == "救济渠道"
    assert XK.chinese_names["XK_SDYJ"] == "设定依据" and XK.chinese_names["XK_XMMC"] == "项目名称"


def _load(engine: Engine, row: dict[str, str | None], pk: str = "1") -> dict[str, int]:
    run, wm = start_run(engine, "scjgj", "cf", "test")
    batch = Batch(department="scjgj", dataset="cf", national=pd.DataFrame([row], columns=CF.columns, dtype=object),
                  source_pk=[json.dumps([pk])], raw=[json.dumps({"id": pk}, ensure_ascii=False)],
                  rejected=np.array([False]), issues=[[]], cursor_from=wm, cursor_to=wm)
    with engine.begin() as conn:
        stats = load_batch(conn, run, batch, now=NOW)
    finish_run(engine, run, status="success")
    return {k: getattr(stats, k) for k in ("inserted", "updated", "unchanged")}


def test_stored_shown_and_never_sent_upstream(store: Engine) -> None:
    from upstream.outbox import take_batch

    assert _load(store, penalty()) == {"inserted": 1, "updated": 0, "unchanged": 0}
    assert _load(store, penalty()) == {"inserted": 0, "updated": 0, "unchanged": 1}  # nothing looks changed
    case, remedy = "阳泉市测试商贸有限公司销售不合格产品案", "如不服本决定，可在六十日内申请行政复议，\n或者在六个月内提起行政诉讼。"
    assert _load(store, penalty(CF_AJMC=case, CF_JJQD=remedy)) == {"inserted": 0, "updated": 1, "unchanged": 0}
    rec, pub = record_tables["cf"], published_tables["cf"]
    with store.connect() as c:
        r = c.execute(sa.select(rec.c.cf_ajmc, rec.c.cf_jjqd, rec.c.version)).one()
        assert (r.cf_ajmc, r.cf_jjqd, r.version) == (case, remedy, 2)
        p = c.execute(sa.select(pub.c.cf_ajmc, pub.c.cf_jjqd, pub.c.version)).one()
        assert (p.cf_ajmc, p.cf_jjqd, p.version) == (case, remedy, 2)
        v1 = json.loads(c.execute(sa.select(record_version.c.payload)).scalar_one())
        assert "CF_AJMC" not in v1 and v1["CF_WSH"] == "阳市监罚〔2026〕1号"

    taken = take_batch(store, "cf", 10, run_id=1, batch_id="b-1", upto=10**9, waiting=set())
    assert taken.records and all(set(r.data) == set(CF.template_columns) for r in taken.records)
    assert all("CF_AJMC" not in json.dumps(r.data, ensure_ascii=False) for r in taken.records)
    assert case not in json.dumps([r.data for r in taken.records], ensure_ascii=False)


def test_the_public_page_shows_them_when_filled(store: Engine) -> None:
    from web.public.app import public_fields

    _load(store, penalty(), pk="1")
    _load(store, penalty(CF_WSH="阳市监罚〔2026〕2号", CF_AJMC="某某销售不合格产品案", CF_JJQD="可申请行政复议"), pk="2")
    pub = published_tables["cf"]
    with store.connect() as c:
        rows = {r.cf_wsh: r for r in c.execute(sa.select(pub).order_by(pub.c.id))}
    plain = public_fields("cf", rows["阳市监罚〔2026〕1号"])
    assert all(not f.extension for f in plain) and "CF_AJMC" not in {f.code for f in plain}
    shown = {f.code: f for f in public_fields("cf", rows["阳市监罚〔2026〕2号"])}
    assert shown["CF_AJMC"].value == "某某销售不合格产品案" and shown["CF_AJMC"].extension
    assert shown["CF_JJQD"].name == "救济渠道"


def test_mapped_normalised_and_checked() -> None:
    from expectations import catalogue
    from expectations.engine import run
    from transforms.normalise import map_to_national
    from transforms.settings import MappingSettings

    src = pd.DataFrame({"wsh": ["阳市监罚〔2026〕1号"] * 3, "case": ["　某某ＡＢＣ公司案 ", "甲" * 501, "第一行\n第二行"],
                        "remedy": ["可申请行政复议", None, "=HYPERLINK(1)"]})
    mapping = MappingSettings(columns={"CF_WSH": "wsh", "CF_AJMC": "case", "CF_JJQD": "remedy"})
    national = map_to_national(src, mapping, CF, department="scjgj")
    assert national.at[0, "CF_AJMC"] == "某某ABC公司案"  # a name: full-width letters folded, trimmed
    from expectations.catalogue import load_catalogue

    cat = load_catalogue("cf")
    rules, failures = run(national.reset_index(drop=True), cat, dt.date(2026, 11, 30))
    failed = {r.id: f.tolist() for r, f in zip(rules, failures, strict=True)}
    assert failed["CF-LEN-013"] == [False, True, False]
    assert failed["CF-CHR-011"] == [False, False, True]
    assert failed["CF-FML-011"] == [False, False, True]
    ids = {r.id for r in catalogue("cf")}
    assert {"CF-LEN-014", "CF-CHR-012", "CF-FML-010"} <= ids
    # no rule requires them
    assert not [r for r in catalogue("cf") if r.field in CF.extension_columns and r.kind == "required"]


def test_department_config_accepts_an_extension_column() -> None:
    from pathlib import Path

    import yaml

    from pipeline.config import Department

    doc = yaml.safe_load((Path(__file__).resolve().parents[2] / "departments" / "scjgj.yaml").read_text(encoding="utf-8"))
    doc["datasets"]["cf"]["columns"]["CF_AJMC"] = "case_name"
    assert Department.model_validate(doc).datasets["cf"].columns["CF_AJMC"] == "case_name"
    doc["datasets"]["cf"]["columns"]["CF_NOPE"] = "x"
    with pytest.raises(ValueError, match="不是国家标准字段"):
        Department.model_validate(doc)


def test_migrations_0010_0011_down_and_up_keep_the_records(store: Engine) -> None:
    """Down to 0009 (extension columns and declaration tables dropped; the SQLite read model keeps its FTS
    triggers) and up again: a record stored before keeps its hash, and reading its row again changes nothing."""
    from alembic import command

    from store.db import alembic_config

    assert _load(store, penalty()) == {"inserted": 1, "updated": 0, "unchanged": 0}

    def to(revision: str, down: bool) -> None:
        with store.begin() as conn:
            cfg = alembic_config(store.url.render_as_string(hide_password=False))
            cfg.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(cfg, revision)

    to("0012_portal_accounts", True)
    with store.connect() as c:
        cols = {r[0] for r in c.execute(sa.text("SELECT * FROM record_cf")).cursor.description}
    assert "cf_ajmc" not in cols and "cf_wsh" in cols
    to("head", False)
    rec = record_tables["cf"]
    with store.connect() as c:
        assert c.execute(sa.select(rec.c.content_hash)).scalar_one().hex() == HASH_BEFORE_THE_UPGRADE
    assert _load(store, penalty()) == {"inserted": 0, "updated": 0, "unchanged": 1}
    assert _load(store, penalty(CF_WSH="阳市监罚〔2026〕9号", CF_AJMC="某案"), pk="9")["inserted"] == 1


def test_a_template_file_may_carry_them_under_their_chinese_names(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    from connectors.files import open_template

    path = Path(str(tmp_path)) / "cf.csv"
    row = penalty(CF_AJMC="某某案", CF_JJQD="可申请行政复议")
    header = [f.name_zh for f in CF.template_fields] + ["案件名称", "救济渠道"]
    path.write_text(",".join(header) + "\n" + ",".join(row[c] or "" for c in CF.columns) + "\n", encoding="utf-8")
    columns, chunks = open_template(path, "cf")
    assert {"CF_AJMC", "CF_JJQD"} <= set(columns)
    first = next(iter(chunks))
    assert first["CF_AJMC"].tolist() == ["某某案"] and first["CF_JJQD"].tolist() == ["可申请行政复议"]
