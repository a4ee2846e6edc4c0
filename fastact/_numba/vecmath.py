"""Vectorisable elementary functions for the Numba backend, float32 and float64.

math.exp and friends compile to scalar libm calls that stop LLVM from
vectorising a loop.  These are the algorithms of fastact/_cython/vecmath.h
(range reduction, Taylor polynomial for e^r - 1, 2^n built in the exponent
bits, Cephes logf's and fdlibm's log polynomials) written branch-free, so the
same loops vectorise here.  ``exp``, ``expm1``, ``log1p`` and ``tanh`` pick the
float32 or float64 version by the argument's type.

Integers reach the exponent bits through the "shifter" trick (an integral n
plus 1.5*2^23 holds n in its low mantissa bits), never through float->int
casts, which AVX2 lacks for 64-bit lanes.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload, register_jitable



def scalar(fn):
    """Register a small function for Numba: a call that LLVM inlines (cheap to compile)."""
    return register_jitable(fn)


def inlined(fn):
    """Register fn for Numba, inlined into its callers at Numba-IR level.

    For the op scalars (into the loops) and the primitives too big for LLVM's
    inliner (log1p): a call left in the loop stops it vectorising.  IR
    inlining costs compile time, so the small helpers stay plain calls.
    A fresh register_jitable per function: one shared ``register_jitable(inline=
    "always")`` object pops ``inline`` on its first use, so every later function
    silently became a call (GELU and softplus ran scalar at 0.7 GB/s).
    """
    return register_jitable(inline="always")(fn)


def _bitcast(source, target, llvm_type):
    @intrinsic
    def cast(typingctx, value):
        if value != source:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], llvm_type)

        return target(source), codegen

    return cast


f32_bits = _bitcast(types.float32, types.int32, ir.IntType(32))
bits_f32 = _bitcast(types.int32, types.float32, ir.FloatType())
f64_bits = _bitcast(types.float64, types.int64, ir.IntType(64))
bits_f64 = _bitcast(types.int64, types.float64, ir.DoubleType())

_SHIFT_F = np.float32(12582912.0)            # 1.5 * 2^23
_SHIFT_D = 6755399441055744.0                # 1.5 * 2^52
_SHIFT_D_BITS = np.int64(0x4338000000000000)
_INF_F = np.float32(np.inf)
# The shifter plus an exponent bias: v + _SHIFT_F_127 holds round(v) + 127 in its low
# mantissa bits, and those bits shifted by 23 are 2^round(v) (the shift drops the
# shifter's own bits): one integer operation for 2^n (the Cython twin, FA_SHIFT_BIASED_F,
# explains).  exp_neg and the Gaussian carry 2^32 (2^64) more: their kernels' 2^-32.
_SHIFT_F_127 = _SHIFT_F + np.float32(127)
_SHIFT_F_159 = _SHIFT_F + np.float32(127 + 32)
_SHIFT_D_1023 = _SHIFT_D + 1023.0
_SHIFT_D_1087 = _SHIFT_D + (1023.0 + 64.0)


@scalar
def _pow2_from_shifter_f32(y):
    """2^n from y = v + _SHIFT_F_127 (or another bias), n = round(v) (+ the bias's extra)."""
    return bits_f32(np.int32(f32_bits(y) << 23))


@scalar
def _pow2_from_shifter_f64(y):
    return bits_f64(np.int64(f64_bits(y) << 52))


@scalar
def _pow2_f32(n):
    """2^n for integral float32 n in [-126, 127]."""
    return _pow2_from_shifter_f32(n + _SHIFT_F_127)


@scalar
def _pow2_f64(n):
    """2^n for integral float64 n in [-1022, 1023]."""
    return _pow2_from_shifter_f64(n + _SHIFT_D_1023)


@scalar
def _ldexp_f32(p, n):
    """p * 2^n for integral n, |n| <= 252, in two normal steps (gradual underflow too)."""
    h = (n * np.float32(0.5) + _SHIFT_F) - _SHIFT_F
    return (p * _pow2_f32(h)) * _pow2_f32(n - h)


@scalar
def _ldexp_f64(p, n):
    h = (n * 0.5 + _SHIFT_D) - _SHIFT_D
    return (p * _pow2_f64(h)) * _pow2_f64(n - h)


@scalar
def _minus_n_ln2_scaled_f32(x, n, k):
    """x - n ln2/k for integral n and a power of two k (a constant, folded), Cody-Waite
    (the Cython twin, fa_minus_n_ln2_scaled_f, explains)."""
    return ((x - n * (np.float32(0.693145751953125) / k))
            - n * (np.float32(1.428606765330187045e-6) / k))


@scalar
def _minus_n_ln2_scaled_f64(x, n, k):
    return (x - n * (6.93147180369123816490e-01 / k)) - n * (1.90821492927058770002e-10 / k)


@scalar
def _minus_n_ln2_f32(x, n):
    return _minus_n_ln2_scaled_f32(x, n, np.float32(1.0))


@scalar
def _minus_n_ln2_f64(x, n):
    return _minus_n_ln2_scaled_f64(x, n, 1.0)


@scalar
def _reduce_f32(x):
    """n and r with x = n ln2 + r, n integral, |r| <= ln2/2."""
    n = (x * np.float32(1.44269504088896341) + _SHIFT_F) - _SHIFT_F
    return n, _minus_n_ln2_f32(x, n)


@scalar
def _minus_n_ln2_short_scaled_f32(x, n, k):
    """x - n ln2/k with ln2 rounded to float once, in one FMA: for e^x - 1 with x <= 0 and
    tanh, whose results barely feel r's error |n| 1.9e-9; without FMA (n ln2 would round)
    the two constants (the Cython twin, fa_minus_n_ln2_short_f, explains)."""
    if _HAS_FMA:  # contracted to one FMA (fastmath 'contract'), as GCC does the twin
        return x - n * (np.float32(0.693147182464599609375) / k)
    return _minus_n_ln2_scaled_f32(x, n, k)


@scalar
def _minus_n_ln2_short_f32(x, n):
    return _minus_n_ln2_short_scaled_f32(x, n, np.float32(1.0))


@scalar
def _reduce_f64(x):
    n = (x * 1.4426950408889634 + _SHIFT_D) - _SHIFT_D
    return n, _minus_n_ln2_f64(x, n)


# q(r) of the e^r - 1 kernel r + r^2 q(r), highest power first: minimax in the result's
# relative error (tools/fit_expm1_kernel.py; the Cython twins fa_expm1_kernel_f/_d say more).
_EXPM1_Q_F32 = tuple(np.float32(c) for c in (
    0.001389822456985712, 0.008366040885448456, 0.04166685417294502, 0.16666549444198608, 0.5))
_EXPM1_Q_F64 = (
    2.0878911463726094e-09, 2.5108687353978443e-08, 2.755738704648279e-07,
    2.7557245291773544e-06, 2.4801587198218965e-05, 0.0001984126988494475,
    0.0013888888888942668, 0.008333333333322158, 0.04166666666666658,
    0.16666666666666677, 0.5)


def _times_powers(q, k):
    """q (highest power first) with the coefficient of s^j times k^(j+1), exactly (k a
    power of two): the e^r - 1 kernel on these, at s, is the kernel at r = k s over k, to
    the bit (the Cython twin, fa_expm1_kernel_scaled_f, explains)."""
    return tuple(type(c)(c * k ** (len(q) - i)) for i, c in enumerate(q))


_EXPM1_Q_F32_K2 = _times_powers(_EXPM1_Q_F32, 2)
_EXPM1_Q_F64_K2 = _times_powers(_EXPM1_Q_F64, 2)


@scalar
def _expm1_kernel_f32(r):
    """e^r - 1 on |r| <= ln2/2: r + r^2 q(r), q of degree 4 (1.5e-8 relative)."""
    return (_horner(r, _EXPM1_Q_F32) * r) * r + r


@scalar
def _expm1_half_kernel_f32(s):
    """(e^(2s) - 1)/2 on |s| <= ln2/4, the bits of _expm1_kernel_f32(2s)/2."""
    return (_horner(s, _EXPM1_Q_F32_K2) * s) * s + s


@scalar
def _exp_kernel_f32(r, scale):
    """e^r on |r| <= ln2/2 for float32 exp, times ``scale`` (a power of two, folded into the
    coefficients: exactly the unscaled steps times scale): degree 6, c0 = c1 = 1, the rest
    fitted (the Cython twin, fa_exp_kernel_f, explains): two operations fewer than 1 + the
    e^r - 1 kernel, and more accurate."""
    return _exp_kernel_scaled_f32(r, np.float32(1.0), scale)


@scalar
def _exp_kernel_scaled_f32(s, k, scale):
    """e^(k s) times scale for a power of two k (a constant): the coefficient of s^j times
    k^j, every step the one at r = k s times a power of two (the Cython twin,
    fa_exp_kernel_scaled_f, explains); the Gaussian takes k = -1/2."""
    k2 = k * k
    k3 = k2 * k
    p = np.float32(1.3751407386735082e-3) * (k3 * k3) * scale
    p = p * s + np.float32(8.368915878236294e-3) * (k3 * k2) * scale
    p = p * s + np.float32(4.166953265666962e-2) * (k2 * k2) * scale
    p = p * s + np.float32(1.66665181517601e-1) * k3 * scale
    p = p * s + np.float32(4.9999988079071045e-1) * k2 * scale
    p = p * s + k * scale
    return p * s + scale


@scalar
def _exp_kernel_f64(r, scale):
    """e^r on |r| <= ln2/2 for float64 exp: 1 + r + r^2 q(r), q of degree 9 interpolated
    at Chebyshev nodes (the Cython twin, fa_exp_kernel_d, explains): three operations
    fewer than 1 + the Taylor e^r - 1 kernel.  Times ``scale``, as _exp_kernel_f32."""
    return _exp_kernel_scaled_f64(r, 1.0, scale)


@scalar
def _exp_kernel_scaled_f64(s, k, scale):
    k2 = k * k
    k3 = k2 * k
    k4 = k2 * k2
    k8 = k4 * k4
    p = 2.5100375832561234e-08 * (k8 * k3) * scale
    p = p * s + 2.7620075879983367e-07 * (k8 * k2) * scale
    p = p * s + 2.7557268480310024e-06 * (k8 * k) * scale
    p = p * s + 2.4801521322368692e-05 * k8 * scale
    p = p * s + 1.9841269863040545e-04 * (k4 * k3) * scale
    p = p * s + 1.3888888917196719e-03 * (k4 * k2) * scale
    p = p * s + 8.333333333330065e-03 * (k4 * k) * scale
    p = p * s + 4.1666666666624164e-02 * k4 * scale
    p = p * s + 1.6666666666666669e-01 * k3 * scale
    p = p * s + 5.000000000000001e-01 * k2 * scale
    p = p * s + k * scale
    return p * s + scale


@scalar
def _expm1_kernel_f64(r):
    """e^r - 1 on |r| <= ln2/2: r + r^2 q(r), q of degree 10 (1.5e-18 relative)."""
    return (_horner(r, _EXPM1_Q_F64) * r) * r + r


@scalar
def _expm1_half_kernel_f64(s):
    return (_horner(s, _EXPM1_Q_F64_K2) * s) * s + s


@scalar
def exp_f32(x):
    xc = min(max(x, np.float32(-104.0)), np.float32(89.0))
    n, r = _reduce_f32(xc)
    y = _ldexp_f32(_exp_kernel_f32(r, np.float32(1.0)), n)
    y = np.float32(0.0) if x < np.float32(-104.0) else y
    y = _INF_F if x > np.float32(88.72283935546875) else y
    return x if x != x else y


@scalar
def exp_f64(x):
    xc = min(max(x, -746.0), 710.0)
    n, r = _reduce_f64(xc)
    y = _ldexp_f64(_exp_kernel_f64(r, 1.0), n)
    y = 0.0 if x < -746.0 else y
    y = np.inf if x > 709.782712893384 else y
    return x if x != x else y


@scalar
def exp_neg_f32(x):
    """e^x for x <= 0 only: e^r 2^-32 (the kernel's scale) times one 2^(n+32) from the bits,
    rounded once (gradual underflow kept); x clamped at -110, where those bits are 0 and
    the result 0 without a select (the Cython twin, fa_exp_negf, explains)."""
    xc = max(x, np.float32(-110.0))
    shifted = xc * np.float32(1.44269504088896341) + _SHIFT_F_159  # n + 159 in the low bits
    n = shifted - _SHIFT_F_159
    r = _minus_n_ln2_f32(xc, n)
    return _exp_kernel_f32(r, np.float32(2.0 ** -32)) * _pow2_from_shifter_f32(shifted)


@scalar
def exp_neg_f64(x):
    xc = max(x, -753.5)  # n = -1087: 2^(n + 64) is 0 (as in float32)
    shifted = xc * 1.4426950408889634 + _SHIFT_D_1087
    n = shifted - _SHIFT_D_1087
    r = _minus_n_ln2_f64(xc, n)
    return _exp_kernel_f64(r, 2.0 ** -64) * _pow2_from_shifter_f64(shifted)  # 2^(n + 64)


@scalar
def _expm1_f32(x, wide):
    """2^n (e^r - 1) + (2^n - 1).  ``wide`` (a constant, folded): for n > 0 as
    2 (h (e^r - 1) + (h - 1/2)), h = 2^(n-1), rounded alike but finite at n = 128 (the
    Cython twin, fa_expm1_f, explains); without it, for x <= 0 only, three operations
    fewer and a one-constant reduction."""
    xc = np.float32(-18.0) if x < np.float32(-18.0) else x  # keeps NaN
    if wide:
        xc = np.float32(89.0) if x > np.float32(89.0) else xc
    shifted = xc * np.float32(1.44269504088896341) + _SHIFT_F_127  # n + 127 in the low bits
    n = shifted - _SHIFT_F_127
    r = _minus_n_ln2_f32(xc, n) if wide else _minus_n_ln2_short_f32(xc, n)
    up = np.float32(1.0) if wide and n > np.float32(0.0) else np.float32(0.0)
    # 2^(n - up), n - up in [-26, 127]: one step, no ldexp; shifted - up is exact
    h = _pow2_from_shifter_f32(shifted - up)
    y = (np.float32(1.0) + up) * (h * _expm1_kernel_f32(r)
                                  + (h - (np.float32(1.0) - np.float32(0.5) * up)))
    if wide:  # x <= 0 otherwise: no overflow, and a NaN x gives NaN through r
        y = _INF_F if x > np.float32(88.72283935546875) else y
        y = x if x != x else y
    return y


@scalar
def _expm1_f64(x, wide):
    xc = -38.0 if x < -38.0 else x
    if wide:
        xc = 710.0 if x > 710.0 else xc
    shifted = xc * 1.4426950408889634 + _SHIFT_D_1023
    n = shifted - _SHIFT_D_1023
    r = _minus_n_ln2_f64(xc, n)
    up = 1.0 if wide and n > 0.0 else 0.0  # h finite at n = 1024 (_expm1_f32 says why)
    h = _pow2_from_shifter_f64(shifted - up)  # 2^(n - up), n - up in [-55, 1023]
    y = (1.0 + up) * (h * _expm1_kernel_f64(r) + (h - (1.0 - 0.5 * up)))
    if wide:
        y = np.inf if x > 709.782712893384 else y
        y = x if x != x else y
    return y


@scalar
def expm1_f32(x):
    return _expm1_f32(x, True)


@scalar
def expm1_f64(x):
    return _expm1_f64(x, True)


@scalar
def expm1_bounded_f32(x):
    """e^x - 1 for x <= 0 (elu, selu, celu with alpha > 0): cheaper, accurate only there."""
    return _expm1_f32(x, False)


@scalar
def expm1_bounded_f64(x):
    return _expm1_f64(x, False)


@inlined
def log1p_f32(x):
    """log(u) + (x - (u - 1))/u with u = 1 + x: the second term restores u's rounding."""
    u = np.float32(1.0) + x
    c = (x - (u - np.float32(1.0))) / u
    bits = f32_bits(u)
    e = np.int32((bits - np.int32(0x3F3504F3)) >> 23)      # u/2^e in [sqrt(1/2), sqrt(2))
    f = bits_f32(np.int32(bits - (e << 23))) - np.float32(1.0)
    ef = np.float32(e)
    z = f * f
    p = np.float32(7.0376836292e-2)                        # Cephes logf
    p = p * f - np.float32(1.1514610310e-1)
    p = p * f + np.float32(1.1676998740e-1)
    p = p * f - np.float32(1.2420140846e-1)
    p = p * f + np.float32(1.4249322787e-1)
    p = p * f - np.float32(1.6668057665e-1)
    p = p * f + np.float32(2.0000714765e-1)
    p = p * f - np.float32(2.4999993993e-1)
    p = p * f + np.float32(3.3333331174e-1)
    y = f * z * p + (ef * np.float32(-2.12194440e-4) + c)
    y = y - np.float32(0.5) * z
    y = (f + y) + ef * np.float32(0.693359375)
    y = -_INF_F if x == np.float32(-1.0) else y
    y = np.float32(np.nan) if x < np.float32(-1.0) else y
    y = x if x == _INF_F else y
    return x if x != x else y


@inlined
def log1p_f64(x):
    u = 1.0 + x
    c = (x - (u - 1.0)) / u
    bits = f64_bits(u)
    # kept non-negative before the shift: AVX2 has no arithmetic 64-bit shift
    e = np.int64(np.uint64(bits - np.int64(0x3FE6A09E667F3BCD) + np.int64(0x3FF0000000000000))
                 >> np.uint64(52)) - 1023
    f = bits_f64(np.int64(bits - (e << 52))) - 1.0
    k = bits_f64(np.int64(e + _SHIFT_D_BITS)) - _SHIFT_D          # float(e)
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
                                               + w * 1.531383769920937332e-01))
    t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01
              + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)))
    hfsq = 0.5 * f * f
    y = (k * 6.93147180369123816490e-01
         - ((hfsq - (s * (hfsq + (t1 + t2)) + (k * 1.90821492927058770002e-10 + c))) - f))
    y = -np.inf if x == -1.0 else y
    y = np.nan if x < -1.0 else y
    y = x if x == np.inf else y
    return x if x != x else y


@scalar
def tanh_f32(x):
    """tanh|x| = t/(t + 2) = (t/2)/(t/2 + 1), t = e^(2|x|) - 1, |x| clamped to 10 so that
    2^n needs no tests, the 2 of 2|x| folded into the constants (the Cython twin,
    fa_tanhf, explains)."""
    a = abs(x)
    ac = np.float32(10.0) if a > np.float32(10.0) else a  # keeps NaN
    shifted = ac * np.float32(2.0 * 1.44269504088896341) + _SHIFT_F_127  # n = round(2|x|/ln2)
    n = shifted - _SHIFT_F_127
    s = _minus_n_ln2_short_scaled_f32(ac, n, np.float32(2.0))  # 2|x| = n ln2 + 2s
    h = _pow2_from_shifter_f32(shifted)  # 2^n, n in [0, 29]
    half_t = h * _expm1_half_kernel_f32(s) + (h * np.float32(0.5) - np.float32(0.5))
    return math.copysign(half_t / (half_t + np.float32(1.0)), x)


@scalar
def tanh_f64(x):
    a = abs(x)
    ac = 19.5 if a > 19.5 else a
    shifted = ac * (2.0 * 1.4426950408889634) + _SHIFT_D_1023
    n = shifted - _SHIFT_D_1023
    s = _minus_n_ln2_scaled_f64(ac, n, 2.0)
    h = _pow2_from_shifter_f64(shifted)  # 2^n, n in [0, 57]
    half_t = h * _expm1_half_kernel_f64(s) + (h * 0.5 - 0.5)
    return math.copysign(half_t / (half_t + 1.0), x)


@scalar
def _horner(x, coeffs):
    """coeffs[0] x^n + ... + coeffs[n] (a tuple, highest power first); LLVM unrolls it."""
    p = coeffs[0]
    for i in range(1, len(coeffs)):
        p = p * x + coeffs[i]
    return p


def _f32(coeffs):
    return tuple(np.float32(c) for c in coeffs)


@scalar
def log1p_unit_f32(t):
    """log1p(t) for t in [0, 1] only: 2 atanh(s), s = t/(2 + t), the series to s^13 (the
    Cython twin, fa_log1p_unitf, explains)."""
    F = np.float32
    s = t / (F(2.0) + t)
    z = s * s
    p = F(1.5384615384615385e-1)
    p = p * z + F(1.8181818181818182e-1)
    p = p * z + F(2.2222222222222222e-1)
    p = p * z + F(2.8571428571428571e-1)
    p = p * z + F(4.0000000000000000e-1)
    p = p * z + F(6.6666666666666667e-1)
    return s * (p * z) + F(2.0) * s


# --- the normal distribution's tail, for exact GELU (the Cython twins explain) ---

GAUSS_T_MAX_F32 = np.float32(14.5)  # e^(-t^2/2) < 2^-150 from t = 14.43
GAUSS_T_MAX_F64 = 38.7  # e^(-t^2/2) < 2^-1075 from t = 38.61


def _target_has_fma():
    """Whether the CPU Numba compiles for has FMA: Numba's own setting, else the host's."""
    from llvmlite import binding
    from numba.core import config
    if config.CPU_NAME:  # NUMBA_CPU_NAME: a named (e.g. generic, for portable caches) target
        return "+fma" in (config.CPU_FEATURES or "").split(",")
    return bool(binding.get_host_cpu_features().get("fma"))


_HAS_FMA = _target_has_fma()  # a compile-time constant to the kernels below


@intrinsic
def _fma(typingctx, a, b, c):
    """a*b + c rounded once (llvm.fma): used only where the target has FMA, where it is
    one instruction (elsewhere LLVM would call libm's fma, one element at a time)."""
    if not (a == b == c and isinstance(a, types.Float)):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return a(a, b, c), codegen


@scalar
def muladd(a, b, c):
    """a*b + c rounded once where the target has FMA: the twin of fa_muladd_f/_d, used
    wherever the Cython kernel calls _muladd.  Contraction is allowed but not promised: on
    an AVX-512 target LLVM left GELU's backward fused in its scalar tail but not in its
    vectorised body (1 ulp on 1.7% of inputs, and -0 for +0), so a value depended on where
    it sat in the array."""
    if _HAS_FMA:
        return _fma(a, b, c)
    return a * b + c


@scalar
def _square_err_f32(t, z):
    """t*t - z exactly for z = t*t rounded: one FMA, or Dekker's product (t split into
    12-bit halves) where the target has none.  Both exact, so they equal the Cython
    build's bit for bit.  (``t*t - z`` with contraction allowed is not safe: LLVM may
    reuse the product z and return 0.)
    """
    if _HAS_FMA:
        return _fma(t, t, -z)
    hi = bits_f32(np.int32(f32_bits(t) & np.int32(-4096)))
    lo = t - hi
    return ((hi * hi - z) + np.float32(2.0) * hi * lo) + lo * lo


@scalar
def _square_err_f64(t, z):
    if _HAS_FMA:
        return _fma(t, t, -z)
    hi = bits_f64(f64_bits(t) & np.int64(-134217728))  # 26 significant bits
    lo = t - hi
    return ((hi * hi - z) + 2.0 * hi * lo) + lo * lo


@scalar
def gauss_f32(t):
    """e^(-t^2/2) for t in [0, GAUSS_T_MAX_F32]; -t^2/2 = a - lo/2 in the reduced argument."""
    z = t * t
    # -1/2 in the constants: s = z + 2n ln2 + lo = -2r (the Cython twin, fa_gaussf, explains)
    shifted = z * np.float32(-0.5 * 1.44269504088896341) + _SHIFT_F_159  # n + 159 in the low bits
    n = shifted - _SHIFT_F_159
    s = _minus_n_ln2_scaled_f32(z, n, np.float32(-0.5)) + _square_err_f32(t, z)
    return (_exp_kernel_scaled_f32(s, np.float32(-0.5), np.float32(2.0 ** -32))
            * _pow2_from_shifter_f32(shifted))


@scalar
def gauss_f64(t):
    z = t * t
    shifted = z * (-0.5 * 1.4426950408889634) + _SHIFT_D_1087
    n = shifted - _SHIFT_D_1087
    s = _minus_n_ln2_scaled_f64(z, n, -0.5) + _square_err_f64(t, z)
    return _exp_kernel_scaled_f64(s, -0.5, 2.0 ** -64) * _pow2_from_shifter_f64(shifted)  # 2^(n + 64)


# R(t) = e^(t^2/2) Phi(-t): P/Q, highest power first (fastact/_cython/vecmath.h explains)
_NORM_SFX_P_F32 = _f32((4.116409458220005e-3, 4.063413664698601e-2, 1.832381635904312e-1,
                        4.382995665073395e-1, 0.5))
_NORM_SFX_Q_F32 = _f32((1.0318188928067684e-2, 1.0186111927032471e-1, 4.694785177707672e-1,
                        1.2025165557861328, 1.674484133720398, 1.0))
_NORM_SFX_P_F64 = (
    2.2363384162632987e-07, 6.961432877574258e-06, 0.00010638365317306284,
    0.0010381538673030558, 0.007113919108853136, 0.03563094769724948, 0.13193743294040847,
    0.3571222414471925, 0.6793193426026176, 0.8277383426410526, 0.5)
_NORM_SFX_Q_F64 = (
    5.605669105847772e-07, 1.7449724482904148e-05, 0.00026722483990948223,
    0.002619715561890626, 0.01809749391168273, 0.0918809076346409, 0.34802232047873216,
    0.9794563565719382, 2.0004782083710153, 2.8161377455285055, 2.4533612460849707, 1.0)


@scalar
def norm_sfx_f32(t):
    """R(t) = e^(t^2/2) Phi(-t) on [0, GAUSS_T_MAX_F32]: one rational P4/Q5 in t."""
    return _horner(t, _NORM_SFX_P_F32) / _horner(t, _NORM_SFX_Q_F32)


@scalar
def norm_sfx_f64(t):
    """R(t) on [0, GAUSS_T_MAX_F64]: one rational P10/Q11 in t."""
    return _horner(t, _NORM_SFX_P_F64) / _horner(t, _NORM_SFX_Q_F64)


def _by_type(f32, f64):
    """A generic function calling f32 or f64 by its argument's type, inlined."""
    def generic(x):
        raise NotImplementedError("only callable from Numba-compiled code")

    @overload(generic, inline="always")
    def _choose(x):
        if x == types.float32:
            return lambda x: f32(x)
        if x == types.float64:
            return lambda x: f64(x)
        return None

    return generic


@scalar
def _max_finite_f32(x):
    return np.float32(3.4028234663852886e38)


@scalar
def _max_finite_f64(x):
    return 1.7976931348623157e308


max_finite = _by_type(_max_finite_f32, _max_finite_f64)  # the largest finite value of x's type
exp = _by_type(exp_f32, exp_f64)
exp_neg = _by_type(exp_neg_f32, exp_neg_f64)
expm1 = _by_type(expm1_f32, expm1_f64)
expm1_bounded = _by_type(expm1_bounded_f32, expm1_bounded_f64)  # x <= 0
log1p = _by_type(log1p_f32, log1p_f64)
log1p_unit = _by_type(log1p_unit_f32, log1p_f64)  # log1p(t) for t in [0, 1]
tanh = _by_type(tanh_f32, tanh_f64)
gauss = _by_type(gauss_f32, gauss_f64)  # e^(-t^2/2), t in [0, GAUSS_T_MAX]
norm_sfx = _by_type(norm_sfx_f32, norm_sfx_f64)  # e^(t^2/2) Phi(-t), t in [0, GAUSS_T_MAX]


@scalar
def _clamp_abs_f32(x, m):
    """x clamped to [-m, m] on the bits (m > 0); NaN becomes ±m (the Cython twin,
    fa_clamp_abs_f, says why)."""
    b = np.int32(min(np.int32(f32_bits(x) & np.int32(0x7FFFFFFF)), f32_bits(m)))
    return bits_f32(np.int32(b | (f32_bits(x) & np.int32(-2147483648))))


@scalar
def _clamp_abs_f64(x, m):
    b = min(f64_bits(x) & np.int64(0x7FFFFFFFFFFFFFFF), f64_bits(m))
    return bits_f64(b | (f64_bits(x) & np.int64(-9223372036854775808)))


@scalar
def _abs_clamp_f32(x, m):
    """|x| clamped to m on the bits (m > 0); NaN becomes m (the Cython twin, fa_abs_clamp_f)."""
    return bits_f32(np.int32(min(np.int32(f32_bits(x) & np.int32(0x7FFFFFFF)), f32_bits(m))))


@scalar
def _abs_clamp_f64(x, m):
    return bits_f64(min(f64_bits(x) & np.int64(0x7FFFFFFFFFFFFFFF), f64_bits(m)))


@scalar
def _sign_bit_f32(x):
    return f32_bits(x) < np.int32(0)


@scalar
def _sign_bit_f64(x):
    return f64_bits(x) < np.int64(0)


@scalar
def _one_if_sign_clear_f32(x):
    """1 where x's sign bit is clear (+0 too), else 0 (the Cython twin, fa_one_if_sign_clear_f)."""
    return bits_f32(np.int32(np.int32(0x3F800000) & ~(f32_bits(x) >> np.int32(31))))


@scalar
def _one_if_sign_clear_f64(x):
    return bits_f64(np.int64(0x3FF0000000000000) & ~(f64_bits(x) >> np.int64(63)))


@scalar
def _finite_f32(x):
    return _clamp_abs_f32(x, np.float32(3.4028234663852886e38))


@scalar
def _finite_f64(x):
    return _clamp_abs_f64(x, 1.7976931348623157e308)


@scalar
def _gauss_t_f32(x):
    return _abs_clamp_f32(x, GAUSS_T_MAX_F32)


@scalar
def _gauss_t_f64(x):
    return _abs_clamp_f64(x, GAUSS_T_MAX_F64)


finite = _by_type(_finite_f32, _finite_f64)  # ±inf clamped to ±max, on the bits (NaN too)
gauss_t = _by_type(_gauss_t_f32, _gauss_t_f64)  # |x| clamped to GAUSS_T_MAX (NaN too)
sign_bit = _by_type(_sign_bit_f32, _sign_bit_f64)  # whether x's sign bit is set (-0 too)
one_if_sign_clear = _by_type(_one_if_sign_clear_f32, _one_if_sign_clear_f64)  # 1 for +x, +0


@scalar
def times_sign(v, x):
    """v negated where x's sign bit is set: the Cython twin, fa_times_sign_f, flips the bit."""
    return -v if sign_bit(x) else v
