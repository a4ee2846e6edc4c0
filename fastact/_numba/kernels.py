"""Loops generated from the scalar functions: serial and parallel, cached on disk.

A loop is a closure over its scalar function.  Numba's disk cache keys a
closure by its bytecode and the pickled closure cells, so the cells hold only
things that pickle the same in every process: the scalar (a module-level
function, pickled by reference) and ``SALT``, a hash of this backend's
sources, which invalidates the cache whenever any of them changes (Numba
itself only watches the file a kernel is defined in).  The serial and the
parallel loop have different bodies because ``parallel=`` is not part of
Numba's cache key.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from numba import njit, prange

# Safe for NaN/inf handling and range reductions: no nnan/ninf/reassoc.  Sums
# that should vectorise are separate functions in rows.py, compiled with reassoc.
FASTMATH = {"nsz", "contract"}

SALT = hashlib.sha256(b"".join(
    p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))).hexdigest()[:16]


def jit(parallel=False, fastmath=FASTMATH):
    return njit(error_model="numpy", fastmath=fastmath, parallel=parallel, cache=True,
                nogil=True)


def unary(scalar):
    """Serial and parallel loops computing out[i] = scalar(x[i], *params) on 1-D arrays."""
    salt = SALT

    def serial(x, out, *params):
        for i in range(x.size):
            out[i] = scalar(x[i], *params)
        return salt

    def parallel(x, out, *params):
        for i in prange(x.size):
            out[i] = scalar(x[i], *params)
        return salt

    return jit()(serial), jit(parallel=True)(parallel)


def binary(scalar):
    """Serial and parallel loops computing out[i] = scalar(g[i], x[i], *params) on 1-D arrays."""
    salt = SALT

    def serial(g, x, out, *params):
        for i in range(x.size):
            out[i] = scalar(g[i], x[i], *params)
        return salt

    def parallel(g, x, out, *params):
        for i in prange(x.size):
            out[i] = scalar(g[i], x[i], *params)
        return salt

    return jit()(serial), jit(parallel=True)(parallel)


def rows(row_kernel, n_in):
    """Serial and parallel loops applying row_kernel to each row of 2-D (rows, n) arrays."""
    salt = SALT
    if n_in == 1:
        def serial(x, out, *params):
            for r in range(x.shape[0]):
                row_kernel(x[r], out[r], *params)
            return salt

        def parallel(x, out, *params):
            for r in prange(x.shape[0]):
                row_kernel(x[r], out[r], *params)
            return salt
    elif n_in == 2:
        def serial(g, x, out, *params):
            for r in range(x.shape[0]):
                row_kernel(g[r], x[r], out[r], *params)
            return salt

        def parallel(g, x, out, *params):
            for r in prange(x.shape[0]):
                row_kernel(g[r], x[r], out[r], *params)
            return salt
    else:
        def serial(g, x, y, out, *params):
            for r in range(x.shape[0]):
                row_kernel(g[r], x[r], y[r], out[r], *params)
            return salt

        def parallel(g, x, y, out, *params):
            for r in prange(x.shape[0]):
                row_kernel(g[r], x[r], y[r], out[r], *params)
            return salt
    return jit()(serial), jit(parallel=True)(parallel)


def reduce_rows(row_function):
    """Serial and parallel loops computing out[r] = row_function(x[r]) on 2-D x."""
    salt = SALT

    def serial(x, out):
        for r in range(x.shape[0]):
            out[r] = row_function(x[r])
        return salt

    def parallel(x, out):
        for r in prange(x.shape[0]):
            out[r] = row_function(x[r])
        return salt

    return jit()(serial), jit(parallel=True)(parallel)
