"""Where the project keeps its state: ``SGS_HOME`` (default: the checkout) and ``var/`` below it."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The project home: ``SGS_HOME`` or the folder holding this checkout."""
    env = os.environ.get("SGS_HOME")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[1]


def var_dir() -> Path:
    d = Path(os.environ.get("SGS_VAR_DIR") or home() / "var")
    d.mkdir(parents=True, exist_ok=True)
    return d


def store_url() -> str:
    """The central store: ``SGS_STORE_URL`` or a SQLite file in ``var/``."""
    return os.environ.get("SGS_STORE_URL") or f"sqlite:///{var_dir() / 'sgs.db'}"
