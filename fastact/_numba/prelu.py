"""PReLU loops: leaky_relu's scalar math with one slope per channel.

Arrays arrive as (outer, channels, inner) views.  The work is cut into chunks
of at most CHUNK elements of one channel, so a chunk's inner loop runs over
contiguous memory with a fixed slope, its weight-gradient sum stays in L1, and
even a single long channel spreads over the threads.  The chunks' sums are
added in float64 in a fixed order: grad_weight does not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import carray, prange

from fastact._numba.elementwise import leaky_relu, leaky_relu_backward
from fastact._numba.kernels import SALT, jit
from fastact._numba.rows import LANES, _fold, _stack_lanes, _summation, _zero
from fastact._numba.vecmath import scalar

CHUNK = 8192


@_summation
def _weight_grad(g, x):
    """The sum of x*g over the entries with x <= 0 or NaN, in the row sums' fixed order
    (rows._sum: LANES partial sums, folded, then the tail)."""
    lanes = carray(_stack_lanes(x[0]), LANES)
    _zero(lanes)
    full = x.size - x.size % LANES
    for i in range(0, full, LANES):
        chunk_g, chunk_x = g[i:i + LANES], x[i:i + LANES]
        for j in range(LANES):
            v = chunk_x[j]
            lanes[j] += type(v)(0) if v > 0 else v * chunk_g[j]
    total = _fold(lanes)
    for i in range(full, x.size):
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
def _chunks(x):
    """Chunks per (outer, channel) row, and chunks in all."""
    per_row = -(-x.shape[2] // CHUNK)
    return per_row, x.shape[0] * x.shape[1] * per_row


@scalar
def _add_chunks(partial, per_row, grad_weight):
    """grad_weight[c] = the chunk sums of channel c, added in float64 in chunk order."""
    total = np.zeros(grad_weight.size)
    for t in range(partial.size):
        total[(t // per_row) % grad_weight.size] += partial[t]
    for c in range(grad_weight.size):
        grad_weight[c] = total[c]


def loops(forward):
    """Serial and parallel prelu loops: run(x, weight, out) or run(g, x, weight, out, grad_weight)."""
    salt = SALT
    if forward:
        def serial(x, weight, out):
            per_row, tasks = _chunks(x)
            for t in range(tasks):
                _forward_chunk(x, weight, out, t, per_row)
            return salt

        def parallel(x, weight, out):
            per_row, tasks = _chunks(x)
            for t in prange(tasks):
                _forward_chunk(x, weight, out, t, per_row)
            return salt
    else:
        def serial(g, x, weight, out, grad_weight):
            per_row, tasks = _chunks(x)
            partial = np.empty(tasks, x.dtype)
            for t in range(tasks):
                partial[t] = _backward_chunk(g, x, weight, out, t, per_row)
            _add_chunks(partial, per_row, grad_weight)
            return salt

        def parallel(g, x, weight, out, grad_weight):
            per_row, tasks = _chunks(x)
            partial = np.empty(tasks, x.dtype)
            for t in prange(tasks):
                partial[t] = _backward_chunk(g, x, weight, out, t, per_row)
            _add_chunks(partial, per_row, grad_weight)
            return salt
    return jit()(serial), jit(parallel=True)(parallel)
