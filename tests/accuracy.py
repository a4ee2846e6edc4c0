"""The mixed-bound measure, shared with ``fastact accuracy`` (fastact/accuracy.py), so
the tests and the command cannot disagree."""

import numpy as np

from fastact.accuracy import (FAST_MAX_ULPS, FAST_MAX_ULPS_BACKWARD, backward_errors,  # noqa: F401
                              forward_errors, mixed_ulps, perturbation_slack,
                              row_backward_slack, row_slack, saved_arrays)


def along_last(op, params, arrays):
    """``params`` with axis -1 and ``arrays`` with the op's axis moved last, for a row op
    called along any axis (the measures above take rows along the last axis).  Arrays of
    fewer dimensions than the input (a reduction's result) are left as they are."""
    if op.kind not in ("rows", "reduce", "maxout") or params.get("axis", -1) == -1:
        return params, arrays
    ndim = max(np.ndim(a) for a in arrays)
    moved = [np.moveaxis(a, params["axis"], -1) if np.ndim(a) == ndim else a for a in arrays]
    return {**params, "axis": -1}, moved


def check_errors(got, errors, exact, bound, what):
    """``got`` has the shape of ``exact`` and each error is within ``bound`` ulps."""
    assert np.shape(got) == np.shape(exact), f"{what}: shape {np.shape(got)} != {np.shape(exact)}"
    if errors.size:
        worst = np.unravel_index(np.argmax(errors), errors.shape)
        assert errors[worst] <= bound, (
            f"{what}: {errors[worst]:.2f} ulp at index {worst}: got {np.asarray(got)[worst]!r}, "
            f"exact {np.asarray(exact)[worst]!r}")


def check_forward(op, params, x, got, what):
    """``got`` = op(x, **params), along any axis, is within FAST_MAX_ULPS of the reference."""
    params, (x, got) = along_last(op, params, [x, got])
    errors, exact = forward_errors(op, params, x, got)
    check_errors(got, errors, exact, FAST_MAX_ULPS, what)


def check_backward(op, params, g, saved, got, what):
    """``got`` = op's backward of (g, *saved), along any axis, is within
    FAST_MAX_ULPS_BACKWARD of the reference; prelu's grad_weight within a sum's bound."""
    from fastact import reference

    if op.kind == "prelu":
        got, got_weight = got
        x64 = saved[0].astype(np.float64)
        exact_weight = reference.prelu_backward(g.astype(np.float64), x64, **params)[1]
        eps = np.finfo(g.dtype).eps
        tolerance = FAST_MAX_ULPS * eps * (np.abs(exact_weight) + x64.size * np.sum(np.abs(x64 * g)))
        assert np.shape(got_weight) == np.shape(params["weight"]), what
        assert np.all(np.abs(np.asarray(got_weight, np.float64) - exact_weight) <= tolerance), what
    params, (g, *saved, got) = along_last(op, params, [g, *saved, got])
    errors, exact = backward_errors(op, params, g, saved, got)
    check_errors(got, errors, exact, FAST_MAX_ULPS_BACKWARD, what)
