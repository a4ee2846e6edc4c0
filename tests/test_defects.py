"""Regression tests for the defects of issue 18 (found by a reliability probe).

Every kernel test calls the public API with ``backend=`` for each compiled backend
that ``fastact.backends()`` lists, so it keeps working whatever the call machinery.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastact
from fastact import reference
from fastact.accuracy import (FAST_MAX_ULPS, FAST_MAX_ULPS_BACKWARD, backward_errors,
                              forward_errors, mixed_ulps, saved_arrays)
from fastact.catalogue import OPS_BY_NAME

COMPILED = [pytest.param(b, marks=pytest.mark.skipif(b not in fastact.backends(),
                                                     reason=f"backend {b} not available"))
            for b in ("numba", "cython")]


def _run(code, **env):
    """Run ``code`` in a fresh interpreter with ``env`` added to the environment."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


# --- 1. long float32 rows: the softmax family and logsumexp -------------------------

def _shifted_row(n, seed=0):
    """A float32 row with max 0 and entries in [-8, 0]: x - max is exact, so every ulp of
    error against the float64 reference is the kernel's (the exps and the sums)."""
    x = -np.random.default_rng(seed).uniform(0, 8, size=n).astype(np.float32)
    x[n // 3] = 0
    return x


def _ulps(got, exact):
    """Plain ulps of float32 ``got`` against float64 ``exact`` (no slack)."""
    return float(np.max(mixed_ulps(got, exact, 0.0, np.float32)))


def _check_long_row(backend, n):
    x = _shifted_row(n)
    x64 = x.astype(np.float64)
    for name in ("softmax", "log_softmax", "logsumexp"):
        got = getattr(fastact, name)(x, backend=backend)
        error = _ulps(got, getattr(reference, name)(x64))
        assert error <= FAST_MAX_ULPS, f"{backend}:{name} of 2^{n.bit_length() - 1}: {error:.2f} ulp"
    # the project's mixed measure, on a normal row and its backwards too
    x = np.random.default_rng(1).normal(size=(1, n)).astype(np.float32)
    g = np.random.default_rng(2).normal(size=(1, n)).astype(np.float32)
    for name in ("softmax", "log_softmax"):
        op = OPS_BY_NAME[name]
        got = getattr(fastact, name)(x, backend=backend)
        assert np.max(forward_errors(op, {}, x, got)[0]) <= FAST_MAX_ULPS, name
        saved = saved_arrays(op, x, {}, np.float32)
        got = getattr(fastact, op.backward_name)(g, *saved, backend=backend)
        errors = backward_errors(op, {}, g, saved, got)[0]
        assert np.max(errors) <= FAST_MAX_ULPS_BACKWARD, op.backward_name


def _check_logsumexp_of_zeros(backend, n, dtype=np.float32):
    got = fastact.logsumexp(np.zeros(n, dtype), backend=backend)
    error = float(np.max(mixed_ulps(got, np.log(n), 0.0, dtype)))
    assert error <= 1, f"{backend}: logsumexp of {n} zeros = {got!r}, log = {np.log(n)!r}"


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("n", [2**10, 2**17, 2**20])
def test_long_float32_rows_within_4_ulp(backend, n):
    """Were 15.5 / 24.9 ulp (Cython) and 3.4 / 42.9 ulp (Numba) at 2^17 / 2^20."""
    _check_long_row(backend, n)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_of_zeros_is_log_n(backend, dtype):
    """Every entry a maximum: the ties are counted exactly (Numba counts them in an int32
    per block of 1024, the Cython loops in integer lanes), also across blocks."""
    _check_logsumexp_of_zeros(backend, 2**20, dtype)
    row = np.zeros(3 * 1024 + 5, dtype)
    row[::7] = -1.0  # ties in every block, and others below them
    want = np.log(np.sum(np.exp(row.astype(np.float64))))
    got = fastact.logsumexp(row, backend=backend)
    assert float(np.max(mixed_ulps(got, want, 0.0, dtype))) <= 1, backend


@pytest.mark.slow
@pytest.mark.parametrize("backend", COMPILED)
def test_very_long_float32_rows_within_4_ulp(backend):
    """Up to 2^26 entries (were 2.4e5 ulp on Cython, 5.5e4 on Numba); logsumexp of up to 2^28
    zeros (Cython gave 19.408 for 2^29 zeros, log(2^29) = 20.101: float lanes of ties)."""
    for e in (22, 24, 26):
        _check_long_row(backend, 2**e)
    for e in (24, 26, 28):
        _check_logsumexp_of_zeros(backend, 2**e)


# --- 2. celu with a negative alpha near exp's overflow ------------------------------

@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("dtype,low,high", [(np.float32, 88.376, 88.7228),
                                            (np.float64, 709.436, 709.7827)])
@pytest.mark.parametrize("alpha", [-1.0, -0.5, -2.0])
def test_celu_negative_alpha_near_overflow(backend, dtype, low, high, alpha):
    """x/alpha in [88.376, 88.723] (float32) or [709.436, 709.783] (float64) gave NaN forward
    (expm1's 2^n overflowed): now the reference's values (finite, or -inf where alpha*expm1
    overflows), forward and backward.  Up to exp's overflow point only: beyond it expm1 is
    inf, and with |alpha| < 1 the kernels give -inf where the float64 reference is finite."""
    t = np.linspace(low - 0.5, high, 4001).astype(dtype)
    x = (t * dtype(-abs(alpha))).astype(dtype)
    op = OPS_BY_NAME["celu"]
    params = {"alpha": alpha}
    with np.errstate(over="ignore"):
        got = fastact.celu(x, alpha, backend=backend)
        assert not np.isnan(got).any()
        errors, exact = forward_errors(op, params, x, got)
        assert np.max(errors) <= FAST_MAX_ULPS
        g = np.ones_like(x)
        got = fastact.celu_backward(g, x, alpha, backend=backend)
        assert not np.isnan(got).any()
        assert np.max(backward_errors(op, params, g, [x], got)[0]) <= FAST_MAX_ULPS_BACKWARD


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_expm1_based_ops_unchanged_elsewhere(backend, dtype):
    """The expm1 rewrite (half the scale, then doubled) rounds exactly alike: elu and celu
    over their whole range still match the reference."""
    info = np.finfo(dtype)
    tiny = [info.smallest_subnormal, 3 * info.smallest_subnormal, info.tiny / 2, info.tiny]
    x = np.concatenate([-np.logspace(-30, 2.9, 3000), np.linspace(-20, 20, 2001),
                        tiny, np.negative(tiny)]).astype(dtype)
    for name, params in (("elu", {}), ("celu", {"alpha": 0.7}), ("celu", {"alpha": -3.0}),
                         ("selu", {})):
        with np.errstate(over="ignore"):
            got = getattr(fastact, name)(x, **params, backend=backend)
            errors, _ = forward_errors(OPS_BY_NAME[name], params, x, got)
        assert np.max(errors) <= FAST_MAX_ULPS, name


# --- 3. softplus with threshold=inf, and float64 x with extreme parameters ---------

@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta", [1.0, 2.0, 0.25])
def test_softplus_infinite_threshold(backend, dtype, beta):
    """threshold=inf: never the identity branch; finite (the reference's values) for x >= 0."""
    info = np.finfo(dtype)
    x = np.concatenate([[0.0, info.smallest_subnormal, info.tiny, 1e-3, 1.0, 20.0, 30.0, 1e4,
                         1e30, float(info.max), np.inf, -1.0, -30.0],
                        np.linspace(0, 100, 1001)]).astype(dtype)
    x = np.concatenate([x, np.linspace(0, 100, 2**16).astype(dtype)])  # a parallel-sized call
    op = OPS_BY_NAME["softplus"]
    params = {"beta": beta, "threshold": np.inf}
    with np.errstate(over="ignore"):
        got = fastact.softplus(x, beta, np.inf, backend=backend)
        assert not np.isnan(got).any()
        assert np.max(forward_errors(op, params, x, got)[0]) <= FAST_MAX_ULPS
        g = np.ones_like(x)
        got = fastact.softplus_backward(g, x, beta, np.inf, backend=backend)
        assert not np.isnan(got).any()
        assert np.max(backward_errors(op, params, g, [x], got)[0]) <= FAST_MAX_ULPS_BACKWARD


EXTREME_FLOAT64 = [
    ("celu", {"alpha": 1e300}), ("celu", {"alpha": -1e300}), ("celu", {"alpha": 1e-300}),
    ("elu", {"alpha": 1e300}), ("elu", {"alpha": 1e-300}),
    ("softplus", {"beta": 1e300}), ("softplus", {"beta": 1e-300}),
    ("softplus", {"beta": 1e300, "threshold": np.inf}), ("softplus", {"threshold": -np.inf}),
    ("leaky_relu", {"negative_slope": 1e300}),
]


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("name,params", EXTREME_FLOAT64, ids=lambda v: str(v))
def test_float64_extreme_parameters_match_reference(backend, name, params):
    x = np.array([0.0, 5e-324, 1e-300, 1e-5, 1.0, 30.0, 700.0, 1e300, np.inf, -np.inf, np.nan,
                  -5e-324, -1e-300, -1e-5, -1.0, -30.0, -700.0, -1e300])
    g = np.ones_like(x)
    with np.errstate(all="ignore"):
        for fn, ref, args in ((name, name, (x,)), (name + "_backward", name + "_backward", (g, x))):
            got = getattr(fastact, fn)(*args, **params, backend=backend)
            exact = getattr(reference, ref)(*args, **params)
            np.testing.assert_allclose(got, exact, rtol=4e-16, atol=0, equal_nan=True,
                                       err_msg=f"{backend}:{fn}({params})")


# --- 4. thread counts -------------------------------------------------------------

def test_thread_count_above_maximum_rejected():
    before = fastact.get_num_threads()
    for bad in (2**40, 2**31, fastact._threads.MAX_THREADS + 1):
        with pytest.raises(ValueError, match="at most"):
            fastact.set_num_threads(bad)
        with pytest.raises(ValueError, match="at most"):
            with fastact.num_threads(bad):
                pass
    for bad in (np.True_, True, 2.0, "2", 0, -1, np.int64(0)):
        with pytest.raises(ValueError, match="positive integer"):
            fastact.set_num_threads(bad)
    assert fastact.get_num_threads() == before  # a rejected count changes nothing


@pytest.mark.parametrize("backend", COMPILED)
def test_numpy_integer_and_maximum_thread_counts_work(backend):
    before = fastact.get_num_threads()
    x = np.linspace(-3, 3, 2**17).astype(np.float32)
    try:
        fastact.set_num_threads(np.int64(2))
        assert fastact.get_num_threads() == 2 and type(fastact.get_num_threads()) is int
        fastact.set_num_threads(fastact._threads.MAX_THREADS)  # the kernels cap it further
        np.testing.assert_allclose(fastact.sigmoid(x, backend=backend), reference.sigmoid(x),
                                   rtol=1e-6)
        with fastact.num_threads(np.int32(1)) as n:
            assert n == 1 and fastact.get_num_threads() == 1
    finally:
        fastact.set_num_threads(before)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", str(10**6), "3000000000"])
def test_bad_thread_environment_variable_is_a_clear_error(value):
    result = _run("import fastact", FASTACT_NUM_THREADS=value)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError: FASTACT_NUM_THREADS"), result.stderr


def test_thread_environment_variable_at_the_maximum():
    code = ("import numpy as np, fastact; print(fastact.get_num_threads());"
            "x = np.ones(2**17, np.float32);"
            "print(all(float(fastact.relu(x, backend=b).sum()) == 2**17 for b in fastact.backends()))")
    result = _run(code, FASTACT_NUM_THREADS=str(fastact._threads.MAX_THREADS))
    assert result.stdout.split() == [str(fastact._threads.MAX_THREADS), "True"], result.stderr


# --- 5. Numba logsumexp without a row-sized scratch --------------------------------

@pytest.mark.skipif("numba" not in fastact.backends(), reason="backend numba not available")
def test_numba_logsumexp_peak_memory():
    """Peak RSS of a Numba logsumexp over one row of 2^25 float32 (128 MiB) grows by far less
    than the row (it copied the whole row into a scratch array: +128 MiB)."""
    code = """
import json, resource, numpy as np, fastact
fastact.logsumexp(np.zeros(8, np.float32), backend='numba')  # compiled (or loaded) first
x = np.random.default_rng(0).standard_normal(2**25, dtype=np.float32)  # no float64 temporary
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
y = fastact.logsumexp(x, backend='numba')
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps([before, after, float(y)]))
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
    before, after, y = json.loads(result.stdout.strip().splitlines()[-1])
    assert (after - before) * 1024 < 2**25 * 4 // 8, f"peak grew by {(after - before) // 1024} MiB"
    x = np.random.default_rng(0).standard_normal(2**25, dtype=np.float32)  # no float64 temporary
    assert _ulps(np.float32(y), reference.logsumexp(x.astype(np.float64))) <= 1


# --- 6. parameter and variant validation -------------------------------------------

@pytest.mark.parametrize("value", [10**400, -10**400])
def test_parameter_beyond_float_range_is_a_value_error(value):
    with pytest.raises(ValueError, match="leaky_relu: negative_slope"):
        fastact.leaky_relu(np.ones(3), value)
    with pytest.raises(ValueError, match="softplus: threshold"):
        fastact.softplus(np.ones(3), threshold=value)


_VARIANT_PROBE = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import fastact
    first = fastact.backends()
    second = fastact.backends()
from fastact._cython import backend
try:
    chosen = backend.variant()
except ValueError:
    chosen = None
print(json.dumps({"backends": second, "variant": chosen,
                  "warnings": [[w.category.__name__, str(w.message)] for w in caught]}))
"""


def test_unknown_cpu_variant_warns_once():
    result = _run(_VARIANT_PROBE, FASTACT_CPU_VARIANT="foo")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "cython" not in report["backends"] and report["variant"] is None
    relevant = [w for w in report["warnings"] if "FASTACT_CPU_VARIANT" in w[1]]
    assert len(relevant) == 1, report["warnings"]
    category, message = relevant[0]
    assert category == "RuntimeWarning"
    assert "'foo'" in message and all(v in message for v in ("baseline", "avx2", "avx512"))


@pytest.mark.skipif("cython" not in fastact.backends(), reason="backend cython not available")
def test_cpu_variant_name_is_case_insensitive():
    from fastact._cython import backend
    chosen = backend.variant().removeprefix("_kernels_")
    result = _run(_VARIANT_PROBE, FASTACT_CPU_VARIANT=chosen.upper())
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "cython" in report["backends"] and report["variant"] == f"_kernels_{chosen}"
    assert not [w for w in report["warnings"] if "FASTACT_CPU_VARIANT" in w[1]]


@pytest.mark.parametrize("backend", [b for b in ("numba", "cython") if b in fastact.backends()])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_results_equal_out_of_place(backend, dtype):
    """out=x gives the very bits of a new result (Numba's in-place loop used to take LLVM's
    scalar fallback: 2.7x slower, float64 gelu up to 2 ulp different), serial and parallel."""
    x = np.random.default_rng(7).normal(scale=4, size=2 ** 16 + 3).astype(dtype)
    for op in (op for op in fastact.OPS if op.kind == "elementwise"):
        for params in op.test_params:
            f = getattr(fastact, op.name)
            for n in (1000, x.size):
                a = x[:n].copy()
                expected = f(a, **params, backend=backend)
                assert f(a, **params, out=a, backend=backend) is a
                np.testing.assert_array_equal(a, expected, err_msg=f"{op.name} {params} {n}")


@pytest.mark.parametrize("backend", fastact.backends())
@pytest.mark.parametrize("call, message", [
    (lambda x, b: fastact.celu(x, 1e300, backend=b), r"celu: alpha=1e\+300 is beyond float32"),
    (lambda x, b: fastact.elu(x, -1e300, backend=b), r"elu: alpha=-1e\+300 is beyond float32"),
    (lambda x, b: fastact.softplus(x, beta=1e300, backend=b), r"softplus: beta=1e\+300"),
    (lambda x, b: fastact.leaky_relu_backward(x, x, 1e39, backend=b), r"negative_slope=1e\+39"),
])
def test_float32_parameter_beyond_float32_is_rejected_alike(backend, call, message):
    """A finite parameter that would be inf in a float32 kernel (NaN where the float64
    reference is finite) is a ValueError on every backend; float64 x takes it."""
    x = np.array([-1.0, -0.0, 0.0, 2.0], np.float32)
    with pytest.raises(ValueError, match=message):
        call(x, backend)
    call(x.astype(np.float64), backend)  # float64 computes with it
    # softplus's threshold may be inf, so a larger finite one means the same
    np.testing.assert_array_equal(fastact.softplus(x, threshold=1e300, backend=backend),
                                  fastact.softplus(x, threshold=np.inf, backend=backend))


@pytest.mark.parametrize("backend", fastact.backends())
def test_prelu_with_no_channels_takes_an_empty_weight(backend):
    x = np.zeros((5, 0), np.float32)
    assert fastact.prelu(x, np.zeros(0, np.float32), backend=backend).shape == (5, 0)
    grad_input, grad_weight = fastact.prelu_backward(x, x, np.zeros(0, np.float32),
                                                     backend=backend)
    assert grad_input.shape == (5, 0) and grad_weight.shape == (0,)
    with pytest.raises(ValueError, match="weight is empty"):
        fastact.prelu(np.ones((5, 2), np.float32), np.zeros(0, np.float32), backend=backend)


@pytest.mark.parametrize("backend", [b for b in ("cython", "numba") if b in fastact.backends()])
def test_strided_calls_release_the_gil(backend):
    """While one Python thread computes a long strided gelu, another keeps running Python:
    the kernels run without the GIL (NumPy releases it around the ufuncs' loops; the old
    Cython general path held it, and two threads got 0.80x one thread's throughput)."""
    import threading

    x = np.random.default_rng(0).normal(size=2 ** 23).astype(np.float32)[::2]
    fastact.gelu(x[:10], backend=backend)  # compile/warm
    done = threading.Event()

    def work():
        with fastact.num_threads(1):
            for _ in range(3):
                fastact.gelu(x, backend=backend)
        done.set()

    worker = threading.Thread(target=work)
    count = 0
    worker.start()
    while not done.is_set():
        count += 1
    worker.join()
    # about a million with the GIL released; with it held, only the switches between calls
    assert count > 10000, count
