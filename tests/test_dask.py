"""pyconv.dask: every result equals the in-memory pyconv result bitwise, at every chunk border,
for every boundary mode, uneven and one-pixel chunks, and chunks smaller than the halo."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import pyconv  # noqa: E402
import pyconv.dask as pdask  # noqa: E402
from pyconv import filters  # noqa: E402
from pyconv._modes import mode_code  # noqa: E402

from _helpers import MODES  # noqa: E402

HAS_CONV = hasattr(pyconv, "conv2d")
needs_conv = pytest.mark.skipif(not HAS_CONV, reason="pyconv.conv2d not available yet")


def random_chunks(rng, n, style):
    """A chunking of an axis of length n: 'one' (1-pixel chunks), 'small' (1-3, mostly
    smaller than the halo), 'uneven' (random cut points), 'whole' (one chunk)."""
    if style == "one" or n == 1:
        return (1,) * n
    if style == "whole":
        return (n,)
    if style == "small":
        out = []
        while sum(out) < n:
            out.append(int(min(rng.integers(1, 4), n - sum(out))))
        return tuple(out)
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(n - 1, int(rng.integers(1, 4))),
                              replace=False))
    return tuple(int(c) for c in np.diff(np.concatenate([[0], cuts, [n]])))


def chunkings(rng, shape, count=3):
    """``count`` chunkings: one-pixel chunks along one random axis, chunks of 1-3 (smaller
    than most halos) along every axis, then random uneven/whole ones."""
    styles = ["uneven", "whole"]
    one = int(rng.integers(len(shape)))
    out = [tuple(random_chunks(rng, n, "one" if a == one else "uneven")
                 for a, n in enumerate(shape)),
           tuple(random_chunks(rng, n, "small") for n in shape)]
    while len(out) < count:
        out.append(tuple(random_chunks(rng, n, styles[rng.integers(2)]) for n in shape))
    return out[:count]


@pytest.fixture(autouse=True)
def synchronous_scheduler():
    """The grids below run on the synchronous scheduler (dask's per-task overhead dominates
    these tiny arrays); the threaded and distributed schedulers have their own tests.  They
    take the ring schedule wherever it is exact (chunks of at least lo + hi samples along
    every filtered axis) and map_overlap elsewhere, so both schedules meet every mode."""
    old = pdask.SCHEDULE
    pdask.SCHEDULE = "ring"
    try:
        with dask.config.set(scheduler="synchronous"):
            yield
    finally:
        pdask.SCHEDULE = old


def image(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def check(result, expected):
    assert isinstance(result, da.Array)
    got = result.compute()
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    # bitwise, including the sign of zeros and NaN payload positions
    assert got.tobytes() == np.ascontiguousarray(expected).tobytes()


# --------------------------------------------------------------------------------------------
# n-D correlate / convolve


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", ["correlate", "convolve"])
def test_nd_every_mode(func, mode, dtype, rng):
    shape = (9, 8)
    x = image(rng, shape, dtype)
    for ch in chunkings(rng, shape):
        kshape = tuple(int(k) for k in rng.integers(1, 6, size=2))  # odd and even lengths
        k = rng.standard_normal(kshape).astype(dtype)
        origin = tuple(int(rng.integers(-(s // 2), (s - 1) // 2 + 1)) for s in kshape)
        cval = float(rng.standard_normal())
        expected = getattr(filters, func)(x, k, mode=mode, cval=cval, origin=origin)
        res = getattr(pdask, func)(da.from_array(x, chunks=ch), k, mode=mode, cval=cval,
                                   origin=origin)
        check(res, expected)


@pytest.mark.parametrize("mode", ["reflect", "mirror", "wrap", "nearest", "constant"])
def test_nd_3d_per_axis_modes_and_channels(mode, rng):
    x = image(rng, (5, 6, 4), np.float32)
    k = rng.standard_normal((3, 2, 4)).astype(np.float32)
    modes = [mode, "wrap", "mirror"]
    for ch in chunkings(rng, x.shape, count=2):
        dx = da.from_array(x, chunks=ch)
        check(pdask.correlate(dx, k, mode=modes, origin=(0, -1, 1)),
              filters.correlate(x, k, mode=modes, origin=(0, -1, 1)))
        check(pdask.convolve(dx, k[:, :, 0], mode=mode, cval=2.5, channel_axis=-1),
              filters.convolve(x, k[:, :, 0], mode=mode, cval=2.5, channel_axis=-1))


@pytest.mark.parametrize("mode", MODES)
def test_one_pixel_chunks_everywhere(mode, rng):
    x = image(rng, (5, 6), np.float32)
    dx = da.from_array(x, chunks=1)
    k = rng.standard_normal((2, 3)).astype(np.float32)
    check(pdask.correlate(dx, k, mode=mode, cval=0.5, origin=(-1, 1)),
          filters.correlate(x, k, mode=mode, cval=0.5, origin=(-1, 1)))
    check(pdask.gaussian(dx, 0.7, mode=mode, cval=0.5), filters.gaussian(x, 0.7, mode=mode,
                                                                          cval=0.5))


def test_outer_edge_padded_when_an_outer_chunk_is_too_short(rng):
    # mirror reads samples 1..lo past the edge: an outer block of lo samples cannot reflect
    # itself, so that axis is padded from the whole array instead (both ends)
    mirror = mode_code("mirror")
    assert not pdask._edge_is_local(mirror, 2, 0, 9, 2, 4)
    assert not pdask._edge_is_local(mirror, 0, 2, 9, 4, 2)
    assert pdask._edge_is_local(mirror, 2, 0, 9, 3, 4)
    x = image(rng, (9, 4), np.float64)
    w = np.array([1.0, 2.0, 4.0])
    for mode in ("mirror", "reflect", "nearest", "wrap", "constant"):
        for origin, ch in [(1, (2, 3, 4)), (-1, (4, 3, 2))]:
            check(pdask.correlate1d(da.from_array(x, chunks=(ch, 4)), w, axis=0, mode=mode,
                                    origin=origin),
                  filters.correlate1d(x, w, axis=0, mode=mode, origin=origin))


@pytest.mark.parametrize("mode", MODES)
def test_kernel_longer_than_the_array(mode, rng):
    # repeated reflections / wrap-arounds on the outer edge, every chunk smaller than the halo
    x = image(rng, (3, 7), np.float64)
    k = rng.standard_normal((8, 11))
    for ch in [((1, 1, 1), (1,) * 7), ((2, 1), (3, 4)), ((3,), (7,))]:
        check(pdask.correlate(da.from_array(x, chunks=ch), k, mode=mode, origin=(2, -4)),
              filters.correlate(x, k, mode=mode, origin=(2, -4)))


# --------------------------------------------------------------------------------------------
# 1-D passes


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", ["correlate1d", "convolve1d"])
def test_1d_every_mode(func, mode, dtype, rng):
    x = image(rng, (6, 13), dtype)
    for ch in chunkings(rng, x.shape):
        size = int(rng.integers(1, 8))
        w = rng.standard_normal(size).astype(dtype)
        origin = int(rng.integers(-(size // 2), (size - 1) // 2 + 1))
        axis = int(rng.integers(-2, 2))
        expected = getattr(filters, func)(x, w, axis=axis, mode=mode, cval=0.7, origin=origin)
        res = getattr(pdask, func)(da.from_array(x, chunks=ch), w, axis=axis, mode=mode,
                                   cval=0.7, origin=origin)
        check(res, expected)


# --------------------------------------------------------------------------------------------
# separable and edge filters


@pytest.mark.parametrize("mode", MODES)
def test_gaussian_uniform_sepfilter(mode, rng):
    for dtype, ch in zip([np.float32, np.float64], chunkings(rng, (10, 7), count=2)):
        x = image(rng, (10, 7), dtype)
        dx = da.from_array(x, chunks=ch)
        check(pdask.gaussian(dx, sigma=(1.2, 0.7), mode=mode, cval=1.5),
              filters.gaussian(x, sigma=(1.2, 0.7), mode=mode, cval=1.5))
        check(pdask.uniform(dx, size=(4, 3), mode=mode, cval=-2.0, origin=(1, -1)),
              filters.uniform(x, size=(4, 3), mode=mode, cval=-2.0, origin=(1, -1)))
        ks = [rng.standard_normal(4).astype(dtype), [1, -2, 3]]
        check(pdask.sepfilter(dx, ks, mode=mode, cval=0.5, origin=(-1, 0)),
              filters.sepfilter(x, ks, mode=mode, cval=0.5, origin=(-1, 0)))


@pytest.mark.parametrize("mode", MODES)
def test_edges(mode, rng):
    for name, dtype in [("sobel", np.float32), ("scharr", np.float64), ("prewitt", np.float32)]:
        x = image(rng, (7, 9), dtype)
        ch = chunkings(rng, x.shape, count=3)[rng.integers(3)]
        dx = da.from_array(x, chunks=ch)
        for axis in (None, int(rng.integers(-2, 2))):
            check(getattr(pdask, name)(dx, axis=axis, mode=mode, cval=0.25),
                  getattr(filters, name)(x, axis=axis, mode=mode, cval=0.25))


def test_edges_3d_mask_channels_and_hv(rng):
    x = image(rng, (6, 5, 3), np.float32)
    mask = rng.random((6, 5)) > 0.2
    dx = da.from_array(x, chunks=(2, (1, 4), 2))
    check(pdask.sobel(dx), filters.sobel(x))
    check(pdask.prewitt(dx, mask=mask, channel_axis=-1, mode="wrap"),
          filters.prewitt(x, mask=mask, channel_axis=-1, mode="wrap"))
    check(pdask.scharr(dx, mask=da.from_array(mask, chunks=3), channel_axis=2),
          filters.scharr(x, mask=mask, channel_axis=2))
    x2, dx2 = x[..., 0], dx[..., 0]
    for name in ["sobel_h", "sobel_v", "scharr_h", "scharr_v", "prewitt_h", "prewitt_v"]:
        check(getattr(pdask, name)(dx2), getattr(filters, name)(x2))
    check(pdask.sobel_h(dx2, mask=mask), filters.sobel_h(x2, mask=mask))


def test_gaussian_channel_axis_3d(rng):
    x = image(rng, (4, 9, 8, 5), np.float64)
    dx = da.from_array(x, chunks=(2, 4, 3, 5))
    modes = ["wrap", "constant", "mirror"]
    check(pdask.gaussian(dx, sigma=(0.8, 1.1, 0.6), channel_axis=0, mode=modes, cval=3.0),
          filters.gaussian(x, sigma=(0.8, 1.1, 0.6), channel_axis=0, mode=modes, cval=3.0))
    check(pdask.sobel(dx, channel_axis=0, mode=modes, cval=-1.0),
          filters.sobel(x, channel_axis=0, mode=modes, cval=-1.0))
    check(pdask.sepfilter(dx[0], [[1, 2], None, [3, -1, 2]], mode=modes, cval=2.0),
          filters.sepfilter(x[0], [[1, 2], None, [3, -1, 2]], mode=modes, cval=2.0))
    check(pdask.gaussian(dx, sigma=(0.8, 1.5, 0), channel_axis=0, mode="mirror"),
          filters.gaussian(x, sigma=(0.8, 1.5, 0), channel_axis=0, mode="mirror"))
    check(pdask.uniform(dx, size=1, channel_axis=0), filters.uniform(x, size=1, channel_axis=0))


# --------------------------------------------------------------------------------------------
# NaN/Inf, dtypes, threads, laziness, errors


@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap", "mirror"])
def test_nan_and_inf_spread_as_in_memory(mode, rng):
    x = image(rng, (8, 12), np.float64)
    x[2, 3] = np.nan
    x[5, 9] = np.inf
    x[6, 1] = -np.inf
    k = rng.standard_normal((3, 3))
    k[1, 1] = 0.0  # a zero weight does not spread NaN in the n-D correlation
    for ch in [(1, (5, 7)), (3, 12)]:
        dx = da.from_array(x, chunks=ch)
        check(pdask.correlate(dx, k, mode=mode), filters.correlate(x, k, mode=mode))
        # scipy's running mean: after a NaN enters a line, the rest of the line is NaN
        check(pdask.uniform(dx, size=3, mode=mode), filters.uniform(x, size=3, mode=mode))
        check(pdask.gaussian(dx, 1.0, mode=mode), filters.gaussian(x, 1.0, mode=mode))
        check(pdask.sobel(dx, mode=mode), filters.sobel(x, mode=mode))
    check(pdask.uniform(da.from_array(x, chunks=3), 4, mode="constant", cval=np.nan),
          filters.uniform(x, 4, mode="constant", cval=np.nan))


@pytest.mark.parametrize("size", [3, 4])
@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_running_mean_nan_at_every_position(size, mode, rng):
    """uniform's NaN rule (scipy's running mean: once a NaN enters a line's window, or a
    NaN/Inf leaves it, the rest of the line is NaN) across chunk borders: one NaN, +Inf or
    -Inf at every position of a line cut into chunks of 5, and in a 2-D image at positions
    around the borders of 4 x 5 chunks, against scipy.ndimage.uniform_filter (the same
    non-finite outputs; the finite ones to rounding: scipy divides after every axis)."""
    ndi = pytest.importorskip("scipy.ndimage")

    def against_scipy(x, chunks):
        got = pdask.uniform(da.from_array(x, chunks=chunks), size, mode=mode).compute()
        want = ndi.uniform_filter(x, size, mode=mode)
        for test in (np.isnan, np.isposinf, np.isneginf):
            np.testing.assert_array_equal(test(got), test(want), err_msg=str(x.shape))
        fin = np.isfinite(want)
        np.testing.assert_allclose(got[fin], want[fin], rtol=1e-12, atol=1e-12)

    line = rng.uniform(-1, 1, 20)
    for pos in range(line.size):
        for bad in (np.nan, np.inf, -np.inf):
            x = line.copy()
            x[pos] = bad
            against_scipy(x, 5)
    img = rng.uniform(-1, 1, (12, 15))
    for pos in [(3, 4), (4, 5), (7, 3), (8, 9), (2, 14), (11, 0)]:
        for bad in (np.nan, np.inf):
            x = img.copy()
            x[pos] = bad
            against_scipy(x, (4, 5))


@pytest.mark.parametrize("in_dtype", [np.float16, np.float32, np.float64, np.int16, np.uint8,
                                      bool])
def test_dtype_policy(in_dtype, rng):
    x = (rng.random((7, 6)) * 10).astype(in_dtype)
    dx = da.from_array(x, chunks=(3, 2))
    for fn, args in [("correlate", ([[1, 2], [3, 4]],)), ("gaussian", (1.0,)),
                     ("uniform", (3,)), ("sobel", ())]:
        res = getattr(pdask, fn)(dx, *args)
        expected = getattr(filters, fn)(x, *args)
        assert res.dtype == expected.dtype  # known before computing
        check(res, expected)
    # a float64 ndarray kernel widens float32, as in memory
    res = pdask.correlate(dx.astype(np.float32), np.ones((2, 2)))
    assert res.dtype == np.float64


def test_float32_stays_float32(rng):
    x = image(rng, (5, 5), np.float32)
    dx = da.from_array(x, chunks=2)
    for res in [pdask.gaussian(dx), pdask.uniform(dx), pdask.sobel(dx),
                pdask.correlate(dx, np.ones((3, 3), np.float32)),
                pdask.correlate1d(dx, [1.0, 2.0]), pdask.sepfilter(dx, [[1, 2], None])]:
        assert res.dtype == np.float32
        assert res.compute().dtype == np.float32


def test_thread_counts_do_not_change_the_result(rng):
    x = image(rng, (70, 65), np.float32)
    k = rng.standard_normal((5, 4)).astype(np.float32)
    expected = filters.correlate(x, k, mode="wrap", num_threads=1)
    dx = da.from_array(x, chunks=(33, 20))
    for n in (1, 2, 3):
        check(pdask.correlate(dx, k, mode="wrap", num_threads=n), expected)
    with dask.config.set(scheduler="synchronous"):
        check(pdask.correlate(dx, k, mode="wrap"), expected)


def test_chunk_num_threads_rule():
    ones = da.ones(8, chunks=1)

    def decided(**kw):
        out = ones.map_blocks(lambda b: np.full(b.shape, pdask.chunk_num_threads()),
                              dtype=int)
        return set(out.compute(**kw).tolist())

    assert decided(scheduler="synchronous") == {pyconv.get_num_threads()}
    assert decided(scheduler="threads", num_workers=2) == {1}
    assert decided(scheduler="threads", num_workers=1) == {pyconv.get_num_threads()}
    assert pdask.chunk_num_threads(3) == 3
    with pytest.raises(ValueError):
        pdask.chunk_num_threads(0)


def test_lazy_and_chunks_kept(rng):
    calls = []

    def source(block):
        calls.append(block.shape)
        return block

    x = image(rng, (12, 10), np.float32)
    dx = da.from_array(x, chunks=(4, 5)).map_blocks(source, dtype=np.float32)
    calls.clear()  # map_blocks may call source on an empty array to learn its output
    res = pdask.gaussian(dx, 0.6, mode="wrap")
    res2 = pdask.correlate(dx, np.ones((3, 3), np.float32), mode="constant")
    assert not calls  # nothing computed while building the graph
    assert res.chunks == dx.chunks and res2.chunks == dx.chunks  # chunks >= halo: kept
    check(res, filters.gaussian(x, 0.6, mode="wrap"))
    # a chunk smaller than the halo is merged with its neighbour
    res3 = pdask.correlate(da.from_array(x, chunks=(4, (1, 9))), np.ones((5, 5)))
    assert res3.chunks == ((4, 4, 4), (10,))


def test_errors_match_in_memory(rng):
    x = image(rng, (5, 5), np.float64)
    dx = da.from_array(x, chunks=2)
    cases = [("correlate", (np.ones((3, 3)),), dict(mode="bogus")),
             ("correlate", (np.ones((3, 3)),), dict(origin=2)),
             ("correlate", (np.ones(3),), {}),
             ("gaussian", (-1.0,), {}),
             ("uniform", (0,), {}),
             ("sobel", (), dict(axis=5)),
             ("correlate1d", ([1, 2],), dict(axis=2))]
    for fn, args, kw in cases:
        with pytest.raises((ValueError, TypeError)) as mem:
            getattr(filters, fn)(x, *args, **kw)
        with pytest.raises(type(mem.value)) as lazy:
            getattr(pdask, fn)(dx, *args, **kw)
        assert str(lazy.value) == str(mem.value)
    with pytest.raises(TypeError):
        pdask.gaussian(da.ones((3, 3), dtype=complex, chunks=2))
    with pytest.raises(ValueError, match="empty"):
        pdask.gaussian(da.ones((0, 3), chunks=2))
    with pytest.raises(ValueError, match="num_threads"):
        pdask.gaussian(dx, num_threads=0)


def test_numpy_input_is_accepted(rng):
    x = image(rng, (6, 6), np.float32)
    check(pdask.uniform(x, 3), filters.uniform(x, 3))


# --------------------------------------------------------------------------------------------
# convolution layers (PyTorch conventions)

CONV_CASES = [
    # kernel, stride, dilation, padding, padding_mode, groups
    ((3, 3), 1, 1, 1, "zeros", 1),
    ((3, 2), 2, 1, 0, "zeros", 1),
    ((4, 3), 1, (2, 1), "same", "reflect", 2),
    ((3, 3), (3, 2), 2, 2, "circular", 1),
    ((1, 1), 1, 1, 0, "zeros", 4),
    ((5, 5), 2, 1, "valid", "replicate", 1),
    ((2, 2), 3, 2, 3, "zeros", 2),
]


@needs_conv
@pytest.mark.parametrize("case", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
def test_conv2d(case, dtype, rng):
    k, s, d, p, pm, g = case
    x = image(rng, (3, 4, 13, 11), dtype)
    w = rng.standard_normal((4, 4 // g) + k).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    expected = pyconv.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g,
                             padding_mode=pm)
    for ch in [(1, 4, 1, 11), (2, 2, (5, 1, 7), (2, 9)), (3, 4, 13, 11), (3, 1, 13, 1),
               (1, 3) + tuple(random_chunks(rng, n, "uneven") for n in (13, 11))]:
        res = pdask.conv2d(da.from_array(x, chunks=ch), w, b, stride=s, padding=p,
                           dilation=d, groups=g, padding_mode=pm)
        check(res, expected)


@needs_conv
@pytest.mark.parametrize("mode", ["zeros", "reflect", "circular"])
def test_depthwise_whole_plane_path_in_small_chunks(mode, dtype, rng):
    # the whole array's planes take the whole-plane path; its chunks are far smaller than
    # the size that decides it, and still give the in-memory bits
    import pyconv.nn as nn
    x = image(rng, (2, 3, 50, 49), dtype)
    w = rng.standard_normal((6, 1, 3, 4)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    assert nn._plane_path(3, 6, 3, [1, 1], (50, 48), (3, 4), (1, 1), False, 4)
    expected = pyconv.conv2d(x, w, b, padding=(1, 1), groups=3, padding_mode=mode)
    for ch in [(1, 3, 7, 9), (2, 3, (20, 30), 49)]:
        res = pdask.conv2d(da.from_array(x, chunks=ch), w, b, padding=(1, 1), groups=3,
                           padding_mode=mode)
        check(res, expected)


@needs_conv
def test_depthwise_strided_planes_in_small_chunks(dtype, rng):
    # stride 2 on small zero-padded planes: the whole array decides the path (the planes
    # swept whole), its chunks give the in-memory bits
    import pyconv.nn as nn
    x = image(rng, (2, 3, 14, 13), dtype)
    w = rng.standard_normal((6, 1, 3, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    item = np.dtype(dtype).itemsize
    assert nn._plane_path(3, 6, 3, [2, 2], (7, 7), (3, 3), (1, 1), True, item) == \
        nn._engine.kernels.planes_sweep()[0]
    expected = pyconv.conv2d(x, w, b, stride=2, padding=1, groups=3)
    for ch in [(1, 3, 5, 4), (2, 3, (6, 8), 13)]:
        res = pdask.conv2d(da.from_array(x, chunks=ch), w, b, stride=2, padding=1, groups=3)
        check(res, expected)


@needs_conv
def test_depthwise_channel_path_in_small_chunks(rng):
    # the channel-vector depthwise kernel (float32, zero padding): decided by the whole
    # array, its chunks (spatial and batch) give the in-memory bits
    import pyconv.nn as nn
    x = image(rng, (3, 20, 14, 13), np.float32)
    w = rng.standard_normal((40, 1, 7, 7)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    assert nn._channel_path(20, 40, 20, [1, 1], (14, 13), (7, 7), (1, 1), True,
                            np.float32) == nn._engine.kernels.dw_channels_on()
    for kw in [dict(padding=3), dict(padding=2, stride=2, dilation=(1, 2)),
               dict(padding=3, padding_mode="reflect"), dict(padding=(3, 1), padding_mode="circular")]:
        expected = pyconv.conv2d(x, w, b, groups=20, **kw)
        for ch in [(1, 20, 5, 4), (2, 20, (6, 8), 13)]:
            res = pdask.conv2d(da.from_array(x, chunks=ch), w, b, groups=20, **kw)
            check(res, expected)


@needs_conv
def test_conv3d_conv1d_unbatched(rng):
    x = image(rng, (2, 3, 6, 7, 5), np.float32)
    w = rng.standard_normal((2, 3, 3, 2, 3)).astype(np.float32)
    for kw in [dict(padding=1), dict(padding="same", dilation=(1, 2, 1)),
               dict(stride=(2, 1, 3), padding=(0, 1, 2), padding_mode="circular")]:
        expected = pyconv.conv3d(x, w, **kw)
        check(pdask.conv3d(da.from_array(x, chunks=(1, 2, 2, 3, 2)), w, **kw), expected)
        check(pdask.conv3d(da.from_array(x[0], chunks=(3, 1, 4, 1)), w, **kw),
              pyconv.conv3d(x[0], w, **kw))
    x1 = image(rng, (2, 3, 17), np.float64)
    w1 = rng.standard_normal((6, 1, 4))
    check(pdask.conv1d(da.from_array(x1, chunks=(1, 1, 3)), w1, padding=2, stride=2, groups=3,
                       padding_mode="reflect"),
          pyconv.conv1d(x1, w1, padding=2, stride=2, groups=3, padding_mode="reflect"))


@needs_conv
def test_conv2d_errors_and_output_chunks(rng):
    x = image(rng, (2, 3, 12, 12), np.float32)
    w = np.ones((5, 3, 3, 3), np.float32)
    dx = da.from_array(x, chunks=(1, 1, 4, 6))
    res = pdask.conv2d(dx, w, stride=2, padding=1)
    assert res.chunks == ((1, 1), (5,), (2, 2, 2), (3, 3))
    for kw in [dict(padding="same", stride=2), dict(groups=2), dict(padding_mode="bogus"),
               dict(padding=12, padding_mode="reflect")]:
        with pytest.raises((ValueError, TypeError)) as mem:
            pyconv.conv2d(x, w, **kw)
        with pytest.raises(type(mem.value)):
            pdask.conv2d(dx, w, **kw)


# --------------------------------------------------------------------------------------------
# the two schedules, and results written into out=


def _schedules_used(monkeypatch):
    used = []
    ring, overlap = pdask._ring_map, da.map_overlap

    def spy_ring(*a, **k):
        used.append("ring")
        return ring(*a, **k)

    def spy_overlap(*a, **k):
        used.append("overlap")
        return overlap(*a, **k)

    monkeypatch.setattr(pdask, "_ring_map", spy_ring)
    monkeypatch.setattr(pdask.da, "map_overlap", spy_overlap)
    return used


@pytest.mark.parametrize("mode", MODES)
def test_ring_and_overlap_schedules_agree(mode, rng, monkeypatch):
    used = _schedules_used(monkeypatch)
    x = image(rng, (29, 9, 25), np.float32)
    k = rng.standard_normal((3, 4, 2)).astype(np.float32)
    # uneven chunks, each at least lo + hi long (Gaussian sigma 1: 4 + 4)
    dx = da.from_array(x, chunks=((10, 8, 11), (9,), (9, 6, 10)))
    results = {}
    for schedule in ("ring", "overlap"):
        pdask.SCHEDULE = schedule
        used.clear()
        results[schedule] = [
            pdask.correlate(dx, k, mode=mode, cval=-0.5, origin=(1, 0, -1)).compute(),
            pdask.gaussian(dx, (1.0, 0.5, 0.8), mode=mode, cval=2.0).compute(),
            pdask.sobel(dx, mode=mode, cval=0.25).compute(),
            pdask.correlate1d(dx, [1.0, -2.0, 0.5, 3.0], axis=-1, mode=mode).compute()]
        assert set(used) == {schedule}
    expected = [filters.correlate(x, k, mode=mode, cval=-0.5, origin=(1, 0, -1)),
                filters.gaussian(x, (1.0, 0.5, 0.8), mode=mode, cval=2.0),
                filters.sobel(x, mode=mode, cval=0.25),
                filters.correlate1d(x, [1.0, -2.0, 0.5, 3.0], axis=-1, mode=mode)]
    for a, b, e in zip(results["ring"], results["overlap"], expected):
        assert a.tobytes() == e.tobytes()
        assert b.tobytes() == e.tobytes()


@pytest.mark.parametrize("mode", ["wrap", "mirror", "constant"])
def test_ring_schedule_with_pieces_as_tasks(mode, rng, monkeypatch):
    """Under a scheduler with worker processes each neighbour's piece is a task of its own
    (a worker receives the slab, not the whole neighbour); out= is computed there and
    written here."""
    monkeypatch.setattr(pdask, "_shares_memory_scheduler", lambda: False)
    x = image(rng, (31, 27), np.float64)
    dx = da.from_array(x, chunks=(10, (9, 9, 9)))
    lazy = pdask.gaussian(dx, 1.0, mode=mode, cval=0.5)
    assert any(str(k[0]).startswith("pyconv-ring-piece-") for k in dict(lazy.dask))
    expected = filters.gaussian(x, 1.0, mode=mode, cval=0.5)
    check(lazy, expected)
    out = np.zeros_like(x)
    assert pdask.gaussian(dx, 1.0, mode=mode, cval=0.5, out=out) is out
    assert out.tobytes() == expected.tobytes()


@st.composite
def _ring_case(draw):
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 24)) for _ in range(nd))
    chunks = []
    for n in shape:
        cuts = sorted(set(draw(st.lists(st.integers(1, max(1, n - 1)), max_size=3)))) \
            if n > 1 else []
        chunks.append(tuple(int(c) for c in np.diff([0] + cuts + [n])))
    modes = [draw(st.sampled_from(MODES)) for _ in range(nd)]
    kind = draw(st.sampled_from(["correlate", "convolve", "gaussian", "sepfilter", "sobel"]))
    return shape, tuple(chunks), modes, kind, draw(st.integers(0, 2**31 - 1))


@given(_ring_case())
def test_ring_schedule_randomised(case):
    """Random shapes, chunkings (uneven, one-sample, a single chunk), per-axis modes and
    kernels: with the ring schedule preferred wherever it is exact, the result (lazy and
    out=) is the in-memory one, bit for bit."""
    shape, chunks, modes, kind, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32 if seed % 2 else np.float64)
    dx = da.from_array(x, chunks=chunks)
    cval = float(rng.standard_normal())
    if kind in ("correlate", "convolve"):
        k = rng.standard_normal(tuple(int(v) for v in rng.integers(1, 6, size=len(shape))))
        origin = [int(rng.integers(-(s // 2), (s - 1) // 2 + 1)) for s in k.shape]
        args, kw = (k.astype(x.dtype),), dict(mode=modes, cval=cval, origin=origin)
    elif kind == "gaussian":
        args, kw = ([float(v) for v in rng.uniform(0.3, 1.5, len(shape))],), \
            dict(mode=modes, cval=cval)
    elif kind == "sepfilter":
        ks = [rng.standard_normal(int(rng.integers(1, 6))) for _ in shape]
        args, kw = (ks,), dict(mode=modes, cval=cval)
    else:
        args, kw = (), dict(mode=modes, cval=cval)
    expected = getattr(filters, kind)(x, *args, **kw)
    check(getattr(pdask, kind)(dx, *args, **kw), expected)
    out = np.full(shape, np.nan, expected.dtype)
    assert getattr(pdask, kind)(dx, *args, out=out, **kw) is out
    assert out.tobytes() == expected.tobytes()


def test_auto_schedule_cost_model():
    pdask.SCHEDULE = "auto"
    # large 2-D chunks, thin halo: the ring schedule (slabs are 5% of the chunk)
    assert pdask._ring_pays(((2048,) * 4, (2048,) * 4), {0: (8, 8), 1: (8, 8)})
    # small 3-D chunks, thick halo: the slabs would cost more than the halo copy
    assert not pdask._ring_pays(((16,) * 4,) * 3, {0: (4, 4), 1: (4, 4), 2: (4, 4)})
    # 128² chunks, halo 8 + 8: with slabs along both axes the halo copy is cheaper; when the
    # blocks read their last axis' halos themselves (a fused 2-D sweep) the ring wins
    chunks, lohi = ((128,) * 4, (128,) * 4), {0: (8, 8), 1: (8, 8)}
    assert not pdask._ring_pays(chunks, lohi)
    assert pdask._ring_pays(chunks, lohi, free=1)
    # a chunk shorter than lo + hi: the ring schedule is not exact
    pdask.SCHEDULE = "ring"
    assert not pdask._ring_pays(((6, 20),), {0: (4, 3)})
    pdask.SCHEDULE = "overlap"
    assert not pdask._ring_pays(((2048,) * 4,), {0: (8, 8)})


class _Store:
    """An array-like target that is not a NumPy array (as zarr is): slice assignment only."""

    def __init__(self, shape, dtype):
        self.data = np.full(shape, np.nan, dtype)
        self.shape, self.dtype = shape, np.dtype(dtype)

    def __setitem__(self, key, value):
        self.data[key] = value


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_out_receives_the_in_memory_result(scheduler, rng):
    x = image(rng, (30, 26), np.float32)
    dx = da.from_array(x, chunks=(11, 9))
    k = rng.standard_normal((3, 4)).astype(np.float32)
    mask = rng.random((30, 26)) > 0.2
    calls = [("gaussian", (1.2,), dict(mode="wrap")), ("correlate", (k,), dict(mode="mirror")),
             ("convolve", (k,), dict(mode="constant", cval=1.0)),
             ("correlate1d", ([1.0, 2.0, -1.0],), dict(axis=0)),
             ("convolve1d", ([1.0, 2.0],), dict(mode="nearest")),
             ("sepfilter", ([[1.0, 2.0, 1.0], [1.0, 0.0, -1.0]],), dict(mode="reflect")),
             ("sobel", (), dict(mode="grid-wrap")), ("scharr", (), dict(mask=mask)),
             ("uniform", (4,), dict(mode="reflect")),
             ("gaussian", (0.0,), {})]
    with dask.config.set(scheduler=scheduler):
        for name, args, kw in calls:
            expected = getattr(filters, name)(x, *args, **kw)
            for pitch in (0, 7):
                # out may be a view with its own row pitch
                buf = np.full((30, 26 + pitch), np.nan, np.float32)
                out = buf[:, :26]
                got = getattr(pdask, name)(dx, *args, out=out, **kw)
                assert got is out
                assert out.tobytes() == expected.tobytes(), name
                assert np.isnan(buf[:, 26:]).all()
            store = _Store((30, 26), np.float32)
            assert getattr(pdask, name)(dx, *args, out=store, **kw) is store
            assert store.data.tobytes() == expected.tobytes(), name


def test_out_errors(rng):
    x = image(rng, (12, 10), np.float32)
    dx = da.from_array(x, chunks=5)
    with pytest.raises(ValueError, match="out has shape"):
        pdask.gaussian(dx, out=np.empty((12, 11), np.float32))
    with pytest.raises(ValueError, match="out has dtype"):
        pdask.gaussian(dx, out=np.empty((12, 10), np.float64))
    ro = np.empty((12, 10), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        pdask.sobel(dx, out=ro)
    with pytest.raises(TypeError, match="out must be"):
        pdask.correlate(dx, np.ones((3, 3)), out=da.zeros((12, 10), dtype=np.float32))
    with pytest.raises(TypeError, match="out must be"):
        pdask.uniform(dx, out=[[0.0] * 10] * 12)
    # chunks read their neighbours: writing over an array the graph reads is refused
    held = x.copy()
    graph = {("held", i, 0): held[6 * i:6 * i + 6] for i in range(2)}
    dh = da.Array(graph, "held", chunks=((6, 6), (10,)), dtype=np.float32)
    with pytest.raises(ValueError, match="share memory"):
        pdask.gaussian(dh, out=held)
    with pytest.raises(ValueError, match="share memory"):
        pdask.gaussian(dh, out=held[:, ::-1])
    assert held.tobytes() == x.tobytes()
    # da.from_array copies a NumPy array's chunks: writing the result over it is safe
    expected = filters.gaussian(x, 1.0)
    y = x.copy()
    assert pdask.gaussian(da.from_array(y, chunks=5), 1.0, out=y) is y
    assert y.tobytes() == expected.tobytes()


# --------------------------------------------------------------------------------------------
# a distributed cluster of two worker processes


def test_distributed_local_cluster(rng):
    distributed = pytest.importorskip("distributed")
    x = image(rng, (40, 37), np.float32)
    k = rng.standard_normal((4, 5)).astype(np.float32)
    dx = da.from_array(x, chunks=(17, (3, 20, 14)))
    # chunks of at least lo + hi samples: the ring schedule, its neighbours' pieces (slabs
    # and the fused sweep's halo columns) as tasks of their own on the worker processes
    ring = da.from_array(x, chunks=(20, (13, 12, 12)))
    lazy = [pdask.gaussian(dx, 1.3, mode="grid-wrap"), pdask.sobel(dx, mode="mirror"),
            pdask.correlate(dx, k, mode="wrap", origin=(1, -2)),
            pdask.uniform(dx, 4, mode="constant", cval=1.0),
            pdask.gaussian(ring, (1.0, 0.8), mode="mirror"),
            dx.map_blocks(lambda b: np.full(b.shape, pdask.chunk_num_threads()), dtype=int)]
    expected = [filters.gaussian(x, 1.3, mode="grid-wrap"), filters.sobel(x, mode="mirror"),
                filters.correlate(x, k, mode="wrap", origin=(1, -2)),
                filters.uniform(x, 4, mode="constant", cval=1.0),
                filters.gaussian(x, (1.0, 0.8), mode="mirror")]
    if HAS_CONV:
        xc = image(rng, (2, 3, 15, 14), np.float32)
        wc = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
        lazy.insert(5, pdask.conv2d(da.from_array(xc, chunks=(1, 3, 8, 7)), wc, padding=1,
                                    stride=2))
        expected.append(pyconv.conv2d(xc, wc, padding=1, stride=2))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        results = client.compute(lazy, sync=True)
        # out= with worker processes: computed there, written here
        out = np.full(x.shape, np.nan, np.float32)
        assert pdask.gaussian(dx, 1.3, mode="grid-wrap", out=out) is out
    assert out.tobytes() == expected[0].tobytes()
    for got, exp in zip(results[:-1], expected):
        assert got.dtype == exp.dtype
        assert got.tobytes() == exp.tobytes()
    assert set(np.unique(results[-1])) == {1}  # one pyconv thread per chunk on the workers


def test_fused_chunks_read_their_neighbours_columns(rng, monkeypatch):
    """Under the ring schedule a 2-D separable filter's chunks take the columns beyond their
    left and right edges as halos (no slabs along the last axis); the result is still the
    in-memory one, bit for bit, lazily and with out=."""
    from pyconv import _separable
    pdask.SCHEDULE = "ring"
    calls = []
    real = _separable._fused_pair

    def spy(x, py, px, dt, out, num_threads, halo=None, **kw):
        calls.append(halo)
        return real(x, py, px, dt, out, num_threads, halo, **kw)

    monkeypatch.setattr(_separable, "_fused_pair", spy)
    x = image(rng, (40, 45), np.float32)
    dx = da.from_array(x, chunks=(13, (15, 12, 18)))
    expected = filters.gaussian(x, (1.0, 1.5), mode="mirror")
    calls.clear()
    check(pdask.gaussian(dx, (1.0, 1.5), mode="mirror"), expected)
    with_halo = [h for h in calls if h is not None]
    # every chunk is one fused call with its halos; slabs only along axis 0 (no halo)
    assert len(with_halo) == 9
    sides = sorted((h[0] is None, h[1] is None) for h in with_halo)
    # the first column of chunks has no left neighbour, the last no right one
    assert sides == [(False, False)] * 3 + [(False, True)] * 3 + [(True, False)] * 3
    out = np.zeros_like(x)
    pdask.gaussian(dx, (1.0, 1.5), mode="mirror", out=out)
    assert out.tobytes() == expected.tobytes()
