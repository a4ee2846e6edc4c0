"""The NumPy reference: readable, accurate implementations of every op.

This is the oracle the fast backends are differential-tested against, the
backend called 'numpy', and the fallback for any input a fast backend does not
handle.  Every function computes in float64 whatever its input (float32 results
are therefore the float64 values correctly rounded, up to the float64 error) and
returns the result type of its array arguments (integers and bools counting as
float64, as in fastact's own rule).  The functions here do no input
validation: ``fastact.<op>(..., backend='numpy')`` is the checked public API.

Accuracy: about 1 ulp of float64 under the mixed bound
|y - f(x)| <= k*ulp(f(x)) + k*ulp(x)*|f'(x)| (see tests/test_reference.py for
the measured figures).  The naive textbook formulas are not accurate enough, and
each stable form below says why it is needed.
"""

from __future__ import annotations

import functools

import numpy as np

from fastact import _special
from fastact.catalogue import CONSTANTS

__all__ = [
    "relu", "relu_backward", "leaky_relu", "leaky_relu_backward",
    "prelu", "prelu_backward", "elu", "elu_backward", "selu", "selu_backward",
    "celu", "celu_backward", "gelu", "gelu_backward", "sigmoid", "sigmoid_backward",
    "tanh", "tanh_backward", "silu", "silu_backward", "swish", "swish_backward",
    "softplus", "softplus_backward", "mish", "mish_backward",
    "hardsigmoid", "hardsigmoid_backward", "hardswish", "hardswish_backward",
    "softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
    "logsumexp", "logsumexp_backward", "maxout", "maxout_backward",
]

# The op table's constants (every backend takes the same bits from there)
SELU_SCALE = CONSTANTS["SELU_SCALE"]
_SELU_SCALE_ALPHA = CONSTANTS["SELU_SCALE_ALPHA"]  # one constant in selu's negative branch
_SQRT_2_OVER_PI_X2 = CONSTANTS["SQRT_2_OVER_PI_X2"]
_GELU_TANH_C = CONSTANTS["GELU_TANH_C"]
_GELU_TANH_3C = CONSTANTS["GELU_TANH_3C"]
_GELU_TANH_CUTOFF = CONSTANTS["GELU_TANH_BACKWARD_CUTOFF"]
_INV_SQRT_2PI = CONSTANTS["INV_SQRT_2PI"]


def _float64_math(n_arrays):
    """Run the wrapped function on float64 copies of its first ``n_arrays`` arguments.

    The result (or each result of a tuple) is cast back to the result type of
    those arguments, integer and boolean ones counting as float64 (fastact's rule,
    fastact._validate.result_dtype: int8 and float16 give float64, not NumPy's float16).
    Floating-point warnings are silenced: inf*0 and friends are resolved explicitly below.
    """

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            arrays = [np.asarray(a) for a in args[:n_arrays]]
            dtype = np.result_type(*[a.dtype if a.dtype.kind == "f" else np.float64
                                     for a in arrays])
            args = [a.astype(np.float64, copy=False) for a in arrays] + list(args[n_arrays:])
            with np.errstate(all="ignore"):  # also the cast: beyond float16's range is inf
                result = fn(*args, **kwargs)
                if isinstance(result, tuple):
                    return tuple(np.asarray(r).astype(dtype, copy=False) for r in result)
                return np.asarray(result).astype(dtype, copy=False)

        return wrapper

    return decorate


def _nan_where_nan(x, d):
    """``d`` with NaN wherever ``x`` is NaN (a comparison with NaN is just False)."""
    return np.where(np.isnan(x), np.nan, d)


def _limits_at_inf(x, value, at_neg_inf, at_pos_inf):
    """``value`` with its limits put back where x = ±inf (where 0*inf gave NaN)."""
    return np.where(x == -np.inf, at_neg_inf, np.where(x == np.inf, at_pos_inf, value))


def _sigmoid(x):
    # 1/(1 + exp(-x)) overflows exp for x << 0; exp(x)/(1 + exp(x)) there instead.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _scaled(x, s):
    """s*x for x <= 0, with the limit 0 where s = 0 and x = -inf (not NaN)."""
    return np.where((s == 0) & ~np.isnan(x), 0.0, s * x)


# --- relu and its piecewise-linear relatives ---------------------------------

@_float64_math(1)
def relu(x):
    return np.maximum(x, 0.0)


@_float64_math(2)
def relu_backward(grad_output, x):
    return grad_output * _nan_where_nan(x, np.where(x > 0, 1.0, 0.0))


@_float64_math(1)
def leaky_relu(x, negative_slope=0.01):
    return np.where(x > 0, x, _scaled(x, negative_slope))


@_float64_math(2)
def leaky_relu_backward(grad_output, x, negative_slope=0.01):
    return grad_output * _nan_where_nan(x, np.where(x > 0, 1.0, negative_slope))


def _channel_weight(weight, ndim, axis):
    """Weight shaped to broadcast along ``axis`` of an ``ndim``-d input."""
    weight = np.asarray(weight)
    if weight.size == 1:
        return weight.reshape(())
    shape = [1] * ndim
    shape[axis] = weight.size
    return weight.reshape(shape)


@_float64_math(2)
def prelu(x, weight, axis=1):
    w = _channel_weight(weight, x.ndim, axis)
    return np.where(x > 0, x, _scaled(x, w))


@_float64_math(3)
def prelu_backward(grad_output, x, weight, axis=1):
    w = _channel_weight(weight, x.ndim, axis)
    grad_input = grad_output * _nan_where_nan(x, np.where(x > 0, 1.0, w))
    # d prelu/d w = x where x <= 0 (and NaN where x is NaN).
    per_element = np.where(x > 0, 0.0, x * grad_output)
    if np.asarray(weight).size == 1:
        grad_weight = per_element.sum()
    else:
        others = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
        grad_weight = per_element.sum(axis=others)
    return grad_input, np.reshape(grad_weight, np.shape(weight))


@_float64_math(1)
def hardsigmoid(x):
    return np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, x / 6.0 + 0.5))


@_float64_math(2)
def hardsigmoid_backward(grad_output, x):
    return grad_output * _nan_where_nan(x, np.where((x > -3) & (x < 3), 1.0 / 6.0, 0.0))


@_float64_math(1)
def hardswish(x):
    return np.where(x <= -3, 0.0, np.where(x >= 3, x, x * (x + 3.0) / 6.0))


@_float64_math(2)
def hardswish_backward(grad_output, x):
    # The kinks take the one-sided values 0 at -3 and 1 at +3 (PyTorch: -0.5, 1.5).
    d = np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, (2.0 * x + 3.0) / 6.0))
    return grad_output * d


# --- exponential linear units ------------------------------------------------

@_float64_math(1)
def elu(x, alpha=1.0):
    # expm1, not exp(x) - 1, which cancels for small |x|.
    return np.where(x > 0, x, alpha * np.expm1(x))


@_float64_math(2)
def elu_backward(grad_output, x, alpha=1.0):
    return grad_output * np.where(x > 0, 1.0, alpha * np.exp(x))


@_float64_math(1)
def selu(x):
    return np.where(x > 0, SELU_SCALE * x, _SELU_SCALE_ALPHA * np.expm1(x))


@_float64_math(2)
def selu_backward(grad_output, x):
    return grad_output * np.where(x > 0, SELU_SCALE, _SELU_SCALE_ALPHA * np.exp(x))


@_float64_math(1)
def celu(x, alpha=1.0):
    # max(0, x) + min(0, alpha*expm1(x/alpha)) is this select for any alpha != 0.
    return np.where(x > 0, x, alpha * np.expm1(x / alpha))


@_float64_math(2)
def celu_backward(grad_output, x, alpha=1.0):
    return grad_output * np.where(x > 0, 1.0, np.exp(x / alpha))


# --- sigmoid-shaped ----------------------------------------------------------

@_float64_math(1)
def sigmoid(x):
    return _sigmoid(x)


@_float64_math(2)
def sigmoid_backward(grad_output, y):
    return grad_output * (y * (1.0 - y))


@_float64_math(1)
def tanh(x):
    return np.tanh(x)


@_float64_math(2)
def tanh_backward(grad_output, y):
    # (1 - y)(1 + y), not 1 - y*y, which cancels as |y| -> 1.
    return grad_output * ((1.0 - y) * (1.0 + y))


@_float64_math(1)
def silu(x):
    return _limits_at_inf(x, x * _sigmoid(x), 0.0, np.inf)


@_float64_math(2)
def silu_backward(grad_output, x):
    d = _sigmoid(x) * (1.0 + x * _sigmoid(-x))
    return grad_output * _limits_at_inf(x, d, 0.0, 1.0)


swish = silu
swish_backward = silu_backward


@_float64_math(1)
def softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    # log(1 + exp(z)) overflows for large z; max(z, 0) + log1p(exp(-|z|)) does not, and
    # max(z, 0)/beta = max(x, 0) even where z = beta*x overflows.
    smooth = np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(z))) / beta
    return np.where(z > threshold, x, smooth)


@_float64_math(2)
def softplus_backward(grad_output, x, beta=1.0, threshold=20.0):
    z = beta * x
    return grad_output * np.where(z > threshold, 1.0, _sigmoid(z))


def _mish_parts(x):
    """tanh(softplus(x)) and 1 - tanh(softplus(x))**2, without cancellation.

    With n = e^x (e^x + 2), tanh(softplus(x)) = n/(n + 2).  For x > 0, n
    overflows, so use r = 1/n = e^-2x/(1 + 2 e^-x): t = 1/(1 + 2r) and
    1 - t^2 = 4r(1 + r)/(1 + 2r)^2, which stays accurate where t rounds to 1.
    """
    e = np.exp(-np.abs(x))
    n = e * (e + 2.0)                      # x <= 0
    r = e * e / (1.0 + 2.0 * e)            # x > 0
    t = np.where(x > 0, 1.0 / (1.0 + 2.0 * r), n / (n + 2.0))
    one_minus_t2 = np.where(x > 0, 4.0 * r * (1.0 + r) / (1.0 + 2.0 * r) ** 2,
                            4.0 * (n + 1.0) / (n + 2.0) ** 2)
    return t, one_minus_t2


@_float64_math(1)
def mish(x):
    t, _ = _mish_parts(x)
    return _limits_at_inf(x, x * t, 0.0, np.inf)


@_float64_math(2)
def mish_backward(grad_output, x):
    t, one_minus_t2 = _mish_parts(x)
    d = t + x * _sigmoid(x) * one_minus_t2
    # For x < 0 those two terms cancel (0.10 and -0.21 at x = -2.25: 4 ulp off).  Over the
    # common denominator, with e = e^x: mish'(x) = e w/(e^2 + 2e + 2)^2, where the terms of
    # w = 4(x + 1) + e(6 + 4x + e(4 + e)) cancel only near mish's minimum (x = -1.19).
    xn = np.maximum(x, -1e4)  # where e is 0 anyway: 4x does not overflow (NaN stays NaN)
    e = np.exp(xn)
    w = 4.0 * (xn + 1.0) + e * (6.0 + 4.0 * xn + e * (4.0 + e))
    d = np.where(x < 0, e * w / (e * (e + 2.0) + 2.0) ** 2, d)
    return grad_output * _limits_at_inf(x, d, 0.0, 1.0)


# --- GELU --------------------------------------------------------------------

def _gelu_tanh_arg(x):
    """2u with u = sqrt(2/pi)(x + 0.044715 x^3): 0.5(1 + tanh(u)) = sigmoid(2u)."""
    return _SQRT_2_OVER_PI_X2 * (x * (1.0 + _GELU_TANH_C * (x * x)))


# The tanh form's derivative in np.longdouble (64-bit mantissa on x86-64 Linux):
# near its minimum (x = -1.5, where the float64 mixed bound's slack is 0) a float64
# evaluation is 8 ulp off, because t's rounding is amplified 2.3-fold through sigmoid(t)
# and the two terms then partly cancel.  Eleven more bits make the oracle ~0.3 ulp there.
# Where longdouble is float64 (Windows, macOS on arm64) this is the float64 formula.
_WIDE_SQRT_2_OVER_PI_X2 = np.longdouble("1.5957691216057307117597842397375")
_WIDE_GELU_TANH_C = np.longdouble(repr(_GELU_TANH_C))
_WIDE_GELU_TANH_3C = np.longdouble(repr(_GELU_TANH_3C))


def _gelu_tanh_derivative(x):
    """d/dx of x*sigmoid(t), t = 2u: sigmoid(t) + x sigmoid(t) sigmoid(-t) dt/dx."""
    w = np.asarray(x, dtype=np.longdouble)
    t = _WIDE_SQRT_2_OVER_PI_X2 * (w * (1 + _WIDE_GELU_TANH_C * (w * w)))
    dt = _WIDE_SQRT_2_OVER_PI_X2 * (1 + _WIDE_GELU_TANH_3C * (w * w))
    # sigmoid(t)*sigmoid(-t) is sigmoid's derivative without 1 - s cancelling; beyond
    # the cutoff it is 0 while x*dt overflows, so use the limits there (as the kernels).
    s, s_neg = _sigmoid(t), _sigmoid(-t)
    d = (s * (1 + w * s_neg * dt)).astype(np.float64)
    return np.where(np.abs(x) >= _GELU_TANH_CUTOFF, np.where(x > 0, 1.0, 0.0), d)


@_float64_math(1)
def gelu(x, approximate="none"):
    # 0.5x(1 + erf(x/sqrt2)) and 0.5x(1 + tanh(u)) cancel catastrophically for
    # x < -4; Phi via erfc and sigmoid(2u) keep full relative accuracy there.
    if approximate == "tanh":
        cdf = _sigmoid(_gelu_tanh_arg(x))
    else:
        cdf = _special.ndtr(x)
    return _limits_at_inf(x, x * cdf, 0.0, np.inf)


@_float64_math(2)
def gelu_backward(grad_output, x, approximate="none"):
    if approximate == "tanh":
        d = _gelu_tanh_derivative(x)
    else:
        pdf = _special.exp_neg_half_square(x) * _INV_SQRT_2PI
        d = _limits_at_inf(x, _special.ndtr(x) + x * pdf, 0.0, 1.0)
    return grad_output * d


# --- row ops -----------------------------------------------------------------

def _sum(a, axis):
    """Sum along ``axis`` (kept, length 1), pairwise whatever the layout.

    NumPy sums pairwise only along a contiguous axis; along a strided one (softmax down
    the columns of a C-ordered array) it adds term after term, and logsumexp of a column
    of 65541 float64 entries was 316 ulp off (the compiled backends: 1 ulp).
    """
    return np.expand_dims(np.sum(np.ascontiguousarray(np.moveaxis(a, axis, -1)), axis=-1), axis)


def _shifted(x, axis):
    """x - max(x) along axis; a NaN or +inf row becomes all NaN, as it should."""
    return x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)


def _log_sum_exp_shifted(shifted, axis):
    """log(sum(exp(shifted))) for rows whose maximum is 0.

    The maximum contributes exactly 1, so this is log1p of the other terms:
    log(1 + small) would lose small's digits (log_softmax of the largest entry
    is -small, and would be wrong in every digit).
    """
    e = np.exp(shifted)
    if shifted.shape[axis]:
        first_max = np.expand_dims(np.argmax(shifted, axis=axis), axis)
        np.put_along_axis(e, first_max, 0.0, axis=axis)
        # argmax picks a NaN (from NaN or +inf in the row) first: keep the row NaN
        nan_row = np.isnan(np.take_along_axis(shifted, first_max, axis=axis))
        return np.where(nan_row, np.nan, np.log1p(_sum(e, axis)))
    return np.log(_sum(e, axis))


@_float64_math(1)
def softmax(x, axis=-1):
    e = np.exp(_shifted(x, axis))
    return e / _sum(e, axis)


@_float64_math(2)
def softmax_backward(grad_output, y, axis=-1):
    return y * (grad_output - _sum(grad_output * y, axis))


@_float64_math(1)
def log_softmax(x, axis=-1):
    shifted = _shifted(x, axis)
    return shifted - _log_sum_exp_shifted(shifted, axis)


@_float64_math(2)
def log_softmax_backward(grad_output, y, axis=-1):
    return grad_output - np.exp(y) * _sum(grad_output, axis)


@_float64_math(1)
def logsumexp(x, axis=-1, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    # Shift by a finite max only: an all -inf row then sums to 0 (log: -inf) and
    # a row with +inf to inf, where x - max(x) would give NaN.
    finite = np.isfinite(m)
    m = np.where(finite, m, 0.0)
    shifted = x - m
    result = m + np.where(finite, _log_sum_exp_shifted(shifted, axis),
                          np.log(_sum(np.exp(shifted), axis)))
    return result if keepdims else np.squeeze(result, axis=axis)


@_float64_math(3)
def logsumexp_backward(grad_output, x, y, axis=-1, keepdims=False):
    if not keepdims:
        grad_output = np.expand_dims(grad_output, axis)
        y = np.expand_dims(y, axis)
    # A row with +inf has a NaN softmax, so a NaN gradient (x - y alone would
    # give 0 at its finite entries).
    y = np.where(y == np.inf, np.nan, y)
    return grad_output * np.exp(x - y)


def _groups(x, pieces, axis):
    """x with ``axis`` moved last and split into (groups, pieces)."""
    moved = np.moveaxis(x, axis, -1)
    return moved.reshape(moved.shape[:-1] + (moved.shape[-1] // pieces, pieces))


@_float64_math(1)
def maxout(x, pieces, axis=-1):
    return np.moveaxis(np.max(_groups(x, pieces, axis), axis=-1), -1, axis)


@_float64_math(2)
def maxout_backward(grad_output, x, pieces, axis=-1):
    groups = _groups(x, pieces, axis)
    winner = np.argmax(groups, axis=-1)  # the first maximum; the first NaN if any
    onehot = np.arange(pieces) == winner[..., None]
    grad = np.moveaxis(grad_output, axis, -1)[..., None] * onehot
    # NaN in a group makes its whole gradient NaN, as NaN in x does elementwise.
    grad = np.where(np.isnan(groups).any(axis=-1, keepdims=True), np.nan, grad)
    moved_shape = groups.shape[:-2] + (groups.shape[-2] * pieces,)
    return np.moveaxis(grad.reshape(moved_shape), -1, axis)
