"""fastact.softmax_cross_entropy and its backward: values, stability, gradient, errors."""

from __future__ import annotations

import numpy as np
import pytest

import fastact
from fastact import softmax_cross_entropy, softmax_cross_entropy_backward

REDUCTIONS = ("mean", "sum", "none")


def _data(shape=(6, 5), dtype=np.float64, seed=0, axis=-1):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=shape).astype(dtype)
    label_shape = tuple(np.delete(np.array(shape), axis))
    labels = rng.integers(0, shape[axis], size=label_shape)
    return logits, labels


def _naive(logits, labels, axis, reduction):
    """-log(exp(z_label) / sum exp(z)) in float64, with the max shift."""
    z = np.moveaxis(np.asarray(logits, dtype=np.float64), axis, -1)
    z = z - z.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    losses = -np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
    return {"none": losses, "sum": losses.sum(), "mean": losses.mean()}[reduction]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_loss_matches_the_definition(reduction, axis):
    logits, labels = _data((4, 5, 3), axis=axis)
    got = softmax_cross_entropy(logits, labels, axis=axis, reduction=reduction)
    np.testing.assert_allclose(got, _naive(logits, labels, axis, reduction), rtol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_stays_float32(reduction):
    logits, labels = _data(dtype=np.float32)
    loss = softmax_cross_entropy(logits, labels, reduction=reduction)
    grad = softmax_cross_entropy_backward(np.ones_like(loss), logits, labels, reduction=reduction)
    assert np.asarray(loss).dtype == np.float32 and grad.dtype == np.float32
    np.testing.assert_allclose(loss, _naive(logits, labels, -1, reduction), rtol=2e-6)


def test_huge_logits_are_stable():
    logits = np.array([[1e4, 0.0, -1e4], [-1e30, 1e30, 0.0]])
    loss = softmax_cross_entropy(logits, np.array([1, 1]), reduction="none")
    np.testing.assert_allclose(loss, [1e4, 0.0])
    grad = softmax_cross_entropy_backward(np.ones(2), logits, np.array([1, 1]), reduction="none")
    np.testing.assert_allclose(grad, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("axis", [-1, 0])
def test_gradient_matches_central_differences(reduction, axis):
    logits, labels = _data((4, 3), axis=axis, seed=1)
    rng = np.random.default_rng(2)
    grad_output = rng.normal(size=labels.shape) if reduction == "none" else np.float64(0.7)
    grad = softmax_cross_entropy_backward(grad_output, logits, labels, axis=axis,
                                          reduction=reduction)

    def scalar(z):
        return np.sum(grad_output * softmax_cross_entropy(z, labels, axis=axis,
                                                          reduction=reduction))

    h = 1e-6
    numeric = np.zeros_like(logits)
    for i in np.ndindex(logits.shape):
        step = np.zeros_like(logits)
        step[i] = h
        numeric[i] = (scalar(logits + step) - scalar(logits - step)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-9)


def test_backward_leaves_its_inputs_alone():
    logits, labels = _data()
    before = logits.copy(), labels.copy()
    softmax_cross_entropy_backward(1.0, logits, labels)
    np.testing.assert_array_equal(logits, before[0])
    np.testing.assert_array_equal(labels, before[1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_torch_cross_entropy(reduction):
    torch = pytest.importorskip("torch")
    logits, labels = _data((7, 6), seed=3)
    t = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(t, torch.tensor(labels), reduction=reduction)
    grad_output = np.random.default_rng(4).normal(size=expected.shape)
    expected.backward(torch.tensor(grad_output))
    np.testing.assert_allclose(softmax_cross_entropy(logits, labels, reduction=reduction),
                               expected.detach().numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(
        softmax_cross_entropy_backward(grad_output, logits, labels, reduction=reduction),
        t.grad.numpy(), rtol=1e-13, atol=1e-16)


def test_empty_batch():
    logits = np.zeros((0, 4))
    labels = np.zeros(0, dtype=np.int64)
    assert softmax_cross_entropy(logits, labels, reduction="sum") == 0
    assert softmax_cross_entropy(logits, labels, reduction="none").shape == (0,)
    assert softmax_cross_entropy_backward(1.0, logits, labels).shape == (0, 4)


@pytest.mark.parametrize("function", [softmax_cross_entropy, softmax_cross_entropy_backward])
@pytest.mark.parametrize("logits, labels, error, match", [
    (np.zeros((2, 3)), np.array([0, 3]), ValueError, "label 3 is out of range for 3 classes"),
    (np.zeros((2, 3)), np.array([-1, 0]), ValueError, "label -1 is out of range"),
    (np.zeros((2, 3)), np.array([0.0, 1.0]), TypeError, "integer class indices"),
    (np.zeros((2, 3)), np.array([0, 1, 2]), ValueError, r"labels have shape \(3,\)"),
    (np.zeros((2, 3), dtype=np.int64), np.array([0, 1]), TypeError, "must be a float array"),
    (np.float64(1.0), np.array(0), ValueError, "0-d"),
])
def test_bad_input_is_refused(function, logits, labels, error, match):
    args = (logits, labels) if function is softmax_cross_entropy else (1.0, logits, labels)
    with pytest.raises(error, match=match):
        function(*args)


def test_bad_reduction_and_grad_shape_are_refused():
    logits, labels = _data()
    with pytest.raises(ValueError, match="reduction must be one of"):
        softmax_cross_entropy(logits, labels, reduction="avg")
    with pytest.raises(ValueError, match="grad_output is a scalar"):
        softmax_cross_entropy_backward(np.ones(6), logits, labels)
    with pytest.raises(ValueError, match="needs the labels' shape"):
        softmax_cross_entropy_backward(1.0, logits, labels, reduction="none")


def test_exported_at_top_level():
    assert fastact.softmax_cross_entropy is softmax_cross_entropy
    assert "softmax_cross_entropy_backward" in fastact.__all__
