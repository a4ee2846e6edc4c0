"""More than 2^31 elements through the compiled kernels (issue 16): every index 64-bit.

    python bench/stress_huge.py                        # 2^31 + 7 float32 elements: 8 GiB
    python bench/stress_huge.py --elements 1000003 --row 500001 --backends cython

1. A float32 array of ``--elements`` entries (default 2^31 + 7) goes through relu, gelu
   and sigmoid in place (out=x), on one thread and on two, for each backend.
2. logsumexp, then softmax in place, of the first 2 * ``--row`` entries as a
   (2, ``--row``) array (default 2^30 + 3 per row).

The input is a pattern of period 997 (no power of two divides it), filled anew before
each op, so an element read or written through a 32-bit (wrapped) index holds another
element's value.  Checked: the first and last 8 elements, those around 2^30 and 2^31
and 2^18 random ones.  Elementwise ops: against the float64 reference under the mixed
bound (fastact.accuracy), within FAST_MAX_ULPS.  Rows: entries in [-7.97, 0] with max 0
(x - max is exact, as in tests/test_defects.py), so in plain ulps against a float64 max
and sum accumulated in chunks, within FAST_MAX_ULPS.  Peak memory: the array (8 GiB by
default) plus ~1 GiB.

Each op is called once on 2^17 elements first (Numba compiles or loads its kernels then),
so the times are the kernels'.  Prints one line per run (seconds, not counting the fill)
and, with --json, saves them.  Exit status 0 when every check holds.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np

import fastact
from fastact.accuracy import FAST_MAX_ULPS, forward_errors
from fastact.catalogue import OPS_BY_NAME

PERIOD = 997
CHUNK = 1 << 24


def pattern_at(idx: np.ndarray) -> np.ndarray:
    """The elementwise input's values at indices ``idx``, in float64: [-4.98, 4.98]."""
    return ((idx % PERIOD) - PERIOD // 2) / 100.0


def row_pattern_at(idx: np.ndarray) -> np.ndarray:
    """The rows' values at (flat) indices ``idx``: [-7.97, 0], each row's max 0."""
    return -(idx % PERIOD) / 125.0


def fill(x: np.ndarray, at=pattern_at) -> None:
    flat = x.reshape(-1)
    for start in range(0, flat.size, CHUNK):
        stop = min(start + CHUNK, flat.size)
        flat[start:stop] = at(np.arange(start, stop, dtype=np.int64))


def warm_up(call, threads: int) -> None:
    """One call on 2^17 float32 elements (above the parallel threshold)."""
    with fastact.num_threads(threads):
        call(np.zeros((2, 1 << 16), np.float32))


def sample_indices(n: int, seed: int = 0) -> np.ndarray:
    """The ends, the neighbourhoods of 2^30 and 2^31, and 2^18 random indices below n."""
    fixed = [np.arange(min(8, n)), np.arange(max(n - 8, 0), n)]
    for edge in (1 << 30, 1 << 31):
        fixed.append(np.arange(edge - 4, edge + 4))
    random = np.random.default_rng(seed).integers(0, n, 1 << 18) if n else np.empty(0, int)
    idx = np.concatenate(fixed + [random]).astype(np.int64)
    return np.unique(idx[(idx >= 0) & (idx < n)])


def ulps(got: np.ndarray, exact: np.ndarray) -> float:
    """Largest plain error in float32 ulps of the exact values."""
    got = got.astype(np.float64)
    if not got.size:
        return 0.0
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    tiny = float(np.finfo(np.float32).tiny)
    diff = np.abs(got - exact)
    diff = np.where((np.abs(exact) < tiny) & (diff <= tiny), 0.0, diff)
    return float(np.max(diff / spacing))


def elementwise(x: np.ndarray, backend: str, name: str, threads: int) -> dict:
    fn = getattr(fastact, name)
    warm_up(lambda a: fn(a, out=a, backend=backend), threads)
    fill(x)
    with fastact.num_threads(threads):
        start = time.perf_counter()
        result = fn(x, out=x, backend=backend)
        seconds = time.perf_counter() - start
    assert result is x
    idx = sample_indices(x.size)
    given = pattern_at(idx).astype(np.float32)
    error = float(np.max(forward_errors(OPS_BY_NAME[name], {}, given, x[idx])[0], initial=0))
    return {"op": name, "backend": backend, "threads": threads, "shape": list(x.shape),
            "seconds": round(seconds, 3), "max_ulps": round(error, 3),
            "last": [float(v) for v in x[-3:]], "ok": error <= FAST_MAX_ULPS}


def row_stats(rows: np.ndarray):
    """Each row's max and sum of exp(x - max), accumulated in float64 chunk by chunk."""
    maxima, sums = [], []
    for row in rows:
        m = max(float(row[s:s + CHUNK].max()) for s in range(0, row.size, CHUNK))
        total = 0.0
        for s in range(0, row.size, CHUNK):
            total += float(np.sum(np.exp(row[s:s + CHUNK].astype(np.float64) - m)))
        maxima.append(m)
        sums.append(total)
    return np.array(maxima), np.array(sums)


def rows(x: np.ndarray, backend: str, row: int, threads: int) -> list[dict]:
    x2 = x.reshape(-1)[:2 * row].reshape(2, row)
    warm_up(lambda a: fastact.logsumexp(a, backend=backend), threads)
    warm_up(lambda a: fastact.softmax(a, out=a, backend=backend), threads)
    fill(x2, row_pattern_at)
    m, s = row_stats(x2)
    lse_exact = m + np.log(s)
    out = []
    with fastact.num_threads(threads):
        start = time.perf_counter()
        lse = fastact.logsumexp(x2, backend=backend)
        seconds = time.perf_counter() - start
    error = ulps(np.asarray(lse), lse_exact)
    out.append({"op": "logsumexp", "backend": backend, "threads": threads, "shape": [2, row],
                "seconds": round(seconds, 3), "max_ulps": round(error, 3),
                "last": [float(v) for v in lse], "ok": error <= FAST_MAX_ULPS})
    idx = sample_indices(row, seed=1)
    before = [x2[r, idx].astype(np.float64) for r in range(2)]
    with fastact.num_threads(threads):
        start = time.perf_counter()
        result = fastact.softmax(x2, out=x2, backend=backend)
        seconds = time.perf_counter() - start
    assert result is x2
    error = max(ulps(x2[r, idx], np.exp(before[r] - m[r]) / s[r]) for r in range(2))
    out.append({"op": "softmax", "backend": backend, "threads": threads, "shape": [2, row],
                "seconds": round(seconds, 3), "max_ulps": round(error, 3),
                "last": [float(v) for v in x2[1, -3:]], "ok": error <= FAST_MAX_ULPS})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--elements", type=int, default=(1 << 31) + 7)
    parser.add_argument("--row", type=int, default=(1 << 30) + 3)
    parser.add_argument("--backends", default=",".join(b for b in fastact.backends()
                                                       if b != "numpy"))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--json", help="save the runs here")
    args = parser.parse_args(argv)
    if 2 * args.row > args.elements:
        parser.error("--row: two rows must fit in --elements")
    x = np.empty(args.elements, np.float32)
    runs = []
    for backend in args.backends.split(","):
        for threads in (int(t) for t in args.threads.split(",")):
            for name in ("relu", "gelu", "sigmoid"):
                runs.append(elementwise(x, backend, name, threads))
                print(json.dumps(runs[-1]), flush=True)
            for run in rows(x, backend, args.row, threads):
                runs.append(run)
                print(json.dumps(run), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": platform.processor() or platform.machine(),
                       "elements": args.elements, "row": args.row, "runs": runs}, f, indent=1)
    failed = [r for r in runs if not r["ok"]]
    print(f"{len(runs) - len(failed)}/{len(runs)} runs within {FAST_MAX_ULPS} ulp")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
