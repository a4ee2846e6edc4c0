"""Scalar math of every elementwise op, forward and backward, for the Numba backend.

Each function is written once for both float types: ``T = type(x)`` makes
every constant the input's type, so float32 math stays float32 (a bare 0.5
would be a float64 and halve the vector width).  The loops that call these are
generated in ``kernels.py``.  Comparisons are arranged so that NaN falls into
the formula branch and propagates; where the formula would give 0*inf at ±inf,
x is clamped to the largest finite value first (``_no_neg_inf``, ``_finite``).

Conventions: forward ``f(x, *params)``, backward ``b(grad_output, x_or_y, *params)``,
exactly as in the op table; a backward returns grad_output * f'(x).
"""

from __future__ import annotations

import numpy as np

from fastact._numba import vecmath
from fastact.catalogue import CONSTANTS

scalar = vecmath.inlined  # the op scalars: inlined into the loops at Numba-IR level
helper = vecmath.scalar  # their small helpers: plain calls LLVM inlines

# The op table's constants (tests/test_constants.py checks every backend holds their bits)
SELU_SCALE = CONSTANTS["SELU_SCALE"]
_SELU_SCALE_ALPHA = CONSTANTS["SELU_SCALE_ALPHA"]
_SQRT_2_OVER_PI_X2 = CONSTANTS["SQRT_2_OVER_PI_X2"]  # 0.5(1 + tanh(u)) = sigmoid(2u)
_GELU_C_X2 = CONSTANTS["GELU_TANH_C_X2"]
_GELU_3C = CONSTANTS["GELU_TANH_3C"]
_GELU_TANH_CUTOFF = CONSTANTS["GELU_TANH_BACKWARD_CUTOFF"]
_INV_SQRT_2PI = CONSTANTS["INV_SQRT_2PI"]


@helper
def _sigmoids(x):
    """sigmoid(x) and sigmoid(-x), each without cancellation or overflow."""
    T = type(x)
    e = vecmath.exp_neg(-abs(x))
    r = T(1) / (T(1) + e)
    return (r, e * r) if x >= T(0) else (e * r, r)


@helper
def _sigmoid_pair(x):
    """sigmoid(x) and sigmoid(x) sigmoid(-x), without cancellation or overflow: the product
    is e r^2 on both sides of 0 (e = e^-|x|, r = 1/(1 + e)): one select fewer than
    _sigmoids (the Cython twin explains where each is used)."""
    T = type(x)
    e = vecmath.exp_neg(-abs(x))
    r = T(1) / (T(1) + e)
    er = e * r
    return (r if x >= T(0) else er), er * r


@helper
def _no_neg_inf(x):
    """x with -inf raised to -max: x * f(x) is then -0 where f(-inf) = 0, not NaN.

    One max instruction, where testing for inf and selecting the limit took five.
    NaN stays NaN.
    """
    m = vecmath.max_finite(x)
    return -m if x < -m else x


@helper
def _finite(x):
    """x with ±inf clamped to ±max, for x * f(x) where f(±inf) = 0.  NaN becomes ±max: the
    callers' other operands carry it (the Cython twin's fa_clamp_abs says why)."""
    return vecmath.finite(x)


@helper
def _x_sigmoid(x, t):
    """x * sigmoid(t) for t of x's sign, as one division: (x or x e^-|t|) / (1 + e^-|t|)."""
    T = type(x)
    e = vecmath.exp_neg(-abs(t))
    num = x if x >= T(0) else _no_neg_inf(x) * e
    return num / (T(1) + e)


# --- relu family ---------------------------------------------------------------

@scalar
def relu(x):
    T = type(x)
    return x if (x > T(0) or x != x) else T(0)


@scalar
def relu_backward(g, x):
    T = type(x)
    return g * (T(1) if x > T(0) else (x if x != x else T(0)))


@scalar
def leaky_relu(x, s):
    T = type(x)
    if x > T(0) or x != x:
        return x
    return s * x if s != T(0) else T(0)  # the limit 0 at -inf when s = 0, not 0*inf


@scalar
def leaky_relu_backward(g, x, s):
    T = type(x)
    return g * (T(1) if x > T(0) else (x if x != x else s))


@scalar
def hardsigmoid(x):
    # computed, then selected: with early returns LLVM left the float64 loop scalar (3.6
    # against Cython's 40 GB/s at 2^16).  The same operations, the same bits; times 1/6
    # rounded, not divided by 6 (fastact/_cython/scalar.pxd says why).
    T = type(x)
    y = x * (T(1) / T(6)) + T(0.5)
    y = T(0) if x <= T(-3) else y
    return T(1) if x >= T(3) else y


@scalar
def hardsigmoid_backward(g, x):
    T = type(x)
    d = T(1) / T(6) if (x > T(-3) and x < T(3)) else (x if x != x else T(0))
    return g * d


@scalar
def hardswish(x):
    T = type(x)
    y = x * (x + T(3)) * (T(1) / T(6))  # computed, then selected (hardsigmoid says why)
    y = T(0) if x <= T(-3) else y
    return x if x >= T(3) else y


@scalar
def hardswish_backward(g, x):
    T = type(x)
    d = (T(2) * x + T(3)) * (T(1) / T(6))
    d = T(0) if x <= T(-3) else d
    d = T(1) if x >= T(3) else d
    return g * d


# --- exponential linear units --------------------------------------------------

@scalar
def elu(x, alpha):
    T = type(x)
    return x if x > T(0) else alpha * vecmath.expm1_bounded(x)  # x <= 0 used only


@scalar
def elu_backward(g, x, alpha):
    T = type(x)
    return g * (T(1) if x > T(0) else alpha * vecmath.exp_neg(x))


@scalar
def selu(x):
    T = type(x)
    # the product in float64, rounded once (as in the Cython twin)
    positive = T(np.float64(x) * np.float64(SELU_SCALE))
    return positive if x > T(0) else T(_SELU_SCALE_ALPHA) * vecmath.expm1_bounded(x)


@scalar
def selu_backward(g, x):
    T = type(x)
    return g * (T(SELU_SCALE) if x > T(0) else T(_SELU_SCALE_ALPHA) * vecmath.exp_neg(x))


@scalar
def celu(x, alpha):
    T = type(x)
    # alpha > 0 keeps x/alpha <= 0 where it is used: the cheaper expm1 (a loop-invariant
    # test, hoisted out of the loop)
    if alpha > T(0):
        return x if x > T(0) else alpha * vecmath.expm1_bounded(x / alpha)
    return x if x > T(0) else alpha * vecmath.expm1(x / alpha)


@scalar
def celu_backward(g, x, alpha):
    T = type(x)
    t = x / alpha  # alpha > 0: t <= 0 where it is used, so exp_neg (celu says why)
    return g * (T(1) if x > T(0) else (vecmath.exp_neg(t) if alpha > T(0) else vecmath.exp(t)))


# --- sigmoid-shaped ------------------------------------------------------------

@scalar
def sigmoid(x):
    s, _ = _sigmoids(x)
    return s


@scalar
def sigmoid_backward(g, y):
    T = type(y)
    return g * (y * (T(1) - y))


@scalar
def tanh(x):
    return vecmath.tanh(x)


@scalar
def tanh_backward(g, y):
    T = type(y)
    return g * ((T(1) - y) * (T(1) + y))


@scalar
def silu(x):
    return _x_sigmoid(x, x)


@scalar
def silu_backward(g, x):
    T = type(x)
    s, s_neg = _sigmoids(x)
    return g * (s * (T(1) + _finite(x) * s_neg))


@scalar
def softplus(x, beta, threshold):
    T = type(x)
    z = beta * x
    # max(x, 0), not max(z, 0)/beta: z overflows for x near the largest float when beta > 1
    # (threshold=inf then gave inf for a finite x)
    # times 1/beta, computed once by the loop (fastact/_cython/scalar.pxd says why)
    smooth = max(x, T(0)) + vecmath.log1p_unit(vecmath.exp_neg(-abs(z))) * (T(1) / beta)  # computed, then selected
    return x if z > threshold else smooth


@scalar
def softplus_backward(g, x, beta, threshold):
    z = beta * x
    s, _ = _sigmoids(z)
    return g if z > threshold else g * s


@helper
def _mish_parts(x):
    """tanh(softplus(x)) and 1 - tanh(softplus(x))^2, branch-free.

    With e = exp(-|x|) both signs are one rational function t = num/den:
    x > 0: (1 + 2e)/(1 + 2e + 2e^2); x <= 0: (e^2 + 2e)/(e^2 + 2e + 2); and
    1 - t^2 = (den - num)(den + num)/den^2 = 4(1 + e)^2 (e^2 or 1)/den^2.
    """
    T = type(x)
    e = vecmath.exp_neg(-abs(x))
    e2 = e * e
    positive = x > T(0)
    num = (T(1) + T(2) * e) if positive else (e2 + T(2) * e)
    den = num + (T(2) * e2 if positive else T(2))
    inv = T(1) / den
    q = (T(1) + e) * inv
    return num * inv, T(4) * q * q * (e2 if positive else T(1))


@scalar
def mish(x):
    t, _ = _mish_parts(x)
    return _no_neg_inf(x) * t


@scalar
def mish_backward(g, x):
    """mish'(x) = t + x sigmoid(x)(1 - t^2) over the common denominator den^2 (_mish_parts').

    For x <= 0 the two terms cancel (0.10 and -0.21 at x = -2.25: 9 ulp in float32, 12 in
    float64); with e = exp(x) the numerator is e w, w = 4(x + 1) + e(6 + 4x + e(4 + e)),
    whose terms cancel only near mish's minimum (x = -1.19, where the bound allows for it).
    For x > 0, e = exp(-x): num den + 4x(1 + e)e^2, all terms positive.  No sigmoid: one exp.
    """
    T = type(x)
    e = vecmath.exp_neg(-abs(x))
    e2 = e * e
    positive = x > T(0)
    num = (T(1) + T(2) * e) if positive else (e2 + T(2) * e)
    den = num + (T(2) * e2 if positive else T(2))
    # x clamped where e is 0 anyway, so 4x cannot overflow into 0 * inf (NaN stays NaN)
    xn = T(-1e4) if x < T(-1e4) else x
    w = T(4) * (xn + T(1)) + e * (T(6) + T(4) * xn + e * (T(4) + e))
    # e^2 (1 + e) 4 first: 0 for x = +inf, where 4x is inf
    top = (num * den + _finite(x) * (e2 * (T(4) + T(4) * e))) if positive else e * w
    return g * (top / (den * den))


# --- GELU ------------------------------------------------------------------------

@scalar
def gelu_tanh(x):
    T = type(x)
    return _x_sigmoid(x, x * (T(_SQRT_2_OVER_PI_X2) + T(_GELU_C_X2) * (x * x)))


@scalar
def gelu_tanh_backward(g, x):
    T = type(x)
    t = x * (T(_SQRT_2_OVER_PI_X2) + T(_GELU_C_X2) * (x * x))
    dt = T(_SQRT_2_OVER_PI_X2) * (T(1) + T(_GELU_3C) * (x * x))
    s, s_s_neg = _sigmoid_pair(t)
    d = vecmath.muladd(x * s_s_neg, dt, s)
    if abs(x) >= T(_GELU_TANH_CUTOFF):  # s*s_neg is 0 there while x*dt overflows
        d = T(1) if x > T(0) else T(0)
    return g * d


@scalar
def gelu(x):
    """b - t R(t) e^(-t^2/2) in one FMA, b = x for x >= 0, -0 for x < 0 (the Cython twin explains)."""
    T = type(x)
    t = vecmath.gauss_t(x)
    b = T(-0.0) if x < T(0) else x
    return vecmath.muladd(-(t * vecmath.norm_sfx(t)), vecmath.gauss(t), b)


@scalar
def gelu_backward(g, x):
    """The sign and the 1 on x's sign bit (the Cython twin explains)."""
    T = type(x)
    t = vecmath.gauss_t(x)
    r = vecmath.times_sign(vecmath.muladd(t, T(_INV_SQRT_2PI), -vecmath.norm_sfx(t)), x)
    d = vecmath.muladd(vecmath.gauss(t), r, vecmath.one_if_sign_clear(x))
    return g * (x if x != x else d)
