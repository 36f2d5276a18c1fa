# Kernels compiled for the target's baseline instruction set.
include "_kernels.pxi"
include "_conv.pxi"
