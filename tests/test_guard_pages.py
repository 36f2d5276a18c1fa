"""No kernel reads or writes past the ends of its arrays: images and results are placed
against inaccessible pages (mprotect PROT_NONE) on either side, so a vector load or store
that reaches one byte beyond the data kills the process.  The vector kernels read whole
vectors, shift taps out of loaded vectors and mask row tails; this is where an off-by-one in
those bounds shows, whatever the widths and tap counts.  Each case runs in a child process,
so a crash fails the test instead of pytest."""
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="mmap/mprotect guard pages are set up for Linux")

CHILD = textwrap.dedent(r"""
    import ctypes, mmap, sys
    import numpy as np
    import scipy.ndimage as ndi
    from pyconv import filters, nn

    PAGE = mmap.PAGESIZE
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    keep = []

    def guarded(shape, dtype, at_end):
        # an array whose first byte follows an inaccessible page (at_end False) or whose
        # last byte precedes one (at_end True)
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        pages = -(-nbytes // PAGE)
        mm = mmap.mmap(-1, (pages + 2) * PAGE)
        base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
        for addr in (base, base + (pages + 1) * PAGE):
            assert libc.mprotect(addr, PAGE, 0) == 0, ctypes.get_errno()
        start = PAGE + (pages * PAGE - nbytes if at_end else 0)
        arr = np.frombuffer(mm, dtype=dtype, count=int(np.prod(shape)),
                            offset=start).reshape(shape)
        keep.append(mm)
        return arr

    def layer_ref(x, w, pad):
        # a 2-D layer (zero padding, stride 1) in float64: one einsum per tap
        xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad[0],) * 2, (pad[1],) * 2))
        kh, kw = w.shape[2:]
        Ho, Wo = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
        res = np.zeros((x.shape[0], w.shape[0], Ho, Wo))
        for ky in range(kh):
            for kx in range(kw):
                res += np.einsum("nchw,oc->nohw", xp[:, :, ky:ky + Ho, kx:kx + Wo],
                                 w[:, :, ky, kx].astype(np.float64))
        return res

    rng = np.random.default_rng(0)
    dtype = np.dtype(sys.argv[1])
    tol = 1e-4 if dtype == np.float32 else 1e-10
    checked = 0
    for at_end in (False, True):
        # rows of 800 and more samples are read in place by the tiled kernel (narrower
        # ones are gathered into a tile first)
        for h, w in ((1, 1), (3, 17), (5, 31), (9, 33), (4, 64), (7, 95), (33, 129),
                     (18, 300), (3, 800), (2, 1031), (20, 1040)):
            x = guarded((h, w), dtype, at_end)
            x[...] = rng.uniform(-1, 1, (h, w))
            out = guarded((h, w), dtype, not at_end)
            for taps in (1, 2, 3, 5, 8, 9, 15, 17):
                k = rng.standard_normal(taps).astype(dtype)
                for axis in (0, 1):
                    for mode in ("reflect", "constant", "wrap"):
                        ref = ndi.correlate1d(x.astype(np.float64), k.astype(np.float64),
                                              axis=axis, mode=mode)
                        got = filters.correlate1d(x, k, axis=axis, mode=mode, out=out)
                        assert np.allclose(got, ref, rtol=tol, atol=tol * taps), (h, w, taps)
                        checked += 1
                got = filters.sepfilter(x, [k, k[::-1].copy()], mode="nearest", out=out)
                ref = ndi.correlate1d(ndi.correlate1d(x.astype(np.float64), k, axis=0,
                                                      mode="nearest"),
                                      k[::-1].astype(np.float64), axis=1, mode="nearest")
                assert np.allclose(got, ref, rtol=tol, atol=tol * taps * taps), (h, w, taps)
            for ks in ((3, 3), (5, 5), (2, 4), (3, 8), (4, 7), (7, 7), (6, 9)):
                k2 = rng.standard_normal(ks).astype(dtype)
                got = filters.correlate(x, k2, mode="mirror", out=out)
                ref = ndi.correlate(x.astype(np.float64), k2.astype(np.float64), mode="mirror")
                assert np.allclose(got, ref, rtol=tol, atol=tol * k2.size), (h, w, ks)
            filters.sobel(x, out=out)
            filters.gaussian(x, 2.0, out=out)
            checked += 1
        # rows read in place by one thread (one task per row, no chunks of columns), every
        # remainder of the row length modulo a vector, 5 to 17 consecutive taps (one pass
        # with the sums in registers in the AVX-512 module)
        for w in range(800, 816):
            x = guarded((2, w), dtype, at_end)
            x[...] = rng.uniform(-1, 1, (2, w))
            for taps in range(5, 18):
                k = rng.standard_normal(taps).astype(dtype)
                got = filters.correlate1d(x, k, axis=1, mode="nearest", num_threads=1)
                ref = ndi.correlate1d(x.astype(np.float64), k.astype(np.float64), axis=1,
                                      mode="nearest")
                assert np.allclose(got, ref, rtol=tol, atol=tol * taps), (w, taps)
                checked += 1
        # a layer: (N, C, H, W) images against the guards, 3x3 and 1x1 weights
        xl = guarded((2, 3, 9, 23), dtype, at_end)
        xl[...] = rng.uniform(-1, 1, xl.shape)
        for wshape, pad in (((4, 3, 3, 3), 1), ((5, 3, 1, 1), 0), ((3, 1, 3, 3), 1)):
            wt = rng.standard_normal(wshape).astype(dtype)
            groups = 3 if wshape[1] == 1 else 1
            nn.conv2d(xl, wt, padding=pad, groups=groups)
        # the channel-vector tiles' weights against the guards: packed sixteen taps at a
        # time with masked loads (9, 21 and 45 taps a channel), first or, for one
        # small image, by the tasks; against a float64 loop, and the same bits as from a
        # copy in ordinary memory; and their results against the guards
        for N, O, C, ks, hw in ((1, 40, 5, (3, 3), (6, 11)), (2, 64, 3, (3, 5), (6, 11)),
                                (1, 16, 9, (1, 1), (6, 11)), (1, 33, 1, (3, 3), (6, 11)),
                                (1, 32, 7, (1, 3), (6, 11)), (2, 64, 3, (3, 3), (9, 13))):
            xw = rng.uniform(-1, 1, (N, C) + hw).astype(dtype)
            wt = guarded((O, C) + ks, dtype, at_end)
            wt[...] = rng.standard_normal(wt.shape)
            pad = (ks[0] // 2, ks[1] // 2)
            ref = layer_ref(xw, wt, pad)
            for nt in (1, 2):
                got = nn.conv2d(xw, wt, padding=pad, num_threads=nt)
                taps = C * ks[0] * ks[1]
                assert np.allclose(got, ref, rtol=tol, atol=tol * taps), (N, O, C, ks)
                assert np.array_equal(got, nn.conv2d(xw, np.array(wt), padding=pad,
                                                     num_threads=nt)), (N, O, C, ks)
                # into a result against the guards (blocks of valid lanes store twelve
                # outputs across rows)
                res = guarded(got.shape, dtype, not at_end)
                nn.conv2d(xw, wt, padding=pad, num_threads=nt, out=res)
                assert np.array_equal(res, got), (N, O, C, ks)
            checked += 1
        # small planes swept whole (zero padding, rows of at most one vector of outputs;
        # layers of stride 1 and 2): every row width up to a vector and one past it
        for w in range(1, 18):
            xp = guarded((2, 3, 5, w), dtype, at_end)
            xp[...] = rng.uniform(-1, 1, xp.shape)
            for ks in ((3, 3), (2, 5), (4, 8)):
                k2 = rng.standard_normal(ks).astype(dtype)
                got = filters.correlate(xp[1, 2], k2, mode="constant",
                                        out=guarded((5, w), dtype, not at_end))
                ref = ndi.correlate(xp[1, 2].astype(np.float64), k2.astype(np.float64),
                                    mode="constant")
                assert np.allclose(got, ref, rtol=tol, atol=tol * k2.size), (w, ks)
                wt = rng.standard_normal((3, 1) + ks).astype(dtype)
                for s in (1, 2):
                    pad = (ks[0] // 2, ks[1] // 2)
                    shape = nn.conv2d(xp, wt, stride=s, padding=pad, groups=3).shape
                    nn.conv2d(xp, wt, stride=s, padding=pad, groups=3,
                              out=guarded(shape, dtype, not at_end))
                checked += 1
        # depthwise layers (float32: the channel-vector kernel, sixteen channels of an
        # image in the lanes; the last block of 17 channels holds one): images, weights,
        # biases and results against the guards, kernels of 9 to 49 taps, strides 1 and 2
        for C, hw, ks, s, mode in ((17, (7, 7), (3, 3), 1, "zeros"),
                                   (17, (5, 9), (7, 7), 1, "zeros"),
                                   (3, (1, 1), (5, 5), 1, "zeros"),
                                   (17, (14, 13), (5, 3), 2, "zeros"),
                                   (33, (3, 20), (3, 7), 1, "zeros"),
                                   (17, (7, 7), (5, 5), 1, "reflect"),
                                   (17, (9, 20), (3, 7), 2, "circular"),
                                   (5, (4, 3), (3, 3), 1, "replicate")):
            xg = guarded((2, C) + hw, dtype, at_end)
            xg[...] = rng.uniform(-1, 1, xg.shape)
            wg = guarded((C, 1) + ks, dtype, at_end)
            wg[...] = rng.standard_normal(wg.shape)
            bg = guarded((C,), dtype, not at_end)
            bg[...] = rng.standard_normal(C)
            pad = (ks[0] // 2, ks[1] // 2)
            wd = np.zeros((C, C) + ks, dtype)
            wd[np.arange(C), np.arange(C)] = wg[:, 0]
            xr = xg if mode == "zeros" else np.pad(
                xg, ((0, 0), (0, 0), (pad[0],) * 2, (pad[1],) * 2),
                mode={"reflect": "reflect", "circular": "wrap", "replicate": "edge"}[mode])
            ref = layer_ref(xr, wd, pad if mode == "zeros" else (0, 0))[:, :, ::s, ::s]
            ref += bg[:, None, None]
            res = guarded(ref.shape, dtype, not at_end)
            got = nn.conv2d(xg, wg, bg, stride=s, padding=pad, groups=C, padding_mode=mode,
                            out=res)
            assert np.allclose(got, ref, rtol=tol, atol=tol * wg.size), (C, hw, ks, s, mode)
            checked += 1
        # a 3-channel channel-last image (channels interleaved in each row)
        xc = guarded((11, 37, 3), dtype, at_end)
        xc[...] = rng.uniform(-1, 1, xc.shape)
        filters.gaussian(xc, 1.5, channel_axis=-1)
        filters.sobel(xc, channel_axis=-1)
        # edge magnitudes whose row interiors the AVX-512 module sweeps in registers: every
        # row length around two to four vectors, one plane and three interleaved channels
        for w in range(15, 70):
            for shape in ((3, w), (3, w // 3 + 1, 3)):
                xe = guarded(shape, dtype, at_end)
                xe[...] = rng.uniform(-1, 1, shape)
                filters.sobel(xe, channel_axis=None if len(shape) == 2 else -1)
                checked += 1
    print("checked", checked)
""")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernels_stay_inside_their_arrays(dtype):
    proc = subprocess.run([sys.executable, "-c", CHILD, dtype], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, (proc.returncode, proc.stdout[-2000:], proc.stderr[-4000:])
    assert int(proc.stdout.split()[-1]) > 500
