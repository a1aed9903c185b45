"""Notebook 05's check: the reference handler passes, typical wrong handlers get their
hint, the stub is "not attempted" (a fake engine with non-default defaults)."""

from __future__ import annotations

import textwrap

import pytest

from tests.lesson_answers import FakeEngine, learner, reference, request_output, says
from vlesson.exercises.check import web_api as checks

pytestmark = pytest.mark.usefixtures("scratch_progress")


class FakeLLM(FakeEngine):
    def get_default_sampling_params(self):
        from vllm import SamplingParams

        return SamplingParams(temperature=0.6, top_p=0.9, top_k=40)

    def complete(self, prompt, sp, index):
        return request_output(prompt, f" after {prompt}", list(range(sp.max_tokens)))


def handler(code: str):
    return learner(textwrap.dedent(code))["handle_generate"]


RIGHT = reference("05", "2.13")["handle_generate"]

SHEET = """
from vllm import SamplingParams
def handle_generate(llm, body):
    prompt = body.get('prompt')
    temperature = body.get('temperature', 0.7)
    params = SamplingParams(temperature=temperature, max_tokens=body.get('max_tokens', 16))
    outputs = llm.generate(prompt, params)
    return 200, {"outputs": [{"text": o.outputs[0].text,
                              "num_tokens": len(o.outputs[0].token_ids),
                              "finish_reason": o.outputs[0].finish_reason} for o in outputs]}
"""
LOOP = """
def handle_generate(llm, body):
    prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
    params = llm.get_default_sampling_params()
    for k in ("temperature", "max_tokens"):
        if k in body:
            setattr(params, k, body[k])
    outs = [llm.generate(p, params)[0] for p in prompts]
    return 200, {"outputs": [{"text": o.outputs[0].text,
                              "num_tokens": len(o.outputs[0].token_ids),
                              "finish_reason": o.outputs[0].finish_reason} for o in outs]}
"""
TEXT_ONLY = """
def handle_generate(llm, body):
    prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
    params = llm.get_default_sampling_params()
    for k in ("temperature", "max_tokens"):
        if k in body:
            setattr(params, k, body[k])
    return 200, {"output": [o.outputs[0].text for o in llm.generate(prompts, params)]}
"""


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        (SHEET, "top_p is 1.0 but the model's default is 0.9"),
        (LOOP, "2 llm.generate calls for 2 prompt(s)"),
        (TEXT_ONLY, "give it an 'outputs' list"),
    ],
    ids=["the sheet's sketch", "a call per prompt", "text only"],
)
def test_wrong_handlers_get_their_hint(code, hint):
    says(checks.request_handler(handler(code), FakeLLM()), "wrong", hint)


def test_a_handler_without_validation_is_told_to_answer_422():
    no_checks = LOOP.replace(
        "    outs = [llm.generate(p, params)[0] for p in prompts]",
        "    outs = llm.generate(prompts, params)",
    )
    verdict = checks.request_handler(handler(no_checks), FakeLLM())
    says(verdict, "wrong", "reached llm.generate")


def test_a_crash_on_a_missing_prompt_names_the_line_and_the_fix():
    code = LOOP.replace(
        "    params = llm.get_default_sampling_params()",
        "    if not isinstance(body.get('temperature', 0), (int, float)) or "
        "body.get('temperature', 0) < 0:\n"
        "        return 422, {'detail': 'temperature'}\n"
        "    params = llm.get_default_sampling_params()",
    ).replace(
        "    outs = [llm.generate(p, params)[0] for p in prompts]",
        "    outs = llm.generate(prompts, params)",
    )
    verdict = checks.request_handler(handler(code), FakeLLM())
    says(verdict, "wrong", "raised KeyError: 'prompt'")
    assert "a bad one gets 422" in verdict.message


def test_wrong_status_and_unnamed_field():
    code = RIGHT_SOURCE.replace("return 422,", "return 400,", 1)
    says(checks.request_handler(handler(code), FakeLLM()), "wrong", "422")


def test_reference_and_stub():
    says(checks.request_handler(RIGHT, FakeLLM()), "right", "before the engine runs")
    stub = handler("def handle_generate(llm, body):\n    raise NotImplementedError\n")
    says(checks.request_handler(stub, FakeLLM()), "not attempted")


RIGHT_SOURCE = textwrap.dedent(
    """
    def handle_generate(llm, body):
        unknown = sorted(set(body) - {"prompt", "temperature", "max_tokens"})
        if unknown:
            return 422, {"detail": f"unknown field {unknown[0]}"}
        prompts = body.get("prompt")
        if isinstance(prompts, str):
            prompts = [prompts]
        if not prompts:
            return 422, {"detail": "prompt"}
        params = llm.get_default_sampling_params()
        t = body.get("temperature", params.temperature)
        if not isinstance(t, (int, float)) or t < 0:
            return 422, {"detail": "temperature"}
        n = body.get("max_tokens", params.max_tokens)
        if not isinstance(n, int) or n < 1:
            return 422, {"detail": "max_tokens"}
        params.temperature, params.max_tokens = t, n
        outputs = llm.generate(prompts, params)
        return 200, {"outputs": [{"text": o.outputs[0].text,
                                  "num_tokens": len(o.outputs[0].token_ids),
                                  "finish_reason": o.outputs[0].finish_reason}
                                 for o in outputs]}
    """
)
