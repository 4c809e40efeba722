"""``mask_texts`` (the public column's batch masking) equals ``mask_text`` value by value, also on hostile text."""

from __future__ import annotations

import random

from national.masking import mask_text, mask_texts

DIGITS = "0123456789" + "０１２３４５６７８９" + "٠١٢٣٤٥٦٧٨٩"
SEPARATORS = [" ", "-", ".", "/", "\u3000", "\t", "\n", "－", "—", "\u00a0", "．", "_"]
INVISIBLE = ["\u200b", "\u200d", "\ufeff", "\u00ad", "\u2060"]
WORDS = ["杭州某某科技有限公司", "罚款", "第八条", "X", "Ｘ", "x", "MA", "电话", "卡号", "〔2026〕", "号", "身份证"]


def _noise(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 12)):
        kind = rng.random()
        if kind < 0.45:
            parts.append("".join(rng.choice(DIGITS[:10] if rng.random() < 0.7 else DIGITS) for _ in range(rng.randint(1, 19))))
        elif kind < 0.65:
            parts.append("".join(rng.choice(SEPARATORS) for _ in range(rng.randint(1, 3))))
        elif kind < 0.75:
            parts.append("".join(rng.choice(INVISIBLE) for _ in range(rng.randint(1, 4))))
        else:
            parts.append(rng.choice(WORDS))
    return "".join(parts)


def _credit_codes(rng: random.Random, n: int) -> list[str]:
    """Valid 统一社会信用代码 (check digit by python-stdnum), some all-digit, some with a birth date in 7–14
    (those could be ID numbers and are masked), some with a wrong check digit, some lower case."""
    from stdnum.cn import uscc

    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    out = []
    for k in range(n):
        digits_only = k % 3 == 0
        body = "".join(rng.choice("0123456789" if digits_only else alphabet) for _ in range(17))
        if k % 5 == 0:
            body = body[:6] + f"19{rng.randint(50, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" + body[14:]
        code = body + uscc.calc_check_digit(body)
        if k % 7 == 0:
            code = code[:17] + ("0" if code[17] != "0" else "1")
        out.append(code.lower() if k % 11 == 0 else code)
    return out


def test_batch_masking_equals_value_by_value_masking() -> None:
    rng = random.Random(20261201)
    known = ["330106198502031234", "3301 0619 8502 0312 3X", "３３０１０６１９８５０２０３１２３Ｘ", "13812345678",
             "6222 0212 3456 7890 123", "6222021234567890123", "91330106MA2CFX0L5K", "113301000024713838",
             "330106\u200b19850203\u200b1234", "330106--19850203--1234", "电话：138-1234-5678", "", None,
             "9133011165397956X3", "330106198502031234\x00330106198502031234"]
    codes = _credit_codes(rng, 5_000)
    values = known + [_noise(rng) for _ in range(20_000)] + codes + codes[:500] + [f"代码{c}号" for c in codes[:500]]
    assert mask_texts(values) == [mask_text(v) for v in values]
    assert sum(a != b for a, b in zip(mask_texts(values), values, strict=True)) > 1000  # the noise does hit numbers
    masked_codes = mask_texts(codes)
    assert 0 < sum(m != c for m, c in zip(masked_codes, codes, strict=True)) < len(codes)  # both kinds occur


def test_vectorised_credit_code_check_equals_the_scalar_one() -> None:
    """``_public_credit_codes`` (numpy, on masked_changes' hot path) equals ``is_public_credit_code`` for valid and
    broken codes, birth dates on the edges (29 February of leap and non-leap years, 1849/1850, month 13, day 0)."""
    from stdnum.cn import uscc

    from national.masking import _public_credit_codes, is_public_credit_code

    rng = random.Random(7)
    values = _credit_codes(rng, 3_000)
    for date in ("20000229", "19000229", "20240229", "20230229", "18491231", "18500101", "19851301", "19850100",
                 "19850431", "99991231", "0000AB12"):
        for region in ("330106", "913301", "MA2CFX"):
            body = (region + date + "123")[:17]
            if all(c in "0123456789ABCDEFGHJKLMNPQRTUWXY" for c in body):
                values.append(body + uscc.calc_check_digit(body))
    values += ["", "91330106MA2CFX0L5", "91330106MA2CFX0L5KK", "９１３３０１０６ＭＡ２ＣＦＸ０Ｌ５Ｋ", "91330106MA2CFX0L5I"]
    got = _public_credit_codes(values).tolist()
    want = [is_public_credit_code(v) and v == v.upper() for v in values]  # the vectorised form takes upper case only
    assert got == want
    assert 0 < sum(got) < len(values)


def test_repeated_values_and_other_types_are_masked_as_one_by_one() -> None:
    """A column that repeats its values is judged per distinct value; values that are not text are left alone;
    a NUL inside a value (with or without a number beside it) takes the value-by-value path: all equal to
    ``mask_text`` of each value."""
    import datetime as dt
    from decimal import Decimal

    from national.masking import masked_changes

    rng = random.Random(7)
    base = [_noise(rng) for _ in range(300)] + ["身份证330106198502031234", "杭市监罚决〔2025〕12345号", "无数字", ""]
    others: list[object] = [None, dt.date(2025, 1, 1), Decimal("13812345678"), 13812345678, 1.5]
    for extra in ([], ["a\x00b"], ["330106198502031234\x00x"]):
        values: list[object] = (base + others + extra) * 20
        rng.shuffle(values)
        want = {i: m for i, v in enumerate(values) if isinstance(v, str) and (m := mask_text(v)) != v}
        assert masked_changes(values) == want
        assert list(masked_changes(values)) == sorted(want)
