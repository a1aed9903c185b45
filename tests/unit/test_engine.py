"""vlesson's engine defaults: the caller's arguments win, and some take a default over."""

from __future__ import annotations

import pytest

from vlesson import engine


@pytest.fixture
def on_cpu(monkeypatch):
    monkeypatch.setattr(engine, "is_cpu", lambda: True)


def test_the_caller_wins_over_every_default(on_cpu):
    args = engine.effective_engine_args(dtype="float32", enforce_eager=False)
    assert args["dtype"] == "float32" and args["enforce_eager"] is False
    assert (
        args["enable_chunked_prefill"] is False
        and args["model"] == "smollm2-135m-instruct"
    )


def test_a_memory_fraction_takes_over_the_fixed_kv_cache(on_cpu):
    assert "kv_cache_memory_bytes" in engine.effective_engine_args()
    args = engine.effective_engine_args(gpu_memory_utilization=0.2)
    assert "kv_cache_memory_bytes" not in args


def test_a_step_budget_brings_vllms_chunked_prefill_back(on_cpu):
    # vLLM refuses max_num_batched_tokens < max_model_len without chunked prefill
    args = engine.effective_engine_args(max_num_batched_tokens=1024)
    assert "enable_chunked_prefill" not in args


def test_a_gpu_gets_vllms_defaults_but_the_memory_fraction(monkeypatch):
    monkeypatch.setattr(engine, "is_cpu", lambda: False)
    args = engine.effective_engine_args()
    assert args == {
        "gpu_memory_utilization": 0.4,
        "use_tqdm_on_load": False,  # the offline model's, as on a CPU
        "model": "smollm2-135m-instruct",
    }


def test_gemma_gets_a_context_its_kv_cache_holds_in_float32_unless_given(on_cpu):
    # 32,768 tokens of gemma-3-270m need 1.13 GiB in float32: the engine refused to start.
    assert engine.effective_engine_args("gemma-3-270m")["max_model_len"] == 8192
    given = engine.effective_engine_args("gemma-3-270m", max_model_len=1024)
    assert given["max_model_len"] == 1024
    assert "max_model_len" not in engine.effective_engine_args("smollm2-135m-instruct")


def test_an_offline_model_loads_without_a_bar_over_its_one_file_unless_asked(on_cpu):
    assert engine.effective_engine_args()["use_tqdm_on_load"] is False
    assert engine.effective_engine_args(use_tqdm_on_load=True)["use_tqdm_on_load"]
    assert "use_tqdm_on_load" not in engine.effective_engine_args("facebook/opt-125m")


@pytest.fixture
def on_gpu(monkeypatch):
    monkeypatch.setattr(engine, "is_cpu", lambda: False)


def test_a_gpu_engine_core_is_spawned_not_forked(on_gpu, monkeypatch):
    # A forked engine core never came up after torch CPU work (notebook 03 on an H200).
    for name in ("VLLM_WORKER_MULTIPROC_METHOD", "VLLM_ENABLE_V1_MULTIPROCESSING"):
        monkeypatch.setenv(name, "")  # restored (or removed) after the test
        monkeypatch.delenv(name)
    engine.apply_environment()
    assert engine.os.environ["VLLM_WORKER_MULTIPROC_METHOD"] == "spawn"
    assert "VLLM_ENABLE_V1_MULTIPROCESSING" not in engine.os.environ
    monkeypatch.setenv("VLLM_WORKER_MULTIPROC_METHOD", "fork")  # the user's choice wins
    engine.apply_environment()
    assert engine.os.environ["VLLM_WORKER_MULTIPROC_METHOD"] == "fork"


def test_a_shared_gpu_takes_the_share_from_the_environment(on_gpu, monkeypatch):
    monkeypatch.setenv("VLESSON_GPU_MEMORY_UTILIZATION", "0.1")
    assert engine.effective_engine_args()["gpu_memory_utilization"] == 0.1
    assert engine.effective_engine_args(gpu_memory_utilization=0.3)[
        "gpu_memory_utilization"] == 0.3
    monkeypatch.setenv("VLESSON_GPU_MEMORY_UTILIZATION", "half")
    with pytest.raises(ValueError, match="VLESSON_GPU_MEMORY_UTILIZATION must be a "
                       "number in \\(0, 1\\], got 'half'"):
        engine.effective_engine_args()


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


@pytest.mark.parametrize(("model", "label"), [
    ("smollm2-135m-instruct", "smollm2-135m-instruct"),
    ("facebook/opt-125m", "facebook/opt-125m"),  # a hub id keeps its owner
    ("/home/me/.cache/vlesson/models/smollm2-135m-instruct-gptq-w4g64/",
     "smollm2-135m-instruct-gptq-w4g64"),
])
def test_the_start_up_line_names_a_folder_by_its_name(model, label):
    assert engine._model_label(model) == label


def test_an_engine_shut_down_for_another_says_so_instead_of_failing_deep_in_vllm(
    monkeypatch,
):
    from vlesson.generate import generate
    from vlesson.playground import streaming

    class Engine:  # stands for an LLM a learner's variable still holds
        pass

    old = Engine()
    monkeypatch.setattr(engine, "_warm", engine._Warm("key", old, {}, 1.0))
    engine.release()
    for use in (lambda: generate(old, "Hello"), lambda: streaming.streamer(old)):
        with pytest.raises(engine.EngineReleasedError, match=r"llm = vl.get_llm"):
            use()
