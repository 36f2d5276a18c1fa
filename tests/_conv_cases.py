"""Random valid argument sets for the convolution-layer tests (hypothesis strategies), and
the tolerance scale of a convolution.  Nothing here calls pyconv."""
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


@dataclass
class ConvCase:
    nsp: int
    x: np.ndarray
    weight: np.ndarray
    bias: object
    kwargs: dict = field(default_factory=dict)
    dtype: np.dtype = F64

    @property
    def ntaps(self):
        """Terms summed per output element (bias aside)."""
        return int(np.prod(self.weight.shape[1:]))

    @property
    def scale(self):
        return conv_scale(self.x, self.weight, self.bias)

    def __repr__(self):
        b = None if self.bias is None else self.bias.shape
        return (f"ConvCase({self.nsp}-D x{self.x.shape} w{self.weight.shape} bias{b} "
                f"{self.kwargs} {self.dtype})")


def conv_scale(x, weight, bias=None):
    """max|x| * max_o sum|w[o]| + max|bias|: bounds every partial sum of one output, so it
    sets the absolute rounding error of a float32 result that cancels."""
    x = np.abs(np.asarray(x, dtype=np.float64))
    x = x[np.isfinite(x)]
    w = np.abs(np.asarray(weight, dtype=np.float64))
    w = np.where(np.isfinite(w), w, 0.0)
    s = (float(x.max()) if x.size else 0.0) * float(w.reshape(w.shape[0], -1).sum(1).max())
    if bias is not None:
        s += float(np.abs(np.asarray(bias, dtype=np.float64)).max())
    return s


def _arg(pick, values):
    """An int when every axis agrees (sometimes), else a tuple."""
    if len(set(values)) == 1 and pick([False, True]):
        return values[0]
    return tuple(values)


def build_conv_case(pick, seed, nsp, dtypes=(F32, F64), max_k=5, max_s=3, max_d=3, max_extra=3,
                    modes=PADDING_MODES):
    """A valid conv{nsp}d call with every parameter chosen by ``pick(options)``, arrays from
    ``seed``.  Groups: 1, 2, 3, depthwise (groups = C) or depthwise with a multiplier."""
    rint = lambda a, b: pick(list(range(a, b + 1)))  # noqa: E731
    batch = pick([None, 1, 2, 3])
    gkind = pick(["1", "2", "3", "depthwise", "multiplier"])
    if gkind in ("1", "2", "3"):
        groups = int(gkind)
        cpg, opg = rint(1, 3), rint(1, 3)
    else:
        groups = rint(1, 4)
        cpg, opg = 1, (1 if gkind == "depthwise" else rint(2, 3))
    ksize = [rint(1, max_k) for _ in range(nsp)]
    stride = [rint(1, max_s) for _ in range(nsp)]
    dilation = [rint(1, max_d) for _ in range(nsp)]
    mode = pick(list(modes))
    pkind = pick(["int", "tuple", "same", "valid"])
    if pkind == "same":
        stride = [1] * nsp
        pads = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(ksize, dilation)]
        padding = "same"
    elif pkind == "valid":
        pads = [(0, 0)] * nsp
        padding = "valid"
    else:
        if pkind == "int":
            p = rint(0, 3)
            pvals = [p] * nsp
            padding = p
        else:
            pvals = [rint(0, 3) for _ in range(nsp)]
            padding = tuple(pvals)
        pads = [(p, p) for p in pvals]
    size = []
    for k, d, (lo, hi) in zip(ksize, dilation, pads):
        need = max(1, d * (k - 1) + 1 - lo - hi)
        if mode == "reflect":
            need = max(need, max(lo, hi) + 1)
        elif mode == "circular":
            need = max(need, max(lo, hi))
        size.append(need + rint(0, max_extra))
    dtype = np.dtype(pick(list(dtypes)))
    has_bias = pick([False, True])
    rng = np.random.default_rng(seed)
    shape = ((batch,) if batch else ()) + (groups * cpg,) + tuple(size)
    x = rng.uniform(-1, 1, shape).astype(dtype)
    w = rng.standard_normal((groups * opg, cpg) + tuple(ksize)).astype(dtype)
    b = rng.standard_normal(groups * opg).astype(dtype) if has_bias else None
    kwargs = dict(stride=_arg(pick, stride), padding=padding, dilation=_arg(pick, dilation),
                  groups=groups, padding_mode=mode)
    return ConvCase(nsp, x, w, b, kwargs, dtype)


@st.composite
def conv_cases(draw, nsp, **kw):
    """Hypothesis strategy of :func:`build_conv_case`."""
    seed = draw(st.integers(0, 2**32 - 1))
    return build_conv_case(lambda opts: draw(st.sampled_from(opts)), seed, nsp, **kw)


def random_conv_cases(rng, nsp, count, **kw):
    """``count`` cases of :func:`build_conv_case` chosen by a numpy Generator."""
    pick = lambda opts: opts[int(rng.integers(len(opts)))]  # noqa: E731
    return [build_conv_case(pick, int(rng.integers(2**32)), nsp, **kw) for _ in range(count)]


@st.composite
def conv_transpose_cases(draw, nsp, max_k=4, max_s=3, max_d=3):
    """A valid conv_transpose{nsp}d call (float64): weight (C, O // groups, *k)."""
    batch = draw(st.sampled_from([None, 1, 2]))
    groups = draw(st.integers(1, 3))
    cpg, opg = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    ksize = [draw(st.integers(1, max_k)) for _ in range(nsp)]
    stride = [draw(st.integers(1, max_s)) for _ in range(nsp)]
    dilation = [draw(st.integers(1, max_d)) for _ in range(nsp)]
    size = [draw(st.integers(1, 5)) for _ in range(nsp)]
    output_padding = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)]
    padding = []
    for i, k, s, d, op in zip(size, ksize, stride, dilation, output_padding):
        full = (i - 1) * s + d * (k - 1) + 1 + op
        padding.append(draw(st.integers(0, max(0, min(3, (full - 1) // 2)))))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = ((batch,) if batch else ()) + (groups * cpg,) + tuple(size)
    x = rng.uniform(-1, 1, shape)
    w = rng.standard_normal((groups * cpg, opg) + tuple(ksize))
    b = rng.standard_normal(groups * opg) if draw(st.booleans()) else None
    pick = lambda opts: draw(st.sampled_from(opts))  # noqa: E731
    kwargs = dict(stride=_arg(pick, stride), padding=_arg(pick, padding),
                  output_padding=_arg(pick, output_padding), groups=groups,
                  dilation=_arg(pick, dilation))
    return ConvCase(nsp, x, w, b, kwargs, F64)


def transpose_scale(x, weight, bias=None):
    """conv_scale for weight (C, O // groups, *k): max|x| * sum|w| over the input channels."""
    w = np.abs(np.asarray(weight, dtype=np.float64))
    per_out = w.sum(axis=(0,) + tuple(range(2, w.ndim)))
    s = float(np.abs(x).max()) * float(per_out.max())
    if bias is not None:
        s += float(np.abs(bias).max())
    return s

