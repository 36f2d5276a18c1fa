"""Argument checking and the dtype policy, shared by every public function.

dtype policy: float32 stays float32, float64 stays float64, float16 becomes float32, other
floats, integers and bool become float64.  A second operand (kernel, weights) that is a
floating-point ndarray takes part in the result type (the wider float wins); a Python list,
scalar, or integer/bool array adapts to the first operand's float type.  Complex, object,
string and other non-numeric data raise TypeError.
"""
import numbers
import operator
import os

import numpy as np

_MAX_BYTES = np.iinfo(np.intp).max // 2


def float_dtype(dt, name):
    """The float dtype pyconv computes in for input dtype ``dt``."""
    dt = np.dtype(dt)
    if dt.kind == "c":
        raise TypeError("%s: complex input is not supported (dtype %s)" % (name, dt))
    if dt.kind == "f":
        if dt.itemsize <= 4:
            return np.dtype(np.float32)
        return np.dtype(np.float64)
    if dt.kind in "iub":
        return np.dtype(np.float64)
    raise TypeError("%s: dtype %s is not numeric" % (name, dt))


def as_array(value, name):
    """np.asarray with a TypeError naming the argument for non-numeric values."""
    if value is None:
        raise TypeError("%s must be an array, got None" % name)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise TypeError("%s cannot be converted to a numeric array: %s" % (name, exc))
    float_dtype(arr.dtype, name)
    return arr


def second_operand(value, name):
    """(array, strong) for a kernel-like argument: strong if it is a floating ndarray."""
    strong = isinstance(value, np.ndarray) and value.dtype.kind == "f"
    arr = as_array(value, name)
    return arr, strong


def promote(dt, arr, strong, name):
    """Widen ``dt`` by a strong second operand."""
    odt = float_dtype(arr.dtype, name)
    return np.promote_types(dt, odt) if strong else dt


def check_nonempty(arr, name):
    if arr.size == 0:
        raise ValueError("%s must not be empty (shape %s)" % (name, arr.shape))


def image_array(image, name="image"):
    """A numeric array with at least one dimension and no empty axis."""
    arr = as_array(image, name)
    if arr.ndim == 0:
        raise ValueError("%s must have at least one dimension" % name)
    check_nonempty(arr, name)
    return arr


def check_origin(origin, size, name="origin"):
    """scipy.ndimage's origin range for a kernel of length ``size``."""
    if not -(size // 2) <= origin <= (size - 1) // 2:
        raise ValueError("%s=%d is invalid for a kernel of length %d: it must satisfy "
                         "-(k // 2) <= origin <= (k - 1) // 2" % (name, origin, size))


def normalize_axis(axis, ndim, name="axis"):
    if isinstance(axis, bool):
        raise TypeError("%s must be an int, got bool" % name)
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError("%s must be an int, got %s" % (name, type(axis).__name__))
    if not -ndim <= axis < ndim:
        raise ValueError("%s=%d is out of range for an array of %d dimensions"
                         % (name, axis, ndim))
    return axis % ndim


def int_sequence(value, n, name, allow_negative=True):
    """An int or a length-n sequence of ints, as a list of n ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        out = [int(value)] * n
    else:
        try:
            out = [operator.index(v) for v in value]
        except TypeError:
            raise TypeError("%s must be an int or a sequence of %d ints" % (name, n))
        if any(isinstance(v, bool) for v in value):
            raise TypeError("%s must contain ints, not bools" % name)
        if len(out) != n:
            raise ValueError("%s must have %d entries (one per axis), got %d"
                             % (name, n, len(out)))
    if not allow_negative and any(v < 0 for v in out):
        raise ValueError("%s must not be negative, got %s" % (name, value))
    return out


def real_scalar(value, name):
    """A real number as a Python float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
            return float(value)
        raise TypeError("%s must be a real number, got %s" % (name, type(value).__name__))
    try:
        return float(value)
    except OverflowError:
        raise ValueError("%s=%s is too large for a floating-point value" % (name, value))


def _physical_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return _MAX_BYTES


#: no single array larger than the machine's physical memory is attempted
_PHYSICAL_BYTES = min(_MAX_BYTES, max(_physical_memory(), 1 << 30))


def memory_limit():
    """Bytes one array may take: the machine's physical memory, or this process's address
    space limit (``ulimit -v``), or ``PYCONV_MEMORY_LIMIT`` (bytes), whichever is smallest;
    read at call time."""
    limit = _PHYSICAL_BYTES
    env = os.environ.get("PYCONV_MEMORY_LIMIT", "").strip()
    if env:
        try:
            limit = min(limit, int(env))
        except ValueError:
            raise ValueError("PYCONV_MEMORY_LIMIT must be a number of bytes, got %r" % env)
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY and soft > 0:
            limit = min(limit, soft)
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        pass
    return limit


#: arrays up to this size are never refused: no process that runs Python has less memory
_ALWAYS_FITS = 1 << 20


def check_alloc(shape, dtype, name="output"):
    """Refuse, before allocating, an array larger than the memory this process can have (or
    whose size overflows); exact Python-int arithmetic, so no size wraps around."""
    nbytes = np.dtype(dtype).itemsize
    for s in shape:
        nbytes *= int(s)
    if nbytes <= _ALWAYS_FITS:
        return      # (the limits are read only for arrays that could pass one)
    limit = memory_limit()
    if nbytes > limit:
        raise MemoryError("%s of shape %s would need %d bytes, more than the %d bytes of memory "
                          "this process can have; refused" % (name, tuple(shape), nbytes, limit))


def check_out(out, shape, dtype):
    """Validate a user ``out=`` array for a result of shape/dtype."""
    if not isinstance(out, np.ndarray):
        raise TypeError("out must be a numpy.ndarray, got %s" % type(out).__name__)
    if out.shape != tuple(shape):
        raise ValueError("out has shape %s, the result has shape %s" % (out.shape, tuple(shape)))
    if out.dtype != dtype:
        raise ValueError("out has dtype %s, the result has dtype %s" % (out.dtype, dtype))
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    return out
