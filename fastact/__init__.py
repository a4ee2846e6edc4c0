"""fastact: fast, exact CPU activation-function kernels for NumPy arrays.

Every op of :data:`fastact.catalogue.OPS` has a forward function
``fastact.<op>(x, ...)`` and a backward ``fastact.<op>_backward(grad_output,
saved, ...)``, each running on a selectable backend: 'numpy' (the reference in
:mod:`fastact.reference`), 'numba', 'cython', or 'auto' (the fastest available).

Importing fastact compiles nothing and does not import numba.
"""

from fastact._api import (  # the public functions, one per op direction
    relu, relu_backward, leaky_relu, leaky_relu_backward, prelu, prelu_backward, elu,
    elu_backward, selu, selu_backward, celu, celu_backward, gelu, gelu_backward, sigmoid,
    sigmoid_backward, tanh, tanh_backward, silu, silu_backward, swish, swish_backward,
    softplus, softplus_backward, mish, mish_backward, hardsigmoid, hardsigmoid_backward,
    hardswish, hardswish_backward, softmax, softmax_backward, log_softmax,
    log_softmax_backward, logsumexp, logsumexp_backward, maxout, maxout_backward,
)
from fastact._dispatch import (backends, get_backend, set_backend, unavailable_backends,
                               use_backend, warmup)
from fastact._threads import get_num_threads, num_threads, set_num_threads
from fastact.catalogue import OPS

__version__ = "0.1.0"

from fastact.losses import softmax_cross_entropy, softmax_cross_entropy_backward  # noqa: E402

# Submodules reachable as attributes after a bare ``import fastact`` (imported when
# first used: layers and the reference cost nothing until then).
_LAZY = ("reference", "ufuncs", "layers", "catalogue", "accuracy", "benchmark")


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"fastact.{name}")
    raise AttributeError(f"module 'fastact' has no attribute {name!r}")

__all__ = [
    "relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "prelu",
    "prelu_backward", "elu", "elu_backward", "selu", "selu_backward", "celu",
    "celu_backward", "gelu", "gelu_backward", "sigmoid", "sigmoid_backward", "tanh",
    "tanh_backward", "silu", "silu_backward", "swish", "swish_backward", "softplus",
    "softplus_backward", "mish", "mish_backward", "hardsigmoid", "hardsigmoid_backward",
    "hardswish", "hardswish_backward", "softmax", "softmax_backward", "log_softmax",
    "log_softmax_backward", "logsumexp", "logsumexp_backward", "maxout",
    "maxout_backward", "OPS", "backends", "get_backend", "set_backend",
    "unavailable_backends", "use_backend", "get_num_threads", "num_threads",
    "set_num_threads", "warmup", "softmax_cross_entropy",
    "softmax_cross_entropy_backward",
]
