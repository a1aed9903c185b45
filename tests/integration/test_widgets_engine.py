"""The widgets driven from code against the real engine."""

from __future__ import annotations

import math

import vlesson as vl


def test_panel_follows_its_sliders(llm):
    panel = vl.widgets.panel(
        llm, "The capital of France is", temperature=0.0, max_tokens=12
    )
    first = panel.generation
    assert panel.error is None and "Paris" in first.text and first.num_tokens <= 12
    panel.controls["max_tokens"].value = 4
    short = panel.generation
    html = panel.output.value
    assert short.num_tokens == 4 and short.token_ids == first.token_ids[:4]
    assert "max_tokens=4" in html and "4 tokens" in html
    panel.controls["temperature"].value = 1.5
    assert panel.generation.params["temperature"] == 1.5
    assert "temperature=1.50" in panel.output.value


def test_panel_shows_a_bad_seed_instead_of_raising(llm):
    panel = vl.widgets.panel(llm, "Hello", max_tokens=4)
    panel.controls["seed"].value = "forty-two"
    assert "seed must be an integer" in panel.output.value


def test_compare_runs_both_settings_on_one_prompt(llm):
    cmp = vl.widgets.compare(
        llm,
        "The capital of France is",
        left={"temperature": 0.0, "max_tokens": 8},
        right={"temperature": 1.5, "max_tokens": 8},
    )
    left, right = cmp.generations["left"], cmp.generations["right"]
    assert left.seconds == right.seconds  # one batched call
    assert "Paris" in left.text
    assert (left.params["temperature"], right.params["temperature"]) == (0.0, 1.5)


def test_next_token_view_reshapes_real_logprobs(llm):
    view = vl.widgets.next_token(llm, "The capital of France is")
    assert len(view.logprobs) == vl.distribution.TOP_N
    top = view.reshaped.candidates[0]
    assert top.token == " Paris"
    assert sum(math.exp(lp) for lp in view.logprobs.values()) <= 1.0 + 1e-6
    view.controls["temperature"].value = 2.0
    assert view.reshaped.candidates[0].after < top.before  # flatter
    view.controls["top_k"].value = 1
    assert view.reshaped.kept == 1 and view.reshaped.candidates[0].after == 1.0
    assert "top_k=1" in view.output.value


def test_vary_is_one_table_row_per_completion(llm, example_prompts):
    df = vl.experiments.vary(
        llm,
        example_prompts[:2],
        "max_tokens",
        [3, 6],
        fixed={"temperature": 0},
        use_tqdm=False,
    )
    assert list(df["max_tokens"]) == [3, 3, 6, 6]
    assert list(df["prompt"]) == example_prompts[:2] * 2
    assert (df["num_tokens"] <= df["max_tokens"]).all()
    assert df["mean_logprob"].notna().all()
