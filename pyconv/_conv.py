"""The one driver of the deep-learning convolution kernel: plans, packing and threads.

Every conv1d/2d/3d, depthwise, grouped, pointwise and (through the phase decomposition in
:mod:`pyconv.nn`) transposed convolution reaches :func:`run`, which works on 5-D arrays
(N, C, D, H, W) with per-axis padding given as index tables over padded coordinates.
"""
import collections
import math
import os
import threading

import numpy as np

from . import _engine, _runtime
from ._kernels import kernels
from ._threads import effective_num_threads
from ._modes import CONSTANT as _CONSTANT
from ._validation import check_alloc

#: output-channel tile of the dense micro-kernel (CONV_MR of the kernel module in use: 3, or
#: 6 in the AVX-512 module)
MR = kernels.conv_mr()
#: bytes of output lanes per micro-tile (CONV_VEC_BYTES of the kernel module in use): 128
#: (32 float32 or 16 float64 lanes), 256 in the AVX-512 module
VEC_BYTES = kernels.conv_vec_bytes()
#: the channel-vector micro-kernels: output channels per tile (32), bytes of its lanes (48: 12
#: float32 or 6 float64 lanes, each broadcast), whether plans use them (the AVX-512 module),
#: and the float32 pair tile's channels (16) and lanes (24); MC and MP are 0 where plans do
#: not use them
_MC, NL_BYTES, _MC_ON, _MP, NP_LANES = kernels.conv_mc()
MC = _MC if _MC_ON else 0
MP = _MP if _MC_ON else 0


def _l2_bytes(default=512 * 1024):
    """The first CPU's L2 cache size from Linux's sysfs; ``default`` where it is not known."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in sorted(os.listdir(base)):
            with open(os.path.join(base, entry, "level")) as f:
                level = f.read().strip()
            with open(os.path.join(base, entry, "size")) as f:
                size = f.read().strip()
            if level == "2" and size[:-1].isdigit() and size[-1] in "KM":
                return int(size[:-1]) << (10 if size[-1] == "K" else 20)
    except (OSError, ValueError):
        pass
    return default


#: target size of one task's gathered input rows: half the L2 (the other half holds the
#: weights and the output), between 128 KB and 1 MB; one image of a dense layer that fits
#: twice this is gathered whole, and a task of several such images up to eight times this
#: (see plan and _images_per_task)
BUF_BYTES = min(1 << 20, max(128 * 1024, _l2_bytes() // 2))
#: outputs wider than this are cut into column blocks of COL_BLOCK
MAX_CW = 1024
#: input bytes one chunk of taps may read per column tile (half of a 32 KB L1)
L1_BYTES = 16 * 1024
#: weights one channel-vector tile reads per chunk of taps: more than L1 holds (they stream
#: from L2 at two lines per 24 multiply-adds), so that a 3x3 layer of 64 or 128 input
#: channels sums each output in one chunk, without its partial sums stored and reloaded
#: between chunks (16 KB before: 1-5% slower at one thread, benchmarks/RESULTS.md)
VEC_CHUNK_BYTES = 128 * 1024
#: the 32-channel tile's blocks of lanes may be the task's valid outputs only (see plan's
#: vlanes); False: always rows of lanes with their padding (the tests compare the two)
VALID_LANES = True
COL_BLOCK = 512
#: a 1x1 layer whose tasks have this many channel-vector tiles or more packs its input as
#: panels (each block of lanes' chunk of taps in one run) before the tiles read it: one
#: stream of whole cache lines where the planes would be a chunk of taps' worth of streams.
#: The copy is paid once per chunk and saved by every tile: measured 9% faster with 8
#: tiles, 4.5% with 5, 4% slower with 4 and 16% with one (256 input channels, 28 x 28,
#: one thread; benchmarks/RESULTS.md)
PANEL_TILES = 5


def _plan_bytes(shape5, oshape5, G, kshape, *rest):
    return 8 * (shape5[1] // G) * math.prod(kshape)     # the tap offsets


@_engine.bounded_cache(256, _plan_bytes)
def plan(shape5, oshape5, G, kshape, stride, dilation, ox, itemsize, nthreads, mc=0, mp=0,
         placed=False, xshare=0, windowed=False):
    """(geom tuple for the kernel, tap offsets) for one problem; cached per shape.  mc, mp:
    the channel-vector tiles it may use (MC, MP), or 0; placed: the outputs go through a
    block of each thread's scratch (run_placed), which the rows per task must leave room
    for; xshare: how many zero columns a gathered row may share with the next (see
    _shared_zeros); windowed: the kernel gets per-tile windows (run_phase), which tasks of
    several images do not take."""
    N, C, D, H, W = shape5
    _, O, Do, Ho, Wo = oshape5
    KD, KH, KW = kshape
    sd, sh, sw = stride
    dd, dh, dw = dilation
    Cg, Og = C // G, O // G
    K = Cg * KD * KH * KW
    nr = VEC_BYTES // itemsize
    mr = MR if Og >= MR else 1
    # a channel-vector tile where at most a sixth of its channels are padding: of the
    # 32-channel tile and (float32) the 16-channel pair tile the one with fewer padded
    # channels, the wider on a tie
    fits = [m for m in (mc, mp if itemsize == 4 else 0)
            if m and 6 * Og >= 5 * m * -(-Og // m)]
    vec = bool(fits)
    if vec:
        mr = min(fits, key=lambda m: (-(-Og // m) * m, -m))
    ntiles = -(-Og // mr)
    CW = Wo if Wo <= MAX_CW else COL_BLOCK
    ncb = -(-Wo // CW)
    reach = ((KW - 1) * dw) // sw
    Wph = CW + reach
    if sw == 1 and ncb == 1 and not placed:
        # whole rows whose first and last xshare columns are zeros: each row's right
        # padding is the next row's left, at a pitch xshare lanes shorter (fewer of the
        # micro-tiles' lanes are padding: 3x3, padding 1 on 56 columns: 57 lanes a row, not
        # 58).  The gather writes each row whole, zeros over zeros
        Wph -= min(xshare, reach)

    def nyp_of(R):  # gathered rows per stride-phase plane for R output rows
        return -(-((R - 1) * sh + (KH - 1) * dh + 1) // sh)

    planes = Cg * KD * sh * sw
    # taps per chunk of the micro-kernel's loop: the input rows one chunk reads for a block
    # of lanes (channels x KD x KH rows of nr + reach columns) stay within L1_BYTES
    # (for the channel-vector tile: one tile's weights of a chunk within VEC_CHUNK_BYTES)
    per_c = KD * KH * (nr + reach + 1) * itemsize
    budget = L1_BYTES
    if vec:
        per_c = KD * KH * KW * _MC * itemsize      # both tiles read 32 weights per tap
        budget = VEC_CHUNK_BYTES
    cc = max(1, min(Cg, budget // per_c))
    cc = -(-Cg // -(-Cg // cc))
    Kc = cc * KD * KH * KW
    # packed panels (see PANEL_TILES) for 1x1 layers only: a larger kernel's taps share the
    # lines of a plane, and its panels would copy each input KH x KW times
    panel = vec and KD * KH * KW == 1 and ntiles >= PANEL_TILES
    # rows per task: as many as fit the buffer (for the channel-vector tile, the buffer and
    # the partial sums of every output channel, which it keeps between chunks of taps; when
    # placed, the buffer and the task's block of outputs), or down to half as many where
    # that leaves fewer padding lanes in the last block of lanes of each task (a micro-tile
    # computes step lanes whether or not they are outputs).
    #   One float32 image of a dense layer (one group, plane and column block) with
    # channel-vector tiles, whose rows fit the whole L2 (twice the buffer) and whose tiles
    # share out evenly over the threads (the busiest at most 1/8 above the mean), is one
    # block of rows: its tasks then split by channel tiles and pack their weights as they
    # read them (inpack, below), each weight read once, where every block of rows had read
    # them all again from the packed copy.  512->512 14x14 (three blocks of 6 rows before):
    # 15% faster at one thread, 17% at two; without the even share, 96->96 35x35 (three
    # tiles on two threads) was 18% slower.  Such images of a batch: NI of them a task
    # where that pays (see _images_per_task), each still one block of rows
    row_bytes = planes * Wph * itemsize
    if vec or placed:
        row_bytes += ntiles * mr * Wph * itemsize
    if panel:
        row_bytes += Kc * Wph * itemsize
    halo = (KH - 1) * dh // sh
    R = max(1, min(Ho, BUF_BYTES // max(1, row_bytes) - halo))
    step = (NP_LANES if vec and mr == mp else NL_BYTES // itemsize if vec
            else nr if mr == MR else 2 * nr)
    whole = (vec and itemsize == 4 and not placed and not panel and G * Do * ncb == 1
             and (Ho + halo) * row_bytes <= 2 * BUF_BYTES)
    NI = 1
    if whole and N > 1 and VALID_LANES and mr == mc and not windowed:
        NI = _images_per_task(N, ntiles, (Ho + halo) * row_bytes,
                              cc * KD * sh * sw * nyp_of(Ho) * Wph * itemsize, nthreads,
                              Ho * Wo, step, Og * K * itemsize, xshare > 0)
    if whole and (NI > 1 or (N == 1 and _even_share(1, 1, ntiles, nthreads, 8))):
        R = Ho
    else:
        R = min(range(R, (R - 1) // 2, -1),
                key=lambda r: _lane_blocks(r, Ho, Wph, CW, step))
    base = -(-N // NI) * G * Do * ncb
    want = 4 * nthreads if nthreads > 1 else 1
    noc, OCT = 1, ntiles
    tasks = base * -(-Ho // R)
    # too few tasks for the threads: split the output channels when there are tiles enough
    # (each task then gathers the same rows, but whole: no halo rows, no lane block cut
    # short by a row block) -- four _mk3 tiles, or one 32-channel tile, per task -- else
    # cut the rows finer.  Channel-vector tiles split into one task per thread only: their
    # tasks are of equal work, and each gathers the whole input again (a 256->256 14^2
    # layer at two threads: 8 tasks 1.33 ms, 2 tasks 1.23)
    wtile = nthreads if vec else want
    if tasks < want and ntiles >= (1 if vec else 4) * -(-wtile // tasks):
        noc = -(-wtile // tasks)
    elif tasks < want:
        R = max(1, min(R, -(-Ho // -(-want // base))))
    nrb = -(-Ho // R)
    if base * nrb * noc < wtile:
        noc = min(ntiles, -(-wtile // (base * nrb)))
    OCT = -(-ntiles // noc)
    noc = -(-ntiles // OCT)
    nyp = NI * nyp_of(R)
    buf_len = planes * nyp * Wph + Wph + 2 * nr + 16
    line_len = (CW - 1) * sw + (KW - 1) * dw + 1 if sw > 2 else 0
    c, kz, ky, kx = np.meshgrid(np.arange(Cg), np.arange(KD), np.arange(KH), np.arange(KW),
                                indexing="ij")
    offs = (((((c * KD + kz) * sh + (ky * dh) % sh) * sw + (kx * dw) % sw) * nyp
             + (ky * dh) // sh) * Wph + (kx * dw) // sw).ravel().astype(np.intp)
    offs.setflags(write=False)
    # loop order: channel tiles outside the lane blocks when a chunk's weights (all tiles of
    # a task) are larger than the input rows the chunk reads for all lanes; always for the
    # channel-vector tile, with packed panels (2) where the task's tiles are enough
    wouter = int(vec or (mr == MR and OCT * Kc * MR > cc * KD * sh * sw * nyp * Wph))
    if panel and OCT >= PANEL_TILES:
        wouter = 2
        if (D, H, sw, ox) == (1, 1, 1, 0) and Wo == W:
            # one row (as pyconv.nn flattens a 1x1 stride-1 layer without padding), every
            # sample read in its place: the panels packed straight from the input (3), no
            # gather; the taps are the input's channels, W apart
            wouter = 3
            offs = np.arange(Cg, dtype=np.intp) * W
            offs.setflags(write=False)
    # weights packed by the tasks (inpack): where each float32 channel-vector tile is used by
    # one task only (one image, plane and block of rows and columns: a small image, its
    # tasks split by channel tiles), the task packs each chunk of its tiles' weights into
    # its scratch right before the blocks of lanes read it.  The weights are then read once
    # from where they are, and never written out whole and read back (a 512->512 3x3
    # layer's 9.4 MB)
    inpack = int(vec and itemsize == 4 and not placed and wouter == 1
                 and -(-N // NI) * Do * nrb * ncb == 1)
    # blocks of valid lanes (vlanes): the 32-channel tile's 12 lanes taken from the task's
    # outputs only, across rows, each broadcast from its own offset, where that saves
    # micro-tiles (padding lanes: a row's shared zero columns, or the last block's rest)
    vlanes = int(VALID_LANES and vec and mr == mc and itemsize == 4 and not placed
                 and wouter == 1
                 and (NI > 1 or _lane_blocks(R, Ho, CW, CW, step)
                      < _lane_blocks(R, Ho, Wph, CW, step)))
    geom = (N, C, D, H, W, O, Do, Ho, Wo, G, Cg, Og, K, Kc, KD, KH, KW, sd, sh, sw, dd, dh, dw,
            ox, R, nrb, CW, ncb, OCT, noc, nyp, Wph, buf_len, line_len, NI, vlanes, inpack, mr,
            wouter)
    return geom, offs


#: images per task of a batch of small planes (see _images_per_task); 0: the planner's choice
IMAGES_PER_TASK = 0


def _even_share(N, NI, ntiles, nthreads, tol):
    """Whether tasks of NI of the N images (the last group may have fewer), split by channel
    tiles as plan() splits them when the groups are fewer than the threads, share out over
    the threads with the busiest at most 1/tol above the mean (largest task first, each to
    the least loaded thread)."""
    groups = -(-N // NI)
    noc = max(1, min(ntiles, -(-nthreads // groups)))
    OCT = -(-ntiles // noc)
    tiles = [min(OCT, ntiles - i) for i in range(0, ntiles, OCT)]
    works = sorted((min(NI, N - g) * t for g in range(0, N, NI) for t in tiles), reverse=True)
    load = [0] * nthreads
    for w in works:
        load[load.index(min(load))] += w
    return tol * nthreads * max(load) <= (tol + 1) * N * ntiles


def _images_per_task(N, ntiles, image_bytes, chunk_bytes, nthreads, outputs, step,
                     wbytes, zeros):
    """How many images of a batch of small planes one task gathers and computes (1: each
    image its own task).  An image of a float32 dense layer whose rows fit the whole L2 is
    one block of rows (see plan); several such images in one task put their outputs in the
    same blocks of lanes (no padding lanes but the task's last block's: the 49 outputs of a
    7x7 plane took five blocks of 12 lanes; eight planes take 33, not 40) and read each
    chunk of weights once for all of them (wbytes: an image's task read them all).
    Where that pays: a sixteenth of the blocks of step lanes saved, or weights larger than
    eight buffers (they come from L3 or memory again for every image), or planes of at
    most 256 outputs padded with zeros (``zeros``: the rows share zero columns), whose
    border outputs then fill whole blocks that leave out the padding's taps (256->256
    14x14, N=8: 3-6% faster; 28x28 planes 1-6% slower, so not there; N=32 at two threads
    in groups of 5, 5, 5, 5, 5, 5 and 2 images 3% slower, hence the share).  As many images
    as a chunk of taps' input rows of all of them fit the buffer (chunk_bytes an image;
    every channel tile reads them again) and their rows and partial sums together eight
    buffers (image_bytes an image), in groups as even as can be, as few groups as share out
    evenly over the threads (the busiest at most 1/24 above the mean), down to two images.
    Measured (benchmarks/RESULTS.md): 3x3 512->512 on 7x7, N=8, 15-20% faster; 256->256 on
    14x14 (2% of the lanes saved, 2.4 MB of weights) not faster, and 4-10% slower where
    the groups did not share out within 1/8."""
    if IMAGES_PER_TASK:
        return min(N, IMAGES_PER_TASK)
    if (16 * N * -(-outputs // step) < 17 * -(-N * outputs // step)
            and wbytes <= 8 * BUF_BYTES and not (zeros and outputs <= 256)):
        return 1
    most = min(N, BUF_BYTES // max(1, chunk_bytes), 8 * BUF_BYTES // max(1, image_bytes))
    for groups in range(-(-N // max(1, most)), N):
        NI = -(-N // groups)
        if NI < 2:
            break
        if -(-N // NI) == groups and _even_share(N, NI, ntiles, nthreads, 24):
            return NI
    return 1


def _lane_blocks(R, Ho, Wph, cw, step):
    """Micro-tiles of step lanes that cover Ho output rows of cw columns (row pitch Wph) in
    tasks of R rows: the computed lanes, valid or not."""
    full, last = divmod(Ho, R)
    blocks = full * -(-((R - 1) * Wph + cw) // step)
    return blocks + (-(-((last - 1) * Wph + cw) // step) if last else 0)


#: the largest packed weights kept in a thread's buffer between calls (see _empty_lines)
PACKED_KEEP_BYTES = 32 << 20

_packed_local = threading.local()


def _empty_lines(n, dtype):
    """An uninitialised 1-D array of n items starting on a 64-byte line (a micro-tile's
    weights of one tap, 128 or 256 bytes, are then whole lines: NumPy's large arrays start
    16 bytes into a page, and every vector load of them would span two lines), in a buffer
    the calling thread keeps for its next call (up to PACKED_KEEP_BYTES): a fresh array of
    a few MB is often a new mapping whose pages fault in again on every call (measured: a
    512 -> 256 4x4 transposed layer spent 8 ms of 20 packing 8 MB of weights into one).
    The packed weights live for one call only."""
    item = np.dtype(dtype).itemsize
    nbytes = (n + 64 // item) * item
    if nbytes > PACKED_KEEP_BYTES:
        raw = np.empty(nbytes, np.uint8)
    else:
        raw = getattr(_packed_local, "buf", None)
        if raw is None or raw.size < nbytes:
            raw = _packed_local.buf = np.empty(max(nbytes, 1 << 16), np.uint8)
    off = -raw.ctypes.data % 64
    return raw[off:off + n * item].view(dtype)


def _packed_lines(G, rows, K, mr, dtype):
    """The buffer for packed weights: G groups of ``rows`` channels (as whole tiles of mr) of
    K taps each; the pair tile's weights are packed twice over (it reads each one twice in a
    row)."""
    return _empty_lines(G * -(-rows // mr) * K * mr * (2 if mr == _MP else 1), dtype)


def pack_weights(w5, G, mr, num_threads=1):
    """Weights (O, Cg, KD, KH, KW) in the order the kernel reads them: tiles of mr channels
    (the plan's; 1: one channel's taps after another)."""
    O = w5.shape[0]
    Og = O // G
    K = math.prod(w5.shape[1:])
    if mr == 1:
        return np.ascontiguousarray(w5).reshape(-1)
    out = _packed_lines(G, Og, K, mr, w5.dtype)
    pack = kernels.pack_tiles_f32 if w5.dtype == np.float32 else kernels.pack_tiles_f64
    pack(np.ascontiguousarray(w5).reshape(O, K), out, G, mr, num_threads)
    return out


def output_size(n, k, s, d, lo, hi):
    """PyTorch's output length along one axis (may be <= 0 for an impossible conv)."""
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


#: an axis whose dilation exceeds this many outputs per task (columns of a task for x, rows
#: for y) is gathered tap by tap (see _axis_table); depth is gathered plane by plane anyway
COMPRESS_BLOCK = (None, 16, COL_BLOCK)


def _axis_table(axis, n, k, s, d, start, o, mode):
    """(index table, step, dilation, remapped) for one axis of the kernel's gather.

    Plain: padded positions start .. start + (o-1)*s + d*(k-1), stepped by s.  Two cases
    list only the positions the windows read, window after window, so the kernel never
    gathers the samples between them: a stride larger than the kernel's extent e (the table
    holds each window's e positions, step e: a stride of 10**9 costs nothing), and a
    dilation larger than a task's block of outputs (the table holds each window's k taps,
    step k, dilation 1: a dilation of 10**5 would otherwise make every block of outputs
    gather the whole dilated span, a cost quadratic in the dilation).  Same positions in the
    same tap order: the sums are bit for bit those of the plain gather."""
    e = d * (k - 1) + 1
    block = COMPRESS_BLOCK[axis]
    if o > 1 and s > e:
        count, step, dil = o * e, e, d
    elif k > 1 and block is not None and d > min(o, block):
        count, step, dil = o * k, k, 1
    else:
        # the plain gather span (for one output: its window, whatever the stride)
        span = e if o == 1 else (o - 1) * s + e
        check_alloc((span,), np.intp, "the index table")
        return _engine.index_table(start, span, n, mode), (1 if o == 1 else s), d, False
    # only the positions the windows read, mapped one by one: the span between them (up to
    # the whole padding) is never materialised
    check_alloc((2 * count,), np.intp, "the index table")
    if step == e:
        pos = np.arange(o, dtype=np.intp)[:, None] * s + np.arange(e, dtype=np.intp)
    else:
        pos = np.arange(o, dtype=np.intp)[:, None] * s + np.arange(k, dtype=np.intp) * d
    pos = np.ascontiguousarray(pos.ravel() + start)
    table = np.empty(count, dtype=np.intp)
    _runtime.map_positions(pos, table, n, mode)
    table.setflags(write=False)
    return table, step, dil, True


def _tables(shape5, kshape, stride, dilation, starts, osize, mode):
    """Per-axis tables, steps, dilations and the x offset of the identity run for plan(), for
    an input of 5-D shape ``shape5``."""
    tables, steps, dils, remapped = zip(*(
        _axis_table(axis, n, k, s, d, st, o, mode)
        for axis, (n, k, s, d, st, o) in enumerate(zip(shape5[2:], kshape, stride, dilation,
                                                      starts, osize))))
    # a remapped x table has no identity run: every column goes through the table
    ox = shape5[4] + len(tables[2]) + 1 if remapped[2] else -starts[2]
    return list(tables), steps, dils, ox


def run(x5, w5, bias, stride, dilation, pads, mode, groups, num_threads, dest=None):
    """Convolve x5 (N, C, D, H, W) with w5 (O, C/groups, KD, KH, KW), both C-contiguous in one
    float dtype.  pads: ((lo, hi),) * 3; mode: the boundary code of the padding.  Writes into
    dest (any strides, shape (N, O, Do, Ho, Wo), not overlapping x5) or a new array."""
    N, C, D, H, W = x5.shape
    O = w5.shape[0]
    kshape = w5.shape[2:]
    osize = tuple(output_size(n, k, s, d, lo, hi) for n, k, s, d, (lo, hi)
                  in zip((D, H, W), kshape, stride, dilation, pads))
    oshape = (N, O) + osize
    if dest is None:
        check_alloc(oshape, x5.dtype)
        dest = np.empty(oshape, dtype=x5.dtype)
    if dest.size == 0:
        return dest
    work = dest.size * max(1, math.prod(w5.shape[1:]))
    nthreads = effective_num_threads(num_threads, work=work)
    tables, steps, dils, ox = _tables(x5.shape, kshape, stride, dilation,
                                      [-lo for lo, _ in pads], osize, mode)
    return _launch(x5, w5, bias, groups, tables, steps, dils, ox, dest, nthreads)


def run_phase(x5, w5, bias, dilation, starts, dest, num_threads, windows=None):
    """Stride-1 correlation of x5 with w5 at the given dilation into ``dest`` (any strides):
    dest[..., q] = bias + sum_k w[k] x[q + start + k*dilation] per axis, zeros outside x.
    The building block of the transposed convolution's phase decomposition.  windows: None,
    or per output channel (O, 4) the planes [zlo, zhi) and rows [ylo, yhi) of dest that are
    needed; outputs outside may be left unwritten (see _tile_windows)."""
    C = x5.shape[1]
    kshape = w5.shape[2:]
    osize = dest.shape[2:]
    if dest.size == 0:
        return dest
    groups = C // w5.shape[1]
    work = dest.size * max(1, math.prod(w5.shape[1:]))
    nthreads = effective_num_threads(num_threads, work=work)
    tables, steps, dils, ox = _tables(x5.shape, kshape, (1, 1, 1), dilation, starts, osize,
                                      _CONSTANT)
    return _launch(x5, w5, bias, groups, tables, steps, dils, ox, dest, nthreads, windows)


#: what run_placed needs besides the arrays, for one problem shape (see placed_setup)
PlacedSetup = collections.namedtuple("PlacedSetup", "geom offs tables windows nthreads")


def placed_setup(xshape5, wshape5, grid, dilation, starts, nthreads, itemsize, windows=None):
    """The part of run_placed that depends on shapes only (for the caller to cache; read-only
    arrays): the plan, the tap offsets, the index tables and the tile windows (``windows``:
    None, or the (P * O, 4) per-channel windows); its size does not grow with the weights'."""
    N, C = xshape5[:2]
    O, Cg = wshape5[:2]
    kshape = tuple(wshape5[2:])
    groups = C // Cg
    oshape = (N, O) + tuple(grid)
    tables, steps, dils, ox = _tables(xshape5, kshape, (1, 1, 1), dilation, starts, grid,
                                      _CONSTANT)
    geom, offs = plan(xshape5, oshape, groups, kshape, steps, dils, ox, itemsize, nthreads,
                      MC, MP, True)
    if windows is not None:
        windows = _tile_windows(windows, groups, geom[-2])
    for a in tables:
        a.setflags(write=False)
    return PlacedSetup(geom, offs, tuple(tables), windows, nthreads)


def pack_phases(wflat, pick, groups, Cg, Og, kvol, phase_major, mr, num_threads=1):
    """A transposed convolution's weights (C, O / groups, *k), flattened, straight into the
    order the kernel reads for its combined phases (see kernels.pack_phases_f64), on a
    64-byte line in the thread's buffer (see _empty_lines)."""
    P, K = pick.shape
    out = _packed_lines(groups, Og * P, K, mr, wflat.dtype)
    pack = kernels.pack_phases_f32 if wflat.dtype == np.float32 else kernels.pack_phases_f64
    pack(wflat, pick, out, groups, Cg, Og, kvol, phase_major, mr, num_threads)
    return out


def run_setup(x5, wpack, bias, setup, dest, place, strides, phase_major):
    """The kernel of run_placed with its weights packed (pack_weights' order)."""
    if dest.size == 0:
        return dest
    b = np.zeros(0, dtype=x5.dtype) if bias is None else np.ascontiguousarray(bias, x5.dtype)
    fn = kernels.conv_place_f32 if x5.dtype == np.float32 else kernels.conv_place_f64
    fn(x5, dest, wpack, b, setup.offs, setup.tables[0], setup.tables[1], setup.tables[2],
       setup.geom, setup.nthreads, setup.windows, place, *strides, phase_major)
    return dest


def run_placed(x5, w5, bias, dilation, starts, grid, dest, place, strides, phase_major,
               num_threads, windows=None):
    """run_phase over a (Do, Ho, Wo) ``grid`` of w5.shape[0] = P * O channels whose outputs
    are not stored as such: channel c (phase f of output channel o, c = f * O + o when
    phase_major, else o * P + f) goes straight to its strided places in ``dest`` (N, O, ...)
    as the (P, 9) ``place`` rows say (see kernels.conv_place_f64); per axis ``strides``.
    Each thread keeps one task's outputs at a time: no grid-sized buffer.  windows: None,
    or per channel (P * O, 4) as for run_phase."""
    work = x5.shape[0] * math.prod(grid) * max(1, math.prod(w5.shape))
    nthreads = effective_num_threads(num_threads, work=work)
    setup = placed_setup(x5.shape, w5.shape, tuple(grid), tuple(dilation), tuple(starts),
                         nthreads, x5.dtype.itemsize, windows)
    wpack = pack_weights(w5, x5.shape[1] // w5.shape[1], setup.geom[-2], nthreads)
    return run_setup(x5, wpack, bias, setup, dest, place, strides, phase_major)


def _tile_windows(windows, groups, mr):
    """Per channel tile of a group (mr channels; a group's last tile may be short), the
    smallest planes and rows window [zlo, zhi, ylo, yhi) holding the windows of all the
    channels it stands for in every group: the kernel's ``windows`` (cached, read-only)."""
    w = np.ascontiguousarray(windows, dtype=np.intp)
    return _tile_windows_of(w.tobytes(), groups, mr)


@_engine.bounded_cache(64, lambda key, groups, mr: len(key))
def _tile_windows_of(key, groups, mr):
    w = np.frombuffer(key, dtype=np.intp).reshape(groups, -1, 4)
    Og = w.shape[1]
    nt = -(-Og // mr)
    w = np.concatenate([w, np.repeat(w[:, -1:], nt * mr - Og, axis=1)], axis=1)
    w = w.reshape(groups, nt, mr, 4)
    res = np.empty((nt, 4), dtype=np.intp)
    res[:, 0::2] = w[..., 0::2].min(axis=(0, 2))
    res[:, 1::2] = w[..., 1::2].max(axis=(0, 2))
    res = res.ravel()
    res.setflags(write=False)
    return res


def _shared_zeros(tabx, reach):
    """How many columns of zeros (-1) both ends of the x table have, up to ``reach``: the
    columns a gathered row can share with the next (plan's xshare)."""
    if reach <= 0 or len(tabx) < reach:
        return 0
    head = tabx[:reach] < 0
    tail = tabx[len(tabx) - reach:][::-1] < 0
    lead = reach if head.all() else int(head.argmin())
    trail = reach if tail.all() else int(tail.argmin())
    return min(lead, trail)


def _launch(x5, w5, bias, groups, tables, steps, dils, ox, dest, nthreads, windows=None):
    """Plan, pack the weights and run the kernel into dest (shape (N, O, Do, Ho, Wo))."""
    xshare = 0
    if steps[2] == 1:
        xshare = _shared_zeros(tables[2], (w5.shape[4] - 1) * dils[2])
    geom, offs = plan(x5.shape, dest.shape, groups, tuple(w5.shape[2:]), steps, dils, ox,
                      x5.dtype.itemsize, nthreads, MC, MP, False, xshare, windows is not None)
    if geom[-3]:
        wpack = np.ascontiguousarray(w5).reshape(-1)    # packed by the tasks (inpack)
    else:
        wpack = pack_weights(w5, groups, geom[-2], nthreads)
    b = np.zeros(0, dtype=x5.dtype) if bias is None else np.ascontiguousarray(bias, x5.dtype)
    fn = kernels.conv_f32 if x5.dtype == np.float32 else kernels.conv_f64
    if windows is not None:
        windows = _tile_windows(windows, groups, geom[-2])
    fn(x5, dest, wpack, b, offs, tables[0], tables[1], tables[2], geom, nthreads, windows)
    return dest
