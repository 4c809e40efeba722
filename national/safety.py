"""Output safety shared by every stage: URLs without secrets, untrusted text that is never a spreadsheet formula.

``national`` is the leaf package every stage may import (design.md: imports only point downstream), so the two
primitives that every writer of logs, messages, workbooks and CSV files needs live here, once:

- :func:`redact_url` — a database or HTTP URL fit for a log line, a message, ``sgs status`` or a report: the
  userinfo password (also one with an unencoded ``@``, which SQLAlchemy's ``make_url`` splits at the wrong ``@``)
  and every secret-bearing query value (``password``, ``pwd``, ``odbc_connect``, …) become ``***``.
- :func:`formula_like`, :func:`csv_text` and :func:`xlsx_text` — untrusted text written into a workbook or a CSV
  file stays text. OWASP's "CSV injection" guidance: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return is read as a formula by Excel, WPS and LibreOffice. In XLSX the cell is written with the string
  type (the value is kept exactly); in CSV, which has no types, the value gets a leading apostrophe.
- :func:`private_dir`, :func:`private_file` and :func:`write_private` — the store file, reports, exports,
  quality pages and GX results hold departments' records (ID numbers in the store): folders are created
  ``0700`` and files ``0600`` explicitly at creation, whatever the process umask.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

#: Query-string keys whose value is a secret (or a whole connect string that may carry one), lower case.
SECRET_QUERY_KEYS = frozenset(
    {
        "password", "passwd", "pwd", "pass", "passfile", "passphrase", "secret", "token", "access_token",
        "api_key", "apikey", "odbc_connect", "service", "sslpassword", "wallet_password", "auth_token",
    }
)

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<rest>.*)$", re.DOTALL)
_QUERY_PAIR = re.compile(r"(?P<sep>^|[&;])(?P<key>[^=&;#]*)=(?P<value>[^&;#]*)")

#: First characters that make Excel, WPS or LibreOffice read a cell as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def redact_url(url: object) -> str:
    """``url`` with its password and secret query values replaced by ``***``; never raises.

    Works on the raw text (not on ``make_url``) so that a password holding an unencoded ``@``, ``:`` or ``%``
    is hidden whole: the userinfo ends at the *last* ``@`` before the path or query.
    """
    text = "" if url is None else str(url)
    m = _SCHEME.match(text)
    if not m:
        return _redact_query(text) if "=" in text else text
    scheme, rest = m.group("scheme"), m.group("rest")
    # The authority is everything before the first "/", "?" or "#" that follows the last "@" of the part
    # before the query; a password may itself contain "@".
    head, sep, query = rest.partition("?")
    at = head.rfind("@")
    if at >= 0:
        userinfo, hostpart = head[:at], head[at + 1 :]
        user, colon, _password = userinfo.partition(":")
        head = f"{user}:***@{hostpart}" if colon else f"{user}@{hostpart}"
    return scheme + head + (sep + _redact_query(query) if sep else "")


def _redact_query(query: str) -> str:
    def repl(m: re.Match[str]) -> str:
        key = m.group("key")
        if key.strip().lower() in SECRET_QUERY_KEYS:
            return f"{m.group('sep')}{key}=***"
        return m.group(0)

    return _QUERY_PAIR.sub(repl, query)


def formula_like(value: object) -> bool:
    """True when a spreadsheet would read ``value`` (a string) as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def csv_text(value: Any) -> Any:
    """A value for a CSV cell: formula-like text gets a leading apostrophe; anything else is returned as is."""
    return "'" + value if formula_like(value) else value


def xlsx_text(cell: Any, value: Any) -> Any:
    """Set an openpyxl ``cell`` to ``value``; a string is always stored as a string, never as a formula.

    openpyxl turns any string that starts with ``=`` into a formula cell; the type is set back to string so the
    workbook shows the department's text exactly as it was sent. Returns the cell.
    """
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
    its mode. An existing file is set to ``0600`` too, because its content is about to be replaced.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return Path(path)


def write_private(path: str | os.PathLike[str], data: str | bytes, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` as an owner-only (``0600``) file; return the path."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), PRIVATE_FILE_MODE)
        f.write(data.encode(encoding) if isinstance(data, str) else data)
    return Path(path)
