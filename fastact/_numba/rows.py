"""Row kernels of the Numba backend: softmax, log_softmax, logsumexp, maxout and backwards.

Each works on one row (the op's axis, moved last by the dispatcher); loops over
rows come from ``kernels.rows``.  Three passes: the max (and where it is), the
exps into a scratch row, then the scaling.  The exps go to scratch, not to
``out``, so ``out`` may be the input.  Sums are separate functions compiled with
'reassoc' so they vectorise; the exps never are (reassoc breaks exp's range
reduction).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.extending import register_jitable

from fastact._numba import vecmath

row = register_jitable(inline="always")
_reduction = njit(error_model="numpy", fastmath={"nsz", "contract", "reassoc"}, cache=True,
                  nogil=True)


@_reduction
def _sum(a):
    s = type(a[0])(0)
    for i in range(a.size):
        s += a[i]
    return s


@_reduction
def _dot(a, b):
    s = type(a[0])(0)
    for i in range(a.size):
        s += a[i] * b[i]
    return s


@row
def _first_max(x):
    """The maximum of a non-empty row and its first position; NaN counts as the maximum."""
    m = x[0]
    k = 0
    for i in range(1, x.size):
        v = x[i]
        if m == m and (v > m or v != v):
            m = v
            k = i
    return m, k


@row
def _shifted_exps(x, m, k):
    """exp(x - m) with the maximum's own term (exactly 1) left out, and their sum."""
    scratch = np.empty_like(x)
    for i in range(x.size):
        scratch[i] = vecmath.exp(x[i] - m)
    scratch[k] = 0
    return scratch, _sum(scratch)


@row
def _row_max_or_nan_row(x, out):
    """The row's maximum and its position, or None after filling out with NaN.

    A row whose maximum is not finite (NaN, or +inf, in the row, or all -inf)
    has a NaN softmax and log_softmax; an empty row has nothing to write.
    """
    if x.size == 0:
        return None
    m, k = _first_max(x)
    if not math.isfinite(m):
        out[:] = np.nan
        return None
    return m, k


@row
def softmax(x, out):
    found = _row_max_or_nan_row(x, out)
    if found is None:
        return
    m, k = found
    scratch, rest = _shifted_exps(x, m, k)
    total = type(m)(1) + rest
    scratch[k] = 1
    for i in range(x.size):
        out[i] = scratch[i] / total


@row
def log_softmax(x, out):
    found = _row_max_or_nan_row(x, out)
    if found is None:
        return
    m, k = found
    _, rest = _shifted_exps(x, m, k)
    log_total = vecmath.log1p(rest)  # log(1 + rest): log1p keeps the largest entry's digits
    for i in range(x.size):
        out[i] = (x[i] - m) - log_total


@row
def logsumexp(x):
    n = x.size
    if n == 0:
        return -np.inf
    m, k = _first_max(x)
    if not math.isfinite(m):  # NaN, +inf, or an all -inf row: the max is the answer
        return m
    _, rest = _shifted_exps(x, m, k)
    return m + vecmath.log1p(rest)


@row
def softmax_backward(g, y, out):
    if y.size == 0:
        return
    dot = _dot(g, y)
    for i in range(y.size):
        out[i] = y[i] * (g[i] - dot)


@row
def log_softmax_backward(g, y, out):
    if y.size == 0:
        return
    total = _sum(g)
    for i in range(y.size):
        out[i] = g[i] - vecmath.exp(y[i]) * total


@row
def logsumexp_backward(g, x, y, out):
    if y == np.inf:  # a row with +inf has a NaN softmax
        out[:] = np.nan
        return
    for i in range(x.size):
        out[i] = g * vecmath.exp(x[i] - y)



@row
def maxout(x, out, pieces):
    for j in range(out.size):
        m, _ = _first_max(x[j * pieces:(j + 1) * pieces])
        out[j] = m


@row
def maxout_backward(g, x, out, pieces):
    for j in range(g.size):
        m, k = _first_max(x[j * pieces:(j + 1) * pieces])
        for i in range(pieces):
            # IEEE products: g*0 keeps NaN in grad_output; NaN in x makes the group NaN
            out[j * pieces + i] = (g[j] if i == k else g[j] * 0) if m == m else m
