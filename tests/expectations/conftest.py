"""Fixtures of the expectations tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["cf", "xk"])
def ds(request: pytest.FixtureRequest) -> str:
    """Each dataset in turn."""
    return str(request.param)
