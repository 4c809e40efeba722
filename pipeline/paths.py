"""Where the project keeps its state: ``SGS_HOME`` (default: the checkout) and ``var/`` below it."""

from __future__ import annotations

import os
from pathlib import Path

from national.safety import private_dir


def home() -> Path:
    """The project home: ``SGS_HOME`` or the folder holding this checkout."""
    env = os.environ.get("SGS_HOME")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[1]


def var_dir() -> Path:
    """``SGS_VAR_DIR`` or ``<home>/var``; created owner-only (``0700``): it holds the store, reports, exports."""
    return private_dir(Path(os.environ.get("SGS_VAR_DIR") or home() / "var"))


def store_url() -> str:
    """The central store: ``SGS_STORE_URL`` or a SQLite file in ``var/``."""
    return os.environ.get("SGS_STORE_URL") or f"sqlite:///{var_dir() / 'sgs.db'}"
