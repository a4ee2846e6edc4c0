"""Input validation: every check that happens before a kernel runs lives here.

Errors name the public function, the argument, what was expected and what was
given.  Nothing here modifies an input.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from fastact.catalogue import Param

_FLOAT16 = np.dtype(np.float16)
_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)
# The smallest float that rounds to inf in float32 (halfway between FLT_MAX and 2^128).
_FLOAT32_OVERFLOW = 2.0 ** 128 - 2.0 ** 103


def as_float_array(value, fname: str, argname: str) -> np.ndarray:
    """``value`` as an ndarray of a dtype fastact computes with (not yet converted).

    float16/32/64 are kept; bool and integer arrays are promoted to float64 later
    (NumPy's rule for np.exp); anything else is a TypeError.
    """
    if type(value) is np.ndarray:
        arr = value
    elif type(value).__module__.split(".")[0] == "torch":  # without importing torch
        raise TypeError(
            f"{fname}: {argname} is a torch.{type(value).__name__}; fastact.{fname} takes "
            f"NumPy arrays (it would silently return one). For tensors use fastact.torch: "
            f"fastact.torch.{fname.removesuffix('_backward')}(tensor) returns a tensor and "
            f"works with autograd")
    else:
        arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype.itemsize > 8:
            raise TypeError(
                f"{fname}: {argname} has dtype {arr.dtype}, which fastact does not compute in; "
                f"convert it to float64 explicitly (this would lose precision)")
        return arr
    if kind in "biu":
        return arr
    raise TypeError(
        f"{fname}: {argname} has unsupported dtype {arr.dtype}; "
        f"expected float16, float32, float64, bool or integer")


def result_dtype(arrays) -> np.dtype:
    """The dtype of the result: np.result_type of the float-promoted inputs, native order.

    NumPy's own dtype object for it (np.dtype of the scalar type): newbyteorder() makes a
    new, equal one, and results carrying it failed the shortest paths' identity checks
    when passed back in (a softmax's y to softmax_backward, an out= array made from a
    result), sending every such call down the general path.
    """
    first = arrays[0].dtype
    if (first is _FLOAT32 or first is _FLOAT64) and all([a.dtype is first for a in arrays]):
        return first  # the common case, without result_type's cost
    dtypes = [a.dtype if a.dtype.kind == "f" else _FLOAT64 for a in arrays]
    return np.dtype(np.result_type(*dtypes).type)


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """float16 is computed in float32; float32 and float64 natively."""
    return _FLOAT32 if dtype is _FLOAT16 else dtype  # result_dtype gives NumPy's own objects


def check_same_shape(fname: str, grad_output: np.ndarray, name: str, other: np.ndarray):
    if grad_output.shape != other.shape:
        raise ValueError(
            f"{fname}: grad_output has shape {grad_output.shape} but {name} has shape "
            f"{other.shape}; they must be equal (no broadcasting)")


def check_out(fname: str, out, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """``out`` if it can receive the result exactly, else a clear TypeError/ValueError."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fname}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(
            f"{fname}: out has dtype {out.dtype} but the result is {dtype}; "
            f"fastact does not cast silently")
    if out.shape != shape:
        raise ValueError(f"{fname}: out has shape {out.shape} but the result has shape {shape}")
    if not out.flags.writeable:
        raise ValueError(f"{fname}: out is read-only")
    if not (out.flags.c_contiguous or out.flags.f_contiguous) and _self_overlapping(out):
        zero = [axis for axis, (n, s) in enumerate(zip(out.shape, out.strides)) if n > 1 and not s]
        what = f"a broadcast view (stride 0 along axis {zero[0]})" if zero else "a view"
        raise ValueError(
            f"{fname}: out is {what} whose elements share memory; it needs a separate "
            f"element for each result")
    return out


def _self_overlapping(a: np.ndarray) -> bool:
    """Whether two elements of ``a`` share a byte (a broadcast or as_strided view).

    Axes in order of stride: if each stride clears the span of the axes before it, no two
    elements overlap.  Otherwise (zero strides; rare interleaved strides) the elements'
    offsets are compared, for all but huge arrays.
    """
    span = a.itemsize
    for stride, n in sorted((abs(s), n) for s, n in zip(a.strides, a.shape) if n > 1):
        if stride < span:
            break
        span += stride * (n - 1)
    else:
        return False
    if a.size > 1 << 22:
        return True
    offsets = np.zeros((), np.int64)
    for n, s in zip(a.shape, a.strides):
        offsets = np.add.outer(offsets, np.arange(n, dtype=np.int64) * s)
    ordered = np.sort(offsets, axis=None)
    return bool(np.any(np.diff(ordered) < a.itemsize))


def _real(fname: str, p: Param, value) -> float:
    if type(value) is float:  # the common case, before the slower ABC check
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fname}: {p.name} must be a real number, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # a real number beyond float's range (10**400, a huge Fraction)
        raise ValueError(f"{fname}: {p.name} must fit a float, got {_short_repr(value)}"
                         ) from None


def _short_repr(value, limit=40) -> str:
    """repr(value), its middle elided beyond ``limit`` characters (10**400 has 401 digits)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit // 2]}...{text[-(limit // 2):]}"


def _check_real(fname, p, value, x):
    if type(value) is float and math.isfinite(value):  # the common case, in one test
        return value
    v = _real(fname, p, value)
    if not math.isfinite(v):
        raise ValueError(f"{fname}: {p.name} must be finite, got {v}")
    return v


def _check_nonzero(fname, p, value, x):
    v = _check_real(fname, p, value, x)
    if v == 0:
        raise ValueError(f"{fname}: {p.name} must be a finite nonzero number, got 0")
    return v


def _check_positive(fname, p, value, x):
    v = _check_real(fname, p, value, x)
    if not v > 0:
        raise ValueError(f"{fname}: {p.name} must be finite and > 0, got {v}")
    return v


def _check_not_nan(fname, p, value, x):
    v = _real(fname, p, value)
    if math.isnan(v):
        raise ValueError(f"{fname}: {p.name} must be a number or ±inf, got nan")
    return v


def _check_choice(fname, p, value, x):
    if not isinstance(value, str) or value not in p.choices:
        allowed = ", ".join(repr(c) for c in p.choices)
        raise ValueError(f"{fname}: {p.name} must be one of {allowed}, got {value!r}")
    return value


def _check_axis(fname, p, value, x):
    try:
        axis = operator.index(value)
    except TypeError:
        raise TypeError(f"{fname}: {p.name} must be an integer, got {value!r}") from None
    if not -x.ndim <= axis < x.ndim:
        # NumPy's message names the axis itself: "softmax: axis 5 is out of bounds for
        # array of dimension 2"
        prefix = fname if p.name == "axis" else f"{fname}: {p.name}:"
        raise np.exceptions.AxisError(axis, x.ndim, prefix)
    return axis + x.ndim if axis < 0 else axis


def _check_bool(fname, p, value, x):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fname}: {p.name} must be True or False, got {value!r}")
    return bool(value)


def _check_pieces(fname, p, value, x):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fname}: {p.name} must be a positive integer, got {value!r}")
    try:
        pieces = operator.index(value)
    except TypeError:
        raise TypeError(f"{fname}: {p.name} must be a positive integer, got {value!r}") from None
    if pieces < 1:
        raise ValueError(f"{fname}: {p.name} must be a positive integer, got {pieces}")
    return pieces


_CHECKS = {
    "real": _check_real,
    "nonzero": _check_nonzero,
    "positive": _check_positive,
    "not_nan": _check_not_nan,
    "choice": _check_choice,
    "axis": _check_axis,
    "bool": _check_bool,
    "pieces": _check_pieces,
}


def check_param(fname: str, p: Param, value, x: np.ndarray):
    """The normalised value of scalar parameter ``p`` (axis made non-negative, etc.)."""
    return _CHECKS[p.check](fname, p, value, x)


def check_params(fname: str, params: tuple, values: tuple, x) -> tuple:
    """check_param of each of ``params`` (Params) with its value, as a tuple."""
    if len(values) == 1:  # most parametrised ops: without the loop's cost in a small call
        p = params[0]
        return (_CHECKS[p.check](fname, p, values[0], x),)
    return tuple([_CHECKS[p.check](fname, p, value, x) for p, value in zip(params, values)])


def check_pieces_divide(fname: str, x: np.ndarray, pieces: int, axis: int):
    length = x.shape[axis]
    if length % pieces:
        raise ValueError(
            f"{fname}: pieces={pieces} does not divide the length {length} of axis {axis}; "
            f"allowed are the divisors of {length}")


def fit_param(fname: str, p: Param, value, dtype: np.dtype):
    """A checked scalar parameter as the kernels of ``dtype`` receive it.

    A finite value beyond float32's range would become inf inside a float32 kernel and
    give NaN where the float64 reference is finite: a ValueError instead, the same on
    every backend.  (softplus's threshold may be inf: a larger finite one means the same.)
    """
    if (dtype == _FLOAT32 and type(value) is float and abs(value) >= _FLOAT32_OVERFLOW
            and math.isfinite(value)):
        if p.check == "not_nan":
            return math.copysign(math.inf, value)
        raise ValueError(
            f"{fname}: {p.name}={value!r} is beyond float32's range, and x is computed in "
            f"float32; pass float64 x for such a value")
    return value


def check_weight(fname: str, weight: np.ndarray, x: np.ndarray, axis_value, axis_param: Param):
    """The prelu weight: 1 value, or one per channel along a valid axis (None for one)."""
    if weight.size == 1:
        return None
    axis = check_param(fname, axis_param, axis_value, x)
    if weight.size != x.shape[axis]:
        raise ValueError(
            f"{fname}: weight has {weight.size} values but x has {x.shape[axis]} channels along "
            f"axis {axis}; weight needs 1 value or one per channel")
    return axis
