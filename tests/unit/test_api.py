"""The web API without an engine: request schema from PARAMS, 422 and 401 answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import vlesson as vl
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
