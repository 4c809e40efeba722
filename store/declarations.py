"""全面性 (issue 17 item 8): what the departments say they decided, so that the assessment can see what is missing.

- **Declarations** (``declaration``): per department, dataset and month, the number of decisions the department
  made (by ``sgs declare DEPT --month 2026-11 --cf 120 --xk 340`` or a declarations file, YAML or CSV). The
  table is append-only: a corrected declaration is a new row, and the assessment takes the latest one made by
  its as-of moment, so a closed month's report can be reproduced.
- **事项目录** (``licence_item``): the licence items a department compiled (a YAML file per department:
  ``code``, ``name``, ``aliases``). Imported as a whole (the new catalogue replaces the old one). The assessment
  lists the licences whose item matches no entry (:func:`item_matcher`).

Files:

.. code-block:: yaml

    # declarations.yaml: one entry per department and month
    declarations:
      - {department: scjgj, month: 2026-11, cf: 120, xk: 340, note: 含简易程序}

.. code-block:: text

    department,month,cf,xk,note        (CSV, UTF-8; an empty cell: not declared)
    scjgj,2026-11,120,340,

.. code-block:: yaml

    # scjgj.items.yaml: the department's 事项目录
    department: scjgj
    items:
      - {code: "000105001000", name: 食品经营许可, aliases: [食品经营许可证核发]}
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine

from store.schema import declaration, licence_item

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DATASETS = ("cf", "xk")
#: The longest source name stored (a file's name is cut to it).
_SOURCE_MAX = 200


class DeclarationError(ValueError):
    """A declaration or catalogue that cannot be stored; the message is for the clerk (Chinese)."""


@dataclass(frozen=True)
class Declaration:
    department: str
    dataset: str
    month: str
    declared: int
    note: str | None = None


@dataclass(frozen=True)
class LicenceItem:
    name: str
    code: str | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)


def check_month(month: object) -> str:
    """``YYYY-MM`` (a YAML date such as 2026-11-01 is accepted as its month); anything else raises."""
    if isinstance(month, dt.date):
        return f"{month.year:04d}-{month.month:02d}"
    text = str(month).strip() if month is not None else ""
    if not _MONTH.match(text):
        raise DeclarationError(f"月份 {text!r} 格式不对：请写成 YYYY-MM，例如 2026-11")
    return text


def _count(value: object, where: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise DeclarationError(f"{where}：决定数应为不小于 0 的整数，收到 {value!r}")
    try:
        n = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise DeclarationError(f"{where}：决定数应为不小于 0 的整数，收到 {value!r}") from None
    if n < 0 or n > 10_000_000:
        raise DeclarationError(f"{where}：决定数应为 0 到 10000000 之间的整数，收到 {n}")
    return n


def declarations_from_counts(
    department: str, month: object, counts: Mapping[str, object], note: str | None = None, *, where: str = "申报"
) -> list[Declaration]:
    """One declaration per dataset with a count (``{"cf": 120, "xk": None}`` declares penalties only)."""
    dept = str(department or "").strip()
    if not dept or len(dept) > 40:
        raise DeclarationError(f"{where}：部门代码为空或过长")
    m = check_month(month)
    out = []
    for ds in DATASETS:
        n = _count(counts.get(ds), f"{where}（{dept} {m} {ds}）")
        if n is not None:
            out.append(Declaration(dept, ds, m, n, (str(note).strip() or None) if note else None))
    if not out:
        raise DeclarationError(f"{where}（{dept} {m}）：没有申报任何数据集的决定数（cf 行政处罚 / xk 行政许可）")
    return out


def read_declarations_file(path: Path) -> list[Declaration]:
    """Declarations from a YAML (``declarations:`` list) or CSV file (columns ``department, month, cf, xk[, note]``,
    or ``department, dataset, month, declared[, note]``)."""
    if not path.is_file():
        raise DeclarationError(f"申报文件 {path.name} 不存在")
    if path.suffix.lower() in {".yaml", ".yml"}:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise DeclarationError(f"申报文件 {path.name} 无法读取：{exc.__class__.__name__}") from None
        entries = doc.get("declarations") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            raise DeclarationError(f"申报文件 {path.name} 应有 declarations: 列表")
        rows: list[dict[str, Any]] = []
        for i, e in enumerate(entries, 1):
            if not isinstance(e, dict):
                raise DeclarationError(f"申报文件 {path.name} 第 {i} 项不是映射（department, month, cf, xk）")
            rows.append(e)
    elif path.suffix.lower() == ".csv":
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                rows = list(csv.DictReader(fh))
        except UnicodeDecodeError:
            raise DeclarationError(f"申报文件 {path.name} 不是 UTF-8 编码") from None
    else:
        raise DeclarationError(f"申报文件 {path.name}：只支持 .yaml/.yml/.csv")
    out: list[Declaration] = []
    for i, r in enumerate(rows, 1):
        where = f"{path.name} 第 {i} {'项' if path.suffix.lower() != '.csv' else '行'}"
        r = {str(k).strip().lower(): v for k, v in r.items() if k is not None}
        if "dataset" in r:
            ds = str(r.get("dataset") or "").strip().lower()
            if ds not in DATASETS:
                raise DeclarationError(f"{where}：数据集应为 cf 或 xk，收到 {ds!r}")
            counts = {ds: r.get("declared")}
        else:
            counts = {ds: r.get(ds) for ds in DATASETS}
        out.extend(declarations_from_counts(str(r.get("department") or ""), r.get("month"), counts, r.get("note"), where=where))
    if not out:
        raise DeclarationError(f"申报文件 {path.name} 没有任何申报")
    return out


def record_declarations(engine: Engine, items: Sequence[Declaration], *, source: str, now: dt.datetime | None = None) -> int:
    """Store the declarations in one transaction (appended: the latest one counts); returns how many."""
    at = now or dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        if items:
            conn.execute(
                declaration.insert(),
                [
                    {"department": d.department, "dataset": d.dataset, "month": d.month, "declared": d.declared,
                     "source": source[:_SOURCE_MAX], "note": d.note, "declared_at": at}
                    for d in items
                ],
            )
    return len(items)


# --------------------------------------------------------------------------------------------------
# 事项目录


def normalise_item(text: object) -> str:
    """An item name as compared: NFKC (full-width → half-width), no whitespace at all."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))) if text is not None else ""


#: The shortest item name or alias: a shorter one would be contained in too many document titles.
MIN_NAME = 2


def read_catalogue_file(path: Path) -> tuple[str, list[LicenceItem]]:
    """``(department, items)`` from a 事项目录 YAML file."""
    if not path.is_file():
        raise DeclarationError(f"事项目录文件 {path.name} 不存在")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DeclarationError(f"事项目录文件 {path.name} 无法读取：{exc.__class__.__name__}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise DeclarationError(f"事项目录文件 {path.name} 应有 department: 和 items: 列表")
    dept = str(doc.get("department") or "").strip()
    if not dept or len(dept) > 40:
        raise DeclarationError(f"事项目录文件 {path.name}：department 为空或过长")
    items: list[LicenceItem] = []
    seen: set[str] = set()
    for i, e in enumerate(doc["items"], 1):
        where = f"{path.name} 第 {i} 项"
        if isinstance(e, str):
            e = {"name": e}
        if not isinstance(e, dict):
            raise DeclarationError(f"{where}：应为事项名称或 {{code, name, aliases}} 映射")
        name = str(e.get("name") or "").strip()
        aliases_raw = e.get("aliases") or []
        if not isinstance(aliases_raw, list):
            raise DeclarationError(f"{where}：aliases 应为列表")
        aliases = tuple(str(a).strip() for a in aliases_raw if str(a).strip())
        for n in (name, *aliases):
            if len(normalise_item(n)) < MIN_NAME:
                raise DeclarationError(f"{where}：事项名称 {n!r} 为空或少于 {MIN_NAME} 个字")
        key = normalise_item(name)
        if key in seen:
            raise DeclarationError(f"{where}：事项名称“{name}”重复")
        seen.add(key)
        code = str(e["code"]).strip() if e.get("code") is not None and str(e.get("code")).strip() else None
        if code is not None and len(code) > 64:
            raise DeclarationError(f"{where}：事项编码过长（最多 64 个字符）")
        items.append(LicenceItem(name, code, aliases))
    if not items:
        raise DeclarationError(f"事项目录文件 {path.name} 没有任何事项")
    return dept, items


def replace_catalogue(engine: Engine, department: str, items: Sequence[LicenceItem], *, source: str,
                      now: dt.datetime | None = None) -> int:
    """The department's 事项目录 becomes ``items`` (the old one is replaced in the same transaction)."""
    at = now or dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(licence_item.delete().where(licence_item.c.department == department))
        conn.execute(
            licence_item.insert(),
            [
                {"department": department, "code": it.code, "name": it.name,
                 "aliases": json.dumps(list(it.aliases), ensure_ascii=False), "source": source[:_SOURCE_MAX], "loaded_at": at}
                for it in items
            ],
        )
    return len(items)


def catalogues(engine: Engine) -> dict[str, list[LicenceItem]]:
    """Every department's 事项目录 (department → items); departments without one are absent."""
    out: dict[str, list[LicenceItem]] = {}
    t = licence_item.c
    with engine.connect() as conn:
        for r in conn.execute(sa.select(t.department, t.code, t.name, t.aliases).order_by(t.department, t.id)):
            out.setdefault(r.department, []).append(LicenceItem(r.name, r.code, tuple(json.loads(r.aliases or "[]"))))
    return out


@dataclass(frozen=True)
class ItemMatcher:
    """Whether a licence's item is in the department's 事项目录.

    The item a licence names: its 项目名称 (extension field ``XK_XMMC``) when filled, compared exactly (after
    :func:`normalise_item`) with the items' codes, names and aliases; without it, its 行政许可决定文书名称
    (``XK_XKWS``, where the 2016 template's 项目名称 went, spec Appendix A) or 许可证书名称 (``XK_XKZS``),
    which match an item when they contain its name or an alias (``食品经营许可决定书`` ⊇ ``食品经营许可``).
    """

    exact: frozenset[str]
    names: tuple[str, ...]

    @classmethod
    def build(cls, items: Iterable[LicenceItem]) -> ItemMatcher:
        exact: set[str] = set()
        names: set[str] = set()
        for it in items:
            for n in (it.name, *it.aliases):
                exact.add(normalise_item(n))
                names.add(normalise_item(n))
            if it.code:
                exact.add(normalise_item(it.code))
        return cls(frozenset(exact), tuple(sorted(names, key=len, reverse=True)))

    def matches(self, project: object, title: object, certificate: object) -> bool:
        p = normalise_item(project)
        if p:
            return p in self.exact
        for text in (normalise_item(title), normalise_item(certificate)):
            if text and (text in self.exact or any(n in text for n in self.names)):
                return True
        return False


def item_matcher(items: Iterable[LicenceItem]) -> ItemMatcher:
    return ItemMatcher.build(items)
