"""How a department's own columns and codes map to the national template."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class NotPublicRules(BaseModel):
    """不予公开 (spec §5.3): records that are stored, assessed and pushed but never shown in the public column.

    ``flag_column``/``flag_values``: a department column marking such a decision (state or commercial secrets,
    a minor, …); ``categories``: a penalty whose 处罚类别 (CF_CFLB) are all among these (e.g. only 警告 /
    通报批评), or a licence whose 许可类别 (XK_XKLB) is one of them; ``reason``: the text stored with the record.
    """

    model_config = ConfigDict(extra="forbid")

    flag_column: str | None = Field(default=None, min_length=1, max_length=128)
    flag_values: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    reason: str = Field(default="不予公开", min_length=1, max_length=100)

    @model_validator(mode="after")
    def _flag_pairs(self) -> NotPublicRules:
        if bool(self.flag_column) != bool(self.flag_values):
            raise ValueError("not_public 的 flag_column 与 flag_values 须同时配置：标记列及表示“不予公开”的取值")
        return self


class MappingSettings(BaseModel):
    """Department column names and codes → national columns and values.

    ``columns`` maps a national column code (``CF_WSH``) to the department's column name; ``constants``
    gives a fixed value for a national column the source does not hold (often 数据来源单位 and its
    code); ``codes`` translates the department's own codes into national values per column, e.g.
    ``CF_XDR_LB: {"1": 法人及非法人组织}``; ``amounts_in_yuan`` lists amount columns the source keeps in
    元, which are converted to 万元.
    """

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    codes: dict[str, dict[str, str]] = Field(default_factory=dict)
    amounts_in_yuan: list[str] = Field(default_factory=list)
    #: Publicity regime inputs (spec §5.2) when the source does not say: severity of the 失信 and
    #: whether the department's domain is one of 特种设备/安全生产/消防 (longer minimum period).
    severity: str = Field(default="一般失信", pattern="^(一般失信|严重失信)$")
    special_domain: bool = False
    #: 撤销 (revocation, spec §5.3): a department column whose values say the decision was revoked (复议/诉讼
    #: overturned it, or it was entered in error). A row with one of ``revoked_values`` there withdraws its
    #: record from publicity with a reason, under every read strategy (the push sends a withdrawal).
    status_column: str | None = Field(default=None, min_length=1, max_length=128)
    revoked_values: list[str] = Field(default_factory=list)

    #: 不予公开 rules of the department (None: every record inside its publicity period is shown).
    not_public: NotPublicRules | None = None

    @model_validator(mode="after")
    def _revocation_pairs(self) -> MappingSettings:
        if bool(self.status_column) != bool(self.revoked_values):
            raise ValueError("status_column 与 revoked_values 须同时配置：状态列及表示“已撤销”的取值")
        return self
