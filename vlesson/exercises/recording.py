"""An engine stand-in for checks: it forwards to the real ``LLM`` and records calls.

A check hands ``Recorder(llm)`` to the learner's function in place of ``llm``, then
looks at what reached vLLM: how many ``generate`` calls, with which prompts and which
``SamplingParams``, and what came back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any


@dataclasses.dataclass
class Call:
    """One ``llm.generate`` call as the engine saw it."""

    prompts: Any
    """What the learner passed as prompts (a str or a list)."""
    sampling_params: Any
    """One SamplingParams, a list of them, or None."""
    outputs: list[Any]
    """The RequestOutputs the engine returned, in order."""

    @property
    def prompt_list(self) -> list[Any]:
        """The prompts as a list (vLLM accepts one str too)."""
        return [self.prompts] if isinstance(self.prompts, str) else list(self.prompts)

    def params_list(self) -> list[Any]:
        """One SamplingParams per prompt (vLLM repeats a single one)."""
        params = self.sampling_params
        if params is None or not isinstance(params, Sequence):
            return [params] * len(self.prompt_list)
        return list(params)


class Recorder:
    """Stands in for ``llm``: every attribute is the engine's, ``generate`` is logged."""

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self.calls: list[Call] = []

    def generate(
        self, prompts: Any, sampling_params: Any = None, *args: Any, **kwargs: Any
    ) -> list[Any]:
        """Call the real ``llm.generate`` and remember the call."""
        outputs = self._llm.generate(prompts, sampling_params, *args, **kwargs)
        self.calls.append(Call(prompts, sampling_params, list(outputs)))
        return outputs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)

    def only_call(self, many: str, never: str = "") -> Call:
        """Return the one ``generate`` call; an AssertionError (the learner's hint) if
        there was none, or more than one: ``many`` ends that hint, ``never`` the other."""
        assert self.calls, "your function never called llm.generate" + never
        assert len(self.calls) == 1, (
            f"llm.generate was called {len(self.calls)} times{many}"
        )
        return self.calls[0]

    @property
    def requests(self) -> list[tuple[Any, Any, Any]]:
        """(prompt, SamplingParams, RequestOutput) of every request of every call."""
        return [
            (prompt, params, output)
            for call in self.calls
            for prompt, params, output in zip(
                call.prompt_list, call.params_list(), call.outputs, strict=False
            )
        ]
