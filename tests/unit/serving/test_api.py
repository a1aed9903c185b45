"""The web API without an engine: request schema from PARAMS, 422 and 401 answers."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from fastapi.testclient import TestClient

import vlesson as vl
from vlesson.facts import EngineFacts
from vlesson.serving import api

KEY = "unit-test-key"


@pytest.fixture(scope="module")
def client():
    # No `with`: the lifespan (the engine) never starts, so only validation can answer.
    return TestClient(
        api.create_app(api_key=KEY, limits=api.Limits(max_tokens=64)),
        headers={"Authorization": f"Bearer {KEY}"},
    )


def test_request_schema_takes_every_bound_and_range_from_params():
    limits = api.Limits(max_tokens=64)
    props = api.request_model(limits).model_json_schema()["properties"]
    for name in api.API_PARAMS:
        p = api.api_params(limits)[name]
        schema = props[name]["anyOf"][0]
        assert schema["type"] == ("integer" if p.kind is int else "number")
        low_key = "exclusiveMinimum" if p.low_open else "minimum"
        assert schema.get(low_key) == p.low and schema.get("maximum") == p.high, name
        assert f"Range: {p.range_text()}." in props[name]["description"]
        if name not in ("max_tokens", "min_tokens", "seed", "top_k"):
            assert (p.low, p.high) == (vl.PARAMS[name].low, vl.PARAMS[name].high)
    assert props["max_tokens"]["anyOf"][0]["maximum"] == 64
    assert props["prompt"]["anyOf"][1]["maxItems"] == limits.max_prompts


def test_openapi_page_documents_every_field_with_its_range(client):
    schema = client.get("/openapi.json").json()
    body = schema["components"]["schemas"]["GenerateRequest"]["properties"]
    assert set(body) == {"prompt", "stream", "stop", *api.API_PARAMS}
    assert all(field.get("description") for field in body.values())
    assert "n" not in body and "model" not in body  # no request picks another model
    assert "401" in schema["paths"]["/generate"]["post"]["responses"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"prompt": "x", "top_p": 1.5},
            "top_p",
            ["top_p must be in (0, 1]", "got 1.5"],
        ),
        ({"prompt": "x", "temperature": "hot"}, "temperature", ["[0, 2]", "'hot'"]),
        (
            {"prompt": "x", "max_tokens": 65},
            "max_tokens",
            ["max_tokens must be in [1, 64]"],
        ),
        ({"prompt": "x", "max_tokens": True}, "max_tokens", ["valid integer"]),
        (
            {"prompt": "x", "seed": 2**64},
            "seed",
            ["seed must be in [0, 9223372036854775807]"],
        ),
        ({"prompt": "x", "temp": 1}, "temp", ["did you mean 'temperature'?"]),
        ({"prompt": "x", "model": "gpt-4"}, "model", ["holds one model"]),
        ({"prompt": []}, "prompt", ["a list of 1 to 32", "at least 1 item"]),
        ({"prompt": "x" * 4001}, "prompt", ["1 to 4000 characters"]),
        (
            {"prompt": ["a", "b"], "stream": True},
            "stream",
            ["stream needs a single prompt"],
        ),
        ({}, "prompt", ["got nothing"]),
    ],
)
def test_bad_requests_get_422_naming_the_field_and_range(client, body, field, words):
    response = client.post("/generate", json=body)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["field"] == field and error["loc"][:2] == ["body", field]
    for word in words:
        assert word in error["msg"]


def test_a_body_that_is_not_json_gets_422_with_an_example(client):
    response = client.post("/generate", content=b"prompt=hi")
    assert response.status_code == 422
    assert (
        '{"prompt": "The capital of France is"' in response.json()["detail"][0]["msg"]
    )


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}],
)
def test_a_missing_or_wrong_key_gets_401_before_validation(client, headers):
    for method, path, body in [
        ("post", "/generate", {"top_p": 9}),
        ("get", "/models", None),
    ]:
        response = client.request(
            method, path, json=body, headers={"Authorization": "", **headers}
        )
        assert response.status_code == 401, (path, headers)
        assert response.headers["www-authenticate"] == "Bearer"
        assert api.API_KEY_ENV in response.json()["detail"]


def test_health_needs_no_key_and_says_503_without_an_engine(client):
    response = client.get("/health", headers={"Authorization": ""})
    assert response.status_code == 503  # not 401: /health is open


def test_importing_the_api_does_not_import_vllm():
    import subprocess
    import sys

    code = (
        "import vlesson as vl, sys; vl.api.create_app(); print('vllm' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "False", result.stderr[-2000:]


def test_free_port_is_bindable_on_loopback():
    import socket

    port = api.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_start_server_reports_why_the_server_could_not_start():
    # The limits are checked before any engine starts: exit 2, and the message says why.
    with pytest.raises(RuntimeError, match="exited with code 2") as info:
        api.start_server(args=["--limit-max-tokens", "0"], timeout=120)
    assert "request limits must be at least 1" in str(info.value)


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
