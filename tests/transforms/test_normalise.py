from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pandas as pd
import pytest

from national import dataset
from transforms.derive import derive_penalty_fields, publicity_periods, strip_number_from_title
from transforms.normalise import (
    MappingError,
    map_to_national,
    normalise_amount,
    normalise_code,
    normalise_date,
    normalise_name,
    normalise_number,
)
from transforms.settings import MappingSettings


def s(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype=object)


def test_dates_in_every_accepted_form_become_iso() -> None:
    out = normalise_date(s("2024/01/05", "2024-01-05", "20240105", " 2024-01-05 10:11:12 ", "２０２４/０１/０５"))
    assert out.tolist() == ["2024-01-05"] * 5


def test_unparseable_dates_are_kept_for_the_rules() -> None:
    out = normalise_date(s("2023/02/30", "abc", "0000-00-00", "2024-01-05xyz", None, "  "))
    assert out.tolist() == ["2023/02/30", "abc", "0000-00-00", "2024-01-05xyz", None, None]


def test_codes_are_half_width_upper_case_without_spaces() -> None:
    out = normalise_code(s("９１３５０１００Ｍ０００１００Ｙ４３", " 11010519491231002x ", "9135 0100\u3000M000100Y43", "", None))
    assert out.tolist() == ["91350100M000100Y43", "11010519491231002X", "91350100M000100Y43", None, None]


def test_amounts_in_yuan_become_wan_and_junk_is_kept() -> None:
    out = normalise_amount(s("2000", "2000.50", "1,000", "2000元", None), in_yuan=True)
    assert out.tolist() == ["0.2", "0.20005", "1,000", "2000元", None]
    assert normalise_amount(s("0.2"), in_yuan=False).tolist() == ["0.2"]


def test_mapping_applies_columns_constants_codes_and_kinds() -> None:
    batch = pd.DataFrame(
        {
            "wsh": ["  杭市监罚〔2025〕1号 ", "x"],
            "lb": ["1", "9"],
            "fk": [Decimal("2000.00"), None],
            "rq": [dt.date(2024, 1, 1), dt.date(2024, 2, 1)],
            "dm": ["９１３５０１００Ｍ０００１００Ｙ４３", None],
        }
    )
    mapping = MappingSettings(
        columns={"CF_WSH": "wsh", "CF_XDR_LB": "lb", "CF_NR_FK": "fk", "CF_JDRQ": "rq", "CF_XDR_SHXYM": "dm"},
        constants={"CF_SJLY": "市市场监督管理局"},
        codes={"CF_XDR_LB": {"1": "法人及非法人组织"}},
        amounts_in_yuan=["CF_NR_FK"],
    )
    out = map_to_national(batch, mapping, dataset("cf"), department="scjgj")
    assert list(out.columns) == dataset("cf").columns
    first, second = out.to_dict("records")
    assert first["CF_WSH"] == "杭市监罚〔2025〕1号"
    assert first["CF_XDR_LB"] == "法人及非法人组织"
    assert second["CF_XDR_LB"] == "9"  # an unknown code is kept for the enumeration rule to report
    assert first["CF_NR_FK"] == "0.2" and second["CF_NR_FK"] is None
    assert first["CF_JDRQ"] == "2024-01-01"
    assert first["CF_XDR_SHXYM"] == "91350100M000100Y43"
    assert first["CF_SJLY"] == second["CF_SJLY"] == "市市场监督管理局"
    assert first["BZ"] is None


def test_mapping_to_a_missing_source_column_names_it() -> None:
    with pytest.raises(MappingError, match="不存在的列：nope"):
        map_to_national(pd.DataFrame({"a": [1]}), MappingSettings(columns={"CF_WSH": "nope"}), dataset("cf"), department="d")


def test_publicity_periods_follow_spec_examples() -> None:
    p = publicity_periods(s("2024-02-29", "2023-11-30", "2023-04-30", None), MappingSettings())
    assert p["publicity_end"].tolist() == ["2027-02-28", "2026-11-30", "2024-04-30", None]
    # 2023 regime minimum is 3 months: 2023-11-30 + 3 months = 2024-02-29 (spec §5.2)
    assert p["repair_eligible_from"].tolist()[1] == "2024-02-29"
    special = publicity_periods(s("2024-02-29"), MappingSettings(special_domain=True))
    assert special["repair_eligible_from"].tolist() == ["2025-02-28"]
    serious_2019 = publicity_periods(s("2022-01-31"), MappingSettings(severity="严重失信"))
    assert serious_2019.iloc[0].tolist() == ["2025-01-31", "2022-07-31"]


def test_gsjzq_is_derived_only_when_missing() -> None:
    frame = pd.DataFrame({c: [None, None] for c in dataset("cf").columns}, dtype=object)
    frame["CF_JDRQ"] = ["2024-03-01", "2024-03-01"]
    frame["CF_GSJZQ"] = [None, "2025-01-01"]
    out = derive_penalty_fields(frame, MappingSettings())
    assert out["CF_GSJZQ"].tolist() == ["2027-03-01", "2025-01-01"]
    assert out["_repair_eligible_from"].tolist() == ["2024-06-01", "2024-06-01"]


def test_org_code_hyphen_is_removed_only_in_org_code_columns() -> None:
    batch = pd.DataFrame({"zz": ["D2143569-X"], "wsh": ["A-1"]})
    out = map_to_national(batch, MappingSettings(columns={"CF_XDR_ZZJG": "zz", "CF_WSH": "wsh"}), dataset("cf"), department="d")
    assert out.loc[0, "CF_XDR_ZZJG"] == "D2143569X" and out.loc[0, "CF_WSH"] == "A-1"


def test_raw_json_of_a_row_does_not_depend_on_the_other_rows_of_its_chunk() -> None:
    """A lone surrogate (a broken legacy encoding) sends its row to the standard library's encoder; the
    other rows keep pandas' text, so their quarantine hashes stay the same from one run to the next."""
    from transforms.normalise import raw_json

    good = pd.DataFrame({"id": ["1"], "name": ['杭州 "甲" 公司']})
    broken = pd.DataFrame({"id": ["2"], "name": ["bad \udcff byte"]})
    both = pd.concat([good, broken], ignore_index=True)
    lines = raw_json(both)
    assert lines[0] == raw_json(good)[0]
    assert json.loads(lines[0]) == {"id": "1", "name": '杭州 "甲" 公司'}
    assert json.loads(lines[1])["id"] == "2"


def test_names_get_half_width_letters_and_digits_and_keep_their_brackets() -> None:
    """Spec §3.4 [C]: letters and digits half-width; [D]: brackets as registered (issue 17 item 3)."""
    out = normalise_name(s("\u3000阳泉市ＡＢＣ商贸有限公司 ", "阳泉市某某（分公司）", "Ｈ＆Ｍ商店", "张三", None, "\u3000"))
    assert out.tolist() == ["阳泉市ABC商贸有限公司", "阳泉市某某（分公司）", "H＆M商店", "张三", None, None]


def test_document_numbers_get_nfkc_and_keep_han_and_their_brackets() -> None:
    out = normalise_number(s(" 阳市监罚〔２０２４〕１２号\u3000", "阳食许（２０２４）ＡＢ－３号", "晋〔二〇二四〕5号", None))
    assert out.tolist() == ["阳市监罚〔2024〕12号", "阳食许(2024)AB-3号", "晋〔二〇二四〕5号", None]


def test_mapping_normalises_names_numbers_and_codes_by_kind() -> None:
    batch = pd.DataFrame({"mc": ["\u3000阳泉市ＡＢＣ商贸有限公司 "], "wsh": ["阳市监罚〔２０２４〕１２号"],
                          "zjhm": ["１１０１０５１９４９１２３１００２ｘ"], "jg": ["阳泉市市场监督管理局（ＡＢ）"]})
    mapping = MappingSettings(columns={"CF_XDR_MC": "mc", "CF_WSH": "wsh", "CF_FR_ZJHM": "zjhm", "CF_CFJG": "jg"})
    row = map_to_national(batch, mapping, dataset("cf"), department="d").iloc[0]
    assert row["CF_XDR_MC"] == "阳泉市ABC商贸有限公司"
    assert row["CF_WSH"] == "阳市监罚〔2024〕12号"
    assert row["CF_FR_ZJHM"] == "11010519491231002X"
    assert row["CF_CFJG"] == "阳泉市市场监督管理局（AB）"


def test_title_loses_only_a_bracket_that_repeats_its_document_number() -> None:
    """Spec §1 #14 [C]: the 文书名称 is the part before the bracket (issue 17 item 5)."""
    frame = pd.DataFrame({
        "XK_XKWS": ["关于某公司发行企业债券核准的批复(发改财金〔2015〕123号)", "食品经营许可决定书（阳食许〔2024〕9号）",
                    "关于某某（福州）公司的批复", "准予变更登记通知书（分公司）", None],
        "XK_WSH": ["发改财金〔2015〕123号", "阳食许〔2024〕8号", "福州", "分公司", "x"],
    }, dtype=object)
    out = strip_number_from_title(frame)
    assert out["XK_XKWS"].tolist() == ["关于某公司发行企业债券核准的批复", "食品经营许可决定书（阳食许〔2024〕9号）",
                                       "关于某某（福州）公司的批复", "准予变更登记通知书", None]
    assert frame["XK_XKWS"].iloc[0].endswith("号)")  # the input is not changed
    clean = frame.iloc[2:3]
    assert strip_number_from_title(clean) is clean


def test_raw_json_of_a_chunk_with_refused_rows_equals_each_row_encoded_alone() -> None:
    """Rows pandas' encoder refuses (a lone surrogate) are found by halving the chunk: every row's text is the one
    it gets encoded alone (pandas' encoder, or the standard library for a refused row)."""
    import json

    from transforms.normalise import as_text_frame, json_records, raw_json

    values = ["a", "汉字/\\", None, '"x",', "断\ud800", "\ud83d", "ok", "\x00"]
    frame = as_text_frame(pd.DataFrame({"k": range(200), "v": [values[(i * 7) % len(values)] for i in range(200)]}))

    def alone(i: int) -> str:
        try:
            return json_records(frame.iloc[i : i + 1])[0]
        except UnicodeEncodeError:
            return json.dumps(frame.iloc[i].to_dict(), ensure_ascii=False)

    assert raw_json(frame) == [alone(i) for i in range(len(frame))]
