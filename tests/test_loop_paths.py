"""The Cython loops that leave the plain loop for some sizes: those that stream large
outputs (the op table's Op.streamed, stream.h) and the software-pipelined ones
(Op.pipelined, the template's _pipelined loops).  Each gives the plain loop's bits, for
every built variant the CPU runs, at any length, output alignment and thread count, in
place too, on every layout."""

from __future__ import annotations

import contextlib
import importlib
from typing import NamedTuple

import numpy as np
import pytest

import fastact
from corpus import layouts
from fastact import _threads
from fastact.catalogue import OPS

pytestmark = pytest.mark.skipif("cython" not in fastact.backends(),
                                reason="the Cython extensions are not built")

DTYPES = (np.float32, np.float64)


class Path(NamedTuple):
    """A loop path: the op table's field naming its ufuncs, the module's setter of its
    byte threshold, and the threshold values that force it off and on."""
    field: str
    setter: str
    off: int
    on: int


PATHS = {
    "streamed": Path("streamed", "set_stream_min_bytes", off=1 << 62, on=0),
    "pipelined": Path("pipelined", "set_pipeline_max_bytes", off=0, on=1 << 62),
}
CASES = [pytest.param(path, name, id=f"{path}-{name}")
         for path in PATHS for op in OPS for name in getattr(op, PATHS[path].field)]
# around the streamed block (1024), the pipelined block (256) and the widest vector
LENGTHS = (1, 15, 63, 255, 256, 257, 511, 513, 1023, 1024, 1024 * 3 + 17)


def _variants():
    from fastact._cython import backend

    return backend.runnable_variants()


@pytest.fixture(params=_variants())
def kernels(request):
    module = importlib.import_module(f"fastact._cython.{request.param}")
    module.set_thread_source(_threads.get_num_threads)
    return module


@contextlib.contextmanager
def _path(module, path, on):
    """The loop path forced on or off for every call in the block."""
    setter = getattr(module, PATHS[path].setter)
    previous = setter(PATHS[path].on if on else PATHS[path].off)
    try:
        yield
    finally:
        setter(previous)


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


def test_the_op_table_names_ufuncs_of_its_own_for_each_path():
    for op in OPS:
        for path in PATHS.values():
            assert set(getattr(op, path.field)) <= set(op.ufuncs), (op.name, path.field)
            if getattr(op, path.field):
                assert op.kind == "elementwise", op.name
        # the pipelined loops are for the kernels with an exp; those stream nothing
        assert not set(op.pipelined) & set(op.streamed), op.name


@pytest.mark.parametrize("path, name", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_results_are_the_plain_bits(kernels, path, name, dtype):
    ufunc = kernels.UFUNCS[name]
    for n in LENGTHS:
        arrays, params = _operands(name, n, dtype, seed=n)
        with _path(kernels, path, on=False):
            expected = ufunc(*arrays, *params)
        for offset in (0, 1, 3, 7):
            buffer = np.full(n + offset, 7.0, dtype)
            with _path(kernels, path, on=True):
                ufunc(*arrays, *params, out=buffer[offset:])
            np.testing.assert_array_equal(buffer[offset:], expected, err_msg=f"n={n} offset={offset}")
            assert (buffer[:offset] == 7.0).all()  # nothing written before the output


@pytest.mark.parametrize("path, name", CASES)
def test_in_place_and_on_two_threads(kernels, path, name):
    n = (1 << 16) + 4099  # two threads' chunks and a ragged tail
    for dtype in DTYPES:
        arrays, params = _operands(name, n, dtype, seed=5)
        with _path(kernels, path, on=False), fastact.num_threads(1):
            expected = kernels.UFUNCS[name](*arrays, *params)
        with _path(kernels, path, on=True), fastact.num_threads(2):
            np.testing.assert_array_equal(kernels.UFUNCS[name](*arrays, *params), expected)
            for k in range(len(arrays)):  # the output over each input in turn
                in_place = [a.copy() for a in arrays]
                kernels.UFUNCS[name](*in_place, *params, out=in_place[k])
                np.testing.assert_array_equal(in_place[k], expected, err_msg=f"out = input {k}")


@pytest.mark.parametrize("path, name", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_layout(kernels, path, name, dtype):
    """The path forced on for every call: 0-d, empty, strided, reversed, broadcast,
    Fortran, unaligned, byte-swapped and read-only inputs (the corpus of the backend
    tests) give the plain loop's bits, through whatever buffers NumPy and the strided
    inner loop put them in."""
    ufunc = kernels.UFUNCS[name]
    _, params = _operands(name, 1, dtype)
    for layout, x in layouts(dtype, seed=2):
        arrays = (np.ones_like(x, shape=x.shape) * dtype(0.5), x)[-ufunc.nin + len(params):]
        with _path(kernels, path, on=False):
            expected = ufunc(*arrays, *params)
        with _path(kernels, path, on=True):
            got = ufunc(*arrays, *params)
        np.testing.assert_array_equal(got, expected, err_msg=layout)


@pytest.mark.parametrize("path", PATHS)
def test_the_thresholds_can_be_set(kernels, path):
    setter = getattr(kernels, PATHS[path].setter)
    default = setter(123)
    try:
        assert setter(456) == 123
        with pytest.raises(ValueError, match="n_bytes must be >= 0"):
            setter(-1)
        assert setter(default) == 456
    finally:
        setter(default)


def test_the_stream_threshold_is_the_cpus(kernels):
    assert kernels.stream_min_bytes() >= 1 << 16  # an L2's size, or L3's: never a small array


def test_the_pipelined_loops_run_below_their_threshold(kernels):
    """Pipelined on every variant but AVX-512 (where they were not measured), up to
    PIPELINE_MAX_BYTES of operands: sizes of 2^16 and 2^22 float32 fall either side."""
    assert kernels.PIPELINED_LOOPS == (kernels.__name__ != "fastact._cython._kernels_avx512")
    assert 3 * 4 << 16 <= kernels.PIPELINE_MAX_BYTES < 2 * 4 << 22


def test_large_public_calls_stream_with_the_same_bits():
    """The default path of fastact.relu_backward at a size beyond the L2: streamed
    (the threshold is this CPU's), equal to the plain loop's result."""
    from fastact._cython import backend

    module = backend.kernels()
    x = np.random.default_rng(3).normal(size=1 << 20).astype(np.float32)
    g = np.random.default_rng(4).normal(size=1 << 20).astype(np.float32)
    with fastact.use_backend("cython"):
        streamed = fastact.relu_backward(g, x)
        with _path(module, "streamed", on=False):
            plain = fastact.relu_backward(g, x)
    np.testing.assert_array_equal(streamed, plain)
