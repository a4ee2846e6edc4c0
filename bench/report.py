"""Turn saved pytest-benchmark JSON (``--benchmark-json``) into the README's table.

    python bench/report.py run.json [--columns cython,numba,torch,jax]

One Markdown row per op|dtype|size: GB/s (bytes read and written / median time) per
backend and peer, the best fastact backend over the best peer, and over memcpy.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

PEERS = ("torch", "jax")


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json_file")
    parser.add_argument("--columns", help="comma-separated columns, in order")
    args = parser.parse_args(argv)
    with open(args.json_file) as f:
        data = json.load(f)
    print(table(data, args.columns.split(",") if args.columns else None))


if __name__ == "__main__":
    main()
