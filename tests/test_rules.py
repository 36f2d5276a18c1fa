"""The rules every function keeps: dtype policy, layouts, input never modified,
argument validation with messages naming the argument."""
import copy

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal as ss

from pyconv import filters
from pyconv import signal as psig
from _helpers import assert_close, result_dtype, signal_scale

F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)


class Op:
    """One public function, how to call it, its scipy reference, its argument names."""

    def __init__(self, name, ours, ref, kshape, args=("image", "kernel")):
        self.name, self.ours, self.ref, self.kshape, self.args = name, ours, ref, kshape, args

    def __repr__(self):
        return self.name


OPS = [
    Op("correlate", lambda x, k, **kw: filters.correlate(x, k, mode="mirror", **kw),
       lambda x, k: ndi.correlate(x, k, mode="mirror"), (3, 2)),
    Op("convolve", lambda x, k, **kw: filters.convolve(x, k, mode="wrap", **kw),
       lambda x, k: ndi.convolve(x, k, mode="wrap"), (2, 3)),
    Op("correlate1d", lambda x, k, **kw: filters.correlate1d(x, k, axis=0, **kw),
       lambda x, k: ndi.correlate1d(x, k, axis=0), (3,), ("image", "weights")),
    Op("convolve1d", lambda x, k, **kw: filters.convolve1d(x, k, axis=-1, mode="nearest", **kw),
       lambda x, k: ndi.convolve1d(x, k, axis=-1, mode="nearest"), (4,), ("image", "weights")),
    Op("convolve2d", lambda x, k: psig.convolve2d(x, k, mode="same", boundary="symm"),
       lambda x, k: ss.convolve2d(x, k, mode="same", boundary="symm"), (3, 2), ("in1", "in2")),
    Op("correlate2d", lambda x, k: psig.correlate2d(x, k, mode="full", boundary="fill", fillvalue=1.5),
       lambda x, k: ss.correlate2d(x, k, mode="full", boundary="fill", fillvalue=1.5), (2, 3), ("in1", "in2")),
    Op("signal.convolve", lambda x, k: psig.convolve(x, k, mode="full"),
       lambda x, k: ss.convolve(x, k, mode="full", method="direct"), (3, 2), ("in1", "in2")),
    Op("signal.correlate", lambda x, k: psig.correlate(x, k, mode="valid"),
       lambda x, k: ss.correlate(x, k, mode="valid", method="direct"), (2, 2), ("in1", "in2")),
]
FILTER_OPS = OPS[:4]


def _image(rng, dtype, shape=(6, 7)):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) > 0.5
    if dtype.kind in "iu":
        return rng.integers(0, 6, shape).astype(dtype)
    return rng.uniform(-2, 2, shape).astype(dtype)


def _kernel(rng, shape):
    return np.round(rng.standard_normal(shape), 3)


# -------------------------------------------------------------------- dtypes

@pytest.mark.parametrize("op", OPS, ids=repr)
@pytest.mark.parametrize(
    "img_dtype",
    [np.float16, np.float32, np.float64, np.int8, np.uint8, np.int16, np.uint16,
     np.int32, np.int64, np.uint64, np.bool_],
)
def test_dtype_policy_image(op, img_dtype, rng):
    """list kernel: the result dtype follows the image alone."""
    image = _image(rng, img_dtype)
    kernel = _kernel(rng, op.kshape)
    expect = result_dtype(img_dtype)
    got = op.ours(image, kernel.tolist())
    ref = op.ref(image.astype(np.float64), kernel.astype(expect).astype(np.float64))
    assert_close(got, ref, expect, kernel.size, what=f"{op} {np.dtype(img_dtype)}",
                 scale=signal_scale(image, kernel, 1.5))


KERNEL_CASES = [
    # image dtype, kernel (as a function of a float64 ndarray), expected result dtype
    (F32, "f64 array", lambda k: k.astype(np.float64), F64),
    (F32, "f32 array", lambda k: k.astype(np.float32), F32),
    (F32, "f16 array", lambda k: k.astype(np.float16), F32),
    (F32, "list", lambda k: k.tolist(), F32),
    (F32, "tuple", lambda k: tuple(map(tuple, k.tolist())) if k.ndim == 2 else tuple(k.tolist()), F32),
    (F32, "int32 array", lambda k: np.round(k * 3).astype(np.int32), F32),
    (F32, "int64 array", lambda k: np.round(k * 3).astype(np.int64), F32),
    (F32, "bool array", lambda k: k > 0, F32),
    (F32, "int list", lambda k: np.round(k * 3).astype(int).tolist(), F32),
    (F64, "f32 array", lambda k: k.astype(np.float32), F64),
    (F64, "list", lambda k: k.tolist(), F64),
    (F64, "int array", lambda k: np.round(k * 3).astype(np.int16), F64),
    (F16, "f16 array", lambda k: k.astype(np.float16), F32),
    (F16, "list", lambda k: k.tolist(), F32),
    (F16, "f32 array", lambda k: k.astype(np.float32), F32),
    (F16, "f64 array", lambda k: k.astype(np.float64), F64),
    (np.dtype(np.int16), "f32 array", lambda k: k.astype(np.float32), F64),
    (np.dtype(np.uint8), "list", lambda k: k.tolist(), F64),
    (np.dtype(np.bool_), "int array", lambda k: np.round(k * 3).astype(np.int32), F64),
    (np.dtype(np.int64), "f64 array", lambda k: k.astype(np.float64), F64),
]


@pytest.mark.parametrize("op", OPS, ids=repr)
@pytest.mark.parametrize("img_dtype,kdesc,kmake,expect", KERNEL_CASES,
                         ids=[f"{c[0]}-{c[1].replace(' ', '_')}" for c in KERNEL_CASES])
def test_dtype_policy_kernel(op, img_dtype, kdesc, kmake, expect, rng):
    image = _image(rng, img_dtype)
    kernel = kmake(_kernel(rng, op.kshape))
    got = op.ours(image, kernel)
    kref = np.asarray(kernel).astype(expect).astype(np.float64)
    ref = op.ref(image.astype(np.float64), kref)
    assert_close(got, ref, expect, kref.size, what=f"{op} image {img_dtype} kernel {kdesc}",
                 scale=signal_scale(image, kref, 1.5))


@pytest.mark.parametrize("op", OPS, ids=repr)
def test_mixed_floats_give_the_wider(op, rng):
    """float64 image with float32 kernel and float32 image with float64 kernel: both float64."""
    a = _image(rng, F32)
    k = _kernel(rng, op.kshape)
    r1 = op.ours(a.astype(np.float64), k.astype(np.float32))
    r2 = op.ours(a, k.astype(np.float64))
    assert r1.dtype == F64 and r2.dtype == F64


BAD_DTYPES = {
    "complex64": lambda x: x.astype(np.complex64),
    "complex128": lambda x: x.astype(np.complex128) + 1j,
    "object": lambda x: x.astype(object),
    "str": lambda x: x.astype(str),
    "bytes": lambda x: x.astype("S8"),
}


@pytest.mark.parametrize("op", OPS, ids=repr)
@pytest.mark.parametrize("bad", sorted(BAD_DTYPES))
@pytest.mark.parametrize("which", [0, 1])
def test_bad_dtypes_raise_typeerror(op, bad, which, rng):
    args = [_image(rng, F64), _kernel(rng, op.kshape)]
    args[which] = BAD_DTYPES[bad](args[which])
    with pytest.raises(TypeError, match=op.args[which]):
        op.ours(*args)


@pytest.mark.parametrize("op", OPS, ids=repr)
def test_string_scalar_and_none_inputs_raise(op, rng):
    k = _kernel(rng, op.kshape)
    for bad in ("abc", None):
        with pytest.raises((TypeError, ValueError)):
            op.ours(bad, k)
        with pytest.raises((TypeError, ValueError)):
            op.ours(_image(rng, F64), bad)


# ------------------------------------------------------------------- layouts

def _layouts(base, dtype):
    """(name, array) views of the same values as `base` (a C-contiguous array)."""
    dtype = np.dtype(dtype)
    nd = base.ndim
    big = np.zeros(tuple(3 * s + 1 for s in base.shape), dtype=dtype)
    sl = tuple(slice(1, None, 3) for _ in range(nd))
    big[sl] = base
    rev = np.ascontiguousarray(base[(slice(None, None, -1),) * nd])
    ro = base.astype(dtype)
    ro.setflags(write=False)
    out = [
        ("strided", big[sl]),
        ("negative", rev[(slice(None, None, -1),) * nd]),
        ("fortran", np.asfortranarray(base.astype(dtype))),
        ("byteswapped", base.astype(dtype.newbyteorder(">" if dtype.byteorder != ">" else "<"))),
        ("readonly", ro),
    ]
    if nd == 2:
        out.append(("transposed", np.ascontiguousarray(base.T.astype(dtype)).T))
    for name, arr in out:
        assert np.array_equal(arr, base.astype(dtype)), name
    return out


@pytest.mark.parametrize("op", OPS, ids=repr)
@pytest.mark.parametrize("which", ["image", "kernel"])
def test_any_layout_same_numbers(op, which, dtype, rng):
    image = _image(rng, dtype, (9, 11))
    kernel = _kernel(rng, op.kshape).astype(dtype)
    expect = op.ours(image, kernel)  # contiguous native inputs
    assert_close(expect, op.ref(image.astype(np.float64), kernel.astype(np.float64)), dtype, kernel.size,
                 scale=signal_scale(image, kernel, 1.5))
    base = image if which == "image" else kernel
    for lname, arr in _layouts(base, dtype):
        args = (arr, kernel) if which == "image" else (image, arr)
        got = op.ours(*args)
        assert got.dtype == np.dtype(dtype), (lname, got.dtype)  # native byte order
        np.testing.assert_array_equal(got, expect, err_msg=f"{op} {which} {lname}")


@pytest.mark.parametrize("op", FILTER_OPS, ids=repr)
def test_layouts_3d(op, rng):
    image = rng.uniform(-1, 1, (5, 6, 7))
    kernel = _kernel(rng, (3, 2, 3) if len(op.kshape) == 2 else op.kshape)
    expect = op.ours(image, kernel)
    for lname, arr in _layouts(image, F64):
        np.testing.assert_array_equal(op.ours(arr, kernel), expect, err_msg=lname)
    t = np.transpose(np.ascontiguousarray(np.transpose(image, (2, 0, 1))), (1, 2, 0))
    np.testing.assert_array_equal(op.ours(t, kernel), expect, err_msg="permuted")


@pytest.mark.parametrize("op", OPS, ids=repr)
def test_input_never_modified(op, dtype, rng):
    image = _image(rng, dtype, (8, 9))
    image[3, 4] = np.nan
    image[0, 0] = np.inf
    kernel = _kernel(rng, op.kshape).astype(dtype)
    kernel.flat[0] = 0.0
    i0, k0 = image.copy(), kernel.copy()
    op.ours(image, kernel)
    assert np.array_equal(image, i0, equal_nan=True)
    assert np.array_equal(kernel, k0)
    assert image.flags.writeable and kernel.flags.writeable
    # a list kernel is not mutated either
    klist = kernel.tolist()
    klist0 = copy.deepcopy(klist)
    op.ours(image, klist)
    assert klist == klist0


@pytest.mark.parametrize("op", FILTER_OPS, ids=repr)
def test_input_never_modified_channel_and_views(op, rng):
    base = rng.uniform(-1, 1, (6, 7, 3))
    b0 = base.copy()
    view = base[::-1, 1:, :]
    if op.name in ("correlate", "convolve"):
        filters.correlate(view, np.ones((3, 3)), channel_axis=-1)
        filters.convolve(view, np.ones((2, 2)), channel_axis=-1)
    else:
        op.ours(view, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(base, b0)


# -------------------------------------------------------- argument validation

def _img():
    return np.random.default_rng(1).uniform(-1, 1, (6, 7))


F = filters
BAD_FILTER_CALLS = [
    # (id, call, argument name)
    ("mode-unknown", lambda: F.correlate(_img(), np.ones((3, 3)), mode="foo"), "mode"),
    ("mode-int", lambda: F.correlate(_img(), np.ones((3, 3)), mode=3), "mode"),
    ("mode-unknown-conv", lambda: F.convolve(_img(), np.ones((3, 3)), mode="symm"), "mode"),
    ("mode-unknown-1d", lambda: F.correlate1d(_img(), [1, 2], mode="reflec"), "mode"),
    ("mode-unknown-conv1d", lambda: F.convolve1d(_img(), [1, 2], mode="bogus"), "mode"),
    ("kernel-ndim-low", lambda: F.correlate(_img(), np.ones(3)), "kernel"),
    ("kernel-ndim-high", lambda: F.convolve(_img(), np.ones((3, 3, 3))), "kernel"),
    ("kernel-empty", lambda: F.correlate(_img(), np.ones((0, 3))), "kernel"),
    ("kernel-empty-list", lambda: F.convolve(np.ones(5), []), "kernel"),
    ("kernel-0d", lambda: F.correlate(np.ones(5), 2.0), "kernel"),
    ("weights-2d", lambda: F.correlate1d(_img(), np.ones((3, 1))), "weights"),
    ("weights-0d", lambda: F.convolve1d(_img(), 1.0), "weights"),
    ("weights-empty", lambda: F.correlate1d(_img(), []), "weights"),
    ("weights-empty-conv", lambda: F.convolve1d(_img(), np.ones(0)), "weights"),
    ("image-empty", lambda: F.correlate(np.ones((0, 5)), np.ones((3, 3))), "image"),
    ("image-empty-1d", lambda: F.convolve(np.ones(0), np.ones(3)), "image"),
    ("image-empty-corr1d", lambda: F.correlate1d(np.ones((4, 0)), [1.0, 2.0], axis=0), "image"),
    ("image-0d", lambda: F.correlate(np.float64(3.0), np.ones(())), "image"),
    ("image-4d", lambda: F.correlate(np.ones((3, 3, 3, 3)), np.ones((3, 3, 3, 3))), "image"),
    ("axis-too-big", lambda: F.correlate1d(_img(), [1, 2], axis=2), "axis"),
    ("axis-too-small", lambda: F.convolve1d(_img(), [1, 2], axis=-3), "axis"),
    ("axis-float", lambda: F.correlate1d(_img(), [1, 2], axis=1.0), "axis"),
    ("axis-str", lambda: F.correlate1d(_img(), [1, 2], axis="0"), "axis"),
    ("origin-high", lambda: F.correlate(_img(), np.ones((3, 3)), origin=2), "origin"),
    ("origin-low", lambda: F.correlate(_img(), np.ones((4, 4)), origin=-3), "origin"),
    ("origin-conv-even", lambda: F.convolve(_img(), np.ones((4, 4)), origin=2), "origin"),
    ("origin-tuple-len", lambda: F.correlate(_img(), np.ones((3, 3)), origin=(0, 0, 0)), "origin"),
    ("origin-tuple-bad", lambda: F.convolve(_img(), np.ones((3, 5)), origin=(0, 3)), "origin"),
    ("origin-float", lambda: F.correlate(_img(), np.ones((3, 3)), origin=0.5), "origin"),
    ("origin-1d-high", lambda: F.correlate1d(_img(), [1, 2, 3], origin=2), "origin"),
    ("origin-1d-conv-even", lambda: F.convolve1d(_img(), [1, 2], origin=-2), "origin"),
    ("origin-1d-tuple", lambda: F.correlate1d(_img(), [1, 2, 3], origin=(0, 0)), "origin"),
    ("cval-str", lambda: F.correlate(_img(), np.ones((3, 3)), mode="constant", cval="a"), "cval"),
    ("channel_axis-range", lambda: F.correlate(np.ones((4, 5, 3)), np.ones((3, 3)), channel_axis=3), "channel_axis"),
    ("channel_axis-neg", lambda: F.convolve(np.ones((4, 5, 3)), np.ones((3, 3)), channel_axis=-4), "channel_axis"),
    ("channel_axis-float", lambda: F.correlate(np.ones((4, 5, 3)), np.ones((3, 3)), channel_axis=1.0), "channel_axis"),
    ("channel_axis-kernel", lambda: F.correlate(np.ones((4, 5, 3)), np.ones((3, 3, 3)), channel_axis=2), "kernel"),
    ("out-shape", lambda: F.correlate(_img(), np.ones((3, 3)), out=np.empty((7, 6))), "out"),
    ("out-dtype-narrow", lambda: F.correlate(_img(), np.ones((3, 3)), out=np.empty((6, 7), np.float32)), "out"),
    ("out-dtype-wide", lambda: F.convolve(_img().astype(np.float32), np.ones((3, 3), np.float32),
                                          out=np.empty((6, 7), np.float64)), "out"),
    ("out-dtype-int", lambda: F.correlate1d(_img(), [1.0, 2.0], out=np.empty((6, 7), np.int64)), "out"),
    ("out-readonly", lambda: F.convolve1d(_img(), [1.0, 2.0], out=_readonly(np.empty((6, 7)))), "out"),
    ("out-list", lambda: F.correlate(_img(), np.ones((3, 3)), out=[[0.0] * 7] * 6), "out"),
    ("out-shape-1d", lambda: F.correlate1d(_img(), [1.0, 2.0], out=np.empty(42)), "out"),
    ("num_threads-zero", lambda: F.correlate(_img(), np.ones((3, 3)), num_threads=0), "num_threads"),
    ("num_threads-float", lambda: F.convolve(_img(), np.ones((3, 3)), num_threads=1.5), "num_threads"),
    ("num_threads-str", lambda: F.correlate1d(_img(), [1, 2], num_threads="2"), "num_threads"),
    ("num_threads-zero-1d", lambda: F.convolve1d(_img(), [1, 2], num_threads=0), "num_threads"),
]


def _readonly(a):
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("call,argname", [c[1:] for c in BAD_FILTER_CALLS],
                         ids=[c[0] for c in BAD_FILTER_CALLS])
def test_bad_filter_arguments(call, argname):
    with pytest.raises((ValueError, TypeError), match=argname):
        call()


S = psig
BAD_SIGNAL_CALLS = [
    ("2d-mode", lambda: S.convolve2d(_img(), np.ones((3, 3)), mode="foo"), "mode"),
    ("2d-mode-corr", lambda: S.correlate2d(_img(), np.ones((3, 3)), mode="circular"), "mode"),
    ("2d-boundary", lambda: S.convolve2d(_img(), np.ones((3, 3)), boundary="reflect"), "boundary"),
    ("2d-boundary-corr", lambda: S.correlate2d(_img(), np.ones((3, 3)), boundary="foo"), "boundary"),
    ("2d-in1-1d", lambda: S.convolve2d(np.ones(5), np.ones((3, 3))), "in1"),
    ("2d-in1-3d", lambda: S.correlate2d(np.ones((4, 4, 4)), np.ones((3, 3))), "in1"),
    ("2d-in2-1d", lambda: S.convolve2d(_img(), np.ones(3)), "in2"),
    ("2d-in2-3d", lambda: S.correlate2d(_img(), np.ones((2, 2, 2))), "in2"),
    ("2d-fillvalue", lambda: S.convolve2d(_img(), np.ones((3, 3)), fillvalue="x"), "fillvalue"),
    ("nd-mode", lambda: S.convolve(_img(), np.ones((3, 3)), mode="foo"), "mode"),
    ("nd-mode-corr", lambda: S.correlate(_img(), np.ones((3, 3)), mode="circular"), "mode"),
    ("nd-ndim-mismatch", lambda: S.convolve(_img(), np.ones(3)), "in1|in2"),
    ("nd-ndim-mismatch-corr", lambda: S.correlate(np.ones(5), np.ones((3, 3))), "in1|in2"),
]


@pytest.mark.parametrize("call,argname", [c[1:] for c in BAD_SIGNAL_CALLS],
                         ids=[c[0] for c in BAD_SIGNAL_CALLS])
def test_bad_signal_arguments(call, argname):
    with pytest.raises((ValueError, TypeError), match=argname):
        call()


@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
def test_signal_valid_neither_larger(name):
    with pytest.raises(ValueError):
        getattr(psig, name)(np.ones((5, 3)), np.ones((3, 5)), mode="valid")


@pytest.mark.parametrize("name", ["correlate", "convolve", "correlate1d", "convolve1d"])
def test_error_before_any_work(name, rng):
    """A bad argument leaves `out` untouched."""
    image = rng.uniform(-1, 1, (6, 7))
    k = np.ones((3, 3)) if name in ("correlate", "convolve") else np.ones(3)
    out = np.full((6, 7), 7.0)
    with pytest.raises(ValueError, match="origin"):
        getattr(filters, name)(image, k, origin=5, out=out)
    with pytest.raises(ValueError, match="mode"):
        getattr(filters, name)(image, k, mode="bogus", out=out)
    np.testing.assert_array_equal(out, 7.0)
