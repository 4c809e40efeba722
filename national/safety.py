"""Output safety shared by every stage: URLs without secrets, untrusted text that is never a spreadsheet formula.

``national`` is the leaf package every stage may import (design.md: imports only point downstream), so the two
primitives that every writer of logs, messages, workbooks and CSV files needs live here, once:

- :func:`redact_url` — a database or HTTP URL fit for a log line, a message, ``sgs status`` or a report: the
  userinfo password (whatever SQLAlchemy's ``make_url`` would read as the password — it may hold ``?``, ``/``,
  ``#`` — and, for a password with an unencoded ``@``, up to the last ``@`` before the path or query) and every
  secret-bearing query value (``password``, ``pwd``, ``odbc_connect``, …, also when the key is percent-encoded
  as ``%70assword``) become ``***``.
- :func:`formula_like`, :func:`csv_text`, :func:`xlsx_value` and :func:`xlsx_text` — untrusted text written into a
  workbook or a CSV file stays text. OWASP's "CSV injection" guidance: a cell that starts with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return is read as a formula by Excel, WPS and LibreOffice. In XLSX the cell is
  written with the string type; in CSV, which has no types, the value gets a leading apostrophe. XLSX (XML 1.0)
  cannot hold control characters: each becomes a visible escape such as ``\\x1b``; a value over Excel's cell limit
  (32,767 characters) is cut with the marker ``…（已截断，共 N 个字符）``.
- :func:`private_dir`, :func:`private_file` and :func:`write_private` — the store file, reports, exports,
  quality pages and GX results hold departments' records (ID numbers in the store): folders are created
  ``0700`` and files ``0600`` explicitly at creation, whatever the process umask.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

#: Query-string keys whose value is a secret (or a whole connect string that may carry one), lower case.
SECRET_QUERY_KEYS = frozenset(
    {
        "password", "passwd", "pwd", "pass", "passfile", "passphrase", "secret", "token", "access_token",
        "api_key", "apikey", "odbc_connect", "service", "sslpassword", "wallet_password", "auth_token",
        "ssl_key_password", "sslkey_password", "client_secret", "private_key", "private_key_passphrase", "sig",
        "key", "sas_token", "credentials", "__extra__",  # Airflow's connection URI carries its extra JSON here
    }
)

# SQLAlchemy's own scheme grammar is ``[\w\+]+://`` (``postgresql+psycopg_binary``); leading white space is kept
# as it is (a pasted value often has some) but must not make the URL unrecognised.
_SCHEME = re.compile(r"^(?P<scheme>\s*[\w+.\-]+://)(?P<rest>.*)$", re.DOTALL)
# SQLAlchemy's make_url: ``(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@`` right after the scheme, so the
# password may hold "?", "/", "#" and ":" and ends at the first "@" after the username's ":".
_USERINFO = re.compile(r"(?P<user>[^:/]*):(?P<password>[^@]*)@", re.DOTALL)
# parse_qsl (what make_url uses) splits on "&" only and keeps "#" and ";" in a value, so "?password=ab#c;d"
# hides "ab#c;d" whole; a second pass also splits on ";", which some drivers' connect strings use.
_QUERY_PAIRS = (
    re.compile(r"(?P<sep>^|[&;])(?P<key>[^=&;]*)=(?P<value>[^&;]*)", re.DOTALL),
    re.compile(r"(?P<sep>^|&)(?P<key>[^=&]*)=(?P<value>[^&]*)", re.DOTALL),
)

#: First characters that make Excel, WPS or LibreOffice read a cell as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def redact_url(url: object) -> str:
    """``url`` with its password and secret query values replaced by ``***``; never raises.

    Works on the raw text with SQLAlchemy's own grammar (``sqlalchemy.engine.url._parse_url``), so whatever
    ``make_url`` would take as the password is hidden, and a little more: a password holding an unencoded
    ``@`` is hidden up to the *last* ``@`` before the next ``/`` or ``?`` (``make_url`` would stop at the first
    one and print the tail as the host). Query keys are compared percent-decoded (``%70assword`` is ``password``).
    """
    text = "" if url is None else str(url)
    m = _SCHEME.match(text)
    if not m:
        if "://" in text and "@" in text:  # not a URL we can read, but it may carry userinfo: hide all of it
            head, _, tail = text.partition("://")
            return head + "://***@" + _redact_query(tail.rsplit("@", 1)[1])
        return _redact_query(text) if "=" in text else text
    scheme, rest = m.group("scheme"), m.group("rest")
    end = 0  # where the host part starts: the query is looked for after it
    u = _USERINFO.match(rest)
    if u:
        start, at = u.start("password"), u.end("password")
        # An unencoded "@" in the password: make_url would print its tail as the host. Hide up to the last "@"
        # before the path or query that follows (not beyond: a "@" in a query value is no password's).
        ends = [i for i in (rest.find("/", at + 1), rest.find("?", at + 1)) if i >= 0]
        last_at = rest.rfind("@", at, min(ends, default=len(rest)))
        at = max(at, last_at)
        rest = rest[:start] + "***" + rest[at:]
        end = start + 3
    q = rest.find("?", end)
    if q < 0:
        return scheme + rest
    return scheme + rest[: q + 1] + _redact_query(rest[q + 1 :])


def _redact_query(query: str) -> str:
    def repl(m: re.Match[str]) -> str:
        key = m.group("key")
        # compare letters, digits and "_" only: "%70assword", "PassWord", "password%00", " pwd" are all secrets
        if re.sub(r"[^a-z0-9_]", "", unquote_plus(key).lower()) in SECRET_QUERY_KEYS:
            return f"{m.group('sep')}{key}=***"
        return m.group(0)

    for pairs in _QUERY_PAIRS:
        query = pairs.sub(repl, query)
    return query


def formula_like(value: object) -> bool:
    """True when a spreadsheet would read ``value`` (a string) as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def csv_text(value: Any) -> Any:
    """A value for a CSV cell: formula-like text gets a leading apostrophe; anything else is returned as is."""
    return "'" + value if formula_like(value) else value


#: Excel's limit on the characters of one cell (counted in UTF-16 units); a longer cell makes Excel "repair" the file.
XLSX_CELL_MAX = 32_767
# openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE (XML 1.0 has no control characters but tab, LF and CR), plus what no
# XML file can hold at all: lone surrogates and U+FFFE/U+FFFF. Copied, not imported: national stays light.
_XLSX_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]|[\ud800-\udfff\ufffe\uffff]")


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def xlsx_value(value: Any) -> Any:
    """``value`` as an XLSX cell can hold it; anything but a string is returned as is.

    A control character becomes a visible escape (``\\x1b``, ``\\x00``; a lone surrogate ``\\udc80``): the clerk
    sees where the character sits in the value their system holds, next to the rule message "含有…控制字符".
    A value longer than Excel's cell limit keeps its start and ends with ``…（已截断，共 N 个字符）`` (N: the
    characters of the whole value). Applying it twice changes nothing.
    """
    if not isinstance(value, str):
        return value
    text = _XLSX_ILLEGAL.sub(_escape, value)
    if len(text) <= XLSX_CELL_MAX // 2 or _utf16_len(text) <= XLSX_CELL_MAX:  # the first test is the usual case
        return text
    marker = f"…（已截断，共 {len(value)} 个字符）"
    keep = XLSX_CELL_MAX - len(marker)
    cut = units = 0
    for ch in text:  # characters outside the BMP count twice in Excel
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > keep:
            break
        cut += 1
    return text[:cut] + marker


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xlsx_text(cell: Any, value: Any) -> Any:
    """Set an openpyxl ``cell`` to ``value``; a string is always stored as a string, never as a formula.

    Every XLSX writer sets untrusted text through here (or :func:`xlsx_value` before ``ws.append`` /
    ``DataFrame.to_excel``, which raise on control characters). openpyxl turns any string that starts with ``=``
    into a formula cell; the type is set back to string so the workbook shows the department's text as it was
    sent, control characters escaped and over-long text cut (:func:`xlsx_value`). Returns the cell.
    """
    value = xlsx_value(value)
    cell.value = value
    if isinstance(value, str) and cell.data_type != "s":
        cell.data_type = "s"
    return cell


#: Modes of what the platform writes: owner only (docs/operations.md, "File permissions").
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and every missing parent with mode ``0700``; return it.

    Folders that already exist keep their mode: an operator may have opened one on purpose (a group that
    serves the reports); docs/operations.md says how to tighten an older installation.
    """
    p = Path(path)
    missing: list[Path] = []
    q = p
    while not q.exists() and q != q.parent:
        missing.append(q)
        q = q.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, PRIVATE_DIR_MODE)  # the umask can only take bits away from 0700
        except FileExistsError:
            pass  # another run created it in the meantime
    return p


def private_file(path: str | os.PathLike[str]) -> Path:
    """Make ``path`` an owner-only (``0600``) file, creating it empty if needed; return it.

    For writers that open the path themselves (openpyxl, pandas, SQLite): they truncate the file and keep
    its mode. An existing file is set to ``0600`` too, because its content is about to be replaced. A symlink is
    refused (``O_NOFOLLOW``): a planted link must not make the program chmod, or write, another file.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    except OSError as exc:
        if os.path.islink(path):
            raise PrivateFileError(f"{path} 是符号链接，程序不会写入或修改它指向的文件：请删除该链接后重试") from None
        raise exc
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return Path(path)


def write_private(path: str | os.PathLike[str], data: str | bytes, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` as an owner-only (``0600``) file; return the path. A symlink is refused."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    except OSError as exc:
        if os.path.islink(path):
            raise PrivateFileError(f"{path} 是符号链接，程序不会写入或修改它指向的文件：请删除该链接后重试") from None
        raise exc
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), PRIVATE_FILE_MODE)
        f.write(data.encode(encoding) if isinstance(data, str) else data)
    return Path(path)


class PrivateFileError(OSError):
    """A file the program would write is a symlink."""
