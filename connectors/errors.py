"""Errors of the connectors, sorted by what should happen next (terminal vs. transient)."""

from __future__ import annotations


class SourceError(Exception):
    """A source problem. ``transient`` says whether retrying later can help."""

    transient: bool = False


class SourceConfigError(SourceError):
    """Bad or missing connection settings, missing table or column: fix the configuration; no retry."""


class SourceUnavailable(SourceError):
    """The database cannot be reached or dropped the connection: retry later."""

    transient = True
