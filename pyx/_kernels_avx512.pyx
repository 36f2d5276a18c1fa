# The same kernels compiled for AVX-512 (F, DQ, BW, VL) with FMA, 512-bit vectors preferred;
# chosen at import on CPUs (and operating systems) that support them.
include "_kernels.pxi"
include "_conv.pxi"
