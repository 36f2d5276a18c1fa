"""pyconv: convolutions on the CPU, multi-threaded, with the numbers of scipy, scikit-image
and PyTorch.

Top level: convolution layers with PyTorch's conventions (:mod:`pyconv.nn`).  Submodules:
:mod:`pyconv.filters` (scipy.ndimage / scikit-image conventions), :mod:`pyconv.signal`
(scipy.signal conventions), :mod:`pyconv.shapes` (output sizes, parameter and FLOP counts,
receptive fields, convolution matrices), :mod:`pyconv.reference` (the same operations from
scipy.signal, for checking) and :mod:`pyconv.dask` (filters on dask arrays, needs dask).
:func:`verify` checks every operation against its reference (also ``pyconv verify``).
"""
__version__ = "0.1.0"

from ._threads import get_num_threads, set_num_threads, num_threads
from ._config import show_config
from . import filters, signal, shapes
from ._separable import flattened_conv2d
from .nn import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
                 depthwise_conv2d, separable_conv2d, channel_shuffle)
from ._verify import verify

__all__ = ["filters", "signal", "shapes", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
           "conv_transpose2d", "conv_transpose3d", "depthwise_conv2d", "separable_conv2d",
           "channel_shuffle", "flattened_conv2d", "get_num_threads", "set_num_threads",
           "num_threads", "show_config", "verify", "__version__"]
