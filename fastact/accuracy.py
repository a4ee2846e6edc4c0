"""fastact accuracy: the error of each backend, in ulps under the mixed bound.

Errors are measured as the smallest k with
|y - f(x)| <= k*ulp(f(x)) + k*ulp(x)*|f'(x)|  (the "mixed bound"),
f from the float64 reference (for a row op, ulp of the row's largest |x|
times 2 replaces ulp(x)*|f'(x)|).  Float32 results are judged against the
reference in float64; float64 results against the reference too (itself
within 2 ulp of mpmath, as tests/test_reference.py shows).  Results that underflow within the smallest normal count as
exact; a non-finite result counts as exact only if the reference's, rounded to
the dtype, is the same (NaN for NaN, the same infinity).

    fastact accuracy                                 # every op, float32 and float64
    fastact accuracy --ops gelu,softmax --dtype float32 --backends cython
    fastact accuracy --exhaustive --ops gelu         # all 2^32 float32 inputs
    fastact accuracy --exhaustive --ops gelu --range 0x3f800000:0x40000000

This module is also the measure the test suite applies (tests/accuracy.py),
so the command and the tests cannot disagree.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

# The bounds the fast backends are held to: forward 4 ulp (issues 3 and 4); backward 8,
# the measured worst being 6.4 (GELU's derivative Phi(x) + x phi(x) near x = -sqrt(2),
# where its own derivative vanishes, so the bound gives no slack for the cancellation).
FAST_MAX_ULPS = 4.0
FAST_MAX_ULPS_BACKWARD = 8.0


# --- the measure -----------------------------------------------------------------

def _ulp(v, dtype):
    return np.spacing(np.abs(np.asarray(v, dtype=dtype))).astype(np.float64)


def mixed_ulps(got, exact, slack, dtype):
    """Elementwise smallest k; matching non-finite values count as exact."""
    got = np.asarray(got, dtype=np.float64)
    exact = np.asarray(exact, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got - exact)
        tiny = np.finfo(dtype).tiny
        diff = np.where((np.abs(exact) < tiny) & (diff <= tiny), 0.0, diff)
        k = diff / (_ulp(exact, dtype) + slack)
    # the exact value rounded to the dtype may overflow: then inf is the right answer
    with np.errstate(over="ignore"):
        rounded = exact.astype(dtype).astype(np.float64)
    same_nonfinite = (got == rounded) | (np.isnan(got) & np.isnan(exact))
    exact = np.where(np.isfinite(rounded), exact, rounded)
    k = np.where(np.isfinite(exact) & np.isfinite(got), k, np.where(same_nonfinite, 0.0, np.inf))
    return np.where(diff == 0, 0.0, k)


def perturbation_slack(fn, x64, dtype):
    """ulp(x)*|F'(x)| for an elementwise F of x, from F's change over x +- h.

    F is evaluated by the float64 reference, with h = ulp(x) for float32.  For float64
    inputs h is 2^29 ulps (about a float32 ulp): the reference's own rounding, of the
    order of a float64 ulp of F's largest term, would swamp a one-ulp difference where
    F's terms cancel (GELU's derivative near its zero at x = -0.75).  Across a kink the
    difference is the jump, which only loosens the bound within h of the kink.
    """
    u = _ulp(x64, dtype)
    h = u * (2.0 ** 29 if np.dtype(dtype) == np.float64 else 1.0)
    with np.errstate(all="ignore"):
        slack = 0.5 * np.abs(fn(x64 + h) - fn(x64 - h)) * (u / h)
    return np.nan_to_num(slack, nan=0.0, posinf=0.0)


def row_slack(x64, axis, dtype, keepdims=True):
    """ulp(max|x| of the row) * 2: bounds sum_j |d y_i/d x_j| * ulp(x_j) for the softmax family."""
    with np.errstate(invalid="ignore"):
        m = np.max(np.where(np.isfinite(x64), np.abs(x64), 0.0), axis=axis, keepdims=keepdims,
                   initial=0.0)
    return 2 * _ulp(m, dtype)


def row_backward_slack(name, arrays64, dtype):
    """eps times the sum of the absolute terms of the backward formula (a dot-product bound)."""
    eps = float(np.finfo(dtype).eps)
    with np.errstate(all="ignore"):
        if name == "softmax":
            g, y = arrays64
            return eps * np.abs(y) * (np.abs(g) + np.sum(np.abs(g * y), axis=-1, keepdims=True))
        if name == "log_softmax":
            g, y = arrays64
            return eps * (np.abs(g) + np.exp(y) * np.sum(np.abs(g), axis=-1, keepdims=True))
        g, x, y = arrays64
        b = g[..., None] * np.exp(x - y[..., None])
        return np.nan_to_num(eps * np.abs(b) * (np.abs(x) + np.abs(y[..., None]) + 1), nan=0.0)


def saved_arrays(op, x, params, dtype):
    """The arrays op's backward takes, in ``dtype``, y made by the reference."""
    from fastact import reference

    y = np.asarray(getattr(reference, op.name)(x, **params)).astype(dtype)
    return [{"x": x, "y": y}[name] for name in op.saved]


def forward_errors(op, params, x, got):
    """Ulps of ``got`` = op(x) (last axis for row ops) against the float64 reference."""
    from fastact import reference

    dtype = x.dtype.newbyteorder("=")
    x64 = x.astype(np.float64)
    fn = lambda a: getattr(reference, op.name)(a, **params)  # noqa: E731
    exact = fn(x64)
    if op.kind in ("elementwise", "prelu"):
        slack = perturbation_slack(fn, x64, dtype)
    elif op.kind == "maxout":
        slack = 0.0
    else:
        slack = row_slack(x64, -1, dtype,
                          keepdims=op.kind != "reduce" or params.get("keepdims", False))
    return mixed_ulps(got, exact, slack, dtype), exact


def backward_errors(op, params, g, saved, got):
    """Ulps of grad_input ``got`` = op_backward(g, *saved) against the float64 reference."""
    from fastact import reference

    dtype = g.dtype.newbyteorder("=")
    g64 = g.astype(np.float64)
    saved64 = [a.astype(np.float64) for a in saved]
    ref_backward = getattr(reference, op.backward_name)
    exact = ref_backward(g64, *saved64, **params)
    if op.kind == "prelu":
        exact = exact[0]
    if op.kind in ("elementwise", "prelu"):
        def fn(a):
            result = ref_backward(g64, a, *saved64[1:], **params)
            return result[0] if op.kind == "prelu" else result
        slack = perturbation_slack(fn, saved64[0], dtype)
    elif op.kind == "maxout":
        slack = 0.0
    else:
        arrays64 = [g64] + saved64
        if op.kind == "reduce" and params.get("keepdims"):
            arrays64 = [g64[..., 0], saved64[0], saved64[1][..., 0]]
        slack = row_backward_slack(op.name, arrays64, dtype)
    return mixed_ulps(got, exact, slack, dtype), exact


# --- the grid -------------------------------------------------------------------

def grid(dtype, per_binade: int = 24, seed: int = 0) -> np.ndarray:
    """Finite inputs over every binade of ``dtype`` (both signs, subnormals, ±0, the
    kinks at 0 and ±3 and their neighbours), then ±inf and NaN."""
    info = np.finfo(dtype)
    rng = np.random.default_rng(seed)
    exponents = np.arange(info.minexp - info.nmant, info.maxexp)
    mant = rng.uniform(1.0, 2.0, (exponents.size, per_binade))
    with np.errstate(over="ignore"):
        magnitudes = (mant * np.ldexp(1.0, exponents)[:, None]).astype(dtype).ravel()
    magnitudes = magnitudes[np.isfinite(magnitudes) & (magnitudes > 0)]
    kinks = np.array([0.0, 3.0, 1.0, 6.0], dtype=dtype)
    near = np.concatenate([np.nextafter(kinks, np.inf, dtype=dtype),
                           np.nextafter(kinks, -np.inf, dtype=dtype), kinks])
    finite = np.concatenate([magnitudes, near, rng.normal(0, 3, 4096).astype(dtype)])
    values = np.unique(np.concatenate([finite, -finite, [info.max, -info.max]]).astype(dtype))
    return np.concatenate([values, np.array([np.inf, -np.inf, np.nan], dtype=dtype)])


def _rows(x, width=64):
    """x sorted by magnitude into rows of ``width`` (padded with the row's last value):
    a row of like magnitudes, so a huge entry does not hide the others' errors."""
    x = x[np.argsort(np.abs(x), kind="stable")]
    pad = (-x.size) % width
    return np.concatenate([x, np.repeat(x[-1:], pad)]).reshape(-1, width)


# --- the report -----------------------------------------------------------------

def _label(op, params):
    shown = {k: v for k, v in params.items() if k != "weight"}
    return op.name + (f"[{','.join(str(v) for v in shown.values())}]" if shown else "")


from fastact.catalogue import REQUIRED  # noqa: E402  (light: no numba, no kernels)


def _cases(ops, defaults_only=False):
    for op in ops:
        for params in op.test_params:
            if defaults_only and any(p.check != "choice" and p.default is not REQUIRED
                                     and p.name in params for p in op.params):
                continue  # the exhaustive check: default parameters, every choice
            if op.kind == "prelu" and np.size(params["weight"]) > 1:
                continue  # per-channel weights: the scalar case measures the same arithmetic
            yield op, dict(params)


def measure(op, params, dtype, backend):
    """Max forward and backward ulps, their worst inputs, and non-finite mismatches."""
    import fastact

    x = grid(dtype)
    if op.kind in ("rows", "reduce", "maxout"):
        x = _rows(x, 64 if op.kind != "maxout" else 2 * params["pieces"] * 8)
    if op.kind == "prelu":
        params = dict(params, weight=np.asarray(params["weight"], dtype=dtype))
    with np.errstate(all="ignore"):
        got = getattr(fastact, op.name)(x, **params, backend=backend)
        fwd, exact = forward_errors(op, params, x, got)
        saved = saved_arrays(op, x, params, dtype)
        y = np.asarray(getattr(fastact, op.name)(x, **params, backend="numpy"))
        g = np.random.default_rng(1).normal(0, 1, y.shape).astype(dtype)
        got_b = getattr(fastact, op.backward_name)(g, *saved, **params, backend=backend)
        if op.kind == "prelu":
            got_b = got_b[0]
        bwd, exact_b = backward_errors(op, params, g, saved, got_b)
    result = {"op": _label(op, params), "dtype": np.dtype(dtype).name, "backend": backend}
    for name, errors, inputs, ex in (("forward", fwd, x, exact), ("backward", bwd, x, exact_b)):
        errors = np.asarray(errors)
        worst = int(np.argmax(errors)) if errors.size else 0
        if errors.shape == inputs.shape:
            at = inputs.ravel()[worst] if errors.size else None
        else:  # a row op: the worst row's largest entry
            row = inputs[np.unravel_index(worst, errors.shape)[0]]
            at = row[np.argmax(np.abs(row))]
        nonfinite = ~np.isfinite(np.asarray(ex, np.float64)) | ~np.isfinite(
            np.asarray(got if name == "forward" else got_b, np.float64))
        result[name] = {
            "max_ulps": float(errors.max()) if errors.size else 0.0,
            "worst_input": None if at is None else float(at),
            "nonfinite_mismatches": int(np.count_nonzero(nonfinite & (errors > 0))),
        }
    return result


def report(ops, dtypes, backends, *, progress=True):
    results = []
    for op, params in _cases(ops):
        for dtype in dtypes:
            for backend in backends:
                if progress:
                    print(f"  {_label(op, params)} {np.dtype(dtype).name} {backend}",
                          file=sys.stderr, flush=True)
                results.append(measure(op, params, dtype, backend))
    return results


def failures(result) -> list[str]:
    """What a row of ``fastact accuracy`` breaks: the forward bound (FAST_MAX_ULPS), the
    backward bound (FAST_MAX_ULPS_BACKWARD), the non-finite rules.  Empty: it holds.
    A row of the exhaustive check has the forward figures only."""
    if "forward" not in result:  # --exhaustive: one forward op
        forward, backward = result, None
    else:
        forward, backward = result["forward"], result["backward"]
    found = []
    if forward["max_ulps"] > FAST_MAX_ULPS:
        found.append(f"forward {forward['max_ulps']:.2f} > {FAST_MAX_ULPS:g} ulp")
    if backward is not None and backward["max_ulps"] > FAST_MAX_ULPS_BACKWARD:
        found.append(f"backward {backward['max_ulps']:.2f} > {FAST_MAX_ULPS_BACKWARD:g} ulp")
    mismatches = forward["nonfinite_mismatches"] + (backward or {}).get("nonfinite_mismatches", 0)
    if mismatches:
        found.append(f"{mismatches} non-finite mismatches")
    return found


def format_table(results) -> str:
    lines = [f"| op | dtype | backend | forward max ulp | at x | backward max ulp | at x "
             f"| bounds ({FAST_MAX_ULPS:g} / {FAST_MAX_ULPS_BACKWARD:g} ulp) and non-finite "
             "rules |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        f, b = r["forward"], r["backward"]
        verdict = "; ".join(failures(r)) or "hold"
        lines.append(f"| {r['op']} | {r['dtype']} | {r['backend']} | {f['max_ulps']:.2f} "
                     f"| {f['worst_input']:.6g} | {b['max_ulps']:.2f} | {b['worst_input']:.6g} "
                     f"| {verdict} |")
    return "\n".join(lines)


# --- the exhaustive float32 check --------------------------------------------------

_CHUNK = 1 << 22


def _reference32(op, params):
    """A float64 reference for float32 inputs, vectorised (the exhaustive check evaluates
    it on 2^32 inputs): fastact.reference's, except the exact GELU, whose reference
    uses math.erfc per element; scipy.special.ndtr (Cephes, ~1 ulp in double) when
    scipy is installed."""
    from fastact import reference

    if op.name == "gelu" and params.get("approximate", "none") == "none":
        try:
            from scipy.special import ndtr
        except ImportError:
            pass
        else:
            def gelu(x):
                with np.errstate(all="ignore"):
                    y = x * ndtr(x)
                return np.where(np.isneginf(x), 0.0, np.where(np.isposinf(x), x, y))
            return gelu
    return lambda x: getattr(reference, op.name)(x, **params)


def _summary(x, got, exact, slack):
    errors = mixed_ulps(got, exact, slack, np.float32)
    nonfinite = ~np.isfinite(exact) | ~np.isfinite(got)
    worst = np.argsort(errors)[-3:][::-1]
    return {
        "max_ulps": float(errors.max()) if errors.size else 0.0,
        "worst": [[float(x[i]), float(errors[i]), float(got[i]), float(exact[i])] for i in worst],
        "above_1": int(np.count_nonzero(errors > 1)),
        "above_2": int(np.count_nonzero(errors > 2)),
        "above_4": int(np.count_nonzero(errors > 4)),
        "nonfinite_mismatches": int(np.count_nonzero(nonfinite & (errors > 0))),
        "count": int(x.size),
    }


def _forward32(op, params, backend, x):
    import fastact

    if op.kind == "prelu":
        params = dict(params, weight=np.float32(params["weight"]))
    return getattr(fastact, op.name)(x, **params, backend=backend), _reference32(op, params)


def check_chunk(op, params, backend, start, stop):
    """Errors of op over the consecutive float32 bit patterns start..stop-1: a summary."""
    x = np.arange(start, stop, dtype=np.uint64).astype(np.uint32).view(np.float32)
    with np.errstate(all="ignore"):
        got, reference32 = _forward32(op, params, backend, x)
        # ulp(x)*|f'(x)| from the neighbouring bit patterns, which are the neighbouring
        # floats: the chunk's own reference values, plus one input beyond each end
        ends = np.array([max(start - 1, 0), min(stop, (1 << 32) - 1)], np.uint32).view(np.float32)
        exact = reference32(np.concatenate([ends[:1], x, ends[1:]]).astype(np.float64))
        slack = np.nan_to_num(0.5 * np.abs(exact[2:] - exact[:-2]), nan=0.0, posinf=0.0)
        return _summary(x, got, exact[1:-1], slack)


def reference_and_slack(op, params, x):
    """The float64 reference of op on float32 inputs x, and ulp(x)*|f'(x)| from x's
    neighbours: what check_inputs compares with (computed once for many backends)."""
    reference32 = _forward32(op, params, "numpy", x[:0])[1]
    with np.errstate(all="ignore"):
        exact = reference32(x.astype(np.float64))
        up = reference32(np.nextafter(x, np.float32(np.inf)).astype(np.float64))
        down = reference32(np.nextafter(x, np.float32(-np.inf)).astype(np.float64))
        return exact, np.nan_to_num(0.5 * np.abs(up - down), nan=0.0, posinf=0.0)


def check_inputs(op, params, backend, x, reference=None):
    """Errors of op over any float32 inputs x: a summary.  ``reference``: the result of
    reference_and_slack(op, params, x), if already computed."""
    exact, slack = reference if reference is not None else reference_and_slack(op, params, x)
    with np.errstate(all="ignore"):
        got = _forward32(op, params, backend, x)[0]
        return _summary(x, got, exact, slack)


def _merge(total, part):
    if not total:
        return dict(part)
    worst = sorted(total["worst"] + part["worst"], key=lambda w: -w[1])[:3]
    merged = {k: total[k] + part[k] for k in ("above_1", "above_2", "above_4",
                                              "nonfinite_mismatches", "count")}
    return {**merged, "max_ulps": max(total["max_ulps"], part["max_ulps"]), "worst": worst}


def exhaustive(op, params, backend, start=0, stop=1 << 32, state_path=None, progress=True,
               chunk=_CHUNK):
    """Check op on every float32 bit pattern in [start, stop); resumable via state_path."""
    state = {"done": [], "summary": {}, "seconds": 0.0}
    if state_path and os.path.exists(state_path):
        with open(state_path) as f:
            state = json.load(f)
    done = set(state["done"])
    chunks = [(a, min(a + chunk, stop)) for a in range(start, stop, chunk)]
    t0 = time.perf_counter()
    base_seconds = state["seconds"]
    for n, (a, b) in enumerate(chunks):
        if a in done:
            continue
        part = check_chunk(op, params, backend, a, b)
        state["summary"] = _merge(state["summary"], part)
        state["done"].append(a)
        state["seconds"] = base_seconds + time.perf_counter() - t0
        if state_path:
            with open(state_path + ".tmp", "w") as f:
                json.dump(state, f)
            os.replace(state_path + ".tmp", state_path)
        if progress:
            left = len(chunks) - len(state["done"])
            rate = state["summary"]["count"] / max(state["seconds"], 1e-9)
            print(f"\r  {_label(op, params)} {backend}: {len(state['done'])}/{len(chunks)} chunks, "
                  f"max {state['summary']['max_ulps']:.2f} ulp, {rate / 1e6:.1f} M/s, "
                  f"ETA {left * chunk / max(rate, 1):.0f} s   ", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return dict(state["summary"], seconds=state["seconds"], op=_label(op, params),
                backend=backend)


# --- the command ------------------------------------------------------------------

def _parse_range(text):
    try:
        start, stop = (int(v, 0) for v in text.split(":"))
    except ValueError:
        raise ValueError(f"--range takes START:STOP bit patterns (e.g. 0:0x100000), got {text!r}")
    if not 0 <= start < stop <= 1 << 32:
        raise ValueError(f"--range must satisfy 0 <= START < STOP <= 2^32, got {text!r}")
    return start, stop


def add_arguments(parser):
    parser.add_argument("--ops", default="all", help="comma-separated op names, or 'all'")
    parser.add_argument("--dtype", default="float32,float64", help="float32, float64, both or float32,float64")
    parser.add_argument("--backends", default=None,
                        help="comma-separated backends (default: every available one)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--exhaustive", action="store_true",
                        help="check float32 forward elementwise ops on all 2^32 inputs")
    parser.add_argument("--range", default="0:0x100000000", metavar="START:STOP",
                        help="bit patterns the exhaustive check covers (default: all)")
    parser.add_argument("--state", metavar="DIR",
                        help="directory of resumable per-op state files for --exhaustive")


def run(args) -> int:
    import fastact
    from fastact.catalogue import OPS, OPS_BY_NAME
    from fastact.cli import parse_dtypes

    try:
        names = [n for n in args.ops.split(",") if n] if args.ops != "all" else None
        unknown = [n for n in names or () if n not in OPS_BY_NAME]
        if unknown:
            raise ValueError(f"unknown ops {unknown}; choose from {', '.join(OPS_BY_NAME)}")
        ops = [OPS_BY_NAME[n] for n in names] if names else list(OPS)
        dtypes = parse_dtypes(args.dtype)
        backends = args.backends.split(",") if args.backends else fastact.backends()
        missing = [b for b in backends if b not in fastact.backends()]
        if missing:
            raise ValueError(f"backends {missing} are not available; available: "
                             f"{', '.join(fastact.backends())}")
        start, stop = _parse_range(args.range)
    except (ValueError, TypeError) as error:
        print(f"fastact accuracy: {error}", file=sys.stderr)
        return 2

    if args.exhaustive:
        ops = [op for op in ops if op.kind in ("elementwise", "prelu")]
        if not ops:
            print("fastact accuracy: --exhaustive checks elementwise ops only", file=sys.stderr)
            return 2
        results = []
        for op, params in _cases(ops, defaults_only=True):
            for backend in backends:
                state = (os.path.join(args.state, f"{_label(op, params)}-{backend}.json")
                         if args.state else None)
                if args.state:
                    os.makedirs(args.state, exist_ok=True)
                results.append(exhaustive(op, params, backend, start, stop, state))
        print("| op | backend | inputs | max ulp | worst input | > 1 ulp | > 2 ulp | > 4 ulp "
              "| non-finite mismatches | seconds |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in results:
            print(f"| {r['op']} | {r['backend']} | {r['count']} | {r['max_ulps']:.2f} "
                  f"| {r['worst'][0][0]:.9g} | {r['above_1']} | {r['above_2']} | {r['above_4']} "
                  f"| {r['nonfinite_mismatches']} | {r['seconds']:.0f} |")
    else:
        results = report(ops, dtypes, backends)
        print(format_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    # 0 exactly when every row holds (forward and backward bounds, non-finite rules)
    return 1 if any(failures(r) for r in results) else 0
