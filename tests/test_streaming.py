"""The Cython loops that stream large outputs (the op table's Op.streamed, stream.h):
streamed results are the plain loop's bits, for every built variant the CPU runs, at any
length, output alignment and thread count, in place too."""

from __future__ import annotations

import contextlib
import importlib

import numpy as np
import pytest

import fastact
from corpus import layouts
from fastact import _threads
from fastact.catalogue import OPS

pytestmark = pytest.mark.skipif("cython" not in fastact.backends(),
                                reason="the Cython extensions are not built")

STREAMED = [name for op in OPS for name in op.streamed]
DTYPES = (np.float32, np.float64)


def _variants():
    from fastact._cython import backend

    return backend.runnable_variants()


@pytest.fixture(params=_variants())
def kernels(request):
    module = importlib.import_module(f"fastact._cython.{request.param}")
    module.set_thread_source(_threads.get_num_threads)
    return module


@contextlib.contextmanager
def _stream_from(module, n_bytes):
    previous = module.set_stream_min_bytes(n_bytes)
    try:
        yield
    finally:
        module.set_stream_min_bytes(previous)


def _operands(name, n, dtype, seed=0):
    """The ufunc's arrays (values across every branch: both signs, kinks, +-inf, NaN)
    and its parameters."""
    rng = np.random.default_rng(seed)
    arrays = []
    for _ in range(2 if name.endswith("_backward") else 1):
        a = rng.normal(0.0, 4.0, n).astype(dtype)
        a[::97] = np.array([0.0, -0.0, 3.0, -3.0, np.inf, -np.inf, np.nan], dtype)[
            np.arange(a[::97].size) % 7]
        arrays.append(a)
    op = next(op for op in OPS if name in op.ufuncs)
    params = tuple(dtype(p.default) for p in op.params if p.check != "choice")
    return arrays, params


def test_the_op_table_names_memory_bound_ufuncs_of_its_own():
    for op in OPS:
        assert set(op.streamed) <= set(op.ufuncs), op.name
        if op.streamed:
            assert op.kind == "elementwise", op.name


@pytest.mark.parametrize("name", STREAMED)
@pytest.mark.parametrize("dtype", DTYPES)
def test_streamed_results_are_the_plain_bits(kernels, name, dtype):
    ufunc = kernels.UFUNCS[name]
    # around the streamed block (1024) and the widest vector, from a misaligned output
    for n in (1, 15, 63, 1023, 1024, 1024 * 3 + 17):
        arrays, params = _operands(name, n, dtype, seed=n)
        with _stream_from(kernels, 1 << 62):
            expected = ufunc(*arrays, *params)
        for offset in (0, 1, 3, 7):
            buffer = np.full(n + offset, 7.0, dtype)
            with _stream_from(kernels, 0):
                ufunc(*arrays, *params, out=buffer[offset:])
            np.testing.assert_array_equal(buffer[offset:], expected, err_msg=f"n={n} offset={offset}")
            assert (buffer[:offset] == 7.0).all()  # nothing written before the output


@pytest.mark.parametrize("name", STREAMED)
def test_streamed_in_place_and_on_two_threads(kernels, name):
    n = (1 << 16) + 4099  # two threads' chunks and a ragged tail
    for dtype in DTYPES:
        arrays, params = _operands(name, n, dtype, seed=5)
        with _stream_from(kernels, 1 << 62), fastact.num_threads(1):
            expected = kernels.UFUNCS[name](*arrays, *params)
        with _stream_from(kernels, 0), fastact.num_threads(2):
            np.testing.assert_array_equal(kernels.UFUNCS[name](*arrays, *params), expected)
            in_place = arrays[-1].copy()
            kernels.UFUNCS[name](*arrays[:-1], in_place, *params, out=in_place)
        np.testing.assert_array_equal(in_place, expected)


@pytest.mark.parametrize("name", STREAMED)
@pytest.mark.parametrize("dtype", DTYPES)
def test_streamed_loops_take_every_layout(kernels, name, dtype):
    """Streaming forced on for every call: 0-d, empty, strided, reversed, broadcast,
    Fortran, unaligned, byte-swapped and read-only inputs (the corpus of the backend
    tests) give the plain loop's bits, through whatever buffers NumPy and the strided
    inner loop put them in."""
    ufunc = kernels.UFUNCS[name]
    _, params = _operands(name, 1, dtype)
    for layout, x in layouts(dtype, seed=2):
        arrays = (np.ones_like(x, shape=x.shape) * dtype(0.5), x)[-ufunc.nin + len(params):]
        with _stream_from(kernels, 1 << 62):
            expected = ufunc(*arrays, *params)
        with _stream_from(kernels, 0):
            got = ufunc(*arrays, *params)
        np.testing.assert_array_equal(got, expected, err_msg=layout)


def test_the_stream_threshold_is_the_cpus_and_can_be_set(kernels):
    default = kernels.stream_min_bytes()
    assert default >= 1 << 16  # an L2's size, or L3's: never a small array
    assert kernels.set_stream_min_bytes(123) == default
    try:
        assert kernels.stream_min_bytes() == 123
        assert kernels.set_stream_min_bytes(456) == 123
        with pytest.raises(ValueError, match="n_bytes must be >= 0"):
            kernels.set_stream_min_bytes(-1)
        assert kernels.set_stream_min_bytes(default) == 456
    finally:
        kernels.set_stream_min_bytes(default)


def test_large_public_calls_stream_with_the_same_bits():
    """The default path of fastact.relu_backward at a size beyond the L2: streamed
    (the threshold is this CPU's), equal to the plain loop's result."""
    from fastact._cython import backend

    module = backend.kernels()
    x = np.random.default_rng(3).normal(size=1 << 20).astype(np.float32)
    g = np.random.default_rng(4).normal(size=1 << 20).astype(np.float32)
    with fastact.use_backend("cython"):
        streamed = fastact.relu_backward(g, x)
        with _stream_from(module, 1 << 62):
            plain = fastact.relu_backward(g, x)
    np.testing.assert_array_equal(streamed, plain)
