"""`vlesson generate` end to end, in a subprocess as a learner runs it."""

from __future__ import annotations

import json
import subprocess
import sys

from vlesson import engine


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "vlesson", "generate", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        check=False,
    )


def test_generate_prints_config_and_completions(tmp_path):
    # In the dtype vlesson does NOT pick on this CPU (the session's engine and the
    # notebooks run the other): both CPU paths run on every machine, bf16 native or not.
    other = "float32" if engine.cpu_has_native_bf16() else "bfloat16"
    out = tmp_path / "results.jsonl"
    result = run_cli(
        "--dtype",
        other,
        "--prompt",
        "The capital of France is",
        "--prompt",
        "Once upon a time",
        "--temperature",
        "0",
        "--max-tokens",
        "12",
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "model: smollm2-135m-instruct" in result.stdout
    assert "temperature: 0.0" in result.stdout
    assert f"dtype: {other}" in result.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == [
        "The capital of France is",
        "Once upon a time",
    ]
    assert "Paris" in rows[0]["text"]
    assert all(r["num_tokens"] <= 12 for r in rows)
    # An engine start shows vlesson's lines, not the NUMA notice, the 1-shard loading
    # bar, Triton, FutureWarnings, "duplicate keys" or vLLM's progress bars.
    for noise in ("NUMA", "safetensors", "Triton", "Warning", "duplicate keys",
                  "Rendering prompts", "Processed prompts"):
        assert noise not in result.stderr, result.stderr[-3000:]
    assert " INFO " not in result.stdout + result.stderr


def test_verbose_shows_vllms_start_up_log_and_torchs_warnings():
    result = run_cli("--verbose", "--prompt", "Hi", "--max-tokens", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    shown = result.stdout + result.stderr  # vLLM logs to stdout, torch to stderr
    assert " INFO " in shown and "Loading weights took" in shown, shown[-3000:]
    assert "Triton" in shown


def test_bad_input_exits_2_before_any_engine_starts(tmp_path):
    result = run_cli("--top-p", "1.5")
    assert result.returncode == 2
    assert "top_p must be in (0, 1], got 1.5 - try 0.9" in result.stderr
    assert "Configuration" not in result.stdout  # no engine was started

    config = tmp_path / "config.json"
    config.write_text('{"temperature": 0.7, "max_token": 100}')
    result = run_cli("--config", str(config))
    assert result.returncode == 2
    assert "unknown key 'max_token'" in result.stderr and "max_tokens" in result.stderr


def test_seeded_prompt_longer_than_a_chunk_is_refused_clearly_on_cpu():
    """vLLM would crash ("CPU Generator does not use offset"); vlesson says what to do."""
    result = run_cli(
        "--max-num-batched-tokens",
        "64",
        "--seed",
        "1",
        "--max-tokens",
        "4",
        "--prompt",
        "word " * 100,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "cannot split a seeded request's prompt over steps" in result.stderr
    assert "max_num_batched_tokens=64" in result.stderr
    assert "does not use offset" not in result.stderr
