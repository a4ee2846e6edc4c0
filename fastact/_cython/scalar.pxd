# cython: language_level=3, cdivision=True, boundscheck=False, wraparound=False
# Scalar math of every elementwise op, forward and backward, for the Cython backend.
#
# One fused-type function per op and direction (the same math as
# fastact/_numba/elementwise.py); the loops over them are generated from
# _kernels.pyx.tp.  Every constant is cast to the input's type: a bare literal
# is a C double and would halve the float32 vector width.  Comparisons are
# arranged so that NaN falls into the formula branch and propagates.
#
# Conventions: forward f(x, params...), backward b(g, x_or_y, params...).

from libc.float cimport DBL_MAX, FLT_MAX
from libc.math cimport INFINITY, NAN, fabs, fabsf

# The op table's constants (fastact.catalogue.CONSTANTS), in a header setup.py writes:
# one source for every backend's bits.
cdef extern from "constants.h" nogil:
    const double FA_SELU_SCALE
    const double FA_SELU_SCALE_ALPHA
    const double FA_SQRT_2_OVER_PI_X2
    const double FA_GELU_TANH_C_X2
    const double FA_GELU_TANH_3C
    const double FA_GELU_TANH_BACKWARD_CUTOFF
    const double FA_INV_SQRT_2PI

cdef extern from "vecmath.h" nogil:
    float fa_expf(float x) noexcept
    double fa_exp(double x) noexcept
    float fa_exp_negf(float x) noexcept
    double fa_exp_neg(double x) noexcept
    float fa_expm1f(float x) noexcept
    double fa_expm1(double x) noexcept
    float fa_expm1_boundedf(float x) noexcept
    double fa_expm1_bounded(double x) noexcept
    float fa_log1pf(float x) noexcept
    double fa_log1p(double x) noexcept
    float fa_log1p_unitf(float t) noexcept
    float fa_tanh_head_f(float x) noexcept
    double fa_tanh_head_d(double x) noexcept
    float fa_tanh_tail_f(float x, float half_t) noexcept
    double fa_tanh_tail_d(double x, double half_t) noexcept
    float fa_clamp_abs_f(float x, float m) noexcept
    double fa_clamp_abs(double x, double m) noexcept
    float fa_abs_clamp_f(float x, float m) noexcept
    double fa_abs_clamp(double x, double m) noexcept
    float fa_times_sign_f(float v, float x) noexcept
    double fa_times_sign(double v, double x) noexcept
    float fa_one_if_sign_clear_f(float x) noexcept
    double fa_one_if_sign_clear(double x) noexcept
    float fa_select_bits_f(int c, float a, float b) noexcept
    double fa_select_bits_d(int c, double a, double b) noexcept
    const float FA_GAUSS_T_MAX_F
    const double FA_GAUSS_T_MAX
    float fa_gaussf(float t) noexcept
    double fa_gauss(double t) noexcept
    float fa_norm_sfxf(float t) noexcept
    double fa_norm_sfx(double t) noexcept
    float fa_muladd_f(float a, float b, float c) noexcept
    double fa_muladd_d(double a, double b, double c) noexcept

ctypedef fused real:
    float
    double

# The elementary functions: the vectorisable ones of vecmath.h.
cdef inline real _exp(real x) noexcept nogil:
    if real is float:
        return fa_expf(x)
    else:
        return fa_exp(x)

cdef inline real _exp_neg(real x) noexcept nogil:
    """e^x for x <= 0 only (cheaper scaling)."""
    if real is float:
        return fa_exp_negf(x)
    else:
        return fa_exp_neg(x)

cdef inline real _expm1(real x) noexcept nogil:
    if real is float:
        return fa_expm1f(x)
    else:
        return fa_expm1(x)

cdef inline real _expm1_bounded(real x) noexcept nogil:
    """e^x - 1 for x <= 0, the only x its callers use: cheaper, and accurate only there
    (vecmath.h's fa_expm1_f says why)."""
    if real is float:
        return fa_expm1_boundedf(x)
    else:
        return fa_expm1_bounded(x)

cdef inline real _log1p(real x) noexcept nogil:
    if real is float:
        return fa_log1pf(x)
    else:
        return fa_log1p(x)

cdef inline real _log1p_unit(real t) noexcept nogil:
    """log1p(t) for t in [0, 1]: the cheaper series in float (vecmath.h), log1p in double."""
    if real is float:
        return fa_log1p_unitf(t)
    else:
        return fa_log1p(t)

cdef inline real _gauss_max(real x) noexcept nogil:
    """FA_GAUSS_T_MAX in x's type: where e^(-t^2/2) has underflowed."""
    if real is float:
        return FA_GAUSS_T_MAX_F
    else:
        return FA_GAUSS_T_MAX

cdef inline real _gauss(real t) noexcept nogil:
    """e^(-t^2/2) for t in [0, FA_GAUSS_T_MAX], t^2's rounding error included."""
    if real is float:
        return fa_gaussf(t)
    else:
        return fa_gauss(t)

cdef inline real _norm_sfx(real t) noexcept nogil:
    """R(t) = e^(t^2/2) Phi(-t) for t in [0, FA_GAUSS_T_MAX]."""
    if real is float:
        return fa_norm_sfxf(t)
    else:
        return fa_norm_sfx(t)

cdef inline real _muladd(real a, real b, real c) noexcept nogil:
    """a*b + c, fused where the CPU has FMA (vecmath.h says why)."""
    if real is float:
        return fa_muladd_f(a, b, c)
    else:
        return fa_muladd_d(a, b, c)

cdef inline real _abs(real x) noexcept nogil:
    if real is float:
        return fabsf(x)
    else:
        return fabs(x)

# The sigmoid-shaped helpers take e = e^-|x| (_exp_neg_abs(x)) as an operand: the
# pipelined loops (the op table's Op.pipelined) compute it a block ahead, in the head.
cdef inline real _exp_neg_abs(real x) noexcept nogil:
    """e^-|x|: every sigmoid-shaped op's one exp."""
    return _exp_neg(-_abs(x))

cdef inline real _sigmoid_given(real x, real e) noexcept nogil:
    """sigmoid(x) without overflow, from e = e^-|x|."""
    cdef real r = <real>1 / (<real>1 + e)
    return r if x >= <real>0 else e * r

cdef inline real _sigmoid_neg_given(real x, real e) noexcept nogil:
    """sigmoid(-x) without cancellation, from e = e^-|x|."""
    cdef real r = <real>1 / (<real>1 + e)
    return e * r if x >= <real>0 else r

cdef inline real _sigmoid_pair_given(real x, real e, real* s_s_neg) noexcept nogil:
    """sigmoid(x), and sigmoid(x) sigmoid(-x) through the pointer, from e = e^-|x|.  With
    r = 1/(1 + e) the product is e r^2 on both sides of 0: one select (for sigmoid(x)),
    where sigmoid(x) and sigmoid(-x) took one each (gelu-tanh's backward: 45 -> 42
    operations in the float loop, the same accuracy).  silu's backward keeps the two: its
    s (1 + x sigmoid(-x)) measured 4.36 ulp at most on a dense float32 sweep, s + x e r^2
    4.68 (float64 5.90 against 6.76)."""
    cdef real r = <real>1 / (<real>1 + e)
    cdef real er = e * r
    s_s_neg[0] = er * r
    return r if x >= <real>0 else er

cdef inline real _max_finite(real x) noexcept nogil:
    if real is float:
        return FLT_MAX
    else:
        return DBL_MAX

cdef inline real _no_neg_inf(real x) noexcept nogil:
    """x with -inf raised to -max: x * f(x) is then -0 where f(-inf) = 0, not NaN.

    One max instruction, where testing for inf and selecting the limit took five
    (silu 35 -> 46 GB/s).  NaN stays NaN.
    """
    cdef real m = _max_finite(x)
    return -m if x < -m else x

cdef inline real _clamp_abs(real x, real m) noexcept nogil:
    """x clamped to [-m, m] on the bits; NaN becomes +-m (vecmath.h's fa_clamp_abs says why)."""
    if real is float:
        return fa_clamp_abs_f(x, m)
    else:
        return fa_clamp_abs(x, m)

cdef inline real _abs_clamp(real x, real m) noexcept nogil:
    """|x| clamped to m on the bits; NaN becomes m (vecmath.h's fa_abs_clamp)."""
    if real is float:
        return fa_abs_clamp_f(x, m)
    else:
        return fa_abs_clamp(x, m)

cdef inline real _times_sign(real v, real x) noexcept nogil:
    """v negated where x's sign bit is set, on the bits (vecmath.h's fa_times_sign)."""
    if real is float:
        return fa_times_sign_f(v, x)
    else:
        return fa_times_sign(v, x)

cdef inline real _one_if_sign_clear(real x) noexcept nogil:
    """1 where x's sign bit is clear (+0 too), else 0, on the bits."""
    if real is float:
        return fa_one_if_sign_clear_f(x)
    else:
        return fa_one_if_sign_clear(x)

cdef inline real _select_bits(bint c, real a, real b) noexcept nogil:
    """a if c else b, on the bits: the caller's g * (...) stays one multiply (vecmath.h's
    fa_select_bits says why)."""
    if real is float:
        return fa_select_bits_f(c, a, b)
    else:
        return fa_select_bits_d(c, a, b)

cdef inline real _finite(real x) noexcept nogil:
    """x with +-inf clamped to +-max, for x * f(x) where f(+-inf) = 0.  NaN becomes +-max:
    the callers' other operands carry it."""
    return _clamp_abs(x, _max_finite(x))

cdef inline real _x_sigmoid_given(real x, real e) noexcept nogil:
    """x * sigmoid(t) for t of x's sign, from e = e^-|t|, as one division:
    (x or x e^-|t|) / (1 + e^-|t|)."""
    # the clamp computed unconditionally: inside the select's arm GCC merged its test into
    # the select's mask (compare, and, blend) where alone it is one max (silu's float32
    # loop: 33 -> 31 instructions)
    cdef real clamped = _no_neg_inf(x)
    cdef real num = x if x >= <real>0 else clamped * e
    return num / (<real>1 + e)

# --- relu family ---------------------------------------------------------------

cdef inline real relu(real x) noexcept nogil:
    return x if ((x > <real>0) | (x != x)) else <real>0

cdef inline real relu_backward(real g, real x) noexcept nogil:
    return g * _select_bits(x > <real>0, <real>1, _select_bits(x != x, x, <real>0))

cdef inline real leaky_relu(real x, real s) noexcept nogil:
    if (x > <real>0) | (x != x):
        return x
    return s * x if s != <real>0 else <real>0  # the limit 0 at -inf when s = 0, not 0*inf

cdef inline real leaky_relu_backward(real g, real x, real s) noexcept nogil:
    return g * _select_bits(x > <real>0, <real>1, _select_bits(x != x, x, s))

# The hard ops multiply by 1/6 rounded (one multiply-add where the CPU has FMA) where they
# divided by 6: the divider bounded them at 2^16 (float64 hardsigmoid 18 against 44 GB/s
# for relu; 1.7-3.3x faster without it).  1/6's rounding moves x/6 by at most one ulp of
# x/6 itself, which the mixed ulp bound (the ulp of x times f') covers even where
# x/6 + 1/2 cancels near -3; the results stay in [0, 1] and monotone.
cdef inline real hardsigmoid(real x) noexcept nogil:
    # computed, then selected, as Numba's twin: with early returns GCC merged the two tests
    # into masks (float32 loop 13 -> 11 instructions; hardswish's 17 -> 12, 1.3x at 2^16)
    cdef real y = x * (<real>1 / <real>6) + <real>0.5
    y = <real>0 if x <= <real>-3 else y
    return <real>1 if x >= <real>3 else y

cdef inline real hardsigmoid_backward(real g, real x) noexcept nogil:
    cdef real d = _select_bits((x > <real>-3) & (x < <real>3), <real>1 / <real>6,
                               _select_bits(x != x, x, <real>0))
    return g * d

cdef inline real hardswish(real x) noexcept nogil:
    cdef real y = x * (x + <real>3) * (<real>1 / <real>6)  # then selected, as hardsigmoid
    y = <real>0 if x <= <real>-3 else y
    return x if x >= <real>3 else y

cdef inline real hardswish_backward(real g, real x) noexcept nogil:
    cdef real d = _select_bits(x <= <real>-3, <real>0,
                               _select_bits(x >= <real>3, <real>1, (<real>2 * x + <real>3) * (<real>1 / <real>6)))
    return g * d

# --- exponential linear units --------------------------------------------------

# The exponential is computed for every x and then selected: GCC will not
# if-convert a branch that holds a whole inlined expm1, and the vector code
# evaluates both sides anyway.

cdef inline real elu(real x, real alpha) noexcept nogil:
    cdef real negative = alpha * _expm1_bounded(x)  # used for x <= 0 only
    return x if x > <real>0 else negative

cdef inline real elu_backward(real g, real x, real alpha) noexcept nogil:
    cdef real negative = alpha * _exp_neg(x)  # the x <= 0 side only: selected below
    return g * (<real>1 if x > <real>0 else negative)

cdef inline real selu(real x) noexcept nogil:
    cdef real negative = <real>FA_SELU_SCALE_ALPHA * _expm1_bounded(x)  # x <= 0 only
    # float: the product in double, rounded once; with the scale rounded to float it
    # reached 1.12 ulp and overflowed to inf for x just below FLT_MAX / scale.
    cdef real positive = <real>(<double>x * FA_SELU_SCALE)
    return positive if x > <real>0 else negative

cdef inline real selu_backward(real g, real x) noexcept nogil:
    cdef real negative = <real>FA_SELU_SCALE_ALPHA * _exp_neg(x)
    return g * (<real>FA_SELU_SCALE if x > <real>0 else negative)

cdef inline real celu(real x, real alpha) noexcept nogil:
    # alpha > 0: x/alpha <= 0 where it is used, so the cheaper bounded expm1; a negative
    # alpha reaches exp's overflow and needs the safe one.  The loop branches on alpha's
    # sign outside (the op's sign_split), and GCC folds this test in each branch: inside
    # one loop it computed both and selected (116 against 81 us at 2^16 float32).
    cdef real t = x / alpha
    cdef real negative = alpha * (_expm1_bounded(t) if alpha > <real>0 else _expm1(t))
    return x if x > <real>0 else negative

cdef inline real celu_backward(real g, real x, real alpha) noexcept nogil:
    # alpha > 0: x/alpha <= 0 where it is used, so exp_neg (celu's sign_split, as above)
    cdef real t = x / alpha
    cdef real negative = _exp_neg(t) if alpha > <real>0 else _exp(t)
    return g * (<real>1 if x > <real>0 else negative)

# --- sigmoid-shaped ------------------------------------------------------------

# An op in the op table's Op.pipelined is its head (the exp) and its tail (the rest,
# from the head's value); the op itself is the one after the other.  The pipelined loop
# passes the head through memory, the plain loop need not: a tail must not leave GCC a
# choice of which product to fuse (vecmath.h's log1p functions spell theirs out), or the
# two loops round differently (tests/test_loop_paths.py compares their bits).
cdef inline real sigmoid_head(real x) noexcept nogil:
    return _exp_neg_abs(x)

cdef inline real sigmoid_tail(real x, real e) noexcept nogil:
    return _sigmoid_given(x, e)

cdef inline real sigmoid(real x) noexcept nogil:
    return sigmoid_tail(x, sigmoid_head(x))

cdef inline real sigmoid_backward(real g, real y) noexcept nogil:
    return g * (y * (<real>1 - y))

cdef inline real tanh_head(real x) noexcept nogil:
    """(e^(2|x|) - 1)/2 (vecmath.h's fa_tanh_head_f)."""
    if real is float:
        return fa_tanh_head_f(x)
    else:
        return fa_tanh_head_d(x)

cdef inline real tanh_tail(real x, real half_t) noexcept nogil:
    if real is float:
        return fa_tanh_tail_f(x, half_t)
    else:
        return fa_tanh_tail_d(x, half_t)

cdef inline real tanh(real x) noexcept nogil:
    return tanh_tail(x, tanh_head(x))

cdef inline real tanh_backward(real g, real y) noexcept nogil:
    return g * ((<real>1 - y) * (<real>1 + y))

cdef inline real silu_head(real x) noexcept nogil:
    return _exp_neg_abs(x)

cdef inline real silu_tail(real x, real e) noexcept nogil:
    return _x_sigmoid_given(x, e)

cdef inline real silu(real x) noexcept nogil:
    return silu_tail(x, silu_head(x))

cdef inline real silu_backward_head(real g, real x) noexcept nogil:
    return _exp_neg_abs(x)

cdef inline real silu_backward_tail(real g, real x, real e) noexcept nogil:
    return g * (_sigmoid_given(x, e) * (<real>1 + _finite(x) * _sigmoid_neg_given(x, e)))

cdef inline real silu_backward(real g, real x) noexcept nogil:
    return silu_backward_tail(g, x, silu_backward_head(g, x))

cdef inline real softplus_head(real x, real beta, real threshold) noexcept nogil:
    return _exp_neg_abs(beta * x)

cdef inline real softplus_tail(real x, real beta, real threshold, real e) noexcept nogil:
    cdef real z = beta * x
    # max(x, 0), not max(z, 0)/beta: z overflows for x near the largest float when beta > 1
    # (threshold=inf then gave inf for a finite x)
    # times 1/beta, which the loop computes once (a division by beta was one per element,
    # 9-12% of the kernel even at beta = 1): the same bits where beta is a power of two,
    # within one ulp of the log1p term otherwise.  1/beta is inf only for a subnormal
    # beta, where |z| < 4 keeps the term (ln 2 at most) above 0: inf, as its /beta is
    cdef real smooth = (x if x > <real>0 else <real>0) + _log1p_unit(e) * (<real>1 / beta)
    return x if z > threshold else smooth

cdef inline real softplus(real x, real beta, real threshold) noexcept nogil:
    return softplus_tail(x, beta, threshold, softplus_head(x, beta, threshold))

cdef inline real softplus_backward_head(real g, real x, real beta, real threshold) noexcept nogil:
    return _exp_neg_abs(beta * x)

cdef inline real softplus_backward_tail(real g, real x, real beta, real threshold, real e) noexcept nogil:
    cdef real z = beta * x
    cdef real s = _sigmoid_given(z, e)
    return g if z > threshold else g * s

cdef inline real softplus_backward(real g, real x, real beta, real threshold) noexcept nogil:
    return softplus_backward_tail(g, x, beta, threshold, softplus_backward_head(g, x, beta, threshold))

cdef inline real _mish_t(real x, real e, real* one_minus_t2) noexcept nogil:
    """tanh(softplus(x)), and 1 - tanh(softplus(x))**2 through the pointer, from e = e^-|x|.

    With e = exp(-|x|) both signs are one rational function, t = num/den:
    x > 0: (1 + 2e)/(1 + 2e + 2e^2); x <= 0: (e^2 + 2e)/(e^2 + 2e + 2).  Then
    1 - t^2 = (den - num)(den + num)/den^2 = 4(1 + e)^2 (e^2 or 1)/den^2,
    accurate where t rounds to 1.
    """
    cdef real e2 = e * e
    cdef bint positive = x > <real>0
    cdef real num = (<real>1 + <real>2 * e) if positive else (e2 + <real>2 * e)
    cdef real den = num + ((<real>2 * e2) if positive else <real>2)
    cdef real inv = <real>1 / den
    cdef real q = (<real>1 + e) * inv
    one_minus_t2[0] = <real>4 * q * q * (e2 if positive else <real>1)
    return num * inv

cdef inline real mish_head(real x) noexcept nogil:
    return _exp_neg_abs(x)

cdef inline real mish_tail(real x, real e) noexcept nogil:
    cdef real one_minus_t2
    return _no_neg_inf(x) * _mish_t(x, e, &one_minus_t2)

cdef inline real mish(real x) noexcept nogil:
    return mish_tail(x, mish_head(x))

cdef inline real mish_backward_head(real g, real x) noexcept nogil:
    return _exp_neg_abs(x)

cdef inline real mish_backward_tail(real g, real x, real e) noexcept nogil:
    """mish'(x) = t + x sigmoid(x)(1 - t^2) over the common denominator den^2 (_mish_t's).

    For x <= 0 the two terms cancel (0.10 and -0.21 at x = -2.25: 9 ulp in float32, 12 in
    float64); with e = exp(x) the numerator is e w, w = 4(x + 1) + e(6 + 4x + e(4 + e)),
    whose terms cancel only near mish's minimum (x = -1.19, where the bound allows for it).
    For x > 0, e = exp(-x): num den + 4x(1 + e)e^2, all terms positive.  No sigmoid: one exp,
    e = e^-|x|, the head's.
    """
    cdef real e2 = e * e
    # x > 0: den = num + 2e^2, num = 1 + 2e; top = num den + 4x(1 + e)e^2, with x clamped
    # to the largest finite value (a min: x > 0 here), where e^2 is 0 (x = +inf: 0, not
    # 0 * inf).  The multiply-adds spelled out are the ones GCC fused before: the same bits
    cdef real num = <real>1 + <real>2 * e
    cdef real den_pos = num + <real>2 * e2
    cdef real x_pos = x if x < _max_finite(x) else _max_finite(x)
    cdef real top_pos = _muladd(num, den_pos, x_pos * (e2 * (<real>4 + <real>4 * e)))
    # x <= 0 (and NaN): den = e^2 + 2e + 2; top = e w, x clamped where e is 0 anyway, so
    # that 4x cannot overflow into 0 * inf (NaN stays NaN)
    cdef real den_neg = (e2 + <real>2 * e) + <real>2
    cdef real xn = <real>-1e4 if x < <real>-1e4 else x
    cdef real w = _muladd(e, _muladd(e, <real>4 + e, <real>6 + <real>4 * xn), <real>4 * (xn + <real>1))
    # each side computed whole, then two selects: as one expression with the selects
    # inside, GCC merged their tests into masks (pipelined tail 58 -> 37 instructions,
    # 1.14-1.24x; it took 1.2x Numba's time)
    cdef bint positive = x > <real>0
    cdef real den = den_pos if positive else den_neg
    cdef real top = top_pos if positive else e * w
    return g * (top / (den * den))

cdef inline real mish_backward(real g, real x) noexcept nogil:
    return mish_backward_tail(g, x, mish_backward_head(g, x))

# --- GELU ------------------------------------------------------------------------

cdef inline real _gelu_tanh_arg(real x) noexcept nogil:
    """2u with u = sqrt(2/pi)(x + 0.044715 x^3): 0.5(1 + tanh(u)) = sigmoid(2u)."""
    return x * (<real>FA_SQRT_2_OVER_PI_X2 + <real>FA_GELU_TANH_C_X2 * (x * x))

cdef inline real gelu_tanh_head(real x) noexcept nogil:
    return _exp_neg_abs(_gelu_tanh_arg(x))

cdef inline real gelu_tanh_tail(real x, real e) noexcept nogil:
    return _x_sigmoid_given(x, e)

cdef inline real gelu_tanh(real x) noexcept nogil:
    return gelu_tanh_tail(x, gelu_tanh_head(x))

# The backward from x clamped to +-FA_GELU_TANH_BACKWARD_CUTOFF, beyond which s(1 - s) is 0
# while x dt would overflow: the formula then gives the limits 1 and 0 itself.  (Numba's
# twin selects the limits; the same values.  As selects here GCC spent ten operations on
# them.)  The tail takes t's sign from xc's, the same (t = xc times a positive factor).
cdef inline real gelu_tanh_backward_head(real g, real x) noexcept nogil:
    return _exp_neg_abs(_gelu_tanh_arg(_clamp_abs(x, <real>FA_GELU_TANH_BACKWARD_CUTOFF)))

cdef inline real gelu_tanh_backward_tail(real g, real x, real e) noexcept nogil:
    cdef real xc = _clamp_abs(x, <real>FA_GELU_TANH_BACKWARD_CUTOFF)
    cdef real dt = <real>FA_SQRT_2_OVER_PI_X2 * (<real>1 + <real>FA_GELU_TANH_3C * (xc * xc))
    cdef real s_s_neg
    cdef real s = _sigmoid_pair_given(xc, e, &s_s_neg)
    cdef real d = _muladd(xc * s_s_neg, dt, s)
    return g * (x if x != x else d)

cdef inline real gelu_tanh_backward(real g, real x) noexcept nogil:
    return gelu_tanh_backward_tail(g, x, gelu_tanh_backward_head(g, x))

# From x clamped to +-FA_GAUSS_T_MAX, where e^(-t^2/2) has underflowed, and t = |x|: Phi(-t) = R(t) e^(-t^2/2),
# R(t) = e^(t^2/2) Phi(-t) one rational in t (vecmath.h's fa_norm_sfx).  No erfc of x/sqrt(2),
# whose rounded argument cost up to x^2/2 ulp in the tail, and one exp for both directions.
cdef inline real gelu(real x) noexcept nogil:
    """b - t R(t) e^(-t^2/2) in one multiply-add, b = x for x >= 0 and -0 for x < 0: x Phi(-t)
    for x < 0; x - x Phi(-x) for x > 0, which cannot cancel (x Phi(-x) <= x/2).

    t R(t) is formed first and e^(-t^2/2) multiplied last, so a subnormal result rounds
    once; for x > 0 the subtraction rounds with the product.  (As a select between x R e
    and x - x R e, 37 operations in the AVX-512 float loop; as this multiply-add, 34.)
    t is finite for x = +-inf and NaN (the clamp), so the product is too: b carries x's
    NaN and infinity, and -0 gives the sign of an underflowed negative result."""
    cdef real t = _abs_clamp(x, _gauss_max(x))
    cdef real b = <real>-0.0 if x < <real>0 else x
    return _muladd(-(t * _norm_sfx(t)), _gauss(t), b)

cdef inline real gelu_backward(real g, real x) noexcept nogil:
    """Phi(x) + x phi(x) with phi(x) = e^(-t^2/2)/sqrt(2 pi) = e/sqrt(2 pi): for x < 0,
    e (R - t/sqrt(2 pi)); for x >= 0, 1 - e (R - t/sqrt(2 pi)) (at +-0 both 1/2).  The
    cancellation near x = -0.75 is the derivative's own zero.  Written as two multiply-adds
    with single-use products, so that LLVM (Numba) fuses them as these do; the sign and the
    1 on x's sign bit (the same bits as selects on x > 0, in 37 operations of the float loop
    where the selects took 39)."""
    cdef real t = _abs_clamp(x, _gauss_max(x))
    cdef real r = _times_sign(_muladd(t, <real>FA_INV_SQRT_2PI, -_norm_sfx(t)), x)
    cdef real d = _muladd(_gauss(t), r, _one_if_sign_clear(x))
    return g * (x if x != x else d)
