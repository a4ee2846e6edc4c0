"""High-precision oracles (mpmath) and the mixed-bound error measure.

Error of a computed y against the exact f(x), in ulps under the mixed bound
|y - f(x)| <= k*ulp(f(x)) + k*ulp(x)*|f'(x)|: the smallest such k.  The second
term judges an ill-conditioned point fairly (a result is as good as the input
allows), so tails such as GELU's far negative one are held to it too.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

from fastact.catalogue import SELU_ALPHA, SELU_SCALE  # noqa: F401  (float64 values)

mp.mp.dps = 60
_SELU_ALPHA = mp.mpf("1.6732632423543772848170429916717")
_SELU_SCALE = mp.mpf("1.0507009873554804934193349852946")


def _sigmoid(x):
    return 1 / (1 + mp.exp(-x))


def _phi(x):
    return mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)


def _Phi(x):
    if abs(x) > 1e6:  # mpmath's erfc overflows near 1e308; the tails are exact enough here
        return mp.mpf(1) - _phi(x) / x if x > 0 else _phi(x) / -x
    return mp.erfc(-x / mp.sqrt(2)) / 2


_K = mp.sqrt(2 / mp.pi)
_C = mp.mpf("0.044715")


def _gelu_tanh(x):
    u = _K * (x + _C * x ** 3)
    return x * _sigmoid(2 * u)


def _gelu_tanh_d(x):
    u = _K * (x + _C * x ** 3)
    s = _sigmoid(2 * u)
    return s + x * s * (1 - s) * 2 * _K * (1 + 3 * _C * x * x)


def _softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    return x if z > threshold else mp.log1p(mp.exp(z)) / beta


def _softplus_d(x, beta=1.0, threshold=20.0):
    z = beta * x
    return mp.mpf(1) if z > threshold else _sigmoid(z)


def _mish(x):
    return x * mp.tanh(mp.log1p(mp.exp(x)))


def _mish_d(x):
    t = mp.tanh(mp.log1p(mp.exp(x)))
    return t + x * _sigmoid(x) * (1 - t * t)


def _piecewise(cond, a, b):
    return a if cond else b


# op name -> (f(x, **params), f'(x, **params)) for ops whose backward takes x;
# for sigmoid and tanh the backward is checked as a function of y instead.
FORWARD = {
    "relu": (lambda x: max(x, 0), lambda x: _piecewise(x > 0, mp.mpf(1), mp.mpf(0))),
    "leaky_relu": (
        lambda x, negative_slope=0.01: _piecewise(x > 0, x, negative_slope * x),
        lambda x, negative_slope=0.01: _piecewise(x > 0, mp.mpf(1), mp.mpf(negative_slope))),
    "elu": (
        lambda x, alpha=1.0: _piecewise(x > 0, x, alpha * mp.expm1(x)),
        lambda x, alpha=1.0: _piecewise(x > 0, mp.mpf(1), alpha * mp.exp(x))),
    "selu": (
        lambda x: _SELU_SCALE * _piecewise(x > 0, x, _SELU_ALPHA * mp.expm1(x)),
        lambda x: _SELU_SCALE * _piecewise(x > 0, mp.mpf(1), _SELU_ALPHA * mp.exp(x))),
    "celu": (
        lambda x, alpha=1.0: _piecewise(x > 0, x, alpha * mp.expm1(x / alpha)),
        lambda x, alpha=1.0: _piecewise(x > 0, mp.mpf(1), mp.exp(x / alpha))),
    "gelu": (
        lambda x, approximate="none": x * _Phi(x) if approximate == "none" else _gelu_tanh(x),
        lambda x, approximate="none": (_Phi(x) + x * _phi(x)) if approximate == "none"
        else _gelu_tanh_d(x)),
    "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    "tanh": (mp.tanh, lambda x: 1 - mp.tanh(x) ** 2),
    "silu": (lambda x: x * _sigmoid(x), lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))),
    "softplus": (_softplus, _softplus_d),
    "mish": (_mish, _mish_d),
    "hardsigmoid": (
        lambda x: mp.mpf(0) if x <= -3 else (mp.mpf(1) if x >= 3 else x / 6 + mp.mpf(1) / 2),
        lambda x: mp.mpf(1) / 6 if -3 < x < 3 else mp.mpf(0)),
    "hardswish": (
        lambda x: mp.mpf(0) if x <= -3 else (x if x >= 3 else x * (x + 3) / 6),
        lambda x: mp.mpf(0) if x <= -3 else (mp.mpf(1) if x >= 3 else (2 * x + 3) / 6)),
}

# Backward of the ops that take the forward output y: b(y) = derivative in terms of y.
BACKWARD_OF_Y = {
    "sigmoid": (lambda y: y * (1 - y), lambda y: 1 - 2 * y),
    "tanh": (lambda y: (1 - y) * (1 + y), lambda y: -2 * y),
}


def second_derivative(df, x, **params):
    """f''(x) by a central difference of the exact f' (h tiny: never crosses a kink in practice)."""
    h = (abs(x) + mp.mpf("1e-300")) * mp.mpf("1e-25")
    return (df(x + h, **params) - df(x - h, **params)) / (2 * h)


def ulp(values, dtype=np.float64):
    """ulp of each value in ``dtype`` (the spacing at its magnitude; the least subnormal at 0)."""
    v = np.abs(np.asarray(values, dtype=dtype))
    return np.spacing(v).astype(np.float64)


def mixed_ulps(computed, exact, slack):
    """Smallest k with |computed - exact| <= k*(ulp(exact) + slack), elementwise.

    ``exact`` is a list of mpmath numbers (or float64 values for a float32
    check), ``slack`` is the ulp(x)*|f'(x)| part of the bound, in float64.
    Matching non-finite values count as exact; a mismatch counts as inf.
    Underflow: where the exact value is below the smallest normal number, a
    result within that number of it counts as exact (flush-to-zero allowed,
    and the few bits a subnormal carries are not judged).
    """
    dtype = np.asarray(computed).dtype
    computed = np.asarray(computed, dtype=np.float64).ravel()
    exact_f = np.array([float(e) for e in exact], dtype=np.float64)
    errors = np.empty(computed.size)
    denominators = ulp(exact_f.astype(dtype), dtype) + np.asarray(slack, dtype=np.float64).ravel()
    tiny = float(np.finfo(dtype).tiny)
    for i, (c, e) in enumerate(zip(computed, exact)):
        ef = exact_f[i]
        if not np.isfinite(c) or not np.isfinite(ef):
            errors[i] = 0.0 if (c == ef or (np.isnan(c) and np.isnan(ef))) else np.inf
            continue
        diff = abs(mp.mpf(float(c)) - e) if isinstance(e, mp.mpf) else abs(c - ef)
        if abs(ef) < tiny and diff <= tiny:
            diff = 0
        errors[i] = float(diff / denominators[i]) if diff else 0.0
    return errors


def float64_grid() -> np.ndarray:
    """Points over every exponent and the tails, both signs, kinks' neighbours (>= 1000 points)."""
    mags = np.concatenate([
        np.logspace(-307, 2.85, 500),          # all exponents up to ~700
        [5e-324, 1e-320, 2.2250738585072014e-308, 1e3, 1e5, 1e10, 1e100, 1e300, 1.7e308],
    ])
    dense = np.linspace(-40, 40, 801)
    kinks = []
    for k in (0.0, -3.0, 3.0):
        kinks += [np.nextafter(k, -np.inf), k, np.nextafter(k, np.inf)]
    grid = np.concatenate([mags, -mags, dense, kinks, [0.0, -0.0]])
    return np.unique(grid)
