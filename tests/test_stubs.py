"""The type stubs of the compiled modules name exactly what the modules define."""
import ast
import importlib
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "pyconv"


@pytest.mark.parametrize("name", ["_runtime", "_kernels_base", "_kernels_avx2", "_kernels_avx512"])
def test_stub_matches_module(name):
    try:
        mod = importlib.import_module("pyconv." + name)
    except ImportError:
        pytest.skip("pyconv.%s is not built on this platform" % name)
    tree = ast.parse((PKG / (name + ".pyi")).read_text())
    # a stub that re-exports another module's stub (``from pyconv.X import *``) stands for it
    star = [n.module for n in tree.body if isinstance(n, ast.ImportFrom)
            and n.module and n.module.startswith("pyconv.") and n.names[0].name == "*"]
    if star:
        tree = ast.parse((PKG / (star[0].split(".", 1)[1] + ".pyi")).read_text())
    stubbed = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    stubbed |= {t.id for n in tree.body if isinstance(n, ast.AnnAssign)
                for t in [n.target] if isinstance(t, ast.Name) and not t.id.startswith("_")}
    public = {n for n in dir(mod) if not n.startswith("_")}
    assert stubbed == public
    for fn in stubbed - {"MODES"}:
        params = [a.arg for a in next(n for n in tree.body if getattr(n, "name", None) == fn)
                  .args.args]
        # Cython embeds the signature as the docstring's first line
        sig = re.sub(r"\[[^\]]*\]", "", (getattr(mod, fn).__doc__ or "").split("\n")[0])
        names = [a.strip().split()[-1].split("=")[0] for a in
                 sig[sig.index("(") + 1:sig.rindex(")")].split(",") if a.strip()]
        assert names == params, (fn, names, params)
