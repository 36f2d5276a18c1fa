"""Dilated convolutions grow the receptive field without more weights.

    python examples/dilated_receptive_field.py [--layers 4]

A stack of 3x3 convolutions with dilation 1 and with dilations 1, 2, 4, 8 (as in WaveNet and
DeepLab): the receptive field from pyconv.shapes.receptive_field, and the same number measured
by pushing a single bright pixel through the stack with pyconv.conv2d (the size of the
non-zero square in the output).  Both must agree; exit status 1 otherwise.
"""
import argparse
import sys

import numpy as np

import pyconv
from pyconv import shapes


def measured_field(dilations, size):
    """Side of the square of outputs one input pixel reaches through the stack."""
    x = np.zeros((1, 1, size, size))
    x[0, 0, size // 2, size // 2] = 1.0
    w = np.ones((1, 1, 3, 3))
    for d in dilations:
        x = pyconv.conv2d(x, w, padding=d, dilation=d)   # 'same' size at every layer
    rows = np.nonzero(x[0, 0].any(axis=1))[0]
    return int(rows[-1] - rows[0] + 1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=4, help="3x3 layers in the stack (1-8)")
    args = ap.parse_args(argv)
    if not 1 <= args.layers <= 8:
        ap.error("--layers must be between 1 and 8")
    size = 2 * 2 ** args.layers * 3 + 1
    ok = True
    print("%-28s %10s %10s %10s" % ("stack of 3x3 layers", "weights", "formula", "measured"))
    for name, dil in (("dilation 1", [1] * args.layers),
                      ("dilations 1, 2, 4, ...", [2 ** i for i in range(args.layers)])):
        layers = [{"kernel_size": 3, "dilation": d} for d in dil]
        formula = shapes.receptive_field(layers)
        measured = measured_field(dil, size)
        ok &= formula == measured
        print("%-28s %10d %10d %10d" % (name, 9 * args.layers, formula, measured))
    print("a single 3x3 kernel at dilation 2 sees %d x %d"
          % ((shapes.receptive_field([{"kernel_size": 3, "dilation": 2}]),) * 2))
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
