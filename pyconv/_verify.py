"""``pyconv.verify()`` and ``pyconv verify``: every public operation against a reference.

Each operation runs on random arrays and on a real image (``skimage.data.camera``), in
float32 and in float64, and is compared with an independent implementation:
scipy.ndimage and scikit-image for :mod:`pyconv.filters`, scipy.signal for
:mod:`pyconv.signal`, :mod:`pyconv.reference` (scipy.signal in float64) and, when it can be
imported, ``torch.nn.functional`` for the layers.

The inputs are float32 numbers (also for the float64 run), so both runs see the same values
and the reference is computed once, in float64.  The error of a case is
``max |pyconv - reference| / scale`` with ``scale = max|x| * sum|w| (+ max|bias|)``, the
largest magnitude any output's sum of products can reach; it must stay below
1e-5 in float32 and 1e-10 in float64.  The result must also have the input's dtype.
"""
import functools
import sys
import time

import numpy as np

__all__ = ["verify"]

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}
DTYPES = (np.float32, np.float64)
MODES = ("reflect", "constant", "nearest", "mirror", "wrap")


class _Results:
    """Worst error per (operation, reference, dtype), in the order first seen."""

    def __init__(self):
        self.rows = {}
        self.failures = []

    def add(self, op, ref, dtype, label, err, note=None):
        key = (op, ref, dtype)
        row = self.rows.setdefault(key, {"cases": 0, "err": 0.0})
        row["cases"] += 1
        if not err <= row["err"]:  # NaN and inf count as the worst
            row["err"] = err
        if not err <= TOLERANCE[dtype]:
            self.failures.append("%s vs %s, %s, %s: %s" % (op, ref, dtype, label,
                                                           note or "error %.2e" % err))

    def passed(self, key):
        return self.rows[key]["err"] <= TOLERANCE[key[2]]


def _rel_err(got, ref, scale, dtype):
    got = np.asarray(got)
    if got.dtype != dtype:
        return np.inf, "returned %s for %s input" % (got.dtype, np.dtype(dtype))
    if got.shape != ref.shape:
        return np.inf, "shape %s, reference %s" % (got.shape, ref.shape)
    gnan, rnan = np.isnan(got), np.isnan(ref)
    if (gnan != rnan).any():
        return np.inf, "NaN where the reference has none (or the reverse)"
    diff = np.abs(got.astype(np.float64) - ref)[~rnan]
    if not diff.size:
        return 0.0, None
    return float(diff.max()) / max(scale, np.finfo(np.float64).tiny), None


class _Checker:
    def __init__(self, results):
        self.results = results

    def __call__(self, op, ref_name, label, ours, ref, scale):
        """``ours(cast)`` runs pyconv with its array arguments passed through ``cast``;
        ``ref()`` is the float64 reference."""
        try:
            expected = np.asarray(ref(), dtype=np.float64)
        except Exception as exc:  # a broken reference is a failed check, not a crash
            for dt in DTYPES:
                self.results.add(op, ref_name, np.dtype(dt).name, label, np.inf,
                                 "reference raised %s: %s" % (type(exc).__name__, exc))
            return
        for dt in DTYPES:
            def cast(a, dt=dt):
                return None if a is None else np.asarray(a, dtype=dt)
            name = np.dtype(dt).name
            try:
                got = ours(cast)
            except Exception as exc:
                self.results.add(op, ref_name, name, label, np.inf,
                                 "raised %s: %s" % (type(exc).__name__, exc))
                continue
            err, note = _rel_err(got, expected, scale, dt)
            self.results.add(op, ref_name, name, label, err, note)


def _amax(*arrays):
    return max(float(np.max(np.abs(a))) if np.ndim(a) else abs(float(a)) for a in arrays)


# --------------------------------------------------------------------------------------------
# the cases


def _filter_cases(check, rnd, cam, quick):
    import scipy.ndimage as ndi
    import skimage.filters as skf

    from . import filters as pf

    modes = ("reflect", "constant", "wrap") if quick else MODES
    x1, x2, x3 = rnd((101,)), rnd((37, 53)), rnd((9, 11, 13))
    rgb = rnd((31, 29, 3))

    def cv(mode):
        return 0.5 if mode == "constant" else 0.0

    # correlate / convolve
    k5, k45, k333, k7, k3 = rnd((5, 5)), rnd((4, 5)), rnd((3, 3, 3)), rnd((7,)), rnd((3, 3))
    k77 = rnd((7, 7))
    rank1 = np.outer(rnd((7,)), rnd((5,)))
    for name, ref_fn in (("correlate", ndi.correlate), ("convolve", ndi.convolve)):
        fn = getattr(pf, name)
        op = "filters." + name
        for m in modes:
            check(op, "scipy.ndimage", "random 2-D, mode=%s" % m,
                  lambda c: fn(c(x2), c(k5), mode=m, cval=cv(m)),
                  lambda: ref_fn(x2, k5, mode=m, cval=cv(m)), _amax(x2, cv(m)) * np.abs(k5).sum())
        check(op, "scipy.ndimage", "random 2-D, 4x5 kernel, origin",
              lambda c: fn(c(x2), c(k45), origin=(1, -1)),
              lambda: ref_fn(x2, k45, origin=(1, -1)), _amax(x2) * np.abs(k45).sum())
        check(op, "scipy.ndimage", "random 3-D",
              lambda c: fn(c(x3), c(k333), mode="mirror"),
              lambda: ref_fn(x3, k333, mode="mirror"), _amax(x3) * np.abs(k333).sum())
        check(op, "scipy.ndimage", "random 1-D",
              lambda c: fn(c(x1), c(k7), mode="nearest"),
              lambda: ref_fn(x1, k7, mode="nearest"), _amax(x1) * np.abs(k7).sum())
        check(op, "scipy.ndimage", "camera, 7x7",
              lambda c: fn(c(cam), c(k77)),
              lambda: ref_fn(cam, k77), _amax(cam) * np.abs(k77).sum())
        check(op, "scipy.ndimage", "camera, rank-1 7x5 (separable path)",
              lambda c: fn(c(cam), c(rank1), mode="wrap"),
              lambda: ref_fn(cam, rank1, mode="wrap"), _amax(cam) * np.abs(rank1).sum())
        check(op, "scipy.ndimage", "RGB, channel_axis=-1",
              lambda c: fn(c(rgb), c(k3), channel_axis=-1),
              lambda: ref_fn(rgb, k3[:, :, None]), _amax(rgb) * np.abs(k3).sum())

    # correlate1d / convolve1d
    k4 = rnd((4,))
    k9 = rnd((9,))
    for name, ref_fn in (("correlate1d", ndi.correlate1d), ("convolve1d", ndi.convolve1d)):
        fn = getattr(pf, name)
        op = "filters." + name
        for m in modes:
            for axis in (0, 1):
                check(op, "scipy.ndimage", "random 2-D, axis=%d, mode=%s" % (axis, m),
                      lambda c: fn(c(x2), c(k7), axis=axis, mode=m, cval=cv(m)),
                      lambda: ref_fn(x2, k7, axis=axis, mode=m, cval=cv(m)),
                      _amax(x2, cv(m)) * np.abs(k7).sum())
        check(op, "scipy.ndimage", "random 3-D, axis=1, even kernel, origin",
              lambda c: fn(c(x3), c(k4), axis=1, origin=-1),
              lambda: ref_fn(x3, k4, axis=1, origin=-1), _amax(x3) * np.abs(k4).sum())
        check(op, "scipy.ndimage", "camera, axis=0",
              lambda c: fn(c(cam), c(k9), axis=0),
              lambda: ref_fn(cam, k9, axis=0), _amax(cam) * np.abs(k9).sum())

    # sepfilter: the n-D correlation with the outer-product kernel
    def outer(ks):
        ks = [np.ones(1) if k is None else k for k in ks]
        return functools.reduce(np.multiply.outer, ks)

    k5b = rnd((5,))
    for m in modes:
        check("filters.sepfilter", "scipy.ndimage", "random 2-D, mode=%s" % m,
              lambda c: pf.sepfilter(c(x2), [c(k7), c(k5b)], mode=m, cval=cv(m)),
              lambda: ndi.correlate(x2, outer([k7, k5b]), mode=m, cval=cv(m)),
              _amax(x2, cv(m)) * np.abs(k7).sum() * np.abs(k5b).sum())
    check("filters.sepfilter", "scipy.ndimage", "random 3-D, one axis skipped",
          lambda c: pf.sepfilter(c(x3), [c(k4), None, c(k5b)], mode="nearest"),
          lambda: ndi.correlate(x3, outer([k4, None, k5b]), mode="nearest"),
          _amax(x3) * np.abs(k4).sum() * np.abs(k5b).sum())
    check("filters.sepfilter", "scipy.ndimage", "camera",
          lambda c: pf.sepfilter(c(cam), [c(k9), c(k9)]),
          lambda: ndi.correlate(cam, outer([k9, k9])),
          _amax(cam) * np.abs(k9).sum() ** 2)

    # edge filters: scikit-image (sum of |weights| of each derivative kernel is 2)
    for name in ("sobel", "scharr", "prewitt"):
        fn, ref_fn = getattr(pf, name), getattr(skf, name)
        op = "filters." + name
        for m in modes:
            for axis in (None, 0) if quick else (None, 0, 1):
                check(op, "scikit-image", "random 2-D, axis=%s, mode=%s" % (axis, m),
                      lambda c: fn(c(x2), axis=axis, mode=m, cval=cv(m)),
                      lambda: ref_fn(x2, axis=axis, mode=m, cval=cv(m)), 2 * _amax(x2, cv(m)))
        check(op, "scikit-image", "random 3-D",
              lambda c: fn(c(x3)), lambda: ref_fn(x3), 2 * _amax(x3))
        check(op, "scikit-image", "camera",
              lambda c: fn(c(cam)), lambda: ref_fn(cam), 2 * _amax(cam))
        check(op, "scikit-image", "RGB, channel_axis=-1",
              lambda c: fn(c(rgb), channel_axis=-1),
              lambda: np.stack([ref_fn(rgb[..., i]) for i in range(3)], axis=-1),
              2 * _amax(rgb))

    # gaussian: scipy.ndimage and scikit-image
    def sk_gauss(x, sigma, **kw):
        return skf.gaussian(x, sigma=sigma, preserve_range=True, **kw)

    for ref_name, ref_fn in (("scipy.ndimage", ndi.gaussian_filter),
                             ("scikit-image", sk_gauss)):
        for m in modes:
            for sigma in (1.5, (2.0, 0.7)):
                check("filters.gaussian", ref_name, "random 2-D, sigma=%s, mode=%s" % (sigma, m),
                      lambda c: pf.gaussian(c(x2), sigma, mode=m, cval=cv(m)),
                      lambda: ref_fn(x2, sigma, mode=m, cval=cv(m)), _amax(x2, cv(m)))
        check("filters.gaussian", ref_name, "random 3-D, truncate=2.5",
              lambda c: pf.gaussian(c(x3), 1.0, truncate=2.5),
              lambda: ref_fn(x3, 1.0, mode="nearest", truncate=2.5), _amax(x3))
        check("filters.gaussian", ref_name, "camera, sigma=3",
              lambda c: pf.gaussian(c(cam), 3.0), lambda: ref_fn(cam, 3.0, mode="nearest"),
              _amax(cam))
    check("filters.gaussian", "scipy.ndimage", "RGB, channel_axis=-1",
          lambda c: pf.gaussian(c(rgb), 1.2, channel_axis=-1),
          lambda: ndi.gaussian_filter(rgb, (1.2, 1.2, 0), mode="nearest"), _amax(rgb))
    check("filters.gaussian", "scikit-image", "RGB, channel_axis=-1",
          lambda c: pf.gaussian(c(rgb), 1.2, channel_axis=-1),
          lambda: sk_gauss(rgb, 1.2, channel_axis=-1), _amax(rgb))

    # uniform
    for m in modes:
        for size in (3, (4, 5)):
            check("filters.uniform", "scipy.ndimage", "random 2-D, size=%s, mode=%s" % (size, m),
                  lambda c: pf.uniform(c(x2), size, mode=m, cval=cv(m)),
                  lambda: ndi.uniform_filter(x2, size, mode=m, cval=cv(m)), _amax(x2, cv(m)))
    check("filters.uniform", "scipy.ndimage", "random 3-D",
          lambda c: pf.uniform(c(x3), 3), lambda: ndi.uniform_filter(x3, 3), _amax(x3))
    check("filters.uniform", "scipy.ndimage", "camera, size=7",
          lambda c: pf.uniform(c(cam), 7), lambda: ndi.uniform_filter(cam, 7), _amax(cam))
    check("filters.uniform", "scipy.ndimage", "RGB, channel_axis=-1",
          lambda c: pf.uniform(c(rgb), 5, channel_axis=-1),
          lambda: ndi.uniform_filter(rgb, (5, 5, 1)), _amax(rgb))


def _signal_cases(check, rnd, cam, quick):
    import scipy.signal as ss

    from . import signal as ps

    xs, k54 = rnd((23, 31)), rnd((5, 4))
    crop = cam[192:320, 192:320]
    k77 = rnd((7, 7))
    boundaries = ("fill", "symm") if quick else ("fill", "wrap", "symm")
    for name in ("convolve2d", "correlate2d"):
        fn, ref_fn = getattr(ps, name), getattr(ss, name)
        op = "signal." + name
        for mode in ("full", "same", "valid"):
            for b in boundaries:
                fv = 0.5 if b == "fill" else 0
                check(op, "scipy.signal", "random, mode=%s, boundary=%s" % (mode, b),
                      lambda c: fn(c(xs), c(k54), mode=mode, boundary=b, fillvalue=fv),
                      lambda: ref_fn(xs, k54, mode=mode, boundary=b, fillvalue=fv),
                      _amax(xs, fv) * np.abs(k54).sum())
        check(op, "scipy.signal", "camera 128x128, mode=same, boundary=symm",
              lambda c: fn(c(crop), c(k77), mode="same", boundary="symm"),
              lambda: ref_fn(crop, k77, mode="same", boundary="symm"),
              _amax(crop) * np.abs(k77).sum())

    shapes = [((200,), (9,)), ((23, 31), (4, 5)), ((9, 10, 11), (3, 2, 3))]
    pairs = [(rnd(a), rnd(b)) for a, b in shapes]
    for name in ("convolve", "correlate"):
        fn, ref_fn = getattr(ps, name), getattr(ss, name)
        op = "signal." + name
        for x, k in pairs:
            for mode in ("full", "same", "valid"):
                check(op, "scipy.signal", "random %d-D, mode=%s" % (x.ndim, mode),
                      lambda c: fn(c(x), c(k), mode=mode),
                      lambda: ref_fn(x, k, mode=mode, method="direct"),
                      _amax(x) * np.abs(k).sum())
        small = crop[:64, :64]
        check(op, "scipy.signal", "camera 64x64, mode=same",
              lambda c: fn(c(small), c(k77), mode="same"),
              lambda: ref_fn(small, k77, mode="same", method="direct"),
              _amax(small) * np.abs(k77).sum())


def _torch_layers(torch):
    F = torch.nn.functional
    pad_modes = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}

    def T(a):
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a, np.float64))

    def conv(nsp):
        def f(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
            X = T(x)
            if padding_mode != "zeros":
                p = (padding,) * nsp if np.isscalar(padding) else tuple(padding)
                X = F.pad(X, tuple(q for pi in reversed(p) for q in (pi, pi)),
                          mode=pad_modes[padding_mode])
                padding = 0
            fn = getattr(F, "conv%dd" % nsp)
            return fn(X, T(w), T(b), stride, padding, dilation, groups).numpy()
        return f

    def transpose(nsp):
        def f(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
            fn = getattr(F, "conv_transpose%dd" % nsp)
            return fn(T(x), T(w), T(b), stride, padding, output_padding, groups,
                      dilation).numpy()
        return f

    def depthwise(x, w, b=None, stride=1, padding=0, dilation=1, padding_mode="zeros"):
        return conv(2)(x, w, b, stride, padding, dilation, groups=x.shape[-3],
                       padding_mode=padding_mode)

    def separable(x, dw, pw, b=None, stride=1, padding=0, dilation=1, padding_mode="zeros"):
        mid = depthwise(x, dw, None, stride, padding, dilation, padding_mode)
        return F.conv2d(T(mid), T(pw), T(b)).numpy()

    def shuffle(x, groups):
        return F.channel_shuffle(T(x), groups).numpy()

    return {"conv1d": conv(1), "conv2d": conv(2), "conv3d": conv(3),
            "conv_transpose1d": transpose(1), "conv_transpose2d": transpose(2),
            "conv_transpose3d": transpose(3), "depthwise_conv2d": depthwise,
            "separable_conv2d": separable, "channel_shuffle": shuffle}


def _layer_cases(check, rnd, cam, quick, torch):
    import pyconv

    from . import reference

    refs = [("pyconv.reference", reference)]
    if torch is not None:
        refs.append(("torch.nn.functional", _torch_layers(torch)))

    def weight_sum(w, transposed=False):
        a = np.abs(w)
        if transposed:  # (C, O/g, *k): everything but the output axis
            return float(a.sum(axis=(0,) + tuple(range(2, a.ndim))).max())
        return float(a.reshape(a.shape[0], -1).sum(axis=1).max())

    def layer(op, label, arrays, kw, scale):
        fn = getattr(pyconv, op)
        for ref_name, ref_mod in refs:
            ref_fn = ref_mod[op] if isinstance(ref_mod, dict) else getattr(ref_mod, op)
            check(op, ref_name, label,
                  lambda c: fn(*[c(a) for a in arrays], **kw),
                  lambda: ref_fn(*arrays, **kw), scale)

    def conv_cases(op, x, w, wg, variants):
        b = rnd((w.shape[0],))
        for label, kw in variants:
            ww = wg if kw.get("groups", 1) > 1 else w
            layer(op, label, [x, ww, b], kw, _amax(x) * weight_sum(ww) + _amax(b))

    base = [("default", {}), ("stride 2, padding 1", {"stride": 2, "padding": 1}),
            ("dilation 2, padding same", {"dilation": 2, "padding": "same"}),
            ("groups 2", {"groups": 2}),
            ("padding_mode reflect", {"padding": 2, "padding_mode": "reflect"}),
            ("padding_mode circular", {"padding": 1, "padding_mode": "circular"}),
            ("padding_mode replicate", {"padding": 2, "padding_mode": "replicate"})]
    if quick:
        base = base[:2] + base[3:5]
    conv_cases("conv1d", rnd((2, 4, 50)), rnd((6, 4, 5)), rnd((6, 2, 5)), base)
    conv_cases("conv2d", rnd((2, 4, 17, 19)), rnd((6, 4, 3, 3)), rnd((6, 2, 3, 3)), base)
    conv_cases("conv3d", rnd((1, 4, 7, 8, 9)), rnd((4, 4, 3, 3, 3)), rnd((4, 2, 3, 3, 3)),
               base[:2] + base[3:4] + ([] if quick else base[6:7]))
    crop = cam[224:288, 224:288][None, None]
    wc = rnd((3, 1, 5, 5))
    layer("conv2d", "camera 64x64, 5x5 stride 2", [crop, wc], {"stride": 2, "padding": 2},
          _amax(crop) * weight_sum(wc))

    x, w, b = rnd((2, 4, 15, 16)), rnd((8, 1, 3, 3)), rnd((8,))
    scale = _amax(x) * weight_sum(w) + _amax(b)
    layer("depthwise_conv2d", "multiplier 2", [x, w, b], {}, scale)
    layer("depthwise_conv2d", "stride 2, padding 1", [x, w, b], {"stride": 2, "padding": 1},
          scale)
    layer("depthwise_conv2d", "dilation 2, padding reflect", [x, w, b],
          {"dilation": 2, "padding": 2, "padding_mode": "reflect"}, scale)
    wc = rnd((2, 1, 3, 3))
    layer("depthwise_conv2d", "camera 64x64, unbatched", [crop[0], wc], {"padding": 1},
          _amax(crop) * weight_sum(wc))

    dw, pw, b = rnd((4, 1, 3, 3)), rnd((6, 4, 1, 1)), rnd((6,))
    scale = _amax(x) * weight_sum(dw) * weight_sum(pw) + _amax(b)
    layer("separable_conv2d", "default", [x, dw, pw, b], {}, scale)
    layer("separable_conv2d", "stride 2, padding 1", [x, dw, pw, b],
          {"stride": 2, "padding": 1}, scale)

    for shape, g in (((2, 6, 5, 5), 3), ((2, 12, 7), 4)):
        xs = rnd(shape)
        layer("channel_shuffle", "%d-D, groups %d" % (len(shape), g), [xs], {"groups": g},
              _amax(xs))

    def transpose_cases(op, x, w, wg, variants):
        for label, kw in variants:
            ww = wg if kw.get("groups", 1) > 1 else w
            b = rnd((ww.shape[1] * kw.get("groups", 1),))
            layer(op, label, [x, ww, b], kw, _amax(x) * weight_sum(ww, True) + _amax(b))

    tvars = [("stride 2", {"stride": 2}),
             ("stride 2, padding 1, output_padding 1",
              {"stride": 2, "padding": 1, "output_padding": 1}),
             ("groups 2", {"groups": 2, "stride": 3}),
             ("dilation 2", {"dilation": 2, "padding": 1})]
    if quick:
        tvars = tvars[1:3]
    transpose_cases("conv_transpose1d", rnd((2, 4, 9)), rnd((4, 3, 4)), rnd((4, 3, 4)), tvars)
    transpose_cases("conv_transpose2d", rnd((2, 4, 7, 8)), rnd((4, 3, 3, 3)),
                    rnd((4, 2, 3, 3)), tvars)
    transpose_cases("conv_transpose3d", rnd((1, 2, 4, 5, 6)), rnd((2, 3, 3, 3, 3)),
                    rnd((2, 2, 2, 3, 3)), tvars[:2])
    small = crop[..., :32, :32]
    wt = rnd((1, 2, 4, 4))
    layer("conv_transpose2d", "camera 32x32, 4x4 stride 2", [small, wt],
          {"stride": 2, "padding": 1}, _amax(small) * weight_sum(wt, True))


# --------------------------------------------------------------------------------------------


def _import_torch():
    try:
        import torch
        torch.nn.functional.conv2d  # noqa: B018 - a half-installed torch fails here
        return torch
    except Exception:
        return None


def verify(quick=False, *, seed=0, torch=True, num_threads=None, failures_only=False,
           file=None):
    """Check every public operation against its reference and print a table.

    Parameters
    ----------
    quick : bool
        Fewer boundary modes and layer variants (a few seconds); every operation still
        runs on random data and the real image, in float32 and float64.
    seed : int
        Seed of the random inputs.
    torch : bool
        Also compare the layers with ``torch.nn.functional`` when PyTorch imports.
    num_threads : int, optional
        Threads for pyconv (default: its process default).
    failures_only : bool
        Print only the rows that fail (and the summary).
    file : file object, optional
        Where the table goes (default ``sys.stdout``).

    Returns
    -------
    bool
        True if every check passed.

    Examples
    --------
    >>> import io, pyconv
    >>> pyconv.verify(quick=True, torch=False, file=io.StringIO())
    True
    """
    import pyconv

    out = file or sys.stdout
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)

    def rnd(shape):  # float32 values, held in float64
        return rng.uniform(-1, 1, shape).astype(np.float32).astype(np.float64)

    from skimage import data
    cam = (data.camera().astype(np.float32) / np.float32(255)).astype(np.float64)
    torch_mod = _import_torch() if torch else None
    results = _Results()
    check = _Checker(results)
    with pyconv.num_threads(num_threads or pyconv.get_num_threads()):
        _filter_cases(check, rnd, cam, quick)
        _signal_cases(check, rnd, cam, quick)
        _layer_cases(check, rnd, cam, quick, torch_mod)
    elapsed = time.perf_counter() - t0

    head = ("operation", "reference", "dtype", "cases", "max rel err", "tolerance", "result")
    rows = []
    for key, row in results.rows.items():
        ok = results.passed(key)
        if failures_only and ok:
            continue
        rows.append((key[0], key[1], key[2], str(row["cases"]), "%.1e" % row["err"],
                     "%.0e" % TOLERANCE[key[2]], "pass" if ok else "FAIL"))
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    right = {3, 4, 5}

    def line(r):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    threads = pyconv.get_num_threads() if num_threads is None else num_threads
    print("pyconv %s verify%s: random arrays and skimage.data.camera(), float32 and float64, "
          "%d thread%s" % (pyconv.__version__, " --quick" if quick else "", threads,
                           "" if threads == 1 else "s"), file=out)
    print("error = max|pyconv - reference| / (max|x| * sum|w|); tolerance 1e-5 (float32), "
          "1e-10 (float64)", file=out)
    if torch and torch_mod is None:
        print("torch.nn.functional: not importable, layers compared with pyconv.reference only",
              file=out)
    print(file=out)
    if rows:
        print(line(head), file=out)
        print("  ".join("-" * w for w in widths), file=out)
        for r in rows:
            print(line(r), file=out)
        print(file=out)
    n_cases = sum(r["cases"] for r in results.rows.values())
    if results.failures:
        print("failed cases:", file=out)
        for f in results.failures:
            print("  " + f, file=out)
        print("%d of %d checks FAILED (%d cases) in %.1f s"
              % (sum(not results.passed(k) for k in results.rows), len(results.rows), n_cases,
                 elapsed), file=out)
        return False
    print("all %d checks passed (%d cases) in %.1f s" % (len(results.rows), n_cases, elapsed),
          file=out)
    return True
