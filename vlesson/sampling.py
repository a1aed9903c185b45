"""Sampling parameters: one table of ranges, validation with a fix, and the merge onto
the model's defaults that the CLI, config files, widgets and the web API all share."""

from __future__ import annotations

import logging
import math
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vlesson.compat import validation_errors
from vlesson.facts import engine_facts
from vlesson.names import did_you_mean

if TYPE_CHECKING:
    from vllm import LLM, SamplingParams

logger = logging.getLogger(__name__)

SEED_MAX = 2**63 - 1
"""torch seeds a generator with a 64-bit integer; a larger seed would fail the step."""

TOP_K_MAX = 2**31 - 1
"""vLLM keeps top_k in an int32 tensor; any value above the vocabulary disables it."""

HIGH_MAX_TOKENS = 4096
"""Above this many tokens a request is allowed but warned about (slow on a CPU)."""


class ParamError(ValueError):
    """A sampling parameter is invalid; the message names it, the range and a fix."""

    def __init__(self, message: str, *, param: str, value: Any = None):
        super().__init__(message)
        self.param = param
        self.value = value


@dataclass(frozen=True)
class Param:
    """One sampling parameter: its type, allowed range and how to teach it."""

    name: str
    kind: type
    """int or float."""
    low: float | None
    high: float | None
    low_open: bool = False
    """True when ``low`` itself is not allowed (top_p > 0)."""
    help: str = ""
    hint: str = ""
    """A value to suggest when the given one is rejected."""
    slider: tuple[float, float, float] | None = None
    """(min, max, step) for the widget; None means no slider."""
    cli: bool = False
    """Offered as an option by every generating subcommand (``--top-p``)."""
    api: bool = True
    """Accepted by the web API's ``/generate``."""

    def range_text(self) -> str:
        """Return the allowed range the way vLLM writes it, e.g. ``(0, 1]``."""
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            return f"{left}{_num(self.low)}, {_num(self.high)}]"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        return "any integer"

    def range_phrase(self) -> str:
        """Return the range for a sentence: ``in (0, 1]``, or ``>= 1``."""
        text = self.range_text()
        return f"in {text}" if text.startswith(("[", "(")) else text


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


PARAMS: dict[str, Param] = {
    p.name: p
    for p in (
        Param("temperature", float, 0.0, 2.0, help="Randomness: 0 is greedy "
              "(always the likeliest token), higher flattens the distribution.",
              hint="try 0.7", slider=(0.0, 2.0, 0.05), cli=True),
        Param("top_p", float, 0.0, 1.0, low_open=True, help="Nucleus sampling: keep "
              "the smallest set of tokens whose probabilities add up to top_p.",
              hint="try 0.9", slider=(0.05, 1.0, 0.05), cli=True),
        Param("top_k", int, -1, TOP_K_MAX, help="Keep only the k likeliest tokens; 0 (or "
              "-1) disables the limit.", hint="try 20, or 0 to disable",
              slider=(0, 100, 1), cli=True),
        Param("max_tokens", int, 1, None, help="Upper bound on generated tokens; "
              "generation may stop earlier at an end-of-sequence token.",
              hint="try 64", slider=(1, 256, 1), cli=True),
        Param("min_tokens", int, 0, None, help="Generate at least this many tokens "
              "before end-of-sequence may stop generation.", hint="try 0", cli=True),
        Param("seed", int, 0, SEED_MAX, help="Random seed for this request: the same "
              "seed and settings give the same tokens.", hint="try 42", cli=True),
        # Not in the API: one completion per prompt there (send the prompt several
        # times with different seeds instead).
        Param("n", int, 1, None, help="Number of completions per prompt.",
              hint="try 1", api=False),
        Param("presence_penalty", float, -2.0, 2.0, help="Penalize tokens that "
              "already appeared (OpenAI style).", hint="try 0.0",
              slider=(-2.0, 2.0, 0.1), cli=True),
        Param("frequency_penalty", float, -2.0, 2.0, help="Penalize tokens by how "
              "often they appeared (OpenAI style).", hint="try 0.0",
              slider=(-2.0, 2.0, 0.1), cli=True),
        Param("repetition_penalty", float, 0.0, None, low_open=True, help="Multiplies "
              "the logits of repeated tokens; 1 disables.", hint="try 1.1",
              slider=(0.5, 2.0, 0.05), cli=True),
        Param("min_p", float, 0.0, 1.0, help="Drop tokens less likely than min_p "
              "times the likeliest one.", hint="try 0.05",
              slider=(0.0, 1.0, 0.01), cli=True),
        Param("logprobs", int, 0, 20, help="Return the log-probabilities of this many "
              "top candidates per generated token (0: only the chosen token).",
              hint="try 5"),
    )
}

SLIDERS = tuple(name for name, p in PARAMS.items() if p.slider is not None)
"""The parameters that get a slider in the playground."""
CLI_FLAGS = tuple(name for name, p in PARAMS.items() if p.cli)
"""The sampling options every generating subcommand offers."""
API_PARAMS = tuple(name for name, p in PARAMS.items() if p.api)
"""The parameters the web API accepts."""

EXTRA_FIELDS = ("stop", "stop_token_ids", "ignore_eos", "skip_special_tokens")
"""SamplingParams fields accepted as given (vLLM itself validates them)."""

DELIVERY_FIELDS = ("output_kind", "stream_interval", "skip_clone")
"""SamplingParams fields about how results are handed over, not what they are: cache
keys leave them out, and a request to a server does not carry them."""
SERVER_SIDE_FIELDS = (
    "detokenize",
    "flat_logprobs",
    "output_text_buffer_length",
    "skip_reading_prefix_cache",
)
"""SamplingParams fields a vLLM server sets for itself; a request does not carry them."""


def validate(
    overrides: Mapping[str, Any], *, max_model_len: int | None = None
) -> dict[str, Any]:
    """Check sampling overrides before any engine work; return them without Nones.

    Raises ParamError naming the parameter, the allowed range, the value and a fix.
    Warns (does not fail) on a very high ``max_tokens``.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    for name, value in given.items():
        if name not in PARAMS and name not in EXTRA_FIELDS:
            raise ParamError(_unknown_message(name), param=name, value=value)
        if name in PARAMS:
            given[name] = _check_one(PARAMS[name], value)
    _check_relations(given, max_model_len)
    if given.get("max_tokens", 0) > HIGH_MAX_TOKENS:
        warnings.warn(
            f"max_tokens={given['max_tokens']} is very high: generation may take "
            "minutes on a CPU, and most outputs stop earlier at end-of-sequence",
            # Its own line as the place: shown once per run, though the CLI checks the
            # values before the engine starts and make_sampling_params again after.
            stacklevel=1,
        )
    return given


def _unknown_message(name: str) -> str:
    known = [*PARAMS, *EXTRA_FIELDS]
    fix = did_you_mean(
        name.replace("-", "_"), known, "valid names: " + ", ".join(known), cutoff=0.5
    )
    return f"unknown sampling parameter {name!r} - {fix}"


def _check_one(p: Param, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParamError(
            f"{p.name} must be a number, got {value!r} ({type(value).__name__})"
            f" - {p.hint}",
            param=p.name, value=value,
        )
    if p.kind is int:
        if not float(value).is_integer():
            raise ParamError(
                f"{p.name} must be an integer, got {value!r} - {p.hint}",
                param=p.name, value=value,
            )
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ParamError(f"{p.name} must be finite, got {value} - {p.hint}",
                             param=p.name, value=value)
    too_low = p.low is not None and (value <= p.low if p.low_open else value < p.low)
    too_high = p.high is not None and value > p.high
    if too_low or too_high:
        raise ParamError(
            f"{p.name} must be {p.range_phrase()}, got {value} - {p.hint}",
            param=p.name, value=value,
        )
    return value


def _check_relations(given: dict[str, Any], max_model_len: int | None) -> None:
    max_tokens, min_tokens = given.get("max_tokens"), given.get("min_tokens")
    if max_tokens is not None and min_tokens is not None and min_tokens > max_tokens:
        raise ParamError(
            f"min_tokens must be <= max_tokens ({max_tokens}), got {min_tokens} - "
            f"lower min_tokens or raise max_tokens",
            param="min_tokens", value=min_tokens,
        )
    if max_model_len and max_tokens is not None and max_tokens > max_model_len:
        raise ParamError(
            f"max_tokens must be <= the model's context length ({max_model_len}), "
            f"got {max_tokens} - try {min(512, max_model_len)}",
            param="max_tokens", value=max_tokens,
        )
    if given.get("temperature", 1.0) == 0 and given.get("n", 1) > 1:
        raise ParamError(
            "n must be 1 with greedy decoding (temperature 0): every copy would be the "
            "same - raise temperature or set n=1",
            param="n", value=given["n"],
        )


def make_sampling_params(
    llm: LLM, overrides: Mapping[str, Any] | None = None, **kwargs: Any
) -> SamplingParams:
    """Start from the model's defaults and override only the values given.

    ``overrides`` and keyword arguments are merged (keywords win); None means "not
    given", as in the lesson's ``text_generation.py``.
    """
    wanted = {**(overrides or {}), **kwargs}
    given = validate(wanted, max_model_len=_max_model_len(llm))
    _verify_with_vllm(given)
    return _with_overrides(llm.get_default_sampling_params(), given)


def _with_overrides(defaults: SamplingParams, given: Mapping[str, Any]) -> SamplingParams:
    """Build a new SamplingParams through vLLM's constructor: the model's defaults
    (what differs from vLLM's own) plus ``given``. Setting attributes on the defaults
    would skip ``__post_init__``, which derives fields from the values (the text held
    back for a stop string, greedy's top_k and top_p)."""
    from vllm import SamplingParams

    if not given:
        return defaults
    plain = SamplingParams()
    inputs = {
        name: getattr(defaults, name)
        for name in defaults.__struct_fields__
        if not name.startswith("_")
        and name not in _DERIVED_FIELDS
        and getattr(defaults, name) != getattr(plain, name)
    }
    try:
        return SamplingParams(**{**inputs, **given})
    except validation_errors() as exc:
        param = getattr(exc, "parameter", None) or next(iter(given), "sampling")
        raise ParamError(str(exc), param=param, value=given.get(param)) from None


_DERIVED_FIELDS = frozenset({"output_text_buffer_length"})
"""SamplingParams fields that ``__post_init__`` sets and a caller never passes."""


def _max_model_len(llm: Any) -> int | None:
    return engine_facts(llm).max_model_len


def _verify_with_vllm(given: Mapping[str, Any]) -> None:
    """Let vLLM's own rules speak too, so a rule our table lacks still gets caught."""
    from vllm import SamplingParams

    try:
        SamplingParams(**given)
    except validation_errors() as exc:
        param = getattr(exc, "parameter", None) or next(iter(given), "sampling")
        raise ParamError(str(exc), param=param, value=given.get(param)) from None


def describe(params: SamplingParams) -> dict[str, Any]:
    """Return the table's parameters of a SamplingParams as a plain dict."""
    return {name: getattr(params, name, None) for name in PARAMS}
