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
        "not 0 <= body.get('temperature', 0) <= 2:\n"
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
        if not isinstance(t, (int, float)) or not 0 <= t <= 2:
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


def test_a_handler_that_lets_temperature_3_through_is_told_the_range():
    lenient = RIGHT_SOURCE.replace("not 0 <= t <= 2", "t < 0")  # "a number >= 0"
    verdict = checks.request_handler(handler(lenient), FakeLLM())
    says(verdict, "wrong", "vLLM's rule for temperature is 0 to 2")


def test_the_reference_handler_refuses_temperature_3():
    rec = checks.Recorder(FakeLLM())
    status, answer = RIGHT(rec, {"prompt": "Hi", "temperature": 3})
    assert status == 422 and "temperature" in str(answer) and not rec.calls


RETRY_RIGHT = reference("05", "2.15")["post_with_retry"]

RETRY = """
import time
import httpx

def post_with_retry(client, url, body, *, attempts=3, backoff=0.5):
    for attempt in range(attempts):
        if attempt:
            time.sleep(WAIT)
        try:
            response = client.post(url, json=body)
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
            continue
        if response.status_code < 500:
            return response
    response.raise_for_status()
"""


def retry(wait: str = "backoff * 2 ** (attempt - 1)", **changes: str):
    """The right retry with its wait replaced, and each old -> new text changed."""
    code = textwrap.dedent(RETRY).replace("WAIT", wait)
    for old, new in changes.values():
        assert old in code, old
        code = code.replace(old, new)
    return learner(code)["post_with_retry"]


NO_RETRY = "def post_with_retry(client, url, body, **kw):\n    return client.post(url, json=body)\n"
NO_CATCH = (
    "        try:\n            response = client.post(url, json=body)\n"
    "        except httpx.TransportError:\n"
    "            if attempt == attempts - 1:\n                raise\n"
    "            continue\n"
)


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (learner(NO_RETRY)["post_with_retry"], "gave up after 1 attempt"),
        (retry("0"), "double it each time"),
        (retry("backoff"), "attempt 3 came"),
        (
            retry(a=("range(attempts)", "range(attempts + 2)")),
            "got 5 requests with attempts=3",
        ),
        (
            retry(a=("    response.raise_for_status()", "    return response")),
            "raise the last error",
        ),
        (
            retry(a=(NO_CATCH, "        response = client.post(url, json=body)\n")),
            "a lost connection is transient too",
        ),
        (
            retry(a=("status_code < 500", "status_code < 400")),
            "a 422 (the request is wrong) was sent 3 times",
        ),
    ],
    ids=[
        "no retry",
        "no wait",
        "no growth",
        "unbounded",
        "returns the 503",
        "connection error",
        "retries a 422",
    ],
)
def test_wrong_retries_get_their_hint(fn, hint):
    says(checks.retrying_client(fn), "wrong", hint)


def test_a_retry_around_vlessons_own_is_refused():
    wrapped = learner(
        "import httpx\nfrom vlesson.retry import retry\n"
        "def post_with_retry(client, url, body, *, attempts=3, backoff=0.5):\n"
        "    def once():\n"
        "        response = client.post(url, json=body)\n"
        "        if response.status_code >= 500:\n"
        "            response.raise_for_status()\n"
        "        return response\n"
        "    return retry(once, what='post', attempts=attempts, backoff=backoff)\n"
    )["post_with_retry"]
    says(checks.retrying_client(wrapped), "wrong", "vlesson.retry.retry")


def test_retry_reference_and_stub():
    verdict = checks.retrying_client(RETRY_RIGHT)
    says(verdict, "right", "bounded number of times")
    assert verdict.exercise == "2.15"  # the sheet's "retry logic for transient failures"
    stub = learner(
        "def post_with_retry(client, url, body, *, attempts=3, backoff=0.5):\n"
        "    raise NotImplementedError\n"
    )["post_with_retry"]
    says(checks.retrying_client(stub), "not attempted")


def test_the_flaky_server_fails_as_told_then_answers():
    import httpx

    server = checks.FlakyServer(503, httpx.ConnectError)
    with server.client() as client:
        assert client.post("/generate", json={}).status_code == 503
        with pytest.raises(httpx.ConnectError):
            client.post("/generate", json={})
        assert client.post("/generate", json={}).json()["outputs"][0]["text"]
    assert len(server.waits()) == 2


ROUTE = """
from fastapi import FastAPI
from fastapi.responses import JSONResponse

def make_app(llm):
    app = FastAPI()

    @app.post("/generate")
    def generate(body: dict):
        status, answer = handle_generate(llm, body)
        return JSONResponse(answer, status_code=status)

    return app
"""


def route(code: str = ROUTE, **changes: tuple[str, str]):
    """A route over the reference handler, with each old -> new text changed."""
    code = textwrap.dedent(code)
    for old, new in changes.values():
        assert old in code, old
        code = code.replace(old, new)
    return learner(RIGHT_SOURCE + code)["make_app"]


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (
            route(
                a=(
                    "        return JSONResponse(answer, status_code=status)",
                    "        return answer",
                )
            ),
            "got HTTP 200",
        ),
        (route(a=('@app.post("/generate")', '@app.post("/gen")')), "answered 404"),
        (
            route(
                a=("handle_generate(llm, body)", "handle_generate(OTHER, body)"),
                b=("def make_app(llm):", "OTHER = None\ndef make_app(llm):"),
            ),
            "a good request got 500",
        ),
        (route(a=("    return app", "    return None")), "return the FastAPI() app"),
    ],
    ids=["status dropped", "another path", "another engine", "no app"],
)
def test_wrong_routes_get_their_hint(fn, hint):
    says(checks.generate_route(fn, FakeLLM()), "wrong", hint)


def test_a_route_on_its_own_engine_is_told_to_use_the_given_one():
    own = route(
        a=("handle_generate(llm, body)", "handle_generate(ENGINE, body)"),
        b=("def make_app(llm):", "ENGINE = None\ndef make_app(llm):"),
    )
    own.__globals__["ENGINE"] = FakeLLM()  # an engine the route builds for itself
    says(checks.generate_route(own, FakeLLM()), "wrong", "0 calls reached the engine")


def test_route_reference_and_stub():
    make_app = reference("05", "2.13")["make_app"]
    says(checks.generate_route(make_app, FakeLLM()), "right", "one engine")
    stub = learner("def make_app(llm):\n    raise NotImplementedError\n")["make_app"]
    says(checks.generate_route(stub, FakeLLM()), "not attempted")
