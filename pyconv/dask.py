"""pyconv's filters and convolutions on dask arrays, identical to the in-memory result.

Every function here has the signature of its in-memory twin in :mod:`pyconv.filters` or
:mod:`pyconv`, takes a dask array (anything else goes through :func:`dask.array.asarray`) and
returns a lazy dask array whose computed value is **bitwise identical** to the in-memory
pyconv result, whatever the chunking (uneven chunks, one-pixel chunks, chunks smaller than the
kernel), for every boundary mode, including ``wrap``/``grid-wrap`` and ``mirror``.  float32
stays float32.

``out=`` (every filter except ``sobel_h``-style single-gradient helpers and the conv layers;
``sobel``/``scharr``/``prewitt`` take it here although their in-memory twins, which follow
scikit-image's signature, do not): an array of the result's shape and dtype that
supports slice assignment (NumPy, ``np.memmap``, zarr).  The call then computes the result
chunk by chunk into it on dask's current scheduler and returns ``out`` instead of a lazy
array.  With NumPy targets and the threaded or synchronous scheduler each chunk's kernel
writes straight into its region of ``out``: no chunk result is allocated and dask does not
concatenate the chunks afterwards, which ``.compute()`` does in one thread (for an 8192²
float32 image that final copy costs about as much as the filter itself).  Other targets go
through :func:`dask.array.store`; worker processes compute and this process writes.

How the chunk borders are made exact
------------------------------------
For each filtered axis the halo is computed from the kernel length ``k`` and the origin:
``lo = k // 2 + origin`` samples before an output and ``hi = k - 1 - lo`` after it (a
convolution first flips the kernel and its origin, as scipy.ndimage does).  The chunks
exchange these halos with :func:`dask.array.map_overlap`, every block runs the in-memory pyconv
function, and the halos are cut off again.  Inside the array the halos are the neighbours'
samples, so every output sees exactly the samples it sees in memory.

The ring schedule (used instead when it is exact and cheaper, see below) gives the same
numbers without copying every chunk with its halo: each chunk is filtered as it is (its
outputs farther than the halo from an inner border see only its own samples, so they are
already those of the whole array), then the outputs within the halo of each inner border are
recomputed from thin slabs gathered from the chunk and its neighbours, one halo axis after
the other (the slab of an axis spans the full chunk along later axes and only the exact
part along earlier ones, so the corners are done once).  A filter that is one fused sweep
over the last two axes (a 2-D Gaussian or sepfilter) needs no slabs along the last axis:
each chunk's sweep reads the neighbours' columns beyond its left and right edges in place,
as halos of the kernel.  The schedule needs every chunk along a
filtered axis to hold at least ``lo + hi`` samples, so that a slab reads one neighbour per
side; a cost model (``SCHEDULE = 'auto'``) compares the slabs with the halo copy: wide chunks
and thin halos (an 8192² image in 2048² chunks, a Gaussian's 8 + 8) take the ring schedule,
small 3-D chunks with thick halos take map_overlap.  ``pyconv.dask.SCHEDULE`` can be set to
``'ring'`` or ``'overlap'``; the results are the same bits.  At the array's **outer**
edge, per axis:

* ``constant`` / ``grid-constant``: no halo (``boundary='none'``); the outer blocks run pyconv
  with ``mode='constant'`` and ``cval``, which pads exactly as the in-memory call does;
* ``wrap`` / ``grid-wrap``: ``boundary='periodic'`` brings the samples from the other end of
  the array (dask-image passes ``wrap`` to each chunk instead, which wraps around the chunk);
* ``reflect`` / ``grid-mirror``, ``mirror``, ``nearest``: no halo; the outer blocks reflect or
  repeat their own samples, which are the array's own outer samples.  This is checked with
  pyconv's boundary index tables (the one place where pyconv maps an out-of-range index): when
  an outer block is too short for the reflection (``mirror`` needs ``lo + 1`` samples), the
  axis is instead padded lazily with the exact mode and the padding cut off afterwards.

A kernel longer than the array along an axis (repeated reflections, several wrap-arounds)
puts that axis in one chunk, where the in-memory code handles it.

Separable filters (:func:`sepfilter`, :func:`gaussian`, the edge filters) run their whole chain
of 1-D passes in one block with the sum of the passes' halos: each pass acts along one axis
only, so what a pass gets wrong near a block's border stays in that axis' halo and is cut off,
and every pass sees the outer edge as in memory.  :func:`uniform` is the exception: scipy's
running mean makes the rest of a line NaN once a NaN enters it or a NaN/Inf leaves it, which no
finite halo can reproduce, so :func:`uniform` runs pass by pass: each pass reduces its input
to the first NaN and the first NaN/Inf of every line (lazily, along the mode-extended line)
and sets the outputs behind them to NaN.  It is exact, but its graph is about three times
larger than gaussian's, and a pass's input must be complete before the next pass starts.

Chunks smaller than the halo: a chunk must hold at least ``max(lo, hi)`` samples to feed its
neighbours' halos, so chunks smaller than that along a filtered axis are merged with their
neighbours first (the result then has the merged chunks; every other axis keeps its chunks).
An axis held in one chunk needs no halo at all.

conv1d/conv2d/conv3d (PyTorch conventions): chunk along the batch and spatial axes; the channel
axis is rechunked to one chunk.  The padding (``zeros``, ``reflect``, ``replicate``,
``circular``) is built lazily on the outer edge, each chunk takes a right halo of
``dilation * (k - 1)`` samples and runs a ``'valid'`` convolution.  Strides are supported:
the spatial chunks are realigned to multiples of the stride (so the output chunks are the input
chunks divided by the stride).

Memory: dask's scheduler does not sweep a ``map_overlap`` graph plane by plane, so computing a
whole large result at once can keep a good part of the input in memory.  To bound memory, store
the result one slab of chunks at a time (``examples/dask_volume.py`` shows how).

Threads
-------
pyconv's kernels are OpenMP-parallel; dask runs chunks in parallel too.  So that the two do not
oversubscribe the CPUs, the thread count of each chunk's pyconv call is decided when the chunk
runs:

* ``num_threads=n`` given: every chunk uses ``n`` threads (negative: joblib style);
* chunk running in a ``distributed`` worker: 1 thread;
* chunk running in a worker process of dask's ``processes`` scheduler: 1 thread;
* chunk running in the pool thread of dask's ``threads`` scheduler (the default for dask
  arrays): 1 thread if the pool has more than one worker, else pyconv's default;
* chunk running in the thread that called ``compute()`` (``scheduler='synchronous'``):
  pyconv's default (:func:`pyconv.get_num_threads`).

The result does not depend on the thread count (pyconv is bitwise deterministic for any
thread count); only the speed does.

Examples
--------
>>> import numpy as np
>>> import dask.array as da
>>> import pyconv.filters
>>> import pyconv.dask
>>> x = np.random.default_rng(0).random((12, 10), dtype=np.float32)
>>> dx = da.from_array(x, chunks=(6, 5))
>>> y = pyconv.dask.gaussian(dx, sigma=1.0, mode='wrap')   # halo 4: chunks kept
>>> y.chunks, y.dtype
(((6, 6), (5, 5)), dtype('float32'))
>>> y.compute().tobytes() == pyconv.filters.gaussian(x, sigma=1.0, mode='wrap').tobytes()
True
>>> pyconv.dask.uniform(da.from_array(x, chunks=(3, 5)), size=9).chunks  # rows 3 < halo 4
((6, 6), (5, 5))
"""
import functools
import math
import multiprocessing
import os
import numbers
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import dask
import dask.array as da

from . import _engine
from . import _separable as _sep
from . import filters as _filters
from ._modes import CONSTANT, canonical_modes, mode_code
from ._threads import _check_count, get_num_threads
from ._validation import (float_dtype, int_sequence, normalize_axis,
                          real_scalar, second_operand)

__all__ = ["correlate", "convolve", "correlate1d", "convolve1d", "sepfilter", "sobel",
           "sobel_h", "sobel_v", "scharr", "scharr_h", "scharr_v", "prewitt", "prewitt_h",
           "prewitt_v", "gaussian", "uniform", "conv1d", "conv2d", "conv3d",
           "chunk_num_threads"]

_WRAP = mode_code("wrap")

#: torch padding_mode -> boundary code (the table of pyconv.nn)
_PADDING_MODES = {
    "zeros": CONSTANT,
    "reflect": mode_code("mirror"),
    "replicate": mode_code("nearest"),
    "circular": mode_code("wrap"),
}


# --------------------------------------------------------------------------------------------
# threads


def _dask_pool_size(thread):
    """Workers of the dask threaded-scheduler pool that runs ``thread``; 0 if ``thread`` is in
    no such pool; None if that cannot be told (dask's internals changed)."""
    try:
        from dask import threaded
        pools = [threaded.default_pool, dask.config.get("pool", None)]
        for per_thread in list(threaded.pools.values()):
            pools.extend(list(per_thread.values()))
        for pool in pools:
            if pool is None:
                continue
            if isinstance(pool, ThreadPoolExecutor):
                # a new pool thread may run its first task before it joins pool._threads;
                # its name, set before it starts, tells
                mine = thread in pool._threads or \
                    thread.name.startswith(pool._thread_name_prefix + "_")
                size = pool._max_workers
            else:  # multiprocessing.pool.ThreadPool
                mine = thread in getattr(pool, "_pool", ())
                size = getattr(pool, "_processes", 2)
            if mine:
                return size
        return 0
    except Exception:  # pragma: no cover - dask internals changed
        return None


def _in_distributed_worker():
    mod = sys.modules.get("distributed")
    if mod is None:
        return False
    try:
        mod.get_worker()
    except Exception:
        return False
    return True


def chunk_num_threads(num_threads=None):
    """Thread count a chunk's pyconv call uses, decided where the chunk runs.

    ``num_threads`` given: that (validated).  Otherwise 1 inside a ``distributed`` worker, a
    worker process or a multi-threaded dask pool, and pyconv's default
    (:func:`pyconv.get_num_threads`) in the thread that called ``compute()``.  See the module
    docstring.
    """
    if num_threads is not None:
        return _check_count(num_threads)
    if _in_distributed_worker():
        return 1
    if multiprocessing.parent_process() is not None:
        return 1
    thread = threading.current_thread()
    if thread is threading.main_thread():
        return get_num_threads()
    size = _dask_pool_size(thread)
    if size is None:  # cannot tell: any other thread may run next to others
        return 1
    if size == 0 or size == 1:
        return get_num_threads()
    return 1


# --------------------------------------------------------------------------------------------
# halos, padding and the block runner


def _slab(ndim, axis, index):
    sl = [slice(None)] * ndim
    sl[axis] = index
    return tuple(sl)


def _merge_small(chunks, size):
    """Chunks along one axis with every chunk >= size (small ones merged into neighbours);
    one chunk if the axis is shorter than ``size``."""
    chunks = tuple(int(c) for c in chunks)
    if size <= 0 or min(chunks) >= size:
        return chunks
    out, acc = [], 0
    for c in chunks:
        acc += c
        if acc >= size:
            out.append(acc)
            acc = 0
    if acc:
        if out:
            out[-1] += acc
        else:
            out.append(acc)
    return tuple(out)


def _gather(x, axis, idx, fill):
    """x.take(idx, axis) for a boundary index vector (-1: ``fill``), built from slices: runs
    of consecutive, reversed or repeated indices become one slice each."""
    parts = []
    i, m = 0, len(idx)
    while i < m:
        j = i + 1
        step = None
        if idx[i] < 0:
            while j < m and idx[j] < 0:
                j += 1
            shape = list(x.shape)
            shape[axis] = j - i
            chunks = tuple(x.chunks[a] if a != axis else (j - i,) for a in range(x.ndim))
            parts.append(da.full(tuple(shape), fill, dtype=x.dtype, chunks=chunks))
            i = j
            continue
        if j < m and idx[j] >= 0 and idx[j] - idx[i] in (1, -1, 0):
            step = int(idx[j] - idx[i])
            while j < m and idx[j] >= 0 and idx[j] - idx[j - 1] == step:
                j += 1
        a, b = int(idx[i]), int(idx[j - 1])
        if step == -1:
            piece = x[_slab(x.ndim, axis, slice(a, b - 1 if b > 0 else None, -1))]
        elif step == 0:
            piece = da.repeat(x[_slab(x.ndim, axis, slice(a, a + 1))], j - i, axis=axis)
        else:
            piece = x[_slab(x.ndim, axis, slice(a, b + 1))]
        parts.append(piece)
        i = j
    return parts


def _pad_axis(x, axis, lo, hi, code, fill=0):
    """x extended by lo/hi samples along ``axis`` with boundary mode ``code`` (pyconv's own
    index table, so every mode and any pad length is exact); ``fill`` for constant mode."""
    n = x.shape[axis]
    tab = _engine.index_table(-lo, n + lo + hi, n, code)
    parts = _gather(x, axis, tab[:lo], fill) + [x] + _gather(x, axis, tab[lo + n:], fill)
    return da.concatenate(parts, axis=axis) if len(parts) > 1 else x


def _edge_is_local(code, lo, hi, n, first, last):
    """True if a block at the outer edge, handling the boundary itself with mode ``code``,
    reads the very samples the whole array's boundary handling reads: its index table over
    the pad equals the array's.  ``first``/``last``: lengths of the first/last block with
    their inner halos."""
    glob = _engine.index_table(-lo, n + lo + hi, n, code)
    left = _engine.index_table(-lo, first + lo, first, code)
    right = _engine.index_table(-lo, last + lo + hi, last, code)
    return (np.array_equal(left[:lo], glob[:lo])
            and np.array_equal(right[lo + last:] + (n - last), glob[lo + n:]))


def _halo_map(x, fn, halos, codes, dtype, out=None):
    """Apply ``fn`` (block -> block of the same shape, computed with the block's own boundary
    handling, in the array's mode) so that every output equals ``fn`` of the whole array.

    halos: {axis: (lo, hi)}; codes: {axis: boundary code}.  Per axis, the outer edge is
    handled by (first that applies):

    * one chunk: ``fn`` sees the whole axis;
    * constant mode: ``fn``'s own constant padding at the outer blocks;
    * wrap: dask's ``boundary='periodic'`` (halo ``max(lo, hi)`` on both sides);
    * reflect, mirror, nearest: ``fn``'s own padding, when the outer blocks hold every sample
      it reads (checked with the index tables);
    * otherwise the axis is padded lazily with the exact mode (pyconv's index table) and
      the padding is cut off afterwards.
    """
    ndim = x.ndim
    depth, boundary = {}, {}
    crop = [slice(None)] * ndim
    for ax, (lo, hi) in sorted(halos.items()):
        if lo == 0 and hi == 0:
            continue
        n, d, code = x.shape[ax], max(lo, hi), codes[ax]
        chunks = _merge_small(x.chunks[ax], d)
        if len(chunks) == 1:
            if chunks != x.chunks[ax]:
                x = x.rechunk({ax: chunks})
            continue
        if code == _WRAP:
            depth[ax], boundary[ax] = d, "periodic"
        elif code == CONSTANT or _edge_is_local(code, lo, hi, n, chunks[0] + hi,
                                                chunks[-1] + lo):
            depth[ax], boundary[ax] = (lo, hi), "none"
        else:
            pc = list(chunks)
            pc[0] += lo
            pc[-1] += hi
            x = _pad_axis(x, ax, lo, hi, code)
            chunks = tuple(pc)
            crop[ax] = slice(lo, lo + n)
            depth[ax], boundary[ax] = (lo, hi), "none"
        if chunks != x.chunks[ax]:
            x = x.rechunk({ax: chunks})
    cropped = any(c != slice(None) for c in crop)
    lohi = {ax: halos[ax] for ax in depth}
    # the ring schedule also runs the outer blocks on their own (without the inner halo):
    # their own boundary handling must still be the array's
    if not cropped and (not depth or _ring_pays(x.chunks, lohi, _free_axis(fn, lohi, ndim))) \
            and all(
            boundary[ax] == "periodic" or codes[ax] == CONSTANT
            or _edge_is_local(codes[ax], *lohi[ax], x.shape[ax], x.chunks[ax][0],
                              x.chunks[ax][-1]) for ax in lohi):
        periodic = {ax for ax, b in boundary.items() if b == "periodic"}
        if out is not None and not (isinstance(out, np.ndarray)
                                    and _shares_memory_scheduler()):
            return _deliver(_ring_map(x, fn, lohi, periodic, dtype), out)
        return _ring_map(x, fn, lohi, periodic, dtype, out)
    meta = np.empty((0,) * ndim, dtype=dtype)
    if depth:
        y = da.map_overlap(fn, x, depth=depth, boundary=boundary, trim=True, dtype=dtype,
                           meta=meta)
    else:
        y = x.map_blocks(fn, dtype=dtype, meta=meta)
    if cropped:
        y = y[tuple(crop)]
    return _deliver(y, out)


# --------------------------------------------------------------------------------------------
# the ring schedule: map_overlap's exact halos without materialising every chunk with them

#: "auto" (the cost model below), "ring" (whenever exact) or "overlap" (always map_overlap)
SCHEDULE = "auto"

#: a sample copied costs about this fraction of a sample filtered (measured with the 17-tap
#: Gaussian on 2048² float32 chunks: 0.8 ns per sample copied at 2 threads, 1.6 ns filtered)
_COPY_COST = 0.5


def _free_axis(fn, lohi, ndim):
    """The last axis when ``fn`` takes the samples beyond a block's edges along it as halos
    (``fn.side_halo``: the widths it needs, equal to that axis' halo): the blocks then
    compute that axis' borders themselves and the ring schedule has no slabs along it."""
    want = getattr(fn, "side_halo", None)
    return ndim - 1 if want is not None and lohi.get(ndim - 1) == tuple(want) else None


def _ring_pays(chunks, lohi, free=None):
    """Whether the ring schedule is exact for this chunking and, under SCHEDULE='auto',
    cheaper than map_overlap (``free``: an axis whose borders the blocks compute themselves,
    from halos handed to them, so it has no slabs).

    map_overlap copies each chunk with its halo (P samples) and filters that: P (1 + c).
    The ring schedule filters the chunk as it is (N samples), then recomputes the outputs
    within the halo width of each inner border from thin slabs gathered from the
    neighbours (S samples, gathered and filtered): N + S (1 + c).  Exact when every chunk
    along a halo axis holds at least lo + hi samples (each slab then reads one neighbour
    per side)."""
    if SCHEDULE == "overlap":
        return False
    for ax, (lo, hi) in lohi.items():
        if min(chunks[ax]) < lo + hi:
            return False
    if SCHEDULE == "ring":
        return True
    n = [max(c) for c in chunks]
    N = float(np.prod(n))
    P = float(np.prod([n[a] + sum(lohi.get(a, (0, 0))) for a in range(len(n))]))
    S = 0.0
    axes = sorted(lohi)
    for k, ax in enumerate(axes):
        for side in lohi[ax]:
            if not side or ax == free:
                continue
            size = 1.0
            for a in range(len(n)):
                lo, hi = lohi.get(a, (0, 0))
                if a == ax:
                    size *= lo + hi + side
                elif a in axes[:k] or a not in lohi:
                    size *= n[a]
                else:
                    size *= n[a] + lo + hi
            S += size
    return N + S * (1 + _COPY_COST) < P * (1 + _COPY_COST)


class _Plan:
    """What one block's task does, apart from the arrays it receives: an opaque object, so
    that dask neither walks nor copies it (it holds slices and, with ``out=``, the target).

    The block itself is the first of the task's arrays.  slabs: per slab (both sides of
    one axis), the pairs (output range in block coordinates, where it lies in the slab's
    result), the axes the slab's pieces are concatenated along and the nested list of pieces
    (position among the task's arrays, slice or None); target/region: the ``out=`` array and
    the block's region in it; halo: None, or the pieces (position, slice) or None beyond the
    block's left and right edges along the last axis, handed to ``fn`` with the block (a
    ``fn`` with ``side_halo``: its last axis then needs no slabs)."""

    def __init__(self, slabs, target=None, region=None, halo=None):
        self.slabs, self.target, self.region, self.halo = slabs, target, region, halo


def _piece(arrays, leaf):
    pos, sl = leaf
    return arrays[pos] if sl is None else arrays[pos][sl]


def _concat(grid, axes, arrays):
    """The pieces of a nested list (depth len(axes)) concatenated along ``axes`` in order."""
    if not axes:
        return _piece(arrays, grid)
    parts = [_concat(g, axes[1:], arrays) for g in grid]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axes[0])


def _ring_task(fn, arrays, plan):
    """One output block: ``fn`` of the block itself, then the outputs within the halo of
    its inner borders replaced by ``fn`` of slabs gathered with the neighbours' samples.
    With a target, the block is written into ``target[region]`` in place (a NumPy array)
    and the task returns None."""
    center = arrays[0]
    kw = {}
    if plan.halo is not None:
        kw["halo"] = tuple(None if h is None else _piece(arrays, h) for h in plan.halo)
    if plan.target is None:
        y = fn(center, **kw)
    else:
        y = fn(center, out=plan.target[plan.region], **kw)
    for pairs, axes, grid in plan.slabs:
        r = fn(_concat(grid, axes, arrays))
        for out_sl, res_sl in pairs:
            y[out_sl] = r[res_sl]
    return y if plan.target is None else None


def _ring_layout(chunks, lohi, periodic):
    """Per axis and block index: (start, length, left neighbour or None, right neighbour or
    None, L, R), L/R the halo taken on each side (0 at the outer edge of a non-periodic
    axis, whose blocks handle the array's boundary themselves)."""
    layout = []
    for ax, cs in enumerate(chunks):
        lo, hi = lohi.get(ax, (0, 0))
        nb, starts = len(cs), np.concatenate([[0], np.cumsum(cs)[:-1]])
        row = []
        for b, n in enumerate(cs):
            left = b - 1 if b > 0 else (nb - 1 if ax in periodic else None)
            right = b + 1 if b < nb - 1 else (0 if ax in periodic else None)
            if ax not in lohi:
                left = right = None
            row.append((int(starts[b]), int(n), left, right,
                        lo if left is not None else 0, hi if right is not None else 0))
        layout.append(row)
    return layout


def _slab_ranges(info, lohi, axes, k, side):
    """For the slab of halo axis ``axes[k]`` on ``side`` of a block (``info``: its layout
    per axis): per axis, the output range in block coordinates, where it starts in the slab
    and the pieces read [(neighbour offset -1/0/+1, slice of that block)]."""
    ax = axes[k]
    ranges = []
    for a, (_, n, left, right, L, R) in enumerate(info):
        lo, hi = lohi.get(a, (0, 0))
        if a == ax:
            if side < 0:
                ranges.append((0, L, lo, [(-1, slice(-lo, None)), (0, slice(0, L + hi))]))
            else:
                ranges.append((n - R, n, lo, [(0, slice(n - R - lo, None)),
                                              (1, slice(0, hi))]))
        elif a not in lohi or a in axes[:k]:
            # axes whose slabs come earlier: only their exact range is left to this slab
            o0, o1 = (L, n - R) if a in lohi else (0, n)
            ranges.append((o0, o1, o0, [(0, slice(None))]))
        else:
            pieces = [(0, slice(None))]
            if L:
                pieces.insert(0, (-1, slice(-lo, None)))
            if R:
                pieces.append((1, slice(0, hi)))
            ranges.append((0, n, lo if L else 0, pieces))
    return ranges


def _ring_map(x, fn, lohi, periodic, dtype, out=None):
    """The blocks of ``fn`` applied with halos ``lohi`` ({axis: (lo, hi)}), exact at every
    chunk border, without copying any chunk with its halo (see _ring_pays).  ``periodic``:
    axes whose halos wrap around.  With ``out`` (only with a scheduler that shares this
    process's memory): the result is written into it, block by block, and ``out`` is
    returned."""
    import itertools
    import operator
    from dask.highlevelgraph import HighLevelGraph

    token = dask.base.tokenize(x, fn, sorted(lohi.items()), sorted(periodic),
                               id(out) if out is not None else None)
    name = "pyconv-ring-" + token
    pname = "pyconv-ring-piece-" + token
    layout = _ring_layout(x.chunks, lohi, periodic)
    axes = sorted(lohi)
    # neighbours' pieces: sliced inside the block's task when the scheduler shares memory
    # (fewer tasks to schedule), tasks of their own otherwise (a worker then receives the
    # slab, not the whole neighbour)
    inline = _shares_memory_scheduler()
    last = _free_axis(fn, lohi, x.ndim)
    dsk = {}
    for idx in itertools.product(*(range(len(c)) for c in x.chunks)):
        info = [layout[a][i] for a, i in enumerate(idx)]
        keys, where = [(x.name,) + idx], {idx: 0}

        def source(offs, sl):
            blk = tuple(i if o == 0 else (inf[2] if o < 0 else inf[3])
                        for i, o, inf in zip(idx, offs, info))
            if all(s == slice(None) for s in sl):
                sl = None
            if inline or sl is None:
                if blk not in where:
                    where[blk] = len(keys)
                    keys.append((x.name,) + blk)
                return (where[blk], sl)
            key = (pname, len(dsk))
            dsk[key] = (operator.getitem, (x.name,) + blk, sl)
            keys.append(key)
            return (len(keys) - 1, None)

        slabs = []
        halo = None
        if last is not None:
            lo, hi = lohi[last]

            def edge(off, sl):
                offs, sls = [0] * x.ndim, [slice(None)] * x.ndim
                offs[last], sls[last] = off, sl
                return source(offs, tuple(sls))

            halo = (edge(-1, slice(-lo, None)) if info[last][4] else None,
                    edge(1, slice(0, hi)) if info[last][5] else None)
        for k, ax in enumerate(axes):
            if ax == last:
                continue
            # the slabs of both sides of this axis run as one call, joined along the axis:
            # each side's outputs read only its own samples (the ring and its halo), so
            # what the filter makes of the junction falls outside both
            parts = []
            for side, width in ((-1, info[ax][4]), (1, info[ax][5])):
                if not width:
                    continue
                ranges = _slab_ranges(info, lohi, axes, k, side)
                if any(o1 <= o0 for o0, o1, _, _ in ranges):
                    continue
                parts.append((ranges, width))
            if not parts:
                continue
            pieces = [list(r[3]) for r in parts[0][0]]
            pieces[ax] = [p for ranges, _ in parts for p in ranges[ax][3]]
            cat = [a for a, ps in enumerate(pieces) if len(ps) > 1]

            def nest(a, offs, sls):
                if a == len(pieces):
                    return source(offs, tuple(sls))
                ps = pieces[a]
                if len(ps) == 1:
                    return nest(a + 1, offs + [ps[0][0]], sls + [ps[0][1]])
                return [nest(a + 1, offs + [o], sls + [sl]) for o, sl in ps]

            pairs, shift = [], 0
            lo, hi = lohi[ax]
            for ranges, width in parts:
                res_sl = [slice(f, f + o1 - o0) for o0, o1, f, _ in ranges]
                res_sl[ax] = slice(res_sl[ax].start + shift, res_sl[ax].stop + shift)
                pairs.append((tuple(slice(o0, o1) for o0, o1, _, _ in ranges), tuple(res_sl)))
                # a side reads its ring and the halo either side of it: the next side's
                # input starts that much further along the axis
                shift += lo + width + hi
            slabs.append((pairs, cat, nest(0, [], [])))
        region = None
        if out is not None:
            region = tuple(slice(inf[0], inf[0] + inf[1]) for inf in info)
        dsk[(name,) + idx] = (_ring_task, fn, keys, _Plan(slabs, out, region, halo))
    if out is None:
        graph = HighLevelGraph.from_collections(name, dsk, dependencies=[x])
        return da.Array(graph, name, x.chunks, dtype=dtype, meta=np.empty((0,) * x.ndim, dtype))
    # one key that waits for every block (the blocks return None), computed as a Delayed:
    # only culling runs on the graph, not the array optimisations
    from dask.delayed import Delayed
    done = "pyconv-ring-done-" + token
    dsk[done] = (_nothing, [k for k in dsk if k[0] == name])
    Delayed(done, HighLevelGraph.from_collections(done, dsk, dependencies=[x])).compute()
    return out


def _shares_memory_scheduler():
    """True when dask's current default scheduler runs tasks in this process's threads."""
    try:
        import dask.local
        import dask.threaded
        sched = dask.config.get("scheduler", None)
        if isinstance(sched, str):
            return sched in ("threads", "threading", "sync", "synchronous", "single-threaded")
        if sched is None and "distributed" not in sys.modules:
            return True     # no client can exist: dask arrays default to threads
        get = dask.base.get_scheduler()
        return get is None or get in (dask.threaded.get, dask.local.get_sync)
    except Exception:  # pragma: no cover - dask internals changed
        return False


def _nothing(*args):
    return None


def _check_target(out, shape, dtype, x):
    """Validate an ``out=`` target of a lazy result of ``shape``/``dtype`` computed from the
    dask array ``x``."""
    if out is None:
        return None
    if isinstance(out, da.Array) or not hasattr(out, "__setitem__") or \
            not hasattr(out, "shape") or not hasattr(out, "dtype"):
        raise TypeError("out must be an array that supports slice assignment (numpy, "
                        "np.memmap, zarr), got %s" % type(out).__name__)
    if tuple(out.shape) != tuple(shape):
        raise ValueError("out has shape %s, the result has shape %s"
                         % (tuple(out.shape), tuple(shape)))
    if np.dtype(out.dtype) != dtype:
        raise ValueError("out has dtype %s, the result has dtype %s" % (out.dtype, dtype))
    if isinstance(out, np.ndarray):
        if not out.flags.writeable:
            raise ValueError("out is read-only")
        # chunks read their neighbours' samples: writing over the input would change them
        # (the arrays a graph holds: NumPy arrays, or memory maps of the same file)
        for layer in x.dask.layers.values():
            mapping = getattr(layer, "mapping", None)
            for v in (mapping.values() if isinstance(mapping, dict) else ()):
                if isinstance(v, np.ndarray) and (np.may_share_memory(v, out)
                                                  or _same_file(v, out)):
                    raise ValueError("out must not share memory with the image")
    return out


def _same_file(a, b):
    fa, fb = getattr(a, "filename", None), getattr(b, "filename", None)
    if not fa or not fb:
        return False
    try:
        return os.path.samefile(fa, fb)
    except OSError:
        return False


def _deliver(y, out):
    """``y`` (lazy), or ``y`` computed into ``out`` (then ``out`` is returned)."""
    if out is None:
        return y
    if not isinstance(out, np.ndarray):
        da.store(y, out, lock=True)         # zarr and other stores: dask's own store
    elif _shares_memory_scheduler():
        da.store(y, out, lock=False)        # disjoint regions of one array in this process
    else:
        out[...] = y.compute()              # worker processes cannot write into it
    return out


def _block(func, num_threads, block, *args, **kwargs):
    """Run an in-memory pyconv function on one block with the chunk's thread count."""
    with np.errstate(invalid="ignore", over="ignore"):
        return func(block, *args, num_threads=chunk_num_threads(num_threads), **kwargs)


def _as_dask(image, name="image"):
    x = image if isinstance(image, da.Array) else da.asarray(image)
    if x.ndim == 0:
        raise ValueError("%s must have at least one dimension" % name)
    if any(s == 0 for s in x.shape):
        raise ValueError("%s must not be empty (shape %s)" % (name, x.shape))
    if any(np.isnan(s) for s in x.shape):
        raise ValueError("%s must have known chunk sizes (call compute_chunk_sizes())" % name)
    float_dtype(x.dtype, name)
    return x


def _sample(x):
    """A one-sample-per-axis in-memory stand-in of ``x`` for argument validation."""
    return np.zeros((1,) * x.ndim, dtype=x.dtype)


def _threads_arg(num_threads):
    if num_threads is not None:
        _check_count(num_threads)
    return num_threads


# --------------------------------------------------------------------------------------------
# n-D and 1-D correlation


def _nd(image, kernel, mode, cval, origin, channel_axis, num_threads, flip, out=None):
    x = _as_dask(image)
    func = _filters.convolve if flip else _filters.correlate
    # validates every argument exactly as the in-memory call, and gives the result dtype
    dt = func(_sample(x), kernel, mode, cval, origin, channel_axis=channel_axis,
              num_threads=1).dtype
    num_threads = _threads_arg(num_threads)
    k = np.asarray(kernel)
    if channel_axis is None:
        axes = list(range(x.ndim))
    else:
        ca = normalize_axis(channel_axis, x.ndim, "channel_axis")
        axes = [a for a in range(x.ndim) if a != ca]
    codes = dict(zip(axes, [mode_code(m) for m in canonical_modes(mode, len(axes))]))
    origins = int_sequence(origin, len(axes), "origin")
    halos = {}
    for ax, size, o in zip(axes, k.shape, origins):
        if flip:
            o = _filters._flip_origin(o, size)
        before = size // 2 + o
        halos[ax] = (before, size - 1 - before)
    fn = functools.partial(_block, func, num_threads, kernel=kernel, mode=mode, cval=cval,
                           origin=origin, channel_axis=channel_axis)
    out = _check_target(out, x.shape, dt, x)
    return _halo_map(x.astype(dt) if x.dtype != dt else x, fn, halos, codes, dt, out)


def correlate(image, kernel, mode="reflect", cval=0.0, origin=0, *, channel_axis=None,
              out=None, num_threads=None):
    """:func:`pyconv.filters.correlate` on a dask array (lazy, equal at every chunk border).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from pyconv.dask import correlate
    >>> x = da.arange(8.0, chunks=3)
    >>> correlate(x, [1, 1, 1], mode='wrap').compute()
    array([ 8.,  3.,  6.,  9., 12., 15., 18., 13.])
    """
    return _nd(image, kernel, mode, cval, origin, channel_axis, num_threads, flip=False,
               out=out)


def convolve(image, kernel, mode="reflect", cval=0.0, origin=0, *, channel_axis=None,
             out=None, num_threads=None):
    """:func:`pyconv.filters.convolve` on a dask array (lazy, equal at every chunk border)."""
    return _nd(image, kernel, mode, cval, origin, channel_axis, num_threads, flip=True,
               out=out)


def _pass_1d(x, weights, axis, mode, cval, origin, num_threads, flip=False, dt=None,
             out=None):
    """One correlate1d/convolve1d pass along ``axis`` of the dask array ``x``."""
    func = _filters.convolve1d if flip else _filters.correlate1d
    if dt is None:
        dt = func(_sample(x), weights, axis, mode, cval, origin, num_threads=1).dtype
    w = np.asarray(weights)
    ax = normalize_axis(axis, x.ndim)
    o = int_sequence(origin, 1, "origin")[0]
    if flip:
        o = _filters._flip_origin(o, w.size)
    before = w.size // 2 + o
    fn = functools.partial(_block, func, num_threads, weights=weights, axis=ax, mode=mode,
                           cval=cval, origin=origin)
    return _halo_map(x.astype(dt) if x.dtype != dt else x, fn,
                     {ax: (before, w.size - 1 - before)}, {ax: mode_code(mode)}, dt,
                     _check_target(out, x.shape, dt, x))


def correlate1d(image, weights, axis=-1, mode="reflect", cval=0.0, origin=0, *,
                out=None, num_threads=None):
    """:func:`pyconv.filters.correlate1d` on a dask array (lazy, equal at every chunk border)."""
    x = _as_dask(image)
    dt = _filters.correlate1d(_sample(x), weights, axis, mode, cval, origin,
                              num_threads=1).dtype
    return _pass_1d(x, weights, axis, mode, cval, origin, _threads_arg(num_threads), dt=dt,
                    out=out)


def convolve1d(image, weights, axis=-1, mode="reflect", cval=0.0, origin=0, *,
               out=None, num_threads=None):
    """:func:`pyconv.filters.convolve1d` on a dask array (lazy, equal at every chunk border)."""
    x = _as_dask(image)
    dt = _filters.convolve1d(_sample(x), weights, axis, mode, cval, origin,
                             num_threads=1).dtype
    return _pass_1d(x, weights, axis, mode, cval, origin, _threads_arg(num_threads),
                    flip=True, dt=dt, out=out)


# --------------------------------------------------------------------------------------------
# chains of 1-D passes (the same chains as pyconv._separable builds)


#: "no such position" for _first_flagged
_NEVER = np.iinfo(np.int64).max // 4


def _first_in_block(v, axis, kind, block_info=None):
    """Per line of a block: the array index of its first NaN (kind 'nan') or NaN/Inf
    (kind 'nonfinite') along ``axis``, _NEVER if none; ``axis`` kept with length 1."""
    start = block_info[0]["array-location"][axis][0]
    if _engine.all_finite(v, 1):
        # the usual block: one read, no boolean array and no argmax over it (which took
        # a third of a finite 4096^2 uniform's time)
        return np.full(v.shape[:axis] + (1,) + v.shape[axis + 1:], _NEVER, np.int64)
    flags = np.isnan(v) if kind == "nan" else ~np.isfinite(v)
    first = np.where(flags.any(axis=axis), np.argmax(flags, axis=axis) + start, _NEVER)
    return np.expand_dims(first.astype(np.int64), axis)


def _first_flagged(seg, axis, kind):
    chunks = tuple(((1,) * len(c)) if a == axis else c for a, c in enumerate(seg.chunks))
    per_block = da.map_blocks(_first_in_block, seg, axis=axis, kind=kind, chunks=chunks,
                              dtype=np.int64, meta=np.empty((0,) * seg.ndim, np.int64))
    return per_block.min(axis=axis, keepdims=True)


def _box_nan_firsts(x, p):
    """Where scipy's running mean turns the rest of a line into NaN (the line-global part of
    pyconv._separable._running_mean_nan, as two small lazy arrays, ``axis`` of length 1).

    Along the mode-extended line Q (n + size - 1 samples, output i averaging Q[i:i+size]),
    output i is NaN if Q[:i+size] holds a NaN or Q[:i] a NaN or Inf.  Returns the first
    position in Q of a NaN and of a NaN or Inf."""
    size, n, ax = len(p.weights), x.shape[p.axis], p.axis
    lo = size // 2 + p.origin
    tab = _engine.index_table(-lo, n + size - 1, n, mode_code(p.mode))
    fill = np.asarray(p.cval, dtype=x.dtype)
    segments = [(lo, x)]
    for start, part in ((0, tab[:lo]), (lo + n, tab[lo + n:])):
        if len(part):
            pieces = _gather(x, ax, part, fill)
            segments.append((start, da.concatenate(pieces, axis=ax) if len(pieces) > 1
                             else pieces[0]))
    firsts = []
    for kind in ("nan", "nonfinite"):
        best = None
        for start, seg in segments:
            first = _first_flagged(seg, ax, kind)
            first = da.where(first == _NEVER, _NEVER, first + start)
            best = first if best is None else da.minimum(best, first)
        firsts.append(best)
    return firsts


def _apply_box_nan(y, first_nan, first_nonfinite, axis, size, block_info=None):
    start, stop = block_info[0]["array-location"][axis]
    if first_nan.size == 0 or (first_nan.min() > stop + size - 2
                               and first_nonfinite.min() > stop - 2):
        return y        # no line turns NaN before this block's end (the mask below: none)
    shape = [1] * y.ndim
    shape[axis] = stop - start
    i = np.arange(start, stop, dtype=np.int64).reshape(shape)
    mask = (first_nan <= i + (size - 1)) | (first_nonfinite <= i - 1)
    if mask.any():
        y = y.copy()
        y[np.broadcast_to(mask, y.shape)] = np.nan
    return y


def _box_mean_block(block, count):
    return _sep.box_mean(np.array(block, copy=True), count)


def _pass_halo(p):
    if p.kind == "diff":
        return 1, 1
    size = len(p.weights)
    lo = size // 2 + p.origin
    return lo, size - 1 - lo


def _chain_halos(chains):
    """Halo and boundary code per axis for chains of 1-D passes run in one block: the sum of
    a chain's halos along an axis, the widest over the chains."""
    halos, codes = {}, {}
    for passes in chains:
        own = {}
        for p in passes:
            lo, hi = _pass_halo(p)
            a, b = own.get(p.axis, (0, 0))
            own[p.axis] = (a + lo, b + hi)
            codes[p.axis] = mode_code(p.mode)
        for ax, (lo, hi) in own.items():
            a, b = halos.get(ax, (0, 0))
            halos[ax] = (max(a, lo), max(b, hi))
    return halos, codes


def _chain_block(block, dt, passes, num_threads, out=None, halo=None):
    return _sep._run(block, dt, passes, out, chunk_num_threads(num_threads), halo)


def _fused(x, dt, passes, num_threads, out=None):
    """The chain of 1-D passes in one map_overlap: each block runs the in-memory chain with
    the sum of the passes' halos.  Exact because every pass acts along one axis only: the
    values a pass leaves wrong near a block's border stay within that axis' halo, which is
    cut off, and the outer edge of every pass is handled as in memory (see _halo_map)."""
    x = x.astype(dt) if x.dtype != dt else x
    out = _check_target(out, x.shape, dt, x)
    if not passes:
        return _deliver(x, out)
    halos, codes = _chain_halos([passes])
    fn = functools.partial(_chain_block, dt=dt, passes=passes, num_threads=num_threads)
    if len(passes) == 2 and passes[1].axis == x.ndim - 1 and \
            _sep._fusable(x, passes[0], passes[1]):
        # one fused sweep: it reads the neighbours' columns itself (see _ring_map)
        fn.side_halo = _pass_halo(passes[1])
    return _halo_map(x, fn, halos, codes, dt, out)


def _run_passes(x, dt, passes, num_threads):
    """Dask twin of pyconv._separable._run: the passes in order, each exact at every border."""
    x = x.astype(dt) if x.dtype != dt else x
    if not passes:
        return x
    for p in passes:
        code = mode_code(p.mode)
        w = np.asarray(p.weights, dtype=dt)
        lo = w.size // 2 + p.origin
        fn = functools.partial(_block, _filters.correlate1d, num_threads, weights=w,
                               axis=p.axis, mode=p.mode, cval=p.cval, origin=p.origin)
        y = _halo_map(x, fn, {p.axis: (lo, w.size - 1 - lo)}, {p.axis: code}, dt)
        if p.kind == "box":
            first_nan, first_nonfinite = _box_nan_firsts(x, p)
            chunks = tuple((1,) if a == p.axis else c for a, c in enumerate(y.chunks))
            y = da.map_blocks(_apply_box_nan, y, first_nan.rechunk(chunks),
                              first_nonfinite.rechunk(chunks), axis=p.axis, size=w.size,
                              dtype=dt, meta=np.empty((0,) * y.ndim, dt))
        x = y
    return x


def sepfilter(image, kernels, mode="reflect", cval=0.0, origin=0, *, channel_axis=None,
              out=None, num_threads=None):
    """:func:`pyconv.filters.sepfilter` on a dask array (lazy, equal at every chunk border)."""
    x = _as_dask(image)
    kernels = list(kernels) if isinstance(kernels, Iterable) and \
        not isinstance(kernels, (str, bytes)) else kernels
    dt = _sep.sepfilter(_sample(x), kernels, mode, cval, origin, channel_axis=channel_axis,
                        num_threads=1).dtype
    num_threads = _threads_arg(num_threads)
    axes, _ = _sep._spatial_axes(x, channel_axis)
    modes = canonical_modes(mode, len(axes))
    cval = real_scalar(cval, "cval")
    origins = int_sequence(origin, len(axes), "origin")
    passes, factor = [], 1.0
    for ax, k, m, o in zip(axes, kernels, modes, origins):
        if k is None:
            continue
        w = second_operand(k, "kernel")[0].astype(np.float64)
        passes.append(_sep._Pass("corr", ax, m, cval * factor, w, o))
        if cval != 0:
            factor *= float(np.sum(w))
    return _fused(x, dt, passes, num_threads, out)


def gaussian(image, sigma=1.0, mode="nearest", cval=0.0, truncate=4.0, *, channel_axis=None,
             out=None, num_threads=None):
    """:func:`pyconv.filters.gaussian` on a dask array (lazy, equal at every chunk border)."""
    x = _as_dask(image)
    dt = _sep.gaussian(_sample(x), sigma, mode, cval, truncate, channel_axis=channel_axis,
                       num_threads=1).dtype
    num_threads = _threads_arg(num_threads)
    axes, _ = _sep._spatial_axes(x, channel_axis)
    sigmas = _sep._real_sequence(sigma, len(axes), "sigma")
    modes = canonical_modes(mode, len(axes))
    cval = real_scalar(cval, "cval")
    truncate = real_scalar(truncate, "truncate")
    passes = [_sep._Pass("corr", a, m, cval, _sep.gaussian_weights(s, truncate))
              for a, s, m in zip(axes, sigmas, modes) if s > 1e-15]
    return _fused(x, dt, passes, num_threads, out)


def uniform(image, size=3, mode="reflect", cval=0.0, origin=0, *, channel_axis=None,
            out=None, num_threads=None):
    """:func:`pyconv.filters.uniform` on a dask array (lazy, equal at every chunk border),
    including scipy's NaN rule for running means."""
    x = _as_dask(image)
    dt = _sep.uniform(_sample(x), size, mode, cval, origin, channel_axis=channel_axis,
                      num_threads=1).dtype
    num_threads = _threads_arg(num_threads)
    axes, _ = _sep._spatial_axes(x, channel_axis)
    sizes = int_sequence(size, len(axes), "size")
    modes = canonical_modes(mode, len(axes))
    cval = real_scalar(cval, "cval")
    origins = int_sequence(origin, len(axes), "origin")
    passes = _sep._box_passes(axes, sizes, modes, cval, origins)
    out = _check_target(out, x.shape, dt, x)
    sums = _run_passes(x, dt, passes, num_threads)
    count = math.prod(sizes)
    means = sums.map_blocks(_box_mean_block, count=count, dtype=dt) if count > 1 else sums
    return _deliver(means, out)


# --------------------------------------------------------------------------------------------
# edge filters


def _edge_block(block, edge_axes, saxes, ca, modes, cval, smooth, dt, num_threads, out=None):
    """The in-memory edge filter (every derivative chain and the magnitude) on one block."""
    with np.errstate(invalid="ignore", over="ignore"):
        y = _sep._edge_passes(block, None, edge_axes, saxes, ca, modes, cval, smooth, dt,
                              chunk_num_threads(num_threads))
    if out is None:
        return y
    out[...] = y
    return out


def _erode_block(block, num_threads):
    return _sep._erode(block)


def _apply_mask(result, em):
    with np.errstate(invalid="ignore", over="ignore"):
        result = result.copy()
        result *= em
    return result


def _edge(image, mask, axis, mode, cval, channel_axis, num_threads, smooth, name, out=None):
    x = _as_dask(image)
    inmem = getattr(_sep, name)
    dt = inmem(_sample(x), None, axis, mode, cval, channel_axis=channel_axis,
               num_threads=1).dtype
    num_threads = _threads_arg(num_threads)
    saxes, ca = _sep._spatial_axes(x, channel_axis)
    if axis is None:
        edge_axes = list(saxes)
    elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        edge_axes = [normalize_axis(axis, x.ndim, "axis")]
    else:
        edge_axes = [normalize_axis(a, x.ndim, "axis") for a in axis]
    modes = dict(zip(saxes, canonical_modes(mode, len(saxes))))
    cval = real_scalar(cval, "cval")
    spatial_shape = tuple(x.shape[a] for a in saxes)
    if mask is not None:
        m = mask if isinstance(mask, da.Array) else da.asarray(np.asarray(mask))
        if m.shape != spatial_shape:
            raise ValueError("mask must have the image's spatial shape %s, got %s"
                             % (spatial_shape, m.shape))
    diff_cval = cval * float(np.sum(smooth)) ** (len(saxes) - 1)
    chains = []
    for ea in edge_axes:
        passes = [_sep._Pass("corr", a, modes[a], cval, smooth) for a in saxes if a != ea]
        passes.append(_sep._Pass("diff", ea, modes[ea], diff_cval))
        chains.append(passes)
    halos, codes = _chain_halos(chains)
    fn = functools.partial(_edge_block, edge_axes=edge_axes, saxes=saxes, ca=ca, modes=modes,
                           cval=cval, smooth=smooth, dt=dt, num_threads=num_threads)
    meta = np.empty((0,) * x.ndim, dt)
    out = _check_target(out, x.shape, dt, x)
    if mask is None:
        return _halo_map(x.astype(dt) if x.dtype != dt else x, fn, halos, codes, dt, out)
    result = _halo_map(x.astype(dt) if x.dtype != dt else x, fn, halos, codes, dt)
    if mask is not None:
        mb = (m != 0).rechunk(tuple(result.chunks[a] for a in saxes))
        fn = functools.partial(_block, _erode_block, None)
        em = _halo_map(mb, fn, {a: (1, 1) for a in range(mb.ndim)},
                       {a: CONSTANT for a in range(mb.ndim)}, np.dtype(bool))
        em = em.rechunk(tuple(result.chunks[a] for a in saxes))
        if ca is not None:
            em = da.expand_dims(em, ca)
        result = da.map_blocks(_apply_mask, result, em, dtype=dt, meta=meta)
    return _deliver(result, out)


def sobel(image, mask=None, axis=None, mode="reflect", cval=0.0, *, channel_axis=None,
          out=None, num_threads=None):
    """:func:`pyconv.filters.sobel` on a dask array (lazy, equal at every chunk border)."""
    return _edge(image, mask, axis, mode, cval, channel_axis, num_threads, _sep.SOBEL_SMOOTH,
                 "sobel", out)


def scharr(image, mask=None, axis=None, mode="reflect", cval=0.0, *, channel_axis=None,
           out=None, num_threads=None):
    """:func:`pyconv.filters.scharr` on a dask array (lazy, equal at every chunk border)."""
    return _edge(image, mask, axis, mode, cval, channel_axis, num_threads,
                 _sep.SCHARR_SMOOTH, "scharr", out)


def prewitt(image, mask=None, axis=None, mode="reflect", cval=0.0, *, channel_axis=None,
            out=None, num_threads=None):
    """:func:`pyconv.filters.prewitt` on a dask array (lazy, equal at every chunk border)."""
    return _edge(image, mask, axis, mode, cval, channel_axis, num_threads,
                 _sep.PREWITT_SMOOTH, "prewitt", out)


def _edge_2d(image, mask, axis, smooth, name, num_threads):
    x = _as_dask(image)
    if x.ndim != 2:
        raise ValueError("image must be 2-D for %s, got %d dimensions" % (name, x.ndim))
    return _edge(x, mask, axis, "reflect", 0.0, None, num_threads, smooth, name)


def sobel_h(image, mask=None, *, num_threads=None):
    """:func:`pyconv.filters.sobel_h` on a dask array."""
    return _edge_2d(image, mask, 0, _sep.SOBEL_SMOOTH, "sobel", num_threads)


def sobel_v(image, mask=None, *, num_threads=None):
    """:func:`pyconv.filters.sobel_v` on a dask array."""
    return _edge_2d(image, mask, 1, _sep.SOBEL_SMOOTH, "sobel", num_threads)


def scharr_h(image, mask=None, *, num_threads=None):
    """:func:`pyconv.filters.scharr_h` on a dask array."""
    return _edge_2d(image, mask, 0, _sep.SCHARR_SMOOTH, "scharr", num_threads)


def scharr_v(image, mask=None, *, num_threads=None):
    """:func:`pyconv.filters.scharr_v` on a dask array."""
    return _edge_2d(image, mask, 1, _sep.SCHARR_SMOOTH, "scharr", num_threads)


def prewitt_h(image, mask=None, *, num_threads=None):
    """:func:`pyconv.filters.prewitt_h` on a dask array."""
    return _edge_2d(image, mask, 0, _sep.PREWITT_SMOOTH, "prewitt", num_threads)


def prewitt_v(image, mask=None, *, num_threads=None):
    """:func:`pyconv.filters.prewitt_v` on a dask array."""
    return _edge_2d(image, mask, 1, _sep.PREWITT_SMOOTH, "prewitt", num_threads)


# --------------------------------------------------------------------------------------------
# convolution layers (PyTorch conventions)


def _conv_chunks(chunks, lo, length, stride, reach):
    """Chunks of the padded axis (length ``length``): boundaries at the input's chunk
    boundaries rounded down to multiples of ``stride``, every chunk >= ``reach`` (it feeds
    its left neighbour's halo) and the last one > ``reach`` (it holds an output)."""
    bounds, pos = [], lo
    for c in chunks[:-1]:
        pos += c
        bounds.append((pos // stride) * stride)
    out, start = [], 0
    for b in bounds:
        if b - start >= max(reach, 1) and length - b >= reach + 1:
            out.append(b - start)
            start = b
    out.append(length - start)
    return tuple(out)


def _conv_block(block, nd, weight, bias, stride, dilation, groups, plane, channel,
                num_threads):
    # the kernel path is the whole array's (plane, channel), whatever the block's size
    from . import nn
    return nn._convnd(block, weight, bias, stride, 0, dilation, groups, "zeros", None,
                      chunk_num_threads(num_threads), nd, plane=plane, channel=channel)


def _convnd(x, weight, bias, stride, padding, dilation, groups, padding_mode, num_threads, nd):
    from . import nn
    func = getattr(nn, "conv%dd" % nd)
    x = x if isinstance(x, da.Array) else da.asarray(x)
    if isinstance(weight, da.Array):
        weight = weight.compute()
    if isinstance(bias, da.Array):
        bias = bias.compute()
    empty = any(s == 0 for s in x.shape)
    if empty or x.ndim not in (nd + 1, nd + 2) or np.asarray(weight).ndim != nd + 2:
        # shapes the in-memory function refuses (let it word the error), or no data at all
        res = func(np.zeros(x.shape if empty else (1,) * x.ndim, x.dtype), weight, bias,
                   stride, padding, dilation, groups, padding_mode=padding_mode)
        if empty:
            return da.from_array(res)
        raise ValueError("x has shape %s" % (x.shape,))  # pragma: no cover
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x[None]
    spatial = x.shape[2:]
    ksize = np.asarray(weight).shape[2:]
    # a small stand-in validates every argument as the in-memory call does (same sizes where
    # a size can matter) and gives the result dtype
    try:
        dil = int_sequence(dilation, nd, "dilation")
        pad = [0] * nd if isinstance(padding, str) else int_sequence(padding, nd, "padding")
    except (TypeError, ValueError):
        dil, pad = [1] * nd, [0] * nd
    extent = [abs(d) * (k - 1) + 1 for d, k in zip(dil, ksize)]
    small = tuple(min(n, 2 * e + 2 * abs(p) + 1) for n, e, p in zip(spatial, extent, pad))
    sample = np.zeros((1, x.shape[1]) + small, dtype=x.dtype)
    dt = func(sample, weight, bias, stride, padding, dilation, groups,
              padding_mode=padding_mode, num_threads=1).dtype
    num_threads = _threads_arg(num_threads)
    stride = int_sequence(stride, nd, "stride")
    if isinstance(padding, str):
        # 'valid': none; 'same': PyTorch's split of dilation * (k - 1), the odd one on the right
        pads = [(0, 0) if padding == "valid" else ((e - 1) // 2, e - 1 - (e - 1) // 2)
                for e in extent]
    else:
        pads = [(p, p) for p in pad]
    code = _PADDING_MODES[padding_mode]

    x = x.astype(dt) if x.dtype != dt else x
    x = x.rechunk({1: -1})
    depth = {}
    out_chunks = list(x.chunks[:1]) + [(np.asarray(weight).shape[0],)]
    osizes = []
    for i in range(nd):
        ax = 2 + i
        n = x.shape[ax]
        lo, hi = pads[i]
        reach = extent[i] - 1
        s = stride[i]
        osize = (n + lo + hi - extent[i]) // s + 1
        osizes.append(osize)
        length = (osize - 1) * s + extent[i]  # padded samples the outputs read
        tgt = _conv_chunks(x.chunks[ax], lo, length, s, reach)
        if lo or hi:
            x = _pad_axis(x, ax, lo, hi, code, fill=0)
        if length != x.shape[ax]:
            x = x[_slab(x.ndim, ax, slice(0, length))]
        x = x.rechunk({ax: tgt})
        counts = [c // s for c in tgt[:-1]] + [(tgt[-1] - reach - 1) // s + 1]
        out_chunks.append(tuple(counts))
        if len(tgt) > 1 and reach:
            depth[ax] = (0, reach)
    plane = nn._plane_path(x.shape[1], np.asarray(weight).shape[0], groups, stride, osizes,
                           ksize, dil, padding_mode == "zeros", np.dtype(dt).itemsize)
    channel = nn._channel_path(x.shape[1], np.asarray(weight).shape[0], groups, stride,
                               osizes, ksize, dil, padding_mode == "zeros", dt)
    fn = functools.partial(_conv_block, nd=nd, weight=weight, bias=bias, stride=stride,
                           dilation=dilation, groups=groups, plane=plane, channel=channel,
                           num_threads=num_threads)
    meta = np.empty((0,) * x.ndim, dt)
    if depth:
        y = da.map_overlap(fn, x, depth=depth, boundary="none", trim=False,
                           chunks=tuple(out_chunks), dtype=dt, meta=meta)
    else:
        y = x.map_blocks(fn, chunks=tuple(out_chunks), dtype=dt, meta=meta)
    return y[0] if unbatched else y


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", num_threads=None):
    """:func:`pyconv.conv1d` on a dask array chunked along batch and length."""
    return _convnd(x, weight, bias, stride, padding, dilation, groups, padding_mode,
                   num_threads, 1)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", num_threads=None):
    """:func:`pyconv.conv2d` on a dask array ``(N, C, H, W)`` or ``(C, H, W)`` chunked along
    the batch and spatial axes (the channel axis is rechunked to one chunk).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import pyconv, pyconv.dask
    >>> x = np.random.default_rng(0).random((2, 3, 9, 10), dtype=np.float32)
    >>> w = np.ones((4, 3, 3, 3), dtype=np.float32)
    >>> y = pyconv.dask.conv2d(da.from_array(x, chunks=(1, 3, 4, 4)), w, padding=1)
    >>> y.dtype, y.shape
    (dtype('float32'), (2, 4, 9, 10))
    >>> np.array_equal(y.compute(), pyconv.conv2d(x, w, padding=1))
    True
    """
    return _convnd(x, weight, bias, stride, padding, dilation, groups, padding_mode,
                   num_threads, 2)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", num_threads=None):
    """:func:`pyconv.conv3d` on a dask array ``(N, C, D, H, W)`` or ``(C, D, H, W)`` chunked
    along the batch and spatial axes (the channel axis is rechunked to one chunk)."""
    return _convnd(x, weight, bias, stride, padding, dilation, groups, padding_mode,
                   num_threads, 3)


# --------------------------------------------------------------------------------------------
# runnable examples: each function's result equals the in-memory one, bit for bit

_EXAMPLE = """

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import pyconv.dask as pdask
    >>> from pyconv import filters
    >>> img = np.random.default_rng(0).random((48, 40), dtype=np.float32)
    >>> x = da.from_array(img, chunks=16)
    >>> bool(np.array_equal(pdask.{call}.compute(), filters.{call_img}))
    True
"""

_LAYER_EXAMPLE = """

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import pyconv, pyconv.dask as pdask
    >>> a = np.random.default_rng(0).random({shape}, dtype=np.float32)
    >>> w = np.random.default_rng(1).random({wshape}, dtype=np.float32)
    >>> x = da.from_array(a, chunks={chunks})
    >>> bool(np.array_equal(pdask.{fn}(x, w, padding=1).compute(), pyconv.{fn}(a, w, padding=1)))
    True
"""


def _add_examples():
    calls = {
        "convolve": "convolve({}, [[1, 2], [3, 4]], mode='wrap')",
        "correlate1d": "correlate1d({}, [1, -2, 1], axis=0, mode='mirror')",
        "convolve1d": "convolve1d({}, [1, 2, 3, 4], mode='nearest')",
        "sepfilter": "sepfilter({}, [[1, 2, 1], [1, 0, -1]], mode='wrap')",
        "gaussian": "gaussian({}, 1.5)",
        "uniform": "uniform({}, 5)",
    }
    for name in ("sobel", "scharr", "prewitt"):
        for suffix in ("", "_h", "_v"):
            calls[name + suffix] = name + suffix + "({})"
    g = globals()
    for name, call in calls.items():
        g[name].__doc__ += _EXAMPLE.format(call=call.format("x"), call_img=call.format("img"))
    g["conv1d"].__doc__ += _LAYER_EXAMPLE.format(shape=(2, 3, 50), wshape=(4, 3, 3),
                                                 chunks=(1, 3, 16), fn="conv1d")
    g["conv3d"].__doc__ += _LAYER_EXAMPLE.format(shape=(1, 2, 12, 12, 12),
                                                 wshape=(2, 2, 3, 3, 3),
                                                 chunks=(1, 2, 6, 6, 6), fn="conv3d")
    chunk_num_threads.__doc__ += """

    Examples
    --------
    >>> import pyconv.dask as pdask
    >>> pdask.chunk_num_threads(3)     # an explicit count wins
    3
"""


_add_examples()
