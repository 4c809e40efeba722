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
