"""Backend 'cython': the dispatcher's entry points (see fastact._dispatch for the protocol).

The same kernels are built for several instruction-set levels on x86-64
(baseline, AVX2+FMA, AVX-512); the best one the CPU supports is used, unless
FASTACT_CPU_VARIANT (baseline, avx2 or avx512) names one (the tests run each).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import warnings

import numpy as np

from fastact import _cpu, _threads

_PACKAGE = "fastact._cython"


# variant -> the CPU features it needs, best first
_VARIANTS = {
    "_kernels_avx512": {"avx512f", "avx512dq", "avx512bw", "avx512vl", "avx2", "fma", "f16c"},
    "_kernels_avx2": {"avx2", "fma", "f16c"},
    "_kernels_baseline": set(),
}


def variant() -> str:
    """The compiled variant this process uses: FASTACT_CPU_VARIANT's (any case), else the
    best one the CPU supports.  ValueError for a variant unknown or not supported by the
    CPU (then the Cython backend is unavailable, with one RuntimeWarning saying why)."""
    name, error = _choose_variant()
    if error is not None:
        raise ValueError(error)
    return name


@functools.cache
def _choose_variant():
    """(variant, None), or (None, the reason FASTACT_CPU_VARIANT cannot be used), warned once."""
    cpu = set(_cpu.features())
    requested = os.environ.get("FASTACT_CPU_VARIANT", "").strip()
    if requested:
        name = f"_kernels_{requested.lower()}"
        error = None
        if name not in _VARIANTS:
            error = (f"FASTACT_CPU_VARIANT={requested!r}: expected one of "
                     + ", ".join(v.removeprefix("_kernels_") for v in _VARIANTS))
        elif not _VARIANTS[name] <= cpu:
            error = (f"FASTACT_CPU_VARIANT={requested!r}: this CPU lacks "
                     + ", ".join(sorted(_VARIANTS[name] - cpu)))
        if error is not None:
            warnings.warn(f"{error}; the Cython backend is unavailable", RuntimeWarning,
                          stacklevel=2)
            return None, error
        return name, None
    runnable = runnable_variants()
    return (runnable[0] if runnable else "_kernels_baseline"), None


def runnable_variants() -> list[str]:
    """The built variants this CPU can run, best first."""
    cpu = set(_cpu.features())
    return [name for name, needs in _VARIANTS.items()
            if needs <= cpu and importlib.util.find_spec(f"{_PACKAGE}.{name}") is not None]


def describe() -> str:
    module = kernels()
    return (f"variant {variant().removeprefix('_kernels_')}, "
            f"OpenMP {'on' if module.OPENMP else 'off (built without it: serial)'}, "
            f"streamed stores from {module.stream_min_bytes() / 2**20:g} MiB per thread, "
            f"hand-written vector loops {'on' if module.VECTOR_LOOPS else 'off'}")


def available():
    try:
        name = variant()
    except ValueError as error:
        return str(error)
    if importlib.util.find_spec(f"{_PACKAGE}.{name}") is None:
        return "its extensions are not built (`pip install .` compiles them)"
    return None


@functools.cache
def kernels():
    """The loaded extension module."""
    return importlib.import_module(f"{_PACKAGE}.{variant()}")


@functools.cache
def ufuncs() -> dict:
    """The variant's ufuncs by kernel name ('gelu', 'gelu_tanh_backward', 'softmax'...),
    wired to fastact's thread count."""
    module = kernels()
    module.set_thread_source(_threads.get_num_threads)
    return module.UFUNCS


def ufunc(kernel: str, size: int):
    """The ufunc of ``kernel`` (the same for every size: its loops choose the threads)."""
    try:
        return _UFUNCS[kernel]
    except KeyError:  # the extension not loaded yet (or no such kernel: KeyError again)
        _UFUNCS.update(ufuncs())
        return _UFUNCS[kernel]


_UFUNCS: dict = {}  # ufuncs(), once loaded: the lookup of every call


def size_free_ufuncs() -> dict:
    """Every kernel's ufunc by name: one serves every size (fastact._dispatch gives them
    to fastact._fastcall's C path)."""
    return ufuncs()


def prelu_backward(g, x, weight, out, grad_weight):
    """grad_input into out and grad_weight, for C-contiguous (outer, channels, inner)
    float32 or float64 arrays of one dtype (weight and grad_weight 1-D)."""
    suffix = "f32" if x.dtype == np.float32 else "f64"
    getattr(kernels(), f"prelu_backward_{suffix}")(g, x, weight, out, grad_weight)
