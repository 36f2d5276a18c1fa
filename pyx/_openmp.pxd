# OpenMP shim: every omp_* call in pyconv goes through here.  Without OpenMP the functions
# become serial stand-ins, so the same sources build either way (prange itself is a pragma
# that a compiler without OpenMP ignores).
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define PYCONV_OPENMP 1
    #define PYCONV_OPENMP_VERSION _OPENMP
    #else
    #define PYCONV_OPENMP 0
    #define PYCONV_OPENMP_VERSION 0
    static int omp_get_max_threads(void) { return 1; }
    static int omp_get_thread_num(void) { return 0; }
    static void omp_set_num_threads(int n) { (void)n; }
    #endif
    """
    int PYCONV_OPENMP
    int PYCONV_OPENMP_VERSION
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    void omp_set_num_threads(int n) noexcept nogil
