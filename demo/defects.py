"""The planted problems: the rule breaks the demo injects (and the rows that only need normalisation), in
which share, and how each one changes a neutral record. Every planted row is listed in ``sgs_demo_cases``
(``demo.provisioning``), so tests downstream can compare the quarantine with what was planted."""

from __future__ import annotations

import datetime as dt
import random

from demo.decisions import BadDate, Record, add_years
from demo.departments import DEPARTMENTS
from demo.identities import USCC_ALPHABET, PartyKind

#: Share of rows planted per (department, dataset).
BAD_SHARE = 0.06
FIXABLE_SHARE = 0.015
CORRECTION_SHARE = 0.01
#: Rows per dataset that pass our catalogue but that the provincial stand-in rejects (a 文书号 marked
#: 作废, its rule PROV-103), so the demo shows a rejection travelling back into the department's feedback.
PROVINCE_REJECTS = 2

#: kind → (verdict, party kind it needs or None, datasets it applies to)
DEFECTS: dict[str, tuple[str, PartyKind | None, tuple[str, ...]]] = {
    "bad_uscc_check": ("bad", "org", ("cf", "xk")),
    "zero_uscc": ("bad", "org", ("cf", "xk")),
    "placeholder_without_gszc": ("bad", "ind", ("cf", "xk")),
    "missing_wsh": ("bad", None, ("cf", "xk")),
    "np_bad_id_check": ("bad", "np", ("cf", "xk")),
    "np_missing_id": ("bad", "np", ("cf", "xk")),
    "impossible_date": ("bad", None, ("cf", "xk")),
    "future_date": ("bad", None, ("cf", "xk")),
    "unknown_code": ("bad", None, ("cf", "xk")),
    "fine_missing": ("bad", None, ("cf",)),
    "junk_name": ("bad", None, ("cf", "xk")),
    "validity_before_decision": ("bad", None, ("xk",)),
    # Pass our catalogue; the provincial stand-in rejects them (verdict "province").
    "province_void_number": ("province", None, ("cf", "xk")),
    # Good after normalisation (spec §3.4): these must NOT end in quarantine.
    "fullwidth_uscc": ("fixable", "org", ("cf", "xk")),
    "padded_text": ("fixable", None, ("cf", "xk")),
}
_FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"})


def defect_kinds(department: str, dataset: str, verdict: str = "bad") -> list[str]:
    """Kinds of planted rows that apply to one department dataset."""
    spec = DEPARTMENTS[department].datasets[dataset]
    out = []
    for kind, (v, needs, datasets) in DEFECTS.items():
        if v != verdict or dataset not in datasets:
            continue
        if needs == "np" and not spec.has_np:
            continue
        if kind == "impossible_date" and not spec.string_dates:
            continue  # a DATE column cannot hold 2025-02-30
        out.append(kind)
    return out


def apply_defect(rec: Record, kind: str, i: int, rng: random.Random) -> None:
    p = rec.party
    if kind == "bad_uscc_check":
        assert p.uscc
        right = p.uscc[-1]
        p.uscc = p.uscc[:17] + rng.choice([c for c in USCC_ALPHABET if c != right])
    elif kind == "zero_uscc":
        p.uscc, p.zzjg = "000000000000000000", None
    elif kind == "placeholder_without_gszc":
        p.uscc, p.gszc = "00000000000000000X", None
    elif kind == "missing_wsh":
        rec.wsh = None if i % 2 else ""
    elif kind == "np_bad_id_check":
        assert p.zjhm
        p.zjhm = p.zjhm[:17] + rng.choice([c for c in "0123456789X" if c != p.zjhm[-1]])
    elif kind == "np_missing_id":
        p.zjhm = None
    elif kind == "impossible_date":
        assert isinstance(rec.jdrq, dt.date)
        rec.jdrq = BadDate(rec.jdrq.year, 2, 30 + (i % 2))  # 02/30 and 02/31
    elif kind == "future_date":
        # Far enough ahead to stay in the future for years after the demo was written.
        d = dt.date(2031 + i % 3, 1 + rng.randrange(12), 1 + rng.randrange(28))
        rec.jdrq = d
        if rec.dataset == "cf":
            rec.yxq = add_years(d, 3)
        else:
            rec.yxqz, rec.yxqzi = d, (add_years(d, 5) if rec.yxqzi != dt.date(2099, 12, 31) else rec.yxqzi)
    elif kind == "unknown_code":
        rec.unknown_code = True
    elif kind == "fine_missing":
        rec.fk = None
    elif kind == "junk_name":
        p.name = ("无", "/", "不详", "——")[i % 4]
    elif kind == "validity_before_decision":
        assert isinstance(rec.jdrq, dt.date)
        rec.yxqzi = rec.jdrq - dt.timedelta(days=rng.randrange(1, 300))
    elif kind == "province_void_number":
        assert rec.wsh
        rec.wsh = rec.wsh + "（作废）"
    elif kind == "fullwidth_uscc":
        assert p.uscc
        p.uscc = p.uscc.translate(_FULLWIDTH)
    elif kind == "padded_text":
        p.name = ("  " + p.name + " ") if i % 2 else ("\u3000" + p.name + "\u3000")
        if rec.wsh:
            rec.wsh = rec.wsh + " "
    else:  # pragma: no cover - the table above is the only source of kinds
        raise KeyError(kind)
