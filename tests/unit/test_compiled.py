"""vlesson.compiled: engines on a CPU run compiled where their arguments were compiled."""

from __future__ import annotations

import shutil

import pytest

from vlesson import compiled, engine, envvars

DEFAULT = {"model": "smollm2-135m-instruct", "dtype": "bfloat16", "enforce_eager": True}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(envvars.HOME, str(tmp_path / "home"))
    monkeypatch.delenv(envvars.COMPILE, raising=False)
    monkeypatch.delenv("VLLM_CACHE_ROOT", raising=False)
    saved = tmp_path / "vllm-cache" / "torch_aot_compile" / "abc"
    (saved / "rank_0_0").mkdir(parents=True)
    (saved / "rank_0_0" / "model").write_bytes(b"what vLLM saved")
    return saved


def test_the_marker_ignores_eager_mode_but_not_arguments_versions_or_cache(
    home, monkeypatch
):
    assert compiled.marker(DEFAULT) == compiled.marker({**DEFAULT, "enforce_eager": False})
    assert compiled.marker(DEFAULT) != compiled.marker({**DEFAULT, "dtype": "float32"})
    before = compiled.marker(DEFAULT)
    monkeypatch.setenv("VLLM_CACHE_ROOT", str(home))  # another cache: not compiled there
    assert compiled.marker(DEFAULT) != before
    monkeypatch.delenv("VLLM_CACHE_ROOT")
    monkeypatch.setattr(compiled, "_versions", lambda: {"vllm": "9.9", "torch": "9.9"})
    assert compiled.marker(DEFAULT) != before


def test_arguments_count_as_compiled_while_vllms_saved_model_is_there(home):
    assert not compiled.is_compiled(DEFAULT)
    path = compiled.remember({**DEFAULT, "enforce_eager": False}, str(home))
    assert path is not None and path.parent.name == "compiled"
    assert compiled.is_compiled(DEFAULT)
    assert not compiled.is_compiled({**DEFAULT, "dtype": "float32"})
    shutil.rmtree(home)  # someone emptied vLLM's cache: compiling again takes minutes
    assert not compiled.is_compiled(DEFAULT)


def test_nothing_saved_leaves_no_marker_and_a_broken_one_counts_as_none(home):
    assert compiled.remember(DEFAULT, None) is None
    assert compiled.remember(DEFAULT, str(home / "missing")) is None
    (home / "rank_0_0" / "model").unlink()  # vLLM made the folder, then failed to save
    assert compiled.remember(DEFAULT, str(home)) is None
    assert not compiled.marker(DEFAULT).exists()
    compiled.marker(DEFAULT).parent.mkdir(parents=True)
    compiled.marker(DEFAULT).write_text("{not json")
    assert not compiled.is_compiled(DEFAULT)


def test_vlesson_compile_0_keeps_engines_eager(home, monkeypatch):
    monkeypatch.setattr(engine, "is_cpu", lambda: True)
    compiled.remember(engine.effective_engine_args(), str(home))
    monkeypatch.setenv(envvars.COMPILE, "0")
    assert not compiled.enabled()
    assert engine.effective_engine_args()["enforce_eager"] is True
    # asked for by name, it still loads what was compiled, with the brief warm-up
    assert compiled.is_compiled(engine.effective_engine_args(enforce_eager=False))


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


@pytest.mark.parametrize("loaded, kept", [(True, True), (None, True), (False, False)])
def test_a_start_that_compiled_anew_instead_of_loading_goes_back_to_eager(
    home, monkeypatch, loaded, kept
):
    monkeypatch.setattr(engine, "loaded_saved_compiled_model", lambda llm: loaded)
    compiled.remember(DEFAULT, str(home))
    engine._note_compiled({**DEFAULT, "enforce_eager": False}, object(), str(home),
                          meant_to_load=True)
    assert compiled.is_compiled(DEFAULT) is kept
    assert (compiled.failure(DEFAULT) is None) is kept
    assert ("eager from now on: a start compiled it again" in compiled.history()) is not kept


def test_a_first_compile_is_marked_whatever_it_loaded(home, monkeypatch):
    monkeypatch.setattr(engine, "loaded_saved_compiled_model", lambda llm: False)
    engine._note_compiled(DEFAULT, object(), str(home), meant_to_load=False)
    assert compiled.is_compiled(DEFAULT)
    assert f"compiled: later starts load {home}" in compiled.history()


def test_a_start_meant_to_load_never_marks_what_another_process_gave_up(home, monkeypatch):
    """Two starts at once that both compile anew: the second must not undo the first's
    verdict, or engines would flip between compiled and eager."""
    monkeypatch.setattr(engine, "loaded_saved_compiled_model", lambda llm: False)
    compiled.forget(DEFAULT, "a start compiled it again instead of loading")
    engine._note_compiled(DEFAULT, object(), str(home), meant_to_load=True)
    assert not compiled.is_compiled(DEFAULT) and compiled.failure(DEFAULT)


@pytest.mark.parametrize("marked", [True, False])
def test_only_a_start_that_loads_warms_up_briefly(home, monkeypatch, marked):
    from vlesson import compat, models

    monkeypatch.setattr(engine, "is_cpu", lambda: True)
    monkeypatch.setattr(engine, "apply_environment", lambda: None)
    monkeypatch.setattr(models, "check_available", lambda model: None)
    monkeypatch.setattr(models, "resolve", lambda model: model)
    monkeypatch.setattr(compat, "warm_up_briefly_on_cpu", lambda: None)
    if marked:
        compiled.remember(DEFAULT, str(home))
    with engine.starting_engine(DEFAULT, "test engine"):
        assert compat._warm_up["brief"] is marked
    assert compat._warm_up["brief"] is False


def test_the_warm_engine_stays_while_its_arguments_are_marked_or_unmarked(
    home, monkeypatch
):
    """`vlesson compile`, or a start in another process, must not restart it."""
    monkeypatch.setattr(engine, "is_cpu", lambda: True)
    built = []
    monkeypatch.setattr(engine, "_build", lambda args: (built.append(args) or object(), 1.0))
    monkeypatch.setattr(engine, "release", lambda: None)
    monkeypatch.setattr(engine, "_warm", None)
    llm = engine.get_llm()
    compiled.remember(engine.effective_engine_args(), str(home))
    assert engine.get_llm() is llm
    compiled.forget(engine.effective_engine_args(), "a test")
    assert engine.get_llm() is llm
    assert engine.get_llm(dtype="float32") is not llm
    assert [args["enforce_eager"] for args in built] == [True, True]



def test_an_engine_core_in_a_child_process_stays_eager(home, monkeypatch):
    """vLLM's asynchronous engine (the web API) runs its core in a spawned process,
    where a saved compiled model does not load: it would compile at every start."""
    monkeypatch.setattr(engine, "is_cpu", lambda: True)
    compiled.remember(engine.effective_engine_args(), str(home))
    assert engine.effective_engine_args()["enforce_eager"] is False
    assert engine.child_process_engine_args()["enforce_eager"] is True
    assert engine.child_process_engine_args(enforce_eager=False)["enforce_eager"] is False
