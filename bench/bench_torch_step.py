"""One CPU training step of an MLP with PyTorch's activations and with fastact's.

The model: Linear(W, W) -> GELU -> Linear(W, W) -> SiLU -> Linear(W, W) (or two other
activations: --activations) on a batch of B rows (default 4096 x 1024 float32, so each
activation is a 4096 x 1024 tensor), MSE loss, SGD.  One step = zero_grad, forward, loss,
backward, optimizer step.  The fastact model is a deep copy of the PyTorch one after
``fastact.torch.replace_activations``; both run with
the same thread count (``torch.set_num_threads``; fastact.torch follows it), and fastact
with whatever backend 'auto' resolves to (or FASTACT_BACKEND).

Besides the whole step, the activations alone are timed (forward + backward of the two
on B x W tensors through autograd), which gives the activations' share of the step.

    pytest bench/bench_torch_step.py --benchmark-only     # pytest-benchmark; skips without torch
    python bench/bench_torch_step.py [--threads 1 2] [--batch 4096] [--width 1024] [--repeat 15]
                                     [--activations gelu,silu]  # or gelu_tanh,mish, elu,softplus...

The script prints the README's table: medians of interleaved runs (PyTorch and fastact
alternate, so drift on a shared machine hits both alike).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import pytest

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

if torch is None and __name__ != "__main__":
    pytest.skip("PyTorch is not installed", allow_module_level=True)

import fastact
from fastact import _dispatch

# FASTACT_BENCH_TORCH_SHAPE=BxW changes the shape under pytest
BATCH, WIDTH = map(int, os.environ.get("FASTACT_BENCH_TORCH_SHAPE", "4096x1024").split("x"))


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


THREADS = sorted({1, usable_cores()})


def backend_in_use() -> str:
    """The backend fastact's kernels resolve to here ('auto' names the one it picks)."""
    name = fastact.get_backend()
    return _dispatch.resolve(name) + (" (auto)" if name == "auto" else "")


# name -> (the torch.nn module, its torch.nn.functional form, fastact.torch's form)
def _activations():
    import fastact.torch as FT

    return {
        "gelu": (torch.nn.GELU, F.gelu, FT.gelu),
        "gelu_tanh": (lambda: torch.nn.GELU(approximate="tanh"),
                      lambda t: F.gelu(t, approximate="tanh"),
                      lambda t: FT.gelu(t, approximate="tanh")),
        "silu": (torch.nn.SiLU, F.silu, FT.silu),
        "mish": (torch.nn.Mish, F.mish, FT.mish),
        "elu": (torch.nn.ELU, F.elu, FT.elu),
        "softplus": (torch.nn.Softplus, F.softplus, FT.softplus),
    }


class Setup:
    """The two models, the data and the bare activations of one configuration."""

    def __init__(self, batch=BATCH, width=WIDTH, seed=0, activations=("gelu", "silu")):
        import fastact.torch as FT

        table = _activations()
        first, second = (table[name] for name in activations)
        torch.manual_seed(seed)
        self.native = torch.nn.Sequential(
            torch.nn.Linear(width, width), first[0](),
            torch.nn.Linear(width, width), second[0](),
            torch.nn.Linear(width, width))
        self.fast = copy.deepcopy(self.native)
        swapped = FT.replace_activations(self.fast)
        assert len(swapped) == 2, swapped
        self.data = torch.randn(batch, width)
        self.target = torch.randn(batch, width)
        self.optimizers = {id(m): torch.optim.SGD(m.parameters(), lr=1e-3)
                           for m in (self.native, self.fast)}
        # the activations alone: inputs that require grad, and an upstream gradient
        self.act_x = torch.randn(batch, width, requires_grad=True)
        self.act_g = torch.randn(batch, width)
        self.activations = {"native": (first[1], second[1]), "fastact": (first[2], second[2])}

    def step(self, which: str) -> float:
        model = self.native if which == "native" else self.fast
        optimizer = self.optimizers[id(model)]
        optimizer.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(self.data), self.target)
        loss.backward()
        optimizer.step()
        return loss.item()

    def activations_only(self, which: str) -> None:
        for fn in self.activations[which]:
            self.act_x.grad = None
            fn(self.act_x).backward(self.act_g)


# ---------------------------------------------------------------- pytest-benchmark

_medians: dict = {}


@pytest.fixture(scope="module")
def setups():
    return {}


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    """After the module: the speed-ups, from the medians pytest-benchmark measured."""
    yield
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is None or not _medians:
        return
    lines = [f"\nfastact.torch training step ({BATCH}x{WIDTH} MLP), backend {backend_in_use()}, "
             f"torch {torch.__version__}, medians:", HEADER]
    for threads in THREADS:
        m = {k[1:]: v for k, v in _medians.items() if k[0] == threads}
        if len(m) == 4:
            lines.append(format_row(threads, m[("step", "native")], m[("step", "fastact")],
                                    m[("activations", "native")], m[("activations", "fastact")]))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        for line in lines:
            reporter.write_line(line)


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("what", ["step", "activations"])
@pytest.mark.parametrize("which", ["native", "fastact"])
def test_torch_step(benchmark, setups, threads, what, which):
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        if "setup" not in setups:
            setups["setup"] = Setup(BATCH, WIDTH)
        setup = setups["setup"]
        run = (lambda: setup.step(which)) if what == "step" else (
            lambda: setup.activations_only(which))
        for _ in range(2):  # warm up (and compile, for a JIT backend)
            run()
        benchmark.group = f"torch {what}, {threads} thread{'s' * (threads > 1)}"
        benchmark.extra_info.update(backend=backend_in_use(), threads=threads,
                                    torch=torch.__version__, batch=BATCH, width=WIDTH)
        benchmark.pedantic(run, rounds=9, iterations=1, warmup_rounds=1)
        if benchmark.stats is not None:  # None under --benchmark-disable
            _medians[(threads, what, which)] = benchmark.stats.stats.median
    finally:
        torch.set_num_threads(previous)


# ---------------------------------------------------------------- the README's table

def format_row(threads, step_native, step_fast, act_native, act_fast) -> str:
    ms = 1e3
    return (f"| {threads} | {step_native * ms:.1f} ms | {step_fast * ms:.1f} ms | "
            f"**{step_native / step_fast:.2f}×** | {act_native / step_native:.0%} | "
            f"{act_native * ms:.1f} ms | {act_fast * ms:.1f} ms | {act_native / act_fast:.2f}× |")


HEADER = ("| threads | step, PyTorch activations | step, fastact activations | step speed-up | "
          "activations' share of the PyTorch step | activations fwd+bwd, PyTorch | "
          "activations fwd+bwd, fastact | activation speed-up |\n"
          "|---|---|---|---|---|---|---|---|")


def measure(setup: Setup, threads: int, repeat: int) -> str:
    torch.set_num_threads(threads)
    times = {}
    for what, run in (("step", setup.step), ("activations", setup.activations_only)):
        for which in ("native", "fastact"):
            for _ in range(2):
                run(which)
            times[(what, which)] = []
        for _ in range(repeat):  # interleaved
            for which in ("native", "fastact"):
                start = time.perf_counter()
                run(which)
                times[(what, which)].append(time.perf_counter() - start)
    m = {k: statistics.median(v) for k, v in times.items()}
    return format_row(threads, m[("step", "native")], m[("step", "fastact")],
                      m[("activations", "native")], m[("activations", "fastact")])


def main(argv=None) -> None:
    if torch is None:
        raise SystemExit("PyTorch is not installed")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=THREADS)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--activations", default="gelu,silu",
                        help="the model's two activations, from " + ", ".join(_activations()))
    args = parser.parse_args(argv)
    names = tuple(args.activations.split(","))
    if len(names) != 2 or not set(names) <= set(_activations()):
        parser.error(f"--activations: two of {', '.join(_activations())}")
    setup = Setup(args.batch, args.width, activations=names)
    print(f"fastact {fastact.__version__}, backend {backend_in_use()}; torch {torch.__version__}; "
          f"MLP {args.batch}x{args.width} float32, {' and '.join(names)}; medians of {args.repeat}")
    print(HEADER)
    for threads in args.threads:
        print(measure(setup, threads, args.repeat), flush=True)


if __name__ == "__main__":
    main()
