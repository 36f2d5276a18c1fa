"""filters.correlate/convolve take the separable path for rank-1 kernels (within rounding)."""
import numpy as np
import pytest
import scipy.ndimage as ndi

import pyconv.filters as pf
from pyconv import _separable

from _helpers import MODES, as_ref, assert_close, input_scale


@pytest.fixture
def count_sep(monkeypatch):
    calls = []
    real = _separable.sepfilter

    def spy(*a, **k):
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(pf, "sepfilter", spy)
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
def test_one_nonfinite_sample_anywhere_takes_the_direct_path(dtype, bad, rng, count_sep):
    # the finiteness scan reads the image in chunks over threads: a single bad sample in
    # the last chunk, at a chunk border or in a Fortran-ordered image must still be seen
    img = rng.uniform(-1, 1, (300, 257)).astype(dtype)
    k = np.outer(_gauss(5, 1), _gauss(5, 1.5)).astype(dtype)
    for pos in (0, 65535, 65536, img.size - 1, int(rng.integers(img.size))):
        for layout in (img, np.asfortranarray(img)):
            x = layout.copy(order="A")
            x.flat[pos] = bad
            count_sep.clear()
            got = pf.correlate(x, k, mode="nearest", num_threads=2)
            assert count_sep == []
            ref = ndi.correlate(x.astype(np.float64), k.astype(np.float64), mode="nearest")
            np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
            np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))


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
