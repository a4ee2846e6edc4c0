"""Turn saved benchmark JSON into the README's tables.

    python bench/report.py run.json [--columns cython,numba,torch,jax]   # pytest-benchmark
    python bench/report.py bench/results/float32_1thread.json            # fastact bench

pytest-benchmark JSON (``--benchmark-json``): one Markdown row per op|dtype|size, GB/s
(bytes read and written / median time) per backend and peer, the best fastact backend
over the best peer, and over memcpy.  ``fastact bench --json``: one row per op, GB/s at
the middle size and the best fastact backend over the best peer at every size (and over
memcpy with out= at the largest, where that was measured).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

PEERS = ("numpy-expr", "torch", "jax")  # as fastact.benchmark.PEERS (this file runs standalone)


def table(data, columns=None) -> str:
    rows = defaultdict(dict)
    memcpy = {}
    for b in data["benchmarks"]:
        info = b["extra_info"]
        gbs = info["bytes"] / b["stats"]["median"] / 1e9
        if info["op"] == "memcpy":
            memcpy[info["size"]] = gbs
        else:
            rows[(info["op"], info["dtype"], info["size"])][info["column"]] = gbs
    columns = columns or sorted({c for r in rows.values() for c in r},
                                key=lambda c: (c.split(" ")[0] in PEERS, c))
    head = ["op", "dtype", "size"] + columns + ["vs best peer", "of memcpy"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (op, dtype, size), r in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        ours = max((v for k, v in r.items() if k.split(" ")[0] not in PEERS + ("numpy",)),
                   default=None)
        theirs = max((v for k, v in r.items() if k in PEERS), default=None)
        cells = [op, dtype, f"2^{size}"] + [f"{r[c]:.2f}" if c in r else "–" for c in columns]
        cells.append(f"{ours / theirs:.2f}×" if ours and theirs else "–")
        cells.append(f"{ours / memcpy[size]:.2f}" if ours and size in memcpy else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(data) -> str:
    """The README's table from a ``fastact bench --json`` file."""
    rows = data["rows"]
    sizes = sorted({r["size"] for r in rows})
    mid = sizes[len(sizes) // 2]
    by_op = defaultdict(dict)
    for r in rows:
        by_op[r["op"]][r["size"]] = r
    columns = [c for c in ("cython", "numba") + PEERS if any(c in r["gbs"] for r in rows)]
    head = (["op"] + [f"{c} 2^{mid}" for c in columns]
            + [f"vs best peer 2^{n}" for n in sizes])
    with_out = any("cython out=" in r["gbs"] for r in rows)
    if with_out:
        head.append(f"out= of memcpy 2^{sizes[-1]}")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def ratio(r):
        ours = max((v for k, v in r["gbs"].items() if k in ("cython", "numba")), default=None)
        theirs = max((v for k, v in r["gbs"].items() if k in PEERS), default=None)
        return f"{ours / theirs:.2f}×" if ours and theirs else "–"

    for op, per_size in by_op.items():
        cells = [op] + [f"{per_size[mid]['gbs'][c]:.1f}" if c in per_size.get(mid, {}).get("gbs", {})
                        else "–" for c in columns]
        cells += [ratio(per_size[n]) if n in per_size else "–" for n in sizes]
        if with_out:
            last = per_size.get(sizes[-1])
            outs = [v for k, v in (last or {}).get("gbs", {}).items() if k.endswith("out=")]
            cells.append(f"{max(outs) / last['memcpy_gbs']:.2f}" if outs else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json_file")
    parser.add_argument("--columns", help="comma-separated columns, in order")
    args = parser.parse_args(argv)
    with open(args.json_file) as f:
        data = json.load(f)
    if "rows" in data:  # fastact bench --json
        print(summary(data))
    else:
        print(table(data, args.columns.split(",") if args.columns else None))


if __name__ == "__main__":
    main()
