"""The real engine on the offline model: greedy, seeds, max_tokens, reuse."""

from __future__ import annotations

import subprocess
import sys

import pytest

import vlesson as vl
from vlesson import compiled


def test_greedy_completes_paris_and_repeats_exactly(llm):
    params = {"temperature": 0, "max_tokens": 16}
    first = vl.generate(llm, "The capital of France is", params, use_tqdm=False)
    second = vl.generate(llm, ["The capital of France is"], params, use_tqdm=False)
    assert "Paris" in first[0].text
    assert first[0].token_ids == second[0].token_ids
    assert first[0].mean_logprob is not None and first[0].mean_logprob < 0


def test_a_seed_makes_sampling_reproducible(llm, example_prompts):
    def run(seed):
        params = {"temperature": 1.0, "max_tokens": 24, "seed": seed}
        return [
            g.token_ids
            for g in vl.generate(llm, example_prompts, params, use_tqdm=False)
        ]

    assert run(1234) == run(1234)
    assert run(1234) != run(4321)


def test_max_tokens_is_respected_and_finish_reason_says_why(llm, example_prompts):
    short = vl.generate(
        llm,
        example_prompts,
        {"max_tokens": 5, "temperature": 0.8, "seed": 1},
        use_tqdm=False,
    )
    assert [g.num_tokens for g in short] == [5] * 4
    assert {g.finish_reason for g in short} == {"length"}
    long = vl.generate(
        llm,
        "The capital of France is",
        {"max_tokens": 500, "temperature": 0},
        use_tqdm=False,
    )[0]
    # The model ends its answer itself long before 500 tokens: max_tokens is a ceiling.
    assert long.finish_reason == "stop" and long.num_tokens < 500


def test_only_given_values_override_the_model_defaults(llm):
    defaults = llm.get_default_sampling_params()
    params = vl.make_sampling_params(llm, {"temperature": 0.3, "top_p": None})
    assert params.temperature == 0.3
    assert params.top_p == defaults.top_p and params.top_k == defaults.top_k
    with pytest.raises(vl.ParamError, match="context length"):
        vl.make_sampling_params(llm, max_tokens=10**6)


def test_the_warm_engine_is_reused(llm):
    assert vl.get_llm() is llm
    info = vl.engine_info(llm)
    assert info["model"] == vl.DEFAULT_MODEL
    if vl.engine.is_cpu():  # vlesson's CPU defaults; a GPU keeps vLLM's own
        assert info["device"] == "cpu" and info["dtype"] in ("float32", "bfloat16")
    else:
        assert info["device"] == "gpu"
        assert vl.engine.engine_defaults() == vl.engine.GPU_DEFAULTS
        assert info["dtype"] == "bfloat16"  # the model's own: vLLM's "auto"


def test_a_seeded_batch_longer_than_one_step_budget_runs(llm):
    # 40 prompts of about 120 tokens: over 4,096 prompt tokens, vLLM's step budget with
    # chunked prefill, where a CPU failed with "CPU Generator does not use offset".
    prompts = [
        f"Prompt {i}: " + "The Eiffel Tower is a lattice tower in Paris. " * 10
        for i in range(40)
    ]
    gens = vl.generate(
        llm, prompts, {"max_tokens": 4, "seed": 3, "ignore_eos": True}, use_tqdm=False
    )
    assert sum(len(llm.get_tokenizer().encode(p)) for p in prompts) > 4096
    assert [g.num_tokens for g in gens] == [4] * 40


def test_make_model_compiled_the_lessons_engine_so_it_starts_compiled(llm):
    if not vl.engine.is_cpu() or not compiled.enabled():
        pytest.skip("a GPU compiles at every start; VLESSON_COMPILE=0 keeps CPUs eager")
    failed = compiled.failure(vl.engine.effective_engine_args()) or ""
    if failed.startswith(("compiling failed", "vLLM saved no compiled model")):
        # this machine cannot compile: `vlesson compile` said why; the lesson runs eager
        assert vl.engine_info(llm)["enforce_eager"] is True
        pytest.skip(f"compiled engines do not work on this machine: {failed}")
    assert vl.engine_info(llm)["enforce_eager"] is False, (
        "make test runs make model, whose `vlesson compile` compiles this engine; "
        f"what happened here:\n{compiled.history()[-3000:]}")
    # arguments never compiled start eager, at once
    assert vl.engine.effective_engine_args(max_model_len=1024)["enforce_eager"] is True
    again = subprocess.run([sys.executable, "-m", "vlesson", "compile"],
                           capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("is compiled already") == 2, again.stdout
