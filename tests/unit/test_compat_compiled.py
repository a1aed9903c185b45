"""compat.warm_up_briefly_on_cpu: a compiled CPU engine warms up on 16 tokens."""

from __future__ import annotations

import types

import pytest
from vllm.config import CompilationMode
from vllm.v1.worker import cpu_model_runner

from vlesson.compat import WARM_UP_TOKENS, warm_up_briefly_on_cpu


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
def brief_warm_up(monkeypatch):
    runner = cpu_model_runner.CPUModelRunner
    monkeypatch.setattr(runner, "warming_up_model", runner.warming_up_model)
    warm_up_briefly_on_cpu()
    warm_up_briefly_on_cpu()  # idempotent: wraps once
    return runner.warming_up_model


def test_a_compiled_engine_warms_up_on_16_tokens_and_the_sampler(brief_warm_up):
    fake = FakeRunner(CompilationMode.DYNAMO_TRACE_ONCE)
    brief_warm_up(fake)
    assert fake.calls == [("forward", WARM_UP_TOKENS, {"is_profile": True}),
                          ("sampler", "last hidden")]


def test_eager_mode_skips_the_warm_up(brief_warm_up):
    fake = FakeRunner(CompilationMode.NONE)
    brief_warm_up(fake)
    assert fake.calls == []


@pytest.mark.parametrize("flag", ["supports_mm_inputs", "is_pooling_model"])
def test_multimodal_and_pooling_models_keep_vllms_warm_up(brief_warm_up, flag):
    fake = FakeRunner(CompilationMode.DYNAMO_TRACE_ONCE, **{flag: True})
    brief_warm_up(fake)
    assert fake.calls == [("vllm's own warm-up",)]
