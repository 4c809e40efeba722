from __future__ import annotations

from transforms.masking import mask_id_number, mask_record, mask_text


def test_id_numbers_keep_six_and_four() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("E12345678") == "*****5678"
    assert mask_id_number("123") == "***"
    assert mask_id_number(None) is None


def test_free_text_masks_ids_phones_and_cards() -> None:
    text = "当事人（身份证11010519491231002X，旧证110105491231002，电话13812345678，卡号6222021234567890123）"
    masked = mask_text(text)
    assert masked is not None
    assert "11010519491231002X" not in masked and "110105********002X" in masked
    assert "110105491231002" not in masked and "110105******002" in masked
    assert "13812345678" not in masked and "138****5678" in masked
    assert "6222021234567890123" not in masked and masked.endswith("6222***********0123）")
    # A document number with letters around it is not an ID number.
    assert mask_text("杭市监罚〔2025〕123号") == "杭市监罚〔2025〕123号"


def test_record_masks_document_columns_and_free_text() -> None:
    rec = mask_record({"CF_XDR_ZJHM": "11010519491231002X", "CF_NR": "罚款，联系电话13812345678", "CF_WSH": "罚〔2025〕1号"})
    assert rec == {"CF_XDR_ZJHM": "110105********002X", "CF_NR": "罚款，联系电话138****5678", "CF_WSH": "罚〔2025〕1号"}


def test_public_credit_codes_are_not_masked_but_id_numbers_are() -> None:
    """Issue 12 item 6: an all-digit 统一社会信用代码 is public; an ID number in JSON-ish text is not."""
    from stdnum.cn import ric, uscc

    from transforms.masking import ID_COLUMNS, is_public_credit_code

    gov = "113301000024713838"  # a government body's USCC: valid GB 32100 check digit, only digits
    assert uscc.is_valid(gov) and not ric.is_valid(gov)  # cross-check with python-stdnum
    assert is_public_credit_code(gov)
    assert mask_text(gov) == gov
    assert mask_text(f"处罚机关代码{gov}；当事人身份证330106198502031234") == f"处罚机关代码{gov}；当事人身份证330106********1234"
    # A source key as stored (a JSON list) is masked like any other text.
    assert mask_text('["330106198502031234"]') == '["330106********1234"]'
    # An ID number is never taken for a credit code, also not with a wrong check digit, and a run with a
    # wrong USCC check digit stays masked (one digit changed).
    for person in ("330106198502031234", "11010519491231002X", "330106198502031235"):
        assert not is_public_credit_code(person)
        assert mask_text(person) != person
    assert mask_text("113301000024713839") == "113301********3839"
    # Only the natural persons' document columns are masked whole; organisation codes pass unchanged.
    assert ID_COLUMNS == {"CF_XDR_ZJHM", "CF_FR_ZJHM", "XK_XDR_ZJHM", "XK_FR_ZJHM"}
    rec = mask_record({"CF_XDR_SHXYM": gov, "CF_CFJGDM": gov, "CF_FR_ZJHM": "330106198502031234"})
    assert rec == {"CF_XDR_SHXYM": gov, "CF_CFJGDM": gov, "CF_FR_ZJHM": "330106********1234"}


def test_full_width_and_grouped_id_numbers_are_masked() -> None:
    """Issue 12 item 6: a full-width ID number showed its birth month and day; a grouped one was not masked."""
    cases = {
        "３３０１０６１９８５０２０３１２３４": "３３０１０６********１２３４",
        "身份证３３０１０６１９８５０２０３１２３Ｘ号": "身份证３３０１０６********１２３Ｘ号",
        "33010619850203123４": "330106********123４",  # one full-width digit at the end
        "330106 19850203 1234": "330106 ******** 1234",
        "330106-1985-0203-1234": "330106-****-****-1234",
        "330106　19850203　1234": "330106　********　1234",  # ideographic spaces
        "330106－19850203－1234": "330106－********－1234",  # full-width hyphens
        "旧证110105 491231 002": "旧证110105 ****** 002",
        "电话１３８１２３４５６７８": "电话１３８****５６７８",
    }
    for text, masked in cases.items():
        assert mask_text(text) == masked, text
    # Public codes and ordinary numbers stay as written, full-width or not.
    for kept in ("１１３３０１００００２４７１３８３８", "杭市监罚〔2025〕123号", "罚款 2000 元，2025-03-03", "金额１２３４５"):
        assert mask_text(kept) == kept


def test_id_numbers_in_any_grouping_are_masked_keeping_separators() -> None:
    """Groups of four, tabs, newlines, two spaces, dots, underscores, slashes, a written date and a zero-width
    space between the digits: the birth date is masked, every separator stays as written."""
    cases = {
        "3301 0619 8502 0312 3X": "3301 06** **** **12 3X",
        "330106\t19850203\t123X": "330106\t********\t123X",
        "330106\n19850203\n123X": "330106\n********\n123X",
        "330106\r\n19850203\r\n123X": "330106\r\n********\r\n123X",
        "330106  19850203  123X": "330106  ********  123X",
        "330106.19850203.123X": "330106.********.123X",
        "330106_19850203_123X": "330106_********_123X",
        "330106 1985-02-03 123X": "330106 ****-**-** 123X",
        "330106/1985/02/03/123X": "330106/****/**/**/123X",
        "3301061985\u200b0203123X": "330106****\u200b****123X",
        "330106．19850203．123Ｘ": "330106．********．123Ｘ",  # full-width dots and check digit
        "1101 0549 1231 002": "1101 05** **** 002",  # a 15-digit number in groups of four
        "处罚日期 2025-01-02 当事人 330106/1985/02/03/123X。": "处罚日期 2025-01-02 当事人 330106/****/**/**/123X。",
        "2025-01-02 330106198502031234": "2025-01-02 330106********1234",  # a date just before does not hide it
    }
    for text, masked in cases.items():
        assert mask_text(text) == masked, repr(text)
    # Dates, amounts, a 文书号, a credit code (also grouped), rows of numbers: unchanged.
    for kept in (
        "2025-01-02 罚款 5000 元",
        "杭市监罚〔2025〕123号",
        "113301000024713838",
        "1133 0100 0024 7138 38",
        "2025-01-02 2025-01-03 2025-01-04 2025-01-05",
        "数量 1 2 3 4 5 6 7 8 9 10 11 12 13 14",
        "罚款 5000 元，没收 12000 元，合计 17000 元",
    ):
        assert mask_text(kept) == kept, repr(kept)


def test_mask_text_stays_linear_on_long_digit_rows() -> None:
    import time

    for text in ("1 " * 100_000, "1\u200b" * 100_000, "330106 19850203 1234 " * 10_000):
        started = time.perf_counter()
        mask_text(text)
        assert time.perf_counter() - started < 5, repr(text[:20])


def test_credit_codes_with_long_digit_runs_stay_whole() -> None:
    """A valid 统一社会信用代码 whose first 16 characters are digits (``9133011165397956X3``) looked like a bank card
    to the card rule and was shown as ``9133********7956X3`` (found by the public column over the demo data:
    110 of 558 demo penalties). Inside text, beside Chinese characters, it stays whole too; a real card number
    and a mobile number next to it are still masked."""
    code = "9133011165397956X3"
    assert is_valid_uscc(code)
    assert mask_text(code) == code
    assert mask_text(f"统一社会信用代码{code}，卡号 6222021234567890123，电话13812345678") == (
        f"统一社会信用代码{code}，卡号 6222***********0123，电话138****5678"
    )
    assert mask_text("账号6222021234567890X") == "账号6222********7890X"  # not a credit code: still a card


def is_valid_uscc(code: str) -> bool:
    from transforms.masking import is_public_credit_code

    return is_public_credit_code(code)
