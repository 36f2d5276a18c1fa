"""The examples and the ``pyconv`` command run, as a user would run them, in a subprocess."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def _run(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable] + args, capture_output=True, text=True, env=env,
                          timeout=300, **kw)


#: examples built on an optional extra (the others fall back or skip parts by themselves)
NEEDS = {"dask_volume.py": "dask.array"}


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    if script.name in NEEDS:
        pytest.importorskip(NEEDS[script.name])
    res = _run([str(script)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip()


def test_examples_exist():
    assert EXAMPLES


def test_cli_info():
    res = _run(["-m", "pyconv", "info"])
    assert res.returncode == 0, res.stderr
    assert "OpenMP" in res.stdout and "SIMD path" in res.stdout


def test_cli_demo_writes_images(tmp_path):
    res = _run(["-m", "pyconv", "demo", "--repeat", "1", "-o", str(tmp_path / "out")])
    assert res.returncode == 0, res.stderr
    assert "sharpen 3x3" in res.stdout
    # the printed max |diff| column against scipy.ndimage stays at float32 rounding
    diffs = [float(line.split()[-1]) for line in res.stdout.splitlines()
             if line.split() and line.split()[-1][:1].isdigit() and "e" in line.split()[-1]]
    assert diffs and max(diffs) < 1e-4
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["camera.png", "astronaut.png"] + ["%s_%s.png" % (i, f) for i in ("camera", "astronaut")
                                           for f in ("sobel", "gaussian", "sharpen")])


def test_cli_without_command_prints_help():
    res = _run(["-m", "pyconv"])
    assert res.returncode == 2
    assert "demo" in res.stdout


def test_checkerboard_example(tmp_path):
    out = tmp_path / "out"
    res = _run([str(ROOT / "examples" / "checkerboard.py"), "-o", str(out)])
    assert res.returncode == 0, res.stderr
    png = out / "checkerboard.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = {}
    for line in res.stdout.splitlines():
        words = line.split()
        if len(words) > 3 and words[-1] in ("flat", "checkerboard"):
            rows[" ".join(words[:-3])] = (float(words[-3]), float(words[-2]), words[-1])
    # k=3, s=2 covers interior pixels 1, 2 or 4 times; k=4, s=2 and resize-convolve evenly
    assert rows["overlap k=3 s=2"] == (1.0, 4.0, "checkerboard")
    assert rows["overlap k=4 s=2"] == (4.0, 4.0, "flat")
    lo, hi, kind = rows["transposed conv k=3 s=2"]
    assert kind == "checkerboard" and hi / lo == pytest.approx(4.0, rel=1e-3)
    assert rows["transposed conv k=4 s=2"] == (1.0, 1.0, "flat")
    assert rows["resize x2 + conv k=3 s=1"] == (1.0, 1.0, "flat")
    # an existing picture is kept unless --overwrite
    before = png.stat().st_mtime_ns
    res = _run([str(ROOT / "examples" / "checkerboard.py"), "-o", str(out)])
    assert res.returncode != 0 and "--overwrite" in res.stderr
    assert png.stat().st_mtime_ns == before
    res = _run([str(ROOT / "examples" / "checkerboard.py"), "-o", str(out), "--overwrite"])
    assert res.returncode == 0, res.stderr


def test_shufflenet_unit_example():
    res = _run([str(ROOT / "examples" / "shufflenet_unit.py"), "--channels", "48", "--groups",
                "3", "--size", "9", "--batch", "2"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "OK" in res.stdout.splitlines()[-1]
    assert "(2, 48, 9, 9) float32" in res.stdout


def test_dask_volume_example(tmp_path):
    pytest.importorskip("dask.array")
    import numpy as np
    from pyconv import filters

    out = tmp_path / "out"
    args = [str(ROOT / "examples" / "dask_volume.py"), "--size", "40", "--slab", "6",
            "--workers", "2", "--out", str(out)]
    res = _run(args + ["--filter", "sobel", "--mode", "wrap", "--check"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "identical to the in-memory pyconv result: True" in res.stdout
    assert "100% Completed" in res.stdout and "peak RSS" in res.stdout
    vol = np.load(out / "input.npy")
    assert vol.shape == (40, 40, 40) and vol.dtype == np.float32
    got = np.load(out / "sobel.npy")
    assert got.tobytes() == filters.sobel(vol, mode="wrap").tobytes()
    # existing outputs are kept unless --overwrite
    before = (out / "sobel.npy").stat().st_mtime_ns
    res = _run(args + ["--filter", "sobel"])
    assert res.returncode != 0 and "--overwrite" in res.stderr
    assert (out / "sobel.npy").stat().st_mtime_ns == before
    res = _run(args + ["--filter", "gaussian", "--sigma", "1.5", "--overwrite", "--check"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "identical to the in-memory pyconv result: True" in res.stdout


def test_edges_photo_example(tmp_path):
    from skimage import data, io
    photo = tmp_path / "photo.png"
    io.imsave(photo, data.coffee())
    args = [str(ROOT / "examples" / "edges_photo.py"), str(photo), "-o", str(tmp_path / "e")]
    res = _run(args)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip().endswith("OK")
    assert (tmp_path / "e" / "sobel.png").read_bytes()[:4] == b"\x89PNG"
    assert _run(args).returncode == 2                      # kept without --overwrite
    assert _run(args + ["--overwrite"]).returncode == 0
    res = _run([str(ROOT / "examples" / "edges_photo.py"), str(tmp_path / "missing.png")])
    assert res.returncode == 2 and "cannot read" in res.stderr
