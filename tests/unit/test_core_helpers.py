"""The core's one copy of each helper: atomic files, JSON lines, names, project paths,
the engine facts, and the one-line "this step needs a local engine" check."""

from __future__ import annotations

import dataclasses
import os

import pytest

from vlesson import engine, files, names, paths
from vlesson.facts import EngineFacts, engine_facts


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


def test_names_suggest_and_split():
    assert names.did_you_mean("temprature", ["temperature", "top_p"]) == (
        "did you mean 'temperature'?"
    )
    assert names.did_you_mean("zzz", ["temperature"], "use temperature") == (
        "use temperature"
    )
    assert names.split_assignments(" a=1, b = 2 ,", "name=value") == [
        ("a", "1"),
        ("b", "2"),
    ]
    with pytest.raises(ValueError, match="'a' must look like name=value"):
        names.split_assignments("a", "name=value")


def test_project_files_are_found_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.project_file("configs", "focused_150.json").is_file()
    assert paths.project_file("batch_generate.sh").is_file()
    with pytest.raises(FileNotFoundError, match="come with its checkout"):
        paths.project_file("configs", "missing.json")


def test_facts_are_frozen_and_give_fingerprint_and_info():
    facts = EngineFacts(
        model="m",
        model_path="m",
        tokenizer="m",
        dtype="float32",
        max_model_len=8192,
        device="remote",
        server_url="http://h/v1",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.dtype = "bfloat16"
    assert facts.is_remote and not facts.seeds_break_on_split_prompts
    assert facts.fingerprint["max_model_len"] == 8192
    assert facts.info()["server"] == "http://h/v1"
    fake = type("Fake", (), {"facts": facts})()
    assert engine_facts(fake) is facts


def test_needs_local_engine_says_why_on_a_server(capsys):
    class Remote(engine.RemoteLLM):
        def __init__(self):  # no connection: only the type and the address count
            self.server = "http://class:8000/v1"

    assert engine.needs_local_engine(object(), "Benchmarking engines") is True
    assert capsys.readouterr().out == ""
    assert engine.needs_local_engine(Remote(), "Benchmarking engines") is False
    out = capsys.readouterr().out
    assert "Benchmarking engines needs a local engine" in out
    assert "http://class:8000/v1" in out


def test_importing_vlesson_loads_neither_vllm_nor_widgets_nor_the_cli():
    import subprocess
    import sys

    code = (
        "import sys, vlesson as vl; vl.get_llm; vl.generate; vl.PARAMS; vl.batch\n"
        "heavy = {'vllm', 'ipywidgets', 'torch', 'fastapi', 'vlesson.cli'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
        "assert callable(vl.generate)  # the function, not the module of that name"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
