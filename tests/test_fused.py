"""The fused two-pass kernel (sepfilter over the last two axes) gives the numbers of the two
correlate1d passes bit for bit, in every mode, with origins, cval, batches and threads."""
import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, strategies as st

from pyconv import filters
from pyconv import _engine, _separable

from _helpers import MODES, PAD_MODES, assert_close, input_scale, streaming_stores


def _chain(x, ky, kx, mode, cval, origin):
    step = filters.correlate1d(x, ky, axis=-2, mode=mode[0], cval=cval, origin=origin[0])
    cval2 = cval * float(np.sum(np.asarray(ky, dtype=np.float64)))
    return filters.correlate1d(step, kx, axis=-1, mode=mode[1], cval=cval2, origin=origin[1])


@given(h=st.integers(1, 40), w=st.integers(1, 40), kv=st.integers(1, 9), kh=st.integers(1, 9),
       my=st.sampled_from(MODES), mx=st.sampled_from(MODES), f32=st.booleans(),
       batch=st.booleans(), seed=st.integers(0, 2**31), cval=st.sampled_from([0.0, 1.5]))
def test_fused_equals_two_passes(h, w, kv, kh, my, mx, f32, batch, seed, cval):
    rng = np.random.default_rng(seed)
    dt = np.float32 if f32 else np.float64
    x = rng.uniform(-1, 1, ((3,) if batch else ()) + (h, w)).astype(dt)
    ky = rng.standard_normal(kv).astype(dt)
    kx = rng.standard_normal(kh).astype(dt)
    oy = int(rng.integers(-(kv // 2), (kv - 1) // 2 + 1))
    ox = int(rng.integers(-(kh // 2), (kh - 1) // 2 + 1))
    lead = [None] if batch else []  # a batch axis that no kernel filters
    modes = ["reflect"] * len(lead) + [my, mx]
    got = filters.sepfilter(x, lead + [ky, kx], mode=modes, cval=cval,
                            origin=[0] * len(lead) + [oy, ox])
    expect = _chain(x, ky, kx, (my, mx), cval, (oy, ox))
    assert got.dtype == dt
    np.testing.assert_array_equal(got, expect)


def test_fused_path_is_taken_and_threads_bitwise(monkeypatch):
    calls = []
    real = _separable._fused_pair
    monkeypatch.setattr(_separable, "_fused_pair",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    x = np.random.default_rng(0).uniform(-1, 1, (3, 257, 301)).astype(np.float32)
    one = filters.gaussian(x, 2.0, channel_axis=0, num_threads=1)
    assert calls
    np.testing.assert_array_equal(one, filters.gaussian(x, 2.0, channel_axis=0, num_threads=2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("taps", [1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15, 17, 19, 20])
def test_rows_swept_four_at_a_time_round_as_rows_swept_alone(dtype, taps):
    """Passes along rows sweep four output rows at once where their input rows are all
    inside, and one at a time elsewhere (strip tails, constant-mode edges).  With 'wrap' a
    shifted image gives the shifted result, so every output row, whichever way it was
    swept, must carry the very bits it gets at every other position.  (The AVX-512 sweep
    has its own code for each odd tap count of 3 to 17; the others run its general loop.)"""
    rng = np.random.default_rng(taps)
    x = rng.uniform(-1, 1, (45, 37)).astype(dtype)
    w = rng.standard_normal(taps).astype(dtype)
    kx = rng.standard_normal(3).astype(dtype)
    base_1d = filters.correlate1d(x, w, axis=0, mode="wrap")
    base_2d = filters.sepfilter(x, [w, kx], mode="wrap")
    for shift in (1, 2, 3, 5):
        xs = np.roll(x, shift, axis=0)
        assert filters.correlate1d(xs, w, axis=0, mode="wrap").tobytes() == \
            np.roll(base_1d, shift, axis=0).tobytes()
        assert filters.sepfilter(xs, [w, kx], mode="wrap").tobytes() == \
            np.roll(base_2d, shift, axis=0).tobytes()
    # and both against the float64 sums (the row sweeps read the right rows)
    ref = sum(float(w[t]) * np.roll(x.astype(np.float64), -(t - taps // 2), axis=0)
              for t in range(taps))
    assert_close(base_1d, ref, dtype, scale=input_scale(x, w))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("taps", [1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17, 24, 31])
def test_passes_along_columns_round_as_passes_along_rows(dtype, taps):
    """A pass along the last axis reads its taps at consecutive addresses, and the AVX-512
    build forms those vectors from fewer loads (odd taps shifted out of loaded vectors,
    head, body and masked tail of every row block); a pass along rows reads whole rows.
    Both sum the same products in the same order, so a transposed image must give the
    transposed result bit for bit, at every width around the vector and block sizes and
    with the row starting anywhere in a cache line."""
    rng = np.random.default_rng(100 + taps)
    w = rng.standard_normal(taps).astype(dtype)
    for width in (1, 2, 15, 16, 17, 31, 33, 63, 64, 65, 255, 256, 257, 300):
        for shift in (0, 1, 3, 7):
            buf = rng.uniform(-1, 1, 9 * width + shift).astype(dtype)
            x = buf[shift:].reshape(9, width)          # rows starting mid-line
            for mode in ("reflect", "wrap", "constant"):
                along_x = filters.correlate1d(x, w, axis=1, mode=mode, cval=0.5)
                along_y = filters.correlate1d(np.ascontiguousarray(x.T), w, axis=0,
                                              mode=mode, cval=0.5)
                assert along_x.tobytes() == np.ascontiguousarray(along_y.T).tobytes(), \
                    (width, shift, mode)
    ref = sum(float(w[t]) * np.roll(x.astype(np.float64), -(t - taps // 2), axis=1)
              for t in range(taps))
    assert_close(filters.correlate1d(x, w, axis=1, mode="wrap"), ref, dtype,
                 scale=input_scale(x, w))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_reads_and_writes_rows_at_any_pitch(dtype, monkeypatch):
    """Views into larger images (a dask chunk, a crop, reversed or skipped rows, a batch at
    its own pitch) are read and written in place, with the numbers of a contiguous copy and
    of the chained correlate1d passes."""
    copies = []
    real = np.ascontiguousarray
    monkeypatch.setattr(_separable.np, "ascontiguousarray",
                        lambda a, *k, **kw: (np.ndim(a) > 1 and copies.append(a.shape))
                        or real(a, *k, **kw))
    rng = np.random.default_rng(3)
    big = rng.uniform(-1, 1, (4, 61, 73)).astype(dtype)
    ky, kx = rng.standard_normal(7).astype(dtype), rng.standard_normal(4).astype(dtype)
    views = {"crop": big[1, 5:50, 3:70], "reversed rows": big[2, ::-1, 10:],
             "every other row": big[0, ::2, :64], "batch": big[:, 3:40, 2:71],
             "reversed batch": big[::-2, 1:, :-1]}
    for name, v in views.items():
        copies.clear()
        lead = [None] * (v.ndim - 2)
        got = filters.sepfilter(v, lead + [ky, kx], mode="mirror", cval=0.5)
        assert not copies, name
        contiguous = filters.sepfilter(v.copy(), lead + [ky, kx], mode="mirror", cval=0.5)
        assert got.tobytes() == contiguous.tobytes(), name
        ref = ndi.correlate1d(ndi.correlate1d(v.astype(np.float64), ky.astype(np.float64),
                                              axis=-2, mode="mirror"),
                              kx.astype(np.float64), axis=-1, mode="mirror")
        assert_close(got, ref, dtype, scale=input_scale(v, np.outer(ky, kx)))
        # out= a view at another pitch, surrounded by samples that must not change
        canvas = np.full((v.shape[0] + 2,) * (v.ndim - 2) + (v.shape[-2] + 3, v.shape[-1] + 9),
                         7.0, dtype)
        window = canvas[(slice(1, -1),) * (v.ndim - 2) + (slice(2, -1), slice(4, -5))]
        assert filters.sepfilter(v, lead + [ky, kx], mode="mirror", cval=0.5,
                                 out=window) is window
        assert window.tobytes() == contiguous.tobytes(), name
        untouched = np.ones(canvas.shape, bool)
        untouched[(slice(1, -1),) * (v.ndim - 2) + (slice(2, -1), slice(4, -5))] = False
        assert (canvas[untouched] == 7.0).all(), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
@pytest.mark.parametrize("kv", [2, 9, 15, 17])
def test_fused_rows_at_a_crowding_pitch(dtype, mode, kv):
    """Rows whose pitch is a multiple of 4 KB (1024 float32 or 512 float64 samples) crowd
    into one L1 set; the vertical pass copies wide rows into a ring of rows at a pitch that
    does not, and reads them from there, strip by strip, every thread its own ring.  The
    numbers must be those of the same rows at a pitch that does not crowd, and of the
    chained passes, and close to scipy.ndimage's float64 correlation with the outer
    product."""
    rng = np.random.default_rng(kv)
    n = 4096 // np.dtype(dtype).itemsize
    big = rng.uniform(-1, 1, (2, 70, n)).astype(dtype)
    ky, kx = rng.standard_normal(kv).astype(dtype), rng.standard_normal(5).astype(dtype)
    # whole rows, a crop of each row, rows in reverse order (negative pitches: 4 KB, and
    # 10 KB, whose rows alternate between two L1 sets)
    wide = rng.uniform(-1, 1, (40, n * 5 // 2)).astype(dtype)
    for x in (big[0], big[:, 3:, : n * 5 // 8], big[1, ::-1], wide[::-1]):
        lead = [None] * (x.ndim - 2)
        aside = np.zeros(x.shape[:-1] + (x.shape[-1] + 16,), dtype)[..., 8:-8]
        aside[...] = x                                   # the same rows, 64 bytes further apart
        for threads in (1, 2):
            got = filters.sepfilter(x, lead + [ky, kx], mode=mode, cval=0.5, origin=0,
                                    num_threads=threads)
            other = filters.sepfilter(aside, lead + [ky, kx], mode=mode, cval=0.5,
                                      num_threads=threads)
            assert got.tobytes() == other.tobytes(), (x.shape, threads)
        np.testing.assert_array_equal(got, _chain(x, ky, kx, (mode, mode), 0.5, (0, 0)))
        k2 = np.outer(ky, kx).astype(np.float64).reshape((1,) * (x.ndim - 2) + (kv, 5))
        ref = ndi.correlate(x.astype(np.float64), k2, mode=mode, cval=0.5)
        assert_close(got, ref, dtype, scale=input_scale(x, np.outer(ky, kx)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [130, 300])
def test_fused_narrow_rows_of_a_large_image(dtype, width):
    """Rows of 512 bytes to 2 KB go through the ring of input rows too when the image is
    8 MB or more (its rows come from memory, not from the cache): the numbers of the
    chained passes, of the same rows filtered in small pieces (which read their rows in
    place), and close to scipy.ndimage's float64 passes."""
    rng = np.random.default_rng(width)
    h = -(-(8 << 20) // (width * np.dtype(dtype).itemsize)) + 3
    x = rng.uniform(-1, 1, (h, width)).astype(dtype)
    ky, kx = rng.standard_normal(15).astype(dtype), rng.standard_normal(4).astype(dtype)
    for mode in ("reflect", "constant"):
        got = filters.sepfilter(x, [ky, kx], mode=mode, cval=0.5, num_threads=2)
        np.testing.assert_array_equal(got, _chain(x, ky, kx, (mode, mode), 0.5, (0, 0)))
        # a few hundred rows at a time, each with the rows around it (their own edges aside)
        for y0 in (0, 1000, h - 300):
            piece = filters.sepfilter(x[max(y0 - 7, 0):y0 + 307], [ky, kx], mode=mode, cval=0.5)
            lo = y0 - max(y0 - 7, 0)
            inner = slice(7 if y0 else 0, 300 if y0 + 307 < h else None)
            np.testing.assert_array_equal(got[y0:y0 + 300][inner],
                                          piece[lo:lo + 300][inner], err_msg=(mode, y0))
        step = ndi.correlate1d(x.astype(np.float64), ky.astype(np.float64), axis=0,
                               mode=mode, cval=0.5)
        ref = ndi.correlate1d(step, kx.astype(np.float64), axis=1, mode=mode,
                              cval=0.5 * float(np.sum(ky, dtype=np.float64)))
        assert_close(got, ref, dtype, scale=input_scale(x, np.outer(ky, kx)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kv,kh", [(3, 3), (15, 15), (17, 17), (5, 18), (4, 9)])
def test_fused_streamed_into_out(dtype, kv, kh):
    """Into an out= the fused filter writes each output row from its first 64-byte
    boundary on with streaming stores (the AVX-512 one-pass sums, up to a vector's lanes +
    1 consecutive taps; otherwise ordinary stores): the bits of a fresh result, wherever
    the out= starts, rows narrower than a vector included."""
    with streaming_stores():
        rng = np.random.default_rng(kv * 100 + kh)
        ky, kx = rng.standard_normal(kv).astype(dtype), rng.standard_normal(kh).astype(dtype)
        for shape in ((9, 7), (21, 100), (37, 1030)):
            x = rng.uniform(-1, 1, shape).astype(dtype)
            fresh = filters.sepfilter(x, [ky, kx], mode="mirror")
            ref = ndi.correlate(x.astype(np.float64), np.outer(ky, kx).astype(np.float64),
                                mode="mirror")
            assert_close(fresh, ref, dtype, scale=input_scale(x, np.outer(ky, kx)))
            for k in (0, 1, 15):
                buf = np.zeros(x.size + 16, dtype)
                shift = (-(buf.ctypes.data // buf.itemsize) + k) % 16
                out = buf[shift:shift + x.size].reshape(shape)
                for threads in (1, 2):
                    out[...] = np.nan
                    res = filters.sepfilter(x, [ky, kx], mode="mirror", out=out,
                                            num_threads=threads)
                    assert res is out
                    np.testing.assert_array_equal(out, fresh, err_msg=str((shape, k, threads)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_out_and_nan(dtype):
    x = np.random.default_rng(1).uniform(-1, 1, (30, 31)).astype(dtype)
    x[10, 10] = np.nan
    k = [np.ones(3, dtype), np.ones(5, dtype)]
    out = np.empty_like(x)
    res = filters.sepfilter(x, k, out=out)
    assert res is out
    assert np.isnan(out[9:12, 8:13]).all() and np.isfinite(out[:8]).all()
    y = x.copy()
    filters.sepfilter(y, k, out=y)  # in place
    np.testing.assert_array_equal(y, out)


@pytest.mark.parametrize("name", ["sobel", "scharr", "prewitt", "gaussian", "uniform"])
@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap", "mirror", "nearest"])
def test_fused_filters_equal_the_chained_passes(name, mode, monkeypatch):
    """Edge filters (central difference + smoothing) and smoothing filters through the fused
    kernel give the bits of the pass-by-pass chain, NaN included."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (2, 37, 41)).astype(np.float32)
    x[1, 5, 6] = np.nan
    kw = {"mode": mode, "cval": 0.25}
    if name == "gaussian":
        kw["sigma"] = 1.5
    fn = getattr(filters, name)
    fused = fn(x, channel_axis=0, **kw)
    monkeypatch.setattr(_separable, "_fusable", lambda *a: False)
    chained = fn(x, channel_axis=0, **kw)
    np.testing.assert_array_equal(fused, chained)


# ---- the one-sweep 2-D edge magnitude (sobel / scharr / prewitt without axis) -------------

EDGE_NAMES = ["sobel", "scharr", "prewitt"]
#: scikit-image's smoothing weights (written out here, not taken from pyconv)
EDGE_SMOOTH = {"sobel": np.array([1.0, 2.0, 1.0]) / 4,
               "scharr": np.array([3.0, 10.0, 3.0]) / 16,
               "prewitt": np.array([1.0, 1.0, 1.0]) / 3}


def _edge_magnitude_reference(x, w, my, mx, cval):
    """float64 NumPy: the plane extended by one pixel per side with numpy.pad (rows by
    ``my``, then columns by ``mx``; constant = cval, the n-D correlation's padding), then
    gy = sum_j w[j] (P[i+2, x+j] - P[i, x+j]), gx = sum_i w[i] (P[y+i, j+2] - P[y+i, j]) and
    sqrt((gy**2 + gx**2) / 2)."""
    def pad(a, mode, axis):
        widths = [(1, 1) if ax == axis else (0, 0) for ax in range(2)]
        extra = {"constant_values": cval} if PAD_MODES[mode] == "constant" else {}
        return np.pad(a, widths, mode=PAD_MODES[mode], **extra)
    P = pad(pad(np.asarray(x, dtype=np.float64), my, 0), mx, 1)
    h, v = x.shape
    with np.errstate(invalid="ignore", over="ignore"):
        dy = P[2:, :] - P[:-2, :]
        gy = sum(w[j] * dy[:, j:j + v] for j in range(3))
        dx = P[:, 2:] - P[:, :-2]
        gx = sum(w[i] * dx[i:i + h, :] for i in range(3))
        return np.sqrt((gy * gy + gx * gx) / 2)


@given(h=st.integers(1, 30), w=st.integers(1, 30), my=st.sampled_from(MODES),
       mx=st.sampled_from(MODES), f32=st.booleans(), name=st.sampled_from(EDGE_NAMES),
       seed=st.integers(0, 2**31), cval=st.sampled_from([0.0, -2.5]),
       special=st.sampled_from([None, np.nan, np.inf, -np.inf]),
       channels=st.sampled_from([None, 1, 3]))
def test_edge_magnitude_matches_a_numpy_reference(h, w, my, mx, f32, name, seed, cval,
                                                  special, channels):
    """The one-sweep magnitude against a float64 NumPy reference built from numpy.pad, in
    every mode pair, with cval, 1-pixel sides, a NaN or an infinity in the image, and
    channel-last images (channels interleaved in the kernel's rows)."""
    rng = np.random.default_rng(seed)
    dt = np.float32 if f32 else np.float64
    shape = (h, w) if channels is None else (h, w, channels)
    x = rng.uniform(-1, 1, shape).astype(dt)
    if special is not None:
        x[rng.integers(h), rng.integers(w)] = special
    got = getattr(filters, name)(x, mode=[my, mx], cval=cval,
                                 channel_axis=None if channels is None else -1)
    planes = [x] if channels is None else [x[..., c] for c in range(channels)]
    expect = [_edge_magnitude_reference(p, EDGE_SMOOTH[name], my, mx, cval) for p in planes]
    expect = expect[0] if channels is None else np.stack(expect, axis=-1)
    assert_close(got, expect, dt, 6, scale=input_scale(x, np.ones(6), cval))


def test_edge_magnitude_path_batches_threads_and_mask(monkeypatch):
    calls = []
    real = _separable._edge_magnitude_2d
    monkeypatch.setattr(_separable, "_edge_magnitude_2d",
                        lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 300, 301)).astype(np.float32)
    one = filters.sobel(x, channel_axis=0, num_threads=1)
    for t in (2, 3):
        np.testing.assert_array_equal(filters.sobel(x, channel_axis=0, num_threads=t), one)
    for c in range(3):
        np.testing.assert_array_equal(filters.sobel(x[c]), one[c])
    mask = rng.random((300, 301)) > 0.3
    np.testing.assert_array_equal(filters.sobel(x[0], mask=mask),
                                  one[0] * _separable._erode(mask))
    # the channel axis anywhere, and strided / reversed views: read and written through
    # strides (rows gathered per strip), the same bits as the contiguous channel-first call
    last = np.ascontiguousarray(np.moveaxis(x, 0, -1))
    np.testing.assert_array_equal(filters.sobel(last, channel_axis=-1, num_threads=2),
                                  np.moveaxis(one, 0, -1))
    mid = np.ascontiguousarray(np.moveaxis(x, 0, 1))
    np.testing.assert_array_equal(filters.sobel(mid, channel_axis=1),
                                  np.moveaxis(one, 0, 1))
    view = x[1, ::2, ::-3]
    np.testing.assert_array_equal(filters.sobel(view), filters.sobel(view.copy()))
    assert len(calls) == 3 + 3 + 1 + 2 + 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_halo_columns_give_the_wider_images_outputs(dtype, mode, rng):
    """With the columns beyond its left and right edges (a dask chunk's neighbours' samples),
    the fused sweep of a column range equals that range of the sweep of the whole image, bit
    for bit: vertical taps over the halo columns in every row path (four-row groups, single
    rows, constant-mode rows from the tile), the halo instead of the padding."""
    dt = np.dtype(dtype)
    for kv, kh, oy, ox in ((17, 17, 0, 0), (4, 6, 0, 1), (5, 3, -1, 0), (1, 7, 0, 0),
                           (3, 2, 0, 0), (6, 1, 1, 0)):
        x = rng.standard_normal((2, 37, 60)).astype(dt)
        py = _separable._Pass("corr", 1, mode, 0.5, rng.standard_normal(kv), oy)
        px = _separable._Pass("corr", 2, mode, -1.5, rng.standard_normal(kh), ox)
        full = _separable._fused_pair(x, py, px, dt, None, 1)
        # the whole image's sweep against scipy's two passes in float64
        ref = ndi.correlate1d(ndi.correlate1d(x.astype(np.float64), py.weights, axis=1,
                                              mode=mode, cval=0.5, origin=oy),
                              px.weights, axis=2, mode=mode, cval=-1.5, origin=ox)
        assert_close(full, ref, dt, kv + kh,
                     scale=input_scale(x, np.outer(py.weights, px.weights), 1.5))
        _, _, ext, o = _separable._taps_of(px, dt)
        L, R = ext // 2 + o, ext - 1 - (ext // 2 + o)
        c0, c1 = 20, 45
        halo = (x[:, :, c0 - L:c0] if L else None, x[:, :, c1:c1 + R] if R else None)
        for threads in (1, 2):
            got = _separable._fused_pair(x[:, :, c0:c1], py, px, dt, None, threads, halo=halo)
            assert got.tobytes() == np.ascontiguousarray(full[:, :, c0:c1]).tobytes()
        if "wrap" in mode:
            continue    # (one side only: a periodic chunk's padding is its own other end)
        # the halo may be a copy (contiguous) or a view; one side only pads the other side
        # by the mode from the chunk's own samples, as a chunk ending there would
        got = _separable._fused_pair(x[:, :, c0:c1], py, px, dt, None, 1,
                                     halo=(None if halo[0] is None else halo[0].copy(), None))
        ref = _separable._fused_pair(np.concatenate([x[:, :, c0 - L:c0], x[:, :, c0:c1]], 2),
                                     py, px, dt, None, 1)[:, :, L:]
        assert got.tobytes() == np.ascontiguousarray(ref).tobytes()


def test_halo_of_the_wrong_width_or_shape_is_refused(rng):
    x = rng.standard_normal((10, 12))
    py = _separable._Pass("corr", 0, "reflect", 0.0, np.ones(3))
    px = _separable._Pass("corr", 1, "reflect", 0.0, np.ones(5))
    with pytest.raises(ValueError, match="left halo"):
        _separable._fused_pair(x, py, px, np.dtype(np.float64), None, 1,
                               halo=(np.zeros((10, 1)), None))
    with pytest.raises(ValueError, match="does not fit"):
        _separable._fused_pair(x, py, px, np.dtype(np.float64), None, 1,
                               halo=(None, np.zeros((9, 2))))


@given(h=st.integers(1, 30), w=st.integers(1, 30), c=st.integers(1, 8), kv=st.integers(1, 9),
       kh=st.integers(1, 9), my=st.sampled_from(MODES), mx=st.sampled_from(MODES),
       f32=st.booleans(), batch=st.booleans(), seed=st.integers(0, 2**31),
       cval=st.sampled_from([0.0, 1.5]))
def test_fused_channel_last_equals_two_passes(h, w, c, kv, kh, my, mx, f32, batch, seed, cval):
    """Passes over the two axes before a short last axis (a channel-last image) run as one
    fused sweep over rows of W * C interleaved samples: the bits of the two correlate1d
    passes, and of the same filter on each channel alone."""
    rng = np.random.default_rng(seed)
    dt = np.float32 if f32 else np.float64
    x = rng.uniform(-1, 1, ((2,) if batch else ()) + (h, w, c)).astype(dt)
    ky = rng.standard_normal(kv).astype(dt)
    kx = rng.standard_normal(kh).astype(dt)
    oy = int(rng.integers(-(kv // 2), (kv - 1) // 2 + 1))
    ox = int(rng.integers(-(kh // 2), (kh - 1) // 2 + 1))
    lead = [None] if batch else []
    modes = ["reflect"] * len(lead) + [my, mx]
    got = filters.sepfilter(x, lead + [ky, kx], mode=modes, cval=cval,
                            origin=[0] * len(lead) + [oy, ox], channel_axis=-1)
    step = filters.correlate1d(x, ky, axis=-3, mode=my, cval=cval, origin=oy)
    cval2 = cval * float(np.sum(ky.astype(np.float64)))
    expect = filters.correlate1d(step, kx, axis=-2, mode=mx, cval=cval2, origin=ox)
    assert got.dtype == dt
    assert got.tobytes() == expect.tobytes()
    ref = ndi.correlate1d(ndi.correlate1d(x.astype(np.float64), ky.astype(np.float64), axis=-3,
                                          mode=my, cval=cval, origin=oy),
                          kx.astype(np.float64), axis=-2, mode=mx, cval=cval2, origin=ox)
    assert_close(got, ref, dt, kv + kh, scale=input_scale(x, np.outer(ky, kx), cval))
    for ch in range(c):
        one = filters.sepfilter(np.ascontiguousarray(x[..., ch]), lead + [ky, kx],
                                mode=modes, cval=cval, origin=[0] * len(lead) + [oy, ox])
        assert one.tobytes() == np.ascontiguousarray(got[..., ch]).tobytes()


def test_fused_channel_last_layouts_and_out(monkeypatch):
    calls = []
    real = _separable._fused_pair
    monkeypatch.setattr(_separable, "_fused_pair",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (41, 37, 3)).astype(np.float32)
    ref = filters.gaussian(x, 1.5, channel_axis=-1, num_threads=1)
    assert calls
    np.testing.assert_array_equal(ref, filters.gaussian(x, 1.5, channel_axis=-1, num_threads=2))
    per = np.stack([filters.gaussian(x[..., k], 1.5) for k in range(3)], axis=-1)
    assert ref.tobytes() == per.tobytes()
    assert_close(ref, ndi.gaussian_filter(x.astype(np.float64), (1.5, 1.5, 0), mode="nearest"),
                 np.float32, 13)
    # a strided input, an output whose last two axes do not merge, an output in place
    big = np.zeros((41, 37, 5), np.float32)
    big[..., :3] = x
    assert filters.gaussian(big[..., :3], 1.5, channel_axis=-1).tobytes() == ref.tobytes()
    out = np.zeros((41, 37, 4), np.float32)[..., 1:]
    assert filters.gaussian(x, 1.5, channel_axis=-1, out=out) is out
    assert np.ascontiguousarray(out).tobytes() == ref.tobytes()
    y = x.copy()
    filters.gaussian(y, 1.5, channel_axis=-1, out=y)
    assert y.tobytes() == ref.tobytes()
    p = _separable._Pass("corr", 0, "reflect", 0.0, np.ones(3))
    q = _separable._Pass("corr", 1, "reflect", 0.0, np.ones(3))
    with pytest.raises(ValueError, match="halo"):
        real(x, p, q, np.dtype(np.float32), None, 1, halo=(x[:, :1], None))


def test_streaming_stores_only_for_wide_rows(monkeypatch):
    """Streaming stores go only into rows of at least SEP_STREAM_MIN_ROW_BYTES: into an
    out= of narrow rows they were several times slower (rows of 32 float32 samples: 11.6
    against 1.4 ns per sample), however large the array."""
    from pyconv import _kernels
    seen = []
    real = _kernels.kernels.sep2d_f32
    # (stream, div): the kernel's last two arguments
    monkeypatch.setattr(_kernels.kernels, "sep2d_f32",
                        lambda *a: seen.append(a[-2]) or real(*a))
    k = [np.ones(3, np.float32)] * 2
    wide = _separable.SEP_STREAM_MIN_ROW_BYTES // 4
    for shape in ((_engine.STREAM_MIN_BYTES // 128, 32),
                  (-(-_engine.STREAM_MIN_BYTES // (4 * wide)), wide)):
        x = np.zeros(shape, np.float32)
        filters.sepfilter(x, k, out=np.empty_like(x))
    assert seen == [False, True]
    # fresh results below FRESH_STREAM_MAX_BYTES too (malloc's heap, not in cache), when
    # they are the final result (uniform's too: its box sums are divided as they are
    # written), not a result of FRESH_STREAM_MAX_BYTES (new pages from the OS, in cache)
    seen.clear()
    filters.sepfilter(x, k)
    filters.gaussian(x, 1.0)
    filters.uniform(x, 3)
    big = np.zeros((_engine.FRESH_STREAM_MAX_BYTES // (4 * wide), wide), np.float32)
    filters.sepfilter(big, k)
    assert seen == [True, True, True, False]
