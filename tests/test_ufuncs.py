"""fastact.ufuncs: real NumPy ufuncs that take part in NumPy's protocols, and one source
for the constants every backend computes with."""

from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest

import fastact
from fastact import reference
from fastact.catalogue import CONSTANTS, OPS

COMPILED = [b for b in ("cython", "numba") if b in fastact.backends()]
pytestmark = pytest.mark.skipif(not COMPILED, reason="no compiled backend")


def test_names_come_from_the_op_table():
    names = set(fastact.ufuncs.NAMES)
    assert {"gelu", "gelu_tanh", "gelu_tanh_backward", "softmax", "logsumexp_backward",
            "maxout_backward"} <= names
    assert len(names) == sum(len(op.ufuncs) for op in OPS) == 36
    assert "prelu" not in names  # prelu runs leaky_relu's with a broadcast weight
    with pytest.raises(AttributeError, match="no ufunc 'geluu'"):
        fastact.ufuncs.geluu  # noqa: B018
    with pytest.raises(ValueError, match="'cython' or 'numba'"):
        fastact.ufuncs.get("gelu", "numpy")


@pytest.mark.parametrize("backend", COMPILED)
def test_every_kernel_is_a_numpy_ufunc(backend):
    for name in fastact.ufuncs.NAMES:
        u = fastact.ufuncs.get(name, backend)
        assert type(u) is np.ufunc, name
        assert {"f", "d"} <= {t[-1] for t in u.types}
    assert type(fastact.ufuncs.gelu) is np.ufunc
    assert fastact.ufuncs.softmax.signature == "(n)->(n)"
    assert fastact.ufuncs.get("logsumexp_backward", backend).signature == "(),(n),()->(n)"
    assert fastact.ufuncs.get("maxout", backend).signature == "(n)->(m)"


@pytest.mark.parametrize("backend", COMPILED)
def test_where_out_and_broadcast_parameters(backend):
    x = np.linspace(-4, 4, 16, dtype=np.float32)
    mask = np.arange(16) % 3 == 0
    out = np.full_like(x, 7.0)
    gelu = fastact.ufuncs.get("gelu", backend)
    assert gelu(x, where=mask, out=out) is out
    np.testing.assert_array_equal(out[mask], fastact.gelu(x, backend=backend)[mask])
    assert (out[~mask] == 7.0).all()
    # a parameter is an operand: an array of slopes broadcasts against x
    slopes = np.array([[0.0], [0.1], [-0.5]], np.float32)
    got = fastact.ufuncs.get("leaky_relu", backend)(x, slopes)
    assert got.shape == (3, 16)
    for row, s in zip(got, slopes[:, 0]):
        np.testing.assert_array_equal(row, fastact.leaky_relu(x, float(s), backend=backend))


@pytest.mark.parametrize("backend", COMPILED)
def test_gufuncs_take_axes_and_keepdims(backend):
    x = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float64)
    softmax = fastact.ufuncs.get("softmax", backend)
    np.testing.assert_allclose(softmax(x, axes=[(0,), (0,)]), reference.softmax(x, axis=0),
                               rtol=1e-14)
    lse = fastact.ufuncs.get("logsumexp", backend)(x, axis=0, keepdims=True)
    assert lse.shape == (1, 7)
    np.testing.assert_allclose(lse, reference.logsumexp(x, axis=0, keepdims=True), rtol=1e-14)
    out = np.empty((5, 7 // 7), np.float64)  # maxout: pieces = n / m from out's length
    fastact.ufuncs.get("maxout", backend)(x, out=out)
    np.testing.assert_array_equal(out, x.max(axis=1, keepdims=True))


class Wrapped:
    """A container that takes part in NumPy's ufunc protocol (as Dask and xarray do)."""

    def __init__(self, data):
        self.data = np.asarray(data)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        unwrapped = [i.data if isinstance(i, Wrapped) else i for i in inputs]
        return Wrapped(getattr(ufunc, method)(*unwrapped, **kwargs)), ufunc.__name__


class Sub(np.ndarray):
    pass


@pytest.mark.parametrize("backend", COMPILED)
def test_array_ufunc_containers_and_subclasses_pass_through(backend):
    x = np.linspace(-2, 2, 9)
    for name in ("gelu", "softplus", "softmax"):
        u = fastact.ufuncs.get(name, backend)
        params = (1.0, 20.0) if name == "softplus" else ()
        result, seen = u(Wrapped(x), *params)
        assert seen == name
        np.testing.assert_array_equal(result.data, u(x, *params))
    sub = u(x.view(Sub))
    assert type(sub) is Sub


def _bits(value):
    return struct.pack("<d", float(value))


def test_every_backend_holds_the_op_tables_constants_bit_for_bit():
    # the reference and the Numba scalars take them from the table
    assert _bits(reference._SELU_SCALE_ALPHA) == _bits(CONSTANTS["SELU_SCALE_ALPHA"])
    assert _bits(reference._SQRT_2_OVER_PI_X2) == _bits(CONSTANTS["SQRT_2_OVER_PI_X2"])
    assert _bits(reference._GELU_TANH_CUTOFF) == _bits(CONSTANTS["GELU_TANH_BACKWARD_CUTOFF"])
    assert _bits(2 * CONSTANTS["SQRT_2_OVER_PI"]) == _bits(CONSTANTS["SQRT_2_OVER_PI_X2"])
    assert _bits(3 * CONSTANTS["GELU_TANH_C"]) == _bits(CONSTANTS["GELU_TANH_3C"])
    # 2 sqrt(2/pi) * 0.044715 rounded once: within an ulp of the product of the rounded factors
    product = CONSTANTS["SQRT_2_OVER_PI_X2"] * CONSTANTS["GELU_TANH_C"]
    assert abs(CONSTANTS["GELU_TANH_C_X2"] - product) <= np.spacing(product)
    if "numba" in fastact.backends():
        from fastact._numba import elementwise

        assert _bits(elementwise._SELU_SCALE_ALPHA) == _bits(CONSTANTS["SELU_SCALE_ALPHA"])
        assert _bits(elementwise._SQRT_2_OVER_PI_X2) == _bits(CONSTANTS["SQRT_2_OVER_PI_X2"])
        assert _bits(elementwise._GELU_C_X2) == _bits(CONSTANTS["GELU_TANH_C_X2"])
        assert _bits(elementwise._INV_SQRT_2PI) == _bits(CONSTANTS["INV_SQRT_2PI"])
    if "cython" in fastact.backends():  # compiled in from the header setup.py writes
        from fastact._cython import backend

        compiled = backend.kernels().CONSTANTS
        assert set(compiled) == set(CONSTANTS)
        for name, value in CONSTANTS.items():
            assert _bits(compiled[name]) == _bits(value), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_backends_agree_where_the_constants_matter(dtype):
    """selu and gelu-tanh use the shared constants: the backends give the same bits."""
    if len(COMPILED) < 2:
        pytest.skip("needs both compiled backends")
    x = np.linspace(-6, 6, 2001, dtype=dtype)
    for name, params in (("selu", {}), ("gelu", {"approximate": "tanh"})):
        f = getattr(fastact, name)
        np.testing.assert_array_equal(f(x, **params, backend="cython"),
                                      f(x, **params, backend="numba"))


def test_reference_is_an_attribute_after_import():
    code = "import fastact; print(fastact.reference.gelu(1.0), type(fastact.ufuncs).__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.841344746068543", "module"]


@pytest.mark.parametrize("backend", COMPILED)
def test_float16_is_the_float32_result_rounded(backend):
    """float16 input (the Cython ufuncs' float16 loops where built with F16C, else NumPy's
    casts) gives the float32 computation rounded to float16, parameters in float32."""
    x = np.random.default_rng(3).normal(scale=3, size=3001).astype(np.float16)
    x[:4] = [np.inf, -np.inf, np.nan, 0.0]
    for op in (op for op in OPS if op.kind == "elementwise"):
        for params in op.test_params:
            f = getattr(fastact, op.name)
            b = getattr(fastact, op.backward_name)
            want = f(x.astype(np.float32), **params, backend=backend).astype(np.float16)
            for a in (x, x[::2], x[::-1]):  # contiguous, strided, reversed
                w = want if a is x else (want[::2] if a.base is x and a.strides[0] > 0 else want[::-1])
                got = f(a, **params, backend=backend)
                assert got.dtype == np.float16
                np.testing.assert_array_equal(got, w, err_msg=f"{op.name} {params}")
            g = np.linspace(-2, 2, x.size).astype(np.float16)
            saved = want if op.saved == ("y",) else x
            got = b(g, saved, **params, backend=backend)
            assert got.dtype == np.float16
            np.testing.assert_array_equal(
                got, b(g.astype(np.float32), saved.astype(np.float32), **params,
                       backend=backend).astype(np.float16), err_msg=op.backward_name)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loops_leave_no_floating_point_flags(backend, dtype):
    """Every loop clears the status flags that NumPy tests after it (fastact/_cython/
    fpstatus.h; Numba's _clear_fp_status): on these inputs the lanes that a vectorised
    select discards overflow, divide by zero and turn invalid, and the kept results follow
    the catalogue's rules, not the flags.  Through NumPy's dispatch (the ufuncs called
    directly, contiguous, and the public functions on strided input) under
    np.errstate(all='raise'), nothing may raise."""
    values = [0.0, -0.0, 1e-40, -1e-40, 0.5, -0.5, 3.0, -3.0, 20.0, -20.0, 100.0, -100.0,
              1e30, -1e30, np.inf, -np.inf, np.nan]
    x = np.tile(np.array(values, dtype), 61)  # 1037 elements: a vector loop and its tail
    rows = x[:1020].reshape(12, 85)
    with np.errstate(all="raise"):
        for name in fastact.ufuncs.NAMES:
            u = fastact.ufuncs.get(name, backend)
            if u.signature is None and u.nin <= 2:  # the kernels without parameters
                u(*([x] * u.nin))
            elif name in ("softmax", "log_softmax", "logsumexp"):
                u(rows)
            elif name in ("softmax_backward", "log_softmax_backward"):
                u(rows, rows)
        strided = x[::2]
        for op in OPS:
            if op.kind != "elementwise":
                continue
            forward = getattr(fastact, op.name)
            params = {"weight": 0.25} if op.kind == "prelu" else {}
            y = forward(strided, backend=backend, **params)
            saved = {"x": strided, "y": y}
            getattr(fastact, op.backward_name)(strided, *[saved[s] for s in op.saved],
                                               backend=backend, **params)
        for name in ("softmax", "log_softmax"):
            y = getattr(fastact, name)(rows[:, ::2], backend=backend)
            getattr(fastact, name + "_backward")(rows[:, ::2], y, backend=backend)
