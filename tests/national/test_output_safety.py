"""national/safety.py: URLs never show a password make_url would read (item 3), XLSX cells always storable
(item 4/0), private files never follow a symlink (item 12)."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path
from urllib.parse import quote

import pytest
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from national.safety import (
    SECRET_QUERY_KEYS,
    XLSX_CELL_MAX,
    PrivateFileError,
    private_file,
    redact_url,
    write_private,
    xlsx_value,
)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql+psycopg://root@127.0.0.1:1/x?%70assword=s3cretQ", "s3cretQ"),  # make_url decodes the key
        ("postgresql://root@h/x?PASS%57ORD=s3cretQ", "s3cretQ"),
        ("postgresql://root@h/x?+password+=s3cretQ", "s3cretQ"),  # "+" is a space for parse_qsl
        ("postgresql://u:s3c?retQ@h/db", "s3c"),  # "?" inside the password
        ("postgresql://u:s3c/re?tQ@h/db?x=1", "s3c"),
        ("postgresql://u:p@ss@h/db", "ss"),  # unencoded "@": hidden up to the last "@" before the path
        ("postgresql://u@h/db?password=ab#cdQ", "cdQ"),  # parse_qsl keeps "#" in the value
        ("postgresql://u@h/db?ssl_key_password=s3cretQ", "s3cretQ"),
        ("mysql+pymysql://u@h/db?sslkey_password=s3cretQ", "s3cretQ"),
        # a driver name with "_" is a scheme for make_url ([\w+]+), and a pasted value may start with white space
        ("postgresql+psycopg_binary://u:LEAKPW@127.0.0.1/db", "LEAKPW"),
        ("sqlite+pysqlite_numeric://u:LEAKPW@x/y", "LEAKPW"),
        (" postgresql://u:LEAKPW@127.0.0.1:1/db", "LEAKPW"),
        ("\npostgresql+psycopg://u:LEAKPW@h/db", "LEAKPW"),
        ("post gresql://u:LEAKPW@h/db", "LEAKPW"),  # unreadable, but userinfo is hidden all the same
        ("postgresql://h/db?password%00=LEAKPW", "LEAKPW"),
        ("postgresql://h/db?__extra__=%7B%22sslpassword%22%3A%22LEAKPW%22%7D", "LEAKPW"),  # Airflow's extra JSON
        ("postgresql://h/db?client_secret=LEAKPW", "LEAKPW"),
    ],
)
def test_redact_url_hides_what_make_url_reads_as_a_secret(url: str, secret: str) -> None:
    out = redact_url(url)
    assert secret not in out and "***" in out, out


def test_redact_url_keeps_what_is_not_a_secret() -> None:
    assert redact_url("postgresql://h:5432/db?application_name=sgs") == "postgresql://h:5432/db?application_name=sgs"
    assert redact_url("postgresql://u:pw@h:5432/db?sslmode=require&password=x") == (
        "postgresql://u:***@h:5432/db?sslmode=require&password=***"
    )


def test_redact_url_never_shows_a_password_make_url_parses() -> None:
    """Property-style: many generated URLs whose passwords and secret query values are made of the characters
    that confuse splitters around a marker; whenever make_url reads a secret holding a marker, the marker is
    not in the output."""
    rng = random.Random(12)
    alphabet = "ab9XZ@?/#:%&=;+. "
    keys = sorted(SECRET_QUERY_KEYS)

    def noise(n: int, chars: str = alphabet) -> str:
        return "".join(rng.choice(chars) for _ in range(rng.randint(0, n)))

    checked = 0
    for _ in range(3000):
        password = noise(6) + "PWMARK" + noise(6)
        user = noise(4, "uvw_@?#%.")
        host = rng.choice(["h", "127.0.0.1", "db.example", "[::1]", ""]) + rng.choice(["", ":5432", ":"])
        path = rng.choice(["", "/db", "/d/b", "/db@x"])
        query = rng.choice(["", "?sslmode=require", "?a=1&b=2"])
        if rng.random() < 0.5:
            key = rng.choice(keys)
            key = rng.choice([key, key.upper(), quote(key, safe="").replace("a", "%61"), f" {key}"])
            query += ("&" if query else "?") + f"{key}={noise(4, alphabet.replace('&', ''))}QVMARK{noise(4)}"
        scheme = rng.choice(["postgresql+psycopg", "postgresql+psycopg_binary", "mysql+mysql_connector", "mssql+pyodbc"])
        url = f"{rng.choice(['', ' ', chr(10)])}{scheme}://{user}:{password}@{host}{path}{query}"
        try:
            parsed = make_url(url.strip())
        except (ArgumentError, ValueError):  # not a URL SQLAlchemy would open
            continue
        out = redact_url(url)
        secrets = [parsed.password or ""]
        for k, v in parsed.query.items():
            if k.strip().lower() in SECRET_QUERY_KEYS:
                secrets += [v] if isinstance(v, str) else list(v)
        for marker in ("PWMARK", "QVMARK"):
            if any(marker in s for s in secrets):
                assert marker not in out, (url, out)
                checked += 1
    assert checked > 2000


def test_xlsx_value_escapes_what_openpyxl_refuses_and_cuts_long_cells() -> None:
    every_control = "".join(chr(c) for c in range(32)) + "\ud800\ufffe"
    shown = xlsx_value("a" + every_control + "b")
    assert not ILLEGAL_CHARACTERS_RE.search(shown)
    assert shown.startswith("a\\x00\\x01") and "\t\n" in shown and "\\x0b\\x0c\r\\x0e" in shown
    assert shown.endswith("\\x1f\\ud800\\ufffeb")
    assert xlsx_value(shown) == shown and xlsx_value(12) == 12 and xlsx_value(None) is None
    long = "文" * 100_000
    cut = xlsx_value(long)
    assert len(cut) == XLSX_CELL_MAX and cut.endswith("…（已截断，共 100000 个字符）") and xlsx_value(cut) == cut
    wide = xlsx_value("𠀀" * 20_000)  # outside the BMP: two UTF-16 units each, as Excel counts
    assert len(wide.encode("utf-16-le")) // 2 <= XLSX_CELL_MAX and wide.startswith("𠀀" * 16_000)


def test_private_files_refuse_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "someone_elses.txt"
    target.write_text("keep me", encoding="utf-8")
    os.chmod(target, 0o644)
    link = tmp_path / "report.xlsx"
    link.symlink_to(target)
    for write in (lambda: private_file(link), lambda: write_private(link, "overwritten")):
        with pytest.raises(PrivateFileError, match="符号链接"):
            write()
    assert target.read_text(encoding="utf-8") == "keep me"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    plain = private_file(tmp_path / "plain.xlsx")
    assert stat.S_IMODE(plain.stat().st_mode) == 0o600
