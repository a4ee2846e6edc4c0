"""A fuzzed API (issue 16): Hypothesis draws whole calls, every backend must agree.

A drawn call is an op and a direction, parameters (valid, or with one thing made
invalid), an input of 0-4 dimensions of sizes 0-7 (now and then one long axis, past the
parallel threshold), in any layout (C, Fortran, permuted, strided by 2 or 3 or
reversed, broadcast, byte-swapped, unaligned, read-only), of any dtype fastact accepts
(or one it refuses), given as an array or a list, and an out= choice (none, new,
strided, in place, or a wrong one).  Every backend runs it on its own copy:

* when the reference (backend 'numpy') raises, every backend raises the same exception
  type with the same message, a TypeError or ValueError (AxisError is one) that starts
  with the function's name;
* otherwise every backend returns the reference's dtype and shape, within the accuracy
  bound of the float64 reference (tests/accuracy.py), into out= when given, and leaves
  its inputs alone.

The number of examples comes from the Hypothesis profile (tests/conftest.py): 'ci' by
default, HYPOTHESIS_PROFILE=nightly for a long run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import fastact
from accuracy import check_backward, check_forward
from corpus import values
from fastact import reference
from fastact.catalogue import OPS, OPS_BY_NAME, REQUIRED

BACKENDS = fastact.backends()
LONG = (1 << 16) + 5  # one axis this long takes the parallel paths
FLOATS = ("float16", "float32", "float64")
ACCEPTED = FLOATS + ("bool", "int8", "uint16", "int64")
REFUSED = ("complex128", "object", "str")


# --- arrays ------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """How an array's memory is laid out: axis order, steps, and what kind of view."""

    order: tuple[int, ...] = ()      # memory order of the axes (a permutation)
    steps: tuple[int, ...] = ()      # step of each axis within that memory (2, 3, -1 ...)
    kind: str = "plain"              # plain, broadcast, byteswapped, unaligned, readonly
    broadcast_axis: int = 0


@dataclass(frozen=True)
class ArraySpec:
    shape: tuple[int, ...]
    dtype: str
    seed: int
    layout: Layout = field(default_factory=Layout)
    as_list: bool = False

    @property
    def broadcast(self) -> bool:
        """Whether the array is a broadcast view (zero stride along broadcast_axis)."""
        return (self.layout.kind == "broadcast" and bool(self.shape)
                and self.shape[self.layout.broadcast_axis] > 0)

    def values(self) -> np.ndarray:
        """The values, C-contiguous in native order (what every layout holds)."""
        n = math.prod(self.shape)
        x = values(n, np.float64, self.seed).reshape(self.shape)
        if self.broadcast:
            x = np.broadcast_to(np.take(x, [0], axis=self.layout.broadcast_axis), self.shape)
        if self.dtype == "bool":
            return np.ascontiguousarray(x > 0)
        if self.dtype in ("int8", "uint16", "int64"):
            x = np.clip(np.round(x), 0 if self.dtype == "uint16" else -100, 100)
        if self.dtype == "str":
            return x.astype(str)
        return np.ascontiguousarray(x.astype(self.dtype))

    def build(self):
        """A new array (or list) of these values in this layout."""
        data = self.values()
        if self.as_list:
            return data.tolist()
        layout, shape = self.layout, self.shape
        if self.broadcast:
            one = ArraySpec(shape[:layout.broadcast_axis] + (1,) + shape[layout.broadcast_axis + 1:],
                            self.dtype, self.seed, Layout(layout.order, layout.steps))
            small = one.build()
            small[...] = np.take(data, [0], axis=layout.broadcast_axis)
            return np.broadcast_to(small, shape)
        dtype = data.dtype
        if layout.kind == "byteswapped" and dtype.itemsize > 1:
            dtype = dtype.newbyteorder()
        order = layout.order or tuple(range(len(shape)))
        steps = layout.steps or (1,) * len(shape)
        memory_shape = tuple(shape[a] * abs(steps[a]) for a in order)
        count = math.prod(memory_shape)
        if layout.kind == "unaligned" and dtype.kind in "fiu" and dtype.itemsize > 1:
            raw = np.zeros(count * dtype.itemsize + 1, np.uint8)
            memory = np.frombuffer(raw.data, dtype, count=count, offset=1).reshape(memory_shape)
        else:
            memory = np.zeros(memory_shape, dtype)
        view = memory[tuple(slice(None, None, steps[a]) for a in order) + (Ellipsis,)]
        view = view.transpose(np.argsort(order))
        view[...] = data
        if layout.kind == "readonly":
            view.flags.writeable = False
        return view


@st.composite
def layouts(draw, ndim):
    order = tuple(draw(st.permutations(range(ndim))))
    steps = tuple(draw(st.lists(st.sampled_from([1, 1, 1, 2, 3, -1, -2]), min_size=ndim,
                                max_size=ndim)))
    kind = draw(st.sampled_from(["plain"] * 4 + ["broadcast", "byteswapped", "unaligned",
                                                 "readonly"]))
    return Layout(order, steps, kind, draw(st.integers(0, max(ndim - 1, 0))))


@st.composite
def shapes(draw):
    ndim = draw(st.integers(0, 4))
    if ndim and ndim <= 2 and draw(st.integers(0, 24)) == 0:
        long_axis = draw(st.integers(0, ndim - 1))
        return tuple(LONG if a == long_axis else draw(st.integers(1, 2)) for a in range(ndim))
    return tuple(draw(st.lists(st.integers(0, 7), min_size=ndim, max_size=ndim)))


@st.composite
def array_specs(draw, shape, dtype):
    return ArraySpec(shape, dtype, draw(st.integers(0, 2**16)), draw(layouts(len(shape))),
                     as_list=draw(st.integers(0, 19)) == 0 and dtype != "str")


# --- calls -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    name: str                       # the op's
    backward: bool
    x: ArraySpec
    params: dict
    grad: ArraySpec | None = None   # grad_output (backward)
    out: str = "none"               # none, new, strided, inplace, or a wrong kind
    broken: str = ""                # what was made invalid, if anything

    @property
    def op(self):
        return OPS_BY_NAME[self.name]

    @property
    def fname(self):
        return self.op.backward_name if self.backward else self.op.name



def _real_values():
    return st.one_of(st.floats(-5, 5, allow_nan=False), st.sampled_from([0.0, 0.2, -0.5, 2, 1]),
                     st.floats(-5, 5).map(np.float64), st.floats(-5, 5, width=32).map(np.float32))


@st.composite
def valid_params(draw, op, shape):
    """Parameters of op that suit an input of ``shape`` (an axis for a 0-d input stays
    out of range: every backend must raise alike)."""
    ndim = len(shape)
    params = {}
    axis = -1
    for p in op.params:
        if p.check == "axis":
            if draw(st.booleans()) and p.default is not REQUIRED and op.kind != "prelu":
                continue  # the default
            axis = draw(st.integers(-ndim, ndim - 1)) if ndim else draw(st.integers(-1, 0))
            params[p.name] = axis
    for p in op.params:
        if p.check == "real":
            params[p.name] = draw(_real_values())
        elif p.check == "nonzero":
            params[p.name] = draw(st.one_of(st.floats(0.01, 5), st.floats(-5, -0.01),
                                            st.sampled_from([-1, 2, np.float32(0.5)])))
        elif p.check == "positive":
            params[p.name] = draw(st.floats(0.05, 10))
        elif p.check == "not_nan":
            params[p.name] = draw(st.one_of(st.floats(-40, 40), st.sampled_from([math.inf, -math.inf])))
        elif p.check == "choice":
            params[p.name] = draw(st.sampled_from(p.choices))
        elif p.check == "bool":
            params[p.name] = draw(st.booleans())
        elif p.check == "pieces":
            length = shape[axis] if ndim else 1
            divisors = [d for d in range(1, 8) if length % d == 0] or [1]
            params[p.name] = draw(st.sampled_from(divisors))
        elif p.check == "weight":
            channel_axis = params.get("axis", 1)
            channels = shape[channel_axis] if -ndim <= channel_axis < ndim else 0
            kind = draw(st.sampled_from(["float", "scalar", "one", "channels"]
                                        if channels else ["float", "scalar", "one"]))
            w = draw(st.floats(-1, 1))
            params[p.name] = {
                "float": w, "scalar": np.float32(w), "one": np.array([w]),
                "channels": np.linspace(-0.5, 0.5, channels),
            }[kind]
    return params


# One way to make a call invalid, per rule (each applies where the op has the rule).
BREAKS = ("param", "dtype", "grad-shape", "out-dtype", "out-shape", "out-readonly",
          "out-broadcast", "out-list", "axis-type")


def _broken_param(op, draw, params, shape):
    p = draw(st.sampled_from(op.params))
    bad = {
        "real": [math.nan, math.inf, "0.1", True, None],
        "nonzero": [0, 0.0, math.nan],
        "positive": [0.0, -1.0, math.inf, "2"],
        "not_nan": [math.nan, "x"],
        "choice": ["erf", None, 1],
        "axis": [len(shape), -len(shape) - 1, 1.0, "0", None],
        "bool": [1, 0, "yes", None],
        "pieces": [0, -2, 2.0, True, 99991, None],
        "weight": [[], np.ones(97), ["a"], np.array([1 + 1j])],
    }[p.check]
    value = draw(st.sampled_from(bad))
    return {**params, p.name: value}, f"param {p.name}={value!r}"


@st.composite
def calls(draw):
    op = draw(st.sampled_from(OPS))
    backward = draw(st.booleans())
    shape = draw(shapes())
    dtype = draw(st.sampled_from(ACCEPTED))
    params = draw(valid_params(op, shape))
    broken = draw(st.sampled_from(BREAKS)) if draw(st.integers(0, 5)) == 0 else ""
    if broken == "param" and op.params:
        params, broken = _broken_param(op, draw, params, shape)
    elif broken == "axis-type" and "axis" in params:
        params = {**params, "axis": float(params["axis"])}
    elif broken == "dtype":
        dtype = draw(st.sampled_from(REFUSED))
    elif broken in ("param", "axis-type") or broken == "grad-shape" and not backward:
        broken = ""  # the op has no such rule
    x = draw(array_specs(shape, dtype))
    grad = None
    if backward:
        grad = draw(array_specs(shape, draw(st.sampled_from(ACCEPTED))))  # shape set later
    out = broken if broken.startswith("out-") else draw(
        st.sampled_from(["none", "none", "new", "strided", "inplace"]))
    return Call(op.name, backward, x, params, grad, out, broken)


# --- running a call ----------------------------------------------------------------

def _forward_shape_and_dtype(call):
    """The reference forward's result for x (None if the forward itself refuses x)."""
    try:
        y = getattr(fastact, call.op.name)(call.x.build(), **call.params, backend="numpy")
    except (TypeError, ValueError):
        return None
    return np.asarray(y)


def _arguments(call, y):
    """Fresh array arguments of the call (x; or grad_output and the saved arrays)."""
    x = call.x.build()
    if not call.backward:
        return [x]
    shape = y.shape if call.broken != "grad-shape" else y.shape + (1,)
    g = ArraySpec(shape, call.grad.dtype, call.grad.seed,
                  call.grad.layout if len(call.grad.layout.order) == len(shape) else Layout(),
                  call.grad.as_list).build()
    saved = {"x": x, "y": y}
    return [g] + [saved[s] for s in call.op.saved]


def _out(call, shape, dtype, arrays):
    """The out= array of the call's out choice."""
    kind = call.out
    if kind == "none":
        return None
    if kind == "inplace":
        x = arrays[0]  # x, or grad_output for a backward
        if (isinstance(x, np.ndarray) and x.dtype == dtype and x.shape == shape
                and x.flags.writeable):
            return x
        kind = "new"
    if kind == "new":
        return np.full(shape, np.nan, dtype)
    if kind == "strided":
        big = np.full(tuple(2 * n for n in shape), np.nan, dtype)
        return big[tuple(slice(None, None, -2) for _ in shape)]
    if kind == "out-dtype":
        return np.empty(shape, np.float16 if dtype != np.float16 else np.float64)
    if kind == "out-shape":
        return np.empty(shape + (2,), dtype)
    if kind == "out-readonly":
        frozen = np.empty(shape, dtype)
        frozen.flags.writeable = False
        return frozen
    if kind == "out-broadcast":
        if math.prod(shape) < 2:
            return np.empty(shape + (2,), dtype)  # its elements cannot overlap: a bad shape
        return np.lib.stride_tricks.as_strided(np.zeros(1, dtype), shape, (0,) * len(shape))
    if kind == "out-list":
        return np.zeros(shape).tolist()
    raise AssertionError(kind)


def _run(call, backend, y, shape, dtype):
    """(result or exception, out, the arguments before and after the call)."""
    arrays = _arguments(call, y)
    out = _out(call, shape, dtype, arrays) if shape is not None else None
    before = [np.array(a, copy=True) for a in arrays]
    fn = getattr(fastact, call.fname)
    try:
        kwargs = {} if out is None else {"out": out}
        result = fn(*arrays, **call.params, backend=backend, **kwargs)
    except Exception as exc:  # noqa: BLE001  (compared below)
        return exc, out, before, arrays
    return result, out, before, arrays


def _reference_shape(call, y):
    """The result's shape and dtype, from the reference (without out=)."""
    arrays = _arguments(call, y)
    result = getattr(fastact, call.fname)(*arrays, **call.params, backend="numpy")
    result = result[0] if isinstance(result, tuple) else result
    return np.shape(result), np.asarray(result).dtype


@pytest.mark.filterwarnings("error::RuntimeWarning")  # backends warn alike: not at all
@given(call=calls())
def test_fuzzed_calls_agree_with_the_reference_on_every_backend(call):
    y = _forward_shape_and_dtype(call) if call.backward else None
    if call.backward and y is None:
        # the forward refuses these arguments: so does the backward, on every backend
        y = np.zeros(call.x.shape)
    try:
        shape, dtype = _reference_shape(call, y)
    except Exception:  # noqa: BLE001  (the reference raises: checked below, with out=)
        shape, dtype = call.x.shape, np.dtype(np.float64)
    outcomes = {b: _run(call, b, y, shape, dtype) for b in BACKENDS}
    expected, _, _, _ = outcomes["numpy"]
    event(f"raises {type(expected).__name__}" if isinstance(expected, Exception) else "runs")
    if LONG in call.x.shape:
        event("a long axis")
    if isinstance(expected, Exception):
        assert isinstance(expected, (TypeError, ValueError)), repr(expected)
        assert str(expected).startswith(f"{call.fname}:"), str(expected)
        for backend, (got, _, _, _) in outcomes.items():
            assert type(got) is type(expected) and str(got) == str(expected), (
                f"{backend}: {got!r}, reference: {expected!r}")
        return
    assert not call.broken.startswith("out-"), f"{call.broken} accepted"
    for backend, (got, out, before, arrays) in outcomes.items():
        assert not isinstance(got, Exception), f"{backend}: {got!r}"
        _check_result(call, backend, got, out, before, arrays, y, shape, dtype)


def _check_result(call, backend, got, out, before, arrays, y, shape, dtype):
    what = f"{backend}:{call.fname}"
    result = got[0] if isinstance(got, tuple) else got
    assert np.shape(result) == shape and np.asarray(result).dtype == dtype, what
    if out is not None:
        assert result is out, what
    else:
        assert isinstance(result, np.ndarray) == bool(shape), what  # 0-d: a NumPy scalar
    for a, b in zip(arrays, before):
        if a is not out:
            np.testing.assert_array_equal(np.asarray(a), b, err_msg=f"{what} changed an input")
    promoted = [b.astype(dtype) for b in before]  # what the kernels computed on
    if call.backward:
        check_backward(call.op, call.params, promoted[0], promoted[1:], got, what)
    else:
        check_forward(call.op, call.params, promoted[0], got, what)
