"""The one driver of the correlation kernel: tiling, threads and output handling.

Every same-size filter, 1-D filter and scipy.signal-style correlation is expressed as

    out[b, z, y, x] = sum_t w[t] * P[b, z + tz[t], y + ty[t], x + tx[t]]

where P is the input seen through one index table per axis (padded position -> source index,
-1 for the constant value).  The tables encode the boundary mode, the origin and the output
size ('same', 'full', 'valid'), so the kernel itself never branches on them per tap.
"""
import functools
import math

import numpy as np

from . import _runtime
from ._kernels import kernels
from ._threads import effective_num_threads
from ._validation import check_alloc

#: bytes of padded input gathered per task; sized for L2 with room for the output rows
TILE_BYTES = 192 * 1024
#: widths above this are cut into column chunks (bounds the tile for very wide images)
MAX_XCHUNK = 4096
XCHUNK = 2048
#: a strip has at least as many output rows as the kernel's kh - 1 halo rows (which each
#: strip gathers again), and at least MIN_STRIP; when such a strip's tile would pass twice
#: TILE_BYTES, its columns are cut into chunks (multiples of 64, at least MIN_XCHUNK) instead.
#: Before this rule a 2048-wide image with a tall kernel got strips of one row (float32
#: kh >= 24, float64 kh >= 12): every output row gathered its kh input rows again (float64
#: 15x15 on 2048² 166 ms instead of 59, correlate1d of 25 taps along axis 0 18 ms instead of 6)
MIN_STRIP = 4
MIN_XCHUNK = 256
#: a whole grid of taps runs as register tiles of three output rows (each loaded input vector
#: feeding up to three rows) from this many taps and rows on; a smaller grid spends more on
#: the tiles' first and last input rows (one or two rows use them) than the reuse saves
#: (measured, float32, 1 / 2 threads, speed over the tap-list sweep: 2048² 5x5 0.98-1.0x,
#: 7x7 1.04-1.06x, 9x9 1.25x, 15x15 1.5x; 128³ 5x5x5 1.14-1.16x)
DENSE_MIN_TAPS = 40
DENSE_MIN_ROWS = 4


#: the largest item (arguments or result, bytes) the planning caches keep: a long-running
#: process calling on ever new large shapes or kernels holds at most ~256 x this per cache
CACHE_ITEM_BYTES = 64 * 1024


def bounded_cache(maxsize, size_of):
    """functools.lru_cache for the calls whose ``size_of(*args)`` (bytes) is at most
    CACHE_ITEM_BYTES; a larger call is computed afresh each time (its cost is then small next
    to the work it plans, and keeping it could hold gigabytes)."""
    def decorate(fn):
        cached = functools.lru_cache(maxsize=maxsize)(fn)

        @functools.wraps(fn)
        def call(*args):
            if size_of(*args) > CACHE_ITEM_BYTES:
                return fn(*args)
            return cached(*args)
        call.cache_info = cached.cache_info
        call.cache_clear = cached.cache_clear
        return call
    return decorate


@bounded_cache(256, lambda start, count, n, mode: 8 * count)
def index_table(start, count, n, mode):
    """Source index of padded positions start .. start+count-1 of an axis of length n.

    Cached when small (read-only result): repeated calls on images of one size reuse their
    tables."""
    table = np.empty(count, dtype=np.intp)
    if count:
        _runtime.index_table(table, start, n, mode)
    table.setflags(write=False)
    return table


@bounded_cache(64, lambda n: 8 * n)
def identity_table(n):
    table = np.arange(n, dtype=np.intp)
    table.setflags(write=False)
    return table


@functools.lru_cache(maxsize=256)
def _tiling(out_shape, kshape, itemsize, nthreads):
    B, Do, Ho, Wo = out_shape
    kd, kh, kw = kshape
    xchunk = Wo if Wo <= MAX_XCHUNK else XCHUNK
    least = min(Ho, max(MIN_STRIP, kh - 1))
    fit = 2 * TILE_BYTES // (kd * (least + kh - 1) * itemsize) - (kw - 1)
    if fit < xchunk:
        xchunk = max(min(xchunk, MIN_XCHUNK), fit // 64 * 64)
    nx = -(-Wo // xchunk)
    row_bytes = kd * (xchunk + kw - 1) * itemsize
    strip = max(least, min(Ho, TILE_BYTES // row_bytes - (kh - 1)))
    if 12 <= strip < Ho:
        # whole groups of the row sweeps (three rows for a grid of taps, four along rows):
        # the next multiple of 12 if its tile fits twice TILE_BYTES, else the one below
        up = min(Ho, -(-strip // 12) * 12)
        if kd * (up + kh - 1) * (xchunk + kw - 1) * itemsize <= 2 * TILE_BYTES:
            strip = up
        elif strip - strip % 12 >= least:
            strip -= strip % 12
    if nthreads > 1:
        want = 4 * nthreads
        if B * Do * nx * -(-Ho // strip) < want:
            strip = max(1, -(-Ho // -(-want // (B * Do * nx))))
        nstrips = -(-Ho // strip)
        if B * Do * nx * nstrips < want and Wo > 128:
            xchunk = max(64, -(-Wo // -(-want // (B * Do * nstrips))))
    return strip, xchunk


#: outputs from this size on, when the caller passes them in, get the rows the kernel reads in
#: place written with streaming stores (their lines are not read from memory first).  Measured,
#: 3x3 on 2048² float32 into an out= array not in cache: 3.53 -> 3.05 ms; into a fresh result
#: (zeroed by the OS on first touch, so in cache) streaming through a line was slower, 3.05 ->
#: 3.61 ms (but see FRESH_STREAM_MAX_BYTES: fresh results that come back from the heap)
STREAM_MIN_BYTES = 8 << 20

#: fresh results below this size get streaming stores too where the AVX-512 sweeps write
#: them from registers (the grid sweep of small whole kernels, the edge magnitude's rows,
#: the fused separable rows): glibc's malloc hands back such a block from its heap (it maps
#: blocks of 32 MB or more afresh, the largest threshold it adapts to: a result of exactly
#: 32 MB was in cache, and a Gaussian streamed into it slower, 10.8 -> 11.2 ms), so its
#: lines are not in cache, as an out='s.
#: Measured (one thread, float32, fresh result each call): 3x3 2048^2 2.29-2.50 -> 1.92-2.12
#: ms (two threads 1.39-1.77 -> 1.24-1.45), Sobel 2048^2 2.9 -> 2.3; above it the OS's new
#: zeroed pages are in cache: 3x3 4096^2 15.8-16.2 -> 16.3-16.5 ms, so not there
FRESH_STREAM_MAX_BYTES = 32 << 20


#: and only rows of at least this many bytes: a narrow row is a few cache lines, and
#: streaming them was slower.  Measured (one thread, float32, 32 MB out=, streamed / not, ns
#: per sample): Sobel rows of 256 samples 0.91 / 0.63, 512 0.64 / 0.61, 768 0.52 / 0.58,
#: 1024 0.51 / 0.58; 3x3 correlate 512 1.09 / 1.06, 768 0.75 / 0.75, 1024 0.59 / 0.67
STREAM_MIN_ROW_BYTES = 4096


def stream_rows(nbytes, row_bytes, fresh=False, min_row_bytes=None):
    """Whether a result of ``nbytes`` with rows of ``row_bytes`` should get streaming stores:
    an out= the caller passed (``fresh`` False) from STREAM_MIN_BYTES on, a fresh result below
    FRESH_STREAM_MAX_BYTES, either with rows of at least ``min_row_bytes`` (None:
    STREAM_MIN_ROW_BYTES)."""
    if min_row_bytes is None:
        min_row_bytes = STREAM_MIN_ROW_BYTES
    if nbytes < STREAM_MIN_BYTES or row_bytes < min_row_bytes:
        return False
    return not fresh or nbytes < FRESH_STREAM_MAX_BYTES


def correlate(src, out_shape, kshape, taps, weights, tables, ox, cval, num_threads, dest=None,
              bias=None, stream=False):
    """Run the kernel.  src (B, D, H, W), any strides that are multiples of the item size;
    taps (tz, ty, tx) index arrays; weights (ntaps,), or (S, ntaps): batch item b then takes
    row b % S (a depthwise layer's channels); bias None or (S,) added to batch item b's sums;
    tables (tabz, taby, tabx).  Writes into ``dest`` (shape out_shape, item-size strides, not
    overlapping src) when given, else allocates a C-contiguous result; ``stream``: ``dest``
    is the caller's or a fresh result that stream_rows lets stream.  Returns the 4-D
    result."""
    if dest is None:
        check_alloc(out_shape, src.dtype)
        dest = np.empty(out_shape, dtype=src.dtype)
    weights = np.asarray(weights)
    wsets = weights.shape[0] if weights.ndim == 2 else 1
    ntaps = weights.shape[-1]
    work = math.prod(out_shape) * max(1, ntaps)
    nthreads = effective_num_threads(num_threads, work=work)
    strip, xchunk = _tiling(out_shape, kshape, src.dtype.itemsize, nthreads)
    offs, xstep = _tap_offsets(taps, kshape, strip + kshape[1] - 1, xchunk + kshape[2] - 1)
    run = kernels.correlate_tiled_f32 if src.dtype == np.float32 else kernels.correlate_tiled_f64
    run(src, dest, tables[0], tables[1], tables[2], int(ox), kshape[0], kshape[1], kshape[2],
        offs, np.ascontiguousarray(weights, dtype=src.dtype).reshape(-1), float(cval), strip,
        xchunk, xstep, wsets,
        _NO_BIAS[src.dtype.char] if bias is None else np.ascontiguousarray(bias, src.dtype),
        nthreads, stream and stream_rows(math.prod(out_shape) * src.dtype.itemsize,
                                         out_shape[3] * src.dtype.itemsize))
    return dest


_NO_BIAS = {np.dtype(t).char: np.zeros(0, dtype=t) for t in (np.float32, np.float64)}


def _tap_offsets(taps, kshape, trows, tw):
    """(offset of every tap in a tile of ``trows`` rows of ``tw`` columns per plane, the x
    spacing of the taps when they are the whole grid of the kernel's extent ``kshape`` in C
    order, else 0): the kernel sweeps a whole grid three output rows at a time."""
    tz, ty, tx = (np.asarray(t, dtype=np.intp) for t in taps)
    return _tap_offsets_cached(tz.tobytes(), ty.tobytes(), tx.tobytes(), tuple(kshape),
                               trows, tw)


def strided_planes(osize, ksize, stride, dilation, itemsize):
    """Whether the kernel module sweeps a 2-D zero-padded correlation of stride 2 along both
    axes (outputs ``osize``, kernel ``ksize``) as whole planes in registers
    (``conv_planes_*``: the AVX-512 module; rows of at most one vector of outputs whose
    columns read fit two vectors)."""
    on, vector_bytes, max_kw, max_kh = kernels.planes_sweep()
    lanes = vector_bytes // itemsize
    return (on and len(ksize) == 2 and tuple(stride) == (2, 2)
            and all(d == 1 for d in dilation) and 2 <= ksize[1] <= max_kw
            and ksize[0] <= max_kh and osize[1] <= lanes
            and 2 * (osize[1] - 1) + ksize[1] <= 2 * lanes)


def planes(src, dest, taby, ox, weights, bias, stride, num_threads):
    """dest[b] = the correlation of plane src[b] (zero padding; padded row i is source row
    taby[i], padded column i source column i - ox) with weights[b % S] (S, kh, kw), stride
    ``stride`` along both axes, plus bias[b % S] (None: none); src (B, H, W) and dest
    (B, Ho, Wo) with contiguous rows (see ``strided_planes``)."""
    S, kh, kw = weights.shape
    work = math.prod(dest.shape) * kh * kw
    run = kernels.conv_planes_f32 if src.dtype == np.float32 else kernels.conv_planes_f64
    run(src, dest, taby, int(ox), kh, kw, np.ascontiguousarray(weights).reshape(-1), S,
        _NO_BIAS[src.dtype.char] if bias is None else np.ascontiguousarray(bias, src.dtype),
        stride, effective_num_threads(num_threads, work=work))
    return dest


def grid_sweeps(ksize, dilation):
    """Whether the kernel module sweeps a whole kernel of this size (spatial axes, 1 to 3) and
    dilation with its grid sweep (the AVX-512 module: kernel rows of 2 to 8 consecutive taps,
    too few taps for the dense rows), which also reads zero-padded input in place."""
    on, max_kw = kernels.grid_sweep()
    k3 = (1,) * (3 - len(ksize)) + tuple(ksize)
    return (on and all(d == 1 for d in dilation) and 2 <= k3[2] <= max_kw
            and not (math.prod(k3) >= DENSE_MIN_TAPS and k3[1] >= DENSE_MIN_ROWS))


def _grid_step(tz, ty, tx, kshape):
    """x spacing s of taps that are the whole kd x kh x ((kw - 1) // s + 1) grid in C order,
    or 0 (a list with gaps: skipped zero weights, a grid too small to gain, any other shape)."""
    kd, kh, kw = kshape
    if len(tx) < DENSE_MIN_TAPS or kh < DENSE_MIN_ROWS:
        return 0
    s = int(tx[1] - tx[0]) if len(tx) > 1 and kw > 1 else 1
    if s < 1 or (kw - 1) % s:
        return 0
    grid = np.indices((kd, kh, (kw - 1) // s + 1), dtype=np.intp).reshape(3, -1)
    grid[2] *= s
    if grid.shape[1] != len(tx) or not ((grid[0] == tz).all() and (grid[1] == ty).all()
                                        and (grid[2] == tx).all()):
        return 0
    return s


@bounded_cache(256, lambda tz, ty, tx, kshape, trows, tw: 3 * (len(tz) + len(ty) + len(tx)))
def _tap_offsets_cached(tz, ty, tx, kshape, trows, tw):
    tz, ty, tx = (np.frombuffer(t, dtype=np.intp) for t in (tz, ty, tx))
    offs = (tz * trows + ty) * tw + tx
    offs.setflags(write=False)
    return offs, _grid_step(tz, ty, tx, kshape)


# the most samples of a strided array that all_finite tests with one NumPy call
FINITE_BLOCK = 1 << 16


def all_finite(arr, num_threads=None):
    """Whether a real array holds no NaN and no Inf.  float32/float64 in native byte order
    and one contiguous block (either order) are read once by a threaded kernel, without the
    boolean temporary of ``np.isfinite(arr).all()``; other arrays go through NumPy, in blocks
    of FINITE_BLOCK samples (no temporary of the array's size).  Broadcast axes (stride 0)
    repeat their samples and are read once."""
    arr = np.asarray(arr)
    if arr.dtype.kind != "f":
        return True
    if any(st == 0 and n > 1 for st, n in zip(arr.strides, arr.shape)):
        arr = arr[tuple(slice(0, 1) if st == 0 else slice(None) for st in arr.strides)]
    if arr.dtype in (np.float32, np.float64) and arr.dtype.isnative and \
            (arr.flags.c_contiguous or arr.flags.f_contiguous):
        flat = arr.ravel(order="K")     # a view: one contiguous block
        n = effective_num_threads(num_threads, work=flat.size)
        run = kernels.any_nonfinite_f32 if arr.dtype == np.float32 else kernels.any_nonfinite_f64
        return not run(flat, n)
    if arr.size <= FINITE_BLOCK:
        return bool(np.isfinite(arr).all())
    it = np.nditer(arr, flags=["external_loop", "buffered", "zerosize_ok"], order="K",
                   buffersize=FINITE_BLOCK)
    return all(bool(np.isfinite(block).all()) for block in it)


def deliver(result, out):
    """Return ``result``, or copy it into the user's ``out`` (any layout) and return that."""
    if out is None:
        return result
    if result is not out:
        np.copyto(out, result, casting="no")
    return out


def _kernel_layout(arr, dtype):
    """True if the strided kernel can read or write ``arr`` in place: dtype ``dtype`` in
    native byte order, aligned, every stride a multiple of the item size."""
    return (arr.dtype == dtype and arr.dtype.isnative and arr.flags.aligned
            and all(st % arr.itemsize == 0 for st in arr.strides))


def kernel_source(arr, dtype):
    """``arr`` itself when the kernel can read it in place (any strides: a channel-last or
    Fortran-ordered image is not copied), else a C-contiguous copy in ``dtype``."""
    if _kernel_layout(arr, dtype):
        return arr
    return np.ascontiguousarray(arr, dtype=dtype)


def rows3d(arr, dtype):
    """A (B, H, W) view of ``arr`` (its last two axes H, W; B the product of the others)
    whose rows are contiguous, at any row and image pitch, or None when no such view exists
    (another layout or dtype: the caller copies)."""
    if not _kernel_layout(arr, dtype) or arr.ndim < 2:
        return None
    if arr.shape[-1] > 1 and arr.strides[-1] != arr.itemsize:
        return None
    H, W = arr.shape[-2:]
    if arr.ndim == 2:
        return arr[None]
    try:
        flat = arr.view()
        flat.shape = (-1, H, W)     # raises instead of copying when the axes do not merge
    except AttributeError:
        return None
    return flat


def merge_last(arr):
    """``arr`` with its last two axes as one (a view), or None when they do not merge."""
    try:
        v = arr.view()
        v.shape = arr.shape[:-2] + (arr.shape[-2] * arr.shape[-1],)
    except AttributeError:
        return None
    return v


def interleave_table(table, C):
    """An index table over positions, spread over C interleaved samples per position: entry
    j * C + c is table[j] * C + c (-1 stays -1)."""
    if C == 1:
        return table
    t = np.where(table[:, None] < 0, -1, table[:, None] * C + np.arange(C)).reshape(-1)
    return t.astype(np.intp)


def as4d(view, spatial):
    """(batch, *spatial) view -> (batch, D, H, W) view, unit axes inserted by indexing (a
    view whatever the strides: reshape could silently copy)."""
    return view[(slice(None),) + (None,) * (3 - spatial)]


def _writable_in_place(out, src):
    """Whether a kernel reading ``src`` may write ``out`` directly: kernel layout, no
    overlap with the input, and no axis writing one element for several."""
    return (out is not None and _kernel_layout(out, src.dtype)
            and not np.may_share_memory(out, src)
            and not any(st == 0 and n > 1 for st, n in zip(out.strides, out.shape)))


def rows_dest(out, src):
    """A (B, H, W) view of ``out`` (see rows3d) a row kernel reading ``src`` can write into
    directly, or None."""
    return rows3d(out, src.dtype) if _writable_in_place(out, src) else None


def direct_dest(out, src, shape4, spatial=None, axis=None):
    """A 4-D view of ``out`` the kernel can write into directly, or None.

    ``axis``: the batch (channel) axis of ``out``, moved first; ``spatial``: the number of
    spatial axes (default: ``out`` is already ``shape4``-compatible in C order)."""
    if not _writable_in_place(out, src):
        return None
    if spatial is None:
        if not out.flags.c_contiguous:
            return None
        return out.reshape(shape4)
    view = out[None] if axis is None else np.moveaxis(out, axis, 0)
    return as4d(view, spatial)
