"""Issue 18, what a new user tripped over: vlesson's own mistakes come back at once
(before vLLM is imported), a missing model is bad input, an empty prompt is named,
the noise of an engine start is hidden, and the printouts say what is true."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings

import pytest

from vlesson import sampling
from vlesson.cli import generate as generate_cli
from vlesson.cli import main as cli_main


def vlesson(*args: str, **env: str) -> tuple[int, str, float]:
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "vlesson", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
    return result.returncode, result.stderr, time.monotonic() - start


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


def test_the_high_max_tokens_warning_comes_once_per_run():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        sampling.validate({"max_tokens": 5000})
        sampling.validate({"max_tokens": 5000})  # the CLI checks, then the engine side
    assert len(seen) == 1


def test_warnings_in_the_cli_are_one_line_without_source(tmp_path):
    code, err, _ = vlesson("generate", "--max-tokens", "5000", "--prompt", "")
    assert code == 2
    assert "very high" in err and "warnings.warn" not in err
    assert all(not line.startswith(" ") for line in err.splitlines()), err


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


def test_serve_says_which_model_it_loads(monkeypatch, capsys):
    import uvicorn

    from vlesson.cli import serve

    monkeypatch.setattr(serve, "create_app", lambda **kwargs: object())
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    assert cli_main(["serve", "--port", "8123"]) == 0
    out = capsys.readouterr().out
    assert "loading smollm2-135m-instruct" in out and "None" not in out


def test_the_sweep_recommendation_names_its_goal_once():
    from vlesson.cli import sweep as sweep_cli
    from vlesson.workflows.sweep import Recommendation

    rec = Recommendation(
        {"temperature": 0.9},
        "diverse",
        "distinct_2",
        1.0,
        "diverse: temperature=0.9 - highest distinct_2 (1.000)",
    )
    line = sweep_cli.recommendation_line(rec)
    assert line.startswith("recommended for diverse: temperature=0.9")
    assert "diverse: diverse" not in line


def test_the_default_heatmap_metric_varies_with_the_settings():
    from vlesson.cli import sweep as sweep_cli
    from vlesson.workflows import sweep

    assert sweep_cli.build_parser().get_default("metric") == sweep.HEATMAP_METRIC
    assert sweep.HEATMAP_METRIC == "mean_logprob"  # distinct_2 at 32 tokens: all 1.00


def test_the_quiet_loading_bar_is_no_engine_argument_on_a_server(capsys):
    code = cli_main(["generate", "--server", "http://127.0.0.1:9/v1", "--prompt", "x"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot reach the vLLM server" in err, err
    assert "needs a local engine" not in err
