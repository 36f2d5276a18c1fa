"""``pyconv filter``: filter image files and ``.npy`` arrays with pyconv.filters.

Everything the user can get wrong (files, kernel text, options, output names, existing
outputs) is checked before the first file is filtered; a problem is reported as a
:class:`CLIError`, which the command prints as one line (exit status 2).
"""
import glob
import os
import sys
import time

import numpy as np

from . import _imageio

OPS = ("sobel", "scharr", "prewitt", "gaussian", "uniform", "correlate", "convolve")
MODES = ("reflect", "constant", "nearest", "mirror", "wrap", "grid-constant", "grid-mirror",
         "grid-wrap")
DTYPES = ("auto", "uint8", "uint16", "float32", "float64")
OUT_FORMATS = ("auto", "png", "tif", "npy", "jpg")

HELP = """\
Filter images (PNG, JPEG, TIFF incl. 16-bit and float, BMP, GIF, WebP) and .npy arrays
with pyconv.filters. INPUT may be files, folders (their readable files, not recursive) and
glob patterns (quote them: 'scans/*.tif').
"""

DETAILS = """\
operations (--op):
  sobel, scharr, prewitt   edge magnitude, as skimage.filters.sobel/scharr/prewitt
  gaussian                 Gaussian blur, --sigma (default 1; default mode 'nearest')
  uniform                  box filter, --size (default 3)
  correlate, convolve      with --kernel: a .npy file, or text with ',' between values and
                           ';' between rows, e.g. "1,2,1;2,4,2;1,2,1" ("1,2,1" is one
                           row, 1x3); weights as given, not normalised; --kernel alone
                           means --op correlate

arrays and channels:
  An image file whose last axis has 2-4 entries (grey+alpha, RGB, RGBA) is a colour image:
  each channel is filtered on its own (channel_axis=-1; alpha is filtered too). Everything
  else -- greyscale images, multi-page TIFFs, .npy arrays -- is filtered over all its axes
  (1 to 3); --channel-axis says otherwise (an axis number, or 'none').

output (-o OUT):
  One input and OUT ending in .png/.jpg/.tif/.tiff/.npy: that file. Otherwise OUT is a
  folder (created if need be) and each input gives OUT/<name>.<ext>. The format
  (--format auto) is the input's: .npy -> .npy, .tif/.tiff -> .tif/.tiff, anything else
  -> .png (JPEG is not re-encoded lossily unless asked for with --format jpg).
  Existing files are never replaced without --overwrite.

output dtype (--dtype auto):
  .npy                 float32 (float64 for float64 or 32/64-bit integer input)
  .tif                 the input's dtype for uint8/uint16 input, else float32/float64
  .png                 uint16 for 16-bit input, else uint8     .jpg: uint8
  The filter computes in float32 (float64 for float64 or 32/64-bit integer input) on the
  values as stored, so float output holds the result in the input's units (0..255 for a
  uint8 image). Writing integers: values are scaled by M/S (M the output type's maximum,
  S the input type's maximum, or 1 for float input, which is taken to lie in [0, 1]), so
  the same dtype in and out keeps the numbers; then rounded and clipped to 0..M -- never
  wrapped around -- and a warning says how many values were clipped. --stretch maps each
  result's min..max onto 0..M instead (for edges or signed results).

exit status: 0 done, 2 bad input or options (one line on stderr, nothing written for the
failing file).

examples:
  pyconv filter photo.jpg -o edges.png --op sobel
  pyconv filter 'scans/*.tif' -o blurred/ --op gaussian --sigma 2 --threads 4
  pyconv filter volume.npy -o smooth.npy --op uniform --size 5
  pyconv filter camera.png -o sharp.png --kernel "0,-1,0;-1,5,-1;0,-1,0"
"""


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def add_parser(sub):
    import argparse
    p = sub.add_parser(
        "filter", help="filter image files and .npy arrays: sobel, gaussian, a kernel, ...",
        description=HELP, epilog=DETAILS, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="pyconv filter INPUT... -o OUT [--op OP] [--kernel K] [options]")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image or .npy files, folders, or glob patterns")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file (one input) or folder")
    p.add_argument("--op", choices=OPS, metavar="OP",
                   help="%s (default: correlate with --kernel)" % ", ".join(OPS))
    p.add_argument("--kernel", metavar="K",
                   help='weights for correlate/convolve: FILE.npy or "1,2,1;2,4,2;1,2,1"')
    p.add_argument("--mode", choices=MODES, metavar="MODE",
                   help="boundary mode: reflect, constant, nearest, mirror, wrap (default: "
                        "nearest for gaussian, reflect otherwise; scipy.ndimage's meaning)")
    p.add_argument("--cval", type=float, default=0.0,
                   help="value outside the image for --mode constant (default 0)")
    p.add_argument("--sigma", metavar="S",
                   help="gaussian: standard deviation, one value or one per axis "
                        "('2' or '2,1'; default 1)")
    p.add_argument("--size", metavar="N",
                   help="uniform: box side, one value or one per axis ('5' or '5,3'; default 3)")
    p.add_argument("--channel-axis", metavar="AXIS", default="auto",
                   help="axis holding channels, or 'none' (default auto, see below)")
    p.add_argument("--format", choices=OUT_FORMATS, default="auto",
                   help="output format when OUT is a folder (default auto: see below)")
    p.add_argument("--dtype", choices=DTYPES, default="auto",
                   help="output dtype (default auto: see below)")
    p.add_argument("--stretch", action="store_true",
                   help="integer output: map each result's min..max onto the full range")
    p.add_argument("--threads", type=int, metavar="N",
                   help="threads (default: pyconv's default, OMP_NUM_THREADS honoured)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per file written")
    p.set_defaults(func=run)
    return p


# --------------------------------------------------------------------------------------------
# option parsing


def parse_kernel(text):
    """A kernel from FILE.npy or from text: ',' (or spaces) between values, ';' between
    rows.  Returns a float64 array (1-D text gives a single row, shape (1, k))."""
    if text.lower().endswith(".npy"):
        try:
            k = _imageio.read(text)
        except _imageio.ImageIOError as exc:
            raise CLIError("--kernel: %s" % exc)
        return np.asarray(k, dtype=np.float64)
    rows = [r for r in text.split(";")]
    try:
        values = [[float(v) for v in r.replace(",", " ").split()] for r in rows]
    except ValueError:
        raise CLIError("--kernel %r: not a .npy file nor numbers like \"1,2,1;2,4,2;1,2,1\""
                       % text)
    if not values or any(not r for r in values):
        raise CLIError("--kernel %r: an empty row (write values with ',' and rows with ';', "
                       "e.g. \"1,2,1;2,4,2;1,2,1\")" % text)
    if len({len(r) for r in values}) != 1:
        raise CLIError("--kernel %r: rows of different lengths %s"
                       % (text, [len(r) for r in values]))
    k = np.array(values, dtype=np.float64)
    if not np.all(np.isfinite(k)):
        raise CLIError("--kernel %r: weights must be finite" % text)
    return k


def _numbers(text, name, kind):
    try:
        vals = [kind(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise CLIError("%s %r: expected %s, one or one per axis separated by ','"
                       % (name, text, "integers" if kind is int else "numbers"))
    if not vals:
        raise CLIError("%s: no value given" % name)
    if kind is int and any(v < 1 for v in vals):
        raise CLIError("%s %r: sizes must be >= 1" % (name, text))
    if kind is float and any(not np.isfinite(v) or v < 0 for v in vals):
        raise CLIError("%s %r: must be finite and >= 0" % (name, text))
    return vals


def _check_options(args):
    if args.op is None:
        if args.kernel is None:
            raise CLIError("choose an operation with --op (%s), or give --kernel"
                           % ", ".join(OPS))
        args.op = "correlate"
    if args.op in ("correlate", "convolve"):
        if args.kernel is None:
            raise CLIError("--op %s needs --kernel (FILE.npy or \"1,2,1;2,4,2;1,2,1\")"
                           % args.op)
        args.kernel_array = parse_kernel(args.kernel)
    elif args.kernel is not None:
        raise CLIError("--kernel is for --op correlate or convolve, not %s" % args.op)
    if args.sigma is not None and args.op != "gaussian":
        raise CLIError("--sigma is for --op gaussian, not %s" % args.op)
    if args.size is not None and args.op != "uniform":
        raise CLIError("--size is for --op uniform, not %s" % args.op)
    args.sigma_values = _numbers(args.sigma, "--sigma", float) if args.sigma else [1.0]
    args.size_values = _numbers(args.size, "--size", int) if args.size else [3]
    if args.threads is not None and args.threads < 1:
        raise CLIError("--threads must be >= 1, got %d" % args.threads)
    ca = args.channel_axis.strip().lower()
    if ca in ("auto", "none"):
        args.channel_axis_value = ca
    else:
        try:
            args.channel_axis_value = int(ca)
        except ValueError:
            raise CLIError("--channel-axis %r: an axis number, 'none' or 'auto'"
                           % args.channel_axis)
    if args.mode is None:
        args.mode = "nearest" if args.op == "gaussian" else "reflect"


# --------------------------------------------------------------------------------------------
# inputs and outputs


def _has_magic(s):
    return any(c in s for c in "*?[")


def expand_inputs(items):
    """The files named by ``items`` (files, folders, globs), in order, without repeats."""
    files = []
    for item in items:
        if os.path.isdir(item):
            found = sorted(os.path.join(item, n) for n in os.listdir(item)
                           if _imageio.extension(n) in _imageio.READ_EXTS
                           and not n.startswith(".")
                           and os.path.isfile(os.path.join(item, n)))
            if not found:
                raise CLIError("folder %s holds no readable file (%s)"
                               % (item, " ".join(_imageio.READ_EXTS)))
            files.extend(found)
        elif os.path.exists(item):
            if _imageio.extension(item) not in _imageio.READ_EXTS:
                raise CLIError("%s: unknown file type %r (readable: %s)"
                               % (item, _imageio.extension(item) or "no extension",
                                  " ".join(_imageio.READ_EXTS)))
            files.append(item)
        elif _has_magic(item):
            found = sorted(f for f in glob.glob(item)
                           if os.path.isfile(f) and _imageio.extension(f) in _imageio.READ_EXTS)
            if not found:
                raise CLIError("no readable file matches %r" % item)
            files.extend(found)
        else:
            raise CLIError("no such file or folder: %s" % item)
    seen, unique = set(), []
    for f in files:
        key = os.path.realpath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def auto_format(path):
    ext = _imageio.extension(path)
    if ext == ".npy":
        return "npy", ".npy"
    if ext in (".tif", ".tiff"):
        return "tif", ext
    return "png", ".png"


def plan_outputs(files, out, fmt_option):
    """[(input, output path, format)], checked for clashes."""
    out_fmt = _imageio.format_of(out)
    if len(files) == 1 and out_fmt is not None and not os.path.isdir(out):
        if fmt_option != "auto" and fmt_option != out_fmt:
            raise CLIError("-o %s ends in %s but --format is %s"
                           % (out, _imageio.extension(out), fmt_option))
        return [(files[0], out, out_fmt)]
    if out_fmt is not None and not os.path.isdir(out):
        raise CLIError("-o %s names one file, but there are %d inputs: give a folder"
                       % (out, len(files)))
    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError("-o %s exists and is not a folder" % out)
    plan, taken = [], {}
    for f in files:
        stem = os.path.splitext(os.path.basename(f))[0]
        if fmt_option == "auto":
            fmt, ext = auto_format(f)
        else:
            fmt, ext = fmt_option, _imageio.FORMATS[fmt_option][0]
        dest = os.path.join(out, stem + ext)
        if dest in taken:
            raise CLIError("%s and %s would both be written to %s" % (taken[dest], f, dest))
        taken[dest] = f
        plan.append((f, dest, fmt))
    return plan


def compute_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype == np.float64 or (dtype.kind in "iu" and dtype.itemsize > 2):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def output_dtype(option, fmt, source, path):
    source = np.dtype(source)
    if option == "auto":
        if fmt == "npy":
            return compute_dtype(source)
        if fmt == "tif":
            return source if source in (np.uint8, np.uint16) else compute_dtype(source)
        if fmt == "png":
            return np.dtype(np.uint16) if source.itemsize == 2 and source.kind in "iu" \
                else np.dtype(np.uint8)
        return np.dtype(np.uint8)
    allowed = _imageio.FORMATS[fmt][1]
    if option not in allowed:
        raise CLIError("%s: %s cannot hold %s (it holds %s; use --format tif or npy for "
                       "floats)" % (path, fmt.upper(), option, " or ".join(allowed)))
    return np.dtype(option)


def channel_axis_for(arr, path, option):
    if option == "none":
        return None
    if option == "auto":
        is_image = _imageio.extension(path) != ".npy"
        if is_image and arr.ndim in (3, 4) and 2 <= arr.shape[-1] <= 4:
            return -1
        return None
    if not -arr.ndim <= option < arr.ndim:
        raise CLIError("%s: --channel-axis %d is out of range for an array of shape %s"
                       % (path, option, arr.shape))
    return option


# --------------------------------------------------------------------------------------------
# progress


class _Progress:
    """tqdm when installed, else a counter on stderr; nothing for a single file."""

    def __init__(self, total, enabled):
        self.total, self.count, self.bar = total, 0, None
        self.enabled = enabled and total > 1
        self.tty = sys.stderr.isatty()
        if self.enabled:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, unit="file", file=sys.stderr, leave=True)
            except ImportError:
                self.bar = None

    def step(self, name):
        self.count += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(os.path.basename(name), refresh=False)
            self.bar.update(1)
        else:
            end = "" if self.tty and self.count < self.total else "\n"
            sys.stderr.write("%s[%d/%d] %s%s" % ("\r" if self.tty else "", self.count,
                                                 self.total, os.path.basename(name), end))
            sys.stderr.flush()

    def write(self, msg, file=None):
        file = file or sys.stderr
        if self.bar is not None:
            self.bar.write(msg, file=file)
        else:
            if self.enabled and self.tty and 0 < self.count < self.total:
                sys.stderr.write("\n")
            print(msg, file=file)

    def close(self, failed=False):
        if self.bar is not None:
            if failed:  # clear the bar: the error line stands alone
                self.bar.leave = False
            self.bar.close()
        elif failed and self.enabled and self.tty and 0 < self.count < self.total:
            sys.stderr.write("\r\033[K")


# --------------------------------------------------------------------------------------------
# filtering


def filter_array(arr, args, path):
    """Filter one array as the options say; returns the float result."""
    from . import filters
    ca = channel_axis_for(arr, path, args.channel_axis_value)
    spatial = arr.ndim - (ca is not None)
    if not 1 <= spatial <= 3:
        raise CLIError("%s: shape %s has %d axes to filter; pyconv filters 1 to 3 "
                       "(name the channel axis with --channel-axis)"
                       % (path, arr.shape, spatial))
    x = arr.astype(compute_dtype(arr.dtype), copy=False)
    common = dict(mode=args.mode, cval=args.cval, channel_axis=ca,
                  num_threads=args.threads)
    op = args.op
    try:
        if op in ("sobel", "scharr", "prewitt"):
            return getattr(filters, op)(x, **common)
        if op == "gaussian":
            sigma = args.sigma_values
            return filters.gaussian(x, sigma[0] if len(sigma) == 1 else sigma, **common)
        if op == "uniform":
            size = args.size_values
            return filters.uniform(x, size[0] if len(size) == 1 else size, **common)
        k = args.kernel_array
        if k.ndim == 2 and k.shape[0] == 1 and spatial == 1:
            k = k[0]
        if k.ndim != spatial:
            raise CLIError("%s: the kernel has %d dimensions %s but the data have %d axes to "
                           "filter (shape %s)" % (path, k.ndim, k.shape, spatial, arr.shape))
        return getattr(filters, op)(x, k.astype(x.dtype), **common)
    except (ValueError, TypeError) as exc:
        raise CLIError("%s: %s" % (path, str(exc).splitlines()[0]))


def run(args):
    t0 = time.perf_counter()
    _check_options(args)
    files = expand_inputs(args.inputs)
    plan = plan_outputs(files, args.output, args.format)
    if args.dtype != "auto":
        for src, dest, fmt in plan:
            output_dtype(args.dtype, fmt, np.uint8, dest)  # validates format x dtype
    if not args.overwrite:
        existing = [dest for _, dest, _ in plan if os.path.exists(dest)]
        if existing:
            more = " and %d more" % (len(existing) - 1) if len(existing) > 1 else ""
            raise CLIError("%s%s exist%s (use --overwrite to replace)"
                           % (existing[0], more, "s" if not more else ""))
    folder = os.path.dirname(plan[0][1]) if len(plan) == 1 else args.output
    if folder:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise CLIError("cannot create folder %s: %s" % (folder, exc.strerror or exc))

    progress = _Progress(len(plan), enabled=not args.quiet)
    clipped_files = 0
    try:
        for src, dest, fmt in plan:
            try:
                arr = _imageio.read(src)
                result = filter_array(arr, args, src)
                dt = output_dtype(args.dtype, fmt, arr.dtype, dest)
                data, below, above, nan = _imageio.to_dtype(result, dt, arr.dtype,
                                                            stretch=args.stretch)
                _imageio.write(dest, data, fmt, overwrite=args.overwrite)
            except _imageio.ImageIOError as exc:
                raise CLIError(str(exc))
            if below or above or nan:
                clipped_files += 1
                parts = []
                if below:
                    parts.append("%d below 0" % below)
                if above:
                    parts.append("%d above %d" % (above, _imageio.int_max(dt)))
                if nan:
                    parts.append("%d NaN (written as 0)" % nan)
                progress.write("warning: %s: %s of %d values clipped to the %s range (--stretch "
                               "rescales; --format tif or npy keeps floats)"
                               % (dest, ", ".join(parts), data.size, dt))
            if args.verbose:
                progress.write("%s -> %s  %s %s" % (src, dest, "x".join(map(str, data.shape)),
                                                    data.dtype), file=sys.stdout)
            progress.step(src)
    except BaseException:
        progress.close(failed=True)
        raise
    progress.close()
    if not args.quiet:
        where = plan[0][1] if len(plan) == 1 else args.output
        clipped = " (values clipped in %d, see the warnings)" % clipped_files \
            if clipped_files else ""
        print("pyconv filter: %s, mode=%s: %d file%s written to %s%s (%.2f s)"
              % (args.op, args.mode, len(plan), "" if len(plan) == 1 else "s", where,
                 clipped, time.perf_counter() - t0))
    return 0
