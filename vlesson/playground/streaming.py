"""Stream generations on the kernel's one warm engine, token by token, cancellable.

One ``Streamer`` per engine drives ``llm.llm_engine`` (``add_request`` with
``output_kind=DELTA``, ``step``, ``abort_request``) for every panel of that engine, and
hands each request's new tokens to its ``Stream``. Two ways to run:

- in the background, from a coroutine on the running asyncio loop (the kernel's, when a
  slider moved in the browser): one engine step, then a short sleep so the kernel reads
  the next message - the next slider value - before the following step;
- inline, when code sets a value (a notebook cell, a test): the call returns when the
  request is finished, as ``LLM.generate`` does.

``LLM.generate`` steps every request in the engine and would collect a panel's request
too, so before a notebook cell runs, the background requests leave the engine (aborted)
and start again after it (see ``Streamer.pause``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vlesson import engine
from vlesson.generate import Generation, candidates_from_step
from vlesson.sampling import describe

if TYPE_CHECKING:
    from vllm import LLM, RequestOutput, SamplingParams

logger = logging.getLogger(__name__)

UPDATE_INTERVAL_S = 1 / 30
"""At most about 30 widget updates a second (the first token and the end always)."""
YIELD_S = 0.001
"""Pause between two background steps: long enough for the kernel to read a message
(``sleep(0)`` alone needs several steps), short next to a step (about 25 ms)."""

_ids = itertools.count()
_streamers: weakref.WeakKeyDictionary[Any, Streamer] = weakref.WeakKeyDictionary()


@dataclass(eq=False)
class Stream:
    """One streamed request: its tokens so far, their log-probs, its state."""

    request_id: str
    prompt: str
    params: SamplingParams
    on_update: Callable[[Stream], None] | None = field(default=None, repr=False)
    background: bool = False
    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    steps: list[dict[int, Any]] = field(default_factory=list, repr=False)
    """vLLM's log-probs of each generated token: {token_id: Logprob}, raw."""
    prompt_token_ids: list[int] = field(default_factory=list, repr=False)
    finish_reason: str | None = None
    state: str = "running"
    """running, finished, aborted (a newer value replaced it) or paused (a cell ran)."""
    started: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    finished_at: float | None = None
    updates: int = 0
    """How many times ``on_update`` was called (throttled)."""
    _last_update: float = field(default=0.0, repr=False)

    @property
    def done(self) -> bool:
        """True once the request left the engine (finished, aborted or paused)."""
        return self.state != "running"

    @property
    def seconds(self) -> float:
        """Seconds from the request to its end (or to now, while it runs)."""
        return (self.finished_at or time.perf_counter()) - self.started

    def feed(self, output: RequestOutput) -> None:
        """Append one DELTA output of vLLM (new tokens, text and log-probs)."""
        completion = output.outputs[0]
        if completion.token_ids and self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self.token_ids.extend(completion.token_ids)
        self.text += completion.text
        self.steps.extend(completion.logprobs or ())
        if output.prompt_token_ids and not self.prompt_token_ids:
            self.prompt_token_ids = list(output.prompt_token_ids)
        if output.finished:
            self.finish_reason = completion.finish_reason
            self._end("finished")
        else:
            self.notify()

    def notify(self, force: bool = False) -> None:
        """Call ``on_update`` now if forced, on the first token, or 1/30 s after the
        last call."""
        now = time.perf_counter()
        first = self.updates == 0 and self.token_ids
        if self.on_update is None:
            return
        if force or first or now - self._last_update >= UPDATE_INTERVAL_S:
            self._last_update = now
            self.updates += 1
            self.on_update(self)

    def _end(self, state: str) -> None:
        self.state = state
        self.finished_at = time.perf_counter()
        self.notify(force=True)


class Streamer:
    """The one driver of an engine's streamed requests (see the module docstring)."""

    def __init__(self, llm: LLM):
        self.engine = llm.llm_engine
        self._llm = weakref.ref(llm)  # the streamer must not keep its engine alive
        self.streams: dict[str, Stream] = {}
        self.paused: list[Stream] = []
        self.on_resume: dict[Stream, Callable[[], None]] = {}
        self._task: asyncio.Task | None = None
        self.step_seconds = 0.0
        """Time spent inside ``engine.step()`` (the rest of a run is vlesson's)."""
        self.steps = 0
        self.ended: Counter[str] = Counter()
        """How many streams ended in each state (finished, aborted, paused...)."""
        self.yield_seconds = 0.0
        """Time the background driver slept between steps, so the kernel reads
        messages."""
        self._watch_cells()

    def start(
        self,
        prompt: str,
        params: SamplingParams,
        on_update: Callable[[Stream], None] | None = None,
        *,
        background: bool | None = None,
        on_start: Callable[[Stream], None] | None = None,
        run: bool = True,
    ) -> Stream:
        """Add one request to the engine and stream it (in the background if asked,
        or by default when a loop runs and no cell is running).

        ``on_start`` gets the stream once it is in the engine, before any update;
        ``run=False`` leaves an inline stream in the engine for ``run_until_done``
        (several requests in the same steps).
        """
        from vllm.sampling_params import RequestOutputKind

        if background is None:
            background = can_run_in_background()
        params = params.clone()
        params.output_kind = RequestOutputKind.DELTA
        stream = Stream(
            f"vlesson-stream-{next(_ids)}", prompt, params, on_update, background
        )
        self.engine.add_request(stream.request_id, self._render(prompt), params)
        self.streams[stream.request_id] = stream
        if on_start is not None:
            on_start(stream)
        if background:
            self._ensure_task()
        elif run:
            self.run_until_done(stream)
        return stream

    def _render(self, prompt: str) -> Any:
        """Tokenize the prompt as ``LLM.generate`` does (vLLM warns that a raw prompt
        given to the engine is deprecated); the raw prompt where that is not offered."""
        render = getattr(self._llm(), "_preprocess_cmpl_one", None)
        return prompt if render is None else render(prompt)

    def abort(self, stream: Stream, state: str = "aborted") -> None:
        """Take a running request out of the engine (vLLM frees its KV cache)."""
        if self.streams.pop(stream.request_id, None) is None:
            return
        self.engine.abort_request([stream.request_id])
        self.ended[state] += 1
        stream._end(state)

    def step(self) -> None:
        """Run one engine step and hand each output to its stream."""
        start = time.perf_counter()
        outputs = self.engine.step()
        self.step_seconds += time.perf_counter() - start
        self.steps += 1
        for output in outputs:
            stream = self.streams.get(output.request_id)
            if stream is None:  # not ours (a caller of add_request elsewhere)
                continue
            if output.finished:
                del self.streams[output.request_id]
                self.ended["finished"] += 1
            stream.feed(output)

    def run_until_done(self, *streams: Stream) -> None:
        """Step the engine until every one of ``streams`` has ended (inline)."""
        try:
            while not all(stream.done for stream in streams):
                self.step()
        except BaseException:  # leave no request of ours behind in the engine
            for stream in streams:
                self.abort(stream, "failed")
            raise

    async def _drive(self) -> None:
        try:
            while any(s.background for s in self.streams.values()):
                self.step()
                start = time.perf_counter()
                await asyncio.sleep(YIELD_S)
                self.yield_seconds += time.perf_counter() - start
        except Exception:  # nobody awaits this task: say it, end the streams
            logger.exception("streaming: the engine step failed")
            for stream in list(self.streams.values()):
                self.abort(stream, "failed")
        finally:
            self._task = None

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drive())

    async def wait(self) -> None:
        """Wait until no background request is left (for tests and benchmarks)."""
        while self._task is not None and not self._task.done():
            await asyncio.sleep(YIELD_S)

    # -- cells: LLM.generate must not see our requests --------------------------------

    def pause(self, *args: Any) -> None:
        """Take the background requests out of the engine before a cell runs."""
        for stream in list(self.streams.values()):
            if stream.background:
                self.abort(stream, "paused")
                self.paused.append(stream)

    def resume(self, *args: Any) -> None:
        """After the cell, let each paused stream's owner start it again."""
        paused, self.paused = self.paused, []
        for stream in paused:
            callback = self.on_resume.pop(stream, None)
            if callback is not None:
                callback()

    def _watch_cells(self) -> None:
        shell = _ipython()
        if shell is not None:
            shell.events.register("pre_run_cell", self.pause)
            shell.events.register("post_run_cell", self.resume)


def run_whole(
    llm: Any,
    prompt: str,
    params: SamplingParams,
    on_update: Callable[[Stream], None] | None = None,
    on_start: Callable[[Stream], None] | None = None,
) -> Stream:
    """Run one request on an engine vlesson cannot step (a classroom server's
    ``RemoteLLM``) and hand its whole output to a Stream as one update."""
    stream = Stream(f"vlesson-whole-{next(_ids)}", prompt, params, on_update)
    if on_start is not None:
        on_start(stream)
    [output] = llm.generate([prompt], [params], use_tqdm=False)
    stream.feed(output)  # a finished output: every token at once
    return stream


def token_texts(stream: Stream) -> list[str]:
    """Return each generated token's text (vLLM's ``decoded_token``)."""
    texts = []
    for token_id, step in zip(stream.token_ids, stream.steps):
        info = step.get(token_id)
        decoded = getattr(info, "decoded_token", None)
        texts.append(decoded if decoded is not None else f"<{token_id}>")
    return texts


def chosen_probs(stream: Stream) -> list[float | None]:
    """Return the raw probability of each generated token (None if not returned)."""
    probs: list[float | None] = []
    for token_id, step in zip(stream.token_ids, stream.steps):
        info = step.get(token_id)
        probs.append(None if info is None else math.exp(info.logprob))
    return probs


def to_generation(stream: Stream) -> Generation:
    """Return a finished stream as the ``Generation`` that ``vl.generate`` gives."""
    first = stream.steps[0] if stream.steps else {}
    return Generation(
        prompt=stream.prompt,
        text=stream.text,
        token_ids=tuple(stream.token_ids),
        finish_reason=stream.finish_reason,
        prompt_tokens=len(stream.prompt_token_ids),
        params=describe(stream.params),
        seconds=stream.seconds,
        logprobs=tuple(
            step[t].logprob
            for t, step in zip(stream.token_ids, stream.steps)
            if t in step
        ),
        next_token_logprobs=candidates_from_step(first) if len(first) >= 2 else {},
    )


def streamer(llm: LLM) -> Streamer:
    """Return the one Streamer of this engine."""
    engine.check_running(llm)
    if llm not in _streamers:
        _streamers[llm] = Streamer(llm)
    return _streamers[llm]


def can_stream(llm: Any) -> bool:
    """True for an engine vlesson can step itself (a local ``LLM``)."""
    return hasattr(llm, "llm_engine")


def can_run_in_background() -> bool:
    """True when a change came from the browser: an asyncio loop runs in this thread
    and the kernel is not executing a cell (whose code expects the result)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return not _in_cell()


def _ipython() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _in_cell() -> bool:
    kernel = getattr(_ipython(), "kernel", None)
    if kernel is None:
        return False
    parent = kernel.get_parent("shell") or {}
    return parent.get("header", {}).get("msg_type") == "execute_request"
