"""Hardening (issue 8): a table-driven bad-input matrix over every public function.

Every public operation is described once (``OPS``: a valid call, the kind of each argument,
an independent reference).  From that table the cases are generated:

* wrong types for every argument (strings, None, lists of strings, complex, object arrays,
  dicts, floats where ints belong), wrong ndim, zero-size axes, empty kernels, zero/negative
  strides, dilations, groups, negative padding;
* every memory layout of every array argument (strided, negative strides, Fortran order,
  byte-swapped, read-only): the same numbers as the contiguous call, input unmodified;
* NaN and +-Inf in the data and in the kernel: the reference's NaN/Inf positions;
* ``out=`` of the wrong shape, dtype, type, read-only, or of another layout, or aliasing /
  overlapping the input: an error naming ``out`` or the right answer;
* huge values (stride 10**9 and 2**62, padding 10**12, kernels 10**6 long, sigma 1e9, outputs
  larger than any memory): run in a subprocess with an address-space limit, one case after
  the other, so that a crash, a hang or an attempt to allocate terabytes shows as a failure
  of that case instead of killing pytest.

Each case passes if the call raises TypeError/ValueError whose message names the argument,
MemoryError raised by pyconv itself before allocating (not numpy's "Unable to allocate"), or
returns the reference's answer; inputs are compared with a copy afterwards.

A memory test at the end checks peak memory against input + output + bounded scratch.
"""
import copy
import json
import os
import subprocess
import sys
import threading
import queue

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.sparse
import scipy.signal as ss

import pyconv
from pyconv import filters as PF
from pyconv import reference as R
from pyconv import shapes as SH
from pyconv import signal as PS
from _helpers import assert_close

try:  # skimage is a dependency of pyconv; the edge filters' reference
    import skimage.filters as skf
except ImportError:  # pragma: no cover
    skf = None

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
RNG = np.random.default_rng(20260808)


def _u(*shape):
    return np.round(RNG.uniform(-2, 2, shape), 3)


# ------------------------------------------------------------------------------------------
# references (scipy / scikit-image / numpy / pyconv.reference: never pyconv's kernels)


def _per_channel(fn, image, channel_axis, **kw):
    if channel_axis is None:
        return fn(image, **kw)
    ax = channel_axis % image.ndim
    return np.stack([fn(np.take(image, c, axis=ax), **kw) for c in range(image.shape[ax])],
                    axis=ax)


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def ref_nd(fn):
    def ref(a):
        return _per_channel(lambda im: fn(im, _f64(a["kernel"]), mode=a["mode"], cval=a["cval"],
                                          origin=a["origin"]),
                            _f64(a["image"]), a.get("channel_axis"))
    return ref


def ref_1d(fn):
    def ref(a):
        return fn(_f64(a["image"]), _f64(a["weights"]), axis=a["axis"], mode=a["mode"],
                  cval=a["cval"], origin=a["origin"])
    return ref


def ref_direct_1d(flip):
    """correlate1d / convolve1d as a plain sum over numpy.pad (every weight applied)."""
    from _helpers import PAD_MODES

    def ref(a):
        img, w = _f64(a["image"]), _f64(a["weights"])
        axis, origin = a["axis"] % img.ndim, a["origin"]
        if flip:
            w = w[::-1]
            origin = -origin - (1 - w.size % 2)
        k = w.size
        before = k // 2 + origin
        pads = [(0, 0)] * img.ndim
        pads[axis] = (before, k - 1 - before)
        mode = PAD_MODES[a["mode"]]
        extra = {"constant_values": a["cval"]} if mode == "constant" else {}
        p = np.pad(img, pads, mode=mode, **extra)
        n = img.shape[axis]
        out = np.zeros(img.shape)
        with np.errstate(invalid="ignore", over="ignore"):
            for j in range(k):
                out = out + w[j] * np.take(p, np.arange(j, j + n), axis=axis)
        return out
    return ref


def ref_sepfilter(a):
    def one(im):
        axes = range(im.ndim)
        for ax, k in zip(axes, a["kernels"]):
            if k is not None:
                im = ndi.correlate1d(im, _f64(k), axis=ax, mode=a["mode"], cval=a["cval"])
        return im
    return _per_channel(one, _f64(a["image"]), a.get("channel_axis"))


def ref_separate(a):
    return None  # checked by reconstruction in the layout test


def ref_edge(name):
    def ref(a):
        fn = getattr(skf, name)
        kw = {}
        if a.get("mask") is not None:
            kw["mask"] = np.asarray(a["mask"]).astype(bool)
        if "axis" in a:
            kw["axis"] = a["axis"]
            kw["mode"] = a["mode"]
            kw["cval"] = a["cval"]
        return _per_channel(lambda im: fn(im, **kw), _f64(a["image"]), a.get("channel_axis"))
    return ref


def ref_gaussian(a):
    return _per_channel(lambda im: ndi.gaussian_filter(im, a["sigma"], mode=a["mode"],
                                                       cval=a["cval"], truncate=a["truncate"]),
                        _f64(a["image"]), a.get("channel_axis"))


def ref_uniform(a):
    return _per_channel(lambda im: ndi.uniform_filter(im, a["size"], mode=a["mode"],
                                                      cval=a["cval"], origin=a["origin"]),
                        _f64(a["image"]), a.get("channel_axis"))


def ref_signal2d(fn):
    def ref(a):
        return fn(_f64(a["in1"]), _f64(a["in2"]), mode=a["mode"], boundary=a["boundary"],
                  fillvalue=a["fillvalue"])
    return ref


def ref_signal(fn):
    def ref(a):
        return fn(_f64(a["in1"]), _f64(a["in2"]), mode=a["mode"], method="direct")
    return ref


def ref_layer(fn, drop=("out", "num_threads")):
    def ref(a):
        kw = {k: v for k, v in a.items() if k not in drop}
        return fn(**kw)
    return ref


def ref_flattened(a):
    x = _f64(a["x"])
    cw, vw, hw = _f64(a["channel_weight"]), _f64(a["vertical_weight"]), _f64(a["horizontal_weight"])
    w = cw[:, :, None, None] * vw[:, None, :, None] * hw[:, None, None, :]
    return R.conv2d(x, w, a.get("bias"), padding=a.get("padding", 0))


def ref_shapes(name):
    # the shape functions are pure arithmetic: the right answer of a layout case is the
    # answer of the same call with plain Python ints
    return None


# ------------------------------------------------------------------------------------------
# the table of public operations


class Op:
    """One public function: a valid call (``make()``: ordered dict of arguments), the kind of
    each argument, which names may appear in an error about it, and the reference."""

    def __init__(self, name, fn, make, kinds, ref=None, data=None, kernel=None, names=None,
                 optional=(), rtol_f32=False):
        self.name, self.fn, self.make, self.kinds, self.ref = name, fn, make, kinds, ref
        self.data, self.kernel = data, kernel      # the image-like and kernel-like arguments
        self.names = names or {}                   # argument -> regex of acceptable names
        self.optional = set(optional)              # arguments that may be None

    def __repr__(self):
        return self.name

    def call(self, args):
        return self.fn(**args)

    def name_of(self, arg):
        return self.names.get(arg, arg)


def _filter_nd(name, fn, ref):
    return Op(name, fn, lambda: dict(image=_u(7, 8), kernel=_u(3, 2), mode="mirror", cval=0.5,
                                     origin=0, channel_axis=None, out=None, num_threads=None),
              dict(image="array", kernel="array", mode="mode", cval="real", origin="ints",
                   channel_axis="int?", out="out", num_threads="threads"),
              ref, data="image", kernel="kernel", optional=("channel_axis", "out",
                                                             "num_threads"))


def _filter_1d(name, fn, ref):
    return Op(name, fn, lambda: dict(image=_u(6, 7), weights=_u(3), axis=0, mode="nearest",
                                     cval=0.0, origin=0, out=None, num_threads=None),
              dict(image="array", weights="array", axis="int", mode="mode", cval="real",
                   origin="ints", out="out", num_threads="threads"),
              ref, data="image", kernel="weights", optional=("out", "num_threads"))


def _edge_op(name):
    fn = getattr(PF, name)
    if name.endswith(("_h", "_v")):
        return Op(name, fn, lambda: dict(image=_u(6, 7), mask=None, out=None, num_threads=None),
                  dict(image="array", mask="array?", out="out", num_threads="threads"),
                  ref_edge(name) if skf else None, data="image",
                  optional=("mask", "out", "num_threads"))
    return Op(name, fn, lambda: dict(image=_u(6, 7), mask=None, axis=None, mode="reflect",
                                     cval=0.0, channel_axis=None, out=None, num_threads=None),
              dict(image="array", mask="array?", axis="int?", mode="mode", cval="real",
                   channel_axis="int?", out="out", num_threads="threads"),
              ref_edge(name) if skf else None, data="image",
              optional=("mask", "axis", "channel_axis", "out", "num_threads"))


def _layer(name, fn, reffn, nsp, transpose=False):
    size = (7, 6, 5)[:nsp]
    k = (3, 2, 2)[:nsp]
    if transpose:
        def make():
            return dict(x=_u(2, 4, *size), weight=_u(4, 3, *k), bias=_u(6), stride=2,
                        padding=1, output_padding=1, groups=2, dilation=1, out=None,
                        num_threads=None)
        kinds = dict(x="array", weight="array", bias="array?", stride="pos", padding="nonneg",
                     output_padding="nonneg", groups="pos1", dilation="pos", out="out",
                     num_threads="threads")
    else:
        def make():
            return dict(x=_u(2, 4, *size), weight=_u(6, 2, *k), bias=_u(6), stride=1,
                        padding=1, dilation=1, groups=2, padding_mode="zeros", out=None,
                        num_threads=None)
        kinds = dict(x="array", weight="array", bias="array?", stride="pos", padding="pad",
                     dilation="pos", groups="pos1", padding_mode="mode", out="out",
                     num_threads="threads")
    return Op(name, fn, make, kinds, ref_layer(reffn), data="x", kernel="weight",
              optional=("bias", "out", "num_threads"))


OPS = [
    _filter_nd("filters.correlate", PF.correlate, ref_nd(ndi.correlate)),
    _filter_nd("filters.convolve", PF.convolve, ref_nd(ndi.convolve)),
    _filter_1d("filters.correlate1d", PF.correlate1d, ref_1d(ndi.correlate1d)),
    _filter_1d("filters.convolve1d", PF.convolve1d, ref_1d(ndi.convolve1d)),
    Op("filters.sepfilter", PF.sepfilter,
       lambda: dict(image=_u(6, 7), kernels=[_u(3), _u(2)], mode="wrap", cval=0.0, origin=0,
                    channel_axis=None, out=None, num_threads=None),
       dict(image="array", kernels="kernels", mode="mode", cval="real", origin="ints",
            channel_axis="int?", out="out", num_threads="threads"),
       ref_sepfilter, data="image", optional=("channel_axis", "out", "num_threads"),
       names={"kernels": r"kernels"}),
    Op("filters.separate", PF.separate, lambda: dict(kernel=np.outer(_u(3), _u(4)), rtol=None),
       dict(kernel="array", rtol="real?"), None, data="kernel", optional=("rtol",)),
] + [_edge_op(n) for n in ("sobel", "scharr", "prewitt", "sobel_h", "sobel_v", "scharr_h",
                           "scharr_v", "prewitt_h", "prewitt_v")] + [
    Op("filters.gaussian", PF.gaussian,
       lambda: dict(image=_u(7, 6), sigma=1.2, mode="nearest", cval=0.0, truncate=3.0,
                    channel_axis=None, out=None, num_threads=None),
       dict(image="array", sigma="reals", mode="mode", cval="real", truncate="real",
            channel_axis="int?", out="out", num_threads="threads"),
       ref_gaussian, data="image", optional=("channel_axis", "out", "num_threads")),
    Op("filters.uniform", PF.uniform,
       lambda: dict(image=_u(7, 6), size=3, mode="reflect", cval=0.0, origin=0,
                    channel_axis=None, out=None, num_threads=None),
       dict(image="array", size="pos", mode="mode", cval="real", origin="ints",
            channel_axis="int?", out="out", num_threads="threads"),
       ref_uniform, data="image", optional=("channel_axis", "out", "num_threads")),
    Op("signal.convolve2d", PS.convolve2d,
       lambda: dict(in1=_u(6, 7), in2=_u(3, 2), mode="same", boundary="symm", fillvalue=0.0,
                    num_threads=None),
       dict(in1="array", in2="array", mode="smode", boundary="mode", fillvalue="real",
            num_threads="threads"),
       ref_signal2d(ss.convolve2d), data="in1", kernel="in2", optional=("num_threads",)),
    Op("signal.correlate2d", PS.correlate2d,
       lambda: dict(in1=_u(6, 7), in2=_u(2, 3), mode="full", boundary="fill", fillvalue=1.5,
                    num_threads=None),
       dict(in1="array", in2="array", mode="smode", boundary="mode", fillvalue="real",
            num_threads="threads"),
       ref_signal2d(ss.correlate2d), data="in1", kernel="in2", optional=("num_threads",)),
    Op("signal.convolve", PS.convolve,
       lambda: dict(in1=_u(5, 6, 4), in2=_u(2, 3, 2), mode="full", num_threads=None),
       dict(in1="array", in2="array", mode="smode", num_threads="threads"),
       ref_signal(ss.convolve), data="in1", kernel="in2", optional=("num_threads",)),
    Op("signal.correlate", PS.correlate,
       lambda: dict(in1=_u(9), in2=_u(4), mode="valid", num_threads=None),
       dict(in1="array", in2="array", mode="smode", num_threads="threads"),
       ref_signal(ss.correlate), data="in1", kernel="in2", optional=("num_threads",)),
    _layer("conv1d", pyconv.conv1d, R.conv1d, 1),
    _layer("conv2d", pyconv.conv2d, R.conv2d, 2),
    _layer("conv3d", pyconv.conv3d, R.conv3d, 3),
    _layer("conv_transpose1d", pyconv.conv_transpose1d, R.conv_transpose1d, 1, True),
    _layer("conv_transpose2d", pyconv.conv_transpose2d, R.conv_transpose2d, 2, True),
    _layer("conv_transpose3d", pyconv.conv_transpose3d, R.conv_transpose3d, 3, True),
    Op("depthwise_conv2d", pyconv.depthwise_conv2d,
       lambda: dict(x=_u(2, 3, 7, 6), weight=_u(6, 1, 3, 2), bias=_u(6), stride=(2, 1),
                    padding=1, dilation=1, padding_mode="reflect", out=None, num_threads=None),
       dict(x="array", weight="array", bias="array?", stride="pos", padding="pad",
            dilation="pos", padding_mode="mode", out="out", num_threads="threads"),
       ref_layer(R.depthwise_conv2d), data="x", kernel="weight",
       optional=("bias", "out", "num_threads")),
    Op("separable_conv2d", pyconv.separable_conv2d,
       lambda: dict(x=_u(2, 3, 7, 6), depthwise_weight=_u(6, 1, 3, 3),
                    pointwise_weight=_u(4, 6, 1, 1), bias=_u(4), stride=1, padding=1,
                    dilation=(1, 2), padding_mode="zeros", out=None, num_threads=None),
       dict(x="array", depthwise_weight="array", pointwise_weight="array", bias="array?",
            stride="pos", padding="pad", dilation="pos", padding_mode="mode", out="out",
            num_threads="threads"),
       ref_layer(R.separable_conv2d), data="x", kernel="depthwise_weight",
       optional=("bias", "out", "num_threads")),
    Op("channel_shuffle", pyconv.channel_shuffle,
       lambda: dict(x=_u(2, 6, 3, 2), groups=3), dict(x="array", groups="pos1"),
       ref_layer(R.channel_shuffle), data="x"),
    Op("flattened_conv2d", pyconv.flattened_conv2d,
       lambda: dict(x=_u(2, 3, 6, 7), channel_weight=_u(4, 3), vertical_weight=_u(4, 3),
                    horizontal_weight=_u(4, 2), bias=_u(4), padding=(1, 0), num_threads=None),
       dict(x="array", channel_weight="array", vertical_weight="array",
            horizontal_weight="array", bias="array?", padding="nonneg", num_threads="threads"),
       ref_flattened, data="x", kernel="vertical_weight", optional=("bias", "num_threads")),
    Op("shapes.conv_output_shape", SH.conv_output_shape,
       lambda: dict(size=(9, 8), kernel_size=3, stride=2, padding=1, dilation=1),
       dict(size="pos", kernel_size="pos", stride="pos", padding="pad", dilation="pos")),
    Op("shapes.conv_transpose_output_shape", SH.conv_transpose_output_shape,
       lambda: dict(size=(4, 5), kernel_size=3, stride=2, padding=1, output_padding=1,
                    dilation=1),
       dict(size="pos", kernel_size="pos", stride="pos", padding="nonneg",
            output_padding="nonneg", dilation="pos")),
    Op("shapes.param_count", SH.param_count,
       lambda: dict(in_channels=4, out_channels=6, kernel_size=(3, 3), groups=2, bias=True),
       dict(in_channels="pos1", out_channels="pos1", kernel_size="pos", groups="pos1",
            bias="bool")),
    Op("shapes.flops", SH.flops,
       lambda: dict(in_channels=4, out_channels=6, kernel_size=3, output_size=(5, 4), groups=2,
                    bias=False),
       dict(in_channels="pos1", out_channels="pos1", kernel_size="pos", output_size="pos",
            groups="pos1", bias="bool")),
    Op("shapes.receptive_field", SH.receptive_field,
       lambda: dict(layers=[(3, 2), {"kernel_size": 3, "dilation": 2}]), dict(layers="layers")),
    Op("shapes.conv_matrix", SH.conv_matrix,
       lambda: dict(size=(5, 4), kernel=_u(3, 2), stride=1, padding=1, dilation=1),
       dict(size="pos", kernel="array", stride="pos", padding="pad", dilation="pos"),
       data="kernel"),
    Op("shapes.overlap_map", SH.overlap_map,
       lambda: dict(size=(3, 4), kernel_size=3, stride=2, padding=0, dilation=1,
                    output_padding=1),
       dict(size="pos", kernel_size="pos", stride="pos", padding="nonneg", dilation="pos",
            output_padding="nonneg")),
]
OP = {op.name: op for op in OPS}
ARRAY_OPS = [op for op in OPS if op.data is not None]


def test_table_covers_the_public_api():
    """Every public callable of pyconv, pyconv.filters, pyconv.signal and pyconv.shapes has an
    entry (or is a thread/config helper tested elsewhere)."""
    names = {op.name for op in OPS}
    elsewhere = {"get_num_threads", "set_num_threads", "num_threads", "show_config", "verify"}
    for mod, prefix in ((pyconv, ""), (PF, "filters."), (PS, "signal."), (SH, "shapes.")):
        for n in mod.__all__:
            if callable(getattr(mod, n)) and n not in elsewhere and not isinstance(
                    getattr(mod, n), type(pyconv)):
                key = prefix + n
                if prefix == "filters." and n in {"sobel", "scharr", "prewitt", "sobel_h",
                                                  "sobel_v", "scharr_h", "scharr_v",
                                                  "prewitt_h", "prewitt_v"}:
                    key = n
                assert key in names, key


# ------------------------------------------------------------------------------------------
# the checker


def _snapshot(args):
    return {k: copy.deepcopy(v) for k, v in args.items()}


def _same(a, b):
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y)
                                                               for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k])
                                                                    for k in a)
    if scipy.sparse.issparse(a):   # their == is elementwise (and warns): compare entries
        return (scipy.sparse.issparse(b) and a.shape == b.shape and a.dtype == b.dtype
                and (a != b).nnz == 0)
    if type(a).__eq__ is object.__eq__:  # plain objects: deepcopy makes a new one
        return type(a) is type(b)
    try:
        return bool(a == b) or a is b
    except Exception:  # objects without a usable ==
        return type(a) is type(b)


def _names_re(op, names):
    return "|".join(op.name_of(n) for n in names)


def check_call(op, args, names, *, answer=None, allow_answer=True, modifies=()):
    """Run ``op`` on ``args``.  Passes on: TypeError/ValueError naming one of ``names``;
    MemoryError raised by pyconv before allocating; or (if allow_answer) a result equal to
    ``answer()``.  Inputs other than those in ``modifies`` must be unchanged."""
    import re
    before = _snapshot(args)
    try:
        got = op.call(args)
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        assert re.search(_names_re(op, names), msg), \
            "%s: %s(%r) does not name %s" % (op, type(exc).__name__, msg, "/".join(names))
        got = exc
    except MemoryError as exc:
        assert not str(exc).startswith("Unable to allocate"), \
            "%s: an allocation was attempted instead of refused up front: %s" % (op, exc)
        got = exc
    else:
        assert allow_answer, "%s accepted invalid arguments and returned %r" % (
            op, type(got).__name__)
        if answer is not None:
            expect = answer()
            if isinstance(expect, np.ndarray) and expect.dtype.kind == "f":
                assert isinstance(got, np.ndarray), type(got)
                assert_close(got, expect, got.dtype, 9, what=op.name,
                             scale=float(np.abs(expect[np.isfinite(expect)]).max(initial=1.0)))
            else:
                assert _same(got, expect), (got, expect)
    for k, v in before.items():
        if k not in modifies:
            assert _same(args[k], v), "%s modified its argument %s" % (op, k)
    return got


# ------------------------------------------------------------------------------------------
# 1. wrong types for every argument


class _Obj:
    pass


def _bad_values(kind, optional):
    """(label, value) pairs that are invalid for an argument of this kind."""
    common = [("str", "abc"), ("liststr", ["a", "b"]), ("complex", 1 + 2j), ("object", _Obj()),
              ("dict", {"a": 1})]
    if not optional:
        common.append(("None", None))
    if kind in ("array", "array?"):
        return common + [("complexarr", np.ones((3, 3), np.complex128)),
                         ("objectarr", np.array([[1.0, None], [2.0, 3.0]], dtype=object)),
                         ("strarr", np.array([["1", "2"], ["3", "4"]])),
                         ("nested-str", [["a", "b"], ["c", "d"]]),
                         ("ragged", [[1.0, 2.0], [3.0]])]
    if kind == "kernels":
        return common + [("list-of-str", ["abc", "def"]), ("complexarr", [np.ones(3, complex),
                                                                          None])]
    if kind in ("int", "int?", "pos", "pos1", "nonneg", "pad", "ints", "threads"):
        vals = common + [("float", 1.5), ("npfloat", np.float64(2.0)),
                         ("listfloat", [1.5, 2.5])]
        if kind == "pad":  # strings 'same'/'valid' are valid padding; other strings are not
            vals = [v for v in vals if v[0] != "str"] + [("badstr", "full")]
        if kind in ("threads", "pos1", "int", "int?"):  # only a scalar int is valid
            vals.append(("bool", True))
        return vals
    if kind in ("real", "real?", "reals"):
        return [v for v in common if v[0] not in ("dict",)] + [("complexnp", np.complex64(1))]
    if kind in ("mode", "smode"):
        return [("int", 3), ("bytes", b"reflect"), ("bogus", "bogus"), ("object", _Obj())] + \
            ([] if optional else [("None", None)])
    if kind == "out":
        return [("str", "abc"), ("list", [[0.0] * 3] * 3), ("float", 3.0), ("object", _Obj())]
    if kind == "bool":
        return [("str", "abc"), ("None", None), ("int", 1), ("complex", 1j)]
    if kind == "layers":
        return [("str", "abc"), ("None", None), ("int", 3), ("dict", {"kernel_size": 3}),
                ("nokernel", [{"stride": 2}]), ("long", [(1, 2, 3, 4)]),
                ("strkernel", [{"kernel_size": "3"}]), ("listofstr", ["ab", "cd"])]
    raise AssertionError(kind)


TYPE_CASES = [(op, arg, label, val) for op in OPS for arg, kind in op.kinds.items()
              for label, val in _bad_values(kind, arg in op.optional)]


@pytest.mark.parametrize("op,arg,label,value", TYPE_CASES,
                         ids=["%s-%s-%s" % (c[0].name, c[1], c[2]) for c in TYPE_CASES])
def test_wrong_type(op, arg, label, value):
    args = op.make()
    args[arg] = value
    # an error must name the argument (or, for kernels lists, the entry kernels[i])
    check_call(op, args, [arg], allow_answer=False)


def test_valid_calls_match_reference():
    """The table's valid calls themselves give the reference's answer."""
    for op in OPS:
        args = op.make()
        got = op.call(args)
        if op.ref is not None:
            assert_close(got, op.ref(args), F64, 9, what=op.name)


# ------------------------------------------------------------------------------------------
# 2. wrong ndim, zero-size axes, empty kernels, bad geometry values


def _shape_cases():
    cases = []
    for op in OPS:
        for arg, kind in op.kinds.items():
            if kind not in ("array", "array?"):
                continue
            base = np.asarray(op.make()[arg])
            variants = [("0d", np.float64(1.5)), ("ndim+1", base[..., None].repeat(2, -1)),
                        ("ndim+3", base.reshape(base.shape + (1, 1, 1))),
                        ("empty", np.zeros((0,) + base.shape[1:])),
                        ("empty-last", np.zeros(base.shape[:-1] + (0,))),
                        ("emptylist", [])]
            if base.ndim > 1:
                variants.append(("ndim-1", base[0]))
            for label, val in variants:
                cases.append((op, arg, label, val))
    return cases


SHAPE_CASES = _shape_cases()
# shape changes that are valid calls with a well-defined answer (the reference decides)
VALID_SHAPES = {
    # an unbatched input and a batch of zero images are valid for the layers
    ("conv1d", "x", "ndim-1"), ("conv2d", "x", "ndim-1"), ("conv3d", "x", "ndim-1"),
    ("conv_transpose1d", "x", "ndim-1"), ("conv_transpose2d", "x", "ndim-1"),
    ("conv_transpose3d", "x", "ndim-1"), ("depthwise_conv2d", "x", "ndim-1"),
    ("separable_conv2d", "x", "ndim-1"), ("flattened_conv2d", "x", "ndim-1"),
    ("channel_shuffle", "x", "ndim-1"), ("channel_shuffle", "x", "ndim+1"),
    ("channel_shuffle", "x", "ndim+3"), ("channel_shuffle", "x", "empty"),
    ("channel_shuffle", "x", "empty-last"),
    ("conv1d", "x", "empty"), ("conv2d", "x", "empty"), ("conv3d", "x", "empty"),
    ("conv_transpose1d", "x", "empty"), ("conv_transpose2d", "x", "empty"),
    ("conv_transpose3d", "x", "empty"), ("depthwise_conv2d", "x", "empty"),
    ("separable_conv2d", "x", "empty"), ("flattened_conv2d", "x", "empty"),
    # 1-D filters take any ndim; n-D filters 1-3 spatial dims with a matching kernel
    ("filters.correlate1d", "image", "ndim+1"), ("filters.convolve1d", "image", "ndim+1"),
    ("filters.correlate1d", "image", "ndim+3"), ("filters.convolve1d", "image", "ndim+3"),
    ("filters.correlate1d", "image", "ndim-1"), ("filters.convolve1d", "image", "ndim-1"),
    ("filters.separate", "kernel", "ndim+1"), ("filters.separate", "kernel", "ndim-1"),
    ("filters.gaussian", "image", "ndim+1"), ("filters.gaussian", "image", "ndim-1"),
    ("filters.uniform", "image", "ndim+1"), ("filters.uniform", "image", "ndim-1"),
    ("sobel", "image", "ndim+1"), ("sobel", "image", "ndim-1"),
    ("scharr", "image", "ndim+1"), ("scharr", "image", "ndim-1"),
    ("prewitt", "image", "ndim+1"), ("prewitt", "image", "ndim-1"),
    ("shapes.conv_matrix", "kernel", "ndim-1"),
}
SHAPE_NAMES = {  # an ndim/size error may name the partner argument of a mismatch
    "image": ["image", "kernel", "weights", "mask", "kernels"],
    "kernel": ["kernel", "image", "size"], "weights": ["weights", "image"],
    "in1": ["in1", "in2"], "in2": ["in1", "in2"],
    "x": ["x", "weight", "channel_weight", "depthwise_weight", "output", "channels"],
    "weight": ["weight", "x"], "bias": ["bias"], "mask": ["mask", "image"],
    "depthwise_weight": ["depthwise_weight", "pointwise_weight", "x"],
    "pointwise_weight": ["pointwise_weight", "depthwise_weight"],
    "channel_weight": ["channel_weight", "x"], "vertical_weight": ["vertical_weight"],
    "horizontal_weight": ["horizontal_weight"],
}


def _answer_for(op, args):
    if op.ref is None:
        return None
    return lambda: op.ref(args)


@pytest.mark.parametrize("op,arg,label,value", SHAPE_CASES,
                         ids=["%s-%s-%s" % (c[0].name, c[1], c[2]) for c in SHAPE_CASES])
def test_wrong_ndim_and_empty(op, arg, label, value):
    args = op.make()
    args[arg] = value
    valid = (op.name, arg, label) in VALID_SHAPES
    if op.name == "filters.separate" and valid:
        res = check_call(op, args, [arg])
        if isinstance(res, list):
            k = np.asarray(value, np.float64)
            rec = res[0]
            for f in res[1:]:
                rec = np.multiply.outer(rec, f)
            np.testing.assert_allclose(rec, k, atol=1e-12)
        return
    check_call(op, args, SHAPE_NAMES.get(arg, [arg]), answer=_answer_for(op, args),
               allow_answer=valid)


def _value_cases():
    """Out-of-range geometry and counts: (op, overrides, names, valid)."""
    c = []
    layers = ["conv1d", "conv2d", "conv3d", "depthwise_conv2d", "separable_conv2d"]
    trans = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
    for n in layers + trans:
        for v in (0, -1, -(10 ** 9)):
            c.append((n, {"stride": v}, ["stride"]))
            c.append((n, {"dilation": v}, ["dilation"]))
        c.append((n, {"padding": -1}, ["padding"]))
        c.append((n, {"stride": (1, 1, 1, 1)}, ["stride"]))
        c.append((n, {"padding": (1, 1, 1, 1)}, ["padding"]))
        c.append((n, {"num_threads": 0}, ["num_threads"]))
        c.append((n, {"num_threads": -(10 ** 6)}, ["num_threads"]))
    for n in ["conv1d", "conv2d", "conv3d"] + trans:
        c.append((n, {"groups": 0}, ["groups"]))
        c.append((n, {"groups": -2}, ["groups"]))
        c.append((n, {"groups": 3}, ["groups"]))
        c.append((n, {"bias": np.ones(5)}, ["bias"]))
    for n in trans:
        c.append((n, {"output_padding": -1}, ["output_padding"]))
        c.append((n, {"output_padding": 2}, ["output_padding"]))
        c.append((n, {"padding": "same"}, ["padding"]))
        c.append((n, {"padding": 10 ** 6}, ["padding"]))
    for n in layers:
        c.append((n, {"padding": "same", "stride": 2}, ["padding", "stride"]))
        c.append((n, {"padding_mode": "reflect", "padding": 50}, ["padding"]))
        c.append((n, {"padding_mode": "circular", "padding": 50}, ["padding"]))
        c.append((n, {"dilation": 50}, ["kernel", "dilation", "padding"]))
    c.append(("channel_shuffle", {"groups": 4}, ["groups"]))
    c.append(("channel_shuffle", {"groups": 0}, ["groups"]))
    c.append(("channel_shuffle", {"groups": -3}, ["groups"]))
    for n in ("filters.correlate", "filters.convolve", "filters.correlate1d",
              "filters.convolve1d", "filters.sepfilter", "filters.uniform"):
        c.append((n, {"origin": 5}, ["origin"]))
        c.append((n, {"origin": -5}, ["origin"]))
        c.append((n, {"origin": 10 ** 30}, ["origin"]))
        c.append((n, {"mode": ["reflect"] * 5}, ["mode"]))
        c.append((n, {"num_threads": 0}, ["num_threads"]))
        c.append((n, {"cval": 10 ** 400}, ["cval"]))
    for n in ("filters.correlate", "filters.convolve", "filters.sepfilter", "filters.gaussian",
              "filters.uniform", "sobel", "scharr", "prewitt"):
        c.append((n, {"channel_axis": 2}, ["channel_axis"]))
        c.append((n, {"channel_axis": -3}, ["channel_axis"]))
        c.append((n, {"channel_axis": 10 ** 30}, ["channel_axis"]))
    for n in ("filters.correlate1d", "filters.convolve1d"):
        c.append((n, {"axis": 2}, ["axis"]))
        c.append((n, {"axis": -3}, ["axis"]))
        c.append((n, {"axis": 2 ** 63}, ["axis"]))
    for n in ("sobel", "scharr", "prewitt"):
        c.append((n, {"axis": 5}, ["axis"]))
        c.append((n, {"axis": []}, ["axis"]))
        c.append((n, {"mask": np.ones((2, 2))}, ["mask"]))
    for n in ("sobel_h", "scharr_v"):
        c.append((n, {"image": _u(4, 5, 3)}, ["image"]))
        c.append((n, {"mask": np.ones((3, 3))}, ["mask"]))
    c.append(("filters.gaussian", {"sigma": -1.0}, ["sigma"]))
    c.append(("filters.gaussian", {"sigma": float("nan")}, ["sigma"]))
    c.append(("filters.gaussian", {"sigma": float("inf")}, ["sigma"]))
    c.append(("filters.gaussian", {"sigma": [1.0, 2.0, 3.0]}, ["sigma"]))
    c.append(("filters.gaussian", {"truncate": -1.0}, ["truncate"]))
    c.append(("filters.gaussian", {"truncate": float("nan")}, ["truncate"]))
    c.append(("filters.gaussian", {"cval": 10 ** 400}, ["cval"]))
    c.append(("filters.uniform", {"size": 0}, ["size"]))
    c.append(("filters.uniform", {"size": -3}, ["size"]))
    c.append(("filters.uniform", {"size": (3, 3, 3)}, ["size"]))
    c.append(("filters.separate", {"rtol": -1.0}, ["rtol"]))
    c.append(("filters.separate", {"rtol": float("nan")}, ["rtol"]))
    c.append(("filters.sepfilter", {"kernels": [_u(3)]}, ["kernels"]))
    c.append(("filters.sepfilter", {"kernels": [_u(3), _u(2, 2)]}, ["kernels"]))
    c.append(("filters.sepfilter", {"kernels": [[], _u(2)]}, ["kernels"]))
    for n in ("signal.convolve2d", "signal.correlate2d"):
        c.append((n, {"mode": "valid", "in1": _u(5, 3), "in2": _u(3, 5)}, ["in1", "in2"]))
        c.append((n, {"fillvalue": 10 ** 400}, ["fillvalue"]))
        c.append((n, {"boundary": "reflect"}, ["boundary"]))
    for n in ("signal.convolve", "signal.correlate"):
        c.append((n, {"in1": _u(3, 3), "in2": _u(3)}, ["in1", "in2"]))
        c.append((n, {"in1": _u(2, 2, 2, 2), "in2": _u(1, 1, 1, 1)}, ["in1", "in2"]))
    c.append(("flattened_conv2d", {"padding": -1}, ["padding"]))
    c.append(("flattened_conv2d", {"padding": 10 ** 30}, ["padding"]))
    c.append(("flattened_conv2d", {"vertical_weight": _u(4, 30)}, ["vertical_weight",
                                                                    "output", "padding"]))
    c.append(("flattened_conv2d", {"channel_weight": _u(4, 5)}, ["channel_weight"]))
    c.append(("flattened_conv2d", {"bias": _u(3)}, ["bias"]))
    for n in ("shapes.conv_output_shape", "shapes.conv_transpose_output_shape",
              "shapes.overlap_map"):
        c.append((n, {"stride": 0}, ["stride"]))
        c.append((n, {"dilation": -1}, ["dilation"]))
        c.append((n, {"size": 0}, ["size"]))
        c.append((n, {"kernel_size": 0}, ["kernel_size"]))
        c.append((n, {"padding": -1}, ["padding"]))
        c.append((n, {"size": (1, 2, 3), "kernel_size": (3, 3)},
                  ["size", "kernel_size", "stride", "padding", "dilation", "output_padding"]))
        c.append((n, {"size": ()}, ["size"]))
    c.append(("shapes.param_count", {"groups": 3}, ["groups"]))
    c.append(("shapes.param_count", {"in_channels": 0}, ["in_channels"]))
    c.append(("shapes.param_count", {"kernel_size": ()}, ["kernel_size"]))
    c.append(("shapes.flops", {"output_size": 0}, ["output_size"]))
    c.append(("shapes.flops", {"output_size": (5, 4, 3), "kernel_size": (3, 3)},
              ["output_size", "kernel_size"]))
    c.append(("shapes.receptive_field", {"layers": [(0,)]}, ["layers"]))
    c.append(("shapes.receptive_field", {"layers": [{"kernel_size": 3, "foo": 1}]}, ["layers"]))
    c.append(("shapes.conv_matrix", {"kernel": _u(3)}, ["kernel"]))
    c.append(("shapes.conv_matrix", {"size": (5, 4, 3, 2), "kernel": _u(1, 1, 1, 1)},
              ["size", "kernel"]))
    return c


VALUE_CASES = _value_cases()


@pytest.mark.parametrize("name,over,names", VALUE_CASES,
                         ids=["%s-%s" % (c[0], "-".join("%s=%.20s" % kv for kv in c[1].items()))
                              for c in VALUE_CASES])
def test_bad_values(name, over, names):
    op = OP[name]
    args = op.make()
    args.update(over)
    check_call(op, args, names, allow_answer=False)


# ------------------------------------------------------------------------------------------
# 3. memory layouts of every array argument: same numbers, input unmodified


def _layouts(a):
    a = np.asarray(a)
    nd = a.ndim
    big = np.zeros(tuple(2 * s + 1 for s in a.shape), a.dtype)
    big[(slice(1, None, 2),) * nd] = a
    rev = np.ascontiguousarray(a[(slice(None, None, -1),) * nd])
    ro = a.copy()
    ro.setflags(write=False)
    sw = a.astype(a.dtype.newbyteorder("S"))
    out = {"strided": big[(slice(1, None, 2),) * nd], "negative": rev[(slice(None, None, -1),) * nd],
           "fortran": np.asfortranarray(a), "byteswapped": sw, "readonly": ro,
           "float32": a.astype(np.float32), "int": np.round(a * 10).astype(np.int32)}
    return out


LAYOUT_CASES = [(op, arg, lname) for op in OPS for arg, kind in op.kinds.items()
                if kind in ("array", "array?") and op.make()[arg] is not None
                for lname in ("strided", "negative", "fortran", "byteswapped", "readonly")]


@pytest.mark.parametrize("op,arg,lname", LAYOUT_CASES,
                         ids=["%s-%s-%s" % (c[0].name, c[1], c[2]) for c in LAYOUT_CASES])
def test_layouts(op, arg, lname):
    args = op.make()
    expect = op.call(copy.deepcopy(args))
    args[arg] = _layouts(args[arg])[lname]
    before = _snapshot(args)
    got = op.call(args)
    for k, v in before.items():
        assert _same(args[k], v), "%s modified %s (%s)" % (op, k, lname)
    if op.name == "filters.separate":
        for g, e in zip(got, expect):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
        return
    if isinstance(expect, np.ndarray):
        assert got.dtype == expect.dtype and got.dtype.isnative, (got.dtype, expect.dtype)
        np.testing.assert_array_equal(got, expect, err_msg="%s %s %s" % (op, arg, lname))
    else:
        assert _same(got, expect)


@pytest.mark.parametrize("op", [op for op in ARRAY_OPS if op.ref is not None], ids=repr)
@pytest.mark.parametrize("dtype", ["float32", "int"])
def test_dtypes_against_reference(op, dtype):
    """float32 and integer data through every operation: the reference's numbers."""
    args = op.make()
    args[op.data] = _layouts(args[op.data])[dtype]
    got = op.call(args)
    exp_dt = F32 if dtype == "float32" else F64
    others = [v for k, v in args.items() if k != op.data]
    others += [k for k in args.get("kernels") or [] if k is not None]
    if any(isinstance(v, np.ndarray) and v.dtype == F64 for v in others):
        exp_dt = F64  # a float64 ndarray kernel or weight widens the result
    if op.name == "channel_shuffle":  # a permutation: keeps the input dtype (documented)
        exp_dt = args["x"].dtype
    assert got.dtype == exp_dt, (got.dtype, exp_dt)
    ref = op.ref({k: (np.asarray(v, np.float64) if isinstance(v, np.ndarray) else v)
                  for k, v in args.items()})
    assert_close(got, ref, got.dtype, 9, what=op.name,
                 scale=float(np.abs(ref).max()) * 4)


# ------------------------------------------------------------------------------------------
# 4. NaN and Inf: the reference's positions


def _torch_ref(op):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    name = op.name

    def ref(a):
        t = {k: (torch.from_numpy(np.asarray(v, np.float64)) if isinstance(v, np.ndarray) else v)
             for k, v in a.items()}
        if name.startswith("conv_transpose"):
            fn = getattr(F, name)
            return fn(t["x"], t["weight"], t["bias"], t["stride"], t["padding"],
                      t["output_padding"], t["groups"], t["dilation"]).numpy()
        if name.startswith("conv"):
            pm = a["padding_mode"]
            assert pm == "zeros"
            return getattr(F, name)(t["x"], t["weight"], t["bias"], t["stride"], t["padding"],
                                    t["dilation"], t["groups"]).numpy()
        if name == "depthwise_conv2d":
            x = F.pad(t["x"], (1, 1, 1, 1), mode="reflect")
            return F.conv2d(x, t["weight"], t["bias"], t["stride"], 0, t["dilation"],
                            groups=a["x"].shape[1]).numpy()
        if name == "separable_conv2d":
            mid = F.conv2d(t["x"], t["depthwise_weight"], None, t["stride"], t["padding"],
                           t["dilation"], groups=a["x"].shape[1])
            return F.conv2d(mid, t["pointwise_weight"], t["bias"]).numpy()
        if name == "flattened_conv2d":
            ph, pw = a["padding"]
            o = a["channel_weight"].shape[0]
            y = F.conv2d(t["x"], t["channel_weight"][:, :, None, None])
            y = F.conv2d(y, t["vertical_weight"][:, None, :, None], padding=(ph, 0), groups=o)
            return F.conv2d(y, t["horizontal_weight"][:, None, None, :], padding=(0, pw),
                            groups=o).numpy() + a["bias"][:, None, None]
        raise AssertionError(name)
    return ref


NONFINITE_OPS = [op for op in ARRAY_OPS if op.ref is not None and op.name not in
                 ("channel_shuffle",)]


@pytest.mark.parametrize("op", NONFINITE_OPS, ids=repr)
@pytest.mark.parametrize("where", ["data", "kernel"])
def test_nan_inf_positions(op, where):
    arg = op.data if where == "data" else op.kernel
    if arg is None:
        pytest.skip("no kernel argument")
    args = op.make()
    a = np.array(args[arg], dtype=np.float64)
    flat = a.reshape(-1)
    idx = np.random.default_rng(len(op.name)).permutation(flat.size)
    flat[idx[0]] = np.nan
    if flat.size > 2:
        flat[idx[1]] = np.inf
        flat[idx[2]] = -np.inf
    args[arg] = a
    nn_op = not op.name.startswith(("filters.", "signal.", "sobel", "scharr", "prewitt"))
    ref = _torch_ref(op) if nn_op else op.ref
    if op.name in ("filters.correlate1d", "filters.convolve1d") and where == "kernel":
        # scipy's correlate1d takes its symmetric-kernel shortcut when a NaN weight makes
        # the symmetry test (a comparison with NaN) fail to say "not symmetric"; every weight
        # is applied, so the direct sum is the reference here
        ref = ref_direct_1d(op.name == "filters.convolve1d")
    with np.errstate(invalid="ignore", over="ignore"):
        expect = ref(copy.deepcopy(args))
    got = check_call(op, args, [], answer=None)
    assert_close(got, expect, F64, 9, what="%s non-finite %s" % (op, arg))


# ------------------------------------------------------------------------------------------
# 5. out=


OUT_OPS = [op for op in OPS if "out" in op.kinds]


def _out_variants(shape, dt):
    dt = np.dtype(dt)
    other = F32 if dt == F64 else F64
    big = np.zeros(tuple(2 * s for s in shape), dt)
    sw = np.zeros(shape, dt.newbyteorder("S"))
    ro = np.zeros(shape, dt)
    ro.setflags(write=False)
    return {
        "shape": (np.zeros(shape[:-1] + (shape[-1] + 1,), dt), False),
        "ndim": (np.zeros(shape + (1,), dt), False),
        "flat": (np.zeros(int(np.prod(shape)), dt), False),
        "dtype": (np.zeros(shape, other), False),
        "int": (np.zeros(shape, np.int64), False),
        "complex": (np.zeros(shape, np.complex128), False),
        "readonly": (ro, False),
        "byteswapped": (sw, True),
        "strided": (big[(slice(None, None, 2),) * len(shape)], True),
        "fortran": (np.asfortranarray(np.zeros(shape, dt)), True),
        "negative": (np.zeros(shape, dt)[(slice(None, None, -1),) * len(shape)], True),
        "matrix-subclass": (np.zeros(shape, dt).view(np.recarray), True),
    }


OUT_CASES = [(op, v) for op in OUT_OPS for v in _out_variants((1,), F64)]


@pytest.mark.parametrize("op,variant", OUT_CASES, ids=["%s-%s" % (c[0].name, c[1])
                                                        for c in OUT_CASES])
def test_out_variants(op, variant):
    args = op.make()
    expect = op.call(copy.deepcopy(args))
    out, may_answer = _out_variants(expect.shape, expect.dtype)[variant]
    args["out"] = out
    got = check_call(op, args, ["out"], allow_answer=may_answer, modifies=("out",))
    if isinstance(got, np.ndarray):
        assert got is out, "the result is not the given out"
        np.testing.assert_array_equal(out, expect)


ALIAS_OPS = [op for op in OUT_OPS if op.name.startswith("filters.") or op.name in
             ("conv1d", "conv2d", "conv3d", "depthwise_conv2d", "sobel", "scharr", "prewitt",
              "sobel_h", "sobel_v", "scharr_h", "scharr_v", "prewitt_h", "prewitt_v")]


def _aliasing_args(op):
    """Arguments whose result has the data argument's shape and dtype (so out can be it)."""
    args = op.make()
    if op.name in ("conv1d", "conv2d", "conv3d"):
        nsp = int(op.name[4])
        x = _u(2, 4, *(7, 6, 5)[:nsp])
        return dict(args, x=x, weight=_u(4, 2, *(3,) * nsp), bias=_u(4), padding=1)
    if op.name == "depthwise_conv2d":
        return dict(args, weight=_u(3, 1, 3, 3), bias=_u(3), stride=1, padding=1)
    return args


@pytest.mark.parametrize("op", ALIAS_OPS, ids=repr)
@pytest.mark.parametrize("how", ["same", "shifted", "reversed", "kernel"])
def test_out_overlapping_input(op, how):
    """out is the input, a view of it shifted by one element, its reverse, or the kernel:
    the answer is the one for the original values."""
    args = _aliasing_args(op)
    data = np.ascontiguousarray(args[op.data], np.float64)
    expect = op.call(dict(copy.deepcopy(args), **{op.data: data.copy()}))
    if how == "kernel":
        if op.kernel is None or np.shape(args[op.kernel]) != expect.shape:
            pytest.skip("the kernel cannot hold the result")
    buf = np.zeros(data.size + 1)
    if how == "same":
        src = data
        out = src
    elif how == "shifted":
        src = buf[1:].reshape(data.shape)
        src[...] = data
        out = buf[:-1].reshape(data.shape)
    else:
        src = data.copy()
        out = src[(slice(None, None, -1),) * src.ndim]
    args[op.data] = src
    got = op.call(dict(args, out=out))
    assert got is out
    np.testing.assert_array_equal(out, expect, err_msg="%s out %s" % (op, how))


# ------------------------------------------------------------------------------------------
# 6. huge values, in a subprocess with an address-space limit (crashes and hangs show up as
#    failures of one case; allocations beyond the limit fail instead of swapping)

HUGE_PRELUDE = """
import numpy as np, pyconv, pyconv.reference
from pyconv import filters as F, signal as S, shapes as SH
x1 = np.ones((1, 1, 10), np.float32); w1 = np.ones((1, 1, 3), np.float32)
x2 = np.ones((1, 2, 10, 10), np.float32); w2 = np.ones((3, 2, 3, 3), np.float32)
img = np.ones((10, 10))

def landing(n, k, s, p, d, o):
    # per axis, how many (input sample, tap) pairs of a transposed convolution land on
    # each of its o outputs: sample j, tap t -> j*s + t*d - p (plain loops, no pyconv)
    c = np.zeros(o)
    for j in range(n):
        for t in range(k):
            if 0 <= j * s + t * d - p < o:
                c[j * s + t * d - p] += 1
    return c
"""
# (id, expression, expected): expected is "error" (TypeError/ValueError naming one of the
# names, or MemoryError raised by pyconv up front), or "answer:<expression>" the reference
HUGE_CASES = [
    # strides far beyond the input: a 1-sample output (what PyTorch returns)
    ("conv1d-stride-1e9", "pyconv.conv1d(x1, w1, stride=10**9)",
     "answer:pyconv.reference.conv1d(x1, w1, stride=10**9)"),
    ("conv2d-stride-1e5", "pyconv.conv2d(x2, w2, stride=10**5)",
     "answer:pyconv.reference.conv2d(x2, w2, stride=10**5)"),
    ("conv2d-stride-1e9", "pyconv.conv2d(x2, w2, stride=10**9)",
     "answer:pyconv.reference.conv2d(x2, w2, stride=10**9)"),
    ("conv1d-stride-2**62", "pyconv.conv1d(x1, w1, stride=2**62)",
     "answer:pyconv.reference.conv1d(x1, w1, stride=10**9)"),
    ("conv1d-stride-2**63", "pyconv.conv1d(x1, w1, stride=2**63)",
     "answer:pyconv.reference.conv1d(x1, w1, stride=10**9)"),
    # found by tools/fuzz_api.py: a segmentation fault (scratch size overflows: sh * sw planes)
    ("conv2d-stride-2**31", "pyconv.conv2d(x2[:1, :1, :5, :7], w2[:1, :1, :2, :2], stride=2**31)",
     "answer:pyconv.reference.conv2d(x2[:1, :1, :5, :7], w2[:1, :1, :2, :2], stride=10**9)"),
    ("depthwise-stride-2**31", "pyconv.depthwise_conv2d(x2[:, :, :2, :8], w2[:2, :1, :1, :2], "
     "stride=2**31, padding_mode='replicate')",
     "answer:pyconv.reference.depthwise_conv2d(x2[:, :, :2, :8], w2[:2, :1, :1, :2], "
     "stride=10**9, padding_mode='replicate')"),
    ("conv2d-stride-2**62", "pyconv.conv2d(x2, w2, stride=2**62)",
     "answer:pyconv.reference.conv2d(x2, w2, stride=10**9)"),
    ("conv3d-stride-1e30", "pyconv.conv3d(x2[..., None], w2[..., None], stride=10**30)",
     "answer:pyconv.reference.conv3d(x2[..., None], w2[..., None], stride=10**9)"),
    ("depthwise-stride-1e9", "pyconv.depthwise_conv2d(x2, w2[:2, :1], stride=10**9)",
     "answer:pyconv.reference.depthwise_conv2d(x2, w2[:2, :1], stride=10**9)"),
    ("conv1d-dilation-2**63-k1", "pyconv.conv1d(x1, w1[..., :1], dilation=2**63)",
     "answer:pyconv.reference.conv1d(x1, w1[..., :1])"),
    ("conv1d-dilation-1e30", "pyconv.conv1d(x1, w1, dilation=10**30)", "error:dilation|kernel"),
    # huge dilations: gathered tap by tap, linear in the output (found by tools/fuzz_api.py:
    # the dilated span was gathered per block of outputs, 19 s for a 10**5 dilation)
    ("conv_transpose2d-dilation-1e5-x",
     "pyconv.conv_transpose2d(x2[:1, :, :8, :2], w2[:2, :2, :2, :3], stride=1, padding=2, "
     "output_padding=1, dilation=(7, 10**5))",
     # all ones: each output is 2 channels x the taps landing on it
     "answer:np.broadcast_to(2.0 * np.multiply.outer(landing(8, 2, 1, 2, 7, 12), "
     "landing(2, 3, 1, 2, 10**5, 199999)), (1, 2, 12, 199999))"),
    ("conv_transpose2d-dilation-1e4-y",
     "pyconv.conv_transpose2d(x2[:1, :, :2, :8], w2[:2, :2, :3, :2], padding=2, "
     "output_padding=1, dilation=(10**4, 7))",
     "answer:np.broadcast_to(2.0 * np.multiply.outer(landing(2, 3, 1, 2, 10**4, 19999), "
     "landing(8, 2, 1, 2, 7, 12)), (1, 2, 19999, 12))"),
    # found by tools/fuzz_api.py: a 2**31 padding and dilation build only the positions the
    # windows read (the index table of the whole padded span would need 34 GB)
    ("conv1d-padding-dilation-2**31",
     "pyconv.conv1d(x1, w1, stride=2, dilation=2**31, padding=2**31)",
     "answer:np.ones((1, 1, 5), np.float32)"),
    # outputs larger than any memory: refused up front
    ("conv1d-padding-1e12", "pyconv.conv1d(x1, w1, padding=10**12)", "error:padding|output"),
    ("conv2d-padding-2**19", "pyconv.conv2d(x2, w2, padding=2**19)", "error:padding|output"),
    ("conv1d-padding-1e30", "pyconv.conv1d(x1, w1, padding=10**30)", "error:padding|output"),
    ("conv_transpose1d-stride-1e9", "pyconv.conv_transpose1d(x1, w1, stride=10**9)",
     "error:stride|output"),
    ("conv_transpose1d-stride-1e18", "pyconv.conv_transpose1d(x1, w1, stride=10**18)",
     "error:stride|output"),
    ("conv_transpose2d-stride-1e6", "pyconv.conv_transpose2d(x2, w2.swapaxes(0, 1), stride=10**6)",
     "error:stride|output"),
    ("conv_transpose1d-dilation-2**62", "pyconv.conv_transpose1d(x1, w1, dilation=2**62)",
     "error:dilation|output"),
    ("flattened-padding-1e6",
     "pyconv.flattened_conv2d(x2, [[1, 1]], [[1, 1, 1]], [[1, 1]], padding=10**6)",
     "error:padding|output"),
    ("flattened-padding-1e30",
     "pyconv.flattened_conv2d(x2, [[1, 1]], [[1, 1, 1]], [[1, 1]], padding=10**30)",
     "error:padding|output"),
    # a 10**6 kernel over 10 samples: 'full' swaps the operands (10**7 multiply-adds, not
    # 10**12), for convolve and correlate alike
    ("signal-full-1e6-kernel", "S.convolve(np.arange(10.0), np.ones(10**6))",
     "answer:__import__('scipy.signal').signal.convolve(np.arange(10.0), np.ones(10**6))"),
    ("signal-correlate-full-1e6-kernel",
     "S.correlate(np.arange(10.0), np.arange(10.0**6))",
     "answer:__import__('scipy.signal').signal.correlate(np.arange(10.0), np.arange(10.0**6))"),
    ("signal-2d-big-full", "S.convolve2d(np.ones((2, 2)), np.broadcast_to(1.0, (10**6, 10**6)))",
     "error:in1|in2|output"),
    # huge kernels and filter parameters
    ("correlate1d-kernel-1e6", "F.correlate1d(np.arange(10.0), np.ones(10**6))",
     "answer:__import__('scipy.ndimage').ndimage.correlate1d(np.arange(10.0), np.ones(10**6))"),
    ("uniform-size-1e9", "F.uniform(img, size=10**9)", "error:size"),
    ("uniform-size-1e30", "F.uniform(img, size=10**30)", "error:size"),
    ("gaussian-sigma-1e9", "F.gaussian(img, sigma=1e9)", "error:sigma"),
    ("gaussian-sigma-1e300", "F.gaussian(img, sigma=1e300)", "error:sigma"),
    ("gaussian-truncate-1e300", "F.gaussian(img, truncate=1e300)", "error:truncate"),
    ("correlate-cval-1e400", "F.correlate(img, np.ones((3, 3)), mode='constant', cval=10**400)",
     "error:cval"),
    ("signal-fillvalue-1e400", "S.convolve2d(img, np.ones((3, 3)), fillvalue=10**400)",
     "error:fillvalue"),
    # thread counts
    ("conv2d-num_threads-2**31", "pyconv.conv2d(np.ones((1, 1, 300, 300)), w2[:1, :1], "
     "num_threads=2**31)", "error:num_threads"),
    ("correlate-num_threads-2**31", "F.correlate(np.ones((300, 300)), np.ones((3, 3)), "
     "num_threads=2**31)", "error:num_threads"),
    ("correlate-num_threads-2000", "F.correlate(np.ones((300, 300)), np.ones((3, 3)), "
     "num_threads=2000)", "answer:__import__('scipy.ndimage').ndimage.correlate("
     "np.ones((300, 300)), np.ones((3, 3)))"),
    ("set_num_threads-2**40", "pyconv.set_num_threads(2**40)", "error:n\\b|num_threads"),
    # the shape arithmetic
    ("conv_matrix-1e6x1e3", "SH.conv_matrix(10**6, np.ones(10**3))", "error:size|conv_matrix"),
    ("overlap_map-1e9", "SH.overlap_map(10**9, 3)", "error:size|overlap_map"),
    ("overlap_map-1e9x1e9", "SH.overlap_map((10**9, 10**9), 3)", "error:size|overlap_map"),
]

#: AddressSanitizer reserves terabytes of address space: no RLIMIT_AS under it (tools/sanitize.sh
#: sets allocator_may_return_null=1 so that a huge allocation still fails cleanly)
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")

HUGE_DRIVER = r"""
import faulthandler, json, resource, sys, traceback
faulthandler.enable()
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
PRELUDE
cases = json.loads(sys.stdin.readline())
for cid, expr, expected in cases:
    print(json.dumps(["start", cid]), flush=True)
    try:
        val = eval(expr)
        res = ["ok", cid, None]
        if expected.startswith("answer:"):
            exp = eval(expected[7:])
            if isinstance(exp, tuple):
                same = tuple(val) == exp
            else:
                same = (np.shape(val) == np.shape(exp)
                        and np.allclose(val, exp, rtol=1e-5, atol=1e-5, equal_nan=True))
            res[2] = "equal" if same else "differs: %r vs %r" % (np.shape(val), np.shape(exp))
    except BaseException as exc:
        res = ["raised", cid, [type(exc).__name__, str(exc)[:300]]]
    print(json.dumps(res), flush=True)
print(json.dumps(["done"]), flush=True)
"""


def run_isolated(cases, prelude, *, limit_bytes=6 << 30, per_case_s=6.0, env=None):
    """Run ``cases`` [(id, expr, expected)] one after the other in child processes; a case
    that kills or hangs its child is recorded and the rest continue in a new child.
    Returns {id: (outcome, detail)} with outcome ok / raised / crashed / hung."""
    driver = HUGE_DRIVER.replace("PRELUDE", prelude)
    results, todo = {}, list(cases)
    while todo:
        # under ASan (no address-space limit possible) pyconv's own limit stands in for it
        extra = dict(PYCONV_MEMORY_LIMIT=str(limit_bytes)) if UNDER_ASAN else {}
        proc = subprocess.Popen([sys.executable, "-c", driver,
                                 str(0 if UNDER_ASAN else limit_bytes)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, **extra, **(env or {})))
        proc.stdin.write(json.dumps(todo) + "\n")
        proc.stdin.flush()
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout] + [lines.put(None)],
                         daemon=True).start()
        current = None
        while True:
            try:
                ln = lines.get(timeout=per_case_s)
            except queue.Empty:
                proc.kill()
                results[current] = ("hung", "no answer in %.0f s" % per_case_s)
                break
            if ln is None:
                proc.wait()
                err = proc.stderr.read()
                at = err.rfind("Fatal Python error")
                err = err[at:at + 400] if at >= 0 else err[-400:]
                if current is not None and current not in results:
                    results[current] = ("crashed", "exit %s: %s" % (proc.returncode, err))
                break
            msg = json.loads(ln)
            if msg[0] == "start":
                current = msg[1]
            elif msg[0] == "done":
                current = None
            else:
                results[msg[1]] = (msg[0], msg[2])
        proc.stdout.close()
        proc.stderr.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        todo = [c for c in todo if c[0] not in results]
        if current is None and todo:  # the child ended without a start line for these
            for c in todo:
                results[c[0]] = ("crashed", "child ended early")
            todo = []
    return results


@pytest.fixture(scope="module")
def huge_results():
    # two supervised children side by side: the hangs (a few seconds each) overlap
    import concurrent.futures
    halves = [HUGE_CASES[0::2], HUGE_CASES[1::2]]
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        parts = list(ex.map(lambda cases: run_isolated(cases, HUGE_PRELUDE), halves))
    return {k: v for part in parts for k, v in part.items()}


def judge_isolated(outcome, detail, expected):
    import re
    if outcome in ("hung", "crashed"):
        return "%s: %s" % (outcome, detail)
    if expected.startswith("answer:"):
        if outcome == "ok" and detail == "equal":
            return None
        if outcome == "raised" and detail[0] == "MemoryError" and \
                not detail[1].startswith("Unable to allocate"):
            return "refused a valid call: MemoryError %s" % detail[1]
        return "wrong answer: %s %s" % (outcome, detail)
    names = expected.split(":", 1)[1]
    if outcome == "ok":
        return "accepted: %s" % (detail,)
    etype, msg = detail
    if etype in ("TypeError", "ValueError"):
        return None if re.search(names, msg) else "%s does not name %s: %s" % (etype, names,
                                                                                msg)
    if etype == "MemoryError":
        return None if not msg.startswith("Unable to allocate") else \
            "allocation attempted, not refused up front: %s" % msg
    return "%s: %s" % (etype, msg)


@pytest.mark.parametrize("cid,expr,expected", HUGE_CASES, ids=[c[0] for c in HUGE_CASES])
def test_huge_values_isolated(huge_results, cid, expr, expected):
    outcome, detail = huge_results[cid]
    problem = judge_isolated(outcome, detail, expected)
    assert problem is None, "%s -> %s" % (expr, problem)


# ------------------------------------------------------------------------------------------
# 7. memory: peak = input + output + bounded scratch (fresh subprocess, tracemalloc + VmHWM)

MEMORY_SCRIPT = r"""
import gc, json, resource, sys, tracemalloc
import numpy as np, pyconv, pyconv.reference
from pyconv import filters as F

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

which = sys.argv[1]
rng = np.random.default_rng(0)
if which.startswith("correlate"):
    side = int(which.split("-")[1])
    x = rng.random((side, side, 3), dtype=np.float32)
    k = rng.random((3, 3)).astype(np.float32)      # not rank-1: the direct n-D path
    ca = -1 if which.endswith("-ca") else None
    if ca is None:
        x = np.ascontiguousarray(x[..., 0])
    call = lambda: F.correlate(x, k, mode="reflect", channel_axis=ca, num_threads=2)
elif which == "conv2d":
    x = rng.random((4, 64, 56, 56), dtype=np.float32)
    w = rng.random((64, 64, 3, 3), dtype=np.float32)
    call = lambda: pyconv.conv2d(x, w, padding=1, num_threads=2)
call()                       # warm caches, plans and the thread pool
gc.collect()
try:                         # reset the high-water mark to the current RSS (Linux >= 4.0)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    reset = True
except OSError:
    reset = False
rss0 = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
hwm0 = hwm()
tracemalloc.start()
y = call()
cur, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps(dict(input=x.nbytes, output=y.nbytes, traced_peak=peak, hwm_reset=reset,
                      hwm_before=hwm0, hwm_after=hwm(), rss_before=rss0)))
"""
# scratch pyconv may use besides the output: per-thread tiles, index tables, packed weights
SCRATCH_BYTES = 16 << 20


def _measure(which):
    r = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, which], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("which", ["correlate-2048-ca", "correlate-2048", "conv2d"])
def test_peak_memory_bounded(which):
    """NumPy allocations during one call (tracemalloc) stay within the output plus a bounded
    scratch: no full-size temporary (an input copy, a transposed result) is made."""
    m = _measure(which)
    extra = m["traced_peak"] - m["output"]
    assert extra <= SCRATCH_BYTES, (
        "%s: peak NumPy allocation %.1f MB = output %.1f MB + %.1f MB extra (input %.1f MB); "
        "allowed extra %.1f MB" % (which, m["traced_peak"] / 2**20, m["output"] / 2**20,
                                   extra / 2**20, m["input"] / 2**20, SCRATCH_BYTES / 2**20))
    if UNDER_ASAN or not m["hwm_reset"]:  # ASan's quarantine and shadow inflate the RSS
        return
    # the process high-water mark (C allocations included: per-thread scratch, OpenMP) grows
    # by at most the output + scratch
    grow = m["hwm_after"] - m["rss_before"]
    assert grow <= m["output"] + SCRATCH_BYTES, (
        "%s: resident memory peaked %.1f MB above its level before the call; output %.1f MB"
        % (which, grow / 2**20, m["output"] / 2**20))


def test_peak_memory_4096_channel_axis():
    """The issue's case: a 4096x4096x3 float32 channel-last correlate (200 MB in, 200 MB out)
    allocates nothing full-size beyond its output."""
    m = _measure("correlate-4096-ca")
    extra = m["traced_peak"] - m["output"]
    assert extra <= SCRATCH_BYTES, "4096x4096x3: %.1f MB beyond the output" % (extra / 2**20)


# ------------------------------------------------------------------------------------------
# 8. a subprocess smoke run of the riskiest in-process cases: if any of them crashed the
#    interpreter, pytest itself would die; here a crash is one failing test


RISKY = [
    "pyconv.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 5, 5)), padding=0, stride=7)",
    "pyconv.conv2d(np.ones((1, 1, 1, 1)), np.ones((1, 1, 1, 1)), dilation=10**6)",
    "pyconv.conv_transpose2d(np.ones((1, 1, 1, 1)), np.ones((1, 1, 9, 9)), padding=4)",
    "pyconv.conv2d(np.ones((2, 3, 4, 4))[:, :, ::-1, ::2], np.ones((3, 3, 1, 1)), out=np.empty((2, 3, 4, 2)).T.T)",
    "F.correlate(np.ones((1, 1)), np.ones((50, 50)), mode='wrap', origin=(24, -25))",
    "F.correlate1d(np.ones(1), np.ones(1001), mode='mirror', origin=-500)",
    "F.convolve(np.ones(2), np.ones(9), mode='reflect', origin=-4)",
    "F.sepfilter(np.ones((1, 1, 1)), [np.ones(99), np.ones(1), None], mode='mirror')",
    "F.uniform(np.ones((2, 2)), size=999, mode='wrap', origin=-499)",
    "F.gaussian(np.ones((3, 1)), sigma=50, mode='mirror')",
    "S.correlate2d(np.ones((1, 1)), np.ones((40, 40)), mode='same', boundary='wrap')",
    "S.convolve2d(np.ones((40, 1)), np.ones((1, 40)), mode='full', boundary='symm')",
    "S.convolve(np.ones((1, 1, 1)), np.ones((5, 5, 5)), mode='same')",
    "pyconv.channel_shuffle(np.ones((1, 6, 0, 2)), 3)",
    "pyconv.conv3d(np.ones((1, 2, 1, 1, 1)), np.ones((2, 1, 3, 3, 3)), groups=2, padding=1, padding_mode='circular')",
    "pyconv.conv3d(np.ones((1, 1, 2, 2, 2)), np.ones((1, 1, 1, 1, 1)), padding=(0, 1, 1), padding_mode='reflect')",
    "pyconv.depthwise_conv2d(np.ones((1, 1, 1, 1)), np.ones((7, 1, 1, 1)))",
    "pyconv.flattened_conv2d(np.ones((1, 1, 1, 1)), [[1.0]], [[1.0] * 3], [[1.0] * 3], padding=1)",
    "SH.conv_matrix((1, 1, 1), np.ones((3, 3, 3)), padding=1)",
]


def test_risky_calls_in_a_subprocess():
    cases = [("risky-%d" % i, expr, "error:.") for i, expr in enumerate(RISKY)]
    res = run_isolated(cases, HUGE_PRELUDE, per_case_s=60.0)
    problems = []
    for cid, expr, _ in cases:
        outcome, detail = res[cid]
        if outcome in ("hung", "crashed"):
            problems.append("%s: %s %s" % (expr, outcome, detail))
        elif outcome == "raised" and detail[0] not in ("TypeError", "ValueError",
                                                       "MemoryError"):
            problems.append("%s: %s" % (expr, detail))
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------
# 9. the planning caches keep small items only: a long-running process filtering ever new
#    large shapes does not accumulate their index tables, tap lists and plans


def test_planning_caches_keep_no_large_items():
    import pyconv._conv as C
    import pyconv._engine as E
    big = E.CACHE_ITEM_BYTES // 8 + 1000
    E.index_table.cache_clear()    # (only speed depends on it)
    for small in (True, False):
        count = 50 if small else big
        size0 = E.index_table.cache_info().currsize
        a, b = E.index_table(-3, count + 7, count, 2), E.index_table(-3, count + 7, count, 2)
        assert (a is b) == small
        assert (E.index_table.cache_info().currsize > size0) == small
        np.testing.assert_array_equal(a, b)
    # a plan whose tap offsets are large (Cg x taps) is made afresh; a small one is reused
    for cg, small in ((4, True), (big // 9 + 1, False)):
        args = ((1, cg, 1, 5, 5), (1, 2, 1, 3, 3), 1, (1, 3, 3), (1, 1, 1), (1, 1, 1), 0, 8, 1)
        assert (C.plan(*args) is C.plan(*args)) == small
    # the filters' tap lists: keyed by the kernel's bytes
    rng = np.random.default_rng(0)
    for side, small in ((5, True), (95, False)):
        k = rng.random((side, side))
        kb = np.ascontiguousarray(k).tobytes()
        assert (pyconv.filters._nd_taps(kb, k.shape, False, (0, 0))
                is pyconv.filters._nd_taps(kb, k.shape, False, (0, 0))) == small


def test_unbuilt_checkout_says_how_to_build(tmp_path):
    # the package's Python files without its compiled modules (a source checkout before
    # 'pip install'): the import error names the fix instead of a circular-import puzzle
    import shutil
    import subprocess
    import sys
    import pyconv
    src = os.path.dirname(pyconv.__file__)
    shutil.copytree(src, tmp_path / "pyconv",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    # loaded from that folder explicitly, without site-packages (-S): an editable install's
    # import hook would otherwise find the built modules wherever the interpreter starts
    # (the error comes before pyconv imports NumPy)
    code = ("import importlib.util, sys; d = sys.argv[1]; "
            "s = importlib.util.spec_from_file_location('pyconv', d + '/__init__.py', "
            "submodule_search_locations=[d]); m = importlib.util.module_from_spec(s); "
            "sys.modules['pyconv'] = m; s.loader.exec_module(m)")
    r = subprocess.run([sys.executable, "-S", "-c", code, str(tmp_path / "pyconv")], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "compiled modules are not built" in r.stderr and "pip install" in r.stderr
