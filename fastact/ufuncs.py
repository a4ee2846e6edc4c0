"""fastact's kernels as NumPy ufuncs: ``fastact.ufuncs.gelu``, ``fastact.ufuncs.softmax``...

Each is a real ``numpy.ufunc`` of the default compiled backend (Cython where it is
built, else Numba), with float32 and float64 loops, so it takes everything a ufunc
takes: ``out=``, ``where=``, broadcasting, ``dtype=``, and arrays that implement
``__array_ufunc__`` (Dask, xarray...).  The names are those of :data:`NAMES`:

* elementwise ops, with the op's scalar parameters as extra operands that broadcast
  like any other: ``leaky_relu(x, negative_slope)``, ``softplus(x, beta, threshold)``;
  gelu's two forms are ``gelu`` and ``gelu_tanh``; a backward is
  ``<name>_backward(grad_output, x_or_y, *params)``;
* row ops as generalized ufuncs along a core dimension (``axis=``/``axes=`` choose
  it): ``softmax``, ``log_softmax`` (n)->(n); ``softmax_backward(g, y)``,
  ``log_softmax_backward(g, y)`` (n),(n)->(n); ``logsumexp`` (n)->() (``keepdims=``
  works); ``logsumexp_backward(g, x, y)`` (),(n),()->(n); ``maxout`` (n)->(m) and
  ``maxout_backward(g, x)`` (m),(n)->(n), where pieces = n/m comes from the lengths,
  so ``maxout`` needs ``out=`` (``fastact.maxout`` makes it).

Unlike ``fastact.<op>``, the ufuncs do not check parameters (``celu(x, 0.0)`` gives
what the formula gives) and follow NumPy's casting rules rather than fastact's
(integers are cast to float64 only when NumPy's loop resolution picks it).

``fastact.ufuncs.get(name, backend)`` gives one backend's ufunc.  The Numba backend's
are the serial versions (``fastact.<op>`` uses a parallel one for large inputs).
"""

from __future__ import annotations

from fastact import _dispatch
from fastact.catalogue import OPS

NAMES: tuple[str, ...] = tuple(name for op in OPS for name in op.ufuncs)
"""Every ufunc's name, forward and backward."""


def get(name: str, backend: str | None = None):
    """The ufunc ``name`` of ``backend`` ('cython', 'numba', or None for the default
    compiled backend: 'cython' where it is built, else 'numba')."""
    if name not in NAMES:
        raise AttributeError(f"fastact.ufuncs has no ufunc {name!r}; the names are fastact.ufuncs.NAMES")
    if backend is None:
        backend = next((b for b in ("cython", "numba") if b in _dispatch.backends()), None)
        if backend is None:
            raise RuntimeError("fastact.ufuncs needs a compiled backend (Cython or Numba); "
                               f"none is available: {_dispatch.unavailable_backends()}")
    elif backend not in ("cython", "numba"):
        raise ValueError(f"backend must be 'cython' or 'numba' (the reference has no ufuncs), "
                         f"got {backend!r}")
    _dispatch.resolve(backend)  # a clear error if it is not available
    return _dispatch._loaded[backend].ufunc(name, 0)


def __getattr__(name: str):
    return get(name)


def __dir__():
    return sorted(NAMES + ("NAMES", "get"))
