"""The cluster fixture (tests/cluster/harness.py): started once for the module, stopped after."""

from __future__ import annotations

from tests.cluster.harness import cluster  # noqa: F401 - a fixture, made visible to the tests here
