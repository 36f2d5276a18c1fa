"""The ``pyconv`` command: ``pyconv info`` and ``pyconv demo``.

Also runnable as ``python -m pyconv``.
"""
import argparse
import os
import sys
import time


def _median_time(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def cmd_info(args):
    from . import show_config
    show_config()
    return 0


def cmd_demo(args):
    import numpy as np
    import scipy.ndimage as ndi
    from skimage import data
    import pyconv
    from pyconv import filters

    image = data.camera().astype(np.float32) / 255.0
    smooth = np.outer(*[np.exp(-0.5 * (np.arange(-3, 4) / 1.5) ** 2)] * 2).astype(np.float32)
    smooth /= smooth.sum()
    kernels = {
        "sharpen 3x3": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32),
        "gaussian-like 7x7": smooth,
        "random 15x15": np.random.default_rng(0).standard_normal((15, 15)).astype(np.float32),
    }
    print("pyconv demo: skimage.data.camera() %s float32, mode='reflect', %d threads"
          % (image.shape, pyconv.get_num_threads()))
    print("%-20s %12s %12s %9s %12s" % ("kernel", "pyconv ms", "scipy ms", "speed-up",
                                         "max |diff|"))
    outputs = {}
    for name, k in kernels.items():
        ours = filters.correlate(image, k)
        ref = ndi.correlate(image, k)
        t_ours = _median_time(lambda: filters.correlate(image, k), args.repeat)
        t_ref = _median_time(lambda: ndi.correlate(image, k), max(1, args.repeat // 3))
        print("%-20s %12.3f %12.3f %8.1fx %12.2e" % (name, t_ours * 1e3, t_ref * 1e3,
                                                     t_ref / t_ours,
                                                     float(np.abs(ours - ref).max())))
        outputs[name] = ours
    if args.output:
        import imageio.v3 as iio
        os.makedirs(args.output, exist_ok=True)
        iio.imwrite(os.path.join(args.output, "camera.png"), data.camera())
        for name, res in outputs.items():
            scaled = res - res.min()
            scaled = (255 * scaled / max(float(scaled.max()), 1e-12)).astype(np.uint8)
            fname = name.split()[0].replace("-", "_") + ".png"
            iio.imwrite(os.path.join(args.output, fname), scaled)
        print("images written to %s" % os.path.abspath(args.output))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="pyconv",
        description="Convolutions on the CPU with scipy/scikit-image numbers, multi-threaded.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("info", help="print version, compiler, OpenMP, SIMD path, threads")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("demo", help="filter scikit-image's camera image; time against scipy")
    p.add_argument("-o", "--output", metavar="DIR", default=None,
                   help="also write the input and filtered images as PNGs into DIR")
    p.add_argument("--repeat", type=int, default=9, help="timed repetitions (default 9)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
