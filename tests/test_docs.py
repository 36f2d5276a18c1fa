"""Every public function has a numpydoc docstring with a runnable example (the doctests run
in this suite through --doctest-modules)."""
import importlib
import inspect

import pytest

MODULES = ["pyconv", "pyconv.filters", "pyconv.signal", "pyconv.shapes", "pyconv.reference",
           "pyconv.dask"]


@pytest.mark.parametrize("modname", MODULES)
def test_public_functions_have_examples(modname):
    if modname == "pyconv.dask":
        pytest.importorskip("dask.array")
    mod = importlib.import_module(modname)
    missing = []
    for name in mod.__all__:
        obj = getattr(mod, name)
        if inspect.ismodule(obj) or name.startswith("__"):
            continue
        doc = inspect.getdoc(obj) or ""
        if ">>>" not in doc or not doc.splitlines()[0].strip():
            missing.append(name)
    assert not missing, "%s: no summary line or example in %s" % (modname, missing)
