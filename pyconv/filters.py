"""Image filters with scipy.ndimage / scikit-image conventions, multi-threaded.

Every function takes arrays of 1-3 spatial dimensions, the boundary modes of scipy.ndimage
(``reflect``, ``constant``, ``nearest``, ``mirror``, ``wrap`` and the ``grid-`` aliases), and
returns float32 for float32 (and float16) input, float64 otherwise.

Boundary modes (the line ``a b c d`` extended on both sides)::

    reflect   d c b a | a b c d | d c b a    numpy 'symmetric', OpenCV BORDER_REFLECT
    mirror      d c b | a b c d | c b a      numpy/torch 'reflect', OpenCV BORDER_REFLECT_101
    nearest   a a a a | a b c d | d d d d    numpy 'edge', torch 'replicate'
    wrap      a b c d | a b c d | a b c d    numpy 'wrap', torch 'circular'
    constant  k k k k | a b c d | k k k k    k = cval

Origins follow scipy.ndimage: for a kernel of length k along an axis, output ``i`` is centred on
input ``i`` at kernel index ``k // 2 + origin``, and ``-(k // 2) <= origin <= (k - 1) // 2``.
"""
import math

import numpy as np

from . import _engine
from ._modes import mode_code, mode_codes
from ._validation import (check_alloc, check_nonempty, check_origin, check_out, float_dtype,
                          image_array, int_sequence, normalize_axis, promote, real_scalar,
                          second_operand)

__all__ = ["correlate", "convolve", "correlate1d", "convolve1d", "sepfilter", "separate",
           "sobel", "sobel_h", "sobel_v", "scharr", "scharr_h", "scharr_v", "prewitt",
           "prewitt_h", "prewitt_v", "gaussian", "uniform"]

#: weights of at most this magnitude are skipped by correlate/convolve (as scipy.ndimage does),
#: so a NaN or Inf under a zero weight does not spread
ZERO_WEIGHT = np.finfo(np.float64).eps
#: kernels of at least this many taps that are rank-1 within rounding run as 1-D passes
RANK1_MIN_TAPS = 25


def _flip_origin(origin, size):
    # convolution = correlation with the reversed kernel; even lengths shift by one (scipy)
    return -origin - (1 - size % 2)


@_engine.bounded_cache(128, lambda kbytes, kshape, flip, origins: 5 * len(kbytes))
def _nd_taps(kbytes, kshape, flip, origins):
    """(kernel shape, tap indices per axis, weights, origins) for correlating with a kernel
    given as float64 bytes; convolution reverses it.  Cached: the same kernel is reused."""
    w64 = np.frombuffer(kbytes, dtype=np.float64).reshape(kshape)
    if flip:
        w64 = w64[(slice(None, None, -1),) * w64.ndim]
        origins = tuple(_flip_origin(o, s) for o, s in zip(origins, kshape))
    for o, s in zip(origins, kshape):
        check_origin(o, s)
    taps = np.nonzero(np.abs(w64) > ZERO_WEIGHT)
    weights = np.ascontiguousarray(w64[taps])
    for a in taps + (weights,):
        a.setflags(write=False)
    return tuple(kshape), taps, weights, origins


@_engine.bounded_cache(128, lambda kbytes, kshape, rtol: len(kbytes))
def _rank1_factors(kbytes, kshape, rtol):
    """The 1-D factors of a (correlation-order) kernel, or None if it is not rank-1."""
    factors = separate(np.frombuffer(kbytes, dtype=np.float64).reshape(kshape), rtol=rtol)
    if factors is not None:
        for f in factors:
            f.setflags(write=False)
    return factors


def _use_rank1(ksize, weights, dt):
    """The factors for the separable path, or None.  Taken only when it gives the same
    numbers up to rounding: no zero weight (whose NaN-skipping the 1-D passes do not share)
    and (checked by the caller) a finite image (NaN/Inf spread identically through one n-D
    sum only)."""
    if len(ksize) < 2 or min(ksize) < 2 or len(weights) < RANK1_MIN_TAPS \
            or len(weights) != np.prod(ksize):
        return None
    # rank-1 within the rounding of the computing precision (256 ulps, as separate())
    rtol = 256 * float(np.finfo(dt).eps)
    return _rank1_factors(np.ascontiguousarray(weights).tobytes(), tuple(ksize), rtol)


def _correlate_nd(image, kernel, mode, cval, origin, channel_axis, out, num_threads, flip):
    img = image_array(image)
    k, strong = second_operand(kernel, "kernel")
    dt = promote(float_dtype(img.dtype, "image"), k, strong, "kernel")
    if channel_axis is None:
        ca = None
        spatial = img.ndim
    else:
        ca = normalize_axis(channel_axis, img.ndim, "channel_axis")
        spatial = img.ndim - 1
    if not 1 <= spatial <= 3:
        raise ValueError("image must have 1 to 3 spatial dimensions (plus an optional "
                         "channel_axis), got %d" % spatial)
    if k.ndim != spatial:
        raise ValueError("kernel must have one dimension per spatial axis of image (%d), "
                         "got %d" % (spatial, k.ndim))
    check_nonempty(k, "kernel")
    codes = mode_codes(mode, spatial)
    cval = real_scalar(cval, "cval")
    origins = int_sequence(origin, spatial, "origin")
    w64 = np.ascontiguousarray(k, dtype=np.float64)
    ksize, taps, weights, origins = _nd_taps(w64.tobytes(), w64.shape, flip, tuple(origins))
    factors = _use_rank1(ksize, weights, dt)
    if factors is not None:
        fs = [f.astype(dt) for f in factors]
        if out is None or not np.may_share_memory(out, img):
            # a NaN or Inf in the image is found while filtering (the intermediate rows
            # scanned in cache, no extra read of the image): then the n-D sum below
            res = _sepfilter_if_finite(img, fs, mode, cval, list(origins), channel_axis,
                                       out, num_threads)
            if res is not None:
                return res
        elif _engine.all_finite(img, num_threads):
            return sepfilter(img, fs, mode=mode, cval=cval, origin=list(origins),
                             channel_axis=channel_axis, out=out, num_threads=num_threads)

    if out is not None:
        check_out(out, img.shape, dt)
    pad = 3 - spatial
    n3 = (1,) * pad + tuple(img.shape[i] for i in range(img.ndim) if i != ca)
    k3 = (1,) * pad + ksize
    o3 = (0,) * pad + origins
    c3 = [mode_code("constant")] * pad + codes
    taps3 = [np.zeros(len(weights), np.intp)] * pad + list(taps)
    before = [kk // 2 + oo for kk, oo in zip(k3, o3)]
    tables = [_engine.index_table(-b, n + kk - 1, n, m)
              for b, n, kk, m in zip(before, n3, k3, c3)]
    C = img.shape[-1] if ca == img.ndim - 1 else 1
    if 1 < C <= INTERLEAVED_MAX:
        # a channel-last image with a few channels: rows of W * C interleaved samples, the
        # x taps C samples apart (the channels as a batch would be read C samples apart)
        def view4(a):
            m = _engine.merge_last(a)
            return None if m is None else _engine.as4d(m[None], spatial)

        xs = _engine.kernel_source(img, dt)
        src = view4(xs)
        if src is None:
            src = view4(np.ascontiguousarray(xs))
        k3 = k3[:2] + ((k3[2] - 1) * C + 1,)
        taps3[2] = np.asarray(taps3[2], dtype=np.intp) * C
        tables[2] = _engine.interleave_table(tables[2], C)
        before[2] *= C
        om = None if out is None else _engine.merge_last(out)
        dest = None if om is None else _engine.direct_dest(om, src, src.shape, spatial)
    else:
        # the kernel reads any strides: a channel axis (wherever it is) becomes the batch
        # axis of a view, so neither the input nor the result is copied or transposed
        def view4(a):
            return _engine.as4d(a[None] if ca is None else np.moveaxis(a, ca, 0), spatial)

        x = img[None] if ca is None else np.moveaxis(img, ca, 0)
        src = _engine.as4d(_engine.kernel_source(x, dt), spatial)
        dest = _engine.direct_dest(out, src, src.shape, spatial, ca)
    if dest is None:
        check_alloc(img.shape, dt)
        res = np.empty(img.shape, dtype=dt)
        dest = view4(res)
        # (where the grid sweep writes it: every tap of the grid, one channel per row)
        stream = (_engine.stream_rows(res.nbytes, dest.shape[3] * dt.itemsize, fresh=True)
                  and len(weights) == math.prod(k3) and _engine.grid_sweeps(k3, (1, 1, 1)))
    else:
        res = out
        stream = True
    _engine.correlate(src, src.shape, k3, taps3, weights, tables, before[2], cval,
                      num_threads, dest=dest, stream=stream)
    return _engine.deliver(res, out)


def correlate(image, kernel, mode="reflect", cval=0.0, origin=0, *, channel_axis=None,
              out=None, num_threads=None):
    """Multidimensional correlation, equal to ``scipy.ndimage.correlate``.

    Parameters
    ----------
    image : (..., ) array_like
        Input with 1-3 spatial dimensions (plus ``channel_axis`` if given).
    kernel : array_like
        Weights, one dimension per spatial axis.  A float ndarray kernel takes part in the
        result dtype; a list or an integer array adapts to the image's float type.
    mode : str or sequence of str, optional
        Boundary mode, one for all axes or one per spatial axis (see the module docstring).
    cval : float, optional
        Value outside the image for ``mode='constant'``.
    origin : int or sequence of int, optional
        Shift of the kernel centre, per axis; ``-(k // 2) <= origin <= (k - 1) // 2``.
    channel_axis : int or None, optional
        If given, this axis holds channels: each channel is filtered on its own over the other
        axes, and ``kernel`` has one dimension fewer than ``image``.
    out : ndarray, optional
        Array of the result's shape and dtype to write into; it may be ``image`` itself.
    num_threads : int, optional
        Threads for this call (default: :func:`pyconv.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as ``image``; float32 for float16/float32 input, else float64.

    Notes
    -----
    Weights with ``|w| <= 2.2e-16`` are skipped, as scipy.ndimage does, so a NaN under a
    zero weight does not spread.  Float32 input is computed in float32.

    A kernel of at least 25 taps (5x5 and up) that is rank-1 within rounding (see
    :func:`pyconv.filters.separate`) and has no zero weight is applied as one 1-D pass per
    axis (:func:`pyconv.filters.sepfilter`) when the image is finite: ``k0 + k1`` multiply-adds
    per pixel instead of ``k0 * k1``.  The result then differs from the direct sum by rounding
    only.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.filters import correlate
    >>> correlate(np.arange(5.0), [1, 1, 1], mode='nearest')
    array([ 1.,  3.,  6.,  9., 11.])
    """
    return _correlate_nd(image, kernel, mode, cval, origin, channel_axis, out, num_threads,
                         flip=False)


def convolve(image, kernel, mode="reflect", cval=0.0, origin=0, *, channel_axis=None,
             out=None, num_threads=None):
    """Multidimensional convolution, equal to ``scipy.ndimage.convolve``.

    The kernel is reversed along every axis and the origin becomes ``-origin`` (minus one
    more for even lengths), exactly as in scipy.ndimage; otherwise as :func:`correlate`.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.filters import convolve
    >>> convolve(np.eye(5)[2], [1, 2, 3], mode='constant')
    array([0., 1., 2., 3., 0.])
    """
    return _correlate_nd(image, kernel, mode, cval, origin, channel_axis, out, num_threads,
                         flip=True)


#: correlate1d over an axis followed by at most this many samples (the product of the later
#: axes, e.g. an RGB image's channels) runs along the flattened lines
INTERLEAVED_MAX = 8


def _correlate_axis(image, weights, axis, mode, cval, origin, out, num_threads, flip):
    img = image_array(image)
    w, strong = second_operand(weights, "weights")
    if w.ndim != 1:
        raise ValueError("weights must be one-dimensional, got %d dimensions" % w.ndim)
    check_nonempty(w, "weights")
    dt = promote(float_dtype(img.dtype, "image"), w, strong, "weights")
    axis = normalize_axis(axis, img.ndim)
    code = mode_code(mode)
    cval = real_scalar(cval, "cval")
    origin = int_sequence(origin, 1, "origin")[0]
    w64 = w.astype(np.float64)
    if flip:
        w64 = w64[::-1]
        origin = _flip_origin(origin, w64.size)
    check_origin(origin, w64.size)
    if out is not None:
        check_out(out, img.shape, dt)
    src = np.ascontiguousarray(img, dtype=dt)
    k = w64.size
    n = img.shape[axis]
    outer = math.prod(img.shape[:axis])
    inner = math.prod(img.shape[axis + 1:])
    before = k // 2 + origin
    line = _engine.index_table(-before, n + k - 1, n, code)
    taps = np.arange(k, dtype=np.intp)
    zeros = np.zeros(k, dtype=np.intp)
    one = _engine.identity_table(1)
    if inner == 1:  # lines are contiguous: taps run along x
        shape4, kshape, ox = (1, 1, outer, n), (1, 1, k), before
        tables, tapl = (one, _engine.identity_table(outer), line), (zeros, zeros, taps)
    elif inner <= INTERLEAVED_MAX:
        # a few interleaved samples per position (the channels of a channel-last image): the
        # n * inner samples of a line are one row, the taps inner samples apart, the padding
        # per sample (rows of `inner` samples would cost a kernel row each)
        shape4, kshape, ox = (1, 1, outer, n * inner), (1, 1, (k - 1) * inner + 1), \
            before * inner
        tables = (one, _engine.identity_table(outer), _engine.interleave_table(line, inner))
        tapl = (zeros, zeros, taps * inner)
    else:  # taps combine whole rows of the inner axes
        shape4, kshape, ox = (outer, 1, n, inner), (1, k, 1), 0
        tables, tapl = (one, line, _engine.identity_table(inner)), (zeros, taps, zeros)
    dest = _engine.direct_dest(out, src, shape4)
    res = _engine.correlate(src.reshape(shape4), shape4, kshape, tapl, w64, tables, ox, cval,
                            num_threads, dest=dest, stream=dest is not None)
    return _engine.deliver(res.reshape(img.shape), out)


def correlate1d(image, weights, axis=-1, mode="reflect", cval=0.0, origin=0, *, out=None,
                num_threads=None):
    """One-dimensional correlation along ``axis``, equal to ``scipy.ndimage.correlate1d``.

    ``image`` may have any number of dimensions.  Every weight is applied (zeros included),
    as scipy.ndimage's correlate1d does, so NaN and Inf spread across the whole kernel.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.filters import correlate1d
    >>> correlate1d(np.arange(5.0), [-1, 0, 1], mode='nearest')
    array([1., 2., 2., 2., 1.])
    """
    return _correlate_axis(image, weights, axis, mode, cval, origin, out, num_threads,
                           flip=False)


def convolve1d(image, weights, axis=-1, mode="reflect", cval=0.0, origin=0, *, out=None,
               num_threads=None):
    """One-dimensional convolution along ``axis``, equal to ``scipy.ndimage.convolve1d``.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.filters import convolve1d
    >>> convolve1d(np.arange(5.0), [-1, 0, 1], mode='nearest')
    array([-1., -2., -2., -2., -1.])
    """
    return _correlate_axis(image, weights, axis, mode, cval, origin, out, num_threads,
                           flip=True)


# Separable and edge filters are chains of the 1-D passes above (defined in _separable,
# which looks up correlate1d here at call time).
from ._separable import (sepfilter, separate, sobel, sobel_h,  # noqa: E402
                         sobel_v, scharr, scharr_h, scharr_v, prewitt, prewitt_h, prewitt_v,
                         gaussian, uniform)
from ._separable import sepfilter_if_finite as _sepfilter_if_finite  # noqa: E402
