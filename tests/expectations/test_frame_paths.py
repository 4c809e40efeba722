"""The frame's shared per-column passes judge every row as if it were alone.

Columns of many distinct values (names, decision texts) go through whole-column passes: lengths and the
missing mask in one pass, first characters looked up in a table, character classes found by one scan
of the joined column and mapped back to rows. These tests put dirty values next to each other, at
value boundaries and beside blanks, and compare each row's verdicts in the batch with its verdicts alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from exp_rows import TODAY, check, frame

from expectations import validate

#: Values breaking (or nearly breaking) text rules, at the start or end of a value.
DIRT = [
    "",
    None,
    "\x07开头",
    "结尾\x07",
    "中\ufffd间",
    "孤\ud800",
    "换\n行",
    "Ａ全角",
    "全角ｚ",
    "表情🙂",
    "🙂",
    "=1+1",
    "－1",
    "@某",
    "——",
    "无",
    "123",
    "...",
    "？！",
    "𝟎数学",
    "\u3000",
    "正常文本",
]


def _rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for k in range(3 * len(DIRT)):
        d = DIRT[k % len(DIRT)]
        alone = k // len(DIRT) == 0  # first round: the dirty value alone; then inside longer texts
        text = d if alone or d is None else (f"{d}事实{k}" if k % 2 else f"事实{k}{d}")
        rows.append(
            {
                "CF_WSH": f"文号{k}",
                "CF_SY": text,
                "CF_NR": text if k % 3 else f"内容{k}",
                "CF_XDR_MC": text if k % 4 else f"某公司{k}",
            }
        )
    return rows


def _rules(verdicts: object, i: int) -> set[str]:
    return {x.rule for x in verdicts.issues(i)}  # type: ignore[attr-defined]


def test_each_row_in_a_batch_is_judged_as_alone() -> None:
    rows = _rows()
    batch = check("cf", rows)
    assert batch.n_errors > len(DIRT)  # the dirt is seen
    for k, row in enumerate(rows):
        assert _rules(batch, k) == _rules(check("cf", [row]), 0), (k, row)


@pytest.mark.parametrize("blank", [np.nan, pd.NA, ""])
def test_nan_and_empty_count_as_missing(blank: object) -> None:
    rows = _rows()
    df = frame("cf", rows)
    none_rows = [k for k, r in enumerate(rows) if r["CF_SY"] is None]
    df.loc[none_rows, "CF_SY"] = blank
    assert [_rules(validate(df, "cf", today=TODAY), k) for k in range(len(rows))] == [
        _rules(check("cf", rows), k) for k in range(len(rows))
    ]


def test_pandas_string_columns_are_judged_like_object_columns() -> None:
    rows = _rows()
    df = frame("cf", rows)
    typed = df.astype({"CF_SY": "string", "CF_XDR_MC": "str"})
    expected = validate(df, "cf", today=TODAY)
    got = validate(typed, "cf", today=TODAY)
    assert got.rule_failures == expected.rule_failures
    assert [_rules(got, k) for k in range(len(rows))] == [_rules(expected, k) for k in range(len(rows))]
