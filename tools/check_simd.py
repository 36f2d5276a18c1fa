"""Report which loops of pyx/_kernels.pxi the compiler vectorised, in each kernel build.

Run after a build (it reads the C files that setup.py's cythonize step leaves in
build/cython/pyx/):

    python setup.py build_ext --inplace && python tools/check_simd.py

Each kernel module is recompiled with GCC's -fopt-info-vec-optimized; every "loop vectorized"
line is mapped back to the .pxi line through the source comments Cython writes into the C.
Exits 1 if a loop listed in MUST_VECTORISE (the tap loops) is not vectorised.
"""
import ast
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_constants():
    """The SIMD flags and macros setup.py gives the kernel modules (its module-level
    constants, read without running setup.py)."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    return {t.id: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign) for t in node.targets
            if isinstance(t, ast.Name) and t.id.startswith(("AVX2_", "AVX512_"))}


_C = _setup_constants()
BUILDS = {"_kernels_avx512": _C["AVX512_FLAGS"] + _C["AVX512_SCHED_FLAGS"]
          + ["-D%s=%s" % m for m in _C["AVX512_MACROS"]],
          "_kernels_avx2": _C["AVX2_FLAGS"], "_kernels_base": []}
# functions whose inner loops carry the work: each must have vectorised loops
MUST_VECTORISE = ("_taps_upto4", "_taps8")


def pxi_map(c_file):
    """C line number -> (pxi line, enclosing pxi function)."""
    src = Path(ROOT / "pyx" / "_kernels.pxi").read_text().splitlines()
    func_of = {}
    current = None
    for i, line in enumerate(src, 1):
        m = re.match(r"\s*(?:cdef inline \w+|def|cdef) (\w+)\(", line)
        if m:
            current = m.group(1)
        func_of[i] = current
    mapping = {}
    last = None
    for n, line in enumerate(Path(c_file).read_text().splitlines(), 1):
        m = re.search(r'/\* "(?:pyx/)?_kernels.pxi":(\d+)', line)
        if m:
            last = int(m.group(1))
        mapping[n] = (last, func_of.get(last))
    return mapping


def main():
    inc = sysconfig.get_paths()["include"]
    missing = []
    for mod, flags in BUILDS.items():
        c_file = ROOT / "build" / "cython" / "pyx" / (mod + ".c")
        if not c_file.exists():
            sys.exit("%s not found: build first (python setup.py build_ext --inplace)" % c_file)
        res = subprocess.run(["gcc", "-O3", "-fopenmp", "-fPIC", "-I" + inc] + flags +
                             ["-c", str(c_file), "-o", "/dev/null",
                              "-fopt-info-vec-optimized"], capture_output=True, text=True)
        mapping = pxi_map(c_file)
        found = {}
        for line in res.stderr.splitlines():
            m = re.match(r".*\.c:(\d+):\d+: optimized: loop vectorized using (\d+) byte", line)
            if m:
                pxi_line, func = mapping.get(int(m.group(1)), (None, None))
                if pxi_line:
                    found.setdefault(func, set()).add((pxi_line, int(m.group(2))))
        print("%s (%s):" % (mod, " ".join(flags) or "baseline"))
        for func in sorted(found, key=str):
            lines = sorted(found[func])
            print("  %-18s %s" % (func, ", ".join("line %d (%d-byte)" % lv for lv in lines)))
        missing += ["%s:%s" % (mod, f) for f in MUST_VECTORISE if f not in found]
    if missing:
        print("NOT vectorised:", ", ".join(missing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
