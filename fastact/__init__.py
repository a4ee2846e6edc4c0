"""fastact: fast, exact CPU activation-function kernels for NumPy arrays.

Every op of :data:`fastact.catalogue.OPS` has a forward function
``fastact.<op>(x, ...)`` and a backward ``fastact.<op>_backward(grad_output,
saved, ...)``, each running on a selectable backend: 'numpy' (the reference in
:mod:`fastact.reference`), 'numba', 'cython', or 'auto' (the fastest available).

Importing fastact compiles nothing and does not import numba.
"""

from fastact._api import FUNCTIONS as _FUNCTIONS
from fastact._dispatch import (backends, get_backend, set_backend, unavailable_backends,
                               use_backend, warmup)
from fastact._threads import get_num_threads, num_threads, set_num_threads
from fastact.catalogue import OPS

__version__ = "0.1.0"

globals().update(_FUNCTIONS)

from fastact.losses import softmax_cross_entropy, softmax_cross_entropy_backward  # noqa: E402

__all__ = sorted(_FUNCTIONS) + [
    "OPS", "backends", "get_backend", "set_backend", "unavailable_backends", "use_backend",
    "get_num_threads", "num_threads", "set_num_threads", "warmup",
    "softmax_cross_entropy", "softmax_cross_entropy_backward",
]
