"""Markdown / JSON / plot output for benchmarks/run.py."""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np

import bench_machine as bm


def json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def header_markdown(machine, la, warnings, idle=None) -> str:
    v = machine["versions"]
    vers = ", ".join(f"{k} {v[k]}" if v.get(k) else f"{k} (missing)" for k in
                     ("numpy", "scipy", "cv2", "torch", "skimage", "threadpoolctl", "pyconv"))
    lines = [
        "# pyconv side-by-side benchmark",
        "",
        f"- date: {machine['date']}  host: {machine['host']}",
        f"- CPU: {machine['cpu_model']} ({machine['cpu_family_model']}; {' '.join(machine['simd'])}); "
        f"{machine['usable_cores']} usable cores of {machine['logical_cpus']} logical; {machine['mem_gib']} GiB RAM",
        f"- {machine['os']}, Python {machine['python']}",
        f"- versions: {vers}",
        f"- /proc/loadavg at start: {la}"
        + (f"; CPU used by other processes in the second before: {idle['foreign_cores']:.2f} cores"
           f" (steal {idle['steal_cores']:.2f})" if idle else ""),
    ]
    if machine.get("allocator"):
        lines.append(f"- allocator: {machine['allocator']}")
    if machine.get("env"):
        lines.append("- env: " + " ".join(f"{k}={val}" for k, val in machine["env"].items()))
    if machine.get("pyconv_file") and machine["versions"].get("pyconv"):
        lines.append(f"- pyconv from {machine['pyconv_file']}")
    cfg = (machine.get("pyconv_show_config") or "").strip()
    if cfg:
        cfg_lines = [ln for ln in cfg.splitlines() if ln.strip()]
        more = f"\n... ({len(cfg_lines) - 15} more lines in results.json)" if len(cfg_lines) > 15 else ""
        lines += ["", "pyconv.show_config():", "```", "\n".join(cfg_lines[:15]) + more, "```"]
    for w in warnings:
        lines.append(f"- **WARNING**: {w}")
    return "\n".join(lines)


def _fmt_ms(s):
    ms = s * 1e3
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3g}"


def _fmt_rate(x):
    if x is None:
        return "-"
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def fmt_ratio(e):
    r = e.get("ratio")
    if r is None:
        return "n/a (no peer)"
    if e["is_pyconv"]:
        s = 1.0 / r
        if 0.97 <= s <= 1.03:
            return f"**{s:.2f}x** (par)"
        return f"**{s:.2f}x faster**" if s > 1.0 else f"**{s:.2f}x** (slower)"
    return "1.00 (fastest)" if e["contender"] == e.get("fastest_peer") else f"{r:.2f}"


def _cal_for(doc, T):
    cal = doc.get("calibration")
    if not cal:
        return None
    return cal["per_threads"].get(str(T))


def results_markdown(doc) -> str:
    out = [header_markdown(doc["machine"], doc["loadavg_start"], doc["warnings"], doc.get("idle_probe")), ""]
    if doc.get("calibration"):
        out += [bm.calibration_markdown(doc["calibration"]), ""]

    out += ["## Workloads", ""]
    for w in doc["workloads"]:
        out.append(f"- `{w['name']}`: {w['description']} "
                   f"({w['flops'] / 1e9:.3g} GFLOP direct-method, {w['bytes'] / 1e6:.3g} MB compulsory traffic)")
    if doc.get("not_run"):
        out.append(f"- not run (pyconv does not expose them yet; --all runs the peers): {', '.join(doc['not_run'])}")
    out.append("")

    by_T = OrderedDict()
    for r in doc["results"]:
        by_T.setdefault(r["threads"], []).append(r)

    # summary: pyconv speed-up (or the fastest peer) per workload per T
    Ts = list(by_T)
    out += ["## Summary: pyconv vs the fastest peer", "",
            "(noisy) = other processes used > 0.25 cores while that block ran: re-run it.", "",
            "| workload | " + " | ".join(f"T={T}: fastest peer | pyconv" for T in Ts) + " |",
            "|---|" + "---|---|" * len(Ts)]
    names = OrderedDict((r["workload"], None) for r in doc["results"])
    for name in names:
        cells = []
        for T in Ts:
            r = next((x for x in by_T[T] if x["workload"] == name), None)
            ok = [e for e in (r["contenders"] if r else []) if e.get("status") == "ok"]
            peers = [e for e in ok if not e["is_pyconv"]]
            pc = next((e for e in r["contenders"] if e["is_pyconv"]), None) if r else None
            if peers:
                f = min(peers, key=lambda e: e["median_s"])
                cells.append(f"{f['contender']} {_fmt_ms(f['median_s'])} ms")
            else:
                cells.append("-")
            nz = (r or {}).get("noise") or {}
            noisy = " (noisy)" if nz.get("foreign_cores", 0) + nz.get("steal_cores", 0) > 0.25 else ""
            if pc is None:
                cells.append("-" + noisy)
            elif pc.get("status") == "ok":
                cells.append(fmt_ratio(pc) + noisy)
            else:
                cells.append(pc.get("status", "?"))
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out.append("")

    notes_seen = OrderedDict()
    for T, rows in by_T.items():
        cal = _cal_for(doc, T)
        out += [f"## {T} thread{'s' if T > 1 else ''}", ""]
        hdr = "| workload | contender | threads | median ms | min ms | GFLOP/s | GB/s |"
        sep = "|---|---|---:|---:|---:|---:|---:|"
        if cal:
            hdr += " % GEMM rate | % triad BW |"
            sep += "---:|---:|"
        hdr += " time / fastest peer |"
        sep += "---|"
        out += [hdr, sep]
        skipped = OrderedDict()
        for r in rows:
            for e in r["contenders"]:
                st = e.get("status")
                if st == "skipped":
                    skipped.setdefault(f"{e['contender']}: {e.get('message', '')}", []).append(r["workload"])
                    continue
                if e.get("note"):
                    notes_seen[e["note"]] = None
                if st == "ok":
                    cells = [_fmt_ms(e["median_s"]), _fmt_ms(e["min_s"]), _fmt_rate(e["gflops"]), _fmt_rate(e["gbps"])]
                    if cal:
                        cells += [f"{100 * e['gflops'] / cal['gemm_rate_GFLOPs']:.0f}%",
                                  f"{100 * e['gbps'] / cal['triad_GBps']:.0f}%"]
                    dt = e.get("out_dtype")
                    cells.append(fmt_ratio(e) + (f" [out {dt}]" if dt and dt != "float32" else ""))
                else:
                    msg = e.get("message", "")
                    cells = [f"**{st}**", "-", "-", "-"] + (["-", "-"] if cal else []) + [msg]
                name = f"**{e['contender']}**" if e["is_pyconv"] else e["contender"]
                out.append(f"| {r['workload']} | {name} | {e['threads']} | " + " | ".join(cells) + " |")
        out.append("")
        for why, wls in skipped.items():
            out.append(f"- skipped {why} ({len(wls)} workload{'s' if len(wls) > 1 else ''})")
        la = [r["loadavg_after"] for r in rows if r.get("loadavg_after")]
        if la:
            out.append(f"- /proc/loadavg during this block: 1-min {min(x[0] for x in la):.2f}..{max(x[0] for x in la):.2f}")
        nz = [(r["workload"], r["noise"]) for r in rows if r.get("noise")]
        if nz:
            worst = max(nz, key=lambda x: x[1]["foreign_cores"])
            out.append(f"- CPU used by other processes: max {worst[1]['foreign_cores']:.2f} cores ({worst[0]}); "
                       f"steal max {max(x[1]['steal_cores'] for x in nz):.2f} cores")
        out.append("")

    out += ["## Notes", "",
            "- time = median over interleaved rounds (A B C A B C ...) after a checked warm-up; "
            "tiny calls are timed in batches, per-call time shown.",
            "- time / fastest peer: contender median / fastest correct non-pyconv median at the same T "
            "(1.00 = fastest peer); for pyconv the inverse, i.e. its speed-up over the fastest peer.",
            "- GFLOP/s counts direct-method FLOPs (2 per multiply-add, separable filters counted separably); "
            "FFT-based contenders therefore show an *effective* rate. GB/s = compulsory traffic "
            "(input + output + weights) / time.",
            "- correctness gate: max |out - float64 reference| <= 1e-4 * max|ref| * sqrt(taps); "
            "failing contenders are WRONG and not timed.",
            "- scipy.ndimage, scipy.signal and skimage are single-threaded ('1 (serial)'); everything runs "
            "inside threadpoolctl.threadpool_limits(T).",
            ]
    for n in notes_seen:
        out.append(f"- {n}")
    return "\n".join(out) + "\n"


def plot(doc, path) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as exc:
        return f"--plot skipped: matplotlib not available ({type(exc).__name__})"
    by_T = OrderedDict()
    for r in doc["results"]:
        by_T.setdefault(r["threads"], []).append(r)
    nT = len(by_T)
    nW = max(len(v) for v in by_T.values())
    fig, axes = plt.subplots(nT, 1, figsize=(max(9, 1.3 * nW + 5), 3.8 * nT), squeeze=False)
    palette = [plt.get_cmap("tab10")(i) for i in (0, 1, 2, 4, 5, 6, 7, 8, 9)]  # no red: red is pyconv
    colors = {}
    for ax, (T, rows) in zip(axes[:, 0], by_T.items()):
        labels = []
        for i, r in enumerate(rows):
            ok = [e for e in r["contenders"] if e.get("status") == "ok" and e.get("ratio")]
            labels.append(r["workload"])
            width = 0.8 / max(len(ok), 1)
            for j, e in enumerate(ok):
                c = e["contender"]
                if c not in colors:
                    npeer = sum(1 for k in colors if k != "pyconv")
                    colors[c] = "crimson" if e["is_pyconv"] else palette[npeer % len(palette)]
                xb, yb = i - 0.4 + width * (j + 0.5), 1.0 / e["ratio"]
                ax.bar(xb, yb, width, color=colors[c],
                       label=c if c not in ax.get_legend_handles_labels()[1] else None,
                       edgecolor="black" if e["is_pyconv"] else None)
                if e["is_pyconv"]:
                    ax.annotate(f"{yb:.2g}x", (xb, yb), ha="center", va="bottom", fontsize=7)
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel("speed-up vs fastest peer")
        ax.set_title(f"{T} thread{'s' if T > 1 else ''}")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"pyconv benchmark {doc['machine']['date']} ({doc['machine']['cpu_model']})", fontsize=9)
    fig.tight_layout()
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"wrote plot {path}"
