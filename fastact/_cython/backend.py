"""Backend 'cython': the dispatcher's entry points (see fastact._dispatch for the protocol).

Two builds of the same kernels exist on x86-64, baseline and AVX2+FMA; the
AVX2 one is used when the CPU has both features, unless FASTACT_CPU_BASELINE=1.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os

import numpy as np

from fastact import _cpu, _layout, _threads

_PACKAGE = "fastact._cython"


def variant() -> str:
    """The compiled variant this process uses: '_kernels_avx2' or '_kernels_baseline'."""
    if os.environ.get("FASTACT_CPU_BASELINE", "").strip() not in ("", "0"):
        return "_kernels_baseline"
    if {"avx2", "fma"} <= set(_cpu.features()) and importlib.util.find_spec(
            f"{_PACKAGE}._kernels_avx2") is not None:
        return "_kernels_avx2"
    return "_kernels_baseline"


def available():
    if importlib.util.find_spec(f"{_PACKAGE}.{variant()}") is None:
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
    def run(n, *args):
        fn(n, *args, _threads.get_num_threads())
    return run


class _Loops:
    """The compiled loops by name (see fastact._layout for what each takes)."""

    @staticmethod
    @functools.cache
    def elementwise(name, n_in, T):
        return _threaded(getattr(kernels(), f"{name}_{_suffix(T)}"))

    @staticmethod
    @functools.cache
    def rows(name, n_in, T):
        return _threaded(getattr(kernels(), f"{name}_{_suffix(T)}"))

    @staticmethod
    @functools.cache
    def reduce(name, T):
        return _threaded(getattr(kernels(), f"{name}_{_suffix(T)}"))

    @staticmethod
    @functools.cache
    def prelu(forward, T):
        return getattr(kernels(), f"prelu{'' if forward else '_backward'}_{_suffix(T)}")
