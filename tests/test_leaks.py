"""No leaks (issue 16): a million calls on small arrays, and a hundred thousand that raise,
leave the resident set size where warm-up left it.

Slow (about two minutes per compiled backend): ``python -m pytest -m slow tests/test_leaks.py``.
FASTACT_LEAK_CALLS sets the number of successful calls per op and variant (default 10^6;
the raising calls are a tenth of it).  Each backend is measured in a fresh interpreter,
so nothing else the test session allocates moves the figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import fastact

CALLS = int(os.environ.get("FASTACT_LEAK_CALLS", 10**6))
LIMIT = 1 << 20  # bytes of RSS growth allowed after warm-up
# The compiled backends (C and LLVM code that could leak); 'numpy' is the reference in pure
# NumPy, 30 us a call: 8 million of them would take four minutes for nothing new.
COMPILED = [b for b in fastact.backends() if b != "numpy"]

_MEASURE = r"""
import gc, json, os, sys
import numpy as np
import fastact

backend, calls = sys.argv[1], int(sys.argv[2])
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


rng = np.random.default_rng(0)
x = rng.normal(size=(4, 8)).astype(np.float32)
g = rng.normal(size=(4, 8)).astype(np.float32)
w = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
lse = fastact.logsumexp(x, backend=backend)
glse = np.ones_like(lse)
out = np.empty_like(x)
out_w = np.empty_like(x)

successful = {
    "gelu": lambda: fastact.gelu(x, backend=backend),
    "gelu out=": lambda: fastact.gelu(x, out=out, backend=backend),
    "softmax": lambda: fastact.softmax(x, backend=backend),
    "softmax out=": lambda: fastact.softmax(x, out=out, backend=backend),
    "prelu_backward": lambda: fastact.prelu_backward(g, x, w, axis=0, backend=backend),
    "prelu_backward out=": lambda: fastact.prelu_backward(g, x, w, axis=0, out=out_w,
                                                          backend=backend),
    "logsumexp_backward": lambda: fastact.logsumexp_backward(glse, x, lse, backend=backend),
    "logsumexp_backward out=": lambda: fastact.logsumexp_backward(glse, x, lse, out=out,
                                                                  backend=backend),
}
raising = [
    lambda: fastact.softmax(x, axis=3, backend=backend),
    lambda: fastact.gelu(x.astype(complex), backend=backend),
    lambda: fastact.gelu(x, out=np.empty(3, np.float32), backend=backend),
    lambda: fastact.celu(x, alpha=0.0, backend=backend),
    lambda: fastact.prelu_backward(g, x, np.ones(5, np.float32), axis=0, backend=backend),
    lambda: fastact.logsumexp_backward(glse, x, np.ones(3, np.float32), backend=backend),
]


def run_raising(n):
    for i in range(n):
        try:
            raising[i % len(raising)]()
        except (TypeError, ValueError):
            pass
        else:
            raise AssertionError("did not raise")


growth = {}
for name, call in successful.items():
    for _ in range(calls // 100 + 1000):  # warm-up: caches, free lists, arenas
        call()
    before = rss()
    for _ in range(calls):
        call()
    growth[name] = rss() - before
run_raising(calls // 100 + 1000)
before = rss()
run_raising(calls // 10)
growth["raising"] = rss() - before
print(json.dumps(growth))
"""


def measure(backend: str, calls: int = CALLS) -> dict:
    """RSS growth in bytes per phase, measured in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", _MEASURE, backend, str(calls)],
                            capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc/self/statm")
@pytest.mark.parametrize("backend", COMPILED)
def test_a_million_calls_and_a_hundred_thousand_errors_do_not_grow_rss(backend):
    growth = measure(backend)
    print(backend, {k: f"{v / 1024:.0f} KiB" for k, v in growth.items()})
    assert all(v < LIMIT for v in growth.values()), growth


if __name__ == "__main__":  # python tests/test_leaks.py [calls]: the figures for every backend
    n = int(sys.argv[1]) if len(sys.argv) > 1 else CALLS
    for name in COMPILED:
        print(name, {k: f"{v / 1024:.0f} KiB" for k, v in measure(name, n).items()})
