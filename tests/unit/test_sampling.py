"""Validation rules of the PARAMS table, checked against vLLM's own SamplingParams."""

from __future__ import annotations

import warnings

import pytest

from vlesson import sampling
from vlesson.facts import EngineFacts
from vlesson.sampling import (
    HIGH_MAX_TOKENS,
    PARAMS,
    ParamError,
    make_sampling_params,
    validate,
)


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("temperature", -0.1, r"temperature must be in \[0, 2\], got -0.1 - try"),
        ("temperature", 2.5, r"temperature must be in \[0, 2\]"),
        ("top_p", 0.0, r"top_p must be in \(0, 1\], got 0.0"),
        ("top_p", 1.5, r"top_p must be in \(0, 1\], got 1.5 - try 0.9"),
        ("top_k", -2, r"top_k must be in \[-1, 2147483647\]"),
        ("top_k", 2**31, r"top_k must be in \[-1, 2147483647\]"),
        ("seed", -1, r"seed must be in \[0, 9223372036854775807\]"),
        ("seed", 2**63, r"seed must be in \[0, 9223372036854775807\]"),
        ("top_k", 2.5, r"top_k must be an integer"),
        ("max_tokens", 0, r"max_tokens must be >= 1, got 0"),
        ("min_tokens", -1, r"min_tokens must be >= 0"),
        ("seed", 1.5, r"seed must be an integer"),
        ("temperature", "hot", r"temperature must be a number, got 'hot'"),
        ("temperature", float("nan"), r"temperature must be finite"),
        ("max_tokens", True, r"max_tokens must be a number"),
    ],
)
def test_bad_value_names_param_range_and_fix(name, value, needle):
    with pytest.raises(ParamError, match=needle) as info:
        validate({name: value})
    assert info.value.param == name


def test_unknown_name_suggests_the_right_one():
    with pytest.raises(ParamError, match="did you mean 'temperature'") as info:
        validate({"temprature": 0.5})
    assert info.value.param == "temprature"
    with pytest.raises(ParamError, match="did you mean 'top_p'"):
        validate({"top-p": 0.5})


def test_relations_between_parameters():
    with pytest.raises(ParamError, match=r"min_tokens must be <= max_tokens \(10\)"):
        validate({"min_tokens": 20, "max_tokens": 10})
    with pytest.raises(ParamError, match="context length"):
        validate({"max_tokens": 9000}, max_model_len=8192)
    with pytest.raises(ParamError, match="n must be 1 with greedy"):
        validate({"temperature": 0, "n": 2})


def test_none_means_not_given_and_ints_are_normalised():
    assert validate({"temperature": None, "top_k": 20.0, "max_tokens": 5}) == {
        "top_k": 20,
        "max_tokens": 5,
    }
    assert validate({"top_k": -1}) == {"top_k": -1}  # vLLM's "disabled" spelling


def test_very_high_max_tokens_warns_but_passes():
    with pytest.warns(UserWarning, match="max_tokens=5000 is very high"):
        assert validate({"max_tokens": HIGH_MAX_TOKENS + 904}) == {"max_tokens": 5000}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate({"max_tokens": HIGH_MAX_TOKENS})


def _edges(p):
    """Values just inside and just outside each bound of a parameter."""
    eps = 1 if p.kind is int else 1e-3
    inside, outside = [], []
    if p.low is not None:
        (outside if p.low_open else inside).append(p.kind(p.low))
        inside.append(p.kind(p.low + eps))
        outside.append(p.kind(p.low - eps))
    if p.high is not None:
        inside.append(p.kind(p.high))
        outside.append(p.kind(p.high + eps))
    return inside, outside


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_table_agrees_with_vllm_at_every_bound(name):
    """A vLLM upgrade that moves a rule fails here, not in a learner's slider."""
    from vllm import SamplingParams

    from vlesson.compat import validation_errors

    inside, outside = _edges(PARAMS[name])
    for value in inside:
        validate({name: value})
        SamplingParams(**{name: value})
    for value in outside:
        with pytest.raises(ParamError):
            validate({name: value})
        if name == "logprobs":  # vLLM allows more (capped by the engine), we cap at 20
            continue
        # SamplingParams takes any seed and any large top_k; the engine step fails later
        # (a generator seeds with int64, top_k lives in an int32 tensor). Negative seeds
        # are vlesson's own rule, as in the API.
        if name == "seed" or (name == "top_k" and value > 0):
            continue
        with pytest.raises(validation_errors()):
            SamplingParams(**{name: value})


def test_slider_bounds_are_valid_values():
    for p in PARAMS.values():
        if p.slider:
            low, high, step = p.slider
            validate({p.name: p.kind(low)})
            validate({p.name: p.kind(high)})
            assert step > 0


class _Defaults:
    facts = EngineFacts(model="m", max_model_len=8192)

    def get_default_sampling_params(self):
        from vllm import SamplingParams

        return SamplingParams.from_optional(temperature=0.7, top_k=20, top_p=0.9)


def test_sampling_params_go_through_vllms_constructor():
    params = make_sampling_params(_Defaults(), stop=["THE END"], max_tokens=8)
    assert params.output_text_buffer_length == len("THE END") - 1  # held back
    greedy = make_sampling_params(_Defaults(), temperature=0)
    assert (greedy.top_k, greedy.top_p) == (0, 1.0)  # greedy: vLLM's own rule
    kept = make_sampling_params(_Defaults(), max_tokens=8)
    assert (kept.temperature, kept.top_k, kept.max_tokens) == (0.7, 20, 8)


def test_the_high_max_tokens_warning_comes_once_per_run():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        sampling.validate({"max_tokens": 5000})
        sampling.validate({"max_tokens": 5000})  # the CLI checks, then the engine side
    assert len(seen) == 1
