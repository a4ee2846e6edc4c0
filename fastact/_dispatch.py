"""Backend registry, selection and kernel lookup.

A backend is a module with two functions:

``available() -> str | None``
    None if the backend can run here, else the reason it cannot.  Must be cheap
    and must not import heavy dependencies (numba is imported lazily).
``kernel(op, direction, dtype) -> callable | None``
    The kernel for ``op`` ('forward' or 'backward') in float32 or float64, or
    None when the backend does not handle that case (the reference then does).

Kernels receive validated, native-dtype arrays of the compute dtype and write
into ``out``, which the dispatcher allocates or checks.  ``out`` is either
disjoint from every input or (for 'elementwise', 'prelu' and 'rows' ops) the
very same array as one of them, so in-place elementwise updates must work.
For 'rows', 'reduce' and 'maxout' ops the dispatcher moves the op's axis last,
so row kernels always work along the last axis.  Calling conventions, with
``params`` the op's scalar parameters in table order:

=============  ======================================  ==========================================
kind           forward                                 backward
=============  ======================================  ==========================================
elementwise    k(x, out, *params)                      k(grad_output, x_or_y, out, *params)
prelu          k(x, weight, out, axis)                 k(grad_output, x, weight, out, axis) -> grad_weight
rows           k(x, out)                               k(grad_output, y, out)
reduce         k(x, out)                               k(grad_output, x, y, out)
maxout         k(x, out, pieces)                       k(grad_output, x, out, pieces)
=============  ======================================  ==========================================

For prelu, ``weight`` is 1-D (one value, or one per channel) and ``axis`` is
None when it has one value; the backward returns grad_weight as a 1-D array.

A kernel may also carry shortest-path entries, which the public functions try
before any validation (fastact._api): ``k.new(*arrays, *params)`` returns a new
result, ``k.into(*arrays, out, *params)`` fills ``out`` and returns it, and
``k.row_loop`` (softmax family) is the compiled loop over C-contiguous rows.
They take the public function's arguments as given (the softmax family's new and
into take the arrays only) and must return None for anything they would not
handle exactly as the checked path does; the call then takes that path.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os

import numpy as np

from fastact.catalogue import Op

# name -> module; 'numpy' is the reference itself.
_MODULES = {
    "numpy": "fastact._numpy_backend",
    "numba": "fastact._numba.backend",
    "cython": "fastact._cython.backend",
}
# 'auto' takes the first available of these (the fastest measured first).
_AUTO_ORDER = ("cython", "numba", "numpy")
BACKEND_NAMES = tuple(_MODULES) + ("auto",)

_loaded: dict[str, object] = {}
_unavailable: dict[str, str] = {}
_kernels: dict[tuple, object] = {}

_default = "auto"
_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("fastact_backend", default=None)


def _check_name(name, source="backend"):
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown {source} {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    return name


def _module(name: str):
    """The backend module, or None with the reason recorded."""
    if name in _loaded:
        return _loaded[name]
    if name in _unavailable:
        return None
    try:
        module = importlib.import_module(_MODULES[name])
    except ImportError as exc:
        if name == "numpy":  # the reference is part of the package: a broken install
            raise
        _unavailable[name] = f"not installed ({exc})"
        return None
    reason = module.available()
    if reason is not None:
        _unavailable[name] = reason
        return None
    _loaded[name] = module
    return module


def backends() -> list[str]:
    """Names of the backends that can run here ('numpy' always can)."""
    return [name for name in _MODULES if _module(name) is not None]


def unavailable_backends() -> dict[str, str]:
    """Backends that cannot run here, with the reason."""
    backends()
    return dict(_unavailable)


def set_backend(name: str) -> None:
    """Set the default backend: 'numpy', 'numba', 'cython' or 'auto'."""
    global _default
    _require(_check_name(name))
    _default = name


def get_backend() -> str:
    """The backend in effect here: use_backend's, else set_backend's, else FASTACT_BACKEND's."""
    override = _override.get()
    return override if override is not None else _default


@contextlib.contextmanager
def use_backend(name: str):
    """Context manager: use backend ``name`` in this thread/context within the block."""
    _require(_check_name(name))
    token = _override.set(name)
    try:
        yield name
    finally:
        _override.reset(token)


def _require(name: str) -> None:
    if name != "auto" and _module(name) is None:
        raise ValueError(f"backend {name!r} is not available: {_unavailable[name]}")


def _resolve(name: str, op: Op) -> str:
    if name == "auto":  # 'numpy' is last and always there
        return next(candidate for candidate in _AUTO_ORDER if _module(candidate) is not None)
    _require(name)
    return name


# The kernels' shortest-path entries, for the public functions (fastact._api):
# _short[kind][(op name, direction)][requested backend] -> [float32 entry, float64 entry],
# kind 'new' (the compiled allocate-and-run entry), 'into' (the fill-out entry for out=)
# or 'row_loop' (the softmax family's compiled row loop, _layout._rows).  Nested so a
# call finds its entry without building and hashing a key (0.1 us of a 0.6 us call).
_short: dict = {"new": {}, "into": {}, "row_loop": {}}


def short_paths(kind: str, op_name: str, direction: str) -> dict:
    """The dict {requested backend: [float32 entry, float64 entry]} of one op direction."""
    return _short[kind].setdefault((op_name, direction), {})


def short_path(kind: str, backend: str, op_name: str, direction: str, dtype):
    """One shortest-path entry, or None where there is none (yet)."""
    return _short[kind].get((op_name, direction), {}).get(backend, (None, None))[
        np.dtype(dtype) == np.float64]


def kernel(backend: str | None, op: Op, direction: str, dtype: np.dtype):
    """The kernel to run ``op`` in ``direction`` for ``dtype`` under ``backend``."""
    requested = get_backend() if backend is None else _check_name(backend)
    key = (requested, op.name, direction, dtype.char)
    found = _kernels.get(key)
    if found is None:
        name = _resolve(requested, op)
        found = _module(name).kernel(op, direction, dtype)
        if found is None:  # not handled by that backend: the reference is the fallback
            found = _module("numpy").kernel(op, direction, dtype)
        _kernels[key] = found
        if dtype.char in "fd":
            for kind in _short:
                entry = getattr(found, kind, None)
                if entry is not None:
                    entries = short_paths(kind, op.name, direction).setdefault(requested, [None, None])
                    entries[dtype.char == "d"] = entry
    return found


def warmup(ops=None, dtypes=None) -> None:
    """Compile the fast backends' kernels now rather than on first use.

    ``ops``: op names (default: all); ``dtypes``: default float32 and float64.
    Backends without a JIT (numpy, cython) have nothing to do.  Numba's kernels
    are also cached on disk, so a later process only loads them.
    """
    from fastact.catalogue import OPS, OPS_BY_NAME

    selected = OPS if ops is None else [OPS_BY_NAME[name] for name in ops]
    dtypes = (np.float32, np.float64) if dtypes is None else dtypes
    for name in backends():
        module = _module(name)
        if hasattr(module, "warmup"):
            module.warmup(selected, dtypes)


def _initial_backend():
    name = os.environ.get("FASTACT_BACKEND", "").strip()
    return _check_name(name, "FASTACT_BACKEND") if name else "auto"


_default = _initial_backend()
