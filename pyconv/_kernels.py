"""Choose the compiled kernel module once, at import, from what the CPU supports.

The kernels are compiled three times from the same sources (pyx/_kernels.pxi, pyx/_conv.pxi):
for the target's baseline, with AVX2+FMA, and with AVX-512 (F, DQ, BW, VL) and 512-bit
vectors.  The widest one the CPU supports is used.  ``PYCONV_SIMD=baseline`` or ``avx2``
caps the choice (for testing and comparisons); a cap above what the CPU or the build has
falls back to the best available.
"""
import os
import warnings

from . import _runtime
from . import _kernels_base

try:  # built only on x86-64 with a GCC-compatible compiler
    from . import _kernels_avx2
except ImportError:  # pragma: no cover - depends on the platform
    _kernels_avx2 = None
try:
    from . import _kernels_avx512
except ImportError:  # pragma: no cover - depends on the platform
    _kernels_avx512 = None

#: accepted values of PYCONV_SIMD, widest last
SIMD_CHOICES = ("baseline", "avx2", "avx512")


def _choose():
    forced = os.environ.get("PYCONV_SIMD", "").strip().lower()
    forced = {"base": "baseline", "none": "baseline", "avx2+fma": "avx2"}.get(forced, forced)
    if forced and forced not in SIMD_CHOICES:
        warnings.warn("PYCONV_SIMD=%r is not one of %s: ignored"
                      % (os.environ["PYCONV_SIMD"], ", ".join(SIMD_CHOICES)), stacklevel=2)
    cap = SIMD_CHOICES.index(forced) if forced in SIMD_CHOICES else len(SIMD_CHOICES) - 1
    note = " (capped by PYCONV_SIMD)" if forced in SIMD_CHOICES[:-1] else ""
    if cap >= 2 and _kernels_avx512 is not None and _runtime.cpu_has_avx512():
        return _kernels_avx512, "avx512"
    if cap >= 1 and _kernels_avx2 is not None and _runtime.cpu_has_avx2_fma():
        return _kernels_avx2, "avx2+fma" + note
    if cap == 0:
        return _kernels_base, "baseline (forced by PYCONV_SIMD)"
    reason = "module not built" if _kernels_avx2 is None else "CPU lacks AVX2/FMA"
    return _kernels_base, "baseline (%s)" % reason


kernels, SIMD_PATH = _choose()
