"""Backends: which exist, which one is in effect, and its ufuncs.

A compiled backend is a module with:

``available() -> str | None``
    None if the backend can run here, else the reason it cannot.  Cheap; it must
    not import heavy dependencies (numba is imported lazily).
``ufunc(kernel, size) -> numpy.ufunc``
    The ufunc of one kernel ('gelu', 'gelu_tanh_backward', 'softmax', ...: the
    names of ``fastact.ufuncs``) to run on ``size`` elements (Numba has a serial
    and a parallel version of each).
``prelu_backward(g, x, weight, out, grad_weight)``
    prelu's fused backward on C-contiguous (outer, channels, inner) arrays.
``size_free_ufuncs() -> dict | None`` (optional)
    Every kernel's ufunc by name where one serves every size (Cython's), else None.
    The default backend's are given to fastact._fastcall, which runs the common case of a
    call without ``backend=`` in C (``set_default_ufuncs``; see ``_publish_default``).

The 'numpy' backend is the reference, ``fastact.reference``; it has no ufuncs.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os

try:  # the C path of calls without backend=; built with the Cython backend
    from fastact import _fastcall
except ImportError:
    _fastcall = None

# name -> module of the compiled backends; 'numpy' is the reference itself.
_MODULES = {"numba": "fastact._numba.backend", "cython": "fastact._cython.backend"}
# 'auto' takes the first available of these (the fastest measured first).
_AUTO_ORDER = ("cython", "numba", "numpy")
BACKEND_NAMES = ("numpy", "numba", "cython", "auto")

_loaded: dict[str, object] = {}
_unavailable: dict[str, str] = {}
# requested name ('auto', 'cython'...) -> the backend module that runs it (None: numpy)
_resolved: dict[str, object] = {}

_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("fastact_backend", default=None)


def _check_name(name, source="backend"):
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown {source} {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    return name


def _available(name: str) -> bool:
    """Whether backend ``name`` can run here (its reason recorded if not)."""
    if name == "numpy" or name in _loaded:
        return True
    if name in _unavailable:
        return False
    try:
        module = importlib.import_module(_MODULES[name])
    except ImportError as exc:
        _unavailable[name] = f"not installed ({exc})"
        return False
    reason = module.available()
    if reason is not None:
        _unavailable[name] = reason
        return False
    _loaded[name] = module
    return True


def backends() -> list[str]:
    """Names of the backends that can run here ('numpy' always can)."""
    return [name for name in ("numpy", "numba", "cython") if _available(name)]


def unavailable_backends() -> dict[str, str]:
    """Backends that cannot run here, with the reason."""
    backends()
    return dict(_unavailable)


def _require(name: str) -> None:
    if name != "auto" and not _available(name):
        raise ValueError(f"backend {name!r} is not available: {_unavailable[name]}")


def set_backend(name: str) -> None:
    """Set the default backend: 'numpy', 'numba', 'cython' or 'auto'."""
    global _default
    _require(_check_name(name))
    _default = name
    _publish_default()


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


def resolve(backend: str | None = None) -> str:
    """The concrete backend ('numpy', 'numba' or 'cython') that runs a call with
    ``backend=`` (None: the backend in effect)."""
    requested = get_backend() if backend is None else _check_name(backend)
    if requested == "auto":
        return next(name for name in _AUTO_ORDER if _available(name))
    _require(requested)
    return requested


def module(backend: str | None = None):
    """The module of the compiled backend that runs a call with ``backend=``, or None
    when it is the reference ('numpy')."""
    requested = backend if backend is not None else (_override.get() or _default)
    try:
        return _resolved[requested]
    except KeyError:
        name = resolve(backend)
        found = _resolved[requested] = _loaded.get(name)
        if requested == _default:
            _publish_default()
        return found


def _publish_default() -> None:
    """Give fastact._fastcall the default backend's ufuncs (its size_free_ufuncs), or
    None while that backend is not loaded yet (the first call resolves it, then comes
    here) or has none.  Called whenever the default changes or is first resolved, so
    that the C path never runs a backend that is not the default."""
    if _fastcall is None:
        return
    found = _resolved.get(_default)
    table = getattr(found, "size_free_ufuncs", None)
    _fastcall.set_default_ufuncs(table() if table is not None else None, _override)


def warmup(ops=None, dtypes=None) -> None:
    """Compile the fast backends' kernels now rather than on first use.

    ``ops``: op names (default: all); ``dtypes``: default float32 and float64.
    Backends without a JIT (numpy, cython) have nothing to do.  Numba's kernels
    are also cached on disk, so a later process only loads them.
    """
    from fastact.catalogue import OPS, OPS_BY_NAME

    selected = OPS if ops is None else [OPS_BY_NAME[name] for name in ops]
    for name in backends():
        found = _loaded.get(name)
        if hasattr(found, "warmup"):
            found.warmup(selected, dtypes)


def _initial_backend():
    name = os.environ.get("FASTACT_BACKEND", "").strip()
    return _check_name(name, "FASTACT_BACKEND") if name else "auto"


_default = _initial_backend()
