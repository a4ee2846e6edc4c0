/* Row kernels of the Cython backend: softmax, log_softmax, logsumexp, their
 * backwards, and maxout, on one contiguous row (same math as reference.py),
 * and the sum behind prelu's weight gradient.
 *
 * Every pass is a loop GCC vectorises: the max (NaN-propagating select), the
 * exps, and the sums, which use `omp simd reduction` to allow reassociating
 * that one sum (needs -fopenmp or -fopenmp-simd; nothing else is reassociated).
 * The sums run over blocks of FA_SUM_BLOCK entries: a block's sum in T lanes, the
 * blocks' sums added in double.  With one T sum over the whole row, float lanes
 * drifted on long rows (softmax of 2^24 float entries: 1240 ulp off; logsumexp of
 * 2^29 zeros: 19.41 for log(2^29) = 20.10); a double accumulator for every entry
 * cost 45% of a float softmax of 2^16 (46 -> 67 us); the blocks cost little.
 * x - max <= 0 in the exp passes, so they use the cheaper exp for non-positive
 * arguments.  The log1p trick: log(sum exp(x - m)) = log1p(rest), rest = the terms below
 * the max plus (number of maxima - 1), so the largest entry keeps its digits.
 * A row whose max is NaN, +inf, or -inf (all -inf) gives a NaN softmax row.
 */
#ifndef FASTACT_ROWS_H
#define FASTACT_ROWS_H

#include "vecmath.h"

#define FA_SUM_BLOCK 1024

/* the end of the block of at most FA_SUM_BLOCK entries that starts at start */
static inline ptrdiff_t fa_block_end(ptrdiff_t start, ptrdiff_t n) {
    return n - start > FA_SUM_BLOCK ? start + FA_SUM_BLOCK : n;
}

#define FA_MAXOUT_CASE(S, P)                                                           \
    case P:                                                                             \
        for (ptrdiff_t j = 0; j < groups; j++) out[j] = fa_group_max_##S(x + (P) * j, (P)); \
        break;

#define FA_MAXOUT_BACKWARD_CASE(S, P)                                                  \
    case P:                                                                             \
        for (ptrdiff_t j = 0; j < groups; j++)                                          \
            fa_maxout_backward_group_##S(x + (P) * j, g[j], out + (P) * j, (P));        \
        break;

#define FA_ROWS(T, S, I, TO_I, FROM_I, EXP, EXP_NEG, NAN_, INF_)                         \
                                                                                        \
/* max of a non-empty row; NaN if any entry is NaN */                                   \
static inline T fa_row_max_##S(const T *x, ptrdiff_t n) {                               \
    T m = x[0];                                                                         \
    int nan = 0;                                                                        \
    _Pragma("omp simd reduction(max:m) reduction(|:nan)")                               \
    for (ptrdiff_t i = 0; i < n; i++) {                                                 \
        m = x[i] > m ? x[i] : m;                                                        \
        nan |= x[i] != x[i];                                                            \
    }                                                                                   \
    return nan ? NAN_ : m;                                                              \
}                                                                                       \
                                                                                        \
/* sum a[i] in double, blockwise, and *above = whether some b[i] > 0 (NaN is not), in   \
 * one pass over both (log_softmax's backward: its sum and its check) */                \
static inline double fa_sum_and_any_positive_##S(const T *a, const T *b, ptrdiff_t n,   \
                                                 int *above) {                          \
    double total = 0;                                                                   \
    int positive = 0;                                                                   \
    for (ptrdiff_t start = 0; start < n; start += FA_SUM_BLOCK) {                       \
        ptrdiff_t stop = fa_block_end(start, n);                                        \
        T part = 0;                                                                     \
        _Pragma("omp simd reduction(+:part) reduction(|:positive)")                     \
        for (ptrdiff_t i = start; i < stop; i++) {                                      \
            part += a[i];                                                               \
            positive |= b[i] > 0;                                                       \
        }                                                                               \
        total += part;                                                                  \
    }                                                                                   \
    *above = positive;                                                                  \
    return total;                                                                       \
}                                                                                       \
                                                                                        \
/* sum a[i]*b[i] in double, blockwise */                                                \
static inline double fa_dot_##S(const T *a, const T *b, ptrdiff_t n) {                  \
    double total = 0;                                                                   \
    for (ptrdiff_t start = 0; start < n; start += FA_SUM_BLOCK) {                       \
        ptrdiff_t stop = fa_block_end(start, n);                                        \
        T part = 0;                                                                     \
        _Pragma("omp simd reduction(+:part)")                                           \
        for (ptrdiff_t i = start; i < stop; i++) part += a[i] * b[i];                   \
        total += part;                                                                  \
    }                                                                                   \
    return total;                                                                       \
}                                                                                       \
                                                                                        \
/* log(sum exp(x - m)) as log1p(rest), for a finite max m, in double, blockwise */      \
static inline double fa_log_sum_exp_shifted_##S(const T *x, ptrdiff_t n, T m) {         \
    double rest = 0;                                                                    \
    double ties = 0;                                                                    \
    for (ptrdiff_t start = 0; start < n; start += FA_SUM_BLOCK) {                       \
        ptrdiff_t stop = fa_block_end(start, n);                                        \
        T part = 0;                                                                     \
        I below_count = 0;                                                              \
        _Pragma("omp simd reduction(+:part, below_count)")                              \
        for (ptrdiff_t i = start; i < stop; i++) {                                      \
            T e = EXP_NEG(x[i] - m);                                                    \
            /* one compare for both sums: x[i] <= m, with no NaN in the row (its callers' \
             * test), so x[i] == m exactly where not x[i] < m.  As a mask: e where below, \
             * +0 elsewhere, by an and, and the count of entries below by subtracting the \
             * mask (-1); as float selects GCC added both e and 0 and blended the sums, and \
             * counted the ties with a select and an add (24 operations in the float loop; \
             * the same sums, exactly) */                                                 \
            I below = -(I)(x[i] < m);                                                   \
            part += FROM_I(TO_I(e) & below);                                            \
            below_count -= below;                                                       \
        }                                                                               \
        rest += part;                                                                   \
        ties += (double)((stop - start) - below_count);  /* exact */                    \
    }                                                                                   \
    return fa_log1p(rest + (ties - 1.0));                                               \
}                                                                                       \
                                                                                        \
/* 1 after writing a NaN row (non-finite max) or for an empty row; else 0 and *m */      \
static inline int fa_nan_row_##S(const T *x, T *out, ptrdiff_t n, T *m) {              \
    if (n == 0) return 1;                                                               \
    *m = fa_row_max_##S(x, n);                                                          \
    if (*m - *m == 0) return 0;                                                         \
    for (ptrdiff_t i = 0; i < n; i++) out[i] = NAN_;                                    \
    return 1;                                                                           \
}                                                                                       \
                                                                                        \
static inline void fa_softmax_##S(const T *x, T *out, ptrdiff_t n) {                    \
    T m;                                                                                \
    if (fa_nan_row_##S(x, out, n, &m)) return;                                          \
    double total = 0;                                                                   \
    for (ptrdiff_t start = 0; start < n; start += FA_SUM_BLOCK) {                       \
        ptrdiff_t stop = fa_block_end(start, n);                                        \
        T part = 0;                                                                     \
        _Pragma("omp simd reduction(+:part)")                                           \
        for (ptrdiff_t i = start; i < stop; i++) {                                      \
            T e = EXP_NEG(x[i] - m);                                                    \
            out[i] = e;                                                                 \
            part += e;                                                                  \
        }                                                                               \
        total += part;                                                                  \
    }                                                                                   \
    T inv = (T)(1.0 / total);  /* a multiply per entry instead of a division */         \
    for (ptrdiff_t i = 0; i < n; i++) out[i] = out[i] * inv;                            \
}                                                                                       \
                                                                                        \
static inline void fa_log_softmax_##S(const T *x, T *out, ptrdiff_t n) {                \
    T m;                                                                                \
    if (fa_nan_row_##S(x, out, n, &m)) return;                                          \
    T log_total = (T)fa_log_sum_exp_shifted_##S(x, n, m);                               \
    for (ptrdiff_t i = 0; i < n; i++) out[i] = (x[i] - m) - log_total;                  \
}                                                                                       \
                                                                                        \
static inline T fa_logsumexp_##S(const T *x, ptrdiff_t n) {                             \
    if (n == 0) return -INF_;                                                           \
    T m = fa_row_max_##S(x, n);                                                         \
    if (!(m - m == 0)) return m;  /* NaN, +inf, or an all -inf row */                   \
    return (T)((double)m + fa_log_sum_exp_shifted_##S(x, n, m));  /* rounded once */    \
}                                                                                       \
                                                                                        \
static inline void fa_softmax_backward_##S(const T *g, const T *y, T *out, ptrdiff_t n) { \
    T dot = (T)fa_dot_##S(g, y, n);                                                     \
    for (ptrdiff_t i = 0; i < n; i++) out[i] = y[i] * (g[i] - dot);                     \
}                                                                                       \
                                                                                        \
/* The exps of the two backwards below take arguments <= 0 whenever y is what the forward \
 * gave (log_softmax's y <= 0; x - logsumexp(x) <= 0), so they run the cheaper exp for   \
 * arguments <= 0, which gives the same bits there (every float <= 0 and 2^29 doubles,   \
 * checked; NaN payloads aside) for half the operations, and check the arguments on the  \
 * way: any other y takes the full exp.  The check costs no pass of its own (one would   \
 * stream the row from memory once more): log_softmax's rides on the sum of g, and       \
 * logsumexp's on the exps, redone if it fails.  Float32 rows of 1024 on a Zen 3: 2^16   \
 * entries 70 -> 47 us and 53 -> 35 us, 2^22 5.2 -> 4.1 ms and 3.6 -> 2.8 ms. */        \
static inline void fa_log_softmax_backward_##S(const T *g, const T *y, T *out, ptrdiff_t n) { \
    int above;                                                                          \
    T total = (T)fa_sum_and_any_positive_##S(g, y, n, &above);                          \
    if (!above) {                                                                       \
        for (ptrdiff_t i = 0; i < n; i++) out[i] = g[i] - EXP_NEG(y[i]) * total;        \
        return;                                                                         \
    }                                                                                   \
    for (ptrdiff_t i = 0; i < n; i++) out[i] = g[i] - EXP(y[i]) * total;                \
}                                                                                       \
                                                                                        \
static inline void fa_logsumexp_backward_##S(T g, const T *x, T y, T *out, ptrdiff_t n) { \
    if (y == INF_) {  /* a row with +inf has a NaN softmax */                           \
        for (ptrdiff_t i = 0; i < n; i++) out[i] = NAN_;                                \
        return;                                                                         \
    }                                                                                   \
    /* checked in the same loop, and redone with the full exp if needed: out never      \
     * overlaps x (NumPy copies overlapping gufunc operands) */                          \
    int above = 0;                                                                      \
    _Pragma("omp simd reduction(|:above)")                                              \
    for (ptrdiff_t i = 0; i < n; i++) {                                                 \
        out[i] = g * EXP_NEG(x[i] - y);                                                 \
        above |= x[i] - y > 0;                                                          \
    }                                                                                   \
    if (above)                                                                          \
        for (ptrdiff_t i = 0; i < n; i++) out[i] = g * EXP(x[i] - y);                   \
}                                                                                       \
                                                                                        \
/* prelu's weight gradient over one run of a channel: the sum of x*g where x <= 0 or NaN. \
 * The caller sums at most PRELU_CHUNK = 8192 entries here and adds the chunks in double, \
 * so a float accumulator is enough (grad_weight of one 2^16..2^24 float channel: <= 0.5 ulp) */ \
static inline T fa_prelu_weight_grad_##S(const T *g, const T *x, ptrdiff_t n) {         \
    T total = 0;                                                                        \
    _Pragma("omp simd reduction(+:total)")                                              \
    /* the product unconditionally: a masked one kept the sum in memory (5x slower) */ \
    for (ptrdiff_t i = 0; i < n; i++) {                                                 \
        T p = x[i] * g[i];                                                              \
        total += x[i] > 0 ? (T)0 : p;                                                   \
    }                                                                                   \
    return total;                                                                       \
}                                                                                       \
                                                                                        \
/* the value of the first maximum (NaN counts as the maximum), branch-free; written   \
 * with && || (with 4 pieces GCC vectorises this form, not the backward's & | one) */  \
static inline T fa_group_max_##S(const T *x, ptrdiff_t n) {                             \
    T m = x[0];                                                                         \
    for (ptrdiff_t i = 1; i < n; i++) {                                                 \
        T v = x[i];                                                                     \
        m = (m == m && (v > m || v != v)) ? v : m;                                      \
    }                                                                                   \
    return m;                                                                           \
}                                                                                       \
                                                                                        \
/* 2 and 4 pieces spelled out: with the group size a constant GCC vectorises across    \
 * groups (interleaved loads); the general loop stays scalar */                         \
static inline void fa_maxout_##S(const T *x, T *out, ptrdiff_t groups, ptrdiff_t pieces) { \
    switch (pieces) {                                                                   \
        FA_MAXOUT_CASE(S, 2) FA_MAXOUT_CASE(S, 3) FA_MAXOUT_CASE(S, 4)                  \
        FA_MAXOUT_CASE(S, 5) FA_MAXOUT_CASE(S, 6) FA_MAXOUT_CASE(S, 7)                  \
        FA_MAXOUT_CASE(S, 8)                                                            \
    default:                                                                            \
        for (ptrdiff_t j = 0; j < groups; j++)                                          \
            out[j] = fa_group_max_##S(x + j * pieces, pieces);                          \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* one group's gradient: g at the first maximum, g*0 elsewhere (IEEE products: g*0 keeps \
 * NaN in grad_output); NaN in x makes the whole group NaN.  Every select is a mask on   \
 * the bits (I, the integer of T's width): written as float selects, GCC branched on    \
 * them, and random data mispredicted (4 pieces: 2.4 GB/s, now 17.5 in a C loop; 2      \
 * pieces, vectorised across groups either way, 30 -> 39). */                           \
static inline void fa_maxout_backward_group_##S(const T *x, T g, T *out, ptrdiff_t n) {  \
    I m = TO_I(x[0]), k = 0;                                                            \
    for (ptrdiff_t i = 1; i < n; i++) {                                                 \
        T mf = FROM_I(m);                                                               \
        I take = -(I)((mf == mf) & ((x[i] > mf) | (x[i] != x[i])));                      \
        m = (TO_I(x[i]) & take) | (m & ~take);                                          \
        k = ((I)i & take) | (k & ~take);                                                \
    }                                                                                   \
    I nan = -(I)(FROM_I(m) != FROM_I(m));                                               \
    I gb = TO_I(g), zb = TO_I(g * 0);                                                   \
    for (ptrdiff_t i = 0; i < n; i++) {                                                 \
        I hit = -(I)((I)i == k);                                                        \
        out[i] = FROM_I((m & nan) | (((gb & hit) | (zb & ~hit)) & ~nan));               \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* 2 to 8 pieces with the group size a constant, each group's loops unrolled (with a   \
 * run-time size they ran at ~2 GB/s: 3 pieces 1.8, against 8 with the constant) */     \
static inline void fa_maxout_backward_##S(const T *g, const T *x, T *out,               \
                                          ptrdiff_t groups, ptrdiff_t pieces) {         \
    switch (pieces) {                                                                   \
        FA_MAXOUT_BACKWARD_CASE(S, 2) FA_MAXOUT_BACKWARD_CASE(S, 3)                     \
        FA_MAXOUT_BACKWARD_CASE(S, 4) FA_MAXOUT_BACKWARD_CASE(S, 5)                     \
        FA_MAXOUT_BACKWARD_CASE(S, 6) FA_MAXOUT_BACKWARD_CASE(S, 7)                     \
        FA_MAXOUT_BACKWARD_CASE(S, 8)                                                   \
    default:                                                                            \
        for (ptrdiff_t j = 0; j < groups; j++)                                          \
            fa_maxout_backward_group_##S(x + j * pieces, g[j], out + j * pieces, pieces); \
    }                                                                                   \
}

FA_ROWS(float, f32, int32_t, fa_i32, fa_f32, fa_expf, fa_exp_negf, __builtin_nanf(""), __builtin_inff())
FA_ROWS(double, f64, int64_t, fa_i64, fa_f64, fa_exp, fa_exp_neg, __builtin_nan(""), __builtin_inf())

#endif

#ifndef FASTACT_MOVE_ROWS_H
#define FASTACT_MOVE_ROWS_H
/* Copy n_rows rows of length elements (length 0: one value per row) between an
 * operand's memory (row_step bytes between rows, core_step bytes between elements) and a
 * buffer where they lie pitch elements apart, for the gufuncs' strided cores.  Element j
 * of every row is copied before element j + 1: when the rows are adjacent in memory (a
 * softmax along axis 0 of a C-ordered array), the operand side is read or written a
 * cache line at a time.  Not vectorised: GCC turned the buffer side into AVX2 gathers,
 * which made the scatter 3x slower than the scalar copy. */
#if defined(__GNUC__) && !defined(__clang__)
#define FA_SCALAR_LOOPS __attribute__((optimize("no-tree-vectorize")))
#else
#define FA_SCALAR_LOOPS
#endif
#define FA_MOVE_ROWS(T, S)                                                               \
FA_SCALAR_LOOPS static void fa_move_rows_##S(T *buffer, char *base, ptrdiff_t row_step,  \
        ptrdiff_t core_step, ptrdiff_t n_rows, ptrdiff_t length, ptrdiff_t pitch,        \
        int gather) {                                                                    \
    ptrdiff_t count = length ? length : 1;                                              \
    for (ptrdiff_t j = 0; j < count; j++) {                                             \
        char *column = base + j * core_step;                                            \
        if (gather)                                                                     \
            for (ptrdiff_t b = 0; b < n_rows; b++)                                      \
                buffer[b * pitch + j] = *(T *)(column + b * row_step);                  \
        else                                                                            \
            for (ptrdiff_t b = 0; b < n_rows; b++)                                      \
                *(T *)(column + b * row_step) = buffer[b * pitch + j];                  \
    }                                                                                   \
}
FA_MOVE_ROWS(float, f32)
FA_MOVE_ROWS(double, f64)
#endif
