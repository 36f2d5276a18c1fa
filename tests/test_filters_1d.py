"""pyconv.filters.correlate1d / convolve1d against scipy.ndimage.correlate1d / convolve1d."""
import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, strategies as st

from pyconv import filters
from _helpers import CONSTANT_MODES, MODES, as_ref, assert_close, input_scale, valid_origins

FUNCS = {
    "correlate1d": (filters.correlate1d, ndi.correlate1d),
    "convolve1d": (filters.convolve1d, ndi.convolve1d),
}
SHAPES = {1: (12,), 2: (7, 9), 3: (5, 6, 4)}


def _check(name, image, weights, dtype, what="", **kw):
    ours, theirs = FUNCS[name]
    ref = theirs(as_ref(image, dtype), as_ref(weights, dtype), **kw)
    got = ours(image.astype(dtype), np.asarray(weights).astype(dtype), **kw)
    scale = input_scale(image, weights, kw.get("cval", 0.0))
    assert_close(got, ref, dtype, len(weights), what=what or f"{name} {kw}", scale=scale)
    return got


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_every_axis_every_mode(name, ndim, mode, dtype, rng):
    image = rng.uniform(-1, 1, SHAPES[ndim])
    for axis in range(-ndim, ndim):
        for n in (1, 2, 3, 4, 5):
            w = rng.standard_normal(n)
            _check(name, image, w, dtype, axis=axis, mode=mode, what=f"axis={axis} n={n}")


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_default_axis_is_last(name, rng):
    image = rng.uniform(-1, 1, (6, 7, 8))
    w = rng.standard_normal(3)
    got = FUNCS[name][0](image, w)
    assert_close(got, FUNCS[name][1](image, w, axis=-1), np.float64, 3)
    # and is not axis 0 (the two differ for this input)
    assert not np.allclose(got, FUNCS[name][1](image, w, axis=0))


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("mode", CONSTANT_MODES)
@pytest.mark.parametrize("cval", [0.0, 2.5, -1.0, np.nan])
def test_cval(name, mode, cval, dtype, rng):
    image = rng.uniform(-1, 1, (6, 8))
    for axis in (0, 1):
        _check(name, image, rng.standard_normal(4), dtype, axis=axis, mode=mode, cval=cval)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [7, 9, 10, 13])
def test_weights_longer_than_axis(name, mode, n, dtype, rng):
    image = rng.uniform(-1, 1, (3, 4))
    for axis in (0, 1, -1):
        _check(name, image, rng.standard_normal(n), dtype, axis=axis, mode=mode, cval=0.5)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(1,), (1, 5), (4, 1), (1, 1, 1)])
def test_length_one_axis(name, mode, shape, dtype, rng):
    image = rng.uniform(-1, 1, shape)
    for axis in range(len(shape)):
        for n in (1, 2, 3, 6):
            _check(name, image, rng.standard_normal(n), dtype, axis=axis, mode=mode, cval=3.0)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_origin_valid_range_and_error(name, n, rng):
    ours, theirs = FUNCS[name]
    image = rng.uniform(-1, 1, (5, 11))
    w = rng.standard_normal(n)
    accepted = []
    for origin in range(-n - 2, n + 3):
        try:
            ref = theirs(image, w, axis=1, mode="wrap", origin=origin)
        except ValueError:
            with pytest.raises(ValueError, match="origin"):
                ours(image, w, axis=1, mode="wrap", origin=origin)
            continue
        accepted.append(origin)
        assert_close(ours(image, w, axis=1, mode="wrap", origin=origin), ref, np.float64, n,
                     what=f"origin={origin}")
    assert accepted == valid_origins(n, name == "convolve1d")


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
def test_nan_spreads_through_zero_weights(name, mode, dtype, rng):
    """scipy's correlate1d keeps zero-weight taps (0*NaN = NaN): pyconv too."""
    image = rng.uniform(-1, 1, (6, 12))
    image[2, 5] = np.nan
    image[4, 0] = np.nan
    w = np.array([1.0, 0.0, 0.0, 2.0, 0.0])
    got = _check(name, image, w, dtype, axis=1, mode=mode)
    assert np.isnan(got[2]).sum() == 5  # not only the 2 non-zero taps


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_inf_propagates(name, dtype, rng):
    image = rng.uniform(-1, 1, (5, 10))
    image[1, 4] = np.inf
    image[3, 2] = -np.inf
    image[3, 3] = np.inf
    for axis in (0, 1):
        _check(name, image, np.array([1.0, -2.0, 0.0, 0.5]), dtype, axis=axis, mode="mirror")


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_out_and_in_place(name, axis, dtype, rng):
    ours, theirs = FUNCS[name]
    image = rng.uniform(-1, 1, (5, 6, 7)).astype(dtype)
    w = rng.standard_normal(4).astype(dtype)
    ref = theirs(as_ref(image, dtype), as_ref(w, dtype), axis=axis, origin=-1)
    scale = input_scale(image, w)
    out = np.zeros_like(image)
    assert ours(image, w, axis=axis, origin=-1, out=out) is out
    assert_close(out, ref, dtype, 4, scale=scale)
    assert ours(image, w, axis=axis, origin=-1, out=image) is image
    assert_close(image, ref, dtype, 4, scale=scale)


@st.composite
def cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim)))
    n = draw(st.integers(1, 12))
    name = draw(st.sampled_from(sorted(FUNCS)))
    return dict(
        name=name,
        shape=shape,
        n=n,
        axis=draw(st.integers(-ndim, ndim - 1)),
        origin=draw(st.sampled_from(valid_origins(n, name == "convolve1d"))),
        mode=draw(st.sampled_from(MODES)),
        cval=draw(st.floats(-4, 4, allow_nan=False)),
        nan=draw(st.booleans()),
        zeros=draw(st.booleans()),
        dtype=draw(st.sampled_from([np.float32, np.float64])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@given(cases())
def test_hypothesis_matches_scipy(case):
    rng = np.random.default_rng(case["seed"])
    image = rng.uniform(-1, 1, case["shape"])
    if case["nan"]:
        image.flat[rng.integers(image.size)] = np.nan
    w = rng.standard_normal(case["n"])
    if case["zeros"]:
        w[rng.random(w.size) < 0.4] = 0.0
    _check(case["name"], image, w, np.dtype(case["dtype"]), what=str(case),
           axis=case["axis"], origin=case["origin"], mode=case["mode"], cval=case["cval"])


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf_in_weights(name, bad, dtype, rng):
    image = rng.uniform(-1, 1, (5, 8))
    w = rng.standard_normal(3)
    w[1] = bad
    for axis in (0, 1):
        _check(name, image, w, dtype, axis=axis)


@pytest.mark.parametrize("mode", MODES)
def test_axis_followed_by_a_few_interleaved_samples(mode, dtype, rng, monkeypatch):
    """Along an axis followed by at most INTERLEAVED_MAX samples (a channel-last image's
    channels) the lines run flattened, taps C samples apart: scipy's numbers, and the bits
    of the row-by-row formulation used for wider trailing axes."""
    for c in (1, 2, 3, 4, 8, 9):
        image = rng.uniform(-1, 1, (6, 23, c))
        w = rng.standard_normal(int(rng.integers(1, 8)))
        origin = int(rng.choice(valid_origins(w.size, False)))
        got = _check("correlate1d", image, w, dtype, axis=1, mode=mode, cval=0.75,
                     origin=origin, what=f"C={c}")
        monkeypatch.setattr(filters, "INTERLEAVED_MAX", 0)
        rows = filters.correlate1d(image.astype(dtype), w.astype(dtype), axis=1, mode=mode,
                                   cval=0.75, origin=origin)
        monkeypatch.undo()
        assert got.tobytes() == rows.tobytes()
