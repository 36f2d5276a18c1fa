"""The arithmetic of convolution layers, in PyTorch's conventions.

Output sizes of convolutions and transposed convolutions, parameter and FLOP counts,
receptive fields, the sparse matrix that *is* a convolution (its transpose is the transposed
convolution), and the overlap counts that explain the checkerboard artefacts of transposed
convolutions.  Pure Python, NumPy and SciPy; nothing here touches an image.

Conventions shared by every function:

- A spatial argument (``size``, ``kernel_size``, ``stride``, ``padding``, ``dilation``,
  ``output_padding``) is an int or a sequence of ints, one per spatial axis.  Ints broadcast
  to the length of the sequences given; sequences must all have the same length.  When every
  spatial argument is an int the result is an int (one axis), otherwise a tuple.
- Integers only: floats, bools and strings raise TypeError (``padding`` also takes the
  strings ``'same'`` and ``'valid'`` where PyTorch does).  Values out of range raise
  ValueError.  Every message names the argument.
- Padding is symmetric: ``padding=p`` adds ``p`` zeros before *and* after an axis, as in
  ``torch.nn.functional.conv2d``.
"""
import math
import numbers

import numpy as np
import scipy.sparse as sp

from ._validation import as_array, check_alloc, float_dtype

__all__ = ["conv_output_shape", "conv_transpose_output_shape", "param_count", "flops",
           "receptive_field", "conv_matrix", "overlap_map"]


# ---------------------------------------------------------------------------------------------
# argument normalisation

def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _int(value, name):
    """One int (not a bool) as a Python int."""
    if not _is_int(value):
        raise TypeError("%s must be an int, got %s %r" % (name, type(value).__name__, value))
    return int(value)


def _ints(value, name):
    """An int -> (int, None); a sequence of ints -> (list, length)."""
    if _is_int(value):
        return int(value), None
    try:
        if isinstance(value, (str, bytes, dict)):
            raise TypeError
        items = list(value)
    except TypeError:
        raise TypeError("%s must be an int or a sequence of ints, got %s %r"
                        % (name, type(value).__name__, value)) from None
    out = []
    for v in items:
        if not _is_int(v):
            raise TypeError("%s must contain only ints, got %s %r in %r"
                            % (name, type(v).__name__, v, value))
        out.append(int(v))
    if not out:
        raise ValueError("%s must not be an empty sequence" % name)
    return out, len(out)


def _broadcast(ndim=None, **args):
    """Normalise spatial arguments to lists of ``n`` ints.

    Returns ``(n, scalar, values)``: ``scalar`` is True when every argument was an int (and
    ``ndim`` was not given); ``values`` maps each name to a list of ``n`` ints.  A string
    ``padding`` ('same', 'valid') is passed through untouched.
    """
    parsed, n, first = {}, ndim, None
    for name, value in args.items():
        if isinstance(value, str) and name == "padding":
            parsed[name] = (value, None)
            continue
        vals, length = _ints(value, name)
        parsed[name] = (vals, length)
        if length is not None:
            if n is None:
                n, first = length, name
            elif length != n:
                raise ValueError("%s has %d entries but %s (one entry per spatial axis)"
                                 % (name, length, "%s has %d" % (first, n) if first
                                    else "there are %d axes" % n))
    scalar = n is None
    n = 1 if n is None else n
    out = {}
    for name, (vals, length) in parsed.items():
        out[name] = vals if isinstance(vals, str) else ([vals] * n if length is None else vals)
    return n, scalar, out


def _check_min(values, name, low):
    for v in values:
        if v < low:
            rule = "positive" if low == 1 else "non-negative"
            raise ValueError("%s must be %s, got %s" % (name, rule, v if len(values) == 1
                                                        else tuple(values)))


def _result(values, scalar):
    return values[0] if scalar else tuple(values)


def _conv_geometry(size, kernel_size, stride, padding, dilation, ndim=None):
    """Validated per-axis geometry of a convolution.

    Returns ``(scalar, i, k, s, d, pad_before, out)``: lists of ints.  ``pad_before`` is
    PyTorch's left padding (for 'same' and an even effective kernel, PyTorch pads one more
    zero *after* than before).
    """
    n, scalar, v = _broadcast(ndim, size=size, kernel_size=kernel_size, stride=stride,
                              padding=padding, dilation=dilation)
    i, k, s, d, p = v["size"], v["kernel_size"], v["stride"], v["dilation"], v["padding"]
    _check_min(i, "size", 1)
    _check_min(k, "kernel_size", 1)
    _check_min(s, "stride", 1)
    _check_min(d, "dilation", 1)
    if isinstance(p, str):
        if p == "valid":
            p = [0] * n
        elif p == "same":
            if any(x != 1 for x in s):
                raise ValueError("padding='same' is not supported for strided convolutions "
                                 "(stride=%s); it needs stride 1" % (_result(s, scalar),))
            before = [dd * (kk - 1) // 2 for kk, dd in zip(k, d)]
            return scalar, i, k, s, d, before, list(i)
        else:
            raise ValueError("padding must be an int, a sequence of ints, 'same' or 'valid'; "
                             "got %r" % (p,))
    _check_min(p, "padding", 0)
    out = []
    for ii, kk, ss, pp, dd in zip(i, k, s, p, d):
        span = dd * (kk - 1) + 1
        if span > ii + 2 * pp:
            raise ValueError(
                "kernel_size=%d with dilation=%d spans %d pixels, more than the padded input "
                "(size %d + 2 * padding %d = %d): the output would be empty"
                % (kk, dd, span, ii, pp, ii + 2 * pp))
        out.append((ii + 2 * pp - span) // ss + 1)
    return scalar, i, k, s, d, p, out


def _transpose_geometry(size, kernel_size, stride, padding, output_padding, dilation,
                        ndim=None):
    """Validated per-axis geometry of a transposed convolution (lists of ints)."""
    for name, value in (("padding", padding), ("output_padding", output_padding)):
        if isinstance(value, str):
            raise TypeError("%s must be an int or a sequence of ints, got %r ('same' and "
                            "'valid' are not defined for transposed convolutions)"
                            % (name, value))
    n, scalar, v = _broadcast(ndim, size=size, kernel_size=kernel_size, stride=stride,
                              padding=padding, output_padding=output_padding,
                              dilation=dilation)
    i, k, s, p, op, d = (v["size"], v["kernel_size"], v["stride"], v["padding"],
                         v["output_padding"], v["dilation"])
    _check_min(i, "size", 1)
    _check_min(k, "kernel_size", 1)
    _check_min(s, "stride", 1)
    _check_min(d, "dilation", 1)
    _check_min(p, "padding", 0)
    _check_min(op, "output_padding", 0)
    out = []
    for ii, kk, ss, pp, oo, dd in zip(i, k, s, p, op, d):
        if oo >= max(ss, dd):
            raise ValueError("output_padding=%d must be smaller than either stride (%d) or "
                             "dilation (%d)" % (oo, ss, dd))
        o = (ii - 1) * ss - 2 * pp + dd * (kk - 1) + oo + 1
        if o < 1:
            raise ValueError("padding=%d is too large: the transposed convolution of size %d "
                             "with kernel_size=%d, stride=%d, dilation=%d would have output "
                             "size %d" % (pp, ii, kk, ss, dd, o))
        out.append(o)
    return scalar, i, k, s, d, p, op, out


# ---------------------------------------------------------------------------------------------
# output shapes

def conv_output_shape(size, kernel_size, stride=1, padding=0, dilation=1):
    """Spatial output size of a convolution (``torch.nn.functional.conv1d/2d/3d``).

    Per axis, ``o = floor((i + 2*p - d*(k - 1) - 1) / s) + 1``.

    Parameters
    ----------
    size : int or sequence of int
        Spatial input size ``i`` (without batch and channel axes).
    kernel_size : int or sequence of int
        Kernel size ``k``.
    stride : int or sequence of int, optional
        Stride ``s`` (default 1).
    padding : int, sequence of int, 'same' or 'valid', optional
        Zeros added on *both* sides of each axis (default 0).  ``'valid'`` is 0; ``'same'``
        (stride 1 only) pads so that the output has the input's size, like PyTorch.
    dilation : int or sequence of int, optional
        Spacing ``d`` between kernel taps (default 1); the kernel spans ``d*(k - 1) + 1``
        pixels.

    Returns
    -------
    int or tuple of int
        An int when every argument is an int, otherwise a tuple with one entry per axis.

    Raises
    ------
    TypeError
        An argument is not an int or a sequence of ints (bools and floats are refused).
    ValueError
        A size, kernel size, stride or dilation is not positive, a padding is negative,
        sequences have different lengths, ``padding='same'`` with a stride other than 1,
        or the (dilated) kernel is larger than the padded input, so the output is empty.

    See Also
    --------
    conv_transpose_output_shape : the size going the other way.

    Examples
    --------
    A 5x5 input, 3x3 kernel, stride 2 gives 2x2 (taps start at 0 and 2):

    >>> from pyconv.shapes import conv_output_shape
    >>> conv_output_shape((5, 5), 3, stride=2)
    (2, 2)

    A 4x4 input, 2x2 kernel, padding 2: (4 + 4 - 1 - 1) / 1 + 1 = 7.

    >>> conv_output_shape((4, 4), (2, 2), padding=2)
    (7, 7)
    >>> conv_output_shape(32, 3, padding='same', dilation=4)
    32
    >>> conv_output_shape(224, 7, stride=2, padding=3)  # ResNet's stem
    112
    """
    geo = _conv_geometry(size, kernel_size, stride, padding, dilation)
    return _result(geo[-1], geo[0])


def conv_transpose_output_shape(size, kernel_size, stride=1, padding=0, output_padding=0,
                                dilation=1):
    """Spatial output size of a transposed convolution (``conv_transpose1d/2d/3d``).

    Per axis, ``o = (i - 1)*s - 2*p + d*(k - 1) + output_padding + 1``.

    A convolution maps several input sizes to the same output size when the stride is
    larger than 1; ``output_padding`` (added on one side only, PyTorch's rule: smaller than
    ``stride`` or ``dilation``) picks which one the transposed convolution returns.

    Parameters
    ----------
    size : int or sequence of int
        Spatial input size ``i``.
    kernel_size, stride, dilation : int or sequence of int
        As for :func:`conv_output_shape`; ``stride`` and ``dilation`` default to 1.
    padding : int or sequence of int, optional
        The padding of the convolution this one transposes: ``dilation*(kernel_size - 1) -
        padding`` zeros are effectively added on both sides (default 0).
    output_padding : int or sequence of int, optional
        Extra size added to one side of the output (default 0); must be smaller than
        ``max(stride, dilation)``.

    Returns
    -------
    int or tuple of int

    Raises
    ------
    TypeError
        An argument is not an int or a sequence of ints (strings included).
    ValueError
        Non-positive size, kernel size, stride or dilation; negative padding or
        output_padding; ``output_padding >= max(stride, dilation)``; a padding so large that
        the output would be empty.

    Examples
    --------
    >>> from pyconv.shapes import conv_output_shape, conv_transpose_output_shape
    >>> conv_transpose_output_shape((2, 2), 3, stride=2)
    (5, 5)

    Stride 2 maps both 5 and 6 to 2; ``output_padding=1`` gives back 6:

    >>> conv_output_shape(6, 3, stride=2)
    2
    >>> conv_transpose_output_shape(2, 3, stride=2, output_padding=1)
    6
    >>> conv_transpose_output_shape(16, 4, stride=2, padding=1)  # the usual 2x upsampler
    32
    """
    geo = _transpose_geometry(size, kernel_size, stride, padding, output_padding, dilation)
    return _result(geo[-1], geo[0])


# ---------------------------------------------------------------------------------------------
# parameter and FLOP counts

def _channels(in_channels, out_channels, groups):
    cin = _int(in_channels, "in_channels")
    cout = _int(out_channels, "out_channels")
    g = _int(groups, "groups")
    _check_min([cin], "in_channels", 1)
    _check_min([cout], "out_channels", 1)
    _check_min([g], "groups", 1)
    if cin % g:
        raise ValueError("groups=%d must divide in_channels=%d" % (g, cin))
    if cout % g:
        raise ValueError("groups=%d must divide out_channels=%d" % (g, cout))
    return cin, cout, g


def _bias(bias):
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError("bias must be True or False, got %s %r" % (type(bias).__name__, bias))
    return bool(bias)


def param_count(in_channels, out_channels, kernel_size, groups=1, bias=True, *, ndim=None):
    """Number of learnable parameters of a convolution layer.

    ``out_channels * (in_channels / groups) * prod(kernel_size)`` weights, plus
    ``out_channels`` biases if ``bias``.  The same count holds for the transposed
    convolution with the same arguments (its weight has shape
    ``(in_channels, out_channels / groups, *kernel_size)``).

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts, both divisible by ``groups``.
    kernel_size : int or sequence of int
        Kernel size; a sequence has one entry per spatial axis, so a 3x3 kernel is ``(3, 3)``.
    groups : int, optional
        Number of channel groups (default 1); ``groups == in_channels`` is a depthwise
        convolution.
    bias : bool, optional
        Whether the layer has a bias (default True).
    ndim : int, optional
        Number of spatial axes when ``kernel_size`` is an int (default 1: an int kernel size
        alone is a 1-D kernel).  ``param_count(16, 32, 3, ndim=2)`` is PyTorch's
        ``Conv2d(16, 32, 3)``.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        Non-integer channels, groups, kernel size or ndim; ``bias`` not a bool.
    ValueError
        Non-positive values, ``groups`` not dividing both channel counts, ``ndim`` not
        matching a sequence ``kernel_size``.

    Examples
    --------
    A 3x3 convolution from 16 to 32 channels:

    >>> from pyconv.shapes import param_count
    >>> param_count(16, 32, (3, 3), bias=False)
    4608
    >>> param_count(16, 32, 3, ndim=2)
    4640

    Its depthwise-separable version: depthwise 3x3 on 16 channels, then pointwise 16 -> 32:

    >>> depthwise = param_count(16, 16, (3, 3), groups=16, bias=False)
    >>> pointwise = param_count(16, 32, (1, 1), bias=False)
    >>> depthwise, pointwise, depthwise + pointwise
    (144, 512, 656)
    """
    cin, cout, g = _channels(in_channels, out_channels, groups)
    has_bias = _bias(bias)
    if ndim is not None:
        ndim = _int(ndim, "ndim")
        _check_min([ndim], "ndim", 1)
    _, k = _ints(kernel_size, "kernel_size")
    if k is not None and ndim is not None and k != ndim:
        raise ValueError("kernel_size has %d entries but ndim=%d" % (k, ndim))
    _, _, v = _broadcast(ndim, kernel_size=kernel_size)
    _check_min(v["kernel_size"], "kernel_size", 1)
    return cout * (cin // g) * math.prod(v["kernel_size"]) + (cout if has_bias else 0)


def flops(in_channels, out_channels, kernel_size, output_size, groups=1, bias=True):
    """Floating-point operations of one convolution layer, for one image.

    What is counted: every output value (``out_channels * prod(output_size)`` of them) is a
    sum of ``(in_channels / groups) * prod(kernel_size)`` products, each counted as one
    multiply-add (MAC)::

        MACs  = prod(output_size) * out_channels * (in_channels / groups) * prod(kernel_size)
        FLOPs = 2 * MACs + (prod(output_size) * out_channels if bias else 0)

    so a MAC is two FLOPs (one multiply, one add into an accumulator that starts at zero) and
    the bias is one more add per output value.  (A sum of ``n`` products strictly needs
    ``n - 1`` adds, so this conventional count is one add per output value above the
    minimum.)  ``flops(..., bias=False) // 2`` is the MAC count, which many papers call
    "FLOPs".  Taps that fall on zero padding are counted, as a dense implementation
    computes them; padding itself, activations, memory traffic and the batch are not.

    For a transposed convolution, pass the channels swapped and its *input* size as
    ``output_size``: ``flops(out_channels, in_channels, kernel_size, input_size, groups,
    bias=False)`` gives its multiply-adds, because it is the adjoint (the gradient) of that
    convolution.  Its bias adds are ``out_channels * prod(transposed output size)``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts, both divisible by ``groups``.
    kernel_size : int or sequence of int
        Kernel size; an int broadcasts to the length of ``output_size``.
    output_size : int or sequence of int
        Spatial size of the output (see :func:`conv_output_shape`).
    groups : int, optional
        Number of channel groups (default 1).
    bias : bool, optional
        Count one add per output value for the bias (default True).

    Returns
    -------
    int
        The FLOPs.

    Raises
    ------
    TypeError, ValueError
        As for :func:`param_count`; also a non-positive or mismatched ``output_size``.

    Examples
    --------
    A 3x3 convolution from 16 to 32 channels on a 32x32 output:

    >>> from pyconv.shapes import flops
    >>> macs = flops(16, 32, 3, (32, 32), bias=False) // 2
    >>> macs            # 32*32 pixels * 32 outputs * 16 inputs * 9 taps
    4718592
    >>> flops(16, 32, 3, (32, 32))   # 2 * MACs + 32*32*32 bias adds
    9469952

    Its depthwise-separable version needs about 7x fewer:

    >>> flops(16, 16, 3, (32, 32), groups=16, bias=False) + flops(16, 32, 1, (32, 32), bias=False)
    1343488
    """
    cin, cout, g = _channels(in_channels, out_channels, groups)
    has_bias = _bias(bias)
    _, _, v = _broadcast(output_size=output_size, kernel_size=kernel_size)
    _check_min(v["output_size"], "output_size", 1)
    _check_min(v["kernel_size"], "kernel_size", 1)
    pixels = math.prod(v["output_size"])
    macs = pixels * cout * (cin // g) * math.prod(v["kernel_size"])
    return 2 * macs + (pixels * cout if has_bias else 0)


# ---------------------------------------------------------------------------------------------
# receptive field

_LAYER_KEYS = ("kernel_size", "stride", "dilation")


def receptive_field(layers):
    """Side of the input region that one output pixel of a stack of layers sees.

    ``r = 1 + sum_l d_l * (k_l - 1) * prod_{j < l} s_j``: each layer widens the field by its
    dilated kernel span minus one, measured in input pixels (the product of the strides
    before it).  Padding does not change the size, only where the region sits.  Pooling
    layers count like convolutions with their window as ``kernel_size``.

    Parameters
    ----------
    layers : sequence of dict or tuple
        Layers from input to output.  A dict has ``kernel_size`` and optionally ``stride``
        and ``dilation`` (default 1; a ``padding`` key is accepted and ignored); a tuple is
        ``(k,)``, ``(k, s)`` or ``(k, s, d)``.  Values are ints, or sequences of ints for
        per-axis sizes.

    Returns
    -------
    int or tuple of int
        An int when every value is an int, otherwise one entry per axis.  An empty list
        gives 1.

    Raises
    ------
    TypeError
        ``layers`` is not a sequence of dicts/tuples, or a value is not an int.
    ValueError
        A missing ``kernel_size``, an unknown key, a tuple of the wrong length, or a
        non-positive value.  The message names the layer's index.

    Examples
    --------
    A 3x3 kernel at dilation 2 sees 5x5:

    >>> from pyconv.shapes import receptive_field
    >>> receptive_field([{'kernel_size': 3, 'dilation': 2}])
    5

    Two 3x3 layers see as much as one 5x5; three see 7x7 (VGG's argument):

    >>> receptive_field([(3,), (3,)]), receptive_field([(3,)] * 3)
    (5, 7)

    Strides multiply what the later layers add:

    >>> receptive_field([(7, 2), (3, 2), (3, 1), (3, 1)])   # 1 + 6 + 2*2 + 4*2 + 4*2
    27
    """
    if isinstance(layers, (dict, str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError("layers must be a sequence of dicts or tuples, got %s"
                        % type(layers).__name__)
    parsed = []
    for idx, layer in enumerate(layers):
        where = "layers[%d]" % idx
        if isinstance(layer, dict):
            unknown = set(layer) - set(_LAYER_KEYS) - {"padding"}
            if unknown:
                raise ValueError("%s has unknown key(s) %s; expected kernel_size, stride, "
                                 "dilation" % (where, ", ".join(sorted(map(repr, unknown)))))
            if "kernel_size" not in layer:
                raise ValueError("%s has no 'kernel_size'" % where)
            values = [layer.get(key, 1) for key in _LAYER_KEYS]
        elif isinstance(layer, (tuple, list)):
            if not 1 <= len(layer) <= 3:
                raise ValueError("%s must be (kernel_size,), (kernel_size, stride) or "
                                 "(kernel_size, stride, dilation); got %r" % (where, layer))
            values = list(layer) + [1] * (3 - len(layer))
        else:
            raise TypeError("%s must be a dict or a tuple, got %s" % (where,
                                                                     type(layer).__name__))
        parsed.append({"%s.%s" % (where, key): value for key, value in zip(_LAYER_KEYS, values)})
    flat = {name: value for layer in parsed for name, value in layer.items()}
    n, scalar, v = _broadcast(**flat)
    field, jump = [1] * n, [1] * n
    for layer in parsed:
        k, s, d = (v[name] for name in layer)
        for name in layer:
            _check_min(v[name], name, 1)
        for a in range(n):
            field[a] += d[a] * (k[a] - 1) * jump[a]
            jump[a] *= s[a]
    return _result(field, scalar)


# ---------------------------------------------------------------------------------------------
# the convolution as a matrix, and overlap counts

def conv_matrix(size, kernel, stride=1, padding=0, dilation=1):
    """The sparse matrix of a single-channel convolution: ``conv(x) = C @ x``.

    Cross-correlation with zero padding, as ``torch.nn.functional.conv1d/2d/3d`` with one
    input and one output channel::

        conv(x).ravel()           == C @ x.ravel()
        conv_transpose(y).ravel() == C.T @ y.ravel()

    The transposed convolution (same kernel, stride, padding, dilation) is the transpose of
    the matrix.  ``C.T @ y`` always has the input's shape ``size``: it is the transposed
    convolution with ``output_padding = (i + 2*p - d*(k - 1) - 1) % s`` on each axis (the
    part of the input the strided convolution skips at the end).  With ``output_padding=0``
    the transposed output is shorter by that amount, and equals the leading block of
    ``C.T @ y``.

    Parameters
    ----------
    size : int or sequence of int
        Spatial shape of the input (1-D, 2-D or 3-D; no batch or channel axis).
    kernel : (k,) or (kH, kW) or (kD, kH, kW) array_like
        The kernel, with one axis per axis of ``size``.  Integer kernels become float64;
        float32 stays float32.
    stride, padding, dilation : int, sequence of int, optional
        As for :func:`conv_output_shape` (``padding='same'`` included).

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(prod(output shape), prod(size))``, dtype of the kernel.  Row ``r`` holds
        the kernel taps that output pixel ``r`` (C order) reads; taps on the zero padding
        are left out, every other tap is stored, zero weights included, so the sparsity
        pattern is the connectivity.

    Raises
    ------
    TypeError
        A non-numeric or complex kernel, or a non-integer geometry argument.
    ValueError
        An empty kernel, a kernel whose dimensions do not match ``size``, or any error of
        :func:`conv_output_shape`.
    MemoryError
        The matrix would be too large to allocate.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.shapes import conv_matrix
    >>> C = conv_matrix(5, [1, 2, 3], stride=2)
    >>> C.toarray()
    array([[1., 2., 3., 0., 0.],
           [0., 0., 1., 2., 3.]])
    >>> C @ np.arange(5.0)                 # the convolution
    array([ 8., 20.])
    >>> C.T @ np.array([1.0, 10.0])        # the transposed convolution
    array([ 1.,  2., 13., 20., 30.])
    >>> conv_matrix((4, 4), np.ones((2, 2)), padding=2).shape   # 7x7 outputs from 4x4
    (49, 16)
    """
    k_arr = as_array(kernel, "kernel")
    dtype = float_dtype(k_arr.dtype, "kernel")
    if k_arr.ndim == 0 or k_arr.size == 0:
        raise ValueError("kernel must be a non-empty array with one axis per axis of size, "
                         "got shape %s" % (k_arr.shape,))
    _, n_size = _ints(size, "size")
    if (n_size or 1) != k_arr.ndim:
        raise ValueError("kernel has %d dimensions but size %r has %d"
                         % (k_arr.ndim, size, n_size or 1))
    if k_arr.ndim > 3:
        raise ValueError("size must have 1, 2 or 3 axes, got %d" % k_arr.ndim)
    _, i, k, s, d, before, out = _conv_geometry(size, k_arr.shape, stride, padding, dilation,
                                                ndim=k_arr.ndim)
    # peak: the column index and mask of every (output pixel, tap) pair, the kept rows,
    # columns and weights, and scipy's COO -> CSR copies: about six 8-byte words per pair
    check_alloc((math.prod(out), math.prod(k), 6), np.float64, "conv_matrix")
    # a stride never taken (one output) or a dilation never taken (one tap) may be any size
    s = [1 if o == 1 else ss for ss, o in zip(s, out)]
    d = [1 if kk == 1 else dd for dd, kk in zip(d, k)]
    n = len(i)
    # Broadcast over an array of shape (out_0, k_0, out_1, k_1, ...): entry (o, t) is the
    # input pixel o*s - pad + t*d that tap t of output pixel o reads.
    rows = cols = 0
    valid = True
    row_step = col_step = 1
    for a in reversed(range(n)):
        o = np.arange(out[a]).reshape(-1, 1)
        t = np.arange(k[a]).reshape(1, -1)
        if abs(before[a]) + (out[a] - 1) * s[a] + (k[a] - 1) * d[a] < 1 << 62:
            idx = o * s[a] - before[a] + t * d[a]
        else:
            # a padding, stride or dilation beyond int64 (a 'same' padding of a huge
            # dilation): the positions in exact integers, clipped to [-1, size], which keeps
            # every position inside the input as it is and every other one outside
            idx = o.astype(object) * s[a] - before[a] + t.astype(object) * d[a]
            idx = np.clip(idx, -1, i[a]).astype(np.int64)
        shape = [1] * (2 * n)
        shape[2 * a], shape[2 * a + 1] = out[a], k[a]
        rows = rows + (o * row_step).reshape(shape[:2 * a] + [out[a], 1] + shape[2 * a + 2:])
        cols = cols + (idx * col_step).reshape(shape)
        valid = valid & ((idx >= 0) & (idx < i[a])).reshape(shape)
        row_step *= out[a]
        col_step *= i[a]
    full = [x for a in range(n) for x in (out[a], k[a])]
    rows, cols, valid = (np.broadcast_to(x, full) for x in (rows, cols, valid))
    data = np.broadcast_to(
        np.asarray(k_arr, dtype).reshape([x for a in range(n) for x in (1, k[a])]), full)
    return sp.csr_matrix((data[valid], (rows[valid], cols[valid])),
                         shape=(math.prod(out), math.prod(i)), dtype=dtype)


def overlap_map(size, kernel_size, stride=1, padding=0, dilation=1, output_padding=0):
    """How many kernel taps each output pixel of a transposed convolution receives.

    A transposed convolution paints a copy of the kernel, weighted by each input pixel, at
    ``stride`` steps in the output.  Entry ``[y]`` of the result counts the ``(input pixel,
    kernel tap)`` pairs that land on output pixel ``y``: the transposed convolution of an
    all-ones input with an all-ones kernel.  Away from the borders the count is flat when
    the stride divides the (dilated) kernel span, e.g. ``kernel_size=4, stride=2`` paints
    every pixel twice per axis; otherwise it alternates, e.g. ``kernel_size=3, stride=2``
    paints 1, 2, 1, 2, ... per axis, and in 2-D the product is a checkerboard of 1, 2 and
    4.  This uneven overlap is why transposed convolutions draw checkerboard artefacts
    (Odena, Dumoulin and Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016).

    Parameters
    ----------
    size : int or sequence of int
        Spatial shape of the transposed convolution's input.
    kernel_size, stride, padding, dilation, output_padding : int or sequence of int
        As for :func:`conv_transpose_output_shape`.

    Returns
    -------
    ndarray of int64
        Shape :func:`conv_transpose_output_shape` (1-D for an int ``size`` and int
        arguments).  The counts are a product of per-axis counts.

    Raises
    ------
    TypeError, ValueError
        As for :func:`conv_transpose_output_shape`.

    Examples
    --------
    >>> from pyconv.shapes import overlap_map
    >>> overlap_map(4, 3, stride=2)       # uneven: a checkerboard in 2-D
    array([1, 1, 2, 1, 2, 1, 2, 1, 1])
    >>> overlap_map(4, 4, stride=2)       # flat inside the border
    array([1, 1, 2, 2, 2, 2, 2, 2, 1, 1])
    >>> overlap_map((3, 3), 3, stride=2, padding=1)
    array([[1, 2, 1, 2, 1],
           [2, 4, 2, 4, 2],
           [1, 2, 1, 2, 1],
           [2, 4, 2, 4, 2],
           [1, 2, 1, 2, 1]])
    """
    scalar, i, k, s, d, p, op, out = _transpose_geometry(size, kernel_size, stride, padding,
                                                         output_padding, dilation)
    check_alloc(out, np.int64, "overlap_map")
    result = np.ones((), dtype=np.int64)
    for ii, kk, ss, dd, pp, oo in zip(i, k, s, d, p, out):
        # tap t of input pixel j lands on t*d - p + j*s: one strided slice per tap, so the
        # memory is the output's whatever the input and kernel sizes
        counts = np.zeros(oo, dtype=np.int64)
        for t in range(kk):
            start = t * dd - pp
            j0 = max(0, -(start // ss))             # first j with start + j*s >= 0
            j1 = min(ii, (oo - 1 - start) // ss + 1)  # past the last j inside the output
            if j1 > j0:
                counts[start + j0 * ss:start + (j1 - 1) * ss + 1:ss] += 1
        result = np.multiply.outer(result, counts)
    return result
