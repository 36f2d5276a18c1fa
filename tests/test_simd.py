"""Every kernel module this CPU can run gives the references' numbers, and PYCONV_SIMD picks
among them: baseline, AVX2 and AVX-512 are compiled from the same sources with different
micro-tiles (3 channels x 32 lanes, 6 x 64), so each is checked, in a fresh interpreter."""
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi

from pyconv import _runtime
from pyconv import reference as R

SCRIPT = r"""
import sys, warnings
import numpy as np
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import pyconv
from pyconv._kernels import SIMD_PATH
rng = np.random.default_rng(7)
img = rng.uniform(-1, 1, (61, 77)).astype(np.float32)
k = rng.standard_normal((5, 4)).astype(np.float32)
x = rng.uniform(-1, 1, (2, 20, 13, 29)).astype(np.float32)
w = rng.standard_normal((13, 20, 3, 3)).astype(np.float32)
np.savez(sys.argv[1], img=img, k=k, x=x, w=w,
         corr=pyconv.filters.correlate(img, k, mode="mirror"),
         conv=pyconv.conv2d(x, w, padding=1, stride=(1, 2)),
         gauss=pyconv.filters.gaussian(img, sigma=1.5))
print(SIMD_PATH)
print(" | ".join(str(c.message) for c in caught))
"""


def _run(tmp_path, value):
    env = dict(os.environ)
    env.pop("PYCONV_SIMD", None)
    if value is not None:
        env["PYCONV_SIMD"] = value
    out = tmp_path / ("r_%s.npz" % value)
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    path, warned = (r.stdout.splitlines() + ["", ""])[:2]
    return path, warned, np.load(out)


def _expected_path(value):
    if value == "baseline":
        return "baseline"
    if value in (None, "avx512") and _runtime.cpu_has_avx512():
        try:
            import pyconv._kernels_avx512  # noqa: F401
            return "avx512"
        except ImportError:
            pass
    if _runtime.cpu_has_avx2_fma():
        try:
            import pyconv._kernels_avx2  # noqa: F401
            return "avx2+fma"
        except ImportError:
            pass
    return "baseline"


@pytest.mark.parametrize("value", [None, "baseline", "avx2", "avx512"])
def test_each_kernel_module_matches_the_references(value, tmp_path):
    path, warned, res = _run(tmp_path, value)
    assert path.startswith(_expected_path(value)), (value, path)
    assert warned == ""
    img, k = res["img"].astype(np.float64), res["k"].astype(np.float64)
    ref = ndi.correlate(img, k, mode="mirror")
    np.testing.assert_allclose(res["corr"], ref, rtol=0, atol=2e-5 * np.abs(ref).max())
    ref = ndi.gaussian_filter(img, 1.5, mode="nearest")
    np.testing.assert_allclose(res["gauss"], ref, rtol=0, atol=2e-5 * np.abs(ref).max())
    ref = R.conv2d(res["x"].astype(np.float64), res["w"].astype(np.float64), padding=1,
                   stride=(1, 2))
    np.testing.assert_allclose(res["conv"], ref, rtol=0, atol=1e-4 * np.abs(ref).max())


def test_unknown_simd_value_warns_and_is_ignored(tmp_path):
    path, warned, _ = _run(tmp_path, "sse9")
    assert path.startswith(_expected_path(None))
    assert "PYCONV_SIMD='sse9' is not one of" in warned
