/* Hand-written AVX-512 loops: the op table's Op.vector_loops.
 *
 * Most kernels are scalar C that GCC vectorises.  These loops say what it cannot: a
 * table of polynomial pieces looked up by permute, and the lanes that need the general
 * kernel gathered into whole vectors for it.  Each is defined on the AVX-512 variant only
 * (FA_VECTOR_LOOPS); elsewhere the template runs the scalar kernel.  Each lane's value is
 * a function of that lane's input alone, whatever its neighbours, the block or the thread
 * it falls in (tests/test_vector_loops.py).  The Numba backend runs the scalar kernel:
 * LLVM vectorises scalar code, which has no permutes, and a twin that looked the table up
 * by gathers ran 2.8x slower; the two agree within the accuracy bounds, and bit for bit
 * on the lanes the general kernel computes.
 *
 * Float32 GELU (fastact/_gelu_pieces.py has the table, tools/fit_gelu_pieces.py its fit):
 * with t = min(|x|, 7.25), piece k = round(t (ALPHA + BETA t)) and u = t - CENTRES[k]
 * (exact), GELU(x) = b - t P_k(u), P_k a degree-6 polynomial for Phi(-t) on piece k (the
 * pieces narrow as t grows, where Phi(-t) changes fastest; each is within 0.84 ulp of it,
 * relative), b = x for x >= 0 (NaN too) and -0 for x < 0.  That holds for every
 * x >= -7.25; below it (and -inf) Phi(-t) needs its exp, and the lane takes the general
 * kernel (scalar.pxd's gelu).  The 32 pieces' coefficients sit in two registers per
 * power, so a vector of 16 fetches them with 8 permutes (the centre too) and evaluates
 * with 7 multiply-adds: 20 operations, where the general kernel takes 34.
 *
 * A block of FA_GELU_BLOCK elements is done in three passes: (1) the fast formula for
 * every lane, stored but for the lanes below -7.25 (so that in place, y == x, their x
 * survives), noting which vectors hold such lanes; (2) for those vectors only, the
 * lanes compressed into a buffer, and the general kernel's loop on it (whole vectors,
 * padded with zeros); (3) its results expanded into those lanes of y.  No branch depends
 * on a lane's value (the list of vectors grows by 0 or 1), so mixed inputs cost no
 * mispredictions.  Few inputs reach the tail: none in practice from a standard normal
 * sample (2e-13), 0.8% with standard deviation 3 (fastact bench's inputs), 14% of
 * uniform[-10, 10] inputs (bench/results/README.md has the measurements).
 */
#ifndef FASTACT_VECTOR_LOOPS_H
#define FASTACT_VECTOR_LOOPS_H

#include <stddef.h>
#include <stdint.h>
#include "constants.h"

/* The scalar kernel's contiguous loop (Py_ssize_t: this header is included by the
 * Cython module, after Python.h). */
typedef void (*fa_kernel_loop_f32)(Py_ssize_t n, const float* x, float* y);

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>

#define FA_VECTOR_LOOPS 1
#define FA_GELU_BLOCK 1024

typedef struct {  /* the pieces' table in registers: each power's 32 values in two */
    __m512 lo[FA_GELU_PIECES_DEGREE + 1], hi[FA_GELU_PIECES_DEGREE + 1];
    __m512 centre_lo, centre_hi;
} fa_gelu_pieces_table;

/* b - t P_k(u) for each lane of x (the fast formula; below -7.25 a value no one uses) */
static inline __m512 fa_gelu_pieces_ps(__m512 x, const fa_gelu_pieces_table* table) {
    /* t = min(|x|, 7.25) in one vrangeps (the smaller magnitude, its sign cleared); NaN
     * stays NaN, and so does the result */
    __m512 t = _mm512_range_ps(x, _mm512_set1_ps(FA_GELU_PIECES_T_CLAMP), 0x0A);
    /* k = round(t (ALPHA + BETA t)) in the low bits of that + 1.5 * 2^23; the permutes
     * read the low 5 (k <= 31 for t <= 7.25) */
    __m512 slope = _mm512_fmadd_ps(t, _mm512_set1_ps(FA_GELU_PIECES_BETA),
                                   _mm512_set1_ps(FA_GELU_PIECES_ALPHA));
    __m512i k = _mm512_castps_si512(_mm512_fmadd_ps(t, slope, _mm512_set1_ps(12582912.0f)));
    __m512 u = _mm512_sub_ps(t, _mm512_permutex2var_ps(table->centre_lo, k, table->centre_hi));
    __m512 p = _mm512_permutex2var_ps(table->lo[FA_GELU_PIECES_DEGREE], k,
                                      table->hi[FA_GELU_PIECES_DEGREE]);
    for (int j = FA_GELU_PIECES_DEGREE - 1; j >= 0; j--)
        p = _mm512_fmadd_ps(p, u, _mm512_permutex2var_ps(table->lo[j], k, table->hi[j]));
    /* b: vmaxps(-0, x) is -0 for x < 0 and x otherwise (its second operand on +-0, NaN) */
    __m512 b = _mm512_max_ps(_mm512_set1_ps(-0.0f), x);
    return _mm512_fnmadd_ps(t, p, b);
}

static void fa_gelu_blocks_f32(Py_ssize_t n, const float* x, float* y,
                               fa_kernel_loop_f32 kernel_loop) {
    fa_gelu_pieces_table table;
    for (int j = 0; j <= FA_GELU_PIECES_DEGREE; j++) {
        table.lo[j] = _mm512_loadu_ps(&FA_GELU_PIECES_F32[j][0]);
        table.hi[j] = _mm512_loadu_ps(&FA_GELU_PIECES_F32[j][16]);
    }
    table.centre_lo = _mm512_loadu_ps(&FA_GELU_PIECES_CENTRES[0]);
    table.centre_hi = _mm512_loadu_ps(&FA_GELU_PIECES_CENTRES[16]);
    const __m512 tail_below = _mm512_set1_ps(-FA_GELU_PIECES_T_CLAMP);
    float tail_x[FA_GELU_BLOCK + 16], tail_y[FA_GELU_BLOCK + 16];  /* + one vector's spill */
    int tail_vectors[FA_GELU_BLOCK / 16];  /* the vectors with lanes below -7.25 */
    __mmask16 tail_lanes[FA_GELU_BLOCK / 16];  /* and those lanes */
    for (Py_ssize_t start = 0; start < n; start += FA_GELU_BLOCK) {
        Py_ssize_t m = n - start < FA_GELU_BLOCK ? n - start : FA_GELU_BLOCK;
        int vectors = (int)((m + 15) / 16), listed = 0;
        for (int v = 0; v < vectors; v++) {  /* pass 1 */
            Py_ssize_t i = start + 16 * (Py_ssize_t)v;
            /* all 16 lanes but in the last vector of the array (a constant mask GCC
             * hoists out of the block's whole vectors) */
            __mmask16 live = v + 1 < vectors || m % 16 == 0 ? (__mmask16)0xffff
                             : (__mmask16)((1u << (m % 16)) - 1);
            __m512 xv = _mm512_maskz_loadu_ps(live, x + i);
            __mmask16 tail = _mm512_mask_cmp_ps_mask(live, xv, tail_below, _CMP_LT_OQ);
            _mm512_mask_storeu_ps(y + i, live & ~tail, fa_gelu_pieces_ps(xv, &table));
            tail_vectors[listed] = v;
            tail_lanes[listed] = tail;
            listed += tail != 0;
        }
        if (listed == 0)
            continue;
        Py_ssize_t count = 0;
        for (int l = 0; l < listed; l++) {  /* pass 2: x there is intact, in place too */
            __mmask16 tail = tail_lanes[l];
            __m512 xv = _mm512_maskz_loadu_ps(tail, x + start + 16 * (Py_ssize_t)tail_vectors[l]);
            _mm512_storeu_ps(tail_x + count, _mm512_maskz_compress_ps(tail, xv));
            count += __builtin_popcount(tail);
        }
        _mm512_storeu_ps(tail_x + count, _mm512_setzero_ps());  /* the padding */
        kernel_loop((count + 15) & ~(Py_ssize_t)15, tail_x, tail_y);
        count = 0;
        for (int l = 0; l < listed; l++) {  /* pass 3 */
            __mmask16 tail = tail_lanes[l];
            _mm512_mask_storeu_ps(y + start + 16 * (Py_ssize_t)tail_vectors[l], tail,
                                  _mm512_maskz_expand_ps(tail, _mm512_loadu_ps(tail_y + count)));
            count += __builtin_popcount(tail);
        }
    }
}

/* The elements before x's first 64-byte boundary as one short (masked) vector, then the
 * rest with every load aligned, and every store too when y is misaligned as x is (NumPy's
 * large arrays sit 16 bytes past a boundary): a vector across two cache lines costs two
 * accesses.  Measured at 2^22 (sd 3, repeated calls into one output), both aligned 0.38
 * ns per element, both 16 bytes past 0.43; through the ufunc with a new output per call
 * (whose offset varies) 0-8% faster than without the peel.  Lanes do not depend on their
 * neighbours: the same bits. */
static void fa_gelu_vector_loop_f32(Py_ssize_t n, const float* x, float* y,
                                    fa_kernel_loop_f32 kernel_loop) {
    Py_ssize_t head = (Py_ssize_t)(((64 - (uintptr_t)x % 64) % 64) / sizeof(float));
    if ((uintptr_t)x % sizeof(float) != 0 || head >= n)
        head = 0;
    if (head > 0)
        fa_gelu_blocks_f32(head, x, y, kernel_loop);
    fa_gelu_blocks_f32(n - head, x + head, y + head, kernel_loop);
}

#else
#define FA_VECTOR_LOOPS 0

/* Never called (the template tests FA_VECTOR_LOOPS): the scalar kernel's loop. */
static void fa_gelu_vector_loop_f32(Py_ssize_t n, const float* x, float* y,
                                    fa_kernel_loop_f32 kernel_loop) {
    kernel_loop(n, x, y);
}
#endif

#endif
