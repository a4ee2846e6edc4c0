"""Every backend against the float64 reference, on the whole input corpus.

Parametrised over ``fastact.backends()``, so a fast backend inherits all of it
the moment it is available.  Each case checks dtype and shape exactly and the
values within FAST_MAX_ULPS under the mixed bound.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastact
from accuracy import (FAST_MAX_ULPS, mixed_ulps, perturbation_slack, row_backward_slack,
                      row_slack)
from corpus import DTYPES, call_params, layouts, values
from fastact import reference
from fastact.catalogue import OPS

BACKENDS = fastact.backends()


def _cases():
    for op in OPS:
        for dtype in DTYPES:
            for layout, x in layouts(dtype):
                for params in call_params(op, x):
                    yield pytest.param(op, params, layout, x,
                                       id=f"{op.name}-{np.dtype(dtype).name}-{layout}-{params}")


CASES = list(_cases())


def _saved_arrays(op, x, params, dtype):
    """The arrays the backward takes, in ``dtype``, y made by the reference."""
    y = np.asarray(getattr(reference, op.name)(x, **params)).astype(dtype)
    return [{"x": x, "y": y}[name] for name in op.saved], y


def _check(got, exact, slack, dtype, what):
    assert np.asarray(got).dtype == np.dtype(dtype), f"{what}: dtype {np.asarray(got).dtype}"
    assert np.shape(got) == np.shape(exact), f"{what}: shape {np.shape(got)} != {np.shape(exact)}"
    errors = mixed_ulps(got, exact, slack, dtype)
    if errors.size:
        worst = np.unravel_index(np.argmax(errors), errors.shape)
        assert errors[worst] <= FAST_MAX_ULPS, (
            f"{what}: {errors[worst]:.2f} ulp at index {worst}: got {np.asarray(got)[worst]!r}, "
            f"exact {np.asarray(exact)[worst]!r}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op,params,layout,x", CASES)
def test_forward_matches_reference(backend, op, params, layout, x):
    dtype = x.dtype.newbyteorder("=")
    x_before = x.copy()
    got = getattr(fastact, op.name)(x, **params, backend=backend)
    np.testing.assert_array_equal(x, x_before)  # inputs are never modified
    x64 = x.astype(np.float64)
    fn = lambda a: getattr(reference, op.name)(a, **params)  # noqa: E731
    exact = fn(x64)
    if op.kind in ("elementwise", "prelu"):
        slack = perturbation_slack(fn, x64, dtype)
    elif op.kind == "maxout":
        slack = 0.0
    else:
        slack = row_slack(x64, -1, dtype, keepdims=op.kind != "reduce" or params.get("keepdims", False))
    _check(got, exact, slack, dtype, f"{backend}:{op.name}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op,params,layout,x", CASES)
def test_backward_matches_reference(backend, op, params, layout, x):
    dtype = x.dtype.newbyteorder("=")
    saved, y = _saved_arrays(op, x, params, dtype)
    g = values(y.size, dtype, seed=7).reshape(y.shape)
    got = getattr(fastact, op.backward_name)(g, *saved, **params, backend=backend)
    g64 = g.astype(np.float64)
    saved64 = [a.astype(np.float64) for a in saved]
    ref_backward = getattr(reference, op.backward_name)
    exact = ref_backward(g64, *saved64, **params)
    what = f"{backend}:{op.backward_name}"
    if op.kind == "prelu":
        got, got_weight = got
        exact, exact_weight = exact
        n = x.size
        eps = np.finfo(dtype).eps
        tolerance = FAST_MAX_ULPS * eps * (np.abs(exact_weight) + n * np.sum(np.abs(x * g)))
        assert np.all(np.abs(np.asarray(got_weight, np.float64) - exact_weight) <= tolerance), what
        assert np.shape(got_weight) == np.shape(params["weight"]), what
    if op.kind in ("elementwise", "prelu"):
        slack = perturbation_slack(lambda a: ref_backward(g64, a, *saved64[1:], **params)
                                   if op.kind != "prelu" else ref_backward(g64, a, **params)[0],
                                   saved64[0], dtype)
    elif op.kind == "maxout":
        slack = 0.0
    else:
        arrays64 = [g64] + saved64
        if op.kind == "reduce" and params.get("keepdims"):
            arrays64 = [g64[..., 0], saved64[0], saved64[1][..., 0]]
        slack = row_backward_slack(op.name, arrays64, dtype)
    _check(got, exact, slack, dtype, what)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", [op for op in OPS if op.kind in ("rows", "reduce", "maxout")],
                         ids=lambda op: op.name)
@pytest.mark.parametrize("axis", [0, 1, -2])
def test_row_ops_along_any_axis(backend, op, axis):
    x = values(4 * 6 * 4, np.float64, seed=3).reshape(4, 6, 4)
    params = dict(op.test_params[0], axis=axis)
    got = getattr(fastact, op.name)(x, **params, backend=backend)
    moved = getattr(reference, op.name)(np.moveaxis(x, axis, -1), **{**params, "axis": -1})
    expected = np.moveaxis(moved, -1, axis) if np.ndim(moved) == x.ndim else moved
    if op.kind == "reduce" and params.get("keepdims"):
        expected = np.expand_dims(np.squeeze(moved, -1), axis)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-300)
