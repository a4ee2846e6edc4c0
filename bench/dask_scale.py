"""fastact on Dask arrays of 2^30 float32 elements (4 GiB), on a LocalCluster of worker
processes and on the threaded scheduler, against dask.array with NumPy operations and
single-process fastact: ``fastact bench --dask`` with the results saved to
bench/results/dask_scale.json.  See fastact/benchmark_dask.py for what it measures.

    python bench/dask_scale.py                   # the default: 2^30 elements, 64 MiB chunks
    python bench/dask_scale.py --elements 26 --json /tmp/small.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fastact import benchmark_dask

RESULTS = Path(__file__).resolve().parent / "results" / "dask_scale.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    benchmark_dask.add_arguments(parser, results_default=str(RESULTS))
    return benchmark_dask.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
