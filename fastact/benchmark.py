"""fastact bench: throughput of fastact's backends against NumPy, PyTorch and JAX.

Each case (op, direction, dtype, size) is timed for every fastact backend and every
installed peer in one run, interleaved (a round times each in turn, so drift on a
busy machine hits all alike; each sample after an untimed call of its own, so no one
inherits another's cache state); the figure is the median over rounds.  GB/s counts
the bytes of every array read and written; "vs peer" is the best fastact backend
over the best peer; "of memcpy" its fraction of np.copyto's GB/s on the same bytes.
Protocol (the default): float32, contiguous, 2^10, 2^16 and 2^22 elements, rows of
1024 for the row ops, x normal with standard deviation 3 (--inputs standard: standard
normal; --inputs uniform: on [-10, 10]), a new output per call (as PyTorch and JAX allocate), one thread,
the backend in use (Cython where built; --backends cython,numba adds Numba, called with
backend='numba'; the backend in use is called without backend=, as users call it) against the
peers installed: NumPy (each op as the NumPy expression a user writes: np.tanh, np.exp...),
PyTorch and JAX (pip install torch==2.13.0; pip install jax jaxlib).

    fastact bench                                      # the default set, ~10 s
    fastact bench --ops gelu,softmax --dtype float64 --sizes 16,22 --threads 2
    fastact bench --ops all --backward --json run.json --plot run.png
    fastact bench --ops gelu --backward --inputs uniform   # exact GELU, mostly its tail
    fastact bench --dask                               # Dask arrays of 4 GiB: see benchmark_dask
"""

from __future__ import annotations

import functools
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field, replace

import numpy as np

ROW = 1024
DEFAULT_SIZES = (10, 16, 22)
DEFAULT_OPS = ("relu", "gelu", "gelu[tanh]", "sigmoid", "tanh", "silu", "softplus", "mish",
               "elu", "hardswish", "softmax", "log_softmax", "logsumexp")
DEFAULT_BACKWARD = ("relu", "gelu[tanh]", "sigmoid", "silu", "softmax")
# numpy-expr: the op as a user writes it with NumPy's ufuncs (named apart from fastact's
# own "numpy" backend, the reference)
OPTIONAL_PEERS = ("torch", "jax")
PEERS = ("numpy-expr",) + OPTIONAL_PEERS
PEER_MODULES = {"numpy-expr": "numpy", "torch": "torch", "jax": "jax"}


# The inputs' distributions (--inputs): x of every case; grad_output is standard normal.
INPUTS = {
    "normal": "x normal with standard deviation 3",
    "standard": "x standard normal (as activations are, and as the GELU bar of issue 14 asks)",
    "uniform": "x uniform on [-10, 10] (for exact GELU: most inputs in its tail)",
}


@dataclass(frozen=True)
class Case:
    """One op, with one parameter set, in one direction, on inputs of one distribution."""

    op: object               # fastact.catalogue.Op
    params: dict = field(default_factory=dict, hash=False, compare=False)
    choice: str = ""         # label suffix: the parameter set's values, e.g. "tanh"
    backward: bool = False
    distribution: str = "normal"  # a key of INPUTS

    @property
    def label(self) -> str:
        name = self.op.backward_name if self.backward else self.op.name
        return name + (f"[{self.choice}]" if self.choice else "")

    @property
    def rows(self) -> bool:
        return self.op.kind in ("rows", "reduce", "maxout")

    def inputs(self, n: int, dtype):
        """The arrays of one call: (x,) forward, (grad_output, *saved) backward."""
        from fastact import reference

        rng = np.random.default_rng(0)
        shape = (max(n // ROW, 1), ROW) if self.rows else (n,)
        if self.distribution == "uniform":
            x = rng.uniform(-10.0, 10.0, shape).astype(dtype)
        elif self.distribution == "normal":
            x = (rng.standard_normal(shape) * 3).astype(dtype)
        elif self.distribution == "standard":
            x = rng.standard_normal(shape).astype(dtype)
        else:
            raise ValueError(f"unknown input distribution {self.distribution!r}; "
                             f"choose from {', '.join(INPUTS)}")
        if not self.backward:
            return (x,)
        if "y" in self.op.saved or self.op.kind != "elementwise":  # the reference when needed
            y = np.asarray(getattr(reference, self.op.name)(x, **self.params)).astype(dtype)
        else:
            y = x  # grad_output has x's shape
        g = rng.standard_normal(y.shape).astype(dtype)
        return (g,) + tuple({"x": x, "y": y}[s] for s in self.op.saved)

    def fastact(self, backend: str, arrays, out: bool = False):
        """A no-argument callable running this case on ``backend``: without ``backend=``
        where it is the backend in effect (the call users write, whose common case runs
        in C: fastact._fastcall.elementwise), else with it."""
        import fastact
        from fastact import _dispatch

        fn = getattr(fastact, self.label.split("[")[0])
        params = dict(self.params)
        if backend != _dispatch.resolve():
            params["backend"] = backend
        if not out:
            return direct_call(fn, arrays, params)
        result = fn(*arrays, **params)
        result = result[0] if isinstance(result, tuple) else result
        return direct_call(fn, arrays, dict(params, out=np.empty_like(np.asarray(result))))

    def bytes(self, arrays, out=None) -> int:
        """Bytes read and written by a call: ``out`` is a call's result (the reference's is
        computed when not given, slowly at 2^22)."""
        import fastact

        if out is None:
            out = getattr(fastact, self.label.split("[")[0])(*arrays, **self.params,
                                                             backend="numpy")
        out = out if isinstance(out, tuple) else (out,)
        return sum(np.asarray(a).nbytes for a in arrays) + sum(np.asarray(o).nbytes for o in out)


def cases(names=None, backward=None):
    """The cases for op labels ``names`` ('gelu', 'gelu[tanh]', 'softmax_backward'...)."""
    from fastact.catalogue import OPS

    from fastact.catalogue import REQUIRED

    table, main = {}, []
    for op in OPS:
        for params in op.test_params:
            if op.kind == "prelu":
                params = {"weight": 0.25}
            choice = ",".join(str(v) for v in params.values()) if params else ""
            if op.kind == "prelu":
                choice = ""
            # 'all': the default parameters and every choice (gelu's two), not the variants
            # of real parameters (leaky_relu[0.2]), which cost the same
            is_main = not any(p.name in params and p.check != "choice"
                              and p.default is not REQUIRED for p in op.params)
            for is_backward in (False, True):
                case = Case(op, dict(params), choice, is_backward)
                if case.label not in table and is_main:
                    main.append(case)
                table.setdefault(case.label, case)
    if names is None:
        names = list(DEFAULT_OPS) + [_backward_label(n) for n in DEFAULT_BACKWARD]
    elif names == ["all"]:
        return main
    elif backward:
        names = names + [_backward_label(n) for n in names if not n.endswith("]")
                         and "_backward" not in n] + \
            [_backward_label(n) for n in names if n.endswith("]")]
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown op {unknown[0]!r}; choose from: {', '.join(table)}")
    return [table[n] for n in dict.fromkeys(names)]


def _backward_label(label):
    name, _, rest = label.partition("[")
    return f"{name}_backward" + (f"[{rest}" if rest else "")


def direct_call(fn, args, kwargs=None):
    """A no-argument callable calling ``fn(*args, **kwargs)`` as a user writes the call,
    with the arguments spelled out: unpacking them at each call (``fn(*a, **k)``) cost
    0.15 us of a 0.5 us call of 1024 elements, for fastact and the peers alike."""
    kwargs = kwargs or {}
    names = [f"_a{i}" for i in range(len(args))]
    spelled = ", ".join(names + [f"{k}=_k_{k}" for k in kwargs])
    scope = {"_fn": fn, **dict(zip(names, args)), **{f"_k_{k}": v for k, v in kwargs.items()}}
    return eval(f"lambda: _fn({spelled})", scope)


# --- the peers ----------------------------------------------------------------------

def _numpy_functions(case: Case):
    """The op as a user writes it with NumPy's own ufuncs, or None where NumPy has no way
    (exact GELU needs erf, which NumPy lacks).  Where exp overflows to inf the result is
    still the right limit; the caller silences NumPy's warnings for it."""
    from fastact.catalogue import CONSTANTS, SELU_ALPHA, SELU_SCALE

    p = case.params
    name = case.op.name
    axis = p.get("axis", -1)
    slope, alpha = p.get("negative_slope", 0.01), p.get("alpha", 1.0)
    beta, threshold = p.get("beta", 1.0), p.get("threshold", 20.0)
    c, k = CONSTANTS["GELU_TANH_C"], CONSTANTS["SQRT_2_OVER_PI"]

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    def softplus(x):
        return np.where(beta * x > threshold, x, np.logaddexp(0, beta * x) / beta)

    def exp_shifted(x):  # exp(x - max) along the axis, and the max
        m = x.max(axis, keepdims=True)
        return np.exp(x - m), m

    def logsumexp(x, keepdims):
        e, m = exp_shifted(x)
        y = np.log(e.sum(axis, keepdims=True)) + m
        return y if keepdims else np.squeeze(y, axis)

    def gelu_tanh_grad(x):
        t = np.tanh(k * (x + c * x ** 3))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * c * x * x)

    def maxout_grad(g, x):  # grad_output to each group's first maximum
        groups = x.reshape(x.shape[:-1] + (-1, p["pieces"]))
        grad = np.zeros_like(groups)
        np.put_along_axis(grad, groups.argmax(-1)[..., None], g[..., None], -1)
        return grad.reshape(x.shape)

    def mish_grad(x):
        t = np.tanh(np.logaddexp(0, x))
        return t + x * sigmoid(x) * (1 - t * t)

    forward = {
        "relu": lambda x: np.maximum(x, 0),
        "leaky_relu": lambda x: np.where(x > 0, x, x * x.dtype.type(slope)),
        "prelu": lambda x: np.where(x > 0, x, x * x.dtype.type(p["weight"])),
        "elu": lambda x: np.where(x > 0, x, alpha * np.expm1(x)),
        "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
        "celu": lambda x: np.where(x > 0, x, alpha * np.expm1(x / alpha)),
        "gelu": (lambda x: 0.5 * x * (1 + np.tanh(k * (x + c * x ** 3))))
        if p.get("approximate") == "tanh" else None,
        "sigmoid": sigmoid,
        "tanh": np.tanh,
        "silu": lambda x: x * sigmoid(x),
        "softplus": softplus,
        "mish": lambda x: x * np.tanh(np.logaddexp(0, x)),
        "hardsigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),
        "hardswish": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
        "softmax": lambda x: (lambda e: e / e.sum(axis, keepdims=True))(exp_shifted(x)[0]),
        "log_softmax": lambda x: x - logsumexp(x, True),
        "logsumexp": lambda x: logsumexp(x, p.get("keepdims", False)),
        "maxout": lambda x: x.reshape(x.shape[:-1] + (-1, p["pieces"])).max(-1),
    }
    if not case.backward:
        return forward.get(name)
    backward = {
        "relu": lambda g, x: np.where(x > 0, g, 0),
        "leaky_relu": lambda g, x: np.where(x > 0, g, g * x.dtype.type(slope)),
        "prelu": lambda g, x: (np.where(x > 0, g, g * x.dtype.type(p["weight"])),
                               np.sum(np.where(x > 0, 0, g * x))),
        "elu": lambda g, x: np.where(x > 0, g, g * alpha * np.exp(x)),
        "selu": lambda g, x: SELU_SCALE * np.where(x > 0, g, g * SELU_ALPHA * np.exp(x)),
        "celu": lambda g, x: np.where(x > 0, g, g * np.exp(x / alpha)),
        "gelu": (lambda g, x: g * gelu_tanh_grad(x)) if p.get("approximate") == "tanh" else None,
        "sigmoid": lambda g, y: g * y * (1 - y),
        "tanh": lambda g, y: g * (1 - y * y),
        "silu": lambda g, x: (lambda s: g * s * (1 + x * (1 - s)))(sigmoid(x)),
        "softplus": lambda g, x: np.where(beta * x > threshold, g, g * sigmoid(beta * x)),
        "mish": lambda g, x: g * mish_grad(x),
        "hardsigmoid": lambda g, x: np.where((x > -3) & (x < 3), g / 6, 0),
        "hardswish": lambda g, x: np.where(x < -3, 0, np.where(x > 3, g, g * (2 * x + 3) / 6)),
        "softmax": lambda g, y: y * (g - (g * y).sum(axis, keepdims=True)),
        "log_softmax": lambda g, y: g - np.exp(y) * g.sum(axis, keepdims=True),
        "logsumexp": lambda g, x, y: g[..., None] * np.exp(x - y[..., None]),
        "maxout": maxout_grad,
    }
    return backward.get(name)


def _torch_functions(case: Case):
    """(forward or backward) as a function of torch tensors, or None where torch has none."""
    import torch
    import torch.nn.functional as F

    from fastact.catalogue import SELU_ALPHA, SELU_SCALE

    aten = torch.ops.aten
    # prelu's weight, made once per dtype: a tensor made in each call timed torch.tensor too
    weight = functools.cache(lambda dtype: torch.tensor([0.25], dtype=dtype))
    p = case.params
    name = case.op.name
    dim = p.get("axis", -1)
    forward = {
        "relu": lambda x: F.relu(x),
        "leaky_relu": lambda x: F.leaky_relu(x, p.get("negative_slope", 0.01)),
        "prelu": lambda x: F.prelu(x, weight(x.dtype)),
        "elu": lambda x: F.elu(x, p.get("alpha", 1.0)),
        "selu": lambda x: F.selu(x),
        "celu": lambda x: F.celu(x, p.get("alpha", 1.0)),
        "gelu": lambda x: F.gelu(x, approximate=p.get("approximate", "none")),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "silu": F.silu,
        "softplus": lambda x: F.softplus(x, p.get("beta", 1.0), p.get("threshold", 20.0)),
        "mish": F.mish,
        "hardsigmoid": F.hardsigmoid,
        "hardswish": F.hardswish,
        "softmax": lambda x: torch.softmax(x, dim),
        "log_softmax": lambda x: torch.log_softmax(x, dim),
        "logsumexp": lambda x: torch.logsumexp(x, dim, keepdim=p.get("keepdims", False)),
        "maxout": lambda x: x.unflatten(-1, (-1, p["pieces"])).amax(-1),
    }
    if not case.backward:
        return forward.get(name)
    alpha = p.get("alpha", 1.0)
    backward = {
        "relu": lambda g, x: aten.threshold_backward(g, x, 0),
        "leaky_relu": lambda g, x: aten.leaky_relu_backward(g, x, p.get("negative_slope", 0.01),
                                                            False),
        "prelu": lambda g, x: aten._prelu_kernel_backward(g, x, weight(x.dtype)),
        "elu": lambda g, x: aten.elu_backward(g, alpha, 1, 1, False, x),
        "selu": lambda g, x: aten.elu_backward(g, SELU_ALPHA, SELU_SCALE, 1, False, x),
        "celu": lambda g, x: aten.elu_backward(g, alpha, 1, 1 / alpha, False, x),
        "gelu": lambda g, x: aten.gelu_backward(g, x, approximate=p.get("approximate", "none")),
        "sigmoid": lambda g, y: aten.sigmoid_backward(g, y),
        "tanh": lambda g, y: aten.tanh_backward(g, y),
        "silu": lambda g, x: aten.silu_backward(g, x),
        "softplus": lambda g, x: aten.softplus_backward(g, x, p.get("beta", 1.0),
                                                        p.get("threshold", 20.0)),
        "mish": lambda g, x: aten.mish_backward(g, x),
        "hardsigmoid": lambda g, x: aten.hardsigmoid_backward(g, x),
        "hardswish": lambda g, x: aten.hardswish_backward(g, x),
        "softmax": lambda g, y: aten._softmax_backward_data(g, y, dim, y.dtype),
        "log_softmax": lambda g, y: aten._log_softmax_backward_data(g, y, dim, y.dtype),
        "logsumexp": lambda g, x, y: g.unsqueeze(-1) * torch.exp(x - y.unsqueeze(-1)),
    }
    return backward.get(name)


def _jax_functions(case: Case):
    """A jitted JAX function of the case's arrays (backward through jax.vjp), or None."""
    import jax
    import jax.numpy as jnp

    p = case.params
    name = case.op.name
    axis = p.get("axis", -1)

    def softplus(x):
        beta, threshold = p.get("beta", 1.0), p.get("threshold", 20.0)
        return jnp.where(beta * x > threshold, x, jnp.logaddexp(beta * x, 0.0) / beta)

    forward = {
        "relu": jax.nn.relu,
        "leaky_relu": lambda x: jax.nn.leaky_relu(x, p.get("negative_slope", 0.01)),
        "prelu": lambda x: jnp.where(x > 0, x, 0.25 * x),
        "elu": lambda x: jax.nn.elu(x, p.get("alpha", 1.0)),
        "selu": jax.nn.selu,
        "celu": lambda x: jax.nn.celu(x, p.get("alpha", 1.0)),
        "gelu": lambda x: jax.nn.gelu(x, approximate=p.get("approximate", "none") == "tanh"),
        "sigmoid": jax.nn.sigmoid,
        "tanh": jnp.tanh,
        "silu": jax.nn.silu,
        "softplus": softplus,
        "mish": lambda x: x * jnp.tanh(jax.nn.softplus(x)),
        "hardsigmoid": jax.nn.hard_sigmoid,
        "hardswish": jax.nn.hard_swish,
        "softmax": lambda x: jax.nn.softmax(x, axis=axis),
        "log_softmax": lambda x: jax.nn.log_softmax(x, axis=axis),
        "logsumexp": lambda x: jax.nn.logsumexp(x, axis=axis, keepdims=p.get("keepdims", False)),
        "maxout": lambda x: x.reshape(x.shape[:-1] + (-1, p["pieces"])).max(-1),
    }
    f = forward.get(name)
    if f is None:
        return None
    if not case.backward:
        return jax.jit(f)
    if name == "prelu":  # the same work as fastact's and PyTorch's: grad_input and grad_weight
        weight = jnp.asarray([0.25])

        def prelu(x, w):
            return jnp.where(x > 0, x, w.astype(x.dtype) * x)
        return jax.jit(lambda g, x: jax.vjp(prelu, x, weight)[1](g))
    # JAX differentiates from x: the backward of y-taking ops gets x recomputed by vjp
    return jax.jit(lambda g, x: jax.vjp(f, x)[1](g)[0])


def available_peers():
    """The peers importable here, and why the others are not."""
    import importlib.util

    found, missing = [], {}
    for peer in PEERS:  # found without importing them (importing torch takes seconds)
        if importlib.util.find_spec(PEER_MODULES[peer]) is not None:
            found.append(peer)
        else:
            missing[peer] = "not installed"
    return found, missing


def peer_callable(peer: str, case: Case, arrays):
    """A no-argument callable running ``case`` on the peer, or None if it has no such op."""
    if peer == "numpy-expr":
        f = _numpy_functions(case)
        if f is None:
            return None
        return direct_call(f, arrays)  # measure() times it with NumPy's warnings off
    if peer == "torch":
        import torch

        f = _torch_functions(case)
        if f is None:
            return None
        tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]
        return direct_call(f, tensors)
    if peer == "jax":
        import jax

        f = _jax_functions(case)
        if f is None:
            return None
        if case.backward:
            x = case.inputs(arrays[0].size if not case.rows else arrays[0].shape[0] * ROW,
                            arrays[0].dtype)[0] if "x" not in case.op.saved else arrays[1]
            args = [jax.device_put(arrays[0]), jax.device_put(x)]
        else:
            args = [jax.device_put(a) for a in arrays]
        return lambda: jax.block_until_ready(f(*args))
    raise ValueError(f"unknown peer {peer!r}")


# --- timing -------------------------------------------------------------------------

def _number(fn, target=2e-3):
    """Calls per sample so that one sample takes about ``target`` seconds."""
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    return max(1, min(100_000, int(target / max(once, 1e-7))))


def time_interleaved(callables: dict, rounds: int = 7, target: float = 2e-3) -> dict:
    """Median seconds per call of each callable, timed in interleaved rounds.

    Each sample follows one untimed call of the same callable, so it is timed in its own
    steady state: without it, a large call (one per sample at 2^22) got the output buffer
    the previous callable had just freed, in whatever state that one left it.  After a
    loop whose streamed stores had evicted that buffer, the next one's plain stores read
    it back from memory; timed that way, the Cython loops' streamed stores measured
    1.35-2.0x faster than plain ones that, called repeatedly, they beat by 1.0-1.2x."""
    for fn in callables.values():
        fn()  # compile, warm caches
    numbers = {k: _number(fn, target) for k, fn in callables.items()}
    samples = {k: [] for k in callables}
    for _ in range(rounds):
        for k, fn in callables.items():
            n = numbers[k]
            fn()
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[k].append((time.perf_counter() - start) / n)
    return {k: statistics.median(v) for k, v in samples.items()}


def _memcpy_seconds(nbytes: int, rounds: int) -> float:
    """np.copyto of half the case's bytes (read n, write n): the copy roof."""
    src = np.ones(max(nbytes // 2, 1), dtype=np.uint8)
    dst = np.empty_like(src)
    return time_interleaved({"memcpy": lambda: np.copyto(dst, src)}, rounds)["memcpy"]


def measure(case_list, dtypes, sizes, backends, peers, *, out=False, rounds=7, progress=True):
    """One row per (case, dtype, size): GB/s per backend and peer, memcpy, bytes."""
    rows = []
    total = len(case_list) * len(dtypes) * len(sizes)
    done = 0
    for dtype in dtypes:
        for exponent in sizes:
            n = 1 << exponent
            memcpy_bytes = 2 * n * np.dtype(dtype).itemsize
            memcpy = memcpy_bytes / _memcpy_seconds(memcpy_bytes, rounds) / 1e9
            for case in case_list:
                done += 1
                if progress:
                    print(f"\r  [{done}/{total}] {case.label} {np.dtype(dtype).name} 2^{exponent}"
                          + " " * 20, end="", file=sys.stderr, flush=True)
                arrays = case.inputs(n, dtype)
                callables = {b: case.fastact(b, arrays) for b in backends}
                if out:
                    callables.update({f"{b} out=": case.fastact(b, arrays, out=True)
                                      for b in backends})
                for peer in peers:
                    fn = peer_callable(peer, case, arrays)
                    if fn is not None:
                        callables[peer] = fn
                first, result = {}, None
                # exp overflowing to inf in the NumPy peer's sigmoid is its right limit; its
                # warnings are off for the whole case, as errstate in each call would cost 1 us
                with np.errstate(all="ignore"):
                    for key, fn in callables.items():  # the first call compiles (Numba)
                        start = time.perf_counter()
                        value = fn()
                        first[key] = time.perf_counter() - start
                        result = value if result is None and key in backends else result
                    seconds = time_interleaved(callables, rounds)
                nbytes = case.bytes(arrays, result)
                rows.append({"op": case.label, "dtype": np.dtype(dtype).name, "size": exponent,
                             "bytes": nbytes, "memcpy_gbs": memcpy,
                             "gbs": {k: nbytes / s / 1e9 for k, s in seconds.items()},
                             "seconds": seconds, "first_call_seconds": first})
    if progress:
        print(file=sys.stderr)
    return rows


def summarise(row, backends, peers):
    """Best fastact GB/s, best peer GB/s, speed-up and fraction of memcpy for one row."""
    ours = max((v for k, v in row["gbs"].items() if k.split(" ")[0] in backends
                and k.split(" ")[0] != "numpy"), default=None)
    if ours is None:
        ours = max(v for k, v in row["gbs"].items() if k.split(" ")[0] in backends)
    theirs = max((row["gbs"][p] for p in peers if p in row["gbs"]), default=None)
    return ours, theirs, (ours / theirs if theirs else None), ours / row["memcpy_gbs"]


def format_table(rows, backends, peers, *, out=False) -> str:
    """The Markdown table: GB/s per backend, peer and memcpy, the speed-up over the best
    peer (only when a peer was measured) and the fraction of memcpy."""
    columns = list(backends) + ([f"{b} out=" for b in backends] if out else []) + list(peers)
    head = (["op", "dtype", "size (elements)"] + [f"{c} GB/s" for c in columns]
            + ["memcpy GB/s"] + (["vs best peer"] if peers else []) + ["of memcpy"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        _, _, speedup, roof = summarise(row, backends, peers)
        cells = [row["op"], row["dtype"], f"2^{row['size']}"]
        cells += [f"{row['gbs'][c]:.2f}" if c in row["gbs"] else "–" for c in columns]
        cells += [f"{row['memcpy_gbs']:.1f}"]
        if peers:
            cells += [f"{speedup:.2f}×" if speedup else "–"]
        cells += [f"{roof:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# How to add each peer (the README's figures were measured against PyTorch 2.13.0)
PEER_INSTALL = {"numpy-expr": "pip install numpy", "torch": "pip install torch==2.13.0",
                "jax": "pip install jax jaxlib"}


def legend(peers) -> str:
    """What the table's figures mean (printed above it)."""
    text = ("GB/s: bytes of every array read and written / median time per call (higher is "
            "better); 'of memcpy': the best fastact backend's GB/s over np.copyto's on as many "
            "bytes")
    if peers:
        text += "; 'vs best peer': the best fastact backend's GB/s over the best peer's"
    return text + "."


def plot(rows, backends, peers, path):
    """Throughput against size, one panel per op and dtype, a line per backend and peer."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("fastact bench --plot needs matplotlib: "
                         "pip install 'fastact[bench]' (or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    panels = list(dict.fromkeys((r["op"], r["dtype"]) for r in rows))
    ncols = min(4, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.9 * nrows), squeeze=False,
                             constrained_layout=True)
    colors = {"cython": "tab:red", "numba": "tab:orange", "numpy": "tab:gray",
              "numpy-expr": "tab:purple", "torch": "tab:blue", "jax": "tab:green"}
    for ax, (op, dtype) in zip(axes.flat, panels):
        data = sorted((r for r in rows if r["op"] == op and r["dtype"] == dtype),
                      key=lambda r: r["size"])
        sizes = [2 ** r["size"] for r in data]
        for key in [k for k in data[0]["gbs"]]:
            base = key.split(" ")[0]
            ax.plot(sizes, [r["gbs"].get(key, np.nan) for r in data], marker="o", ms=3,
                    color=colors.get(base), lw=2.2 if base in backends else 1.4,
                    ls=":" if key.endswith("out=") else "-", label=key)
        ax.plot(sizes, [r["memcpy_gbs"] for r in data], ls="--", color="black", lw=1,
                label="memcpy")
        ax.set(xscale="log", yscale="log", title=f"{op} ({dtype})")
        ax.set_xticks(sizes, [f"2^{r['size']}" for r in data])
        ax.xaxis.set_minor_locator(NullLocator())
        # 1, 2, 5 per decade, written plainly (not 2x10^1, 3x10^1... on every minor tick)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.grid(True, which="major", alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("GB/s")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels))
    measured = [p for p in peers if any(p in r["gbs"] for r in rows)]
    who = f"fastact vs {', '.join(measured)}" if measured else "fastact"
    fig.suptitle(f"{who}: throughput (GB/s of all arrays read and written; higher is better)")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def machine() -> dict:
    import fastact
    from fastact import _cpu

    info = {"fastact": fastact.__version__, "python": platform.python_version(),
            "numpy": np.__version__, "machine": platform.machine(), "cpu": _cpu.model(),
            "cpu_features": list(_cpu.features()), "threads": fastact.get_num_threads()}
    for peer in OPTIONAL_PEERS:  # numpy's version is above
        try:
            info[peer] = __import__(peer).__version__
        except ImportError:
            pass
    return info


# --- the command --------------------------------------------------------------------

def add_arguments(parser):
    parser.add_argument("--ops", default=None,
                        help="comma-separated op labels (gelu, gelu[tanh], softmax_backward...), "
                             "or 'all'; default: a representative set")
    parser.add_argument("--backward", action="store_true",
                        help="with --ops, also measure each op's backward")
    parser.add_argument("--dtype", default="float32", help="float32, float64, both or float32,float64")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="element counts as powers of two (default 10,16,22)")
    parser.add_argument("--threads", type=int, default=1, help="threads (default 1)")
    parser.add_argument("--backends", default=None,
                        help="fastact backends, e.g. cython,numba (default: the one in use, "
                             "cython where built, else numba)")
    parser.add_argument("--peers", default=None, help="numpy-expr, torch, jax (default: those installed; "
                                                      "'none' for none)")
    parser.add_argument("--inputs", choices=sorted(INPUTS), default="normal",
                        help="the inputs' distribution: " + "; ".join(
                            f"{k}: {v}" for k, v in INPUTS.items()) + " (default normal)")
    parser.add_argument("--out", action="store_true", help="also time with a preallocated out=")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per case")
    parser.add_argument("--json", metavar="FILE", help="write the raw figures as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="draw throughput against size")
    parser.add_argument("--dask", action="store_true",
                        help="instead: GELU and softmax on Dask arrays of 2^30 elements, on a "
                             "LocalCluster and the threaded scheduler (fastact.benchmark_dask)")
    from fastact import benchmark_dask

    benchmark_dask.add_arguments(parser.add_argument_group("with --dask"))


def _options(args):
    import fastact
    from fastact.cli import parse_dtypes

    names = None if args.ops is None else [n.strip() for n in args.ops.split(",") if n.strip()]
    case_list = [replace(case, distribution=args.inputs) for case in cases(names, args.backward)]
    dtypes = parse_dtypes(args.dtype)
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(not 0 <= s <= 28 for s in sizes):
        raise ValueError(f"--sizes are powers of two between 0 and 28, got {args.sizes!r}")
    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    available = fastact.backends()
    # default: the backend 'auto' uses (Cython where built); Numba only on request, as its
    # first calls compile (13 s of a 19 s default run)
    backends = ([b.strip() for b in args.backends.split(",")] if args.backends
                else [next((b for b in ("cython", "numba") if b in available), "numpy")])
    bad = [b for b in backends if b not in available]
    if bad:
        raise ValueError(f"backend {bad[0]!r} is not available; available: "
                         f"{', '.join(available)}")
    found, missing = available_peers()
    if args.peers is None:
        peers = found
    elif args.peers == "none":
        peers = []
    else:
        peers = [p.strip() for p in args.peers.split(",")]
        for p in peers:
            if p not in PEERS:
                raise ValueError(f"unknown peer {p!r}; choose from {', '.join(PEERS)} or none")
            if p in missing:
                raise ValueError(f"peer {p!r} is {missing[p]}")
    return case_list, dtypes, sizes, backends, peers, missing


def run(args) -> int:
    import fastact

    if args.dask:
        from fastact import benchmark_dask

        return benchmark_dask.run(args)
    try:
        case_list, dtypes, sizes, backends, peers, missing = _options(args)
    except ValueError as error:
        print(f"fastact bench: {error}", file=sys.stderr)
        return 2
    if "jax" in peers and np.float64 in dtypes:
        import jax

        jax.config.update("jax_enable_x64", True)  # JAX computes in float32 otherwise
    if "torch" in peers:
        import torch

        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    with fastact.num_threads(args.threads):
        rows = measure(case_list, dtypes, sizes, backends, peers, out=args.out,
                       rounds=args.rounds)
    print(legend(peers))
    print(format_table(rows, backends, peers, out=args.out))
    notes = [f"{args.threads} thread(s); medians of {args.rounds} interleaved rounds; "
             f"{INPUTS[args.inputs]}; total {time.perf_counter() - started:.0f} s."]
    if "numba" in backends:
        first_calls = sum(r["first_call_seconds"].get("numba", 0.0) for r in rows)
        notes.append(f"Numba's first calls (compiling, or loading its disk cache): "
                     f"{first_calls:.1f} s.")
    elif "numba" in fastact.backends():
        notes.append("Numba not measured (it compiles each kernel on first use): "
                     "--backends cython,numba adds it.")
    if "jax" in peers:
        notes.append("JAX's CPU thread pool cannot be limited at run time "
                     "(XLA_FLAGS before start-up): it may use every core.")
    if not peers and args.peers is None:
        notes.append("No peer installed, so no comparison. To compare with PyTorch and JAX, "
                     + " and ".join(f"`{PEER_INSTALL[p]}`" for p in OPTIONAL_PEERS)
                     + ", then run fastact bench again.")
    else:
        notes += [f"{peer}: {why}; `{PEER_INSTALL[peer]}` adds it." for peer, why in missing.items()
                  if args.peers is None]
    print("\n".join(notes))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "threads": args.threads, "inputs": args.inputs,
                       "rows": rows}, f, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        plot(rows, backends, peers, args.plot)
        print(f"wrote {args.plot}")
    return 0
