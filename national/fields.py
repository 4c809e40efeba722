"""National columns of the 2019 template (spec §1 for 行政许可, §2 for 行政处罚)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DatasetName = Literal["cf", "xk"]

#: How a column is normalised and checked.
#: - ``text``: free text; trimmed.
#: - ``code``: an identifier (USCC, ID number, registration numbers); NFKC, upper case, no spaces.
#: - ``number``: a document or licence number (文书号, 许可编号); NFKC (full-width letters, digits and symbols →
#:   half-width, spec §3.4 [C]), trimmed; 汉字 and 〔〕 as written.
#: - ``name``: a name or title (names of parties and authorities, 文书名称, 证书名称); full-width letters and digits →
#:   half-width (spec §3.4 [C]), trimmed; brackets and other punctuation as written.
#: - ``enum``: a value from a code list; trimmed, full-width → half-width.
#: - ``date``: a calendar date, canonical ``YYYY-MM-DD``.
#: - ``amount``: a decimal amount in 万元, canonical plain decimal string.
FieldKind = Literal["text", "name", "number", "code", "enum", "date", "amount"]


@dataclass(frozen=True)
class Field:
    """One national column."""

    code: str
    name_zh: str
    kind: FieldKind
    max_length: int | None
    #: ``\n`` is allowed only in the long free-text columns (spec §3.4).
    multiline: bool = False
    #: An optional field beyond the 2019 national template (issue 17 item 11): mapped, validated, stored and
    #: shown like any column, but never part of the national payload sent upstream, and left out of a record's
    #: content hash while empty (an existing record does not look changed after the upgrade).
    extension: bool = False


@dataclass(frozen=True)
class Dataset:
    """One national dataset: its columns, business key and naming."""

    name: DatasetName
    name_zh: str
    fields: tuple[Field, ...]
    #: The decision part of the national business key (design.md "Central store"): source unit's USCC +
    #: document number (+ licence number for 行政许可). The key adds the party (:attr:`party_columns`,
    #: ``national.keys``): one decision against several parties (共同违法) is one record per party.
    business_key: tuple[str, ...]
    decision_date: str
    subject_type: str

    @property
    def party_columns(self) -> tuple[str, str, str, str]:
        """The party's columns the business key uses, in order of preference: 统一社会信用代码, 工商注册号 (when the
        credit code is a placeholder), 证件号码 (hashed in the key), 行政相对人名称 (``national.keys.party_key``)."""
        p = self.name.upper()
        return (f"{p}_XDR_SHXYM", f"{p}_XDR_GSZC", f"{p}_XDR_ZJHM", f"{p}_XDR_MC")

    @property
    def columns(self) -> list[str]:
        """Every column the platform maps, checks and stores: the template's, then the extension fields."""
        return [f.code for f in self.fields]

    @property
    def template_fields(self) -> tuple[Field, ...]:
        """The 2019 national template's columns only (what goes upstream, in the template's order)."""
        return tuple(f for f in self.fields if not f.extension)

    @property
    def template_columns(self) -> list[str]:
        return [f.code for f in self.template_fields]

    @property
    def extension_columns(self) -> list[str]:
        """The optional fields beyond the national template (:attr:`Field.extension`)."""
        return [f.code for f in self.fields if f.extension]

    def field(self, code: str) -> Field:
        for f in self.fields:
            if f.code == code:
                return f
        raise KeyError(f"{code} is not a column of the {self.name_zh} ({self.name}) template")

    def columns_of_kind(self, kind: FieldKind) -> list[str]:
        return [f.code for f in self.fields if f.kind == kind]

    @property
    def chinese_names(self) -> dict[str, str]:
        """Column code → the template's Chinese column name."""
        return {f.code: f.name_zh for f in self.fields}


def _party_fields(prefix: str) -> tuple[Field, ...]:
    """Columns 1–13, shared by both datasets with their own prefix (spec §2)."""
    p = prefix
    return (
        Field(f"{p}_XDR_MC", "行政相对人名称", "name", 200),
        Field(f"{p}_XDR_LB", "行政相对人类别", "enum", 16),
        Field(f"{p}_XDR_SHXYM", "行政相对人代码_1(统一社会信用代码)", "code", 18),
        Field(f"{p}_XDR_GSZC", "行政相对人代码_2(工商注册号)", "code", 50),
        Field(f"{p}_XDR_ZZJG", "行政相对人代码_3(组织机构代码)", "code", 9),
        Field(f"{p}_XDR_SWDJ", "行政相对人代码_4(税务登记号)", "code", 15),
        Field(f"{p}_XDR_SYDW", "行政相对人代码_5(事业单位证书号)", "code", 12),
        Field(f"{p}_XDR_SHZZ", "行政相对人代码_6(社会组织登记证号)", "code", 50),
        Field(f"{p}_FRDB", "法定代表人", "name", 50),
        Field(f"{p}_FR_ZJLX", "法定代表人证件类型", "enum", 64),
        Field(f"{p}_FR_ZJHM", "法定代表人证件号码", "code", 64),
        Field(f"{p}_XDR_ZJLX", "证件类型", "enum", 64),
        Field(f"{p}_XDR_ZJHM", "证件号码", "code", 64),
    )


LICENCE = Dataset(
    name="xk",
    name_zh="行政许可",
    fields=_party_fields("XK")
    + (
        Field("XK_XKWS", "行政许可决定文书名称", "name", 64),
        Field("XK_WSH", "行政许可决定文书号", "number", 64),
        Field("XK_XKLB", "许可类别", "enum", 256),
        Field("XK_XKZS", "许可证书名称", "name", 64),
        Field("XK_XKBH", "许可编号", "number", 64),
        Field("XK_NR", "许可内容", "text", 4000, multiline=True),
        Field("XK_JDRQ", "许可决定日期", "date", None),
        Field("XK_YXQZ", "有效期自", "date", None),
        Field("XK_YXQZI", "有效期至", "date", None),
        Field("XK_XKJG", "许可机关", "name", 200),
        Field("XK_XKJGDM", "许可机关统一社会信用代码", "code", 18),
        Field("XK_ZT", "当前状态", "enum", 1),
        Field("XK_LYDW", "数据来源单位", "name", 200),
        Field("XK_LYDWDM", "数据来源单位统一社会信用代码", "code", 18),
        Field("BZ", "备注", "text", 512, multiline=True),
        # Beyond the 2019 template: content the seed requires to be published (issue 17 item 11). 项目名称 is the
        # 2016 template's XK_XMMC (spec Appendix A), under its old code.
        Field("XK_XMMC", "项目名称", "name", 200, extension=True),
        Field("XK_SDYJ", "设定依据", "text", 2048, extension=True),
    ),
    business_key=("XK_LYDWDM", "XK_WSH", "XK_XKBH"),
    decision_date="XK_JDRQ",
    subject_type="XK_XDR_LB",
)

PENALTY = Dataset(
    name="cf",
    name_zh="行政处罚",
    fields=_party_fields("CF")
    + (
        Field("CF_WSH", "行政处罚决定书文号", "number", 128),
        Field("CF_WFXW", "违法行为类型", "text", 2000),
        Field("CF_SY", "违法事实", "text", 2000, multiline=True),
        Field("CF_YJ", "处罚依据", "text", 2048),
        Field("CF_CFLB", "处罚类别", "enum", 256),
        Field("CF_NR", "处罚内容", "text", 4000, multiline=True),
        Field("CF_NR_FK", "罚款金额（万元）", "amount", None),
        Field("CF_NR_WFFF", "没收违法所得、没收非法财物的金额（万元）", "amount", None),
        Field("CF_NR_ZKDX", "暂扣或吊销证照名称及编号", "name", 200),
        Field("CF_JDRQ", "处罚决定日期", "date", None),
        Field("CF_YXQ", "处罚有效期", "date", None),
        Field("CF_GSJZQ", "公示截止期", "date", None),
        Field("CF_CFJG", "处罚机关", "name", 200),
        Field("CF_CFJGDM", "处罚机关统一社会信用代码", "code", 18),
        Field("CF_SJLY", "数据来源单位", "name", 200),
        Field("CF_SJLYDM", "数据来源单位统一社会信用代码", "code", 18),
        Field("BZ", "备注", "text", 512, multiline=True),
        # Beyond the 2019 template (issue 17 item 11).
        Field("CF_AJMC", "案件名称", "name", 500, extension=True),
        Field("CF_JJQD", "救济渠道", "text", 1000, multiline=True, extension=True),
    ),
    business_key=("CF_SJLYDM", "CF_WSH"),
    decision_date="CF_JDRQ",
    subject_type="CF_XDR_LB",
)

DATASETS: dict[str, Dataset] = {"cf": PENALTY, "xk": LICENCE}


def dataset(name: str) -> Dataset:
    """The dataset called ``name`` (``cf`` or ``xk``); an unknown name lists the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}: use one of {', '.join(sorted(DATASETS))}") from None
