"""vlesson.compiled: engines on a CPU run compiled where their arguments were compiled."""

from __future__ import annotations

import pytest

from vlesson import compiled, engine, envvars

DEFAULT = {"model": "smollm2-135m-instruct", "dtype": "bfloat16", "enforce_eager": True}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(envvars.HOME, str(tmp_path / "home"))
    monkeypatch.delenv(envvars.COMPILE, raising=False)
    saved = tmp_path / "vllm-cache" / "torch_aot_compile" / "abc"
    saved.mkdir(parents=True)
    return saved


def test_the_marker_ignores_eager_mode_but_not_other_arguments_or_versions(
    home, monkeypatch
):
    assert compiled.marker(DEFAULT) == compiled.marker({**DEFAULT, "enforce_eager": False})
    assert compiled.marker(DEFAULT) != compiled.marker({**DEFAULT, "dtype": "float32"})
    before = compiled.marker(DEFAULT)
    monkeypatch.setattr(compiled, "_versions", lambda: {"vllm": "9.9", "torch": "9.9"})
    assert compiled.marker(DEFAULT) != before


def test_arguments_count_as_compiled_while_vllms_saved_model_is_there(home):
    assert not compiled.is_compiled(DEFAULT)
    path = compiled.remember({**DEFAULT, "enforce_eager": False}, str(home))
    assert path is not None and path.parent.name == "compiled"
    assert compiled.is_compiled(DEFAULT)
    assert not compiled.is_compiled({**DEFAULT, "dtype": "float32"})
    home.rmdir()  # someone emptied vLLM's cache: compiling again would take minutes
    assert not compiled.is_compiled(DEFAULT)


def test_nothing_saved_leaves_no_marker_and_a_broken_one_counts_as_none(home):
    assert compiled.remember(DEFAULT, None) is None
    assert compiled.remember(DEFAULT, str(home / "missing")) is None
    assert not compiled.marker(DEFAULT).exists()
    compiled.marker(DEFAULT).parent.mkdir(parents=True)
    compiled.marker(DEFAULT).write_text("{not json")
    assert not compiled.is_compiled(DEFAULT)


def test_vlesson_compile_0_keeps_engines_eager(home, monkeypatch):
    compiled.remember(DEFAULT, str(home))
    monkeypatch.setenv(envvars.COMPILE, "0")
    assert not compiled.enabled() and not compiled.is_compiled(DEFAULT)


def test_get_llm_runs_compiled_only_where_its_arguments_were_compiled(home, monkeypatch):
    monkeypatch.setattr(engine, "is_cpu", lambda: True)
    args = engine.effective_engine_args()
    assert args["enforce_eager"] is True  # nothing compiled yet
    compiled.remember(args, str(home))
    assert engine.effective_engine_args()["enforce_eager"] is False
    assert engine.effective_engine_args(enforce_eager=True)["enforce_eager"] is True
    other = engine.effective_engine_args(disable_log_stats=False)
    assert other["enforce_eager"] is True  # not compiled: starts at once, eager


def test_a_gpu_keeps_vllms_own_choice(home, monkeypatch):
    monkeypatch.setattr(engine, "is_cpu", lambda: False)
    compiled.remember(engine.effective_engine_args(), str(home))
    assert "enforce_eager" not in engine.effective_engine_args()
