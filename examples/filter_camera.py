"""Filter scikit-image's camera image with pyconv and scipy.ndimage, side by side.

Runs in a few seconds:  python examples/filter_camera.py [--threads N]

Shows the three things a script usually needs: the same numbers as scipy.ndimage (largest
difference printed), float32 kept end to end, and per-call thread control.
"""
import argparse
import time

import numpy as np
import scipy.ndimage as ndi
from skimage import data

import pyconv
from pyconv import filters, signal


def best_of(fn, repeat=5):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(threads=None):
    image = data.camera().astype(np.float32) / 255.0
    laplace = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)
    box = np.full((9, 9), 1 / 81, np.float32)
    print("pyconv %s, %s threads" % (pyconv.__version__, threads or pyconv.get_num_threads()))
    rows = []
    for name, kernel, mode in [("laplace 3x3", laplace, "reflect"),
                               ("box 9x9", box, "mirror")]:
        ours = filters.correlate(image, kernel, mode=mode, num_threads=threads)
        ref = ndi.correlate(image, kernel, mode=mode)
        assert ours.dtype == np.float32
        t_ours = best_of(lambda: filters.correlate(image, kernel, mode=mode,
                                                   num_threads=threads))
        t_ref = best_of(lambda: ndi.correlate(image, kernel, mode=mode), 3)
        rows.append((name, mode, t_ours, t_ref, float(np.abs(ours - ref).max())))
    # the same 3x3 through scipy.signal's conventions: 'same' size, symmetric boundary
    ours = signal.correlate2d(image, laplace, mode="same", boundary="symm")
    rows.append(("correlate2d same/symm", "symm", best_of(
        lambda: signal.correlate2d(image, laplace, mode="same", boundary="symm")), float("nan"),
        float(np.abs(ours - filters.correlate(image, laplace)).max())))
    print("%-22s %-8s %10s %10s %12s" % ("filter", "mode", "pyconv ms", "scipy ms",
                                         "max |diff|"))
    for name, mode, a, b, err in rows:
        print("%-22s %-8s %10.3f %10.3f %12.2e" % (name, mode, a * 1e3, b * 1e3, err))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    main(parser.parse_args().threads)
