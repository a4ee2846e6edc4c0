"""Backend 'numba': the dispatcher's entry points (see fastact._dispatch for the protocol).

Importing this module does not import numba; the first ufunc() call does.  Each
ufunc compiles on first use (or loads from Numba's disk cache): fastact._numba.ufuncs.
"""

from __future__ import annotations

import functools
import importlib.util
import os

from fastact import _threads

# Below this many elements a parallel launch costs more than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 16

_numba = None


def available():
    if importlib.util.find_spec("numba") is None:
        return "numba is not installed"
    return None


def cache_status() -> str:
    """Where Numba's disk cache of fastact's kernels is and how many it holds, without
    importing numba (its default: __pycache__ beside the sources, or NUMBA_CACHE_DIR)."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    root = os.environ.get("NUMBA_CACHE_DIR")
    directory = Path(root) / here.relative_to(here.anchor) if root else here / "__pycache__"
    indexes = list(directory.glob("*.nbi")) if directory.is_dir() else []
    state = f"warm ({len(indexes)} kernel indexes)" if indexes else "cold (first calls compile)"
    return f"{directory}: {state}"


def describe() -> str:
    return ("threading layer: first of omp, tbb, workqueue that loads; "
            f"cache {cache_status()}")


def _import_numba():
    global _numba
    if _numba is None:
        import numba

        # omp is thread-safe and launches in microseconds; workqueue is neither.
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]
        _numba = numba
    return _numba


# kernel -> its serial ufunc, once built (the lookup of every small call)
_serial: dict = {}


def ufunc(kernel: str, size: int):
    """The ufunc of ``kernel`` for ``size`` elements: the parallel version on
    fastact.get_num_threads() threads for large inputs, else the serial one."""
    if size < PARALLEL_MIN_ELEMENTS:
        found = _serial.get(kernel)
        if found is not None:
            return found
    from fastact._numba import ufuncs

    numba = _import_numba()
    if size >= PARALLEL_MIN_ELEMENTS:
        threads = _threads.get_num_threads()
        if threads > 1:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            return ufuncs.ufunc(kernel, parallel=True)
    found = _serial[kernel] = ufuncs.ufunc(kernel)
    return found


def prelu_backward(g, x, weight, out, grad_weight):
    """grad_input into out and grad_weight, for C-contiguous (outer, channels, inner)
    arrays of one float dtype (weight and grad_weight 1-D)."""
    numba = _import_numba()
    serial, parallel = _prelu_backward_loops()
    threads = _threads.get_num_threads() if x.size >= PARALLEL_MIN_ELEMENTS else 1
    if threads > 1:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        parallel(g, x, weight, out, grad_weight)
    else:
        serial(g, x, weight, out, grad_weight)


@functools.cache
def _prelu_backward_loops():
    from fastact._numba import prelu

    return prelu.loops(forward=False)


def warmup(ops, dtypes):
    """Compile (or load from the disk cache) the serial and parallel ufuncs of ``ops``."""
    from fastact._numba import ufuncs

    for op in ops:
        for kernel in op.ufuncs:
            ufuncs.ufunc(kernel)
            ufuncs.ufunc(kernel, parallel=True)
        if op.kind == "prelu":
            _prelu_backward_loops()
