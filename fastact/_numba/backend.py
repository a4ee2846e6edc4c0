"""Backend 'numba': the dispatcher's entry points (see fastact._dispatch for the protocol).

Importing this module does not import numba; the first kernel() call does, and
each loop compiles on its first call (or loads from Numba's disk cache).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import threading

import numpy as np

from fastact import _threads

# Below this many elements a parallel launch costs more than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 16

_numba = None
_launch_lock = None  # set when the only threading layer is workqueue (not thread-safe)


def available():
    if importlib.util.find_spec("numba") is None:
        return "numba is not installed"
    return None


def _import_numba():
    global _numba
    if _numba is None:
        import numba

        # omp is thread-safe and launches in microseconds; workqueue is neither.
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]
        _numba = numba
    return _numba


def _launch(serial, parallel, n, args):
    if n >= PARALLEL_MIN_ELEMENTS:
        threads = _threads.get_num_threads()
        if threads > 1:
            _launch_parallel(parallel, threads, args)
            return
    serial(*args)


def _launch_parallel(parallel, threads, args):
    global _launch_lock
    numba = _numba
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if _launch_lock is None:
        parallel(*args)
        if numba.threading_layer() == "workqueue":
            _launch_lock = threading.Lock()
    else:
        with _launch_lock:
            parallel(*args)


def kernel(op, direction, dtype):
    _import_numba()
    make = {"elementwise": _elementwise, "prelu": _prelu, "rows": _rows, "maxout": _rows,
            "reduce": _reduce}[op.kind]
    return make(op, direction == "forward", dtype.type)


# --- elementwise -----------------------------------------------------------------

@functools.cache
def _elementwise_loops(name, n_in):
    from fastact._numba import elementwise, kernels

    return (kernels.unary if n_in == 1 else kernels.binary)(getattr(elementwise, name))


def _run_flat(serial, parallel, arrays, out, scalars):
    """Run on 1-D views when every array is contiguous in the same order, else on copies."""
    if out.flags.c_contiguous and all(a.flags.c_contiguous for a in arrays):
        if out.ndim != 1:
            arrays = [a.reshape(-1) for a in arrays]
            out = out.reshape(-1)
        _launch(serial, parallel, out.size, (*arrays, out, *scalars))
    elif out.flags.f_contiguous and all(a.flags.f_contiguous for a in arrays):
        flat = [a.reshape(-1, order="F") for a in arrays]
        _launch(serial, parallel, out.size, (*flat, out.reshape(-1, order="F"), *scalars))
    else:
        flat = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
        result = np.empty(out.shape, out.dtype)
        _launch(serial, parallel, out.size, (*flat, result.reshape(-1), *scalars))
        out[...] = result


def _elementwise(op, forward, T):
    n_in = 1 if forward else 2
    suffix = "" if forward else "_backward"
    # A choice parameter (gelu's approximate) selects a scalar function: gelu, gelu_tanh.
    choices = [i for i, p in enumerate(op.params) if p.check == "choice"]

    def loops_and_scalars(params):
        name = op.name
        for i in choices:
            if params[i] != op.params[i].default:
                name = f"{name}_{params[i]}"
        scalars = tuple(T(p) for i, p in enumerate(params) if i not in choices)
        return _elementwise_loops(name + suffix, n_in), scalars

    if n_in == 1:
        def run(x, out, *params):
            (serial, parallel), scalars = loops_and_scalars(params)
            _run_flat(serial, parallel, (x,), out, scalars)
    else:
        def run(g, x, out, *params):
            (serial, parallel), scalars = loops_and_scalars(params)
            _run_flat(serial, parallel, (g, x), out, scalars)
    return run


# --- prelu ---------------------------------------------------------------------------

def _channel_views(shape, axis):
    """(outer, channels, inner) shape for a channel axis (None: one channel)."""
    if axis is None:
        return 1, 1, math.prod(shape)
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


def _prelu(op, forward, T):
    from fastact._numba import prelu

    def run(*args):
        n_in = 1 if forward else 2
        arrays, weight, out, axis = args[:n_in], args[n_in], args[n_in + 1], args[n_in + 2]
        shape3 = _channel_views(out.shape, axis)
        inputs = [np.ascontiguousarray(a).reshape(shape3) for a in arrays]
        weight = np.ascontiguousarray(weight)
        result = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
        if forward:
            prelu.forward(*inputs, weight, result.reshape(shape3))
            grad_weight = None
        else:
            grad_weight = np.empty(weight.size, out.dtype)
            prelu.backward(*inputs, weight, result.reshape(shape3), grad_weight)
        if result is not out:
            out[...] = result
        return grad_weight

    return run


# --- row ops ---------------------------------------------------------------------------

@functools.cache
def _row_loops(name, n_in):
    from fastact._numba import kernels, rows

    return kernels.rows(getattr(rows, name), n_in)


def _as_rows(a, n_rows):
    """A C-contiguous (rows, length) version of a (..., length) array: a view when possible."""
    return np.ascontiguousarray(a.reshape(n_rows, a.shape[-1] if a.ndim else 1))


def _rows(op, forward, T):
    name = op.name if forward else op.backward_name
    n_in = 1 if forward else 2

    def run(*args):
        arrays, out, params = args[:n_in], args[n_in], args[n_in + 1:]
        n_rows = math.prod(out.shape[:-1])
        inputs = [_as_rows(a, n_rows) for a in arrays]
        result = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
        serial, parallel = _row_loops(name, n_in)
        _launch(serial, parallel, out.size, (*inputs, _as_rows(result, n_rows), *params))
        if result is not out:
            out[...] = result

    return run


@functools.cache
def _reduce_loops(name):
    from fastact._numba import kernels, rows

    return kernels.reduce_rows(getattr(rows, name))


def _reduce(op, forward, T):
    def run(*args):
        if forward:
            x, out = args
            n_rows = out.size
            result = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
            serial, parallel = _reduce_loops(op.name)
            _launch(serial, parallel, x.size, (_as_rows(x, n_rows), result.reshape(n_rows)))
        else:
            g, x, y, out = args
            n_rows = y.size
            result = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
            serial, parallel = _row_loops(op.backward_name, 3)
            _launch(serial, parallel, x.size,
                    (np.ascontiguousarray(g).reshape(n_rows), _as_rows(x, n_rows),
                     np.ascontiguousarray(y).reshape(n_rows), _as_rows(result, n_rows)))
        if result is not out:
            out[...] = result

    return run


def warmup(ops, dtypes):
    """Compile (or load from the disk cache) the serial and parallel kernels of ``ops``."""
    import fastact

    global PARALLEL_MIN_ELEMENTS
    threshold = PARALLEL_MIN_ELEMENTS
    try:
        for parallel in (False, True):
            PARALLEL_MIN_ELEMENTS = 0 if parallel else threshold
            with _threads.num_threads(2 if parallel else 1):
                for op in ops:
                    for dtype in dtypes:
                        _call_once(fastact, op, np.dtype(dtype))
    finally:
        PARALLEL_MIN_ELEMENTS = threshold


def _call_once(fastact, op, dtype):
    x = np.linspace(-2, 2, 8, dtype=dtype).reshape(2, 4)
    for params in op.test_params:
        params = dict(params)
        if op.kind == "prelu":
            params["weight"] = np.full(np.size(params["weight"]) if np.size(params["weight"]) == 1
                                       else 4, 0.25, dtype)
            params["axis"] = 1
        y = getattr(fastact, op.name)(x, **params, backend="numba")
        saved = {"x": x, "y": y}
        getattr(fastact, op.backward_name)(np.ones_like(y), *[saved[s] for s in op.saved],
                                           **params, backend="numba")
