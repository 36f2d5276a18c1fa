"""Thread control: the only place where pyconv decides how many threads a call uses.

Priority, highest first: the call's ``num_threads=``; the innermost ``num_threads(n)`` context;
``set_num_threads(n)``; otherwise OpenMP's own default, ``omp_get_max_threads()`` read at call
time, which follows ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits`` (capped at the
CPUs this process may use when ``OMP_NUM_THREADS`` is unset).  A negative ``n`` means "all but
``-n - 1``" (joblib style: -1 is every CPU).  Work below ``SERIAL_WORK`` multiply-adds runs on one
thread, because starting a parallel region costs more than it saves there.  A request above
``max(16, 4 * CPUs)`` threads is capped there (more only oversubscribes, and thousands make the
OpenMP runtime abort the process); one above ``MAX_THREADS`` is a ValueError.
"""
import contextlib
import contextvars
import numbers
import os

try:
    from . import _runtime
except ImportError as exc:  # a source checkout whose extension modules were never built
    if "_runtime" not in str(exc) and getattr(exc, "name", None) != __package__ + "._runtime":
        raise
    raise ImportError(
        "pyconv's compiled modules are not built in %s: install it with "
        "'pip install .' (or 'pip install -e .'), or build them in place with "
        "'python setup.py build_ext --inplace'" % os.path.dirname(os.path.abspath(__file__))
    ) from exc

SERIAL_WORK = 1 << 18  # multiply-adds; a 64x64 image with a 3x3 kernel is ~37k
#: the largest thread count accepted at all (a larger one is a mistake: ValueError)
MAX_THREADS = 1 << 16

_process_default = None
_OPENMP = _runtime.openmp_enabled()
_context_default = contextvars.ContextVar("pyconv_num_threads", default=None)


def _cpu_count():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _check_count(n, name="num_threads"):
    """Validate a thread count and resolve negative values; returns an int >= 1."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError("%s must be an int, got %s" % (name, type(n).__name__))
    n = int(n)
    if n > MAX_THREADS:
        raise ValueError("%s=%d is more than the %d threads pyconv accepts"
                         % (name, n, MAX_THREADS))
    if n == 0:
        raise ValueError("%s must be a positive int, or negative to count back from the "
                         "number of CPUs (-1 = all); 0 is invalid" % name)
    if n < 0:
        total = _cpu_count()
        if n < -total:
            raise ValueError("%s=%d asks for fewer than one thread on %d CPUs"
                             % (name, n, total))
        n = total + 1 + n
    return n


def get_num_threads():
    """Number of threads a pyconv call without ``num_threads=`` uses (1 without OpenMP).

    Examples
    --------
    >>> import pyconv
    >>> pyconv.get_num_threads() >= 1
    True
    """
    if not _OPENMP:
        return 1
    n = _context_default.get()
    if n is None:
        n = _process_default
    if n is None:
        n = _runtime.max_threads()
        if "OMP_NUM_THREADS" not in os.environ:
            n = min(n, _cpu_count())
    return max(1, n)


def set_num_threads(n):
    """Set the process-wide default thread count (``None`` restores OpenMP's default).

    Parameters
    ----------
    n : int or None
        Threads for every later call without ``num_threads=``; negative counts back from the
        number of CPUs (-1: all of them).

    Examples
    --------
    >>> import pyconv
    >>> pyconv.set_num_threads(1)
    >>> pyconv.get_num_threads()
    1
    >>> pyconv.set_num_threads(None)    # back to OpenMP's default
    """
    global _process_default
    _process_default = None if n is None else _check_count(n, "n")


@contextlib.contextmanager
def num_threads(n):
    """Context manager: calls inside the block use ``n`` threads (per thread / task).

    Parameters
    ----------
    n : int
        Thread count inside the block (negative: counted back from the number of CPUs).

    Examples
    --------
    >>> import numpy as np, pyconv
    >>> with pyconv.num_threads(1):
    ...     pyconv.get_num_threads()
    1
    """
    token = _context_default.set(_check_count(n, "n"))
    try:
        yield
    finally:
        _context_default.reset(token)


def _team_cap():
    """The most threads one parallel region starts: more than this oversubscribes the CPUs
    for no gain (results do not depend on the count) and, in the thousands, makes the
    OpenMP runtime abort the process when it cannot create them."""
    return max(16, 4 * _cpu_count())


def effective_num_threads(num_threads=None, work=None):
    """Thread count for one call: validated request or default, 1 for small work, at most
    ``max(16, 4 * CPUs)``."""
    if num_threads is not None:
        n = _check_count(num_threads)
        if (work is not None and work < SERIAL_WORK) or not _OPENMP:
            return 1
        return min(n, _team_cap())
    if work is not None and work < SERIAL_WORK:
        return 1
    return min(get_num_threads(), _team_cap())
