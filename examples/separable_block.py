"""A depthwise-separable block (MobileNet/Xception) against the dense convolution it replaces.

    python examples/separable_block.py [--in-channels 64] [--out-channels 128] [--size 56]

Prints the parameters and FLOPs of a dense 3x3 convolution and of its depthwise-separable
version (depthwise 3x3, then pointwise 1x1), counted with pyconv.shapes, times both with
pyconv, and checks pyconv.separable_conv2d against the two steps computed by
pyconv.reference (scipy.signal, float64).  Exit status 1 on a mismatch.
"""
import argparse
import sys
import time

import numpy as np

import pyconv
from pyconv import reference, shapes


def best_of(fn, repeat=3):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--in-channels", type=int, default=64)
    ap.add_argument("--out-channels", type=int, default=128)
    ap.add_argument("--size", type=int, default=56, help="height and width (default 56)")
    ap.add_argument("--batch", type=int, default=2)
    args = ap.parse_args(argv)
    C, O, S, N = args.in_channels, args.out_channels, args.size, args.batch
    if min(C, O, S, N) < 1:
        ap.error("sizes must be positive")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, S, S)).astype(np.float32)
    dense_w = (rng.standard_normal((O, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32)
    dw = (rng.standard_normal((C, 1, 3, 3)) / 3).astype(np.float32)
    pw = (rng.standard_normal((O, C, 1, 1)) / np.sqrt(C)).astype(np.float32)
    bias = rng.standard_normal(O).astype(np.float32)

    p_dense = shapes.param_count(C, O, (3, 3), bias=True)
    p_sep = (shapes.param_count(C, C, (3, 3), groups=C, bias=False)
             + shapes.param_count(C, O, (1, 1), bias=True))
    f_dense = shapes.flops(C, O, (3, 3), (S, S), bias=True)
    f_sep = (shapes.flops(C, C, (3, 3), (S, S), groups=C, bias=False)
             + shapes.flops(C, O, (1, 1), (S, S), bias=True))
    t_dense = best_of(lambda: pyconv.conv2d(x, dense_w, bias, padding=1))
    t_sep = best_of(lambda: pyconv.separable_conv2d(x, dw, pw, bias, padding=1))

    print("input %s float32, %d -> %d channels, 3x3, padding 1" % (x.shape, C, O))
    print("%-24s %12s %16s %10s" % ("", "parameters", "FLOPs per image", "time ms"))
    print("%-24s %12d %16d %10.2f" % ("dense 3x3", p_dense, f_dense, t_dense * 1e3))
    print("%-24s %12d %16d %10.2f" % ("depthwise + pointwise", p_sep, f_sep, t_sep * 1e3))
    print("savings: %.1fx fewer parameters, %.1fx fewer FLOPs, %.1fx less time"
          % (p_dense / p_sep, f_dense / f_sep, t_dense / t_sep))

    got = pyconv.separable_conv2d(x, dw, pw, bias, padding=1)
    ref = reference.conv2d(reference.depthwise_conv2d(x, dw, padding=1), pw, bias)
    err = float(np.max(np.abs(got - ref)))
    scale = float(np.max(np.abs(ref)))
    ok = err <= 1e-5 * max(scale, 1.0)
    print("max |pyconv - reference| = %.2e (%s)" % (err, "OK" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
