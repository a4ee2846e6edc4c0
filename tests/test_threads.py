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
