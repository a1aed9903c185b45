"""``vlesson generate`` end to end on a stand-in engine: parse, validate, generate,
print the configuration and write --output (the real engine: tests/integration)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from vlesson import engine
from vlesson.cli import main
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
                        text=" ok", token_ids=[5, 6, 7], finish_reason="length",
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
    argv = ["generate", "--prompt", "Hi", "--prompt", "Yo", "--max-tokens", "3",
            "--output", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "dtype: float32" in printed and "max_tokens: 3" in printed
    assert "Output: ' ok'" in printed
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["Hi", "Yo"]
    assert all(r["num_tokens"] == 3 for r in rows)
    assert asked == {"model": None}
