# Deep-learning convolution kernel (PyTorch conventions: cross-correlation, NC[D]HW, weight
# (O, C/groups, kd, kh, kw)).  Included by _kernels_base.pyx and _kernels_avx2.pyx after
# _kernels.pxi, whose `real` fused type and `_fill_row` it uses.
#
# Every conv1d/2d/3d, depthwise, grouped, pointwise, strided, dilated and (phase by phase)
# transposed case runs here:
#
#   out[n, g*Og + o, z, y, x] = bias[g*Og + o]
#       + sum_t wpack[g, o, t] * P[n, g*Cg + c(t), z*sd + kz(t)*dd, y*sh + ky(t)*dh, x*sw + kx(t)*dw]
#
# with t running over (c, kz, ky, kx) in that order, and P the input seen through per-axis index
# tables over the padded coordinates (-1: zero; other entries map the padding mode).
#
# One task = (image n, group g, output plane z, block of output rows, block of output columns,
# chunk of output-channel tiles).  It gathers the padded input rows it needs for the group's
# input channels into its thread's buffer, split by stride phase along y and x:
#
#   buf[((((c*KD + kz)*sh + j % sh)*sw + q)*nyp + j // sh)*Wph + i] = P[c, kz, row j, col q + i*sw]
#
# so that output (r, x) of tap t reads buf[offs[t] + r*Wph + x]: one linear "lane" index
# L = r*Wph + x covers every output row of the task (lanes with x >= cw are padding, computed and
# dropped).  Wph is the row's padded width, or less where zero columns end every row (zero
# padding, stride 1 along x, whole rows): one row's right padding is then the next row's
# left, both zeros (plan()'s xshare).  A register-blocked micro-kernel walks the taps for a
# block of lanes:
#   _mk3: MR output channels x NR lanes: MR = 3 and NR = 32 float32 lanes (12 AVX2
#         accumulators: per tap 4 input loads and 3 broadcasts for 12 fused multiply-adds),
#         in the AVX-512 module MR = 6 and NR = 64 (24 accumulators: 4 loads and 6
#         broadcasts for 24);
#   _mkv: CONV_MC = 32 output channels x 12 float32 (6 float64) lanes, the other way round:
#         the channels are the vector (two 512-bit weight loads per tap, whole cache lines:
#         the packed weights start on a line) and each lane's input is broadcast (12
#         broadcasts, none crossing a line, for 24 multiply-adds); its sums are transposed
#         into the output rows once, by the last chunk of taps.  Used where the planner is
#         told to (the AVX-512 module) and at most a sixth of the tile's channels are
#         padding;
#   _mkv: CONV_MP = 16 output channels (float32) x 24 lanes, the same way: each 64-bit
#         broadcast holds two neighbouring lanes' inputs and each weight vector eight
#         channels' weights twice, so the 16-channel layers get the 32-channel tile's loads
#         per multiply-add;
#   _mk1: 1 output channel x 2*NR lanes, for groups of one or two output channels (depthwise,
#         single-channel images).
# Each output is summed by one thread, over t in order, then the bias is added: the result does
# not depend on the number of threads.  Scratch per thread is bounded by one task's rows, and
# by WOUTER_PART_BYTES of partial sums.


# NR * sizeof(real), the bytes of lanes per micro-tile: 128 (32 float32 or 16 float64 lanes,
# four 256-bit registers per channel); the AVX-512 module is built with 256 (four 512-bit
# registers per channel).  CONV_MR, the output channels per tile: 3 (12 of the 16 AVX2
# registers), 6 in the AVX-512 module (24 of its 32: half the loads per multiply-add)
cdef extern from *:
    """
    #ifndef PYCONV_CONV_VEC_BYTES
    #define PYCONV_CONV_VEC_BYTES 128
    #endif
    #ifndef PYCONV_CONV_MR
    #define PYCONV_CONV_MR 3
    #endif
    #define PYCONV_NR_F (PYCONV_CONV_VEC_BYTES / 4)
    #define PYCONV_NR_D (PYCONV_CONV_VEC_BYTES / 8)
    #ifndef PYCONV_CONV_MC_ON
    #define PYCONV_CONV_MC_ON 0
    #endif
    """
    enum:
        CONV_VEC_BYTES "PYCONV_CONV_VEC_BYTES"
        NR_F "PYCONV_NR_F"
        NR_D "PYCONV_NR_D"
        CONV_MR "PYCONV_CONV_MR"
        CONV_MC_ON "PYCONV_CONV_MC_ON"


cdef enum:
    # the channel-vector tiles, both run by _mkv (below, "_mkc" and "_mkp" after their sums,
    # pyconv_mkc_f and pyconv_mkp_f).  _mkc: CONV_MC output channels (the vector: 2 zmm of
    # float32, 4 of float64) x NL_F = 12 float32 or NL_D = 6 float64 lanes (broadcast), 24
    # accumulators.  Compiled in every module; the planner uses them where CONV_MC_ON (the
    # AVX-512 module: 32 registers)
    CONV_MC = 32
    NL_F = 12
    NL_D = 6
    # the pair tile (_mkp, float32): CONV_MP = 16 output channels x NP_F = 24 lanes; each
    # 64-bit broadcast holds two neighbouring lanes' inputs, each weight vector eight
    # channels' weights twice (packed duplicated: CONV_MC floats per tap, as _mkc reads)
    CONV_MP = 16
    NP_F = 24


cdef enum:
    # the largest scratch of partial sums for the channel-tiles-outside loop order (one
    # task's output block, kept between chunks of taps)
    WOUTER_PART_BYTES = 1 << 20


ctypedef struct ConvPlan:
    Py_ssize_t N, C, D, H, W          # input (contiguous)
    Py_ssize_t O, Do, Ho, Wo          # output
    Py_ssize_t G, Cg, Og, K           # groups, in/out channels per group, taps per output
    Py_ssize_t Kc                     # taps per chunk of the _mk3 tap loop (fits L1)
    Py_ssize_t KD, KH, KW
    Py_ssize_t sd, sh, sw, dd, dh, dw
    Py_ssize_t ox                     # left padding of x: tabx[i] == i - ox inside the row
    Py_ssize_t R, nrb                 # output rows per task, row blocks
    Py_ssize_t CW, ncb                # output columns per task, column blocks
    Py_ssize_t OCT, noc               # output-channel tiles per task, tile chunks
    Py_ssize_t nyp, Wph               # gathered rows per phase plane, lane pitch of a row
    Py_ssize_t buf_len, line_len      # per-thread scratch (elements)
    Py_ssize_t NI                     # images per task (> 1 with vlanes only): their rows
                                      # gathered one image below the other in each phase
                                      # plane (nyp / NI rows each), their outputs sharing
                                      # the blocks of valid lanes (see _vl_lanes)
    int vlanes                        # 1: the 32-channel tiles' blocks of lanes are the
                                      # task's valid outputs only (12 at a time, in the
                                      # order of _vl_lanes; each lane's input and output
                                      # offset given): no padding lanes, and each block
                                      # reads only the taps its outputs read inside the
                                      # padding's zeros (float32, see plan())
    int inpack                        # 1: wpack is the weights as given, (O, K); each task
                                      # packs its channel-vector tiles' chunks of taps into
                                      # its thread's scratch as it reaches them (float32
                                      # tiles, each tile used by one task: see plan())
    Py_ssize_t so_n, so_c, so_z, so_y, so_x   # output strides (elements)
    int mr                            # CONV_MR: _mk3 tiles, CONV_MC: _mkc tiles,
                                      # CONV_MP: _mkp tiles (float32), 1: _mk1
    int wouter                        # 1: loop channel tiles outside lane blocks (_mkc
                                      # always; _mk3 when the weights of a tap chunk
                                      # outweigh its input rows); 2: the same order, the
                                      # channel-vector tiles reading packed panels; 3: the
                                      # same, the panels packed from the input (no gather)
    const Py_ssize_t* win             # NULL, or per channel tile of a group (channel-tiles-
                                      # outside order only) the output planes [win[4t],
                                      # win[4t+1]) and rows [win[4t+2], win[4t+3]) it must
                                      # compute: its blocks of lanes wholly outside are
                                      # skipped (those outputs are left unwritten)
    # the placed phases of a transposed convolution (conv_place_f32/f64), ph NULL otherwise:
    # each task's outputs go to its thread's block loc (loc_len elements; so_c, so_y and
    # so_x describe it: R rows of Wph lanes per channel) and from there, while in cache,
    # each channel (one phase of one output channel) to its strided places in the
    # destination
    const Py_ssize_t* ph              # (P, 9) places per phase, see conv_place_f64
    Py_ssize_t P, PO                  # phases, output channels of the destination
    int pmajor                        # channel p * PO + o (else o * P + p): phase p of o
    Py_ssize_t psz, psy, psx          # the phases' output strides per axis
    Py_ssize_t dn, dc, dz, dy, dx     # the destination's strides (elements)
    Py_ssize_t loc_len
    # the packed weights hold no Inf or NaN (set by conv_f32 for blocks of valid lanes)
    bint wfin


cdef struct Lanes:
    # where the current block of lanes lands in the output: rows of the task, valid columns,
    # lane pitch, output strides; and, set once per block, its first lane's row and column and
    # whether the block's lanes are consecutive valid outputs of one row stored contiguously
    Py_ssize_t rows, cw, Wph, so_y, so_x
    Py_ssize_t r0, x0
    bint contiguous
    # spill: the output is a thread's block of placed phases (conv_place), pitch Wph with
    # room past the last row: every lane of a block may be stored, padding lanes included
    bint spill


cdef inline void _wrap(Py_ssize_t* r, Py_ssize_t* x, Py_ssize_t pitch) noexcept nogil:
    # row r, column x >= 0 of a lane index -> the same lane with x < pitch: subtractions
    # where the column passed fewer than eight rows (a 64-bit division costs as much as a
    # row of a small plane's task)
    if x[0] >= 8 * pitch:
        r[0] = r[0] + x[0] // pitch
        x[0] = x[0] % pitch
    while x[0] >= pitch:
        x[0] = x[0] - pitch
        r[0] = r[0] + 1


cdef inline Py_ssize_t _digit(Py_ssize_t* rest, Py_ssize_t n) noexcept nogil:
    # rest % n, and rest //= n (no division for an axis of one)
    cdef Py_ssize_t d
    if n == 1:
        return 0
    d = rest[0] % n
    rest[0] = rest[0] // n
    return d


cdef inline void _lanes_at(Lanes* ln, Py_ssize_t r, Py_ssize_t x, Py_ssize_t n) noexcept nogil:
    # the block of n lanes starting at row r, column x < Wph; contiguous: its n lanes are n
    # valid outputs stored one after another (within a row, or across whole rows when the
    # rows have no padding lanes and follow each other in the output: a 1x1 layer; or
    # anywhere in a spill block)
    ln.r0 = r
    ln.x0 = x
    ln.contiguous = ln.so_x == 1 and r < ln.rows and (
        x + n <= ln.cw or ln.spill or (ln.Wph == ln.cw and ln.so_y == ln.cw
                                       and r * ln.Wph + x + n <= ln.rows * ln.Wph))


cdef inline void _load_lanes(real* acc, const real* o, const Lanes* ln,
                             Py_ssize_t n) noexcept nogil:
    # acc[j] = stored partial sum of the block's lane j (0 for padding lanes), by row runs
    cdef Py_ssize_t i, j = 0, m, seg, r = ln.r0, x = ln.x0
    cdef const real* src
    while j < n:
        seg = ln.Wph - x
        if seg > n - j:
            seg = n - j
        m = ln.cw - x if r < ln.rows else 0
        if m > seg:
            m = seg
        if m < 0:
            m = 0
        src = o + r * ln.so_y + x * ln.so_x
        if ln.so_x == 1:
            for i in range(m):
                acc[j + i] = src[i]
        else:
            for i in range(m):
                acc[j + i] = src[i * ln.so_x]
        for i in range(m, seg):
            acc[j + i] = 0
        j = j + seg
        x = 0
        r = r + 1


cdef inline void _store_lanes(real* o, const Lanes* ln, Py_ssize_t j0, Py_ssize_t n,
                              const real* acc, real b) noexcept nogil:
    # the valid lanes j0 .. j0 + n - 1 of the block (acc[0 .. n-1], + b) to the output
    cdef Py_ssize_t i, j = 0, m, seg, r, x
    cdef real* dst
    r = ln.r0
    x = ln.x0 + j0
    _wrap(&r, &x, ln.Wph)
    while j < n and r < ln.rows:
        seg = ln.Wph - x
        if seg > n - j:
            seg = n - j
        m = ln.cw - x
        if m > seg:
            m = seg
        dst = o + r * ln.so_y + x * ln.so_x
        if ln.so_x == 1:
            for i in range(m):
                dst[i] = acc[j + i] + b
        else:
            for i in range(m):
                dst[i * ln.so_x] = acc[j + i] + b
        j = j + seg
        x = 0
        r = r + 1


cdef inline void _mk3(real* o, Py_ssize_t so_c, Py_ssize_t mv, const Lanes* ln,
                      const real* xb, const Py_ssize_t* offs, const real* wp, Py_ssize_t K,
                      bint first, bint last, const real* bias, real* part) noexcept nogil:
    # For the block's NR lanes (from xb) and channels i < mv of the tile (CONV_MR channels:
    # 3, or 6 in the AVX-512 module; channels 3-5 below exist only there) whose output
    # starts at o:
    # out (=, or += when not first) sum_t wp[MR t + i] * xb[offs[t] + lane], then + bias[i]
    # when last; K >= 1.  A sum split over several calls (chunks of taps) continues from the
    # stored partial sum, so its rounding is that of one call.  part: NULL (partial sums
    # stored in the output), or the tile's MR * NR partial sums kept in the thread's scratch
    # between the calls, so that the output is written once, by the last chunk (a block of
    # lanes that spans rows would otherwise go through _load_lanes / _store_lanes on every
    # chunk)
    cdef real a0[NR_F]
    cdef real a1[NR_F]
    cdef real a2[NR_F]
    cdef real a3[NR_F]
    cdef real a4[NR_F]
    cdef real a5[NR_F]
    cdef real c[CONV_MR * NR_F]
    cdef real w0, w1, w2, w3 = 0, w4 = 0, w5 = 0
    cdef const real* xp
    cdef real* op
    cdef real* src
    cdef Py_ssize_t t, j, i
    cdef Py_ssize_t nr = CONV_VEC_BYTES // sizeof(real)
    cdef bint full = mv == CONV_MR and ln.contiguous
    # the first tap starts the sums (from 0, or from the stored partial sums): c + w*x
    # rounds as the loop's own steps do
    xp = xb + offs[0]
    w0 = wp[0]
    w1 = wp[1]
    w2 = wp[2]
    if CONV_MR > 3:
        w3 = wp[3]
        w4 = wp[4]
        w5 = wp[5]
    if first:
        for j in range(NR_F if real is float else NR_D):
            a0[j] = w0 * xp[j]
            a1[j] = w1 * xp[j]
            a2[j] = w2 * xp[j]
            if CONV_MR > 3:
                a3[j] = w3 * xp[j]
                a4[j] = w4 * xp[j]
                a5[j] = w5 * xp[j]
    else:
        # the stored partial sums, channel after channel, in c
        if part != NULL:
            src = part
        elif full:
            for i in range(CONV_MR):
                op = o + i * so_c + ln.r0 * ln.so_y + ln.x0
                for j in range(NR_F if real is float else NR_D):
                    c[i * nr + j] = op[j]
            src = c
        else:
            for i in range(CONV_MR):
                if i < mv:
                    _load_lanes(c + i * nr, o + i * so_c, ln, nr)
                else:
                    for j in range(NR_F if real is float else NR_D):
                        c[i * nr + j] = 0
            src = c
        for j in range(NR_F if real is float else NR_D):
            a0[j] = src[j] + w0 * xp[j]
            a1[j] = src[nr + j] + w1 * xp[j]
            a2[j] = src[2 * nr + j] + w2 * xp[j]
            if CONV_MR > 3:
                a3[j] = src[3 * nr + j] + w3 * xp[j]
                a4[j] = src[4 * nr + j] + w4 * xp[j]
                a5[j] = src[5 * nr + j] + w5 * xp[j]
    for t in range(1, K):
        xp = xb + offs[t]
        w0 = wp[CONV_MR * t]
        w1 = wp[CONV_MR * t + 1]
        w2 = wp[CONV_MR * t + 2]
        if CONV_MR > 3:
            w3 = wp[CONV_MR * t + 3]
            w4 = wp[CONV_MR * t + 4]
            w5 = wp[CONV_MR * t + 5]
        for j in range(NR_F if real is float else NR_D):
            a0[j] = a0[j] + w0 * xp[j]
            a1[j] = a1[j] + w1 * xp[j]
            a2[j] = a2[j] + w2 * xp[j]
            if CONV_MR > 3:
                a3[j] = a3[j] + w3 * xp[j]
                a4[j] = a4[j] + w4 * xp[j]
                a5[j] = a5[j] + w5 * xp[j]
    if part != NULL and not last:
        for j in range(NR_F if real is float else NR_D):
            part[j] = a0[j]
            part[nr + j] = a1[j]
            part[2 * nr + j] = a2[j]
            if CONV_MR > 3:
                part[3 * nr + j] = a3[j]
                part[4 * nr + j] = a4[j]
                part[5 * nr + j] = a5[j]
        return
    # + bias (last chunk only; 0 before, which leaves a stored partial sum unchanged)
    w0 = bias[0] if last and bias != NULL else 0
    w1 = bias[1] if last and bias != NULL and mv > 1 else 0
    w2 = bias[2] if last and bias != NULL and mv > 2 else 0
    if CONV_MR > 3:
        w3 = bias[3] if last and bias != NULL and mv > 3 else 0
        w4 = bias[4] if last and bias != NULL and mv > 4 else 0
        w5 = bias[5] if last and bias != NULL and mv > 5 else 0
    for j in range(NR_F if real is float else NR_D):
        a0[j] = a0[j] + w0
        a1[j] = a1[j] + w1
        a2[j] = a2[j] + w2
        if CONV_MR > 3:
            a3[j] = a3[j] + w3
            a4[j] = a4[j] + w4
            a5[j] = a5[j] + w5
    if full:
        op = o + ln.r0 * ln.so_y + ln.x0
        for j in range(NR_F if real is float else NR_D):
            op[j] = a0[j]
            op[so_c + j] = a1[j]
            op[2 * so_c + j] = a2[j]
            if CONV_MR > 3:
                op[3 * so_c + j] = a3[j]
                op[4 * so_c + j] = a4[j]
                op[5 * so_c + j] = a5[j]
        return
    _store_lanes(o, ln, 0, nr, a0, 0)
    if mv > 1:
        _store_lanes(o + so_c, ln, 0, nr, a1, 0)
    if mv > 2:
        _store_lanes(o + 2 * so_c, ln, 0, nr, a2, 0)
    if CONV_MR > 3:
        if mv > 3:
            _store_lanes(o + 3 * so_c, ln, 0, nr, a3, 0)
        if mv > 4:
            _store_lanes(o + 4 * so_c, ln, 0, nr, a4, 0)
        if mv > 5:
            _store_lanes(o + 5 * so_c, ln, 0, nr, a5, 0)


cdef extern from *:
    """
    /* The sums of the channel-vector tile (_mkc): for lanes j < NL (broadcast inputs
       xb[offs[t] + j]) and the tile's PYCONV_MC channels i (a vector of packed weights
       wp[PYCONV_MC t + i]): part[j PYCONV_MC + i] = (first ? 0 : part[...]) + sum_t, in tap
       order, K >= 1.  Written in C: for the same loop in Cython GCC hoisted the twelve
       broadcasts ahead of the multiply-adds and kept two of the 24 accumulators in memory
       (a load and a store each per tap); this form compiles to one broadcast feeding its two
       multiply-adds, no spills (checked in the disassembly).  Every sum starts from +0 (the
       first product + 0): a sum of products is then never -0, so a product of 0 left out
       (the taps pyconv_mkc_fls skips, zeros of the padding) cannot change a bit of it. */
    #define PYCONV_MC 32
    #define PYCONV_LANES12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
    #define PYCONV_LANES6(X) X(0) X(1) X(2) X(3) X(4) X(5)
    #define PYCONV_MKC_DECL(j) pyconv_mkc_t a##j[PYCONV_MC]; pyconv_mkc_t x##j;
    #define PYCONV_MKC_LOADX(j) x##j = xp[j];
    #define PYCONV_MKC_FIRST(j) a##j[i] = x##j * wi + (pyconv_mkc_t)0;
    #define PYCONV_MKC_CONT(j) a##j[i] = part[j * PYCONV_MC + i] + x##j * wi;
    #define PYCONV_MKC_STEP(j) a##j[i] = a##j[i] + x##j * wi;
    #define PYCONV_MKC_SAVE(j) part[j * PYCONV_MC + i] = a##j[i];
    #define PYCONV_MKC_BODY(LANES) { \
        LANES(PYCONV_MKC_DECL) \
        const pyconv_mkc_t* xp = xb + offs[0]; \
        const pyconv_mkc_t* w = wp; \
        pyconv_mkc_t wi; \
        Py_ssize_t t, i; \
        LANES(PYCONV_MKC_LOADX) \
        if (first) { \
            for (i = 0; i < PYCONV_MC; i++) { wi = w[i]; LANES(PYCONV_MKC_FIRST) } \
        } else { \
            for (i = 0; i < PYCONV_MC; i++) { wi = w[i]; LANES(PYCONV_MKC_CONT) } \
        } \
        for (t = 1; t < K; t++) { \
            xp = xb + offs[t]; \
            w = wp + PYCONV_MC * t; \
            LANES(PYCONV_MKC_LOADX) \
            for (i = 0; i < PYCONV_MC; i++) { wi = w[i]; LANES(PYCONV_MKC_STEP) } \
        } \
        for (i = 0; i < PYCONV_MC; i++) { LANES(PYCONV_MKC_SAVE) } \
    }
    #if defined(__AVX512F__)
    /* the same sums written with AVX-512 intrinsics: 24 named accumulators.  The body is
       shared with the pair tile (pyconv_mkp_f below), which differs only in its broadcast:
       PYCONV_F_X(j), defined before each function, sets x from the input xp for the j-th
       pair of accumulators */
    #include <immintrin.h>
    #define PYCONV_MKC_F_DECL(j) __m512 a##j##l, a##j##h;
    #define PYCONV_MKC_F_FIRST(j) PYCONV_F_X(j) \
        a##j##l = _mm512_fmadd_ps(x, wl, _mm512_setzero_ps()); \
        a##j##h = _mm512_fmadd_ps(x, wh, _mm512_setzero_ps());
    #define PYCONV_MKC_F_CONT(j) PYCONV_F_X(j) \
        a##j##l = _mm512_fmadd_ps(x, wl, _mm512_loadu_ps(part + j * 32)); \
        a##j##h = _mm512_fmadd_ps(x, wh, _mm512_loadu_ps(part + j * 32 + 16));
    #define PYCONV_MKC_F_STEP(j) PYCONV_F_X(j) \
        a##j##l = _mm512_fmadd_ps(x, wl, a##j##l); a##j##h = _mm512_fmadd_ps(x, wh, a##j##h);
    #define PYCONV_MKC_F_SAVE(j) _mm512_storeu_ps(part + j * 32, a##j##l); \
        _mm512_storeu_ps(part + j * 32 + 16, a##j##h);
    /* TAP(t): the index of the t-th tap summed (t itself, or sel[t] in pyconv_mkc_fls) */
    #define PYCONV_F_TILE_BODY_OF(TAP) { \
        PYCONV_LANES12(PYCONV_MKC_F_DECL) \
        Py_ssize_t t, s_ = TAP(0); \
        __m512 wl = _mm512_loadu_ps(wp + 32 * s_), wh = _mm512_loadu_ps(wp + 32 * s_ + 16), x; \
        const float* xp = xb + offs[s_]; \
        if (first) { \
            PYCONV_LANES12(PYCONV_MKC_F_FIRST) \
        } else { \
            PYCONV_LANES12(PYCONV_MKC_F_CONT) \
        } \
        for (t = 1; t < K; t++) { \
            s_ = TAP(t); \
            xp = xb + offs[s_]; \
            wl = _mm512_loadu_ps(wp + 32 * s_); \
            wh = _mm512_loadu_ps(wp + 32 * s_ + 16); \
            PYCONV_LANES12(PYCONV_MKC_F_STEP) \
        } \
        PYCONV_LANES12(PYCONV_MKC_F_SAVE) \
    }
    #define PYCONV_F_EVERY_TAP(t) (t)
    #define PYCONV_F_SEL_TAP(t) ((Py_ssize_t)sel[t])
    #define PYCONV_F_TILE_BODY PYCONV_F_TILE_BODY_OF(PYCONV_F_EVERY_TAP)
    #define PYCONV_F_X(j) x = _mm512_set1_ps(xp[j]);
    static void pyconv_mkc_f(float* restrict part, const float* restrict xb,
                             const Py_ssize_t* restrict offs, const float* restrict wp,
                             Py_ssize_t K, int first)
    PYCONV_F_TILE_BODY
    #undef PYCONV_F_X
    /* the same sums for 12 lanes anywhere in the gathered rows: lane j's input of tap t is
       xb[offs[t] + lane[j]] (the block's valid outputs only, across rows: no padding
       lanes).  Returns 1 (0: no such path in this module) */
    #define PYCONV_F_X(j) x = _mm512_set1_ps(xp[l##j]);
    static int pyconv_mkc_fl(float* restrict part, const float* restrict xb,
                             const Py_ssize_t* restrict lane,
                             const Py_ssize_t* restrict offs, const float* restrict wp,
                             Py_ssize_t K, int first)
    {
        const Py_ssize_t l0 = lane[0], l1 = lane[1], l2 = lane[2], l3 = lane[3],
            l4 = lane[4], l5 = lane[5], l6 = lane[6], l7 = lane[7], l8 = lane[8],
            l9 = lane[9], l10 = lane[10], l11 = lane[11];
        PYCONV_F_TILE_BODY
        return 1;
    }
    /* the same for the taps sel[0 .. K - 1] only (tap indices, increasing): the input at
       xb + offs[sel[t]] + lane[j], the weights at wp + 32 sel[t].  The block's other taps
       read zeros of the padding for every lane (see _conv_task): their products, 0, are
       left out, and the sums keep their bits (they start from +0).  Returns 1 */
    static int pyconv_mkc_fls(float* restrict part, const float* restrict xb,
                              const Py_ssize_t* restrict lane,
                              const Py_ssize_t* restrict offs, const int* restrict sel,
                              const float* restrict wp, Py_ssize_t K, int first)
    {
        const Py_ssize_t l0 = lane[0], l1 = lane[1], l2 = lane[2], l3 = lane[3],
            l4 = lane[4], l5 = lane[5], l6 = lane[6], l7 = lane[7], l8 = lane[8],
            l9 = lane[9], l10 = lane[10], l11 = lane[11];
        PYCONV_F_TILE_BODY_OF(PYCONV_F_SEL_TAP)
        return 1;
    }
    #undef PYCONV_F_X
    /* r[m] = column m of the 16 x 16 matrix whose rows are r[0..15] (in place) */
    static inline void pyconv_transpose16_ps(__m512* r)
    {
        __m512 a[16], b[16], c0, c1, d0, d1;
        int k, m;
        /* a[2k], a[2k+1]: rows 2k, 2k+1 interleaved, columns 0-1 / 2-3 of each 128-bit
           lane */
        for (k = 0; k < 8; k++) {
            a[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
            a[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
        }
        /* b[4k + m], 128-bit lane L: rows 4k .. 4k+3 of column 4L + m */
        for (k = 0; k < 4; k++) {
            b[4 * k] = _mm512_castpd_ps(_mm512_unpacklo_pd(
                _mm512_castps_pd(a[4 * k]), _mm512_castps_pd(a[4 * k + 2])));
            b[4 * k + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(
                _mm512_castps_pd(a[4 * k]), _mm512_castps_pd(a[4 * k + 2])));
            b[4 * k + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(
                _mm512_castps_pd(a[4 * k + 1]), _mm512_castps_pd(a[4 * k + 3])));
            b[4 * k + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(
                _mm512_castps_pd(a[4 * k + 1]), _mm512_castps_pd(a[4 * k + 3])));
        }
        /* column 4L + m: lane L of b[m], b[4 + m], b[8 + m], b[12 + m] */
        for (m = 0; m < 4; m++) {
            c0 = _mm512_shuffle_f32x4(b[m], b[4 + m], 0x44);
            c1 = _mm512_shuffle_f32x4(b[m], b[4 + m], 0xEE);
            d0 = _mm512_shuffle_f32x4(b[8 + m], b[12 + m], 0x44);
            d1 = _mm512_shuffle_f32x4(b[8 + m], b[12 + m], 0xEE);
            r[m] = _mm512_shuffle_f32x4(c0, d0, 0x88);
            r[4 + m] = _mm512_shuffle_f32x4(c0, d0, 0xDD);
            r[8 + m] = _mm512_shuffle_f32x4(c1, d1, 0x88);
            r[12 + m] = _mm512_shuffle_f32x4(c1, d1, 0xDD);
        }
    }
    /* r[m] = sample m of lane l's run at p + off[l] (off NULL: p + l pitch), for lanes
       l < n and samples m < cnt (zero elsewhere): the runs of sixteen lanes loaded with
       masks and turned in registers (pyconv_transpose16_ps) */
    static inline void pyconv_lanes16_ps(__m512* r, const float* p, const Py_ssize_t* off,
                                         Py_ssize_t pitch, Py_ssize_t n, Py_ssize_t cnt)
    {
        const __mmask16 mk = (__mmask16)((1u << cnt) - 1u);
        Py_ssize_t l;
        for (l = 0; l < 16; l++)
            r[l] = l < n ? _mm512_maskz_loadu_ps(mk, p + (off ? off[l] : l * pitch))
                         : _mm512_setzero_ps();
        pyconv_transpose16_ps(r);
    }
    /* o[i * so_c + j] = part[j * 32 + i] + bias[i] (bias may be NULL) for the tile's
       channels i < mv and its 12 lanes j: per 16 channels one 16 x 16 transpose in
       registers (the lanes 12-15 zero), the lanes of a channel one masked store; 1 is
       returned (0: no such path in this module, the caller stores element by element) */
    static int pyconv_mkc_store_f(const float* part, float* o, Py_ssize_t so_c,
                                  Py_ssize_t mv, const float* bias)
    {
        __m512 r[16], v;
        Py_ssize_t h, k, ch;
        for (h = 0; h * 16 < mv; h++) {
            for (k = 0; k < 12; k++)
                r[k] = _mm512_loadu_ps(part + k * 32 + h * 16);
            for (k = 12; k < 16; k++)
                r[k] = _mm512_setzero_ps();
            pyconv_transpose16_ps(r);
            for (k = 0; k < 16 && h * 16 + k < mv; k++) {
                ch = h * 16 + k;
                v = bias ? _mm512_add_ps(r[k], _mm512_set1_ps(bias[ch])) : r[k];
                _mm512_mask_storeu_ps(o + ch * so_c, (__mmask16)0x0FFF, v);
                /* the line of the next block's last lane, for writing: the output's
                   lines otherwise come from memory while these stores wait (a prefetch
                   past a row or the array never faults) */
                __builtin_prefetch(o + ch * so_c + 23, 1, 3);
            }
        }
        return 1;
    }
    /* The pair tile (_mkp): lanes 2p, 2p + 1 (p < 12) of the block take one 64-bit broadcast
       [x(2p) x(2p+1) x(2p) x(2p+1) ...]; the packed weights of a tap are two vectors of
       eight channels, each weight twice [w0 w0 w1 w1 ... w7 w7 | w8 w8 ... w15 w15], so that
       element 2k + e of the product holds channel 8h + k at lane 2p + e:
       part[32 p + 16 h + 2 k + e].  24 accumulators, 12 broadcasts and 2 weight loads per
       24 multiply-adds: the 16-channel layers get the loads of the 32-channel tile. */
    #define PYCONV_F_X(p) { double d_; memcpy(&d_, xp + 2 * p, sizeof d_); \
        x = _mm512_castpd_ps(_mm512_set1_pd(d_)); }
    static void pyconv_mkp_f(float* restrict part, const float* restrict xb,
                             const Py_ssize_t* restrict offs, const float* restrict wp,
                             Py_ssize_t K, int first)
    PYCONV_F_TILE_BODY
    #undef PYCONV_F_X
    /* columns c[k] of the 8 x 8 matrix of doubles r[0..7] (in place) */
    static inline void pyconv_transpose8_pd(__m512d* r)
    {
        __m512d a[8], b[8];
        int k;
        for (k = 0; k < 4; k++) {
            a[2 * k] = _mm512_unpacklo_pd(r[2 * k], r[2 * k + 1]);
            a[2 * k + 1] = _mm512_unpackhi_pd(r[2 * k], r[2 * k + 1]);
        }
        for (k = 0; k < 2; k++) {
            b[4 * k] = _mm512_shuffle_f64x2(a[4 * k], a[4 * k + 2], 0x88);
            b[4 * k + 1] = _mm512_shuffle_f64x2(a[4 * k], a[4 * k + 2], 0xDD);
            b[4 * k + 2] = _mm512_shuffle_f64x2(a[4 * k + 1], a[4 * k + 3], 0x88);
            b[4 * k + 3] = _mm512_shuffle_f64x2(a[4 * k + 1], a[4 * k + 3], 0xDD);
        }
        r[0] = _mm512_shuffle_f64x2(b[0], b[4], 0x88);
        r[4] = _mm512_shuffle_f64x2(b[0], b[4], 0xDD);
        r[2] = _mm512_shuffle_f64x2(b[1], b[5], 0x88);
        r[6] = _mm512_shuffle_f64x2(b[1], b[5], 0xDD);
        r[1] = _mm512_shuffle_f64x2(b[2], b[6], 0x88);
        r[5] = _mm512_shuffle_f64x2(b[2], b[6], 0xDD);
        r[3] = _mm512_shuffle_f64x2(b[3], b[7], 0x88);
        r[7] = _mm512_shuffle_f64x2(b[3], b[7], 0xDD);
    }
    /* o[i * so_c + j] = the pair tile's sum of channel i < mv, lane j < 24, + bias[i]: the
       pairs of lanes as doubles, part[32 p + 16 h + 2 k ..] = pair p of channel 8 h + k,
       transposed 8 x 8 at a time; 1 (0: no such path in this module) */
    static int pyconv_mkp_store_f(const float* part, float* o, Py_ssize_t so_c,
                                  Py_ssize_t mv, const float* bias)
    {
        __m512d lo[8], hi[8];
        __m512 v;
        Py_ssize_t h, k, ch;
        for (h = 0; h * 8 < mv; h++) {
            for (k = 0; k < 8; k++) {
                lo[k] = _mm512_loadu_pd((const double*)(part + k * 32 + h * 16));
                hi[k] = k < 4 ? _mm512_loadu_pd((const double*)(part + (k + 8) * 32 + h * 16))
                              : _mm512_setzero_pd();
            }
            pyconv_transpose8_pd(lo);
            pyconv_transpose8_pd(hi);
            for (k = 0; k < 8 && h * 8 + k < mv; k++) {
                ch = h * 8 + k;
                v = _mm512_castpd_ps(lo[k]);
                if (bias)
                    v = _mm512_add_ps(v, _mm512_set1_ps(bias[ch]));
                _mm512_storeu_ps(o + ch * so_c, v);
                v = _mm512_castpd_ps(hi[k]);
                if (bias)
                    v = _mm512_add_ps(v, _mm512_set1_ps(bias[ch]));
                _mm512_mask_storeu_ps(o + ch * so_c + 16, (__mmask16)0x00FF, v);
            }
        }
        return 1;
    }
    /* One tile of packed float32 weights (see _pack_tiles): from w (mv rows of K taps, rows
       pitch apart) to dst, tap by tap: the 32-channel tile's 32 weights (channels >= mv zero),
       or (pair = 1) the pair tile's 16, each twice.  Sixteen taps of sixteen rows at a time:
       each source line read once, whole, and turned in registers (pyconv_lanes16_ps; a
       scalar copy reads the rows K apart one weight at a time, and rows 4-18 KB apart
       share a few L1 sets).
       Returns 1 (0: no such path in this module) */
    static int pyconv_pack_tile_f(const float* w, Py_ssize_t pitch, Py_ssize_t K,
                                  Py_ssize_t mv, int pair, float* dst)
    {
        __m512 r[16];
        const __m512i dup_lo = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
        const __m512i dup_hi = _mm512_set_epi32(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10,
                                                9, 9, 8, 8);
        Py_ssize_t k0, n, h, m, rows = pair ? 16 : 32;
        for (k0 = 0; k0 < K; k0 += 16) {
            n = K - k0 < 16 ? K - k0 : 16;
            for (h = 0; h < rows; h += 16) {
                pyconv_lanes16_ps(r, h < mv ? w + h * pitch + k0 : w, NULL, pitch, mv - h, n);
                for (m = 0; m < n; m++) {
                    if (pair) {
                        _mm512_storeu_ps(dst + (k0 + m) * 32,
                                         _mm512_permutexvar_ps(dup_lo, r[m]));
                        _mm512_storeu_ps(dst + (k0 + m) * 32 + 16,
                                         _mm512_permutexvar_ps(dup_hi, r[m]));
                    } else {
                        _mm512_storeu_ps(dst + (k0 + m) * 32 + h, r[m]);
                    }
                }
            }
        }
        return 1;
    }
    /* pyconv_dwcv_f: a depthwise layer's output channels c0 .. c0 + nc - 1 (nc <= 16) of
       one image with the sixteen channels in the lanes of a vector, as the channel-vector
       tiles hold them: per output pixel one multiply-add per tap with a vector of sixteen
       weights and the pixel's sixteen inputs, every lane used whatever the plane's width
       (a 7 x 7 plane fills 7 of 16 lanes in a row-vector form) and no shuffle per tap.
         The inputs: lane l's plane at x + xoff[l] (rows sx_y apart, columns contiguous,
       H x W), zero-padded (pt rows above, pl columns left) in buf: Hp x Wp pixels of 16
       floats, Hp = (Ho - 1) sy + (kh - 1) dy + 1, Wp likewise.  Sixteen samples of the
       sixteen lanes' planes at a time are turned in registers (pyconv_transpose16_ps):
       along the whole plane where its rows are contiguous and all read, else row by row.
       buf's padding must be zero: a zeroed buf stays so, as only the inputs' pixels (and,
       past a row's inputs, zeros) are written.  With tables (taby, Hp source rows, and
       tabx, Wp source columns; < 0: zero) every padded pixel is written instead, from its
       source pixel (reflect, replicate, circular padding), each source row turned into
       tmp (W + 16 pixels) first.
         The outputs: per output row PYCONV_DW_R pixels at a time in registers, each from
       zero, one multiply-add per tap in C order (ky, kx) (the dense tiles' order), + bv
       (NULL: none), into ost (pixels of 16 floats); then turned back sixteen at a time and
       stored to lane l's channel at o + l so_c (rows so_y apart): along the whole plane
       where its rows are contiguous (so_y == Wo), else row by row.
         wv: kh kw vectors of 16 weights (pyconv_dwcv_pack_f); bv: 16 biases or NULL; toff:
       kh kw offsets (filled here); buf: (Hp Wp + 16) 16 floats, ost: (Ho Wo + 16) 16
       floats, both 64-byte aligned.  Returns 1 (0: no such path in this module). */
    #define PYCONV_DW_R 8
    #define PYCONV_DWCV 1
    static inline __attribute__((always_inline)) void pyconv_dwcv_g(
            float* orow, const float* in, Py_ssize_t sx, const Py_ssize_t* toff,
            const float* wv, Py_ssize_t T, const float* bv, const int R, const int SX)
    {
        /* SX: the stride along x compiled in (1 or 2: the pixels' offsets fold into the
           loads' displacements), 0: sx */
        __m512 a[PYCONV_DW_R];
        const Py_ssize_t step = (SX ? SX : sx) * 16;
        Py_ssize_t t;
        _Pragma("GCC unroll 8")
        for (int r = 0; r < R; r++)
            a[r] = _mm512_setzero_ps();
        for (t = 0; t < T; t++) {
            const __m512 w = _mm512_load_ps(wv + 16 * t);
            const float* p = in + toff[t];
            _Pragma("GCC unroll 8")
            for (int r = 0; r < R; r++)
                a[r] = _mm512_fmadd_ps(w, _mm512_load_ps(p + r * step), a[r]);
        }
        _Pragma("GCC unroll 8")
        for (int r = 0; r < R; r++) {
            if (bv)
                a[r] = _mm512_add_ps(a[r], _mm512_load_ps(bv));
            _mm512_store_ps(orow + 16 * r, a[r]);
        }
    }
    /* pyconv_dwcv_g for stride SX (1 or 2) and dilation 1 along x and a kernel row of KW
       taps: per kernel row the SX (R - 1) + KW input pixels are loaded once and each feeds
       the sums whose windows hold it (the same multiply-adds in the same order) */
    static inline __attribute__((always_inline)) void pyconv_dwcv_gk(
            float* orow, const float* in, const Py_ssize_t* toff, const float* wv,
            Py_ssize_t kh, const float* bv, const int R, const int KW, const int SX)
    {
        __m512 a[PYCONV_DW_R], P[2 * PYCONV_DW_R + 6];
        Py_ssize_t ky;
        _Pragma("GCC unroll 8")
        for (int r = 0; r < R; r++)
            a[r] = _mm512_setzero_ps();
        for (ky = 0; ky < kh; ky++) {
            const float* p = in + toff[ky * KW];
            const float* wk = wv + 16 * ky * KW;
            _Pragma("GCC unroll 24")
            for (int i = 0; i < SX * (R - 1) + KW; i++)
                P[i] = _mm512_load_ps(p + 16 * i);
            _Pragma("GCC unroll 8")
            for (int kx = 0; kx < KW; kx++) {
                const __m512 w = _mm512_load_ps(wk + 16 * kx);
                _Pragma("GCC unroll 8")
                for (int r = 0; r < R; r++)
                    a[r] = _mm512_fmadd_ps(w, P[SX * r + kx], a[r]);
            }
        }
        _Pragma("GCC unroll 8")
        for (int r = 0; r < R; r++) {
            if (bv)
                a[r] = _mm512_add_ps(a[r], _mm512_load_ps(bv));
            _mm512_store_ps(orow + 16 * r, a[r]);
        }
    }
    /* one output row of pyconv_dwcv_f, PYCONV_DW_R pixels at a time, then the rest:
       pyconv_dwcv_gk for rows compiled with their width KW (and stride SX), else
       pyconv_dwcv_g */
    #define PYCONV_DW_GROUP(R) \
        if (KW) \
            pyconv_dwcv_gk(orow + 16 * ox, in + ox * sx * 16, toff, wv, kh, bv, R, KW, SX); \
        else \
            pyconv_dwcv_g(orow + 16 * ox, in + ox * sx * 16, sx, toff, wv, T, bv, R, SX);
    static inline __attribute__((always_inline)) void pyconv_dwcv_row(
            float* orow, const float* in, Py_ssize_t Wo, Py_ssize_t sx,
            const Py_ssize_t* toff, const float* wv, Py_ssize_t T, Py_ssize_t kh,
            const float* bv, const int KW, const int SX)
    {
        Py_ssize_t ox;
        for (ox = 0; ox + PYCONV_DW_R <= Wo; ox += PYCONV_DW_R) {
            PYCONV_DW_GROUP(PYCONV_DW_R)
        }
        switch (Wo - ox) {
    #define PYCONV_DW_CASE(R) \
        case R: \
            PYCONV_DW_GROUP(R) \
            break;
        PYCONV_DW_CASE(1) PYCONV_DW_CASE(2) PYCONV_DW_CASE(3) PYCONV_DW_CASE(4)
        PYCONV_DW_CASE(5) PYCONV_DW_CASE(6) PYCONV_DW_CASE(7)
    #undef PYCONV_DW_CASE
        default:
            break;
        }
    }
    #undef PYCONV_DW_GROUP
    /* the reverse: cnt vectors of 16 lanes at v (one a pixel) turned, and lane l's cnt
       samples stored at o + l so_c, for lanes l < n */
    static inline void pyconv_unlanes16_ps(const float* v, Py_ssize_t cnt, float* o,
                                           Py_ssize_t so_c, Py_ssize_t n)
    {
        const __mmask16 mk = (__mmask16)((1u << cnt) - 1u);
        __m512 r[16];
        Py_ssize_t m, l;
        for (m = 0; m < 16; m++)
            r[m] = m < cnt ? _mm512_load_ps(v + 16 * m) : _mm512_setzero_ps();
        pyconv_transpose16_ps(r);
        for (l = 0; l < n; l++)
            _mm512_mask_storeu_ps(o + l * so_c, mk, r[l]);
    }
    /* the weights of pyconv_dwcv_f's sixteen channels: w (nc rows of T taps, rows T apart)
       into wv, T vectors of 16 (lane l: channel l; zero past nc), sixteen taps of the rows
       at a time turned in registers; the biases b (NULL: none) into bv likewise.  wv has
       room for T rounded up to 16 vectors.  Returns 1 (0: no such path in this module). */
    static int pyconv_dwcv_pack_f(const float* w, Py_ssize_t T, Py_ssize_t nc,
                                  const float* b, float* wv, float* bv)
    {
        __m512 r[16];
        Py_ssize_t k, m;
        for (k = 0; k < T; k += 16) {
            pyconv_lanes16_ps(r, w + k, NULL, T, nc, T - k < 16 ? T - k : 16);
            _Pragma("GCC unroll 16")
            for (m = 0; m < 16; m++)    /* whole blocks (a copy of cnt vectors had compiled
                                           to a rep movsq from the stack) */
                _mm512_store_ps(wv + 16 * (k + m), r[m]);
        }
        if (b)
            _mm512_store_ps(bv, _mm512_maskz_loadu_ps((__mmask16)((1u << nc) - 1u), b));
        return 1;
    }
    static int pyconv_dwcv_f(float* o, Py_ssize_t so_c, Py_ssize_t so_y, const float* x,
                             const Py_ssize_t* xoff, Py_ssize_t sx_y, Py_ssize_t H,
                             Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t pt,
                             Py_ssize_t pl, Py_ssize_t sy, Py_ssize_t sx, Py_ssize_t dy,
                             Py_ssize_t dx, Py_ssize_t kh, Py_ssize_t kw, const float* wv,
                             const float* bv, Py_ssize_t nc, Py_ssize_t* toff, float* buf,
                             float* ost, const Py_ssize_t* taby, const Py_ssize_t* tabx,
                             float* tmp)
    {
        const Py_ssize_t Hp = (Ho - 1) * sy + (kh - 1) * dy + 1;
        const Py_ssize_t Wp = (Wo - 1) * sx + (kw - 1) * dx + 1;
        const Py_ssize_t T = kh * kw;
        /* the input rows [0, hb) and columns [0, xb) the padded pixels hold */
        const Py_ssize_t xb = W < Wp - pl ? W : Wp - pl;
        const Py_ssize_t hb = H < Hp - pt ? H : Hp - pt;
        /* whole planes of outputs, contiguous: turned back 16 at a time along the plane */
        const int oflat = so_y == Wo;
        __m512 r[16];
        Py_ssize_t iy, ix, ix0, q0, m, oy, ox, ky, kx;
        for (ky = 0; ky < kh; ky++)
            for (kx = 0; kx < kw; kx++)
                toff[ky * kw + kx] = (ky * dy * Wp + kx * dx) * 16;
        /* the inputs' pixels: buf came zeroed and only these pixels are written (and, past
           a row's inputs, zeros), so its padding stays zero from task to task */
        if (taby) {
            /* padding through the tables (reflect, replicate, circular): each padded row's
               source row (taby; < 0: zeros) turned into tmp, W pixels, then each padded
               pixel copied from its source column (tabx; < 0: zeros); buf rewritten whole */
            for (iy = 0; iy < Hp; iy++) {
                float* row = buf + iy * Wp * 16;
                const Py_ssize_t sr = taby[iy];
                if (sr < 0) {
                    for (ix = 0; ix < Wp; ix++)
                        _mm512_store_ps(row + 16 * ix, _mm512_setzero_ps());
                    continue;
                }
                for (ix0 = 0; ix0 < W; ix0 += 16) {
                    pyconv_lanes16_ps(r, x + sr * sx_y + ix0, xoff, 0, nc,
                                      W - ix0 < 16 ? W - ix0 : 16);
                    _Pragma("GCC unroll 16")
                    for (m = 0; m < 16; m++)    /* tmp has 16 pixels of room */
                        _mm512_store_ps(tmp + 16 * (ix0 + m), r[m]);
                }
                for (ix = 0; ix < Wp; ix++)
                    _mm512_store_ps(row + 16 * ix, tabx[ix] < 0 ? _mm512_setzero_ps()
                                                               : _mm512_load_ps(tmp + 16 * tabx[ix]));
            }
        } else if (sx_y == W && xb == W) {
            /* whole contiguous rows: sixteen samples of the plane at a time, across rows */
            const Py_ssize_t nq = hb * W;
            for (q0 = 0; q0 < nq; q0 += 16) {
                const Py_ssize_t cnt = nq - q0 < 16 ? nq - q0 : 16;
                pyconv_lanes16_ps(r, x + q0, xoff, 0, nc, cnt);
                iy = q0 / W;
                ix = q0 - iy * W;
                for (m = 0; m < cnt; m++) {
                    _mm512_store_ps(buf + ((pt + iy) * Wp + pl + ix) * 16, r[m]);
                    if (++ix == W) {
                        ix = 0;
                        iy++;
                    }
                }
            }
        } else {
            for (iy = 0; iy < hb; iy++) {
                float* row = buf + ((pt + iy) * Wp + pl) * 16;
                for (ix0 = 0; ix0 < xb; ix0 += 16) {
                    pyconv_lanes16_ps(r, x + iy * sx_y + ix0, xoff, 0, nc,
                                      xb - ix0 < 16 ? xb - ix0 : 16);
                    /* sixteen pixels, past the row's inputs too: the columns past cnt were
                       not loaded, so those pixels are zeros (padding, or pixels of the next
                       row, written after); buf has 16 pixels of room past the last row */
                    _Pragma("GCC unroll 16")
                    for (m = 0; m < 16; m++)
                        _mm512_store_ps(row + 16 * (ix0 + m), r[m]);
                }
            }
        }
        for (oy = 0; oy < Ho; oy++) {
            const float* in = buf + oy * sy * Wp * 16;
            float* orow = ost + (oflat ? oy * Wo * 16 : 0);
            /* the common rows compiled with their width and stride */
            if (dx == 1 && sx == 1 && kw == 3)
                pyconv_dwcv_row(orow, in, Wo, sx, toff, wv, T, kh, bv, 3, 1);
            else if (dx == 1 && sx == 1 && kw == 5)
                pyconv_dwcv_row(orow, in, Wo, sx, toff, wv, T, kh, bv, 5, 1);
            else if (dx == 1 && sx == 1 && kw == 7)
                pyconv_dwcv_row(orow, in, Wo, sx, toff, wv, T, kh, bv, 7, 1);
            else if (dx == 1 && sx == 2 && kw == 3)
                pyconv_dwcv_row(orow, in, Wo, sx, toff, wv, T, kh, bv, 3, 2);
            else if (dx == 1 && sx == 2 && kw == 5)
                pyconv_dwcv_row(orow, in, Wo, sx, toff, wv, T, kh, bv, 5, 2);
            else if (dx == 1 && sx == 2 && kw == 7)
                pyconv_dwcv_row(orow, in, Wo, sx, toff, wv, T, kh, bv, 7, 2);
            else if (sx == 1)
                pyconv_dwcv_row(orow, in, Wo, sx, toff, wv, T, kh, bv, 0, 1);
            else if (sx == 2)
                pyconv_dwcv_row(orow, in, Wo, sx, toff, wv, T, kh, bv, 0, 2);
            else
                pyconv_dwcv_row(orow, in, Wo, sx, toff, wv, T, kh, bv, 0, 0);
            if (oflat)
                continue;
            for (ox = 0; ox < Wo; ox += 16)
                pyconv_unlanes16_ps(orow + 16 * ox, Wo - ox < 16 ? Wo - ox : 16,
                                    o + oy * so_y + ox, so_c, nc);
        }
        if (oflat) {
            const Py_ssize_t nq = Ho * Wo;
            for (q0 = 0; q0 < nq; q0 += 16)
                pyconv_unlanes16_ps(ost + 16 * q0, nq - q0 < 16 ? nq - q0 : 16, o + q0, so_c,
                                    nc);
        }
        return 1;
    }
    #else
    static int pyconv_dwcv_pack_f(const float* w, Py_ssize_t T, Py_ssize_t nc,
                                  const float* b, float* wv, float* bv)
    {
        (void)w; (void)T; (void)nc; (void)b; (void)wv; (void)bv;
        return 0;
    }
    static int pyconv_dwcv_f(float* o, Py_ssize_t so_c, Py_ssize_t so_y, const float* x,
                             const Py_ssize_t* xoff, Py_ssize_t sx_y, Py_ssize_t H,
                             Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t pt,
                             Py_ssize_t pl, Py_ssize_t sy, Py_ssize_t sx, Py_ssize_t dy,
                             Py_ssize_t dx, Py_ssize_t kh, Py_ssize_t kw, const float* wv,
                             const float* bv, Py_ssize_t nc, Py_ssize_t* toff, float* buf,
                             float* ost, const Py_ssize_t* taby, const Py_ssize_t* tabx,
                             float* tmp)
    {
        (void)taby; (void)tabx; (void)tmp; (void)o; (void)so_c; (void)so_y; (void)x; (void)xoff; (void)sx_y; (void)H; (void)W;
        (void)Ho; (void)Wo; (void)pt; (void)pl; (void)sy; (void)sx; (void)dy; (void)dx;
        (void)kh; (void)kw; (void)wv; (void)bv; (void)nc; (void)toff; (void)buf; (void)ost;
        return 0;
    }
    #define PYCONV_DWCV 0
    static int pyconv_pack_tile_f(const float* w, Py_ssize_t pitch, Py_ssize_t K,
                                  Py_ssize_t mv, int pair, float* dst)
    {
        (void)w; (void)pitch; (void)K; (void)mv; (void)pair; (void)dst;
        return 0;
    }
    static int pyconv_mkc_fl(float* restrict part, const float* restrict xb,
                             const Py_ssize_t* restrict lane,
                             const Py_ssize_t* restrict offs, const float* restrict wp,
                             Py_ssize_t K, int first)
    {
        (void)part; (void)xb; (void)lane; (void)offs; (void)wp; (void)K; (void)first;
        return 0;
    }
    static int pyconv_mkc_fls(float* restrict part, const float* restrict xb,
                              const Py_ssize_t* restrict lane,
                              const Py_ssize_t* restrict offs, const int* restrict sel,
                              const float* restrict wp, Py_ssize_t K, int first)
    {
        (void)part; (void)xb; (void)lane; (void)offs; (void)sel; (void)wp; (void)K;
        (void)first;
        return 0;
    }
    static int pyconv_mkp_store_f(const float* part, float* o, Py_ssize_t so_c,
                                  Py_ssize_t mv, const float* bias)
    {
        (void)part; (void)o; (void)so_c; (void)mv; (void)bias;
        return 0;
    }
    /* the pair tile's sums (see the AVX-512 form), as a plain loop */
    static void pyconv_mkp_f(float* restrict part, const float* restrict xb,
                             const Py_ssize_t* restrict offs, const float* restrict wp,
                             Py_ssize_t K, int first)
    {
        Py_ssize_t t, p, i;
        const float* xp;
        const float* w;
        for (t = 0; t < K; t++) {
            xp = xb + offs[t];
            w = wp + 32 * t;
            for (p = 0; p < 12; p++)
                for (i = 0; i < 32; i++) {
                    float v = xp[2 * p + (i & 1)] * w[i];
                    part[p * 32 + i] = (t == 0 && first) ? v + 0.0f : part[p * 32 + i] + v;
                }
        }
    }
    #define pyconv_mkc_t float
    static void pyconv_mkc_f(float* restrict part, const float* restrict xb,
                             const Py_ssize_t* restrict offs, const float* restrict wp,
                             Py_ssize_t K, int first)
    PYCONV_MKC_BODY(PYCONV_LANES12)
    #undef pyconv_mkc_t
    static int pyconv_mkc_store_f(const float* part, float* o, Py_ssize_t so_c,
                                  Py_ssize_t mv, const float* bias)
    {
        (void)part; (void)o; (void)so_c; (void)mv; (void)bias;
        return 0;
    }
    #endif
    /* 1 if none of w[0 .. n - 1] is Inf or NaN (their exponent bits all ones) */
    static int pyconv_finite_f(const float* w, Py_ssize_t n)
    {
        unsigned int b, acc = 0;
        Py_ssize_t i;
        for (i = 0; i < n; i++) {
            memcpy(&b, w + i, sizeof b);
            acc |= (b & 0x7f800000u) == 0x7f800000u;
        }
        return !acc;
    }
    #define pyconv_mkc_t double
    static void pyconv_mkc_d(double* restrict part, const double* restrict xb,
                             const Py_ssize_t* restrict offs, const double* restrict wp,
                             Py_ssize_t K, int first)
    PYCONV_MKC_BODY(PYCONV_LANES6)
    #undef pyconv_mkc_t
    """
    void _mkc_f "pyconv_mkc_f"(float* part, const float* xb, const Py_ssize_t* offs,
                               const float* wp, Py_ssize_t K, int first) noexcept nogil
    void _mkc_d "pyconv_mkc_d"(double* part, const double* xb, const Py_ssize_t* offs,
                               const double* wp, Py_ssize_t K, int first) noexcept nogil
    void _mkp_f "pyconv_mkp_f"(float* part, const float* xb, const Py_ssize_t* offs,
                               const float* wp, Py_ssize_t K, int first) noexcept nogil
    int _mkp_store_f "pyconv_mkp_store_f"(const float* part, float* o, Py_ssize_t so_c,
                                          Py_ssize_t mv, const float* bias) noexcept nogil
    int _mkc_store_f "pyconv_mkc_store_f"(const float* part, float* o, Py_ssize_t so_c,
                                          Py_ssize_t mv, const float* bias) noexcept nogil
    int _pack_tile_f "pyconv_pack_tile_f"(const float* w, Py_ssize_t pitch, Py_ssize_t K,
                                          Py_ssize_t mv, int pair, float* dst) noexcept nogil
    enum: PYCONV_DWCV       # 1 in the AVX-512 module: pyconv_dwcv_f does its work
    int _dwcv_pack_f "pyconv_dwcv_pack_f"(const float* w, Py_ssize_t T, Py_ssize_t nc,
                                          const float* b, float* wv, float* bv) noexcept nogil
    int _dwcv_f "pyconv_dwcv_f"(float* o, Py_ssize_t so_c, Py_ssize_t so_y, const float* x,
                                const Py_ssize_t* xoff, Py_ssize_t sx_y, Py_ssize_t H,
                                Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo, Py_ssize_t pt,
                                Py_ssize_t pl, Py_ssize_t sy, Py_ssize_t sx, Py_ssize_t dy,
                                Py_ssize_t dx, Py_ssize_t kh, Py_ssize_t kw, const float* wv,
                                const float* bv, Py_ssize_t nc, Py_ssize_t* toff, float* buf,
                                float* ost, const Py_ssize_t* taby, const Py_ssize_t* tabx,
                                float* tmp) noexcept nogil
    int _mkc_fl "pyconv_mkc_fl"(float* part, const float* xb, const Py_ssize_t* lane,
                                const Py_ssize_t* offs, const float* wp, Py_ssize_t K,
                                int first) noexcept nogil
    int _mkc_fls "pyconv_mkc_fls"(float* part, const float* xb, const Py_ssize_t* lane,
                                  const Py_ssize_t* offs, const int* sel, const float* wp,
                                  Py_ssize_t K, int first) noexcept nogil
    int _finite_f "pyconv_finite_f"(const float* w, Py_ssize_t n) noexcept nogil


cdef inline Py_ssize_t _vec_at(Py_ssize_t mr, Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    # where a channel-vector tile's sums keep channel i, lane j: _mkc lane by lane,
    # _mkp pairs of lanes by halves of eight channels (see pyconv_mkp_f)
    if mr == CONV_MP:
        return 32 * (j >> 1) + 16 * (i >> 3) + 2 * (i & 7) + (j & 1)
    return j * CONV_MC + i


cdef inline int _vec_store(Py_ssize_t mr, const float* part, float* o, Py_ssize_t so_c,
                           Py_ssize_t mv, const float* bias) noexcept nogil:
    # the tile's sums + bias transposed into o (channel i's lanes at o + i * so_c) in
    # registers: 1, or 0 where the module has no such path
    if mr == CONV_MP:
        return _mkp_store_f(part, o, so_c, mv, bias)
    return _mkc_store_f(part, o, so_c, mv, bias)


cdef inline void _mkv(real* o, Py_ssize_t so_c, Py_ssize_t mv, Py_ssize_t mr,
                      const Lanes* ln, const real* xb, const Py_ssize_t* offs, const real* wp,
                      Py_ssize_t K, bint first, bint last, const real* bias,
                      real* part, const Py_ssize_t* lane=NULL, const int* sel=NULL,
                      const Py_ssize_t* lout=NULL, Py_ssize_t nvalid=0) noexcept nogil:
    # A channel-vector tile (mr: CONV_MC, or the float32 pair tile CONV_MP): the block's nl
    # lanes (_lanes_per_tile; inputs broadcast: one lane each for _mkc, two for _mkp) x the
    # tile's channels (vectors of packed weights, CONV_MC per tap; the weights of channels
    # >= mv are 0 and their sums never stored): part (=, or += when not first) sum_t of
    # weight x input, in tap order as _mk3 sums (see pyconv_mkc_f, pyconv_mkp_f); K >= 1.
    # Last: + bias[i], and each channel's nl lanes to the output o + i * so_c.  Per tap the
    # loads are two (float64: four) weight vectors and 12 (float64: 6) broadcasts, none
    # crossing a cache line, for 24 multiply-adds.
    #   Blocks of valid lanes (float32 _mkc): lane[j] each lane's input offset, sel NULL or
    # the taps to sum (K of them, see pyconv_mkc_fls), lout[j] each lane's output offset
    # from o, for its nvalid valid lanes (the stores then go by lout, not ln)
    cdef real tmp[NP_F]
    cdef real tr[CONV_MC * NL_F]
    cdef real b
    cdef real* op
    cdef Py_ssize_t i, j
    cdef Py_ssize_t nl = _lanes_per_tile(mr, sizeof(real))
    if mr == CONV_MP:
        if real is float:
            _mkp_f(part, xb, offs, wp, K, first)
    elif real is float:
        if sel != NULL:
            _mkc_fls(part, xb, lane, offs, sel, wp, K, first)
        elif lane != NULL:
            _mkc_fl(part, xb, lane, offs, wp, K, first)
        else:
            _mkc_f(part, xb, offs, wp, K, first)
    else:
        _mkc_d(part, xb, offs, wp, K, first)
    if not last:
        return
    if lout != NULL:
        # by the lanes' output offsets: one run of outputs as vectors, else transposed
        # into tr and stored lane by lane
        if real is float:
            j = 1
            while j < nvalid and lout[j] == lout[0] + j:
                j = j + 1
            if ln.so_x == 1 and nvalid == nl and j == nl:
                if _vec_store(mr, part, o + lout[0], so_c, mv, bias):
                    return
            elif _vec_store(mr, part, tr, nl, mv, bias):
                for i in range(mv):
                    op = o + i * so_c
                    for j in range(nvalid):
                        op[lout[j]] = tr[i * nl + j]
                return
        for i in range(mv):
            b = bias[i] if bias != NULL else 0
            op = o + i * so_c
            for j in range(nvalid):
                op[lout[j]] = part[_vec_at(mr, i, j)] + b
        return
    # + bias, transposed: channel i's nl lanes (a block that is not one run of outputs:
    # transposed into tr, then row by row through the lanes)
    if real is float:
        if ln.contiguous:
            if _vec_store(mr, part, o + ln.r0 * ln.so_y + ln.x0, so_c, mv, bias):
                return
        elif _vec_store(mr, part, tr, nl, mv, bias):
            for i in range(mv):
                _store_lanes(o + i * so_c, ln, 0, nl, tr + i * nl, 0)
            return
    for i in range(mv):
        b = bias[i] if bias != NULL else 0
        if ln.contiguous:
            op = o + i * so_c + ln.r0 * ln.so_y + ln.x0
            for j in range(nl):
                op[j] = part[_vec_at(mr, i, j)] + b
        else:
            for j in range(nl):
                tmp[j] = part[_vec_at(mr, i, j)]
            _store_lanes(o + i * so_c, ln, 0, nl, tmp, b)


cdef inline void _mk1(real* o, const Lanes* ln, const real* xb,
                      const Py_ssize_t* offs, const real* wp, Py_ssize_t K,
                      const real* bias) noexcept nogil:
    # One output channel, the block's 2*NR lanes (from xb): out = bias + sum_t wp[t] *
    # xb[offs[t] + lane]
    cdef real a0[NR_F]
    cdef real a1[NR_F]
    cdef real w0, b
    cdef const real* xp
    cdef real* op
    cdef Py_ssize_t t, j
    cdef Py_ssize_t nr = CONV_VEC_BYTES // sizeof(real)
    xp = xb + offs[0]
    w0 = wp[0]
    if real is float:
        for j in range(NR_F):
            a0[j] = w0 * xp[j]
            a1[j] = w0 * xp[j + NR_F]
        for t in range(1, K):
            xp = xb + offs[t]
            w0 = wp[t]
            for j in range(NR_F):
                a0[j] = a0[j] + w0 * xp[j]
                a1[j] = a1[j] + w0 * xp[j + NR_F]
    else:
        for j in range(NR_D):
            a0[j] = w0 * xp[j]
            a1[j] = w0 * xp[j + NR_D]
        for t in range(1, K):
            xp = xb + offs[t]
            w0 = wp[t]
            for j in range(NR_D):
                a0[j] = a0[j] + w0 * xp[j]
                a1[j] = a1[j] + w0 * xp[j + NR_D]
    b = bias[0] if bias != NULL else 0
    if ln.contiguous:
        op = o + ln.r0 * ln.so_y + ln.x0
        for j in range(NR_F if real is float else NR_D):
            op[j] = a0[j] + b
            op[j + nr] = a1[j] + b
        return
    _store_lanes(o, ln, 0, nr, a0, b)
    _store_lanes(o, ln, nr, nr, a1, b)


cdef inline void _conv_gather(const ConvPlan* p, const real* xg, real* buf, real* line,
                              const Py_ssize_t* tabz, const Py_ssize_t* taby,
                              const Py_ssize_t* tabx, Py_ssize_t z, Py_ssize_t y0,
                              Py_ssize_t rows, Py_ssize_t x0, Py_ssize_t cw) noexcept nogil:
    # The padded input rows output rows [y0, y0 + rows) x columns [x0, x0 + cw) of plane z
    # read, split into stride phases (see the layout at the top of this file).
    cdef Py_ssize_t c, kz, j, jq, jr, zi, yi, i, q, cnt, width, xp0, plane, lo, hi
    cdef Py_ssize_t ny = (rows - 1) * p.sh + (p.KH - 1) * p.dh + 1
    cdef Py_ssize_t cl = 64 // sizeof(real)
    cdef real* dst
    cdef real* dst2
    cdef const real* src
    cdef const real* nxt
    width = (cw - 1) * p.sw + (p.KW - 1) * p.dw + 1
    xp0 = x0 * p.sw
    # the columns read in place from each source row (the rest from the index table)
    _inside(xp0, width, p.ox, p.W, &lo, &hi)
    for c in range(p.Cg):
        for kz in range(p.KD):
            zi = tabz[z * p.sd + kz * p.dd]
            jq = 0      # j // sh and j % sh, counted
            jr = -1
            for j in range(ny):
                jr = jr + 1
                if jr == p.sh:
                    jr = 0
                    jq = jq + 1
                # first phase plane of this row
                plane = (((c * p.KD + kz) * p.sh + jr) * p.sw) * p.nyp + jq
                yi = taby[y0 * p.sh + j]
                src = NULL if zi < 0 or yi < 0 else xg + ((c * p.D + zi) * p.H + yi) * p.W
                if src != NULL and c + 1 < p.Cg and hi > lo:
                    # the next channel's same row, a channel's rows ahead of its copy: the
                    # copies otherwise wait for each row to come from L3 or memory
                    nxt = src + p.D * p.H * p.W + (xp0 + lo - p.ox)
                    i = 0
                    while i < hi - lo:
                        _prefetch(nxt + i)
                        i = i + cl
                    _prefetch(nxt + (hi - lo - 1))
                if p.sw == 1:
                    dst = buf + plane * p.Wph
                    if src == NULL:
                        for i in range(width):
                            dst[i] = 0
                    else:
                        _fill_row(dst, src, tabx, xp0, width, p.ox, p.W, <real>0)
                    continue
                if p.sw == 2:
                    # the two phases straight from the source row, in one pass
                    dst = buf + plane * p.Wph
                    dst2 = buf + (plane + p.nyp) * p.Wph
                    if src == NULL:
                        for i in range((width + 1) // 2):
                            dst[i] = 0
                        for i in range(width // 2):
                            dst2[i] = 0
                    else:
                        _fill_row2(dst, dst2, src, tabx, xp0, width, p.ox, p.W, <real>0)
                    continue
                if src == NULL:
                    for i in range(width):
                        line[i] = 0
                else:
                    _fill_row(line, src, tabx, xp0, width, p.ox, p.W, <real>0)
                for q in range(p.sw):
                    dst = buf + (plane + q * p.nyp) * p.Wph
                    cnt = (width - q + p.sw - 1) // p.sw
                    for i in range(cnt):
                        dst[i] = line[q + i * p.sw]


cdef inline Py_ssize_t _lanes_per_tile(Py_ssize_t mr, Py_ssize_t itemsize) noexcept nogil:
    # the lanes of one micro-tile: NL_F / NL_D for _mkc, NP_F for _mkp, CONV_VEC_BYTES of
    # them for _mk3
    if mr == CONV_MC:
        return NL_F if itemsize == 4 else NL_D
    if mr == CONV_MP:
        return NP_F
    return CONV_VEC_BYTES // itemsize


cdef inline Py_ssize_t _task_blocks(const ConvPlan* p, Py_ssize_t nr) noexcept nogil:
    # blocks of nr lanes that cover the largest task's rows (R rows, CW columns; of NI
    # images: their valid outputs only, see vlanes)
    if p.NI > 1:
        return (p.NI * p.R * p.CW + nr - 1) // nr
    return ((p.R - 1) * p.Wph + p.CW + nr - 1) // nr


cdef inline Py_ssize_t _panel_at(const ConvPlan* p, Py_ssize_t nb,
                                Py_ssize_t nblk) noexcept nogil:
    # where the panels' tap offsets start in a thread's part scratch (wouter 2): after the
    # partial sums of every block of lanes of the task's tiles, on a 64-byte line
    return ((p.OCT * p.mr * nb * nblk + 15) // 16) * 16


cdef inline Py_ssize_t _lin_len(const ConvPlan* p, Py_ssize_t item) noexcept nogil:
    # elements (of item bytes) that hold the panels' Kc tap offsets, rounded to 64 bytes
    return ((p.Kc * <Py_ssize_t>sizeof(Py_ssize_t) + 63) // 64) * 64 // item


cdef extern from *:
    """
    #include <string.h>
    /* see _pack_panels; the copies of 48 and 96 bytes (the tiles' lanes) have constant
       sizes, so the compiler writes them as a few vector moves.  Each tap's source two
       blocks ahead is prefetched: from the input, the taps are a chunk's worth of streams
       (a prefetch never faults, past the input's end included) */
    #define PYCONV_PANELS(BYTES) \
        for (b = 0; b < full; b++) \
            for (t = 0; t < kn; t++, dst += BYTES) { \
                __builtin_prefetch(src + (b + 2) * (BYTES) + offs[t] * item); \
                memcpy(dst, src + b * (BYTES) + offs[t] * item, BYTES); \
            }
    static void pyconv_pack_panels(const char* src, const Py_ssize_t* offs, Py_ssize_t kn,
                                   Py_ssize_t lane_bytes, Py_ssize_t nblk, Py_ssize_t item,
                                   Py_ssize_t valid, char* dst)
    {
        Py_ssize_t b, t, full = valid / lane_bytes, rest = valid % lane_bytes;
        if (full > nblk)
            full = nblk, rest = 0;
        if (lane_bytes == 48) {
            PYCONV_PANELS(48)
        } else if (lane_bytes == 96) {
            PYCONV_PANELS(96)
        } else {
            PYCONV_PANELS(lane_bytes)
        }
        /* a block that ends past the valid bytes: those, then zeros; none after it */
        if (full < nblk && rest)
            for (t = 0; t < kn; t++, dst += lane_bytes) {
                memcpy(dst, src + full * lane_bytes + offs[t] * item, rest);
                memset(dst + rest, 0, lane_bytes - rest);
            }
    }
    #undef PYCONV_PANELS
    """
    void _pack_panels_c "pyconv_pack_panels"(const char* src, const Py_ssize_t* offs,
                                             Py_ssize_t kn, Py_ssize_t lane_bytes,
                                             Py_ssize_t nblk, Py_ssize_t item,
                                             Py_ssize_t valid, char* dst) noexcept nogil


cdef inline void _pack_panels(const real* buf, const Py_ssize_t* offs, Py_ssize_t kn,
                              Py_ssize_t nb, Py_ssize_t nblk, Py_ssize_t valid,
                              real* pan) noexcept nogil:
    # a chunk of kn taps of every block of nb lanes as panels: pan[(b kn + t) nb + j] =
    # buf[b nb + offs[t] + j], the values the block's tile would read tap by tap from planes
    # of gathered rows, now one after another (one stream, every cache line whole); lanes
    # b nb + j >= valid are 0, not read
    _pack_panels_c(<const char*>buf, offs, kn, nb * sizeof(real), nblk, sizeof(real),
                   valid * sizeof(real), <char*>pan)


cdef inline bint _phase_pair(const ConvPlan* p, Py_ssize_t f) noexcept nogil:
    # phases f and f + 1 fill the even and odd columns of the same rows of a stride-2,
    # contiguous destination row: one interleaved run of stores for both
    cdef const Py_ssize_t* q = p.ph + 9 * f
    if p.psx != 2 or p.dx != 1 or f + 1 >= p.P:
        return False
    return (q[9] == q[0] and q[10] == q[1] and q[11] == q[2] and q[12] == q[3]
            and q[13] == q[4] and q[14] == q[5] and q[15] == q[6] + 1 and q[17] == q[8])


cdef inline void _place_task(const ConvPlan* p, Py_ssize_t n, Py_ssize_t g, Py_ssize_t z,
                             Py_ssize_t y0, Py_ssize_t rows, Py_ssize_t x0, Py_ssize_t cw,
                             Py_ssize_t c0, Py_ssize_t c1, const real* loc,
                             real* dst) noexcept nogil:
    # a task's block (plane z, rows y0 .., columns x0 .. of the combined grid, the group's
    # channels c0 .. c1 - 1, at loc) into the destination: channel c is phase f of output
    # channel o; its outputs (hz + i, hy + j, hx + k) of the grid go to
    # (z0 + i sz, y0 + j sy, x0 + k sx), i < cz, j < cy, k < cx (ph[f]).  The planes, rows and
    # columns each phase uses are within its channel's window: computed by the task
    cdef Py_ssize_t c, cg, f, o, nxt, ya, yb, xa, xb, y, i, m
    cdef const Py_ssize_t* q
    cdef const real* s
    cdef const real* s1
    cdef real* d
    cdef real* dr
    cdef bint whole = x0 == 0 and cw == p.Wo     # every column of the grid in the block
    if c1 > p.Og:
        c1 = p.Og
    nxt = p.PO if p.pmajor else 1               # the channel of phase f + 1 of the same o
    for c in range(c0, c1):
        cg = g * p.Og + c
        if p.pmajor:
            f = cg // p.PO
            o = cg - f * p.PO
        else:
            o = cg // p.P
            f = cg - o * p.P
        q = p.ph + 9 * f
        if z < q[1] or z >= q[1] + q[2]:
            continue
        if whole and f > 0 and c - nxt >= c0 and _phase_pair(p, f - 1):
            continue                            # written with phase f - 1
        ya = q[4] if q[4] > y0 else y0
        yb = q[4] + q[5]
        if yb > y0 + rows:
            yb = y0 + rows
        xa = q[7] if q[7] > x0 else x0
        xb = q[7] + q[8]
        if xb > x0 + cw:
            xb = x0 + cw
        m = xb - xa
        d = dst + n * p.dn + o * p.dc + (q[0] + (z - q[1]) * p.psz) * p.dz
        if whole and c + nxt < c1 and _phase_pair(p, f):
            for y in range(ya, yb):
                s = loc + (c - c0) * p.so_c + (y - y0) * p.so_y + q[7]
                s1 = loc + (c + nxt - c0) * p.so_c + (y - y0) * p.so_y + q[16]
                dr = d + (q[3] + (y - q[4]) * p.psy) * p.dy + q[6]
                for i in range(q[8]):
                    dr[2 * i] = s[i]
                    dr[2 * i + 1] = s1[i]
            continue
        for y in range(ya, yb):
            s = loc + (c - c0) * p.so_c + (y - y0) * p.so_y + (xa - x0)
            dr = d + (q[3] + (y - q[4]) * p.psy) * p.dy \
                + (q[6] + (xa - q[7]) * p.psx) * p.dx
            for i in range(m):
                dr[i * p.psx * p.dx] = s[i]


cdef enum:
    # distinct rectangles of taps a task's blocks of valid lanes may skip to (see _vl_lanes)
    VL_RECTS = 16


cdef struct VLTables:
    # a thread's tables for the blocks of valid lanes (see _vl_lanes), laid out by _vl_at
    Py_ssize_t* lin                   # per lane: its input's offset in the gathered rows
    Py_ssize_t* lout                  # per lane: its output's offset from the task's first
    int* brid                         # per block: its rectangle (rect), or -1: every tap
    int* brect                        # per block: its lanes' bounding ky, kx ranges (4)
    int* ylo                          # per output row, column: the taps inside (ranges)
    int* yhi
    int* xlo
    int* xhi
    int* rect                         # VL_RECTS x (kz, ky, kx ranges: 6)
    int* seln                         # per rectangle: its taps in the chunk,
    int* sel                          # ... listed (VL_RECTS x Kc)


cdef inline Py_ssize_t _vl_bytes(const ConvPlan* p, Py_ssize_t nb) noexcept nogil:
    # the bytes of the tables _vl_at lays out (in 64s)
    cdef Py_ssize_t nblk = _task_blocks(p, nb)
    return (2 * nblk * nb * <Py_ssize_t>sizeof(Py_ssize_t)
            + (5 * nblk + 2 * p.R + 2 * p.CW + VL_RECTS * (7 + p.Kc))
            * <Py_ssize_t>sizeof(int) + 63) // 64 * 64


cdef inline void _vl_at(const ConvPlan* p, char* sk, Py_ssize_t nb,
                        VLTables* t) noexcept nogil:
    # the tables in a thread's scratch at sk (_vl_bytes of them): blocks of nb lanes
    cdef Py_ssize_t nblk = _task_blocks(p, nb)
    t.lin = <Py_ssize_t*>sk
    t.lout = t.lin + nblk * nb
    t.brid = <int*>(t.lout + nblk * nb)
    t.brect = t.brid + nblk
    t.ylo = t.brect + 4 * nblk
    t.yhi = t.ylo + p.R
    t.xlo = t.yhi + p.R
    t.xhi = t.xlo + p.CW
    t.rect = t.xhi + p.CW
    t.seln = t.rect + 6 * VL_RECTS
    t.sel = t.seln + VL_RECTS


cdef inline void _taps_inside(const Py_ssize_t* tab, Py_ssize_t base, Py_ssize_t step,
                              Py_ssize_t k, int* lo, int* hi) noexcept nogil:
    # the first and last of the taps 0 .. k - 1 whose padded position base + t step the
    # index table maps inside the input (>= 0); 0 and 0 where none does (one tap of zeros)
    cdef Py_ssize_t t
    lo[0] = <int>k
    hi[0] = -1
    for t in range(k):
        if tab[base + t * step] >= 0:
            if lo[0] > t:
                lo[0] = <int>t
            hi[0] = <int>t
    if hi[0] < 0:
        lo[0] = 0
        hi[0] = 0


cdef inline int _vl_lanes(const ConvPlan* p, VLTables* vt, Py_ssize_t nb, Py_ssize_t nblk,
                          Py_ssize_t z, Py_ssize_t y0, Py_ssize_t rows, Py_ssize_t x0,
                          Py_ssize_t cw, Py_ssize_t nimg, Py_ssize_t ipitch,
                          const Py_ssize_t* tabz, const Py_ssize_t* taby,
                          const Py_ssize_t* tabx) noexcept nogil:
    # The task's valid outputs as lanes, in the order its blocks of nb take them, into the
    # thread's tables vt: lin[l] (the lane's offset in the gathered rows) and lout[l]
    # (its output's offset from the task's first output).  An output reads zeros of the
    # padding outside a rectangle of taps (planes, rows and columns of the kernel whose
    # index tables give -1 there, at either end).  The outputs are taken by runs of rows,
    # then runs of columns, whose rectangles are the same (3x3, padding 1: the top row, the
    # middle rows, the bottom row; likewise the columns), image after image, row by row:
    # most blocks then share one rectangle.  A block's rectangle holds its lanes'
    # (brid[b]: its index among the task's distinct ones, rect[6 q ..], or -1: every tap);
    # the blocks past VL_RECTS distinct ones read every tap.  Returns how many there are
    cdef int* ylo = vt.ylo
    cdef int* yhi = vt.yhi
    cdef int* xlo = vt.xlo
    cdef int* xhi = vt.xhi
    cdef int* rect = vt.rect
    cdef int zlo, zhi, q, nrect = 0
    cdef Py_ssize_t r, c, ra, rb, ca, cb, im, b, l = 0
    cdef int* br
    _taps_inside(tabz, z * p.sd, p.dd, p.KD, &zlo, &zhi)
    for r in range(rows):
        _taps_inside(taby, (y0 + r) * p.sh, p.dh, p.KH, ylo + r, yhi + r)
    for c in range(cw):
        _taps_inside(tabx, (x0 + c) * p.sw, p.dw, p.KW, xlo + c, xhi + c)
    for b in range(nblk):
        vt.brect[4 * b] = <int>p.KH
        vt.brect[4 * b + 1] = -1
        vt.brect[4 * b + 2] = <int>p.KW
        vt.brect[4 * b + 3] = -1
    ra = 0
    while ra < rows:
        rb = ra + 1
        while rb < rows and ylo[rb] == ylo[ra] and yhi[rb] == yhi[ra]:
            rb = rb + 1
        ca = 0
        while ca < cw:
            cb = ca + 1
            while cb < cw and xlo[cb] == xlo[ca] and xhi[cb] == xhi[ca]:
                cb = cb + 1
            for im in range(nimg):
                for r in range(ra, rb):
                    for c in range(ca, cb):
                        vt.lin[l] = im * ipitch + r * p.Wph + c
                        vt.lout[l] = im * p.so_n + r * p.so_y + c * p.so_x
                        br = vt.brect + 4 * (l // nb)
                        if br[0] > ylo[ra]:
                            br[0] = ylo[ra]
                        if br[1] < yhi[ra]:
                            br[1] = yhi[ra]
                        if br[2] > xlo[ca]:
                            br[2] = xlo[ca]
                        if br[3] < xhi[ca]:
                            br[3] = xhi[ca]
                        l = l + 1
            ca = cb
        ra = rb
    for b in range((l + nb - 1) // nb):
        br = vt.brect + 4 * b
        vt.brid[b] = -1
        if (zlo == 0 and zhi == p.KD - 1 and br[0] == 0 and br[1] == p.KH - 1
                and br[2] == 0 and br[3] == p.KW - 1):
            continue
        for q in range(nrect):
            if (rect[6 * q] == zlo and rect[6 * q + 1] == zhi and rect[6 * q + 2] == br[0]
                    and rect[6 * q + 3] == br[1] and rect[6 * q + 4] == br[2]
                    and rect[6 * q + 5] == br[3]):
                vt.brid[b] = q
                break
        if vt.brid[b] < 0 and nrect < VL_RECTS:
            q = nrect
            rect[6 * q] = zlo
            rect[6 * q + 1] = zhi
            rect[6 * q + 2] = br[0]
            rect[6 * q + 3] = br[1]
            rect[6 * q + 4] = br[2]
            rect[6 * q + 5] = br[3]
            vt.brid[b] = q
            nrect = nrect + 1
    return nrect


cdef inline void _vl_sel(const ConvPlan* p, VLTables* vt, int nrect,
                         Py_ssize_t kn) noexcept nogil:
    # for each of the task's rectangles (see _vl_lanes) the taps of a chunk of kn (whole
    # input channels) inside it, as indices from the chunk's first, in tap order (channel,
    # plane, row, column): sel[q Kc ..], seln[q] of them
    cdef int q, kz, ky, kx
    cdef Py_ssize_t c, m
    cdef int* rq
    for q in range(nrect):
        rq = vt.rect + 6 * q
        m = 0
        for c in range(kn // (p.KD * p.KH * p.KW)):
            for kz in range(rq[0], rq[1] + 1):
                for ky in range(rq[2], rq[3] + 1):
                    for kx in range(rq[4], rq[5] + 1):
                        vt.sel[q * p.Kc + m] = <int>(((c * p.KD + kz) * p.KH + ky) * p.KW
                                                     + kx)
                        m = m + 1
        vt.seln[q] = <int>m


cdef inline void _conv_task(const ConvPlan* p, Py_ssize_t task, const real* x, real* out,
                            const real* wpack, const real* bias, const Py_ssize_t* offs,
                            const Py_ssize_t* tabz, const Py_ssize_t* taby,
                            const Py_ssize_t* tabx, real* buf, real* line,
                            real* part, real* loc, real* wbuf, char* sk) noexcept nogil:
    cdef Py_ssize_t rest, ci, cb, rb, z, g, n, y0, x0, rows, cw, t0, t1, tile, obc
    cdef Py_ssize_t oc, mv, k0, kn, wtile, l0, nlanes, step, lr, lx, nblk, blk, nb
    cdef Py_ssize_t la, lb, ya, yb, nval, j, nimg, im, ipitch, nv
    cdef Py_ssize_t lane[NL_F]
    cdef int nrect = 0, q
    cdef bint vl, fin = False
    cdef VLTables vt
    cdef Py_ssize_t nr = CONV_VEC_BYTES // sizeof(real)
    cdef real* pt
    cdef const real* src
    cdef real* pan = NULL
    cdef Py_ssize_t* lin = NULL
    cdef Lanes ln
    cdef const real* bp
    cdef const real* wg
    cdef const real* wt
    cdef real* ob
    cdef real* xb
    rest = task
    ci = _digit(&rest, p.noc)
    cb = _digit(&rest, p.ncb)
    rb = _digit(&rest, p.nrb)
    z = _digit(&rest, p.Do)
    g = _digit(&rest, p.G)
    # images n .. n + nimg - 1 (one unless the plan's NI > 1)
    n = rest * p.NI
    nimg = p.N - n
    if nimg > p.NI:
        nimg = p.NI
    y0 = rb * p.R
    rows = p.Ho - y0
    if rows > p.R:
        rows = p.R
    x0 = cb * p.CW
    cw = p.Wo - x0
    if cw > p.CW:
        cw = p.CW
    ipitch = 0
    if p.wouter == 3:
        # a 1x1 layer over one row, no padding: the input's row is the gathered row (the
        # planes W apart, see plan() in pyconv/_conv.py)
        src = x + (n * p.C + g * p.Cg) * p.W + x0
    else:
        # each image's rows below the previous image's in every phase plane (ipitch lanes
        # apart: nyp / NI gathered rows)
        ipitch = (p.nyp // p.NI) * p.Wph
        for im in range(nimg):
            _conv_gather(p, x + ((n + im) * p.C + g * p.Cg) * p.D * p.H * p.W,
                         buf + im * ipitch, line, tabz, taby, tabx, z, y0, rows, x0, cw)
        src = buf
    ln.rows = rows
    ln.cw = cw
    ln.Wph = p.Wph
    ln.so_y = p.so_y
    ln.so_x = p.so_x
    ln.spill = loc != NULL
    nlanes = (rows - 1) * p.Wph + cw
    # blocks of valid lanes (vlanes: the 32-channel tile, channel-tiles-outside order, not
    # placed, as _plan_from and conv_place check): the task's outputs taken nb at a time
    # in the order of _vl_lanes' tables (each lane's input and output offset), each block
    # reading only the taps of its rectangle (the rest are zeros of the padding)
    vl = p.vlanes and p.win == NULL
    nval = nimg * rows * cw
    if vl:
        ln.Wph = cw
    step = nr if p.mr == CONV_MR else 2 * nr
    # the task's channel tiles t0 .. t1 - 1 of p.mr channels (CONV_MR, CONV_MC, or one
    # channel each when mr is 1), and where group g's packed tiles start (wtile weights each)
    t0 = ci * p.OCT
    t1 = (p.Og + p.mr - 1) // p.mr
    if t1 > t0 + p.OCT:
        t1 = t0 + p.OCT
    # channel oc of the group is stored at ob + (oc - obc) * so_c: in the output, or in the
    # thread's block when the phases are placed (its first channel the task's first)
    obc = 0
    if loc != NULL:
        ob = loc
        obc = t0 * p.mr
    else:
        ob = out + n * p.so_n + g * p.Og * p.so_c + z * p.so_z + y0 * p.so_y + x0 * p.so_x
    wtile = p.K * (CONV_MC if p.mr == CONV_MP else p.mr)     # _mkp's weights: duplicated
    wg = wpack + g * ((p.Og + p.mr - 1) // p.mr) * wtile
    if p.mr != 1 and p.wouter:
        # each tile's chunk of weights stays in L1 while it sweeps every block of lanes; the
        # chunk's input rows stay in L2 (the only order of the _mkc tiles; for _mk3 the
        # order of many channels and few lanes: small images).  The partial sums between
        # chunks: in the thread's scratch, a tile's blocks after each other (part, when the
        # planner's blocks fit; see _conv_run), else (_mk3 only) in the output
        nb = _lanes_per_tile(p.mr, sizeof(real))
        nblk = _task_blocks(p, nb)
        if vl:
            _vl_at(p, sk, nb, &vt)
            nrect = _vl_lanes(p, &vt, nb, nblk, z, y0, rows, x0, cw, nimg, ipitch, tabz,
                              taby, tabx)
        if p.wouter >= 2:
            # packed panels (1x1 layers, see PANEL_TILES in pyconv/_conv.py): each chunk of
            # taps of every block of lanes copied into one run before the tiles read it,
            # the taps then lin[t] = t nb apart
            lin = <Py_ssize_t*>(part + _panel_at(p, nb, nblk))
            pan = part + _panel_at(p, nb, nblk) + _lin_len(p, sizeof(real))
            for k0 in range(p.Kc):
                lin[k0] = k0 * nb
        k0 = 0
        while k0 < p.K:
            kn = p.K - k0
            if kn > p.Kc:
                kn = p.Kc
            if p.wouter >= 2:
                # (from the input: its valid lanes only, the rest zeros)
                _pack_panels(src, offs + k0, kn, nb, nblk,
                             nlanes if p.wouter == 3 else nblk * nb, pan)
            if nrect > 0:
                _vl_sel(p, &vt, nrect, kn)
            for tile in range(t0, t1):
                oc = tile * p.mr
                mv = p.Og - oc
                if mv > p.mr:
                    mv = p.mr
                bp = NULL if bias == NULL else bias + g * p.Og + oc
                # the tile's window (all lanes without one): the lanes of its rows
                la = 0
                lb = nval if vl else nlanes
                if p.win != NULL:
                    if z < p.win[4 * tile] or z >= p.win[4 * tile + 1]:
                        continue
                    ya = p.win[4 * tile + 2] - y0
                    yb = p.win[4 * tile + 3] - y0
                    if ya < 0:
                        ya = 0
                    if yb > rows:
                        yb = rows
                    if yb <= ya:
                        continue
                    la = ya * p.Wph
                    lb = (yb - 1) * p.Wph + cw
                # the tile's weights of this chunk: packed, or packed here from the
                # weights as given (their only task: read once, kept in L2 for its blocks)
                if real is float:
                    if p.inpack:
                        _pack_tile_f(wpack + (g * p.Og + oc) * p.K + k0, p.K, kn, mv,
                                     p.mr == CONV_MP, wbuf)
                        wt = wbuf
                    else:
                        wt = wg + tile * wtile + k0 * CONV_MC
                else:
                    wt = wg + tile * wtile + k0 * CONV_MC
                # taps left out only where the weights are finite (Inf x 0 is NaN): the
                # chunk just packed, or all the packed weights (p.wfin, see conv_f32)
                fin = False
                if real is float and nrect > 0:
                    if p.inpack:
                        fin = _finite_f(wt, kn * CONV_MC) != 0
                    else:
                        fin = p.wfin
                l0 = 0
                lr = 0
                lx = 0
                blk = (tile - t0) * nblk
                # (blocks of valid lanes: nval lanes at pitch cw, ln.Wph; see vl above)
                while l0 < (nval if vl else nlanes):
                    _lanes_at(&ln, lr, lx, nb)
                    if not (lx >= cw and lx + nb <= ln.Wph) and l0 + nb > la and l0 < lb:
                        pt = NULL if part == NULL else part + blk * p.mr * nb
                        if p.wouter >= 2:
                            # this block's panel: its chunk of taps nb lanes apart
                            _mkv(ob + (oc - obc) * p.so_c, p.so_c, mv, p.mr, &ln,
                                 pan + (blk - (tile - t0) * nblk) * kn * nb, lin,
                                 wt, kn, k0 == 0, k0 + kn == p.K, bp, pt)
                        elif vl:
                            # the lanes' offsets (past the task's last output, its last
                            # output again: computed, not stored), and the block's taps
                            nv = nval - l0
                            if nv > nb:
                                nv = nb
                            for j in range(nb):
                                lane[j] = vt.lin[l0 + j] if j < nv else lane[j - 1]
                            q = vt.brid[l0 // nb] if fin else -1
                            if q >= 0:
                                _mkv(ob + (oc - obc) * p.so_c, p.so_c, mv, p.mr, &ln, buf,
                                     offs + k0, wt, vt.seln[q], k0 == 0, k0 + kn == p.K, bp,
                                     pt, lane, vt.sel + q * p.Kc, vt.lout + l0, nv)
                            else:
                                _mkv(ob + (oc - obc) * p.so_c, p.so_c, mv, p.mr, &ln, buf,
                                     offs + k0, wt, kn, k0 == 0, k0 + kn == p.K, bp, pt,
                                     lane, NULL, vt.lout + l0, nv)
                        elif p.mr == CONV_MC or p.mr == CONV_MP:
                            _mkv(ob + (oc - obc) * p.so_c, p.so_c, mv, p.mr, &ln, buf + l0,
                                 offs + k0, wt, kn, k0 == 0, k0 + kn == p.K, bp, pt)
                        else:
                            _mk3(ob + (oc - obc) * p.so_c, p.so_c, mv, &ln, buf + l0, offs + k0,
                                 wg + tile * wtile + k0 * CONV_MR, kn, k0 == 0,
                                 k0 + kn == p.K, bp, pt)
                    l0 = l0 + nb
                    lx = lx + nb
                    blk = blk + 1
                    _wrap(&lr, &lx, ln.Wph)
            k0 = k0 + kn
        if loc != NULL:
            _place_task(p, n, g, z, y0, rows, x0, cw, obc, t1 * p.mr, loc, out)
        return
    l0 = 0
    lr = 0
    lx = 0
    while l0 < nlanes:
        _lanes_at(&ln, lr, lx, step)
        xb = buf + l0
        l0 = l0 + step
        lx = lx + step
        _wrap(&lr, &lx, p.Wph)
        if ln.x0 >= cw and ln.x0 + step <= p.Wph:
            continue            # a block of padding lanes only
        if p.mr == CONV_MR:
            # chunks of taps, then channel tiles: the input rows a chunk reads for this block
            # of lanes stay in L1 while every channel tile of the task uses them
            k0 = 0
            while k0 < p.K:
                kn = p.K - k0
                if kn > p.Kc:
                    kn = p.Kc
                for tile in range(t0, t1):
                    oc = tile * CONV_MR
                    mv = p.Og - oc
                    if mv > CONV_MR:
                        mv = CONV_MR
                    bp = NULL if bias == NULL else bias + g * p.Og + oc
                    _mk3(ob + (oc - obc) * p.so_c, p.so_c, mv, &ln, xb, offs + k0,
                         wg + tile * wtile + k0 * CONV_MR, kn, k0 == 0, k0 + kn == p.K, bp,
                         part + (tile - t0) * CONV_MR * nr)
                k0 = k0 + kn
        else:
            for oc in range(t0, t1):
                bp = NULL if bias == NULL else bias + g * p.Og + oc
                _mk1(ob + (oc - obc) * p.so_c, &ln, xb, offs, wpack + (g * p.Og + oc) * p.K,
                     p.K, bp)
    if loc != NULL:
        _place_task(p, n, g, z, y0, rows, x0, cw, obc, t1 * p.mr, loc, out)


cdef int _conv_run(const ConvPlan* p, const real* x, real* out, const real* wpack,
                   const real* bias, const Py_ssize_t* offs, const Py_ssize_t* tabz,
                   const Py_ssize_t* taby, const Py_ssize_t* tabx, int num_threads) except -1:
    cdef Py_ssize_t ntasks, task, per, t0, t1, per_round, task_work, chunk, part_at, part_len
    cdef Py_ssize_t nb, loc_at, wbuf_at, vl_at
    cdef real* scratch = NULL
    cdef void* sblock = NULL
    cdef char* zeroed = NULL
    cdef int tid
    ntasks = ((p.N + p.NI - 1) // p.NI) * p.G * p.Do * p.nrb * p.ncb * p.noc
    if ntasks <= 0:
        return 0
    if num_threads > ntasks:
        num_threads = <int>ntasks
    # each thread's scratch starts on its own 64-byte line; its gather buffer is zeroed
    # (by the thread, at its first task): the lanes a micro-tile reads past the gathered
    # rows (padding lanes, never stored) are then initialised memory.
    # Then, from a 64-byte boundary, the partial sums _mk3 keeps between chunks of taps (its
    # part): of one block of lanes for every channel tile of a task, or in the
    # channel-tiles-outside order of every block of lanes
    part_at = (((p.buf_len + p.line_len) * <Py_ssize_t>sizeof(real) + 63) // 64) * 64 \
        // sizeof(real)
    nb = _lanes_per_tile(p.mr, sizeof(real))
    part_len = p.OCT * p.mr * nb if p.mr != 1 else 0
    if p.mr != 1 and p.wouter:
        # every block of lanes of the task: for _mk3 when that stays within
        # WOUTER_PART_BYTES (else the partial sums go through the output, part NULL); _mkc
        # always (the planner bounds it)
        part_len = part_len * _task_blocks(p, nb)
        if p.mr == CONV_MR and part_len * <Py_ssize_t>sizeof(real) > WOUTER_PART_BYTES:
            part_len = 0
        if p.wouter >= 2:
            # + the panels of a chunk of taps of every block of lanes, and their tap offsets
            part_len = _panel_at(p, nb, _task_blocks(p, nb)) + _lin_len(p, sizeof(real)) \
                + p.Kc * nb * _task_blocks(p, nb)
    # the block a task's outputs go to when the phases are placed, from a 64-byte boundary
    loc_at = ((part_at + part_len) * <Py_ssize_t>sizeof(real) + 63) // 64 * 64 // sizeof(real)
    # then the tile's chunk of weights a task packs (inpack), on a 64-byte line
    wbuf_at = ((loc_at + p.loc_len) * <Py_ssize_t>sizeof(real) + 63) // 64 * 64 \
        // sizeof(real)
    # then the tables of the blocks of valid lanes (vlanes), on a 64-byte line
    vl_at = ((wbuf_at + (p.Kc * CONV_MC if p.inpack else 0)) * <Py_ssize_t>sizeof(real)
             + 63) // 64 * 64 // sizeof(real)
    per = vl_at + (_vl_bytes(p, nb) // <Py_ssize_t>sizeof(real) if p.vlanes else 0)
    scratch = <real*>_alloc_lines(<size_t>(num_threads * per) * sizeof(real), False, &sblock)
    zeroed = <char*>calloc(num_threads, 1)
    if scratch == NULL or zeroed == NULL:
        free(sblock)
        free(zeroed)
        raise MemoryError("pyconv: cannot allocate the convolution scratch space")
    # rounds with a signal check between them, as in _correlate_tiled; a task computes
    # R rows x CW columns of Og / noc output channels, K multiply-adds each
    task_work = p.NI * p.R * p.CW * p.K * ((p.Og + p.noc - 1) // p.noc)
    per_round = _round_tasks(ntasks, task_work, num_threads, &chunk)
    t0 = 0
    while t0 < ntasks:
        t1 = t0 + per_round
        if t1 > ntasks:
            t1 = ntasks
        with nogil:
            for task in prange(t0, t1, schedule='dynamic', chunksize=chunk,
                               num_threads=num_threads, use_threads_if=num_threads > 1):
                tid = omp_get_thread_num()
                if not zeroed[tid]:
                    # a thread's gather buffer zeroed by the thread, before its first task:
                    # the partial sums and panels are written before they are read
                    memset(scratch + tid * per, 0, part_at * sizeof(real))
                    zeroed[tid] = 1
                _conv_task(p, task, x, out, wpack, bias, offs, tabz, taby, tabx,
                           scratch + tid * per, scratch + tid * per + p.buf_len,
                           scratch + tid * per + part_at if part_len > 0 else NULL,
                           scratch + tid * per + loc_at if p.ph != NULL else NULL,
                           scratch + tid * per + wbuf_at,
                           <char*>(scratch + tid * per + vl_at) if p.vlanes else NULL)
        t0 = t1
        if t0 < ntasks and PyErr_CheckSignals() != 0:
            free(sblock)
            free(zeroed)
            return -1
    free(sblock)
    free(zeroed)
    return 0


cdef int _plan_from(ConvPlan* p, tuple geom, const Py_ssize_t[::1] windows) except -1:
    (p.N, p.C, p.D, p.H, p.W, p.O, p.Do, p.Ho, p.Wo, p.G, p.Cg, p.Og, p.K, p.Kc,
     p.KD, p.KH, p.KW, p.sd, p.sh, p.sw, p.dd, p.dh, p.dw, p.ox, p.R, p.nrb, p.CW, p.ncb,
     p.OCT, p.noc, p.nyp, p.Wph, p.buf_len, p.line_len, p.NI, p.vlanes, p.inpack, p.mr,
     p.wouter) = geom
    p.win = NULL
    p.ph = NULL
    p.loc_len = 0
    p.wfin = False
    if p.inpack and (not CONV_MC_ON or (p.mr != CONV_MC and p.mr != CONV_MP)
                     or p.wouter != 1):
        raise ValueError("conv: weights packed by the tasks need the channel-vector tiles "
                         "of the AVX-512 module, in the channel-tiles-outside order")
    if p.vlanes and (not CONV_MC_ON or p.mr != CONV_MC or p.wouter != 1):
        raise ValueError("conv: blocks of valid lanes need the 32-channel tile of the "
                         "AVX-512 module, in the channel-tiles-outside order")
    if p.NI < 1 or (p.NI > 1 and (not p.vlanes or windows is not None
                                  or p.nyp % p.NI != 0)):
        raise ValueError("conv: tasks of several images need blocks of valid lanes, no "
                         "windows, and whole images' rows in the phase planes")
    if windows is not None:
        if p.mr < 1 or windows.shape[0] != 4 * ((p.Og + p.mr - 1) // p.mr):
            raise ValueError("conv: windows must hold 4 numbers per channel tile of a group")
        p.win = &windows[0]
    return 0


cdef int _pack_tiles(const real[:, ::1] w, real[::1] out, Py_ssize_t G, Py_ssize_t mr,
                     int num_threads) except -1:
    cdef Py_ssize_t O = w.shape[0], K = w.shape[1], Og, nt, task, g, tile, k, i, mv, j
    cdef Py_ssize_t rep = 2 if mr == CONV_MP else 1     # the pair tile reads each weight twice
    cdef const real* src
    cdef real* dst
    cdef real v
    if G < 1 or O % G:
        raise ValueError("pack_tiles: G does not divide the channels")
    if mr != CONV_MR and mr != CONV_MC and mr != CONV_MP:
        raise ValueError("pack_tiles: mr is neither CONV_MR, CONV_MC nor CONV_MP")
    Og = O // G
    nt = (Og + mr - 1) // mr
    if out.shape[0] != G * nt * K * mr * rep:
        raise ValueError("pack_tiles: out has the wrong size")
    if G * nt * K == 0:
        return 0
    with nogil:
        for task in prange(G * nt, schedule='static', num_threads=num_threads,
                           use_threads_if=num_threads > 1 and G * nt * K * mr * rep > 1 << 18):
            g = task // nt
            tile = task % nt
            mv = Og - tile * mr
            if mv > mr:
                mv = mr
            src = &w[g * Og + tile * mr, 0]
            dst = &out[task * K * mr * rep]
            if real is float:
                if mr != CONV_MR and _pack_tile_f(src, K, K, mv, mr == CONV_MP, dst):
                    continue
            for k in range(K):
                for i in range(mr):
                    v = src[i * K + k] if i < mv else 0
                    j = (k * mr + i) * rep
                    dst[j] = v
                    if rep == 2:
                        dst[j + 1] = v
    return 0


cdef int _pack_phases(const real[::1] w, const Py_ssize_t[:, ::1] pick, real[::1] out,
                      Py_ssize_t G, Py_ssize_t Cg, Py_ssize_t Og, Py_ssize_t kvol,
                      bint phase_major, Py_ssize_t mr, int num_threads) except -1:
    cdef Py_ssize_t P = pick.shape[0], K = pick.shape[1], OgP, nt, task, g, tile, k, i, c
    cdef Py_ssize_t mv, j, f, o, gg, ol, q, O
    cdef Py_ssize_t rep = 2 if mr == CONV_MP else 1
    cdef Py_ssize_t* base = NULL
    cdef Py_ssize_t* fs = NULL
    cdef Py_ssize_t* offt = NULL
    cdef const Py_ssize_t* pk
    cdef real* dst
    cdef real v
    if mr != 1 and mr != CONV_MR and mr != CONV_MC and mr != CONV_MP:
        raise ValueError("pack_phases: mr is neither 1, CONV_MR, CONV_MC nor CONV_MP")
    if G < 1 or Cg < 1 or Og < 1 or kvol < 1 or P < 1 or w.shape[0] != G * Cg * Og * kvol:
        raise ValueError("pack_phases: w does not have G * Cg * Og * kvol weights")
    if phase_major and G != 1:
        raise ValueError("pack_phases: phase-major channels need one group")
    for f in range(P):
        for k in range(K):
            if pick[f, k] < 0 or pick[f, k] >= Cg * kvol:
                raise ValueError("pack_phases: pick holds a tap outside (Cg, kvol)")
    O = G * Og
    OgP = Og * P
    nt = (OgP + mr - 1) // mr
    if out.shape[0] != G * nt * K * mr * rep:
        raise ValueError("pack_phases: out has the wrong size")
    if G * nt * K == 0:
        return 0
    # per combined channel: its phase and where its output channel's weights start; per
    # phase and tap: the tap's offset from there
    base = <Py_ssize_t*>malloc(<size_t>(O * P) * sizeof(Py_ssize_t))
    fs = <Py_ssize_t*>malloc(<size_t>(O * P) * sizeof(Py_ssize_t))
    offt = <Py_ssize_t*>malloc(<size_t>(P * K) * sizeof(Py_ssize_t))
    if base == NULL or fs == NULL or offt == NULL:
        free(base)
        free(fs)
        free(offt)
        raise MemoryError("pyconv: cannot allocate the phases' packing tables")
    for f in range(P):
        for k in range(K):
            q = pick[f, k]
            offt[f * K + k] = (q // kvol) * Og * kvol + q % kvol
    for c in range(O * P):
        if phase_major:
            f = c // O
            o = c - f * O
        else:
            o = c // P
            f = c - o * P
        gg = o // Og
        ol = o - gg * Og
        fs[c] = f
        base[c] = (gg * Cg * Og + ol) * kvol
    with nogil:
        for task in prange(G * nt, schedule='static', num_threads=num_threads,
                           use_threads_if=num_threads > 1 and G * nt * K * mr > 1 << 18):
            g = task // nt
            tile = task % nt
            mv = OgP - tile * mr
            if mv > mr:
                mv = mr
            dst = &out[task * K * mr * rep]
            for i in range(mr):
                c = g * OgP + tile * mr + i
                if i < mv:
                    pk = offt + fs[c] * K
                for k in range(K):
                    v = 0
                    if i < mv:
                        # tap (cg, t) of the phase: w[((gg * Cg + cg) * Og + ol) * kvol + t]
                        v = w[base[c] + pk[k]]
                    j = (k * mr + i) * rep
                    dst[j] = v
                    if rep == 2:
                        dst[j + 1] = v
    free(base)
    free(fs)
    free(offt)
    return 0


def pack_phases_f32(const float[::1] w, const Py_ssize_t[:, ::1] pick, float[::1] out,
                    Py_ssize_t G, Py_ssize_t Cg, Py_ssize_t Og, Py_ssize_t kvol,
                    bint phase_major, Py_ssize_t mr, int num_threads):
    """float32 version of :func:`pack_phases_f64`."""
    _pack_phases(w, pick, out, G, Cg, Og, kvol, phase_major, mr, num_threads)


def pack_phases_f64(const double[::1] w, const Py_ssize_t[:, ::1] pick, double[::1] out,
                    Py_ssize_t G, Py_ssize_t Cg, Py_ssize_t Og, Py_ssize_t kvol,
                    bint phase_major, Py_ssize_t mr, int num_threads):
    """A transposed convolution's weights w (G * Cg, Og, kvol), flattened, straight into
    pack_tiles_f64's order for the combined phases' correlation: the matrix of G * Og * P
    channels (channel f * Og + o when phase_major (G == 1), else o * P + f: phase f of output
    channel o) by K = pick.shape[1] taps, whose tap j of phase f is (cg, t) = divmod(pick[f,
    j], kvol) of input channel cg of o's group, packed in tiles of mr channels per group
    (the pair tile's weights twice), missing channels 0; mr = 1: the matrix itself, row
    after row.  One pass; pick, shapes and mr checked."""
    _pack_phases(w, pick, out, G, Cg, Og, kvol, phase_major, mr, num_threads)


def pack_tiles_f32(const float[:, ::1] w, float[::1] out, Py_ssize_t G, Py_ssize_t mr,
                   int num_threads):
    """float32 version of :func:`pack_tiles_f64`."""
    _pack_tiles(w, out, G, mr, num_threads)


def pack_tiles_f64(const double[:, ::1] w, double[::1] out, Py_ssize_t G, Py_ssize_t mr,
                   int num_threads):
    """Layer weights (G * Og, K) into a micro-kernel's order: per group and tile of mr
    output channels (CONV_MR for _mk3, CONV_MC or CONV_MP for the channel-vector tiles),
    tap after tap, the tile's channels innermost (missing channels of the last tile 0):
    out[((g * nt + tile) * K + k) * mr + i] = w[g * Og + tile * mr + i, k]; for the pair tile
    (CONV_MP) every weight twice in a row: out[2 * that + e], e = 0, 1."""
    _pack_tiles(w, out, G, mr, num_threads)


def conv_mc():
    """(CONV_MC, lane bytes, on, CONV_MP, its lanes): output channels per _mkc tile (32),
    bytes of its lanes (48: 12 float32 or 6 float64 lanes), whether the planner uses the
    channel-vector tiles by default (in the AVX-512 module: their 24 accumulators need the 32
    vector registers), and the float32 pair tile _mkp: 16 channels x 24 lanes, weights
    packed duplicated."""
    return CONV_MC, NL_F * 4, bool(CONV_MC_ON), CONV_MP, NP_F


def conv_vec_bytes():
    """Bytes of output lanes per micro-tile this module was built with (32 or 64 float32
    lanes): the planner in pyconv._conv sizes the lanes of a task by it."""
    return CONV_VEC_BYTES


def conv_mr():
    """Output channels per micro-tile this module was built with (3, or 6 with AVX-512): the
    planner and the weight packing in pyconv._conv follow it."""
    return CONV_MR


def conv_f32(const float[:, :, :, :, ::1] x, float[:, :, :, :, :] out,
             const float[::1] wpack, const float[::1] bias, const Py_ssize_t[::1] offs,
             const Py_ssize_t[::1] tabz, const Py_ssize_t[::1] taby,
             const Py_ssize_t[::1] tabx, tuple geom, int num_threads,
             const Py_ssize_t[::1] windows=None):
    """float32 version of :func:`conv_f64`."""
    cdef ConvPlan p
    _plan_from(&p, geom, windows)
    if p.vlanes and not p.inpack and wpack.shape[0] > 0:
        # whether the packed weights are finite, once a call: the blocks of valid lanes
        # leave out taps only then (see _conv_task; the tasks that pack their weights
        # check each chunk they pack)
        p.wfin = _finite_f(&wpack[0], wpack.shape[0])
    p.so_n = out.strides[0] // 4
    p.so_c = out.strides[1] // 4
    p.so_z = out.strides[2] // 4
    p.so_y = out.strides[3] // 4
    p.so_x = out.strides[4] // 4
    if out.shape[0] == 0 or out.shape[1] == 0 or out.shape[2] == 0 or out.shape[3] == 0 \
            or out.shape[4] == 0:
        return
    _conv_run(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0], &wpack[0],
              &bias[0] if bias.shape[0] > 0 else NULL, &offs[0], &tabz[0], &taby[0], &tabx[0],
              num_threads)


def conv_f64(const double[:, :, :, :, ::1] x, double[:, :, :, :, :] out,
             const double[::1] wpack, const double[::1] bias, const Py_ssize_t[::1] offs,
             const Py_ssize_t[::1] tabz, const Py_ssize_t[::1] taby,
             const Py_ssize_t[::1] tabx, tuple geom, int num_threads,
             const Py_ssize_t[::1] windows=None):
    """Convolution of x (N, C, D, H, W) into out (N, O, Do, Ho, Wo), any output strides.

    geom is the plan tuple built by pyconv._conv (sizes, strides, dilations, tiling); wpack the
    weights packed per group and channel tile (tap-major, mr channels innermost for mr =
    CONV_MR or CONV_MC, each of CONV_MP channels twice for the pair tile, one channel's taps
    contiguous for mr=1); bias empty or (O,); offs[t] the offset of tap t in the gathered
    rows; tabz/taby/tabx map padded coordinates to input indices (-1: zero); windows None,
    or per channel tile of a group (geom's mr channels) its output planes [zlo, zhi) and rows
    [ylo, yhi): in the channel-tiles-outside order a tile skips the blocks of lanes wholly
    outside them, and those outputs are left unwritten (other orders compute every output).
    Contract: validated by pyconv (buffer sizes match geom, out does not overlap x).
    """
    cdef ConvPlan p
    _plan_from(&p, geom, windows)
    if p.mr == CONV_MP:
        raise ValueError("conv_f64: the pair tile (CONV_MP) is float32 only")
    if p.inpack or p.vlanes:
        raise ValueError("conv_f64: weights packed by the tasks and blocks of valid lanes "
                         "are float32 only")
    p.so_n = out.strides[0] // 8
    p.so_c = out.strides[1] // 8
    p.so_z = out.strides[2] // 8
    p.so_y = out.strides[3] // 8
    p.so_x = out.strides[4] // 8
    if out.shape[0] == 0 or out.shape[1] == 0 or out.shape[2] == 0 or out.shape[3] == 0 \
            or out.shape[4] == 0:
        return
    _conv_run(&p, &x[0, 0, 0, 0, 0], &out[0, 0, 0, 0, 0], &wpack[0],
              &bias[0] if bias.shape[0] > 0 else NULL, &offs[0], &tabz[0], &taby[0], &tabx[0],
              num_threads)


cdef int _conv_place(const real[:, :, :, :, ::1] x, real[:, :, :, :, :] dst,
                     const real[::1] wpack, const real[::1] bias, const Py_ssize_t[::1] offs,
                     const Py_ssize_t[::1] tabz, const Py_ssize_t[::1] taby,
                     const Py_ssize_t[::1] tabx, tuple geom, int num_threads,
                     const Py_ssize_t[::1] windows, const Py_ssize_t[:, ::1] ph,
                     Py_ssize_t sz, Py_ssize_t sy, Py_ssize_t sx, bint phase_major) except -1:
    cdef ConvPlan p
    cdef Py_ssize_t f, P = ph.shape[0], item = sizeof(real)
    cdef const Py_ssize_t* q
    _plan_from(&p, geom, windows)
    if real is double and p.mr == CONV_MP:
        raise ValueError("conv_place_f64: the pair tile (CONV_MP) is float32 only")
    if p.inpack or p.vlanes:
        raise ValueError("conv_place: its phases' weights come packed (pack_phases), its "
                         "lanes in rows")
    if ph.shape[1] != 9 or P < 1 or p.O != P * dst.shape[1] or dst.shape[0] != p.N \
            or x.shape[0] != p.N:
        raise ValueError("conv_place: shapes do not match")
    if sz < 1 or sy < 1 or sx < 1:
        raise ValueError("conv_place: strides must be positive")
    for f in range(P):
        q = &ph[f, 0]
        if q[1] < 0 or q[4] < 0 or q[7] < 0 or q[2] < 0 or q[5] < 0 or q[8] < 0 \
                or q[1] + q[2] > p.Do or q[4] + q[5] > p.Ho or q[7] + q[8] > p.Wo \
                or q[0] < 0 or q[3] < 0 or q[6] < 0 \
                or (q[2] > 0 and q[0] + (q[2] - 1) * sz >= dst.shape[2]) \
                or (q[5] > 0 and q[3] + (q[5] - 1) * sy >= dst.shape[3]) \
                or (q[8] > 0 and q[6] + (q[8] - 1) * sx >= dst.shape[4]):
            raise ValueError("conv_place: a phase reaches outside its arrays")
    p.ph = &ph[0, 0]
    p.P = P
    p.PO = dst.shape[1]
    p.pmajor = phase_major
    p.psz = sz
    p.psy = sy
    p.psx = sx
    p.dn = dst.strides[0] // item
    p.dc = dst.strides[1] // item
    p.dz = dst.strides[2] // item
    p.dy = dst.strides[3] // item
    p.dx = dst.strides[4] // item
    # the thread's block: a task's R rows of each of its channels at the lanes' own pitch
    # Wph, and room for a block of lanes past the last row (every lane stored: see Lanes)
    p.so_n = 0
    p.so_z = 0
    p.so_x = 1
    p.so_y = p.Wph
    p.so_c = p.R * p.Wph + 2 * (CONV_VEC_BYTES // <Py_ssize_t>sizeof(real))
    p.loc_len = p.OCT * p.mr * p.so_c
    if dst.shape[0] == 0 or dst.shape[1] == 0 or dst.shape[2] == 0 or dst.shape[3] == 0 \
            or dst.shape[4] == 0:
        return 0
    return _conv_run(&p, &x[0, 0, 0, 0, 0], &dst[0, 0, 0, 0, 0], &wpack[0],
                     &bias[0] if bias.shape[0] > 0 else NULL, &offs[0], &tabz[0], &taby[0],
                     &tabx[0], num_threads)


def conv_place_f32(const float[:, :, :, :, ::1] x, float[:, :, :, :, :] dst,
                   const float[::1] wpack, const float[::1] bias, const Py_ssize_t[::1] offs,
                   const Py_ssize_t[::1] tabz, const Py_ssize_t[::1] taby,
                   const Py_ssize_t[::1] tabx, tuple geom, int num_threads,
                   const Py_ssize_t[::1] windows, const Py_ssize_t[:, ::1] ph,
                   Py_ssize_t sz, Py_ssize_t sy, Py_ssize_t sx, bint phase_major):
    """float32 version of :func:`conv_place_f64`."""
    _conv_place(x, dst, wpack, bias, offs, tabz, taby, tabx, geom, num_threads, windows, ph,
                sz, sy, sx, phase_major)


def conv_place_f64(const double[:, :, :, :, ::1] x, double[:, :, :, :, :] dst,
                   const double[::1] wpack, const double[::1] bias,
                   const Py_ssize_t[::1] offs, const Py_ssize_t[::1] tabz,
                   const Py_ssize_t[::1] taby, const Py_ssize_t[::1] tabx, tuple geom,
                   int num_threads, const Py_ssize_t[::1] windows,
                   const Py_ssize_t[:, ::1] ph, Py_ssize_t sz, Py_ssize_t sy, Py_ssize_t sx,
                   bint phase_major):
    """The stride phases of a transposed convolution computed as one correlation (as
    :func:`conv_f64` over the combined grid of geom's (Do, Ho, Wo) with P * O channels) and
    placed straight into dst (N, O, ...): each task's outputs go to a block of its thread's
    scratch, and from there, while in cache, channel c (phase f of output channel o: c =
    f * O + o when phase_major, else o * P + f) to dst[n, o, z0 + i*sz, y0 + j*sy, x0 + k*sx]
    from grid point (hz + i, hy + j, hx + k), i < cz, j < cy, k < cx, with
    (z0, hz, cz, y0, hy, cy, x0, hx, cx) = ph[f].  No grid-sized buffer; each output is
    written once, with the bits of the correlation.  windows as for conv_f64: they must
    hold every grid point a phase reads.  Bounds of ph checked; dst any strides, not
    overlapping x."""
    _conv_place(x, dst, wpack, bias, offs, tabz, taby, tabx, geom, num_threads, windows, ph,
                sz, sy, sx, phase_major)


def dw_channels_on():
    """Whether :func:`dw_channels_f32` runs here (the AVX-512 module)."""
    return bool(PYCONV_DWCV)


cdef int _dw_channels_run(const float* x, float* out, const float* wpk, char* scratch,
                          Py_ssize_t per, Py_ssize_t N, Py_ssize_t O, Py_ssize_t m,
                          Py_ssize_t H, Py_ssize_t W, Py_ssize_t Ho, Py_ssize_t Wo,
                          Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t pt, Py_ssize_t pl,
                          Py_ssize_t sy, Py_ssize_t sx, Py_ssize_t dy, Py_ssize_t dx,
                          const Py_ssize_t* xs, const Py_ssize_t* ost, bint hasb,
                          const Py_ssize_t* taby, const Py_ssize_t* tabx,
                          int num_threads) except -1:
    # the tasks of dw_channels_f32 (one image's sixteen channels each), in rounds with a
    # check for signals between them (see _round_tasks)
    cdef Py_ssize_t T = kh * kw, Tr = (kh * kw + 15) // 16 * 16, nb = (O + 15) // 16
    cdef Py_ssize_t Hp = (Ho - 1) * sy + (kh - 1) * dy + 1, Wp = (Wo - 1) * sx + (kw - 1) * dx + 1
    cdef Py_ssize_t ntasks = N * nb, per_round, chunk, t0, t1, task, tid, n, ob, c0, nc, l
    cdef float* sc
    cdef float* obuf
    cdef float* tmp
    cdef Py_ssize_t* xoff
    cdef Py_ssize_t* toff
    per_round = _round_tasks(ntasks, 16 * Ho * Wo * T, num_threads, &chunk)
    t0 = 0
    while t0 < ntasks:
        t1 = t0 + per_round
        if t1 > ntasks:
            t1 = ntasks
        with nogil:
            for task in prange(t0, t1, schedule='dynamic', chunksize=chunk,
                               num_threads=num_threads, use_threads_if=num_threads > 1):
                tid = omp_get_thread_num()
                sc = <float*>(scratch + tid * per)
                obuf = sc + (Hp * Wp + 16) * 16
                tmp = obuf + (Ho * Wo + 16) * 16
                xoff = <Py_ssize_t*>(tmp + ((W + 16) * 16 if taby != NULL else 0))
                toff = xoff + 16
                n = task // nb
                ob = task % nb
                c0 = ob * 16
                nc = O - c0 if O - c0 < 16 else 16
                for l in range(16):
                    xoff[l] = n * xs[0] + ((c0 + l) // m) * xs[1] if l < nc else 0
                _dwcv_f(out + n * ost[0] + c0 * ost[1], ost[1], ost[2], x, xoff, xs[2], H, W,
                        Ho, Wo, pt, pl, sy, sx, dy, dx, kh, kw, wpk + ob * (Tr + 1) * 16,
                        wpk + ob * (Tr + 1) * 16 + Tr * 16 if hasb else NULL, nc, toff, sc,
                        obuf, taby, tabx, tmp)
        t0 = t1
        if t0 < ntasks and PyErr_CheckSignals() != 0:
            return -1
    return 0


def dw_channels_f32(const float[:, :, :, :] x, float[:, :, :, :] out, const float[:, ::1] w,
                    const float[::1] bias, Py_ssize_t m, Py_ssize_t kh, Py_ssize_t kw,
                    Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t sy, Py_ssize_t sx,
                    Py_ssize_t dy, Py_ssize_t dx, int num_threads,
                    const Py_ssize_t[::1] taby=None, const Py_ssize_t[::1] tabx=None):
    """A 2-D depthwise layer, float32: out[n, o] (N, O, Ho, Wo) = the correlation of input
    channel o // m of x[n] (N, C, H, W; O = C m), zero-padded by pt rows and pl columns
    before (and as many after as the outputs read), with w[o] (O, kh kw: the kernel's taps
    in C order), strides sy, sx and dilations dy, dx, plus bias[o] (an empty bias: none).
    With taby and tabx, padded row i (column j) is source row taby[i] (column tabx[j]), or
    zeros where negative, instead (Hp = (Ho - 1) sy + (kh - 1) dy + 1 rows, Wp likewise).
    Both arrays' rows contiguous.  Sixteen output channels of one image per task, the
    channels in the lanes (pyconv_dwcv_f); the AVX-512 module only (dw_channels_on)."""
    cdef Py_ssize_t N = out.shape[0], O = out.shape[1], Ho = out.shape[2], Wo = out.shape[3]
    cdef Py_ssize_t C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t T = kh * kw, Tr = (kh * kw + 15) // 16 * 16, nb, Hp, Wp, per, ob, c0, nc
    cdef Py_ssize_t xs[3]
    cdef Py_ssize_t ost[3]
    cdef char* block = NULL
    cdef float* wpk = NULL
    cdef bint hasb = bias.shape[0] > 0
    if not PYCONV_DWCV:
        raise RuntimeError("pyconv: this kernel module has no channel-vector depthwise path")
    if x.strides[3] != 4 or out.strides[3] != 4:
        raise ValueError("rows must be contiguous")
    if m < 1 or O != C * m or x.shape[0] != N or w.shape[0] != O or w.shape[1] != T \
            or kh < 1 or kw < 1 or sy < 1 or sx < 1 or dy < 1 or dx < 1 or pt < 0 or pl < 0 \
            or (hasb and bias.shape[0] != O) or Ho < 1 or Wo < 1 or H < 1 or W < 1:
        raise ValueError("dw_channels: arguments out of range")
    Hp = (Ho - 1) * sy + (kh - 1) * dy + 1
    Wp = (Wo - 1) * sx + (kw - 1) * dx + 1
    if (taby is None) != (tabx is None) or (taby is not None and (
            taby.shape[0] != Hp or tabx.shape[0] != Wp)):
        raise ValueError("dw_channels: tables out of range")
    if taby is not None:
        for ob in range(Hp):
            if taby[ob] >= H:
                raise ValueError("dw_channels: taby out of range")
        for ob in range(Wp):
            if tabx[ob] >= W:
                raise ValueError("dw_channels: tabx out of range")
    if N == 0 or O == 0:
        return out
    nb = (O + 15) // 16
    if num_threads > N * nb:
        num_threads = <int>(N * nb)
    if num_threads < 1:
        num_threads = 1
    # the packed weights and biases of every block of sixteen channels, then per thread the
    # padded pixels, the outputs, the lanes' plane offsets and the taps' offsets (each part
    # 64-byte aligned), zeroed: the padding of each thread's pixels stays zero (see
    # pyconv_dwcv_f)
    per = ((Hp * Wp + 16) * 16 + (Ho * Wo + 16) * 16
           + ((W + 16) * 16 if taby is not None else 0)) * 4 + (16 + T) * 8
    per = (per + 63) // 64 * 64
    block = <char*>calloc(nb * (Tr + 1) * 64 + per * num_threads + 64, 1)
    if block == NULL:
        raise MemoryError()
    wpk = <float*>(block + (64 - <size_t>block % 64))
    for ob in range(3):
        xs[ob] = x.strides[ob] // 4
        ost[ob] = out.strides[ob] // 4
    try:
        with nogil:
            for ob in prange(nb, schedule='static', num_threads=num_threads,
                             use_threads_if=num_threads > 1 and nb > 1):
                c0 = ob * 16
                nc = O - c0 if O - c0 < 16 else 16
                _dwcv_pack_f(&w[c0, 0], T, nc, &bias[c0] if hasb else NULL,
                             wpk + ob * (Tr + 1) * 16, wpk + ob * (Tr + 1) * 16 + Tr * 16)
        _dw_channels_run(&x[0, 0, 0, 0], &out[0, 0, 0, 0], wpk,
                         <char*>wpk + nb * (Tr + 1) * 64, per, N, O, m, H, W, Ho, Wo, kh, kw,
                         pt, pl, sy, sx, dy, dx, xs, ost, hasb,
                         &taby[0] if taby is not None else NULL,
                         &tabx[0] if tabx is not None else NULL, num_threads)
    finally:
        free(block)
    return out
