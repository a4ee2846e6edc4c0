"""Softmax cross-entropy, fused and stable, and its backward.

loss_i = -log_softmax(logits)_i[label_i], reduced by ``reduction``; the
gradient with respect to the logits is (softmax - one_hot(labels)) scaled by
grad_output (and by 1/N for 'mean').  Matches torch.nn.functional.cross_entropy
for logits of shape (N, C) (fastact takes the class axis as ``axis``, default -1,
where PyTorch always uses dimension 1).
"""

from __future__ import annotations

import numpy as np

import fastact

_REDUCTIONS = ("mean", "sum", "none")


def _check(fname, logits, labels, axis, reduction):
    logits = np.asarray(logits)
    if logits.dtype.kind != "f":
        raise TypeError(f"{fname}: logits must be a float array, got dtype {logits.dtype}")
    if logits.ndim == 0:
        raise ValueError(f"{fname}: logits must have a class axis, got a 0-d array")
    axis = np.lib.array_utils.normalize_axis_index(axis, logits.ndim, msg_prefix=f"{fname}: axis")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{fname}: labels must be integer class indices, got dtype {labels.dtype}")
    expected = logits.shape[:axis] + logits.shape[axis + 1:]
    if labels.shape != expected:
        raise ValueError(f"{fname}: labels have shape {labels.shape} but logits of shape "
                         f"{logits.shape} with classes along axis {axis} need {expected}")
    classes = logits.shape[axis]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        bad = labels[(labels < 0) | (labels >= classes)].flat[0]
        raise ValueError(f"{fname}: label {bad} is out of range for {classes} classes "
                         f"(allowed: 0 to {classes - 1})")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fname}: reduction must be one of 'mean', 'sum', 'none', "
                         f"got {reduction!r}")
    return logits, labels, axis


def _pick(values, labels, axis):
    """values[..., label, ...] along axis."""
    return np.squeeze(np.take_along_axis(values, np.expand_dims(labels, axis), axis=axis), axis)


def softmax_cross_entropy(logits, labels, axis=-1, reduction="mean", *, backend=None):
    """Cross-entropy of softmax(logits) against integer ``labels``.

    Parameters
    ----------
        logits: Float array with the classes along ``axis``.
        labels: Integer class indices, shaped like logits without ``axis``.
        axis: The class axis. Default -1.
        reduction: 'mean' (over all labels), 'sum' or 'none' (one loss per label).
        backend: Passed to fastact.log_softmax.

    Returns
    -------
        The loss: a scalar for 'mean' and 'sum', an array shaped like labels for 'none'.
    """
    logits, labels, axis = _check("softmax_cross_entropy", logits, labels, axis, reduction)
    losses = -_pick(fastact.log_softmax(logits, axis=axis, backend=backend), labels, axis)
    if reduction == "none":
        return losses
    total = losses.sum(dtype=logits.dtype)
    return total / max(labels.size, 1) if reduction == "mean" else total


def softmax_cross_entropy_backward(grad_output, logits, labels, axis=-1, reduction="mean", *,
                                   backend=None):
    """Gradient of softmax_cross_entropy with respect to the logits.

    (softmax(logits) - one_hot(labels)) * grad_output, divided by the number of
    labels for 'mean'; grad_output is a scalar for 'mean'/'sum' and shaped like
    labels for 'none'.  Takes the same logits and labels as the forward.
    """
    fname = "softmax_cross_entropy_backward"
    logits, labels, axis = _check(fname, logits, labels, axis, reduction)
    grad_output = np.asarray(grad_output, dtype=logits.dtype)
    if reduction == "none":
        if grad_output.shape != labels.shape:
            raise ValueError(f"{fname}: with reduction='none' grad_output needs the labels' shape "
                             f"{labels.shape}, got {grad_output.shape}")
        scale = np.expand_dims(grad_output, axis)
    else:
        if grad_output.ndim:
            raise ValueError(f"{fname}: with reduction={reduction!r} grad_output is a scalar, "
                             f"got shape {grad_output.shape}")
        scale = grad_output / max(labels.size, 1) if reduction == "mean" else grad_output
    grad = fastact.softmax(logits, axis=axis, backend=backend)
    index = np.expand_dims(labels, axis)
    np.put_along_axis(grad, index, np.take_along_axis(grad, index, axis=axis) - 1, axis=axis)
    grad *= scale
    return grad
