"""The hand-written AVX-512 loops (the op table's Op.vector_loops, vector_loops.h): each
lane's value depends on that lane's input alone, whatever the length, offset, layout,
thread count or neighbours (a block's lanes are split between two formulas); the lanes
the general kernel computes are its bits; and the fast formula holds the accuracy bound
at its pieces' edges.  Skipped where the variant in use has no such loops."""

from __future__ import annotations

import numpy as np
import pytest

import fastact
from fastact import accuracy
from fastact._gelu_pieces import ALPHA, BETA, T_CLAMP
from fastact.catalogue import OPS, OPS_BY_NAME


def _vector_loops_on():
    if "cython" not in fastact.backends():
        return False
    from fastact._cython import backend

    return backend.kernels().VECTOR_LOOPS


pytestmark = pytest.mark.skipif(not _vector_loops_on(),
                                reason="the Cython variant in use has no hand-written vector loops")
VECTOR_LOOPS = [name for op in OPS for name in op.vector_loops]


def _ufunc(name):
    from fastact._cython import backend

    return backend.ufuncs()[name]


def _mixed_inputs(n, seed=3):
    """Normal values (standard deviation 3) with every fourth lane pushed into the tail
    (below -7.25), and the edges and specials, shuffled: most vectors hold lanes of both
    formulas."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 3
    x[::4] = rng.uniform(-20, -T_CLAMP, x[::4].size)
    below = np.nextafter(np.float32(-T_CLAMP), np.float32(-np.inf))
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, -T_CLAMP, below, T_CLAMP, 7.3, 8.0,
                1e-40, -1e-40, 3e38, -3e38, 14.5, -14.5, 5.5, 6.0]
    x[:len(specials)] = specials
    return rng.permutation(x).astype(np.float32)


def _bits(a):
    return np.where(np.isnan(a), np.float32(np.nan), a).view(np.uint32)


def test_the_vector_loop_ops_are_in_the_op_table():
    assert VECTOR_LOOPS == ["gelu"]
    assert all(name in OPS_BY_NAME[name].ufuncs for name in VECTOR_LOOPS)


@pytest.mark.parametrize("name", VECTOR_LOOPS)
def test_each_lane_depends_on_its_input_alone(name):
    f = _ufunc(name)
    x = _mixed_inputs(5000)
    y = f(x)
    for n in (1, 2, 15, 16, 17, 31, 33, 511, 512, 513, 1023, 1025, 2000):
        for offset in (0, 1, 5, 16):
            got = f(x[offset:offset + n])
            assert np.array_equal(_bits(got), _bits(y[offset:offset + n])), (n, offset)
    order = np.random.default_rng(0).permutation(x.size)
    assert np.array_equal(_bits(f(x[order])), _bits(y[order]))
    assert np.array_equal(_bits(f(x[::-1])), _bits(y[::-1]))  # a strided view
    assert np.array_equal(_bits(f(x[::3])), _bits(y[::3]))
    inplace = x.copy()
    f(inplace, out=inplace)
    assert np.array_equal(_bits(inplace), _bits(y))


@pytest.mark.parametrize("name", VECTOR_LOOPS)
def test_threads_give_the_serial_bits(name):
    f = _ufunc(name)
    x = np.tile(_mixed_inputs(4099), 64)  # above the threads' threshold
    with fastact.num_threads(1):
        serial = f(x)
    with fastact.num_threads(2):
        parallel = f(x)
    assert np.array_equal(_bits(serial), _bits(parallel))


@pytest.mark.skipif("numba" not in fastact.backends(), reason="needs the Numba backend")
def test_gelu_lanes_in_the_tail_are_the_general_kernels_bits_and_the_rest_within_bounds():
    """Below -7.25 (and -inf) the lanes are the general kernel's, which the Numba backend
    computes too; elsewhere the two formulas differ by rounding only."""
    x = _mixed_inputs(200_000)
    got = fastact.gelu(x, backend="cython")
    general = fastact.gelu(x, backend="numba")
    tail = x < np.float32(-T_CLAMP)
    assert tail.sum() > 40_000
    assert np.array_equal(_bits(got[tail]), _bits(general[tail]))
    finite = np.isfinite(general) & ~tail
    ulps = np.abs(got[finite].astype(np.float64) - general[finite]) / np.spacing(
        np.abs(general[finite]))
    assert ulps.max() <= 8  # each is within 4 ulp (mixed bound) of the exact value
    assert np.array_equal(np.isnan(got), np.isnan(general))


def test_gelu_holds_the_bound_at_every_piece_edge():
    """The fast formula switches pieces where t (ALPHA + BETA t) = k + 1/2 and clamps at
    7.25: the 64 floats either side of each edge, both signs, within the bound."""
    op = OPS_BY_NAME["gelu"]
    switches = [(-ALPHA + np.sqrt(ALPHA ** 2 + 4 * BETA * (k + 0.5))) / (2 * BETA)
                for k in range(31)]
    edges = np.float32(switches + [T_CLAMP])
    bits = edges.view(np.int32)[:, None] + np.arange(-64, 65, dtype=np.int32)
    x = bits.ravel().view(np.float32)
    x = np.concatenate([x, -x])
    summary = accuracy.check_inputs(op, {}, "cython", x)
    assert summary["max_ulps"] <= accuracy.FAST_MAX_ULPS, summary["worst"][0]
    assert summary["nonfinite_mismatches"] == 0
