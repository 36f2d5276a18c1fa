# Type stub of the compiled kernel modules (pyx/_kernels.pxi and pyx/_conv.pxi, built as
# _kernels_base and, with AVX2+FMA, _kernels_avx2).  Arithmetic only: every argument is
# validated by the Python package before these are called.
import numpy as np
import numpy.typing as npt

_F32 = npt.NDArray[np.float32]
_F64 = npt.NDArray[np.float64]
_IDX = npt.NDArray[np.intp]

def correlate_tiled_f32(src: _F32, out: _F32, tabz: _IDX, taby: _IDX, tabx: _IDX, ox: int,
                        kd: int, kh: int, kw: int, offs: _IDX, tapw: _F32, cval: float,
                        strip: int, xchunk: int, num_threads: int) -> None: ...
def correlate_tiled_f64(src: _F64, out: _F64, tabz: _IDX, taby: _IDX, tabx: _IDX, ox: int,
                        kd: int, kh: int, kw: int, offs: _IDX, tapw: _F64, cval: float,
                        strip: int, xchunk: int, num_threads: int) -> None: ...
def sep2d_f32(src: _F32, out: _F32, taby: _IDX, tabx: _IDX, ox: int, wy: _F32, ty: _IDX,
              kv: int, wx: _F32, tx: _IDX, kh: int, cval: float, cval2: float, strip: int,
              num_threads: int) -> None: ...
def sep2d_f64(src: _F64, out: _F64, taby: _IDX, tabx: _IDX, ox: int, wy: _F64, ty: _IDX,
              kv: int, wx: _F64, tx: _IDX, kh: int, cval: float, cval2: float, strip: int,
              num_threads: int) -> None: ...
def conv_f32(x: _F32, out: _F32, wpack: _F32, bias: _F32, offs: _IDX, tabz: _IDX, taby: _IDX,
             tabx: _IDX, geom: tuple[int, ...], num_threads: int) -> None: ...
def conv_f64(x: _F64, out: _F64, wpack: _F64, bias: _F64, offs: _IDX, tabz: _IDX, taby: _IDX,
             tabx: _IDX, geom: tuple[int, ...], num_threads: int) -> None: ...
def magnitude_f32(g0: _F32, g1: _F32, g2: _F32, k: int, out: _F32, norm: float,
                  num_threads: int) -> None: ...
def magnitude_f64(g0: _F64, g1: _F64, g2: _F64, k: int, out: _F64, norm: float,
                  num_threads: int) -> None: ...
def edge2d_f32(src: _F32, out: _F32, taby: _IDX, tabx: _IDX, C: int, w: _F32, cval: float,
               cval_s: float, half: float, strip: int, num_threads: int) -> None: ...
def edge2d_f64(src: _F64, out: _F64, taby: _IDX, tabx: _IDX, C: int, w: _F64, cval: float,
               cval_s: float, half: float, strip: int, num_threads: int) -> None: ...
