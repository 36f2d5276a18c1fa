"""Thread control and determinism."""
import concurrent.futures
import contextlib
import io
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal as ss

import pyconv
import pyconv._runtime
from pyconv import filters
from pyconv import signal as psig
from _helpers import assert_close, input_scale, signal_scale

OPENMP = bool(pyconv._runtime.openmp_enabled())
needs_openmp = pytest.mark.skipif(not OPENMP, reason="pyconv built without OpenMP")


@pytest.fixture(autouse=True)
def _restore_threads():
    saved = pyconv.get_num_threads()
    yield
    try:
        pyconv.set_num_threads(None)  # back to the unpinned default, where supported
    except (TypeError, ValueError):
        pyconv.set_num_threads(saved)


def _fresh_python(code, **env):
    """Run `code` in a fresh interpreter (pristine thread state); return stdout lines."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env), cwd=root,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_openmp_enabled():
    if pyconv._runtime.openmp_enabled():
        return
    if os.environ.get("PYCONV_SKIP_OPENMP_TEST"):
        pytest.skip("pyconv built without OpenMP; PYCONV_SKIP_OPENMP_TEST is set")
    pytest.fail("pyconv was built without OpenMP (set PYCONV_SKIP_OPENMP_TEST=1 to allow a serial build)")


def test_show_config_mentions_openmp():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        ret = pyconv.show_config()
    text = buf.getvalue() + (ret if isinstance(ret, str) else repr(ret) if ret is not None else "")
    assert "openmp" in text.lower()


def test_get_set_num_threads():
    n = pyconv.get_num_threads()
    assert isinstance(n, int) and n >= 1
    pyconv.set_num_threads(2)
    assert pyconv.get_num_threads() == 2
    pyconv.set_num_threads(1)
    assert pyconv.get_num_threads() == 1
    pyconv.set_num_threads(3)
    assert pyconv.get_num_threads() == 3


@pytest.mark.parametrize("bad", [0, 1.5, "2", -10**6])
def test_set_num_threads_rejects_bad(bad):
    before = pyconv.get_num_threads()
    with pytest.raises((ValueError, TypeError)):
        pyconv.set_num_threads(bad)
    assert pyconv.get_num_threads() == before


def test_context_manager_restores():
    pyconv.set_num_threads(3)
    with pyconv.num_threads(1):
        assert pyconv.get_num_threads() == 1
        with pyconv.num_threads(2):
            assert pyconv.get_num_threads() == 2
        assert pyconv.get_num_threads() == 1
    assert pyconv.get_num_threads() == 3
    with pytest.raises(RuntimeError):
        with pyconv.num_threads(2):
            assert pyconv.get_num_threads() == 2
            raise RuntimeError("boom")
    assert pyconv.get_num_threads() == 3


@pytest.mark.parametrize("bad", [0, 1.5])
def test_context_manager_rejects_bad(bad):
    with pytest.raises((ValueError, TypeError)):
        with pyconv.num_threads(bad):
            pass


def test_per_call_num_threads_does_not_change_default(rng):
    pyconv.set_num_threads(3)
    image = rng.uniform(-1, 1, (64, 64))
    filters.correlate(image, np.ones((3, 3)), num_threads=1)
    filters.correlate1d(image, np.ones(3), num_threads=2)
    assert pyconv.get_num_threads() == 3


@needs_openmp
def test_threadpoolctl_limits_pyconv():
    code = (
        "import pyconv, threadpoolctl\n"
        "print(any(i['user_api'] == 'openmp' for i in threadpoolctl.threadpool_info()))\n"
        "before = pyconv.get_num_threads()\n"
        "with threadpoolctl.threadpool_limits(limits=1, user_api='openmp'):\n"
        "    print(pyconv.get_num_threads())\n"
        "print(pyconv.get_num_threads() == before)\n"
    )
    seen, inside, restored = _fresh_python(code, OMP_NUM_THREADS="2")
    assert seen == "True", "threadpoolctl does not see an OpenMP runtime"
    assert inside == "1"
    assert restored == "True"


@needs_openmp
def test_threadpoolctl_limits_pyconv_in_process():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    try:
        pyconv.set_num_threads(None)
    except (TypeError, ValueError):
        pytest.skip("no public way to return to the unpinned default here")  # pragma: no cover
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert pyconv.get_num_threads() == 1


@needs_openmp
def test_omp_num_threads_honoured():
    assert _fresh_python("import pyconv; print(pyconv.get_num_threads())", OMP_NUM_THREADS="3")[-1] == "3"


# -------------------------------------------------------------- determinism

def _big(rng, dtype, shape=(512, 512)):
    return rng.uniform(-1, 1, shape).astype(dtype)


CASES = {
    "correlate-5x5": lambda x, k, n: filters.correlate(x, k, num_threads=n),
    "convolve-5x5-constant": lambda x, k, n: filters.convolve(x, k, mode="constant", cval=0.3, num_threads=n),
    "correlate-rank1": lambda x, k, n: filters.correlate(x, np.outer(k[0], k[:, 1]), mode="wrap", num_threads=n),
    "correlate1d-axis0": lambda x, k, n: filters.correlate1d(x, k[0], axis=0, num_threads=n),
    "convolve1d-axis1": lambda x, k, n: filters.convolve1d(x, k[:, 2], axis=1, mode="mirror", num_threads=n),
    "correlate-channels": lambda x, k, n: filters.correlate(
        x.reshape(256, 256, 4), k, channel_axis=-1, num_threads=n),
}
REFS = {
    "correlate-5x5": lambda x, k: ndi.correlate(x, k),
    "convolve-5x5-constant": lambda x, k: ndi.convolve(x, k, mode="constant", cval=0.3),
    "correlate-rank1": lambda x, k: ndi.correlate(x, np.outer(k[0], k[:, 1]), mode="wrap"),
    "correlate1d-axis0": lambda x, k: ndi.correlate1d(x, k[0], axis=0),
    "convolve1d-axis1": lambda x, k: ndi.convolve1d(x, k[:, 2], axis=1, mode="mirror"),
    "correlate-channels": lambda x, k: np.stack(
        [ndi.correlate(x.reshape(256, 256, 4)[..., c], k) for c in range(4)], axis=-1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bitwise_identical_across_thread_counts(case, dtype, rng):
    x = _big(rng, dtype)
    k = rng.standard_normal((5, 5)).astype(dtype)
    r1 = CASES[case](x, k, 1)
    assert_close(r1, REFS[case](x.astype(np.float64), k.astype(np.float64)), dtype, 25,
                 scale=input_scale(x, k, 0.3))
    for n in (2, 3, 4):
        rn = CASES[case](x, k, n)
        assert np.array_equal(r1, rn), f"num_threads={n} differs from num_threads=1"


def test_bitwise_identical_3d(dtype, rng):
    x = _big(rng, dtype, (48, 50, 52))
    k = rng.standard_normal((3, 4, 3)).astype(dtype)
    r1 = filters.convolve(x, k, mode="nearest", num_threads=1)
    assert_close(r1, ndi.convolve(x.astype(np.float64), k.astype(np.float64), mode="nearest"), dtype, 36,
                 scale=input_scale(x, k))
    for n in (2, 3):
        assert np.array_equal(r1, filters.convolve(x, k, mode="nearest", num_threads=n))


def test_bitwise_identical_default_and_context(rng):
    x = _big(rng, np.float64)
    k = rng.standard_normal((5, 5))
    r1 = filters.correlate(x, k, num_threads=1)
    pyconv.set_num_threads(2)
    assert np.array_equal(filters.correlate(x, k), r1)
    with pyconv.num_threads(3):
        assert np.array_equal(filters.correlate(x, k), r1)


@pytest.mark.parametrize("which", ["convolve2d", "correlate2d", "convolve", "correlate"])
def test_signal_bitwise_identical_across_thread_counts(which, dtype, rng):
    x = _big(rng, dtype, (300, 310))
    k = rng.standard_normal((5, 4)).astype(dtype)
    ours = getattr(psig, which)
    if which.endswith("2d"):
        theirs = lambda a, b: getattr(ss, which)(a, b, mode="same", boundary="symm")  # noqa: E731
        call = lambda a, b: ours(a, b, mode="same", boundary="symm")  # noqa: E731
    else:
        theirs = lambda a, b: getattr(ss, which)(a, b, mode="full", method="direct")  # noqa: E731
        call = lambda a, b: ours(a, b, mode="full")  # noqa: E731
    with pyconv.num_threads(1):
        r1 = call(x, k)
    assert_close(r1, theirs(x.astype(np.float64), k.astype(np.float64)), dtype, 20,
                 scale=signal_scale(x, k))
    for n in (2, 3):
        with pyconv.num_threads(n):
            assert np.array_equal(call(x, k), r1), f"{n} threads"


def test_concurrent_python_threads(rng):
    """Calls from several Python threads at once give the right results."""
    images = [rng.uniform(-1, 1, (200, 210)) for _ in range(8)]
    k = rng.standard_normal((5, 5))
    refs = [ndi.correlate(im, k, mode="reflect") for im in images]

    def work(i):
        return filters.correlate(images[i], k, num_threads=2)

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        results = list(ex.map(work, range(len(images))))
    for got, ref in zip(results, refs):
        assert_close(got, ref, np.float64, 25)
