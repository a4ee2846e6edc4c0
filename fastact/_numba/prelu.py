"""PReLU loops: leaky_relu's scalar math with one slope per channel.

Arrays arrive as (outer, channels, inner) views.  The work is cut into chunks
of at most CHUNK elements of one channel, so a chunk's inner loop runs over
contiguous memory with a fixed slope, its weight-gradient sum stays in L1, and
even a single long channel spreads over the threads.  The chunks' sums are
added in float64 in a fixed order: grad_weight does not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from fastact._numba.elementwise import leaky_relu, leaky_relu_backward
from fastact._numba.kernels import SALT, jit
from fastact._numba.rows import _reduction
from fastact._numba.vecmath import scalar

CHUNK = 8192


@_reduction  # compiled with reassoc, so the sum vectorises
def _weight_grad(g, x):
    """The sum of x*g over the entries with x <= 0 or NaN."""
    total = type(x[0])(0)
    for i in range(x.size):
        v = x[i]
        total += type(v)(0) if v > 0 else v * g[i]
    return total


@scalar
def _chunk(x, t, per_row):
    """Channel c and slice (o, c, start:stop) of chunk t of a 3-D array, as a
    (channel, outer, start, stop) tuple."""
    o, c = divmod(t // per_row, x.shape[1])
    start = (t % per_row) * CHUNK
    return c, o, start, min(start + CHUNK, x.shape[2])


@scalar
def _forward_chunk(x, weight, out, t, per_row):
    c, o, start, stop = _chunk(x, t, per_row)
    w = weight[c]
    xs, outs = x[o, c, start:stop], out[o, c, start:stop]
    for i in range(xs.size):  # from 0: no negative-index checks, so it vectorises
        outs[i] = leaky_relu(xs[i], w)


@scalar
def _backward_chunk(g, x, weight, out, t, per_row):
    c, o, start, stop = _chunk(x, t, per_row)
    w = weight[c]
    gs, xs, outs = g[o, c, start:stop], x[o, c, start:stop], out[o, c, start:stop]
    for i in range(xs.size):
        outs[i] = leaky_relu_backward(gs[i], xs[i], w)
    return _weight_grad(gs, xs)


@scalar
def _add_chunks(partial, per_row, grad_weight):
    channels = grad_weight.size
    for c in range(channels):
        total = 0.0
        for r in range(c, partial.size // per_row, channels):
            for j in range(r * per_row, (r + 1) * per_row):
                total += partial[j]
        grad_weight[c] = total


def loops(forward):
    """Serial and parallel prelu loops: run(x, weight, out) or run(g, x, weight, out, grad_weight)."""
    salt = SALT
    if forward:
        def serial(x, weight, out):
            per_row = -(-x.shape[2] // CHUNK)
            for t in range(x.shape[0] * x.shape[1] * per_row):
                _forward_chunk(x, weight, out, t, per_row)
            return salt

        def parallel(x, weight, out):
            per_row = -(-x.shape[2] // CHUNK)
            for t in prange(x.shape[0] * x.shape[1] * per_row):
                _forward_chunk(x, weight, out, t, per_row)
            return salt
    else:
        def serial(g, x, weight, out, grad_weight):
            per_row = max(1, -(-x.shape[2] // CHUNK))
            partial = np.zeros(x.shape[0] * x.shape[1] * per_row, x.dtype)
            for t in range(partial.size if x.shape[2] else 0):
                partial[t] = _backward_chunk(g, x, weight, out, t, per_row)
            _add_chunks(partial, per_row, grad_weight)
            return salt

        def parallel(g, x, weight, out, grad_weight):
            per_row = max(1, -(-x.shape[2] // CHUNK))
            partial = np.zeros(x.shape[0] * x.shape[1] * per_row, x.dtype)
            for t in prange(partial.size if x.shape[2] else 0):
                partial[t] = _backward_chunk(g, x, weight, out, t, per_row)
            _add_chunks(partial, per_row, grad_weight)
            return salt
    return jit()(serial), jit(parallel=True)(parallel)
