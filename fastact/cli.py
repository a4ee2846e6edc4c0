"""The ``fastact`` command (also ``python -m fastact``)."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import sys

import numpy as np

import fastact
from fastact import _cpu, _dispatch
from fastact.catalogue import OPS, REQUIRED

def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def info() -> str:
    """What ``fastact info`` prints."""
    lines = [
        f"fastact {fastact.__version__}",
        f"python {platform.python_version()} on {platform.machine()} ({platform.system()})",
        f"numpy {np.__version__}, numba {_version('numba')}",
        f"backends available: {', '.join(fastact.backends())}",
    ]
    for name, reason in fastact.unavailable_backends().items():
        lines.append(f"  {name}: unavailable, {reason}")
    for name in fastact.backends():
        module = _dispatch._loaded.get(name)
        if hasattr(module, "describe"):
            lines.append(f"  {name}: {module.describe()}")
    lines += [
        f"backend in use: {fastact.get_backend()}",
        "dtypes: float32, float64 native; float16 computed in float32; "
        "bool and integers promoted to float64",
        f"threads: {fastact.get_num_threads()} (of {usable_cores()} usable cores; "
        "inputs below 2^16 elements run serially)",
        f"cpu features: {' '.join(_cpu.features()) or 'unknown'}",
        f"ops ({len(OPS)}): {', '.join(op.name for op in OPS)}",
    ]
    return "\n".join(lines)


def ops_table() -> str:
    """The op table as Markdown (the README's API table is this output)."""
    rows = ["| op | parameters (defaults) | forward | backward takes | derivative | at the kink |",
            "|---|---|---|---|---|---|"]
    for op in OPS:
        params = ", ".join(p.name if p.default is REQUIRED else f"{p.name}={p.default!r}"
                           for p in op.params) or "–"
        names = " / ".join(f"`{n}`" for n in (op.name,) + op.aliases)
        saved = ", ".join(("grad_output",) + op.saved + tuple(p.name for p in op.params))
        rows.append(f"| {names} | {params} | {op.formula} | ({saved}) | {op.derivative} "
                    f"| {op.kink or '–'} |")
    return "\n".join(rows)


def parse_dtypes(text: str) -> list:
    """The --dtype option of bench and accuracy: 'float32', 'float64', 'both' or a comma list."""
    import numpy as np

    names = ["float32", "float64"] if text.strip() == "both" else text.split(",")
    try:
        dtypes = [np.dtype(name.strip()) for name in names]
    except TypeError:
        dtypes = []
    if not dtypes or any(d not in (np.float32, np.float64) for d in dtypes):
        raise ValueError(f"--dtype takes float32, float64, both or float32,float64; got {text!r}")
    return dtypes


# Subcommands with their own module: each has add_arguments(parser) and run(args) -> int,
# and imports nothing heavy at module level, so building the parser stays cheap.
SUBCOMMANDS = {
    "bench": ("fastact.benchmark", "measure the ops against NumPy, PyTorch and JAX (GB/s)"),
    "accuracy": ("fastact.accuracy", "maximum error in ulps per op, dtype and backend"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fastact", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="version, backends, dtypes, threads and CPU features")
    commands.add_parser("ops", help="the op table as Markdown")
    modules = {}
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = modules[name] = importlib.import_module(module_name)
        module.add_arguments(commands.add_parser(name, help=help_text, description=module.__doc__,
                                                 formatter_class=argparse.RawDescriptionHelpFormatter))
    args = parser.parse_args(argv)
    if args.command == "info":
        print(info())
    elif args.command == "ops":
        print(ops_table())
    else:
        return modules[args.command].run(args)
    return 0


def run() -> int:
    """Console entry point: main() that exits quietly when the reader closes the pipe."""
    try:
        return main()
    except BrokenPipeError:
        sys.stderr.close()  # nothing more can be written; avoid the interpreter's warning
        return 0


if __name__ == "__main__":
    sys.exit(run())
