"""Special functions for the float64 reference: erfc, the normal CDF, exp(-x^2/2).

NumPy has no erf/erfc; libm's (through the math module, per element) is accurate
to about 1 ulp.  The split-square trick keeps exp(-x^2/2) accurate where x^2
itself would round: x^2 = hi^2 + lo*(2*hi + lo) with hi^2 exact.
"""

from __future__ import annotations

import math

import numpy as np

_erfc = np.frompyfunc(math.erfc, 1, 1)
_SQRT1_2 = 0.70710678118654752440084436210485


def erfc(x):
    """Complementary error function, elementwise, float64."""
    return np.asarray(_erfc(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def ndtr(x):
    """Standard normal CDF Phi(x) = erfc(-x/sqrt(2))/2, accurate in relative terms in the tail."""
    return 0.5 * erfc(-np.asarray(x, dtype=np.float64) * _SQRT1_2)


def exp_neg_half_square(x):
    """exp(-x^2/2) to about 1 ulp: the rounding of x^2 would cost x^2*eps relative."""
    x = np.abs(np.asarray(x, dtype=np.float64))
    hi = np.where(np.isfinite(x), np.floor(x * 2.0**26) * 2.0**-26, x)  # hi^2 is exact
    lo = x - hi
    with np.errstate(invalid="ignore", over="ignore"):
        result = np.exp(-0.5 * hi * hi) * np.exp(-0.5 * lo * (2.0 * hi + lo))
    return np.where(x < 40.0, result, 0.0)  # exp(-800) underflows; hi*hi may overflow
