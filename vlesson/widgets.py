"""Slider panels on a warm engine: one setting, two side by side, the next-token view.

Every control observes ``value`` and calls one handler: controls -> overrides dict ->
``make_sampling_params`` -> ONE ``generate`` call -> HTML. Sliders run on release
(``continuous_update=False``). The engine is passed in, never built here; errors show
in the panel and go to the log, they are never raised from a callback.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from vlesson.distribution import TOP_N, Reshaped, next_token_logprobs, reshape
from vlesson.generate import Generation, generate
from vlesson.sampling import PARAMS, ParamError, make_sampling_params

if TYPE_CHECKING:
    from vllm import LLM

logger = logging.getLogger(__name__)

SLIDERS = ("temperature", "top_p", "top_k", "max_tokens")
"""The sampling parameters that get a slider (bounds and steps from ``PARAMS``)."""

PANEL_MAX_TOKENS = 48
"""The panel's starting max_tokens: long enough to judge, short enough to be quick."""

_STYLE = {"description_width": "90px"}  # the default cuts "temperature" short


# -- pure steps ---------------------------------------------------------------------


def controls_to_overrides(values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn control values (slider numbers, seed text) into sampling overrides."""
    overrides = {name: values[name] for name in SLIDERS if name in values}
    if "seed" in values:
        overrides["seed"] = _parse_seed(values["seed"])
    return overrides


def _parse_seed(text: Any) -> int | None:
    text = str(text).strip()
    if text.lower() in ("", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ParamError(
            f"seed must be an integer or empty (random), got {text!r} - try 42",
            param="seed",
            value=text,
        ) from None


def settings_line(overrides: Mapping[str, Any]) -> str:
    """Format settings as ``temperature=0.70 top_p=0.95 ...`` (floats to 2 places)."""
    parts = []
    for name, value in overrides.items():
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        parts.append(f"{name}={shown}")
    return " ".join(parts)


def generation_html(gen: Generation, settings: str) -> str:
    """Render one Generation: text, token count, finish reason, tokens/s, settings."""
    speed = gen.num_tokens / gen.seconds if gen.seconds > 0 else 0.0
    return (
        '<div class="vlesson-output">'
        f'<pre style="white-space: pre-wrap"><b>{html.escape(gen.prompt)}</b>'
        f"{html.escape(gen.text)}</pre>"
        f'<div class="vlesson-stats">{gen.num_tokens} tokens, '
        f"finish_reason={gen.finish_reason}, {speed:.1f} tokens/s</div>"
        f'<div class="vlesson-settings">{html.escape(settings)}</div></div>'
    )


def error_html(message: str, settings: str) -> str:
    """Render an error in the panel, with the settings that caused it."""
    return (
        '<div class="vlesson-error" style="color: #b00020">'
        f"<b>error:</b> {html.escape(message)}</div>"
        f'<div class="vlesson-settings">{html.escape(settings)}</div>'
    )


def distribution_html(reshaped: Reshaped, settings: str) -> str:
    """Render candidates as rows of two bars: raw (grey) and after sampling (blue)."""
    rows = [_bar_row(repr(c.token), c.before, c.after) for c in reshaped.candidates]
    rest_label = "other tokens" + ("" if reshaped.rest_exact else " (estimate)")
    rows.append(_bar_row(rest_label, reshaped.rest_before, reshaped.rest_after))
    return (
        '<table class="vlesson-distribution"><tr><th>token</th><th>raw</th>'
        f"<th>after sampling settings</th></tr>{''.join(rows)}</table>"
        f'<div class="vlesson-stats">{reshaped.kept} of {len(reshaped.candidates)} '
        "top candidates can be sampled</div>"
        f'<div class="vlesson-settings">{html.escape(settings)}</div>'
    )


def _bar_row(label: str, before: float, after: float) -> str:
    def bar(p: float, colour: str) -> str:
        width = max(0.0, min(100.0, 100 * p))
        return (
            f'<div style="background:{colour};width:{width:.1f}%;height:10px"></div>'
            f"<small>{p:.3f}</small>"
        )

    return (
        f"<tr><td><code>{html.escape(label)}</code></td>"
        f'<td style="width:35%">{bar(before, "#999")}</td>'
        f'<td style="width:35%">{bar(after, "#1565c0")}</td></tr>'
    )


# -- controls -----------------------------------------------------------------------


def initial_values(defaults: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """Start sliders at the model's defaults, clamped to their ranges; given wins."""
    values: dict[str, Any] = {"max_tokens": PANEL_MAX_TOKENS, "seed": 42}
    for name in ("temperature", "top_p", "top_k"):
        low, high, _ = PARAMS[name].slider
        values[name] = min(max(getattr(defaults, name), low), high)
    values.update(given)
    return values


def build_controls(values: Mapping[str, Any], names: tuple[str, ...] = SLIDERS) -> dict:
    """Return one slider per name (vLLM field name as label) and a seed box."""
    controls: dict[str, widgets.Widget] = {}
    for name in names:
        p = PARAMS[name]
        low, high, step = p.slider
        cls = widgets.FloatSlider if p.kind is float else widgets.IntSlider
        controls[name] = cls(
            value=values[name],
            min=low,
            max=high,
            step=step,
            description=name,
            tooltip=p.help,
            continuous_update=False,
            style=_STYLE,
        )
    if "seed" in values:
        seed = values["seed"]
        controls["seed"] = widgets.Text(
            value="" if seed is None else str(seed),
            description="seed",
            placeholder="empty: random",
            tooltip=PARAMS["seed"].help,
            continuous_update=False,
            style=_STYLE,
        )
    return controls


def _prompt_box(prompt: str) -> widgets.Textarea:
    return widgets.Textarea(
        value=prompt,
        description="prompt",
        continuous_update=False,
        style=_STYLE,
        layout=widgets.Layout(width="95%"),
    )


def _read(controls: Mapping[str, widgets.Widget]) -> dict[str, Any]:
    return {name: w.value for name, w in controls.items() if name != "prompt"}


def _check_prompt(text: str) -> str:
    if not text.strip():
        raise ParamError("prompt is empty - type a prompt", param="prompt", value=text)
    return text


# -- panels -------------------------------------------------------------------------


class Panel(widgets.VBox):
    """Live generation for one or more settings of the same prompt.

    ``controls`` maps names to widgets; for several sides it maps each side's name to
    its own dict. ``generations`` holds the last results by side, ``error`` the last
    error text (None after a success).
    """

    def __init__(self, llm: LLM, prompt: str, sides: Mapping[str, Mapping[str, Any]]):
        self.llm = llm
        self.prompt = _prompt_box(prompt)
        self.sides = {name: build_controls(v) for name, v in sides.items()}
        self.outputs = {name: widgets.HTML() for name in sides}
        # One setting: the next-token view sits under the output, fed by the same call.
        self.distribution = widgets.HTML() if len(sides) == 1 else None
        if self.distribution is not None:
            self.distribution.add_class("vlesson-next-token")
        self.reshaped: Reshaped | None = None
        self.generations: dict[str, Generation] = {}
        self.error: str | None = None
        self._last: str | None = None
        for w in [self.prompt, *(w for s in self.sides.values() for w in s.values())]:
            w.observe(self.refresh, names="value")
        width = widgets.Layout(width=f"{96 // len(sides)}%")
        extra = [self.distribution] if self.distribution is not None else []
        columns = [
            widgets.VBox(
                [*self._title(n), *self.sides[n].values(), self.outputs[n], *extra],
                layout=width,
            )
            for n in sides
        ]
        super().__init__([self.prompt, widgets.HBox(columns)])
        self.add_class("vlesson-panel")
        self.refresh()

    def _title(self, name: str) -> list[widgets.Widget]:
        return (
            [widgets.HTML(f"<b>{html.escape(name)}</b>")] if len(self.sides) > 1 else []
        )

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
        """The last result of a one-sided panel."""
        return next(iter(self.generations.values()), None)

    def refresh(self, change: Any = None) -> None:
        """Read the controls, generate once (all sides in one batch), show results."""
        settings = {n: _read(c) for n, c in self.sides.items()}
        try:
            prompt = _check_prompt(self.prompt.value)
            overrides = {n: controls_to_overrides(v) for n, v in settings.items()}
            key = json.dumps([prompt, overrides], sort_keys=True)
            if key == self._last:  # nothing changed that matters (e.g. "42" -> " 42")
                return
            params = [make_sampling_params(self.llm, o) for o in overrides.values()]
            if self.distribution is not None:  # raw top candidates of the first step
                params[0].logprobs = TOP_N
            gens = generate(self.llm, [prompt] * len(params), params, use_tqdm=False)
        except Exception as exc:  # noqa: BLE001 - a callback must never raise
            self._show_error(exc, settings)
            return
        self._last, self.error = key, None
        self.generations = dict(zip(overrides, gens))
        for name, gen in self.generations.items():
            self.outputs[name].value = generation_html(
                gen, settings_line(overrides[name])
            )
        if self.distribution is not None:
            self._show_distribution(gens[0], next(iter(overrides.values())))

    def _show_distribution(self, gen: Generation, overrides: Mapping[str, Any]) -> None:
        shaping = {k: overrides[k] for k in ("temperature", "top_p", "top_k")}
        self.reshaped = reshape(gen.next_token_logprobs, **shaping)
        self.distribution.value = distribution_html(self.reshaped, settings_line(shaping))

    def _show_error(self, exc: Exception, settings: Mapping[str, Any]) -> None:
        if isinstance(exc, ParamError):
            logger.warning("panel: %s", exc)
            self.error = str(exc)
        else:
            logger.exception("panel: generation failed")
            self.error = f"generation failed: {type(exc).__name__}: {exc}"
        self._last = None  # going back to the last good settings must run again
        for name, out in self.outputs.items():
            out.value = error_html(self.error, settings_line(settings[name]))


def panel(llm: LLM, prompt: str = "The capital of France is", **values: Any) -> Panel:
    """Return a live panel: a prompt box, sliders and a seed box, output below.

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
    """Return two sets of sliders on the same prompt, generated in one batched call."""
    defaults = llm.get_default_sampling_params()
    sides = {
        "left": initial_values(defaults, left or {"temperature": 0.2}),
        "right": initial_values(defaults, right or {"temperature": 1.5}),
    }
    return Panel(llm, prompt, sides)


class NextToken(widgets.VBox):
    """The top candidates for the next token, reshaped live by the sliders.

    Only a prompt change asks the engine (one token, ``logprobs=20``); a slider move
    recomputes the reshaping from the raw log-probabilities.
    """

    def __init__(self, llm: LLM, prompt: str, values: Mapping[str, Any]):
        self.llm = llm
        self.prompt = _prompt_box(prompt)
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
            prompt = _check_prompt(self.prompt.value)
            self.logprobs = next_token_logprobs(self.llm, prompt)
        except Exception as exc:  # noqa: BLE001 - a callback must never raise
            self._show_error(exc)
            return
        self.redraw()

    def redraw(self, change: Any = None) -> None:
        """Reshape the stored log-probabilities with the current slider values."""
        values = _read(self.sliders)
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
        self.output.value = error_html(self.error, settings_line(_read(self.sliders)))


def next_token(
    llm: LLM, prompt: str = "The capital of France is", **values: Any
) -> NextToken:
    """Return the next-token view: top 20 candidates, raw and after the sliders."""
    start = initial_values(llm.get_default_sampling_params(), values)
    return NextToken(
        llm, prompt, {n: start[n] for n in ("temperature", "top_p", "top_k")}
    )
