"""Masking for public output: the functions live in ``national.masking`` (pure, below every stage, so the store's
writer of the public column can use them too); this module keeps the transforms' import path."""

from national.masking import (
    ID_COLUMNS,
    is_public_credit_code,
    mask_exception,
    mask_id_number,
    mask_record,
    mask_text,
)

__all__ = ["ID_COLUMNS", "is_public_credit_code", "mask_exception", "mask_id_number", "mask_record", "mask_text"]
