"""Randomised property tests (hypothesis) for the operations the other files test only on
fixed grids: sepfilter, separate, the edge filters, gaussian, uniform, depthwise / separable /
flattened convolutions, channel_shuffle with channel_axis-like layouts, and every function of
pyconv.shapes.  Each draws its arguments and compares with an independent reference (scipy,
scikit-image, pyconv.reference, brute force).

The 'ci' profile (tests/conftest.py: derandomized, 30 examples) runs by default; longer
searches: ``PYCONV_HYPOTHESIS_PROFILE=dev`` (300) or ``long`` (2000, random seeds).
(correlate/convolve/correlate1d/convolve1d, scipy.signal functions, conv1d/2d/3d, the
transposed convolutions and channel_shuffle have theirs in test_filters_*, test_signal,
test_conv*.)
"""
from functools import reduce

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import assume, given, strategies as st

import pyconv
from pyconv import filters as PF
from pyconv import reference as R
from pyconv import shapes as SH
from _helpers import as_ref, assert_close, input_scale, padded_reference

try:
    import skimage.filters as skf
except ImportError:  # pragma: no cover
    skf = None

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
FILTER_MODES = ["reflect", "constant", "nearest", "mirror", "wrap"]


def _rand(seed, shape, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


seeds = st.integers(0, 2 ** 32 - 1)
dtypes = st.sampled_from([F32, F64])


@st.composite
def images(draw, min_nd=1, max_nd=3, max_side=9):
    nd = draw(st.integers(min_nd, max_nd), label="ndim")
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=nd, max_size=nd),
                       label="shape"))
    return _rand(draw(seeds, label="seed"), shape)


# ------------------------------------------------------------------------------- sepfilter


@given(data=st.data())
def test_sepfilter_is_the_outer_product_correlation(data):
    """sepfilter == scipy.ndimage.correlate with the outer product of the kernels (n-D cval
    convention), for every mode, origin, None entries and kernels longer than the image."""
    x = data.draw(images(), label="image")
    dt = data.draw(dtypes, label="dtype")
    kernels, origins = [], []
    for n in x.shape:
        if data.draw(st.booleans(), label="skip axis") and len(kernels) > 0:
            kernels.append(None)
            origins.append(0)
            continue
        k = data.draw(st.integers(1, 7), label="k")
        kernels.append(np.round(_rand(data.draw(seeds), k, -2, 2), 2))
        origins.append(data.draw(st.integers(-(k // 2), (k - 1) // 2), label="origin"))
    mode = data.draw(st.sampled_from(FILTER_MODES), label="mode")
    cval = data.draw(st.sampled_from([0.0, 1.5, -0.25]), label="cval")
    got = PF.sepfilter(x.astype(dt), [None if k is None else k.astype(dt) for k in kernels],
                       mode=mode, cval=cval, origin=origins)
    full = reduce(np.multiply.outer, [np.ones(1) if k is None else as_ref(k, dt)
                                     for k in kernels])
    ref = padded_reference(ndi.correlate, as_ref(x, dt), full, mode, cval,
                           [o for o in origins])
    assert_close(got, ref, dt, full.size, scale=input_scale(x, full, cval),
                 what="sepfilter %s %s %s" % (x.shape, [None if k is None else k.size
                                                        for k in kernels], mode))


@given(data=st.data())
def test_sepfilter_channel_axis(data):
    x = data.draw(images(min_nd=2, max_nd=4, max_side=6), label="image")
    ca = data.draw(st.integers(-x.ndim, x.ndim - 1), label="channel_axis")
    k = [np.array([1.0, -2.0, 0.5])[: data.draw(st.integers(1, 3))] for _ in range(x.ndim - 1)]
    got = PF.sepfilter(x, k, mode="mirror", channel_axis=ca)
    ax = ca % x.ndim
    ref = np.stack([PF.sepfilter(np.take(x, c, axis=ax), k, mode="mirror")
                    for c in range(x.shape[ax])], axis=ax)
    np.testing.assert_array_equal(got, ref)


# -------------------------------------------------------------------------------- separate


@given(data=st.data())
def test_separate_rank1_reconstructs(data):
    nd = data.draw(st.integers(1, 3), label="ndim")
    shape = data.draw(st.lists(st.integers(1, 6), min_size=nd, max_size=nd), label="shape")
    seed = data.draw(seeds)
    vecs = [np.round(_rand(seed + i, n, -2, 2), 3) for i, n in enumerate(shape)]
    k = reduce(np.multiply.outer, vecs)
    factors = PF.separate(k)
    assert factors is not None and len(factors) == nd
    for f, n in zip(factors, shape):
        assert f.shape == (n,) and f.dtype == F64
    rec = reduce(np.multiply.outer, factors)
    np.testing.assert_allclose(rec, k, rtol=0, atol=1e-12 * max(1.0, np.abs(k).max()))


@given(data=st.data())
def test_separate_rank2_is_none(data):
    m, n = data.draw(st.integers(2, 6)), data.draw(st.integers(2, 6))
    seed = data.draw(seeds)
    a, b = _rand(seed, (2, m), 0.5, 2), _rand(seed + 1, (2, n), 0.5, 2)
    k = np.outer(a[0], b[0]) + np.outer(a[1], b[1])
    s = np.linalg.svd(k, compute_uv=False)
    assume(s[1] > 1e-6 * s[0])  # genuinely rank 2
    assert PF.separate(k) is None
    # a tolerance larger than the second singular value accepts it
    f = PF.separate(k, rtol=1.0)
    assert f is not None and np.abs(np.outer(*f) - k).max() <= np.abs(k).max()


# ----------------------------------------------------------------------------- edge filters


@pytest.mark.skipif(skf is None, reason="needs scikit-image")
@pytest.mark.parametrize("name", ["sobel", "scharr", "prewitt"])
@given(data=st.data())
def test_edges_match_skimage(name, data):
    x = data.draw(images(min_nd=2, max_nd=3, max_side=7), label="image")
    dt = data.draw(dtypes, label="dtype")
    mode = data.draw(st.sampled_from(FILTER_MODES), label="mode")
    cval = data.draw(st.sampled_from([0.0, 0.75]), label="cval")
    axis = data.draw(st.one_of(st.none(), st.integers(0, x.ndim - 1)), label="axis")
    got = getattr(PF, name)(x.astype(dt), axis=axis, mode=mode, cval=cval)
    ref = getattr(skf, name)(as_ref(x, dt), axis=axis, mode=mode, cval=cval)
    assert_close(got, ref, dt, 3 ** x.ndim, scale=input_scale(x, np.ones(3 ** x.ndim), cval),
                 what="%s %s axis=%s %s" % (name, x.shape, axis, mode))


@pytest.mark.skipif(skf is None, reason="needs scikit-image")
@pytest.mark.parametrize("name", ["sobel_h", "sobel_v", "scharr_h", "scharr_v", "prewitt_h",
                                  "prewitt_v"])
@given(data=st.data())
def test_edges_hv_match_skimage(name, data):
    x = data.draw(images(min_nd=2, max_nd=2, max_side=10), label="image")
    with_mask = data.draw(st.booleans(), label="mask")
    mask = _rand(data.draw(seeds), x.shape) > -0.5 if with_mask else None
    got = getattr(PF, name)(x, mask)
    ref = getattr(skf, name)(x, mask)
    assert_close(got, ref, F64, 9, scale=input_scale(x, np.ones(9)))


# --------------------------------------------------------------------- gaussian and uniform


@given(data=st.data())
def test_gaussian_matches_scipy(data):
    x = data.draw(images(max_side=12), label="image")
    dt = data.draw(dtypes, label="dtype")
    sigma = [data.draw(st.sampled_from([0.0, 0.3, 0.8, 1.0, 1.7, 3.0]), label="sigma")
             for _ in range(x.ndim)]
    truncate = data.draw(st.sampled_from([0.5, 1.0, 2.5, 4.0]), label="truncate")
    mode = data.draw(st.sampled_from(FILTER_MODES), label="mode")
    cval = data.draw(st.sampled_from([0.0, -1.25]), label="cval")
    got = PF.gaussian(x.astype(dt), sigma, mode=mode, cval=cval, truncate=truncate)
    ref = ndi.gaussian_filter(as_ref(x, dt), sigma, mode=mode, cval=cval, truncate=truncate)
    assert_close(got, ref, dt, 13, scale=input_scale(x, np.ones(1), cval),
                 what="gaussian %s sigma=%s %s" % (x.shape, sigma, mode))


@given(data=st.data())
def test_uniform_matches_scipy(data):
    x = data.draw(images(max_side=10), label="image")
    dt = data.draw(dtypes, label="dtype")
    size = [data.draw(st.integers(1, 6), label="size") for _ in range(x.ndim)]
    origin = [data.draw(st.integers(-(s // 2), (s - 1) // 2), label="origin") for s in size]
    mode = data.draw(st.sampled_from(FILTER_MODES), label="mode")
    cval = data.draw(st.sampled_from([0.0, 2.0]), label="cval")
    got = PF.uniform(x.astype(dt), size, mode=mode, cval=cval, origin=origin)
    ref = ndi.uniform_filter(as_ref(x, dt), size, mode=mode, cval=cval, origin=origin)
    assert_close(got, ref, dt, int(np.prod(size)), scale=input_scale(x, np.ones(1), cval),
                 what="uniform %s size=%s origin=%s %s" % (x.shape, size, origin, mode))


# ----------------------------------------------------------------- depthwise and separable


PADDING_MODES = ["zeros", "reflect", "replicate", "circular"]


@st.composite
def depthwise_cases(draw):
    n = draw(st.integers(0, 2), label="N")
    c = draw(st.integers(1, 4), label="C")
    m = draw(st.integers(1, 3), label="multiplier")
    h, w = draw(st.integers(1, 9), label="H"), draw(st.integers(1, 9), label="W")
    kh, kw = draw(st.integers(1, 4), label="kH"), draw(st.integers(1, 4), label="kW")
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    mode = draw(st.sampled_from(PADDING_MODES), label="padding_mode")
    if stride == (1, 1) and draw(st.booleans(), label="same"):
        padding = "same"
        ext = [d * (k - 1) for d, k in zip(dilation, (kh, kw))]
        assume(mode == "zeros" or (mode == "reflect" and ext[0] // 2 + ext[0] % 2 < h
                                   and ext[1] // 2 + ext[1] % 2 < w)
               or (mode != "reflect" and ext[0] - ext[0] // 2 <= h and ext[1] - ext[1] // 2 <= w))
    else:
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
        if mode == "reflect":
            assume(padding[0] < h and padding[1] < w)
        elif mode == "circular":
            assume(padding[0] <= h and padding[1] <= w)
    pads = [(p // 2, p - p // 2) for p in ext] if padding == "same" else [(p, p) for p in padding]
    for size, k, d, (lo, hi) in zip((h, w), (kh, kw), dilation, pads):
        assume(size + lo + hi >= d * (k - 1) + 1)
    seed = draw(seeds)
    x = _rand(seed, (n, c, h, w))
    wt = np.round(_rand(seed + 1, (c * m, 1, kh, kw), -2, 2), 3)
    bias = _rand(seed + 2, c * m) if draw(st.booleans(), label="bias") else None
    unbatched = n == 1 and draw(st.booleans(), label="unbatched")
    return (x[0] if unbatched else x), wt, bias, dict(stride=stride, padding=padding,
                                                      dilation=dilation, padding_mode=mode)


@given(case=depthwise_cases(), dt=dtypes)
def test_depthwise_conv2d_matches_reference(case, dt):
    x, w, b, kw = case
    got = pyconv.depthwise_conv2d(x.astype(dt), w.astype(dt),
                                  None if b is None else b.astype(dt), **kw)
    bref = None if b is None else as_ref(b, dt)
    ref = R.depthwise_conv2d(as_ref(x, dt), as_ref(w, dt), bref, **kw)
    assert_close(got, ref, dt, w[0].size, scale=input_scale(x, w[0]) + 1.0,
                 what="depthwise %s %s %s" % (x.shape, w.shape, kw))
    # it is conv2d with groups = C
    c = x.shape[-3]
    np.testing.assert_array_equal(
        got, pyconv.conv2d(x.astype(dt), w.astype(dt), None if b is None else b.astype(dt),
                           groups=c, **kw))


@given(case=depthwise_cases(), o=st.integers(1, 5), dt=dtypes)
def test_separable_conv2d_matches_reference(case, o, dt):
    x, dw, b, kw = case
    pw = np.round(_rand(o, (o, dw.shape[0], 1, 1), -1, 1), 3)
    bias = None if b is None else _rand(o + 7, o)
    got = pyconv.separable_conv2d(x.astype(dt), dw.astype(dt), pw.astype(dt),
                                  None if bias is None else bias.astype(dt), **kw)
    ref = R.separable_conv2d(as_ref(x, dt), as_ref(dw, dt), as_ref(pw, dt),
                             None if bias is None else as_ref(bias, dt), **kw)
    scale = input_scale(x, dw[0]) * np.abs(pw).sum(axis=1).max() + 1.0
    assert_close(got, ref, dt, dw[0].size * dw.shape[0], scale=scale,
                 what="separable %s %s %s" % (x.shape, dw.shape, kw))
    # the pointwise weight may be given as (O, C*m)
    np.testing.assert_array_equal(
        got, pyconv.separable_conv2d(x.astype(dt), dw.astype(dt), pw[:, :, 0, 0].astype(dt),
                                     None if bias is None else bias.astype(dt), **kw))


@given(data=st.data())
def test_flattened_conv2d_is_a_rank1_conv2d(data):
    n, c, o = data.draw(st.integers(0, 2)), data.draw(st.integers(1, 4)), data.draw(
        st.integers(1, 4))
    h, w = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 8))
    ph, pw = data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))
    kh = data.draw(st.integers(1, h + 2 * ph))
    kw = data.draw(st.integers(1, w + 2 * pw))
    dt = data.draw(dtypes)
    seed = data.draw(seeds)
    x = _rand(seed, (n, c, h, w))
    cw, vw, hw = (np.round(_rand(seed + i, s, -2, 2), 3)
                  for i, s in enumerate([(o, c), (o, kh), (o, kw)], 1))
    b = _rand(seed + 9, o) if data.draw(st.booleans()) else None
    got = pyconv.flattened_conv2d(x.astype(dt), cw.astype(dt), vw.astype(dt), hw.astype(dt),
                                  None if b is None else b.astype(dt), padding=(ph, pw))
    dense = (as_ref(cw, dt)[:, :, None, None] * as_ref(vw, dt)[:, None, :, None]
             * as_ref(hw, dt)[:, None, None, :])
    ref = R.conv2d(as_ref(x, dt), dense, None if b is None else as_ref(b, dt),
                   padding=(ph, pw))
    assert got.shape == ref.shape
    scale = c * kh * kw * 8.0 + 1.0
    assert_close(got, ref, dt, 1, scale=scale, what="flattened %s" % ((n, c, o, h, w, kh, kw,
                                                                       ph, pw),))


@given(data=st.data())
def test_channel_shuffle_matches_reference(data):
    nd = data.draw(st.integers(2, 5))
    g, k = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    shape = [data.draw(st.integers(0, 3))] + [g * k] + [data.draw(st.integers(1, 3))
                                                       for _ in range(nd - 2)]
    x = _rand(data.draw(seeds), shape)
    view = data.draw(st.sampled_from(["plain", "fortran", "reversed"]))
    if view == "fortran":
        x = np.asfortranarray(x)
    elif view == "reversed":
        x = np.ascontiguousarray(x[::-1])[::-1]
    np.testing.assert_array_equal(pyconv.channel_shuffle(x, g), R.channel_shuffle(x, g))


# -------------------------------------------------------------------------------- shapes


geometry = st.fixed_dictionaries(dict(size=st.integers(1, 40), k=st.integers(1, 7),
                                      s=st.integers(1, 5), p=st.integers(0, 6),
                                      d=st.integers(1, 4)))


@given(g=geometry)
def test_conv_output_shape_counts_the_windows(g):
    """The output length is the number of window positions that fit (brute force)."""
    span = g["d"] * (g["k"] - 1) + 1
    count = len(range(0, g["size"] + 2 * g["p"] - span + 1, g["s"]))
    if count == 0:
        with pytest.raises(ValueError):
            SH.conv_output_shape(g["size"], g["k"], g["s"], g["p"], g["d"])
        return
    assert SH.conv_output_shape(g["size"], g["k"], g["s"], g["p"], g["d"]) == count
    # per-axis tuples give the per-axis answers
    assert SH.conv_output_shape((g["size"], 5 + span), (g["k"], g["k"]), g["s"], g["p"],
                                g["d"]) == (count, SH.conv_output_shape(5 + span, g["k"], g["s"],
                                                                        g["p"], g["d"]))


@given(g=geometry, op=st.integers(0, 4))
def test_conv_transpose_output_shape_is_the_adjoint_size(g, op):
    """The transposed convolution of an input of length L has the length of the input whose
    convolution has length L, for output_padding < stride; pyconv's own
    conv_transpose1d agrees."""
    assume(op < max(g["s"], g["d"]))
    o = (g["size"] - 1) * g["s"] - 2 * g["p"] + g["d"] * (g["k"] - 1) + op + 1
    if o < 1:
        with pytest.raises(ValueError):
            SH.conv_transpose_output_shape(g["size"], g["k"], g["s"], g["p"], op, g["d"])
        return
    got = SH.conv_transpose_output_shape(g["size"], g["k"], g["s"], g["p"], op, g["d"])
    assert got == o
    if op < g["s"]:  # output_padding picks one of the `stride` sizes that map to `size`
        assert SH.conv_output_shape(got, g["k"], g["s"], g["p"], g["d"]) == g["size"]
    y = pyconv.conv_transpose1d(np.ones((1, 1, g["size"])), np.ones((1, 1, g["k"])),
                                stride=g["s"], padding=g["p"], output_padding=op,
                                dilation=g["d"])
    assert y.shape[-1] == got


@given(cin=st.integers(1, 8), cout=st.integers(1, 8), g=st.integers(1, 4),
       k=st.lists(st.integers(1, 5), min_size=1, max_size=3), bias=st.booleans(),
       osize=st.lists(st.integers(1, 6), min_size=3, max_size=3))
def test_param_count_and_flops_count_the_weights(cin, cout, g, k, bias, osize):
    assume(cin % g == 0 and cout % g == 0)
    w = np.zeros((cout, cin // g) + tuple(k))
    assert SH.param_count(cin * 1, cout, tuple(k), g, bias) == w.size + (cout if bias else 0)
    out = tuple(osize[:len(k)])
    # brute force: one multiply-add per (output value, weight of its group)
    macs = int(np.prod(out)) * cout * (cin // g) * int(np.prod(k))
    assert SH.flops(cin, cout, tuple(k), out, g, bias) == 2 * macs + (
        int(np.prod(out)) * cout if bias else 0)


@given(layers=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 3)),
                       max_size=5))
def test_receptive_field_brute_force(layers):
    """Follow the input positions one output pixel reads back through the layers."""
    reach = {0}
    for k, s, d in reversed(layers):
        reach = {o * s + t * d for o in reach for t in range(k)}
    assert SH.receptive_field(layers) == max(reach) - min(reach) + 1
    assert SH.receptive_field([{"kernel_size": k, "stride": s, "dilation": d}
                               for k, s, d in layers]) == max(reach) - min(reach) + 1


@given(data=st.data())
def test_conv_matrix_is_the_reference_convolution(data):
    nd = data.draw(st.integers(1, 3))
    size = tuple(data.draw(st.integers(1, 7)) for _ in range(nd))
    k = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    s, p, d = data.draw(st.integers(1, 3)), data.draw(st.integers(0, 2)), data.draw(
        st.integers(1, 2))
    for n, kk in zip(size, k):
        assume(n + 2 * p >= d * (kk - 1) + 1)
    seed = data.draw(seeds)
    kern = np.round(_rand(seed, k, -2, 2), 3)
    x = _rand(seed + 1, size)
    C = SH.conv_matrix(size, kern, stride=s, padding=p, dilation=d)
    ref = getattr(R, "conv%dd" % nd)(x[None, None], kern[None, None], stride=s, padding=p,
                                     dilation=d)[0, 0]
    np.testing.assert_allclose((C @ x.ravel()).reshape(ref.shape), ref, rtol=1e-12,
                               atol=1e-12)
    # its transpose is the transposed convolution (with the output_padding that restores size)
    y = _rand(seed + 2, ref.shape)
    opad = [(n + 2 * p - d * (kk - 1) - 1) % s for n, kk in zip(size, k)]
    assume(all(o < max(s, d) for o in opad))
    tref = getattr(R, "conv_transpose%dd" % nd)(y[None, None], kern[None, None], stride=s,
                                                padding=p, output_padding=opad, dilation=d)[0, 0]
    np.testing.assert_allclose((C.T @ y.ravel()).reshape(size), tref, rtol=1e-12, atol=1e-12)


@given(data=st.data())
def test_overlap_map_is_the_transposed_convolution_of_ones(data):
    nd = data.draw(st.integers(1, 3))
    size = tuple(data.draw(st.integers(1, 5)) for _ in range(nd))
    k, s, d = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3)), data.draw(
        st.integers(1, 2))
    p = data.draw(st.integers(0, 2))
    op = data.draw(st.integers(0, max(s, d) - 1))
    o = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n in size]
    assume(min(o) >= 1)
    got = SH.overlap_map(size, k, s, p, d, op)
    ref = getattr(R, "conv_transpose%dd" % nd)(np.ones((1, 1) + size), np.ones((1, 1) + (k,) * nd),
                                               stride=s, padding=p, output_padding=op,
                                               dilation=d)[0, 0]
    if nd == 1:
        ref = ref.reshape(-1)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.reshape(ref.shape), np.rint(ref).astype(np.int64))
