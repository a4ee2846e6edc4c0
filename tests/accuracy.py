"""Error of a backend's result against the reference, in ulps of the result dtype.

Mixed bound |y - f(x)| <= k*ulp(f(x)) + k*ulp(x)*|f'(x)|, with f and f'
from the float64 reference (for a row op: ulp of the row's largest |x| times
2, which bounds sum_j |d y_i/d x_j| for the softmax family).  Underflowed
results within the smallest normal of the exact value count as exact.
"""

from __future__ import annotations

import numpy as np

from fastact import reference

# The bound the fast backends are held to (issues 3 and 4).
FAST_MAX_ULPS = 4.0


def _ulp(v, dtype):
    return np.spacing(np.abs(np.asarray(v, dtype=dtype))).astype(np.float64)


def mixed_ulps(got, exact, slack, dtype):
    """Elementwise smallest k; matching non-finite values count as exact."""
    got = np.asarray(got, dtype=np.float64)
    exact = np.asarray(exact, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got - exact)
        tiny = np.finfo(dtype).tiny
        diff = np.where((np.abs(exact) < tiny) & (diff <= tiny), 0.0, diff)
        k = diff / (_ulp(exact, dtype) + slack)
    # the exact value rounded to the dtype may overflow: then inf is the right answer
    with np.errstate(over="ignore"):
        rounded = exact.astype(dtype).astype(np.float64)
    same_nonfinite = (got == rounded) | (np.isnan(got) & np.isnan(exact))
    exact = np.where(np.isfinite(rounded), exact, rounded)
    k = np.where(np.isfinite(exact) & np.isfinite(got), k, np.where(same_nonfinite, 0.0, np.inf))
    return np.where(diff == 0, 0.0, k)


def perturbation_slack(fn, x64, dtype):
    """ulp(x)*|F'(x)| for an elementwise F of x, as half the change of F over x +- ulp(x).

    F is evaluated by the float64 reference; across a kink this is the jump,
    which only loosens the bound within one ulp of the kink.
    """
    u = _ulp(x64, dtype)
    with np.errstate(all="ignore"):
        slack = 0.5 * np.abs(fn(x64 + u) - fn(x64 - u))
    return np.nan_to_num(slack, nan=0.0, posinf=0.0)


def row_slack(x64, axis, dtype, keepdims=True):
    """ulp(max|x| of the row) * 2: bounds sum_j |d y_i/d x_j| * ulp(x_j) for the softmax family."""
    with np.errstate(invalid="ignore"):
        m = np.max(np.where(np.isfinite(x64), np.abs(x64), 0.0), axis=axis, keepdims=keepdims,
                   initial=0.0)
    return 2 * _ulp(m, dtype)


def row_backward_slack(name, arrays64, dtype):
    """eps times the sum of the absolute terms of the backward formula (a dot-product bound)."""
    eps = float(np.finfo(dtype).eps)
    with np.errstate(all="ignore"):
        if name == "softmax":
            g, y = arrays64
            return eps * np.abs(y) * (np.abs(g) + np.sum(np.abs(g * y), axis=-1, keepdims=True))
        if name == "log_softmax":
            g, y = arrays64
            return eps * (np.abs(g) + np.exp(y) * np.sum(np.abs(g), axis=-1, keepdims=True))
        g, x, y = arrays64
        b = g[..., None] * np.exp(x - y[..., None])
        return np.nan_to_num(eps * np.abs(b) * (np.abs(x) + np.abs(y[..., None]) + 1), nan=0.0)
