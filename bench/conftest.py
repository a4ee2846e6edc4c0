"""pytest-benchmark options for the bench/ suite: ``pytest bench/ --benchmark-only``."""

import pytest


def pytest_addoption(parser):
    parser.addoption("--bench-sizes", default="10,16,22",
                     help="element counts as powers of two (default 10,16,22)")
    parser.addoption("--bench-dtypes", default="float32,float64", help="float32, float64")
    parser.addoption("--bench-ops", default="all", help="op labels, comma-separated, or all")
    parser.addoption("--bench-inputs", default="normal",
                     help="the inputs' distribution, as fastact bench --inputs: normal, uniform")


def pytest_generate_tests(metafunc):
    from fastact import benchmark

    config = metafunc.config
    if "case" in metafunc.fixturenames:
        names = config.getoption("--bench-ops")
        case_list = benchmark.cases(None if names == "all" else names.split(","))
        if names == "all":
            case_list = benchmark.cases(["all"])
        inputs = config.getoption("--bench-inputs")
        if inputs not in benchmark.INPUTS:
            raise pytest.UsageError(f"--bench-inputs: choose from {', '.join(benchmark.INPUTS)}")
        case_list = [benchmark.replace(c, distribution=inputs) for c in case_list]
        metafunc.parametrize("case", case_list, ids=lambda c: c.label)
    if "size" in metafunc.fixturenames:
        metafunc.parametrize("size", [int(s) for s in config.getoption("--bench-sizes").split(",")],
                             ids=lambda s: f"2^{s}")
    if "dtype" in metafunc.fixturenames:
        metafunc.parametrize("dtype", config.getoption("--bench-dtypes").split(","))


@pytest.fixture(scope="session", autouse=True)
def _jax_float64():
    try:
        import jax
    except ImportError:
        return
    jax.config.update("jax_enable_x64", True)  # else JAX computes float64 input in float32
