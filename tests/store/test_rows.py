"""store.rows: what a prepared chunk carries between the prepare worker and the run (issue 13: no per-row
pickling), and the typing findings of transforms.typing as typed issues."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd

from national import dataset
from national.issues import Issue
from store import bulk
from store.keys import KEY_LENGTH
from store.rows import HASH_BYTES, Batch, Prepared, _Digests, _Lines, content_hash, keyed
from transforms.typing import NO_ISSUES, type_rows

CF = dataset("cf")


def _prepared(n: int, key_with_newline: bool = False) -> Prepared:
    keys = [f"11330100MB0000000X|罚〔2025〕{i}号" for i in range(n)]
    if key_with_newline:
        keys[1] = "a\nb"
    return Prepared(
        typed=None,
        copy_text={"CF_WSH": bulk.copy_text([f"罚〔2025〕{i}号" for i in range(n)]), "CF_NR_FK": bulk.copy_text([None] * n)},
        statuses=None,
        rejected=np.zeros(n, dtype=bool),
        issues=[NO_ISSUES] * n,
        keys=keys,
        payload=[f'{{"CF_WSH": "罚\\n{i}"}}' for i in range(n)],
        hashes=[content_hash(str(i)) for i in range(n)],
    )


def test_a_prepared_chunk_travels_as_a_few_strings_and_comes_back_equal() -> None:
    p = _prepared(1000)
    state = p.__getstate__()
    assert isinstance(state["keys"], _Lines) and isinstance(state["payload"], _Lines)
    assert isinstance(state["hashes"], _Digests) and len(state["hashes"].data) == 1000 * HASH_BYTES
    assert all(isinstance(v, _Lines) for v in state["copy_text"].values())
    back = pickle.loads(pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL))
    assert back.keys == p.keys and back.payload == p.payload and back.hashes == p.hashes
    assert back.copy_text is not None and p.copy_text is not None
    assert back.copy_text == p.copy_text and all(isinstance(v, bulk.CopyText) for v in back.copy_text.values())
    assert back.copy_text["CF_NR_FK"][0] == "\\N"


def test_a_column_with_a_newline_or_none_travels_as_it_is() -> None:
    p = _prepared(3, key_with_newline=True)
    assert p.__getstate__()["keys"] == p.keys  # not joined: "\n" inside a key would cut it
    back = pickle.loads(pickle.dumps(p))
    assert back.keys[1] == "a\nb" and back.keys == p.keys
    b = Batch("d", "cf", None, ["[1]", "[2]"], [None, "{}"], np.zeros(2, dtype=bool), [NO_ISSUES, NO_ISSUES],
              source_position=["x\ny", None])
    again = pickle.loads(pickle.dumps(b))
    assert again.source_position == ["x\ny", None] and again.source_pk == ["[1]", "[2]"] and len(again) == 2


def test_load_findings_are_typed_issues_and_only_for_rows_the_catalogue_let_through() -> None:
    base = dict.fromkeys(CF.columns)
    rows = []
    for wsh, jdrq in (("罚1", "2025-13-01"), ("罚2", "not a date"), ("罚" + "长" * KEY_LENGTH, "2025-01-02"), ("罚\x00", "2025-01-02")):
        r = dict(base)
        r.update({"CF_SJLYDM": "11330100MB0000000X", "CF_WSH": wsh, "CF_JDRQ": jdrq})
        rows.append(r)
    national = pd.DataFrame(rows, dtype=object)
    catalogue = Issue("CF-X", "CF_JDRQ", "规则", "error")
    k = keyed(national, CF)
    assert k.long_keys == [2] and k.unstorable == [3]
    typed = type_rows(national, CF, np.array([False, True, False, False]), [NO_ISSUES, [catalogue], NO_ISSUES, NO_ISSUES],
                      long_keys=k.long_keys, unstorable=k.unstorable, key_length=KEY_LENGTH)
    assert typed.rejected.tolist() == [True, True, True, True]
    assert [(x.rule, x.field) for x in typed.issues[0]] == [("LOAD-TYPE", "CF_JDRQ")]
    assert typed.issues[0][0].message == "处罚决定日期（CF_JDRQ）的值不是可入库的日期：请按模板格式填写后重新报送"
    assert list(typed.issues[1]) == [catalogue]  # the catalogue already rejected it: no LOAD-TYPE on top
    assert [(x.rule, x.field) for x in typed.issues[2]] == [("LOAD-KEY", "CF_WSH")]
    assert [(x.rule, x.field) for x in typed.issues[3]] == [("LOAD-TEXT", "CF_WSH")]
    assert typed.values["CF_JDRQ"][0] is None and str(typed.values["CF_JDRQ"][2]) == "2025-01-02"


def test_business_key_is_decision_and_party_and_never_shows_an_id_number() -> None:
    from national.keys import business_key, id_digest, party_key
    from store.rows import business_keys

    cf = dataset("cf")
    base = {c: None for c in cf.columns} | {"CF_SJLYDM": "11330100MB0000000X", "CF_WSH": "杭市监罚〔2025〕1号"}
    company = base | {"CF_XDR_MC": "某某贸易有限公司", "CF_XDR_SHXYM": "91330100MA27XYZ12A"}
    person = base | {"CF_XDR_MC": "张三", "CF_XDR_ZJHM": "330106199001011234"}
    unnamed = base | {"CF_XDR_MC": "某某个体户"}
    frame = pd.DataFrame([company, person, unnamed], columns=cf.columns, dtype=object)
    keys = business_keys(frame, cf)
    decision = "11330100MB0000000X|杭市监罚〔2025〕1号|"
    assert keys == [decision + "91330100MA27XYZ12A", decision + id_digest("330106199001011234"), decision + "name:某某个体户"]
    assert "330106199001011234" not in keys[1] and "19900101" not in keys[1]
    assert keys == [business_key(cf, r) for r in (company, person, unnamed)]
    # The stored forms: full-width and spaced values give the key their normalised row gets.
    assert business_key(cf, base | {"CF_WSH": " 杭市监罚〔２０２５〕１号　", "CF_XDR_SHXYM": "９１３３０１００ＭＡ２７ＸＹＺ１２Ａ"}) == keys[0]
    assert party_key(None, None, " 330106199001011234 ", "张三") == party_key("", None, "330106199001011234", "李四")  # the ID wins
    # Two 个体工商户 with the placeholder credit code (spec §3.3) in one decision: told apart by 工商注册号.
    ph = "00000000000000000X"
    assert party_key(ph, "330100600123456", None, "个体工商户") == "reg:330100600123456"
    assert party_key(ph, "330100600123456", None, "个体工商户") != party_key(ph, "330100600654321", None, "个体工商户")
    assert business_keys(pd.DataFrame([base | {"CF_XDR_SHXYM": ph, "CF_XDR_GSZC": "330100600123456"}], columns=cf.columns, dtype=object),
                         cf) == [decision + "reg:330100600123456"]
    # A licence without 许可编号 (optional, spec §1 #18) to two parties: two keys.
    xk = dataset("xk")
    lic = {c: None for c in xk.columns} | {"XK_LYDWDM": "11330100MB0000000X", "XK_WSH": "杭发改许〔2025〕1号"}
    assert business_key(xk, lic | {"XK_XDR_SHXYM": "91330100MA27XYZ12A"}) != business_key(xk, lic | {"XK_XDR_SHXYM": "91330100MA27XYZ45B"})


def test_payloads_encoded_per_distinct_value_equal_the_whole_frame_encoded() -> None:
    """``payloads`` encodes each distinct text of a column once and joins the rows from the pieces: byte for
    byte what encoding the whole frame gives (the content hash is taken of it), on hostile text; a value the
    encoder refuses (a lone surrogate) or a value that is not text takes the whole-frame path."""
    import random

    from store.rows import _payloads_by_value, _payloads_of_frame, payloads

    rng = random.Random(3)
    alphabet = ['"', "\\", "/", ",", ":", "{", "}", "\n", "\t", "\x00", "\x1f", "\u2028", "\u3000", "é", "汉", "😀",
                "a", "0", " ", '","', "null", "\\u0000"]
    pool = [None, "", *("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) for _ in range(300))]
    columns = ["CF_WSH", "CF_XDR_MC", "CF_JDRQ", "BZ"]
    frame = pd.DataFrame({c: [rng.choice(pool) for _ in range(2000)] for c in columns}, dtype=object)
    frame["BZ"] = None  # a column without any value
    assert payloads(frame, columns) == _payloads_of_frame(frame, columns)
    # Without a backslash or a quote the cut at '","' is never in doubt: the pieces are used.
    plain = frame.map(lambda v: v.replace("\\", "").replace('"', "") if isinstance(v, str) else v)
    fast = _payloads_by_value(plain, columns)
    assert fast is not None and fast == _payloads_of_frame(plain, columns)
    # A value holding '",' beside one ending in a backslash: each column's pieces are checked.
    tricky = pd.DataFrame({"CF_WSH": ['a",', "b", "c\\"], "CF_XDR_MC": ['",",', None, "\\"], "CF_JDRQ": None, "BZ": None})
    assert payloads(tricky, columns) == _payloads_of_frame(tricky, columns)
    for odd in ("断\ud800", float("nan"), 1):
        other = frame.copy()
        other.iloc[5, 1] = odd
        assert _payloads_by_value(other, columns) is None
        assert payloads(other, columns) == _payloads_of_frame(other, columns)
