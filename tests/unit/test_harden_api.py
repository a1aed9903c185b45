"""Issue 18, the web API: stable messages to clients (details in the server log),
limits at the HTTP layer, a client that leaves aborts its generation, a validation
error among others is a 422, and sampling parameters built by vLLM's constructor."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from fastapi.testclient import TestClient

from vlesson.facts import EngineFacts
from vlesson.sampling import make_sampling_params
from vlesson.serving import api

SECRET = "/home/instructor/.secret-token-42"


class FakeEngine:
    """An engine that fails, or generates forever, as a test needs."""

    def __init__(self, failures=None):
        self.failures = failures or {}
        self.started = 0
        self.cancelled = 0

    async def check_health(self):
        raise RuntimeError(f"engine core died reading {SECRET}")

    async def generate(self, rendered, params, request_id):
        if rendered in self.failures:
            raise self.failures[rendered]
        self.started += 1
        try:
            while True:
                await asyncio.sleep(0.05)
                if False:  # pragma: no cover - makes this an async generator
                    yield None
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def app_with(engine, limits=None):
    limits = limits or api.Limits()
    app = api.create_app(limits=limits)
    served = api._Served.__new__(api._Served)
    served.engine, served.name, served.limits, served._diff = engine, "m", limits, {}
    served.facts = EngineFacts(model="m", max_model_len=8192)

    async def render(prompts):
        return list(prompts)

    served.render = render
    app.state.served = served
    return app


def test_health_gives_a_short_stable_message_and_logs_the_details(caplog):
    client = TestClient(app_with(FakeEngine()))
    with caplog.at_level(logging.ERROR, "vlesson.serving.api"):
        response = client.get("/health")
    assert response.status_code == 503
    assert SECRET not in response.text
    assert response.json()["detail"] == "the engine is not healthy - see the server log"
    assert SECRET in caplog.text


def test_a_streaming_error_sends_a_stable_message_not_the_exception(caplog):
    engine = FakeEngine({"x": RuntimeError(f"cannot open {SECRET}")})
    client = TestClient(app_with(engine))
    with caplog.at_level(logging.ERROR, "vlesson.serving.api"):
        response = client.post("/generate", json={"prompt": "x", "stream": True})
    assert "event: error" in response.text and SECRET not in response.text
    data = response.text.split("event: error\ndata: ")[1].split("\n")[0]
    assert json.loads(data) == {"detail": "generation failed - see the server log"}
    assert SECRET in caplog.text


@pytest.mark.parametrize("prompts", [["a", "b"], ["b", "a"]])
def test_a_validation_error_among_other_errors_is_a_422_not_a_500(prompts):
    from vllm.exceptions import VLLMValidationError

    refused = VLLMValidationError("bad logit_bias", parameter="logit_bias")
    engine = FakeEngine({"a": refused, "b": RuntimeError("died")})
    client = TestClient(app_with(engine), raise_server_exceptions=False)
    response = client.post("/generate", json={"prompt": prompts})
    assert response.status_code == 422, response.text
    assert "bad logit_bias" in response.text


def test_a_body_over_the_limit_is_refused_with_413_even_without_a_length():
    limits = api.Limits(max_body_bytes=2000)
    client = TestClient(app_with(FakeEngine(), limits))
    big = json.dumps({"prompt": "x" * 3000}).encode()
    response = client.post(
        "/generate", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413 and "2000 bytes" in response.text

    def chunks():  # no Content-Length: the size is counted as it arrives
        yield big[:1000]
        yield big[1000:]

    response = client.post(
        "/generate", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_the_limits_are_options_and_on_the_openapi_page():
    from vlesson.cli import serve

    text = serve.build_parser().format_help()
    assert "--limit-max-body-bytes" in text and "--limit-max-concurrent" in text
    page = TestClient(api.create_app()).get("/openapi.json").json()["info"]
    assert "bytes per request body" in page["description"]
    assert "requests at once" in page["description"]


def test_requests_over_the_concurrency_limit_get_503_with_retry_after():
    engine = FakeEngine()
    app = app_with(engine, api.Limits(max_concurrent=1))

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t"
        ) as client:
            first = asyncio.create_task(client.post("/generate", json={"prompt": "p"}))
            while engine.started == 0:
                await asyncio.sleep(0.01)
            second = await client.post("/generate", json={"prompt": "q"})
            health = await client.get("/health")  # never queued behind generations
            first.cancel()
            return second, health

    second, health = asyncio.run(scenario())
    assert second.status_code == 503 and second.headers["retry-after"]
    assert "requests at once" in second.text
    assert health.status_code == 503 and "not healthy" in health.text


def test_a_client_that_disconnects_aborts_its_generation():
    engine = FakeEngine()
    app = app_with(engine)
    body = json.dumps({"prompt": "p", "max_tokens": 8}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/generate",
        "raw_path": b"/generate",
        "query_string": b"",
        "root_path": "",
        "server": ("t", 80),
        "client": ("c", 1),
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if messages:
            return messages.pop(0)
        while engine.started == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        return {"type": "http.disconnect"}

    async def send(message):
        pass

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    assert engine.cancelled == 1


class _Defaults:
    facts = EngineFacts(model="m", max_model_len=8192)

    def get_default_sampling_params(self):
        from vllm import SamplingParams

        return SamplingParams.from_optional(temperature=0.7, top_k=20, top_p=0.9)


def test_sampling_params_go_through_vllms_constructor():
    params = make_sampling_params(_Defaults(), stop=["THE END"], max_tokens=8)
    assert params.output_text_buffer_length == len("THE END") - 1  # held back
    greedy = make_sampling_params(_Defaults(), temperature=0)
    assert (greedy.top_k, greedy.top_p) == (0, 1.0)  # greedy: vLLM's own rule
    kept = make_sampling_params(_Defaults(), max_tokens=8)
    assert (kept.temperature, kept.top_k, kept.max_tokens) == (0.7, 20, 8)


def test_serve_beyond_loopback_makes_a_key_unless_told_to_run_open(monkeypatch, capsys):
    from vlesson.cli import serve

    monkeypatch.delenv(api.API_KEY_ENV, raising=False)
    parser = serve.build_parser()
    made = serve.server_key(parser.parse_args(["--host", "0.0.0.0"]))
    assert made and len(made) >= 20 and f"Bearer {made}" in capsys.readouterr().out
    assert serve.server_key(parser.parse_args(["--host", "0.0.0.0"])) != made
    assert (
        serve.server_key(parser.parse_args(["--host", "0.0.0.0", "--no-api-key"]))
        is None
    )
    assert "WITHOUT a key" in capsys.readouterr().err
    assert serve.server_key(parser.parse_args([])) is None  # loopback: no key needed
    monkeypatch.setenv(api.API_KEY_ENV, "given")
    assert serve.server_key(parser.parse_args(["--host", "0.0.0.0"])) == "given"
