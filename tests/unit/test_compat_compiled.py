"""compat: a compiled CPU engine warms up on 16 tokens, and says whether it loaded
the model vLLM saved."""

from __future__ import annotations

import types

import pytest
import torch
from vllm.config import CompilationMode
from vllm.v1.worker import cpu_model_runner

from vlesson.compat import (
    WARM_UP_TOKENS,
    briefly_warmed_up,
    loaded_saved_compiled_model,
    warm_up_briefly_on_cpu,
)


class FakeRunner:
    """What vLLM's warm-up reads and calls of its CPU model runner."""

    def __init__(self, mode, **flags):
        config = types.SimpleNamespace(mode=mode, inductor_compile_config={})
        self.vllm_config = types.SimpleNamespace(compilation_config=config)
        self.max_num_tokens = 8192
        self.calls = []
        self.__dict__.update(flags)

    def _dummy_run(self, num_tokens, **kwargs):
        self.calls.append(("forward", num_tokens, kwargs))
        return "hidden", "last hidden"

    def _dummy_sampler_run(self, hidden):
        self.calls.append(("sampler", hidden))

    def profile_run(self):
        self.calls.append(("vllm's own warm-up",))


@pytest.fixture
def warm_up(monkeypatch):
    """vLLM's CPU runner's warm-up with the brief one installed; restored after."""
    runner = cpu_model_runner.CPUModelRunner
    monkeypatch.setattr(runner, "warming_up_model", runner.warming_up_model)
    warm_up_briefly_on_cpu()
    warm_up_briefly_on_cpu()  # idempotent: wraps once
    return runner.warming_up_model


def test_a_start_that_loads_warms_up_on_16_tokens_and_the_sampler(warm_up):
    fake = FakeRunner(CompilationMode.DYNAMO_TRACE_ONCE)
    with briefly_warmed_up():
        warm_up(fake)
    assert fake.calls == [("forward", WARM_UP_TOKENS, {"is_profile": True}),
                          ("sampler", "last hidden")]


def test_a_start_that_compiles_keeps_vllms_warm_up(warm_up):
    fake = FakeRunner(CompilationMode.DYNAMO_TRACE_ONCE)
    warm_up(fake)  # outside briefly_warmed_up: torch tunes for the sizes it sees first
    assert fake.calls == [("vllm's own warm-up",)]


def test_eager_mode_skips_the_warm_up(warm_up):
    fake = FakeRunner(CompilationMode.NONE)
    with briefly_warmed_up():
        warm_up(fake)
    assert fake.calls == []


@pytest.mark.parametrize("flag", ["supports_mm_inputs", "is_pooling_model"])
def test_multimodal_and_pooling_models_keep_vllms_warm_up(warm_up, flag):
    fake = FakeRunner(CompilationMode.DYNAMO_TRACE_ONCE, **{flag: True})
    with briefly_warmed_up():
        warm_up(fake)
    assert fake.calls == [("vllm's own warm-up",)]


class FakeLLM:
    """``LLM.apply_model`` as vLLM runs it: the function on each worker's model."""

    def __init__(self, *flags):
        self.model = torch.nn.Module()
        for i, flag in enumerate(flags):
            inner = torch.nn.Module()
            inner.was_aot_compile_fn_loaded_from_disk = flag
            self.model.add_module(f"part{i}", inner)

    def apply_model(self, func):
        return [func(self.model)]


@pytest.mark.parametrize("flags, expected", [((True,), True), ((False,), False),
                                             ((), None)])
def test_whether_a_start_loaded_vllms_saved_model(monkeypatch, flags, expected):
    monkeypatch.setenv("VLLM_USE_AOT_COMPILE", "1")
    assert loaded_saved_compiled_model(FakeLLM(*flags)) is expected


def test_without_the_ahead_of_time_cache_or_an_answer_nobody_can_tell(monkeypatch):
    monkeypatch.setenv("VLLM_USE_AOT_COMPILE", "0")
    assert loaded_saved_compiled_model(FakeLLM(False)) is None
    monkeypatch.setenv("VLLM_USE_AOT_COMPILE", "1")
    assert loaded_saved_compiled_model(object()) is None  # no apply_model
