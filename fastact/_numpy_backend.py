"""Backend 'numpy': the reference functions in the dispatcher's kernel convention."""

from __future__ import annotations

import numpy as np

from fastact import reference


def available():
    return None


def kernel(op, direction, dtype):
    name = op.name if direction == "forward" else op.backward_name
    fn = getattr(reference, name)
    n_arrays = 1 if direction == "forward" else 1 + len(op.saved)
    if op.kind == "prelu":
        return _prelu_forward if direction == "forward" else _prelu_backward

    # Row kernels see the op's axis last; reduce outputs have it removed.
    if op.kind in ("rows", "maxout"):
        def run(*args):
            arrays, out, params = args[:n_arrays], args[n_arrays], args[n_arrays + 1:]
            np.copyto(out, fn(*arrays, *params, axis=-1))
    elif op.kind == "reduce":
        def run(*args):
            arrays, out = args[:n_arrays], args[n_arrays]
            np.copyto(out, fn(*arrays, axis=-1, keepdims=False))
    else:
        def run(*args):
            arrays, out, params = args[:n_arrays], args[n_arrays], args[n_arrays + 1:]
            np.copyto(out, fn(*arrays, *params))
    return run


def _prelu_forward(x, weight, out, axis):
    np.copyto(out, reference.prelu(x, weight, 0 if axis is None else axis))


def _prelu_backward(grad_output, x, weight, out, axis):
    grad_input, grad_weight = reference.prelu_backward(
        grad_output, x, weight, 0 if axis is None else axis)
    np.copyto(out, grad_input)
    return grad_weight
