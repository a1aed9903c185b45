"""Classroom mode: a shared vLLM server standing in for a local ``LLM``.

``RemoteLLM`` offers the part of ``vllm.LLM`` that vlesson uses (``generate``,
``get_default_sampling_params``, ``get_tokenizer``, the model config) over vLLM's
OpenAI-compatible API, and returns vLLM's own ``RequestOutput`` objects, so
``vl.generate``, the sliders, batch, sweep and smart work unchanged. The choice between
local and remote is made in one place: ``vlesson.engine.get_llm(server=...)``.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from vlesson import envvars
from vlesson.completions import (
    Job,
    ids_to_name,
    plan_requests,
    request_fields,
    to_request_outputs,
    unsupported_fields,
)
from vlesson.facts import EngineFacts

if TYPE_CHECKING:
    from vllm import RequestOutput, SamplingParams

logger = logging.getLogger(__name__)

SERVER_ENV = envvars.SERVER
API_KEY_ENV = envvars.SERVER_API_KEY
TIMEOUT_ENV = envvars.TIMEOUT
DEFAULT_TIMEOUT = 120.0
"""Seconds one call may take, its retries included; a whole class on one CPU server
can queue a while."""
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "vlesson_remote_deadline", default=None
)
MAX_CONCURRENCY = 8
"""Requests one workload keeps in flight; the server batches them with everyone's."""


class RemoteError(RuntimeError):
    """The server cannot be used: unreachable, wrong URL or key, model, timeout."""


class RemoteUnsupportedError(RemoteError):
    """This step needs a local engine (engine arguments, memory, another model)."""


def local_only(what: str, server: str | None = None) -> str:
    """Return the sentence that says why ``what`` cannot run on the shared server."""
    where = server or os.environ.get(SERVER_ENV) or "a shared vLLM server"
    return (
        f"{what} needs a local engine: vlesson is using {where}, whose engine the "
        f"instructor configures - unset {SERVER_ENV} (or leave out server=/--server) "
        f"to run this on your own machine"
    )


class RemoteLLM:
    """vLLM's ``LLM`` surface, served by a vLLM OpenAI-compatible server.

    Args:
        server: the API's base address, e.g. ``http://host:8000/v1``.
        model: the served model to use; None takes the server's (first) model.
        api_key: the server's key; default ``$VLESSON_SERVER_API_KEY``.
        timeout: seconds one call may take in all, retries included; default
            ``$VLESSON_TIMEOUT`` or 120.
        attempts: tries per call; the openai client retries connection errors,
            timeouts, 408/409/429 and 5xx with exponential back-off and jitter, and
            honours the server's Retry-After.
    """

    def __init__(
        self,
        server: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        attempts: int = 3,
        max_concurrency: int = MAX_CONCURRENCY,
    ):
        import openai

        # The address with any user:password@ in it reaches only the client; what is
        # shown (errors, repr) and keyed (the cache) is the address without it.
        self._base_url = _check_url(server)
        self.server = without_userinfo(self._base_url)
        self.api_key = api_key or os.environ.get(API_KEY_ENV) or None
        self.timeout = float(timeout or os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
        self.attempts = attempts
        self.max_concurrency = max_concurrency
        self.client = openai.OpenAI(
            base_url=self._base_url,
            api_key=self.api_key or "EMPTY",
            timeout=openai.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            # The client's own retry: back-off with jitter, so a class's retries do
            # not land together on a busy server; Retry-After honoured.
            max_retries=max(attempts - 1, 0),
            http_client=openai.DefaultHttpxClient(
                transport=_DeadlineTransport(openai.DefaultHttpxClient.__mro__[1])
            ),
        )
        start = time.perf_counter()
        card = pick_model(self._list_models(), model, self.server)
        self.connect_seconds = time.perf_counter() - start
        self.model_name: str = card["id"]
        root = card.get("root") or card["id"]
        # What the API says; dtype, KV cache and the rest the instructor chose.
        self.facts = EngineFacts(
            model=self.model_name,
            model_path=root,
            tokenizer=root,
            max_model_len=card.get("max_model_len"),
            device="remote",
            server_url=self.server,
            vllm_version=self._server_version(),
            load_seconds=self.connect_seconds,
        )
        self._tokenizer = RemoteTokenizer(self)

    def __repr__(self) -> str:
        return f"RemoteLLM({self.server!r}, model={self.model_name!r})"

    def get_default_sampling_params(self) -> SamplingParams:
        """Return vLLM's defaults, which the server applies to what a request omits."""
        from vllm import SamplingParams

        return SamplingParams()

    def get_tokenizer(self) -> RemoteTokenizer:
        """Return a tokenizer that asks the server (``/tokenize``, ``/detokenize``)."""
        return self._tokenizer

    def generate(
        self,
        prompts: str | Sequence[str],
        sampling_params: SamplingParams | Sequence[SamplingParams] | None = None,
        *,
        use_tqdm: bool | Callable[..., Any] = True,
        **kwargs: Any,
    ) -> list[RequestOutput]:
        """Generate like ``LLM.generate``: prompts sharing settings go in one request."""
        unsupported = [k for k, v in kwargs.items() if v is not None]
        if unsupported:
            raise RemoteUnsupportedError(
                local_only(f"generate({unsupported[0]}=...)", self.server)
            )
        prompts = [prompts] if isinstance(prompts, (str, Mapping)) else list(prompts)
        texts = [_prompt_text(p) for p in prompts]
        params = _per_prompt(sampling_params, len(texts), self)
        jobs = plan_requests(texts, [request_fields(p) for p in params])
        responses = self._run(jobs, _progress(use_tqdm, len(texts)))
        names = self._tokenizer.names(ids_to_name(jobs, responses))
        outputs: list[Any] = [None] * len(texts)
        for job, response in zip(jobs, responses):
            found = to_request_outputs(response, job, names)
            for index, output in zip(job.indices, found):
                outputs[index] = output
        return outputs

    def _run(self, jobs: list[Job], bar: Any) -> list[dict[str, Any]]:
        def one(job: Job) -> dict[str, Any]:
            response = self._complete(job)
            bar.update(len(job.indices))
            return response

        try:
            if len(jobs) == 1:
                return [one(jobs[0])]
            with ThreadPoolExecutor(min(self.max_concurrency, len(jobs))) as pool:
                return list(pool.map(one, jobs))
        finally:
            bar.close()

    def _complete(self, job: Job) -> dict[str, Any]:
        standard, extra = job.split_fields()
        prompts = list(job.prompts)
        response = self.call(
            lambda: self.client.completions.create(
                model=self.model_name, prompt=prompts, extra_body=extra, **standard
            ),
            what=f"generating {len(prompts)} prompt(s)",
        ).model_dump()
        for choice in response["choices"]:
            if choice.get("token_ids") is None:  # a server without return_token_ids
                choice["token_ids"] = self._tokenizer.encode(
                    choice["text"], add_special_tokens=False
                )
        return response

    def post(self, path: str, body: Mapping[str, Any], *, what: str) -> Any:
        """POST JSON to one of vLLM's own endpoints beside ``/v1`` (``/tokenize``)."""
        root = self._base_url.removesuffix("/v1")
        return self.call(
            lambda: self.client.post(root + path, cast_to=object, body=dict(body)),
            what=what,
        )

    def _list_models(self) -> list[dict[str, Any]]:
        page = self.call(lambda: self.client.models.list(), what="listing models")
        return [card.model_dump() for card in page.data]

    def _server_version(self) -> str | None:
        """The server's vLLM version (``/version``), for the cache key; None if it
        does not say."""
        try:
            answer = self.get("/version", what="asking the server's version")
        except RemoteError:
            return None
        return answer.get("version") if isinstance(answer, Mapping) else None

    def get(self, path: str, *, what: str) -> Any:
        """GET one of vLLM's own endpoints beside ``/v1`` (``/version``)."""
        root = self._base_url.removesuffix("/v1")
        return self.call(
            lambda: self.client.get(root + path, cast_to=object), what=what
        )

    def call(self, fn: Callable[[], Any], *, what: str) -> Any:
        """Call the server, retried by the openai client within ``timeout`` seconds in
        all; turn failures into a clear RemoteError."""
        import openai

        token = _DEADLINE.set(time.monotonic() + self.timeout)
        try:
            return fn()
        except openai.APIConnectionError as exc:
            # openai 2.x (vLLM 0.24's) wraps the transport's APITimeoutError in an
            # APIConnectionError; 3.x raises it as it is (a subclass of the same).
            if isinstance(exc, openai.APITimeoutError) or isinstance(
                exc.__cause__, openai.APITimeoutError
            ):
                raise RemoteError(
                    f"{what}: the server at {self.server} did not answer within "
                    f"{self.timeout:g} s (at most {self.attempts} tries) - it may be "
                    f"busy; ask for fewer prompts or tokens, or raise {TIMEOUT_ENV}"
                ) from None
            cause = exc.__cause__ or exc
            raise RemoteError(
                f"cannot reach the vLLM server at {self.server} ({cause}; "
                f"{self.attempts} tries) - check the address and port in {SERVER_ENV}, "
                f"and that the server is running (make classroom-server)"
            ) from None
        except openai.AuthenticationError:
            raise RemoteError(self._key_problem()) from None
        except openai.NotFoundError as exc:
            raise RemoteError(
                f"{what}: {self.server} answered 404 Not Found ({_message(exc)}) - is "
                f"this the server's API address? It usually ends in /v1, e.g. "
                f"http://host:8000/v1"
            ) from None
        except openai.APIStatusError as exc:
            raise RemoteError(
                f"{what}: the server at {self.server} refused the request (HTTP "
                f"{exc.status_code}): {_message(exc)}"
            ) from None
        finally:
            _DEADLINE.reset(token)

    def _key_problem(self) -> str:
        if self.api_key is None:
            return (
                f"the server at {self.server} wants an API key and none was given - set "
                f"{API_KEY_ENV} (or api_key=) to the key your instructor gave"
            )
        return (
            f"the server at {self.server} refused the API key {_masked(self.api_key)} - "
            f"check {API_KEY_ENV} (or api_key=) against the instructor's key"
        )

    def close(self) -> None:
        """Close the HTTP connections (the server keeps running)."""
        self.client.close()


class _DeadlineTransport:
    """httpx transport that gives each try only the time left of its call's budget
    (``RemoteLLM.call`` sets it), so the client's retries cannot stretch one call to
    attempts x timeout; with the budget spent it raises the openai client's own
    timeout error, which the client does not retry."""

    def __init__(self, client_class: type) -> None:
        # The transport of the HTTP library the openai client is built on (httpx, or
        # httpx2 in recent releases): its requests carry that library's types.
        http = sys.modules[client_class.__module__.split(".")[0]]
        self._inner = http.HTTPTransport()

    def handle_request(self, request: Any) -> Any:
        end = _DEADLINE.get()
        if end is not None:
            left = end - time.monotonic()
            if left <= 0:
                import openai

                raise openai.APITimeoutError(request=request)
            timeout = dict(request.extensions.get("timeout") or {})
            for name in ("connect", "read", "write", "pool"):
                given = timeout.get(name)
                timeout[name] = left if given is None else min(given, left)
            request.extensions["timeout"] = timeout
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class RemoteTokenizer:
    """The two tokenizer calls vlesson makes, answered by the server."""

    def __init__(self, llm: RemoteLLM):
        self._llm = llm
        self._names: dict[int, str] = {}
        self._lock = threading.Lock()

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Return the token ids of ``text`` as the served model sees them."""
        body = {
            "model": self._llm.model_name,
            "prompt": text,
            "add_special_tokens": add_special_tokens,
        }
        return list(self._llm.post("/tokenize", body, what="tokenizing")["tokens"])

    def decode(self, token_ids: Sequence[int]) -> str:
        """Return the text of ``token_ids``."""
        body = {"model": self._llm.model_name, "tokens": list(token_ids)}
        return self._llm.post("/detokenize", body, what="detokenizing")["prompt"]

    def names(self, token_ids: set[int]) -> dict[int, str]:
        """Return each token's own text (as ``Logprob.decoded_token``), cached."""
        with self._lock:
            todo = sorted(token_ids - self._names.keys())
        if todo:
            workers = min(self._llm.max_concurrency, len(todo))
            with ThreadPoolExecutor(workers) as pool:
                found = dict(zip(todo, pool.map(lambda t: self.decode([t]), todo)))
            with self._lock:
                self._names.update(found)
        return {t: self._names[t] for t in token_ids}


def pick_model(
    cards: Sequence[Mapping[str, Any]], requested: str | None, server: str
) -> Mapping[str, Any]:
    """Return the served model card for ``requested`` (None: the server's own)."""
    if not cards:
        raise RemoteError(f"the server at {server} serves no model")
    if requested is None:
        bases = [c for c in cards if not c.get("parent")]  # not a LoRA adapter
        return (bases or list(cards))[0]
    for card in cards:
        root = card.get("root") or ""
        if requested in (card["id"], root) or PurePath(root).name == requested:
            return card
    served = ", ".join(repr(c["id"]) for c in cards)
    raise RemoteUnsupportedError(
        f"the server at {server} does not serve model {requested!r}; it serves "
        f"{served} - leave the model out (vl.get_llm()) to use it, or unset "
        f"{SERVER_ENV} to load {requested!r} on this machine"
    )


def _check_url(server: str) -> str:
    server = server.strip().rstrip("/")
    if not server.startswith(("http://", "https://")):
        raise RemoteError(
            f"server address {without_userinfo(server)!r} must start with http:// or "
            f"https:// - e.g. http://host:8000/v1"
        )
    return server


def without_userinfo(url: str) -> str:
    """Return ``url`` without the ``user:password@`` part of its address, if any."""
    return _USERINFO.sub(r"\1", url)


_USERINFO = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?[^/?#@\s]*@")


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Mapping) and isinstance(prompt.get("prompt"), str):
        return prompt["prompt"]
    raise RemoteUnsupportedError(local_only("a prompt that is not text"))


def _per_prompt(params: Any, count: int, llm: RemoteLLM) -> list[Any]:
    if params is None:
        params = llm.get_default_sampling_params()
    if isinstance(params, Sequence):
        if len(params) != count:
            raise ValueError(f"got {len(params)} SamplingParams for {count} prompts")
        params = list(params)
    else:
        params = [params] * count
    for one in params:
        unsupported = unsupported_fields(one)
        if unsupported:
            raise RemoteUnsupportedError(
                local_only(f"SamplingParams.{unsupported[0]}", llm.server)
            )
    return params


def _progress(use_tqdm: bool | Callable[..., Any], total: int) -> Any:
    from tqdm import tqdm

    factory = use_tqdm if callable(use_tqdm) else tqdm
    return factory(
        total=total,
        desc="Generating on the server",
        unit="prompt",
        disable=use_tqdm is False,
    )


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            return str(inner.get("message") or inner)
        return str(body.get("message") or body.get("detail") or inner)
    return str(getattr(exc, "message", exc))


def _masked(key: str) -> str:
    return f"'{key[:2]}...'" if len(key) > 4 else "'...'"
