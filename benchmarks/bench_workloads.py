"""Workload registry for the side-by-side benchmark runner (benchmarks/run.py).

A *workload* is one problem (fixed inputs, fixed seed, float32) with

* ``build(rng) -> dict``        the inputs (float32 numpy arrays and scalars),
* ``reference(inputs) -> f64``  an independent float64 answer (scipy / numpy),
* ``flops`` / ``nbytes``        the direct-method FLOP count (2 per multiply-add)
                                and the compulsory traffic (input + output +
                                weights, float32 bytes),
* ``taps``                      the reduction length, for the error tolerance,
* ``contenders``                'pyconv' and every peer that computes the SAME
                                numbers.

A *contender* is ``make(inputs, T) -> fn`` where ``fn()`` is the zero-argument
call that gets timed.  Everything ``make`` does (padding, tensor wrapping,
kernel flipping, thread plumbing) is outside the timed region.  ``threads``
names the threading model: 'pyconv' (num_threads=T), 'cv2'
(cv2.setNumThreads), 'torch' (torch.set_num_threads), 'scipy.fft'
(scipy.fft.set_workers), or 'serial'.

To add a workload: write a ``build``/``reference`` pair, list the contenders
(helpers below do most of the plumbing) and ``register(Workload(...))``.
Workloads with ``requires='pyconv.xxx'`` run only when pyconv exposes that
function at run time (else they are skipped quietly, unless asked for by name
or with --all).
"""

from __future__ import annotations

import importlib
import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import numpy as np

F32 = np.float32
SEED = 20240601

# ----------------------------------------------------------------------------
# Library availability (lazy imports, cached, with a reason when missing)
# ----------------------------------------------------------------------------

_LIBS: Dict[str, Any] = {}
_LIB_ERRORS: Dict[str, str] = {}


def lib(name: str):
    """Import ``name`` once; return the module or None (reason in lib_error)."""
    if name in _LIBS:
        return _LIBS[name]
    if name in _LIB_ERRORS:
        return None
    try:
        mod = importlib.import_module(name)
        if getattr(mod, "__file__", None) is None and hasattr(mod, "__path__"):
            raise ImportError("only a namespace package (no __init__.py: nothing built yet?)")
    except Exception as exc:  # ImportError, or a broken half-built extension
        _LIB_ERRORS[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return None
    _LIBS[name] = mod
    return mod


def lib_error(name: str) -> str:
    return _LIB_ERRORS.get(name, "")


def resolve(path: str):
    """'pyconv.filters.correlate' -> the object, or None if any part is missing."""
    parts = path.split(".")
    obj = lib(parts[0])
    if obj is None:
        return None
    for i, part in enumerate(parts[1:], start=1):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        # maybe a submodule not imported by the package __init__
        sub = ".".join(parts[: i + 1])
        try:
            obj = importlib.import_module(sub)
        except Exception:
            return None
    return obj


# ----------------------------------------------------------------------------
# Data classes
# ----------------------------------------------------------------------------

@dataclass
class Contender:
    name: str                      # label in the table: 'pyconv', 'scipy.ndimage', 'cv2', ...
    module: str                    # what must be importable: 'pyconv', 'scipy', 'cv2', 'torch', ...
    make: Callable[[dict, int], Callable[[], Any]]
    threads: str = "serial"        # 'pyconv' | 'cv2' | 'torch' | 'scipy.fft' | 'serial'
    to_numpy: Callable[[Any], np.ndarray] = np.asarray
    requires: Optional[str] = None  # attribute path that must resolve, e.g. 'pyconv.signal.correlate2d'
    note: str = ""                 # printed under the table (e.g. 'padding not timed')
    baseline: bool = False         # a pyconv call the measured one is compared with (a peer)

    @property
    def is_pyconv(self) -> bool:
        return self.module == "pyconv" and not self.baseline

    def available(self):
        """(ok, reason)."""
        if lib(self.module) is None:
            return False, f"{self.module} not importable ({lib_error(self.module)})"
        if self.requires and resolve(self.requires) is None:
            return False, f"{self.requires} not found"
        return True, ""


@dataclass
class Workload:
    name: str
    description: str
    build: Callable[[np.random.Generator], dict]
    reference: Callable[[dict], np.ndarray]
    flops: int
    nbytes: int
    taps: int
    contenders: List[Contender]
    group: str = "foundation"      # 'foundation' always runs; others need `requires`
    requires: Optional[str] = None  # pyconv attribute that must exist for a default run
    notes: List[str] = field(default_factory=list)

    def inputs(self) -> dict:
        return self.build(np.random.default_rng(SEED))


REGISTRY: List[Workload] = []


def register(w: Workload) -> Workload:
    if any(o.name == w.name for o in REGISTRY):
        raise ValueError(f"duplicate workload name {w.name!r}")
    REGISTRY.append(w)
    return w


# ----------------------------------------------------------------------------
# Correctness gate
# ----------------------------------------------------------------------------

def tolerance(ref: np.ndarray, taps: int) -> float:
    """float32-appropriate max-abs-error budget: 1e-4 * max|ref| * sqrt(taps)."""
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    if not math.isfinite(scale) or scale == 0.0:
        scale = 1.0
    return 1e-4 * scale * math.sqrt(max(taps, 1))


def check(out, ref: np.ndarray, taps: int):
    """Return (ok, max_abs_err, tol, message)."""
    out = np.asarray(out)
    tol = tolerance(ref, taps)
    if out.shape != ref.shape:
        return False, float("nan"), tol, f"shape {out.shape} != reference {ref.shape}"
    if out.dtype.kind not in "fc":
        return False, float("nan"), tol, f"dtype {out.dtype}"
    diff = np.abs(out.astype(np.float64) - ref)
    finite = np.isfinite(ref)
    if not np.array_equal(np.isfinite(out), finite):
        return False, float("nan"), tol, "non-finite values where the reference is finite (or vice versa)"
    err = float(diff[finite].max()) if finite.any() else 0.0
    if err > tol:
        return False, err, tol, f"max abs err {err:.3g} > tol {tol:.3g}"
    return True, err, tol, ""


# ----------------------------------------------------------------------------
# Helpers for contenders
# ----------------------------------------------------------------------------

def accepts_kw(fn, kw: str) -> Optional[bool]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = sig.parameters
    if kw in params:
        return True
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    return False


def pyconv_bind(path: str, T: int, *args, **kwargs) -> Callable[[], Any]:
    """Zero-arg call of pyconv function ``path`` with T threads.

    Passes num_threads=T when the function takes it (the DESIGN contract);
    otherwise wraps the call in pyconv.num_threads(T) or sets the process
    default with pyconv.set_num_threads(T).
    """
    fn = resolve(path)
    if fn is None:
        raise RuntimeError(f"{path} not found")
    acc = accepts_kw(fn, "num_threads")
    if acc or (acc is None and path.startswith("pyconv.filters")):
        kwargs = dict(kwargs, num_threads=T)
        return lambda: fn(*args, **kwargs)
    pc = lib("pyconv")
    ctx = getattr(pc, "num_threads", None)
    if callable(ctx):
        def call():
            with ctx(T):
                return fn(*args, **kwargs)
        return call
    setter = getattr(pc, "set_num_threads", None)
    if callable(setter):
        setter(T)
    return lambda: fn(*args, **kwargs)


def torch_to_numpy(t):
    return t.detach().numpy()


def _t(a):
    """numpy -> torch tensor sharing memory (outside the timed region)."""
    return lib("torch").from_numpy(np.ascontiguousarray(a))


def _f64(a):
    return np.asarray(a, dtype=np.float64)


# ----------------------------------------------------------------------------
# Dense scipy.ndimage-style correlate, mode 'reflect'
# ----------------------------------------------------------------------------

def _build_image_kernel(shape, kshape):
    def build(rng):
        return {
            "image": rng.random(shape, dtype=F32),
            "kernel": rng.standard_normal(kshape, dtype=F32),
        }
    return build


def _ref_ndimage_correlate(mode="reflect"):
    def ref(inp):
        import scipy.ndimage as ndi
        return ndi.correlate(_f64(inp["image"]), _f64(inp["kernel"]), mode=mode)
    return ref


def c_pyconv_correlate(mode="reflect"):
    def make(inp, T):
        return pyconv_bind("pyconv.filters.correlate", T, inp["image"], inp["kernel"], mode=mode)
    return Contender("pyconv", "pyconv", make, threads="pyconv", requires="pyconv.filters.correlate")


def c_ndimage_correlate(mode="reflect"):
    def make(inp, T):
        import scipy.ndimage as ndi
        x, k = inp["image"], inp["kernel"]
        return lambda: ndi.correlate(x, k, mode=mode)
    return Contender("scipy.ndimage", "scipy", make, threads="serial")


_CV2_BORDER = {"reflect": "BORDER_REFLECT", "nearest": "BORDER_REPLICATE",
               "mirror": "BORDER_REFLECT_101", "wrap": "BORDER_WRAP", "constant": "BORDER_CONSTANT"}


def c_cv2_filter2d(mode="reflect"):
    """cv2.filter2D is a correlation; BORDER_REFLECT == ndimage 'reflect'.
    Anchors agree with ndimage origin=0 only for odd kernel sides."""
    def make(inp, T):
        cv2 = lib("cv2")
        x, k = inp["image"], inp["kernel"]
        if any(s % 2 == 0 for s in k.shape):
            raise ValueError("cv2.filter2D anchor differs from ndimage for even kernels")
        border = getattr(cv2, _CV2_BORDER[mode])
        return lambda: cv2.filter2D(x, -1, k, borderType=border)
    return Contender("cv2.filter2D", "cv2", make, threads="cv2")


def c_torch_conv_prepadded(ndim=2):
    """torch conv{2,3}d 'valid' on an input pre-padded with np.pad(mode='symmetric')
    (== ndimage 'reflect'); the padding is NOT timed."""
    def make(inp, T):
        torch = lib("torch")
        F = torch.nn.functional
        x, k = inp["image"], inp["kernel"]
        pads = [(s // 2, s - 1 - s // 2) for s in k.shape]
        xp = _t(np.pad(x, pads, mode="symmetric"))[None, None]
        wt = _t(k)[None, None]
        conv = F.conv2d if ndim == 2 else F.conv3d
        return lambda: conv(xp, wt)
    return Contender(f"torch.conv{ndim}d", "torch", make, threads="torch",
                     to_numpy=lambda t: t.detach().numpy()[0, 0],
                     note="torch: input pre-padded (np.pad symmetric), padding not timed")


def c_fftconvolve_prepadded():
    """scipy.signal.fftconvolve(mode='valid') of the symmetric-padded input with
    the flipped kernel == ndimage.correlate(mode='reflect'); padding not timed."""
    def make(inp, T):
        import scipy.signal as ss
        x, k = inp["image"], inp["kernel"]
        pads = [(s // 2, s - 1 - s // 2) for s in k.shape]
        xp = np.pad(x, pads, mode="symmetric")
        kf = np.ascontiguousarray(k[(slice(None, None, -1),) * k.ndim])
        return lambda: ss.fftconvolve(xp, kf, mode="valid")
    return Contender("scipy.signal.fftconvolve", "scipy", make, threads="scipy.fft",
                     note="fftconvolve: input pre-padded and kernel flipped, not timed")


def dense_correlate_workload(name, shape, kshape, description, peers=("ndimage", "cv2", "torch"),
                             group="foundation", requires=None):
    taps = int(np.prod(kshape))
    npx = int(np.prod(shape))
    cs = [c_pyconv_correlate()]
    if "ndimage" in peers:
        cs.append(c_ndimage_correlate())
    if "cv2" in peers and len(shape) == 2:
        cs.append(c_cv2_filter2d())
    if "fft" in peers:
        cs.append(c_fftconvolve_prepadded())
    if "torch" in peers:
        cs.append(c_torch_conv_prepadded(len(shape)))
    return register(Workload(
        name=name, description=description,
        build=_build_image_kernel(shape, kshape),
        reference=_ref_ndimage_correlate(),
        flops=2 * taps * npx,
        nbytes=4 * (2 * npx + taps),
        taps=taps, contenders=cs, group=group, requires=requires,
    ))


# ---- foundation workloads ---------------------------------------------------

for _k in (3, 7, 15):
    dense_correlate_workload(
        f"correlate2d_{_k}x{_k}_2048",
        (2048, 2048), (_k, _k),
        f"pyconv.filters.correlate, 2048x2048 f32, dense {_k}x{_k}, mode='reflect'",
    )

dense_correlate_workload(
    "correlate3d_5x5x5_128", (128, 128, 128), (5, 5, 5),
    "pyconv.filters.correlate, 128^3 f32 volume, dense 5x5x5, mode='reflect'",
    peers=("ndimage", "fft", "torch"),
)

dense_correlate_workload(
    "correlate2d_3x3_64_overhead", (64, 64), (3, 3),
    "pyconv.filters.correlate, 64x64 f32, 3x3, mode='reflect' (per-call overhead)",
    peers=("ndimage", "cv2"),
)


# ---- scipy.signal.correlate2d 'same' 'symm' -----------------------------------

def _ref_signal_correlate2d(inp):
    import scipy.signal as ss
    return ss.correlate2d(_f64(inp["image"]), _f64(inp["kernel"]), mode="same", boundary="symm")


def _c_pyconv_signal_correlate2d():
    def make(inp, T):
        return pyconv_bind("pyconv.signal.correlate2d", T, inp["image"], inp["kernel"],
                           mode="same", boundary="symm")
    return Contender("pyconv", "pyconv", make, threads="pyconv", requires="pyconv.signal.correlate2d")


def _c_signal_correlate2d():
    def make(inp, T):
        import scipy.signal as ss
        x, k = inp["image"], inp["kernel"]
        return lambda: ss.correlate2d(x, k, mode="same", boundary="symm")
    return Contender("scipy.signal", "scipy", make, threads="serial")


register(Workload(
    name="signal_correlate2d_5x5_512_symm",
    description="pyconv.signal.correlate2d, 512x512 f32, 5x5, mode='same', boundary='symm'",
    build=_build_image_kernel((512, 512), (5, 5)),
    reference=_ref_signal_correlate2d,
    flops=2 * 25 * 512 * 512, nbytes=4 * (2 * 512 * 512 + 25), taps=25,
    # 'same'+'symm' with an odd kernel is ndimage 'reflect' correlate; the gate checks it.
    contenders=[_c_pyconv_signal_correlate2d(), _c_signal_correlate2d(),
                c_ndimage_correlate(), c_cv2_filter2d()],
))


# ============================================================================
# Later workloads: run only when pyconv exposes the function (or --all / --only)
# ============================================================================

# ---- deep-learning convolutions vs torch ------------------------------------

def _pair(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def ref_conv_nd(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """float64 cross-correlation with torch.nn.functional.conv{1,2,3}d semantics,
    zero padding, written with numpy (one einsum per kernel tap)."""
    x, w = _f64(x), _f64(w)
    nd = x.ndim - 2
    s, p, d = _pair(stride, nd), _pair(padding, nd), _pair(dilation, nd)
    N, C = x.shape[:2]
    O, Cg = w.shape[:2]
    k = w.shape[2:]
    G = groups
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pi, pi) for pi in p])
    osz = [(xp.shape[2 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(nd)]
    xg = xp.reshape((N, G, Cg) + xp.shape[2:])
    wg = w.reshape((G, O // G, Cg) + k)
    out = np.zeros((N, G, O // G) + tuple(osz))
    sp = "hwz"[:nd]
    for tap in np.ndindex(*k):
        sl = tuple(slice(tap[i] * d[i], tap[i] * d[i] + s[i] * (osz[i] - 1) + 1, s[i]) for i in range(nd))
        xs = xg[(slice(None),) * 3 + sl]
        out += np.einsum(f"ngc{sp},goc->ngo{sp}", xs, wg[(Ellipsis,) + tap])
    out = out.reshape((N, O) + tuple(osz))
    if bias is not None:
        out += _f64(bias).reshape((1, O) + (1,) * nd)
    return out


def ref_conv_transpose_nd(x, w, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """float64 transposed convolution, torch.nn.functional.conv_transpose{1,2,3}d semantics
    (scatter-add of every input pixel times the kernel)."""
    x, w = _f64(x), _f64(w)
    nd = x.ndim - 2
    s, p, op, d = (_pair(v, nd) for v in (stride, padding, output_padding, dilation))
    N, C = x.shape[:2]
    Cw, Og = w.shape[:2]
    k = w.shape[2:]
    G = groups
    insz = x.shape[2:]
    full = [(insz[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1 + op[i] for i in range(nd)]
    xg = x.reshape((N, G, C // G) + insz)
    wg = w.reshape((G, C // G, Og) + k)
    out = np.zeros((N, G, Og) + tuple(full))
    sp = "hwz"[:nd]
    for tap in np.ndindex(*k):
        sl = tuple(slice(tap[i] * d[i], tap[i] * d[i] + s[i] * (insz[i] - 1) + 1, s[i]) for i in range(nd))
        out[(slice(None),) * 3 + sl] += np.einsum(f"ngc{sp},gco->ngo{sp}", xg, wg[(Ellipsis,) + tap])
    crop = tuple(slice(p[i], full[i] - p[i]) for i in range(nd))
    return out[(slice(None),) * 3 + crop].reshape((N, Og * G) + tuple(full[i] - 2 * p[i] for i in range(nd)))


def dl_conv_workload(name, description, xshape, wshape, stride=1, padding=0, dilation=1, groups=1,
                     pyconv_fn="pyconv.conv2d", pyconv_kwargs=None, transposed=False, output_padding=0):
    nd = len(xshape) - 2
    tname = f"conv_transpose{nd}d" if transposed else f"conv{nd}d"

    def build(rng):
        return {"x": rng.standard_normal(xshape, dtype=F32),
                "w": (rng.standard_normal(wshape, dtype=F32) / math.sqrt(np.prod(wshape[1:])))}

    def reference(inp):
        if transposed:
            return ref_conv_transpose_nd(inp["x"], inp["w"], stride, padding, output_padding, groups, dilation)
        return ref_conv_nd(inp["x"], inp["w"], None, stride, padding, dilation, groups)

    def make_pyconv(inp, T):
        kw = dict(stride=stride, padding=padding, dilation=dilation)
        if transposed:
            kw.update(output_padding=output_padding, groups=groups)
        elif pyconv_kwargs is None:
            kw.update(groups=groups)
        kw.update(pyconv_kwargs or {})
        return pyconv_bind(pyconv_fn, T, inp["x"], inp["w"], **kw)

    def make_torch(inp, T):
        F = lib("torch").nn.functional
        fn = getattr(F, tname)
        x, w = _t(inp["x"]), _t(inp["w"])
        if transposed:
            return lambda: fn(x, w, None, stride, padding, output_padding, groups, dilation)
        return lambda: fn(x, w, None, stride, padding, dilation, groups)

    # output shape and FLOPs
    inp_shape = xshape
    k = wshape[2:]
    s, p, d, op = (_pair(v, nd) for v in (stride, padding, dilation, output_padding))
    if transposed:
        osz = [(inp_shape[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i in range(nd)]
        O = wshape[1] * groups
        macs = int(np.prod(xshape)) * wshape[1] * int(np.prod(k))
    else:
        osz = [(inp_shape[2 + i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(nd)]
        O = wshape[0]
        macs = xshape[0] * O * int(np.prod(osz)) * wshape[1] * int(np.prod(k))
    out_elems = xshape[0] * O * int(np.prod(osz))
    taps = (wshape[0] // groups if transposed else wshape[1]) * int(np.prod(k))
    return register(Workload(
        name=name, description=description, build=build, reference=reference,
        flops=2 * macs, nbytes=4 * (int(np.prod(xshape)) + out_elems + int(np.prod(wshape))),
        taps=taps, group="dl", requires=pyconv_fn,
        contenders=[
            Contender("pyconv", "pyconv", make_pyconv, threads="pyconv", requires=pyconv_fn),
            Contender(f"torch.{tname}", "torch", make_torch, threads="torch", to_numpy=torch_to_numpy),
        ],
    ))


# The targets of the deep-learning convolution and transposed-convolution work (float32).
dl_conv_workload("dl_conv2d_3x3_64c_56_n8", "conv2d 3x3, N=8, 64->64, 56x56, padding 1",
                 (8, 64, 56, 56), (64, 64, 3, 3), padding=1)
dl_conv_workload("dl_conv2d_3x3s2_64to128_112_n8", "conv2d 3x3 stride 2, N=8, 64->128, 112->56",
                 (8, 64, 112, 112), (128, 64, 3, 3), stride=2, padding=1)
dl_conv_workload("dl_conv2d_3x3_dil2_64c_56_n8", "conv2d 3x3 dilation 2, N=8, 64->64, 56x56",
                 (8, 64, 56, 56), (64, 64, 3, 3), padding=2, dilation=2)
dl_conv_workload("dl_conv2d_1x1_256c_28_n8", "conv2d 1x1, N=8, 256->256, 28x28",
                 (8, 256, 28, 28), (256, 256, 1, 1))
dl_conv_workload("dl_conv2d_grouped_g8_128c_56_n8", "conv2d 3x3 groups=8, N=8, 128->128, 56x56",
                 (8, 128, 56, 56), (128, 16, 3, 3), padding=1, groups=8)
def dl_depthwise_workload(name, description, n, c, size, k, stride=1):
    """A depthwise_conv2d layer: N=n images of c channels, size x size, a k x k kernel,
    padding k // 2."""
    dl_conv_workload(name, description, (n, c, size, size), (c, 1, k, k), stride=stride,
                     padding=k // 2, groups=c, pyconv_fn="pyconv.depthwise_conv2d",
                     pyconv_kwargs={})


# (name, what it stands for, N, channels, size, kernel, stride)
for _dw in (("dl_depthwise_3x3_256c_56_n8", "", 8, 256, 56, 3, 1),
            ("dl_depthwise_3x3_512c_14_n8", " (a late MobileNet layer: small planes)",
             8, 512, 14, 3, 1),
            ("dl_depthwise_3x3s2_512c_14_n8", " (a late MobileNet layer's downsampling)",
             8, 512, 14, 3, 2),
            ("dl_depthwise_5x5_512c_7_n8", " (a late EfficientNet / MobileNetV3 layer)",
             8, 512, 7, 5, 1),
            ("dl_depthwise_7x7_384c_14_n8", " (a ConvNeXt block's depthwise layer)",
             8, 384, 14, 7, 1),
            ("dl_depthwise_3x3s2_144c_56_n8", " (an early MobileNetV2 downsampling)",
             8, 144, 56, 3, 2)):
    _name, _what, _n, _c, _size, _k, _s = _dw
    _out = (_size + 2 * (_k // 2) - _k) // _s + 1
    dl_depthwise_workload(
        _name, f"depthwise_conv2d {_k}x{_k}" + (f" stride {_s}" if _s > 1 else "")
        + f", N={_n}, {_c} channels, {_size}x{_size}"
        + (f" -> {_out}x{_out}" if _s > 1 else "") + _what, _n, _c, _size, _k, stride=_s)


dl_conv_workload("dl_conv3d_3x3x3_16c_32_n2", "conv3d 3x3x3, N=2, 16->16, 32^3, padding 1",
                 (2, 16, 32, 32, 32), (16, 16, 3, 3, 3), padding=1, pyconv_fn="pyconv.conv3d")
dl_conv_workload("dl_conv2d_1ch_3x3_2048", "conv2d 3x3, one channel, 2048x2048, padding 1",
                 (1, 1, 2048, 2048), (1, 1, 3, 3), padding=1)
dl_conv_workload("dl_conv2d_3x3_256c_14", "conv2d 3x3, N=1, 256->256, 14x14, padding 1",
                 (1, 256, 14, 14), (256, 256, 3, 3), padding=1)
dl_conv_workload("dl_conv2d_3x3_512c_14", "conv2d 3x3, N=1, 512->512, 14x14, padding 1 "
                 "(9.4 MB of weights: more than the L2)",
                 (1, 512, 14, 14), (512, 512, 3, 3), padding=1)
dl_conv_workload("dl_conv2d_3x3_512c_7_n8", "conv2d 3x3, N=8, 512->512, 7x7, padding 1 "
                 "(a ResNet's last stage: 49 outputs per image)",
                 (8, 512, 7, 7), (512, 512, 3, 3), padding=1)
dl_conv_workload("dl_conv2d_stem_7x7s2", "conv2d 7x7 stride 2, 3->64, 224x224, padding 3",
                 (1, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3)
dl_conv_workload("dl_conv_transpose2d_4x4s2_64to32_28_n8",
                 "conv_transpose2d 4x4 stride 2, N=8, 64->32, 28->56, padding 1",
                 (8, 64, 28, 28), (64, 32, 4, 4), stride=2, padding=1,
                 pyconv_fn="pyconv.conv_transpose2d", transposed=True)
dl_conv_workload("dl_conv_transpose1d_k8s4_32c_16384_n4",
                 "conv_transpose1d k=8 stride 4, N=4, 32->32, length 16384",
                 (4, 32, 16384), (32, 32, 8), stride=4,
                 pyconv_fn="pyconv.conv_transpose1d", transposed=True)
dl_conv_workload("dl_conv_transpose3d_4s2_16c_16_n2",
                 "conv_transpose3d 4^3 stride 2, N=2, 16->16, 16^3->32^3, padding 1",
                 (2, 16, 16, 16, 16), (16, 16, 4, 4, 4), stride=2, padding=1,
                 pyconv_fn="pyconv.conv_transpose3d", transposed=True)


# ---- image filters: sobel, gaussian, sepfilter --------------------------------

_IMG = (2048, 2048)
_NPX = _IMG[0] * _IMG[1]


def _build_image(rng):
    return {"image": rng.random(_IMG, dtype=F32)}


def _ref_skimage_sobel(inp):
    import skimage.filters as skf
    return skf.sobel(_f64(inp["image"]))


def _c_pyconv(path, *args_from, **kwargs):
    """pyconv contender calling ``path(inp[a] for a in args_from, **kwargs)``."""
    def make(inp, T):
        return pyconv_bind(path, T, *[inp[a] for a in args_from], **kwargs)
    return Contender("pyconv", "pyconv", make, threads="pyconv", requires=path)


def _c_skimage_sobel():
    def make(inp, T):
        import skimage.filters as skf
        x = inp["image"]
        return lambda: skf.sobel(x)
    return Contender("skimage.filters.sobel", "skimage", make, threads="serial")


_SOBEL_SCALE = 1.0 / (4.0 * math.sqrt(2.0))  # skimage: kernels /4, magnitude /sqrt(ndim)


def _c_cv2_sobel():
    def make(inp, T):
        cv2 = lib("cv2")
        x = inp["image"]
        b = cv2.BORDER_REFLECT

        def f():
            gx = cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3, scale=_SOBEL_SCALE, borderType=b)
            gy = cv2.Sobel(x, cv2.CV_32F, 0, 1, ksize=3, scale=_SOBEL_SCALE, borderType=b)
            return cv2.magnitude(gx, gy)
        return f
    return Contender("cv2.Sobel+magnitude", "cv2", make, threads="cv2")


def _c_ndimage_sobel():
    def make(inp, T):
        import scipy.ndimage as ndi
        x = inp["image"]

        def f():
            g = np.hypot(ndi.sobel(x, 0), ndi.sobel(x, 1))
            g *= F32(_SOBEL_SCALE)
            return g
        return f
    return Contender("scipy.ndimage.sobel+hypot", "scipy", make, threads="serial")


register(Workload(
    name="sobel_2048", group="filters", requires="pyconv.filters.sobel",
    description="pyconv.filters.sobel (magnitude, skimage semantics), 2048x2048 f32, mode='reflect'",
    build=_build_image, reference=_ref_skimage_sobel,
    flops=_NPX * (2 * 2 * (3 + 3) + 4), nbytes=4 * 2 * _NPX, taps=12,
    contenders=[_c_pyconv("pyconv.filters.sobel", "image"), _c_skimage_sobel(),
                _c_cv2_sobel(), _c_ndimage_sobel()],
))


def _build_rgb(rng):
    return {"image": rng.random(_IMG + (3,), dtype=F32)}


def _ref_skimage_sobel_per_channel(inp):
    import skimage.filters as skf
    x = _f64(inp["image"])
    return np.stack([skf.sobel(x[..., c]) for c in range(x.shape[-1])], axis=-1)


def _c_skimage_sobel_per_channel():
    def make(inp, T):
        import skimage.filters as skf
        x = inp["image"]
        return lambda: np.stack([skf.sobel(x[..., c]) for c in range(x.shape[-1])], axis=-1)
    return Contender("skimage.filters.sobel per channel", "skimage", make, threads="serial")


def _c_cv2_sobel_rgb(into_dst=False):
    """cv2.Sobel dx, dy and cv2.magnitude per channel; into_dst: all three into arrays
    allocated once (dst=, magnitude=) instead of new results on every call."""
    def make(inp, T):
        cv2 = lib("cv2")
        x = inp["image"]
        b = cv2.BORDER_REFLECT
        H, W, C = x.shape
        bufs = dict(gx=np.empty_like(x), gy=np.empty_like(x),
                    mag=np.empty((H, W * C), dtype=x.dtype)) if into_dst else {}

        def f():
            gx = cv2.Sobel(x, cv2.CV_32F, 1, 0, dst=bufs.get("gx"), ksize=3, scale=_SOBEL_SCALE,
                           borderType=b)
            gy = cv2.Sobel(x, cv2.CV_32F, 0, 1, dst=bufs.get("gy"), ksize=3, scale=_SOBEL_SCALE,
                           borderType=b)
            # cv2.magnitude takes one channel: the interleaved planes as one wide image
            return cv2.magnitude(gx.reshape(H, W * C), gy.reshape(H, W * C),
                                 magnitude=bufs.get("mag")).reshape(H, W, C)
        return f
    name = "cv2.Sobel+magnitude (dst=)" if into_dst else "cv2.Sobel+magnitude (3 channels)"
    return Contender(name, "cv2", make, threads="cv2")


register(Workload(
    name="sobel_2048x3", group="filters", requires="pyconv.filters.sobel",
    description="pyconv.filters.sobel per channel (channel_axis=-1), 2048x2048x3 f32, "
                "mode='reflect'",
    build=_build_rgb, reference=_ref_skimage_sobel_per_channel,
    flops=3 * _NPX * (2 * 2 * (3 + 3) + 4), nbytes=3 * 4 * 2 * _NPX, taps=12,
    contenders=[_c_pyconv("pyconv.filters.sobel", "image", channel_axis=-1),
                _c_skimage_sobel_per_channel(), _c_cv2_sobel_rgb()],
))


def _c_pyconv_sobel_rgb_out():
    def make(inp, T):
        out = np.empty_like(inp["image"])
        return pyconv_bind("pyconv.filters.sobel", T, inp["image"], channel_axis=-1, out=out)
    return Contender("pyconv (out=)", "pyconv", make, threads="pyconv",
                     requires="pyconv.filters.sobel")


# The same filter with every result written into arrays allocated once (a video loop's steady
# state): a fresh 48 MB result page-faults on every call (about 6 ms of zeroed pages here).
register(Workload(
    name="sobel_2048x3_out", group="filters", requires="pyconv.filters.sobel",
    description="pyconv.filters.sobel per channel into out=, 2048x2048x3 f32, against "
                "cv2.Sobel/magnitude into dst=",
    build=_build_rgb, reference=_ref_skimage_sobel_per_channel,
    flops=3 * _NPX * (2 * 2 * (3 + 3) + 4), nbytes=3 * 4 * 2 * _NPX, taps=12,
    contenders=[_c_pyconv_sobel_rgb_out(), _c_cv2_sobel_rgb(into_dst=True)],
))


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Normalised sampled Gaussian, radius int(truncate*sigma + 0.5) (ndimage's rule)."""
    r = int(truncate * sigma + 0.5)
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


_SIGMA = 2.0
_GK = gaussian_kernel1d(_SIGMA)


def _ref_gaussian(inp):
    import scipy.ndimage as ndi
    return ndi.gaussian_filter(_f64(inp["image"]), _SIGMA, mode="nearest", truncate=4.0)


def _c_ndimage_gaussian(sigma=None):
    def make(inp, T):
        import scipy.ndimage as ndi
        x, sg = inp["image"], _SIGMA if sigma is None else sigma
        return lambda: ndi.gaussian_filter(x, sg, mode="nearest", truncate=4.0)
    return Contender("scipy.ndimage.gaussian_filter", "scipy", make, threads="serial")


def _c_skimage_gaussian(sigma=None, channel_axis=None):
    def make(inp, T):
        import skimage.filters as skf
        x, sg = inp["image"], _SIGMA if sigma is None else sigma
        return lambda: skf.gaussian(x, sigma=sg, mode="nearest", truncate=4.0, preserve_range=True,
                                    channel_axis=channel_axis)
    return Contender("skimage.filters.gaussian", "skimage", make, threads="serial")


def _c_cv2_gaussianblur(sigma=None, name="cv2.GaussianBlur"):
    """cv2.GaussianBlur (an HxWx3 image: each channel on its own)."""
    def make(inp, T):
        cv2 = lib("cv2")
        x, sg = inp["image"], _SIGMA if sigma is None else sigma
        n = len(gaussian_kernel1d(sg))
        return lambda: cv2.GaussianBlur(x, (n, n), sg, sigmaY=sg, borderType=cv2.BORDER_REPLICATE)
    return Contender(name, "cv2", make, threads="cv2")


def _c_cv2_sepfilter(kx_key, ky_key, border="BORDER_REPLICATE", name="cv2.sepFilter2D"):
    """cv2.sepFilter2D: kernelX runs along axis 1 (rows), kernelY along axis 0."""
    def make(inp, T):
        cv2 = lib("cv2")
        x = inp["image"]
        kx = np.asarray(inp[kx_key], dtype=F32)
        ky = np.asarray(inp[ky_key], dtype=F32)
        b = getattr(cv2, border)
        return lambda: cv2.sepFilter2D(x, -1, kx, ky, borderType=b)
    return Contender(name, "cv2", make, threads="cv2")


def _build_image_gauss(rng):
    return {"image": rng.random(_IMG, dtype=F32), "gk": _GK.astype(F32)}


register(Workload(
    name="gaussian_s2_2048", group="filters", requires="pyconv.filters.gaussian",
    description=f"pyconv.filters.gaussian sigma=2 ({len(_GK)} taps/axis), 2048x2048 f32, mode='nearest'",
    build=_build_image_gauss, reference=_ref_gaussian,
    flops=_NPX * 2 * 2 * len(_GK), nbytes=4 * 2 * _NPX, taps=2 * len(_GK),
    contenders=[_c_pyconv("pyconv.filters.gaussian", "image", sigma=_SIGMA, mode="nearest", truncate=4.0),
                _c_ndimage_gaussian(), _c_skimage_gaussian(), _c_cv2_gaussianblur(),
                _c_cv2_sepfilter("gk", "gk")],
))


def _ref_gaussian_rgb(inp):
    import scipy.ndimage as ndi
    return ndi.gaussian_filter(_f64(inp["image"]), (_SIGMA, _SIGMA, 0), mode="nearest",
                               truncate=4.0)


register(Workload(
    name="gaussian_s2_2048x3", group="filters", requires="pyconv.filters.gaussian",
    description=f"pyconv.filters.gaussian sigma=2 per channel (channel_axis=-1), 2048x2048x3 "
                "f32 channel-last, mode='nearest'",
    build=_build_rgb, reference=_ref_gaussian_rgb,
    flops=3 * _NPX * 2 * 2 * len(_GK), nbytes=3 * 4 * 2 * _NPX, taps=2 * len(_GK),
    contenders=[_c_pyconv("pyconv.filters.gaussian", "image", sigma=_SIGMA, mode="nearest",
                          truncate=4.0, channel_axis=-1),
                _c_ndimage_gaussian((_SIGMA, _SIGMA, 0)), _c_skimage_gaussian(channel_axis=-1),
                _c_cv2_gaussianblur(name="cv2.GaussianBlur (3 channels)")],
))


# the 15-tap Gaussian of the separable-filter targets: sigma 1.75, radius int(4 * 1.75 + 0.5) = 7
_SIGMA15 = 1.75
_GK15 = gaussian_kernel1d(_SIGMA15)


def _build_image_gauss15(rng):
    return {"image": rng.random(_IMG, dtype=F32), "gk": _GK15.astype(F32)}


def _ref_gaussian15(inp):
    import scipy.ndimage as ndi
    return ndi.gaussian_filter(_f64(inp["image"]), _SIGMA15, mode="nearest", truncate=4.0)


register(Workload(
    name="gaussian_15tap_2048", group="filters", requires="pyconv.filters.gaussian",
    description=f"pyconv.filters.gaussian sigma={_SIGMA15} ({len(_GK15)} taps/axis), 2048x2048 "
                "f32, mode='nearest'",
    build=_build_image_gauss15, reference=_ref_gaussian15,
    flops=_NPX * 2 * 2 * len(_GK15), nbytes=4 * 2 * _NPX, taps=2 * len(_GK15),
    contenders=[_c_pyconv("pyconv.filters.gaussian", "image", sigma=_SIGMA15, mode="nearest",
                          truncate=4.0),
                _c_ndimage_gaussian(_SIGMA15), _c_skimage_gaussian(_SIGMA15),
                _c_cv2_gaussianblur(_SIGMA15), _c_cv2_sepfilter("gk", "gk")],
))


# the box (moving-average) filter: scipy keeps running sums (cost independent of the size);
# cv2.blur normalises a box sum too (BORDER_REFLECT is scipy's 'reflect')
_BOX = 5


def _ref_uniform(inp):
    import scipy.ndimage as ndi
    return ndi.uniform_filter(_f64(inp["image"]), _BOX, mode="reflect")


def _c_ndimage_uniform():
    def make(inp, T):
        import scipy.ndimage as ndi
        x = inp["image"]
        return lambda: ndi.uniform_filter(x, _BOX, mode="reflect")
    return Contender("scipy.ndimage.uniform_filter", "scipy", make, threads="serial")


def _c_cv2_blur():
    def make(inp, T):
        cv2 = lib("cv2")
        x = inp["image"]
        return lambda: cv2.blur(x, (_BOX, _BOX), borderType=cv2.BORDER_REFLECT)
    return Contender("cv2.blur", "cv2", make, threads="cv2")


register(Workload(
    name="uniform_5_2048", group="filters", requires="pyconv.filters.uniform",
    description=f"pyconv.filters.uniform size={_BOX}, 2048x2048 f32, mode='reflect'",
    build=_build_image, reference=_ref_uniform,
    flops=_NPX * 2 * _BOX, nbytes=4 * 2 * _NPX, taps=2 * _BOX,
    contenders=[_c_pyconv("pyconv.filters.uniform", "image", size=_BOX, mode="reflect"),
                _c_ndimage_uniform(), _c_cv2_blur()],
))


# a user's dense 15x15 kernel that happens to be rank 1 (outer product of two random 15-tap
# factors), through correlate, against sepfilter with the factors (a pyconv baseline) and the
# dense peers
_R1 = 15


def _build_rank1(rng):
    u = rng.standard_normal(_R1).astype(F32)
    v = rng.standard_normal(_R1).astype(F32)
    return {"image": rng.random(_IMG, dtype=F32), "kernel": np.outer(u, v).astype(F32),
            "u": u, "v": v}


def _ref_rank1(inp):
    import scipy.ndimage as ndi
    return ndi.correlate(_f64(inp["image"]), _f64(inp["kernel"]), mode="reflect")


def _c_pyconv_factors():
    def make(inp, T):
        return pyconv_bind("pyconv.filters.sepfilter", T, inp["image"], [inp["u"], inp["v"]],
                           mode="reflect")
    return Contender("pyconv.filters.sepfilter with the factors", "pyconv", make,
                     threads="pyconv", baseline=True, requires="pyconv.filters.sepfilter")


register(Workload(
    name="rank1_15x15_2048", group="filters", requires="pyconv.filters.correlate",
    description="pyconv.filters.correlate with a dense rank-1 15x15 kernel (found separable "
                "by itself), 2048x2048 f32, mode='reflect', against sepfilter with its factors",
    build=_build_rank1, reference=_ref_rank1,
    flops=_NPX * 2 * 2 * _R1, nbytes=4 * (2 * _NPX + _R1 * _R1), taps=_R1 * _R1,
    contenders=[_c_pyconv("pyconv.filters.correlate", "image", "kernel", mode="reflect"),
                _c_pyconv_factors(), c_cv2_filter2d("reflect")],
))


_SEP_TAPS = 13


def _build_sep(rng):
    return {"image": rng.random(_IMG, dtype=F32),
            "k0": rng.standard_normal(_SEP_TAPS, dtype=F32),   # axis 0 (columns)
            "k1": rng.standard_normal(_SEP_TAPS, dtype=F32)}   # axis 1 (rows)


def _ref_sep(inp):
    import scipy.ndimage as ndi
    y = ndi.correlate1d(_f64(inp["image"]), _f64(inp["k0"]), axis=0, mode="reflect")
    return ndi.correlate1d(y, _f64(inp["k1"]), axis=1, mode="reflect")


def _c_pyconv_sep():
    def make(inp, T):
        return pyconv_bind("pyconv.filters.sepfilter", T, inp["image"], [inp["k0"], inp["k1"]], mode="reflect")
    return Contender("pyconv", "pyconv", make, threads="pyconv", requires="pyconv.filters.sepfilter")


def _c_ndimage_sep():
    def make(inp, T):
        import scipy.ndimage as ndi
        x, k0, k1 = inp["image"], inp["k0"], inp["k1"]
        return lambda: ndi.correlate1d(ndi.correlate1d(x, k0, axis=0, mode="reflect"), k1, axis=1, mode="reflect")
    return Contender("scipy.ndimage.correlate1d x2", "scipy", make, threads="serial")


register(Workload(
    name="sepfilter_13tap_2048", group="filters", requires="pyconv.filters.sepfilter",
    description="pyconv.filters.sepfilter, 2048x2048 f32, 13-tap row + 13-tap column kernels, mode='reflect'",
    build=_build_sep, reference=_ref_sep,
    flops=_NPX * 2 * 2 * _SEP_TAPS, nbytes=4 * (2 * _NPX + 2 * _SEP_TAPS), taps=2 * _SEP_TAPS,
    contenders=[_c_pyconv_sep(), _c_ndimage_sep(),
                _c_cv2_sepfilter("k1", "k0", border="BORDER_REFLECT")],
))


# ----------------------------------------------------------------------------
# pyconv.dask: 8192x8192 Gaussian, 4 chunks per axis, dask's threaded scheduler
# ----------------------------------------------------------------------------

_BIG = (8192, 8192)
_DASK_CHUNKS = 2048


def _build_big(rng):
    return {"image": rng.random(_BIG, dtype=F32)}


def _dask_call(T, fn):
    """fn() on dask's threaded scheduler with T workers; each chunk's pyconv call gets one
    thread (num_threads=1, which is also pyconv.dask's default rule when T > 1): the workers
    are the parallelism."""
    def call():
        import dask
        with dask.config.set(scheduler="threads", num_workers=T):
            return fn()
    return call


def _c_on_dask(name, module, run, baseline=False, requires=None):
    """A contender that runs ``run(dx, out)`` on the image as a dask array in 2048² chunks
    (``out``: a float32 array of the result's shape, allocated outside the timed call)."""
    def make(inp, T):
        import dask.array as da
        dx = da.from_array(inp["image"], chunks=_DASK_CHUNKS)
        out = np.empty(_BIG, dtype=F32)
        return _dask_call(T, lambda: run(dx, out))
    return Contender(name, module, make, threads="dask", baseline=baseline, requires=requires)


def _pyconv_dask_gaussian(dx, **kw):
    return resolve("pyconv.dask").gaussian(dx, _SIGMA, mode="nearest", num_threads=1, **kw)


def _dask_image_gaussian(dx):
    return lib("dask_image.ndfilters").gaussian_filter(dx, _SIGMA, mode="nearest", truncate=4.0)


def _stored(y, out):
    import dask.array as da
    da.store(y, out, lock=False)
    return out


_DASK_CONTENDERS = [
    _c_on_dask("pyconv.dask.gaussian(out=)", "pyconv",
               lambda dx, out: _pyconv_dask_gaussian(dx, out=out),
               requires="pyconv.dask.gaussian"),
    _c_on_dask("pyconv.dask.gaussian().compute()", "pyconv",
               lambda dx, out: _pyconv_dask_gaussian(dx).compute(), baseline=True,
               requires="pyconv.dask.gaussian"),
    # the same materialisation as dask-image's "store into out" below: da.store of the lazy
    # result (each chunk's result is allocated, then copied into out)
    _c_on_dask("pyconv.dask.gaussian() store into out", "pyconv",
               lambda dx, out: _stored(_pyconv_dask_gaussian(dx), out), baseline=True,
               requires="pyconv.dask.gaussian"),
    _c_on_dask("dask_image gaussian_filter .compute()", "dask_image",
               lambda dx, out: _dask_image_gaussian(dx).compute()),
    _c_on_dask("dask_image gaussian_filter store into out", "dask_image",
               lambda dx, out: _stored(_dask_image_gaussian(dx), out)),
]


def _c_pyconv_in_memory(into_out):
    def make(inp, T):
        x = inp["image"]
        kwargs = {"out": np.empty(_BIG, dtype=F32)} if into_out else {}
        return pyconv_bind("pyconv.filters.gaussian", T, x, sigma=_SIGMA, mode="nearest",
                           truncate=4.0, **kwargs)
    name = "pyconv.filters.gaussian in memory" + ("(out=)" if into_out else "")
    return Contender(name, "pyconv", make, threads="pyconv", baseline=True,
                     requires="pyconv.filters.gaussian")


def _ref_gaussian_big(inp):
    import scipy.ndimage as ndi
    return ndi.gaussian_filter(_f64(inp["image"]), _SIGMA, mode="nearest", truncate=4.0)


register(Workload(
    name="gaussian_s2_8192", group="filters", requires="pyconv.filters.gaussian",
    description="pyconv.filters.gaussian sigma=2 on 8192x8192 f32 in memory (256 MB in, 256 MB "
                "out: compare GB/s with the triad bandwidth), mode='nearest'",
    build=_build_big, reference=_ref_gaussian_big,
    flops=_BIG[0] * _BIG[1] * 2 * 2 * len(_GK), nbytes=4 * 2 * _BIG[0] * _BIG[1],
    taps=2 * len(_GK),
    contenders=[_c_pyconv("pyconv.filters.gaussian", "image", sigma=_SIGMA, mode="nearest",
                          truncate=4.0),
                _c_pyconv_in_memory(True), _c_cv2_gaussianblur()],
))


register(Workload(
    name="dask_gaussian_8192", group="dask", requires="pyconv.dask.gaussian",
    description=f"pyconv.dask.gaussian sigma=2 on 8192x8192 f32 in {_DASK_CHUNKS}^2 chunks "
                "(4 per axis), dask threaded scheduler with T workers, against the in-memory "
                "call and dask-image on the same chunks",
    build=_build_big, reference=_ref_gaussian_big,
    flops=_BIG[0] * _BIG[1] * 2 * 2 * len(_GK), nbytes=4 * 2 * _BIG[0] * _BIG[1],
    taps=2 * len(_GK),
    contenders=_DASK_CONTENDERS[:3] + [_c_pyconv_in_memory(True), _c_pyconv_in_memory(False)]
    + _DASK_CONTENDERS[3:],
))


def workload_names() -> List[str]:
    return [w.name for w in REGISTRY]
