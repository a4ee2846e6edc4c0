"""The README's tables and commands come from the op table and stay in sync with it."""

from pathlib import Path

import pytest

from fastact.cli import main, ops_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_ops_table_is_the_catalogue():
    if not README.exists():
        pytest.skip("README.md is not beside the tests (installed package)")
    text = README.read_text()
    table = text.split("<!-- ops-table -->\n", 1)[1].split("<!-- /ops-table -->", 1)[0]
    assert table.strip() == ops_table().strip(), "run `fastact ops` and paste it into README.md"


def test_cli_info_and_ops(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "fastact" in out and "backends available: " in out and "numpy" in out
    assert main(["ops"]) == 0
    assert "| `gelu` |" in capsys.readouterr().out


ROOT = README.parent
RESULTS = ROOT / "bench" / "results"


def _between(text, name):
    return text.split(f"<!-- {name} -->\n", 1)[1].split(f"<!-- /{name} -->", 1)[0]


def _report():
    import importlib.util

    spec = importlib.util.spec_from_file_location("report", ROOT / "bench" / "report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    return report


@pytest.mark.skipif(not (RESULTS / "README.md").exists(), reason="needs the source tree")
def test_quoted_performance_figures_are_the_saved_runs():
    """The README's summary and bench/results/README.md's float32 table are what
    bench/report.py makes of the saved run, not figures typed in by hand."""
    import json

    summary = _report().summary(json.loads((RESULTS / "float32_1thread.json").read_text()))
    assert _between((RESULTS / "README.md").read_text(), "performance").strip() == summary.strip()
    ratios = {cells[0]: cells[-4:-1] for cells in
              ([c.strip() for c in line.strip("|").split("|")] for line in summary.splitlines()[2:])}
    for line in _between(README.read_text(), "performance-summary").strip().splitlines()[2:]:
        op, *quoted = [c.strip().strip("*") for c in line.strip("|").split("|")]
        assert quoted == ratios[op], f"README performance summary, {op}: {quoted} != {ratios[op]}"


@pytest.mark.skipif(not README.exists(), reason="needs the source tree")
@pytest.mark.parametrize("doc", ["README.md", "bench/results/README.md"])
def test_relative_links_point_to_files_that_exist(doc):
    import re

    path = ROOT / doc
    if not path.exists():
        pytest.skip(f"{doc} is not in this tree")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text())
    local = [t for t in targets if "://" not in t]
    assert local, "no relative links found"
    missing = [t for t in local if not (path.parent / t).exists()]
    assert not missing, f"{doc} links to missing files: {missing}"


def test_readme_is_short_and_keeps_the_quick_start_commands():
    if not README.exists():
        pytest.skip("README.md is not beside the tests (installed package)")
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    # .ci/run reads the line after the marker that starts with `python`
    for marker, command in [("main-command", 'python -m pip install -e ".[bench]" && fastact bench'),
                            ("test-command", 'python -m pip install -e ".[test]" && python -m pytest')]:
        after = text.split(f"<!-- {marker} -->\n", 1)[1].splitlines()
        assert next(line for line in after if line.startswith("python")) == command
