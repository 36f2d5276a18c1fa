# Deep-learning convolution kernel (PyTorch conventions: cross-correlation, NC[D]HW, weight
# (O, C/groups, kd, kh, kw)).  Included by _kernels_base.pyx and _kernels_avx2.pyx after
# _kernels.pxi, whose `real` fused type and `_fill_row` it uses.
#
# Every conv1d/2d/3d, depthwise, grouped, pointwise, strided and dilated case runs here:
#
#   out[n, g*Og + o, z, y, x] = bias[g*Og + o]
#       + sum_t wpack[g, o, t] * P[n, g*Cg + c(t), z*sd + kz(t)*dd, y*sh + ky(t)*dh, x*sw + kx(t)*dw]
#
# with t running over (c, kz, ky, kx) in that order, and P the input seen through per-axis index
# tables over the padded coordinates (-1: zero; other entries map the padding mode).
#
# One task = (image n, group g, output plane z, block of output rows, block of output columns,
# chunk of output-channel tiles).  It gathers the padded input rows it needs for the group's
# input channels into its thread's buffer, with each row split into `sw` phases (column
# p + i*sw of the padded row goes to phase p, index i) so that every tap of a strided conv reads
# a contiguous run.  Then a register-blocked micro-kernel walks the taps:
#   _mk3: 3 output channels x NR columns (12 vector accumulators), weights broadcast, per tap
#         NR/8 (float32) input loads + 3 broadcasts for 12 fused multiply-adds;
#   _mk1: 1 output channel x 2 output rows x NR columns, for groups of one or two output
#         channels (depthwise, single-channel images).
# Each output is summed by one thread, over t in order, then the bias is added: the result does
# not depend on the number of threads.  Scratch per thread is bounded by one task's rows.

from libc.stdlib cimport calloc

cdef enum:
    CONV_MR = 3            # output channels per _mk3 tile
    CONV_VEC_BYTES = 128   # NR * sizeof(real): 32 float32 or 16 float64 columns per tile


ctypedef struct ConvPlan:
    Py_ssize_t N, C, D, H, W          # input (contiguous)
    Py_ssize_t O, Do, Ho, Wo          # output
    Py_ssize_t G, Cg, Og, K           # groups, in/out channels per group, taps per output
    Py_ssize_t KD, KH, KW
    Py_ssize_t sd, sh, sw, dd, dh, dw
    Py_ssize_t ox                     # left padding of x: tabx[i] == i - ox inside the row
    Py_ssize_t R, nrb                 # output rows per task, row blocks
    Py_ssize_t CW, ncb                # output columns per task, column blocks
    Py_ssize_t OCT, noc               # output-channel tiles per task, tile chunks
    Py_ssize_t ny, Wph, Wrow          # gathered rows per (c, kz), phase length, row length
    Py_ssize_t buf_len, line_len      # per-thread scratch (elements)
    Py_ssize_t so_n, so_c, so_z, so_y, so_x   # output strides (elements)
    int mr                            # 3: _mk3 tiles, 1: _mk1 per channel


cdef inline void _mk3(real* o, Py_ssize_t so_c, Py_ssize_t so_x, Py_ssize_t mv, Py_ssize_t nv,
                      const real* xb, const Py_ssize_t* offs, const real* wp, Py_ssize_t K,
                      const real* bias) noexcept nogil:
    # o[i*so_c + j*so_x] = bias[i] + sum_t wp[3t + i] * xb[offs[t] + j], i < mv, j < nv
    cdef real a0[32]
    cdef real a1[32]
    cdef real a2[32]
    cdef real w0, w1, w2, b
    cdef const real* xp
    cdef Py_ssize_t t, j
    if real is float:
        for j in range(32):
            a0[j] = 0
            a1[j] = 0
            a2[j] = 0
        for t in range(K):
            xp = xb + offs[t]
            w0 = wp[3 * t]
            w1 = wp[3 * t + 1]
            w2 = wp[3 * t + 2]
            for j in range(32):
                a0[j] = a0[j] + w0 * xp[j]
                a1[j] = a1[j] + w1 * xp[j]
                a2[j] = a2[j] + w2 * xp[j]
    else:
        for j in range(16):
            a0[j] = 0
            a1[j] = 0
            a2[j] = 0
        for t in range(K):
            xp = xb + offs[t]
            w0 = wp[3 * t]
            w1 = wp[3 * t + 1]
            w2 = wp[3 * t + 2]
            for j in range(16):
                a0[j] = a0[j] + w0 * xp[j]
                a1[j] = a1[j] + w1 * xp[j]
                a2[j] = a2[j] + w2 * xp[j]
    b = bias[0] if bias != NULL else 0
    for j in range(nv):
        o[j * so_x] = a0[j] + b
    if mv > 1:
        b = bias[1] if bias != NULL else 0
        for j in range(nv):
            o[so_c + j * so_x] = a1[j] + b
    if mv > 2:
        b = bias[2] if bias != NULL else 0
        for j in range(nv):
            o[2 * so_c + j * so_x] = a2[j] + b


cdef inline void _mk1(real* o, Py_ssize_t so_y, Py_ssize_t so_x, Py_ssize_t rv, Py_ssize_t nv,
                      const real* xb, Py_ssize_t xrow, const Py_ssize_t* offs, const real* wp,
                      Py_ssize_t K, const real* bias) noexcept nogil:
    # Rows r < rv (<= 2) of one output channel: o[r*so_y + j*so_x] = bias + sum_t wp[t] *
    # xb[r*xrow + offs[t] + j]
    cdef real a0[32]
    cdef real a1[32]
    cdef real w0, b
    cdef const real* xp
    cdef const real* xq
    cdef Py_ssize_t t, j
    if real is float:
        for j in range(32):
            a0[j] = 0
            a1[j] = 0
        for t in range(K):
            xp = xb + offs[t]
            xq = xp + xrow
            w0 = wp[t]
            for j in range(32):
                a0[j] = a0[j] + w0 * xp[j]
                a1[j] = a1[j] + w0 * xq[j]
    else:
        for j in range(16):
            a0[j] = 0
            a1[j] = 0
        for t in range(K):
            xp = xb + offs[t]
            xq = xp + xrow
            w0 = wp[t]
            for j in range(16):
                a0[j] = a0[j] + w0 * xp[j]
                a1[j] = a1[j] + w0 * xq[j]
    b = bias[0] if bias != NULL else 0
    for j in range(nv):
        o[j * so_x] = a0[j] + b
    if rv > 1:
        for j in range(nv):
            o[so_y + j * so_x] = a1[j] + b


cdef inline void _conv_gather(const ConvPlan* p, const real* xg, real* buf, real* line,
                              const Py_ssize_t* tabz, const Py_ssize_t* taby,
                              const Py_ssize_t* tabx, Py_ssize_t z, Py_ssize_t y0,
                              Py_ssize_t rows, Py_ssize_t x0, Py_ssize_t cw) noexcept nogil:
    # Rows of padded input for output plane z, output rows [y0, y0 + rows), output columns
    # [x0, x0 + cw): buf[((c*KD + kz)*ny + j)*Wrow + q*Wph + i] = P[c, z*sd + kz*dd,
    # y0*sh + j, x0*sw + q + i*sw]
    cdef Py_ssize_t c, kz, j, zi, yi, i, q, cnt, width, xp0
    cdef Py_ssize_t ny = (rows - 1) * p.sh + (p.KH - 1) * p.dh + 1
    cdef real* row
    cdef real* ph
    cdef const real* src
    width = (cw - 1) * p.sw + (p.KW - 1) * p.dw + 1
    xp0 = x0 * p.sw
    for c in range(p.Cg):
        for kz in range(p.KD):
            zi = tabz[z * p.sd + kz * p.dd]
            for j in range(ny):
                row = buf + ((c * p.KD + kz) * p.ny + j) * p.Wrow
                yi = taby[y0 * p.sh + j]
                if zi < 0 or yi < 0:
                    for q in range(p.sw):
                        ph = row + q * p.Wph
                        cnt = (width - q + p.sw - 1) // p.sw
                        for i in range(cnt):
                            ph[i] = 0
                    continue
                src = xg + ((c * p.D + zi) * p.H + yi) * p.W
                if p.sw == 1:
                    _fill_row(row, src, tabx, xp0, width, p.ox, p.W, <real>0)
                else:
                    _fill_row(line, src, tabx, xp0, width, p.ox, p.W, <real>0)
                    for q in range(p.sw):
                        ph = row + q * p.Wph
                        cnt = (width - q + p.sw - 1) // p.sw
                        for i in range(cnt):
                            ph[i] = line[q + i * p.sw]


cdef inline void _conv_task(const ConvPlan* p, Py_ssize_t task, const real* x, real* out,
                            const real* wpack, const real* bias, const Py_ssize_t* offs,
                            const Py_ssize_t* tabz, const Py_ssize_t* taby,
                            const Py_ssize_t* tabx, real* buf, real* line) noexcept nogil:
    cdef Py_ssize_t rest, ci, cb, rb, z, g, n, y0, x0, rows, cw, t0, t1, tile, r, xb, nv
    cdef Py_ssize_t oc, mv, rv
    cdef Py_ssize_t nr = CONV_VEC_BYTES // sizeof(real)
    cdef const real* bp
    cdef real* ob
    rest = task
    ci = rest % p.noc
    rest = rest // p.noc
    cb = rest % p.ncb
    rest = rest // p.ncb
    rb = rest % p.nrb
    rest = rest // p.nrb
    z = rest % p.Do
    rest = rest // p.Do
    g = rest % p.G
    n = rest // p.G
    y0 = rb * p.R
    rows = p.Ho - y0
    if rows > p.R:
        rows = p.R
    x0 = cb * p.CW
    cw = p.Wo - x0
    if cw > p.CW:
        cw = p.CW
    _conv_gather(p, x + (n * p.C + g * p.Cg) * p.D * p.H * p.W, buf, line, tabz, taby, tabx,
                 z, y0, rows, x0, cw)
    ob = out + n * p.so_n + g * p.Og * p.so_c + z * p.so_z + y0 * p.so_y + x0 * p.so_x
    t0 = ci * p.OCT
    if p.mr == 3:
        t1 = (p.Og + CONV_MR - 1) // CONV_MR
        if t1 > t0 + p.OCT:
            t1 = t0 + p.OCT
        # rows, then column tiles, then channel tiles: the input a column tile reads stays in
        # L1 while every channel tile of the chunk uses it
        for r in range(rows):
            xb = 0
            while xb < cw:
                nv = cw - xb
                if nv > nr:
                    nv = nr
                for tile in range(t0, t1):
                    oc = tile * CONV_MR
                    mv = p.Og - oc
                    if mv > CONV_MR:
                        mv = CONV_MR
                    bp = NULL if bias == NULL else bias + g * p.Og + oc
                    _mk3(ob + oc * p.so_c + r * p.so_y + xb * p.so_x, p.so_c, p.so_x, mv, nv,
                         buf + r * p.sh * p.Wrow + xb, offs,
                         wpack + (g * ((p.Og + CONV_MR - 1) // CONV_MR) + tile) * p.K * CONV_MR,
                         p.K, bp)
                xb = xb + nr
    else:
        t1 = p.Og
        if t1 > t0 + p.OCT:
            t1 = t0 + p.OCT
        r = 0
        while r < rows:
            rv = rows - r
            if rv > 2:
                rv = 2
            xb = 0
            while xb < cw:
                nv = cw - xb
                if nv > nr:
                    nv = nr
                for oc in range(t0, t1):
                    bp = NULL if bias == NULL else bias + g * p.Og + oc
                    _mk1(ob + oc * p.so_c + r * p.so_y + xb * p.so_x, p.so_y, p.so_x, rv, nv,
                         buf + r * p.sh * p.Wrow + xb, p.sh * p.Wrow, offs,
                         wpack + (g * p.Og + oc) * p.K, p.K, bp)
                xb = xb + nr
            r = r + 2


cdef int _conv_run(const ConvPlan* p, const real* x, real* out, const real* wpack,
                   const real* bias, const Py_ssize_t* offs, const Py_ssize_t* tabz,
                   const Py_ssize_t* taby, const Py_ssize_t* tabx, int num_threads) except -1:
    cdef Py_ssize_t ntasks, task, per
    cdef real* scratch = NULL
    ntasks = p.N * p.G * p.Do * p.nrb * p.ncb * p.noc
    if ntasks <= 0:
        return 0
    if num_threads > ntasks:
        num_threads = <int>ntasks
    # each thread's scratch starts on its own 64-byte line; calloc: the slack a micro-tile
    # reads past a row's end (lanes that are never stored) is initialised memory
    per = (((p.buf_len + p.line_len) * <Py_ssize_t>sizeof(real) + 63) // 64) * 64 // sizeof(real)
    scratch = <real*>calloc(<size_t>(num_threads * per), sizeof(real))
    if scratch == NULL:
        raise MemoryError("pyconv: cannot allocate the convolution scratch space")
    with nogil:
        for task in prange(ntasks, schedule='dynamic', num_threads=num_threads,
                           use_threads_if=num_threads > 1):
            _conv_task(p, task, x, out, wpack, bias, offs, tabz, taby, tabx,
                       scratch + omp_get_thread_num() * per,
                       scratch + omp_get_thread_num() * per + p.buf_len)
    free(scratch)
    return 0


cdef int _plan_from(ConvPlan* p, tuple geom) except -1:
    (p.N, p.C, p.D, p.H, p.W, p.O, p.Do, p.Ho, p.Wo, p.G, p.Cg, p.Og, p.K,
     p.KD, p.KH, p.KW, p.sd, p.sh, p.sw, p.dd, p.dh, p.dw, p.ox, p.R, p.nrb, p.CW, p.ncb,
     p.OCT, p.noc, p.ny, p.Wph, p.Wrow, p.buf_len, p.line_len, p.mr) = geom
    return 0


def conv_f32(const float[:, :, :, :, ::1] x, float[:, :, :, :, :] out,
             const float[::1] wpack, const float[::1] bias, const Py_ssize_t[::1] offs,
             const Py_ssize_t[::1] tabz, const Py_ssize_t[::1] taby,
             const Py_ssize_t[::1] tabx, tuple geom, int num_threads):
    """float32 version of :func:`conv_f64`."""
    cdef ConvPlan p
    _plan_from(&p, geom)
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
             const Py_ssize_t[::1] tabx, tuple geom, int num_threads):
    """Convolution of x (N, C, D, H, W) into out (N, O, Do, Ho, Wo), any output strides.

    geom is the plan tuple built by pyconv._conv (sizes, strides, dilations, tiling); wpack the
    weights packed per group and channel tile (tap-major, CONV_MR channels innermost for mr=3,
    one channel's taps contiguous for mr=1); bias empty or (O,); offs[t] the offset of tap t in
    the gathered rows; tabz/taby/tabx map padded coordinates to input indices (-1: zero).
    Contract: validated by pyconv (buffer sizes match geom, out does not overlap x).
    """
    cdef ConvPlan p
    _plan_from(&p, geom)
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
