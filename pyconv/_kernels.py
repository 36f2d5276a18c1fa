"""Choose the compiled kernel module once, at import, from what the CPU supports.

``PYCONV_SIMD=baseline`` forces the baseline build (for testing and comparisons).
"""
import os

from . import _runtime
from . import _kernels_base

try:  # built only on x86-64 with a GCC-compatible compiler
    from . import _kernels_avx2
except ImportError:  # pragma: no cover - depends on the platform
    _kernels_avx2 = None


def _choose():
    forced = os.environ.get("PYCONV_SIMD", "").strip().lower()
    if forced in ("baseline", "base", "none"):
        return _kernels_base, "baseline (forced by PYCONV_SIMD)"
    if _kernels_avx2 is not None and _runtime.cpu_has_avx2_fma():
        return _kernels_avx2, "avx2+fma"
    reason = "module not built" if _kernels_avx2 is None else "CPU lacks AVX2/FMA"
    return _kernels_base, "baseline (%s)" % reason


kernels, SIMD_PATH = _choose()
