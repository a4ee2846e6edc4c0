/* float16 <-> float32 conversion of whole blocks, for the ufuncs' float16 loops.
 *
 * With F16C (the AVX2 and AVX-512 builds) a block converts 8 values an instruction, so
 * a float16 call costs about what a float32 one does; NumPy's own casts convert one
 * value at a time (a float16 sigmoid of 2^16 took 9x the float32 time).  Both
 * directions round as NumPy's casts do (to nearest even; NaN stays NaN), so results
 * do not depend on which path computed them.  Without F16C, FA_HALF_LOOPS is 0 and the
 * ufuncs have no float16 loops: NumPy then casts to their float32 loop.
 */
#ifndef FASTACT_HALF_H
#define FASTACT_HALF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __F16C__
#include <immintrin.h>
#define FA_HALF_LOOPS 1

static inline void fa_half_to_float(const uint16_t *h, float *f, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(f + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++) f[i] = _cvtsh_ss(h[i]);
}

static inline void fa_float_to_half(const float *f, uint16_t *h, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(h + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(f + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) h[i] = _cvtss_sh(f[i], _MM_FROUND_TO_NEAREST_INT);
}

#else
#define FA_HALF_LOOPS 0
/* never called: the float16 loops are not registered without F16C */
static inline void fa_half_to_float(const uint16_t *h, float *f, ptrdiff_t n) {
    (void)h; (void)f; (void)n;
}
static inline void fa_float_to_half(const float *f, uint16_t *h, ptrdiff_t n) {
    (void)f; (void)h; (void)n;
}
#endif

#endif
