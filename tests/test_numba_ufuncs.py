"""The Numba backend's kernels as NumPy ufuncs and gufuncs (fastact._numba.ufuncs).

Every name against the float64 reference under the suite's mixed bound, on the shared
corpus of layouts and on the accuracy grid (every binade, ±0, ±inf, NaN); out=,
where=, parameter arrays that broadcast, axes= and keepdims=, strided paths equal to
the contiguous one, and the parallel ufuncs bit-identical to the serial ones.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

from accuracy import (FAST_MAX_ULPS, FAST_MAX_ULPS_BACKWARD, backward_errors,  # noqa: E402
                      forward_errors, saved_arrays)
from corpus import DTYPES, layouts, values  # noqa: E402
from fastact import reference  # noqa: E402
from fastact.accuracy import _rows, grid  # noqa: E402
from fastact.catalogue import OPS  # noqa: E402

U = pytest.importorskip("fastact._numba.ufuncs")

BY_NAME = {op.name: op for op in OPS}
ELEMENTWISE_OPS = [op for op in OPS if op.kind == "elementwise"]
ROW_OPS = [op for op in OPS if op.kind in ("rows", "reduce", "maxout")]


def _elementwise_cases():
    """(op, params, ufunc name, the params as operands) for every elementwise test case."""
    for op in ELEMENTWISE_OPS:
        for params in op.test_params:
            params = {p.name: params.get(p.name, p.default) for p in op.params}
            if op.name == "gelu":
                name = "gelu_tanh" if params["approximate"] == "tanh" else "gelu"
                yield op, {"approximate": params["approximate"]}, name, ()
            else:
                yield op, params, op.name, tuple(params.values())


ELEMENTWISE_CASES = [pytest.param(*case, id=f"{case[2]}{list(case[3]) or ''}")
                     for case in _elementwise_cases()]


def _check(errors, bound, what):
    if errors.size:
        worst = np.unravel_index(np.argmax(errors), errors.shape)
        assert errors[worst] <= bound, f"{what}: {errors[worst]:.2f} ulp at {worst}"


def _operands(args, dtype):
    return [np.asarray(a, dtype) for a in args]


# --- the objects --------------------------------------------------------------------

def test_every_name_is_a_numpy_ufunc_built_once():
    for name in U.NAMES:
        u = U.ufunc(name)
        assert type(u) is np.ufunc, name
        assert U.ufunc(name) is u
        assert u.nout == 1
        letters = [t.split("->")[0] for t in u.types]
        assert letters == ["f" * u.nin, "d" * u.nin], (name, u.types)
        assert u.signature == U.GUFUNCS.get(name), name
    assert len(U.NAMES) == 2 * 14 + 8


def test_parallel_is_a_separate_numpy_ufunc():
    for name in ("gelu", "softplus_backward", "softmax", "logsumexp_backward"):
        u, p = U.ufunc(name), U.ufunc(name, parallel=True)
        assert type(p) is np.ufunc and p is not u and U.ufunc(name, True) is p
        assert (p.nin, p.signature, p.types) == (u.nin, u.signature, u.types)


def test_unknown_name():
    with pytest.raises(ValueError, match="no ufunc"):
        U.ufunc("prelu")


def test_import_fastact_does_not_import_numba():
    code = ("import sys, fastact; fastact.relu; "
            "assert 'numba' not in sys.modules, 'numba imported'; "
            "assert 'fastact._numba.ufuncs' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_the_module_builds_nothing():
    code = "import fastact._numba.ufuncs as u; assert not u._built"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- elementwise: accuracy on every layout ------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op,params,name,args", ELEMENTWISE_CASES)
def test_elementwise_forward_and_backward_every_layout(op, params, name, args, dtype):
    forward, backward = U.ufunc(name), U.ufunc(name + "_backward")
    for layout, x in layouts(dtype):
        x_before = x.copy()
        got = forward(x, *_operands(args, dtype))
        np.testing.assert_array_equal(x, x_before)
        assert got.dtype == dtype and got.shape == x.shape, layout
        errors, _ = forward_errors(op, params, x, got)
        _check(errors, FAST_MAX_ULPS, f"{name} {layout}")

        saved = saved_arrays(op, x, params, dtype)
        g = values(x.size, dtype, seed=7).reshape(x.shape)
        got = backward(g, *saved, *_operands(args, dtype))
        assert got.dtype == dtype and got.shape == x.shape, layout
        errors, _ = backward_errors(op, params, g, saved, got)
        _check(errors, FAST_MAX_ULPS_BACKWARD, f"{name}_backward {layout}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op,params,name,args", ELEMENTWISE_CASES)
def test_elementwise_on_the_accuracy_grid(op, params, name, args, dtype):
    """Every binade, subnormals, ±0, ±max, ±inf and NaN, forward and backward."""
    x = grid(dtype, per_binade=4)
    with np.errstate(all="ignore"):
        got = U.ufunc(name)(x, *_operands(args, dtype))
        errors, _ = forward_errors(op, params, x, got)
        _check(errors, FAST_MAX_ULPS, name)
        saved = saved_arrays(op, x, params, dtype)
        g = np.random.default_rng(1).normal(0, 1, x.shape).astype(dtype)
        got = U.ufunc(name + "_backward")(g, *saved, *_operands(args, dtype))
        errors, _ = backward_errors(op, params, g, saved, got)
        _check(errors, FAST_MAX_ULPS_BACKWARD, name + "_backward")


def _elementwise_inputs(name, n, dtype, seed=0):
    """The array operands of ufunc ``name`` (g, then x or y, for a backward)."""
    x = values(n, dtype, seed)
    if name in ("sigmoid_backward", "tanh_backward"):
        x = np.tanh(x).astype(dtype)
    if name.endswith("_backward"):
        return [values(n, dtype, seed + 1), x]
    return [x]


def _default_args(name):
    base = name.removesuffix("_backward").removesuffix("_tanh")
    op = BY_NAME[base]
    return tuple(p.default for p in op.params if p.name != "approximate")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", U.ELEMENTWISE)
def test_elementwise_strided_paths_equal_the_contiguous_one(name, dtype):
    """Every stride path (gathered blocks, stride 2 and -1 specialisations, a parameter
    array instead of a scalar, a strided out=) gives the contiguous path's bits."""
    u = U.ufunc(name)
    n = 3 * U.BLOCK + 17
    arrays = _elementwise_inputs(name, 3 * n, dtype)
    args = _operands(_default_args(name), dtype)
    expected = u(*[a[:n] for a in arrays], *args)
    for step in (2, 3, -1, -2):
        spread = []
        for a in arrays:
            view = np.zeros(abs(step) * n, dtype)[::step]
            view[...] = a[:n]
            spread.append(view)
        np.testing.assert_array_equal(u(*spread, *args), expected, err_msg=f"step {step}")
        if len(arrays) == 2:  # the first array contiguous, only the second strided
            np.testing.assert_array_equal(u(arrays[0][:n], spread[1], *args), expected)
    full_args = [np.full(n, a, dtype) for a in args]
    np.testing.assert_array_equal(u(*[a[:n] for a in arrays], *full_args), expected)
    out = np.zeros(2 * n, dtype)
    u(*[a[:n] for a in arrays], *args, out=out[::2])
    np.testing.assert_array_equal(out[::2], expected)
    assert not out[1::2].any()
    # in place: LLVM's overlap check sends the loop (as the njit loops) to its scalar
    # version, whose roundings may differ in the last bit
    inplace = [a[:n].copy() for a in arrays]
    u(*inplace, *args, out=inplace[-1])
    np.testing.assert_allclose(inplace[-1], expected, rtol=4 * np.finfo(dtype).eps,
                               atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_out_and_where(dtype):
    x = values(50, dtype).reshape(5, 10)
    mask = (np.arange(50) % 3 == 0).reshape(5, 10)
    for name, args in (("gelu", ()), ("softplus", (1.0, 20.0)), ("leaky_relu", (0.2,))):
        u = U.ufunc(name)
        full = u(x, *_operands(args, dtype))
        out = np.full_like(x, 7.0)
        got = u(x, *_operands(args, dtype), out=out, where=mask)
        assert got is out
        np.testing.assert_array_equal(out[mask], full[mask])
        assert np.all(out[~mask] == 7.0)
        out_f = np.zeros(x.shape, dtype, order="F")
        u(x, *_operands(args, dtype), out=out_f)
        np.testing.assert_array_equal(out_f, full)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_parameter_arrays_broadcast(dtype):
    x = values(4 * 6, dtype).reshape(4, 6)
    slopes = np.linspace(-0.5, 0.5, 6).astype(dtype)
    got = U.ufunc("leaky_relu")(x, slopes)
    for j, s in enumerate(slopes):
        np.testing.assert_array_equal(got[:, j], U.ufunc("leaky_relu")(x[:, j], s))
        assert np.allclose(got[:, j], reference.leaky_relu(x[:, j].astype(float), float(s)),
                           rtol=4 * np.finfo(dtype).eps, atol=0)
    betas = np.array([[0.5], [1.0], [2.0], [4.0]], dtype)
    g = values(x.size, dtype, seed=3).reshape(x.shape)
    got = U.ufunc("softplus_backward")(g, x, betas, dtype(20.0))
    for i, b in enumerate(betas[:, 0]):
        np.testing.assert_array_equal(got[i], U.ufunc("softplus_backward")(g[i], x[i], b, 20.0))
    # a 0-d x with an array of alphas
    got = U.ufunc("elu")(np.asarray(-1.0, dtype), np.array([0.5, 1.0, 2.0], dtype))
    assert got.shape == (3,) and got.dtype == dtype
    np.testing.assert_allclose(got, np.array([0.5, 1.0, 2.0]) * np.expm1(-1.0),
                               rtol=4 * np.finfo(dtype).eps)


def test_python_float_parameters_keep_float32():
    x = values(10, np.float32)
    assert U.ufunc("elu")(x, 0.5).dtype == np.float32
    assert U.ufunc("softplus_backward")(x, x, 2.0, 10.0).dtype == np.float32


# --- gufuncs ----------------------------------------------------------------------------

def _row_call(op, params, x, dtype, axis=-1, backward=False, g=None):
    """The gufunc call for ``op`` along ``axis`` of x: (result, reference result)."""
    name = op.name + ("_backward" if backward else "")
    u = U.ufunc(name)
    keepdims = params.get("keepdims", False)
    x64 = x.astype(np.float64)
    if op.kind == "maxout":
        pieces = params["pieces"]
        shape = list(x.shape)
        shape[axis] //= pieces
        if not backward:
            out = np.empty(shape, dtype)
            return u(x, out=out, axes=[(axis,), (axis,)]), reference.maxout(x64, pieces, axis)
        got = u(g, x, axes=[(axis,), (axis,), (axis,)])
        return got, reference.maxout_backward(g.astype(np.float64), x64, pieces, axis)
    if op.kind == "reduce":
        if not backward:
            return (u(x, axis=axis, keepdims=True) if keepdims else u(x, axes=[(axis,), ()]),
                    reference.logsumexp(x64, axis, keepdims))
        y = reference.logsumexp(x64, axis, keepdims).astype(dtype)
        if keepdims:
            got = u(np.squeeze(g, axis), x, np.squeeze(y, axis), axes=[(), (axis,), (), (axis,)])
        else:
            got = u(g, x, y, axes=[(), (axis,), (), (axis,)])
        return got, reference.logsumexp_backward(g.astype(np.float64), x64, y.astype(np.float64),
                                                 axis, keepdims)
    if not backward:
        return u(x, axes=[(axis,), (axis,)]), getattr(reference, op.name)(x64, axis)
    y = getattr(reference, op.name)(x64, axis).astype(dtype)
    got = u(g, y, axes=[(axis,), (axis,), (axis,)])
    return got, getattr(reference, name)(g.astype(np.float64), y.astype(np.float64), axis)


def _row_cases():
    for op in ROW_OPS:
        for params in op.test_params:
            yield pytest.param(op, dict(params), id=f"{op.name}{params or ''}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op,params", list(_row_cases()))
def test_gufuncs_every_layout_last_axis(op, params, dtype):
    forward, backward = U.ufunc(op.name), U.ufunc(op.backward_name)
    for layout, x in layouts(dtype):
        if x.ndim == 0:
            continue
        if op.kind == "maxout":
            pieces = params["pieces"] if x.shape[-1] % params["pieces"] == 0 else 1
            params = dict(params, pieces=pieces)
            out = np.empty(x.shape[:-1] + (x.shape[-1] // pieces,), dtype)
            got = forward(x, out=out)
        elif op.kind == "reduce" and params.get("keepdims"):
            got = forward(x, axis=-1, keepdims=True)
        else:
            got = forward(x)
        errors, exact = forward_errors(op, params, x, got)
        assert got.shape == np.shape(exact) and got.dtype == dtype, layout
        _check(errors, FAST_MAX_ULPS, f"{op.name} {layout}")

        saved = saved_arrays(op, x, params, dtype)
        g = values(np.size(exact), dtype, seed=7).reshape(np.shape(exact))
        if op.kind == "reduce" and params.get("keepdims"):
            got = backward(g[..., 0], saved[0], saved[1][..., 0])
        else:
            got = backward(g, *saved)
        errors, exact = backward_errors(op, params, g, saved, got)
        assert got.shape == np.shape(exact) and got.dtype == dtype, layout
        _check(errors, FAST_MAX_ULPS_BACKWARD, f"{op.backward_name} {layout}")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op,params", list(_row_cases()))
def test_gufuncs_on_the_accuracy_grid(op, params, dtype):
    x = grid(dtype, per_binade=2)
    x = _rows(x, 64 if op.kind != "maxout" else 2 * params["pieces"] * 8)
    with np.errstate(all="ignore"):
        if op.kind == "maxout":
            got = U.ufunc("maxout")(
                x, out=np.empty((x.shape[0], x.shape[1] // params["pieces"]), dtype))
        else:
            got = U.ufunc(op.name)(x)
        errors, exact = forward_errors(op, {**params, "keepdims": False}
                                       if op.kind == "reduce" else params, x, got)
        _check(errors, FAST_MAX_ULPS, op.name)
        saved = saved_arrays(op, x, {k: v for k, v in params.items() if k != "keepdims"}, dtype)
        g = np.random.default_rng(1).normal(0, 1, np.shape(exact)).astype(dtype)
        got = U.ufunc(op.backward_name)(g, *saved)
        errors, _ = backward_errors(op, {k: v for k, v in params.items() if k != "keepdims"},
                                    g, saved, got)
        _check(errors, FAST_MAX_ULPS_BACKWARD, op.backward_name)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("axis", [0, 1, -2])
@pytest.mark.parametrize("op,params", list(_row_cases()))
def test_gufuncs_along_any_axis(op, params, axis, dtype):
    """axes= puts the core dimension on any axis (a strided core: gathered rows);
    keepdims= for logsumexp.  The result equals the same op on the moved copy bit for
    bit, and the reference within the bound."""
    x = values(40 * 8 * 20, dtype, seed=3).reshape(40, 8, 20)
    shape = list(x.shape)
    if op.kind == "maxout":
        shape[axis] //= params["pieces"]
    g = values(int(np.prod(shape)) if op.kind != "reduce" else x.size // x.shape[axis],
               dtype, seed=5)
    if op.kind == "reduce":
        gshape = list(x.shape)
        gshape[axis] = 1
        g = g.reshape(gshape if params.get("keepdims") else
                      [s for i, s in enumerate(x.shape) if i != axis % x.ndim])
    else:
        g = g.reshape(shape)
    for backward in (False, True):
        got, exact = _row_call(op, params, x, dtype, axis, backward, g)
        assert got.shape == exact.shape and got.dtype == dtype, (backward, got.shape)
        tolerance = (FAST_MAX_ULPS_BACKWARD if backward else FAST_MAX_ULPS) * 4
        np.testing.assert_allclose(got, exact, rtol=tolerance * np.finfo(dtype).eps,
                                   atol=tolerance * np.finfo(dtype).eps * np.abs(exact).max())
        # the same rows made contiguous along the last axis: the same bits.  (Not for a
        # float64 backward: the reference's y along another axis differs in the last bits,
        # which softmax_backward's cancellation magnifies.)
        if backward and dtype == np.float64:
            continue
        moved, _ = _row_call(op, params, np.ascontiguousarray(np.moveaxis(x, axis, -1)),
                             dtype, -1, backward,
                             np.ascontiguousarray(np.moveaxis(g, axis, -1))
                             if g.ndim == x.ndim else g)
        if moved.ndim == x.ndim:
            moved = np.moveaxis(moved, -1, axis)
        np.testing.assert_array_equal(got, moved)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_gufuncs_empty_rows_and_empty_batches(dtype):
    empty_rows = np.empty((3, 0), dtype)
    assert U.ufunc("softmax")(empty_rows).shape == (3, 0)
    assert U.ufunc("log_softmax")(empty_rows).shape == (3, 0)
    assert U.ufunc("softmax_backward")(empty_rows, empty_rows).shape == (3, 0)
    lse = U.ufunc("logsumexp")(empty_rows)
    assert lse.dtype == dtype
    np.testing.assert_array_equal(lse, reference.logsumexp(empty_rows.astype(float), -1))
    np.testing.assert_array_equal(lse, np.full(3, -np.inf))
    assert U.ufunc("logsumexp_backward")(np.ones(3, dtype), empty_rows, lse).shape == (3, 0)
    assert U.ufunc("maxout")(empty_rows, out=np.empty((3, 0), dtype)).shape == (3, 0)
    assert U.ufunc("maxout_backward")(empty_rows, empty_rows).shape == (3, 0)
    no_rows = np.empty((0, 5), dtype)
    assert U.ufunc("softmax")(no_rows).shape == (0, 5)
    assert U.ufunc("logsumexp")(no_rows).shape == (0,)
    # one row, 1-d; logsumexp of it is 0-d
    x = values(6, dtype)
    assert U.ufunc("logsumexp")(x).shape == ()


def test_gufuncs_nonfinite_rows_as_the_row_kernels():
    x = np.array([[1.0, np.nan, 0.0], [np.inf, 1.0, 0.0], [-np.inf, -np.inf, -np.inf],
                  [-np.inf, 0.0, 1.0]], np.float32)
    for name in ("softmax", "log_softmax"):
        got = U.ufunc(name)(x)
        exact = getattr(reference, name)(x.astype(float), -1)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(exact), err_msg=name)
    got = U.ufunc("logsumexp")(x)
    exact = reference.logsumexp(x.astype(float), -1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(exact))
    np.testing.assert_allclose(got, exact, rtol=4 * np.finfo(np.float32).eps)


# --- parallel ----------------------------------------------------------------------------

@pytest.fixture
def two_threads():
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    yield
    numba.set_num_threads(before)


def _one_per_operand_pattern(names):
    """Each kernel's parallel loop is the same template around its scalar, and compiling
    one costs Numba 5-12 s: the default run checks one kernel of each operand pattern
    (direction, number of parameters), '-m slow' every kernel.  (test_defects' in-place
    test runs every kernel's float32 parallel loop by default too.)"""
    seen, marked = set(), []
    for name in names:
        pattern = (name.endswith("_backward"), len(_default_args(name)))
        marked.append(pytest.param(name, marks=() if pattern not in seen else pytest.mark.slow))
        seen.add(pattern)
    return marked


@pytest.mark.parametrize("name", _one_per_operand_pattern(U.ELEMENTWISE))
def test_parallel_elementwise_bit_identical(name, two_threads):
    n = (1 << 16) + 4099  # chunks and a ragged tail
    for dtype in DTYPES:
        arrays = _elementwise_inputs(name, 2 * n, dtype, seed=11)
        args = _operands(_default_args(name), dtype)
        serial, parallel = U.ufunc(name), U.ufunc(name, parallel=True)
        contiguous = [a[:n] for a in arrays]
        np.testing.assert_array_equal(parallel(*contiguous, *args), serial(*contiguous, *args))
        strided = [a[::2] for a in arrays]
        np.testing.assert_array_equal(parallel(*strided, *args), serial(*strided, *args))


@pytest.mark.parametrize("name", list(U.GUFUNCS))
def test_parallel_gufuncs_bit_identical(name, two_threads):
    rows, n = 129, 512  # 2^16 elements and a ragged row
    for dtype in DTYPES:
        x = values(rows * n, dtype, seed=13).reshape(rows, n)
        g = values(rows * n, dtype, seed=14).reshape(rows, n)
        serial, parallel = U.ufunc(name), U.ufunc(name, parallel=True)
        if name == "logsumexp":
            calls = [((x,), {}), ((x,), {"axes": [(0,), ()]})]
        elif name == "logsumexp_backward":
            y = U.ufunc("logsumexp")(x)
            calls = [((g[:, 0], x, y), {})]
        elif name == "maxout":
            calls = [((x,), {"out": np.empty((rows, n // 4), dtype)})]
        elif name == "maxout_backward":
            calls = [((g[:, : n // 2], x), {})]
        elif name.endswith("_backward"):
            calls = [((g, x), {}), ((g.T, x.T), {})]
        else:
            calls = [((x,), {}), ((x,), {"axes": [(0,), (0,)]})]
        for args, kwargs in calls:
            expected = serial(*args, **{k: (np.empty_like(v) if k == "out" else v)
                                        for k, v in kwargs.items()})
            got = parallel(*args, **kwargs)
            np.testing.assert_array_equal(got, expected, err_msg=f"{name} {kwargs}")


def test_sums_have_the_same_bits_compiled_or_loaded_from_the_cache(tmp_path):
    """The row sums (and prelu's weight gradient) give the same bits whether their kernel
    was compiled in this process or loaded from Numba's disk cache.  Their summation order
    is written out (rows._sum); with 'reassoc' LLVM chose it, and float32 softmax, both
    softmax backwards and float64 log_softmax's backward came out 1-3 ulp apart on whole
    rows between a fresh process and a warm one (and test_parallel_gufuncs_bit_identical
    failed whenever one of its two kernels came from the cache)."""
    code = (
        "import hashlib, numpy as np, fastact\n"
        "rng = np.random.default_rng(13)\n"
        "digest = hashlib.md5()\n"
        "for dtype in (np.float32, np.float64):\n"
        "    x = (rng.standard_normal((129, 512)) * 5).astype(dtype)\n"
        "    g = rng.standard_normal((129, 512)).astype(dtype)\n"
        "    kw = {'backend': 'numba'}\n"
        "    y, ly = fastact.softmax(x, **kw), fastact.log_softmax(x, **kw)\n"
        "    for r in (y, ly, fastact.logsumexp(x, **kw), fastact.softmax_backward(g, y, **kw),\n"
        "              fastact.log_softmax_backward(g, ly, **kw),\n"
        "              *fastact.prelu_backward(g.reshape(129, 8, 64), x.reshape(129, 8, 64),\n"
        "                                      np.full(8, 0.25, dtype), **kw)):\n"
        "        digest.update(np.ascontiguousarray(r).tobytes())\n"
        "print(digest.hexdigest())\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_DEBUG_CACHE": "1"}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=900, check=True) for _ in range(2)]
    assert "data saved" in runs[0].stdout and "data loaded" in runs[1].stdout
    fresh, cached = (run.stdout.strip().splitlines()[-1] for run in runs)
    assert fresh == cached
