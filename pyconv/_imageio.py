"""Reading and writing images and arrays for the ``pyconv`` command.

Only the package's required dependencies are needed: scikit-image (whose ``skimage.io``
reads and writes PNG, JPEG and the other formats through imageio, and TIFF through
tifffile, both scikit-image dependencies) and NumPy for ``.npy``.

The conversion of a filtered float array to the stored dtype is explicit (see
:func:`to_dtype`): values are rounded and clipped to the integer range, never wrapped
around, and the number of clipped values is reported.
"""
import logging
import os
import warnings

import numpy as np

#: file name endings that ``pyconv filter`` reads (lower case)
READ_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".npy")
#: output format name -> (file ending, dtypes it can hold)
FORMATS = {
    "png": (".png", ("uint8", "uint16")),
    "jpg": (".jpg", ("uint8",)),
    "tif": (".tif", ("uint8", "uint16", "float32", "float64")),
    "npy": (".npy", ("uint8", "uint16", "float32", "float64")),
}
_EXT_FORMAT = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".tif": "tif", ".tiff": "tif",
               ".npy": "npy"}


class ImageIOError(Exception):
    """A file could not be read or written; the message is one line for the user."""


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def extension(path):
    return os.path.splitext(str(path))[1].lower()


def format_of(path):
    """'png', 'jpg', 'tif' or 'npy' for a writable file name, else None."""
    return _EXT_FORMAT.get(extension(path))


def read(path):
    """The array stored in ``path`` (an image file or a ``.npy`` array), as stored."""
    path = str(path)
    ext = extension(path)
    if not os.path.exists(path):
        raise ImageIOError("no such file: %s" % path)
    if os.path.isdir(path):
        raise ImageIOError("%s is a folder, not a file" % path)
    tiff_log = logging.getLogger("tifffile")
    level = tiff_log.level
    try:
        # the readers' own warnings and log lines would break the one-line error rule
        tiff_log.setLevel(logging.CRITICAL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if ext == ".npy":
                arr = np.load(path, allow_pickle=False)
            elif ext in (".tif", ".tiff"):
                import tifffile
                arr = tifffile.imread(path)
            else:
                import skimage.io
                arr = skimage.io.imread(path)
    except Exception as exc:  # any reader failure is a bad input file
        why = _first_line(exc)
        if "Could not find a backend" in why or "cannot identify image file" in why:
            why = "not an image in a format it can read, or a damaged file"
        elif ext == ".npy" and ("pickle" in why or "magic" in why.lower()):
            why = "not a NumPy .npy array file (arrays of Python objects are not read)"
        raise ImageIOError("cannot read %s: %s" % (path, why)) from None
    finally:
        tiff_log.setLevel(level)
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise ImageIOError("cannot filter %s: its data type %s is not a real number type"
                           % (path, arr.dtype))
    if arr.size == 0:
        raise ImageIOError("cannot read %s: it holds no data (an empty array %s), or a "
                           "damaged file" % (path, arr.shape))
    return arr


def _write_now(path, arr, fmt):
    if fmt == "npy":
        with open(path, "wb") as f:
            np.save(f, arr, allow_pickle=False)
    elif fmt == "tif":
        import tifffile
        tifffile.imwrite(path, arr)
    else:
        import skimage.io
        skimage.io.imsave(path, arr, check_contrast=False)


def write(path, arr, fmt=None, overwrite=False):
    """Write ``arr`` (already in its final dtype) to ``path``, atomically.

    The data go to a temporary file in the same folder first, which then replaces
    ``path``: a failed write leaves no half-written file, and an existing file is
    replaced only with ``overwrite``.
    """
    path = str(path)
    fmt = fmt or format_of(path)
    if fmt not in FORMATS:
        raise ImageIOError("cannot write %s: unknown format (use .png, .jpg, .tif or .npy)"
                           % path)
    if str(arr.dtype) not in FORMATS[fmt][1]:
        raise ImageIOError("cannot write %s: %s holds %s, not %s"
                           % (path, fmt.upper(), " or ".join(FORMATS[fmt][1]), arr.dtype))
    if not overwrite and os.path.exists(path):
        raise ImageIOError("%s exists (use --overwrite to replace it)" % path)
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, ".%s.%d.tmp%s" % (name, os.getpid(), extension(path) or ".npy"))
    try:
        _write_now(tmp, arr, fmt)
        os.replace(tmp, path)
    except Exception as exc:
        raise ImageIOError("cannot write %s: %s" % (path, _first_line(exc))) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def int_max(dtype):
    """Largest value of an integer dtype (1 for bool)."""
    dtype = np.dtype(dtype)
    return 1 if dtype.kind == "b" else int(np.iinfo(dtype).max)


def to_dtype(result, dtype, source_dtype, stretch=False):
    """Convert a filtered float array to ``dtype`` for writing.

    Float ``dtype``: the values as computed (cast to that precision).

    Integer ``dtype`` of largest value ``M``:

    * ``stretch``: the result's finite minimum..maximum are mapped linearly onto ``0..M``;
    * else the values are scaled by ``M / S``, where ``S`` is the largest value of the
      input's integer type (so a uint8 image written as uint8 keeps its numbers, a uint8
      image written as uint16 is multiplied by 257) or 1 for a float input (scikit-image's
      convention: float images lie in [0, 1]);

    then rounded to the nearest integer and clipped to ``0..M``.  NaN becomes 0.

    Returns ``(array, below, above, nan)``: the counts of values clipped at 0, at ``M``
    and of NaNs, so that the caller can say so (nothing wraps around silently).
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return result.astype(dtype, copy=False), 0, 0, 0
    top = int_max(dtype)
    work = np.asarray(result, dtype=np.float64)
    if stretch:
        finite = work[np.isfinite(work)]
        lo = float(finite.min()) if finite.size else 0.0
        hi = float(finite.max()) if finite.size else 0.0
        work = (work - lo) * (top / (hi - lo) if hi > lo else 0.0)
    else:
        src = np.dtype(source_dtype)
        source_max = 1 if src.kind == "f" else int_max(src)
        if source_max != top:
            work = work * (top / source_max)
    work = np.rint(work)
    nan = np.isnan(work)
    n_nan = int(nan.sum())
    below = int(np.count_nonzero(work < 0))
    above = int(np.count_nonzero(work > top))
    if n_nan:
        work[nan] = 0
    np.clip(work, 0, top, out=work)
    return work.astype(dtype), below, above, n_nan


def display_uint8(image, stretch=False):
    """A float image in [0, 1] (or any range with ``stretch``) as uint8 for a PNG."""
    return to_dtype(image, np.uint8, np.float64, stretch=stretch)[0]
