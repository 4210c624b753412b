"""Shared test fixtures: solver availability, fast/full study switch."""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import settings

from slopt.solvers import available_solvers

# CI runs a fixed, reproducible set of random examples (derandomized, as Hypothesis advises for
# CI); local runs explore new examples each time.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# profiles made by the tests are cached in a throwaway folder, not in the user's ~/.cache/slopt
os.environ.setdefault("SLOPT_CACHE", tempfile.mkdtemp(prefix="slopt-test-cache-"))

AVAILABLE = {r["solver"] for r in available_solvers() if r["available"]}

#: True when the slow studies should run at full size (SLOPT_FULL=1); CI runs the fast configuration.
FULL = os.environ.get("SLOPT_FULL", "") == "1"


def requires(*solvers: str) -> pytest.MarkDecorator:
    """Skip a test unless every named solver backend is installed here."""
    missing = [s for s in solvers if s not in AVAILABLE]
    return pytest.mark.skipif(bool(missing), reason=f"solver(s) not installed: {missing}")


def installed(*candidates: str) -> list[str]:
    """The subset of ``candidates`` installed here (for parametrising over backends)."""
    return [s for s in candidates if s in AVAILABLE]
