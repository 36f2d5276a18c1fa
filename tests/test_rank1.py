"""filters.correlate/convolve take the separable path for rank-1 kernels (within rounding)."""
import numpy as np
import pytest
import scipy.ndimage as ndi

import pyconv.filters as pf
from pyconv import _separable

from _helpers import MODES, as_ref, assert_close, input_scale


@pytest.fixture
def count_sep(monkeypatch):
    """The results the separable path delivered (its finite-only form gives way, returning
    None, when it meets a NaN or an infinity: not counted)."""
    calls = []
    for name, real in (("sepfilter", _separable.sepfilter),
                       ("_sepfilter_if_finite", _separable.sepfilter_if_finite)):
        def spy(*a, _real=real, **k):
            res = _real(*a, **k)
            if res is not None:
                calls.append(a)
            return res

        monkeypatch.setattr(pf, name, spy)
    return calls


def _gauss(n, s):
    x = np.arange(n) - (n - 1) / 2
    return np.exp(-0.5 * (x / s) ** 2)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("func", ["correlate", "convolve"])
def test_rank1_kernel_takes_the_separable_path(mode, func, dtype, rng, count_sep):
    img = rng.uniform(-1, 1, (23, 30)).astype(dtype)
    k = np.outer(_gauss(7, 1.5), _gauss(6, 2.0) * [1, -2, 3, -1, 2, 1]).astype(dtype)  # even
    origin = (1, -2)
    got = getattr(pf, func)(img, k, mode=mode, cval=0.7, origin=origin)
    assert len(count_sep) == 1
    ref = getattr(ndi, func)(as_ref(img, dtype), k, mode=mode, cval=0.7, origin=origin)
    assert_close(got, ref, dtype, k.size, scale=input_scale(img, k, 0.7))


def test_rank1_3d_and_channel_axis(rng, count_sep):
    img = rng.uniform(-1, 1, (9, 10, 11, 2))
    k = np.multiply.outer(np.outer(_gauss(3, 1), _gauss(5, 1)), _gauss(4, 2))
    got = pf.correlate(img, k, mode="wrap", channel_axis=-1)
    assert len(count_sep) == 1
    for c in range(2):
        assert_close(got[..., c], ndi.correlate(img[..., c], k, mode="wrap"), np.float64, k.size)


@pytest.mark.parametrize("case", ["nan_image", "zero_weight", "not_rank1", "small"])
def test_direct_path_when_the_passes_would_differ(case, rng, count_sep):
    img = rng.uniform(-1, 1, (20, 21))
    k = np.outer(_gauss(5, 1), _gauss(7, 2))
    if case == "nan_image":
        img[5, 6] = np.nan
        img[12, 3] = np.inf
    elif case == "zero_weight":
        k[:, 3] = 0.0
    elif case == "not_rank1":
        k[2, 2] += 0.5
    else:
        k = k[:3, :3]
    got = pf.correlate(img, k, mode="nearest")
    assert count_sep == []
    assert_close(got, ndi.correlate(img, k, mode="nearest"), np.float64, k.size)


def test_rank1_threads_bitwise(rng):
    img = rng.uniform(-1, 1, (300, 301)).astype(np.float32)
    k = np.outer(_gauss(15, 3), _gauss(15, 3)).astype(np.float32)
    one = pf.correlate(img, k, num_threads=1)
    assert np.array_equal(one, pf.correlate(img, k, num_threads=2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dest", ["new", "out", "in_place"])
def test_one_nonfinite_sample_anywhere_takes_the_direct_path(dtype, bad, dest, rng,
                                                             count_sep):
    """A single NaN or infinity anywhere (corners, edges, any row; C or Fortran order; 2
    threads) makes the rank-1 kernel take the n-D sum, whose NaN/Inf positions are
    scipy's: found by the fused kernel's scan of its intermediate rows (a new result or a
    separate out=, which the n-D sum then overwrites) or by reading the image first
    (out= the image itself)."""
    img = rng.uniform(-1, 1, (300, 257)).astype(dtype)
    k = np.outer(_gauss(5, 1), _gauss(5, 1.5)).astype(dtype)
    for pos in (0, 256, 65535, 65536, img.size - 257, img.size - 1,
                int(rng.integers(img.size))):
        for layout in (img, np.asfortranarray(img)):
            x = layout.copy(order="A")
            x.flat[pos] = bad
            ref = ndi.correlate(x.astype(np.float64), k.astype(np.float64), mode="nearest")
            count_sep.clear()
            out = {"new": None, "out": np.zeros_like(x), "in_place": x}[dest]
            got = pf.correlate(x, k, mode="nearest", num_threads=2, out=out)
            assert count_sep == []
            if out is not None:
                assert got is out
            np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
            np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
            fin = np.isfinite(ref)
            assert_close(got[fin], ref[fin], dtype, k.size, scale=float(np.abs(k).sum()))


@pytest.mark.parametrize("kv", [5, 8])
def test_nonfinite_in_every_row_is_found(kv, rng, count_sep):
    """The fused kernel scans only some of its vertically filtered rows (every kv-th and the
    last): a NaN or an infinity in any input row, with the kernel's centre moved as far up or
    down as the origin allows, still sends the call to the n-D sum."""
    img = rng.uniform(-1, 1, (30, 31))
    k = np.outer(_gauss(kv, 1.5), _gauss(5, 1.0))
    for oy in (-(kv // 2), 0, (kv - 1) // 2):
        for mode in ("reflect", "constant", "wrap"):
            for y in range(img.shape[0]):
                x = img.copy()
                x[y, int(rng.integers(31))] = np.nan if y % 2 else np.inf
                count_sep.clear()
                got = pf.correlate(x, k, mode=mode, origin=(oy, 0))
                assert count_sep == [], (oy, mode, y)
                ref = ndi.correlate(x, k, mode=mode, origin=(oy, 0))
                np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_channel_last_and_3d_take_the_direct_path(bad, rng, count_sep):
    """The same for a channel-last image (channels interleaved in the fused kernel's rows)
    and for a 3-D rank-1 kernel (three passes: the image is read first)."""
    k2 = np.outer(_gauss(7, 1), _gauss(6, 1.5))
    k3 = np.multiply.outer(np.outer(_gauss(3, 1), _gauss(4, 1.5)), _gauss(3, 1))
    for img, k, ca in ((rng.uniform(-1, 1, (40, 33, 3)), k2, -1),
                       (rng.uniform(-1, 1, (12, 13, 14)), k3, None)):
        clean = pf.correlate(img, k, mode="reflect", channel_axis=ca)
        assert len(count_sep) == 1
        count_sep.clear()
        img.flat[int(rng.integers(img.size))] = bad
        got = pf.correlate(img, k, mode="reflect", channel_axis=ca)
        assert count_sep == []
        if ca is None:
            ref = ndi.correlate(img, k, mode="reflect")
        else:
            ref = np.stack([ndi.correlate(img[..., c], k, mode="reflect") for c in range(3)],
                           axis=-1)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
        assert clean.shape == got.shape


def test_all_finite_scan_matches_numpy(rng):
    from pyconv import _engine
    big = np.finfo(np.float32).max
    for dtype in (np.float32, np.float64, np.float16, ">f4", ">f8"):
        for n in (0, 1, 65535, 65536, 65537, 200003):
            x = rng.uniform(-1, 1, n).astype(dtype)
            if n:
                x[int(rng.integers(n))] = big if dtype != np.float16 else 60000.0  # finite
            views = [x, x[::3], x.reshape(1, -1).T] if n else [x]
            for v in views:
                for threads in (1, 2):
                    assert _engine.all_finite(v, threads) == bool(np.isfinite(v).all())
            if n:
                for bad in (np.nan, np.inf, -np.inf):
                    y = x.copy()
                    y[int(rng.integers(n))] = bad
                    for threads in (1, 2):
                        assert not _engine.all_finite(y, threads)
                        assert _engine.all_finite(y[::-1], threads) is False
    assert _engine.all_finite(np.arange(5))


def test_all_finite_of_broadcast_and_strided_arrays(rng, monkeypatch):
    """Broadcast axes are read once (a 10**12-sample view of one value is answered at once,
    not by a boolean temporary of its size), and other strided arrays in blocks, so a NaN or
    Inf anywhere, the last block's last sample included, is found."""
    from pyconv import _engine
    assert _engine.all_finite(np.broadcast_to(np.float32(1.0), (10**6, 10**6)))
    assert not _engine.all_finite(np.broadcast_to(np.float64(np.nan), (10**6, 10**6)))
    row = rng.uniform(-1, 1, 7)
    row[3] = -np.inf
    assert not _engine.all_finite(np.broadcast_to(row, (10**5, 7)))
    monkeypatch.setattr(_engine, "FINITE_BLOCK", 1000)
    base = rng.uniform(-1, 1, (301, 67)).astype(">f8")      # byte-swapped: the NumPy path
    for make in (lambda a: a, lambda a: a[::2, ::3], lambda a: a.T[::-1]):
        assert _engine.all_finite(make(base))
        for bad in (np.nan, np.inf):
            for where in ("first", "middle", "last"):
                view = make(base.copy())
                idx = {"first": (0, 0), "middle": (view.shape[0] // 2, 1),
                       "last": (-1, -1)}[where]
                view[idx] = bad
                assert not _engine.all_finite(view), (where, view.strides)
