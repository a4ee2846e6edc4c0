"""Row kernels of the Numba backend: softmax, log_softmax, logsumexp, maxout and backwards.

Each works on one row (the gufunc's core dimension); the gufuncs of ``ufuncs.py``
loop over the rows.  Three passes, each a vectorised loop: the max
(llvm.maximum, NaN-propagating), the exps, then the scaling.  The max is a separate
function compiled with 'reassoc' so it vectorises (exact in any order).  The sums are
not: each adds LANES interleaved partial sums in a fixed order (written out, so LLVM
vectorises them without reassociating anything), so a row's sum is the same bits however
the loop is compiled.  With 'reassoc' LLVM chose the order, and a kernel compiled in this
process and the same kernel loaded from Numba's disk cache summed differently (float32
softmax: 1-3 ulp on whole rows; the parallel/serial test failed when one of the two came
from the cache).  The exps are never reassociated (reassoc breaks exp's range reduction).
Sums run over blocks of BLOCK entries, each block's sum in the row's type, the blocks'
sums added in float64 (one float32 sum over a long row drifted: softmax of 2^24 float32
entries was 10^4 ulp off; a float64 accumulator per entry costs speed).  log_softmax and
logsumexp use log1p of the terms below the max plus (ties - 1), so the largest entry keeps
its digits.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import intrinsic, register_jitable

from fastact._numba import vecmath

# A call per row costs nothing; row kernels are called with *params, which Numba-IR
# inlining does not support.
row = register_jitable
# the max: exact in any order, so it may reassociate (and vectorise)
_reduction = njit(error_model="numpy", fastmath={"nsz", "contract", "reassoc"}, cache=True,
                  nogil=True)
# the sums (and prelu's weight gradient): no reassoc, their order is written out (_sum)
_summation = njit(error_model="numpy", fastmath={"nsz", "contract"}, cache=True, nogil=True)


@intrinsic
def _maximum(typingctx, a, b):
    """llvm.maximum: the larger of a and b, NaN if either is NaN; vectorises as a reduction."""
    if a != b or a not in (types.float32, types.float64):
        return None

    def codegen(context, builder, signature, args):
        llvm_type = context.get_value_type(a)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(llvm_type, [llvm_type, llvm_type]),
            f"llvm.maximum.f{32 if a == types.float32 else 64}")
        return builder.call(fn, args)

    return a(a, b), codegen


# the sums' block length (the exps of _log_sum_exp_shifted go through a scratch of it too)
BLOCK = 1024
# the partial sums of a block: 4 vectors of 16 floats or 8 of 8 doubles on AVX-512, so
# that several independent vector additions are in flight (one vector of partial sums
# would be one chain of dependent additions, at the adder's latency)
LANES = 64


def _stack_array(count):
    """An intrinsic giving a pointer to ``count`` values of its argument's type on the
    stack (an alloca, in the entry block of the function it is used in: carray it there)."""

    @intrinsic
    def stack(typingctx, like):
        if like not in (types.float32, types.float64):
            return None

        def codegen(context, builder, signature, args):
            return cgutils.alloca_once(builder, context.get_data_type(like),
                                       size=ir.Constant(ir.IntType(64), count))

        return types.CPointer(like)(like), codegen

    return stack


# the partial sums, which LLVM keeps in registers (np.zeros would be a heap allocation
# it cannot)
_stack_lanes = _stack_array(LANES)
# _log_sum_exp_shifted's scratch block: np.empty there was an allocation per row (0.2 ns
# of 1.3 per entry, float32 logsumexp of rows of 1024)
_stack_block = _stack_array(BLOCK)


@row
def _zero(lanes):
    for j in range(LANES):
        lanes[j] = 0


@row
def _fold(lanes):
    """The partial sums added pairwise in a fixed order (halves onto halves)."""
    width = LANES
    while width > 1:
        width //= 2
        for j in range(width):
            lanes[j] += lanes[j + width]
    return lanes[0]


@_summation
def _sum(a):
    """The sum of a in float64, blockwise: each block's LANES partial sums (entry i goes
    to partial sum i % LANES, the block's tail to the folded total), in a fixed order.

    _dot, _sum_and_any_positive and prelu's _weight_grad repeat this loop with their own
    term: one loop taking the term as a function argument is not cached by Numba ("uses
    dynamic globals") and measured _dot 1.3-1.7x slower."""
    total = 0.0
    for start in range(0, a.size, BLOCK):
        block = a[start:start + BLOCK]  # views indexed from 0: no negative-index checks
        lanes = carray(_stack_lanes(a[0]), LANES)  # here: the frame must be this one's
        _zero(lanes)
        full = block.size - block.size % LANES
        for i in range(0, full, LANES):
            chunk = block[i:i + LANES]
            for j in range(LANES):
                lanes[j] += chunk[j]
        s = _fold(lanes)
        for i in range(full, block.size):
            s += block[i]
        total += s
    return total


@_summation
def _dot(a, b):
    """The dot product of a and b in float64, blockwise, in _sum's order."""
    total = 0.0
    for start in range(0, a.size, BLOCK):
        block_a, block_b = a[start:start + BLOCK], b[start:start + BLOCK]
        lanes = carray(_stack_lanes(a[0]), LANES)  # here: the frame must be this one's
        _zero(lanes)
        full = block_a.size - block_a.size % LANES
        for i in range(0, full, LANES):
            chunk_a, chunk_b = block_a[i:i + LANES], block_b[i:i + LANES]
            for j in range(LANES):
                lanes[j] += chunk_a[j] * chunk_b[j]
        s = _fold(lanes)
        for i in range(full, block_a.size):
            s += block_a[i] * block_b[i]
        total += s
    return total


@_summation
def _sum_and_any_positive(a, b):
    """_sum(a), and whether some b[i] > 0 (NaN is not), in one pass over both."""
    total = 0.0
    above = False
    for start in range(0, a.size, BLOCK):
        block_a, block_b = a[start:start + BLOCK], b[start:start + BLOCK]
        lanes = carray(_stack_lanes(a[0]), LANES)  # here: the frame must be this one's
        _zero(lanes)
        full = block_a.size - block_a.size % LANES
        for i in range(0, full, LANES):
            chunk_a, chunk_b = block_a[i:i + LANES], block_b[i:i + LANES]
            for j in range(LANES):
                lanes[j] += chunk_a[j]
                above |= chunk_b[j] > 0
        s = _fold(lanes)
        for i in range(full, block_a.size):
            s += block_a[i]
            above |= block_b[i] > 0
        total += s
    return total, above


@_reduction
def _row_max(x):
    """The maximum of a non-empty row, NaN if it holds a NaN."""
    m = x[0]
    for i in range(x.size):
        m = _maximum(m, x[i])
    return m


@row
def _log_sum_exp_shifted(x, m):
    """log(sum exp(x - m)) in float64 as log1p(rest) for a finite max m: rest = the terms
    below the max plus (number of maxima - 1), so the largest entry keeps its digits.

    The exps (not compiled with reassoc) go to a scratch block on the stack, block by
    block, and each block is summed by _sum.  The maxima are counted in the same loop, in
    an int32 (a block has at most BLOCK): as an int64 count LLVM vectorised the float32
    exps four lanes wide, and as 1.0/0.0 flags summed by _sum they took a pass of their
    own.  Float32 rows of 1024 (2^16 entries), before (flags, scratch from np.empty per
    row) and after, ns per entry: logsumexp 1.36 -> 0.85-0.94, log_softmax 1.50 -> 1.02;
    the Cython loops 0.80 and 0.97.  Float64 unchanged (2.06, 2.36).  The same bits.
    """
    T = type(m)
    rest = 0.0
    ties = -1.0
    for start in range(0, x.size, BLOCK):
        # a view indexed from 0: x[start + i] would be wrapped for negative indices, a
        # check that kept the loop scalar (logsumexp of 1024-entry rows 1.6x slower)
        block = x[start:start + BLOCK]
        # typed from block[0], not m (an Optional in log_softmax, which the intrinsic's
        # typing rejects); here, because the frame must be this one's
        scratch = carray(_stack_block(block[0]), BLOCK)
        maxima = np.int32(0)
        for i in range(block.size):
            v = block[i]
            below = v < m  # else v == m: v <= m and no NaN (the Cython twin explains)
            scratch[i] = vecmath.exp_neg(v - m) if below else T(0)  # x - m <= 0
            maxima = np.int32(maxima + np.int32(not below))
        ties += maxima
        rest += _sum(scratch[:block.size])
    return vecmath.log1p(rest + np.float64(ties))


@row
def _row_max_or_nan_row(x, out):
    """The row's maximum, or None after filling out with NaN.

    A row whose maximum is not finite (NaN, or +inf, in the row, or all -inf)
    has a NaN softmax and log_softmax; an empty row has nothing to write.
    """
    if x.size == 0:
        return None
    m = _row_max(x)
    if not math.isfinite(m):
        out[:] = np.nan
        return None
    return m


@row
def softmax(x, out):
    m = _row_max_or_nan_row(x, out)
    if m is None:
        return
    for i in range(x.size):
        out[i] = vecmath.exp_neg(x[i] - m)  # x - m <= 0: the cheaper exp
    inv = type(m)(1.0 / _sum(out))  # a multiply per entry instead of a division
    for i in range(x.size):
        out[i] = out[i] * inv


@row
def log_softmax(x, out):
    m = _row_max_or_nan_row(x, out)
    if m is None:
        return
    log_total = type(m)(_log_sum_exp_shifted(x, m))
    for i in range(x.size):
        out[i] = (x[i] - m) - log_total


@row
def logsumexp(x):
    if x.size == 0:
        return -np.inf
    m = _row_max(x)
    if not math.isfinite(m):  # NaN, +inf, or an all -inf row: the max is the answer
        return m
    return type(m)(m + _log_sum_exp_shifted(x, m))  # in float64, rounded once


@row
def softmax_backward(g, y, out):
    if y.size == 0:
        return
    dot = type(y[0])(_dot(g, y))
    for i in range(y.size):
        out[i] = y[i] * (g[i] - dot)


# The exps of the two backwards below take arguments <= 0 whenever y is what the forward
# gave: a check (with the sum of g in log_softmax's) picks the cheaper exp for them, the
# same bits there (the Cython twin, rows.h, explains); any other y takes the full exp.

@row
def log_softmax_backward(g, y, out):
    if y.size == 0:
        return
    total, above = _sum_and_any_positive(g, y)
    total = type(y[0])(total)
    if not above:
        for i in range(y.size):
            out[i] = g[i] - vecmath.exp_neg(y[i]) * total
        return
    for i in range(y.size):
        out[i] = g[i] - vecmath.exp(y[i]) * total


@row
def logsumexp_backward(g, x, y, out):
    if y == np.inf:  # a row with +inf has a NaN softmax
        out[:] = np.nan
        return
    above = False  # checked in the same loop, redone if needed (out never overlaps x)
    for i in range(x.size):
        out[i] = g * vecmath.exp_neg(x[i] - y)
        above |= x[i] - y > 0
    if above:
        for i in range(x.size):
            out[i] = g * vecmath.exp(x[i] - y)



@row
def _first_max(x):
    """The maximum of a non-empty group and its first position; NaN counts as the maximum."""
    m = x[0]
    k = 0
    for i in range(1, x.size):
        v = x[i]
        if m == m and (v > m or v != v):
            m = v
            k = i
    return m, k


@row
def _takes_over(m, v):
    """Whether v replaces the running first maximum m (NaN counts as the maximum).
    Bitwise & and |, so loops over groups stay branch-free and vectorise."""
    return (m == m) & ((v > m) | (v != v))


@row
def _keep_first_max(m, v):
    """The running first maximum after seeing v."""
    return v if _takes_over(m, v) else m


@row
def maxout(x, out, pieces):
    # 2 and 4 pieces spelled out, so LLVM vectorises across groups; others stay scalar
    if pieces == 2:
        for j in range(out.size):
            out[j] = _keep_first_max(x[2 * j], x[2 * j + 1])
    elif pieces == 4:
        for j in range(out.size):
            m = _keep_first_max(x[4 * j], x[4 * j + 1])
            m = _keep_first_max(m, x[4 * j + 2])
            out[j] = _keep_first_max(m, x[4 * j + 3])
    else:
        for j in range(out.size):
            m, _ = _first_max(x[j * pieces:(j + 1) * pieces])
            out[j] = m


@row
def maxout_backward(g, x, out, pieces):
    if pieces == 2:  # spelled out and branch-free, so LLVM vectorises across groups
        for j in range(g.size):
            x0, x1, gj = x[2 * j], x[2 * j + 1], g[j]
            take = _takes_over(x0, x1)
            m = x1 if take else x0
            out[2 * j] = m if m != m else (gj * 0 if take else gj)
            out[2 * j + 1] = m if m != m else (gj if take else gj * 0)
        return
    if pieces == 4:  # spelled out too (the general loop below: ~1 GB/s on random data)
        for j in range(g.size):
            gj = g[j]
            m = x[4 * j]
            k = 0
            for i in range(1, 4):
                v = x[4 * j + i]
                take = _takes_over(m, v)
                m = v if take else m
                k = i if take else k
            zero = gj * 0
            for i in range(4):
                out[4 * j + i] = m if m != m else (gj if i == k else zero)
        return
    for j in range(g.size):
        m, k = _first_max(x[j * pieces:(j + 1) * pieces])
        for i in range(pieces):
            # IEEE products: g*0 keeps NaN in grad_output; NaN in x makes the group NaN
            out[j * pieces + i] = (g[j] if i == k else g[j] * 0) if m == m else m
