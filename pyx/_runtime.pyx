"""Build and run-time facts of the compiled extension, and boundary index tables.

Nothing here is performance critical; the kernels live in _kernels_base / _kernels_avx2.
"""
from _openmp cimport PYCONV_OPENMP, PYCONV_OPENMP_VERSION, omp_get_max_threads
from _boundary cimport (MODE_REFLECT, MODE_MIRROR, MODE_NEAREST, MODE_WRAP, MODE_CONSTANT,
                        fill_index_table, map_index)

cdef extern from *:
    """
    #if defined(__clang__)
    #define PYCONV_COMPILER "clang " __clang_version__
    #elif defined(__GNUC__)
    #define PYCONV_COMPILER "gcc " __VERSION__
    #elif defined(_MSC_VER)
    #define PYCONV_COMPILER "msvc"
    #else
    #define PYCONV_COMPILER "unknown"
    #endif
    #if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    static int pyconv_cpu_has_avx2_fma(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    static int pyconv_cpu_has_avx512(void) {
        __builtin_cpu_init();
        return pyconv_cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl");
    }
    #else
    static int pyconv_cpu_has_avx2_fma(void) { return 0; }
    static int pyconv_cpu_has_avx512(void) { return 0; }
    #endif
    """
    const char* PYCONV_COMPILER
    int pyconv_cpu_has_avx2_fma() noexcept nogil
    int pyconv_cpu_has_avx512() noexcept nogil

MODES = {
    "reflect": MODE_REFLECT,
    "mirror": MODE_MIRROR,
    "nearest": MODE_NEAREST,
    "wrap": MODE_WRAP,
    "constant": MODE_CONSTANT,
}


def openmp_enabled():
    """True if the extension was compiled with OpenMP."""
    return bool(PYCONV_OPENMP)


def openmp_version():
    """The _OPENMP date macro the extension was compiled with (0 without OpenMP)."""
    return int(PYCONV_OPENMP_VERSION)


def max_threads():
    """omp_get_max_threads() of the calling thread (OMP_NUM_THREADS, threadpoolctl)."""
    return int(omp_get_max_threads())


def compiler():
    """Compiler name and version the extension was built with."""
    return PYCONV_COMPILER.decode("utf-8", "replace")


def cpu_has_avx2_fma():
    """True if this CPU reports both AVX2 and FMA."""
    return bool(pyconv_cpu_has_avx2_fma())


def cpu_has_avx512():
    """True if this CPU reports AVX-512 F, DQ, BW and VL (the operating system saving their
    registers) besides AVX2 and FMA: what pyconv._kernels_avx512 is compiled for."""
    return bool(pyconv_cpu_has_avx512())


def index_table(Py_ssize_t[::1] table, Py_ssize_t start, Py_ssize_t n, int mode):
    """Fill table[i] with the input index that padded position start+i reads (-1: cval)."""
    fill_index_table(&table[0], table.shape[0], start, n, mode)


def map_positions(const Py_ssize_t[::1] pos, Py_ssize_t[::1] out, Py_ssize_t n, int mode):
    """out[i] = the input index that padded position pos[i] reads (-1: cval)."""
    cdef Py_ssize_t i
    for i in range(pos.shape[0]):
        out[i] = map_index(pos[i], n, mode)


def map_one(Py_ssize_t j, Py_ssize_t n, int mode):
    """map_index for a single position (test hook)."""
    return map_index(j, n, mode)
