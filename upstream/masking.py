"""Masking of identity-card numbers in text that leaves this stage (logs, stored receipt messages).

A province may echo a value in its message; invariant 5 says an ID number never appears in a log line or
an error message. ``transforms.masking`` owns the public-display rules; this is the minimal guard for
free text that upstream handles, kept local because stages do not import each other (design.md).
"""

from __future__ import annotations

import re

#: 18-character ID numbers (spec §3.2) not embedded in a longer run of letters and digits.
_ID = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")


def mask_text(text: str) -> str:
    """``110105194912310021`` → ``110105********0021`` (first 6 and last 4 kept, spec §5.4)."""
    return _ID.sub(lambda m: m.group(1) + "*" * 8 + m.group(3)[-4:], text)
