"""Stream a classroom server's completions into the playground, cancellable.

The same surface as ``streaming.Streamer`` for a ``RemoteLLM``: the request goes with
``stream=True`` (vLLM's OpenAI-compatible server sends each new token as it is made),
each chunk becomes one update of a ``Stream`` with vLLM's own types (``Logprob`` per
step, as ``RemoteLLM.generate`` returns them). From the browser it runs in a thread, so
the kernel stays free; closing the connection is how the server learns of an abort.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import weakref
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from vlesson.completions import Job, _completion, ids_to_name, request_fields
from vlesson.playground.streaming import Stream, can_run_in_background

if TYPE_CHECKING:
    from vllm import SamplingParams

    from vlesson.remote import RemoteLLM

logger = logging.getLogger(__name__)

_ids = itertools.count()
_streamers: weakref.WeakKeyDictionary[Any, RemoteStreamer] = weakref.WeakKeyDictionary()


class RemoteStreamer:
    """Streams of one classroom server (see the module docstring)."""

    def __init__(self, llm: RemoteLLM):
        self.llm = weakref.proxy(llm)
        self.threads: set[threading.Thread] = set()
        self.on_resume: dict[Stream, Callable[[], None]] = {}
        """Never used here: a cell's requests do not meet ours on a server."""
        self.ended: Counter[str] = Counter()

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
        """Send one streamed request (in a thread from the browser, else inline)."""
        if background is None:
            background = can_run_in_background()
        stream = Stream(
            f"vlesson-remote-{next(_ids)}", prompt, params, on_update, background
        )
        if on_start is not None:
            on_start(stream)
        if background:
            thread = threading.Thread(target=self._pump_logged, args=(stream,))
            thread.daemon = True
            self.threads.add(thread)
            thread.start()
        elif run:
            self._pump(stream)
        return stream

    def abort(self, stream: Stream, state: str = "aborted") -> None:
        """End a stream; its connection closes at the next chunk (the server aborts)."""
        if stream.done:
            return
        self.ended[state] += 1
        stream._end(state)

    def run_until_done(self, *streams: Stream) -> None:
        """Run inline streams one after another (each its own request)."""
        for stream in streams:
            if not stream.done:
                self._pump(stream)

    async def wait(self) -> None:
        """Wait until no background request is left (for tests and benchmarks)."""
        while any(thread.is_alive() for thread in self.threads):
            await asyncio.sleep(0.005)
        self.threads.clear()

    def _pump_logged(self, stream: Stream) -> None:
        try:
            self._pump(stream)
        except Exception:  # a thread's exception would reach no one: say it
            logger.exception("streaming from the server failed")
            self.abort(stream, "failed")

    def _pump(self, stream: Stream) -> None:
        """Read the server's chunks into ``stream`` until it ends or is aborted."""
        job = Job((0,), (stream.prompt,), request_fields(stream.params))
        standard, extra = job.split_fields()
        llm = self.llm
        response = llm.call(
            lambda: llm.client.completions.create(
                model=llm.model_name,
                prompt=stream.prompt,
                stream=True,
                extra_body=extra,
                **standard,
            ),
            what="streaming a completion",
        )
        try:
            for chunk in response:
                if stream.done:  # aborted: closing the connection tells the server
                    break
                for choice in chunk.model_dump()["choices"]:
                    stream.feed(self._delta(choice, job))
        finally:
            response.close()
        if not stream.done:  # the server ended without a finish_reason
            self.abort(stream, "failed")
        elif stream.state == "finished":
            self.ended["finished"] += 1

    def _delta(self, choice: dict[str, Any], job: Job) -> Any:
        choice["token_ids"] = choice.get("token_ids") or []
        names = self.llm._tokenizer.names(ids_to_name([job], [{"choices": [choice]}]))
        return SimpleNamespace(
            finished=choice.get("finish_reason") is not None,
            prompt_token_ids=choice.get("prompt_token_ids"),
            outputs=[_completion(0, choice, job, names)],
        )


def streamer(llm: RemoteLLM) -> RemoteStreamer:
    """Return the one RemoteStreamer of this server connection."""
    if llm not in _streamers:
        _streamers[llm] = RemoteStreamer(llm)
    return _streamers[llm]
