"""Small whole kernels (every tap of a kd x kh x kw grid, kw <= 8) are swept four output rows
at a time by the AVX-512 module's grid sweep: from the task's tile, from the source rows in
place (rows of 768 columns and more), in short groups at a strip's end.  Each case is checked
against scipy.ndimage, and against the plain tap loops bit for bit: the AVX2 module, run in a
fresh interpreter, sums the same taps in the same order without that sweep.  Dense grids of
40 taps and more (three output rows at a time, four vectors wide in the AVX-512 module) are
checked the same way, and so is the 2-D edge magnitude (Sobel, Scharr, Prewitt), whose
row interiors the AVX-512 module sweeps in registers."""
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi

from pyconv import filters
from pyconv._kernels import SIMD_PATH
from pyconv import _runtime

from _helpers import assert_close, streaming_stores

MODES = ["reflect", "constant", "nearest", "mirror", "wrap"]


def _cases():
    """(seed, image shape, kernel shape, mode, dtype, origin, cval): every kernel width 2..9
    (9: past the sweep), heights 2..6 (a single row is rank 1: sepfilter takes it), 3-D
    grids, images from 1 pixel to rows read in place; zero padding (cval 0: every row read
    in place, the padding masked out) and -0.0 (gathered)."""
    out = []
    seed = 0
    for kh in (2, 3, 4, 5, 6):
        for kw in (2, 3, 4, 5, 7, 8, 9):
            for shape in ((13, 29), (7, 801)):
                for dt in ("float32", "float64"):
                    cval = (0.5, 0.0, -0.0)[seed % 3]
                    out.append((seed, shape, (kh, kw), MODES[seed % 5], dt, 0, cval))
                    seed += 1
    for shape, k in (((1, 1), (3, 3)), ((2, 3), (5, 4)), ((9, 40), (3, 3)),
                     ((4, 6, 9), (2, 3, 3)), ((3, 5, 800), (3, 2, 5)), ((6, 11), (4, 8)),
                     # rows of at most one vector of outputs: eight rows at a time
                     ((9, 16), (3, 3)), ((17, 5), (2, 4)), ((19, 8), (5, 7)),
                     ((5, 9, 12), (2, 3, 4))):
        for dt in ("float32", "float64"):
            out.append((seed, shape, k, MODES[seed % 5], dt, 0, 0.0))
            seed += 1
    # zero padding and rows of at most one vector of outputs: whole planes in registers
    # (pyconv_planes): a second vector per row where the row and the kernel overrun one,
    # last groups of 1 to 3 rows, planes taller than a task's rows, 3-D images with 2-D
    # kernels, shifted origins, kernels taller than the image
    for shape, k, origin in (((14, 14), (3, 3), 0), ((7, 7), (5, 5), 0),
                             ((13, 16), (4, 5), (1, -2)), ((6, 14), (2, 8), 0),
                             ((600, 9), (7, 3), (2, 0)), ((3, 5, 11), (1, 6, 2), 0),
                             ((2, 3), (6, 7), 0), ((1, 1), (2, 2), 0), ((5, 8), (3, 4), (0, 1))):
        for dt in ("float32", "float64"):
            out.append((seed, shape, k, "constant", dt, origin, 0.0))
            seed += 1
    out.append((seed, (10, 790), (3, 3), "reflect", "float32", (1, -1), 0.5))
    out.append((seed + 1, (10, 790), (3, 5), "constant", "float64", (-1, 2), 0.0))
    # rows cut into chunks of columns (tasks start at x0 > 0), zero-padded and gathered
    out.append((seed + 2, (4, 5000), (3, 4), "constant", "float32", 0, 0.0))
    out.append((seed + 3, (4, 5000), (3, 4), "mirror", "float64", (0, 1), 0.0))
    # dense grids of 40 taps and more: three-row register tiles (four vectors wide in the
    # AVX-512 module), from the tile and from rows in place, short last groups, 3-D
    seed += 4
    for shape, k in (((20, 801), (7, 7)), ((11, 37), (7, 7)), ((13, 900), (9, 9)),
                     ((6, 8, 800), (5, 5, 5)), ((4, 5000), (7, 7)), ((31, 70), (5, 9)),
                     ((2, 3), (7, 7))):
        for dt in ("float32", "float64"):
            out.append((seed, shape, k, MODES[seed % 5], dt, 0, 0.5))
            seed += 1
    out.append((seed, (25, 790), (7, 7), "reflect", "float32", (2, -3), 0.0))
    return out


CASES = _cases()


def _inputs(case):
    seed, shape, k, mode, dt, origin, cval = case
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, shape).astype(dt), rng.standard_normal(k).astype(dt), mode,
            origin, cval)


def _streamed(x, w, mode, origin, cval, k):
    """correlate into an out= that starts k samples past a 64-byte boundary, with streaming
    stores on whatever its size (the direct rows' interiors stream from a boundary on)."""
    out = np.zeros(x.size + 16, dtype=x.dtype)
    shift = (-(out.ctypes.data // x.itemsize) + k) % 16
    out = out[shift:shift + x.size].reshape(x.shape)
    with streaming_stores():
        filters.correlate(x, w, mode=mode, cval=cval, origin=origin, out=out)
    return out


def _run_all(cases):
    """Each case's result; rows wide enough to be read in place (and streamed into an
    out=) a second time, into such an out=."""
    res = []
    for case in cases:
        x, w, mode, origin, cval = _inputs(case)
        res.append(filters.correlate(x, w, mode=mode, cval=cval, origin=origin))
        if x.shape[-1] >= 768:
            res.append(_streamed(x, w, mode, origin, cval, case[0] % 16))
    return res


def _edge_cases():
    """(seed, (H, W), channels (None: one plane), dtype, filter, mode, cval, layout) for the
    2-D edge magnitude, whose row interiors the AVX-512 module sweeps in registers when a row
    of W * channels samples spans three vectors and the channels fit in one (fewer than 16
    float32 / 8 float64): rows just short of three vectors and just past, channel counts on
    either side of a vector, rows read in place and gathered (a strided view), an output
    that is a strided view (written through a line, not swept) and a contiguous ``out=``
    written with streaming stores."""
    out = []
    seed = 100
    for dt, lanes in (("float32", 16), ("float64", 8)):
        for ch in (None, 2, 3, lanes - 1, lanes, lanes + 1):
            c = ch or 1
            for W in (max(1, (3 * lanes - 1) // c), -(-3 * lanes // c), 5 * lanes // c + 1, 97):
                name = ("sobel", "scharr", "prewitt")[seed % 3]
                layout = ("contiguous", "gathered", "out-strided", "out-streamed")[seed % 7 % 4]
                out.append((seed, (7, W), ch, dt, name, MODES[seed % 5], 0.5, layout))
                seed += 1
    out.append((seed, (1, 60), 3, "float32", "sobel", "wrap", 0.0, "contiguous"))
    out.append((seed + 1, (40, 1000), 3, "float32", "sobel", "reflect", 0.0, "contiguous"))
    return out


EDGE_CASES = _edge_cases()


def _edge_input(case):
    seed, (H, W), ch, dt, name, mode, cval, layout = case
    rng = np.random.default_rng(seed)
    shape = (H, W) if ch is None else (H, W, ch)
    x = rng.uniform(-1, 1, shape).astype(dt)
    if layout == "gathered":
        x = np.repeat(x, 2, axis=1)[:, ::2]
    return x


def _run_edges(cases):
    res = []
    for case in cases:
        seed, (H, W), ch, dt, name, mode, cval, layout = case
        x = _edge_input(case)
        ca = None if ch is None else -1
        if layout == "out-strided":
            out = np.zeros((H, 2 * W) + x.shape[2:], dtype=dt)[:, ::2]
            getattr(filters, name)(x, mode=mode, cval=cval, channel_axis=ca, out=out)
            res.append(np.array(out))
        elif layout == "out-streamed":
            # a contiguous out= of any size written with streaming stores (from the first
            # 64-byte boundary: the array starts seed % 16 samples past one)
            k = seed % 16
            out = np.zeros(x.size + k, dtype=dt)[k:].reshape(x.shape)
            with streaming_stores():
                getattr(filters, name)(x, mode=mode, cval=cval, channel_axis=ca, out=out)
            res.append(np.array(out))
        else:
            res.append(getattr(filters, name)(x, mode=mode, cval=cval, channel_axis=ca))
    return res


@pytest.mark.parametrize("case", EDGE_CASES, ids=lambda c: "%s-%s-%s-%s-%s-%s" % (
    c[1:6] + c[7:]))
def test_edge_rows_match_skimage(case):
    # (scikit-image is a test requirement; the sanitizer builds' environments lack it)
    skf = pytest.importorskip("skimage.filters")
    seed, (H, W), ch, dt, name, mode, cval, layout = case
    x = _edge_input(case)
    (got,) = _run_edges([case])
    assert got.dtype == x.dtype
    planes = [x] if ch is None else [x[..., c] for c in range(ch)]
    ref = np.stack([getattr(skf, name)(p.astype(np.float64), mode=mode, cval=cval)
                    for p in planes], axis=-1)
    assert_close(got.reshape(ref.shape), ref, x.dtype, 12)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "%s-%s-%s-%s-%s" % (c[1:5] + c[6:]))
def test_grid_kernels_match_ndimage(case):
    x, w, mode, origin, cval = _inputs(case)
    got = filters.correlate(x, w, mode=mode, cval=cval, origin=origin)
    ref = ndi.correlate(x.astype(np.float64), w.astype(np.float64), mode=mode, cval=cval,
                        origin=origin)
    assert got.dtype == x.dtype
    assert_close(got, ref, x.dtype, w.size)
    # threads change which rows share a group of four, not a bit
    np.testing.assert_array_equal(
        got, filters.correlate(x, w, mode=mode, cval=cval, origin=origin, num_threads=2))
    # nor do streaming stores into an out= (from the first 64-byte boundary of the rows
    # read in place; before it, from the tile)
    for k in (0, 1, 15):
        np.testing.assert_array_equal(got, _streamed(x, w, mode, origin, cval, k))
    # and into a fresh result of a size that streams (see _engine.FRESH_STREAM_MAX_BYTES)
    with streaming_stores():
        fresh = filters.correlate(x, w, mode=mode, cval=cval, origin=origin)
    np.testing.assert_array_equal(got, fresh)


SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv[2])
import numpy as np
from pyconv._kernels import SIMD_PATH
import test_grid_sweep as t
res = t._run_all(t.CASES) + t._run_edges(t.EDGE_CASES)
np.savez(sys.argv[1], *res)
print(SIMD_PATH)
"""


@pytest.mark.skipif(not SIMD_PATH.startswith("avx512"),
                    reason="the grid sweep is in the AVX-512 module, not running here")
def test_grid_sweep_equals_the_plain_loops_bitwise(tmp_path):
    if not _runtime.cpu_has_avx2_fma():
        pytest.skip("no AVX2 module to compare with")
    env = dict(os.environ, PYCONV_SIMD="avx2")
    out = tmp_path / "avx2.npz"
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(out), os.path.dirname(__file__)],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("avx2"), r.stdout
    plain = np.load(out)
    got = _run_all(CASES) + _run_edges(EDGE_CASES)
    assert len(got) == len(plain.files)
    for i in range(len(got)):
        np.testing.assert_array_equal(got[i], plain["arr_%d" % i], err_msg=str(i))


@pytest.mark.parametrize("kernel,run", [("correlate", "correlate_tiled_f32"),
                                        ("sobel", "edge2d_f32")])
def test_streaming_stores_only_for_wide_rows(kernel, run, monkeypatch):
    """The grid sweep and the edge rows stream into an out= (and into fresh results up to
    FRESH_STREAM_MAX_BYTES) only with rows of at least STREAM_MIN_ROW_BYTES: narrower
    rows streamed were slower (Sobel, rows of 256 float32 samples: 0.91 against 0.63 ns
    per sample)."""
    from pyconv import _engine, _kernels
    seen = []
    real = getattr(_kernels.kernels, run)
    monkeypatch.setattr(_kernels.kernels, run, lambda *a: seen.append(a[-1]) or real(*a))
    wide = _engine.STREAM_MIN_ROW_BYTES // 4
    for W in (wide // 2, wide):
        x = np.zeros((-(-_engine.STREAM_MIN_BYTES // (4 * W)), W), np.float32)
        if kernel == "correlate":
            filters.correlate(x, np.ones((3, 3), np.float32), out=np.empty_like(x))
        else:
            filters.sobel(x, out=np.empty_like(x))
    assert seen == [False, True]
