"""Exercise 2.2's answers read from the real parser."""

from __future__ import annotations

import pytest

from vlesson.cli import options


@pytest.fixture(scope="module")
def parser():
    return options.parser_for("generate")


def test_groups_are_counted_from_the_parser(parser):
    titles = [title for title, _ in options.groups(parser)]
    assert {"Sampling parameters", "Input", "CacheConfig", "ModelConfig"} <= set(titles)
    assert "positional arguments" not in titles  # empty groups are not counted
    assert all(count > 0 for _, count in options.groups(parser))


def test_defaults_are_read_by_flag_or_dest(parser):
    from vllm import EngineArgs

    want = EngineArgs.gpu_memory_utilization
    assert options.default(parser, "--gpu-memory-utilization") == want
    assert options.default(parser, "gpu_memory_utilization") == want
    with pytest.raises(ValueError, match="no option"):
        options.default(parser, "--gpu-memory")


def test_unknown_command_is_named():
    with pytest.raises(ValueError, match="unknown command 'genrate'"):
        options.parser_for("genrate")


def test_quantization_methods_include_the_exercise_ones():
    assert {"awq", "gptq"} <= set(options.quantization_methods())


def test_parse_reads_config_and_the_command_line_wins(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"temperature": 0.7, "top_p": 0.95}')
    args = options.parse(
        "generate",
        [
            "--config",
            str(config),
            "--temperature",
            "0.2",
            "--prompt",
            "A",
            "--prompt",
            "B",
        ],
    )
    assert (args.temperature, args.top_p, args.prompt) == (0.2, 0.95, ["A", "B"])
