#!/usr/bin/env python3
"""Fuzz pyconv's public API with arguments built from bytes.

Every input is a byte string; a small decoder turns it into a call of one public function
(pyconv.filters.*, pyconv.signal.*, pyconv.conv*/conv_transpose*/depthwise/separable/
flattened/channel_shuffle, pyconv.shapes.*, set_num_threads/num_threads) with arguments that
are mostly valid (consistent shapes, so the call reaches the kernels) and partly hostile:
strings, None, complex, object and byte-swapped arrays, NaN/Inf, zero-size axes, negative and
huge integers (up to 2**63 and 10**30), non-contiguous/negative-stride/Fortran/read-only
views, out= arrays of every kind.  Only ValueError, TypeError and MemoryError are accepted
answers to a bad call; any other exception, a crash (signal), or a hang is a finding.

Engines:
  random   (default) a self-contained driver: input i is ``random.Random(seed * 1_000_003 + i)``
           bytes, so every input can be replayed with ``--only i``.  A supervisor runs the
           inputs in a child process under an address-space limit; when the child crashes or
           stops answering, the input is recorded and the child restarted at the next one.
  atheris  coverage-guided libFuzzer (``pip install atheris``); the same decoder, one process.
           Unexpected exceptions are recorded and the run continues (``--stop-on-finding``
           to stop at the first one, as libFuzzer normally does).

Usage:
  python tools/fuzz_api.py --runs 20000            # random engine, seed 0
  python tools/fuzz_api.py --runs 5000 --seed 7 --timeout 10 --mem-gb 4
  python tools/fuzz_api.py --only 1234             # replay one input and show the call
  python tools/fuzz_api.py --engine atheris --runs 20000

Prints the number of inputs run, how many ended in which accepted exception, and every
finding grouped by signature (function, exception type, message head); exits 1 if any.
"""
import argparse
import collections
import json
import os
import random
import subprocess
import sys
import time
import traceback

import numpy as np

# ------------------------------------------------------------------------------------------
# bytes -> values


class Source:
    """Draws choices from a byte string (zeros once it is exhausted)."""

    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def byte(self):
        if self.pos >= len(self.data):
            return 0
        b = self.data[self.pos]
        self.pos += 1
        return b

    def int(self, n):
        """0 .. n-1"""
        if n <= 1:
            return 0
        v = self.byte() | (self.byte() << 8) if n > 256 else self.byte()
        return v % n

    def choice(self, seq):
        return seq[self.int(len(seq))]

    def chance(self, num, den=256):
        return self.byte() < num * 256 // den

    def float(self):
        return (self.byte() - 128) / 32.0


INTERESTING_INTS = [0, 1, -1, 2, 3, 4, 5, 7, -2, 8, 16, 255, 2 ** 31 - 1, 2 ** 31, -2 ** 31,
                    2 ** 62, 2 ** 63 - 1, 2 ** 63, -2 ** 63, 10 ** 6, 10 ** 9, -10 ** 9,
                    10 ** 30, -10 ** 30]
INTERESTING_FLOATS = [0.0, -0.0, 0.5, 1.0, 2.5, -1.5, 1e-300, 1e300, -1e300, float("nan"),
                      float("inf"), float("-inf"), 1e9, 1e15, 5e-324]
MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant",
         "grid-wrap", "symmetric", "edge", "circular", "periodic", "reflect101"]
WEIRD_STRINGS = ["", "same", "valid", "full", "fill", "symm", "zeros", "replicate", "bogus",
                 "reflect ", "REFLECT", "\x00", "é"]
DTYPES = ["f8", "f4", "f2", "i1", "u1", "i4", "i8", "u8", "?", ">f8", ">f4", "c16", "O", "U3",
          "S2", "m8[s]", "M8[s]"]


def fuzz_array(src, shape=None, dtype=None):
    """An array, usually of ``shape``/float, sometimes of another shape, dtype or layout."""
    if shape is None or src.chance(20):
        nd = src.int(5)
        shape = tuple(src.choice([0, 1, 1, 2, 3, 4, 5, 7]) for _ in range(nd))
    if dtype is None:
        dtype = "f8" if src.chance(128) else "f4"
    if src.chance(24):
        dtype = src.choice(DTYPES)
    rng = np.random.default_rng(src.int(1 << 16))
    n = int(np.prod(shape, dtype=np.int64))
    if n > 50000:
        shape = (0,)
        n = 0
    vals = np.round(rng.uniform(-3, 3, n), 2)
    if n and src.chance(40):
        k = 1 + src.int(3)
        vals[rng.integers(0, n, k)] = src.choice([np.nan, np.inf, -np.inf, 1e300, 0.0, -0.0])
    try:
        if dtype == "O":
            a = np.array(list(vals) if not src.chance(64) else [None] * n, dtype=object)
        elif dtype in ("U3", "S2"):
            a = vals.astype(dtype)
        elif dtype[0] in "mM":
            a = vals.astype("i8").astype(dtype)
        else:
            with np.errstate(all="ignore"):
                a = vals.astype(dtype)
        a = a.reshape(shape)
    except (ValueError, TypeError, OverflowError):
        a = np.zeros(shape)
    lay = src.int(10)
    if lay == 1 and a.ndim:
        a = np.asfortranarray(a)
    elif lay == 2 and a.ndim:
        a = np.ascontiguousarray(a[(slice(None, None, -1),) * a.ndim])[(slice(None, None, -1),)
                                                                        * a.ndim]
    elif lay == 3 and a.ndim:
        big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
        big[(slice(None, None, 2),) * a.ndim] = a
        a = big[(slice(None, None, 2),) * a.ndim]
    elif lay == 4:
        a = a.copy()
        a.setflags(write=False)
    elif lay == 5 and a.ndim >= 2:
        a = np.ascontiguousarray(np.swapaxes(a, 0, -1)).swapaxes(0, -1)
    if src.chance(10):
        return a.tolist()
    return a


def fuzz_value(src, kind):
    """A hostile value, biased toward ``kind``."""
    r = src.int(12)
    if r == 0:
        return None
    if r == 1:
        return src.choice(WEIRD_STRINGS + MODES)
    if r == 2:
        return src.choice([1 + 2j, b"reflect", object(), {"a": 1}, ["a", "b"], (), [],
                           [None], True, False, np.float64(2.0), np.int64(3), slice(1),
                           np.array(2.0), np.array([[1, 2]]), 1.5])
    if r == 3:
        return fuzz_array(src)
    if r in (4, 5, 6) or kind in ("int", "ints"):
        v = src.choice(INTERESTING_INTS)
        if src.chance(40):
            return tuple(src.choice(INTERESTING_INTS) for _ in range(src.int(4)))
        return v
    if kind in ("real",):
        return src.choice(INTERESTING_FLOATS)
    return src.choice(INTERESTING_FLOATS + INTERESTING_INTS)


# ------------------------------------------------------------------------------------------
# valid-ish calls of every public function


def _ks(src, nd, hi=4):
    return tuple(1 + src.int(hi) for _ in range(nd))


def _shape(src, nd, hi=7):
    return tuple(1 + src.int(hi) for _ in range(nd))


def build_call(src):
    """(name, function, kwargs, hostile-params) for one input."""
    import pyconv
    from pyconv import filters as F, shapes as SH, signal as S
    op = src.int(38)
    p = {}
    if op < 8:  # n-D and 1-D filters
        name = ["correlate", "convolve", "correlate1d", "convolve1d", "sepfilter", "gaussian",
                "uniform", "correlate"][op]
        nd = 1 + src.int(3)
        ca = None
        shape = _shape(src, nd, 9)
        if src.chance(60) and name not in ("correlate1d", "convolve1d"):
            ca = src.int(nd + 1) - (nd + 1 if src.chance(128) else 0)
            shape = list(shape)
            shape.insert(ca % (nd + 1), 1 + src.int(3))
            shape = tuple(shape)
            p["channel_axis"] = ca
        p["image"] = fuzz_array(src, shape)
        if name in ("correlate", "convolve"):
            k = _ks(src, nd, 5)
            p["kernel"] = fuzz_array(src, k)
            p["origin"] = [src.int(kk) - kk // 2 for kk in k] if src.chance(80) else 0
        elif name in ("correlate1d", "convolve1d"):
            k = 1 + src.int(6)
            p["weights"] = fuzz_array(src, (k,))
            p["axis"] = src.int(nd) - (nd if src.chance(100) else 0)
            p["origin"] = src.int(k) - k // 2
        elif name == "sepfilter":
            p["kernels"] = [None if src.chance(40) else fuzz_array(src, (1 + src.int(6),))
                            for _ in range(nd)]
        elif name == "gaussian":
            p["sigma"] = src.choice([0.0, 0.5, 1.0, 2.0, [1.0] * nd, 3.3])
            p["truncate"] = src.choice([4.0, 1.0, 0.1, 2.5])
        else:
            p["size"] = src.choice([1, 2, 3, 5, [2] * nd])
        p["mode"] = src.choice(MODES) if src.chance(220) else [src.choice(MODES)] * nd
        p["cval"] = src.choice([0.0, 1.5, -2.0, float("nan")])
        if src.chance(40):
            p["num_threads"] = src.choice([1, 2, 3, -1])
        if src.chance(40):
            p["out"] = _out_like(src, p["image"])
        fn = getattr(F, name)
    elif op < 14:  # edges
        name = ["sobel", "scharr", "prewitt", "sobel_h", "scharr_v", "prewitt_h"][op - 8]
        nd = 2 if name.endswith(("_h", "_v")) else 1 + src.int(3)
        shape = _shape(src, nd, 9)
        p["image"] = fuzz_array(src, shape)
        if src.chance(60):
            p["mask"] = fuzz_array(src, shape, "?")
        if not name.endswith(("_h", "_v")):
            p["axis"] = src.choice([None, 0, -1, (0, 1), nd - 1])
            p["mode"] = src.choice(MODES)
            p["cval"] = src.choice([0.0, 0.5])
        fn = getattr(F, name)
    elif op == 14:
        name = "separate"
        p["kernel"] = fuzz_array(src, _ks(src, 1 + src.int(3), 5))
        if src.chance(60):
            p["rtol"] = src.choice([1e-3, 0.0, 1.0, 1e-12])
        fn = F.separate
    elif op < 19:  # scipy.signal conventions
        name = ["convolve2d", "correlate2d", "convolve", "correlate"][op - 15]
        nd = 2 if name.endswith("2d") else 1 + src.int(3)
        p["in1"] = fuzz_array(src, _shape(src, nd, 8))
        p["in2"] = fuzz_array(src, _ks(src, nd, 5))
        p["mode"] = src.choice(["full", "same", "valid"])
        if name.endswith("2d"):
            p["boundary"] = src.choice(["fill", "wrap", "symm", "pad", "circular", "symmetric"])
            p["fillvalue"] = src.choice([0, 1.5, -3])
        fn = getattr(S, name)
    elif op < 28:  # layers
        kind = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "depthwise_conv2d", "separable_conv2d", "conv2d"][op - 19]
        name = kind
        nsp = int(kind[-2]) if kind[-2].isdigit() else 2
        g = 1 + src.int(3)
        cg = 1 + src.int(3)
        og = 1 + src.int(3)
        c, o = g * cg, g * og
        batched = src.chance(200)
        xs = ((1 + src.int(2),) if batched else ()) + (c,) + _shape(src, nsp, 8)
        k = _ks(src, nsp, 3)
        p["x"] = fuzz_array(src, xs)
        p["stride"] = 1 + src.int(3) if src.chance(200) else _ks(src, nsp, 3)
        p["dilation"] = 1 + src.int(2)
        if src.chance(80):
            p["bias"] = fuzz_array(src, (o,))
        if kind.startswith("conv_transpose"):
            p["weight"] = fuzz_array(src, (c, og) + k)
            p["padding"] = src.int(3)
            p["output_padding"] = src.int(2)
            p["groups"] = g
        elif kind == "depthwise_conv2d":
            m = 1 + src.int(3)
            p["weight"] = fuzz_array(src, (c * m, 1) + k)
            p.pop("bias", None)
            p["padding"] = src.choice([0, 1, 2, "same", "valid", (1, 0)])
            p["padding_mode"] = src.choice(["zeros", "reflect", "replicate", "circular"])
        elif kind == "separable_conv2d":
            m = 1 + src.int(2)
            p["depthwise_weight"] = fuzz_array(src, (c * m, 1) + k)
            p["pointwise_weight"] = fuzz_array(src, (o, c * m, 1, 1) if src.chance(128)
                                               else (o, c * m))
            p["padding"] = src.choice([0, 1, "same", "valid"])
            p["padding_mode"] = src.choice(["zeros", "reflect", "replicate", "circular"])
        else:
            p["weight"] = fuzz_array(src, (o, cg) + k)
            p["groups"] = g
            p["padding"] = src.choice([0, 1, 2, "same", "valid", tuple(range(nsp))])
            p["padding_mode"] = src.choice(["zeros", "reflect", "replicate", "circular"])
        if src.chance(40):
            p["num_threads"] = src.choice([1, 2, 4, -1])
        if src.chance(50):
            p["out"] = _out_like(src, None)
        fn = getattr(pyconv, kind)
    elif op == 28:
        name = "channel_shuffle"
        g = 1 + src.int(4)
        p["x"] = fuzz_array(src, (1 + src.int(2), g * (1 + src.int(3))) + _shape(src, src.int(3)))
        p["groups"] = g
        fn = pyconv.channel_shuffle
    elif op == 29:
        name = "flattened_conv2d"
        c, o = 1 + src.int(3), 1 + src.int(3)
        h, w = _shape(src, 2, 8)
        p["x"] = fuzz_array(src, (1 + src.int(2), c, h, w))
        p["channel_weight"] = fuzz_array(src, (o, c))
        p["vertical_weight"] = fuzz_array(src, (o, 1 + src.int(h)))
        p["horizontal_weight"] = fuzz_array(src, (o, 1 + src.int(w)))
        p["padding"] = src.choice([0, 1, (1, 0)])
        if src.chance(80):
            p["bias"] = fuzz_array(src, (o,))
        fn = pyconv.flattened_conv2d
    elif op < 37:  # shapes
        name = ["conv_output_shape", "conv_transpose_output_shape", "param_count", "flops",
                "receptive_field", "conv_matrix", "overlap_map"][op - 30]
        nd = 1 + src.int(3)
        size = _shape(src, nd, 12)
        ks = _ks(src, nd, 4)
        if name in ("conv_output_shape", "conv_transpose_output_shape", "overlap_map"):
            p = dict(size=size, kernel_size=ks, stride=1 + src.int(3), padding=src.int(2),
                     dilation=1 + src.int(2))
            if name != "conv_output_shape":
                p["output_padding"] = 0
        elif name == "param_count":
            p = dict(in_channels=1 + src.int(8), out_channels=1 + src.int(8), kernel_size=ks,
                     groups=1, bias=src.chance(128))
        elif name == "flops":
            p = dict(in_channels=1 + src.int(8), out_channels=1 + src.int(8), kernel_size=ks,
                     output_size=size, groups=1, bias=src.chance(128))
        elif name == "receptive_field":
            p = dict(layers=[(1 + src.int(5), 1 + src.int(3), 1 + src.int(2))
                             for _ in range(src.int(5))])
        else:
            p = dict(size=size, kernel=fuzz_array(src, ks), stride=1 + src.int(3),
                     padding=src.choice([0, 1, "same", "valid"]), dilation=1 + src.int(2))
        fn = getattr(SH, name)
    else:
        name = "threads"
        n = src.choice([1, 2, -1, None, 0, 2 ** 31, "2", 1.5, True, -10 ** 6])

        def fn(n=n):
            try:
                pyconv.set_num_threads(n)
                with pyconv.num_threads(src.choice([1, 2, 3])):
                    return F.correlate(np.ones((40, 40)), np.ones((3, 3)))
            finally:
                pyconv.set_num_threads(None)  # back to the default
        return name, fn, {}, []
    # hostile replacements of some parameters (and sometimes an extra unknown keyword)
    hostile = []
    for key in list(p):
        if src.chance(28):
            p[key] = fuzz_value(src, "ints" if key in ("stride", "padding", "dilation", "origin",
                                                       "groups", "axis", "channel_axis",
                                                       "size", "num_threads") else "real")
            hostile.append(key)
    if src.chance(6):
        p["no_such_argument"] = 1
        hostile.append("no_such_argument")
    return name, fn, p, hostile


def _out_like(src, image):
    if image is not None and isinstance(image, np.ndarray) and src.chance(128):
        r = src.int(6)
        if r == 0:
            return image                                     # in place
        dt = np.float32 if image.dtype == np.float32 else np.float64
        if r == 1:
            return np.empty(image.shape, dt)[(slice(None, None, -1),) * image.ndim]
        if r == 2:
            return np.asfortranarray(np.empty(image.shape, dt))
        if r == 3:
            return np.empty(image.shape, np.dtype(dt).newbyteorder("S"))
        if r == 4:
            return np.empty(image.shape, np.int32)
        return np.empty(image.shape, dt)
    return fuzz_array(src)


# ------------------------------------------------------------------------------------------
# running one input


ACCEPTED = (ValueError, TypeError, MemoryError)


def describe(name, p):
    def short(v):
        if isinstance(v, np.ndarray):
            flags = "".join(c for c, f in (("F", v.flags.f_contiguous and not v.flags.c_contiguous),
                                           ("R", not v.flags.writeable)) if f)
            return "array(shape=%s, dtype=%s%s)" % (v.shape, v.dtype, "," + flags if flags else "")
        r = repr(v)
        return r if len(r) < 60 else r[:57] + "..."
    return "%s(%s)" % (name, ", ".join("%s=%s" % (k, short(v)) for k, v in p.items()))


def run_one(data):
    """Run one input.  Returns (status, name, detail): status ok / accepted:<Exc> / finding."""
    src = Source(data)
    name, fn, p, hostile = build_call(src)
    import warnings
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            fn(**p)
    except ACCEPTED as exc:
        kind = type(exc).__name__
        if isinstance(exc, MemoryError) and str(exc).startswith("Unable to allocate"):
            kind = "MemoryError(numpy allocation attempted)"
        return "accepted:" + kind, name, describe(name, p)
    except BaseException as exc:  # noqa: BLE001 - everything else is a finding
        if isinstance(exc, KeyboardInterrupt):
            raise
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        where = "%s:%d" % (os.path.relpath(tb.filename), tb.lineno)
        return "finding", name, dict(type=type(exc).__name__, msg=str(exc)[:200], where=where,
                                     call=describe(name, p))
    return "ok", name, None


def input_bytes(seed, i, n=256):
    return random.Random(seed * 1_000_003 + i).randbytes(n)


# ------------------------------------------------------------------------------------------
# the random engine: a child runs inputs, the parent supervises


def child_main(seed, start, stop, mem_gb):
    import faulthandler
    import warnings
    faulthandler.enable()          # a crash leaves its Python traceback on stderr
    warnings.simplefilter("ignore")
    if mem_gb:
        import resource
        lim = int(mem_gb * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    import pyconv  # noqa: F401 - import before the first input
    out = sys.stdout
    for i in range(start, stop):
        out.write(json.dumps(["start", i]) + "\n")
        out.flush()
        status, name, detail = run_one(input_bytes(seed, i))
        out.write(json.dumps(["done", i, status, name, detail]) + "\n")
        out.flush()
    out.write(json.dumps(["end"]) + "\n")
    out.flush()


def supervise(args):
    import queue
    import threading
    counts = collections.Counter()
    per_op = collections.Counter()
    findings = collections.OrderedDict()
    t0 = time.time()
    nxt, stop = args.start, args.start + args.runs
    ran = 0
    while nxt < stop:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--seed", str(args.seed),
               "--start", str(nxt), "--stop", str(stop), "--mem-gb", str(args.mem_gb)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        q = queue.Queue()
        threading.Thread(target=lambda: [q.put(ln) for ln in proc.stdout] + [q.put(None)],
                         daemon=True).start()
        err_lines = []
        threading.Thread(target=lambda: [err_lines.append(ln) for ln in proc.stderr],
                         daemon=True).start()
        current = None
        while True:
            try:
                ln = q.get(timeout=args.timeout)
            except queue.Empty:
                proc.kill()
                proc.wait()
                _record(findings, "hang", current, args, dict(
                    type="hang", msg="no answer in %g s" % args.timeout))
                counts["hang"] += 1
                ran += 1
                nxt = current + 1
                break
            if ln is None:
                proc.wait()
                if current is not None:
                    err = "".join(err_lines)
                    at = err.rfind("Fatal Python error")
                    tail = (err[at:] if at >= 0 else err)[-400:].strip().replace("\n", " | ")
                    _record(findings, "crash", current, args, dict(
                        type="crash", msg="exit %s: %s" % (proc.returncode, tail)))
                    counts["crash"] += 1
                    ran += 1
                    nxt = current + 1
                elif proc.returncode != 0:
                    # the child died before its first input (pyconv not importable, ...):
                    # that is no run at all, not a clean one
                    raise SystemExit("fuzz_api: the child process failed before running an "
                                     "input (exit %s):\n%s" % (proc.returncode,
                                                                "".join(err_lines)[-2000:]))
                else:
                    nxt = stop
                break
            msg = json.loads(ln)
            if msg[0] == "start":
                current = msg[1]
            elif msg[0] == "done":
                _, i, status, name, detail = msg
                counts[status] += 1
                per_op[name] += 1
                ran += 1
                current = None
                if status == "finding":
                    _record(findings, name, i, args, detail)
                if args.progress and ran % args.progress == 0:
                    print("  %d inputs, %d findings, %.0f s" % (ran, sum(
                        len(v["inputs"]) for v in findings.values()), time.time() - t0),
                        flush=True)
            elif msg[0] == "end":
                current = None
                nxt = stop
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return ran, counts, per_op, findings, time.time() - t0


def _record(findings, name, i, args, detail):
    key = "%s | %s | %s" % (name, detail.get("type"), (detail.get("msg") or "")[:60])
    entry = findings.setdefault(key, dict(inputs=[], example=None))
    entry["inputs"].append(i)
    if entry["example"] is None:
        if name in ("hang", "crash") and i is not None:
            src = Source(input_bytes(args.seed, i))
            try:
                n, _, p, _ = build_call(src)
                detail = dict(detail, call=describe(n, p))
            except Exception:  # pragma: no cover
                pass
        entry["example"] = dict(detail, input=i)


def report(ran, counts, per_op, findings, seconds, engine, seed):
    print("fuzz_api: engine=%s seed=%s: %d inputs in %.0f s (%.0f/s)"
          % (engine, seed, ran, seconds, ran / max(seconds, 1e-9)))
    for k, v in sorted(counts.items()):
        print("  %-50s %d" % (k, v))
    print("  operations exercised: %d (%s)" % (len(per_op), ", ".join(
        "%s=%d" % kv for kv in sorted(per_op.items()))))
    crashes = counts.get("crash", 0)
    print("fuzz_api: %d crashed, %d hung, %d unexpected exceptions"
          % (crashes, counts.get("hang", 0), counts.get("finding", 0)))
    if not findings:
        print("fuzz_api: no findings: every input returned or raised ValueError/TypeError/"
              "MemoryError; none crashed")
        return 0
    print("fuzz_api: %d distinct findings:" % len(findings))
    for key, e in findings.items():
        ex = e["example"]
        print("- %s  (%d inputs, e.g. --only %s)" % (key, len(e["inputs"]), ex.get("input")))
        print("    %s" % ex.get("call", ""))
        if ex.get("where"):
            print("    raised at %s: %s" % (ex["where"], ex.get("msg")))
    return 1


# ------------------------------------------------------------------------------------------
# the atheris engine


def atheris_main(args):
    import atheris
    counts = collections.Counter()
    per_op = collections.Counter()
    findings = collections.OrderedDict()
    state = dict(n=0, t0=time.time())

    def test_one_input(data):
        state["n"] += 1
        status, name, detail = run_one(data)
        counts[status] += 1
        per_op[name] += 1
        if status == "finding":
            _record(findings, name, state["n"], args, detail)
            if args.stop_on_finding:
                raise RuntimeError("finding: %s" % (detail,))
        if state["n"] >= args.runs:
            rc = report(state["n"], counts, per_op, findings, time.time() - state["t0"],
                        "atheris", "-")
            sys.stdout.flush()
            os._exit(rc)

    if args.mem_gb:
        # as in the random engine's child: the address-space limit is the memory pyconv may
        # use (its size checks read it), so a valid call asking for more is refused up front
        # instead of tripping libFuzzer's RSS limit, which sits 1 GiB above it
        import resource
        lim = int(args.mem_gb * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    with atheris.instrument_imports(include=["pyconv"]):
        import pyconv  # noqa: F401
    argv = [sys.argv[0], "-runs=%d" % (args.runs + 1), "-max_len=512",
            "-rss_limit_mb=%d" % int(args.mem_gb * 1024 + 1024), "-timeout=%d" % int(args.timeout)]
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


def _importable_pyconv():
    """Use the installed pyconv, or else the in-place build of this checkout."""
    try:
        import pyconv  # noqa: F401
    except ImportError:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    _importable_pyconv()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20000, help="inputs to run (default 20000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="first input index")
    ap.add_argument("--engine", choices=["random", "atheris"], default="random")
    ap.add_argument("--timeout", type=float, default=15.0,
                    help="seconds one input may take before it counts as a hang")
    ap.add_argument("--mem-gb", type=float, default=4.0,
                    help="address-space limit of the child (GiB; 0: none)")
    ap.add_argument("--only", type=int, default=None, help="replay one input and print it")
    ap.add_argument("--progress", type=int, default=0, help="print progress every N inputs")
    ap.add_argument("--stop-on-finding", action="store_true")
    ap.add_argument("--json", default=None, help="also write the summary to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--stop", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child_main(args.seed, args.start, args.stop, args.mem_gb)
        return 0
    if args.only is not None:
        src = Source(input_bytes(args.seed, args.only))
        name, fn, p, hostile = build_call(src)
        print("input %d: %s  (hostile: %s)" % (args.only, describe(name, p), hostile))
        status, name, detail = run_one(input_bytes(args.seed, args.only))
        print(status, detail if detail else "")
        return 0 if status != "finding" else 1
    if args.engine == "atheris":
        return atheris_main(args)
    ran, counts, per_op, findings, secs = supervise(args)
    rc = report(ran, counts, per_op, findings, secs, "random", args.seed)
    if ran < args.runs:
        print("fuzz_api: only %d of %d inputs ran" % (ran, args.runs))
        rc = rc or 1
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(runs=ran, seconds=secs, counts=counts, per_op=per_op,
                           findings=findings), fh, indent=1, default=str)
    return rc


if __name__ == "__main__":
    sys.exit(main())
