"""Checkpoints: the reference answers pass, wrong answers fail with their hint."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from vlesson import check, solutions

LOG = (
    "INFO 11-26 20:52:27 [kv_cache_utils.py:2328] CPU KV cache size: 46,592 tokens, "
    "Maximum concurrency for 8,192 tokens per request: 5.69x\n"
)


class FakeLLM:
    """Engine stand-in with non-default defaults, a context length and a KV cache."""

    def __init__(self):
        cache = SimpleNamespace(
            kv_cache_size_tokens=46592, kv_cache_max_concurrency=5.6875
        )
        self.llm_engine = SimpleNamespace(
            model_config=SimpleNamespace(max_model_len=8192),
            vllm_config=SimpleNamespace(cache_config=cache),
        )

    def get_default_sampling_params(self):
        from vllm import SamplingParams

        return SamplingParams(temperature=0.6, top_p=0.9, top_k=40)


def fails(hint: str):
    return pytest.raises(AssertionError, match=hint)


# 1 -----------------------------------------------------------------------------------


def test_command_line_reference_passes_as_string_and_as_list():
    assert "passed" in check.command_line(solutions.COMMAND_LINE)
    import shlex

    assert "passed" in check.command_line(shlex.split(solutions.COMMAND_LINE)[2:])


TWO = "--prompt 'Once upon a time' --prompt 'In the future' --temperature 0.8"


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("--prompt 'Once upon a time' --max-tokens 60 --dtype float32", "own --prompt"),
        (TWO + " --max-model-len 60 --dtype float32", "NEW tokens is --max-tokens"),
        (TWO + " --max-tokens 60", "--dtype float32"),
        ("--prompt x --temprature 0.8", "the parser rejected it"),
    ],
)
def test_command_line_wrong_answers_get_their_hint(line, hint):
    with fails(hint):
        check.command_line(line)


# 2 -----------------------------------------------------------------------------------


def test_engine_args_reference_passes():
    assert "passed" in check.engine_args(solutions.engine_args_from_cli)


def test_engine_args_returning_the_namespace_is_caught():
    with fails("EngineArgs.from_cli_args"):
        check.engine_args(lambda argv: argparse.Namespace(model="x"))


def test_engine_args_built_by_hand_misses_the_options():
    from vllm import EngineArgs

    with fails("add_cli_args"):
        check.engine_args(lambda argv: EngineArgs(model=argv[1] if argv else "x"))


# 3 -----------------------------------------------------------------------------------


def test_split_settings_reference_passes():
    assert "passed" in check.split_settings(solutions.split_settings)


def test_split_settings_putting_max_tokens_in_the_engine_is_caught():
    def by_name(settings):
        engine_like = {"model", "dtype", "max_model_len", "enforce_eager", "max_tokens"}
        return (
            {k: v for k, v in settings.items() if k in engine_like},
            {k: v for k, v in settings.items() if k not in engine_like},
        )

    with fails("'max_tokens' is in your engine dict"):
        check.split_settings(by_name)


def test_split_settings_losing_keys_is_caught():
    with fails("keys lost"):
        check.split_settings(lambda s: ({}, {"temperature": 0.7}))


def test_split_settings_everything_to_sampling_is_caught():
    with fails("configures the engine"):
        check.split_settings(lambda s: ({}, dict(s)))


# 4 -----------------------------------------------------------------------------------


def test_override_defaults_reference_passes():
    assert "passed" in check.override_defaults(solutions.override_defaults, FakeLLM())


def test_override_defaults_changing_the_defaults_object_is_caught():
    def in_place(defaults, overrides):
        for k, v in overrides.items():
            if v is not None:
                setattr(defaults, k, v)
        return defaults

    with fails("defaults.clone"):
        check.override_defaults(in_place, FakeLLM())


def test_override_defaults_setting_none_is_caught():
    def copy_all(defaults, overrides):
        params = defaults.clone()
        params.temperature, params.max_tokens = 0.3, 50
        params.top_k = overrides["top_k"]
        return params

    with fails("None means 'not given'"):
        check.override_defaults(copy_all, FakeLLM())


def test_override_defaults_ignoring_the_model_defaults_is_caught():
    from vllm import SamplingParams

    def fresh(defaults, overrides):
        return SamplingParams(**{k: v for k, v in overrides.items() if v is not None})

    with fails("top_p is 1.0 but should be 0.9"):
        check.override_defaults(fresh, FakeLLM())


# 5 (the generating part runs in tests/integration) ----------------------------------


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        ({"temperature": 1.2}, "focused means low"),
        ({"temperature": 0}, "focused means low"),
        ({"top_k": 0}, "top_k is 0"),
        ({"top_p": 1.0}, "low top_p"),
        ({"max_tokens": 100}, "set it to 150"),
        ({"temprature": 0.4}, "does not load"),
    ],
)
def test_focused_config_wrong_values_fail_before_generating(change, hint):
    with fails(hint):
        check.focused_config({**solutions.FOCUSED_CONFIG, **change}, FakeLLM())


# 6 -----------------------------------------------------------------------------------


def test_diagnose_reference_passes():
    assert "passed" in check.diagnose(solutions.diagnose, FakeLLM())


def test_diagnose_that_lets_the_error_escape_is_caught():
    import vlesson as vl

    def no_catch(llm, config):
        vl.make_sampling_params(llm, config)

    with fails("catch it"):
        check.diagnose(no_catch, FakeLLM())


def test_diagnose_guessing_the_first_key_is_caught():
    with fails("you returned 'temperature'"):
        check.diagnose(lambda llm, config: next(iter(config)), FakeLLM())


# 7 -----------------------------------------------------------------------------------


def test_read_log_reference_passes():
    assert "46,592 tokens" in check.read_log(solutions.read_kv_cache, LOG, FakeLLM())


def test_read_log_forgetting_the_commas_is_caught():
    def naive(text):
        size = text.split("KV cache size: ")[1].split(" ")[0]
        return {"kv_cache_tokens": int(size), "max_concurrency": 5.69}

    with fails("thousands separators"):
        check.read_log(naive, LOG, FakeLLM())


def test_read_log_hard_coded_answer_is_caught():
    with fails("kv_cache_tokens is 46592, the engine says 1234567"):
        check.read_log(
            lambda text: {"kv_cache_tokens": 46592, "max_concurrency": 5.69},
            LOG,
            FakeLLM(),
        )


def test_read_log_without_the_line_says_how_to_capture_it():
    with fails("VLLM_LOGGING_LEVEL=INFO"):
        check.read_log(solutions.read_kv_cache, "WARNING nothing here", FakeLLM())
