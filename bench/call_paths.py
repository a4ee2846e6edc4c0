"""How fast each kind of input is, next to the contiguous case and to PyTorch.

    taskset -c 0 python bench/call_paths.py [--backends cython,numba] [--ops sigmoid,gelu]
                                            [--sizes 10,16,22] [--json out.json]

Prints three tables (medians of repeated timings, one thread):

1. every op direction at 2^k contiguous float32 elements: microseconds and the ratio
   to PyTorch's time (PyTorch/fastact: above 1 fastact is faster), when PyTorch is installed;
2. sigmoid, gelu and leaky_relu on other inputs: a stride-2 view, a Fortran-ordered
   2-D array, float16 and int64, at 16 and 2^16 elements, each next to its contiguous
   float32 (float64 for int64) time;
3. softmax, log_softmax and logsumexp along axis 0 and along the last axis of a
   C-ordered (1024, 1024) float32 array.

Run it on one pinned core; the figures are only comparable within one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import timeit

import numpy as np

import fastact
from fastact.catalogue import OPS


def median_us(fn, min_time=0.02, repeats=9):
    """Median of ``repeats`` timings, each of enough calls to last ``min_time`` seconds."""
    fn()
    number, elapsed = 1, 0.0
    while elapsed < min_time:
        elapsed = timeit.timeit(fn, number=number)
        number *= 2
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeats)) / number * 1e6


def op_calls(op, x, backend):
    """(forward call, backward call) of op on x with its first test parameters."""
    params = dict(op.test_params[0])
    if op.kind == "prelu":
        params["weight"] = 0.25
    forward = getattr(fastact, op.name)
    backward = getattr(fastact, op.backward_name)
    y = forward(x, **params, backend=backend)
    g = np.ones_like(y)
    saved = {"x": x, "y": y}
    arrays = [saved[s] for s in op.saved]
    return (lambda: forward(x, **params, backend=backend),
            lambda: backward(g, *arrays, **params, backend=backend))


def torch_calls(op, x):
    """PyTorch's forward and backward (autograd) of op, or None."""
    try:
        import torch
        import fastact.torch as FT
    except ImportError:
        return None
    torch.set_num_threads(1)
    t = torch.from_numpy(x)
    native = {
        "relu": torch.relu, "leaky_relu": torch.nn.functional.leaky_relu,
        "prelu": lambda a: torch.nn.functional.prelu(a, torch.tensor([0.25])),
        "elu": torch.nn.functional.elu, "selu": torch.selu, "celu": torch.celu,
        "gelu": torch.nn.functional.gelu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
        "silu": torch.nn.functional.silu, "softplus": torch.nn.functional.softplus,
        "mish": torch.nn.functional.mish, "hardsigmoid": torch.nn.functional.hardsigmoid,
        "hardswish": torch.nn.functional.hardswish,
        "softmax": lambda a: torch.softmax(a, -1), "log_softmax": lambda a: torch.log_softmax(a, -1),
        "logsumexp": lambda a: torch.logsumexp(a, -1),
        "maxout": lambda a: FT._torch_maxout(a, 2, -1),
    }[op.name]
    forward = lambda: native(t)  # noqa: E731
    leaf = t.clone().requires_grad_()
    out = native(leaf)
    grad = torch.ones_like(out)
    backward = lambda: torch.autograd.grad(out, leaf, grad, retain_graph=True)  # noqa: E731
    return forward, backward


def contiguous_table(backends, ops, sizes):
    rows = []
    for op in ops:
        for k in sizes:
            # rows of 1024 for the row ops, as `fastact bench` measures them
            shape = (2 ** k // 1024, 1024) if op.kind in ("rows", "reduce", "maxout") else (2 ** k,)
            x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
            peer = torch_calls(op, x)
            peer_us = [median_us(c) for c in peer] if peer else [None, None]
            for backend in backends:
                for direction, call, p in zip(("forward", "backward"), op_calls(op, x, backend),
                                              peer_us):
                    us = median_us(call)
                    rows.append({"op": op.name, "direction": direction, "log2_n": k,
                                 "backend": backend, "us": us, "torch_us": p,
                                 "torch_over_fastact": p / us if p else None})
    return rows


def layout_table(backends, sizes=(4, 16)):
    rows = []
    for name, params in (("sigmoid", ()), ("gelu", ()), ("leaky_relu", (0.1,))):
        fn = getattr(fastact, name)
        for k in sizes:
            n = 2 ** k
            base32 = np.random.default_rng(1).normal(size=n).astype(np.float32)
            base64 = base32.astype(np.float64)
            side = int(np.sqrt(n))
            inputs = {
                "contiguous float32": base32,
                "stride-2 float32": np.repeat(base32, 2)[::2],
                "Fortran 2-D float32": np.asfortranarray(base32.reshape(side, n // side)),
                "float16": base32.astype(np.float16),
                "contiguous float64": base64,
                "int64": (base64 * 3).astype(np.int64),
            }
            for backend in backends:
                for kind, a in inputs.items():
                    us = median_us(lambda: fn(a, *params, backend=backend))
                    rows.append({"op": name, "log2_n": k, "backend": backend, "input": kind,
                                 "us": us})
    return rows


def axis_table(backends):
    x = np.random.default_rng(2).normal(size=(1024, 1024)).astype(np.float32)
    rows = []
    for name in ("softmax", "log_softmax", "logsumexp"):
        fn = getattr(fastact, name)
        for backend in backends:
            last = median_us(lambda: fn(x, axis=-1, backend=backend))
            first = median_us(lambda: fn(x, axis=0, backend=backend))
            rows.append({"op": name, "backend": backend, "axis_last_us": last,
                         "axis_0_us": first, "ratio": first / last})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="cython,numba")
    parser.add_argument("--ops", default=",".join(op.name for op in OPS))
    parser.add_argument("--sizes", default="10,16,22")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--skip", default="", help="tables to skip: contiguous,layouts,axis")
    args = parser.parse_args(argv)
    fastact.set_num_threads(1)
    backends = [b for b in args.backends.split(",") if b in fastact.backends()]
    if "numba" in backends:  # compile (or load) its kernels before timing
        fastact.warmup()
    ops = [op for op in OPS if op.name in args.ops.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    skip = set(args.skip.split(","))
    from fastact import _cpu

    result = {"cpu": _cpu.model(), "cpu_features": _cpu.features(), "backends": backends}
    print(f"CPU: {result['cpu']}; one thread; medians")
    if "contiguous" not in skip:
        result["contiguous"] = contiguous_table(backends, ops, sizes)
        print("\n| op | dir | 2^k | backend | µs | PyTorch/fastact |\n|---|---|---|---|---|---|")
        for r in result["contiguous"]:
            ratio = f"{r['torch_over_fastact']:.2f}" if r["torch_over_fastact"] else "–"
            print(f"| {r['op']} | {r['direction']} | {r['log2_n']} | {r['backend']} | "
                  f"{r['us']:.2f} | {ratio} |")
    if "layouts" not in skip:
        result["layouts"] = layout_table(backends)
        print("\n| op | 2^k | backend | input | µs | / contiguous |\n|---|---|---|---|---|---|")
        base = {}
        for r in result["layouts"]:
            key = (r["op"], r["log2_n"], r["backend"])
            ref = "contiguous float64" if r["input"] in ("int64", "contiguous float64") else "contiguous float32"
            if r["input"] in ("contiguous float32", "contiguous float64"):
                base[key + (r["input"],)] = r["us"]
            print(f"| {r['op']} | {r['log2_n']} | {r['backend']} | {r['input']} | {r['us']:.2f} | "
                  f"{r['us'] / base[key + (ref,)]:.2f} |")
    if "axis" not in skip:
        result["axis"] = axis_table(backends)
        print("\n| op | backend | last axis µs | axis 0 µs | ratio |\n|---|---|---|---|---|")
        for r in result["axis"]:
            print(f"| {r['op']} | {r['backend']} | {r['axis_last_us']:.0f} | {r['axis_0_us']:.0f} | "
                  f"{r['ratio']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
