# Type stub of pyconv._kernels_avx2: the same kernels as pyconv._kernels_base (both compiled
# from pyx/_kernels.pxi and pyx/_conv.pxi; this one with AVX2+FMA), so the same signatures.
from pyconv._kernels_base import *  # noqa: F401,F403
