"""Concurrency (issue 8): every operation called from 8 Python threads at once gives results
bitwise equal to serial calls; changing the process default thread count from another thread
while calls run is safe; pyconv, PyTorch, OpenCV and NumPy's BLAS live in one process."""
import concurrent.futures
import json
import random
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import pyconv
from pyconv import filters as PF
from pyconv import shapes as SH
from pyconv import signal as PS

WORKERS = 8
_rng = np.random.default_rng(8)
IMG = _rng.uniform(-1, 1, (96, 80)).astype(np.float32)       # large enough to run threaded
IMG64 = IMG.astype(np.float64)
RGB = _rng.uniform(-1, 1, (64, 48, 3))
VOL = _rng.uniform(-1, 1, (16, 18, 20)).astype(np.float32)
X2 = _rng.uniform(-1, 1, (2, 8, 24, 20)).astype(np.float32)
W2 = _rng.standard_normal((12, 4, 3, 3)).astype(np.float32)
X1 = _rng.uniform(-1, 1, (2, 6, 300))
X3 = _rng.uniform(-1, 1, (1, 4, 10, 12, 9)).astype(np.float32)
K55 = _rng.standard_normal((5, 5))
K3 = np.outer([1.0, 2.0, 1.0], [1.0, 0.5, -1.0, 2.0, 1.0])[:, :3]

#: name -> zero-argument callable; every public operation
CALLS = {
    "filters.correlate": lambda: PF.correlate(IMG, K55, mode="mirror"),
    "filters.correlate-rank1": lambda: PF.correlate(IMG64, np.outer(np.arange(1.0, 6), np.ones(5))),
    "filters.correlate-channels": lambda: PF.correlate(RGB, K3, channel_axis=-1),
    "filters.convolve": lambda: PF.convolve(VOL, np.ones((3, 2, 3), np.float32), mode="wrap"),
    "filters.correlate1d": lambda: PF.correlate1d(IMG64, [1.0, -2.0, 0.5, 3.0], axis=0),
    "filters.convolve1d": lambda: PF.convolve1d(IMG, [1.0, 2.0, 3.0], axis=-1, mode="constant",
                                                cval=1.5),
    "filters.sepfilter": lambda: PF.sepfilter(VOL, [[1, 2, 1], None, [0.5, 0.5]]),
    "filters.separate": lambda: np.concatenate(PF.separate(np.outer([1.0, 2, 3], [4.0, 5]))),
    "sobel": lambda: PF.sobel(IMG64),
    "scharr": lambda: PF.scharr(RGB, channel_axis=-1),
    "prewitt": lambda: PF.prewitt(VOL, axis=1, mode="nearest"),
    "sobel_h": lambda: PF.sobel_h(IMG),
    "sobel_v": lambda: PF.sobel_v(IMG64),
    "scharr_h": lambda: PF.scharr_h(IMG64),
    "scharr_v": lambda: PF.scharr_v(IMG),
    "prewitt_h": lambda: PF.prewitt_h(IMG),
    "prewitt_v": lambda: PF.prewitt_v(IMG64),
    "filters.gaussian": lambda: PF.gaussian(IMG, sigma=2.0),
    "filters.uniform": lambda: PF.uniform(RGB, size=5, channel_axis=2),
    "signal.convolve2d": lambda: PS.convolve2d(IMG64, K55, mode="same", boundary="wrap"),
    "signal.correlate2d": lambda: PS.correlate2d(IMG, K3.astype(np.float32), mode="full"),
    "signal.convolve": lambda: PS.convolve(VOL, np.ones((3, 3, 3), np.float32)),
    "signal.correlate": lambda: PS.correlate(IMG64[0], IMG64[1], mode="same"),
    "conv1d": lambda: pyconv.conv1d(X1, _rng_w((6, 3, 5)), stride=2, groups=2, padding="valid"),
    "conv2d": lambda: pyconv.conv2d(X2, W2, bias=np.arange(12, dtype=np.float32), padding=1,
                                    groups=2),
    "conv3d": lambda: pyconv.conv3d(X3, W3, padding=(1, 0, 1), padding_mode="replicate"),
    "conv_transpose1d": lambda: pyconv.conv_transpose1d(X1, WT1, stride=3, padding=1),
    "conv_transpose2d": lambda: pyconv.conv_transpose2d(X2, WT2, stride=2, output_padding=1),
    "conv_transpose3d": lambda: pyconv.conv_transpose3d(X3, WT3, stride=(1, 2, 2)),
    "depthwise_conv2d": lambda: pyconv.depthwise_conv2d(X2, WD, padding="same", dilation=2),
    "separable_conv2d": lambda: pyconv.separable_conv2d(X2, WD, WP, stride=2, padding=1),
    "channel_shuffle": lambda: pyconv.channel_shuffle(X2, 4),
    "flattened_conv2d": lambda: pyconv.flattened_conv2d(X2, WP[:, :8, 0, 0], WV, WH, padding=1),
    "shapes": lambda: np.asarray([SH.conv_output_shape(224, 7, 2, 3), SH.flops(3, 64, 7, 112),
                                  SH.param_count(3, 64, 7, ndim=2),
                                  SH.receptive_field([(7, 2), (3, 2), (3, 1)]),
                                  SH.conv_transpose_output_shape(16, 4, 2, 1),
                                  SH.conv_matrix((6, 5), np.ones((3, 3))).nnz,
                                  int(SH.overlap_map((5, 4), 3, 2).sum())], dtype=np.int64),
}


def _rng_w(shape, seed=3):
    return np.random.default_rng(seed).standard_normal(shape)


W3 = _rng_w((5, 4, 3, 2, 3)).astype(np.float32)
WT1 = _rng_w((6, 2, 4))
WT2 = _rng_w((8, 3, 3, 3)).astype(np.float32)
WT3 = _rng_w((4, 2, 2, 3, 3)).astype(np.float32)
WD = _rng_w((16, 1, 3, 3)).astype(np.float32)
WP = _rng_w((10, 16, 1, 1)).astype(np.float32)
WV = _rng_w((10, 3)).astype(np.float32)
WH = _rng_w((10, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def serial():
    """Every call once, serially, twice (the second proves the call is deterministic)."""
    first = {name: fn() for name, fn in CALLS.items()}
    for name, fn in CALLS.items():
        np.testing.assert_array_equal(fn(), first[name], err_msg=name)
    return first


def _check(results, serial):
    for name, got in results:
        assert got.dtype == serial[name].dtype, name
        np.testing.assert_array_equal(got, serial[name], err_msg="%s from a thread" % name)


def test_every_operation_from_8_threads(serial):
    """All operations, each 3 times, shuffled, on 8 Python threads at once."""
    jobs = [name for name in CALLS for _ in range(3)]
    random.Random(1).shuffle(jobs)
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
        futs = [(name, ex.submit(CALLS[name])) for name in jobs]
        results = [(name, f.result(timeout=120)) for name, f in futs]
    _check(results, serial)


@pytest.mark.parametrize("name", ["filters.correlate", "conv2d", "conv_transpose2d",
                                  "filters.gaussian", "signal.convolve2d", "sobel"])
def test_one_operation_hammered(serial, name):
    """The same operation (same cached plans and tables) from 8 threads, 24 times."""
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
        results = list(ex.map(lambda _: CALLS[name](), range(24)))
    _check([(name, r) for r in results], serial)


def test_set_num_threads_while_calls_run(serial):
    """Another thread flips the process default (1, 2, 3, 4, -1, None) as fast as it can while
    8 workers compute: every result is still bitwise the serial one (determinism for every
    thread count), nothing crashes, and the default is restored."""
    saved = pyconv.get_num_threads()
    stop = threading.Event()
    flips = [0]

    def flipper():
        values = [1, 2, 3, 4, -1, None]
        i = 0
        while not stop.is_set():
            pyconv.set_num_threads(values[i % len(values)])
            i += 1
        flips[0] = i

    t = threading.Thread(target=flipper)
    t.start()
    try:
        jobs = [name for name in CALLS for _ in range(2)]
        random.Random(2).shuffle(jobs)
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
            futs = [(name, ex.submit(CALLS[name])) for name in jobs]
            results = [(name, f.result(timeout=120)) for name, f in futs]
    finally:
        stop.set()
        t.join()
        pyconv.set_num_threads(None)
    _check(results, serial)
    assert flips[0] > 10
    assert pyconv.get_num_threads() == saved


def test_num_threads_context_is_per_thread(serial):
    """``with pyconv.num_threads(k)`` in one thread does not leak into the others."""
    barrier = threading.Barrier(WORKERS)

    def work(k):
        with pyconv.num_threads(k):
            barrier.wait(timeout=60)
            seen = pyconv.get_num_threads()
            out = [(name, CALLS[name]()) for name in ("conv2d", "filters.correlate",
                                                      "filters.sepfilter")]
            seen2 = pyconv.get_num_threads()
        return k, seen, seen2, out

    with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
        res = list(ex.map(work, [1 + i % 4 for i in range(WORKERS)]))
    for k, seen, seen2, out in res:
        assert seen == k and seen2 == k, (k, seen, seen2)
        _check(out, serial)


MIXED = textwrap.dedent(r"""
    import concurrent.futures, json, sys
    import numpy as np
    mods = {}
    try:
        import torch
        mods["torch"] = torch.__version__
    except ImportError:
        torch = None
    try:
        import cv2
        mods["cv2"] = cv2.__version__
    except ImportError:
        cv2 = None
    import pyconv, threadpoolctl
    from pyconv import filters
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 256))
    img = rng.standard_normal((128, 128)).astype(np.float32)
    x = rng.standard_normal((2, 8, 32, 32)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    ref = pyconv.conv2d(x, w, padding=1)
    ref_f = filters.correlate(img, np.ones((5, 5), np.float32) / 25)

    def mixed(i):
        checks = []
        b = a @ a.T                                 # numpy's BLAS (its own thread pool)
        checks.append(bool(np.isfinite(b).all()))
        checks.append(np.array_equal(pyconv.conv2d(x, w, padding=1), ref))
        if torch is not None:
            t = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)
            checks.append(bool(np.allclose(t.numpy(), ref, rtol=1e-4, atol=1e-4)))
        if cv2 is not None:
            c = cv2.filter2D(img, -1, np.ones((5, 5), np.float32) / 25,
                             borderType=cv2.BORDER_REFLECT)
            checks.append(bool(np.allclose(c, ref_f, rtol=1e-5, atol=1e-5)))
        checks.append(np.array_equal(filters.correlate(img, np.ones((5, 5), np.float32) / 25),
                                     ref_f))
        return all(checks)

    ok = all(mixed(i) for i in range(3))                      # serially
    with concurrent.futures.ThreadPoolExecutor(8) as ex:       # and from 8 threads at once
        ok = ok and all(ex.map(mixed, range(16)))
    info = [{k: d.get(k) for k in ("user_api", "internal_api", "prefix", "num_threads",
                                   "version", "filepath")}
            for d in threadpoolctl.threadpool_info()]
    with threadpoolctl.threadpool_limits(limits=1):
        limited = pyconv.get_num_threads()
        ok = ok and np.array_equal(pyconv.conv2d(x, w, padding=1), ref)
    import os
    cpus = len(os.sched_getaffinity(0))
    print(json.dumps(dict(ok=bool(ok), modules=mods, threadpools=info, cpus=cpus,
                          pyconv_threads=pyconv.get_num_threads(),
                          pyconv_threads_limited=limited)))
""")


def test_with_torch_cv2_and_blas_in_one_process():
    """pyconv's OpenMP runtime next to PyTorch's, OpenCV's and NumPy's BLAS thread pools:
    a few calls of each, serially and from 8 threads, exit 0 with the right numbers.  The
    thread pools threadpoolctl sees are printed (pytest -s shows them)."""
    r = subprocess.run([sys.executable, "-c", MIXED], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, "exit %d\n%s" % (r.returncode, r.stderr[-3000:])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    for pool in res["threadpools"]:
        print("threadpool: %(user_api)s %(internal_api)s %(prefix)s num_threads=%(num_threads)s "
              "version=%(version)s %(filepath)s" % pool)
    print("modules:", res["modules"], "pyconv threads:", res["pyconv_threads"],
          "under threadpool_limits(1):", res["pyconv_threads_limited"])
    assert res["ok"]
    assert res["pyconv_threads_limited"] == 1
    assert any(p["user_api"] == "openmp" for p in res["threadpools"])
    # no oversubscription by default: no pool, and not pyconv, starts more threads than CPUs
    assert all(p["num_threads"] <= res["cpus"] for p in res["threadpools"]), res["threadpools"]
    assert res["pyconv_threads"] <= res["cpus"]
    # one OpenMP runtime for pyconv and PyTorch (the same libgomp): their settings agree
    omp = [p for p in res["threadpools"] if p["user_api"] == "openmp"]
    if "torch" in res["modules"]:
        assert len(omp) == 1, omp
