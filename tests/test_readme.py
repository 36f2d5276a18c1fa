"""The README's Python examples run as written (keeps the README true)."""
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python examples"
    try:
        import dask.array  # noqa: F401
        have_dask = True
    except ImportError:
        have_dask = False
    ns = {}
    ran = 0
    for block in blocks:
        if "dask" in block and not have_dask:
            continue        # the dask example needs the pyconv[dask] extra
        exec(compile(block, str(README), "exec"), ns)  # noqa: S102 - our own README
        ran += 1
    assert ran >= len(blocks) - (0 if have_dask else 1)
    np.testing.assert_array_equal(ns["serial"], ns["out"])
    assert ns["y"].shape == (8, 128, 28, 28)
    assert ns["up"].shape == (8, 32, 56, 56)
