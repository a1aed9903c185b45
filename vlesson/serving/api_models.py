"""The web API's request and response models, built from the PARAMS table, and the
422 messages that name the field, its range and what was sent."""

import dataclasses
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from vlesson.names import close_names
from vlesson.sampling import API_PARAMS, PARAMS, Param

MAX_STOP = 4
"""At most this many stop strings, each of 1 to 64 characters."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may ask for; the OpenAPI page shows these bounds."""

    max_prompts: int = dataclasses.field(
        default=32, metadata={"help": "Most prompts in one request."}
    )
    max_prompt_chars: int = dataclasses.field(
        default=4000,
        metadata={
            "help": "Most characters in one prompt (it must also "
            "fit the model's context)."
        },
    )
    max_tokens: int = dataclasses.field(
        default=512,
        metadata={
            "help": "Highest max_tokens a request may ask for; it "
            "also caps the model's default."
        },
    )
    max_body_bytes: int = dataclasses.field(
        default=1 << 20,
        metadata={
            "help": "Most bytes per request body (413 above it, counted as the body "
            "arrives, with or without Content-Length)."
        },
    )
    max_concurrent: int = dataclasses.field(
        default=64,
        metadata={
            "help": "Most /generate and /models requests at once (503 with "
            "Retry-After above it); /health is never held back."
        },
    )
    body_seconds: int = dataclasses.field(
        default=30,
        metadata={
            "help": "Most seconds a request body may take to arrive (408 above it: a "
            "slow client holds no slot for longer)."
        },
    )


def api_params(limits: Limits) -> dict[str, Param]:
    """Return the PARAMS entries the API accepts, tightened where a server must."""
    tighter = {
        "max_tokens": {"high": limits.max_tokens},
        "min_tokens": {"high": limits.max_tokens},
    }
    return {n: dataclasses.replace(PARAMS[n], **tighter.get(n, {})) for n in API_PARAMS}


def _param_field(p: Param) -> tuple[Any, Any]:
    bounds: dict[str, Any] = {}
    if p.low is not None:
        bounds["gt" if p.low_open else "ge"] = p.kind(p.low)
    if p.high is not None:
        bounds["le"] = p.kind(p.high)
    if p.kind is float:
        bounds["allow_inf_nan"] = False
    # strict: "0.5" (a string) and true (a bool) are not numbers
    field = Field(
        None, strict=True, description=f"{p.help} Range: {p.range_text()}.", **bounds
    )
    return p.kind | None, field


def request_model(limits: Limits) -> type[BaseModel]:
    """Build the /generate request model; every sampling field's limits come from PARAMS."""
    text = Annotated[
        str, StringConstraints(min_length=1, max_length=limits.max_prompt_chars)
    ]
    many = Annotated[list[text], Field(min_length=1, max_length=limits.max_prompts)]
    stop = Annotated[str, StringConstraints(min_length=1, max_length=64)]
    fields: dict[str, Any] = {
        "prompt": (
            text | many,
            Field(
                description=f"One prompt, or a list of 1 to {limits.max_prompts} prompts "
                f"(1 to {limits.max_prompt_chars} characters each, and within the model's "
                "context). Results come back in the same order.",
                examples=["The capital of France is"],
            ),
        ),
        "stream": (
            bool,
            Field(
                False,
                description="Send tokens as server-sent events "
                "while they are generated (a single prompt only).",
            ),
        ),
        "stop": (
            list[stop] | None,
            Field(
                None,
                max_length=MAX_STOP,
                description=(
                    f"Up to {MAX_STOP} strings that end the completion when generated."
                ),
            ),
        ),
        **{name: _param_field(p) for name, p in api_params(limits).items()},
    }
    return create_model(
        "GenerateRequest",
        __config__=ConfigDict(extra="forbid"),
        __doc__="Prompts and sampling parameters; omitted parameters keep the model's "
        "defaults (llm.get_default_sampling_params()).",
        **fields,
    )


class Completion(BaseModel):
    """One prompt's completion: vlesson's Generation.as_dict() plus time to first token."""

    prompt: str
    text: str
    num_tokens: int
    prompt_tokens: int
    finish_reason: str | None
    mean_logprob: float | None
    seconds: float = Field(description="From the request's arrival to the last token.")
    first_token_seconds: float | None = Field(
        description="From the request's arrival to the first token."
    )
    params: dict[str, Any]
    token_ids: list[int]


class GenerateResponse(BaseModel):
    """All completions of a request, in the order of its prompts."""

    model: str
    outputs: list[Completion]
    num_tokens: int = Field(description="Generated tokens, all prompts together.")
    seconds: float = Field(description="Wall time of the whole request.")


class ModelCard(BaseModel):
    """The one model this server holds (requests cannot load another)."""

    id: str
    max_model_len: int
    dtype: str
    limits: dict[str, int]


class Health(BaseModel):
    """Liveness: the engine is loaded and has not failed."""

    status: str
    model: str


def explain_all(errors: list[dict[str, Any]], limits: Limits) -> list[dict[str, Any]]:
    """Rewrite pydantic's errors as vlesson's, one per field."""
    fields, detail, seen = api_params(limits), [], set()
    # prompt's union reports an error per arm: the arm that fits the input goes first
    for error in sorted(errors, key=_other_arm):
        item = explain(error, fields, limits)
        if item["field"] not in seen:
            seen.add(item["field"])
            detail.append(item)
    return detail


def explain(
    error: dict[str, Any], fields: dict[str, Param], limits: Limits
) -> dict[str, Any]:
    """Rewrite one pydantic error as vlesson's: the field, its range, what was sent."""
    loc = list(error.get("loc", ()))
    field = str(loc[1]) if len(loc) > 1 else "body"
    kind, why = error.get("type", "value_error"), error.get("msg", "invalid")
    got = "nothing" if kind == "missing" else _short(error.get("input"))
    if kind == "extra_forbidden":
        text = _unknown_field(field, fields)
    elif field in fields:
        p = fields[field]
        text = f"{field} must be {p.range_phrase()}, got {got} ({why}) - {p.hint}"
    elif field == "prompt":
        text = (
            f"prompt must be a string of 1 to {limits.max_prompt_chars} characters "
            f"or a list of 1 to {limits.max_prompts} such strings, got {got} ({why})"
        )
    elif field == "stop":
        text = (
            f"stop must be a list of at most {MAX_STOP} strings of 1 to 64 "
            f"characters, got {got} ({why})"
        )
    elif field == "body":
        text = (
            'the body must be a JSON object such as {"prompt": "The capital of '
            f'France is", "max_tokens": 16}} ({why})'
        )
    else:
        text = f"{field} is invalid, got {got} ({why})"
    return {"loc": loc, "msg": text, "type": kind, "field": field}


def _other_arm(error: dict[str, Any]) -> int:
    """Return 1 for a prompt error from the union arm that does not fit the input."""
    loc = error.get("loc", ())
    if len(loc) != 3 or loc[1] != "prompt":
        return 0
    return int(str(loc[2]).startswith("list") != isinstance(error.get("input"), list))


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _unknown_field(name: str, fields: dict[str, Param]) -> str:
    if name == "model":
        return (
            "unknown field 'model' - this server holds one model, chosen when it "
            "starts (`vlesson serve --model ...`); see GET /models"
        )
    known = ["prompt", "stream", "stop", *fields]
    close = [k for k in known if k.startswith(name[:4])] or close_names(
        name, known, cutoff=0.5
    )
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown field {name!r} - {hint}valid fields: {', '.join(known)}"
