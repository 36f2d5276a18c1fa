"""Reference implementations of the deep-learning convolutions, in float64.

Every function here has the signature and the semantics of its public counterpart
(:func:`pyconv.conv2d` and friends), which are those of ``torch.nn.functional``:
cross-correlation, channels first, ``weight`` of shape ``(O, C // groups, *k)``
(``(C, O // groups, *k)`` for the transposed convolutions), batched ``(N, C, *spatial)``
or unbatched ``(C, *spatial)`` input.  The numbers are computed by
:func:`scipy.signal.correlate` / :func:`scipy.signal.convolve` (``method='direct'``) and
:func:`numpy.pad`, never by pyconv's own kernels, so this module can check them.

It is written for clarity, not speed: one scipy call per (image, output channel, input
channel) pair.  Results are always float64 (the inputs are converted first), whatever
the input dtype; ``out=`` and ``num_threads=`` are not accepted.

Dilation is handled exactly: a dilated correlation is computed as ordinary
correlations of the input's sub-lattices ``x[r::d]``, so no inserted zero ever meets an
``inf`` or ``nan`` of the input (``0 * inf`` would make a NaN that PyTorch does not).
The transposed convolutions zero-upsample the input by the stride, as their definition
reads; a non-finite *weight* therefore meets those zeros, which a scatter-add
implementation never does.
"""
import itertools
import numbers
import operator

import numpy as np
import scipy.signal

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "depthwise_conv2d", "separable_conv2d", "channel_shuffle"]

#: padding_mode -> numpy.pad mode (the extension torch.nn.ConvNd applies with F.pad)
PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
                 "circular": "wrap"}


# --------------------------------------------------------------------------------------------
# argument handling


def _float_array(value, name):
    if value is None:
        raise TypeError("%s must be an array, got None" % name)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError("%s cannot be converted to a numeric array: %s" % (name, exc))
    if arr.dtype.kind == "c":
        raise TypeError("%s: complex input is not supported (dtype %s)" % (name, arr.dtype))
    if arr.dtype.kind not in "biuf":
        raise TypeError("%s: dtype %s is not numeric" % (name, arr.dtype))
    return arr.astype(np.float64)


def _ints(value, n, name, minimum):
    """An int or a length-n sequence of ints, each >= minimum, as a tuple of n ints."""
    if isinstance(value, bool):
        raise TypeError("%s must be an int or a sequence of %d ints, got a bool" % (name, n))
    if isinstance(value, numbers.Integral):
        out = (int(value),) * n
    else:
        try:
            out = tuple(operator.index(v) for v in value)
        except TypeError:
            raise TypeError("%s must be an int or a sequence of %d ints, got %r"
                            % (name, n, value))
        if any(isinstance(v, bool) for v in value):
            raise TypeError("%s must contain ints, not bools" % name)
        if len(out) != n:
            raise ValueError("%s must have %d entries (one per spatial axis), got %d"
                             % (name, n, len(out)))
    if any(v < minimum for v in out):
        raise ValueError("%s must be >= %d, got %r" % (name, minimum, value))
    return out


def _positive_int(value, name):
    if isinstance(value, bool):
        raise TypeError("%s must be an int, got a bool" % name)
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError("%s must be an int, got %s" % (name, type(value).__name__))
    if value <= 0:
        raise ValueError("%s must be a positive int, got %d" % (name, value))
    return value


def _batched(x, nsp, name="x"):
    """(x as (N, C, *spatial), whether the input was unbatched)."""
    if x.ndim == nsp + 1:
        return x[np.newaxis], True
    if x.ndim == nsp + 2:
        return x, False
    raise ValueError("%s must have %d (unbatched) or %d (batched) dimensions for a %d-D "
                     "convolution, got shape %s" % (name, nsp + 1, nsp + 2, nsp, x.shape))


def _weight(weight, nsp, name="weight", layout="out_channels, in_channels // groups"):
    w = _float_array(weight, name)
    if w.ndim != nsp + 2:
        raise ValueError("%s must have %d dimensions (%s, *kernel_size), got shape %s"
                         % (name, nsp + 2, layout, w.shape))
    if 0 in w.shape:
        raise ValueError("%s must not be empty, got shape %s" % (name, w.shape))
    return w


def _bias(bias, channels):
    if bias is None:
        return None
    b = _float_array(bias, "bias")
    if b.shape != (channels,):
        raise ValueError("bias must have shape (%d,) (one value per output channel), got %s"
                         % (channels, b.shape))
    return b


def _groups(groups, in_channels, out_channels, per_group, in_name="x", per_name="weight"):
    groups = _positive_int(groups, "groups")
    if in_channels % groups:
        raise ValueError("groups=%d must divide the %d input channels of %s"
                         % (groups, in_channels, in_name))
    if out_channels % groups:
        raise ValueError("groups=%d must divide the %d output channels" % (groups, out_channels))
    if per_group * groups != in_channels:
        raise ValueError("%s has %d input channels per group, so with groups=%d it needs %d "
                         "input channels, but x has %d"
                         % (per_name, per_group, groups, per_group * groups, in_channels))
    return groups


def _padding(padding, nsp, ksize, stride, dilation):
    """((left, right) per spatial axis) for an int, a tuple, 'same' or 'valid'."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * nsp
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported with stride > 1 "
                                 "(stride=%s)" % (stride,))
            pads = []
            for k, d in zip(ksize, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return pads
        raise ValueError("padding must be an int, a tuple of ints, 'same' or 'valid', "
                         "got %r" % padding)
    return [(p, p) for p in _ints(padding, nsp, "padding", 0)]


def _pad(x, pads, padding_mode):
    """x (N, C, *spatial) extended by pads with torch's padding_mode, via numpy.pad."""
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ValueError("padding_mode must be one of %s, got %r"
                         % (", ".join(sorted(PADDING_MODES)), padding_mode))
    if all(p == (0, 0) for p in pads):
        return x
    for axis, ((lo, hi), n) in enumerate(zip(pads, x.shape[2:])):
        if padding_mode == "reflect" and max(lo, hi) >= n:
            raise ValueError("padding (%d, %d) on spatial axis %d must be smaller than the "
                             "input size %d for padding_mode='reflect'" % (lo, hi, axis, n))
        if padding_mode == "circular" and max(lo, hi) > n:
            raise ValueError("padding (%d, %d) on spatial axis %d must not exceed the input "
                             "size %d for padding_mode='circular'" % (lo, hi, axis, n))
    return np.pad(x, [(0, 0), (0, 0)] + list(pads), mode=PADDING_MODES[padding_mode])


def _dilated_correlate(x, w, dilation):
    """The 'valid' stride-1 cross-correlation of x with w dilated by ``dilation``.

    Computed per sub-lattice ``x[r::d]`` (one scipy call per phase ``r``), which is the
    dilated correlation at the outputs ``r + d * j`` without any inserted zero tap.
    """
    shape = tuple(n - d * (k - 1) for n, k, d in zip(x.shape, w.shape, dilation))
    out = np.zeros(shape)
    for phase in itertools.product(*(range(min(d, n)) for d, n in zip(dilation, shape))):
        sub = x[tuple(slice(r, None, d) for r, d in zip(phase, dilation))]
        if any(n < k for n, k in zip(sub.shape, w.shape)):
            continue
        out[tuple(slice(r, None, d) for r, d in zip(phase, dilation))] = \
            scipy.signal.correlate(sub, w, mode="valid", method="direct")
    return out


# --------------------------------------------------------------------------------------------
# convolution


def _convnd(nsp, x, weight, bias, stride, padding, dilation, groups, padding_mode):
    x, unbatched = _batched(_float_array(x, "x"), nsp)
    w = _weight(weight, nsp)
    out_ch, per_group = w.shape[:2]
    ksize = w.shape[2:]
    groups = _groups(groups, x.shape[1], out_ch, per_group)
    b = _bias(bias, out_ch)
    stride = _ints(stride, nsp, "stride", 1)
    dilation = _ints(dilation, nsp, "dilation", 1)
    pads = _padding(padding, nsp, ksize, stride, dilation)
    xp = _pad(x, pads, padding_mode)
    for axis, (n, k, d) in enumerate(zip(xp.shape[2:], ksize, dilation)):
        if d * (k - 1) + 1 > n:
            raise ValueError("the kernel (size %d, dilation %d, extent %d) is larger than the "
                             "padded input (size %d) on spatial axis %d"
                             % (k, d, d * (k - 1) + 1, n, axis))
    out_per_group = out_ch // groups
    size = tuple((n - d * (k - 1) - 1) // s + 1
                 for n, k, s, d in zip(xp.shape[2:], ksize, stride, dilation))
    subsample = tuple(slice(None, None, s) for s in stride)
    result = np.zeros((xp.shape[0], out_ch) + size)
    for n in range(xp.shape[0]):
        for o in range(out_ch):
            g = o // out_per_group
            for c in range(per_group):
                full = _dilated_correlate(xp[n, g * per_group + c], w[o, c], dilation)
                result[n, o] += full[subsample]
    if b is not None:
        result += b.reshape((1, out_ch) + (1,) * nsp)
    return result[0] if unbatched else result


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros"):
    """1-D cross-correlation with PyTorch's conventions, by scipy.signal, in float64.

    Parameters
    ----------
    x : array_like
        Input of shape ``(N, C, L)`` or unbatched ``(C, L)``.
    weight : array_like
        Filters of shape ``(O, C // groups, k)``.
    bias : array_like, optional
        Shape ``(O,)``, added to each output channel.
    stride, dilation : int or tuple of 1 int
        Positive.
    padding : int, tuple of 1 int, 'same' or 'valid'
        Added on both sides; 'same' pads ``d * (k - 1)`` in total, the extra sample on the
        right (as PyTorch), and needs ``stride == 1``.
    groups : int
        Divides ``C`` and ``O``.
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        How the padding is filled (``torch.nn.Conv1d``'s ``padding_mode``).

    Returns
    -------
    numpy.ndarray
        float64, shape ``(N, O, L_out)`` (or ``(O, L_out)``) with
        ``L_out = (L + 2 * padding - dilation * (k - 1) - 1) // stride + 1``.

    Examples
    --------
    >>> conv1d([[1.0, 2.0, 3.0, 4.0]], [[[1.0, -1.0]]])
    array([[-1., -1., -1.]])
    >>> conv1d([[1.0, 2.0, 3.0]], [[[1.0, 1.0, 1.0]]], padding=1, padding_mode='circular')
    array([[6., 6., 6.]])
    """
    return _convnd(1, x, weight, bias, stride, padding, dilation, groups, padding_mode)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros"):
    """2-D cross-correlation with PyTorch's conventions, by scipy.signal, in float64.

    Parameters
    ----------
    x : array_like
        Input of shape ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
    weight : array_like
        Filters of shape ``(O, C // groups, kH, kW)``.
    bias : array_like, optional
        Shape ``(O,)``.
    stride, dilation : int or tuple of 2 ints
        Positive.
    padding : int, tuple of 2 ints, 'same' or 'valid'
        See :func:`conv1d`.
    groups : int
        Divides ``C`` and ``O``; ``groups == C`` is a depthwise convolution.
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        ``numpy.pad``'s constant, reflect, edge and wrap modes, applied before a
        padding-0 convolution as ``torch.nn.Conv2d`` does.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(N, O, H_out, W_out)`` (or ``(O, H_out, W_out)``).

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d(x, np.ones((1, 1, 2, 2)), stride=2)
    array([[[[10., 18.],
             [42., 50.]]]])
    >>> conv2d(x, np.ones((2, 1, 1, 1)), bias=[0.0, 100.0], stride=3)[0, :, :, 0]
    array([[  0.,  12.],
           [100., 112.]])
    """
    return _convnd(2, x, weight, bias, stride, padding, dilation, groups, padding_mode)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros"):
    """3-D cross-correlation with PyTorch's conventions, by scipy.signal, in float64.

    Parameters
    ----------
    x : array_like
        Input of shape ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``.
    weight : array_like
        Filters of shape ``(O, C // groups, kD, kH, kW)``.
    bias : array_like, optional
        Shape ``(O,)``.
    stride, dilation : int or tuple of 3 ints
        Positive.
    padding : int, tuple of 3 ints, 'same' or 'valid'
        See :func:`conv1d`.
    groups : int
        Divides ``C`` and ``O``.
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        See :func:`conv2d`.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(N, O, D_out, H_out, W_out)`` (or without ``N``).

    Examples
    --------
    >>> conv3d(np.ones((1, 3, 3, 3)), np.ones((1, 1, 2, 2, 2)), padding='same').shape
    (1, 3, 3, 3)
    >>> conv3d(np.ones((1, 3, 3, 3)), np.ones((1, 1, 3, 3, 3)), padding=1)[0, 0]
    array([[ 8., 12.,  8.],
           [12., 18., 12.],
           [ 8., 12.,  8.]])
    """
    return _convnd(3, x, weight, bias, stride, padding, dilation, groups, padding_mode)


# --------------------------------------------------------------------------------------------
# transposed convolution


def _conv_transposend(nsp, x, weight, bias, stride, padding, output_padding, groups,
                      dilation):
    x, unbatched = _batched(_float_array(x, "x"), nsp)
    w = _weight(weight, nsp, layout="in_channels, out_channels // groups")
    in_ch, out_per_group = w.shape[:2]
    ksize = w.shape[2:]
    if x.shape[1] != in_ch:
        raise ValueError("weight has %d input channels (weight.shape[0]) but x has %d"
                         % (in_ch, x.shape[1]))
    groups = _positive_int(groups, "groups")
    if in_ch % groups:
        raise ValueError("groups=%d must divide the %d input channels of x" % (groups, in_ch))
    out_ch = out_per_group * groups
    b = _bias(bias, out_ch)
    stride = _ints(stride, nsp, "stride", 1)
    dilation = _ints(dilation, nsp, "dilation", 1)
    if isinstance(padding, str):
        raise ValueError("padding must be an int or a tuple of ints for a transposed "
                         "convolution, got %r" % padding)
    padding = _ints(padding, nsp, "padding", 0)
    output_padding = _ints(output_padding, nsp, "output_padding", 0)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError("output_padding=%s must be smaller than either stride=%s or "
                             "dilation=%s on every axis" % (output_padding, stride, dilation))
    full = [(i - 1) * s + d * (k - 1) + 1
            for i, k, s, d in zip(x.shape[2:], ksize, stride, dilation)]
    size = [f - 2 * p + op for f, p, op in zip(full, padding, output_padding)]
    if any(n <= 0 for n in size):
        raise ValueError("the output size %s is not positive: input %s, kernel %s, stride %s, "
                         "padding %s, output_padding %s, dilation %s"
                         % (tuple(size), x.shape[2:], ksize, stride, padding, output_padding,
                            dilation))
    in_per_group = in_ch // groups
    # the crop: drop `padding` at the start, keep `size` samples (zeros past the end)
    crop = tuple(slice(p, p + n) for p, n in zip(padding, size))
    result = np.zeros((x.shape[0], out_ch) + tuple(size))
    for n in range(x.shape[0]):
        up = np.zeros((in_ch,) + tuple((i - 1) * s + 1 for i, s in zip(x.shape[2:], stride)))
        up[(slice(None),) + tuple(slice(None, None, s) for s in stride)] = x[n]
        for o in range(out_ch):
            g = o // out_per_group
            acc = np.zeros([f + op for f, op in zip(full, output_padding)])
            for c in range(g * in_per_group, (g + 1) * in_per_group):
                k = w[c, o - g * out_per_group]
                # dilation: out[r + d * m] = convolve(up[r::d], k)[m] for each phase r
                for phase in itertools.product(*(range(d) for d in dilation)):
                    sub = up[(c,) + tuple(slice(r, None, d) for r, d in zip(phase, dilation))]
                    if 0 in sub.shape:
                        continue
                    part = scipy.signal.convolve(sub, k, mode="full", method="direct")
                    acc[tuple(slice(r, r + d * m, d)
                              for r, d, m in zip(phase, dilation, part.shape))] += part
            result[n, o] = acc[crop]
    if b is not None:
        result += b.reshape((1, out_ch) + (1,) * nsp)
    return result[0] if unbatched else result


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution with PyTorch's conventions, by scipy.signal, in float64.

    Parameters
    ----------
    x : array_like
        Input of shape ``(N, C, L)`` or unbatched ``(C, L)``.
    weight : array_like
        Shape ``(C, O // groups, k)``.
    bias : array_like, optional
        Shape ``(O,)``.
    stride, dilation : int or tuple of 1 int
        Positive.
    padding : int or tuple of 1 int
        Removed from both ends of the full result.
    output_padding : int or tuple of 1 int
        Added at the end; smaller than stride or dilation.
    groups : int
        Divides ``C``; ``O = weight.shape[1] * groups``.

    Returns
    -------
    numpy.ndarray
        float64, length ``(L - 1) * stride - 2 * padding + dilation * (k - 1)
        + output_padding + 1``.

    Examples
    --------
    >>> conv_transpose1d([[1.0, 2.0]], [[[1.0, 10.0, 100.0]]], stride=2)
    array([[  1.,  10., 102.,  20., 200.]])
    >>> conv_transpose1d([[1.0, 2.0]], [[[1.0, 10.0, 100.0]]], stride=2, padding=1,
    ...                  output_padding=1)
    array([[ 10., 102.,  20., 200.]])
    """
    return _conv_transposend(1, x, weight, bias, stride, padding, output_padding, groups,
                             dilation)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution with PyTorch's conventions, by scipy.signal, in float64.

    The input is upsampled by inserting ``stride - 1`` zeros between samples, convolved
    ('full') with the kernel dilated by ``dilation``, then ``padding`` is cropped from both
    ends of each axis and ``output_padding`` samples added at the end.

    Parameters
    ----------
    x : array_like
        Input of shape ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
    weight : array_like
        Shape ``(C, O // groups, kH, kW)``.
    bias : array_like, optional
        Shape ``(O,)``.
    stride, padding, output_padding, dilation : int or tuple of 2 ints
        See :func:`conv_transpose1d`.
    groups : int
        Divides ``C``.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(N, O, H_out, W_out)`` (or without ``N``).

    Examples
    --------
    >>> conv_transpose2d(np.ones((1, 1, 2)), np.ones((1, 1, 2, 2)), stride=2)
    array([[[1., 1., 1., 1.],
            [1., 1., 1., 1.]]])
    >>> conv_transpose2d(np.ones((1, 1, 1)), np.ones((1, 1, 2, 2)), dilation=2)
    array([[[1., 0., 1.],
            [0., 0., 0.],
            [1., 0., 1.]]])
    """
    return _conv_transposend(2, x, weight, bias, stride, padding, output_padding, groups,
                             dilation)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-D transposed convolution with PyTorch's conventions, by scipy.signal, in float64.

    Parameters
    ----------
    x : array_like
        Input of shape ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)``.
    weight : array_like
        Shape ``(C, O // groups, kD, kH, kW)``.
    bias : array_like, optional
        Shape ``(O,)``.
    stride, padding, output_padding, dilation : int or tuple of 3 ints
        See :func:`conv_transpose1d`.
    groups : int
        Divides ``C``.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(N, O, D_out, H_out, W_out)`` (or without ``N``).

    Examples
    --------
    >>> y = conv_transpose3d(np.ones((1, 2, 2, 2)), np.ones((1, 3, 2, 2, 2)), stride=2)
    >>> y.shape, float(y.sum())
    ((3, 4, 4, 4), 192.0)
    """
    return _conv_transposend(3, x, weight, bias, stride, padding, output_padding, groups,
                             dilation)


# --------------------------------------------------------------------------------------------
# depthwise, separable, channel shuffle


def depthwise_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, *,
                     padding_mode="zeros"):
    """Depthwise 2-D convolution: :func:`conv2d` with ``groups = C``.

    Parameters
    ----------
    x : array_like
        Input of shape ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
    weight : array_like
        Shape ``(C * multiplier, 1, kH, kW)``: output channel ``o`` filters input channel
        ``o // multiplier``.
    bias : array_like, optional
        Shape ``(C * multiplier,)``.
    stride, padding, dilation, padding_mode
        As for :func:`conv2d`.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(N, C * multiplier, H_out, W_out)`` (or without ``N``).

    Examples
    --------
    >>> x = np.stack([np.ones((3, 3)), 2 * np.ones((3, 3))])
    >>> depthwise_conv2d(x, np.ones((4, 1, 3, 3)), bias=[0.0, 0.5, 0.0, 0.5])[:, 0, 0]
    array([ 9. ,  9.5, 18. , 18.5])
    """
    xa = _float_array(x, "x")
    if xa.ndim not in (3, 4):
        raise ValueError("x must have 3 (unbatched) or 4 (batched) dimensions, got shape %s"
                         % (xa.shape,))
    channels = xa.shape[-3]
    w = _weight(weight, 2)
    if w.shape[1] != 1:
        raise ValueError("weight must have shape (C * multiplier, 1, kH, kW) for a depthwise "
                         "convolution, got %s" % (w.shape,))
    if w.shape[0] % channels:
        raise ValueError("weight.shape[0]=%d must be a multiple of the %d input channels"
                         % (w.shape[0], channels))
    return conv2d(xa, w, bias, stride, padding, dilation, groups=channels,
                  padding_mode=padding_mode)


def separable_conv2d(x, depthwise_weight, pointwise_weight, bias=None, stride=1, padding=0,
                     dilation=1, *, padding_mode="zeros"):
    """Depthwise-separable 2-D convolution (MobileNet, Xception), in float64.

    :func:`depthwise_conv2d` of ``x`` with ``depthwise_weight`` (no bias), then a 1x1
    :func:`conv2d` with ``pointwise_weight`` and ``bias``.

    Parameters
    ----------
    x : array_like
        Input of shape ``(N, C, H, W)`` or unbatched ``(C, H, W)``.
    depthwise_weight : array_like
        Shape ``(C * multiplier, 1, kH, kW)``.
    pointwise_weight : array_like
        Shape ``(O, C * multiplier, 1, 1)`` (or ``(O, C * multiplier)``).
    bias : array_like, optional
        Shape ``(O,)``, added after the pointwise step.
    stride, padding, dilation, padding_mode
        Of the depthwise step, as for :func:`conv2d`.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(N, O, H_out, W_out)`` (or without ``N``).

    Examples
    --------
    >>> x = np.ones((2, 3, 3))
    >>> separable_conv2d(x, np.ones((2, 1, 3, 3)), [[1.0, -1.0], [1.0, 1.0]], bias=[0.0, 1.0])
    array([[[ 0.]],
    <BLANKLINE>
           [[19.]]])
    """
    pw = _float_array(pointwise_weight, "pointwise_weight")
    if pw.ndim == 2:
        pw = pw[:, :, np.newaxis, np.newaxis]
    if pw.ndim != 4 or pw.shape[2:] != (1, 1):
        raise ValueError("pointwise_weight must have shape (O, C * multiplier, 1, 1), got %s"
                         % (pw.shape,))
    try:
        mid = depthwise_conv2d(x, depthwise_weight, None, stride, padding, dilation,
                               padding_mode=padding_mode)
    except ValueError as exc:
        if "weight" in str(exc) and "depthwise_weight" not in str(exc):
            raise ValueError(str(exc).replace("weight", "depthwise_weight", 1)) from None
        raise
    if pw.shape[1] != mid.shape[-3]:
        raise ValueError("pointwise_weight has %d input channels but the depthwise step gives "
                         "%d" % (pw.shape[1], mid.shape[-3]))
    return conv2d(mid, pw, bias)


def channel_shuffle(x, groups):
    """ShuffleNet's channel shuffle, in float64.

    The channels (axis 1) of ``(N, g * k, ...)`` are viewed as ``(g, k)``, transposed to
    ``(k, g)`` and flattened back: output channel ``j * g + i`` is input channel
    ``i * k + j``.  ``channel_shuffle(channel_shuffle(x, g), C // g)`` is ``x``.

    Parameters
    ----------
    x : array_like
        At least 2 dimensions ``(N, C, ...)``.
    groups : int
        Positive, divides ``C``.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``x``.

    Examples
    --------
    >>> channel_shuffle(np.arange(6).reshape(1, 6), 2)
    array([[0., 3., 1., 4., 2., 5.]])
    """
    xa = _float_array(x, "x")
    groups = _positive_int(groups, "groups")
    if xa.ndim < 2:
        raise ValueError("x must have at least 2 dimensions (N, C, ...), got shape %s"
                         % (xa.shape,))
    n, c = xa.shape[:2]
    if c % groups:
        raise ValueError("groups=%d must divide the %d channels of x" % (groups, c))
    rest = xa.shape[2:]
    y = xa.reshape((n, groups, c // groups) + rest).swapaxes(1, 2)
    return np.ascontiguousarray(y).reshape(xa.shape)
