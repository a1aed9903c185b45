"""The one copy of the file helpers: atomic writes, JSON lines."""

from __future__ import annotations

import os

import pytest

from vlesson import files


def test_atomic_path_renames_on_success_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out" / "result.txt"
    with files.atomic_path(target) as partial:
        partial.write_text("whole")
        assert not target.exists()
    assert target.read_text() == "whole"
    with pytest.raises(RuntimeError), files.atomic_path(target) as partial:
        partial.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "whole"
    assert os.listdir(target.parent) == ["result.txt"]


def test_atomic_path_writes_a_folder_whole(tmp_path):
    target = tmp_path / "model"
    with files.atomic_path(target, ".partial-1") as folder:
        folder.mkdir()
        (folder / "config.json").write_text("{}")
    assert (target / "config.json").is_file()
    assert os.listdir(tmp_path) == ["model"]


def test_jsonl_round_trip_skips_a_damaged_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    files.write_jsonl(path, [{"a": 1}, {"b": "é"}])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"c": \n\n{"d": 4}\n')
    damaged = []
    assert files.read_jsonl(path, damaged.append) == [{"a": 1}, {"b": "é"}, {"d": 4}]
    assert damaged == [3]
