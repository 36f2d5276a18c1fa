# The same kernels compiled with -mavx2 -mfma; chosen at import on CPUs that have both.
include "_kernels.pxi"
include "_conv.pxi"
