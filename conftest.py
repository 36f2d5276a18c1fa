"""Collection rules for the whole repository (tests/ and the doctests in pyconv/)."""
import importlib.util

# pyconv.dask needs dask (the optional extra "dask"); without it, skip its doctests instead of
# failing to import the module during collection
collect_ignore = [] if importlib.util.find_spec("dask") else ["pyconv/dask.py"]
