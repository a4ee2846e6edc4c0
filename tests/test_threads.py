"""Thread settings, and calling fastact from several threads and from a forked child."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastact
from fastact import reference

BACKENDS = fastact.backends()
LARGE = 1 << 18  # above every backend's parallel threshold


def test_thread_settings():
    before = fastact.get_num_threads()
    with fastact.num_threads(1):
        assert fastact.get_num_threads() == 1
    assert fastact.get_num_threads() == before
    fastact.set_num_threads(1)
    try:
        assert fastact.get_num_threads() == 1
    finally:
        fastact.set_num_threads(before)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive integer"):
            fastact.set_num_threads(bad)


def test_environment_variable_sets_threads():
    env = {**os.environ, "FASTACT_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", "import fastact; print(fastact.get_num_threads())"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.stdout.strip() == "1", result.stderr
    env["FASTACT_NUM_THREADS"] = "zero"
    result = subprocess.run([sys.executable, "-c", "import fastact"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode != 0 and "FASTACT_NUM_THREADS" in result.stderr


def _work(backend, seed):
    x = np.random.default_rng(seed).normal(size=LARGE).astype(np.float32)
    y = fastact.gelu(x, approximate="tanh", backend=backend)
    z = fastact.softmax(x.reshape(-1, 1024), backend=backend)
    return x, y, z


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_calls_from_python_threads(backend):
    with fastact.num_threads(2), ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda seed: _work(backend, seed), range(8)))
    for x, y, z in results:
        np.testing.assert_allclose(y, reference.gelu(x, approximate="tanh"), rtol=1e-5, atol=1e-30)
        np.testing.assert_allclose(z, reference.softmax(x.reshape(-1, 1024)), rtol=1e-5,
                                   atol=1e-30)


def _child(backend, queue):
    x, y, z = _work(backend, 1)
    ok = np.allclose(y, reference.gelu(x, approximate="tanh"), rtol=1e-5, atol=1e-30)
    queue.put((ok, fastact.get_num_threads()))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("backend", BACKENDS)
def test_forked_child_after_parallel_work_in_the_parent(backend):
    with fastact.num_threads(2):
        _work(backend, 0)  # start the parent's thread pool first: the hard case
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(backend, queue))
    child.start()
    child.join(timeout=120)
    if child.is_alive():
        child.kill()
        pytest.fail(f"{backend}: the forked child hung")
    ok, threads = queue.get(timeout=5)
    assert ok and threads == 1 and child.exitcode == 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, axis", [((LARGE,), None), ((3, 5, 20000), 1), ((2, LARGE // 4, 3), 1)],
                         ids=["one-long-channel", "channels-longer-than-a-chunk", "many-short-channels"])
def test_prelu_in_parallel_matches_the_reference_and_does_not_depend_on_threads(backend, shape, axis):
    rng = np.random.default_rng(5)
    x = rng.normal(size=shape).astype(np.float32)
    g = rng.normal(size=shape).astype(np.float32)
    channels = 1 if axis is None else shape[axis]
    weight = rng.uniform(-0.5, 0.5, size=channels).astype(np.float32)
    kwargs = {} if axis is None else {"axis": axis}
    results = {}
    for threads in (1, 2):
        with fastact.num_threads(threads):
            y = fastact.prelu(x, weight, **kwargs, backend=backend)
            results[threads] = fastact.prelu_backward(g, x, weight, **kwargs, backend=backend)
        np.testing.assert_array_equal(y, reference.prelu(x, weight, 0 if axis is None else axis))
    grad_input, grad_weight = results[1]
    want_input, want_weight = reference.prelu_backward(g, x, weight, 0 if axis is None else axis)
    np.testing.assert_array_equal(grad_input, want_input)
    # float32 products summed in chunks (vectorised), the chunks' sums in float64
    others = tuple(i for i in range(x.ndim) if i != axis)
    scale = np.sum(np.abs(np.where(x > 0, 0, x.astype(np.float64) * g)), axis=others)
    assert np.all(np.abs(grad_weight - want_weight) <= 1e-6 * scale)
    np.testing.assert_array_equal(results[2][0], grad_input)
    np.testing.assert_array_equal(results[2][1], grad_weight)
