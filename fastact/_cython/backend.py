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

from fastact import _cpu, _layout, _threads

_PACKAGE = "fastact._cython"


# variant -> the CPU features it needs, best first
_VARIANTS = {
    "_kernels_avx512": {"avx512f", "avx512dq", "avx512bw", "avx512vl", "avx2", "fma"},
    "_kernels_avx2": {"avx2", "fma"},
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
    for name, needs in _VARIANTS.items():
        if needs <= cpu and importlib.util.find_spec(f"{_PACKAGE}.{name}") is not None:
            return name, None
    return "_kernels_baseline", None


def describe() -> str:
    module = kernels()
    return (f"variant {variant().removeprefix('_kernels_')}, "
            f"OpenMP {'on' if module.OPENMP else 'off (built without it: serial)'}")


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


def kernel(op, direction, dtype):
    return _layout.kernel(_Loops, op, direction, dtype)


def _suffix(T):
    return "f32" if T is np.float32 else "f64"


def _threaded(fn):
    minimum = kernels().PARALLEL_MIN_ELEMENTS

    def run(n, *args):
        fn(n, *args, _threads.get_num_threads() if n >= minimum else 1)
    return run


@functools.cache
def _short_path(entry):
    """A compiled ``*_new`` / ``*_into`` entry; they ask this thread source for large inputs."""
    module = kernels()
    module.set_thread_source(_threads.get_num_threads)
    return getattr(module, entry)


class _Loops:
    """The compiled loops by name (see fastact._layout for what each takes)."""

    @staticmethod
    @functools.cache
    def elementwise(name, n_in, T):
        return _threaded(getattr(kernels(), f"{name}_{_suffix(T)}"))

    @staticmethod
    def elementwise_new(name, n_in, T):
        return _short_path(f"{name}_{_suffix(T)}_new")

    @staticmethod
    def elementwise_into(name, n_in, T):
        return _short_path(f"{name}_{_suffix(T)}_into")

    @staticmethod
    @functools.cache
    def rows(name, n_in, T):
        return _threaded(getattr(kernels(), f"{name}_{_suffix(T)}"))

    @staticmethod
    def new(name, T):
        return _short_path(f"{name}_{_suffix(T)}_new")

    @staticmethod
    def into(name, T):
        return _short_path(f"{name}_{_suffix(T)}_into")

    @staticmethod
    @functools.cache
    def reduce(name, T):
        return _threaded(getattr(kernels(), f"{name}_{_suffix(T)}"))

    @staticmethod
    @functools.cache
    def prelu(forward, T):
        return _threaded(getattr(kernels(), f"prelu{'' if forward else '_backward'}_{_suffix(T)}"))
