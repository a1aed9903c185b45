"""The widgets driven from code against the real engine."""

from __future__ import annotations

import asyncio
import math

import pytest

import vlesson as vl
from vlesson.playground import streaming
from vlesson.playground.distribution import candidates_from_step, reshape

PROMPT = "The future of AI is"


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
    assert "Paris" in left.text and right.num_tokens == 8
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


def test_streaming_grows_and_ends_equal_to_a_generation_with_the_same_seed(
    llm, monkeypatch
):
    monkeypatch.setattr(streaming, "UPDATE_INTERVAL_S", 0.0)  # see every token
    panel = vl.widgets.panel(llm, PROMPT, temperature=0.9, max_tokens=24, seed=7)
    seen = []
    panel.output.observe(lambda c: seen.append(c["new"].count("<span")), "value")
    panel.controls["top_p"].value = 0.9
    assert seen == sorted(seen) and seen[0] == 1 and len(seen) >= 10  # it grew
    streamed = panel.generation
    [whole] = vl.generate(
        llm,
        [PROMPT],
        {"temperature": 0.9, "top_p": 0.9, "max_tokens": 24, "seed": 7},
        use_tqdm=False,
    )
    assert streamed.token_ids == whole.token_ids and streamed.text == whole.text
    assert streamed.finish_reason == whole.finish_reason


def test_a_new_value_aborts_the_run_in_vllm_and_the_panel_ends_on_it(llm):
    panel = vl.widgets.panel(llm, PROMPT, temperature=1.0, max_tokens=64, seed=1)
    engine = llm.llm_engine

    async def change_twice():
        panel.controls["temperature"].value = 1.2  # from the browser: streams
        stale = panel.stream
        while len(stale.token_ids) < 3 and not stale.done:
            await asyncio.sleep(0.005)
        panel.controls["temperature"].value = 0.0
        assert stale.state == "aborted" and len(stale.token_ids) < 64
        # vLLM dropped it: one request left, and not the stale one
        assert engine.get_num_unfinished_requests() == 1
        assert stale.request_id not in engine.output_processor.external_req_ids
        await panel.wait()

    asyncio.run(change_twice())
    assert engine.get_num_unfinished_requests() == 0
    [greedy] = vl.generate(
        llm, [PROMPT], {"temperature": 0.0, "max_tokens": 64}, use_tqdm=False
    )
    assert panel.generation.params["temperature"] == 0.0
    assert panel.generation.token_ids == greedy.token_ids
    assert "temperature=0.00" in panel.output.value


def test_generate_in_a_cell_while_the_panel_streams_gets_only_its_own(llm):
    """LLM.generate steps every request in the engine: a cell must not meet ours."""
    panel = vl.widgets.panel(llm, PROMPT, temperature=0.0, max_tokens=48)
    streamer = streaming.streamer(llm)

    async def cell_during_a_run():
        panel.controls["max_tokens"].value = 40  # from the browser: streams
        running = panel.stream
        while len(running.token_ids) < 2 and not running.done:
            await asyncio.sleep(0.005)
        streamer.pause()  # what IPython's pre_run_cell does
        assert running.state == "paused"
        gens = vl.generate(
            llm, ["Hello, my name is"], {"max_tokens": 5}, use_tqdm=False
        )
        assert [g.prompt for g in gens] == ["Hello, my name is"]
        streamer.resume()  # post_run_cell: the panel starts again
        await panel.wait()
        return running

    running = asyncio.run(cell_during_a_run())
    # The run ended on the new value (greedy may meet EOS before 40: it did in float32)
    gen = panel.generation
    assert panel.stream is not running and gen.params["max_tokens"] == 40
    assert gen.num_tokens == 40 or (gen.finish_reason == "stop" and gen.num_tokens < 40)
    assert llm.llm_engine.get_num_unfinished_requests() == 0


def test_colours_and_the_step_distribution_are_vllms_logprobs(llm):
    panel = vl.widgets.panel(llm, PROMPT, temperature=0.7, max_tokens=12, seed=3)
    params = vl.make_sampling_params(
        llm, temperature=0.7, max_tokens=12, seed=3, logprobs=20
    )
    [out] = llm.generate([PROMPT], [params], use_tqdm=False)
    completion = out.outputs[0]
    assert tuple(completion.token_ids) == panel.generation.token_ids
    chosen = [
        step[t].logprob for t, step in zip(completion.token_ids, completion.logprobs)
    ]
    probs = streaming.chosen_probs(panel.stream)
    assert probs == pytest.approx([math.exp(lp) for lp in chosen], abs=1e-4)
    for p, tip in zip(probs, panel.tokens.tooltips):
        assert tip.endswith(f"p={p:.3f}")
    panel.tokens.index = 5  # a click on the sixth token
    shaping = {
        k: panel.overrides["settings"][k] for k in ("top_p", "top_k", "min_p")
    }  # the model's defaults, as the sliders start
    expected = reshape(
        candidates_from_step(completion.logprobs[5]), temperature=0.7, **shaping
    )
    shown = panel.reshaped
    assert [c.token for c in shown.candidates] == [c.token for c in expected.candidates]
    assert [c.after for c in shown.candidates] == pytest.approx(
        [c.after for c in expected.candidates], abs=1e-4
    )
    assert "step 5 of 12" in panel.distribution.value
