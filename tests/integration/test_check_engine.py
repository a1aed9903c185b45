"""The checkpoints' reference answers pass against the real engine."""

from __future__ import annotations

import pytest

import vlesson as vl
from vlesson import check, solutions
from vlesson.compat import kv_cache_capacity


def test_focused_config_reference_generates_exactly_150_tokens(llm):
    assert "150 tokens" in check.focused_config(solutions.FOCUSED_CONFIG, llm)


def test_override_and_diagnose_references_pass_on_the_engine(llm):
    assert "passed" in check.override_defaults(solutions.override_defaults, llm)
    assert "passed" in check.diagnose(solutions.diagnose, llm)


def test_read_log_checks_against_the_engine_figures(llm):
    tokens, concurrency = kv_cache_capacity(llm)
    max_len = vl.engine_info(llm)["max_model_len"]
    assert tokens > 0 and concurrency == pytest.approx(tokens / max_len, rel=0.01)
    # The real line is captured in notebooks/07 (VLLM_LOGGING_LEVEL=INFO run).
    wrong = f"CPU KV cache size: {tokens + 16:,} tokens, Maximum concurrency for 1 ..."
    with pytest.raises(AssertionError, match="the engine says"):
        check.read_log(solutions.read_kv_cache, wrong, llm)
