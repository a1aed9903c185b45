"""Slider panels on a warm engine: one setting, two side by side, the next-token view.

Every control observes ``value`` and calls one handler: controls -> overrides dict ->
``make_sampling_params`` -> one streamed request (``streaming``), rendered as it grows
(``render``). A new value aborts the side's running request first. Sliders run on
release (``continuous_update=False``). The engine is passed in, never built here; errors
show in the panel and go to the log, they are never raised from a callback. On a
classroom server the server streams (``remote_stream``).
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from vlesson.engine import is_remote
from vlesson.generate import Generation, run_logger
from vlesson.playground import remote_stream, render, streaming
from vlesson.playground.controls import (
    COMPARE_SLIDERS,
    PANEL_MAX_TOKENS,
    PANEL_SLIDERS,
    SLIDERS,
    build_controls,
    check_prompt,
    controls_to_overrides,
    initial_values,
    prompt_box,
    read,
)
from vlesson.playground.distribution import (
    TOP_N,
    Reshaped,
    next_token_logprobs,
    reshape,
)
from vlesson.playground.render import distribution_html, error_html, settings_line
from vlesson.playground.steps import StepView
from vlesson.playground.streaming import Stream
from vlesson.sampling import ParamError, make_sampling_params

if TYPE_CHECKING:
    from vllm import LLM

__all__ = [
    "COMPARE_SLIDERS",
    "PANEL_MAX_TOKENS",
    "PANEL_SLIDERS",
    "SLIDERS",
    "NextToken",
    "Panel",
    "build_controls",
    "compare",
    "controls_to_overrides",
    "distribution_html",
    "error_html",
    "initial_values",
    "next_token",
    "panel",
    "settings_line",
]

logger = logging.getLogger(__name__)


# -- panels -------------------------------------------------------------------------


class Panel(widgets.VBox):
    """Live, streamed generation for one or more settings of the same prompt.

    ``controls`` maps names to widgets; for several sides it maps each side's name to
    its own dict. ``streams`` holds each side's current ``Stream`` (local engine),
    ``generations`` the last finished results by side, ``error`` the last error text
    (None after a success). A one-sided panel also has ``tokens`` (one button per
    generated token, coloured by its probability: click one) and ``distribution`` (the
    distribution at the selected step, ``step``).
    """

    def __init__(
        self,
        llm: LLM,
        prompt: str,
        sides: Mapping[str, Mapping[str, Any]],
        names: tuple[str, ...] = PANEL_SLIDERS,
    ):
        self.llm = llm
        self.prompt = prompt_box(prompt)
        self.sides = {name: build_controls(v, names) for name, v in sides.items()}
        self.outputs = {name: widgets.HTML() for name in sides}
        self.streams: dict[str, Stream] = {}
        self.generations: dict[str, Generation] = {}
        self.overrides: dict[str, dict[str, Any]] = {}
        self.error: str | None = None
        self._last: dict[str, str | None] = dict.fromkeys(sides)
        self._streamer = _streamer_for(llm)
        single = len(sides) == 1
        self.steps = StepView(self._show_step) if single else None
        extra = self.steps.widgets if self.steps else []
        for w in [self.prompt, *(w for s in self.sides.values() for w in s.values())]:
            w.observe(self.refresh, names="value")
        width = widgets.Layout(width=f"{96 // len(sides)}%")
        columns = [
            widgets.VBox(
                [*self._title(n), *self._grid(n), self.outputs[n], *extra],
                layout=width,
            )
            for n in sides
        ]
        order = widgets.HTML(f"<small>{html.escape(render.SAMPLER_ORDER)}</small>")
        super().__init__([self.prompt, widgets.HBox(columns), order])
        self.add_class("vlesson-panel")
        self.refresh()

    def _title(self, name: str) -> list[widgets.Widget]:
        return (
            [widgets.HTML(f"<b>{html.escape(name)}</b>")] if len(self.sides) > 1 else []
        )

    def _grid(self, name: str) -> list[widgets.Widget]:
        controls = list(self.sides[name].values())
        if len(self.sides) > 1:
            return controls
        half = (len(controls) + 1) // 2
        return [
            widgets.HBox([widgets.VBox(controls[:half]), widgets.VBox(controls[half:])])
        ]

    @property
    def controls(self) -> dict[str, Any]:
        """The public controls: ``prompt`` and the sliders (or one dict per side)."""
        if len(self.sides) == 1:
            return {"prompt": self.prompt, **next(iter(self.sides.values()))}
        return {"prompt": self.prompt, **self.sides}

    @property
    def output(self) -> widgets.HTML:
        """The output widget of a one-sided panel."""
        return next(iter(self.outputs.values()))

    @property
    def generation(self) -> Generation | None:
        """The last finished result of a one-sided panel."""
        return next(iter(self.generations.values()), None)

    @property
    def stream(self) -> Stream | None:
        """The current (or last) stream of a one-sided panel."""
        return next(iter(self.streams.values()), None)

    @property
    def step(self) -> int | None:
        """The step whose distribution is shown (the index of the selected token)."""
        return self.steps.tokens.index

    @property
    def tokens(self) -> widgets.ToggleButtons:
        """One button per generated token of a one-sided panel: click one."""
        return self.steps.tokens

    @property
    def distribution(self) -> widgets.HTML:
        """The distribution at the selected step."""
        return self.steps.distribution

    @property
    def curve(self) -> widgets.HTML:
        """How temperature reshapes the selected step's top candidates."""
        return self.steps.curve

    @property
    def reshaped(self) -> Reshaped | None:
        """The selected step's candidates, reshaped by the panel's settings."""
        return self.steps.reshaped if self.steps else None

    def refresh(self, change: Any = None, *, background: bool | None = None) -> None:
        """Read the controls; for each side whose settings changed, abort its running
        request and start a new one (all in the same engine steps), or show the error.

        From the browser it streams in the background; from code it returns when done.
        """
        if background is None:
            background = streaming.can_run_in_background()
        started = [
            stream
            for side in self.sides
            if (stream := self._refresh_side(side, background)) is not None
        ]
        if started and not background:
            try:
                self._streamer.run_until_done(*started)
            except Exception as exc:  # noqa: BLE001 - a callback must never raise
                for side, stream in self.streams.items():
                    if stream in started:
                        self._show_error(exc, side, read(self.sides[side]))

    def _refresh_side(self, side: str, background: bool) -> Stream | None:
        values = read(self.sides[side])
        try:
            prompt = check_prompt(self.prompt.value)
            overrides = controls_to_overrides(values)
            key = json.dumps([prompt, overrides], sort_keys=True)
            if key == self._last[side]:  # nothing changed that matters ("42" / " 42")
                return None
            # the step view needs the top candidates; a side by side only the chosen
            logprobs = TOP_N if len(self.sides) == 1 else 0
            params = make_sampling_params(self.llm, {**overrides, "logprobs": logprobs})
            self._cancel(side)
            self._last[side], self.overrides[side] = key, overrides
            if self._streamer is None:  # generate only: one call, the whole output
                streaming.run_whole(
                    self.llm,
                    prompt,
                    params,
                    lambda s: self._on_update(side, s),
                    on_start=lambda s: self._started(side, s),
                )
                return None
            return self._streamer.start(
                prompt,
                params,
                lambda s: self._on_update(side, s),
                background=background,
                on_start=lambda s: self._started(side, s),
                run=False,
            )
        except Exception as exc:  # noqa: BLE001 - a callback must never raise
            self._show_error(exc, side, values)
            return None

    def _started(self, side: str, stream: Stream) -> None:
        self.streams[side] = stream

    def _cancel(self, side: str) -> None:
        stream = self.streams.get(side)
        if stream is not None and not stream.done and self._streamer is not None:
            self._streamer.abort(stream)

    def _on_update(self, side: str, stream: Stream) -> None:
        if self.streams.get(side) is not stream:  # a stale run's last word
            return
        try:
            self._render(side, stream)
        except Exception as exc:  # noqa: BLE001 - a callback must never raise
            self._show_error(exc, side, read(self.sides[side]))
            return
        if stream.state == "finished":
            self.error = None
            self.generations[side] = streaming.to_generation(stream)
            run_logger.info(
                "generation",
                extra={"generation": self.generations[side], "llm": self.llm},
            )
        elif stream.state == "paused":  # a cell ran: start again once it ended
            self._last[side] = None
            self._streamer.on_resume[stream] = lambda: self._resume(side)

    def _resume(self, side: str) -> None:
        self._refresh_side(side, background=True)

    def _render(self, side: str, stream: Stream) -> None:
        tokens = streaming.token_texts(stream)
        probs = streaming.chosen_probs(stream)
        if self.steps:
            self.steps.update_tokens(tokens, probs)
        self._render_text(side, stream, tokens, probs)
        if self.steps:
            self._show_step()

    def _render_text(
        self,
        side: str,
        stream: Stream,
        tokens: list[str],
        probs: list[float | None],
    ) -> None:
        selected = self.steps.tokens.index if self.steps else None
        kept = len(stream.text) if stream.finish_reason == "stop" else None
        body = render.text_html(stream.prompt, tokens, probs, selected, kept)
        status = render.status_html(
            len(stream.token_ids), stream.state, stream.finish_reason, stream.seconds
        )
        self.outputs[side].value = render.output_html(
            body, status, self.overrides[side], stream.prompt
        )

    def _show_step(self, change: Any = None) -> None:
        """Show the distribution at the selected step; a click marks the token in the
        text too."""
        side = next(iter(self.sides))
        stream = self.stream
        if self.steps.show(stream, self.overrides.get(side, {}), change):
            tokens, probs = (
                streaming.token_texts(stream),
                streaming.chosen_probs(stream),
            )
            self._render_text(side, stream, tokens, probs)

    def _show_error(self, exc: Exception, side: str, values: Mapping[str, Any]) -> None:
        if isinstance(exc, ParamError):
            logger.warning("panel: %s", exc)
            self.error = str(exc)
        else:
            logger.exception("panel: generation failed")
            self.error = f"generation failed: {type(exc).__name__}: {exc}"
        self._last[side] = None  # going back to the last good settings must run again
        self.outputs[side].value = render.error_html(
            self.error, render.settings_line(values)
        )

    async def wait(self) -> None:
        """Wait until every background run of this engine has ended (tests, bench)."""
        if self._streamer is not None:
            await self._streamer.wait()


def _streamer_for(llm: Any) -> Any:
    """The local engine's Streamer, a classroom server's RemoteStreamer, or None (an
    engine that can only ``generate``: one request, its whole output at once)."""
    if streaming.can_stream(llm):
        return streaming.streamer(llm)
    if is_remote(llm):
        return remote_stream.streamer(llm)
    return None


def panel(llm: LLM, prompt: str = "The capital of France is", **values: Any) -> Panel:
    """Return a live panel: a prompt box, sliders, seed and stop boxes, output below.

    Sliders start at the model's defaults; pass e.g. ``temperature=0.7`` to change.
    """
    start = initial_values(llm.get_default_sampling_params(), values)
    return Panel(llm, prompt, {"settings": start})


def compare(
    llm: LLM,
    prompt: str = "The future of AI is",
    left: Mapping[str, Any] | None = None,
    right: Mapping[str, Any] | None = None,
) -> Panel:
    """Return two sets of sliders on the same prompt, streamed in the same engine
    steps (one batch)."""
    defaults = llm.get_default_sampling_params()
    sides = {
        "left": initial_values(defaults, left or {"temperature": 0.2}),
        "right": initial_values(defaults, right or {"temperature": 1.5}),
    }
    return Panel(llm, prompt, sides, COMPARE_SLIDERS)


class NextToken(widgets.VBox):
    """The top candidates for the next token, reshaped live by the sliders.

    Only a prompt change asks the engine (one token, ``logprobs=20``); a slider move
    recomputes the reshaping from the raw log-probabilities.
    """

    def __init__(self, llm: LLM, prompt: str, values: Mapping[str, Any]):
        self.llm = llm
        self.prompt = prompt_box(prompt)
        self.sliders = build_controls(values, names=("temperature", "top_p", "top_k"))
        self.output = widgets.HTML()
        self.logprobs: dict[str, float] = {}
        self.reshaped: Reshaped | None = None
        self.error: str | None = None
        self.prompt.observe(self._fetch, names="value")
        for w in self.sliders.values():
            w.observe(self.redraw, names="value")
        super().__init__([self.prompt, *self.sliders.values(), self.output])
        self._fetch()

    @property
    def controls(self) -> dict[str, widgets.Widget]:
        """The public controls: ``prompt`` and the three sliders."""
        return {"prompt": self.prompt, **self.sliders}

    def _fetch(self, change: Any = None) -> None:
        try:
            prompt = check_prompt(self.prompt.value)
            self.logprobs = next_token_logprobs(self.llm, prompt)
        except Exception as exc:  # noqa: BLE001 - a callback must never raise
            self._show_error(exc)
            return
        self.redraw()

    def redraw(self, change: Any = None) -> None:
        """Reshape the stored log-probabilities with the current slider values."""
        values = read(self.sliders)
        try:
            self.reshaped = reshape(self.logprobs, **values)
        except Exception as exc:  # noqa: BLE001 - a callback must never raise
            self._show_error(exc)
            return
        self.error = None
        self.output.value = distribution_html(self.reshaped, settings_line(values))

    def _show_error(self, exc: Exception) -> None:
        logger.warning(
            "next-token view: %s", exc, exc_info=not isinstance(exc, ParamError)
        )
        self.error = str(exc)
        self.output.value = error_html(self.error, settings_line(read(self.sliders)))


def next_token(
    llm: LLM, prompt: str = "The capital of France is", **values: Any
) -> NextToken:
    """Return the next-token view: top 20 candidates, raw and after the sliders."""
    start = initial_values(llm.get_default_sampling_params(), values)
    return NextToken(
        llm, prompt, {n: start[n] for n in ("temperature", "top_p", "top_k")}
    )
