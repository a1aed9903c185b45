"""The class server's key guards every route vLLM registers but /health
(``vlesson/serving/classroom_key.py``), against the real server that
``make classroom-server`` starts (conftest.py's ``server``, with its key).

The routes are read from vLLM itself: its app built here the way its server builds it
(``build_app``), plus the paths of the running server's own OpenAPI page. None is
listed by hand, so a route a vLLM upgrade adds is checked too.

Run under the engine lock: the server computes."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
from class_server import KEY

from vlesson.playground import scheduler


def _call(url: str, method: str, key: str | None) -> int:
    """Return the status of one request (a JSON body for the methods that take one)."""
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _routes_of_vllms_app() -> set[tuple[str, str]]:
    """(method, path) of every route of vLLM's OpenAI server app, built in this process
    as its server builds it, for a generating model."""
    try:
        from vllm.entrypoints.launchers.app import build_app
        from vllm.entrypoints.launchers.cli_args import make_arg_parser
    except ImportError:  # vLLM 0.24 (the GPU bundle) kept both in openai/
        from vllm.entrypoints.openai.api_server import build_app
        from vllm.entrypoints.openai.cli_args import make_arg_parser

    from vlesson.compat import flexible_argument_parser

    args = make_arg_parser(flexible_argument_parser()()).parse_args(["--model", "m"])
    app = build_app(args, ("generate",))
    routes = set()
    for route in app.routes:
        methods = getattr(route, "methods", None) or {"GET"}  # a Mount: GET below it
        path = route.path if getattr(route, "methods", None) else route.path + "/"
        routes |= {(m, path) for m in methods if m != "HEAD"}
    return routes


def _routes_of_the_server(base: str) -> set[tuple[str, str]]:
    """(method, path) of the running server's OpenAPI page."""
    request = urllib.request.Request(
        base + "/openapi.json", headers={"Authorization": f"Bearer {KEY}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        spec = json.load(response)
    return {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}


@pytest.fixture(scope="module")
def routes(server):
    base = server.removesuffix("/v1")
    found = _routes_of_vllms_app() | _routes_of_the_server(base)
    # Path parameters get a value: the key is checked before the route is matched.
    return base, sorted((m, re.sub(r"\{[^}]+\}", "x", p)) for m, p in found)


def test_vllms_routes_include_the_ones_its_own_key_check_left_open(routes):
    _, found = routes
    paths = {p for _, p in found}
    assert {"/invocations", "/tokenize", "/detokenize", "/metrics"} <= paths
    assert len(found) > 20


def test_every_route_but_health_answers_401_without_the_key(routes):
    base, found = routes
    open_ = [
        (m, p, status) for m, p in found if p != "/health"
        for status in [_call(base + p, m, None)] if status != 401
    ]
    assert open_ == []
    wrong = [(m, p) for m, p in found if p != "/health"
             if _call(base + p, m, "wrong-" + KEY) != 401]
    assert wrong == []


def test_every_route_passes_the_key_check_with_the_key(routes):
    """With the key, no route answers 401 (403 is vLLM's own answer for the scale-out
    routes it registers disabled)."""
    base, found = routes
    refused = [(m, p) for m, p in found if _call(base + p, m, KEY) == 401]
    assert refused == []


def test_health_is_open_and_invocations_generate_with_the_key(server):
    base = server.removesuffix("/v1")
    assert _call(base + "/health", "GET", None) == 200
    request = urllib.request.Request(
        base + "/invocations", method="POST",
        data=json.dumps({"prompt": "The capital of France is", "max_tokens": 4,
                         "model": "smollm2-135m-instruct"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        assert json.load(response)["choices"][0]["text"]


def test_the_scheduler_reads_metrics_with_the_key(server):
    read = scheduler.metrics_source(SimpleNamespace(server=server, api_key=KEY))
    assert "running" in read()
    keyless = scheduler.metrics_source(SimpleNamespace(server=server, api_key=None))
    with pytest.raises(urllib.error.HTTPError, match="401"):
        keyless()
