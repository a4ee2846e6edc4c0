# cython: language_level=3
# Scalar math of every elementwise op, forward and backward, for the Cython backend.
#
# One fused-type function per op and direction (the same math as
# fastact/_numba/elementwise.py); the loops over them are generated from
# _kernels.pyx.tp.  Every constant is cast to the input's type: a bare literal
# is a C double and would halve the float32 vector width.  Comparisons are
# arranged so that NaN falls into the formula branch and propagates.
#
# Conventions: forward f(x, params...), backward b(g, x_or_y, params...).

from libc.math cimport INFINITY, NAN, fabs, fabsf
from libc.math cimport exp as c_exp, expf as c_expf, expm1 as c_expm1, expm1f as c_expm1f
from libc.math cimport log1p as c_log1p, log1pf as c_log1pf, tanh as c_tanh, tanhf as c_tanhf
from libc.math cimport erfc as c_erfc, erfcf as c_erfcf

ctypedef fused real:
    float
    double

# The elementary functions, one place to swap in vectorisable versions.
cdef inline real _exp(real x) noexcept nogil:
    if real is float:
        return c_expf(x)
    else:
        return c_exp(x)

cdef inline real _expm1(real x) noexcept nogil:
    if real is float:
        return c_expm1f(x)
    else:
        return c_expm1(x)

cdef inline real _log1p(real x) noexcept nogil:
    if real is float:
        return c_log1pf(x)
    else:
        return c_log1p(x)

cdef inline real _tanh(real x) noexcept nogil:
    if real is float:
        return c_tanhf(x)
    else:
        return c_tanh(x)

cdef inline real _erfc(real x) noexcept nogil:
    if real is float:
        return c_erfcf(x)
    else:
        return c_erfc(x)

cdef inline real _abs(real x) noexcept nogil:
    if real is float:
        return fabsf(x)
    else:
        return fabs(x)

cdef inline real _sigmoid(real x) noexcept nogil:
    """sigmoid(x) without overflow."""
    cdef real e = _exp(-_abs(x))
    cdef real r = <real>1 / (<real>1 + e)
    return r if x >= 0 else e * r

cdef inline real _sigmoid_neg(real x) noexcept nogil:
    """sigmoid(-x) without cancellation."""
    cdef real e = _exp(-_abs(x))
    cdef real r = <real>1 / (<real>1 + e)
    return e * r if x >= 0 else r

cdef inline real _at_inf(real x, real value, real at_neg_inf, real at_pos_inf) noexcept nogil:
    """value, or the limits where x = +-inf (NaN stays in value)."""
    if _abs(x) == INFINITY:
        return at_pos_inf if x > 0 else at_neg_inf
    return value

# --- relu family ---------------------------------------------------------------

cdef inline real relu(real x) noexcept nogil:
    return x if (x > 0 or x != x) else <real>0

cdef inline real relu_backward(real g, real x) noexcept nogil:
    return g * (<real>1 if x > 0 else (x if x != x else <real>0))

cdef inline real leaky_relu(real x, real s) noexcept nogil:
    if x > 0 or x != x:
        return x
    return s * x if s != 0 else <real>0  # the limit 0 at -inf when s = 0, not 0*inf

cdef inline real leaky_relu_backward(real g, real x, real s) noexcept nogil:
    return g * (<real>1 if x > 0 else (x if x != x else s))

cdef inline real hardsigmoid(real x) noexcept nogil:
    if x <= <real>-3:
        return 0
    if x >= <real>3:
        return 1
    return x / <real>6 + <real>0.5

cdef inline real hardsigmoid_backward(real g, real x) noexcept nogil:
    cdef real d = (<real>1 / <real>6) if (x > <real>-3 and x < <real>3) else (x if x != x else <real>0)
    return g * d

cdef inline real hardswish(real x) noexcept nogil:
    if x <= <real>-3:
        return 0
    if x >= <real>3:
        return x
    return x * (x + <real>3) / <real>6

cdef inline real hardswish_backward(real g, real x) noexcept nogil:
    cdef real d
    if x <= <real>-3:
        d = 0
    elif x >= <real>3:
        d = 1
    else:
        d = (<real>2 * x + <real>3) / <real>6
    return g * d

# --- exponential linear units --------------------------------------------------

cdef inline real elu(real x, real alpha) noexcept nogil:
    return x if x > 0 else alpha * _expm1(x)

cdef inline real elu_backward(real g, real x, real alpha) noexcept nogil:
    return g * (<real>1 if x > 0 else alpha * _exp(x))

cdef inline real selu(real x) noexcept nogil:
    return (<real>1.0507009873554804934193349852946 * x if x > 0
            else <real>1.7580993408473768599402175208123 * _expm1(x))

cdef inline real selu_backward(real g, real x) noexcept nogil:
    return g * (<real>1.0507009873554804934193349852946 if x > 0
                else <real>1.7580993408473768599402175208123 * _exp(x))

cdef inline real celu(real x, real alpha) noexcept nogil:
    return x if x > 0 else alpha * _expm1(x / alpha)

cdef inline real celu_backward(real g, real x, real alpha) noexcept nogil:
    return g * (<real>1 if x > 0 else _exp(x / alpha))

# --- sigmoid-shaped ------------------------------------------------------------

cdef inline real sigmoid(real x) noexcept nogil:
    return _sigmoid(x)

cdef inline real sigmoid_backward(real g, real y) noexcept nogil:
    return g * (y * (<real>1 - y))

cdef inline real tanh(real x) noexcept nogil:
    return _tanh(x)

cdef inline real tanh_backward(real g, real y) noexcept nogil:
    return g * ((<real>1 - y) * (<real>1 + y))

cdef inline real silu(real x) noexcept nogil:
    return _at_inf(x, x * _sigmoid(x), <real>0, x)

cdef inline real silu_backward(real g, real x) noexcept nogil:
    return g * _at_inf(x, _sigmoid(x) * (<real>1 + x * _sigmoid_neg(x)), <real>0, <real>1)

cdef inline real softplus(real x, real beta, real threshold) noexcept nogil:
    cdef real z = beta * x
    if z > threshold:
        return x
    return ((z if z > 0 else <real>0) + _log1p(_exp(-_abs(z)))) / beta

cdef inline real softplus_backward(real g, real x, real beta, real threshold) noexcept nogil:
    cdef real z = beta * x
    if z > threshold:
        return g
    return g * _sigmoid(z)

cdef inline real _mish_t(real x) noexcept nogil:
    """tanh(softplus(x)) (see reference._mish_parts)."""
    cdef real e = _exp(-_abs(x))
    cdef real r, n
    if x > 0:
        r = e * e / (<real>1 + <real>2 * e)
        return <real>1 / (<real>1 + <real>2 * r)
    n = e * (e + <real>2)
    return n / (n + <real>2)

cdef inline real _mish_one_minus_t2(real x) noexcept nogil:
    """1 - tanh(softplus(x))**2 without cancellation."""
    cdef real e = _exp(-_abs(x))
    cdef real r, n, q
    if x > 0:
        r = e * e / (<real>1 + <real>2 * e)
        q = <real>1 + <real>2 * r
        return <real>4 * r * (<real>1 + r) / (q * q)
    n = e * (e + <real>2)
    q = n + <real>2
    return <real>4 * (n + <real>1) / (q * q)

cdef inline real mish(real x) noexcept nogil:
    return _at_inf(x, x * _mish_t(x), <real>0, x)

cdef inline real mish_backward(real g, real x) noexcept nogil:
    return g * _at_inf(x, _mish_t(x) + x * _sigmoid(x) * _mish_one_minus_t2(x), <real>0, <real>1)

# --- GELU ------------------------------------------------------------------------

cdef inline real _gelu_tanh_arg(real x) noexcept nogil:
    """2u with u = sqrt(2/pi)(x + 0.044715 x^3): 0.5(1 + tanh(u)) = sigmoid(2u)."""
    return <real>1.5957691216057308 * (x * (<real>1 + <real>0.044715 * (x * x)))

cdef inline real gelu_tanh(real x) noexcept nogil:
    return _at_inf(x, x * _sigmoid(_gelu_tanh_arg(x)), <real>0, x)

cdef inline real gelu_tanh_backward(real g, real x) noexcept nogil:
    cdef real t = _gelu_tanh_arg(x)
    cdef real dt = <real>1.5957691216057308 * (<real>1 + <real>0.134145 * (x * x))
    cdef real s = _sigmoid(t)
    cdef real d = s + (x * s * _sigmoid_neg(t)) * dt
    if _abs(x) >= <real>1e10:  # s*(1-s) is 0 there while x*dt overflows
        d = <real>1 if x > 0 else <real>0
    return g * d

cdef inline real gelu(real x) noexcept nogil:
    cdef real cdf = <real>0.5 * _erfc(-x * <real>0.70710678118654752440)
    return _at_inf(x, x * cdf, <real>0, x)

cdef inline real gelu_backward(real g, real x) noexcept nogil:
    cdef real cdf = <real>0.5 * _erfc(-x * <real>0.70710678118654752440)
    cdef real pdf = <real>0.39894228040143267794 * _exp(<real>-0.5 * (x * x))
    return g * _at_inf(x, cdf + x * pdf, <real>0, <real>1)
