"""show_config(): what this build of pyconv is and how it will run."""
import os
import sys

from . import _runtime
from ._kernels import SIMD_PATH
from ._threads import get_num_threads, _cpu_count


def config():
    """The facts show_config prints, as a dict."""
    from . import __version__
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "compiler": _runtime.compiler(),
        "openmp": _runtime.openmp_enabled(),
        "openmp_version": _runtime.openmp_version(),
        "simd": SIMD_PATH,
        "cpu_avx2_fma": _runtime.cpu_has_avx2_fma(),
        "cpu_avx512": _runtime.cpu_has_avx512(),
        "default_threads": get_num_threads(),
        "cpus": _cpu_count(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }


def show_config(file=None):
    """Print version, compiler, OpenMP, SIMD path and default threads; return them as text.

    Parameters
    ----------
    file : file object, optional
        Where to print (default ``sys.stdout``).

    Examples
    --------
    >>> import io, pyconv
    >>> text = pyconv.show_config(file=io.StringIO())
    >>> text.splitlines()[0].startswith("pyconv " + pyconv.__version__)
    True
    """
    c = config()
    lines = [
        "pyconv %s (Python %s)" % (c["version"], c["python"]),
        "  compiler        : %s" % c["compiler"],
        "  OpenMP          : %s" % ("yes (_OPENMP=%d)" % c["openmp_version"]
                                    if c["openmp"] else "no (serial build)"),
        "  SIMD path       : %s" % c["simd"],
        "  default threads : %d (CPUs usable: %d, OMP_NUM_THREADS=%s)"
        % (c["default_threads"], c["cpus"], c["OMP_NUM_THREADS"] or "unset"),
    ]
    text = "\n".join(lines)
    print(text, file=file if file is not None else sys.stdout)
    return text
