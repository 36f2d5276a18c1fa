"""conv_transpose is the adjoint of conv: <conv(x, w), y> == <x, conv_transpose(y, w)>.

Holds for every shape, stride, padding, dilation and group count when the transposed
convolution's output_padding restores the input size; runs without PyTorch."""
import numpy as np
from hypothesis import given, strategies as st

import pyconv

CONV = {1: pyconv.conv1d, 2: pyconv.conv2d, 3: pyconv.conv3d}
CONVT = {1: pyconv.conv_transpose1d, 2: pyconv.conv_transpose2d, 3: pyconv.conv_transpose3d}


@st.composite
def problems(draw):
    nd = draw(st.integers(1, 3))
    g = draw(st.integers(1, 3))
    cg, og = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    k = [draw(st.integers(1, 4)) for _ in range(nd)]
    s = [draw(st.integers(1, 3)) for _ in range(nd)]
    d = [draw(st.integers(1, 2)) for _ in range(nd)]
    p = [draw(st.integers(0, 2)) for _ in range(nd)]
    size = []
    for kk, dd, pp in zip(k, d, p):
        lo = max(1, dd * (kk - 1) + 1 - 2 * pp)
        size.append(draw(st.integers(lo, lo + (9 if nd < 3 else 4))))
    n = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**31))
    return nd, g, cg, og, k, s, d, p, size, n, seed


@given(problems())
def test_conv_transpose_is_the_adjoint_of_conv(prob):
    nd, g, cg, og, k, s, d, p, size, n, seed = prob
    rng = np.random.default_rng(seed)
    x = rng.standard_normal([n, g * cg] + size)
    w = rng.standard_normal([g * og, cg] + k)
    cx = CONV[nd](x, w, stride=s, padding=p, dilation=d, groups=g)
    y = rng.standard_normal(cx.shape)
    op = [(i + 2 * pp - dd * (kk - 1) - 1) % ss for i, pp, dd, kk, ss in zip(size, p, d, k, s)]
    ty = CONVT[nd](y, w, stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    assert ty.shape == x.shape
    lhs, rhs = float(np.sum(cx * y)), float(np.sum(x * ty))
    scale = float(np.sum(np.abs(cx * y))) + 1.0
    assert abs(lhs - rhs) <= 1e-11 * scale, (lhs, rhs)


@given(problems())
def test_float32_conv_transpose_matches_float64(prob):
    nd, g, cg, og, k, s, d, p, size, n, seed = prob
    rng = np.random.default_rng(seed)
    y = rng.standard_normal([n, g * cg] + size)
    w = rng.standard_normal([g * cg, og] + k)
    t64 = CONVT[nd](y, w, stride=s, padding=0, groups=g, dilation=d)
    t32 = CONVT[nd](y.astype(np.float32), w.astype(np.float32), stride=s, padding=0,
                    groups=g, dilation=d, num_threads=2)
    assert t32.dtype == np.float32
    bound = 1e-5 * (np.abs(y).max() * np.abs(w).sum() + 1)
    np.testing.assert_allclose(t32, t64, rtol=1e-5, atol=bound)
