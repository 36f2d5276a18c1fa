"""pyconv.conv1d/conv2d/conv3d, depthwise_conv2d, separable_conv2d and channel_shuffle against
two independent float64 references: tests/_conv_reference.py (plain NumPy loops over taps,
index-arithmetic padding) and pyconv.reference (scipy.signal + numpy.pad); the transposed
convolutions too.  The two references are checked against each other in
test_conv_reference.py, everything against PyTorch in test_conv_torch.py."""
import copy
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import pyconv
import pyconv._runtime
from pyconv import reference as R
from pyconv import _engine
import _conv_reference as CR
from _conv_cases import (F32, F64, PADDING_MODES, conv_cases, conv_scale, conv_transpose_cases,
                         random_conv_cases, transpose_scale)
from _helpers import as_ref, assert_close, result_dtype

F16 = np.dtype(np.float16)
CONV = {1: pyconv.conv1d, 2: pyconv.conv2d, 3: pyconv.conv3d}
REF = {1: R.conv1d, 2: R.conv2d, 3: R.conv3d}
REF_T = {1: R.conv_transpose1d, 2: R.conv_transpose2d, 3: R.conv_transpose3d}
OPENMP = bool(pyconv._runtime.openmp_enabled())


def policy_dtype(x, weight):
    """DESIGN.md's result dtype: x's float type (float16 -> float32, ints/bool -> float64),
    widened by a floating-point ndarray weight; lists and integer weights adapt."""
    dt = result_dtype(np.asarray(x).dtype)
    if isinstance(weight, np.ndarray) and weight.dtype.kind == "f":
        dt = np.promote_types(dt, result_dtype(weight.dtype))
    return dt


def _ref_dtype(x, dtype):
    return None if x is None else as_ref(x, dtype)


def check_conv(nsp, x, weight, bias=None, *, dtype=None, what="", **kw):
    """pyconv's conv{nsp}d against both references, computed on the values pyconv uses
    (the inputs cast to the result dtype) in float64.  Returns pyconv's result."""
    got = CONV[nsp](x, weight, bias, **kw)
    dtype = np.dtype(dtype if dtype is not None else policy_dtype(x, weight))
    xr, wr, br = as_ref(x, dtype), as_ref(weight, dtype), _ref_dtype(bias, dtype)
    ntaps = int(np.prod(np.shape(weight)[1:]))
    scale = conv_scale(xr, wr, br)
    what = what or f"conv{nsp}d x{np.shape(x)} w{np.shape(weight)} {kw}"
    loops = CR.conv(xr, wr, br, **kw)
    assert_close(got, loops, dtype, ntaps, what=what + " [loops]", scale=scale)
    scipy_ref = REF[nsp](xr, wr, br, **kw)
    assert_close(got, scipy_ref, dtype, ntaps, what=what + " [pyconv.reference]", scale=scale)
    return got


# ------------------------------------------------------------------ randomised parameters


@pytest.mark.parametrize("nsp", [1, 2, 3])
@given(data=st.data())
def test_conv_random_parameters(nsp, data):
    case = data.draw(conv_cases(nsp, max_k=5 if nsp < 3 else 4), label="case")
    check_conv(nsp, case.x, case.weight, case.bias, dtype=case.dtype, what=repr(case),
               **case.kwargs)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("chunk", range(4))
def test_conv_random_parameters_seeded(nsp, chunk, rng):
    """The same space as above, 4 x 25 cases per dimension from a seeded Generator (hypothesis'
    derandomized search stays close to its first examples)."""
    for case in random_conv_cases(rng, nsp, 25, max_k=5 if nsp < 3 else 4):
        check_conv(nsp, case.x, case.weight, case.bias, dtype=case.dtype, what=repr(case),
                   **case.kwargs)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("mode", PADDING_MODES)
def test_every_padding_mode_grouped_strided_dilated(nsp, mode, dtype, rng):
    size = {1: (11,), 2: (9, 8), 3: (6, 5, 7)}[nsp]
    k = {1: (3,), 2: (3, 2), 3: (2, 3, 2)}[nsp]
    x = rng.uniform(-1, 1, (2, 6) + size).astype(dtype)
    w = rng.standard_normal((9, 2) + k).astype(dtype)
    b = rng.standard_normal(9).astype(dtype)
    for stride, padding, dilation in [(1, 2, 1), (2, 1, 2), ((1, 3, 2)[:nsp], (2, 0, 1)[:nsp], 1),
                                      (1, "same", (2, 1, 3)[:nsp]), (3, "valid", 1)]:
        check_conv(nsp, x, w, b, stride=stride, padding=padding, dilation=dilation, groups=3,
                   padding_mode=mode)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_same_padding_odd_and_even_kernels(nsp, k, dtype, rng):
    """'same': output size = input size; the odd extra sample goes on the right."""
    size = (7, 6, 5)[:nsp]
    x = rng.uniform(-1, 1, (1, 2) + size).astype(dtype)
    w = rng.standard_normal((2, 2) + (k,) * nsp).astype(dtype)
    for dilation in (1, 2):
        for mode in PADDING_MODES:
            got = check_conv(nsp, x, w, padding="same", dilation=dilation, padding_mode=mode)
            assert got.shape == (1, 2) + size


# ------------------------------------------------------------------------- special shapes


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("groups,cin,cout", [(1, 1, 1), (1, 4, 5), (2, 4, 6), (4, 4, 4),
                                              (4, 4, 8), (3, 6, 3)])
@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 0), (3, 1), ((2, 1, 3), (0, 1, 0))])
def test_pointwise_1x1(nsp, groups, cin, cout, stride, padding, dtype, rng):
    """1x1 kernels: plain (a matrix product), strided, padded, grouped."""
    if isinstance(stride, tuple):
        stride, padding = stride[:nsp], padding[:nsp]
    size = (9, 7, 5)[:nsp]
    x = rng.uniform(-1, 1, (2, cin) + size).astype(dtype)
    w = rng.standard_normal((cout, cin // groups) + (1,) * nsp).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    check_conv(nsp, x, w, b, stride=stride, padding=padding, groups=groups)
    check_conv(nsp, x[0], w, None, stride=stride, padding=padding, groups=groups)


def test_pointwise_1x1_equals_matrix_product(dtype, rng):
    x = rng.uniform(-1, 1, (3, 5, 6, 7)).astype(dtype)
    w = rng.standard_normal((4, 5, 1, 1)).astype(dtype)
    got = pyconv.conv2d(x, w)
    ref = np.einsum("oc,nchw->nohw", w[:, :, 0, 0].astype(np.float64), x.astype(np.float64))
    assert_close(got, ref, dtype, 5, scale=conv_scale(x, w))


@pytest.mark.parametrize("wide", [13, 28, 70])
def test_pointwise_rows_back_to_back(wide, dtype, rng):
    """A 1x1 layer whose lane blocks span whole output rows (stored as one run when the
    rows follow each other in the output), with many channels so that a task holds only a
    few rows and the last block of a task ends inside a row: the matrix product, for 1 and
    2 threads and into an out= whose rows are not back to back."""
    from pyconv import _conv
    x = rng.uniform(-1, 1, (2, 300, 9, wide)).astype(dtype)
    w = rng.standard_normal((14, 300, 1, 1)).astype(dtype)
    geom, _ = _conv.plan(x.shape[:2] + (1,) + x.shape[2:], (2, 14, 1, 9, wide), 1,
                         (1, 1, 1), (1, 1, 1), (1, 1, 1), 0, np.dtype(dtype).itemsize, 2)
    assert geom[24] < 9                           # rows per task
    ref = np.einsum("oc,nchw->nohw", w[:, :, 0, 0].astype(np.float64), x.astype(np.float64))
    one = pyconv.conv2d(x, w, num_threads=1)
    assert_close(one, ref, dtype, 300, scale=conv_scale(x, w))
    np.testing.assert_array_equal(pyconv.conv2d(x, w, num_threads=2), one)
    out = np.zeros((2, 14, 9, wide + 3), dtype)[..., :wide]
    pyconv.conv2d(x, w, num_threads=2, out=out)
    np.testing.assert_array_equal(out, one)


@pytest.mark.parametrize("multiplier", [1, 2, 3])
@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("mode", PADDING_MODES)
def test_depthwise_conv2d(multiplier, channels, mode, dtype, rng):
    x = rng.uniform(-1, 1, (2, channels, 9, 10)).astype(dtype)
    w = rng.standard_normal((channels * multiplier, 1, 3, 4)).astype(dtype)
    b = rng.standard_normal(channels * multiplier).astype(dtype)
    for kw in [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2),
               dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1))]:
        got = pyconv.depthwise_conv2d(x, w, b, padding_mode=mode, **kw)
        xr, wr, br = as_ref(x, dtype), as_ref(w, dtype), as_ref(b, dtype)
        scale = conv_scale(xr, wr, br)
        ref = CR.conv(xr, wr, br, groups=channels, padding_mode=mode, **kw)
        assert_close(got, ref, dtype, 12, what=f"depthwise {kw}", scale=scale)
        ref2 = R.depthwise_conv2d(xr, wr, br, padding_mode=mode, **kw)
        assert_close(got, ref2, dtype, 12, what=f"depthwise {kw} [reference]", scale=scale)
        # the same as conv2d with groups=C, bit for bit
        np.testing.assert_array_equal(
            got, pyconv.conv2d(x, w, b, groups=channels, padding_mode=mode, **kw))
        # unbatched
        np.testing.assert_array_equal(
            pyconv.depthwise_conv2d(x[1], w, b, padding_mode=mode, **kw), got[1])


@pytest.mark.parametrize("mode", PADDING_MODES)
def test_depthwise_wide_rows(mode, dtype, rng):
    """Depthwise layers and one-channel images with rows wide enough to be read in place
    (no gather of the image's inside rows): equal to the reference, and bit for bit equal
    to the same input seen through a column stride (every row gathered) and to two
    threads."""
    x = rng.uniform(-1, 1, (2, 3, 11, 800)).astype(dtype)
    wide = np.zeros(x.shape[:-1] + (1600,), dtype)
    strided = wide[..., ::2]
    strided[...] = x
    w = rng.standard_normal((6, 1, 3, 4)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    for kw in [dict(padding=1), dict(padding="same", dilation=(1, 3)), dict()]:
        got = pyconv.depthwise_conv2d(x, w, b, padding_mode=mode, num_threads=1, **kw)
        xr, wr, br = as_ref(x, dtype), as_ref(w, dtype), as_ref(b, dtype)
        assert_close(got, CR.conv(xr, wr, br, groups=3, padding_mode=mode, **kw), dtype, 12,
                     what=f"depthwise {kw}", scale=conv_scale(xr, wr, br))
        for other in (pyconv.depthwise_conv2d(strided, w, b, padding_mode=mode, num_threads=1,
                                              **kw),
                      pyconv.depthwise_conv2d(x, w, b, padding_mode=mode, num_threads=2, **kw)):
            np.testing.assert_array_equal(other, got)
        one = pyconv.conv2d(x[:, :1], w[:1], padding_mode=mode, num_threads=1, **kw)
        assert_close(one, CR.conv(xr[:, :1], wr[:1], padding_mode=mode, **kw), dtype, 12,
                     what=f"one channel {kw}", scale=conv_scale(xr, wr))
        np.testing.assert_array_equal(
            pyconv.conv2d(strided[:, :1], w[:1], padding_mode=mode, num_threads=1, **kw), one)


def test_one_channel_large_out(dtype, rng):
    """A one-channel layer into an out= of 8 MB or more (its rows streamed): the bits of
    the result pyconv allocates."""
    x = rng.uniform(-1, 1, (1, 1, 1030, 2100 if dtype == np.float32 else 1050)).astype(dtype)
    w = rng.standard_normal((1, 1, 3, 3)).astype(dtype)
    b = rng.standard_normal(1).astype(dtype)
    out = np.full(x.shape, 7.0, dtype)
    want = pyconv.conv2d(x, w, b, padding=1)
    assert pyconv.conv2d(x, w, b, padding=1, out=out) is out
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("dilation", [2, 3, (3, 1, 2)])
def test_dilated(nsp, dilation, dtype, rng):
    if isinstance(dilation, tuple):
        dilation = dilation[:nsp]
    size = (13, 11, 9)[:nsp]
    x = rng.uniform(-1, 1, (1, 2) + size).astype(dtype)
    w = rng.standard_normal((3, 2) + (3, 2, 3)[:nsp]).astype(dtype)
    check_conv(nsp, x, w, dilation=dilation)
    check_conv(nsp, x, w, dilation=dilation, padding=2, padding_mode="reflect")
    check_conv(nsp, x, w, dilation=dilation, stride=2, padding=1, padding_mode="circular")


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("mode", PADDING_MODES)
def test_single_channel(nsp, mode, dtype, rng):
    size = (10, 8, 6)[:nsp]
    x = rng.uniform(-1, 1, size).astype(dtype)
    w = rng.standard_normal((1, 1) + (3,) * nsp).astype(dtype)
    check_conv(nsp, x[None], w, padding=1, padding_mode=mode)  # unbatched (C=1, ...)
    check_conv(nsp, x[None, None], w, padding=1, padding_mode=mode)


@pytest.mark.parametrize("case", [
    dict(x=(2, 3, 6, 7, 8), w=(4, 3, 3, 3, 3), kw=dict(padding=1)),
    dict(x=(1, 4, 5, 6, 7), w=(4, 2, 2, 3, 2), kw=dict(groups=2, stride=(2, 1, 2))),
    dict(x=(4, 7, 6, 5), w=(8, 1, 3, 1, 3), kw=dict(groups=4, padding="same", dilation=(1, 2, 2),
                                                     padding_mode="reflect")),
    dict(x=(3, 2, 9, 4, 5), w=(5, 2, 4, 2, 2), kw=dict(padding=(0, 1, 2), dilation=(2, 1, 1),
                                                        padding_mode="circular")),
    dict(x=(1, 1, 5, 5, 5), w=(1, 1, 5, 5, 5), kw=dict()),
    dict(x=(2, 2, 3, 3, 3), w=(3, 2, 1, 1, 1), kw=dict(stride=2, padding_mode="replicate",
                                                        padding=1)),
    dict(x=(1, 3, 4, 9, 9), w=(6, 3, 1, 3, 3), kw=dict(stride=(1, 3, 2), padding="valid")),
])
def test_conv3d_explicit(case, dtype, rng):
    x = rng.uniform(-1, 1, case["x"]).astype(dtype)
    w = rng.standard_normal(case["w"]).astype(dtype)
    b = rng.standard_normal(case["w"][0]).astype(dtype)
    check_conv(3, x, w, b, **case["kw"])


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("k,padding", [(1, 0), (1, 1), (3, 1), (2, 1), (3, "same"), (2, "same")])
def test_one_pixel_image(nsp, mode, k, padding, dtype, rng):
    x = np.full((2, 2) + (1,) * nsp, 1.5, dtype) * np.array([1, -2]).reshape((1, 2) + (1,) * nsp)
    w = rng.standard_normal((3, 2) + (k,) * nsp).astype(dtype)
    pad = padding if padding != "same" else (k - 1) - (k - 1) // 2  # the larger side
    if mode == "reflect" and pad >= 1:
        with pytest.raises(ValueError, match="padding"):
            CONV[nsp](x, w, padding=padding, padding_mode=mode)
        return
    if mode == "circular" and pad > 1:
        with pytest.raises(ValueError, match="padding"):
            CONV[nsp](x, w, padding=padding, padding_mode=mode)
        return
    if k > 1 + 2 * (padding if padding != "same" else 0) and padding != "same":
        with pytest.raises(ValueError):
            CONV[nsp](x, w, padding=padding, padding_mode=mode)
        return
    check_conv(nsp, x, w, padding=padding, padding_mode=mode)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("dilation", [1, 2])
def test_kernel_as_large_as_padded_input(nsp, padding, dilation, dtype, rng):
    """Extent d*(k-1)+1 equal to the padded size: one output per axis (or stride-many)."""
    size = (5, 4, 3)[:nsp]
    k = tuple((n + 2 * padding - 1) // dilation + 1 for n in size)
    x = rng.uniform(-1, 1, (2, 3) + size).astype(dtype)
    w = rng.standard_normal((2, 3) + k).astype(dtype)
    # with dilation, the extent may fall short of the padded size by < dilation: still valid
    for mode in PADDING_MODES:
        if mode == "reflect" and padding >= min(size):
            continue
        got = check_conv(nsp, x, w, padding=padding, dilation=dilation, padding_mode=mode)
        # extent d*(k-1)+1 is within d-1 of the padded size: 1 output (up to d with dilation)
        assert got.shape[2:] == tuple(n + 2 * padding - dilation * (kk - 1)
                                      for n, kk in zip(size, k))
        assert all(1 <= m <= dilation for m in got.shape[2:])
        check_conv(nsp, x, w, padding=padding, dilation=dilation, padding_mode=mode, stride=3)
    # one more tap is too large
    w2 = rng.standard_normal((2, 3) + tuple(kk + (i == nsp - 1) for i, kk in enumerate(k)))
    with pytest.raises(ValueError, match="kernel|weight|input"):
        CONV[nsp](x, w2, padding=padding, dilation=dilation)


@pytest.mark.parametrize("nsp", [1, 2])
def test_wide_outputs_cut_into_column_blocks(nsp, dtype, rng):
    """Outputs wider than 1024 columns (pyconv cuts them into column blocks)."""
    size = (2100,) if nsp == 1 else (8, 1100)
    x = rng.uniform(-1, 1, (1, 2) + size).astype(dtype)
    w = rng.standard_normal((4, 2) + (3,) * nsp).astype(dtype)
    check_conv(nsp, x, w, padding=1, padding_mode="reflect")
    check_conv(nsp, x, w, stride=2, dilation=3)


@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 1), (1, 2)])
def test_row_blocks_of_a_small_buffer(stride, dilation, dtype, rng, monkeypatch):
    """A buffer budget of a few rows (the planner sizes it from the L2 cache): the output
    rows are cut into many tasks, the last one shorter, with the row count chosen among
    several; against the references, and 1 vs 2 threads bit for bit."""
    from pyconv import _conv
    monkeypatch.setattr(_conv, "BUF_BYTES", 6 * 1024)
    _conv.plan.cache_clear()
    try:
        x = rng.uniform(-1, 1, (2, 3, 29, 23)).astype(dtype)
        w = rng.standard_normal((7, 3, 3, 3)).astype(dtype)
        kw = dict(padding=1, stride=stride, dilation=dilation)
        got = check_conv(2, x, w, rng.standard_normal(7).astype(dtype), **kw)
        ho = got.shape[2]
        geom, _ = _conv.plan((2, 3, 1, 29, 23), (2, 7, 1) + got.shape[2:], 1, (1, 3, 3),
                             (1, stride, stride), (1, dilation, dilation), 1,
                             np.dtype(dtype).itemsize, 1)
        assert 1 < geom[25] and geom[24] < ho, geom     # several row blocks
        np.testing.assert_array_equal(pyconv.conv2d(x, w, num_threads=1, **kw),
                                      pyconv.conv2d(x, w, num_threads=2, **kw))
    finally:
        _conv.plan.cache_clear()


@pytest.mark.parametrize("R, Ho, Wph, cw, step", [(3, 56, 57, 56, 64), (9, 56, 57, 56, 64),
                                                   (15, 56, 58, 56, 64), (4, 4, 10, 9, 32),
                                                   (5, 7, 3, 3, 16), (1, 1, 1, 1, 64)])
def test_lane_blocks_counts_micro_tiles(R, Ho, Wph, cw, step):
    """The planner's count of micro-tiles (it picks the row count with the fewest) equals
    the blocks a walk over every task's lanes makes."""
    from pyconv import _conv
    blocks = 0
    for y0 in range(0, Ho, R):
        rows = min(R, Ho - y0)
        lanes = (rows - 1) * Wph + cw
        blocks += len(range(0, lanes, step))
    assert _conv._lane_blocks(R, Ho, Wph, cw, step) == blocks


def test_row_count_trims_padding_lanes(monkeypatch):
    """A stride-2 layer whose buffer fits 16 rows per task is planned with the row count of
    fewest micro-tiles among 8 to 16 (this layer's tasks of 9 rows are 512 lanes, no padding
    lane in their last tile)."""
    from pyconv import _conv
    monkeypatch.setattr(_conv, "BUF_BYTES", 1 << 20)
    _conv.plan.cache_clear()
    geom, _ = _conv.plan((8, 64, 1, 112, 112), (8, 128, 1, 56, 56), 1, (1, 3, 3), (1, 2, 2),
                         (1, 1, 1), 1, 4, 1)
    R, Wph = geom[24], geom[31]
    step = _conv.VEC_BYTES // 4
    _conv.plan.cache_clear()
    best = min(_conv._lane_blocks(r, 56, Wph, 56, step) for r in range(8, 17))
    assert 8 <= R <= 16 and _conv._lane_blocks(R, 56, Wph, 56, step) == best, R


@pytest.fixture
def plans(monkeypatch):
    """The plans pyconv's layers make during a test: ``plans.seen`` lists (threads, geom)
    of every call of pyconv._conv.plan; ``plans.clear()`` empties its cache."""
    import types
    from pyconv import _conv
    real = _conv.plan
    spy = types.SimpleNamespace(seen=[], clear=real.cache_clear)

    def planned(*args):
        res = real(*args)
        spy.seen.append((args[8], res[0]))
        return res
    monkeypatch.setattr(_conv, "plan", planned)
    return spy


@pytest.mark.parametrize("W, k, padding, dilation, mode, O", [
    (56, 3, 1, 1, "zeros", 64),         # 57 lanes a row, not 58
    (11, 3, 2, 1, "zeros", 64),         # padding past the reach: the pitch is the row
    (9, 5, 1, 1, "zeros", 40),          # one shared column of four
    (30, 3, 2, 2, "zeros", 16),         # dilated: two of four (pair tile in float32)
    (7, 4, "same", 1, "zeros", 64),     # even kernel: one column left, two right
    (6, 2, "same", 3, "zeros", 5),      # 'same' dilated, few channels (the 6 x 64 tile)
    (1, 3, 1, 1, "zeros", 33),          # one-pixel rows
    (13, 3, 0, 1, "zeros", 32),         # no padding: nothing to share
    (12, 3, 1, 1, "reflect", 32),       # padding that is not zeros: nothing to share
    (12, 3, 1, 1, "circular", 7),
])
def test_rows_share_zero_columns(W, k, padding, dilation, mode, O, dtype, rng, plans):
    """Zero-padded rows gathered whole at a pitch that shares the zeros between one row's
    right padding and the next row's left: the plan's pitch is the output width plus the
    kernel's reach less the zero columns both ends have (up to the reach; none for other
    padding modes, or without padding), and the layer's numbers are the references',
    1 vs 2 threads bit for bit."""
    x = rng.uniform(-1, 1, (2, 3, 5, W)).astype(dtype)
    w = rng.standard_normal((O, 3, 3, k)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    kw = dict(padding=padding, dilation=dilation, padding_mode=mode)
    got = check_conv(2, x, w, b, **kw)
    seen = [g for _, g in plans.seen]
    assert len(seen) == 1, seen
    Wo, CW, Wph = seen[0][8], seen[0][26], seen[0][31]
    reach = (k - 1) * dilation
    if padding == "same":
        left = reach // 2
        right = reach - left
    else:
        left = right = padding
    share = min(left, right, reach) if mode == "zeros" else 0
    assert CW == Wo == got.shape[3] and Wph == Wo + reach - share, (Wo, Wph, share)
    np.testing.assert_array_equal(got, pyconv.conv2d(x, w, b, num_threads=2, **kw))


@pytest.mark.parametrize("table, reach, share", [
    ([-1, -1, 0, 1, 2, -1], 2, 1),      # more zeros on the left than on the right
    ([-1, 0, 1, -1, -1, -1], 3, 1),     # more on the right
    ([-1, -1, -1, -1], 2, 2),           # zeros only (a window wholly in the padding)
    ([-1, 0, 1, 2, -1], 0, 0),          # a one-column kernel reaches nothing
    ([0, 1, -1, -1], 2, 0),
    ([-1, 3, 4, 4, 3, 2], 2, 0),        # a reflected right edge
])
def test_shared_zeros_of_a_table(table, reach, share):
    """The planner's count of zero columns a gathered row shares with the next: the zeros
    both ends of the x table have, up to the reach."""
    from pyconv import _conv
    assert _conv._shared_zeros(np.array(table, dtype=np.intp), reach) == share


@pytest.mark.parametrize("out_ch", [1, 2, 3, 4, 5, 6, 7, 8, 11, 13])
def test_output_channel_counts(out_ch, dtype, rng):
    """Every remainder of the output-channel tiling (tiles of 3 channels, 6 in the AVX-512
    module), grouped and not."""
    x = rng.uniform(-1, 1, (2, 2, 7, 9)).astype(dtype)
    w = rng.standard_normal((out_ch, 2, 3, 3)).astype(dtype)
    check_conv(2, x, w, padding=1)
    w2 = rng.standard_normal((2 * out_ch, 1, 2, 3)).astype(dtype)
    check_conv(2, x, w2, groups=2, stride=(2, 1))


@pytest.mark.parametrize("hw, wouter", [((3, 5), 1), ((16, 40), 0)])
def test_tap_chunks_both_loop_orders(hw, wouter, dtype, rng):
    """Many input channels: the taps run in chunks whose partial sums are kept between
    calls of the micro-kernel (in the thread's scratch when lane blocks are outside the
    channel tiles, in the output when the tiles are outside), with output rows narrower
    than a block of lanes and a remainder tile; both loop orders, checked to be the ones
    the planner chose, against the references, and 1 vs 2 threads bit for bit."""
    from pyconv import _conv
    x = rng.uniform(-1, 1, (1, 96) + hw).astype(dtype)
    w = rng.standard_normal((13 if wouter else 31, 96, 3, 3)).astype(dtype)
    oshape = (1, w.shape[0], 1) + hw
    geom, _ = _conv.plan((1, 96, 1) + hw, oshape, 1, (1, 3, 3), (1, 1, 1), (1, 1, 1), 1,
                         np.dtype(dtype).itemsize, 1)
    K, Kc, wo = geom[12], geom[13], geom[-1]
    assert Kc < K and wo == wouter, (K, Kc, wo)
    got = check_conv(2, x, w, rng.standard_normal(w.shape[0]).astype(dtype), padding=1)
    two = pyconv.conv2d(x, w, None, padding=1, num_threads=2)
    np.testing.assert_array_equal(pyconv.conv2d(x, w, None, padding=1, num_threads=1), two)
    assert got.shape == oshape[:2] + hw


def test_channel_tiles_outside_large_task(dtype, rng):
    """The channel-tiles-outside loop order with a task whose partial sums pass the 1 MB the
    kernel keeps in scratch (WOUTER_PART_BYTES in pyx/_conv.pxi): they go through the
    output instead; against the loop reference, and 1 vs 2 threads bit for bit."""
    from pyconv import _conv
    x = rng.uniform(-1, 1, (1, 48, 32, 32)).astype(dtype)
    w = rng.standard_normal((300, 48, 3, 3)).astype(dtype)
    item = np.dtype(dtype).itemsize
    geom, _ = _conv.plan((1, 48, 1, 32, 32), (1, 300, 1, 32, 32), 1, (1, 3, 3), (1, 1, 1),
                         (1, 1, 1), 1, item, 1)
    K, Kc, R, CW, OCT, Wph, wo = (geom[i] for i in (12, 13, 24, 26, 28, 31, -1))
    nr = _conv.VEC_BYTES // item
    part = OCT * _conv.MR * -(-((R - 1) * Wph + CW) // nr) * nr * item
    assert wo == 1 and Kc < K and part > 1 << 20, (wo, Kc, K, part)
    check_conv(2, x, w, rng.standard_normal(300).astype(dtype), padding=1)
    np.testing.assert_array_equal(pyconv.conv2d(x, w, padding=1, num_threads=1),
                                  pyconv.conv2d(x, w, padding=1, num_threads=2))


@pytest.fixture(params=["mc", "mr"])
def tile_kernel(request, monkeypatch):
    """Plans with the channel-vector tiles (_mkc, 32 channels, and for float32 the pair tile
    _mkp, 16 channels: the default of the AVX-512 module, forced here in every module, whose
    plain C forms they then run) or without them (_mk3 tiles, the default elsewhere)."""
    from pyconv import _conv
    from pyconv._kernels import kernels
    on = request.param == "mc"
    monkeypatch.setattr(_conv, "MC", kernels.conv_mc()[0] if on else 0)
    monkeypatch.setattr(_conv, "MP", kernels.conv_mc()[3] if on else 0)
    return request.param


def _planned_geom(x, w, groups=1, stride=1, nthreads=1, padding=0, dilation=1):
    """The plan's geom tuple for a conv2d or conv3d of x with w, for the shapes pyconv.nn
    gives the driver (a 1x1 layer of stride 1 without padding: one row)."""
    from pyconv import _conv
    nd = x.ndim - 2
    ext = (1,) * (3 - nd)                       # the depth axis of a conv2d
    shape5 = x.shape[:2] + ext + x.shape[2:]
    kshape = ext + w.shape[2:]
    if max(kshape) == 1 and stride == 1 and padding == 0:
        shape5 = shape5[:2] + (1, 1, math.prod(shape5[2:]))
    osize = ext + tuple((n + 2 * padding - dilation * (k - 1) - 1) // stride + 1
                        for n, k in zip(shape5[5 - nd:], kshape[3 - nd:]))
    geom, _ = _conv.plan(shape5, (x.shape[0], w.shape[0]) + osize, groups, kshape,
                         ext + (stride,) * nd, ext + (dilation,) * nd, padding,
                         x.dtype.itemsize, nthreads, _conv.MC, _conv.MP)
    return geom


def _planned_tile(x, w, groups=1, stride=1, dilation=1):
    """The micro-kernel tile the planner picks for a conv2d of x with w (no padding)."""
    return _planned_geom(x, w, groups, stride, dilation=dilation)[-2]


@pytest.mark.parametrize("O, groups, hw, kw, tiles", [
    # tiles: the channel-vector tile the plan takes when they are on, float32 / float64
    (32, 1, (9, 13), dict(padding=1), (32, 32)),             # one tile, lanes across rows
    (64, 1, (6, 5), dict(padding=1, stride=2), (32, 32)),    # rows shorter than a block
    (54, 2, (11, 30), dict(padding=2, dilation=2), (32, 32)),  # 27 per group: padded tile
    (96, 1, (3, 40), dict(padding=(0, 1), padding_mode="reflect"), (32, 32)),
    (64, 1, (1, 1), dict(padding=1, padding_mode="circular"), (32, 32)),   # one-pixel image
    (32, 1, (20, 20), dict(padding="same", padding_mode="replicate"), (32, 32)),
    (32, 2, (7, 31), dict(padding=1), (16, None)),           # 16 per group: pair tile
    (48, 1, (5, 9), dict(padding=1, stride=(1, 2)), (16, None)),   # 32 would pad a third
    (14, 1, (4, 30), dict(padding=1, padding_mode="reflect"), (16, None)),  # 2 padded
    (80, 1, (3, 26), dict(padding=1), (16, 32)),             # fewer padded than 96
    (13, 1, (4, 6), dict(padding=1), (None, None)),          # too few for either tile
])
def test_channel_vector_tile(O, groups, hw, kw, tiles, tile_kernel, dtype, rng):
    """Every micro-kernel on layers of 13 to 96 output channels per group: strides,
    dilations, groups, padding modes, bias, lane blocks that span rows or hold padding
    lanes, against the references; 1 vs 2 threads bit for bit; and the plan uses the listed
    channel-vector tile exactly when forced on (the one with fewer padded channels, at most
    a sixth of them; the 16-channel pair tile for float32 only)."""
    from pyconv import _conv
    C = 2 * groups + 1 if groups > 1 else 5
    C = C - C % groups
    x = rng.uniform(-1, 1, (2, C) + hw).astype(dtype)
    w = rng.standard_normal((O, C // groups, 3, 3)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    got = check_conv(2, x, w, b, groups=groups, **kw)
    np.testing.assert_array_equal(
        got, pyconv.conv2d(x, w, b, groups=groups, num_threads=2, **kw))
    xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    got_tile = _planned_tile(xp, w, groups)
    tile = tiles[dtype == np.float64] if tile_kernel == "mc" else None
    if tile is not None:
        assert got_tile == tile, got_tile
    else:
        assert got_tile not in (16, 32), got_tile


def test_channel_vector_tile_long_sums_strided_out(tile_kernel, dtype, rng):
    """Many taps (chunks of taps whose partial sums the channel-vector tiles keep between
    calls) into an ``out=`` view with strides (the lane-by-lane store path), 64 and 16
    output channels, with 3-D and 1-D layers; against the references."""
    x = rng.uniform(-1, 1, (1, 160, 7, 10)).astype(dtype)
    w = rng.standard_normal((64, 160, 3, 3)).astype(dtype)
    b = rng.standard_normal(64).astype(dtype)
    geom = _planned_geom(x, w, padding=1)
    assert geom[13] < geom[12], geom                # taps in chunks
    expect = check_conv(2, x, w, b, padding=1)
    big = np.full((1, 128, 7, 20), np.nan, dtype)
    view = big[:, ::2, :, ::2]
    res = pyconv.conv2d(x, w, b, padding=1, out=view)
    assert res is view
    np.testing.assert_array_equal(view, expect)
    assert np.isnan(big[:, 1::2]).all() and np.isnan(big[:, ::2, :, 1::2]).all()
    w16 = rng.standard_normal((16, 160, 3, 3)).astype(dtype)
    expect16 = check_conv(2, x, w16, b[:16], padding=1)
    big[...] = np.nan
    res = pyconv.conv2d(x, w16, b[:16], padding=1, out=big[:, 1:33:2, :, 1::2])
    np.testing.assert_array_equal(res, expect16)
    assert np.isnan(big[:, ::2]).all() and np.isnan(big[:, 33:]).all()
    x3 = rng.uniform(-1, 1, (1, 4, 5, 6, 7)).astype(dtype)
    check_conv(3, x3, rng.standard_normal((32, 4, 2, 3, 3)).astype(dtype), padding=1)
    check_conv(3, x3, rng.standard_normal((16, 4, 3, 3, 3)).astype(dtype), padding=1)
    x1 = rng.uniform(-1, 1, (3, 8, 50)).astype(dtype)
    check_conv(1, x1, rng.standard_normal((64, 8, 5)).astype(dtype), stride=3, dilation=2)


@pytest.mark.parametrize("O, groups, stride, pad, hw, wouter", [
    # 32-channel tiles, a remainder tile, lanes across rows: from the input / gathered
    (90, 1, 1, 0, (9, 23), 3),
    (90, 1, 1, 1, (9, 23), 2),
    (80, 1, 2, 0, (13, 11), 2),     # 16-channel pair tiles (float32), a strided 1x1
    (96, 3, 1, 0, (3, 40), 3),      # groups, from the input
    (96, 3, 1, 1, (2, 1030), 2),    # rows wider than a column block (several blocks)
    (96, 3, 1, 0, (2, 1030), 3),    # the same from the input: a row of column blocks
    (64, 1, 1, 0, (4, 5, 7), 3),    # conv3d, from the input
])
def test_pointwise_panels(monkeypatch, request, O, groups, stride, pad, hw, wouter, dtype,
                          rng):
    """1x1 layers whose channel-vector tiles read packed panels (each chunk of taps of
    every block of lanes copied into one run first): from gathered rows (the plan's wouter
    2) or, with no padding, stride 1 and one column block, straight from the input (3);
    forced on for any number of tiles; with many taps (several chunks), bias, an ``out=``
    view with strides; against the references, and 1 vs 2 threads bit for bit."""
    from pyconv import _conv
    from pyconv._kernels import kernels
    monkeypatch.setattr(_conv, "MC", kernels.conv_mc()[0])
    monkeypatch.setattr(_conv, "MP", kernels.conv_mc()[3])
    monkeypatch.setattr(_conv, "PANEL_TILES", 1)
    # chunks of 16 KB of weights: 136 taps in several
    monkeypatch.setattr(_conv, "VEC_CHUNK_BYTES", 16 * 1024)
    _conv.plan.cache_clear()
    request.addfinalizer(_conv.plan.cache_clear)
    C = (40 if hw[-1] > 1000 else 136) * groups
    x = rng.uniform(-1, 1, (2, C) + hw).astype(dtype)
    w = rng.standard_normal((O, C // groups) + (1,) * len(hw)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    for nthreads in (1, 2):
        geom = _planned_geom(x, w, groups, stride, nthreads, pad)
        assert geom[-1] == wouter, geom
    if hw[-1] < 1000:
        assert geom[13] < geom[12], geom        # several chunks of taps
    else:
        assert geom[27] > 1, geom               # several column blocks
    kw = dict(stride=stride, groups=groups, padding=pad)
    expect = check_conv(len(hw), x, w, b, **kw)
    big = np.full((2, 2 * O) + expect.shape[2:], np.nan, dtype)
    view = big[:, 1::2]
    CONV[len(hw)](x, w, b, out=view, num_threads=2, **kw)
    np.testing.assert_array_equal(view, expect)
    assert np.isnan(big[:, ::2]).all()
    np.testing.assert_array_equal(CONV[len(hw)](x, w, b, num_threads=1, **kw), expect)


def test_pointwise_panels_planned():
    """The planner's choice: panels for 1x1 layers of PANEL_TILES or more channel-vector
    tiles per task (where the AVX-512 module runs them), packed from the input where it is
    read in place, never for larger kernels."""
    from pyconv import _conv
    if not _conv.MC:
        pytest.skip("the channel-vector tiles are not used by this kernel module")
    f = np.float32
    x, w = np.zeros((8, 256, 28, 28), f), np.zeros((256, 256, 1, 1), f)
    assert _planned_geom(x, w)[-1] == 3
    assert _planned_geom(x, w, padding=1)[-1] == 2
    assert _planned_geom(np.zeros((8, 256, 28, 28), f), np.zeros((32, 256, 1, 1), f))[-1] == 1
    assert _planned_geom(np.zeros((8, 256, 28, 28), f), np.zeros((256, 256, 3, 3), f))[-1] == 1


@pytest.mark.parametrize("tile", ["mr", "mc", "mp"])
def test_pack_weights_layout_and_alignment(tile, rng):
    """pack_weights: the tiles' weights start on a 64-byte line (a tap's vector loads are
    then whole lines), in pack_tiles' order, every weight twice in a row for the pair tile;
    tiles with channels short (padded with zeros), tap counts below, at and past the
    sixteen taps the AVX-512 module turns at a time."""
    from pyconv import _conv
    from pyconv._kernels import kernels
    mr = {"mr": _conv.MR, "mc": kernels.conv_mc()[0], "mp": kernels.conv_mc()[3]}[tile]
    for (O, G), kshape in itertools.product(((48, 1), (32, 2), (96, 3), (40, 1), (7, 1)),
                                            ((5, 1, 3, 2), (1, 1, 1, 1), (16, 1, 1, 1),
                                             (11, 1, 1, 3))):
        w = rng.standard_normal((O,) + kshape).astype(np.float32)
        got = _conv.pack_weights(w, G, mr, 2)
        assert got.ctypes.data % 64 == 0
        K = math.prod(kshape)
        Og = O // G
        nt = -(-Og // mr)
        padded = np.zeros((G, nt * mr, K), np.float32)
        padded[:, :Og] = w.reshape(G, Og, K)
        expect = padded.reshape(G, nt, mr, K).transpose(0, 1, 3, 2).ravel()
        if tile == "mp":
            expect = np.repeat(expect, 2)
        np.testing.assert_array_equal(got, expect)


@pytest.mark.parametrize("N, C, O, groups, hw, kw, inpack", [
    (1, 160, 64, 1, (7, 7), dict(padding=1), 1),        # 1440 taps: two chunks
    (1, 24, 40, 1, (5, 9), dict(padding=1), 1),         # 40 channels: a short tile
    (1, 32, 96, 2, (6, 6), dict(padding=1, stride=2), 1),   # groups, stride
    (1, 16, 48, 1, (9, 4), dict(padding=2, dilation=2), 1),  # the pair tile (float32)
    (2, 24, 64, 1, (7, 7), dict(padding=1), 1),         # two 7x7 images: one task
    (2, 24, 64, 1, (18, 18), dict(padding=1), 0),       # two tasks of images: packed first
    (1, 8, 64, 1, (60, 60), dict(padding=1), 0),        # several row blocks
])
def test_weights_packed_by_tasks(N, C, O, groups, hw, kw, inpack, tile_kernel, dtype, rng,
                                 plans, monkeypatch, request):
    """Layers whose channel-vector tiles are each used by one task (one small image) have
    their float32 weights packed by the tasks, chunk by chunk (the plan's inpack; never
    for float64, several tasks of images or several row blocks); against the references,
    1 vs 2 threads bit for bit, the weights untouched."""
    from pyconv import _conv
    monkeypatch.setattr(_conv, "BUF_BYTES", 512 * 1024)     # the rows per task: any L2
    plans.clear()
    request.addfinalizer(plans.clear)       # no plan of this buffer size left for others
    seen = plans.seen                               # (threads, geom)
    x = rng.uniform(-1, 1, (N, C) + hw).astype(dtype)
    w = rng.standard_normal((O, C // groups, 3, 3)).astype(dtype)
    w.setflags(write=False)
    w0 = w.copy()
    b = rng.standard_normal(O).astype(dtype)
    got = check_conv(2, x, w, b, groups=groups, **kw)
    for nthreads in (1, 2):
        np.testing.assert_array_equal(
            got, pyconv.conv2d(x, w, b, groups=groups, num_threads=nthreads, **kw))
    np.testing.assert_array_equal(w, w0)
    expect = int(inpack and tile_kernel == "mc" and dtype == np.float32)
    one = [g for t, g in seen if t == 1]
    assert one and one[0][-3] == expect, one
    if expect and C == 160:
        assert one[0][13] < one[0][12]                  # several chunks of taps
    # two threads: by channel tiles where there are enough, else by rows (then packed
    # first: each tile is used by several tasks)
    assert all(g[-3] == (expect and g[25] == 1) for _, g in seen), seen


@pytest.mark.parametrize("O, hw, kw, whole", [
    (64, (24, 24), dict(padding=1), (1, 1)),    # 2 tiles: one per thread
    (96, (24, 24), dict(padding=1), (1, 0)),    # 3 tiles: two threads split the rows
    (144, (16, 16), dict(padding=2, dilation=2), (1, 1)),   # 9 pair tiles, dilated
    (64, (56, 56), dict(padding=1), (0, 0)),    # rows larger than the whole L2
])
def test_one_image_one_block_of_rows(O, hw, kw, whole, rng, plans, monkeypatch, request):
    """One float32 image of a dense layer whose gathered rows and partial sums fit twice
    the buffer (the whole L2), and whose channel tiles share out evenly over the threads,
    is planned as one block of rows whose tasks pack their weights (inpack): every row
    block read all the weights again before.  Against the references, 1 vs 2 threads bit
    for bit."""
    from pyconv import _conv
    from pyconv._kernels import kernels
    monkeypatch.setattr(_conv, "BUF_BYTES", 256 * 1024)
    monkeypatch.setattr(_conv, "MC", kernels.conv_mc()[0])
    monkeypatch.setattr(_conv, "MP", kernels.conv_mc()[3])
    plans.clear()
    request.addfinalizer(plans.clear)
    x = rng.uniform(-1, 1, (1, 64) + hw).astype(np.float32)
    w = rng.standard_normal((O, 64, 3, 3)).astype(np.float32)
    got = check_conv(2, x, w, None, **kw)
    for nthreads in (1, 2):
        np.testing.assert_array_equal(got, pyconv.conv2d(x, w, num_threads=nthreads, **kw))
    ho = got.shape[2]
    for nthreads, expect in zip((1, 2), whole):
        (geom,) = {g for t, g in plans.seen if t == nthreads}
        R, nrb, inpack = geom[24], geom[25], geom[-3]
        assert (R == ho and nrb == 1) == bool(expect), (nthreads, geom)
        assert inpack == expect, (nthreads, geom)


@pytest.mark.parametrize("N, C, O, hw, kw, forced, images", [
    (8, 64, 64, (7, 7), dict(padding=1), 0, 8),     # 49 outputs: 33 blocks, not 40
    (8, 64, 64, (7, 7), dict(padding=1), 3, 3),     # groups of 3, 3 and 2 images
    (5, 32, 96, (3, 5), dict(padding=1, padding_mode="reflect"), 2, 2),
    (4, 32, 64, (9, 9), dict(padding=1, stride=2), 0, 4),   # phase planes of 5 rows
    (3, 16, 32, (4, 4), dict(padding=2, dilation=2), 0, 3),
    (6, 8, 32, (5, 6), dict(padding="same"), 4, 4),  # even kernel, 'same'
    (7, 32, 32, (1, 1), dict(padding=1), 0, 7),     # one-pixel images
    (4, 32, 64, (12, 12), dict(padding=1, padding_mode="reflect"), 0, 1),   # nothing saved
    (4, 32, 64, (12, 12), dict(padding=1), 0, 4),   # the padding's taps in whole blocks
    (4, 32, 64, (18, 18), dict(padding=1), 0, 1),   # 324 outputs: each image a task
])
def test_images_per_task(N, C, O, hw, kw, forced, images, rng, plans, monkeypatch,
                         request):
    """Tasks of several images of small planes (float32, the 32-channel tile): their rows
    gathered one image below the other, their outputs in the same blocks of valid lanes,
    stored image by image.  Against the references, with bias, into an ``out=`` view with
    strides, 1 vs 2 threads bit for bit, and bit for bit the sums of one image a task."""
    from pyconv import _conv
    from pyconv._kernels import kernels
    monkeypatch.setattr(_conv, "BUF_BYTES", 256 * 1024)
    monkeypatch.setattr(_conv, "MC", kernels.conv_mc()[0])
    monkeypatch.setattr(_conv, "MP", kernels.conv_mc()[3])
    monkeypatch.setattr(_conv, "IMAGES_PER_TASK", forced)
    plans.clear()
    request.addfinalizer(plans.clear)
    x = rng.uniform(-1, 1, (N, C) + hw).astype(np.float32)
    k = (4, 4) if kw.get("padding") == "same" else (3, 3)
    w = rng.standard_normal((O, C) + k).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    got = check_conv(2, x, w, b, **kw)
    for nthreads in (1, 2):
        np.testing.assert_array_equal(got, pyconv.conv2d(x, w, b, num_threads=nthreads, **kw))
    (geom,) = {g for t, g in plans.seen if t == 1}
    assert geom[34] == images and geom[24] == got.shape[2], geom    # whole images
    assert geom[-4] == 1 or images == 1, geom       # valid lanes
    big = np.full((N, 2 * O) + got.shape[2:3] + (2 * got.shape[3],), np.nan, np.float32)
    view = big[:, ::2, :, 1::2]
    pyconv.conv2d(x, w, b, out=view, **kw)
    np.testing.assert_array_equal(view, got)
    assert np.isnan(big[:, 1::2]).all() and np.isnan(big[:, :, :, ::2]).all()
    monkeypatch.setattr(_conv, "IMAGES_PER_TASK", 1)
    plans.clear()
    np.testing.assert_array_equal(got, pyconv.conv2d(x, w, b, **kw))
    assert plans.seen[-1][1][34] == 1


@pytest.mark.parametrize("N, C, O, hw, kw", [
    (8, 32, 64, (7, 7), dict(padding=1)),           # several images a task
    (1, 40, 64, (14, 14), dict(padding=1)),         # one image, short channel tile
    (3, 16, 32, (9, 10), dict(padding=1, stride=2)),
    (2, 16, 32, (8, 8), dict(padding=2, dilation=2)),
    (4, 16, 32, (5, 6), dict(padding="same")),      # even kernel: one column left, two right
    (3, 16, 32, (3, 4), dict(padding=3)),           # outputs wholly in the padding
    (3, 16, 32, (3, 5, 7), dict(padding=1)),        # conv3d: planes of the padding too
    (4, 16, 32, (6, 6), dict(padding=1, padding_mode="reflect")),   # no zeros to skip
])
def test_padding_taps_left_out(N, C, O, hw, kw, rng, plans, monkeypatch, request):
    """Blocks of valid lanes leave out the taps that read zeros of the padding for all
    their lanes (float32, the 32-channel tile): the sums keep their bits, signed zeros
    included (every sum starts from +0), against the same layer with every tap read (no
    blocks of valid lanes), and an Inf weight gives the NaNs it gives there."""
    from pyconv import _conv
    from pyconv._kernels import kernels
    monkeypatch.setattr(_conv, "MC", kernels.conv_mc()[0])
    monkeypatch.setattr(_conv, "MP", kernels.conv_mc()[3])
    plans.clear()
    request.addfinalizer(plans.clear)
    nd = len(hw)
    conv = pyconv.conv2d if nd == 2 else pyconv.conv3d
    k = (4,) * nd if kw.get("padding") == "same" else (3,) * nd
    x = np.maximum(rng.uniform(-1, 1, (N, C) + hw), 0).astype(np.float32)   # many zeros
    w = rng.standard_normal((O, C) + k).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    # zeros: the taps of the first kernel row positive, the others negative, so that an
    # output whose first row of taps reads the padding sums -0s and +0s
    zx = np.zeros_like(x)
    zw = -np.abs(w) - 0.5
    zw[:, :, 0] = np.abs(w[:, :, 0]) + 0.5
    winf = w.copy()
    winf[O // 2, C // 3, (0,) * nd] = np.inf
    cases = [(x, w, b), (x, w, None), (zx, zw, None), (x, winf, b)]
    got = [[conv(xx, ww, bb, num_threads=t, **kw) for xx, ww, bb in cases] for t in (1, 2)]
    check_conv(nd, x, w, b, **kw)
    assert any(g[-4] for _, g in plans.seen), plans.seen      # blocks of valid lanes
    assert not np.signbit(got[0][2]).any()          # the zeros are +0
    monkeypatch.setattr(_conv, "VALID_LANES", False)
    plans.clear()
    every = [conv(xx, ww, bb, **kw) for xx, ww, bb in cases]
    assert not any(g[-4] for _, g in plans.seen[-4:])
    for one in got:
        for a, e in zip(one, every):
            np.testing.assert_array_equal(a.view(np.uint32), e.view(np.uint32))
    assert np.isnan(every[3]).any() and not np.isnan(every[0]).any()


@pytest.mark.parametrize("N, C, O, groups, hw, kw, taken", [
    (2, 5, 64, 1, (9, 13), dict(padding=1), 1),         # 14-lane rows, blocks across rows
    (1, 160, 32, 1, (6, 14), dict(padding=1), 1),       # 1440 taps: chunks, partial sums
    (2, 4, 64, 2, (7, 10), dict(padding=2, dilation=2), 1),    # groups, dilation
    (1, 3, 64, 1, (11, 23), dict(padding=1, stride=2), 1),     # stride 2 (phase rows)
    (2, 6, 32, 1, (5, 7), dict(padding="same"), 1),     # the last block mostly past the end
    (1, 3, 32, 1, (4, 12), dict(padding=0), 0),         # no padding lanes to drop
])
def test_valid_lanes(N, C, O, groups, hw, kw, taken, tile_kernel, dtype, rng, monkeypatch,
                     plans):
    """The 32-channel tile's blocks of lanes taken from the task's outputs only (each lane
    broadcast from its own offset; the plan's vlanes, float32, where it saves
    micro-tiles): against the references, with bias and into an ``out=`` view with
    strides, 1 vs 2 threads bit for bit, and bit for bit the sums of the blocks with
    padding lanes."""
    from pyconv import _conv
    seen = plans.seen                               # (threads, geom)
    x = rng.uniform(-1, 1, (N, C) + hw).astype(dtype)
    k = (4, 4) if kw.get("padding") == "same" else (3, 3)
    w = rng.standard_normal((O, C // groups) + k).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    got = check_conv(2, x, w, b, groups=groups, **kw)
    one = pyconv.conv2d(x, w, b, groups=groups, num_threads=1, **kw)
    np.testing.assert_array_equal(got, one)
    on = tile_kernel == "mc" and dtype == np.float32
    for _, g in seen:                               # where it saves micro-tiles
        R, Ho, CW, Wph, mr = g[24], g[7], g[26], g[31], g[-2]
        fewer = _conv._lane_blocks(R, Ho, CW, CW, 12) < _conv._lane_blocks(R, Ho, Wph, CW, 12)
        assert g[-4] == int(on and mr == 32 and (fewer or g[34] > 1)), g
    assert {g[-4] for t, g in seen if t == 1} == {int(on and taken)}, seen
    big = np.full((N, 2 * O) + got.shape[2:3] + (2 * got.shape[3],), np.nan, dtype)
    view = big[:, ::2, :, 1::2]
    pyconv.conv2d(x, w, b, groups=groups, out=view, **kw)
    np.testing.assert_array_equal(view, got)
    assert np.isnan(big[:, 1::2]).all() and np.isnan(big[:, :, :, ::2]).all()
    monkeypatch.setattr(_conv, "VALID_LANES", False)
    plans.clear()
    try:
        np.testing.assert_array_equal(got, pyconv.conv2d(x, w, b, groups=groups, **kw))
        assert seen[-1][1][-4] == 0
    finally:
        plans.clear()


def test_pair_tile_is_float32_only():
    """A float64 kernel call planned with the pair tile is refused, not run wrong."""
    from pyconv import _conv
    from pyconv._kernels import kernels
    mp = kernels.conv_mc()[3]
    x = np.zeros((1, 4, 1, 5, 5))
    w = np.zeros((16, 4, 1, 3, 3))
    geom, offs = _conv.plan(x.shape, (1, 16, 1, 3, 3), 1, (1, 3, 3), (1, 1, 1), (1, 1, 1), 0,
                            4, 1, 0, mp)
    assert geom[-2] == mp
    wp = _conv.pack_weights(w.astype(np.float32), 1, mp)
    tab = np.arange(5, dtype=np.intp)
    with pytest.raises(ValueError, match="float32 only"):
        kernels.conv_f64(x, np.zeros((1, 16, 1, 3, 3)), wp.astype(np.float64),
                         np.zeros(0), offs, np.zeros(1, np.intp), tab, tab, geom, 1)


def test_channel_vector_tile_transposed(tile_kernel, dtype, rng):
    """The transposed convolution's phases through both micro-kernels (32 output channels:
    the channel-vector tile when forced on), against pyconv.reference."""
    x = rng.uniform(-1, 1, (2, 6, 5, 7)).astype(dtype)
    w = rng.standard_normal((6, 32, 4, 4)).astype(dtype)
    b = rng.standard_normal(32).astype(dtype)
    got = pyconv.conv_transpose2d(x, w, b, stride=2, padding=1)
    ref = R.conv_transpose2d(as_ref(x, dtype), as_ref(w, dtype), as_ref(b, dtype), stride=2,
                             padding=1)
    assert_close(got, ref, dtype, w[:, 0].size,
                 scale=transpose_scale(as_ref(x, dtype), as_ref(w, dtype), as_ref(b, dtype)))


# ------------------------------------------------------------------- non-finite values


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("mode", PADDING_MODES)
def test_nan_inf_propagate(nsp, mode, dtype, rng):
    """NaN and +-Inf spread as in the loop reference: through every tap, zero weights too
    (0 * inf = nan), but never through the zeros of 'zeros' padding or a dilation gap."""
    size = (12, 7, 5)[:nsp]
    x = rng.uniform(-1, 1, (1, 2) + size).astype(dtype)
    flat = x.reshape(-1)
    flat[[1, 5, 9]] = [np.nan, np.inf, -np.inf]
    flat[-1] = np.inf
    w = rng.standard_normal((2, 2) + (3,) * nsp).astype(dtype)
    w.reshape(-1)[[0, 4]] = 0.0
    check_conv(nsp, x, w, padding=1, padding_mode=mode)
    check_conv(nsp, x, w, padding=2, dilation=2, padding_mode=mode)
    check_conv(nsp, x, w, stride=2, padding=1, padding_mode=mode)


# ---------------------------------------------------------------- layouts and the inputs


def _layouts(base):
    """(name, array) views with the values of `base` in other memory layouts."""
    nd = base.ndim
    big = np.zeros(tuple(2 * s + 1 for s in base.shape), dtype=base.dtype)
    sl = tuple(slice(1, None, 2) for _ in range(nd))
    big[sl] = base
    rev = np.ascontiguousarray(base[(slice(None, None, -1),) * nd])
    ro = base.copy()
    ro.setflags(write=False)
    out = [
        ("strided", big[sl]),
        ("negative", rev[(slice(None, None, -1),) * nd]),
        ("fortran", np.asfortranarray(base)),
        ("byteswapped", base.astype(base.dtype.newbyteorder("S"))),
        ("readonly", ro),
    ]
    if nd >= 2:
        perm = tuple(range(nd))[::-1]
        out.append(("transposed", np.ascontiguousarray(base.transpose(perm)).transpose(perm)))
    for name, arr in out:
        assert np.array_equal(arr, base), name
    return out


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("which", ["x", "weight", "bias"])
def test_any_layout_same_numbers(nsp, which, dtype, rng):
    size = (9, 8, 6)[:nsp]
    x = rng.uniform(-1, 1, (2, 4) + size).astype(dtype)
    w = rng.standard_normal((6, 2) + (3, 2, 3)[:nsp]).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    kw = dict(stride=2, padding=1, groups=2, padding_mode="reflect")
    expect = check_conv(nsp, x, w, b, **kw)
    args = {"x": x, "weight": w, "bias": b}
    for lname, arr in _layouts(args[which]):
        call = dict(args, **{which: arr})
        got = CONV[nsp](call["x"], call["weight"], call["bias"], **kw)
        assert got.dtype == dtype and got.dtype.isnative, (lname, got.dtype)
        np.testing.assert_array_equal(got, expect, err_msg=f"{which} {lname}")


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_layout_unbatched_and_1x1(nsp, dtype, rng):
    size = (10, 6, 5)[:nsp]
    x = rng.uniform(-1, 1, (3,) + size).astype(dtype)
    w = rng.standard_normal((4, 3) + (1,) * nsp).astype(dtype)
    expect = check_conv(nsp, x, w)
    for lname, arr in _layouts(x):
        np.testing.assert_array_equal(CONV[nsp](arr, w), expect, err_msg=lname)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("mode", PADDING_MODES)
def test_input_never_modified(nsp, mode, dtype, rng):
    size = (9, 8, 6)[:nsp]
    x = rng.uniform(-1, 1, (2, 2) + size).astype(dtype)
    x.reshape(-1)[3] = np.nan
    w = rng.standard_normal((2, 2) + (3,) * nsp).astype(dtype)
    b = rng.standard_normal(2).astype(dtype)
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    CONV[nsp](x, w, b, padding=1, padding_mode=mode)
    CONV[nsp](x, w, b, padding="same", padding_mode=mode, stride=1, dilation=2)
    CONV[nsp](x[:, :, ::-1], w[:, :, ::-1], b[::-1], stride=2)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(b, b0)
    assert x.flags.writeable and w.flags.writeable and b.flags.writeable
    wl, bl = w.tolist(), b.tolist()
    wl0, bl0 = copy.deepcopy(wl), copy.deepcopy(bl)
    CONV[nsp](x, wl, bl, padding=1, padding_mode=mode)
    assert wl == wl0 and bl == bl0


def test_depthwise_separable_shuffle_never_modify_inputs(rng):
    x = rng.uniform(-1, 1, (2, 4, 7, 6))
    dw = rng.standard_normal((8, 1, 3, 3))
    pw = rng.standard_normal((5, 8, 1, 1))
    b = rng.standard_normal(5)
    saved = [a.copy() for a in (x, dw, pw, b)]
    pyconv.depthwise_conv2d(x, dw, b[:1].repeat(8), padding=1, padding_mode="circular")
    pyconv.separable_conv2d(x, dw, pw, b, padding=1, padding_mode="reflect")
    pyconv.channel_shuffle(x, 2)
    for a, a0 in zip((x, dw, pw, b), saved):
        np.testing.assert_array_equal(a, a0)


# --------------------------------------------------------------------------- dtypes


DTYPE_CASES = [
    # x dtype, weight (from a float64 array), result dtype
    (F32, lambda w: w.astype(np.float32), F32),
    (F64, lambda w: w.astype(np.float64), F64),
    (F16, lambda w: w.astype(np.float16), F32),
    (F16, lambda w: w.astype(np.float32), F32),
    (F16, lambda w: w.astype(np.float64), F64),
    (F32, lambda w: w.astype(np.float64), F64),
    (F64, lambda w: w.astype(np.float32), F64),
    (F32, lambda w: w.astype(np.float16), F32),
    (F32, lambda w: w.tolist(), F32),
    (F64, lambda w: w.tolist(), F64),
    (F16, lambda w: w.tolist(), F32),
    (np.dtype(np.int16), lambda w: np.round(3 * w).astype(np.int16), F64),
    (np.dtype(np.uint8), lambda w: np.round(3 * w).astype(np.int64), F64),
    (np.dtype(np.int64), lambda w: w.astype(np.float32), F64),
    (np.dtype(np.uint16), lambda w: w.tolist(), F64),
    (np.dtype(np.bool_), lambda w: w.astype(np.float64), F64),
    (np.dtype(np.int32), lambda w: w.astype(np.float16), F64),
]


def _typed(rng, dtype, shape):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) > 0.5
    if dtype.kind in "iu":
        return rng.integers(0, 9, shape).astype(dtype)
    return rng.uniform(-2, 2, shape).astype(dtype)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("xdt,wmake,expect", DTYPE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(DTYPE_CASES)])
def test_dtype_policy(nsp, xdt, wmake, expect, rng):
    x = _typed(rng, xdt, (2, 2) + (6, 5, 4)[:nsp])
    w = wmake(np.round(rng.standard_normal((3, 2) + (2,) * nsp), 3))
    got = check_conv(nsp, x, w, dtype=expect, padding=1, padding_mode="replicate")
    assert got.dtype == expect


@pytest.mark.parametrize("bias_kind", ["list", "int array", "same dtype"])
def test_bias_forms(bias_kind, dtype, rng):
    x = rng.uniform(-1, 1, (2, 3, 6, 7)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = {"list": [0.5, -1.0, 2.0, 0.25], "int array": np.array([1, -2, 3, 0]),
         "same dtype": np.array([0.5, -1.0, 2.0, 0.25], dtype)}[bias_kind]
    got = check_conv(2, x, w, b, padding=1)
    assert got.dtype == dtype


def test_list_inputs(rng):
    x = rng.integers(-3, 4, (2, 7)).tolist()
    w = rng.integers(-2, 3, (3, 2, 3)).tolist()
    got = check_conv(1, x, w, [1, 2, 3], padding=1)
    assert got.dtype == F64


# --------------------------------------------------------------------------- threads


@pytest.fixture
def _restore_threads():
    saved = pyconv.get_num_threads()
    yield
    try:
        pyconv.set_num_threads(None)
    except (TypeError, ValueError):
        pyconv.set_num_threads(saved)


THREAD_CASES = [
    # (x shape, weight shape, kwargs)
    ((2, 16, 40, 40), (16, 16, 3, 3), dict(padding=1)),
    ((1, 8, 40, 40), (16, 8, 3, 3), dict(padding="same", padding_mode="reflect")),
    ((2, 16, 40, 40), (16, 1, 3, 3), dict(groups=16, padding=1, padding_mode="circular")),
    ((2, 16, 40, 40), (32, 16, 1, 1), dict()),
    ((1, 4, 6, 600), (24, 4, 3, 5), dict(stride=(1, 2), dilation=2)),
    ((2, 8, 3000), (8, 8, 5), dict(padding=2, padding_mode="replicate")),
    ((1, 4, 12, 14, 16), (6, 4, 3, 3, 3), dict(padding=1)),
    ((1, 3, 2, 2, 1500), (7, 3, 1, 2, 3), dict()),
]


@pytest.mark.parametrize("xs,ws,kw", THREAD_CASES, ids=[f"{c[1]}" for c in THREAD_CASES])
def test_thread_count_bitwise_identical(xs, ws, kw, dtype, rng, _restore_threads):
    nsp = len(ws) - 2
    x = rng.uniform(-1, 1, xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    one = CONV[nsp](x, w, b, num_threads=1, **kw)
    for n in (2, 3, 4):
        np.testing.assert_array_equal(CONV[nsp](x, w, b, num_threads=n, **kw), one,
                                      err_msg=f"num_threads={n}")
    with pyconv.num_threads(2):
        np.testing.assert_array_equal(CONV[nsp](x, w, b, **kw), one, err_msg="context")
    # and the numbers are right
    xr, wr, br = as_ref(x, dtype), as_ref(w, dtype), as_ref(b, dtype)
    assert_close(one, CR.conv(xr, wr, br, **kw), dtype, int(np.prod(ws[1:])),
                 scale=conv_scale(xr, wr, br))


@pytest.mark.skipif(not OPENMP, reason="built without OpenMP")
def test_depthwise_separable_thread_identical(rng):
    x = rng.uniform(-1, 1, (2, 16, 40, 40)).astype(np.float32)
    dw = rng.standard_normal((32, 1, 3, 3)).astype(np.float32)
    pw = rng.standard_normal((16, 32, 1, 1)).astype(np.float32)
    a = pyconv.separable_conv2d(x, dw, pw, padding=1, num_threads=1)
    np.testing.assert_array_equal(pyconv.separable_conv2d(x, dw, pw, padding=1, num_threads=2), a)
    a = pyconv.depthwise_conv2d(x, dw, stride=2, num_threads=1)
    np.testing.assert_array_equal(pyconv.depthwise_conv2d(x, dw, stride=2, num_threads=3), a)


# ------------------------------------------------------------------------------ out=


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_out_argument(nsp, batched, k, dtype, rng):
    size = (9, 7, 5)[:nsp]
    x = rng.uniform(-1, 1, (2, 3) + size).astype(dtype)
    if not batched:
        x = x[0]
    w = rng.standard_normal((4, 3) + (k,) * nsp).astype(dtype)
    pad = 0 if k == 1 else 1  # k == 1: the pointwise (matrix product) path
    expect = check_conv(nsp, x, w, padding=pad)
    out = np.full(expect.shape, 7.0, dtype)
    ret = CONV[nsp](x, w, padding=pad, out=out)
    assert ret is out
    np.testing.assert_array_equal(out, expect)
    # a non-contiguous out: only its elements are written
    big = np.full(tuple(2 * s for s in expect.shape), 7.0, dtype)
    view = big[(slice(None, None, 2),) * expect.ndim]
    assert CONV[nsp](x, w, padding=pad, out=view) is view
    np.testing.assert_array_equal(view, expect)
    mask = np.ones(big.shape, bool)
    mask[(slice(None, None, 2),) * expect.ndim] = False
    assert (big[mask] == 7.0).all()
    # Fortran-ordered out
    fout = np.asfortranarray(np.zeros(expect.shape, dtype))
    assert CONV[nsp](x, w, padding=pad, out=fout) is fout
    np.testing.assert_array_equal(fout, expect)
    # an unaligned out
    raw = np.zeros(expect.size * dtype.itemsize + 1, np.uint8)
    uout = raw[1:].view(dtype).reshape(expect.shape)
    assert not uout.flags.aligned
    assert CONV[nsp](x, w, padding=pad, out=uout) is uout
    np.testing.assert_array_equal(uout, expect)


@pytest.mark.parametrize("nsp", [1, 2])
def test_out_overlapping_weight(nsp, dtype, rng):
    """out sharing memory with weight: the result of the original weights."""
    # out (N=2, O=2, *osize=k) has the shape of weight (O=2, Cg=2, *k)
    k = (3, 2)[:nsp]
    x = rng.uniform(-1, 1, (2, 2) + tuple(2 * kk - 1 for kk in k)).astype(dtype)
    w = rng.standard_normal((2, 2) + k).astype(dtype)
    b = rng.standard_normal(2).astype(dtype)
    expect = check_conv(nsp, x, w.copy(), b.copy(), stride=1)
    assert expect.shape == w.shape
    assert CONV[nsp](x, w, b, out=w) is w
    np.testing.assert_array_equal(w, expect)


@pytest.mark.parametrize("nsp", [1, 2])
def test_out_overlapping_bias(nsp, dtype, rng):
    """out (1, 2, 1, ...) whose elements are the bias itself."""
    k = (3, 2)[:nsp]
    x = rng.uniform(-1, 1, (2, 2) + tuple(2 * kk - 1 for kk in k)).astype(dtype)
    b = rng.standard_normal(2).astype(dtype)
    w = rng.standard_normal((2, 2) + k).astype(dtype)
    x1 = x[:1, :, :k[0]][(Ellipsis,) + tuple(slice(0, kk) for kk in k[1:])]
    buf = np.zeros((1, 2) + (1,) * nsp, dtype)
    buf.reshape(-1)[:] = b
    bias_view = buf.reshape(-1)
    expect = check_conv(nsp, x1, w, b.copy())
    assert CONV[nsp](x1, w, bias_view, out=buf) is buf
    np.testing.assert_array_equal(buf, expect)


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_out_wrong_shape_or_dtype(nsp, dtype, rng):
    size = (9, 7, 5)[:nsp]
    x = rng.uniform(-1, 1, (2, 3) + size).astype(dtype)
    w = rng.standard_normal((4, 3) + (3,) * nsp).astype(dtype)
    shape = (2, 4) + tuple(n - 2 for n in size)
    other = F64 if dtype == F32 else F32
    bad = [np.zeros(shape[1:], dtype), np.zeros((2, 5) + shape[2:], dtype),
           np.zeros(shape[:-1] + (shape[-1] + 1,), dtype), np.zeros(shape, other),
           np.zeros(shape, np.int64)]
    for out in bad:
        out0 = out.copy()
        with pytest.raises(ValueError, match="out"):
            CONV[nsp](x, w, out=out)
        np.testing.assert_array_equal(out, out0)
    ro = np.zeros(shape, dtype)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="out"):
        CONV[nsp](x, w, out=ro)
    with pytest.raises(TypeError, match="out"):
        CONV[nsp](x, w, out=np.zeros(shape, dtype).tolist())


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("kind", ["1x1", "same", "same-reflect", "shifted-view"])
def test_out_overlapping_x(nsp, kind, dtype, rng):
    """out sharing memory with x (in-place, or a shifted view of the same buffer) gives the
    result computed from the original x."""
    size = (10, 8, 6)[:nsp]
    buf = rng.uniform(-1, 1, (2, 4) + tuple(n + 1 for n in size)).astype(dtype)
    x = buf[(slice(None), slice(None)) + tuple(slice(0, n) for n in size)]
    kw = {}
    if kind == "1x1":
        w = rng.standard_normal((4, 4) + (1,) * nsp).astype(dtype)
    else:
        w = rng.standard_normal((4, 2) + (3,) * nsp).astype(dtype)
        kw = dict(padding="same", groups=2,
                  padding_mode="reflect" if kind == "same-reflect" else "zeros")
    expect = CONV[nsp](x.copy(), w, **kw)
    check_conv(nsp, x.copy(), w, **kw)
    if kind == "shifted-view":
        out = buf[(slice(None), slice(None)) + tuple(slice(1, n + 1) for n in size)]
    else:
        out = x
    ret = CONV[nsp](x, w, out=out, **kw)
    assert ret is out
    np.testing.assert_array_equal(out, expect)


def test_out_depthwise_separable(rng):
    x = rng.uniform(-1, 1, (2, 3, 8, 9))
    dw = rng.standard_normal((6, 1, 3, 3))
    pw = rng.standard_normal((4, 6, 1, 1))
    out = np.empty((2, 6, 8, 9))
    assert pyconv.depthwise_conv2d(x, dw, padding=1, out=out) is out
    np.testing.assert_array_equal(out, pyconv.depthwise_conv2d(x, dw, padding=1))
    out = np.empty((2, 4, 8, 9))
    assert pyconv.separable_conv2d(x, dw, pw, padding=1, out=out) is out
    np.testing.assert_array_equal(out, pyconv.separable_conv2d(x, dw, pw, padding=1))
    with pytest.raises(ValueError, match="out"):
        pyconv.separable_conv2d(x, dw, pw, padding=1, out=np.empty((2, 6, 8, 9)))


# ------------------------------------------------------------------ argument validation


def _x(nsp=2, c=4, n=2):
    return np.random.default_rng(3).uniform(-1, 1, (n, c) + (6, 7, 5)[:nsp])


def _w(nsp=2, o=6, cpg=4, k=3):
    return np.random.default_rng(4).standard_normal((o, cpg) + (k,) * nsp)


BAD_CALLS = [
    # (id, call(module), exception type(s), pattern the message must contain)
    ("channels", lambda m: m.conv2d(_x(), _w(cpg=3)), ValueError, "weight|channel"),
    ("channels-groups", lambda m: m.conv2d(_x(), _w(cpg=4), groups=2), ValueError, "weight|channel"),
    ("groups-not-dividing-C", lambda m: m.conv2d(_x(c=4), _w(o=6, cpg=1), groups=3), ValueError, "groups"),
    ("groups-not-dividing-O", lambda m: m.conv2d(_x(c=4), _w(o=6, cpg=1), groups=4), ValueError, "groups"),
    ("groups-zero", lambda m: m.conv2d(_x(), _w(), groups=0), ValueError, "groups"),
    ("groups-negative", lambda m: m.conv2d(_x(), _w(), groups=-2), ValueError, "groups"),
    ("groups-float", lambda m: m.conv2d(_x(), _w(), groups=1.0), TypeError, "groups"),
    ("groups-str", lambda m: m.conv2d(_x(), _w(), groups="1"), TypeError, "groups"),
    ("stride-zero", lambda m: m.conv2d(_x(), _w(), stride=0), ValueError, "stride"),
    ("stride-negative", lambda m: m.conv1d(_x(1), _w(1), stride=-1), ValueError, "stride"),
    ("stride-tuple-zero", lambda m: m.conv2d(_x(), _w(), stride=(1, 0)), ValueError, "stride"),
    ("stride-float", lambda m: m.conv2d(_x(), _w(), stride=1.5), TypeError, "stride"),
    ("stride-tuple-float", lambda m: m.conv3d(_x(3), _w(3), stride=(1, 2.0, 1)), TypeError, "stride"),
    ("stride-len", lambda m: m.conv2d(_x(), _w(), stride=(1, 1, 1)), ValueError, "stride"),
    ("stride-str", lambda m: m.conv2d(_x(), _w(), stride="2"), (TypeError, ValueError), "stride"),
    ("dilation-zero", lambda m: m.conv2d(_x(), _w(), dilation=0), ValueError, "dilation"),
    ("dilation-negative", lambda m: m.conv3d(_x(3), _w(3), dilation=(1, -1, 1)), ValueError, "dilation"),
    ("dilation-float", lambda m: m.conv1d(_x(1), _w(1), dilation=2.0), TypeError, "dilation"),
    ("dilation-len", lambda m: m.conv1d(_x(1), _w(1), dilation=(1, 1)), ValueError, "dilation"),
    ("padding-negative", lambda m: m.conv2d(_x(), _w(), padding=-1), ValueError, "padding"),
    ("padding-tuple-negative", lambda m: m.conv2d(_x(), _w(), padding=(1, -1)), ValueError, "padding"),
    ("padding-float", lambda m: m.conv2d(_x(), _w(), padding=1.0), TypeError, "padding"),
    ("padding-len", lambda m: m.conv3d(_x(3), _w(3), padding=(1, 1)), ValueError, "padding"),
    ("padding-same-stride", lambda m: m.conv2d(_x(), _w(), padding="same", stride=2), ValueError, "same|stride"),
    ("padding-same-stride-tuple", lambda m: m.conv1d(_x(1), _w(1), padding="same", stride=(2,)), ValueError, "same|stride"),
    ("padding-unknown", lambda m: m.conv2d(_x(), _w(), padding="full"), ValueError, "padding"),
    ("padding-upper", lambda m: m.conv2d(_x(), _w(), padding="SAME"), ValueError, "padding"),
    ("padding_mode-unknown", lambda m: m.conv2d(_x(), _w(), padding=1, padding_mode="mirror"), ValueError, "padding_mode"),
    ("padding_mode-constant", lambda m: m.conv2d(_x(), _w(), padding=1, padding_mode="constant"), ValueError, "padding_mode"),
    ("padding_mode-unknown-nopad", lambda m: m.conv2d(_x(), _w(), padding_mode="zero"), ValueError, "padding_mode"),
    ("padding_mode-int", lambda m: m.conv2d(_x(), _w(), padding_mode=0), (TypeError, ValueError), "padding_mode"),
    ("kernel-too-large", lambda m: m.conv2d(_x(), _w(k=8)), ValueError, "kernel|weight|input"),
    ("kernel-too-large-dilated", lambda m: m.conv2d(_x(), _w(k=3), dilation=4), ValueError, "kernel|weight|input"),
    ("kernel-too-large-3d", lambda m: m.conv3d(_x(3), _w(3, k=6), padding=(1, 1, 0)), ValueError, "kernel|weight|input"),
    ("reflect-pad-equal-size", lambda m: m.conv1d(_x(1)[..., :3], _w(1, k=1), padding=3, padding_mode="reflect"), ValueError, "padding"),
    ("reflect-pad-larger", lambda m: m.conv2d(_x(), _w(), padding=(1, 7), padding_mode="reflect"), ValueError, "padding"),
    ("reflect-same", lambda m: m.conv1d(_x(1)[..., :2], _w(1, k=5), padding="same", padding_mode="reflect"), ValueError, "padding"),
    ("circular-pad-larger", lambda m: m.conv2d(_x(), _w(), padding=(7, 0), padding_mode="circular"), ValueError, "padding"),
    ("circular-pad-larger-3d", lambda m: m.conv3d(_x(3), _w(3), padding=(0, 0, 6), padding_mode="circular"), ValueError, "padding"),
    ("x-ndim-low", lambda m: m.conv2d(_x(1), _w()), ValueError, "x"),
    ("x-ndim-high", lambda m: m.conv1d(_x(3), _w(1)), ValueError, "x"),
    ("x-ndim-5-for-2d", lambda m: m.conv2d(_x()[None], _w()), ValueError, "x"),
    ("x-0d", lambda m: m.conv1d(np.float64(1.0), _w(1)), ValueError, "x"),
    ("weight-ndim-low", lambda m: m.conv2d(_x(), _w(1)), ValueError, "weight"),
    ("weight-ndim-high", lambda m: m.conv2d(_x(), _w(3)), ValueError, "weight"),
    ("weight-empty", lambda m: m.conv2d(_x(), np.zeros((0, 4, 3, 3))), ValueError, "weight"),
    ("x-empty-spatial", lambda m: m.conv2d(np.zeros((2, 4, 0, 5)), _w(k=1)), ValueError, "x"),
    ("bias-size", lambda m: m.conv2d(_x(), _w(), np.ones(5)), ValueError, "bias"),
    ("bias-ndim", lambda m: m.conv2d(_x(), _w(), np.ones((6, 1))), ValueError, "bias"),
    ("bias-scalar", lambda m: m.conv2d(_x(), _w(), 1.0), ValueError, "bias"),
    ("bias-complex", lambda m: m.conv2d(_x(), _w(), np.ones(6, complex)), TypeError, "bias"),
    ("x-complex", lambda m: m.conv2d(_x().astype(np.complex128), _w()), TypeError, "x"),
    ("x-complex64", lambda m: m.conv1d(_x(1).astype(np.complex64), _w(1)), TypeError, "x"),
    ("weight-complex", lambda m: m.conv3d(_x(3), _w(3).astype(np.complex128)), TypeError, "weight"),
    ("x-object", lambda m: m.conv2d(_x().astype(object), _w()), TypeError, "x"),
    ("x-str", lambda m: m.conv2d(_x().astype(str), _w()), TypeError, "x"),
    ("weight-str", lambda m: m.conv2d(_x(), _w().astype("S4")), TypeError, "weight"),
    ("x-none", lambda m: m.conv2d(None, _w()), TypeError, "x"),
    ("weight-none", lambda m: m.conv2d(_x(), None), TypeError, "weight"),
    ("num_threads-zero", lambda m: m.conv2d(_x(), _w(), num_threads=0), ValueError, "num_threads"),
    ("num_threads-float", lambda m: m.conv2d(_x(), _w(), num_threads=1.5), TypeError, "num_threads"),
    ("depthwise-weight-shape1", lambda m: m.depthwise_conv2d(_x(), _w(o=8, cpg=2)), ValueError, "weight"),
    ("depthwise-weight-multiple", lambda m: m.depthwise_conv2d(_x(), _w(o=6, cpg=1)), ValueError, "weight"),
    ("depthwise-weight-ndim", lambda m: m.depthwise_conv2d(_x(), _w(1, o=4, cpg=1)), ValueError, "weight"),
    ("depthwise-x-ndim", lambda m: m.depthwise_conv2d(_x(3), _w(o=4, cpg=1)), ValueError, "x"),
    ("depthwise-x-complex", lambda m: m.depthwise_conv2d(_x().astype(complex), _w(o=4, cpg=1)), TypeError, "x"),
    ("depthwise-bias", lambda m: m.depthwise_conv2d(_x(), _w(o=4, cpg=1), np.ones(3)), ValueError, "bias"),
    ("depthwise-stride", lambda m: m.depthwise_conv2d(_x(), _w(o=4, cpg=1), stride=0), ValueError, "stride"),
    ("depthwise-padding_mode", lambda m: m.depthwise_conv2d(_x(), _w(o=4, cpg=1), padding=1, padding_mode="wrap"), ValueError, "padding_mode"),
    ("separable-pointwise-channels", lambda m: m.separable_conv2d(_x(), _w(o=8, cpg=1), _w(o=3, cpg=4, k=1)), ValueError, "pointwise_weight"),
    ("separable-pointwise-kernel", lambda m: m.separable_conv2d(_x(), _w(o=4, cpg=1), _w(o=3, cpg=4, k=3)), ValueError, "pointwise_weight"),
    ("separable-pointwise-complex", lambda m: m.separable_conv2d(_x(), _w(o=4, cpg=1), _w(o=3, cpg=4, k=1).astype(complex)), TypeError, "pointwise_weight"),
    ("separable-depthwise-shape", lambda m: m.separable_conv2d(_x(), _w(o=4, cpg=2), _w(o=3, cpg=4, k=1)), ValueError, "weight"),
    ("separable-bias", lambda m: m.separable_conv2d(_x(), _w(o=4, cpg=1), _w(o=3, cpg=4, k=1), np.ones(4)), ValueError, "bias"),
    ("shuffle-groups-not-dividing", lambda m: m.channel_shuffle(_x(c=6), 4), ValueError, "groups"),
    ("shuffle-groups-zero", lambda m: m.channel_shuffle(_x(c=6), 0), ValueError, "groups"),
    ("shuffle-groups-negative", lambda m: m.channel_shuffle(_x(c=6), -3), ValueError, "groups"),
    ("shuffle-groups-float", lambda m: m.channel_shuffle(_x(c=6), 2.0), TypeError, "groups"),
    ("shuffle-x-1d", lambda m: m.channel_shuffle(np.ones(6), 2), ValueError, "x"),
    ("shuffle-x-complex", lambda m: m.channel_shuffle(_x(c=6).astype(complex), 2), TypeError, "x"),
]


@pytest.mark.parametrize("call,exc,pattern", [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_bad_arguments(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call(pyconv)


@pytest.mark.parametrize("bad", [dict(padding_mode="bogus"), dict(groups=3), dict(stride=0),
                                 dict(padding="same", stride=2), dict(padding=-1)])
def test_bad_arguments_leave_out_untouched(bad):
    """A bad argument is refused before any work: nothing is written to out."""
    out = np.full((2, 6, 4, 5), 7.0)
    with pytest.raises((ValueError, TypeError)):
        pyconv.conv2d(_x(), _w(), out=out, **bad)
    with pytest.raises(ValueError):
        pyconv.conv2d(_x(), _w(cpg=3), out=out)
    np.testing.assert_array_equal(out, 7.0)


# --------------------------------------------------------- reference ValueErrors agree

REF_CALLS = [c for c in BAD_CALLS if not c[0].startswith(("num_threads", "x-none", "weight-none"))]


@pytest.mark.parametrize("call,exc,pattern", [c[1:] for c in REF_CALLS], ids=[c[0] for c in REF_CALLS])
def test_reference_refuses_the_same_calls(call, exc, pattern):
    """pyconv.reference, given the same bad call, refuses it with the same exception type."""
    with pytest.raises(exc):
        call(R)


# ---------------------------------------------------------------------- separable_conv2d


def _separable_scale(x, dw, pw, bias):
    """max|x| * max_o sum_m |pw[o, m]| * sum|dw[m]| + max|bias|."""
    dws = np.abs(np.asarray(dw, np.float64)).reshape(np.shape(dw)[0], -1).sum(1)
    pwa = np.abs(np.asarray(pw, np.float64)).reshape(np.shape(pw)[0], -1)
    s = float(np.abs(np.asarray(x, np.float64)).max()) * float((pwa * dws).sum(1).max())
    return s + (0.0 if bias is None else float(np.abs(np.asarray(bias, np.float64)).max()))


@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("kw", [dict(), dict(padding=1), dict(stride=2, padding=(2, 1)),
                                dict(padding="same", dilation=(2, 1)),
                                dict(stride=(1, 3), dilation=2, padding="valid")],
                         ids=["plain", "pad1", "strided", "same-dilated", "valid"])
def test_separable_conv2d(multiplier, mode, kw, dtype, rng):
    C, O = 3, 5
    x = rng.uniform(-1, 1, (2, C, 9, 10)).astype(dtype)
    dw = rng.standard_normal((C * multiplier, 1, 3, 2)).astype(dtype)
    pw = rng.standard_normal((O, C * multiplier, 1, 1)).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    got = pyconv.separable_conv2d(x, dw, pw, b, padding_mode=mode, **kw)
    assert got.dtype == dtype
    # equal to pointwise(depthwise(x)) computed by pyconv itself
    two_step = pyconv.conv2d(pyconv.depthwise_conv2d(x, dw, None, padding_mode=mode, **kw), pw, b)
    scale = _separable_scale(x, dw, pw, b)
    ntaps = 6 * C * multiplier
    assert_close(got, two_step, dtype, ntaps, what=f"two-step {kw}", scale=scale)
    xr, dwr, pwr, br = (as_ref(a, dtype) for a in (x, dw, pw, b))
    ref = R.separable_conv2d(xr, dwr, pwr, br, padding_mode=mode, **kw)
    assert_close(got, ref, dtype, ntaps, what=f"reference {kw}", scale=scale)
    loops = CR.conv(CR.conv(xr, dwr, None, groups=C, padding_mode=mode, **kw), pwr, br)
    assert_close(got, loops, dtype, ntaps, what=f"loops {kw}", scale=scale)
    # unbatched, and the pointwise weight as a 2-D (O, C * multiplier) matrix
    np.testing.assert_array_equal(
        pyconv.separable_conv2d(x[1], dw, pw, b, padding_mode=mode, **kw), got[1])
    assert_close(pyconv.separable_conv2d(x, dw, pw[:, :, 0, 0], b, padding_mode=mode, **kw),
                 ref, dtype, ntaps, what="2-D pointwise", scale=scale)


def test_separable_conv2d_mixed_dtypes(rng):
    x = rng.uniform(-1, 1, (1, 2, 6, 6)).astype(np.float32)
    dw = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    pw = rng.standard_normal((3, 2, 1, 1))
    got = pyconv.separable_conv2d(x, dw, pw)  # a float64 pointwise weight widens the result
    assert got.dtype == F64
    ref = R.separable_conv2d(x, dw, pw)
    assert_close(got, ref, F64, 18, scale=_separable_scale(x, dw, pw, None))
    got = pyconv.separable_conv2d(x, dw, pw.tolist())  # a list adapts
    assert got.dtype == F32
    assert_close(got, ref, F32, 18, scale=_separable_scale(x, dw, pw, None))


# ---------------------------------------------------------------------- channel_shuffle


def _numpy_shuffle(x, g):
    n, c = x.shape[:2]
    return x.reshape((n, g, c // g) + x.shape[2:]).swapaxes(1, 2).reshape(x.shape)


@pytest.mark.parametrize("shape", [(2, 12), (1, 12, 5), (3, 12, 4, 3), (2, 12, 2, 3, 2),
                                   (1, 1, 4, 4), (2, 7, 3)])
def test_channel_shuffle(shape, dtype, rng):
    x = rng.uniform(-1, 1, shape).astype(dtype)
    C = shape[1]
    for g in [d for d in range(1, C + 1) if C % d == 0]:
        got = pyconv.channel_shuffle(x, g)
        assert got.dtype == dtype and got.shape == x.shape
        np.testing.assert_array_equal(got, _numpy_shuffle(x, g), err_msg=f"groups={g}")
        np.testing.assert_array_equal(got, CR.channel_shuffle(x, g), err_msg=f"groups={g}")
        np.testing.assert_array_equal(got, R.channel_shuffle(x, g), err_msg=f"groups={g}")
        # the inverse shuffle
        np.testing.assert_array_equal(pyconv.channel_shuffle(got, C // g), x)
        if g in (1, C):
            np.testing.assert_array_equal(got, x)


@pytest.mark.parametrize("shape", [(2, 6), (1, 6, 5), (2, 6, 4, 3), (1, 1, 4, 4)])
def test_channel_shuffle_returns_a_new_array(shape, rng):
    """Every groups value (1 and C included, where the shuffle is the identity) returns a new
    array: writing to the result never changes x."""
    x = rng.standard_normal(shape)
    x0 = x.copy()
    for g in [d for d in range(1, shape[1] + 1) if shape[1] % d == 0]:
        got = pyconv.channel_shuffle(x, g)
        assert not np.shares_memory(got, x), f"groups={g}: the result is a view of x"
        got[...] = 0.0
        np.testing.assert_array_equal(x, x0)


def test_channel_shuffle_explicit_order():
    x = np.arange(6.0).reshape(1, 6, 1, 1)
    np.testing.assert_array_equal(pyconv.channel_shuffle(x, 2).ravel(), [0, 3, 1, 4, 2, 5])
    np.testing.assert_array_equal(pyconv.channel_shuffle(x, 3).ravel(), [0, 2, 4, 1, 3, 5])


@given(n=st.integers(1, 3), g=st.integers(1, 5), k=st.integers(1, 5),
       spatial=st.lists(st.integers(1, 4), max_size=3))
def test_channel_shuffle_involution(n, g, k, spatial):
    x = np.random.default_rng(n * 100 + g * 10 + k).standard_normal((n, g * k) + tuple(spatial))
    y = pyconv.channel_shuffle(x, g)
    np.testing.assert_array_equal(y, _numpy_shuffle(x, g))
    np.testing.assert_array_equal(pyconv.channel_shuffle(y, k), x)


def test_channel_shuffle_layouts(rng):
    x = rng.standard_normal((2, 6, 5, 4))
    expect = _numpy_shuffle(x, 3)
    for lname, arr in _layouts(x):
        np.testing.assert_array_equal(pyconv.channel_shuffle(arr, 3), expect, err_msg=lname)
    x32 = x.astype(np.float32)
    for lname, arr in _layouts(x32):
        got = pyconv.channel_shuffle(arr, 2)
        np.testing.assert_array_equal(got, _numpy_shuffle(x32, 2), err_msg=lname)


@pytest.mark.parametrize("dt", [">f4", ">f8", "<f4", "<f8"])
def test_channel_shuffle_native_float_out(dt, rng):
    """float32 in, float32 out (native byte order, as every other function returns)."""
    x = rng.standard_normal((2, 6, 3)).astype(dt)
    got = pyconv.channel_shuffle(x, 3)
    assert got.dtype == np.dtype(dt).newbyteorder("="), got.dtype
    np.testing.assert_array_equal(got, _numpy_shuffle(x, 3))


# ---------------------------------------------------------------- transposed convolution

CONV_T = {n: getattr(pyconv, "conv_transpose%dd" % n, None) for n in (1, 2, 3)}
needs_transpose = pytest.mark.skipif(CONV_T[2] is None, reason="no pyconv.conv_transpose2d")


@needs_transpose
@pytest.mark.parametrize("nsp", [1, 2, 3])
@given(data=st.data())
def test_conv_transpose_random(nsp, data):
    case = data.draw(conv_transpose_cases(nsp, max_k=4 if nsp < 3 else 3), label="case")
    dtype = np.dtype(data.draw(st.sampled_from([F32, F64]), label="dtype"))
    x, w = case.x.astype(dtype), case.weight.astype(dtype)
    b = None if case.bias is None else case.bias.astype(dtype)
    got = CONV_T[nsp](x, w, b, **case.kwargs)
    xr, wr, br = as_ref(x, dtype), as_ref(w, dtype), _ref_dtype(b, dtype)
    scale = transpose_scale(xr, wr, br)
    ntaps = w[:, 0].size
    assert_close(got, CR.conv_transpose(xr, wr, br, **case.kwargs), dtype, ntaps,
                 what=repr(case) + " [loops]", scale=scale)
    assert_close(got, REF_T[nsp](xr, wr, br, **case.kwargs), dtype, ntaps,
                 what=repr(case) + " [pyconv.reference]", scale=scale)


@needs_transpose
@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_conv_transpose_threads_and_layouts(nsp, dtype, rng):
    x = rng.uniform(-1, 1, (2, 6) + (12, 10, 6)[:nsp]).astype(dtype)
    w = rng.standard_normal((6, 4) + (3, 4, 3)[:nsp]).astype(dtype)
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    one = CONV_T[nsp](x, w, num_threads=1, **kw)
    for n in (2, 3):
        np.testing.assert_array_equal(CONV_T[nsp](x, w, num_threads=n, **kw), one)
    for lname, arr in _layouts(x):
        np.testing.assert_array_equal(CONV_T[nsp](arr, w, **kw), one, err_msg=lname)
    xr, wr = as_ref(x, dtype), as_ref(w, dtype)
    assert_close(one, CR.conv_transpose(xr, wr, **kw), dtype, w[:, 0].size,
                 scale=transpose_scale(xr, wr))


@needs_transpose
@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv_transpose_combined_phases(nsp, groups, dtype, rng, monkeypatch):
    """Strides whose phases all have the same taps (kernel 4, stride 2; kernel 6, stride 3)
    run as one correlation with a channel per (output channel, phase), placed straight into
    the result (one kernel call for the whole batch); the phase-by-phase path (one
    correlation per phase) and the reference give the same numbers."""
    from pyconv import nn
    x = rng.uniform(-1, 1, (5, 4) + (7, 6, 5)[:nsp]).astype(dtype)
    w = rng.standard_normal((4, 3) + (4, 6, 4)[:nsp]).astype(dtype)
    b = rng.standard_normal(3 * groups).astype(dtype)
    kw = dict(stride=(2, 3, 2)[:nsp], padding=(1, 2, 0)[:nsp], groups=groups)
    calls = []
    for name in ("run_phase", "run_setup"):
        real = getattr(nn._conv, name)
        monkeypatch.setattr(nn._conv, name, lambda *a, _n=name, _r=real, **k:
                            calls.append((_n, a[0].shape[0])) or _r(*a, **k))
    whole = CONV_T[nsp](x, w, b, **kw)
    assert calls == [("run_setup", 5)]          # one correlation for the whole batch
    xr, wr, br = as_ref(x, dtype), as_ref(w, dtype), as_ref(b, dtype)
    assert_close(whole, CR.conv_transpose(xr, wr, br, **kw), dtype, w[:, 0].size,
                 scale=transpose_scale(xr, wr, br))
    calls.clear()
    monkeypatch.setattr(nn, "_combined_phases", lambda *a: False)
    phased = CONV_T[nsp](x, w, b, **kw)
    assert calls == [("run_phase", 5)] * math.prod((2, 3, 2)[:nsp])  # one per phase
    assert_close(phased, whole, dtype, w[:, 0].size, scale=transpose_scale(xr, wr, br))


@needs_transpose
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_conv_transpose_combined_nonfinite_weight(bad, dtype, rng, monkeypatch):
    """A NaN or infinite weight in a layer whose phases line up: the combined path gives way
    to the scatter-add, which lets the weight meet only the input samples it multiplies, as
    the scatter-add loop reference does."""
    from pyconv import nn
    x = rng.uniform(-1, 1, (2, 4, 5, 6)).astype(dtype)
    w = rng.standard_normal((4, 3, 4, 4)).astype(dtype)
    w[1, 2, 3, 0] = bad
    seen = []
    real = nn._combined_phases
    monkeypatch.setattr(nn, "_combined_phases", lambda *a: seen.append(real(*a)) or seen[-1])
    got = pyconv.conv_transpose2d(x, w, stride=2, padding=1)
    assert seen == [None]
    with np.errstate(invalid="ignore"):
        ref = CR.conv_transpose(as_ref(x, dtype), as_ref(w, dtype), stride=2, padding=1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    fin = np.isfinite(ref)
    assert_close(got[fin], ref[fin], dtype, w[:, 0].size, scale=4.0 * 16)


def test_combined_setup_cached():
    """The transposed convolution's per-layer setup (plan, tables, windows, places) is
    computed once per layer shape: a second call of the same layer is a cache hit."""
    from pyconv import nn
    x = np.zeros((1, 16, 3, 3, 3), np.float32)
    w = np.zeros((16, 16, 4, 4, 4), np.float32)
    pyconv.conv_transpose3d(x, w, stride=2, padding=1)
    hits = nn._combined_setup.cache_info().hits
    pyconv.conv_transpose3d(x, w, stride=2, padding=1)
    assert nn._combined_setup.cache_info().hits == hits + 1


@pytest.mark.parametrize("tile", ["one", "mr", "mc", "mp"])
@pytest.mark.parametrize("G, Cg, Og, P, kvol, K", [(1, 3, 5, 4, 16, 12), (2, 2, 7, 2, 8, 8),
                                                   (1, 16, 16, 8, 64, 128), (3, 1, 4, 3, 9, 3)])
def test_pack_phases(G, Cg, Og, P, kvol, K, tile, dtype, rng):
    """The combined phases' weights packed in one pass: the combined matrix built by NumPy
    from its definition, padded to whole tiles and transposed per tile by NumPy (for tiles
    of one channel, the rows themselves), for phase-major (one group) and output-major
    channels, 1 and 2 threads; a tap outside (Cg, kvol), a wrong output size or tile are
    refused."""
    from pyconv._kernels import kernels
    from pyconv._conv import MR
    mr = {"one": 1, "mr": MR, "mc": kernels.conv_mc()[0], "mp": kernels.conv_mc()[3]}[tile]
    packp = kernels.pack_phases_f32 if dtype == np.float32 else kernels.pack_phases_f64
    w = rng.standard_normal((G * Cg, Og, kvol)).astype(dtype)
    pick = np.stack([rng.permutation(Cg * kvol)[:K] for _ in range(P)]).astype(np.intp)
    for pmajor in ((False, True) if G == 1 else (False,)):
        O = G * Og
        comb = np.empty((O * P, K), dtype)
        for c in range(O * P):
            f, o = divmod(c, O) if pmajor else (c % P, c // P)
            g, ol = divmod(o, Og)
            for j in range(K):
                cg, t = divmod(int(pick[f, j]), kvol)
                comb[c, j] = w[g * Cg + cg, ol, t]
        nt = -(-(Og * P) // mr)
        padded = np.zeros((G, nt * mr, K), dtype)
        padded[:, :Og * P] = comb.reshape(G, Og * P, K)
        expect = padded.reshape(G, nt, mr, K).transpose(0, 1, 3, 2).ravel()
        if mr == kernels.conv_mc()[3]:
            expect = np.repeat(expect, 2)       # the pair tile reads each weight twice
        for threads in (1, 2):
            out = np.full(expect.size, np.nan, dtype)
            packp(w.ravel(), pick, out, G, Cg, Og, kvol, pmajor, mr, threads)
            np.testing.assert_array_equal(out, expect)
    bad = pick.copy()
    bad[0, 0] = Cg * kvol
    with pytest.raises(ValueError, match="outside"):
        packp(w.ravel(), bad, out, G, Cg, Og, kvol, False, mr, 1)
    with pytest.raises(ValueError, match="wrong size"):
        packp(w.ravel(), pick, np.empty(out.size + 1, dtype), G, Cg, Og, kvol, False, mr, 1)
    with pytest.raises(ValueError, match="neither"):
        packp(w.ravel(), pick, out, G, Cg, Og, kvol, False, 5, 1)


@pytest.mark.parametrize("O, groups, size", [(40, 1, (1, 9, 23)), (70, 2, (5, 6, 7)),
                                             (3, 1, (2, 17, 3)), (64, 1, (1, 1, 40))])
def test_run_phase_windows(O, groups, size, tile_kernel, dtype, rng, monkeypatch):
    """The per-channel planes and rows windows of the transposed convolution's combined
    phases: the unwindowed run equals a float64 loop over the taps; every output inside its
    channel's window has the bits of the unwindowed run, one outside is either that or left
    as it was (NaN here), and when the plan runs channel tiles outside the lane blocks some
    are left (the windows are used; other orders compute all); windows of the wrong length
    are refused."""
    from pyconv import _conv
    C = 4 * groups
    x = rng.uniform(-1, 1, (2, C) + size).astype(dtype)
    kshape = tuple(min(k, n) for k, n in zip((2, 3, 2), size))
    w = rng.standard_normal((O, C // groups) + kshape).astype(dtype)
    b = rng.standard_normal(O).astype(dtype)
    starts = tuple(-(k // 2) for k in w.shape[2:])
    dest = np.empty((2, O) + size, dtype)
    geoms = []
    plan = _conv.plan
    monkeypatch.setattr(_conv, "plan", lambda *a: geoms.append(plan(*a)[0]) or plan(*a))
    full = _conv.run_phase(x, w, b, (1, 1, 1), starts, dest.copy(), 2)
    # the unwindowed run against a float64 loop over the taps (zeros outside x)
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)]
                + [(-s, k - 1 + s) for s, k in zip(starts, kshape)])
    ref = np.broadcast_to(b.astype(np.float64)[None, :, None, None, None], full.shape).copy()
    Cg, Og = C // groups, O // groups
    for kz, ky, kx in np.ndindex(*kshape):
        win_x = xp[:, :, kz:kz + size[0], ky:ky + size[1], kx:kx + size[2]]
        for g in range(groups):
            ref[:, g * Og:(g + 1) * Og] += np.einsum(
                "nc...,oc->no...", win_x[:, g * Cg:(g + 1) * Cg],
                w[g * Og:(g + 1) * Og, :, kz, ky, kx].astype(np.float64))
    assert_close(full, ref, dtype, Cg * math.prod(kshape))
    lo = rng.integers(0, np.array(size[:2]), (O, 2))
    hi = lo + rng.integers(1, np.array(size[:2]) + 1 - lo, (O, 2))
    win = np.stack([lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1]], axis=1)
    dest.fill(np.nan)
    got = _conv.run_phase(x, w, b, (1, 1, 1), starts, dest, 2, windows=win)
    z = np.arange(size[0])[:, None]
    y = np.arange(size[1])[None, :]
    inside = ((z >= win[:, None, None, 0]) & (z < win[:, None, None, 1])
              & (y >= win[:, None, None, 2]) & (y < win[:, None, None, 3]))   # (O, D, H)
    inside = np.broadcast_to(inside[None, ..., None], got.shape)
    np.testing.assert_array_equal(got[inside], full[inside])
    left = np.isnan(got)
    np.testing.assert_array_equal(got[~left], full[~left])
    assert not (left & inside).any()
    # the first plane's first row only: a tile outside the lane blocks leaves the other
    # planes (skipped whole) and, far enough from the first (a block is up to 64 lanes),
    # the last row unwritten
    wouter = geoms[-1][-1]
    dest.fill(np.nan)
    one = _conv.run_phase(x, w, b, (1, 1, 1), starts, dest, 2,
                          windows=np.tile([0, 1, 0, 1], (O, 1)))
    left = np.isnan(one)
    np.testing.assert_array_equal(one[~left], full[~left])
    assert left.any() == (wouter >= 1 and (size[0] > 1 or size[1] > 2)), wouter
    assert left[:, :, 1:].all() == (wouter >= 1)
    assert not left[:, :, 0, 0].any()
    if size[0] == 1 and size[1] > 2:
        assert left[..., -1, :].all() == (wouter >= 1)     # 8 rows of 23 on: > 64 lanes
    monkeypatch.setattr(_conv, "_tile_windows", lambda *a: np.zeros(3, np.intp))
    with pytest.raises(ValueError, match="windows"):
        _conv.run_phase(x, w, b, (1, 1, 1), starts, dest, 2, windows=win)


@pytest.mark.parametrize("tile", ["mr", "mc", "mp"])
@pytest.mark.parametrize("G, Og, K", [(1, 1, 5), (1, 6, 3), (2, 7, 9), (3, 13, 1),
                                      (1, 256, 300), (4, 5, 70000), (2, 40, 7)])
def test_pack_tiles(G, Og, K, tile, dtype, rng):
    """The layer weights in a micro-kernel's order (tiles of CONV_MR, CONV_MC or CONV_MP
    channels; each weight twice for the pair tile), against NumPy's transposition of the
    zero-padded tiles, for 1 and 2 threads (the (4, 5, 70000) case is large enough for
    threads); another tile size is refused."""
    from pyconv._kernels import kernels
    from pyconv._conv import MR
    mr = {"mr": MR, "mc": kernels.conv_mc()[0], "mp": kernels.conv_mc()[3]}[tile]
    pack = kernels.pack_tiles_f32 if dtype == np.float32 else kernels.pack_tiles_f64
    w = rng.standard_normal((G * Og, K)).astype(dtype)
    nt = -(-Og // mr)
    padded = np.zeros((G, nt * mr, K), dtype)
    padded[:, :Og] = w.reshape(G, Og, K)
    expect = padded.reshape(G, nt, mr, K).transpose(0, 1, 3, 2).ravel()
    if tile == "mp":
        expect = np.repeat(expect, 2)           # the pair tile reads each weight twice
    for threads in (1, 2):
        out = np.full(expect.size, np.nan, dtype)
        pack(w, out, G, mr, threads)
        np.testing.assert_array_equal(out, expect)
    with pytest.raises(ValueError, match="wrong size"):
        pack(w, np.empty(expect.size + 1, dtype), G, mr, 1)
    with pytest.raises(ValueError, match="mr is neither"):
        pack(w, np.empty(expect.size, dtype), G, 5, 1)
    if G * Og > 1:
        with pytest.raises(ValueError, match="does not divide"):
            pack(w[:G * Og - 1] if G > 1 else w, np.empty(expect.size, dtype),
                 G if G > 1 else G * Og + 1, mr, 1)


def _phase_places(U, dshape, strides, rng):
    """Random (P, 9) places of phases over a grid U into a destination of shape dshape: per
    axis and phase index i < s, the first index i, a shift 0 or 1 into the grid, a count
    that fits both (equal counts and shifts often: pairs one column apart)."""
    per_axis = []
    for u, n, s in zip(U, dshape, strides):
        rows = []
        for i in range(s):
            h = int(rng.integers(0, 2)) if u > 1 else 0
            c = min(u - h, len(range(i, n, s)))
            c = c if rng.random() < 0.7 else int(rng.integers(0, c + 1))
            rows.append((i, h, c))
        per_axis.append(rows)
    return np.array([az + ay + ax for az in per_axis[0] for ay in per_axis[1]
                     for ax in per_axis[2]], dtype=np.intp)


@pytest.mark.parametrize("case", ["pairs", "strided", "blocks", "long"])
def test_run_placed(case, tile_kernel, dtype, rng, monkeypatch, request):
    """The combined phases placed by the kernel: NumPy's strided assignment of run_phase's
    grid, phase by phase, bit for bit; nothing else written; for 1 and 2 threads, with
    phase-major and output-major channels, with and without the windows of the phases (as
    pyconv.nn passes them).  The cases: a destination contiguous in x with stride 2 (pairs
    of phases one column apart written interleaved), one with negative and strided steps,
    one whose tasks split rows and channel tiles (a small buffer, 4 threads), a row longer
    than a column block.  A phase reaching outside either array, or wrong shapes, are
    refused."""
    from pyconv import _conv
    if case == "blocks":
        monkeypatch.setattr(_conv, "BUF_BYTES", 48 * 1024)     # a row per task
        _conv.plan.cache_clear()
        request.addfinalizer(_conv.plan.cache_clear)
    geoms = []
    plan = _conv.plan
    monkeypatch.setattr(_conv, "plan", lambda *a: geoms.append(plan(*a)[0]) or plan(*a))
    x_shape, k, strides, O = {"pairs": ((2, 5, 2, 6, 7), (1, 2, 2), (1, 2, 2), 3),
                              "strided": ((2, 3, 3, 5, 6), (2, 2, 2), (2, 2, 2), 2),
                              "blocks": ((1, 8, 1, 3, 100), (1, 3, 2), (1, 2, 2), 16),
                              "long": ((2, 3, 1, 1, 1300), (1, 1, 3), (1, 1, 2), 3)}[case]
    x = rng.uniform(-1, 1, x_shape).astype(dtype)
    P = math.prod(strides)
    w = rng.standard_normal((O * P, x_shape[1]) + k).astype(dtype)
    b = rng.standard_normal(O * P).astype(dtype)
    starts = tuple(-(kk // 2) for kk in k)
    U = x_shape[2:]
    N = x.shape[0]
    grid = _conv.run_phase(x, w, b, (1, 1, 1), starts, np.empty((N, O * P) + U, dtype), 2)
    # the grid itself against a float64 loop over the taps (zeros outside x)
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)]
                + [(-st, kk - 1 + st) for st, kk in zip(starts, k)])
    ref = np.broadcast_to(b.astype(np.float64)[None, :, None, None, None], grid.shape).copy()
    for kz, ky, kx in np.ndindex(*k):
        ref += np.einsum("nc...,oc->no...", xp[:, :, kz:kz + U[0], ky:ky + U[1], kx:kx + U[2]],
                         w[:, :, kz, ky, kx].astype(np.float64))
    assert_close(grid, ref, dtype, x_shape[1] * math.prod(k))
    dshape = tuple(s * u for s, u in zip(strides, U))
    ph = _phase_places(U, dshape, strides, rng)
    if case == "pairs":
        ph[1::2, :6] = ph[0::2, :6]             # z and y alike, x shifts may differ
        ph[0::2, 8] = ph[1::2, 8] = np.minimum(ph[0::2, 8], ph[1::2, 8])
    for pmajor in (False, True):
        win = np.repeat(ph[:, [1, 2, 4, 5]], O, axis=0) if pmajor else np.tile(
            ph[:, [1, 2, 4, 5]], (O, 1))
        win[:, 1] += win[:, 0]
        win[:, 3] += win[:, 2]
        for threads in (1, 2, 4) if case == "blocks" else (1, 2):
            for windows in (None, win):
                if case == "strided":
                    big = np.zeros((N + 1, 2 * O + 1) + dshape[:2] + (2 * dshape[2],), dtype)
                    dst = big[1:, ::-2, :, :, 1::2][:, :O]
                else:
                    big = np.zeros((N, O + 1) + dshape, dtype)
                    dst = big[:, 1:]
                _conv.run_placed(x, w, b, (1, 1, 1), starts, U, dst, ph, strides, pmajor,
                                 threads, windows=windows)
                expect = np.zeros_like(big)
                view = (expect[1:, ::-2, :, :, 1::2][:, :O] if case == "strided"
                        else expect[:, 1:])
                for f, (z0, hz, cz, y0, hy, cy, x0, hx, cx) in enumerate(ph):
                    for o in range(O):
                        c = f * O + o if pmajor else o * P + f
                        view[:, o, z0::strides[0], y0::strides[1], x0::strides[2]][
                            :, :cz, :cy, :cx] = grid[:, c, hz:hz + cz, hy:hy + cy, hx:hx + cx]
                np.testing.assert_array_equal(big, expect)
    g = dict(zip(["nrb", "ncb", "noc"], [geoms[-1][i] for i in (25, 27, 29)]))
    if case == "blocks":
        assert g["nrb"] > 1 and g["noc"] > 1, g
    if case == "long":
        assert g["ncb"] > 1, g
    bad = ph.copy()
    bad[-1, 8] = U[2] + 1                       # reads past the grid's columns
    with pytest.raises(ValueError, match="outside"):
        _conv.run_placed(x, w, b, (1, 1, 1), starts, U, dst, bad, strides, True, 1)
    bad = ph.copy()
    bad[0, 6] = dshape[2]                       # writes past the destination's columns
    bad[0, 8] = max(bad[0, 8], 1)
    with pytest.raises(ValueError, match="outside"):
        _conv.run_placed(x, w, b, (1, 1, 1), starts, U, dst, bad, strides, True, 1)
    with pytest.raises(ValueError, match="do not match"):
        _conv.run_placed(x, w, b, (1, 1, 1), starts, U, dst, ph[:-1], strides, True, 1)


@needs_transpose
def test_conv_transpose_combined_threads(rng):
    """A transposed convolution large enough for threads (the correlation and the placing
    of the phases both threaded): the same bits for 1 and 2 threads, into a fresh result and
    into a strided out=, the phase-by-phase numbers, and the loop reference's."""
    from pyconv import nn
    x = rng.uniform(-1, 1, (2, 8, 64, 64)).astype(np.float32)
    w = rng.standard_normal((8, 8, 4, 4)).astype(np.float32)
    one = pyconv.conv_transpose2d(x, w, stride=2, padding=1, num_threads=1)
    assert one.size >= pyconv._threads.SERIAL_WORK
    np.testing.assert_array_equal(
        pyconv.conv_transpose2d(x, w, stride=2, padding=1, num_threads=2), one)
    out = np.zeros((2, 8, 128, 256), np.float32)[..., ::-2]
    pyconv.conv_transpose2d(x, w, stride=2, padding=1, num_threads=2, out=out)
    np.testing.assert_array_equal(out, one)
    saved = nn._combined_phases
    try:
        nn._combined_phases = lambda *a: False
        phased = pyconv.conv_transpose2d(x, w, stride=2, padding=1, num_threads=2)
    finally:
        nn._combined_phases = saved
    np.testing.assert_allclose(phased, one, rtol=1e-5, atol=1e-5)
    xr, wr = as_ref(x, np.float32), as_ref(w, np.float32)
    assert_close(one, CR.conv_transpose(xr, wr, None, stride=2, padding=1), np.float32,
                 w[:, 0].size, scale=transpose_scale(xr, wr, None))


@needs_transpose
@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_conv_transpose_out(nsp, dtype, rng):
    x = rng.uniform(-1, 1, (2, 4) + (5, 4, 3)[:nsp]).astype(dtype)
    w = rng.standard_normal((4, 3) + (3,) * nsp).astype(dtype)
    kw = dict(stride=2, padding=1, output_padding=1)
    expect = CONV_T[nsp](x, w, **kw)
    for out in (np.empty(expect.shape, dtype),
                np.zeros(tuple(2 * n for n in expect.shape), dtype)[(slice(None, None, 2),) * x.ndim],
                np.asfortranarray(np.zeros(expect.shape, dtype))):
        assert CONV_T[nsp](x, w, out=out, **kw) is out
        np.testing.assert_array_equal(out, expect)
    with pytest.raises(ValueError, match="out"):
        CONV_T[nsp](x, w, out=np.empty(expect.shape, F64 if dtype == F32 else F32), **kw)
    with pytest.raises(ValueError, match="out"):
        CONV_T[nsp](x, w, out=np.empty(expect.shape[:-1] + (expect.shape[-1] + 1,), dtype), **kw)


@needs_transpose
@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_conv_transpose_out_overlapping_inputs(nsp, dtype, rng):
    # out is x: stride 1, k = 2p + 1 keeps the size; O = C
    x = rng.uniform(-1, 1, (2, 3) + (6, 5, 4)[:nsp]).astype(dtype)
    w = rng.standard_normal((3, 3) + (3,) * nsp).astype(dtype)
    expect = CONV_T[nsp](x.copy(), w, padding=1)
    xr, wr = as_ref(x, dtype), as_ref(w, dtype)
    assert_close(expect, CR.conv_transpose(xr, wr, padding=1), dtype, w[:, 0].size,
                 scale=transpose_scale(xr, wr))
    assert CONV_T[nsp](x, w, padding=1, out=x) is x
    np.testing.assert_array_equal(x, expect)
    # out is weight: x (N=C, C, 1, ...) gives out (C, O, *k), the shape of weight (C, O, *k)
    x = rng.uniform(-1, 1, (3, 3) + (1,) * nsp).astype(dtype)
    w = rng.standard_normal((3, 3) + (3, 2, 2)[:nsp]).astype(dtype)
    expect = CONV_T[nsp](x, w.copy())
    assert expect.shape == w.shape
    assert CONV_T[nsp](x, w, out=w) is w
    np.testing.assert_array_equal(w, expect)


# ------------------------------------------------------------------ depthwise as whole planes

@pytest.fixture
def plane_spy(monkeypatch):
    """Every depthwise stride-1 layer takes the whole-plane path (whatever its size); the
    list collects one entry per call that did."""
    import pyconv.nn as nn
    calls = []
    real = nn._plane_conv

    def spy(*a, **k):
        calls.append(a[0].shape)
        return real(*a, **k)

    monkeypatch.setattr(nn, "PLANE_MIN_OUTPUTS", 0)
    monkeypatch.setattr(nn, "_plane_conv", spy)
    monkeypatch.setattr(nn, "_channel_path", lambda *a: False)    # see test_channel_path_*
    return calls


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("mode", PADDING_MODES)
def test_plane_path_matches_references(nsp, multiplier, mode, dtype, rng, plane_spy):
    C = 3
    size = (11, 9, 6)[:nsp]
    x = rng.uniform(-1, 1, (2, C) + size).astype(dtype)
    for k, kw in [((3, 4, 2), dict(padding=1)),                        # odd and even
                  ((2, 3, 3), dict(padding="same", dilation=2)),
                  ((5, 1, 3), dict(padding=(2, 0, 1)[:nsp], dilation=(1, 3, 2)[:nsp])),
                  ((1, 1, 1), dict()),
                  ((4, 4, 4), dict(padding="valid"))]:
        w = rng.standard_normal((C * multiplier, 1) + k[:nsp]).astype(dtype)
        b = rng.standard_normal(C * multiplier).astype(dtype)
        before = len(plane_spy)
        got = check_conv(nsp, x, w, b, groups=C, padding_mode=mode, **kw)
        assert len(plane_spy) == before + 1, "the case must take the whole-plane path"
        check_conv(nsp, x, w, None, groups=C, padding_mode=mode, **kw)
        for n in (2, 3):
            np.testing.assert_array_equal(
                CONV[nsp](x, w, b, groups=C, padding_mode=mode, num_threads=n, **kw), got)


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_plane_path_small_and_large_images(nsp, dtype, rng, plane_spy):
    # a one-sample image, a kernel larger than the image (wide padding), one channel
    for size, k, pad in [((1, 1, 1), (3, 3, 3), 1), ((2, 3, 2), (5, 5, 5), 3),
                         ((1, 2, 1), (2, 4, 2), 2)]:
        x = rng.uniform(-1, 1, (1, 1) + size[:nsp]).astype(dtype)
        w = rng.standard_normal((1, 1) + k[:nsp]).astype(dtype)
        check_conv(nsp, x, w, padding=pad)
        check_conv(nsp, x[0], w, padding=pad)        # unbatched
    assert plane_spy


def test_plane_path_real_size_strided_input_and_out(dtype, rng):
    # above PLANE_MIN_OUTPUTS by itself; a strided, read-only input; the result written into
    # an `out` of another layout, and into one whose planes do not form one view
    import pyconv.nn as nn
    base = rng.uniform(-1, 1, (2, 3, 2 * 52, 50))
    x = base[:, :, ::2].astype(dtype)
    x.setflags(write=False)
    w = rng.standard_normal((6, 1, 3, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    assert nn._plane_path(3, 6, 3, [1, 1], (52, 50), (3, 3), (1, 1), False, 4)
    got = check_conv(2, x, w, b, groups=3, padding=1, padding_mode="reflect")
    for out in (np.empty((2, 6, 50, 52), dtype).transpose(0, 1, 3, 2),
                np.empty((6, 2, 52, 50), dtype).transpose(1, 0, 2, 3)):
        res = pyconv.depthwise_conv2d(x, w, b, padding=1, padding_mode="reflect", out=out)
        assert res is out
        np.testing.assert_array_equal(out, got)


def test_plane_path_leaves_large_dilations_to_the_layer_kernel(rng):
    # a dilated kernel reaching further than the outputs would make every plane's tile hold
    # the whole dilated span; the layer kernel gathers only the taps
    import pyconv.nn as nn
    assert not nn._plane_path(2, 2, 2, [1, 1], (60, 60), (3, 3), (1, 31), True, 4)
    assert nn._plane_path(2, 2, 2, [1, 1], (60, 60), (3, 3), (1, 30), False, 4)
    x = rng.uniform(-1, 1, (1, 2, 60, 60)).astype(np.float32)
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    d = 10 ** 7
    got = pyconv.conv2d(x, w, groups=2, padding=(1, d), dilation=(1, d))
    # only the middle column of taps meets the image: a 3x1 correlation per channel
    ref = CR.conv(x.astype(np.float64), w[:, :, :, 1:2].astype(np.float64), groups=2,
                  padding=(1, 0))
    assert_close(got, ref, F32, 3, scale=conv_scale(x, w, None))


def test_strided_planes_for_small_zero_padded_planes(dtype, rng, monkeypatch):
    # stride 2 along both axes with zero padding and rows of at most one vector of outputs:
    # whole planes swept in registers (_engine.strided_planes: the AVX-512 module), else the
    # layer kernel; the same numbers as the references either way, and the same bits for
    # any thread count and any out= layout
    import pyconv.nn as nn
    item = np.dtype(dtype).itemsize
    lanes = 64 // item
    on = _engine.kernels.planes_sweep()[0]
    assert nn._plane_path(4, 4, 4, [2, 2], (7, 7), (3, 3), (1, 1), True, item) == on
    assert nn._plane_path(4, 8, 4, [2, 2], (3, lanes - 4), (2, 8), (1, 1), True, item) == on
    assert not nn._plane_path(4, 4, 4, [2, 2], (7, 7), (3, 3), (1, 1), False, item)
    assert not nn._plane_path(4, 4, 4, [2, 1], (7, 7), (3, 3), (1, 1), True, item)
    assert not nn._plane_path(4, 4, 4, [2, 2], (7, lanes + 1), (3, 3), (1, 1), True, item)
    assert not nn._plane_path(4, 4, 4, [2, 2], (7, lanes), (3, 4), (1, 1), True, item)
    assert not nn._plane_path(4, 4, 4, [2, 2], (7, 7), (3, 3), (1, 2), True, item)
    assert not nn._plane_path(4, 4, 4, [2, 2], (7, 7), (3, 9), (1, 1), True, item)
    assert not nn._plane_path(4, 4, 2, [2, 2], (7, 7), (3, 3), (1, 1), True, item)
    taken = []
    real = nn._plane_conv_strided
    monkeypatch.setattr(nn, "_plane_conv_strided", lambda *a: taken.append(1) or real(*a))
    monkeypatch.setattr(nn, "_channel_path", lambda *a: False)    # see test_channel_path_*
    # (input size, kernel, padding): 14x14 -> 7x7; columns that need a second vector (f32);
    # one pixel; even kernels and kh != kw; a kernel taller than the input; 1 output row
    for size, k, pad in [((14, 14), (3, 3), 1), ((9, 20), (5, 3), (2, 1)), ((1, 1), (3, 3), 1),
                         ((6, 5), (4, 2), (1, 0)), ((30, 14), (7, 8), 3), ((2, 9), (6, 5), 2),
                         ((3, 16), (3, 4), (0, 1))]:
        x = rng.uniform(-1, 1, (2, 4) + size).astype(dtype)
        w = rng.standard_normal((8, 1) + k).astype(dtype)
        b = rng.standard_normal(8).astype(dtype)
        before = len(taken)
        got = check_conv(2, x, w, b, groups=4, stride=2, padding=pad)
        osize = got.shape[2:]
        expect = on and osize[1] <= lanes and 2 * (osize[1] - 1) + k[1] <= 2 * lanes
        assert len(taken) == before + expect, (size, k)
        check_conv(2, x[1], w, None, groups=4, stride=2, padding=pad)    # unbatched
        for n in (2, 3):
            np.testing.assert_array_equal(
                pyconv.conv2d(x, w, b, groups=4, stride=2, padding=pad, num_threads=n), got)
        xs = np.repeat(x, 2, axis=3)[..., ::2]                          # strided, read-only
        xs.setflags(write=False)
        np.testing.assert_array_equal(pyconv.depthwise_conv2d(xs, w, b, stride=2,
                                                              padding=pad), got)
        for out in (np.empty(got.shape, dtype),
                    np.empty(got.shape[:2] + got.shape[:1:-1], dtype).transpose(0, 1, 3, 2),
                    np.empty((8, 2) + got.shape[2:], dtype).transpose(1, 0, 2, 3)):
            assert pyconv.conv2d(x, w, b, groups=4, stride=2, padding=pad, out=out) is out
            np.testing.assert_array_equal(out, got)


def test_plane_path_for_small_zero_padded_planes(dtype, rng, monkeypatch):
    # zero padding with a kernel the grid sweep takes: planes of any size run as whole
    # planes (read in place, the padding masked out), the same numbers as the references
    import pyconv.nn as nn
    monkeypatch.setattr(nn, "_channel_path", lambda *a: False)    # see test_channel_path_*
    sweeps = _engine.grid_sweeps((3, 3), (1, 1))
    assert nn._plane_path(4, 4, 4, [1, 1], (7, 7), (3, 3), (1, 1), True, 4) == sweeps
    assert not nn._plane_path(4, 4, 4, [1, 1], (7, 7), (3, 3), (1, 1), False, 4)
    assert not nn._plane_path(4, 4, 4, [1, 1], (7, 7), (3, 3), (2, 2), True, 4)
    assert not nn._plane_path(4, 4, 4, [1, 1], (7, 7), (3, 9), (1, 1), True, 4)
    for size, k, pad in [((7, 7), (3, 3), 1), ((14, 13), (3, 5), (1, 2)), ((1, 1), (3, 3), 1),
                         ((2, 40), (2, 8), (1, 3))]:
        x = rng.uniform(-1, 1, (2, 4) + size).astype(dtype)
        w = rng.standard_normal((8, 1) + k).astype(dtype)
        b = rng.standard_normal(8).astype(dtype)
        got = check_conv(2, x, w, b, groups=4, padding=pad)
        for n in (2, 3):
            np.testing.assert_array_equal(
                pyconv.conv2d(x, w, b, groups=4, padding=pad, num_threads=n), got)


# ------------------------------------------------------------------ depthwise, channels in lanes

@pytest.fixture
def channel_spy(monkeypatch):
    """Records each call of the channel-vector depthwise kernel (nn._channel_conv)."""
    import pyconv.nn as nn
    calls = []
    real = nn._channel_conv

    def spy(*a, **k):
        calls.append(a[0].shape)
        return real(*a, **k)

    monkeypatch.setattr(nn, "_channel_conv", spy)
    return calls


CHANNELS_ON = _engine.kernels.dw_channels_on()


def test_channel_path_decision():
    # 2-D depthwise float32 layers with zero padding (the AVX-512 module); not large
    # stride-1 planes of a grid-sweep kernel (read in place by the plane path), not past
    # the scratch bound
    import pyconv.nn as nn
    f4, f8 = np.float32, np.float64
    on = CHANNELS_ON
    assert nn._channel_path(8, 8, 8, [1, 1], (7, 7), (3, 3), (1, 1), True, f4) == on
    assert nn._channel_path(8, 16, 8, [1, 1], (14, 14), (7, 7), (1, 1), True, f4) == on
    assert nn._channel_path(8, 8, 8, [2, 2], (56, 56), (3, 3), (1, 1), True, f4) == on
    assert nn._channel_path(8, 8, 8, [1, 1], (56, 56), (7, 7), (1, 1), True, f4) == on
    assert nn._channel_path(8, 8, 8, [1, 1], (32, 32), (5, 5), (1, 1), True, f4) == on
    assert not nn._channel_path(8, 8, 8, [1, 1], (33, 32), (5, 5), (1, 1), True, f4)
    # 3x3 (few taps) on rows of more than 8 outputs: the plane path
    assert nn._channel_path(8, 8, 8, [1, 1], (20, 8), (3, 3), (1, 1), True, f4) == on
    assert not nn._channel_path(8, 8, 8, [1, 1], (7, 9), (3, 3), (1, 1), True, f4)
    assert not nn._channel_path(8, 8, 8, [1, 1], (14, 14), (2, 4), (1, 1), True, f4)
    assert nn._channel_path(8, 8, 8, [2, 2], (14, 14), (3, 3), (1, 1), True, f4) == on
    assert not nn._channel_path(8, 8, 8, [1, 1], (7, 7), (3, 3), (1, 1), True, f8)
    # other padding modes (zeros False): the plane path gathers their planes, so the
    # channel kernel takes wide planes too
    assert nn._channel_path(8, 8, 8, [1, 1], (7, 7), (3, 3), (1, 1), False, f4) == on
    assert nn._channel_path(8, 8, 8, [1, 1], (56, 56), (3, 3), (1, 1), False, f4) == on
    assert not nn._channel_path(8, 8, 8, [1, 1], (56, 56), (3, 3), (1, 1), True, f4)
    assert not nn._channel_path(8, 8, 4, [1, 1], (7, 7), (3, 3), (1, 1), True, f4)
    assert not nn._channel_path(8, 12, 8, [1, 1], (7, 7), (3, 3), (1, 1), True, f4)
    assert not nn._channel_path(8, 8, 8, [1], (7,), (3,), (1,), True, f4)
    assert not nn._channel_path(8, 8, 8, [1, 1, 1], (7, 7, 7), (3, 3, 3), (1, 1, 1), True, f4)
    # the scratch bound: (padded pixels + outputs + 32) x 64 bytes
    side = math.isqrt(nn.CHANNEL_MAX_SCRATCH // 128)
    assert nn._channel_path(8, 8, 8, [2, 2], (side // 2 - 8,) * 2, (3, 3), (1, 1), True,
                            f4) == on
    assert not nn._channel_path(8, 8, 8, [2, 2], (side,) * 2, (3, 3), (1, 1), True, f4)


@pytest.mark.parametrize("chunk", range(3))
def test_channel_path_matches_references(chunk, rng, channel_spy):
    # random depthwise layers, float32: every padding mode, channels not a multiple of 16,
    # channel multipliers, odd and even kernels, kh != kw, kernels larger than the image,
    # 1-pixel images, strides and dilations 1-3, 'same' (asymmetric for even extents),
    # with and without bias; bit for bit the same for 1, 2 and 3 threads
    for _ in range(16):
        mode = str(rng.choice(PADDING_MODES))
        C = int(rng.choice([1, 3, 16, 17, 33]))
        m = int(rng.integers(1, 4))
        N = int(rng.integers(1, 3))
        H, W = (int(v) for v in rng.integers(1, 16, 2))
        kh, kw = (int(v) for v in rng.integers(1, 8, 2))
        s = [int(v) for v in rng.integers(1, 4, 2)]
        d = [int(v) for v in rng.integers(1, 4, 2)]
        if rng.random() < 0.3:
            s, pad = [1, 1], "same"
        else:
            pad = [int(d[0] * (kh - 1) // 2 + rng.integers(0, 2)),
                   int(d[1] * (kw - 1) // 2 + rng.integers(0, 2))]
            pad = [max(p, 0) for p in pad]
            # keep at least one output along each axis
            if H + 2 * pad[0] < d[0] * (kh - 1) + 1:
                pad[0] = (d[0] * (kh - 1) + 1 - H + 1) // 2
            if W + 2 * pad[1] < d[1] * (kw - 1) + 1:
                pad[1] = (d[1] * (kw - 1) + 1 - W + 1) // 2
        # reflect needs padding < size, circular padding <= size: grow the image
        if mode in ("reflect", "circular"):
            pads = (pad if pad != "same" else
                    [(d[0] * (kh - 1) + 1) // 2, (d[1] * (kw - 1) + 1) // 2])
            H = max(H, pads[0] + 1)
            W = max(W, pads[1] + 1)
        x = rng.uniform(-1, 1, (N, C, H, W)).astype(np.float32)
        w = rng.standard_normal((C * m, 1, kh, kw)).astype(np.float32)
        b = rng.standard_normal(C * m).astype(np.float32) if rng.random() < 0.7 else None
        kwargs = dict(groups=C, stride=s, padding=pad, dilation=d, padding_mode=mode)
        before = len(channel_spy)
        got = check_conv(2, x, w, b, **kwargs)
        import pyconv.nn as nn
        d_taken = [di if k > 1 else 1 for k, di in zip((kh, kw), d)]   # as pyconv takes it
        expect = nn._channel_path(C, C * m, C, s, got.shape[2:], (kh, kw), d_taken,
                                  mode == "zeros", np.float32)
        assert len(channel_spy) == before + expect
        for n in (2, 3):
            np.testing.assert_array_equal(pyconv.conv2d(x, w, b, num_threads=n, **kwargs), got)
        np.testing.assert_array_equal(pyconv.conv2d(x[0], w, b, **kwargs), got[0])
    if CHANNELS_ON:
        assert channel_spy


def test_channel_path_layouts_and_out(rng, channel_spy):
    # a strided, read-only input; out= of the result's layout (written in place), of other
    # layouts, and sharing memory with the input; the input never modified
    base = rng.uniform(-1, 1, (2, 40, 2 * 9, 11)).astype(np.float32)
    x = base[:, ::2, ::2]
    x.setflags(write=False)
    keep = x.copy()
    w = rng.standard_normal((40, 1, 5, 5)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    got = check_conv(2, x, w, b, groups=20, padding=2)
    assert channel_spy or not CHANNELS_ON
    for out in (np.empty(got.shape, np.float32),
                np.empty((2, 40, 11, 9), np.float32).transpose(0, 1, 3, 2),
                np.empty((40, 2, 9, 11), np.float32).transpose(1, 0, 2, 3),
                np.empty((2, 40, 9, 12), np.float32)[..., :11]):
        assert pyconv.depthwise_conv2d(x, w, b, padding=2, out=out) is out
        np.testing.assert_array_equal(out, got)
    np.testing.assert_array_equal(x, keep)
    # out= aliasing the input: the result as if computed into a fresh array
    y = rng.uniform(-1, 1, (1, 16, 7, 7)).astype(np.float32)
    w1 = rng.standard_normal((16, 1, 3, 3)).astype(np.float32)
    expect = pyconv.conv2d(y, w1, groups=16, padding=1)
    assert pyconv.conv2d(y, w1, groups=16, padding=1, out=y) is y
    np.testing.assert_array_equal(y, expect)


def test_channel_path_nonfinite(rng, channel_spy):
    # a NaN or an infinity reaches exactly the outputs whose windows hold it (the padding is
    # zeros, whose products with finite weights add nothing), as in the float64 loops
    x = rng.uniform(-1, 1, (1, 17, 7, 7)).astype(np.float32)
    x[0, 3, 2, 5] = np.nan
    x[0, 16, 0, 0] = np.inf
    w = rng.uniform(0.5, 1, (17, 1, 3, 3)).astype(np.float32)
    got = pyconv.conv2d(x, w, groups=17, padding=1)
    ref = CR.conv(x.astype(np.float64), w.astype(np.float64), groups=17, padding=1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(ref))
    fin = np.isfinite(ref)
    assert_close(got[fin], ref[fin], F32, 9)
    assert channel_spy or not CHANNELS_ON
