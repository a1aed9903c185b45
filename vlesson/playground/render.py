"""The playground's pure steps: settings -> text lines, tokens and steps -> HTML / SVG.

Nothing here touches an engine or a widget, so all of it is unit-tested as strings.
"""

from __future__ import annotations

import html
import math
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from vlesson.playground.distribution import (
    TEMPERATURES,
    Reshaped,
    entropy,
    softmax_terms,
    temperature_curve,
)
from vlesson.sampling import CLI_FLAGS

SAMPLER_ORDER = (
    "vLLM applies them in this order (vllm/v1/sample/sampler.py): penalties "
    "(repetition_penalty, frequency_penalty, presence_penalty) on the logits, then "
    "temperature, then min_p, then top_k and top_p, then it samples; a stop string "
    "ends the text when it appears."
)
"""What the panel says about the order of vLLM's sampler."""

COLOUR_LEGEND = (
    "colour: the model's probability of each chosen token, raw (before the settings): "
    "red near 0, yellow about 0.5, green near 1"
)


# -- settings -----------------------------------------------------------------------


def settings_line(overrides: Mapping[str, Any]) -> str:
    """Format settings as ``temperature=0.70 top_p=0.95 ...`` (floats to 2 places)."""
    parts = []
    for name, value in overrides.items():
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        parts.append(f"{name}={shown}")
    return " ".join(parts)


def sampling_params_line(overrides: Mapping[str, Any]) -> str:
    """Return the settings as Python: ``SamplingParams(temperature=0.7, ...)``."""
    args = ", ".join(
        f"{name}={_py(value)}" for name, value in overrides.items() if value is not None
    )
    return f"SamplingParams({args})"


def _py(value: Any) -> str:
    return repr(round(value, 4)) if isinstance(value, float) else repr(value)


def command_line(prompt: str, overrides: Mapping[str, Any]) -> str:
    """Return the ``vlesson generate`` command that reproduces these settings.

    Options it does not have (stop strings) are named after a ``#``.
    """
    parts = ["vlesson", "generate", "--prompt", shlex.quote(prompt)]
    missing = []
    for name, value in overrides.items():
        if value is None:
            continue
        if name in CLI_FLAGS:
            flag, shown = "--" + name.replace("_", "-"), _py(value)
            # argparse would read "-0.5" as an option: glue negatives to the flag
            parts += [f"{flag}={shown}"] if shown.startswith("-") else [flag, shown]
        else:
            missing.append(f"{name}={_py(value)}")
    line = " ".join(parts)
    if missing:
        line += "  # not a vlesson generate option: " + ", ".join(missing)
    return line


# -- the streamed text --------------------------------------------------------------


def token_colour(p: float) -> str:
    """Return a light background colour for probability p: red 0, green 1."""
    return f"hsl({120 * max(0.0, min(1.0, p)):.0f}, 85%, 80%)"


def token_label(text: str) -> str:
    """Show a token's text on a button: newlines as a return sign, empty as a sign."""
    return text.replace("\n", "\u21b5") or "\u2205"


def text_html(
    prompt: str,
    tokens: Sequence[str],
    probs: Sequence[float | None],
    selected: int | None = None,
    kept: int | None = None,
) -> str:
    """Render the prompt (bold) and each generated token coloured by its probability.

    ``kept``: how many characters of the tokens the final text holds; tokens past it
    (a stop string, which vLLM leaves out of the text) are struck through.
    """
    spans, offset = [], 0
    for i, (token, p) in enumerate(zip(tokens, probs)):
        style = "" if p is None else f"background:{token_colour(p)}"
        if i == selected:
            style += ";outline:2px solid #1565c0"
        if kept is not None and offset >= kept:
            style += ";text-decoration:line-through;opacity:0.6"
        offset += len(token)
        title = "" if p is None else f' title="step {i}: p={p:.3f}"'
        spans.append(f'<span style="{style}"{title}>{html.escape(token)}</span>')
    return (
        f'<pre style="white-space: pre-wrap"><b>{html.escape(prompt)}</b>'
        f"{''.join(spans)}</pre>"
    )


def status_html(
    num_tokens: int, state: str, finish_reason: str | None, seconds: float
) -> str:
    """Render the line under the text: tokens so far, state, speed."""
    speed = num_tokens / seconds if seconds > 0 else 0.0
    if state == "running":
        what = "streaming..."
    elif state == "finished":
        what = f"finish_reason={finish_reason}"
    elif state == "paused":
        what = "paused while a cell runs (starts again after it)"
    else:
        what = state
    return (
        f'<div class="vlesson-stats" data-state="{state}">{num_tokens} tokens, '
        f"{what}, {speed:.1f} tokens/s</div>"
    )


def output_html(
    body: str, status: str, settings: Mapping[str, Any], prompt: str
) -> str:
    """Put text, status and the three forms of the settings together."""
    return (
        f'<div class="vlesson-output">{body}{status}'
        f'<div class="vlesson-settings">{html.escape(settings_line(settings))}</div>'
        '<div class="vlesson-copy"><code class="vlesson-params">'
        f"{html.escape(sampling_params_line(settings))}</code><br>"
        '<code class="vlesson-command">'
        f"{html.escape(command_line(prompt, settings))}</code></div></div>"
    )


def error_html(message: str, settings: str) -> str:
    """Render an error in the panel, with the settings that caused it."""
    return (
        '<div class="vlesson-output"><div class="vlesson-error" style="color: #b00020">'
        f"<b>error:</b> {html.escape(message)}</div>"
        f'<div class="vlesson-settings">{html.escape(settings)}</div></div>'
    )


def token_styles(css_class: str, probs: Sequence[float | None]) -> str:
    """Return the <style> that colours the token buttons of one panel."""
    rules = [
        # The widget holds a label and a div of buttons: let the div wrap like text.
        f".{css_class} {{height: auto; width: 100%}}",
        f".{css_class} > div {{display: flex; flex-wrap: wrap}}",
        (
            f".{css_class} button {{width: auto; min-width: 0; padding: 0 2px; "
            "margin: 0 1px 1px 0; height: 22px; font-family: monospace; "
            "white-space: pre}"
        ),
        f".{css_class} button.mod-active {{outline: 2px solid #1565c0}}",
    ]
    for i, p in enumerate(probs, start=1):
        if p is not None:
            rules.append(
                f".{css_class} button:nth-of-type({i}) "
                f"{{background: {token_colour(p)}}}"
            )
    return "<style>" + "\n".join(rules) + "</style>"


# -- one step's distribution --------------------------------------------------------


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


def step_title(
    step: int, count: int, token: str, p: float | None, done: bool = True
) -> str:
    """Say which step is shown: ``step 3 of 48: ' Paris' (p=0.832)``."""
    prob = "" if p is None else f" (p={p:.3f})"
    so_far = "" if done else " so far"
    return (
        f'<div class="vlesson-step"><b>step {step} of {count}{so_far}</b>: the '
        "distribution "
        f"the model gave before it chose {html.escape(repr(token))}{prob}</div>"
    )


def arithmetic_html(
    logprobs: Mapping[str, float], reshaped: Reshaped, temperature: float
) -> str:
    """Show p_i = exp(z_i/T) / sum_j exp(z_j/T) with numbers, and the entropies."""
    rows = "".join(
        f"<tr><td><code>{html.escape(repr(token))}</code></td><td>{z:.3f}</td>"
        f"<td>{w:.4g}</td><td>{p:.3f}</td></tr>"
        for token, z, w, p in softmax_terms(logprobs, temperature)
    )
    raw, shown = entropy(reshaped, after=False), entropy(reshaped)
    return (
        '<div class="vlesson-arithmetic">p<sub>i</sub> = exp(z<sub>i</sub>/T) / '
        f"&Sigma;<sub>j</sub> exp(z<sub>j</sub>/T), T = {temperature:.2f}, "
        "z = the raw log-probability (the logit minus one constant per step)"
        f"<table><tr><th>token</th><th>z</th><th>exp(z/T)</th><th>p (T only)</th></tr>"
        f"{rows}</table>entropy: raw {raw:.2f} bits, after the settings "
        f'<span class="vlesson-entropy">{shown:.2f}</span> bits (top candidates, the '
        "rest as one outcome)</div>"
    )


_PALETTE = ("#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a")


def curve_svg(
    logprobs: Mapping[str, float],
    temperature: float,
    temperatures: Sequence[float] = TEMPERATURES,
    width: int = 320,
    height: int = 140,
) -> str:
    """Plot the top candidates' probabilities as T goes from 0.1 to 2 (inline SVG)."""
    curves = temperature_curve(logprobs, tuple(temperatures))
    pad, low, high = 24, temperatures[0], temperatures[-1]

    def x(t: float) -> float:
        return pad + (width - 2 * pad) * (t - low) / (high - low)

    def y(p: float) -> float:
        return height - pad - (height - 2 * pad) * p

    parts = [
        (
            f'<svg class="vlesson-curve" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        ),
        f'<line x1="{pad}" y1="{y(0)}" x2="{width - pad}" y2="{y(0)}" stroke="#999"/>',
        f'<text x="{pad}" y="{height - 6}" font-size="10">T={low}</text>',
        f'<text x="{width - pad - 24}" y="{height - 6}" font-size="10">T={high}</text>',
        f'<text x="2" y="{y(1) + 4}" font-size="10">1</text>',
    ]
    if low <= temperature <= high:
        parts.append(
            f'<line x1="{x(temperature):.1f}" y1="{y(1)}" x2="{x(temperature):.1f}" '
            f'y2="{y(0)}" stroke="#555" stroke-dasharray="3,3"/>'
        )
    for (token, probs), colour in zip(curves.items(), _PALETTE):
        points = " ".join(f"{x(t):.1f},{y(p):.1f}" for t, p in zip(temperatures, probs))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" points="{points}">'
            f"<title>{html.escape(repr(token))}</title></polyline>"
        )
    legend = " ".join(
        f'<span style="color:{c}">&#9632; {html.escape(repr(t))}</span>'
        for t, c in zip(curves, _PALETTE)
    )
    return "".join(parts) + f"</svg><div><small>{legend}</small></div>"


def probability(logprob: float | None) -> float | None:
    """exp(logprob), or None when unknown."""
    return None if logprob is None else math.exp(logprob)
