"""The web API (exercise 2.13): FastAPI in front of vLLM's asynchronous engine.

``create_app()`` loads the model once, at start-up. Every prompt of every request goes
to the engine as its own request, so prompts arriving together - from one request or
from many clients - are batched by vLLM's scheduler instead of queueing behind each
other. ``vlesson serve`` runs the app with uvicorn; ``start_server()`` runs that command
in a subprocess for tests and notebooks. Importing this module does not import vLLM.
"""

import asyncio
import dataclasses
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from vlesson import envvars, facts, models
from vlesson.compat import (
    async_engine_class,
    render_prompt,
    request_validation_errors,
)
from vlesson.engine import child_process_engine_args, starting_engine
from vlesson.generate import Generation, from_request_output, run_logger
from vlesson.sampling import ParamError, make_sampling_params
from vlesson.serving.api_docs import add_offline_docs
from vlesson.serving.api_models import (
    API_PARAMS,
    GenerateResponse,
    Health,
    Limits,
    ModelCard,
    api_params,
    explain_all,
    request_model,
)
from vlesson.serving.http_limits import HttpLimits
from vlesson.serving.server import Server, free_port, start_server

logger = logging.getLogger(__name__)

__all__ = [
    "API_KEY_ENV",
    "API_PARAMS",
    "Limits",
    "Server",
    "api_params",
    "create_app",
    "free_port",
    "request_model",
    "start_server",
]

API_KEY_ENV = envvars.API_KEY
"""The environment variable ``vlesson serve`` reads its API key from (unset: no key)."""
UNHEALTHY = "the engine is not healthy - see the server log"
STREAM_FAILED = "generation failed - see the server log"
"""What a client is told; the exception itself goes to the server log only."""


class _Served:
    """The loaded engine, its facts (read once), and the ``LLM`` surface that
    ``make_sampling_params`` and the run log use."""

    def __init__(self, engine: Any, name: str, limits: Limits):
        self.engine = engine
        self.facts = facts.remember(
            engine, facts.from_vllm_config(engine.vllm_config, name=name)
        )
        self.name = name
        self.limits = limits
        diff = engine.model_config.get_diff_sampling_param()
        self._diff = diff

    def get_default_sampling_params(self) -> Any:
        """Return the model's default SamplingParams, as ``LLM`` does."""
        from vllm import SamplingParams

        return (
            SamplingParams.from_optional(**self._diff)
            if self._diff
            else (SamplingParams())
        )

    def sampling_params(self, body: BaseModel) -> Any:
        """Start from the model's defaults, override the given values, cap max_tokens."""
        given = body.model_dump(include={*API_PARAMS, "stop"}, exclude_none=True)
        given.setdefault("logprobs", 0)  # the chosen token's logprob: mean_logprob
        params = make_sampling_params(self, given)
        if params.seed is not None and self.facts.seeds_break_on_split_prompts:
            # requests share engine steps, so any seeded prompt may be split
            raise ParamError(
                "seed: this server runs chunked prefill on a CPU, where vLLM cannot "
                "split a seeded request's prompt over steps - send the request without "
                "a seed, or restart the server without --max-num-batched-tokens and "
                "--enable-chunked-prefill (vlesson's CPU default)",
                param="seed",
            )
        if params.max_tokens is None or params.max_tokens > self.limits.max_tokens:
            params.max_tokens = self.limits.max_tokens
        return params

    async def render(self, prompts: list[str]) -> list[Any]:
        """Tokenize the prompts; a prompt too long for the model is a 422."""
        rendered = []
        for i, prompt in enumerate(prompts):
            loc = ["body", "prompt"] + ([i] if len(prompts) > 1 else [])
            try:
                tokens = await render_prompt(self.engine, prompt)
            except ValueError as exc:
                raise unprocessable(
                    loc,
                    f"prompt too long for the model: {exc} - "
                    "shorten it or lower max_tokens",
                ) from None
            if isinstance(tokens, Mapping) and not tokens.get("prompt_token_ids", [0]):
                raise unprocessable(
                    loc,
                    f"prompt {prompt!r} has no tokens: the tokenizer drops every "
                    "character of it (control characters?) - send some text",
                )
            rendered.append(tokens)
        return rendered

    async def stream(
        self, rendered: Any, params: Any, start: float
    ) -> AsyncIterator[tuple[Any, float]]:
        """Yield (RequestOutput so far, seconds since start) as tokens arrive."""
        request_id = uuid.uuid4().hex
        async for output in self.engine.generate(rendered, params, request_id):
            yield output, time.perf_counter() - start

    async def complete(
        self, prompt: str, rendered: Any, params: Any, start: float
    ) -> dict[str, Any]:
        """Generate one prompt's completion and emit it on the run log."""
        first, last = None, None
        async for last, seconds in self.stream(rendered, params, start):
            first = seconds if first is None else first
        return self.finish(prompt, last, params, start, first)

    def finish(
        self, prompt: str, output: Any, params: Any, start: float, first: float | None
    ) -> dict[str, Any]:
        """Turn the final RequestOutput into a Generation, log it, return its dict."""
        gen: Generation = from_request_output(
            output, params, time.perf_counter() - start
        )
        gen = dataclasses.replace(gen, prompt=prompt)
        run_logger.info(
            "generation",
            extra={"generation": gen, "llm": self, "source": "api"},
        )
        return {**gen.as_dict(), "first_token_seconds": _round(first)}


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 4)


def _check_key(api_key: str | None):
    bearer = HTTPBearer(
        auto_error=False,
        description=f"When the server has an API "
        f"key (${API_KEY_ENV}): the header Authorization: Bearer KEY.",
    )

    async def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        if api_key is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not secrets.compare_digest(given.encode(), api_key.encode()):
            raise HTTPException(
                401, KEY_REFUSED, headers={"WWW-Authenticate": "Bearer"}
            )

    return check


KEY_REFUSED = (
    "missing or wrong API key - send the header 'Authorization: Bearer "
    f"KEY' with the key the server was given in ${API_KEY_ENV}"
)


def _build_engine(engine_args: dict[str, Any]) -> Any:
    from vllm.engine.arg_utils import AsyncEngineArgs

    with starting_engine(engine_args, "vLLM's asynchronous engine") as resolved:
        return async_engine_class().from_engine_args(AsyncEngineArgs(**resolved))


def create_app(
    model: str | None = None,
    *,
    api_key: str | None = None,
    limits: Limits | None = None,
    **engine_kwargs: Any,
) -> FastAPI:
    """Return the FastAPI app; the engine starts when the app starts (lifespan).

    Args:
        model: a short offline name (default ``smollm2-135m-instruct``) or a folder.
        api_key: when set, every route but /health needs ``Authorization: Bearer KEY``.
        limits: what one request may ask for (default ``Limits()``).
        **engine_kwargs: any ``vllm.EngineArgs`` field; vlesson's CPU defaults fill
            in the rest, as for ``get_llm`` (eager on a CPU unless asked: vLLM runs
            this engine's core in a process of its own).
    """
    limits = limits or Limits()
    name = model or models.DEFAULT_MODEL

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = _build_engine(child_process_engine_args(name, **engine_kwargs))
        app.state.served = _Served(engine, name, limits)
        try:
            yield
        finally:
            app.state.served = None
            engine.shutdown()

    app = FastAPI(
        title="vlesson web API",
        version="0.1.0",
        lifespan=lifespan,
        description=f"Generate text with vLLM's asynchronous engine on {name}. "
        f"Limits per request: {limits.max_prompts} prompts of at most "
        f"{limits.max_prompt_chars} characters, max_tokens <= {limits.max_tokens}, "
        f"at most {limits.max_body_bytes} bytes per request body (413 above). "
        f"At most {limits.max_concurrent} requests at once (503 with Retry-After "
        "above; /health is never held back). A client that disconnects before a "
        "non-streaming answer aborts its generation. Set these with `vlesson serve "
        "--limit-...`.",
    )
    app.state.served = None
    add_offline_docs(app)
    auth = _check_key(api_key)
    _add_routes(app, request_model(limits), auth, limits)
    # The key again in front of the limits: a keyless client takes no slot and
    # sends no body (the routes' own check stays, for the OpenAPI page).
    guarded = frozenset(
        route.path for route in app.routes
        if any(d.dependency is auth for d in getattr(route, "dependencies", ()))
    )
    app.add_middleware(
        HttpLimits,
        max_body_bytes=limits.max_body_bytes,
        max_concurrent=limits.max_concurrent,
        body_seconds=limits.body_seconds,
        api_key=api_key,
        guarded=guarded,
        key_refused=KEY_REFUSED,
    )
    app.add_exception_handler(RequestValidationError, _validation_error(limits))
    app.add_exception_handler(ParamError, _param_error)
    return app


def _served(request: Request) -> _Served:
    served = request.app.state.served
    if served is None:
        raise HTTPException(503, "the engine is not loaded (starting or stopped)")
    return served


def _add_routes(
    app: FastAPI, body_model: type[BaseModel], auth: Any, limits: Limits
) -> None:
    protected = [Depends(auth)]
    denied = {401: {"description": "Missing or wrong API key."}}
    event = {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"enum": ["token", "done", "error"]},
            "data": {
                "type": "string",
                "description": "JSON: {text, num_tokens} for "
                "'token', a Completion for 'done', {detail} for 'error'.",
            },
        },
    }
    streamed = {
        "text/event-stream": {
            "schema": event,
            "description": "With stream: "
            "true, events 'token' as text arrives, then 'done' or 'error'.",
        }
    }

    unhealthy = {503: {"description": "The engine is not loaded, or it failed."}}

    @app.get("/health", response_model=Health, responses=unhealthy)
    async def health(request: Request) -> Health:
        """Say whether the engine is up (no API key needed)."""
        served = _served(request)
        try:
            await served.engine.check_health()
        except Exception:  # any engine failure means "not healthy"
            logger.exception("health check: the engine failed")
            raise HTTPException(503, UNHEALTHY) from None
        return Health(status="ok", model=served.name)

    @app.get(
        "/models",
        response_model=list[ModelCard],
        dependencies=protected,
        responses=denied,
    )
    async def list_models(request: Request) -> list[ModelCard]:
        """List the served model and the request limits."""
        served = _served(request)
        return [
            ModelCard(
                id=served.name,
                max_model_len=served.facts.max_model_len,
                dtype=served.facts.dtype,
                limits=dataclasses.asdict(limits),
            )
        ]

    @app.post(
        "/generate",
        response_model=GenerateResponse,
        dependencies=protected,
        responses={
            **denied,
            200: {"content": streamed},
            400: {"description": "The body cannot be parsed (not UTF-8)."},
        },
    )
    async def generate(body: body_model, request: Request) -> Any:  # type: ignore
        """Complete one prompt or a list of prompts (batched by vLLM)."""
        start = time.perf_counter()
        prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
        if body.stream and len(prompts) > 1:
            raise unprocessable(
                ["body", "stream"],
                f"stream needs a single prompt, "
                f"got {len(prompts)} - send one prompt, or stream: false",
            )
        served = _served(request)
        params = served.sampling_params(body)
        rendered = await served.render(prompts)
        if body.stream:
            return StreamingResponse(
                _events(served, prompts[0], rendered[0], params, start),
                media_type="text/event-stream",
            )
        outputs = await _complete_all(served, prompts, rendered, params, start, request)
        if outputs is None:  # the client left: nobody to answer
            return Response(status_code=499)
        return GenerateResponse(
            model=served.name,
            outputs=outputs,
            num_tokens=sum(o["num_tokens"] for o in outputs),
            seconds=round(time.perf_counter() - start, 4),
        )


async def _complete_all(
    served: _Served,
    prompts: list[str],
    rendered: list[Any],
    params: Any,
    start: float,
    request: Request,
) -> list[dict[str, Any]] | None:
    """Generate every prompt together; None if the client disconnects first. On a
    disconnect or a failure the other generations are cancelled, and vLLM's engine
    aborts a cancelled request."""
    tasks = [
        asyncio.ensure_future(served.complete(p, r, params, start))
        for p, r in zip(prompts, rendered)
    ]
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        pending: set[asyncio.Future] = {*tasks, gone}
        while not gone.done() and not all(t.done() for t in tasks):
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if any(t.done() and t.exception() is not None for t in tasks):
                break
    finally:
        for future in (*tasks, gone):
            future.cancel()
        await asyncio.gather(*tasks, gone, return_exceptions=True)
    failures = [
        t.exception() for t in tasks if not t.cancelled() and t.exception() is not None
    ]
    refused = next(
        (e for e in failures if isinstance(e, request_validation_errors())), None
    )
    if refused is not None:  # vLLM's own checks of a request, whatever else failed
        raise unprocessable(
            ["body"],
            f"vLLM refused the request: {refused} - change the prompt or the "
            "parameter it names",
        )
    if failures:
        raise failures[0]
    if not all(t.done() and not t.cancelled() for t in tasks):
        logger.warning("client disconnected: %d generation(s) aborted", len(prompts))
        return None
    return [t.result() for t in tasks]


async def _disconnected(request: Request) -> None:
    """Return once the client has gone (the body is read: the next message says so)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _events(
    served: _Served, prompt: str, rendered: Any, params: Any, start: float
) -> AsyncIterator[str]:
    """Yield server-sent events: each new piece of text, then the whole completion."""
    import json

    sent, first, last = 0, None, None
    try:
        async for last, seconds in served.stream(rendered, params, start):
            first = seconds if first is None else first
            text = last.outputs[0].text
            piece = {"text": text[sent:], "num_tokens": len(last.outputs[0].token_ids)}
            sent = len(text)
            yield f"event: token\ndata: {json.dumps(piece)}\n\n"
        done = served.finish(prompt, last, params, start, first)
        yield f"event: done\ndata: {json.dumps(done)}\n\n"
    except Exception:  # the status line is gone; say it in the stream, details logged
        logger.exception("streaming generation failed")
        yield f"event: error\ndata: {json.dumps({'detail': STREAM_FAILED})}\n\n"


def _validation_error(limits: Limits):
    async def handler(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": explain_all(exc.errors(), limits)}, 422)

    return handler


async def _param_error(request: Request, exc: ParamError) -> JSONResponse:
    detail = [
        {
            "loc": ["body", exc.param],
            "msg": str(exc),
            "type": "value_error",
            "field": exc.param,
        }
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def unprocessable(loc: list[Any], msg: str) -> HTTPException:
    """Return a 422 shaped like pydantic's, for rules checked in the handler."""
    field = str(loc[1]) if len(loc) > 1 else "body"
    detail = [{"loc": loc, "msg": msg, "type": "value_error", "field": field}]
    return HTTPException(422, detail=detail)
