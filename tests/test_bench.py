"""Smoke tests of the measuring tools: `fastact bench`, the bench/ suite and its report,
`fastact accuracy`.  They check that the tools run and say what they measured, never
how fast anything is (benchmarks are not tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastact

from fastact import cli

ROOT = Path(__file__).resolve().parents[1]


def test_bench_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert cli.main(["bench", "--ops", "relu,softmax", "--backward", "--sizes", "10",
                     "--backends", "numpy", "--peers", "none", "--rounds", "1",
                     "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| relu | float32 | 2^10 |" in table and "| softmax_backward | float32 | 2^10 |" in table
    data = json.loads(out.read_text())
    assert {r["op"] for r in data["rows"]} == {"relu", "relu_backward", "softmax",
                                                "softmax_backward"}
    assert all(r["gbs"]["numpy"] > 0 and r["memcpy_gbs"] > 0 for r in data["rows"])
    assert data["machine"]["fastact"]
    assert isinstance(data["machine"]["cpu"], str) and data["machine"]["cpu"]  # the CPU's name


def test_bench_inputs_option_draws_x_from_the_distribution_asked(tmp_path, capsys):
    """--inputs uniform: x on [-10, 10] for every case (and the JAX peer's saved x, drawn
    again from the case), said in the notes and the JSON."""
    from fastact import benchmark

    checked = []
    for case in benchmark.cases(["gelu", "softmax"], backward=True):
        uniform = benchmark.replace(case, distribution="uniform")
        arrays = uniform.inputs(1 << 12, np.float32)
        if case.backward and "x" not in case.op.saved:
            continue  # softmax's backward takes y, computed from x
        x = arrays[1 + case.op.saved.index("x")] if case.backward else arrays[0]
        assert -10 <= x.min() < -9 and 9 < x.max() <= 10, case.label
        assert abs(np.mean(np.abs(x) > 5) - 0.5) < 0.05  # not the normal's 10%
        standard = benchmark.replace(case, distribution="standard").inputs(1 << 12, np.float32)
        x = standard[1 + case.op.saved.index("x")] if case.backward else standard[0]
        assert 0.9 < np.std(x) < 1.1, case.label  # the protocol's normal has 3
        assert np.array_equal(uniform.inputs(1 << 12, np.float32)[0], arrays[0])  # same draw
        checked.append(case.label)
    assert sorted(checked) == ["gelu", "gelu_backward", "softmax"]
    with pytest.raises(ValueError, match="unknown input distribution 'cauchy'"):
        benchmark.replace(case, distribution="cauchy").inputs(8, np.float32)
    out = tmp_path / "run.json"
    assert cli.main(["bench", "--ops", "gelu", "--sizes", "8", "--backends", "numpy",
                     "--peers", "none", "--rounds", "1", "--inputs", "uniform",
                     "--json", str(out)]) == 0
    assert "x uniform on [-10, 10]" in capsys.readouterr().out
    assert json.loads(out.read_text())["inputs"] == "uniform"
    with pytest.raises(SystemExit) as exit_:  # argparse's own refusal of a bad choice
        cli.main(["bench", "--inputs", "cauchy"])
    assert exit_.value.code == 2
    assert "invalid choice: 'cauchy'" in capsys.readouterr().err


def test_bench_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "run.png"
    assert cli.main(["bench", "--ops", "gelu[tanh]", "--sizes", "8,10", "--backends", "numpy",
                     "--peers", "none", "--rounds", "1", "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("text, names", [("both", ["float32", "float64"]),
                                         ("float64", ["float64"]),
                                         (" float32, float64", ["float32", "float64"])])
def test_dtype_option_takes_both_and_lists(text, names):
    """--dtype as its help says: 'both' crashed with NumPy's TypeError."""
    assert [d.name for d in cli.parse_dtypes(text)] == names


@pytest.mark.parametrize("argv, message", [
    (["--ops", "swoosh"], "unknown op 'swoosh'"),
    (["--sizes", "40"], "--sizes are powers of two"),
    (["--dtype", "int8"], "--dtype takes float32"),
    (["--dtype", "float33"], "--dtype takes float32"),  # not a NumPy dtype: was a traceback
    (["--backends", "fortran"], "backend 'fortran' is not available"),
    (["--peers", "tensorflow"], "unknown peer 'tensorflow'"),
])
def test_bench_refuses_bad_options(argv, message, capsys):
    assert cli.main(["bench"] + argv) == 2
    assert message in capsys.readouterr().err


def test_bench_suite_collects_and_a_tiny_case_runs(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/bench_ops.py", "-q", "-p", "no:cacheprovider",
         "--benchmark-disable", "--bench-sizes", "8", "--bench-dtypes", "float32",
         "--bench-ops", "relu", "-k", "numpy or memcpy"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert " passed" in run.stdout


def test_report_turns_benchmark_json_into_a_table(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import report
    finally:
        sys.path.pop(0)
    entry = lambda op, column, median: {  # noqa: E731
        "extra_info": {"op": op, "column": column, "dtype": "float32", "size": 16,
                       "bytes": 1_000_000}, "stats": {"median": median}}
    data = {"benchmarks": [entry("relu", "cython", 1e-5), entry("relu", "torch", 2e-5),
                           entry("memcpy", "memcpy", 5e-6)]}
    table = report.table(data)
    assert "| relu | float32 | 2^16 | 100.00 | 50.00 | 2.00× | 0.50 |" in table


def test_report_summarises_fastact_bench_json():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import report
    finally:
        sys.path.pop(0)
    row = lambda size, ours, theirs: {  # noqa: E731
        "op": "gelu", "dtype": "float32", "size": size, "bytes": 8, "memcpy_gbs": 40.0,
        "gbs": {"cython": ours, "numba": ours / 2, "cython out=": 20.0, "torch": theirs}}
    table = report.summary({"rows": [row(10, 3.0, 1.0), row(16, 10.0, 5.0), row(22, 6.0, 4.0)]})
    assert "| gelu | 10.0 | 5.0 | 5.0 | 3.00× | 2.00× | 1.50× | 0.50 |" in table


def test_peer_accuracy_measures_fastact(capsys):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import peer_accuracy
    finally:
        sys.path.pop(0)
    # no peers: importing JAX here would make later fork tests warn
    peer_accuracy.main(["--ops", "relu,gelu", "--stride", str(1 << 22), "--peers", "none"])
    lines = capsys.readouterr().out.splitlines()
    gelu = next(line for line in lines if line.startswith("| gelu |"))
    fastact_cell = gelu.split("|")[2]
    assert float(fastact_cell.split()[0]) <= 4 and ">4: 0; non-finite: 0" in fastact_cell
    assert any(line.startswith("| relu | 0 at") for line in lines)


def test_accuracy_prints_a_table(capsys):
    assert cli.main(["accuracy", "--ops", "relu,softmax", "--dtype", "float32"]) == 0
    table = capsys.readouterr().out
    assert "| relu | float32 | numpy | 0.00 |" in table and "| softmax | float32 |" in table


def test_accuracy_exhaustive_on_a_range_and_resumes(tmp_path, capsys):
    argv = ["accuracy", "--exhaustive", "--ops", "sigmoid", "--backends", "numpy",
            "--range", "0x3f800000:0x3f880000", "--state", str(tmp_path)]
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    assert "| sigmoid | numpy | 524288 |" in first
    assert cli.main(argv) == 0  # resumed from the state file: nothing left to do
    assert capsys.readouterr().out == first  # same summary, same recorded seconds


@pytest.mark.parametrize("argv, message", [
    (["--ops", "swoosh"], "unknown ops"),
    (["--range", "5:3"], "--range must satisfy"),
    (["--dtype", "float33"], "--dtype takes float32"),
    (["--exhaustive", "--ops", "softmax"], "elementwise ops only"),
])
def test_accuracy_refuses_bad_options(argv, message, capsys):
    assert cli.main(["accuracy"] + argv) == 2
    assert message in capsys.readouterr().err


def test_bench_table_shows_units_and_without_peers_says_how_to_add_them(monkeypatch, capsys):
    from fastact import benchmark

    monkeypatch.setattr(benchmark, "available_peers",
                        lambda: ([], {"torch": "not installed (torch)",
                                      "jax": "not installed (jax)"}))
    assert cli.main(["bench", "--ops", "relu", "--sizes", "8", "--backends", "numpy",
                     "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "| op | dtype | size (elements) | numpy GB/s | memcpy GB/s | of memcpy |" in out
    assert "vs best peer" not in out  # no column of dashes without a peer
    assert "GB/s: bytes of every array read and written" in out
    assert "pip install torch==2.13.0" in out and "pip install jax jaxlib" in out


def test_bench_default_measures_the_backend_in_use(monkeypatch):
    import argparse

    import fastact
    from fastact import benchmark

    parser = argparse.ArgumentParser()
    benchmark.add_arguments(parser)
    backends = benchmark._options(parser.parse_args(["--peers", "none"]))[3]
    expected = "cython" if "cython" in fastact.backends() else \
        "numba" if "numba" in fastact.backends() else "numpy"
    assert backends == [expected]


def test_bench_plot_title_names_only_the_peers_measured(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.figure

    from fastact import benchmark

    titles = []
    monkeypatch.setattr(matplotlib.figure.Figure, "suptitle",
                        lambda self, t, **kw: titles.append(t))
    rows = [{"op": "relu", "dtype": "float32", "size": n, "memcpy_gbs": 50.0,
             "gbs": {"numpy": 10.0 * n}} for n in (10, 16, 22)]
    benchmark.plot(rows, ["numpy"], [], tmp_path / "a.png")
    benchmark.plot([dict(r, gbs={**r["gbs"], "torch": 5.0}) for r in rows], ["numpy"],
                   ["torch"], tmp_path / "b.png")
    assert titles[0].startswith("fastact: ") and "vs" not in titles[0]
    assert titles[1].startswith("fastact vs torch: ")


def test_bench_dask_runs_on_the_threaded_scheduler(tmp_path, capsys):
    """`fastact bench --dask` at a tiny size: the table, the JSON with the CPU's name and a
    peak memory for every Dask row."""
    pytest.importorskip("dask.array")
    pytest.importorskip("distributed")
    pytest.importorskip("scipy")
    out = tmp_path / "dask.json"
    assert cli.main(["bench", "--dask", "--elements", "14", "--chunk-mib", "0.01",
                     "--single-elements", "12", "--schedulers", "threads", "--baseline", "all",
                     "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| threads | softmax | fastact |" in table and "| threads | gelu | dask+numpy |" in table
    data = json.loads(out.read_text())
    assert data["machine"]["cpu"]
    dask_rows = [r for r in data["rows"] if r["scheduler"] == "threads"]
    assert {(r["op"], r["impl"]) for r in dask_rows} >= {
        ("gelu", "fastact"), ("gelu_backward", "dask+numpy"), ("softmax", "fastact")}
    assert all(r["peak_mib"] > 0 and r["seconds"] > 0 for r in dask_rows)
    assert {r["op"] for r in data["rows"] if r["scheduler"] == "single-process"} == {
        "gelu", "gelu_backward", "softmax"}


def test_bench_dask_refuses_bad_options(capsys):
    assert cli.main(["bench", "--dask", "--schedulers", "mpi"]) == 2
    assert "--schedulers takes cluster and/or threads" in capsys.readouterr().err
    assert cli.main(["bench", "--dask", "--baseline", "relu"]) == 2
    assert "--baseline takes" in capsys.readouterr().err


def test_numpy_peer_computes_each_op():
    """The NumPy peer is timed as the op a user writes with NumPy's ufuncs: it must compute
    the op (against the reference, loosely: its naive formulas are not held to fastact's
    bound), and it is absent only where NumPy has no way (exact GELU: no erf)."""
    from fastact import benchmark

    absent = []
    for case in benchmark.cases(["all"]):
        arrays = case.inputs(1 << 12, np.float64)
        run = benchmark.peer_callable("numpy-expr", case, arrays)
        if run is None:
            absent.append(case.label)
            continue
        with np.errstate(all="ignore"):
            got = run()
        expected = getattr(fastact, case.label.split("[")[0])(*arrays, **case.params,
                                                              backend="numpy")
        for g, e in zip(*(v if isinstance(v, tuple) else (v,) for v in (got, expected))):
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12, err_msg=case.label)
    assert sorted(absent) == ["gelu", "gelu_backward"]


def test_saved_runs_name_the_cpu_with_its_family_and_model_numbers():
    """A virtual machine's model name alone ("Intel(R) Xeon(R) Processor") does not tell
    the microarchitecture; the saved runs add the first CPU's family, model and stepping."""
    from fastact import _cpu

    cpuinfo = ["processor\t: 0\n", "vendor_id\t: GenuineIntel\n", "cpu family\t: 6\n",
               "model\t\t: 207\n", "model name\t: Intel(R) Xeon(R) Processor\n",
               "stepping\t: 2\n", "\n", "processor\t: 1\n", "model\t\t: 1\n"]
    assert (_cpu.model_from_cpuinfo(cpuinfo)
            == "Intel(R) Xeon(R) Processor (family 6, model 207, stepping 2)")
    assert _cpu.model_from_cpuinfo(["model name\t: AMD EPYC\n"]) == "AMD EPYC"
    assert _cpu.model_from_cpuinfo(["processor\t: 0\n", "Features\t: neon\n"]) is None
    assert _cpu.model()  # never empty: the architecture at least
