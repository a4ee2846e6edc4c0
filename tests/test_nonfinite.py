"""The non-finite rules of the catalogue, as tables, on every backend and float dtype."""

from __future__ import annotations

import numpy as np
import pytest

import fastact
from fastact.catalogue import OPS, SELU_ALPHA, SELU_SCALE

BACKENDS = fastact.backends()
DTYPES = [np.float32, np.float64]
inf, nan = np.inf, np.nan

# op, params, f(-inf), f(+inf), f'(-inf), f'(+inf)
LIMITS = [
    ("relu", {}, 0.0, inf, 0.0, 1.0),
    ("leaky_relu", {}, -inf, inf, 0.01, 1.0),
    ("leaky_relu", {"negative_slope": 0.0}, 0.0, inf, 0.0, 1.0),
    ("leaky_relu", {"negative_slope": -0.5}, inf, inf, -0.5, 1.0),
    ("prelu", {"weight": 0.25}, -inf, inf, 0.25, 1.0),
    ("prelu", {"weight": 0.0}, 0.0, inf, 0.0, 1.0),
    ("elu", {}, -1.0, inf, 0.0, 1.0),
    ("elu", {"alpha": 0.5}, -0.5, inf, 0.0, 1.0),
    ("selu", {}, -SELU_SCALE * SELU_ALPHA, inf, 0.0, SELU_SCALE),
    ("celu", {"alpha": 2.0}, -2.0, inf, 0.0, 1.0),
    ("gelu", {}, 0.0, inf, 0.0, 1.0),
    ("gelu", {"approximate": "tanh"}, 0.0, inf, 0.0, 1.0),
    ("sigmoid", {}, 0.0, 1.0, 0.0, 0.0),
    ("tanh", {}, -1.0, 1.0, 0.0, 0.0),
    ("silu", {}, 0.0, inf, 0.0, 1.0),
    ("softplus", {}, 0.0, inf, 0.0, 1.0),
    ("softplus", {"beta": 2.0, "threshold": 10.0}, 0.0, inf, 0.0, 1.0),
    ("mish", {}, 0.0, inf, 0.0, 1.0),
    ("hardsigmoid", {}, 0.0, 1.0, 0.0, 0.0),
    ("hardswish", {}, 0.0, inf, 0.0, 1.0),
]
SAVED = {op.name: op.saved for op in OPS}


def _backward(name, params, g, x, backend):
    forward = getattr(fastact, name)(x, **params, backend=backend)
    saved = {"x": x, "y": forward}[SAVED[name][0]]
    result = getattr(fastact, name + "_backward")(g, saved, **params, backend=backend)
    return result[0] if name == "prelu" else result


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,params,at_neg,at_pos,d_neg,d_pos", LIMITS,
                         ids=[f"{row[0]}{row[1]}" for row in LIMITS])
def test_elementwise_limits_and_nan(backend, dtype, name, params, at_neg, at_pos, d_neg, d_pos):
    x = np.array([-inf, inf, nan, 1.0], dtype=dtype)
    y = getattr(fastact, name)(x, **params, backend=backend)
    np.testing.assert_allclose(y[:2], np.array([at_neg, at_pos], dtype), rtol=1e-6)
    assert np.isnan(y[2]), f"{name}(nan) = {y[2]}"
    g = np.ones_like(x)
    d = _backward(name, params, g, x, backend)
    np.testing.assert_allclose(d[:2], np.array([d_neg, d_pos], dtype), rtol=1e-6)
    assert np.isnan(d[2]), f"{name}_backward at x = nan gave {d[2]}"
    # NaN in grad_output gives NaN, wherever x is.
    g_nan = np.full_like(x, nan)
    assert np.all(np.isnan(_backward(name, params, g_nan, np.array([-2, 0.5, 2, 1], dtype),
                                     backend)))


def _row(values, dtype):
    return np.array([values], dtype=dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("row,lse", [
    ([1.0, nan, 2.0], nan),
    ([1.0, inf, 2.0], inf),
    ([-inf, inf, 2.0], inf),
    ([nan, inf, 2.0], nan),
    ([-inf, -inf, -inf], -inf),
], ids=["nan", "posinf", "both-inf", "nan-and-inf", "all-neginf"])
def test_rows_that_become_nan(backend, dtype, row, lse):
    x = _row(row, dtype)
    assert np.all(np.isnan(fastact.softmax(x, backend=backend)))
    assert np.all(np.isnan(fastact.log_softmax(x, backend=backend)))
    got = fastact.logsumexp(x, backend=backend)
    np.testing.assert_array_equal(got, np.array([lse], dtype))
    # the gradient of logsumexp is softmax: NaN for these rows too
    g = np.ones(1, dtype)
    assert np.all(np.isnan(fastact.logsumexp_backward(g, x, got, backend=backend)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_neg_inf_entry_in_a_finite_row(backend, dtype):
    x = _row([0.0, -inf, 1.0], dtype)
    y = fastact.softmax(x, backend=backend)
    assert y[0, 1] == 0 and np.all(np.isfinite(y)) and y.sum() == pytest.approx(1, rel=1e-6)
    log_y = fastact.log_softmax(x, backend=backend)
    assert log_y[0, 1] == -inf and np.all(np.isfinite(log_y[0, [0, 2]]))
    g = _row([0.5, 2.0, -1.0], dtype)
    assert fastact.softmax_backward(g, y, backend=backend)[0, 1] == 0
    # log_softmax: d y_i/d x_i -> 1 as x_i -> -inf, so the gradient there is g_i
    assert fastact.log_softmax_backward(g, log_y, backend=backend)[0, 1] == g[0, 1]
    lse = fastact.logsumexp(x, backend=backend)
    grad = fastact.logsumexp_backward(np.ones(1, dtype), x, lse, backend=backend)
    assert grad[0, 1] == 0 and np.all(np.isfinite(grad))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_maxout_non_finite(backend, dtype):
    x = _row([1.0, nan, -inf, -inf, inf, 2.0], dtype)
    y = fastact.maxout(x, 2, backend=backend)
    assert np.isnan(y[0, 0]) and y[0, 1] == -inf and y[0, 2] == inf
    grad = fastact.maxout_backward(np.ones((1, 3), dtype), x, 2, backend=backend)
    assert np.all(np.isnan(grad[0, :2]))               # NaN in the group
    np.testing.assert_array_equal(grad[0, 2:], [1, 0, 1, 0])  # first maximum wins ties


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype, clamp", [(np.float32, 10.0), (np.float64, 19.5)])
def test_tanh_at_zero_and_where_it_saturates(backend, dtype, clamp):
    """tanh is t/(t + 2), t = e^(2|x|) - 1, with |x| clamped where tanh rounds to 1 (the
    kernels' 2^n then needs no tests) and the sign copied from x: -0 stays -0, and the band
    around the clamp is within an ulp of the correctly rounded tanh, and 1 wherever that
    is (float32: tanh(9) is still 1 - 2^-24, so a clamp at 9 would be wrong)."""
    zeros = fastact.tanh(np.array([-0.0, 0.0], dtype), backend=backend)
    assert zeros.tolist() == [0.0, 0.0] and np.signbit(zeros).tolist() == [True, False]
    x = np.linspace(clamp - 2.0, clamp + 2.0, 40001).astype(dtype)
    y = fastact.tanh(x, backend=backend)
    exact = np.tanh(x.astype(np.longdouble)).astype(dtype)
    assert np.all(np.abs(y - exact) <= np.spacing(exact)), backend
    assert np.all(y[exact == 1.0] == 1.0) and np.all(y[x >= clamp] == 1.0)
    assert np.array_equal(fastact.tanh(-x, backend=backend), -y)
