"""The checkpoints against the real engine: notebook 07's answers pass, and the
answer that ignores the model's defaults fails on an engine whose defaults differ."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import vlesson as vl
from tests.lesson_answers import reference
from vlesson import envvars
from vlesson.exercises import check

pytestmark = pytest.mark.usefixtures("scratch_progress")
ROOT = Path(__file__).resolve().parents[2]


IGNORES_DEFAULTS = (
    "from vllm import SamplingParams\n"
    "def f(d, o):\n"
    "    return SamplingParams(**{k: v for k, v in o.items() if v is not None})\n"
)
NO_MIN_TOKENS = {"temperature": 0.4, "top_p": 0.8, "top_k": 20, "max_tokens": 150}


def test_focused_config_reference_generates_exactly_150_tokens(llm):
    verdict = check.focused_config(reference("07", "self-5")["config"], llm)
    assert verdict.passed and "150 tokens each" in verdict.message, verdict


def test_the_focus_prompt_ends_early_without_min_tokens(llm):
    # Why check 5 cannot pass by luck: on its prompt the model stops early unless
    # min_tokens forbids it.
    from vlesson.exercises.check import self_assessment as sa

    params = [
        vl.make_sampling_params(llm, {**NO_MIN_TOKENS, "seed": s})
        for s in sa.FOCUS_SEEDS
    ]
    gens = vl.generate(llm, [sa.FOCUS_PROMPT] * len(params), params, use_tqdm=False)
    assert any(g.finish_reason == "stop" and g.num_tokens < 150 for g in gens), gens


def test_override_and_diagnose_references_pass_on_the_engine(llm):
    ref4, ref6 = reference("07", "self-4"), reference("07", "self-6")
    assert check.override_defaults(ref4["override_defaults"], llm).passed
    assert check.diagnose(ref6["diagnose"], llm).passed
    assert check.engine_fix(ref6["culprit"], ref6["fix"], llm).passed


# Run in its own process: a second in-process engine beside the session's shares
# vLLM's process-wide state, and shutting it down broke the session engine for every
# later test (the classroom, engine and widget tests failed after it in CI).
OTHER_DEFAULTS_ENGINE = f"""
import vlesson as vl
from vlesson import engine
from tests.lesson_answers import learner, reference
from vlesson.exercises import check

args = vl.effective_engine_args(
    override_generation_config={{"temperature": 0.6, "top_p": 0.9, "top_k": 40}}
)
other, _ = engine._build(args)
defaults = other.get_default_sampling_params()
assert (defaults.temperature, defaults.top_p, defaults.top_k) == (0.6, 0.9, 40), defaults
ref = reference("07", "self-4")["override_defaults"]
assert check.override_defaults(ref, other).passed
verdict = check.override_defaults(learner({IGNORES_DEFAULTS!r})["f"], other)
assert verdict.status == "wrong" and "where did you start" in verdict.message, verdict
print("OTHER-DEFAULTS-OK")
"""


def test_ignoring_the_models_defaults_fails_on_a_model_that_has_some(tmp_path):
    # The same model with a generation_config that sets defaults, as many hub models ship.
    env = {**os.environ, "PYTHONPATH": str(ROOT), envvars.PROGRESS: str(tmp_path / "p.json")}
    result = subprocess.run(
        [sys.executable, "-c", OTHER_DEFAULTS_ENGINE],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert "OTHER-DEFAULTS-OK" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]


def test_read_log_checks_against_the_engine_figures(llm):
    facts = vl.engine_facts(llm)
    tokens, concurrency = facts.kv_cache_tokens, facts.max_concurrency
    config = llm.llm_engine.vllm_config  # the facts say what vLLM's config says
    assert facts.max_model_len == config.model_config.max_model_len
    assert facts.block_size == config.cache_config.block_size
    max_len = vl.engine_info(llm)["max_model_len"]
    assert tokens > 0 and concurrency == pytest.approx(tokens / max_len, rel=0.01)
    # The real log is captured in notebooks/07 (VLLM_LOGGING_LEVEL=INFO run).
    wrong = (
        f"Using max model len {max_len}\nLoading weights took 1.00 seconds\n"
        f"CPU KV cache size: {tokens + 16:,} tokens, Maximum concurrency for "
        f"{max_len:,} tokens per request: {concurrency:.2f}x\n"
    )
    ref = reference("07", "self-7")["read_start_up"]
    verdict = check.read_log(ref, wrong, llm)
    assert verdict.status == "wrong", verdict
    assert (
        f"kv_cache_tokens is {tokens + 16}, but it should be {tokens}"
        in verdict.message
    )
