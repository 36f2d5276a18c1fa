"""pyconv.shapes: output sizes, parameter/FLOP counts, receptive fields, the convolution
matrix and the overlap map, each against a brute force written here with explicit loops
(and against PyTorch when it is installed)."""
import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp

import pyconv
from pyconv import shapes
from pyconv.shapes import (conv_matrix, conv_output_shape, conv_transpose_output_shape, flops,
                           overlap_map, param_count, receptive_field)

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - torch is optional
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


# ---------------------------------------------------------------------------------------------
# brute forces: explicit loops, no formula from pyconv.shapes

def loop_output_size(i, k, s, p, d):
    """Count the kernel placements that fit in the padded input, one by one."""
    count, start = 0, 0
    while start + d * (k - 1) < i + 2 * p:
        count += 1
        start += s
    return count


def same_pads(k, d):
    """PyTorch's padding='same': d*(k-1) zeros in all, the odd one after."""
    total = d * (k - 1)
    return total // 2, total - total // 2


def loop_conv(x, w, s, pads, d):
    """Cross-correlation of an N-D array with zero padding; pads: (before, after) per axis."""
    xp = np.pad(x, pads)
    out_shape = [(xp.shape[a] - d[a] * (w.shape[a] - 1) - 1) // s[a] + 1 for a in range(x.ndim)]
    out = np.zeros(out_shape)
    for o in itertools.product(*map(range, out_shape)):
        acc = 0.0
        for t in itertools.product(*map(range, w.shape)):
            acc += w[t] * xp[tuple(o[a] * s[a] + t[a] * d[a] for a in range(x.ndim))]
        out[o] = acc
    return out


def loop_conv_transpose(y, w, s, p, d, op):
    """Transposed convolution by scatter-add: every y[o] paints w at o*s, then crop p."""
    full = [(y.shape[a] - 1) * s[a] + d[a] * (w.shape[a] - 1) + 1 + op[a] for a in range(y.ndim)]
    canvas = np.zeros(full)
    for o in itertools.product(*map(range, y.shape)):
        for t in itertools.product(*map(range, w.shape)):
            canvas[tuple(o[a] * s[a] + t[a] * d[a] for a in range(y.ndim))] += y[o] * w[t]
    return canvas[tuple(slice(p[a], full[a] - p[a]) for a in range(y.ndim))]


def loop_overlap(size, k, s, p, d, op):
    """Count the (input pixel, tap) pairs landing on each output pixel, by loops."""
    full = [(size[a] - 1) * s[a] + d[a] * (k[a] - 1) + 1 + op[a] for a in range(len(size))]
    counts = np.zeros(full, dtype=np.int64)
    for i in itertools.product(*map(range, size)):
        for t in itertools.product(*map(range, k)):
            counts[tuple(i[a] * s[a] + t[a] * d[a] for a in range(len(size)))] += 1
    return counts[tuple(slice(p[a], full[a] - p[a]) for a in range(len(size)))]


def random_geometry(rng, ndim, max_size=7):
    """Random (size, k, s, p, d) per axis with a non-empty output."""
    while True:
        size = tuple(int(v) for v in rng.integers(1, max_size + 1, ndim))
        k = tuple(int(v) for v in rng.integers(1, 4, ndim))
        s = tuple(int(v) for v in rng.integers(1, 4, ndim))
        d = tuple(int(v) for v in rng.integers(1, 3, ndim))
        p = tuple(int(v) for v in rng.integers(0, 3, ndim))
        if all(d[a] * (k[a] - 1) + 1 <= size[a] + 2 * p[a] for a in range(ndim)):
            return size, k, s, p, d


# ---------------------------------------------------------------------------------------------
# the worked examples

def test_worked_examples():
    assert conv_output_shape((5, 5), (3, 3), stride=2) == (2, 2)
    assert conv_output_shape(5, 3, stride=2) == 2
    assert conv_output_shape((4, 4), 2, padding=2) == (7, 7)   # (4 + 4 - 1 - 1)/1 + 1
    assert param_count(16, 32, (3, 3), bias=False) == 4608
    assert param_count(16, 32, (3, 3)) == 4608 + 32
    assert param_count(16, 32, 3, ndim=2) == 4640
    dw = param_count(16, 16, (3, 3), groups=16, bias=False)
    pw = param_count(16, 32, (1, 1), bias=False)
    assert (dw, pw, dw + pw) == (144, 512, 656)
    assert receptive_field([{"kernel_size": 3, "dilation": 2}]) == 5
    assert receptive_field([(3, 1, 2)]) == 5


def test_int_in_int_out_tuple_in_tuple_out():
    assert conv_output_shape(7, 3) == 5
    assert conv_output_shape((7,), 3) == (5,)
    assert conv_output_shape(7, (3, 1)) == (5, 7)          # ints broadcast
    assert conv_output_shape(np.int64(7), np.int32(3)) == 5
    assert isinstance(conv_output_shape(np.int64(7), 3), int)
    assert conv_transpose_output_shape(3, 3, stride=2) == 7
    assert conv_transpose_output_shape([3, 4], 3, stride=(2, 1)) == (7, 6)
    assert receptive_field([((3, 1),), {"kernel_size": 3, "stride": (2, 1)}]) == (5, 3)
    assert receptive_field([]) == 1


# ---------------------------------------------------------------------------------------------
# output shapes against brute force

def test_conv_output_shape_brute_force(rng):
    for _ in range(400):
        i, k, s, p, d = (int(v) for v in rng.integers([1, 1, 1, 0, 1], [20, 6, 5, 4, 4]))
        expected = loop_output_size(i, k, s, p, d)
        if expected == 0:
            with pytest.raises(ValueError, match="kernel_size"):
                conv_output_shape(i, k, s, p, d)
        else:
            assert conv_output_shape(i, k, stride=s, padding=p, dilation=d) == expected


def test_conv_output_shape_per_axis(rng):
    for _ in range(50):
        ndim = int(rng.integers(1, 4))
        size, k, s, p, d = random_geometry(rng, ndim, max_size=12)
        expected = tuple(loop_output_size(*g) for g in zip(size, k, s, p, d))
        assert conv_output_shape(size, k, s, p, d) == expected


def test_padding_same_and_valid():
    for i, k, d in itertools.product([1, 2, 5, 8], [1, 2, 3, 4], [1, 2, 3]):
        assert conv_output_shape(i, k, padding="same", dilation=d) == i
        assert conv_output_shape((i, i + 1), (k, 1), padding="same", dilation=d) == (i, i + 1)
        if d * (k - 1) < i:
            assert conv_output_shape(i, k, padding="valid", dilation=d) == i - d * (k - 1)


def test_conv_transpose_output_shape_inverts_conv(rng):
    """With output_padding=0 the transposed size is the smallest input size that a
    convolution maps to `i` outputs; output_padding < stride walks through the others."""
    for _ in range(300):
        i, k, s, p, d = (int(v) for v in rng.integers([1, 1, 1, 0, 1], [12, 6, 5, 4, 4]))
        for op in range(max(s, d)):
            if (i - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
                with pytest.raises(ValueError, match="padding"):
                    conv_transpose_output_shape(i, k, s, p, op, d)
                continue
            o = conv_transpose_output_shape(i, k, stride=s, padding=p, output_padding=op,
                                            dilation=d)
            # the loop transposed convolution has that size
            y = np.ones(i)
            assert loop_conv_transpose(y, np.ones(k), [s], [p], [d], [op]).shape == (o,)
            if op < s:
                assert loop_output_size(o, k, s, p, d) == i
            else:   # output_padding >= stride, allowed when the dilation is larger
                assert loop_output_size(o, k, s, p, d) > i
            if op == 0 and o > 1:
                assert loop_output_size(o - 1, k, s, p, d) < i


@needs_torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")   # torch's note on even kernels
def test_output_shapes_against_torch(rng):
    for _ in range(40):
        ndim = int(rng.integers(1, 4))
        size, k, s, p, d = random_geometry(rng, ndim)
        conv = getattr(F, "conv%dd" % ndim)
        x = torch.zeros((1, 1) + size)
        w = torch.zeros((1, 1) + k)
        assert conv(x, w, stride=s, padding=p, dilation=d).shape[2:] == conv_output_shape(
            size, k, s, p, d)
        assert conv(x, w, padding="same", dilation=d).shape[2:] == conv_output_shape(
            size, k, 1, "same", d)
        convt = getattr(F, "conv_transpose%dd" % ndim)
        op = tuple(int(rng.integers(0, max(s[a], d[a]))) for a in range(ndim))
        try:
            expected = convt(x, w, stride=s, padding=p, output_padding=op,
                             dilation=d).shape[2:]
        except RuntimeError:  # torch refuses a non-positive size
            with pytest.raises(ValueError, match="padding"):
                conv_transpose_output_shape(size, k, s, p, op, d)
            continue
        assert conv_transpose_output_shape(size, k, s, p, op, d) == tuple(expected)


# ---------------------------------------------------------------------------------------------
# parameter and FLOP counts

def loop_counts(cin, cout, k, out_size, groups, bias):
    """Count the multiplies and adds of a grouped convolution, one output value at a time."""
    mults = adds = 0
    for _ in itertools.product(range(cout), *map(range, out_size)):
        terms = 0
        for _ in itertools.product(range(cin // groups), *map(range, k)):
            terms += 1
        mults += terms
        adds += terms if bias else terms - 1   # summing n terms (+ bias) takes n (or n-1) adds
    return mults, adds


def test_param_count_brute_force():
    for cin, cout, k, g, bias in [(4, 6, (3,), 2, True), (6, 6, (3, 2), 6, False),
                                  (3, 4, (2, 2, 2), 1, True), (8, 4, (1, 1), 4, True)]:
        weight = np.empty((cout, cin // g) + k)
        assert param_count(cin, cout, k, groups=g, bias=bias) == weight.size + cout * bias
        assert param_count(cin, cout, k[0], groups=g, bias=bias, ndim=len(k)) == (
            cout * (cin // g) * k[0] ** len(k) + cout * bias)


@needs_torch
def test_param_count_against_torch():
    for cin, cout, k, g, bias in [(16, 32, (3, 3), 1, True), (16, 16, (3, 3), 16, False),
                                  (6, 9, (5,), 3, True), (4, 8, (1, 3, 2), 2, False)]:
        layer = getattr(torch.nn, "Conv%dd" % len(k))(cin, cout, k, groups=g, bias=bias)
        assert param_count(cin, cout, k, g, bias) == sum(q.numel() for q in layer.parameters())
        layer = getattr(torch.nn, "ConvTranspose%dd" % len(k))(cin, cout, k, groups=g, bias=bias)
        assert param_count(cin, cout, k, g, bias) == sum(q.numel() for q in layer.parameters())


def test_flops_brute_force():
    for cin, cout, k, out_size, g, bias in [(4, 6, (3,), (5,), 2, True),
                                            (3, 2, (3, 2), (4, 3), 1, False),
                                            (4, 4, (2, 2, 1), (2, 3, 2), 4, True)]:
        mults, adds = loop_counts(cin, cout, k, out_size, g, bias)
        got = flops(cin, cout, k, out_size, groups=g, bias=bias)
        assert isinstance(got, int)
        # FLOPs = 2 * MACs (+ one bias add per output value); MACs = multiplies
        assert got == 2 * mults + (cout * math.prod(out_size) if bias else 0)
        assert flops(cin, cout, k, out_size, groups=g, bias=False) // 2 == mults
        # the documented count accumulates from zero: one add per output more than the
        # minimal count (n - 1 adds for n products, + 1 for the bias)
        assert got - mults - adds == cout * math.prod(out_size)


def test_flops_examples():
    assert flops(16, 32, 3, (32, 32), bias=False) == 2 * 32 * 32 * 32 * 16 * 9
    assert flops(16, 32, (3, 3), 32) == 2 * 32 * 32 * 32 * 16 * 9 + 32 * 32 * 32
    assert flops(1, 1, 1, 1) == 3
    assert flops(10 ** 6, 10 ** 6, 10 ** 3, 10 ** 6) > 2 ** 64   # Python ints: no overflow


# ---------------------------------------------------------------------------------------------
# receptive field

def loop_receptive_field(layers):
    """Walk output pixel 0 back through the layers: the set of input pixels it reads."""
    reached = {0}
    for k, s, d in reversed(layers):
        reached = {o * s + t * d for o in reached for t in range(k)}
    return max(reached) - min(reached) + 1


def test_receptive_field_brute_force(rng):
    for _ in range(100):
        layers = [tuple(int(v) for v in rng.integers([1, 1, 1], [6, 4, 4]))
                  for _ in range(int(rng.integers(0, 5)))]
        expected = loop_receptive_field(layers)
        assert receptive_field(layers) == expected
        dicts = [dict(kernel_size=k, stride=s, dilation=d, padding=1) for k, s, d in layers]
        assert receptive_field(dicts) == expected
        assert receptive_field([{"kernel_size": k} if s == d == 1 else (k, s, d)
                                for k, s, d in layers]) == expected


def test_receptive_field_known_networks():
    assert receptive_field([(3,)] * 2) == 5
    assert receptive_field([(3,)] * 3) == 7
    # dilations 1, 2, 4, 8 of a 3x3 kernel (Yu & Koltun): 31
    assert receptive_field([{"kernel_size": 3, "dilation": 2 ** n} for n in range(4)]) == 31
    # AlexNet's conv1 + pool1: 11 + (3 - 1) * 4
    assert receptive_field([(11, 4), (3, 2)]) == 19


@needs_torch
def test_receptive_field_against_torch_gradient(rng):
    for _ in range(5):
        layers = [tuple(int(v) for v in rng.integers([1, 1, 1], [5, 3, 3])) for _ in range(3)]
        x = torch.ones(1, 1, 80, dtype=torch.float64, requires_grad=True)
        y = x
        for k, s, d in layers:
            y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
        y[0, 0, 0].backward()
        seen = np.flatnonzero(x.grad.numpy().ravel())
        assert receptive_field(layers) == seen[-1] - seen[0] + 1


# ---------------------------------------------------------------------------------------------
# conv_matrix

def _matrix_case(rng, ndim, same=False):
    size, k, s, p, d = random_geometry(rng, ndim)
    if same:
        s = (1,) * ndim
        pads = [same_pads(k[a], d[a]) for a in range(ndim)]
        padding = "same"
    else:
        pads = [(pa, pa) for pa in p]
        padding = p
    x = rng.standard_normal(size)
    w = rng.standard_normal(k)
    return size, k, s, p, d, pads, padding, x, w


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_conv_matrix_is_the_convolution(rng, ndim):
    for trial in range(25 if ndim < 3 else 10):
        size, k, s, p, d, pads, padding, x, w = _matrix_case(rng, ndim, same=trial % 5 == 4)
        C = conv_matrix(size, w, stride=s, padding=padding, dilation=d)
        assert sp.issparse(C) and C.format == "csr"
        expected = loop_conv(x, w, s, pads, d)
        assert expected.shape == conv_output_shape(size, k, s, padding, d)
        assert C.shape == (expected.size, x.size)
        np.testing.assert_allclose(C @ x.ravel(), expected.ravel(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_conv_matrix_transpose_is_the_transposed_convolution(rng, ndim):
    for _ in range(25 if ndim < 3 else 10):
        size, k, s, p, d, pads, padding, x, w = _matrix_case(rng, ndim)
        C = conv_matrix(size, w, stride=s, padding=p, dilation=d)
        out = conv_output_shape(size, k, s, p, d)
        y = rng.standard_normal(out)
        back = C.T @ y.ravel()
        # output_padding 0: the transposed convolution is the leading block of C.T @ y
        # (unless the padding eats it all: then only output_padding makes the size exist)
        t0 = loop_conv_transpose(y, w, s, p, d, [0] * ndim)
        if min(t0.shape) > 0:
            assert t0.shape == conv_transpose_output_shape(out, k, s, p, 0, d)
            crop = tuple(slice(0, n) for n in t0.shape)
            np.testing.assert_allclose(back.reshape(size)[crop], t0, rtol=1e-12, atol=1e-12)
        # with output_padding = the remainder it is exactly C.T @ y
        op = [(size[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1) % s[a] for a in range(ndim)]
        assert conv_transpose_output_shape(out, k, s, p, op, d) == size
        np.testing.assert_allclose(back, loop_conv_transpose(y, w, s, p, d, op).ravel(),
                                   rtol=1e-12, atol=1e-12)


def test_conv_matrix_adjoint_identity(rng):
    size, k, s, p, d = (9, 8), (3, 2), (2, 3), (1, 0), (2, 1)
    C = conv_matrix(size, rng.standard_normal(k), s, p, d)
    x, y = rng.standard_normal(C.shape[1]), rng.standard_normal(C.shape[0])
    np.testing.assert_allclose(np.dot(C @ x, y), np.dot(x, C.T @ y), rtol=1e-12)


def test_conv_matrix_structure_and_dtype():
    C = conv_matrix((5, 5), np.ones((3, 3), np.float32), stride=2)
    assert C.dtype == np.float32 and C.shape == (4, 25)
    assert C.nnz == 4 * 9                      # no padding: every tap is an entry
    C = conv_matrix((4, 4), np.arange(4).reshape(2, 2), padding=2)
    assert C.dtype == np.float64 and C.shape == (49, 16)
    assert C.nnz == 16 * 4                     # each input pixel meets every tap once
    C = conv_matrix(3, [1.0, 2.0, 3.0], padding="same")
    np.testing.assert_array_equal(C.toarray(), [[2, 3, 0], [1, 2, 3], [0, 1, 2]])
    C = conv_matrix(4, [1.0, 2.0], padding="same")   # even kernel: the extra zero goes after
    np.testing.assert_array_equal(C.toarray(), [[1, 2, 0, 0], [0, 1, 2, 0], [0, 0, 1, 2],
                                                [0, 0, 0, 1]])


def test_conv_matrix_geometry_beyond_int64(rng):
    """Paddings, strides and dilations whose positions do not fit int64: exact positions.
    With padding='same' and a huge dilation only the centre tap of an odd kernel lands (on
    its own output pixel); no tap of an even one does."""
    k = rng.standard_normal((3, 3, 1))
    got = conv_matrix((7, 7, 9), k, padding="same", dilation=10**30)
    np.testing.assert_array_equal(got.toarray(), k[1, 1, 0] * np.eye(7 * 7 * 9))
    assert conv_matrix((7,), rng.standard_normal(4), padding="same", dilation=10**30).nnz == 0
    # 3 outputs 10**30 apart, of which only the middle one overlaps the input
    got = conv_matrix((7,), [1.0, 2.0, 3.0], stride=10**30, padding=10**30).toarray()
    expected = np.zeros((3, 7))
    expected[1, :3] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(got, expected)


@needs_torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv_matrix_against_torch(rng):
    for trial in range(30):
        size, k, s, p, d, pads, padding, x, w = _matrix_case(rng, 2, same=trial % 3 == 2)
        C = conv_matrix(size, w, stride=s, padding=padding, dilation=d)
        tw = torch.from_numpy(w)[None, None]
        ours = (C @ x.ravel()).reshape(conv_output_shape(size, k, s, padding, d))
        ref = F.conv2d(torch.from_numpy(x)[None, None], tw, stride=s, padding=padding,
                       dilation=d)[0, 0].numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
        if padding == "same":
            continue
        out = ref.shape
        y = rng.standard_normal(out)
        op = [(size[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1) % s[a] for a in range(2)]
        ref = F.conv_transpose2d(torch.from_numpy(y)[None, None], tw, stride=s, padding=p,
                                 output_padding=op, dilation=d)[0, 0].numpy()
        np.testing.assert_allclose((C.T @ y.ravel()).reshape(size), ref, rtol=1e-10,
                                   atol=1e-12)


def _pyconv_case(rng, trial):
    size, k, s, p, d, pads, padding, x, w = _matrix_case(rng, 2)
    C = conv_matrix(size, w, stride=s, padding=p, dilation=d)
    op = tuple((size[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1) % s[a] for a in range(2))
    return size, s, p, d, op, x, w, C


@pytest.mark.skipif(not hasattr(pyconv, "conv2d"), reason="pyconv.conv2d not available yet")
def test_conv_matrix_agrees_with_pyconv_conv2d(rng):
    for trial in range(20):
        size, s, p, d, op, x, w, C = _pyconv_case(rng, trial)
        got = pyconv.conv2d(x[None, None], w[None, None], stride=s, padding=p, dilation=d)
        np.testing.assert_allclose(got[0, 0].ravel(), C @ x.ravel(), rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(not hasattr(pyconv, "conv_transpose2d"),
                    reason="pyconv.conv_transpose2d not available yet")
def test_conv_matrix_transpose_agrees_with_pyconv_conv_transpose2d(rng):
    for trial in range(20):
        size, s, p, d, op, x, w, C = _pyconv_case(rng, trial)
        y = rng.standard_normal(C.shape[0]).reshape(conv_output_shape(size, w.shape, s, p, d))
        got = pyconv.conv_transpose2d(y[None, None], w[None, None], stride=s, padding=p,
                                      output_padding=op, dilation=d)
        assert got.shape == (1, 1) + size
        np.testing.assert_allclose(got[0, 0].ravel(), C.T @ y.ravel(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# overlap_map

def test_overlap_map_brute_force(rng):
    for _ in range(60):
        ndim = int(rng.integers(1, 4))
        size, k, s, p, d = random_geometry(rng, ndim, max_size=5)
        op = tuple(int(rng.integers(0, max(s[a], d[a]))) for a in range(ndim))
        try:
            shape = conv_transpose_output_shape(size, k, s, p, op, d)
        except ValueError:
            continue
        got = overlap_map(size, k, s, p, d, op)
        assert got.dtype == np.int64 and got.shape == shape
        np.testing.assert_array_equal(got, loop_overlap(size, k, s, p, d, op))


@needs_torch
def test_overlap_map_is_transposed_convolution_of_ones():
    for k, s, p in [(3, 2, 0), (4, 2, 1), (5, 3, 2), (2, 2, 0)]:
        ref = F.conv_transpose2d(torch.ones(1, 1, 6, 5, dtype=torch.float64),
                                 torch.ones(1, 1, k, k, dtype=torch.float64), stride=s,
                                 padding=p)[0, 0].numpy()
        np.testing.assert_array_equal(overlap_map((6, 5), k, stride=s, padding=p), ref)


def _interior(m, k, s, d=1):
    """Drop the border where some (input, tap) pairs fall off the input."""
    b = d * (k - 1)
    return m[tuple(slice(b, n - b) for n in m.shape)]


@pytest.mark.parametrize("k,s", [(k, s) for k in range(1, 7) for s in range(1, 5)])
def test_overlap_map_flat_iff_stride_divides_kernel(k, s):
    inner = _interior(overlap_map((8, 8), k, stride=s), k, s)
    assert inner.size
    if k % s == 0:
        assert inner.min() == inner.max() == (k // s) ** 2
    else:
        assert inner.min() < inner.max()
        # a checkerboard: the pattern repeats with period s and is a product of 1-D patterns
        np.testing.assert_array_equal(inner * inner[0, 0],
                                      np.multiply.outer(inner[:, 0], inner[0]))
        np.testing.assert_array_equal(inner[s:], inner[:-s])


def test_checkerboard_k3_s2_against_flat_k4_s2():
    m3 = _interior(overlap_map((6, 6), 3, stride=2), 3, 2)
    np.testing.assert_array_equal(m3[:2, :2], [[4, 2], [2, 1]])
    assert set(np.unique(m3)) == {1, 2, 4}
    m4 = _interior(overlap_map((6, 6), 4, stride=2, padding=1), 4, 2)
    assert np.all(m4 == 4)


def test_overlap_map_dilation_rule():
    """With dilation d, the interior is flat iff gcd(d, s) == 1 and s divides k."""
    for k, s, d in itertools.product(range(1, 6), range(1, 4), range(1, 4)):
        inner = _interior(overlap_map(30, k, stride=s, dilation=d), k, s, d)
        flat = math.gcd(d, s) == 1 and k % s == 0
        assert (inner.min() == inner.max()) == flat, (k, s, d)


# ---------------------------------------------------------------------------------------------
# bad arguments: ValueError / TypeError naming the argument

BAD = [
    # (call, exception, word that must be in the message)
    (lambda: conv_output_shape(0, 3), ValueError, "size"),
    (lambda: conv_output_shape((5, -1), 3), ValueError, "size"),
    (lambda: conv_output_shape(5, 0), ValueError, "kernel_size"),
    (lambda: conv_output_shape(5, 3, stride=0), ValueError, "stride"),
    (lambda: conv_output_shape(5, 3, dilation=0), ValueError, "dilation"),
    (lambda: conv_output_shape(5, 3, padding=-1), ValueError, "padding"),
    (lambda: conv_output_shape(2, 3), ValueError, "kernel_size"),
    (lambda: conv_output_shape(5, 3, dilation=3), ValueError, "kernel_size"),
    (lambda: conv_output_shape((5, 5), (3, 3, 3)), ValueError, "kernel_size"),
    (lambda: conv_output_shape((5, 5), 3, stride=(1, 1, 1)), ValueError, "stride"),
    (lambda: conv_output_shape((), 3), ValueError, "size"),
    (lambda: conv_output_shape(5, 3, stride=2, padding="same"), ValueError, "padding"),
    (lambda: conv_output_shape(5, 3, padding="full"), ValueError, "padding"),
    (lambda: conv_output_shape(5.0, 3), TypeError, "size"),
    (lambda: conv_output_shape(True, 3), TypeError, "size"),
    (lambda: conv_output_shape("5", 3), TypeError, "size"),
    (lambda: conv_output_shape(None, 3), TypeError, "size"),
    (lambda: conv_output_shape(5, (3, 1.5)), TypeError, "kernel_size"),
    (lambda: conv_output_shape(5, 3, stride=np.bool_(True)), TypeError, "stride"),
    (lambda: conv_output_shape(5, 3, padding=0.5), TypeError, "padding"),
    (lambda: conv_output_shape(5, 3, dilation=[1.0]), TypeError, "dilation"),
    (lambda: conv_transpose_output_shape(0, 3), ValueError, "size"),
    (lambda: conv_transpose_output_shape(3, 3, stride=2, output_padding=2), ValueError,
     "output_padding"),
    (lambda: conv_transpose_output_shape(3, 3, output_padding=1), ValueError, "output_padding"),
    (lambda: conv_transpose_output_shape(3, 3, output_padding=-1), ValueError, "output_padding"),
    (lambda: conv_transpose_output_shape(1, 1, padding=1), ValueError, "padding"),
    (lambda: conv_transpose_output_shape(3, 3, padding="same"), TypeError, "padding"),
    (lambda: conv_transpose_output_shape(3, 3, stride=1.0), TypeError, "stride"),
    (lambda: param_count(0, 4, 3), ValueError, "in_channels"),
    (lambda: param_count(4, -4, 3), ValueError, "out_channels"),
    (lambda: param_count(4, 4, 0), ValueError, "kernel_size"),
    (lambda: param_count(4, 4, 3, groups=0), ValueError, "groups"),
    (lambda: param_count(6, 4, 3, groups=4), ValueError, "in_channels"),
    (lambda: param_count(4, 6, 3, groups=4), ValueError, "out_channels"),
    (lambda: param_count(4, 4, (3, 3), ndim=3), ValueError, "ndim"),
    (lambda: param_count(4, 4, 3, ndim=0), ValueError, "ndim"),
    (lambda: param_count(4.0, 4, 3), TypeError, "in_channels"),
    (lambda: param_count(4, 4, 3, groups=True), TypeError, "groups"),
    (lambda: param_count(4, 4, 3, bias=1), TypeError, "bias"),
    (lambda: flops(4, 4, 3, 0), ValueError, "output_size"),
    (lambda: flops(4, 4, 3, (4, 4), groups=3), ValueError, "groups"),
    (lambda: flops(4, 4, (3, 3), (4, 4, 4)), ValueError, "kernel_size"),
    (lambda: flops(4, 4, 3, 4.5), TypeError, "output_size"),
    (lambda: flops(4, 4, 3, 4, bias=None), TypeError, "bias"),
    (lambda: receptive_field({"kernel_size": 3}), TypeError, "layers"),
    (lambda: receptive_field(3), TypeError, "layers"),
    (lambda: receptive_field([3]), TypeError, "layers[0]"),
    (lambda: receptive_field([(3,), {"stride": 2}]), ValueError, "layers[1]"),
    (lambda: receptive_field([{"kernel_size": 3, "dilations": 2}]), ValueError, "dilations"),
    (lambda: receptive_field([(3, 1, 1, 1)]), ValueError, "layers[0]"),
    (lambda: receptive_field([(3, 0)]), ValueError, "layers[0].stride"),
    (lambda: receptive_field([{"kernel_size": -3}]), ValueError, "layers[0].kernel_size"),
    (lambda: receptive_field([(3.0,)]), TypeError, "layers[0].kernel_size"),
    (lambda: receptive_field([((3, 3),), ((3, 3, 3),)]), ValueError, "layers[1].kernel_size"),
    (lambda: conv_matrix((5, 5), np.ones(3)), ValueError, "kernel"),
    (lambda: conv_matrix(5, np.ones((3, 3))), ValueError, "kernel"),
    (lambda: conv_matrix(5, []), ValueError, "kernel"),
    (lambda: conv_matrix(5, 2.0), ValueError, "kernel"),
    (lambda: conv_matrix((3, 3, 3, 3), np.ones((1, 1, 1, 1))), ValueError, "size"),
    (lambda: conv_matrix(5, np.ones(3, complex)), TypeError, "kernel"),
    (lambda: conv_matrix(5, ["a", "b"]), TypeError, "kernel"),
    (lambda: conv_matrix(5, None), TypeError, "kernel"),
    (lambda: conv_matrix(5, np.ones(3), stride=0), ValueError, "stride"),
    (lambda: conv_matrix(2, np.ones(3)), ValueError, "kernel_size"),
    (lambda: conv_matrix(5.0, np.ones(3)), TypeError, "size"),
    (lambda: conv_matrix(5, np.ones(2), stride=2, padding="same"), ValueError, "padding"),
    (lambda: overlap_map(0, 3), ValueError, "size"),
    (lambda: overlap_map(4, 3, stride=2, output_padding=2), ValueError, "output_padding"),
    (lambda: overlap_map(4, 3, padding="same"), TypeError, "padding"),
    (lambda: overlap_map(4, (3, 3), stride=(2, 2, 2)), ValueError, "stride"),
    (lambda: overlap_map(4, 3, dilation=0), ValueError, "dilation"),
]


@pytest.mark.parametrize("call,exc,word", BAD, ids=range(len(BAD)))
def test_bad_arguments(call, exc, word):
    with pytest.raises(exc) as info:
        call()
    assert word in str(info.value), str(info.value)


def test_too_large_is_refused_up_front():
    with pytest.raises(MemoryError):
        conv_matrix((10 ** 6, 10 ** 6), np.ones((5, 5)))
    with pytest.raises(MemoryError):
        overlap_map((10 ** 6, 10 ** 6, 10 ** 6), 3)


def test_module_exports():
    for name in shapes.__all__:
        assert callable(getattr(shapes, name)) and getattr(shapes, name).__doc__
