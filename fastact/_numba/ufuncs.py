"""The Numba backend's kernels as NumPy ufuncs and gufuncs (issue 13).

``ufunc(name, parallel=False)`` returns a real ``numpy.ufunc`` (``type(u) is
np.ufunc``) for every elementwise op direction of ``elementwise.py`` and every
row op of ``rows.py``, with loops for float32 ('ff->f') and float64 ('dd->d').
It is built on first request and memoised per (name, parallel); its loops are
compiled with ``cache=True``.  Importing this module imports numba but compiles
nothing; ``import fastact`` never imports this module.

Design.  Each loop is a ``numba.cfunc`` with NumPy's inner-loop signature
``void(char **args, npy_intp *dimensions, npy_intp *steps, void *data)``,
registered with NumPy's ``PyUFunc_FromFuncAndDataAndSignature`` (Numba's own
``_internal.fromfunc`` makes ufuncs that refuse ``where=``), so the loop body is
ours, not Numba's generic wrapper:

* Elementwise ops (``relu(x)``, ``leaky_relu(x, negative_slope)``,
  ``softplus_backward(g, x, beta, threshold)``, ...) are plain ufuncs: every
  operand, the op's scalar parameters included, broadcasts like any ufunc
  operand, and ``out=``, ``where=``, 0-d inputs and casting are NumPy's.  Three
  paths: every operand contiguous (one loop over the range);
  the arrays contiguous and the parameters of stride 0 (the usual call: the
  parameters are read once and passed as values, so the loop stays vectorised);
  anything else in blocks of ``BLOCK`` elements, each operand used in place (unit
  stride), a buffer filled once (stride 0) or gathered into a stack buffer, the
  output scattered.  The compute loop is its own function (``_compute``) with the
  op's scalar inlined at Numba-IR level (``vecmath.inlined``), so it is a top-level
  loop that LLVM vectorises as in ``kernels.py``, whatever the strides.
  (Numba's ``@vectorize`` wrapper does not do this: it calls the scalar as a
  function, which stops exact GELU vectorising, and takes its vectorisable loop
  only when every operand, parameters included, has unit stride.)
* Row ops are gufuncs along the core dimension: ``softmax``, ``log_softmax``
  ``(n)->(n)``; ``softmax_backward(g, y)``, ``log_softmax_backward(g, y)``
  ``(n),(n)->(n)``; ``logsumexp`` ``(n)->()``; ``logsumexp_backward(g, x, y)``
  ``(),(n),()->(n)``; ``maxout`` ``(n)->(m)`` with pieces = n // m (the caller
  passes ``out=`` of the right shape, m dividing n); ``maxout_backward(g, x)``
  ``(m),(n)->(n)``.  A row whose core stride is the item size is passed to the
  row kernel in place; otherwise (``axes=`` choosing a non-last axis, strided
  views) rows are gathered into contiguous buffers and the outputs scattered
  back, ``BLOCK_ROWS`` rows at a time so that the transposing copy reads whole
  cache lines.  The copy is scalar: softmax along axis 0 of a C (1024, 1024)
  float32 array takes about 1.8x the time along the last axis.  Empty rows behave
  as the row kernels do (softmax of an empty row is empty, logsumexp of one is
  -inf).  ``where=`` is not supported by NumPy for
  gufuncs.
* ``parallel=True`` compiles the same loop with ``parallel=True``: the range
  (elementwise: chunks of ``CHUNK`` elements, a multiple of ``BLOCK`` and of any
  vector step, so each element goes through the same path and the same vector or
  remainder code as in the serial loop; gufuncs: groups of rows) is split with
  ``prange`` over ``numba.set_num_threads`` threads.  Results are bit-identical to
  the serial ufunc (the tests check every name).

The loops clear the floating-point status flags when they finish: NumPy tests
them after each loop, and a vectorised loop raises flags in discarded lanes, so
NumPy would warn where the njit kernels never did.

Caching: as in ``kernels.py``, each loop is a closure whose cells pickle the same
in every process (the op's name, a string, or its row kernel, a module-level
function; the dtype; ``PARALLEL``; ``kernels.SALT``, which covers this file too),
so Numba's disk cache keys it by bytecode and cells.
"""

from __future__ import annotations

import ctypes
import inspect
import platform
import threading

import numpy as np
import llvmlite.binding as ll
from llvmlite import ir
from numba import carray, cfunc, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload, register_jitable

from fastact._numba import elementwise, rows
from fastact._numba.kernels import FASTMATH, SALT

BLOCK = 1024  # elements per block of the strided elementwise path (on the stack)
CHUNK = 32 * BLOCK  # elements per parallel task of the elementwise loops
BLOCK_ROWS = 16  # rows gathered at once when a gufunc's core dimension is strided
ROW_PAD = 16  # items of padding after each gathered row
ROW_TASKS = 256  # at most this many parallel tasks of rows

_DTYPES = (np.float32, np.float64)

_SIGNATURE = types.void(types.CPointer(types.intp), types.CPointer(types.intp),
                        types.CPointer(types.intp), types.voidptr)

# The gufuncs: name -> (signature, operands with a core dimension... see _ROW_LOOPS).
GUFUNCS = {
    "softmax": "(n)->(n)",
    "log_softmax": "(n)->(n)",
    "softmax_backward": "(n),(n)->(n)",
    "log_softmax_backward": "(n),(n)->(n)",
    "logsumexp": "(n)->()",
    "logsumexp_backward": "(),(n),()->(n)",
    "maxout": "(n)->(m)",
    "maxout_backward": "(m),(n)->(n)",
}

ELEMENTWISE = tuple(
    name for name in ("relu", "leaky_relu", "elu", "selu", "celu", "gelu", "gelu_tanh",
                      "sigmoid", "tanh", "silu", "softplus", "mish", "hardsigmoid",
                      "hardswish")
    for name in (name, name + "_backward"))

NAMES = ELEMENTWISE + tuple(GUFUNCS)


# --- pointers and buffers --------------------------------------------------------

def _value_type(dtype):
    return dtype.instance_type if isinstance(dtype, types.NumberClass) else dtype


@intrinsic
def _pointer(typingctx, address, dtype):
    """The integer address as a pointer to values of dtype (a float class)."""
    pointer = types.CPointer(_value_type(dtype))

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(pointer))

    return pointer(address, dtype), codegen


@intrinsic
def _block_buffers(typingctx, dtype):
    """A pointer to 5 * BLOCK values of dtype on the stack (allocated in the entry block):
    the elementwise loops' blocks of up to 4 operands and the output."""
    value = _value_type(dtype)

    def codegen(context, builder, signature, args):
        return cgutils.alloca_once(builder, context.get_data_type(value),
                                   size=ir.Constant(ir.IntType(64), 5 * BLOCK))

    return types.CPointer(value)(dtype), codegen


# The loops clear the floating-point status flags when they finish, so that NumPy, which
# tests them after every loop, raises no warnings: a vectorised loop computes both sides
# of each select (a division by zero, an overflow in a discarded lane), and the njit
# kernels these replace raise none either.  On x86-64 the flags the kernels can set live
# in MXCSR (SSE/AVX only): it is read, and written back only when a flag is set (as
# fastact/_cython/fpstatus.h does; glibc's feclearexcept also saves and reloads the x87
# environment, ~90 ns a call).  Elsewhere feclearexcept.
_MACHINE = platform.machine().lower()
_X86_64 = _MACHINE in ("x86_64", "amd64")
_MXCSR_FLAGS = 0x3F  # invalid, denormal, divide by zero, overflow, underflow, inexact


@intrinsic
def _clear_mxcsr_flags(typingctx):
    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        slot = cgutils.alloca_once(builder, i32)
        address = builder.bitcast(slot, ir.IntType(8).as_pointer())
        access = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
        builder.call(cgutils.get_or_insert_function(builder.module, access,
                                                    "llvm.x86.sse.stmxcsr"), [address])
        csr = builder.load(slot)
        flagged = builder.icmp_unsigned("!=", builder.and_(csr, ir.Constant(i32, _MXCSR_FLAGS)),
                                        ir.Constant(i32, 0))
        with builder.if_then(flagged, likely=False):
            builder.store(builder.and_(csr, ir.Constant(i32, ~_MXCSR_FLAGS & 0xFFFFFFFF)), slot)
            builder.call(cgutils.get_or_insert_function(builder.module, access,
                                                        "llvm.x86.sse.ldmxcsr"), [address])
        return context.get_dummy_value()

    return types.void(), codegen


ll.add_symbol("feclearexcept", ctypes.cast(ctypes.CDLL(None).feclearexcept,
                                           ctypes.c_void_p).value)
_feclearexcept = types.ExternalFunction("feclearexcept", types.int32(types.int32))
# glibc's FE_ALL_EXCEPT: aarch64's and most others' (x86-64 takes MXCSR above)
_FE_ALL_EXCEPT = 0x3D if _MACHINE == "i686" else 0x1F


@register_jitable
def _clear_fp_status():
    if _X86_64:
        _clear_mxcsr_flags()
    else:
        _feclearexcept(_FE_ALL_EXCEPT)


@register_jitable
def _view(address, count, T):
    return carray(_pointer(address, T), count)


@register_jitable
def _operand(address, step, count, buffer, size, T, copy):
    """count values step bytes apart as a contiguous array: the memory itself for a unit
    step (copied into the buffer if ``copy``: the output is this memory), else
    buffer[:count] (filled already for step 0, else gathered into)."""
    if step == size:
        if copy:
            buffer[:count] = _view(address, count, T)
            return buffer[:count]
        return _view(address, count, T)
    _gather(address, step, count, buffer, size, T)
    return buffer[:count]


@register_jitable
def _destination(address, step, count, buffer, size, T):
    """Where count results go: the memory itself for a unit step, else buffer[:count]
    (then _scatter them)."""
    if step == size:
        return _view(address, count, T)
    return buffer[:count]


@register_jitable
def _gather(address, step, count, buffer, size, T):
    """Copy count values step bytes apart into buffer[:count] (step 0: filled already).
    Steps of two items and of minus one item have loops LLVM vectorises."""
    if step == 2 * size:
        source = _view(address, 2 * count - 1, T)
        for i in range(count):
            buffer[i] = source[2 * i]
    elif step == -size:
        source = _view(address - (count - 1) * size, count, T)
        for i in range(count):
            buffer[i] = source[count - 1 - i]
    elif step != 0:
        for i in range(count):
            buffer[i] = _pointer(address + i * step, T)[0]


@register_jitable
def _fill_constant(address, step, buffer, T):
    """Fill the buffer with the operand's value if it is a stride-0 operand."""
    if step == 0:
        buffer[:] = _pointer(address, T)[0]


@register_jitable
def _scatter(address, step, values, size, T):
    """Write values to memory step bytes apart (nothing to do for a unit step)."""
    if step == size:
        return
    if step == 2 * size:
        target = _view(address, 2 * values.size - 1, T)
        for i in range(values.size):
            target[2 * i] = values[i]
    else:
        for i in range(values.size):
            _pointer(address + i * step, T)[0] = values[i]


@register_jitable
def _tasks(n, per_task, parallel):
    """(number of tasks, items per task) splitting n items."""
    if not parallel or n <= per_task:
        return 1, n
    return (n + per_task - 1) // per_task, per_task


def _compute(name, out, operands):
    """out[i] = elementwise.<name>(operands[0][i], ...), operands a 4-tuple of arrays (the
    unused slots empty).

    Its own function (not inlined at Numba-IR level), so its loop is a top-level loop
    for LLVM: nested in the block loop of the strided path, the same loop ran 10%
    slower (exact GELU's backward 169 vs 157 us at 2^16).  The name is a string literal,
    so the loops' closures hold only strings (stable cache keys), not dispatchers.
    """
    raise NotImplementedError("only callable from Numba-compiled code")


def _compute_scalars(name, out, arrays, scalars):
    """out[i] = elementwise.<name>(arrays[0][i], ..., scalars[0], ...): the op's parameters
    as values (stride-0 operands), the arrays contiguous."""
    raise NotImplementedError("only callable from Numba-compiled code")


_JIT_OPTIONS = {"error_model": "numpy", "fastmath": FASTMATH, "nogil": True}


def _scalar_and_arity(name):
    if not isinstance(name, types.StringLiteral):
        return None, 0, 0
    scalar = getattr(elementwise, name.literal_value)
    n_arrays = 2 if name.literal_value.endswith("_backward") else 1
    return scalar, len(inspect.signature(scalar).parameters), n_arrays


# The scalar call is spelled out per arity: Numba inlines it at IR level (so that LLVM
# vectorises the loop) only into calls without *args.

@overload(_compute, prefer_literal=True, jit_options=_JIT_OPTIONS)
def _compute_impl(name, out, operands):
    scalar, nin, _ = _scalar_and_arity(name)
    if nin == 1:
        def compute(name, out, operands):
            x0 = operands[0]
            for i in range(out.size):
                out[i] = scalar(x0[i])
    elif nin == 2:
        def compute(name, out, operands):
            x0, x1 = operands[0], operands[1]
            for i in range(out.size):
                out[i] = scalar(x0[i], x1[i])
    elif nin == 3:
        def compute(name, out, operands):
            x0, x1, x2 = operands[0], operands[1], operands[2]
            for i in range(out.size):
                out[i] = scalar(x0[i], x1[i], x2[i])
    elif nin == 4:
        def compute(name, out, operands):
            x0, x1, x2, x3 = operands[0], operands[1], operands[2], operands[3]
            for i in range(out.size):
                out[i] = scalar(x0[i], x1[i], x2[i], x3[i])
    else:
        return None
    return compute


@overload(_compute_scalars, prefer_literal=True, jit_options=_JIT_OPTIONS)
def _compute_scalars_impl(name, out, arrays, scalars):
    scalar, nin, n_arrays = _scalar_and_arity(name)
    if nin == n_arrays:  # no parameters: never called, as every operand is then an array
        def compute(name, out, arrays, scalars):
            pass
    elif (n_arrays, nin) == (1, 2):
        def compute(name, out, arrays, scalars):
            x0, p0 = arrays[0], scalars[0]
            for i in range(out.size):
                out[i] = scalar(x0[i], p0)
    elif (n_arrays, nin) == (1, 3):
        def compute(name, out, arrays, scalars):
            x0, p0, p1 = arrays[0], scalars[0], scalars[1]
            for i in range(out.size):
                out[i] = scalar(x0[i], p0, p1)
    elif (n_arrays, nin) == (2, 3):
        def compute(name, out, arrays, scalars):
            x0, x1, p0 = arrays[0], arrays[1], scalars[0]
            for i in range(out.size):
                out[i] = scalar(x0[i], x1[i], p0)
    elif (n_arrays, nin) == (2, 4):
        def compute(name, out, arrays, scalars):
            x0, x1, p0, p1 = arrays[0], arrays[1], scalars[0], scalars[1]
            for i in range(out.size):
                out[i] = scalar(x0[i], x1[i], p0, p1)
    else:
        return None
    return compute


# --- elementwise loops ------------------------------------------------------------
# NumPy passes the operands as args[0..nin-1], the output as args[nin], n = dims[0], the
# strides in steps.  Three paths per task (the whole range when serial): every operand
# contiguous; the arrays contiguous and the parameters scalars (stride 0), passed to the
# scalar as values; anything else in blocks gathered into stack buffers.  Operands go in
# 4 slots, the unused ones empty.

@register_jitable
def _paths(steps, nin, n_arrays, size):
    """(every operand contiguous, the arrays contiguous and the parameters stride 0)."""
    contiguous = hoisted = steps[nin] == size
    for j in range(nin):
        contiguous = contiguous and steps[j] == size
        hoisted = hoisted and steps[j] == (size if j < n_arrays else 0)
    return contiguous, hoisted and nin > n_arrays


@register_jitable
def _slot_view(args, steps, j, used, start, count, T):
    if j < used:
        return _view(args[j] + start * steps[j], count, T)
    return _view(0, 0, T)


@register_jitable
def _slot_scalar(args, j, nin, T):
    return _pointer(args[j], T)[0] if j < nin else T(0)


@register_jitable
def _slot_operand(args, steps, j, nin, start, count, buffers, size, T):
    if j < nin:
        in_place = args[j] == args[nin] and steps[j] == steps[nin]
        return _operand(args[j] + start * steps[j], steps[j], count, buffers[j], size, T,
                        in_place)
    return buffers[j, :0]


@register_jitable
def _in_place(args, steps, nin, n_arrays):
    """Whether an array operand is the output itself (out=x): the loops then read it from
    a block buffer, so that the vectorised loop runs (LLVM's overlap check would take its
    scalar loop, slower and rounding differently) and the result is the out-of-place one."""
    for j in range(n_arrays):
        if args[j] == args[nin] and steps[j] == steps[nin]:
            return True
    return False


def _elementwise_loop(name, T, parallel):
    NIN = len(inspect.signature(getattr(elementwise, name)).parameters)
    N_ARRAYS = 2 if name.endswith("_backward") else 1
    NAME = name
    SIZE = np.dtype(T).itemsize
    PARALLEL = parallel
    salt = SALT

    def loop(args, dims, steps, data):
        salt  # noqa: B018  (in the closure: the cache key)
        n = dims[0]
        so = steps[NIN]
        contiguous, hoisted = _paths(steps, NIN, N_ARRAYS, SIZE)
        if _in_place(args, steps, NIN, N_ARRAYS):
            contiguous = hoisted = False
        tasks, per = _tasks(n, CHUNK, PARALLEL)
        for t in prange(tasks):
            lo = t * per
            count = min(n, lo + per) - lo
            ao = args[NIN] + lo * so
            if contiguous or hoisted:
                used = NIN if contiguous else N_ARRAYS
                views = (_slot_view(args, steps, 0, used, lo, count, T),
                         _slot_view(args, steps, 1, used, lo, count, T),
                         _slot_view(args, steps, 2, used, lo, count, T),
                         _slot_view(args, steps, 3, used, lo, count, T))
                if contiguous:
                    _compute(NAME, _view(ao, count, T), views)
                else:
                    _compute_scalars(NAME, _view(ao, count, T), views,
                                     (_slot_scalar(args, N_ARRAYS, NIN, T),
                                      _slot_scalar(args, N_ARRAYS + 1, NIN, T)))
            else:
                buffers = carray(_block_buffers(T), (5, BLOCK))
                for j in range(NIN):
                    _fill_constant(args[j], steps[j], buffers[j], T)
                for b in range(0, count, BLOCK):
                    m = min(BLOCK, count - b)
                    start = lo + b
                    operands = (_slot_operand(args, steps, 0, NIN, start, m, buffers, SIZE, T),
                                _slot_operand(args, steps, 1, NIN, start, m, buffers, SIZE, T),
                                _slot_operand(args, steps, 2, NIN, start, m, buffers, SIZE, T),
                                _slot_operand(args, steps, 3, NIN, start, m, buffers, SIZE, T))
                    out = _destination(ao + b * so, so, m, buffers[4], SIZE, T)
                    _compute(NAME, out, operands)
                    _scatter(ao + b * so, so, out, SIZE, T)
        _clear_fp_status()

    return NIN, loop


# --- gufunc loops -------------------------------------------------------------------
# A core operand whose core stride is the item size is used in place, row by row.  Any
# other is gathered BLOCK_ROWS rows at a time into a (BLOCK_ROWS, length) buffer, the
# rows innermost, so that a core dimension along a non-last axis (rows one item apart)
# is read and written in whole cache lines.

@register_jitable
def _row_buffer(core, length, size, T):
    """The gather buffer of a core operand: none (0 columns) for a unit core stride.  Rows
    are padded by ROW_PAD items, so that rows a power of two apart do not share L1 sets."""
    return np.empty((BLOCK_ROWS, length + ROW_PAD if core != size else 0), T)


@register_jitable
def _gather_rows(address, outer, core, first, count, length, buffer, size, T):
    """buffer[b, :length] = row first + b, for b < count, if the core stride is not unit.
    Item k of all the rows in turn, so rows one item apart (a core dimension along a
    non-last axis) are read a cache line at a time."""
    if core == size:
        return
    base = address + first * outer
    if outer == size:
        for k in range(length):
            source = _view(base + k * core, count, T)
            for b in range(count):
                buffer[b, k] = source[b]
    else:
        for k in range(length):
            for b in range(count):
                buffer[b, k] = _pointer(base + b * outer + k * core, T)[0]


@register_jitable
def _scatter_rows(address, outer, core, first, count, length, buffer, size, T):
    """The inverse of _gather_rows, for outputs."""
    if core == size:
        return
    base = address + first * outer
    if outer == size:
        for k in range(length):
            target = _view(base + k * core, count, T)
            for b in range(count):
                target[b] = buffer[b, k]
    else:
        for k in range(length):
            for b in range(count):
                _pointer(base + b * outer + k * core, T)[0] = buffer[b, k]


@register_jitable
def _row(address, outer, core, r, b, length, buffer, size, T):
    """Row r (the b-th of its block) as a contiguous array: in place or in the buffer."""
    if core == size:
        return _view(address + r * outer, length, T)
    return buffer[b, :length]


@register_jitable
def _row_tasks(n_rows, parallel):
    if not parallel:
        return 1, n_rows
    return _tasks(n_rows, max(1, (n_rows + ROW_TASKS - 1) // ROW_TASKS), True)


def _rows_loop(name, T, parallel):
    """The gufunc loop of row op ``name``: NumPy's dims are (rows, core lengths...),
    its steps the operands' outer strides, then the core strides."""
    kernel = getattr(rows, name)
    SIZE = np.dtype(T).itemsize
    PARALLEL = parallel
    salt = SALT

    if name in ("softmax", "log_softmax"):
        def loop(args, dims, steps, data):
            salt  # noqa: B018
            N, n = dims[0], dims[1]
            o0, o1, c0, c1 = steps[0], steps[1], steps[2], steps[3]
            tasks, per = _row_tasks(N, PARALLEL)
            for t in prange(tasks):
                b0 = _row_buffer(c0, n, SIZE, T)
                b1 = _row_buffer(c1, n, SIZE, T)
                end = min(N, (t + 1) * per)
                for r0 in range(t * per, end, BLOCK_ROWS):
                    count = min(BLOCK_ROWS, end - r0)
                    _gather_rows(args[0], o0, c0, r0, count, n, b0, SIZE, T)
                    for b in range(count):
                        kernel(_row(args[0], o0, c0, r0 + b, b, n, b0, SIZE, T),
                               _row(args[1], o1, c1, r0 + b, b, n, b1, SIZE, T))
                    _scatter_rows(args[1], o1, c1, r0, count, n, b1, SIZE, T)
            _clear_fp_status()
    elif name in ("softmax_backward", "log_softmax_backward"):
        def loop(args, dims, steps, data):
            salt  # noqa: B018
            N, n = dims[0], dims[1]
            o0, o1, o2 = steps[0], steps[1], steps[2]
            c0, c1, c2 = steps[3], steps[4], steps[5]
            tasks, per = _row_tasks(N, PARALLEL)
            for t in prange(tasks):
                b0 = _row_buffer(c0, n, SIZE, T)
                b1 = _row_buffer(c1, n, SIZE, T)
                b2 = _row_buffer(c2, n, SIZE, T)
                end = min(N, (t + 1) * per)
                for r0 in range(t * per, end, BLOCK_ROWS):
                    count = min(BLOCK_ROWS, end - r0)
                    _gather_rows(args[0], o0, c0, r0, count, n, b0, SIZE, T)
                    _gather_rows(args[1], o1, c1, r0, count, n, b1, SIZE, T)
                    for b in range(count):
                        kernel(_row(args[0], o0, c0, r0 + b, b, n, b0, SIZE, T),
                               _row(args[1], o1, c1, r0 + b, b, n, b1, SIZE, T),
                               _row(args[2], o2, c2, r0 + b, b, n, b2, SIZE, T))
                    _scatter_rows(args[2], o2, c2, r0, count, n, b2, SIZE, T)
            _clear_fp_status()
    elif name == "logsumexp":
        def loop(args, dims, steps, data):
            salt  # noqa: B018
            N, n = dims[0], dims[1]
            o0, o1, c0 = steps[0], steps[1], steps[2]
            tasks, per = _row_tasks(N, PARALLEL)
            for t in prange(tasks):
                b0 = _row_buffer(c0, n, SIZE, T)
                end = min(N, (t + 1) * per)
                for r0 in range(t * per, end, BLOCK_ROWS):
                    count = min(BLOCK_ROWS, end - r0)
                    _gather_rows(args[0], o0, c0, r0, count, n, b0, SIZE, T)
                    for b in range(count):
                        _pointer(args[1] + (r0 + b) * o1, T)[0] = kernel(
                            _row(args[0], o0, c0, r0 + b, b, n, b0, SIZE, T))
            _clear_fp_status()
    elif name == "logsumexp_backward":
        def loop(args, dims, steps, data):
            salt  # noqa: B018
            N, n = dims[0], dims[1]
            o0, o1, o2, o3, c1, c3 = steps[0], steps[1], steps[2], steps[3], steps[4], steps[5]
            tasks, per = _row_tasks(N, PARALLEL)
            for t in prange(tasks):
                b1 = _row_buffer(c1, n, SIZE, T)
                b3 = _row_buffer(c3, n, SIZE, T)
                end = min(N, (t + 1) * per)
                for r0 in range(t * per, end, BLOCK_ROWS):
                    count = min(BLOCK_ROWS, end - r0)
                    _gather_rows(args[1], o1, c1, r0, count, n, b1, SIZE, T)
                    for b in range(count):
                        r = r0 + b
                        kernel(_pointer(args[0] + r * o0, T)[0],
                               _row(args[1], o1, c1, r, b, n, b1, SIZE, T),
                               _pointer(args[2] + r * o2, T)[0],
                               _row(args[3], o3, c3, r, b, n, b3, SIZE, T))
                    _scatter_rows(args[3], o3, c3, r0, count, n, b3, SIZE, T)
            _clear_fp_status()
    elif name == "maxout":
        def loop(args, dims, steps, data):
            salt  # noqa: B018
            N, n, m = dims[0], dims[1], dims[2]
            o0, o1, c0, c1 = steps[0], steps[1], steps[2], steps[3]
            pieces = n // m if m else 1
            tasks, per = _row_tasks(N, PARALLEL)
            for t in prange(tasks):
                b0 = _row_buffer(c0, n, SIZE, T)
                b1 = _row_buffer(c1, m, SIZE, T)
                end = min(N, (t + 1) * per)
                for r0 in range(t * per, end, BLOCK_ROWS):
                    count = min(BLOCK_ROWS, end - r0)
                    _gather_rows(args[0], o0, c0, r0, count, n, b0, SIZE, T)
                    for b in range(count):
                        kernel(_row(args[0], o0, c0, r0 + b, b, n, b0, SIZE, T),
                               _row(args[1], o1, c1, r0 + b, b, m, b1, SIZE, T), pieces)
                    _scatter_rows(args[1], o1, c1, r0, count, m, b1, SIZE, T)
            _clear_fp_status()
    elif name == "maxout_backward":
        def loop(args, dims, steps, data):
            salt  # noqa: B018
            N, m, n = dims[0], dims[1], dims[2]
            o0, o1, o2 = steps[0], steps[1], steps[2]
            c0, c1, c2 = steps[3], steps[4], steps[5]
            pieces = n // m if m else 1
            tasks, per = _row_tasks(N, PARALLEL)
            for t in prange(tasks):
                b0 = _row_buffer(c0, m, SIZE, T)
                b1 = _row_buffer(c1, n, SIZE, T)
                b2 = _row_buffer(c2, n, SIZE, T)
                end = min(N, (t + 1) * per)
                for r0 in range(t * per, end, BLOCK_ROWS):
                    count = min(BLOCK_ROWS, end - r0)
                    _gather_rows(args[0], o0, c0, r0, count, m, b0, SIZE, T)
                    _gather_rows(args[1], o1, c1, r0, count, n, b1, SIZE, T)
                    for b in range(count):
                        kernel(_row(args[0], o0, c0, r0 + b, b, m, b0, SIZE, T),
                               _row(args[1], o1, c1, r0 + b, b, n, b1, SIZE, T),
                               _row(args[2], o2, c2, r0 + b, b, n, b2, SIZE, T), pieces)
                    _scatter_rows(args[2], o2, c2, r0, count, n, b2, SIZE, T)
            _clear_fp_status()
    else:
        raise KeyError(name)
    return loop


# --- the ufunc objects ------------------------------------------------------------------

_built: dict = {}
_lock = threading.Lock()


def _compile(loop, parallel):
    return cfunc(_SIGNATURE, error_model="numpy", fastmath=FASTMATH, parallel=parallel,
                 cache=True, nogil=True)(loop)


# NumPy's PyUFunc_FromFuncAndDataAndSignature, from its C-API table.  (Numba's own
# _internal.fromfunc makes ufuncs on which NumPy refuses where=: "An iterator operand was
# flagged as the ARRAYMASK, but no WRITEMASKED operands were given".)
_FROM_FUNC = ctypes.PYFUNCTYPE(
    ctypes.py_object, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
    ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
    ctypes.c_char_p)
_PYUFUNC_NONE = -1
_keepalive: list = []  # NumPy keeps pointers to the loop tables, names and docs


def _numpy_ufunc(name, doc, loops, type_numbers, nin, signature):
    from numpy._core import _multiarray_umath

    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    table = ctypes.cast(get_pointer(_multiarray_umath._UFUNC_API, None),
                        ctypes.POINTER(ctypes.c_void_p))
    from_func = _FROM_FUNC(table[31])
    functions = (ctypes.c_void_p * len(loops))(*[loop.address for loop in loops])
    data = (ctypes.c_void_p * len(loops))()
    types_ = (ctypes.c_char * len(type_numbers))(*type_numbers)
    names = ctypes.create_string_buffer(name.encode()), ctypes.create_string_buffer(doc.encode())
    signature_ = ctypes.create_string_buffer(signature.encode()) if signature else None
    _keepalive.append((loops, functions, data, types_, names, signature_))
    return from_func(ctypes.addressof(functions), ctypes.addressof(data), types_, len(loops),
                     nin, 1, _PYUFUNC_NONE, names[0], names[1], 0, signature_)


def _build(name, parallel):
    if name in GUFUNCS:
        loops = [_compile(_rows_loop(name, T, parallel), parallel) for T in _DTYPES]
        signature = GUFUNCS[name]
        nin = signature.split("->")[0].count("(")
    elif name in ELEMENTWISE:
        loops = []
        for T in _DTYPES:
            nin, loop = _elementwise_loop(name, T, parallel)
            loops.append(_compile(loop, parallel))
        signature = None
    else:
        raise ValueError(f"no ufunc {name!r}; the names are {', '.join(NAMES)}")
    type_numbers = [np.dtype(T).num for T in _DTYPES for _ in range(nin + 1)]
    doc = (f"{name}: fastact's Numba kernel as a NumPy "
           f"{'generalized ufunc ' + signature if signature else 'ufunc'}"
           f"{' (parallel)' if parallel else ''}.")
    return _numpy_ufunc(name, doc, loops, type_numbers, nin, signature)


def ufunc(name: str, parallel: bool = False) -> np.ufunc:
    """The NumPy ufunc (gufunc for the row ops) of ``name``, built on first request.

    ``parallel=True``: the multi-threaded version (``numba.set_num_threads`` threads),
    bit-identical to the serial one; meant for inputs of 2^16 elements or more.
    """
    key = (name, bool(parallel))
    found = _built.get(key)
    if found is None:
        with _lock:
            found = _built.get(key)
            if found is None:
                found = _built[key] = _build(name, bool(parallel))
    return found
