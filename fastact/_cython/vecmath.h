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
 * budget had run out and left the then erfc a call: float64 GELU ran 3x slower.) */
#if defined(__GNUC__)
#define FA_INLINE static inline __attribute__((always_inline))
#else
#define FA_INLINE static inline
#endif

#define FA_SHIFT_F 12582912.0f          /* 1.5 * 2^23 */
#define FA_SHIFT_D 6755399441055744.0   /* 1.5 * 2^52 */
/* The shifter plus an exponent bias b: y = v + FA_SHIFT_BIASED_F(b) holds round(v) + b in
 * its low mantissa bits, and bits(y) << 23 is then 2^round(v) (float: bits(FA_SHIFT_F) << 23
 * is 0 in 32 bits, the shift drops the shifter's own bits; double alike with << 52).  One
 * integer operation for 2^n where the bits plus b, shifted, took two (tanh, exp_neg, the
 * Gaussian and expm1: one operation fewer in each loop), with the same n as the plain shifter
 * whenever v is not exactly halfway between integers (never with an FMA: v = x c exactly,
 * and no float x makes x c a half-integer; the same bits).  b is an odd constant, so a
 * rounded product (the build without FMA) that lands on a tie can round to the other
 * neighbour: n one apart, |r| at most ln2/2 either way, as accurate. */
#define FA_SHIFT_BIASED_F(b) (FA_SHIFT_F + (float)(b))
#define FA_SHIFT_BIASED_D(b) (FA_SHIFT_D + (double)(b))

FA_INLINE float fa_f32(int32_t i) { float f; memcpy(&f, &i, 4); return f; }
FA_INLINE int32_t fa_i32(float f) { int32_t i; memcpy(&i, &f, 4); return i; }
FA_INLINE double fa_f64(int64_t i) { double d; memcpy(&d, &i, 8); return d; }
FA_INLINE int64_t fa_i64(double d) { int64_t i; memcpy(&i, &d, 8); return i; }

/* 2^n from y = v + FA_SHIFT_BIASED_F(127 + m), n = round(v) + m: bits(y) << 23. */
FA_INLINE float fa_pow2_from_shifter_f(float y) {
    return fa_f32((int32_t)((uint32_t)fa_i32(y) << 23));
}

FA_INLINE double fa_pow2_from_shifter_d(double y) {
    return fa_f64((int64_t)((uint64_t)fa_i64(y) << 52));
}

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

/* t >= 0 with x's sign: copysign in two operations where t's sign bit is known clear. */
FA_INLINE float fa_signed_like_f(float t, float x) {
    return fa_f32(fa_i32(t) | (fa_i32(x) & INT32_MIN));
}

FA_INLINE double fa_signed_like(double t, double x) {
    return fa_f64(fa_i64(t) | (fa_i64(x) & INT64_MIN));
}

/* v negated where x's sign bit is set (-0 included): one and, one xor (GCC: one ternary
 * logic operation) where a compare, a negation and a blend took three. */
FA_INLINE float fa_times_sign_f(float v, float x) {
    return fa_f32(fa_i32(v) ^ (fa_i32(x) & INT32_MIN));
}

FA_INLINE double fa_times_sign(double v, double x) {
    return fa_f64(fa_i64(v) ^ (fa_i64(x) & INT64_MIN));
}

/* 1 where x's sign bit is clear (+0 included), else 0: a shift and an and-not. */
FA_INLINE float fa_one_if_sign_clear_f(float x) {
    return fa_f32(0x3f800000 & ~(fa_i32(x) >> 31));
}

FA_INLINE double fa_one_if_sign_clear(double x) {
    return fa_f64((int64_t)0x3ff0000000000000LL & ~(fa_i64(x) >> 63));
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

/* x - n ln2 for integral n, Cody-Waite: ln2 as a high part whose trailing zeros make
 * n*hi exact, then the low part.  Every exp-based kernel's reduction; those that need
 * the shifter's bits for 2^n (tanh, exp_neg, gauss) compute n themselves.  The _scaled
 * forms give x - n ln2/k for a power of two k (a constant, folded into the constants,
 * which keep their trailing zeros): the reduction of k x, over k, to the bit (tanh's
 * 2|x| without the multiply). */
FA_INLINE float fa_minus_n_ln2_scaled_f(float x, float n, float k) {
    return (x - n * (0.693145751953125f / k)) - n * (1.428606765330187045e-6f / k);
}

FA_INLINE double fa_minus_n_ln2_scaled_d(double x, double n, double k) {
    return (x - n * (6.93147180369123816490e-01 / k)) - n * (1.90821492927058770002e-10 / k);
}

FA_INLINE float fa_minus_n_ln2_f(float x, float n) { return fa_minus_n_ln2_scaled_f(x, n, 1.0f); }
FA_INLINE double fa_minus_n_ln2_d(double x, double n) { return fa_minus_n_ln2_scaled_d(x, n, 1.0); }

/* x = n ln2 + r with n integral and |r| <= ln2/2. */
FA_INLINE float fa_reduce_f(float x, float *n) {
    *n = (x * 1.44269504088896341f + FA_SHIFT_F) - FA_SHIFT_F;
    return fa_minus_n_ln2_f(x, *n);
}

FA_INLINE double fa_reduce_d(double x, double *n) {
    *n = (x * 1.4426950408889634 + FA_SHIFT_D) - FA_SHIFT_D;
    return fa_minus_n_ln2_d(x, *n);
}

/* x - n ln2 with ln2 rounded to float once, in one FMA (where fa_reduce_f takes two), for
 * arguments with few n whose results barely feel r's error |n| (float(ln2) - ln2) =
 * |n| 1.9e-9: e^x - 1 for x in [-18, 0] (fa_expm1_f without ``wide``: the error
 * e^x |n| 1.9e-9 is at most 0.05 ulp of the result, at n = -1) and tanh (fa_tanh_head_f; all
 * 2^32 inputs: max 1.484 ulp against 1.487).  It needs the FMA's single rounding: n ln2
 * rounded as a product would cost up to 0.4 ulp at n = 3, so the build without FMA keeps
 * both constants.  float(ln2) is within 2.7e-9 relative of ln2; double(ln2) is 0.3 ulp
 * off, so float64 keeps both constants too (one constant put 0.1 ulp on float64 tanh:
 * max 2.14 -> 2.32 against mpmath). */
FA_INLINE float fa_minus_n_ln2_short_scaled_f(float x, float n, float k) {
#ifdef __FMA__  /* contracted to one FMA (-ffp-contract=fast; __builtin_fmaf here made GCC
                  * move tanh's clamp into four blends, 21.8 -> 24.7 cycles per 16) */
    return x - n * (0.693147182464599609375f / k);
#else
    return fa_minus_n_ln2_scaled_f(x, n, k);
#endif
}

FA_INLINE float fa_minus_n_ln2_short_f(float x, float n) {
    return fa_minus_n_ln2_short_scaled_f(x, n, 1.0f);
}

/* e^r - 1 on |r| <= ln2/2 as r + r^2 q(r), q of degree 4 minimax in the result's relative
 * error (tools/fit_expm1_kernel.py; Numba's _EXPM1_Q_F32 holds the same numbers):
 * 1.5e-8, 0.25 ulp, where Taylor to r^7 took one FMA more for 1.8e-8.  One FMA is
 * ~7% of tanh's loop (26.5 -> 24.8 cycles per 16 floats on a Zen 3).
 * With k a power of two (a constant, folded), the result is (e^(k s) - 1)/k: q's
 * coefficient of s^j times k^(j+1) makes every step exactly the step at r = k s times a
 * power of two, so the bits are those of the kernel at k s, over k.  tanh takes k = 2
 * for e^(2|x|) - 1 and saves its multiply by 2. */
FA_INLINE float fa_expm1_kernel_scaled_f(float s, float k) {
    float p = 0.001389822456985712f * (k * k * k * k * k);
    p = p * s + 0.008366040885448456f * (k * k * k * k);
    p = p * s + 0.04166685417294502f * (k * k * k);
    p = p * s + 0.16666549444198608f * (k * k);
    p = p * s + 0.5f * k;
    return (p * s) * s + s;
}

FA_INLINE float fa_expm1_kernel_f(float r) { return fa_expm1_kernel_scaled_f(r, 1.0f); }

/* e^r on |r| <= ln2/2 for float e^x: degree 6 with c0 = c1 = 1, the rest fitted to e^r
 * (weighted least squares at Chebyshev nodes): 6 FMAs where 1 + the e^r - 1 kernel takes
 * 8, and more accurate (float exp of x < 0: 0.88 ulp at most, measured on every 97th
 * input; the Taylor form 1.05).  The op count is the cost: exp is throughput-bound.
 * The result comes times ``scale``, a power of two the compiler folds into the
 * coefficients: every step is then the unscaled one times scale, exactly (no step is
 * subnormal), and fa_exp_negf's 2^-32 costs no multiply of its own. */
FA_INLINE float fa_exp_kernel_scaled_f(float s, float k, float scale) {
    float k2 = k * k, k3 = k2 * k;
    float p = 1.3751407386735082e-3f * (k3 * k3) * scale;
    p = p * s + 8.368915878236294e-3f * (k3 * k2) * scale;
    p = p * s + 4.166953265666962e-2f * (k2 * k2) * scale;
    p = p * s + 1.66665181517601e-1f * k3 * scale;
    p = p * s + 4.9999988079071045e-1f * k2 * scale;
    p = p * s + k * scale;
    return p * s + scale;
}

/* e^r times scale.  The _scaled form gives e^(k s) times scale for a power of two k (a
 * constant): the coefficient of s^j times k^j makes every step the step at r = k s times a
 * power of two, exactly, so the bits are those at r = k s (as fa_expm1_kernel_scaled_f;
 * the Gaussian takes k = -1/2). */
FA_INLINE float fa_exp_kernel_f(float r, float scale) { return fa_exp_kernel_scaled_f(r, 1.0f, scale); }

/* e^r - 1 on |r| <= ln2/2 as r + r^2 q(r), q of degree 10 minimax in the result's relative
 * error (tools/fit_expm1_kernel.py; Numba's _EXPM1_Q_F64): 1.5e-18, where Taylor to r^13
 * took one FMA more for 1.3e-17.  (Degree 9, 2.4e-17, saved another FMA, but float64
 * expm1 then measured more results above half an ulp against mpmath: 1,594 against
 * 1,239 of 18,000, max 1.92 against 1.74.) */
FA_INLINE double fa_expm1_kernel_scaled_d(double s, double k) {  /* as the float one */
    double k2 = k * k, k3 = k2 * k, k4 = k2 * k2, k8 = k4 * k4;
    double p = 2.0878911463726094e-09 * (k8 * k3);
    p = p * s + 2.5108687353978443e-08 * (k8 * k2);
    p = p * s + 2.755738704648279e-07 * (k8 * k);
    p = p * s + 2.7557245291773544e-06 * k8;
    p = p * s + 2.4801587198218965e-05 * (k4 * k3);
    p = p * s + 0.0001984126988494475 * (k4 * k2);
    p = p * s + 0.0013888888888942668 * (k4 * k);
    p = p * s + 0.008333333333322158 * k4;
    p = p * s + 0.04166666666666658 * k3;
    p = p * s + 0.16666666666666677 * k2;
    p = p * s + 0.5 * k;
    return (p * s) * s + s;
}

FA_INLINE double fa_expm1_kernel_d(double r) { return fa_expm1_kernel_scaled_d(r, 1.0); }

/* e^r on |r| <= ln2/2 for double e^x: 1 + r + r^2 q(r), q of degree 9 interpolating
 * (e^r - 1 - r)/r^2 at Chebyshev nodes (computed with mpmath), evaluated as one
 * degree-11 polynomial: 11 FMAs where 1 + the Taylor e^r - 1 kernel takes 14 (0.66 of
 * 2^-52 relative error at most, measured; the Taylor form 0.54).  Times ``scale``, as
 * fa_exp_kernel_f. */
FA_INLINE double fa_exp_kernel_scaled_d(double s, double k, double scale) {
    double k2 = k * k, k3 = k2 * k, k4 = k2 * k2, k8 = k4 * k4;
    double p = 2.5100375832561234e-08 * (k8 * k3) * scale;
    p = p * s + 2.7620075879983367e-07 * (k8 * k2) * scale;
    p = p * s + 2.7557268480310024e-06 * (k8 * k) * scale;
    p = p * s + 2.4801521322368692e-05 * k8 * scale;
    p = p * s + 1.9841269863040545e-04 * (k4 * k3) * scale;
    p = p * s + 1.3888888917196719e-03 * (k4 * k2) * scale;
    p = p * s + 8.333333333330065e-03 * (k4 * k) * scale;
    p = p * s + 4.1666666666624164e-02 * k4 * scale;
    p = p * s + 1.6666666666666669e-01 * k3 * scale;
    p = p * s + 5.000000000000001e-01 * k2 * scale;
    p = p * s + k * scale;
    return p * s + scale;
}

FA_INLINE double fa_exp_kernel_d(double r, double scale) { return fa_exp_kernel_scaled_d(r, 1.0, scale); }

/* ---- exp, expm1 --------------------------------------------------------------- */

FA_INLINE float fa_expf(float x) {
    float n;
    float xc = x > 89.0f ? 89.0f : (x < -104.0f ? -104.0f : x);
    float r = fa_reduce_f(xc, &n);
    float y = fa_ldexp_f(fa_exp_kernel_f(r, 1.0f), n);
    y = x < -104.0f ? 0.0f : y;
    y = x > 88.72283935546875f ? __builtin_inff() : y;
    return x != x ? x : y;
}

FA_INLINE double fa_exp(double x) {
    double n;
    double xc = x > 710.0 ? 710.0 : (x < -746.0 ? -746.0 : x);
    double r = fa_reduce_d(xc, &n);
    double y = fa_ldexp_d(fa_exp_kernel_d(r, 1.0), n);
    y = x < -746.0 ? 0.0 : y;
    y = x > 709.782712893384 ? __builtin_inf() : y;
    return x != x ? x : y;
}

/* e^x for x <= 0 (what sigmoid-like functions need: exp(-|x|)): e^r 2^-32 (the kernel's
 * scale, folded into its coefficients) times one 2^(n+32) built in the bits, which keeps
 * gradual underflow without the general two-step scaling, in one multiply that rounds
 * once.  (The same bits as (e^r 2^(n+32)) 2^-32, whose first product is exact, for one
 * operation less: float sigmoid 27.0 -> 24.3 cycles per 16 in a C loop on a Zen 3,
 * double 78.5 -> 71.7.)  Positive x gives garbage.  x is clamped at -110, where
 * n = -159 makes those bits 0 and so the result 0 itself: every x below -104 gives 0
 * either way (n <= -150 with e^r < 1 there, or n <= -151), so no select is needed; the
 * clamp keeps n + 159 >= 0 (below -110.6 it would not) and -inf finite.  Results are the
 * same as with the clamp at -104 and a select for x < -104, two operations more.
 * (Double: the same at -753.5, n = -1087.) */
FA_INLINE float fa_exp_negf(float x) {
    float xc = x < -110.0f ? -110.0f : x;  /* keeps NaN */
    float shifted = xc * 1.44269504088896341f + FA_SHIFT_BIASED_F(159);  /* n + 159 */
    float n = shifted - FA_SHIFT_BIASED_F(159);
    float r = fa_minus_n_ln2_f(xc, n);
    return fa_exp_kernel_f(r, 0x1p-32f) * fa_pow2_from_shifter_f(shifted);
}

FA_INLINE double fa_exp_neg(double x) {
    double xc = x < -753.5 ? -753.5 : x;
    double shifted = xc * 1.4426950408889634 + FA_SHIFT_BIASED_D(1023 + 64);
    double n = shifted - FA_SHIFT_BIASED_D(1023 + 64);
    double r = fa_minus_n_ln2_d(xc, n);
    return fa_exp_kernel_d(r, 0x1p-64) * fa_pow2_from_shifter_d(shifted);
}

/* e^x - 1 = 2^n (e^r - 1) + (2^n - 1): exact scaling, accurate near 0.  For n > 0 it is
 * computed as 2 (h (e^r - 1) + (h - 1/2)) with h = 2^(n-1) >= 1, which rounds exactly
 * alike (scaling by 2 is exact) but keeps h finite for n = 128 (1024 in double): 2^n
 * overflowed there and gave inf - inf = NaN for x in [88.376, 88.723] ([709.436,
 * 709.783] in double), which celu with a negative alpha reaches.  (Not for n <= 0:
 * h (e^r - 1) would lose the bits of a subnormal e^r - 1.) */
/* ``wide``: a compile-time constant.  1 for any x (celu with a negative alpha reaches
 * n = 128); 0 for x <= 0 only (elu, selu and celu with a positive alpha, whose lanes of
 * x > 0 are discarded), where it folds to the plain 2^n (e^r - 1) + (2^n - 1): three
 * operations fewer, which elu and selu measured (their float32 forward 40% faster).  For
 * x <= 0 it also needs no upper clamp, no overflow to inf and no NaN select (r carries a
 * NaN), and in float the reduction takes one constant (fa_minus_n_ln2_short_f): elu's float32
 * loop 35 -> 21 operations, 29.9 -> 17.4 cycles per 16 on a Zen 3 (float64 90.8 -> 63.0).
 * 2^(n - up) comes from the biased shifter's bits (FA_SHIFT_BIASED_F) minus up, exactly,
 * where it was made from n (n - up + 127 + the shifter, the shifter's bits off, shifted):
 * elu's float loop 21 -> 17 operations, celu's 69 -> 58, the same bits.
 * The wide form keeps its clamps spelt out whole: sharing the lower one measured 4-7%
 * slower there. */
FA_INLINE float fa_expm1_f(float x, int wide) {
    /* e^-18 - 1 rounds to -1; without the lower clamp -inf would give NaN */
    float xc = wide ? (x > 89.0f ? 89.0f : (x < -18.0f ? -18.0f : x)) : (x < -18.0f ? -18.0f : x);
    float shifted = xc * 1.44269504088896341f + FA_SHIFT_BIASED_F(127);  /* n + 127 */
    float n = shifted - FA_SHIFT_BIASED_F(127);
    float r = wide ? fa_minus_n_ln2_f(xc, n) : fa_minus_n_ln2_short_f(xc, n);
    float up = wide && n > 0.0f ? 1.0f : 0.0f;
    /* 2^(n - up), n - up in [-26, 127]: one step, no ldexp; shifted - up is exact */
    float h = fa_pow2_from_shifter_f(shifted - up);
    float y = (1.0f + up) * (h * fa_expm1_kernel_f(r) + (h - (1.0f - 0.5f * up)));
    if (wide) {  /* x <= 0 otherwise: no overflow, and a NaN x gives NaN through r */
        y = x > 88.72283935546875f ? __builtin_inff() : y;
        y = x != x ? x : y;
    }
    return y;
}
FA_INLINE float fa_expm1f(float x) { return fa_expm1_f(x, 1); }
FA_INLINE float fa_expm1_boundedf(float x) { return fa_expm1_f(x, 0); }
FA_INLINE double fa_expm1_d(double x, int wide) {
    /* e^-38 - 1 rounds to -1 */
    double xc = wide ? (x > 710.0 ? 710.0 : (x < -38.0 ? -38.0 : x)) : (x < -38.0 ? -38.0 : x);
    double shifted = xc * 1.4426950408889634 + FA_SHIFT_BIASED_D(1023);
    double n = shifted - FA_SHIFT_BIASED_D(1023);
    double r = fa_minus_n_ln2_d(xc, n);
    double up = wide && n > 0.0 ? 1.0 : 0.0;
    double h = fa_pow2_from_shifter_d(shifted - up);  /* 2^(n - up), n - up in [-55, 1023] */
    double y = (1.0 + up) * (h * fa_expm1_kernel_d(r) + (h - (1.0 - 0.5 * up)));
    if (wide) {
        y = x > 709.782712893384 ? __builtin_inf() : y;
        y = x != x ? x : y;
    }
    return y;
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
    /* the multiply-add spelt out: of two products GCC fuses either, by context (a
     * pipelined loop's choice differed from the plain loop's in 1 ulp) */
    return fa_muladd_f(s, p * z, 2.0f * s);
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
    double t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01
                     + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    /* t1 + t2, t1 = w (...), as one multiply-add spelt out (as fa_log1p_unitf's end) */
    double t1_t2 = fa_muladd_d(w, 3.999999999940941908e-01 + w * (2.222219843214978396e-01
                                                          + w * 1.531383769920937332e-01), t2);
    /* hfsq = f^2/2 in its two sums as multiply-adds spelt out: as a product of two
     * uses GCC fused it into both or neither, by context (1 ulp apart) */
    double hf = 0.5 * f;
    double y = k * 6.93147180369123816490e-01
               - (fa_muladd_d(hf, f, -(s * fa_muladd_d(hf, f, t1_t2)
                                       + (k * 1.90821492927058770002e-10 + c))) - f);
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
 * clamps or overflow and underflow tests (fa_expm1 needs them); the reduction is written
 * out for those bits (through fa_reduce_f and a 2^n made from n: two operations more,
 * 9-12% slower, the same results), in float with one constant (fa_minus_n_ln2_short_f: 24.8 ->
 * 21.8 cycles per 16 on a Zen 3).  The clamp is written a > c ? c : a, which keeps NaN, so
 * the result is NaN without a test; x's sign bit put back (fa_signed_like_f) gives
 * tanh(-0) = -0.  The 2 of 2|x| lives in the constants: n = round(|x| (2/ln2)), the
 * reduction and the e^r - 1 kernel run on s = r/2 (fa_minus_n_ln2_short_scaled_f,
 * fa_expm1_kernel_scaled_f) and give t/2, and tanh|x| = (t/2)/(t/2 + 1); every step is the
 * old one times a power of two, so the bits are those of t/(t + 2) (all 2^32 floats),
 * for one multiply fewer; with the exponent bias in the shifter (FA_SHIFT_BIASED_F),
 * one integer operation fewer too: the float loop 23 -> 20 operations.  Float: 18
 * operations in all, where Cephes' polynomial below 0.625 and (1 - e)/(1 + e) above it,
 * both computed and selected, took 33. */
/* tanh in two halves, for the pipelined loops (the op table's Op.pipelined): the head
 * (e^(2|x|) - 1)/2, the tail tanh(x) from it (scalar.pxd's tanh is the one after the
 * other). */
FA_INLINE float fa_tanh_head_f(float x) {
    float a = __builtin_fabsf(x);
    float ac = a > 10.0f ? 10.0f : a;
    /* n = round(2|x|/ln2), 2|x| = n ln2 + 2s */
    float shifted = ac * (2.0f * 1.44269504088896341f) + FA_SHIFT_BIASED_F(127);
    float n = shifted - FA_SHIFT_BIASED_F(127);
    float s = fa_minus_n_ln2_short_scaled_f(ac, n, 2.0f);
    float h = fa_pow2_from_shifter_f(shifted);
    return h * fa_expm1_kernel_scaled_f(s, 2.0f) + (h * 0.5f - 0.5f);
}

FA_INLINE float fa_tanh_tail_f(float x, float half_t) {
    return fa_signed_like_f(half_t / (half_t + 1.0f), x);
}

FA_INLINE double fa_tanh_head_d(double x) {
    double a = __builtin_fabs(x);
    double ac = a > 19.5 ? 19.5 : a;
    double shifted = ac * (2.0 * 1.4426950408889634) + FA_SHIFT_BIASED_D(1023);
    double n = shifted - FA_SHIFT_BIASED_D(1023);
    double s = fa_minus_n_ln2_scaled_d(ac, n, 2.0);
    double h = fa_pow2_from_shifter_d(shifted);
    return h * fa_expm1_kernel_scaled_d(s, 2.0) + (h * 0.5 - 0.5);
}

FA_INLINE double fa_tanh_tail_d(double x, double half_t) {
    return fa_signed_like(half_t / (half_t + 1.0), x);
}

/* ---- Clamps done on the bits ---------------------------------------------------- */

/* x clamped to [-m, m] (m > 0) as integers, |x|'s bits against m's with the sign put back:
 * NaN becomes +-m, so the caller must carry x's NaN through another operand.  A clamp as
 * two float selects let GCC thread its tests into the caller's and left up to nine
 * compares and blends in a loop (silu's backward) where this leaves three logic operations
 * and an integer minimum.  |x| is taken with fabs, not by masking the bits: GCC then shares
 * it with the caller's own |x| (silu's backward 35 -> 32 operations in the float loop,
 * GELU's -2, mish's backward -3). */
FA_INLINE float fa_clamp_abs_f(float x, float m) {
    int32_t b = fa_i32(__builtin_fabsf(x)), mb = fa_i32(m);
    return fa_f32((b < mb ? b : mb) | (fa_i32(x) & INT32_MIN));
}

FA_INLINE double fa_clamp_abs(double x, double m) {
    int64_t b = fa_i64(__builtin_fabs(x)), mb = fa_i64(m);
    return fa_f64((b < mb ? b : mb) | (fa_i64(x) & INT64_MIN));
}

/* |x| clamped to m (m > 0) as integers; NaN becomes m.  What fabs of fa_clamp_abs_f gives,
 * in two operations where GCC left that five (the sign taken, put back and taken off). */
FA_INLINE float fa_abs_clamp_f(float x, float m) {
    int32_t b = fa_i32(__builtin_fabsf(x)), mb = fa_i32(m);
    return fa_f32(b < mb ? b : mb);
}

FA_INLINE double fa_abs_clamp(double x, double m) {
    int64_t b = fa_i64(__builtin_fabs(x)), mb = fa_i64(m);
    return fa_f64(b < mb ? b : mb);
}

/* a where c holds, else b, made on the bits (a mask from c, and, and-not, or; GCC may fuse
 * them into one blend).  For the piecewise derivatives g * (1, 0, x's NaN, ...): as float
 * selects, GCC moved the multiply by g into every arm and selected among the products
 * (relu's backward: 3 multiplies, 4 compares and 3 blends in the float loop); a select on
 * the bits it leaves whole.  The same bits. */
FA_INLINE float fa_select_bits_f(int c, float a, float b) {
    int32_t m = -(int32_t)(c != 0);
    return fa_f32((fa_i32(a) & m) | (fa_i32(b) & ~m));
}

FA_INLINE double fa_select_bits_d(int c, double a, double b) {
    int64_t m = -(int64_t)(c != 0);
    return fa_f64((fa_i64(a) & m) | (fa_i64(b) & ~m));
}

/* ---- The normal distribution's tail, for exact GELU ---------------------------- */

/* GELU(x) = x Phi(x) is computed from t = |x| as e^(-t^2/2) times R(t) = e^(t^2/2) Phi(-t)
 * (below): no erfc of x/sqrt(2), whose rounded argument cost up to x^2/2 ulp in the
 * negative tail (70 at x = -12), and one exp shared with the backward's density.  x is
 * clamped to +-FA_GAUSS_T_MAX first (fa_clamp_abs), where e^(-t^2/2) has underflowed to 0.
 * (A float select there let GCC compute e^(-t^2/2) from x*x and blend in the constants of
 * the clamped case at four steps: five blends in GELU's loop where the bit clamp leaves one.) */
#define FA_GAUSS_T_MAX_F 14.5f         /* e^(-t^2/2) < 2^-150 from t = 14.43 */

/* t*t - z exactly, for z = t*t rounded: one FMA, or Dekker's exact product (t split into
 * two halves of 12 significant bits) where the CPU has none.  Both are exact, so the two
 * builds agree bit for bit. */
FA_INLINE float fa_square_err_f(float t, float z) {
#ifdef __FMA__
    return __builtin_fmaf(t, t, -z);
#else
    float hi = fa_f32(fa_i32(t) & (int32_t)0xfffff000);
    float lo = t - hi;
    return ((hi * hi - z) + 2.0f * hi * lo) + lo * lo;
#endif
}

/* e^(-t^2/2) for t in [0, FA_GAUSS_T_MAX_F] (NaN passes).  t^2 = z + lo exactly, and
 * -t^2/2 = a - lo/2 with a = -z/2: the reduced argument takes -lo/2 (the rounding of t^2
 * alone would cost t^2/4 ulp).  No clamps: a >= -105.2 keeps 2^(n+32) normal, and the
 * result underflows to 0 from t = 14.43 by the final rounding.  The -1/2 lives in the
 * constants: n = round(z (-1/(2 ln2))), the reduction runs on z, giving s = z + 2n ln2 + lo
 * = -2r, and the kernel takes s with k = -1/2; every step is the one on a = -z/2 times a
 * power of two, so the bits are those of the reduction of a (all 2^32 floats), for one
 * multiply fewer (GELU's float loop 34 -> 33 operations). */
FA_INLINE float fa_gaussf(float t) {
    float z = t * t;
    float shifted = z * (-0.5f * 1.44269504088896341f) + FA_SHIFT_BIASED_F(159);  /* n + 159 */
    float n = shifted - FA_SHIFT_BIASED_F(159);
    float s = fa_minus_n_ln2_scaled_f(z, n, -0.5f) + fa_square_err_f(t, z);
    return fa_exp_kernel_scaled_f(s, -0.5f, 0x1p-32f) * fa_pow2_from_shifter_f(shifted);
}

/* R(t) = e^(t^2/2) Phi(-t) for t in [0, FA_GAUSS_T_MAX_F]: from 1/2 at 0 down to about
 * 1/(sqrt(2 pi) t).  One rational P4(t)/Q5(t), minimax in relative error on [0, 14.5]
 * (1.6e-8 = 0.27 ulp with the coefficients rounded to float; tools/fit_gauss_tail.py fits
 * and checks them).  All coefficients are positive, so Horner is well-conditioned:
 * evaluated in float it is within 6.1 * 2^-24 of R. */
FA_INLINE float fa_norm_sfxf(float t) {
    float p = 4.116409458220005e-3f;
    p = p * t + 4.063413664698601e-2f;
    p = p * t + 1.832381635904312e-1f;
    p = p * t + 4.382995665073395e-1f;
    p = p * t + 0.5f;
    float q = 1.0318188928067684e-2f;
    q = q * t + 1.0186111927032471e-1f;
    q = q * t + 4.694785177707672e-1f;
    q = q * t + 1.2025165557861328f;
    q = q * t + 1.674484133720398f;
    q = q * t + 1.0f;
    return p / q;
}

/* ---- The same in double --------------------------------------------------------- */

#define FA_GAUSS_T_MAX 38.7            /* e^(-t^2/2) < 2^-1075 from t = 38.59 */

/* Dekker's split keeps 26 significant bits in hi. */
FA_INLINE double fa_square_err(double t, double z) {
#ifdef __FMA__
    return __builtin_fma(t, t, -z);
#else
    double hi = fa_f64(fa_i64(t) & (int64_t)0xfffffffff8000000ULL);
    double lo = t - hi;
    return ((hi * hi - z) + 2.0 * hi * lo) + lo * lo;
#endif
}

/* a = -z/2 >= -748.9 keeps 2^(n+64) normal; the result underflows to 0 from t = 38.59. */
FA_INLINE double fa_gauss(double t) {
    double z = t * t;
    double shifted = z * (-0.5 * 1.4426950408889634) + FA_SHIFT_BIASED_D(1023 + 64);
    double n = shifted - FA_SHIFT_BIASED_D(1023 + 64);
    double s = fa_minus_n_ln2_scaled_d(z, n, -0.5) + fa_square_err(t, z);
    return fa_exp_kernel_scaled_d(s, -0.5, 0x1p-64) * fa_pow2_from_shifter_d(shifted);
}

/* R(t) on [0, 38.7]: one rational P10(t)/Q11(t), minimax in relative error (7.6e-18 = 0.07
 * ulp with the coefficients as rounded; all positive; tools/fit_gauss_tail.py). */
FA_INLINE double fa_norm_sfx(double t) {
    double p = 2.2363384162632987e-07;
    p = p * t + 6.961432877574258e-06;
    p = p * t + 0.00010638365317306284;
    p = p * t + 0.0010381538673030558;
    p = p * t + 0.007113919108853136;
    p = p * t + 0.03563094769724948;
    p = p * t + 0.13193743294040847;
    p = p * t + 0.3571222414471925;
    p = p * t + 0.6793193426026176;
    p = p * t + 0.8277383426410526;
    p = p * t + 0.5;
    double q = 5.605669105847772e-07;
    q = q * t + 1.7449724482904148e-05;
    q = q * t + 0.00026722483990948223;
    q = q * t + 0.002619715561890626;
    q = q * t + 0.01809749391168273;
    q = q * t + 0.0918809076346409;
    q = q * t + 0.34802232047873216;
    q = q * t + 0.9794563565719382;
    q = q * t + 2.0004782083710153;
    q = q * t + 2.8161377455285055;
    q = q * t + 2.4533612460849707;
    q = q * t + 1.0;
    return p / q;
}

#endif
