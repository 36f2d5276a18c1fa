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


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, tmp_path):
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
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "camera.png", "gaussian_like.png", "random.png", "sharpen.png"]


def test_cli_without_command_prints_help():
    res = _run(["-m", "pyconv"])
    assert res.returncode == 2
    assert "demo" in res.stdout
