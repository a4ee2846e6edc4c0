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
