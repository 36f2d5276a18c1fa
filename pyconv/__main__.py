"""The ``pyconv`` command (also ``python -m pyconv``).

Subcommands: ``info``, ``demo``, ``filter``, ``verify``, ``bench``; ``pyconv --help`` lists
them and ``pyconv COMMAND --help`` explains each.  A usage error or bad input is one line
on stderr and exit status 2; ``verify`` exits 1 when a check fails.
"""
import argparse
import os
import sys
import time

from ._cli_filter import CLIError

DESCRIPTION = """\
pyconv: convolutions on the CPU with the numbers of scipy.ndimage, scipy.signal,
scikit-image and PyTorch, in typed Cython with OpenMP threads."""

EPILOG = """\
examples:
  pyconv demo                                  filter sample images, time against scipy
  pyconv filter photo.jpg -o edges.png --op sobel
  pyconv filter 'scans/*.tif' -o blurred/ --op gaussian --sigma 2
  pyconv verify                                check every operation against its reference
  pyconv bench --quick                         side-by-side timings (source checkout only)

'pyconv COMMAND --help' explains a command. Bad input or options: one line on stderr, exit
status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see '%s --help')\n" % (self.prog, message, self.prog))


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Lists the commands without argparse's extra 'COMMAND' line above them."""

    def _format_action(self, action):
        text = super()._format_action(action)
        if action.nargs == argparse.PARSER:
            text = "\n".join(text.split("\n")[1:])
        return text


def _median_time(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


# --------------------------------------------------------------------------------------------
# info


def cmd_info(args):
    from . import show_config
    show_config()
    return 0


# --------------------------------------------------------------------------------------------
# demo

DEMO_HELP = """\
Filter two of scikit-image's bundled images -- camera (greyscale) and astronaut (RGB, each
channel on its own) -- with Sobel, a Gaussian blur and a custom 3x3 sharpening kernel; time
each call against the same call in scipy.ndimage and scikit-image (median of --repeat runs
after a warm-up; speed-up = fastest peer / pyconv) and print the largest difference. The
inputs and results are written as 8-bit PNGs: camera.png, astronaut.png and
<image>_<filter>.png (Sobel magnitudes stretched to 0-255, the others clipped to [0, 1]).

Without -o the PNGs go to a new folder ./pyconv-demo (./pyconv-demo-2, ... if it exists).
Existing files are never replaced without --overwrite."""

SHARPEN = ((0, -1, 0), (-1, 5, -1), (0, -1, 0))


def _demo_folder(output):
    if output:
        return output
    base = os.path.abspath("pyconv-demo")
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = "%s-%d" % (base, n)
    return path


def _demo_calls(image, rgb):
    """[(filter label, file tag, pyconv call, {peer: call}, stretch for display)]."""
    import numpy as np
    import scipy.ndimage as ndi
    import skimage.filters as skf

    from . import filters

    k = np.array(SHARPEN, np.float32)
    ca = -1 if rgb else None
    if rgb:
        def sk_sobel():
            return np.stack([skf.sobel(image[..., c]) for c in range(image.shape[-1])], -1)
        gauss_sigma = (2.0, 2.0, 0.0)
        k_nd = k[:, :, None]
    else:
        def sk_sobel():
            return skf.sobel(image)
        gauss_sigma = 2.0
        k_nd = k
    return [
        ("sobel", "sobel", lambda: filters.sobel(image, channel_axis=ca),
         {"skimage": sk_sobel}, True),
        ("gaussian sigma=2", "gaussian",
         lambda: filters.gaussian(image, 2.0, channel_axis=ca),
         {"scipy": lambda: ndi.gaussian_filter(image, gauss_sigma, mode="nearest"),
          "skimage": lambda: skf.gaussian(image, sigma=2.0, channel_axis=ca)}, False),
        ("sharpen 3x3", "sharpen", lambda: filters.correlate(image, k, channel_axis=ca),
         {"scipy": lambda: ndi.correlate(image, k_nd)}, False),
    ]


def cmd_demo(args):
    import numpy as np
    from skimage import data

    import pyconv
    from . import _imageio

    if args.repeat < 1:
        raise CLIError("--repeat must be >= 1, got %d" % args.repeat)
    folder = _demo_folder(args.output)
    images = [("camera", data.camera(), False), ("astronaut", data.astronaut(), True)]
    names = [name + ".png" for name, _, _ in images]
    names += ["%s_%s.png" % (name, tag) for name, _, _ in images
              for tag in ("sobel", "gaussian", "sharpen")]
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise CLIError("-o %s exists and is not a folder" % folder)
    if not args.overwrite:
        existing = [n for n in names if os.path.exists(os.path.join(folder, n))]
        if existing:
            raise CLIError("%s already holds %s (use --overwrite to replace, or another -o)"
                           % (folder, ", ".join(existing[:3]) + (" ..." if len(existing) > 3
                                                                  else "")))

    print("pyconv demo: scikit-image's camera (512x512) and astronaut (512x512x3, per "
          "channel), float32 in [0, 1], %d threads" % pyconv.get_num_threads())
    print("times: median of %d calls in ms; speed-up = fastest peer / pyconv; max |diff| "
          "against the first peer" % args.repeat)
    print()
    head = "%-10s %-17s %10s %10s %10s %9s %11s" % ("image", "filter", "pyconv", "scipy",
                                                    "skimage", "speed-up", "max |diff|")
    print(head)
    print("-" * len(head))
    results = {}
    for name, raw, rgb in images:
        image = raw.astype(np.float32) / np.float32(255)
        for label, tag, ours, peers, stretch in _demo_calls(image, rgb):
            res = ours()
            ref = next(iter(peers.values()))()
            diff = float(np.abs(res.astype(np.float64) - ref).max())
            t_ours = _median_time(ours, args.repeat)
            t_peer = {p: _median_time(fn, args.repeat) for p, fn in peers.items()}
            fastest = min(t_peer.values())

            def ms(p):
                return "%10.2f" % (t_peer[p] * 1e3) if p in t_peer else "%10s" % "-"
            print("%-10s %-17s %10.2f %s %s %8.1fx %11.1e"
                  % (name, label, t_ours * 1e3, ms("scipy"), ms("skimage"),
                     fastest / t_ours, diff))
            results["%s_%s.png" % (name, tag)] = _imageio.display_uint8(res, stretch=stretch)
        results[name + ".png"] = raw
    print()
    try:
        os.makedirs(folder, exist_ok=True)
        for fname in names:
            _imageio.write(os.path.join(folder, fname), results[fname], "png",
                           overwrite=args.overwrite)
    except (OSError, _imageio.ImageIOError) as exc:
        raise CLIError(str(exc))
    print("images written to %s" % os.path.abspath(folder))
    return 0


# --------------------------------------------------------------------------------------------
# verify

VERIFY_HELP = """\
Run every public operation -- pyconv.filters (correlate, convolve, correlate1d, convolve1d,
sepfilter, sobel, scharr, prewitt, gaussian, uniform), pyconv.signal (convolve2d,
correlate2d, convolve, correlate) and the layers (conv1d/2d/3d, depthwise_conv2d,
separable_conv2d, channel_shuffle, conv_transpose1d/2d/3d) -- on random arrays and on
skimage.data.camera(), in float32 and float64, against an independent reference:
scipy.ndimage / scikit-image for the filters, scipy.signal for pyconv.signal, and
pyconv.reference (scipy.signal in float64) plus torch.nn.functional (when importable) for
the layers.

error = max|pyconv - reference| / (max|x| * sum|w|), the largest value a sum of products
can reach; it must stay below 1e-5 in float32 and 1e-10 in float64, and the result must
keep the input's dtype. One table row per operation x reference x dtype (the worst of its
cases). Exit status 0 when everything passes, 1 when a check fails. Also pyconv.verify()."""


def cmd_verify(args):
    from ._verify import verify
    if args.threads is not None and args.threads < 1:
        raise CLIError("--threads must be >= 1, got %d" % args.threads)
    ok = verify(quick=args.quick, seed=args.seed, torch=not args.no_torch,
                num_threads=args.threads, failures_only=args.failures_only)
    return 0 if ok else 1


# --------------------------------------------------------------------------------------------
# bench

#: what ``pyconv bench`` runs without --only: one small, two image filters, one layer
BENCH_DEFAULT = ("correlate2d_3x3_64_overhead", "correlate2d_7x7_2048", "gaussian_s2_2048",
                 "dl_conv2d_3x3_256c_14")

BENCH_HELP = """\
Run a few workloads of the side-by-side benchmark runner (benchmarks/run.py) and print its
table: pyconv against scipy.ndimage, scipy.signal, scikit-image, OpenCV and PyTorch (those
installed), each output checked against a float64 reference, speed shown as the ratio to the
fastest peer at the same thread count. Default workloads: %s (--only picks others; --list
shows them all). The full suite: python benchmarks/run.py.

benchmarks/ is part of the source tree, not of the installed package: this command works
from a checkout (pip install -e .) and says so otherwise.""" % ", ".join(BENCH_DEFAULT)


def _bench_runner_path():
    import pyconv
    root = os.path.dirname(os.path.dirname(os.path.abspath(pyconv.__file__)))
    return os.path.join(root, "benchmarks", "run.py")


def _load_bench_runner(path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("_pyconv_benchmarks_run", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cmd_bench(args):
    import tempfile

    path = _bench_runner_path()
    if not os.path.isfile(path):
        raise CLIError("the benchmark runner is not installed with the package (no %s): run "
                       "'pyconv bench' from a source checkout (pip install -e .) or "
                       "'python benchmarks/run.py' there" % path)
    argv = ["--no-calibrate"]
    if args.list:
        argv.append("--list")
    if args.quick:
        argv.append("--quick")
    if args.threads is not None:
        try:
            threads = [int(t) for t in args.threads.split(",") if t.strip()]
        except ValueError:
            threads = []
        if not threads or min(threads) < 1:
            raise CLIError("--threads takes thread counts >= 1 separated by ',', e.g. 1,4; "
                           "got %r" % args.threads)
        argv += ["--threads", ",".join(map(str, threads))]
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CLIError("--plot needs matplotlib (pip install matplotlib)")
        argv += ["--plot", args.plot]
    only = list(args.only or BENCH_DEFAULT)
    argv += ["--only"] + only
    try:
        runner = _load_bench_runner(path)
    except Exception as exc:
        raise CLIError("cannot load %s: %s: %s" % (path, type(exc).__name__, exc))
    if not args.list:
        try:  # unknown names: one line now, not after the runner's start-up probes
            runner.select_workloads(only, False)
        except SystemExit as exc:
            raise CLIError(str(exc.code).replace("use --list", "see pyconv bench --list"))
    with tempfile.TemporaryDirectory(prefix="pyconv-bench-") as tmp:
        argv += ["--out-dir", args.out_dir or tmp]
        try:
            code = runner.main(argv)
        except SystemExit as exc:  # the runner's own argument errors
            if isinstance(exc.code, str):
                raise CLIError(exc.code)
            code = exc.code
    return code or 0


# --------------------------------------------------------------------------------------------


def build_parser():
    from . import _cli_filter

    parser = _Parser(prog="pyconv", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=_Formatter)
    from . import __version__
    parser.add_argument("--version", action="version", version="pyconv " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    raw = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser("info", help="version, compiler, OpenMP, SIMD path, threads",
                       description="Print pyconv's version, how it was built (compiler, "
                                   "OpenMP, SIMD paths) and its default thread count.")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("demo", help="filter sample images, time against scipy/scikit-image",
                       description=DEMO_HELP, formatter_class=raw)
    p.add_argument("-o", "--output", metavar="DIR", default=None,
                   help="folder for the PNGs (default: a new ./pyconv-demo)")
    p.add_argument("--repeat", type=int, default=5, metavar="N",
                   help="timed calls per function (default 5)")
    p.add_argument("--overwrite", action="store_true", help="replace existing PNGs in DIR")
    p.set_defaults(func=cmd_demo)

    _cli_filter.add_parser(sub)

    p = sub.add_parser("verify", help="check every operation against its reference",
                       description=VERIFY_HELP, formatter_class=raw)
    p.add_argument("--quick", action="store_true",
                   help="fewer boundary modes and layer variants (every operation still runs)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--threads", type=int, metavar="N", help="threads for pyconv")
    p.add_argument("--no-torch", action="store_true",
                   help="do not compare with torch.nn.functional even if installed")
    p.add_argument("--failures-only", action="store_true", help="print only failing rows")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("bench", help="side-by-side timings (benchmarks/run.py, source checkout)",
                       description=BENCH_HELP, formatter_class=raw)
    p.add_argument("--quick", action="store_true", help="3 rounds, shorter samples")
    p.add_argument("--threads", metavar="LIST",
                   help="comma-separated thread counts, e.g. 1,4 (default: 1 and all cores)")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="workloads to run (exact name, prefix or glob; see --list)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw a bar chart (needs matplotlib)")
    p.add_argument("--out-dir", metavar="DIR",
                   help="keep results.md and results.json in DIR (default: not kept)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except CLIError as exc:
        sys.stdout.flush()
        message = " ".join(str(exc).split())  # always one line
        print("%s %s: error: %s" % (parser.prog, args.command, message), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("%s: interrupted" % parser.prog, file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `pyconv bench --list | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
