"""The peers' float32 accuracy under fastact's measure: PyTorch and JAX next to fastact.

For every elementwise forward op (default parameters, and GELU's tanh form) this runs
fastact, PyTorch and JAX (whichever are installed, the same calls ``fastact bench``
times) on float32 inputs and measures each result with ``fastact.accuracy``'s mixed
bound against the float64 reference: the maximum ulps, where it occurs, how many inputs
exceed 4 ulp (the bound fastact's fast backends are held to), and how many non-finite
results differ from the reference's (inf, NaN).

Inputs: every ``--stride``-th float32 bit pattern with |x| <= ``--limit``, plus
``fastact.accuracy.grid`` (every binade, subnormals, ±0, ±inf, NaN, the kinks).

    python bench/peer_accuracy.py                      # every elementwise op
    python bench/peer_accuracy.py --ops gelu --stride 97 --peers torch
"""

from __future__ import annotations

import argparse

import numpy as np

import fastact
from fastact import accuracy, benchmark


def inputs(stride: int, limit: float) -> np.ndarray:
    bits = np.arange(0, 1 << 32, stride, dtype=np.uint64).astype(np.uint32).view(np.float32)
    dense = bits[np.isfinite(bits) & (np.abs(bits) <= limit)]
    return np.concatenate([dense, accuracy.grid(np.float32)])


def results(case, x, peers):
    """column -> float32 result of the case's forward on x (fastact's best backend, peers)."""
    out = {"fastact": fastact.__dict__[case.op.name](x, **case.params)}
    for peer in peers:
        run = benchmark.peer_callable(peer, case, (x,))
        if run is not None:
            out[peer] = np.asarray(run())
    return out


def measure(case, x, peers) -> dict:
    row = {}
    for column, got in results(case, x, peers).items():
        with np.errstate(all="ignore"):
            k, _ = accuracy.forward_errors(case.op, case.params, x, got)
        finite = np.where(np.isfinite(k), k, -1.0)
        worst = int(np.argmax(finite))
        row[column] = {"max": float(finite[worst]), "at": float(x[worst]),
                       "over4": int(np.sum(np.isfinite(k) & (k > 4))), "nonfinite": int(np.sum(~np.isfinite(k)))}
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", default="all", help="comma-separated op labels (gelu, gelu[tanh]...)")
    parser.add_argument("--stride", type=int, default=997, help="take every n-th bit pattern")
    parser.add_argument("--limit", type=float, default=20.0, help="largest |x| of the dense part")
    parser.add_argument("--peers", default="all",
                        help="comma-separated peers (torch, jax), 'none', or 'all' installed")
    args = parser.parse_args(argv)
    installed = benchmark.available_peers()[0] if args.peers != "none" else []
    peers = installed if args.peers in ("all", "none") else [
        p for p in args.peers.split(",") if p in installed]
    names = None if args.ops == "all" else args.ops.split(",")
    chosen = [c for c in benchmark.cases(["all"] if names is None else names)
              if not c.backward and c.op.kind == "elementwise"]
    x = inputs(args.stride, args.limit)
    columns = ["fastact"] + peers
    print(f"{x.size} float32 inputs; max ulps (mixed bound), inputs over 4 ulp, "
          "non-finite results that differ from the reference's")
    print("| op | " + " | ".join(columns) + " |\n|" + "---|" * (len(columns) + 1))
    for case in chosen:
        row = measure(case, x, peers)
        cells = [f"{r['max']:.3g} at {r['at']:.4g}; >4: {r['over4']}; non-finite: {r['nonfinite']}"
                 if (r := row.get(c)) else "–" for c in columns]
        print(f"| {case.label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
