"""Convolution layers on NumPy arrays with PyTorch's conventions (torch.nn.functional).

Cross-correlation, channels first: input ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``,
weight ``(O, C // groups, *kernel)``, optional bias ``(O,)``.  Results equal
``torch.nn.functional.conv1d/conv2d/conv3d`` to rounding, in float32 and float64, on any number
of threads (bitwise identical for every thread count).

Padding is an int, a tuple (one per spatial axis), ``'valid'`` (none) or ``'same'`` (output as
large as the input; stride 1 only; the total ``dilation * (k - 1)`` is split as PyTorch splits it,
the odd sample on the right).  ``padding_mode`` fills the padding as ``torch.nn.Conv2d`` does:

    zeros       0 0 | a b c d | 0 0
    reflect     c b | a b c d | c b     (pad < size along the axis)
    replicate   a a | a b c d | d d
    circular    c d | a b c d | a b     (pad <= size along the axis)
"""
import collections
import itertools
import math
import numbers
import operator

import numpy as np

from . import _conv, _engine
from ._modes import CONSTANT
from ._runtime import MODES as _CODES
from ._threads import effective_num_threads
from ._validation import (as_array, check_alloc, check_out, float_dtype, int_sequence,
                          second_operand)

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "depthwise_conv2d", "separable_conv2d", "channel_shuffle"]

#: torch's padding_mode names -> boundary code (numpy.pad: constant, reflect, edge, wrap)
PADDING_MODES = {
    "zeros": CONSTANT,
    "reflect": _CODES["mirror"],
    "replicate": _CODES["nearest"],
    "circular": _CODES["wrap"],
}


#: strides and dilations are passed to the kernels as 64-bit indices
_MAX_INDEX = 2 ** 63 - 1


def _positive_ints(value, nd, name):
    vals = int_sequence(value, nd, name)
    if any(v < 1 for v in vals):
        raise ValueError("%s must be positive, got %s" % (name, value))
    return vals


def _dilations(dilation, ksize):
    """The dilation of a 1-tap axis is irrelevant: 1 there, whatever its size; elsewhere the
    extent d*(k-1)+1 is checked against the input in exact arithmetic by the caller, and
    must fit a 64-bit index."""
    dil = [1 if k == 1 else d for d, k in zip(dilation, ksize)]
    for d, k in zip(dil, ksize):
        if d * (k - 1) + 1 > _MAX_INDEX:
            raise ValueError("dilation=%d makes the kernel extent %d, which does not fit a "
                             "64-bit index" % (d, d * (k - 1) + 1))
    return dil


def _groups(groups):
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral):
        raise TypeError("groups must be an int, got %s" % type(groups).__name__)
    if groups < 1:
        raise ValueError("groups must be a positive int, got %d" % groups)
    return int(groups)


def _padding_mode(padding_mode):
    if not isinstance(padding_mode, str):
        raise TypeError("padding_mode must be a string, got %s" % type(padding_mode).__name__)
    try:
        return PADDING_MODES[padding_mode]
    except KeyError:
        raise ValueError("padding_mode=%r is not one of %s"
                         % (padding_mode, ", ".join(PADDING_MODES)))


def _pads(padding, nd, ksize, stride, dilation):
    """((lo, hi) per spatial axis) from PyTorch's padding argument."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError("padding='same' needs stride 1, got stride=%s" % (stride,))
            out = []
            for k, d in zip(ksize, dilation):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return out
        raise ValueError("padding=%r is not 'same', 'valid', an int or a tuple of ints"
                         % padding)
    vals = int_sequence(padding, nd, "padding", allow_negative=False)
    return [(p, p) for p in vals]


def _layer_arrays(x, weight, bias, nd):
    """Validated (x, weight, bias, dtype, batched) for an nd-dimensional layer."""
    xa = as_array(x, "x")
    w, strong = second_operand(weight, "weight")
    dt = float_dtype(xa.dtype, "x")
    if strong:
        dt = np.promote_types(dt, float_dtype(w.dtype, "weight"))
    if xa.ndim not in (nd + 1, nd + 2):
        raise ValueError("x must have shape (N, C, %s) or (C, %s) for a %d-D convolution, got "
                         "%d dimensions" % (", ".join("L%d" % i for i in range(nd)),
                                            ", ".join("L%d" % i for i in range(nd)), nd,
                                            xa.ndim))
    if w.ndim != nd + 2:
        raise ValueError("weight must have shape (out_channels, in_channels / groups, %s), got "
                         "%d dimensions" % (", ".join("k%d" % i for i in range(nd)), w.ndim))
    if any(s == 0 for s in w.shape):
        raise ValueError("weight must not be empty, got shape %s" % (w.shape,))
    if any(s == 0 for s in xa.shape[-nd - 1:]):
        raise ValueError("x must have at least one channel and one sample per spatial axis, "
                         "got shape %s" % (xa.shape,))
    b = None if bias is None else as_array(bias, "bias")
    return xa, w, b, dt, xa.ndim == nd + 2


def _bias(b, O, dt):
    if b is None:
        return None
    if b.ndim != 1 or b.shape[0] != O:
        raise ValueError("bias must have shape (%d,) (one per output channel), got %s"
                         % (O, b.shape))
    return b.astype(dt)


def _dest5(out, operands, batched, nd):
    """A 5-D view of the user's ``out`` the kernel may write into, or None (then the result
    is computed into a new array and copied): ``out`` must not share memory with any operand."""
    if out is None or not out.dtype.isnative or not out.flags.aligned \
            or any(a is not None and np.may_share_memory(out, a) for a in operands):
        return None
    view = out if batched else out[np.newaxis]
    return view[(slice(None), slice(None)) + (np.newaxis,) * (3 - nd)]


def _finish(res, out, oshape, written):
    if written:
        return out
    res = res.reshape(oshape)
    if out is not None:
        np.copyto(out, res)
        return out
    return res


#: a depthwise layer (groups == channels) with stride 1 runs as whole-plane correlations
#: (pyconv.filters' tiled kernel, one weight set per channel) from this many outputs per
#: plane on; below it the layer kernel, whose lanes span several rows of a plane, wins.
#: Measured, float32, 1 / 2 threads, speed of the plane path over the layer kernel: 3x3 on
#: 14x14 planes 0.53x, 32x32 0.85x, 40x40 0.98x, 48x48 1.04-1.08x, 56x56 1.15x, 112x112
#: 1.14-1.35x, one 2048x2048 plane 1.4-1.6x; 5x5 on 56x56 0.9x, 7x7 on 56x56 1.04-1.14x;
#: conv1d k=3 on 3136 samples 1.5-2.9x.  With zero padding and a kernel the grid sweep takes
#: (the AVX-512 module: _engine.grid_sweeps) the planes are read in place, not gathered, and
#: the plane path wins at every size: time over the layer kernel's, one thread, 3x3 on 7x7
#: planes 0.94, 14x14 0.94, 28x28 0.54, 56x56 0.54; 5x5 on 28x28 0.51, on 56x56 0.60.
PLANE_MIN_OUTPUTS = 48 * 48


def _plane_path(C, O, groups, stride, osize, ksize, dilation, zeros, itemsize):
    """Whether a layer runs as whole-plane correlations: each output channel reads one input
    channel (groups == C), and either stride 1 as given, planes of PLANE_MIN_OUTPUTS
    outputs or more (any size with zero padding (zeros) and a kernel of the grid sweep), and
    no axis whose dilated kernel reaches further than its outputs (the planes' tiles hold
    the whole dilated span: a large dilation goes to the layer kernel, which gathers only
    the taps); or stride 2 along both axes of a 2-D layer with zero padding and rows of at
    most one vector of outputs (_engine.strided_planes: a late layer's 14x14 -> 7x7, which
    the layer kernel took 266 ns a plane for, 4x PyTorch's time).  pyconv.dask decides this
    once for the whole array and passes it to every block, so a block's bits are those of
    the in-memory call."""
    if groups != C or O % C:
        return False
    if not all(s == 1 for s in stride):
        return zeros and _engine.strided_planes(osize, ksize, stride, dilation, itemsize)
    least = 1 if zeros and _engine.grid_sweeps(ksize, dilation) else PLANE_MIN_OUTPUTS
    return (math.prod(osize) >= least
            and all(d * (k - 1) <= o for o, k, d in zip(osize, ksize, dilation)))


#: the channel-vector depthwise kernel (_channel_conv) is not taken for stride-1 layers
#: whose kernel the grid sweep takes and whose planes have more outputs than
#: CHANNEL_MAX_PLANE, or, for kernels of at most CHANNEL_FEW_TAPS taps, rows of more than
#: CHANNEL_NARROW outputs: there the plane path reads the planes in place, its rows filling
#: most of a vector, and the channel kernel's two transposes cost as much as a 3x3 kernel's
#: multiply-adds.  Measured, one thread, N=8, time of the channel kernel over the plane
#: path's: 3x3 on 56x56 planes 1.4, 28x28 0.96-1.07, 14x14 0.97-1.14, 7x7 0.58; 5x5 on
#: 28x28 0.87, 14x14 0.63, 7x7 0.37.  Its scratch (the padded input and the outputs of one
#: image's sixteen channels, 64 bytes a pixel, per thread) stays within
#: CHANNEL_MAX_SCRATCH.
CHANNEL_MAX_PLANE = 32 * 32
CHANNEL_FEW_TAPS = 9
CHANNEL_NARROW = 8
CHANNEL_MAX_SCRATCH = 2 << 20
_NO_BIAS_F32 = np.zeros(0, dtype=np.float32)


def _padded_extents(osize, stride, ksize, dilation):
    """The padded input each axis of a layer's outputs reads: (o - 1) s + d (k - 1) + 1."""
    return [(o - 1) * s + d * (k - 1) + 1
            for o, s, k, d in zip(osize, stride, ksize, dilation)]


def _channel_path(C, O, groups, stride, osize, ksize, dilation, zeros, dtype):
    """Whether a 2-D depthwise layer (groups == C, O = C * m) runs through the
    channel-vector kernel (float32, the AVX-512 module: sixteen channels of an image in the
    lanes of a vector, see _channel_conv); where it does, _plane_path's answer is not used.
    zeros: zero padding (the plane path reads such planes in place, see below).  Decided
    from the whole layer's shapes; like _plane_path, pyconv.dask passes the decision to
    every block."""
    if (len(ksize) != 2 or groups != C or O % C or np.dtype(dtype) != np.float32
            or not _engine.kernels.dw_channels_on()):
        return False
    if (zeros and all(s == 1 for s in stride) and _engine.grid_sweeps(ksize, dilation)
            and (math.prod(osize) > CHANNEL_MAX_PLANE
                 or (math.prod(ksize) <= CHANNEL_FEW_TAPS and osize[1] > CHANNEL_NARROW))):
        return False
    padded = math.prod(_padded_extents(osize, stride, ksize, dilation))
    return (padded + math.prod(osize) + 32) * 64 <= CHANNEL_MAX_SCRATCH


def _channel_conv(x5, w5, b, stride, dil3, pads3, mode, osize, dest, num_threads):
    """A 2-D depthwise layer (see _channel_path) by the channel-vector kernel: each task
    gathers sixteen channels of one image into a padded block of pixels (a channel per
    lane; padding ``mode``), sums every output pixel's taps with vectors of sixteen
    weights, from zero in tap order, and turns the results back into the output planes.
    Returns (result (N, O, 1, Ho, Wo), whether it was written into dest)."""
    N, C = x5.shape[:2]
    O = w5.shape[0]
    kh, kw = w5.shape[3:]
    Ho, Wo = osize
    tables = {}
    if mode != CONSTANT:
        spans = _padded_extents(osize, stride, (kh, kw), dil3[1:])
        tables = {name: _engine.index_table(-lo, e, n, mode) for name, (lo, _), e, n
                  in zip(("taby", "tabx"), pads3[1:], spans, x5.shape[3:])}
    if dest is not None and dest.strides[-1] == dest.itemsize:
        res, written = dest, True
    else:
        res, written = np.empty((N, O, 1, Ho, Wo), dtype=x5.dtype), False
    _engine.kernels.dw_channels_f32(
        x5[:, :, 0], res[:, :, 0], w5.reshape(O, kh * kw),
        _NO_BIAS_F32 if b is None else np.ascontiguousarray(b, np.float32), O // C,
        kh, kw, pads3[1][0], pads3[2][0], stride[0], stride[1], dil3[1], dil3[2],
        effective_num_threads(num_threads, work=N * O * Ho * Wo * kh * kw), **tables)
    return res, written


def _plane_views(dest, N, C, m, j, osize):
    """Output channels j, j + m, ... of every image of dest (N, C * m, *osize) as one view
    (N * C, *osize)."""
    dj = dest[:, j::m]
    return np.lib.stride_tricks.as_strided(
        dj, (N * C,) + tuple(osize), (dj.strides[1],) + dj.strides[2:], writeable=True)


def _plane_dest(dest, N, C, m, shape, dtype, rows=False):
    """(where the planes go, whether that is dest): the caller's view dest when the planes
    of output channels j, j + m, ... of every image form one view (_plane_views) and, with
    rows, its rows are contiguous; else a new array of ``shape`` (the caller checked its
    size)."""
    if dest is not None and ((N > 1 and dest.strides[0] != C * m * dest.strides[1])
                             or (rows and dest.strides[-1] != dest.itemsize)):
        dest = None
    if dest is None:
        return np.empty(shape, dtype=dtype), False
    return dest, True


def _plane_conv_strided(x5, w5, b, pads3, osize, dest, num_threads):
    """_plane_conv for a 2-D layer of stride 2 (see _plane_path): zero padding, each plane
    swept whole by _engine.planes."""
    N, C = x5.shape[:2]
    O = w5.shape[0]
    m = O // C
    kh, kw = w5.shape[3:]
    H, W = x5.shape[3:]
    Ho, Wo = osize
    taby = _engine.index_table(-pads3[1][0], 2 * (Ho - 1) + kh, H, CONSTANT)
    src = x5.reshape(N * C, H, W)
    dest, written = _plane_dest(None if dest is None else dest[:, :, 0], N, C, m,
                                (N, O, Ho, Wo), x5.dtype, rows=True)
    for j in range(m):
        _engine.planes(src, _plane_views(dest, N, C, m, j, osize), taby, pads3[2][0],
                       w5[j::m].reshape(C, kh, kw), None if b is None else b[j::m], 2,
                       num_threads)
    return dest, written


@_engine.bounded_cache(64, lambda ksize, dil3: 24 * math.prod(ksize))
def _grid_taps(ksize, dil3):
    """(tz, ty, tx) of every tap of a kd x kh x kw kernel with dilations dil3, in C order
    (read-only; cached: building them cost ~6 us of a small layer's ~40)."""
    taps = tuple(np.indices(ksize, dtype=np.intp).reshape(3, -1)
                 * np.asarray(dil3, dtype=np.intp)[:, None])
    for t in taps:
        t.setflags(write=False)
    return taps


def _plane_conv(x5, w5, b, dil3, pads3, mode, osize3, dest, num_threads):
    """A depthwise layer (groups == C, O = C * m, stride 1) as m correlations of the N * C
    planes with one weight set per channel (output channel c * m + j: set w5[c * m + j]).
    Returns (result (N, O, *osize3), whether it was written into dest)."""
    N, C = x5.shape[:2]
    O = w5.shape[0]
    m = O // C
    ksize = w5.shape[2:]
    ext = tuple(d * (k - 1) + 1 for k, d in zip(ksize, dil3))
    spans = _padded_extents(osize3, (1, 1, 1), ksize, dil3)
    tables = tuple(_engine.index_table(-lo, e, n, mode)
                   for (lo, _), e, n in zip(pads3, spans, x5.shape[2:]))
    taps = _grid_taps(tuple(ksize), tuple(dil3))
    src = x5.reshape((N * C,) + x5.shape[2:])
    dest, written = _plane_dest(dest, N, C, m, (N, O) + tuple(osize3), x5.dtype)
    for j in range(m):
        d4 = _plane_views(dest, N, C, m, j, osize3)
        _engine.correlate(src, d4.shape, ext, taps, w5[j::m].reshape(C, -1), tables,
                          pads3[2][0], 0.0, num_threads, dest=d4,
                          bias=None if b is None else b[j::m], stream=written)
    return dest, written


def _convnd(x, weight, bias, stride, padding, dilation, groups, padding_mode, out, num_threads,
            nd, plane=None, channel=None):
    xa, w, b, dt, batched = _layer_arrays(x, weight, bias, nd)
    b = _bias(b, w.shape[0], dt)
    groups = _groups(groups)
    mode = _padding_mode(padding_mode)
    stride = _positive_ints(stride, nd, "stride")
    dilation = _positive_ints(dilation, nd, "dilation")
    C = xa.shape[-nd - 1]
    O = w.shape[0]
    if C % groups:
        raise ValueError("groups=%d must divide the %d input channels of x" % (groups, C))
    if O % groups:
        raise ValueError("groups=%d must divide the %d output channels of weight"
                         % (groups, O))
    if w.shape[1] * groups != C:
        raise ValueError("weight has %d input channels per group; x has %d channels in %d "
                         "group(s), so weight.shape[1] must be %d"
                         % (w.shape[1], C, groups, C // groups))
    ksize = w.shape[2:]
    dilation = _dilations(dilation, ksize)
    spatial = xa.shape[-nd:]
    pads = _pads(padding, nd, ksize, stride, dilation)
    if mode != CONSTANT:
        for n, (lo, hi) in zip(spatial, pads):
            if padding_mode == "reflect" and max(lo, hi) >= n:
                raise ValueError("padding_mode='reflect' needs padding < input size along "
                                 "every axis: padding %d, size %d" % (max(lo, hi), n))
            if padding_mode == "circular" and max(lo, hi) > n:
                raise ValueError("padding_mode='circular' needs padding <= input size along "
                                 "every axis: padding %d, size %d" % (max(lo, hi), n))
    osize = []
    for n, k, s, d, (lo, hi) in zip(spatial, ksize, stride, dilation, pads):
        o = _conv.output_size(n, k, s, d, lo, hi)
        if o < 1:
            raise ValueError("the kernel (size %d, dilation %d: extent %d) is larger than the "
                             "padded input (%d + %d padding) along an axis of weight"
                             % (k, d, d * (k - 1) + 1, n, lo + hi))
        osize.append(o)
    # along an axis with one output the stride is never taken: the padded length stands in
    # for any larger one there, and elsewhere the stride is below the padded length, so
    # every value reaching the kernels fits an index
    if channel is None:
        channel = _channel_path(C, O, groups, stride, osize, ksize, dilation,
                                padding_mode == "zeros", dt)
    if plane is None:
        plane = _plane_path(C, O, groups, stride, osize, ksize, dilation,
                            padding_mode == "zeros", np.dtype(dt).itemsize)
    strided = plane and not all(s == 1 for s in stride)
    stride = [s if o > 1 else n + lo + hi
              for s, o, n, (lo, hi) in zip(stride, osize, spatial, pads)]
    N = xa.shape[0] if batched else 1
    oshape = ((N,) if batched else ()) + (O,) + tuple(osize)
    if out is not None:
        check_out(out, oshape, dt)
    check_alloc(oshape, dt)
    x5 = np.ascontiguousarray(xa, dtype=dt).reshape((N, C) + (1,) * (3 - nd) + spatial)
    w5 = np.ascontiguousarray(w, dtype=dt).reshape((O, C // groups) + (1,) * (3 - nd) + ksize)
    pads3 = [(0, 0)] * (3 - nd) + list(pads)
    stride3 = [1] * (3 - nd) + stride
    dil3 = [1] * (3 - nd) + dilation
    dest = _dest5(out, (xa, w, b, bias), batched, nd)
    if channel:
        res, written = _channel_conv(x5, w5, b, stride, dil3, pads3, mode, osize, dest,
                                     num_threads)
        return _finish(res, out, oshape, written)
    if strided:
        res, written = _plane_conv_strided(x5, w5, b, pads3, osize, dest, num_threads)
        return _finish(res, out, oshape, written)
    if plane:
        res, written = _plane_conv(x5, w5, b, dil3, pads3, mode, [1] * (3 - nd) + osize,
                                   dest, num_threads)
        return _finish(res, out, oshape, written)
    pointwise = (all(k == 1 for k in ksize) and all(s == 1 for s in stride)
                 and all(p == (0, 0) for p in pads))
    if pointwise:
        # a 1x1 stride-1 convolution is one matrix product per image: flatten the pixels
        # into one long row so every micro-tile is full
        S = math.prod(spatial)
        x5 = x5.reshape(N, C, 1, 1, S)
        w5 = w5.reshape(O, C // groups, 1, 1, 1)
    if dest is not None and pointwise:
        dest = dest.reshape(N, O, 1, 1, -1) if dest.flags.c_contiguous else None
    res = _conv.run(x5, w5, b, stride3, dil3, pads3, mode, groups, num_threads, dest=dest)
    return _finish(res, out, oshape, dest is not None)


def _phase_taps(o0, k, s, p, d):
    """Taps of a transposed convolution that reach outputs o0, o0 + s, ...: (kernel indices
    in ascending input offset, first offset, offset step)."""
    ks = [j for j in range(k - 1, -1, -1) if (o0 + p - j * d) % s == 0]
    if not ks:
        return ks, 0, 1
    a = [(o0 + p - j * d) // s for j in ks]
    return ks, a[0], (a[1] - a[0]) if len(a) > 1 else 1


def _scatter_transpose(x5, wc, b, groups, geo, res):
    """Transposed convolution by its definition: input sample i of every axis adds
    x * w[k] to output i*s - p + k*d.  Used for non-finite weights only (NumPy speed)."""
    N, C = x5.shape[:2]
    O = wc.shape[0]
    Cg, Og = C // groups, O // groups
    xg = x5.reshape((N, groups, Cg) + x5.shape[2:])
    wg = wc.reshape((groups, Og, Cg) + wc.shape[2:])
    rv = res.reshape((N, groups, Og) + res.shape[2:])
    rv[...] = 0
    for k in itertools.product(*(range(g[4]) for g in geo)):
        src, dst = [Ellipsis], [Ellipsis]
        for (s, p, d, o, _), kk, n in zip(geo, k, x5.shape[2:]):
            i0 = max(0, -(-(p - kk * d) // s))
            i1 = min(n - 1, (o - 1 + p - kk * d) // s)
            if i1 < i0:
                break
            o0 = i0 * s - p + kk * d
            src.append(slice(i0, i1 + 1))
            dst.append(slice(o0, o0 + (i1 - i0) * s + 1, s))
        else:
            rv[tuple([slice(None)] * 3 + dst[1:])] += np.einsum(
                "ngc...,goc->ngo...", xg[tuple([slice(None)] * 3 + src[1:])],
                wg[(Ellipsis,) + k])
    if b is not None:
        res += b.reshape((1, O) + (1,) * (res.ndim - 2))


def _phase_axes(geo):
    """Per axis, per phase o0 < s: (o0, kernel taps, first input offset, offset step)."""
    return tuple(tuple((o0,) + _phase_taps(o0, k, s, p, d) for o0 in range(min(s, o)))
                 for s, p, d, o, k in geo)


@_engine.bounded_cache(64, lambda geo, Cg: 8 * Cg * math.prod(g[4] for g in geo))
def _combined_layout(geo, Cg):
    """The geometry of _combined_phases for one layer shape (cached; read-only arrays), or
    None when the phases do not line up: (P, starts, steps, U, T, pick, place, win): the
    phase count, the grid's first input offset and step per axis, its size U and the taps T
    of every phase per axis; pick the (P, Cg * prod(T)) indices of each phase's taps in the
    flattened (Cg, kz, ky, kx) weights, place the (P, 9) places of its outputs (see
    kernels.conv_place_f64) and win its (P, 4) planes and rows [zlo, zhi, ylo, yhi) of the
    grid."""
    axes = _phase_axes(geo)
    P, starts, steps, shifts, counts, U = 1, [], [], [], [], []
    for (s, p, d, o, k), ax in zip(geo, axes):
        if len(ax) != s:
            return None
        taps = {len(a[1]) for a in ax}
        step = {a[3] for a in ax} if len(ax[0][1]) > 1 else {1}
        if len(taps) != 1 or len(step) != 1 or 0 in taps:
            return None
        A = min(a[2] for a in ax)
        sh = [a[2] - A for a in ax]
        cnt = [len(range(a[0], o, s)) for a in ax]
        P *= s
        starts.append(A)
        steps.append(step.pop())
        shifts.append(sh)
        counts.append(cnt)
        U.append(max(c + h for c, h in zip(cnt, sh)))
    if P == 1:
        return None
    # (O, Cg, kz, ky, kx) -> (O * P, Cg, Tz, Ty, Tx), phase index p = (pz * sy + py) * sx + px:
    # one take along the flattened (Cg, kz, ky, kx) axis (NumPy's copies of small strided
    # blocks cost 5x as much here)
    kz, ky, kx = (g[4] for g in geo)
    taps = np.array([[(jz * ky + jy) * kx + jx
                      for jz in az[1] for jy in ay[1] for jx in axx[1]]
                     for az in axes[0] for ay in axes[1] for axx in axes[2]], dtype=np.intp)
    pick = (np.arange(Cg, dtype=np.intp)[None, :, None] * (kz * ky * kx)
            + taps[:, None, :]).reshape(P, -1)
    # where each phase's outputs go: (first index, shift, count) per axis, phase order
    place = np.array([(az[0], shifts[0][iz], counts[0][iz], ay[0], shifts[1][iy],
                       counts[1][iy], axx[0], shifts[2][ix], counts[2][ix])
                      for iz, az in enumerate(axes[0]) for iy, ay in enumerate(axes[1])
                      for ix, axx in enumerate(axes[2])], dtype=np.intp)
    # the planes and rows of the combined grid each phase uses
    win = place[:, [1, 2, 4, 5]].copy()
    win[:, 1] += win[:, 0]
    win[:, 3] += win[:, 2]
    for a in (pick, place, win):
        a.setflags(write=False)
    T = tuple(len(ax[0][1]) for ax in axes)
    return P, tuple(starts), tuple(steps), tuple(U), T, pick, place, win


CombinedSetup = collections.namedtuple("CombinedSetup", "run bias place strides pmajor")


@_engine.bounded_cache(64, lambda geo, Cg, O, *rest: 64 * O * math.prod(g[0] for g in geo))
def _combined_setup(geo, Cg, O, groups, xshape5, itemsize, nthreads):
    """What _combined_phases needs besides the weights for one layer shape (cached; read-only
    arrays; no larger for larger weights): the kernel's setup (_conv.placed_setup),
    ``bias`` the output channel of each combined channel, the phases' places and strides,
    and the channel order (phase-major where there is one group: a 32-channel tile then
    holds few phases, so its window is narrow)."""
    P, starts, steps, U, T, pick, place, win = _combined_layout(geo, Cg)
    pmajor = groups == 1
    c = np.arange(O * P, dtype=np.intp)
    o = c % O if pmajor else c // P
    o.setflags(write=False)
    # the planes and rows each channel's phase uses: the kernel skips what none of a tile's
    # channels needs (never read by the placing)
    wins = np.repeat(win, O, axis=0) if pmajor else np.tile(win, (O, 1))
    run = _conv.placed_setup(xshape5, (O * P, Cg) + T, U, steps, starts, nthreads, itemsize,
                             wins)
    return CombinedSetup(run, o, place, tuple(g[0] for g in geo), pmajor)


def _combined_phases(x5, wflat, b, groups, geo, res, num_threads):
    """The stride phases of a transposed convolution as one stride-1 correlation: when, along
    every axis, each of the s phases has the same number of taps at the same input step, the
    phases differ only by where their window starts, so phase p's output q is the combined
    output u = q + shift_p of a correlation with O * P channels (channel p * O + o, or with
    groups o * P + p, holds phase p's taps of output channel o) over the window starting at
    the smallest start.  One gather of the input and one correlation instead of P; each
    channel tile skips the planes and rows its phases do not use (the combined grid has up
    to s - 1 more per axis than a phase's outputs), and each task's outputs go from its
    thread's block, while in cache, to their strided places in ``res`` (no grid-sized
    buffer: kernels.conv_place_f64).  The combined weights go from the layer's flattened
    weights ``wflat`` into the kernel's order in one pass (_conv.pack_phases).  Each output
    sums the same taps in the same order as on the phase-by-phase path (float64 phases of
    one or two output channels per group, which that path runs through the one-channel
    micro-kernel, may differ in the last bit).  True when done; False (nothing done) when
    the phases do not line up; None when a weight is NaN or infinite."""
    O = res.shape[1]
    Cg = x5.shape[1] // groups
    layout = _combined_layout(geo, Cg)
    if layout is None:
        return False
    P, _, _, U, T, pick = layout[:6]
    work = x5.shape[0] * O * P * math.prod(U) * Cg * math.prod(T)
    st = _combined_setup(geo, Cg, O, groups, x5.shape, res.dtype.itemsize,
                         effective_num_threads(num_threads, work=work))
    if not _engine.all_finite(wflat, num_threads):
        return None
    Og = O // groups
    wpack = _conv.pack_phases(wflat, pick, groups, Cg, Og, math.prod(g[4] for g in geo),
                              st.pmajor, st.run.geom[-2], st.run.nthreads)
    _conv.run_setup(x5, wpack, None if b is None else b[st.bias], st.run, res, st.place,
                    st.strides, st.pmajor)
    return True


def _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, out,
                    num_threads, nd):
    xa, w, b, dt, batched = _layer_arrays(x, weight, bias, nd)
    groups = _groups(groups)
    stride = _positive_ints(stride, nd, "stride")
    dilation = _positive_ints(dilation, nd, "dilation")
    if isinstance(padding, str):
        raise ValueError("padding=%r: a transposed convolution takes int padding only"
                         % padding)
    pads = int_sequence(padding, nd, "padding", allow_negative=False)
    opad = int_sequence(output_padding, nd, "output_padding", allow_negative=False)
    for op, s, d in zip(opad, stride, dilation):
        if op >= max(s, d):
            raise ValueError("output_padding (%d) must be smaller than stride (%d) or dilation "
                             "(%d)" % (op, s, d))
    C = xa.shape[-nd - 1]
    if w.shape[0] != C:
        raise ValueError("weight must have shape (in_channels=%d, out_channels / groups, ...) "
                         "for a transposed convolution, got weight.shape[0] = %d"
                         % (C, w.shape[0]))
    if C % groups:
        raise ValueError("groups=%d must divide the %d input channels of x" % (groups, C))
    Cg, Og = C // groups, w.shape[1]
    O = Og * groups
    b = _bias(b, O, dt)
    ksize = w.shape[2:]
    dilation = _dilations(dilation, ksize)
    spatial = xa.shape[-nd:]
    osize = []
    for n, k, s, p, d, op in zip(spatial, ksize, stride, pads, dilation, opad):
        o = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if o < 1:
            raise ValueError("padding %d leaves no output (size %d before cropping %d on each "
                             "side)" % (p, o + 2 * p, p))
        osize.append(o)
    # a 1-sample input axis never takes a stride: any size is fine there (the output size
    # above already holds it); elsewhere the stride is below the output size
    stride = [s if n > 1 else 1 for s, n in zip(stride, spatial)]
    N = xa.shape[0] if batched else 1
    oshape = ((N,) if batched else ()) + (O,) + tuple(osize)
    if out is not None:
        check_out(out, oshape, dt)
    check_alloc(oshape, dt)
    x5 = np.ascontiguousarray(xa, dtype=dt).reshape((N, C) + (1,) * (3 - nd) + spatial)
    wd = np.ascontiguousarray(w, dtype=dt)

    def correlation_weights():
        # (C, Og, *k) -> the correlation weights (O, Cg, *k) of each group (a copy: made
        # only for the paths below that read them)
        wc = wd.reshape((groups, Cg, Og) + ksize).swapaxes(1, 2)
        return wc.reshape((O, Cg) + (1,) * (3 - nd) + ksize)

    dest = _dest5(out, (xa, w, b, bias), batched, nd)
    res = dest
    if res is None:
        res = np.empty((N, O) + (1,) * (3 - nd) + tuple(osize), dtype=dt)
    geo = tuple(zip([1] * (3 - nd) + stride, [0] * (3 - nd) + pads,
                    [1] * (3 - nd) + dilation, res.shape[2:], (1,) * (3 - nd) + ksize))
    if res.size == 0:  # an empty batch or channel axis
        return _finish(res, out, oshape, dest is not None)
    done = _combined_phases(x5, wd.reshape(-1), b, groups, geo, res, num_threads)
    if done:
        return _finish(res, out, oshape, dest is not None)
    if done is None or not _engine.all_finite(wd, num_threads):
        # a NaN or Inf weight must meet only the input samples it really multiplies (the
        # gather would also multiply it by the zeros outside the input): scatter-add
        _scatter_transpose(x5, correlation_weights(), b, groups, geo, res)
        return _finish(res, out, oshape, dest is not None)
    axes = _phase_axes(geo)
    wc = correlation_weights()
    for pz in axes[0]:
        for py in axes[1]:
            for px in axes[2]:
                view = res[:, :, pz[0]::geo[0][0], py[0]::geo[1][0], px[0]::geo[2][0]]
                if not (pz[1] and py[1] and px[1]):
                    view[...] = 0 if b is None else b[:, None, None, None]
                    continue
                sub = np.ascontiguousarray(wc[:, :, pz[1]][:, :, :, py[1]][..., px[1]])
                _conv.run_phase(x5, sub, b, (pz[3], py[3], px[3]), (pz[2], py[2], px[2]),
                                view, num_threads)
    return _finish(res, out, oshape, dest is not None)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", out=None, num_threads=None):
    """1-D convolution layer (cross-correlation), like ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    x : array_like, shape (N, C, L) or (C, L)
        Input.  float32 stays float32; integers and float64 compute in float64.
    weight : array_like, shape (O, C // groups, k)
    bias : array_like, shape (O,), optional
    stride, padding, dilation : int or tuple of one int
        ``padding`` may also be ``'same'`` or ``'valid'``.
    groups : int
        Input and output channels are split into this many independent groups.
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
    out : ndarray, optional
        Destination of the result's shape and dtype.
    num_threads : int, optional
        Threads for this call (default: :func:`pyconv.get_num_threads`).

    Returns
    -------
    ndarray, shape (N, O, L_out) or (O, L_out)

    Examples
    --------
    >>> import numpy as np, pyconv
    >>> x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    >>> pyconv.conv1d(x, np.array([[[1, 0, -1]]], np.float32))
    array([[[-2., -2., -2., -2.]]], dtype=float32)
    """
    return _convnd(x, weight, bias, stride, padding, dilation, groups, padding_mode, out,
                 num_threads, 1)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", out=None, num_threads=None):
    """2-D convolution layer (cross-correlation), like ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    weight : array_like, shape (O, C // groups, kH, kW)
    bias : array_like, shape (O,), optional
    stride, padding, dilation : int or (int, int)
        ``padding`` may also be ``'same'`` (stride 1) or ``'valid'``.
    groups : int
        ``groups == C`` is a depthwise convolution (see :func:`depthwise_conv2d`).
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
    out : ndarray, optional
    num_threads : int, optional

    Returns
    -------
    ndarray, shape (N, O, H_out, W_out) or (O, H_out, W_out), with
    ``H_out = (H + 2 * padding - dilation * (kH - 1) - 1) // stride + 1``.

    Examples
    --------
    >>> import numpy as np, pyconv
    >>> x = np.ones((1, 2, 4, 4), np.float32)
    >>> w = np.ones((3, 2, 3, 3), np.float32)
    >>> y = pyconv.conv2d(x, w, padding=1)
    >>> y.shape, float(y[0, 0, 0, 0]), float(y[0, 0, 1, 1])
    ((1, 3, 4, 4), 8.0, 18.0)
    """
    return _convnd(x, weight, bias, stride, padding, dilation, groups, padding_mode, out,
                 num_threads, 2)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", out=None, num_threads=None):
    """3-D convolution layer (cross-correlation), like ``torch.nn.functional.conv3d``.

    Parameters
    ----------
    x : array_like, shape (N, C, D, H, W) or (C, D, H, W)
    weight : array_like, shape (O, C // groups, kD, kH, kW)
    bias : array_like, shape (O,), optional
    stride, padding, dilation : int or tuple of three ints
    groups : int
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
    out : ndarray, optional
    num_threads : int, optional

    Returns
    -------
    ndarray, shape (N, O, D_out, H_out, W_out) or (O, D_out, H_out, W_out)

    Examples
    --------
    >>> import numpy as np, pyconv
    >>> x = np.ones((2, 5, 5, 5))
    >>> pyconv.conv3d(x, np.ones((1, 2, 3, 3, 3)), stride=2).shape
    (1, 2, 2, 2)
    """
    return _convnd(x, weight, bias, stride, padding, dilation, groups, padding_mode, out,
                 num_threads, 3)


def _depthwise(x, weight, bias, stride, padding, dilation, padding_mode, out, num_threads,
               weight_name):
    """Depthwise 2-D convolution: each input channel filtered by its own kernels.

    ``weight`` has shape ``(C * multiplier, 1, kH, kW)``: output channel ``c * multiplier + m``
    filters input channel ``c``.  Equal to :func:`conv2d` with ``groups=C``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    weight : array_like, shape (C * multiplier, 1, kH, kW)
    bias : array_like, shape (C * multiplier,), optional
    stride, padding, dilation, padding_mode, out, num_threads
        As in :func:`conv2d`.

    Returns
    -------
    ndarray, shape (N, C * multiplier, H_out, W_out) or (C * multiplier, H_out, W_out)

    Examples
    --------
    >>> import numpy as np, pyconv
    >>> x = np.ones((1, 3, 5, 5), np.float32)
    >>> w = np.ones((6, 1, 3, 3), np.float32)      # channel multiplier 2
    >>> pyconv.depthwise_conv2d(x, w, padding=1).shape
    (1, 6, 5, 5)
    """
    xa = as_array(x, "x")
    if xa.ndim not in (3, 4):
        raise ValueError("x must have shape (N, C, H, W) or (C, H, W), got %d dimensions"
                         % xa.ndim)
    w = as_array(weight, weight_name)
    if w.ndim != 4 or w.shape[1] != 1 or 0 in w.shape:
        raise ValueError("%s must have shape (C * multiplier, 1, kH, kW), got %s"
                         % (weight_name, w.shape))
    C = xa.shape[-3]
    if C == 0 or w.shape[0] % C:
        raise ValueError("%s.shape[0] (%d) must be a multiple of the %d input channels"
                         % (weight_name, w.shape[0], C))
    return _convnd(x, weight, bias, stride, padding, dilation, C, padding_mode, out,
                   num_threads, 2)


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, *,
                     padding_mode="zeros", out=None, num_threads=None):
    return _depthwise(x, weight, bias, stride, padding, dilation, padding_mode, out,
                      num_threads, "weight")


depthwise_conv2d.__doc__ = _depthwise.__doc__
_depthwise.__doc__ = "The body of depthwise_conv2d; errors name the weight ``weight_name``."


def separable_conv2d(x, depthwise_weight, pointwise_weight, bias=None, stride=1, padding=0,
                     dilation=1, *, padding_mode="zeros", out=None, num_threads=None):
    """Depthwise-separable convolution (MobileNet, Xception): depthwise, then 1x1.

    ``depthwise_weight`` (C * multiplier, 1, kH, kW) filters each channel; ``pointwise_weight``
    (O, C * multiplier, 1, 1) (or (O, C * multiplier)) mixes the channels; ``bias`` (O,) is added
    after the pointwise step.  The parameter count is ``C*m*kH*kW + O*C*m`` instead of
    ``O*C*kH*kW``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    depthwise_weight : array_like, shape (C * m, 1, kH, kW)
    pointwise_weight : array_like, shape (O, C * m, 1, 1) or (O, C * m)
    bias : array_like, shape (O,), optional
    stride, padding, dilation, padding_mode
        Of the depthwise step, as in :func:`conv2d`.
    out, num_threads
        As in :func:`conv2d`.

    Returns
    -------
    ndarray, shape (N, O, H_out, W_out) or (O, H_out, W_out)

    Examples
    --------
    >>> import numpy as np, pyconv
    >>> x = np.ones((1, 16, 8, 8), np.float32)
    >>> dw = np.ones((16, 1, 3, 3), np.float32)
    >>> pw = np.ones((32, 16, 1, 1), np.float32)
    >>> pyconv.separable_conv2d(x, dw, pw, padding=1).shape
    (1, 32, 8, 8)
    """
    pw = as_array(pointwise_weight, "pointwise_weight")
    if pw.ndim == 2:
        pw = pw[:, :, None, None]
    if pw.ndim != 4 or pw.shape[2:] != (1, 1) or 0 in pw.shape:
        raise ValueError("pointwise_weight must have shape (O, C * multiplier, 1, 1) or "
                         "(O, C * multiplier), got %s" % (np.shape(pointwise_weight),))
    dwa = as_array(depthwise_weight, "depthwise_weight")
    if dwa.ndim == 4 and pw.shape[1] != dwa.shape[0]:
        raise ValueError("pointwise_weight.shape[1] (%d) must equal the depthwise output "
                         "channels depthwise_weight.shape[0] (%d)" % (pw.shape[1],
                                                                       dwa.shape[0]))
    # the result type is decided by every operand up front (a float64 pointwise weight makes
    # the depthwise step float64 too); lists and integer arrays adapt to it
    xa = as_array(x, "x")
    dt = float_dtype(xa.dtype, "x")
    for arr, given, name in ((dwa, depthwise_weight, "depthwise_weight"),
                             (pw, pointwise_weight, "pointwise_weight")):
        if isinstance(given, np.ndarray) and given.dtype.kind == "f":
            dt = np.promote_types(dt, float_dtype(arr.dtype, name))
    mid = _depthwise(xa.astype(dt, copy=False), dwa.astype(dt, copy=False), None, stride,
                     padding, dilation, padding_mode, None, num_threads, "depthwise_weight")
    return _convnd(mid, pw.astype(dt, copy=False), bias, 1, 0, 1, 1, "zeros", out,
                   num_threads, 2)


_TRANSPOSE_DOC = """{nd}-D transposed convolution, like ``torch.nn.functional.conv_transpose{nd}d``.

    The adjoint of :func:`conv{nd}d`: every input sample ``x[n, c, i]`` adds ``x * weight[c, o]``
    to the outputs at ``i * stride - padding + k * dilation``.  Computed as a gather: the output
    splits into ``stride`` phases per axis, each a stride-1 correlation with the taps that reach
    it (no zeros inserted, no column buffer).  When every phase has as many taps as the
    others (with dilation 1: a kernel size that the stride divides), the phases run as one
    correlation with a channel per (output channel, phase), into a buffer of at most 16 MB
    that the calling thread keeps.

    Parameters
    ----------
    x : array_like, shape (N, C, {dims}) or (C, {dims})
    weight : array_like, shape (C, O // groups, {ks})
    bias : array_like, shape (O,), optional
    stride, padding, output_padding, dilation : int or tuple of {nd} ints
        The output length is ``(L - 1) * stride - 2 * padding + dilation * (k - 1)
        + output_padding + 1``; ``output_padding < max(stride, dilation)``.
    groups : int
    out : ndarray, optional
    num_threads : int, optional

    Returns
    -------
    ndarray, shape (N, O, ...) or (O, ...)

    Examples
    --------
    >>> import numpy as np, pyconv
    {example}
    """


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, out=None, num_threads=None):
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation,
                           out, num_threads, 1)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, out=None, num_threads=None):
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation,
                           out, num_threads, 2)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, out=None, num_threads=None):
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation,
                           out, num_threads, 3)


conv_transpose1d.__doc__ = _TRANSPOSE_DOC.format(
    nd=1, dims="L", ks="k", example=""">>> pyconv.conv_transpose1d(np.ones((1, 1, 3)), np.ones((1, 1, 3)), stride=2)
    array([[[1., 1., 2., 1., 2., 1., 1.]]])""")
conv_transpose2d.__doc__ = _TRANSPOSE_DOC.format(
    nd=2, dims="H, W", ks="kH, kW", example=""">>> y = pyconv.conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), stride=2)
    >>> y.shape
    (1, 1, 5, 5)
    >>> y[0, 0]
    array([[1., 1., 2., 1., 1.],
           [1., 1., 2., 1., 1.],
           [2., 2., 4., 2., 2.],
           [1., 1., 2., 1., 1.],
           [1., 1., 2., 1., 1.]])""")
conv_transpose3d.__doc__ = _TRANSPOSE_DOC.format(
    nd=3, dims="D, H, W", ks="kD, kH, kW", example=""">>> pyconv.conv_transpose3d(np.ones((2, 3, 3, 3)), np.ones((2, 4, 2, 2, 2)), stride=2).shape
    (4, 6, 6, 6)""")


def channel_shuffle(x, groups):
    """ShuffleNet's channel shuffle: (N, g*k, ...) -> view as (N, g, k, ...) -> swap -> merge.

    Channel ``i*k + j`` moves to position ``j*g + i``, so the next grouped convolution sees one
    channel from every group.  Always a new array (native byte order, the input dtype).

    Parameters
    ----------
    x : array_like, shape (N, C, ...)
    groups : int
        Divides C.

    Returns
    -------
    ndarray, the shape of x

    Examples
    --------
    >>> import numpy as np, pyconv
    >>> pyconv.channel_shuffle(np.arange(6).reshape(1, 6, 1, 1), 2).ravel()
    array([0, 3, 1, 4, 2, 5])
    """
    xa = as_array(x, "x")
    if xa.ndim < 2:
        raise ValueError("x must have shape (N, C, ...), got %d dimensions" % xa.ndim)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral):
        raise TypeError("groups must be an int, got %s" % type(groups).__name__)
    groups = operator.index(groups)
    C = xa.shape[1]
    if groups < 1 or C % groups:
        raise ValueError("groups=%d must be positive and divide the %d channels" % (groups, C))
    shape = xa.shape
    res = np.empty(shape, dtype=xa.dtype.newbyteorder("="))
    # always a new array, even where the shuffle is the identity (groups 1 or C)
    res.reshape((shape[0], C // groups, groups) + shape[2:])[...] = \
        xa.reshape((shape[0], groups, C // groups) + shape[2:]).swapaxes(1, 2)
    return res
