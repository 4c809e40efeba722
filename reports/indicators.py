"""The assessment (考核) indicators per department, dataset, month and year to date (spec §6, design.md).

Population
    A *record* is one decision (business key) that reached the platform by ``as_of``: it is in the central
    store, or it was quarantined (问题数据) and not loaded yet. A quarantine entry belongs to a stored record
    when it has the record's business key or the same source row (department + source primary key); an entry
    whose key is incomplete (no 文书号) and matches nothing is a record of its own. Records are put in the
    month of their decision date (or of their arrival when the date is missing or invalid).

Indicators
    - 及时率 (timeliness): among records whose deadline (the 7th working day after the decision) has passed or
      which are already published, the share published in the public column (``first_published_at``, local
      calendar day) by the deadline; a record never shown (不予公开, withdrawn or expired before it could be
      shown) counts at its arrival (``first_loaded_at``). A record still waiting in quarantine after its
      deadline is overdue; one whose deadline is still ahead is *pending* and not counted. Decisions before
      ``timeliness_from`` are exempt.
    - 完整率 (completeness): share of records whose current values fill every required and conditionally
      required field (the catalogue's ``required`` rules of severity ``error``), loaded or not.
    - 准确率 / 一次校验通过率 (accuracy): share of records loaded without a quarantine entry before their first
      load.
    - 上报退回率 (``upstream_rejected``): among the records the provincial platform answered (a receipt: it accepted
      a version, ``province_version``, or rejected one by ``as_of``, ``push_rejection``), the share it rejected at
      least once. ``None`` when no record of the group has a receipt yet (nothing pushed, or no answer).
    - 报送量 / 入库量 (volume), 问题数据 (open feedback items: open quarantine entries and their age),
      departments without a single record in the month.

Everything is computed "as of" a moment: rows loaded or quarantined after it are ignored, and an entry
resolved after it still counts as open, so a report for a closed month can be reproduced later.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from national import DATASETS
from national import dataset as national_dataset
from national.regions import CITY_LEVEL, COUNTY_LEVEL, regions
from reports.settings import ReportSettings, load_report_settings
from reports.workdays import WorkdayCalendar, arrangement_warning
from store import queries
from transforms.masking import mask_text

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
INDICATORS = ("timeliness", "completeness", "accuracy")
INDICATOR_NAMES = {"timeliness": "及时率", "completeness": "完整率", "accuracy": "准确率"}
ALL_DATASETS = "all"
CITY = "__city__"
#: Prefix of the ``department`` value of a region's total row (``__region__140321``): see :func:`region_key`.
REGION_PREFIX = "__region__"
#: Columns of ``Assessment.declarations`` and ``Assessment.uncatalogued`` (全面性, issue 17 item 8).
DECLARATION_COLUMNS: list[str] = ["department", "dataset", "month", "declared", "received", "shortfall", "status", "declared_at"]
UNCATALOGUED_COLUMNS: list[str] = ["department", "wsh", "xkbh", "item", "decision_date"]


class DepartmentLike(Protocol):
    """What the assessment needs of a department (``pipeline.config.Department`` fits)."""

    code: str
    name: str

    @property
    def datasets(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class DepartmentInfo:
    """A department as the reports show it: its level (市直 / 县区), its area's administrative code, and its own
    timeliness start (decisions before it are backfill, not assessed; ``None``: the platform's setting)."""

    code: str
    name: str
    datasets: tuple[str, ...] = ("cf", "xk")
    level: str = CITY_LEVEL
    region: str | None = None
    timeliness_from: dt.date | None = None


def region_key(code: str) -> str:
    """The ``department`` value of a 县区's (or the 市直 departments') total row in the indicator tables."""
    return f"{REGION_PREFIX}{code}"


def department_infos(departments: Mapping[str, DepartmentLike] | Iterable[DepartmentLike] | None) -> dict[str, DepartmentInfo]:
    """Department configs (or ``DepartmentInfo``) by code, reduced to code, name, datasets, level, region and
    timeliness start (a department without them is a 市直 department of the city, assessed from the platform's
    date)."""
    if departments is None:
        return {}
    items = departments.values() if isinstance(departments, Mapping) else departments
    out: dict[str, DepartmentInfo] = {}
    city = regions().city_code
    for d in items:
        ds = d.datasets
        level = getattr(d, "level", None) or CITY_LEVEL
        out[d.code] = DepartmentInfo(
            d.code, d.name, tuple(ds) if not isinstance(ds, tuple) else ds, level,
            getattr(d, "region", None) or city, getattr(d, "timeliness_from", None),
        )
    return out


def parse_month(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of ``YYYY-MM``; a malformed month raises ``ValueError`` with the expected form."""
    m = _MONTH.match(month.strip()) if isinstance(month, str) else None
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"月份 {month!r} 格式不对：请写成 YYYY-MM，例如 2026-10")
    first = dt.date(int(m.group(1)), int(m.group(2)), 1)
    return first, add_months(first, 1) - dt.timedelta(days=1)


def add_months(first: dt.date, n: int) -> dt.date:
    k = first.year * 12 + first.month - 1 + n
    return dt.date(k // 12, k % 12 + 1, 1)


def month_key(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def previous_month(today: dt.date) -> str:
    """``YYYY-MM`` of the month before ``today`` (the usual report month)."""
    return month_key(add_months(today.replace(day=1), -1))


@dataclass
class Assessment:
    """Everything one report or dashboard page shows. Tables are pandas frames with English column names;
    ``reports.render`` turns them into Chinese tables."""

    month: str
    period: tuple[dt.date, dt.date]
    as_of: dt.datetime
    settings: ReportSettings
    departments: dict[str, DepartmentInfo]
    #: Indicators for the report month: one row per (department, dataset), per department over both datasets
    #: (``dataset == "all"``) and for the whole city (``department == "__city__"``).
    month_table: pd.DataFrame
    #: The same from January to the end of the report month.
    ytd_table: pd.DataFrame
    #: Indicators per month (``month`` column) for the trend, whole city and per department, both datasets.
    trend: pd.DataFrame
    #: Records late or still missing after their deadline (report month), ID numbers masked.
    overdue: pd.DataFrame
    #: Configured department datasets without any record in the report month.
    silent: pd.DataFrame
    #: Open feedback items (quarantine) per department and dataset, with their age in days.
    feedback: pd.DataFrame
    #: Most frequent rules among open feedback items, per department and dataset.
    top_rules: pd.DataFrame
    #: Years without the State Council's arrangement that a deadline in the report depends on.
    provisional_years: list[int] = field(default_factory=list)
    #: Records of the report month whose deadline is provisional.
    provisional_records: int = 0
    #: How each provisional year is counted: ``statutory`` or ``weekdays`` (reports.workdays.BASIS_NAMES).
    provisional_basis: dict[int, str] = field(default_factory=dict)
    #: Operators' warning when this year's (or, from 1 November, next year's) arrangement is missing as of
    #: ``as_of`` (reports.workdays.arrangement_warning); ``None`` otherwise.
    calendar_warning: str | None = None
    notes: list[str] = field(default_factory=list)
    #: 全面性: per configured department dataset and month of the year to date, the latest declaration by
    #: ``as_of`` (``declared``, ``None``: not declared) against the records received (``received``), ``status``
    #: ``met`` / ``short`` / ``undeclared`` (store.declarations).
    declarations: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DECLARATION_COLUMNS))
    #: Licences of the report month whose item is not in their department's 事项目录 (values masked).
    uncatalogued: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UNCATALOGUED_COLUMNS))
    #: Departments with licences configured but no 事项目录 imported.
    no_catalogue: list[str] = field(default_factory=list)

    def department_name(self, code: str) -> str:
        if code == CITY:
            return "全市"
        if code.startswith(REGION_PREFIX):
            region = code.removeprefix(REGION_PREFIX)
            known = regions()
            return f"{known.city_name}市直部门合计" if region == known.city_code else f"{known.name(region)}合计"
        info = self.departments.get(code)
        return info.name if info else code

    def region_name(self, code: str) -> str:
        """The 县区 (or 市直) a department belongs to, as the tables show it."""
        info = self.departments.get(code)
        if info is None or info.level != COUNTY_LEVEL or not info.region:
            return "市直"
        return regions().name(info.region)

    @property
    def has_regions(self) -> bool:
        """The tables have per-region total rows (some department is a 县区 unit)."""
        return any(str(d).startswith(REGION_PREFIX) for d in self.month_table["department"])

    def row(self, table: pd.DataFrame, department: str, dataset: str = ALL_DATASETS) -> dict[str, Any] | None:
        """One row of ``month_table`` / ``ytd_table`` as a dict, or ``None``."""
        hit = table[(table["department"] == department) & (table["dataset"] == dataset)]
        return None if hit.empty else hit.iloc[0].to_dict()


# --------------------------------------------------------------------------------------------------
# Loading the population


def _condition_fields(cond: Any) -> set[str]:
    if not cond:
        return set()
    out: set[str] = set()
    for key in ("all", "any"):
        for c in cond.get(key, []) if isinstance(cond, Mapping) else []:
            out |= _condition_fields(c)
    if isinstance(cond, Mapping) and "field" in cond:
        out.add(cond["field"])
    return out


@dataclass(frozen=True)
class _Completeness:
    """The catalogue's required rules of one dataset and the columns they read."""

    dataset: str
    catalogue: Any  # expectations.catalogue.Catalogue with only the requirement rules
    columns: tuple[str, ...]

    @classmethod
    def build(cls, dataset: str) -> _Completeness:
        from expectations.catalogue import load_catalogue

        cat = load_catalogue(dataset)
        rules = tuple(r for r in cat.rules if r.enabled and r.kind == "required" and r.severity == "error")
        cols: set[str] = set()
        for r in rules:
            cols.add(r.field)
            cols |= _condition_fields(r.params.get("when"))
        ds = national_dataset(dataset)
        ordered = tuple(c for c in ds.columns if c in cols)
        return cls(dataset, dataclasses.replace(cat, rules=rules), ordered)

    def complete(self, frame: pd.DataFrame, today: dt.date) -> np.ndarray:
        """Per row: every requirement holds. ``frame`` has the national columns as ``str``/``None``."""
        from expectations.engine import run

        if frame.empty:
            return np.zeros(0, dtype=bool)
        _, failures = run(frame.reset_index(drop=True), self.catalogue, today)
        bad = np.zeros(len(frame), dtype=bool)
        for f in failures:
            bad |= f
        return ~bad


def _as_text(v: Any) -> str | None:
    """A stored value as the canonical text the rules read (dates ISO, amounts plain decimals)."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, dt.date):
        return v.isoformat()
    if hasattr(v, "is_finite"):  # Decimal
        return format(v, "f")
    return str(v)


def _utc(v: Any) -> pd.Timestamp | None:
    """A stored timestamp as aware UTC; SQLite hands back naive values that were written in UTC."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    ts = pd.Timestamp(v)
    if pd.isna(ts):
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _parse_date(v: Any) -> dt.date | None:
    if isinstance(v, dt.date):
        return v
    if not isinstance(v, str):
        return None
    try:
        return dt.date.fromisoformat(v.strip())
    except ValueError:
        return None


def _stored_records(
    engine: Engine, dataset: str, lo: dt.date, hi: dt.date, req: _Completeness, today: dt.date
) -> Iterator[pd.DataFrame]:
    """Stored records decided in [lo, hi], in chunks, with their completeness computed and text dropped."""
    ds = national_dataset(dataset)
    extra = [c for c in ("XK_XKBH", *_item_columns(dataset)) if c in ds.columns or c in _item_columns(dataset)]
    extra = [c for c in extra if c not in req.columns]
    wanted = list(dict.fromkeys([*req.columns, _wsh_column(dataset), *extra]))
    for rows in queries.decided_records(engine, dataset, lo, hi, wanted):
        national = pd.DataFrame({c: [_as_text(r[c]) for r in rows] for c in wanted}, dtype=object)
        complete = req.complete(national[list(req.columns)], today)
        yield pd.DataFrame(
            {
                "key": [r["business_key"] for r in rows],
                "department": [r["department"] for r in rows],
                "source_pk": [r["source_pk"] for r in rows],
                "loaded_at": [_utc(r["first_loaded_at"]) for r in rows],
                # 及时率 is measured at publication; a record never shown (不予公开, withdrawn or expired before
                # it could be shown, or loaded before the column existed) at its arrival in the store.
                "published_at": [_utc(r["first_published_at"] or r["first_loaded_at"]) for r in rows],
                "decision_date": [_parse_date(r["decision_date"]) for r in rows],
                "complete_stored": complete,
                "province_accepted": [r["province_version"] is not None for r in rows],
                "wsh": national[_wsh_column(dataset)].tolist(),
                "xkbh": national["XK_XKBH"].tolist() if "XK_XKBH" in national else [None] * len(rows),
                **{name: national[c].tolist() if c in national else [None] * len(rows) for c, name in ITEM_FIELDS.items()},
            }
        )


#: 事项目录: the licence columns that name the item, and their names in the assessment's frames
#: (store.declarations.ItemMatcher explains the matching).
ITEM_FIELDS = {"XK_XMMC": "item_project", "XK_XKWS": "item_title", "XK_XKZS": "item_certificate"}


def _item_columns(dataset: str) -> list[str]:
    """The item columns of ``dataset`` that exist (licences only; 项目名称 is an extension field)."""
    if dataset != "xk":
        return []
    ds = national_dataset(dataset)
    known = set(ds.columns) | set(getattr(ds, "extension_columns", ()))
    return [c for c in ITEM_FIELDS if c in known]


def _wsh_column(dataset: str) -> str:
    return "CF_WSH" if dataset == "cf" else "XK_WSH"


def _usable_key(key: str | None) -> bool:
    """A business key identifies a decision only with the source unit's code and the document number."""
    if not key:
        return False
    parts = key.split("|")
    return len(parts) >= 2 and bool(parts[0]) and bool(parts[1])


def load_records(
    engine: Engine,
    dataset: str,
    lo: dt.date,
    hi: dt.date,
    as_of: dt.datetime,
    *,
    tz: ZoneInfo,
    completeness: _Completeness | None = None,
) -> pd.DataFrame:
    """One row per record of ``dataset`` decided (or, without a valid date, arrived) in [lo, hi] by ``as_of``.

    Columns: dataset, department, key, decision_date, loaded_at (UTC or NaT when not loaded by ``as_of``),
    first_seen (earliest quarantine entry, or NaT), arrival, complete, first_pass, wsh, xkbh.
    """
    req = completeness or _Completeness.build(dataset)
    today = as_of.astimezone(tz).date()
    as_of_ts = pd.Timestamp(as_of).tz_convert("UTC")
    parts = list(_stored_records(engine, dataset, lo, hi, req, today))
    stored = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["key", "department", "source_pk", "loaded_at", "published_at", "decision_date", "complete_stored",
                 "province_accepted", "wsh", "xkbh", *ITEM_FIELDS.values()]
    )
    rejected_by_asof = queries.upstream_rejections(engine, dataset, lo, hi, as_of)
    accepted_by_key = dict(zip(stored["key"], stored["province_accepted"], strict=True))
    by_key = dict(zip(stored["key"], range(len(stored)), strict=True))
    by_pk = {(d, pk): k for d, pk, k in zip(stored["department"], stored["source_pk"], stored["key"], strict=True)}

    # A decision cannot reach the platform before it is made: entries first seen before the window (minus a
    # day for the time zone) belong to earlier decisions, so they need not be read.
    since = dt.datetime.combine(lo - dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    q_first: dict[str, pd.Timestamp] = {}
    q_latest: dict[str, dict[str, Any]] = {}
    q_dept: dict[str, str] = {}
    for e in queries.quarantine_entries_seen(engine, dataset, since, as_of):
        key = by_pk.get((e["department"], e["source_pk"]))
        if key is None:
            bk = e["business_key"]
            key = bk if _usable_key(bk) else f"~{e['department']}~{e['source_pk']}"
        seen = _utc(e["first_seen_at"])
        if seen is None:
            continue
        if key not in q_first or seen < q_first[key]:
            q_first[key] = seen
        q_latest[key] = e  # ordered by id: the last one is the latest version of the row
        q_dept[key] = e["department"]

    ds = national_dataset(dataset)
    # Quarantine-only records (not stored, or stored only after as_of): values from the latest entry.
    loaded_col = stored["loaded_at"] if len(stored) else pd.Series([], dtype=object)
    loaded_by_asof = {
        k: (ts if ts is not None and ts <= as_of_ts else None) for k, ts in zip(stored["key"], loaded_col, strict=True)
    }
    published_col = stored["published_at"] if len(stored) else pd.Series([], dtype=object)
    published_by_asof = {
        k: (ts if ts is not None and ts <= as_of_ts else None) for k, ts in zip(stored["key"], published_col, strict=True)
    }
    q_only = [k for k in q_latest if loaded_by_asof.get(k) is None]
    q_national = [json.loads(q_latest[k]["national"]) for k in q_only]
    q_frame = pd.DataFrame({c: [n.get(c) for n in q_national] for c in req.columns}, dtype=object)
    q_complete = dict(zip(q_only, req.complete(q_frame, today), strict=True)) if q_only else {}

    keys = list(dict.fromkeys([*stored["key"].tolist(), *q_latest.keys()]))
    rows: list[dict[str, Any]] = []
    for k in keys:
        i = by_key.get(k)
        loaded = loaded_by_asof.get(k)
        first_seen = q_first.get(k)
        if loaded is None and first_seen is None:
            continue  # reached the platform only after as_of
        if loaded is not None:
            srow = stored.iloc[i]
            decision = srow["decision_date"]
            complete = bool(srow["complete_stored"])
            wsh, xkbh, dept = srow["wsh"], srow["xkbh"], srow["department"]
            item = {name: stored.at[i, name] for name in ITEM_FIELDS.values()}
        else:
            nat = json.loads(q_latest[k]["national"])
            decision = _parse_date(nat.get(ds.decision_date))
            if i is not None and decision is None:
                decision = stored.iloc[i]["decision_date"]
            complete = bool(q_complete.get(k, False))
            wsh, xkbh, dept = nat.get(_wsh_column(dataset)), nat.get("XK_XKBH"), q_dept[k]
            item = {name: nat.get(c) for c, name in ITEM_FIELDS.items()}
        arrival = min(x for x in (loaded, first_seen) if x is not None)
        rows.append(
            {
                "dataset": dataset,
                "department": dept,
                "key": k,
                "decision_date": decision,
                "loaded_at": loaded,
                "published_at": published_by_asof.get(k) if loaded is not None else None,
                "first_seen": first_seen,
                "arrival": arrival,
                "complete": complete,
                # First arrival passed validation: loaded, and no quarantine entry before the first load.
                "first_pass": loaded is not None and (first_seen is None or first_seen > loaded),
                # 上报退回率: the province answered (accepted a version, or rejected one by as_of), and rejected it.
                "upstream_answered": loaded is not None and (bool(accepted_by_key.get(k)) or k in rejected_by_asof),
                "upstream_rejected": loaded is not None and k in rejected_by_asof,
                "wsh": wsh,
                "xkbh": xkbh,
                **item,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=["dataset", "department", "key", "decision_date", "loaded_at", "published_at", "first_seen", "arrival",
                 "complete", "first_pass", "upstream_answered", "upstream_rejected", "wsh", "xkbh", *ITEM_FIELDS.values()],
    )
    if out.empty:
        return out
    # The month of a record: its decision date, or its local arrival date when the date is unusable.
    arrival_local = [a.tz_convert(tz).date() for a in out["arrival"]]
    out["month"] = [month_key(d if d is not None else a) for d, a in zip(out["decision_date"], arrival_local, strict=True)]
    in_window = [lo <= (d if d is not None else a) <= hi for d, a in zip(out["decision_date"], arrival_local, strict=True)]
    return out[np.asarray(in_window, dtype=bool)].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# Timeliness per record


def timeliness_start(settings: ReportSettings, info: DepartmentInfo | None) -> dt.date | None:
    """The first decision date assessed for timeliness: the later of the platform's ``timeliness_from`` and the
    department's own (its file's ``timeliness_from``, when it joined the platform); ``None``: every decision."""
    dates = [d for d in (settings.timeliness_from, info.timeliness_from if info else None) if d is not None]
    return max(dates) if dates else None


def add_deadlines(
    records: pd.DataFrame, calendar: WorkdayCalendar, settings: ReportSettings, as_of: dt.datetime, tz: ZoneInfo,
    departments: Mapping[str, DepartmentInfo] | None = None,
) -> pd.DataFrame:
    """Adds deadline, provisional, loaded_local (date) and timeliness status to each record.

    Status: ``on_time``, ``late`` (published after the deadline), ``missing`` (not published and the deadline
    has passed), ``pending`` (not published, deadline ahead: not assessed yet), ``exempt`` (backfill: decided before
    the platform's or the department's ``timeliness_from``, see :func:`timeliness_start`), ``no_date`` (no valid decision date). Publication: ``published_at`` (the record's
    ``first_published_at``, or its arrival when it is never shown), ``loaded_at`` for a frame without it.
    """
    out = records.copy()
    if out.empty:
        for c in ("deadline", "provisional", "unknown_years", "basis", "loaded_local", "published_local", "status",
                  "days_late"):
            out[c] = pd.Series(dtype=object)
        return out
    today = as_of.astimezone(tz).date()
    deadlines: dict[dt.date, Any] = {
        d: calendar.publication_deadline(d, settings.deadline_workdays)
        for d in {d for d in out["decision_date"] if d is not None}
    }
    def local(ts: Any) -> dt.date | None:
        return ts.tz_convert(tz).date() if ts is not None and not pd.isna(ts) else None

    loaded_local = [local(ts) for ts in out["loaded_at"]]
    published = out["published_at"] if "published_at" in out.columns else out["loaded_at"]
    infos = departments or {}
    starts = {code: timeliness_start(settings, infos.get(code)) for code in set(out["department"])}
    dl, prov, unknown, basis, published_local, status, late_days = [], [], [], [], [], [], []
    for d, at, code in zip(out["decision_date"], published, out["department"], strict=True):
        ld = local(at)
        published_local.append(ld)
        if d is None:
            dl.append(None), prov.append(False), unknown.append(()), basis.append(None)
            status.append("no_date"), late_days.append(None)
            continue
        deadline = deadlines[d]
        dl.append(deadline.date)
        prov.append(deadline.provisional)
        unknown.append(deadline.unknown_years)
        basis.append(deadline.basis)
        start = starts[code]
        if start is not None and d < start:
            status.append("exempt"), late_days.append(None)
        elif ld is not None:
            ok = ld <= deadline.date
            status.append("on_time" if ok else "late")
            late_days.append(None if ok else (ld - deadline.date).days)
        elif deadline.date < today:
            status.append("missing"), late_days.append((today - deadline.date).days)
        else:
            status.append("pending"), late_days.append(None)
    out["deadline"] = dl
    out["provisional"] = prov
    out["unknown_years"] = unknown
    out["basis"] = basis
    out["loaded_local"] = loaded_local
    out["published_local"] = published_local
    out["status"] = status
    out["days_late"] = late_days
    return out


# --------------------------------------------------------------------------------------------------
# Aggregation

_COUNTS = ("records", "stored", "assessed", "on_time", "late", "missing", "pending", "backfill", "complete",
           "first_pass", "provisional", "upstream_answered", "upstream_returned")


def _counts(frame: pd.DataFrame) -> dict[str, int]:
    st = frame["status"]
    return {
        "records": len(frame),
        "stored": int(frame["loaded_at"].notna().sum()),
        "assessed": int(st.isin(["on_time", "late", "missing"]).sum()),
        "on_time": int((st == "on_time").sum()),
        "late": int((st == "late").sum()),
        "missing": int((st == "missing").sum()),
        "pending": int((st == "pending").sum()),
        "backfill": int((st == "exempt").sum()),
        "complete": int(frame["complete"].sum()),
        "first_pass": int(frame["first_pass"].sum()),
        "provisional": int(frame["provisional"].sum()),
        "upstream_answered": int(frame["upstream_answered"].sum()) if "upstream_answered" in frame else 0,
        "upstream_returned": int(frame["upstream_rejected"].sum()) if "upstream_rejected" in frame else 0,
    }


def _rates(c: Mapping[str, int]) -> dict[str, float | None]:
    return {
        "timeliness": c["on_time"] / c["assessed"] if c["assessed"] else None,
        "completeness": c["complete"] / c["records"] if c["records"] else None,
        "accuracy": c["first_pass"] / c["records"] if c["records"] else None,
        "upstream_rejected": c["upstream_returned"] / c["upstream_answered"] if c["upstream_answered"] else None,
    }


def summarise(records: pd.DataFrame, departments: Mapping[str, DepartmentInfo]) -> pd.DataFrame:
    """Counts and rates per (department, dataset), per department over both datasets, per 县区 (when some
    department is a 县区 unit: one group per 县区 and one for the 市直 departments, ``department`` =
    :func:`region_key`), and for the city.

    Every configured department dataset gets a row, with zero records if it reported nothing. A department found
    only in the store counts with the 市直 departments.
    """
    rows: list[dict[str, Any]] = []
    empty = records.iloc[0:0]
    known = {(code, ds) for code, info in departments.items() for ds in info.datasets}
    present = set(zip(records["department"], records["dataset"], strict=True)) if len(records) else set()
    codes = sorted({c for c, _ in known | present}, key=lambda c: (c not in departments, c))
    for code in codes:
        dept_rows = records[records["department"] == code] if len(records) else empty
        for ds in sorted(DATASETS):
            if (code, ds) not in known | present:
                continue
            part = dept_rows[dept_rows["dataset"] == ds] if len(dept_rows) else empty
            c = _counts(part)
            rows.append({"department": code, "dataset": ds, **c, **_rates(c)})
        c = _counts(dept_rows)
        rows.append({"department": code, "dataset": ALL_DATASETS, **c, **_rates(c)})
    # Per 县区 (and the 市直 departments together) when some department is a 县区 unit; then the city.
    region_of = {code: (info.region or regions().city_code) for code, info in departments.items()}
    if any(info.level == COUNTY_LEVEL for info in departments.values()):
        city_code = regions().city_code
        order = [city_code, *sorted({r for r in region_of.values() if r != city_code})]
        for region in order:
            members = [c for c in codes if region_of.get(c, city_code) == region]
            group = records[records["department"].isin(members)] if len(records) else empty
            for ds in sorted(DATASETS):
                part = group[group["dataset"] == ds] if len(group) else empty
                c = _counts(part)
                rows.append({"department": region_key(region), "dataset": ds, **c, **_rates(c)})
            c = _counts(group)
            rows.append({"department": region_key(region), "dataset": ALL_DATASETS, **c, **_rates(c)})
    for ds in sorted(DATASETS):
        part = records[records["dataset"] == ds] if len(records) else empty
        c = _counts(part)
        rows.append({"department": CITY, "dataset": ds, **c, **_rates(c)})
    c = _counts(records)
    rows.append({"department": CITY, "dataset": ALL_DATASETS, **c, **_rates(c)})
    out = pd.DataFrame(rows, columns=["department", "dataset", *_COUNTS, *INDICATORS, "upstream_rejected"])
    # "No receipt yet" stays None (shown 暂无), not NaN, whatever the other groups' rates are.
    out["upstream_rejected"] = out["upstream_rejected"].astype(object).where(out["upstream_rejected"].notna(), None)
    return out


def feedback_items(
    engine: Engine, as_of: dt.datetime, settings: ReportSettings, department: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open feedback items (quarantine) as of ``as_of`` per department and dataset, and their top rules.

    An entry counts as open at ``as_of`` if it was seen by then and not resolved by then.
    """
    as_of_ts = pd.Timestamp(as_of).tz_convert("UTC")
    ages: dict[tuple[str, str], list[float]] = {}
    rules: dict[tuple[str, str, str], int] = {}
    for dept, ds, seen, rule_ids in queries.open_quarantine_as_of(engine, as_of, department):
        ts = _utc(seen)
        age = (as_of_ts - ts).total_seconds() / 86400 if ts is not None else 0.0
        ages.setdefault((dept, ds), []).append(age)
        for r in (rule_ids or "").split(","):
            if r:
                rules[(dept, ds, r)] = rules.get((dept, ds, r), 0) + 1
    fb = pd.DataFrame(
        [
            {
                "department": d,
                "dataset": ds,
                "open_items": len(a),
                "oldest_days": int(max(a)),
                "median_days": float(np.median(a)),
                "overdue_items": int(sum(1 for x in a if x > settings.feedback_overdue_days)),
            }
            for (d, ds), a in sorted(ages.items())
        ],
        columns=["department", "dataset", "open_items", "oldest_days", "median_days", "overdue_items"],
    )
    messages = _rule_messages()
    top = pd.DataFrame(
        [
            {"department": d, "dataset": ds, "rule": r, "rows": n, "description": messages.get(r, r)}
            for (d, ds, r), n in sorted(rules.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[1], kv[0][2]))
        ],
        columns=["department", "dataset", "rule", "rows", "description"],
    )
    return fb, top


def _rule_messages() -> dict[str, str]:
    """Rule id → the first part of its clerk message (what is wrong, without the how-to)."""
    import expectations

    out = {
        "LOAD-TYPE": "字段值无法入库（日期或金额格式不对）",
        "LOAD-KEY": "业务主键过长，无法入库",  # store/loader.py: behind the key fields' length rules
        "LOAD-TEXT": "字段含有无法保存的字符（空字符或编码残缺）",
        "FILE-DEPT": "报送文件中有其他单位的数据",  # pipeline/prepare.py foreign_rows (方式三)
    }
    for ds in DATASETS:
        for r in expectations.catalogue(ds, include_disabled=True):
            out[r.id] = r.message.split("：", 1)[0]
    return out


def latest_runs(engine: Engine, department: str, limit: int = 10) -> pd.DataFrame:
    """The department's latest ingest runs (both datasets), newest first."""
    rows = queries.latest_runs(engine, department, limit)
    for r in rows:
        r["started_at"] = _utc(r["started_at"])
        r["finished_at"] = _utc(r["finished_at"])
        # A failure message can quote a value from the source: mask ID-like digit runs before showing it.
        r["error"] = mask_text(r["error"]) if r["error"] else None
    return pd.DataFrame(rows, columns=list(queries.RUN_COLUMNS))


def latest_month_with_data(engine: Engine, today: dt.date) -> str | None:
    """The month of the latest decision on or before ``today`` in the store (the dashboard's default)."""
    latest: dt.date | None = None
    for value in queries.latest_decision_dates(engine, today).values():
        v = _parse_date(value)
        if v is not None and (latest is None or v > latest):
            latest = v
    return month_key(latest) if latest else None


def store_departments(engine: Engine) -> set[str]:
    """Department codes that have records, quarantine entries or runs in the store."""
    return queries.store_departments(engine)


# --------------------------------------------------------------------------------------------------
# 全面性: declarations and the 事项目录 (store.declarations)



def declaration_table(
    engine: Engine, records: pd.DataFrame, departments: Mapping[str, DepartmentInfo], months: list[str], as_of: dt.datetime
) -> pd.DataFrame:
    """Declared vs received per department dataset and month (``months``): every configured department dataset
    and every declared one gets a row per month. ``received`` counts the records of the month (stored or still
    in quarantine); ``status``: ``met`` (received ≥ declared), ``short`` (fewer received: ``shortfall`` decisions
    missing), ``undeclared`` (no declaration by ``as_of``)."""
    if not months:
        return pd.DataFrame(columns=DECLARATION_COLUMNS)
    declared = {(r["department"], r["dataset"], r["month"]): r
                for r in queries.declarations_as_of(engine, months[0], months[-1], as_of)}
    received: dict[tuple[str, str, str], int] = {}
    if len(records):
        for key, size in records.groupby(["department", "dataset", "month"]).size().items():
            received[key] = int(size)  # type: ignore[index]
    pairs = {(c, ds) for c, info in departments.items() for ds in info.datasets}
    pairs |= {(d, ds) for d, ds, _ in declared if d in departments}
    rows = []
    for dept, ds in sorted(pairs, key=lambda p: (p[0] not in departments, p[0], p[1])):
        for m in months:
            got = received.get((dept, ds, m), 0)
            dec = declared.get((dept, ds, m))
            n: int | None = None if dec is None else int(dec["declared"])
            status = "undeclared" if n is None else ("met" if got >= n else "short")
            rows.append({"department": dept, "dataset": ds, "month": m, "declared": n, "received": got,
                         "shortfall": None if n is None else max(n - got, 0), "status": status,
                         "declared_at": None if dec is None else _utc(dec["declared_at"])})
    return pd.DataFrame(rows, columns=DECLARATION_COLUMNS)


def _declared_counts(part: pd.DataFrame) -> dict[str, Any]:
    """Over some declaration rows: declared decisions, those received (each month capped at its declaration),
    months without a declaration, and the share received (``None``: nothing declared)."""
    dec = part[part["status"] != "undeclared"] if len(part) else part
    declared = int(sum(int(v) for v in dec["declared"])) if len(dec) else 0
    covered = int(sum(min(int(d), int(r)) for d, r in zip(dec["declared"], dec["received"], strict=True))) if len(dec) else 0
    if not len(dec):
        share: float | None = None
    else:
        share = covered / declared if declared else 1.0
    return {"declared": declared if len(dec) else None, "declared_received": covered,
            "undeclared_months": int((part["status"] == "undeclared").sum()) if len(part) else 0,
            "declared_coverage": share}


def add_declared(table: pd.DataFrame, decl: pd.DataFrame) -> pd.DataFrame:
    """Adds ``declared``, ``declared_received``, ``undeclared_months`` and ``declared_coverage`` (申报到达率) to an
    indicator table, from the declaration rows of its period (per department dataset, department and city)."""
    out = table.copy()
    values: dict[str, list[Any]] = {k: [] for k in ("declared", "declared_received", "undeclared_months", "declared_coverage")}
    for dept, ds in zip(out["department"], out["dataset"], strict=True):
        part = decl
        if dept != CITY:
            part = part[part["department"] == dept]
        if ds != ALL_DATASETS:
            part = part[part["dataset"] == ds]
        for k, v in _declared_counts(part).items():
            values[k].append(v)
    for k, v in values.items():
        out[k] = pd.Series(v, index=out.index, dtype=object)
    return out


def uncatalogued_licences(
    engine: Engine, records: pd.DataFrame, departments: Mapping[str, DepartmentInfo]
) -> tuple[pd.DataFrame, list[str]]:
    """Licences in ``records`` whose item is not in their department's 事项目录, and the departments with
    licences configured (or received) but no 事项目录."""
    from store.declarations import catalogues, item_matcher

    cats = catalogues(engine)
    xk = records[records["dataset"] == "xk"] if len(records) else records
    with_xk = {c for c, info in departments.items() if "xk" in info.datasets} | (set(xk["department"]) if len(xk) else set())
    missing = sorted(c for c in with_xk if c not in cats)
    rows = []
    matchers = {d: item_matcher(items) for d, items in cats.items()}
    for r in xk.to_dict("records") if len(xk) else []:
        m = matchers.get(r["department"])
        if m is None or m.matches(r.get("item_project"), r.get("item_title"), r.get("item_certificate")):
            continue
        item = next((v for v in (r.get("item_project"), r.get("item_title"), r.get("item_certificate")) if v), None)
        rows.append({"department": r["department"], "wsh": mask_text(r["wsh"]) if isinstance(r["wsh"], str) else r["wsh"],
                     "xkbh": mask_text(r["xkbh"]) if isinstance(r["xkbh"], str) else r["xkbh"],
                     "item": mask_text(item) if isinstance(item, str) else None, "decision_date": r["decision_date"]})
    out = pd.DataFrame(rows, columns=UNCATALOGUED_COLUMNS)
    if len(out):
        out = out.sort_values(["department", "decision_date", "wsh"], na_position="last").reset_index(drop=True)
    return out, missing


def add_uncatalogued(table: pd.DataFrame, uncatalogued: pd.DataFrame) -> pd.DataFrame:
    """Adds ``uncatalogued`` (licences of the period whose item is not in the 事项目录) to an indicator table."""
    out = table.copy()
    per_dept = uncatalogued.groupby("department").size().to_dict() if len(uncatalogued) else {}
    counts = []
    for dept, ds in zip(out["department"], out["dataset"], strict=True):
        if ds == "cf":
            counts.append(0)
        elif dept == CITY:
            counts.append(len(uncatalogued))
        else:
            counts.append(int(per_dept.get(dept, 0)))
    out["uncatalogued"] = counts
    return out


# --------------------------------------------------------------------------------------------------
# The assessment


def assess(
    engine: Engine,
    month: str,
    *,
    departments: Mapping[str, DepartmentLike] | Iterable[DepartmentLike] | None = None,
    as_of: dt.datetime | None = None,
    settings: ReportSettings | None = None,
    calendar: WorkdayCalendar | None = None,
    department: str | None = None,
) -> Assessment:
    """Compute every indicator of ``month`` (``YYYY-MM``).

    ``departments``: the configured departments (names, datasets); departments found only in the store are
    added by code. ``as_of`` (aware; default: now) fixes what is known: pass the DAG run's logical date so a
    re-run reproduces the report. ``department`` restricts the tables to one department (dashboard drill-down).
    """
    settings = settings or load_report_settings()
    calendar = calendar or WorkdayCalendar.from_file(settings.holidays_file)
    tz = ZoneInfo(settings.timezone)
    as_of = as_of or dt.datetime.now(dt.UTC)
    if as_of.tzinfo is None:
        raise ValueError("as_of 必须带时区（例如 datetime.now(UTC)）")
    first, last = parse_month(month)
    infos = department_infos(departments)
    notes: list[str] = []
    for code in sorted(store_departments(engine) - set(infos)):
        infos[code] = DepartmentInfo(code, code, ())
        notes.append(f"部门 {code} 在中心库中有数据，但没有部门配置文件：按代码显示。")
    if department is not None:
        infos = {k: v for k, v in infos.items() if k == department}

    trend_start = add_months(first, -(settings.trend_months - 1))
    window_start = min(trend_start, first.replace(month=1))
    frames = []
    for ds in sorted(DATASETS):
        recs = load_records(engine, ds, window_start, last, as_of, tz=tz)
        if department is not None and len(recs):
            recs = recs[recs["department"] == department]
        frames.append(recs)
    nonempty = [f for f in frames if len(f)]
    records = pd.concat(nonempty, ignore_index=True) if nonempty else frames[0]
    if "month" not in records:
        records = records.assign(month=pd.Series(dtype=object))
    records = add_deadlines(records, calendar, settings, as_of, tz, infos)

    in_month = records[records["month"] == month]
    ytd_months = {month_key(dt.date(first.year, m, 1)) for m in range(1, first.month + 1)}
    in_ytd = records[records["month"].isin(ytd_months)]
    month_table = summarise(in_month, infos)
    ytd_table = summarise(in_ytd, infos)
    ytd_list = sorted(ytd_months)
    decl = declaration_table(engine, in_ytd, infos, ytd_list, as_of)
    month_table = add_declared(month_table, decl[decl["month"] == month])
    ytd_table = add_declared(ytd_table, decl)
    uncatalogued, no_catalogue = uncatalogued_licences(engine, in_month, infos)
    uncat_ytd, _ = uncatalogued_licences(engine, in_ytd, infos)
    month_table = add_uncatalogued(month_table, uncatalogued)
    ytd_table = add_uncatalogued(ytd_table, uncat_ytd)

    trend_rows = []
    trend_months = [month_key(add_months(trend_start, k)) for k in range(settings.trend_months)]
    for m in trend_months:
        part = records[records["month"] == m]
        table = summarise(part, infos)
        table = table[table["dataset"] == ALL_DATASETS].assign(month=m)
        trend_rows.append(table)
    trend = pd.concat(trend_rows, ignore_index=True)

    overdue = in_month[in_month["status"].isin(["late", "missing"])].copy()
    overdue = overdue.sort_values(["department", "dataset", "decision_date", "wsh"], na_position="last")
    overdue = pd.DataFrame(
        {
            "department": overdue["department"],
            "dataset": overdue["dataset"],
            # Document and licence numbers are the department's own; still masked in case one holds an ID.
            "wsh": [mask_text(v) if isinstance(v, str) else v for v in overdue["wsh"]],
            "xkbh": [mask_text(v) if isinstance(v, str) else v for v in overdue["xkbh"]],
            "decision_date": overdue["decision_date"],
            "deadline": overdue["deadline"],
            "loaded_local": overdue["loaded_local"],
            "published_local": overdue["published_local"],
            "status": overdue["status"],
            "days_late": overdue["days_late"],
            "provisional": overdue["provisional"],
            "basis": overdue["basis"],
        }
    ).reset_index(drop=True)

    silent = month_table[
        (month_table["dataset"] != ALL_DATASETS) & (month_table["department"].isin(infos)) & (month_table["records"] == 0)
    ][["department", "dataset"]].reset_index(drop=True)

    feedback, top_rules = feedback_items(engine, as_of, settings, department)
    if department is None and infos:
        feedback = feedback[feedback["department"].isin(infos)].reset_index(drop=True)

    provisional_years = sorted(
        {y for ys in in_ytd["unknown_years"] for y in ys} | ({first.year} if not calendar.is_known_year(first.year) else set())
    )
    provisional_records = int(in_month["provisional"].sum()) if len(in_month) else 0
    provisional_basis = {y: str(calendar.year_source(y)) for y in provisional_years}
    return Assessment(
        month=month,
        period=(first, last),
        as_of=as_of,
        settings=settings,
        departments=infos,
        month_table=month_table,
        ytd_table=ytd_table,
        trend=trend,
        overdue=overdue,
        silent=silent,
        feedback=feedback,
        top_rules=top_rules,
        provisional_years=provisional_years,
        provisional_records=provisional_records,
        provisional_basis=provisional_basis,
        calendar_warning=arrangement_warning(calendar, as_of.astimezone(tz).date()),
        notes=notes,
        declarations=decl,
        uncatalogued=uncatalogued,
        no_catalogue=no_catalogue,
    )
