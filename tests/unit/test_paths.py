"""The project's files are found from any working directory."""

from __future__ import annotations

import pytest

from vlesson import paths


def test_project_files_are_found_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.project_file("configs", "focused_150.json").is_file()
    assert paths.project_file("text_generation.py").is_file()
    with pytest.raises(FileNotFoundError, match="come with its checkout"):
        paths.project_file("configs", "missing.json")
