"""`vlesson compile`: the lesson's engine configurations, compiled once on a CPU."""

from __future__ import annotations

import pytest

from vlesson import compiled, engine, envvars
from vlesson.cli import compile as compile_cli
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
    state = {"calls": [], "saved": tmp_path / "vllm-cache", "loads": (True, "in 9 s")}
    (state["saved"] / "rank_0_0").mkdir(parents=True)
    (state["saved"] / "rank_0_0" / "model").write_bytes(b"what vLLM saved")

    def get_llm(model=None, **kwargs):
        state["calls"].append(kwargs)
        args = engine.effective_engine_args(model, **kwargs)
        compiled.remember(args, str(state["saved"]) if state["saved"] else None)

    monkeypatch.setattr(engine, "get_llm", get_llm)
    monkeypatch.setattr(compile_cli, "start_in_a_new_process",
                        lambda model, extra: state["loads"])
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
    assert "vLLM saved no compiled model, so these engines stay eager" in (
        capsys.readouterr().err)
    assert engine.effective_engine_args()["enforce_eager"] is True


def test_a_compile_a_new_process_cannot_start_from_leaves_the_engines_eager(
    cpu_home, capsys
):
    cpu_home["loads"] = (False, "vLLM compiled it again, in 150 s")
    assert main(["compile"]) == 0
    err = capsys.readouterr().err
    assert err.count("could not start from what vLLM saved (vLLM compiled it again") == 2
    assert engine.effective_engine_args()["enforce_eager"] is True


def test_a_failed_compile_is_not_tried_at_every_make_lab_but_again_asks_for_it(
    cpu_home, capsys
):
    cpu_home["loads"] = (False, "vLLM compiled it again, in 150 s")
    main(["compile"])
    capsys.readouterr()
    assert main(["compile"]) == 0
    out = capsys.readouterr().out
    assert out.count("stays eager: a new process could not start from what vLLM saved "
                     "(vLLM compiled it again, in 150 s) (`vlesson compile --again`") == 2
    assert len(cpu_home["calls"]) == 2
    cpu_home["loads"] = (True, "in 9 s")
    assert main(["compile", "--again"]) == 0
    assert len(cpu_home["calls"]) == 4
    assert engine.effective_engine_args()["enforce_eager"] is False


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


@pytest.mark.parametrize("child, loaded, says", [
    ("print('LOADED True')", True, "started it from the saved model"),
    ("print('LOADED None')", True, "started it from the saved model"),
    ("print('LOADED False')", False, "vLLM compiled it again"),
    ("raise SystemExit('engine core died')", False, "it failed: engine core died"),
])
def test_the_new_process_start_is_read_from_what_the_child_says(
    monkeypatch, child, loaded, says
):
    monkeypatch.setattr(compile_cli, "START_ONCE", child)
    got, why = compile_cli.start_in_a_new_process("smollm2-135m-instruct", {})
    assert got is loaded and says in why
