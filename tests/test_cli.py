"""The ``pyconv`` command, run as a user runs it: ``python -m pyconv`` in a subprocess, on
temporary files.  The expected numbers come from pyconv.filters in this process, so these
tests check the command's reading, channel handling, dtype rules and writing (the filters
themselves are checked against scipy/scikit-image elsewhere)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pyconv import filters

skio = pytest.importorskip("skimage.io")
tifffile = pytest.importorskip("tifffile")
from skimage import data  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def pyconv_cmd(*args, cwd=None, pythonpath=str(ROOT)):
    env = dict(os.environ, PYTHONPATH=pythonpath + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("COLUMNS", None)
    return subprocess.run([sys.executable, "-m", "pyconv"] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def ok(res):
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    return res


def one_line_error(res):
    """Exit status 2, one line on stderr naming the problem, no traceback."""
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr and "error" in lines[0]
    return lines[0]


def to_uint8(x):
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def camera():
    return data.camera()[::2, ::2].copy()  # 256x256 uint8


@pytest.fixture(scope="module")
def files(tmp_path_factory, camera):
    """Input files, shared (read only) by the tests of this module."""
    d = tmp_path_factory.mktemp("in")
    skio.imsave(d / "cam.png", camera, check_contrast=False)
    tifffile.imwrite(d / "cam16.tif", camera.astype(np.uint16) * 257)
    tifffile.imwrite(d / "camf.tif", camera.astype(np.float32) / 255)
    skio.imsave(d / "astro.png", data.astronaut()[::4, ::4].copy(), check_contrast=False)
    np.save(d / "vol.npy", np.random.default_rng(1).random((12, 14, 16)).astype(np.float32))
    return d


# --------------------------------------------------------------------------------------------
# help


def test_help_lists_every_command():
    res = ok(pyconv_cmd("--help"))
    for cmd in ("info", "demo", "filter", "verify", "bench"):
        assert "\n    %s " % cmd in res.stdout
    for cmd in ("demo", "filter", "verify", "bench"):
        res = ok(pyconv_cmd(cmd, "--help"))
        assert res.stdout.startswith("usage: pyconv %s" % cmd)
    assert "rounded and clipped" in pyconv_cmd("filter", "--help").stdout


def test_unknown_command_is_one_line():
    line = one_line_error(pyconv_cmd("frobnicate"))
    assert "invalid choice" in line


# --------------------------------------------------------------------------------------------
# filter: formats and numbers


def test_filter_png_sobel(files, tmp_path, camera):
    out = tmp_path / "edges.png"
    res = ok(pyconv_cmd("filter", files / "cam.png", "-o", out, "--op", "sobel"))
    assert str(out) in res.stdout
    got = skio.imread(out)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, to_uint8(filters.sobel(camera.astype(np.float32))))


def test_filter_16bit_tiff_keeps_uint16(files, tmp_path, camera):
    ok(pyconv_cmd("filter", files / "cam16.tif", "-o", tmp_path / "o", "--op", "gaussian",
                  "--sigma", "2", "--mode", "reflect", "--threads", "2"))
    got = tifffile.imread(tmp_path / "o" / "cam16.tif")
    assert got.dtype == np.uint16
    want = filters.gaussian((camera.astype(np.uint16) * 257).astype(np.float32), 2.0,
                            mode="reflect")
    np.testing.assert_array_equal(got, np.clip(np.rint(want), 0, 65535).astype(np.uint16))


def test_filter_float_tiff_gives_float_tiff(files, tmp_path, camera):
    ok(pyconv_cmd("filter", files / "camf.tif", "-o", tmp_path / "o", "--op", "uniform",
                  "--size", "5,3"))
    got = tifffile.imread(tmp_path / "o" / "camf.tif")
    assert got.dtype == np.float32
    want = filters.uniform(camera.astype(np.float32) / 255, [5, 3])
    assert got.tobytes() == want.tobytes()
    # a float image written as 8-bit PNG: [0, 1] -> [0, 255]
    ok(pyconv_cmd("filter", files / "camf.tif", "-o", tmp_path / "p.png", "--op", "uniform",
                  "--size", "5,3"))
    np.testing.assert_array_equal(skio.imread(tmp_path / "p.png"), to_uint8(want * 255))


def test_filter_rgb_per_channel(files, tmp_path):
    rgb = skio.imread(files / "astro.png")
    out = tmp_path / "rgb.png"
    ok(pyconv_cmd("filter", files / "astro.png", "-o", out, "--op", "scharr"))
    got = skio.imread(out)
    assert got.shape == rgb.shape and got.dtype == np.uint8
    want = filters.scharr(rgb.astype(np.float32), channel_axis=-1)
    np.testing.assert_array_equal(got, to_uint8(want))
    # --channel-axis none: one 3-D filter over rows, columns and channels
    ok(pyconv_cmd("filter", files / "astro.png", "-o", tmp_path / "v.npy", "--op", "scharr",
                  "--channel-axis", "none"))
    np.testing.assert_array_equal(np.load(tmp_path / "v.npy"),
                                  filters.scharr(rgb.astype(np.float32)))


def test_filter_jpeg_gives_png(tmp_path):
    rgb = data.astronaut()[::4, ::4].copy()
    skio.imsave(tmp_path / "a.jpg", rgb, check_contrast=False)
    ok(pyconv_cmd("filter", tmp_path / "a.jpg", "-o", tmp_path / "o", "--op", "gaussian"))
    got = skio.imread(tmp_path / "o" / "a.png")
    want = filters.gaussian(skio.imread(tmp_path / "a.jpg").astype(np.float32), 1.0,
                            channel_axis=-1)
    np.testing.assert_array_equal(got, to_uint8(want))


def test_filter_npy_volume(files, tmp_path):
    vol = np.load(files / "vol.npy")
    ok(pyconv_cmd("filter", files / "vol.npy", "-o", tmp_path / "o", "--op", "prewitt",
                  "--mode", "wrap"))
    got = np.load(tmp_path / "o" / "vol.npy")
    assert got.dtype == np.float32
    assert got.tobytes() == filters.prewitt(vol, mode="wrap").tobytes()
    k = np.random.default_rng(2).standard_normal((3, 2, 3))
    np.save(tmp_path / "k.npy", k)
    ok(pyconv_cmd("filter", files / "vol.npy", "-o", tmp_path / "c.npy", "--op", "convolve",
                  "--kernel", tmp_path / "k.npy", "--mode", "constant", "--cval", "0.5"))
    want = filters.convolve(vol, k.astype(np.float32), mode="constant", cval=0.5)
    assert np.load(tmp_path / "c.npy").tobytes() == want.tobytes()


def test_filter_kernel_text(files, tmp_path, camera):
    out = tmp_path / "k.tif"
    ok(pyconv_cmd("filter", files / "cam.png", "-o", out, "--kernel", "1,2,1; 2,4,2; 1,2,1",
                  "--dtype", "float32"))
    k = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32)
    got = tifffile.imread(out)
    assert got.dtype == np.float32
    assert got.tobytes() == filters.correlate(camera.astype(np.float32), k).tobytes()


def test_filter_clips_instead_of_wrapping(files, tmp_path, camera):
    sharpen = "0,-1,0;-1,5,-1;0,-1,0"
    res = ok(pyconv_cmd("filter", files / "cam.png", "-o", tmp_path / "s.png", "--kernel",
                        sharpen))
    assert "warning" in res.stderr and "clipped" in res.stderr
    want = filters.correlate(camera.astype(np.float32),
                             np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32))
    assert want.min() < 0 and want.max() > 255
    got = skio.imread(tmp_path / "s.png")
    np.testing.assert_array_equal(got, to_uint8(want))
    assert (got[want > 255] == 255).all() and (got[want < 0] == 0).all()
    # --stretch: min..max onto 0..255
    ok(pyconv_cmd("filter", files / "cam.png", "-o", tmp_path / "t.png", "--kernel", sharpen,
                  "--stretch"))
    got = skio.imread(tmp_path / "t.png")
    assert got.min() == 0 and got.max() == 255
    lo, hi = float(want.min()), float(want.max())
    np.testing.assert_array_equal(
        got, to_uint8((want.astype(np.float64) - lo) * (255 / (hi - lo))))


def test_filter_folder_and_glob(files, tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(files, folder)
    (folder / "notes.txt").write_text("not an image")  # skipped in a folder
    res = ok(pyconv_cmd("filter", folder, "-o", tmp_path / "all", "--op", "gaussian",
                        "--sigma", "1.5"))
    assert "5 files" in res.stdout
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [
        "astro.png", "cam.png", "cam16.tif", "camf.tif", "vol.npy"]
    assert "[5/5]" in res.stderr or "5/5" in res.stderr  # progress counter or bar
    res = ok(pyconv_cmd("filter", str(files / "cam*"), "-o", tmp_path / "g", "--op", "sobel",
                        "-v"))
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == [
        "cam.png", "cam16.tif", "camf.tif"]
    assert res.stdout.count(" -> ") == 3
    # --format npy: float output for every input
    ok(pyconv_cmd("filter", str(files / "cam*.tif"), "-o", tmp_path / "n", "--op", "sobel",
                  "--format", "npy", "-q"))
    got = sorted((p.name, np.load(p).dtype) for p in (tmp_path / "n").iterdir())
    assert got == [("cam16.npy", np.float32), ("camf.npy", np.float32)]


def test_filter_overwrite(files, tmp_path):
    out = tmp_path / "o.png"
    ok(pyconv_cmd("filter", files / "cam.png", "-o", out, "--op", "sobel"))
    before = out.read_bytes()
    line = one_line_error(pyconv_cmd("filter", files / "cam.png", "-o", out, "--op",
                                     "gaussian"))
    assert "--overwrite" in line and str(out) in line
    assert out.read_bytes() == before
    ok(pyconv_cmd("filter", files / "cam.png", "-o", out, "--op", "gaussian", "--overwrite"))
    assert out.read_bytes() != before
    # a folder run refuses as a whole when one output exists, and writes nothing
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "cam16.tif").write_bytes(b"keep")
    one_line_error(pyconv_cmd("filter", files, "-o", tmp_path / "d", "--op", "sobel"))
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["cam16.tif"]
    assert (tmp_path / "d" / "cam16.tif").read_bytes() == b"keep"


@pytest.mark.parametrize("args, words", [
    (["{d}/missing.png", "-o", "{t}/o.png", "--op", "sobel"], "no such file"),
    (["{t}/bad.png", "-o", "{t}/o.png", "--op", "sobel"], "cannot read"),
    (["{t}/bad.npy", "-o", "{t}/o.npy", "--op", "sobel"], "cannot read"),
    (["{t}/notes.txt", "-o", "{t}/o.png", "--op", "sobel"], "unknown file type"),
    (["{d}/cam.png", "-o", "{t}/o.png", "--op", "blur"], "invalid choice"),
    (["{d}/cam.png", "-o", "{t}/o.png"], "--op"),
    (["{d}/cam.png", "--op", "sobel"], "-o"),
    (["{d}/cam.png", "-o", "{t}/o.png", "--kernel", "1,2,1;2,4"], "rows of different"),
    (["{d}/cam.png", "-o", "{t}/o.png", "--kernel", "{t}/nokernel.npy"], "--kernel"),
    (["{d}/vol.npy", "-o", "{t}/o.npy", "--kernel", "1,2,1;2,4,2"], "kernel has 2 dim"),
    (["{d}/cam.png", "-o", "{t}/o.png", "--op", "sobel", "--sigma", "2"], "--sigma"),
    (["{d}/cam.png", "-o", "{t}/o.png", "--op", "uniform", "--size", "0"], "--size"),
    (["{d}/cam.png", "-o", "{t}/o.png", "--op", "sobel", "--dtype", "float32"], "PNG"),
    (["{d}/cam.png", "-o", "{t}/o.png", "--op", "sobel", "--threads", "0"], "--threads"),
    (["{d}/cam.png", "{d}/cam16.tif", "-o", "{t}/o.png", "--op", "sobel"], "give a folder"),
    (["{t}/empty", "-o", "{t}/o", "--op", "sobel"], "no readable file"),
    (["{t}/empty/*.png", "-o", "{t}/o", "--op", "sobel"], "no readable file matches"),
    (["{d}/vol.npy", "-o", "{t}/o.npy", "--op", "sobel", "--channel-axis", "5"], "out of range"),
])
def test_filter_errors(files, tmp_path, args, words):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "bad.npy").write_text("not numpy")
    (tmp_path / "notes.txt").write_text("text")
    (tmp_path / "empty").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [a.format(d=files, t=tmp_path) for a in args]
    line = one_line_error(pyconv_cmd("filter", *args))
    assert words in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


# --------------------------------------------------------------------------------------------
# verify, bench, demo


def test_verify_quick_prints_the_table():
    res = ok(pyconv_cmd("verify", "--quick"))
    out = res.stdout
    assert "operation" in out and "max rel err" in out and "FAIL" not in out
    for op in ("filters.correlate", "filters.convolve1d", "filters.sepfilter", "filters.sobel",
               "filters.scharr", "filters.prewitt", "filters.gaussian", "filters.uniform",
               "signal.convolve2d", "signal.correlate", "conv1d", "conv3d", "depthwise_conv2d",
               "separable_conv2d", "channel_shuffle", "conv_transpose1d",
               "conv_transpose3d"):
        assert "\n%s " % op in out, op
    for ref in ("scipy.ndimage", "scikit-image", "scipy.signal", "pyconv.reference"):
        assert ref in out
    assert "float32" in out and "float64" in out
    assert "checks passed" in out.splitlines()[-1]


def test_verify_fails_with_exit_1(monkeypatch, capsys):
    from pyconv.__main__ import main

    real = filters.sobel
    monkeypatch.setattr(filters, "sobel", lambda *a, **k: real(*a, **k) * 1.001)
    assert main(["verify", "--quick", "--no-torch", "--failures-only"]) == 1
    out = capsys.readouterr().out
    assert "filters.sobel" in out and "FAIL" in out and "FAILED" in out.splitlines()[-1]
    assert "filters.gaussian" not in out  # --failures-only


def test_bench_quick_one_workload():
    res = ok(pyconv_cmd("bench", "--quick", "--only", "correlate2d_3x3_64_overhead",
                        "--threads", "1"))
    assert "| correlate2d_3x3_64_overhead |" in res.stdout
    assert "pyconv" in res.stdout
    line = one_line_error(pyconv_cmd("bench", "--only", "no_such_workload"))
    assert "no_such_workload" in line


def test_bench_without_source_tree(tmp_path):
    # an installed copy of the package, without the repository's benchmarks/ next to it
    site = tmp_path / "site"
    shutil.copytree(ROOT / "pyconv", site / "pyconv",
                    ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    res = pyconv_cmd("bench", "--quick", cwd=tmp_path, pythonpath=str(site))
    line = one_line_error(res)
    assert "source checkout" in line and str(site) in line


def test_demo_writes_before_and_after(tmp_path):
    res = ok(pyconv_cmd("demo", "--repeat", "1", cwd=tmp_path))
    folder = tmp_path / "pyconv-demo"
    assert str(folder) in res.stdout
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(["camera.png", "astronaut.png"] + [
        "%s_%s.png" % (i, f) for i in ("camera", "astronaut")
        for f in ("sobel", "gaussian", "sharpen")])
    assert skio.imread(folder / "astronaut_sobel.png").shape == (512, 512, 3)
    np.testing.assert_array_equal(skio.imread(folder / "camera.png"), data.camera())
    rows = [ln.split() for ln in res.stdout.splitlines()
            if ln.startswith(("camera ", "astronaut "))]
    assert len(rows) == 6
    assert all(float(r[-1]) < 1e-4 for r in rows)  # max |diff| against scipy/skimage
    # a second run picks a new folder; an explicit folder with the files is refused
    res = ok(pyconv_cmd("demo", "--repeat", "1", cwd=tmp_path))
    assert str(tmp_path / "pyconv-demo-2") in res.stdout
    before = (folder / "camera_sobel.png").stat().st_mtime_ns
    line = one_line_error(pyconv_cmd("demo", "-o", folder, cwd=tmp_path))
    assert "--overwrite" in line
    assert (folder / "camera_sobel.png").stat().st_mtime_ns == before
