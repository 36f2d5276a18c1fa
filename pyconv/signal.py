"""Direct convolution and correlation with scipy.signal conventions, multi-threaded.

``mode`` selects the output size: ``'full'`` (every overlap, ``n + k - 1``), ``'same'`` (the
size of ``in1``, centred as scipy.signal centres it) and ``'valid'`` (full overlap only,
``n - k + 1``; if ``in2`` is larger than ``in1`` in every dimension the two are swapped, as in
scipy).  Unlike scipy.signal, integer inputs compute and return float64 (see the dtype policy of
:mod:`pyconv`), every call releases the GIL, and the cost is the output size times the kernel
size whatever the shapes (no pathological loop orders).  In ``'full'`` mode with zero fill the
smaller operand serves as the kernel (the two are interchangeable there), so a 10**6-sample
``in2`` over a 10-sample ``in1`` costs 10**7 multiply-adds, not 10**12.  That holds for finite
operands: with NaN or Inf in either, the roles stay scipy's, and NaN and Inf reach the outputs
they reach in scipy.signal (in 1-D 'full' and 'same', scipy's NumPy sums over the overlapping
samples only: an infinite tap never meets the zeros beyond ``in1``'s ends).
"""
import numpy as np

from . import _engine
from ._modes import SIGNAL_BOUNDARIES, mode_code
from ._validation import (as_array, check_alloc, check_nonempty, float_dtype, promote,
                          real_scalar, second_operand)

__all__ = ["convolve2d", "correlate2d", "convolve", "correlate"]

_MODES = ("full", "same", "valid")


def _inputs(in1, in2, ndims, what):
    a = as_array(in1, "in1")
    b, strong = second_operand(in2, "in2")
    if ndims is not None and not (a.ndim == b.ndim == ndims):
        raise ValueError("%s inputs in1 and in2 must both be %d-D arrays, got %d-D and %d-D"
                         % (what, ndims, a.ndim, b.ndim))
    if a.ndim != b.ndim:
        raise ValueError("in1 and in2 must have the same number of dimensions, got %d and %d"
                         % (a.ndim, b.ndim))
    if not 1 <= a.ndim <= 3:
        raise ValueError("in1 and in2 must have 1 to 3 dimensions, got %d" % a.ndim)
    check_nonempty(a, "in1")
    check_nonempty(b, "in2")
    dt = promote(float_dtype(a.dtype, "in1"), b, strong, "in2")
    return a, b, dt


def _check_mode(mode):
    if not isinstance(mode, str):
        raise TypeError("mode must be a string, got %s" % type(mode).__name__)
    if mode not in _MODES:
        raise ValueError("mode=%r is not one of 'full', 'same', 'valid'" % (mode,))
    return mode


def _valid_swap(shape1, shape2):
    """True if 'valid' needs in1 and in2 swapped; ValueError if neither contains the other."""
    ok1 = all(s1 >= s2 for s1, s2 in zip(shape1, shape2))
    ok2 = all(s2 >= s1 for s1, s2 in zip(shape1, shape2))
    if not (ok1 or ok2):
        raise ValueError("for mode='valid', in1 or in2 must be at least as large as the other "
                         "in every dimension (shapes %s and %s)" % (shape1, shape2))
    return not ok1


def _run(a, kern, dt, mode, code, fill, same_offsets, num_threads):
    """Correlate ``a`` with ``kern`` (already flipped for a convolution), padding ``a`` by the
    boundary ``code``; same_offsets[i] is where 'same' starts inside the 'full' result."""
    nd = a.ndim
    pad = 3 - nd
    n3 = (1,) * pad + a.shape
    k3 = (1,) * pad + kern.shape
    starts, outs = [], []
    for ax in range(3):
        n, k = n3[ax], k3[ax]
        if ax < pad:
            starts.append(0)
            outs.append(1)
        elif mode == "full":
            starts.append(-(k - 1))
            outs.append(n + k - 1)
        elif mode == "same":
            starts.append(-(k - 1) + same_offsets[ax - pad])
            outs.append(n)
        else:
            starts.append(0)
            outs.append(n - k + 1)
    check_alloc(tuple(outs[pad:]), dt)
    check_alloc(kern.shape, np.float64, "the kernel (in2) copy")
    tables = [_engine.index_table(s, o + k - 1, n, code) for s, o, k, n in
              zip(starts, outs, k3, n3)]
    w64 = kern.astype(np.float64).reshape(k3)
    taps = np.nonzero(np.ones(k3, dtype=bool))
    src = np.ascontiguousarray(a, dtype=dt).reshape((1,) + n3)
    res = _engine.correlate(src, (1,) + tuple(outs), k3, taps, w64[taps], tables, -starts[2],
                            fill, num_threads)
    return res.reshape(tuple(outs[pad:]))


def _flip(k):
    return k[(slice(None, None, -1),) * k.ndim]


def _signal2d(in1, in2, mode, boundary, fillvalue, flip, num_threads):
    what = "convolve2d" if flip else "correlate2d"
    a, b, dt = _inputs(in1, in2, 2, what)
    mode = _check_mode(mode)
    code = mode_code(boundary, "boundary", SIGNAL_BOUNDARIES)
    fill = real_scalar(fillvalue, "fillvalue")
    swapped = mode == "valid" and _valid_swap(a.shape, b.shape)
    # 'full' with zero fill is symmetric in its operands: the smaller one is the kernel
    # (cost: output size x kernel size), so a long kernel over a short signal is cheap.  Not
    # with NaN or Inf in either: scipy multiplies every tap of in2 by in1 or the fill, so a
    # NaN in in2 reaches every output and one in in1 only those whose window holds it
    swapped = swapped or (mode == "full" and code == mode_code("constant") and fill == 0
                          and b.size > a.size and _engine.all_finite(a)
                          and _engine.all_finite(b))
    if swapped:
        a, b = b, a
    kern = _flip(b) if flip else b
    # scipy's 'same' anchor: (k-1)//2 into the full result for convolve2d, k//2 for correlate2d
    offs = [(k - 1) // 2 if flip else k // 2 for k in b.shape]
    res = _run(a, kern, dt, mode, code, fill, offs, num_threads)
    if swapped and not flip:
        res = np.ascontiguousarray(res[::-1, ::-1])
    return res


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, num_threads=None):
    """Two-dimensional convolution, equal to ``scipy.signal.convolve2d``.

    Parameters
    ----------
    in1, in2 : (M, N) array_like
        The image and the kernel.
    mode : {'full', 'same', 'valid'}
        Output size (see the module docstring).
    boundary : {'fill', 'wrap', 'symm'}
        How ``in1`` is extended: with ``fillvalue``, periodically, or by half-sample
        reflection (scipy.ndimage's 'reflect'); 'pad', 'circular' and 'symmetric' are aliases.
    fillvalue : float
        Value outside ``in1`` for ``boundary='fill'``.
    num_threads : int, optional
        Threads for this call (default: :func:`pyconv.get_num_threads`); not in scipy.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.signal import convolve2d
    >>> convolve2d(np.ones((2, 2)), [[1, 2], [3, 4]])
    array([[ 1.,  3.,  2.],
           [ 4., 10.,  6.],
           [ 3.,  7.,  4.]])
    """
    return _signal2d(in1, in2, mode, boundary, fillvalue, flip=True, num_threads=num_threads)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, num_threads=None):
    """Two-dimensional cross-correlation, equal to ``scipy.signal.correlate2d``.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.signal import correlate2d
    >>> correlate2d(np.ones((2, 2)), [[1, 2], [3, 4]])
    array([[ 4.,  7.,  3.],
           [ 6., 10.,  4.],
           [ 2.,  3.,  1.]])
    """
    return _signal2d(in1, in2, mode, boundary, fillvalue, flip=False, num_threads=num_threads)


def _overlap_edges(res, a, kern):
    """Put into ``res``, the 'full' 1-D correlation of ``a`` (n samples) with ``kern`` (k <= n
    taps), the outputs whose windows reach past either end of ``a`` as sums over the
    overlapping samples alone, as NumPy's correlate forms them: the padded sum adds
    0 * kern[j] there, which is NaN where kern[j] is NaN or infinite."""
    n, k = a.shape[0], kern.shape[0]
    if k > 1:
        k64 = kern.astype(np.float64)
        res[:k - 1] = np.correlate(a[:k - 1].astype(np.float64), k64, "full")[:k - 1]
        res[n:] = np.correlate(a[n - k + 1:].astype(np.float64), k64, "full")[k - 1:]


def _signal_nd(in1, in2, mode, flip, num_threads):
    a, b, dt = _inputs(in1, in2, None, "convolve" if flip else "correlate")
    mode = _check_mode(mode)
    swapped = mode == "valid" and _valid_swap(a.shape, b.shape)
    swapped = swapped or (mode == "full" and b.size > a.size)  # as in _signal2d
    if swapped:
        a, b = b, a
    kern = _flip(b) if flip else b
    offs = [(k - 1) // 2 for k in b.shape]
    # 1-D 'full', and 'same' with in1 at least as long as in2, are scipy's calls of
    # NumPy's convolve / correlate: sums over the overlapping samples only, so a NaN or Inf
    # in the taps reaches no output through the zeros beyond in1's ends
    overlap = (a.ndim == 1 and mode != "valid" and b.size <= a.size
               and not _engine.all_finite(kern))
    res = _run(a, kern, dt, "full" if overlap else mode, mode_code("constant"), 0.0, offs,
               num_threads)
    if overlap:
        _overlap_edges(res, a, kern)
        if mode == "same":
            res = np.ascontiguousarray(res[offs[0]:offs[0] + a.shape[0]])
    if swapped and not flip:
        res = np.ascontiguousarray(_flip(res))
    return res


def convolve(in1, in2, mode="full", *, num_threads=None):
    """N-dimensional (1-3) convolution, equal to ``scipy.signal.convolve(method='direct')``.

    Examples
    --------
    >>> from pyconv.signal import convolve
    >>> convolve([1, 2, 3], [0, 1, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    """
    return _signal_nd(in1, in2, mode, flip=True, num_threads=num_threads)


def correlate(in1, in2, mode="full", *, num_threads=None):
    """N-dimensional (1-3) cross-correlation, equal to ``scipy.signal.correlate(method='direct')``.

    Examples
    --------
    >>> from pyconv.signal import correlate
    >>> correlate([1, 2, 3], [0, 1, 0.5])
    array([0.5, 2. , 3.5, 3. , 0. ])
    """
    return _signal_nd(in1, in2, mode, flip=False, num_threads=num_threads)
