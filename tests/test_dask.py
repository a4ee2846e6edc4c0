"""Dask arrays (issue 15): every op lazy, with the NumPy call's dtype, shape and values.

Elementwise ops, prelu, maxout, logsumexp_backward and the row ops along an axis of one
chunk run the NumPy call's code on each block: bit-for-bit the NumPy call's values.  The
softmax family and logsumexp along a chunked axis are tree reductions: held to the
accuracy bound of tests/test_backends.py, with chunks of 1, of odd sizes, and rows that
are all -inf in some chunks only.  A real dask.distributed cluster with worker
processes runs at the end.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import fastact  # noqa: E402
from accuracy import (FAST_MAX_ULPS, FAST_MAX_ULPS_BACKWARD, backward_errors,  # noqa: E402
                      forward_errors)
from corpus import DTYPES, values  # noqa: E402
from fastact import reference  # noqa: E402
from fastact.catalogue import OPS, OPS_BY_NAME  # noqa: E402

BACKENDS = fastact.backends()
ELEMENTWISE = [op for op in OPS if op.kind == "elementwise"]
ROWS = [OPS_BY_NAME[name] for name in ("softmax", "log_softmax")]



@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def _same(got, expected):
    """Bit-for-bit equal (NaN where NaN), with the same dtype and shape."""
    got = np.asarray(got)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    bits = np.dtype(f"u{got.dtype.itemsize}")
    assert np.array_equal(got.reshape(-1).view(bits), expected.reshape(-1).view(bits)), (
        f"{np.sum(got != expected)} of {got.size} differ")


def _values(shape, dtype, seed=0, nonfinite=True):
    x = values(int(np.prod(shape)), dtype, seed).reshape(shape)
    if nonfinite and x.size > 16:
        x.flat[[3, 9, 14]] = [np.inf, -np.inf, np.nan]
    return x


def _elementwise_calls(op):
    for params in op.test_params:
        yield op.name, params
        yield op.backward_name, params


def _call(fname, params, x, g, backend):
    fn = getattr(fastact, fname)
    if not fname.endswith("_backward"):
        return fn(x, **params, backend=backend)
    saved = x
    if OPS_BY_NAME[fname.removesuffix("_backward")].saved == ("y",):
        saved = np.asarray(getattr(fastact, fname.removesuffix("_backward"))(
            x.compute() if isinstance(x, da.Array) else x, backend="numpy"))
    return fn(g, saved, **params, backend=backend)


ELEMENTWISE_CALLS = [pytest.param(name, params, id=f"{name}-{params}")
                     for op in ELEMENTWISE for name, params in _elementwise_calls(op)]


# --- import and recognition -------------------------------------------------

def test_import_fastact_does_not_import_dask_or_xarray():
    code = ("import sys, numpy as np, fastact; fastact.gelu(np.ones(3)); "
            "fastact.softmax(np.ones((2, 3)), axis=0, backend='numpy'); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'dask', 'distributed', 'xarray'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env=os.environ)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- elementwise ---------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fname,params", ELEMENTWISE_CALLS)
def test_elementwise_is_lazy_and_bit_for_bit(fname, params, dtype, backend):
    """Blocks of whole vectors (multiples of 64 elements): every element takes the same
    path in a block as in the whole array, so the values are the NumPy call's bits."""
    xn = _values((6, 128), dtype)
    gn = _values((6, 128), dtype, seed=5)
    x = da.from_array(xn, chunks=(1, 64))
    got = _call(fname, params, x, da.from_array(gn, chunks=(1, 64)), backend)
    assert isinstance(got, da.Array)
    assert got.dtype == dtype and got.shape == xn.shape and got.chunks == x.chunks
    _same(got.compute(), _call(fname, params, xn, gn, backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fname,params", ELEMENTWISE_CALLS)
def test_elementwise_odd_chunks(fname, params, dtype, backend):
    """Blocks of 1 and of odd sizes: bit-for-bit.  Every kernel's scalar tail rounds as its
    vector body does (GELU's and mish's backward did not until their clamps and products
    were rewritten), so a value does not depend on where it sits in the array."""
    xn = _values((1000,), dtype)
    gn = _values((1000,), dtype, seed=5)
    chunks = ((1, 3, 7, 13, 31, 345, 600),)
    got = _call(fname, params, da.from_array(xn, chunks=chunks),
                da.from_array(gn, chunks=chunks), backend).compute()
    _same(got, _call(fname, params, xn, gn, backend))


@pytest.mark.parametrize("backend", BACKENDS)
def test_mixed_dask_and_numpy_arguments(backend):
    # contiguous blocks of whole vectors (NumPy's own exp, in the reference, rounds
    # differently in its strided loop than in its SIMD one)
    xn, gn = _values((8, 64), np.float32), _values((8, 64), np.float32, seed=3)
    expected = fastact.silu_backward(gn, xn, backend=backend)
    for g, x in ((da.from_array(gn, chunks=(4, 64)), xn),
                 (gn, da.from_array(xn, chunks=(2, 64)))):
        got = fastact.silu_backward(g, x, backend=backend)
        assert isinstance(got, da.Array)
        _same(got.compute(), expected)


def test_mixed_arguments_of_the_hand_written_ops():
    """A Dask grad_output with NumPy x (and the reverse) for maxout, prelu, logsumexp."""
    xn = _values((4, 6), np.float64)
    gn = _values((4, 6), np.float64, seed=2)
    g3 = _values((4, 3), np.float64, seed=3)
    _same(fastact.maxout_backward(da.from_array(g3, chunks=2), xn, 2).compute(),
          fastact.maxout_backward(g3, xn, 2))
    _same(fastact.maxout_backward(g3, da.from_array(xn, chunks=(2, 3)), 2).compute(),
          fastact.maxout_backward(g3, xn, 2))
    w = np.array([0.1, -0.2, 0.3, 0.0, 0.5, 1.0])
    got = fastact.prelu_backward(da.from_array(gn, chunks=3), xn, w, axis=1)
    _same(got[0].compute(), fastact.prelu_backward(gn, xn, w, axis=1)[0])
    yn = fastact.logsumexp(xn, axis=0)
    _same(fastact.logsumexp_backward(da.from_array(np.ones(6), chunks=4), xn, yn,
                                     axis=0).compute(),
          fastact.logsumexp_backward(np.ones(6), xn, yn, axis=0))


@pytest.mark.parametrize("dtype,result", [(np.float16, np.float16), (np.int32, np.float64),
                                          (np.bool_, np.float64)])
def test_dtypes_follow_the_numpy_call(dtype, result):
    xn = (np.arange(-20, 20) / 4).astype(dtype)
    got = fastact.elu(da.from_array(xn, chunks=7), alpha=0.5)
    assert got.dtype == result
    _same(got.compute(), fastact.elu(xn, alpha=0.5))


def test_zero_d_and_empty():
    for xn in (np.float32(1.5).reshape(()), np.empty((0, 4), np.float64)):
        got = fastact.gelu(da.from_array(xn))
        _same(got.compute(), np.asarray(fastact.gelu(xn)))


def test_errors_are_raised_when_the_graph_is_built():
    x = da.ones((4, 6), chunks=2)
    with pytest.raises(TypeError, match="out= is not supported for Dask"):
        fastact.relu(x, out=np.empty((4, 6)))
    with pytest.raises(TypeError, match="unsupported dtype complex128"):
        fastact.relu(da.ones(3, dtype=complex))
    with pytest.raises(ValueError, match="grad_output has shape"):
        fastact.relu_backward(da.ones(3), x)
    with pytest.raises(ValueError, match="alpha must be a finite nonzero number"):
        fastact.celu(x, alpha=0.0)
    with pytest.raises(ValueError, match="beyond float32's range"):
        fastact.elu(x.astype(np.float32), alpha=1e300)
    with pytest.raises(np.exceptions.AxisError):
        fastact.softmax(x, axis=2)
    with pytest.raises(ValueError, match="pieces=4 does not divide"):
        fastact.maxout(x, 4)
    with pytest.raises(TypeError, match="weight is a Dask array"):
        fastact.prelu(x, da.ones(4), axis=0)
    with pytest.raises(ValueError, match="weight has 3 values but x has 4 channels"):
        fastact.prelu(x, np.ones(3), axis=0)
    with pytest.raises(ValueError, match="y has shape"):
        fastact.logsumexp_backward(da.ones(4), x, da.ones(6), axis=1)


# --- prelu and maxout ----------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_prelu_weight_broadcasts_along_the_channel_axis(dtype, backend):
    xn, gn = _values((4, 7, 6), dtype), _values((4, 7, 6), dtype, seed=2)
    w = np.linspace(-0.3, 0.3, 7).astype(dtype)
    x = da.from_array(xn, chunks=(3, (1, 2, 4), 5))
    g = da.from_array(gn, chunks=(2, 3, 6))
    for weight in (w, 0.25):
        _same(fastact.prelu(x, weight, axis=1, backend=backend).compute(),
              fastact.prelu(xn, weight, axis=1, backend=backend))
        grad_input, grad_weight = fastact.prelu_backward(g, x, weight, axis=1, backend=backend)
        expected_input, expected_weight = fastact.prelu_backward(gn, xn, weight, axis=1,
                                                                 backend=backend)
        _same(grad_input.compute(), expected_input)
        assert isinstance(grad_weight, da.Array) and grad_weight.shape == np.shape(weight)
        exact = reference.prelu_backward(gn.astype(np.float64), xn.astype(np.float64), weight,
                                         axis=1)[1]
        got = grad_weight.compute()
        assert got.dtype == dtype
        finite = np.isfinite(exact)
        assert np.array_equal(np.isnan(got), np.isnan(exact))
        np.testing.assert_allclose(got[finite], exact[finite], rtol=2 * np.finfo(dtype).eps)


@pytest.mark.parametrize("backend", BACKENDS)
def test_maxout_blockwise_or_rechunked_to_multiples_of_pieces(backend):
    xn = _values((5, 24), np.float32)
    gn = _values((5, 6), np.float32, seed=4)
    aligned = da.from_array(xn, chunks=(2, (8, 16)))
    got = fastact.maxout(aligned, 4, backend=backend)
    assert got.chunks == ((2, 2, 1), (2, 4))
    assert not any("rechunk" in name for name in got.dask.layers)
    _same(got.compute(), fastact.maxout(xn, 4, backend=backend))
    odd = da.from_array(xn, chunks=(2, (5, 7, 12)))  # bounds 5, 12, 24 -> 4, 12, 24
    got = fastact.maxout(odd, 4, backend=backend)
    assert got.chunks == ((2, 2, 1), (1, 2, 3))
    _same(got.compute(), fastact.maxout(xn, 4, backend=backend))
    grad = fastact.maxout_backward(da.from_array(gn, chunks=3), odd, 4, backend=backend)
    assert grad.shape == xn.shape
    _same(grad.compute(), fastact.maxout_backward(gn, xn, 4, backend=backend))


# --- row ops -----------------------------------------------------------------------

def _rows(dtype, seed=0):
    """Rows of 23 with all -inf in some chunks only, a row of one finite value, and
    rows with NaN, +inf and all -inf (NaN rows, as the kernels give)."""
    x = values(12 * 23, dtype, seed).reshape(12, 23)
    x[1, :9] = -np.inf          # -inf in the first chunks (of 1, 3, 5) only
    x[2, 9:] = -np.inf          # and in the last ones
    x[3, :] = -np.inf
    x[3, 17] = 2.0              # one finite entry
    x[4, 5] = np.nan
    x[5, 20] = np.inf
    x[6, :] = -np.inf
    x[7] *= 40                  # a wide range: exp underflows in whole chunks
    return x


CHUNKINGS = [(1,) * 23, (1, 3, 5, 7, 7), (11, 12)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("chunks", CHUNKINGS, ids=["ones", "odd", "two"])
@pytest.mark.parametrize("op", ROWS + [OPS_BY_NAME["logsumexp"]], ids=lambda op: op.name)
def test_row_ops_along_a_chunked_axis_meet_the_bound(op, chunks, dtype, backend):
    xn = _rows(dtype)
    x = da.from_array(xn, chunks=(5, chunks))
    params = {"keepdims": True} if op.kind == "reduce" else {}
    got = getattr(fastact, op.name)(x, **params, backend=backend)
    assert isinstance(got, da.Array) and got.dtype == dtype
    assert not any("rechunk" in name for name in got.dask.layers)
    assert got.chunks[0] == x.chunks[0]
    got = got.compute()
    expected = getattr(fastact, op.name)(xn, **params, backend=backend)
    assert got.shape == expected.shape
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.array_equal(np.isinf(got), np.isinf(expected))
    errors = forward_errors(op, params, xn, got)[0]
    assert np.max(errors) <= FAST_MAX_ULPS


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("chunks", CHUNKINGS, ids=["ones", "odd", "two"])
@pytest.mark.parametrize("op", ROWS, ids=lambda op: op.name)
def test_row_backwards_along_a_chunked_axis_meet_the_bound(op, chunks, dtype, backend):
    xn = values(12 * 23, dtype).reshape(12, 23)
    xn[1, :9] = -np.inf
    yn = getattr(fastact, op.name)(xn, backend=backend)
    gn = values(yn.size, dtype, seed=7).reshape(yn.shape)
    got = getattr(fastact, op.backward_name)(da.from_array(gn, chunks=(5, chunks)),
                                             da.from_array(yn, chunks=(4, chunks[::-1])),
                                             backend=backend)
    assert isinstance(got, da.Array) and got.dtype == dtype
    errors = backward_errors(op, {}, gn, [yn], got.compute())[0]
    assert np.max(errors) <= FAST_MAX_ULPS_BACKWARD


def test_logsumexp_is_one_reduction():
    """The layers of one dask.array.reduction (as da.sum's), no rechunk."""
    def kinds(result):
        return sorted(re.sub(r"-[0-9a-f]{32}", "", name) for name in result.dask.layers)

    x = da.from_array(_rows(np.float64), chunks=(5, 4))
    assert kinds(fastact.logsumexp(x, axis=1)) == [
        "array", "logsumexp", "logsumexp-aggregate", "logsumexp-partial"]
    assert kinds(da.sum(x, axis=1)) == ["array", "sum", "sum-aggregate", "sum-partial"]
    # softmax: the blocks' logsumexps, the reduction of them, the blockwise pass
    assert kinds(fastact.softmax(x, axis=1)) == [
        "array", "logsumexp", "logsumexp-aggregate", "logsumexp-blocks", "logsumexp-partial",
        "softmax"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", ROWS + [OPS_BY_NAME["logsumexp"]], ids=lambda op: op.name)
def test_row_ops_along_one_chunk_are_the_gufunc_blockwise(op, backend):
    xn = _rows(np.float32)
    x = da.from_array(xn, chunks=(5, 23))
    for params in op.test_params:
        got = getattr(fastact, op.name)(x, **params, backend=backend)
        _same(got.compute(), getattr(fastact, op.name)(xn, **params, backend=backend))
    # along axis 0 in one chunk
    x0 = da.from_array(xn, chunks=(12, 4))
    got = getattr(fastact, op.name)(x0, axis=0, backend=backend)
    _same(got.compute(), getattr(fastact, op.name)(xn, axis=0, backend=backend))
    if op.kind == "rows":
        yn = getattr(fastact, op.name)(xn, backend=backend)
        gn = values(yn.size, np.float32, seed=7).reshape(yn.shape)
        got = getattr(fastact, op.backward_name)(da.from_array(gn, chunks=(3, 23)), yn,
                                                 backend=backend)
        _same(got.compute(), getattr(fastact, op.backward_name)(gn, yn, backend=backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_backward_is_bit_for_bit_along_a_chunked_axis(keepdims, backend):
    xn = _rows(np.float32)
    yn = fastact.logsumexp(xn, axis=1, keepdims=keepdims)
    gn = values(yn.size, np.float32, seed=3).reshape(yn.shape)
    got = fastact.logsumexp_backward(da.from_array(gn), da.from_array(xn, chunks=(5, 4)),
                                     yn, axis=1, keepdims=keepdims, backend=backend)
    assert got.chunks == ((5, 5, 2), (4,) * 5 + (3,))
    _same(got.compute(), fastact.logsumexp_backward(gn, xn, yn, axis=1, keepdims=keepdims,
                                                    backend=backend))


# --- pickling and a real cluster ------------------------------------------------------

def test_graphs_pickle_without_the_kernels():
    """Block functions are module-level functions bound to names and numbers."""
    x = da.from_array(_rows(np.float32), chunks=(5, 4))
    for backend in BACKENDS:
        for result in (fastact.gelu(x, backend=backend), fastact.softmax(x, backend=backend)):
            graph = dict(result.__dask_graph__())
            assert len(pickle.dumps(graph)) < 200_000


def test_default_ufuncs_pickle_by_name():
    from fastact import ufuncs

    assert pickle.loads(pickle.dumps(ufuncs.gelu)) is ufuncs.gelu
    assert pickle.loads(pickle.dumps(ufuncs.softmax)) is ufuncs.softmax


def test_local_cluster_with_worker_processes():
    """2 worker processes (threads=1, FASTACT_NUM_THREADS=1 in their environment) compute
    GELU, softmax along a chunked axis and logsumexp_backward: the NumPy backend's values
    within the bound (GELU bit-for-bit with the same backend); then shut down."""
    distributed = pytest.importorskip("distributed")
    xn = _rows(np.float32)
    x = da.from_array(xn, chunks=(4, 5))
    yn = fastact.logsumexp(xn)
    gn = values(yn.size, np.float32, seed=3)
    vn = _values((4096,), np.float32)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None,
                                  env={"FASTACT_NUM_THREADS": "1"}) as cluster, \
            distributed.Client(cluster) as client:
        assert set(client.run(fastact.get_num_threads).values()) == {1}
        pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids
        with dask.config.set(scheduler=client):
            gelu = {b: fastact.gelu(da.from_array(vn, chunks=1024), backend=b)
                    for b in BACKENDS}
            softmax = fastact.softmax(x)
            grad = fastact.logsumexp_backward(gn, x, yn)
            computed = client.compute([gelu, softmax, grad], sync=True)
    gelu, softmax, grad = computed
    for backend in BACKENDS:
        _same(gelu[backend], fastact.gelu(vn, backend=backend))
        errors = forward_errors(OPS_BY_NAME["gelu"], {}, vn, gelu[backend])[0]
        assert np.max(errors) <= FAST_MAX_ULPS
    assert np.array_equal(np.isnan(softmax), np.isnan(fastact.softmax(xn, backend="numpy")))
    assert np.max(forward_errors(OPS_BY_NAME["softmax"], {}, xn, softmax)[0]) <= FAST_MAX_ULPS
    expected = fastact.logsumexp_backward(gn, xn, yn, backend="numpy")
    assert np.array_equal(np.isnan(grad), np.isnan(expected))
    errors = backward_errors(OPS_BY_NAME["logsumexp"], {}, gn, [xn, yn], grad)[0]
    assert np.max(errors) <= FAST_MAX_ULPS_BACKWARD
