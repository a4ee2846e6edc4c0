"""Thread settings; calling fastact from several Python threads, from child processes
(fork, spawn, forkserver) and across Ctrl-C."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
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
    ok = ok and np.allclose(z, reference.softmax(x.reshape(-1, 1024)), rtol=1e-5, atol=1e-30)
    queue.put((ok, fastact.get_num_threads()))


@pytest.mark.parametrize("method", [m for m in ("fork", "spawn", "forkserver")
                                    if m in multiprocessing.get_all_start_methods()])
@pytest.mark.parametrize("backend", BACKENDS)
def test_child_process_after_parallel_work_in_the_parent(backend, method):
    """A child made by fork after the parent's OpenMP/Numba threads ran (the hard case: the
    pool does not survive a fork, so a forked child runs serially), or by spawn or
    forkserver (a fresh interpreter: the usual thread count), computes correctly and
    does not hang."""
    with fastact.num_threads(2):
        _work(backend, 0)  # start the parent's thread pool first
    context = multiprocessing.get_context(method)
    queue = context.Queue()
    child = context.Process(target=_child, args=(backend, queue))
    child.start()
    try:
        ok, threads = queue.get(timeout=300)
    except Exception:  # noqa: BLE001  (queue.Empty: the child hung or died)
        ok, threads = None, None
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail(f"{backend}: the {method} child hung")
    assert ok and child.exitcode == 0, (method, ok, child.exitcode)
    assert threads == (1 if method == "fork" else fastact.get_num_threads())


# 8 jobs: (op, backend, threads, arguments maker); large inputs run on the thread pools,
# small ones serially; contiguous, strided and along-axis-0 paths.
def _jobs():
    rng = np.random.default_rng(11)
    big = rng.normal(size=LARGE).astype(np.float32)
    rows = rng.normal(size=(256, 1024)).astype(np.float32)
    small = rng.normal(size=(7, 9))
    channels = rng.normal(size=(4, 3, LARGE // 8)).astype(np.float32)
    weight = np.array([0.1, -0.2, 0.3], np.float32)
    lse = fastact.logsumexp(rows, backend="numpy")
    compiled = [b for b in BACKENDS if b != "numpy"] or ["numpy"]
    pick = lambda k: compiled[k % len(compiled)]  # noqa: E731
    return [
        (pick(0), 2, lambda b: fastact.gelu(big, backend=b)),
        (pick(1), 2, lambda b: fastact.softmax(rows, backend=b)),
        (pick(0), 2, lambda b: fastact.prelu_backward(channels, channels, weight, backend=b)),
        (pick(1), 1, lambda b: fastact.logsumexp_backward(lse, rows, lse, backend=b)),
        ("numpy", 1, lambda b: fastact.mish(small, backend=b)),
        (pick(0), 1, lambda b: fastact.sigmoid(big[::3], backend=b)),
        (pick(1), 2, lambda b: fastact.log_softmax(rows, axis=0, backend=b)),
        (pick(0), 2, lambda b: fastact.maxout(rows, 4, backend=b)),
    ]


def _same(a, b):
    if isinstance(a, tuple):
        return all(_same(p, q) for p, q in zip(a, b))
    return np.array_equal(a, b)


def test_eight_python_threads_in_their_own_contexts_match_a_serial_run():
    """8 threads, each inside its own use_backend and num_threads context, call different
    ops for a few seconds; every result equals the same call's result in a serial run, and
    no thread's context leaks into another's."""
    jobs = _jobs()
    expected = []
    for backend, threads, job in jobs:
        with fastact.use_backend(backend), fastact.num_threads(threads):
            expected.append(job(None))

    def run(index):
        backend, threads, job = jobs[index]
        calls, deadline = 0, time.monotonic() + 3.0
        with fastact.use_backend(backend), fastact.num_threads(threads):
            while calls < 5 or time.monotonic() < deadline:
                got = job(None)
                assert fastact.get_backend() == backend and fastact.get_num_threads() == threads
                if not _same(got, expected[index]):
                    return f"job {index} ({backend}, {threads} threads): call {calls} differs"
                calls += 1
        return calls

    with ThreadPoolExecutor(len(jobs)) as pool:
        outcomes = list(pool.map(run, range(len(jobs))))
    assert all(isinstance(o, int) for o in outcomes), outcomes


_INTERRUPTED = """
import signal, sys, time, numpy as np, fastact
# Python's own handler, even where the parent runs with SIGINT ignored (a background job
# of a shell without job control: the child would inherit SIG_IGN)
signal.signal(signal.SIGINT, signal.default_int_handler)
backend = sys.argv[1]
x = np.random.default_rng(0).normal(size=(4096, 1024)).astype(np.float32)
out = np.empty_like(x)
fastact.softmax(x, axis=0, out=out, backend=backend)  # imports and loads all it needs first
try:
    with fastact.num_threads(2):
        print("ready", flush=True)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # long calls: softmax down the columns
            fastact.softmax(x, axis=0, out=out, backend=backend)
    print("not interrupted", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
small = np.linspace(-3, 3, 7)
ok = np.allclose(fastact.gelu(small, backend=backend), fastact.gelu(small, backend="numpy"))
with fastact.num_threads(2):
    y = fastact.softmax(x, axis=0, backend=backend)
ok = ok and np.allclose(y, fastact.softmax(x, axis=0, backend="numpy"), rtol=1e-5, atol=1e-30)
print("usable" if ok else "wrong results", flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_interrupts_a_loop_of_long_calls_and_the_process_stays_usable(backend):
    """SIGINT during long (threaded) calls: KeyboardInterrupt reaches Python when the call
    returns, and the process then computes correctly, on the thread pool too."""
    child = subprocess.Popen([sys.executable, "-c", _INTERRUPTED, backend], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # into the loop of calls (no timing is asserted)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert out.split() == ["interrupted", "usable"], (out, err[-2000:])
    assert child.returncode == 0


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


@pytest.mark.skipif("cython" not in BACKENDS, reason="the Cython backend is not built")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cython_elementwise_threads_give_the_serial_bits(dtype):
    """Each thread runs the serial loop on a chunk that is a multiple of 64 elements, so
    every element (those in a vector loop's scalar tail too, which some kernels round
    differently) is computed as in the serial loop: the same bits on 1 and 2 threads,
    for every elementwise op and parameter set, with celu's negative alpha besides."""
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((1 << 16) + 4099) * 4).astype(dtype)
    g = rng.standard_normal(x.size).astype(dtype)
    for op in (op for op in fastact.OPS if op.kind == "elementwise"):
        extra = ({"alpha": -1.5},) if op.name == "celu" else ()
        for params in op.test_params + extra:
            for fn, args in ((getattr(fastact, op.name), (x,)),
                             (getattr(fastact, op.backward_name), (g, x))):
                with fastact.num_threads(1):
                    serial = fn(*args, **params, backend="cython")
                with fastact.num_threads(2):
                    threaded = fn(*args, **params, backend="cython")
                np.testing.assert_array_equal(threaded, serial,
                                              err_msg=f"{fn.__name__} {params}", strict=True)
