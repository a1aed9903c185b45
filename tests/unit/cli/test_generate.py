"""``vlesson generate`` end to end on a stand-in engine: parse, validate, generate,
print the configuration and write --output (the real engine: tests/integration)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.unit.cli.commands import vlesson
from vlesson import engine
from vlesson.cli import generate as generate_cli
from vlesson.cli import main
from vlesson.cli import main as cli_main
from vlesson.facts import EngineFacts


class FakeLLM:
    """Answers every prompt with three tokens; what the command reads, nothing more."""

    facts = EngineFacts(model="fake", dtype="float32", max_model_len=512)

    def get_default_sampling_params(self):
        from vllm import SamplingParams

        return SamplingParams()

    def get_tokenizer(self):
        return SimpleNamespace(encode=lambda text, add_special_tokens=True: [1, 2])

    def generate(self, prompts, params, use_tqdm=True):
        return [
            SimpleNamespace(
                prompt=p,
                prompt_token_ids=[1, 2],
                outputs=[
                    SimpleNamespace(
                        text=" ok",
                        token_ids=[5, 6, 7],
                        finish_reason="length",
                        logprobs=None,
                    )
                ],
            )
            for p in prompts
        ]


def test_generate_prints_and_writes_each_completion(monkeypatch, tmp_path, capsys):
    asked = {}

    def get_llm(**engine_args):
        asked.update(engine_args)
        return FakeLLM()

    monkeypatch.setattr(engine, "get_llm", get_llm)
    out = tmp_path / "out.jsonl"
    argv = [
        "generate",
        "--prompt",
        "Hi",
        "--prompt",
        "Yo",
        "--max-tokens",
        "3",
        "--output",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "dtype: float32" in printed and "max_tokens: 3" in printed
    assert "Output: ' ok'" in printed
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["Hi", "Yo"]
    assert all(r["num_tokens"] == 3 for r in rows)
    assert asked == {"model": None}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["generate", "--top-p", "1.5"], "top_p must be in (0, 1], got 1.5"),
        (
            ["batch", "--out", "o", "--prompt", "x", "--temperature", "-1"],
            "temperature must",
        ),
        (["sweep", "--out", "o", "--max-tokens", "0"], "max_tokens must be"),
        (["generate", "--prompt", "hi", "--prompt", ""], "prompt 2 is empty"),
        (["generate", "--prompt", "   "], "prompt 1 is empty"),
        (["generate", "--prompts-file", "no-such-file.txt"], "does not exist"),
        (["generate", "--config", "no-such.json"], "does not exist"),
    ],
)
def test_vlessons_own_mistakes_come_back_before_vllm_is_imported(args, words):
    code, err, seconds = vlesson(*args)
    assert code == 2 and words in err, err
    assert seconds < 3.0, f"{seconds:.1f} s: vLLM was imported first"


def test_a_bad_value_in_a_config_file_comes_back_at_once(tmp_path):
    config = tmp_path / "c.json"
    config.write_text('{"top_p": 7}')
    code, err, seconds = vlesson("generate", "--config", str(config))
    assert code == 2 and "top_p must be in (0, 1], got 7" in err and seconds < 3.0
    config.write_text("{not json")
    code, err, seconds = vlesson("generate", "--config", str(config))
    assert code == 2 and "not valid JSON" in err and seconds < 3.0


def test_a_model_that_is_not_there_is_bad_input_refused_at_once_without_retries():
    code, err, seconds = vlesson(
        "generate", "--model", "no-such/model", "--prompt", "hi", HF_HUB_OFFLINE="1"
    )
    assert code == 2, err
    assert "no-such/model" in err and "retry 1/" not in err
    assert seconds < 3.0


def test_the_configuration_shows_the_kv_cache_really_used(capsys):
    info = {
        "model": "smollm2-135m-instruct",
        "dtype": "bfloat16",
        "gpu_memory_utilization": 0.92,
        "kv_cache_memory_bytes": 1 << 30,
        "num_gpu_blocks": 364,
        "block_size": 128,
        "max_model_len": 8192,
        "device": "cpu",
    }
    generate_cli.print_configuration(info, {"temperature": 0.8})
    out = capsys.readouterr().out
    assert "0.92" not in out
    assert "kv_cache: 1.0 GiB (kv_cache_memory_bytes), 46,592 tokens" in out
    share = {**info, "kv_cache_memory_bytes": None, "gpu_memory_utilization": 0.5}
    generate_cli.print_configuration(share, {})
    assert (
        "kv_cache: gpu_memory_utilization 0.5, 46,592 tokens" in capsys.readouterr().out
    )


def test_the_quiet_loading_bar_is_no_engine_argument_on_a_server(capsys):
    code = cli_main(["generate", "--server", "http://127.0.0.1:9/v1", "--prompt", "x"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot reach the vLLM server" in err, err
    assert "needs a local engine" not in err
