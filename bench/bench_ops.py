"""Every op, forward and backward, on every fastact backend and every installed peer.

    pytest bench/bench_ops.py --benchmark-only [--bench-sizes 16 --bench-dtypes float32]
    pytest bench/bench_ops.py --benchmark-only --bench-ops gelu --bench-inputs uniform
    pytest bench/ --benchmark-only --benchmark-json run.json && python bench/report.py run.json

Groups are ``op|dtype|size``, so pytest-benchmark's tables compare like with like.
The cases and the peers' equivalents come from ``fastact.benchmark`` (the same ones
``fastact bench`` uses).  Peers that are not installed are skipped, with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastact
from fastact import benchmark

PEERS, MISSING = benchmark.available_peers()
COLUMNS = ([(b, False) for b in fastact.backends()] + [(b, True) for b in fastact.backends()]
           + [(p, False) for p in benchmark.PEERS])


@pytest.mark.parametrize("column, out", COLUMNS,
                         ids=[c + (" out=" if out else "") for c, out in COLUMNS])
def test_throughput(benchmark_fixture, case, dtype, size, column, out):
    if column in MISSING:
        pytest.skip(f"{column} is {MISSING[column]}")
    arrays = case.inputs(1 << size, np.dtype(dtype))
    if column in benchmark.PEERS:
        fn = benchmark.peer_callable(column, case, arrays)
        if fn is None:
            pytest.skip(f"{column} has no {case.label}")
    else:
        if column == "numpy" and size > 16:
            pytest.skip("the reference is the oracle, not a contender: timed up to 2^16")
        fn = case.fastact(column, arrays, out=out)
    bench = benchmark_fixture
    bench.group = f"{case.label}|{dtype}|2^{size}"
    bench.extra_info.update(bytes=case.bytes(arrays), op=case.label, dtype=dtype, size=size,
                            column=column + (" out=" if out else ""), inputs=case.distribution)
    with np.errstate(all="ignore"):  # the NumPy peer's exp overflows to inf, its right limit
        bench(fn)


@pytest.fixture
def benchmark_fixture(benchmark):
    return benchmark


def test_memcpy_roof(benchmark, size):
    """np.copyto of 2^size float32 values: the roof every other figure is held against."""
    src = np.ones(1 << size, np.float32)
    dst = np.empty_like(src)
    benchmark.group = f"memcpy|float32|2^{size}"
    benchmark.extra_info.update(bytes=2 * src.nbytes, op="memcpy", dtype="float32", size=size,
                                column="memcpy")
    benchmark(np.copyto, dst, src)
