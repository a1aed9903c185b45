"""Check of notebook 05: the learner's request handler for the web API (2.13)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vlesson.exercises.grading import checkpoint, learner_error
from vlesson.exercises.recording import Recorder

__all__ = ["request_handler"]

GOOD = (
    {"prompt": "The capital of France is", "temperature": 0, "max_tokens": 8},
    {"prompt": ["Once upon a time", "The future of AI is"], "max_tokens": 4},
)
BAD = (
    ({"prompt": "Hello", "temperature": "hot"}, "temperature"),
    ({"prompt": "Hello", "temperature": -1}, "temperature"),
    ({"temperature": 0.5}, "prompt"),
    ({"prompt": "Hello", "max_tokens": 0}, "max_tokens"),
    ({"prompt": "Hello", "model": "facebook/opt-125m"}, "model"),
)
"""Requests a server must refuse with 422 before any work, and the field to name."""


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
            "any work"
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
