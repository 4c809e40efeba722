"""National-template files (CSV in UTF-8 or GB18030, XLSX) → national columns (方式二/方式三 and ``sgs validate``)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pandas as pd

from national import DATASETS, Dataset


class FileRejected(Exception):
    """The file cannot be used at all (unreadable, unknown headers, wrong dataset)."""


def _norm_header(h: object) -> str:
    text = unicodedata.normalize("NFKC", str(h)).strip().strip("\ufeff")
    return re.sub(r"\s+", "", text).upper()


def header_aliases(ds: Dataset) -> dict[str, str]:
    """Normalised header text → national column code: the code itself and the template's Chinese names."""
    out: dict[str, str] = {}
    for f in ds.fields:
        out[_norm_header(f.code)] = f.code
        out[_norm_header(f.name_zh)] = f.code
        m = re.match(r"^(.*?)\((.*)\)$", unicodedata.normalize("NFKC", f.name_zh))
        if m:  # 行政相对人代码_1(统一社会信用代码): accept either part alone
            out.setdefault(_norm_header(m.group(1)), f.code)
            out.setdefault(_norm_header(m.group(2)), f.code)
    return out


def _read_csv(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        from io import StringIO

        try:
            return pd.read_csv(StringIO(text), dtype=str, keep_default_na=False, na_values=[], skip_blank_lines=True)
        except pd.errors.ParserError as exc:
            raise FileRejected(f"{path.name} 不是有效的 CSV 文件：{exc}") from None
        except pd.errors.EmptyDataError:
            raise FileRejected(f"{path.name} 是空文件，没有表头") from None
    raise FileRejected(f"{path.name} 既不是 UTF-8 也不是 GB18030 编码，请另存为 UTF-8 的 CSV 或 XLSX")


def _read_xlsx(path: Path) -> pd.DataFrame:
    try:
        return pd.read_excel(path, dtype=object, engine="openpyxl", keep_default_na=False, na_values=[])
    except Exception as exc:  # openpyxl raises a zoo of types on damaged files
        raise FileRejected(f"{path.name} 无法按 XLSX 读取（{type(exc).__name__}）：请用 Excel 另存为 .xlsx 后重试") from None


def read_template(path: str | Path, dataset: str) -> pd.DataFrame:
    """Read a template file and rename its headers to national column codes.

    The frame keeps the file's row order; values are as read (text or Excel dates/numbers), ready for
    the same normalisation as ingestion.
    """
    p = Path(path)
    if not p.exists():
        raise FileRejected(f"找不到文件 {p}")
    suffix = p.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        frame = _read_xlsx(p)
    elif suffix in (".csv", ".txt"):
        frame = _read_csv(p)
    else:
        raise FileRejected(f"{p.name}：只支持 .csv 和 .xlsx 文件")
    ds = DATASETS[dataset]
    aliases = header_aliases(ds)
    rename: dict[str, str] = {}
    unknown: list[str] = []
    for col in frame.columns:
        if str(col).startswith("Unnamed:") and frame[col].replace("", None).isna().all():
            continue  # an empty trailing column Excel leaves behind
        code = aliases.get(_norm_header(col))
        if code is None:
            unknown.append(str(col))
        elif code in rename.values():
            raise FileRejected(f"{p.name}：表头中 {code} 出现了两次")
        else:
            rename[col] = code
    if unknown:
        for other_name, other in DATASETS.items():
            if other_name != dataset:
                other_aliases = header_aliases(other)
                hits = [u for u in unknown if _norm_header(u) in other_aliases]
                if hits and len(hits) >= len(unknown) / 2:
                    raise FileRejected(
                        f"{p.name} 看起来是{other.name_zh}（{other.name}）数据，而不是{ds.name_zh}（{ds.name}）："
                        f"请改用 --dataset {other.name}"
                    )
        raise FileRejected(
            f"{p.name} 有无法识别的表头：{', '.join(unknown[:10])}。表头应使用国家标准字段代码（如 {ds.columns[0]}）"
            f"或模板中的中文列名（如 {ds.fields[0].name_zh}）"
        )
    if not rename:
        raise FileRejected(f"{p.name} 没有可识别的表头")
    frame = frame[list(rename)].rename(columns=rename)
    frame = frame.astype(object).where(frame.notna(), None)
    frame = frame.replace({"": None})
    return frame.reset_index(drop=True)
