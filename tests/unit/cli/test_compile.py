"""`vlesson compile`: the lesson's engine configurations, compiled once on a CPU."""

from __future__ import annotations

import pytest

from vlesson import compiled, engine, envvars
from vlesson.cli import main
from vlesson.cli.compile import LESSON_CONFIGURATIONS


@pytest.fixture
def cpu_home(tmp_path, monkeypatch):
    """A CPU, an empty $VLESSON_HOME, and get_llm recording its calls instead of
    starting vLLM; ``saved`` is what vLLM's compile leaves (None: nothing)."""
    monkeypatch.setenv(envvars.HOME, str(tmp_path / "home"))
    for name in (envvars.COMPILE, envvars.SERVER):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(engine, "is_cpu", lambda: True)
    monkeypatch.setattr(engine, "release", lambda: None)
    state = {"calls": [], "saved": tmp_path / "vllm-cache"}
    state["saved"].mkdir()

    def get_llm(model=None, **kwargs):
        state["calls"].append(kwargs)
        args = engine.effective_engine_args(model, **kwargs)
        compiled.remember(args, str(state["saved"]) if state["saved"] else None)

    monkeypatch.setattr(engine, "get_llm", get_llm)
    return state


def test_each_lesson_configuration_is_compiled_once(cpu_home, capsys):
    assert main(["compile"]) == 0
    assert cpu_home["calls"] == [{"enforce_eager": False, **extra}
                                 for extra in LESSON_CONFIGURATIONS]
    assert capsys.readouterr().out.count("now start compiled") == 2
    assert engine.effective_engine_args()["enforce_eager"] is False
    assert main(["compile"]) == 0  # make model again: nothing left to do
    assert len(cpu_home["calls"]) == 2
    assert capsys.readouterr().out.count("compiled already") == 2


def test_nothing_saved_by_vllm_says_the_engines_stay_eager(cpu_home, capsys):
    cpu_home["saved"] = None
    assert main(["compile"]) == 0
    assert "saved no compiled model" in capsys.readouterr().out
    assert engine.effective_engine_args()["enforce_eager"] is True


@pytest.mark.parametrize("setting, says", [
    ({envvars.COMPILE: "0"}, "VLESSON_COMPILE=0 keeps engines eager"),
    ({envvars.SERVER: "http://class:8000/v1"}, "class server's engine runs the lesson"),
])
def test_nothing_is_compiled_where_no_local_engine_would_use_it(
    cpu_home, monkeypatch, capsys, setting, says
):
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    assert main(["compile"]) == 0
    assert says in capsys.readouterr().out and cpu_home["calls"] == []


def test_a_gpu_compiles_at_each_start_itself(cpu_home, monkeypatch, capsys):
    monkeypatch.setattr(engine, "is_cpu", lambda: False)
    assert main(["compile"]) == 0
    assert "on a GPU" in capsys.readouterr().out and cpu_home["calls"] == []


def test_a_failed_compile_leaves_the_engines_eager_and_make_model_going(
    cpu_home, monkeypatch, capsys
):
    def failing(model=None, **kwargs):
        raise RuntimeError("inductor: no C++ compiler\nmore")

    monkeypatch.setattr(engine, "get_llm", failing)
    assert main(["compile"]) == 0
    err = capsys.readouterr().err
    assert err.count("compiling failed (RuntimeError: inductor: no C++ compiler)") == 2
    assert engine.effective_engine_args()["enforce_eager"] is True
