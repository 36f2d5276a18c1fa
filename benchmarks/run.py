#!/usr/bin/env python
"""Side-by-side benchmark runner: pyconv against scipy, scikit-image, OpenCV, PyTorch.

    python benchmarks/run.py [--threads 1,2] [--quick] [--only NAME...] [--repeat K]
                             [--out-dir DIR] [--plot FILE.png] [--calibrate] [--list]
    python benchmarks/run.py --memory [--threads T] [--only NAME...]

For every thread count T and every workload (benchmarks/bench_workloads.py):
  1. every contender is set to T threads (pyconv num_threads=T, cv2.setNumThreads,
     torch.set_num_threads, scipy.fft workers; scipy.ndimage / skimage are serial),
     all inside threadpoolctl.threadpool_limits(T);
  2. warm-up call, whose output is checked against a float64 reference
     (max abs err <= 1e-4 * max|ref| * sqrt(taps)); a failing contender is 'WRONG'
     and not timed;
  3. K interleaved rounds (A B C A B C ...); each sample times enough back-to-back
     calls to last >= ~20 ms (tiny workloads), per-call median and min are kept;
  4. ratio to the fastest correct non-pyconv peer at the same T.
With --malloc steady (the default) glibc keeps its heap, so every contender's result array
reuses freed memory instead of fresh pages (see bench_machine.steady_malloc).
Speed is judged only as such ratios (DESIGN.md, "How speed is judged").

--memory measures memory instead of time: every contender of every selected workload runs
in a fresh process (inputs built, one warm-up call, the RSS high-water mark reset), and the
table gives the peak resident memory of one call above its level before the call, next to
the input and output sizes: "scratch" = peak - output is what the call needs beyond its
result (per-thread tiles, packed weights, copies of the input).
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import gc
import hashlib
import json
import math
import os
import statistics
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
# the in-place build of pyconv lives in the repository root
if _ROOT not in sys.path:
    sys.path.insert(1, _ROOT)

import numpy as np  # noqa: E402

import bench_machine as bm  # noqa: E402
import bench_report as br  # noqa: E402
import bench_workloads as bw  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------
# Threads
# ----------------------------------------------------------------------------

def threads_label(model: str, T: int) -> str:
    if model == "serial":
        return "1 (serial)"
    if model == "scipy.fft":
        return f"{T} (fft workers)"
    return str(T)


@contextlib.contextmanager
def thread_env(T: int):
    """Set every library to T threads for the duration of the block, then restore."""
    with contextlib.ExitStack() as stack:
        tpc = bw.lib("threadpoolctl")
        if tpc is not None:
            stack.enter_context(tpc.threadpool_limits(limits=T))
        cv2 = bw._LIBS.get("cv2")
        if cv2 is not None:
            old_cv = cv2.getNumThreads()
            cv2.setNumThreads(T)
            stack.callback(cv2.setNumThreads, old_cv)
        torch = bw._LIBS.get("torch")
        if torch is not None:
            old_t = torch.get_num_threads()
            torch.set_num_threads(T)
            stack.callback(torch.set_num_threads, old_t)
        scipy_fft = bw.lib("scipy.fft")
        if scipy_fft is not None and hasattr(scipy_fft, "set_workers"):
            stack.enter_context(scipy_fft.set_workers(T))
        yield


# ----------------------------------------------------------------------------
# Selection
# ----------------------------------------------------------------------------

def select_workloads(only, include_all):
    """Default: foundation workloads, plus later ones whose pyconv function exists.
    --only NAME (exact, prefix or glob) runs what it names, peers only if need be."""
    chosen, quiet_skips = [], []
    for w in bw.REGISTRY:
        if only:
            if any(w.name == p or w.name.startswith(p) or fnmatch.fnmatch(w.name, p) for p in only):
                chosen.append(w)
            continue
        if w.group == "foundation" or include_all:
            chosen.append(w)
        elif w.requires and bw.resolve(w.requires) is not None:
            chosen.append(w)
        else:
            quiet_skips.append(w.name)
    if only:
        unknown = [p for p in only if not any(
            w.name == p or w.name.startswith(p) or fnmatch.fnmatch(w.name, p) for w in bw.REGISTRY)]
        if unknown:
            raise SystemExit(f"unknown workload(s) {unknown}; use --list")
    return chosen, quiet_skips


# ----------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------

def digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha1(a.view(np.uint8).reshape(-1)).hexdigest()[:16] + f"/{a.dtype}"


def run_workload(w, inputs, ref, T, args, pyconv_digests):
    """Check and time every available contender of ``w`` at T threads. Returns a list of dicts."""
    entries = []
    for c in w.contenders:
        if args.contenders and not c.is_pyconv and not any(p in c.name for p in args.contenders):
            continue
        e = {"contender": c.name, "is_pyconv": c.is_pyconv, "threads": threads_label(c.threads, T),
             "threads_model": c.threads, "note": c.note}
        ok, why = c.available()
        if not ok:
            e.update(status="skipped", message=why)
            entries.append(e)
            continue
        try:
            fn = c.make(inputs, T)
            t0 = time.perf_counter()
            out = fn()
            t_warm = time.perf_counter() - t0
            arr = c.to_numpy(out)
        except Exception as exc:
            e.update(status="ERROR", message=f"{type(exc).__name__}: {exc}".splitlines()[0][:200])
            entries.append(e)
            continue
        good, err, tol, msg = bw.check(arr, ref, w.taps)
        e.update(max_abs_err=err, tol=tol, out_dtype=str(np.asarray(arr).dtype))
        if good and c.is_pyconv and np.asarray(arr).dtype != np.float32:
            good, msg = False, f"float32 in gave {np.asarray(arr).dtype} out (contract: float32)"
        if c.is_pyconv and good:
            d = digest(np.asarray(arr))
            pyconv_digests.setdefault(w.name, {})[str(T)] = d
        del out, arr
        if not good:
            e.update(status="WRONG", message=msg)
            entries.append(e)
            continue
        # per-call time estimate -> calls per sample and number of rounds
        t_est = t_warm
        if t_warm < 0.05:
            t0 = time.perf_counter()
            fn()
            t_est = time.perf_counter() - t0
        t_est = max(t_est, 1e-7)
        n = max(1, math.ceil(args.sample_s / t_est)) if t_est < args.sample_s else 1
        rounds = args.repeat
        if t_est * n * rounds > args.budget:
            rounds = max(min(3, args.repeat), int(args.budget // (t_est * n)))
        # short calls: one untimed call before each sample, so that the previous
        # contender's spinning thread pool (libgomp, cv2, MKL) has gone quiet and
        # this contender's own pool is awake, for every contender alike
        rewarm = args.rewarm and t_est < 0.05
        e.update(status="ok", fn=fn, calls_per_sample=n, rounds=rounds, rewarm=rewarm, times_s=[])
        entries.append(e)

    timed = [e for e in entries if e.get("status") == "ok"]
    gc.collect()
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for r in range(args.repeat):
            for e in timed:
                if r >= e["rounds"]:
                    continue
                fn, n = e["fn"], e["calls_per_sample"]
                if e["rewarm"]:
                    fn()
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                e["times_s"].append((time.perf_counter() - t0) / n)
    finally:
        if gc_was:
            gc.enable()

    for e in timed:
        del e["fn"]
        ts = e["times_s"]
        e["median_s"] = statistics.median(ts)
        e["min_s"] = min(ts)
        e["gflops"] = w.flops / e["median_s"] / 1e9
        e["gbps"] = w.nbytes / e["median_s"] / 1e9

    peers = [e for e in timed if not e["is_pyconv"]]
    fastest = min(peers, key=lambda e: e["median_s"]) if peers else None
    for e in timed:
        if fastest is None:
            e["ratio"] = None
            continue
        e["fastest_peer"] = fastest["contender"]
        # contender_time / fastest_peer_time  (pyconv: its inverse is the speed-up)
        e["ratio"] = e["median_s"] / fastest["median_s"]
    return entries


def wait_for_idle(max_s, threshold=0.25):
    """Wait (at most max_s seconds) until other processes use < threshold cores."""
    deadline = time.perf_counter() + max_s
    while True:
        mon = bm.CpuMonitor()
        time.sleep(0.5)
        nz = mon.stop()
        if nz is None or nz["foreign_cores"] + nz["steal_cores"] < threshold:
            return True
        if time.perf_counter() > deadline:
            log(f"  still busy after waiting {max_s:.0f} s ({nz['foreign_cores']:.2f} cores); going on")
            return False


def run_all(workloads, threads, args):
    results, pyconv_digests = [], {}
    for w in workloads:
        log(f"[{w.name}] building inputs and float64 reference ...")
        inputs = w.inputs()
        t0 = time.perf_counter()
        ref = w.reference(inputs)
        log(f"[{w.name}] reference in {time.perf_counter() - t0:.2f} s")
        for T in threads:
            if args.wait_idle > 0:
                wait_for_idle(args.wait_idle)
            with thread_env(T):
                mon = bm.CpuMonitor()
                t0 = time.perf_counter()
                entries = run_workload(w, inputs, ref, T, args, pyconv_digests)
                dt = time.perf_counter() - t0
                noise = mon.stop()
            results.append({"threads": T, "workload": w.name, "loadavg_after": bm.loadavg(),
                            "noise": noise, "wall_s": dt, "contenders": entries})
            summary = ", ".join(
                f"{e['contender']} {e['median_s'] * 1e3:.3g} ms" if e.get("status") == "ok"
                else f"{e['contender']} {e['status']}" for e in entries)
            busy = f", other processes {noise['foreign_cores']:.2f} cores" if noise else ""
            log(f"[{w.name}] T={T} ({dt:.1f} s{busy}): {summary}")
        del inputs, ref
    # determinism across thread counts (DESIGN: bitwise identical for any thread count)
    nondet = {k: v for k, v in pyconv_digests.items() if len(set(v.values())) > 1}
    return results, nondet


# ----------------------------------------------------------------------------
# Memory (--memory): peak RSS of one call, each contender in a fresh process
# ----------------------------------------------------------------------------

def _rss_now():
    import resource
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _rss_hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM")


def memory_child(name, contender, T):
    """Runs in its own process: one contender, one call; prints a JSON line."""
    for m in ("threadpoolctl", "cv2", "torch", "pyconv"):
        bw.lib(m)
    w = next(w for w in bw.REGISTRY if w.name == name)
    c = next(c for c in w.contenders if c.name == contender)
    inputs = w.inputs()
    in_bytes = sum(a.nbytes for a in inputs.values() if isinstance(a, np.ndarray))
    with thread_env(T):
        fn = c.make(inputs, T)
        out = fn()                       # warm-up: plans, thread pools, caches
        out_bytes = np.asarray(c.to_numpy(out)).nbytes
        del out
        gc.collect()
        with open("/proc/self/clear_refs", "w") as f:   # VmHWM := current RSS (Linux >= 4.0)
            f.write("5")
        rss0 = _rss_now()
        out = fn()
        peak = _rss_hwm() - rss0
        del out
    print(json.dumps({"workload": name, "contender": contender, "threads": T,
                      "input": in_bytes, "output": out_bytes, "peak": peak}))


def run_memory(workloads, threads, args):
    import subprocess
    rows = []
    for w in workloads:
        for T in threads:
            for c in w.contenders:
                if args.contenders and not c.is_pyconv and \
                        not any(p in c.name for p in args.contenders):
                    continue
                ok, why = c.available()
                if not ok:
                    continue
                r = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child",
                                    w.name, c.name, str(T)], capture_output=True, text=True)
                if r.returncode != 0:
                    log(f"[{w.name}] {c.name}: failed: {r.stderr.strip().splitlines()[-1:]}")
                    continue
                row = json.loads(r.stdout.strip().splitlines()[-1])
                rows.append(row)
                log(f"[{w.name}] T={T} {c.name}: peak {row['peak'] / 2**20:.1f} MB "
                    f"(output {row['output'] / 2**20:.1f} MB)")
    mb = lambda b: f"{b / 2**20:.1f}"
    lines = ["| workload | T | contender | input MB | output MB | peak RSS of a call MB | "
             "scratch (peak - output) MB |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['threads']} | {r['contender']} | {mb(r['input'])} "
                     f"| {mb(r['output'])} | {mb(r['peak'])} | {mb(r['peak'] - r['output'])} |")
    return "\n".join(lines), rows


# ----------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    default_T = "1" if bm.usable_cores() == 1 else f"1,{bm.usable_cores()}"
    ap.add_argument("--threads", default=default_T, help=f"comma-separated thread counts (default {default_T})")
    ap.add_argument("--quick", action="store_true", help="3 rounds, shorter samples, lighter calibration (~1 min)")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="workloads to run (exact name, prefix or glob)")
    ap.add_argument("--all", action="store_true",
                    help="also run workloads whose pyconv function does not exist yet (peers only)")
    ap.add_argument("--repeat", type=int, metavar="K", help="interleaved rounds (default 7, --quick 3)")
    ap.add_argument("--out-dir", default=os.path.join(_HERE, "out"), help="where results.md/json go (default benchmarks/out)")
    ap.add_argument("--plot", metavar="FILE.png", help="bar chart of speed-up vs fastest peer (needs matplotlib)")
    ap.add_argument("--calibrate", action="store_true", help="only run the machine calibration and exit")
    ap.add_argument("--no-calibrate", action="store_true", help="skip the calibration in the header")
    ap.add_argument("--sample-ms", type=float, help="min duration of one timed sample (default 20, --quick 10)")
    ap.add_argument("--budget", type=float, default=20.0,
                    help="seconds per contender per workload per thread count before rounds are cut (min 3)")
    ap.add_argument("--contenders", type=lambda s: [p for p in s.split(",") if p],
                    help="comma-separated substrings: keep only matching peers (pyconv always runs)")
    ap.add_argument("--no-rewarm", dest="rewarm", action="store_false",
                    help="do not make an untimed call before each sample of short (<50 ms) calls")
    ap.add_argument("--from-json", metavar="RESULTS.json",
                    help="do not run: re-render results.md (into --out-dir) and --plot from a saved results.json")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="S",
                    help="before each workload block wait up to S s for other processes to go quiet (default 0)")
    ap.add_argument("--malloc", choices=("steady", "os"), default="steady",
                    help="steady (default): glibc serves arrays below 1 GiB from a heap it keeps, so "
                         "every contender's result reuses memory instead of faulting in fresh pages on "
                         "some calls and not others; os: glibc's defaults")
    ap.add_argument("--list", action="store_true", help="list workloads and contenders, then exit")
    ap.add_argument("--memory", action="store_true",
                    help="measure the peak RSS of one call per contender (fresh processes) "
                         "instead of time")
    ap.add_argument("--memory-child", nargs=3, metavar=("WORKLOAD", "CONTENDER", "T"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        args.threads = sorted({int(t) for t in str(args.threads).split(",") if t.strip()})
    except ValueError:
        ap.error("--threads takes comma-separated integers, e.g. 1,2")
    if not args.threads or min(args.threads) < 1:
        ap.error("--threads must be >= 1")
    if args.repeat is None:
        args.repeat = 3 if args.quick else 7
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    args.sample_s = (args.sample_ms if args.sample_ms is not None else (10.0 if args.quick else 20.0)) / 1e3
    return args


def list_workloads():
    for w in bw.REGISTRY:
        req = f"  [needs {w.requires}]" if w.requires else ""
        print(f"{w.name}{req}\n    {w.description}")
        for c in w.contenders:
            ok, why = c.available()
            print(f"      - {c.name:32s} {'ok' if ok else 'skip: ' + why}")


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        list_workloads()
        return 0
    if args.memory_child:
        name, contender, T = args.memory_child
        memory_child(name, contender, int(T))
        return 0
    if args.memory:
        workloads, _ = select_workloads(args.only, args.all)
        md, rows = run_memory(workloads, args.threads, args)
        os.makedirs(args.out_dir, exist_ok=True)
        with open(os.path.join(args.out_dir, "memory.md"), "w") as f:
            f.write(md + "\n")
        with open(os.path.join(args.out_dir, "memory.json"), "w") as f:
            json.dump({"machine": bm.machine_info(), "rows": rows}, f, indent=1)
        print(md)
        return 0
    if args.from_json:
        with open(args.from_json) as f:
            doc = json.load(f)
        os.makedirs(args.out_dir, exist_ok=True)
        md = br.results_markdown(doc)
        with open(os.path.join(args.out_dir, "results.md"), "w") as f:
            f.write(md)
        print(md)
        if args.plot:
            log(br.plot(doc, args.plot))
        return 0

    malloc_mode = bm.steady_malloc() if args.malloc == "steady" else None
    log(f"allocator: {malloc_mode or 'glibc defaults (--malloc os, or not glibc)'}")
    la = bm.loadavg()
    mon = bm.CpuMonitor()
    time.sleep(1.0)
    idle = mon.stop()
    log(f"/proc/loadavg at start: {la}; other processes over 1 s: {idle}")
    warnings = []
    if la is not None and la[0] > 0.5:
        warnings.append(f"load average {la[0]:.2f} > 0.5 at start: the machine is busy, timings will be noisy")
        log("WARNING: " + warnings[-1])
    if idle and idle["foreign_cores"] + idle["steal_cores"] > 0.25:
        warnings.append(f"other processes used {idle['foreign_cores']:.2f} cores (steal {idle['steal_cores']:.2f}) "
                        "in the second before the run")
        log("WARNING: " + warnings[-1])
    cores = bm.usable_cores()
    if max(args.threads) > cores:
        warnings.append(f"asked for {max(args.threads)} threads on {cores} usable cores (oversubscribed)")
        log("WARNING: " + warnings[-1])

    # import peers up front so thread settings reach them (and their import cost is not timed)
    for m in ("threadpoolctl", "scipy.ndimage", "scipy.signal", "scipy.fft", "skimage.filters",
              "cv2", "torch", "pyconv"):
        bw.lib(m)
    for m in ("pyconv", "cv2", "torch", "skimage.filters", "threadpoolctl"):
        if bw.lib(m) is None:
            msg = f"{m} not importable: contenders skipped ({bw.lib_error(m)})"
            warnings.append(msg)
            log("note: " + msg)

    machine = bm.machine_info()
    machine["allocator"] = malloc_mode or "glibc defaults"
    os.makedirs(args.out_dir, exist_ok=True)

    cal = None
    if args.calibrate or not args.no_calibrate:
        log("calibrating (memory bandwidth, GEMM rate) ...")
        cal = bm.calibrate(args.threads, quick=args.quick, log=log)
    if args.calibrate:
        md = br.header_markdown(machine, la, warnings, idle) + "\n\n" + bm.calibration_markdown(cal) + "\n"
        print(md)
        with open(os.path.join(args.out_dir, "calibration.md"), "w") as f:
            f.write(md)
        with open(os.path.join(args.out_dir, "calibration.json"), "w") as f:
            json.dump({"machine": machine, "loadavg_start": la, "idle_probe": idle, "calibration": cal}, f, indent=1)
        return 0

    workloads, quiet_skips = select_workloads(args.only, args.all)
    t_start = time.perf_counter()
    results, nondet = run_all(workloads, args.threads, args)
    wall = time.perf_counter() - t_start
    la_end = bm.loadavg()
    busy = [f"{r['workload']} T={r['threads']} ({r['noise']['foreign_cores']:.2f})" for r in results
            if r.get("noise") and r["noise"]["foreign_cores"] + r["noise"]["steal_cores"] > 0.25]
    if busy:
        warnings.append("other processes used > 0.25 cores during: " + ", ".join(busy)
                        + " -- those ratios are suspect, re-run them with --only")
    for name, d in nondet.items():
        warnings.append(f"pyconv output of {name} differs across thread counts: {d}")

    doc = {
        "machine": machine, "loadavg_start": la, "idle_probe": idle, "loadavg_end": la_end, "calibration": cal,
        "args": {k: v for k, v in vars(args).items()}, "wall_s": wall,
        "workloads": [{"name": w.name, "description": w.description, "flops": w.flops, "bytes": w.nbytes,
                       "taps": w.taps, "group": w.group} for w in workloads],
        "not_run": quiet_skips, "warnings": warnings, "results": results,
    }
    md = br.results_markdown(doc)
    print(md)
    with open(os.path.join(args.out_dir, "results.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out_dir, "results.json"), "w") as f:
        json.dump(doc, f, indent=1, default=br.json_default)
    log(f"wrote {os.path.join(args.out_dir, 'results.md')} and results.json ({wall:.0f} s of benchmarks)")
    if args.plot:
        msg = br.plot(doc, args.plot)
        log(msg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
