"""The project's files are found from any working directory."""

from __future__ import annotations

import os
import sys

import pytest

from vlesson import paths


def test_project_files_are_found_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.project_file("configs", "focused_150.json").is_file()
    assert paths.project_file("text_generation.py").is_file()
    with pytest.raises(FileNotFoundError, match="come with its checkout"):
        paths.project_file("configs", "missing.json")


def test_importing_vlesson_puts_its_commands_on_path():
    """A JupyterLab started without `make lab` has no .venv/bin on PATH: `!vlesson ...`
    cells failed with exit code 127 until `import vlesson` put it there."""
    import subprocess

    code = "import shutil, vlesson; print(shutil.which('vlesson'))"
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True,
        env={**os.environ, "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.strip() == os.path.join(os.path.dirname(sys.executable), "vlesson")


def test_commands_already_on_path_are_left_in_place(monkeypatch):
    folder = os.path.dirname(sys.executable)
    monkeypatch.setenv("PATH", f"/usr/bin{os.pathsep}{folder}")
    paths.put_commands_on_path()
    assert os.environ["PATH"] == f"/usr/bin{os.pathsep}{folder}"
