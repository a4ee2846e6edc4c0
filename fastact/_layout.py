"""Kernels in the dispatcher's convention, built from a compiled backend's loops.

The fast backends compile loops over simple shapes only: 1-D contiguous arrays
(elementwise), C-contiguous (rows, length) arrays (row ops), and (outer,
channels, inner) arrays (prelu).  This module turns any layout the dispatcher
passes (strided, Fortran, negative strides, non-contiguous outputs) into those
shapes, as views where possible and as copies where not, so each backend only
supplies its loops.  A backend's ``loops`` object has:

``elementwise(name, n_in, T)``  -> run(n, *arrays, out, *scalars) on 1-D arrays
``rows(name, n_in, T)``         -> run(n, *arrays, out, *params) on 2-D arrays
``reduce(name, T)``             -> run(n, x, out) with x 2-D and out 1-D
``prelu(forward, T)``           -> run(n, x, [g,] weight, out[, grad_weight]) on 3-D arrays
``elementwise_new(name, n_in, T)`` (optional) -> new(*arrays, *scalars): a new result
                                  array, or None if the arrays are not C-contiguous T
``elementwise_into(name, n_in, T)`` (optional) -> into(*arrays, out, *scalars): out
                                  holding the result, or None if the arrays are not
                                  C-contiguous T or out overlaps an input other than itself
``new(name, T)`` (optional, not elementwise) -> new(*arrays, *params) with the public
                                  function's arrays and parameters: a new result (prelu
                                  backward: grad_input, grad_weight) where the arrays are
                                  C-contiguous T and the call needs no layout work (row
                                  ops: along the last axis), else None.  The softmax
                                  family's takes the arrays only (axis -1 checked before).
                                  new(name, T) itself is None for ops without such an entry.
``into(name, T)`` (optional, the softmax family) -> into(*arrays, out): out holding the
                                  result along the last axis, or None as elementwise_into

where ``name`` is the scalar or row function's name, ``T`` the NumPy scalar type,
and ``n`` the element count the backend uses to choose serial or parallel.
"""

from __future__ import annotations

import math

import numpy as np


def kernel(loops, op, direction, dtype):
    """The dispatcher-convention kernel of ``op`` built on ``loops`` (see module docstring)."""
    forward = direction == "forward"
    make = {"elementwise": _elementwise, "prelu": _prelu, "rows": _rows, "maxout": _rows,
            "reduce": _reduce}[op.kind]
    return make(loops, op, forward, dtype.type)


def _run_flat(run, arrays, out, scalars):
    """Run on 1-D views when every array is contiguous in the same order, else on copies."""
    if out.flags.c_contiguous and all(a.flags.c_contiguous for a in arrays):
        if out.ndim != 1:
            arrays = [a.reshape(-1) for a in arrays]
            out = out.reshape(-1)
        run(out.size, *arrays, out, *scalars)
    elif out.flags.f_contiguous and all(a.flags.f_contiguous for a in arrays):
        flat = [a.reshape(-1, order="F") for a in arrays]
        run(out.size, *flat, out.reshape(-1, order="F"), *scalars)
    else:
        flat = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
        result = np.empty(out.shape, out.dtype)
        run(out.size, *flat, result.reshape(-1), *scalars)
        out[...] = result


def _elementwise(loops, op, forward, T):
    n_in = 1 if forward else 2
    suffix = "" if forward else "_backward"
    # A choice parameter (gelu's approximate) selects a scalar function: gelu, gelu_tanh.
    choices = [i for i, p in enumerate(op.params) if p.check == "choice"]

    def resolve(params):
        name = op.name
        for i in choices:
            if params[i] != op.params[i].default:
                name = f"{name}_{params[i]}"
        name += suffix
        scalars = tuple(T(p) for i, p in enumerate(params) if i not in choices)
        new = loops.elementwise_new(name, n_in, T) if hasattr(loops, "elementwise_new") else None
        into = (loops.elementwise_into(name, n_in, T) if hasattr(loops, "elementwise_into")
                else None)
        return loops.elementwise(name, n_in, T), new, into, scalars

    memo = {}  # params -> (loop, new, into, scalars): programs use a handful of parameter sets

    def loop_and_scalars(params):
        found = memo.get(params)
        if found is None:
            found = resolve(params)
            if len(memo) < 256:
                memo[params] = found
        return found

    # A new result array (new) or out filled (into) straight from the compiled code, or
    # None if the arrays are not what those short paths take (C-contiguous arrays of T
    # with equal shapes; for into, out not overlapping an input other than itself).
    if n_in == 1:
        def new(x, *params):
            _, make_new, _, scalars = memo.get(params) or loop_and_scalars(params)
            return make_new(x, *scalars) if make_new is not None else None

        def into(x, out, *params):
            _, _, fill, scalars = memo.get(params) or loop_and_scalars(params)
            return fill(x, out, *scalars) if fill is not None else None
    else:
        def new(g, x, *params):
            _, make_new, _, scalars = memo.get(params) or loop_and_scalars(params)
            return make_new(g, x, *scalars) if make_new is not None else None

        def into(g, x, out, *params):
            _, _, fill, scalars = memo.get(params) or loop_and_scalars(params)
            return fill(g, x, out, *scalars) if fill is not None else None

    # Direct path, the common case: 1-D C-contiguous arrays (checked per call).
    if n_in == 1:
        def run(x, out, *params):
            loop, _, _, scalars = loop_and_scalars(params)
            if x.ndim == 1 and x.flags.c_contiguous and out.flags.c_contiguous:
                loop(out.size, x, out, *scalars)
            else:
                _run_flat(loop, (x,), out, scalars)
    else:
        def run(g, x, out, *params):
            loop, _, _, scalars = loop_and_scalars(params)
            if (x.ndim == 1 and x.flags.c_contiguous and g.flags.c_contiguous
                    and out.flags.c_contiguous):
                loop(out.size, g, x, out, *scalars)
            else:
                _run_flat(loop, (g, x), out, scalars)
    if not op.params:  # nothing to resolve per call: the compiled short paths themselves
        _, new, into, _ = resolve(())  # None where the backend has no such entry
    run.new = new
    run.into = into
    return run


def _channel_shape(shape, axis):
    """(outer, channels, inner) for a channel axis (None: one channel)."""
    if axis is None:
        return 1, 1, math.prod(shape)
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


def _prelu(loops, op, forward, T):
    n_in = 1 if forward else 2

    def run(*args):
        arrays, weight, out, axis = args[:n_in], args[n_in], args[n_in + 1], args[n_in + 2]
        shape3 = _channel_shape(out.shape, axis)
        inputs = [np.ascontiguousarray(a).reshape(shape3) for a in arrays]
        weight = np.ascontiguousarray(weight)
        result = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
        grad_weight = None if forward else np.empty(weight.size, out.dtype)
        extra = () if forward else (grad_weight,)
        loops.prelu(forward, T)(out.size, *inputs, weight, result.reshape(shape3), *extra)
        if result is not out:
            out[...] = result
        return grad_weight

    run.new = _optional(loops, "new", "prelu" if forward else "prelu_backward", T)
    return run


def _as_rows(a, n_rows):
    """A C-contiguous (rows, length) version of a (..., length) array: a view when possible."""
    return np.ascontiguousarray(a.reshape(n_rows, a.shape[-1]))


def _rows(loops, op, forward, T):
    name = op.name if forward else op.backward_name
    n_in = 1 if forward else 2

    def run(*args):
        arrays, out, params = args[:n_in], args[n_in], args[n_in + 1:]
        n_rows = math.prod(out.shape[:-1])
        inputs = [_as_rows(a, n_rows) for a in arrays]
        result = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
        loops.rows(name, n_in, T)(out.size, *inputs, _as_rows(result, n_rows), *params)
        if result is not out:
            out[...] = result

    if op.kind == "rows":  # the public functions' shortest path calls these directly
        run.row_loop = loops.rows(name, n_in, T)
        run.into = _optional(loops, "into", name, T)
    run.new = _optional(loops, "new", name, T)
    return run


def _reduce(loops, op, forward, T):
    def run(*args):
        if forward:
            x, out = args
            n_rows = out.size
            result = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
            loops.reduce(op.name, T)(x.size, _as_rows(x, n_rows), result.reshape(n_rows))
        else:
            g, x, y, out = args
            n_rows = y.size
            result = out if out.flags.c_contiguous else np.empty(out.shape, out.dtype)
            loops.rows(op.backward_name, 3, T)(
                x.size, np.ascontiguousarray(g).reshape(n_rows), _as_rows(x, n_rows),
                np.ascontiguousarray(y).reshape(n_rows), _as_rows(result, n_rows))
        if result is not out:
            out[...] = result

    run.new = _optional(loops, "new", op.name if forward else op.backward_name, T)
    return run


def _optional(loops, entry, name, T):
    """The backend's optional ``new`` or ``into`` entry for the public functions'
    shortest path, or None where it has none."""
    return getattr(loops, entry)(name, T) if hasattr(loops, entry) else None
