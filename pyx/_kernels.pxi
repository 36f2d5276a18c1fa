# Correlation kernels.  Included by _kernels_base.pyx and _kernels_avx2.pyx, which compile the
# same code for two instruction sets.  Contract for every function here: the arguments were
# validated by pyconv (shapes consistent, buffers C-contiguous, num_threads >= 1); the kernels only
# do arithmetic, release the GIL and never raise except MemoryError for their scratch space.

from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memcpy, memset
from libc.stdint cimport uint32_t, uint64_t
from libc.math cimport sqrt, sqrtf, signbit
from cpython.exc cimport PyErr_CheckSignals
from cython.parallel cimport prange
from _openmp cimport omp_get_thread_num

ctypedef fused real:
    float
    double

# Column block of one tap sweep (see _row_taps): small enough that the tile rows a sweep
# touches stay in a 32 KB L1 for kernels up to ~15 rows.
cdef enum:
    ROW_BLOCK_BYTES = 1024
    CACHE_LINE = 64
    # rows read in place (see _tile_task) from this many inside columns on.  Measured,
    # float32, 1 / 2 threads, against gathering every row: 2048² 3x3 -14% / -19%, 2048² 5x5
    # -11% / -9%, 4096x1024 5x5 -14% / -13%, 1024² 3x3 -10%; 512² 5x5 +5-8% (its rows are in
    # cache, where the copy costs little and the split sweep more), 56-wide rows 2x slower
    DIRECT_MIN_COLS = 768
    # tile rows ahead whose edge columns are fetched while a row's are filled
    EDGE_AHEAD = 4
    # the widest kernel rows the AVX-512 grid sweep takes (see _is_grid)
    GRID_MAX_KW = 8
    # small planes (_correlate_planes): rows per task, and the tallest kernel taken
    PLANE_ROWS = 256
    PLANE_MAX_KH = 32
    # rows at least this wide go through the separable filter's ring of input rows (see
    # _sep_vpass), for kernels of at most RING_MAX_ROWS - 3 rows (a taller kernel's rows do
    # not stay in L1 anyway, and its ring would hold a large part of the image).  First for
    # pitches that crowd the rows into few L1 sets (_rows_collide) only; measured at every
    # pitch against reading the rows in place (float32 Gaussian sigma=2, one thread):
    # 8000^2 78 -> 67 ms, 3000^2 10.5 -> 8.9, 1000^2 1.44 -> 1.18, 600^2 0.65 -> 0.57,
    # float64 3000^2 26.0 -> 23.8, sigma=6 (49 taps) 28.0 -> 26.2; 2 threads 4000^2 9.7 -> 8.5
    RING_MIN_BYTES = 2048
    # and rows of at least RING_NARROW_BYTES from images of at least RING_FAR_BYTES, whose
    # rows come from memory, not from the last-level cache.  Measured (float32 Gaussian
    # sigma=1.75 into out=, one thread, ns per sample, ring / in place): 16384x256 1.02 /
    # 1.50, 8192x384 0.97 / 1.43, 16384x128 1.00-1.18 / 1.07-1.20; images that stay in
    # cache read their rows faster in place: 4096x256 0.86 / 0.84, 256x256 1.55 / 1.49,
    # 1024x128 1.28 / 1.19 (and 16384x64, rows of 256 bytes: 1.31 / 1.19)
    RING_NARROW_BYTES = 512
    RING_FAR_BYTES = 8 << 20
    RING_MAX_ROWS = 64


cdef inline void* _alloc_lines(size_t nbytes, bint zero, void** block) noexcept nogil:
    # nbytes starting on a 64-byte boundary (malloc's large blocks start 16 bytes into a
    # page: every 64-byte vector load from them would span two cache lines), zeroed when
    # zero; *block is what to free
    cdef void* b = calloc(nbytes + CACHE_LINE, 1) if zero else malloc(nbytes + CACHE_LINE)
    block[0] = b
    if b == NULL:
        return NULL
    return <void*>((<size_t>b + CACHE_LINE - 1) & ~(<size_t>(CACHE_LINE - 1)))


cdef inline Py_ssize_t _to_line(const void* p, Py_ssize_t itemsize) noexcept nogil:
    # items of itemsize bytes from p (aligned to itemsize) to the next 64-byte boundary (0 at
    # one): where streaming stores of whole vectors can start
    return (CACHE_LINE - <Py_ssize_t>(<size_t>p % CACHE_LINE)) % CACHE_LINE // itemsize


# Interrupts: a parallel loop runs its tasks in rounds of about ROUND_WORK multiply-adds per
# thread, and between rounds, holding the GIL, checks for signals (Ctrl-C): a pending
# KeyboardInterrupt stops the call within a round (2**30 multiply-adds: 5-20 ms of one
# core, well under a second), scratch freed, the output partly written.  A round ends with a
# barrier, where threads whose tasks ran short wait for the others, so it is large enough for
# that to be rare: as many tasks as make ROUND_WORK per thread, and at least one.  (Rounds of
# 2**27 held three 64-channel 56x56 layer tasks per thread: the barriers cost that layer 8%
# at two threads.)
cdef enum:
    ROUND_WORK = 1 << 30
    CHUNK_WORK = 1 << 16


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define pyconv_prefetch(p) __builtin_prefetch((const void*)(p), 0, 3)
    #else
    #define pyconv_prefetch(p) ((void)(p))
    #endif
    """
    void _prefetch "pyconv_prefetch"(const void* p) noexcept nogil


# Streaming (non-temporal) copies: an output row written with ordinary stores is first read
# from memory (the store misses and fetches its line); streaming stores skip that read.  Only
# into large outputs the caller passed in (pyconv's own fresh results are zeroed by the OS
# when first touched, which leaves their lines in cache: streaming into them is slower).
# x86 only (SSE2 / AVX); elsewhere a plain copy.
cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__AVX__)
    #include <immintrin.h>
    #define PYCONV_STREAM_F 8
    #define PYCONV_STREAM_D 4
    #define PYCONV_ST_F(d, s) _mm256_stream_ps((d), _mm256_loadu_ps(s))
    #define PYCONV_ST_D(d, s) _mm256_stream_pd((d), _mm256_loadu_pd(s))
    #define PYCONV_SFENCE() _mm_sfence()
    #elif defined(__SSE2__) || defined(_M_X64)
    #include <emmintrin.h>
    #define PYCONV_STREAM_F 4
    #define PYCONV_STREAM_D 2
    #define PYCONV_ST_F(d, s) _mm_stream_ps((d), _mm_loadu_ps(s))
    #define PYCONV_ST_D(d, s) _mm_stream_pd((d), _mm_loadu_pd(s))
    #define PYCONV_SFENCE() _mm_sfence()
    #else
    #define PYCONV_STREAM_F 0
    #define PYCONV_STREAM_D 0
    #define PYCONV_SFENCE() ((void)0)
    #endif
    /* d[0:n] = s[0:n], the aligned middle with streaming stores of V elements */
    #define PYCONV_STREAM_COPY(name, T, V, ST) \
    static void name(T* d, const T* s, Py_ssize_t n) { \
        Py_ssize_t i = 0; \
        if (V) { \
            while (i < n && ((uintptr_t)(d + i) % (((V) ? (V) : 1) * sizeof(T)))) { \
                d[i] = s[i]; i++; \
            } \
            for (; i + (V) <= n; i += (V)) ST(d + i, s + i); \
        } \
        if (i < n) memcpy(d + i, s + i, (size_t)(n - i) * sizeof(T)); \
    }
    #if !PYCONV_STREAM_F
    #define PYCONV_ST_F(d, s) ((void)0)
    #define PYCONV_ST_D(d, s) ((void)0)
    #endif
    PYCONV_STREAM_COPY(pyconv_stream_f, float, PYCONV_STREAM_F, PYCONV_ST_F)
    PYCONV_STREAM_COPY(pyconv_stream_d, double, PYCONV_STREAM_D, PYCONV_ST_D)
    static void pyconv_sfence(void) { PYCONV_SFENCE(); }
    """
    void _stream_f "pyconv_stream_f"(float* d, const float* s, Py_ssize_t n) noexcept nogil
    void _stream_d "pyconv_stream_d"(double* d, const double* s, Py_ssize_t n) noexcept nogil
    void _sfence "pyconv_sfence"() noexcept nogil


cdef inline void _stream(real* d, const real* s, Py_ssize_t n) noexcept nogil:
    if real is float:
        _stream_f(d, s, n)
    else:
        _stream_d(d, s, n)


# Row sweeps in AVX-512 (pyx/_simd_rows.h, written once and compiled for float32 and float64):
# the sums of taps at consecutive offsets (a pass along the last axis), the four-row
# vertical pass and the grid sweep of small whole kernels.  In the modules without AVX-512
# the C functions decline and the plain loops below run.
cdef extern from *:
    """
    #if defined(__AVX512F__)
    #include <immintrin.h>
    #define PYCONV_SIMD_ROWS 1
    #else
    #define PYCONV_SIMD_ROWS 0
    #endif
    #define PYCONV_SFX f
    #define PYCONV_T float
    #define PYCONV_V __m512
    #define PYCONV_L 16
    #define PYCONV_M __mmask16
    #define PYCONV_FULL 0xFFFF
    #define PYCONV_LOADU _mm512_loadu_ps
    #define PYCONV_MLOADU _mm512_maskz_loadu_ps
    #define PYCONV_STOREU _mm512_storeu_ps
    #define PYCONV_MSTOREU _mm512_mask_storeu_ps
    #define PYCONV_FMA _mm512_fmadd_ps
    #define PYCONV_MUL _mm512_mul_ps
    #define PYCONV_SET1 _mm512_set1_ps
    #define PYCONV_ZERO _mm512_setzero_ps
    #define PYCONV_ALIGNR(B, A, j) \
        _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(B), _mm512_castps_si512(A), (j)))
    #define PYCONV_SUB _mm512_sub_ps
    #define PYCONV_DIV _mm512_div_ps
    #define PYCONV_ADD _mm512_add_ps
    #define PYCONV_SQRT _mm512_sqrt_ps
    #define PYCONV_STREAM _mm512_stream_ps
    #define PYCONV_PERMX2 _mm512_permutex2var_ps
    #define PYCONV_IADD _mm512_add_epi32
    #define PYCONV_IOTA(k) _mm512_add_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, \
                                                             7, 6, 5, 4, 3, 2, 1, 0), \
                                            _mm512_set1_epi32((int)(k)))
    #include "_simd_rows.h"
    #define PYCONV_SFX d
    #define PYCONV_T double
    #define PYCONV_V __m512d
    #define PYCONV_L 8
    #define PYCONV_M __mmask8
    #define PYCONV_FULL 0xFF
    #define PYCONV_LOADU _mm512_loadu_pd
    #define PYCONV_MLOADU _mm512_maskz_loadu_pd
    #define PYCONV_STOREU _mm512_storeu_pd
    #define PYCONV_MSTOREU _mm512_mask_storeu_pd
    #define PYCONV_FMA _mm512_fmadd_pd
    #define PYCONV_MUL _mm512_mul_pd
    #define PYCONV_SET1 _mm512_set1_pd
    #define PYCONV_ZERO _mm512_setzero_pd
    #define PYCONV_ALIGNR(B, A, j) \
        _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(B), _mm512_castpd_si512(A), (j)))
    #define PYCONV_SUB _mm512_sub_pd
    #define PYCONV_DIV _mm512_div_pd
    #define PYCONV_ADD _mm512_add_pd
    #define PYCONV_SQRT _mm512_sqrt_pd
    #define PYCONV_STREAM _mm512_stream_pd
    #define PYCONV_PERMX2 _mm512_permutex2var_pd
    #define PYCONV_IADD _mm512_add_epi64
    #define PYCONV_IOTA(k) _mm512_add_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), \
                                            _mm512_set1_epi64((long long)(k)))
    #include "_simd_rows.h"
    """
    enum: PYCONV_SIMD_ROWS      # 1 in the AVX-512 module: the functions below do their work
    int _taps_consec_f "pyconv_taps_consec_f"(float* o, const float* s, const float* w,
                                               Py_ssize_t k, Py_ssize_t n,
                                               int init, float dv) noexcept nogil
    int _vrows4_f "pyconv_vrows4_f"(float* o, Py_ssize_t opitch, const float** rows,
                                     const float* w, Py_ssize_t ntaps,
                                     Py_ssize_t n, const float** pf) noexcept nogil
    int _taps_consec_d "pyconv_taps_consec_d"(double* o, const double* s, const double* w,
                                               Py_ssize_t k, Py_ssize_t n,
                                               int init, double dv) noexcept nogil
    int _vrows4_d "pyconv_vrows4_d"(double* o, Py_ssize_t opitch, const double** rows,
                                     const double* w, Py_ssize_t ntaps,
                                     Py_ssize_t n, const double** pf) noexcept nogil
    int _grid_rows_f "pyconv_grid_rows_f"(float* o, Py_ssize_t opitch, const float** rows,
                                           const float* w, Py_ssize_t kd, Py_ssize_t kh,
                                           Py_ssize_t kw, Py_ssize_t n, Py_ssize_t R,
                                           Py_ssize_t clo, Py_ssize_t chi,
                                           int nt) noexcept nogil
    int _grid_rows_d "pyconv_grid_rows_d"(double* o, Py_ssize_t opitch, const double** rows,
                                           const double* w, Py_ssize_t kd, Py_ssize_t kh,
                                           Py_ssize_t kw, Py_ssize_t n, Py_ssize_t R,
                                           Py_ssize_t clo, Py_ssize_t chi,
                                           int nt) noexcept nogil
    int _dense3_f "pyconv_dense3_f"(float* o, Py_ssize_t opitch, Py_ssize_t g,
                                     const float* base, const Py_ssize_t* soff,
                                     const float* wq, Py_ssize_t kd, Py_ssize_t kh,
                                     Py_ssize_t nxt, Py_ssize_t n) noexcept nogil
    int _dense3_d "pyconv_dense3_d"(double* o, Py_ssize_t opitch, Py_ssize_t g,
                                     const double* base, const Py_ssize_t* soff,
                                     const double* wq, Py_ssize_t kd, Py_ssize_t kh,
                                     Py_ssize_t nxt, Py_ssize_t n) noexcept nogil
    int _planes_f "pyconv_planes_f"(float* o, Py_ssize_t opitch, const float* s,
                                     Py_ssize_t spitch, const Py_ssize_t* taby,
                                     Py_ssize_t y0, Py_ssize_t y1,
                                     Py_ssize_t n, Py_ssize_t W, Py_ssize_t ox, const float* w,
                                     Py_ssize_t kh, Py_ssize_t kw, float c,
                                     int addb, Py_ssize_t stride) noexcept nogil
    int _planes_d "pyconv_planes_d"(double* o, Py_ssize_t opitch, const double* s,
                                     Py_ssize_t spitch, const Py_ssize_t* taby,
                                     Py_ssize_t y0, Py_ssize_t y1,
                                     Py_ssize_t n, Py_ssize_t W, Py_ssize_t ox,
                                     const double* w, Py_ssize_t kh, Py_ssize_t kw, double c,
                                     int addb, Py_ssize_t stride) noexcept nogil
    Py_ssize_t _edge_row_f "pyconv_edge_row_f"(float* o, const float* a, const float* b,
                                                const float* c, Py_ssize_t C, Py_ssize_t n,
                                                float w0, float w1, float w2, float half,
                                                const float* pf, Py_ssize_t x0,
                                                int nt) noexcept nogil
    Py_ssize_t _edge_row_d "pyconv_edge_row_d"(double* o, const double* a, const double* b,
                                                const double* c, Py_ssize_t C, Py_ssize_t n,
                                                double w0, double w1, double w2, double half,
                                                const double* pf, Py_ssize_t x0,
                                                int nt) noexcept nogil


cdef inline bint _consec_taps(real* o, const real* base, const Py_ssize_t* off, const real* w,
                              Py_ssize_t k, Py_ssize_t n, int init,
                              real div=0) noexcept nogil:
    # the sums of _taps_upto4 / _taps8 / _row_taps_block (a whole sum of up to 17 taps) by
    # the AVX-512 module's one-pass sums when the k taps are at consecutive offsets (init: 0
    # onto o, 1 a whole sum, 2 a whole sum streamed, see pyconv_taps_consec; div != 0: whole
    # sums divided by div before they are stored); True when done (never in the other
    # modules)
    cdef Py_ssize_t j
    if not PYCONV_SIMD_ROWS:
        return False
    for j in range(1, k):
        if off[j] != off[0] + j:
            return False
    if real is float:
        return _taps_consec_f(o, base + off[0], w, k, n, init, div) != 0
    else:
        return _taps_consec_d(o, base + off[0], w, k, n, init, div) != 0


cdef inline void _grid_run(real* o, Py_ssize_t opitch, const real** ptrs, const real* w,
                           Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t n,
                           Py_ssize_t R, Py_ssize_t clo=0, Py_ssize_t chi=-1,
                           bint nt=False) noexcept nogil:
    # rows r < R of o (pitch opitch), n columns, by the AVX-512 grid sweep of _simd_rows.h;
    # ptrs[p * (R + kh - 1) + i]: input row i of plane p, of which only the columns
    # [clo, chi) are read, the others count as zeros (chi < 0: every column)
    if n <= 0 or R <= 0:
        return
    if chi < 0 or chi > n + kw - 1:
        chi = n + kw - 1
    if real is float:
        _grid_rows_f(o, opitch, ptrs, w, kd, kh, kw, n, R, clo, chi, nt)
    else:
        _grid_rows_d(o, opitch, ptrs, w, kd, kh, kw, n, R, clo, chi, nt)


cdef inline void _grid_tile(real* o, Py_ssize_t opitch, const real** ptrs, const real* tile,
                            Py_ssize_t trows, Py_ssize_t tw, Py_ssize_t r0, Py_ssize_t c0,
                            const real* w, Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
                            Py_ssize_t n, Py_ssize_t R) noexcept nogil:
    # _grid_run of output rows r0 .. r0 + R - 1 of a task, columns c0 .. c0 + n - 1, from its
    # tile (kd planes of trows rows of tw columns)
    cdef Py_ssize_t p, i, nj = R + kh - 1
    for p in range(kd):
        for i in range(nj):
            ptrs[p * nj + i] = tile + (p * trows + r0 + i) * tw + c0
    _grid_run(o, opitch, ptrs, w, kd, kh, kw, n, R)


cdef inline void _src_rows(const real** ptrs, const real* src_b, const Py_ssize_t* tabz,
                           const Py_ssize_t* taby, Py_ssize_t z, Py_ssize_t y,
                           const Py_ssize_t* ss, Py_ssize_t kd, Py_ssize_t nj, Py_ssize_t col,
                           const real* zero) noexcept nogil:
    # ptrs[p * nj + i]: padded row y + i of plane z + p read in place, from column col of its
    # source row; a row outside the image (a table entry < 0) reads `zero` instead
    cdef Py_ssize_t p, i, zi, yi
    for p in range(kd):
        zi = tabz[z + p]
        for i in range(nj):
            yi = taby[y + i]
            if zi < 0 or yi < 0:
                ptrs[p * nj + i] = zero
            else:
                ptrs[p * nj + i] = src_b + zi * ss[1] + yi * ss[2] + col


cdef inline void _rows_ahead(const real** pf, const real* base, Py_ssize_t pitch,
                             const Py_ssize_t* taby, Py_ssize_t j0, Py_ssize_t jend,
                             const real* other) noexcept nogil:
    # pf[i], i < 4: padded row j0 + i (base + taby[j] * pitch), or `other` where that row is
    # past jend or outside the image: the rows _vrows4 fetches while it sweeps (see there)
    cdef Py_ssize_t i, j
    for i in range(4):
        j = j0 + i
        pf[i] = base + taby[j] * pitch if j < jend and taby[j] >= 0 else other


cdef inline bint _is_grid(const Py_ssize_t* offs, Py_ssize_t ntaps, Py_ssize_t kd,
                          Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t trows,
                          Py_ssize_t tw) noexcept nogil:
    # whether the grid sweep takes these taps: the AVX-512 module, and the whole kd x kh x kw
    # grid in C order with 2 <= kw <= GRID_MAX_KW (a float64 vector's lanes: its shifts stay
    # within two vectors)
    cdef Py_ssize_t p, ky, kx, t = 0
    if not PYCONV_SIMD_ROWS or kw < 2 or kw > GRID_MAX_KW or kh < 1 or kd < 1:
        return False
    if ntaps != kd * kh * kw:
        return False
    for p in range(kd):
        for ky in range(kh):
            for kx in range(kw):
                if offs[t] != (p * trows + ky) * tw + kx:
                    return False
                t = t + 1
    return True


cdef inline Py_ssize_t _round_tasks(Py_ssize_t ntasks, Py_ssize_t task_work, int num_threads,
                                    Py_ssize_t* chunk) noexcept nogil:
    # Tasks per round (see ROUND_WORK above); and in chunk, the tasks a thread takes at a
    # time from the round's dynamic schedule: tiny tasks (a small plane of a depthwise layer)
    # in chunks of about CHUNK_WORK multiply-adds, so that taking the next one (an atomic on
    # a line the threads share) does not cost as much as the task; at least 4 chunks per
    # thread, so a descheduled thread's share still moves
    cdef Py_ssize_t work = task_work if task_work > 0 else 1
    cdef Py_ssize_t per = ROUND_WORK // work
    if per < 1:
        per = 1
    per = per * num_threads
    if per > ntasks:
        per = ntasks
    chunk[0] = CHUNK_WORK // work
    if chunk[0] > per // (4 * num_threads):
        chunk[0] = per // (4 * num_threads)
    if chunk[0] < 1:
        chunk[0] = 1
    return per


cdef inline void _fill_row_strided(real* dst, const real* src, Py_ssize_t sx,
                                   const Py_ssize_t* tabx, Py_ssize_t x0, Py_ssize_t width,
                                   real cval) noexcept nogil:
    # as _fill_row for a row whose samples are sx elements apart (sx may be negative)
    cdef Py_ssize_t i, j
    for i in range(width):
        j = tabx[x0 + i]
        dst[i] = cval if j < 0 else src[j * sx]


cdef inline void _inside(Py_ssize_t x0, Py_ssize_t width, Py_ssize_t ox, Py_ssize_t n,
                         Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    # columns [lo, hi) of the padded row x0 .. x0 + width - 1 that lie inside the source
    # (padded columns ox .. ox + n - 1), 0 <= lo <= hi <= width
    lo[0] = ox - x0
    if lo[0] < 0:
        lo[0] = 0
    if lo[0] > width:
        lo[0] = width
    hi[0] = ox + n - x0
    if hi[0] > width:
        hi[0] = width
    if hi[0] < lo[0]:
        hi[0] = lo[0]


cdef inline void _fill_row(real* dst, const real* src, const Py_ssize_t* tabx, Py_ssize_t x0,
                           Py_ssize_t width, Py_ssize_t ox, Py_ssize_t n,
                           real cval) noexcept nogil:
    # dst[i] = padded sample at padded column x0 + i.  Padded column x reads src[tabx[x]]
    # (-1: cval); inside [ox, ox + n) that is src[x - ox], copied as one block.
    cdef Py_ssize_t i, j, lo, hi
    _inside(x0, width, ox, n, &lo, &hi)
    for i in range(lo):
        j = tabx[x0 + i]
        dst[i] = cval if j < 0 else src[j]
    if hi > lo:
        memcpy(dst + lo, src + (x0 + lo - ox), <size_t>(hi - lo) * sizeof(real))
    for i in range(hi, width):
        j = tabx[x0 + i]
        dst[i] = cval if j < 0 else src[j]


cdef inline void _put2(real* d0, real* d1, Py_ssize_t i, const real* src, Py_ssize_t j,
                       real cval) noexcept nogil:
    # padded column i (source index j, -1: cval) into its stride-2 phase row
    cdef real v = cval if j < 0 else src[j]
    if i & 1:
        d1[i >> 1] = v
    else:
        d0[i >> 1] = v


cdef inline void _fill_row2(real* d0, real* d1, const real* src, const Py_ssize_t* tabx,
                            Py_ssize_t x0, Py_ssize_t width, Py_ssize_t ox, Py_ssize_t n,
                            real cval) noexcept nogil:
    # _fill_row's padded row split into its two stride phases as it is read: column i goes
    # to d0[i // 2] (even i) or d1[i // 2] (odd i); the inside columns straight from src, two
    # at a time (a constant stride: the compiler vectorises it with shuffles)
    cdef Py_ssize_t i, lo, hi, cnt, end
    cdef const real* s
    _inside(x0, width, ox, n, &lo, &hi)
    lo = lo + (lo & 1)          # the pairs start at an even column
    cnt = (hi - lo) // 2 if hi > lo else 0
    end = lo + 2 * cnt
    for i in range(lo if lo < width else width):
        _put2(d0, d1, i, src, tabx[x0 + i], cval)
    for i in range(end, width):
        _put2(d0, d1, i, src, tabx[x0 + i], cval)
    s = src + (x0 + lo - ox)
    d0 = d0 + (lo >> 1)
    d1 = d1 + (lo >> 1)
    for i in range(cnt):
        d0[i] = s[2 * i]
        d1[i] = s[2 * i + 1]


cdef inline void _taps_upto4(real* o, const real* base, const Py_ssize_t* off, const real* w,
                             Py_ssize_t k, Py_ssize_t n, bint init) noexcept nogil:
    # o[i] (= or +=) sum of k <= 4 taps, in tap order
    cdef Py_ssize_t i
    if _consec_taps(o, base, off, w, k, n, init):
        return
    cdef const real* s0 = base + off[0]
    cdef const real* s1 = base + off[1 if k > 1 else 0]
    cdef const real* s2 = base + off[2 if k > 2 else 0]
    cdef const real* s3 = base + off[3 if k > 3 else 0]
    cdef real w0 = w[0], w1 = w[1 if k > 1 else 0], w2 = w[2 if k > 2 else 0]
    cdef real w3 = w[3 if k > 3 else 0]
    if init:
        if k == 1:
            for i in range(n):
                o[i] = w0 * s0[i]
        elif k == 2:
            for i in range(n):
                o[i] = w0 * s0[i] + w1 * s1[i]
        elif k == 3:
            for i in range(n):
                o[i] = w0 * s0[i] + w1 * s1[i] + w2 * s2[i]
        else:
            for i in range(n):
                o[i] = w0 * s0[i] + w1 * s1[i] + w2 * s2[i] + w3 * s3[i]
    else:
        if k == 1:
            for i in range(n):
                o[i] = o[i] + w0 * s0[i]
        elif k == 2:
            for i in range(n):
                o[i] = o[i] + w0 * s0[i] + w1 * s1[i]
        elif k == 3:
            for i in range(n):
                o[i] = o[i] + w0 * s0[i] + w1 * s1[i] + w2 * s2[i]
        else:
            for i in range(n):
                o[i] = o[i] + w0 * s0[i] + w1 * s1[i] + w2 * s2[i] + w3 * s3[i]


cdef inline void _taps8(real* o, const real* base, const Py_ssize_t* off, const real* w,
                        Py_ssize_t n) noexcept nogil:
    # o[i] += sum of 8 taps, in tap order: 9 loads and 1 store per 8 multiply-adds (taps at
    # consecutive offsets: the AVX-512 module's shifted-tap sums of _simd_rows.h)
    cdef Py_ssize_t i
    if _consec_taps(o, base, off, w, 8, n, False):
        return
    cdef const real* s0 = base + off[0]
    cdef const real* s1 = base + off[1]
    cdef const real* s2 = base + off[2]
    cdef const real* s3 = base + off[3]
    cdef const real* s4 = base + off[4]
    cdef const real* s5 = base + off[5]
    cdef const real* s6 = base + off[6]
    cdef const real* s7 = base + off[7]
    cdef real w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3]
    cdef real w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7]
    for i in range(n):
        o[i] = (o[i] + w0 * s0[i] + w1 * s1[i] + w2 * s2[i] + w3 * s3[i]
                + w4 * s4[i] + w5 * s5[i] + w6 * s6[i] + w7 * s7[i])


cdef inline void _row_taps_block(real* o, const real* base, const Py_ssize_t* off,
                                 const real* w, Py_ssize_t ntaps, Py_ssize_t n) noexcept nogil:
    # o[i] = sum_t w[t] * base[off[t] + i], summed in tap order t = 0, 1, ...  The first
    # ntaps % 8 taps (or 8) assign, then passes of 8 taps accumulate, so each pass over o
    # loads and stores it once per eight multiply-adds.
    cdef Py_ssize_t i, t, first
    if ntaps == 0:
        for i in range(n):
            o[i] = 0
        return
    if _consec_taps(o, base, off, w, ntaps, n, True):
        return
    first = ntaps % 8
    if first == 0:
        first = 8
    if first <= 4:
        _taps_upto4(o, base, off, w, first, n, True)
    else:
        _taps_upto4(o, base, off, w, 4, n, True)
        _taps_upto4(o, base, off + 4, w + 4, first - 4, n, False)
    t = first
    while t < ntaps:
        _taps8(o, base, off + t, w + t, n)
        t = t + 8


cdef inline void _row_taps(real* o, const real* base, const Py_ssize_t* off, const real* w,
                           Py_ssize_t ntaps, Py_ssize_t n,
                           const real* ahead=NULL) noexcept nogil:
    # One output row, cut into blocks of ROW_BLOCK_BYTES: every tap pass over a block reads
    # the same few hundred bytes of each tile row, which then stay in L1 across the passes.
    # ahead (NULL: none): a row the next output row will read first, prefetched block by
    # block (columns of this block) while this one is swept.
    cdef Py_ssize_t x0, m, i
    cdef Py_ssize_t block = <Py_ssize_t>(ROW_BLOCK_BYTES // sizeof(real))
    x0 = 0
    while x0 < n:
        m = n - x0
        if m > block:
            m = block
        if ahead != NULL:
            i = 0
            while i < m:
                _prefetch(ahead + x0 + i)
                i = i + CACHE_LINE // <Py_ssize_t>sizeof(real)
        _row_taps_block(o + x0, base + x0, off, w, ntaps, m)
        x0 = x0 + block


cdef inline void _row_taps_out(real* o, const real* base, const Py_ssize_t* off,
                               const real* w, Py_ssize_t ntaps, Py_ssize_t n, bint stream,
                               real div) noexcept nogil:
    # _row_taps into a final result row; stream: from the first 64-byte boundary of o on
    # written with streaming stores by the AVX-512 one-pass sums where they take the taps
    # (see _consec_taps; the same sums: each output is formed alone); div != 0: every sum
    # divided by div (in registers where streamed, else in the row just written, in L1):
    # one correctly rounded division of the same sum either way
    cdef Py_ssize_t i, a = _to_line(o, sizeof(real)) if stream else n
    if a < n and _consec_taps(o + a, base + a, off, w, ntaps, n - a, 2, div):
        n = a
    _row_taps(o, base, off, w, ntaps, n)
    if div != 0:
        for i in range(n):
            o[i] = o[i] / div


cdef inline bint _inside_rows(const Py_ssize_t* taby, Py_ssize_t rows, Py_ssize_t kh,
                              Py_ssize_t* ra, Py_ssize_t* rb) noexcept nogil:
    # Output rows [ra, rb) of a strip: the first run of rows whose kh input rows (taby[r] ..
    # taby[r + kh - 1]) are consecutive source rows, i.e. the image's inside (rows padded at
    # its top and bottom are gathered).  False when there is none.
    cdef Py_ssize_t j, r, run = 0
    ra[0] = -1
    rb[0] = rows
    for j in range(rows + kh - 1):
        if taby[j] < 0:
            run = 0
        elif run > 0 and taby[j] == taby[j - 1] + 1:
            run = run + 1
        else:
            run = 1
        r = j - (kh - 1)
        if r >= 0:
            if run >= kh:
                if ra[0] < 0:
                    ra[0] = r
            elif ra[0] >= 0:
                rb[0] = r
                break
    return ra[0] >= 0


cdef inline void _tile_task(Py_ssize_t task, const real* src, real* out, real* tile,
                            real* line, const Py_ssize_t* tabz, const Py_ssize_t* taby,
                            const Py_ssize_t* tabx, Py_ssize_t ox,
                            const Py_ssize_t* ss, const Py_ssize_t* os, Py_ssize_t W,
                            Py_ssize_t Do, Py_ssize_t Ho, Py_ssize_t Wo,
                            Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
                            Py_ssize_t strip, Py_ssize_t xchunk, Py_ssize_t nstrips,
                            Py_ssize_t nx, const Py_ssize_t* offs, const real* w,
                            Py_ssize_t ntaps, real cval, bint vline,
                            const real** ptrs, Py_ssize_t xstep, const Py_ssize_t* soff,
                            const real* wq, Py_ssize_t wsets, const real* bias,
                            const Py_ssize_t* doffs, bint stream, bint grid,
                            bint zpad) noexcept nogil:
    # One task = one (batch item, output plane, strip of output rows, chunk of columns):
    # gather the padded input it needs into the thread's tile, then sweep the taps.
    # ss / os: element strides (b, z, y, x) of the source and the output; a row whose x
    # stride is not 1 is gathered sample by sample, or swept into `line` and scattered.
    # vline: the taps are the kh consecutive rows of one column (a pass along rows), so
    # four output rows are swept together once their rows are in (_vrows4; ptrs: scratch
    # for kh + 3 row pointers), with the sums of _row_taps.
    # xstep > 0: the taps are the whole grid of kd planes x kh rows x nxt columns xstep apart,
    # and every output row is one of a group of three swept together in registers by the
    # super-taps (soff, wq) of _dense_rows3.
    # wsets: batch item b takes weight set b % wsets (w and wq hold wsets sets one after the
    # other); bias (NULL: none) adds bias[b % wsets] to every output once its sum is done.
    # doffs (NULL: not usable): the taps' offsets in the source (contiguous rows); with
    # xstep > 0, the super-taps' offsets.  When the task's planes and rows are consecutive
    # source planes and rows, the tap sweep (or a full group of three register-tiled rows)
    # reads the columns whose taps all fall inside the image straight from the source, and
    # only the edge columns are gathered: the same sums in the same order, without copying
    # the rows.
    # stream: such rows are summed into `line` and streamed into the output (see _stream).
    # grid: the taps are the whole kd x kh x kw grid that _is_grid accepts; output rows are
    # swept four at a time by the AVX-512 grid sweep (ptrs: scratch for kd * (kh + 3) row
    # pointers and more), rows read in place from the source where the rows are direct (edge
    # columns from the tile); with stream, their direct columns start at a 64-byte boundary
    # of the output row and the sweep writes them with streaming stores from its registers.
    # zpad (with grid): the x padding is zeros (cval 0): nothing is gathered; every group of
    # eight rows (ptrs: kd * (kh + 7) pointers) reads its input rows in place, the columns
    # outside the image masked out and the rows outside it (constant mode) from the zeroed
    # tile, which this path never writes.
    cdef Py_ssize_t xi, si, z, b, rest, x0, cw, y0, rows, p, j, r, i, zi, yi, width, done, g
    cdef Py_ssize_t clo = 0, chi = 0, lfill = 0, rfill = 0, ra = 0, rb = 0
    cdef Py_ssize_t qa = 0, qb = 0, s0, s1, cend = 0
    cdef Py_ssize_t nr = DENSE_NR_F if real is float else DENSE_NR_D
    cdef Py_ssize_t nxt = (kw - 1) // xstep + 1 if xstep > 0 else 0
    cdef bint only, ahead
    cdef bint direct = False
    cdef const real* srow
    cdef Py_ssize_t trows = strip + kh - 1
    cdef Py_ssize_t tw = xchunk + kw - 1
    cdef real* dst
    cdef real* orow
    cdef const real* src_b
    cdef real c
    xi = task % nx
    rest = task // nx
    si = rest % nstrips
    rest = rest // nstrips
    z = rest % Do
    b = rest // Do
    x0 = xi * xchunk
    cw = Wo - x0
    if cw > xchunk:
        cw = xchunk
    y0 = si * strip
    rows = Ho - y0
    if rows > strip:
        rows = strip
    width = cw + kw - 1
    src_b = src + b * ss[0]
    if wsets > 1:
        w = w + (b % wsets) * ntaps
        if xstep > 0:
            wq = wq + (b % wsets) * (3 * kd * (kh + 2) * nxt)
    if doffs != NULL and (os[3] == 1 or xstep > 0) and not vline:
        clo = ox - x0 if ox > x0 else 0
        chi = ox + W - x0 - kw + 1
        if chi > cw:
            chi = cw
        if stream and grid:
            # the grid sweep streams whole vectors at 64-byte boundaries: its direct
            # columns start at one (the columns before it come from the tile)
            clo = clo + _to_line(out + b * os[0] + z * os[1] + y0 * os[2] + x0 + clo,
                                 sizeof(real))
        direct = chi - clo >= DIRECT_MIN_COLS and tabz[z] >= 0
        for p in range(1, kd):
            if tabz[z + p] != tabz[z] + p:
                direct = False
    if direct:
        direct = _inside_rows(taby + y0, rows, kh, &ra, &rb)
    if direct and xstep > 0:
        # whole groups of three rows [s, s + 3), s a multiple of 3, inside [ra, rb): groups
        # starting in [qa, qb) (a short last group reads rows past its own: never direct);
        # their register tiles read the source in whole tiles of nr columns, [clo, cend)
        qa = (ra + 2) // 3 * 3
        qb = (rb if rb < rows else rows) // 3 * 3 - 2
        cend = clo + (chi - clo) // nr * nr
        direct = qb > qa
        chi = cend
    if direct:
        # tile columns the edge outputs of the direct rows read: [0, lfill) and [rfill, width)
        lfill = clo + kw - 1
        rfill = chi if chi > lfill else lfill
    if zpad:
        for s0 in range(0, rows, 8):
            g = rows - s0 if rows - s0 < 8 else 8
            _src_rows(ptrs, src_b, tabz, taby, z, y0 + s0, ss, kd, g + kh - 1, x0 - ox, tile)
            _grid_run(out + b * os[0] + z * os[1] + (y0 + s0) * os[2] + x0, os[2], ptrs, w, kd,
                      kh, kw, cw, g, ox - x0, ox - x0 + W)
    # Rows are gathered just before the output row that first needs them (the first
    # kh - 1 up front), so reading the source from memory interleaves with the tap sweeps
    # instead of preceding them all.  (None with zpad: the rows above read them in place.)
    for j in range(0 if zpad else rows + kh - 1):
        for p in range(kd):
            zi = tabz[z + p]
            dst = tile + (p * trows + j) * tw
            yi = taby[y0 + j]
            if direct and xstep > 0:
                # read only by direct groups: all groups s (multiples of 3, s <= j < s + kh +
                # 2) that exist start in [qa, qb)
                s0 = (j - kh - 2) // 3 * 3 + 3 if j >= kh + 2 else 0
                s1 = j // 3 * 3
                if s1 > (rows - 1) // 3 * 3:
                    s1 = (rows - 1) // 3 * 3
                only = s0 >= qa and s1 < qb
            else:
                # output rows j - kh + 1 .. j (those of the strip) read tile row j: all of
                # them direct (the strip's first and last kh - 1 tile rows too, in its inside)
                only = direct and (j - kh + 1 if j >= kh - 1 else 0) >= ra and \
                    (j if j < rows else rows - 1) < rb
            if only:
                # read only by direct rows: their edge columns
                _fill_row(dst, src_b + zi * ss[1] + yi * ss[2], tabx, x0, lfill, ox, W, cval)
                _fill_row(dst + rfill, src_b + zi * ss[1] + yi * ss[2], tabx, x0 + rfill,
                          width - rfill, ox, W, cval)
                # the edges of a row a few ahead, from memory while the sweeps run (filled
                # when its turn comes, they had waited for memory: 6% of a 7x7's time)
                if j + EDGE_AHEAD < rows + kh - 1 and taby[y0 + j + EDGE_AHEAD] >= 0:
                    srow = src_b + zi * ss[1] + taby[y0 + j + EDGE_AHEAD] * ss[2]
                    _prefetch(srow + (x0 - ox if x0 > ox else 0))
                    _prefetch(srow + (x0 + rfill - ox if x0 + rfill < ox + W else W - 1))
                    _prefetch(srow + (x0 + width - 1 - ox if x0 + width - 1 < ox + W else W - 1))
            elif zi < 0 or yi < 0:
                for i in range(width):
                    dst[i] = cval
            elif ss[3] == 1:
                _fill_row(dst, src_b + zi * ss[1] + yi * ss[2], tabx, x0, width, ox, W, cval)
            else:
                _fill_row_strided(dst, src_b + zi * ss[1] + yi * ss[2], ss[3], tabx, x0,
                                  width, cval)
        r = j - (kh - 1)
        if r < 0:
            continue
        if xstep > 0:
            # a group of three output rows once its input rows are in; the last group of the
            # strip may be short: its missing rows read the tile's slack and are dropped
            if r % 3 == 2 or r == rows - 1:
                g = r % 3 + 1
                orow = out + b * os[0] + z * os[1] + (y0 + r - g + 1) * os[2] + x0 * os[3]
                if direct and qa <= r - 2 < qb and g == 3:
                    # the edge columns from the tile, whole tiles in between from the source
                    if clo > 0:
                        _dense_rows3(orow, os[2], os[3], 3, tile + (r - 2) * tw, soff, wq, kd,
                                     kh, nxt, clo)
                    srow = src_b + tabz[z] * ss[1] + taby[y0 + r - 2] * ss[2] + (x0 + clo - ox)
                    _dense_rows3(orow + clo * os[3], os[2], os[3], 3, srow, doffs, wq, kd, kh,
                                 nxt, cend - clo)
                    if cend < cw:
                        _dense_rows3(orow + cend * os[3], os[2], os[3], 3,
                                     tile + (r - 2) * tw + cend, soff, wq, kd, kh, nxt, cw - cend)
                else:
                    _dense_rows3(orow, os[2], os[3], g, tile + (r - g + 1) * tw, soff, wq, kd,
                                 kh, nxt, cw)
            continue
        if vline and os[3] == 1:
            # rows done so far: every complete group of four up to r, then the rest at the end
            if r % 4 == 3:
                for i in range(kh + 3):
                    ptrs[i] = tile + (r - 3 + i) * tw
                # the four rows gathered next, fetched while the sweep runs (the copies had
                # waited for memory: memmove was a third of a 15-tap pass's time)
                ahead = kd == 1 and ss[3] == 1 and tabz[z] >= 0 and 0 <= x0 - ox and \
                    x0 - ox + cw <= W
                _rows_ahead(ptrs + kh + 3, src_b + tabz[z] * ss[1] + (x0 - ox) if ahead
                            else src_b, ss[2], taby + y0, r + kh,
                            rows + kh - 1 if ahead else 0, ptrs[kh + 2])
                _vrows4(out + b * os[0] + z * os[1] + (y0 + r - 3) * os[2] + x0, os[2],
                        ptrs, w, ntaps, cw, ptrs + kh + 3)
            if r == rows - 1:
                done = rows - rows % 4
                for i in range(done, rows):
                    _row_taps(out + b * os[0] + z * os[1] + (y0 + i) * os[2] + x0,
                              tile + i * tw, offs, w, ntaps, cw)
            continue
        if grid and os[3] == 1:
            # a group of four rows [s0, r] once its input rows are in (the last may be
            # short): its rows outside [ra, rb) from the tile, those inside direct
            if r % 4 == 3 or r == rows - 1:
                s0 = r - r % 4
                s1 = r + 1
                qa = s1
                qb = s1
                if direct:
                    qa = ra if ra > s0 else s0
                    qb = rb if rb < s1 else s1
                    if qa >= qb:
                        qa = s1
                        qb = s1
                orow = out + b * os[0] + z * os[1] + y0 * os[2] + x0
                _grid_tile(orow + s0 * os[2], os[2], ptrs, tile, trows, tw, s0, 0, w, kd, kh,
                           kw, cw, qa - s0)
                if qb > qa:
                    _grid_tile(orow + qa * os[2], os[2], ptrs, tile, trows, tw, qa, 0, w, kd,
                               kh, kw, clo, qb - qa)
                    # (the direct rows' input rows are all inside the image)
                    _src_rows(ptrs, src_b, tabz, taby, z, y0 + qa, ss, kd, qb - qa + kh - 1,
                              x0 + clo - ox, NULL)
                    _grid_run(orow + qa * os[2] + clo, os[2], ptrs, w, kd, kh, kw, chi - clo,
                              qb - qa, 0, -1, stream)
                    _grid_tile(orow + qa * os[2] + chi, os[2], ptrs, tile, trows, tw, qa, chi,
                               w, kd, kh, kw, cw - chi, qb - qa)
                _grid_tile(orow + qb * os[2], os[2], ptrs, tile, trows, tw, qb, 0, w, kd, kh,
                           kw, cw, s1 - qb)
            continue
        orow = out + b * os[0] + z * os[1] + (y0 + r) * os[2] + x0 * os[3]
        if direct and ra <= r < rb:
            srow = src_b + tabz[z] * ss[1] + taby[y0 + r] * ss[2] + (x0 + clo - ox)
            dst = line if stream else orow
            if clo > 0:
                _row_taps(dst, tile + r * tw, offs, w, ntaps, clo)
            # the source row the next output row reads first (its last tap row)
            _row_taps(dst + clo, srow, doffs, w, ntaps, chi - clo,
                      srow + kh * ss[2] if r + 1 < rb else NULL)
            if chi < cw:
                _row_taps(dst + chi, tile + r * tw + chi, offs, w, ntaps, cw - chi)
            if stream:
                _stream(orow, line, cw)
        elif os[3] == 1:
            _row_taps(orow, tile + r * tw, offs, w, ntaps, cw)
        else:
            _row_taps(line, tile + r * tw, offs, w, ntaps, cw)
            for i in range(cw):
                orow[i * os[3]] = line[i]
    if stream and direct:
        _sfence()   # streamed stores are ordered before the task's others (and its end)
    if bias != NULL:
        # the task's outputs are summed: add the bias while they are still in cache
        c = bias[b % wsets]
        for r in range(rows):
            orow = out + b * os[0] + z * os[1] + (y0 + r) * os[2] + x0 * os[3]
            if os[3] == 1:
                for i in range(cw):
                    orow[i] = orow[i] + c
            else:
                for i in range(cw):
                    orow[i * os[3]] = orow[i * os[3]] + c


cdef inline void _plane_task(Py_ssize_t task, const real* src, real* out,
                             const Py_ssize_t* ss, const Py_ssize_t* os, Py_ssize_t Do,
                             Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t W, Py_ssize_t ox,
                             Py_ssize_t rb, Py_ssize_t nrb, const Py_ssize_t* tabz,
                             const Py_ssize_t* taby, Py_ssize_t kh,
                             Py_ssize_t kw, const real* w, Py_ssize_t ntaps,
                             Py_ssize_t wsets, const real* bias,
                             Py_ssize_t stride) noexcept nogil:
    # rows [y0, y1) of plane (b, z) by pyconv_planes (see _correlate_planes)
    cdef Py_ssize_t q = task // nrb, y0 = (task % nrb) * rb, y1, b, z, sw
    y1 = y0 + rb if y0 + rb < Ho else Ho
    b = q // Do
    z = q % Do
    sw = b % wsets
    if real is float:
        _planes_f(out + b * os[0] + z * os[1], os[2], src + b * ss[0] + tabz[z] * ss[1], ss[2],
                  taby, y0, y1, Wo, W, ox, w + sw * ntaps, kh, kw,
                  bias[sw] if bias != NULL else 0, bias != NULL, stride)
    else:
        _planes_d(out + b * os[0] + z * os[1], os[2], src + b * ss[0] + tabz[z] * ss[1], ss[2],
                  taby, y0, y1, Wo, W, ox, w + sw * ntaps, kh, kw,
                  bias[sw] if bias != NULL else 0, bias != NULL, stride)


cdef int _correlate_planes(const real* src, real* out, const Py_ssize_t* ss,
                           const Py_ssize_t* os, Py_ssize_t B, Py_ssize_t Do, Py_ssize_t Ho,
                           Py_ssize_t Wo, Py_ssize_t W, Py_ssize_t ox, const Py_ssize_t* tabz,
                           const Py_ssize_t* taby, Py_ssize_t kh, Py_ssize_t kw,
                           const real* w, Py_ssize_t ntaps, Py_ssize_t wsets,
                           const real* bias, Py_ssize_t stride, int num_threads) except -1:
    # The correlation of planes whose rows are at most one vector of outputs (a late layer's
    # 14x14 or 7x7 planes, a narrow image), zero padding, a whole 2-D grid of taps: each
    # task sweeps PLANE_ROWS rows (a small plane: all of them) of one plane in registers,
    # reading its rows in place (pyconv_planes).  The grid sweep's tasks had cost a plane
    # ~140 ns, of which under half was its multiply-adds: the tile task's set-up, the row
    # pointers of every group of eight rows, a second vector per row and the shifts.
    # The sums are the grid sweep's, so the bits do not depend on which path ran.
    cdef Py_ssize_t rb = Ho if Ho <= PLANE_ROWS else PLANE_ROWS
    cdef Py_ssize_t nrb = (Ho + rb - 1) // rb
    cdef Py_ssize_t ntasks = B * Do * nrb, per_round, chunk, t0, t1, task
    if num_threads > ntasks:
        num_threads = <int>ntasks
    per_round = _round_tasks(ntasks, rb * Wo * (ntaps + 1), num_threads, &chunk)
    t0 = 0
    while t0 < ntasks:
        t1 = t0 + per_round
        if t1 > ntasks:
            t1 = ntasks
        with nogil:
            for task in prange(t0, t1, schedule='dynamic', chunksize=chunk,
                               num_threads=num_threads, use_threads_if=num_threads > 1):
                _plane_task(task, src, out, ss, os, Do, Ho, Wo, W, ox, rb, nrb, tabz, taby,
                            kh, kw, w, ntaps, wsets, bias, stride)
        t0 = t1
        if t0 < ntasks and PyErr_CheckSignals() != 0:
            return -1
    return 0


cdef int _correlate_tiled(const real[:, :, :, :] src, real[:, :, :, :] out,
                          const Py_ssize_t[::1] tabz, const Py_ssize_t[::1] taby,
                          const Py_ssize_t[::1] tabx, Py_ssize_t ox,
                          Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
                          const Py_ssize_t[::1] offs, const real[::1] tapw, double cval,
                          Py_ssize_t strip, Py_ssize_t xchunk, Py_ssize_t xstep,
                          Py_ssize_t wsets, const real[::1] bias, int num_threads,
                          bint stream) except -1:
    cdef Py_ssize_t B = out.shape[0], Do = out.shape[1], Ho = out.shape[2], Wo = out.shape[3]
    cdef Py_ssize_t W = src.shape[3]
    cdef Py_ssize_t nstrips, nx, ntasks, task, trows, tw, tile_len, t0, t1, per_round, a, chunk
    cdef Py_ssize_t nxt = 0, nu = 0, slack, p, ix, ky, j, u
    cdef Py_ssize_t ntaps = tapw.shape[0] // wsets
    cdef Py_ssize_t ss[4]
    cdef Py_ssize_t os[4]
    cdef real* scratch = NULL
    cdef void* sblock = NULL
    cdef real c = <real>cval
    cdef const real* wp = NULL
    cdef const Py_ssize_t* op = NULL
    cdef const real** ptrs = NULL
    cdef Py_ssize_t* soff = NULL
    cdef Py_ssize_t* doffs = NULL
    cdef real* wq = NULL
    cdef const real* bp = NULL
    cdef Py_ssize_t sw
    cdef bint vline, grid, zpad
    if B == 0 or Do == 0 or Ho == 0 or Wo == 0:
        return 0
    for a in range(4):  # byte strides -> element strides (pyconv passes itemsize multiples)
        ss[a] = src.strides[a] // <Py_ssize_t>sizeof(real)
        os[a] = out.strides[a] // <Py_ssize_t>sizeof(real)
    nstrips = (Ho + strip - 1) // strip
    nx = (Wo + xchunk - 1) // xchunk
    ntasks = B * Do * nstrips * nx
    if num_threads > ntasks:
        num_threads = <int>ntasks
    trows = strip + kh - 1
    tw = xchunk + kw - 1
    # a pass along rows (the taps: the kh rows of one column, in order)
    vline = kd == 1 and kw == 1 and ntaps == kh and kh > 0
    for a in range(ntaps):
        if offs[a] != a * tw:
            vline = False
    if xstep > 0 and (kh < 2 or vline or ntaps == 0):
        xstep = 0    # no input row is shared by two output rows (or the pass along rows)
    # the grid sweep for whole grids too small for _dense_rows3 (on 7x7 and 5x5x5 it ran at
    # the same or a lower rate than that)
    grid = xstep == 0 and not vline and ntaps > 0 and \
        _is_grid(&offs[0], ntaps, kd, kh, kw, trows, tw)
    # zero padding along x: the grid sweep reads every row in place (see _tile_task)
    zpad = grid and ss[3] == 1 and os[3] == 1 and cval == 0.0 and not signbit(cval)
    if zpad:
        for a in range(Wo + kw - 1):
            if tabx[a] != (a - ox if 0 <= a - ox < W else -1):
                zpad = False
                break
    if zpad and kd == 1 and Wo <= CACHE_LINE // <Py_ssize_t>sizeof(real) and \
            kh <= PLANE_MAX_KH:
        for a in range(Do):
            if tabz[a] < 0:
                break
        else:
            if ntaps > 0:
                wp = &tapw[0]
            if bias.shape[0] > 0:
                bp = &bias[0]
            return _correlate_planes(&src[0, 0, 0, 0], &out[0, 0, 0, 0], ss, os, B, Do, Ho,
                                     Wo, W, ox, &tabz[0], &taby[0], kh, kw, wp, ntaps, wsets,
                                     bp, 1, num_threads)
    # each thread's tile (and output line) starts on its own 64-byte line; a dense grid's
    # register tiles read up to 2 rows and a tile's width past the strip's last row (slack,
    # zeroed: their results are dropped)
    slack = 2 * tw + DENSE_NR_F if xstep > 0 else 0
    tile_len = (((kd * trows * tw + xchunk + slack) * <Py_ssize_t>sizeof(real) + 63) // 64) \
        * 64 // sizeof(real)
    scratch = <real*>_alloc_lines(<size_t>(num_threads * tile_len) * sizeof(real),
                                  xstep > 0 or zpad, &sblock)
    ptrs = <const real**>malloc(<size_t>(num_threads * kd * (kh + 7)) * sizeof(real*))
    if xstep > 0:
        nxt = (kw - 1) // xstep + 1
        nu = kd * (kh + 2) * nxt
        soff = <Py_ssize_t*>malloc(<size_t>nu * sizeof(Py_ssize_t))
        wq = <real*>malloc(<size_t>(3 * nu * wsets) * sizeof(real))
    if ss[3] == 1 and not vline and ntaps > 0:
        doffs = <Py_ssize_t*>malloc(<size_t>(nu if xstep > 0 else ntaps) * sizeof(Py_ssize_t))
    if scratch == NULL or ptrs == NULL or (xstep > 0 and (soff == NULL or wq == NULL)):
        free(sblock)
        free(ptrs)
        free(soff)
        free(wq)
        free(doffs)
        raise MemoryError("pyconv: cannot allocate the correlation scratch space")
    if doffs != NULL and xstep == 0:
        # tile offset (tz * trows + ty) * tw + tx (tx < tw, ty < trows) -> source offset
        for a in range(ntaps):
            doffs[a] = (offs[a] // (tw * trows)) * ss[1] + (offs[a] // tw % trows) * ss[2] \
                + offs[a] % tw
    if xstep > 0:
        # super-tap u = (plane p, input row j of a group of three output rows, tap column ix),
        # in that order: output row r takes weight w[p, j - r, ix] when 0 <= j - r < kh
        # (one offset table, one weight table per weight set)
        u = 0
        for p in range(kd):
            for j in range(kh + 2):
                for ix in range(nxt):
                    soff[u] = (p * trows + j) * tw + ix * xstep
                    if doffs != NULL:
                        doffs[u] = p * ss[1] + j * ss[2] + ix * xstep
                    for sw in range(wsets):
                        for a in range(3):
                            ky = j - a
                            wq[3 * (sw * nu + u) + a] = \
                                tapw[sw * ntaps + (p * kh + ky) * nxt + ix] \
                                if 0 <= ky < kh else 0
                    u = u + 1
    if ntaps > 0:
        wp = &tapw[0]
        op = &offs[0]
    if bias.shape[0] > 0:
        bp = &bias[0]
    per_round = _round_tasks(ntasks, strip * xchunk * (ntaps + 1), num_threads, &chunk)
    # Tasks are handed out dynamically: when the OS deschedules one thread (a busy machine),
    # the others take its share instead of waiting for it.  Which thread computes an output
    # does not change its value: each output is summed by one thread in tap order.
    t0 = 0
    while t0 < ntasks:
        t1 = t0 + per_round
        if t1 > ntasks:
            t1 = ntasks
        with nogil:
            for task in prange(t0, t1, schedule='dynamic', chunksize=chunk,
                               num_threads=num_threads, use_threads_if=num_threads > 1):
                _tile_task(task, &src[0, 0, 0, 0], &out[0, 0, 0, 0],
                           scratch + omp_get_thread_num() * tile_len,
                           scratch + omp_get_thread_num() * tile_len + kd * trows * tw,
                           &tabz[0], &taby[0], &tabx[0], ox, ss, os, W, Do, Ho, Wo,
                           kd, kh, kw, strip, xchunk, nstrips, nx, op, wp, ntaps, c,
                           vline, ptrs + omp_get_thread_num() * kd * (kh + 7), xstep,
                           soff, wq, wsets, bp, doffs, stream, grid, zpad)
        t0 = t1
        if t0 < ntasks and PyErr_CheckSignals() != 0:
            free(sblock)
            free(ptrs)
            free(soff)
            free(wq)
            free(doffs)
            return -1
    free(sblock)
    free(ptrs)
    free(soff)
    free(wq)
    free(doffs)
    return 0


cdef int _conv_planes(const real[:, :, :] src, real[:, :, :] out,
                      const Py_ssize_t[::1] taby, Py_ssize_t ox, Py_ssize_t kh, Py_ssize_t kw,
                      const real[::1] tapw, Py_ssize_t wsets, const real[::1] bias,
                      Py_ssize_t stride, int num_threads) except -1:
    cdef Py_ssize_t ss[4]
    cdef Py_ssize_t os[4]
    cdef Py_ssize_t zero_z = 0, a
    cdef Py_ssize_t B = out.shape[0], Ho = out.shape[1], Wo = out.shape[2], W = src.shape[2]
    cdef Py_ssize_t L = CACHE_LINE // <Py_ssize_t>sizeof(real)
    if not PYCONV_SIMD_ROWS:
        raise RuntimeError("pyconv: this kernel module has no plane sweep")
    if src.strides[2] != sizeof(real) or out.strides[2] != sizeof(real):
        raise ValueError("rows must be contiguous")
    if Wo < 1 or Wo > L or kh < 1 or kh > PLANE_MAX_KH or kw < 2 or kw > GRID_MAX_KW \
            or stride < 1 or stride > 2 or stride * (Wo - 1) + kw > 2 * L \
            or tapw.shape[0] != wsets * kh * kw or wsets < 1 or B % wsets \
            or (bias.shape[0] != 0 and bias.shape[0] != wsets) \
            or taby.shape[0] < stride * (Ho - 1) + kh or src.shape[0] != B:
        raise ValueError("conv_planes: arguments out of range")
    for a in range(stride * (Ho - 1) + kh):
        if taby[a] >= src.shape[1]:
            raise ValueError("conv_planes: taby out of range")
    if B == 0 or Ho == 0:
        return 0
    for a in range(3):
        ss[a + (a > 0)] = src.strides[a] // <Py_ssize_t>sizeof(real)
        os[a + (a > 0)] = out.strides[a] // <Py_ssize_t>sizeof(real)
    ss[1] = 0
    os[1] = 0
    return _correlate_planes(&src[0, 0, 0], &out[0, 0, 0], ss, os, B, 1, Ho, Wo, W, ox,
                             &zero_z, &taby[0], kh, kw, &tapw[0], kh * kw, wsets,
                             &bias[0] if bias.shape[0] > 0 else NULL, stride, num_threads)


def planes_sweep():
    """(whether conv_planes_f32/f64 run here (the AVX-512 module), the bytes of their
    vectors (rows of outputs up to one), the widest and the tallest kernel they take)."""
    return bool(PYCONV_SIMD_ROWS), CACHE_LINE, GRID_MAX_KW, PLANE_MAX_KH


def conv_planes_f32(const float[:, :, :] src, float[:, :, :] out,
                    const Py_ssize_t[::1] taby, Py_ssize_t ox, Py_ssize_t kh, Py_ssize_t kw,
                    const float[::1] tapw, Py_ssize_t wsets, const float[::1] bias,
                    Py_ssize_t stride, int num_threads):
    """float32 version of :func:`conv_planes_f64`."""
    _conv_planes(src, out, taby, ox, kh, kw, tapw, wsets, bias, stride, num_threads)


def conv_planes_f64(const double[:, :, :] src, double[:, :, :] out,
                    const Py_ssize_t[::1] taby, Py_ssize_t ox, Py_ssize_t kh, Py_ssize_t kw,
                    const double[::1] tapw, Py_ssize_t wsets, const double[::1] bias,
                    Py_ssize_t stride, int num_threads):
    """out[b, y, x] = sum over (ky, kx) of tapw[s, ky, kx] * P[b, stride * y + ky,
    stride * x + kx] (+ bias[s]), s = b % wsets, summed as the grid sweep sums (tap order):
    planes of at most one vector of outputs per row (16 float32, 8 float64), stride 1 or 2,
    2 <= kw <= 8, stride * (Wo - 1) + kw <= two vectors.  P is src (B, H, W; contiguous
    rows) padded with zeros: padded row i is source row taby[i] (< 0: zeros), padded column
    i source column i - ox (zero outside [0, W)).  The AVX-512 module only (planes_sweep)."""
    _conv_planes(src, out, taby, ox, kh, kw, tapw, wsets, bias, stride, num_threads)


def grid_sweep():
    """Whether correlate_tiled sweeps small whole kernels with the AVX-512 grid sweep
    (pyx/_simd_rows.h: kernel rows of 2 to GRID_MAX_KW taps, too few taps for the dense
    rows), and reads zero-padded rows in place for it: the AVX-512 module."""
    return bool(PYCONV_SIMD_ROWS), GRID_MAX_KW


# Two explicit entry points: a fused-type def function would inspect its buffers on every
# call to pick the specialisation, which costs more than a small filter.

def correlate_tiled_f32(const float[:, :, :, :] src, float[:, :, :, :] out,
                        const Py_ssize_t[::1] tabz, const Py_ssize_t[::1] taby,
                        const Py_ssize_t[::1] tabx, Py_ssize_t ox,
                        Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
                        const Py_ssize_t[::1] offs, const float[::1] tapw, double cval,
                        Py_ssize_t strip, Py_ssize_t xchunk, Py_ssize_t xstep,
                        Py_ssize_t wsets, const float[::1] bias, int num_threads,
                        bint stream=False):
    """float32 version of :func:`correlate_tiled_f64`."""
    _correlate_tiled(src, out, tabz, taby, tabx, ox, kd, kh, kw, offs, tapw, cval, strip,
                     xchunk, xstep, wsets, bias, num_threads, stream)


def correlate_tiled_f64(const double[:, :, :, :] src, double[:, :, :, :] out,
                        const Py_ssize_t[::1] tabz, const Py_ssize_t[::1] taby,
                        const Py_ssize_t[::1] tabx, Py_ssize_t ox,
                        Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
                        const Py_ssize_t[::1] offs, const double[::1] tapw, double cval,
                        Py_ssize_t strip, Py_ssize_t xchunk, Py_ssize_t xstep,
                        Py_ssize_t wsets, const double[::1] bias, int num_threads,
                        bint stream=False):
    """out[b,z,y,x] = sum_t tapw[t] * P[b, z+tz[t], y+ty[t], x+tx[t]].

    P is src (B, D, H, W; any strides that are multiples of the item size, the output's too)
    seen through per-axis index tables: padded position i of an axis
    reads source index tab[i] (-1: cval); tabx[i] == i - ox wherever i - ox lies in [0, W).
    The input of one task is gathered into a tile of kd planes x (strip + kh - 1) rows x
    (xchunk + kw - 1) columns; offs[t] = (tz[t] * (strip + kh - 1) + ty[t]) * (xchunk + kw - 1)
    + tx[t] is tap t's offset in it.  xstep > 0 says the taps are the whole grid of
    kd x kh x ((kw - 1) // xstep + 1) taps, x taps xstep apart, in C order (0: any list).
    tapw holds wsets >= 1 sets of len(offs) weights: batch item b takes set b % wsets and,
    when bias is not empty (len(bias) == wsets), gets bias[b % wsets] added to its sums.
    stream: write the rows read in place with streaming stores (an output the caller
    allocated earlier and larger than the caches: its lines are not read before written);
    the AVX-512 grid sweep of small whole kernels streams from its registers (through a
    line it had measured slower, see benchmarks/RESULTS.md).
    Contract: len(tabz) >= Do+kd-1, len(taby) >= Ho+kh-1,
    len(tabx) >= Wo+kw-1; 1 <= strip <= Ho, 1 <= xchunk <= Wo; num_threads >= 1.
    """
    _correlate_tiled(src, out, tabz, taby, tabx, ox, kd, kh, kw, offs, tapw, cval, strip,
                     xchunk, xstep, wsets, bias, num_threads, stream)


# ---- four output rows of a vertical pass at once --------------------------------------------

cdef enum:
    # columns of the four rows' sums kept in a local block (4 x 64 samples): a local array
    # cannot alias the input rows, so each loaded input vector feeds every row that uses it
    VROWS_BLOCK = 64


cdef inline void _vgroup4(real* a, const real** rows, Py_ssize_t x0, const real* w,
                          Py_ssize_t k, bint init, Py_ssize_t m) noexcept nogil:
    # rows r = 0..3 of a (VROWS_BLOCK apart): a_r (= or +=) sum of k <= 4 taps w[t] * q[r+t],
    # q[j] = rows[j] + x0, in tap order: the expressions of _taps_upto4, so every sum rounds
    # as it does there
    cdef Py_ssize_t i
    cdef real* a0 = a
    cdef real* a1 = a + VROWS_BLOCK
    cdef real* a2 = a + 2 * VROWS_BLOCK
    cdef real* a3 = a + 3 * VROWS_BLOCK
    cdef const real* q0 = rows[0] + x0
    cdef const real* q1 = rows[1] + x0
    cdef const real* q2 = rows[2] + x0
    cdef const real* q3 = rows[3] + x0
    cdef const real* q4 = rows[4 if k > 1 else 3] + x0
    cdef const real* q5 = rows[5 if k > 2 else 3] + x0
    cdef const real* q6 = rows[6 if k > 3 else 3] + x0
    cdef real w0 = w[0], w1 = w[1 if k > 1 else 0], w2 = w[2 if k > 2 else 0]
    cdef real w3 = w[3 if k > 3 else 0]
    if init:
        if k == 1:
            for i in range(m):
                a0[i] = w0 * q0[i]
                a1[i] = w0 * q1[i]
                a2[i] = w0 * q2[i]
                a3[i] = w0 * q3[i]
        elif k == 2:
            for i in range(m):
                a0[i] = w0 * q0[i] + w1 * q1[i]
                a1[i] = w0 * q1[i] + w1 * q2[i]
                a2[i] = w0 * q2[i] + w1 * q3[i]
                a3[i] = w0 * q3[i] + w1 * q4[i]
        elif k == 3:
            for i in range(m):
                a0[i] = w0 * q0[i] + w1 * q1[i] + w2 * q2[i]
                a1[i] = w0 * q1[i] + w1 * q2[i] + w2 * q3[i]
                a2[i] = w0 * q2[i] + w1 * q3[i] + w2 * q4[i]
                a3[i] = w0 * q3[i] + w1 * q4[i] + w2 * q5[i]
        else:
            for i in range(m):
                a0[i] = w0 * q0[i] + w1 * q1[i] + w2 * q2[i] + w3 * q3[i]
                a1[i] = w0 * q1[i] + w1 * q2[i] + w2 * q3[i] + w3 * q4[i]
                a2[i] = w0 * q2[i] + w1 * q3[i] + w2 * q4[i] + w3 * q5[i]
                a3[i] = w0 * q3[i] + w1 * q4[i] + w2 * q5[i] + w3 * q6[i]
    else:
        if k == 1:
            for i in range(m):
                a0[i] = a0[i] + w0 * q0[i]
                a1[i] = a1[i] + w0 * q1[i]
                a2[i] = a2[i] + w0 * q2[i]
                a3[i] = a3[i] + w0 * q3[i]
        elif k == 2:
            for i in range(m):
                a0[i] = a0[i] + w0 * q0[i] + w1 * q1[i]
                a1[i] = a1[i] + w0 * q1[i] + w1 * q2[i]
                a2[i] = a2[i] + w0 * q2[i] + w1 * q3[i]
                a3[i] = a3[i] + w0 * q3[i] + w1 * q4[i]
        elif k == 3:
            for i in range(m):
                a0[i] = a0[i] + w0 * q0[i] + w1 * q1[i] + w2 * q2[i]
                a1[i] = a1[i] + w0 * q1[i] + w1 * q2[i] + w2 * q3[i]
                a2[i] = a2[i] + w0 * q2[i] + w1 * q3[i] + w2 * q4[i]
                a3[i] = a3[i] + w0 * q3[i] + w1 * q4[i] + w2 * q5[i]
        else:
            for i in range(m):
                a0[i] = a0[i] + w0 * q0[i] + w1 * q1[i] + w2 * q2[i] + w3 * q3[i]
                a1[i] = a1[i] + w0 * q1[i] + w1 * q2[i] + w2 * q3[i] + w3 * q4[i]
                a2[i] = a2[i] + w0 * q2[i] + w1 * q3[i] + w2 * q4[i] + w3 * q5[i]
                a3[i] = a3[i] + w0 * q3[i] + w1 * q4[i] + w2 * q5[i] + w3 * q6[i]


cdef inline void _vrows4(real* o, Py_ssize_t opitch, const real** rows, const real* w,
                         Py_ssize_t ntaps, Py_ssize_t n, const real** pf=NULL) noexcept nogil:
    # o + r * opitch, r = 0..3: the vertical pass of four consecutive output rows, row r
    # reading input rows rows[r + t] for taps t: each sum is the one _row_taps_block forms
    # (the same chain of multiply-adds in tap order; a partial sum stored and reloaded
    # between groups keeps its value), computed VROWS_BLOCK columns at a time.  The first
    # group is _row_taps_block's (ntaps % 8 taps, as four and the rest): how the compiler
    # fuses the first products of a group into FMAs depends on the group, so a first group
    # of another size gives other bits (the fused = chained tests fail).  Later groups of
    # four taps read seven input rows at once: when the row pitch is a multiple of 4 KB
    # (2048- or 8192-wide float32 images) all rows' samples of a column fall into one L1
    # set, and the eleven rows of an eight-tap group overflowed its eight ways, so every
    # cache line was fetched twice (measured: Gaussian 2048² float32 9.1 -> 8.2 ms).
    # The AVX-512 module runs the same sums as register tiles instead (pyconv_vrows4_f/_d of
    # _simd_rows.h: each input row loaded once for the four rows, no partial sums stored).
    # pf (NULL: none): four rows the register tiles fetch into the caches as they go.
    cdef real a[4 * VROWS_BLOCK]
    cdef Py_ssize_t x0, m, t, first, r, i
    if real is float:
        if _vrows4_f(o, opitch, rows, w, ntaps, n, pf):
            return
    else:
        if _vrows4_d(o, opitch, rows, w, ntaps, n, pf):
            return
    x0 = 0
    first = ntaps % 8
    if first == 0:
        first = 8
    while x0 < n:
        m = n - x0
        if m > VROWS_BLOCK:
            m = VROWS_BLOCK
        if first <= 4:
            _vgroup4(a, rows, x0, w, first, True, m)
        else:
            _vgroup4(a, rows, x0, w, 4, True, m)
            _vgroup4(a, rows + 4, x0, w + 4, first - 4, False, m)
        t = first
        while t < ntaps:
            _vgroup4(a, rows + t, x0, w + t, 4, False, m)
            t = t + 4
        for r in range(4):
            for i in range(m):
                o[r * opitch + x0 + i] = a[r * VROWS_BLOCK + i]
        x0 = x0 + VROWS_BLOCK


# A zero the compiler cannot see: the register tiles start their sums from it, so zeroing
# them is a broadcast instead of a memset (GCC turned the zeroing loops into `rep stos`, 13% of
# a 7x7 correlation's time).  Starting from the first product instead would give the same
# values, but GCC then fuses a sum's first products into multiply-adds in either order, and
# differently in a tile's first lanes, so a row's bits would depend on its place in the group.
cdef extern from *:
    """
    static volatile float pyconv_zero_f = 0.0f;
    static volatile double pyconv_zero_d = 0.0;
    """
    float pyconv_zero_f
    double pyconv_zero_d


cdef extern from *:
    """
    /* one register tile of _dense_rows3: three output rows x PYCONV_DENSE_NR_F float32
       (_D float64) columns: twelve vector accumulators, AVX2 (a shorter loop would be
       unrolled into scalars) and AVX-512 (pyconv_dense3 of _simd_rows.h) */
    #if defined(__AVX512F__)
    #define PYCONV_DENSE_NR_F 64
    #define PYCONV_DENSE_NR_D 32
    #else
    #define PYCONV_DENSE_NR_F 32
    #define PYCONV_DENSE_NR_D 16
    #endif
    """
    enum:
        DENSE_NR_F "PYCONV_DENSE_NR_F"
        DENSE_NR_D "PYCONV_DENSE_NR_D"


cdef inline void _dense_phase(real* a0, real* a1, real* a2, const real* xb,
                              const Py_ssize_t* soff, const real* wq, Py_ssize_t u0,
                              Py_ssize_t u1, int which) noexcept nogil:
    # super-taps u0 <= u < u1: a_r[lane] += wq[3u + r] * xb[soff[u] + lane] for the rows r in
    # `which` (a constant at each call: the inlined copies keep only their rows' updates)
    cdef Py_ssize_t u, l
    cdef const real* xp
    cdef real w0, w1, w2
    for u in range(u0, u1):
        xp = xb + soff[u]
        w0 = wq[3 * u]
        w1 = wq[3 * u + 1]
        w2 = wq[3 * u + 2]
        for l in range(DENSE_NR_F if real is float else DENSE_NR_D):
            if which & 1:
                a0[l] = a0[l] + w0 * xp[l]
            if which & 2:
                a1[l] = a1[l] + w1 * xp[l]
            if which & 4:
                a2[l] = a2[l] + w2 * xp[l]


cdef inline void _dense_rows3(real* o, Py_ssize_t opitch, Py_ssize_t ostep, Py_ssize_t g,
                              const real* base, const Py_ssize_t* soff, const real* wq,
                              Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t nxt,
                              Py_ssize_t n) noexcept nogil:
    # Rows r < g (of three) of o + r * opitch, n columns ostep apart: the correlation with a
    # dense grid of kd x kh x nxt taps, as "super-taps" u = (plane p, input row j of the group,
    # tap column), in that order: the NR input samples at base + soff[u] + lane feed output row
    # r with weight wq[3u + r] when its window holds input row j (0 <= j - r < kh: row 0 for
    # j = 0, rows 0-1 for j = 1, all three up to j = kh - 1, rows 1-2 for j = kh, row 2 for
    # j = kh + 1).  Each loaded vector serves up to three rows, the sums of a tile stay in
    # registers, and a row's sum runs over its own taps only, in C order from zero, whatever
    # its place in the group (the strips, hence the thread count, do not change a bit).  The
    # last tile of a row reads NR columns (past n: the tile has slack) and stores n - x0.
    cdef real a0[DENSE_NR_F]
    cdef real a1[DENSE_NR_F]
    cdef real a2[DENSE_NR_F]
    cdef real* orow
    cdef const real* xb
    cdef Py_ssize_t x0, l, r, m, p, u0
    cdef Py_ssize_t nr = DENSE_NR_F if real is float else DENSE_NR_D
    cdef real zero = pyconv_zero_f if real is float else pyconv_zero_d
    if ostep == 1:
        if real is float:
            if _dense3_f(o, opitch, g, base, soff, wq, kd, kh, nxt, n):
                return
        else:
            if _dense3_d(o, opitch, g, base, soff, wq, kd, kh, nxt, n):
                return
    x0 = 0
    while x0 < n:
        for l in range(DENSE_NR_F if real is float else DENSE_NR_D):
            a0[l] = zero
            a1[l] = zero
            a2[l] = zero
        xb = base + x0
        for p in range(kd):
            u0 = p * (kh + 2) * nxt
            _dense_phase(a0, a1, a2, xb, soff, wq, u0, u0 + nxt, 1)
            _dense_phase(a0, a1, a2, xb, soff, wq, u0 + nxt, u0 + 2 * nxt, 3)
            _dense_phase(a0, a1, a2, xb, soff, wq, u0 + 2 * nxt, u0 + kh * nxt, 7)
            _dense_phase(a0, a1, a2, xb, soff, wq, u0 + kh * nxt, u0 + (kh + 1) * nxt, 6)
            _dense_phase(a0, a1, a2, xb, soff, wq, u0 + (kh + 1) * nxt, u0 + (kh + 2) * nxt, 4)
        m = n - x0
        if m > nr:
            m = nr
        for r in range(g):
            orow = o + r * opitch + x0 * ostep
            if ostep == 1 and m == nr:
                for l in range(DENSE_NR_F if real is float else DENSE_NR_D):
                    orow[l] = a0[l] if r == 0 else a1[l] if r == 1 else a2[l]
            else:
                for l in range(m):
                    orow[l * ostep] = a0[l] if r == 0 else a1[l] if r == 1 else a2[l]
        x0 = x0 + nr


# ---- separable 2-D filter, fused: vertical then horizontal pass per strip -----------------

cdef inline void _sep_pad_line(real* line, Py_ssize_t ox, Py_ssize_t W, Py_ssize_t kh,
                               const Py_ssize_t* tabx, real cval2, bint left,
                               bint right) noexcept nogil:
    # the padding columns of a vertically filtered row (at line + ox), by the x table; a side
    # whose columns came from a halo (left/right) is already filled
    cdef Py_ssize_t i
    cdef real* vrow = line + ox
    if not left:
        for i in range(ox):
            line[i] = cval2 if tabx[i] < 0 else vrow[tabx[i]]
    if not right:
        for i in range(ox + W, W + kh - 1):
            line[i] = cval2 if tabx[i] < 0 else vrow[tabx[i]]


cdef inline void _sep_vpass(const real* src, Py_ssize_t sr, Py_ssize_t n, real* line,
                            Py_ssize_t lpitch, Py_ssize_t g, Py_ssize_t y, real* tile,
                            const real** rowp, Py_ssize_t* roff, const Py_ssize_t* taby,
                            Py_ssize_t W, const real* wy, const Py_ssize_t* ty, Py_ssize_t nv,
                            bint dense, const Py_ssize_t* offv, real cval,
                            real* ring=NULL, Py_ssize_t rpitch=0,
                            Py_ssize_t* tags=NULL, const real** pfs=NULL,
                            Py_ssize_t nrows_pad=0) noexcept nogil:
    # The vertical pass of output rows y .. y+g-1 (g <= 4) over n columns of one image whose
    # rows start at src + yi * sr, into line + rr * lpitch.  With consecutive taps (dense),
    # four output rows whose input rows are all inside run together (_vrows4: each input row
    # is loaded once for the four); a row with an input row outside the image (constant mode)
    # reads copies in the tile (rows W apart, n <= W).  Every path forms the same sums.
    # ring (NULL: none): nv + 3 rows rpitch apart, where _vrows4 reads its input rows from
    # (wide rows: see RING_MIN_BYTES): padded row p is copied to slot p % (nv + 3) once
    # (tags[slot] == p then), so each source row is read once per strip by a sequential
    # copy, and the rows the sweep reads are at a pitch that does not crowd L1 sets
    cdef Py_ssize_t t, yi, i, rr, p, slot
    cdef bint inside
    cdef real* dst
    inside = dense and g == 4
    if inside:
        for t in range(nv + 3):
            yi = taby[y + t]
            if yi < 0:
                inside = False
                break
            rowp[t] = src + yi * sr
    if inside:
        if ring != NULL:
            for t in range(nv + 3):
                p = y + t
                slot = p % (nv + 3)
                if tags[slot] != p:
                    memcpy(ring + slot * rpitch, rowp[t], <size_t>n * sizeof(real))
                    tags[slot] = p
                rowp[t] = ring + slot * rpitch
            # the four rows the next group copies, fetched while this one sweeps (when
            # inside the image: the next group may not take this path at all)
            _rows_ahead(pfs, src, sr, taby, y + nv + 3, nrows_pad, rowp[nv + 2])
            _vrows4(line, lpitch, rowp, wy, nv, n, pfs)
            return
        _vrows4(line, lpitch, rowp, wy, nv, n)
        return
    for rr in range(g):
        inside = True
        for t in range(nv):
            yi = taby[y + rr + ty[t]]
            roff[t] = yi * sr
            if yi < 0:
                inside = False
        if inside:
            _row_taps(line + rr * lpitch, src, roff, wy, nv, n)
        else:
            for t in range(nv):
                yi = taby[y + rr + ty[t]]
                dst = tile + ty[t] * W
                if yi < 0:
                    for i in range(n):
                        dst[i] = cval
                else:
                    memcpy(dst, src + yi * sr, <size_t>n * sizeof(real))
            _row_taps(line + rr * lpitch, tile, offv, wy, nv, n)


cdef inline void _sep_task(Py_ssize_t task, const real* src, real* out, real* tile, real* line,
                           Py_ssize_t lpitch, const real** rowp, Py_ssize_t* roff,
                           const Py_ssize_t* taby, const Py_ssize_t* tabx,
                           Py_ssize_t ox, Py_ssize_t H, Py_ssize_t W, Py_ssize_t sb,
                           Py_ssize_t sr, Py_ssize_t ob, Py_ssize_t orow, Py_ssize_t strip,
                           Py_ssize_t nstrips, const real* wy, const Py_ssize_t* ty,
                           Py_ssize_t nv, bint dense, const Py_ssize_t* offv, const real* wx,
                           Py_ssize_t kh, Py_ssize_t nh, const Py_ssize_t* offh, real cval,
                           real cval2, const real* hl, Py_ssize_t nl, Py_ssize_t lb,
                           Py_ssize_t lr, const real* hr, Py_ssize_t nr, Py_ssize_t rb,
                           Py_ssize_t rr_, int* nonfinite, real* ring, Py_ssize_t rpitch,
                           Py_ssize_t* tags, bint stream, real div) noexcept nogil:
    # One task = (image b, strip of output rows).  Each output row is the vertical pass over
    # its input rows y + ty[t] (read in place through per-row offsets, see _sep_vpass) into a
    # line at offset ox, padded by tabx with cval2, then the horizontal pass (taps at columns
    # offh[t]) over that line.  The arithmetic of each pass is that of one correlate1d pass
    # (same taps, same order, same expressions), so the result equals the two passes bit for
    # bit.  Rows of src and out are at any pitch (sb, sr: image and row pitch of src in
    # samples; ob, orow: of out), so views into larger images are read and written in place.
    # Halos (nl = ox columns at hl, nr = kh - 1 - ox columns at hr, with their own pitches
    # lb/lr and rb/rr_; 0 when absent) are the columns beyond the image's left and right
    # edges, taken from a neighbouring image (a dask chunk's neighbours): they are filtered
    # vertically like the image's own columns and take the place of the x table's padding,
    # so the outputs near those edges are the ones of the larger image.  Lines: lpitch apart.
    # nonfinite (NULL: not asked): set when a vertically filtered sample of the image's own
    # columns is NaN or infinite (scanned in the line, in cache).  With consecutive taps
    # (dense) only every nv-th row and the last are scanned: a NaN or infinite input sample
    # makes every output whose window holds it NaN or infinite (x * w is, for any weight,
    # and so is any sum with it), and each input row lies in the windows of nv consecutive
    # output rows, or of a run that starts at the first or ends at the last
    cdef Py_ssize_t si, b, y0, rows, r, g, k, yy
    si = task % nstrips
    b = task // nstrips
    y0 = si * strip
    rows = H - y0
    if rows > strip:
        rows = strip
    if ring != NULL:
        for k in range(nv + 3):
            tags[k] = -1
    r = 0
    while r < rows:
        g = rows - r
        if g > 4:
            g = 4
        _sep_vpass(src + b * sb, sr, W, line + ox, lpitch, g, y0 + r, tile, rowp, roff, taby,
                   W, wy, ty, nv, dense, offv, cval, ring, rpitch, tags, rowp + nv + 3,
                   H + nv - 1)
        if nl:
            _sep_vpass(hl + b * lb, lr, nl, line + ox - nl, lpitch, g, y0 + r, tile, rowp, roff,
                       taby, W, wy, ty, nv, dense, offv, cval)
        if nr:
            _sep_vpass(hr + b * rb, rr_, nr, line + ox + W, lpitch, g, y0 + r, tile, rowp,
                       roff, taby, W, wy, ty, nv, dense, offv, cval)
        if nonfinite != NULL:
            for k in range(g):
                yy = y0 + r + k
                if not dense or yy % nv == 0 or yy == H - 1:
                    nonfinite[0] |= _nonfinite_run(line + k * lpitch + ox, W)
        for k in range(g):
            _sep_pad_line(line + k * lpitch, ox, W, kh, tabx, cval2, nl != 0, nr != 0)
            _row_taps_out(out + b * ob + (y0 + r + k) * orow, line + k * lpitch, offh, wx, nh,
                          W, stream, div)
        r = r + g
    if stream:
        _sfence()   # the streamed stores are ordered before the task's end


cdef enum:
    # L1 sets and ways of the data caches the ring copy is for (32 KB, 8-way, 64-byte lines)
    L1_SETS = 64
    L1_WAYS = 8


cdef inline bint _rows_collide(Py_ssize_t pitch, Py_ssize_t nrows) noexcept nogil:
    # whether nrows rows pitch bytes apart, read two cache lines each at the same column (a
    # tile of _vrows4), need more lines of one L1 set than it has ways: a pitch that is a
    # multiple of 4 KB (2048- or 8192-wide float32 images) puts all of them in one set.
    # (Rows in reverse order, a negative pitch, fall into the same sets mirrored.)
    cdef int cnt[L1_SETS]
    cdef Py_ssize_t k, st
    cdef int most = 0
    if pitch < 0:
        pitch = -pitch
    memset(cnt, 0, sizeof(cnt))
    for k in range(nrows):
        st = (k * pitch // CACHE_LINE) % L1_SETS
        cnt[st] += 1
        cnt[(st + 1) % L1_SETS] += 1
        if cnt[st] > most:
            most = cnt[st]
        if cnt[(st + 1) % L1_SETS] > most:
            most = cnt[(st + 1) % L1_SETS]
    return most > L1_WAYS


cdef int _sep2d(const real[:, :, :] src, real[:, :, :] out, const Py_ssize_t[::1] taby,
                const Py_ssize_t[::1] tabx, Py_ssize_t ox, const real[::1] wy,
                const Py_ssize_t[::1] ty, Py_ssize_t kv, const real[::1] wx,
                const Py_ssize_t[::1] tx, Py_ssize_t kh, double cval, double cval2,
                Py_ssize_t strip, int num_threads, const real[:, :, :] left,
                const real[:, :, :] right, bint check, bint stream, double div) except -1:
    # 1 when check is on and a vertically filtered sample was NaN or infinite, else 0;
    # div != 0: every output divided by it (see _row_taps_out)
    cdef Py_ssize_t B = src.shape[0], H = src.shape[1], W = src.shape[2]
    cdef Py_ssize_t nl = left.shape[2], nr = right.shape[2]
    cdef const real* hl = NULL
    cdef const real* hr = NULL
    cdef Py_ssize_t lb = 0, lr = 0, rb = 0, rr_ = 0
    cdef Py_ssize_t nv = wy.shape[0], nh = wx.shape[0]
    cdef Py_ssize_t sb = src.strides[0] // <Py_ssize_t>sizeof(real)
    cdef Py_ssize_t sr = src.strides[1] // <Py_ssize_t>sizeof(real)
    cdef Py_ssize_t ob = out.strides[0] // <Py_ssize_t>sizeof(real)
    cdef Py_ssize_t orow = out.strides[1] // <Py_ssize_t>sizeof(real)
    cdef Py_ssize_t nstrips, ntasks, task, per, i, t0, t1, per_round, lpitch, chunk
    cdef Py_ssize_t* offs = NULL
    cdef const real** ptrs = NULL
    cdef real* scratch = NULL
    cdef void* sblock = NULL
    cdef int* bad = NULL
    cdef bint dense
    cdef int found = 0
    cdef Py_ssize_t rpitch = 0, nring = 0, row_bytes
    if B == 0 or H == 0 or W == 0 or nv == 0 or nh == 0:
        return 0
    if W > 1 and (src.strides[2] != sizeof(real) or out.strides[2] != sizeof(real)):
        raise ValueError("pyconv: sep2d needs rows of contiguous samples")
    # halo columns: all of the left reach (ox) or none, all of the right reach or none, as
    # many images and rows as src, no wider than src (they share its tile rows)
    if nl:
        if nl != ox or nl > W or left.shape[0] != B or left.shape[1] != H or \
                (nl > 1 and left.strides[2] != sizeof(real)):
            raise ValueError("pyconv: sep2d left halo does not match the image")
        hl = &left[0, 0, 0]
        lb = left.strides[0] // <Py_ssize_t>sizeof(real)
        lr = left.strides[1] // <Py_ssize_t>sizeof(real)
    if nr:
        if nr != kh - 1 - ox or nr > W or right.shape[0] != B or right.shape[1] != H or \
                (nr > 1 and right.strides[2] != sizeof(real)):
            raise ValueError("pyconv: sep2d right halo does not match the image")
        hr = &right[0, 0, 0]
        rb = right.strides[0] // <Py_ssize_t>sizeof(real)
        rr_ = right.strides[1] // <Py_ssize_t>sizeof(real)
    nstrips = (H + strip - 1) // strip
    ntasks = B * nstrips
    if num_threads > ntasks:
        num_threads = <int>ntasks
    # per thread: kv rows (constant-mode edges only) and four padded rows (lpitch apart);
    # nv row offsets and nv + 3 row pointers
    lpitch = ((W + kh - 1) * <Py_ssize_t>sizeof(real) + 63) // 64 * 64 // sizeof(real)
    dense = True
    for i in range(nv):
        if ty[i] != i:
            dense = False
    # the ring of input rows (see _sep_vpass) for wide rows; its pitch one that does not
    # crowd the rows of four output rows' windows into a few L1 sets (_rows_collide)
    row_bytes = W * <Py_ssize_t>sizeof(real)
    if dense and nv + 3 <= RING_MAX_ROWS and (row_bytes >= RING_MIN_BYTES or (
            row_bytes >= RING_NARROW_BYTES and B * H * row_bytes >= RING_FAR_BYTES)):
        nring = nv + 3
        rpitch = (row_bytes + 63) // 64 * 64
        while _rows_collide(rpitch, nring):
            rpitch = rpitch + 64
        rpitch = rpitch // <Py_ssize_t>sizeof(real)
    per = ((kv * W + 4 * lpitch + nring * rpitch) * <Py_ssize_t>sizeof(real) + 63) // 64 * 64 \
        // sizeof(real)
    scratch = <real*>_alloc_lines(<size_t>(num_threads * per) * sizeof(real), False, &sblock)
    offs = <Py_ssize_t*>malloc(<size_t>(nh + nv + num_threads * (nv + nring)) *
                               sizeof(Py_ssize_t))
    # (row pointers: nv + 3 of the rows read, nv + 3 of the ring slots they are copied to)
    ptrs = <const real**>malloc(<size_t>(num_threads * 2 * (nv + 3)) * sizeof(real*))
    # a flag per thread, 16 ints apart (own cache line)
    bad = <int*>calloc(<size_t>(16 * num_threads), sizeof(int))
    if scratch == NULL or offs == NULL or ptrs == NULL or bad == NULL:
        free(sblock)
        free(offs)
        free(ptrs)
        free(bad)
        raise MemoryError("pyconv: cannot allocate the separable filter's scratch space")
    for i in range(nv):
        offs[i] = ty[i] * W
    for i in range(nh):
        offs[nv + i] = tx[i]
    per_round = _round_tasks(ntasks, strip * W * (nv + nh), num_threads, &chunk)
    t0 = 0
    while t0 < ntasks:
        t1 = t0 + per_round
        if t1 > ntasks:
            t1 = ntasks
        with nogil:
            for task in prange(t0, t1, schedule='dynamic', chunksize=chunk,
                               num_threads=num_threads, use_threads_if=num_threads > 1):
                _sep_task(task, &src[0, 0, 0], &out[0, 0, 0],
                          scratch + omp_get_thread_num() * per,
                          scratch + omp_get_thread_num() * per + kv * W, lpitch,
                          ptrs + omp_get_thread_num() * 2 * (nv + 3),
                          offs + nh + nv + omp_get_thread_num() * nv,
                          &taby[0], &tabx[0], ox, H, W, sb, sr, ob, orow, strip, nstrips,
                          &wy[0], &ty[0], nv, dense, offs, &wx[0], kh, nh, offs + nv,
                          <real>cval, <real>cval2, hl, nl, lb, lr, hr, nr, rb, rr_,
                          bad + 16 * omp_get_thread_num() if check else NULL,
                          scratch + omp_get_thread_num() * per + kv * W + 4 * lpitch
                          if nring else NULL, rpitch,
                          offs + nh + nv + num_threads * nv + omp_get_thread_num() * nring,
                          stream, <real>div)
        t0 = t1
        if t0 < ntasks and PyErr_CheckSignals() != 0:
            free(sblock)
            free(offs)
            free(ptrs)
            free(bad)
            return -1
    for i in range(num_threads):
        found = found | bad[16 * i]
    free(sblock)
    free(offs)
    free(ptrs)
    free(bad)
    return found


def sep2d_f32(const float[:, :, :] src, float[:, :, :] out, const Py_ssize_t[::1] taby,
              const Py_ssize_t[::1] tabx, Py_ssize_t ox, const float[::1] wy,
              const Py_ssize_t[::1] ty, Py_ssize_t kv, const float[::1] wx,
              const Py_ssize_t[::1] tx, Py_ssize_t kh, double cval, double cval2,
              Py_ssize_t strip, int num_threads, const float[:, :, :] left,
              const float[:, :, :] right, bint check=False, bint stream=False,
              double div=0):
    """float32 version of :func:`sep2d_f64`."""
    return _sep2d(src, out, taby, tabx, ox, wy, ty, kv, wx, tx, kh, cval, cval2, strip,
                  num_threads, left, right, check, stream, div) == 0


def sep2d_f64(const double[:, :, :] src, double[:, :, :] out, const Py_ssize_t[::1] taby,
              const Py_ssize_t[::1] tabx, Py_ssize_t ox, const double[::1] wy,
              const Py_ssize_t[::1] ty, Py_ssize_t kv, const double[::1] wx,
              const Py_ssize_t[::1] tx, Py_ssize_t kh, double cval, double cval2,
              Py_ssize_t strip, int num_threads, const double[:, :, :] left,
              const double[:, :, :] right, bint check=False, bint stream=False,
              double div=0):
    """out[b] = (taps wx at columns tx) along rows of ((taps wy at rows ty) along columns of
    src[b]), one strip of rows at a time; kv, kh are the kernels' extents (max tap + 1).

    The vertical pass reads padded row j from src row taby[j] (-1: cval); the horizontal pass
    reads padded column i of the vertically filtered row from column tabx[i] (-1: cval2),
    tabx[i] == i - ox inside the row.  Each pass sums its taps in order, exactly as
    correlate1d (or the two-tap central difference) does.  Contract: len(taby) >= H + kv - 1,
    len(tabx) >= W + kh - 1, taps within [0, kv) and [0, kh), strip >= 1; out does not
    overlap src; the image and row strides of src and out are multiples of the item size
    (rows themselves contiguous).

    left/right: the columns just beyond src's left and right edges ((B, H, ox) and
    (B, H, kh - 1 - ox), rows contiguous, any pitch), filtered like src's own columns in
    place of tabx's padding; a width-0 array (any pitch) means that side is padded by tabx.

    stream: output rows written with streaming stores where the AVX-512 one-pass sums write
    them (from each row's first 64-byte boundary; an out the caller allocated).

    div: when not 0, every output is its sum divided by div (uniform's means), the bits of
    dividing the sums afterwards.

    Returns True, or, with check, False when a vertically filtered sample of src's own
    columns was NaN or infinite (each line scanned while in cache).
    """
    return _sep2d(src, out, taby, tabx, ox, wy, ty, kv, wx, tx, kh, cval, cval2, strip,
                  num_threads, left, right, check, stream, div) == 0


# ---- edge magnitude: sqrt(g0^2 + g1^2 [+ g2^2]) / norm in one threaded pass ---------------

cdef enum:
    MAG_CHUNK = 16384


cdef inline real _root(real s) noexcept nogil:
    if real is float:
        return sqrtf(s)
    else:
        return sqrt(s)


cdef inline void _magnitude_chunk(const real* g0, const real* g1, const real* g2, int k,
                                  real* out, Py_ssize_t n, real norm) noexcept nogil:
    # per element: the squares summed in axis order, the root, the division by norm, each
    # in real (as NumPy's g*g, add, sqrt, divide did, up to the compiler's use of FMA)
    cdef Py_ssize_t i
    cdef real s
    if k == 2:
        for i in range(n):
            s = g0[i] * g0[i]
            s = s + g1[i] * g1[i]
            out[i] = _root(s) / norm
    else:
        for i in range(n):
            s = g0[i] * g0[i]
            s = s + g1[i] * g1[i]
            s = s + g2[i] * g2[i]
            out[i] = _root(s) / norm


cdef int _magnitude(const real[::1] g0, const real[::1] g1, const real[::1] g2, int k,
                    real[::1] out, double norm, int num_threads) except -1:
    cdef Py_ssize_t n = out.shape[0], nchunks, c, lo, m
    if n == 0:
        return 0
    nchunks = (n + MAG_CHUNK - 1) // MAG_CHUNK
    if num_threads > nchunks:
        num_threads = <int>nchunks
    with nogil:
        for c in prange(nchunks, schedule='static', num_threads=num_threads,
                        use_threads_if=num_threads > 1):
            lo = c * MAG_CHUNK
            m = n - lo
            if m > MAG_CHUNK:
                m = MAG_CHUNK
            _magnitude_chunk(&g0[lo], &g1[lo], &g2[lo], k, &out[lo], m, <real>norm)
    return 0


def magnitude_f32(const float[::1] g0, const float[::1] g1, const float[::1] g2, int k,
                  float[::1] out, double norm, int num_threads):
    """float32 version of :func:`magnitude_f64`."""
    _magnitude(g0, g1, g2, k, out, norm, num_threads)


def magnitude_f64(const double[::1] g0, const double[::1] g1, const double[::1] g2, int k,
                  double[::1] out, double norm, int num_threads):
    """out = sqrt(g0**2 + ... + g{k-1}**2) / norm elementwise (k = 2 or 3; with k = 2, g2
    is not read and may repeat g0); out may be g0.  One pass, threaded, no temporaries."""
    _magnitude(g0, g1, g2, k, out, norm, num_threads)


# ---- 2-D edge magnitude (Sobel, Scharr, Prewitt) in one sweep -----------------------------

cdef enum:
    EDGE_BLOCK = 1024

cdef inline Py_ssize_t _edge_row(real* o, const real* r0, const real* r1, const real* r2,
                                 Py_ssize_t C, Py_ssize_t L, real w0, real w1, real w2,
                                 real half, const real* pf, Py_ssize_t x0,
                                 bint nt) noexcept nogil:
    if real is float:
        return _edge_row_f(o, r0, r1, r2, C, L, w0, w1, w2, half, pf, x0, nt)
    else:
        return _edge_row_d(o, r0, r1, r2, C, L, w0, w1, w2, half, pf, x0, nt)


cdef inline void _edge_blocks(Py_ssize_t i0, Py_ssize_t iend, const real* r0, const real* r1,
                              const real* r2, real* ls, real* ld, real* lo, real* o,
                              const real* row, Py_ssize_t C, Py_ssize_t L, Py_ssize_t ostep,
                              real w0, real w1, real w2, real half) noexcept nogil:
    # output samples [i0, iend) of a row of _edge_task, in blocks of EDGE_BLOCK samples: the
    # block's vertical sums S and D into ls / ld (with C samples either side; the padding
    # samples are there already) and its magnitudes, while the block's lines are in L1.
    # row (NULL: none): the row the next output row adds, fetched block by block
    cdef Py_ssize_t i, i1, lo_i, hi_i
    cdef real gx, gy, s
    cdef real* dst = o if ostep == 1 else lo    # (a line, copied out, when not contiguous)
    while i0 < iend:
        i1 = i0 + EDGE_BLOCK
        if i1 > iend:
            i1 = iend
        if row != NULL:
            i = i0
            while i < i1:
                _prefetch(row + i)
                i = i + CACHE_LINE // <Py_ssize_t>sizeof(real)
        lo_i = i0 - C if i0 >= C else 0
        hi_i = i1 + C if i1 + C <= L else L
        for i in range(lo_i, hi_i):
            ls[i + C] = w0 * r0[i] + w1 * r1[i] + w2 * r2[i]
            ld[i + C] = -r0[i] + r2[i]
        for i in range(i0, i1):
            gx = -ls[i] + ls[i + 2 * C]
            gy = w0 * ld[i] + w1 * ld[i + C] + w2 * ld[i + 2 * C]
            s = gy * gy
            s = s + gx * gx
            dst[i] = _root(s * half)
        if ostep != 1:
            for i in range(i0, i1):
                o[i * ostep] = lo[i]
        i0 = i1


cdef inline void _edge_task(Py_ssize_t task, const real* src, real* out, real* tile,
                            real* lines, const Py_ssize_t* taby, const Py_ssize_t* tabx,
                            const Py_ssize_t* ss, const Py_ssize_t* os,
                            Py_ssize_t H, Py_ssize_t W, Py_ssize_t C, Py_ssize_t strip,
                            Py_ssize_t nstrips, real w0, real w1, real w2, real cval,
                            real cval_s, real half, bint stream) noexcept nogil:
    # One task = (image b, strip of output rows).  A row holds L = W*C samples: W pixels of
    # C interleaved channels (C > 1: a channel-last image, filtered per channel; x-neighbours
    # are C samples apart).  Per output row y, from its rows above, at and below (read in
    # place when contiguous, else gathered once per strip into the tile; a cval row where the
    # y table says -1):
    #   S = w0*above + w1*at + w2*below   (vertical smoothing, for d/dx)
    #   D = -above + below                (vertical central difference, for d/dy)
    # each padded by one pixel on either side through the x table (S with cval_s, the value
    # the n-D correlation gives there; D with 0); then per sample
    #   gx = -S[x-1] + S[x+1],  gy = w0*D[x-1] + w1*D[x] + w2*D[x+1]
    #   out = sqrt((gy*gy + gx*gx) * half)      (half = 1/2: exact, one rounding less than
    #                                            dividing the root by sqrt(2))
    # written in place, or through a line when the output's samples are not contiguous.
    # The AVX-512 module sweeps the interior of a row written in place in registers
    # (pyconv_edge_row: the same operations, no line of S and D; with stream, from the
    # row's first 64-byte boundary after its first vector on, with streaming stores); the
    # blocks of _edge_blocks take the rest.  ss / os: element strides (image, row, sample) of src and
    # out.
    cdef Py_ssize_t si, b, y0, rows, r, i, t, yi, j, c, e0, e1
    cdef Py_ssize_t L = W * C
    cdef const real* rp[3]
    cdef const real* row
    cdef const real* r0
    cdef const real* r1
    cdef const real* r2
    # S and D, padded by C samples either side, and an output line; the samples S[0] and
    # D[0] (at ls + C, ld + C) start cache lines, so the sweeps' stores into them are aligned
    cdef Py_ssize_t V = CACHE_LINE // <Py_ssize_t>sizeof(real)
    cdef Py_ssize_t span = (L + 2 * C + V - 1) // V * V
    cdef real* ls = <real*>((<size_t>(lines + C) + (CACHE_LINE - 1)) &
                            ~(<size_t>(CACHE_LINE - 1))) - C
    cdef real* ld = ls + span
    cdef real* lo = ld + span
    cdef real* o
    cdef bint gathered = ss[2] != 1
    si = task % nstrips
    b = task // nstrips
    y0 = si * strip
    rows = H - y0
    if rows > strip:
        rows = strip
    if gathered:
        # the strip's rows y0 - 1 .. y0 + rows, contiguous (cval rows included)
        for j in range(rows + 2):
            yi = taby[y0 + j]
            if yi < 0:
                for i in range(L):
                    tile[j * L + i] = cval
            else:
                row = src + b * ss[0] + yi * ss[1]
                for i in range(L):
                    tile[j * L + i] = row[i * ss[2]]
    else:
        for i in range(L):
            tile[i] = cval
    for r in range(rows):
        for t in range(3):
            if gathered:
                rp[t] = tile + (r + t) * L
            else:
                yi = taby[y0 + r + t]
                rp[t] = tile if yi < 0 else src + b * ss[0] + yi * ss[1]
        # the padding pixels straight from the rows (the x table may point anywhere in the
        # row, e.g. to its far end in 'wrap' mode), so the row can be swept in blocks
        for c in range(C):
            j = tabx[0]
            if j < 0:
                ls[c] = cval_s
                ld[c] = 0
            else:
                i = j * C + c
                ls[c] = w0 * rp[0][i] + w1 * rp[1][i] + w2 * rp[2][i]
                ld[c] = -rp[0][i] + rp[2][i]
            j = tabx[W + 1]
            if j < 0:
                ls[L + C + c] = cval_s
                ld[L + C + c] = 0
            else:
                i = j * C + c
                ls[L + C + c] = w0 * rp[0][i] + w1 * rp[1][i] + w2 * rp[2][i]
                ld[L + C + c] = -rp[0][i] + rp[2][i]
        o = out + b * os[0] + (y0 + r) * os[1]
        r0 = rp[0]      # in locals: GCC reloads rp[t] from the stack after each store
        r1 = rp[1]
        r2 = rp[2]
        # the row the next output row adds (read in place), fetched block by block
        row = NULL
        if not gathered and r + 1 < rows and taby[y0 + r + 3] >= 0:
            row = src + b * ss[0] + taby[y0 + r + 3] * ss[1]
        # the AVX-512 sweep takes the row's interior in registers (samples [e0, e1)); the
        # blocks below the rest (or the whole row)
        e1 = 0
        e0 = 64 // <Py_ssize_t>sizeof(real)
        if stream:
            # (streaming stores need whole aligned vectors)
            e0 = e0 + _to_line(o + e0, sizeof(real))
        if os[2] == 1 and PYCONV_SIMD_ROWS:
            e1 = _edge_row(o, r0, r1, r2, C, L, w0, w1, w2, half, row, e0, stream)
        if e1 == 0:
            e0 = L
        _edge_blocks(0, e0, r0, r1, r2, ls, ld, lo, o, row, C, L, os[2], w0, w1, w2, half)
        if e1 > 0:
            _edge_blocks(e1, L, r0, r1, r2, ls, ld, lo, o, NULL, C, L, os[2], w0, w1, w2,
                         half)
    if stream:
        _sfence()   # the streamed stores are ordered before the task's end


cdef int _edge2d(const real[:, :, :] src, real[:, :, :] out, const Py_ssize_t[::1] taby,
                 const Py_ssize_t[::1] tabx, Py_ssize_t C, const real[::1] w, double cval,
                 double cval_s, double half, Py_ssize_t strip, int num_threads,
                 bint stream) except -1:
    cdef Py_ssize_t B = src.shape[0], H = src.shape[1], L = src.shape[2]
    cdef Py_ssize_t W = L // C
    cdef Py_ssize_t nstrips, ntasks, task, per, t0, t1, per_round, a, tile_len, chunk
    cdef Py_ssize_t ss[3]
    cdef Py_ssize_t os[3]
    cdef real* scratch = NULL
    cdef void* sblock = NULL
    if B == 0 or H == 0 or L == 0:
        return 0
    if not PYCONV_SIMD_ROWS:
        stream = False      # (only the AVX-512 rows stream)
    for a in range(3):  # byte strides -> element strides (pyconv passes itemsize multiples)
        ss[a] = src.strides[a] // <Py_ssize_t>sizeof(real)
        os[a] = out.strides[a] // <Py_ssize_t>sizeof(real)
    nstrips = (H + strip - 1) // strip
    ntasks = B * nstrips
    if num_threads > ntasks:
        num_threads = <int>ntasks
    # per thread: the tile (a cval row, or the strip's gathered rows), then the two padded
    # lines and an output line, each thread on its own 64-byte lines
    tile_len = (strip + 2) * L if ss[2] != 1 else L
    per = ((tile_len + 3 * L + 4 * C + 4 * CACHE_LINE // <Py_ssize_t>sizeof(real))
           * <Py_ssize_t>sizeof(real) + 63) // 64 * 64 \
        // sizeof(real)
    scratch = <real*>_alloc_lines(<size_t>(num_threads * per) * sizeof(real), False, &sblock)
    if scratch == NULL:
        raise MemoryError("pyconv: cannot allocate the edge filter's scratch space")
    per_round = _round_tasks(ntasks, strip * L * 12, num_threads, &chunk)
    t0 = 0
    while t0 < ntasks:
        t1 = t0 + per_round
        if t1 > ntasks:
            t1 = ntasks
        with nogil:
            for task in prange(t0, t1, schedule='dynamic', chunksize=chunk,
                               num_threads=num_threads, use_threads_if=num_threads > 1):
                _edge_task(task, &src[0, 0, 0], &out[0, 0, 0],
                           scratch + omp_get_thread_num() * per,
                           scratch + omp_get_thread_num() * per + tile_len,
                           &taby[0], &tabx[0], ss, os, H, W, C, strip, nstrips,
                           w[0], w[1], w[2], <real>cval, <real>cval_s, <real>half, stream)
        t0 = t1
        if t0 < ntasks and PyErr_CheckSignals() != 0:
            free(sblock)
            return -1
    free(sblock)
    return 0


def edge2d_f32(const float[:, :, :] src, float[:, :, :] out, const Py_ssize_t[::1] taby,
               const Py_ssize_t[::1] tabx, Py_ssize_t C, const float[::1] w, double cval,
               double cval_s, double half, Py_ssize_t strip, int num_threads,
               bint stream=False):
    """float32 version of :func:`edge2d_f64`."""
    _edge2d(src, out, taby, tabx, C, w, cval, cval_s, half, strip, num_threads, stream)


def edge2d_f64(const double[:, :, :] src, double[:, :, :] out,
               const Py_ssize_t[::1] taby, const Py_ssize_t[::1] tabx, Py_ssize_t C,
               const double[::1] w, double cval, double cval_s, double half, Py_ssize_t strip,
               int num_threads, bint stream=False):
    """Edge magnitude of each (H, W) image of src: sqrt((gy**2 + gx**2) * half) with
    gy = the 3 smoothing weights ``w`` along x of the central difference along y, and gx the
    other way round.  src and out: (B, H, W*C), C channels interleaved in a row (C = 1: one
    plane), any strides that are multiples of the item size; out must not overlap src.
    taby / tabx: source index of padded positions -1 .. H (W) (-1: cval); cval_s = cval *
    sum(w) pads the smoothed rows.  stream: the AVX-512 module writes the interiors of
    contiguous output rows with streaming stores (an ``out`` whose lines are not in cache)."""
    _edge2d(src, out, taby, tabx, C, w, cval, cval_s, half, strip, num_threads, stream)


# ---- any non-finite sample: one threaded read, no temporary --------------------------------

cdef enum:
    FINITE_CHUNK = 65536


cdef inline int _nonfinite32(const uint32_t* b, Py_ssize_t n) noexcept nogil:
    # an exponent field of all ones is Inf or NaN; compare-and-or vectorises (an unsigned
    # 64-bit max does not, before AVX-512)
    cdef uint32_t m = 0, e = 0x7f800000
    cdef Py_ssize_t i
    for i in range(n):
        m |= (b[i] & e) == e
    return m != 0


cdef inline int _nonfinite64(const uint64_t* b, Py_ssize_t n) noexcept nogil:
    cdef uint64_t m = 0, e = 0x7ff0000000000000
    cdef Py_ssize_t i
    for i in range(n):
        m |= (b[i] & e) == e
    return m != 0


cdef inline int _nonfinite_run(const real* x, Py_ssize_t n) noexcept nogil:
    # 1 when one of x[0 .. n-1] is NaN or infinite
    if real is float:
        return _nonfinite32(<const uint32_t*>x, n)
    else:
        return _nonfinite64(<const uint64_t*>x, n)


cdef bint _any_nonfinite(const real[::1] x, int num_threads):
    cdef Py_ssize_t n = x.shape[0], nchunks, c, lo, m
    cdef int found = 0
    if n == 0:
        return False
    nchunks = (n + FINITE_CHUNK - 1) // FINITE_CHUNK
    if num_threads > nchunks:
        num_threads = <int>nchunks
    with nogil:
        for c in prange(nchunks, schedule='static', num_threads=num_threads,
                        use_threads_if=num_threads > 1):
            lo = c * FINITE_CHUNK
            m = n - lo
            if m > FINITE_CHUNK:
                m = FINITE_CHUNK
            if real is float:
                found += _nonfinite32(<const uint32_t*>&x[lo], m)
            else:
                found += _nonfinite64(<const uint64_t*>&x[lo], m)
    return found > 0


def any_nonfinite_f32(const float[::1] x, int num_threads):
    """float32 version of :func:`any_nonfinite_f64`."""
    return _any_nonfinite(x, num_threads)


def any_nonfinite_f64(const double[::1] x, int num_threads):
    """Whether any sample is NaN or +-Inf (its exponent field all ones), read once in
    chunks over the threads (native byte order)."""
    return _any_nonfinite(x, num_threads)
