"""One session fixture runs every core-level test on both backends.

Tests that take ``impl`` run as ``test_x[core]`` and ``test_x[py]``.  Without a
built core the [core] cases skip with a visible reason, unless
MICROGRAD_REQUIRE_CORE=1 (CI), where a missing core is an error.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

from micrograd import _core_py

try:
    from micrograd import _core
except ImportError:
    if os.environ.get("MICROGRAD_REQUIRE_CORE", "") not in ("", "0"):
        raise
    _core = None

CORE = _core

settings.register_profile("default", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

needs_core = [pytest.mark.core,
              pytest.mark.skipif(_core is None, reason="micrograd._core is not built")]


def pytest_configure(config):
    # registered here too, so the suite runs from a copy outside the source tree
    config.addinivalue_line("markers", "core: needs the compiled core")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture(scope="session", ids=["core", "py"],
                params=[pytest.param(_core, marks=needs_core), _core_py])
def impl(request):
    return request.param


@pytest.fixture(scope="session")
def torch():
    """PyTorch as the float64 oracle, or a skip that says why."""
    try:
        import torch
    except ImportError as exc:     # pragma: no cover - depends on the machine
        pytest.skip(f"PyTorch is not installed here ({exc}); CI installs torch==2.13.0")
    return torch


@pytest.fixture(scope="session")
def both():
    """(core, reference), for differential tests that need the two at once."""
    if _core is None:
        pytest.skip("micrograd._core is not built")
    return _core, _core_py
