"""fastact bench --dask: fastact on Dask arrays larger than memory, on a LocalCluster
of worker processes and on Dask's threaded scheduler.

Three computations on a float32 array of ``--elements`` (default 2^30, 4 GiB) in chunks
of about ``--chunk-mib`` (default 64 MiB), each block made inside the graph from 2^16
random values (the client never holds the array), each result reduced to a scalar by a
sum, so nothing but a number comes back:

* GELU forward, and GELU backward (grad_output generated alike);
* softmax along axis 1, an axis split into 4 chunks (the tree reduction).

Each is timed as fastact writes it (``fastact.gelu(x)``) and, for the ops of
``--baseline`` (default GELU forward and softmax), as a user writes it today with NumPy
operations inside dask.array (scipy.special.erf for GELU; exp, max, sum for softmax), on a LocalCluster (``--workers`` processes, 1 thread each,
FASTACT_NUM_THREADS=1) and on the threaded scheduler (as many threads as cores,
fastact at 1 thread); and against single-process fastact on as many elements as fit
(``--single-elements``, default 2^28: 2^30 float32 in and out would need 8 GiB).
"floor" is the time to generate the data and sum it without any op.  GB/s counts the
bytes the op itself reads and writes (GELU 8 per element, its backward 12, softmax 8).
Peak worker memory is the largest resident set of any worker (polled every 0.1 s), also
in chunks: it stays at a few chunks, as the cluster never holds the whole array.

    fastact bench --dask                         # 2^30 elements, about 2 minutes on 2 cores
    fastact bench --dask --elements 26 --json dask.json
    python bench/dask_scale.py --elements 26     # the same, with the results file's default
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import threading
import time

import numpy as np

from fastact import _cpu

SQRT_HALF = 0.7071067811865476
INV_SQRT_2PI = 0.3989422804014327
BYTES = {"gelu": 8, "gelu_backward": 12, "softmax": 8}
AXIS_CHUNKS = 4  # softmax's axis is split into this many chunks


def add_arguments(parser, results_default=None):
    """The options of the Dask benchmark (``fastact bench --dask`` and bench/dask_scale.py)."""
    parser.add_argument("--elements", type=int, default=30,
                        help="array size as a power of two (default 30: 2^30 float32, 4 GiB)")
    parser.add_argument("--chunk-mib", type=float, default=64.0,
                        help="chunk size in MiB (default 64)")
    parser.add_argument("--workers", type=int, default=2,
                        help="LocalCluster worker processes, 1 thread each (default 2)")
    parser.add_argument("--single-elements", type=int, default=28,
                        help="single-process fastact's size as a power of two (default 28)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time each computation this many times, keep the fastest "
                             "(default 1; a shared machine's noise wants more)")
    parser.add_argument("--schedulers", default="cluster,threads",
                        help="cluster and/or threads (default both)")
    parser.add_argument("--baseline", default="gelu,softmax",
                        help="ops also timed as dask.array with NumPy: gelu, gelu_backward, "
                             "softmax or all (default gelu,softmax)")
    parser.add_argument("--baseline-elements", type=int, default=28,
                        help="dask.array with NumPy runs on the first 2^N elements' rows "
                             "(default 28: NumPy's GELU runs at a tenth of fastact's speed, "
                             "and the default run stays under 2 minutes)")
    if results_default is not None:
        parser.add_argument("--json", metavar="FILE", default=results_default,
                            help=f"write the results as JSON (default {results_default})")


def layout(elements: int, chunk_mib: float):
    """(shape, chunks) of a 2-D float32 array of ``elements`` with chunks of about
    ``chunk_mib``, its axis 1 split into AXIS_CHUNKS chunks."""
    chunk = max(1, int(chunk_mib * 2 ** 20) // 4)
    column_chunk = max(1, 2 ** round(math.log2(max(1.0, math.sqrt(chunk)))))
    columns = min(elements, AXIS_CHUNKS * column_chunk)
    rows = max(1, elements // columns)
    row_chunk = max(1, min(rows, chunk // column_chunk))
    return (rows, columns), (row_chunk, min(columns, column_chunk))


# --- the computations -----------------------------------------------------------

PATTERN = 1 << 16  # random values per block, tiled over it


def _block(seed, block_info=None):
    """A block of values in [-6, 6) (GELU's interesting range): 2^16 random values seeded
    by the block's position, tiled.  (dask.array.random's generator took 360 ms per
    64 MiB chunk here, 6x GELU itself: the benchmark would have timed it.)"""
    info = block_info[None]
    shape = info["chunk-shape"]
    rng = np.random.default_rng([seed, *info["chunk-location"]])
    pattern = rng.random(PATTERN, dtype=np.float32) * np.float32(12) - np.float32(6)
    return np.resize(pattern, shape)


def _inputs(shape, chunks):
    """x and grad_output, made block by block inside the graph: the client holds nothing."""
    import dask.array as da

    return tuple(da.map_blocks(_block, seed, chunks=da.core.normalize_chunks(chunks, shape),
                               dtype=np.float32, meta=np.empty((0, 0), np.float32),
                               name=f"values-{seed}")
                 for seed in (0, 1))


def _numpy_gelu(x):
    from scipy import special

    return x * (0.5 * (1 + special.erf(x * np.float32(SQRT_HALF))))


def _numpy_gelu_backward(g, x):
    import dask.array as da
    from scipy import special

    cdf = 0.5 * (1 + special.erf(x * np.float32(SQRT_HALF)))
    return g * (cdf + x * (np.float32(INV_SQRT_2PI) * da.exp(-0.5 * x * x)))


def _numpy_softmax(x, axis):
    import dask.array as da

    e = da.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def computations(x, g, baseline=tuple(BYTES), baseline_rows=None):
    """name -> {implementation: (the lazy scalar, elements)}; dask+NumPy for the ops in
    ``baseline``,
    on the first ``baseline_rows`` rows (default all)."""
    import fastact

    xb, gb = x[:baseline_rows], g[:baseline_rows]
    works = {
        "gelu": {"fastact": fastact.gelu(x), "dask+numpy": _numpy_gelu(xb)},
        "gelu_backward": {"fastact": fastact.gelu_backward(g, x),
                          "dask+numpy": _numpy_gelu_backward(gb, xb)},
        "softmax": {"fastact": fastact.softmax(x, axis=1), "dask+numpy": _numpy_softmax(xb, 1)},
        "floor": {"none": x + g},
    }
    return {name: {impl: (lazy.sum(), lazy.size) for impl, lazy in impls.items()
                   if impl != "dask+numpy" or name in baseline}
            for name, impls in works.items()}


# --- memory ------------------------------------------------------------------------

class PeakMemory:
    """Polls ``sample() -> {who: rss bytes}`` every ``interval`` s in a thread; ``peak``
    is each one's largest value while the block ran."""

    def __init__(self, sample, interval=0.1):
        self.sample, self.interval, self.peak = sample, interval, {}
        self._stop = threading.Event()

    def _poll(self):
        while not self._stop.is_set():
            try:
                for who, rss in self.sample().items():
                    self.peak[who] = max(self.peak.get(who, 0), rss)
            except Exception:  # a worker restarting or closing: skip this sample
                pass
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _timed(compute, sample, repeat=1):
    """(fastest seconds of ``repeat``, peak rss of any process in bytes, idle rss before)."""
    idle = max(sample().values())
    times = []
    with PeakMemory(sample) as memory:
        for _ in range(repeat):
            started = time.perf_counter()
            compute()
            times.append(time.perf_counter() - started)
    return min(times), max(memory.peak.values(), default=idle), idle


def _rows_for(scheduler, works, compute, sample, chunk_bytes, progress, repeat=1):
    rows = []
    for name, impls in works.items():
        for impl, (lazy, elements) in impls.items():
            seconds, peak, idle = _timed(lambda: compute(lazy), sample, repeat)
            row = {"scheduler": scheduler, "op": name, "impl": impl, "seconds": seconds,
                   "elements": elements, "peak_mib": peak / 2 ** 20, "idle_mib": idle / 2 ** 20,
                   "peak_chunks": (peak - idle) / chunk_bytes}
            if name in BYTES:
                row["gbs"] = elements * BYTES[name] / seconds / 1e9
            rows.append(row)
            if progress:
                print(f"  {scheduler:8} {name:14} {impl:11} {seconds:7.2f} s  2^"
                      f"{math.log2(elements):.0f} elements, peak {peak / 2 ** 20:6.0f} MiB",
                      flush=True)
    return rows



def run_cluster(shape, chunks, workers, baseline, baseline_rows, repeat=1, progress=True):
    import dask
    import distributed

    chunk_bytes = math.prod(chunks) * 4
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40,
                                  env={"FASTACT_NUM_THREADS": "1"}) as cluster, \
            distributed.Client(cluster) as client:
        def sample():
            return client.run(_rss)

        def compute(lazy):
            return dask.compute(lazy, scheduler=client)

        x, g = _inputs(shape, chunks)
        _warm(compute)
        return _rows_for("cluster", computations(x, g, baseline, baseline_rows), compute,
                         sample, chunk_bytes, progress, repeat)


def run_threads(shape, chunks, baseline, baseline_rows, repeat=1, progress=True):
    import dask

    import fastact

    chunk_bytes = math.prod(chunks) * 4
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def compute(lazy):
        return dask.compute(lazy, scheduler="threads", num_workers=threads)

    before = fastact.get_num_threads()
    fastact.set_num_threads(1)  # Dask's threads are the parallelism (no oversubscription)
    try:
        x, g = _inputs(shape, chunks)
        _warm(compute)
        return _rows_for("threads", computations(x, g, baseline, baseline_rows), compute,
                         lambda: {"self": _rss()}, chunk_bytes, progress, repeat)
    finally:
        fastact.set_num_threads(before)


def _warm(compute):
    """Load the kernels and libraries in every process before timing."""
    x, g = _inputs((64, 64), (32, 32))
    compute([lazy for impls in computations(x, g).values() for lazy, _ in impls.values()])


def run_single(elements, columns, repeat=1, progress=True):
    """Single-process fastact on ``elements`` (at all cores), rows of ``columns``."""
    import fastact

    shape = (max(1, elements // columns), columns)
    rng = np.random.default_rng(0)
    x = rng.random(shape, dtype=np.float32) * 12 - 6
    g = rng.random(shape, dtype=np.float32) * 12 - 6
    cases = {"gelu": lambda: fastact.gelu(x), "gelu_backward": lambda: fastact.gelu_backward(g, x),
             "softmax": lambda: fastact.softmax(x, axis=1)}
    rows = []
    for name, fn in cases.items():
        fn()  # warm
        seconds = math.inf
        for _ in range(repeat):
            started = time.perf_counter()
            fn()
            seconds = min(seconds, time.perf_counter() - started)
        n = x.size
        rows.append({"scheduler": "single-process", "op": name, "impl": "fastact",
                     "seconds": seconds, "elements": n, "gbs": n * BYTES[name] / seconds / 1e9,
                     "threads": fastact.get_num_threads()})
        if progress:
            print(f"  {'single':8} {name:14} {'fastact':11} {seconds:7.2f} s  (2^"
                  f"{int(math.log2(n))} elements, {fastact.get_num_threads()} threads)",
                  flush=True)
    del x, g
    return rows


def format_table(rows, chunk_mib) -> str:
    lines = ["| scheduler | op | implementation | elements | seconds | GB/s | peak worker MiB "
             f"| above idle, in {chunk_mib:g} MiB chunks |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        gbs = f"{r['gbs']:.2f}" if "gbs" in r else "–"
        peak = f"{r['peak_mib']:.0f}" if "peak_mib" in r else "–"
        chunks = f"{r['peak_chunks']:.1f}" if "peak_chunks" in r else "–"
        lines.append(f"| {r['scheduler']} | {r['op']} | {r['impl']} | 2^{r['elements_log2']:g} "
                     f"| {r['seconds']:.2f} "
                     f"| {gbs} | {peak} | {chunks} |")
    return "\n".join(lines)


def run(args) -> int:
    import fastact
    from fastact import _dispatch

    if (not 10 <= args.elements <= 34 or not 6 <= args.single_elements <= 30
            or not 6 <= args.baseline_elements <= 34):
        print("fastact bench --dask: --elements and --baseline-elements are powers of two "
              "from 10 to 34, --single-elements from 6 to 30", file=sys.stderr)
        return 2
    schedulers = [s.strip() for s in args.schedulers.split(",") if s.strip()]
    if not set(schedulers) <= {"cluster", "threads"} or args.workers < 1 or args.repeat < 1:
        print("fastact bench --dask: --schedulers takes cluster and/or threads, "
              "--workers and --repeat at least 1", file=sys.stderr)
        return 2
    baseline = tuple(BYTES) if args.baseline == "all" else tuple(
        b.strip() for b in args.baseline.split(",") if b.strip())
    if not set(baseline) <= set(BYTES):
        print(f"fastact bench --dask: --baseline takes {', '.join(BYTES)} or all, got "
              f"{args.baseline!r}", file=sys.stderr)
        return 2
    elements = 2 ** args.elements
    shape, chunks = layout(elements, args.chunk_mib)
    # whole row chunks, at least one
    baseline_rows = max(chunks[0], min(shape[0], 2 ** args.baseline_elements // shape[1])
                        // chunks[0] * chunks[0])
    chunk_mib = math.prod(chunks) * 4 / 2 ** 20
    print(f"fastact bench --dask: float32 {shape} = 2^{args.elements} elements "
          f"({elements * 4 / 2 ** 30:g} GiB), chunks {chunks} ({chunk_mib:g} MiB); "
          f"CPU {_cpu.model()}", flush=True)
    started, load = time.perf_counter(), os.getloadavg()
    rows = []
    if "cluster" in schedulers:
        rows += run_cluster(shape, chunks, args.workers, baseline, baseline_rows, args.repeat)
    if "threads" in schedulers:
        rows += run_threads(shape, chunks, baseline, baseline_rows, args.repeat)
    rows += run_single(min(elements, 2 ** args.single_elements), shape[1], args.repeat)
    for row in rows:
        row["elements_log2"] = round(math.log2(row["elements"]), 2)
    total = time.perf_counter() - started
    print(format_table(rows, chunk_mib))
    print(f"cluster: {args.workers} worker processes x 1 thread, FASTACT_NUM_THREADS=1; "
          f"threads: one Dask thread per core, fastact at 1 thread; total {total:.0f} s.")
    if getattr(args, "json", None):
        import dask
        import distributed

        machine = {"cpu": _cpu.model(), "cores": len(os.sched_getaffinity(0)),
                   "fastact": fastact.__version__, "numpy": np.__version__,
                   "dask": dask.__version__, "distributed": distributed.__version__,
                   "python": platform.python_version(), "backend": _dispatch.resolve(),
                   # other work on the machine: the 1-minute load average before and after
                   "load_average": [load[0], os.getloadavg()[0]]}
        config = {"shape": shape, "chunks": chunks, "chunk_mib": chunk_mib,
                  "baseline": baseline, "baseline_rows": baseline_rows, "elements": elements,
                  "workers": args.workers, "repeat": args.repeat, "seconds_total": total}
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "config": config, "rows": rows}, f, indent=1)
        print(f"wrote {args.json}")
    return 0
