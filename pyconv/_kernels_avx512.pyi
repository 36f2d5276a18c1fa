# Type stub of pyconv._kernels_avx512: the same kernels as pyconv._kernels_base (all compiled
# from pyx/_kernels.pxi and pyx/_conv.pxi; this one for AVX-512), so the same signatures.
from pyconv._kernels_base import *  # noqa: F401,F403
