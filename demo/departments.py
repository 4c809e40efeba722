"""The three demo departments, each with its OWN schema, column names, codes and date formats, the way
real business systems differ (``departments/<code>.yaml`` maps each to the national template)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa

from demo.decisions import BadDate, DateValue, LicenceScenario, PenaltyScenario, Record
from demo.identities import Authority, Faker, Party, PartyKind

SourceKind = Literal["mariadb", "postgresql", "sqlite"]


@dataclass(frozen=True)
class DatasetSpec:
    """How one department keeps one dataset: table, keys, columns and the row writer."""

    table: str
    pk: str
    cursor: str
    columns: Callable[[], list[sa.Column[Any]]]
    to_row: Callable[[Record], dict[str, Any]]
    #: Called on the row of a record with ``unknown_code``: puts a code the mapping does not know.
    unknown: Callable[[dict[str, Any], int], None]
    remark: str
    status: tuple[str, str] | None = None  # (column, value meaning 无效) for licences
    string_dates: bool = False
    has_np: bool = True
    party_mix: tuple[tuple[PartyKind, float], ...] = (("org", 0.6), ("ind", 0.25), ("np", 0.1), ("nonprofit", 0.05))


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str
    uscc: str
    kind: SourceKind
    authorities: tuple[Authority, ...]
    industries: tuple[str, ...]
    shops: tuple[str, ...]
    nonprofits: tuple[str, ...]
    penalties: tuple[PenaltyScenario, ...]
    licences: tuple[LicenceScenario, ...]
    datasets: dict[str, DatasetSpec]
    #: Document number of a penalty decision; ``{prefix}`` is the deciding authority's.
    penalty_wsh: str = "{prefix}罚〔{year}〕{n}号"
    #: A decision is entered 0 … entry_days - 1 calendar days after it is made: how fast the department's clerks
    #: are, hence its 及时率 in the demo's replay (7 working days are 9 to 11 calendar days, more around holidays).
    entry_days: int = 12


def _d(d: DateValue, fmt: str) -> str | None:
    """A date in a department's text format; impossible dates are written as they were typed."""
    if d is None:
        return None
    if isinstance(d, BadDate):
        return fmt.replace("%Y", f"{d.year:04d}").replace("%m", f"{d.month:02d}").replace("%d", f"{d.day:02d}")
    return d.strftime(fmt)


def _real(d: DateValue) -> dt.date | None:
    if isinstance(d, BadDate):  # never planted in a DATE column; guard against a wrong plan
        raise ValueError("impossible date planted in a DATE column")
    return d


# ---- 阳泉市市场监督管理局 (MariaDB): pinyin columns, DATE columns, local codes ----------------------

_SCJGJ_LB = {"org": "02", "nonprofit": "03", "ind": "04", "np": "01"}
_SCJGJ_ZJLX = {"身份证": "01", "护照号": "02"}
#: 2019 处罚类别 codes; a decision with several categories stores them comma-joined ("2,3").
CFLB_2019 = {"警告": "1", "罚款": "2", "没收违法所得": "3", "没收非法财物": "3", "责令停产停业": "4",
             "暂扣许可证件": "5", "吊销许可证件": "5", "行政拘留": "6"}
CFLB_2019_TEXT = {"1": "警告", "2": "罚款", "3": "没收违法所得、没收非法财物", "4": "责令停产停业",
                  "5": "暂扣或者吊销许可证、暂扣或者吊销执照", "6": "行政拘留", "9": "其他"}
_XKLB_CODES = {"普通": "01", "特许": "02", "认可": "03", "核准": "04", "登记": "05", "其他-备案": "06"}


def cflb_2019_code(cats: Iterable[str]) -> str:
    codes = sorted({CFLB_2019.get(c, "9") for c in cats})
    return ",".join(codes)


def _scjgj_cf_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("ajid", sa.BigInteger, primary_key=True, autoincrement=False, comment="案件ID"),
        sa.Column("ajbh", S(32), comment="案件编号"),
        sa.Column("jdswh", S(64), comment="处罚决定书文号"),
        sa.Column("dsr_mc", S(200), comment="当事人名称"),
        sa.Column("dsr_lx", S(2), comment="当事人类型 01自然人 02法人 03非法人组织 04个体工商户"),
        sa.Column("tyshxydm", S(32), comment="统一社会信用代码"),
        sa.Column("gszch", S(32), comment="工商注册号"),
        sa.Column("zzjgdm", S(16), comment="组织机构代码"),
        sa.Column("fddbr", S(50), comment="法定代表人/经营者"),
        sa.Column("fddbr_zjlx", S(2), comment="法定代表人证件类型"),
        sa.Column("fddbr_zjhm", S(32), comment="法定代表人证件号码"),
        sa.Column("dsr_zjlx", S(2), comment="当事人证件类型"),
        sa.Column("dsr_zjhm", S(32), comment="当事人证件号码"),
        sa.Column("wfxwlx", S(500), comment="违法行为类型"),
        sa.Column("wfss", sa.Text, comment="违法事实"),
        sa.Column("cfyj", S(1000), comment="处罚依据"),
        sa.Column("cflb", S(20), comment="处罚类别 1警告 2罚款 3没收 4停产停业 5暂扣吊销 6拘留 9其他"),
        sa.Column("cfnr", sa.Text, comment="处罚内容"),
        sa.Column("fkje", sa.Numeric(16, 2), comment="罚款金额（元）"),
        sa.Column("mswfsdje", sa.Numeric(16, 2), comment="没收违法所得、非法财物金额（元）"),
        sa.Column("zkdxzz", S(200), comment="暂扣或吊销证照名称及编号"),
        sa.Column("cfjdrq", sa.Date, comment="处罚决定日期"),
        sa.Column("cfyxq", sa.Date, comment="处罚有效期"),
        sa.Column("cfjg", S(200), comment="处罚机关"),
        sa.Column("cfjgdm", S(32), comment="处罚机关统一社会信用代码"),
        sa.Column("bz", S(512), comment="备注"),
        sa.Column("scbz", S(1), comment="删除标志"),
        sa.Column("gxsj", sa.DateTime, nullable=False, comment="更新时间"),
    ]


def _scjgj_cf_row(r: Record) -> dict[str, Any]:
    p = r.party
    return {
        "ajbh": r.case_no, "jdswh": r.wsh, "dsr_mc": p.name, "dsr_lx": _SCJGJ_LB[p.lb],
        "tyshxydm": p.uscc, "gszch": p.gszc, "zzjgdm": p.zzjg, "fddbr": p.frdb,
        "fddbr_zjlx": _SCJGJ_ZJLX.get(p.fr_zjlx or ""), "fddbr_zjhm": p.fr_zjhm,
        "dsr_zjlx": _SCJGJ_ZJLX.get(p.zjlx or ""), "dsr_zjhm": p.zjhm,
        "wfxwlx": r.wfxw, "wfss": r.sy, "cfyj": r.yj, "cflb": cflb_2019_code(r.cats), "cfnr": r.nr,
        "fkje": r.fk, "mswfsdje": r.wfff, "zkdxzz": r.zkdx, "cfjdrq": _real(r.jdrq), "cfyxq": _real(r.yxq),
        "cfjg": r.authority.name, "cfjgdm": r.authority.uscc, "bz": r.bz, "scbz": "0", "gxsj": r.gxsj,
    }


def _scjgj_cf_unknown(row: dict[str, Any], i: int) -> None:
    if i % 2:
        row["dsr_lx"] = "05"
    else:
        row["cflb"] = "8"


def _scjgj_xk_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("xkid", sa.BigInteger, primary_key=True, autoincrement=False, comment="许可ID"),
        sa.Column("xkwsmc", S(100), comment="许可决定文书名称"),
        sa.Column("xkwsh", S(64), comment="许可决定文书号"),
        sa.Column("xklb", S(2), comment="许可类别 01普通 02特许 03认可 04核准 05登记 06其他"),
        sa.Column("xkzsmc", S(64), comment="许可证书名称"),
        sa.Column("xkzbh", S(64), comment="许可证编号"),
        sa.Column("xknr", sa.Text, comment="许可内容"),
        sa.Column("xdr_mc", S(200), comment="行政相对人名称"),
        sa.Column("xdr_lx", S(2), comment="行政相对人类型"),
        sa.Column("tyshxydm", S(32)), sa.Column("gszch", S(32)), sa.Column("zzjgdm", S(16)),
        sa.Column("fddbr", S(50)), sa.Column("fddbr_zjlx", S(2)), sa.Column("fddbr_zjhm", S(32)),
        sa.Column("xdr_zjlx", S(2)), sa.Column("xdr_zjhm", S(32)),
        sa.Column("xkjdrq", sa.Date, comment="许可决定日期"),
        sa.Column("yxqq", sa.Date, comment="有效期起"),
        sa.Column("yxqz", sa.Date, comment="有效期止"),
        sa.Column("fzjg", S(200), comment="发证机关"),
        sa.Column("fzjgdm", S(32), comment="发证机关统一社会信用代码"),
        sa.Column("zt", S(1), comment="状态 1有效 2无效"),
        sa.Column("bz", S(512)),
        sa.Column("gxsj", sa.DateTime, nullable=False, comment="更新时间"),
    ]


def _scjgj_xk_row(r: Record) -> dict[str, Any]:
    p = r.party
    return {
        "xkwsmc": r.xkws, "xkwsh": r.wsh, "xklb": _XKLB_CODES[r.xklb], "xkzsmc": r.xkzs, "xkzbh": r.xkbh,
        "xknr": r.nr, "xdr_mc": p.name, "xdr_lx": _SCJGJ_LB[p.lb], "tyshxydm": p.uscc, "gszch": p.gszc,
        "zzjgdm": p.zzjg, "fddbr": p.frdb, "fddbr_zjlx": _SCJGJ_ZJLX.get(p.fr_zjlx or ""),
        "fddbr_zjhm": p.fr_zjhm, "xdr_zjlx": _SCJGJ_ZJLX.get(p.zjlx or ""), "xdr_zjhm": p.zjhm,
        "xkjdrq": _real(r.jdrq), "yxqq": _real(r.yxqz), "yxqz": _real(r.yxqzi), "fzjg": r.authority.name,
        "fzjgdm": r.authority.uscc, "zt": r.zt, "bz": r.bz, "gxsj": r.gxsj,
    }


def _scjgj_xk_unknown(row: dict[str, Any], i: int) -> None:
    if i % 2:
        row["xdr_lx"] = "05"
    else:
        row["xklb"] = "07"


def _jy_number(f: Faker, seq: int, p: Party, d: dt.date) -> str:
    return f"JY1{f.district()[1]}{seq:06d}{seq % 7}"


SCJGJ = DepartmentSpec(
    code="scjgj",
    name="阳泉市市场监督管理局",
    penalty_wsh="{prefix}罚决〔{year}〕{n}号",
    uscc="11140300MB1957303Q",
    kind="mariadb",
    entry_days=10,
    authorities=(
        Authority("阳泉市市场监督管理局", "11140300MB1957303Q", "阳市监"),
        Authority("阳泉市城区市场监督管理局", "11140302MB1960217J", "阳城市监"),
        Authority("阳泉市市场监督管理局经济技术开发区分局", "11140300MB19573466", "阳开市监"),
    ),
    industries=("食品", "餐饮管理", "贸易", "电子商务", "科技", "超市", "服饰", "机械制造", "电梯工程", "日用品",
                "农产品", "网络科技", "商贸", "酒店管理"),
    shops=("面馆", "小吃店", "便利店", "水果店", "烟酒店", "副食品店", "快餐店", "早餐店", "五金店", "服装店"),
    nonprofits=("贸易有限公司城区分公司", "食品有限公司郊区分公司", "商贸合伙企业（有限合伙）"),
    penalties=(
        PenaltyScenario(("org", "ind", "nonprofit"), "违反了《中华人民共和国食品安全法》第三十四条第（十）项的规定，属于经营超过保质期的食品的行为",
                         "{when}，执法人员检查发现当事人经营场所内陈列销售超过保质期的预包装食品{n}件，货值金额{value}元。",
                         "《中华人民共和国食品安全法》第一百二十四条第一款第（五）项", ("罚款", "没收违法所得"),
                         fine=(50000, 100000, 1000), wfff=(50, 3000, 10), weight=3),
        PenaltyScenario(("np", "ind"), "违反了《无证无照经营查处办法》第二条的规定，属于未依法取得营业执照从事经营活动的行为",
                         "{when}，当事人在{place}未依法取得营业执照擅自从事餐饮经营活动。",
                         "《无证无照经营查处办法》第十三条", ("罚款", "没收违法所得"),
                         fine=(1000, 10000, 500), wfff=(200, 5000, 50), weight=2),
        PenaltyScenario(("org",), "违反了《中华人民共和国反不正当竞争法》第八条第一款的规定，属于对商品作虚假的商业宣传的行为",
                         "当事人在其网店商品详情页中宣称所售商品“经国家权威机构认证、疗效显著”，无事实依据。",
                         "《中华人民共和国反不正当竞争法》第二十条第一款", ("罚款",), fine=(200000, 500000, 10000), weight=1.5),
        PenaltyScenario(("org", "ind"), "违反了《明码标价和禁止价格欺诈规定》第五条的规定，属于不按规定明码标价的行为",
                         "{when}，当事人经营场所内销售的{n}种商品未按规定明码标价。",
                         "《中华人民共和国价格法》第四十二条", ("警告",), weight=1.5),
        PenaltyScenario(("org", "ind"), "违反了《明码标价和禁止价格欺诈规定》第五条的规定，属于不按规定明码标价的行为",
                         "{when}，当事人经营场所内销售的{n}种商品未按规定明码标价，经责令改正后仍未改正。",
                         "《中华人民共和国价格法》第四十二条", ("警告", "罚款"), fine=(1000, 5000, 100)),
        PenaltyScenario(("org",), "违反了《中华人民共和国特种设备安全法》第四十条第三款的规定，属于使用未经定期检验的特种设备的行为",
                         "{when}，当事人使用的乘客电梯检验有效期已届满，未申请定期检验继续使用。",
                         "《中华人民共和国特种设备安全法》第八十四条第（一）项", ("责令停产停业", "罚款"),
                         fine=(30000, 100000, 1000), weight=1),
        PenaltyScenario(("org",), "违反了《中华人民共和国产品质量法》第三十九条的规定，属于在产品中以次充好的行为",
                         "当事人生产的电热水壶经抽样检验不合格，货值金额{value}元。",
                         "《中华人民共和国产品质量法》第五十条", ("罚款", "没收违法所得", "吊销许可证件"),
                         fine=(50000, 200000, 1000), wfff=(1000, 30000, 100),
                         zkdx="全国工业产品生产许可证（编号：XK16-204-{seq:05d}）", weight=0.3),
        PenaltyScenario(("org", "ind"), "违反了《中华人民共和国计量法》第九条第一款的规定，属于使用未经检定的计量器具的行为",
                         "{when}，当事人使用的{n}台电子计价秤未按照规定申请强制检定。",
                         "《中华人民共和国计量法实施细则》第四十三条", ("罚款",), fine=(200, 1000, 100)),
    ),
    licences=(
        LicenceScenario(("org", "ind", "nonprofit"), "食品经营许可决定书", "{prefix}食经许〔{year}〕{n}号", "普通", "食品经营许可证",
                         _jy_number, "经营场所：阳泉市{district}{road}{no}号；主体业态：餐饮服务经营者；经营项目：热食类食品制售；预包装食品销售（含冷藏冷冻食品）。",
                         5, weight=4),
        LicenceScenario(("org",), "食品生产许可决定书", "{prefix}食生许〔{year}〕{n}号", "普通", "食品生产许可证",
                         lambda f, seq, p, d: f"SC1{f.district()[1]}{seq:07d}",
                         "食品类别：糕点；饮料。生产地址：阳泉市{district}{road}{no}号。", 5, weight=1),
        LicenceScenario(("org", "ind"), "准予设立登记通知书", "（{prefix}）登记内设字〔{year}〕第{n}号", "登记", "营业执照",
                         lambda f, seq, p, d: p.uscc or "", "准予设立登记。住所：阳泉市{district}{road}{no}号。", None, weight=3),
        LicenceScenario(("org",), "特种设备使用登记证", None, "登记", "特种设备使用登记证",
                         lambda f, seq, p, d: f"梯11晋C{seq:05d}({d:%y})", "设备类别：乘客电梯；设备使用地点：阳泉市{district}{road}{no}号。",
                         None, weight=1),
        LicenceScenario(("np",), "食品摊贩登记决定书", "{prefix}食摊登〔{year}〕{n}号", "其他-备案", "食品摊贩登记卡",
                         lambda f, seq, p, d: f"TF{f.district()[1]}{seq:06d}", "经营地点：阳泉市{district}{road}夜市；经营品种：小吃。",
                         3, weight=0.8),
    ),
    datasets={
        "cf": DatasetSpec("xzcf_jds", "ajid", "gxsj", _scjgj_cf_columns, _scjgj_cf_row, _scjgj_cf_unknown, "bz"),
        "xk": DatasetSpec("xzxk_xx", "xkid", "gxsj", _scjgj_xk_columns, _scjgj_xk_row, _scjgj_xk_unknown, "bz",
                           status=("zt", "2"),
                           party_mix=(("org", 0.55), ("ind", 0.3), ("np", 0.1), ("nonprofit", 0.05))),
    },
)


# ---- 阳泉市生态环境局 (PostgreSQL): English-ish columns, DATE in cf, YYYYMMDD text in xk -----------

_STHJJ_LB = {"org": "E", "nonprofit": "E", "ind": "I", "np": "P"}


def _sthjj_cf_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("case_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("case_no", S(32)),
        sa.Column("decision_no", S(64)),
        sa.Column("party_name", S(200)),
        sa.Column("party_type", S(1), comment="E 单位 I 个体工商户 P 个人"),
        sa.Column("credit_code", S(32)),
        sa.Column("reg_no", S(32)),
        sa.Column("legal_rep", S(50)),
        sa.Column("id_type", S(20)),
        sa.Column("id_no", S(32)),
        sa.Column("violation", S(500)),
        sa.Column("facts", sa.Text),
        sa.Column("legal_basis", S(1000)),
        sa.Column("penalty_type", S(100), comment="处罚种类，多个以;分隔"),
        sa.Column("penalty_content", sa.Text),
        sa.Column("fine_yuan", sa.Numeric(16, 2)),
        sa.Column("confiscated_yuan", sa.Numeric(16, 2)),
        sa.Column("licence_affected", S(200)),
        sa.Column("decision_date", sa.Date),
        sa.Column("effective_until", sa.Date),
        sa.Column("authority", S(200)),
        sa.Column("authority_code", S(32)),
        sa.Column("remarks", S(512)),
        sa.Column("created_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    ]


def _sthjj_cf_row(r: Record) -> dict[str, Any]:
    p = r.party
    return {
        "case_no": r.case_no, "decision_no": r.wsh, "party_name": p.name, "party_type": _STHJJ_LB[p.lb],
        "credit_code": p.uscc, "reg_no": p.gszc, "legal_rep": p.frdb, "id_type": p.zjlx, "id_no": p.zjhm,
        "violation": r.wfxw, "facts": r.sy, "legal_basis": r.yj, "penalty_type": ";".join(r.cats),
        "penalty_content": r.nr, "fine_yuan": r.fk, "confiscated_yuan": r.wfff, "licence_affected": r.zkdx,
        "decision_date": _real(r.jdrq), "effective_until": _real(r.yxq), "authority": r.authority.name,
        "authority_code": r.authority.uscc, "remarks": r.bz, "created_at": r.extra.get("created_at", r.gxsj),
        "updated_at": r.gxsj,
    }


def _sthjj_cf_unknown(row: dict[str, Any], i: int) -> None:
    row["party_type"] = "X"


def _sthjj_xk_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("permit_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("doc_title", S(100)),
        sa.Column("doc_no", S(64)),
        sa.Column("permit_name", S(64)),
        sa.Column("permit_no", S(64)),
        sa.Column("content", sa.Text),
        sa.Column("holder_name", S(200)),
        sa.Column("holder_type", S(1), comment="E 单位 I 个体工商户"),
        sa.Column("credit_code", S(32)),
        sa.Column("reg_no", S(32)),
        sa.Column("legal_rep", S(50)),
        sa.Column("decision_date", S(8), comment="YYYYMMDD"),
        sa.Column("valid_from", S(8), comment="YYYYMMDD"),
        sa.Column("valid_to", S(8), comment="YYYYMMDD"),
        sa.Column("authority", S(200)),
        sa.Column("authority_code", S(32)),
        sa.Column("status", S(1), comment="A 有效 C 注销/撤销"),
        sa.Column("remarks", S(512)),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    ]


def _sthjj_xk_row(r: Record) -> dict[str, Any]:
    p = r.party
    return {
        "doc_title": r.xkws, "doc_no": r.wsh, "permit_name": r.xkzs, "permit_no": r.xkbh, "content": r.nr,
        "holder_name": p.name, "holder_type": _STHJJ_LB[p.lb], "credit_code": p.uscc, "reg_no": p.gszc,
        "legal_rep": p.frdb, "decision_date": _d(r.jdrq, "%Y%m%d"), "valid_from": _d(r.yxqz, "%Y%m%d"),
        "valid_to": _d(r.yxqzi, "%Y%m%d"), "authority": r.authority.name, "authority_code": r.authority.uscc,
        "status": "A" if r.zt == "1" else "C", "remarks": r.bz, "updated_at": r.gxsj,
    }


def _sthjj_xk_unknown(row: dict[str, Any], i: int) -> None:
    if i % 2:
        row["holder_type"] = "X"
    else:
        row["status"] = "Z"


def _pw_number(f: Faker, seq: int, p: Party, d: dt.date) -> str:
    return f"{p.uscc}{seq % 1000:03d}{'PUVWXY'[(seq // 1000) % 6]}"


STHJJ = DepartmentSpec(
    code="sthjj",
    name="阳泉市生态环境局",
    uscc="11140300MB1957311K",
    kind="postgresql",
    entry_days=14,
    authorities=(
        Authority("阳泉市生态环境局", "11140300MB1957311K", "阳环"),
        Authority("阳泉市生态环境局盂县分局", "11140322MB19630596", "盂环"),
    ),
    industries=("印染", "化工", "电镀", "环保科技", "建材", "新材料", "纺织", "造纸", "汽车零部件", "医药化工",
                "混凝土", "金属制品", "塑料制品"),
    shops=("汽车修理厂", "洗车店", "干洗店", "口腔诊所", "家具加工厂"),
    nonprofits=("化工有限公司盂县分公司", "建材有限公司平定分公司"),
    penalties=(
        PenaltyScenario(("org", "nonprofit"), "违反了《中华人民共和国水污染防治法》第十条的规定，属于超过水污染物排放标准排放水污染物的行为",
                         "{when}，我局执法人员对当事人进行现场检查，经采样监测，其废水总排放口化学需氧量浓度为{conc}mg/L，超过《污水综合排放标准》（GB 8978-1996）三级标准限值。",
                         "《中华人民共和国水污染防治法》第八十三条第（二）项", ("罚款",), fine=(100000, 1000000, 10000), weight=3),
        PenaltyScenario(("org",), "违反了《中华人民共和国环境影响评价法》第二十五条的规定，属于建设项目环境影响报告表未经批准擅自开工建设的行为",
                         "当事人年产{n}万件五金配件技改项目环境影响报告表未经审批，擅自开工建设，项目总投资{inv}万元。",
                         "《中华人民共和国环境影响评价法》第三十一条第一款", ("罚款",), fine=(50000, 500000, 1000), weight=2),
        PenaltyScenario(("org", "ind"), "违反了《中华人民共和国固体废物污染环境防治法》第八十一条第一款的规定，属于未按照国家有关规定贮存危险废物的行为",
                         "{when}，当事人将废矿物油、废活性炭等危险废物露天堆放于厂区空地，未设置危险废物识别标志。",
                         "《中华人民共和国固体废物污染环境防治法》第一百一十二条第一款第（六）项", ("罚款",),
                         fine=(100000, 1000000, 10000), weight=2),
        PenaltyScenario(("org",), "违反了《排污许可管理条例》第二条第一款的规定，属于未取得排污许可证排放污染物的行为",
                         "{when}，当事人未取得排污许可证，其喷涂车间废气经收集后直接排放。",
                         "《排污许可管理条例》第三十三条第（一）项", ("罚款", "责令停产停业"), fine=(200000, 1000000, 10000), weight=1.5),
        PenaltyScenario(("np",), "违反了《中华人民共和国大气污染防治法》第七十七条的规定，属于露天焚烧秸秆、落叶等产生烟尘污染的物质的行为",
                         "{when}，当事人在{place}附近空地露天焚烧落叶、杂草等物质，产生烟尘污染。",
                         "《中华人民共和国大气污染防治法》第一百一十九条第一款", ("罚款",), fine=(500, 2000, 100), weight=1),
        PenaltyScenario(("org", "ind"), "违反了《中华人民共和国大气污染防治法》第六十九条第三款的规定，属于施工工地未采取有效防尘降尘措施的行为",
                         "{when}，当事人承建的{district}{road}项目施工工地裸露土方未覆盖，车辆出入未冲洗。",
                         "《中华人民共和国大气污染防治法》第一百一十五条第一款第（一）项", ("罚款",), fine=(10000, 100000, 1000),
                         weight=1.5),
        PenaltyScenario(("org",), "违反了《中华人民共和国固体废物污染环境防治法》第八十条第三款的规定，属于无许可证从事收集、贮存、利用、处置危险废物经营活动的行为",
                         "当事人未取得危险废物经营许可证，擅自收集废铅蓄电池{n}吨，违法所得{value}元。",
                         "《中华人民共和国固体废物污染环境防治法》第一百一十四条第一款", ("罚款", "没收违法所得", "责令停产停业"),
                         fine=(1000000, 2000000, 50000), wfff=(5000, 80000, 500), weight=0.4),
    ),
    licences=(
        LicenceScenario(("org", "nonprofit"), "排污许可证核发决定", None, "普通", "排污许可证", _pw_number,
                         "行业类别：{district}化工；主要污染物类别：废气、废水；排放方式：有组织排放。", 5, weight=4),
        LicenceScenario(("org",), "关于建设项目环境影响报告表的审批意见", "{prefix}评批〔{year}〕{n}号", "普通", None, None,
                         "原则同意该项目环境影响报告表结论，项目建设地点：阳泉市{district}{road}{no}号。", 5, weight=3),
        LicenceScenario(("org",), "危险废物经营许可证核发决定", "{prefix}危许〔{year}〕{n}号", "普通", "危险废物经营许可证",
                         lambda f, seq, p, d: f"1403{seq:06d}", "核准经营方式：收集、贮存；核准经营危险废物类别：HW08废矿物油。", 5, weight=1),
        LicenceScenario(("org", "ind"), "辐射安全许可证核发决定", "{prefix}辐许〔{year}〕{n}号", "普通", "辐射安全许可证",
                         lambda f, seq, p, d: f"晋环辐证[A{seq:05d}]", "种类和范围：使用Ⅲ类射线装置。", 5, weight=1.5),
    ),
    datasets={
        "cf": DatasetSpec("env_penalty", "case_id", "updated_at", _sthjj_cf_columns, _sthjj_cf_row, _sthjj_cf_unknown,
                           "remarks", party_mix=(("org", 0.75), ("ind", 0.12), ("np", 0.08), ("nonprofit", 0.05))),
        "xk": DatasetSpec("env_permit", "permit_id", "updated_at", _sthjj_xk_columns, _sthjj_xk_row, _sthjj_xk_unknown,
                           "remarks", status=("status", "C"), string_dates=True, has_np=False,
                           party_mix=(("org", 0.85), ("ind", 0.1), ("nonprofit", 0.05))),
    },
)


# ---- 平定县卫生健康局 (SQLite): upper-case pinyin, YYYY/MM/DD text dates -------------------------

_WSJKW_LB = {"org": "1", "nonprofit": "1", "ind": "2", "np": "3"}
_WSJKW_ZJLX = {"身份证": "111", "护照号": "414"}


def _wsjkw_party_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("XDRMC", S(200)), sa.Column("XDRLB", S(1)), sa.Column("TYSHXYDM", S(32)),
        sa.Column("GSZCH", S(32)), sa.Column("FDDBR", S(50)), sa.Column("FRZJLX", S(3)), sa.Column("FRZJHM", S(32)),
        sa.Column("ZJLX", S(3)), sa.Column("ZJHM", S(32)),
    ]


def _wsjkw_party(p: Party) -> dict[str, Any]:
    return {
        "XDRMC": p.name, "XDRLB": _WSJKW_LB[p.lb], "TYSHXYDM": p.uscc, "GSZCH": p.gszc, "FDDBR": p.frdb,
        "FRZJLX": _WSJKW_ZJLX.get(p.fr_zjlx or ""), "FRZJHM": p.fr_zjhm, "ZJLX": _WSJKW_ZJLX.get(p.zjlx or ""),
        "ZJHM": p.zjhm,
    }


def _wsjkw_cf_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("CFJDSWH", S(64)),
        *_wsjkw_party_columns(),
        sa.Column("WFXWLX", S(500)), sa.Column("WFSS", sa.Text), sa.Column("CFYJ", S(1000)),
        sa.Column("CFZL", S(100), comment="处罚种类，多个以；分隔"), sa.Column("CFNR", sa.Text),
        # Small units migrated from desktop tools keep money as REAL.
        sa.Column("FKJE", sa.Float), sa.Column("MSJE", sa.Float), sa.Column("ZKDX", S(200)),
        sa.Column("CFJDRQ", S(10), comment="YYYY/MM/DD"), sa.Column("CFYXQ", S(10), comment="YYYY/MM/DD"),
        sa.Column("CFJG", S(200)), sa.Column("CFJGDM", S(32)), sa.Column("BZ", S(512)),
        sa.Column("GXSJ", sa.DateTime, nullable=False),
    ]


def _f(v: Decimal | None) -> float | None:
    return None if v is None else float(v)


def _wsjkw_cf_row(r: Record) -> dict[str, Any]:
    return {
        "CFJDSWH": r.wsh, **_wsjkw_party(r.party), "WFXWLX": r.wfxw, "WFSS": r.sy, "CFYJ": r.yj,
        "CFZL": "；".join(r.cats), "CFNR": r.nr, "FKJE": _f(r.fk), "MSJE": _f(r.wfff), "ZKDX": r.zkdx,
        "CFJDRQ": _d(r.jdrq, "%Y/%m/%d"), "CFYXQ": _d(r.yxq, "%Y/%m/%d"), "CFJG": r.authority.name,
        "CFJGDM": r.authority.uscc, "BZ": r.bz, "GXSJ": r.gxsj,
    }


def _wsjkw_unknown(row: dict[str, Any], i: int) -> None:
    row["XDRLB"] = "9"


def _wsjkw_xk_columns() -> list[sa.Column[Any]]:
    S = sa.String
    return [
        sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("XKWSMC", S(100)), sa.Column("XKWSH", S(64)), sa.Column("XKLB", S(20)),
        sa.Column("XKZSMC", S(64)), sa.Column("XKZBH", S(64)), sa.Column("XKNR", sa.Text),
        *_wsjkw_party_columns(),
        sa.Column("XKJDRQ", S(10)), sa.Column("YXQZ", S(10)), sa.Column("YXQZI", S(10)),
        sa.Column("XKJG", S(200)), sa.Column("XKJGDM", S(32)), sa.Column("ZT", S(1)), sa.Column("BZ", S(512)),
        sa.Column("GXSJ", sa.DateTime, nullable=False),
    ]


def _wsjkw_xk_row(r: Record) -> dict[str, Any]:
    return {
        "XKWSMC": r.xkws, "XKWSH": r.wsh, "XKLB": r.xklb, "XKZSMC": r.xkzs, "XKZBH": r.xkbh, "XKNR": r.nr,
        **_wsjkw_party(r.party), "XKJDRQ": _d(r.jdrq, "%Y/%m/%d"), "YXQZ": _d(r.yxqz, "%Y/%m/%d"),
        "YXQZI": _d(r.yxqzi, "%Y/%m/%d"), "XKJG": r.authority.name, "XKJGDM": r.authority.uscc, "ZT": r.zt,
        "BZ": r.bz, "GXSJ": r.gxsj,
    }


WSJKW = DepartmentSpec(
    code="wsjkw",
    name="平定县卫生健康局",
    uscc="11140321MB1961708Q",
    kind="sqlite",
    entry_days=20,
    authorities=(Authority("平定县卫生健康局", "11140321MB1961708Q", "平卫"),),
    industries=("医疗管理", "口腔门诊部", "医院管理", "健康管理", "酒店管理", "游泳健身", "生物科技", "美容"),
    shops=("诊所", "口腔诊所", "中医诊所", "美发店", "足浴店", "旅馆", "理发店"),
    nonprofits=("中西医结合门诊部", "社区卫生服务站"),
    penalties=(
        PenaltyScenario(("org", "ind", "nonprofit"), "违反了《医疗机构管理条例》第二十七条的规定，属于使用非卫生技术人员从事医疗卫生技术工作的行为",
                         "{when}，当事人使用未取得执业资格的人员{pname}从事护理工作。",
                         "《医疗机构管理条例》第四十七条", ("罚款",), fine=(10000, 100000, 1000), weight=2),
        PenaltyScenario(("np",), "违反了《中华人民共和国医师法》第十四条第一款的规定，属于医师未按照注册的执业类别、执业范围执业的行为",
                         "当事人系执业医师，{when}在阳泉市{district}某诊所超出注册的执业范围从事口腔科诊疗活动。",
                         "《中华人民共和国医师法》第五十七条", ("警告",), weight=1),
        PenaltyScenario(("np",), "违反了《中华人民共和国医师法》第十四条第一款的规定，属于医师未按照注册的执业类别、执业范围执业的行为",
                         "当事人系执业医师，{when}起多次超出注册的执业范围从事医疗美容诊疗活动，情节严重。",
                         "《中华人民共和国医师法》第五十七条", ("罚款", "限制从业"), fine=(10000, 30000, 1000), weight=0.5),
        PenaltyScenario(("ind", "org"), "违反了《公共场所卫生管理条例实施细则》第二十二条第一款的规定，属于未依法取得公共场所卫生许可证擅自营业的行为",
                         "{when}，当事人经营的{district}{road}{no}号美发场所未取得公共场所卫生许可证擅自营业。",
                         "《公共场所卫生管理条例实施细则》第三十五条第一款", ("警告", "罚款"), fine=(500, 5000, 100), weight=2.5),
        PenaltyScenario(("org",), "违反了《中华人民共和国职业病防治法》第三十五条第一款的规定，属于未按照规定组织职业健康检查的行为",
                         "当事人未按照规定组织{n}名接触噪声的劳动者进行在岗期间职业健康检查。",
                         "《中华人民共和国职业病防治法》第七十一条第（四）项", ("警告", "罚款"), fine=(50000, 100000, 1000), weight=1.5),
        PenaltyScenario(("np",), "违反了《中华人民共和国医师法》第十三条第四款的规定，属于未取得医师执业证书非法执业的行为",
                         "当事人未取得医师执业证书，{when}在{place}擅自开展针灸、推拿诊疗活动，违法所得{value}元。",
                         "《中华人民共和国医师法》第五十九条", ("罚款", "没收违法所得", "没收非法财物"),
                         fine=(30000, 200000, 1000), wfff=(500, 20000, 100), weight=1.5),
        PenaltyScenario(("org",), "违反了《医疗机构管理条例》第二十三条的规定，属于出借《医疗机构执业许可证》的行为",
                         "当事人将其《医疗机构执业许可证》出借给{pname}开展诊疗活动，违法所得{value}元。",
                         "《医疗机构管理条例》第四十五条", ("罚款", "没收违法所得", "吊销许可证件"),
                         fine=(50000, 100000, 1000), wfff=(1000, 50000, 100),
                         zkdx="医疗机构执业许可证（登记号：PDY{seq:05d}-140321-17A1001）", weight=0.3),
    ),
    licences=(
        LicenceScenario(("org", "ind", "nonprofit"), "医疗机构执业许可决定书", "{prefix}医许〔{year}〕{n}号", "普通", "医疗机构执业许可证",
                         lambda f, seq, p, d: f"PDY{seq:05d}-{f.district()[1]}17A1001",
                         "诊疗科目：内科；外科；口腔科；医学检验科。执业地址：阳泉市{district}{road}{no}号。", 5, weight=2),
        LicenceScenario(("ind", "org"), "公共场所卫生许可决定书", "{prefix}公许〔{year}〕{n}号", "普通", "公共场所卫生许可证",
                         lambda f, seq, p, d: f"平卫公证字〔{d.year}〕第{f.district()[1]}-{seq:06d}号",
                         "许可项目：美容美发场所。经营地址：阳泉市{district}{road}{no}号。", 4, weight=3),
        LicenceScenario(("np",), "医师执业注册准予许可决定书", None, "认可", "医师执业证书",
                         lambda f, seq, p, d: f"1{f.rng.choice('1234')}0{f.district()[1]}{seq:06d}",
                         "执业类别：临床；执业范围：内科专业；执业地点：阳泉市{district}某医院。", None, weight=2),
        LicenceScenario(("np",), "护士执业注册准予许可决定书", None, "认可", "护士执业证书",
                         lambda f, seq, p, d: f"{d.year}{f.district()[1][:4]}{seq:06d}",
                         "执业地点：阳泉市{district}某医院。", 5, weight=1.5),
        LicenceScenario(("org",), "放射诊疗许可决定书", "{prefix}放许〔{year}〕{n}号", "普通", "放射诊疗许可证",
                         lambda f, seq, p, d: f"晋平卫放证字〔{d.year}〕第{seq:04d}号", "许可项目：X射线影像诊断。", 5, weight=1),
    ),
    datasets={
        "cf": DatasetSpec("T_XZCF", "ID", "GXSJ", _wsjkw_cf_columns, _wsjkw_cf_row, _wsjkw_unknown, "BZ",
                           string_dates=True, party_mix=(("org", 0.45), ("ind", 0.25), ("np", 0.25), ("nonprofit", 0.05))),
        "xk": DatasetSpec("T_XZXK", "ID", "GXSJ", _wsjkw_xk_columns, _wsjkw_xk_row, _wsjkw_unknown, "BZ",
                           status=("ZT", "2"), string_dates=True,
                           party_mix=(("org", 0.3), ("ind", 0.3), ("np", 0.35), ("nonprofit", 0.05))),
    },
)

DEPARTMENTS: dict[str, DepartmentSpec] = {d.code: d for d in (SCJGJ, STHJJ, WSJKW)}
