"""pyconv.reference (scipy.signal + numpy.pad) against tests/_conv_reference.py (NumPy loops
over taps, index-arithmetic padding, scatter-add transposed convolution): the two
independent float64 references of the convolution layers must agree to rounding.
PyTorch checks of both are in test_conv_torch.py."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from pyconv import reference as R
import _conv_reference as CR
from _conv_cases import (PADDING_MODES, conv_cases, conv_scale, conv_transpose_cases,
                         random_conv_cases, transpose_scale)
from _helpers import assert_close

REF = {1: R.conv1d, 2: R.conv2d, 3: R.conv3d}
REF_T = {1: R.conv_transpose1d, 2: R.conv_transpose2d, 3: R.conv_transpose3d}
F64 = np.dtype(np.float64)


def _agree(got, ref, x, w, bias, what="", transpose=False):
    scale = (transpose_scale if transpose else conv_scale)(x, w, bias)
    ntaps = int(np.prod(np.shape(w)[1:])) * (np.shape(w)[0] if transpose else 1)
    assert_close(got, ref, F64, ntaps, what=what, scale=scale)


# ----------------------------------------------------------------------- the loop reference


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_loop_reference_equals_elementwise_loops(nsp, rng):
    """tests/_conv_reference.conv (vectorised over windows) against its per-element loops."""
    for case in random_conv_cases(rng, nsp, 6, max_k=3, max_extra=1, dtypes=(F64,)):
        if case.x.size > 400:
            continue
        a = CR.conv(case.x, case.weight, case.bias, **case.kwargs)
        b = CR.conv_pointwise_loops(case.x, case.weight, case.bias, **case.kwargs)
        _agree(a, b, case.x, case.weight, case.bias, what=repr(case))


def test_loop_reference_pad_index():
    idx, zero = CR.pad_index(4, 3, 3, "reflect")
    np.testing.assert_array_equal(idx, [3, 2, 1, 0, 1, 2, 3, 2, 1, 0])
    assert not zero.any()
    idx, _ = CR.pad_index(4, 2, 3, "replicate")
    np.testing.assert_array_equal(idx, [0, 0, 0, 1, 2, 3, 3, 3, 3])
    idx, _ = CR.pad_index(3, 3, 2, "circular")
    np.testing.assert_array_equal(idx, [0, 1, 2, 0, 1, 2, 0, 1])
    _, zero = CR.pad_index(2, 1, 2, "zeros")
    np.testing.assert_array_equal(zero, [True, False, False, True, True])
    # numpy.pad agrees on every mode
    a = np.arange(5.0)
    for mode, npmode in [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")]:
        idx, _ = CR.pad_index(5, 4, 3, mode)
        np.testing.assert_array_equal(a[idx], np.pad(a, (4, 3), mode=npmode))


# ---------------------------------------------------------------------------- convolution


@pytest.mark.parametrize("nsp", [1, 2, 3])
@given(data=st.data())
def test_reference_conv_random(nsp, data):
    case = data.draw(conv_cases(nsp, dtypes=(F64,)), label="case")
    got = REF[nsp](case.x, case.weight, case.bias, **case.kwargs)
    assert got.dtype == F64
    ref = CR.conv(case.x, case.weight, case.bias, **case.kwargs)
    _agree(got, ref, case.x, case.weight, case.bias, what=repr(case))


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_reference_conv_random_seeded(nsp, rng):
    for case in random_conv_cases(rng, nsp, 40, dtypes=(F64,), max_k=5 if nsp < 3 else 4):
        got = REF[nsp](case.x, case.weight, case.bias, **case.kwargs)
        ref = CR.conv(case.x, case.weight, case.bias, **case.kwargs)
        _agree(got, ref, case.x, case.weight, case.bias, what=repr(case))


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("mode", PADDING_MODES)
def test_reference_conv_nonfinite(nsp, mode, rng):
    """NaN/Inf: no spurious 0 * inf from dilation gaps (the reference works per sub-lattice)."""
    x = rng.uniform(-1, 1, (1, 2) + (11, 7, 5)[:nsp])
    x.reshape(-1)[[0, 7, 20]] = [np.inf, np.nan, -np.inf]
    w = rng.standard_normal((2, 2) + (3,) * nsp)
    w.reshape(-1)[1] = 0.0
    with np.errstate(invalid="ignore"):
        for kw in (dict(padding=1), dict(dilation=2, padding=2), dict(stride=2, dilation=2)):
            got = REF[nsp](x, w, padding_mode=mode, **kw)
            ref = CR.conv(x, w, padding_mode=mode, **kw)
            _agree(got, ref, x, w, None, what=f"{mode} {kw}")


def test_reference_types_and_layouts(rng):
    x = rng.integers(-3, 4, (2, 3, 6, 5)).astype(np.int16)
    w = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    got = R.conv2d(x, w, padding=1)
    assert got.dtype == F64
    _agree(got, CR.conv(x, w, padding=1), x, w, None)
    got2 = R.conv2d(np.asfortranarray(x[:, :, ::-1])[:, :, ::-1], w.tolist(), padding=1)
    np.testing.assert_array_equal(got2, got)
    got3 = R.conv2d(x[0].tolist(), w, padding=1)  # unbatched, nested lists
    np.testing.assert_array_equal(got3, got[0])


@pytest.mark.parametrize("multiplier", [1, 3])
def test_reference_depthwise_and_separable(multiplier, rng):
    x = rng.uniform(-1, 1, (2, 3, 8, 7))
    dw = rng.standard_normal((3 * multiplier, 1, 3, 2))
    pw = rng.standard_normal((4, 3 * multiplier, 1, 1))
    b = rng.standard_normal(4)
    bd = rng.standard_normal(3 * multiplier)
    for kw in (dict(), dict(stride=2, padding=1, padding_mode="reflect"),
               dict(padding="same", dilation=2, padding_mode="circular")):
        got = R.depthwise_conv2d(x, dw, bd, **kw)
        ref = CR.conv(x, dw, bd, groups=3, **kw)
        _agree(got, ref, x, dw, bd, what=f"depthwise {kw}")
        got = R.separable_conv2d(x, dw, pw, b, **kw)
        ref = CR.conv(CR.conv(x, dw, None, groups=3, **kw), pw, b)
        assert_close(got, ref, F64, 6 * 3 * multiplier, what=f"separable {kw}",
                     scale=float(np.abs(ref).max()) + 10.0)
        np.testing.assert_array_equal(R.separable_conv2d(x, dw, pw[:, :, 0, 0], b, **kw), got)


def test_reference_channel_shuffle(rng):
    for shape, g in [((2, 6), 3), ((1, 12, 3), 4), ((2, 6, 2, 3), 2), ((1, 4, 2, 2, 2), 4)]:
        x = rng.standard_normal(shape)
        got = R.channel_shuffle(x, g)
        np.testing.assert_array_equal(got, CR.channel_shuffle(x, g))
        np.testing.assert_array_equal(R.channel_shuffle(got, shape[1] // g), x)


# ------------------------------------------------------------------ transposed convolution


@pytest.mark.parametrize("nsp", [1, 2, 3])
@given(data=st.data())
def test_reference_conv_transpose_random(nsp, data):
    case = data.draw(conv_transpose_cases(nsp, max_k=4 if nsp < 3 else 3), label="case")
    got = REF_T[nsp](case.x, case.weight, case.bias, **case.kwargs)
    ref = CR.conv_transpose(case.x, case.weight, case.bias, **case.kwargs)
    _agree(got, ref, case.x, case.weight, case.bias, what=repr(case), transpose=True)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
def test_reference_conv_transpose_grid(nsp, stride, dilation, rng):
    x = rng.uniform(-1, 1, (2, 4) + (5, 4, 3)[:nsp])
    w = rng.standard_normal((4, 3) + (3, 2, 3)[:nsp])
    b = rng.standard_normal(6)
    for padding in (0, 1, 2):
        for op in range(max(stride, dilation)):
            for groups in (1, 2):
                kw = dict(stride=stride, padding=padding, output_padding=op, groups=groups,
                          dilation=dilation)
                got = REF_T[nsp](x, w, b[:3 * groups], **kw)
                ref = CR.conv_transpose(x, w, b[:3 * groups], **kw)
                size = [(i - 1) * stride - 2 * padding + dilation * (k - 1) + op + 1
                        for i, k in zip(x.shape[2:], w.shape[2:])]
                assert got.shape == (2, 3 * groups) + tuple(size)
                _agree(got, ref, x, w, b, what=str(kw), transpose=True)
                # unbatched
                np.testing.assert_array_equal(REF_T[nsp](x[1], w, b[:3 * groups], **kw), got[1])


@pytest.mark.parametrize("nsp", [1, 2])
def test_conv_transpose_is_the_adjoint_of_conv(nsp, rng):
    """<conv(x, w), y> == <x, conv_transpose(y, w)> (output_padding makes the sizes meet)."""
    for stride, padding, dilation in [(1, 0, 1), (2, 1, 1), (3, 2, 2), (2, 0, 3)]:
        x = rng.standard_normal((2, 4) + (11, 10)[:nsp])
        w = rng.standard_normal((6, 2) + (3, 4)[:nsp])
        kw = dict(stride=stride, padding=padding, dilation=dilation, groups=2)
        y = R.conv2d(x, w, **kw) if nsp == 2 else R.conv1d(x, w, **kw)
        yy = rng.standard_normal(y.shape)
        op = [n + 2 * padding - dilation * (k - 1) - 1 - (m - 1) * stride
              for n, k, m in zip(x.shape[2:], w.shape[2:], y.shape[2:])]
        xt = REF_T[nsp](yy, w, output_padding=tuple(op), **kw)
        assert xt.shape == x.shape
        np.testing.assert_allclose(np.vdot(y, yy), np.vdot(x, xt), rtol=1e-10)


# ----------------------------------------------------------------------------- doctests etc


def test_reference_does_not_import_pyconv_kernels():
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(R))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and not (node.module or "").startswith("pyconv"), node.module
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("pyconv") for a in node.names)


REF_BAD = [
    ("channels", lambda: R.conv2d(np.ones((1, 4, 5, 5)), np.ones((2, 3, 3, 3))), ValueError, "channel"),
    ("groups-C", lambda: R.conv2d(np.ones((1, 4, 5, 5)), np.ones((3, 1, 3, 3)), groups=3), ValueError, "groups"),
    ("groups-O", lambda: R.conv2d(np.ones((1, 4, 5, 5)), np.ones((6, 1, 3, 3)), groups=4), ValueError, "groups"),
    ("groups-zero", lambda: R.conv1d(np.ones((1, 4, 5)), np.ones((2, 4, 3)), groups=0), ValueError, "groups"),
    ("stride", lambda: R.conv1d(np.ones((1, 4, 5)), np.ones((2, 4, 3)), stride=0), ValueError, "stride"),
    ("stride-float", lambda: R.conv1d(np.ones((1, 4, 5)), np.ones((2, 4, 3)), stride=1.0), TypeError, "stride"),
    ("dilation", lambda: R.conv3d(np.ones((1, 5, 5, 5)), np.ones((2, 1, 3, 3, 3)), dilation=(1, 0, 1)), ValueError, "dilation"),
    ("padding", lambda: R.conv2d(np.ones((1, 5, 5)), np.ones((2, 1, 3, 3)), padding=-1), ValueError, "padding"),
    ("padding-str", lambda: R.conv2d(np.ones((1, 5, 5)), np.ones((2, 1, 3, 3)), padding="full"), ValueError, "padding"),
    ("same-stride", lambda: R.conv2d(np.ones((1, 5, 5)), np.ones((2, 1, 3, 3)), padding="same", stride=2), ValueError, "same"),
    ("padding_mode", lambda: R.conv2d(np.ones((1, 5, 5)), np.ones((2, 1, 3, 3)), padding_mode="wrap"), ValueError, "padding_mode"),
    ("reflect", lambda: R.conv1d(np.ones((1, 3)), np.ones((1, 1, 3)), padding=3, padding_mode="reflect"), ValueError, "reflect"),
    ("circular", lambda: R.conv1d(np.ones((1, 3)), np.ones((1, 1, 3)), padding=4, padding_mode="circular"), ValueError, "circular"),
    ("kernel", lambda: R.conv2d(np.ones((1, 5, 5)), np.ones((2, 1, 6, 3))), ValueError, "kernel"),
    ("x-ndim", lambda: R.conv2d(np.ones((5, 5)), np.ones((2, 1, 3, 3))), ValueError, "x"),
    ("weight-ndim", lambda: R.conv2d(np.ones((1, 5, 5)), np.ones((2, 3, 3))), ValueError, "weight"),
    ("bias", lambda: R.conv2d(np.ones((1, 5, 5)), np.ones((2, 1, 3, 3)), np.ones(3)), ValueError, "bias"),
    ("complex", lambda: R.conv2d(np.ones((1, 5, 5), complex), np.ones((2, 1, 3, 3))), TypeError, "x"),
    ("t-channels", lambda: R.conv_transpose2d(np.ones((1, 4, 5, 5)), np.ones((3, 2, 3, 3))), ValueError, "channels"),
    ("t-groups", lambda: R.conv_transpose2d(np.ones((1, 4, 5, 5)), np.ones((4, 2, 3, 3)), groups=3), ValueError, "groups"),
    ("t-output_padding", lambda: R.conv_transpose1d(np.ones((1, 5)), np.ones((1, 1, 3)), stride=2, output_padding=2), ValueError, "output_padding"),
    ("t-size", lambda: R.conv_transpose1d(np.ones((1, 2)), np.ones((1, 1, 2)), padding=2), ValueError, "size"),
    ("t-padding-str", lambda: R.conv_transpose1d(np.ones((1, 5)), np.ones((1, 1, 3)), padding="same"), ValueError, "padding"),
    ("depthwise", lambda: R.depthwise_conv2d(np.ones((3, 5, 5)), np.ones((4, 1, 3, 3))), ValueError, "weight"),
    ("separable", lambda: R.separable_conv2d(np.ones((3, 5, 5)), np.ones((3, 1, 3, 3)), np.ones((2, 4, 1, 1))), ValueError, "pointwise_weight"),
    ("separable-dw", lambda: R.separable_conv2d(np.ones((3, 5, 5)), np.ones((3, 2, 3, 3)), np.ones((2, 3, 1, 1))), ValueError, "depthwise_weight"),
    ("shuffle", lambda: R.channel_shuffle(np.ones((1, 6, 2)), 4), ValueError, "groups"),
    ("shuffle-ndim", lambda: R.channel_shuffle(np.ones(6), 2), ValueError, "x"),
]


@pytest.mark.parametrize("call,exc,pattern", [c[1:] for c in REF_BAD], ids=[c[0] for c in REF_BAD])
def test_reference_bad_arguments(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
