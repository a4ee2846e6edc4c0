"""Backend 'numba': the dispatcher's entry points (see fastact._dispatch for the protocol).

Importing this module does not import numba; the first kernel() call does, and
each loop compiles on its first call (or loads from Numba's disk cache).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import threading

import numpy as np

from fastact import _layout, _threads

# Below this many elements a parallel launch costs more than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 16

_numba = None
_launch_lock = None  # set when the only threading layer is workqueue (not thread-safe)


def available():
    if importlib.util.find_spec("numba") is None:
        return "numba is not installed"
    return None


def cache_status() -> str:
    """Where Numba's disk cache of fastact's kernels is and how many it holds, without
    importing numba (its default: __pycache__ beside the sources, or NUMBA_CACHE_DIR)."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    root = os.environ.get("NUMBA_CACHE_DIR")
    directory = Path(root) / here.relative_to(here.anchor) if root else here / "__pycache__"
    indexes = list(directory.glob("kernels.*.nbi")) if directory.is_dir() else []
    state = f"warm ({len(indexes)} kernel indexes)" if indexes else "cold (first calls compile)"
    return f"{directory}: {state}"


def describe() -> str:
    return ("threading layer: first of omp, tbb, workqueue that loads; "
            f"cache {cache_status()}")


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
    return _layout.kernel(_Loops, op, direction, dtype)


def _launcher(serial, parallel):
    def run(n, *args):
        _launch(serial, parallel, n, args)
    return run


class _Loops:
    """The compiled loops, built (or loaded from the disk cache) on first use."""

    @staticmethod
    @functools.cache
    def elementwise(name, n_in, T):
        from fastact._numba import elementwise, kernels

        make = kernels.unary if n_in == 1 else kernels.binary
        return _launcher(*make(getattr(elementwise, name)))

    @staticmethod
    @functools.cache
    def elementwise_new(name, n_in, T):
        apply = _Loops._apply(name, n_in, T)
        empty_like = np.empty_like
        # C-contiguous arrays of at least one dimension, any size; other layouts need the
        # general path's copies (None sends them there).
        if n_in == 1:
            def new(x, *scalars):
                if x.ndim and x.flags.c_contiguous:
                    out = empty_like(x)
                    apply(x, out, *scalars)
                    return out
                return None
        else:
            def new(g, x, *scalars):
                if x.ndim and x.flags.c_contiguous and g.flags.c_contiguous:
                    out = empty_like(x)
                    apply(g, x, out, *scalars)
                    return out
                return None
        return new

    @staticmethod
    @functools.cache
    def elementwise_into(name, n_in, T):
        apply = _Loops._apply(name, n_in, T)
        overlap = np.may_share_memory
        # As new, into a writeable C-contiguous out of x's shape (the caller checked its
        # dtype) that is an input itself or shares no memory with the inputs.
        if n_in == 1:
            def into(x, out, *scalars):
                if (x.ndim and out.shape == x.shape and x.flags.c_contiguous
                        and out.flags.c_contiguous and out.flags.writeable
                        and (out is x or not overlap(out, x))):
                    apply(x, out, *scalars)
                    return out
                return None
        else:
            def into(g, x, out, *scalars):
                if (x.ndim and out.shape == x.shape and x.flags.c_contiguous
                        and g.flags.c_contiguous and out.flags.c_contiguous
                        and out.flags.writeable
                        and (out is x or not overlap(out, x))
                        and (out is g or not overlap(out, g))):
                    apply(g, x, out, *scalars)
                    return out
                return None
        return into

    @staticmethod
    @functools.cache
    def _apply(name, n_in, T):
        """apply(*arrays, out, *scalars) on C-contiguous arrays of any shape: small ones by
        one serial fill over all dimensions, large ones flattened through the launcher."""
        from fastact._numba import elementwise, kernels

        fill = kernels.contiguous(getattr(elementwise, name), n_in)
        run = _Loops.elementwise(name, n_in, T)

        def apply(*args):
            out = args[n_in]
            if out.size < PARALLEL_MIN_ELEMENTS:
                fill(*args)
            else:
                run(out.size, *[a.reshape(-1) for a in args[:n_in + 1]], *args[n_in + 1:])
        return apply

    @staticmethod
    @functools.cache
    def rows(name, n_in, T):
        from fastact._numba import kernels, rows

        return _launcher(*kernels.rows(getattr(rows, name), n_in))

    @staticmethod
    @functools.cache
    def into(name, T):
        """The softmax family's fill-out entry: C-contiguous arrays of T along the last axis
        straight to the row loop, or None (out overlapping an input other than itself,
        any other layout or dtype) for the general path."""
        n_in = 2 if name.endswith("_backward") else 1
        run = _Loops.rows(name, n_in, T)
        dtype = np.dtype(T)
        overlap = np.may_share_memory

        def fits(a, out):
            return (_native(a, dtype) and a.shape == out.shape
                    and (out is a or not overlap(out, a)))

        def ready(x, out):
            return (x.ndim and x.size and type(out) is np.ndarray and out.dtype is dtype
                    and out.flags.c_contiguous and out.flags.writeable and fits(x, out))

        if n_in == 1:
            def into(x, out):
                if not ready(x, out):
                    return None
                n = x.shape[-1]
                run(x.size, x.reshape(-1, n), out.reshape(-1, n))
                return out
        else:
            def into(g, x, out):
                if not (ready(x, out) and fits(g, out)):
                    return None
                n = x.shape[-1]
                run(x.size, g.reshape(-1, n), x.reshape(-1, n), out.reshape(-1, n))
                return out
        return into

    @staticmethod
    @functools.cache
    def reduce(name, T):
        from fastact._numba import kernels, rows

        return _launcher(*kernels.reduce_rows(getattr(rows, name)))

    @staticmethod
    @functools.cache
    def prelu(forward, T):
        from fastact._numba import prelu

        return _launcher(*prelu.loops(forward))

    @staticmethod
    @functools.cache
    def new(name, T):
        """The allocate-and-run entry of prelu, maxout or logsumexp (forward or backward)
        with the public function's arguments, under the Cython backend's ``*_new``
        contract: the result for C-contiguous, non-empty arrays of T (the row ops along
        the last axis), else None for the general path.  The softmax family has none: its
        short path calls its row loop directly."""
        base = name.removesuffix("_backward")
        make = {"prelu": _prelu_new, "maxout": _maxout_new, "logsumexp": _logsumexp_new}.get(base)
        return make(name == base, np.dtype(T)) if make is not None else None


def _native(a, dtype):
    """a is a C-contiguous ndarray of dtype (NumPy's own dtype object, so native byte order)."""
    return type(a) is np.ndarray and a.dtype is dtype and a.flags.c_contiguous


def _rows_of(a):
    """a as C-contiguous (rows, last axis) view."""
    return a.reshape(-1, a.shape[-1])


def _prelu_new(forward, dtype):
    run = _Loops.prelu(forward, dtype.type)
    # A Python float at least this large rounds to inf in the dtype: the general path
    # casts it with NumPy's overflow warning.  (2^128 - 2^103 lies halfway above FLT_MAX.)
    overflows = 2.0 ** 128 - 2.0 ** 103 if dtype == np.float32 else math.inf

    def weight_and_shape(x, weight, axis):
        """(weight as a 1-D array, x's (outer, channels, inner) shape), or None."""
        if type(weight) is float:
            if abs(weight) >= overflows and weight - weight == 0:
                return None
            weight = np.array((weight,), dtype)
        elif not (_native(weight, dtype) and weight.ndim == 1 and weight.size):
            return None
        if not (_native(x, dtype) and x.ndim and x.size):
            return None
        if weight.size == 1:
            return weight, _layout._channel_shape(x.shape, None)
        if type(axis) is not int or not -x.ndim <= axis < x.ndim:
            return None
        axis %= x.ndim
        if x.shape[axis] != weight.size:
            return None
        return weight, _layout._channel_shape(x.shape, axis)

    if forward:
        def new(x, weight, axis):
            found = weight_and_shape(x, weight, axis)
            if found is None:
                return None
            w, shape3 = found
            out = np.empty_like(x)
            run(x.size, x.reshape(shape3), w, out.reshape(shape3))
            return out
    else:
        def new(g, x, weight, axis):
            found = weight_and_shape(x, weight, axis)
            if found is None or not (_native(g, dtype) and g.shape == x.shape):
                return None
            w, shape3 = found
            out = np.empty_like(x)
            grad_weight = np.empty(w.size, dtype)
            run(x.size, g.reshape(shape3), x.reshape(shape3), w, out.reshape(shape3),
                grad_weight)
            return out, (grad_weight[0] if type(weight) is float else grad_weight)
    return new


def _maxout_new(forward, dtype):
    def groups_of(x, pieces, axis):
        """maxout(x)'s last axis, or 0 where the general path must take the call."""
        if (_native(x, dtype) and x.ndim and x.size and type(pieces) is int and pieces >= 1
                and type(axis) is int and axis == -1 and x.shape[-1] % pieces == 0):
            return x.shape[-1] // pieces
        return 0

    if forward:
        run = _Loops.rows("maxout", 1, dtype.type)

        def new(x, pieces, axis):
            groups = groups_of(x, pieces, axis)
            if not groups:
                return None
            out = np.empty(x.shape[:-1] + (groups,), dtype)
            run(out.size, _rows_of(x), _rows_of(out), pieces)
            return out
    else:
        run = _Loops.rows("maxout_backward", 2, dtype.type)

        def new(g, x, pieces, axis):
            groups = groups_of(x, pieces, axis)
            if not (groups and _native(g, dtype) and g.shape == x.shape[:-1] + (groups,)):
                return None
            out = np.empty_like(x)
            run(out.size, _rows_of(g), _rows_of(x), _rows_of(out), pieces)
            return out
    return new


def _logsumexp_new(forward, dtype):
    def reduced_shape(x, axis, keepdims):
        """logsumexp(x)'s shape, or None where the general path must take the call."""
        if (_native(x, dtype) and x.ndim and x.size and type(axis) is int and axis == -1
                and type(keepdims) is bool):
            return x.shape[:-1] + (1,) if keepdims else x.shape[:-1]
        return None

    if forward:
        run = _Loops.reduce("logsumexp", dtype.type)

        def new(x, axis, keepdims):
            shape = reduced_shape(x, axis, keepdims)
            if shape is None:
                return None
            out = np.empty(shape, dtype)
            run(x.size, _rows_of(x), out.reshape(-1))
            return out if out.ndim else out[()]
    else:
        run = _Loops.rows("logsumexp_backward", 3, dtype.type)

        def new(g, x, y, axis, keepdims):
            shape = reduced_shape(x, axis, keepdims)
            if not (shape is not None and _native(g, dtype) and g.shape == shape
                    and _native(y, dtype) and y.shape == shape):
                return None
            out = np.empty_like(x)
            run(x.size, g.reshape(-1), _rows_of(x), y.reshape(-1), _rows_of(out))
            return out
    return new


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
