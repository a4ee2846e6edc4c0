"""The public functions: check the call, then run the backend's ufunc.

Every function here is ordinary source, one per op direction, whose body names the
kernel it runs.  The path from ``fastact.gelu(x)`` to the kernel is:

1. ``gelu`` checks ``approximate`` and picks the ufunc 'gelu' or 'gelu_tanh';
2. :func:`_elementwise` (its common case first in C: fastact._fastcall.elementwise)
   checks the arrays (dtype, shapes, ``out``) and asks
   :mod:`fastact._dispatch` for the backend in effect;
3. the backend's NumPy ufunc runs (``fastact.ufuncs``), or for backend 'numpy'
   the reference function (``fastact.reference``).

Every check lives in :mod:`fastact._validate` and runs on every call, so a call
behaves the same whether or not an earlier one has warmed anything up.  The
signatures and docstrings agree with the op table (``fastact.catalogue``): the
docstrings are made from it, and ``tests/test_api.py`` checks the signatures.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from fastact import _dask, _dispatch, reference
from fastact import _validate as v
from fastact.catalogue import OPS_BY_NAME, REQUIRED, Op

try:  # built with the Cython backend; without it every call goes through NumPy's dispatch
    from fastact import _fastcall
    from fastact._fastcall import call as _loop_call
except ImportError:
    _fastcall = _loop_call = None

_ndarray = np.ndarray
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_F16 = np.dtype(np.float16)


# ---------------------------------------------------------------- the runners

def _checked_params(fname: str, op: Op, values: tuple, x) -> tuple:
    return v.check_params(fname, op.params, values, x)


def _direct(compiled, kernel: str, arrays: tuple, params: tuple = (), out_core_length=-1,
            out=None):
    """The result of the common case, computed by the backend's ufunc loop itself without
    NumPy's dispatch (fastact._fastcall: the same loop, so the same bits), else None.

    The common case: exact ndarrays of one native float32/float64 dtype, contiguous
    alike, of one shape (a gufunc's: along the last axis), checked parameters that are
    Python floats within the dtype's range, and no out= or one of that kind that overlaps
    no input (an elementwise op's may be the input itself).  Anything else, and every
    error, takes the general path.
    """
    if _loop_call is None or compiled is None:
        return None
    return _loop_call(compiled.ufunc(kernel, arrays[-1].size), arrays, params,
                      out_core_length, out)


def _elementwise(fname: str, op: Op, kernel: str, names: tuple, arrays: tuple, params: tuple,
                 out, backend):
    """Run elementwise ``kernel`` on ``arrays`` (x; or grad_output and x or y) with the
    op's checked scalar ``params``."""
    compiled = _dispatch.module(backend)
    if type(arrays[-1]) is _ndarray:  # the common case (calls without backend= ran it in C)
        result = _direct(compiled, kernel, arrays, params, out=out)
        if result is not None:
            return result
    if _dask.wanted(arrays):  # Dask arrays and xarray objects: a lazy graph (fastact._dask)
        return _dask.elementwise(fname, op, kernel, names, arrays, params, out, backend)
    checked = [v.as_float_array(a, fname, name) for name, a in zip(names, arrays)]
    if len(checked) == 2:
        v.check_same_shape(fname, checked[0], names[1], checked[1])
    dtype = v.result_dtype(checked)
    return _run(fname, op, kernel, checked, params, dtype, checked[-1].shape, out, compiled, {})


def _run(fname, op, kernel, arrays, params, dtype, shape, out, compiled, core: dict,
         reference_call=None):
    """Run ``kernel`` for a result of ``dtype`` and ``shape``: the compiled backend's ufunc
    with ``core`` (axis=, axes=, keepdims=), or the reference."""
    compute = v.compute_dtype(dtype)  # float16 is computed in float32
    params = [v.fit_param(fname, p, value, compute) for p, value in zip(op.params, params)]
    if out is not None:
        v.check_out(fname, out, shape, dtype)
    if compiled is None:
        call = reference_call or _REFERENCE_KERNELS.get(kernel) or getattr(reference, kernel)
        found = np.asarray(call(*arrays, *params))
        if found.dtype is not dtype:  # NumPy's own dtype object, as every result carries
            found = found.astype(dtype)
        if out is None:
            return found[()] if found.ndim == 0 else found
        np.copyto(out, found, casting="same_kind")
        return out
    # Allocated here, not by the ufunc: the result then carries NumPy's own dtype object
    # (the ufunc may make an equal one for byte-swapped input), float16 results are cast
    # into it, and maxout's gufunc learns its output length (m) from it.
    target = np.empty(shape, dtype) if out is None else out
    size = max([getattr(a, "size", 1) for a in arrays])  # what the threads split
    if all([a.dtype is dtype for a in arrays if type(a) is _ndarray]):
        # arrays of the result dtype: the ufunc's loop of that dtype (float16: its float16
        # loop where built, else NumPy's cast to the float32 one)
        kwargs = core
    else:  # integers, bools, mixed dtypes: computed in the compute dtype
        kwargs = {"dtype": compute, **core}
    if dtype is _F16:
        # NumPy's cast of float32 results to float16 flags a result beyond float16's range
        # (a RuntimeWarning, an error under -W error) where the kernels' own loops round it
        # to inf silently, as every float32 and float64 result is: the same on every backend
        with np.errstate(over="ignore"):
            result = compiled.ufunc(kernel, size)(*arrays, *params, out=target, **kwargs)
    else:
        result = compiled.ufunc(kernel, size)(*arrays, *params, out=target, **kwargs)
    if out is None and result.ndim == 0 and type(result) is _ndarray:
        return result[()]
    return result


# The reference functions of the ufuncs that have no function of their own name there.
_REFERENCE_KERNELS: dict[str, Callable] = {
    "gelu_tanh": lambda x: reference.gelu(x, "tanh"),
    "gelu_tanh_backward": lambda g, x: reference.gelu_backward(g, x, "tanh"),
}


def _rows(fname: str, op: Op, kernel: str, names: tuple, arrays: tuple, axis, out, backend):
    """The softmax family: the gufunc (n)->(n) or (n),(n)->(n) along ``axis``."""
    compiled = _dispatch.module(backend)
    if type(axis) is int and axis == -1 and type(arrays[-1]) is _ndarray:  # as _elementwise
        result = _direct(compiled, kernel, arrays, out=out)
        if result is not None:
            return result
    if _dask.wanted(arrays):
        return _dask.rows(fname, op, kernel, names, arrays, axis, out, backend)
    checked = [v.as_float_array(a, fname, name) for name, a in zip(names, arrays)]
    axis = v.check_param(fname, op.params[0], axis, checked[-1])
    if len(checked) == 2:
        v.check_same_shape(fname, checked[0], names[1], checked[1])
    dtype = v.result_dtype(checked)
    return _run(fname, op, kernel, checked, [], dtype, checked[-1].shape, out, compiled,
                {"axis": axis}, lambda *a: getattr(reference, kernel)(*a, axis=axis))


# A call without backend= outside use_backend blocks runs its common case in C: the
# default backend's ufunc loop, without these functions' Python frames (about a third of
# a call at 2^10 elements).  Everything else, and whatever that path declines, runs the
# functions above (fastact._fastcall.elementwise and .rows).
if _fastcall is not None:
    _fastcall.set_general_paths(_elementwise, _rows)
    _elementwise, _rows = _fastcall.elementwise, _fastcall.rows


def _reduced_shape(shape, axis, keepdims):
    return shape[:axis] + ((1,) if keepdims else ()) + shape[axis + 1:]


# ---------------------------------------------------------------- docstrings

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
    lines.append("A Dask array (xarray DataArray) gives a lazy Dask array (a DataArray).")
    return "\n".join(lines)


def _documented(op_name: str):
    """Give a public function its docstring from the op table (its name says which
    direction and, for swish, which alias)."""
    def decorate(fn):
        backward = fn.__name__.endswith("_backward")
        fn.__doc__ = _docstring(OPS_BY_NAME[op_name], fn.__name__.removesuffix("_backward"),
                                backward)
        fn.__module__ = "fastact"
        return fn
    return decorate


# ---------------------------------------------------------------- relu family

_RELU = OPS_BY_NAME["relu"]
_LEAKY_RELU = OPS_BY_NAME["leaky_relu"]
_PRELU = OPS_BY_NAME["prelu"]
_ELU = OPS_BY_NAME["elu"]
_SELU = OPS_BY_NAME["selu"]
_CELU = OPS_BY_NAME["celu"]
_GELU = OPS_BY_NAME["gelu"]
_SIGMOID = OPS_BY_NAME["sigmoid"]
_TANH = OPS_BY_NAME["tanh"]
_SILU = OPS_BY_NAME["silu"]
_SOFTPLUS = OPS_BY_NAME["softplus"]
_MISH = OPS_BY_NAME["mish"]
_HARDSIGMOID = OPS_BY_NAME["hardsigmoid"]
_HARDSWISH = OPS_BY_NAME["hardswish"]
_SOFTMAX = OPS_BY_NAME["softmax"]
_LOG_SOFTMAX = OPS_BY_NAME["log_softmax"]
_LOGSUMEXP = OPS_BY_NAME["logsumexp"]
_MAXOUT = OPS_BY_NAME["maxout"]
_X = ("x",)
_GX = ("grad_output", "x")
_GY = ("grad_output", "y")


@_documented("relu")
def relu(x, *, out=None, backend=None):
    return _elementwise("relu", _RELU, "relu", _X, (x,), (), out, backend)


@_documented("relu")
def relu_backward(grad_output, x, *, out=None, backend=None):
    return _elementwise("relu_backward", _RELU, "relu_backward", _GX, (grad_output, x), (),
                        out, backend)


@_documented("leaky_relu")
def leaky_relu(x, negative_slope=0.01, *, out=None, backend=None):
    params = _checked_params("leaky_relu", _LEAKY_RELU, (negative_slope,), x)
    return _elementwise("leaky_relu", _LEAKY_RELU, "leaky_relu", _X, (x,), params, out, backend)


@_documented("leaky_relu")
def leaky_relu_backward(grad_output, x, negative_slope=0.01, *, out=None, backend=None):
    params = _checked_params("leaky_relu_backward", _LEAKY_RELU, (negative_slope,), x)
    return _elementwise("leaky_relu_backward", _LEAKY_RELU, "leaky_relu_backward", _GX,
                        (grad_output, x), params, out, backend)


def _prelu_weight(fname: str, x, weight, axis):
    """x and weight as arrays, the channel axis (None for one weight value), and the
    weight's operand for the leaky_relu ufuncs: a Python number as given (a weak scalar
    that does not widen x, as in NumPy), else the array shaped to broadcast along axis."""
    x = v.as_float_array(x, fname, "x")
    weights = v.as_float_array(weight, fname, "weight")
    if weights.size == 0 and not (x.ndim and x.size == 0):
        raise ValueError(f"{fname}: weight is empty; it needs 1 value or one per channel")
    axis = v.check_weight(fname, weights, x, axis, _PRELU.params[1])
    if type(weight) in (int, float):
        operand = weight
    elif axis is None:
        operand = weights.reshape(())
    else:
        operand = weights.reshape((-1,) + (1,) * (x.ndim - axis - 1))
    return x, weights, axis, operand


def _one_weight(x, weight):
    """prelu's one weight for every channel as a Python float, when x is an ndarray and
    the weight a Python float or a one-value array of x's dtype (the result's dtype is then
    x's, and the float holds the value exactly); else None."""
    if type(x) is not _ndarray:
        return None
    if type(weight) is float:
        return weight
    if type(weight) is _ndarray and weight.size == 1 and weight.dtype is x.dtype:
        return float(weight.reshape(-1)[0])
    return None


@_documented("prelu")
def prelu(x, weight, axis=1, *, out=None, backend=None):
    slope = _one_weight(x, weight)
    if slope is not None:  # leaky_relu's loop with the weight as the slope
        result = _direct(_dispatch.module(backend), "leaky_relu", (x,), (slope,), out=out)
        if result is not None:
            return result
    if _dask.wanted((x, weight)):
        return _dask.prelu(x, weight, axis, out, backend)
    x, weights, axis, operand = _prelu_weight("prelu", x, weight, axis)
    dtype = v.result_dtype([x] if type(weight) in (int, float) else [x, weights])
    return _run("prelu", _PRELU, "leaky_relu", [x, operand], [], dtype, x.shape, out,
                _dispatch.module(backend), {},
                lambda x, w: reference.prelu(x, weights, 0 if axis is None else axis))


def _fused_prelu_backward(compiled, g, x, weights, shape, shape3, dtype):
    """grad_input (of ``shape``, x's) and grad_weight (one per channel) in ``dtype`` from
    the backend's fused kernel, which sees C-contiguous g and x of that dtype as (outer,
    channels, inner) ``shape3`` and ``weights`` as one value per channel."""
    grad_input = np.empty(shape, dtype)
    grad_weight = np.empty(shape3[1], dtype)
    compiled.prelu_backward(g.reshape(shape3), x.reshape(shape3), weights,
                            grad_input.reshape(shape3), grad_weight)
    return grad_input, grad_weight


@_documented("prelu")
def prelu_backward(grad_output, x, weight, axis=1, *, out=None, backend=None):
    """(grad_input, grad_weight); see fastact.prelu."""
    slope = _one_weight(x, weight) if out is None and type(grad_output) is _ndarray else None
    if (slope is not None and grad_output.dtype is x.dtype
            and (x.dtype is _F32 or x.dtype is _F64) and x.flags.c_contiguous and grad_output.flags.c_contiguous
            and x.shape == grad_output.shape and x.size and x.ndim):
        compiled = _dispatch.module(backend)
        if compiled is not None:
            # the common case, one weight for every channel, without the general path's
            # ~8 us of small NumPy calls: one (1, 1, n) row through the fused kernel
            # (np.array of a tuple: np.full took 0.8-1.6 us of a ~5 us call on 1024 floats)
            grad_input, grad_weight = _fused_prelu_backward(
                compiled, grad_output, x, np.array((slope,), x.dtype), x.shape,
                (1, 1, x.size), x.dtype)
            grad_weight = grad_weight.reshape(() if type(weight) is float else weight.shape)
            return grad_input, (grad_weight[()] if grad_weight.ndim == 0 else grad_weight)
    if _dask.wanted((grad_output, x, weight)):
        return _dask.prelu_backward(grad_output, x, weight, axis, out, backend)
    fname = "prelu_backward"
    x, weights, axis, _ = _prelu_weight(fname, x, weight, axis)
    g = v.as_float_array(grad_output, fname, "grad_output")
    v.check_same_shape(fname, g, "x", x)
    dtype = v.result_dtype([g, x] if type(weight) in (int, float) else [g, x, weights])
    if out is not None:
        v.check_out(fname, out, x.shape, dtype)
    compiled = _dispatch.module(backend)
    if compiled is None:
        grad_input, grad_weight = reference.prelu_backward(g, x, weights,
                                                           0 if axis is None else axis)
        grad_input = np.asarray(grad_input).astype(dtype, copy=False)
        grad_weight = np.asarray(grad_weight).astype(dtype, copy=False).reshape(weights.shape)
    else:
        # the fused kernel: grad_input and the per-channel sums in one pass, on C-contiguous
        # (outer, channels, inner) arrays of the compute dtype
        compute = v.compute_dtype(dtype)
        channels = 1 if axis is None else x.shape[axis]
        outer = math.prod(x.shape[:axis]) if axis is not None else 1
        shape3 = (outer, channels, x.size // max(outer * channels, 1))
        grad_input, grad_weight = _fused_prelu_backward(
            compiled, np.ascontiguousarray(g, compute), np.ascontiguousarray(x, compute),
            np.ascontiguousarray(weights, compute).reshape(-1), x.shape, shape3, compute)
        grad_weight = grad_weight.reshape(weights.shape)
        if dtype is not compute:
            with np.errstate(over="ignore"):  # float16: beyond its range is inf, silently
                grad_input = grad_input.astype(dtype)
                grad_weight = grad_weight.astype(dtype)
    if out is not None:
        np.copyto(out, grad_input, casting="same_kind")
        grad_input = out
    elif grad_input.ndim == 0:
        grad_input = grad_input[()]
    return grad_input, (grad_weight[()] if grad_weight.ndim == 0 else grad_weight)


# ---------------------------------------------------------------- exponential units

@_documented("elu")
def elu(x, alpha=1.0, *, out=None, backend=None):
    params = _checked_params("elu", _ELU, (alpha,), x)
    return _elementwise("elu", _ELU, "elu", _X, (x,), params, out, backend)


@_documented("elu")
def elu_backward(grad_output, x, alpha=1.0, *, out=None, backend=None):
    params = _checked_params("elu_backward", _ELU, (alpha,), x)
    return _elementwise("elu_backward", _ELU, "elu_backward", _GX, (grad_output, x), params,
                        out, backend)


@_documented("selu")
def selu(x, *, out=None, backend=None):
    return _elementwise("selu", _SELU, "selu", _X, (x,), (), out, backend)


@_documented("selu")
def selu_backward(grad_output, x, *, out=None, backend=None):
    return _elementwise("selu_backward", _SELU, "selu_backward", _GX, (grad_output, x), (),
                        out, backend)


@_documented("celu")
def celu(x, alpha=1.0, *, out=None, backend=None):
    params = _checked_params("celu", _CELU, (alpha,), x)
    return _elementwise("celu", _CELU, "celu", _X, (x,), params, out, backend)


@_documented("celu")
def celu_backward(grad_output, x, alpha=1.0, *, out=None, backend=None):
    params = _checked_params("celu_backward", _CELU, (alpha,), x)
    return _elementwise("celu_backward", _CELU, "celu_backward", _GX, (grad_output, x), params,
                        out, backend)


# ---------------------------------------------------------------- smooth units

def _gelu_kernel(fname: str, approximate, x) -> str:
    """'gelu' or 'gelu_tanh': the choice parameter selects the ufunc."""
    v.check_param(fname, _GELU.params[0], approximate, x)
    return "gelu" if approximate == "none" else "gelu_tanh"


@_documented("gelu")
def gelu(x, approximate="none", *, out=None, backend=None):
    kernel = _gelu_kernel("gelu", approximate, x)
    return _elementwise("gelu", _GELU, kernel, _X, (x,), (), out, backend)


@_documented("gelu")
def gelu_backward(grad_output, x, approximate="none", *, out=None, backend=None):
    kernel = _gelu_kernel("gelu_backward", approximate, x) + "_backward"
    return _elementwise("gelu_backward", _GELU, kernel, _GX, (grad_output, x), (), out, backend)


@_documented("sigmoid")
def sigmoid(x, *, out=None, backend=None):
    return _elementwise("sigmoid", _SIGMOID, "sigmoid", _X, (x,), (), out, backend)


@_documented("sigmoid")
def sigmoid_backward(grad_output, y, *, out=None, backend=None):
    return _elementwise("sigmoid_backward", _SIGMOID, "sigmoid_backward", _GY, (grad_output, y),
                        (), out, backend)


@_documented("tanh")
def tanh(x, *, out=None, backend=None):
    return _elementwise("tanh", _TANH, "tanh", _X, (x,), (), out, backend)


@_documented("tanh")
def tanh_backward(grad_output, y, *, out=None, backend=None):
    return _elementwise("tanh_backward", _TANH, "tanh_backward", _GY, (grad_output, y), (),
                        out, backend)


@_documented("silu")
def silu(x, *, out=None, backend=None):
    return _elementwise("silu", _SILU, "silu", _X, (x,), (), out, backend)


@_documented("silu")
def silu_backward(grad_output, x, *, out=None, backend=None):
    return _elementwise("silu_backward", _SILU, "silu_backward", _GX, (grad_output, x), (),
                        out, backend)


@_documented("silu")
def swish(x, *, out=None, backend=None):
    return _elementwise("swish", _SILU, "silu", _X, (x,), (), out, backend)


@_documented("silu")
def swish_backward(grad_output, x, *, out=None, backend=None):
    return _elementwise("swish_backward", _SILU, "silu_backward", _GX, (grad_output, x), (),
                        out, backend)


@_documented("softplus")
def softplus(x, beta=1.0, threshold=20.0, *, out=None, backend=None):
    params = _checked_params("softplus", _SOFTPLUS, (beta, threshold), x)
    return _elementwise("softplus", _SOFTPLUS, "softplus", _X, (x,), params, out, backend)


@_documented("softplus")
def softplus_backward(grad_output, x, beta=1.0, threshold=20.0, *, out=None, backend=None):
    params = _checked_params("softplus_backward", _SOFTPLUS, (beta, threshold), x)
    return _elementwise("softplus_backward", _SOFTPLUS, "softplus_backward", _GX,
                        (grad_output, x), params, out, backend)


@_documented("mish")
def mish(x, *, out=None, backend=None):
    return _elementwise("mish", _MISH, "mish", _X, (x,), (), out, backend)


@_documented("mish")
def mish_backward(grad_output, x, *, out=None, backend=None):
    return _elementwise("mish_backward", _MISH, "mish_backward", _GX, (grad_output, x), (),
                        out, backend)


@_documented("hardsigmoid")
def hardsigmoid(x, *, out=None, backend=None):
    return _elementwise("hardsigmoid", _HARDSIGMOID, "hardsigmoid", _X, (x,), (), out, backend)


@_documented("hardsigmoid")
def hardsigmoid_backward(grad_output, x, *, out=None, backend=None):
    return _elementwise("hardsigmoid_backward", _HARDSIGMOID, "hardsigmoid_backward", _GX,
                        (grad_output, x), (), out, backend)


@_documented("hardswish")
def hardswish(x, *, out=None, backend=None):
    return _elementwise("hardswish", _HARDSWISH, "hardswish", _X, (x,), (), out, backend)


@_documented("hardswish")
def hardswish_backward(grad_output, x, *, out=None, backend=None):
    return _elementwise("hardswish_backward", _HARDSWISH, "hardswish_backward", _GX,
                        (grad_output, x), (), out, backend)


# ---------------------------------------------------------------- row ops

@_documented("softmax")
def softmax(x, axis=-1, *, out=None, backend=None):
    return _rows("softmax", _SOFTMAX, "softmax", _X, (x,), axis, out, backend)


@_documented("softmax")
def softmax_backward(grad_output, y, axis=-1, *, out=None, backend=None):
    return _rows("softmax_backward", _SOFTMAX, "softmax_backward", _GY, (grad_output, y), axis,
                 out, backend)


@_documented("log_softmax")
def log_softmax(x, axis=-1, *, out=None, backend=None):
    return _rows("log_softmax", _LOG_SOFTMAX, "log_softmax", _X, (x,), axis, out, backend)


@_documented("log_softmax")
def log_softmax_backward(grad_output, y, axis=-1, *, out=None, backend=None):
    return _rows("log_softmax_backward", _LOG_SOFTMAX, "log_softmax_backward", _GY,
                 (grad_output, y), axis, out, backend)


@_documented("logsumexp")
def logsumexp(x, axis=-1, keepdims=False, *, out=None, backend=None):
    if type(x) is _ndarray and type(axis) is int and axis == -1 and keepdims is False:
        result = _direct(_dispatch.module(backend), "logsumexp", (x,), out=out)
        if result is not None:
            return result
    if _dask.wanted((x,)):
        return _dask.logsumexp(x, axis, keepdims, out, backend)
    fname = "logsumexp"
    x = v.as_float_array(x, fname, "x")
    axis, keepdims = _checked_params(fname, _LOGSUMEXP, (axis, keepdims), x)
    return _run(fname, _LOGSUMEXP, "logsumexp", [x], [], v.result_dtype([x]),
                _reduced_shape(x.shape, axis, keepdims), out, _dispatch.module(backend),
                {"axis": axis, "keepdims": keepdims},
                lambda x: reference.logsumexp(x, axis=axis, keepdims=keepdims))


@_documented("logsumexp")
def logsumexp_backward(grad_output, x, y, axis=-1, keepdims=False, *, out=None, backend=None):
    if type(x) is _ndarray and type(axis) is int and axis == -1 and keepdims is False:
        result = _direct(_dispatch.module(backend), "logsumexp_backward", (grad_output, x, y),
                         out=out)
        if result is not None:
            return result
    if _dask.wanted((grad_output, x, y)):
        return _dask.logsumexp_backward(grad_output, x, y, axis, keepdims, out, backend)
    fname = "logsumexp_backward"
    g, x, y = (v.as_float_array(a, fname, name)
               for name, a in (("grad_output", grad_output), ("x", x), ("y", y)))
    axis, keepdims = _checked_params(fname, _LOGSUMEXP, (axis, keepdims), x)
    reduced = _reduced_shape(x.shape, axis, keepdims)
    if y.shape != reduced:
        raise ValueError(f"{fname}: y has shape {y.shape} but logsumexp of x with shape "
                         f"{x.shape} along axis {axis} has shape {reduced}")
    v.check_same_shape(fname, g, "y", y)
    dtype = v.result_dtype([g, x, y])
    if keepdims:  # the gufunc's g and y have no core dimension
        g, y = np.squeeze(g, axis), np.squeeze(y, axis)
    return _run(fname, _LOGSUMEXP, "logsumexp_backward", [g, x, y], [], dtype, x.shape, out,
                _dispatch.module(backend), {"axes": [(), (axis,), (), (axis,)]},
                lambda g, x, y: reference.logsumexp_backward(g, x, y, axis=axis))


def _last_axis_pieces(x, pieces, axis) -> bool:
    """maxout's common case: an ndarray x whose last axis ``pieces`` (an int) divides."""
    return (type(x) is _ndarray and type(axis) is int and axis == -1 and type(pieces) is int
            and pieces > 0 and x.ndim > 0 and x.shape[-1] % pieces == 0)


def _maxout_args(fname: str, x, pieces, axis):
    x = v.as_float_array(x, fname, "x")
    pieces, axis = _checked_params(fname, _MAXOUT, (pieces, axis), x)
    v.check_pieces_divide(fname, x, pieces, axis)
    return x, pieces, axis, x.shape[:axis] + (x.shape[axis] // pieces,) + x.shape[axis + 1:]


@_documented("maxout")
def maxout(x, pieces, axis=-1, *, out=None, backend=None):
    if _last_axis_pieces(x, pieces, axis):
        result = _direct(_dispatch.module(backend), "maxout", (x,), (), x.shape[-1] // pieces,
                         out)
        if result is not None:
            return result
    if _dask.wanted((x,)):
        return _dask.maxout(x, pieces, axis, out, backend)
    x, pieces, axis, shape = _maxout_args("maxout", x, pieces, axis)
    # The gufunc (n)->(m) takes pieces = n/m from the output's core length.
    return _run("maxout", _MAXOUT, "maxout", [x], [], v.result_dtype([x]), shape, out,
                _dispatch.module(backend), {"axes": [(axis,), (axis,)]},
                lambda x: reference.maxout(x, pieces, axis=axis))


@_documented("maxout")
def maxout_backward(grad_output, x, pieces, axis=-1, *, out=None, backend=None):
    if (_last_axis_pieces(x, pieces, axis) and type(grad_output) is _ndarray
            and grad_output.ndim and grad_output.shape[-1] * pieces == x.shape[-1]):
        result = _direct(_dispatch.module(backend), "maxout_backward", (grad_output, x), out=out)
        if result is not None:
            return result
    if _dask.wanted((grad_output, x)):
        return _dask.maxout_backward(grad_output, x, pieces, axis, out, backend)
    fname = "maxout_backward"
    x, pieces, axis, shape = _maxout_args(fname, x, pieces, axis)
    g = v.as_float_array(grad_output, fname, "grad_output")
    if g.shape != shape:
        raise ValueError(f"{fname}: grad_output has shape {g.shape} but maxout of x with "
                         f"shape {x.shape} has shape {shape}; they must be equal")
    return _run(fname, _MAXOUT, "maxout_backward", [g, x], [], v.result_dtype([g, x]), x.shape,
                out, _dispatch.module(backend), {"axes": [(axis,), (axis,), (axis,)]},
                lambda g, x: reference.maxout_backward(g, x, pieces, axis=axis))

