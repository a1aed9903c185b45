"""The package's layers import downwards only: import-linter's contract in
pyproject.toml ([tool.importlinter]) holds, and an upward import breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run ``lint-imports`` on the package under ``root`` with ``root``'s config."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def copy_of_the_package(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "vlesson",
        tmp_path / "vlesson",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    root = copy_of_the_package(tmp_path)
    assert lint_imports(root).returncode == 0  # the copy itself is fine
    sampling = root / "vlesson" / "sampling.py"  # the core...
    sampling.write_text(  # ...reaching up into a workflow, then into the CLI
        sampling.read_text()
        + "\n\ndef _upward():\n    from vlesson.workflows import sweep  # noqa\n"
        + "    from vlesson.cli import options  # noqa\n"
    )
    result = lint_imports(root)
    assert result.returncode == 1, result.stdout
    assert "vlesson.sampling -> vlesson.workflows.sweep" in result.stdout
    assert "vlesson.sampling -> vlesson.cli.options" in result.stdout
    assert "0 kept, 1 broken" in result.stdout


def test_the_wings_serving_and_workflows_do_not_import_each_other(tmp_path):
    root = copy_of_the_package(tmp_path)
    widgets = root / "vlesson" / "playground" / "widgets.py"
    widgets.write_text(
        widgets.read_text() + "\nfrom vlesson.workflows import cache  # noqa\n"
    )
    result = lint_imports(root)
    assert result.returncode == 1
    grading = root / "vlesson" / "exercises" / "grading.py"
    grading.write_text(
        grading.read_text() + "\nfrom vlesson.playground import render  # noqa\n"
    )
    result = lint_imports(root)
    assert result.returncode == 1
    said = result.stdout
    assert "vlesson.playground is not allowed to import vlesson.workflows" in said
    assert "vlesson.exercises is not allowed to import vlesson.playground" in said
