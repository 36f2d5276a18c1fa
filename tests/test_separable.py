"""pyconv._separable against scipy.ndimage, scikit-image, PyTorch and plain-NumPy loops.

sepfilter / gaussian / uniform: scipy.ndimage; sobel / scharr / prewitt (+ _h / _v) and
gaussian: skimage.filters; flattened_conv2d: a float64 NumPy loop over the dense weight and,
when torch imports, torch.nn.functional.conv2d composition.
"""
from functools import reduce

import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage.filters as skf

from pyconv import _engine, filters
from pyconv._separable import (flattened_conv2d, gaussian, prewitt, prewitt_h, prewitt_v,
                               scharr, scharr_h, scharr_v, separate, sepfilter, sobel, sobel_h,
                               sobel_v, uniform)
from _helpers import (CONSTANT_MODES, MODES, as_ref, assert_close, input_scale, streaming_stores,
                      valid_origins)

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
SHAPES = {1: (11,), 2: (7, 9), 3: (5, 6, 4)}
SMALL_SHAPES = [(1,), (2,), (1, 1), (1, 4), (3, 1), (2, 2), (1, 1, 1), (2, 1, 3)]
EDGES = {"sobel": (sobel, skf.sobel), "scharr": (scharr, skf.scharr),
         "prewitt": (prewitt, skf.prewitt)}
EDGES_HV = {"sobel_h": (sobel_h, skf.sobel_h), "sobel_v": (sobel_v, skf.sobel_v),
            "scharr_h": (scharr_h, skf.scharr_h), "scharr_v": (scharr_v, skf.scharr_v),
            "prewitt_h": (prewitt_h, skf.prewitt_h), "prewitt_v": (prewitt_v, skf.prewitt_v)}
SMOOTH = {"sobel": [1, 2, 1], "scharr": [3, 10, 3], "prewitt": [1, 1, 1]}


def outer(vectors):
    return reduce(np.multiply.outer, vectors)


def chain_ref(x, kernels, modes, cval, origins, axes=None):
    """scipy.ndimage.correlate1d applied axis by axis (skipping None), in float64."""
    axes = range(x.ndim) if axes is None else axes
    y = np.asarray(x, dtype=np.float64)
    for ax, k, m, o in zip(axes, kernels, modes, origins):
        if k is not None:
            y = ndi.correlate1d(y, np.asarray(k, np.float64), axis=ax, mode=m, cval=cval,
                                origin=o)
    return y


def per_channel(fn, image, channel_axis, **kw):
    ax = channel_axis % image.ndim
    return np.stack([fn(np.take(image, c, axis=ax), **kw) for c in range(image.shape[ax])],
                    axis=ax)


def same_nonfinite(got, ref, what=""):
    g = np.asarray(got, dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(ref), err_msg=what + " NaN")
    np.testing.assert_array_equal(np.isposinf(g), np.isposinf(ref), err_msg=what + " +Inf")
    np.testing.assert_array_equal(np.isneginf(g), np.isneginf(ref), err_msg=what + " -Inf")


def layouts(base):
    """The same values in awkward memory layouts (all read-only copies of base)."""
    big = np.zeros(tuple(2 * s for s in base.shape), dtype=base.dtype)
    big[(slice(None, None, 2),) * base.ndim] = base
    ro = base.copy()
    ro.setflags(write=False)
    swapped = base.astype(base.dtype.newbyteorder(">" if base.dtype.byteorder != ">" else "<"))
    rev = np.ascontiguousarray(base[(slice(None, None, -1),) * base.ndim])
    out = {"strided": big[(slice(None, None, 2),) * base.ndim],
           "fortran": np.asfortranarray(base), "byteswapped": swapped, "readonly": ro,
           "negative": rev[(slice(None, None, -1),) * base.ndim]}
    for a in out.values():
        assert np.array_equal(a, base)
    return out


# -------------------------------------------------------------------------------- sepfilter

@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_sepfilter_matches_correlate1d_chain(ndim, mode, dtype, rng):
    x = rng.uniform(-1, 1, SHAPES[ndim])
    for trial in range(3):
        lens = rng.integers(1, 6, ndim)  # odd and even lengths
        ks = [rng.standard_normal(n) for n in lens]
        origins = [int(rng.choice(valid_origins(n, False))) for n in lens]
        got = sepfilter(x.astype(dtype), [k.astype(dtype) for k in ks], mode=mode,
                        origin=origins)
        ref = chain_ref(as_ref(x, dtype), [as_ref(k, dtype) for k in ks], [mode] * ndim, 0.0,
                        origins)
        kk = outer(ks) if ndim > 1 else ks[0]
        assert_close(got, ref, dtype, kk.size, scale=input_scale(x, kk),
                     what=f"{mode} lens={lens} origins={origins}")


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_sepfilter_equals_outer_product_correlate(ndim, mode, dtype, rng):
    # n-D semantics, including a non-zero cval with kernels that do not sum to one
    x = rng.uniform(-1, 1, SHAPES[ndim])
    lens = [3, 4, 2][:ndim]
    ks = [rng.standard_normal(n) for n in lens]
    origins = [0, -1, 0][:ndim]
    got = sepfilter(x.astype(dtype), [k.tolist() for k in ks], mode=mode, cval=1.5,
                    origin=origins)
    kk = outer([as_ref(k, dtype) for k in ks])
    ref = ndi.correlate(as_ref(x, dtype), kk, mode=mode, cval=1.5, origin=origins)
    assert_close(got, ref, dtype, kk.size, scale=input_scale(x, kk, 1.5))


def test_sepfilter_constant_cval_differs_from_naive_chain(rng):
    x = rng.uniform(-1, 1, (6, 7))
    ks = [np.array([1.0, 2.0, 3.0]), np.array([1.0, -1.0])]
    got = sepfilter(x, ks, mode="constant", cval=2.0)
    naive = chain_ref(x, ks, ["constant"] * 2, 2.0, [0, 0])
    assert not np.allclose(got, naive)  # the documented difference
    assert_close(got, ndi.correlate(x, outer(ks), mode="constant", cval=2.0), F64, 6)
    # with weights summing to one before the last pass, the two conventions agree
    ks[0] = ks[0] / ks[0].sum()
    assert_close(sepfilter(x, ks, mode="constant", cval=2.0),
                 chain_ref(x, ks, ["constant"] * 2, 2.0, [0, 0]), F64, 6)


def test_sepfilter_none_modes_origins_per_axis(dtype, rng):
    x = rng.uniform(-1, 1, (5, 6, 7))
    ks = [rng.standard_normal(3).tolist(), None, rng.standard_normal(4).tolist()]
    modes = ["wrap", "constant", "mirror"]
    origins = [1, 0, -2]
    got = sepfilter(x.astype(dtype), ks, mode=modes, origin=origins)
    ref = chain_ref(as_ref(x, dtype), [None if k is None else as_ref(k, dtype) for k in ks],
                    modes, 0.0, origins)
    assert_close(got, ref, dtype, 12, scale=input_scale(x, np.ones(12)))
    # all None: a float copy of the image
    got = sepfilter(x.astype(dtype), [None] * 3)
    assert got.dtype == dtype and np.array_equal(got, x.astype(dtype))


@pytest.mark.parametrize("shape", SMALL_SHAPES)
@pytest.mark.parametrize("mode", MODES)
def test_sepfilter_kernel_longer_than_image(shape, mode, rng):
    x = rng.uniform(-1, 1, shape)
    ks = [rng.standard_normal(n) for n in (7, 8, 5)[:len(shape)]]
    got = sepfilter(x, ks, mode=mode, cval=0.0)
    ref = chain_ref(x, ks, [mode] * len(shape), 0.0, [0] * len(shape))
    assert_close(got, ref, F64, 300, scale=input_scale(x, np.ones(300)))


@pytest.mark.parametrize("shape,channel_axis", [((6, 7, 3), -1), ((3, 6, 7), 0),
                                                ((4, 2, 5, 3), 1), ((9, 2), 1)])
def test_sepfilter_channel_axis(shape, channel_axis, dtype, rng):
    x = rng.uniform(-1, 1, shape)
    ns = len(shape) - 1
    ks = [rng.standard_normal(n) for n in (3, 2, 4)[:ns]]
    got = sepfilter(x.astype(dtype), [k.astype(dtype) for k in ks], mode="reflect",
                    channel_axis=channel_axis)
    ks = [as_ref(k, dtype) for k in ks]
    ref = per_channel(lambda im: chain_ref(im, ks, ["reflect"] * ns, 0.0, [0] * ns),
                      as_ref(x, dtype), channel_axis)
    assert_close(got, ref, dtype, 24, scale=input_scale(x, np.ones(24)))


def test_sepfilter_dtype_policy_and_float32_intermediate(rng):
    x = rng.uniform(-1, 1, (9, 10))
    k0, k1 = rng.standard_normal(3), rng.standard_normal(4)
    # float32 stays float32 through the intermediate: same bits as two correlate1d passes
    x32 = x.astype(np.float32)
    step = filters.correlate1d(x32, k0.astype(np.float32), axis=0)
    expect = filters.correlate1d(step, k1.astype(np.float32), axis=1)
    got = sepfilter(x32, [k0.tolist(), k1.tolist()])
    assert got.dtype == F32
    np.testing.assert_array_equal(got, expect)
    assert sepfilter(x.astype(np.float16), [k0.tolist(), None]).dtype == F32
    assert sepfilter((x * 10).astype(np.int16), [[1, 2, 1], None]).dtype == F64
    assert sepfilter(x > 0, [None, [1, 1]]).dtype == F64
    # a float64 ndarray kernel widens a float32 image (for every pass)
    got = sepfilter(x32, [k0.astype(np.float32), k1])
    assert got.dtype == F64
    assert_close(got, chain_ref(x32.astype(np.float64), [k0.astype(np.float32), k1],
                                ["reflect"] * 2, 0.0, [0, 0]), F64, 12)
    # integers are not rescaled
    xi = np.arange(20, dtype=np.uint8).reshape(4, 5)
    assert_close(sepfilter(xi, [[1, 1, 1], [0.5, 0.5]]),
                 chain_ref(xi.astype(float), [[1, 1, 1], [0.5, 0.5]], ["reflect"] * 2, 0.0,
                           [0, 0]), F64, 6)


def test_sepfilter_out_and_layouts(dtype, rng):
    x = rng.uniform(-1, 1, (8, 9)).astype(dtype)
    ks = [[1.0, -2.0, 0.5], [0.25, 0.75]]
    expect = sepfilter(x, ks)
    out = np.empty_like(x)
    assert sepfilter(x, ks, out=out) is out
    np.testing.assert_array_equal(out, expect)
    inplace = x.copy()
    assert sepfilter(inplace, ks, out=inplace) is inplace
    np.testing.assert_array_equal(inplace, expect)
    fout = np.empty(x.shape, dtype, order="F")
    sepfilter(x, ks, out=fout)
    np.testing.assert_array_equal(fout, expect)
    x0 = x.copy()
    for name, arr in layouts(x).items():
        np.testing.assert_array_equal(sepfilter(arr, ks), expect, err_msg=name)
    np.testing.assert_array_equal(x, x0)


def test_sepfilter_threads_bitwise(rng):
    x = rng.uniform(-1, 1, (300, 310)).astype(np.float32)
    ks = [rng.standard_normal(5), rng.standard_normal(6)]
    np.testing.assert_array_equal(sepfilter(x, ks, num_threads=1),
                                  sepfilter(x, ks, num_threads=2))


# --------------------------------------------------------------------------------- separate

@pytest.mark.parametrize("shape", [(3, 3), (5, 2), (1, 4), (7, 1), (9, 11), (3, 4, 5),
                                   (1, 3, 2), (5, 1, 1), (2, 7, 3)])
def test_separate_rank1(shape, rng):
    for trial in range(5):
        vecs = [rng.uniform(0.2, 2.0, n) * rng.choice([-1.0, 1.0], n) for n in shape]
        k = outer(vecs) * 10.0 ** rng.integers(-6, 7)
        f = separate(k)
        assert f is not None and len(f) == len(shape)
        for v, n in zip(f, shape):
            assert isinstance(v, np.ndarray) and v.dtype == F64 and v.shape == (n,)
        np.testing.assert_allclose(outer(f), k, rtol=0, atol=1e-13 * np.abs(k).max())
        for v in f[1:]:
            assert v[np.argmax(np.abs(v))] > 0


@pytest.mark.parametrize("shape", [(2, 2), (3, 3), (5, 4), (3, 3, 3), (2, 4, 3)])
def test_separate_full_rank_is_none(shape, rng):
    for trial in range(5):
        assert separate(rng.standard_normal(shape)) is None
    # rank-1 plus a relative perturbation of 1e-8: not within the default rtol ...
    vecs = [rng.uniform(0.5, 1.5, n) for n in shape]
    k = outer(vecs)
    noisy = k + 1e-8 * rng.standard_normal(shape)
    assert separate(noisy) is None
    # ... but within an explicit one
    f = separate(noisy, rtol=1e-6)
    assert f is not None
    assert np.abs(outer(f) - noisy).max() <= 1e-6 * np.abs(noisy).max()


def test_separate_special_kernels(rng):
    k1 = rng.standard_normal(5)
    (f,) = separate(k1)
    assert f.dtype == F64 and np.array_equal(f, k1) and f is not k1
    assert separate([1, 2, 3])[0].dtype == F64
    sob = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]])  # integer kernel
    f = separate(sob)
    np.testing.assert_allclose(outer(f), sob, atol=1e-14)
    z = separate(np.zeros((3, 4)))
    assert [v.shape for v in z] == [(3,), (4,)] and not np.any(outer(z))
    bad = np.ones((3, 3))
    bad[1, 1] = np.nan
    assert separate(bad) is None
    bad[1, 1] = np.inf
    assert separate(bad) is None
    assert separate(np.eye(3)) is None
    # a float32 outer product is rank-1 within float32 rounding
    k32 = outer([rng.uniform(0.5, 1.5, 5).astype(np.float32) for _ in range(3)])
    assert k32.dtype == F32 and separate(k32) is not None
    assert separate(k32.astype(np.float64) + 1e-6) is None
    # separate + sepfilter == correlate
    x = rng.uniform(-1, 1, (8, 9, 7))
    k = outer([rng.standard_normal(n) for n in (3, 4, 2)])
    assert_close(sepfilter(x, separate(k), mode="mirror"), ndi.correlate(x, k, mode="mirror"),
                 F64, k.size, scale=input_scale(x, k))


# ----------------------------------------------------------------------------- edge filters

def _edge_case(name, x, dtype, **kw):
    ours, theirs = EDGES[name]
    got = ours(x.astype(dtype), **kw)
    ref = theirs(as_ref(x, dtype), **kw)
    assert_close(got, ref, dtype, 3 ** x.ndim, scale=input_scale(x, np.ones(3 ** x.ndim)),
                 what=f"{name} {x.shape} {kw}")
    return got


@pytest.mark.parametrize("name", sorted(EDGES))
@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_edges_match_skimage(name, ndim, mode, dtype, rng):
    x = rng.uniform(-1, 1, SHAPES[ndim])
    cval = 0.7 if mode in CONSTANT_MODES else 0.0
    for axis in [None] + list(range(ndim)) + [(0, 1)]:
        _edge_case(name, x, dtype, axis=axis, mode=mode, cval=cval)


@pytest.mark.parametrize("name", sorted(EDGES))
@pytest.mark.parametrize("shape", SMALL_SHAPES + [(6,)])
@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
def test_edges_small_images(name, shape, mode, rng):
    x = rng.uniform(-1, 1, shape)
    for axis in [None] + list(range(len(shape))):
        _edge_case(name, x, F64, axis=axis, mode=mode, cval=-0.3)


def edge_chain_ref(name, x, axis, modes, cval):
    """Edge filter from scipy.ndimage.correlate1d passes (skimage's ndi.convolve rejects a
    sequence of modes with RuntimeError, although its docstring allows one)."""
    smooth = np.array(SMOOTH[name], float) / sum(SMOOTH[name])
    axes = range(x.ndim) if axis is None else [axis]
    acc = 0
    for ea in axes:
        ks = [[-1.0, 0.0, 1.0] if a == ea else smooth for a in range(x.ndim)]
        g = chain_ref(x, ks, modes, cval, [0] * x.ndim)
        if axis is not None:
            return g
        acc = acc + g * g
    return np.sqrt(acc / x.ndim)


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edges_mode_per_axis_cval_and_negative_axis(name, rng):
    x = rng.uniform(-1, 1, (6, 7, 5))
    modes = ["constant", "wrap", "mirror"]
    for axis in (None, 0, 1, 2):
        assert_close(EDGES[name][0](x, axis=axis, mode=modes, cval=2.0),
                     edge_chain_ref(name, x, axis, modes, 2.0), F64, 27, scale=27 * 2.0)
    _edge_case(name, x, F64, mode="constant", cval=5.0, axis=1)
    ours = EDGES[name][0]
    for a in range(3):  # negative axes count from the end (skimage mis-handles them)
        np.testing.assert_array_equal(ours(x, axis=a - 3), ours(x, axis=a))
    assert not np.allclose(ours(x, mode="constant", cval=1.0), ours(x, mode="constant"))


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edges_mask(name, dtype, rng):
    for shape in [(9, 8), (5, 6, 7), (1, 3), (2, 2)]:
        x = rng.uniform(-1, 1, shape)
        mask = rng.random(shape) > 0.15
        _edge_case(name, x, dtype, mask=mask)
        _edge_case(name, x, dtype, mask=mask, axis=0)
        fmask = mask * rng.uniform(0.1, 2.0, shape)  # nonzero counts as True
        np.testing.assert_array_equal(EDGES[name][0](x, mask=fmask),
                                      EDGES[name][0](x, mask=mask))
    # with channel_axis the spatial mask applies to every channel
    x = rng.uniform(-1, 1, (7, 8, 3))
    mask = rng.random((7, 8)) > 0.2
    ref = per_channel(lambda im: EDGES[name][1](im, mask=mask), x, -1)
    assert_close(EDGES[name][0](x, mask=mask, channel_axis=-1), ref, F64, 9)


@pytest.mark.parametrize("name", sorted(EDGES_HV))
def test_edges_h_v(name, dtype, rng):
    ours, theirs = EDGES_HV[name]
    x = rng.uniform(-1, 1, (8, 9))
    mask = rng.random((8, 9)) > 0.2
    for m in (None, mask):
        got = ours(x.astype(dtype), m)
        assert_close(got, theirs(as_ref(x, dtype), m), dtype, 9, scale=9.0)
    assert_close(ours(x[:1, :1]), theirs(x[:1, :1]), F64, 9, scale=9.0)
    for bad in (np.ones(5), np.ones((3, 4, 5))):
        with pytest.raises(ValueError, match="image"):
            ours(bad)


@pytest.mark.parametrize("name", sorted(EDGES))
@pytest.mark.parametrize("shape,channel_axis", [((6, 7, 3), -1), ((2, 6, 7), 0),
                                                ((4, 5, 6, 2), 3), ((5, 2, 6), 1)])
def test_edges_channel_axis(name, shape, channel_axis, dtype, rng):
    ours, theirs = EDGES[name]
    x = rng.uniform(-1, 1, shape)
    ns = len(shape) - 1
    spatial = [a for a in range(len(shape)) if a != channel_axis % len(shape)]
    for axis in (None, spatial[-1]):
        kw = dict(mode="mirror", cval=0.0)
        got = ours(x.astype(dtype), axis=axis, channel_axis=channel_axis, **kw)
        sk_axis = None if axis is None else spatial.index(axis)
        ref = per_channel(lambda im: theirs(im, axis=sk_axis, **kw), as_ref(x, dtype),
                          channel_axis)
        assert_close(got, ref, dtype, 3 ** ns, scale=input_scale(x, np.ones(3 ** ns)))
    with pytest.raises(ValueError, match="axis"):
        ours(x, axis=channel_axis, channel_axis=channel_axis)


@pytest.mark.parametrize("name", sorted(EDGES))
@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
def test_edges_nan_inf_like_skimage(name, mode, rng):
    x = rng.uniform(-1, 1, (7, 8))
    x[3, 4] = np.nan
    x[0, 1] = np.inf
    x[6, 7] = -np.inf
    ours, theirs = EDGES[name]
    for axis in (None, 0, 1):
        same_nonfinite(ours(x, axis=axis, mode=mode), theirs(x, axis=axis, mode=mode),
                       f"{name} axis={axis}")


@pytest.mark.parametrize("name", ["sobel", "prewitt"])
def test_edges_scale_relative_to_scipy(name, rng):
    # scipy.ndimage.<name> is unnormalised: factor**(ndim-1) times ours, same sign
    factor = sum(SMOOTH[name])
    for shape in [(7, 8), (5, 6, 4)]:
        x = rng.uniform(-1, 1, shape)
        for axis in range(len(shape)):
            ref = getattr(ndi, name)(x, axis=axis) / factor ** (len(shape) - 1)
            assert_close(EDGES[name][0](x, axis=axis), ref, F64, 27)


def test_edges_scale_relative_to_opencv(rng):
    cv2 = pytest.importorskip("cv2")
    x = rng.uniform(-1, 1, (7, 8))
    assert_close(sobel(x, axis=1, mode="mirror"), cv2.Sobel(x, cv2.CV_64F, 1, 0) / 4, F64, 9)
    assert_close(sobel(x, axis=0, mode="mirror"), cv2.Sobel(x, cv2.CV_64F, 0, 1) / 4, F64, 9)
    assert_close(scharr(x, axis=1, mode="mirror"), cv2.Scharr(x, cv2.CV_64F, 1, 0) / 16,
                 F64, 9)


def test_edges_integer_and_float16_input(rng):
    x = rng.integers(0, 256, (6, 7)).astype(np.uint8)
    got = sobel(x)
    assert got.dtype == F64
    assert_close(got, skf.sobel(x.astype(np.float64)), F64, 9)  # no rescaling ...
    assert_close(got / 255, skf.sobel(x), F64, 9)  # ... unlike skimage's img_as_float
    h = rng.uniform(-1, 1, (6, 7)).astype(np.float16)
    assert sobel(h).dtype == F32 and prewitt_h(h).dtype == F32
    assert_close(scharr(h), skf.scharr(h.astype(np.float64)), F32, 9)
    assert sobel(x > 100).dtype == F64


def test_edges_threads_and_layouts(rng):
    x = rng.uniform(-1, 1, (300, 301))
    np.testing.assert_array_equal(sobel(x, num_threads=1), sobel(x, num_threads=2))
    small = x[:9, :10].copy()
    expect = scharr(small)
    for lname, arr in layouts(small).items():
        np.testing.assert_array_equal(scharr(arr), expect, err_msg=lname)


@pytest.mark.parametrize("shape,kw", [((23, 29), {}), ((23, 29, 3), {"channel_axis": -1}),
                                      ((3, 23, 29), {"channel_axis": 0}), ((7, 8, 9), {}),
                                      ((23, 29), {"axis": 0}), ((7, 8, 9), {"axis": (0, 2)})])
def test_edges_write_out(shape, kw, dtype, rng, monkeypatch):
    """out= (any layout, the image itself, with a mask) holds the bits of the result without
    out, and is the returned array; the one-sweep magnitude writes a contiguous or strided
    out directly (no result array copied into it)."""
    x = rng.uniform(-1, 1, shape).astype(dtype)
    expect = sobel(x, **kw)
    copies = []
    real = _engine.deliver
    monkeypatch.setattr(_engine, "deliver",
                        lambda r, o: copies.append(o is not None and r is not o) or real(r, o))
    ca = kw.get("channel_axis")
    spatial = tuple(n for i, n in enumerate(shape) if ca is None or i != ca % len(shape))
    one_sweep = "axis" not in kw and len(spatial) == 2
    big = np.zeros(tuple(2 * n for n in shape), dtype)
    for name, out in (("c", np.full(shape, 7, dtype)), ("f", np.zeros(shape, dtype, order="F")),
                      ("strided", big[(slice(None, None, 2),) * len(shape)])):
        copies.clear()
        assert sobel(x, out=out, **kw) is out
        np.testing.assert_array_equal(out, expect, err_msg=name)
        assert not (one_sweep and any(copies)), name      # written in place, not copied
    same = x.copy()
    assert sobel(same, out=same, **kw) is same
    np.testing.assert_array_equal(same, expect)
    mask = rng.random(spatial) > 0.3
    out = np.full(shape, 7, dtype)
    np.testing.assert_array_equal(sobel(x, mask=mask, out=out, **kw), sobel(x, mask=mask, **kw))


def test_hv_edges_write_out(rng):
    x = rng.uniform(-1, 1, (13, 17))
    for fn in (sobel_h, scharr_v, prewitt_h):
        out = np.empty_like(x)
        assert fn(x, out=out) is out
        np.testing.assert_array_equal(out, fn(x))
    with pytest.raises(ValueError, match="out"):
        sobel_v(x, out=np.empty((13, 17), np.float32))


# --------------------------------------------------------------------------------- gaussian

@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_gaussian_matches_scipy_and_skimage(ndim, mode, dtype, rng):
    x = rng.uniform(-1, 1, SHAPES[ndim])
    cval = 0.4 if mode in CONSTANT_MODES else 0.0
    sigmas = [1.0, 0.7, [0.5, 1.6, 0.0][:ndim], 2.5]
    for sigma in sigmas:
        for truncate in (4.0, 1.5):
            got = gaussian(x.astype(dtype), sigma, mode=mode, cval=cval, truncate=truncate)
            xr = as_ref(x, dtype)
            ref = ndi.gaussian_filter(xr, sigma, mode=mode, cval=cval, truncate=truncate)
            assert_close(got, ref, dtype, 1, what=f"sigma={sigma} truncate={truncate}")
            sk = skf.gaussian(xr, sigma, mode=mode, cval=cval, truncate=truncate,
                              preserve_range=True)
            assert_close(got, sk, dtype, 1)


def test_gaussian_weights_are_kept_read_only():
    """The Gaussian weights are cached (a small image's call spent a third of its time
    building them): a cached array must not be writable, and equal scipy's kernel."""
    from pyconv._separable import gaussian_weights
    w = gaussian_weights(1.5, 4.0)
    assert gaussian_weights(1.5, 4.0) is w and not w.flags.writeable
    with pytest.raises(ValueError):
        w[0] = 1.0
    impulse = np.zeros(2 * 6 + 1)
    impulse[6] = 1.0
    np.testing.assert_allclose(w, ndi.gaussian_filter1d(impulse, 1.5, truncate=4.0),
                               rtol=1e-14, atol=1e-17)


@pytest.mark.parametrize("shape", SMALL_SHAPES)
def test_gaussian_small_images(shape, rng):
    x = rng.uniform(-1, 1, shape)
    for mode in ("reflect", "constant", "nearest", "mirror", "wrap"):
        got = gaussian(x, 2.0, mode=mode, cval=0.5)
        assert_close(got, ndi.gaussian_filter(x, 2.0, mode=mode, cval=0.5), F64, 1)


def test_gaussian_channel_axis_and_integers(dtype, rng):
    x = rng.uniform(0, 1, (9, 8, 3))
    for ca, sigma in [(-1, 1.2), (2, [1.0, 2.0]), (0, 0.8)]:
        got = gaussian(x.astype(dtype), sigma, channel_axis=ca)
        ref = skf.gaussian(as_ref(x, dtype), sigma, channel_axis=ca, preserve_range=True)
        assert_close(got, ref, dtype, 1)
    # integer images: float64 without rescaling (skimage preserve_range=True)
    xi = rng.integers(0, 256, (10, 11)).astype(np.uint8)
    got = gaussian(xi, 1.5)
    assert got.dtype == F64
    assert_close(got, skf.gaussian(xi, 1.5, preserve_range=True), F64, 1)
    assert_close(got / 255, skf.gaussian(xi, 1.5), F64, 1)
    np.testing.assert_array_equal(gaussian(x, 0), x)  # sigma 0 on every axis: a copy


def test_gaussian_out_nan_and_layouts(rng):
    x = rng.uniform(-1, 1, (12, 13))
    x[5, 6] = np.nan
    got = gaussian(x, 1.0, mode="reflect")
    same_nonfinite(got, ndi.gaussian_filter(x, 1.0, mode="reflect"))
    out = np.empty_like(x)
    assert gaussian(x, 1.0, mode="reflect", out=out) is out
    np.testing.assert_array_equal(out, got)
    x32 = rng.uniform(-1, 1, (9, 10)).astype(np.float32)
    expect = gaussian(x32, [1.0, 0.5])
    for lname, arr in layouts(x32).items():
        np.testing.assert_array_equal(gaussian(arr, [1.0, 0.5]), expect, err_msg=lname)


# ---------------------------------------------------------------------------------- uniform

@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_uniform_matches_scipy(ndim, mode, dtype, rng):
    x = rng.uniform(-1, 1, SHAPES[ndim])
    cval = -0.6 if mode in CONSTANT_MODES else 0.0
    for size in (1, 2, 3, 4, 5):
        for origin in valid_origins(size, False):
            got = uniform(x.astype(dtype), size, mode=mode, cval=cval, origin=origin)
            ref = ndi.uniform_filter(as_ref(x, dtype), size, mode=mode, cval=cval,
                                     origin=origin)
            assert_close(got, ref, dtype, 1, what=f"size={size} origin={origin}")
    sizes, origins = [4, 1, 3][:ndim], [-2, 0, 1][:ndim]
    got = uniform(x.astype(dtype), sizes, mode=mode, cval=cval, origin=origins)
    ref = ndi.uniform_filter(as_ref(x, dtype), sizes, mode=mode, cval=cval, origin=origins)
    assert_close(got, ref, dtype, 1)


@pytest.mark.parametrize("shape", SMALL_SHAPES)
@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
def test_uniform_small_images(shape, mode, rng):
    x = rng.uniform(-1, 1, shape)
    for size in (2, 5, 6):
        assert_close(uniform(x, size, mode=mode, cval=0.3),
                     ndi.uniform_filter(x, size, mode=mode, cval=0.3), F64, 1)


@pytest.mark.parametrize("mode", MODES)
def test_uniform_nan_inf_like_scipy(mode, rng):
    # scipy's running mean: NaN to the end of the line once a NaN enters or an Inf leaves
    for trial in range(6):
        x = rng.uniform(-1, 1, (6, 9))
        idx = rng.integers(0, x.size, 3)
        x.flat[idx] = [np.nan, np.inf, -np.inf][:trial % 3 + 1] + [0.5] * (2 - trial % 3)
        for size in (2, 3):
            for cval in (0.0, np.nan, np.inf):
                got = uniform(x, size, mode=mode, cval=cval)
                ref = ndi.uniform_filter(x, size, mode=mode, cval=cval)
                same_nonfinite(got, ref, f"size={size} cval={cval}")
                fin = np.isfinite(ref)
                np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-12, atol=1e-14)


def test_uniform_channel_axis_integers_out(dtype, rng):
    x = rng.uniform(-1, 1, (7, 3, 8))
    got = uniform(x.astype(dtype), [3, 2], channel_axis=1, mode="wrap")
    ref = per_channel(lambda im: ndi.uniform_filter(im, [3, 2], mode="wrap"), as_ref(x, dtype),
                      1)
    assert_close(got, ref, dtype, 1)
    xi = np.full((5, 6), 255, dtype=np.uint8)
    xi[0, 0] = 254
    got = uniform(xi, 3)
    assert got.dtype == F64
    assert_close(got, ndi.uniform_filter(xi.astype(np.float64), 3), F64, 1)
    assert got[-1, -1] == 255.0  # means of integers are exact where they can be
    y = x.copy()
    assert uniform(y, 4, out=y) is y
    np.testing.assert_array_equal(y, uniform(x, 4))
    big = rng.uniform(-1, 1, (300, 300)).astype(np.float32)
    np.testing.assert_array_equal(uniform(big, 7, num_threads=1),
                                  uniform(big, 7, num_threads=2))


@pytest.mark.parametrize("mode", ["reflect", "nearest", "wrap", "constant"])
def test_uniform_means_of_integers_are_correctly_rounded(mode, dtype, rng):
    """The box sums of integer-valued samples are exact and divided once by the box's
    number of samples: the correctly rounded mean (exact integer sums from
    scipy.ndimage.correlate on int64, divided in float64), in every path: the fused sweep,
    the passes alone (1-D and 3-D), in place, two threads.  Dividing after each axis is not
    (it fails this test)."""
    for shape, size in (((37, 41), (3, 5)), ((5, 6, 7), (3, 3, 5)), ((50,), (7,)),
                        ((300, 301), (5, 3))):
        xi = rng.integers(0, 256, shape)
        sums = ndi.correlate(xi, np.ones(size, np.int64), mode=mode, cval=7)
        want = (sums / float(np.prod(size))).astype(dtype)
        x = xi.astype(dtype)
        for threads in (1, 2):
            got = uniform(x, size, mode=mode, cval=7, num_threads=threads)
            assert got.tobytes() == want.tobytes(), (shape, threads)
        y = x.copy()
        uniform(y, size, mode=mode, cval=7, out=y)
        assert y.tobytes() == want.tobytes(), shape
        with streaming_stores():        # the sums streamed into out=, divided there
            o = np.full(shape, np.nan, dtype)
            assert uniform(x, size, mode=mode, cval=7, out=o) is o
        assert o.tobytes() == want.tobytes(), shape
    # channels last: the fused kernel's interleaved rows
    xi = rng.integers(0, 256, (23, 19, 3))
    sums = ndi.correlate(xi, np.ones((3, 4, 1), np.int64), mode=mode, cval=7)
    got = uniform(xi.astype(dtype), (3, 4), mode=mode, cval=7, channel_axis=-1)
    assert got.tobytes() == (sums / 12.0).astype(dtype).tobytes()


@pytest.mark.parametrize("dt", [F32, F64])
def test_uniform_divides_each_row_as_it_is_written(dt, rng, monkeypatch):
    """The fused sweep divides each box sum by the box's count as it writes the row (in
    registers where the row is streamed, in the row just written otherwise), with no
    division pass over the result: for integer-valued samples (exact sums) that is the
    correctly rounded mean of scipy.ndimage's int64 box sums, fresh or into out=, wide rows
    (streamed) or narrow.  An image with a NaN takes the passes alone and is divided
    afterwards."""
    import pyconv._separable as sep
    counts = []
    real = sep.box_mean
    monkeypatch.setattr(sep, "box_mean", lambda s, c: counts.append(c) or real(s, c))
    for shape, size, mode in (((40, 2100), (3, 5), "reflect"), ((37, 41), (4, 2), "wrap"),
                              ((9, 4100), (5, 5), "nearest"),
                              ((3, 50, 70), (1, 3, 3), "mirror")):
        xi = rng.integers(-300, 300, shape)
        sums = ndi.correlate(xi, np.ones(size, np.int64), mode=mode)
        want = (sums / float(np.prod(size))).astype(dt)
        x = xi.astype(dt)
        counts.clear()
        assert uniform(x, size, mode=mode).tobytes() == want.tobytes(), shape
        with streaming_stores():
            assert uniform(x, size, mode=mode).tobytes() == want.tobytes(), shape
            o = np.full(shape, np.nan, dt)
            uniform(x, size, mode=mode, out=o, num_threads=2)
            assert o.tobytes() == want.tobytes(), shape
        assert all(c == 1 for c in counts), (shape, counts)
    x[1, 2, 3] = np.nan
    counts.clear()
    got = uniform(x, (1, 3, 3), mode="mirror")
    assert counts == [9] and np.isnan(got[1, 1:4, 2:5]).all()


def test_uniform_box_count_past_float32s_integers():
    """A box of more than 2**24 samples (not a float32) divides float32 sums in float64."""
    from pyconv._separable import box_mean
    got = box_mean(np.array([16785408.0], np.float32), 4097 * 4097)
    assert got.dtype == F32 and got[0] == np.float32(16785408 / 16785409) != 1
    x = np.ones((2, 3), np.float32)
    assert_close(uniform(x, 4097, mode="wrap"), ndi.uniform_filter(x.astype(F64), 4097,
                                                                   mode="wrap"), F32, 4097)


# ------------------------------------------------------------------------- flattened_conv2d

def flattened_loop(x, cw, vw, hw, bias, ph, pw):
    """Dense conv2d with the rank-1-per-channel weight, one tap at a time, float64."""
    x = np.asarray(x, np.float64)
    w = (np.asarray(cw, np.float64)[:, :, None, None] * np.asarray(vw, np.float64)[:, None, :, None]
         * np.asarray(hw, np.float64)[:, None, None, :])
    o, c, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    out = np.zeros((x.shape[0], o, ho, wo))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("oc,nchw->nohw", w[:, :, i, j], xp[:, :, i:i + ho, j:j + wo])
    if bias is not None:
        out += np.asarray(bias, np.float64)[:, None, None]
    return out


def flattened_torch(x, cw, vw, hw, bias, ph, pw):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    t = lambda a: torch.from_numpy(np.asarray(a, np.float64))  # noqa: E731
    o = len(cw)
    y = F.conv2d(t(x), t(cw)[:, :, None, None])
    y = F.conv2d(y, t(vw)[:, None, :, None], padding=(ph, 0), groups=o)
    y = F.conv2d(y, t(hw)[:, None, None, :], padding=(0, pw), groups=o,
                 bias=None if bias is None else t(bias))
    return y.numpy()


FLAT_CASES = [  # (N, C, H, W, O, kH, kW, padding)
    (2, 3, 7, 8, 4, 3, 3, 1),
    (1, 2, 6, 5, 3, 4, 2, 0),
    (3, 1, 5, 9, 2, 5, 1, (2, 0)),
    (1, 4, 3, 4, 5, 6, 7, (3, 4)),
    (2, 2, 1, 1, 3, 1, 3, (0, 1)),
    (1, 3, 8, 8, 1, 2, 3, 2),
]


@pytest.mark.parametrize("case", FLAT_CASES, ids=str)
@pytest.mark.parametrize("with_bias", [False, True])
def test_flattened_conv2d(case, with_bias, dtype, rng):
    n, c, h, w, o, kh, kw, padding = case
    x = rng.uniform(-1, 1, (n, c, h, w)).astype(dtype)
    cw = rng.standard_normal((o, c)).astype(dtype)
    vw = rng.standard_normal((o, kh)).astype(dtype)
    hw = rng.standard_normal((o, kw)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if with_bias else None
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    got = flattened_conv2d(x, cw, vw, hw, b, padding)
    ref = flattened_loop(x, cw, vw, hw, b, ph, pw)
    assert got.shape == (n, o, h + 2 * ph - kh + 1, w + 2 * pw - kw + 1)
    scale = c * kh * kw * np.abs(cw).max() * np.abs(vw).max() * np.abs(hw).max()
    assert_close(got, ref, dtype, 1, scale=scale)
    assert_close(got, flattened_torch(x, cw, vw, hw, b, ph, pw), dtype, 1, scale=scale)
    # unbatched input gives the unbatched result
    one = flattened_conv2d(x[0], cw, vw, hw, b, padding)
    np.testing.assert_array_equal(one, got[0])


def test_flattened_conv2d_dtypes_and_layouts(rng):
    x = rng.uniform(-1, 1, (2, 3, 6, 7))
    cw, vw = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    hw = rng.standard_normal((4, 2))
    x32 = x.astype(np.float32)
    assert flattened_conv2d(x32, cw.tolist(), vw.tolist(), hw.tolist()).dtype == F32
    assert flattened_conv2d(x32, cw.astype(np.float32), vw.astype(np.float32),
                            hw.astype(np.float32)).dtype == F32
    assert flattened_conv2d(x32, cw, vw.astype(np.float32), hw.astype(np.float32)).dtype == F64
    assert flattened_conv2d(x32.astype(np.float16), cw.tolist(), vw.tolist(),
                            hw.tolist()).dtype == F32
    xi = (x * 100).astype(np.int32)
    assert_close(flattened_conv2d(xi, cw, vw, hw, padding=1),
                 flattened_loop(xi, cw, vw, hw, None, 1, 1), F64, 1, scale=100.0 * 18 * 27)
    expect = flattened_conv2d(x, cw, vw, hw, [1.0, 2.0, 3.0, 4.0], (1, 2))
    x0 = x.copy()
    for lname, arr in layouts(x).items():
        np.testing.assert_array_equal(flattened_conv2d(arr, cw, vw, hw, [1.0, 2.0, 3.0, 4.0],
                                                       (1, 2)), expect, err_msg=lname)
    np.testing.assert_array_equal(x, x0)
    empty = flattened_conv2d(np.zeros((0, 3, 6, 7)), cw, vw, hw, padding=1)
    assert empty.shape == (0, 4, 6, 8)


# ------------------------------------------------------------------- never modifies input

def test_no_function_modifies_its_input(rng):
    x = rng.uniform(-1, 1, (6, 7))
    x[2, 3] = np.nan
    x[0, 0] = np.inf
    x0 = x.copy()
    calls = [lambda a: sepfilter(a, [[1, 2], [1, 0, 1]]), lambda a: sobel(a, mask=a > 0),
             scharr, prewitt, sobel_h, sobel_v, scharr_h, scharr_v, prewitt_h, prewitt_v,
             gaussian, uniform, lambda a: separate(a[:3, :3])]
    for call in calls:
        call(x)
        assert np.array_equal(x, x0, equal_nan=True)
    ro = x.copy()
    ro.setflags(write=False)
    for call in calls:
        call(ro)


# ---------------------------------------------------------------------- bad arguments

def _img(shape=(6, 7)):
    return np.random.default_rng(2).uniform(-1, 1, shape)


def _ro(a):
    a.setflags(write=False)
    return a


_flat = dict(channel_weight=np.ones((2, 3)), vertical_weight=np.ones((2, 3)),
             horizontal_weight=np.ones((2, 3)))


def _fc(**kw):
    args = dict(x=np.ones((1, 3, 5, 5)), **_flat)
    args.update(kw)
    return lambda: flattened_conv2d(**args)


BAD_CALLS = [
    ("sep-image-none", lambda: sepfilter(None, [[1]]), "image"),
    ("sep-image-complex", lambda: sepfilter(np.ones(4, complex), [[1]]), "image"),
    ("sep-image-str", lambda: sepfilter("abc", [[1]]), "image"),
    ("sep-image-empty", lambda: sepfilter(np.ones((0, 3)), [[1], [1]]), "image"),
    ("sep-image-4d", lambda: sepfilter(np.ones((2,) * 4), [[1]] * 4), "image"),
    ("sep-kernels-count", lambda: sepfilter(_img(), [[1, 2]]), "kernels"),
    ("sep-kernels-type", lambda: sepfilter(_img(), 3), "kernels"),
    ("sep-kernels-str", lambda: sepfilter(_img(), "ab"), "kernels"),
    ("sep-kernel-2d", lambda: sepfilter(_img(), [np.ones((2, 2)), None]), r"kernels\[0\]"),
    ("sep-kernel-empty", lambda: sepfilter(_img(), [None, []]), r"kernels\[1\]"),
    ("sep-kernel-complex", lambda: sepfilter(_img(), [None, np.ones(3, complex)]),
     r"kernels\[1\]"),
    ("sep-mode", lambda: sepfilter(_img(), [[1], [1]], mode="foo"), "mode"),
    ("sep-mode-count", lambda: sepfilter(_img(), [[1], [1]], mode=["wrap"]), "mode"),
    ("sep-cval", lambda: sepfilter(_img(), [[1], [1]], cval="x"), "cval"),
    ("sep-origin", lambda: sepfilter(_img(), [[1, 2, 3], [1]], origin=2), "origin"),
    ("sep-origin-axis", lambda: sepfilter(_img(), [[1, 2, 3], [1]], origin=[0, 1]), "origin"),
    ("sep-origin-float", lambda: sepfilter(_img(), [[1], [1]], origin=0.5), "origin"),
    ("sep-channel_axis", lambda: sepfilter(_img(), [[1]], channel_axis=2), "channel_axis"),
    ("sep-out", lambda: sepfilter(_img(), [[1], [1]], out=np.empty((6, 7), np.float32)), "out"),
    ("sep-out-ro", lambda: sepfilter(_img(), [[1], [1]], out=_ro(np.empty((6, 7)))), "out"),
    ("sep-out-none-pass", lambda: sepfilter(_img(), [None, None], out=np.empty(3)), "out"),
    ("sep-threads", lambda: sepfilter(_img(), [None, None], num_threads=0), "num_threads"),
    ("sep-threads-float", lambda: sepfilter(_img(), [[1], [1]], num_threads=1.5), "num_threads"),
    ("separate-4d", lambda: separate(np.ones((2,) * 4)), "kernel"),
    ("separate-0d", lambda: separate(3.0), "kernel"),
    ("separate-empty", lambda: separate(np.ones((0, 2))), "kernel"),
    ("separate-complex", lambda: separate(np.ones((2, 2), complex)), "kernel"),
    ("separate-rtol-neg", lambda: separate(np.ones((2, 2)), rtol=-1.0), "rtol"),
    ("separate-rtol-str", lambda: separate(np.ones((2, 2)), rtol="a"), "rtol"),
    ("sobel-axis-range", lambda: sobel(_img(), axis=2), "axis"),
    ("sobel-axis-type", lambda: sobel(_img(), axis=1.0), "axis"),
    ("sobel-axis-empty", lambda: sobel(_img(), axis=()), "axis"),
    ("sobel-mode", lambda: scharr(_img(), mode="symm"), "mode"),
    ("sobel-mode-count", lambda: prewitt(_img(), mode=["wrap"] * 3), "mode"),
    ("sobel-cval", lambda: sobel(_img(), cval=None), "cval"),
    ("sobel-mask-shape", lambda: sobel(_img(), mask=np.ones((7, 6), bool)), "mask"),
    ("sobel-mask-type", lambda: sobel(_img(), mask="abc"), "mask"),
    ("sobel-image-4d", lambda: sobel(np.ones((3,) * 4)), "image"),
    ("sobel-image-0d", lambda: sobel(np.float64(1.0)), "image"),
    ("sobel-channel", lambda: sobel(_img(), channel_axis=-3), "channel_axis"),
    ("sobel-threads", lambda: sobel(_img(), num_threads=-1000), "num_threads"),
    ("sobel_h-mask", lambda: sobel_h(_img(), mask=np.ones((2, 2))), "mask"),
    ("gauss-sigma-neg", lambda: gaussian(_img(), -1.0), "sigma"),
    ("gauss-sigma-nan", lambda: gaussian(_img(), np.nan), "sigma"),
    ("gauss-sigma-len", lambda: gaussian(_img(), [1.0, 1.0, 1.0]), "sigma"),
    ("gauss-sigma-str", lambda: gaussian(_img(), "1"), "sigma"),
    ("gauss-sigma-channel", lambda: gaussian(_img((5, 6, 3)), [1, 1, 0], channel_axis=-1),
     "sigma"),
    ("gauss-truncate", lambda: gaussian(_img(), 1.0, truncate=-1.0), "truncate"),
    ("gauss-mode", lambda: gaussian(_img(), 1.0, mode="edge2"), "mode"),
    ("gauss-out", lambda: gaussian(_img(), 1.0, out=np.empty((6, 7), int)), "out"),
    ("gauss-image", lambda: gaussian(np.array(["a", "b"]), 1.0), "image"),
    ("unif-size-0", lambda: uniform(_img(), 0), "size"),
    ("unif-size-len", lambda: uniform(_img(), [3]), "size"),
    ("unif-size-float", lambda: uniform(_img(), 2.5), "size"),
    ("unif-origin", lambda: uniform(_img(), 3, origin=2), "origin"),
    ("unif-origin-even", lambda: uniform(_img(), 2, origin=1), "origin"),
    ("unif-cval", lambda: uniform(_img(), 3, cval=[1]), "cval"),
    ("unif-channel", lambda: uniform(_img(), 3, channel_axis="0"), "channel_axis"),
    ("flat-x-2d", _fc(x=np.ones((5, 5))), "x"),
    ("flat-x-complex", _fc(x=np.ones((1, 3, 5, 5), complex)), "x"),
    ("flat-cw-1d", _fc(channel_weight=np.ones(3)), "channel_weight"),
    ("flat-cw-c", _fc(channel_weight=np.ones((2, 4))), "channel_weight"),
    ("flat-vw-o", _fc(vertical_weight=np.ones((3, 3))), "vertical_weight"),
    ("flat-hw-o", _fc(horizontal_weight=np.ones((1, 3))), "horizontal_weight"),
    ("flat-hw-empty", _fc(horizontal_weight=np.ones((2, 0))), "horizontal_weight"),
    ("flat-bias", _fc(bias=np.ones(3)), "bias"),
    ("flat-padding-neg", _fc(padding=-1), "padding"),
    ("flat-padding-len", _fc(padding=(1, 1, 1)), "padding"),
    ("flat-padding-float", _fc(padding=1.5), "padding"),
    ("flat-too-small", _fc(vertical_weight=np.ones((2, 7))), "padding|output"),
    ("flat-threads", _fc(num_threads=0), "num_threads"),
]


@pytest.mark.parametrize("call,argname", [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_bad_arguments(call, argname):
    with pytest.raises((ValueError, TypeError), match=argname):
        call()


def test_error_before_any_work(rng):
    x = rng.uniform(-1, 1, (6, 7))
    out = np.full((6, 7), 7.0)
    with pytest.raises(ValueError, match="origin"):
        sepfilter(x, [[1, 2, 3], [1, 2, 3]], origin=[0, 2], out=out)
    with pytest.raises(ValueError, match="mode"):
        uniform(x, 3, mode=["wrap", "bogus"], out=out)
    with pytest.raises(ValueError, match="sigma"):
        gaussian(x, [1.0, -1.0], out=out)
    np.testing.assert_array_equal(out, 7.0)
