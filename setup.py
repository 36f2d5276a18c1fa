"""Build script: cythonize pyx/*.pyx into extension modules of the pyconv package.

Metadata lives in pyproject.toml; this file only decides how the extensions are compiled.

* OpenMP is probed with the compiler that builds the extensions: a small program is compiled,
  linked and run, and must report one line per thread.  ``PYCONV_USE_OPENMP`` selects the policy:
  ``auto`` (default: use it when the probe passes, otherwise warn once and build serial), ``1``
  (fail the build when the probe fails), ``0`` (do not probe, build serial).
* SIMD: the kernels are compiled three times, once for the baseline of the target and, on x86-64
  with a GCC-compatible compiler, with ``-mavx2 -mfma`` (``pyconv._kernels_avx2``) and with
  AVX-512 F/DQ/BW/VL, 512-bit vectors and a micro-tile four times as large
  (``pyconv._kernels_avx512``).  ``pyconv._kernels`` picks one at import from what the CPU
  reports, so the build stays portable.  ``PYCONV_NO_AVX2=1`` / ``PYCONV_NO_AVX512=1`` skip one.
* ``-O3`` and never ``-ffast-math``.  ``PYCONV_DEBUG=1`` turns Cython's bounds and
  initialisation checks on and compiles with ``-O0 -g``.
"""
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings

from setuptools import Extension, setup
from Cython.Build import cythonize
from Cython.Distutils import build_ext as cython_build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
DEBUG = os.environ.get("PYCONV_DEBUG", "0") not in ("", "0")
SANITIZE = os.environ.get("PYCONV_SANITIZE", "")  # e.g. "address,undefined"

OPENMP_PROBE = textwrap.dedent(
    r"""
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        #pragma omp parallel num_threads(2)
        printf("nthreads=%d\n", omp_get_num_threads());
        return 0;
    }
    """
)


#: the AVX2 module's instruction set (see pyconv._runtime.cpu_has_avx2_fma)
AVX2_FLAGS = ["-mavx2", "-mfma"]
#: the AVX-512 module's instruction set: what the CPU must report for it (see
#: pyconv._runtime.cpu_has_avx512), and 512-bit vectors preferred over GCC's default of 256
AVX512_FLAGS = ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma",
                "-mprefer-vector-width=512"]
#: and its micro-tiles (pyx/_conv.pxi): 6 output channels x 256 bytes of lanes, and the
#: channel-vector tile (32 output channels x 12 float32 lanes) used by the planner
AVX512_MACROS = [("PYCONV_CONV_VEC_BYTES", "256"), ("PYCONV_CONV_MR", "6"),
                 ("PYCONV_CONV_MC_ON", "1")]


#: without them GCC folds each input load of the convolution micro-kernel into the fused
#: multiply-adds that use it: three 512-bit loads instead of one, which made the AVX-512
#: module's layer kernel load-bound (92 instead of ~140 GFLOP/s); scheduling with register
#: pressure in view keeps one load per vector
AVX512_SCHED_FLAGS = ["-fschedule-insns", "-fsched-pressure"]


def _is_x86_64():
    return platform.machine().lower() in ("x86_64", "amd64")


def _openmp_flags(compiler_type):
    """Compile and link flags that switch OpenMP on for this compiler."""
    if compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        # Apple clang: OpenMP needs libomp from the user (brew/conda), passed through the env.
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


def _probe_openmp(compiler, cflags, lflags):
    """Compile, link and run a parallel program; True if it ran with 2 threads."""
    tmp = tempfile.mkdtemp(prefix="pyconv-omp-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as fh:
            fh.write(OPENMP_PROBE)
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
        exe = os.path.join(tmp, "probe")
        compiler.link_executable(objs, exe, extra_postargs=lflags)
        out = subprocess.run([exe], capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, OMP_NUM_THREADS="2"))
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("nthreads=")]
        return out.returncode == 0 and len(lines) == 2
    except Exception:  # compile, link or run failed: no usable OpenMP
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _accepts_flag(compiler, flag):
    """True if the compiler compiles a trivial file with ``flag`` and -Werror."""
    tmp = tempfile.mkdtemp(prefix="pyconv-flag-")
    try:
        src = os.path.join(tmp, "flag.c")
        with open(src, "w") as fh:
            fh.write("int pyconv_flag_probe(void) { return 0; }\n")
        compiler.compile([src], output_dir=tmp, extra_postargs=[flag, "-Werror"])
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class build_ext(cython_build_ext):
    """Adds OpenMP (probed) and optimisation flags to every extension."""

    def build_extensions(self):
        policy = os.environ.get("PYCONV_USE_OPENMP", "auto").strip().lower()
        if policy not in ("auto", "0", "1"):
            raise SystemExit("PYCONV_USE_OPENMP must be auto, 0 or 1, not %r" % policy)
        ctype = self.compiler.compiler_type
        cflags, lflags = _openmp_flags(ctype)
        use_omp = False
        if policy != "0":
            use_omp = _probe_openmp(self.compiler, cflags, lflags)
            if not use_omp:
                if policy == "1":
                    raise SystemExit("PYCONV_USE_OPENMP=1 but the OpenMP probe failed "
                                     "(compile, link or run of a '#pragma omp parallel' program)")
                warnings.warn("pyconv: OpenMP not available with this compiler; building "
                              "serial kernels (set PYCONV_USE_OPENMP=1 to make this an error)")
        if ctype == "msvc":
            opt = ["/Od", "/Zi"] if DEBUG else ["/O2"]
        else:
            opt = ["-O0", "-g"] if DEBUG else ["-O3"]
            opt += ["-fno-math-errno", "-Wno-unreachable-code"]
            # GCC's unroll-and-jam turns the convolution micro-kernel's tap loop into scalar
            # code (measured: 7 instead of ~80 GFLOP/s); the vectorised loop needs it off
            if _accepts_flag(self.compiler, "-fno-loop-unroll-and-jam"):
                opt += ["-fno-loop-unroll-and-jam"]
            if SANITIZE:
                opt += ["-fsanitize=" + SANITIZE, "-fno-omit-frame-pointer"]
        # a SIMD module whose instruction-set flags this compiler refuses is left out (the
        # package then runs on the modules it has), not a failed build
        for ext in list(self.extensions):
            if ext.name.endswith(("_avx2", "_avx512")) and ctype != "msvc" and not all(
                    _accepts_flag(self.compiler, f) for f in ext.extra_compile_args):
                warnings.warn("pyconv: the compiler refuses %s; building without %s"
                              % (" ".join(ext.extra_compile_args), ext.name))
                self.extensions.remove(ext)
        for ext in self.extensions:
            extra_c = list(opt) + ext.extra_compile_args
            if ext.name.endswith("_avx512") and ctype != "msvc" and not DEBUG:
                extra_c += [f for f in AVX512_SCHED_FLAGS if _accepts_flag(self.compiler, f)]
            extra_l = list(ext.extra_link_args)
            if SANITIZE and ctype != "msvc":
                extra_l += ["-fsanitize=" + SANITIZE]
            if use_omp:
                extra_c += cflags
                extra_l += lflags
            ext.extra_compile_args = extra_c
            ext.extra_link_args = extra_l
        print("pyconv build: compiler=%s openmp=%s flags=%s avx2-module=%s avx512-module=%s "
              "debug=%s"
              % (ctype, "yes" if use_omp else "no", " ".join(opt + (cflags if use_omp else [])),
                 "yes" if any(e.name.endswith("_avx2") for e in self.extensions) else "no",
                 "yes" if any(e.name.endswith("_avx512") for e in self.extensions) else "no",
                 "yes" if DEBUG else "no"))
        super().build_extensions()


def extensions():
    gnu_like = not sys.platform.startswith("win")
    # the kernel modules include C headers of pyx/ (_simd_rows.h): an edit of one rebuilds
    # them (Cython tracks the .pxi includes, not a header its C code includes)
    inc = ["pyx"]
    hdr = sorted(glob.glob(os.path.join("pyx", "*.h")))
    exts = [
        Extension("pyconv._runtime", ["pyx/_runtime.pyx"]),
        Extension("pyconv._kernels_base", ["pyx/_kernels_base.pyx"], include_dirs=inc,
                  depends=hdr),
    ]
    if _is_x86_64() and gnu_like and os.environ.get("PYCONV_NO_AVX2", "0") in ("", "0"):
        exts.append(Extension("pyconv._kernels_avx2", ["pyx/_kernels_avx2.pyx"],
                              extra_compile_args=AVX2_FLAGS, include_dirs=inc, depends=hdr))
    if _is_x86_64() and gnu_like and os.environ.get("PYCONV_NO_AVX512", "0") in ("", "0"):
        exts.append(Extension("pyconv._kernels_avx512", ["pyx/_kernels_avx512.pyx"],
                              extra_compile_args=AVX512_FLAGS, define_macros=AVX512_MACROS,
                              include_dirs=inc, depends=hdr))
    directives = {
        "language_level": "3",
        "boundscheck": DEBUG,
        "wraparound": False,
        "initializedcheck": DEBUG,
        "nonecheck": False,
        "cdivision": True,
        "embedsignature": True,
        "freethreading_compatible": True,
    }
    return cythonize(exts, compiler_directives=directives, include_path=["pyx"],
                     build_dir=os.path.join("build", "cython-debug" if DEBUG else "cython"))


setup(ext_modules=extensions(), cmdclass={"build_ext": build_ext})
