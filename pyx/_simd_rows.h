/* Row sweeps of the separable and 1-D passes in AVX-512, written once for float32 and
   float64: _kernels.pxi includes this file twice, with PYCONV_SFX (f or d), PYCONV_T, the
   vector type PYCONV_V, its lanes PYCONV_L, its mask type PYCONV_M and the operations
   PYCONV_LOADU ... PYCONV_ALIGNR defined, which it undefines at its end.  Without AVX-512
   the entry points decline (return 0) and the plain Cython loops run.

   pyconv_taps_consec_<sfx>: sums of up to PYCONV_KMAX (17) taps at consecutive offsets (a
   pass along the last axis) in one pass over the row, a whole sum or a group of taps added
   to partial sums.  An unaligned 512-bit load spans two cache lines at every offset but
   one, which halves the load rate, so the odd taps' vectors below the lanes are shifted
   out of two loaded vectors (valignd / valignq) and only the other taps are loaded: the
   loads and the shuffles run on different units.

   pyconv_vrows4_<sfx>: the vertical pass of four output rows (_vrows4) as register tiles:
   rows r = 0..3 of two vectors of columns in eight accumulators, each input row's vectors
   loaded once and fed to the four sums that use it (row r takes tap j - r of input row j);
   odd tap counts up to 17 with the count compiled in.

   pyconv_grid_rows_<sfx>: the correlation with a small whole grid of taps (kd x kh x kw,
   kw <= 8, too few taps for _dense_rows3) for up to eight output rows: per tile of two
   vectors of columns each input row is loaded once (three vectors), its kw shifts built
   with valignd / valignq, and each shift fed to every row whose window holds that input
   row, the eight sums in registers.  Rows of at most one vector of outputs (small planes)
   run eight at a time, one accumulator each, every row loading its own input rows: the
   tests of which rows a loaded row feeds had cost more than the loads they saved.  The
   plain loops sweep each output row once per group of eight taps, loading and storing its
   partial sums each time.  nt: whole vectors at 64-byte boundaries of the output are
   written with streaming stores (an out= the caller passed).

   pyconv_dense3_<sfx>: _dense_rows3's register tiles (three output rows of a dense grid of
   40 taps or more, each loaded vector feeding up to three rows) four vectors wide.

   pyconv_edge_row_<sfx>: the interior of one output row of the 2-D edge magnitude (Sobel,
   Scharr, Prewitt) with its vertical sums and differences in registers.

   pyconv_planes_<sfx>: planes whose rows are at most one vector of outputs (a depthwise
   layer's 14x14 or 7x7 planes), zero padding, stride 1 or 2: four output rows in
   registers, each input row loaded once and its shifts (or every-other-column gathers)
   fed to the rows whose windows hold it, with pyconv_grid1_kw's sums.

   All of them form the sums the plain loops compile to (GCC, contraction on): one multiply-add
   per tap in tap order onto the partial sum, and for a first group of taps the first
   product fused with the second as its addend (w0 s0 alone for a group of one; the dense
   tiles' sums start from zero, as _dense_rows3's), so every path gives the same bits
   (tested: a pass along columns equals the transposed pass along rows, fused passes equal
   chained ones, four rows at a time equal rows alone, the AVX-512 module equals the AVX2
   module's loops in tests/test_grid_sweep.py). */

#define PYCONV_CAT_(a, b) a##_##b
#define PYCONV_CAT(a, b) PYCONV_CAT_(a, b)
#define PYCONV_FN(name) PYCONV_CAT(name, PYCONV_SFX)

#if defined(__AVX512F__)

/* the lanes l of a vector with a <= l < b */
static inline PYCONV_M PYCONV_FN(pyconv_span)(Py_ssize_t a, Py_ssize_t b)
{
    if (a < 0)
        a = 0;
    if (b > PYCONV_L)
        b = PYCONV_L;
    if (b <= a)
        return (PYCONV_M)0;
    return (PYCONV_M)(((1u << b) - 1u) & ~((1u << a) - 1u));
}

/* a whole vector at p with a streaming store where p is at a 64-byte boundary, else an
   ordinary store */
static inline __attribute__((always_inline)) void PYCONV_FN(pyconv_stream_v)(PYCONV_T* p,
                                                                        PYCONV_V v)
{
    if (((uintptr_t)p & 63) == 0)
        PYCONV_STREAM(p, v);
    else
        PYCONV_STOREU(p, v);
}

/* one of rows r = 0..3 at input row j (tap t = j - r), outside the steady state: nothing
   before its first tap or after its last, a lone first tap, the fused first pair (p: input
   row j - 1, the pair's first tap), or a multiply-add */
#define PYCONV_VT_STEP(r) \
    if (j - (r) >= 0 && j - (r) < ntaps) { \
        Py_ssize_t t = j - (r); \
        if (t == 0) { \
            if (g0 == 1) { \
                a##r##0 = PYCONV_MUL(PYCONV_SET1(w[0]), v0); \
                a##r##1 = PYCONV_MUL(PYCONV_SET1(w[0]), v1); \
            } \
        } else if (t == 1 && g0 > 1) { \
            a##r##0 = PYCONV_FMA(PYCONV_SET1(w[0]), p0, PYCONV_MUL(PYCONV_SET1(w[1]), v0)); \
            a##r##1 = PYCONV_FMA(PYCONV_SET1(w[0]), p1, PYCONV_MUL(PYCONV_SET1(w[1]), v1)); \
        } else { \
            a##r##0 = PYCONV_FMA(PYCONV_SET1(w[t]), v0, a##r##0); \
            a##r##1 = PYCONV_FMA(PYCONV_SET1(w[t]), v1, a##r##1); \
        } \
    }

/* input row j of the tile at x0: its two vectors, fed to the rows whose windows hold it */
#define PYCONV_VT_ROW { \
        const PYCONV_T* rj = rows[j] + x0; \
        v0 = PYCONV_MLOADU(m0, rj); \
        v1 = PYCONV_MLOADU(m1, rj + PYCONV_L); \
        if (j >= 5 && j < ntaps) { \
            /* every row past its first pair: one multiply-add each */ \
            PYCONV_V b0 = PYCONV_SET1(w[j]), b1 = PYCONV_SET1(w[j - 1]); \
            PYCONV_V b2 = PYCONV_SET1(w[j - 2]), b3 = PYCONV_SET1(w[j - 3]); \
            a00 = PYCONV_FMA(b0, v0, a00); \
            a01 = PYCONV_FMA(b0, v1, a01); \
            a10 = PYCONV_FMA(b1, v0, a10); \
            a11 = PYCONV_FMA(b1, v1, a11); \
            a20 = PYCONV_FMA(b2, v0, a20); \
            a21 = PYCONV_FMA(b2, v1, a21); \
            a30 = PYCONV_FMA(b3, v0, a30); \
            a31 = PYCONV_FMA(b3, v1, a31); \
        } else { \
            PYCONV_VT_STEP(0) \
            PYCONV_VT_STEP(1) \
            PYCONV_VT_STEP(2) \
            PYCONV_VT_STEP(3) \
        } \
        p0 = v0; \
        p1 = v1; \
    }

/* pyconv_vrows4 for ntaps = KN (a constant: the loop over input rows unrolls and the tests
   of which rows a row feeds fold away; measured in a C loop, 2048 columns: 17 taps 79% ->
   100% of the multiply-add rate, 9 taps 59% -> 94%, 5 taps 43% -> 69%), or KN = 0: ntaps
   as given */
static inline __attribute__((always_inline)) void PYCONV_FN(pyconv_vrows4_k)(
        PYCONV_T* o, Py_ssize_t opitch, const PYCONV_T** rows, const PYCONV_T* w,
        Py_ssize_t ntaps_, Py_ssize_t n, const PYCONV_T** pf, const int KN)
{
    const Py_ssize_t ntaps = KN ? KN : ntaps_;
    Py_ssize_t x0, j, g0;
    PYCONV_M m0, m1;
    g0 = ntaps % 8;
    if (g0 == 0 || g0 > 4)
        g0 = 4;
    for (x0 = 0; x0 < n; x0 += 2 * PYCONV_L) {
        PYCONV_V a00 = PYCONV_ZERO(), a01 = a00, a10 = a00, a11 = a00;
        PYCONV_V a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        PYCONV_V v0, v1, p0 = a00, p1 = a00;
        Py_ssize_t left = n - x0;
        m0 = PYCONV_FN(pyconv_span)(0, left);
        m1 = PYCONV_FN(pyconv_span)(0, left - PYCONV_L);
        if (pf != NULL && x0 + 2 * PYCONV_L <= n) {
            _Pragma("GCC unroll 4")
            for (int q = 0; q < 4; q++) {
                _mm_prefetch((const char*)(pf[q] + x0), _MM_HINT_T0);
                _mm_prefetch((const char*)(pf[q] + x0 + PYCONV_L), _MM_HINT_T0);
            }
        }
        if (KN) {
            _Pragma("GCC unroll 20")
            for (j = 0; j < KN + 3; j++)
                PYCONV_VT_ROW
        } else {
            for (j = 0; j < ntaps + 3; j++)
                PYCONV_VT_ROW
        }
        PYCONV_MSTOREU(o + x0, m0, a00);
        PYCONV_MSTOREU(o + x0 + PYCONV_L, m1, a01);
        PYCONV_MSTOREU(o + opitch + x0, m0, a10);
        PYCONV_MSTOREU(o + opitch + x0 + PYCONV_L, m1, a11);
        PYCONV_MSTOREU(o + 2 * opitch + x0, m0, a20);
        PYCONV_MSTOREU(o + 2 * opitch + x0 + PYCONV_L, m1, a21);
        PYCONV_MSTOREU(o + 3 * opitch + x0, m0, a30);
        PYCONV_MSTOREU(o + 3 * opitch + x0 + PYCONV_L, m1, a31);
    }
}

/* o + r * opitch, r = 0..3: row r = sum over taps t of w[t] * rows[r + t][x], x < n; the
   first group of taps is ntaps % 8 (8 when that is 0), its first min(that, 4) taps summed
   as the plain loops' first group.  pf (NULL: none): four rows fetched into the caches
   (prefetch) column by column as the sweep goes (the rows the separable filter copies into
   its ring next).  Odd tap counts of 3 to 17 (the Gaussians' and most box and smoothing
   kernels') with the count compiled in (each case adds ~20 KB to the module per type).
   1 when done, 0 when not (no taps). */
static int PYCONV_FN(pyconv_vrows4)(PYCONV_T* o, Py_ssize_t opitch, const PYCONV_T** rows,
                                    const PYCONV_T* w, Py_ssize_t ntaps, Py_ssize_t n,
                                    const PYCONV_T** pf)
{
#define PYCONV_VT_CASE(k) case k: \
    PYCONV_FN(pyconv_vrows4_k)(o, opitch, rows, w, k, n, pf, k); \
    return 1;
    if (ntaps < 1)
        return 0;
    switch (ntaps) {
    PYCONV_VT_CASE(3) PYCONV_VT_CASE(5) PYCONV_VT_CASE(7) PYCONV_VT_CASE(9)
    PYCONV_VT_CASE(11) PYCONV_VT_CASE(13) PYCONV_VT_CASE(15) PYCONV_VT_CASE(17)
    }
#undef PYCONV_VT_CASE
    PYCONV_FN(pyconv_vrows4_k)(o, opitch, rows, w, ntaps, n, pf, 0);
    return 1;
}
#undef PYCONV_VT_ROW


/* the vector of consecutive samples a + k, k < PYCONV_L, from the vectors A (a[0 ..]) and
   B (the next): a constant k after inlining, so the switch folds to one shift */
static inline __attribute__((always_inline)) PYCONV_V PYCONV_FN(pyconv_shift)(
        PYCONV_V B, PYCONV_V A, const int k)
{
    switch (k) {
    case 0: return A;
    case 1: return PYCONV_ALIGNR(B, A, 1);
    case 2: return PYCONV_ALIGNR(B, A, 2);
    case 3: return PYCONV_ALIGNR(B, A, 3);
    case 4: return PYCONV_ALIGNR(B, A, 4);
    case 5: return PYCONV_ALIGNR(B, A, 5);
    case 6: return PYCONV_ALIGNR(B, A, 6);
#if PYCONV_L > 8
    case 7: return PYCONV_ALIGNR(B, A, 7);
    case 8: return PYCONV_ALIGNR(B, A, 8);
    case 9: return PYCONV_ALIGNR(B, A, 9);
    case 10: return PYCONV_ALIGNR(B, A, 10);
    case 11: return PYCONV_ALIGNR(B, A, 11);
    case 12: return PYCONV_ALIGNR(B, A, 12);
    case 13: return PYCONV_ALIGNR(B, A, 13);
    case 14: return PYCONV_ALIGNR(B, A, 14);
    default: return PYCONV_ALIGNR(B, A, 15);
#else
    default: return PYCONV_ALIGNR(B, A, 7);
#endif
    }
}

/* tap j of the outputs at s + i (A = s[i ..], B = the next vector): odd taps below the
   lanes shifted out of A and B, the others loaded */
#define PYCONV_ROW_V(j) ((j) == 0 ? A \
                         : (((j) & 1) && (j) < PYCONV_L) ? PYCONV_FN(pyconv_shift)(B, A, (j)) \
                         : PYCONV_LOADU(s + i + (j)))
#define PYCONV_ROW_M(j) PYCONV_MLOADU(m, s + i + (j))
/* the K taps of one output vector in registers, onto the partial sums a (INIT 0), or from
   the first group formed as the plain loops form it (INIT 1) */
#define PYCONV_ROW_SUM(a, V) { \
        int k0; \
        if (!INIT) { \
            k0 = 0; \
        } else if (g0 == 1) { \
            a = PYCONV_MUL(wv[0], V(0)); \
            k0 = 1; \
        } else { \
            a = PYCONV_FMA(wv[0], V(0), PYCONV_MUL(wv[1], V(1))); \
            k0 = 2; \
        } \
        _Pragma("GCC unroll 16") \
        for (int k = 0; k < K; k++) \
            if (k >= k0) \
                a = PYCONV_FMA(wv[k], V(k), a); \
    }

/* the most taps of the one-pass sums: float32's lanes + 1; float64's vectors hold 8, its
   taps from the 9th on are loaded (measured, 17 taps: the plain loops' three passes over
   each row cost more than the loads) */
#define PYCONV_KMAX 17

static inline __attribute__((always_inline)) void PYCONV_FN(pyconv_row_k)(
        PYCONV_T* o, const PYCONV_T* s, const PYCONV_T* w, Py_ssize_t n, const int K,
        const int INIT, PYCONV_T dv)
{
    PYCONV_V wv[PYCONV_KMAX], a, A, B = PYCONV_ZERO(), dvv = PYCONV_SET1(dv);
    PYCONV_M m;
    Py_ssize_t i = 0;
    int g0 = K % 8;
    if (g0 == 0 || g0 > 4)
        g0 = 4;
    _Pragma("GCC unroll 16")
    for (int k = 0; k < K; k++)
        wv[k] = PYCONV_SET1(w[k]);
    if (n >= PYCONV_L) {
        const PYCONV_M mb = (PYCONV_M)((1u << (K - 1)) - 1u);  /* the lanes of B the taps use */
        A = PYCONV_LOADU(s);
        for (; i + PYCONV_L <= n; i += PYCONV_L) {
            /* B loaded whole only where all of it is in the row (s[0 .. n + K - 2]) */
            if (i + 2 * PYCONV_L <= n + K - 1)
                B = PYCONV_LOADU(s + i + PYCONV_L);
            else
                B = PYCONV_MLOADU(mb, s + i + PYCONV_L);
            if (!INIT)
                a = PYCONV_LOADU(o + i);
            PYCONV_ROW_SUM(a, PYCONV_ROW_V)
            if (INIT && dv != 0)
                a = PYCONV_DIV(a, dvv);
            if (INIT == 2)
                PYCONV_FN(pyconv_stream_v)(o + i, a);
            else
                PYCONV_STOREU(o + i, a);
            A = B;
        }
    }
    if (i < n) {
        m = PYCONV_FN(pyconv_span)(0, n - i);
        if (!INIT)
            a = PYCONV_MLOADU(m, o + i);
        PYCONV_ROW_SUM(a, PYCONV_ROW_M)
        if (INIT && dv != 0)
            a = PYCONV_DIV(a, dvv);
        PYCONV_MSTOREU(o + i, m, a);
    }
}

/* o[i] (= when init, else +=) the sum of the K taps w[j] * s[i + j], 1 <= K <= PYCONV_KMAX,
   in one pass over the row with the sums in registers.  A whole sum (init) is the plain
   loops' (_row_taps_block), which take two or three passes for K > 4, each loading and
   storing the partial sums.  init 2: a whole sum, its whole vectors at 64-byte boundaries
   of o written with streaming stores.  dv != 0 (whole sums only): each sum divided by dv
   before it is stored (uniform's means: one correctly rounded division of the sum, the
   bits of dividing the stored sums afterwards).  1 when done, 0 when declined. */
static int PYCONV_FN(pyconv_taps_consec)(PYCONV_T* o, const PYCONV_T* s, const PYCONV_T* w,
                                         Py_ssize_t K, Py_ssize_t n, int init, PYCONV_T dv)
{
#define PYCONV_ROW_CASE(k) case k: \
    if (init == 2) \
        PYCONV_FN(pyconv_row_k)(o, s, w, n, k, 2, dv); \
    else if (init) \
        PYCONV_FN(pyconv_row_k)(o, s, w, n, k, 1, dv); \
    else \
        PYCONV_FN(pyconv_row_k)(o, s, w, n, k, 0, 0); \
    return 1;
    switch (K) {
    PYCONV_ROW_CASE(1) PYCONV_ROW_CASE(2) PYCONV_ROW_CASE(3) PYCONV_ROW_CASE(4)
    PYCONV_ROW_CASE(5) PYCONV_ROW_CASE(6) PYCONV_ROW_CASE(7) PYCONV_ROW_CASE(8)
    PYCONV_ROW_CASE(9)
    PYCONV_ROW_CASE(10) PYCONV_ROW_CASE(11) PYCONV_ROW_CASE(12) PYCONV_ROW_CASE(13)
    PYCONV_ROW_CASE(14) PYCONV_ROW_CASE(15) PYCONV_ROW_CASE(16) PYCONV_ROW_CASE(17)
    }
#undef PYCONV_ROW_CASE
    return 0;
}

/* output row r (of four) at input row j of plane p (its window's row ky = j - r): active
   when the window holds the row; at its first tap row the first group starts it as the
   plain loops do (w0 s0 alone when g0 = 1, else w0 s0 fused onto w1 s1): k0 taps done */
#define PYCONV_GR_START(r) \
    const int act##r = (r) < R && j - (r) >= 0 && j - (r) < kh; \
    const PYCONV_T* w##r = w + (p * kh + (act##r ? j - (r) : 0)) * KW; \
    int k0##r = 0; \
    if (act##r && p == 0 && j == (r)) { \
        if (g0 == 1) { \
            a##r##0 = PYCONV_MUL(PYCONV_SET1(w##r[0]), S0[0]); \
            a##r##1 = PYCONV_MUL(PYCONV_SET1(w##r[0]), S1[0]); \
            k0##r = 1; \
        } else { \
            a##r##0 = PYCONV_FMA(PYCONV_SET1(w##r[0]), S0[0], \
                                 PYCONV_MUL(PYCONV_SET1(w##r[1]), S0[1])); \
            a##r##1 = PYCONV_FMA(PYCONV_SET1(w##r[0]), S1[0], \
                                 PYCONV_MUL(PYCONV_SET1(w##r[1]), S1[1])); \
            k0##r = 2; \
        } \
    }
/* tap k of row r: one multiply-add per vector */
#define PYCONV_GR_TAP(r, k) { \
        a##r##0 = PYCONV_FMA(PYCONV_SET1(w##r[k]), S0[k], a##r##0); \
        a##r##1 = PYCONV_FMA(PYCONV_SET1(w##r[k]), S1[k], a##r##1); }

/* one input row j of plane p: its shifts, fed to the rows whose windows hold it */
#define PYCONV_GR_J { \
    const PYCONV_T* rj = rows[p * rp + j] + x0; \
    PYCONV_V A0, A1, A2, S0[8], S1[8]; \
    if (whole) { \
        A0 = PYCONV_LOADU(rj); \
        A1 = PYCONV_LOADU(rj + PYCONV_L); \
    } else { \
        A0 = PYCONV_MLOADU(i0, rj); \
        A1 = PYCONV_MLOADU(i1, rj + PYCONV_L); \
    } \
    A2 = PYCONV_MLOADU(i2, rj + 2 * PYCONV_L); \
    _Pragma("GCC unroll 8") \
    for (int k = 0; k < KW; k++) { \
        S0[k] = PYCONV_FN(pyconv_shift)(A1, A0, k); \
        S1[k] = PYCONV_FN(pyconv_shift)(A2, A1, k); \
    } \
    if (R == 4 && j >= 4 && j < kh) { \
        /* the four rows inside their windows, past their first taps */ \
        const PYCONV_T* w0 = w + (p * kh + j) * KW; \
        const PYCONV_T* w1 = w0 - KW; \
        const PYCONV_T* w2 = w1 - KW; \
        const PYCONV_T* w3 = w2 - KW; \
        _Pragma("GCC unroll 8") \
        for (int k = 0; k < KW; k++) { \
            PYCONV_GR_TAP(0, k) \
            PYCONV_GR_TAP(1, k) \
            PYCONV_GR_TAP(2, k) \
            PYCONV_GR_TAP(3, k) \
        } \
    } else { \
        PYCONV_GR_START(0) \
        PYCONV_GR_START(1) \
        PYCONV_GR_START(2) \
        PYCONV_GR_START(3) \
        _Pragma("GCC unroll 8") \
        for (int k = 0; k < KW; k++) { \
            if (act0 && k >= k00) PYCONV_GR_TAP(0, k) \
            if (act1 && k >= k01) PYCONV_GR_TAP(1, k) \
            if (act2 && k >= k02) PYCONV_GR_TAP(2, k) \
            if (act3 && k >= k03) PYCONV_GR_TAP(3, k) \
        } \
    } \
    }

/* row r of the tile at x0, if the group has it: its two vectors streamed when nt and both
   are whole (see pyconv_stream_v), else masked stores */
#define PYCONV_GR_STORE(r) \
    if ((r) < R) { \
        PYCONV_T* orow_ = o + (r) * opitch + x0; \
        if (nt && left >= 2 * PYCONV_L) { \
            PYCONV_FN(pyconv_stream_v)(orow_, a##r##0); \
            PYCONV_FN(pyconv_stream_v)(orow_ + PYCONV_L, a##r##1); \
        } else { \
            PYCONV_MSTOREU(orow_, m0, a##r##0); \
            PYCONV_MSTOREU(orow_ + PYCONV_L, m1, a##r##1); \
        } \
    }

static inline __attribute__((always_inline)) void PYCONV_FN(pyconv_grid_kw)(
        PYCONV_T* o, Py_ssize_t opitch, const PYCONV_T** rows, const PYCONV_T* w,
        Py_ssize_t rp, Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t n, Py_ssize_t R,
        Py_ssize_t clo, Py_ssize_t chi, const int KW, const int FIXED, const int nt)
{
    /* FIXED: kh and R are constants here (the input rows' loop is unrolled whole) */
    const Py_ssize_t nj = R + kh - 1;
    Py_ssize_t x0, j, p, g0 = (kd * kh * KW) % 8;
    /* the lanes of the third input vector the shifts use */
    const PYCONV_M mb = (PYCONV_M)((1u << (KW - 1)) - 1u);
    if (g0 == 0 || g0 > 4)
        g0 = 4;
    for (x0 = 0; x0 < n; x0 += 2 * PYCONV_L) {
        PYCONV_V a00 = PYCONV_ZERO(), a01 = a00, a10 = a00, a11 = a00;
        PYCONV_V a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        const Py_ssize_t left = n - x0;            /* outputs left in the row */
        PYCONV_M m0, m1, i0, i1, i2;
        /* all three input vectors inside [clo, chi) */
        const int whole = clo <= x0 && x0 + 3 * PYCONV_L <= chi;
        m0 = PYCONV_FN(pyconv_span)(0, left);
        m1 = PYCONV_FN(pyconv_span)(0, left - PYCONV_L);
        i0 = PYCONV_FN(pyconv_span)(clo - x0, chi - x0);
        i1 = PYCONV_FN(pyconv_span)(clo - x0 - PYCONV_L, chi - x0 - PYCONV_L);
        i2 = (PYCONV_M)(mb & PYCONV_FN(pyconv_span)(clo - x0 - 2 * PYCONV_L,
                                                    chi - x0 - 2 * PYCONV_L));
        for (p = 0; p < kd; p++) {
            if (FIXED) {
                _Pragma("GCC unroll 12")
                for (j = 0; j < nj; j++)
                    PYCONV_GR_J
            } else {
                for (j = 0; j < nj; j++)
                    PYCONV_GR_J
            }
        }
        PYCONV_GR_STORE(0)
        PYCONV_GR_STORE(1)
        PYCONV_GR_STORE(2)
        PYCONV_GR_STORE(3)
    }
}

/* the one-vector form (rows of at most PYCONV_L outputs), eight rows r in accumulators b##r:
   each row loads its own input rows (from L1: two vectors and kw - 1 shifts per row and
   tap row), so no row waits on a test of whether its window holds an input row; rows past
   R repeat row R - 1 and are not stored */
#define PYCONV_G1_ROW(r, FIRST) { \
        const PYCONV_T* rj = rows[p * rp + ((r) < R ? (r) : R - 1) + ky]; \
        PYCONV_V A0 = PYCONV_MLOADU(i0, rj), A1 = PYCONV_MLOADU(i1, rj + PYCONV_L), S[8]; \
        _Pragma("GCC unroll 8") \
        for (int k = 0; k < KW; k++) \
            S[k] = PYCONV_FN(pyconv_shift)(A1, A0, k); \
        int k0 = 0; \
        if (FIRST) { \
            if (g0 == 1) { \
                b##r = PYCONV_MUL(PYCONV_SET1(wr[0]), S[0]); \
                k0 = 1; \
            } else { \
                b##r = PYCONV_FMA(PYCONV_SET1(wr[0]), S[0], PYCONV_MUL(PYCONV_SET1(wr[1]), S[1])); \
                k0 = 2; \
            } \
        } \
        _Pragma("GCC unroll 8") \
        for (int k = 0; k < KW; k++) \
            if (k >= k0) \
                b##r = PYCONV_FMA(PYCONV_SET1(wr[k]), S[k], b##r); \
    }
#define PYCONV_G1_ROWS(FIRST) \
    PYCONV_G1_ROW(0, FIRST) PYCONV_G1_ROW(1, FIRST) PYCONV_G1_ROW(2, FIRST) \
    PYCONV_G1_ROW(3, FIRST) PYCONV_G1_ROW(4, FIRST) PYCONV_G1_ROW(5, FIRST) \
    PYCONV_G1_ROW(6, FIRST) PYCONV_G1_ROW(7, FIRST)
#define PYCONV_G1_STORE(r) \
    if ((r) < R) \
        PYCONV_MSTOREU(o + (r) * opitch, m0, b##r);

/* pyconv_grid_kw for rows of n <= PYCONV_L outputs: one vector per row, up to eight rows in
   eight accumulators (two vectors per row would be half padding) */
static inline __attribute__((always_inline)) void PYCONV_FN(pyconv_grid1_kw)(
        PYCONV_T* o, Py_ssize_t opitch, const PYCONV_T** rows, const PYCONV_T* w,
        Py_ssize_t rp, Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t n, Py_ssize_t R,
        Py_ssize_t clo, Py_ssize_t chi, const int KW)
{
    Py_ssize_t ky, p, g0 = (kd * kh * KW) % 8;
    const PYCONV_M mb = (PYCONV_M)((1u << (KW - 1)) - 1u);
    const PYCONV_M m0 = PYCONV_FN(pyconv_span)(0, n);
    const PYCONV_M i0 = PYCONV_FN(pyconv_span)(clo, chi);
    const PYCONV_M i1 = (PYCONV_M)(mb & PYCONV_FN(pyconv_span)(clo - PYCONV_L, chi - PYCONV_L));
    PYCONV_V b0, b1, b2, b3, b4, b5, b6, b7;
    if (g0 == 0 || g0 > 4)
        g0 = 4;
    {
        const PYCONV_T* wr = w;
        p = 0;
        ky = 0;
        PYCONV_G1_ROWS(1)
    }
    for (p = 0; p < kd; p++) {
        for (ky = (p == 0); ky < kh; ky++) {
            const PYCONV_T* wr = w + (p * kh + ky) * KW;
            PYCONV_G1_ROWS(0)
        }
    }
    PYCONV_G1_STORE(0)
    PYCONV_G1_STORE(1)
    PYCONV_G1_STORE(2)
    PYCONV_G1_STORE(3)
    PYCONV_G1_STORE(4)
    PYCONV_G1_STORE(5)
    PYCONV_G1_STORE(6)
    PYCONV_G1_STORE(7)
}

/* rows r < R (R <= 8) by the one-vector form when n <= PYCONV_L, else four at a time */
static inline __attribute__((always_inline)) void PYCONV_FN(pyconv_grid_any)(
        PYCONV_T* o, Py_ssize_t opitch, const PYCONV_T** rows, const PYCONV_T* w,
        Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t n, Py_ssize_t R, Py_ssize_t clo,
        Py_ssize_t chi, const int KW, int nt)
{
    const Py_ssize_t rp = R + kh - 1;
    Py_ssize_t r0, g;
    if (n <= PYCONV_L) {
        PYCONV_FN(pyconv_grid1_kw)(o, opitch, rows, w, rp, kd, kh, n, R, clo, chi, KW);
        return;
    }
    for (r0 = 0; r0 < R; r0 += 4) {
        g = R - r0 < 4 ? R - r0 : 4;
        if (g == 4 && kd == 1 && kh == KW && (KW == 3 || KW == 5))
            /* square 3x3 and 5x5 kernels: four rows with the row count and kernel height
               constants, so the tests of which rows an input row feeds fold away */
            PYCONV_FN(pyconv_grid_kw)(o + r0 * opitch, opitch, rows + r0, w, rp, 1, KW, n, 4,
                                      clo, chi, KW, 1, nt);
        else
            PYCONV_FN(pyconv_grid_kw)(o + r0 * opitch, opitch, rows + r0, w, rp, kd, kh, n,
                                      g, clo, chi, KW, 0, nt);
    }
}

/* Rows r < R (R <= 8) of o + r * opitch, n columns: the correlation with the whole grid of
   kd x kh x kw taps (2 <= kw <= 8), w in C order, row r reading input rows
   rows[p * (R + kh - 1) + r + ky] at columns x .. x + kw - 1.  Only the input columns
   clo <= c < chi of a row are read (masked loads); the others count as zeros, as a zero
   padding gathered into a tile would (0 <= clo and chi = n + kw - 1: every column).  Rows
   wider than a vector go four at a time: each input row's vectors are loaded once per tile
   of two vectors of columns and their kw shifts feed the rows whose windows hold it;
   narrower rows eight at a time (pyconv_grid1_kw).  The sums are the plain loops'
   (_row_taps) bit for bit.  1 when done, 0 when declined. */
static int PYCONV_FN(pyconv_grid_rows)(PYCONV_T* o, Py_ssize_t opitch, const PYCONV_T** rows,
                                       const PYCONV_T* w, Py_ssize_t kd, Py_ssize_t kh,
                                       Py_ssize_t kw, Py_ssize_t n, Py_ssize_t R,
                                       Py_ssize_t clo, Py_ssize_t chi, int nt)
{
    if (R < 1 || R > 8 || kd < 1 || kh < 1 || n < 1)
        return 0;
    switch (kw) {
#define PYCONV_GRID_CASE(K) \
    case K: PYCONV_FN(pyconv_grid_any)(o, opitch, rows, w, kd, kh, n, R, clo, chi, K, nt); \
        return 1;
    PYCONV_GRID_CASE(2) PYCONV_GRID_CASE(3) PYCONV_GRID_CASE(4) PYCONV_GRID_CASE(5)
    PYCONV_GRID_CASE(6) PYCONV_GRID_CASE(7) PYCONV_GRID_CASE(8)
#undef PYCONV_GRID_CASE
    }
    return 0;
}

#undef PYCONV_GR_START
#undef PYCONV_GR_STORE
#undef PYCONV_GR_J
#undef PYCONV_G1_ROW
#undef PYCONV_G1_ROWS
#undef PYCONV_G1_STORE
#undef PYCONV_GR_TAP
#undef PYCONV_ROW_V

/* _dense_rows3 as register tiles of three output rows x four vectors (12 accumulators):
   per super-tap u the four vectors at base + soff[u] + x0 are loaded once and feed the rows
   in the phase's set (R0, R1, R2: constants of each phase), each sum from zero with one
   multiply-add per tap in the order of the plain loop, so the bits are its bits.  KH and
   NXT are constants in the common cases (their loops then unroll: the short phase loops'
   exits had been mispredicted once per tile each). */
#define PYCONV_D3_PHASE(U0, U1, R0, R1, R2) \
    for (u = (U0); u < (U1); u++) { \
        const PYCONV_T* xp = xb + soff[u]; \
        PYCONV_V x0 = PYCONV_LOADU(xp), x1 = PYCONV_LOADU(xp + PYCONV_L); \
        PYCONV_V x2 = PYCONV_LOADU(xp + 2 * PYCONV_L), x3 = PYCONV_LOADU(xp + 3 * PYCONV_L); \
        if (R0) { \
            PYCONV_V wv = PYCONV_SET1(wq[3 * u]); \
            a00 = PYCONV_FMA(wv, x0, a00); a01 = PYCONV_FMA(wv, x1, a01); \
            a02 = PYCONV_FMA(wv, x2, a02); a03 = PYCONV_FMA(wv, x3, a03); \
        } \
        if (R1) { \
            PYCONV_V wv = PYCONV_SET1(wq[3 * u + 1]); \
            a10 = PYCONV_FMA(wv, x0, a10); a11 = PYCONV_FMA(wv, x1, a11); \
            a12 = PYCONV_FMA(wv, x2, a12); a13 = PYCONV_FMA(wv, x3, a13); \
        } \
        if (R2) { \
            PYCONV_V wv = PYCONV_SET1(wq[3 * u + 2]); \
            a20 = PYCONV_FMA(wv, x0, a20); a21 = PYCONV_FMA(wv, x1, a21); \
            a22 = PYCONV_FMA(wv, x2, a22); a23 = PYCONV_FMA(wv, x3, a23); \
        } \
    }
#define PYCONV_D3_STORE(r) \
    if ((r) < g) { \
        PYCONV_T* orow = o + (r) * opitch + x0; \
        PYCONV_MSTOREU(orow, m0, a##r##0); \
        PYCONV_MSTOREU(orow + PYCONV_L, m1, a##r##1); \
        PYCONV_MSTOREU(orow + 2 * PYCONV_L, m2, a##r##2); \
        PYCONV_MSTOREU(orow + 3 * PYCONV_L, m3, a##r##3); \
    }

static inline __attribute__((always_inline)) void PYCONV_FN(pyconv_dense3_k)(
    PYCONV_T* o, Py_ssize_t opitch, Py_ssize_t g, const PYCONV_T* base,
    const Py_ssize_t* soff, const PYCONV_T* wq, Py_ssize_t kd, Py_ssize_t KH, Py_ssize_t NXT,
    Py_ssize_t n)
{
    Py_ssize_t x0, p, u, u0;
    for (x0 = 0; x0 < n; x0 += 4 * PYCONV_L) {
        PYCONV_V a00 = PYCONV_ZERO(), a01 = a00, a02 = a00, a03 = a00;
        PYCONV_V a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        PYCONV_V a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        const PYCONV_T* xb = base + x0;
        Py_ssize_t left = n - x0;
        PYCONV_M m0 = PYCONV_FN(pyconv_span)(0, left);
        PYCONV_M m1 = PYCONV_FN(pyconv_span)(0, left - PYCONV_L);
        PYCONV_M m2 = PYCONV_FN(pyconv_span)(0, left - 2 * PYCONV_L);
        PYCONV_M m3 = PYCONV_FN(pyconv_span)(0, left - 3 * PYCONV_L);
        for (p = 0; p < kd; p++) {
            u0 = p * (KH + 2) * NXT;
            PYCONV_D3_PHASE(u0, u0 + NXT, 1, 0, 0)
            PYCONV_D3_PHASE(u0 + NXT, u0 + 2 * NXT, 1, 1, 0)
            PYCONV_D3_PHASE(u0 + 2 * NXT, u0 + KH * NXT, 1, 1, 1)
            PYCONV_D3_PHASE(u0 + KH * NXT, u0 + (KH + 1) * NXT, 0, 1, 1)
            PYCONV_D3_PHASE(u0 + (KH + 1) * NXT, u0 + (KH + 2) * NXT, 0, 0, 1)
        }
        PYCONV_D3_STORE(0)
        PYCONV_D3_STORE(1)
        PYCONV_D3_STORE(2)
    }
}

/* rows r < g (of three) of o + r * opitch, n contiguous columns: _dense_rows3's sums (see
   there) in tiles of 4 PYCONV_L columns; every tile reads 4 PYCONV_L columns at each
   base + soff[u] + x0 (past n: the caller's slack).  1: done. */
static int PYCONV_FN(pyconv_dense3)(PYCONV_T* o, Py_ssize_t opitch, Py_ssize_t g,
                                    const PYCONV_T* base, const Py_ssize_t* soff,
                                    const PYCONV_T* wq, Py_ssize_t kd, Py_ssize_t kh,
                                    Py_ssize_t nxt, Py_ssize_t n)
{
    if (kh == 7 && nxt == 7)
        PYCONV_FN(pyconv_dense3_k)(o, opitch, g, base, soff, wq, kd, 7, 7, n);
    else if (kh == 5 && nxt == 5)
        PYCONV_FN(pyconv_dense3_k)(o, opitch, g, base, soff, wq, kd, 5, 5, n);
    else
        PYCONV_FN(pyconv_dense3_k)(o, opitch, g, base, soff, wq, kd, kh, nxt, n);
    return 1;
}

/* pyconv_edge_row_<sfx>: one output row of _edge_task (the 2-D edge magnitude) in
   registers.  Per vector of output samples at x: S = w0 a + w1 b + w2 c and D = c - a (the
   vertical smoothing and difference of rows a, b, c), formed once per vector as the sweep
   slides, the samples C before and after x shifted out of two neighbouring vectors
   (vpermt2ps / vpermt2pd, C < PYCONV_L), and
       gx = S[x+C] - S[x-C],  gy = w0 D[x-C] + w1 D[x] + w2 D[x+C],
       o[x] = sqrt((gy gy + gx gx) * half)
   the operations _edge_task's loops compile to (GCC, contraction on: in a sum of products
   the first product is fused, with the second as its addend, so S = w2 c + (w0 a + w1 b)
   and the sum of squares gy gy + gx gx), so the same bits; no line of S and D is stored
   and read back.  Samples [x0, e), x0 >= PYCONV_L, e the last x0 + k PYCONV_L with
   e + PYCONV_L <= n: the padded ends are the caller's.  nt: streaming stores (o + x0 at a
   64-byte boundary).  pf (NULL: none): a row prefetched column by column.  Returns e, or 0
   when it declines (C >= PYCONV_L, x0 < PYCONV_L, or n - x0 < 2 PYCONV_L). */
static Py_ssize_t PYCONV_FN(pyconv_edge_row)(PYCONV_T* o, const PYCONV_T* a,
                                             const PYCONV_T* b, const PYCONV_T* c,
                                             Py_ssize_t C, Py_ssize_t n, PYCONV_T w0,
                                             PYCONV_T w1, PYCONV_T w2, PYCONV_T half,
                                             const PYCONV_T* pf, Py_ssize_t x0, int nt)
{
    Py_ssize_t x, e;
    if (C < 1 || C >= PYCONV_L || x0 < PYCONV_L || n - x0 < 2 * PYCONV_L)
        return 0;
    e = x0 + (n - x0 - PYCONV_L) / PYCONV_L * PYCONV_L;
    {
        const PYCONV_V k0 = PYCONV_SET1(w0), k1 = PYCONV_SET1(w1), k2 = PYCONV_SET1(w2);
        const PYCONV_V kh = PYCONV_SET1(half);
        const __m512i after = PYCONV_IOTA(C), before = PYCONV_IOTA(PYCONV_L - C);
        const Py_ssize_t xp = x0 - PYCONV_L;
        PYCONV_V ap = PYCONV_LOADU(a + xp), cp = PYCONV_LOADU(c + xp);
        PYCONV_V ac = PYCONV_LOADU(a + x0), cc = PYCONV_LOADU(c + x0);
        PYCONV_V sp = PYCONV_FMA(k2, cp, PYCONV_FMA(k0, ap, PYCONV_MUL(k1, PYCONV_LOADU(b + xp))));
        PYCONV_V sc = PYCONV_FMA(k2, cc, PYCONV_FMA(k0, ac, PYCONV_MUL(k1, PYCONV_LOADU(b + x0))));
        PYCONV_V dp = PYCONV_SUB(cp, ap), dc = PYCONV_SUB(cc, ac);
        for (x = x0; x < e; x += PYCONV_L) {
            PYCONV_V an = PYCONV_LOADU(a + x + PYCONV_L), cn = PYCONV_LOADU(c + x + PYCONV_L);
            PYCONV_V sn = PYCONV_FMA(k2, cn, PYCONV_FMA(k0, an,
                                                        PYCONV_MUL(k1, PYCONV_LOADU(b + x +
                                                                                    PYCONV_L))));
            PYCONV_V dn = PYCONV_SUB(cn, an);
            PYCONV_V gx = PYCONV_SUB(PYCONV_PERMX2(sc, after, sn),
                                     PYCONV_PERMX2(sp, before, sc));
            PYCONV_V gy = PYCONV_FMA(k2, PYCONV_PERMX2(dc, after, dn),
                                     PYCONV_FMA(k0, PYCONV_PERMX2(dp, before, dc),
                                                PYCONV_MUL(k1, dc)));
            if (pf != NULL)
                _mm_prefetch((const char*)(pf + x), _MM_HINT_T0);
            PYCONV_V m = PYCONV_SQRT(PYCONV_MUL(PYCONV_FMA(gy, gy, PYCONV_MUL(gx, gx)), kh));
            if (nt)
                PYCONV_STREAM(o + x, m);
            else
                PYCONV_STOREU(o + x, m);
            sp = sc;
            sc = sn;
            dp = dc;
            dc = dn;
        }
    }
    return e;
}

/* pyconv_planes_<sfx>: rows y0 <= y < y1 of one plane of n <= PYCONV_L output columns, the
   correlation with the whole kh x kw grid (2 <= kw <= 8) over a zero padding, with strides
   sy = sx = 1 or sy = sx = 2, summed as pyconv_grid1_kw sums them, bit for bit (tap order,
   its first group), then c added where addb (a layer's bias, as _tile_task adds it).
   Output row y reads input rows taby[sy * y + ky] of the plane s (pitch spitch; < 0: a
   row of zeros), lane x of tap kx reading column sx * x + kx - ox where that lies in
   [0, W) (zero elsewhere).  Four rows at a time, one register each: every input row is
   loaded once (one vector, two where the columns read overrun one) and its kw shifts
   (valignd / valignq), or with sx = 2 its kw gathers of every other column (vpermt2ps /
   vpermt2pd), feed each of the four rows whose window holds it, in tap order.  (A masked
   load per tap instead spans two cache lines almost every time, at half the load rate:
   9 of them per output row had cost 22 cycles.)  Rows past y1 in the last group read
   zero rows and are not stored.  1 when done, 0 when declined (n, kh, kw, the strides,
   or sx * (n - 1) + kw > 2 * PYCONV_L). */
#define PYCONV_PL_ROW(g) \
    if (j - SY * (g) >= 0 && j - SY * (g) < KH) { \
        const int ky = j - SY * (g); \
        _Pragma("GCC unroll 8") \
        for (int kx = 0; kx < KW; kx++) { \
            const int t = ky * KW + kx; \
            if (t == 0) { \
                if (pair) \
                    a##g = PYCONV_FMA(PYCONV_SET1(w[0]), S[0], \
                                      PYCONV_MUL(PYCONV_SET1(w[1]), S[1])); \
                else \
                    a##g = PYCONV_MUL(PYCONV_SET1(w[0]), S[0]); \
            } else if (t > pair) { \
                a##g = PYCONV_FMA(PYCONV_SET1(w[t]), S[kx], a##g); \
            } \
        } \
    }
/* rows y .. y + R - 1 (R <= 4) of pyconv_planes_k */
static inline __attribute__((always_inline)) void PYCONV_FN(pyconv_planes_g)(
        PYCONV_T* o, Py_ssize_t opitch, const PYCONV_T* s, Py_ssize_t spitch,
        const Py_ssize_t* taby, Py_ssize_t y, Py_ssize_t R, PYCONV_M m0, PYCONV_M i0,
        PYCONV_M i1, int two, Py_ssize_t ox, const PYCONV_T* w, PYCONV_V cv, int addb,
        const int KH, const int KW, const int SY, const int SX, const int UNROLL)
{
    const int g0 = (KH * KW) % 8;
    const int pair = g0 != 1;    /* g0 0 or > 4 counts as 4: the first two taps fused */
    const PYCONV_V Z = PYCONV_ZERO();
    PYCONV_V a0 = Z, a1 = Z, a2 = Z, a3 = Z;
    /* the input rows: unrolled for the kernels compiled with their height (the tests of
       which rows a row feeds fold away), a loop for the others (each unrolled copy had
       cost code for every kernel width and stride) */
#define PYCONV_PL_J \
        Py_ssize_t yi = j < SY * (R - 1) + KH ? taby[SY * y + j] : -1; \
        PYCONV_V A0 = Z, A1 = Z, S[8]; \
        if (yi >= 0) { \
            const PYCONV_T* r = s + yi * spitch - ox; \
            A0 = PYCONV_MLOADU(i0, r); \
            if (two) \
                A1 = PYCONV_MLOADU(i1, r + PYCONV_L); \
        } \
        _Pragma("GCC unroll 8") \
        for (int k = 0; k < KW; k++) \
            S[k] = SX == 1 ? PYCONV_FN(pyconv_shift)(A1, A0, k) \
                           : PYCONV_PERMX2(A0, PYCONV_IADD(PYCONV_IOTA(0), PYCONV_IOTA(k)), A1); \
        PYCONV_PL_ROW(0) \
        PYCONV_PL_ROW(1) \
        PYCONV_PL_ROW(2) \
        PYCONV_PL_ROW(3)
    if (UNROLL) {
        _Pragma("GCC unroll 16")
        for (int j = 0; j < SY * 3 + KH; j++) {
            PYCONV_PL_J
        }
    } else {
        for (int j = 0; j < SY * 3 + KH; j++) {
            PYCONV_PL_J
        }
    }
#undef PYCONV_PL_J
    if (addb) {
        a0 = PYCONV_ADD(a0, cv);
        a1 = PYCONV_ADD(a1, cv);
        a2 = PYCONV_ADD(a2, cv);
        a3 = PYCONV_ADD(a3, cv);
    }
    PYCONV_T* orow = o + y * opitch;
    PYCONV_MSTOREU(orow, m0, a0);
    if (R > 1)
        PYCONV_MSTOREU(orow + opitch, m0, a1);
    if (R > 2)
        PYCONV_MSTOREU(orow + 2 * opitch, m0, a2);
    if (R > 3)
        PYCONV_MSTOREU(orow + 3 * opitch, m0, a3);
}

static inline __attribute__((always_inline)) void PYCONV_FN(pyconv_planes_k)(
        PYCONV_T* o, Py_ssize_t opitch, const PYCONV_T* s, Py_ssize_t spitch,
        const Py_ssize_t* taby, Py_ssize_t y0, Py_ssize_t y1, Py_ssize_t n, Py_ssize_t W,
        Py_ssize_t ox, const PYCONV_T* w, PYCONV_T c, int addb, const int KH, const int KW,
        const int S, const int UNROLL)
{
    const PYCONV_M m0 = PYCONV_FN(pyconv_span)(0, n);
    const PYCONV_M i0 = PYCONV_FN(pyconv_span)(ox, ox + W);
    const PYCONV_M i1 = PYCONV_FN(pyconv_span)(ox - PYCONV_L, ox - PYCONV_L + W);
    const int two = S * (n - 1) + KW > PYCONV_L && i1 != 0;
    const PYCONV_V cv = PYCONV_SET1(c);
    Py_ssize_t y;
    for (y = y0; y < y1; y += 4)
        PYCONV_FN(pyconv_planes_g)(o, opitch, s, spitch, taby, y, y1 - y < 4 ? y1 - y : 4, m0,
                                   i0, i1, two, ox, w, cv, addb, KH, KW, S, S, UNROLL);
}
#undef PYCONV_PL_ROW

static int PYCONV_FN(pyconv_planes)(PYCONV_T* o, Py_ssize_t opitch, const PYCONV_T* s,
                                    Py_ssize_t spitch, const Py_ssize_t* taby,
                                    Py_ssize_t y0, Py_ssize_t y1,
                                    Py_ssize_t n, Py_ssize_t W, Py_ssize_t ox,
                                    const PYCONV_T* w, Py_ssize_t kh, Py_ssize_t kw,
                                    PYCONV_T c, int addb, Py_ssize_t stride)
{
    if (n < 1 || n > PYCONV_L || kh < 1 || kh > 32 || kw < 2 || kw > 8 || y1 <= y0
            || (stride != 1 && stride != 2) || stride * (n - 1) + kw > 2 * PYCONV_L)
        return 0;
    /* square 3x3, 5x5 and 7x7 kernels compiled with their height, the input rows unrolled;
       other heights in a loop */
    switch (kw * 2 + (int)stride - 1) {
#define PYCONV_PL_CASE(K, S) \
    case K * 2 + S - 1: \
        if (kh == K && (K == 3 || K == 5 || K == 7)) \
            PYCONV_FN(pyconv_planes_k)(o, opitch, s, spitch, taby, y0, y1, n, W, ox, \
                                       w, c, addb, K, K, S, 1); \
        else \
            PYCONV_FN(pyconv_planes_k)(o, opitch, s, spitch, taby, y0, y1, n, W, ox, \
                                       w, c, addb, (int)kh, K, S, 0); \
        return 1;
    PYCONV_PL_CASE(2, 1) PYCONV_PL_CASE(3, 1) PYCONV_PL_CASE(4, 1) PYCONV_PL_CASE(5, 1)
    PYCONV_PL_CASE(6, 1) PYCONV_PL_CASE(7, 1) PYCONV_PL_CASE(8, 1)
    PYCONV_PL_CASE(2, 2) PYCONV_PL_CASE(3, 2) PYCONV_PL_CASE(4, 2) PYCONV_PL_CASE(5, 2)
    PYCONV_PL_CASE(6, 2) PYCONV_PL_CASE(7, 2) PYCONV_PL_CASE(8, 2)
#undef PYCONV_PL_CASE
    }
    return 0;
}

#undef PYCONV_D3_PHASE
#undef PYCONV_D3_STORE
#undef PYCONV_ROW_M
#undef PYCONV_ROW_SUM
#undef PYCONV_VT_STEP

#else   /* no AVX-512: decline */

static Py_ssize_t PYCONV_FN(pyconv_edge_row)(PYCONV_T* o, const PYCONV_T* a,
                                             const PYCONV_T* b, const PYCONV_T* c,
                                             Py_ssize_t C, Py_ssize_t n, PYCONV_T w0,
                                             PYCONV_T w1, PYCONV_T w2, PYCONV_T half,
                                             const PYCONV_T* pf, Py_ssize_t x0, int nt)
{
    (void)o; (void)a; (void)b; (void)c; (void)C; (void)n; (void)w0; (void)w1; (void)w2;
    (void)half; (void)pf; (void)x0; (void)nt;
    return 0;
}

static int PYCONV_FN(pyconv_dense3)(PYCONV_T* o, Py_ssize_t opitch, Py_ssize_t g,
                                    const PYCONV_T* base, const Py_ssize_t* soff,
                                    const PYCONV_T* wq, Py_ssize_t kd, Py_ssize_t kh,
                                    Py_ssize_t nxt, Py_ssize_t n)
{
    (void)o; (void)opitch; (void)g; (void)base; (void)soff; (void)wq; (void)kd; (void)kh;
    (void)nxt; (void)n;
    return 0;
}

static int PYCONV_FN(pyconv_taps_consec)(PYCONV_T* o, const PYCONV_T* s, const PYCONV_T* w,
                                         Py_ssize_t k, Py_ssize_t n, int init, PYCONV_T dv)
{
    (void)o; (void)s; (void)w; (void)k; (void)n; (void)init; (void)dv;
    return 0;
}

static int PYCONV_FN(pyconv_vrows4)(PYCONV_T* o, Py_ssize_t opitch, const PYCONV_T** rows,
                                    const PYCONV_T* w, Py_ssize_t ntaps, Py_ssize_t n,
                                    const PYCONV_T** pf)
{
    (void)o; (void)opitch; (void)rows; (void)w; (void)ntaps; (void)n; (void)pf;
    return 0;
}

static int PYCONV_FN(pyconv_grid_rows)(PYCONV_T* o, Py_ssize_t opitch, const PYCONV_T** rows,
                                       const PYCONV_T* w, Py_ssize_t kd, Py_ssize_t kh,
                                       Py_ssize_t kw, Py_ssize_t n, Py_ssize_t R,
                                       Py_ssize_t clo, Py_ssize_t chi, int nt)
{
    (void)o; (void)opitch; (void)rows; (void)w; (void)kd; (void)kh; (void)kw; (void)n;
    (void)R; (void)clo; (void)chi; (void)nt;
    return 0;
}

static int PYCONV_FN(pyconv_planes)(PYCONV_T* o, Py_ssize_t opitch, const PYCONV_T* s,
                                    Py_ssize_t spitch, const Py_ssize_t* taby,
                                    Py_ssize_t y0, Py_ssize_t y1,
                                    Py_ssize_t n, Py_ssize_t W, Py_ssize_t ox,
                                    const PYCONV_T* w, Py_ssize_t kh, Py_ssize_t kw,
                                    PYCONV_T c, int addb, Py_ssize_t stride)
{
    (void)o; (void)opitch; (void)s; (void)spitch; (void)taby; (void)y0; (void)y1; (void)n;
    (void)W; (void)ox; (void)w; (void)kh; (void)kw; (void)c; (void)addb; (void)stride;
    return 0;
}

#endif

#undef PYCONV_SFX
#undef PYCONV_T
#undef PYCONV_V
#undef PYCONV_L
#undef PYCONV_M
#undef PYCONV_FULL
#undef PYCONV_LOADU
#undef PYCONV_MLOADU
#undef PYCONV_STOREU
#undef PYCONV_MSTOREU
#undef PYCONV_FMA
#undef PYCONV_MUL
#undef PYCONV_SET1
#undef PYCONV_ZERO
#undef PYCONV_ALIGNR
#undef PYCONV_KMAX
#undef PYCONV_SUB
#undef PYCONV_DIV
#undef PYCONV_ADD
#undef PYCONV_SQRT
#undef PYCONV_PERMX2
#undef PYCONV_IOTA
#undef PYCONV_IADD
#undef PYCONV_STREAM
