"""pyconv: convolutions on the CPU, multi-threaded, with the numbers of scipy, scikit-image
and PyTorch.

Submodules: :mod:`pyconv.filters` (scipy.ndimage / scikit-image conventions) and
:mod:`pyconv.signal` (scipy.signal conventions).
"""
__version__ = "0.1.0"

from ._threads import get_num_threads, set_num_threads, num_threads
from ._config import show_config
from . import filters, signal
from ._separable import flattened_conv2d

__all__ = ["filters", "signal", "flattened_conv2d", "get_num_threads", "set_num_threads", "num_threads",
           "show_config", "__version__"]
