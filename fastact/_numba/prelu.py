"""PReLU loops: leaky_relu's scalar math with one slope per channel.

Arrays arrive as (outer, channels, inner) views, so the inner loop runs over
contiguous memory with a fixed slope.
"""

from __future__ import annotations

from fastact._numba.elementwise import leaky_relu, leaky_relu_backward
from fastact._numba.kernels import jit


@jit()
def forward(x, weight, out):
    for o in range(x.shape[0]):
        for c in range(x.shape[1]):
            w = weight[c]
            for i in range(x.shape[2]):
                out[o, c, i] = leaky_relu(x[o, c, i], w)


@jit()
def backward(g, x, weight, out, grad_weight):
    """grad_input into out; grad_weight[c] = sum of x*g over x <= 0 (and NaN) in channel c."""
    for c in range(x.shape[1]):
        grad_weight[c] = 0
    for o in range(x.shape[0]):
        for c in range(x.shape[1]):
            w = weight[c]
            total = grad_weight[c]
            for i in range(x.shape[2]):
                v = x[o, c, i]
                out[o, c, i] = leaky_relu_backward(g[o, c, i], v, w)
                if not v > 0:
                    total += v * g[o, c, i]
            grad_weight[c] = total
