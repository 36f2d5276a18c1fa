"""Shared helpers for the pyconv test suite.

Every reference here is computed by scipy / numpy, never by pyconv.
"""
import contextlib
import math
from functools import reduce

import numpy as np

MODES = (
    "reflect",
    "constant",
    "nearest",
    "mirror",
    "wrap",
    "grid-mirror",
    "grid-constant",
    "grid-wrap",
)
CONSTANT_MODES = ("constant", "grid-constant")

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)


def result_dtype(*dtypes):
    """The dtype policy of DESIGN.md for ndarray operands.

    float32 -> float32, float64 -> float64, float16 -> float32,
    ints/bool -> float64, mixed -> the wider float.
    """
    out = None
    for dt in dtypes:
        dt = np.dtype(dt)
        if dt.kind == "f":
            r = F64 if dt.itemsize > 4 else F32
        elif dt.kind in "iub":
            r = F64
        else:  # pragma: no cover - helper misuse
            raise AssertionError(f"no policy for {dt}")
        out = r if out is None else (F64 if F64 in (out, r) else F32)
    return out


def as_ref(x, dtype):
    """The values pyconv computes with (cast to `dtype`), as float64 for scipy."""
    return np.asarray(x).astype(dtype).astype(np.float64)


def input_scale(image, kernel, cval=0.0):
    """max|image| * sum|kernel|: bounds the size of every term sum, so it sets
    the absolute rounding error of a float32 sum that cancels (sum(w) ~ 0)."""
    x = np.abs(np.asarray(image, dtype=np.float64))
    x = x[np.isfinite(x)]
    m = max(float(x.max()) if x.size else 0.0, abs(cval) if np.isfinite(cval) else 0.0)
    k = np.abs(np.asarray(kernel, dtype=np.float64))
    return m * float(k[np.isfinite(k)].sum())


def signal_scale(a, b, fillvalue=0.0):
    return max(input_scale(a, b, fillvalue), input_scale(b, a))


def assert_close(got, ref, dtype, ntaps=1, *, what="", scale=None):
    """Compare a pyconv result with a float64 scipy reference.

    float64: rtol 1e-10, atol 1e-12 * S * sqrt(ntaps).
    float32: rtol 1e-5,  atol 1e-5  * S * sqrt(ntaps).
    S = max(max|ref|, scale), `scale` typically input_scale(image, kernel).
    NaN and +/-Inf positions must be identical.
    """
    dtype = np.dtype(dtype)
    assert isinstance(got, np.ndarray), f"{what}: result is {type(got)!r}, not ndarray"
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {dtype}"
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, expected {ref.shape}"
    g = got.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(ref), err_msg=f"{what}: NaN positions differ")
    np.testing.assert_array_equal(np.isposinf(g), np.isposinf(ref), err_msg=f"{what}: +Inf positions differ")
    np.testing.assert_array_equal(np.isneginf(g), np.isneginf(ref), err_msg=f"{what}: -Inf positions differ")
    fin = np.isfinite(ref)
    if not fin.any():
        return
    scale = max(float(np.abs(ref[fin]).max()), scale or 0.0, np.finfo(np.float64).tiny)
    root = max(1.0, math.sqrt(ntaps))
    if dtype == F32:
        rtol, atol = 1e-5, 1e-5 * scale * root
    else:
        rtol, atol = 1e-10, 1e-12 * scale * root
    np.testing.assert_allclose(g[fin], ref[fin], rtol=rtol, atol=atol, err_msg=what)


def make_kernel(kind, shape, rng):
    """Kernels of several structures.

    random: dense, full rank; rank1: outer product of 1-D vectors (takes
    pyconv's separable path); sparse: random with exact zeros; rank1zeros:
    rank-1 with exact zeros in the factors (separable path + dropped taps).
    """
    shape = tuple(shape)
    if kind == "random":
        return rng.standard_normal(shape)
    if kind == "rank1":
        vecs = [rng.uniform(0.2, 1.5, n) * rng.choice([-1.0, 1.0], n) for n in shape]
        return reduce(np.multiply.outer, vecs) if len(vecs) > 1 else vecs[0]
    if kind == "sparse":
        k = rng.standard_normal(shape)
        k[rng.random(shape) < 0.4] = 0.0
        k.flat[0] = 1.0
        if k.size > 1:
            k.flat[-1] = 0.0
        return k
    if kind == "rank1zeros":
        vecs = []
        for n in shape:
            v = rng.uniform(0.5, 1.5, n)
            if n >= 3:
                v[1::2] = 0.0
            vecs.append(v)
        return reduce(np.multiply.outer, vecs) if len(vecs) > 1 else vecs[0]
    raise AssertionError(kind)


def valid_origins(w, convolution):
    """Origins scipy.ndimage accepts for a kernel axis of length w."""
    lo, hi = -(w // 2), (w - 1) // 2  # correlate range
    if not convolution:
        return list(range(lo, hi + 1))
    return [o for o in range(-w - 2, w + 3) if lo <= (-o - (0 if w % 2 else 1)) <= hi]


def ref_channels(fn, image, kernel, channel_axis, **kw):
    """scipy reference for channel_axis: loop over the channels."""
    ax = channel_axis % image.ndim
    outs = [fn(np.take(image, c, axis=ax), kernel, **kw) for c in range(image.shape[ax])]
    return np.stack(outs, axis=ax)


def ntaps(kernel):
    return int(np.asarray(kernel).size)


# scipy.ndimage mode -> numpy.pad mode (same extension rule)
PAD_MODES = {
    "reflect": "symmetric",
    "grid-mirror": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "grid-wrap": "wrap",
    "constant": "constant",
    "grid-constant": "constant",
}


def padded_reference(fn, image, kernel, mode, cval=0.0, origin=0):
    """scipy.ndimage `fn` (correlate/convolve) on an input extended by numpy.pad
    far enough that scipy's own boundary code is never reached.

    Needed because scipy.ndimage.correlate/convolve (n-D, mode='reflect') read
    the wrong sample when a tap lands exactly 2*k*len (k >= 2) before the start
    of an axis, e.g. ndi.correlate([1., 2.], np.arange(1., 10.), origin=4)
    gives [62, 68] where correlate1d and numpy.pad's 'symmetric' give [63, 68].
    Origin handling and the dropping of taps with |w| <= DBL_EPSILON are still
    scipy's.
    """
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    origins = [origin] * image.ndim if np.isscalar(origin) else list(origin)
    pads = [w + abs(o) + 1 for w, o in zip(kernel.shape, origins)]
    extra = {"constant_values": cval} if PAD_MODES[mode] == "constant" else {}
    padded = np.pad(image, [(q, q) for q in pads], mode=PAD_MODES[mode], **extra)
    r = fn(padded, kernel, mode="nearest", origin=origin)
    return r[tuple(slice(q, q + n) for q, n in zip(pads, image.shape))]


@contextlib.contextmanager
def streaming_stores():
    """Within: pyconv writes every out= and every fresh result it may stream (below
    _engine.FRESH_STREAM_MAX_BYTES) with streaming stores, whatever its size and its rows'
    width, so small test arrays take those paths."""
    from pyconv import _engine, _separable
    names = ((_engine, "STREAM_MIN_BYTES"), (_engine, "STREAM_MIN_ROW_BYTES"),
             (_separable, "SEP_STREAM_MIN_ROW_BYTES"))
    saved = [getattr(m, n) for m, n in names]
    for m, n in names:
        setattr(m, n, 0)
    try:
        yield
    finally:
        for (m, n), v in zip(names, saved):
            setattr(m, n, v)
