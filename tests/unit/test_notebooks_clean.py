"""Committed notebooks carry no outputs, start with the vlesson import, and are listed
in the contents notebook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), (
                f"{path.name}: clear outputs before committing"
            )
            assert cell.get("execution_count") is None, f"{path.name}: execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_imports_vlesson(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code"
    assert "import vlesson as vl" in "".join(code[0]["source"])


def test_contents_links_every_notebook():
    contents = next(p for p in NOTEBOOKS if p.name.startswith("00_"))
    text = "".join("".join(c["source"]) for c in _cells(contents))
    for path in NOTEBOOKS:
        if path != contents:
            assert f"({path.name})" in text, f"00_contents does not link {path.name}"
