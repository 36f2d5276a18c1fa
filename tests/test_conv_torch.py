"""pyconv's convolution layers and pyconv.reference against PyTorch (skipped without torch).

torch.nn.Conv{1,2,3}d with padding_mode does what pyconv's padding_mode does (F.pad, then a
padding-0 convolution); torch.nn.functional for the rest."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

torch = pytest.importorskip("torch")
F = torch.nn.functional

import pyconv  # noqa: E402
from pyconv import reference as R  # noqa: E402
from _conv_cases import (F32, F64, PADDING_MODES, conv_cases, conv_scale,  # noqa: E402
                         conv_transpose_cases, random_conv_cases, transpose_scale)
from _helpers import as_ref, assert_close  # noqa: E402

CONV = {1: pyconv.conv1d, 2: pyconv.conv2d, 3: pyconv.conv3d}
REF = {1: R.conv1d, 2: R.conv2d, 3: R.conv3d}
REF_T = {1: R.conv_transpose1d, 2: R.conv_transpose2d, 3: R.conv_transpose3d}
TDT = {F32: torch.float32, F64: torch.float64}
# torch warns that 'same' with an even kernel pads a copy of the input: expected here
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


@pytest.fixture(autouse=True, scope="module")
def _torch_single_thread():
    """torch's thread pool next to pyconv's OpenMP threads makes each tiny torch call take
    milliseconds; one thread keeps this module fast (torch is only the reference here)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def torch_conv(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
               padding_mode="zeros", dtype=F64):
    """torch.nn.Conv{n}d with these parameters and weights, applied to x, as float64 numpy."""
    w = np.asarray(weight)
    nsp = w.ndim - 2
    tdt = TDT[np.dtype(dtype)]
    layer = getattr(torch.nn, "Conv%dd" % nsp)(
        w.shape[1] * groups, w.shape[0], w.shape[2:], stride=stride, padding=padding,
        dilation=dilation, groups=groups, bias=bias is not None, padding_mode=padding_mode,
        dtype=tdt)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(np.asarray(w, dtype=dtype)))
        if bias is not None:
            layer.bias.copy_(torch.from_numpy(np.asarray(bias, dtype=dtype)))
        y = layer(torch.from_numpy(np.ascontiguousarray(x, dtype=dtype)))
    return y.numpy().astype(np.float64)


def _compare_with_torch(case, what=""):
    got = CONV[case.nsp](case.x, case.weight, case.bias, **case.kwargs)
    xr, wr = as_ref(case.x, case.dtype), as_ref(case.weight, case.dtype)
    br = None if case.bias is None else as_ref(case.bias, case.dtype)
    scale = conv_scale(xr, wr, br)
    what = what or repr(case)
    # torch in float64 on the values pyconv computes with: the exact answer
    t64 = torch_conv(xr, wr, br, dtype=F64, **case.kwargs)
    assert_close(got, t64, case.dtype, case.ntaps, what=what + " [torch f64]", scale=scale)
    if case.dtype == F32:
        # and torch's own float32 result (two float32 roundings apart)
        t32 = torch_conv(case.x, case.weight, case.bias, dtype=F32, **case.kwargs)
        assert_close(got, t32, F32, 2 * case.ntaps, what=what + " [torch f32]", scale=scale)
    return got, t64


# ------------------------------------------------------------------------ pyconv vs torch


@pytest.mark.parametrize("nsp", [1, 2, 3])
@given(data=st.data())
def test_pyconv_matches_torch_random(nsp, data):
    case = data.draw(conv_cases(nsp, max_k=5 if nsp < 3 else 4), label="case")
    _compare_with_torch(case)


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_pyconv_matches_torch_seeded(nsp, rng):
    for case in random_conv_cases(rng, nsp, 60, max_k=5 if nsp < 3 else 4):
        _compare_with_torch(case)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("padding", [1, 2, "same", (0, 2, 1)])
def test_pyconv_padding_modes_match_torch(nsp, mode, padding, dtype, rng):
    if isinstance(padding, tuple):
        padding = padding[:nsp]
    x = rng.uniform(-1, 1, (2, 4) + (7, 6, 5)[:nsp]).astype(dtype)
    w = rng.standard_normal((6, 2) + (3, 4, 2)[:nsp]).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    for dilation in (1, 2):
        kw = dict(padding=padding, dilation=dilation, groups=2, padding_mode=mode)
        got = pyconv.conv1d if nsp == 1 else CONV[nsp]
        got = got(x, w, b, **kw)
        ref = torch_conv(as_ref(x, dtype), as_ref(w, dtype), as_ref(b, dtype), **kw)
        assert_close(got, ref, dtype, w[0].size, what=str(kw), scale=conv_scale(x, w, b))
        # torch's functional form: F.pad then a padding-0 conv
        if mode != "zeros" and padding != "same":
            p = (padding,) * nsp if isinstance(padding, int) else padding
            pads = [q for pp in reversed(p) for q in (pp, pp)]
            xt = F.pad(torch.from_numpy(as_ref(x, dtype)), pads, mode=mode)
            conv = getattr(F, "conv%dd" % nsp)
            ref2 = conv(xt, torch.from_numpy(as_ref(w, dtype)), torch.from_numpy(as_ref(b, dtype)),
                        dilation=dilation, groups=2).numpy()
            assert_close(got, ref2, dtype, w[0].size, what="F.pad " + str(kw),
                         scale=conv_scale(x, w, b))


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_pyconv_unbatched_matches_torch(nsp, dtype, rng):
    x = rng.uniform(-1, 1, (3,) + (8, 7, 6)[:nsp]).astype(dtype)
    w = rng.standard_normal((5, 3) + (3,) * nsp).astype(dtype)
    got = CONV[nsp](x, w, stride=2, padding=1, padding_mode="replicate")
    ref = torch_conv(as_ref(x, dtype), as_ref(w, dtype), stride=2, padding=1,
                     padding_mode="replicate")
    assert got.shape == ref.shape
    assert_close(got, ref, dtype, w[0].size, scale=conv_scale(x, w))


def test_depthwise_separable_shuffle_match_torch(dtype, rng):
    x = rng.uniform(-1, 1, (2, 4, 9, 8)).astype(dtype)
    dw = rng.standard_normal((8, 1, 3, 3)).astype(dtype)
    pw = rng.standard_normal((6, 8, 1, 1)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    t = lambda a: torch.from_numpy(as_ref(a, dtype))  # noqa: E731
    d_ref = F.conv2d(t(x), t(dw), stride=2, padding=1, groups=4).numpy()
    got = pyconv.depthwise_conv2d(x, dw, stride=2, padding=1)
    assert_close(got, d_ref, dtype, 9, scale=conv_scale(x, dw))
    assert_close(R.depthwise_conv2d(x, dw, stride=2, padding=1), d_ref, F64, 9,
                 scale=conv_scale(x, dw))
    s_ref = F.conv2d(F.conv2d(t(x), t(dw), padding="same", dilation=2, groups=4), t(pw), t(b))
    s_ref = s_ref.numpy()
    got = pyconv.separable_conv2d(x, dw, pw, b, padding="same", dilation=2)
    scale = float(np.abs(s_ref).max()) + float(np.abs(pw).sum(axis=1).max() * np.abs(dw).sum())
    assert_close(got, s_ref, dtype, 72, scale=scale)
    assert_close(R.separable_conv2d(x, dw, pw, b, padding="same", dilation=2), s_ref, F64, 72,
                 scale=scale)
    for g in (1, 2, 4):
        ref = F.channel_shuffle(torch.from_numpy(x), g).numpy()
        np.testing.assert_array_equal(pyconv.channel_shuffle(x, g), ref)
        np.testing.assert_array_equal(R.channel_shuffle(x, g), ref.astype(np.float64))


# --------------------------------------------------------- errors: pyconv, reference, torch


def _outcome(fn):
    try:
        return fn(), None
    except (ValueError, TypeError, RuntimeError) as exc:
        return None, exc


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_same_calls_refused_as_torch_refuses(nsp, rng):
    """Small inputs, large kernels and pads: pyconv and pyconv.reference refuse (ValueError)
    exactly the calls torch refuses, and agree with it on the others."""
    refused = accepted = 0
    for _ in range(120):
        size = tuple(int(v) for v in rng.integers(1, 5, nsp))
        k = tuple(int(v) for v in rng.integers(1, 6, nsp))
        d = tuple(int(v) for v in rng.integers(1, 3, nsp))
        mode = PADDING_MODES[rng.integers(4)]
        r = rng.random()
        if r < 0.25:
            padding, s = "same", tuple(int(v) for v in rng.integers(1, 3, nsp))
        elif r < 0.35:
            padding, s = "valid", (1,) * nsp
        else:
            padding, s = tuple(int(v) for v in rng.integers(0, 5, nsp)), (1,) * nsp
        x = rng.uniform(-1, 1, (1, 2) + size)
        w = rng.standard_normal((2, 2) + k)
        kw = dict(stride=s, padding=padding, dilation=d, padding_mode=mode)
        t, texc = _outcome(lambda: torch_conv(x, w, **kw))
        p, pexc = _outcome(lambda: CONV[nsp](x, w, **kw))
        q, qexc = _outcome(lambda: REF[nsp](x, w, **kw))
        what = f"x{x.shape} w{w.shape} {kw}: torch {texc!r}, pyconv {pexc!r}, reference {qexc!r}"
        assert (texc is None) == (pexc is None) == (qexc is None), what
        if texc is None:
            accepted += 1
            assert_close(p, t, F64, w[0].size, what=what, scale=conv_scale(x, w))
            assert_close(q, t, F64, w[0].size, what=what, scale=conv_scale(x, w))
        else:
            refused += 1
            assert isinstance(pexc, ValueError) and isinstance(qexc, ValueError), what
    assert refused > 10 and accepted > 10


# ------------------------------------------------------------------- reference vs torch


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_reference_matches_torch(nsp, rng):
    for case in random_conv_cases(rng, nsp, 30, dtypes=(F64,), max_k=5 if nsp < 3 else 4):
        got = REF[nsp](case.x, case.weight, case.bias, **case.kwargs)
        ref = torch_conv(case.x, case.weight, case.bias, **case.kwargs)
        assert_close(got, ref, F64, case.ntaps, what=repr(case), scale=case.scale)


def torch_conv_transpose(x, w, bias=None, dtype=torch.float64, **kw):
    nsp = np.ndim(w) - 2
    fn = getattr(F, "conv_transpose%dd" % nsp)
    t = lambda a: torch.from_numpy(np.asarray(a)).to(dtype)  # noqa: E731
    return fn(t(x), t(w), None if bias is None else t(bias), **kw).numpy().astype(np.float64)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@given(data=st.data())
def test_reference_conv_transpose_matches_torch(nsp, data):
    case = data.draw(conv_transpose_cases(nsp, max_k=4 if nsp < 3 else 3), label="case")
    got = REF_T[nsp](case.x, case.weight, case.bias, **case.kwargs)
    ref = torch_conv_transpose(case.x, case.weight, case.bias, **case.kwargs)
    assert_close(got, ref, F64, case.weight[:, 0].size, what=repr(case),
                 scale=transpose_scale(case.x, case.weight, case.bias))


def _transpose_configs(rng, nsp, count=25):
    """Random conv_transpose calls, some of them invalid (output size <= 0)."""
    for _ in range(count):
        s = tuple(int(v) for v in rng.integers(1, 4, nsp))
        d = tuple(int(v) for v in rng.integers(1, 4, nsp))
        k = tuple(int(v) for v in rng.integers(1, 5, nsp))
        op = tuple(int(rng.integers(0, max(a, b))) for a, b in zip(s, d))
        p = tuple(int(v) for v in rng.integers(0, 3, nsp))
        groups = int(rng.integers(1, 3))
        x = rng.uniform(-1, 1, (2, 2 * groups) + tuple(int(v) for v in rng.integers(1, 5, nsp)))
        w = rng.standard_normal((2 * groups, 2) + k)
        b = rng.standard_normal(2 * groups)
        yield x, w, b, dict(stride=s, padding=p, output_padding=op, groups=groups, dilation=d)


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_reference_conv_transpose_matches_torch_seeded(nsp, rng):
    for x, w, b, kw in _transpose_configs(rng, nsp):
        t, texc = _outcome(lambda: torch_conv_transpose(x, w, b, **kw))
        r, rexc = _outcome(lambda: REF_T[nsp](x, w, b, **kw))
        assert (texc is None) == (rexc is None), (kw, texc, rexc)
        if texc is None:
            assert_close(r, t, F64, w[:, 0].size, what=str(kw), scale=transpose_scale(x, w, b))
        else:
            assert isinstance(rexc, ValueError)


@pytest.mark.skipif(not hasattr(pyconv, "conv_transpose2d"), reason="no pyconv.conv_transpose")
@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_pyconv_conv_transpose_matches_torch_seeded(nsp, rng):
    """pyconv.conv_transpose{n}d: torch's numbers (float64 and float32) and torch's refusals
    (output_padding too large, output size < 1) as ValueError."""
    ours = getattr(pyconv, "conv_transpose%dd" % nsp)
    for x, w, b, kw in _transpose_configs(rng, nsp):
        t, texc = _outcome(lambda: torch_conv_transpose(x, w, b, **kw))
        got, pexc = _outcome(lambda: ours(x, w, b, **kw))
        what = f"x{x.shape} w{w.shape} {kw}: torch {texc!r}, pyconv {pexc!r}"
        assert (texc is None) == (pexc is None), what
        if texc is not None:
            assert isinstance(pexc, ValueError), what
            continue
        scale = transpose_scale(x, w, b)
        assert_close(got, t, F64, w[:, 0].size, what=what, scale=scale)
        f32 = [a.astype(np.float32) for a in (x, w, b)]
        t32 = torch_conv_transpose(*f32, dtype=torch.float32, **kw)
        got32 = ours(*f32, **kw)
        t64 = torch_conv_transpose(*[as_ref(a, F32) for a in f32], **kw)
        assert_close(got32, t64, F32, w[:, 0].size, what="f32 " + what, scale=scale)
        assert_close(got32, t32, F32, 2 * w[:, 0].size, what="torch f32 " + what, scale=scale)


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_reference_nonfinite_matches_torch(nsp, rng):
    x = rng.uniform(-1, 1, (1, 2) + (9, 7, 5)[:nsp])
    x.reshape(-1)[[0, 5, 13]] = [np.inf, np.nan, -np.inf]
    w = rng.standard_normal((2, 2) + (3,) * nsp)
    w.reshape(-1)[2] = 0.0
    with np.errstate(invalid="ignore"):
        for kw in (dict(padding=1), dict(dilation=2, padding=2, padding_mode="reflect"),
                   dict(stride=2, dilation=2, padding_mode="circular", padding=1)):
            got = REF[nsp](x, w, **kw)
            ref = torch_conv(x, w, **kw)
            assert_close(got, ref, F64, w[0].size, what=str(kw), scale=conv_scale(x, w))
            got = CONV[nsp](x, w, **kw)
            assert_close(got, ref, F64, w[0].size, what="pyconv " + str(kw),
                         scale=conv_scale(x, w))
