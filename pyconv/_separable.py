"""Separable filters: chains of 1-D passes, kernel factorisation, edge filters, Gaussian,
uniform (box) filter and the flattened (channel x column x row) convolution.

Every filter here is a sequence of :func:`pyconv.filters.correlate1d` passes, so boundary
modes, origins, the dtype policy and threading are those of ``correlate1d``: float32 input is
computed in float32 through every intermediate, float64 in float64, and integers are converted
to float64 without rescaling.

Two cval conventions exist for a chain of passes in ``mode='constant'``:

* n-D (:func:`sepfilter`, the edge filters): the result equals the n-D correlation with the
  outer-product kernel, which pads the whole image with ``cval``.  Pass ``k`` therefore pads
  with ``cval * prod(sum(w_j) for the earlier passes j)``, the value the n-D sum gives there.
* chained (:func:`gaussian`, :func:`uniform`): every pass pads with ``cval``, as
  scipy.ndimage's gaussian_filter and uniform_filter do.  The two agree when the weights of
  each pass sum to one.
"""
import functools
import math
import numbers
from collections.abc import Iterable

import numpy as np

from . import _engine, _kernels
from . import filters as _filters  # used at call time: filters re-exports this module
from ._modes import CONSTANT, canonical_modes, mode_code
from ._threads import effective_num_threads
from ._validation import (as_array, check_alloc, check_nonempty, check_origin, check_out,
                          float_dtype, image_array, int_sequence, normalize_axis, promote,
                          real_scalar, second_operand)

__all__ = ["sepfilter", "separate", "sobel", "sobel_h", "sobel_v", "scharr", "scharr_h",
           "scharr_v", "prewitt", "prewitt_h", "prewitt_v", "gaussian", "uniform",
           "flattened_conv2d"]

#: smoothing weights applied across the derivative axis (scikit-image's values)
SOBEL_SMOOTH = np.array([1.0, 2.0, 1.0]) / 4
SCHARR_SMOOTH = np.array([3.0, 10.0, 3.0]) / 16
PREWITT_SMOOTH = np.full(3, 1.0 / 3)

#: default tolerance of :func:`separate`, in units of the kernel's machine epsilon
SEPARATE_EPS = 256


# --------------------------------------------------------------------------------------------
# argument helpers


def _spatial_axes(img, channel_axis, name="image"):
    """Axes that are filtered: all but ``channel_axis``; 1 to 3 of them."""
    if channel_axis is None:
        axes = list(range(img.ndim))
        ca = None
    else:
        ca = normalize_axis(channel_axis, img.ndim, "channel_axis")
        axes = [a for a in range(img.ndim) if a != ca]
    if not 1 <= len(axes) <= 3:
        raise ValueError("%s must have 1 to 3 spatial dimensions (plus an optional "
                         "channel_axis), got %d" % (name, len(axes)))
    return axes, ca


def _real_sequence(value, n, name):
    """A real number or a length-n sequence of them, as a list of n finite floats >= 0."""
    if isinstance(value, (str, bytes)):
        raise TypeError("%s must be a number or a sequence of %d numbers" % (name, n))
    if isinstance(value, Iterable) and not (isinstance(value, np.ndarray) and value.ndim == 0):
        vals = [real_scalar(v, name) for v in value]
        if len(vals) != n:
            raise ValueError("%s must have %d entries (one per spatial axis), got %d"
                             % (name, n, len(vals)))
    else:
        vals = [real_scalar(value, name)] * n
    for v in vals:
        if not np.isfinite(v) or v < 0:
            raise ValueError("%s must be finite and >= 0, got %r" % (name, value))
    return vals


def _num_threads(num_threads):
    # validates up front (before any pass); the passes decide the count from their work
    if num_threads is not None:
        effective_num_threads(num_threads)
    return num_threads


def _slab(ndim, axis, index):
    sl = [slice(None)] * ndim
    sl[axis] = index
    return tuple(sl)


# --------------------------------------------------------------------------------------------
# the chain of passes


class _Pass:
    """One 1-D step along ``axis``.  kind: 'corr' (correlate1d with ``weights``), 'diff'
    (central difference x[i+1] - x[i-1], i.e. weights [-1, 0, 1] with the zero tap skipped,
    so a NaN does not reach the pixel itself, as in scipy.ndimage's n-D correlate) or 'box'
    (sum of ``size`` ones, NaN/Inf spread like scipy's running mean; uniform divides once,
    after the last pass)."""

    def __init__(self, kind, axis, mode, cval, weights=None, origin=0):
        self.kind, self.axis, self.mode, self.cval = kind, axis, mode, cval
        self.weights, self.origin = weights, origin


def _run(img, dt, passes, out, num_threads, halo=None, finite=False, stream=False, divide=1):
    """Apply ``passes`` in order to ``img`` in dtype ``dt``; the last one may write ``out``.
    stream: the result goes back to the caller as it is, so a fresh one may be written with
    streaming stores (see _fused_pair).
    divide: the result divided by this count (uniform's box sums, see box_mean): by the
    fused kernel as it writes each row where that pair is the last and the count is exact
    in ``dt``, else afterwards.
    halo: the columns beyond the last axis' edges for a single fused pair (_fused_pair).
    finite: return None instead when the image holds a NaN or an infinity (found while
    filtering a single fused pair, whose intermediate rows are scanned in cache; else by
    reading the image first); ``out`` may then have been written."""
    # inf - inf and overflow give NaN/Inf silently, as in the compiled kernels and in scipy
    with np.errstate(invalid="ignore", over="ignore"):
        return _run_passes(img, dt, passes, out, num_threads, halo, finite, stream, divide)


def _run_passes(img, dt, passes, out, num_threads, halo=None, finite=False, stream=False,
                divide=1):
    if out is not None:
        check_out(out, img.shape, dt)
    # one fused pair finds a NaN or an infinity itself; anything else reads the image first
    checked = finite and len(passes) == 2 and _fusable(img, passes[0], passes[1])
    if finite and not checked and not _engine.all_finite(img, num_threads):
        return None
    if not passes and halo is None:
        return _engine.deliver(np.array(img, dtype=dt, order="C"), out)
    x = img if float_dtype(img.dtype, "image") == dt else img.astype(dt)
    # the count the fused kernel may divide by (0: none, or not exact in dt)
    div = divide if divide != 1 and float(dt.type(divide)) == divide else 0
    if checked:
        res = _fused_pair(x, passes[0], passes[1], dt, out, num_threads, check=True,
                          stream_fresh=stream, div=div)
        return res if res is None or div else box_mean(res, divide)
    if halo is not None:
        if len(passes) != 2 or not _fusable(x, passes[0], passes[1]):
            raise ValueError("a halo needs one fused pair of passes")
        return box_mean(_fused_pair(x, passes[0], passes[1], dt, out, num_threads, halo),
                        divide)
    divided = False
    i = 0
    while i < len(passes):
        p = passes[i]
        q = passes[i + 1] if i + 1 < len(passes) else None
        if _fusable(x, p, q):
            last = i + 2 == len(passes)
            x = _fused_pair(x, p, q, dt, out if last else None, num_threads,
                            stream_fresh=stream and last, div=div if last else 0)
            divided = last and div != 0
            i += 2
            continue
        dest = out if i == len(passes) - 1 else None
        i += 1
        if p.kind == "diff":
            y = _central_difference(x, p.axis, p.mode, p.cval, dt)
            x = _engine.deliver(y, dest)
            continue
        mask = _running_mean_nan(x, p) if p.kind == "box" else None
        w = np.asarray(p.weights, dtype=dt)
        y = _filters.correlate1d(x, w, p.axis, p.mode, p.cval, p.origin, out=dest,
                                 num_threads=num_threads)
        if mask is not None:
            y[mask] = np.nan
        x = y
    return x if divided else box_mean(x, divide)


#: bytes of the input rows one task of the strip kernels reads (half of a 2 MB L2)
SEP_STRIP_BYTES = 1024 * 1024

#: fewest output rows per task of the fused separable kernel: it sweeps rows four at a
#: time, so a strip of one or two rows (wide images) would lose that
SEP_MIN_ROWS = 16

#: and at least this many times the kernel's extra rows: each strip reads (and copies into
#: its ring of rows) kv - 1 rows more than it writes.  Measured on 8192^2 float32, Gaussian
#: sigma=2 (17 rows), where the SEP_STRIP_BYTES rule gives 16 rows: 16 -> 128 rows per task,
#: 72 -> 66-69 ms (one thread), 38 -> 35-36 ms (two); the ring keeps the rows a sweep reads
#: in L1 however tall the strip.  Only for kernels of at most SEP_HALO_MAX_TAPS rows (those
#: the ring takes): a taller kernel's strips would each be a long task (a 12001-row kernel:
#: 256-row strips of 6 G multiply-adds, past a second between checks for Ctrl-C)
SEP_HALO_FACTOR = 8
SEP_HALO_MAX_TAPS = 61

#: streaming stores into an out= only for rows of at least this many bytes (twice the
#: correlation's _engine.STREAM_MIN_ROW_BYTES).  Measured, float32 Gaussian 15 taps into a
#: 32 MB out=, one thread, ns per sample streamed / not: rows of 32 samples 11.6 / 1.44, 64
#: 6.4 / 1.26, 256 2.23 / 1.68, 1024 0.99 / 0.94, 1536 and 2048 0.91 / 0.91, 3072 0.90 /
#: 0.93, 4096 0.89 / 0.94
SEP_STREAM_MIN_ROW_BYTES = 8192


def _strip_rows(B, H, row_bytes, halo, nthreads, min_rows=1):
    """Output rows per task of the strip kernels: as many as fit SEP_STRIP_BYTES with their
    ``halo`` extra rows (at least ``min_rows``), fewer when B images x strips would not
    give 4 tasks per thread."""
    strip = max(1, min(H, max(min_rows, SEP_STRIP_BYTES // row_bytes - halo)))
    if nthreads > 1 and B * -(-H // strip) < 4 * nthreads:
        strip = max(1, -(-H // -(-4 * nthreads // B)))
    return strip


def _fusable(x, p, q):
    """Two weighted passes (or central differences) over the last two axes, rows then
    columns, or over the two before a last axis of at most INTERLEAVED_MAX samples that no
    pass filters (a channel-last image's channels): one fused kernel."""
    if q is None or p.kind not in ("corr", "diff") or q.kind not in ("corr", "diff"):
        return False
    if x.ndim >= 2 and p.axis == x.ndim - 2 and q.axis == x.ndim - 1:
        return True
    return (x.ndim >= 3 and p.axis == x.ndim - 3 and q.axis == x.ndim - 2
            and x.shape[-1] <= _filters.INTERLEAVED_MAX)


def _taps_of(p, dt):
    """(weights, tap positions, extent, origin) of a pass for the fused kernel.  A central
    difference is the taps -1 at 0 and +1 at 2 (no multiply by the zero centre weight); in
    floating point -a + b rounds exactly as b - a."""
    if p.kind == "diff":
        return np.array([-1, 1], dtype=dt), np.array([0, 2], dtype=np.intp), 3, 0
    w = np.ascontiguousarray(p.weights, dtype=dt)
    return w, np.arange(w.size, dtype=np.intp), w.size, p.origin


#: the stand-in for an absent halo of the fused kernel (width 0: that side is padded)
_NO_HALO = {np.dtype(np.float32): np.empty((0, 0, 0), np.float32),
            np.dtype(np.float64): np.empty((0, 0, 0), np.float64)}


def _halo_rows(h, lead, H, dt):
    """A halo of the fused kernel as a (B, H, width) array with contiguous rows (a view when
    it has one), or the absent-halo stand-in."""
    if h is None or h.shape[-1] == 0:
        return _NO_HALO[dt]
    if tuple(h.shape[:-1]) != tuple(lead) + (H,):
        raise ValueError("a halo of shape %s does not fit an image of shape %s"
                         % (h.shape, tuple(lead) + (H,)))
    v = _engine.rows3d(h, dt)
    if v is None:
        v = np.ascontiguousarray(h, dtype=dt).reshape(-1, H, h.shape[-1])
    return v


def _fused_pair(x, py, px, dt, out, num_threads, halo=None, check=False, stream_fresh=False,
                div=0):
    """The passes py (along rows) and px (along columns) in one sweep: each strip of rows is
    filtered vertically into a per-thread row and horizontally from there, so the
    intermediate image never goes to memory.  Same taps, order, boundary rules and cvals as
    the two correlate1d passes, so the same numbers, bit for bit.

    With C interleaved samples per column (passes over the axes before a short last axis,
    see _fusable), a row is W * C samples, the horizontal taps and the column table are
    spread C samples apart, and each of the C samples is filtered on its own.

    halo: None or (left, right), the columns beyond the last axis' edges (each None or
    exactly the horizontal kernel's reach on that side, as _pass_halo gives it; C = 1
    only), taken from a neighbouring array: the result is then that of the wider image,
    cut back to x's columns (pyconv.dask's chunks use it instead of recomputing their side
    borders).

    check: return None when a vertically filtered sample of x was NaN or infinite (the
    kernel scans each line in cache; out may then have been written).

    stream_fresh: a fresh result (out None) is the caller's final result, not read again
    here, so it may be written with streaming stores (see _engine.stream_rows)."""
    inter = px.axis != x.ndim - 1       # samples interleaved along a last, unfiltered axis
    C = x.shape[-1] if inter else 1
    if inter and halo is not None:
        raise ValueError("halo columns need the passes over the last two axes")
    lead = x.shape[:-3] if inter else x.shape[:-2]
    H, W = x.shape[len(lead)], x.shape[len(lead) + 1]
    B = math.prod(lead)
    wy, ty, kv, oy = _taps_of(py, dt)
    wx, tx, kh, ox = _taps_of(px, dt)
    by, bx = kv // 2 + oy, kh // 2 + ox
    taby = _engine.index_table(-by, H + kv - 1, H, mode_code(py.mode))
    tabx = _engine.index_table(-bx, W + kh - 1, W, mode_code(px.mode))
    if inter:
        tabx = _engine.interleave_table(tabx, C)
        tx, kh, bx, W = tx * C, (kh - 1) * C + 1, bx * C, W * C
    # rows at any pitch are read and written in place (a view into a larger image, such as
    # a dask chunk, is not copied); other layouts are copied once
    xm = _engine.merge_last(x) if inter else x
    src = None if xm is None else _engine.rows3d(xm, dt)
    if src is None:
        src = np.ascontiguousarray(x, dtype=dt).reshape(B, H, W)
    if out is not None:
        check_out(out, x.shape, dt)
    om = _engine.merge_last(out) if inter and out is not None else out
    dest = None if om is None else _engine.rows_dest(om, src)
    res = np.empty((B, H, W), dtype=dt) if dest is None else dest
    nthreads = effective_num_threads(num_threads, work=B * H * W * (wy.size + wx.size))
    min_rows = SEP_MIN_ROWS
    if kv <= SEP_HALO_MAX_TAPS:
        min_rows = max(min_rows, SEP_HALO_FACTOR * (kv - 1))
    strip = _strip_rows(B, H, W * dt.itemsize, kv - 1, nthreads, min_rows)
    left, right = halo if halo is not None else (None, None)
    left, right = _halo_rows(left, lead, H, dt), _halo_rows(right, lead, H, dt)
    run = _kernels.kernels.sep2d_f32 if dt == np.float32 else _kernels.kernels.sep2d_f64
    # streaming stores into an out= the caller passed (as the correlation's rule, rows of at
    # least SEP_STREAM_MIN_ROW_BYTES).  Measured,
    # float32 Gaussian into out=, one thread: 2048^2 15 taps 3.94 -> 3.83 ms, 4096^2 sigma=2
    # 15.9 -> 15.0, 8192^2 68.8 -> 61.7; two threads 8192^2 33.3 -> 30.9 (4096^2: 15.5 ->
    # 14.7 in one run, 8.6 -> 9.6 in another, the VM's second core then less loaded)
    # Fresh results too, under FRESH_STREAM_MAX_BYTES (from the heap, their lines not in
    # cache), when they are the final result.  Measured, Gaussian 15 taps, fresh result,
    # ms: 2048^2 3.72 -> 3.35 (one thread, eight alternating rounds), 2.25 -> 2.02 (two);
    # 1024x4096 3.62 -> 3.19, 1.99 -> 1.71; 4096x2048 (32 MB, mapped afresh by malloc: in
    # cache) 10.8 -> 11.2.  One run alternating with a 64 MB read between calls had 2048^2
    # at one thread 3.85 -> 3.95 (1024x4096 still 3.65 -> 3.2)
    if dest is not None or (stream_fresh and out is None):
        stream = _engine.stream_rows(res.nbytes, W * dt.itemsize, fresh=dest is None,
                                     min_row_bytes=SEP_STREAM_MIN_ROW_BYTES)
    else:
        stream = False
    if not run(src, res, taby, tabx, bx, wy, ty, kv, wx, tx, kh, float(py.cval),
               float(px.cval), strip, nthreads, left, right, check, stream, float(div)):
        return None
    res = res.reshape(x.shape)
    return _engine.deliver(res, out) if dest is None else out


def _central_difference(x, axis, mode, cval, dt):
    """x[i+1] - x[i-1] along ``axis`` with the boundary ``mode`` (two subtractions per
    output, no multiply by the zero centre weight)."""
    x = np.asarray(x, dtype=dt)
    n = x.shape[axis]
    nd = x.ndim
    # source index of padded positions -1 and n (the only ones outside the image)
    tab = _engine.index_table(-1, n + 2, n, mode_code(mode))

    def outside(t):
        if t < 0:
            return np.asarray(cval, dtype=dt)
        return x[_slab(nd, axis, slice(t, t + 1))]

    lo, hi = outside(tab[0]), outside(tab[n + 1])
    y = np.empty(x.shape, dtype=dt)
    if n == 1:
        np.subtract(hi, lo, out=y)
        return y
    np.subtract(x[_slab(nd, axis, slice(2, None))], x[_slab(nd, axis, slice(None, n - 2))],
                out=y[_slab(nd, axis, slice(1, n - 1))])
    np.subtract(x[_slab(nd, axis, slice(1, 2))], lo, out=y[_slab(nd, axis, slice(0, 1))])
    np.subtract(hi, x[_slab(nd, axis, slice(n - 2, n - 1))],
                out=y[_slab(nd, axis, slice(n - 1, n))])
    return y


def _running_mean_nan(x, p):
    """Where scipy.ndimage.uniform_filter1d returns NaN although a windowed sum would not.

    scipy keeps a running sum: once a NaN enters the window, or once a non-finite value
    leaves it (inf - inf), every later output of the line is NaN.  Returns a bool mask of
    those outputs, or None when the line has nothing non-finite (the common case)."""
    x = np.asarray(x)
    const = mode_code(p.mode) == CONSTANT
    if (not const or np.isfinite(p.cval)) and _engine.all_finite(x):
        return None
    finite = np.isfinite(x)
    size = len(p.weights)
    n = x.shape[p.axis]
    tab = _engine.index_table(-(size // 2 + p.origin), n + size - 1, n, mode_code(p.mode))
    src = np.where(tab < 0, 0, tab)
    nonfinite = np.take(~finite, src, axis=p.axis)
    isnan = np.take(np.isnan(x), src, axis=p.axis)
    if (tab < 0).any():
        pad = _slab(x.ndim, p.axis, tab < 0)
        nonfinite[pad] = not np.isfinite(p.cval)
        isnan[pad] = bool(np.isnan(p.cval))
    nonfinite = np.logical_or.accumulate(nonfinite, axis=p.axis)
    isnan = np.logical_or.accumulate(isnan, axis=p.axis)
    # output i sums padded positions i .. i+size-1: NaN once a NaN reached position
    # i+size-1, or once the first non-finite value sits before position i
    mask = isnan[_slab(x.ndim, p.axis, slice(size - 1, size - 1 + n))].copy()
    mask[_slab(x.ndim, p.axis, slice(1, None))] |= \
        nonfinite[_slab(x.ndim, p.axis, slice(0, n - 1))]
    return mask


# --------------------------------------------------------------------------------------------
# sepfilter and separate


def sepfilter(image, kernels, mode="reflect", cval=0.0, origin=0, *, channel_axis=None,
              out=None, num_threads=None):
    """Separable correlation: one 1-D kernel per spatial axis, applied as successive passes.

    Parameters
    ----------
    image : array_like
        Input with 1-3 spatial dimensions (plus ``channel_axis`` if given).
    kernels : sequence of (array_like or None)
        One 1-D kernel per spatial axis, in axis order; ``None`` leaves that axis alone.
        Float ndarray kernels take part in the result dtype, lists and integer arrays adapt
        to the image's float type (as in :func:`pyconv.filters.correlate`).
    mode : str or sequence of str, optional
        Boundary mode for all spatial axes or one per spatial axis: ``reflect``,
        ``constant``, ``nearest``, ``mirror``, ``wrap`` (and the ``grid-`` aliases).
    cval : float, optional
        Value outside the image for ``mode='constant'``.
    origin : int or sequence of int, optional
        Shift of each kernel's centre, per spatial axis;
        ``-(k // 2) <= origin <= (k - 1) // 2``.
    channel_axis : int or None, optional
        Axis holding channels; it is not filtered, and ``kernels`` has one entry fewer.
    out : ndarray, optional
        Array of the result's shape and dtype to write into; it may be ``image`` itself.
    num_threads : int, optional
        Threads for each pass (default: :func:`pyconv.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as ``image``; float32 for float16/float32 input, else float64.

    Notes
    -----
    The result equals :func:`pyconv.filters.correlate` with the outer product of the kernels
    (``scipy.ndimage.correlate``), and, except with ``mode='constant'`` and a non-zero
    ``cval``, ``scipy.ndimage.correlate1d`` applied axis by axis.  With a non-zero ``cval``
    the n-D definition is kept: pass ``k`` pads with ``cval`` times the sums of the earlier
    kernels, which is what the outer-product kernel sees outside the image.  Every weight is
    applied, zeros included, so a NaN spreads over each kernel's full length.  Float32 input
    stays float32 through the intermediate passes.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.filters import sepfilter
    >>> sepfilter(np.eye(3), [[1, 1, 1], [1, 1, 1]], mode='constant')
    array([[2., 2., 1.],
           [2., 3., 2.],
           [1., 2., 2.]])
    """
    img, dt, passes, nt = _sep_passes(image, kernels, mode, cval, origin, channel_axis,
                                      num_threads)
    return _run(img, dt, passes, out, nt, stream=True)


def sepfilter_if_finite(image, kernels, mode, cval, origin, channel_axis, out, num_threads):
    """sepfilter, or None when the image holds a NaN or an infinity (see _run's finite;
    ``out``, which must not overlap the image, may then have been written)."""
    img, dt, passes, nt = _sep_passes(image, kernels, mode, cval, origin, channel_axis,
                                      num_threads)
    return _run(img, dt, passes, out, nt, finite=True, stream=True)


def _sep_passes(image, kernels, mode, cval, origin, channel_axis, num_threads):
    """sepfilter's arguments checked: (image, dtype, passes, num_threads)."""
    img = image_array(image)
    axes, _ = _spatial_axes(img, channel_axis)
    if isinstance(kernels, (str, bytes)) or not isinstance(kernels, Iterable):
        raise TypeError("kernels must be a sequence of one 1-D kernel (or None) per spatial "
                        "axis")
    kernels = list(kernels)
    if len(kernels) != len(axes):
        raise ValueError("kernels must have one entry per spatial axis (%d), got %d"
                         % (len(axes), len(kernels)))
    dt = float_dtype(img.dtype, "image")
    ws = []
    for i, k in enumerate(kernels):
        if k is None:
            ws.append(None)
            continue
        name = "kernels[%d]" % i
        arr, strong = second_operand(k, name)
        if arr.ndim != 1:
            raise ValueError("%s must be one-dimensional, got %d dimensions" % (name, arr.ndim))
        check_nonempty(arr, name)
        dt = promote(dt, arr, strong, name)
        ws.append(arr.astype(np.float64))
    modes = canonical_modes(mode, len(axes))
    cval = real_scalar(cval, "cval")
    origins = int_sequence(origin, len(axes), "origin")
    for i, (w, o) in enumerate(zip(ws, origins)):
        if w is not None:
            check_origin(o, w.size, "origin" if isinstance(origin, numbers.Integral)
                          else "origin[%d]" % i)
    num_threads = _num_threads(num_threads)

    passes, factor = [], 1.0
    for ax, w, m, o in zip(axes, ws, modes, origins):
        if w is None:
            continue
        passes.append(_Pass("corr", ax, m, cval * factor, w, o))
        if cval != 0:
            factor *= float(np.sum(w))
    return img, dt, passes, num_threads


def separate(kernel, rtol=None):
    """Factor a kernel into 1-D vectors whose outer product reproduces it.

    Parameters
    ----------
    kernel : array_like
        1-D, 2-D or 3-D kernel (real).
    rtol : float, optional
        Largest accepted ``max|outer(factors) - kernel|``, relative to ``max|kernel|``.
        Default: 256 machine epsilons of the kernel's precision (float64 for integer, bool
        and list kernels, float32 for float32 and float16 kernels), about 5.7e-14 for
        float64.

    Returns
    -------
    list of ndarray or None
        One float64 vector per axis (``[kernel]`` for a 1-D kernel), or None when the kernel
        is not rank-1 within ``rtol`` (or holds NaN or Inf).

    Notes
    -----
    A 2-D kernel is factored by its SVD (the leading singular pair); a 3-D kernel is
    unfolded to (K0, K1*K2), factored, and the second factor, reshaped to (K1, K2), factored
    again.  The factors share the magnitude equally and every factor but the first has a
    positive largest entry.  The reconstruction is checked before anything is returned.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.filters import separate
    >>> k = np.outer([1.0, 2.0, 1.0], [-1.0, 0.0, 1.0])
    >>> a, b = separate(k)
    >>> np.allclose(np.outer(a, b), k)
    True
    >>> separate(np.eye(3)) is None
    True
    """
    k = as_array(kernel, "kernel")
    if not 1 <= k.ndim <= 3:
        raise ValueError("kernel must have 1 to 3 dimensions, got %d" % k.ndim)
    check_nonempty(k, "kernel")
    if rtol is None:
        prec = np.float64 if k.dtype.kind != "f" else float_dtype(k.dtype, "kernel")
        rtol = SEPARATE_EPS * np.finfo(prec).eps
    else:
        rtol = real_scalar(rtol, "rtol")
        if not (np.isfinite(rtol) and rtol >= 0):
            raise ValueError("rtol must be finite and >= 0, got %r" % rtol)
    k = k.astype(np.float64)
    if k.ndim == 1:
        return [k.copy()]
    if not np.isfinite(k).all():
        return None
    scale = float(np.abs(k).max())
    if scale == 0:
        return [np.zeros(n) for n in k.shape]
    u, rest = _rank1(k.reshape(k.shape[0], -1))
    factors = [u]
    if k.ndim == 3:
        v, w = _rank1(rest.reshape(k.shape[1], k.shape[2]))
        factors += [v, w]
    else:
        factors.append(rest)
    factors = _balance(factors)
    approx = factors[0]
    for f in factors[1:]:
        approx = np.multiply.outer(approx, f)
    if not np.abs(approx - k).max() <= rtol * scale:
        return None
    return factors


def _rank1(m):
    """Leading singular pair of a matrix as two vectors (sqrt of sigma in each)."""
    u, s, vt = np.linalg.svd(m, full_matrices=False)
    r = np.sqrt(s[0])
    return u[:, 0] * r, vt[0] * r


def _balance(factors):
    """Equal norms, positive largest entry in every factor but the first."""
    norms = [np.linalg.norm(f) for f in factors]
    if min(norms) == 0:
        return [np.asarray(f, dtype=np.float64) for f in factors]
    g = np.prod(norms) ** (1.0 / len(factors))
    out = [f * (g / n) for f, n in zip(factors, norms)]
    for i in range(1, len(out)):
        if out[i][np.argmax(np.abs(out[i]))] < 0:
            out[i] = -out[i]
            out[0] = -out[0]
    return out


# --------------------------------------------------------------------------------------------
# edge filters


def _erode(mask):
    """Binary erosion by the full 3**ndim box, outside the array counted as False
    (scipy.ndimage.binary_erosion with border_value=0), done one axis at a time."""
    e = np.pad(mask, 1, mode="constant", constant_values=False)
    for ax in range(mask.ndim):
        n = e.shape[ax]
        e = (e[_slab(e.ndim, ax, slice(0, n - 2))] & e[_slab(e.ndim, ax, slice(1, n - 1))]
             & e[_slab(e.ndim, ax, slice(2, n))])
    return e


def _edge(image, mask, axis, mode, cval, channel_axis, num_threads, smooth, name, out=None):
    img = image_array(image)
    saxes, ca = _spatial_axes(img, channel_axis)
    if axis is None:
        edge_axes = list(saxes)
    else:
        seq = not isinstance(axis, numbers.Integral) or isinstance(axis, bool)
        if seq:
            if isinstance(axis, (str, bytes)) or not isinstance(axis, Iterable):
                raise TypeError("axis must be None, an int or a sequence of ints")
            edge_axes = [normalize_axis(a, img.ndim, "axis") for a in axis]
            if not edge_axes:
                raise ValueError("axis must not be an empty sequence")
        else:
            edge_axes = [normalize_axis(axis, img.ndim, "axis")]
        if ca is not None and ca in edge_axes:
            raise ValueError("axis must not be the channel_axis (%d)" % ca)
    modes = dict(zip(saxes, canonical_modes(mode, len(saxes))))
    cval = real_scalar(cval, "cval")
    spatial_shape = tuple(img.shape[a] for a in saxes)
    if mask is not None:
        m = as_array(mask, "mask")
        if m.shape != spatial_shape:
            raise ValueError("mask must have the image's spatial shape %s, got %s"
                             % (spatial_shape, m.shape))
    num_threads = _num_threads(num_threads)
    dt = float_dtype(img.dtype, "image")
    if out is not None:
        check_out(out, img.shape, dt)

    with np.errstate(invalid="ignore", over="ignore"):
        return _edge_passes(img, m if mask is not None else None, edge_axes, saxes, ca, modes,
                            cval, smooth, dt, num_threads, out)


def _edge_magnitude_2d(img, ca, modes, cval, smooth, dt, num_threads, out=None):
    """The 2-D edge magnitude in one sweep (pyx: edge2d): no gradient image is written.  A
    C-contiguous channel-last image is filtered with its channels interleaved (rows of W*C
    samples, read in place); other layouts are read and written through strides.  ``out`` is
    written directly when the kernel can (any strides, no overlap with the image); else the
    result is a new array (the caller copies it into ``out``)."""
    if _engine._writable_in_place(out, img):
        res = out
    else:
        check_alloc(img.shape, dt)
        res = np.empty(img.shape, dtype=dt)
    if ca == img.ndim - 1 and _engine.kernel_source(img, dt) is img and \
            img.flags.c_contiguous and res.flags.c_contiguous:
        H, W, C = img.shape
        src, dest = img.reshape(1, H, W * C), res.reshape(1, H, W * C)
    else:
        x = img[None] if ca is None else np.moveaxis(img, ca, 0)
        src = _engine.kernel_source(x, dt)
        dest = res[None] if ca is None else np.moveaxis(res, ca, 0)
        H, W, C = x.shape[1], x.shape[2], 1
    axes = [a for a in range(img.ndim) if a != ca]
    taby = _engine.index_table(-1, H + 2, H, mode_code(modes[axes[0]]))
    tabx = _engine.index_table(-1, W + 2, W, mode_code(modes[axes[1]]))
    w = np.asarray(smooth, dtype=dt)
    B, L = src.shape[0], src.shape[2]
    nthreads = effective_num_threads(num_threads, work=B * H * L * 12)
    strip = _strip_rows(B, H, L * dt.itemsize, 0, nthreads)
    run = _kernels.kernels.edge2d_f32 if dt == np.float32 else _kernels.kernels.edge2d_f64
    # streaming stores into out= and into fresh results below FRESH_STREAM_MAX_BYTES (see
    # there).  Measured, Sobel, float32, one thread: 2048^2 fresh 2.9 -> 2.3 ms (a 16 MB
    # result comes back from the heap, not from the OS), 4096^2 fresh 14.2 / 14.4 ms and
    # 2048^2 x 3 fresh 10.6 / 10.6 (results of 48 MB and more are new zeroed pages every
    # call), 2048^2 x 3 into out= 6.7 -> 5.3
    stream = _engine.stream_rows(res.nbytes, L * dt.itemsize, fresh=res is not out)
    run(src, dest, taby, tabx, C, w, cval, cval * float(np.sum(smooth)), 0.5, strip, nthreads,
        stream)
    return res


def _edge_passes(img, mask, edge_axes, saxes, ca, modes, cval, smooth, dt, num_threads,
                 out=None):
    if len(edge_axes) == len(saxes) == 2 and list(edge_axes) == list(saxes):
        result = _edge_magnitude_2d(img, ca, modes, cval, smooth, dt, num_threads, out)
    else:
        result = _edge_gradients(img, edge_axes, saxes, modes, cval, smooth, dt, num_threads,
                                 out)
    if mask is not None:
        em = _erode(np.asarray(mask) != 0)
        if ca is not None:
            em = np.expand_dims(em, ca)
        result *= em
    return _engine.deliver(result, out)


def _edge_gradients(img, edge_axes, saxes, modes, cval, smooth, dt, num_threads, out=None):
    """The derivative along each of ``edge_axes``; with several, their magnitude.  A single
    derivative's last pass writes ``out`` (when given) itself."""
    grads = []
    for ea in edge_axes:
        # the passes in axis order, whichever is the derivative: the last two spatial axes
        # then always reach the fused two-pass kernel (rows, then columns).  n-D cval
        # convention (see the module docstring): each pass pads with cval times the weight
        # sums of the passes before it (0 after the derivative, whose weights sum to 0)
        passes, factor = [], 1.0
        for a in saxes:
            if a == ea:
                passes.append(_Pass("diff", a, modes[a], cval * factor))
                factor = 0.0
            else:
                passes.append(_Pass("corr", a, modes[a], cval * factor, smooth))
                factor *= float(np.sum(smooth))
        grads.append(_run(img, dt, passes, out if len(edge_axes) == 1 else None,
                          num_threads, stream=len(edge_axes) == 1))
    result = grads[0]
    norm = np.sqrt(len(saxes), dtype=dt)
    if len(grads) == 1:
        return result
    if len(grads) <= 3:
        # sqrt(sum of squares) / sqrt(ndim): one threaded pass, written over the first
        # gradient (NumPy took four passes and a temporary per gradient)
        grads = [np.ascontiguousarray(g) for g in grads]
        result = grads[0]
        flat = [g.reshape(-1) for g in grads]      # views of contiguous arrays
        flat += [flat[0]] * (3 - len(flat))
        run = (_kernels.kernels.magnitude_f32 if dt == np.float32
               else _kernels.kernels.magnitude_f64)
        run(flat[0], flat[1], flat[2], len(grads), flat[0], float(norm),
            effective_num_threads(num_threads, work=result.size * len(grads)))
    else:  # an axis given more than once: more than three terms
        result = grads[0] * grads[0]
        for g in grads[1:]:
            result += g * g
        result = np.sqrt(result, out=result)
        result /= norm
    return result


_EDGE_DOC = """{title}

    Equal to ``skimage.filters.{name}`` (scikit-image 0.26) for float input: along each
    ``axis`` the central difference ``x[i+1] - x[i-1]`` times the smoothing weights
    ``{smooth}`` along every other spatial axis.

    Parameters
    ----------
    image : array_like
        Input with 1-3 spatial dimensions (plus ``channel_axis`` if given).
    mask : array_like, optional
        Bool (or nonzero) array of the spatial shape.  The result is multiplied by the mask
        eroded with a full 3x3(x3) box (pixels next to a masked-out one become 0 too).
    axis : int or sequence of int, optional
        Axis of the derivative (an axis of ``image``, not the channel axis).  None (all
        spatial axes) or a sequence of several gives the magnitude
        ``sqrt(sum_i g_i**2 / ndim)`` with ``ndim`` the number of spatial axes.
    mode : str or sequence of str, optional
        Boundary mode for all spatial axes or one per spatial axis.
    cval : float, optional
        Value outside the image for ``mode='constant'``.
    channel_axis : int or None, optional
        Axis holding channels: each channel is filtered over the spatial axes only.
    out : ndarray, optional
        Array of the result's shape and dtype to write into (any layout); it may be
        ``image`` itself.  Reusing one spares a large result's page faults on every call.
    num_threads : int, optional
        Threads for each pass (default: :func:`pyconv.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as ``image``; float32 for float16/float32 input, else float64 (``out``
        when given).

    Notes
    -----
    * scikit-image has no ``channel_axis`` here: ``skimage.filters.{name}`` of an RGB array
      is a 3-D filter (and so is ours with ``channel_axis=None``); ``channel_axis=-1`` gives
      the per-channel 2-D result.
    * Integer images are converted to float64 without rescaling; scikit-image rescales them
      with ``img_as_float`` (uint8 to [0, 1]), so its result is ours divided by the dtype's
      maximum (255 for uint8).
    * A negative ``axis`` counts from the end as in NumPy (scikit-image 0.26 mis-builds the
      kernel for negative axes).  With a single spatial axis the signed derivative is
      returned, as scikit-image does.
    * Scale: per axis this is the difference ``[-1, 0, 1]`` (correlation; scikit-image's
      convolution with ``[1, 0, -1]``) times the smoothing weights normalised to sum 1.
      {scipy}
      equals {factor}**(ndim-1) times the per-axis value here ({factor}x in 2-D, {factor2}x in
      3-D) with the same sign{dtype}.
      {opencv}
    * The derivative pass skips the zero centre weight (as the n-D correlation does), so a
      NaN does not reach its own pixel along the derivative axis.
    """

_OPENCV = {
    "sobel": "OpenCV's ``cv2.Sobel(x, cv2.CV_64F, 1, 0)`` (d/dx, along axis 1) is 4x the\n"
             "      per-axis value too, but its default border ``BORDER_REFLECT_101`` is our\n"
             "      ``mode='mirror'``.",
    "scharr": "OpenCV's ``cv2.Scharr(x, cv2.CV_64F, 1, 0)`` (d/dx, along axis 1) is 16x the\n"
              "      per-axis value; its default border ``BORDER_REFLECT_101`` is our\n"
              "      ``mode='mirror'``.",
    "prewitt": "OpenCV has no Prewitt function; ``cv2.filter2D`` (a correlation) with the\n"
               "      unnormalised 3x3 kernel gives 3x the per-axis value.",
}


def _edge_doc(name, smooth, raw, factor, title, example):
    if name == "scharr":  # scipy.ndimage has no scharr
        sp = ("scipy.ndimage has no Scharr filter; with the unnormalised smoothing\n"
              "      ``%s`` the filter" % raw)
        dtype = ""
    else:
        sp = "``scipy.ndimage.%s(x, axis)`` uses the unnormalised smoothing ``%s``: it" % (
            name, raw)
        dtype = ",\n      and it returns the input's dtype (integer input overflows)"
    return (_EDGE_DOC.format(title=title, name=name, smooth=smooth, raw=raw, factor=factor,
                             factor2=factor * factor, opencv=_OPENCV[name], scipy=sp,
                             dtype=dtype) + example)


def sobel(image, mask=None, axis=None, mode="reflect", cval=0.0, *, channel_axis=None,
          out=None, num_threads=None):
    return _edge(image, mask, axis, mode, cval, channel_axis, num_threads, SOBEL_SMOOTH,
                 "sobel", out)


def scharr(image, mask=None, axis=None, mode="reflect", cval=0.0, *, channel_axis=None,
           out=None, num_threads=None):
    return _edge(image, mask, axis, mode, cval, channel_axis, num_threads, SCHARR_SMOOTH,
                 "scharr", out)


def prewitt(image, mask=None, axis=None, mode="reflect", cval=0.0, *, channel_axis=None,
            out=None, num_threads=None):
    return _edge(image, mask, axis, mode, cval, channel_axis, num_threads, PREWITT_SMOOTH,
                 "prewitt", out)


sobel.__doc__ = _edge_doc("sobel", "[1, 2, 1] / 4", "[1, 2, 1]", 4,
                          "Sobel edge magnitude, or the Sobel derivative along ``axis``.", """
    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.filters import sobel
    >>> step = np.zeros((4, 4)); step[:, 2:] = 1
    >>> sobel(step, axis=1)
    array([[0., 1., 1., 0.],
           [0., 1., 1., 0.],
           [0., 1., 1., 0.],
           [0., 1., 1., 0.]])
    """)
scharr.__doc__ = _edge_doc("scharr", "[3, 10, 3] / 16", "[3, 10, 3]", 16,
                           "Scharr edge magnitude, or the Scharr derivative along ``axis``.", """
    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.filters import scharr
    >>> ramp = np.tile(np.arange(4.0), (3, 1))
    >>> scharr(ramp, axis=1, mode='nearest')
    array([[1., 2., 2., 1.],
           [1., 2., 2., 1.],
           [1., 2., 2., 1.]])
    """)
prewitt.__doc__ = _edge_doc("prewitt", "[1, 1, 1] / 3", "[1, 1, 1]", 3,
                            "Prewitt edge magnitude, or the Prewitt derivative along ``axis``.",
                            """
    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.filters import prewitt
    >>> ramp = np.tile(np.arange(4.0), (3, 1)).T
    >>> prewitt(ramp, axis=0, mode='mirror')
    array([[0., 0., 0.],
           [2., 2., 2.],
           [2., 2., 2.],
           [0., 0., 0.]])
    """)


def _edge_2d(image, mask, axis, smooth, name, num_threads, out):
    img = image_array(image)
    if img.ndim != 2:
        raise ValueError("image must be 2-D for %s, got %d dimensions" % (name, img.ndim))
    return _edge(img, mask, axis, "reflect", 0.0, None, num_threads, smooth, name, out)


_HV_DOC = """{what} edges of a 2-D image with the {kind} kernel, equal to
    ``skimage.filters.{name}``: the derivative along axis {axis}
    ({direction}).

    Parameters
    ----------
    image : (M, N) array_like
        2-D input; integers are converted to float64 without rescaling.
    mask : (M, N) array_like, optional
        Where the result is kept; eroded by a 3x3 box first (see :func:`{base}`).
    out : (M, N) ndarray, optional
        Array of the result's dtype to write into; it may be ``image`` itself.
    num_threads : int, optional
        Threads for each pass.

    Returns
    -------
    (M, N) ndarray
        float32 for float16/float32 input, else float64.

    Notes
    -----
    Correlation kernel (``mode='reflect'``)::

{kernel}

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.filters import {name}
    >>> {name}({example})
{result}
    """


def _hv_doc(name, base, kind, axis, raw, denom, example, result):
    raw = np.asarray(raw, dtype=float)
    k = np.stack([-raw, 0 * raw, raw], axis=axis)
    rows = "\n".join("      " + "  ".join("%3d" % v for v in r) for r in np.rint(k))
    return _HV_DOC.format(
        what="Horizontal" if axis == 0 else "Vertical", kind=kind, name=name, axis=axis,
        direction="down the rows, finds horizontal edges" if axis == 0
        else "along the columns, finds vertical edges", base=base,
        kernel=rows + "\n\n      / %d" % denom, example=example, result=result)


def sobel_h(image, mask=None, *, out=None, num_threads=None):
    return _edge_2d(image, mask, 0, SOBEL_SMOOTH, "sobel_h", num_threads, out)


def sobel_v(image, mask=None, *, out=None, num_threads=None):
    return _edge_2d(image, mask, 1, SOBEL_SMOOTH, "sobel_v", num_threads, out)


def scharr_h(image, mask=None, *, out=None, num_threads=None):
    return _edge_2d(image, mask, 0, SCHARR_SMOOTH, "scharr_h", num_threads, out)


def scharr_v(image, mask=None, *, out=None, num_threads=None):
    return _edge_2d(image, mask, 1, SCHARR_SMOOTH, "scharr_v", num_threads, out)


def prewitt_h(image, mask=None, *, out=None, num_threads=None):
    return _edge_2d(image, mask, 0, PREWITT_SMOOTH, "prewitt_h", num_threads, out)


def prewitt_v(image, mask=None, *, out=None, num_threads=None):
    return _edge_2d(image, mask, 1, PREWITT_SMOOTH, "prewitt_v", num_threads, out)


_H_EXAMPLE = ("np.repeat([[0.0], [0.0], [1.0], [1.0]], 3, axis=1)",
              "    array([[0., 0., 0.],\n           [1., 1., 1.],\n"
              "           [1., 1., 1.],\n           [0., 0., 0.]])")
_V_EXAMPLE = ("np.repeat([[0.0, 0.0, 1.0, 1.0]], 3, axis=0)",
              "    array([[0., 1., 1., 0.],\n           [0., 1., 1., 0.],\n"
              "           [0., 1., 1., 0.]])")
sobel_h.__doc__ = _hv_doc("sobel_h", "sobel", "Sobel", 0, [1, 2, 1], 4, *_H_EXAMPLE)
sobel_v.__doc__ = _hv_doc("sobel_v", "sobel", "Sobel", 1, [1, 2, 1], 4, *_V_EXAMPLE)
scharr_h.__doc__ = _hv_doc("scharr_h", "scharr", "Scharr", 0, [3, 10, 3], 16, *_H_EXAMPLE)
scharr_v.__doc__ = _hv_doc("scharr_v", "scharr", "Scharr", 1, [3, 10, 3], 16, *_V_EXAMPLE)
prewitt_h.__doc__ = _hv_doc("prewitt_h", "prewitt", "Prewitt", 0, [1, 1, 1], 3, *_H_EXAMPLE)
prewitt_v.__doc__ = _hv_doc("prewitt_v", "prewitt", "Prewitt", 1, [1, 1, 1], 3, *_V_EXAMPLE)


# --------------------------------------------------------------------------------------------
# gaussian and uniform


@functools.lru_cache(maxsize=64)
def gaussian_weights(sigma, truncate=4.0):
    """Normalised 1-D Gaussian weights of radius ``int(truncate * sigma + 0.5)``, as
    scipy.ndimage.gaussian_filter1d builds them (read-only: the last 64 are kept, a small
    image's call spent a third of its time building them)."""
    r = truncate * sigma + 0.5
    if not np.isfinite(r):
        raise ValueError("sigma=%r with truncate=%r gives an infinite kernel radius"
                         % (sigma, truncate))
    radius = int(r)
    # (building it takes three arrays of its size: positions, exponentials, weights)
    check_alloc((3, 2 * radius + 1), np.float64,
                "the Gaussian kernel of sigma=%r, truncate=%r" % (sigma, truncate))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 / (sigma * sigma) * x * x)
    w /= w.sum()
    w.flags.writeable = False
    return w


def gaussian(image, sigma=1.0, mode="nearest", cval=0.0, truncate=4.0, *, channel_axis=None,
             out=None, num_threads=None):
    """Gaussian filter, equal to ``scipy.ndimage.gaussian_filter`` and to
    ``skimage.filters.gaussian(..., preserve_range=True)``.

    Parameters
    ----------
    image : array_like
        Input with 1-3 spatial dimensions (plus ``channel_axis`` if given).
    sigma : float or sequence of float, optional
        Standard deviation, for all spatial axes or one per spatial axis; 0 leaves an axis
        alone.  Must be finite and >= 0.
    mode : str or sequence of str, optional
        Boundary mode (default ``'nearest'``, scikit-image's default).
    cval : float, optional
        Value outside the image for ``mode='constant'``.
    truncate : float, optional
        The kernel radius along an axis is ``int(truncate * sigma + 0.5)``.
    channel_axis : int or None, optional
        Axis holding channels; it is not filtered (``sigma`` counts spatial axes only).
    out : ndarray, optional
        Array of the result's shape and dtype to write into; it may be ``image`` itself.
    num_threads : int, optional
        Threads for each pass (default: :func:`pyconv.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as ``image``; float32 for float16/float32 input, else float64.

    Notes
    -----
    The weights ``exp(-x**2 / (2 sigma**2))`` for ``|x| <= radius`` are normalised to sum 1
    and applied axis by axis; each pass pads with ``cval`` (scipy's chaining).  Integer
    images are converted to float64 **without rescaling**, like scikit-image's
    ``preserve_range=True``; scikit-image's default (``preserve_range=False``) first maps
    integers to [0, 1] or [-1, 1] with ``img_as_float``.  Unlike scikit-image, a ``sigma``
    sequence never includes the channel axis.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.filters import gaussian
    >>> gaussian(np.full((3, 4), 2.0), sigma=1.5)
    array([[2., 2., 2., 2.],
           [2., 2., 2., 2.],
           [2., 2., 2., 2.]])
    >>> np.round(gaussian(np.eye(3)[1], sigma=1, mode='constant'), 4)
    array([0.242 , 0.3989, 0.242 ])
    """
    img = image_array(image)
    axes, _ = _spatial_axes(img, channel_axis)
    sigmas = _real_sequence(sigma, len(axes), "sigma")
    modes = canonical_modes(mode, len(axes))
    cval = real_scalar(cval, "cval")
    truncate = real_scalar(truncate, "truncate")
    if not (np.isfinite(truncate) and truncate >= 0):
        raise ValueError("truncate must be finite and >= 0, got %r" % truncate)
    num_threads = _num_threads(num_threads)
    dt = float_dtype(img.dtype, "image")
    passes = [_Pass("corr", a, m, cval, gaussian_weights(s, truncate))
              for a, s, m in zip(axes, sigmas, modes) if s > 1e-15]
    return _run(img, dt, passes, out, num_threads, stream=True)


def uniform(image, size=3, mode="reflect", cval=0.0, origin=0, *, channel_axis=None,
            out=None, num_threads=None):
    """Uniform (box, moving-average) filter, equal to ``scipy.ndimage.uniform_filter``.

    Parameters
    ----------
    image : array_like
        Input with 1-3 spatial dimensions (plus ``channel_axis`` if given).
    size : int or sequence of int, optional
        Box length, for all spatial axes or one per spatial axis (>= 1; 1 leaves an axis
        alone).
    mode : str or sequence of str, optional
        Boundary mode for all spatial axes or one per spatial axis.
    cval : float, optional
        Value outside the image for ``mode='constant'``.
    origin : int or sequence of int, optional
        Shift of the box, per spatial axis; ``-(size // 2) <= origin <= (size - 1) // 2``.
    channel_axis : int or None, optional
        Axis holding channels; it is not filtered (``size`` counts spatial axes only).
    out : ndarray, optional
        Array of the result's shape and dtype to write into; it may be ``image`` itself.
    num_threads : int, optional
        Threads for each pass (default: :func:`pyconv.get_num_threads`).

    Returns
    -------
    ndarray
        Same shape as ``image``; float32 for float16/float32 input, else float64 (scipy
        returns the input's dtype, truncating integer means).

    Notes
    -----
    Output ``i`` along an axis averages inputs ``i - size//2 - origin`` to
    ``i - size//2 - origin + size - 1``, so an even box reaches one further back than
    forward (scipy's centring).  The box is summed with unit weights axis by axis (for a
    finite image in one fused sweep over the last two axes, which divides each row as it
    writes it) and divided once by its number of samples, so means of integer-valued data
    are correctly rounded while their sums are exact (below 2**24 in float32, 2**53 in
    float64; scipy divides after every axis).  The sums are formed in the result's dtype:
    float32 samples whose box sums pass 3.4e38 overflow to Inf.  NaN and Inf spread as in
    scipy's running mean: once a NaN enters a line's window, or a NaN/Inf leaves it, every
    later output of that line is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.filters import uniform
    >>> uniform(np.arange(5.0), size=3, mode='nearest')
    array([0.33333333, 1.        , 2.        , 3.        , 3.66666667])
    >>> uniform(np.arange(6.0), size=2)
    array([0. , 0.5, 1.5, 2.5, 3.5, 4.5])
    """
    img = image_array(image)
    axes, _ = _spatial_axes(img, channel_axis)
    sizes = int_sequence(size, len(axes), "size")
    for s in sizes:
        if s < 1:
            raise ValueError("size must be >= 1 on every axis, got %s" % (size,))
    modes = canonical_modes(mode, len(axes))
    cval = real_scalar(cval, "cval")
    origins = int_sequence(origin, len(axes), "origin")
    for s, o in zip(sizes, origins):
        check_origin(o, s, "origin")
    num_threads = _num_threads(num_threads)
    dt = float_dtype(img.dtype, "image")
    for s in sizes:
        check_alloc((s,), np.float64, "the box kernel of size=%d" % s)
    passes = _box_passes(axes, sizes, modes, cval, origins)
    count = math.prod(len(p.weights) for p in passes)
    sums = [_Pass("corr", p.axis, p.mode, p.cval, p.weights, p.origin) for p in passes]
    res = None
    if passes and all(mode_code(p.mode) != CONSTANT or np.isfinite(p.cval) for p in passes):
        # a finite image: the running means' NaN rule has nothing to do, and the sums are
        # one fused sweep (a NaN or Inf is found while filtering; then the passes below)
        if out is None or not np.may_share_memory(out, img):
            res = _run(img, dt, sums, out, num_threads, finite=True, stream=True,
                       divide=count)
        elif _engine.all_finite(img, num_threads):
            res = _run(img, dt, sums, out, num_threads, stream=True, divide=count)
    if res is None:
        res = _run(img, dt, passes, out, num_threads, divide=count)
    return res


def _box_passes(axes, sizes, modes, cval, origins):
    """uniform's passes: sums of ``size`` ones along each axis with a box longer than 1,
    pass k padding (mode 'constant') with ``cval`` times the boxes before it (what the n-D
    box sees outside the image)."""
    passes, factor = [], 1
    for a, s, m, o in zip(axes, sizes, modes, origins):
        if s > 1:
            passes.append(_Pass("box", a, m, cval * factor, np.ones(s), o))
            factor *= s
    return passes


def box_mean(sums, count):
    """uniform's box ``sums`` divided, in place, by the box's number of samples ``count``:
    one division, so a mean of integer-valued samples is correctly rounded.  A count that
    the array's float type does not hold exactly (float32 past 2**24) divides in float64."""
    if count == 1:
        return sums
    if float(sums.dtype.type(count)) == count:
        return np.divide(sums, sums.dtype.type(count), out=sums)
    return np.divide(sums, float(count), out=sums, dtype=np.float64, casting="same_kind")


# --------------------------------------------------------------------------------------------
# flattened convolution (PyTorch conventions)


def flattened_conv2d(x, channel_weight, vertical_weight, horizontal_weight, bias=None,
                     padding=0, *, num_threads=None):
    """Flattened convolution: 1x1 over channels, then a depthwise column filter, then a
    depthwise row filter (PyTorch conventions, cross-correlation, stride 1).

    Parameters
    ----------
    x : (N, C, H, W) or (C, H, W) array_like
        Input batch, or one unbatched input.
    channel_weight : (O, C) array_like
        The 1x1 convolution over channels.
    vertical_weight : (O, kH) array_like
        Depthwise column filter, one per output channel.
    horizontal_weight : (O, kW) array_like
        Depthwise row filter, one per output channel.
    bias : (O,) array_like, optional
        Added at the end.
    padding : int or (int, int), optional
        Zero padding of the input on both sides of H and W (``pH``, ``pW``).
    num_threads : int, optional
        Threads for the column and row passes.

    Returns
    -------
    (N, O, H_out, W_out) or (O, H_out, W_out) ndarray
        ``H_out = H + 2 pH - kH + 1``, ``W_out = W + 2 pW - kW + 1``; float32 for float32
        (and float16) operands, float64 otherwise or when any weight is a float64 ndarray.

    Notes
    -----
    The result equals, in PyTorch::

        y = conv2d(x, channel_weight[:, :, None, None])
        y = conv2d(y, vertical_weight[:, None, :, None], padding=(pH, 0), groups=O)
        y = conv2d(y, horizontal_weight[:, None, None, :], padding=(0, pW), groups=O) + b

    i.e. ``conv2d(x, w, padding=(pH, pW))`` with the rank-1-per-channel weight
    ``w[o, c, i, j] = channel_weight[o, c] * vertical_weight[o, i] * horizontal_weight[o, j]``
    (Jin et al., "Flattened convolutional neural networks", 2014).  The 1x1 step is a
    matrix product (BLAS); the column and row passes are :func:`pyconv.filters.correlate1d`.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv import flattened_conv2d
    >>> x = np.ones((2, 3, 3))
    >>> flattened_conv2d(x, [[1, 1]], [[1, 1, 1]], [[1, 1]], padding=1)
    array([[[ 4.,  8.,  8.,  4.],
            [ 6., 12., 12.,  6.],
            [ 4.,  8.,  8.,  4.]]])
    """
    xa = as_array(x, "x")
    if xa.ndim not in (3, 4):
        raise ValueError("x must be (N, C, H, W) or unbatched (C, H, W), got %d dimensions"
                         % xa.ndim)
    unbatched = xa.ndim == 3
    if unbatched:
        xa = xa[None]
    n, c, h, w = xa.shape
    if c == 0 or h == 0 or w == 0:
        raise ValueError("x must have non-empty C, H and W, got shape %s" % (xa.shape,))
    dt = float_dtype(xa.dtype, "x")
    names = ("channel_weight", "vertical_weight", "horizontal_weight")
    ops = []
    for name, val in zip(names, (channel_weight, vertical_weight, horizontal_weight)):
        arr, strong = second_operand(val, name)
        if arr.ndim != 2:
            raise ValueError("%s must be 2-D, got %d dimensions" % (name, arr.ndim))
        check_nonempty(arr, name)
        dt = promote(dt, arr, strong, name)
        ops.append(arr)
    cw, vw, hw = ops
    o = cw.shape[0]
    if cw.shape[1] != c:
        raise ValueError("channel_weight has %d input channels, x has %d" % (cw.shape[1], c))
    for name, arr in zip(names[1:], (vw, hw)):
        if arr.shape[0] != o:
            raise ValueError("%s has %d rows, channel_weight has %d output channels"
                             % (name, arr.shape[0], o))
    if bias is not None:
        b, strong = second_operand(bias, "bias")
        if b.shape != (o,):
            raise ValueError("bias must have shape (%d,), got %s" % (o, b.shape))
        dt = promote(dt, b, strong, "bias")
    ph, pw = int_sequence(padding, 2, "padding", allow_negative=False)
    kh, kw = vw.shape[1], hw.shape[1]
    ho, wo = h + 2 * ph - kh + 1, w + 2 * pw - kw + 1
    if ho < 1 or wo < 1:
        raise ValueError("the output would be empty: H + 2*pH - kH + 1 = %d, "
                         "W + 2*pW - kW + 1 = %d (padding=%s)" % (ho, wo, (ph, pw)))
    num_threads = _num_threads(num_threads)
    check_alloc((n, o, ho, wo), dt)
    check_alloc((n, o, h + 2 * ph, w + 2 * pw), dt, "the padded intermediate")
    if n == 0:
        res = np.zeros((0, o, ho, wo), dtype=dt)
        return res[0] if unbatched else res

    cw, vw, hw = (a.astype(dt) for a in (cw, vw, hw))
    # 1x1 over channels, then zero padding along H only
    y = np.matmul(cw, xa.astype(dt, copy=False).reshape(n, c, h * w)).reshape(n, o, h, w)
    if ph:
        y = np.pad(y, ((0, 0), (0, 0), (ph, ph), (0, 0)))
    # column pass: 'same' correlation of the padded buffer, keep the valid rows
    z = np.zeros((n, o, ho, w + 2 * pw), dtype=dt)
    for j in range(o):
        col = _filters.correlate1d(y[:, j], vw[j], axis=1, mode="constant",
                                   num_threads=num_threads)
        z[:, j, :, pw:pw + w] = col[:, kh // 2:kh // 2 + ho, :]
    res = np.empty((n, o, ho, wo), dtype=dt)
    for j in range(o):
        row = _filters.correlate1d(z[:, j], hw[j], axis=2, mode="constant",
                                   num_threads=num_threads)
        res[:, j] = row[:, :, kw // 2:kw // 2 + wo]
    if bias is not None:
        res += b.astype(dt)[:, None, None]
    return res[0] if unbatched else res
