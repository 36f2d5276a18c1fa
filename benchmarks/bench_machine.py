"""Machine description and calibration (memory bandwidth, GEMM rate) for the runner."""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from bench_workloads import lib


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            parts = f.read().split()
        return [float(p) for p in parts[:3]]
    except OSError:
        return None


class CpuMonitor:
    """CPU time used by *other* processes (and hypervisor steal) over an interval,
    from /proc/stat minus this process's own CPU time. A clean measure of noise:
    unlike the load average it does not count our own threads."""

    def __init__(self):
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.start = self._snap()

    @staticmethod
    def _stat():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        # user nice system idle iowait irq softirq steal ...
        busy = v[0] + v[1] + v[2] + v[5] + v[6]
        steal = v[7] if len(v) > 7 else 0
        return busy, steal

    def _snap(self):
        t = os.times()
        return time.perf_counter(), self._stat(), t.user + t.system

    def stop(self):
        w1, s1, own1 = self._snap()
        w0, s0, own0 = self.start
        if s0 is None or s1 is None or w1 <= w0:
            return None
        wall = w1 - w0
        foreign = max(0.0, ((s1[0] - s0[0]) / self.hz - (own1 - own0)) / wall)
        steal = (s1[1] - s0[1]) / self.hz / wall
        return {"foreign_cores": round(foreign, 3), "steal_cores": round(steal, 3)}


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _cpuinfo():
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if ":" not in line:
                    if info:
                        break  # first processor block is enough
                    continue
                k, v = (s.strip() for s in line.split(":", 1))
                info.setdefault(k, v)
    except OSError:
        pass
    return info


def _meminfo_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(modname):
    m = lib(modname)
    if m is None:
        return None
    return str(getattr(m, "__version__", "?"))


def pyconv_config():
    """(version, file, show_config text) or (None, reason, '')."""
    pc = lib("pyconv")
    if pc is None:
        from bench_workloads import lib_error
        return None, lib_error("pyconv"), ""
    ver = getattr(pc, "__version__", None)
    if ver is None:
        try:
            from importlib.metadata import version
            ver = version("pyconv")
        except Exception:
            ver = "?"
    text = ""
    sc = getattr(pc, "show_config", None)
    if callable(sc):
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf):
                ret = sc()
            text = buf.getvalue()
            if ret is not None and not text.strip():
                text = ret if isinstance(ret, str) else repr(ret)
        except Exception as exc:
            text = f"show_config() failed: {type(exc).__name__}: {exc}"
    return str(ver), getattr(pc, "__file__", "?"), text


def machine_info():
    cpu = _cpuinfo()
    flags = set(cpu.get("flags", "").split())
    simd = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f") if f in flags]
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu_model": cpu.get("model name", platform.processor() or "?"),
        "cpu_family_model": f"family {cpu.get('cpu family', '?')} model {cpu.get('model', '?')}",
        "simd": simd,
        "logical_cpus": os.cpu_count(),
        "usable_cores": usable_cores(),
        "mem_gib": _meminfo_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "versions": {m: _version(m) for m in ("numpy", "scipy", "cv2", "torch", "skimage", "threadpoolctl")},
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS",
                                             "OPENBLAS_NUM_THREADS", "GOMP_SPINCOUNT") if k in os.environ},
    }
    ver, where, text = pyconv_config()
    info["versions"]["pyconv"] = ver
    info["pyconv_file"] = where
    info["pyconv_show_config"] = text[:4000]
    tpc = lib("threadpoolctl")
    if tpc is not None:
        try:
            info["threadpools"] = [
                {k: d.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "filepath")}
                for d in tpc.threadpool_info()
            ]
        except Exception:
            pass
    return info


def steady_malloc(limit=1 << 30):
    """Make glibc serve every allocation below ``limit`` bytes from its heap and never give
    the heap back (mallopt M_MMAP_THRESHOLD / M_TRIM_THRESHOLD): a result array freed by one
    call is reused by the next, whatever happened in between.  Under glibc's defaults a
    multi-megabyte array is sometimes a fresh mmap whose pages fault in on first touch
    (about a page per microsecond in a VM) and sometimes reused heap, depending on the
    allocations before it: PyTorch's conv_transpose2d of RESULTS.md took 6.4 ms in a loop
    of its own and 3.6 ms with this setting.  Returns a short description, or None where
    mallopt is not available (not glibc)."""
    import ctypes
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    if mallopt(M_MMAP_THRESHOLD, int(limit)) != 1 or mallopt(M_TRIM_THRESHOLD, int(limit)) != 1:
        return None
    return f"glibc heap for allocations < {limit >> 20} MiB, never trimmed (mallopt)"


# ----------------------------------------------------------------------------
# Calibration
# ----------------------------------------------------------------------------

_BW_BYTES = 256 * 2**20       # each array
_TRIAD_BLOCK = 1 << 15        # elements per blocked-triad step (128 KiB temp, stays in L2)


def _split(n, parts):
    step = -(-n // parts)
    return [(i, min(i + step, n)) for i in range(0, n, step)]


def _copy_chunk(a, b, lo, hi):
    # blocked so every copy uses the same (cached-store) memcpy path: glibc switches to
    # non-temporal stores for some large sizes only, which made 1-thread and T-thread
    # copies (different chunk sizes) incomparable
    for i in range(lo, hi, _TRIAD_BLOCK):
        j = min(i + _TRIAD_BLOCK, hi)
        np.copyto(a[i:j], b[i:j])


def _triad_chunk(a, b, c, s, lo, hi):
    # a = b + s*c, blocked so the temporary stays in cache: DRAM sees read b, c, write a
    tmp = np.empty(_TRIAD_BLOCK, dtype=a.dtype)
    for i in range(lo, hi, _TRIAD_BLOCK):
        j = min(i + _TRIAD_BLOCK, hi)
        t = tmp[: j - i]
        np.multiply(c[i:j], s, out=t)
        np.add(b[i:j], t, out=a[i:j])


def _best_time(fn, reps):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bandwidth(T: int, reps: int = 5, arrays=None):
    """STREAM-style copy and triad on 256 MiB float32 arrays with T Python threads
    (numpy releases the GIL in the loops). STREAM byte counting: copy 2 arrays,
    triad 3 arrays, write-allocate traffic not counted."""
    n = _BW_BYTES // 4
    a, b, c = arrays if arrays is not None else (np.ones(n, np.float32), np.ones(n, np.float32), np.ones(n, np.float32))
    chunks = _split(n, T)
    s = np.float32(3.0)
    if T == 1:
        copy = lambda: _copy_chunk(a, b, 0, n)  # noqa: E731
        triad = lambda: _triad_chunk(a, b, c, s, 0, n)  # noqa: E731
        pool = None
    else:
        pool = ThreadPoolExecutor(max_workers=T)

        def copy():
            list(pool.map(lambda lh: _copy_chunk(a, b, *lh), chunks))

        def triad():
            list(pool.map(lambda lh: _triad_chunk(a, b, c, s, *lh), chunks))
    try:
        copy(); triad()  # warm-up (page faults, thread start)
        tc = _best_time(copy, reps)
        tt = _best_time(triad, reps)
    finally:
        if pool is not None:
            pool.shutdown()
    return {"copy_GBps": 2 * n * 4 / tc / 1e9, "triad_GBps": 3 * n * 4 / tt / 1e9}


def gemm_rate(T: int, n: int = 2048, reps: int = 3):
    """float32 n x n x n matmul at T threads with torch (MKL/oneDNN) and numpy (BLAS):
    GFLOP/s = 2 n^3 / best time. A practical FP32 FMA-throughput estimate ('GEMM rate')."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n), dtype=np.float32)
    B = rng.standard_normal((n, n), dtype=np.float32)
    flops = 2.0 * n ** 3
    out = {}
    torch = lib("torch")
    if torch is not None:
        old = torch.get_num_threads()
        torch.set_num_threads(T)
        try:
            At, Bt = torch.from_numpy(A), torch.from_numpy(B)
            torch.mm(At, Bt)
            out["torch"] = flops / _best_time(lambda: torch.mm(At, Bt), reps) / 1e9
        finally:
            torch.set_num_threads(old)
    tpc = lib("threadpoolctl")
    ctx = tpc.threadpool_limits(limits=T, user_api="blas") if tpc is not None else contextlib.nullcontext()
    with ctx:
        A @ B
        out["numpy"] = flops / _best_time(lambda: A @ B, reps) / 1e9
    out["gemm_rate_GFLOPs"] = max(v for k, v in out.items())
    out["gemm_rate_by"] = max((v, k) for k, v in out.items() if k != "gemm_rate_GFLOPs")[1]
    return out


def calibrate(threads, quick=False, log=print):
    """Calibrate at every T in ``threads`` (always including 1 and all usable cores)."""
    Ts = sorted(set([1, usable_cores()] + list(threads)))
    reps = 2 if quick else 5
    res = {"array_MiB": _BW_BYTES // 2**20, "gemm_n": 2048, "per_threads": {}}
    n = _BW_BYTES // 4
    arrays = (np.ones(n, np.float32), np.full(n, 2.0, np.float32), np.full(n, 0.5, np.float32))
    try:
        for T in Ts:
            log(f"  calibrating at {T} thread(s) ...")
            mon = CpuMonitor()
            r = bandwidth(T, reps=reps, arrays=arrays)
            r.update(gemm_rate(T, reps=2 if quick else 3))
            r["noise"] = mon.stop()
            res["per_threads"][str(T)] = r
    finally:
        del arrays
    return res


def calibration_markdown(cal) -> str:
    lines = [
        f"Calibration (STREAM-style on {cal['array_MiB']} MiB float32 arrays, best of N; "
        f"'GEMM rate' = float32 {cal['gemm_n']}^3 matmul, an FP32 FMA-throughput estimate, not the theoretical peak):",
        "",
        "| threads | copy GB/s | triad GB/s | GEMM rate GFLOP/s | (torch / numpy) | other processes (cores) |",
        "|---:|---:|---:|---:|---|---:|",
    ]
    for T, r in cal["per_threads"].items():
        parts = " / ".join(f"{r[k]:.0f}" if k in r else "-" for k in ("torch", "numpy"))
        nz = r.get("noise")
        nzs = f"{nz['foreign_cores']:.2f}" if nz else "-"
        lines.append(f"| {T} | {r['copy_GBps']:.1f} | {r['triad_GBps']:.1f} | "
                     f"{r['gemm_rate_GFLOPs']:.0f} | {parts} | {nzs} |")
    return "\n".join(lines)
