"""The generate parser: groups, config files, prompts and the engine/sampling split.

Builds vLLM's real parser (imports vLLM, starts no engine)."""

from __future__ import annotations

import json

import pytest

from vlesson import settings
from vlesson.cli import arguments
from vlesson.cli import generate as gen_cli
from vlesson.generate import LESSON_PROMPTS


@pytest.fixture(scope="module")
def make_parser():
    return gen_cli.build_parser


def parse(make_parser, argv):
    parser = make_parser()
    return parser, gen_cli.parse(parser, argv)


def test_exercise_2_2_answers_come_from_the_parser(make_parser):
    from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS

    parser = make_parser()
    titles = [g.title for g in parser._action_groups]
    assert "Sampling parameters" in titles and "ModelConfig" in titles
    assert len(titles) > 10  # vLLM's config groups plus ours
    assert parser.get_default("gpu_memory_utilization") == pytest.approx(0.92)
    assert {"awq", "gptq", "fp8"} <= set(QUANTIZATION_METHODS)
    assert parser.get_default("model") == "smollm2-135m-instruct"
    help_text = parser.format_help()
    assert "--temperature" in help_text and "--gpu-memory-utilization" in help_text


def test_repeated_prompt_and_defaults(make_parser):
    _, args = parse(
        make_parser, ["--prompt", "Once upon a time", "--prompt", "In the future"]
    )
    assert arguments.collect_prompts(args) == ["Once upon a time", "In the future"]
    _, args = parse(make_parser, [])
    assert arguments.collect_prompts(args) == LESSON_PROMPTS


def test_split_keeps_only_what_the_user_changed(make_parser):
    parser, args = parse(
        make_parser, ["--temperature", "0.5", "--dtype", "float32", "--seed", "7"]
    )
    engine, sampling = settings.split_args(parser, args, gen_cli.OWN_OPTIONS)
    # model not given: None, so get_llm picks the default (or a server's own model)
    assert engine == {"model": None, "dtype": "float32", "seed": 7}
    assert sampling["temperature"] == 0.5 and sampling["seed"] == 7
    assert sampling["top_p"] is None  # not given: the model's default applies


def test_a_flag_that_restates_vllms_default_still_overrides_vlessons(make_parser):
    # vLLM's default is enforce_eager=False, vlesson's CPU default True: the flag wins.
    parser, args = parse(make_parser, ["--no-enforce-eager", "--temperature", "0.5"])
    engine, _ = settings.split_args(parser, args, gen_cli.OWN_OPTIONS)
    assert engine == {"model": None, "enforce_eager": False}
    parser, args = parse(make_parser, ["--temperature", "0.5"])
    assert settings.split_args(parser, args, gen_cli.OWN_OPTIONS)[0] == {"model": None}


def test_config_file_gives_defaults_and_command_line_wins(make_parser, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "model": "facebook/opt-125m",
                "temperature": 0.7,
                "top_p": 0.95,
                "max_tokens": 100,
                "enforce-eager": False,
            }
        )
    )
    parser, args = parse(make_parser, ["--config", str(config), "--temperature", "0.2"])
    engine, sampling = settings.split_args(parser, args, gen_cli.OWN_OPTIONS)
    assert sampling["temperature"] == 0.2  # command line wins
    assert sampling["top_p"] == 0.95 and sampling["max_tokens"] == 100
    assert engine == {"model": "facebook/opt-125m", "enforce_eager": False}


def test_yaml_config(make_parser, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("temperature: 0.3\nprompt: [A, B]\n")
    _, args = parse(make_parser, [f"--config={config}"])
    assert args.temperature == 0.3 and arguments.collect_prompts(args) == ["A", "B"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"temprature": 0.7}', "unknown key 'temprature'. did you mean 'temperature'"),
        ('{"temperature": "hot"}', "'temperature' must be float, got 'hot'"),
        ('{"max_tokens": 1.5}', "'max_tokens' must be int"),
        ('{"dtype": "float64"}', "'dtype' must be one of"),
        ('{"temperature": 0.7,}', "not valid JSON: .* at line 1, column 21"),
        ("[1, 2]", "must hold an object"),
    ],
)
def test_broken_config_says_which_key_and_where(make_parser, tmp_path, content, needle):
    config = tmp_path / "config.json"
    config.write_text(content)
    with pytest.raises(settings.UsageError, match=needle):
        parse(make_parser, ["--config", str(config)])


def test_missing_config_and_prompts_files(make_parser, tmp_path):
    with pytest.raises(
        settings.UsageError, match="config file .*nope.json does not exist"
    ):
        parse(make_parser, ["--config", str(tmp_path / "nope.json")])
    _, args = parse(make_parser, ["--prompts-file", str(tmp_path / "none.txt")])
    with pytest.raises(settings.UsageError, match="prompts file .* does not exist"):
        arguments.collect_prompts(args)
