"""The public API's input handling: dtypes, shapes, out=, backends and every promised error."""

from __future__ import annotations

import inspect
import re
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastact
from fastact import _dispatch
from fastact.catalogue import OPS, OPS_BY_NAME

BACKENDS = fastact.backends()
ELEMENTWISE = [op for op in OPS if op.kind == "elementwise"]


def _default_call(op, x, backend=None, **extra):
    params = dict(op.test_params[0], **extra)
    return getattr(fastact, op.name)(x, **params, backend=backend)


def _general_path_out(shape, dtype):
    """An out= array that the direct loop call (fastact._fastcall) declines, misaligned by
    one byte, so that a call with it takes the general path through NumPy's dispatch."""
    dtype = np.dtype(dtype)
    raw = np.empty(int(np.prod(shape)) * dtype.itemsize + 1, np.uint8)
    out = raw[1:].view(dtype).reshape(shape)
    assert out.size == 0 or not out.flags.aligned  # (empty: the direct call declines it too)
    return out


# --- the table drives the API ----------------------------------------------

@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_every_op_has_documented_forward_and_backward(op):
    forward = getattr(fastact, op.name)
    backward = getattr(fastact, op.backward_name)
    assert list(inspect.signature(forward).parameters)[:1] == ["x"]
    assert list(inspect.signature(backward).parameters)[: 1 + len(op.saved)] == [
        "grad_output", *op.saved]
    for fn in (forward, backward):
        parameters = inspect.signature(fn).parameters
        assert parameters["out"].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters["backend"].kind is inspect.Parameter.KEYWORD_ONLY
        for p in op.params:
            assert p.name in parameters
        assert op.name in fn.__doc__ or op.formula in fn.__doc__
    assert op.formula in forward.__doc__
    assert op.derivative in backward.__doc__
    if op.kink:
        assert op.kink in forward.__doc__ and op.kink in backward.__doc__


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_signatures_are_the_op_tables(op):
    """The hand-written functions in fastact/_api.py and the op table cannot drift apart:
    each signature is exactly (arrays, parameters with the table's defaults, *, out, backend)."""
    from fastact.catalogue import REQUIRED

    def expected(arrays):
        P = inspect.Parameter
        return ([P(a, P.POSITIONAL_OR_KEYWORD) for a in arrays]
                + [P(p.name, P.POSITIONAL_OR_KEYWORD,
                     **({} if p.default is REQUIRED else {"default": p.default}))
                   for p in op.params]
                + [P("out", P.KEYWORD_ONLY, default=None), P("backend", P.KEYWORD_ONLY, default=None)])

    for name in (op.name,) + op.aliases:
        for fn, arrays in ((getattr(fastact, name), ("x",)),
                           (getattr(fastact, name + "_backward"), ("grad_output",) + op.saved)):
            assert list(inspect.signature(fn).parameters.values()) == expected(arrays), fn
            assert fn.__name__ in inspect.getsource(fn)  # ordinary source, not generated


def test_swish_is_silu():
    x = np.linspace(-5, 5, 11)
    np.testing.assert_array_equal(fastact.swish(x), fastact.silu(x))
    np.testing.assert_array_equal(fastact.swish_backward(x, x), fastact.silu_backward(x, x))


# --- backends ----------------------------------------------------------------

def test_backends_lists_numpy():
    assert "numpy" in fastact.backends()


def test_backend_selection_and_context():
    assert fastact.get_backend() == os.environ.get("FASTACT_BACKEND", "auto")
    before = fastact.get_backend()
    with fastact.use_backend("numpy"):
        assert fastact.get_backend() == "numpy"
    assert fastact.get_backend() == before
    fastact.set_backend("numpy")
    try:
        assert fastact.get_backend() == "numpy"
    finally:
        fastact.set_backend(before)


@pytest.mark.parametrize("call", [
    lambda: fastact.set_backend("cuda"),
    lambda: fastact.use_backend("gpu").__enter__(),
    lambda: fastact.relu(np.ones(3), backend="fortran"),
])
def test_unknown_backend_is_a_value_error(call):
    with pytest.raises(ValueError, match="numpy, numba, cython, auto"):
        call()


@pytest.mark.parametrize("backend", fastact.backends())
def test_calls_run_the_backend_in_effect(backend, monkeypatch):
    """A call runs the backend asked for (use_backend, backend=, set_backend), also after
    warm calls on another backend, and refuses an unknown name even then."""
    x = np.linspace(-3, 3, 64, dtype=np.float32)
    fastact.sigmoid(x)  # warm the default backend
    calls = []
    with monkeypatch.context() as patch:
        if backend == "numpy":
            from fastact import reference

            real = reference.sigmoid
            patch.setattr(reference, "sigmoid", lambda *a: calls.append(a) or real(*a))
        else:
            module = _dispatch._loaded[backend]
            real = module.ufunc
            patch.setattr(module, "ufunc", lambda *a: calls.append(a) or real(*a))
            if hasattr(module, "size_free_ufuncs"):
                # no ufuncs for fastact._fastcall's C path (test_c_path_* test it), so
                # that the call under set_backend asks module.ufunc as the others do
                patch.setattr(module, "size_free_ufuncs", lambda: {})
        with fastact.use_backend(backend):
            fastact.sigmoid(x)
        fastact.sigmoid(x, backend=backend)
        before = fastact.get_backend()
        fastact.set_backend(backend)  # read at each call, after warm calls on another backend
        try:
            fastact.sigmoid(x)
        finally:
            fastact.set_backend(before)
    _dispatch._publish_default()  # the real ufuncs again
    assert len(calls) == 3
    with pytest.raises(ValueError, match="unknown backend"):
        fastact.sigmoid(x, backend="")
    swapped = x.astype(x.dtype.newbyteorder())  # same type number, other byte order
    np.testing.assert_array_equal(fastact.sigmoid(swapped, backend=backend),
                                  fastact.sigmoid(x, backend=backend))


@pytest.mark.parametrize("backend", fastact.backends())
def test_parameters_are_checked_on_every_call(backend):
    """Parameter values are checked on every call, warm or cold, and then used."""
    x = np.linspace(-3, 3, 64, dtype=np.float32)
    for alpha in (1.0, 2.0, 1.0, 2.0):  # warm, then take the short path with each value
        np.testing.assert_array_equal(
            fastact.celu(x, alpha, backend=backend),
            fastact.celu(x.astype(np.float64), alpha, backend="numpy").astype(np.float32)
            if backend == "numpy" else fastact.celu(x[::-1], alpha, backend=backend)[::-1])
    with pytest.raises(TypeError, match="alpha must be a real number"):
        fastact.celu(x, True, backend=backend)  # True == 1.0, but not a valid alpha
    with pytest.raises(ValueError, match="finite nonzero"):
        fastact.celu(x, 0.0, backend=backend)
    with pytest.raises(ValueError, match="approximate must be one of"):
        fastact.gelu(x, "Tanh", backend=backend)
    assert fastact.gelu(x, "tanh", backend=backend)[0] != fastact.gelu(x, backend=backend)[0]


@pytest.mark.parametrize("backend", fastact.backends())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_ops_give_the_same_values_on_every_layout(backend, dtype):
    """softmax and log_softmax (and backwards) along the last axis of C-contiguous rows, and
    of strided, transposed, byte-swapped and 1-D arrays, give the same values."""
    x = np.random.default_rng(0).normal(size=(3, 5, 16)).astype(dtype)
    g = np.random.default_rng(1).normal(size=x.shape).astype(dtype)
    refused = [x[:, :, ::2], np.swapaxes(x, 0, 2), x.byteswap().view(x.dtype.newbyteorder()),
               x[0, 0]]  # strided, transposed, byte-swapped, and 1-D (taken)
    for name in ("softmax", "log_softmax"):
        f, b = getattr(fastact, name), getattr(fastact, name + "_backward")
        for _ in range(2):  # warm and cold calls must agree
            y = f(x, backend=backend)
            np.testing.assert_array_equal(y, f(x, axis=2, backend=backend))  # general path
            np.testing.assert_array_equal(b(g, y, backend=backend), b(g, y, axis=2, backend=backend))
            for a in refused:
                ya = f(a, backend=backend)
                np.testing.assert_array_equal(ya, f(np.ascontiguousarray(a, dtype), backend=backend))
                ga = np.ones(a.shape, a.dtype)
                np.testing.assert_array_equal(
                    b(ga, ya, backend=backend),
                    b(np.ones(a.shape, dtype), np.ascontiguousarray(ya, dtype), backend=backend))
        assert y.dtype == dtype and y.shape == x.shape


@pytest.mark.parametrize("backend", fastact.backends())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_ops_with_out_give_the_same_values(backend, dtype):
    """The softmax family with out= (C-contiguous, in place, overlapping, strided) gives
    the values without out=, and rejects an out of the wrong dtype or read-only."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 8)).astype(dtype)
    g = rng.normal(size=x.shape).astype(dtype)
    for name in ("softmax", "log_softmax"):
        f, b = getattr(fastact, name), getattr(fastact, name + "_backward")
        y = f(x, axis=1, backend=backend)  # the general path
        grad = b(g, y, axis=1, backend=backend)
        for _ in range(2):  # warm and cold calls must agree
            out = np.empty_like(x)
            assert f(x, out=out, backend=backend) is out
            np.testing.assert_array_equal(out, y)
            assert b(g, y, out=out, backend=backend) is out
            np.testing.assert_array_equal(out, grad)
            inplace = x.copy()
            f(inplace, out=inplace, backend=backend)
            np.testing.assert_array_equal(inplace, y)
            inplace = g.copy()
            b(inplace, y, out=inplace, backend=backend)
            np.testing.assert_array_equal(inplace, grad)
            buffer = np.concatenate([x.ravel(), np.zeros(4, dtype)])  # out overlaps x shifted
            shifted = buffer[4:].reshape(x.shape)
            f(buffer[:-4].reshape(x.shape), out=shifted, backend=backend)
            np.testing.assert_array_equal(shifted, y)
            strided = np.empty((4, 16), dtype)[:, ::2]
            f(x, out=strided, backend=backend)
            np.testing.assert_array_equal(strided, y)
            with pytest.raises(TypeError, match="dtype"):
                f(x, out=np.empty(x.shape, np.float16), backend=backend)
            frozen = np.empty_like(x)
            frozen.flags.writeable = False
            with pytest.raises(ValueError, match="read-only|writeable"):
                f(x, out=frozen, backend=backend)


@pytest.mark.parametrize("backend", fastact.backends())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prelu_gives_the_same_values_with_and_without_out(backend, dtype):
    """prelu and prelu_backward with every kind of weight, layout and axis give the same
    values with and without out=, and raise the same errors on every call."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 5)).astype(dtype)
    g = rng.normal(size=x.shape).astype(dtype)
    w3 = rng.uniform(-1, 1, size=3).astype(dtype)
    w5 = rng.uniform(-1, 1, size=5).astype(dtype)
    cases = [(x, 0.25, 1), (x, w3, 1), (x, w3, -2), (x, w5, -1), (x, w5, 2), (x, w3[:1], 1),
             (x, w3.astype(np.float64 if dtype is np.float32 else np.float32), 1),  # promotes
             (x, w3.reshape(3, 1), 1), (x[:, :, ::2], w3, 1), (x[0, 0], 0.5, 0),
             (np.zeros((0, 3), dtype), w3, 1), (x, 0, 1)]
    for a, weight, axis in cases:
        for _ in range(2):  # warm and cold calls must agree
            y = fastact.prelu(a, weight, axis, backend=backend)
            want = fastact.prelu(a, weight, axis, out=_general_path_out(y.shape, y.dtype),
                                 backend=backend)
            np.testing.assert_array_equal(y, want)
            assert y.dtype == want.dtype
            ga = np.ones(a.shape, a.dtype) if a is not x else g
            grad_input, grad_weight = fastact.prelu_backward(ga, a, weight, axis, backend=backend)
            want_input = _general_path_out(grad_input.shape, grad_input.dtype)
            _, want_weight = fastact.prelu_backward(ga, a, weight, axis,
                                                    out=want_input, backend=backend)
            np.testing.assert_array_equal(grad_input, want_input)
            assert np.shape(grad_weight) == np.shape(weight)
            assert np.asarray(grad_weight).dtype == np.asarray(want_weight).dtype
            np.testing.assert_allclose(grad_weight, want_weight, rtol=1e-6)
    if dtype is np.float32:  # a Python float weight that overflows float32: NumPy's warning
        for _ in range(2):
            with pytest.warns(RuntimeWarning, match="overflow"):
                fastact.prelu(x, 1e300, backend=backend)
            with pytest.warns(RuntimeWarning, match="overflow"):
                fastact.prelu(x, 3.4028236e38, backend=backend)  # above halfway to 2^128
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            half = np.full(4, -0.5, dtype)  # 3.4028235e38 rounds to FLT_MAX: no overflow
            assert (fastact.prelu(half, 3.4028235e38, backend=backend) == -np.finfo(dtype).max / 2).all()
    for weight, axis, message in [(w3, 2, "channels"), (w3, 3, "axis"), (w3, -4, "axis"),
                                  (np.zeros(0, dtype), 1, "empty")]:
        for _ in range(2):
            with pytest.raises((ValueError, TypeError), match=message):
                fastact.prelu(x, weight, axis, backend=backend)
            with pytest.raises((ValueError, TypeError), match=message):
                fastact.prelu_backward(g, x, weight, axis, backend=backend)


@pytest.mark.parametrize("backend", fastact.backends())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reduce_and_maxout_give_the_same_values_with_and_without_out(backend, dtype):
    """logsumexp and maxout (and backwards) on every layout and axis give the same values
    with and without out=, and raise the same errors on every call."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 6)).astype(dtype)
    layouts = [x, x[0, 0], x[:, :, ::2], np.swapaxes(x, 0, 1), x.byteswap().view(x.dtype.newbyteorder())]
    for a in layouts:
        for axis, keepdims in [(-1, False), (-1, True), (0, False), (a.ndim - 1, True)]:
            for _ in range(2):  # warm and cold calls must agree
                y = fastact.logsumexp(a, axis=axis, keepdims=keepdims, backend=backend)
                want = fastact.logsumexp(a, axis=axis, keepdims=keepdims, out=_general_path_out(
                    np.shape(y), np.asarray(y).dtype), backend=backend)
                np.testing.assert_array_equal(y, want)
                assert type(y) is type(want) or np.ndim(y) == 0
                g = np.ones(np.shape(y), np.asarray(y).dtype)
                got = fastact.logsumexp_backward(g, a, np.asarray(y), axis=axis, keepdims=keepdims,
                                                 backend=backend)
                want = fastact.logsumexp_backward(g, a, np.asarray(y), axis=axis, keepdims=keepdims,
                                                  out=_general_path_out(got.shape, got.dtype),
                                                  backend=backend)
                np.testing.assert_array_equal(got, want)
        for pieces in (1, 2, 3):
            if a.shape[-1] % pieces:
                continue
            for _ in range(2):
                y = fastact.maxout(a, pieces, backend=backend)
                want = fastact.maxout(a, pieces, out=_general_path_out(y.shape, y.dtype),
                                      backend=backend)
                np.testing.assert_array_equal(y, want)
                g = rng.normal(size=y.shape).astype(y.dtype)
                got = fastact.maxout_backward(g, a, pieces, backend=backend)
                want = fastact.maxout_backward(g, a, pieces,
                                               out=_general_path_out(got.shape, got.dtype),
                                               backend=backend)
                np.testing.assert_array_equal(got, want)
    for _ in range(2):  # errors are the general path's, whichever path saw the call first
        with pytest.raises(ValueError, match="does not divide"):
            fastact.maxout(x, 4, backend=backend)
        with pytest.raises(TypeError, match="positive integer"):
            fastact.maxout(x, True, backend=backend)
        with pytest.raises(ValueError, match="shape"):
            fastact.maxout_backward(np.ones((2, 3, 2), dtype), x, 2, backend=backend)
        with pytest.raises(ValueError, match="shape"):
            fastact.logsumexp_backward(np.ones((2, 3), dtype), x, np.ones((2, 4), dtype),
                                       backend=backend)


def test_unavailable_backend_says_why():
    for name, reason in fastact.unavailable_backends().items():
        with pytest.raises(ValueError, match=f"backend '{name}' is not available"):
            fastact.relu(np.ones(3), backend=name)
        assert reason


def _python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_import_compiles_nothing_and_does_not_import_numba():
    # listing backends and running the reference must not pull numba in either
    result = _python("import sys, fastact; fastact.backends(); fastact.relu([1.0], backend='numpy');"
                     "print('numba' in sys.modules, 'llvmlite' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


@pytest.mark.skipif("numba" not in fastact.backends(), reason="numba is not installed")
def test_numba_results_keep_numpys_dtype_objects_when_loaded_from_the_cache(tmp_path):
    """The public functions' `dtype is float32` fast checks must see NumPy's own dtype
    object in Numba's results, also when the kernel comes from the disk cache (an array
    allocated inside a cached Numba function carries an unpickled copy, so a chain of
    calls silently took the slow path)."""
    code = ("import numpy as np, fastact; x = np.ones((2, 4), np.float32); "
            "y = fastact.relu(x, backend='numba'); "
            "g = fastact.relu_backward(np.ones_like(y), y, backend='numba'); "
            "print(y.dtype is np.dtype(np.float32), g.dtype is np.dtype(np.float32))")
    for _ in range(2):  # compiles and saves, then loads
        result = _python(code, NUMBA_CACHE_DIR=str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["True", "True"]


def test_environment_variable_sets_the_backend():
    result = _python("import fastact; print(fastact.get_backend())", FASTACT_BACKEND="numpy")
    assert result.stdout.strip() == "numpy", result.stderr
    result = _python("import fastact", FASTACT_BACKEND="bogus")
    assert result.returncode != 0 and "FASTACT_BACKEND" in result.stderr


# --- dtypes ------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_dtypes_are_kept(backend, op, dtype):
    x = np.linspace(-4, 4, 24, dtype=dtype).reshape(4, 6)
    y = _default_call(op, x, backend)
    assert y.dtype == dtype
    if dtype == np.float16:  # computed in float32, then rounded
        expected = _default_call(op, x.astype(np.float32), backend).astype(np.float16)
        np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int32, np.int64, np.uint16])
def test_bool_and_integers_promote_to_float64(dtype):
    x = np.array([0, 1, 1, 0], dtype=dtype)
    y = fastact.sigmoid(x)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, fastact.sigmoid(x.astype(np.float64)))


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@pytest.mark.parametrize("value", [
    np.array([1 + 2j]), np.array(["a"]), np.array([object()], dtype=object),
    np.array(["2020-01-01"], dtype="datetime64[D]"), np.array([1.0], dtype=np.longdouble),
], ids=["complex", "str", "object", "datetime", "longdouble"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_unsupported_dtypes_raise_type_error_naming_function_and_dtype(op, value, backend):
    """On every backend, forward (x) and backward (grad_output, then each saved array)."""
    if value.dtype == np.longdouble and np.dtype(np.longdouble).itemsize == 8:
        pytest.skip("longdouble is float64 on this platform")
    dtype = re.escape(str(value.dtype))
    with pytest.raises(TypeError, match=rf"^{op.name}: x has (unsupported )?dtype {dtype}"):
        _default_call(op, value, backend)
    x = np.ones((1, 2))
    y = np.asarray(_default_call(op, x))
    good = {"grad_output": np.ones(y.shape), "x": x, "y": y}
    names = ["grad_output", *op.saved]
    for bad in names:
        args = [value if name == bad else good[name] for name in names]
        with pytest.raises(TypeError, match=rf"^{op.backward_name}: {bad} has (unsupported )?"
                                            rf"dtype {dtype}"):
            getattr(fastact, op.backward_name)(*args, **op.test_params[0], backend=backend)


def test_mixed_dtypes_in_backward_use_result_type():
    g = np.ones(3, np.float32)
    x = np.array([-1.0, 0.5, 2.0])
    assert fastact.relu_backward(g, x).dtype == np.float64
    assert fastact.relu_backward(g.astype(np.float16), x.astype(np.float32)).dtype == np.float32
    assert fastact.relu_backward(g.astype(np.float16), np.arange(3)).dtype == np.float64


def test_prelu_python_weight_does_not_widen():
    x = np.linspace(-2, 2, 5, dtype=np.float32)
    assert fastact.prelu(x, 0.25).dtype == np.float32
    assert fastact.prelu(x, np.float64(0.25)).dtype == np.float64


# --- lists, scalars, 0-d, empty --------------------------------------------

def test_lists_and_scalars_behave_like_a_ufunc():
    assert fastact.relu(-2) == 0.0 and isinstance(fastact.relu(-2), np.float64)
    assert isinstance(fastact.sigmoid(np.float32(0.0)), np.float32)
    np.testing.assert_array_equal(fastact.relu([[1, -1]]), [[1.0, 0.0]])
    out = np.empty(())
    assert fastact.relu(3.0, out=out) is out and out == 3.0
    assert isinstance(fastact.logsumexp([0.0, 0.0]), np.float64)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_inputs(backend):
    assert fastact.gelu(np.empty((0, 3)), backend=backend).shape == (0, 3)
    assert fastact.softmax(np.empty((2, 0)), backend=backend).shape == (2, 0)
    np.testing.assert_array_equal(fastact.logsumexp(np.empty((2, 0)), backend=backend),
                                  [-np.inf, -np.inf])
    assert fastact.maxout(np.empty((0, 4)), 2, backend=backend).shape == (0, 2)
    gi, gw = fastact.prelu_backward(np.empty((0, 3)), np.empty((0, 3)), [1.0, 2, 3],
                                    backend=backend)
    assert gi.shape == (0, 3)
    np.testing.assert_array_equal(gw, [0.0, 0.0, 0.0])


# --- out= ----------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_out_receives_the_result(backend, op):
    x = np.linspace(-4, 4, 24).reshape(4, 6)
    expected = _default_call(op, x, backend)
    out = np.full_like(expected, np.nan)
    assert _default_call(op, x, backend, out=out) is out
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", [op for op in OPS if op.kind in ("elementwise", "prelu", "rows")],
                         ids=lambda op: op.name)
def test_out_may_be_the_input(backend, op):
    x = np.linspace(-4, 4, 24).reshape(4, 6)
    expected = _default_call(op, x, backend)
    _default_call(op, x, backend, out=x)
    np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_out_partially_overlapping_the_input(backend, op):
    buffer = np.linspace(-4, 4, 30)
    x = buffer[:24].reshape(4, 6)
    expected = _default_call(op, x.copy(), backend)
    out = buffer[-expected.size:].reshape(expected.shape)
    _default_call(op, x, backend, out=out)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elementwise_out_gives_the_values_without_out(backend, dtype):
    """Elementwise calls with out= (new, in place, aliased, shifted by one element) give the
    values without out=, return out, and raise the same errors on every call."""
    x = np.linspace(-5, 5, 40, dtype=dtype).reshape(5, 8)
    g = np.cos(x)
    for op in (op for op in OPS if op.kind == "elementwise"):
        f, b = getattr(fastact, op.name), getattr(fastact, op.backward_name)
        saved = {"x": x, "y": f(x, backend="numpy")}[op.saved[0]]
        for _ in range(2):
            out = np.full_like(x, np.nan)
            assert f(x, backend=backend, out=out) is out
            np.testing.assert_array_equal(out, f(x, backend=backend))
            assert b(g, saved, backend=backend, out=out) is out
            np.testing.assert_array_equal(out, b(g, saved, backend=backend))
            inplace = x.copy()
            f(inplace, backend=backend, out=inplace)
            np.testing.assert_array_equal(inplace, f(x, backend=backend))
            alias = x.copy()  # out another view of the input's memory: in place too
            f(alias, backend=backend, out=alias[...])
            np.testing.assert_array_equal(alias, f(x, backend=backend))
            shifted = np.zeros(x.size + 1, dtype)  # out one element past the input
            shifted[:-1] = x.ravel()
            f(shifted[:-1], backend=backend, out=shifted[1:])
            np.testing.assert_array_equal(shifted[1:], f(x.ravel(), backend=backend))
            frozen = np.empty_like(x)
            frozen.flags.writeable = False
            with pytest.raises(ValueError, match="out is read-only"):
                f(x, backend=backend, out=frozen)
            with pytest.raises(TypeError, match="out has dtype"):
                f(x, backend=backend, out=np.empty(x.shape, x.dtype.newbyteorder()))
            with pytest.raises(ValueError, match="out has shape"):
                f(x, backend=backend, out=np.empty(x.size, x.dtype))


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_takes_the_direct_loop_call_and_gives_the_general_paths_values(backend, dtype):
    """A contiguous out= of the result's dtype is filled by the direct loop call (the
    same overhead as a new result, no NumPy dispatch), with the general path's values;
    an out= that overlaps a row op's input (the row loops read the input after writing)
    or an elementwise op's input other than as itself is left to the general path."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(6, 16)).astype(dtype)
    for op in OPS:
        if op.kind == "prelu":
            continue  # prelu_backward returns two arrays; its out= is tested above
        f, b = getattr(fastact, op.name), getattr(fastact, op.backward_name)
        params = op.test_params[0]
        y = f(x, **params, backend=backend)
        saved = {"x": x, "y": y}
        args = (rng.normal(size=y.shape).astype(dtype), *[saved[s] for s in op.saved])
        grad = b(*args, **params, backend=backend)
        for fn, inputs, want in ((f, (x,), y), (b, args, grad)):
            out = np.full_like(want, np.nan)
            assert fn(*inputs, **params, out=out, backend=backend) is out
            general = _general_path_out(want.shape, want.dtype)
            fn(*inputs, **params, out=general, backend=backend)
            np.testing.assert_array_equal(out, want)
            np.testing.assert_array_equal(out, general)
    # in place along the rows' own axis, and a row op's out overlapping its input: the
    # general path's copy keeps the values
    for name in ("softmax", "log_softmax"):
        want = getattr(fastact, name)(x, backend=backend)
        buffer = np.concatenate([x.ravel(), np.zeros(16, dtype)])
        shifted = buffer[16:].reshape(x.shape)
        getattr(fastact, name)(buffer[:-16].reshape(x.shape), out=shifted, backend=backend)
        np.testing.assert_array_equal(shifted, want)
    y = fastact.logsumexp(x, backend=backend)
    want = fastact.logsumexp_backward(np.ones_like(y), x, y, backend=backend)
    inplace = x.copy()
    fastact.logsumexp_backward(np.ones_like(y), inplace, y, out=inplace, backend=backend)
    np.testing.assert_array_equal(inplace, want)
    row = x[0].copy()  # a 1-d x: logsumexp's out= is 0-d, returned itself
    out0 = np.empty((), dtype)
    assert fastact.logsumexp(row, out=out0, backend=backend) is out0
    assert out0 == fastact.logsumexp(row, backend=backend)
    # which calls the direct loop call takes (it returns None for the general path's)
    fastcall = pytest.importorskip("fastact._fastcall")
    compiled = _dispatch.module(backend)
    sigmoid, softmax = compiled.ufunc("sigmoid", x.size), compiled.ufunc("softmax", x.size)
    out = np.empty_like(x)
    assert fastcall.call(sigmoid, (x,), (), -1, out) is out
    inplace = x.copy()
    assert fastcall.call(sigmoid, (inplace,), (), -1, inplace) is inplace
    assert fastcall.call(sigmoid, (x,), (), -1, out[::-1]) is None  # not contiguous
    assert fastcall.call(sigmoid, (x,), (), -1, _general_path_out(x.shape, dtype)) is None
    assert fastcall.call(sigmoid, (x,), (), -1, np.empty(x.shape, np.float16)) is None
    flat = np.concatenate([x.ravel(), [0]]).astype(dtype)
    assert fastcall.call(sigmoid, (flat[:-1],), (), -1, flat[1:]) is None  # overlapping
    assert fastcall.call(softmax, (x,), (), -1, out) is out
    assert fastcall.call(softmax, (inplace,), (), -1, inplace) is None  # a row op in place


def test_backward_out_may_overlap_grad_output():
    g = np.linspace(-1, 1, 12).reshape(3, 4)
    y = fastact.softmax(np.arange(12.0).reshape(3, 4))
    expected = fastact.softmax_backward(g, y)
    fastact.softmax_backward(g, y, out=g)
    np.testing.assert_array_equal(g, expected)


def test_float16_out():
    x = np.linspace(-3, 3, 7, dtype=np.float16)
    out = np.empty(7, np.float16)
    fastact.gelu(x, out=out)
    np.testing.assert_array_equal(out, fastact.gelu(x))


@pytest.mark.parametrize("out,error,message", [
    (np.empty(5, np.float32), TypeError, r"relu: out has dtype float32 but the result is float64"),
    (np.empty(4), ValueError, r"relu: out has shape \(4,\) but the result has shape \(5,\)"),
    (np.empty((5, 1)), ValueError, r"relu: out has shape \(5, 1\)"),
    ([0.0] * 5, TypeError, r"relu: out must be a numpy.ndarray, got list"),
])
def test_bad_out(out, error, message):
    x = np.linspace(-1, 1, 5)
    with pytest.raises(error, match=message):
        fastact.relu(x, out=out)


def test_read_only_out():
    out = np.empty(5)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="relu: out is read-only"):
        fastact.relu(np.ones(5), out=out)


# --- bad input ------------------------------------------------------------------

BAD_CALLS = [
    ("shape", lambda x: fastact.relu_backward(np.ones(3), np.ones(4)), ValueError,
     r"relu_backward: grad_output has shape \(3,\) but x has shape \(4,\)"),
    ("shape-y", lambda x: fastact.sigmoid_backward(np.ones((2, 3)), np.ones((3, 2))), ValueError,
     r"sigmoid_backward: grad_output has shape \(2, 3\) but y has shape \(3, 2\)"),
    ("axis", lambda x: fastact.softmax(x, axis=2), np.exceptions.AxisError, "softmax: axis"),
    ("axis-neg", lambda x: fastact.log_softmax(x, axis=-3), np.exceptions.AxisError,
     "log_softmax: axis"),
    ("axis-type", lambda x: fastact.softmax(x, axis=1.0), TypeError,
     "softmax: axis must be an integer"),
    ("axis-bwd", lambda x: fastact.softmax_backward(x, x, axis=5), np.exceptions.AxisError,
     "softmax_backward: axis"),
    ("approximate", lambda x: fastact.gelu(x, approximate="erf"), ValueError,
     r"gelu: approximate must be one of 'none', 'tanh', got 'erf'"),
    ("approximate-bwd", lambda x: fastact.gelu_backward(x, x, approximate=None), ValueError,
     r"gelu_backward: approximate must be one of 'none', 'tanh'"),
    ("pieces", lambda x: fastact.maxout(x, 4), ValueError,
     r"maxout: pieces=4 does not divide the length 6 of axis 1"),
    ("pieces-zero", lambda x: fastact.maxout(x, 0), ValueError,
     "maxout: pieces must be a positive integer, got 0"),
    ("pieces-float", lambda x: fastact.maxout(x, 2.0), TypeError,
     "maxout: pieces must be a positive integer"),
    ("pieces-bwd", lambda x: fastact.maxout_backward(np.ones((4, 3)), x, 4), ValueError,
     "maxout_backward: pieces=4 does not divide"),
    ("maxout-grad", lambda x: fastact.maxout_backward(np.ones((4, 2)), x, 2), ValueError,
     r"maxout_backward: grad_output has shape \(4, 2\) but maxout of x .* has shape \(4, 3\)"),
    ("celu-alpha", lambda x: fastact.celu(x, alpha=0), ValueError,
     "celu: alpha must be a finite nonzero number"),
    ("elu-alpha-nan", lambda x: fastact.elu(x, alpha=float("nan")), ValueError,
     "elu: alpha must be finite"),
    ("slope-str", lambda x: fastact.leaky_relu(x, "0.1"), TypeError,
     "leaky_relu: negative_slope must be a real number"),
    ("slope-inf", lambda x: fastact.leaky_relu(x, np.inf), ValueError,
     "leaky_relu: negative_slope must be finite"),
    ("beta", lambda x: fastact.softplus(x, beta=0), ValueError,
     "softplus: beta must be finite and > 0"),
    ("beta-neg", lambda x: fastact.softplus_backward(x, x, beta=-1), ValueError,
     "softplus_backward: beta must be finite and > 0"),
    ("threshold", lambda x: fastact.softplus(x, threshold=float("nan")), ValueError,
     "softplus: threshold must be a number or ±inf"),
    ("keepdims", lambda x: fastact.logsumexp(x, keepdims=1), TypeError,
     "logsumexp: keepdims must be True or False"),
    ("lse-y", lambda x: fastact.logsumexp_backward(np.ones(4), x, np.ones(3)), ValueError,
     r"logsumexp_backward: y has shape \(3,\) but logsumexp of x .* has shape \(4,\)"),
    ("lse-g", lambda x: fastact.logsumexp_backward(np.ones(3), x, np.ones(4)), ValueError,
     r"logsumexp_backward: grad_output has shape \(3,\) but y has shape \(4,\)"),
    ("weight", lambda x: fastact.prelu(x, [0.1, 0.2]), ValueError,
     "prelu: weight has 2 values but x has 6 channels along axis 1"),
    ("weight-empty", lambda x: fastact.prelu(x, []), ValueError, "prelu: weight is empty"),
    ("weight-axis", lambda x: fastact.prelu(x[0], np.ones(6)), np.exceptions.AxisError,
     "prelu: axis"),
    ("weight-dtype", lambda x: fastact.prelu(x, ["a"]), TypeError,
     "prelu: weight has unsupported dtype"),
    ("weight-bwd", lambda x: fastact.prelu_backward(x, x, np.ones(5)), ValueError,
     "prelu_backward: weight has 5 values"),
    ("grad-dtype", lambda x: fastact.relu_backward(x.astype(complex), x), TypeError,
     "relu_backward: grad_output has unsupported dtype complex128"),
    ("missing", lambda x: fastact.maxout(x), TypeError, "pieces"),
    ("axis-float", lambda x: fastact.softmax(x, axis=-1.0), TypeError,
     "softmax: axis must be an integer, got -1.0"),
    ("axis-float-lse", lambda x: fastact.logsumexp(x, axis=1.0), TypeError,
     "logsumexp: axis must be an integer, got 1.0"),
    # every other rule of fastact._validate and the dispatch
    ("longdouble", lambda x: fastact.gelu(x.astype(np.longdouble))
     if np.dtype(np.longdouble).itemsize > 8 else fastact.gelu(x.astype(complex)), TypeError,
     "gelu: x has (unsupported )?dtype (float128|complex128)"),
    ("object", lambda x: fastact.softmax(x.astype(object)), TypeError,
     "softmax: x has unsupported dtype object"),
    ("torch", lambda x: fastact.relu(type("Tensor", (), {"__module__": "torch"})()), TypeError,
     "relu: x is a torch.Tensor"),
    ("real-huge", lambda x: fastact.elu(x, alpha=10**400), ValueError,
     r"elu: alpha must fit a float, got 10000000000000000000\.\.\."),
    ("real-float32-range", lambda x: fastact.leaky_relu(x.astype(np.float32), 1e39), ValueError,
     "leaky_relu: negative_slope=1e\\+39 is beyond float32's range"),
    ("pieces-bool", lambda x: fastact.maxout(x, True), TypeError,
     "maxout: pieces must be a positive integer, got True"),
    ("prelu-grad-shape", lambda x: fastact.prelu_backward(x[:2], x, 0.25), ValueError,
     r"prelu_backward: grad_output has shape \(2, 6\) but x has shape \(4, 6\)"),
    ("prelu-weight-axis", lambda x: fastact.prelu(x, np.ones(4), axis=2),
     np.exceptions.AxisError, "prelu: axis"),
    ("out-type", lambda x: fastact.gelu(x, out=[0.0] * 24), TypeError,
     "gelu: out must be a numpy.ndarray, got list"),
    ("out-dtype", lambda x: fastact.softmax(x, out=np.empty(x.shape, np.float16)), TypeError,
     "softmax: out has dtype float16 but the result is float"),
    ("out-shape", lambda x: fastact.logsumexp(x, out=np.empty(6, x.dtype)), ValueError,
     r"logsumexp: out has shape \(6,\) but the result has shape \(4,\)"),
    ("out-read-only", lambda x: fastact.gelu_backward(x, x, out=np.broadcast_to(x[0], x.shape)),
     ValueError, "gelu_backward: out is read-only"),
    ("out-broadcast", lambda x: fastact.prelu_backward(
        x, x, 0.25, out=np.lib.stride_tricks.as_strided(x[0].copy(), x.shape, (0, x.itemsize))),
     ValueError, "prelu_backward: out is a broadcast view"),
    ("backend", lambda x: fastact.sigmoid(x, backend="fast"), ValueError,
     "unknown backend 'fast'"),
    ("threads", lambda x: fastact.set_num_threads(0), ValueError,
     "number of threads must be a positive integer, got 0"),
]

_WARM_AND_COLD = """
import sys, numpy as np, fastact
sys.path.insert(0, sys.argv[1])
from test_api import BAD_CALLS

def outcomes():
    seen = []
    for backend in fastact.backends():
        for dtype in (np.float32, np.float64):
            x = np.linspace(-3, 3, 24, dtype=dtype).reshape(4, 6)
            with fastact.use_backend(backend):
                for name, call, error, message in BAD_CALLS:
                    try:
                        call(x)
                        seen.append((backend, name, "no error"))
                    except Exception as e:
                        seen.append((backend, name, type(e).__name__, str(e)))
    return seen

cold = outcomes()
for backend in fastact.backends():  # many successful calls on every op
    for op in fastact.OPS:
        for dtype in (np.float32, np.float64):
            x = np.linspace(-2, 2, 8, dtype=dtype).reshape(2, 4)
            for params in op.test_params:
                params = dict(params)
                if op.kind == "prelu" and np.size(params["weight"]) > 1:
                    params["weight"] = np.full(4, 0.25, dtype)
                    params["axis"] = 1
                for _ in range(3):
                    y = getattr(fastact, op.name)(x, **params, backend=backend)
                    saved = {"x": x, "y": y}
                    getattr(fastact, op.backward_name)(np.ones_like(y), *[saved[s] for s in op.saved],
                                                       **params, backend=backend)
warm = outcomes()
assert cold == warm, [(c, w) for c, w in zip(cold, warm) if c != w]
print(len(cold))
"""


def test_every_rule_raises_the_same_warm_and_cold():
    """Each bad call, on every backend and float dtype, raises the same exception type and
    message in a fresh process and after many successful calls of every op."""
    from pathlib import Path

    result = subprocess.run([sys.executable, "-c", _WARM_AND_COLD, str(Path(__file__).parent)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.split()[-1]) == len(BAD_CALLS) * 2 * len(fastact.backends())


@pytest.mark.parametrize("call,error,message", [c[1:] for c in BAD_CALLS],
                         ids=[c[0] for c in BAD_CALLS])
def test_bad_input_raises_clear_error_and_leaves_inputs_alone(call, error, message):
    x = np.linspace(-3, 3, 24).reshape(4, 6)
    before = x.copy()
    with pytest.raises(error, match=message):
        call(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_forward_leaves_its_input_alone(op):
    x = np.linspace(-3, 3, 24).reshape(4, 6)
    before = x.copy()
    _default_call(op, x)
    np.testing.assert_array_equal(x, before)


def test_op_table_is_complete():
    expected = {"relu", "leaky_relu", "prelu", "elu", "selu", "celu", "gelu", "sigmoid", "tanh",
                "silu", "softplus", "mish", "hardsigmoid", "hardswish", "softmax", "log_softmax",
                "logsumexp", "maxout"}
    assert set(OPS_BY_NAME) == expected
    for name in expected:
        assert callable(getattr(fastact, name)) and callable(getattr(fastact, name + "_backward"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_results_carry_numpys_own_dtype_object(backend, dtype):
    """Results (byte-swapped input included) carry np.dtype(T) itself, so passing one back
    in (y to a backward, an out= made from a result) takes the common-case path, whose
    checks compare dtype objects by identity."""
    x = np.linspace(-2, 2, 16).astype(np.dtype(dtype).newbyteorder(">")).reshape(2, 8)
    for call in (lambda a: fastact.relu(a, backend=backend),
                 lambda a: fastact.softmax(a, backend=backend),
                 lambda a: fastact.logsumexp(a, backend=backend),
                 lambda a: fastact.prelu(a, 0.25, backend=backend)):
        assert call(x).dtype is np.dtype(dtype)
        assert call(x.astype(dtype)).dtype is np.dtype(dtype)


def test_the_package_is_typed_for_type_checkers():
    from pathlib import Path

    assert (Path(fastact.__file__).parent / "py.typed").is_file()


def test_completion_sees_the_public_functions_and_their_signatures():
    """The functions are ordinary source, so static tools see them (they were injected with
    globals().update, and completing `fastact.ge` offered only get_backend)."""
    jedi = pytest.importorskip("jedi")
    from pathlib import Path

    script = "import fastact\nfastact.ge"
    path = Path(fastact.__file__).parent.parent / "completion_probe.py"  # fastact importable
    names = [c.name for c in jedi.Script(script, path=path).complete(2, 10)]
    assert {"gelu", "gelu_backward"} <= set(names)
    signatures = jedi.Script("import fastact\nfastact.gelu(", path=path).get_signatures(2, 13)
    assert [s.to_string() for s in signatures] == [
        'gelu(x, approximate="none", *, out=None, backend=None)']


def test_submodules_are_attributes_after_import():
    code = ("import fastact; print(fastact.layers.GELU.__name__, fastact.reference.gelu.__name__, "
            "type(fastact.ufuncs.gelu).__name__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["GELU", "gelu", "ufunc"]
