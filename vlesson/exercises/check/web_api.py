"""Checks of notebook 05: the learner's request handler and route for the web API
(2.13), and a client that retries a server's transient failures (2.15's retry part;
its validation part is checked in notebook 01)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vlesson.exercises.grading import checkpoint, learner_error
from vlesson.exercises.recording import Recorder

__all__ = ["generate_route", "request_handler", "retrying_client"]

GOOD = (
    {"prompt": "The capital of France is", "temperature": 0, "max_tokens": 8},
    {"prompt": ["Once upon a time", "The future of AI is"], "max_tokens": 4},
)
BAD = (
    ({"prompt": "Hello", "temperature": "hot"}, "temperature"),
    ({"prompt": "Hello", "temperature": -1}, "temperature"),
    ({"prompt": "Hello", "temperature": 3}, "temperature"),
    ({"temperature": 0.5}, "prompt"),
    ({"prompt": "Hello", "max_tokens": 0}, "max_tokens"),
    ({"prompt": "Hello", "model": "facebook/opt-125m"}, "model"),
)
"""Requests a server must refuse with 422 before any work, and the field to name."""
_RANGE_HINT = {
    "3": " (vLLM's rule for temperature is 0 to 2: SamplingParams refuses 3)"
}


def _call(handler: Callable[..., Any], llm: Any, body: dict[str, Any]) -> Any:
    try:
        return handler(llm, dict(body))
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - any crash is the hint
        raise AssertionError(
            f"for {body} {learner_error(exc)} - a server answers every request; a bad "
            "one gets 422 and the field's name"
        ) from None


@checkpoint("2.13")
def request_handler(handler: Callable[[Any, dict[str, Any]], Any], llm: Any) -> str:
    """Check ``handler(llm, body) -> (status, json_dict)`` on good and bad requests."""
    defaults = llm.get_default_sampling_params()
    for body in GOOD:
        rec = Recorder(llm)
        got = _call(handler, rec, body)
        _check_good(body, got, rec, defaults)
    for body, field in BAD:
        rec = Recorder(llm)
        got = _call(handler, rec, body)
        assert isinstance(got, tuple) and len(got) == 2, (
            f"for {body} the handler returned {got!r}: return (status, dict)"
        )
        assert not rec.calls, (
            f"{body} reached llm.generate: check the request before the engine does "
            "any work" + _RANGE_HINT.get(str(body.get("temperature")), "")
        )
        status, answer = got
        assert status == 422, (
            f"{body} got status {status}; a request the server cannot run is 422 "
            "Unprocessable Entity"
        )
        assert field in str(answer), (
            f"the answer to {body} is {answer!r}: name the field ({field}) so the "
            "client knows what to fix"
        )
    return (
        "good requests are batched and answered in order, bad ones refused with the "
        "field's name before the engine runs: what FastAPI + pydantic give vlesson serve"
    )


def _check_good(body: dict[str, Any], got: Any, rec: Recorder, defaults: Any) -> None:
    assert isinstance(got, tuple) and len(got) == 2, (
        f"the handler returned {type(got).__name__}: return (status, dict), e.g. the "
        "status 200 and the JSON body"
    )
    status, answer = got
    assert status == 200, f"{body} got status {status}: {answer!r}"
    prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
    assert len(rec.calls) == 1, (
        f"{len(rec.calls)} llm.generate calls for {len(prompts)} prompt(s): one call "
        "takes the whole list"
    )
    call = rec.calls[0]
    for params in call.params_list():
        _check_params(body, params, defaults)
    outputs = answer.get("outputs") if isinstance(answer, Mapping) else None
    assert isinstance(outputs, Sequence) and len(outputs) == len(prompts), (
        f"the answer is {answer!r}: give it an 'outputs' list, one per prompt"
    )
    for out, result in zip(outputs, call.outputs, strict=True):
        completion = result.outputs[0]
        assert isinstance(out, Mapping) and out.get("text") == completion.text, (
            f"an output is {out!r}: each needs the completion's 'text', in prompt order"
        )
        assert out.get("num_tokens") == len(completion.token_ids), (
            f"num_tokens is {out.get('num_tokens')!r}: the number of generated tokens"
        )
        assert out.get("finish_reason") == completion.finish_reason, (
            "add each output's finish_reason: the client needs to know if it was cut"
        )


def _check_params(body: dict[str, Any], params: Any, defaults: Any) -> None:
    for name in ("temperature", "max_tokens"):
        if name in body:
            assert getattr(params, name) == body[name], (
                f"{name} is {getattr(params, name)!r}, the request asked {body[name]!r}"
            )
    greedy = (
        body.get("temperature") == 0
    )  # vLLM resets top_p / top_k: they do not apply
    for name in ("top_p", "top_k", "repetition_penalty"):
        if name not in body and not (greedy and name != "repetition_penalty"):
            assert getattr(params, name) == getattr(defaults, name), (
                f"{name} is {getattr(params, name)!r} but the model's default is "
                f"{getattr(defaults, name)!r}: values the request leaves out keep the "
                "model's defaults (llm.get_default_sampling_params())"
            )


ROUTE_GOOD = {"prompt": "The capital of France is", "temperature": 0, "max_tokens": 4}
ROUTE_BAD = {"prompt": "Hello", "temperature": 3}


@checkpoint("2.13")
def generate_route(make_app: Callable[[Any], Any], llm: Any) -> str:
    """Check ``make_app(llm)``: a FastAPI app whose ``POST /generate`` answers on the
    engine it is given, through FastAPI's TestClient (no server, no second engine)."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    rec = Recorder(llm)
    app = make_app(rec)
    assert isinstance(app, FastAPI), (
        f"make_app returned {type(app).__name__}: return the FastAPI() app"
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        good = client.post("/generate", json=ROUTE_GOOD)
        assert good.status_code != 404, (
            "POST /generate answered 404: declare the route with @app.post('/generate')"
        )
        assert good.status_code == 200, (
            f"a good request got {good.status_code}: {good.text[:200]}"
        )
        assert len(rec.calls) == 1, (
            f"{len(rec.calls)} calls reached the engine given to make_app: the route "
            "must use that one engine, built once outside the route"
        )
        outputs = good.json().get("outputs") if good.text.startswith("{") else None
        text = rec.calls[0].outputs[0].outputs[0].text
        assert outputs and outputs[0].get("text") == text, (
            f"the answer is {good.text[:200]}: send the handler's JSON, with its "
            "'outputs'"
        )
        bad = client.post("/generate", json=ROUTE_BAD)
    assert len(rec.calls) == 1, (
        f"{ROUTE_BAD} reached the engine: check the request first"
    )
    assert bad.status_code == 422, (
        f"{ROUTE_BAD} got HTTP {bad.status_code}: the client reads the status line "
        "first - send the handler's status (JSONResponse(..., status_code=...))"
    )
    return (
        "your route serves the one engine, answers 200 with the outputs and 422 with "
        "the field before any work: the shape of vlesson serve's /generate"
    )


RETRY_STATUSES = (500, 502, 503, 504)
"""The statuses a client may retry: the server's trouble, which may pass."""


class FlakyServer:
    """An in-process HTTP endpoint (httpx's ``MockTransport``) that fails on purpose:
    its first answers are ``failures`` (a status, or an exception class to raise), then
    200 with a generation; it records when each request came."""

    def __init__(self, *failures: Any) -> None:
        self.failures = list(failures)
        self.times: list[float] = []

    def client(self) -> Any:
        import httpx

        return httpx.Client(
            transport=httpx.MockTransport(self._answer), base_url="http://lesson"
        )

    def _answer(self, request: Any) -> Any:
        import httpx

        self.times.append(time.monotonic())
        if len(self.times) <= len(self.failures):
            failure = self.failures[len(self.times) - 1]
            if isinstance(failure, type):
                raise failure("connection refused", request=request)
            return httpx.Response(failure, json={"detail": "fails on purpose"})
        return httpx.Response(200, json={"outputs": [{"text": " Paris."}]})

    def waits(self) -> list[float]:
        """Seconds between one request and the next."""
        return [b - a for a, b in zip(self.times, self.times[1:], strict=False)]


def _post(fn: Callable[..., Any], server: FlakyServer, **options: Any) -> Any:
    """Call the learner's function on the server: its answer, or the exception."""
    import httpx

    body = {"prompt": "The capital of France is", "max_tokens": 4}
    with server.client() as client:
        try:
            return fn(client, "/generate", body, **options)
        except httpx.HTTPError as exc:
            return exc


@checkpoint("2.15", refuse=("vlesson.retry.retry",))
def retrying_client(post_with_retry: Callable[..., Any]) -> str:
    """Check ``post_with_retry(client, url, body, *, attempts, backoff)`` against
    servers that fail on purpose."""
    import httpx

    backoff = 0.02
    server = FlakyServer(503, 502)
    got = _post(post_with_retry, server, attempts=3, backoff=backoff)
    calls = len(server.times)
    assert calls > 1, (
        "the server answered 503 (busy: a transient failure) and your function gave "
        "up after 1 attempt: try again, up to `attempts` times"
    )
    assert isinstance(got, httpx.Response) and got.status_code == 200, (
        f"the server fails twice then answers 200, but your function returned {got!r} "
        f"after {calls} attempts: return the response of the attempt that worked"
    )
    _check_backoff(server.waits(), backoff)
    server = FlakyServer(503, 503, 503, 503)
    got = _post(post_with_retry, server, attempts=3, backoff=backoff)
    assert len(server.times) == 3, (
        f"a server that keeps failing got {len(server.times)} requests with attempts=3: "
        "stop after `attempts` tries"
    )
    assert isinstance(got, httpx.HTTPStatusError), (
        f"after 3 failed attempts your function returned {got!r}: raise the last "
        "error (response.raise_for_status()) so the caller cannot mistake it for a "
        "result"
    )
    server = FlakyServer(httpx.ConnectError)
    got = _post(post_with_retry, server, attempts=3, backoff=backoff)
    assert isinstance(got, httpx.Response) and got.status_code == 200, (
        f"the connection failed once (the server restarting), then worked; your "
        f"function gave {got!r}: a lost connection is transient too "
        "(httpx.TransportError), retry it"
    )
    server = FlakyServer(422, 422, 422)
    got = _post(post_with_retry, server, attempts=3, backoff=backoff)
    assert len(server.times) == 1, (
        f"a 422 (the request is wrong) was sent {len(server.times)} times: the same "
        "request will be refused again, so retry only the server's 5xx and lost "
        "connections"
    )
    assert isinstance(got, httpx.HTTPStatusError | httpx.Response), (
        f"a 422 gave {got!r}: return the response, or raise its error"
    )
    return (
        "transient failures (5xx, a lost connection) are retried a bounded number of "
        "times with growing waits, so a busy server recovers instead of being "
        "hammered; a client error is answered at once, since sending it again cannot "
        "fix it"
    )


def _check_backoff(waits: list[float], backoff: float) -> None:
    for attempt, wait in enumerate(waits):
        wanted = backoff * 2**attempt
        assert wait >= wanted * 0.9, (
            f"attempt {attempt + 2} came {wait:.3f} s after the one before, with "
            f"backoff={backoff}: wait backoff seconds before the 2nd attempt and double "
            f"it each time ({wanted:.3f} s here), so a busy server gets room to recover"
        )
