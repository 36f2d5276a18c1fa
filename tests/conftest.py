import os
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_common = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# 'ci' is the default: derandomized, so every run tests the same examples.
settings.register_profile("ci", derandomize=True, max_examples=30, **_common)
# Longer runs, e.g. PYCONV_HYPOTHESIS_PROFILE=long pytest tests
settings.register_profile("dev", derandomize=True, max_examples=300, **_common)
settings.register_profile("long", derandomize=False, max_examples=2000, **_common)
settings.load_profile(os.environ.get("PYCONV_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture
def rng(request):
    """A Generator seeded from the test id: fixed, but different per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
