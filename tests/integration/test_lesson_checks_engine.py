"""Notebooks 03-06's checks on the real engine: the source notebooks' answers pass, and
one typical wrong answer each gets its hint (the full wrong-answer lists run against a
fake engine in tests/unit/exercises/check/). vl.scheduler and the bonus's per-request
metrics need an engine with statistics on: notebooks 04 and 06 run them."""

from __future__ import annotations

import textwrap

import pytest

from tests.lesson_answers import fractions_table, learner, reference, sweep_table
from vlesson.exercises import check
from vlesson.workflows import sweep

pytestmark = pytest.mark.usefixtures("scratch_progress")


def wrong(code: str, name: str):
    return learner(textwrap.dedent(code))[name]


def test_batch_sweep_and_log_references_pass_and_a_loop_fails(llm):
    means = sweep.summary(sweep_table())  # 2.10's pick reads a sweep's table
    ns = reference("04", "2.9") | reference("04", "2.10", means=means)
    ns |= reference("04b", "2.11")
    assert check.batch_files(ns["batch_generate"], llm).passed
    assert check.sweep(ns["sweep"], llm).passed
    assert check.run_log(ns["log_outputs"], llm).passed
    loop = wrong(
        """
        from vllm import SamplingParams
        def sweep(llm, prompt, temperatures, top_ps, *, max_tokens, seed):
            rows = []
            for t in temperatures:
                for p in top_ps:
                    sp = SamplingParams(temperature=t, top_p=p, max_tokens=max_tokens,
                                        seed=seed)
                    text = llm.generate(prompt, sp, use_tqdm=False)[0].outputs[0].text
                    rows.append({"temperature": t, "top_p": p, "text": text})
            return rows
        """,
        "sweep",
    )
    verdict = check.sweep(loop, llm)
    assert verdict.status == "wrong" and "called 6 times" in verdict.message


def test_focused_params_needs_min_tokens_on_the_real_model(llm):
    assert check.focused_params(reference("03", "2.5")["focused"], llm).passed
    ceiling_only = wrong(
        "from vllm import SamplingParams\n"
        "focused = SamplingParams(temperature=0.4, top_p=0.8, top_k=20, max_tokens=150)\n",
        "focused",
    )
    verdict = check.focused_params(ceiling_only, llm)
    assert verdict.status == "wrong" and "only a ceiling" in verdict.message


def test_kv_cache_sum_matches_the_engines_figure(llm):
    ns = reference("03", "2.6", fractions=fractions_table(), asked=(0.25, 0.35))
    assert check.kv_cache_tokens(ns["kv_cache_tokens"], llm).passed
    query_heads = wrong(
        """
        def kv_cache_tokens(config, dtype_bytes, cache_bytes, block_size):
            per = (2 * config.num_hidden_layers * config.num_attention_heads
                   * config.head_dim * dtype_bytes)
            return cache_bytes // (per * block_size) * block_size
        """,
        "kv_cache_tokens",
    )
    verdict = check.kv_cache_tokens(query_heads, llm)
    assert verdict.status == "wrong" and "grouped-query" in verdict.message


def test_request_handler_and_variations_references_pass(llm):
    assert check.request_handler(reference("05", "2.13")["handle_generate"], llm).passed
    assert check.variations(reference("06", "challenge")["variations"], llm).passed
