"""What generate checks before and after vLLM: seeded prompts split over CPU engine
steps (vLLM would crash), and prompts the tokenizer keeps nothing of."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from vllm import SamplingParams

from vlesson.facts import EngineFacts
from vlesson.generate import _check_seeded_prompts_fit
from vlesson.sampling import ParamError


def fake_llm(chunked: bool, budget: int, device: str = "cpu"):
    facts = EngineFacts(
        model="fake",
        chunked_prefill=chunked,
        max_num_batched_tokens=budget,
        device=device,
    )
    return SimpleNamespace(
        facts=facts, get_tokenizer=lambda: SimpleNamespace(encode=str.split)
    )


def check(llm, prompts, seed):
    params = [SamplingParams(seed=seed)] * len(prompts)
    _check_seeded_prompts_fit(llm, prompts, params)


def test_seeded_prompts_over_the_step_budget_are_refused():
    with pytest.raises(ParamError, match=r"hold 12 tokens.*max_num_batched_tokens=10"):
        check(fake_llm(chunked=True, budget=10), ["a b c d e f", "g h i j k l"], seed=1)


def test_what_vllm_runs_fine_passes():
    check(fake_llm(chunked=True, budget=12), ["a b c d e f", "g h i j k l"], seed=1)
    check(fake_llm(chunked=True, budget=10), ["a " * 20], seed=None)
    check(fake_llm(chunked=False, budget=10), ["a " * 20], seed=1)


def test_a_gpu_rewinds_its_generator_and_needs_no_guard():
    check(fake_llm(chunked=True, budget=10, device="gpu"), ["a " * 20], seed=1)


def test_a_prompt_without_tokens_is_named_when_vllm_refuses_it():
    from vllm.exceptions import VLLMValidationError

    import vlesson as vl

    class Refusing:
        """vLLM's answer to a prompt of control characters only."""

        facts = fake_llm(chunked=False, budget=10).facts

        def get_default_sampling_params(self):
            return SamplingParams()

        def get_tokenizer(self):
            def encode(text, add_special_tokens):  # SmolLM2's drops control characters
                return [ord(c) for c in text if c.isprintable()]

            return SimpleNamespace(encode=encode)

        def generate(self, prompts, params, use_tqdm):
            raise VLLMValidationError("The decoder prompt cannot be empty")

    with pytest.raises(ParamError, match=r"prompt 2 of 3 \('\\x04'\) has no tokens"):
        vl.generate(Refusing(), ["Hi", "\x04", "Ho"])
