"""National-template files (CSV in UTF-8 or GB18030, XLSX) → national columns (方式二/方式三 and ``sgs validate``).

Files come from departments and are untrusted: they are read in bounded memory. A 200 MB CSV used to be read
whole (1.36 GB resident) and a 27 KB XLSX with one cell in column XFD made pandas pad every row to 16,384
columns (915 MB). Now CSV is decoded and parsed in blocks and chunks, XLSX is streamed in openpyxl's read-only
mode without trusting the sheet's declared dimension, and a size limit (``SGS_FILE_MAX_MB``), a column limit
(:data:`MAX_COLUMNS`) and a line-length limit refuse what cannot be a template, with a Chinese message naming the
file (and the row or column). docs/operations.md lists the limits.
"""

from __future__ import annotations

import codecs
import os
import re
import unicodedata
import zipfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook
from openpyxl.cell.cell import TYPE_ERROR, TYPE_NUMERIC
from openpyxl.utils import get_column_letter

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


#: Columns a template file may have. The national templates have 30 (行政处罚) and 28 (行政许可) columns;
#: a cell far to the right (a stray value in column XFD) must not make every row 16,384 cells wide.
MAX_COLUMNS = 200
#: Data rows per chunk handed to the caller (``sgs validate`` maps and checks one chunk at a time), and the
#: text per chunk: a file of long rows gets fewer rows per chunk, so a chunk's memory stays about the same.
CHUNK_ROWS = 20_000
CHUNK_BYTES = 8 * 1024 * 1024
#: Default size limit of a template file (CSV bytes; for XLSX, the unpacked size of the workbook).
DEFAULT_MAX_MB = 300
#: A CSV line longer than this cannot be a template record (one row is parsed whole into memory).
MAX_LINE_BYTES = 16 * 1024 * 1024
_BLOCK = 1024 * 1024


def _megabytes_setting(name: str, default: float) -> int:
    """A size limit in bytes from the environment variable ``name`` (megabytes), ``default`` when unset."""
    raw = os.environ.get(name, "").strip()
    try:
        mb = float(raw) if raw else default
    except ValueError:
        raise FileRejected(f"环境变量 {name}={raw!r} 不是数字（单位 MB），请改正或删除它") from None
    return int(mb * 1024 * 1024)


def max_file_bytes() -> int:
    """The size limit of a template file: ``SGS_FILE_MAX_MB`` (megabytes), default 300."""
    return _megabytes_setting("SGS_FILE_MAX_MB", DEFAULT_MAX_MB)


#: Default limit of an XLSX's shared-strings part (unpacked). openpyxl loads the whole table into a list even in
#: read-only mode, about 7 bytes of memory per byte of XML for short strings: a 2 MB file with 18 MB of shared
#: strings (800,000 unused short strings) took 120 MB more than the interpreter; at this limit about 230 MB.
#: 32 MB holds the text of tens of thousands of template rows; larger files are split by month or sent as CSV.
DEFAULT_SHARED_STRINGS_MB = 32


def max_shared_strings_bytes() -> int:
    """The limit of an XLSX's shared strings (unpacked): ``SGS_XLSX_SHARED_STRINGS_MB``, default 32."""
    return _megabytes_setting("SGS_XLSX_SHARED_STRINGS_MB", DEFAULT_SHARED_STRINGS_MB)


def _shared_strings_parts(zf: zipfile.ZipFile) -> set[str]:
    """The shared-strings part as openpyxl finds it (by content type), and any member named like one."""
    names = {i.filename for i in zf.infolist() if i.filename.lower().endswith("sharedstrings.xml")}
    try:
        from openpyxl.packaging.manifest import Manifest
        from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS
        from openpyxl.xml.functions import fromstring

        if zf.getinfo(ARC_CONTENT_TYPES).file_size > 1024 * 1024:  # a real one is a few KB; then the name decides
            return names
        ct = Manifest.from_tree(fromstring(zf.read(ARC_CONTENT_TYPES))).find(SHARED_STRINGS)
        if ct is not None:
            names.add(ct.PartName[1:])
    except Exception:  # noqa: BLE001 - a damaged manifest is reported by load_workbook itself
        pass
    return names


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def _too_big(path: Path, size: int, what: str = "") -> FileRejected:
    limit = max_file_bytes()
    return FileRejected(
        f"{path.name}{what} 有 {_mb(size)}，超过上限 {_mb(limit)}：请按月份拆成几个较小的文件分别提交"
        f"（上限由环境变量 SGS_FILE_MAX_MB 设置）"
    )


def _csv_encoding(path: Path) -> tuple[str, int]:
    """(UTF-8 with or without BOM, or GB18030; lines): decided over the whole file in blocks (bounded memory).
    Also refuses a line longer than :data:`MAX_LINE_BYTES`."""
    for enc in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(enc)()
        line_no, run = 1, 0
        try:
            with path.open("rb") as fh:
                while block := fh.read(_BLOCK):
                    decoder.decode(block)
                    parts = block.split(b"\n")
                    for k, part in enumerate(parts):
                        run += len(part)
                        if run > MAX_LINE_BYTES:
                            raise FileRejected(
                                f"{path.name} 第 {line_no} 行超过 {_mb(MAX_LINE_BYTES)}，不是模板数据：请检查文件是否完整、换行是否正确"
                            )
                        if k < len(parts) - 1:
                            line_no, run = line_no + 1, 0
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return enc, line_no
    raise FileRejected(f"{path.name} 既不是 UTF-8 也不是 GB18030 编码，请另存为 UTF-8 的 CSV 或 XLSX")


_CSV_OPTIONS: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_values": [], "skip_blank_lines": True}


def _csv_columns(path: Path, enc: str) -> list[str]:
    try:
        return list(pd.read_csv(path, encoding=enc, nrows=0, **_CSV_OPTIONS).columns)
    except pd.errors.EmptyDataError:
        raise FileRejected(f"{path.name} 是空文件，没有表头") from None
    except pd.errors.ParserError as exc:
        raise FileRejected(f"{path.name} 不是有效的 CSV 文件：{exc}") from None


def _csv_chunks(path: Path, enc: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    try:
        with pd.read_csv(path, encoding=enc, chunksize=chunk_rows, **_CSV_OPTIONS) as reader:
            yield from reader
    except pd.errors.ParserError as exc:
        raise FileRejected(f"{path.name} 不是有效的 CSV 文件：{exc}") from None
    except pd.errors.EmptyDataError:
        return


def _xlsx_value(cell: Any) -> Any:
    """A cell as pandas' openpyxl reader gives it (``sgs validate`` output stays what it was with pandas)."""
    value = cell.value
    if value is None:
        return ""
    if cell.data_type == TYPE_ERROR:
        return None
    if cell.data_type == TYPE_NUMERIC:
        whole = int(value)
        return whole if whole == value else float(value)
    return value


def _xlsx_open(path: Path) -> Any:
    """The workbook in openpyxl's read-only (streaming) mode, after a check of its unpacked size and of its
    shared strings (which openpyxl loads whole)."""
    limit = max_file_bytes()
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
            strings = 0 if unpacked > limit else sum(
                zf.getinfo(n).file_size for n in _shared_strings_parts(zf) if n in zf.NameToInfo
            )
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRejected(f"{path.name} 无法按 XLSX 读取（{type(exc).__name__}）：请用 Excel 另存为 .xlsx 后重试") from None
    if unpacked > limit:  # a small XLSX can unpack to gigabytes of XML
        raise _too_big(path, unpacked, "（解压后）")
    strings_limit = max_shared_strings_bytes()
    if strings > strings_limit:  # openpyxl holds every shared string in memory at once, even read-only
        raise FileRejected(
            f"{path.name} 的共享字符串表（xl/sharedStrings.xml）解压后有 {_mb(strings)}，超过上限 {_mb(strings_limit)}"
            f"（SGS_XLSX_SHARED_STRINGS_MB）：请按月份拆成几个较小的文件分别提交，或另存为 CSV（UTF-8）后提交"
        )
    try:
        return load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises a zoo of types on damaged files (KeyError, ValueError,
        # TypeError, XML parser errors …): each means the same to the clerk
        raise FileRejected(f"{path.name} 无法按 XLSX 读取（{type(exc).__name__}）：请用 Excel 另存为 .xlsx 后重试") from None


def _xlsx_rows(path: Path) -> Generator[list[Any], None, None]:
    """The first sheet's rows, each trimmed of trailing empty cells; stops at a row wider than
    :data:`MAX_COLUMNS` holding a value there. Memory: one row at a time (read-only mode)."""
    wb = _xlsx_open(path)
    try:
        ws = wb.worksheets[0]
        # The declared <dimension> (A1:XFD1 when one cell sits in column XFD) would make openpyxl pad every
        # row to that width: let it use each row's real cells instead (pandas does the same).
        ws.reset_dimensions()
        try:
            for number, row in enumerate(ws.iter_rows(), start=1):
                values = [_xlsx_value(c) for c in row[: MAX_COLUMNS + 1]]
                if len(row) > MAX_COLUMNS:  # only a value beyond the limit matters, not empty formatted cells
                    far = next((c for c in reversed(row[MAX_COLUMNS:]) if c.value is not None and c.value != ""), None)
                    if far is not None:
                        letter = get_column_letter(getattr(far, "column", None) or len(row))
                        raise FileRejected(
                            f"{path.name} 第 {number} 行第 {letter} 列有内容：模板文件最多 {MAX_COLUMNS} 列，"
                            f"请删除 {letter} 列（及其他多余的列）的内容后重试"
                        )
                while values and values[-1] == "":
                    values.pop()
                yield values
        except FileRejected:
            raise
        except Exception as exc:  # noqa: BLE001 - damaged XML inside the zip: openpyxl's zoo of types, as above
            raise FileRejected(f"{path.name} 无法按 XLSX 读取（{type(exc).__name__}）：请用 Excel 另存为 .xlsx 后重试") from None
    finally:
        wb.close()


def _header_names(values: list[Any]) -> list[Any]:
    """Column names the way pandas names them: ``Unnamed: i`` for a blank header, ``X.1`` for a repeat."""
    names: list[Any] = []
    seen: dict[Any, int] = {}
    for i, v in enumerate(values):
        name: Any = f"Unnamed: {i}" if v == "" or v is None or (isinstance(v, float) and v != v) else v
        if name in seen:
            base = name
            while name in seen:
                seen[base] += 1
                name = f"{base}.{seen[base]}"
        seen[name] = 0
        names.append(name)
    return names


def _xlsx_chunks(path: Path, chunk_rows: int) -> tuple[list[Any], Iterator[pd.DataFrame], Any]:
    """(column names, data chunks, a function closing the file) of an XLSX file, streamed."""
    rows = _xlsx_rows(path)
    header = next(rows, None)
    if header is None:
        raise FileRejected(f"{path.name} 是空文件，没有表头")
    if not header:
        rows.close()
        raise FileRejected(f"{path.name} 的第 1 行是空行：表头（字段代码或中文列名）应在第 1 行")
    names = _header_names(header)
    width = len(names)

    def chunks() -> Iterator[pd.DataFrame]:
        buf: list[list[Any]] = []
        held = 0  # characters of text in buf: a chunk of long texts is handed over before chunk_rows rows
        done = 0  # data rows already yielded: the index of a chunk goes on from there, as pandas' CSV chunks do
        blank = 0  # empty rows seen since the last row with data: kept only if data follows (as pandas did)

        def flush() -> pd.DataFrame:
            nonlocal buf, done, held
            frame = pd.DataFrame(buf, columns=names, dtype=object, index=pd.RangeIndex(done, done + len(buf)))
            done, buf, held = done + len(buf), [], 0
            return frame

        for number, values in enumerate(rows, start=2):
            if not values:
                blank += 1
                continue
            if len(values) > width:
                letter = get_column_letter(len(values))
                raise FileRejected(
                    f"{path.name} 第 {number} 行在第 {letter} 列有内容，但这一列没有表头：请补上表头或删除这一列的内容"
                )
            for _ in range(blank):
                buf.append([""] * width)
                if len(buf) >= chunk_rows:
                    yield flush()
            blank = 0
            buf.append(values + [""] * (width - len(values)))
            held += sum(len(v) for v in values if isinstance(v, str))
            if len(buf) >= chunk_rows or held >= CHUNK_BYTES:
                yield flush()
        if buf:
            yield flush()

    return names, chunks(), rows.close


def _check_width(path: Path, columns: list[Any]) -> None:
    if len(columns) > MAX_COLUMNS:
        letter = get_column_letter(len(columns))
        raise FileRejected(
            f"{path.name} 的表头有 {len(columns)} 列（最后一列 {letter}），超出了 {MAX_COLUMNS} 列的上限："
            f"请删除多余的列后重试"
        )


def _resolve_headers(p: Path, columns: list[Any], dataset: str) -> tuple[dict[Any, str], list[Any]]:
    """(file column → national code, blank-header columns that must stay empty). Raises FileRejected."""
    ds = DATASETS[dataset]
    aliases = header_aliases(ds)
    rename: dict[Any, str] = {}
    unknown: list[str] = []
    unnamed: list[Any] = []
    for col in columns:
        if str(col).startswith("Unnamed:"):
            unnamed.append(col)  # an empty trailing column Excel leaves behind; checked chunk by chunk
            continue
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
    return rename, unnamed


def open_template(path: str | Path, dataset: str, *, chunk_rows: int | None = None) -> tuple[list[str], Iterator[pd.DataFrame]]:
    """(national columns of the file, its data in chunks of at most ``chunk_rows`` rows, renamed to national codes).

    Memory stays bounded whatever the file's size (CSV read in blocks, XLSX in openpyxl's read-only mode);
    files over ``SGS_FILE_MAX_MB``, with more than :data:`MAX_COLUMNS` columns or a CSV line over
    :data:`MAX_LINE_BYTES` are refused with :class:`FileRejected`. The header is checked before the first
    chunk; a problem found further down the file (a malformed CSV line, a value under a blank header) raises
    :class:`FileRejected` when its chunk is reached. Chunks keep the file's row order; values are as read
    (text, or Excel dates/numbers), ready for the same normalisation as ingestion.
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    p = Path(path)
    if not p.is_file():
        raise FileRejected(f"找不到文件 {p}")
    suffix = p.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".csv", ".txt"):
        raise FileRejected(f"{p.name}：只支持 .csv 和 .xlsx 文件")
    size = p.stat().st_size
    if size > max_file_bytes():
        raise _too_big(p, size)
    if suffix in (".xlsx", ".xlsm"):
        columns, chunks, close = _xlsx_chunks(p, chunk_rows)
    else:
        enc, lines = _csv_encoding(p)
        columns, close = _csv_columns(p, enc), None
        # Rows per chunk from the average line length: CHUNK_BYTES of text, at most chunk_rows rows.
        chunk_rows = max(1, min(chunk_rows, CHUNK_BYTES * lines // max(size, 1)))
        chunks = _csv_chunks(p, enc, chunk_rows)
    try:
        _check_width(p, columns)
        rename, unnamed = _resolve_headers(p, columns, dataset)
    except FileRejected:
        if close is not None:
            close()  # the workbook is open until its rows are read or closed
        raise
    return list(rename.values()), _renamed(p, chunks, rename, unnamed)


def iter_template(path: str | Path, dataset: str, *, chunk_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """The data chunks of :func:`open_template` (the header is checked on this call, not on the first chunk)."""
    return open_template(path, dataset, chunk_rows=chunk_rows)[1]


def _renamed(p: Path, chunks: Iterator[pd.DataFrame], rename: dict[Any, str], unnamed: list[Any]) -> Iterator[pd.DataFrame]:
    for frame in chunks:
        for col in unnamed:
            if not frame[col].replace("", None).isna().all():
                raise FileRejected(f"{p.name} 有无法识别的表头：{col}。第 {_first_filled(frame[col])} 行在没有表头的列中有内容，请补上表头或删除这些内容")
        frame = frame[list(rename)].rename(columns=rename)
        frame = frame.astype(object).where(frame.notna(), None)
        frame = frame.replace({"": None})
        yield frame.reset_index(drop=True)


def _first_filled(col: pd.Series) -> int:
    """The file row number (header = 1) of the first non-empty value of ``col``."""
    filled = col.replace("", None).notna().to_numpy()
    return int(col.index[int(filled.argmax())]) + 2


def read_template(path: str | Path, dataset: str) -> pd.DataFrame:
    """A whole template file in one frame (see :func:`open_template`): for small files; a large file is
    processed chunk by chunk instead (``sgs validate`` does)."""
    columns, chunks = open_template(path, dataset)
    frames = list(chunks)
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.concat(frames, ignore_index=True)


def open_any_template(path: str | Path, *, chunk_rows: int | None = None) -> tuple[str, list[str], Iterator[pd.DataFrame]]:
    """(dataset, national columns, chunks) of a template file of either dataset, told apart by its header (a
    file delivered to an inbox says nothing else about what it holds). Raises :class:`FileRejected` with the
    message of the dataset the header matched best when it fits neither."""
    errors: list[FileRejected] = []
    for name in DATASETS:
        try:
            columns, chunks = open_template(path, name, chunk_rows=chunk_rows)
        except FileRejected as exc:
            errors.append(exc)
            continue
        return name, columns, chunks
    # "looks like the other dataset: use --dataset" is the command line's hint; the other's own error is the one
    mine = [e for e in errors if "--dataset" not in str(e)]
    raise (mine or errors)[0]


#: Members a ZIP delivered to an inbox may hold, and the ratio of unpacked to packed size a member may have:
#: a template compresses about 5-15 times (CSV text, XLSX is itself compressed); 200 is a zip bomb.
MAX_ZIP_MEMBERS = 50
MAX_ZIP_RATIO = 200
TEMPLATE_SUFFIXES = (".csv", ".xlsx")
_ZIP_IGNORED = ("__MACOSX/", "Thumbs.db", "desktop.ini", ".DS_Store")


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as the sender saw it: ZIP tools on Chinese Windows write GBK names without the UTF-8
    flag, which ``zipfile`` decodes as CP437."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("gb18030")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def unpack_zip(path: Path, into: Path) -> list[tuple[str, Path]]:
    """(name in the archive, unpacked file) of each template file of a ZIP (as copied from a disc), unpacked into the empty folder ``into``; raises
    :class:`FileRejected` for anything but a few CSV/XLSX files: more than :data:`MAX_ZIP_MEMBERS` members,
    an unsafe name (absolute, ``..``, a drive), a nested archive or another kind of file, an encrypted member,
    more than ``SGS_FILE_MAX_MB`` unpacked, or a member packed more than :data:`MAX_ZIP_RATIO` times. Sizes
    are checked as declared and again while unpacking (a member may lie about its size)."""
    limit = max_file_bytes()
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRejected(f"{path.name} 无法按 ZIP 读取（{type(exc).__name__}）：请重新打包后提交") from None
    out: list[tuple[str, Path]] = []
    with zf:
        members = [i for i in zf.infolist() if not i.is_dir() and not any(x in i.filename for x in _ZIP_IGNORED)]
        if len(members) > MAX_ZIP_MEMBERS:
            raise FileRejected(f"{path.name} 中有 {len(members)} 个文件，超过上限 {MAX_ZIP_MEMBERS} 个：请分成几个压缩包提交")
        if not members:
            raise FileRejected(f"{path.name} 是空的压缩包：其中没有 CSV 或 XLSX 文件")
        total = sum(i.file_size for i in members)
        if total > limit:
            raise _too_big(path, total, "（解压后）")
        seen: set[str] = set()
        for info in members:
            name = _member_name(info)
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts or "\x00" in name:
                raise FileRejected(f"{path.name} 中的文件名“{name}”不安全（绝对路径或含 ..）：请只打包模板文件本身")
            base = parts[-1]
            if base.startswith(".") or base.startswith("~$"):
                continue  # hidden files and Excel's lock files of a copied folder
            if not base.lower().endswith(TEMPLATE_SUFFIXES):
                raise FileRejected(f"{path.name} 中的“{name}”不是 CSV 或 XLSX 文件：压缩包中只能放模板文件（不能嵌套压缩包）")
            if info.flag_bits & 0x1:
                raise FileRejected(f"{path.name} 中的“{name}”已加密：请提交未加密的压缩包")
            if info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1) and info.file_size > 1024 * 1024:
                raise FileRejected(f"{path.name} 中的“{name}”压缩比异常（{info.file_size // max(info.compress_size, 1)} 倍），不像是模板文件")
            if base.lower() in seen:
                raise FileRejected(f"{path.name} 中有两个名为“{base}”的文件：请改名后重新打包")
            seen.add(base.lower())
            target = into / f"{len(out) + 1:02d}-{base}"
            written = 0
            try:
                with zf.open(info) as src, target.open("wb") as dst:
                    while block := src.read(_BLOCK):
                        written += len(block)
                        if written > info.file_size or written > limit:
                            raise FileRejected(f"{path.name} 中的“{name}”解压后比声明的大，不像是模板文件")
                        dst.write(block)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
                raise FileRejected(f"{path.name} 中的“{name}”无法解压（{type(exc).__name__}）：请重新打包后提交") from None
            except zipfile.LargeZipFile:
                raise FileRejected(f"{path.name} 过大，无法解压") from None
            out.append((name, target))
    if not out:
        raise FileRejected(f"{path.name} 中没有 CSV 或 XLSX 文件")
    return out
