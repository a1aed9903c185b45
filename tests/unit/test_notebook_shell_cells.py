"""A notebook's shell cell fails when its command fails.

IPython ignores the exit status of a ``!`` line, so ``!cmd; test $? -eq 0`` never
fails a cell: the notebooks check ``_exit_code`` (set by IPython after each ``!``
line) with an ``assert`` instead. Proved here under nbval, as ``make test`` runs the
notebooks, with a tiny generated notebook (a kernel, no engine)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CHECKED = re.compile(r"^\s*assert _exit_code == \d+\b")


def _run_under_nbval(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "c0",
                   "metadata": {}, "outputs": [], "source": source}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path = tmp_path / "shell_cell.ipynb"
    path.write_text(json.dumps(notebook))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
         "-p", "no:cacheprovider", "-q", str(path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_the_old_form_cannot_fail_a_cell(tmp_path):
    """The finding itself: a failing command with `; test $? -eq 0` still passes."""
    result = _run_under_nbval(tmp_path, "!sh -c 'exit 3'; test $? -eq 0")
    assert result.returncode == 0, result.stdout


def test_a_failing_command_fails_its_cell_with_the_notebooks_form(tmp_path):
    result = _run_under_nbval(
        tmp_path,
        "!sh -c 'exit 3'\n"
        'assert _exit_code == 0, f"the command failed (exit code {_exit_code})"',
    )
    assert result.returncode == 1, result.stdout
    assert "exit code 3" in result.stdout


def test_a_passing_command_passes_its_cell(tmp_path):
    result = _run_under_nbval(tmp_path, "!sh -c 'exit 2'\nassert _exit_code == 2")
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS.glob("*.ipynb")),
                         ids=lambda p: p.stem)
def test_every_vlesson_command_in_a_notebook_checks_its_exit_code(notebook):
    """Each `!vlesson ...` line is followed by `assert _exit_code == N`."""
    unchecked = []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        lines = "".join(cell["source"]).splitlines()
        for i, line in enumerate(lines):
            last = i + 1 == len(lines)
            if line.lstrip().startswith("!vlesson") and (
                last or not CHECKED.match(lines[i + 1])
            ):
                unchecked.append(line.strip())
    assert unchecked == []
