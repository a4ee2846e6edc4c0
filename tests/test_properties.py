"""Property tests (hypothesis) of the row ops and of identities between ops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import fastact

BACKENDS = fastact.backends()
finite = st.floats(-300, 300, allow_nan=False, width=64)
matrices = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 9)), elements=finite)
property_settings = settings(max_examples=60, deadline=None)


@pytest.mark.parametrize("backend", BACKENDS)
@property_settings
@given(x=matrices, axis=st.sampled_from([0, 1, -1]))
def test_softmax_rows_sum_to_one_and_are_shift_invariant(backend, x, axis):
    y = fastact.softmax(x, axis=axis, backend=backend)
    assert np.all(y >= 0)
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-13)
    shifted = fastact.softmax(x + 17.0, axis=axis, backend=backend)
    np.testing.assert_allclose(shifted, y, rtol=1e-11, atol=1e-300)


@pytest.mark.parametrize("backend", BACKENDS)
@property_settings
@given(x=matrices)
def test_log_softmax_is_log_of_softmax_where_finite(backend, x):
    log_y = fastact.log_softmax(x, backend=backend)
    y = fastact.softmax(x, backend=backend)
    normal = y > np.finfo(np.float64).tiny  # log of an underflowed softmax is not comparable
    np.testing.assert_allclose(log_y[normal], np.log(y[normal]), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
@property_settings
@given(x=matrices, c=st.floats(-100, 100))
def test_logsumexp_shift(backend, x, c):
    lse = fastact.logsumexp(x, backend=backend)
    np.testing.assert_allclose(fastact.logsumexp(x + c, backend=backend), lse + c,
                               rtol=1e-12, atol=1e-12)
    assert np.all(lse >= x.max(axis=-1))


@pytest.mark.parametrize("backend", BACKENDS)
@property_settings
@given(x=arrays(np.float64, st.integers(0, 20),
                elements=st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_relu_is_leaky_relu_with_zero_slope(backend, x):
    np.testing.assert_array_equal(fastact.relu(x, backend=backend),
                                  fastact.leaky_relu(x, 0.0, backend=backend))
    g = np.ones_like(x)
    np.testing.assert_array_equal(fastact.relu_backward(g, x, backend=backend),
                                  fastact.leaky_relu_backward(g, x, 0.0, backend=backend))


@pytest.mark.parametrize("backend", BACKENDS)
@property_settings
@given(x=arrays(np.float64, st.tuples(st.integers(1, 4), st.sampled_from([2, 4, 6, 12])),
                elements=st.floats(allow_nan=False, width=64)),
       pieces=st.sampled_from([1, 2]))
def test_maxout_is_reshape_and_max(backend, x, pieces):
    expected = x.reshape(x.shape[0], -1, pieces).max(axis=-1)
    np.testing.assert_array_equal(fastact.maxout(x, pieces, backend=backend), expected)
    grad = fastact.maxout_backward(np.ones_like(expected), x, pieces, backend=backend)
    # each group's gradient is one-hot at its first maximum
    groups = grad.reshape(x.shape[0], -1, pieces)
    np.testing.assert_array_equal(groups.sum(axis=-1), 1.0)
    np.testing.assert_array_equal(groups.argmax(axis=-1),
                                  x.reshape(x.shape[0], -1, pieces).argmax(axis=-1))
