/* Streaming (non-temporal) stores for the elementwise loops' large outputs.
 *
 * An ordinary store to a line that is not in the cache first reads the line
 * (read-for-ownership), so a loop over data beyond the cache moves its output twice:
 * relu over 2^22 float32 moves 48 MB for 32 MB of work.  A streaming store writes the
 * line without reading it.  Measured in a C loop on one core of an Intel Xeon (family 6,
 * model 207; 2 MB L2 per core): relu at 2^22 float32 12.0 -> 24.4 GB/s, a two-input
 * backward 14.6 -> 22.3 GB/s.  Within the L2 it is the other way round (2^16: 33 -> 14
 * GB/s), since streamed lines leave the cache.  The crossover there lay between 2 and
 * 3 MB of operands, the L2's size: fa_stream_min_bytes.  Through the ufuncs it holds
 * for the kernels that compute little, not for those with an exp, tanh or erf inside
 * (the op table's Op.streamed says which and why).
 *
 * Not for outputs of FA_STREAM_MAX_OUTPUT_BYTES or more: glibc's malloc (64-bit) gives
 * every block that large fresh pages from mmap, which the kernel zeroes through the
 * cache on first touch, and streaming past the cache then costs more than it saves
 * (float64 relu_backward at 2^22, a new output per call: 8.3 -> 5.9 GB/s streamed).
 *
 * The loops compute a block into an L1 buffer, then fa_stream_store_* copies it out,
 * streaming the whole vectors at aligned addresses and storing the rest plainly.  The
 * values are copies, so the bits do not change.  Streamed stores are weakly ordered:
 * fa_stream_fence() after a thread's last one (before the loop returns or a parallel
 * region ends) makes them visible to every other thread, as ordinary stores are.
 */
#ifndef FASTACT_STREAM_H
#define FASTACT_STREAM_H

#include <stddef.h>
#include <stdint.h>
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>  /* sysconf's cache sizes (MSVC has neither: no streaming there) */
#endif

#if defined(__SSE2__)
#include <immintrin.h>
#define FA_STREAM_STORES 1
#else
#define FA_STREAM_STORES 0
#endif

#define FA_STREAM_MAX_OUTPUT_BYTES ((ptrdiff_t)32 << 20)

/* The store width: the widest vector this variant is built for. */
#if defined(__AVX512F__)
#define FA_STREAM_BYTES 64
#elif defined(__AVX__)
#define FA_STREAM_BYTES 32
#else
#define FA_STREAM_BYTES 16
#endif

/* The bytes of operands (inputs and output) per thread from which a loop streams its
 * output; PTRDIFF_MAX where it never does.  Intel: the core's L2 (the measurement
 * above).  AMD: the L3 as sysconf reports it, as glibc's memcpy decides, which in
 * practice means no streaming: on a 2-vCPU AMD EPYC Zen 3 guest (32 MiB L3) sysconf said
 * 256 MiB, and streaming forced on measured no better beyond the L3 (six sets of 7 * 2^20
 * float32 cycled, out=, best of five: relu 11.9 against 13.2 GB/s plainly, hardsigmoid
 * 9.8 against 12.8, the two-input backwards 0.96-1.05x), AMD's L3 being a victim cache
 * that streamed lines bypass.  1 MiB or 32 MiB if the OS does not say. */
static inline ptrdiff_t fa_stream_min_bytes(void) {
#if FA_STREAM_STORES && (defined(__GNUC__) || defined(__clang__))
    long size = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_is("amd")) {
#ifdef _SC_LEVEL3_CACHE_SIZE
        size = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
        return size > 0 ? (ptrdiff_t)size : (ptrdiff_t)32 << 20;
    }
#ifdef _SC_LEVEL2_CACHE_SIZE
    size = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    return size > 0 ? (ptrdiff_t)size : (ptrdiff_t)1 << 20;
#else
    return PTRDIFF_MAX;
#endif
}

/* dst[i] = src[i] for i < n, the whole aligned vectors of dst streamed. */
#define FA_DEFINE_STREAM_STORE(NAME, T, VEC_STREAM)                                   \
    static inline void NAME(T* dst, const T* src, ptrdiff_t n) {                      \
        ptrdiff_t i = 0;                                                               \
        const ptrdiff_t lanes = FA_STREAM_BYTES / (ptrdiff_t)sizeof(T);               \
        for (; i < n && ((uintptr_t)(dst + i) % FA_STREAM_BYTES) != 0; i++)           \
            dst[i] = src[i];                                                           \
        for (; i + lanes <= n; i += lanes)                                             \
            VEC_STREAM(dst + i, src + i);                                              \
        for (; i < n; i++)                                                             \
            dst[i] = src[i];                                                           \
    }

#if FA_STREAM_STORES
#if defined(__AVX512F__)
#define FA_STREAM_VEC_F(d, s) _mm512_stream_ps((d), _mm512_loadu_ps(s))
#define FA_STREAM_VEC_D(d, s) _mm512_stream_pd((d), _mm512_loadu_pd(s))
#elif defined(__AVX__)
#define FA_STREAM_VEC_F(d, s) _mm256_stream_ps((d), _mm256_loadu_ps(s))
#define FA_STREAM_VEC_D(d, s) _mm256_stream_pd((d), _mm256_loadu_pd(s))
#else
#define FA_STREAM_VEC_F(d, s) _mm_stream_ps((d), _mm_loadu_ps(s))
#define FA_STREAM_VEC_D(d, s) _mm_stream_pd((d), _mm_loadu_pd(s))
#endif
FA_DEFINE_STREAM_STORE(fa_stream_store_f32, float, FA_STREAM_VEC_F)
FA_DEFINE_STREAM_STORE(fa_stream_store_f64, double, FA_STREAM_VEC_D)
static inline void fa_stream_fence(void) { _mm_sfence(); }
#else  /* never called: fa_stream_min_bytes() is PTRDIFF_MAX */
static inline void fa_stream_store_f32(float* dst, const float* src, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) dst[i] = src[i];
}
static inline void fa_stream_store_f64(double* dst, const double* src, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) dst[i] = src[i];
}
static inline void fa_stream_fence(void) {}
#endif

#endif
