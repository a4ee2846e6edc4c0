/* Vectorisable elementary functions for the Cython backend, float and double.
 *
 * libm's expf/tanhf are opaque scalar calls that stop GCC from vectorising a
 * loop.  These are branch-free inline functions (range reduction, polynomial,
 * 2^n built in the exponent bits) whose loops GCC vectorises at -O3 without
 * -ffast-math.  The ends are selects: overflow gives +inf, NaN propagates.
 *
 * Integers are moved between float and int registers with the "shifter"
 * trick (adding 1.5*2^23 or 1.5*2^52 puts an integral value in the low
 * mantissa bits), never with (int64_t) casts: AVX2 has no packed double<->int64
 * conversion, and one such cast would make GCC give up on the whole loop.
 *
 * Algorithms and coefficients: range reduction with ln2 split hi/lo (fdlibm),
 * Taylor series for e^r - 1 on |r| <= ln2/2 (float e^r: a fitted degree-6 polynomial),
 * Cephes logf's polynomial (S. Moshier), fdlibm's log Lg1..Lg7.
 */
#ifndef FASTACT_VECMATH_H
#define FASTACT_VECMATH_H

#include <stdint.h>
#include <string.h>

/* Every primitive is inlined into its loop, whatever the size of the function around
 * it: a call stops the loop from vectorising.  (Inside a ufunc's inner loop GCC's inline
 * budget had run out and left fa_erfc a call: float64 GELU ran 3x slower.) */
#if defined(__GNUC__)
#define FA_INLINE static inline __attribute__((always_inline))
#else
#define FA_INLINE static inline
#endif

#define FA_SHIFT_F 12582912.0f          /* 1.5 * 2^23 */
#define FA_SHIFT_D 6755399441055744.0   /* 1.5 * 2^52 */

FA_INLINE float fa_f32(int32_t i) { float f; memcpy(&f, &i, 4); return f; }
FA_INLINE int32_t fa_i32(float f) { int32_t i; memcpy(&i, &f, 4); return i; }
FA_INLINE double fa_f64(int64_t i) { double d; memcpy(&d, &i, 8); return d; }
FA_INLINE int64_t fa_i64(double d) { int64_t i; memcpy(&i, &d, 8); return i; }

/* a*b + c, fused where the CPU has FMA.  GCC contracts a*b + c on its own in most
 * places, but not after a select feeding the product (as in GELU's backward,
 * cdf + finite(x) pdf); LLVM (Numba) does, and the two backends should round alike. */
FA_INLINE float fa_muladd_f(float a, float b, float c) {
#ifdef __FMA__
    return __builtin_fmaf(a, b, c);
#else
    return a * b + c;
#endif
}

FA_INLINE double fa_muladd_d(double a, double b, double c) {
#ifdef __FMA__
    return __builtin_fma(a, b, c);
#else
    return a * b + c;
#endif
}

/* The integral value n (|n| < 2^22) as an int, via the shifter. */
FA_INLINE int32_t fa_int_f(float n) { return fa_i32(n + FA_SHIFT_F) - fa_i32(FA_SHIFT_F); }
FA_INLINE int64_t fa_int_d(double n) { return fa_i64(n + FA_SHIFT_D) - fa_i64(FA_SHIFT_D); }

/* p * 2^n for integral n, |n| <= 252 (float) / 2044 (double), in two power-of-two
 * steps so that both factors are normal: this also gives gradual underflow. */
FA_INLINE float fa_ldexp_f(float p, float n) {
    float h = (n * 0.5f + FA_SHIFT_F) - FA_SHIFT_F;
    float k = n - h;
    return (p * fa_f32((fa_int_f(h) + 127) << 23)) * fa_f32((fa_int_f(k) + 127) << 23);
}

FA_INLINE double fa_ldexp_d(double p, double n) {
    double h = (n * 0.5 + FA_SHIFT_D) - FA_SHIFT_D;
    double k = n - h;
    return (p * fa_f64((fa_int_d(h) + 1023) << 52)) * fa_f64((fa_int_d(k) + 1023) << 52);
}

/* 2^n for integral n in [-126, 127] (float) / [-1022, 1023] (double): one power of two
 * made in the exponent bits, as fa_ldexp_f's two halves are.  (fa_ldexp_f keeps its own
 * spelling: built on this one, the same bits, exp-based loops measured 4-6% slower.)
 * tanh takes 2^n from the shifter's bits directly (fa_tanhf says why). */
FA_INLINE float fa_pow2_f(float n) {
    return fa_f32((fa_i32(n + 127.0f + FA_SHIFT_F) - fa_i32(FA_SHIFT_F)) << 23);
}

FA_INLINE double fa_pow2_d(double n) {
    return fa_f64((fa_i64(n + 1023.0 + FA_SHIFT_D) - fa_i64(FA_SHIFT_D)) << 52);
}

/* x = n ln2 + r with n integral and |r| <= ln2/2 (ln2's high part makes n*hi exact). */
FA_INLINE float fa_reduce_f(float x, float *n) {
    *n = (x * 1.44269504088896341f + FA_SHIFT_F) - FA_SHIFT_F;
    float r = x - *n * 0.693145751953125f;
    return r - *n * 1.428606765330187045e-6f;
}

FA_INLINE double fa_reduce_d(double x, double *n) {
    *n = (x * 1.4426950408889634 + FA_SHIFT_D) - FA_SHIFT_D;
    double r = x - *n * 6.93147180369123816490e-01;
    return r - *n * 1.90821492927058770002e-10;
}

/* e^r - 1 on |r| <= ln2/2: Taylor to r^7 (truncation < 6e-9 relative, 0.05 ulp). */
FA_INLINE float fa_expm1_kernel_f(float r) {
    float p = 1.98412698e-4f;
    p = p * r + 1.38888889e-3f;
    p = p * r + 8.33333333e-3f;
    p = p * r + 4.16666667e-2f;
    p = p * r + 1.66666667e-1f;
    p = p * r + 0.5f;
    return (p * r) * r + r;
}

/* e^r on |r| <= ln2/2 for float e^x: degree 6 with c0 = c1 = 1, the rest fitted to e^r
 * (weighted least squares at Chebyshev nodes): 6 FMAs where 1 + the e^r - 1 kernel takes
 * 8, and more accurate (float exp of x < 0: 0.88 ulp at most, measured on every 97th
 * input; the Taylor form 1.05).  The op count is the cost: exp is throughput-bound. */
FA_INLINE float fa_exp_kernel_f(float r) {
    float p = 1.3751407386735082e-3f;
    p = p * r + 8.368915878236294e-3f;
    p = p * r + 4.166953265666962e-2f;
    p = p * r + 1.66665181517601e-1f;
    p = p * r + 4.9999988079071045e-1f;
    p = p * r + 1.0f;
    return p * r + 1.0f;
}

/* e^r - 1 on |r| <= ln2/2: Taylor to r^13 (truncation < 4e-18 relative). */
FA_INLINE double fa_expm1_kernel_d(double r) {
    double p = 1.6059043836821613e-10;
    p = p * r + 2.08767569878681e-9;
    p = p * r + 2.505210838544172e-8;
    p = p * r + 2.755731922398589e-7;
    p = p * r + 2.7557319223985893e-6;
    p = p * r + 2.48015873015873e-5;
    p = p * r + 1.984126984126984e-4;
    p = p * r + 1.388888888888889e-3;
    p = p * r + 8.333333333333333e-3;
    p = p * r + 4.1666666666666664e-2;
    p = p * r + 1.6666666666666666e-1;
    p = p * r + 0.5;
    return (p * r) * r + r;
}

/* e^r on |r| <= ln2/2 for double e^x: 1 + r + r^2 q(r), q of degree 9 interpolating
 * (e^r - 1 - r)/r^2 at Chebyshev nodes (computed with mpmath), evaluated as one
 * degree-11 polynomial: 11 FMAs where 1 + the Taylor e^r - 1 kernel takes 14 (0.66 of
 * 2^-52 relative error at most, measured; the Taylor form 0.54). */
FA_INLINE double fa_exp_kernel_d(double r) {
    double p = 2.5100375832561234e-08;
    p = p * r + 2.7620075879983367e-07;
    p = p * r + 2.7557268480310024e-06;
    p = p * r + 2.4801521322368692e-05;
    p = p * r + 1.9841269863040545e-04;
    p = p * r + 1.3888888917196719e-03;
    p = p * r + 8.333333333330065e-03;
    p = p * r + 4.1666666666624164e-02;
    p = p * r + 1.6666666666666669e-01;
    p = p * r + 5.000000000000001e-01;
    p = p * r + 1.0;
    return p * r + 1.0;
}

/* ---- exp, expm1 --------------------------------------------------------------- */

FA_INLINE float fa_expf(float x) {
    float n;
    float xc = x > 89.0f ? 89.0f : (x < -104.0f ? -104.0f : x);
    float r = fa_reduce_f(xc, &n);
    float y = fa_ldexp_f(fa_exp_kernel_f(r), n);
    y = x < -104.0f ? 0.0f : y;
    y = x > 88.72283935546875f ? __builtin_inff() : y;
    return x != x ? x : y;
}

FA_INLINE double fa_exp(double x) {
    double n;
    double xc = x > 710.0 ? 710.0 : (x < -746.0 ? -746.0 : x);
    double r = fa_reduce_d(xc, &n);
    double y = fa_ldexp_d(fa_exp_kernel_d(r), n);
    y = x < -746.0 ? 0.0 : y;
    y = x > 709.782712893384 ? __builtin_inf() : y;
    return x != x ? x : y;
}

/* e^x for x <= 0 (what sigmoid-like functions need: exp(-|x|)): one 2^(n+32)
 * built in the bits, then a constant 2^-32, which keeps gradual underflow down to
 * -104 without the general two-step scaling.  Positive x gives garbage. */
FA_INLINE float fa_exp_negf(float x) {
    float xc = x < -104.0f ? -104.0f : x;
    float shifted = xc * 1.44269504088896341f + FA_SHIFT_F;  /* n in the low mantissa bits */
    float n = shifted - FA_SHIFT_F;
    float r = (xc - n * 0.693145751953125f) - n * 1.428606765330187045e-6f;
    /* (bits + 159) << 23 == (n + 159) << 23: the shift drops the shifter's high bits */
    float y = (fa_exp_kernel_f(r) * fa_f32((fa_i32(shifted) + 159) << 23)) * 0x1p-32f;
    return x < -104.0f ? 0.0f : y;
}

FA_INLINE double fa_exp_neg(double x) {
    double xc = x < -746.0 ? -746.0 : x;
    double shifted = xc * 1.4426950408889634 + FA_SHIFT_D;
    double n = shifted - FA_SHIFT_D;
    double r = (xc - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
    double y = (fa_exp_kernel_d(r) * fa_f64((fa_i64(shifted) + 1023 + 64) << 52)) * 0x1p-64;
    return x < -746.0 ? 0.0 : y;
}

/* e^x - 1 = 2^n (e^r - 1) + (2^n - 1): exact scaling, accurate near 0.  For n > 0 it is
 * computed as 2 (h (e^r - 1) + (h - 1/2)) with h = 2^(n-1) >= 1, which rounds exactly
 * alike (scaling by 2 is exact) but keeps h finite for n = 128 (1024 in double): 2^n
 * overflowed there and gave inf - inf = NaN for x in [88.376, 88.723] ([709.436,
 * 709.783] in double), which celu with a negative alpha reaches.  (Not for n <= 0:
 * h (e^r - 1) would lose the bits of a subnormal e^r - 1.) */
/* ``wide``: a compile-time constant.  1 for any x (celu with a negative alpha reaches
 * n = 128); 0 for x where 2^n is finite (x < 88.37, e.g. x <= 0 in elu and selu, and
 * tanh's bounded argument), where it folds to the plain 2^n (e^r - 1) + (2^n - 1): three
 * operations fewer, which elu and selu measured (their float32 forward 40% faster). */
FA_INLINE float fa_expm1_f(float x, int wide) {
    float n;
    float xc = x > 89.0f ? 89.0f : (x < -18.0f ? -18.0f : x); /* e^-18 - 1 rounds to -1 */
    float r = fa_reduce_f(xc, &n);
    float up = wide && n > 0.0f ? 1.0f : 0.0f;
    float h = fa_pow2_f(n - up);  /* n - up in [-26, 127]: one step, no ldexp */
    float y = (1.0f + up) * (h * fa_expm1_kernel_f(r) + (h - (1.0f - 0.5f * up)));
    y = x > 88.72283935546875f ? __builtin_inff() : y;
    return x != x ? x : y;
}
FA_INLINE float fa_expm1f(float x) { return fa_expm1_f(x, 1); }
FA_INLINE float fa_expm1_boundedf(float x) { return fa_expm1_f(x, 0); }
FA_INLINE double fa_expm1_d(double x, int wide) {
    double n;
    double xc = x > 710.0 ? 710.0 : (x < -38.0 ? -38.0 : x); /* e^-38 - 1 rounds to -1 */
    double r = fa_reduce_d(xc, &n);
    double up = wide && n > 0.0 ? 1.0 : 0.0;
    double h = fa_pow2_d(n - up);  /* n - up in [-55, 1023] */
    double y = (1.0 + up) * (h * fa_expm1_kernel_d(r) + (h - (1.0 - 0.5 * up)));
    y = x > 709.782712893384 ? __builtin_inf() : y;
    return x != x ? x : y;
}
FA_INLINE double fa_expm1(double x) { return fa_expm1_d(x, 1); }
FA_INLINE double fa_expm1_bounded(double x) { return fa_expm1_d(x, 0); }

/* ---- log1p ----------------------------------------------------------------------- */

/* log1p(x) = log(u) + (x - (u - 1))/u with u = 1 + x rounded: the second term
 * restores what rounding u lost.  log(u) = e ln2 + log(m), m in [sqrt(1/2), sqrt(2)). */
FA_INLINE float fa_log1pf(float x) {
    float u = 1.0f + x;
    float c = (x - (u - 1.0f)) / u;
    int32_t bits = fa_i32(u);
    int32_t e = (bits - 0x3f3504f3) >> 23;          /* 0x3f3504f3 = sqrt(1/2) */
    float f = fa_f32(bits - (int32_t)((uint32_t)e << 23)) - 1.0f;
    float ef = (float)e;
    float z = f * f;
    float p = 7.0376836292e-2f;                      /* Cephes logf */
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float y = f * z * p + (ef * -2.12194440e-4f + c);
    y = y - 0.5f * z;
    y = (f + y) + ef * 0.693359375f;
    y = x == -1.0f ? -__builtin_inff() : y;
    y = x < -1.0f ? __builtin_nanf("") : y;
    y = x == __builtin_inff() ? x : y;
    return x != x ? x : y;
}

/* log1p(t) for t in [0, 1] only (softplus's log1p(e^-|z|)): 2 atanh(s), s = t/(2 + t) in
 * [0, 1/3], the series to s^13 (truncation 0.1 ulp).  One division and 8 FMAs: softplus
 * ran 2x faster than with the general log1pf above, at 2.4 ulp instead of 1.25 (its
 * worst near x = 0.007, where s's two roundings add up). */
FA_INLINE float fa_log1p_unitf(float t) {
    float s = t / (2.0f + t);
    float z = s * s;
    float p = 1.5384615384615385e-1f;    /* 2/13 */
    p = p * z + 1.8181818181818182e-1f;  /* 2/11 */
    p = p * z + 2.2222222222222222e-1f;  /* 2/9 */
    p = p * z + 2.8571428571428571e-1f;  /* 2/7 */
    p = p * z + 4.0000000000000000e-1f;  /* 2/5 */
    p = p * z + 6.6666666666666667e-1f;  /* 2/3 */
    return s * (p * z) + 2.0f * s;
}

FA_INLINE double fa_log1p(double x) {
    double u = 1.0 + x;
    double c = (x - (u - 1.0)) / u;
    int64_t bits = fa_i64(u);
    /* the exponent e with u/2^e in [sqrt(1/2), sqrt(2)); kept non-negative before
     * shifting (AVX2 has no arithmetic 64-bit shift) */
    int64_t e = (int64_t)((uint64_t)(bits - 0x3fe6a09e667f3bcdLL + (1023LL << 52)) >> 52) - 1023;
    double f = fa_f64(bits - (int64_t)((uint64_t)e << 52)) - 1.0;
    double k = fa_f64(e + fa_i64(FA_SHIFT_D)) - FA_SHIFT_D;   /* (double)e */
    double s = f / (2.0 + f);
    double z = s * s;
    double w = z * z;
    double t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
                                                      + w * 1.531383769920937332e-01));
    double t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01
                     + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    double hfsq = 0.5 * f * f;
    double y = k * 6.93147180369123816490e-01
               - ((hfsq - (s * (hfsq + (t1 + t2)) + (k * 1.90821492927058770002e-10 + c))) - f);
    y = x == -1.0 ? -__builtin_inf() : y;
    y = x < -1.0 ? __builtin_nan("") : y;
    y = x == __builtin_inf() ? x : y;
    return x != x ? x : y;
}

/* ---- tanh ---------------------------------------------------------------------- */

/* tanh|x| = t/(t + 2) with t = e^(2|x|) - 1: one formula, no cancellation near 0 (where
 * (1 - e)/(1 + e) would cancel), one division.  |x| is clamped first to where tanh rounds
 * to 1 (10 in float: tanh(9) is still 1 - 2^-24; 19.5 in double), which bounds n to
 * [0, 29] / [0, 57]: 2^n is one power of two made from the shifter's bits, with no
 * clamps or overflow and underflow tests (fa_expm1 needs them); fa_reduce_f is written
 * out for those bits (through fa_reduce_f and fa_pow2_f: two operations more, 9-12%
 * slower, the same results).  The clamp is written
 * a > c ? c : a, which keeps NaN, so the result is NaN without a test; copysign gives
 * tanh(-0) = -0.  Float: 22 operations where Cephes' polynomial below 0.625 and
 * (1 - e)/(1 + e) above it, both computed and selected, took 33. */
FA_INLINE float fa_tanhf(float x) {
    float a = __builtin_fabsf(x);
    float u = 2.0f * (a > 10.0f ? 10.0f : a);
    float shifted = u * 1.44269504088896341f + FA_SHIFT_F;    /* n in the low bits */
    float n = shifted - FA_SHIFT_F;
    float r = (u - n * 0.693145751953125f) - n * 1.428606765330187045e-6f;
    float h = fa_f32((int32_t)(((uint32_t)fa_i32(shifted) + 127u) << 23));  /* 2^n */
    float t = h * fa_expm1_kernel_f(r) + (h - 1.0f);
    return __builtin_copysignf(t / (t + 2.0f), x);
}

FA_INLINE double fa_tanh(double x) {
    double a = __builtin_fabs(x);
    double u = 2.0 * (a > 19.5 ? 19.5 : a);
    double shifted = u * 1.4426950408889634 + FA_SHIFT_D;
    double n = shifted - FA_SHIFT_D;
    double r = (u - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
    double h = fa_f64((int64_t)(((uint64_t)fa_i64(shifted) + 1023u) << 52));
    double t = h * fa_expm1_kernel_d(r) + (h - 1.0);
    return __builtin_copysign(t / (t + 2.0), x);
}

/* ---- erfc (float) -------------------------------------------------------------- */

/* Cephes erfcf (S. Moshier): 1 - a T(a^2) for |a| < 1, else exp(-a^2)/|a| P(1/a^2)
 * (P below 2, R beyond).  1 - a T is evaluated as fdlibm's s_erf.c does, with
 * u = T - 1: 1 - (a + a u) below 1/4, 0.5 - (a u + (a - 0.5)) above (a - 0.5 exact),
 * so it does not cancel as a nears 1 (the plain form reached 4.15 ulp in GELU near
 * x = -1.41).  Both branches computed, then selected. */
FA_INLINE float fa_erfcf(float a) {
    float x = a < 0.0f ? -a : a;
    float z = a * a;
    float t = 7.853861353153693e-5f;
    t = t * z - 8.010193625184903e-4f;
    t = t * z + 5.188327685732524e-3f;
    t = t * z - 2.685381193529856e-2f;
    t = t * z + 1.128358514861418e-1f;
    t = t * z - 3.761262582423300e-1f;
    float u = t * z + 1.28379165726710e-1f;                      /* T - 1 */
    float small = a < 0.25f ? 1.0f - (a + a * u) : 0.5f - (a * u + (a - 0.5f));
    float q = 1.0f / (x < 1.0f ? 1.0f : x);
    float y = q * q;
    float p = 2.326819970068386e-2f, r = -1.047766399936249e1f;
    p = p * y - 1.387039388740657e-1f;  r = r * y + 1.297719955372516e1f;
    p = p * y + 3.687424674597105e-1f;  r = r * y - 7.495518717768503e0f;
    p = p * y - 5.824733027278666e-1f;  r = r * y + 2.921019019210786e0f;
    p = p * y + 6.210004621745983e-1f;  r = r * y - 1.015265279202700e0f;
    p = p * y - 4.944515323274145e-1f;  r = r * y + 4.218463358204948e-1f;
    p = p * y + 3.404879937665872e-1f;  r = r * y - 2.820767439740514e-1f;
    p = p * y - 2.741127028184656e-1f;  r = r * y + 5.641895067754075e-1f;
    p = p * y + 5.638259427386472e-1f;
    float big = fa_exp_negf(-z) * q * (x < 2.0f ? p : r);
    big = a < 0.0f ? 2.0f - big : big;
    float e = x < 1.0f ? small : big;
    return a != a ? a : e;
}

/* ---- erfc (double) ------------------------------------------------------------- */

/* erfc for |a| < 1.25 as fdlibm's s_erf.c (Sun Microsystems): a rational in a^2 below
 * 0.84375, arranged so 1 - erf(a) does not cancel, and 1 - erx - P/Q in |a| - 1 up
 * to 1.25.  Above, Cephes' erfc (S. Moshier): exp(-a^2) P(|a|)/Q(|a|) (R/S from 8
 * on), with exp(-a^2) corrected by the rounding error of a^2 (Dekker's exact
 * square), which Cephes itself lacks (its 5.7e-14 peak error).  All four are
 * computed, then selected, with one division.  |a| is clamped to 30, where erfc has
 * long underflowed, so the polynomials stay finite. */
FA_INLINE double fa_erfc(double a) {
    double x = a < 0.0 ? -a : a;
    x = x < 30.0 ? x : 30.0;                                   /* NaN -> 30 */
    double z = x * x;
    /* |a| < 0.84375: erf(a) = a + a r/s */
    double r = -2.37630166566501626084e-05;
    r = r * z - 5.77027029648944159157e-03;
    r = r * z - 2.84817495755985104766e-02;
    r = r * z - 3.25042107247001499370e-01;
    r = r * z + 1.28379167095512558561e-01;
    double s = -3.96022827877536812320e-06;
    s = s * z + 1.32494738004321644526e-04;
    s = s * z + 5.08130628187576562776e-03;
    s = s * z + 6.50222499887672944485e-02;
    s = s * z + 3.97917223959155352819e-01;
    s = s * z + 1.0;
    /* 0.84375 <= |a| < 1.25: erf(|a|) = erx + P/Q in t = |a| - 1 */
    double t = x - 1.0;
    double pa = -2.16637559486879084300e-03, qa = 1.19844998467991074170e-02;
    pa = pa * t + 3.54783043256182359371e-02;  qa = qa * t + 1.36370839120290507362e-02;
    pa = pa * t - 1.10894694282396677476e-01;  qa = qa * t + 1.26171219808761642112e-01;
    pa = pa * t + 3.18346619901161753674e-01;  qa = qa * t + 7.18286544141962662868e-02;
    pa = pa * t - 3.72207876035701323847e-01;  qa = qa * t + 5.40397917702171048937e-01;
    pa = pa * t + 4.14856118683748331666e-01;  qa = qa * t + 1.06420880400844228286e-01;
    pa = pa * t - 2.36211856075265944077e-03;  qa = qa * t + 1.0;
    /* 1.25 <= |a|: exp(a^2) erfc(|a|) = P/Q below 8, R/S above */
    double p = 2.46196981473530512524e-10, q = x + 1.32281951154744992508e1;
    p = p * x + 5.64189564831068821977e-1;  q = q * x + 8.67072140885989742329e1;
    p = p * x + 7.46321056442269912687e0;   q = q * x + 3.54937778887819891062e2;
    p = p * x + 4.86371970985681366614e1;   q = q * x + 9.75708501743205489753e2;
    p = p * x + 1.96520832956077098242e2;   q = q * x + 1.82390916687909736289e3;
    p = p * x + 5.26445194995477358631e2;   q = q * x + 2.24633760818710981792e3;
    p = p * x + 9.34528527171957607540e2;   q = q * x + 1.65666309194161350182e3;
    p = p * x + 1.02755188689515710272e3;   q = q * x + 5.57535340817727675546e2;
    p = p * x + 5.57535335369399327526e2;
    double pr = 5.64189583547755073984e-1,  qs = x + 2.26052863220117276590e0;
    pr = pr * x + 1.27536670759978104416e0; qs = qs * x + 9.39603524938001434673e0;
    pr = pr * x + 5.01905042251180477414e0; qs = qs * x + 1.20489539808096656605e1;
    pr = pr * x + 6.16021097993053585195e0; qs = qs * x + 1.70814450747565897222e1;
    pr = pr * x + 7.40974269950448939160e0; qs = qs * x + 9.60896809063285878198e0;
    pr = pr * x + 2.97886665372100240670e0; qs = qs * x + 3.36907645100081516050e0;
    /* x*x = z + err exactly: x = hi + lo with hi of 26 significant bits */
    double hi = fa_f64(fa_i64(x) & (int64_t)0xfffffffff8000000ULL);
    double lo = x - hi;
    double err = ((hi * hi - z) + 2.0 * hi * lo) + lo * lo;
    double e = fa_exp_neg(-z) * (1.0 - err);
    int small = x < 0.84375, mid = x < 1.25;
    double num = small ? r : (mid ? pa : e * (x < 8.0 ? p : pr));
    double den = small ? s : (mid ? qa : (x < 8.0 ? q : qs));
    double y = num / den;
    double y_small = a < 0.25 ? 1.0 - (a + a * y) : 0.5 - (a * y + (a - 0.5));
    double y_mid = a < 0.0 ? 1.0 + (8.45062911510467529297e-01 + y)
                           : 1.54937088489532470703e-01 - y;   /* 1 - erx, exact */
    double y_big = a < 0.0 ? 2.0 - y : y;
    y = small ? y_small : (mid ? y_mid : y_big);
    return a != a ? a : y;
}

#endif
