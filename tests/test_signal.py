"""pyconv.signal against scipy.signal (direct method)."""
import numpy as np
import pytest
import scipy.signal as ss
from hypothesis import given, strategies as st

from pyconv import signal as psig
from _helpers import as_ref, assert_close, signal_scale

MODES = ("full", "same", "valid")
BOUNDARIES = ("fill", "wrap", "symm")
FUNCS2D = {
    "convolve2d": (psig.convolve2d, ss.convolve2d),
    "correlate2d": (psig.correlate2d, ss.correlate2d),
}
FUNCSND = {
    "convolve": (psig.convolve, lambda a, b, mode: ss.convolve(a, b, mode=mode, method="direct")),
    "correlate": (psig.correlate, lambda a, b, mode: ss.correlate(a, b, mode=mode, method="direct")),
}
SHAPES2D = [
    ((7, 9), (3, 4)),   # in2 smaller
    ((6, 8), (1, 1)),
    ((5, 6), (5, 6)),   # equal
    ((8, 5), (2, 5)),
    ((3, 4), (7, 9)),   # in2 larger in every dim: 'valid' swaps
    ((4, 4), (4, 7)),   # in2 >= in1 in every dim
    ((2, 3), (5, 7)),   # kernel much larger than the image (repeated wrap/symm)
    ((1, 1), (3, 2)),
]


@pytest.mark.parametrize("name", sorted(FUNCS2D))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("s1,s2", SHAPES2D)
def test_2d_matches_scipy(name, mode, boundary, s1, s2, dtype, rng):
    ours, theirs = FUNCS2D[name]
    a = rng.uniform(-1, 1, s1)
    b = rng.standard_normal(s2)
    ref = theirs(as_ref(a, dtype), as_ref(b, dtype), mode=mode, boundary=boundary)
    got = ours(a.astype(dtype), b.astype(dtype), mode=mode, boundary=boundary)
    assert_close(got, ref, dtype, b.size, what=f"{name} {mode} {boundary} {s1} {s2}",
                 scale=signal_scale(a, b))


@pytest.mark.parametrize("name", sorted(FUNCS2D))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fillvalue", [2.5, -1.0])
def test_2d_fillvalue(name, mode, fillvalue, dtype, rng):
    ours, theirs = FUNCS2D[name]
    a = rng.uniform(-1, 1, (6, 7))
    b = rng.standard_normal((3, 4))
    ref = theirs(as_ref(a, dtype), as_ref(b, dtype), mode=mode, boundary="fill", fillvalue=fillvalue)
    got = ours(a.astype(dtype), b.astype(dtype), mode=mode, boundary="fill", fillvalue=fillvalue)
    assert_close(got, ref, dtype, b.size, scale=signal_scale(a, b, fillvalue))


@pytest.mark.parametrize("name", sorted(FUNCS2D))
def test_2d_defaults(name, rng):
    ours, theirs = FUNCS2D[name]
    a = rng.uniform(-1, 1, (6, 7))
    b = rng.standard_normal((2, 3))
    got = ours(a, b)
    assert got.shape == (7, 9)
    assert_close(got, theirs(a, b), np.float64, 6)


@pytest.mark.parametrize("name", sorted(FUNCS2D))
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_2d_nan_inf(name, boundary, rng):
    ours, theirs = FUNCS2D[name]
    a = rng.uniform(-1, 1, (7, 8))
    a[1, 2] = np.nan
    a[5, 6] = np.inf
    b = rng.standard_normal((3, 3))
    for mode in MODES:
        assert_close(ours(a, b, mode=mode, boundary=boundary),
                     theirs(a, b, mode=mode, boundary=boundary), np.float64, 9)


@pytest.mark.parametrize("name", sorted(FUNCS2D))
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_2d_valid_neither_larger_raises(name, boundary):
    with pytest.raises(ValueError):
        FUNCS2D[name][0](np.ones((5, 3)), np.ones((3, 5)), mode="valid", boundary=boundary)


NDSHAPES = [
    ((11,), (4,)),
    ((3,), (8,)),          # swap in 'valid'
    ((1,), (1,)),
    ((6, 7), (3, 2)),
    ((2, 3), (4, 5)),      # swap in 'valid'
    ((5, 6, 4), (2, 3, 3)),
    ((2, 2, 3), (3, 4, 5)),  # swap in 'valid'
    ((4, 3, 5), (4, 3, 5)),
]


@pytest.mark.parametrize("name", sorted(FUNCSND))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("s1,s2", NDSHAPES)
def test_nd_matches_scipy(name, mode, s1, s2, dtype, rng):
    ours, theirs = FUNCSND[name]
    a = rng.uniform(-1, 1, s1)
    b = rng.standard_normal(s2)
    ref = theirs(as_ref(a, dtype), as_ref(b, dtype), mode)
    got = ours(a.astype(dtype), b.astype(dtype), mode=mode)
    assert_close(got, ref, dtype, min(a.size, b.size), what=f"{name} {mode} {s1} {s2}",
                 scale=signal_scale(a, b))


@pytest.mark.parametrize("name", sorted(FUNCSND))
def test_nd_default_mode_full(name, rng):
    ours, theirs = FUNCSND[name]
    a = rng.uniform(-1, 1, (5, 4))
    b = rng.standard_normal((2, 3))
    assert_close(ours(a, b), theirs(a, b, "full"), np.float64, 6)


@pytest.mark.parametrize("name", sorted(FUNCSND))
@pytest.mark.parametrize("s1,s2", [((5, 3), (3, 5)), ((4,), (4,)), ((3, 4, 5), (4, 3, 5))])
def test_nd_valid_neither_larger(name, s1, s2):
    ours, theirs = FUNCSND[name]
    a, b = np.ones(s1), np.ones(s2)
    try:
        ref = theirs(a, b, "valid")
    except ValueError:
        with pytest.raises(ValueError):
            ours(a, b, mode="valid")
    else:
        assert_close(ours(a, b, mode="valid"), ref, np.float64, a.size)


@pytest.mark.parametrize("name", sorted(FUNCSND))
def test_nd_nan_inf(name, rng):
    ours, theirs = FUNCSND[name]
    a = rng.uniform(-1, 1, (6, 7))
    a[2, 3] = np.nan
    a[0, 6] = -np.inf
    b = rng.standard_normal((3, 2))
    b[1, 1] = 0.0
    for mode in MODES:
        assert_close(ours(a, b, mode=mode), theirs(a, b, mode), np.float64, 6)


def test_convolve2d_outer_product_smoke():
    """(1000,1) * (1,1000) 'full' is the outer product; must finish."""
    rng = np.random.default_rng(7)
    a = rng.uniform(-1, 1, (1000, 1))
    b = rng.uniform(-1, 1, (1, 1000))
    expect = np.outer(a[:, 0], b[0])
    got = psig.convolve2d(a, b, mode="full")
    assert_close(got, expect, np.float64, 1)
    got = psig.convolve(a, b, mode="full")
    assert_close(got, expect, np.float64, 1)
    got = psig.correlate2d(a, b, mode="full")
    assert_close(got, np.outer(a[:, 0], b[0, ::-1]), np.float64, 1)


def test_convolve_large_1d_smoke():
    rng = np.random.default_rng(8)
    a = rng.uniform(-1, 1, 3000)
    b = rng.uniform(-1, 1, 2000)
    for mode in MODES:
        assert_close(psig.convolve(a, b, mode=mode), np.convolve(a, b, mode=mode), np.float64, 2000)


# ---------------------------------------------------------------- hypothesis

@st.composite
def nd_cases(draw):
    ndim = draw(st.integers(1, 3))
    s1 = tuple(draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    s2 = tuple(draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    return dict(
        name=draw(st.sampled_from(sorted(FUNCSND))),
        s1=s1, s2=s2,
        mode=draw(st.sampled_from(MODES)),
        dtype=draw(st.sampled_from([np.float32, np.float64])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@given(nd_cases())
def test_hypothesis_nd(case):
    ours, theirs = FUNCSND[case["name"]]
    rng = np.random.default_rng(case["seed"])
    dtype = np.dtype(case["dtype"])
    a = rng.uniform(-1, 1, case["s1"])
    b = rng.standard_normal(case["s2"])
    try:
        ref = theirs(as_ref(a, dtype), as_ref(b, dtype), case["mode"])
    except ValueError:
        with pytest.raises(ValueError):
            ours(a.astype(dtype), b.astype(dtype), mode=case["mode"])
        return
    got = ours(a.astype(dtype), b.astype(dtype), mode=case["mode"])
    assert_close(got, ref, dtype, min(a.size, b.size), what=str(case), scale=signal_scale(a, b))


@st.composite
def cases_2d(draw):
    s1 = tuple(draw(st.lists(st.integers(1, 8), min_size=2, max_size=2)))
    s2 = tuple(draw(st.lists(st.integers(1, 8), min_size=2, max_size=2)))
    return dict(
        name=draw(st.sampled_from(sorted(FUNCS2D))),
        s1=s1, s2=s2,
        mode=draw(st.sampled_from(MODES)),
        boundary=draw(st.sampled_from(BOUNDARIES)),
        fillvalue=draw(st.floats(-3, 3, allow_nan=False)),
        dtype=draw(st.sampled_from([np.float32, np.float64])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@given(cases_2d())
def test_hypothesis_2d(case):
    ours, theirs = FUNCS2D[case["name"]]
    rng = np.random.default_rng(case["seed"])
    dtype = np.dtype(case["dtype"])
    a = rng.uniform(-1, 1, case["s1"])
    b = rng.standard_normal(case["s2"])
    kw = dict(mode=case["mode"], boundary=case["boundary"], fillvalue=case["fillvalue"])
    try:
        ref = theirs(as_ref(a, dtype), as_ref(b, dtype), **kw)
    except ValueError:
        with pytest.raises(ValueError):
            ours(a.astype(dtype), b.astype(dtype), **kw)
        return
    got = ours(a.astype(dtype), b.astype(dtype), **kw)
    assert_close(got, ref, dtype, min(a.size, b.size), what=str(case),
                 scale=signal_scale(a, b, case["fillvalue"]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf_in_second_operand(bad, rng):
    a = rng.uniform(-1, 1, (6, 7))
    b = rng.standard_normal((3, 2))
    b[1, 1] = bad
    for name, (ours, theirs) in FUNCS2D.items():
        for boundary in BOUNDARIES:
            assert_close(ours(a, b, boundary=boundary), theirs(a, b, boundary=boundary), np.float64, 6)
    for name, (ours, theirs) in FUNCSND.items():
        assert_close(ours(a, b, mode="same"), theirs(a, b, "same"), np.float64, 6)


def _poison(x, rng, values):
    """x with a few samples set to values (NaN, +-Inf, 0) at random places."""
    x = x.copy()
    for v in values:
        x.flat[rng.integers(x.size)] = v
    return x


@pytest.mark.parametrize("name", sorted(FUNCSND))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sizes", [(20, 5), (5, 20), (9, 9), (1, 4), (4, 1), (30, 29)])
@pytest.mark.parametrize("where", ["in1", "in2", "both"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_1d_nonfinite_reaches_the_outputs_numpy_gives(name, mode, sizes, where, dtype, rng):
    """scipy.signal's direct 1-D 'full' (and 'same' with in1 at least as long as in2) is
    NumPy's convolve / correlate, which sums the overlapping samples only: a NaN or Inf in
    either operand reaches exactly the outputs whose windows hold it, and the zeros beyond
    in1's ends never meet an infinite tap (0 * Inf would be NaN)."""
    ours, theirs = FUNCSND[name]
    for trial in range(4):
        a = rng.standard_normal(sizes[0])
        b = rng.standard_normal(sizes[1])
        bad = [(np.nan,), (np.inf,), (-np.inf, 0.0), (np.inf, -np.inf)][trial]
        if where in ("in1", "both"):
            a = _poison(a, rng, bad)
        if where in ("in2", "both"):
            b = _poison(b, rng, bad)
        try:
            ref = theirs(a, b, mode)
        except ValueError:
            continue
        assert_close(ours(a.astype(dtype), b.astype(dtype), mode=mode), ref, dtype,
                     min(a.size, b.size), what=f"{sizes} {where} {bad}")


@pytest.mark.parametrize("name", sorted(FUNCS2D))
@pytest.mark.parametrize("where", ["in1", "in2"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_2d_nonfinite_with_the_larger_second_operand(name, where, bad, rng):
    """In 'full' mode with zero fill a larger in2 would serve as the image (the operands are
    interchangeable for finite values), but scipy multiplies every tap of in2 by in1 or the
    fill: a NaN or Inf in in2 reaches every output, one in in1 only the outputs whose
    windows hold it.  With NaN or Inf in either operand the roles stay scipy's."""
    ours, theirs = FUNCS2D[name]
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((6, 7))
    if where == "in1":
        a = _poison(a, rng, (bad,))
    else:
        b = _poison(b, rng, (bad,))
    for mode in MODES:
        try:
            ref = theirs(a, b, mode=mode)
        except ValueError:
            continue
        assert_close(ours(a, b, mode=mode), ref, np.float64, a.size, what=mode)


def test_full_mode_swaps_finite_operands_only(monkeypatch):
    """The smaller operand is the kernel of a 'full' convolution (the cost is the output
    size times the kernel size) when both are finite; with a NaN the roles stay as given."""
    import pyconv.signal as mod
    seen = []
    real_run = mod._run

    def spy(a, kern, *args):
        seen.append(kern.shape)
        return real_run(a, kern, *args)

    monkeypatch.setattr(mod, "_run", spy)
    a, b = np.ones((2, 3)), np.ones((9, 8))
    psig.convolve2d(a, b)
    psig.convolve(a, b)
    b[4, 4] = np.nan
    psig.convolve2d(a, b)
    assert seen == [(2, 3), (2, 3), (9, 8)]
