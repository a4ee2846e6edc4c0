"""Every float32 forward elementwise op, every backend, on a strided subset of all 2^32
float32 inputs (every 4093rd bit pattern: 1,049,345 inputs over every exponent, both
signs, subnormals, ±inf and NaN), against the float64 reference: the check
``fastact accuracy --exhaustive`` makes on all of them, at 1/4093 of its cost."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import fastact
from fastact import accuracy
from fastact.catalogue import OPS

STRIDE = 4093  # prime: the subset does not line up with exponent or mantissa boundaries
CASES = [(op, params) for op, params in accuracy._cases(
    [op for op in OPS if op.kind in ("elementwise", "prelu")], defaults_only=True)]


@functools.cache
def _inputs():
    return np.arange(0, 1 << 32, STRIDE, dtype=np.uint64).astype(np.uint32).view(np.float32)


@functools.cache
def _reference(index):
    op, params = CASES[index]
    return accuracy.reference_and_slack(op, params, _inputs())


def test_the_subset_spans_every_exponent_and_the_specials():
    x = _inputs()
    assert x.size >= 1 << 20
    exponents = np.unique((x.view(np.uint32) >> 23) & 0xFF)
    assert exponents.size == 256  # every exponent field, subnormals and inf/NaN included
    assert np.isnan(x).any() and (x < 0).any() and (x > 0).any()


@pytest.mark.parametrize("backend", fastact.backends())
@pytest.mark.parametrize("index", range(len(CASES)), ids=[accuracy._label(*c) for c in CASES])
def test_strided_float32_sweep_within_the_bound(backend, index):
    op, params = CASES[index]
    summary = accuracy.check_inputs(op, params, backend, _inputs(), _reference(index))
    x, ulps, got, exact = summary["worst"][0]
    assert summary["max_ulps"] <= accuracy.FAST_MAX_ULPS, (
        f"{backend}:{accuracy._label(op, params)}: {ulps:.2f} ulp at x={x!r} "
        f"(got {got!r}, exact {exact!r})")
    assert summary["nonfinite_mismatches"] == 0
