"""Every backward against central finite differences of its forward (float64), and the kinks."""

from __future__ import annotations

import numpy as np
import pytest

import fastact
from fastact.catalogue import OPS, SELU_ALPHA, SELU_SCALE

BACKENDS = fastact.backends()
KINKS = {"relu": (0.0,), "leaky_relu": (0.0,), "prelu": (0.0,), "elu": (0.0,), "selu": (0.0,),
         "celu": (0.0,), "hardsigmoid": (-3.0, 3.0), "hardswish": (-3.0, 3.0)}


def _points(op, params):
    """Points away from kinks (and from softplus's threshold) over the interesting range."""
    x = np.concatenate([np.linspace(-12, 12, 97), [-0.3, 0.2, 1e-3, -1e-3, 2.9, -2.9]])
    for kink in KINKS.get(op.name, ()):
        x = x[np.abs(x - kink) > 1e-3]
    if op.name == "softplus":
        x = x[np.abs(params.get("beta", 1.0) * x - params.get("threshold", 20.0)) > 1e-3]
    return x


def _loss_and_gradient(op, params, x, g, backend):
    """L(x) = sum(g * f(x)) and the backward's dL/dx."""
    forward = getattr(fastact, op.name)
    y = forward(x, **params, backend=backend)
    saved = {"x": x, "y": y}
    grad = getattr(fastact, op.backward_name)(g, *[saved[s] for s in op.saved], **params,
                                              backend=backend)
    return (lambda z: np.sum(g * forward(z, **params, backend=backend))), grad


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op,params", [(op, p) for op in OPS if op.kind in ("elementwise", "prelu")
                                       for p in op.test_params],
                         ids=lambda v: v.name if hasattr(v, "name") else str(v))
def test_elementwise_backward_is_the_derivative(backend, op, params):
    x = _points(op, params)
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    forward = getattr(fastact, op.name)
    params = dict(params)
    if op.kind == "prelu":
        params["weight"] = 0.3 if np.size(params["weight"]) > 1 else params["weight"]
    numeric = (forward(x + h, **params, backend=backend)
               - forward(x - h, **params, backend=backend)) / (2 * h)
    y = forward(x, **params, backend=backend)
    saved = {"x": x, "y": y}
    analytic = getattr(fastact, op.backward_name)(np.ones_like(x), *[saved[s] for s in op.saved],
                                                  **params, backend=backend)
    if op.kind == "prelu":
        analytic = analytic[0]
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", [op for op in OPS if op.kind in ("rows", "reduce", "maxout")],
                         ids=lambda op: op.name)
@pytest.mark.parametrize("axis", [-1, 0])
def test_row_backward_is_the_directional_derivative(backend, op, axis):
    rng = np.random.default_rng(5)
    x = rng.normal(0, 2, (8, 8))
    params = dict(op.test_params[-1], axis=axis)
    y = getattr(fastact, op.name)(x, **params, backend=backend)
    g = rng.normal(size=np.shape(y))
    loss, grad = _loss_and_gradient(op, params, x, g, backend)
    for _ in range(4):
        v = rng.normal(size=x.shape)
        h = 1e-6
        numeric = (loss(x + h * v) - loss(x - h * v)) / (2 * h)
        assert np.sum(grad * v) == pytest.approx(numeric, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_prelu_grad_weight_is_the_derivative(backend):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 3, 4))
    g = rng.normal(size=x.shape)
    w = np.array([0.1, -0.2, 0.3])
    _, grad_w = fastact.prelu_backward(g, x, w, backend=backend)
    for c in range(3):
        e = np.zeros(3)
        e[c] = 1e-6
        numeric = (np.sum(g * fastact.prelu(x, w + e)) - np.sum(g * fastact.prelu(x, w - e))) / 2e-6
        assert grad_w[c] == pytest.approx(numeric, rel=1e-8)
    _, grad_scalar = fastact.prelu_backward(g, x, np.array([0.25]), backend=backend)
    assert grad_scalar.shape == (1,)
    assert grad_scalar[0] == pytest.approx(np.sum(np.where(x > 0, 0, x * g)), rel=1e-12)


KINK_TABLE = [
    ("relu", {}, 0.0, 0.0),
    ("leaky_relu", {}, 0.0, 0.01),
    ("leaky_relu", {"negative_slope": 0.2}, 0.0, 0.2),
    ("prelu", {"weight": 0.25}, 0.0, 0.25),
    ("elu", {}, 0.0, 1.0),
    ("elu", {"alpha": 0.5}, 0.0, 0.5),
    ("selu", {}, 0.0, SELU_SCALE * SELU_ALPHA),
    ("celu", {"alpha": 2.0}, 0.0, 1.0),
    ("gelu", {}, 0.0, 0.5),
    ("gelu", {"approximate": "tanh"}, 0.0, 0.5),
    ("hardsigmoid", {}, -3.0, 0.0),
    ("hardsigmoid", {}, 3.0, 0.0),
    ("hardswish", {}, -3.0, 0.0),
    ("hardswish", {}, 3.0, 1.0),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,params,x,expected", KINK_TABLE,
                         ids=[f"{k[0]}{k[1]}@{k[2]}" for k in KINK_TABLE])
def test_derivative_at_the_kink(backend, dtype, name, params, x, expected):
    x = np.array([x, x], dtype=dtype)
    result = getattr(fastact, name + "_backward")(np.ones_like(x), x, **params, backend=backend)
    if name == "prelu":
        result = result[0]
    np.testing.assert_allclose(result, dtype(expected), rtol=2 * np.finfo(dtype).eps)
