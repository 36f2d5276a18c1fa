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
from .nn import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
                 depthwise_conv2d, separable_conv2d, channel_shuffle)

__all__ = ["filters", "signal", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
           "conv_transpose2d", "conv_transpose3d", "depthwise_conv2d", "separable_conv2d",
           "channel_shuffle", "flattened_conv2d", "get_num_threads", "set_num_threads",
           "num_threads", "show_config", "__version__"]
