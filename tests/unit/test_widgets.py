"""Widgets without a browser: pure steps, and the wiring against a recording engine."""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace

import pytest

from vlesson import widgets
from vlesson.generate import Generation
from vlesson.sampling import PARAMS, ParamError


class RecordingLLM:
    """Stands in for the engine: records every generate call, answers at once."""

    def __init__(self, fail: Exception | None = None):
        self.calls: list[tuple[list[str], list]] = []
        self.fail = fail
        scheduler = SimpleNamespace(enable_chunked_prefill=False)  # vlesson's CPU default
        self.llm_engine = SimpleNamespace(
            vllm_config=SimpleNamespace(scheduler_config=scheduler)
        )

    def get_default_sampling_params(self):
        from vllm import SamplingParams

        return SamplingParams()

    def generate(self, prompts, params, use_tqdm=True):
        self.calls.append((list(prompts), list(params)))
        if self.fail is not None:
            raise self.fail
        return [self._output(p, sp) for p, sp in zip(prompts, params)]

    @staticmethod
    def _output(prompt, sp):
        step = {
            1: SimpleNamespace(logprob=math.log(0.6), decoded_token=" Paris"),
            2: SimpleNamespace(logprob=math.log(0.3), decoded_token=" the"),
        }
        completion = SimpleNamespace(
            text=f" <T={sp.temperature}>",
            token_ids=[7] * min(3, sp.max_tokens),
            finish_reason="length",
            logprobs=[step] if sp.logprobs == 20 else None,
        )
        return SimpleNamespace(
            prompt=prompt, prompt_token_ids=[1, 2], outputs=[completion]
        )


def gen(**kw) -> Generation:
    fields = {
        "prompt": "Hi <b>",
        "text": " there & more",
        "token_ids": (1, 2, 3, 4),
        "finish_reason": "length",
        "prompt_tokens": 2,
        "params": {},
        "seconds": 0.5,
    }
    return Generation(**{**fields, **kw})


# -- pure steps ---------------------------------------------------------------------


def test_controls_become_overrides_with_a_parsed_seed():
    values = {
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 20,
        "max_tokens": 32,
        "seed": "7",
    }
    assert widgets.controls_to_overrides(values) == {**values, "seed": 7}
    assert widgets.controls_to_overrides({"seed": " "}) == {"seed": None}


def test_a_seed_that_is_not_a_number_names_the_seed():
    with pytest.raises(ParamError, match="seed must be an integer") as info:
        widgets.controls_to_overrides({"seed": "abc"})
    assert info.value.param == "seed"


def test_settings_line_uses_vllm_names_and_two_decimals():
    line = widgets.settings_line({"temperature": 0.7, "top_k": 20, "seed": None})
    assert line == "temperature=0.70 top_k=20 seed=None"


def test_generation_html_shows_text_count_reason_speed_and_settings():
    out = widgets.generation_html(gen(), "temperature=0.70")
    assert "<b>Hi &lt;b&gt;</b> there &amp; more" in out
    assert "4 tokens" in out and "finish_reason=length" in out
    assert "8.0 tokens/s" in out and "temperature=0.70" in out


def test_error_html_escapes_the_message():
    out = widgets.error_html("top_p must be in (0, 1], got <1.5>", "top_p=1.50")
    assert "got &lt;1.5&gt;" in out and "top_p=1.50" in out


def test_initial_values_clamp_defaults_into_the_sliders_and_given_values_win():
    defaults = SimpleNamespace(temperature=1.0, top_p=1.0, top_k=-1)
    values = widgets.initial_values(defaults, {"temperature": 0.3})
    assert values["top_k"] == 0 and values["temperature"] == 0.3
    assert values["max_tokens"] == widgets.PANEL_MAX_TOKENS and values["seed"] == 42


def test_sliders_take_bounds_from_params_and_run_on_release():
    controls = widgets.build_controls(
        {"temperature": 0.5, "top_p": 1.0, "top_k": 0, "max_tokens": 16, "seed": None}
    )
    for name in widgets.SLIDERS:
        w = controls[name]
        assert (w.min, w.max, w.step) == PARAMS[name].slider
        assert w.description == name and w.continuous_update is False
        assert w.style.description_width == "90px"
    assert controls["temperature"].max == 2.0
    assert controls["seed"].value == "" and controls["seed"].continuous_update is False


# -- wiring -------------------------------------------------------------------------


def test_panel_calls_generate_once_per_change_with_exactly_those_values():
    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello", max_tokens=8)
    assert len(llm.calls) == 1  # the first result, shown at once
    panel.controls["temperature"].value = 0.35
    assert len(llm.calls) == 2
    prompts, [sp] = llm.calls[-1]
    assert prompts == ["Hello"]
    assert (sp.temperature, sp.max_tokens, sp.seed, sp.top_k) == (0.35, 8, 42, 0)
    assert "temperature=0.35" in panel.output.value
    assert panel.generation.params["temperature"] == 0.35


def test_an_unchanged_value_costs_no_generation():
    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello")
    panel.controls["top_k"].value = panel.controls["top_k"].value  # no change event
    panel.controls["seed"].value = " 42"  # a change, but the same request
    assert len(llm.calls) == 1


def test_a_bad_seed_shows_in_the_panel_and_the_log_without_generating(caplog):
    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello")
    with caplog.at_level(logging.WARNING, logger="vlesson.widgets"):
        panel.controls["seed"].value = "abc"
    assert len(llm.calls) == 1
    assert "seed must be an integer" in panel.error
    assert "seed must be an integer" in panel.outputs["settings"].value
    assert "seed must be an integer" in caplog.text
    panel.controls["seed"].value = "42"  # back to the last good settings: runs again
    assert len(llm.calls) == 2 and panel.error is None


def test_an_empty_prompt_is_an_error_not_a_call():
    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello")
    panel.controls["prompt"].value = "   "
    assert len(llm.calls) == 1 and "prompt is empty" in panel.error


def test_an_engine_failure_is_shown_and_logged_never_raised(caplog):
    llm = RecordingLLM(fail=RuntimeError("engine died"))
    with caplog.at_level(logging.ERROR, logger="vlesson.widgets"):
        panel = widgets.panel(llm, "Hello")
    assert (
        "generation failed: RuntimeError: engine died"
        in panel.outputs["settings"].value
    )
    assert "Traceback" in caplog.text or caplog.records[0].exc_info


def test_compare_generates_both_sides_in_one_batched_call():
    llm = RecordingLLM()
    cmp = widgets.compare(
        llm, "Hi", left={"temperature": 0.1}, right={"temperature": 1.9}
    )
    assert len(llm.calls) == 1
    cmp.controls["right"]["top_p"].value = 0.5
    assert len(llm.calls) == 2
    prompts, params = llm.calls[-1]
    assert prompts == ["Hi", "Hi"]
    assert [(p.temperature, p.top_p) for p in params] == [(0.1, 1.0), (1.9, 0.5)]
    assert "top_p=0.50" in cmp.outputs["right"].value
    assert "top_p=1.00" in cmp.outputs["left"].value


def test_next_token_asks_the_engine_per_prompt_not_per_slider_move():
    llm = RecordingLLM()
    view = widgets.next_token(llm, "The capital of France is")
    [(_, [sp])] = llm.calls
    assert (sp.max_tokens, sp.logprobs, sp.temperature) == (1, 20, 0)
    view.controls["top_k"].value = 1
    assert len(llm.calls) == 1
    assert [c.after for c in view.reshaped.candidates] == [1.0, 0.0]
    assert "top_k=1" in view.output.value and "&#x27; Paris&#x27;" in view.output.value
    view.controls["prompt"].value = "Hello"
    assert len(llm.calls) == 2
