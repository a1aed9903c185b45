"""The playground's controls: sliders and boxes from ``PARAMS``, and their values.

Pure steps (values -> sampling overrides) and widget construction; the panels in
``widgets`` wire them to an engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets

from vlesson import sampling
from vlesson.sampling import PARAMS, ParamError

SLIDERS = sampling.SLIDERS
"""The sampling parameters that get a slider (bounds and steps from ``PARAMS``)."""

PANEL_SLIDERS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "max_tokens",
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
)
"""The panel's sliders, in the order vLLM applies them after the first four."""
COMPARE_SLIDERS = ("temperature", "top_p", "top_k", "max_tokens")
"""The sliders of each side of ``compare``."""

PANEL_MAX_TOKENS = 48
"""The panel's starting max_tokens: long enough to judge, short enough to be quick."""

_STYLE = {"description_width": "120px"}  # the default cuts "temperature" short


# -- pure steps ---------------------------------------------------------------------


def controls_to_overrides(values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn control values (slider numbers, seed and stop text) into overrides."""
    overrides = {name: values[name] for name in SLIDERS if name in values}
    if "seed" in values:
        overrides["seed"] = _parse_seed(values["seed"])
    if "stop" in values:
        overrides["stop"] = _parse_stop(values["stop"])
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


def _parse_stop(text: Any) -> list[str] | None:
    """One stop string; ``\\n`` stands for a newline (a text box cannot hold one)."""
    text = str(text).replace("\\n", "\n")
    return [text] if text else None


# -- controls -----------------------------------------------------------------------


def initial_values(defaults: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """Start sliders at the model's defaults, clamped to their ranges; given wins."""
    values: dict[str, Any] = {"max_tokens": PANEL_MAX_TOKENS, "seed": 42, "stop": ""}
    for name in SLIDERS:
        if name == "max_tokens":
            continue
        low, high, _ = PARAMS[name].slider
        values[name] = min(max(getattr(defaults, name), low), high)
    values.update(given)
    return values


def build_controls(
    values: Mapping[str, Any], names: tuple[str, ...] = PANEL_SLIDERS
) -> dict:
    """Return one slider per name (vLLM field name as label), seed and stop boxes."""
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
    if "stop" in values:
        controls["stop"] = widgets.Text(
            value=values["stop"] or "",
            description="stop",
            placeholder="empty: none; \\n is a newline",
            tooltip="Stop when this text appears (it is left out of the output).",
            continuous_update=False,
            style=_STYLE,
        )
    return controls


def prompt_box(prompt: str) -> widgets.Textarea:
    """Return the prompt box (runs on leaving it or Shift+Enter, not per key)."""
    return widgets.Textarea(
        value=prompt,
        description="prompt",
        continuous_update=False,
        style=_STYLE,
        layout=widgets.Layout(width="95%"),
    )


def read(controls: Mapping[str, widgets.Widget]) -> dict[str, Any]:
    """Return the controls' values (the prompt left out)."""
    return {name: w.value for name, w in controls.items() if name != "prompt"}


def check_prompt(text: str) -> str:
    """Return the prompt, or raise a ParamError if it is blank."""
    if not text.strip():
        raise ParamError("prompt is empty - type a prompt", param="prompt", value=text)
    return text
