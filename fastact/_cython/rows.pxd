# cython: language_level=3, cdivision=True, boundscheck=False, wraparound=False
# Row kernels of the Cython backend: softmax, log_softmax, logsumexp, maxout and
# their backwards, over one row given by a pointer and a length (the same math
# as fastact/_numba/rows.py).  Three passes: the max and where it is, the exps
# into a scratch row (so out may be the input), then the scaling.  A row whose
# max is not finite (NaN, +inf, or all -inf) is NaN for softmax/log_softmax.

from libc.math cimport INFINITY, NAN
from fastact._cython.scalar cimport real, _exp, _log1p


cdef inline Py_ssize_t _first_max(const real* x, Py_ssize_t n) noexcept nogil:
    """Position of the first maximum of a non-empty row; NaN counts as the maximum."""
    cdef real m = x[0]
    cdef real v
    cdef Py_ssize_t k = 0, i
    for i in range(1, n):
        v = x[i]
        if (m == m) & ((v > m) | (v != v)):
            m = v
            k = i
    return k


cdef inline real _sum(const real* a, Py_ssize_t n) noexcept nogil:
    # four partial sums: independent chains the compiler can keep in registers
    cdef real s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t i = 0
    while i + 4 <= n:
        s0 += a[i]
        s1 += a[i + 1]
        s2 += a[i + 2]
        s3 += a[i + 3]
        i += 4
    while i < n:
        s0 += a[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


cdef inline real _shifted_exps(const real* x, Py_ssize_t n, real m, Py_ssize_t k,
                               real* scratch) noexcept nogil:
    """exp(x - m) into scratch with the maximum's own term (exactly 1) left out; their sum."""
    cdef Py_ssize_t i
    for i in range(n):
        scratch[i] = _exp(x[i] - m)
    scratch[k] = 0
    return _sum(scratch, n)


cdef inline bint _finite(real v) noexcept nogil:
    return v - v == <real>0


cdef inline void softmax(const real* x, real* out, Py_ssize_t n, real* scratch) noexcept nogil:
    cdef Py_ssize_t i, k
    cdef real m, total
    if n == 0:
        return
    k = _first_max(x, n)
    m = x[k]
    if not _finite(m):
        for i in range(n):
            out[i] = NAN
        return
    total = <real>1 + _shifted_exps(x, n, m, k, scratch)
    scratch[k] = 1
    for i in range(n):
        out[i] = scratch[i] / total


cdef inline void log_softmax(const real* x, real* out, Py_ssize_t n, real* scratch) noexcept nogil:
    cdef Py_ssize_t i, k
    cdef real m, log_total
    if n == 0:
        return
    k = _first_max(x, n)
    m = x[k]
    if not _finite(m):
        for i in range(n):
            out[i] = NAN
        return
    log_total = _log1p(_shifted_exps(x, n, m, k, scratch))
    for i in range(n):
        out[i] = (x[i] - m) - log_total


cdef inline real logsumexp(const real* x, Py_ssize_t n, real* scratch) noexcept nogil:
    cdef Py_ssize_t k
    cdef real m
    if n == 0:
        return -INFINITY
    k = _first_max(x, n)
    m = x[k]
    if not _finite(m):  # NaN, +inf, or an all -inf row: the max is the answer
        return m
    return m + _log1p(_shifted_exps(x, n, m, k, scratch))


cdef inline void softmax_backward(const real* g, const real* y, real* out,
                                  Py_ssize_t n) noexcept nogil:
    cdef real dot = 0
    cdef Py_ssize_t i
    for i in range(n):
        dot = dot + g[i] * y[i]
    for i in range(n):
        out[i] = y[i] * (g[i] - dot)


cdef inline void log_softmax_backward(const real* g, const real* y, real* out,
                                      Py_ssize_t n) noexcept nogil:
    cdef real total = _sum(g, n)
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = g[i] - _exp(y[i]) * total


cdef inline void logsumexp_backward(real g, const real* x, real y, real* out,
                                    Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if y == INFINITY:  # a row with +inf has a NaN softmax
        for i in range(n):
            out[i] = NAN
        return
    for i in range(n):
        out[i] = g * _exp(x[i] - y)


cdef inline void maxout(const real* x, real* out, Py_ssize_t groups,
                        Py_ssize_t pieces) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(groups):
        out[j] = x[j * pieces + _first_max(x + j * pieces, pieces)]


cdef inline void maxout_backward(const real* g, const real* x, real* out, Py_ssize_t groups,
                                 Py_ssize_t pieces) noexcept nogil:
    cdef Py_ssize_t j, i, k
    cdef real m
    for j in range(groups):
        k = _first_max(x + j * pieces, pieces)
        m = x[j * pieces + k]
        for i in range(pieces):
            # IEEE products: g*0 keeps NaN in grad_output; NaN in x makes the group NaN
            if m != m:
                out[j * pieces + i] = m
            else:
                out[j * pieces + i] = g[j] if i == k else g[j] * 0
