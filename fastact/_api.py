"""The public functions, generated from the op table.

``fastact.<op>(x, <params>, *, out=None, backend=None)`` and
``fastact.<op>_backward(grad_output, <saved>, <params>, *, out=None, backend=None)``
are real Python functions with real signatures (generated from source text, as
``collections.namedtuple`` does) that call :func:`run`, which validates the
call, lays out the arrays and runs the backend's kernel.
"""

from __future__ import annotations

import numpy as np

from fastact import _dispatch
from fastact import _validate as v
from fastact.catalogue import OPS, REQUIRED, Op

# kinds whose kernels may write their output over an identical input
_IN_PLACE_KINDS = ("elementwise", "prelu", "rows")


def _reduced_shape(shape, axis, keepdims):
    if keepdims:
        return shape[:axis] + (1,) + shape[axis + 1:]
    return shape[:axis] + shape[axis + 1:]


def _same_view(a: np.ndarray, b: np.ndarray) -> bool:
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.strides == b.strides and a.shape == b.shape and a.dtype == b.dtype)


def _to_last(a: np.ndarray, axis: int) -> np.ndarray:
    """a with ``axis`` moved last (np.moveaxis costs microseconds even when it is already)."""
    return a if axis == a.ndim - 1 else np.moveaxis(a, axis, -1)


_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)


def run_elementwise(op: Op, backward: bool, fname: str, named_arrays: tuple, raw_params: tuple,
                    out, backend):
    """The common case, with less to check: an elementwise op on native float32/float64
    ndarrays of one dtype and shape, with no ``out``.  Anything else goes to :func:`run`.
    """
    x = named_arrays[-1][1]
    if out is None and type(x) is np.ndarray:
        dtype = x.dtype
        if dtype is _FLOAT32 or dtype is _FLOAT64:
            if backward:
                g = named_arrays[0][1]
                if not (type(g) is np.ndarray and g.dtype is dtype and g.shape == x.shape):
                    return run(op, backward, fname, named_arrays, raw_params, out, backend)
                arrays = (g, x)
            else:
                arrays = (x,)
            params = [v.check_param(fname, p, value, x)
                      for p, value in zip(op.params, raw_params)] if raw_params else ()
            valid = _VALID.get(op.name)
            if (valid is not None and len(valid) < 256
                    and all(type(r) is float or type(r) is str for r in raw_params)):
                # checked: the shortest path may take these values (one alone, not a tuple)
                valid.add(raw_params if len(raw_params) > 1 else raw_params[0])
            k = _dispatch.kernel(backend, op, "backward" if backward else "forward", dtype)
            new = getattr(k, "new", None)  # compiled backends' allocate-and-run path
            result = new(*arrays, *params) if new is not None else None
            if result is None:
                result = np.empty_like(x)
                k(*arrays, result, *params)
            return result if result.ndim else result[()]
    return run(op, backward, fname, named_arrays, raw_params, out, backend)


def run(op: Op, backward: bool, fname: str, named_arrays: tuple, raw_params: tuple, out, backend):
    """Validate one call of ``fname``, run its kernel, return the result."""
    arrays = [v.as_float_array(value, fname, name) for name, value in named_arrays]
    names = [name for name, _ in named_arrays]
    params = dict(zip((p.name for p in op.params), raw_params))
    primary = arrays[1] if backward else arrays[0]  # the forward input (or output y)

    weight = None
    dtype_arrays = arrays
    if op.kind == "prelu":
        weight = v.as_float_array(params["weight"], fname, "weight")
        if weight.size == 0:
            raise ValueError(f"{fname}: weight is empty; it needs 1 value or one per channel")
        # A Python number is a weak scalar, as in NumPy: it does not widen x.
        if type(params["weight"]) not in (int, float):
            dtype_arrays = arrays + [weight]
    dtype = v.result_dtype(dtype_arrays)
    cdtype = v.compute_dtype(dtype)

    # Parameters, normalised (axis made non-negative, checked against the input).
    kernel_params = []
    axis = None
    for p in op.params:
        if p.check == "weight":
            continue
        if op.kind == "prelu" and p.name == "axis":
            axis = v.check_weight(fname, weight, primary, params["axis"], p)
            kernel_params.append(axis)
            continue
        value = v.check_param(fname, p, params[p.name], primary)
        params[p.name] = value
        if p.name == "axis":
            axis = value
        elif p.name != "keepdims":
            kernel_params.append(value)
    if op.kind == "maxout":
        v.check_pieces_divide(fname, primary, params["pieces"], axis)

    # Shapes: what the result is, and what grad_output must be.
    x_shape = primary.shape
    if op.kind == "reduce":
        y_shape = _reduced_shape(x_shape, axis, params["keepdims"])
    elif op.kind == "maxout":
        y_shape = x_shape[:axis] + (x_shape[axis] // params["pieces"],) + x_shape[axis + 1:]
    else:
        y_shape = x_shape
    if backward:
        if op.kind == "reduce":
            if arrays[2].shape != y_shape:
                raise ValueError(
                    f"{fname}: y has shape {arrays[2].shape} but logsumexp of x with shape "
                    f"{x_shape} along axis {axis} has shape {y_shape}")
            v.check_same_shape(fname, arrays[0], "y", arrays[2])
        elif op.kind == "maxout":
            if arrays[0].shape != y_shape:
                raise ValueError(
                    f"{fname}: grad_output has shape {arrays[0].shape} but maxout of x with "
                    f"shape {x_shape} has shape {y_shape}; they must be equal")
        else:
            v.check_same_shape(fname, arrays[0], names[1], arrays[1])
        shape = x_shape
    else:
        shape = y_shape
    if out is not None:
        v.check_out(fname, out, shape, dtype)

    arrays = [v.to_dtype(a, cdtype) for a in arrays]
    if weight is not None:
        weight = v.to_dtype(weight, cdtype).reshape(-1)
        arrays_read = arrays + [weight]
    else:
        arrays_read = arrays

    # Write straight into out unless it overlaps an input in a way the kernel
    # cannot handle, or the result is float16 (computed in float32).
    direct = out is not None and cdtype == dtype
    if direct:
        for a in arrays_read:
            if np.may_share_memory(out, a) and not (
                    op.kind in _IN_PLACE_KINDS and _same_view(out, a)):
                direct = False
                break
    result = out if direct else np.empty(shape, cdtype)

    # Layout: row kernels work along the last axis; reduced arrays lack it.
    kernel_out = result
    if op.kind in ("rows", "maxout"):
        arrays = [_to_last(a, axis) for a in arrays]
        kernel_out = _to_last(result, axis)
    elif op.kind == "reduce":
        def reduced(a):
            return np.squeeze(a, axis) if params["keepdims"] else a
        if backward:
            grad_output, x, y = arrays
            arrays = [reduced(grad_output), _to_last(x, axis), reduced(y)]
            kernel_out = _to_last(result, axis)
        else:
            arrays = [_to_last(arrays[0], axis)]
            kernel_out = reduced(result)

    k = _dispatch.kernel(backend, op, "backward" if backward else "forward", cdtype)
    if op.kind == "prelu":
        returned = k(*arrays, weight, kernel_out, axis)
    else:
        returned = k(*arrays, kernel_out, *kernel_params)

    if out is not None:
        if result is not out:
            np.copyto(out, result, casting="same_kind")
        final = out
    else:
        final = result if cdtype == dtype else result.astype(dtype)
        if final.ndim == 0:
            final = final[()]
    if op.kind == "prelu" and backward:
        grad_weight = np.asarray(returned).astype(dtype, copy=False).reshape(np.shape(params["weight"]))
        return final, (grad_weight[()] if grad_weight.ndim == 0 else grad_weight)
    return final


def _param_source(op: Op) -> str:
    return ", ".join(p.name if p.default is REQUIRED else f"{p.name}={p.default!r}"
                     for p in op.params)


def _docstring(op: Op, fname: str, backward: bool) -> str:
    """The docstring of a public function, assembled from the op's table entry."""
    params = "".join(
        f"    {p.name}: {p.doc}"
        + ("" if p.default is REQUIRED else f" Default {p.default!r}.") + "\n"
        for p in op.params)
    common = ("    out: Array to write the result into: exactly the result's shape and dtype.\n"
              "    backend: 'numpy', 'numba', 'cython' or 'auto'; None uses fastact.get_backend().\n")
    saved = ", ".join(op.saved)
    taken = {"x": "x: The forward input.\n", "y": "y: The forward output.\n"}
    lines = []
    if backward:
        lines.append(f"Gradient of {op.name}: grad_output times the derivative, {op.derivative}.\n")
        lines.append(f"Takes ({saved}) saved from the forward pass.")
        if op.kink:
            lines.append(f"At the kink: {op.kink}.")
        lines.append("\nParameters\n----------\n    grad_output: Gradient of the loss with respect "
                     "to the forward output.\n"
                     + "".join("    " + taken[s] for s in op.saved) + params + common)
        ret = "grad_input (and grad_weight for prelu)" if op.kind == "prelu" else "grad_input"
        lines.append(f"Returns\n-------\n    {ret}, in the result dtype of the array arguments.")
    else:
        lines.append(f"{op.summary}\n\n    {fname}(x) = {op.formula}\n")
        lines.append(f"Backward: {op.backward_name}(grad_output, {saved}, ...) computes "
                     f"grad_output * ({op.derivative}).")
        if op.kink:
            lines.append(f"Derivative at the kink: {op.kink}.")
        lines.append("\nParameters\n----------\n    x: Input array (float16/32/64; bool and "
                     "integers are promoted to float64).\n" + params + common)
        lines.append("Returns\n-------\n    An array of the result dtype (a NumPy scalar for 0-d "
                     "input without out).")
    if op.notes:
        lines.append(f"\nNotes\n-----\n    {op.notes}")
    lines.append("\nNaN in gives NaN out; ±inf give the mathematical limits (see the README).")
    return "\n".join(lines)


# Calls on small arrays are dominated by Python overhead, so elementwise ops first try
# the shortest path: native float32/float64 ndarrays, parameters that passed their checks
# before, a kernel already looked up for this backend and dtype (by an earlier call
# through run_elementwise), and its compiled allocate-and-run entry, or with out= its
# compiled fill-out entry (both return None for layouts they do not take, and the
# fill-out one also when out overlaps an input other than itself).
# prelu, maxout and logsumexp: the compiled allocate-and-run entry, which takes the
# arrays and parameters as given and returns None for anything it leaves to the general
# path (a weight other than a Python float or a 1-D array of x's dtype, an axis other
# than the last for the row ops, ...).
# The same for the softmax family along the last axis: the compiled allocate-and-run
# entry (with out=, the fill-out one), or where the backend has none, C-contiguous rows
# straight to its compiled row loop, which these ops' kernels register (fastact._layout).
# per elementwise op with parameters: the raw parameter values that passed the checks (a
# tuple of them, or the value itself for an op with one parameter)
_VALID: dict = {op.name: set() for op in OPS
                if op.kind == "elementwise" and op.params
                and all(p.check in ("real", "nonzero", "positive", "not_nan", "choice")
                        for p in op.params)}

# The backend in effect, as _dispatch.get_backend() has it, inlined (a call costs 40 ns).
_BACKEND = "(backend if backend is not None else (_override.get() or _state._default))"

_ROWS_FAST_PATH = """\
    if type({x}) is _ndarray and axis == -1:
        d = {x}.dtype
        if d is _F32 or d is _F64:
            b = %s
            if out is not None:
                into = _into.get(b, _none)[d is _F64]
                if into is not None and into({arrays}, out) is not None:
                    return out
            else:
                new = _new.get(b, _none)[d is _F64]
                if new is not None:
                    r = new({arrays})
                    if r is not None:
                        return r
                elif {x}.ndim and {x}.size and {x}.flags.c_contiguous{shape_check}:
                    loop = _row_loops.get(b, _none)[d is _F64]
                    if loop is not None:
                        r = _empty({x}.shape, d)
                        n = {x}.shape[-1]
                        loop({x}.size, {rows}, r.reshape(-1, n))
                        return r
""" % _BACKEND

_NEW_FAST_PATH = """\
    if out is None and type({x}) is _ndarray:
        d = {x}.dtype
        if d is _F32 or d is _F64:
            new = _new.get(%s, _none)[d is _F64]
            if new is not None:
                r = new({arguments})
                if r is not None:
                    return r
""" % _BACKEND

_FAST_PATH = """\
    if type({x}) is _ndarray{params_check}:
        d = {x}.dtype
        if (d is _F32 or d is _F64){shape_check}:
            b = %s
            if out is None:
                new = _new.get(b, _none)[d is _F64]
                if new is not None:
                    r = new({arrays})
                    if r is not None:
                        return r if r.ndim else r[()]
            elif type(out) is _ndarray and out.dtype is d:
                into = _into.get(b, _none)[d is _F64]
                if into is not None and into({arrays_out}) is not None:
                    return out
""" % _BACKEND


def make_functions(op: Op) -> dict:
    """The forward and backward public functions of ``op`` (and of its aliases)."""
    functions = {}
    params = _param_source(op)
    values = "".join(f"{p.name}, " for p in op.params)
    for fname in (op.name,) + op.aliases:
        for backward in (False, True):
            arrays = ("grad_output",) + op.saved if backward else ("x",)
            name = fname + ("_backward" if backward else "")
            named = "".join(f"({a!r}, {a}), " for a in arrays)
            signature = ", ".join(arrays + ((params,) if params else ()))
            runner = "run_elementwise" if op.kind == "elementwise" else "run"
            shape_check = (f" and type({arrays[0]}) is _ndarray and {arrays[0]}.dtype is d"
                           f" and {arrays[0]}.shape == {arrays[-1]}.shape") if backward else ""
            fast = ""
            if op.kind == "elementwise":
                names = [p.name for p in op.params]
                # parameters already validated (as these exact floats or strings) by an
                # earlier call: their checks do not depend on x
                params_check = "".join(f" and type({n}) is {'str' if p.check == 'choice' else 'float'}"
                                       for n, p in zip(names, op.params))
                if names:
                    params_check += (f" and ({', '.join(names)}) in _valid" if len(names) > 1
                                     else f" and {names[0]} in _valid")
                taken = arrays[-2:] if backward else arrays
                fast = _FAST_PATH.format(
                    arrays=", ".join(taken + tuple(names)),
                    arrays_out=", ".join(taken + ("out",) + tuple(names)),
                    shape_check=shape_check, x=arrays[-1], params_check=params_check)
            elif op.kind in ("prelu", "maxout", "reduce"):
                fast = _NEW_FAST_PATH.format(arguments=", ".join(arrays + tuple(
                    p.name for p in op.params)), x=arrays[-1])
            elif op.kind == "rows":
                fast = _ROWS_FAST_PATH.format(
                    arrays=", ".join(arrays), rows=", ".join(f"{a}.reshape(-1, n)" for a in arrays),
                    shape_check=shape_check + (f" and {arrays[0]}.flags.c_contiguous"
                                               if backward else ""), x=arrays[-1])
            source = (f"def {name}({signature}, *, out=None, backend=None):\n{fast}"
                      f"    return {runner}(_op, {backward}, {name!r}, ({named}), ({values}), out,"
                      f" backend)\n")
            direction = "backward" if backward else "forward"
            namespace = {"run": run, "run_elementwise": run_elementwise, "_op": op,
                         "_ndarray": np.ndarray, "_F32": _FLOAT32, "_F64": _FLOAT64,
                         "_empty": np.empty, "_valid": _VALID.get(op.name), "_none": (None, None),
                         "_override": _dispatch._override, "_state": _dispatch,
                         "_new": _dispatch.short_paths("new", op.name, direction),
                         "_into": _dispatch.short_paths("into", op.name, direction),
                         "_row_loops": _dispatch.short_paths("row_loop", op.name, direction)}
            exec(compile(source, f"<fastact.{name}>", "exec"), namespace)
            fn = namespace[name]
            fn.__module__ = "fastact"
            fn.__qualname__ = name
            fn.__doc__ = _docstring(op, fname, backward)
            functions[name] = fn
    return functions


FUNCTIONS: dict = {}
for _op in OPS:
    FUNCTIONS.update(make_functions(_op))
