"""Filter a volume larger than a memory budget, slab by slab, with pyconv.dask.

The volume is an .npy file on disk (created here, slab by slab, unless --input names one).
Each chunk is read from the file when its task runs, filtered with its halo by pyconv.dask
(exactly as pyconv.filters would filter the whole volume), and written straight into an .npy
file on disk (or a zarr store with --format zarr, if zarr is installed): neither the input
nor the result is ever in memory as a whole.  --memory-limit bounds the whole process's
peak resident memory (what `/usr/bin/time -v` reports): what Python, NumPy, dask and pyconv
already hold is measured first, and the slab thickness is derived from the rest.  A
progress bar follows the computation and the peak resident memory is reported at the end.

Runs in seconds by default (a 384^3 float32 volume, 216 MiB, under a 160 MiB limit):

    python examples/dask_volume.py
    python examples/dask_volume.py --size 640 --memory-limit 500    # 1000 MiB volume
    python examples/dask_volume.py --size 1024 --memory-limit 512 --filter sobel  # 4 GiB
    python examples/dask_volume.py --input big.npy --mode wrap --sigma 3 --check

Outputs go to --out (default ./dask_volume_out); existing files are kept unless --overwrite.
"""
import argparse
import os
import resource
import sys
import time

import numpy as np

try:
    import dask
    import dask.array as da
    from dask.diagnostics import ProgressBar
except ImportError:  # pragma: no cover
    sys.exit("this example needs dask: pip install 'dask[array]'")

import pyconv
import pyconv.dask
from pyconv import filters

MiB = 1 << 20
#: resident memory per byte of live arrays (malloc keeps freed blocks for reuse)
ALLOCATOR = 1.3
#: resident memory of a run besides the arrays: task graph, thread stacks, OpenMP pool
FIXED = 12 * MiB


def current_rss_bytes():
    """Resident set size now (Linux /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return peak_rss_bytes()


def peak_rss_bytes():
    """Peak resident set size of this process so far (ru_maxrss: KiB on Linux, B on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class NpyChunks:
    """An .npy file seen as an array: every read maps the file, copies the slice out and
    unmaps it again, so pages of the file never pile up in this process's memory."""

    def __init__(self, path):
        mm = np.load(path, mmap_mode="r")
        self.path, self.shape, self.dtype, self.ndim = path, mm.shape, mm.dtype, mm.ndim
        del mm

    def __getitem__(self, key):
        mm = np.load(self.path, mmap_mode="r")
        try:
            return np.array(mm[key])
        finally:
            del mm

    def __setitem__(self, key, value):
        mm = np.load(self.path, mmap_mode="r+")
        try:
            mm[key] = value
            mm.flush()
        finally:
            del mm


def create_volume(path, size, dtype, seed=0):
    """A smooth random volume with a few sharp edges, written slab by slab."""
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(size,) * 3)
    del mm
    vol = NpyChunks(path)
    rng = np.random.default_rng(seed)
    slab = max(1, (4 * MiB) // (size * size * np.dtype(dtype).itemsize))
    yy, xx = np.mgrid[0:size, 0:size] / size
    for z in range(0, size, slab):
        n = min(slab, size - z)
        zz = (np.arange(z, z + n) / size)[:, None, None]
        block = np.sin(6 * xx + 3 * zz) + np.cos(5 * yy - 2 * zz)
        block = block + (((xx - 0.5) ** 2 + (yy - 0.5) ** 2 + (zz - 0.5) ** 2) < 0.1)
        block += 0.1 * rng.standard_normal(block.shape)
        vol[z:z + n] = block.astype(dtype)


def halo_of(args):
    if args.filter == "gaussian":
        return int(4.0 * args.sigma + 0.5)
    return 1  # sobel: smoothing and central difference, one sample each side


#: whole-block temporaries of one task's pyconv call: the passes of gaussian, the derivative
#: chains, squares and sum of sobel
TEMPORARIES = {"gaussian": 4, "sobel": 6}


def slab_chunks(shape, itemsize, limit_bytes, workers, halo, temporaries):
    """Chunks (c0, c1, N2): slabs of c0 rows along axis 0, cut into one piece per worker
    along axis 1, and the memory one slab needs.

    Storing one slab of the result holds the slab and its two neighbours (3 c0 rows) while
    the workers filter its pieces: each piece with its halo goes through a few whole-block
    temporaries (T (c0 + 2 halo) rows over all the pieces).  Plus ~30% that the C allocator
    keeps resident between tasks, and a fixed amount for dask's graph and the threads' stacks.
    That gives c0 (at least the halo)."""
    n0, n1, n2 = shape
    row = n1 * n2 * itemsize
    t = temporaries
    c0 = int(((limit_bytes - FIXED) / ALLOCATOR / row - 2 * t * halo) // (3 + t))
    c0 = max(halo, 1, min(n0, c0))
    c1 = -(-n1 // max(1, workers))
    if c1 < halo:
        c1 = n1
    return (c0, c1, n2), ((3 + t) * c0 + 2 * t * halo) * row * ALLOCATOR + FIXED


class SlabProgressBar(ProgressBar):
    """dask's ProgressBar drawn once over several computes (one per slab)."""

    def __init__(self, nslabs, **kw):
        super().__init__(**kw)
        self.nslabs, self.slab, self.t0 = nslabs, 0, time.perf_counter()

    def _draw_bar(self, frac, elapsed):
        super()._draw_bar((self.slab + frac) / self.nslabs, time.perf_counter() - self.t0)

    def _finish(self, dsk, state, errored):
        if errored or self.slab + 1 >= self.nslabs or not hasattr(self, "_timer"):
            super()._finish(dsk, state, errored)  # the last slab ends the line
        else:
            self._running = False  # stop this compute's timer, keep the line open
            self._timer.join()
            self._draw_bar(1, 0)
        self.slab += 1


def lazy_filter(x, args):
    kw = {} if args.mode is None else {"mode": args.mode}
    if args.filter == "gaussian":
        return pyconv.dask.gaussian(x, sigma=args.sigma, **kw), \
            lambda a: filters.gaussian(a, sigma=args.sigma, **kw)
    return pyconv.dask.sobel(x, **kw), lambda a: filters.sobel(a, **kw)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=384,
                        help="edge of the cubic volume to create (default 384)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--input", help="filter this existing 3-D .npy file instead")
    parser.add_argument("--filter", choices=["gaussian", "sobel"], default="gaussian")
    parser.add_argument("--sigma", type=float, default=1.0)
    parser.add_argument("--mode", default=None, help="boundary mode (default: the filter's)")
    parser.add_argument("--memory-limit", type=float, default=160.0,
                        help="peak resident memory of the whole process, MiB (default 160)")
    parser.add_argument("--slab", type=int, default=None,
                        help="rows per slab (default: derived from --memory-limit)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="dask threads (each chunk's pyconv call then uses 1 thread)")
    parser.add_argument("--format", choices=["npy", "zarr"], default="npy")
    parser.add_argument("--out", default="dask_volume_out", help="output folder")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing files in --out")
    parser.add_argument("--check", action="store_true",
                        help="also compute in memory and compare (small volumes only)")
    args = parser.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    in_path = args.input or os.path.join(args.out, "input.npy")
    out_path = os.path.join(args.out, "%s.%s" % (args.filter, args.format))
    targets = [out_path] + ([] if args.input else [in_path])
    existing = [p for p in targets if os.path.exists(p)]
    if existing and not args.overwrite:
        print("refusing to overwrite %s (pass --overwrite)" % ", ".join(existing),
              file=sys.stderr)
        return 1
    zarr = None
    if args.format == "zarr":
        try:
            import zarr
        except ImportError:
            print("--format zarr needs zarr (pip install zarr); use --format npy",
                  file=sys.stderr)
            return 1

    t0 = time.perf_counter()
    if not args.input:
        create_volume(in_path, args.size, np.dtype(args.dtype))
    src = NpyChunks(in_path)
    if src.ndim != 3:
        print("%s must hold a 3-D array, got shape %s" % (in_path, src.shape), file=sys.stderr)
        return 1
    limit = args.memory_limit * MiB
    halo = halo_of(args)
    # the data's share of the limit: what the process holds already is not available
    budget = limit - current_rss_bytes()
    chunks, need = slab_chunks(src.shape, src.dtype.itemsize, budget, args.workers, halo,
                               TEMPORARIES[args.filter])
    if args.slab:
        chunks = (max(halo, args.slab),) + chunks[1:]
    t_create = time.perf_counter() - t0

    x = da.from_array(src, chunks=chunks, lock=False, asarray=False,
                      meta=np.empty((0, 0, 0), src.dtype))
    result, in_memory = lazy_filter(x, args)
    volume_bytes = int(np.prod(src.shape)) * src.dtype.itemsize
    print("pyconv %s: %s of %s %s (%.1f MiB) -> %s" % (
        pyconv.__version__, args.filter, "x".join(map(str, src.shape)), src.dtype,
        volume_bytes / MiB, out_path))
    print("memory limit %.1f MiB: slabs of %d rows, chunks %s (%d), halo %d, %d dask threads"
          % (args.memory_limit, chunks[0], chunks, x.npartitions, halo, args.workers))
    if need > budget:
        print("note: the thinnest slab the halo allows needs about %.1f MiB, more than the "
              "%.1f MiB the limit leaves" % (need / MiB, max(budget, 0) / MiB))

    # dask's map_overlap, given the whole volume at once, may keep a large part of it in
    # memory (its task order is not a sweep); storing the result one slab of chunks at a
    # time bounds the memory to a few slabs, at the price of reading each input slab three
    # times (the slab and its neighbours' halos).
    if zarr is not None:
        target = zarr.open(out_path, mode="w", shape=result.shape, chunks=result.chunksize,
                           dtype=result.dtype)
    else:
        np.lib.format.open_memmap(out_path, mode="w+", dtype=result.dtype,
                                  shape=result.shape).flush()
        target = NpyChunks(out_path)
    bounds = np.cumsum((0,) + result.chunks[0])
    baseline = current_rss_bytes()
    t1 = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=args.workers), \
            SlabProgressBar(len(bounds) - 1):
        for start, stop in zip(bounds[:-1], bounds[1:]):
            region = (slice(int(start), int(stop)),)
            da.store(result[region], target, regions=region, lock=False)
    elapsed = time.perf_counter() - t1
    peak = peak_rss_bytes()

    print("filtered in %.2f s (input prepared in %.2f s)" % (elapsed, t_create))
    print("peak RSS %.1f MiB (limit %.1f MiB): %.1f MiB before filtering (Python, NumPy, "
          "dask, pyconv), +%.1f MiB while filtering, for a %.1f MiB volume"
          % (peak / MiB, limit / MiB, baseline / MiB, (peak - baseline) / MiB,
             volume_bytes / MiB))
    if peak > limit:
        print("note: the peak exceeded --memory-limit; lower --slab or --workers")
    if args.check:
        whole = np.load(in_path)
        if args.format == "npy":
            got = np.load(out_path)
        else:
            got = np.asarray(zarr.open(out_path, mode="r")[...])
        same = got.tobytes() == in_memory(whole).tobytes()
        print("identical to the in-memory pyconv result: %s" % same)
        if not same:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
