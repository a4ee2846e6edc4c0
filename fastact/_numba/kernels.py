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
import inspect
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


def _arity(scalar, n_in):
    """How many parameters scalar takes after its n_in array arguments."""
    n = len(inspect.signature(scalar).parameters) - n_in
    if not 0 <= n <= 2:
        raise NotImplementedError(f"{scalar.__name__}: loops exist for 0 to 2 parameters, not {n}")
    return n


# The loops spell their parameters out: Numba inlines the scalar at Numba-IR level
# (which is what lets LLVM vectorise the whole body) only into calls without *args.

def unary(scalar):
    """Serial and parallel loops computing out[i] = scalar(x[i], *params) on 1-D arrays."""
    salt = SALT
    n = _arity(scalar, 1)
    if n == 0:
        def serial(x, out):
            for i in range(x.size):
                out[i] = scalar(x[i])
            return salt

        def parallel(x, out):
            for i in prange(x.size):
                out[i] = scalar(x[i])
            return salt
    elif n == 1:
        def serial(x, out, a):
            for i in range(x.size):
                out[i] = scalar(x[i], a)
            return salt

        def parallel(x, out, a):
            for i in prange(x.size):
                out[i] = scalar(x[i], a)
            return salt
    else:
        def serial(x, out, a, b):
            for i in range(x.size):
                out[i] = scalar(x[i], a, b)
            return salt

        def parallel(x, out, a, b):
            for i in prange(x.size):
                out[i] = scalar(x[i], a, b)
            return salt
    return jit()(serial), jit(parallel=True)(parallel)


def binary(scalar):
    """Serial and parallel loops computing out[i] = scalar(g[i], x[i], *params) on 1-D arrays."""
    salt = SALT
    n = _arity(scalar, 2)
    if n == 0:
        def serial(g, x, out):
            for i in range(x.size):
                out[i] = scalar(g[i], x[i])
            return salt

        def parallel(g, x, out):
            for i in prange(x.size):
                out[i] = scalar(g[i], x[i])
            return salt
    elif n == 1:
        def serial(g, x, out, a):
            for i in range(x.size):
                out[i] = scalar(g[i], x[i], a)
            return salt

        def parallel(g, x, out, a):
            for i in prange(x.size):
                out[i] = scalar(g[i], x[i], a)
            return salt
    else:
        def serial(g, x, out, a, b):
            for i in range(x.size):
                out[i] = scalar(g[i], x[i], a, b)
            return salt

        def parallel(g, x, out, a, b):
            for i in prange(x.size):
                out[i] = scalar(g[i], x[i], a, b)
            return salt
    return jit()(serial), jit(parallel=True)(parallel)


# Loops over C-contiguous arrays of any shape (flat views taken inside, where they are
# free), for the public functions' shortest path on small arrays: one Numba call after
# a NumPy allocation, instead of the general path's Python layers.  The caller allocates:
# an array allocated inside a function loaded from Numba's cache carries an unpickled
# dtype object, not NumPy's float32 singleton, which fails fastact's `dtype is` checks
# on the next call.  ``salt`` is referenced to put it in the closure (cache key).

def contiguous(scalar, n_in):
    """A compiled fill(*arrays, out, *params): out[i] = scalar(*arrays[i], *params), serial."""
    salt = SALT
    n = _arity(scalar, n_in)
    if n_in == 1 and n == 0:
        def fill(x, out):
            salt  # noqa: B018
            xf, of = x.reshape(x.size), out.reshape(out.size)
            for i in range(xf.size):
                of[i] = scalar(xf[i])
    elif n_in == 1 and n == 1:
        def fill(x, out, a):
            salt  # noqa: B018
            xf, of = x.reshape(x.size), out.reshape(out.size)
            for i in range(xf.size):
                of[i] = scalar(xf[i], a)
    elif n_in == 1:
        def fill(x, out, a, b):
            salt  # noqa: B018
            xf, of = x.reshape(x.size), out.reshape(out.size)
            for i in range(xf.size):
                of[i] = scalar(xf[i], a, b)
    elif n == 0:
        def fill(g, x, out):
            salt  # noqa: B018
            gf, xf, of = g.reshape(g.size), x.reshape(x.size), out.reshape(out.size)
            for i in range(xf.size):
                of[i] = scalar(gf[i], xf[i])
    elif n == 1:
        def fill(g, x, out, a):
            salt  # noqa: B018
            gf, xf, of = g.reshape(g.size), x.reshape(x.size), out.reshape(out.size)
            for i in range(xf.size):
                of[i] = scalar(gf[i], xf[i], a)
    else:
        def fill(g, x, out, a, b):
            salt  # noqa: B018
            gf, xf, of = g.reshape(g.size), x.reshape(x.size), out.reshape(out.size)
            for i in range(xf.size):
                of[i] = scalar(gf[i], xf[i], a, b)
    return jit()(fill)


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
