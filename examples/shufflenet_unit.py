"""A ShuffleNet unit on NumPy arrays, checked against PyTorch (or pyconv.reference).

The unit (Zhang et al., ShuffleNet, stride 1): pointwise grouped 1x1 conv -> ReLU -> channel
shuffle -> depthwise 3x3 conv -> pointwise grouped 1x1 conv -> add the input -> ReLU.  Batch
normalisation is left out (at inference it folds into the conv weights and biases).

    python examples/shufflenet_unit.py [--channels 240] [--groups 3] [--size 28] [--batch 4]

Prints the output shape, the parameter count against a dense 3x3 block, and the largest
difference from PyTorch's torch.nn.functional (or from pyconv.reference when PyTorch is not
installed).  Exit status 1 if the difference is larger than float32 rounding explains.
"""
import argparse
import sys
import time

import numpy as np

import pyconv


def relu(a):
    return np.maximum(a, 0, out=a)


def unit(x, w1, b1, wd, bd, w2, b2, groups, conv2d, depthwise_conv2d, shuffle):
    """One ShuffleNet unit with the given operations (pyconv's or a reference's)."""
    y = relu(np.asarray(conv2d(x, w1, b1, groups=groups)))
    y = shuffle(y, groups)
    y = np.asarray(depthwise_conv2d(y, wd, bd, padding=1))
    y = np.asarray(conv2d(y, w2, b2, groups=groups))
    return relu(y + x)


def torch_ops():
    import torch
    F = torch.nn.functional

    def conv2d(x, w, b=None, groups=1, padding=0):
        t = F.conv2d(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(w),
                     None if b is None else torch.from_numpy(b), padding=padding, groups=groups)
        return t.numpy()

    def depthwise_conv2d(x, w, b=None, padding=0):
        return conv2d(x, w, b, groups=x.shape[1], padding=padding)

    def shuffle(x, groups):
        return F.channel_shuffle(torch.from_numpy(np.ascontiguousarray(x)), groups).numpy()

    return "PyTorch " + torch.__version__, conv2d, depthwise_conv2d, shuffle


def reference_ops():
    from pyconv import reference
    return ("pyconv.reference (scipy.signal, float64)", reference.conv2d,
            reference.depthwise_conv2d, reference.channel_shuffle)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=240, help="channels in and out (default 240)")
    ap.add_argument("--groups", type=int, default=3, help="groups of the 1x1 convs (default 3)")
    ap.add_argument("--size", type=int, default=28, help="height and width (default 28)")
    ap.add_argument("--batch", type=int, default=4, help="batch size (default 4)")
    args = ap.parse_args(argv)
    C, g = args.channels, args.groups
    mid = C // 4
    mid -= mid % g
    if C % g or mid < g:
        ap.error("--channels must be a multiple of --groups and at least 4 * groups")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, C, args.size, args.size)).astype(np.float32)
    w1 = (rng.standard_normal((mid, C // g, 1, 1)) / np.sqrt(C // g)).astype(np.float32)
    wd = (rng.standard_normal((mid, 1, 3, 3)) / 3).astype(np.float32)
    w2 = (rng.standard_normal((C, mid // g, 1, 1)) / np.sqrt(mid // g)).astype(np.float32)
    b1, bd, b2 = (rng.standard_normal(n).astype(np.float32) * 0.1 for n in (mid, mid, C))

    t0 = time.perf_counter()
    y = unit(x, w1, b1, wd, bd, w2, b2, g, pyconv.conv2d, pyconv.depthwise_conv2d,
             pyconv.channel_shuffle)
    elapsed = time.perf_counter() - t0
    try:
        name, *ops = torch_ops()
    except ImportError:
        name, *ops = reference_ops()
    ref = unit(x, w1, b1, wd, bd, w2, b2, g, *ops)

    params = w1.size + b1.size + wd.size + bd.size + w2.size + b2.size
    dense = C * C * 9 + C
    err = float(np.max(np.abs(y - ref)))
    scale = float(np.max(np.abs(ref))) or 1.0
    print("ShuffleNet unit: %d channels, %d groups, bottleneck %d, input %s"
          % (C, g, mid, x.shape))
    print("output %s %s in %.1f ms (pyconv, %d threads)"
          % (y.shape, y.dtype, elapsed * 1e3, pyconv.get_num_threads()))
    print("parameters %d (a dense 3x3 conv %d->%d has %d: %.1fx more)"
          % (params, C, C, dense, dense / params))
    print("max |pyconv - %s| = %.3g (relative %.3g)" % (name, err, err / scale))
    ok = err <= 1e-4 * scale
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
