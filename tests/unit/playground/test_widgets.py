"""Widgets without a browser: pure steps, and the wiring against a recording engine."""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace

import pytest
from vllm.logprobs import Logprob

from vlesson.facts import EngineFacts
from vlesson.generate import Generation
from vlesson.playground import render, streaming, widgets
from vlesson.sampling import PARAMS, ParamError


class FakeEngine:
    """Stands in for ``llm.llm_engine``: one token per request per step, recorded.

    Token i of a request is id 100 + i, text " w{i}", probability 0.5 (0.9 when
    temperature is 0); the step's top candidates are that token and " other".
    """

    def __init__(self):
        self.added: list[tuple[str, str, object]] = []
        self.aborted: list[str] = []
        self.steps = 0
        self.live: dict[str, list] = {}  # request id -> [prompt, params, tokens so far]

    def add_request(self, request_id, prompt, params):
        assert params.output_kind.name == "DELTA"
        self.added.append((request_id, prompt, params))
        self.live[request_id] = [prompt, params, 0]

    def abort_request(self, request_ids):
        self.aborted.extend(request_ids)
        for rid in request_ids:
            self.live.pop(rid, None)

    def get_num_unfinished_requests(self):
        return len(self.live)

    def step(self):
        self.steps += 1
        outputs = []
        for rid, state in list(self.live.items()):
            _, params, i = state
            p = 0.9 if params.temperature == 0 else 0.5
            step = {
                100 + i: Logprob(math.log(p), 1, f" w{i}"),
                1: Logprob(math.log(0.05), 2, " other"),
            }
            finished = i + 1 >= params.max_tokens
            completion = SimpleNamespace(
                text=f" w{i}",
                token_ids=[100 + i],
                logprobs=[step],
                finish_reason="length" if finished else None,
            )
            outputs.append(
                SimpleNamespace(
                    request_id=rid,
                    finished=finished,
                    prompt_token_ids=[1, 2],
                    outputs=[completion],
                )
            )
            state[2] = i + 1
            if finished:
                del self.live[rid]
        return outputs


class RecordingLLM:
    """Stands in for the engine: a fake ``llm_engine``, or (remote=True) a
    ``generate`` that records every call and answers at once."""

    def __init__(self, fail: Exception | None = None, remote: bool = False):
        self.calls: list[tuple[list[str], list]] = []
        self.fail = fail
        self.facts = EngineFacts(model="fake", chunked_prefill=False)  # CPU default
        if not remote:
            self.llm_engine = FakeEngine()
            if fail is not None:
                self.llm_engine.step = self._fail

    def _fail(self):
        raise self.fail

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
        count = min(3, sp.max_tokens)
        step = {
            7: Logprob(math.log(0.6), 1, " Paris"),
            2: Logprob(math.log(0.3), 2, " the"),
        }
        completion = SimpleNamespace(
            text=f" <T={sp.temperature}>",
            token_ids=[7] * count,
            finish_reason="length",
            logprobs=[step] * count if sp.logprobs == 20 else None,
        )
        return SimpleNamespace(
            prompt=prompt, prompt_token_ids=[1, 2], outputs=[completion], finished=True
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


def test_controls_become_overrides_with_a_parsed_seed_and_stop():
    values = {
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 20,
        "min_p": 0.05,
        "max_tokens": 32,
        "repetition_penalty": 1.2,
        "seed": "7",
        "stop": "\\n",
    }
    assert widgets.controls_to_overrides(values) == {
        **values,
        "seed": 7,
        "stop": ["\n"],
    }
    assert widgets.controls_to_overrides({"seed": " ", "stop": ""}) == {
        "seed": None,
        "stop": None,
    }


def test_a_seed_that_is_not_a_number_names_the_seed():
    with pytest.raises(ParamError, match="seed must be an integer") as info:
        widgets.controls_to_overrides({"seed": "abc"})
    assert info.value.param == "seed"


def test_settings_line_uses_vllm_names_and_two_decimals():
    line = widgets.settings_line({"temperature": 0.7, "top_k": 20, "seed": None})
    assert line == "temperature=0.70 top_k=20 seed=None"


def test_the_sampling_params_line_builds_the_same_sampling_params():
    from vllm import SamplingParams

    settings = {
        "temperature": 0.35,
        "top_k": 20,
        "min_p": 0.05,
        "seed": 7,
        "stop": ["\n"],
        "max_tokens": 16,
    }
    line = render.sampling_params_line({**settings, "presence_penalty": None})
    assert line.startswith("SamplingParams(temperature=0.35, top_k=20")
    built = eval(line, {"SamplingParams": SamplingParams})  # our own line
    assert {k: getattr(built, k) for k in settings} == settings


def test_the_command_line_parses_back_to_the_same_settings():
    import shlex

    from vlesson.cli import options

    settings = {
        "temperature": 0.35,
        "top_p": 0.9,
        "top_k": 20,
        "min_p": 0.05,
        "max_tokens": 16,
        "repetition_penalty": 1.3,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "seed": 7,
    }
    line = render.command_line("It's a test", settings)
    argv = shlex.split(line)
    assert argv[:2] == ["vlesson", "generate"] and "#" not in line
    args = options.parse("generate", argv[2:])
    assert args.prompt == ["It's a test"]
    assert {k: getattr(args, k) for k in settings} == settings
    with_stop = render.command_line("Hi", {"stop": ["\n"]})
    assert with_stop.endswith("# not a vlesson generate option: stop=['\\n']")


def test_tokens_are_coloured_by_probability_and_escaped():
    out = render.text_html("Hi <b>", [" a", " <c>"], [0.0, 1.0], selected=1)
    assert "<b>Hi &lt;b&gt;</b>" in out
    assert 'style="background:hsl(0, 85%, 80%)" title="step 0: p=0.000"> a<' in out
    assert "hsl(120, 85%, 80%);outline" in out and "&lt;c&gt;" in out
    stopped = render.text_html("", [" a", "."], [0.5, 0.5], kept=2)  # stop="."
    assert (
        stopped.count("line-through") == 1
        and "line-through;opacity:0.6" in (stopped.split("<span")[2])
    )
    assert render.token_colour(0.5) == "hsl(60, 85%, 80%)"
    css = render.token_styles("vlesson-tokens-7", [0.25, None, 1.0])
    assert ".vlesson-tokens-7 button:nth-of-type(1) {background: hsl(30" in css
    assert "nth-of-type(2)" not in css and "nth-of-type(3)" in css
    assert render.token_label("\n") == "\u21b5" and render.token_label("") == "\u2205"


def test_status_says_streaming_then_why_it_stopped():
    assert "streaming..." in render.status_html(3, "running", None, 0.1)
    done = render.status_html(4, "finished", "length", 0.5)
    assert "4 tokens, finish_reason=length, 8.0 tokens/s" in done
    assert "paused while a cell runs" in render.status_html(1, "paused", None, 1)


def test_error_html_escapes_the_message():
    out = widgets.error_html("top_p must be in (0, 1], got <1.5>", "top_p=1.50")
    assert "got &lt;1.5&gt;" in out and "top_p=1.50" in out


def test_initial_values_clamp_defaults_into_the_sliders_and_given_values_win():
    defaults = SimpleNamespace(
        temperature=1.0,
        top_p=1.0,
        top_k=-1,
        min_p=0.0,
        repetition_penalty=1.0,
        presence_penalty=0.0,
        frequency_penalty=0.0,
    )
    values = widgets.initial_values(defaults, {"temperature": 0.3})
    assert values["top_k"] == 0 and values["temperature"] == 0.3
    assert values["max_tokens"] == widgets.PANEL_MAX_TOKENS and values["seed"] == 42
    assert values["stop"] == "" and values["repetition_penalty"] == 1.0


def test_every_slider_of_params_is_in_the_panel():
    assert sorted(widgets.PANEL_SLIDERS) == sorted(widgets.SLIDERS)
    assert set(widgets.COMPARE_SLIDERS) <= set(widgets.SLIDERS)


def test_sliders_take_bounds_from_params_and_run_on_release():
    values = widgets.initial_values(
        SimpleNamespace(
            temperature=0.5,
            top_p=1.0,
            top_k=0,
            min_p=0.0,
            repetition_penalty=1.0,
            presence_penalty=0.0,
            frequency_penalty=0.0,
        ),
        {"seed": None},
    )
    controls = widgets.build_controls(values)
    for name in widgets.SLIDERS:
        w = controls[name]
        assert (w.min, w.max, w.step) == PARAMS[name].slider
        assert w.description == name and w.continuous_update is False
    assert controls["temperature"].max == 2.0
    assert controls["seed"].value == "" and controls["seed"].continuous_update is False
    assert controls["stop"].continuous_update is False


# -- wiring: inline (a cell or a test sets a value) ---------------------------------


def test_panel_starts_one_request_per_change_with_exactly_those_values():
    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello", max_tokens=8)
    engine = llm.llm_engine
    assert len(engine.added) == 1 and panel.generation.num_tokens == 8
    panel.controls["temperature"].value = 0.35
    assert len(engine.added) == 2
    _, prompt, sp = engine.added[-1]
    assert prompt == "Hello" and sp.logprobs == 20
    assert (sp.temperature, sp.max_tokens, sp.seed, sp.top_k) == (0.35, 8, 42, 0)
    assert "temperature=0.35" in panel.output.value
    assert "SamplingParams(temperature=0.35," in panel.output.value
    assert "vlesson generate --prompt Hello --temperature 0.35" in panel.output.value
    assert panel.generation.params["temperature"] == 0.35
    assert engine.aborted == []  # each run had ended before the next


def test_streaming_grows_the_text_and_ends_with_the_whole_generation(monkeypatch):
    monkeypatch.setattr(streaming, "UPDATE_INTERVAL_S", 0.0)  # every token shown
    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello", max_tokens=5)
    seen = []
    panel.output.observe(lambda c: seen.append(c["new"].count("<span")), "value")
    panel.controls["top_k"].value = 3
    assert seen == [1, 2, 3, 4, 5]
    assert panel.generation.text == " w0 w1 w2 w3 w4"
    assert panel.generation.token_ids == (100, 101, 102, 103, 104)
    assert panel.generation.logprobs == pytest.approx([math.log(0.5)] * 5)


def test_updates_are_throttled_to_about_30_a_second():
    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello", max_tokens=40)
    assert panel.stream.updates == 2  # the first token and the end: the fake is fast


def test_an_unchanged_value_costs_no_generation():
    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello")
    panel.controls["top_k"].value = panel.controls["top_k"].value  # no change event
    panel.controls["seed"].value = " 42"  # a change, but the same request
    assert len(llm.llm_engine.added) == 1


def test_a_bad_seed_shows_in_the_panel_and_the_log_without_generating(caplog):
    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello")
    with caplog.at_level(logging.WARNING, logger="vlesson.playground.widgets"):
        panel.controls["seed"].value = "abc"
    assert len(llm.llm_engine.added) == 1
    assert "seed must be an integer" in panel.error
    assert "seed must be an integer" in panel.outputs["settings"].value
    assert "seed must be an integer" in caplog.text
    panel.controls["seed"].value = "42"  # back to the last good settings: runs again
    assert len(llm.llm_engine.added) == 2 and panel.error is None


def test_an_empty_prompt_is_an_error_not_a_request():
    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello")
    panel.controls["prompt"].value = "   "
    assert len(llm.llm_engine.added) == 1 and "prompt is empty" in panel.error


def test_an_engine_failure_is_shown_and_logged_never_raised(caplog):
    llm = RecordingLLM(fail=RuntimeError("engine died"))
    with caplog.at_level(logging.ERROR, logger="vlesson.playground.widgets"):
        panel = widgets.panel(llm, "Hello")
    assert (
        "generation failed: RuntimeError: engine died"
        in panel.outputs["settings"].value
    )
    assert "Traceback" in caplog.text or caplog.records[0].exc_info


def test_a_classroom_server_gets_one_generate_call_per_change():
    llm = RecordingLLM(remote=True)
    panel = widgets.panel(llm, "Hello", max_tokens=8)
    panel.controls["temperature"].value = 0.35
    assert len(llm.calls) == 2 and llm.calls[-1][1][0].temperature == 0.35
    assert llm.calls[-1][1][0].logprobs == 20
    assert "temperature=0.35" in panel.output.value
    assert panel.generation.text == " <T=0.35>" and panel.generation.num_tokens == 3
    # the same colours and steps as a local engine's, from the server's log-probs
    assert panel.tokens.options == ((" Paris", 0), (" Paris", 1), (" Paris", 2))
    assert [c.token for c in panel.reshaped.candidates] == [" Paris", " the"]
    assert "step 0 of 3" in panel.distribution.value


def test_compare_streams_both_sides_in_the_same_engine_steps():
    llm = RecordingLLM()
    cmp = widgets.compare(
        llm,
        "Hi",
        left={"temperature": 0.1, "max_tokens": 4},
        right={"temperature": 1.9, "max_tokens": 4},
    )
    engine = llm.llm_engine
    assert len(engine.added) == 2 and engine.steps == 4  # 4 tokens each, together
    cmp.controls["right"]["top_p"].value = 0.5
    assert len(engine.added) == 3  # only the side that changed
    assert [(p.temperature, p.top_p) for _, _, p in engine.added[-1:]] == [(1.9, 0.5)]
    assert "top_p=0.50" in cmp.outputs["right"].value
    assert "top_p=1.00" in cmp.outputs["left"].value
    assert cmp.generations["left"].num_tokens == 4


# -- wiring: in the background (a slider moved in the browser) ----------------------


def _run(coro):
    import asyncio

    return asyncio.run(coro)


def test_a_new_value_aborts_the_running_request_and_the_panel_ends_on_it():
    import asyncio

    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello", max_tokens=30)
    engine = llm.llm_engine

    async def drag():
        panel.controls["temperature"].value = 0.5  # returns at once: it streams
        first = panel.stream
        assert first.state == "running" and engine.steps == 30
        while len(first.token_ids) < 3:
            await asyncio.sleep(0.001)
        panel.controls["temperature"].value = 0.0
        assert first.state == "aborted" and engine.aborted == [first.request_id]
        assert list(engine.live) == [panel.stream.request_id]  # vLLM has one request
        await panel.wait()
        return first

    first = _run(drag())
    assert len(first.token_ids) < 30
    assert panel.stream.state == "finished" and panel.generation.num_tokens == 30
    assert panel.generation.params["temperature"] == 0.0
    assert "temperature=0.00" in panel.output.value
    assert "finish_reason=length" in panel.output.value


def test_a_drag_over_ten_values_finishes_one_generation():
    import asyncio

    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello", max_tokens=30)

    async def drag():
        for i in range(10):
            panel.controls["temperature"].value = 0.05 * (i + 1)
            await asyncio.sleep(0.002)
        await panel.wait()

    _run(drag())
    engine = llm.llm_engine
    assert len(engine.added) == 11 and len(engine.aborted) >= 9
    assert panel.generation.params["temperature"] == pytest.approx(0.5)


def test_a_cell_takes_the_background_request_out_of_the_engine_until_it_ends():
    """LLM.generate in a cell would step (and collect) a panel's request."""
    import asyncio

    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello", max_tokens=30)
    engine = llm.llm_engine
    streamer = streaming.streamer(llm)

    async def cell_during_a_run():
        panel.controls["temperature"].value = 0.5
        running = panel.stream
        await asyncio.sleep(0.005)
        streamer.pause()  # IPython's pre_run_cell
        assert running.state == "paused" and engine.live == {}
        assert "paused while a cell runs" in panel.output.value
        streamer.resume()  # post_run_cell: the panel starts its settings again
        assert panel.stream is not running and panel.stream.state == "running"
        await panel.wait()

    _run(cell_during_a_run())
    assert panel.generation.params["temperature"] == 0.5
    assert panel.generation.num_tokens == 30


# -- every token's distribution -----------------------------------------------------


def test_clicking_a_token_shows_the_distribution_at_its_step():
    llm = RecordingLLM()
    panel = widgets.panel(llm, "Hello", max_tokens=6, temperature=0.5, top_k=1)
    assert panel.tokens.options == tuple((f" w{i}", i) for i in range(6))
    assert panel.step == 0 and "step 0 of 6" in panel.distribution.value
    panel.tokens.index = 4  # what a click on the fifth token sends
    assert "step 4 of 6" in panel.distribution.value
    assert "&#x27; w4&#x27; (p=0.500)" in panel.distribution.value
    assert [c.token for c in panel.reshaped.candidates] == [" w4", " other"]
    assert [c.before for c in panel.reshaped.candidates] == pytest.approx([0.5, 0.05])
    assert [c.after for c in panel.reshaped.candidates] == [1.0, 0.0]  # top_k=1
    assert "outline" in panel.output.value  # the text marks the token too
    assert "vlesson-curve" in panel.curve.value and "<polyline" in panel.curve.value
    assert "exp(z<sub>i</sub>/T)" in panel.distribution.value
    panel.controls["max_tokens"].value = 8  # a new run keeps the selected step
    assert panel.step == 4 and "step 4 of 8" in panel.distribution.value


def test_next_token_asks_the_engine_per_prompt_not_per_slider_move():
    llm = RecordingLLM(remote=True)
    view = widgets.next_token(llm, "The capital of France is")
    [(_, [sp])] = llm.calls
    assert (sp.max_tokens, sp.logprobs, sp.temperature) == (1, 20, 0)
    view.controls["top_k"].value = 1
    assert len(llm.calls) == 1
    assert [c.after for c in view.reshaped.candidates] == [1.0, 0.0]
    assert "top_k=1" in view.output.value and "&#x27; Paris&#x27;" in view.output.value
    view.controls["prompt"].value = "Hello"
    assert len(llm.calls) == 2


def test_every_ipython_cell_takes_a_background_request_out_and_back():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        llm = RecordingLLM()
        panel = widgets.panel(llm, "Hello", max_tokens=30)

        async def browser_change_then_cell():
            panel.controls["temperature"].value = 0.5
            running = panel.stream
            assert running.background and llm.llm_engine.live
            shell.run_cell("x = 1")  # pre_run_cell pauses, post_run_cell resumes
            assert running.state == "paused"
            assert running.request_id in llm.llm_engine.aborted
            assert panel.stream is not running and panel.stream.background
            await panel.wait()

        _run(browser_change_then_cell())
        assert panel.generation.params["temperature"] == 0.5
        assert panel.generation.num_tokens == 30
    finally:
        InteractiveShell.clear_instance()


# -- a classroom server streams too -------------------------------------------------


class FakeServerStream:
    """What ``client.completions.create(stream=True)`` returns: chunks, then close."""

    def __init__(self, body, pause=0.0):
        self.body, self.pause, self.closed, self.sent = body, pause, False, 0

    def __iter__(self):
        import time

        max_tokens, temperature = self.body["max_tokens"], self.body["temperature"]
        for i in range(max_tokens):
            time.sleep(self.pause)
            self.sent += 1
            top = {f"token_id:{100 + i}": math.log(0.5), "token_id:1": math.log(0.05)}
            choice = {
                "index": 0,
                "text": f" w{i}",
                "token_ids": [100 + i],
                "logprobs": {
                    "tokens": [f"token_id:{100 + i}"],
                    "token_logprobs": [math.log(0.5)],
                    "top_logprobs": [top],
                    "text_offset": [0],
                },
                "finish_reason": "length" if i + 1 == max_tokens else None,
            }
            yield SimpleNamespace(model_dump=lambda c=choice: {"choices": [c]})
        assert temperature is not None

    def close(self):
        self.closed = True


def fake_server(pause=0.0):
    from vlesson.remote import RemoteLLM

    llm = RemoteLLM.__new__(RemoteLLM)  # no server to ask for its models
    llm.server, llm.attempts, llm.model_name = "http://fake/v1", 1, "fake"
    llm.timeout = 30.0
    llm.facts = EngineFacts(model="fake", device="remote")
    llm.requests = []

    def create(**body):
        llm.requests.append(body)
        stream = FakeServerStream({**body, **body.get("extra_body", {})}, pause=pause)
        llm.requests[-1]["stream_object"] = stream
        return stream

    llm.client = SimpleNamespace(completions=SimpleNamespace(create=create))
    llm._tokenizer = SimpleNamespace(
        names=lambda ids: {t: " other" if t == 1 else f" w{t - 100}" for t in ids}
    )
    return llm


def test_a_classroom_server_streams_into_the_same_panel():
    llm = fake_server()
    panel = widgets.panel(llm, "Hello", max_tokens=5, temperature=0.5)
    [body] = llm.requests
    assert body["stream"] is True and body["logprobs"] == 20
    assert body["extra_body"]["return_tokens_as_token_ids"] is True
    assert panel.generation.text == " w0 w1 w2 w3 w4"
    assert panel.generation.token_ids == (100, 101, 102, 103, 104)
    assert panel.tokens.options == tuple((f" w{i}", i) for i in range(5))
    panel.tokens.index = 2
    assert [c.token for c in panel.reshaped.candidates] == [" w2", " other"]
    assert "step 2 of 5" in panel.distribution.value
    assert body["stream_object"].closed


def test_a_new_value_closes_the_stale_server_stream():
    import asyncio

    llm = fake_server(pause=0.01)
    panel = widgets.panel(llm, "Hello", max_tokens=30)

    async def drag():
        panel.controls["temperature"].value = 0.5  # from the browser: a thread
        stale = panel.stream
        while len(stale.token_ids) < 2:
            await asyncio.sleep(0.005)
        panel.controls["temperature"].value = 0.0
        assert stale.state == "aborted"
        await panel.wait()
        return stale

    stale = _run(drag())
    stale_stream = llm.requests[1]["stream_object"]
    assert stale_stream.closed and stale_stream.sent < 30  # the server saw it go
    assert panel.generation.params["temperature"] == 0.0
    assert panel.generation.num_tokens == 30 and len(stale.token_ids) < 30
