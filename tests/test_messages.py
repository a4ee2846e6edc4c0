"""Messages and exit statuses a new user meets first (issue 17)."""

from __future__ import annotations

import numpy as np
import pytest

import fastact
from fastact import accuracy, cli


@pytest.mark.parametrize("call, message", [
    (lambda x: fastact.softmax(x, axis=5), "softmax: axis 5 is out of bounds for array of dimension 2"),
    (lambda x: fastact.log_softmax(x, axis=-3),
     "log_softmax: axis -3 is out of bounds for array of dimension 2"),
    (lambda x: fastact.softmax_backward(x, x, axis=2),
     "softmax_backward: axis 2 is out of bounds for array of dimension 2"),
])
def test_an_axis_out_of_range_is_numpys_axis_error_said_once(call, message):
    with pytest.raises(np.exceptions.AxisError) as error:
        call(np.zeros((2, 3)))
    assert str(error.value) == message


def test_a_valid_negative_axis_is_normalised():
    x = np.random.default_rng(0).normal(size=(2, 3))
    np.testing.assert_allclose(fastact.softmax(x, axis=-2), fastact.softmax(x, axis=0))


def _row(forward, backward, nonfinite=0):
    side = {"worst_input": 1.0, "nonfinite_mismatches": 0}
    return {"op": "gelu", "dtype": "float32", "backend": "cython",
            "forward": {**side, "max_ulps": forward, "nonfinite_mismatches": nonfinite},
            "backward": {**side, "max_ulps": backward}}


@pytest.mark.parametrize("row, holds", [
    (_row(2.0, 6.4), True),           # backward above the forward bound, within its own 8
    (_row(4.0, 8.0), True),
    (_row(4.5, 1.0), False),
    (_row(1.0, 8.5), False),
    (_row(1.0, 1.0, nonfinite=3), False),
])
def test_accuracy_exits_0_exactly_when_every_row_holds(monkeypatch, capsys, row, holds):
    monkeypatch.setattr(accuracy, "report", lambda *args, **kwargs: [row])
    status = cli.main(["accuracy", "--ops", "gelu", "--dtype", "float32"])
    table = capsys.readouterr().out
    assert status == (0 if holds else 1)
    assert (table.rstrip().endswith("| hold |")) == holds, table


def test_an_exhaustive_run_within_the_forward_bound_exits_0():
    assert accuracy.failures({"max_ulps": 3.9, "nonfinite_mismatches": 0}) == []
    assert accuracy.failures({"max_ulps": 4.1, "nonfinite_mismatches": 0}) == \
        ["forward 4.10 > 4 ulp"]
