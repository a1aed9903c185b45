"""The step view of a one-sided panel: the generated tokens as buttons coloured by
their probability, and, for the selected step, the distribution it was drawn from
(raw and after the sliders), the arithmetic of temperature and its curve."""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets

from vlesson.generate import candidates_from_step
from vlesson.playground import render, streaming
from vlesson.playground.distribution import Reshaped, reshape
from vlesson.playground.streaming import Stream

_view_ids = itertools.count()

SHAPING = ("temperature", "top_p", "top_k", "min_p")
"""The settings that reshape a step's distribution (vLLM's sampler order)."""


class StepView:
    """The widgets under a one-sided panel's output; ``on_click(change)`` is called
    when the learner selects a token."""

    def __init__(self, on_click: Callable[[Any], None]) -> None:
        self._css = f"vlesson-tokens-{next(_view_ids)}"
        self.tokens = widgets.ToggleButtons(options=[], style={"button_width": "auto"})
        self.tokens.add_class("vlesson-tokens")
        self.tokens.add_class(self._css)
        self.tokens.observe(on_click, names="index")
        self.token_styles = widgets.HTML()
        self.distribution = widgets.HTML()
        self.distribution.add_class("vlesson-next-token")
        self.curve = widgets.HTML()
        self.curve.add_class("vlesson-curve-box")
        self.reshaped: Reshaped | None = None
        self._tokens_shown: tuple[str, ...] = ()
        self._step_shown: tuple[str, int, bool] | None = None
        self.updating_tokens = False
        self._wanted_step = 0
        legend = "<small>click a token to see the distribution at its step; "
        legend += f"{html.escape(render.COLOUR_LEGEND)}</small>"
        self.widgets: list[widgets.Widget] = [
            widgets.HTML(legend),
            self.token_styles,
            self.tokens,
            widgets.HBox([self.distribution, self.curve]),
        ]

    def update_tokens(self, tokens: list[str], probs: list[float | None]) -> None:
        """Show the tokens generated so far; keep the step the learner chose once the
        new run has reached it, until then the newest token."""
        labels = tuple(render.token_label(t) for t in tokens)
        if labels == self._tokens_shown:
            return
        keep = min(self._wanted_step, len(labels) - 1)
        self.updating_tokens = True
        try:
            with self.tokens.hold_sync():
                self._tokens_shown = labels
                self.tokens.options = [(label, i) for i, label in enumerate(labels)]
                self.tokens.tooltips = [
                    f"step {i}" + ("" if p is None else f": p={p:.3f}")
                    for i, p in enumerate(probs)
                ]
                if labels:
                    self.tokens.index = keep
        finally:
            self.updating_tokens = False
        self.token_styles.value = render.token_styles(self._css, probs)

    def show(
        self, stream: Stream | None, overrides: Mapping[str, Any], change: Any = None
    ) -> bool:
        """Show the distribution at the selected step of the stream (once per step
        while it streams, once more at the end). ``change``: the learner's click, if
        it was one; returns True when a click showed a new step (mark it in the text).
        """
        if change is not None and self.updating_tokens:  # the panel moved it
            return False
        if change is not None and change["new"] is not None:
            self._wanted_step = change["new"]
        step = self.tokens.index
        if stream is None or step is None or step >= len(stream.steps):
            return False
        key = (stream.request_id, step, stream.done)
        if self._step_shown == key:
            return False
        self._step_shown = key
        logprobs = candidates_from_step(stream.steps[step])
        shaping = {k: overrides[k] for k in SHAPING if k in overrides}
        self.reshaped = reshape(logprobs, **shaping)
        token = streaming.token_texts(stream)[step]
        p = streaming.chosen_probs(stream)[step]
        self.distribution.value = (
            render.step_title(step, len(stream.token_ids), token, p, stream.done)
            + render.distribution_html(self.reshaped, render.settings_line(shaping))
            + render.arithmetic_html(logprobs, self.reshaped, shaping["temperature"])
        )
        self.curve.value = render.curve_svg(logprobs, shaping["temperature"])
        return change is not None
