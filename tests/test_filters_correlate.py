"""pyconv.filters.correlate / convolve against scipy.ndimage.correlate / convolve."""
import itertools

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, strategies as st

from pyconv import filters
from _helpers import (
    CONSTANT_MODES,
    MODES,
    as_ref,
    input_scale,
    assert_close,
    make_kernel,
    ntaps,
    padded_reference,
    ref_channels,
    valid_origins,
)

FUNCS = {
    "correlate": (filters.correlate, ndi.correlate),
    "convolve": (filters.convolve, ndi.convolve),
}
IMAGE_SHAPES = {1: (13,), 2: (9, 11), 3: (5, 6, 7)}
KERNEL_SHAPES = {
    "odd": {1: (3,), 2: (3, 5), 3: (3, 3, 3)},
    "even": {1: (4,), 2: (2, 4), 3: (2, 2, 4)},
    "mixed": {1: (5,), 2: (4, 3), 3: (3, 2, 5)},
}


def _check(name, image, kernel, dtype, what="", **kw):
    ours, theirs = FUNCS[name]
    ref = theirs(as_ref(image, dtype), as_ref(kernel, dtype), **kw)
    got = ours(image.astype(dtype), kernel.astype(dtype), **kw)
    scale = input_scale(image, kernel, kw.get("cval", 0.0))
    assert_close(got, ref, dtype, ntaps(kernel), what=what or f"{name} {kw}", scale=scale)
    return got


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", sorted(KERNEL_SHAPES))
@pytest.mark.parametrize("kind", ["random", "rank1"])
def test_matches_scipy_every_mode(name, ndim, mode, size, kind, dtype, rng):
    image = rng.uniform(-1, 1, IMAGE_SHAPES[ndim])
    kernel = make_kernel(kind, KERNEL_SHAPES[size][ndim], rng)
    _check(name, image, kernel, dtype, mode=mode)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", CONSTANT_MODES)
@pytest.mark.parametrize("kind", ["random", "rank1", "sparse"])
@pytest.mark.parametrize("cval", [1.5, -2.25, 0.0])
def test_cval(name, ndim, mode, kind, cval, dtype, rng):
    image = rng.uniform(-1, 1, IMAGE_SHAPES[ndim])
    kernel = make_kernel(kind, KERNEL_SHAPES["mixed"][ndim], rng)
    _check(name, image, kernel, dtype, mode=mode, cval=cval)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("mode", ["reflect", "nearest", "mirror", "wrap"])
def test_cval_ignored_by_other_modes(name, mode, rng):
    image = rng.uniform(-1, 1, (6, 7))
    kernel = rng.standard_normal((3, 3))
    ours, theirs = FUNCS[name]
    ref = theirs(image, kernel, mode=mode)
    got = ours(image, kernel, mode=mode, cval=123.0)
    assert_close(got, ref, np.float64, 9)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("w", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
def test_origin_1d_valid_range_and_error(name, w, mode, rng):
    """Every origin scipy accepts gives scipy's numbers; every origin scipy
    refuses raises ValueError naming 'origin' (covers convolve's even shift)."""
    ours, theirs = FUNCS[name]
    image = rng.uniform(-1, 1, 11)
    kernel = rng.standard_normal(w)
    accepted = []
    for origin in range(-w - 2, w + 3):
        try:
            ref = theirs(image, kernel, mode=mode, origin=origin)
        except ValueError:
            with pytest.raises(ValueError, match="origin"):
                ours(image, kernel, mode=mode, origin=origin)
            continue
        accepted.append(origin)
        for o in (origin, (origin,)):
            got = ours(image, kernel, mode=mode, origin=o)
            assert_close(got, ref, np.float64, w, what=f"origin={o!r}")
    assert accepted == valid_origins(w, name == "convolve")


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("kshape", [(4, 3), (2, 5), (3, 3, 2)])
def test_origin_per_axis_tuple(name, kshape, dtype, rng):
    ours, theirs = FUNCS[name]
    image = rng.uniform(-1, 1, (7, 8, 5)[: len(kshape)])
    kernel = rng.standard_normal(kshape)
    conv = name == "convolve"
    ranges = [valid_origins(w, conv) for w in kshape]
    for origin in itertools.product(*ranges):
        ref = theirs(as_ref(image, dtype), as_ref(kernel, dtype), mode="mirror", origin=origin)
        got = ours(image.astype(dtype), kernel.astype(dtype), mode="mirror", origin=origin)
        assert_close(got, ref, dtype, kernel.size, what=f"origin={origin}",
                     scale=input_scale(image, kernel))
    # one axis out of range while the others are fine -> ValueError('origin')
    bad = [r[0] for r in ranges]
    bad[-1] = ranges[-1][-1] + 1
    with pytest.raises(ValueError, match="origin"):
        ours(image, kernel, origin=tuple(bad))
    bad[-1] = ranges[-1][0] - 1
    with pytest.raises(ValueError, match="origin"):
        ours(image, kernel, origin=tuple(bad))


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "ishape,kshape",
    [((3,), (9,)), ((2,), (10,)), ((2, 3), (7, 8)), ((4, 1), (5, 6)), ((2, 2, 3), (5, 6, 7))],
)
def test_kernel_larger_than_image(name, mode, ishape, kshape, dtype, rng):
    image = rng.uniform(-1, 1, ishape)
    kernel = rng.standard_normal(kshape)
    _check(name, image, kernel, dtype, mode=mode, cval=0.75)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(1,), (1, 1), (1, 1, 1)])
@pytest.mark.parametrize("w", [1, 2, 3, 4])
def test_one_pixel_image(name, mode, shape, w, dtype, rng):
    image = np.full(shape, 2.5)
    kernel = rng.standard_normal((w,) * len(shape))
    _check(name, image, kernel, dtype, mode=mode, cval=-1.25)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["sparse", "rank1zeros", "cross"])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_nan_not_spread_through_zero_weights(name, mode, kind, ndim, dtype, rng):
    """scipy's n-D correlate drops taps with |w| <= DBL_EPSILON: a NaN under a
    zero weight does not spread. pyconv must give the same NaN pattern."""
    shape = {1: (15,), 2: (9, 10), 3: (6, 7, 5)}[ndim]
    image = rng.uniform(-1, 1, shape)
    flat = image.reshape(-1)
    flat[rng.choice(flat.size, size=max(2, flat.size // 25), replace=False)] = np.nan
    image.flat[0] = np.nan  # at a border too
    if kind == "cross" and ndim == 1:
        kernel = np.array([1.0, 0.0, 2.0])
    elif kind == "cross":
        kernel = np.zeros((3,) * ndim)
        for ax in range(ndim):
            idx = [1] * ndim
            for i in range(3):
                idx[ax] = i
                kernel[tuple(idx)] = 1.0 + i
    else:
        kernel = make_kernel(kind, (3, 5, 3)[:ndim], rng)
    assert (kernel == 0).any()
    _check(name, image, kernel, dtype, mode=mode, cval=0.5)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_nan_under_tiny_weights_dropped(name, rng):
    """|w| <= DBL_EPSILON counts as zero in scipy.ndimage.correlate."""
    image = rng.uniform(-1, 1, (8, 9))
    image[4, 4] = np.nan
    image[0, 3] = np.nan
    kernel = rng.standard_normal((3, 3))
    kernel[0, 0] = 1e-17
    kernel[2, 1] = -2e-16
    kernel[1, 2] = 0.0
    ref = FUNCS[name][1](image, kernel)
    assert np.isfinite(ref).sum() < ref.size  # NaN does spread through the other taps
    got = FUNCS[name][0](image, kernel)
    assert_close(got, ref, np.float64, 9)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap", "nearest"])
@pytest.mark.parametrize("kind", ["random", "sparse", "rank1", "rank1zeros"])
def test_inf_propagates(name, mode, kind, dtype, rng):
    image = rng.uniform(-1, 1, (9, 11))
    image[2, 3] = np.inf
    image[6, 8] = -np.inf
    image[4, 0] = np.inf
    kernel = make_kernel(kind, (3, 4), rng)
    got = _check(name, image, kernel, dtype, mode=mode)
    assert np.isinf(got).any()


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("mode", CONSTANT_MODES)
def test_nan_cval(name, mode, rng):
    image = rng.uniform(-1, 1, (6, 7))
    kernel = make_kernel("sparse", (3, 3), rng)
    ref = FUNCS[name][1](image, kernel, mode=mode, cval=np.nan)
    got = FUNCS[name][0](image, kernel, mode=mode, cval=np.nan)
    assert_close(got, ref, np.float64, 9)


# ----------------------------------------------------------------- channel_axis

CHANNEL_CASES = [
    ((6, 7, 3), -1, (3, 3)),
    ((6, 7, 3), 2, (2, 3)),
    ((3, 6, 7), 0, (3, 4)),
    ((6, 3, 7), 1, (5, 3)),
    ((10, 3), 1, (4,)),
    ((2, 10), 0, (3,)),
    ((5, 6, 4, 2), 3, (3, 2, 3)),
    ((2, 5, 6, 4), -4, (3, 3, 3)),
]


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("shape,axis,kshape", CHANNEL_CASES)
@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
def test_channel_axis(name, shape, axis, kshape, mode, dtype, rng):
    ours, theirs = FUNCS[name]
    image = rng.uniform(-1, 1, shape)
    image = image + 3.0 * np.arange(shape[axis]).reshape(
        [-1 if i == axis % len(shape) else 1 for i in range(len(shape))]
    )  # channels differ, so mixing them up shows
    kernel = rng.standard_normal(kshape)
    ref = ref_channels(theirs, as_ref(image, dtype), as_ref(kernel, dtype), axis, mode=mode, cval=0.5)
    got = ours(image.astype(dtype), kernel.astype(dtype), mode=mode, cval=0.5, channel_axis=axis)
    assert_close(got, ref, dtype, kernel.size, scale=input_scale(image, kernel, 0.5))


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("kind", ["random", "rank1"])
def test_channel_axis_with_origin(name, kind, rng):
    ours, theirs = FUNCS[name]
    image = rng.uniform(-1, 1, (7, 8, 3))
    kernel = make_kernel(kind, (4, 3), rng)
    for origin in [1, -1, (1, 0), (-2, 1)]:
        ref = ref_channels(theirs, image, kernel, -1, origin=origin)
        got = ours(image, kernel, origin=origin, channel_axis=-1)
        assert_close(got, ref, np.float64, kernel.size, what=f"origin={origin}")


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_channel_axis_kernel_must_have_one_dim_less(name, rng):
    image = rng.uniform(-1, 1, (6, 7, 3))
    with pytest.raises(ValueError, match="kernel"):
        FUNCS[name][0](image, np.ones((3, 3, 3)), channel_axis=-1)


# ------------------------------------------------------------------------ out=

@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("kind", ["random", "rank1"])
def test_out_receives_result(name, kind, dtype, rng):
    ours, theirs = FUNCS[name]
    image = rng.uniform(-1, 1, (8, 9)).astype(dtype)
    kernel = make_kernel(kind, (3, 4), rng).astype(dtype)
    out = np.full(image.shape, 99.0, dtype=dtype)
    r = ours(image, kernel, mode="nearest", out=out)
    assert r is out
    assert_close(out, theirs(as_ref(image, dtype), as_ref(kernel, dtype), mode="nearest"), dtype, 12,
                 scale=input_scale(image, kernel))


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("kind", ["random", "rank1"])
@pytest.mark.parametrize("shape", [(17,), (8, 9), (5, 6, 4)])
def test_out_is_input(name, kind, shape, dtype, rng):
    ours, theirs = FUNCS[name]
    image = rng.uniform(-1, 1, shape).astype(dtype)
    kernel = make_kernel(kind, (3, 4, 2)[: len(shape)], rng).astype(dtype)
    ref = theirs(as_ref(image, dtype), as_ref(kernel, dtype), mode="mirror", origin=1 if len(shape) == 1 else 0)
    scale = input_scale(image, kernel)
    r = ours(image, kernel, mode="mirror", origin=1 if len(shape) == 1 else 0, out=image)
    assert r is image
    assert_close(image, ref, dtype, kernel.size, scale=scale)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_out_overlapping_view_of_input(name, rng):
    """out is a different view of the same memory (reversed)."""
    ours, theirs = FUNCS[name]
    base = rng.uniform(-1, 1, (9, 10))
    image = base[::-1]  # view
    kernel = rng.standard_normal((3, 3))
    ref = theirs(image.copy(), kernel)
    out = base  # same memory, different strides
    r = ours(image, kernel, out=out)
    assert r is out
    assert_close(out, ref, np.float64, 9)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_out_strided_fortran_and_int_image(name, rng):
    ours, theirs = FUNCS[name]
    image = rng.uniform(-1, 1, (6, 7))
    kernel = rng.standard_normal((3, 2))
    ref = theirs(image, kernel, mode="wrap")
    big = np.full((12, 21), 5.0)
    for out in (big[::2, ::3], np.asfortranarray(np.zeros((6, 7))), np.zeros((7, 6)).T):
        assert ours(image, kernel, mode="wrap", out=out) is out
        assert_close(out, ref, np.float64, 6)
    assert (big[1::2] == 5.0).all()  # nothing written outside the view
    ints = rng.integers(-3, 4, (6, 7)).astype(np.int16)
    out = np.zeros((6, 7))
    assert ours(ints, kernel, out=out) is out
    assert_close(out, theirs(ints.astype(np.float64), kernel), np.float64, 6)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_out_with_channel_axis(name, rng):
    ours, theirs = FUNCS[name]
    image = rng.uniform(-1, 1, (3, 7, 8))
    kernel = rng.standard_normal((3, 2))
    ref = ref_channels(theirs, image, kernel, 0)
    out = np.empty_like(image)
    assert ours(image, kernel, channel_axis=0, out=out) is out
    assert_close(out, ref, np.float64, 6)
    r = ours(image, kernel, channel_axis=0, out=image)
    assert r is image
    assert_close(image, ref, np.float64, 6)


# ---------------------------------------------------------------- hypothesis

@st.composite
def nd_cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    kshape = tuple(draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim)))
    name = draw(st.sampled_from(sorted(FUNCS)))
    conv = name == "convolve"
    origin = tuple(draw(st.sampled_from(valid_origins(w, conv))) for w in kshape)
    if draw(st.booleans()) and len(set(origin)) == 1:
        origin = origin[0]
    return dict(
        name=name,
        shape=shape,
        kshape=kshape,
        origin=origin,
        mode=draw(st.sampled_from(MODES)),
        # 0.0 often: zero padding is read in place by the AVX-512 grid sweep
        cval=draw(st.one_of(st.just(0.0), st.floats(-4, 4, allow_nan=False))),
        kind=draw(st.sampled_from(["random", "rank1", "sparse", "rank1zeros"])),
        nan=draw(st.booleans()),
        dtype=draw(st.sampled_from([np.float32, np.float64])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@given(nd_cases())
def test_hypothesis_matches_scipy(case):
    """Reference: scipy.ndimage on a numpy.pad-extended input (see padded_reference:
    scipy's own n-D 'reflect' extension is wrong for taps 2*k*len before an edge)."""
    rng = np.random.default_rng(case["seed"])
    image = rng.uniform(-1, 1, case["shape"])
    if case["nan"]:
        image.flat[rng.integers(image.size)] = np.nan
    kernel = make_kernel(case["kind"], case["kshape"], rng)
    dtype = np.dtype(case["dtype"])
    ours, theirs = FUNCS[case["name"]]
    kw = dict(mode=case["mode"], cval=case["cval"], origin=case["origin"])
    ref = padded_reference(theirs, as_ref(image, dtype), as_ref(kernel, dtype), **kw)
    got = ours(image.astype(dtype), kernel.astype(dtype), **kw)
    assert_close(got, ref, dtype, kernel.size, what=str(case),
                 scale=input_scale(image, kernel, case["cval"]))


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("mode", ["reflect", "grid-mirror"])
def test_reflect_far_beyond_the_edge(name, mode, dtype):
    """Repeated half-sample reflection when taps reach 2*k*len before the start.

    scipy.ndimage.correlate itself gets this wrong (it returns [62, 68] for the
    first case, while scipy.ndimage.correlate1d and numpy.pad give [63, 68]);
    pyconv must give the correct repeated reflection."""
    ours, theirs = FUNCS[name]
    x = np.array([1.0, 2.0])
    k = np.arange(1.0, 10.0)
    origin = 4 if name == "correlate" else -4
    ref1d = (ndi.convolve1d if name == "convolve" else ndi.correlate1d)(x, k, mode=mode, origin=origin)
    ref = padded_reference(theirs, x, k, mode, origin=origin)
    np.testing.assert_allclose(ref, ref1d, rtol=1e-14)
    if name == "correlate":
        np.testing.assert_array_equal(ref, [63.0, 68.0])
    assert_close(ours(x.astype(dtype), k.astype(dtype), mode=mode, origin=origin), ref, dtype, 9)
    rng = np.random.default_rng(3)
    for shape, kshape, origin in [((2, 5), (9, 4), (4, 0)), ((3, 2), (13, 12), (6, -3)), ((2, 1, 2), (9, 3, 10), (4, 1, 3))]:
        image = rng.uniform(-1, 1, shape)
        kernel = rng.standard_normal(kshape)
        if name == "convolve":
            origin = tuple(-o - (0 if w % 2 else 1) for o, w in zip(origin, kshape))
        ref = padded_reference(theirs, as_ref(image, dtype), as_ref(kernel, dtype), mode, origin=origin)
        got = ours(image.astype(dtype), kernel.astype(dtype), mode=mode, origin=origin)
        assert_close(got, ref, dtype, kernel.size, what=f"{shape} {kshape} {origin}",
                     scale=input_scale(image, kernel))


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("kind", ["random", "rank1"])
def test_nan_inf_in_kernel(name, bad, kind, dtype, rng):
    """scipy drops a NaN weight (fabs(NaN) > DBL_EPSILON is false); Inf weights propagate."""
    image = rng.uniform(-1, 1, (6, 7))
    kernel = make_kernel(kind, (3, 3), rng)
    kernel[1, 0] = bad
    _check(name, image, kernel, dtype, mode="reflect")


@pytest.mark.parametrize("mode", MODES)
def test_channel_last_interleaved_rows_match_channel_planes(mode, dtype, rng, monkeypatch):
    """A channel-last image with a few channels is filtered as rows of W * C interleaved
    samples: the bits of the channel-as-batch formulation (used for more channels or other
    channel axes), for 1-3 spatial axes, odd and even kernels, into any out=."""
    for shape, kshape in (((9, 3), (4,)), ((7, 8, 2), (3, 2)), ((6, 7, 5), (2, 5)),
                          ((5, 6, 4, 8), (3, 2, 3)), ((7, 6, 9), (3, 3))):
        image = rng.uniform(-1, 1, shape).astype(dtype)
        kernel = rng.standard_normal(kshape).astype(dtype)
        got = filters.correlate(image, kernel, mode=mode, cval=0.5, channel_axis=-1)
        ref = ref_channels(ndi.correlate, as_ref(image, dtype), as_ref(kernel, dtype), -1,
                           mode=mode, cval=0.5)
        assert_close(got, ref, dtype, kernel.size, what=str(shape),
                     scale=input_scale(image, kernel, 0.5))
        monkeypatch.setattr(filters, "INTERLEAVED_MAX", 0)
        planes = filters.correlate(image, kernel, mode=mode, cval=0.5, channel_axis=-1)
        monkeypatch.undo()
        assert got.tobytes() == planes.tobytes(), shape
        out = np.zeros(shape[:-1] + (shape[-1] + 1,), dtype)[..., 1:]   # axes do not merge
        assert filters.correlate(image, kernel, mode=mode, cval=0.5, channel_axis=-1,
                                 out=out) is out
        assert np.ascontiguousarray(out).tobytes() == got.tobytes()
        same = image.copy()
        filters.correlate(same, kernel, mode=mode, cval=0.5, channel_axis=-1, out=same)
        assert same.tobytes() == got.tobytes()


# ---- the register tiles of a whole grid of taps (three output rows per sweep) ----------------

def _grid_kernel(kshape, xstep, rng):
    """A dense kernel, or one whose nonzero columns are ``xstep`` apart (correlate skips the
    zero weights, so the taps are a grid with that x spacing)."""
    k = rng.uniform(-1, 1, kshape)
    if xstep > 1:
        mask = np.zeros(kshape[-1], bool)
        mask[::xstep] = True
        k[..., ~mask] = 0
    return k


@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap", "mirror", "nearest"])
@pytest.mark.parametrize("ishape, kshape, xstep", [
    ((37, 70), (7, 7), 1),        # 37 rows: the strip's last group of three is short
    ((38, 33), (8, 6), 1),        # even kernel, width just over one register tile
    ((5, 3), (9, 9), 1),          # kernel larger than the image
    ((1, 1), (7, 7), 1),          # one pixel
    ((40, 129), (7, 13), 2),      # nonzero columns two apart: the x step of the grid
    ((29, 64), (15, 15), 1),
    ((51, 59), (8, 11), 1),       # rows of a group in every place under 1-3 threads
    ((9, 10, 11), (4, 4, 4), 1),  # 3-D: the grid spans planes
])
def test_dense_grid_tiles_match_scipy(mode, ishape, kshape, xstep, dtype, rng):
    import pyconv._engine as engine
    image = rng.uniform(-1, 1, ishape)
    kernel = _grid_kernel(kshape, xstep, rng)
    k3 = (1,) * (3 - kernel.ndim) + kernel.shape
    tz, ty, tx = np.nonzero(kernel.reshape(k3))
    assert engine._grid_step(tz, ty, tx, k3) == xstep, "the case must take the grid path"
    got = _check("correlate", image, kernel, dtype, mode=mode, cval=0.75)
    for n in (2, 3):
        again = filters.correlate(image.astype(dtype), kernel.astype(dtype), mode=mode,
                                  cval=0.75, num_threads=n)
        assert np.array_equal(got, again, equal_nan=True), f"{n} threads changed the bits"


def test_dense_grid_tiles_strided_readonly_and_out(dtype, rng):
    base = rng.uniform(-1, 1, (90, 150))
    image = base[::2, ::-3].astype(dtype)          # strided, negative x stride
    image.setflags(write=False)
    kernel = rng.uniform(-1, 1, (7, 8)).astype(dtype)
    ref = ndi.correlate(image.astype(np.float64), kernel.astype(np.float64), mode="mirror")
    out = np.empty(image.shape[::-1], dtype).T     # a Fortran-order destination
    got = filters.correlate(image, kernel, mode="mirror", out=out)
    assert got is out
    assert_close(got, ref, dtype, kernel.size, scale=input_scale(image, kernel))


@pytest.mark.parametrize("channels", [2, 3])
def test_dense_grid_tiles_channel_last(channels, dtype, rng):
    # a channel-last image's x taps are `channels` samples apart: the grid's x step
    image = rng.uniform(-1, 1, (41, 67, channels))
    kernel = rng.uniform(-1, 1, (7, 8))
    got = filters.correlate(image.astype(dtype), kernel.astype(dtype), mode="wrap",
                            channel_axis=-1)
    for c in range(channels):
        ref = ndi.correlate(as_ref(image[..., c], dtype), as_ref(kernel, dtype), mode="wrap")
        assert_close(got[..., c], ref, dtype, kernel.size, scale=input_scale(image, kernel))


@pytest.mark.parametrize("itemsize", [4, 8])
@pytest.mark.parametrize("kshape", [(1, 3, 3), (1, 15, 15), (1, 25, 1), (1, 41, 1), (5, 5, 5)])
@pytest.mark.parametrize("threads", [1, 2])
def test_strips_hold_at_least_the_halo(itemsize, kshape, threads):
    # each strip gathers the kernel's kh - 1 halo rows again: a strip of fewer rows than that
    # reads every input row more than twice (wide images with tall kernels once got strips
    # of one row); the tile stays bounded by cutting columns instead
    import pyconv._engine as engine
    for shape in [(1, kshape[0], 2048, 2048), (1, kshape[0], 4096, 8192), (1, 64, 128, 128)]:
        out_shape = shape[:1] + (shape[1] - kshape[0] + 1,) + shape[2:]
        strip, xchunk = engine._tiling(out_shape, kshape, itemsize, threads)
        Ho, Wo = out_shape[2:]
        assert strip >= min(Ho, kshape[1] - 1)
        assert 1 <= xchunk <= Wo
        tile = kshape[0] * (strip + kshape[1] - 1) * (xchunk + kshape[2] - 1) * itemsize
        assert tile <= 2 * engine.TILE_BYTES or xchunk <= engine.MIN_XCHUNK


# ------------------------------------------- rows read in place (wide, contiguous rows)

WIDE = {1: (801,), 2: (7, 800), 3: (3, 5, 790)}
WIDE_KERNELS = {1: [(3,), (4,), (9,)], 2: [(3, 3), (2, 5), (5, 1), (1, 6)],
                3: [(3, 3, 3), (2, 1, 4)]}


def _assert_read_in_place(image, kernel, mode, dtype, rng):
    """correlate(image, kernel) at a random origin against scipy, and bit for bit against
    the same image read through a view with a column stride (every row gathered), another
    thread count (other strips, so other rows are read in place), a strided out= and,
    beyond 1-D, rows at a negative stride (still contiguous)."""
    origin = tuple(rng.integers(-(n // 2), (n - 1) // 2 + 1) for n in kernel.shape)
    kw = dict(mode=mode, cval=0.5, origin=origin)
    k = kernel.astype(dtype)
    ref = ndi.correlate(as_ref(image, dtype), kernel, **kw)
    got = filters.correlate(image, k, num_threads=1, **kw)
    assert_close(got, ref, dtype, ntaps(kernel), scale=input_scale(image, kernel, 0.5),
                 what=f"{kernel.shape} {kw}")
    gathered = np.zeros(image.shape[:-1] + (2 * image.shape[-1],), dtype)[..., ::2]
    gathered[...] = image
    out = np.zeros(image.shape[:-1] + (2 * image.shape[-1],), dtype)[..., ::2]
    filters.correlate(image, k, num_threads=1, out=out, **kw)
    others = [filters.correlate(gathered, k, num_threads=1, **kw),
              filters.correlate(image, k, num_threads=2, **kw), out]
    if image.ndim > 1:
        rev = np.ascontiguousarray(image[..., ::-1, :])[..., ::-1, :]
        others.append(filters.correlate(rev, k, num_threads=1, **kw))
    for other in others:
        np.testing.assert_array_equal(other, got)


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["random", "sparse"])
def test_wide_rows_read_in_place(ndim, mode, kind, dtype, rng):
    """Images whose rows are wide and contiguous: the tap sweep reads the rows that lie
    inside the image straight from it and gathers only the edges (and the rows the
    boundary pads)."""
    image = rng.uniform(-1, 1, WIDE[ndim]).astype(dtype)
    for kshape in WIDE_KERNELS[ndim]:
        _assert_read_in_place(image, make_kernel(kind, kshape, rng), mode, dtype, rng)


DENSE_WIDE = {2: ((23, 840), [(7, 7), (4, 10), (9, 5)]), 3: ((6, 14, 800), [(3, 4, 4)])}


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_dense_grid_wide_rows_read_in_place(ndim, mode, dtype, rng):
    """Whole grids of >= 40 taps (register tiles of three output rows) on wide, contiguous
    rows: full groups of three rows inside the image read their inside columns straight
    from it, whole tiles at a time, and the rest through the gathered tile."""
    shape, kshapes = DENSE_WIDE[ndim]
    image = rng.uniform(-1, 1, shape).astype(dtype)
    for kshape in kshapes:
        _assert_read_in_place(image, rng.standard_normal(kshape), mode, dtype, rng)


@pytest.mark.parametrize("shift", [0, 1, 3])
def test_large_out_streamed(shift, dtype, rng):
    """An out= array of 8 MB or more gets the rows read in place written by streaming
    stores (at any alignment: `shift` elements off): the same bits as the result pyconv
    allocates, the rest of the buffer untouched."""
    shape = (1030, 2100 if dtype == np.float32 else 1050)
    image = rng.uniform(-1, 1, shape).astype(dtype)
    kernel = rng.standard_normal((3, 3)).astype(dtype)
    n = image.size
    assert n * image.itemsize >= 8 << 20
    buf = np.full(n + 4, 7.0, dtype)
    out = buf[shift:shift + n].reshape(shape)
    want = filters.correlate(image, kernel, mode="nearest")
    assert filters.correlate(image, kernel, mode="nearest", out=out) is out
    np.testing.assert_array_equal(out, want)
    assert (buf[:shift] == 7.0).all() and (buf[shift + n:] == 7.0).all()
    assert_close(want[::97, ::89], ndi.correlate(as_ref(image, dtype), kernel,
                                                 mode="nearest")[::97, ::89], dtype, 9)
