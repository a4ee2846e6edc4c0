"""Every backend against the float64 reference, on the whole input corpus.

Parametrised over ``fastact.backends()``, so a fast backend inherits all of it
the moment it is available.  Each case checks dtype and shape exactly and the
values within FAST_MAX_ULPS (backward: FAST_MAX_ULPS_BACKWARD) under the mixed bound.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastact
from accuracy import check_backward, check_forward, saved_arrays
from corpus import DTYPES, call_params, layouts, values
from fastact import reference
from fastact.catalogue import OPS, OPS_BY_NAME

BACKENDS = fastact.backends()


def _cases():
    for op in OPS:
        for dtype in DTYPES:
            for layout, x in layouts(dtype):
                for params in call_params(op, x):
                    yield pytest.param(op, params, layout, x,
                                       id=f"{op.name}-{np.dtype(dtype).name}-{layout}-{params}")


CASES = list(_cases())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op,params,layout,x", CASES)
def test_forward_matches_reference(backend, op, params, layout, x):
    dtype = x.dtype.newbyteorder("=")
    x_before = x.copy()
    got = getattr(fastact, op.name)(x, **params, backend=backend)
    np.testing.assert_array_equal(x, x_before)  # inputs are never modified
    assert np.asarray(got).dtype == dtype
    check_forward(op, params, x, got, f"{backend}:{op.name}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op,params,layout,x", CASES)
def test_backward_matches_reference(backend, op, params, layout, x):
    dtype = x.dtype.newbyteorder("=")
    saved = saved_arrays(op, x, params, dtype)
    y = np.asarray(getattr(reference, op.name)(x, **params))
    g = values(y.size, dtype, seed=7).reshape(y.shape)
    got = getattr(fastact, op.backward_name)(g, *saved, **params, backend=backend)
    assert np.asarray(got[0] if op.kind == "prelu" else got).dtype == dtype
    check_backward(op, params, g, saved, got, f"{backend}:{op.backward_name}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op,params,layout,x", CASES)
def test_out_gives_the_result_without_out_on_every_layout(backend, op, params, layout, x):
    """out= (a new C-contiguous array of the result's shape and native dtype) is filled with
    the very bits of the result without it and returned, forward and backward, whatever
    the input's layout: 0-d, empty, strided, reversed, broadcast, unaligned, byte-swapped
    or read-only inputs, which the direct loop call declines or takes as they are."""
    dtype = x.dtype.newbyteorder("=")
    x_before = x.copy()
    saved = saved_arrays(op, x, params, dtype)
    y = np.asarray(getattr(reference, op.name)(x, **params))
    g = values(y.size, dtype, seed=7).reshape(y.shape)
    calls = [(getattr(fastact, op.name), (x,))]
    if op.kind != "prelu":  # prelu_backward returns two arrays; its out= is tested in test_api
        calls.append((getattr(fastact, op.backward_name), (g, *saved)))
    for fn, args in calls:
        want = np.asarray(fn(*args, **params, backend=backend))
        out = np.full(want.shape, np.nan, want.dtype)
        assert fn(*args, **params, out=out, backend=backend) is out, fn.__name__
        np.testing.assert_array_equal(out.view(f"u{out.itemsize}"), want.view(f"u{want.itemsize}"),
                                      err_msg=f"{backend}:{fn.__name__} {layout}")
    np.testing.assert_array_equal(x, x_before)  # the input is never written


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


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_row_backwards_of_saved_arrays_no_forward_made(backend, dtype):
    """log_softmax's backward given some y > 0, logsumexp's given y below a row's max.  Their
    kernels run an exp for arguments <= 0 (all a forward's y can give), and rows outside
    that must still take the full exp (rows.h explains); the other rows stay on theirs."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((6, 300)) * 4).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    # where the exp for arguments <= 0 gives garbage: its 2^n wraps (x > 96 in float32)
    large = dtype(95) if dtype == np.float32 else dtype(700)
    y = np.asarray(reference.log_softmax(x)).astype(dtype)
    y[1, 7] = 0.75   # one entry above 0
    y[1, 8] = large
    y[3] += 2        # a whole row shifted up
    got = fastact.log_softmax_backward(g, y, backend=backend)
    check_backward(OPS_BY_NAME["log_softmax"], {}, g, [y], got, f"{backend}:log_softmax_backward")

    lse = np.asarray(reference.logsumexp(x, axis=-1)).astype(dtype)
    lse[2] -= 3                       # below every large entry of its row
    lse[4] = x[4].max() - dtype(0.5)  # below the row's max only
    x[5, 9] = lse[5] + large          # one entry far above its row's (saved) logsumexp
    gl = rng.standard_normal(lse.shape).astype(dtype)
    got = fastact.logsumexp_backward(gl, x, lse, backend=backend)
    check_backward(OPS_BY_NAME["logsumexp"], {}, gl, [x, lse], got, f"{backend}:logsumexp_backward")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pieces", [1, 2, 3, 4, 5, 6, 7, 8, 9, 12])
def test_maxout_every_group_size_with_ties_and_non_finite(backend, dtype, pieces):
    """Each group size has its own loop (2 to 8 unrolled, the others general): the first
    maximum, ties, NaN anywhere in a group, infinities, and grad_output's NaN and sign
    (g*0), against the reference exactly."""
    rng = np.random.default_rng(pieces)
    # small integers: many ties within a group
    x = rng.integers(-3, 4, (5, 24 * pieces)).astype(dtype)
    special = np.array([np.nan, np.inf, -np.inf, -0.0], dtype)
    at = rng.random(x.shape) < 0.08
    x[at] = rng.choice(special, at.sum())
    g = rng.standard_normal((5, 24)).astype(dtype)
    g[0, :3] = [np.nan, -np.inf, -2.0]
    got = fastact.maxout(x, pieces, backend=backend)
    np.testing.assert_array_equal(got, reference.maxout(x, pieces).astype(dtype))
    got_b = fastact.maxout_backward(g, x, pieces, backend=backend)
    expected_b = reference.maxout_backward(g, x, pieces).astype(dtype)
    np.testing.assert_array_equal(got_b, expected_b)
    np.testing.assert_array_equal(np.signbit(got_b), np.signbit(expected_b))
